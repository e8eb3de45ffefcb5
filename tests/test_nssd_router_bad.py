"""
The network management service against misbehaving parties: an operator
who leaves while a routed request is out, a client that never answers, a
client that answers what nobody asked, and an operator beyond its user's
share of the management connections.
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nsstwisted.client import PasswordCredentials, connect
from nsstwisted.protocols.nmi import (
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    NmiClientFactory,
    NmiClientProtocol,
    NmiRequestFailed,
    NmiTerminated,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import NmiMessageType
from nsstwisted.wire.nss import (
    NSS_API_VERSION,
    LogonRequest,
    NetMgmtReply,
    NssFrame,
    Services,
    encode_frame,
)
from tests.daemons import (
    CLIENT1_PASSWORD,
    LOOPBACK,
    build_security,
    capture_messages,
    client_endpoint,
    racf,
    start_nssd,
)
from tests.test_nssd_bad_input import RawClient

ME = pwd.getpwuid(os.getuid()).pw_name.upper()


class MisbehaviourTests(TestCase):
    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        racf(
            self.setup,
            f"ADDUSER {ME}",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.DISPLAY CLASS(SERVAUTH) ID({ME})",
            f"PERMIT EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY CLASS(SERVAUTH) ID({ME})",
        )
        self.nssd = start_nssd(self, self.setup)
        assert self.nssd.port is not None
        self.port = self.nssd.port.getHost().port  # type: ignore[attr-defined]

    async def operator(self) -> NmiClientProtocol:
        endpoint = UNIXClientEndpoint(reactor, self.nssd.configuration.nmiSocket)
        protocol: NmiClientProtocol = await endpoint.connect(NmiClientFactory())
        await protocol.ready
        self.addCleanup(protocol.close)
        return protocol

    async def client(self, netMgmt: Any) -> Any:
        session = await connect(
            reactor,
            client_endpoint(self.setup, self.port),
            serverIdentity=LOOPBACK,
            clientName="CLIENT1",
            credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
            services=Services.CERT | Services.NETMGMT,
            netMgmt=netMgmt,
        )
        self.addCleanup(session.close)
        return session

    def test_operatorLeavesWhileRouted(self) -> Deferred[None]:
        answer: Deferred[bytes] = Deferred()

        async def go() -> None:
            await self.client(lambda nmi: answer)
            first = await self.operator()
            pending = first.request(NmiMessageType.GET_SUMMARY, "CLIENT1")
            pending.addErrback(lambda f: None)
            await deferLater(reactor, 0.1, lambda: None)
            first.close()
            await deferLater(reactor, 0.1, lambda: None)
            # The client answers after the operator has gone: nothing breaks.
            answer.callback(b"not even an NMI message")
            await deferLater(reactor, 0.1, lambda: None)
            second = await self.operator()
            reply = await second.request(NmiMessageType.GET_CLIENTINFO, "")
            self.assertEqual(reply.returnCode, ReturnCode.OK)

        return ensureDeferred(go())

    def test_clientNeverAnswers(self) -> Deferred[None]:
        self.nssd.router.timeout = 0.5

        async def go() -> None:
            await self.client(lambda nmi: Deferred())
            protocol = await self.operator()
            request: Deferred[Any] = protocol.request(
                NmiMessageType.GET_SUMMARY, "CLIENT1"
            )
            failure = await self.assertFailure(request, NmiRequestFailed)
            self.assertEqual(failure.returnCode, ReturnCode.ETIMEDOUT)
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnClientTimeout)

        return ensureDeferred(go())

    def test_unsolicitedReply(self) -> Deferred[None]:
        """
        A client that sends a NETMGMT reply nobody asked for is noted
        (DBG0034I) and goes on being served.
        """

        async def go() -> None:
            raw = RawClient()
            await connectProtocol(client_endpoint(self.setup, self.port), raw)
            raw.send(
                encode_frame(
                    NssFrame(
                        1,
                        LogonRequest(
                            clientName="CLIENT1",
                            userid="CLIENT1",
                            password=CLIENT1_PASSWORD,
                            passTicket=None,
                            apiVersion=NSS_API_VERSION,
                            services=Services.CERT | Services.NETMGMT,
                        ),
                    )
                )
            )
            logon = await raw.frame()
            self.assertEqual(logon.returnCode, ReturnCode.OK)
            raw.send(encode_frame(NssFrame(777, NetMgmtReply(b"stray"))))
            await deferLater(reactor, 0.2, lambda: None)
            self.assertTrue(any("DBG0034I" in m for m in self.messages))
            self.assertEqual(len(self.nssd.registry), 1)
            raw.transport.loseConnection()  # type: ignore[union-attr]
            await raw.closed

        return ensureDeferred(go())

    def test_operatorBeyondShare(self) -> Deferred[None]:
        """
        One user's connection beyond its share is refused, even with
        connections free for others (and even for root).
        """

        async def go() -> None:
            for _ in range(DEFAULT_MAX_CONNECTIONS_PER_USER):
                await self.operator()
            endpoint = UNIXClientEndpoint(reactor, self.nssd.configuration.nmiSocket)
            another: NmiClientProtocol = await endpoint.connect(NmiClientFactory())
            self.addCleanup(another.close)
            ready: Deferred[Any] = another.ready
            failure: NmiTerminated = await self.assertFailure(ready, NmiTerminated)
            self.assertEqual(failure.returnCode, ReturnCode.EBUSY)
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnTooManyRequests)
            self.assertIn("per user", failure.lines[0])

        return ensureDeferred(go())
