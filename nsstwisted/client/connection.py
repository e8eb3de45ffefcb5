"""
The client side of one NSS connection: request IDs, replies matched to
requests, heartbeats, and the network-management requests the server sends.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from nsstwisted.wire.codes import REASON_TEXT, ReasonCode, ReturnCode
from nsstwisted.wire.nss import (
    DecodeFailure,
    Disconnect,
    HeartbeatReply,
    HeartbeatRequest,
    MessageType,
    NetMgmtReply,
    NetMgmtRequest,
    NssFrame,
    NssMessage,
    Refusal,
    Services,
)

M = TypeVar("M")

DEFAULT_HEARTBEAT_INTERVAL = 20.0
DEFAULT_HEARTBEAT_TIMEOUT = 10.0
DEFAULT_REQUEST_TIMEOUT = 60.0


class NssRequestFailed(Exception):
    """
    The server refused a request, or the connection failed under it.

    @ivar returnCode: the return code, by name.
    @ivar reasonCode: the reason code, by name.
    """

    #: False when the failure came before the connection was secured.
    secured = True

    def __init__(
        self, returnCode: ReturnCode, reasonCode: ReasonCode, text: str | None = None
    ) -> None:
        self.returnCode = returnCode
        self.reasonCode = reasonCode
        self.text = text or REASON_TEXT.get(reasonCode, "")
        super().__init__(f"{returnCode.name} {reasonCode.name}: {self.text}")


class ConnectionClosed(NssRequestFailed):
    """
    The connection closed before the reply came.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(ReturnCode.EIO, ReasonCode.NSSRsnShutdown, reason)


class TlsFailed(NssRequestFailed):
    """
    The connection could not be secured: the TLS handshake failed, or the
    server's certificate is not the one expected.  The server never saw a
    request.
    """

    secured = False

    def __init__(self, reason: str) -> None:
        super().__init__(ReturnCode.EACCES, ReasonCode.NONE, reason)


@dataclass(frozen=True)
class ClientTimeouts:
    heartbeatInterval: float = DEFAULT_HEARTBEAT_INTERVAL
    heartbeatTimeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    requestTimeout: float = DEFAULT_REQUEST_TIMEOUT


DEFAULT_TIMEOUTS = ClientTimeouts()

NetMgmtHandler = Callable[[bytes], Deferred[bytes]]


class NssClientConnection:
    """
    The protocol handler of a client connection.

    Heartbeats detect a dead server (a half-open TCP connection): if a
    heartbeat gets no reply within C{heartbeatTimeout}, the connection is
    closed, so a dead server is noticed within C{heartbeatInterval +
    heartbeatTimeout} seconds of its last sign of life.
    """

    log = Logger()

    def __init__(
        self,
        link: Any,
        clock: IReactorTime,
        timeouts: ClientTimeouts = DEFAULT_TIMEOUTS,
        netMgmt: NetMgmtHandler | None = None,
    ) -> None:
        self._link = link
        self._clock = clock
        self._timeouts = timeouts
        self._netMgmt = netMgmt
        self._ids = itertools.count(1)
        # request ID -> (the waiting Deferred, its timer, the request's type)
        self._pending: dict[int, tuple[Deferred[NssFrame], IDelayedCall, int]] = {}
        self._heartbeat: LoopingCall | None = None
        self._secured: Deferred[None] = Deferred()
        self.lastSentAt = 0.0
        self._closed: Deferred[str] = Deferred()
        self._goodbye: str | None = None
        self.isClosed = False
        #: The services asked for at logon and granted; nothing else is
        #: served, whatever the server sends.
        self.services = Services(0)

    # Handler interface

    def connected(self) -> None:
        pass

    def secured(self) -> None:
        self._secured.callback(None)

    def whenSecured(self) -> Deferred[None]:
        return self._secured

    def whenClosed(self) -> Deferred[str]:
        return self._closed

    def frameReceived(self, frame: NssFrame) -> None:
        message = frame.message
        if isinstance(message, HeartbeatRequest):
            self._link.sendFrame(NssFrame(frame.requestId, HeartbeatReply()))
            return
        if isinstance(message, Disconnect):
            # Why the server ended the session is what the connection's end
            # must report, not the transport's "closed cleanly".
            self._goodbye = (
                f"the server ended the session: {frame.returnCode.name}"
                f" {frame.reasonCode.name}"
                + (f" ({message.reason})" if message.reason else "")
            )
            self._link.close()
            return
        if isinstance(message, NetMgmtRequest):
            self._serve_netmgmt(frame.requestId, message)
            return
        if not message.isReply:
            # docs/protocol.md section 7.3: a request of a type the server
            # does not send is refused, and the connection goes on.
            name = _type_name(message.messageType)
            self.log.warn(
                "refused a {name} request from the NSS server, which only clients send",
                name=name,
            )
            self._link.sendFrame(
                NssFrame(
                    frame.requestId,
                    Refusal(int(message.messageType)),
                    ReturnCode.EINVAL,
                    ReasonCode.NMsRsnBadType,
                    f"{name} requests are sent by clients, not to them",
                )
            )
            return
        waiting = self._pending.get(frame.requestId)
        if waiting is None or waiting[2] != message.messageType:
            # A late reply to a request given up on, or to none at all:
            # dropped, never answered (docs/protocol.md section 5).
            self.log.warn(
                "the NSS server sent a {name} reply to request {id}, which is"
                " not outstanding; it is ignored",
                name=_type_name(message.messageType),
                id=frame.requestId,
            )
            return
        del self._pending[frame.requestId]
        deferred, timer, _ = waiting
        timer.cancel()
        if isinstance(message, Refusal) or frame.returnCode is not ReturnCode.OK:
            deferred.errback(
                NssRequestFailed(frame.returnCode, frame.reasonCode, frame.text)
            )
        else:
            deferred.callback(frame)

    def decodeFailed(self, failure: DecodeFailure) -> None:
        self.log.warn("bad message from the NSS server: {text}", text=failure.text)
        if failure.fatal:
            self._goodbye = (
                f"the server broke the protocol: {failure.returnCode.name}"
                f" {failure.reasonCode.name} ({failure.text})"
            )
        requestId = failure.requestId
        if failure.reply and requestId is not None:
            waiting = self._pending.get(requestId)
            if waiting is not None and waiting[2] == failure.messageType:
                del self._pending[requestId]
                deferred, timer, _ = waiting
                timer.cancel()
                deferred.errback(
                    NssRequestFailed(
                        failure.returnCode, failure.reasonCode, failure.text
                    )
                )
        response = failure.response()
        if response is not None:
            # A refusal, or the DISCONNECT that says why the connection ends.
            self._link.sendFrame(response)

    def timedOut(self, what: str) -> None:
        self.log.warn("NSS connection closed: {what} took too long", what=what)

    def connectionLost(self, reason: str) -> None:
        reason = self._goodbye or reason
        self.isClosed = True
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        pending, self._pending = self._pending, {}
        for deferred, timer, _ in pending.values():
            timer.cancel()
            deferred.errback(ConnectionClosed(reason))
        if not self._secured.called:
            self._secured.errback(ConnectionClosed(reason))
        self._closed.callback(reason)

    # Requests

    def request(self, message: NssMessage) -> Deferred[NssFrame]:
        """
        Send a request; the Deferred fires with the reply frame, or fails
        with L{NssRequestFailed}.
        """
        if self.isClosed:
            return fail(ConnectionClosed("the connection is closed"))
        requestId = next(self._ids) & 0xFFFFFFFF
        deferred: Deferred[NssFrame] = Deferred()
        timer = self._clock.callLater(
            self._timeouts.requestTimeout, self._request_timed_out, requestId
        )
        self._pending[requestId] = (deferred, timer, message.messageType)
        try:
            self._link.sendFrame(NssFrame(requestId, message))
            self.lastSentAt = time.time()
        except ValueError as e:
            # The request cannot be encoded (a label too long, say): fail it
            # like any other, and leave nothing behind.
            del self._pending[requestId]
            timer.cancel()
            return fail(e)
        return deferred

    def _request_timed_out(self, requestId: int) -> None:
        waiting = self._pending.pop(requestId, None)
        if waiting is not None:
            waiting[0].errback(
                NssRequestFailed(
                    ReturnCode.ETIMEDOUT,
                    ReasonCode.NSSRsnClientTimeout,
                    "the NSS server did not answer in time",
                )
            )

    def setupComplete(self) -> None:
        """
        Logged on: the connection's set-up deadline no longer applies.
        """
        self._link.setupComplete()

    def abandon(self) -> None:
        """
        Drop the connection without a word: the logon was refused, timed out
        or cancelled, and nothing more is to be said on it.
        """
        self._link.abort()

    def addresses(self) -> tuple[tuple[str, int], tuple[str, int]]:
        transport = self._link.transport
        local, peer = transport.getHost(), transport.getPeer()
        return (
            (getattr(local, "host", ""), getattr(local, "port", 0)),
            (getattr(peer, "host", ""), getattr(peer, "port", 0)),
        )

    def startHeartbeats(self) -> None:
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = self._clock
        self._heartbeat.start(self._timeouts.heartbeatInterval, now=False)

    def _beat(self) -> Deferred[None]:
        beat = self.request(HeartbeatRequest())
        timer = self._clock.callLater(self._timeouts.heartbeatTimeout, self._dead)

        def answered(result: object) -> None:
            if timer.active():
                timer.cancel()

        def unanswered(failure: object) -> None:
            # The request's own time limit may come first; either way the
            # server did not answer.
            if timer.active():
                timer.cancel()
                if not self.isClosed:
                    self._dead()

        return beat.addCallbacks(answered, unanswered)

    def _dead(self) -> None:
        self.log.warn("NSS server did not answer a heartbeat: dropping the connection")
        # A dead server will not take part in TLS's closing handshake.
        self._link.abort()

    def close(self) -> Deferred[str]:
        """
        Say goodbye and close; the Deferred fires when the connection is gone.
        """
        if not self.isClosed:
            self._link.sendFrame(NssFrame(0, Disconnect("client closing")))
            self._link.close()
        return self._closed if not self._closed.called else succeed("closed")

    # Network management requests from the server

    def loggedOn(self, services: Services) -> None:
        """
        The logon was accepted for C{services} (what was asked for and
        granted): from now on the server's network management requests are
        served if, and only if, that includes the network management service.
        """
        self.services = services

    def _serve_netmgmt(self, requestId: int, request: NetMgmtRequest) -> None:
        if self._netMgmt is None or Services.NETMGMT not in self.services:
            # A client that did not ask for remote management (or is not
            # logged on yet) answers no management request, whoever routes it.
            self.log.warn(
                "refused a network management request from the NSS server:"
                " this client did not ask for the network management service"
            )
            self._link.sendFrame(
                NssFrame(
                    requestId,
                    Refusal(int(request.messageType)),
                    ReturnCode.EOPNOTSUPP,
                    ReasonCode.NSSRsnServiceNotGranted,
                    "this client did not ask for the network management service",
                )
            )
            return

        def answered(nmi: bytes) -> None:
            if not self.isClosed:
                self._link.sendFrame(NssFrame(requestId, NetMgmtReply(nmi)))

        def failed(failure: Any) -> None:
            self.log.failure("network management request failed", failure)
            if not self.isClosed:
                self._link.sendFrame(
                    NssFrame(
                        requestId,
                        Refusal(int(request.messageType)),
                        ReturnCode.EIO,
                        ReasonCode.NSSRsnServerError,
                        "the client failed to carry out the request",
                    )
                )

        self._netMgmt(request.nmi).addCallbacks(answered, failed)


def _type_name(messageType: int) -> str:
    try:
        return MessageType(messageType).name
    except ValueError:
        return f"type {messageType}"
