"""
Tests for L{nsstwisted.iked.nssclient.management}: what iked answers on its local
IPSec NMI, without a socket.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.iked.nssclient.management import IkedManagement, RefreshRejected
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.ikensinfo import IkeNssInfo, decode_ikensinfo_reply
from nsstwisted.wire.nmi import (
    IPSEC_REQUESTS,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    decode_message,
    encode_message,
)
from tests.test_wire_ikensinfo import client

T = NmiMessageType
CONFIGURATION = ["IkeConfig", "NssWaitLimit 60"]
STACKS = [IkeNssInfo.not_configured("TCPCS"), client("TCPCS3")]


class IkedManagementTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.refreshes: list[Deferred[list[str]]] = []
        self.infoCalls = 0
        self.management = IkedManagement(self.describe, self.refresh, self.nssInfo)

    def describe(self) -> list[str]:
        return list(CONFIGURATION)

    def refresh(self) -> Deferred[list[str]]:
        waiting: Deferred[list[str]] = Deferred()
        self.refreshes.append(waiting)
        return waiting

    def nssInfo(self) -> tuple[str, list[IkeNssInfo]]:
        self.infoCalls += 1
        return "MVS052", list(STACKS)

    def answer(self, request: NmiMessage) -> NmiMessage:
        """
        The handler's reply, checked to be sendable: what the protocol
        would put on the wire decodes to the same message.
        """
        reply = self.successResultOf(self.management.handle(request))
        self.assertEqual(decode_message(encode_message(reply)), reply)
        return reply

    def test_display(self) -> None:
        reply = self.answer(NmiMessage(T.DAEMON_DISPLAY, 1))
        self.assertTrue(reply.ok)
        self.assertEqual(reply.lines(), tuple(CONFIGURATION))

    def test_displayMadePrintable(self) -> None:
        management = IkedManagement(lambda: ["a\nb"], self.refresh, self.nssInfo)
        reply = self.successResultOf(management.handle(NmiMessage(T.DAEMON_DISPLAY)))
        self.assertEqual(reply.lines(), ("a?b",))

    def test_refresh(self) -> None:
        answering = self.management.handle(NmiMessage(T.DAEMON_REFRESH, 2))
        self.assertNoResult(answering)
        self.refreshes[0].callback(["refresh complete: stack TCPCS4 added"])
        reply = self.successResultOf(answering)
        self.assertEqual(reply.lines(), ("refresh complete: stack TCPCS4 added",))
        self.assertEqual(reply.correlator, 2)

    def test_refreshRejected(self) -> None:
        """
        A configuration that is refused keeps the running one: EINVAL, and
        the reason in the text, as nssd answers.
        """
        answering = self.management.handle(NmiMessage(T.DAEMON_REFRESH, 2))
        self.refreshes[0].errback(RefreshRejected("iked.conf:3: Port: not a number"))
        reply = self.successResultOf(answering)
        self.assertEqual(
            (reply.returnCode, reply.reasonCode), (ReturnCode.EINVAL, ReasonCode.NONE)
        )
        self.assertEqual(
            reply.lines(),
            (
                "refresh rejected, configuration unchanged: "
                "iked.conf:3: Port: not a number",
            ),
        )

    def test_refreshFailed(self) -> None:
        management = IkedManagement(
            self.describe, lambda: fail(OSError("disk on fire")), self.nssInfo
        )
        reply = self.successResultOf(management.handle(NmiMessage(T.DAEMON_REFRESH)))
        self.assertEqual(
            (reply.returnCode, reply.reasonCode),
            (ReturnCode.EIO, ReasonCode.NSSRsnServerError),
        )
        self.assertEqual(reply.lines(), ("refresh failed: disk on fire",))

    def test_refreshRaises(self) -> None:
        """
        A refresh that raises rather than failing its Deferred is answered
        the same way.
        """

        def broken() -> Deferred[list[str]]:
            raise RuntimeError("bug")

        management = IkedManagement(self.describe, broken, self.nssInfo)
        reply = self.successResultOf(management.handle(NmiMessage(T.DAEMON_REFRESH)))
        self.assertEqual(reply.returnCode, ReturnCode.EIO)

    def test_refreshesOneAtATime(self) -> None:
        first = self.management.handle(NmiMessage(T.DAEMON_REFRESH, 1))
        second = self.management.handle(NmiMessage(T.DAEMON_REFRESH, 2))
        self.assertEqual(len(self.refreshes), 1)
        self.refreshes[0].callback(["one"])
        self.assertEqual(self.successResultOf(first).lines(), ("one",))
        self.assertEqual(len(self.refreshes), 2)
        self.assertNoResult(second)
        self.refreshes[1].callback(["two"])
        self.assertEqual(self.successResultOf(second).lines(), ("two",))

    def test_ikensinfo(self) -> None:
        reply = self.answer(NmiMessage(T.GET_IKENSINFO, 9))
        self.assertEqual((reply.correlator, reply.reply, reply.ok), (9, True, True))
        self.assertEqual(decode_ikensinfo_reply(reply), ("MVS052", STACKS))

    def test_ikensinfoIsFresh(self) -> None:
        """
        Each request asks again: the report shows the state of now.
        """
        self.answer(NmiMessage(T.GET_IKENSINFO, 1))
        self.answer(NmiMessage(T.GET_IKENSINFO, 2))
        self.assertEqual(self.infoCalls, 2)

    def test_ikensinfoTargetIgnored(self) -> None:
        reply = self.answer(NmiMessage(T.GET_IKENSINFO, 1, target="client3"))
        self.assertTrue(reply.ok)

    def test_ikensinfoWithRecords(self) -> None:
        request = NmiMessage(
            T.GET_IKENSINFO, 4, records=(NmiRecord((NmiSection(0, b""),)),)
        )
        reply = self.answer(request)
        self.assertEqual(
            (reply.returnCode, reply.reasonCode),
            (ReturnCode.EINVAL, ReasonCode.NSSRsnBadField),
        )
        self.assertEqual(reply.lines(), ("NMsec_GET_IKENSINFO takes no records",))
        self.assertEqual(self.infoCalls, 0)

    def test_ikensinfoFails(self) -> None:
        """
        A failure while gathering the data (or data the codec refuses) is
        a failed Deferred, which the protocol answers with EIO
        NSSRsnServerError and logs.
        """

        def broken() -> tuple[str, list[IkeNssInfo]]:
            raise RuntimeError("bug")

        for nssInfo in (broken, lambda: ("MVS 052", [])):
            management = IkedManagement(self.describe, self.refresh, nssInfo)
            failure = self.failureResultOf(
                management.handle(NmiMessage(T.GET_IKENSINFO, 1))
            )
            self.assertTrue(failure.check(RuntimeError, ValueError))

    def test_clientInfo(self) -> None:
        reply = self.answer(NmiMessage(T.GET_CLIENTINFO, 3))
        self.assertEqual(
            (reply.returnCode, reply.reasonCode),
            (ReturnCode.EOPNOTSUPP, ReasonCode.NONE),
        )
        self.assertEqual(
            reply.lines(), ("NMsec_GET_CLIENTINFO is served by nssd, not iked",)
        )

    def test_otherIpsecRequests(self) -> None:
        """
        Everything the stack model will serve is refused for now, saying so.
        """
        others = IPSEC_REQUESTS - {T.GET_IKENSINFO, T.GET_CLIENTINFO}
        self.assertEqual(len(others), 21)
        for messageType in sorted(others):
            reply = self.answer(NmiMessage(messageType, 5))
            self.assertEqual(
                (reply.returnCode, reply.reasonCode),
                (ReturnCode.EOPNOTSUPP, ReasonCode.NONE),
            )
            self.assertEqual(
                reply.lines(),
                (f"iked does not serve {messageType.ibmName} yet",),
            )

    def test_unknownType(self) -> None:
        """
        The decoder never passes an unknown type on; should one arrive,
        it is refused, not mistaken for something else.
        """
        reply = self.successResultOf(self.management.handle(NmiMessage(999, 5)))
        self.assertEqual(
            (reply.returnCode, reply.reasonCode),
            (ReturnCode.EINVAL, ReasonCode.NMsRsnBadType),
        )
        self.assertEqual(reply.lines(), ("iked does not serve message type 999",))

    def test_succeedIsDeferred(self) -> None:
        """
        Every answer is a Deferred, as the NmiHandler protocol says.
        """
        for request in (
            NmiMessage(T.DAEMON_DISPLAY),
            NmiMessage(T.GET_IKENSINFO),
            NmiMessage(T.GET_SUMMARY),
        ):
            self.assertIsInstance(self.management.handle(request), Deferred)
