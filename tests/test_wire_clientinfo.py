"""
Tests for L{nsstwisted.wire.clientinfo}, the NMsecClient records of
C{NMsec_GET_CLIENTINFO}, and the filter records of its request.

The strategies live here rather than in C{tests/strategies.py} for now,
as those of L{tests.test_wire_ikensinfo} do, since only this module and
the C{nss-ipsec} tests use them.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire import ikensinfo
from nsstwisted.wire.clientinfo import (
    CLIENTINFO_SIZE,
    FILTER_SIZE,
    SYSTEM_SECTION_SIZE,
    NssClientFlags,
    NssClientInfo,
    NssClientState,
    NssDiscipline,
    answer_clientinfo,
    clientinfo_filter_record,
    clientinfo_from_records,
    clientinfo_records,
    decode_clientinfo,
    decode_clientinfo_filter,
    decode_clientinfo_reply,
    encode_clientinfo,
    encode_clientinfo_reply,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.nmi import (
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    decode_message,
    encode_message,
)
from nsstwisted.wire.nss import (
    STACK_NAME_PATTERN,
)
from tests.strategies import (
    clientinfo_damaged,
    clientinfo_raw_records,
    clientinfo_system_names,
    nss_client_infos,
    nss_client_lists,
)

DOCS = Path(__file__).parent.parent / "docs" / "nmi.md"
S = NssClientState
D = NssDiscipline
REQUEST = NmiMessage(NmiMessageType.GET_CLIENTINFO, 3)

# 2006/11/27 12:37:08 UTC, the time of the seed's ipsec -x sample.
CONNECTED_AT = calendar.timegm((2006, 11, 27, 12, 37, 8))


def client(clientName: str = "client4", **changes: Any) -> NssClientInfo:
    """
    A connected IPSec client, the seed's C{client4}, with any field changed.
    """
    values: dict[str, Any] = dict(
        clientName=clientName,
        userid="USER1",
        stackName="TCPCS4",
        systemName="MVS052",
        clientAddress="::ffff:10.10.10.1",
        clientPort=50003,
        serverAddress="::ffff:10.10.10.99",
        serverPort=4159,
        remoteMgmtSelected=True,
        remoteMgmtEnabled=True,
        certSelected=True,
        certEnabled=True,
        connectState=S.CONNECTED,
        timeConnected=CONNECTED_AT,
        timeLastMessageFromClient=CONNECTED_AT,
    )
    values.update(changes)
    return NssClientInfo(**values)


class RoundTripTests(SynchronousTestCase):
    """
    What the encoder makes, the decoder reads back unchanged.
    """

    @given(nss_client_infos())
    def test_entry(self, info: NssClientInfo) -> None:
        data = encode_clientinfo(info)
        self.assertEqual(len(data), CLIENTINFO_SIZE)
        self.assertEqual(decode_clientinfo(data), info)

    @given(clientinfo_system_names, nss_client_lists())
    def test_reply(self, systemName: str, infos: list[NssClientInfo]) -> None:
        """
        Through the NMI codec and its bytes, as the socket carries it.
        """
        reply = encode_clientinfo_reply(REQUEST, systemName, infos)
        decoded = decode_message(encode_message(reply))
        assert isinstance(decoded, NmiMessage)
        self.assertEqual(decode_clientinfo_reply(decoded), (systemName, infos))

    def test_unknowns(self) -> None:
        """
        A client that said neither its stack nor its system, seen before
        its connection's ends were known: the minimum a listed client has.
        """
        info = NssClientInfo("c", "U", certSelected=True)
        self.assertEqual(
            (info.stackName, info.systemName, info.connectState, info.discipline),
            ("", "", S.CONNECTED, D.IPSEC),
        )
        self.assertEqual(decode_clientinfo(encode_clientinfo(info)), info)

    def test_noClients(self) -> None:
        """
        nssd without clients still says which system it is.
        """
        reply = encode_clientinfo_reply(REQUEST, "MVS052", [])
        self.assertEqual(len(reply.records), 1)
        self.assertEqual(decode_clientinfo_reply(reply), ("MVS052", []))

    def test_order(self) -> None:
        infos = [client("b"), client("A"), client("c", stackName="")]
        reply = encode_clientinfo_reply(REQUEST, "SYS", infos)
        self.assertEqual(decode_clientinfo_reply(reply)[1], infos)

    def test_stateTexts(self) -> None:
        self.assertEqual([state.text for state in S], ["connected", "disconnecting"])

    def test_stackNameRule(self) -> None:
        """
        One rule for stack names in the NSS protocol and in both NMI
        records, so that what iked says at logon nssd can show.
        """
        self.assertEqual(
            STACK_NAME_PATTERN.pattern, ikensinfo.STACK_NAME_PATTERN.pattern
        )


class LayoutTests(SynchronousTestCase):
    """
    The bytes sit where C{docs/nmi.md} says.
    """

    def test_offsets(self) -> None:
        info = client(
            clientAddress="2001:db8::1",
            timeLastMessageFromClient=CONNECTED_AT + 60,
            certEnabled=False,
            connectState=S.DISCONNECTING,
        )
        data = encode_clientinfo(info)
        self.assertEqual(data[0:24], b"client4".ljust(24))
        self.assertEqual(data[24:32], b"TCPCS4  ")
        self.assertEqual(data[32:40], b"MVS052  ")
        self.assertEqual(data[40:48], b"USER1   ")
        self.assertEqual(data[48:52], bytes([0, 0, 0, 0x0D]))
        self.assertEqual(data[52:56], bytes([1, 2, 0, 0]))
        self.assertEqual(data[56:64], CONNECTED_AT.to_bytes(8, "big"))
        self.assertEqual(data[64:72], (CONNECTED_AT + 60).to_bytes(8, "big"))
        self.assertEqual(data[72:74], (50003).to_bytes(2, "big"))
        self.assertEqual(data[74:76], (4159).to_bytes(2, "big"))
        self.assertEqual(data[76:80], bytes(4))
        self.assertEqual(data[80:128], b"2001:db8::1".ljust(48))
        self.assertEqual(data[128:176], b"::ffff:10.10.10.99".ljust(48))

    def test_unknownsAreBlank(self) -> None:
        data = encode_clientinfo(client(stackName="", systemName=""))
        self.assertEqual(data[24:40], b" " * 16)

    def test_flags(self) -> None:
        self.assertEqual(
            [int(flag) for flag in NssClientFlags], [0x01, 0x02, 0x04, 0x08]
        )
        self.assertEqual(client().flags, NssClientFlags(0x0F))
        only = client(remoteMgmtSelected=False, remoteMgmtEnabled=False)
        self.assertEqual(only.flags, NssClientFlags(0x03))
        granted = client(certEnabled=False, remoteMgmtEnabled=True)
        self.assertEqual(granted.flags, NssClientFlags(0x0D))

    def test_codes(self) -> None:
        self.assertEqual([int(d) for d in D], [1, 2])
        self.assertEqual([int(s) for s in S], [1, 2])

    def test_records(self) -> None:
        records = clientinfo_records("MVS052", [client("a"), client("b")])
        self.assertEqual(records[0], NmiRecord((NmiSection(1, b"MVS052  "),)))
        self.assertEqual(len(records), 3)
        for record in records[1:]:
            self.assertEqual(len(record.sections), 1)
            self.assertEqual(record.sections[0].entries, 1)
            self.assertEqual(len(record.sections[0].data), CLIENTINFO_SIZE)
        self.assertEqual(len(records[0].sections[0].data), SYSTEM_SECTION_SIZE)

    def test_replyOfRequest(self) -> None:
        reply = encode_clientinfo_reply(REQUEST, "MVS052", [])
        self.assertEqual(
            (reply.messageType, reply.correlator, reply.reply, reply.ok),
            (NmiMessageType.GET_CLIENTINFO, 3, True, True),
        )

    def test_filterRecord(self) -> None:
        self.assertEqual(
            clientinfo_filter_record(D.IPSEC),
            NmiRecord((NmiSection(1, b"\x01\x00\x00\x00"),)),
        )
        self.assertEqual(
            clientinfo_filter_record(D.XMLAPPLIANCE).sections[0].data,
            b"\x02\x00\x00\x00",
        )
        self.assertEqual(FILTER_SIZE, 4)
        self.assertRaises(ValueError, clientinfo_filter_record, 1)


class ConstructionTests(SynchronousTestCase):
    """
    A value the encoder would refuse cannot be made at all: nssd's bug
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

    def test_noService(self) -> None:
        self.assertRefused(
            "no service selected",
            lambda: client(
                certSelected=False,
                certEnabled=False,
                remoteMgmtSelected=False,
                remoteMgmtEnabled=False,
            ),
        )

    def test_loggedOn(self) -> None:
        """
        A listed client has logged on: it has a name and a user ID.
        """
        self.assertRefused("clientName is empty", lambda: client(""))
        self.assertRefused("userid is empty", lambda: client(userid=""))

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
            ("clientName", "c" * 25),
            ("clientName", "client\u00e9"),
            ("clientName", "client 4"),
            ("stackName", "TCPCS123X"),
            ("stackName", "TCP CS"),
            ("stackName", "TCP/CS"),
            ("systemName", "MVS05200X"),
            ("systemName", "MVS.052"),
            ("userid", "USER_1"),
            ("userid", "USERIDTOO"),
            ("stackName", 7),
            ("systemName", None),
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
            ("timeConnected", 2**64),
            ("timeConnected", 1.5),
            ("timeLastMessageFromClient", True),
            ("timeLastMessageFromClient", "1"),
        ]
        for field, value in bad:
            self.assertRefused(
                field,
                lambda: client(**{field: value}),  # noqa: B023
            )

    def test_types(self) -> None:
        self.assertRefused("is not a bool", lambda: client(certSelected=1))
        self.assertRefused(
            "connectState 1 is not an NssClientState",
            lambda: client(connectState=1),
        )
        self.assertRefused(
            "discipline 1 is not an NssDiscipline", lambda: client(discipline=1)
        )
        self.assertRefused(
            "is not an NssClientInfo",
            lambda: encode_clientinfo("x"),  # type: ignore[arg-type]
        )

    def test_errorNamesClient(self) -> None:
        self.assertRefused(
            "NssClientInfo of client 'client4':", lambda: client(certSelected=False)
        )


class DecodeFailureTests(SynchronousTestCase):
    """
    Every way an entry can be wrong is a L{FieldDecodeError} that names
    the field.
    """

    def entry(self, **changes: Any) -> bytearray:
        return bytearray(encode_clientinfo(client(**changes)))

    def assertBad(self, data: bytes | bytearray, text: str) -> None:
        error = self.assertRaises(FieldDecodeError, decode_clientinfo, bytes(data))
        self.assertIn(text, error.detail)

    def test_size(self) -> None:
        self.assertBad(b"", "is 176 bytes, not 0")
        self.assertBad(self.entry() + b"\0", "is 176 bytes, not 177")

    def test_flags(self) -> None:
        data = self.entry()
        data[51] |= 0x10
        self.assertBad(data, "NMsClntFlags: bits 0x10 are not defined")
        data = self.entry()
        data[48] = 0x80
        self.assertBad(data, "bits 0x80000000")

    def test_flagRules(self) -> None:
        data = self.entry()
        data[51] = 0x0F & ~0x01  # certificate enabled, not selected
        self.assertBad(data, "certEnabled without certSelected")
        data = self.entry()
        data[51] = 0
        self.assertBad(data, "no service selected")

    def test_discipline(self) -> None:
        for value in (0, 3, 255):
            data = self.entry()
            data[52] = value
            self.assertBad(data, f"NMsClntDiscipline: {value} is not a discipline")

    def test_state(self) -> None:
        for value in (0, 3, 255):
            data = self.entry()
            data[53] = value
            self.assertBad(data, f"NMsClntConnState: {value} is not")

    def test_reserved(self) -> None:
        for offset in (54, 55, 76, 79):
            data = self.entry()
            data[offset] = 1
            self.assertBad(data, "reserved bytes not zero")

    def test_texts(self) -> None:
        for offset, name in [
            (0, "NMsClntName"),
            (24, "NMsClntStackName"),
            (32, "NMsClntSysName"),
            (40, "NMsClntUserid"),
            (80, "NMsClntClientAddr"),
            (128, "NMsClntServerAddr"),
        ]:
            for byte in (0x00, 0x0A, 0xC1, ord("%") if offset < 80 else 0x7F):
                data = self.entry()
                data[offset] = byte
                self.assertBad(data, name)

    def test_blankNames(self) -> None:
        data = self.entry()
        data[0:24] = b" " * 24
        self.assertBad(data, "clientName is empty")
        data = self.entry()
        data[40:48] = b" " * 8
        self.assertBad(data, "userid is empty")

    def test_leadingBlank(self) -> None:
        """
        Only trailing blanks are padding; one in front is part of a name,
        and not a valid one.
        """
        data = self.entry()
        data[24:32] = b" TCPCS4 "
        self.assertBad(data, "NMsClntStackName")

    def test_address(self) -> None:
        data = self.entry()
        data[128:176] = b"nssd.example.com".ljust(48)
        self.assertBad(data, "'nssd.example.com' is not an IPv4 or IPv6 address")
        data = self.entry()
        data[72:74] = bytes(2)
        self.assertBad(data, "clientAddress and clientPort go together")

    @given(st.binary(min_size=CLIENTINFO_SIZE, max_size=CLIENTINFO_SIZE))
    def test_anyBytes(self, data: bytes) -> None:
        try:
            decode_clientinfo(data)
        except FieldDecodeError:
            pass

    @given(clientinfo_damaged())
    def test_damaged(self, data: bytes) -> None:
        """
        What still decodes after damage encodes back to the same bytes:
        nothing is lost or made up on the way.
        """
        try:
            info = decode_clientinfo(data)
        except FieldDecodeError:
            return
        self.assertEqual(encode_clientinfo(info), data)


class RecordFailureTests(SynchronousTestCase):
    """
    The reply's records are checked as strictly as the entries.
    """

    def records(self, *infos: NssClientInfo) -> list[NmiRecord]:
        return list(clientinfo_records("MVS052", infos))

    def assertBad(self, records: list[NmiRecord], text: str) -> None:
        error = self.assertRaises(FieldDecodeError, clientinfo_from_records, records)
        self.assertIn(text, error.detail)

    def test_noSystemRecord(self) -> None:
        self.assertBad([], "the system record is missing")

    def test_systemRecord(self) -> None:
        entry = self.records(client())[1]
        self.assertBad(
            [entry], "the system record holds 1 entry of 8 bytes, not 1 in 176"
        )
        two = NmiRecord((NmiSection(1, b"MVS052  "), NmiSection(0, b"")))
        self.assertBad([two], "the system record has 1 section, not 2")
        self.assertBad([NmiRecord((NmiSection(1, b" " * 8),))], "is blank")
        self.assertBad(
            [NmiRecord((NmiSection(1, b"MVS 052 "),))], "NMsClntServerSysName"
        )
        self.assertBad([NmiRecord((NmiSection(2, b"MVS052  "),))], "not 2 in 8")

    def test_clientRecord(self) -> None:
        system, entry = self.records(client())
        data = entry.sections[0].data
        self.assertBad([system, NmiRecord(())], "client record 1 has 1 section, not 0")
        self.assertBad(
            [system, entry, NmiRecord((NmiSection(1, data[:-1]),))],
            "client record 2 holds 1 entry of 176 bytes, not 1 in 175",
        )
        self.assertBad(
            [system, NmiRecord((NmiSection(2, data + data),))],
            "client record 1 holds 1 entry",
        )
        broken = bytearray(data)
        broken[53] = 0
        self.assertBad(
            [system, NmiRecord((NmiSection(1, bytes(broken)),))],
            "client record 1: NMsClntConnState",
        )

    def test_duplicateClient(self) -> None:
        """
        Client names are case-insensitive, as nssd's registry holds them.
        """
        system, first = self.records(client("Client4"))
        _, second = self.records(client("CLIENT4"))
        self.assertBad([system, first, second], "client CLIENT4 is listed twice")
        error = self.assertRaises(
            ValueError,
            clientinfo_records,
            "MVS052",
            [client("Client4"), client("client4")],
        )
        self.assertIn("listed twice", str(error))

    def test_badSystemName(self) -> None:
        for name in ("", "MVS0521XX", "MVS 1"):
            self.assertRaises(ValueError, clientinfo_records, name, [])

    def test_notAReply(self) -> None:
        """
        Asking the decoder about anything but a successful reply, or the
        encoder about anything but a request, is the caller's mistake.
        """
        reply = encode_clientinfo_reply(REQUEST, "MVS052", [])
        for message in [
            REQUEST,
            REQUEST.refuse(ReturnCode.ENXIO, ReasonCode.NONE, "no"),
            dataclasses.replace(reply, messageType=NmiMessageType.GET_IKENSINFO),
        ]:
            self.assertRaises(ValueError, decode_clientinfo_reply, message)
        for message in [reply, NmiMessage(NmiMessageType.GET_IKENSINFO, 1)]:
            self.assertRaises(ValueError, encode_clientinfo_reply, message, "S", [])
            self.assertRaises(ValueError, answer_clientinfo, message, "S", [])
            self.assertRaises(ValueError, decode_clientinfo_filter, message)

    @given(st.lists(clientinfo_raw_records, max_size=4))
    def test_anyRecords(self, records: list[NmiRecord]) -> None:
        try:
            clientinfo_from_records(records)
        except FieldDecodeError:
            pass


def request(*records: NmiRecord, target: str = "") -> NmiMessage:
    return NmiMessage(NmiMessageType.GET_CLIENTINFO, 9, target=target, records=records)


CLIENTS = [client("client3", stackName="TCPCS3"), client("client4")]


class FilterTests(SynchronousTestCase):
    """
    The request's filter records select disciplines, and are never ignored:
    a filter for clients nssd does not have selects none.
    """

    def test_none(self) -> None:
        """
        No filter record: the IPSec clients, what C{ipsec -x} asks for.
        """
        self.assertEqual(decode_clientinfo_filter(request()), {D.IPSEC})

    def test_disciplines(self) -> None:
        for disciplines in [[D.IPSEC], [D.XMLAPPLIANCE], [D.XMLAPPLIANCE, D.IPSEC]]:
            records = [clientinfo_filter_record(d) for d in disciplines]
            self.assertEqual(
                decode_clientinfo_filter(request(*records)), set(disciplines)
            )
        twice = [clientinfo_filter_record(D.IPSEC)] * 2
        self.assertEqual(decode_clientinfo_filter(request(*twice)), {D.IPSEC})

    def test_throughBytes(self) -> None:
        """
        A filtered request survives the NMI codec: its records are framed,
        not refused, on their way to nssd.
        """
        message = request(clientinfo_filter_record(D.IPSEC))
        data = encode_message(message)
        self.assertEqual(len(data), 64 + 28)
        self.assertEqual(data[64:], bytes.fromhex(DOCUMENTED_FILTER_RECORD))
        self.assertEqual(decode_message(data), message)

    def assertRefusal(
        self, message: NmiMessage, reasonCode: ReasonCode, text: str
    ) -> None:
        answer = answer_clientinfo(message, "MVS052", CLIENTS)
        self.assertEqual(
            (answer.reply, answer.correlator, answer.returnCode, answer.reasonCode),
            (True, 9, ReturnCode.EINVAL, reasonCode),
        )
        self.assertIn(text, " ".join(answer.lines()))
        self.assertRaises(FieldDecodeError, decode_clientinfo_filter, message)
        encode_message(answer)

    def test_badShape(self) -> None:
        good = clientinfo_filter_record(D.IPSEC)
        for records, text in [
            ((NmiRecord(()),), "filter record 1 has 1 section, not 0"),
            ((good, NmiRecord((NmiSection(1, b"\x01"),))), "filter record 2 holds"),
            ((NmiRecord((NmiSection(2, b"\x01\0\0\0"),)),), "not 2 in 4 bytes"),
            ((NmiRecord((good.sections[0],) * 2),), "has 1 section, not 2"),
        ]:
            self.assertRefusal(request(*records), ReasonCode.NSSRsnBadField, text)

    def test_badValue(self) -> None:
        for entry, text in [
            (b"\x00\0\0\0", "NMsClntFltDiscipline 0 is not a discipline"),
            (b"\x03\0\0\0", "NMsClntFltDiscipline 3 is not a discipline"),
            (b"\x01\0\0\x01", "filter record 1: reserved bytes not zero"),
        ]:
            self.assertRefusal(
                request(NmiRecord((NmiSection(1, entry),))),
                ReasonCode.NSSRsnBadFieldValue,
                text,
            )

    @given(st.lists(clientinfo_raw_records, max_size=3))
    def test_anyRecords(self, records: list[NmiRecord]) -> None:
        """
        Whatever a request carries, the answer is a reply nssd can send.
        """
        answer = answer_clientinfo(request(*records), "MVS052", CLIENTS)
        self.assertTrue(answer.reply)
        encode_message(answer)


class AnswerTests(SynchronousTestCase):
    """
    L{answer_clientinfo}, nssd's whole answer.
    """

    def test_all(self) -> None:
        answer = answer_clientinfo(request(), "MVS052", CLIENTS)
        self.assertEqual(answer, encode_clientinfo_reply(request(), "MVS052", CLIENTS))
        self.assertEqual(decode_clientinfo_reply(answer), ("MVS052", CLIENTS))

    def test_iterable(self) -> None:
        answer = answer_clientinfo(request(), "MVS052", iter(CLIENTS))
        self.assertEqual(decode_clientinfo_reply(answer)[1], CLIENTS)

    def test_otherDiscipline(self) -> None:
        """
        XMLAppliance selects no IPSec client: an empty list, not an error,
        and IPSec with it selects them all.
        """
        xml = clientinfo_filter_record(D.XMLAPPLIANCE)
        answer = answer_clientinfo(request(xml), "MVS052", CLIENTS)
        self.assertEqual(decode_clientinfo_reply(answer), ("MVS052", []))
        both = request(xml, clientinfo_filter_record(D.IPSEC))
        self.assertEqual(
            decode_clientinfo_reply(answer_clientinfo(both, "MVS052", CLIENTS))[1],
            CLIENTS,
        )
        appliance = client("xml1", discipline=D.XMLAPPLIANCE)
        answer = answer_clientinfo(request(xml), "MVS052", [*CLIENTS, appliance])
        self.assertEqual(decode_clientinfo_reply(answer)[1], [appliance])
        answer = answer_clientinfo(request(), "MVS052", [*CLIENTS, appliance])
        self.assertEqual(decode_clientinfo_reply(answer)[1], CLIENTS)

    def test_target(self) -> None:
        """
        A named target selects that client, in any case, and the reply
        echoes the target.
        """
        answer = answer_clientinfo(request(target="CLIENT4"), "MVS052", CLIENTS)
        self.assertEqual(answer.target, "CLIENT4")
        self.assertEqual(decode_clientinfo_reply(answer)[1], [CLIENTS[1]])

    def test_targetNotConnected(self) -> None:
        for message in [
            request(target="client9"),
            request(clientinfo_filter_record(D.XMLAPPLIANCE), target="client4"),
        ]:
            answer = answer_clientinfo(message, "MVS052", CLIENTS)
            self.assertEqual(
                (answer.returnCode, answer.reasonCode),
                (ReturnCode.ENXIO, ReasonCode.NONE),
            )
            self.assertEqual(
                answer.lines(), (f"NSS client {message.target} is not connected",)
            )
            encode_message(answer)

    def test_nssdBug(self) -> None:
        """
        Data nssd could not encode is its bug, raised whatever the filter
        selects, for its handler to answer EIO.
        """
        twice = [client("a"), client("A")]
        for message in [
            request(),
            request(target="b"),
            request(clientinfo_filter_record(D.XMLAPPLIANCE)),
            request(NmiRecord(())),
        ]:
            self.assertRaises(ValueError, answer_clientinfo, message, "MVS052", twice)
        self.assertRaises(ValueError, answer_clientinfo, request(), "", CLIENTS)


# The worked example of docs/nmi.md: the seed's ipsec -x sample, nssd on
# MVS052 with client4 connected.
EXAMPLE = encode_clientinfo_reply(
    NmiMessage(NmiMessageType.GET_CLIENTINFO, 7), "MVS052", [client()]
)
DOCUMENTED_FILTER_RECORD = (
    "4e 4d 73 52 00 00 00 1c 00 01 00 00"
    " 00 00 00 18 00 00 00 04 00 00 00 01"
    " 01 00 00 00"
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
        self.assertIn(f"(`{CONNECTED_AT:#x}`)", text)

    def test_filterExample(self) -> None:
        """
        The filter record's bytes, which the text spells out in three parts.
        """
        text = " ".join(DOCS.read_text(encoding="utf-8").split())
        parts = DOCUMENTED_FILTER_RECORD.split(" ")
        self.assertIn(f"`{' '.join(parts[:12])}`", text)
        self.assertIn(f"`{' '.join(parts[12:24])}`", text)
        self.assertIn(f"`{' '.join(parts[24:])}`", text)

    def test_layoutTable(self) -> None:
        """
        The NMsecClient table's rows follow one another and add up to the
        entry's size, and the filter entry's to its own.
        """
        text = DOCS.read_text(encoding="utf-8")
        rows = re.findall(
            r"^ *\| 0x([0-9a-f]+) \| (\d+) \| `(NMsClnt\w+)` \|", text, re.MULTILINE
        )
        self.assertIn(("00", "8", "NMsClntServerSysName"), rows)
        filters = [row for row in rows if row[2].startswith("NMsClntFlt")]
        entry = [
            row
            for row in rows
            if row not in filters and row[2] != "NMsClntServerSysName"
        ]
        for table, size in [(entry, CLIENTINFO_SIZE), (filters, FILTER_SIZE)]:
            self.assertGreater(len(table), 1)
            end = 0
            for start, length, _ in table:
                self.assertEqual(int(start, 16), end)
                end += int(length)
            self.assertEqual(end, size)

    def test_codeTables(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        for flag in NssClientFlags:
            self.assertRegex(text, rf"\| `{int(flag):#04x}` \| `NMsClnt\w+` \|")
        for state in S:
            self.assertRegex(text, rf"\| {int(state)} \| {state.text}: ")
