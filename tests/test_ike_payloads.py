"""
Tests for L{nsstwisted.ike.payloads}: each payload's body, the payload
chain, what strongSwan 5.9.8 sent in IKE_SA_INIT, and every way a peer's
bytes can be malformed.
"""

from __future__ import annotations

import ipaddress
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import (
    AuthMethod,
    CertEncoding,
    DhGroupId,
    EncrId,
    IdType,
    IntegId,
    NotifyType,
    PayloadType,
    PrfId,
    ProtocolId,
    TransformType,
    TsType,
)
from nsstwisted.ike.errors import IkeDecodeError
from nsstwisted.ike.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    TrafficSelector,
    Transform,
    TsPayload,
    UnknownPayload,
    VendorIdPayload,
    decode_payloads,
    encode_payloads,
    find,
    find_all,
    find_notify,
    notifies,
)
from tests.strategies import ike_payload_chains, ike_payloads, ike_unknown_types

fast = settings(max_examples=200, deadline=None, database=None)

VECTOR = json.loads(
    (Path(__file__).parent / "data" / "ike-vector-strongswan598.json").read_text()
)
HEADER_SIZE = 28

AES128 = Transform(TransformType.ENCR, EncrId.AES_CBC, 128)
SHA256_128 = Transform(TransformType.INTEG, IntegId.HMAC_SHA2_256_128)
PRF_SHA256 = Transform(TransformType.PRF, PrfId.HMAC_SHA2_256)
X25519 = Transform(TransformType.DH, DhGroupId.CURVE_25519)
IKE_PROPOSAL = Proposal(
    1, ProtocolId.IKE, b"", (AES128, SHA256_128, PRF_SHA256, X25519)
)
ESP_PROPOSAL = Proposal(
    2,
    ProtocolId.ESP,
    b"\xc0\x00\x00\x01",
    (Transform(TransformType.ENCR, EncrId.AES_GCM_16, 256), Transform(5, 0)),
)

# One of each payload type.
EXAMPLES: list[Payload] = [
    SaPayload((IKE_PROPOSAL, ESP_PROPOSAL)),
    KePayload(DhGroupId.CURVE_25519, bytes(range(32))),
    NoncePayload(b"n" * 32),
    NotifyPayload(ProtocolId.ESP, NotifyType.REKEY_SA, b"\xc0\x00\x00\x02"),
    NotifyPayload(0, NotifyType.SIGNATURE_HASH_ALGORITHMS, data=b"\x00\x02\x00\x03"),
    IdPayload(PayloadType.IDi, IdType.FQDN, b"moon.iked.test"),
    IdPayload(PayloadType.IDr, IdType.IPV4_ADDR, b"\x0a\x01\x00\x01"),
    CertPayload(CertEncoding.X509_SIGNATURE, b"0\x82DER"),
    CertReqPayload(CertEncoding.X509_SIGNATURE, b"h" * 40),
    AuthPayload(AuthMethod.DIGITAL_SIGNATURE, b"signature"),
    TsPayload(
        PayloadType.TSi,
        (TrafficSelector.from_network(ipaddress.ip_network("10.1.0.0/24")),),
    ),
    TsPayload(
        PayloadType.TSr,
        (
            TrafficSelector.from_network(
                ipaddress.ip_network("10.2.0.0/16"), 6, 80, 80
            ),
            TrafficSelector.from_network(ipaddress.ip_network("2001:db8::/32")),
        ),
    ),
    DeletePayload(ProtocolId.IKE, 0, ()),
    DeletePayload(ProtocolId.ESP, 4, (b"\xc0\x00\x00\x01", b"\xc0\x00\x00\x02")),
    VendorIdPayload(b"strongSwan"),
    UnknownPayload(PayloadType.CP, False, b"\x01\x00\x00\x00"),
]


def chunk(body: bytes, following: int = 0, flags: int = 0) -> bytes:
    """
    One payload with its generic header, written by hand (its own type is
    the Next Payload of what precedes it).
    """
    return struct.pack(">BBH", following, flags, 4 + len(body)) + body


def substructure(flag: int, body: bytes, length: int | None = None) -> bytes:
    """A proposal or transform with its Last/Length header, written by hand."""
    if length is None:
        length = 4 + len(body)
    return struct.pack(">BBH", flag, 0, length) + body


def vector_payloads(name: str) -> tuple[int, bytes]:
    """The first payload type and payload chain of a strongSwan message."""
    data = bytes.fromhex(VECTOR[name])
    return data[16], data[HEADER_SIZE:]


class TransformTests(SynchronousTestCase):
    """
    L{Transform}: the Key Length attribute, and attributes that make a
    transform unusable.
    """

    def test_keyLength(self) -> None:
        """
        The Key Length is a TV attribute, 0x800E and the length in bits.
        """
        self.assertEqual(AES128.body(), bytes.fromhex("0100000c800e0080"))
        self.assertEqual(Transform.decode(AES128.body()), AES128)

    def test_noAttributes(self) -> None:
        body = X25519.body()
        self.assertEqual(body, bytes.fromhex("0400001f"))
        self.assertEqual(Transform.decode(body), X25519)
        self.assertIsNone(Transform.decode(body).keyLength)

    def test_names(self) -> None:
        """
        Transform IDs print by the names of their transform type; an
        unknown type keeps plain numbers.
        """
        transform = Transform.decode(bytes.fromhex("0300000c"))
        self.assertIs(transform.transformType, TransformType.INTEG)
        self.assertIs(transform.transformId, IntegId.HMAC_SHA2_256_128)
        other = Transform.decode(bytes.fromhex("0900000c"))
        self.assertEqual((other.transformType, other.transformId), (9, 12))
        self.assertNotIsInstance(other.transformId, IntegId)

    def test_unknownTvAttribute(self) -> None:
        """
        An attribute other than Key Length marks the transform unusable
        rather than failing the message, so selection can pass it over.
        """
        transform = Transform.decode(bytes.fromhex("0100000c800e0080800f0001"))
        self.assertTrue(transform.unknownAttributes)
        self.assertEqual(transform.keyLength, 128)

    def test_repeatedKeyLength(self) -> None:
        transform = Transform.decode(bytes.fromhex("0100000c800e0080800e0100"))
        self.assertTrue(transform.unknownAttributes)
        self.assertEqual(transform.keyLength, 128)

    def test_tlvAttribute(self) -> None:
        """A TLV attribute is skipped by its length and marks the transform."""
        transform = Transform.decode(bytes.fromhex("0100000c00050003aabbcc800e0100"))
        self.assertTrue(transform.unknownAttributes)
        self.assertEqual(transform.keyLength, 256)

    def test_tlvAttributeTooLong(self) -> None:
        self.assertRaises(
            IkeDecodeError, Transform.decode, bytes.fromhex("0100000c00050004aabbcc")
        )

    def test_truncatedAttribute(self) -> None:
        self.assertRaises(
            IkeDecodeError, Transform.decode, bytes.fromhex("0100000c800e")
        )

    def test_truncated(self) -> None:
        self.assertRaises(IkeDecodeError, Transform.decode, bytes.fromhex("010000"))


class ProposalTests(SynchronousTestCase):
    """L{Proposal}: its SPI, and its transforms' Last/More octets and count."""

    def test_roundTrip(self) -> None:
        for proposal in (IKE_PROPOSAL, ESP_PROPOSAL, Proposal(1, 1, b"", ())):
            self.assertEqual(Proposal.decode(proposal.body()), proposal)

    def test_layout(self) -> None:
        """
        The transforms are marked 3 (more) but for the last, marked 0, and
        counted in the fixed part.
        """
        body = ESP_PROPOSAL.body()
        self.assertEqual(body[:4], bytes([2, 3, 4, 2]))
        self.assertEqual(body[4:8], b"\xc0\x00\x00\x01")
        self.assertEqual(body[8], 3)
        self.assertEqual(body[20], 0)

    def test_truncatedSpi(self) -> None:
        self.assertRaises(IkeDecodeError, Proposal.decode, bytes([1, 3, 4, 0, 1, 2]))

    def test_truncatedFixedPart(self) -> None:
        self.assertRaises(IkeDecodeError, Proposal.decode, bytes([1, 3, 0]))

    def test_truncatedTransform(self) -> None:
        transform = substructure(0, X25519.body())
        self.assertRaises(
            IkeDecodeError, Proposal.decode, bytes([1, 1, 0, 1]) + transform[:-1]
        )
        self.assertRaises(
            IkeDecodeError, Proposal.decode, bytes([1, 1, 0, 1]) + transform[:3]
        )

    def test_transformLengthTooShort(self) -> None:
        transform = substructure(0, X25519.body(), length=7)
        self.assertRaises(
            IkeDecodeError, Proposal.decode, bytes([1, 1, 0, 1]) + transform
        )

    def test_moreThanCounted(self) -> None:
        """A transform marked "more" where the count says it is the last."""
        transform = substructure(3, X25519.body())
        self.assertRaises(
            IkeDecodeError, Proposal.decode, bytes([1, 1, 0, 1]) + transform * 2
        )

    def test_fewerThanCounted(self) -> None:
        transform = substructure(0, X25519.body())
        self.assertRaises(
            IkeDecodeError, Proposal.decode, bytes([1, 1, 0, 2]) + transform
        )

    def test_badLastOctet(self) -> None:
        """2 is the "more" of proposals, not of transforms."""
        body = bytes([1, 1, 0, 2]) + substructure(2, X25519.body())
        body += substructure(0, X25519.body())
        self.assertRaises(IkeDecodeError, Proposal.decode, body)

    def test_trailingOctets(self) -> None:
        body = bytes([1, 1, 0, 1]) + substructure(0, X25519.body()) + b"\x00"
        self.assertRaises(IkeDecodeError, Proposal.decode, body)
        self.assertRaises(IkeDecodeError, Proposal.decode, bytes([1, 1, 0, 0, 0]))


class SaPayloadTests(SynchronousTestCase):
    """L{SaPayload}: proposals found through their Last/More octets."""

    def test_roundTrip(self) -> None:
        """Proposal numbers are kept as sent, even repeated."""
        sa = SaPayload((IKE_PROPOSAL, IKE_PROPOSAL, ESP_PROPOSAL))
        decoded = SaPayload.decode(sa.body())
        self.assertEqual(decoded, sa)
        self.assertEqual([p.number for p in decoded.proposals], [1, 1, 2])

    def test_layout(self) -> None:
        body = SaPayload((IKE_PROPOSAL, ESP_PROPOSAL)).body()
        self.assertEqual(body[0], 2)
        (length,) = struct.unpack_from(">H", body, 2)
        self.assertEqual(body[length], 0)

    def test_empty(self) -> None:
        """An SA payload holds at least one proposal."""
        self.assertRaises(IkeDecodeError, SaPayload.decode, b"")

    def test_morePromised(self) -> None:
        body = substructure(2, IKE_PROPOSAL.body())
        self.assertRaises(IkeDecodeError, SaPayload.decode, body)

    def test_badLastOctet(self) -> None:
        body = substructure(3, IKE_PROPOSAL.body()) + substructure(
            0, IKE_PROPOSAL.body()
        )
        self.assertRaises(IkeDecodeError, SaPayload.decode, body)

    def test_trailingOctets(self) -> None:
        body = substructure(0, IKE_PROPOSAL.body()) + b"\x00\x00\x00\x08"
        self.assertRaises(IkeDecodeError, SaPayload.decode, body)

    def test_truncatedProposal(self) -> None:
        body = substructure(0, IKE_PROPOSAL.body())
        for size in (1, 3, 4, 7, len(body) - 1):
            self.assertRaises(IkeDecodeError, SaPayload.decode, body[:size])

    def test_proposalLengthTooShort(self) -> None:
        body = substructure(0, b"\x01\x01\x00\x00", length=7)
        self.assertRaises(IkeDecodeError, SaPayload.decode, body)

    def test_proposalLengthTooLong(self) -> None:
        body = IKE_PROPOSAL.body()
        self.assertRaises(
            IkeDecodeError,
            SaPayload.decode,
            substructure(0, body, length=len(body) + 5),
        )


class SimplePayloadTests(SynchronousTestCase):
    """The payloads of fixed fields and opaque data."""

    def test_roundTrip(self) -> None:
        for payload in EXAMPLES:
            decoded = decode_payloads(*encode_payloads([payload]))
            self.assertEqual(decoded, [payload])

    def test_ke(self) -> None:
        ke = KePayload(14, b"\x01" * 256)
        self.assertEqual(ke.body()[:4], b"\x00\x0e\x00\x00")
        self.assertEqual(KePayload.decode(ke.body()), ke)
        self.assertIs(KePayload.decode(ke.body()).group, DhGroupId.MODP_2048)
        self.assertRaises(IkeDecodeError, KePayload.decode, b"\x00\x0e\x00")

    def test_nonceSizes(self) -> None:
        """RFC 7296 section 3.9: 16 to 256 octets."""
        for size in (16, 32, 256):
            self.assertEqual(NoncePayload.decode(b"n" * size).nonce, b"n" * size)
        for size in (0, 15, 257):
            self.assertRaises(IkeDecodeError, NoncePayload.decode, b"n" * size)

    def test_notify(self) -> None:
        notify = NotifyPayload(ProtocolId.ESP, NotifyType.REKEY_SA, b"\x01\x02\x03\x04")
        self.assertEqual(notify.body(), bytes.fromhex("0304400901020304"))
        self.assertEqual(NotifyPayload.decode(notify.body()), notify)

    def test_notifyUnknownType(self) -> None:
        """An unknown status type is kept as a number, to be ignored."""
        notify = NotifyPayload.decode(bytes.fromhex("00007fff"))
        self.assertEqual(notify.notifyType, 0x7FFF)
        self.assertNotIsInstance(notify.notifyType, NotifyType)

    def test_notifyTruncated(self) -> None:
        self.assertRaises(IkeDecodeError, NotifyPayload.decode, b"\x00\x00\x40")
        self.assertRaises(
            IkeDecodeError, NotifyPayload.decode, bytes.fromhex("0304400901")
        )

    def test_idPrime(self) -> None:
        """
        The body of an ID payload is the IDx' of the AUTH octets; strongSwan
        computed the same for its identities.
        """
        moon = IdPayload(PayloadType.IDi, IdType.FQDN, b"moon.iked.test")
        sun = IdPayload(PayloadType.IDr, IdType.FQDN, b"sun.iked.test")
        self.assertEqual(moon.body(), bytes.fromhex(VECTOR["IDi_prime"]))
        self.assertEqual(sun.body(), bytes.fromhex(VECTOR["IDr_prime"]))
        self.assertEqual(IdPayload.decode(sun.body(), PayloadType.IDr), sun)

    def test_idTruncated(self) -> None:
        self.assertRaises(IkeDecodeError, IdPayload.decode, b"\x02\x00\x00")

    def test_cert(self) -> None:
        self.assertEqual(CertPayload.decode(b"\x04der"), CertPayload(4, b"der"))
        self.assertRaises(IkeDecodeError, CertPayload.decode, b"")

    def test_certreqAuthorities(self) -> None:
        hashes = [bytes([i]) * 20 for i in range(3)]
        certreq = CertReqPayload.decode(b"\x04" + b"".join(hashes))
        self.assertEqual(certreq.authorities(), hashes)
        self.assertEqual(CertReqPayload.decode(b"\x04").authorities(), [])

    def test_certreqBadLength(self) -> None:
        """
        The decode keeps the CERTREQ whole; only asking for its authorities
        fails, since nsstwisted may not act on it at all.
        """
        certreq = CertReqPayload.decode(b"\x04" + b"h" * 21)
        self.assertRaises(IkeDecodeError, certreq.authorities)
        self.assertRaises(IkeDecodeError, CertReqPayload.decode, b"")

    def test_certreqOtherEncoding(self) -> None:
        self.assertEqual(CertReqPayload(12, b"h" * 21).authorities(), [])

    def test_auth(self) -> None:
        auth = AuthPayload(AuthMethod.RSA_SIGNATURE, b"sig")
        self.assertEqual(auth.body(), b"\x01\x00\x00\x00sig")
        self.assertEqual(AuthPayload.decode(auth.body()), auth)
        self.assertRaises(IkeDecodeError, AuthPayload.decode, b"\x01\x00\x00")

    def test_delete(self) -> None:
        ike = DeletePayload(ProtocolId.IKE, 0, ())
        self.assertEqual(ike.body(), b"\x01\x00\x00\x00")
        esp = DeletePayload(
            ProtocolId.ESP, 4, (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08")
        )
        self.assertEqual(esp.body()[:4], b"\x03\x04\x00\x02")
        self.assertEqual(DeletePayload.decode(esp.body()), esp)

    def test_deleteBadLength(self) -> None:
        for body in ("030400020102030405060708ff", "03040002010203040506", "030400"):
            self.assertRaises(IkeDecodeError, DeletePayload.decode, bytes.fromhex(body))

    def test_deleteWrongSpiSize(self) -> None:
        self.assertRaises(ValueError, DeletePayload(3, 4, (b"\x01\x02",)).body)

    def test_opaque(self) -> None:
        self.assertEqual(VendorIdPayload.decode(b""), VendorIdPayload(b""))
        self.assertEqual(
            UnknownPayload.decode(b"x", PayloadType.EAP),
            UnknownPayload(PayloadType.EAP, False, b"x"),
        )
        self.assertEqual(
            EncryptedPayload.decode(b"iv", 35), EncryptedPayload(35, b"iv")
        )


class TrafficSelectorTests(SynchronousTestCase):
    """L{TrafficSelector} and L{TsPayload}."""

    def test_fromNetworkV4(self) -> None:
        selector = TrafficSelector.from_network(ipaddress.ip_network("10.1.0.0/24"))
        self.assertEqual(selector.tsType, TsType.IPV4_ADDR_RANGE)
        self.assertEqual(selector.start, ipaddress.ip_address("10.1.0.0"))
        self.assertEqual(selector.end, ipaddress.ip_address("10.1.0.255"))
        self.assertEqual(
            (selector.protocol, selector.startPort, selector.endPort), (0, 0, 65535)
        )
        body = selector.body()
        self.assertEqual(body, bytes.fromhex("070000100000ffff0a0100000a0100ff"))
        self.assertEqual(TrafficSelector.decode(body), selector)

    def test_fromNetworkV6(self) -> None:
        selector = TrafficSelector.from_network(
            ipaddress.ip_network("2001:db8::/32"),
            protocol=17,
            startPort=500,
            endPort=500,
        )
        self.assertEqual(selector.tsType, TsType.IPV6_ADDR_RANGE)
        self.assertEqual(
            selector.end, ipaddress.ip_address("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
        )
        body = selector.body()
        self.assertEqual(len(body), 40)
        self.assertEqual(body[:8], bytes.fromhex("0811002801f401f4"))
        self.assertEqual(TrafficSelector.decode(body), selector)

    def test_unknownType(self) -> None:
        body = bytearray(
            TrafficSelector.from_network(ipaddress.ip_network("10.0.0.0/8")).body()
        )
        body[0] = 9
        self.assertRaises(IkeDecodeError, TrafficSelector.decode, bytes(body))
        payload = b"\x01\x00\x00\x00" + bytes(body)
        self.assertRaises(IkeDecodeError, TsPayload.decode, payload)

    def test_wrongLength(self) -> None:
        """An IPv4 selector is 16 octets, an IPv6 one 40."""
        v4 = TrafficSelector.from_network(ipaddress.ip_network("10.0.0.0/8")).body()
        v6 = TrafficSelector.from_network(ipaddress.ip_network("::/0")).body()
        wrong = v4[:2] + b"\x00\x28" + v4[4:] + bytes(24)
        self.assertRaises(IkeDecodeError, TrafficSelector.decode, wrong)
        self.assertRaises(
            IkeDecodeError, TrafficSelector.decode, v6[:2] + b"\x00\x10" + v6[4:16]
        )
        self.assertRaises(IkeDecodeError, TrafficSelector.decode, v4 + b"\x00")
        self.assertRaises(IkeDecodeError, TrafficSelector.decode, v4[:3])

    def test_payload(self) -> None:
        ts = EXAMPLES[11]
        assert isinstance(ts, TsPayload)
        body = ts.body()
        self.assertEqual(body[:4], b"\x02\x00\x00\x00")
        self.assertEqual(TsPayload.decode(body, PayloadType.TSr), ts)

    def test_truncatedSelector(self) -> None:
        body = EXAMPLES[11].body()
        for size in (4, 6, 10, 20, len(body) - 1):
            self.assertRaises(IkeDecodeError, TsPayload.decode, body[:size])
        self.assertRaises(IkeDecodeError, TsPayload.decode, body[:3])

    def test_trailingOctets(self) -> None:
        body = EXAMPLES[11].body()
        self.assertRaises(IkeDecodeError, TsPayload.decode, body + b"\x00")
        self.assertRaises(IkeDecodeError, TsPayload.decode, b"\x01" + body[1:])


class ChainTests(SynchronousTestCase):
    """L{encode_payloads} and L{decode_payloads}: the generic headers."""

    def test_roundTrip(self) -> None:
        firstType, data = encode_payloads(EXAMPLES)
        self.assertEqual(firstType, PayloadType.SA)
        self.assertEqual(decode_payloads(firstType, data), EXAMPLES)

    def test_empty(self) -> None:
        self.assertEqual(encode_payloads([]), (0, b""))
        self.assertEqual(decode_payloads(0, b""), [])

    def test_nextPayloadFields(self) -> None:
        """Each Next Payload names the following type; the last holds 0."""
        payloads: list[Payload] = [
            NoncePayload(b"n" * 16),
            VendorIdPayload(b"v"),
            KePayload(31, b""),
        ]
        firstType, data = encode_payloads(payloads)
        self.assertEqual(firstType, PayloadType.NONCE)
        self.assertEqual(data[:4], bytes([43, 0, 0, 20]))
        self.assertEqual(data[20:24], bytes([34, 0, 0, 5]))
        self.assertEqual(data[25:29], bytes([0, 0, 0, 8]))

    def test_truncatedHeader(self) -> None:
        data = chunk(b"v", following=PayloadType.VENDOR_ID)
        for extra in (b"", b"\x00", b"\x00\x00\x00"):
            self.assertRaises(
                IkeDecodeError, decode_payloads, PayloadType.VENDOR_ID, data + extra
            )

    def test_lengthTooShort(self) -> None:
        for length in (0, 3):
            data = struct.pack(">BBH", 0, 0, length) + b"\x00" * 8
            self.assertRaises(
                IkeDecodeError, decode_payloads, PayloadType.VENDOR_ID, data
            )

    def test_lengthBeyondEnd(self) -> None:
        data = struct.pack(">BBH", 0, 0, 9) + b"vvvv"
        self.assertRaises(IkeDecodeError, decode_payloads, PayloadType.VENDOR_ID, data)

    def test_trailingGarbage(self) -> None:
        data = chunk(b"v") + b"\x00"
        self.assertRaises(IkeDecodeError, decode_payloads, PayloadType.VENDOR_ID, data)
        self.assertRaises(IkeDecodeError, decode_payloads, 0, b"\x00")

    def test_unknownCritical(self) -> None:
        """
        An unknown payload with the Critical bit fails the message with
        UNSUPPORTED_CRITICAL_PAYLOAD, whose data is the payload type.
        """
        data = chunk(b"v", following=60)
        data += chunk(b"new", flags=0x80)
        with self.assertRaises(IkeDecodeError) as caught:
            decode_payloads(PayloadType.VENDOR_ID, data)
        self.assertEqual(
            caught.exception.notify, NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD
        )
        self.assertEqual(caught.exception.data, b"\x3c")

    def test_unimplementedCritical(self) -> None:
        """CP and EAP are unknown to nsstwisted, critical or not."""
        for payloadType in (PayloadType.CP, PayloadType.EAP):
            with self.assertRaises(IkeDecodeError) as caught:
                decode_payloads(payloadType, chunk(b"", flags=0x80))
            self.assertEqual(caught.exception.data, bytes([payloadType]))
            self.assertEqual(
                decode_payloads(payloadType, chunk(b"x")),
                [UnknownPayload(payloadType, False, b"x")],
            )

    def test_unknownNonCritical(self) -> None:
        """An unknown payload without the Critical bit is kept and read past."""
        data = chunk(b"new", following=PayloadType.VENDOR_ID, flags=0x7F)
        data += chunk(b"v")
        self.assertEqual(
            decode_payloads(60, data),
            [UnknownPayload(60, False, b"new"), VendorIdPayload(b"v")],
        )

    def test_criticalBitOfKnownPayload(self) -> None:
        """The Critical bit matters only for unknown types."""
        data = chunk(b"v", flags=0x80)
        self.assertEqual(
            decode_payloads(PayloadType.VENDOR_ID, data), [VendorIdPayload(b"v")]
        )

    def test_encodeCritical(self) -> None:
        firstType, data = encode_payloads([UnknownPayload(60, True, b"x")])
        self.assertEqual((firstType, data), (60, bytes([0, 0x80, 0, 5]) + b"x"))

    def test_encrypted(self) -> None:
        """
        The SK payload's Next Payload is the first inner type, and it ends
        the chain.
        """
        payloads: list[Payload] = [
            NotifyPayload(0, NotifyType.COOKIE, data=b"c"),
            EncryptedPayload(35, b"ivcticv"),
        ]
        firstType, data = encode_payloads(payloads)
        self.assertEqual(data[-11:-7], bytes([35, 0, 0, 11]))
        decoded = decode_payloads(firstType, data)
        self.assertEqual(decoded, payloads)
        encrypted = decoded[1]
        assert isinstance(encrypted, EncryptedPayload)
        self.assertIs(encrypted.firstInner, PayloadType.IDi)

    def test_encryptedNotLast(self) -> None:
        data = chunk(b"ivcticv", following=0)
        data += chunk(b"v")
        self.assertRaises(IkeDecodeError, decode_payloads, PayloadType.SK, data)
        self.assertRaises(
            ValueError,
            encode_payloads,
            [EncryptedPayload(0, b""), VendorIdPayload(b"v")],
        )

    def test_fragment(self) -> None:
        """SKF is refused: nsstwisted never announces fragmentation."""
        data = chunk(b"\x00\x01\x00\x02ivcticv", following=35)
        self.assertRaises(IkeDecodeError, decode_payloads, PayloadType.SKF, data)

    def test_bodyErrorsPropagate(self) -> None:
        data = chunk(b"short")
        self.assertRaises(IkeDecodeError, decode_payloads, PayloadType.NONCE, data)

    def test_lookups(self) -> None:
        self.assertEqual(find(EXAMPLES, KePayload), EXAMPLES[1])
        self.assertIsNone(find(EXAMPLES, EncryptedPayload))
        self.assertEqual(find_all(EXAMPLES, IdPayload), EXAMPLES[5:7])
        self.assertEqual(notifies(EXAMPLES), EXAMPLES[3:5])
        self.assertEqual(
            find_notify(EXAMPLES, NotifyType.SIGNATURE_HASH_ALGORITHMS), EXAMPLES[4]
        )
        self.assertIsNone(find_notify(EXAMPLES, NotifyType.COOKIE))


class StrongSwanTests(SynchronousTestCase):
    """The IKE_SA_INIT request and response strongSwan 5.9.8 sent in the lab."""

    def check_sa(self, payloads: list[Payload]) -> None:
        sa = find(payloads, SaPayload)
        assert sa is not None
        self.assertEqual(sa, SaPayload((IKE_PROPOSAL,)))

    def check_common(self, payloads: list[Payload]) -> None:
        self.check_sa(payloads)
        ke = find(payloads, KePayload)
        assert ke is not None
        self.assertEqual(ke.group, DhGroupId.CURVE_25519)
        self.assertEqual(len(ke.data), 32)
        nonce = find(payloads, NoncePayload)
        assert nonce is not None
        self.assertEqual(len(nonce.nonce), 32)
        for natd in (
            NotifyType.NAT_DETECTION_SOURCE_IP,
            NotifyType.NAT_DETECTION_DESTINATION_IP,
        ):
            notify = find_notify(payloads, natd)
            assert notify is not None
            self.assertEqual(len(notify.data), 20)
        hashes = find_notify(payloads, NotifyType.SIGNATURE_HASH_ALGORITHMS)
        assert hashes is not None
        self.assertEqual(hashes.data, bytes.fromhex("0002000300040005"))

    def test_request(self) -> None:
        firstType, data = vector_payloads("ike_sa_init_request")
        payloads = decode_payloads(firstType, data)
        self.check_common(payloads)
        self.assertEqual(
            [type(p).__name__ for p in payloads],
            ["SaPayload", "KePayload", "NoncePayload"] + ["NotifyPayload"] * 5,
        )
        self.assertIsNone(find(payloads, CertReqPayload))
        self.assertEqual(encode_payloads(payloads), (firstType, data))

    def test_response(self) -> None:
        firstType, data = vector_payloads("ike_sa_init_response")
        payloads = decode_payloads(firstType, data)
        self.check_common(payloads)
        certreq = find(payloads, CertReqPayload)
        assert certreq is not None
        self.assertEqual(certreq.encoding, CertEncoding.X509_SIGNATURE)
        self.assertEqual(len(certreq.authorities()), 1)
        self.assertEqual(
            [n.notifyType for n in notifies(payloads)],
            [16388, 16389, 16430, 16431, 16418, 16404],
        )
        self.assertEqual(encode_payloads(payloads), (firstType, data))

    def test_truncations(self) -> None:
        """Every proper prefix of strongSwan's payload chain is refused."""
        firstType, data = vector_payloads("ike_sa_init_response")
        for size in range(len(data)):
            self.assertRaises(IkeDecodeError, decode_payloads, firstType, data[:size])


def refused_or_decoded(decode: Callable[..., Any], *args: Any) -> None:
    """
    Call C{decode}: anything it raises other than L{IkeDecodeError} fails
    the test.
    """
    try:
        decode(*args)
    except IkeDecodeError:
        pass


DECODERS: list[Callable[[bytes], Any]] = [
    Transform.decode,
    Proposal.decode,
    SaPayload.decode,
    KePayload.decode,
    NoncePayload.decode,
    NotifyPayload.decode,
    IdPayload.decode,
    CertPayload.decode,
    lambda body: CertReqPayload.decode(body).authorities(),
    AuthPayload.decode,
    TrafficSelector.decode,
    TsPayload.decode,
    DeletePayload.decode,
    VendorIdPayload.decode,
    UnknownPayload.decode,
    EncryptedPayload.decode,
]


class PropertyTests(SynchronousTestCase):
    """Generated chains and arbitrary bytes."""

    @fast
    @given(ike_payloads)
    def test_bodyRoundTrip(self, payload: Payload) -> None:
        self.assertEqual(decode_payloads(*encode_payloads([payload])), [payload])

    @fast
    @given(ike_payload_chains())
    def test_chainRoundTrip(self, payloads: list[Payload]) -> None:
        firstType, data = encode_payloads(payloads)
        self.assertEqual(decode_payloads(firstType, data), payloads)
        self.assertEqual(
            encode_payloads(decode_payloads(firstType, data)), (firstType, data)
        )

    @fast
    @given(ike_payload_chains(), st.data())
    def test_truncation(self, payloads: list[Payload], data: st.DataObject) -> None:
        """Cutting a non-empty chain anywhere is always noticed."""
        firstType, octets = encode_payloads(payloads)
        if not octets:
            return
        size = data.draw(st.integers(0, len(octets) - 1))
        self.assertRaises(IkeDecodeError, decode_payloads, firstType, octets[:size])

    @fast
    @given(st.integers(0, 255), st.binary(max_size=200))
    def test_arbitraryChain(self, firstType: int, data: bytes) -> None:
        refused_or_decoded(decode_payloads, firstType, data)

    @fast
    @given(ike_payload_chains(), st.data())
    def test_mutatedChain(self, payloads: list[Payload], data: st.DataObject) -> None:
        """A valid chain with a few octets changed: bad input deep inside."""
        firstType, octets = encode_payloads(payloads)
        mutated = bytearray(octets)
        for _ in range(data.draw(st.integers(1, 3))):
            if mutated:
                mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(
                    st.integers(0, 255)
                )
        refused_or_decoded(decode_payloads, firstType, bytes(mutated))

    @fast
    @given(st.sampled_from(DECODERS), st.binary(max_size=80))
    def test_arbitraryBodies(self, decode: Callable[[bytes], Any], body: bytes) -> None:
        refused_or_decoded(decode, body)

    @fast
    @given(ike_unknown_types, st.binary(max_size=20))
    def test_unknownCritical(self, payloadType: int, body: bytes) -> None:
        with self.assertRaises(IkeDecodeError) as caught:
            decode_payloads(payloadType, chunk(body, flags=0x80))
        self.assertEqual(
            caught.exception.notify, NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD
        )
        self.assertEqual(caught.exception.data, bytes([payloadType]))
