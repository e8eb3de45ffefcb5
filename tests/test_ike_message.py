"""
Tests for L{nsstwisted.ike.message}: the IKE header, plaintext messages
(strongSwan's IKE_SA_INIT among them), and messages inside an SK payload,
protected for real with AES-GCM as RFC 5282 puts it there.
"""

from __future__ import annotations

import ipaddress
import json
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import (
    AuthMethod,
    DhGroupId,
    ExchangeType,
    HeaderFlag,
    IdType,
    NotifyType,
    PayloadType,
    ProtocolId,
)
from nsstwisted.ike.errors import IkeDecodeError, IkeError, IntegrityError
from nsstwisted.ike.message import (
    HEADER_SIZE,
    IkeHeader,
    IkeMessage,
    SkProtector,
    decode_encrypted,
    decode_message,
    encode_encrypted,
    encode_message,
)
from nsstwisted.ike.payloads import (
    AuthPayload,
    CertReqPayload,
    EncryptedPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TrafficSelector,
    TsPayload,
    UnknownPayload,
    encode_payloads,
    find,
    find_notify,
)
from tests.strategies import ike_messages

fast = settings(max_examples=200, deadline=None, database=None)

VECTOR = json.loads(
    (Path(__file__).parent / "data" / "ike-vector-strongswan598.json").read_text()
)
REQUEST = bytes.fromhex(VECTOR["ike_sa_init_request"])
RESPONSE = bytes.fromhex(VECTOR["ike_sa_init_response"])

SPI_I = bytes.fromhex("5129f0d1741760c9")
SPI_R = bytes.fromhex("3180764de3a74760")

GCM_KEY = bytes(range(16))
GCM_SALT = b"salt"
IV_SIZE = 8
TAG_SIZE = 16


class GcmProtector:
    """
    AES-GCM with a 16-octet ICV in the SK payload (RFC 5282): the nonce is
    the 4-octet salt of the key material and an 8-octet explicit IV, taken
    from a counter so it never repeats under the key; the AAD is everything
    before the IV.  No block alignment is needed, so the pad length is 0.
    """

    def __init__(self, key: bytes = GCM_KEY, salt: bytes = GCM_SALT) -> None:
        self._aead = AESGCM(key)
        self._salt = salt
        self._counter = 0

    def body_length(self, plaintextLength: int) -> int:
        return IV_SIZE + plaintextLength + 1 + TAG_SIZE

    def encrypt(self, prefix: bytes, plaintext: bytes) -> bytes:
        self._counter += 1
        iv = self._counter.to_bytes(IV_SIZE, "big")
        return iv + self._aead.encrypt(self._salt + iv, plaintext + b"\x00", prefix)

    def decrypt(self, prefix: bytes, body: bytes) -> bytes:
        if len(body) < IV_SIZE + 1 + TAG_SIZE:
            raise IntegrityError(f"SK payload body of {len(body)} octets")
        iv = body[:IV_SIZE]
        try:
            padded = self._aead.decrypt(self._salt + iv, body[IV_SIZE:], prefix)
        except InvalidTag:
            raise IntegrityError("AES-GCM tag does not verify") from None
        padLength = padded[-1]
        if padLength >= len(padded):
            raise IkeDecodeError(f"pad length {padLength}")
        return padded[: len(padded) - 1 - padLength]


class OverlongProtector(GcmProtector):
    """A protector that gives one octet more than it announced."""

    def encrypt(self, prefix: bytes, plaintext: bytes) -> bytes:
        return super().encrypt(prefix, plaintext) + b"\x00"


# The protector is a structural type: this checks that the above fits it.
_protector: SkProtector = GcmProtector()

AUTH_PAYLOADS: tuple[Payload, ...] = (
    IdPayload(PayloadType.IDi, IdType.FQDN, b"moon.iked.test"),
    NotifyPayload(0, NotifyType.INITIAL_CONTACT),
    AuthPayload(AuthMethod.DIGITAL_SIGNATURE, b"signature"),
    TsPayload(
        PayloadType.TSi,
        (TrafficSelector.from_network(ipaddress.ip_network("10.1.0.0/24")),),
    ),
    TsPayload(
        PayloadType.TSr,
        (TrafficSelector.from_network(ipaddress.ip_network("10.2.0.0/24")),),
    ),
)

IKE_AUTH = IkeMessage(
    SPI_I, SPI_R, ExchangeType.IKE_AUTH, 1, False, True, AUTH_PAYLOADS
)


def message_of(header: IkeHeader, payloads: list[Payload]) -> IkeMessage:
    """The message a decoded header and payloads stand for."""
    return IkeMessage(
        header.spiI,
        header.spiR,
        header.exchange,
        header.messageId,
        header.isResponse,
        header.isInitiator,
        tuple(payloads),
    )


def seal(
    plaintext: list[Payload],
    firstInner: int,
    inner: bytes,
    protector: SkProtector,
) -> bytes:
    """
    An INFORMATIONAL request with C{plaintext} payloads before an SK
    payload around the octets C{inner}: what L{encode_encrypted} will not
    build.
    """
    bodyLength = protector.body_length(len(inner))
    placeholder = EncryptedPayload(firstInner, bytes(bodyLength))
    firstType, chain = encode_payloads([*plaintext, placeholder])
    header = IkeHeader(
        SPI_I,
        SPI_R,
        firstType,
        ExchangeType.INFORMATIONAL,
        HeaderFlag.INITIATOR,
        2,
        HEADER_SIZE + len(chain),
    )
    prefix = header.encode() + chain[: len(chain) - bodyLength]
    return prefix + protector.encrypt(prefix, inner)


def open_message(data: bytes, protector: SkProtector) -> list[Payload]:
    header, payloads = decode_message(data)
    return decode_encrypted(data, header, payloads, protector)


class HeaderTests(SynchronousTestCase):
    """L{IkeHeader}."""

    def header(self, **changes: int) -> bytes:
        fields = {
            "nextPayload": 0,
            "exchange": ExchangeType.INFORMATIONAL,
            "flags": HeaderFlag.RESPONSE,
            "messageId": 7,
            "length": HEADER_SIZE,
        }
        fields.update(changes)
        return IkeHeader(SPI_I, SPI_R, **fields).encode()

    def test_layout(self) -> None:
        data = IkeHeader(SPI_I, SPI_R, 46, 35, 0x08, 1, 100).encode()
        self.assertEqual(len(data), HEADER_SIZE)
        self.assertEqual(data[:16], SPI_I + SPI_R)
        self.assertEqual(data[16:20], bytes([46, 0x20, 35, 0x08]))
        self.assertEqual(data[20:], struct.pack(">II", 1, 100))

    def test_roundTrip(self) -> None:
        data = self.header()
        header = IkeHeader.decode(data)
        self.assertEqual(header.encode(), data)
        self.assertIs(header.exchange, ExchangeType.INFORMATIONAL)
        self.assertEqual((header.messageId, header.length), (7, HEADER_SIZE))

    def test_flags(self) -> None:
        """The I flag says who started the IKE SA, not who asks."""
        for flags, response, initiator in (
            (0x00, False, False),
            (0x08, False, True),
            (0x20, True, False),
            (0x28, True, True),
        ):
            header = IkeHeader.decode(self.header(flags=flags))
            self.assertEqual(
                (header.isResponse, header.isInitiator), (response, initiator)
            )

    def test_reservedFlagsKept(self) -> None:
        """The V bit and the reserved bits are ignored, not refused."""
        header = IkeHeader.decode(self.header(flags=0x17))
        self.assertEqual(header.flags, 0x17)
        self.assertFalse(header.isResponse)

    def test_truncated(self) -> None:
        data = self.header()
        for size in (0, 1, 27):
            self.assertRaises(IkeDecodeError, IkeHeader.decode, data[:size])

    def test_badLength(self) -> None:
        """The Length field must be the size of what arrived."""
        self.assertRaises(IkeDecodeError, IkeHeader.decode, self.header(length=29))
        self.assertRaises(IkeDecodeError, IkeHeader.decode, self.header() + b"\x00")
        self.assertRaises(IkeDecodeError, IkeHeader.decode, self.header(length=0))
        self.assertRaises(
            IkeDecodeError, IkeHeader.decode, self.header(length=27) + b"\x00"
        )

    def test_majorVersion(self) -> None:
        for version in (0x10, 0x30, 0x00):
            with self.assertRaises(IkeDecodeError) as caught:
                IkeHeader.decode(self.header(version=version))
            self.assertEqual(caught.exception.notify, NotifyType.INVALID_MAJOR_VERSION)

    def test_minorVersion(self) -> None:
        """A higher minor version is ignored (RFC 7296 section 2.5)."""
        self.assertEqual(IkeHeader.decode(self.header(version=0x21)).version, 0x21)

    def test_zeroInitiatorSpi(self) -> None:
        data = bytes(8) + self.header()[8:]
        with self.assertRaises(IkeDecodeError) as caught:
            IkeHeader.decode(data)
        self.assertEqual(caught.exception.notify, NotifyType.INVALID_SYNTAX)

    def test_spiSize(self) -> None:
        self.assertRaises(
            ValueError, IkeHeader(b"1234567", SPI_R, 0, 34, 0, 0, 28).encode
        )
        self.assertRaises(
            ValueError, IkeHeader(SPI_I, b"123456789", 0, 34, 0, 0, 28).encode
        )


class PlaintextTests(SynchronousTestCase):
    """L{encode_message} and L{decode_message}."""

    def test_strongSwanRequest(self) -> None:
        header, payloads = decode_message(REQUEST)
        self.assertEqual((header.spiI, header.spiR), (SPI_I, bytes(8)))
        self.assertEqual(header.exchange, ExchangeType.IKE_SA_INIT)
        self.assertEqual((header.flags, header.messageId), (HeaderFlag.INITIATOR, 0))
        self.assertEqual(header.length, len(REQUEST))
        self.assertEqual(header.nextPayload, PayloadType.SA)
        sa = find(payloads, SaPayload)
        assert sa is not None
        self.assertEqual(
            [
                (t.transformType, t.transformId, t.keyLength)
                for t in sa.proposals[0].transforms
            ],
            [(1, 12, 128), (3, 12, None), (2, 5, None), (4, 31, None)],
        )
        ke = find(payloads, KePayload)
        assert ke is not None
        self.assertEqual((ke.group, len(ke.data)), (DhGroupId.CURVE_25519, 32))
        nonce = find(payloads, NoncePayload)
        assert nonce is not None
        self.assertEqual(len(nonce.nonce), 32)
        self.assertIsNotNone(find_notify(payloads, NotifyType.NAT_DETECTION_SOURCE_IP))
        self.assertIsNotNone(
            find_notify(payloads, NotifyType.NAT_DETECTION_DESTINATION_IP)
        )
        hashes = find_notify(payloads, NotifyType.SIGNATURE_HASH_ALGORITHMS)
        assert hashes is not None
        self.assertEqual(hashes.data, bytes.fromhex("0002000300040005"))
        self.assertIsNone(find(payloads, CertReqPayload))

    def test_strongSwanResponse(self) -> None:
        header, payloads = decode_message(RESPONSE)
        self.assertEqual((header.spiI, header.spiR), (SPI_I, SPI_R))
        self.assertTrue(header.isResponse)
        self.assertFalse(header.isInitiator)
        self.assertIsNotNone(find(payloads, CertReqPayload))
        self.assertIsNotNone(find_notify(payloads, NotifyType.NAT_DETECTION_SOURCE_IP))
        ke = find(payloads, KePayload)
        assert ke is not None
        self.assertEqual(ke.group, 31)

    def test_strongSwanReencoded(self) -> None:
        """
        Re-encoding what strongSwan sent gives its bytes back: the AUTH
        octets may be rebuilt from the decoded message.
        """
        for data in (REQUEST, RESPONSE):
            self.assertEqual(encode_message(message_of(*decode_message(data))), data)

    def test_encode(self) -> None:
        message = IkeMessage(
            SPI_I,
            bytes(8),
            ExchangeType.IKE_SA_INIT,
            0,
            False,
            True,
            (NotifyPayload(0, NotifyType.COOKIE, data=b"cookie"),),
        )
        data = encode_message(message)
        self.assertEqual(len(data), HEADER_SIZE + 14)
        self.assertEqual(data[16:20], bytes([41, 0x20, 34, 0x08]))
        self.assertEqual(data[24:28], struct.pack(">I", len(data)))
        self.assertEqual(message_of(*decode_message(data)), message)

    def test_empty(self) -> None:
        message = IkeMessage(SPI_I, SPI_R, 37, 5, True, False, ())
        data = encode_message(message)
        self.assertEqual(len(data), HEADER_SIZE)
        self.assertEqual(data[16], 0)
        self.assertEqual(decode_message(data)[1], [])

    def test_badPayloads(self) -> None:
        """Payload errors come out of L{decode_message} as well."""
        data = bytearray(REQUEST)
        data[HEADER_SIZE + 2 : HEADER_SIZE + 4] = b"\x00\x03"
        self.assertRaises(IkeDecodeError, decode_message, bytes(data))
        self.assertRaises(IkeDecodeError, decode_message, REQUEST + b"\x00")

    def test_unknownCritical(self) -> None:
        message = IkeMessage(
            SPI_I, SPI_R, 37, 5, False, True, (UnknownPayload(60, True, b""),)
        )
        with self.assertRaises(IkeDecodeError) as caught:
            decode_message(encode_message(message))
        self.assertEqual(
            caught.exception.notify, NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD
        )
        self.assertEqual(caught.exception.data, b"\x3c")

    def test_wrongMajorVersion(self) -> None:
        data = REQUEST[:17] + b"\x10" + REQUEST[18:]
        with self.assertRaises(IkeDecodeError) as caught:
            decode_message(data)
        self.assertEqual(caught.exception.notify, NotifyType.INVALID_MAJOR_VERSION)

    def test_truncations(self) -> None:
        for size in range(len(RESPONSE)):
            self.assertRaises(IkeDecodeError, decode_message, RESPONSE[:size])


class EncryptedTests(SynchronousTestCase):
    """L{encode_encrypted} and L{decode_encrypted}, with real AES-GCM."""

    def test_roundTrip(self) -> None:
        data = encode_encrypted(IKE_AUTH, GcmProtector())
        header, payloads = decode_message(data)
        self.assertEqual(header.nextPayload, PayloadType.SK)
        self.assertEqual(header.length, len(data))
        self.assertEqual(header.flags, HeaderFlag.INITIATOR)
        self.assertEqual(len(payloads), 1)
        self.assertIsInstance(payloads[0], EncryptedPayload)
        inner = decode_encrypted(data, header, payloads, GcmProtector())
        self.assertEqual(tuple(inner), AUTH_PAYLOADS)

    def test_layout(self) -> None:
        """
        The SK payload follows the header, its Next Payload the first inner
        type; decrypting by hand with the header and SK header as AAD gives
        the inner chain with a pad length octet of 0.
        """
        protector = GcmProtector()
        data = encode_encrypted(IKE_AUTH, protector)
        firstInner, inner = encode_payloads(AUTH_PAYLOADS)
        self.assertEqual(data[28], firstInner)
        self.assertEqual(data[29], 0)
        self.assertEqual(struct.unpack(">H", data[30:32])[0], len(data) - HEADER_SIZE)
        self.assertEqual(len(data), 32 + protector.body_length(len(inner)))
        iv = data[32:40]
        plaintext = AESGCM(GCM_KEY).decrypt(GCM_SALT + iv, data[40:], data[:32])
        self.assertEqual(plaintext, inner + b"\x00")

    def test_empty(self) -> None:
        """
        An empty INFORMATIONAL, as for liveness: the SK payload holds
        nothing and its Next Payload is 0.
        """
        message = IkeMessage(
            SPI_I, SPI_R, ExchangeType.INFORMATIONAL, 3, True, False, ()
        )
        data = encode_encrypted(message, GcmProtector())
        self.assertEqual(data[16], PayloadType.SK)
        self.assertEqual(data[19], HeaderFlag.RESPONSE)
        self.assertEqual(data[28], 0)
        self.assertEqual(len(data), 32 + IV_SIZE + 1 + TAG_SIZE)
        header, payloads = decode_message(data)
        self.assertEqual(payloads, [EncryptedPayload(0, data[32:])])
        self.assertEqual(decode_encrypted(data, header, payloads, GcmProtector()), [])

    def test_flippedBits(self) -> None:
        """
        A flipped bit in the authenticated header, the SK header, the IV,
        the ciphertext or the tag fails the integrity check.
        """
        data = encode_encrypted(IKE_AUTH, GcmProtector())
        for offset in (0, 8, 17, 19, 20, 29, 32, 40, len(data) // 2, len(data) - 1):
            changed = bytearray(data)
            changed[offset] ^= 0x01
            self.assertRaises(
                IntegrityError, open_message, bytes(changed), GcmProtector()
            )

    def test_wrongKey(self) -> None:
        data = encode_encrypted(IKE_AUTH, GcmProtector())
        self.assertRaises(IntegrityError, open_message, data, GcmProtector(bytes(16)))

    def test_shortBody(self) -> None:
        """An SK body too short for IV and tag is the protector's to refuse."""
        firstType, chain = encode_payloads([EncryptedPayload(0, bytes(IV_SIZE))])
        header = IkeHeader(
            SPI_I, SPI_R, firstType, 37, 0x08, 2, HEADER_SIZE + len(chain)
        )
        data = header.encode() + chain
        self.assertRaises(IntegrityError, open_message, data, GcmProtector())

    def test_plaintextBefore(self) -> None:
        """Plaintext payloads before the SK payload come first."""
        notify = NotifyPayload(ProtocolId.NONE, NotifyType.COOKIE, data=b"c")
        firstInner, inner = encode_payloads(AUTH_PAYLOADS)
        data = seal([notify], firstInner, inner, GcmProtector())
        self.assertEqual(data[16], PayloadType.NOTIFY)
        self.assertEqual(open_message(data, GcmProtector()), [notify, *AUTH_PAYLOADS])

    def test_plaintextBeforeAuthenticated(self) -> None:
        notify = NotifyPayload(ProtocolId.NONE, NotifyType.COOKIE, data=b"c")
        data = bytearray(seal([notify], 0, b"", GcmProtector()))
        data[HEADER_SIZE + 8] ^= 0x01
        self.assertRaises(IntegrityError, open_message, bytes(data), GcmProtector())

    def test_noSkPayload(self) -> None:
        """A message that should be encrypted and is not is refused."""
        header, payloads = decode_message(REQUEST)
        self.assertRaises(
            IkeDecodeError, decode_encrypted, REQUEST, header, payloads, GcmProtector()
        )
        empty = encode_message(IkeMessage(SPI_I, SPI_R, 37, 2, False, True, ()))
        self.assertRaises(IkeDecodeError, open_message, empty, GcmProtector())

    def test_nestedSkPayload(self) -> None:
        _, inner = encode_payloads([EncryptedPayload(0, b"x" * 25)])
        data = seal([], PayloadType.SK, inner, GcmProtector())
        self.assertRaises(IkeDecodeError, open_message, data, GcmProtector())
        message = IkeMessage(
            SPI_I, SPI_R, 37, 2, False, True, (EncryptedPayload(0, b""),)
        )
        self.assertRaises(ValueError, encode_encrypted, message, GcmProtector())

    def test_malformedInside(self) -> None:
        """A verified but malformed inner chain is a decode error."""
        data = seal([], PayloadType.NOTIFY, b"\x00\x00\x00\x03", GcmProtector())
        self.assertRaises(IkeDecodeError, open_message, data, GcmProtector())
        data = seal([], 0, b"\x00", GcmProtector())
        self.assertRaises(IkeDecodeError, open_message, data, GcmProtector())

    def test_unknownCriticalInside(self) -> None:
        _, inner = encode_payloads([UnknownPayload(60, True, b"")])
        data = seal([], 60, inner, GcmProtector())
        with self.assertRaises(IkeDecodeError) as caught:
            open_message(data, GcmProtector())
        self.assertEqual(
            caught.exception.notify, NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD
        )

    def test_protectorSizeMismatch(self) -> None:
        self.assertRaises(ValueError, encode_encrypted, IKE_AUTH, OverlongProtector())


class PropertyTests(SynchronousTestCase):
    """Generated messages and arbitrary bytes."""

    @fast
    @given(ike_messages())
    def test_roundTrip(self, message: IkeMessage) -> None:
        data = encode_message(message)
        self.assertEqual(message_of(*decode_message(data)), message)

    @fast
    @given(ike_messages(encrypted=False))
    def test_encryptedRoundTrip(self, message: IkeMessage) -> None:
        data = encode_encrypted(message, GcmProtector())
        header, payloads = decode_message(data)
        inner = decode_encrypted(data, header, payloads, GcmProtector())
        self.assertEqual(message_of(header, inner), message)

    @fast
    @given(ike_messages(), st.data())
    def test_truncation(self, message: IkeMessage, data: st.DataObject) -> None:
        octets = encode_message(message)
        size = data.draw(st.integers(0, len(octets) - 1))
        self.assertRaises(IkeDecodeError, decode_message, octets[:size])

    @fast
    @given(ike_messages(encrypted=False), st.data())
    def test_flippedBit(self, message: IkeMessage, data: st.DataObject) -> None:
        """No single flipped bit of an encrypted message goes unnoticed."""
        octets = bytearray(encode_encrypted(message, GcmProtector()))
        bit = data.draw(st.integers(0, len(octets) * 8 - 1))
        octets[bit // 8] ^= 1 << (bit % 8)
        self.assertRaises(IkeError, open_message, bytes(octets), GcmProtector())

    @fast
    @given(st.binary(max_size=120))
    def test_arbitraryBytes(self, data: bytes) -> None:
        try:
            decode_message(data)
        except IkeDecodeError:
            pass

    @fast
    @given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=120))
    def test_arbitraryPayloads(
        self, nextPayload: int, version: int, chain: bytes
    ) -> None:
        """Behind a well-formed header, so that the chain is read."""
        header = IkeHeader(
            SPI_I, SPI_R, nextPayload, 37, 0x08, 2, HEADER_SIZE + len(chain), version
        )
        try:
            decode_message(header.encode() + chain)
        except IkeDecodeError:
            pass
