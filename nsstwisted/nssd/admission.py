"""
Which NSS connections nssd takes: at most C{MaxConnections} at once, and at
most C{MaxConnectionsPerAddress} of them from one address, each counted
from TCP accept to close, whether logged on or not.

The check is made when TCP accepts the connection, below TLS, so that a
refused connection costs neither a TLS handshake nor a session: it is
closed at once.  A flood of connections is therefore bounded in the memory
and the handshakes it can make nssd spend, and since no address can take
more than its share, the others go on being served.  The connections taken
are read a little at a time (L{READ_SIZE}), so that what TLS buffers for
each stays small too.

Refusals are logged, but sparingly: the first one at once (DBG0110I or
DBG0111I, naming the address), then nothing for
L{REFUSAL_REPORT_INTERVAL} seconds but how many more were refused (DBG0112I),
so that a flood of refused connections cannot flood the log as well.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import connectionDone
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure

from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.nssd.pacing import HandshakePacer

REFUSAL_REPORT_INTERVAL = 60.0
"""Seconds after a logged refusal in which further ones are only counted."""

READ_SIZE = 4096
"""
The most bytes read from an NSS connection's socket at a time.  Before logon
nssd accepts frames of at most 1068 bytes, so it never needs more at once;
after logon a large frame takes more reads, which costs far less than the
signing it asks for.
"""


class RefusalReason(enum.Enum):
    """The limit that refused a connection, by its keyword."""

    TOTAL = "MaxConnections"
    ADDRESS = "MaxConnectionsPerAddress"


class ConnectionAdmission:
    """
    The count of the connections held, in all and by address, and the
    decision whether to take one more.

    @ivar held: the connections held now.
    @ivar closed: the connections released since the server started.
    """

    def __init__(
        self,
        limits: Callable[[], tuple[int, int]],
        diagnostics: Diagnostics,
        clock: IReactorTime,
        reportInterval: float = REFUSAL_REPORT_INTERVAL,
    ) -> None:
        """
        @param limits: the limits in force, in all and per address: asked at
            each connection, so that a refresh applies to the next one.
            Connections already held above a lowered limit stay.
        """
        self._limits = limits
        self._diagnostics = diagnostics
        self._clock = clock
        self._interval = reportInterval
        self.held = 0
        self.closed = 0
        self._byAddress: dict[str, int] = {}
        self._quiet: IDelayedCall | None = None
        self._unreported = dict.fromkeys(RefusalReason, 0)

    def held_from(self, address: str) -> int:
        return self._byAddress.get(address, 0)

    def admit(self, address: str) -> bool:
        """
        Take a connection from C{address} if the limits allow it, and count
        it; L{release} it when it closes.
        """
        total, perAddress = self._limits()
        fromAddress = self._byAddress.get(address, 0)
        if self.held >= total:
            self._refused(address, RefusalReason.TOTAL, total)
            return False
        if fromAddress >= perAddress:
            self._refused(address, RefusalReason.ADDRESS, perAddress)
            return False
        self.held += 1
        self._byAddress[address] = fromAddress + 1
        return True

    def release(self, address: str) -> None:
        """
        A connection taken by L{admit} has closed.  An address with none
        left is forgotten, so that the table does not grow with every
        address that ever connected.
        """
        self.held -= 1
        self.closed += 1
        left = self._byAddress[address] - 1
        if left:
            self._byAddress[address] = left
        else:
            del self._byAddress[address]

    def stop(self) -> None:
        """
        The server stops: report what is still unreported, and stop the
        report timer.
        """
        if self._quiet is not None and self._quiet.active():
            self._quiet.cancel()
        self._quiet = None
        self._report_unreported()

    def _refused(self, address: str, reason: RefusalReason, limit: int) -> None:
        if self._quiet is None:
            self._diagnostics.connection_refused(address, reason.value, limit)
            self._quiet = self._clock.callLater(self._interval, self._quiet_ended)
        else:
            self._unreported[reason] += 1

    def _quiet_ended(self) -> None:
        self._quiet = None
        if self._report_unreported():
            # Still refusing: one summary per interval for as long as it lasts.
            self._quiet = self._clock.callLater(self._interval, self._quiet_ended)

    def _report_unreported(self) -> bool:
        counts = self._unreported
        if not any(counts.values()):
            return False
        self._diagnostics.refusals_counted(
            self._interval,
            counts[RefusalReason.TOTAL],
            counts[RefusalReason.ADDRESS],
        )
        self._unreported = dict.fromkeys(RefusalReason, 0)
        return True


class _AdmittedConnection(ProtocolWrapper):
    """
    A connection that L{ConnectionAdmission} took, with its address, read
    L{READ_SIZE} bytes at a time.
    """

    address = ""
    pacer: HandshakePacer | None = None
    _lost = False

    def makeConnection(self, transport: ITransport) -> None:
        # Twisted reads 64 KiB at a time, and TLS's memory BIO keeps a
        # buffer the size of the largest read for as long as the connection
        # lasts: what a peer sends, not what it may send, would set what it
        # costs us.
        transport.bufferSize = READ_SIZE  # type: ignore[attr-defined]
        super().makeConnection(transport)  # type: ignore[no-untyped-call]

    def dataReceived(self, data: bytes) -> None:
        # Until TLS's handshake is done, a read costs a key exchange and a
        # signature: the pacer decides in which turn it is handed to TLS.
        if self.pacer is not None and not self._secured():
            self.pacer.received(self, data)
        else:
            super().dataReceived(data)  # type: ignore[no-untyped-call]

    def _secured(self) -> bool:
        # TLS's own flag.  Were it ever gone from Twisted, every read would
        # go straight to TLS, as before pacing: pacing is about fairness in
        # a storm, not a check that must fail closed.
        return bool(getattr(self.wrappedProtocol, "_handshakeDone", True))

    def deliver(self, data: bytes) -> None:
        if not self._lost:
            super().dataReceived(data)  # type: ignore[no-untyped-call]

    def pauseReading(self) -> None:
        if self.transport is not None:
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def resumeReading(self) -> None:
        if not self._lost and self.transport is not None:
            self.transport.resumeProducing()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True
        if self.pacer is not None:
            self.pacer.forget(self)
        super().connectionLost(reason)  # type: ignore[no-untyped-call]


class AdmissionFactory(WrappingFactory[_AdmittedConnection]):
    """
    Wraps the factory of the NSS port's connections (the TLS factory) and
    builds nothing for a connection its L{ConnectionAdmission} refuses,
    which makes the listening port close it as soon as it is accepted.
    """

    protocol = _AdmittedConnection
    noisy = False  # as NssFactory

    def __init__(
        self,
        wrappedFactory: object,
        admission: ConnectionAdmission,
        pacer: HandshakePacer | None = None,
    ) -> None:
        super().__init__(wrappedFactory)  # type: ignore[no-untyped-call]
        self.admission = admission
        self.pacer = pacer

    def buildProtocol(  # type: ignore[override]
        self, addr: IAddress | None
    ) -> _AdmittedConnection | None:
        address = str(getattr(addr, "host", addr))
        if not self.admission.admit(address):
            return None
        try:
            connection = super().buildProtocol(addr)
        except BaseException:
            self.admission.release(address)
            raise
        connection.address = address
        connection.pacer = self.pacer
        return connection

    def unregisterProtocol(self, p: _AdmittedConnection) -> None:
        super().unregisterProtocol(p)  # type: ignore[no-untyped-call]
        self.admission.release(p.address)
