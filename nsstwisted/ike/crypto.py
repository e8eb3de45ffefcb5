"""
The cryptographic primitives of IKEv2 (RFC 7296) as nsstwisted negotiates
them: the PRFs and prf+, the Diffie-Hellman groups, the integrity and
encryption transforms, and the SK payload protection built from them.

Everything here works on bytes and keeps no clock or socket, so that the
SA state machines can call it directly and the tests can drive it with
published vectors.  The algorithms are looked up by their IANA numbers
(L{PrfId}, L{DhGroupId}, L{IntegId}, L{EncrId}); a number nsstwisted does
not implement raises L{UnsupportedAlgorithm}, which an engine turns into
NO_PROPOSAL_CHOSEN rather than a crash.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import hmac
import ipaddress
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import dh, ec, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.utils import CryptographyDeprecationWarning

from nsstwisted.ike.constants import (
    DhGroupId,
    EncrId,
    IntegId,
    NotifyType,
    PrfId,
)
from nsstwisted.ike.errors import IkeError, IntegrityError, UnsupportedAlgorithm

__all__ = [
    "CbcHmacProtector",
    "DhGroup",
    "DhPrivateKey",
    "Encryption",
    "GcmProtector",
    "Integrity",
    "Prf",
    "SkProtector",
    "dh_group",
    "encryption_for",
    "integrity_for",
    "nat_detection_hash",
    "prf_for",
    "random_child_spi",
    "random_spi",
    "sk_protector",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


# -- PRF ---------------------------------------------------------------------


@dataclass(frozen=True)
class Prf:
    """
    A negotiated pseudo-random function: HMAC with one of the SHA hashes.

    For the HMAC PRFs the preferred key size is the output size (RFC 7296
    section 2.13), which is why SK_d, SK_pi and SK_pr are that long.

    @ivar prfId: the IANA transform ID.
    @ivar keySize: the preferred key length in octets (20/32/48/64).
    @ivar outputSize: the length of one PRF block in octets.
    @ivar hashName: the L{hashlib} name, so the stdlib's C HMAC does the work.
    """

    prfId: PrfId
    keySize: int
    outputSize: int
    hashName: str

    def __call__(self, key: bytes, data: bytes) -> bytes:
        return hmac.digest(key, data, self.hashName)

    def plus(self, key: bytes, seed: bytes, length: int) -> bytes:
        """
        prf+ (RFC 7296 section 2.13): the keying-material stream that every
        IKE and CHILD_SA key is cut from.

        @param length: how many octets to produce.
        @raise ValueError: past 255 blocks, since the block counter is one
            octet and wrapping it would repeat key material.
        """
        blocks = -(-length // self.outputSize)
        if blocks > 255:
            raise ValueError(
                f"prf+ yields at most {255 * self.outputSize} octets, not {length}"
            )
        output = bytearray()
        previous = b""
        for counter in range(1, blocks + 1):
            previous = self(key, previous + seed + bytes([counter]))
            output += previous
        return bytes(output[:length])


_PRFS: dict[int, Prf] = {
    PrfId.HMAC_SHA1: Prf(PrfId.HMAC_SHA1, 20, 20, "sha1"),
    PrfId.HMAC_SHA2_256: Prf(PrfId.HMAC_SHA2_256, 32, 32, "sha256"),
    PrfId.HMAC_SHA2_384: Prf(PrfId.HMAC_SHA2_384, 48, 48, "sha384"),
    PrfId.HMAC_SHA2_512: Prf(PrfId.HMAC_SHA2_512, 64, 64, "sha512"),
}


def prf_for(prfId: int) -> Prf:
    """
    The PRF for a transform ID.

    @raise UnsupportedAlgorithm: for AES-XCBC, AES-CMAC and anything else
        that is not HMAC-SHA1/SHA2.
    """
    try:
        return _PRFS[prfId]
    except KeyError:
        raise UnsupportedAlgorithm(f"PRF {prfId} is not supported") from None


# -- Diffie-Hellman ----------------------------------------------------------


def _invalid_ke(message: str) -> IkeError:
    return IkeError(message, notify=NotifyType.INVALID_SYNTAX)


class DhPrivateKey(abc.ABC):
    """
    One ephemeral key of a L{DhGroup}: what goes into our KE payload and
    what turns the peer's KE payload into g^ir.

    @ivar group: the group the key belongs to.
    """

    group: DhGroup

    @property
    @abc.abstractmethod
    def publicBytes(self) -> bytes:
        """
        The KE payload's data, already in the group's fixed-length form
        (RFC 7296 section 3.4, RFC 5903 section 7, RFC 8031 section 2).
        """

    @abc.abstractmethod
    def exchange(self, peerPublic: bytes) -> bytes:
        """
        g^ir for the peer's KE data, in the form the key derivation takes.

        @raise IkeError: (INVALID_SYNTAX) for a value of the wrong length,
            not in the group, or giving a degenerate secret; a peer that
            sends one is broken or hostile, and either way no keys may come
            from it.
        """


class DhGroup(abc.ABC):
    """
    A key exchange group as a KE payload names it.

    @ivar groupId: the IANA transform ID.
    @ivar publicLength: the exact length of KE data; anything else is
        refused before any arithmetic.
    """

    groupId: DhGroupId
    publicLength: int

    @abc.abstractmethod
    def generate(self) -> DhPrivateKey:
        """A fresh ephemeral key, for one exchange only."""

    @abc.abstractmethod
    def import_private(self, secret: bytes) -> DhPrivateKey:
        """
        A key from its private value, through cryptography's key import:
        for known-answer tests and for replaying a captured exchange, never
        for traffic (an IKE key is ephemeral).

        @param secret: the big-endian exponent (MODP) or scalar (ECP), or
            the 32 raw octets (X25519).
        """


# RFC 3526 section 3 and 4; the test derives both from pi to prove them.
_MODP_2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
_MODP_3072 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)


@contextlib.contextmanager
def _ffdh_quiet() -> Iterator[None]:
    """
    A context in which cryptography's finite-field DH does not warn.

    cryptography 50 marks FFDH deprecated; IKE still has to speak groups
    14 and 15 to peers that offer nothing else, and the warning would only
    repeat on every exchange without telling an operator anything.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


class _ModpPrivateKey(DhPrivateKey):
    group: _ModpGroup

    def __init__(self, group: _ModpGroup, key: dh.DHPrivateKey) -> None:
        self.group = group
        self._key = key
        with _ffdh_quiet():
            y = key.public_key().public_numbers().y
        self._public = y.to_bytes(group.publicLength, "big")

    @property
    def publicBytes(self) -> bytes:
        return self._public

    def exchange(self, peerPublic: bytes) -> bytes:
        group = self.group
        if len(peerPublic) != group.publicLength:
            raise _invalid_ke(
                f"group {group.groupId} KE data is {group.publicLength} "
                f"octets, not {len(peerPublic)}"
            )
        y = int.from_bytes(peerPublic, "big")
        # 0, 1 and p-1 (and anything >= p) pin the secret to a value the
        # peer knows without our exponent (RFC 6989 section 2.1).
        if not 1 < y < group.prime - 1:
            raise _invalid_ke(f"group {group.groupId} KE value out of range")
        with _ffdh_quiet():
            peer = dh.DHPublicNumbers(y, group.parameterNumbers).public_key()
            try:
                secret = self._key.exchange(peer)
            except ValueError as e:
                raise _invalid_ke(f"group {group.groupId} exchange: {e}") from e
        # cryptography pads already; RFC 7296 section 2.14 insists on it.
        secret = secret.rjust(group.publicLength, b"\x00")
        if not any(secret):
            raise _invalid_ke("all-zero Diffie-Hellman secret")
        return secret


class _ModpGroup(DhGroup):
    def __init__(self, groupId: DhGroupId, prime: int) -> None:
        self.groupId = groupId
        self.prime = prime
        self.publicLength = (prime.bit_length() + 7) // 8
        # The RFC 3526 primes are safe primes and 2 generates the subgroup
        # of order q = (p-1)/2; naming q lets OpenSSL pick a short exponent
        # of the group's strength instead of a full-length one.
        with _ffdh_quiet():
            self.parameterNumbers = dh.DHParameterNumbers(prime, 2, (prime - 1) // 2)
            self._parameters = self.parameterNumbers.parameters()

    def generate(self) -> DhPrivateKey:
        with _ffdh_quiet():
            key = self._parameters.generate_private_key()
        return _ModpPrivateKey(self, key)

    def import_private(self, secret: bytes) -> DhPrivateKey:
        x = int.from_bytes(secret, "big")
        with _ffdh_quiet():
            public = dh.DHPublicNumbers(pow(2, x, self.prime), self.parameterNumbers)
            key = dh.DHPrivateNumbers(x, public).private_key()
        return _ModpPrivateKey(self, key)


class _EcpPrivateKey(DhPrivateKey):
    group: _EcpGroup

    def __init__(self, group: _EcpGroup, key: ec.EllipticCurvePrivateKey) -> None:
        self.group = group
        self._key = key
        numbers = key.public_key().public_numbers()
        size = group.fieldSize
        self._public = numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big")

    @property
    def publicBytes(self) -> bytes:
        return self._public

    def exchange(self, peerPublic: bytes) -> bytes:
        group = self.group
        if len(peerPublic) != group.publicLength:
            raise _invalid_ke(
                f"group {group.groupId} KE data is {group.publicLength} "
                f"octets, not {len(peerPublic)}"
            )
        try:
            # from_encoded_point checks the point is on the curve, so an
            # invalid-curve attack fails here rather than leaking the key.
            peer = ec.EllipticCurvePublicKey.from_encoded_point(
                group.curve, b"\x04" + peerPublic
            )
            secret = self._key.exchange(ec.ECDH(), peer)
        except ValueError as e:
            raise _invalid_ke(f"group {group.groupId} KE point: {e}") from e
        # ECDH yields the x coordinate only, fixed length: RFC 5903 section 7.
        if not any(secret):
            raise _invalid_ke("all-zero Diffie-Hellman secret")
        return secret


class _EcpGroup(DhGroup):
    def __init__(self, groupId: DhGroupId, curve: ec.EllipticCurve) -> None:
        self.groupId = groupId
        self.curve = curve
        self.fieldSize = (curve.key_size + 7) // 8
        self.publicLength = 2 * self.fieldSize

    def generate(self) -> DhPrivateKey:
        return _EcpPrivateKey(self, ec.generate_private_key(self.curve))

    def import_private(self, secret: bytes) -> DhPrivateKey:
        key = ec.derive_private_key(int.from_bytes(secret, "big"), self.curve)
        return _EcpPrivateKey(self, key)


class _X25519PrivateKey(DhPrivateKey):
    group: _X25519Group

    def __init__(self, group: _X25519Group, key: x25519.X25519PrivateKey) -> None:
        self.group = group
        self._key = key
        self._public = key.public_key().public_bytes_raw()

    @property
    def publicBytes(self) -> bytes:
        return self._public

    def exchange(self, peerPublic: bytes) -> bytes:
        if len(peerPublic) != 32:
            raise _invalid_ke(f"X25519 KE data is 32 octets, not {len(peerPublic)}")
        try:
            peer = x25519.X25519PublicKey.from_public_bytes(peerPublic)
            secret = self._key.exchange(peer)
        except ValueError as e:
            # cryptography refuses the low-order points whose result is 0.
            raise _invalid_ke(f"X25519 KE value: {e}") from e
        if not any(secret):
            raise _invalid_ke("all-zero Diffie-Hellman secret")
        return secret


class _X25519Group(DhGroup):
    groupId = DhGroupId.CURVE_25519
    publicLength = 32

    def generate(self) -> DhPrivateKey:
        return _X25519PrivateKey(self, x25519.X25519PrivateKey.generate())

    def import_private(self, secret: bytes) -> DhPrivateKey:
        return _X25519PrivateKey(
            self, x25519.X25519PrivateKey.from_private_bytes(secret)
        )


_GROUPS: dict[int, DhGroup] = {}


def dh_group(groupId: int) -> DhGroup:
    """
    The key exchange group for a transform ID (14, 15, 19, 20 or 31).

    Groups are built once and shared: they hold only parameters, and the
    MODP ones would otherwise be re-parsed by OpenSSL for every exchange.

    @raise UnsupportedAlgorithm: for any other group, including
        L{DhGroupId.NONE}.
    """
    group = _GROUPS.get(groupId)
    if group is not None:
        return group
    if groupId == DhGroupId.MODP_2048:
        group = _ModpGroup(DhGroupId.MODP_2048, _MODP_2048)
    elif groupId == DhGroupId.MODP_3072:
        group = _ModpGroup(DhGroupId.MODP_3072, _MODP_3072)
    elif groupId == DhGroupId.ECP_256:
        group = _EcpGroup(DhGroupId.ECP_256, ec.SECP256R1())
    elif groupId == DhGroupId.ECP_384:
        group = _EcpGroup(DhGroupId.ECP_384, ec.SECP384R1())
    elif groupId == DhGroupId.CURVE_25519:
        group = _X25519Group()
    else:
        raise UnsupportedAlgorithm(f"Diffie-Hellman group {groupId} is not supported")
    _GROUPS[groupId] = group
    return group


# -- integrity and encryption transforms -------------------------------------


@dataclass(frozen=True)
class Integrity:
    """
    An HMAC integrity transform (RFC 2404, RFC 4868): a full-length key and
    a truncated output.

    @ivar keySize: the key length in octets (the hash's output length).
    @ivar icvSize: the truncated MAC length in octets.
    """

    integId: IntegId
    keySize: int
    icvSize: int
    hashName: str

    def compute(self, key: bytes, data: bytes) -> bytes:
        """The truncated MAC of C{data}: the ICV as it goes on the wire."""
        return hmac.digest(key, data, self.hashName)[: self.icvSize]


_INTEGRITIES: dict[int, Integrity] = {
    IntegId.HMAC_SHA1_96: Integrity(IntegId.HMAC_SHA1_96, 20, 12, "sha1"),
    IntegId.HMAC_SHA2_256_128: Integrity(IntegId.HMAC_SHA2_256_128, 32, 16, "sha256"),
    IntegId.HMAC_SHA2_384_192: Integrity(IntegId.HMAC_SHA2_384_192, 48, 24, "sha384"),
    IntegId.HMAC_SHA2_512_256: Integrity(IntegId.HMAC_SHA2_512_256, 64, 32, "sha512"),
}


def integrity_for(integId: int) -> Integrity:
    """
    The integrity transform for an ID.

    @raise UnsupportedAlgorithm: for NONE (the caller decides whether an
        AEAD makes that legal) and for anything not HMAC-SHA1/SHA2.
    """
    try:
        return _INTEGRITIES[integId]
    except KeyError:
        raise UnsupportedAlgorithm(
            f"integrity algorithm {integId} is not supported"
        ) from None


_GCM_ICV_SIZES = {
    EncrId.AES_GCM_8: 8,
    EncrId.AES_GCM_12: 12,
    EncrId.AES_GCM_16: 16,
}

GCM_SALT_SIZE = 4
"""The implicit nonce part that RFC 5282 section 7.1 appends to the key."""


@dataclass(frozen=True)
class Encryption:
    """
    An AES encryption transform with its key length fixed.

    @ivar keyBits: 128, 192 or 256 (the Key Length attribute).
    @ivar isAead: whether the cipher authenticates too (GCM), so that the
        proposal carries no integrity transform.
    @ivar keyMaterialSize: the octets taken from prf+ for one SK_e or ESP
        key: the AES key, and for GCM the 4-octet salt after it.
    @ivar blockSize: the plaintext alignment (16 for CBC, 1 for GCM).
    @ivar ivSize: the explicit IV on the wire (16 for CBC, 8 for GCM).
    @ivar icvSize: the AEAD tag length; 0 when an L{Integrity} supplies it.
    """

    encrId: EncrId
    keyBits: int
    isAead: bool
    keyMaterialSize: int
    blockSize: int
    ivSize: int
    icvSize: int


def encryption_for(encrId: int, keyBits: int) -> Encryption:
    """
    The encryption transform for an ID and Key Length attribute.

    @raise UnsupportedAlgorithm: for another cipher or key length.
    """
    if keyBits not in (128, 192, 256):
        raise UnsupportedAlgorithm(f"AES key length {keyBits} is not supported")
    keySize = keyBits // 8
    if encrId == EncrId.AES_CBC:
        return Encryption(EncrId.AES_CBC, keyBits, False, keySize, 16, 16, 0)
    if encrId in _GCM_ICV_SIZES:
        return Encryption(
            EncrId(encrId),
            keyBits,
            True,
            keySize + GCM_SALT_SIZE,
            1,
            8,
            _GCM_ICV_SIZES[EncrId(encrId)],
        )
    raise UnsupportedAlgorithm(f"encryption algorithm {encrId} is not supported")


# -- SK payload protection ---------------------------------------------------


class SkProtector(abc.ABC):
    """
    The protection of the SK payload in one direction of an IKE SA (RFC
    7296 section 3.14): encryption plus integrity, or an AEAD.

    Each IKE SA has two, one for the messages the original initiator sends
    and one for the messages of the other side, so that a key is only
    ever used by one sender.  It satisfies the protocol the message codec
    declares; the codec fills in every length first and hands over the
    message up to and including the SK payload's generic header as
    C{prefix}, since that is what the ICV or the AEAD tag authenticates.
    """

    @abc.abstractmethod
    def body_length(self, plaintextLength: int) -> int:
        """
        The SK payload body length (IV, ciphertext with padding and the
        Pad Length octet, ICV) for C{plaintextLength} octets of inner
        payloads, so the header lengths can be final before encrypting.
        """

    @abc.abstractmethod
    def encrypt(self, prefix: bytes, plaintext: bytes) -> bytes:
        """
        IV | ciphertext | ICV for the inner payloads C{plaintext}; the
        padding and the Pad Length octet are added here.
        """

    @abc.abstractmethod
    def decrypt(self, prefix: bytes, body: bytes) -> bytes:
        """
        The inner payload octets of an SK body, padding removed.

        @raise IntegrityError: for a bad ICV or tag, a body of impossible
            length or bad padding; RFC 7296 section 2.21.2 has such a
            message dropped without an answer.
        """


class CbcHmacProtector(SkProtector):
    """
    AES-CBC with an HMAC ICV (RFC 3602, RFC 4868): encrypt, then MAC the
    whole message, and on receipt check the MAC before touching the
    ciphertext, so no padding oracle ever sees forged input.
    """

    def __init__(
        self,
        encryption: Encryption,
        integrity: Integrity,
        encryptionKey: bytes,
        integrityKey: bytes,
    ) -> None:
        if len(encryptionKey) != encryption.keyMaterialSize:
            raise ValueError("encryption key of the wrong length")
        if len(integrityKey) != integrity.keySize:
            raise ValueError("integrity key of the wrong length")
        self.encryption = encryption
        self.integrity = integrity
        self._algorithm = algorithms.AES(encryptionKey)
        self._integrityKey = integrityKey

    def _padded_length(self, plaintextLength: int) -> int:
        block = self.encryption.blockSize
        return -(-(plaintextLength + 1) // block) * block

    def body_length(self, plaintextLength: int) -> int:
        return (
            self.encryption.ivSize
            + self._padded_length(plaintextLength)
            + self.integrity.icvSize
        )

    def encrypt(self, prefix: bytes, plaintext: bytes) -> bytes:
        padLength = self._padded_length(len(plaintext)) - len(plaintext) - 1
        # The padding content is arbitrary (RFC 7296 section 3.14); zeros
        # give nothing away since it is encrypted.
        padded = plaintext + bytes(padLength) + bytes([padLength])
        iv = os.urandom(self.encryption.ivSize)
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        icv = self.integrity.compute(self._integrityKey, prefix + iv + ciphertext)
        return iv + ciphertext + icv

    def decrypt(self, prefix: bytes, body: bytes) -> bytes:
        ivSize = self.encryption.ivSize
        icvSize = self.integrity.icvSize
        block = self.encryption.blockSize
        cipherLength = len(body) - ivSize - icvSize
        if cipherLength < block or cipherLength % block:
            raise IntegrityError("SK payload of impossible length")
        signed, icv = body[:-icvSize], body[-icvSize:]
        expected = self.integrity.compute(self._integrityKey, prefix + signed)
        if not hmac.compare_digest(expected, icv):
            raise IntegrityError("SK payload ICV does not verify")
        iv, ciphertext = signed[:ivSize], signed[ivSize:]
        decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        padLength = padded[-1]
        if padLength + 1 > len(padded):
            raise IntegrityError("SK payload padding longer than the payload")
        return padded[: -padLength - 1]


@dataclass
class _NonceCounter:
    """
    The explicit GCM IV as a 64-bit counter.  It starts at a random value so
    that two protectors mistakenly built from the same key still do not
    walk the same IVs, and refuses to wrap back to where it began.
    """

    start: int = field(default_factory=lambda: int.from_bytes(os.urandom(8), "big"))
    used: int = 0

    def next(self) -> bytes:
        if self.used >= 2**64:
            raise IkeError("GCM IV space exhausted; the SA must be rekeyed")
        value = (self.start + self.used) % 2**64
        self.used += 1
        return value.to_bytes(8, "big")


class GcmProtector(SkProtector):
    """
    AES-GCM (RFC 5282): SK_e is the AES key followed by a 4-octet salt,
    the nonce is salt | 8-octet explicit IV, and the AAD is everything
    before the IV.  A GCM nonce repeated under one key gives away the
    authentication key, hence the counter.
    """

    def __init__(self, encryption: Encryption, encryptionKey: bytes) -> None:
        if len(encryptionKey) != encryption.keyMaterialSize:
            raise ValueError("encryption key of the wrong length")
        self.encryption = encryption
        self._algorithm = algorithms.AES(encryptionKey[:-GCM_SALT_SIZE])
        self._salt = encryptionKey[-GCM_SALT_SIZE:]
        self._counter = _NonceCounter()

    def body_length(self, plaintextLength: int) -> int:
        encryption = self.encryption
        return encryption.ivSize + plaintextLength + 1 + encryption.icvSize

    def encrypt(self, prefix: bytes, plaintext: bytes) -> bytes:
        iv = self._counter.next()
        encryptor = Cipher(self._algorithm, modes.GCM(self._salt + iv)).encryptor()
        encryptor.authenticate_additional_data(prefix)
        # No alignment for GCM, but the Pad Length octet stays (pad 0).
        ciphertext = encryptor.update(plaintext + b"\x00") + encryptor.finalize()
        return iv + ciphertext + encryptor.tag[: self.encryption.icvSize]

    def decrypt(self, prefix: bytes, body: bytes) -> bytes:
        ivSize = self.encryption.ivSize
        icvSize = self.encryption.icvSize
        if len(body) < ivSize + 1 + icvSize:
            raise IntegrityError("SK payload of impossible length")
        iv = body[:ivSize]
        ciphertext = body[ivSize:-icvSize]
        tag = body[-icvSize:]
        decryptor = Cipher(
            self._algorithm,
            modes.GCM(self._salt + iv, tag, min_tag_length=icvSize),
        ).decryptor()
        decryptor.authenticate_additional_data(prefix)
        padded = decryptor.update(ciphertext)
        try:
            padded += decryptor.finalize()
        except InvalidTag:
            raise IntegrityError("SK payload tag does not verify") from None
        padLength = padded[-1]
        if padLength + 1 > len(padded):
            raise IntegrityError("SK payload padding longer than the payload")
        return padded[: -padLength - 1]


def sk_protector(
    encrId: int,
    keyBits: int,
    integId: int,
    encryptionKey: bytes,
    integrityKey: bytes,
) -> SkProtector:
    """
    The protector for one direction of an IKE SA: SK_ei/SK_ai for what the
    original initiator sends, SK_er/SK_ar for the other side.

    @param integrityKey: empty with an AEAD cipher.
    @raise UnsupportedAlgorithm: for an unknown transform, an AEAD with an
        integrity transform or a plain cipher without one.
    """
    encryption = encryption_for(encrId, keyBits)
    if encryption.isAead:
        if integId != IntegId.NONE:
            raise UnsupportedAlgorithm("an AEAD cipher takes no integrity transform")
        return GcmProtector(encryption, encryptionKey)
    if integId == IntegId.NONE:
        raise UnsupportedAlgorithm("AES-CBC needs an integrity transform")
    return CbcHmacProtector(
        encryption, integrity_for(integId), encryptionKey, integrityKey
    )


# -- odds and ends -----------------------------------------------------------


def nat_detection_hash(spiI: bytes, spiR: bytes, address: Address, port: int) -> bytes:
    """
    The NAT_DETECTION_*_IP notification data (RFC 7296 section 2.23):
    SHA-1 of SPIi | SPIr | IP address | port.  A peer whose hash of what it
    sees differs from ours is behind a NAT, which moves us to port 4500.

    @param spiR: zero octets in the first IKE_SA_INIT request.
    """
    data = spiI + spiR + address.packed + port.to_bytes(2, "big")
    return hashlib.sha1(data, usedforsecurity=False).digest()


def random_spi() -> bytes:
    """
    A new IKE SPI: 8 random octets, never all zero, since a zero SPI means
    "not yet known" in the header.
    """
    while True:
        spi = os.urandom(8)
        if any(spi):
            return spi


def random_child_spi() -> bytes:
    """
    A new ESP/AH SPI: 4 random octets whose value is at least 256, as the
    values below are reserved by IANA (RFC 4303 section 2.1).
    """
    while True:
        spi = os.urandom(4)
        if int.from_bytes(spi, "big") >= 256:
            return spi
