"""
Tests for L{nsstwisted.ike.auth}: signed octets against the strongSwan
capture, the RFC 7427 AlgorithmIdentifiers against what cryptography puts
in certificates, signing and verifying with every scheme, and the choice of
method strongSwan would make.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.auth import (
    SIGNATURE_HASH_ALGORITHMS_OFFER,
    SignatureScheme,
    choose_signature,
    decode_hash_algorithms,
    decode_signature_auth,
    encode_hash_algorithms,
    encode_signature_auth,
    psk_auth_data,
    scheme_from_algorithm_identifier,
    sign_locally,
    signed_octets,
    verify_signature,
)
from nsstwisted.ike.constants import AuthMethod, HashAlgorithmId, NotifyType, PrfId
from nsstwisted.ike.crypto import prf_for
from nsstwisted.ike.errors import IkeDecodeError, IkeError
from nsstwisted.wire.nss import SignatureSchemeCode

h = bytes.fromhex

VECTOR = json.loads(
    (Path(__file__).parent / "data" / "ike-vector-strongswan598.json").read_text()
)

OCTETS = b"IKE_SA_INIT request | Nr | prf(SK_pi, IDi')"

RSA_SCHEMES = [s for s in SignatureScheme if s.keyType == "RSA"]
EC_SCHEMES = [s for s in SignatureScheme if s.keyType == "EC"]

# Lab-verified blobs from the reference notes (section 3).
STRONGSWAN_BLOBS = {
    SignatureScheme.RSA_PKCS1_SHA256: "300d06092a864886f70d01010b0500",
    SignatureScheme.ECDSA_SHA256: "300a06082a8648ce3d040302",
    SignatureScheme.RSA_PSS_SHA256: (
        "304106092a864886f70d01010a3034a00f300d0609608648016503040201"
        "0500a11c301a06092a864886f70d010108300d060960864801650304020105"
        "00a203020120"
    ),
}


def _rsa_public(bits: int) -> rsa.RSAPublicKey:
    """
    An RSA public key of any size without generating one: the method choice
    only looks at the size.
    """
    return rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 1).public_key()


def _tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """An independent DER reader for the tests: (tag, value, end)."""
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    return tag, data[offset : offset + length], offset + length


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    while offset < len(value):
        tag, child, offset = _tlv(value, offset)
        out.append((tag, child))
    return out


def _oid_text(value: bytes) -> str:
    arcs, number = [], 0
    for octet in value[1:]:
        number = (number << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(number)
            number = 0
    return ".".join(str(a) for a in [value[0] // 40, value[0] % 40, *arcs])


def _certificate_signature_algorithm(
    scheme: SignatureScheme, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
) -> bytes:
    """
    The signatureAlgorithm cryptography writes into a certificate it signs
    with C{scheme}: an encoding of the same AlgorithmIdentifier made by
    other code than ours.
    """
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moon.iked.test")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
    )
    algorithm = scheme.hashAlgorithm
    rsaPadding = None
    if scheme.isPss:
        rsaPadding = padding.PSS(
            mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size
        )
    certificate = builder.sign(
        key,
        algorithm,  # type: ignore[arg-type]
        rsa_padding=rsaPadding,
    )
    der = certificate.public_bytes(Encoding.DER)
    _, body, _ = _tlv(der, 0)
    _, _, afterTbs = _tlv(body, 0)
    _, _, end = _tlv(body, afterTbs)
    return body[afterTbs:end]


class SignedOctetsTests(SynchronousTestCase):
    """
    L{signed_octets} and L{psk_auth_data}.
    """

    def test_strongswan(self) -> None:
        """
        The initiator signs request | Nr | prf(SK_pi, IDi'), the responder
        response | Ni | prf(SK_pr, IDr'), as in the strongSwan capture.
        """
        request = h(VECTOR["ike_sa_init_request"])
        response = h(VECTOR["ike_sa_init_response"])
        prf = prf_for(PrfId.HMAC_SHA2_256)
        nr = bytes(32)
        octets = signed_octets(
            request, nr, prf, h(VECTOR["SK_pi"]), h(VECTOR["IDi_prime"])
        )
        self.assertEqual(
            octets,
            request + nr + h(VECTOR["initiator_octets_tail_prf_SK_pi_IDi"]),
        )
        self.assertEqual(len(octets), 240 + 32 + 32)
        ni = b"\x01" * 32
        self.assertEqual(
            signed_octets(
                response, ni, prf, h(VECTOR["SK_pr"]), h(VECTOR["IDr_prime"])
            ),
            response + ni + h(VECTOR["responder_octets_tail_prf_SK_pr_IDr"]),
        )

    def test_psk(self) -> None:
        """
        prf(prf(secret, "Key Pad for IKEv2"), octets).
        """
        prf = prf_for(PrfId.HMAC_SHA2_384)
        padKey = hmac.digest(b"secret", b"Key Pad for IKEv2", "sha384")
        self.assertEqual(
            psk_auth_data(prf, b"secret", OCTETS),
            hmac.digest(padKey, OCTETS, "sha384"),
        )


class SchemeTests(SynchronousTestCase):
    """
    L{SignatureScheme} and its AlgorithmIdentifiers.
    """

    rsaKey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ecKey = ec.generate_private_key(ec.SECP256R1())

    def test_names(self) -> None:
        """
        The members are those of the NSS wire's scheme codes, name for name,
        so the signing service can be asked by name.
        """
        self.assertEqual(
            [s.name for s in SignatureScheme], [c.name for c in SignatureSchemeCode]
        )

    def test_hashes(self) -> None:
        """
        Each scheme names its hash by class and by RFC 7427 number, and
        digests with it.
        """
        for scheme in SignatureScheme:
            suffix = scheme.name.rsplit("_", 1)[1]
            self.assertEqual(scheme.hashClass.name, suffix.lower())
            self.assertEqual(
                scheme.hashId,
                {
                    "SHA1": HashAlgorithmId.SHA1,
                    "SHA256": HashAlgorithmId.SHA2_256,
                    "SHA384": HashAlgorithmId.SHA2_384,
                    "SHA512": HashAlgorithmId.SHA2_512,
                }[suffix],
            )
            self.assertEqual(
                scheme.digest(OCTETS), hashlib.new(suffix.lower(), OCTETS).digest()
            )
            self.assertIsInstance(scheme.hashAlgorithm, scheme.hashClass)

    def test_strongswanBlobs(self) -> None:
        """
        The AlgorithmIdentifiers strongSwan was seen to send are ours to the
        octet.
        """
        for scheme, blob in STRONGSWAN_BLOBS.items():
            self.assertEqual(scheme.algorithmIdentifier, h(blob))

    def test_pkcs1Blobs(self) -> None:
        """
        sha1/384/512WithRSAEncryption differ from SHA-256's in the last OID
        octet only.
        """
        for scheme, last in [
            (SignatureScheme.RSA_PKCS1_SHA1, "05"),
            (SignatureScheme.RSA_PKCS1_SHA384, "0c"),
            (SignatureScheme.RSA_PKCS1_SHA512, "0d"),
        ]:
            self.assertEqual(
                scheme.algorithmIdentifier, h(f"300d06092a864886f70d0101{last}0500")
            )

    def test_likeCryptography(self) -> None:
        """
        Every SHA-2 scheme's blob is what cryptography encodes as a
        certificate's signatureAlgorithm for the same hash and padding.
        """
        for scheme in SignatureScheme:
            if scheme is SignatureScheme.RSA_PKCS1_SHA1:
                continue  # cryptography no longer signs with SHA-1
            key = self.rsaKey if scheme.keyType == "RSA" else self.ecKey
            self.assertEqual(
                scheme.algorithmIdentifier,
                _certificate_signature_algorithm(scheme, key),
                scheme.name,
            )

    def test_pssStructure(self) -> None:
        """
        Parsed independently, each PSS blob names RSASSA-PSS with the hash,
        MGF1 with the same hash, and a salt as long as the digest.
        """
        hashOids = {
            SignatureScheme.RSA_PSS_SHA256: "2.16.840.1.101.3.4.2.1",
            SignatureScheme.RSA_PSS_SHA384: "2.16.840.1.101.3.4.2.2",
            SignatureScheme.RSA_PSS_SHA512: "2.16.840.1.101.3.4.2.3",
        }
        for scheme, hashOid in hashOids.items():
            blob = scheme.algorithmIdentifier
            tag, body, end = _tlv(blob, 0)
            self.assertEqual((tag, end), (0x30, len(blob)))
            (_, oid), (_, params) = _children(body)
            self.assertEqual(_oid_text(oid), "1.2.840.113549.1.1.10")
            hashField, mgfField, saltField = _children(params)
            self.assertEqual(
                [hashField[0], mgfField[0], saltField[0]], [0xA0, 0xA1, 0xA2]
            )
            ((_, hashAlgorithm),) = _children(hashField[1])
            self.assertEqual(_oid_text(_children(hashAlgorithm)[0][1]), hashOid)
            ((_, mgf),) = _children(mgfField[1])
            mgfOid, mgfParams = _children(mgf)
            self.assertEqual(_oid_text(mgfOid[1]), "1.2.840.113549.1.1.8")
            self.assertEqual(_oid_text(_children(mgfParams[1])[0][1]), hashOid)
            ((_, salt),) = _children(saltField[1])
            self.assertEqual(
                int.from_bytes(salt, "big"), scheme.hashAlgorithm.digest_size
            )

    def test_parseOwn(self) -> None:
        """
        Every blob we send parses back to its scheme.
        """
        for scheme in SignatureScheme:
            self.assertIs(
                scheme_from_algorithm_identifier(scheme.algorithmIdentifier), scheme
            )

    def test_parseWithoutNull(self) -> None:
        """
        RSA PKCS#1 and PSS hash identifiers may leave out the NULL.
        """
        self.assertIs(
            scheme_from_algorithm_identifier(h("300b06092a864886f70d01010c")),
            SignatureScheme.RSA_PKCS1_SHA384,
        )
        blob = (
            "303d06092a864886f70d01010a3030a00d300b0609608648016503040203"
            "a11a301806092a864886f70d010108300b0609608648016503040203"
            "a203020140"
        )
        self.assertIs(
            scheme_from_algorithm_identifier(h(blob)), SignatureScheme.RSA_PSS_SHA512
        )

    def assertRefused(self, blob: bytes) -> None:
        error = self.assertRaises(IkeError, scheme_from_algorithm_identifier, blob)
        self.assertEqual(error.notify, NotifyType.AUTHENTICATION_FAILED)

    def test_refused(self) -> None:
        """
        Unknown algorithms (Ed25519, md5WithRSA, DSA), wrong parameters,
        PSS with the SHA-1 defaults, another salt or mixed hashes, and
        malformed DER all fail authentication.
        """
        pss256 = STRONGSWAN_BLOBS[SignatureScheme.RSA_PSS_SHA256]
        for blob in [
            "300506032b6570",
            "300d06092a864886f70d0101040500",
            "300906072a8648ce380403",
            "300c06082a8648ce3d0403020500",
            "300f06092a864886f70d01010b020100",
            "300f06092a864886f70d01010a3000",
            "300b06092a864886f70d01010a",
            pss256[:-2] + "40",
            pss256.replace("0402010500a11c", "0402020500a11c"),
            pss256 + "00",
            "",
            "30",
            "300d06092a864886f70d01010b05",
            "310d06092a864886f70d01010b0500",
            "300d04092a864886f70d01010b0500",
        ]:
            self.assertRefused(h(blob))


class SignatureTests(SynchronousTestCase):
    """
    Signing, encoding, decoding and verifying AUTH signatures.
    """

    rsaKey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256Key = ec.generate_private_key(ec.SECP256R1())
    p384Key = ec.generate_private_key(ec.SECP384R1())
    p521Key = ec.generate_private_key(ec.SECP521R1())

    def keysFor(
        self, scheme: SignatureScheme
    ) -> list[rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
        if scheme.keyType == "RSA":
            return [self.rsaKey]
        return [self.p256Key, self.p384Key]

    def assertAuthFailed(self, f: object, *args: object) -> None:
        error = self.assertRaises(IkeError, f, *args)
        self.assertEqual(error.notify, NotifyType.AUTHENTICATION_FAILED)

    def test_signVerify(self) -> None:
        """
        What L{sign_locally} signs, L{verify_signature} accepts, for each
        scheme and key.
        """
        for scheme in SignatureScheme:
            for key in self.keysFor(scheme):
                signature = sign_locally(key, scheme, OCTETS)
                verify_signature(key.public_key(), scheme, OCTETS, signature)

    def test_prehashedIsPlain(self) -> None:
        """
        A digest signed with Prehashed is an ordinary signature over the
        octets: cryptography's own verification of the message accepts it.
        """
        signature = sign_locally(self.rsaKey, SignatureScheme.RSA_PSS_SHA384, OCTETS)
        self.rsaKey.public_key().verify(
            signature,
            OCTETS,
            padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48),
            hashes.SHA384(),
        )
        signature = sign_locally(self.p384Key, SignatureScheme.ECDSA_SHA384, OCTETS)
        self.p384Key.public_key().verify(signature, OCTETS, ec.ECDSA(hashes.SHA384()))

    def test_badSignature(self) -> None:
        """
        A flipped bit, other octets or another scheme fail with
        AUTHENTICATION_FAILED.
        """
        for scheme in SignatureScheme:
            for key in self.keysFor(scheme):
                signature = sign_locally(key, scheme, OCTETS)
                flipped = bytearray(signature)
                flipped[-1] ^= 1
                publicKey = key.public_key()
                self.assertAuthFailed(
                    verify_signature, publicKey, scheme, OCTETS, bytes(flipped)
                )
                self.assertAuthFailed(
                    verify_signature, publicKey, scheme, OCTETS + b"!", signature
                )
        signature = sign_locally(self.rsaKey, SignatureScheme.RSA_PKCS1_SHA256, OCTETS)
        self.assertAuthFailed(
            verify_signature,
            self.rsaKey.public_key(),
            SignatureScheme.RSA_PSS_SHA256,
            OCTETS,
            signature,
        )

    def test_keyMismatch(self) -> None:
        """
        An RSA key never checks or makes an ECDSA signature, nor the
        reverse.
        """
        rsaSignature = sign_locally(
            self.rsaKey, SignatureScheme.RSA_PKCS1_SHA256, OCTETS
        )
        self.assertAuthFailed(
            verify_signature,
            self.p256Key.public_key(),
            SignatureScheme.RSA_PKCS1_SHA256,
            OCTETS,
            rsaSignature,
        )
        self.assertAuthFailed(
            verify_signature,
            self.rsaKey.public_key(),
            SignatureScheme.ECDSA_SHA256,
            OCTETS,
            rsaSignature,
        )
        self.assertAuthFailed(
            sign_locally, self.rsaKey, SignatureScheme.ECDSA_SHA256, OCTETS
        )
        self.assertAuthFailed(
            sign_locally, self.p256Key, SignatureScheme.RSA_PSS_SHA256, OCTETS
        )

    def test_rfc7427RoundTrip(self) -> None:
        """
        Method 14 data is len(AlgId) | AlgId | signature, and decodes back to
        the scheme and a signature that verifies.
        """
        for scheme in SignatureScheme:
            for key in self.keysFor(scheme):
                signature = sign_locally(key, scheme, OCTETS)
                data = encode_signature_auth(
                    AuthMethod.DIGITAL_SIGNATURE, scheme, signature
                )
                algorithmIdentifier = scheme.algorithmIdentifier
                self.assertEqual(
                    data,
                    bytes([len(algorithmIdentifier)]) + algorithmIdentifier + signature,
                )
                publicKey = key.public_key()
                decoded = decode_signature_auth(
                    AuthMethod.DIGITAL_SIGNATURE, data, publicKey
                )
                self.assertEqual(decoded, (scheme, signature))
                verify_signature(publicKey, *decoded[:1], OCTETS, decoded[1])

    def test_rsaMethod1(self) -> None:
        """
        Method 1 is the bare PKCS#1 SHA-1 signature.
        """
        scheme = SignatureScheme.RSA_PKCS1_SHA1
        signature = sign_locally(self.rsaKey, scheme, OCTETS)
        data = encode_signature_auth(AuthMethod.RSA_SIGNATURE, scheme, signature)
        self.assertEqual(data, signature)
        self.assertEqual(
            decode_signature_auth(1, data, self.rsaKey.public_key()),
            (scheme, signature),
        )
        self.assertRaises(
            ValueError,
            encode_signature_auth,
            AuthMethod.RSA_SIGNATURE,
            SignatureScheme.RSA_PKCS1_SHA256,
            signature,
        )
        self.assertAuthFailed(decode_signature_auth, 1, data, self.p256Key.public_key())

    def test_rfc4754(self) -> None:
        """
        Methods 9, 10 and 11 carry r | s at 32, 48 and 66 octets each; the
        decoded DER signature verifies.
        """
        for method, key, scheme, size in [
            (9, self.p256Key, SignatureScheme.ECDSA_SHA256, 32),
            (10, self.p384Key, SignatureScheme.ECDSA_SHA384, 48),
            (11, self.p521Key, SignatureScheme.ECDSA_SHA512, 66),
        ]:
            signature = sign_locally(key, scheme, OCTETS)
            data = encode_signature_auth(AuthMethod(method), scheme, signature)
            r, s = decode_dss_signature(signature)
            self.assertEqual(data, r.to_bytes(size, "big") + s.to_bytes(size, "big"))
            publicKey = key.public_key()
            decodedScheme, der = decode_signature_auth(method, data, publicKey)
            self.assertIs(decodedScheme, scheme)
            self.assertEqual(decode_dss_signature(der), (r, s))
            verify_signature(publicKey, decodedScheme, OCTETS, der)

    def test_rfc4754Refusals(self) -> None:
        """
        A method whose curve is not the key's, r | s of the wrong length, or
        a scheme the method does not fix are refused.
        """
        signature = sign_locally(self.p256Key, SignatureScheme.ECDSA_SHA256, OCTETS)
        data = encode_signature_auth(
            AuthMethod.ECDSA_SHA256_P256, SignatureScheme.ECDSA_SHA256, signature
        )
        self.assertAuthFailed(
            decode_signature_auth, 10, data, self.p384Key.public_key()
        )
        self.assertAuthFailed(
            decode_signature_auth, 9, data[:-1], self.p256Key.public_key()
        )
        self.assertAuthFailed(decode_signature_auth, 9, data, self.rsaKey.public_key())
        self.assertRaises(
            ValueError,
            encode_signature_auth,
            AuthMethod.ECDSA_SHA256_P256,
            SignatureScheme.ECDSA_SHA384,
            signature,
        )

    def test_decodeRefusals(self) -> None:
        """
        Method 14 data that is truncated, names an unknown algorithm or a
        scheme of another key type, has no signature, or a method that is
        not a signature, fail authentication.
        """
        publicKey = self.rsaKey.public_key()
        good = encode_signature_auth(
            AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA256, b"sig"
        )
        for data in [
            b"",
            good[:10],
            b"\x07300506032b6570" + b"sig",
            good[: 1 + good[0]],
        ]:
            self.assertAuthFailed(decode_signature_auth, 14, data, publicKey)
        self.assertAuthFailed(
            decode_signature_auth, 14, good, self.p256Key.public_key()
        )
        for method in (2, 13, 99):
            self.assertAuthFailed(decode_signature_auth, method, good, publicKey)
        self.assertRaises(
            ValueError,
            encode_signature_auth,
            AuthMethod.SHARED_KEY,
            SignatureScheme.RSA_PKCS1_SHA256,
            b"sig",
        )


class ChooseSignatureTests(SynchronousTestCase):
    """
    L{choose_signature}, which follows strongSwan's choice.
    """

    rsa2048 = _rsa_public(2048)
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    p521 = ec.generate_private_key(ec.SECP521R1()).public_key()
    offer = frozenset(SIGNATURE_HASH_ALGORITHMS_OFFER)

    def test_rsaWithNotify(self) -> None:
        """
        A peer that sent SIGNATURE_HASH_ALGORITHMS gets method 14 with
        PKCS#1 v1.5 SHA-256 for a 2048-bit key.
        """
        self.assertEqual(
            choose_signature(self.rsa2048, self.offer),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA256),
        )
        self.assertEqual(
            choose_signature(self.rsa2048, frozenset({2, 3, 4, 5})),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA256),
        )

    def test_rsaOnlyListedHashes(self) -> None:
        """
        Only a hash the peer listed: {3} gives SHA-384, {4} SHA-512.
        """
        self.assertEqual(
            choose_signature(self.rsa2048, frozenset({3})),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA384),
        )
        self.assertEqual(
            choose_signature(self.rsa2048, frozenset({4})),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA512),
        )

    def test_rsaWithoutNotify(self) -> None:
        """
        Without the notify: method 1, RSA with SHA-1; PSS preference does
        not apply.
        """
        for preferPss in (False, True):
            self.assertEqual(
                choose_signature(self.rsa2048, None, preferPss),
                (AuthMethod.RSA_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA1),
            )

    def test_rsaNoUsableHash(self) -> None:
        """
        A notify listing no SHA-2 hash (only SHA-1 or Identity) leaves the
        RFC 7296 method.
        """
        for hashes_ in (frozenset({1}), frozenset({5}), frozenset()):
            self.assertEqual(
                choose_signature(self.rsa2048, hashes_),
                (AuthMethod.RSA_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA1),
            )

    def test_rsaKeySizes(self) -> None:
        """
        SHA-256 up to 3072 bits, SHA-384 up to 7680 (RSA-4096 among them),
        SHA-512 beyond; falling back to a stronger listed hash first.
        """
        for bits, scheme in [
            (3072, SignatureScheme.RSA_PKCS1_SHA256),
            (3073, SignatureScheme.RSA_PKCS1_SHA384),
            (4096, SignatureScheme.RSA_PKCS1_SHA384),
            (7680, SignatureScheme.RSA_PKCS1_SHA384),
            (7681, SignatureScheme.RSA_PKCS1_SHA512),
        ]:
            self.assertEqual(
                choose_signature(_rsa_public(bits), self.offer),
                (AuthMethod.DIGITAL_SIGNATURE, scheme),
            )
        self.assertEqual(
            choose_signature(_rsa_public(4096), frozenset({2, 4})),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA512),
        )
        self.assertEqual(
            choose_signature(_rsa_public(4096), frozenset({2})),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA256),
        )

    def test_pss(self) -> None:
        """
        With C{preferPss}, RSA-PSS with the same hash choice.
        """
        self.assertEqual(
            choose_signature(self.rsa2048, self.offer, preferPss=True),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PSS_SHA256),
        )
        self.assertEqual(
            choose_signature(_rsa_public(4096), self.offer, preferPss=True),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.RSA_PSS_SHA384),
        )

    def test_ecdsa(self) -> None:
        """
        ECDSA uses the curve's hash: method 14 with the notify, RFC 4754's
        method 9/10/11 without.
        """
        for key, method, scheme in [
            (self.p256, 9, SignatureScheme.ECDSA_SHA256),
            (self.p384, 10, SignatureScheme.ECDSA_SHA384),
            (self.p521, 11, SignatureScheme.ECDSA_SHA512),
        ]:
            self.assertEqual(
                choose_signature(key, self.offer),
                (AuthMethod.DIGITAL_SIGNATURE, scheme),
            )
            self.assertEqual(choose_signature(key, None), (AuthMethod(method), scheme))
            self.assertEqual(
                choose_signature(key, frozenset({1})), (AuthMethod(method), scheme)
            )
        self.assertEqual(
            choose_signature(self.p256, frozenset({3})),
            (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.ECDSA_SHA384),
        )

    def test_privateKeys(self) -> None:
        """
        A private key answers the same as its public key.
        """
        key = ec.generate_private_key(ec.SECP384R1())
        self.assertEqual(
            choose_signature(key, self.offer),
            choose_signature(key.public_key(), self.offer),
        )

    def test_nothingFits(self) -> None:
        """
        Keys we cannot sign AUTH with fail authentication.
        """
        for key in [
            ec.generate_private_key(ec.SECP256K1()).public_key(),
            ed25519.Ed25519PrivateKey.generate().public_key(),
        ]:
            for peerHashes in (self.offer, None):
                error = self.assertRaises(IkeError, choose_signature, key, peerHashes)
                self.assertEqual(error.notify, NotifyType.AUTHENTICATION_FAILED)


class HashAlgorithmsNotifyTests(SynchronousTestCase):
    """
    The N(SIGNATURE_HASH_ALGORITHMS) data.
    """

    def test_offer(self) -> None:
        """
        We offer SHA2-256, 384 and 512.
        """
        self.assertEqual(SIGNATURE_HASH_ALGORITHMS_OFFER, (2, 3, 4))
        self.assertEqual(
            encode_hash_algorithms(SIGNATURE_HASH_ALGORITHMS_OFFER), h("000200030004")
        )

    def test_decodeStrongswan(self) -> None:
        """
        strongSwan's notify lists 2, 3, 4 and 5.
        """
        self.assertEqual(
            decode_hash_algorithms(h("0002000300040005")), frozenset({2, 3, 4, 5})
        )
        self.assertEqual(decode_hash_algorithms(b""), frozenset())
        self.assertEqual(decode_hash_algorithms(h("0002ff00")), frozenset({2, 0xFF00}))

    def test_oddLength(self) -> None:
        """
        Odd-length data is malformed.
        """
        self.assertRaises(IkeDecodeError, decode_hash_algorithms, h("000200"))
