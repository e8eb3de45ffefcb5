"""
Tests for L{nsstwisted.protocols.nmi}: the server's greeting, goodbye,
limits and reply matching over L{StringTransport}, and the client against
the server over L{iosim}.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, fail, succeed
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.test.iosim import IOPump, connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nsstwisted.nssd.management import NssdManagement
from nsstwisted.protocols.nmi import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    DEFAULT_RESERVED_CONNECTIONS,
    NmiCaller,
    NmiClientFactory,
    NmiClientProtocol,
    NmiConnectionLost,
    NmiRefusal,
    NmiRequestFailed,
    NmiServerFactory,
    NmiServerObserver,
    NmiServerProtocol,
    NmiSocketAccessError,
    NmiTerminated,
    change_socket_access,
    describe_socket_access,
    nmi_server_endpoint,
    set_socket_access,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import (
    SOCKET_MODE,
    NmiDecodeFailure,
    NmiDecoder,
    NmiMessage,
    NmiMessageType,
    encode_message,
    init_message,
    term_message,
    text_record,
)
from tests.daemons import NOBODY, hold_nmi_connections, skip_unless_root
from tests.test_wire_nmi import NON_FATAL, rawMessage

DOCS = Path(__file__).parent.parent / "docs" / "nmi.md"
T = NmiMessageType
R = ReasonCode


class RecordingHandler:
    """
    A handler whose answers the test gives, in any order.
    """

    def __init__(self) -> None:
        self.requests: list[NmiMessage] = []
        self.waiting: list[Deferred[NmiMessage]] = []

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        self.requests.append(request)
        waiting: Deferred[NmiMessage] = Deferred()
        self.waiting.append(waiting)
        return waiting


class EchoHandler:
    """
    A handler that answers every request at once with its type's name.
    """

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        name = T(request.messageType).ibmName
        return succeed(request.answer([text_record([name])]))


class RecordingObserver(NmiServerObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.refusals: list[NmiRefusal] = []
        self.idle: list[tuple[NmiCaller | None, float]] = []

    def connected(self, connId: int) -> None:
        self.events.append(("connected", connId))

    def refused(self, connId: int, refusal: NmiRefusal) -> None:
        self.events.append(("refused", connId))
        self.refusals.append(refusal)

    def idleClosed(self, connId: int, caller: NmiCaller | None, idle: float) -> None:
        self.events.append(("idle", connId))
        self.idle.append((caller, idle))

    def badMessage(self, connId: int, failure: NmiDecodeFailure) -> None:
        self.events.append(("bad", connId))

    def disconnected(self, connId: int) -> None:
        self.events.append(("disconnected", connId))


def request(
    messageType: NmiMessageType = T.DAEMON_DISPLAY,
    correlator: int = 1,
    target: str = "",
) -> bytes:
    return encode_message(NmiMessage(messageType, correlator, target=target))


class CallerTransport(StringTransport):
    """
    A string transport that says who is at its other end, as the kernel
    says it of an AF_UNIX socket; C{caller} L{None} is a transport without
    credentials.
    """

    def __init__(self, caller: NmiCaller | None) -> None:
        super().__init__()
        self.caller = caller


def transport_caller(transport: object) -> NmiCaller | None:
    assert isinstance(transport, CallerTransport)
    return transport.caller


class ServerHarness:
    """
    A server factory and its connections over string transports.
    """

    def __init__(self, handler: object, **kwargs: object) -> None:
        self.clock = Clock()
        self.observer = RecordingObserver()
        self.factory = NmiServerFactory(
            handler,  # type: ignore[arg-type]
            self.clock,
            observer=self.observer,
            credentials=transport_caller,
            **kwargs,  # type: ignore[arg-type]
        )
        self._pids = itertools.count(100)

    def connect(
        self, uid: int | None = 1000
    ) -> tuple[NmiServerProtocol, StringTransport, NmiDecoder]:
        """
        Connect as C{uid}, or as a caller without credentials.
        """
        protocol = self.factory.buildProtocol(None)
        caller = None if uid is None else NmiCaller(next(self._pids), uid, 1000)
        transport = CallerTransport(caller)
        protocol.makeConnection(transport)
        return protocol, transport, NmiDecoder()


def received(
    transport: StringTransport, decoder: NmiDecoder
) -> list[NmiMessage | NmiDecodeFailure]:
    """What the server wrote since the last call, decoded."""
    data = transport.value()
    transport.clear()
    return decoder.feed(data)


class ServerTests(SynchronousTestCase):
    """
    L{NmiServerProtocol} and L{NmiServerFactory} over string transports.
    """

    def test_initOnConnect(self) -> None:
        server = ServerHarness(EchoHandler(), version=3)
        protocol, transport, decoder = server.connect()
        self.assertEqual(received(transport, decoder), [init_message(3)])
        self.assertEqual(server.observer.events, [("connected", protocol.connId)])

    def test_repliesMatchedByCorrelator(self) -> None:
        """
        Replies may come in any order; each carries its request's
        correlator, type and target, whatever the handler put there.
        """
        handler = RecordingHandler()
        server = ServerHarness(handler)
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(
            request(T.DAEMON_DISPLAY, 10) + request(T.DAEMON_REFRESH, 11, "CLIENT1")
        )
        self.assertEqual([r.correlator for r in handler.requests], [10, 11])
        handler.waiting[1].callback(
            NmiMessage(T.DAEMON_DISPLAY, 999, records=(text_record(["second"]),))
        )
        handler.waiting[0].callback(
            handler.requests[0].answer([text_record(["first"])])
        )
        replies = received(transport, decoder)
        self.assertEqual(
            replies,
            [
                NmiMessage(
                    T.DAEMON_REFRESH,
                    11,
                    True,
                    "CLIENT1",
                    records=(text_record(["second"]),),
                ),
                NmiMessage(
                    T.DAEMON_DISPLAY, 10, True, records=(text_record(["first"]),)
                ),
            ],
        )

    def test_nonFatalFailureKeepsConnection(self) -> None:
        server = ServerHarness(EchoHandler())
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(
            rawMessage(version=2, correlator=5) + request(correlator=6)
        )
        refusal, reply = received(transport, decoder)
        assert isinstance(refusal, NmiMessage)
        self.assertEqual(
            (refusal.correlator, refusal.returnCode, refusal.reasonCode),
            (5, ReturnCode.EINVAL, R.NMsRsnBadVersion),
        )
        assert isinstance(reply, NmiMessage)
        self.assertEqual(
            (reply.correlator, reply.lines()), (6, ("NMsec_DAEMON_DISPLAY",))
        )
        self.assertFalse(transport.disconnecting)
        self.assertIn(("bad", protocol.connId), server.observer.events)

    def test_fatalFailureTerminates(self) -> None:
        server = ServerHarness(EchoHandler())
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(b"GET / HTTP/1.0\r\n\r\n")
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(
            (term.messageType, term.returnCode, term.reasonCode),
            (T.TERM, ReturnCode.EINVAL, R.NMsRsnBadIdent),
        )
        self.assertTrue(transport.disconnecting)
        protocol.dataReceived(request())
        self.assertEqual(transport.value(), b"")

    def test_fatalAfterGoodRequest(self) -> None:
        """
        Requests before a fatal failure in the same read are still
        answered; nothing after it is.
        """
        server = ServerHarness(EchoHandler())
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(
            request(correlator=1) + rawMessage(total=1 << 30) + request()
        )
        reply, term = received(transport, decoder)
        assert isinstance(reply, NmiMessage) and isinstance(term, NmiMessage)
        self.assertEqual(reply.correlator, 1)
        self.assertEqual(term.reasonCode, R.NMsRsnExcessiveSize)

    def test_tooManyConnections(self) -> None:
        """
        The eleventh connection gets TERM instead of INIT and is closed;
        once one of the ten goes, a new one is served again.
        """
        server = ServerHarness(EchoHandler())
        connections = [
            server.connect(uid=1000 + n) for n in range(DEFAULT_MAX_CONNECTIONS)
        ]
        for _, transport, decoder in connections:
            self.assertEqual(received(transport, decoder), [init_message()])
        protocol, transport, decoder = server.connect(uid=2000)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(
            (term.messageType, term.returnCode, term.reasonCode),
            (T.TERM, ReturnCode.EBUSY, R.NSSRsnTooManyRequests),
        )
        self.assertIn("at most 10", term.lines()[0])
        self.assertTrue(transport.disconnecting)
        self.assertIn(("refused", protocol.connId), server.observer.events)
        (refusal,) = server.observer.refusals
        self.assertEqual((refusal.perUser, refusal.limit), (False, 10))
        self.assertIn("uid 2000 pid", refusal.describe())
        self.assertIn("uid 1009 holds 1", refusal.describe())
        protocol.connectionLost()
        self.assertEqual(len(server.factory.connections), 10)
        connections[0][0].connectionLost()
        self.assertIn(
            ("disconnected", connections[0][0].connId), server.observer.events
        )
        _, transport, decoder = server.connect(uid=2000)
        self.assertEqual(received(transport, decoder), [init_message()])

    def test_limitIsParameter(self) -> None:
        server = ServerHarness(EchoHandler(), maxConnections=1)
        server.connect()
        _, transport, decoder = server.connect()
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(term.messageType, T.TERM)
        self.assertRaises(
            ValueError, NmiServerFactory, EchoHandler(), Clock(), maxConnections=0
        )

    def test_perUserLimit(self) -> None:
        """
        One uid gets at most four of the ten connections; the fifth is sent
        TERM C{EBUSY} C{NSSRsnTooManyRequests} saying so, while another uid
        is still served, and the first gets in again once one of its own
        connections closes.
        """
        server = ServerHarness(EchoHandler())
        held = [server.connect(uid=1001) for _ in range(4)]
        for _, transport, decoder in held:
            self.assertEqual(received(transport, decoder), [init_message()])
        _, transport, decoder = server.connect(uid=1001)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(
            (term.messageType, term.returnCode, term.reasonCode),
            (T.TERM, ReturnCode.EBUSY, R.NSSRsnTooManyRequests),
        )
        self.assertEqual(
            term.lines(),
            ("too many management connections of uid 1001 (at most 4 per user)",),
        )
        self.assertTrue(transport.disconnecting)
        (refusal,) = server.observer.refusals
        self.assertEqual(
            (refusal.perUser, refusal.limit, refusal.holders), (True, 4, ((1001, 4),))
        )
        _, other, otherDecoder = server.connect(uid=1002)
        self.assertEqual(received(other, otherDecoder), [init_message()])
        held[0][0].connectionLost()
        _, again, againDecoder = server.connect(uid=1001)
        self.assertEqual(received(again, againDecoder), [init_message()])

    def test_operatorGetsInWhileAnotherUserHoldsConnections(self) -> None:
        """
        The reported lockout: one member of the socket's group opens as
        many connections as it can and leaves them idle; an operator, who
        is neither root nor the daemon's user, still gets INIT and an
        answer.
        """
        server = ServerHarness(EchoHandler(), privilegedUids=())
        hog = [server.connect(uid=1001) for _ in range(DEFAULT_MAX_CONNECTIONS)]
        greeted = [received(t, d)[0] for _, t, d in hog]
        self.assertEqual(
            [m.messageType for m in greeted if isinstance(m, NmiMessage)],
            [T.INIT] * DEFAULT_MAX_CONNECTIONS_PER_USER
            + [T.TERM] * (DEFAULT_MAX_CONNECTIONS - DEFAULT_MAX_CONNECTIONS_PER_USER),
        )
        operator, transport, decoder = server.connect(uid=1500)
        operator.dataReceived(request(correlator=7))
        init, reply = received(transport, decoder)
        self.assertEqual(init, init_message())
        assert isinstance(reply, NmiMessage)
        self.assertEqual((reply.correlator, reply.ok), (7, True))

    def test_reserveForPrivilegedUsers(self) -> None:
        """
        When other users fill every ordinary connection, root and the
        daemon's own user may still open the reserved two more, within
        their own per-user limit; nobody else may.
        """
        server = ServerHarness(EchoHandler(), privilegedUids=(0, 991))
        for uid, count in ((1001, 4), (1002, 4), (1003, 2)):
            for _ in range(count):
                server.connect(uid=uid)
        self.assertEqual(len(server.factory.connections), DEFAULT_MAX_CONNECTIONS)
        _, transport, decoder = server.connect(uid=1004)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(term.messageType, T.TERM)
        self.assertEqual(server.observer.refusals[-1].perUser, False)
        for uid in (0, 991):
            _, transport, decoder = server.connect(uid=uid)
            self.assertEqual(received(transport, decoder), [init_message()])
        _, transport, decoder = server.connect(uid=0)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(
            term.lines(), ("too many management connections (at most 12)",)
        )
        self.assertEqual(
            len(server.factory.connections),
            DEFAULT_MAX_CONNECTIONS + DEFAULT_RESERVED_CONNECTIONS,
        )

    def test_privilegedByDefault(self) -> None:
        """
        Without C{privilegedUids}, the reserve is root's and this
        process's effective uid's.
        """
        factory = NmiServerFactory(EchoHandler(), Clock())
        self.assertEqual(factory.privilegedUids, {0, os.geteuid()})

    def test_unknownCallersAreOneUser(self) -> None:
        """
        Callers without credentials share one per-user limit and no
        reserve: a transport that cannot say who is at its end must not
        get around the limit.
        """
        server = ServerHarness(EchoHandler())
        for _ in range(DEFAULT_MAX_CONNECTIONS_PER_USER):
            server.connect(uid=None)
        _, transport, decoder = server.connect(uid=None)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(term.messageType, T.TERM)
        self.assertIn("an unknown user refused", server.observer.refusals[0].describe())

    def test_limitsChecked(self) -> None:
        for bad in (
            {"maxConnectionsPerUser": 0},
            {"reservedConnections": -1},
            {"idleTimeout": -1.0},
        ):
            self.assertRaises(
                ValueError,
                NmiServerFactory,
                EchoHandler(),
                Clock(),
                **bad,
            )

    def test_idleConnectionClosed(self) -> None:
        """
        A connection that sends nothing for the idle timeout while nothing
        is outstanding is sent TERM C{ETIMEDOUT} and closed.
        """
        server = ServerHarness(EchoHandler())
        protocol, transport, decoder = server.connect(uid=1001)
        received(transport, decoder)
        server.clock.advance(DEFAULT_IDLE_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        server.clock.advance(1)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(
            (term.messageType, term.returnCode, term.reasonCode),
            (T.TERM, ReturnCode.ETIMEDOUT, R.NONE),
        )
        self.assertEqual(
            term.lines(), ("idle for 60 s with no request outstanding: closed",)
        )
        self.assertTrue(transport.disconnecting)
        self.assertEqual(
            server.observer.idle, [(NmiCaller(100, 1001, 1000), DEFAULT_IDLE_TIMEOUT)]
        )
        protocol.connectionLost()
        self.assertEqual(server.clock.getDelayedCalls(), [])

    def test_activityRestartsIdleTimer(self) -> None:
        """
        Each request starts the idle period again once it is answered; a
        request outstanding for longer than the timeout does not count as
        idle, nor does a message arriving in pieces (the message deadline
        watches that).
        """
        handler = RecordingHandler()
        server = ServerHarness(handler, idleTimeout=10.0, messageDeadline=30.0)
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        server.clock.advance(9)
        protocol.dataReceived(request(correlator=1))
        server.clock.advance(25)
        self.assertFalse(transport.disconnecting)
        handler.waiting[0].callback(handler.requests[0].answer([text_record([])]))
        server.clock.advance(9)
        protocol.dataReceived(request()[:10])
        server.clock.advance(20)
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(request()[10:])
        handler.waiting[1].callback(handler.requests[1].answer([text_record([])]))
        received(transport, decoder)
        server.clock.advance(9.5)
        self.assertFalse(transport.disconnecting)
        server.clock.advance(0.5)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual(term.returnCode, ReturnCode.ETIMEDOUT)

    def test_idleTimeoutChangesAndOff(self) -> None:
        """
        A new timeout applies from the next idle period; 0 means never.
        """
        server = ServerHarness(EchoHandler(), idleTimeout=0)
        protocol, transport, _ = server.connect()
        server.clock.advance(86400)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(server.clock.getDelayedCalls(), [])
        server.factory.idleTimeout = 5
        protocol.dataReceived(request())
        server.clock.advance(5)
        self.assertTrue(transport.disconnecting)

    def test_termNotReadIsAborted(self) -> None:
        """
        A client that does not read its TERM cannot keep the connection,
        and its slot: after the message deadline it is aborted.
        """
        server = ServerHarness(EchoHandler(), idleTimeout=5, messageDeadline=30)
        protocol, transport, _ = server.connect()
        server.clock.advance(5)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.disconnected)
        server.clock.advance(30)
        self.assertTrue(transport.disconnected)
        protocol.connectionLost()
        self.assertEqual(server.factory.connections, set())
        self.assertEqual(server.clock.getDelayedCalls(), [])

    def test_shutdownTerminatesAll(self) -> None:
        server = ServerHarness(RecordingHandler())
        connections = [server.connect() for _ in range(3)]
        connections[0][0].dataReceived(request())
        done = server.factory.terminateAll()
        for _protocol, transport, decoder in connections:
            messages = received(transport, decoder)
            term = messages[-1]
            assert isinstance(term, NmiMessage)
            self.assertEqual(
                (term.messageType, term.returnCode, term.reasonCode),
                (T.TERM, ReturnCode.EBUSY, R.NSSRsnShutdown),
            )
            self.assertTrue(transport.disconnecting)
        self.assertNoResult(done)
        for protocol, _, _ in connections:
            protocol.connectionLost()
        self.successResultOf(done)
        self.assertEqual(server.factory.connections, set())
        # A late answer to a request of a closed connection goes nowhere.
        server.factory.handler.waiting[0].callback(  # type: ignore[attr-defined]
            server.factory.handler.requests[0].answer([text_record([])])  # type: ignore[attr-defined]
        )
        self.assertEqual(connections[0][1].value(), b"")
        self.successResultOf(server.factory.terminateAll())
        self.successResultOf(connections[0][0].whenLost())

    def test_handlerFailure(self) -> None:
        class Failing:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                return fail(RuntimeError("disk on fire"))

        server = ServerHarness(Failing())
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(request(correlator=3))
        (reply,) = received(transport, decoder)
        assert isinstance(reply, NmiMessage)
        self.assertEqual(
            (reply.correlator, reply.returnCode, reply.reasonCode),
            (3, ReturnCode.EIO, R.NSSRsnServerError),
        )
        self.assertIn("disk on fire", reply.lines()[0])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_handlerRaises(self) -> None:
        class Raising:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                raise KeyError("x")

        server = ServerHarness(Raising())
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(request())
        (reply,) = received(transport, decoder)
        assert isinstance(reply, NmiMessage)
        self.assertEqual(reply.reasonCode, R.NSSRsnServerError)
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)

    def test_unsendableReply(self) -> None:
        """
        A reply that breaks the rules (no text record in a display reply,
        or not a message at all) is the handler's failure.
        """
        handler = RecordingHandler()
        server = ServerHarness(handler)
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(request(correlator=1) + request(correlator=2))
        handler.waiting[0].callback(handler.requests[0].answer())
        handler.waiting[1].callback("not a message")  # type: ignore[arg-type]
        replies = received(transport, decoder)
        self.assertEqual(
            [(r.correlator, r.reasonCode) for r in replies],
            [(1, R.NSSRsnServerError), (2, R.NSSRsnServerError)],
        )
        self.assertEqual(len(self.flushLoggedErrors(ValueError, TypeError)), 2)

    def test_serverMessagesFromClientIgnored(self) -> None:
        """
        Replies, INIT and TERM are never answered, whoever sends them.
        """
        handler = RecordingHandler()
        server = ServerHarness(handler)
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(
            encode_message(NmiMessage(T.GET_SUMMARY, 1).answer())
            + encode_message(init_message())
            + encode_message(term_message())
            + request(correlator=2)
        )
        self.assertEqual(transport.value(), b"")
        self.assertEqual([r.correlator for r in handler.requests], [2])
        self.assertEqual(server.observer.events.count(("bad", protocol.connId)), 3)

    def test_outstandingLimit(self) -> None:
        handler = RecordingHandler()
        server = ServerHarness(handler, maxOutstanding=2)
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        protocol.dataReceived(b"".join(request(correlator=n) for n in (1, 2, 3)))
        (busy,) = received(transport, decoder)
        assert isinstance(busy, NmiMessage)
        self.assertEqual(
            (busy.correlator, busy.returnCode, busy.reasonCode),
            (3, ReturnCode.EBUSY, R.NSSRsnTooManyRequests),
        )
        handler.waiting[0].callback(handler.requests[0].answer([text_record([])]))
        protocol.dataReceived(request(correlator=4))
        self.assertEqual([r.correlator for r in handler.requests], [1, 2, 4])

    def test_partialMessageDeadline(self) -> None:
        server = ServerHarness(EchoHandler(), messageDeadline=5.0)
        protocol, transport, decoder = server.connect()
        received(transport, decoder)
        data = request()
        protocol.dataReceived(data[:10])
        server.clock.advance(4)
        protocol.dataReceived(data[10:])
        self.assertEqual(len(received(transport, decoder)), 1)
        server.clock.advance(10)
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(data[:10])
        server.clock.advance(5)
        (term,) = received(transport, decoder)
        assert isinstance(term, NmiMessage)
        self.assertEqual((term.messageType, term.reasonCode), (T.TERM, R.NMsRsnMsgSize))
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost()
        self.assertEqual(server.clock.getDelayedCalls(), [])

    def test_connectionLostCancelsDeadline(self) -> None:
        server = ServerHarness(EchoHandler())
        protocol, _, _ = server.connect()
        protocol.dataReceived(request()[:3])
        protocol.connectionLost()
        self.assertEqual(server.clock.getDelayedCalls(), [])

    def test_smallMaximumDropsText(self) -> None:
        """
        A TERM whose text would exceed a tiny maximum goes out without it.
        """
        server = ServerHarness(EchoHandler(), maxMessageSize=64)
        protocol, transport, decoder = server.connect()
        protocol.dataReceived(b"bad")
        messages = received(transport, decoder)
        self.assertEqual(
            messages[-1], term_message(ReturnCode.EINVAL, R.NMsRsnBadIdent)
        )

    def test_endpoint(self) -> None:
        endpoint = nmi_server_endpoint(object(), "/var/sock/nss")
        self.assertEqual(endpoint.unix._address, "/var/sock/nss")
        self.assertEqual(endpoint.unix._mode, SOCKET_MODE)
        self.assertTrue(endpoint.unix._wantPID)
        self.assertEqual((endpoint.mode, endpoint.group), (SOCKET_MODE, None))


def connectedPair(
    handler: object, **kwargs: object
) -> tuple[NmiClientProtocol, NmiServerProtocol, IOPump, NmiServerFactory]:
    factory = NmiServerFactory(handler, Clock(), **kwargs)  # type: ignore[arg-type]
    client, server, pump = connectedServerAndClient(
        lambda: factory.buildProtocol(None),
        lambda: NmiClientFactory().buildProtocol(None),
        greet=False,
    )
    pump.flush()
    return client, server, pump, factory


class ClientTests(SynchronousTestCase):
    """
    L{NmiClientProtocol} against the server over L{iosim}.
    """

    def test_readyAndRequest(self) -> None:
        client, _, pump, _ = connectedPair(EchoHandler())
        self.assertEqual(self.successResultOf(client.ready), 1)
        first = client.request(T.DAEMON_DISPLAY)
        second = client.request(T.DAEMON_REFRESH, target="C1")
        pump.flush()
        self.assertEqual(self.successResultOf(first).lines(), ("NMsec_DAEMON_DISPLAY",))
        reply = self.successResultOf(second)
        self.assertEqual(
            (reply.lines(), reply.target), (("NMsec_DAEMON_REFRESH",), "C1")
        )

    def test_repliesOutOfOrder(self) -> None:
        handler = RecordingHandler()
        client, _, pump, _ = connectedPair(handler)
        first = client.request(T.DAEMON_DISPLAY)
        second = client.request(T.DAEMON_DISPLAY)
        pump.flush()
        for waiting, text in zip(reversed(handler.waiting), ["b", "a"], strict=True):
            waiting.callback(NmiMessage(T.DAEMON_DISPLAY).answer([text_record([text])]))
        pump.flush()
        self.assertEqual(self.successResultOf(first).lines(), ("a",))
        self.assertEqual(self.successResultOf(second).lines(), ("b",))

    def test_errorReply(self) -> None:
        management = NssdManagement(lambda: [], lambda: succeed([]))
        client, _, pump, _ = connectedPair(management)
        answer = client.request(T.GET_STACKINFO)
        pump.flush()
        error = self.failureResultOf(answer, NmiRequestFailed).value
        self.assertEqual(
            (error.returnCode, error.reasonCode), (ReturnCode.EOPNOTSUPP, R.NONE)
        )
        self.assertIn("iked", error.lines[0])
        self.assertIn("EOPNOTSUPP NONE", str(error))

    def test_refusedConnection(self) -> None:
        """
        A client beyond the limit sees its ready Deferred fail with the
        TERM's codes.
        """
        factory = NmiServerFactory(EchoHandler(), Clock(), maxConnections=1)
        first, _, firstPump = connectedServerAndClient(
            lambda: factory.buildProtocol(None), NmiClientProtocol, greet=False
        )
        firstPump.flush()
        client, _, pump = connectedServerAndClient(
            lambda: factory.buildProtocol(None), NmiClientProtocol, greet=False
        )
        pump.flush()
        error = self.failureResultOf(client.ready, NmiTerminated).value
        self.assertEqual(
            (error.returnCode, error.reasonCode),
            (ReturnCode.EBUSY, R.NSSRsnTooManyRequests),
        )
        term = self.successResultOf(client.terminated)
        assert term is not None
        self.assertEqual(term.messageType, T.TERM)
        self.successResultOf(first.ready)

    def test_termFailsOutstanding(self) -> None:
        client, _, pump, factory = connectedPair(RecordingHandler())
        answer = client.request(T.DAEMON_REFRESH)
        pump.flush()
        done = factory.terminateAll()
        pump.flush()
        error = self.failureResultOf(answer, NmiTerminated).value
        self.assertEqual(error.reasonCode, R.NSSRsnShutdown)
        self.successResultOf(done)
        self.assertIsNotNone(self.successResultOf(client.terminated))

    def test_connectionLostFailsOutstanding(self) -> None:
        client, server, pump, _ = connectedPair(RecordingHandler())
        answer = client.request(T.DAEMON_REFRESH)
        pump.flush()
        server.transport.loseConnection()  # type: ignore[union-attr]
        pump.flush()
        self.failureResultOf(answer, NmiConnectionLost)
        self.assertIsNone(self.successResultOf(client.terminated))

    def test_lostBeforeInit(self) -> None:
        client = NmiClientProtocol()
        client.makeConnection(StringTransport())
        client.connectionLost()
        self.failureResultOf(client.ready, NmiConnectionLost)

    def test_requestBeforeInit(self) -> None:
        client = NmiClientProtocol()
        client.makeConnection(StringTransport())
        self.failureResultOf(client.request(T.DAEMON_DISPLAY), ValueError)

    def test_unencodableRequest(self) -> None:
        client = NmiClientProtocol()
        client.makeConnection(StringTransport())
        client.dataReceived(encode_message(init_message()))
        self.failureResultOf(
            client.request(T.DAEMON_DISPLAY, target="not valid"), ValueError
        )

    def test_cancelForgets(self) -> None:
        handler = RecordingHandler()
        client, _, pump, _ = connectedPair(handler)
        answer = client.request(T.DAEMON_DISPLAY)
        pump.flush()
        answer.cancel()
        self.failureResultOf(answer)
        handler.waiting[0].callback(handler.requests[0].answer([text_record([])]))
        pump.flush()  # the late reply is dropped without error

    def test_correlatorsSkipOutstanding(self) -> None:
        client = NmiClientProtocol()
        transport = StringTransport()
        client.makeConnection(transport)
        client.dataReceived(encode_message(init_message()))
        client._next = 0xFFFFFFFE
        client.request(T.DAEMON_DISPLAY)
        client._next = 0xFFFFFFFD
        client.request(T.DAEMON_DISPLAY)
        client.request(T.DAEMON_DISPLAY)
        messages = NmiDecoder().feed(transport.value())
        self.assertEqual(
            [m.correlator for m in messages],
            [0xFFFFFFFF, 0xFFFFFFFE, 0],
        )

    def test_badReplyFailsItsRequest(self) -> None:
        client = NmiClientProtocol()
        transport = StringTransport()
        client.makeConnection(transport)
        client.dataReceived(encode_message(init_message()))
        first = client.request(T.DAEMON_DISPLAY)
        second = client.request(T.DAEMON_DISPLAY)
        client.dataReceived(rawMessage(flags=1, correlator=1))
        error = self.failureResultOf(first, NmiRequestFailed).value
        self.assertEqual(error.reasonCode, R.NSSRsnMissingField)
        self.assertNoResult(second)
        client.dataReceived(b"junk")
        self.failureResultOf(second, NmiRequestFailed)
        self.assertTrue(transport.disconnecting)

    def test_strayMessagesIgnored(self) -> None:
        """
        A second INIT, a request from the server and a reply nobody waits
        for change nothing.
        """
        client = NmiClientProtocol()
        transport = StringTransport()
        client.makeConnection(transport)
        client.dataReceived(encode_message(init_message(2)))
        client.dataReceived(
            encode_message(init_message(5))
            + request()
            + encode_message(NmiMessage(T.DAEMON_DISPLAY, 77).answer([text_record([])]))
        )
        self.assertEqual(client.serverVersion, 2)
        self.assertFalse(transport.disconnecting)


class PeerCredentialTests(TestCase):
    """
    The limits over a real AF_UNIX socket, with the kernel's word
    (SO_PEERCRED) on who connected: another uid, a member of the socket's
    group, holds idle connections while an operator still gets in.
    """

    timeout = 60

    def setUp(self) -> None:
        skip_unless_root(self)
        folder = tempfile.mkdtemp(prefix="nmi-", dir="/tmp")
        self.addCleanup(shutil.rmtree, folder, True)
        # The socket's group may pass, as /var/sock lets operators pass.
        os.chmod(folder, 0o750)  # noqa: S103
        self.path = os.path.join(folder, "nmi")

    async def serve(self, **kwargs: object) -> NmiServerFactory:
        factory = NmiServerFactory(EchoHandler(), reactor, **kwargs)  # type: ignore[arg-type]
        port = await nmi_server_endpoint(reactor, self.path).listen(factory)
        self.addCleanup(factory.terminateAll)
        self.addCleanup(port.stopListening)
        return factory

    def test_otherUserCannotLockOutOperator(self) -> Deferred[None]:
        async def go() -> None:
            # No reserve: the per-user limit alone lets the operator in.
            factory = await self.serve(privilegedUids=())
            greetings = await hold_nmi_connections(
                self, self.path, DEFAULT_MAX_CONNECTIONS
            )
            kept = DEFAULT_MAX_CONNECTIONS_PER_USER
            self.assertEqual(
                greetings,
                [(T.INIT, 0, 0)] * kept
                + [(T.TERM, ReturnCode.EBUSY, R.NSSRsnTooManyRequests)]
                * (DEFAULT_MAX_CONNECTIONS - kept),
            )
            self.assertEqual(
                sorted(p.caller.uid for p in factory.connections if p.caller),
                [NOBODY] * kept,
            )
            client = await UNIXClientEndpoint(reactor, self.path).connect(
                NmiClientFactory()
            )
            await client.ready
            reply = await client.request(T.DAEMON_DISPLAY)
            self.assertEqual(reply.lines(), ("NMsec_DAEMON_DISPLAY",))
            operator = [
                p.caller
                for p in factory.connections
                if p.caller is not None and p.caller.uid != NOBODY
            ]
            self.assertEqual(
                [(c.uid, c.pid) for c in operator], [(os.geteuid(), os.getpid())]
            )
            client.close()

        return ensureDeferred(go())


class SocketAccessTests(TestCase):
    """
    The group and mode a daemon gives its management socket: set before
    the endpoint reports it listening, or the listening ends.
    """

    def setUp(self) -> None:
        folder = tempfile.mkdtemp(prefix="nmi-", dir="/tmp")
        self.addCleanup(shutil.rmtree, folder, True)
        self.path = os.path.join(folder, "nmi")

    async def listen(self, **access: Any) -> IListeningPort:
        factory = NmiServerFactory(EchoHandler(), reactor)
        port = await nmi_server_endpoint(reactor, self.path, **access).listen(factory)
        self.addCleanup(port.stopListening)
        return port

    async def test_change(self) -> None:
        """
        A refresh's change applies to the socket served; no change, or no
        socket, does nothing.
        """
        port = await self.listen(mode=0o600)
        group = grp.getgrgid(os.getegid()).gr_name
        self.assertIsNone(change_socket_access(port, (None, 0o600), (None, 0o600)))
        self.assertIsNone(change_socket_access(None, (None, 0o600), (group, 0o660)))
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertEqual(
            change_socket_access(port, (None, 0o600), (group, 0o660)),
            (self.path, describe_socket_access(self.path)),
        )
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o660)

    async def test_groupAndMode(self) -> None:
        """
        The socket gets the group, by name or number, and the mode.
        """
        group = grp.getgrgid(os.getegid())
        await self.listen(group=group.gr_name, mode=0o600)
        info = os.stat(self.path)
        self.assertEqual(
            (info.st_gid, stat.S_IMODE(info.st_mode)), (group.gr_gid, 0o600)
        )
        self.assertEqual(
            describe_socket_access(self.path),
            f"owner {pwd.getpwuid(os.geteuid()).pw_name}, group {group.gr_name},"
            " mode 0600",
        )
        set_socket_access(self.path, 0o660, str(group.gr_gid))
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o660)

    async def test_unknownGroup(self) -> None:
        """
        A group that does not exist fails the listening, which ends: the
        path is free for the next try.
        """
        with self.assertRaises(NmiSocketAccessError) as failed:
            await self.listen(group="no-such-group-here")
        self.assertEqual(
            str(failed.exception),
            f"cannot give the management socket {self.path} group "
            "no-such-group-here and mode 0660: the group does not exist",
        )
        await self.listen()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), SOCKET_MODE)

    def test_notASocket(self) -> None:
        """
        A file in the socket's place is not handed to the group.
        """
        Path(self.path).write_text("")
        os.chmod(self.path, 0o600)
        with self.assertRaises(NmiSocketAccessError) as failed:
            set_socket_access(self.path, 0o660, os.getegid())
        self.assertIn("it is not a socket", str(failed.exception))
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)


def documentedCodes(heading: str) -> set[str]:
    """The code names in the table under C{heading} in the specification."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return set(re.findall(r"^\| \d+ \| `(\w+)` \|", section, re.MULTILINE))


class DocumentedCodesTests(SynchronousTestCase):
    """
    Every code the specification lists for the NMI can occur, and every
    code the NMI produces is listed.
    """

    def test_reasonCodes(self) -> None:
        seen = {reason.name for _, reason in NON_FATAL.values()}
        seen |= {
            R.NONE.name,  # EOPNOTSUPP from NssdManagement, and OK
            R.NMsRsnBadIdent.name,
            R.NMsRsnExcessiveSize.name,
            R.NSSRsnServerError.name,  # test_handlerFailure
            R.NSSRsnShutdown.name,  # test_shutdownTerminatesAll
            R.NSSRsnTooManyRequests.name,  # test_tooManyConnections
        }
        self.assertEqual(documentedCodes("### 9.2 Reason codes"), seen)

    def test_returnCodes(self) -> None:
        # ETIMEDOUT: test_idleConnectionClosed.
        seen = {"OK", "EBUSY", "EINVAL", "EIO", "EOPNOTSUPP", "ETIMEDOUT"}
        # ENXIO arrives with nssd's routing; it is documented for it now.
        self.assertEqual(documentedCodes("### 9.1 Return codes"), seen | {"ENXIO"})

    def test_documentedCodesExist(self) -> None:
        for name in documentedCodes("### 9.2 Reason codes"):
            self.assertIn(name, R.__members__)
        for name in documentedCodes("### 9.1 Return codes"):
            self.assertIn(name, ReturnCode.__members__)
