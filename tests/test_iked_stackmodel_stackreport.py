"""
Tests for L{nsstwisted.iked.stackmodel.stackreport},
L{nsstwisted.iked.stackmodel.statistics} and
L{nsstwisted.iked.stackmodel.interfaces}: what iked answers to GET_SUMMARY,
GET_IPINTERFACES and GET_PORTTRAN, the counters behind the first, and how
it reads a stack's interfaces.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence

from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from nsstwisted.iked.stackmodel.interfaces import (
    InterfaceReader,
    ReadFailure,
    parse_if_inet6,
    parse_ip_json,
    run_command,
)
from nsstwisted.iked.stackmodel.stackreport import STACK_REQUESTS, answer_stack_request
from nsstwisted.iked.stackmodel.statistics import Counter, Gauge, StackStatistics
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import (
    NmiMessage,
    NmiMessageType,
    decode_message,
    encode_message,
    text_record,
)
from nsstwisted.wire.stackinfo import (
    InterfaceInfo,
    StatisticsInfo,
    decode_interfaces_reply,
    decode_porttran_reply,
    decode_summary_reply,
)

T = NmiMessageType
LO = InterfaceInfo("lo", "127.0.0.1", 8, index=1)
ETH = InterfaceInfo("eth0", "192.0.2.2", 24, index=4)


def through_bytes(message: NmiMessage) -> NmiMessage:
    decoded = decode_message(encode_message(message))
    assert isinstance(decoded, NmiMessage), decoded
    return decoded


IP_JSON = json.dumps(
    [
        {
            "ifindex": 1,
            "ifname": "lo",
            "addr_info": [
                {"family": "inet", "local": "127.0.0.1", "prefixlen": 8},
                {"family": "inet6", "local": "::1", "prefixlen": 128},
            ],
        },
        {"ifindex": 2, "ifname": "dummy0", "addr_info": []},
        {
            "ifindex": 4,
            "ifname": "eth0",
            "addr_info": [
                {"family": "inet", "local": "192.0.2.2", "prefixlen": 24},
                {"family": "inet", "local": "bogus", "prefixlen": 24},
                {"family": "inet", "local": "192.0.2.3", "prefixlen": 99},
                {"family": "link", "local": "00:11"},
            ],
        },
        "not a link",
    ]
).encode()

IF_INET6 = (
    "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
    "00000000000000000000000000000001 01 80 10 80       lo\n"
    "zz 01 80 10 80 lo\n"
    "fd000000000000000000000000000002 09 40 00 82     gone0\n"
)


class Logged:
    """Collects the text of the log events made while it is installed."""

    def __init__(self, case: SynchronousTestCase) -> None:
        self.messages: list[str] = []

        @implementer(ILogObserver)
        def observe(event: LogEvent) -> None:
            self.messages.append(formatEvent(event) or "")

        globalLogPublisher.addObserver(observe)
        case.addCleanup(globalLogPublisher.removeObserver, observe)

    def texts(self) -> list[str]:
        return self.messages


class StatisticsTests(SynchronousTestCase):
    """
    L{StackStatistics} counts, and its snapshot is the wire's
    L{StatisticsInfo}.
    """

    def test_zero(self) -> None:
        self.assertEqual(StackStatistics().snapshot(), StatisticsInfo())

    def test_countersAndGauges(self) -> None:
        stats = StackStatistics()
        stats.count(Counter.P1_LOCAL_SUCCESS)
        stats.count(Counter.P1_RETRANSMIT, 3)
        stats.count(Counter.P2_REMOTE_FAILURE, 0)
        stats.adjust(Gauge.P1_ACTIVE, 2)
        stats.adjust(Gauge.P1_ACTIVE, -1)
        stats.set(Gauge.MANUAL_INACTIVE, 4)
        self.assertEqual(stats[Counter.P1_RETRANSMIT], 3)
        self.assertEqual(
            stats.snapshot(),
            StatisticsInfo(
                p1LclActSuccess=1, p1Retransmit=3, p1Active=1, manInactive=4
            ),
        )

    def test_everyFieldNamed(self) -> None:
        """Every field of the entry is a counter or a gauge, once."""
        names = [m.value for m in Counter] + [m.value for m in Gauge]
        self.assertEqual(
            sorted(names), sorted(StatisticsInfo.__dataclass_fields__.keys())
        )

    def test_wrapAndClamp(self) -> None:
        stats = StackStatistics()
        stats.count(Counter.P2_RETRANSMIT, (1 << 64) + 5)
        stats.set(Gauge.P2_ACTIVE, 1 << 40)
        snapshot = stats.snapshot()
        self.assertEqual(snapshot.p2Retransmit, 5)
        self.assertEqual(snapshot.p2Active, (1 << 32) - 1)

    def test_refusals(self) -> None:
        stats = StackStatistics()
        for call in [
            lambda: stats.count(Counter.P1_LOCAL_FAILURE, -1),
            lambda: stats.count(Counter.P1_LOCAL_FAILURE, True),
            lambda: stats.count(Gauge.P1_ACTIVE),  # type: ignore[arg-type]
            lambda: stats.adjust(Gauge.P1_EXPIRED, -1),
            lambda: stats.adjust(Counter.P1_RETRANSMIT, 1),  # type: ignore[arg-type]
            lambda: stats.adjust(Gauge.P1_EXPIRED, 1.5),  # type: ignore[arg-type]
            lambda: stats.set(Gauge.P1_EXPIRED, -2),
            lambda: stats.set(Counter.P1_RETRANSMIT, 2),  # type: ignore[arg-type]
        ]:
            self.assertRaises(ValueError, call)
        self.assertEqual(stats.snapshot(), StatisticsInfo())


class AnswerTests(SynchronousTestCase):
    """
    L{answer_stack_request} answers the three requests for one stack.
    """

    def test_summary(self) -> None:
        stats = StackStatistics()
        stats.count(Counter.P1_REMOTE_SUCCESS, 7)
        request = NmiMessage(T.GET_SUMMARY, 3, target="client3")
        reply = through_bytes(answer_stack_request(request, "TCPCS3", stats))
        self.assertTrue(reply.ok)
        self.assertEqual((reply.correlator, reply.target), (3, "client3"))
        self.assertEqual(
            decode_summary_reply(reply),
            ("TCPCS3", StatisticsInfo(p1RmtActSuccess=7)),
        )

    def test_interfaces(self) -> None:
        request = NmiMessage(T.GET_IPINTERFACES, 4)
        reply = through_bytes(
            answer_stack_request(request, "TCPCS3", StackStatistics(), [LO, ETH, LO])
        )
        self.assertEqual(decode_interfaces_reply(reply), ("TCPCS3", [LO, ETH]))

    def test_noInterfaces(self) -> None:
        request = NmiMessage(T.GET_IPINTERFACES, 4)
        reply = answer_stack_request(request, "TCPCS3", StackStatistics(), [])
        self.assertEqual(decode_interfaces_reply(reply), ("TCPCS3", []))

    def test_portTranslationsEmpty(self) -> None:
        """Without NAT traversal there are no port translations."""
        request = NmiMessage(T.GET_PORTTRAN, 5)
        reply = through_bytes(
            answer_stack_request(request, "TCPCS3", StackStatistics(), [LO])
        )
        self.assertEqual(decode_porttran_reply(reply), ("TCPCS3", []))

    def test_records(self) -> None:
        for kind in STACK_REQUESTS:
            request = NmiMessage(kind, 6, records=(text_record(["x"]),))
            reply = answer_stack_request(request, "TCPCS3", StackStatistics())
            self.assertEqual(
                (reply.returnCode, reply.reasonCode),
                (ReturnCode.EINVAL, ReasonCode.NSSRsnBadField),
            )
            self.assertIn("takes no records", reply.lines()[0])

    def test_badStackName(self) -> None:
        """Data the wire refuses is a server error, not an exception."""
        reply = answer_stack_request(
            NmiMessage(T.GET_SUMMARY, 7), "NOT A STACK", StackStatistics()
        )
        self.assertEqual(
            (reply.returnCode, reply.reasonCode),
            (ReturnCode.EIO, ReasonCode.NSSRsnServerError),
        )
        through_bytes(reply)

    def test_otherRequests(self) -> None:
        for request in [
            NmiMessage(T.GET_IPFLTCURR, 1),
            NmiMessage(T.GET_SUMMARY, 1, reply=True),
        ]:
            self.assertRaises(
                ValueError,
                answer_stack_request,
                request,
                "TCPCS3",
                StackStatistics(),
            )


class ParseTests(SynchronousTestCase):
    """
    The parsers of C{ip -j addr show} and C{/proc/net/if_inet6}.
    """

    def test_ipJson(self) -> None:
        logged = Logged(self)
        self.assertEqual(
            parse_ip_json(IP_JSON),
            [LO, InterfaceInfo("lo", "::1", 128, index=1), ETH],
        )
        self.assertEqual(len([t for t in logged.texts() if "skipping" in t]), 2)

    def test_ipJsonBad(self) -> None:
        for output in [b"", b"{", b'{"a": 1}']:
            self.assertRaises(ReadFailure, parse_ip_json, output)

    def test_ifInet6(self) -> None:
        self.assertEqual(
            parse_if_inet6(IF_INET6),
            [
                InterfaceInfo("eth0", "fe80::fc:ff:fe00:1", 64, index=4),
                InterfaceInfo("lo", "::1", 128, index=1),
                InterfaceInfo("gone0", "fd00::2", 64, index=9),
            ],
        )


class ReaderTests(SynchronousTestCase):
    """
    L{InterfaceReader} runs C{ip} for the stack and never raises.
    """

    def setUp(self) -> None:
        self.commands: list[list[str]] = []

    def answering(
        self, output: bytes | Exception
    ) -> Callable[[Sequence[str], float], bytes]:
        def run(argv: Sequence[str], timeout: float) -> bytes:
            self.commands.append(list(argv))
            self.assertEqual(timeout, 2.5)
            if isinstance(output, Exception):
                raise output
            return output

        return run

    def test_host(self) -> None:
        reader = InterfaceReader(run=self.answering(IP_JSON), timeout=2.5)
        self.assertEqual(len(reader()), 3)
        self.assertEqual(self.commands, [["ip", "-j", "addr", "show"]])

    def test_namespace(self) -> None:
        reader = InterfaceReader(
            "red",
            run=self.answering(IP_JSON),
            timeout=2.5,
        )
        self.assertEqual(len(reader()), 3)
        self.assertEqual(self.commands, [["ip", "-n", "red", "-j", "addr", "show"]])

    def test_namespaceFails(self) -> None:
        logged = Logged(self)
        for failure in [ReadFailure("no such namespace"), RuntimeError("boom")]:
            reader = InterfaceReader(
                "red",
                run=self.answering(failure),
                timeout=2.5,
            )
            self.assertEqual(reader(), [])
        texts = logged.texts()
        self.assertTrue(any("no such namespace" in t for t in texts), texts)
        self.assertTrue(any("boom" in t for t in texts), texts)

    def test_hostFallback(self) -> None:
        """
        Without C{ip}, the host's IPv6 addresses come from
        C{/proc/net/if_inet6}, for the interfaces that still exist.
        """
        logged = Logged(self)
        reader = InterfaceReader(
            run=self.answering(ReadFailure("ip: not found")),
            nameIndex=lambda: [(1, "lo"), (4, "eth0")],
            readText=lambda path: IF_INET6,
            timeout=2.5,
        )
        self.assertEqual(
            [(i.interfaceName, i.address) for i in reader()],
            [("eth0", "fe80::fc:ff:fe00:1"), ("lo", "::1")],
        )
        self.assertTrue(any("IPv6" in t for t in logged.texts()))

    def test_hostFallbackFails(self) -> None:
        def unreadable(path: str) -> str:
            raise OSError("no /proc")

        reader = InterfaceReader(
            run=self.answering(ReadFailure("ip: not found")),
            nameIndex=lambda: [(1, "lo")],
            readText=unreadable,
            timeout=2.5,
        )
        self.assertEqual(reader(), [])

    def test_realHost(self) -> None:
        """
        The host's real stack reads without raising, and has a loopback
        interface when C{ip} or C{/proc} works.
        """
        found = InterfaceReader()()
        if found:
            self.assertIn("lo", {info.interfaceName for info in found})


class RunCommandTests(SynchronousTestCase):
    """
    L{run_command} turns every failure into L{ReadFailure}.
    """

    def test_output(self) -> None:
        self.assertEqual(
            run_command([sys.executable, "-c", "print('hi')"], 10), b"hi\n"
        )

    def test_missing(self) -> None:
        self.assertRaises(
            ReadFailure, run_command, ["/nonexistent/ip", "-j", "addr"], 10
        )

    def test_status(self) -> None:
        with self.assertRaises(ReadFailure) as caught:
            run_command([sys.executable, "-c", "import sys; sys.exit('nope')"], 10)
        self.assertIn("nope", str(caught.exception))

    def test_timeout(self) -> None:
        with self.assertRaises(ReadFailure) as caught:
            run_command([sys.executable, "-c", "import time; time.sleep(5)"], 0.2)
        self.assertIn("timed out", str(caught.exception))
        self.assertTrue(
            issubclass(subprocess.TimeoutExpired, subprocess.SubprocessError)
        )
