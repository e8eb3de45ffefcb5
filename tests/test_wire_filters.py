"""
Tests for L{nsstwisted.wire.filters}: the NMsecIPFilter records of the
filter display requests and the NMsecTunnel records of the control
requests, among them the filter set switch.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.codes import ReturnCode
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.filters import (
    FILTER_REQUESTS,
    FILTER_SET_REQUESTS,
    FILTER_SIZE,
    STACK_SECTION_SIZE,
    TUNNEL_SIZE,
    FilterAction,
    FilterDirection,
    FilterLogging,
    FilterRecordInfo,
    FilterScope,
    FilterSet,
    FilterSettings,
    FilterState,
    FilterType,
    TunnelControl,
    TunnelStatus,
    answer_filter_set,
    control_from_records,
    decode_control_reply,
    decode_control_request,
    decode_filter,
    decode_filter_reply,
    decode_filter_report,
    encode_control_reply,
    encode_filter,
    encode_filter_reply,
    filter_from_records,
    filter_records,
)
from nsstwisted.wire.nmi import (
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    decode_message,
    encode_message,
)
from nsstwisted.wire.nss import STACK_NAME_PATTERN
from tests.strategies import filter_infos, filter_raw_records, filter_settings

DOCS = Path(__file__).parent.parent / "docs" / "nmi.md"
T = NmiMessageType
CURRENT = NmiMessage(T.GET_IPFLTCURR, 3)
SET_DEFAULT = NmiMessage(T.SET_IPFLTDEFAULT, 4)


def rule(name: str = "PermitSSH", **changes: Any) -> FilterRecordInfo:
    """A policy rule permitting SSH in from 10.1.1.0/24, with any change."""
    values: dict[str, Any] = dict(
        filterName=name,
        filterSet=FilterSet.POLICY,
        action=FilterAction.PERMIT,
        direction=FilterDirection.INBOUND,
        logging=FilterLogging.PERMIT,
        protocol=6,
        scope=FilterScope.LOCAL,
        sourceAddress="10.1.1.0",
        sourcePrefix=24,
        destinationAddress="10.1.1.5",
        destinationPrefix=32,
        sourcePorts=(1024, 65535),
        destinationPorts=(22, 22),
    )
    values.update(changes)
    return FilterRecordInfo(**values)


DENY_ALL = FilterRecordInfo("SYSDEFAULTDENYRULE", FilterSet.DEFAULT)


def through_bytes(message: NmiMessage) -> NmiMessage:
    decoded = decode_message(encode_message(message))
    assert isinstance(decoded, NmiMessage), decoded
    return decoded


class FilterRoundTripTests(SynchronousTestCase):
    """
    What the encoder makes, the decoder reads back unchanged.
    """

    @given(filter_infos())
    def test_entry(self, info: FilterRecordInfo) -> None:
        data = encode_filter(info)
        self.assertEqual(len(data), FILTER_SIZE)
        self.assertEqual(decode_filter(data), info)

    @given(
        st.sampled_from(sorted(FILTER_REQUESTS)),
        st.from_regex(STACK_NAME_PATTERN, fullmatch=True),
        st.sampled_from(FilterSet),
        filter_settings,
        st.data(),
    )
    def test_reply(
        self,
        messageType: NmiMessageType,
        stackName: str,
        currentSet: FilterSet,
        values: FilterSettings,
        data: st.DataObject,
    ) -> None:
        wanted = {
            T.GET_IPFLTCURR: currentSet,
            T.GET_IPFLTDEFAULT: FilterSet.DEFAULT,
            T.GET_IPFLTPOLICY: FilterSet.POLICY,
        }[messageType]
        rules = data.draw(st.lists(filter_infos(wanted), max_size=5))
        request = NmiMessage(messageType, 9, target="client3")
        reply = through_bytes(
            encode_filter_reply(request, stackName, currentSet, rules, values)
        )
        self.assertEqual((reply.correlator, reply.target), (9, "client3"))
        report = decode_filter_report(reply)
        self.assertEqual(
            (report.stackName, report.currentSet, report.settings, report.rules),
            (stackName, currentSet, values, rules),
        )
        self.assertEqual(decode_filter_reply(reply), (stackName, currentSet, rules))

    def test_defaultSettings(self) -> None:
        """
        Without settings, nsstwisted's fixed values: Logging On, Predecap
        Off, DVIPSec No, FIPS140 No, NatKeepAlive 20.
        """
        reply = encode_filter_reply(CURRENT, "TCPCS", FilterSet.POLICY, [rule()])
        self.assertEqual(
            decode_filter_report(reply).settings,
            FilterSettings(
                logging=True,
                predecap=False,
                dvipsec=False,
                fips140=False,
                natKeepAlive=20,
            ),
        )

    def test_offsets(self) -> None:
        data = encode_filter(rule())
        self.assertEqual(data[0:48], b"PermitSSH".ljust(48))
        self.assertEqual(data[48:96], b"10.1.1.0".ljust(48))
        self.assertEqual(data[96:144], b"10.1.1.5".ljust(48))
        self.assertEqual(
            data[144:168],
            bytes([1, 1, 1, 1, 1, 2, 6, 1, 24, 32, 0, 0])
            + bytes.fromhex("0400ffff00160016")
            + bytes(4),
        )

    def test_stackEntry(self) -> None:
        records = filter_records(
            T.GET_IPFLTCURR,
            "TCPCS",
            FilterSet.DEFAULT,
            [],
            FilterSettings(dvipsec=True, natKeepAlive=300),
        )
        [stack] = records
        self.assertEqual(len(stack.sections[0].data), STACK_SECTION_SIZE)
        self.assertEqual(
            stack.sections[0].data, b"TCPCS   " + bytes.fromhex("00000005 00 00 012c")
        )

    def test_texts(self) -> None:
        self.assertEqual(FilterType.DYNAMIC_ANCHOR.text, "Dynamic Anchor")
        self.assertEqual(FilterDirection.BIDIRECTIONAL.text, "BiDirectional")
        self.assertEqual(FilterLogging.NONE.text, "None")
        self.assertEqual(FilterScope.EITHER.text, "Either")
        # Members of different enumerations with one value keep their texts.
        self.assertEqual(FilterAction.PERMIT.text, "Permit")
        self.assertEqual(TunnelStatus.NOTFOUND.text, "Not found")
        self.assertEqual(TunnelStatus.STATEUPDATED.text, "State updated")
        self.assertEqual(TunnelStatus.STATEALREADYSET.text, "State already set")
        self.assertEqual(FilterSet.POLICY.source, "Stack Policy")
        self.assertEqual(FilterSet.DEFAULT.source, "Stack Profile")
        self.assertEqual((FilterSet.DEFAULT, FilterSet.POLICY), (0, 1))


class FilterRuleTests(SynchronousTestCase):
    """
    L{FilterRecordInfo} refuses what the encoder could not send.
    """

    def test_bad(self) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            (dict(filterName=""), "filterName is empty"),
            (dict(filterName="a b"), "filterName"),
            (dict(filterName="x" * 49), "filterName"),
            (dict(filterSet=1), "filterSet"),
            (dict(filterType=FilterState.ACTIVE), "filterType"),
            (dict(protocol=256), "protocol"),
            (dict(protocol=True), "protocol"),
            (dict(sourceAddress="10.1.1"), "sourceAddress"),
            (dict(sourceAddress=""), "sourceAddress"),
            (dict(sourcePrefix=33), "sourcePrefix 33 is longer"),
            (dict(destinationAddress="::1"), "differ in family"),
            (dict(sourcePorts=(22, 21)), "backwards"),
            (dict(sourcePorts=(0, 70000)), "sourcePorts"),
            (dict(destinationPorts=[22, 22]), "destinationPorts"),
        ]
        for changes, text in cases:
            with self.assertRaises(ValueError, msg=changes) as caught:
                rule(**changes)
            self.assertIn(text, str(caught.exception), changes)
            self.assertIn("FilterRecordInfo of rule", str(caught.exception))

    def test_ipv6(self) -> None:
        info = rule(
            sourceAddress="2001:db8::",
            sourcePrefix=128,
            destinationAddress="::",
            destinationPrefix=0,
        )
        self.assertEqual(decode_filter(encode_filter(info)), info)

    def test_settings(self) -> None:
        with self.assertRaises(ValueError):
            FilterSettings(logging=1)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            FilterSettings(natKeepAlive=-1)

    def test_wrongSet(self) -> None:
        """
        Every rule of a reply belongs to the set the request asked for.
        """
        for request, current, info in [
            (CURRENT, FilterSet.DEFAULT, rule()),
            (NmiMessage(T.GET_IPFLTDEFAULT, 1), FilterSet.DEFAULT, rule()),
            (NmiMessage(T.GET_IPFLTPOLICY, 1), FilterSet.POLICY, DENY_ALL),
        ]:
            with self.assertRaises(ValueError) as caught:
                encode_filter_reply(request, "TCPCS", current, [info])
            self.assertIn("set", str(caught.exception))
        # GET_IPFLTDEFAULT lists the default set whatever is current.
        reply = encode_filter_reply(
            NmiMessage(T.GET_IPFLTDEFAULT, 1), "TCPCS", FilterSet.POLICY, [DENY_ALL]
        )
        self.assertEqual(decode_filter_reply(reply)[1:], (FilterSet.POLICY, [DENY_ALL]))

    def test_notARequest(self) -> None:
        for message in [
            NmiMessage(T.GET_IKENSINFO, 1),
            dataclasses.replace(CURRENT, reply=True),
        ]:
            with self.assertRaises(ValueError):
                encode_filter_reply(message, "TCPCS", FilterSet.POLICY, [])
        with self.assertRaises(ValueError):
            encode_filter_reply(CURRENT, "", FilterSet.POLICY, [])
        with self.assertRaises(ValueError):
            encode_filter_reply(CURRENT, "TOOLONGNAME", FilterSet.POLICY, [])
        with self.assertRaises(ValueError):
            encode_filter_reply(CURRENT, "TCPCS", 1, [])  # type: ignore[arg-type]
        for message in [CURRENT, CURRENT.refuse(ReturnCode.EIO)]:
            with self.assertRaises(ValueError):
                decode_filter_reply(message)


class FilterDecodeTests(SynchronousTestCase):
    """
    Bytes that break a rule are L{FieldDecodeError}s, and nothing else.
    """

    def entry(self, offset: int, value: bytes) -> bytes:
        data = bytearray(encode_filter(rule()))
        data[offset : offset + len(value)] = value
        return bytes(data)

    def test_fields(self) -> None:
        for offset, value, text in [
            (144, b"\x02", "NMsFltSet: 2"),
            (145, b"\x00", "NMsFltType: 0"),
            (146, b"\x03", "NMsFltState"),
            (147, b"\x03", "NMsFltAction"),
            (148, b"\x04", "NMsFltDirection"),
            (149, b"\x05", "NMsFltLogging"),
            (151, b"\x00", "NMsFltScope"),
            (152, b"\x21", "sourcePrefix 33"),
            (154, b"\x01", "reserved"),
            (164, b"\x01", "reserved"),
            (158, b"\x00\x01", "backwards"),
            (0, b" ", "NMsFltName"),
            (0, b" " * 48, "filterName is empty"),
            (48, b"x", "sourceAddress"),
            (96, b"\xff", "NMsFltDstAddr"),
        ]:
            with self.assertRaises(FieldDecodeError, msg=text) as caught:
                decode_filter(self.entry(offset, value))
            self.assertIn(text, str(caught.exception.detail), text)

    def test_size(self) -> None:
        with self.assertRaises(FieldDecodeError):
            decode_filter(bytes(FILTER_SIZE - 1))

    @given(st.binary(min_size=FILTER_SIZE, max_size=FILTER_SIZE))
    def test_anyBytes(self, data: bytes) -> None:
        try:
            info = decode_filter(data)
        except FieldDecodeError:
            return
        self.assertEqual(encode_filter(info), data)

    def records(self, *records: NmiRecord) -> Any:
        return filter_from_records(T.GET_IPFLTCURR, records)

    def test_records(self) -> None:
        good = filter_records(T.GET_IPFLTCURR, "TCPCS", FilterSet.POLICY, [rule()])
        stack, entry = good
        with self.assertRaises(FieldDecodeError) as caught:
            self.records()
        self.assertIn("stack record is missing", caught.exception.detail)
        with self.assertRaises(FieldDecodeError) as caught:
            self.records(entry)
        self.assertIn("the stack record holds 1 entry of 16", caught.exception.detail)
        with self.assertRaises(FieldDecodeError) as caught:
            self.records(stack, stack)
        self.assertIn("filter record 1 holds 1 entry of 168", caught.exception.detail)
        for raw, text in [
            (b"        " + bytes(8), "NMsFltStackName is blank"),
            (b"TCPCS   " + bytes.fromhex("00000010 00 00 0014"), "bits 0x10"),
            (b"TCPCS   " + bytes.fromhex("00000000 02 00 0014"), "NMsFltCurrentSet"),
            (b"TCPCS   " + bytes.fromhex("00000000 01 01 0014"), "reserved"),
            (b"TCP CS  " + bytes.fromhex("00000000 01 00 0014"), "NMsFltStackName"),
        ]:
            with self.assertRaises(FieldDecodeError, msg=text) as caught:
                self.records(NmiRecord((NmiSection(1, raw),)), entry)
            self.assertIn(text, caught.exception.detail)
        # A default rule in a current-set reply whose current set is policy.
        wrong = filter_records(
            T.GET_IPFLTDEFAULT, "TCPCS", FilterSet.POLICY, [DENY_ALL]
        )
        with self.assertRaises(FieldDecodeError) as caught:
            self.records(stack, wrong[1])
        self.assertIn("belongs to the DEFAULT set", caught.exception.detail)

    @given(st.lists(filter_raw_records, max_size=3))
    def test_anyRecords(self, records: list[NmiRecord]) -> None:
        try:
            self.records(*records)
        except FieldDecodeError:
            pass


class ControlTests(SynchronousTestCase):
    """
    The NMsecTunnel records of the control requests.
    """

    def test_layout(self) -> None:
        [record] = encode_control_reply(
            NmiMessage(T.REFRESH_IKETUN, 1),
            [TunnelControl("KeyRule1", "K1", TunnelStatus.STATEUPDATED)],
        ).records
        data = record.sections[0].data
        self.assertEqual(len(data), TUNNEL_SIZE)
        self.assertEqual(data[0:48], b"KeyRule1".ljust(48))
        self.assertEqual(data[48:96], b"K1".ljust(48))
        self.assertEqual(data[96:], b"\x02\x00\x00\x00")

    def test_statusValues(self) -> None:
        self.assertEqual(
            {s.name: int(s) for s in TunnelStatus},
            dict(
                NONE=0,
                NOTFOUND=1,
                STATEUPDATED=2,
                STATEALREADYSET=3,
                NOKER=5,
                NOFILTER=6,
                NODATAOFFER=7,
            ),
        )

    def test_roundTrip(self) -> None:
        controls = [
            TunnelControl("KeyRule1", "K1", TunnelStatus.STATEUPDATED),
            TunnelControl("", "K9", TunnelStatus.NOTFOUND),
        ]
        # A request's entries carry status NONE.
        request = NmiMessage(
            T.REFRESH_IKETUN,
            2,
            records=encode_control_reply(
                NmiMessage(T.REFRESH_IKETUN, 2), controls[:1]
            ).records,
        )
        with self.assertRaises(FieldDecodeError):
            decode_control_request(through_bytes(request))
        reply = through_bytes(
            encode_control_reply(NmiMessage(T.REFRESH_IKETUN, 2), controls)
        )
        self.assertEqual(decode_control_reply(reply), controls)
        asked = [TunnelControl(tunnelId="K1")]
        records = tuple(
            NmiRecord((NmiSection(1, b"".ljust(48) + b"K1".ljust(48) + bytes(4)),))
            for _ in asked
        )
        self.assertEqual(
            decode_control_request(NmiMessage(T.REFRESH_IKETUN, 3, records=records)),
            asked,
        )

    def test_filterSwitch(self) -> None:
        for request in (SET_DEFAULT, NmiMessage(T.SET_IPFLTPOLICY, 5)):
            for changed, status in [
                (True, TunnelStatus.STATEUPDATED),
                (False, TunnelStatus.STATEALREADYSET),
            ]:
                reply = through_bytes(answer_filter_set(request, "TCPCS3", changed))
                self.assertEqual(
                    decode_control_reply(reply), [TunnelControl("TCPCS3", "", status)]
                )
        self.assertEqual(decode_control_request(SET_DEFAULT), [])
        reply = answer_filter_set(SET_DEFAULT, "TCPCS3", TunnelStatus.NOTFOUND)
        self.assertEqual(decode_control_reply(reply)[0].status, TunnelStatus.NOTFOUND)
        with self.assertRaises(ValueError):
            answer_filter_set(SET_DEFAULT, "TCPCS3", TunnelStatus.NOKER)
        with self.assertRaises(ValueError):
            answer_filter_set(SET_DEFAULT, "TCPCS3", 9)  # type: ignore[arg-type]
        self.assertEqual(
            sorted(FILTER_SET_REQUESTS), [T.SET_IPFLTDEFAULT, T.SET_IPFLTPOLICY]
        )

    def test_filterSwitchRules(self) -> None:
        for controls, text in [
            ([], "one NMsecTunnel entry, not 0"),
            (
                [TunnelControl("A", "", TunnelStatus.STATEUPDATED)] * 2,
                "not 2",
            ),
            ([TunnelControl("A", "", TunnelStatus.NOKER)], "not NOKER"),
            ([TunnelControl("", "", TunnelStatus.STATEUPDATED)], "names the stack"),
            ([TunnelControl("A")], "status NONE"),
        ]:
            with self.assertRaises(ValueError, msg=text) as caught:
                encode_control_reply(SET_DEFAULT, controls)
            self.assertIn(text, str(caught.exception))
        with self.assertRaises(FieldDecodeError) as decodeError:
            control_from_records(T.SET_IPFLTDEFAULT, True, ())
        self.assertIn("not 0", decodeError.exception.detail)
        request = dataclasses.replace(
            SET_DEFAULT,
            records=answer_filter_set(SET_DEFAULT, "A", True).records,
        )
        with self.assertRaises(FieldDecodeError):
            decode_control_request(request)

    def test_bad(self) -> None:
        for args in [("a b",), ("", "x" * 49), ("", "", 2)]:
            with self.assertRaises(ValueError):
                TunnelControl(*args)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            encode_control_reply(CURRENT, [])
        with self.assertRaises(ValueError):
            answer_filter_set(NmiMessage(T.REFRESH_IKETUN, 1), "A", True)
        with self.assertRaises(ValueError):
            decode_control_reply(SET_DEFAULT)
        for raw, text in [
            (bytes(48) + b" " * 48 + bytes(4), "NMsTunName"),
            (b" " * 96 + b"\x04\x00\x00\x00", "NMsTunStatus: 4"),
            (b" " * 96 + b"\x02\x00\x01\x00", "reserved"),
        ]:
            with self.assertRaises(FieldDecodeError) as caught:
                control_from_records(
                    T.REFRESH_IKETUN, True, [NmiRecord((NmiSection(1, raw),))]
                )
            self.assertIn(text, caught.exception.detail)


class DocumentationTests(SynchronousTestCase):
    """
    C{docs/nmi.md} shows what the codec makes.
    """

    def dump(self, data: bytes) -> str:
        return "\n".join(
            f"{offset:04x}  " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
            for offset in range(0, len(data), 16)
        )

    def test_filterExample(self) -> None:
        request = NmiMessage(T.GET_IPFLTCURR, 8, target="client3")
        reply = encode_filter_reply(
            request,
            "TCPCS3",
            FilterSet.POLICY,
            [
                rule(
                    "PermitSSH",
                    sourcePorts=(0, 0),
                    destinationAddress="10.1.1.5",
                )
            ],
        )
        self.assertIn(
            "```text\n" + self.dump(encode_message(reply)) + "\n```",
            DOCS.read_text(encoding="utf-8"),
        )

    def test_switchExample(self) -> None:
        reply = answer_filter_set(
            NmiMessage(T.SET_IPFLTDEFAULT, 9, target="client3"), "TCPCS3", True
        )
        self.assertIn(
            "```text\n" + self.dump(encode_message(reply)) + "\n```",
            DOCS.read_text(encoding="utf-8"),
        )

    def test_tables(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        section = text[text.index("## 14.") :]
        for member in TunnelStatus:
            if member is not TunnelStatus.NONE:
                self.assertIn(
                    f"| {int(member)} | `NMsec_TUNSTATUS_{member.name}` |", section
                )
        kinds: list[type[Any]] = [
            FilterType,
            FilterState,
            FilterAction,
            FilterDirection,
            FilterLogging,
            FilterScope,
        ]
        for kind in kinds:
            for item in kind:
                self.assertRegex(section, re.escape(f"{int(item)} {item.text}"))
