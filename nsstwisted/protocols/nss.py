"""
The NSS protocol over a Twisted transport: a thin adapter between bytes and
L{nsstwisted.wire.nss} frames.  The decisions of a session live in the
handler (the server session, or the client); this module frames, enforces
the deadlines a stream needs, reports the TLS handshake, and keeps the one
rule of docs/protocol.md section 5 that holds for both sides alike and that
no single frame shows: a request may not reuse the ID of one still
unanswered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import IDelayedCall, IHandshakeListener, IReactorTime
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import (
    MAX_MESSAGE_SIZE,
    DecodeFailure,
    MessageType,
    NssDecoder,
    NssFrame,
    encode_frame,
)

# A frame that has started must be complete within this many seconds: a peer
# that trickles one byte a second must not hold a connection for ever.
DEFAULT_FRAME_DEADLINE = 30.0
# The TLS handshake and the logon must be done within this many seconds.
DEFAULT_SETUP_DEADLINE = 30.0
# A connection this side closes must be gone within this many seconds: a peer
# that never answers TLS's close_notify must not keep holding it.
DEFAULT_CLOSE_DEADLINE = 5.0


class NssHandler(TypingProtocol):
    """
    What the protocol tells its handler.
    """

    def connected(self) -> None: ...

    def secured(self) -> None: ...

    def frameReceived(self, frame: NssFrame) -> None: ...

    def decodeFailed(self, failure: DecodeFailure) -> None: ...

    def timedOut(self, what: str) -> None: ...

    def connectionLost(self, reason: str) -> None: ...


class HandlerFactory(TypingProtocol):
    def __call__(self, protocol: NssProtocol) -> NssHandler: ...


@implementer(IHandshakeListener)
class NssProtocol(Protocol):
    """
    Frames NSS messages on a stream.

    @ivar handler: the object that gets frames and events, made by the
        factory's handler factory when the connection is made.
    """

    handler: NssHandler
    #: What ended the connection, once it has ended: a client that could not
    #: secure it tells its caller why in words (L{nsstwisted.client}).
    lostReason: Failure | None = None

    def __init__(
        self,
        handlerFactory: HandlerFactory,
        clock: IReactorTime,
        *,
        maxMessageSize: int = MAX_MESSAGE_SIZE,
        setupMessageSize: int | None = None,
        frameDeadline: float = DEFAULT_FRAME_DEADLINE,
        setupDeadline: float = DEFAULT_SETUP_DEADLINE,
        closeDeadline: float = DEFAULT_CLOSE_DEADLINE,
    ) -> None:
        """
        @param setupMessageSize: the largest frame accepted until the
            handler calls L{setupComplete}, or C{None} for
            C{maxMessageSize} throughout.  A server passes
            L{MAX_PRELOGON_MESSAGE_SIZE}, so that a peer that has not logged
            on cannot make it buffer a large frame.
        """
        self._handlerFactory = handlerFactory
        self._clock = clock
        self._maxMessageSize = maxMessageSize
        self._decoder = NssDecoder(
            maxMessageSize if setupMessageSize is None else setupMessageSize
        )
        self._frameDeadline = frameDeadline
        self._setupDeadline = setupDeadline
        self._closeDeadline = closeDeadline
        self._frameTimer: IDelayedCall | None = None
        self._setupTimer: IDelayedCall | None = None
        self._closeTimer: IDelayedCall | None = None
        self._closing = False
        # The IDs of the peer's requests that this side has not answered yet.
        self._unanswered: set[int] = set()

    def connectionMade(self) -> None:
        # Requests and answers are small and pipelined (iked signs and
        # verifies for many negotiations at once): with Nagle's algorithm a
        # write waits for the ACK of the one before, which the peer delays
        # (40 ms on Linux), a stall per pipelined message.  Through TLS the
        # wrapper hands the call to the TCP transport; other transports
        # (AF_UNIX, tests' in-memory ones) have no such option.
        setTcpNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setTcpNoDelay is not None:
            setTcpNoDelay(True)
        self.handler = self._handlerFactory(self)
        self._setupTimer = self._clock.callLater(
            self._setupDeadline, self._expired, "connection set-up"
        )
        self.handler.connected()

    def handshakeCompleted(self) -> None:
        self.handler.secured()

    def setupComplete(self) -> None:
        """
        The handler says the connection is established (logged on): the
        set-up deadline no longer applies, and frames up to the full
        maximum message size are accepted.
        """
        self._cancel_setup()
        self._decoder.maxMessageSize = self._maxMessageSize

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        for received in self._decoder.feed(data):
            item = _reused_id(received, self._unanswered) or received
            if isinstance(item, NssFrame):
                message = item.message
                if not message.isReply and message.messageType != (
                    MessageType.DISCONNECT
                ):
                    self._unanswered.add(item.requestId)
                self.handler.frameReceived(item)
            else:
                self.handler.decodeFailed(item)
                if item.fatal:
                    self.close()
                    self._stop_reading()
                    return
            if self._closing:
                return
        self._watch_partial_frame()

    def _watch_partial_frame(self) -> None:
        if self._decoder.pending:
            if self._frameTimer is None:
                self._frameTimer = self._clock.callLater(
                    self._frameDeadline, self._expired, "a partial message"
                )
        elif self._frameTimer is not None:
            self._frameTimer.cancel()
            self._frameTimer = None

    def _expired(self, what: str) -> None:
        if what == "a partial message":
            self._frameTimer = None
        elif what == "closing":
            self._closeTimer = None
            self.abort()
            return
        else:
            self._setupTimer = None
        self.handler.timedOut(what)
        # Abort, not close: a peer that has stopped answering will not
        # answer TLS's closing handshake either.
        self.abort()

    def sendFrame(self, frame: NssFrame) -> None:
        if frame.message.isReply:
            self._unanswered.discard(frame.requestId)
        if not self._closing and self.transport is not None:
            self.transport.write(encode_frame(frame))

    def close(self) -> None:
        """
        Close after what was sent is written, with TLS's goodbye; abort if
        the connection is not gone within the close deadline, since until
        then it holds a place among the server's connections.
        """
        if not self._closing and self.transport is not None:
            self._closing = True
            self._closeTimer = self._clock.callLater(
                self._closeDeadline, self._expired, "closing"
            )
            self.transport.loseConnection()

    def _stop_reading(self) -> None:
        """
        Read nothing more from a peer whose stream is broken: whatever it
        still sends (the rest of an oversized frame) would be decrypted
        only to be dropped, in buffers the size of what it sent.  Its
        goodbye goes unread too, so the connection ends at the close
        deadline.
        """
        if self.transport is not None:
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def abort(self) -> None:
        """
        Drop the connection at once, without TLS's goodbye.
        """
        if self.transport is not None:
            self._closing = True
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def addresses(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """
        The local and the peer's address and port.
        """
        if self.transport is None:
            return ("", 0), ("", 0)
        local, peer = self.transport.getHost(), self.transport.getPeer()
        return (
            (_host(getattr(local, "host", "")), getattr(local, "port", 0)),
            (_host(getattr(peer, "host", "")), getattr(peer, "port", 0)),
        )

    def peerDescription(self) -> str:
        peer = self.transport.getPeer() if self.transport is not None else None
        host = getattr(peer, "host", None)
        port = getattr(peer, "port", None)
        return f"{host} port {port}" if host is not None else str(peer)

    def _cancel_setup(self) -> None:
        if self._setupTimer is not None:
            self._setupTimer.cancel()
            self._setupTimer = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lostReason = reason
        self._closing = True
        self._decoder.discard()
        self._cancel_setup()
        for timer in (self._frameTimer, self._closeTimer):
            if timer is not None and timer.active():
                timer.cancel()
        self._frameTimer = self._closeTimer = None
        self._unanswered.clear()
        self.handler.connectionLost(reason.getErrorMessage())


def _reused_id(
    item: NssFrame | DecodeFailure, unanswered: set[int]
) -> DecodeFailure | None:
    """
    The fatal failure to report instead of C{item} when it is a request
    whose ID is still in use by one of the peer's requests this side has not
    answered: its answer could not be told from the other's, so the
    connection ends (docs/protocol.md section 5).  A malformed request
    counts too, since it is answered under its ID as well.
    """
    if isinstance(item, NssFrame):
        requestId: int | None = item.requestId
        messageType: int | None = item.message.messageType
        reply = item.message.isReply
    elif item.fatal:
        return None
    else:
        requestId, messageType, reply = item.requestId, item.messageType, item.reply
    if (
        reply
        or requestId is None
        or requestId not in unanswered
        or messageType == MessageType.DISCONNECT
    ):
        return None
    return DecodeFailure(
        requestId,
        messageType,
        ReturnCode.EINVAL,
        ReasonCode.NSSRsnRequestIdInUse,
        True,
        f"request ID {requestId} is in use by a request not yet answered",
    )


def _host(address: str) -> str:
    # IPv4 peers of a dual-stack listener appear as ::ffff:a.b.c.d, as IBM's
    # own report shows them; keep them so.
    return address


class NssFactory(Factory):
    """
    Builds L{NssProtocol}s whose handlers come from C{handlerFactory}.
    """

    # Twisted's "Starting factory" and "Stopping factory" lines, at every
    # connection of a client, tell an operator nothing.
    noisy = False

    def __init__(
        self,
        handlerFactory: HandlerFactory,
        clock: IReactorTime,
        *,
        maxMessageSize: int = MAX_MESSAGE_SIZE,
        setupMessageSize: int | None = None,
        frameDeadline: float = DEFAULT_FRAME_DEADLINE,
        setupDeadline: float | Callable[[], float] = DEFAULT_SETUP_DEADLINE,
        closeDeadline: float = DEFAULT_CLOSE_DEADLINE,
    ) -> None:
        """
        @param setupDeadline: seconds, or a function giving them when a
            connection is made, so that a server's refreshed configuration
            applies to new connections.
        """
        self.handlerFactory = handlerFactory
        self.clock = clock
        self.maxMessageSize = maxMessageSize
        self.setupMessageSize = setupMessageSize
        self.frameDeadline = frameDeadline
        self.setupDeadline = setupDeadline
        self.closeDeadline = closeDeadline

    def buildProtocol(self, addr: object) -> NssProtocol:
        deadline = self.setupDeadline
        protocol = NssProtocol(
            self.handlerFactory,
            self.clock,
            maxMessageSize=self.maxMessageSize,
            setupMessageSize=self.setupMessageSize,
            frameDeadline=self.frameDeadline,
            setupDeadline=deadline() if callable(deadline) else deadline,
            closeDeadline=self.closeDeadline,
        )
        protocol.factory = self
        return protocol
