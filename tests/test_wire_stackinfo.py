"""
Tests for L{nsstwisted.wire.stackinfo}: the NMsecStatistics,
NMsecInterface and NMsecPortTran records of GET_SUMMARY, GET_IPINTERFACES
and GET_PORTTRAN.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.codes import ReturnCode
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.nmi import (
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    decode_message,
    encode_message,
)
from nsstwisted.wire.stackinfo import (
    INTERFACE_SIZE,
    PORTTRAN_SIZE,
    STATISTICS_FIELDS,
    STATISTICS_SIZE,
    InterfaceInfo,
    PortTranslationInfo,
    StatisticsInfo,
    decode_interface,
    decode_interfaces_reply,
    decode_porttran,
    decode_porttran_reply,
    decode_statistics,
    decode_summary_reply,
    encode_interface,
    encode_interfaces_reply,
    encode_porttran,
    encode_porttran_reply,
    encode_statistics,
    encode_summary_reply,
)
from tests.strategies import (
    stackinfo_interfaces,
    stackinfo_raw_records,
    stackinfo_stack_names,
    stackinfo_statistics,
    stackinfo_translations,
)

DOCS = Path(__file__).parent.parent / "docs" / "nmi.md"
T = NmiMessageType


def through_bytes(message: NmiMessage) -> NmiMessage:
    decoded = decode_message(encode_message(message))
    assert isinstance(decoded, NmiMessage), decoded
    return decoded


def one(entry: bytes) -> NmiRecord:
    return NmiRecord((NmiSection(1, entry),))


STACK = one(b"TCPCS3  ")


class RoundTripTests(SynchronousTestCase):
    """
    What the encoder makes, the decoder reads back unchanged.
    """

    @given(stackinfo_statistics())
    def test_statistics(self, info: StatisticsInfo) -> None:
        data = encode_statistics(info)
        self.assertEqual(len(data), STATISTICS_SIZE)
        self.assertEqual(decode_statistics(data), info)

    @given(stackinfo_interfaces())
    def test_interface(self, info: InterfaceInfo) -> None:
        data = encode_interface(info)
        self.assertEqual(len(data), INTERFACE_SIZE)
        self.assertEqual(decode_interface(data), info)

    @given(stackinfo_translations())
    def test_porttran(self, info: PortTranslationInfo) -> None:
        data = encode_porttran(info)
        self.assertEqual(len(data), PORTTRAN_SIZE)
        self.assertEqual(decode_porttran(data), info)

    @given(stackinfo_stack_names, stackinfo_statistics())
    def test_summaryReply(self, stackName: str, info: StatisticsInfo) -> None:
        request = NmiMessage(T.GET_SUMMARY, 4, target="client3")
        reply = through_bytes(encode_summary_reply(request, stackName, info))
        self.assertEqual((reply.correlator, reply.target), (4, "client3"))
        self.assertEqual(decode_summary_reply(reply), (stackName, info))

    @given(
        stackinfo_stack_names,
        st.lists(stackinfo_interfaces(), max_size=6, unique_by=lambda i: i.address),
    )
    def test_interfacesReply(self, stackName: str, infos: list[InterfaceInfo]) -> None:
        request = NmiMessage(T.GET_IPINTERFACES, 5)
        reply = through_bytes(encode_interfaces_reply(request, stackName, infos))
        self.assertEqual(decode_interfaces_reply(reply), (stackName, infos))

    @given(
        stackinfo_stack_names,
        st.lists(
            stackinfo_translations(),
            max_size=6,
            unique_by=lambda t: (t.translatedPort, t.protocol),
        ),
    )
    def test_porttranReply(
        self, stackName: str, infos: list[PortTranslationInfo]
    ) -> None:
        request = NmiMessage(T.GET_PORTTRAN, 6)
        reply = through_bytes(encode_porttran_reply(request, stackName, infos))
        self.assertEqual(decode_porttran_reply(reply), (stackName, infos))


class TotalityTests(SynchronousTestCase):
    """
    The decoders raise L{FieldDecodeError} and nothing else, whatever the
    bytes.
    """

    @given(
        st.sampled_from(
            [
                (decode_statistics, STATISTICS_SIZE),
                (decode_interface, INTERFACE_SIZE),
                (decode_porttran, PORTTRAN_SIZE),
            ]
        ),
        st.data(),
    )
    def test_entries(self, pair: tuple[Any, int], data: st.DataObject) -> None:
        decode, size = pair
        raw = data.draw(st.binary(min_size=size, max_size=size) | st.binary())
        try:
            decode(raw)
        except FieldDecodeError:
            pass

    @given(
        st.sampled_from(
            [
                (T.GET_SUMMARY, decode_summary_reply),
                (T.GET_IPINTERFACES, decode_interfaces_reply),
                (T.GET_PORTTRAN, decode_porttran_reply),
            ]
        ),
        st.lists(stackinfo_raw_records, max_size=4),
    )
    def test_replies(
        self, pair: tuple[NmiMessageType, Any], records: list[NmiRecord]
    ) -> None:
        kind, decode = pair
        try:
            decode(NmiMessage(kind, 1, reply=True, records=tuple(records)))
        except FieldDecodeError:
            pass


LO = InterfaceInfo("lo", "127.0.0.1", 8, index=1)
ETH6 = InterfaceInfo("eth0", "fd00::2", 64, index=4)
NAT = PortTranslationInfo("192.0.2.7", 4500, 4501, 17, 0x455D9AAD, "Y3")


class RuleTests(SynchronousTestCase):
    """
    The constructors refuse what the layout forbids, and the decoders
    refuse the bytes of it.
    """

    def test_statisticsSizes(self) -> None:
        StatisticsInfo(p1Active=(1 << 32) - 1, p1Retransmit=(1 << 64) - 1)
        for field, value in [
            ("p1Active", 1 << 32),
            ("p1LclActSuccess", 1 << 64),
            ("p2Expired", -1),
            ("manInactive", True),
        ]:
            with self.assertRaises(ValueError) as caught:
                StatisticsInfo(**{field: value})
            self.assertIn(field, str(caught.exception))

    def test_ibmOffsets(self) -> None:
        """
        The phase 1 counters are where IBM documents them: 4-byte counts
        at 0, 4 and 8, 8-byte counters at 12, 20, 28, 36 and 44.
        """
        names = STATISTICS_FIELDS[:8]
        info = StatisticsInfo(**{name: index + 1 for index, name in enumerate(names)})
        data = encode_statistics(info)
        self.assertEqual(struct.unpack(">III", data[:12]), (1, 2, 3))
        self.assertEqual(struct.unpack(">QQQQQ", data[12:52]), (4, 5, 6, 7, 8))
        self.assertEqual(
            names,
            (
                "p1Active",
                "p1InProgress",
                "p1Expired",
                "p1LclActSuccess",
                "p1RmtActSuccess",
                "p1LclActFailure",
                "p1RmtActFailure",
                "p1Retransmit",
            ),
        )

    def test_interfaceRefusals(self) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"interfaceName": ""}, "interfaceName"),
            ({"interfaceName": "a" * 16}, "interfaceName"),
            ({"interfaceName": "eth0:1"}, "interfaceName"),
            ({"address": ""}, "address is empty"),
            ({"address": "not-an-address"}, "address"),
            ({"prefix": 33}, "prefix"),
            ({"securityClass": 256}, "securityClass"),
            ({"dvipa": 1}, "dvipa"),
            ({"index": -1}, "index"),
        ]
        for changes, text in cases:
            with self.assertRaises(ValueError) as caught:
                dataclasses.replace(LO, **changes)
            self.assertIn(text, str(caught.exception))

    def test_interfaceBytes(self) -> None:
        good = encode_interface(LO)
        self.assertEqual(good[:16], b"lo" + b" " * 14)
        self.assertEqual(good[64:], bytes.fromhex("08 00 00 00 00000001"))
        for offset, replacement, text in [
            (66, b"\x02", "bits 0x2"),
            (67, b"\x01", "reserved"),
            (64, b"\x21", "prefix"),
            (0, b" " * 16, "interfaceName is empty"),
            (16, b" " * 48, "address is empty"),
        ]:
            raw = bytearray(good)
            raw[offset : offset + len(replacement)] = replacement
            with self.assertRaises(FieldDecodeError) as caught:
                decode_interface(bytes(raw))
            self.assertIn(text, caught.exception.detail)

    def test_dvipaFlag(self) -> None:
        data = encode_interface(dataclasses.replace(LO, dvipa=True))
        self.assertEqual(data[66], 1)
        self.assertTrue(decode_interface(data).dvipa)

    def test_porttranRefusals(self) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"remoteAddress": ""}, "remoteAddress is empty"),
            ({"remoteAddress": "x"}, "remoteAddress"),
            ({"remotePort": 0}, "remotePort is 0"),
            ({"translatedPort": 0x10000}, "translatedPort"),
            ({"protocol": 1}, "protocol 1"),
            ({"timeCreated": -1}, "timeCreated"),
            ({"tunnelId": "Y 3"}, "tunnelId"),
        ]
        for changes, text in cases:
            with self.assertRaises(ValueError) as caught:
                dataclasses.replace(NAT, **changes)
            self.assertIn(text, str(caught.exception))

    def test_porttranBytes(self) -> None:
        good = encode_porttran(NAT)
        self.assertEqual(good[48:56], bytes.fromhex("1194 1195 11 000000"))
        for offset, value, text in [
            (53, 1, "reserved"),
            (52, 1, "protocol"),
            (48, 0, "remotePort is 0"),
        ]:
            raw = bytearray(good)
            raw[offset] = value
            if text == "remotePort is 0":
                raw[49] = 0
            with self.assertRaises(FieldDecodeError) as caught:
                decode_porttran(bytes(raw))
            self.assertIn(text, caught.exception.detail)

    def test_duplicates(self) -> None:
        with self.assertRaises(ValueError):
            encode_interfaces_reply(NmiMessage(T.GET_IPINTERFACES, 1), "S", [LO, LO])
        # The same address of two interfaces is allowed.
        encode_interfaces_reply(
            NmiMessage(T.GET_IPINTERFACES, 1),
            "S",
            [LO, dataclasses.replace(LO, interfaceName="lo2")],
        )
        with self.assertRaises(ValueError):
            encode_porttran_reply(NmiMessage(T.GET_PORTTRAN, 1), "S", [NAT, NAT])
        reply = NmiMessage(
            T.GET_IPINTERFACES,
            1,
            reply=True,
            records=(STACK, one(encode_interface(LO)), one(encode_interface(LO))),
        )
        with self.assertRaises(FieldDecodeError) as caught:
            decode_interfaces_reply(reply)
        self.assertIn("twice", caught.exception.detail)
        reply = NmiMessage(
            T.GET_PORTTRAN,
            1,
            reply=True,
            records=(STACK, one(encode_porttran(NAT)), one(encode_porttran(NAT))),
        )
        with self.assertRaises(FieldDecodeError):
            decode_porttran_reply(reply)

    def test_replyShapes(self) -> None:
        summary = encode_statistics(StatisticsInfo())
        for records, text in [
            ((), "stack record is missing"),
            ((one(b"        "),), "NMsStackName is blank"),
            ((STACK,), "2 records"),
            ((STACK, one(summary), one(summary)), "2 records"),
            ((STACK, one(summary[:-1])), "112 bytes"),
            ((STACK, NmiRecord((NmiSection(2, summary),))), "1 entry"),
        ]:
            with self.assertRaises(FieldDecodeError) as caught:
                decode_summary_reply(
                    NmiMessage(T.GET_SUMMARY, 1, reply=True, records=records)
                )
            self.assertIn(text, caught.exception.detail)

    def test_wrongMessages(self) -> None:
        with self.assertRaises(ValueError):
            encode_summary_reply(NmiMessage(T.GET_PORTTRAN, 1), "S", StatisticsInfo())
        with self.assertRaises(ValueError):
            encode_porttran_reply(NmiMessage(T.GET_PORTTRAN, 1, reply=True), "S", [])
        with self.assertRaises(ValueError):
            encode_interfaces_reply(NmiMessage(T.GET_IPINTERFACES, 1), "", [])
        with self.assertRaises(ValueError):
            encode_interfaces_reply(
                NmiMessage(T.GET_IPINTERFACES, 1),
                "S",
                [NAT],  # type: ignore[list-item]
            )
        failed = NmiMessage(T.GET_SUMMARY, 1).refuse(ReturnCode.ENXIO)
        with self.assertRaises(ValueError):
            decode_summary_reply(failed)

    def test_emptyTables(self) -> None:
        """
        A stack with no interfaces or translations has a reply of its stack
        record alone.
        """
        reply = through_bytes(
            encode_porttran_reply(NmiMessage(T.GET_PORTTRAN, 2), "TCPCS3", [])
        )
        self.assertEqual(reply.records, (STACK,))
        self.assertEqual(decode_porttran_reply(reply), ("TCPCS3", []))


class DocumentationTests(SynchronousTestCase):
    """
    C{docs/nmi.md} shows what the codec makes.
    """

    def dump(self, data: bytes) -> str:
        return "\n".join(
            f"{offset:04x}  " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
            for offset in range(0, len(data), 16)
        )

    def assertDocumented(self, message: NmiMessage) -> None:
        dump = "```text\n" + self.dump(encode_message(message)) + "\n```"
        self.assertTrue(dump in DOCS.read_text(encoding="utf-8"), dump)

    def test_summaryExample(self) -> None:
        self.assertDocumented(
            encode_summary_reply(
                NmiMessage(T.GET_SUMMARY, 10, target="client3"),
                "TCPCS3",
                StatisticsInfo(
                    p1Active=1,
                    p1LclActSuccess=2,
                    p1RmtActFailure=1,
                    p1Retransmit=3,
                    p2Active=2,
                    p2LclActSuccess=2,
                ),
            )
        )

    def test_interfacesExample(self) -> None:
        self.assertDocumented(
            encode_interfaces_reply(NmiMessage(T.GET_IPINTERFACES, 11), "TCPCS3", [LO])
        )

    def test_porttranExample(self) -> None:
        self.assertDocumented(
            encode_porttran_reply(NmiMessage(T.GET_PORTTRAN, 12), "TCPCS3", [])
        )
