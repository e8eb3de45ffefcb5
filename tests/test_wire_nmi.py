"""
Tests for L{nsstwisted.wire.nmi}.

Messages are built two ways: through L{encode_message}, for what a correct
peer sends, and byte by byte with L{rawMessage} and L{rawRecord}, for
everything a broken or hostile peer could send.  The worked examples of
C{docs/nmi.md} are checked against the encoder, so the specification cannot
drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.nmi import (
    CONTROL_REQUESTS,
    DAEMON_REQUESTS,
    HEADER_SIZE,
    IPSEC_REQUESTS,
    MAX_MESSAGE_SIZE,
    MONITORING_REQUESTS,
    NMI_VERSION,
    NmiDecodeFailure,
    NmiDecoder,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    data_record,
    decode_message,
    encode_message,
    init_message,
    printable_line,
    record_data,
    record_lines,
    term_message,
    text_record,
)
from tests.strategies import nmi_valid_messages

DOCS = Path(__file__).parent.parent / "docs" / "nmi.md"
T = NmiMessageType
R = ReasonCode
BLANKS = b" " * 24


def rawRecord(
    *sections: tuple[bytes, int],
    ident: bytes = b"NMsR",
    length: int | None = None,
    count: int | None = None,
    flags: int = 0,
    offsets: list[int] | None = None,
) -> bytes:
    """
    A record of the given (data, entries) sections, with any field of its
    framing overridable.
    """
    first = 12 + 12 * len(sections)
    descriptors = b""
    body = b""
    offset = first
    for index, (data, entries) in enumerate(sections):
        start = offsets[index] if offsets is not None else offset
        descriptors += (
            start.to_bytes(4, "big")
            + len(data).to_bytes(4, "big")
            + entries.to_bytes(4, "big")
        )
        body += data
        offset += len(data)
    size = offset if length is None else length
    header = (
        ident
        + size.to_bytes(4, "big")
        + (len(sections) if count is None else count).to_bytes(2, "big")
        + flags.to_bytes(2, "big")
    )
    return header + descriptors + body


def lines(*texts: bytes) -> bytes:
    """The data of a text section holding C{texts}."""
    return b"".join(len(t).to_bytes(2, "big") + t for t in texts)


def textRecord(*texts: bytes) -> bytes:
    return rawRecord((lines(*texts), len(texts)))


def rawMessage(
    messageType: int = T.DAEMON_DISPLAY,
    *records: bytes,
    ident: bytes = b"NMsM",
    headerSize: int = HEADER_SIZE,
    version: int = NMI_VERSION,
    flags: int = 0,
    total: int | None = None,
    correlator: int = 7,
    target: bytes = BLANKS,
    rc: int = 0,
    rsn: int = 0,
    count: int | None = None,
    reserved: bytes = bytes(8),
    extra: bytes = b"",
) -> bytes:
    """
    A message with any header field overridable; C{extra} is appended after
    the records (and counted in the total length).
    """
    body = b"".join(records) + extra
    header = (
        ident
        + headerSize.to_bytes(2, "big")
        + version.to_bytes(2, "big")
        + messageType.to_bytes(2, "big")
        + flags.to_bytes(2, "big")
        + (HEADER_SIZE + len(body) if total is None else total).to_bytes(4, "big")
        + correlator.to_bytes(4, "big")
        + target
        + rc.to_bytes(4, "big")
        + rsn.to_bytes(4, "big")
        + (len(records) if count is None else count).to_bytes(4, "big")
        + reserved
    )
    return header + body


def decodeOne(data: bytes) -> NmiMessage | NmiDecodeFailure:
    results = NmiDecoder().feed(data)
    assert len(results) == 1, results
    return results[0]


class RawHelperTests(SynchronousTestCase):
    """
    The byte builders agree with the encoder, so that a failure built by
    changing one field differs from a valid message in that field only.
    """

    def test_sameBytes(self) -> None:
        request = NmiMessage(T.DAEMON_DISPLAY, 7)
        self.assertEqual(rawMessage(), encode_message(request))
        reply = request.answer([text_record(["a", "bc"])])
        self.assertEqual(
            rawMessage(T.DAEMON_DISPLAY, textRecord(b"a", b"bc"), flags=1),
            encode_message(reply),
        )


class RoundTripTests(SynchronousTestCase):
    """
    Examples of each kind of message survive encoding and decoding.
    """

    def assertRoundTrip(self, message: NmiMessage) -> None:
        self.assertEqual(decodeOne(encode_message(message)), message)

    def test_init(self) -> None:
        self.assertRoundTrip(init_message())
        self.assertRoundTrip(init_message(9))

    def test_term(self) -> None:
        self.assertRoundTrip(term_message())
        message = term_message(ReturnCode.EBUSY, R.NSSRsnShutdown, "bye")
        self.assertRoundTrip(message)
        self.assertEqual(message.lines(), ("bye",))

    def test_daemonRequestAndReply(self) -> None:
        request = NmiMessage(T.DAEMON_REFRESH, 42, target="MVS1_TCPIPA")
        self.assertRoundTrip(request)
        reply = request.answer([text_record(["refresh complete", "", "\u00e9"])])
        self.assertRoundTrip(reply)
        self.assertEqual(reply.lines(), ("refresh complete", "", "\u00e9"))
        self.assertEqual(reply.correlator, 42)
        self.assertEqual(reply.target, "MVS1_TCPIPA")
        self.assertTrue(reply.ok)

    def test_displayDataReply(self) -> None:
        """
        DAEMON_DISPLAY_DATA's reply holds a JSON document in a text record,
        a line of its indented text a line; DEL, which JSON leaves as it
        is, is escaped so that every line is a valid text line.
        """
        data = [{"Statement": "NssConfig", "Settings": {"Port": 4159, "X": "a\x7fb"}}]
        reply = NmiMessage(T.DAEMON_DISPLAY_DATA, 4).answer([data_record(data)])
        self.assertRoundTrip(reply)
        decoded = decodeOne(encode_message(reply))
        assert isinstance(decoded, NmiMessage)
        self.assertEqual(record_data(decoded.records[0]), data)
        self.assertGreater(len(reply.lines()), 1)

    def test_displayDataReplyNotJson(self) -> None:
        """
        A successful DAEMON_DISPLAY_DATA reply whose lines are no JSON
        document is refused by the encoder and the decoder alike; an error
        reply's text is not JSON, and passes.
        """
        request = NmiMessage(T.DAEMON_DISPLAY_DATA, 4)
        reply = request.answer([text_record(["Port 4159"])])
        self.assertRaises(ValueError, encode_message, reply)
        self.assertRaises(FieldDecodeError, record_data, text_record(["{"]))
        raw = rawMessage(
            T.DAEMON_DISPLAY_DATA, rawRecord((b"\x00\x09Port 4159", 1)), flags=1
        )
        failure = decodeOne(raw)
        assert isinstance(failure, NmiDecodeFailure)
        self.assertEqual(failure.reasonCode, R.NSSRsnBadFieldValue)
        self.assertRoundTrip(request.refuse(ReturnCode.EOPNOTSUPP, R.NONE, "no"))

    def test_emptyTextRecord(self) -> None:
        reply = NmiMessage(T.DAEMON_DISPLAY, 1).answer([text_record([])])
        self.assertRoundTrip(reply)
        self.assertEqual(reply.lines(), ())

    def test_errorReply(self) -> None:
        request = NmiMessage(T.GET_SUMMARY, 3)
        refusal = request.refuse(ReturnCode.EOPNOTSUPP, R.NONE, "no\nway")
        self.assertRoundTrip(refusal)
        self.assertFalse(refusal.ok)
        self.assertEqual(refusal.lines(), ("no?way",))
        self.assertRoundTrip(request.refuse(ReturnCode.ENXIO))

    def test_ipsecRecordsFramedOnly(self) -> None:
        """
        The records of IPsec requests pass through as sections of bytes,
        however many sections and entries, empty sections included.
        """
        records = (
            NmiRecord((NmiSection(2, b"\x01\x02"), NmiSection(0, b""))),
            NmiRecord(()),
            NmiRecord((NmiSection(7, b"x" * 40),)),
        )
        request = NmiMessage(T.ACTIVATE_IPTUNDYN, 5, target="A", records=records)
        self.assertRoundTrip(request)
        self.assertRoundTrip(request.answer(records))

    def test_typeSets(self) -> None:
        self.assertEqual(len(MONITORING_REQUESTS), 14)
        self.assertEqual(len(CONTROL_REQUESTS), 9)
        self.assertEqual(IPSEC_REQUESTS & DAEMON_REQUESTS, frozenset())
        self.assertEqual(T.GET_STACKINFO.ibmName, "NMsec_GET_STACKINFO")

    def test_printableLine(self) -> None:
        self.assertEqual(printable_line("a\r\nb\x85c"), "a??b?c")
        self.assertEqual(printable_line("\ud800"), "?")
        long = printable_line("\u00e9" * 40000)
        self.assertLessEqual(len(long.encode("utf-8")), 0xFFFF)
        self.assertEqual(long, "\u00e9" * (0xFFFF // 2))


class FatalFailureTests(SynchronousTestCase):
    """
    Failures that lose the framing, or that IBM answers by closing: the
    decoder reports them once and decodes nothing more.
    """

    def assertFatal(
        self, data: bytes, reason: ReasonCode, chunk: int | None = None
    ) -> NmiDecodeFailure:
        decoder = NmiDecoder()
        results: list[NmiMessage | NmiDecodeFailure] = []
        pieces = [data] if chunk is None else [data[:chunk], data[chunk:]]
        for piece in pieces:
            results += decoder.feed(piece)
        failure = results[-1]
        assert isinstance(failure, NmiDecodeFailure)
        self.assertEqual(
            (failure.returnCode, failure.reasonCode, failure.fatal),
            (ReturnCode.EINVAL, reason, True),
        )
        self.assertTrue(decoder.failed)
        self.assertEqual(decoder.pending, 0)
        self.assertEqual(decoder.feed(encode_message(init_message())), [])
        response = failure.response()
        assert response is not None
        self.assertEqual(response.messageType, T.TERM)
        self.assertEqual(
            (response.returnCode, response.reasonCode), (ReturnCode.EINVAL, reason)
        )
        return failure

    def test_badIdentifierAtFirstByte(self) -> None:
        """
        The identifier is checked as its bytes arrive: one wrong byte is
        enough.
        """
        failure = self.assertFatal(b"X", R.NMsRsnBadIdent)
        self.assertIn("b'X'", failure.text)
        self.assertIsNone(failure.correlator)

    def test_badIdentifierLater(self) -> None:
        self.assertFatal(b"NMsX" + bytes(100), R.NMsRsnBadIdent, chunk=2)

    def test_nssFrameIsBadIdentifier(self) -> None:
        self.assertFatal(b"NSSP" + bytes(28), R.NMsRsnBadIdent)

    def test_tooShortForHeader(self) -> None:
        """
        A total length below the header size is caught from the first 16
        bytes, without waiting for more.
        """
        self.assertFatal(rawMessage(total=63)[:16], R.NMsRsnMsgSize)

    def test_excessiveSize(self) -> None:
        self.assertFatal(
            rawMessage(total=MAX_MESSAGE_SIZE + 1)[:16], R.NMsRsnExcessiveSize
        )

    def test_configurableMaximum(self) -> None:
        """
        The maximum is inclusive.
        """
        data = encode_message(
            NmiMessage(T.DAEMON_DISPLAY, 1).answer([text_record(["x" * 100])])
        )
        self.assertIsInstance(NmiDecoder(len(data)).feed(data)[0], NmiMessage)
        failure = NmiDecoder(len(data) - 1).feed(data)[0]
        assert isinstance(failure, NmiDecodeFailure)
        self.assertEqual(failure.reasonCode, R.NMsRsnExcessiveSize)
        self.assertRaises(ValueError, NmiDecoder, HEADER_SIZE - 1)
        self.assertRaises(ValueError, NmiDecoder, True)
        self.assertRaises(ValueError, NmiDecoder, 2**32)

    def test_badRecordIdentifier(self) -> None:
        """
        IBM closes the connection for a bad record identifier too, although
        the message's length could be trusted.
        """
        failure = self.assertFatal(
            rawMessage(T.GET_SUMMARY, rawRecord(ident=b"NMsX")), R.NMsRsnBadIdent
        )
        self.assertEqual(failure.correlator, 7)

    def test_messagesBeforeFailureKept(self) -> None:
        good = encode_message(NmiMessage(T.DAEMON_DISPLAY, 1))
        results = NmiDecoder().feed(good + b"BAD!")
        self.assertEqual(results[0], NmiMessage(T.DAEMON_DISPLAY, 1))
        assert isinstance(results[1], NmiDecodeFailure)
        self.assertTrue(results[1].fatal)


NON_FATAL: dict[str, tuple[bytes, ReasonCode]] = {
    "version 0": (rawMessage(version=0), R.NMsRsnBadVersion),
    "version 2": (rawMessage(version=2), R.NMsRsnBadVersion),
    "INIT version 0": (rawMessage(T.INIT, version=0, correlator=0), R.NMsRsnBadVersion),
    "header size": (rawMessage(headerSize=80), R.NMsRsnHdrSize),
    "flags": (rawMessage(flags=2), R.NMsRsnBadType),
    "unknown type": (rawMessage(999), R.NMsRsnBadType),
    "type 0": (rawMessage(0), R.NMsRsnBadType),
    "INIT as reply": (rawMessage(T.INIT, flags=1, correlator=0), R.NMsRsnBadType),
    "TERM as reply": (rawMessage(T.TERM, flags=1, correlator=0), R.NMsRsnBadType),
    "reserved": (rawMessage(reserved=b"\0" * 7 + b"\1"), R.NSSRsnBadHeaderValue),
    "unknown rc": (rawMessage(flags=1, rc=5, rsn=0), R.NSSRsnBadHeaderValue),
    "unknown rsn": (rawMessage(flags=1, rc=121, rsn=999), R.NSSRsnBadHeaderValue),
    "OK with reason": (rawMessage(flags=1, rsn=1), R.NSSRsnBadHeaderValue),
    "request with rc": (rawMessage(rc=121, rsn=1), R.NSSRsnBadHeaderValue),
    "INIT with rc": (rawMessage(T.INIT, correlator=0, rc=114), R.NSSRsnBadHeaderValue),
    "INIT correlator": (rawMessage(T.INIT, correlator=1), R.NSSRsnBadHeaderValue),
    "TERM target": (
        rawMessage(T.TERM, correlator=0, target=b"A" + b" " * 23),
        R.NSSRsnBadHeaderValue,
    ),
    "target character": (rawMessage(target=b"A B" + b" " * 21), R.NSSRsnBadHeaderValue),
    "target leading blank": (
        rawMessage(target=b" AB" + b" " * 21),
        R.NSSRsnBadHeaderValue,
    ),
    "target NUL": (rawMessage(target=b"AB" + b"\0" * 22), R.NSSRsnBadHeaderValue),
    "target not ASCII": (
        rawMessage(target=b"\xc1" + b" " * 23),
        R.NSSRsnBadHeaderValue,
    ),
    "no record header": (rawMessage(T.GET_SUMMARY, count=1), R.NSSRsnFieldOverrun),
    "short record header": (
        rawMessage(T.GET_SUMMARY, count=1, extra=b"NMsR\0\0\0\x0c"),
        R.NSSRsnFieldOverrun,
    ),
    "second record missing": (
        rawMessage(T.GET_SUMMARY, rawRecord(), count=2),
        R.NSSRsnFieldOverrun,
    ),
    "record too long": (
        rawMessage(T.GET_SUMMARY, rawRecord(length=13)),
        R.NSSRsnFieldOverrun,
    ),
    "record too short": (
        rawMessage(T.GET_SUMMARY, rawRecord((b"ab", 1), length=11)),
        R.NMsRsnMsgSize,
    ),
    "record short of descriptors": (
        rawMessage(T.GET_SUMMARY, rawRecord((b"", 0), length=12, count=1)[:12]),
        R.NMsRsnMsgSize,
    ),
    "record flags": (
        rawMessage(T.GET_SUMMARY, rawRecord(flags=1)),
        R.NSSRsnBadHeaderValue,
    ),
    "section past record": (
        rawMessage(T.GET_SUMMARY, rawRecord((b"ab", 1), offsets=[25])),
        R.NSSRsnFieldOverrun,
    ),
    "section offset": (
        rawMessage(T.GET_SUMMARY, rawRecord((b"ab", 1), (b"", 0), offsets=[36, 37])),
        R.NMsRsnMsgSize,
    ),
    "section gap": (
        rawMessage(
            T.GET_SUMMARY, rawRecord((b"ab", 1), offsets=[25], length=27), extra=b"\0"
        ),
        R.NMsRsnMsgSize,
    ),
    "record longer than sections": (
        rawMessage(T.GET_SUMMARY, rawRecord((b"ab", 1), length=27), extra=b"\0"),
        R.NMsRsnMsgSize,
    ),
    "bytes after records": (
        rawMessage(T.GET_SUMMARY, rawRecord(), extra=b"\0"),
        R.NMsRsnMsgSize,
    ),
    "bytes without records": (rawMessage(extra=b"\0"), R.NMsRsnMsgSize),
    "records in daemon request": (
        rawMessage(T.DAEMON_DISPLAY, textRecord(b"a")),
        R.NSSRsnBadField,
    ),
    "records in INIT": (
        rawMessage(T.INIT, textRecord(), correlator=0),
        R.NSSRsnBadField,
    ),
    "two records in TERM": (
        rawMessage(T.TERM, textRecord(), textRecord(), correlator=0),
        R.NSSRsnBadField,
    ),
    "two records in error reply": (
        rawMessage(T.GET_SUMMARY, textRecord(), textRecord(), flags=1, rc=122, rsn=50),
        R.NSSRsnBadField,
    ),
    "daemon reply without record": (rawMessage(flags=1), R.NSSRsnMissingField),
    "daemon reply with two records": (
        rawMessage(T.DAEMON_REFRESH, textRecord(), textRecord(), flags=1),
        R.NSSRsnBadField,
    ),
    "text record of two sections": (
        rawMessage(T.DAEMON_DISPLAY, rawRecord((b"", 0), (b"", 0)), flags=1),
        R.NSSRsnBadField,
    ),
    "text record of no section": (
        rawMessage(T.DAEMON_DISPLAY, rawRecord(), flags=1),
        R.NSSRsnBadField,
    ),
    "line past section": (
        rawMessage(T.DAEMON_DISPLAY, rawRecord((b"\0\x05abc", 1)), flags=1),
        R.NSSRsnFieldOverrun,
    ),
    "more lines counted": (
        rawMessage(T.DAEMON_DISPLAY, rawRecord((lines(b"a"), 2)), flags=1),
        R.NSSRsnFieldOverrun,
    ),
    "fewer lines counted": (
        rawMessage(T.DAEMON_DISPLAY, rawRecord((lines(b"a", b"b"), 1)), flags=1),
        R.NMsRsnMsgSize,
    ),
    "line not UTF-8": (
        rawMessage(T.DAEMON_DISPLAY, textRecord(b"\xff"), flags=1),
        R.NSSRsnBadFieldValue,
    ),
    "line with line end": (
        rawMessage(T.DAEMON_DISPLAY, textRecord(b"a\nb"), flags=1),
        R.NSSRsnBadFieldValue,
    ),
    "bad text in TERM": (
        rawMessage(T.TERM, textRecord(b"\x1b[2J"), correlator=0, rc=114, rsn=51),
        R.NSSRsnBadFieldValue,
    ),
}
"""Each kind of non-fatal failure: the message's bytes and the reason."""


class NonFatalFailureTests(SynchronousTestCase):
    """
    Failures in a message whose length can be trusted: the message is
    skipped, its request can be answered, and the next message decodes.
    """

    def test_eachFailure(self) -> None:
        following = encode_message(NmiMessage(T.DAEMON_DISPLAY, 99))
        for name, (data, reason) in NON_FATAL.items():
            decoder = NmiDecoder()
            results = decoder.feed(data + following)
            self.assertEqual(len(results), 2, name)
            failure, after = results
            assert isinstance(failure, NmiDecodeFailure), name
            self.assertEqual(
                (failure.returnCode, failure.reasonCode, failure.fatal),
                (ReturnCode.EINVAL, reason, False),
                f"{name}: {failure.text}",
            )
            self.assertEqual(after, NmiMessage(T.DAEMON_DISPLAY, 99), name)
            self.assertFalse(decoder.failed)

    def test_requestAnswered(self) -> None:
        """
        A bad request is answered with its correlator and type, in a
        version 1 header, with the codes and the explanation.
        """
        failure = decodeOne(rawMessage(version=3, correlator=12))
        assert isinstance(failure, NmiDecodeFailure)
        response = failure.response()
        assert response is not None
        self.assertEqual(
            (response.messageType, response.correlator, response.reply),
            (T.DAEMON_DISPLAY, 12, True),
        )
        self.assertEqual(response.version, 1)
        self.assertEqual(
            (response.returnCode, response.reasonCode),
            (ReturnCode.EINVAL, R.NMsRsnBadVersion),
        )
        self.assertIn("version 3", response.lines()[0])
        decodeOne(encode_message(response))

    def test_unknownTypeEchoed(self) -> None:
        failure = decodeOne(rawMessage(999, correlator=4))
        assert isinstance(failure, NmiDecodeFailure)
        response = failure.response()
        assert response is not None
        self.assertEqual(response.messageType, 999)
        data = encode_message(response)
        self.assertEqual(data[8:10], b"\x03\xe7")
        # The peer that sent type 999 cannot decode the echo either.
        echoed = decodeOne(data)
        assert isinstance(echoed, NmiDecodeFailure)
        self.assertTrue(echoed.reply)
        self.assertIsNone(echoed.response())

    def test_badReplyNotAnswered(self) -> None:
        failure = decodeOne(rawMessage(flags=1, correlator=5))
        assert isinstance(failure, NmiDecodeFailure)
        self.assertTrue(failure.reply)
        self.assertEqual(failure.correlator, 5)
        self.assertIsNone(failure.response())

    def test_badInitOrTermNotAnswered(self) -> None:
        for data in (
            rawMessage(T.INIT, correlator=3),
            rawMessage(T.TERM, textRecord(b"\0"), correlator=0),
        ):
            failure = decodeOne(data)
            assert isinstance(failure, NmiDecodeFailure)
            self.assertIsNone(failure.response())

    def test_initOfLaterVersion(self) -> None:
        """
        INIT and TERM keep their layout in every version, so a client
        accepts them from a server that speaks more than it does.
        """
        self.assertEqual(
            decodeOne(rawMessage(T.INIT, version=5, correlator=0)), init_message(5)
        )
        term = decodeOne(rawMessage(T.TERM, version=2, correlator=0))
        assert isinstance(term, NmiMessage)
        self.assertEqual(term.version, 2)

    def test_responseTextMadePrintable(self) -> None:
        failure = NmiDecodeFailure(
            1, 100, ReturnCode.EINVAL, R.NSSRsnBadField, False, "a\nb"
        )
        response = failure.response()
        assert response is not None
        self.assertEqual(response.lines(), ("a?b",))


class EncoderTests(SynchronousTestCase):
    """
    The encoder refuses what the decoder would refuse.
    """

    def test_refusals(self) -> None:
        request = NmiMessage(T.DAEMON_DISPLAY, 1)
        bad = [
            "not a message",
            NmiMessage(999, 1),
            NmiMessage(999, 1, reply=True),
            NmiMessage(T.DAEMON_DISPLAY, -1),
            NmiMessage(T.DAEMON_DISPLAY, 2**32),
            NmiMessage(T.DAEMON_DISPLAY, 1, version=2),
            NmiMessage(T.DAEMON_DISPLAY, 1, reply=1),  # type: ignore[arg-type]
            NmiMessage(T.DAEMON_DISPLAY, 1, target="A B"),
            NmiMessage(T.DAEMON_DISPLAY, 1, target="x" * 25),
            NmiMessage(T.DAEMON_DISPLAY, 1, returnCode=ReturnCode.EINVAL),
            NmiMessage(T.DAEMON_DISPLAY, 1, reply=True, reasonCode=R.NMsRsnBadType),
            NmiMessage(T.DAEMON_DISPLAY, 1, returnCode=5),  # type: ignore[arg-type]
            NmiMessage(T.DAEMON_DISPLAY, 1, records=[]),  # type: ignore[arg-type]
            NmiMessage(T.DAEMON_DISPLAY, 1, records=(text_record([]),)),
            request.answer(),
            request.answer([text_record([]), text_record([])]),
            request.answer([NmiRecord((NmiSection(1, b"\0"),))]),
            request.answer([NmiRecord((NmiSection(2**32, b""),))]),
            NmiMessage(T.GET_SUMMARY, 1, records=(NmiRecord([]),)),  # type: ignore[arg-type]
            NmiMessage(T.GET_SUMMARY, 1, records=(NmiRecord((NmiSection(0, "x"),)),)),  # type: ignore[arg-type]
            NmiMessage(T.GET_SUMMARY, 1, records=("x",)),  # type: ignore[arg-type]
            NmiMessage(T.INIT, 1),
            NmiMessage(T.INIT, target="A"),
            NmiMessage(T.INIT, reply=True),
            NmiMessage(T.INIT, version=0),
            NmiMessage(
                T.INIT, returnCode=ReturnCode.EBUSY, reasonCode=R.NSSRsnShutdown
            ),
            NmiMessage(T.INIT, records=(text_record([]),)),
            NmiMessage(T.TERM, records=(text_record([]), text_record([]))),
            NmiMessage(T.TERM, records=(NmiRecord(()),)),
        ]
        for message in bad:
            self.assertRaises(ValueError, encode_message, message)

    def test_textRecordRefusesControl(self) -> None:
        self.assertRaises(ValueError, text_record, ["a\nb"])
        self.assertRaises(ValueError, text_record, ["x" * 0x10000])

    def test_maximumSize(self) -> None:
        message = NmiMessage(T.DAEMON_DISPLAY, 1).answer([text_record(["x" * 100])])
        size = len(encode_message(message))
        encode_message(message, size)
        self.assertRaises(ValueError, encode_message, message, size - 1)

    def test_linesOfNonText(self) -> None:
        message = NmiMessage(T.GET_SUMMARY, 1, records=(NmiRecord(()),))
        self.assertRaises(ValueError, message.lines)
        self.assertEqual(record_lines(text_record(["a"])), ("a",))


class DecodeMessageTests(SynchronousTestCase):
    """
    L{decode_message} takes exactly one message, as NETMGMT carries it.
    """

    def test_exact(self) -> None:
        message = NmiMessage(T.GET_SUMMARY, 3, target="X")
        self.assertEqual(decode_message(encode_message(message)), message)

    def test_incompleteOrTrailing(self) -> None:
        data = encode_message(NmiMessage(T.GET_SUMMARY, 3))
        for bad in (b"", data[:-1], data + b"N", data + data):
            failure = decode_message(bad)
            assert isinstance(failure, NmiDecodeFailure)
            self.assertEqual(failure.reasonCode, R.NMsRsnMsgSize)
            self.assertFalse(failure.fatal)

    def test_fatal(self) -> None:
        failure = decode_message(b"junk")
        assert isinstance(failure, NmiDecodeFailure)
        self.assertEqual(failure.reasonCode, R.NMsRsnBadIdent)

    def test_nonFatalFailure(self) -> None:
        failure = decode_message(rawMessage(version=2))
        assert isinstance(failure, NmiDecodeFailure)
        self.assertEqual(failure.reasonCode, R.NMsRsnBadVersion)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


class PropertyTests(SynchronousTestCase):
    """
    Properties over arbitrary messages and arbitrary bytes.
    """

    @given(nmi_valid_messages())
    def test_roundTrip(self, message: NmiMessage) -> None:
        self.assertEqual(NmiDecoder().feed(encode_message(message)), [message])

    @settings(suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(nmi_valid_messages(), min_size=1, max_size=4),
        st.lists(st.integers(0, 10_000), max_size=8),
    )
    def test_anyChunking(self, messages: list[NmiMessage], cuts: list[int]) -> None:
        stream = b"".join(encode_message(m) for m in messages)
        decoder = NmiDecoder()
        results: list[NmiMessage | NmiDecodeFailure] = []
        for piece in chunked(stream, cuts):
            results += decoder.feed(piece)
        self.assertEqual(results, messages)
        self.assertEqual(decoder.pending, 0)

    @given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=6))
    def test_arbitraryBytesNeverRaise(self, data: bytes, cuts: list[int]) -> None:
        """
        Any bytes, however cut, give the same messages and failures.
        """
        whole = NmiDecoder().feed(data)
        decoder = NmiDecoder()
        pieces: list[NmiMessage | NmiDecodeFailure] = []
        for piece in chunked(data, cuts):
            pieces += decoder.feed(piece)
        self.assertEqual(pieces, whole)
        for item in whole:
            if isinstance(item, NmiDecodeFailure):
                response = item.response()
                if response is not None:
                    encode_message(response)

    @given(
        nmi_valid_messages(),
        st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4),
        st.lists(st.integers(0, 400), max_size=4),
    )
    def test_mutatedMessagesNeverRaise(
        self, message: NmiMessage, edits: list[tuple[int, int]], cuts: list[int]
    ) -> None:
        """
        Valid messages with bytes changed (past the identifier, so that the
        deeper checks are reached) decode to the same results however cut,
        and every failure's response can be encoded.
        """
        data = bytearray(encode_message(message))
        for position, value in edits:
            data[4 + position % (len(data) - 4)] = value
        whole = NmiDecoder().feed(bytes(data))
        decoder = NmiDecoder()
        pieces: list[NmiMessage | NmiDecodeFailure] = []
        for piece in chunked(bytes(data), cuts):
            pieces += decoder.feed(piece)
        self.assertEqual(pieces, whole)
        for item in whole:
            if isinstance(item, NmiDecodeFailure):
                response = item.response()
                if response is not None:
                    encode_message(response)
            else:
                self.assertEqual(NmiDecoder().feed(encode_message(item)), [item])


def hexdump(data: bytes) -> str:
    """The layout the specification prints messages in: 16 bytes a line."""
    return "\n".join(
        f"{offset:04x}  " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
        for offset in range(0, len(data), 16)
    )


EXAMPLES = [
    init_message(),
    NmiMessage(T.DAEMON_DISPLAY, 1),
    NmiMessage(T.DAEMON_DISPLAY, 1).answer(
        [text_record(["Port 4159", "SyslogLevel 0"])]
    ),
    NmiMessage(T.GET_SUMMARY, 2, target="MVS1_TCPIPA").refuse(
        ReturnCode.EOPNOTSUPP, R.NONE, "not routed"
    ),
    term_message(ReturnCode.EBUSY, R.NSSRsnShutdown),
]


class DocumentationTests(SynchronousTestCase):
    """
    C{docs/nmi.md} shows what the code does.
    """

    def test_examplesInDocs(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        for message in EXAMPLES:
            data = encode_message(message)
            self.assertIn(hexdump(data), text)
            self.assertIn(f"{len(data)} bytes:", text)
            self.assertEqual(NmiDecoder().feed(data), [message])

    def test_everyTypeDocumented(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        for messageType in NmiMessageType:
            self.assertRegex(
                text, rf"\| {messageType.value} \| `{messageType.ibmName}` \|"
            )

    def test_layoutTables(self) -> None:
        """
        The header, record header and descriptor tables add up to their
        sizes.
        """
        text = DOCS.read_text(encoding="utf-8")
        rows = re.findall(r"^\| (\d+) \| (\d+) \| `NMs(\w)\w+` \|", text, re.MULTILINE)
        sizes = {"M": 0, "R": 0, "S": 0}
        for start, size, table in rows:
            self.assertEqual(int(start), sizes[table])
            sizes[table] += int(size)
        self.assertEqual(sizes, {"M": 64, "R": 12, "S": 12})
