"""
Tests for L{nsstwisted.client.connection}: the client keeps the protocol's
rules (docs/protocol.md sections 5, 6 and 7.3) against a server that breaks
them.  The server is scripted frame by frame over real TLS, with nssd's own
TLS identity from the example job, so that it can send what no nssd sends.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from nsstwisted.client import (
    NssSession,
    PasswordCredentials,
    connect,
    tls_endpoint,
)
from nsstwisted.nssd.tls import ServerContextFactory, server_context
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.keyring import KeyRingStore
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import (
    CaListReply,
    CaListRequest,
    Disconnect,
    HeartbeatReply,
    HeartbeatRequest,
    LogonReply,
    LogonRequest,
    MessageType,
    NetMgmtRequest,
    NssDecoder,
    NssFrame,
    NssMessage,
    Refusal,
    Services,
    SignatureSchemeCode,
    SignReply,
    SignRequest,
    encode_frame,
)
from tests.daemons import (
    CLIENT1_PASSWORD,
    LOOPBACK,
    build_security,
    capture_messages,
)


class ScriptedServer(Protocol):
    """
    The server end of one connection: it decodes what the client sends and
    sends whatever the test says.
    """

    def __init__(self) -> None:
        self.decoder = NssDecoder()
        self.frames: list[Any] = []
        self.closed: Deferred[None] = Deferred()
        self._waiting: list[Deferred[None]] = []

    def dataReceived(self, data: bytes) -> None:
        self.frames.extend(self.decoder.feed(data))
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)
        for d in self._waiting:
            d.callback(None)

    async def frame(self) -> Any:
        while not self.frames:
            if self.closed.called:
                raise AssertionError("closed without a frame")
            waiter: Deferred[None] = Deferred()
            self._waiting.append(waiter)
            await waiter
        return self.frames.pop(0)

    def send(self, requestId: int, message: NssMessage, **codes: Any) -> None:
        assert self.transport is not None
        self.transport.write(encode_frame(NssFrame(requestId, message, **codes)))


class RuleBreakingServerTests(TestCase):
    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        database = SecurityDatabase.open(self.setup.database, self.setup.stash)
        self.addCleanup(database.close)
        context, _ = server_context(KeyRingStore(database), "NSSD", "TLSRING", None)
        self.servers: list[ScriptedServer] = []

        def build() -> ScriptedServer:
            server = ScriptedServer()
            self.servers.append(server)
            return server

        listening = reactor.listenSSL(  # type: ignore[attr-defined]
            0,
            Factory.forProtocol(build),
            ServerContextFactory(context),
            interface="127.0.0.1",
        )
        self.addCleanup(listening.stopListening)
        self.port: int = listening.getHost().port

    async def logged_on(self) -> tuple[NssSession, ScriptedServer]:
        """
        A client logged on to the scripted server with both services; its
        network management requests are never answered.
        """
        session = ensureDeferred(
            connect(
                reactor,
                tls_endpoint(
                    TCP4ClientEndpoint(reactor, "127.0.0.1", self.port),
                    [self.setup.caPem],
                ),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT | Services.NETMGMT,
                netMgmt=lambda nmi: Deferred(),
            )
        )
        while not self.servers:
            await deferLater(reactor, 0.01, lambda: None)
        server = self.servers[0]
        logon = await server.frame()
        self.assertIsInstance(logon.message, LogonRequest)
        server.send(
            logon.requestId,
            LogonReply(
                servicesGranted=Services.CERT | Services.NETMGMT,
                apiVersion=1,
                serverSystemName="SCRIPTED",
            ),
        )
        connected: NssSession = await session
        self.addCleanup(lambda: connected.close())
        return connected, server

    def logged(self, text: str) -> list[str]:
        return [m for m in self.messages if text in m]

    def test_unsolicitedRepliesDropped(self) -> Deferred[None]:
        """
        Replies to nothing, and a reply whose type is not that of the
        request with its ID, are dropped and logged; the request still gets
        its own reply.
        """

        async def go() -> None:
            session, server = await self.logged_on()
            server.send(99, HeartbeatReply())
            server.send(98, SignReply(b"s", bytes.fromhex("3008a003020102020101")))
            server.send(100, HeartbeatRequest())
            answer = await server.frame()
            self.assertEqual(
                (answer.requestId, answer.message), (100, HeartbeatReply())
            )
            listed = session.caCertificates()
            request = await server.frame()
            self.assertIsInstance(request.message, CaListRequest)
            server.send(request.requestId, HeartbeatReply())
            server.send(request.requestId, CaListReply(()))
            self.assertEqual(await listed, [])
            self.assertEqual(len(self.logged("which is not outstanding")), 3)
            self.assertEqual(server.frames, [])

        return ensureDeferred(go())

    def test_clientRequestFromServerRefused(self) -> Deferred[None]:
        """
        A request only clients send is refused with EINVAL NMsRsnBadType,
        and the connection goes on.
        """

        async def go() -> None:
            _, server = await self.logged_on()
            server.send(
                5,
                SignRequest(
                    label="x",
                    identity=None,
                    scheme=SignatureSchemeCode.ECDSA_SHA256,
                    digest=None,
                    data=b"",
                ),
            )
            answer = await server.frame()
            self.assertEqual(answer.requestId, 5)
            self.assertEqual(answer.message, Refusal(MessageType.SIGN))
            self.assertEqual(
                (answer.returnCode, answer.reasonCode),
                (ReturnCode.EINVAL, ReasonCode.NMsRsnBadType),
            )
            self.assertEqual(
                answer.text, "SIGN requests are sent by clients, not to them"
            )
            server.send(6, HeartbeatRequest())
            self.assertEqual((await server.frame()).message, HeartbeatReply())

        return ensureDeferred(go())

    def test_requestIdInUse(self) -> Deferred[None]:
        """
        A NETMGMT request that reuses the ID of one the client has not
        answered yet ends the connection with DISCONNECT EINVAL
        NSSRsnRequestIdInUse, and the session ends saying why.
        """

        async def go() -> None:
            session, server = await self.logged_on()
            server.send(77, NetMgmtRequest(b"nmi"))
            server.send(77, NetMgmtRequest(b"nmi"))
            answer = await server.frame()
            self.assertIsInstance(answer.message, Disconnect)
            self.assertEqual(
                (answer.returnCode, answer.reasonCode),
                (ReturnCode.EINVAL, ReasonCode.NSSRsnRequestIdInUse),
            )
            reason = await session.whenClosed()
            self.assertIn("NSSRsnRequestIdInUse", reason)
            self.assertIn("request ID 77", reason)
            await server.closed

        return ensureDeferred(go())
