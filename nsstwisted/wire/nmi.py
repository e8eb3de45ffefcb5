"""
The IPsec Network Management Interface (NMI) message family: a sans-IO codec.

IBM documents the NMI's behaviour (an INIT message on connect, a TERM message
before close, return and reason codes in the header, a target client name,
records made of section descriptors and sections) but not its bytes: the
header file C{ezbnmsec.h} is not public.  The layout here is therefore ours,
shaped after what IBM does document, and C{docs/nmi.md} is its
specification; this module is the reference implementation.

Three choices differ from IBM on purpose:

  - Text is ASCII (fixed fields) and UTF-8 (text lines), blank-padded and
    never NUL-terminated, where IBM's is blank-padded EBCDIC: nothing on
    the hosts we run on speaks EBCDIC, and the padding rule is what a
    program relies on.
  - Integers are big-endian, z/Architecture's native order, so that the
    layout is the same wherever it is read.
  - The header carries a correlator that a reply echoes, so that a client
    may have several requests outstanding and match the replies.

The framing (header, records, section descriptors, sections) is the same for
every message type; what a section of a given record I{means} is the message
type's business.  This module knows the meaning of the types it serves now
(INIT, TERM, and the DAEMON_DISPLAY and DAEMON_REFRESH requests of
C{nss-modify}, whose replies carry text lines) and passes the records of the
IPsec request types on as framed but uninterpreted, so that the layouts of
IBM's NMsecStack, NMsecStatistics, NMsecIKETunnel and friends can be added
later without touching the framing.

Like L{nsstwisted.wire.nss}, the codec is strict and total:
L{encode_message} refuses (with C{ValueError}) whatever the decoder would
refuse, and L{NmiDecoder.feed} never raises.  Each way the bytes can be
wrong becomes an L{NmiDecodeFailure} that says which return and reason code
to answer with and whether the connection must close.
"""

from __future__ import annotations

import enum
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.fields import (
    BoundedText,
    FieldDecodeError,
    FieldOverrun,
    FieldValueError,
    FixedText,
    Reader,
    encode_uint,
    has_control_character,
)
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN

__all__ = [
    "CONTROL_REQUESTS",
    "DAEMON_REQUESTS",
    "FLAG_REPLY",
    "HEADER_SIZE",
    "IDENTIFIER",
    "IKED_SOCKET",
    "IPSEC_REQUESTS",
    "MAX_LINE_BYTES",
    "MAX_MESSAGE_SIZE",
    "MONITORING_REQUESTS",
    "NMI_VERSION",
    "NSSD_SOCKET",
    "RECORD_HEADER_SIZE",
    "RECORD_IDENTIFIER",
    "SECTION_DESCRIPTOR_SIZE",
    "SOCKET_MODE",
    "TARGET_SIZE",
    "UNSOLICITED",
    "NmiDecodeFailure",
    "NmiDecoder",
    "NmiMessage",
    "NmiMessageType",
    "NmiRecord",
    "NmiSection",
    "data_record",
    "decode_message",
    "encode_message",
    "init_message",
    "printable_line",
    "record_data",
    "record_lines",
    "term_message",
    "text_record",
]

IDENTIFIER = b"NMsM"
"""The eyecatcher every message starts with."""

RECORD_IDENTIFIER = b"NMsR"
"""The eyecatcher every record starts with."""

HEADER_SIZE = 64
RECORD_HEADER_SIZE = 12
SECTION_DESCRIPTOR_SIZE = 12
TARGET_SIZE = 24
"""The width of NMsMTarget: an NSS client name, blank padded."""

NMI_VERSION = 1
"""The interface version this module speaks, and the one INIT announces."""

FLAG_REPLY = 0x0001
"""Header flag bit 0: the message answers the request of the same correlator."""

MAX_MESSAGE_SIZE = 1 << 20
"""The default largest total length a decoder accepts (inclusive)."""

MAX_LINE_BYTES = 0xFFFF
"""The largest text line, in bytes of UTF-8: its length is a 2-byte field."""

NSSD_SOCKET = "/var/sock/nss"
"""Where nssd serves the NMI, as IBM's NSS server does."""

IKED_SOCKET = "/var/sock/ipsecmgmt"
"""Where iked serves the local IPSec NMI, as IBM's IKE daemon does."""

SOCKET_MODE = 0o660
"""
The mode of the socket files: the owner and the operators' group may
connect, nobody else.  On z/OS a SERVAUTH profile decides; here the file
system does.
"""

# ident, header size, version, type, flags, total length, correlator, target,
# return code, reason code, record count, reserved.
_HEADER = struct.Struct(">4sHHHHII24sIII8s")
# ident, record length, section count, flags.
_RECORD = struct.Struct(">4sIHH")
# offset (from the record's start), length, number of entries.
_SECTION = struct.Struct(">III")
_PREFIX = 16
"""Bytes of the header whose meaning every version keeps: enough to frame."""

assert _HEADER.size == HEADER_SIZE
assert _RECORD.size == RECORD_HEADER_SIZE
assert _SECTION.size == SECTION_DESCRIPTOR_SIZE


class NmiMessageType(enum.IntEnum):
    """
    The NMI message types.

    IBM's names (C{NMsec_GET_STACKINFO}, ...) are known, its numbers are
    not; these are ours.  The numbers are grouped: 1-2 the server's
    unsolicited messages, 10s and 20s monitoring requests, 40s control
    requests, 100s the daemons' own requests of C{nss-modify}.  IBM never
    published the names of the control requests, so theirs are ours too.
    """

    INIT = 1
    TERM = 2
    # Monitoring (IBM's names).
    GET_STACKINFO = 10
    GET_SUMMARY = 11
    GET_IKETUN = 12
    GET_IKETUNCASCADE = 13
    GET_IPTUNDYNIKE = 14
    GET_IPTUNDYNSTACK = 15
    GET_IPTUNMANUAL = 16
    GET_IPFLTCURR = 17
    GET_IPFLTDEFAULT = 18
    GET_IPFLTPOLICY = 19
    GET_IPINTERFACES = 20
    GET_PORTTRAN = 21
    GET_IKENSINFO = 22
    GET_CLIENTINFO = 23
    # Control (names ours).
    ACTIVATE_IPTUNMANUAL = 40
    DEACTIVATE_IPTUNMANUAL = 41
    ACTIVATE_IPTUNDYN = 42
    DEACTIVATE_IPTUNDYN = 43
    REFRESH_IPTUNDYN = 44
    DEACTIVATE_IKETUN = 45
    REFRESH_IKETUN = 46
    SET_IPFLTDEFAULT = 47
    SET_IPFLTPOLICY = 48
    # The daemons' own, for nss-modify.
    DAEMON_DISPLAY = 100
    DAEMON_REFRESH = 101
    DAEMON_DISPLAY_DATA = 102

    @property
    def ibmName(self) -> str:
        """
        The name in IBM's style, as logs and the documentation print it.
        """
        return f"NMsec_{self.name}"


_T = NmiMessageType

UNSOLICITED = frozenset({_T.INIT, _T.TERM})
"""Sent by the server on its own, never a reply and never answered."""

MONITORING_REQUESTS = frozenset(t for t in _T if 10 <= t < 40)
CONTROL_REQUESTS = frozenset(t for t in _T if 40 <= t < 100)
IPSEC_REQUESTS = MONITORING_REQUESTS | CONTROL_REQUESTS
"""The requests of IBM's IPSec NMI; their records are framed, not interpreted."""

DAEMON_REQUESTS = frozenset(
    {_T.DAEMON_DISPLAY, _T.DAEMON_REFRESH, _T.DAEMON_DISPLAY_DATA}
)
"""
Our requests, whose successful replies carry exactly one text record; that
of DAEMON_DISPLAY_DATA holds a JSON document (L{data_record}).
"""

del _T


@dataclass(frozen=True)
class NmiSection:
    """
    One section of a record, as its descriptor frames it.

    @ivar entries: the descriptor's number of entries.  For a section of
        fixed-size entries it is the data's length over the entry size; for
        text it counts the lines.
    @ivar data: the section's bytes, uninterpreted.
    """

    entries: int
    data: bytes


@dataclass(frozen=True)
class NmiRecord:
    """
    One record: the sections its descriptors point at, in descriptor order.
    """

    sections: tuple[NmiSection, ...]


@dataclass(frozen=True)
class NmiMessage:
    """
    One NMI message with its header.

    @ivar messageType: an L{NmiMessageType} when decoded.  A plain C{int}
        only in an error reply answering a type this side does not know,
        which must echo it.
    @ivar correlator: chosen by the client, echoed by the reply; 0 in INIT
        and TERM.
    @ivar reply: the header's REPLY flag.
    @ivar target: NMsMTarget, the NSS client a request is for; C{""} (all
        blanks on the wire) means none, or all.
    @ivar version: the interface version of the header; in INIT, the highest
        version the server speaks.
    """

    messageType: int
    correlator: int = 0
    reply: bool = False
    target: str = ""
    returnCode: ReturnCode = ReturnCode.OK
    reasonCode: ReasonCode = ReasonCode.NONE
    records: tuple[NmiRecord, ...] = ()
    version: int = NMI_VERSION

    @property
    def ok(self) -> bool:
        """Whether the return code is OK."""
        return self.returnCode == ReturnCode.OK

    def lines(self) -> tuple[str, ...]:
        """
        The text lines of the message's first record: the output of a
        DAEMON_DISPLAY or DAEMON_REFRESH reply, or the explanation that an
        error reply or a TERM may carry.  No record means no lines.

        @raise ValueError: the first record is not a text record; a decoded
            message of those kinds never raises, since the decoder checked.
        """
        if not self.records:
            return ()
        try:
            return record_lines(self.records[0])
        except FieldDecodeError as e:
            raise ValueError(e.detail) from None

    def answer(self, records: Iterable[NmiRecord] = ()) -> NmiMessage:
        """
        The successful reply to this request, carrying C{records}.
        """
        return NmiMessage(
            self.messageType,
            self.correlator,
            reply=True,
            target=self.target,
            records=tuple(records),
            version=self.version,
        )

    def refuse(
        self,
        returnCode: ReturnCode,
        reasonCode: ReasonCode = ReasonCode.NONE,
        text: str | None = None,
    ) -> NmiMessage:
        """
        The error reply to this request.

        @param text: a line for the operator, sent as a text record; made
            printable first, so that any exception's text may be passed.
        """
        return NmiMessage(
            self.messageType,
            self.correlator,
            reply=True,
            target=self.target,
            returnCode=returnCode,
            reasonCode=reasonCode,
            records=_text_records(text),
            version=self.version,
        )


def init_message(version: int = NMI_VERSION) -> NmiMessage:
    """
    The message a server sends as soon as a client connects.

    @param version: the highest interface version the server speaks.
    """
    return NmiMessage(NmiMessageType.INIT, version=version)


def term_message(
    returnCode: ReturnCode = ReturnCode.OK,
    reasonCode: ReasonCode = ReasonCode.NONE,
    text: str | None = None,
) -> NmiMessage:
    """
    The message a server sends before it closes a connection, saying why:
    OK and NONE for an ordinary close.
    """
    return NmiMessage(
        NmiMessageType.TERM,
        returnCode=returnCode,
        reasonCode=reasonCode,
        records=_text_records(text),
    )


def _text_records(text: str | None) -> tuple[NmiRecord, ...]:
    return (text_record([printable_line(text)]),) if text else ()


def printable_line(text: str) -> str:
    """
    C{text} made fit for a text line: control characters (a line end among
    them) replaced by C{?}, cut to L{MAX_LINE_BYTES} at a character
    boundary.  For text from elsewhere (an exception, a file name) that a
    reply must carry without failing to encode.
    """
    clean = "".join("?" if has_control_character(c) else c for c in text)
    raw = clean.encode("utf-8", "replace")[:MAX_LINE_BYTES]
    return raw.decode("utf-8", "ignore")


# Values.

_TARGET = FixedText(TARGET_SIZE, "ascii", CLIENT_NAME_PATTERN)
_LINE = BoundedText(minLength=0, maxBytes=MAX_LINE_BYTES, encoding="utf-8")


def text_record(lines: Iterable[str]) -> NmiRecord:
    """
    A record of one section holding C{lines}, each a 2-byte length and
    that many bytes of UTF-8.

    @raise ValueError: a line holds a control character (a line end, say)
        or is too long; L{printable_line} makes any text fit.
    """
    data = bytearray()
    count = 0
    for line in lines:
        raw = _LINE.encode(line)
        data += encode_uint(len(raw), 2) + raw
        count += 1
    return NmiRecord((NmiSection(count, bytes(data)),))


class _Refused(Exception):
    """A message of trusted length is bad: refuse it and go on."""

    def __init__(self, reasonCode: ReasonCode, text: str) -> None:
        super().__init__(text)
        self.reasonCode = reasonCode
        self.text = text


class _Fatal(_Refused):
    """A message is bad in a way IBM answers by closing the connection."""


def _lines(record: NmiRecord) -> tuple[str, ...]:
    """
    The lines of a text record.

    @raise _Refused: it is not one, with the reason code to answer.
    """
    if len(record.sections) != 1:
        raise _Refused(
            ReasonCode.NSSRsnBadField,
            f"a text record has 1 section, not {len(record.sections)}",
        )
    section = record.sections[0]
    reader = Reader(section.data)
    lines: list[str] = []
    try:
        while len(lines) < section.entries:
            size = reader.u16()
            lines.append(_LINE.decode(reader.take(size)))
    except FieldOverrun as e:
        raise _Refused(
            ReasonCode.NSSRsnFieldOverrun,
            f"text line {len(lines) + 1} of {section.entries}: {e.detail}",
        ) from None
    except FieldValueError as e:
        raise _Refused(
            ReasonCode.NSSRsnBadFieldValue, f"text line {len(lines) + 1}: {e.detail}"
        ) from None
    if not reader.at_end():
        raise _Refused(
            ReasonCode.NMsRsnMsgSize,
            f"{reader.remaining} bytes after the last of {section.entries} lines",
        )
    return tuple(lines)


def record_lines(record: NmiRecord) -> tuple[str, ...]:
    """
    The lines of a text record (see L{text_record}).

    @raise FieldDecodeError: C{record} is not a well-formed text record.
    """
    try:
        return _lines(record)
    except _Refused as e:
        raise FieldValueError(e.text) from None


def _layout_problem(
    messageType: int, reply: bool, returnCode: int, records: tuple[NmiRecord, ...]
) -> None:
    """
    Check the records a message of this kind may carry.  Shared by the
    encoder and the decoder, so that what one makes the other accepts.

    @raise _Refused: with the reason code to answer.
    """
    name = _type_name(messageType)
    textOnly = messageType == NmiMessageType.TERM or (reply and returnCode != 0)
    if textOnly:
        if len(records) > 1:
            raise _Refused(
                ReasonCode.NSSRsnBadField,
                f"{name} carries at most one text record, not {len(records)}",
            )
    elif messageType == NmiMessageType.INIT or (
        messageType in DAEMON_REQUESTS and not reply
    ):
        if records:
            raise _Refused(
                ReasonCode.NSSRsnBadField,
                f"{name}{'' if reply else ' request'} carries no records",
            )
        return
    elif messageType in DAEMON_REQUESTS:
        if len(records) != 1:
            raise _Refused(
                ReasonCode.NSSRsnMissingField
                if not records
                else ReasonCode.NSSRsnBadField,
                f"a {name} reply carries one text record, not {len(records)}",
            )
    else:
        # The IPsec types: their records are framed, not interpreted yet.
        return
    for record in records:
        lines = _lines(record)
        if messageType == NmiMessageType.DAEMON_DISPLAY_DATA and not textOnly:
            _data(lines)


def _data(lines: tuple[str, ...]) -> object:
    """
    The JSON document that a text record's lines hold.

    @raise _Refused: they hold none.
    """
    try:
        return json.loads("\n".join(lines))
    except ValueError as e:
        raise _Refused(
            ReasonCode.NSSRsnBadFieldValue, f"the lines hold no JSON document: {e}"
        ) from None


def data_record(data: object) -> NmiRecord:
    """
    A text record holding C{data} as a JSON document, one line of its
    indented text a line: the reply of DAEMON_DISPLAY_DATA.  JSON escapes
    every control character in a string but DEL, which is escaped here, so
    that every line is a valid text line.

    @raise TypeError: C{data} is not made of JSON's types.
    """
    text = json.dumps(data, indent=2).replace("\x7f", "\\u007f")
    return text_record(text.splitlines())


def record_data(record: NmiRecord) -> object:
    """
    The JSON document of a record made by L{data_record}.

    @raise FieldDecodeError: C{record} is not a text record holding one.
    """
    try:
        return _data(_lines(record))
    except _Refused as e:
        raise FieldValueError(e.text) from None


def _type_name(messageType: int) -> str:
    try:
        return NmiMessageType(messageType).ibmName
    except ValueError:
        return f"message type {messageType}"


# Encoding.


def _as_enum(enumType: type[enum.IntEnum], value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} {value!r} is not an integer")
    try:
        return int(enumType(value))
    except ValueError:
        raise ValueError(f"{what} {value} is not a {enumType.__name__}") from None


def _encode_record(record: NmiRecord) -> bytes:
    if not isinstance(record, NmiRecord):
        raise ValueError(f"{record!r} is not an NmiRecord")
    sections = record.sections
    if not isinstance(sections, tuple):
        raise ValueError("the sections must be a tuple")
    encode_uint(len(sections), 2)
    offset = RECORD_HEADER_SIZE + SECTION_DESCRIPTOR_SIZE * len(sections)
    descriptors = bytearray()
    body = bytearray()
    for section in sections:
        if not isinstance(section, NmiSection) or not isinstance(section.data, bytes):
            raise ValueError(f"{section!r} is not an NmiSection of bytes")
        descriptors += (
            encode_uint(offset, 4)
            + encode_uint(len(section.data), 4)
            + encode_uint(section.entries, 4)
        )
        body += section.data
        offset += len(section.data)
    header = RECORD_IDENTIFIER + encode_uint(offset, 4) + encode_uint(len(sections), 2)
    return header + b"\0\0" + bytes(descriptors) + bytes(body)


def encode_message(
    message: NmiMessage, maxMessageSize: int = MAX_MESSAGE_SIZE
) -> bytes:
    """
    The bytes of one message.

    @param maxMessageSize: the largest message the peer accepts; a larger
        one would make it close the connection.
    @raise ValueError: the message breaks a rule of the interface, so that
        the peer would refuse it; sending it would be a bug of the caller.
    """
    if not isinstance(message, NmiMessage):
        raise ValueError(f"{message!r} is not an NmiMessage")
    returnCode = _as_enum(ReturnCode, message.returnCode, "return code")
    reasonCode = _as_enum(ReasonCode, message.reasonCode, "reason code")
    messageType = message.messageType
    encode_uint(messageType, 2)
    known = messageType in NmiMessageType.__members__.values()
    reply = message.reply
    if not isinstance(reply, bool):
        raise ValueError(f"reply {reply!r} is not a bool")
    if not known and not (reply and returnCode):
        raise ValueError(
            f"message type {messageType} is unknown; only an error reply may echo it"
        )
    encode_uint(message.version, 2)
    if messageType in UNSOLICITED:
        if message.version < 1:
            raise ValueError(f"version {message.version} is not valid")
    elif message.version != NMI_VERSION:
        raise ValueError(f"version {message.version}; this side speaks {NMI_VERSION}")
    encode_uint(message.correlator, 4)
    if returnCode == ReturnCode.OK and reasonCode != ReasonCode.NONE:
        raise ValueError("return code OK goes with reason code NONE only")
    if messageType in UNSOLICITED:
        if reply:
            raise ValueError(f"{_type_name(messageType)} is never a reply")
        if message.correlator or message.target:
            raise ValueError(f"{_type_name(messageType)} has correlator 0, no target")
        if messageType == NmiMessageType.INIT and returnCode:
            raise ValueError("INIT carries return code OK")
    elif not reply and returnCode:
        raise ValueError("a request carries return code OK")
    target = _TARGET.encode(message.target)
    records = message.records
    if not isinstance(records, tuple):
        raise ValueError("the records must be a tuple")
    encode_uint(len(records), 4)
    body = b"".join(_encode_record(r) for r in records)
    try:
        _layout_problem(messageType, reply, returnCode, records)
    except _Refused as e:
        raise ValueError(e.text) from None
    total = HEADER_SIZE + len(body)
    if total > maxMessageSize:
        raise ValueError(
            f"the message is {total} bytes, the peer accepts {maxMessageSize}"
        )
    header = _HEADER.pack(
        IDENTIFIER,
        HEADER_SIZE,
        message.version,
        messageType,
        FLAG_REPLY if reply else 0,
        total,
        message.correlator,
        target,
        returnCode,
        reasonCode,
        len(records),
        bytes(8),
    )
    return header + body


# Decoding.


@dataclass(frozen=True)
class NmiDecodeFailure:
    """
    A message that could not be decoded, and what to do about it.

    @ivar correlator: the bad message's correlator, when its header could be
        trusted that far, so that the request can be answered (or, for a
        reply, the pending request failed).
    @ivar messageType: the bad message's type number, likewise.
    @ivar fatal: the connection must be closed (after a TERM, if the
        receiver is the server); the decoder returns nothing more.
    @ivar text: what was wrong, for the log and for the peer.
    @ivar reply: the bad message had the REPLY flag set, so it must not be
        answered.
    """

    correlator: int | None
    messageType: int | None
    returnCode: ReturnCode
    reasonCode: ReasonCode
    fatal: bool
    text: str
    reply: bool = False

    def response(self) -> NmiMessage | None:
        """
        What a server sends about this failure: a TERM before closing for a
        fatal failure, an error reply for a request that can be answered,
        and nothing for a bad reply or a bad INIT or TERM (neither is ever
        answered).
        """
        if self.fatal:
            return term_message(self.returnCode, self.reasonCode, self.text)
        if (
            self.reply
            or self.correlator is None
            or self.messageType is None
            or self.messageType in UNSOLICITED
        ):
            return None
        return NmiMessage(
            self.messageType,
            self.correlator,
            reply=True,
            returnCode=self.returnCode,
            reasonCode=self.reasonCode,
            records=_text_records(self.text),
        )


def _split_records(message: bytes, count: int) -> tuple[NmiRecord, ...]:
    """
    The records after the header, framed by their lengths and descriptors.

    @raise _Refused: the framing is wrong.
    """
    records = []
    offset = HEADER_SIZE
    end = len(message)
    for index in range(count):
        where = f"record {index + 1} at offset {offset}"
        if end - offset < RECORD_HEADER_SIZE:
            raise _Refused(
                ReasonCode.NSSRsnFieldOverrun,
                f"{where} needs {RECORD_HEADER_SIZE} header bytes, "
                f"{end - offset} left of {count} records",
            )
        ident, length, sectionCount, flags = _RECORD.unpack_from(message, offset)
        if ident != RECORD_IDENTIFIER:
            raise _Fatal(
                ReasonCode.NMsRsnBadIdent,
                f"{where}: identifier {ident!r}, not {RECORD_IDENTIFIER!r}",
            )
        first = RECORD_HEADER_SIZE + SECTION_DESCRIPTOR_SIZE * sectionCount
        if length > end - offset:
            raise _Refused(
                ReasonCode.NSSRsnFieldOverrun,
                f"{where} claims {length} bytes, {end - offset} left",
            )
        if length < first:
            raise _Refused(
                ReasonCode.NMsRsnMsgSize,
                f"{where} is {length} bytes, less than its header and "
                f"{sectionCount} section descriptors",
            )
        if flags:
            raise _Refused(
                ReasonCode.NSSRsnBadHeaderValue, f"{where}: flags {flags:#06x} not 0"
            )
        sections = []
        expected = first
        for number in range(sectionCount):
            start, size, entries = _SECTION.unpack_from(
                message, offset + RECORD_HEADER_SIZE + SECTION_DESCRIPTOR_SIZE * number
            )
            if start + size > length:
                raise _Refused(
                    ReasonCode.NSSRsnFieldOverrun,
                    f"{where}: section {number + 1} ({start}+{size}) runs past "
                    f"the record's {length} bytes",
                )
            if start != expected:
                raise _Refused(
                    ReasonCode.NMsRsnMsgSize,
                    f"{where}: section {number + 1} starts at {start}, not {expected}",
                )
            sections.append(
                NmiSection(entries, message[offset + start : offset + start + size])
            )
            expected += size
        if expected != length:
            raise _Refused(
                ReasonCode.NMsRsnMsgSize,
                f"{where} is {length} bytes, its parts {expected}",
            )
        records.append(NmiRecord(tuple(sections)))
        offset += length
    if offset != end:
        raise _Refused(
            ReasonCode.NMsRsnMsgSize,
            f"{end - offset} bytes after the last of {count} records",
        )
    return tuple(records)


def _decode(message: bytes) -> NmiMessage | NmiDecodeFailure:
    """
    One whole message whose identifier and total length have been checked.
    """
    (
        _,
        headerSize,
        version,
        messageType,
        flags,
        _,
        correlator,
        rawTarget,
        rc,
        rsn,
        count,
        reserved,
    ) = _HEADER.unpack_from(message)
    reply = bool(flags & FLAG_REPLY)

    def failure(
        reasonCode: ReasonCode, text: str, fatal: bool = False
    ) -> NmiDecodeFailure:
        return NmiDecodeFailure(
            correlator, messageType, ReturnCode.EINVAL, reasonCode, fatal, text, reply
        )

    unsolicited = messageType in UNSOLICITED
    if (version < 1) if unsolicited else (version != NMI_VERSION):
        return failure(
            ReasonCode.NMsRsnBadVersion,
            f"version {version}; this side speaks {NMI_VERSION}",
        )
    if headerSize != HEADER_SIZE:
        return failure(
            ReasonCode.NMsRsnHdrSize, f"header size {headerSize}, not {HEADER_SIZE}"
        )
    if flags & ~FLAG_REPLY:
        return failure(ReasonCode.NMsRsnBadType, f"flags {flags:#06x} not valid")
    if messageType not in NmiMessageType.__members__.values():
        return failure(ReasonCode.NMsRsnBadType, f"message type {messageType} unknown")
    name = _type_name(messageType)
    if unsolicited and reply:
        return failure(ReasonCode.NMsRsnBadType, f"{name} is never a reply")
    if reserved != bytes(8):
        return failure(ReasonCode.NSSRsnBadHeaderValue, "reserved bytes not zero")
    if rc not in ReturnCode.__members__.values():
        return failure(ReasonCode.NSSRsnBadHeaderValue, f"return code {rc} unknown")
    if rsn not in ReasonCode.__members__.values():
        return failure(ReasonCode.NSSRsnBadHeaderValue, f"reason code {rsn} unknown")
    if rc == ReturnCode.OK and rsn != ReasonCode.NONE:
        return failure(ReasonCode.NSSRsnBadHeaderValue, "reason code without error")
    if rc and not reply and messageType != NmiMessageType.TERM:
        return failure(ReasonCode.NSSRsnBadHeaderValue, f"{name} with a return code")
    try:
        target = _TARGET.decode(rawTarget)
    except FieldDecodeError as e:
        return failure(ReasonCode.NSSRsnBadHeaderValue, f"target: {e.detail}")
    if unsolicited and (correlator or target):
        return failure(
            ReasonCode.NSSRsnBadHeaderValue, f"{name} has correlator 0 and no target"
        )
    try:
        records = _split_records(message, count)
        _layout_problem(messageType, reply, rc, records)
    except _Fatal as e:
        return failure(e.reasonCode, e.text, fatal=True)
    except _Refused as e:
        return failure(e.reasonCode, e.text)
    return NmiMessage(
        NmiMessageType(messageType),
        correlator,
        reply,
        target,
        ReturnCode(rc),
        ReasonCode(rsn),
        records,
        version,
    )


class NmiDecoder:
    """
    Turns a byte stream into messages, however the stream is cut.

    One decoder per connection and direction.  The identifier is checked as
    soon as its bytes arrive and the total length as soon as its bytes
    have, so that a peer speaking something else is caught before it can
    make us buffer anything.
    """

    def __init__(self, maxMessageSize: int = MAX_MESSAGE_SIZE) -> None:
        """
        @param maxMessageSize: the largest total length accepted; a message
            announcing more is fatal, since skipping it would mean reading
            what we refuse to buffer.
        """
        if (
            isinstance(maxMessageSize, bool)
            or not isinstance(maxMessageSize, int)
            or not HEADER_SIZE <= maxMessageSize <= 0xFFFFFFFF
        ):
            raise ValueError(
                f"maxMessageSize must be {HEADER_SIZE}..{0xFFFFFFFF}, "
                f"not {maxMessageSize!r}"
            )
        self.maxMessageSize = maxMessageSize
        self._buffer = bytearray()
        self._failed = False

    @property
    def pending(self) -> int:
        """
        How many bytes of an incomplete message are buffered: a connection
        can time out a peer that starts a message and never finishes it.
        """
        return len(self._buffer)

    @property
    def failed(self) -> bool:
        """Whether a fatal failure has ended decoding for good."""
        return self._failed

    def feed(self, data: bytes) -> list[NmiMessage | NmiDecodeFailure]:
        """
        Add received bytes; return every message (or failure) they complete.
        """
        if self._failed:
            return []
        buffer = self._buffer
        buffer += data
        results: list[NmiMessage | NmiDecodeFailure] = []
        offset = 0
        while True:
            available = len(buffer) - offset
            start = bytes(buffer[offset : offset + min(available, len(IDENTIFIER))])
            if start != IDENTIFIER[: len(start)]:
                # Quote up to the first wrong byte only, so that the text
                # does not depend on how the stream was cut.
                wrong = next(i for i, b in enumerate(start) if b != IDENTIFIER[i])
                results.append(
                    self._fatal(
                        ReasonCode.NMsRsnBadIdent,
                        f"identifier starts {start[: wrong + 1]!r}, not {IDENTIFIER!r}",
                    )
                )
                return results
            if available < _PREFIX:
                break
            total = int.from_bytes(buffer[offset + 12 : offset + 16], "big")
            if total < HEADER_SIZE:
                results.append(
                    self._fatal(
                        ReasonCode.NMsRsnMsgSize,
                        f"total length {total} is less than the header",
                    )
                )
                return results
            if total > self.maxMessageSize:
                results.append(
                    self._fatal(
                        ReasonCode.NMsRsnExcessiveSize,
                        f"total length {total} exceeds {self.maxMessageSize}",
                    )
                )
                return results
            if available < total:
                break
            result = _decode(bytes(buffer[offset : offset + total]))
            offset += total
            results.append(result)
            if isinstance(result, NmiDecodeFailure) and result.fatal:
                self._failed = True
                self._buffer = bytearray()
                return results
        del buffer[:offset]
        return results

    def _fatal(self, reasonCode: ReasonCode, text: str) -> NmiDecodeFailure:
        self._failed = True
        self._buffer = bytearray()
        return NmiDecodeFailure(None, None, ReturnCode.EINVAL, reasonCode, True, text)


def decode_message(
    data: bytes, maxMessageSize: int = MAX_MESSAGE_SIZE
) -> NmiMessage | NmiDecodeFailure:
    """
    Exactly one message from C{data}, as the NSS protocol's NETMGMT carries
    it: an incomplete message, or bytes after it, are L{NmiDecodeFailure}s
    with C{NMsRsnMsgSize}.
    """
    decoder = NmiDecoder(maxMessageSize)
    results = decoder.feed(data)
    if not results:
        return NmiDecodeFailure(
            None,
            None,
            ReturnCode.EINVAL,
            ReasonCode.NMsRsnMsgSize,
            False,
            f"{len(data)} bytes hold no complete message",
        )
    first = results[0]
    if isinstance(first, NmiDecodeFailure) and first.fatal:
        return first
    if len(results) > 1 or decoder.pending:
        return NmiDecodeFailure(
            None,
            None,
            ReturnCode.EINVAL,
            ReasonCode.NMsRsnMsgSize,
            False,
            "bytes follow the message",
        )
    return first
