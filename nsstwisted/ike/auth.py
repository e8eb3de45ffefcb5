"""
The AUTH payload (RFC 7296 sections 2.15 and 3.8): the octets each side
signs, shared-key authentication, and the signature encodings of RFC 7296
(method 1, RSA with SHA-1), RFC 4754 (methods 9-11, ECDSA with a fixed
curve and hash) and RFC 7427 (method 14, the signature algorithm named by
an ASN.1 AlgorithmIdentifier).

Signing itself happens elsewhere, usually on the NSS server, which gets
only a digest: L{SignatureScheme.digest} is what iked sends, and
L{sign_locally} does the same Prehashed signing for a local key ring.
Verifying a peer's AUTH is always local, with the key of its certificate.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from nsstwisted.ike.constants import AuthMethod, HashAlgorithmId, NotifyType
from nsstwisted.ike.crypto import Prf
from nsstwisted.ike.errors import IkeDecodeError, IkeError

__all__ = [
    "SIGNATURE_HASH_ALGORITHMS_OFFER",
    "SignatureScheme",
    "choose_signature",
    "decode_hash_algorithms",
    "decode_signature_auth",
    "encode_hash_algorithms",
    "encode_signature_auth",
    "psk_auth_data",
    "scheme_from_algorithm_identifier",
    "sign_locally",
    "signed_octets",
    "verify_signature",
]

SIGNATURE_HASH_ALGORITHMS_OFFER: tuple[int, ...] = (
    HashAlgorithmId.SHA2_256,
    HashAlgorithmId.SHA2_384,
    HashAlgorithmId.SHA2_512,
)
"""
What our N(SIGNATURE_HASH_ALGORITHMS) lists: the hashes we can verify
under method 14.  SHA-1 is left out, as strongSwan leaves it out, so that
no peer picks it for RFC 7427; Identity (5) waits for Ed25519.
"""

_PSK_PAD = b"Key Pad for IKEv2"


def signed_octets(
    realMessage: bytes, peerNonce: bytes, prf: Prf, skP: bytes, idBody: bytes
) -> bytes:
    """
    The octets an AUTH payload proves (RFC 7296 section 2.15):
    RealMessage | NonceData of the peer | prf(SK_p, ID').

    They bind the signature to this IKE_SA_INIT exchange and, through
    SK_pi or SK_pr, to this Diffie-Hellman secret and our identity.

    @param realMessage: our IKE_SA_INIT message as sent, from the IKE
        header on (no non-ESP marker).
    @param peerNonce: the body of the peer's nonce payload.
    @param skP: SK_pi for the initiator's AUTH, SK_pr for the responder's.
    @param idBody: the ID payload body (type, reserved, data) without its
        generic header.
    """
    return realMessage + peerNonce + prf(skP, idBody)


def psk_auth_data(prf: Prf, sharedKey: bytes, octets: bytes) -> bytes:
    """
    The AUTH data for shared-key authentication (method 2):
    prf(prf(Shared Secret, "Key Pad for IKEv2"), octets).  The inner PRF
    turns a secret of any length into a PRF key.
    """
    return prf(prf(sharedKey, _PSK_PAD), octets)


# -- DER, the little of it AlgorithmIdentifiers need --------------------------


def _der(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return bytes([tag, length]) + value
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + value


def _oid(value: str) -> bytes:
    """The DER content octets of a dotted OID."""
    arcs = [int(arc) for arc in value.split(".")]
    numbers = [40 * arcs[0] + arcs[1], *arcs[2:]]
    out = bytearray()
    for number in numbers:
        chunk = [number & 0x7F]
        number >>= 7
        while number:
            chunk.append(0x80 | (number & 0x7F))
            number >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


_NULL = b"\x05\x00"


def _algorithm_identifier(oid: bytes, parameters: bytes | None = None) -> bytes:
    return _der(0x30, _der(0x06, oid) + (parameters or b""))


def _integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


_SHA1_OID = _oid("1.3.14.3.2.26")
_RSA_PSS_OID = _oid("1.2.840.113549.1.1.10")
_MGF1_OID = _oid("1.2.840.113549.1.1.8")

_HASH_OIDS: dict[HashAlgorithmId, bytes] = {
    HashAlgorithmId.SHA2_256: _oid("2.16.840.1.101.3.4.2.1"),
    HashAlgorithmId.SHA2_384: _oid("2.16.840.1.101.3.4.2.2"),
    HashAlgorithmId.SHA2_512: _oid("2.16.840.1.101.3.4.2.3"),
}
_RSA_PKCS1_OIDS: dict[HashAlgorithmId, bytes] = {
    HashAlgorithmId.SHA1: _oid("1.2.840.113549.1.1.5"),
    HashAlgorithmId.SHA2_256: _oid("1.2.840.113549.1.1.11"),
    HashAlgorithmId.SHA2_384: _oid("1.2.840.113549.1.1.12"),
    HashAlgorithmId.SHA2_512: _oid("1.2.840.113549.1.1.13"),
}
_ECDSA_OIDS: dict[HashAlgorithmId, bytes] = {
    HashAlgorithmId.SHA2_256: _oid("1.2.840.10045.4.3.2"),
    HashAlgorithmId.SHA2_384: _oid("1.2.840.10045.4.3.3"),
    HashAlgorithmId.SHA2_512: _oid("1.2.840.10045.4.3.4"),
}


def _pss_parameters(hashId: HashAlgorithmId, saltLength: int) -> bytes:
    """
    RSASSA-PSS-params (RFC 4055 section 3.1) as strongSwan sends them: the
    hash and MGF1 hash with NULL parameters, the salt length, and the
    default trailer field left out.
    """
    hashAlgorithm = _algorithm_identifier(_HASH_OIDS[hashId], _NULL)
    return _der(
        0x30,
        _der(0xA0, hashAlgorithm)
        + _der(0xA1, _algorithm_identifier(_MGF1_OID, hashAlgorithm))
        + _der(0xA2, _integer(saltLength)),
    )


# -- signature schemes -------------------------------------------------------


@dataclass(frozen=True)
class _Scheme:
    keyType: str
    pss: bool
    hashId: HashAlgorithmId
    hashClass: type[hashes.HashAlgorithm]


class SignatureScheme(enum.Enum):
    """
    A signature algorithm with key type, padding and hash fixed: what an
    RFC 7427 AlgorithmIdentifier names, and what the NSS signing service
    is asked for (the names match
    L{nsstwisted.wire.nss.SignatureSchemeCode}).

    RSA-PSS uses MGF1 with the message hash and a salt as long as the
    digest (RFC 8247), the only PSS form peers send in practice.
    """

    RSA_PKCS1_SHA1 = _Scheme("RSA", False, HashAlgorithmId.SHA1, hashes.SHA1)
    RSA_PKCS1_SHA256 = _Scheme("RSA", False, HashAlgorithmId.SHA2_256, hashes.SHA256)
    RSA_PKCS1_SHA384 = _Scheme("RSA", False, HashAlgorithmId.SHA2_384, hashes.SHA384)
    RSA_PKCS1_SHA512 = _Scheme("RSA", False, HashAlgorithmId.SHA2_512, hashes.SHA512)
    RSA_PSS_SHA256 = _Scheme("RSA", True, HashAlgorithmId.SHA2_256, hashes.SHA256)
    RSA_PSS_SHA384 = _Scheme("RSA", True, HashAlgorithmId.SHA2_384, hashes.SHA384)
    RSA_PSS_SHA512 = _Scheme("RSA", True, HashAlgorithmId.SHA2_512, hashes.SHA512)
    ECDSA_SHA256 = _Scheme("EC", False, HashAlgorithmId.SHA2_256, hashes.SHA256)
    ECDSA_SHA384 = _Scheme("EC", False, HashAlgorithmId.SHA2_384, hashes.SHA384)
    ECDSA_SHA512 = _Scheme("EC", False, HashAlgorithmId.SHA2_512, hashes.SHA512)

    @property
    def keyType(self) -> str:
        """C{"RSA"} or C{"EC"}: the key the scheme signs with."""
        return self.value.keyType

    @property
    def isPss(self) -> bool:
        return self.value.pss

    @property
    def hashId(self) -> HashAlgorithmId:
        """The hash as N(SIGNATURE_HASH_ALGORITHMS) numbers it."""
        return self.value.hashId

    @property
    def hashClass(self) -> type[hashes.HashAlgorithm]:
        return self.value.hashClass

    @property
    def hashAlgorithm(self) -> hashes.HashAlgorithm:
        """A fresh instance of the hash, for cryptography's sign/verify."""
        return self.value.hashClass()

    @property
    def algorithmIdentifier(self) -> bytes:
        """The DER AlgorithmIdentifier that names the scheme in method 14."""
        return _ALGORITHM_IDENTIFIERS[self]

    def digest(self, octets: bytes) -> bytes:
        """
        The hash of the signed octets: all a remote signer needs, since
        SK_p (and so the octets) must never leave iked.
        """
        return hashlib.new(self.hashAlgorithm.name, octets).digest()

    def _padding(self) -> padding.AsymmetricPadding:
        if self.isPss:
            algorithm = self.hashAlgorithm
            return padding.PSS(
                mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size
            )
        return padding.PKCS1v15()


def _build_algorithm_identifiers() -> dict[SignatureScheme, bytes]:
    blobs: dict[SignatureScheme, bytes] = {}
    for scheme in SignatureScheme:
        if scheme.keyType == "EC":
            # RFC 5758 section 3.2: ECDSA identifiers carry no parameters.
            blobs[scheme] = _algorithm_identifier(_ECDSA_OIDS[scheme.hashId])
        elif scheme.isPss:
            saltLength = scheme.hashAlgorithm.digest_size
            blobs[scheme] = _algorithm_identifier(
                _RSA_PSS_OID, _pss_parameters(scheme.hashId, saltLength)
            )
        else:
            # RFC 4055 section 5: NULL parameters, which strongSwan sends.
            blobs[scheme] = _algorithm_identifier(_RSA_PKCS1_OIDS[scheme.hashId], _NULL)
    return blobs


_ALGORITHM_IDENTIFIERS = _build_algorithm_identifiers()


def _auth_failed(message: str) -> IkeError:
    return IkeError(message, notify=NotifyType.AUTHENTICATION_FAILED)


def _read_tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """
    One DER TLV at C{offset}: (tag, value, offset after it).  Only what an
    AlgorithmIdentifier uses: single-octet tags, lengths up to 64 KiB.
    """
    if offset + 2 > len(data):
        raise _auth_failed("truncated AlgorithmIdentifier")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count not in (1, 2) or offset + count > len(data):
            raise _auth_failed("bad DER length in AlgorithmIdentifier")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    end = offset + length
    if end > len(data):
        raise _auth_failed("truncated AlgorithmIdentifier")
    return tag, data[offset:end], end


def _parse_algorithm_identifier(blob: bytes) -> tuple[bytes, bytes | None]:
    """
    The OID content and the whole parameters TLV (L{None} when absent) of
    a DER AlgorithmIdentifier that is exactly C{blob}.
    """
    tag, body, end = _read_tlv(blob, 0)
    if tag != 0x30 or end != len(blob):
        raise _auth_failed("AlgorithmIdentifier is not one SEQUENCE")
    tag, oid, offset = _read_tlv(body, 0)
    if tag != 0x06:
        raise _auth_failed("AlgorithmIdentifier without an OID")
    if offset == len(body):
        return oid, None
    _, _, end = _read_tlv(body, offset)
    if end != len(body):
        raise _auth_failed("trailing data in AlgorithmIdentifier")
    return oid, body[offset:]


def _lookup(table: dict[HashAlgorithmId, bytes], oid: bytes) -> HashAlgorithmId | None:
    for hashId, candidate in table.items():
        if candidate == oid:
            return hashId
    return None


def _pss_hash(parameters: bytes | None) -> HashAlgorithmId:
    """
    The hash of RSASSA-PSS-params that fit one of our PSS schemes: a SHA-2
    hash, MGF1 with the same hash, salt as long as the digest, trailer 1.
    The RFC 4055 defaults (SHA-1, salt 20) are no such scheme.
    """
    if parameters is None:
        raise _auth_failed("RSASSA-PSS without parameters")
    tag, body, _ = _read_tlv(parameters, 0)
    if tag != 0x30:
        raise _auth_failed("RSASSA-PSS parameters are not a SEQUENCE")
    hashOid, mgfHashOid = _SHA1_OID, _SHA1_OID
    saltLength, trailer = 20, 1
    offset, lastTag = 0, 0
    while offset < len(body):
        tag, value, offset = _read_tlv(body, offset)
        if tag <= lastTag:
            raise _auth_failed("RSASSA-PSS parameters out of order")
        lastTag = tag
        if tag == 0xA0:
            hashOid = _hash_oid(value)
        elif tag == 0xA1:
            mgfOid, mgfParameters = _parse_algorithm_identifier(value)
            if mgfOid != _MGF1_OID or mgfParameters is None:
                raise _auth_failed("RSASSA-PSS with a mask generation other than MGF1")
            mgfHashOid = _hash_oid(mgfParameters)
        elif tag in (0xA2, 0xA3):
            innerTag, number, end = _read_tlv(value, 0)
            if innerTag != 0x02 or end != len(value) or not number:
                raise _auth_failed("bad INTEGER in RSASSA-PSS parameters")
            if tag == 0xA2:
                saltLength = int.from_bytes(number, "big", signed=True)
            else:
                trailer = int.from_bytes(number, "big", signed=True)
        else:
            raise _auth_failed("unknown field in RSASSA-PSS parameters")
    hashId = _lookup(_HASH_OIDS, hashOid)
    if hashId is None or mgfHashOid != hashOid or trailer != 1:
        raise _auth_failed("RSASSA-PSS with an unsupported hash or MGF")
    scheme = _SCHEMES_BY_KIND[("PSS", hashId)]
    if saltLength != scheme.hashAlgorithm.digest_size:
        raise _auth_failed(f"RSASSA-PSS with a salt of {saltLength} octets")
    return hashId


def _hash_oid(blob: bytes) -> bytes:
    """A hash AlgorithmIdentifier's OID; its parameters are NULL or absent."""
    oid, parameters = _parse_algorithm_identifier(blob)
    if parameters not in (None, _NULL):
        raise _auth_failed("hash AlgorithmIdentifier with parameters")
    return oid


_SCHEMES_BY_KIND: dict[tuple[str, HashAlgorithmId], SignatureScheme] = {
    (
        "PSS" if scheme.isPss else scheme.keyType,
        scheme.hashId,
    ): scheme
    for scheme in SignatureScheme
}


def scheme_from_algorithm_identifier(blob: bytes) -> SignatureScheme:
    """
    The scheme a peer's method 14 AUTH names.

    Accepted: sha1/256/384/512WithRSAEncryption with NULL or absent
    parameters (RFC 4055 allows both), ecdsa-with-SHA256/384/512 without
    parameters, and RSASSA-PSS with a SHA-2 hash, MGF1 of the same hash
    and a salt as long as the digest.

    @raise IkeError: (AUTHENTICATION_FAILED) for anything else, malformed
        DER included: an AUTH we cannot check is an AUTH that fails.
    """
    oid, parameters = _parse_algorithm_identifier(blob)
    hashId = _lookup(_RSA_PKCS1_OIDS, oid)
    if hashId is not None:
        if parameters not in (None, _NULL):
            raise _auth_failed("RSA PKCS#1 AlgorithmIdentifier with parameters")
        return _SCHEMES_BY_KIND[("RSA", hashId)]
    hashId = _lookup(_ECDSA_OIDS, oid)
    if hashId is not None:
        if parameters is not None:
            raise _auth_failed("ECDSA AlgorithmIdentifier with parameters")
        return _SCHEMES_BY_KIND[("EC", hashId)]
    if oid == _RSA_PSS_OID:
        return _SCHEMES_BY_KIND[("PSS", _pss_hash(parameters))]
    raise _auth_failed(f"unsupported signature algorithm {blob.hex()}")


# -- AUTH payload data -------------------------------------------------------

_ECDSA_METHODS: dict[AuthMethod, tuple[str, int, SignatureScheme]] = {
    AuthMethod.ECDSA_SHA256_P256: ("secp256r1", 32, SignatureScheme.ECDSA_SHA256),
    AuthMethod.ECDSA_SHA384_P384: ("secp384r1", 48, SignatureScheme.ECDSA_SHA384),
    AuthMethod.ECDSA_SHA512_P521: ("secp521r1", 66, SignatureScheme.ECDSA_SHA512),
}
"""RFC 4754: each method fixes the curve, the size of r and s, and the hash."""

_ECDSA_METHOD_BY_CURVE = {
    curveName: method for method, (curveName, _, _) in _ECDSA_METHODS.items()
}


def encode_signature_auth(
    method: AuthMethod, scheme: SignatureScheme, signature: bytes
) -> bytes:
    """
    The AUTH payload's Authentication Data for a signature as a signer
    returns it (PKCS#1 octets, or DER for ECDSA).

    Method 14 puts the AlgorithmIdentifier, with its one-octet length, in
    front; method 1 is the bare signature; methods 9-11 want ECDSA's r and
    s as fixed-size integers rather than DER.

    @raise ValueError: for a scheme the method cannot carry, or a method
        that is not a signature; that is our mistake, not the peer's.
    """
    if method == AuthMethod.DIGITAL_SIGNATURE:
        algorithmIdentifier = scheme.algorithmIdentifier
        return bytes([len(algorithmIdentifier)]) + algorithmIdentifier + signature
    if method == AuthMethod.RSA_SIGNATURE:
        if scheme is not SignatureScheme.RSA_PKCS1_SHA1:
            raise ValueError(f"auth method 1 signs with RSA SHA-1, not {scheme.name}")
        return signature
    if method in _ECDSA_METHODS:
        _, size, expected = _ECDSA_METHODS[method]
        if scheme is not expected:
            raise ValueError(f"auth method {method} needs {expected.name}")
        r, s = decode_dss_signature(signature)
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise ValueError(f"auth method {method} is not a signature method")


def _key_kind(key: PublicKeyTypes | PrivateKeyTypes) -> str | None:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return "EC"
    return None


def decode_signature_auth(
    method: int, data: bytes, publicKey: PublicKeyTypes
) -> tuple[SignatureScheme, bytes]:
    """
    A peer's Authentication Data as (scheme, signature), the signature in
    the form cryptography verifies (DER for ECDSA).

    @param publicKey: the key of the peer's certificate, which has to be
        of the kind the method or AlgorithmIdentifier names.
    @raise IkeError: (AUTHENTICATION_FAILED) for an unknown method or
        algorithm, malformed data, or a key that does not fit.
    """
    kind = _key_kind(publicKey)
    if method == AuthMethod.DIGITAL_SIGNATURE:
        if not data or len(data) < 1 + data[0]:
            raise _auth_failed("truncated RFC 7427 authentication data")
        length = data[0]
        scheme = scheme_from_algorithm_identifier(data[1 : 1 + length])
        signature = data[1 + length :]
        if scheme.keyType != kind:
            raise _auth_failed(f"{scheme.name} does not fit the peer's key")
    elif method == AuthMethod.RSA_SIGNATURE:
        if kind != "RSA":
            raise _auth_failed("RSA signature from a peer without an RSA key")
        scheme, signature = SignatureScheme.RSA_PKCS1_SHA1, data
    elif method in _ECDSA_METHODS:
        curveName, size, scheme = _ECDSA_METHODS[AuthMethod(method)]
        if (
            not isinstance(publicKey, ec.EllipticCurvePublicKey)
            or publicKey.curve.name != curveName
        ):
            raise _auth_failed(f"auth method {method} needs a {curveName} key")
        if len(data) != 2 * size:
            raise _auth_failed(f"auth method {method} signature of the wrong length")
        r = int.from_bytes(data[:size], "big")
        s = int.from_bytes(data[size:], "big")
        signature = encode_dss_signature(r, s)
    else:
        raise _auth_failed(f"auth method {method} is not a signature method")
    if not signature:
        raise _auth_failed("empty signature")
    return scheme, signature


def _hash_preference(preferred: HashAlgorithmId) -> list[HashAlgorithmId]:
    """
    The SHA-2 hashes to try: the preferred one, then stronger ones, then
    weaker ones, so a fallback never weakens the signature when it need
    not.
    """
    hashIds = sorted(_HASH_OIDS)
    stronger = [h for h in hashIds if h > preferred]
    weaker = [h for h in reversed(hashIds) if h < preferred]
    return [preferred, *stronger, *weaker]


def choose_signature(
    publicKey: PublicKeyTypes | PrivateKeyTypes,
    peerHashes: frozenset[int] | None,
    preferPss: bool = False,
) -> tuple[AuthMethod, SignatureScheme]:
    """
    How to sign our AUTH payload, the way strongSwan chooses.

    A peer that sent N(SIGNATURE_HASH_ALGORITHMS) gets method 14 with a
    hash it listed: for RSA PKCS#1 v1.5 (or PSS with C{preferPss}) SHA-256
    up to 3072-bit keys, SHA-384 up to 7680 bits, SHA-512 beyond; for
    ECDSA the curve's hash.  A peer that did not, or that listed none of
    the SHA-2 hashes, gets method 1 (RSA with SHA-1, all RFC 7296 knows)
    or the RFC 4754 method of the curve.

    @param publicKey: our certificate's key (a private key will do).
    @param peerHashes: the hash IDs of the peer's notify; L{None} if it
        sent none.
    @raise IkeError: (AUTHENTICATION_FAILED) for a key of another type or
        curve, which nothing here can sign for.
    """
    if isinstance(publicKey, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        bits = publicKey.key_size
        if bits <= 3072:
            preferred = HashAlgorithmId.SHA2_256
        elif bits <= 7680:
            preferred = HashAlgorithmId.SHA2_384
        else:
            preferred = HashAlgorithmId.SHA2_512
        kind = "PSS" if preferPss else "RSA"
        legacy = (AuthMethod.RSA_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA1)
    elif isinstance(publicKey, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        legacyMethod = _ECDSA_METHOD_BY_CURVE.get(publicKey.curve.name)
        if legacyMethod is None:
            raise _auth_failed(f"no signature method for curve {publicKey.curve.name}")
        scheme = _ECDSA_METHODS[legacyMethod][2]
        preferred = scheme.hashId
        kind = "EC"
        legacy = (legacyMethod, scheme)
    else:
        raise _auth_failed(f"no signature method for a {type(publicKey).__name__}")
    if peerHashes is not None:
        for hashId in _hash_preference(preferred):
            if hashId in peerHashes:
                return AuthMethod.DIGITAL_SIGNATURE, _SCHEMES_BY_KIND[(kind, hashId)]
    return legacy


def _check_key(key: PublicKeyTypes | PrivateKeyTypes, scheme: SignatureScheme) -> str:
    kind = _key_kind(key)
    if kind != scheme.keyType:
        raise _auth_failed(
            f"{scheme.name} needs an {scheme.keyType} key, not {type(key).__name__}"
        )
    return kind


def verify_signature(
    publicKey: PublicKeyTypes,
    scheme: SignatureScheme,
    octets: bytes,
    signature: bytes,
) -> None:
    """
    Check a peer's AUTH signature over the signed octets.

    @param signature: as L{decode_signature_auth} returns it (DER for
        ECDSA).
    @raise IkeError: (AUTHENTICATION_FAILED) if it does not verify, or the
        scheme does not fit the key (an RSA key never checks an ECDSA
        scheme, nor the reverse).
    """
    _check_key(publicKey, scheme)
    try:
        if isinstance(publicKey, rsa.RSAPublicKey):
            publicKey.verify(signature, octets, scheme._padding(), scheme.hashAlgorithm)
        elif isinstance(publicKey, ec.EllipticCurvePublicKey):
            publicKey.verify(signature, octets, ec.ECDSA(scheme.hashAlgorithm))
    except (InvalidSignature, ValueError) as e:
        raise _auth_failed(f"{scheme.name} signature does not verify") from e


def sign_locally(
    privateKey: PrivateKeyTypes, scheme: SignatureScheme, octets: bytes
) -> bytes:
    """
    Sign the octets with a key held in-process, the way the NSS server
    signs: over the digest, with Prehashed, so both paths are the same
    computation.

    @return: the signature as cryptography makes it (DER for ECDSA), ready
        for L{encode_signature_auth}.
    @raise IkeError: (AUTHENTICATION_FAILED) if the scheme does not fit
        the key.
    """
    _check_key(privateKey, scheme)
    digest = scheme.digest(octets)
    prehashed = Prehashed(scheme.hashAlgorithm)
    if isinstance(privateKey, rsa.RSAPrivateKey):
        return privateKey.sign(digest, scheme._padding(), prehashed)
    assert isinstance(privateKey, ec.EllipticCurvePrivateKey)
    return privateKey.sign(digest, ec.ECDSA(prehashed))


# -- N(SIGNATURE_HASH_ALGORITHMS) --------------------------------------------


def encode_hash_algorithms(ids: Iterable[int]) -> bytes:
    """The notification data: a 2-octet ID per hash (RFC 7427 section 4)."""
    return b"".join(struct.pack("!H", hashId) for hashId in ids)


def decode_hash_algorithms(data: bytes) -> frozenset[int]:
    """
    The hash IDs a peer announced, unknown ones kept so that a set check
    against ours is all a caller needs.

    @raise IkeDecodeError: for an odd length.
    """
    if len(data) % 2:
        raise IkeDecodeError(
            f"SIGNATURE_HASH_ALGORITHMS data of odd length {len(data)}"
        )
    return frozenset(hashId for (hashId,) in struct.iter_unpack("!H", data))
