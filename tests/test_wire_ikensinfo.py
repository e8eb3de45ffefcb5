"""
Tests for L{nsstwisted.wire.ikensinfo}, the NMsecNSS records of
C{NMsec_GET_IKENSINFO}.

The strategies live here rather than in C{tests/strategies.py} for now,
since only this module and the C{nss-ipsec} tests use them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.ikensinfo import (
    IKENSINFO_SIZE,
    SYSTEM_SECTION_SIZE,
    IkeNssConnectionState,
    IkeNssFlags,
    IkeNssInfo,
    decode_ikensinfo,
    decode_ikensinfo_reply,
    encode_ikensinfo,
    encode_ikensinfo_reply,
    ikensinfo_from_records,
    ikensinfo_records,
)
from nsstwisted.wire.nmi import (
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    decode_message,
    encode_message,
)
from tests.strategies import (
    ike_nss_infos,
    ike_nss_lists,
    ikensinfo_damaged,
    ikensinfo_raw_records,
    ikensinfo_system_names,
)

DOCS = Path(__file__).parent.parent / "docs" / "nmi.md"
S = IkeNssConnectionState
REQUEST = NmiMessage(NmiMessageType.GET_IKENSINFO, 3)

# 2006/11/17 11:19:09 UTC, the seed's connection time.
CONNECTED_AT = 1163762349


def client(stackName: str = "TCPCS3", **changes: Any) -> IkeNssInfo:
    """
    A connected NSS client, like the seed's TCPCS3, with any field changed.
    """
    values: dict[str, Any] = dict(
        stackName=stackName,
        clientName="client3",
        configured=True,
        remoteMgmtSelected=True,
        remoteMgmtEnabled=True,
        certSelected=True,
        certEnabled=True,
        clientApiVersion=1,
        serverApiVersion=1,
        clientAddress="10.10.10.1",
        clientPort=50105,
        serverAddress="10.10.10.3",
        serverPort=4159,
        serverSystemName="MVS052",
        userid="USER3",
        connectionState=S.CONNECTED,
        timeConnected=CONNECTED_AT,
        timeLastMessage=CONNECTED_AT,
    )
    values.update(changes)
    return IkeNssInfo(**values)


class RoundTripTests(SynchronousTestCase):
    """
    What the encoder makes, the decoder reads back unchanged.
    """

    @given(ike_nss_infos())
    def test_entry(self, info: IkeNssInfo) -> None:
        data = encode_ikensinfo(info)
        self.assertEqual(len(data), IKENSINFO_SIZE)
        self.assertEqual(decode_ikensinfo(data), info)

    @given(ikensinfo_system_names, ike_nss_lists())
    def test_reply(self, systemName: str, infos: list[IkeNssInfo]) -> None:
        """
        Through the NMI codec and its bytes, as the socket carries it.
        """
        reply = encode_ikensinfo_reply(REQUEST, systemName, infos)
        decoded = decode_message(encode_message(reply))
        assert isinstance(decoded, NmiMessage)
        self.assertEqual(decode_ikensinfo_reply(decoded), (systemName, infos))

    def test_notConfigured(self) -> None:
        info = IkeNssInfo.not_configured("TCPCS")
        self.assertEqual(info, IkeNssInfo("TCPCS"))
        self.assertEqual(info.connectionState, S.NOT_CONFIGURED)
        self.assertEqual(info.flags, IkeNssFlags(0))
        self.assertEqual(decode_ikensinfo(encode_ikensinfo(info)), info)

    def test_noStacks(self) -> None:
        """
        iked without stacks still says which system it is.
        """
        reply = encode_ikensinfo_reply(REQUEST, "MVS052", [])
        self.assertEqual(len(reply.records), 1)
        self.assertEqual(decode_ikensinfo_reply(reply), ("MVS052", []))

    def test_order(self) -> None:
        infos = [IkeNssInfo("B"), client("A"), IkeNssInfo("C")]
        reply = encode_ikensinfo_reply(REQUEST, "SYS", infos)
        self.assertEqual(decode_ikensinfo_reply(reply)[1], infos)

    def test_stateTexts(self) -> None:
        self.assertEqual(
            [state.text for state in S],
            ["n/a", "connecting", "connected", "disconnected"],
        )


class LayoutTests(SynchronousTestCase):
    """
    The bytes sit where C{docs/nmi.md} says.
    """

    def test_offsets(self) -> None:
        info = client(
            clientAddress="2001:db8::1",
            timeLastMessage=CONNECTED_AT + 60,
            clientApiVersion=2,
            certEnabled=False,
        )
        data = encode_ikensinfo(info)
        self.assertEqual(data[0:24], b"client3".ljust(24))
        self.assertEqual(data[24:32], b"TCPCS3  ")
        self.assertEqual(data[32:40], b"USER3   ")
        self.assertEqual(data[40:48], b"MVS052  ")
        self.assertEqual(data[48:52], bytes([0, 0, 0, 0x1B]))
        self.assertEqual(data[52:56], (2).to_bytes(4, "big"))
        self.assertEqual(data[56:60], (1).to_bytes(4, "big"))
        self.assertEqual(data[60:64], bytes([3, 0, 0, 0]))
        self.assertEqual(data[64:72], CONNECTED_AT.to_bytes(8, "big"))
        self.assertEqual(data[72:80], (CONNECTED_AT + 60).to_bytes(8, "big"))
        self.assertEqual(data[80:82], (50105).to_bytes(2, "big"))
        self.assertEqual(data[82:84], (4159).to_bytes(2, "big"))
        self.assertEqual(data[84:88], bytes(4))
        self.assertEqual(data[88:136], b"2001:db8::1".ljust(48))
        self.assertEqual(data[136:184], b"10.10.10.3".ljust(48))

    def test_flags(self) -> None:
        """
        IBM's three bits first, then remote management.
        """
        self.assertEqual(
            [int(flag) for flag in IkeNssFlags], [0x01, 0x02, 0x04, 0x08, 0x10]
        )
        self.assertEqual(client().flags, IkeNssFlags(0x1F))
        only = client(remoteMgmtSelected=False, remoteMgmtEnabled=False)
        self.assertEqual(only.flags, IkeNssFlags(0x07))

    def test_records(self) -> None:
        records = ikensinfo_records("MVS052", [IkeNssInfo("TCPCS"), client()])
        self.assertEqual(records[0], NmiRecord((NmiSection(1, b"MVS052  "),)))
        self.assertEqual(len(records), 3)
        for record in records[1:]:
            self.assertEqual(len(record.sections), 1)
            self.assertEqual(record.sections[0].entries, 1)
            self.assertEqual(len(record.sections[0].data), IKENSINFO_SIZE)
        self.assertEqual(len(records[0].sections[0].data), SYSTEM_SECTION_SIZE)

    def test_replyOfRequest(self) -> None:
        reply = encode_ikensinfo_reply(REQUEST, "MVS052", [])
        self.assertEqual(
            (reply.messageType, reply.correlator, reply.reply, reply.ok),
            (NmiMessageType.GET_IKENSINFO, 3, True, True),
        )


class ConstructionTests(SynchronousTestCase):
    """
    A value the encoder would refuse cannot be made at all: iked's bug
    shows where it happens, not when an operator asks.
    """

    def assertRefused(self, text: str, make: Any) -> None:
        error = self.assertRaises(ValueError, make)
        self.assertIn(text, str(error))

    def test_enabledWithoutSelected(self) -> None:
        self.assertRefused(
            "certEnabled without certSelected",
            lambda: client(certSelected=False),
        )
        self.assertRefused(
            "remoteMgmtEnabled without remoteMgmtSelected",
            lambda: client(remoteMgmtSelected=False),
        )

    def test_clientNameMeansConfigured(self) -> None:
        self.assertRefused("has a clientName", lambda: client(clientName=""))
        self.assertRefused(
            "has no clientName",
            lambda: IkeNssInfo("TCPCS", clientName="client0"),
        )

    def test_stateMeansConfigured(self) -> None:
        self.assertRefused(
            "has a connectionState",
            lambda: client(connectionState=S.NOT_CONFIGURED),
        )
        self.assertRefused(
            "has no connectionState",
            lambda: IkeNssInfo("TCPCS", connectionState=S.CONNECTING),
        )

    def test_notConfiguredHasNothing(self) -> None:
        """
        The report's n/a lines for such a stack are the data, not a mask.
        """
        changes: list[dict[str, Any]] = [
            {"userid": "USER1"},
            {"certSelected": True},
            {"clientAddress": "10.0.0.1", "clientPort": 1},
            {"timeConnected": 5},
            {"serverApiVersion": 1},
        ]
        for change in changes:
            self.assertRefused(
                f"has no {', '.join(change)}",
                lambda: IkeNssInfo("TCPCS", **change),  # noqa: B023
            )

    def test_addressAndPort(self) -> None:
        self.assertRefused(
            "clientAddress and clientPort go together", lambda: client(clientPort=0)
        )
        self.assertRefused(
            "serverAddress and serverPort go together",
            lambda: client(serverAddress=""),
        )

    def test_badAddress(self) -> None:
        for address in ["nssd.example.com", "10.10.10.256", "1.2.3", "::g"]:
            self.assertRefused(
                "is not an IPv4 or IPv6 address",
                lambda: client(serverAddress=address),  # noqa: B023
            )
        self.assertRefused("clientAddress", lambda: client(clientAddress=" 10.0.0.1"))
        self.assertRefused("clientAddress", lambda: client(clientAddress="::1" * 20))

    def test_names(self) -> None:
        bad: list[tuple[str, Any]] = [
            ("stackName", ""),
            ("stackName", "TCPCS123X"),
            ("stackName", "TCP CS"),
            ("clientName", "c" * 25),
            ("clientName", "client\u00e9"),
            ("userid", "USER_1"),
            ("userid", "USERIDTOO"),
            ("serverSystemName", "MVS052\n"),
            ("stackName", 7),
        ]
        for field, value in bad:
            self.assertRefused(
                field,
                lambda: client(**{field: value}),  # noqa: B023
            )

    def test_numbers(self) -> None:
        bad: list[tuple[str, Any]] = [
            ("clientPort", 65536),
            ("serverPort", -1),
            ("clientApiVersion", 2**32),
            ("timeConnected", 2**64),
            ("timeConnected", 1.5),
            ("timeLastMessage", True),
            ("serverApiVersion", "1"),
        ]
        for field, value in bad:
            self.assertRefused(
                field,
                lambda: client(**{field: value}),  # noqa: B023
            )

    def test_types(self) -> None:
        self.assertRefused("is not a bool", lambda: client(certSelected=1))
        self.assertRefused(
            "is not an IkeNssConnectionState", lambda: client(connectionState=3)
        )
        self.assertRefused("is not an IkeNssInfo", lambda: encode_ikensinfo("x"))  # type: ignore[arg-type]

    def test_errorNamesStack(self) -> None:
        self.assertRefused(
            "IkeNssInfo of stack 'TCPCS3':", lambda: client(certSelected=False)
        )


class DecodeFailureTests(SynchronousTestCase):
    """
    Every way an entry or a reply can be wrong is a L{FieldDecodeError}
    that names the field.
    """

    def entry(self, **changes: Any) -> bytearray:
        return bytearray(encode_ikensinfo(client(**changes)))

    def assertBad(self, data: bytes | bytearray, text: str) -> None:
        error = self.assertRaises(FieldDecodeError, decode_ikensinfo, bytes(data))
        self.assertIn(text, error.detail)

    def test_size(self) -> None:
        self.assertBad(b"", "is 184 bytes, not 0")
        self.assertBad(self.entry() + b"\0", "is 184 bytes, not 185")

    def test_flags(self) -> None:
        data = self.entry()
        data[51] |= 0x20
        self.assertBad(data, "NMsIKENSFlags: bits 0x20 are not defined")
        data = self.entry()
        data[48] = 0x80
        self.assertBad(data, "bits 0x80000000")

    def test_flagRules(self) -> None:
        data = self.entry()
        data[51] = 0x1F & ~0x02  # certificate enabled, not selected
        self.assertBad(data, "certEnabled without certSelected")
        data = self.entry()
        data[51] = 0x1E  # not configured, but a client
        self.assertBad(data, "not an NSS client has no clientName")

    def test_state(self) -> None:
        for value in (0, 5, 255):
            data = self.entry()
            data[60] = value
            self.assertBad(data, f"NMsIKENSConnState: {value} is not")

    def test_reserved(self) -> None:
        for offset in (61, 63, 84, 87):
            data = self.entry()
            data[offset] = 1
            self.assertBad(data, "reserved bytes not zero")

    def test_texts(self) -> None:
        for offset, name in [
            (0, "NMsIKENSClientName"),
            (24, "NMsIKENSStackName"),
            (32, "NMsIKENSUserid"),
            (40, "NMsIKENSServerSysName"),
            (88, "NMsIKENSClientAddr"),
            (136, "NMsIKENSServerAddr"),
        ]:
            for byte in (0x00, 0x0A, 0xC1, ord("%") if offset < 88 else 0x7F):
                data = self.entry()
                data[offset] = byte
                self.assertBad(data, name)

    def test_blankStackName(self) -> None:
        data = self.entry()
        data[24:32] = b" " * 8
        self.assertBad(data, "stackName is empty")

    def test_leadingBlank(self) -> None:
        """
        Only trailing blanks are padding; one in front is part of a name,
        and not a valid one.
        """
        data = self.entry()
        data[24:32] = b" TCPCS3 "
        self.assertBad(data, "NMsIKENSStackName")

    def test_address(self) -> None:
        data = self.entry()
        data[136:184] = b"nssd.example.com".ljust(48)
        self.assertBad(data, "'nssd.example.com' is not an IPv4 or IPv6 address")

    @given(st.binary(min_size=IKENSINFO_SIZE, max_size=IKENSINFO_SIZE))
    def test_anyBytes(self, data: bytes) -> None:
        try:
            decode_ikensinfo(data)
        except FieldDecodeError:
            pass

    @given(ikensinfo_damaged())
    def test_damaged(self, data: bytes) -> None:
        try:
            info = decode_ikensinfo(data)
        except FieldDecodeError:
            return
        self.assertEqual(encode_ikensinfo(info), data)


class RecordFailureTests(SynchronousTestCase):
    """
    The reply's records are checked as strictly as the entries.
    """

    def records(self, *infos: IkeNssInfo) -> list[NmiRecord]:
        return list(ikensinfo_records("MVS052", infos))

    def assertBad(self, records: list[NmiRecord], text: str) -> None:
        error = self.assertRaises(FieldDecodeError, ikensinfo_from_records, records)
        self.assertIn(text, error.detail)

    def test_noSystemRecord(self) -> None:
        self.assertBad([], "the system record is missing")

    def test_systemRecord(self) -> None:
        stack = self.records(client())[1]
        self.assertBad(
            [stack], "the system record holds 1 entry of 8 bytes, not 1 in 184"
        )
        two = NmiRecord((NmiSection(1, b"MVS052  "), NmiSection(0, b"")))
        self.assertBad([two], "the system record has 1 section, not 2")
        self.assertBad([NmiRecord((NmiSection(1, b" " * 8),))], "is blank")
        self.assertBad([NmiRecord((NmiSection(1, b"MVS 052 "),))], "NMsIKENSSysName")
        self.assertBad([NmiRecord((NmiSection(2, b"MVS052  "),))], "not 2 in 8")

    def test_stackRecord(self) -> None:
        system, stack = self.records(client())
        entry = stack.sections[0].data
        self.assertBad([system, NmiRecord(())], "stack record 1 has 1 section, not 0")
        self.assertBad(
            [system, stack, NmiRecord((NmiSection(1, entry[:-1]),))],
            "stack record 2 holds 1 entry of 184 bytes, not 1 in 183",
        )
        self.assertBad(
            [system, NmiRecord((NmiSection(2, entry + entry),))],
            "stack record 1 holds 1 entry",
        )
        broken = bytearray(entry)
        broken[60] = 0
        self.assertBad(
            [system, NmiRecord((NmiSection(1, bytes(broken)),))],
            "stack record 1: NMsIKENSConnState",
        )

    def test_duplicateStack(self) -> None:
        """
        Stack names are case-insensitive, as C{ipsec -p} takes them.
        """
        system, first = self.records(IkeNssInfo("TCPCS"))
        _, second = self.records(IkeNssInfo("tcpcs"))
        self.assertBad([system, first, second], "stack tcpcs is listed twice")
        error = self.assertRaises(
            ValueError,
            ikensinfo_records,
            "MVS052",
            [IkeNssInfo("TCPCS"), IkeNssInfo("tcpcs")],
        )
        self.assertIn("listed twice", str(error))

    def test_badSystemName(self) -> None:
        for name in ("", "MVS0521XX", "MVS 1"):
            self.assertRaises(ValueError, ikensinfo_records, name, [])

    def test_notAReply(self) -> None:
        """
        Asking the decoder about anything but a successful reply, or the
        encoder about anything but a request, is the caller's mistake.
        """
        reply = encode_ikensinfo_reply(REQUEST, "MVS052", [])
        for message in [
            REQUEST,
            REQUEST.refuse(ReturnCode.EOPNOTSUPP, ReasonCode.NONE, "no"),
            dataclasses.replace(reply, messageType=NmiMessageType.GET_SUMMARY),
        ]:
            self.assertRaises(ValueError, decode_ikensinfo_reply, message)
        for message in [reply, NmiMessage(NmiMessageType.GET_SUMMARY, 1)]:
            self.assertRaises(ValueError, encode_ikensinfo_reply, message, "S", [])

    @given(st.lists(ikensinfo_raw_records, max_size=4))
    def test_anyRecords(self, records: list[NmiRecord]) -> None:
        try:
            ikensinfo_from_records(records)
        except FieldDecodeError:
            pass


# The worked example of docs/nmi.md: iked on MVS052 with one stack, TCPCS3,
# connected.
EXAMPLE = encode_ikensinfo_reply(
    NmiMessage(NmiMessageType.GET_IKENSINFO, 5),
    "MVS052",
    [client()],
)


def hexdump(data: bytes) -> str:
    """The layout the specification prints messages in: 16 bytes a line."""
    return "\n".join(
        f"{offset:04x}  " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
        for offset in range(0, len(data), 16)
    )


class DocumentationTests(SynchronousTestCase):
    """
    C{docs/nmi.md} shows what the code does.
    """

    def test_example(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        data = encode_message(EXAMPLE)
        self.assertIn(hexdump(data), text)
        self.assertIn(f"{len(data)} bytes:", text)
        self.assertEqual(decode_message(data), EXAMPLE)

    def test_layoutTable(self) -> None:
        """
        The NMsecNSS table's rows follow one another and add up to the
        entry's size.
        """
        text = DOCS.read_text(encoding="utf-8")
        rows = re.findall(
            r"^ *\| 0x([0-9a-f]+) \| (\d+) \| `(NMsIKENS\w+)` \|", text, re.MULTILINE
        )
        self.assertIn(("00", "8", "NMsIKENSSysName"), rows)
        rows = [row for row in rows if row[2] != "NMsIKENSSysName"]
        self.assertGreater(len(rows), 10)
        end = 0
        for start, size, _ in rows:
            self.assertEqual(int(start, 16), end)
            end += int(size)
        self.assertEqual(end, IKENSINFO_SIZE)
