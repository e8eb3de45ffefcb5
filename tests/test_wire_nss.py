"""
Tests for L{nsstwisted.wire.nss} and L{nsstwisted.wire.codes}.

Frames are built two ways: through L{encode_frame}, for what a correct peer
sends, and byte by byte with L{rawFrame}, for everything a broken or hostile
peer could send.  The documentation's worked examples are checked against
the encoder, so C{docs/protocol.md} cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.codes import (
    REASON_RETURN_CODE,
    REASON_TEXT,
    RETURN_TEXT,
    ReasonCode,
    ReturnCode,
)
from nsstwisted.wire.nss import (
    FLAG_REPLY,
    HEADER_LENGTH,
    MAX_CHAIN_LENGTH,
    MAX_MESSAGE_SIZE,
    MAX_PRELOGON_MESSAGE_SIZE,
    MAX_TEXT_BYTES,
    STACK_NAME_PATTERN,
    SYSTEM_NAME_PATTERN,
    CaListReply,
    CaListRequest,
    DecodeFailure,
    Disconnect,
    FieldType,
    HeartbeatReply,
    HeartbeatRequest,
    Identity,
    IdentityKind,
    LogonReply,
    LogonRequest,
    MessageType,
    NetMgmtReply,
    NetMgmtRequest,
    NssDecoder,
    NssFrame,
    Refusal,
    Services,
    SignatureSchemeCode,
    SignReply,
    SignRequest,
    VerifyReply,
    VerifyRequest,
    encode_frame,
)
from tests.strategies import der_sequence, logon_requests, nss_frames

DOCS = Path(__file__).parent.parent / "docs" / "protocol.md"

CERT = der_sequence(b"\x02\x01\x01")
INTERMEDIATE = der_sequence(b"\x02\x01\x02" * 50)
DIGEST256 = bytes(range(32))
F = FieldType


def field(fieldType: int, value: bytes) -> bytes:
    return fieldType.to_bytes(2, "big") + len(value).to_bytes(4, "big") + value


def rawFrame(
    messageType: int,
    *fields: bytes,
    flags: int = 0,
    requestId: int = 1,
    returnCode: int = 0,
    reasonCode: int = 0,
    version: int = 1,
    reserved: int = 0,
    headerLength: int = HEADER_LENGTH,
    total: int | None = None,
    identifier: bytes = b"NSSP",
) -> bytes:
    """
    A frame exactly as given, right or wrong.
    """
    body = b"".join(fields)
    size = HEADER_LENGTH + len(body) if total is None else total
    return (
        identifier
        + b"".join(
            n.to_bytes(2, "big") for n in (headerLength, version, messageType, flags)
        )
        + b"".join(
            n.to_bytes(4, "big")
            for n in (size, requestId, returnCode, reasonCode, reserved)
        )
        + body
    )


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


LOGON_FIELDS = (
    field(F.CLIENT_NAME, b"MVS1_TCPIP"),
    field(F.USERID, b"IKED"),
    field(F.PASSWORD, b"secret"),
    field(F.API_VERSION, u32(1)),
    field(F.SERVICES, u32(1)),
)


def decodeAll(
    data: bytes, maxMessageSize: int = MAX_MESSAGE_SIZE
) -> list[NssFrame | DecodeFailure]:
    return NssDecoder(maxMessageSize).feed(data)


class FrameTestCase(SynchronousTestCase):
    def decodeOne(
        self, data: bytes, maxMessageSize: int = MAX_MESSAGE_SIZE
    ) -> NssFrame | DecodeFailure:
        results = decodeAll(data, maxMessageSize)
        self.assertEqual(len(results), 1, results)
        return results[0]

    def assertRoundTrip(self, frame: NssFrame) -> None:
        self.assertEqual(self.decodeOne(encode_frame(frame)), frame)

    def assertFailure(
        self,
        data: bytes,
        reasonCode: ReasonCode,
        fatal: bool = False,
        maxMessageSize: int = MAX_MESSAGE_SIZE,
    ) -> DecodeFailure:
        """
        C{data} decodes to one failure with return code EINVAL and the given
        reason; a non-fatal one names the frame's request ID and type.
        """
        result = self.decodeOne(data, maxMessageSize)
        assert isinstance(result, DecodeFailure), result
        self.assertEqual(
            (result.returnCode, result.reasonCode, result.fatal),
            (ReturnCode.EINVAL, reasonCode, fatal),
            result.text,
        )
        if fatal:
            self.assertEqual((result.requestId, result.messageType), (None, None))
        else:
            self.assertEqual(result.requestId, int.from_bytes(data[16:20], "big"))
            self.assertEqual(result.messageType, int.from_bytes(data[8:10], "big"))
        return result


class RoundTripTests(FrameTestCase):
    """
    Every message survives encoding and decoding.
    """

    def test_logonWithPassword(self) -> None:
        self.assertRoundTrip(
            NssFrame(
                1,
                LogonRequest(
                    "MVS1_TCPIP", "IKED", "pass phrase é", None, 1, Services.CERT
                ),
            )
        )

    def test_logonWithPassTicket(self) -> None:
        self.assertRoundTrip(
            NssFrame(
                2,
                LogonRequest(
                    "a.b-c@#$_9",
                    "iked#1",
                    None,
                    "X1Y2Z3W4",
                    7,
                    Services.CERT | Services.NETMGMT,
                ),
            )
        )

    def test_logonReply(self) -> None:
        self.assertRoundTrip(NssFrame(1, LogonReply(Services.NETMGMT, 1, "MVS093")))

    def test_signByLabelAndDigest(self) -> None:
        self.assertRoundTrip(
            NssFrame(
                3,
                SignRequest(
                    "IKE signing key",
                    None,
                    SignatureSchemeCode.ECDSA_SHA256,
                    DIGEST256,
                    None,
                ),
            )
        )

    def test_signByIdentityAndData(self) -> None:
        for identity in [
            Identity(IdentityKind.DN, "CN=ike.example.com,O=Example"),
            Identity(IdentityKind.IPADDR, "192.0.2.1"),
            Identity(IdentityKind.IPADDR, "2001:db8::1"),
            Identity(IdentityKind.FQDN, "ike.example.com"),
            Identity(IdentityKind.EMAIL, "ike@example.com"),
        ]:
            self.assertRoundTrip(
                NssFrame(
                    4,
                    SignRequest(
                        None,
                        identity,
                        SignatureSchemeCode.RSA_PSS_SHA512,
                        None,
                        b"octets to sign",
                    ),
                )
            )

    def test_signEmptyData(self) -> None:
        self.assertRoundTrip(
            NssFrame(
                4, SignRequest("k", None, SignatureSchemeCode.RSA_PKCS1_SHA1, None, b"")
            )
        )

    def test_signReply(self) -> None:
        self.assertRoundTrip(NssFrame(3, SignReply(b"\x30\x06sig", CERT)))

    def test_verify(self) -> None:
        self.assertRoundTrip(
            NssFrame(
                5,
                VerifyRequest(
                    CERT,
                    (INTERMEDIATE, CERT),
                    SignatureSchemeCode.RSA_PKCS1_SHA384,
                    bytes(48),
                    None,
                    b"signature",
                ),
            )
        )
        self.assertRoundTrip(
            NssFrame(
                5,
                VerifyRequest(
                    CERT, (), SignatureSchemeCode.ECDSA_SHA512, None, b"data", b"s"
                ),
            )
        )

    def test_verifyReply(self) -> None:
        self.assertRoundTrip(NssFrame(5, VerifyReply()))

    def test_caList(self) -> None:
        self.assertRoundTrip(NssFrame(6, CaListRequest()))
        self.assertRoundTrip(NssFrame(6, CaListReply((CERT, INTERMEDIATE))))
        self.assertRoundTrip(NssFrame(6, CaListReply(())))

    def test_netMgmt(self) -> None:
        self.assertRoundTrip(NssFrame(7, NetMgmtRequest(b"NMI request")))
        self.assertRoundTrip(NssFrame(7, NetMgmtReply(b"NMI reply")))

    def test_heartbeat(self) -> None:
        self.assertRoundTrip(NssFrame(8, HeartbeatRequest()))
        self.assertRoundTrip(NssFrame(8, HeartbeatReply()))

    def test_disconnect(self) -> None:
        self.assertRoundTrip(NssFrame(0, Disconnect()))
        self.assertRoundTrip(
            NssFrame(
                0,
                Disconnect("shutting down"),
                ReturnCode.EBUSY,
                ReasonCode.NSSRsnShutdown,
            )
        )

    def test_refusal(self) -> None:
        self.assertRoundTrip(
            NssFrame(
                9,
                Refusal(MessageType.SIGN),
                ReturnCode.ENOENT,
                ReasonCode.NSSRsnCertNotFound,
                "no certificate with label 'x'",
            )
        )
        self.assertRoundTrip(
            NssFrame(9, Refusal(MessageType.NETMGMT), ReturnCode.ENXIO)
        )

    def test_refusalTypeIsMessageType(self) -> None:
        """
        A decoded refusal names its type as a L{MessageType}, for logs.
        """
        frame = self.decodeOne(
            encode_frame(NssFrame(1, Refusal(2), ReturnCode.EIO, ReasonCode.NONE))
        )
        assert isinstance(frame, NssFrame)
        assert isinstance(frame.message, Refusal)
        self.assertIs(frame.message.messageType, MessageType.SIGN)

    def test_errorTextOnAnyMessage(self) -> None:
        self.assertRoundTrip(NssFrame(1, HeartbeatReply(), text="ok"))
        self.assertRoundTrip(NssFrame(1, HeartbeatRequest(), text=""))
        self.assertRoundTrip(NssFrame(1, CaListRequest(), text="é" * 256))

    def test_fieldOrderFree(self) -> None:
        """
        Receivers accept fields in any order.
        """
        fields = list(reversed(LOGON_FIELDS))
        frame = self.decodeOne(rawFrame(1, *fields))
        assert isinstance(frame, NssFrame)
        self.assertEqual(
            frame.message,
            LogonRequest("MVS1_TCPIP", "IKED", "secret", None, 1, Services.CERT),
        )

    def test_messageKinds(self) -> None:
        """
        Each class knows its type and direction, which decide the header.
        """
        data = encode_frame(NssFrame(1, SignReply(b"s", CERT)))
        self.assertEqual(data[8:12], u16(MessageType.SIGN) + u16(FLAG_REPLY))
        data = encode_frame(NssFrame(1, NetMgmtRequest(b"n")))
        self.assertEqual(data[8:12], u16(MessageType.NETMGMT) + u16(0))
        self.assertEqual(Refusal(3).isReply, True)
        self.assertEqual(Disconnect().isReply, False)


class RequestIdTests(FrameTestCase):
    """
    Request IDs pass through untouched, whatever their value, so that out
    of order replies find their requests.
    """

    def test_extremes(self) -> None:
        for requestId in (0, 1, 0x7FFFFFFF, 0xFFFFFFFF):
            self.assertRoundTrip(NssFrame(requestId, HeartbeatRequest()))
            self.assertRoundTrip(NssFrame(requestId, HeartbeatReply()))

    def test_outOfOrder(self) -> None:
        """
        Replies decode in stream order, each with the ID it echoes.
        """
        replies = [
            NssFrame(3, SignReply(b"three", CERT)),
            NssFrame(
                1, Refusal(2), ReturnCode.EACCES, ReasonCode.NSSRsnCertAccessDenied
            ),
            NssFrame(2, SignReply(b"two", CERT)),
        ]
        data = b"".join(encode_frame(f) for f in replies)
        self.assertEqual(decodeAll(data), replies)

    def test_failureEchoesId(self) -> None:
        failure = self.assertFailure(
            rawFrame(2, field(99, b""), requestId=0xDEADBEEF), ReasonCode.NSSRsnBadField
        )
        response = failure.response()
        assert response is not None
        self.assertEqual(response.requestId, 0xDEADBEEF)


class LogonTests(FrameTestCase):
    def test_bothCredentials(self) -> None:
        self.assertFailure(
            rawFrame(1, *LOGON_FIELDS, field(F.PASSTICKET, b"ABCDEFGH")),
            ReasonCode.NSSRsnFieldConflict,
        )
        self.assertRaises(
            ValueError,
            encode_frame,
            NssFrame(1, LogonRequest("C", "U", "pw", "ABCDEFGH", 1, Services.CERT)),
        )

    def test_noCredential(self) -> None:
        fields = [f for f in LOGON_FIELDS if f[:2] != u16(F.PASSWORD)]
        self.assertFailure(rawFrame(1, *fields), ReasonCode.NSSRsnMissingField)
        self.assertRaises(
            ValueError,
            encode_frame,
            NssFrame(1, LogonRequest("C", "U", None, None, 1, Services.CERT)),
        )

    def test_passTicketLength(self) -> None:
        fields = [f for f in LOGON_FIELDS if f[:2] != u16(F.PASSWORD)]
        for ticket in (b"SEVEN77", b"NINE99999", b"WITH BLK"):
            self.assertFailure(
                rawFrame(1, *fields, field(F.PASSTICKET, ticket)),
                ReasonCode.NSSRsnBadFieldValue,
            )

    def test_noServices(self) -> None:
        fields = [*LOGON_FIELDS[:4], field(F.SERVICES, u32(0))]
        self.assertFailure(rawFrame(1, *fields), ReasonCode.NSSRsnBadFieldValue)
        self.assertRaises(
            ValueError,
            encode_frame,
            NssFrame(1, LogonRequest("C", "U", "pw", None, 1, Services(0))),
        )

    def test_unknownServiceBit(self) -> None:
        fields = [*LOGON_FIELDS[:4], field(F.SERVICES, u32(5))]
        self.assertFailure(rawFrame(1, *fields), ReasonCode.NSSRsnBadFieldValue)

    def test_apiVersionZero(self) -> None:
        fields = [*LOGON_FIELDS[:3], field(F.API_VERSION, u32(0)), LOGON_FIELDS[4]]
        self.assertFailure(rawFrame(1, *fields), ReasonCode.NSSRsnBadFieldValue)

    def test_names(self) -> None:
        """
        Client names are 1 to 24 characters of their alphabet, user IDs 1
        to 8 of theirs.
        """
        for fieldType, bad in [
            (F.CLIENT_NAME, b""),
            (F.CLIENT_NAME, b"A" * 25),
            (F.CLIENT_NAME, b"with blank"),
            (F.CLIENT_NAME, "\u00e9t\u00e9".encode()),
            (F.USERID, b"NINECHARS"),
            (F.USERID, b"I.KED"),
            (F.USERID, b""),
        ]:
            fields = [
                field(fieldType, bad) if f[:2] == u16(fieldType) else f
                for f in LOGON_FIELDS
            ]
            self.assertFailure(rawFrame(1, *fields), ReasonCode.NSSRsnBadFieldValue)
        self.assertRoundTrip(
            NssFrame(1, LogonRequest("X" * 24, "ABCDEFGH", "p", None, 1, Services.CERT))
        )

    def test_clientSystemAndStack(self) -> None:
        """
        The optional system and stack names of C{ipsec -x} travel after the
        other fields, in the order of the field table.
        """
        frame = NssFrame(
            1,
            LogonRequest(
                "MVS052_TCPCS4",
                "USER1",
                None,
                "M7Q2K9ZD",
                1,
                Services.CERT,
                systemName="MVS052",
                stackName="TCPCS4",
            ),
        )
        self.assertRoundTrip(frame)
        data = encode_frame(frame)
        self.assertTrue(
            data.endswith(
                field(F.CLIENT_SYSTEM_NAME, b"MVS052")
                + field(F.CLIENT_STACK_NAME, b"TCPCS4")
            )
        )
        for systemName, stackName in [("MVS052", None), (None, "TCPCS4")]:
            self.assertRoundTrip(
                NssFrame(
                    1,
                    LogonRequest(
                        "C", "U", "pw", None, 1, Services.CERT, systemName, stackName
                    ),
                )
            )

    def test_withoutSystemAndStack(self) -> None:
        """
        A LOGON of a client that predates the two fields decodes as before,
        with both C{None}; and the encoder sends neither when neither is
        given, so that such a client's bytes do not change.
        """
        frame = self.decodeOne(rawFrame(1, *LOGON_FIELDS))
        assert isinstance(frame, NssFrame)
        message = frame.message
        assert isinstance(message, LogonRequest)
        self.assertEqual((message.systemName, message.stackName), (None, None))
        self.assertEqual(encode_frame(frame), rawFrame(1, *LOGON_FIELDS))

    def test_systemAndStackValues(self) -> None:
        """
        The system name follows C{SYSTEM_NAME}'s rule, the stack name the
        NMI's; an empty or bad value is refused, on the wire and when
        encoding (C{""} is not "absent", C{None} is).
        """
        for fieldType, bad in [
            (F.CLIENT_SYSTEM_NAME, b""),
            (F.CLIENT_SYSTEM_NAME, b"MVS05200X"),
            (F.CLIENT_SYSTEM_NAME, b"MVS.052"),
            (F.CLIENT_SYSTEM_NAME, b"MVS 052"),
            (F.CLIENT_STACK_NAME, b""),
            (F.CLIENT_STACK_NAME, b"TCPCS1234"),
            (F.CLIENT_STACK_NAME, b"TCP/CS"),
            (F.CLIENT_STACK_NAME, "TÉ".encode()),
        ]:
            self.assertFailure(
                rawFrame(1, *LOGON_FIELDS, field(fieldType, bad)),
                ReasonCode.NSSRsnBadFieldValue,
            )
        for good in ("MVS052", "mvs_1-#$", "@"):
            self.assertTrue(SYSTEM_NAME_PATTERN.fullmatch(good))
        for good in ("TCPCS4", "tcp.ip-1", "#"):
            self.assertTrue(STACK_NAME_PATTERN.fullmatch(good))
        for systemName, stackName in [("", None), (None, ""), ("TOOLONG99", None)]:
            with self.assertRaises(ValueError) as caught:
                encode_frame(
                    NssFrame(
                        1,
                        LogonRequest(
                            "C",
                            "U",
                            "pw",
                            None,
                            1,
                            Services.CERT,
                            systemName,
                            stackName,
                        ),
                    )
                )
            name = "systemName" if systemName is not None else "stackName"
            self.assertIn(f"LogonRequest.{name}", str(caught.exception))

    def test_systemAndStackOnce(self) -> None:
        for fieldType, value in [
            (F.CLIENT_SYSTEM_NAME, b"MVS052"),
            (F.CLIENT_STACK_NAME, b"TCPCS4"),
        ]:
            once = field(fieldType, value)
            self.assertFailure(
                rawFrame(1, *LOGON_FIELDS, once, once),
                ReasonCode.NSSRsnDuplicateField,
            )

    def test_systemAndStackOnlyInLogonRequest(self) -> None:
        """
        The server says its own system name with C{SYSTEM_NAME}; the client's
        fields belong to the request alone.
        """
        reply = [
            field(F.SERVICES, u32(1)),
            field(F.API_VERSION, u32(1)),
            field(F.SYSTEM_NAME, b"MVS052"),
        ]
        for fieldType in (F.CLIENT_SYSTEM_NAME, F.CLIENT_STACK_NAME):
            self.assertFailure(
                rawFrame(1, *reply, field(fieldType, b"X"), flags=FLAG_REPLY),
                ReasonCode.NSSRsnBadField,
            )
            self.assertFailure(
                rawFrame(6, field(fieldType, b"X")), ReasonCode.NSSRsnBadField
            )

    @given(
        logon_requests(),
        st.none() | st.from_regex(SYSTEM_NAME_PATTERN, fullmatch=True),
        st.none() | st.from_regex(STACK_NAME_PATTERN, fullmatch=True),
    )
    def test_systemAndStackRoundTrip(
        self, logon: LogonRequest, systemName: str | None, stackName: str | None
    ) -> None:
        frame = NssFrame(
            1, dataclasses.replace(logon, systemName=systemName, stackName=stackName)
        )
        self.assertRoundTrip(frame)

    def test_passwordLimits(self) -> None:
        self.assertRoundTrip(
            NssFrame(1, LogonRequest("C", "U", "p" * 256, None, 1, Services.CERT))
        )
        self.assertRaises(
            ValueError,
            encode_frame,
            NssFrame(1, LogonRequest("C", "U", "p" * 257, None, 1, Services.CERT)),
        )
        self.assertRaises(
            ValueError,
            encode_frame,
            NssFrame(1, LogonRequest("C", "U", "", None, 1, Services.CERT)),
        )


class HeaderFailureTests(FrameTestCase):
    """
    Failures found in the header: fatal when the framing is lost, otherwise
    the frame is skipped and the stream goes on.
    """

    def test_badIdentifier(self) -> None:
        self.assertFailure(
            rawFrame(6, identifier=b"NMsM"), ReasonCode.NMsRsnBadIdent, fatal=True
        )

    def test_badIdentifierEarly(self) -> None:
        """
        A stream that cannot be NSS is refused as soon as its first bytes
        show it, before a whole header arrives.
        """
        decoder = NssDecoder()
        self.assertEqual(decoder.feed(b"NS"), [])
        [failure] = decoder.feed(b"X")
        assert isinstance(failure, DecodeFailure)
        self.assertEqual(failure.reasonCode, ReasonCode.NMsRsnBadIdent)
        self.assertTrue(decoder.failed)

    def test_badHeaderLength(self) -> None:
        for headerLength in (0, 31, 33, 0xFFFF):
            self.assertFailure(
                rawFrame(6, headerLength=headerLength),
                ReasonCode.NMsRsnHdrSize,
                fatal=True,
            )

    def test_totalBelowHeader(self) -> None:
        for total in (0, 31):
            self.assertFailure(
                rawFrame(6, total=total), ReasonCode.NMsRsnMsgSize, fatal=True
            )

    def test_fatalIsFinal(self) -> None:
        """
        After a fatal failure nothing more comes out, even valid frames, and
        nothing in front of the failure is lost.
        """
        good = encode_frame(NssFrame(1, HeartbeatRequest()))
        decoder = NssDecoder()
        results = decoder.feed(good + rawFrame(6, headerLength=16) + good)
        self.assertEqual(results[0], NssFrame(1, HeartbeatRequest()))
        self.assertEqual(len(results), 2)
        assert isinstance(results[1], DecodeFailure)
        self.assertTrue(results[1].fatal)
        self.assertEqual(decoder.feed(good), [])
        self.assertTrue(decoder.failed)

    def test_pending(self) -> None:
        """
        The decoder says how much of an unfinished frame it holds, and
        holds nothing once a frame completes or the stream fails.
        """
        data = encode_frame(NssFrame(1, NetMgmtRequest(b"nmi")))
        decoder = NssDecoder()
        self.assertEqual(decoder.feed(data[:40]), [])
        self.assertEqual(decoder.pending, 40)
        self.assertEqual(len(decoder.feed(data[40:] + data[:3])), 1)
        self.assertEqual(decoder.pending, 3)
        decoder.feed(b"X")
        self.assertEqual(decoder.pending, 0)

    def test_badVersionSkipped(self) -> None:
        """
        A frame of another version is refused, and the frame after it is
        decoded, since the total length is still trusted.
        """
        good = encode_frame(NssFrame(2, HeartbeatRequest()))
        results = decodeAll(rawFrame(2, field(77, b"future"), version=2) + good)
        self.assertEqual(len(results), 2)
        failure = results[0]
        assert isinstance(failure, DecodeFailure)
        self.assertEqual(
            (failure.reasonCode, failure.fatal, failure.requestId),
            (ReasonCode.NMsRsnBadVersion, False, 1),
        )
        self.assertEqual(results[1], NssFrame(2, HeartbeatRequest()))

    def test_unknownType(self) -> None:
        for messageType in (0, 8, 0xFFFF):
            self.assertFailure(rawFrame(messageType), ReasonCode.NMsRsnBadType)

    def test_badFlags(self) -> None:
        for flags in (0x0002, 0x8000, 0x0003):
            self.assertFailure(rawFrame(6, flags=flags), ReasonCode.NMsRsnBadType)

    def test_disconnectReply(self) -> None:
        self.assertFailure(rawFrame(7, flags=FLAG_REPLY), ReasonCode.NMsRsnBadType)

    def test_reservedNotZero(self) -> None:
        self.assertFailure(rawFrame(6, reserved=1), ReasonCode.NSSRsnBadHeaderValue)

    def test_unknownCodes(self) -> None:
        self.assertFailure(
            rawFrame(6, flags=FLAG_REPLY, returnCode=22),
            ReasonCode.NSSRsnBadHeaderValue,
        )
        self.assertFailure(
            rawFrame(6, flags=FLAG_REPLY, returnCode=121, reasonCode=999),
            ReasonCode.NSSRsnBadHeaderValue,
        )

    def test_reasonWithoutError(self) -> None:
        self.assertFailure(
            rawFrame(6, flags=FLAG_REPLY, reasonCode=ReasonCode.NSSRsnShutdown),
            ReasonCode.NSSRsnBadHeaderValue,
        )

    def test_requestWithReturnCode(self) -> None:
        self.assertFailure(
            rawFrame(6, returnCode=ReturnCode.EIO), ReasonCode.NSSRsnBadHeaderValue
        )

    def test_failureMarksReply(self) -> None:
        failure = self.assertFailure(
            rawFrame(2, field(99, b""), flags=FLAG_REPLY), ReasonCode.NSSRsnBadField
        )
        self.assertTrue(failure.reply)


class FieldFailureTests(FrameTestCase):
    """
    Failures in the fields: never fatal, each with its own reason code.
    """

    def test_unknownFieldType(self) -> None:
        failure = self.assertFailure(
            rawFrame(6, field(999, b"x")), ReasonCode.NSSRsnBadField
        )
        self.assertIn("999", failure.text)

    def test_fieldNotInSchema(self) -> None:
        self.assertFailure(
            rawFrame(6, field(F.USERID, b"IKED")), ReasonCode.NSSRsnBadField
        )
        self.assertFailure(rawFrame(1, field(0, b"")), ReasonCode.NSSRsnBadField)

    def test_duplicateField(self) -> None:
        self.assertFailure(
            rawFrame(1, *LOGON_FIELDS, LOGON_FIELDS[1]), ReasonCode.NSSRsnDuplicateField
        )

    def test_duplicateErrorText(self) -> None:
        text = field(F.ERROR_TEXT, b"a")
        self.assertFailure(rawFrame(6, text, text), ReasonCode.NSSRsnDuplicateField)

    def test_repeatableField(self) -> None:
        frame = self.decodeOne(
            rawFrame(4, *[field(F.CERTIFICATE, CERT)] * 3, flags=FLAG_REPLY)
        )
        self.assertEqual(frame, NssFrame(1, CaListReply((CERT, CERT, CERT))))

    def test_chainTooLong(self) -> None:
        def verify(count: int) -> bytes:
            return rawFrame(
                3,
                field(F.CERTIFICATE, CERT),
                *[field(F.CHAIN_CERTIFICATE, CERT)] * count,
                field(F.SIGNATURE_SCHEME, u16(8)),
                field(F.DATA, b""),
                field(F.SIGNATURE, b"s"),
            )

        self.assertIsInstance(self.decodeOne(verify(MAX_CHAIN_LENGTH)), NssFrame)
        self.assertFailure(
            verify(MAX_CHAIN_LENGTH + 1), ReasonCode.NSSRsnDuplicateField
        )
        request = VerifyRequest(
            CERT,
            (CERT,) * (MAX_CHAIN_LENGTH + 1),
            SignatureSchemeCode.ECDSA_SHA256,
            None,
            b"",
            b"s",
        )
        self.assertRaises(ValueError, encode_frame, NssFrame(1, request))

    def test_fieldHeaderOverrun(self) -> None:
        self.assertFailure(rawFrame(6, b"\x00\x01\x00"), ReasonCode.NSSRsnFieldOverrun)

    def test_fieldValueOverrun(self) -> None:
        self.assertFailure(
            rawFrame(6, field(F.ERROR_TEXT, b"abc")[:-1]), ReasonCode.NSSRsnFieldOverrun
        )

    def test_fieldOverrunsIntoNextFrame(self) -> None:
        """
        A field cannot borrow bytes from the next frame: the total length
        bounds it, and the next frame still decodes.
        """
        good = encode_frame(NssFrame(2, HeartbeatRequest()))
        bad = rawFrame(6, u16(F.ERROR_TEXT) + u32(len(good)))
        results = decodeAll(bad + good)
        assert isinstance(results[0], DecodeFailure)
        self.assertEqual(results[0].reasonCode, ReasonCode.NSSRsnFieldOverrun)
        self.assertEqual(results[1:], [NssFrame(2, HeartbeatRequest())])

    def test_missingField(self) -> None:
        self.assertFailure(
            rawFrame(1, *LOGON_FIELDS[1:]), ReasonCode.NSSRsnMissingField
        )
        self.assertFailure(rawFrame(2, flags=FLAG_REPLY), ReasonCode.NSSRsnMissingField)
        self.assertFailure(rawFrame(5), ReasonCode.NSSRsnMissingField)

    def test_integerOfWrongLength(self) -> None:
        fields = [*LOGON_FIELDS[:3], field(F.API_VERSION, u16(1)), LOGON_FIELDS[4]]
        self.assertFailure(rawFrame(1, *fields), ReasonCode.NSSRsnBadFieldValue)

    def test_invalidUtf8(self) -> None:
        self.assertFailure(
            rawFrame(6, field(F.ERROR_TEXT, b"\xc3(")), ReasonCode.NSSRsnBadFieldValue
        )
        fields = [*LOGON_FIELDS[:2], field(F.PASSWORD, b"\xff"), *LOGON_FIELDS[3:]]
        self.assertFailure(rawFrame(1, *fields), ReasonCode.NSSRsnBadFieldValue)

    def test_textTooLong(self) -> None:
        self.assertIsInstance(
            self.decodeOne(rawFrame(6, field(F.ERROR_TEXT, b"x" * MAX_TEXT_BYTES))),
            NssFrame,
        )
        self.assertFailure(
            rawFrame(6, field(F.ERROR_TEXT, b"x" * (MAX_TEXT_BYTES + 1))),
            ReasonCode.NSSRsnBadFieldValue,
        )

    def test_controlCharacters(self) -> None:
        self.assertFailure(
            rawFrame(6, field(F.ERROR_TEXT, b"line\nfeed")),
            ReasonCode.NSSRsnBadFieldValue,
        )
        self.assertFailure(
            rawFrame(7, field(F.DISCONNECT_REASON, b"\x1b[2J")),
            ReasonCode.NSSRsnBadFieldValue,
        )

    def test_emptyDisconnectReason(self) -> None:
        """
        An empty reason is sent by leaving the field out, so there is one
        encoding of it.
        """
        self.assertFailure(
            rawFrame(7, field(F.DISCONNECT_REASON, b"")), ReasonCode.NSSRsnBadFieldValue
        )

    def sign(self, *fields: bytes) -> bytes:
        return rawFrame(2, *fields)

    def test_unknownScheme(self) -> None:
        self.assertFailure(
            self.sign(
                field(F.KEY_LABEL, b"k"),
                field(F.SIGNATURE_SCHEME, u16(11)),
                field(F.DATA, b""),
            ),
            ReasonCode.NSSRsnBadFieldValue,
        )

    def test_digestLengthMismatch(self) -> None:
        self.assertFailure(
            self.sign(
                field(F.KEY_LABEL, b"k"),
                field(F.SIGNATURE_SCHEME, u16(SignatureSchemeCode.RSA_PKCS1_SHA1)),
                field(F.DIGEST, DIGEST256),
            ),
            ReasonCode.NSSRsnBadFieldValue,
        )
        request = SignRequest(
            "k", None, SignatureSchemeCode.ECDSA_SHA384, DIGEST256, None
        )
        self.assertRaises(ValueError, encode_frame, NssFrame(1, request))

    def test_labelAndIdentity(self) -> None:
        self.assertFailure(
            self.sign(
                field(F.KEY_LABEL, b"k"),
                field(F.IDENTITY, u16(3) + b"a.example"),
                field(F.SIGNATURE_SCHEME, u16(8)),
                field(F.DATA, b""),
            ),
            ReasonCode.NSSRsnFieldConflict,
        )

    def test_digestAndData(self) -> None:
        self.assertFailure(
            self.sign(
                field(F.KEY_LABEL, b"k"),
                field(F.SIGNATURE_SCHEME, u16(8)),
                field(F.DIGEST, DIGEST256),
                field(F.DATA, b""),
            ),
            ReasonCode.NSSRsnFieldConflict,
        )

    def test_neitherLabelNorIdentity(self) -> None:
        self.assertFailure(
            self.sign(field(F.SIGNATURE_SCHEME, u16(8)), field(F.DATA, b"")),
            ReasonCode.NSSRsnMissingField,
        )

    def test_badIdentities(self) -> None:
        for value in [
            b"\x00",
            u16(9) + b"x",
            u16(IdentityKind.DN),
            u16(IdentityKind.IPADDR) + b"300.1.2.3",
            u16(IdentityKind.FQDN) + b"under_score.example",
            u16(IdentityKind.FQDN) + b"trailing.dot.",
            u16(IdentityKind.EMAIL) + b"no-at-sign",
            u16(IdentityKind.EMAIL) + b"two@@example",
        ]:
            self.assertFailure(
                self.sign(
                    field(F.IDENTITY, value),
                    field(F.SIGNATURE_SCHEME, u16(8)),
                    field(F.DATA, b""),
                ),
                ReasonCode.NSSRsnBadFieldValue,
            )

    def test_labelLimits(self) -> None:
        for label in (b"", "é".encode() * 33, b"tab\there"):
            self.assertFailure(
                self.sign(
                    field(F.KEY_LABEL, label),
                    field(F.SIGNATURE_SCHEME, u16(8)),
                    field(F.DATA, b""),
                ),
                ReasonCode.NSSRsnBadFieldValue,
            )

    def test_notDer(self) -> None:
        for certificate in [
            b"",
            b"-----BEGIN CERTIFICATE-----",
            b"\x30\x05abc",  # truncated
            b"\x30\x01ab",  # trailing bytes
            CERT + CERT,  # two run together
            b"\x30\x80\x00\x00",  # indefinite length
            b"\x30\x81\x01a",  # long form where the short one fits
            b"\x30\x82\x00\x81" + bytes(0x81),  # a leading zero octet
            b"\x30\x85\x01\x00\x00\x00\x00",  # five length octets
            b"\x30\x82\x01",  # length octets missing
        ]:
            self.assertFailure(
                rawFrame(
                    2,
                    field(F.SIGNATURE, b"s"),
                    field(F.CERTIFICATE, certificate),
                    flags=FLAG_REPLY,
                ),
                ReasonCode.NSSRsnBadFieldValue,
            )
        long = der_sequence(bytes(300))
        self.assertRoundTrip(NssFrame(1, SignReply(b"s", long)))

    def test_refusalCarriesOnlyText(self) -> None:
        """
        A failed reply carries none of the reply's fields, only ERROR_TEXT.
        """
        self.assertFailure(
            rawFrame(
                2,
                field(F.SIGNATURE, b"s"),
                field(F.CERTIFICATE, CERT),
                flags=FLAG_REPLY,
                returnCode=ReturnCode.EIO,
                reasonCode=ReasonCode.NSSRsnSignFailed,
            ),
            ReasonCode.NSSRsnBadField,
        )

    def test_emptyNmi(self) -> None:
        self.assertFailure(
            rawFrame(5, field(F.NMI_MESSAGE, b"")), ReasonCode.NSSRsnBadFieldValue
        )

    def test_firstProblemWins(self) -> None:
        """
        Fields are checked in order, so the reason is predictable.
        """
        self.assertFailure(
            rawFrame(6, field(999, b""), b"\x00"), ReasonCode.NSSRsnBadField
        )


class LimitTests(FrameTestCase):
    """
    The size limit is inclusive and configurable, and passing it is fatal.
    """

    def frameOf(self, total: int) -> bytes:
        # DATA in a SIGN request: the only field without an upper bound
        # but the message size.
        fixed = rawFrame(
            2,
            field(F.KEY_LABEL, b"k"),
            field(F.SIGNATURE_SCHEME, u16(8)),
            field(F.DATA, b""),
        )
        filler = b"x" * (total - len(fixed))
        return rawFrame(
            2,
            field(F.KEY_LABEL, b"k"),
            field(F.SIGNATURE_SCHEME, u16(8)),
            field(F.DATA, filler),
        )

    def test_defaultLimit(self) -> None:
        self.assertEqual(MAX_MESSAGE_SIZE, 1024 * 1024)
        self.assertIsInstance(self.decodeOne(self.frameOf(MAX_MESSAGE_SIZE)), NssFrame)
        self.assertFailure(
            self.frameOf(MAX_MESSAGE_SIZE + 1),
            ReasonCode.NMsRsnExcessiveSize,
            fatal=True,
        )

    def test_excessiveSizeKnownFromHeader(self) -> None:
        """
        The header alone condemns an oversized frame; its body is not
        awaited.
        """
        header = rawFrame(2, total=MAX_MESSAGE_SIZE + 1)
        self.assertFailure(header, ReasonCode.NMsRsnExcessiveSize, fatal=True)

    def test_smallerLimit(self) -> None:
        self.assertIsInstance(self.decodeOne(self.frameOf(100), 100), NssFrame)
        self.assertFailure(
            self.frameOf(101),
            ReasonCode.NMsRsnExcessiveSize,
            fatal=True,
            maxMessageSize=100,
        )

    def test_headerOnlyLimit(self) -> None:
        data = encode_frame(NssFrame(1, HeartbeatRequest()))
        self.assertEqual(len(data), HEADER_LENGTH)
        self.assertIsInstance(self.decodeOne(data, HEADER_LENGTH), NssFrame)

    def test_badLimits(self) -> None:
        for limit in (HEADER_LENGTH - 1, 2**32, -1, True):
            self.assertRaises(ValueError, NssDecoder, limit)

    def test_encoderLimit(self) -> None:
        frame = NssFrame(1, NetMgmtRequest(b"x" * 100))
        self.assertEqual(len(encode_frame(frame, maxMessageSize=138)), 138)
        self.assertRaises(ValueError, encode_frame, frame, maxMessageSize=137)


class PreLogonLimitTests(FrameTestCase):
    """
    Before logon only LOGON, HEARTBEAT and DISCONNECT are valid, so a server
    need accept no larger frame than the largest of those can be, and can
    raise the limit once the peer has logged on.
    """

    def largest(self) -> dict[str, bytes]:
        text = "t" * MAX_TEXT_BYTES
        return {
            "LOGON": encode_frame(
                NssFrame(
                    0xFFFFFFFF,
                    LogonRequest(
                        clientName="C" * 24,
                        userid="U" * 8,
                        password="p" * 256,
                        passTicket=None,
                        apiVersion=0xFFFFFFFF,
                        services=Services.CERT | Services.NETMGMT,
                        systemName="S" * 8,
                        stackName="T" * 8,
                    ),
                    text=text,
                )
            ),
            "HEARTBEAT": encode_frame(NssFrame(1, HeartbeatRequest(), text=text)),
            "DISCONNECT": encode_frame(
                NssFrame(
                    0,
                    Disconnect("r" * MAX_TEXT_BYTES),
                    ReturnCode.EINVAL,
                    ReasonCode.NMsRsnBadType,
                    text,
                )
            ),
        }

    def test_largestValidFrames(self) -> None:
        """
        The limit is exactly the largest pre-logon frame the field limits
        of C{docs/protocol.md} allow: a DISCONNECT with the longest reason
        and ERROR_TEXT; the largest LOGON is 904 bytes.
        """
        sizes = {name: len(data) for name, data in self.largest().items()}
        self.assertEqual(sizes, {"LOGON": 904, "HEARTBEAT": 550, "DISCONNECT": 1068})
        self.assertEqual(MAX_PRELOGON_MESSAGE_SIZE, max(sizes.values()))
        for data in self.largest().values():
            result = self.decodeOne(data, MAX_PRELOGON_MESSAGE_SIZE)
            self.assertIsInstance(result, NssFrame)

    def test_passwordIsTheLargestCredential(self) -> None:
        """
        A password of 256 bytes of UTF-8 is the largest LOGON value: more
        is refused by the encoder, so no valid LOGON exceeds the limit.
        """
        self.assertRaises(
            ValueError,
            encode_frame,
            NssFrame(
                1,
                LogonRequest(
                    clientName="C",
                    userid="U",
                    password="\u00e9" * 129,
                    passTicket=None,
                    apiVersion=1,
                    services=Services.CERT,
                ),
            ),
        )

    def test_oversizedFromHeader(self) -> None:
        """
        A frame one byte over the limit is refused from its header alone,
        fatally, before its body arrives.
        """
        decoder = NssDecoder(MAX_PRELOGON_MESSAGE_SIZE)
        results = decoder.feed(rawFrame(1, total=MAX_PRELOGON_MESSAGE_SIZE + 1))
        self.assertEqual(len(results), 1)
        failure = results[0]
        assert isinstance(failure, DecodeFailure)
        self.assertEqual(
            (failure.returnCode, failure.reasonCode, failure.fatal),
            (ReturnCode.EINVAL, ReasonCode.NMsRsnExcessiveSize, True),
        )
        self.assertEqual(decoder.pending, 0)

    def test_raisedAfterLogon(self) -> None:
        """
        Raising the limit lets the next frames be as large as the full
        limit allows.
        """
        decoder = NssDecoder(MAX_PRELOGON_MESSAGE_SIZE)
        big = encode_frame(
            NssFrame(
                2,
                SignRequest(
                    label="k",
                    identity=None,
                    scheme=SignatureSchemeCode.ECDSA_SHA256,
                    digest=None,
                    data=b"x" * 65536,
                ),
            )
        )
        decoder.maxMessageSize = MAX_MESSAGE_SIZE
        self.assertIsInstance(decoder.feed(big)[0], NssFrame)

    def test_loweredAppliesToBufferedFrame(self) -> None:
        """
        A frame partly buffered under a higher limit is judged by the
        limit in force when more of it arrives.
        """
        decoder = NssDecoder(MAX_MESSAGE_SIZE)
        data = rawFrame(1, total=4096)
        self.assertEqual(decoder.feed(data), [])
        decoder.maxMessageSize = MAX_PRELOGON_MESSAGE_SIZE
        failure = decoder.feed(b"x")[0]
        assert isinstance(failure, DecodeFailure)
        self.assertEqual(failure.reasonCode, ReasonCode.NMsRsnExcessiveSize)

    def test_badLimitSet(self) -> None:
        decoder = NssDecoder()
        for limit in (HEADER_LENGTH - 1, 2**32, True, 1.5):
            self.assertRaises(ValueError, setattr, decoder, "maxMessageSize", limit)
        self.assertEqual(decoder.maxMessageSize, MAX_MESSAGE_SIZE)

    def test_discard(self) -> None:
        """
        A discarded decoder holds nothing and decodes nothing more.
        """
        decoder = NssDecoder()
        decoder.feed(rawFrame(1, total=1000) + b"x" * 468)
        self.assertEqual(decoder.pending, 500)
        decoder.discard()
        self.assertEqual(decoder.pending, 0)
        self.assertTrue(decoder.failed)
        self.assertEqual(
            decoder.feed(encode_frame(NssFrame(1, HeartbeatRequest()))), []
        )


class EncodeValidationTests(SynchronousTestCase):
    """
    The encoder refuses what the decoder would refuse.
    """

    def assertRefused(self, frame: object) -> None:
        self.assertRaises(ValueError, encode_frame, frame)

    def test_notAFrame(self) -> None:
        self.assertRefused(HeartbeatRequest())
        self.assertRefused(NssFrame(1, object()))  # type: ignore[arg-type]

    def test_requestId(self) -> None:
        self.assertRefused(NssFrame(-1, HeartbeatRequest()))
        self.assertRefused(NssFrame(2**32, HeartbeatRequest()))

    def test_codes(self) -> None:
        self.assertRefused(NssFrame(1, HeartbeatRequest(), ReturnCode.EIO))
        self.assertRefused(NssFrame(1, HeartbeatReply(), ReturnCode.EIO))
        self.assertRefused(NssFrame(1, Refusal(6), ReturnCode.OK, ReasonCode.NONE))
        self.assertRefused(
            NssFrame(1, Disconnect(), ReturnCode.OK, ReasonCode.NSSRsnShutdown)
        )
        self.assertRefused(NssFrame(1, Refusal(6), 22))  # type: ignore[arg-type]
        self.assertRefused(
            NssFrame(1, Refusal(6), ReturnCode.EIO, 999)  # type: ignore[arg-type]
        )

    def test_refusalTypes(self) -> None:
        self.assertRefused(NssFrame(1, Refusal(7), ReturnCode.EINVAL))
        self.assertRefused(NssFrame(1, Refusal(0x10000), ReturnCode.EINVAL))
        encode_frame(
            NssFrame(1, Refusal(99), ReturnCode.EINVAL, ReasonCode.NMsRsnBadType)
        )

    def test_text(self) -> None:
        self.assertRefused(NssFrame(1, HeartbeatRequest(), text="x" * 513))
        self.assertRefused(NssFrame(1, HeartbeatRequest(), text="a\rb"))
        self.assertRefused(NssFrame(1, HeartbeatRequest(), text=b"x"))  # type: ignore[arg-type]

    def test_fieldTypes(self) -> None:
        self.assertRefused(NssFrame(1, NetMgmtRequest("text")))  # type: ignore[arg-type]
        self.assertRefused(NssFrame(1, CaListReply([CERT])))  # type: ignore[arg-type]
        self.assertRefused(
            NssFrame(1, LogonReply(3, 1, "SYS"))  # type: ignore[arg-type]
        )
        self.assertRefused(
            NssFrame(1, SignRequest("k", None, 8, None, b""))  # type: ignore[arg-type]
        )
        self.assertRefused(
            NssFrame(
                1,
                SignRequest(
                    None,
                    ("FQDN", "a.example"),  # type: ignore[arg-type]
                    SignatureSchemeCode.ECDSA_SHA256,
                    None,
                    b"",
                ),
            )
        )

    def test_badValues(self) -> None:
        self.assertRefused(NssFrame(1, LogonReply(Services.CERT, 0, "SYS")))
        self.assertRefused(NssFrame(1, LogonReply(Services.CERT, 1, "TOOLONGSYS")))
        self.assertRefused(NssFrame(1, SignReply(b"", CERT)))
        self.assertRefused(NssFrame(1, SignReply(b"s", b"PEM")))
        self.assertRefused(
            NssFrame(
                1,
                SignRequest(
                    None,
                    Identity(IdentityKind.IPADDR, "not an address"),
                    SignatureSchemeCode.ECDSA_SHA256,
                    None,
                    b"",
                ),
            )
        )

    def test_messageNamesAttribute(self) -> None:
        """
        The error names the attribute at fault, since it is the caller's bug.
        """
        with self.assertRaises(ValueError) as caught:
            encode_frame(NssFrame(1, LogonReply(Services.CERT, 1, "bad name")))
        self.assertIn("LogonReply.serverSystemName", str(caught.exception))


class ResponseTests(SynchronousTestCase):
    """
    L{DecodeFailure.response} gives what the receiver sends back.
    """

    def test_fatalIsDisconnect(self) -> None:
        [failure] = NssDecoder().feed(b"GET / HTTP/1.1\r\n")
        assert isinstance(failure, DecodeFailure)
        self.assertEqual(
            failure.response(),
            NssFrame(
                0,
                Disconnect(failure.text),
                ReturnCode.EINVAL,
                ReasonCode.NMsRsnBadIdent,
            ),
        )

    def test_requestIsRefused(self) -> None:
        [failure] = NssDecoder().feed(rawFrame(3, requestId=42))
        assert isinstance(failure, DecodeFailure)
        response = failure.response()
        self.assertEqual(
            response,
            NssFrame(
                42,
                Refusal(3),
                ReturnCode.EINVAL,
                ReasonCode.NSSRsnMissingField,
                failure.text,
            ),
        )
        assert response is not None
        self.assertIsInstance(NssDecoder().feed(encode_frame(response))[0], NssFrame)

    def test_unknownTypeIsEchoed(self) -> None:
        """
        A request of an unknown type is answered with its own type, which
        the requester's decoder reports as a failure of that request.
        """
        [failure] = NssDecoder().feed(rawFrame(300, requestId=5))
        assert isinstance(failure, DecodeFailure)
        response = failure.response()
        assert response is not None
        self.assertEqual(response.message, Refusal(300))
        [answer] = NssDecoder().feed(encode_frame(response))
        assert isinstance(answer, DecodeFailure)
        self.assertEqual((answer.requestId, answer.reply), (5, True))

    def test_replyNotAnswered(self) -> None:
        [failure] = NssDecoder().feed(rawFrame(2, flags=FLAG_REPLY))
        assert isinstance(failure, DecodeFailure)
        self.assertIsNone(failure.response())

    def test_disconnectNotAnswered(self) -> None:
        [failure] = NssDecoder().feed(rawFrame(7, field(999, b"")))
        assert isinstance(failure, DecodeFailure)
        self.assertIsNone(failure.response())

    def test_textMadeSendable(self) -> None:
        failure = DecodeFailure(
            1, 2, ReturnCode.EINVAL, ReasonCode.NSSRsnBadField, False, "\n" + "é" * 600
        )
        response = failure.response()
        assert response is not None and response.text is not None
        self.assertTrue(response.text.startswith("?é"))
        self.assertLessEqual(len(response.text.encode()), MAX_TEXT_BYTES)
        encode_frame(response)

    def test_emptyTextOmitted(self) -> None:
        failure = DecodeFailure(
            1, 2, ReturnCode.EINVAL, ReasonCode.NSSRsnBadField, False, ""
        )
        response = failure.response()
        assert response is not None
        self.assertIsNone(response.text)


class CodeTests(SynchronousTestCase):
    def test_zosErrnoValues(self) -> None:
        self.assertEqual(
            {c.name: c.value for c in ReturnCode},
            {
                "OK": 0,
                "EACCES": 111,
                "EBUSY": 114,
                "EINVAL": 121,
                "EIO": 122,
                "ENOENT": 129,
                "ENXIO": 138,
                "EPERM": 139,
                "EOPNOTSUPP": 1112,
                "ETIMEDOUT": 1127,
            },
        )

    def test_ibmReasonCodes(self) -> None:
        self.assertEqual(
            [(c.name, c.value) for c in ReasonCode if 1 <= c.value <= 6],
            [
                ("NMsRsnBadIdent", 1),
                ("NMsRsnBadVersion", 2),
                ("NMsRsnBadType", 3),
                ("NMsRsnExcessiveSize", 4),
                ("NMsRsnHdrSize", 5),
                ("NMsRsnMsgSize", 6),
            ],
        )

    def test_everyCodeExplained(self) -> None:
        self.assertEqual(set(REASON_TEXT), set(ReasonCode))
        self.assertEqual(set(RETURN_TEXT), set(ReturnCode))
        self.assertEqual(set(REASON_RETURN_CODE), set(ReasonCode) - {ReasonCode.NONE})

    def test_everyCodeDocumented(self) -> None:
        """
        The specification's tables name every code with its number.
        """
        text = DOCS.read_text(encoding="utf-8")
        for code in [*ReturnCode, *ReasonCode]:
            self.assertRegex(text, rf"\| {code.value} \| `{code.name}` \|")
        for fieldType in FieldType:
            self.assertRegex(text, rf"\| {fieldType.value} \| `{fieldType.name}` \|")
        for messageType in MessageType:
            self.assertRegex(
                text, rf"\| {messageType.value} \| `{messageType.name}` \|"
            )
        for scheme in SignatureSchemeCode:
            self.assertRegex(text, rf"\| {scheme.value} \| `{scheme.name}` \|")


def hexdump(data: bytes) -> str:
    """The layout the specification prints frames in: 16 bytes a line."""
    return "\n".join(
        f"{offset:04x}  " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
        for offset in range(0, len(data), 16)
    )


EXAMPLE_LOGON = NssFrame(
    1,
    LogonRequest(
        "MVS1_TCPIPA", "IKED", None, "M7Q2K9ZD", 1, Services.CERT | Services.NETMGMT
    ),
)
EXAMPLE_SIGN_REPLY = NssFrame(
    2,
    SignReply(
        bytes.fromhex(
            "3045022100c2a1b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
            "70819202207e6d5c4b3a29180f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a"
            "697887"
        ),
        der_sequence(bytes.fromhex("a003020102020101")),
    ),
)


class DocumentationTests(SynchronousTestCase):
    """
    The worked examples in C{docs/protocol.md} are what the encoder makes.
    """

    def test_examplesInDocs(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        for frame in (EXAMPLE_LOGON, EXAMPLE_SIGN_REPLY):
            data = encode_frame(frame)
            self.assertIn(hexdump(data), text)
            self.assertEqual(NssDecoder().feed(data), [frame])

    def test_headerTable(self) -> None:
        """
        The header table's offsets add up to 32 bytes.
        """
        text = DOCS.read_text(encoding="utf-8")
        rows = re.findall(r"^\| (\d+) \| (\d+) \| `\w+` \|", text, re.MULTILINE)
        offset = 0
        for start, size in rows[:10]:
            self.assertEqual(int(start), offset)
            offset += int(size)
        self.assertEqual(offset, HEADER_LENGTH)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


class PropertyTests(SynchronousTestCase):
    """
    Properties over arbitrary frames and arbitrary bytes.
    """

    @given(nss_frames())
    def test_roundTrip(self, frame: NssFrame) -> None:
        self.assertEqual(NssDecoder().feed(encode_frame(frame)), [frame])

    @given(
        st.lists(nss_frames(), min_size=1, max_size=4),
        st.lists(st.integers(0, 10_000), max_size=8),
    )
    def test_anyChunking(self, frames: list[NssFrame], cuts: list[int]) -> None:
        stream = b"".join(encode_frame(f) for f in frames)
        decoder = NssDecoder()
        results = []
        for piece in chunked(stream, cuts):
            results.extend(decoder.feed(piece))
        self.assertEqual(results, frames)

    @given(
        st.one_of(
            st.binary(max_size=200),
            # Past the identifier and header length, where most bytes lead.
            st.binary(max_size=200).map(lambda b: b"NSSP\x00\x20" + b),
            st.binary(max_size=200).map(lambda b: b"NSSP\x00\x20\x00\x01" + b),
        ),
        st.lists(st.integers(0, 200), max_size=4),
    )
    def test_arbitraryBytes(self, data: bytes, cuts: list[int]) -> None:
        """
        Any bytes, however cut, give frames and failures only, and the same
        ones as when fed whole.
        """
        whole = NssDecoder(128).feed(data)
        decoder = NssDecoder(128)
        pieces: list[NssFrame | DecodeFailure] = []
        for piece in chunked(data, cuts):
            pieces.extend(decoder.feed(piece))
        self.assertEqual(pieces, whole)
        for result in whole:
            self.assertIsInstance(result, NssFrame | DecodeFailure)

    @settings(suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.sampled_from([*MessageType, 0, 9]),
        st.sampled_from([0, FLAG_REPLY]),
        st.sampled_from([0, ReturnCode.EINVAL, 999]),
        st.sampled_from([0, ReasonCode.NMsRsnBadType, 999]),
        st.lists(
            st.tuples(st.sampled_from([*FieldType, 0, 99]), st.binary(max_size=40)),
            max_size=5,
        ),
        st.binary(max_size=12),
    )
    def test_arbitraryBodies(
        self,
        messageType: int,
        flags: int,
        returnCode: int,
        reasonCode: int,
        fields: list[tuple[int, bytes]],
        tail: bytes,
    ) -> None:
        """
        A valid header over any body gives exactly one frame or a non-fatal
        failure; whatever decodes, encodes back to a frame that decodes the
        same.
        """
        data = rawFrame(
            messageType,
            *[field(t, v) for t, v in fields],
            tail,
            flags=flags,
            returnCode=returnCode,
            reasonCode=reasonCode,
        )
        [result] = NssDecoder().feed(data)
        if isinstance(result, DecodeFailure):
            self.assertFalse(result.fatal)
            self.assertEqual(result.requestId, 1)
            response = result.response()
            if response is not None:
                encode_frame(response)
        else:
            self.assertIsInstance(result, NssFrame)
            self.assertEqual(NssDecoder().feed(encode_frame(result)), [result])
