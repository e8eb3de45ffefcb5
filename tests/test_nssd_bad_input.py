"""
nssd against bad input over real TLS: garbage, oversized and truncated
frames, a trickling peer, requests before logon, a logon flood, and a client
vanishing with requests in flight.  Each time the offender gets a defined
answer and other clients go on being served.
"""

from __future__ import annotations

import struct
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import connectProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import LoopingCall, deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from nsstwisted.client import NssRequestFailed, PasswordCredentials, connect
from nsstwisted.nssd.service import NSSDService
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import (
    NSS_API_VERSION,
    CaListRequest,
    Disconnect,
    HeartbeatReply,
    HeartbeatRequest,
    LogonRequest,
    NssDecoder,
    NssFrame,
    Refusal,
    Services,
    SignatureSchemeCode,
    SignRequest,
    encode_frame,
)
from tests.daemons import (
    CLIENT1_PASSWORD,
    build_security,
    client_endpoint,
    start_nssd,
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


class RawClient(Protocol):
    """
    A TLS client that sends whatever the test says and decodes what comes
    back.
    """

    def __init__(self) -> None:
        self.decoder = NssDecoder()
        self.frames: list[Any] = []
        self.received = b""
        self.closed: Deferred[None] = Deferred()
        self._waiting: list[Deferred[None]] = []

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


async def all_closed(service: NSSDService, within: float = 3.0) -> None:
    """
    Wait until nssd holds no connection: a peer that broke the stream is
    no longer read, so nssd drops it at its close deadline (0.5 s here)
    rather than when the peer answers TLS's goodbye.
    """
    deadline = reactor.seconds() + within
    while service.admission.held:
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
        session = await connect(
            reactor,
            client_endpoint(self.setup, self.portNumber),
            clientName="CLIENT1",
            credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
            services=Services.CERT,
        )
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
            self.assertEqual(
                outcomes,
                [ReasonCode.NSSRsnUserAuthentication] * 3
                + [ReasonCode.NSSRsnUserRevoked] * 2,
            )
            self.assertEqual(
                await attempt(CLIENT1_PASSWORD), ReasonCode.NSSRsnUserRevoked
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
