"""
The NMI over a Twisted stream (an AF_UNIX socket): a thin adapter between
bytes and L{nsstwisted.wire.nmi} messages.

The server side frames, greets with INIT, says goodbye with TERM, limits the
number of connections (in all and per user), closes idle ones, and hands
every request to a handler object, which decides everything else.  The
client side waits for INIT and matches replies to requests by correlator.
C{docs/nmi.md} is the specification.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import socket
import stat
import struct
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred, fail, gatherResults, maybeDeferred
from twisted.internet.endpoints import UNIXServerEndpoint
from twisted.internet.interfaces import (
    IDelayedCall,
    IListeningPort,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from nsstwisted.wire.codes import REASON_TEXT, ReasonCode, ReturnCode
from nsstwisted.wire.counts import counted
from nsstwisted.wire.nmi import (
    MAX_MESSAGE_SIZE,
    NMI_VERSION,
    SOCKET_MODE,
    UNSOLICITED,
    NmiDecodeFailure,
    NmiDecoder,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    encode_message,
    init_message,
    term_message,
)

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_CONNECTIONS_PER_USER",
    "DEFAULT_MAX_OUTSTANDING",
    "DEFAULT_MESSAGE_DEADLINE",
    "DEFAULT_RESERVED_CONNECTIONS",
    "NmiCaller",
    "NmiClientFactory",
    "NmiClientProtocol",
    "NmiConnectionLost",
    "NmiError",
    "NmiHandler",
    "NmiRefusal",
    "NmiRequestFailed",
    "NmiServerFactory",
    "NmiServerObserver",
    "NmiServerProtocol",
    "NmiSocketAccessError",
    "NmiTerminated",
    "SocketAccess",
    "change_socket_access",
    "describe_caller",
    "describe_socket_access",
    "nmi_server_endpoint",
    "peer_credentials",
    "set_socket_access",
]

DEFAULT_MAX_CONNECTIONS = 10
"""How many management clients a server serves at once."""

DEFAULT_MAX_CONNECTIONS_PER_USER = 4
"""
How many of them may belong to one user (uid): fewer than the total, so
that one member of the socket's group cannot take every connection and
lock the operators out.
"""

DEFAULT_RESERVED_CONNECTIONS = 2
"""
How many connections beyond the total root and the daemon's own user may
open, so that an operator acting as either gets in even when several
other users fill every ordinary connection.
"""

DEFAULT_IDLE_TIMEOUT = 60.0
"""
Seconds a connection may sit with no request outstanding and nothing
received before the server ends it.  The operator commands connect, ask
and leave within a second; a connection idle for a minute is a program
that hangs or one that holds a connection only to keep it from others.
"""

DEFAULT_MAX_OUTSTANDING = 16
"""How many requests of one connection a server works on at once."""

DEFAULT_MESSAGE_DEADLINE = 30.0
"""
Seconds a started message has to arrive in full: a local program that
writes half a header and stops must not hold one of the few connection
slots for ever.
"""


class NmiHandler(TypingProtocol):
    """
    What a server does with requests: everything but framing.
    """

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        """
        Carry out C{request} (never an INIT, a TERM or a reply).

        @return: a Deferred firing with the reply, made with
            C{request.answer(...)} or C{request.refuse(...)}.  The protocol
            stamps it with the request's type, correlator and target, so a
            handler cannot answer the wrong request.  A failure is answered
            with C{EIO} C{NSSRsnServerError}.
        """


@dataclass(frozen=True)
class NmiCaller:
    """
    Who is at the other end of a management connection, from the socket's
    peer credentials (SO_PEERCRED): the kernel's word, not the client's.
    """

    pid: int
    uid: int
    gid: int


class IdentifiedNmiHandler(TypingProtocol):
    """
    A handler that authorizes each request by its caller: the protocol calls
    C{handle_from} instead of C{handle} when the handler has it.
    """

    def handle_from(
        self, request: NmiMessage, caller: NmiCaller | None
    ) -> Deferred[NmiMessage]: ...


def peer_credentials(transport: Any) -> NmiCaller | None:
    """
    The peer credentials of an AF_UNIX connection, or C{None} where the
    transport has no socket (tests) or the platform has no SO_PEERCRED.
    """
    getHandle = getattr(transport, "getHandle", None)
    if getHandle is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        raw = getHandle().getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
        )
    except (OSError, AttributeError):
        return None
    pid, uid, gid = struct.unpack("3i", raw)
    return NmiCaller(pid, uid, gid)


def describe_caller(caller: NmiCaller | None) -> str:
    """
    A caller for an operator's message: the uid says whose it is, the pid
    which process to look at.
    """
    if caller is None:
        return "an unknown user"
    return f"uid {caller.uid} pid {caller.pid}"


@dataclass(frozen=True)
class NmiRefusal:
    """
    Why a connection was sent TERM instead of INIT, for the TERM's text and
    the daemon's message.

    @ivar caller: who was refused.
    @ivar perUser: whether the caller's own limit was hit, rather than the
        server's total.
    @ivar limit: the limit that was hit.
    @ivar holders: how many connections each uid holds (L{None} for
        callers whose credentials are unknown), most first: who to ask, or
        to stop, when the operators are locked out.
    """

    caller: NmiCaller | None
    perUser: bool
    limit: int
    holders: tuple[tuple[int | None, int], ...]

    def reason(self) -> str:
        """The limit hit, in words, for the TERM's text record."""
        if self.perUser:
            return (
                f"too many management connections of uid "
                f"{self.caller.uid if self.caller else 'unknown'} "
                f"(at most {self.limit} per user)"
            )
        return f"too many management connections (at most {self.limit})"

    def describe(self) -> str:
        """The refusal and the holders, for the daemon's log."""
        holders = ", ".join(
            f"uid {'unknown' if uid is None else uid} holds {count}"
            for uid, count in self.holders
        )
        who = describe_caller(self.caller)
        return f"{who} refused: {self.reason()}; {holders or 'none held'}"


class NmiServerObserver:
    """
    The events of an NMI server that an operator may want to read about.

    The protocol has no messages of its own: the daemon passes a subclass
    that writes its C{DBGnnnnI} or C{EZDnnnnI} messages, so that the
    message catalogue stays with the daemon.  The methods here do nothing,
    except L{handlerFailed}, which logs the traceback: an exception must
    never vanish.
    """

    log = Logger(namespace="nsstwisted.nmi")

    def connected(self, connId: int) -> None:
        """A client connected and was sent INIT."""

    def refused(self, connId: int, refusal: NmiRefusal) -> None:
        """A client was sent TERM at once: it hit a connection limit."""

    def idleClosed(self, connId: int, caller: NmiCaller | None, idle: float) -> None:
        """
        A client was sent TERM because it sent nothing for C{idle} seconds
        while no request of its was outstanding.
        """

    def badMessage(self, connId: int, failure: NmiDecodeFailure) -> None:
        """A client sent a message that could not be accepted."""

    def handlerFailed(self, connId: int, request: NmiMessage, reason: Failure) -> None:
        """The handler failed a request, or its reply could not be encoded."""
        self.log.failure(
            "NMI connection {connId}: {request} failed",
            reason,
            connId=connId,
            request=_name(request.messageType),
        )

    def disconnected(self, connId: int) -> None:
        """A connection closed, whoever closed it."""


def _name(messageType: int) -> str:
    try:
        return NmiMessageType(messageType).ibmName
    except ValueError:
        return f"message type {messageType}"


class NmiServerProtocol(Protocol):
    """
    One management client's connection to the server.

    @ivar connId: a number for logs, unique within the factory.
    """

    factory: NmiServerFactory

    def __init__(self, factory: NmiServerFactory, connId: int) -> None:
        self.factory = factory
        self.connId = connId
        self._decoder = NmiDecoder(factory.maxMessageSize)
        self._outstanding = 0
        self._closing = False
        self._admitted = False
        self._deadline: IDelayedCall | None = None
        self._idle: IDelayedCall | None = None
        self._abandon: IDelayedCall | None = None
        self._lost: list[Deferred[None]] | None = []
        self.caller: NmiCaller | None = None

    def connectionMade(self) -> None:
        # The kernel's word on who connected comes first: the limits are
        # counted per user.
        self.caller = self.factory.credentials(self.transport)
        refusal = self.factory._admit(self)
        if refusal is not None:
            self.factory.observer.refused(self.connId, refusal)
            self.terminate(
                ReturnCode.EBUSY, ReasonCode.NSSRsnTooManyRequests, refusal.reason()
            )
            return
        self._admitted = True
        self._send(init_message(self.factory.version))
        self.factory.observer.connected(self.connId)
        self._watchIdle()

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        self._stopIdle()
        for item in self._decoder.feed(data):
            if isinstance(item, NmiDecodeFailure):
                self.factory.observer.badMessage(self.connId, item)
                if item.fatal:
                    self.terminate(item.returnCode, item.reasonCode, item.text)
                    return
                response = item.response()
                if response is not None:
                    self._send(response)
            else:
                self._request(item)
            if self._closing:
                return
        self._watchPartialMessage()
        self._watchIdle()

    def _watchIdle(self) -> None:
        """
        Start the idle timer when the connection has become idle: nothing
        outstanding and no message half received (the message deadline
        watches that); stop it when it is not.  The timeout is read now,
        so that a refresh applies from each connection's next idle period.
        """
        timeout = self.factory.idleTimeout
        if self._closing or self._outstanding or self._decoder.pending or timeout <= 0:
            self._stopIdle()
        elif self._idle is None:
            self._idle = self.factory.clock.callLater(
                timeout, self._idleExpired, timeout
            )

    def _stopIdle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idleExpired(self, timeout: float) -> None:
        self._idle = None
        self.factory.observer.idleClosed(self.connId, self.caller, timeout)
        self.terminate(
            ReturnCode.ETIMEDOUT,
            ReasonCode.NONE,
            f"idle for {timeout:g} s with no request outstanding: closed",
        )

    def _watchPartialMessage(self) -> None:
        if self._decoder.pending:
            if self._deadline is None:
                self._deadline = self.factory.clock.callLater(
                    self.factory.messageDeadline, self._expired
                )
        elif self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        self.terminate(
            ReturnCode.EINVAL,
            ReasonCode.NMsRsnMsgSize,
            f"a message stayed incomplete for {self.factory.messageDeadline:g} s",
        )

    def _request(self, message: NmiMessage) -> None:
        if message.reply or message.messageType in UNSOLICITED:
            # Replies, INIT and TERM are never answered, and a client has
            # no business sending them: note it and go on.
            self.factory.observer.badMessage(
                self.connId,
                NmiDecodeFailure(
                    message.correlator,
                    message.messageType,
                    ReturnCode.EINVAL,
                    ReasonCode.NMsRsnBadType,
                    False,
                    f"a client sent {_name(message.messageType)}"
                    + (" as a reply" if message.reply else ""),
                    reply=message.reply,
                ),
            )
            return
        if self._outstanding >= self.factory.maxOutstanding:
            self._send(
                message.refuse(
                    ReturnCode.EBUSY,
                    ReasonCode.NSSRsnTooManyRequests,
                    f"at most {counted(self.factory.maxOutstanding, 'request')}"
                    " at once",
                )
            )
            return
        self._outstanding += 1
        handler: Any = self.factory.handler
        if hasattr(handler, "handle_from"):
            working = maybeDeferred(handler.handle_from, message, self.caller)
        else:
            working = maybeDeferred(handler.handle, message)
        working.addBoth(self._finished)
        working.addCallbacks(
            self._answer,
            self._failed,
            callbackArgs=(message,),
            errbackArgs=(message,),
        )

    def _finished(self, result: Any) -> Any:
        self._outstanding -= 1
        self._watchIdle()
        return result

    def _answer(self, reply: NmiMessage, request: NmiMessage) -> None:
        try:
            reply = replace(
                reply,
                messageType=request.messageType,
                correlator=request.correlator,
                reply=True,
                target=request.target,
                version=request.version,
            )
            data = encode_message(reply, self.factory.maxMessageSize)
        except Exception:
            # A reply that cannot be sent is the handler's failure.
            self._failed(Failure(), request)
            return
        self._write(data)

    def _failed(self, reason: Failure, request: NmiMessage) -> None:
        self.factory.observer.handlerFailed(self.connId, request, reason)
        self._send(
            request.refuse(
                ReturnCode.EIO,
                ReasonCode.NSSRsnServerError,
                f"{_name(request.messageType)} failed: {reason.getErrorMessage()}",
            )
        )

    def _send(self, message: NmiMessage) -> None:
        try:
            data = encode_message(message, self.factory.maxMessageSize)
        except ValueError:
            # Only the explanation can make an error reply or a TERM too
            # large for a small maximum; the codes must go out regardless.
            data = encode_message(replace(message, records=()))
        self._write(data)

    def _write(self, data: bytes) -> None:
        if not self._closing and self.transport is not None:
            self.transport.write(data)

    def terminate(
        self,
        returnCode: ReturnCode = ReturnCode.OK,
        reasonCode: ReasonCode = ReasonCode.NONE,
        text: str | None = None,
    ) -> None:
        """
        Send TERM with the reason and close the connection once it is
        written.  Does nothing if the connection is closing already.

        A client that stops reading would keep the connection, and its
        slot, for ever while the TERM waits to be written: after the
        message deadline the connection is aborted.
        """
        if self._closing or self.transport is None:
            return
        self._send(term_message(returnCode, reasonCode, text))
        self._closing = True
        self._stopTimers()
        self.transport.loseConnection()
        self._abandon = self.factory.clock.callLater(
            self.factory.messageDeadline, self._abort
        )

    def _abort(self) -> None:
        self._abandon = None
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def _stopTimers(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._stopIdle()

    def whenLost(self) -> Deferred[None]:
        """A Deferred that fires when the connection has closed."""
        lost: Deferred[None] = Deferred()
        if self._lost is None:
            lost.callback(None)
        else:
            self._lost.append(lost)
        return lost

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closing = True
        self._stopTimers()
        if self._abandon is not None:
            self._abandon.cancel()
            self._abandon = None
        if self._admitted:
            self.factory._forget(self)
            self.factory.observer.disconnected(self.connId)
        lost, self._lost = self._lost or [], None
        for waiting in lost:
            waiting.callback(None)


class NmiServerFactory(Factory[NmiServerProtocol]):
    """
    Builds the server's L{NmiServerProtocol}s, counts them, and ends them
    at shutdown.

    The socket's mode lets every member of its group connect, and a member
    is not necessarily an operator.  So that none of them can lock the
    operators out by holding connections, the connections are limited per
    user as well as in all, root and the daemon's own user may go beyond
    the total, and idle connections are closed.

    @ivar maxConnections: how many clients are served at once; one more is
        sent TERM C{EBUSY} C{NSSRsnTooManyRequests} and closed.
    @ivar maxConnectionsPerUser: how many of them one uid may hold; one
        more of that uid is refused likewise.  Callers whose credentials
        are unknown count as one user, and not a privileged one.
    @ivar reservedConnections: how many connections beyond
        C{maxConnections} the C{privilegedUids} may open (each still within
        its own C{maxConnectionsPerUser}).
    @ivar privilegedUids: root and the daemon's own user by default: they
        can stop or read the daemon anyway, so a reserve for them gives an
        attacker nothing, and it keeps the operators' way in open.  The
        daemon's user is its effective uid when a client connects, so that
        a daemon that switches user after building its services (twistd
        C{--uid}) reserves for the user it runs as.
    @ivar idleTimeout: seconds a connection may stay idle (nothing
        outstanding, nothing received) before it is sent TERM C{ETIMEDOUT}
        and closed; 0 for never.  It may be changed at any time; it applies
        from each connection's next idle period.
    @ivar credentials: who is at the other end of a transport;
        L{peer_credentials} unless a test's transports carry no socket.
    """

    noisy = False  # as NssFactory: no per-connection lines

    def __init__(
        self,
        handler: NmiHandler,
        clock: IReactorTime,
        *,
        maxConnections: int = DEFAULT_MAX_CONNECTIONS,
        maxConnectionsPerUser: int = DEFAULT_MAX_CONNECTIONS_PER_USER,
        reservedConnections: int = DEFAULT_RESERVED_CONNECTIONS,
        privilegedUids: Iterable[int] | None = None,
        idleTimeout: float = DEFAULT_IDLE_TIMEOUT,
        maxOutstanding: int = DEFAULT_MAX_OUTSTANDING,
        maxMessageSize: int = MAX_MESSAGE_SIZE,
        messageDeadline: float = DEFAULT_MESSAGE_DEADLINE,
        version: int = NMI_VERSION,
        observer: NmiServerObserver | None = None,
        credentials: Callable[[Any], NmiCaller | None] = peer_credentials,
    ) -> None:
        """
        @param privilegedUids: L{None} for root and the effective uid of
            this process at the time.
        @param version: the highest interface version announced in INIT.
        """
        if maxConnections < 1 or maxOutstanding < 1 or maxConnectionsPerUser < 1:
            raise ValueError("the connection and request limits must be 1 or more")
        if reservedConnections < 0 or idleTimeout < 0:
            raise ValueError("the reserve and the idle timeout cannot be negative")
        self.handler = handler
        self.clock = clock
        self.maxConnections = maxConnections
        self.maxConnectionsPerUser = maxConnectionsPerUser
        self.reservedConnections = reservedConnections
        self._privilegedUids = (
            None if privilegedUids is None else frozenset(privilegedUids)
        )
        self.idleTimeout = idleTimeout
        self.maxOutstanding = maxOutstanding
        self.maxMessageSize = maxMessageSize
        self.messageDeadline = messageDeadline
        self.version = version
        self.observer = observer or NmiServerObserver()
        self.credentials = credentials
        self.connections: set[NmiServerProtocol] = set()
        self._ids = itertools.count(1)

    @property
    def privilegedUids(self) -> frozenset[int]:
        if self._privilegedUids is None:
            return frozenset({0, os.geteuid()})
        return self._privilegedUids

    def buildProtocol(self, addr: object) -> NmiServerProtocol:
        return NmiServerProtocol(self, next(self._ids))

    def _admit(self, protocol: NmiServerProtocol) -> NmiRefusal | None:
        """
        Count C{protocol} in, or say which limit keeps it out: its user's
        own limit first, so that a user at it is told so even when the
        server is full as well.
        """
        caller = protocol.caller
        uid = None if caller is None else caller.uid
        held = Counter(
            None if p.caller is None else p.caller.uid for p in self.connections
        )
        total = self.maxConnections
        if uid is not None and uid in self.privilegedUids:
            total += self.reservedConnections
        if held[uid] >= self.maxConnectionsPerUser:
            limit, perUser = self.maxConnectionsPerUser, True
        elif len(self.connections) >= total:
            limit, perUser = total, False
        else:
            self.connections.add(protocol)
            return None
        return NmiRefusal(caller, perUser, limit, tuple(held.most_common()))

    def _forget(self, protocol: NmiServerProtocol) -> None:
        self.connections.discard(protocol)

    def terminateAll(
        self,
        returnCode: ReturnCode = ReturnCode.EBUSY,
        reasonCode: ReasonCode = ReasonCode.NSSRsnShutdown,
        text: str | None = "the server is shutting down",
    ) -> Deferred[None]:
        """
        Send every open connection TERM and close it, as IBM's daemons do
        when they stop.  Stop listening first, or new clients will come.

        @return: a Deferred that fires when every connection has closed.
        """
        waiting = []
        for protocol in list(self.connections):
            waiting.append(protocol.whenLost())
            protocol.terminate(returnCode, reasonCode, text)
        done: Deferred[Any] = gatherResults(waiting)
        return done.addCallback(lambda _: None)


class NmiSocketAccessError(Exception):
    """
    A management socket could not be given its group or mode; the message
    names the socket, the group and the mode, and says why.
    """


def _describe_access(path: str, mode: int, group: str | int | None) -> str:
    given = f"mode {mode:04o}"
    if group is not None:
        given = f"group {group} and {given}"
    return f"cannot give the management socket {path} {given}"


def _group_id(group: str | int) -> int:
    """The gid of a group named by name or by number, as C{chgrp} takes it."""
    if isinstance(group, int):
        return grp.getgrgid(group).gr_gid
    if group.isascii() and group.isdigit():
        return grp.getgrgid(int(group)).gr_gid
    return grp.getgrnam(group).gr_gid


def set_socket_access(path: str, mode: int, group: str | int | None = None) -> None:
    """
    Give the management socket at C{path} its mode and, unless C{group} is
    L{None}, its group: who may connect at all is decided here, by the
    file system, before the daemon learns who connected.  Used when the
    socket is made and when a refresh changes either.

    The file must be a socket: a daemon that follows a symbolic link put in
    the socket's place would hand another file to the group.

    @raise NmiSocketAccessError: the group does not exist, the file is not
        a socket, or the system refused the change.
    """
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise NmiSocketAccessError(
                f"{_describe_access(path, mode, group)}: it is not a socket"
            )
        if group is not None:
            os.chown(path, -1, _group_id(group), follow_symlinks=False)
        os.chmod(path, mode)
    except KeyError:
        raise NmiSocketAccessError(
            f"{_describe_access(path, mode, group)}: the group does not exist"
        ) from None
    except OSError as e:
        raise NmiSocketAccessError(
            f"{_describe_access(path, mode, group)}: {e.strerror or e}"
        ) from None


def describe_socket_access(path: str) -> str:
    """
    Who may connect to the management socket at C{path}, as the file system
    says, for the daemon's message: its owner, group and mode.
    """
    info = os.stat(path)
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return f"owner {owner}, group {group}, mode {stat.S_IMODE(info.st_mode):04o}"


SocketAccess = tuple[str | int | None, int]
"""A management socket's group (L{None}: the daemon's own) and mode."""


def change_socket_access(
    port: IListeningPort | None, before: SocketAccess, after: SocketAccess
) -> tuple[str, str] | None:
    """
    Give the socket that C{port} serves its new group and mode at once, as
    a refresh does, if they changed; a group of L{None} gives it back to
    this process's own group.  The connections already open stay: the file
    system is asked at connect.

    @return: the socket's path and L{describe_socket_access}, for the
        daemon's message; L{None} if nothing changed or nothing is served.
    @raise NmiSocketAccessError: the change cannot be made.
    """
    if port is None or before == after:
        return None
    group, mode = after
    # The socket served, which a refresh of NmiSocket does not move.
    path = os.fsdecode(port.getHost().name)  # type: ignore[attr-defined]
    set_socket_access(path, mode, os.getegid() if group is None else group)
    return path, describe_socket_access(path)


@implementer(IStreamServerEndpoint)
class NmiServerEndpoint:
    """
    An AF_UNIX server endpoint whose socket gets its group and mode before
    the first client can be served: L{listen} fires only once both are set,
    and fails (listening no more) when they cannot be.
    """

    def __init__(
        self, reactor: Any, path: str, mode: int, group: str | int | None
    ) -> None:
        self.path = path
        self.mode = mode
        self.group = group
        self.unix = UNIXServerEndpoint(reactor, path, mode=mode, wantPID=1)

    def listen(self, protocolFactory: Any) -> Deferred[IListeningPort]:
        listening: Deferred[IListeningPort] = self.unix.listen(protocolFactory)

        def accessGiven(port: IListeningPort) -> Any:
            try:
                set_socket_access(self.path, self.mode, self.group)
            except NmiSocketAccessError:
                failed = Failure()
                return maybeDeferred(port.stopListening).addBoth(lambda _: failed)
            return port

        return listening.addCallback(accessGiven)


def nmi_server_endpoint(
    reactor: Any,
    path: str,
    *,
    mode: int = SOCKET_MODE,
    group: str | int | None = None,
) -> NmiServerEndpoint:
    """
    The endpoint a daemon serves the NMI on: the socket file gets C{mode}
    (L{SOCKET_MODE}, owner and group, unless the daemon's configuration
    says otherwise) and C{group} (the daemon's own unless given; see
    L{set_socket_access}), and a socket file left behind by a daemon that
    died is removed, which Twisted does when it holds the C{path.lock} lock
    file.

    The directory must exist; creating it (and reporting when it cannot)
    is the daemon's business.
    """
    return NmiServerEndpoint(reactor, os.fsdecode(path), mode, group)


# The client side.


class NmiError(Exception):
    """
    A request failed: the server refused it, ended the connection, or the
    connection broke.

    @ivar returnCode: the return code.
    @ivar reasonCode: the reason code.
    @ivar lines: the server's explanation, if it sent one.
    """

    def __init__(
        self,
        returnCode: ReturnCode,
        reasonCode: ReasonCode,
        lines: Iterable[str] = (),
    ) -> None:
        self.returnCode = returnCode
        self.reasonCode = reasonCode
        self.lines = tuple(lines)
        text = "; ".join(self.lines) or REASON_TEXT.get(reasonCode, "")
        super().__init__(f"{returnCode.name} {reasonCode.name}: {text}")


class NmiRequestFailed(NmiError):
    """
    The server answered a request with an error reply, or its reply could
    not be decoded.
    """


class NmiTerminated(NmiError):
    """
    The server sent TERM, which ends the connection.
    """


class NmiConnectionLost(NmiError):
    """
    The connection closed without a TERM (the server died, say).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(ReturnCode.EIO, ReasonCode.NONE, [reason])


class NmiClientProtocol(Protocol):
    """
    A management client's side of one NMI connection.

    @ivar ready: fires with the server's highest interface version when
        INIT arrives; fails with L{NmiTerminated} if TERM comes first, or
        L{NmiConnectionLost}.  Send requests only after it fired.
    @ivar terminated: fires with the server's TERM, if one came, or
        L{None} when the connection closes without one.
    """

    def __init__(self, maxMessageSize: int = MAX_MESSAGE_SIZE) -> None:
        self.maxMessageSize = maxMessageSize
        self.ready: Deferred[int] = Deferred()
        self.terminated: Deferred[NmiMessage | None] = Deferred()
        self.serverVersion: int | None = None
        self._decoder = NmiDecoder(maxMessageSize)
        self._pending: dict[int, Deferred[NmiMessage]] = {}
        self._next = 0
        self._term: NmiMessage | None = None
        self._closed = False

    def request(
        self,
        messageType: NmiMessageType,
        target: str = "",
        records: Iterable[NmiRecord] = (),
    ) -> Deferred[NmiMessage]:
        """
        Send a request.

        @return: a Deferred firing with the successful reply, or failing
            with an L{NmiError}.  Cancelling it forgets the request (a late
            reply is dropped).
        """
        if self.serverVersion is None or self._closed or self.transport is None:
            return fail(ValueError("no INIT received, or the connection is closed"))
        correlator = self._correlator()
        message = NmiMessage(
            messageType, correlator, target=target, records=tuple(records)
        )
        try:
            data = encode_message(message, self.maxMessageSize)
        except ValueError:
            return fail()

        def forget(d: Deferred[NmiMessage]) -> None:
            self._pending.pop(correlator, None)

        waiting: Deferred[NmiMessage] = Deferred(forget)
        self._pending[correlator] = waiting
        self.transport.write(data)
        return waiting

    def _correlator(self) -> int:
        # Numbers wrap at 2**32 and skip those still outstanding.
        while True:
            self._next = (self._next + 1) & 0xFFFFFFFF
            if self._next not in self._pending:
                return self._next

    def dataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        for item in self._decoder.feed(data):
            if isinstance(item, NmiDecodeFailure):
                self._badMessage(item)
            elif item.messageType == NmiMessageType.INIT:
                if self.serverVersion is None:
                    self.serverVersion = item.version
                    self.ready.callback(item.version)
            elif item.messageType == NmiMessageType.TERM:
                self._term = item
                self._fail_all(
                    NmiTerminated(item.returnCode, item.reasonCode, item.lines())
                )
                self.close()
            elif item.reply:
                waiting = self._pending.pop(item.correlator, None)
                if waiting is None:
                    continue  # a reply to a request given up on
                if item.ok:
                    waiting.callback(item)
                else:
                    waiting.errback(
                        NmiRequestFailed(item.returnCode, item.reasonCode, item.lines())
                    )
            # A server sends no requests; one is dropped.
            if self._closed:
                return

    def _badMessage(self, failure: NmiDecodeFailure) -> None:
        error = NmiRequestFailed(failure.returnCode, failure.reasonCode, [failure.text])
        if failure.fatal:
            self._fail_all(error)
            self.close()
        elif failure.reply and failure.correlator is not None:
            waiting = self._pending.pop(failure.correlator, None)
            if waiting is not None:
                waiting.errback(error)

    def _fail_all(self, error: NmiError) -> None:
        if not self.ready.called:
            self.ready.errback(error)
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            waiting.errback(error)

    def close(self) -> None:
        """Close the connection; outstanding requests fail."""
        if not self._closed and self.transport is not None:
            self._closed = True
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closed = True
        self._fail_all(NmiConnectionLost(reason.getErrorMessage()))
        if not self.terminated.called:
            self.terminated.callback(self._term)


class NmiClientFactory(Factory[NmiClientProtocol]):
    """
    Builds L{NmiClientProtocol}s, for C{UNIXClientEndpoint.connect}.
    """

    noisy = False  # as NssFactory: no per-connection lines

    def __init__(self, maxMessageSize: int = MAX_MESSAGE_SIZE) -> None:
        self.maxMessageSize = maxMessageSize

    def buildProtocol(self, addr: object) -> NmiClientProtocol:
        protocol = NmiClientProtocol(self.maxMessageSize)
        protocol.factory = self
        return protocol
