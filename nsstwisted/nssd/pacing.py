"""
New connections paced across the reactor's turns, so that a reconnect storm
cannot hold up the signatures of clients already logged on.

When a server fails, all of its clients connect to the backup at once.  Each
new connection's handshake costs the reactor thread a key exchange and a
signature, a millisecond or two of CPU; the reactor handles every socket
that is ready in one turn, so a thousand ClientHellos arriving together make
one turn of a second or more, and a SIGN from a client already logged on
waits for all of them.  The pacer lets at most L{HANDSHAKE_STEPS_PER_TURN}
reads of connections still in their handshake through in one turn; the
next ones wait, their bytes kept and their sockets no longer read, for a
later turn, in the order they arrived.  A turn stays short, so the
logged-on clients are served every few milliseconds, and the handshakes
still proceed back to back, as fast as before.

What is limited is handshake work, not connections: a connection that
connects and sends nothing waits for nothing and holds up no one (the
logon deadline ends it), unlike a cap on connections in the handshake,
which a few such connections would fill.

Accepting is paced for the same reason: Twisted's listening port accepts
as many connections in one turn as it found waiting the turn before, plus
twenty, and builds each one's TLS state and session at once, so in a storm
a single turn accepted hundreds.  L{PacedAcceptPort} accepts at most
L{ACCEPTS_PER_TURN}; the rest wait in the kernel's accept queue, which
nssd sizes to C{MaxConnections}, for the next turn.
"""

from __future__ import annotations

import collections
from typing import Any, Protocol

from twisted.internet import tcp
from twisted.internet.defer import Deferred, execute
from twisted.internet.interfaces import (
    IDelayedCall,
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from zope.interface import implementer

__all__ = [
    "ACCEPTS_PER_TURN",
    "HANDSHAKE_STEPS_PER_TURN",
    "HandshakePacer",
    "PacedAcceptEndpoint",
    "PacedAcceptPort",
    "PacedConnection",
]

#: How many connections the NSS port accepts in one reactor turn.
ACCEPTS_PER_TURN = 16

#: How many reads of connections in their TLS handshake one reactor turn
#: handles: a ClientHello costs nssd about a millisecond of CPU (an ECDHE
#: key exchange and a signature, in C, and TLS's Python around them), so a
#: turn spends at most a few milliseconds on handshakes.
HANDSHAKE_STEPS_PER_TURN = 4


class PacedConnection(Protocol):
    """
    What the pacer needs of a connection: to deliver the bytes it held
    back, and to stop and restart reading its socket.
    """

    def deliver(self, data: bytes) -> None:
        """
        Hand C{data}, received earlier, to TLS now.
        """

    def pauseReading(self) -> None:
        """
        Read nothing more from the socket until L{resumeReading}.
        """

    def resumeReading(self) -> None:
        """
        Read the socket again.
        """


class HandshakePacer:
    """
    The handshake reads allowed in this turn, and the connections waiting
    for a later one.
    """

    def __init__(
        self, clock: IReactorTime, stepsPerTurn: int = HANDSHAKE_STEPS_PER_TURN
    ) -> None:
        self._clock = clock
        self._stepsPerTurn = stepsPerTurn
        self._used = 0
        self._turn: IDelayedCall | None = None
        self._waiting: collections.deque[tuple[PacedConnection, bytes]] = (
            collections.deque()
        )
        #: How many reads were held back for a later turn, since start.
        self.deferred = 0

    @property
    def waiting(self) -> int:
        """
        How many connections wait for a turn.
        """
        return len(self._waiting)

    def received(self, connection: PacedConnection, data: bytes) -> None:
        """
        C{connection}, still in its handshake, read C{data}: deliver it now
        if this turn allows another step, else keep it for a later turn.
        """
        self._next_turn()
        if self._used < self._stepsPerTurn and not self._waiting:
            self._used += 1
            connection.deliver(data)
            return
        self.deferred += 1
        connection.pauseReading()
        self._waiting.append((connection, data))

    def forget(self, connection: PacedConnection) -> None:
        """
        C{connection} is gone: its held bytes are dropped and it never gets
        its turn.
        """
        if any(waiting is connection for waiting, _ in self._waiting):
            self._waiting = collections.deque(
                item for item in self._waiting if item[0] is not connection
            )

    def stop(self) -> None:
        """
        The server stops: no more turns.
        """
        if self._turn is not None and self._turn.active():
            self._turn.cancel()
        self._turn = None
        self._waiting.clear()

    def _next_turn(self) -> None:
        # A call at delay 0 runs at the start of the reactor's next turn,
        # before it reads any socket.
        if self._turn is None:
            self._turn = self._clock.callLater(0, self._new_turn)

    def _new_turn(self) -> None:
        self._turn = None
        self._used = 0
        while self._waiting and self._used < self._stepsPerTurn:
            connection, data = self._waiting.popleft()
            self._used += 1
            connection.resumeReading()
            connection.deliver(data)
        if self._waiting or self._used:
            self._next_turn()


class PacedAcceptPort(tcp.Port):
    """
    A TCP listening port that accepts at most L{ACCEPTS_PER_TURN}
    connections per turn, whatever it found waiting before.
    """

    @property
    def numberAccepts(self) -> int:
        return ACCEPTS_PER_TURN

    @numberAccepts.setter
    def numberAccepts(self, value: int) -> None:
        # Twisted's own scaling of the accept loop, ignored.
        pass


@implementer(IStreamServerEndpoint)
class PacedAcceptEndpoint:
    """
    Listens with a L{PacedAcceptPort}, as C{TCP4ServerEndpoint} listens with
    Twisted's own port (C{"::"} as the interface listens on IPv6 too).
    """

    def __init__(
        self, reactor: Any, port: int, backlog: int = 50, interface: str = ""
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._backlog = backlog
        self._interface = interface

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        return execute(self._listen, protocolFactory)

    def _listen(self, protocolFactory: IProtocolFactory) -> IListeningPort:
        port = PacedAcceptPort(
            self._port, protocolFactory, self._backlog, self._interface, self._reactor
        )
        port.startListening()
        return port
