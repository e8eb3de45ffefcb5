"""
nssd against bad input over real TLS: garbage, oversized and truncated
frames, a trickling peer, requests before logon, large frames before logon,
floods of connections, a logon flood, and a client vanishing with requests
in flight.  Each time the offender gets a defined answer and other clients
go on being served.
"""

from __future__ import annotations

import struct
import threading
import weakref
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IHandshakeListener, IStreamClientEndpoint
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import LoopingCall, deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from nsstwisted.client import (
    NssRequestFailed,
    NssSession,
    PassTicketCredentials,
    PasswordCredentials,
    connect,
    tls_endpoint,
)
from nsstwisted.nssd.service import NSSDService
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import (
    MAX_PRELOGON_MESSAGE_SIZE,
    MAX_TEXT_BYTES,
    NSS_API_VERSION,
    CaListReply,
    CaListRequest,
    Disconnect,
    HeartbeatReply,
    HeartbeatRequest,
    Identity,
    IdentityKind,
    LogonReply,
    LogonRequest,
    MessageType,
    NetMgmtReply,
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
    SecuritySetup,
    build_security,
    capture_messages,
    client_endpoint,
    logon_client1,
    start_nssd,
    ticket_for,
    write_nssd_config,
)

HEADER = struct.Struct(">4sHHHHIIIII")


def header(
    *,
    ident: bytes = b"NSSP",
    length: int = 32,
    version: int = 1,
    messageType: int = 6,
    total: int = 32,
    requestId: int = 7,
) -> bytes:
    return HEADER.pack(
        ident, length, version, messageType, 0, total, requestId, 0, 0, 0
    )


@implementer(IHandshakeListener)
class RawClient(Protocol):
    """
    A TLS client that sends whatever the test says and decodes what comes
    back.

    @ivar secured: the TLS handshake completed.
    """

    def __init__(self) -> None:
        self.secured = False
        self.decoder = NssDecoder()
        self.frames: list[Any] = []
        self.received = b""
        self.closed: Deferred[None] = Deferred()
        self._waiting: list[Deferred[None]] = []

    def handshakeCompleted(self) -> None:
        self.secured = True

    def dataReceived(self, data: bytes) -> None:
        self.received += data
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

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


async def signs(endpoint: IStreamClientEndpoint) -> None:
    """
    A real client logs on as CLIENT1 through C{endpoint} and signs.
    """
    session: NssSession = await connect(
        reactor,
        endpoint,
        serverIdentity=LOOPBACK,
        clientName="CLIENT1",
        credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
        services=Services.CERT,
    )
    try:
        reply = await session.sign(
            label="Client1 cert",
            data=b"AUTH payload",
            scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
        )
        assert reply.signature
    finally:
        await session.close()


def endpoint_from(
    setup: SecuritySetup, port: int, source: str
) -> IStreamClientEndpoint:
    """
    A TLS endpoint to nssd on 127.0.0.1 from the loopback address
    C{source} (Linux routes all of 127/8 to the loopback), so that tests
    can connect from several addresses.
    """
    return tls_endpoint(
        TCP4ClientEndpoint(reactor, "127.0.0.1", port, bindAddress=(source, 0)),
        [setup.caPem],
    )


async def all_closed(service: NSSDService, within: float = 3.0, leave: int = 0) -> None:
    """
    Wait until nssd holds no more than C{leave} connections: a peer that
    broke the stream is no longer read, so nssd drops it at its close
    deadline (0.5 s here) rather than when the peer answers TLS's goodbye.
    """
    deadline = reactor.seconds() + within
    while service.admission.held > leave:
        if reactor.seconds() > deadline:
            raise AssertionError(f"nssd still holds {service.admission.held}")
        await deferLater(reactor, 0.05, lambda: None)


class BadInputTests(TestCase):
    def setUp(self) -> None:
        self.setup = build_security(self)
        self.service = start_nssd(
            self, self.setup, frameDeadline=1.0, setupDeadline=2.0, closeDeadline=0.5
        )
        assert self.service.port is not None
        self.portNumber = self.service.port.getHost().port  # type: ignore[attr-defined]

    async def raw(self) -> RawClient:
        client = RawClient()
        await connectProtocol(client_endpoint(self.setup, self.portNumber), client)
        return client

    async def still_serving(self) -> None:
        session = await logon_client1(self.setup, self.portNumber)
        try:
            await session.caCertificates()
        finally:
            await session.close()

    async def fatal(self, data: bytes, reason: ReasonCode) -> None:
        client = await self.raw()
        client.send(data)
        frame = await client.frame()
        self.assertIsInstance(frame.message, Disconnect)
        self.assertEqual(
            (frame.returnCode, frame.reasonCode), (ReturnCode.EINVAL, reason)
        )
        await client.closed
        await self.still_serving()
        await all_closed(self.service)

    def test_garbage(self) -> Deferred[None]:
        return ensureDeferred(
            self.fatal(b"GET / HTTP/1.1\r\n\r\n", ReasonCode.NMsRsnBadIdent)
        )

    def test_oversized(self) -> Deferred[None]:
        return ensureDeferred(
            self.fatal(header(total=64 * 1024 * 1024), ReasonCode.NMsRsnExcessiveSize)
        )

    def test_oversizedBeforeLogon(self) -> Deferred[None]:
        """
        Before logon a frame may be at most as large as the largest LOGON,
        HEARTBEAT or DISCONNECT (1068 bytes): one byte more is refused from
        its header alone, with a DISCONNECT, and the connection closed,
        without waiting for (or buffering) the rest.
        """
        return ensureDeferred(
            self.fatal(
                header(messageType=1, total=MAX_PRELOGON_MESSAGE_SIZE + 1),
                ReasonCode.NMsRsnExcessiveSize,
            )
        )

    def test_largestFramesBeforeLogon(self) -> Deferred[None]:
        """
        The largest valid frames are accepted before logon: a HEARTBEAT
        with the longest ERROR_TEXT is answered, and a LOGON of the largest
        size (here with a wrong 256-byte password) gets its logon answer.
        """

        async def go() -> None:
            text = "t" * MAX_TEXT_BYTES
            client = await self.raw()
            client.send(encode_frame(NssFrame(3, HeartbeatRequest(), text=text)))
            self.assertIsInstance((await client.frame()).message, HeartbeatReply)
            logon = encode_frame(
                NssFrame(
                    4,
                    LogonRequest(
                        clientName="C" * 24,
                        userid="NOSUCHU1",
                        password="p" * 256,
                        passTicket=None,
                        apiVersion=NSS_API_VERSION,
                        services=Services.CERT,
                        systemName="S" * 8,
                        stackName="T" * 8,
                    ),
                    text=text,
                )
            )
            self.assertEqual(len(logon), 904)
            client.send(logon)
            frame = await client.frame()
            self.assertEqual(
                (frame.returnCode, frame.reasonCode),
                (ReturnCode.EACCES, ReasonCode.NSSRsnUserAuthentication),
            )
            await client.closed

        return ensureDeferred(go())

    def test_largeFrameAfterLogon(self) -> Deferred[None]:
        """
        Once logged on, a client may send frames up to the full maximum
        message size again: a SIGN of 512 KiB of data is signed.
        """

        async def go() -> None:
            session = await connect(
                reactor,
                client_endpoint(self.setup, self.portNumber),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )
            try:
                reply = await session.sign(
                    label="Client1 cert",
                    data=b"x" * (512 * 1024),
                    scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
                )
                self.assertTrue(reply.signature)
            finally:
                await session.close()

        return ensureDeferred(go())

    def test_floodOfLargeFramesBeforeLogon(self) -> Deferred[None]:
        """
        Many connections that each send the start of a 1 MiB frame and never
        log on are each refused at once (not when the frame deadline
        expires) and closed, and meanwhile a real client logs on and signs.
        """

        async def attack() -> RawClient:
            client = await self.raw()
            client.send(header(messageType=1, total=1 << 20) + b"p" * 65536)
            frame = await client.frame()
            self.assertIsInstance(frame.message, Disconnect)
            self.assertEqual(frame.reasonCode, ReasonCode.NMsRsnExcessiveSize)
            return client

        async def go() -> None:
            started = reactor.seconds()
            flood = gatherResults([Deferred.fromCoroutine(attack()) for _ in range(40)])
            await signs(client_endpoint(self.setup, self.portNumber))
            await flood
            # Refused well before the 1 s frame deadline could have closed
            # them, and dropped at the 0.5 s close deadline at the latest.
            await all_closed(self.service, within=3.0)
            self.assertLess(reactor.seconds() - started, 10.0)

        return ensureDeferred(go())

    def test_badHeaderLength(self) -> Deferred[None]:
        return ensureDeferred(self.fatal(header(length=16), ReasonCode.NMsRsnHdrSize))

    def test_unknownTypeKeepsConnection(self) -> Deferred[None]:
        async def go() -> None:
            client = await self.raw()
            client.send(header(messageType=99, requestId=41))
            await client.frame()
            # The refusal echoes type 99, which our own decoder does not
            # know either, so read its header directly.
            fields = HEADER.unpack(client.received[:32])
            self.assertEqual(fields[3], 99)
            self.assertEqual(fields[6], 41)
            self.assertEqual(
                (fields[7], fields[8]), (ReturnCode.EINVAL, ReasonCode.NMsRsnBadType)
            )
            client.send(encode_frame(NssFrame(42, HeartbeatRequest())))
            frame = await client.frame()
            self.assertIsInstance(frame.message, HeartbeatReply)
            client.transport.loseConnection()  # type: ignore[union-attr]
            await client.closed

        return ensureDeferred(go())

    def test_requestBeforeLogon(self) -> Deferred[None]:
        async def go() -> None:
            client = await self.raw()
            client.send(encode_frame(NssFrame(5, CaListRequest())))
            frame = await client.frame()
            self.assertIsInstance(frame.message, Refusal)
            self.assertEqual(
                (frame.returnCode, frame.reasonCode),
                (ReturnCode.EACCES, ReasonCode.NSSRsnNotLoggedOn),
            )
            client.transport.loseConnection()  # type: ignore[union-attr]
            await client.closed

        return ensureDeferred(go())

    def test_truncatedFrameTimesOut(self) -> Deferred[None]:
        async def go() -> None:
            client = await self.raw()
            client.send(header(total=100)[:20])
            await client.closed
            await self.still_serving()

        return ensureDeferred(go())

    def test_tricklingPeerIsClosed(self) -> Deferred[None]:
        """
        One byte every 0.2 s keeps the connection busy but never completes a
        frame: the frame deadline (1 s here) closes it.
        """

        async def go() -> None:
            client = await self.raw()
            data = iter(encode_frame(NssFrame(1, CaListRequest())) * 10)
            trickle = LoopingCall(lambda: client.send(bytes([next(data)])))
            trickle.start(0.2)
            await client.closed
            trickle.stop()
            await self.still_serving()

        return ensureDeferred(go())

    def test_noLogonTimesOut(self) -> Deferred[None]:
        async def go() -> None:
            client = await self.raw()
            await client.closed

        return ensureDeferred(go())

    def test_abandonedLogonsNotChecked(self) -> Deferred[None]:
        """
        A logon whose connection closes while its check waits in the logon
        pool's queue (a storm, a LogonTimeout) is not checked: three wrong
        passwords whose senders hung up before their turn do not revoke the
        user (REVOKE(3)), and the holder of the password then logs on.
        """
        release = threading.Event()

        async def go() -> None:
            pool = self.service.logonPool
            # Every logon thread busy: the next checks wait in the queue.
            busy = [pool.submit(release.wait, 10) for _ in range(pool.size)]
            try:
                for n in range(3):
                    client = await self.raw()
                    client.send(logon(1, password=f"wrong{n}"))
                    await deferLater(reactor, 0.05, lambda: None)
                    client.transport.abortConnection()  # type: ignore[union-attr]
                    await client.closed
                await deferLater(reactor, 0.1, lambda: None)
            finally:
                release.set()
            await gatherResults(busy)
            await deferLater(reactor, 0.2, lambda: None)
            await self.still_serving()

        return ensureDeferred(go())

    def test_logonFlood(self) -> Deferred[None]:
        """
        Wrong passwords revoke the user after three tries; the server keeps
        answering, and other users are unaffected.
        """

        async def attempt(password: str) -> ReasonCode:
            try:
                session = await connect(
                    reactor,
                    client_endpoint(self.setup, self.portNumber),
                    serverIdentity=LOOPBACK,
                    clientName="CLIENT1",
                    credentials=PasswordCredentials("CLIENT1", password),
                    services=Services.CERT,
                )
            except NssRequestFailed as e:
                return e.reasonCode
            await session.close()
            return ReasonCode.NONE

        async def go() -> None:
            outcomes = [await attempt(f"wrong{n}") for n in range(5)]
            # Revoked on the third; a guesser is not told so, only the holder
            # of the password is.
            self.assertEqual(outcomes, [ReasonCode.NSSRsnUserAuthentication] * 5)
            self.assertEqual(
                await attempt(CLIENT1_PASSWORD), ReasonCode.NSSRsnUserRevoked
            )

        return ensureDeferred(go())

    async def refusal(self, userid: str, credentials: Any) -> ReasonCode:
        try:
            session = await connect(
                reactor,
                client_endpoint(self.setup, self.portNumber),
                serverIdentity=LOOPBACK,
                clientName=userid,
                credentials=credentials,
                services=Services.CERT,
            )
        except NssRequestFailed as e:
            return e.reasonCode
        await session.close()
        return ReasonCode.NONE

    def test_protectedUserNotRevokedByOutsiders(self) -> Deferred[None]:
        """
        Password logons of a protected user (CLIENT2, NOPASSWORD) are refused
        and do not count toward REVOKE: CLIENT2 still logs on with a
        PassTicket afterwards (issue 22, item 3).
        """

        async def go() -> None:
            for n in range(5):
                reason = await self.refusal(
                    "CLIENT2", PasswordCredentials("CLIENT2", f"guess{n}")
                )
                self.assertEqual(reason, ReasonCode.NSSRsnUserAuthentication)
            reason = await self.refusal(
                "CLIENT2",
                PassTicketCredentials("CLIENT2", lambda: ticket_for("CLIENT2")),
            )
            self.assertEqual(reason, ReasonCode.NONE)

        return ensureDeferred(go())

    def test_answersDoNotTellWhichUsersExist(self) -> Deferred[None]:
        """
        A wrong PassTicket, and a wrong password, get the same answer for a
        defined user as for an unknown one (issue 22, item 6).
        """

        async def go() -> None:
            answers = {}
            for userid in ["CLIENT1", "CLIENT2", "NOBODY"]:
                answers[userid] = (
                    await self.refusal(
                        userid, PassTicketCredentials(userid, lambda: "AAAAAAAA")
                    ),
                    await self.refusal(userid, PasswordCredentials(userid, "guess")),
                )
            self.assertEqual(
                set(answers.values()),
                {
                    (
                        ReasonCode.NSSRsnPassTicketExpired,
                        ReasonCode.NSSRsnUserAuthentication,
                    )
                },
                answers,
            )

        return ensureDeferred(go())

    def test_clientVanishesWithRequestsInFlight(self) -> Deferred[None]:
        async def go() -> None:
            client = await self.raw()
            client.send(
                encode_frame(
                    NssFrame(
                        1,
                        LogonRequest(
                            clientName="CLIENT1",
                            userid="CLIENT1",
                            password=CLIENT1_PASSWORD,
                            passTicket=None,
                            apiVersion=NSS_API_VERSION,
                            services=Services.CERT,
                        ),
                    )
                )
            )
            frame = await client.frame()
            self.assertEqual(frame.returnCode, ReturnCode.OK)
            for n in range(2, 30):
                client.send(
                    encode_frame(
                        NssFrame(
                            n,
                            SignRequest(
                                label="Client1 cert",
                                identity=None,
                                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
                                digest=None,
                                data=b"x" * 100,
                            ),
                        )
                    )
                )
            client.transport.abortConnection()  # type: ignore[union-attr]
            await client.closed
            # Let the pool finish the orphaned signatures.
            await deferLater(reactor, 0.5, lambda: None)
            await self.still_serving()

        return ensureDeferred(go())


def frame(requestId: int, message: NssMessage, **codes: Any) -> bytes:
    return encode_frame(NssFrame(requestId, message, **codes))


def logon(requestId: int, password: str = CLIENT1_PASSWORD) -> bytes:
    return frame(
        requestId,
        LogonRequest(
            clientName="CLIENT1",
            userid="CLIENT1",
            password=password,
            passTicket=None,
            apiVersion=NSS_API_VERSION,
            services=Services.CERT,
        ),
    )


def sign(requestId: int, **selector: Any) -> bytes:
    return frame(
        requestId,
        SignRequest(
            label=selector.get("label"),
            identity=selector.get("identity"),
            scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            digest=None,
            data=b"AUTH payload",
        ),
    )


#: A 10-byte stand-in with a certificate's outer shape (docs/protocol.md 10.2).
STAND_IN_CERTIFICATE = bytes.fromhex("3008a003020102020101")


class ProtocolRuleTests(TestCase):
    """
    The rules of docs/protocol.md sections 5 and 6 that a decoder cannot
    check alone, because they depend on what is outstanding: a reply to
    nothing is dropped and logged, a request ID still in use ends the
    connection; and refusals say in words what was wrong.
    """

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        self.service = start_nssd(self, self.setup, closeDeadline=0.5)
        assert self.service.port is not None
        self.portNumber = self.service.port.getHost().port  # type: ignore[attr-defined]

    async def raw(self) -> RawClient:
        client = RawClient()
        await connectProtocol(client_endpoint(self.setup, self.portNumber), client)
        self.addCleanup(self.drop, client)
        return client

    def drop(self, client: RawClient) -> Deferred[None]:
        if not client.closed.called and client.transport is not None:
            client.transport.abortConnection()  # type: ignore[attr-defined]
        return client.closed

    async def logged_on(self) -> RawClient:
        client = await self.raw()
        client.send(logon(1))
        self.assertIsInstance((await client.frame()).message, LogonReply)
        return client

    def logged(self, messageId: str) -> list[str]:
        return [m for m in self.messages if messageId in m]

    def test_unsolicitedRepliesDropped(self) -> Deferred[None]:
        """
        Replies to requests nssd never sent are not answered, before the
        logon and after it; each is logged (DBG0034I), and the connection
        goes on: the next request's answer is the first frame to come back.
        """

        async def go() -> None:
            client = await self.raw()
            client.send(
                frame(9, HeartbeatReply())
                + frame(10, SignReply(b"s", STAND_IN_CERTIFICATE))
                + frame(11, Refusal(MessageType.SIGN), returnCode=ReturnCode.EPERM)
                + frame(12, NetMgmtReply(b"nmi"))
                + frame(13, HeartbeatRequest())
            )
            answer = await client.frame()
            self.assertEqual((answer.requestId, answer.message), (13, HeartbeatReply()))
            client.send(logon(14))
            self.assertIsInstance((await client.frame()).message, LogonReply)
            client.send(
                frame(15, HeartbeatReply())
                + frame(16, CaListReply(()))
                + frame(17, NetMgmtReply(b"nmi"))
                + frame(18, CaListRequest())
            )
            answer = await client.frame()
            self.assertEqual(answer.requestId, 18)
            self.assertIsInstance(answer.message, CaListReply)
            self.assertEqual(client.frames, [])
            self.assertEqual(len(self.logged("DBG0034I")), 7, self.messages)

        return ensureDeferred(go())

    async def assertRequestIdInUse(self, client: RawClient, data: bytes) -> None:
        client.send(data)
        answer = await client.frame()
        self.assertIsInstance(answer.message, Disconnect)
        self.assertEqual(
            (answer.requestId, answer.returnCode, answer.reasonCode),
            (0, ReturnCode.EINVAL, ReasonCode.NSSRsnRequestIdInUse),
        )
        self.assertEqual(
            answer.message.reason,
            "request ID 77 is in use by a request not yet answered",
        )
        await client.closed
        self.assertEqual(client.frames, [])
        # nssd reads nothing more after a fatal error, so it drops the
        # connection at its close deadline.
        await all_closed(self.service)

    def test_logonIdInUse(self) -> Deferred[None]:
        """
        LOGON 77 sent twice: the second reuses an ID still outstanding,
        which gets DISCONNECT EINVAL NSSRsnRequestIdInUse and the end of the
        connection, not a second answer under ID 77.
        """

        async def go() -> None:
            await self.assertRequestIdInUse(await self.raw(), logon(77) + logon(77))

        return ensureDeferred(go())

    def test_heartbeatReusesLogonId(self) -> Deferred[None]:
        async def go() -> None:
            await self.assertRequestIdInUse(
                await self.raw(), logon(77) + frame(77, HeartbeatRequest())
            )

        return ensureDeferred(go())

    def test_signIdInUse(self) -> Deferred[None]:
        async def go() -> None:
            client = await self.logged_on()
            await self.assertRequestIdInUse(
                client, sign(77, label="Client1 cert") + sign(77, label="Client1 cert")
            )

        return ensureDeferred(go())

    def test_malformedRequestIdInUse(self) -> Deferred[None]:
        """
        A request that does not decode is answered under its ID too, so it
        must not reuse one that is outstanding either.
        """

        async def go() -> None:
            bad = bytearray(frame(77, HeartbeatRequest()))
            bad[28:32] = b"\x00\x00\x00\x01"  # the reserved word
            await self.assertRequestIdInUse(await self.raw(), logon(77) + bytes(bad))

        return ensureDeferred(go())

    def test_answeredIdMayBeReused(self) -> Deferred[None]:
        """
        Once answered, an ID is free again.
        """

        async def go() -> None:
            client = await self.raw()
            client.send(logon(77))
            self.assertIsInstance((await client.frame()).message, LogonReply)
            client.send(frame(77, HeartbeatRequest()))
            self.assertEqual((await client.frame()).message, HeartbeatReply())
            client.send(sign(77, label="Client1 cert"))
            self.assertIsInstance((await client.frame()).message, SignReply)

        return ensureDeferred(go())

    async def refusal(self, client: RawClient, data: bytes) -> NssFrame:
        client.send(data)
        answer = await client.frame()
        self.assertIsInstance(answer.message, Refusal)
        return cast(NssFrame, answer)

    def test_refusalsSayWhy(self) -> Deferred[None]:
        """
        Every refusal carries an ERROR_TEXT that says what was wrong
        (docs/protocol.md section 4.9).
        """

        async def go() -> None:
            client = await self.raw()
            answer = await self.refusal(client, frame(2, CaListRequest()))
            self.assertEqual(answer.reasonCode, ReasonCode.NSSRsnNotLoggedOn)
            self.assertEqual(answer.text, "CA_LIST needs a completed LOGON first")
            answer = await self.refusal(client, logon(3, password="wrong"))
            self.assertEqual(answer.reasonCode, ReasonCode.NSSRsnUserAuthentication)
            self.assertEqual(answer.text, "user ID unknown or password not valid")

            client = await self.logged_on()
            answer = await self.refusal(client, logon(2))
            self.assertEqual(answer.reasonCode, ReasonCode.NSSRsnAlreadyLoggedOn)
            self.assertEqual(answer.text, "this connection is logged on already")
            answer = await self.refusal(client, frame(3, NetMgmtRequest(b"nmi")))
            self.assertEqual(answer.reasonCode, ReasonCode.NMsRsnBadType)
            self.assertEqual(
                answer.text, "NETMGMT requests are sent by the server, not to it"
            )
            answer = await self.refusal(client, sign(4, label="No such"))
            self.assertEqual(answer.reasonCode, ReasonCode.NSSRsnCertNotFound)
            self.assertEqual(answer.text, "no certificate with label 'No such'")
            answer = await self.refusal(
                client, sign(5, identity=Identity(IdentityKind.FQDN, "x.example"))
            )
            self.assertEqual(answer.text, "no certificate for identity FQDN x.example")

        return ensureDeferred(go())

    def test_signByDistinguishedName(self) -> Deferred[None]:
        """
        A DN identity matches a certificate's subject as RFC 5280 section
        7.1 compares names: attribute by attribute, without regard to case
        or to blanks that do not count, whatever string type the
        certificate encodes its values in.
        """

        async def go() -> None:
            client = await self.logged_on()
            for number, dn in enumerate(
                [
                    "CN=client1.example,O=Example",
                    "cn=CLIENT1.EXAMPLE, o=example",
                    "CN=client1.example,O=  Example ",
                ],
                start=2,
            ):
                client.send(sign(number, identity=Identity(IdentityKind.DN, dn)))
                answer = await client.frame()
                self.assertIsInstance(answer.message, SignReply, dn)
            answer = await self.refusal(
                client,
                sign(
                    9,
                    identity=Identity(IdentityKind.DN, "O=Example,CN=client1.example"),
                ),
            )
            self.assertEqual(answer.reasonCode, ReasonCode.NSSRsnCertNotFound)

        return ensureDeferred(go())


class ConnectionLimitTests(TestCase):
    """
    C{MaxConnectionsPerAddress} and C{MaxConnections} against real
    connections that never log on: the excess is closed at accept, before
    TLS, with one DBG message however many are refused, and real clients
    from elsewhere (or once a place is free) log on and sign.
    """

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        self.clients: list[RawClient] = []

    def start(self, *settings: str) -> None:
        self.service = NSSDService.prepare(
            write_nssd_config(self.setup, *settings),
            reactor,
            interface="127.0.0.1",
            closeDeadline=0.5,
        )
        self.service.startService()
        self.addCleanup(self.service.stopService)
        assert self.service.port is not None
        self.portNumber = self.service.port.getHost().port  # type: ignore[attr-defined]

    async def hold(self, source: str) -> RawClient:
        """
        A connection from C{source} that completes TLS, sends a HEARTBEAT
        and never logs on.
        """
        client = await self.connect(source)
        self.assertTrue(client.secured)
        self.clients.append(client)
        return client

    async def connect(self, source: str) -> RawClient:
        client = RawClient()
        self.addCleanup(self.drop, client)
        await connectProtocol(
            endpoint_from(self.setup, self.portNumber, source), client
        )
        client.send(encode_frame(NssFrame(1, HeartbeatRequest())))
        if not client.closed.called:
            try:
                await client.frame()
            except AssertionError:
                pass
        return client

    async def refused(self, source: str) -> None:
        client = await self.connect(source)
        await client.closed
        self.assertFalse(client.secured)
        self.assertEqual(client.frames, [])

    def drop(self, client: RawClient) -> Deferred[None]:
        if not client.closed.called and client.transport is not None:
            client.transport.abortConnection()  # type: ignore[attr-defined]
        return client.closed

    def logged(self, messageId: str) -> list[str]:
        return [m for m in self.messages if messageId in m]

    def test_perAddress(self) -> Deferred[None]:
        self.start("MaxConnections 100", "MaxConnectionsPerAddress 2")

        async def go() -> None:
            await self.hold("127.0.0.2")
            first = await self.hold("127.0.0.2")
            for _ in range(5):
                await self.refused("127.0.0.2")
            self.assertEqual(
                self.logged("DBG0111I"),
                [
                    "DBG0111I NSS connection from 127.0.0.2 refused - "
                    "MaxConnectionsPerAddress 2 reached - further refusals are "
                    "counted, not logged singly"
                ],
            )
            await signs(endpoint_from(self.setup, self.portNumber, "127.0.0.3"))
            await self.drop(first)
            await all_closed(self.service, within=3.0, leave=1)
            await signs(endpoint_from(self.setup, self.portNumber, "127.0.0.2"))

        return ensureDeferred(go())

    def test_total(self) -> Deferred[None]:
        self.start("MaxConnections 3", "MaxConnectionsPerAddress 2")

        async def go() -> None:
            first = await self.hold("127.0.0.2")
            await self.hold("127.0.0.2")
            await self.hold("127.0.0.3")
            await self.refused("127.0.0.4")
            await self.refused("127.0.0.5")
            self.assertEqual(len(self.logged("DBG0110I")), 1)
            self.assertIn(
                "NSS connection from 127.0.0.4 refused - MaxConnections 3 reached",
                self.logged("DBG0110I")[0],
            )
            await self.drop(first)
            await all_closed(self.service, within=3.0, leave=2)
            await signs(endpoint_from(self.setup, self.portNumber, "127.0.0.4"))
            self.service.admission.stop()
            self.assertIn("DBG0112I 1 more NSS connection refused", self.messages[-1])

        return ensureDeferred(go())

    def test_closedConnectionsFreed(self) -> Deferred[None]:
        """
        Connections that end without TLS's goodbye are freed soon after,
        not when the cyclic collector gets round to them: Twisted's TLS
        leaves each in a reference cycle, which nssd collects once
        connections have stopped closing.
        """
        self.start()

        async def go() -> None:
            clients = [await self.hold("127.0.0.2") for _ in range(5)]
            assert self.service.port is not None
            wrappers = list(self.service.port.factory.protocols)  # type: ignore[attr-defined]
            sessions = [
                weakref.ref(w.wrappedProtocol.wrappedProtocol.handler) for w in wrappers
            ]
            del wrappers
            self.assertEqual(len(sessions), 5)
            for client in clients:
                await self.drop(client)
            await all_closed(self.service)
            deadline = reactor.seconds() + 8.0
            while any(session() is not None for session in sessions):
                if reactor.seconds() > deadline:
                    self.fail("closed sessions are still referenced")
                await deferLater(reactor, 0.1, lambda: None)

        return ensureDeferred(go())

    def test_logonTimeout(self) -> Deferred[None]:
        """
        C{LogonTimeout} bounds how long a connection may stay without
        logging on; nssd closes it (DBG0106I).
        """
        self.start("LogonTimeout 1")

        async def go() -> None:
            started = reactor.seconds()
            client = await self.hold("127.0.0.2")
            await client.closed
            self.assertLess(reactor.seconds() - started, 5.0)
            await all_closed(self.service, within=3.0)
            self.assertTrue(self.logged("connection set-up took too long"))

        return ensureDeferred(go())
