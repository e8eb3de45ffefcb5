"""
Tests for L{nsstwisted.ike.crypto}: published vectors for the PRFs, the
integrity transforms and the ECDH groups, the RFC 3526 primes rebuilt from
pi, and the SK payload protectors against independent decryption.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike import crypto
from nsstwisted.ike.constants import (
    DhGroupId,
    EncrId,
    IntegId,
    NotifyType,
    PrfId,
)
from nsstwisted.ike.crypto import (
    CbcHmacProtector,
    GcmProtector,
    SkProtector,
    dh_group,
    encryption_for,
    integrity_for,
    nat_detection_hash,
    prf_for,
    random_child_spi,
    random_spi,
    sk_protector,
)
from nsstwisted.ike.errors import IkeError, IntegrityError, UnsupportedAlgorithm

h = bytes.fromhex

VECTOR = json.loads(
    (Path(__file__).parent / "data" / "ike-vector-strongswan598.json").read_text()
)

# RFC 4868 section 2.7.1 (PRF test case 1) and RFC 2202 test case 1: the
# key is 0x0b repeated to the PRF's key size, the data "Hi There".
HI_THERE = {
    PrfId.HMAC_SHA1: "b617318655057264e28bc0b6fb378c8ef146be00",
    PrfId.HMAC_SHA2_256: (
        "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
    ),
    PrfId.HMAC_SHA2_384: (
        "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc"
        "4c5df61d5b3297b4fb68dab9f1b582c2"
    ),
    PrfId.HMAC_SHA2_512: (
        "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"
        "ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b"
    ),
}


class PrfTests(SynchronousTestCase):
    """
    L{prf_for} and L{crypto.Prf}.
    """

    def test_sizes(self) -> None:
        """
        The HMAC PRFs take keys as long as their output (RFC 7296 2.13).
        """
        for prfId, size in [(2, 20), (5, 32), (6, 48), (7, 64)]:
            prf = prf_for(prfId)
            self.assertEqual(
                (prf.prfId, prf.keySize, prf.outputSize), (prfId, size, size)
            )

    def test_vectors(self) -> None:
        """
        Each PRF gives the published HMAC of "Hi There".
        """
        for prfId, expected in HI_THERE.items():
            prf = prf_for(prfId)
            self.assertEqual(prf(b"\x0b" * prf.keySize, b"Hi There"), h(expected))

    def test_unsupported(self) -> None:
        """
        AES-XCBC (4), AES-CMAC (8) and unknown IDs are refused with the
        error that becomes NO_PROPOSAL_CHOSEN.
        """
        for prfId in (4, 8, 0, 99):
            error = self.assertRaises(UnsupportedAlgorithm, prf_for, prfId)
            self.assertEqual(error.notify, NotifyType.NO_PROPOSAL_CHOSEN)

    def test_plusBlocks(self) -> None:
        """
        prf+ chains T1 = prf(K, S | 1), Tn = prf(K, Tn-1 | S | n) and cuts
        the stream to the length asked for.
        """
        prf = prf_for(PrfId.HMAC_SHA2_256)
        key, seed = b"k" * 32, b"seed"
        t1 = hmac.digest(key, seed + b"\x01", "sha256")
        t2 = hmac.digest(key, t1 + seed + b"\x02", "sha256")
        t3 = hmac.digest(key, t2 + seed + b"\x03", "sha256")
        self.assertEqual(prf.plus(key, seed, 32), t1)
        self.assertEqual(prf.plus(key, seed, 70), (t1 + t2 + t3)[:70])
        self.assertEqual(prf.plus(key, seed, 0), b"")

    def test_plusLimit(self) -> None:
        """
        prf+ stops at 255 blocks: the counter is one octet.
        """
        prf = prf_for(PrfId.HMAC_SHA1)
        self.assertEqual(len(prf.plus(b"k", b"s", 255 * 20)), 255 * 20)
        self.assertRaises(ValueError, prf.plus, b"k", b"s", 255 * 20 + 1)


# RFC 5903 sections 8.1 and 8.2.
RFC5903 = {
    DhGroupId.ECP_256: {
        "i": "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
        "gix": "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180",
        "giy": "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
        "r": "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
        "grx": "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63",
        "gry": "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
        "girx": "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de",
    },
    DhGroupId.ECP_384: {
        "i": "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655"
        "e35b538041e649ee3faef896783ab194",
        "gix": "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6"
        "de3ac808acb4bdb4c88732aee95f41aa",
        "giy": "9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38e"
        "eb9fcff3c2c947dae69b4c634573a81c",
        "r": "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942"
        "e0308312916b8ed2960e4bd55a7448fc",
        "grx": "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d"
        "0d1ac43a0336def96fda41d0774a3571",
        "gry": "dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1ff"
        "f83fa40142209dff5eaad96db9e6386c",
        "girx": "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4"
        "d603135569b9e9d09cf5d4a270f59746",
    },
}

# RFC 7748 section 6.1.
X25519_ALICE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
X25519_ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
X25519_BOB = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
X25519_BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
X25519_SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


def _pi_times_power_of_two(bits: int) -> int:
    """floor(pi * 2**bits), by Machin's formula in integers."""

    def arctanInverse(x: int, one: int) -> int:
        total = term = one // x
        n, sign = 1, -1
        while term:
            term //= x * x
            total += sign * (term // (2 * n + 1))
            sign, n = -sign, n + 1
        return total

    one = 1 << (bits + 64)
    pi = 4 * (4 * arctanInverse(5, one) - arctanInverse(239, one))
    return pi >> 64


def _rfc3526_prime(bits: int, k: int) -> int:
    """p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k) (RFC 3526)."""
    return (
        (1 << bits)
        - (1 << (bits - 64))
        - 1
        + (1 << 64) * (_pi_times_power_of_two(bits - 130) + k)
    )


class DhGroupTests(SynchronousTestCase):
    """
    L{dh_group} and its keys.
    """

    def assertInvalidKe(self, privateKey: crypto.DhPrivateKey, value: bytes) -> None:
        error = self.assertRaises(IkeError, privateKey.exchange, value)
        self.assertEqual(error.notify, NotifyType.INVALID_SYNTAX)

    def test_rfc5903(self) -> None:
        """
        The RFC 5903 vectors for groups 19 and 20: KE data is x | y, the
        shared secret x only, on both sides.
        """
        for groupId, vector in RFC5903.items():
            group = dh_group(groupId)
            size = len(h(vector["i"]))
            self.assertEqual(group.publicLength, 2 * size)
            initiator = group.import_private(h(vector["i"]))
            responder = group.import_private(h(vector["r"]))
            self.assertEqual(initiator.publicBytes, h(vector["gix"] + vector["giy"]))
            self.assertEqual(responder.publicBytes, h(vector["grx"] + vector["gry"]))
            self.assertEqual(
                initiator.exchange(responder.publicBytes), h(vector["girx"])
            )
            self.assertEqual(
                responder.exchange(initiator.publicBytes), h(vector["girx"])
            )

    def test_rfc7748(self) -> None:
        """
        The RFC 7748 X25519 vector: 32-octet KE data and secret.
        """
        group = dh_group(DhGroupId.CURVE_25519)
        self.assertEqual(group.publicLength, 32)
        alice = group.import_private(h(X25519_ALICE))
        bob = group.import_private(h(X25519_BOB))
        self.assertEqual(alice.publicBytes, h(X25519_ALICE_PUBLIC))
        self.assertEqual(bob.publicBytes, h(X25519_BOB_PUBLIC))
        self.assertEqual(alice.exchange(bob.publicBytes), h(X25519_SHARED))
        self.assertEqual(bob.exchange(alice.publicBytes), h(X25519_SHARED))

    def test_generatedAgree(self) -> None:
        """
        Two fresh keys of every group agree on a secret of the group's
        fixed length.
        """
        secretLengths = {14: 256, 15: 384, 19: 32, 20: 48, 31: 32}
        for groupId, length in secretLengths.items():
            group = dh_group(groupId)
            self.assertEqual(group.groupId, groupId)
            a, b = group.generate(), group.generate()
            self.assertEqual(len(a.publicBytes), group.publicLength)
            secret = a.exchange(b.publicBytes)
            self.assertEqual(len(secret), length)
            self.assertEqual(secret, b.exchange(a.publicBytes))
            self.assertNotEqual(a.publicBytes, b.publicBytes)

    def test_modpPadding(self) -> None:
        """
        A MODP public value with leading zero octets is still sent at the
        modulus length, and so is a secret: known small exponents give a
        short g^x that must be left-padded.
        """
        group = dh_group(DhGroupId.MODP_2048)
        small = group.import_private((1).to_bytes(1, "big"))
        self.assertEqual(small.publicBytes, (2).to_bytes(256, "big"))
        other = group.import_private((5).to_bytes(1, "big"))
        self.assertEqual(other.publicBytes, (32).to_bytes(256, "big"))
        self.assertEqual(small.exchange(other.publicBytes), (32).to_bytes(256, "big"))

    def test_modpPrimes(self) -> None:
        """
        The MODP groups use the RFC 3526 primes, rebuilt here from pi, with
        generator 2.
        """
        for groupId, bits, k in [(14, 2048, 124476), (15, 3072, 1690314)]:
            group = dh_group(groupId)
            prime = _rfc3526_prime(bits, k)
            self.assertEqual(group.publicLength, bits // 8)
            key = group.import_private(b"\x03")
            self.assertEqual(
                key.publicBytes, pow(2, 3, prime).to_bytes(bits // 8, "big")
            )
            peer = group.generate()
            y = int.from_bytes(peer.publicBytes, "big")
            self.assertEqual(
                key.exchange(peer.publicBytes),
                pow(y, 3, prime).to_bytes(bits // 8, "big"),
            )

    def test_modpInvalid(self) -> None:
        """
        0, 1, p-1, p and values of the wrong length are refused with
        INVALID_SYNTAX: they fix the secret without our exponent.
        """
        for groupId, bits, k in [(14, 2048, 124476), (15, 3072, 1690314)]:
            prime = _rfc3526_prime(bits, k)
            size = bits // 8
            key = dh_group(groupId).generate()
            for value in (0, 1, prime - 1, prime, 2**bits - 1):
                self.assertInvalidKe(key, value.to_bytes(size, "big"))
            self.assertInvalidKe(key, b"\x02" * (size - 1))
            self.assertInvalidKe(key, b"\x02" * (size + 1))

    def test_ecpInvalid(self) -> None:
        """
        A point off the curve, the all-zero value and the wrong length are
        refused.
        """
        for groupId in (DhGroupId.ECP_256, DhGroupId.ECP_384):
            group = dh_group(groupId)
            key = group.generate()
            peer = bytearray(group.generate().publicBytes)
            peer[-1] ^= 1
            self.assertInvalidKe(key, bytes(peer))
            self.assertInvalidKe(key, bytes(group.publicLength))
            self.assertInvalidKe(key, group.generate().publicBytes[:-1])
            self.assertInvalidKe(key, b"\x04" + group.generate().publicBytes)

    def test_x25519Invalid(self) -> None:
        """
        Low-order X25519 points, which make the secret all zero, and the
        wrong length are refused.
        """
        key = dh_group(DhGroupId.CURVE_25519).generate()
        self.assertInvalidKe(key, bytes(32))
        self.assertInvalidKe(key, (1).to_bytes(32, "little"))
        self.assertInvalidKe(key, bytes(31))
        self.assertInvalidKe(key, bytes(33))

    def test_unsupported(self) -> None:
        """
        NONE and groups not implemented are refused.
        """
        for groupId in (0, 1, 2, 5, 16, 21, 32):
            self.assertRaises(UnsupportedAlgorithm, dh_group, groupId)

    def test_shared(self) -> None:
        """
        A group is built once: its parameters are shared by every key.
        """
        self.assertIs(dh_group(14), dh_group(DhGroupId.MODP_2048))


class TransformTests(SynchronousTestCase):
    """
    L{integrity_for} and L{encryption_for}.
    """

    def test_integritySizes(self) -> None:
        """
        Key and ICV sizes of the HMAC integrity transforms (RFC 4868).
        """
        for integId, keySize, icvSize in [
            (2, 20, 12),
            (12, 32, 16),
            (13, 48, 24),
            (14, 64, 32),
        ]:
            integrity = integrity_for(integId)
            self.assertEqual(
                (integrity.integId, integrity.keySize, integrity.icvSize),
                (integId, keySize, icvSize),
            )

    def test_integrityVectors(self) -> None:
        """
        The ICV is the HMAC truncated: RFC 4868 section 2.7.2 test case 1
        and RFC 2202 test case 5 (HMAC-SHA1-96).
        """
        for integId, prfId in [(12, 5), (13, 6), (14, 7), (2, 2)]:
            integrity = integrity_for(integId)
            self.assertEqual(
                integrity.compute(b"\x0b" * integrity.keySize, b"Hi There"),
                h(HI_THERE[PrfId(prfId)])[: integrity.icvSize],
            )
        self.assertEqual(
            integrity_for(2).compute(b"\x0c" * 20, b"Test With Truncation"),
            h("4c1a03424b55e07fe7f27be1"),
        )

    def test_integrityUnsupported(self) -> None:
        """
        NONE and AES-XCBC-96 (5) are not integrity transforms we offer.
        """
        for integId in (0, 5, 99):
            self.assertRaises(UnsupportedAlgorithm, integrity_for, integId)

    def test_encryption(self) -> None:
        """
        AES-CBC takes the AES key; AES-GCM the key and a 4-octet salt.
        """
        for keyBits in (128, 192, 256):
            cbc = encryption_for(EncrId.AES_CBC, keyBits)
            self.assertEqual(
                (cbc.isAead, cbc.keyMaterialSize, cbc.blockSize, cbc.ivSize),
                (False, keyBits // 8, 16, 16),
            )
            gcm = encryption_for(EncrId.AES_GCM_16, keyBits)
            self.assertEqual(
                (gcm.isAead, gcm.keyMaterialSize, gcm.ivSize, gcm.icvSize),
                (True, keyBits // 8 + 4, 8, 16),
            )
        self.assertEqual(encryption_for(EncrId.AES_GCM_8, 128).icvSize, 8)
        self.assertEqual(encryption_for(EncrId.AES_GCM_12, 128).icvSize, 12)

    def test_encryptionUnsupported(self) -> None:
        """
        Other ciphers and key lengths are refused.
        """
        self.assertRaises(UnsupportedAlgorithm, encryption_for, EncrId.AES_CBC, 64)
        self.assertRaises(UnsupportedAlgorithm, encryption_for, EncrId.AES_GCM_16, 0)
        self.assertRaises(UnsupportedAlgorithm, encryption_for, 3, 128)
        self.assertRaises(UnsupportedAlgorithm, encryption_for, 28, 256)


# An IKE header and an SK generic header, as the message codec would pass.
PREFIX = h("5129f0d1741760c93180764de3a747602e20230800000001000000ac") + h("230000a0")


def _flipped(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def _cbcPair(keyBits: int, integId: int) -> tuple[SkProtector, bytes, bytes]:
    encryptionKey = bytes(range(keyBits // 8))
    integrityKey = bytes(range(100, 100 + integrity_for(integId).keySize))
    protector = sk_protector(
        EncrId.AES_CBC, keyBits, integId, encryptionKey, integrityKey
    )
    return protector, encryptionKey, integrityKey


def _gcmProtector(keyBits: int, encrId: int = EncrId.AES_GCM_16) -> SkProtector:
    key = bytes(range(keyBits // 8 + 4))
    return sk_protector(encrId, keyBits, IntegId.NONE, key, b"")


def _protectors() -> Iterator[tuple[str, SkProtector, SkProtector]]:
    """
    (name, sender, receiver) for every supported combination: two objects
    with the same keys, as both ends of a direction have.
    """
    for integId in (2, 12, 13, 14):
        for keyBits in (128, 256):
            yield (
                f"cbc-{keyBits}-{integId}",
                _cbcPair(keyBits, integId)[0],
                _cbcPair(keyBits, integId)[0],
            )
    for encrId in (EncrId.AES_GCM_16, EncrId.AES_GCM_12, EncrId.AES_GCM_8):
        for keyBits in (128, 256):
            yield (
                f"gcm{encrId}-{keyBits}",
                _gcmProtector(keyBits, encrId),
                _gcmProtector(keyBits, encrId),
            )


class SkProtectorTests(SynchronousTestCase):
    """
    L{sk_protector} and the two protectors.
    """

    def test_roundTrip(self) -> None:
        """
        Whatever one end encrypts, the other decrypts, for every length
        around the block boundaries, and the body is as long as
        C{body_length} promised.
        """
        for name, sender, receiver in _protectors():
            for length in (0, 1, 15, 16, 17, 31, 32, 100):
                plaintext = bytes(range(length))
                body = sender.encrypt(PREFIX, plaintext)
                self.assertEqual(len(body), sender.body_length(length), name)
                self.assertEqual(receiver.decrypt(PREFIX, body), plaintext, name)

    def test_cbcLayout(self) -> None:
        """
        CBC bodies are IV | ciphertext | ICV, with the ICV the truncated
        HMAC of prefix | IV | ciphertext, and the plaintext padded to the
        block with the Pad Length octet last.
        """
        protector, encryptionKey, integrityKey = _cbcPair(128, 12)
        self.assertIsInstance(protector, CbcHmacProtector)
        body = protector.encrypt(PREFIX, b"inner payloads")
        self.assertEqual(len(body), 16 + 16 + 16)
        iv, ciphertext, icv = body[:16], body[16:-16], body[-16:]
        self.assertEqual(
            icv, hmac.digest(integrityKey, PREFIX + iv + ciphertext, "sha256")[:16]
        )
        decryptor = Cipher(algorithms.AES(encryptionKey), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        self.assertEqual(padded[:14], b"inner payloads")
        self.assertEqual(padded[-1], 1)

    def test_cbcRandomIv(self) -> None:
        """
        Every CBC message gets a fresh IV.
        """
        protector = _cbcPair(128, 12)[0]
        ivs = {protector.encrypt(PREFIX, b"x")[:16] for _ in range(50)}
        self.assertEqual(len(ivs), 50)

    def test_gcmLayout(self) -> None:
        """
        GCM bodies are IV | ciphertext | tag; the nonce is salt | IV, the
        AAD the prefix, and the Pad Length octet (0) is there.
        """
        protector = _gcmProtector(256)
        self.assertIsInstance(protector, GcmProtector)
        key = bytes(range(36))
        body = protector.encrypt(PREFIX, b"inner payloads")
        self.assertEqual(len(body), 8 + 14 + 1 + 16)
        iv = body[:8]
        plaintext = AESGCM(key[:32]).decrypt(key[32:] + iv, body[8:], PREFIX)
        self.assertEqual(plaintext, b"inner payloads\x00")

    def test_gcmIvNeverRepeats(self) -> None:
        """
        The explicit GCM IV is a counter: consecutive messages under one key
        never share it.
        """
        protector = _gcmProtector(128)
        ivs = [protector.encrypt(PREFIX, b"x")[:8] for _ in range(1000)]
        self.assertEqual(len(set(ivs)), 1000)
        values = [int.from_bytes(iv, "big") for iv in ivs]
        self.assertEqual(
            [(b - a) % 2**64 for a, b in itertools.pairwise(values)],
            [1] * 999,
        )

    def test_gcmIvStartsRandom(self) -> None:
        """
        Two protectors built from the same key do not start at the same IV,
        so a mistaken second one does not repeat the first one's nonces.
        """
        starts = {_gcmProtector(128).encrypt(PREFIX, b"")[:8] for _ in range(20)}
        self.assertEqual(len(starts), 20)

    def test_gcmIvExhausted(self) -> None:
        """
        After 2^64 messages the counter refuses rather than wrap.
        """
        protector = _gcmProtector(128)
        assert isinstance(protector, GcmProtector)
        protector._counter.used = 2**64
        self.assertRaises(IkeError, protector.encrypt, PREFIX, b"x")

    def test_tampering(self) -> None:
        """
        A flipped bit anywhere, in the prefix, the IV, the ciphertext or the
        ICV, raises L{IntegrityError}.
        """
        for _name, sender, receiver in _protectors():
            body = sender.encrypt(PREFIX, b"some inner payload octets")
            for index in (0, len(PREFIX) - 1):
                self.assertRaises(
                    IntegrityError, receiver.decrypt, _flipped(PREFIX, index), body
                )
            for index in (0, 7, 8, 20, len(body) - 17, len(body) - 1):
                self.assertRaises(
                    IntegrityError, receiver.decrypt, PREFIX, _flipped(body, index)
                )

    def test_wrongKey(self) -> None:
        """
        The other direction's protector cannot read a message.
        """
        first = _cbcPair(128, 12)[0]
        other = sk_protector(EncrId.AES_CBC, 128, 12, bytes(16), bytes(32))
        self.assertRaises(
            IntegrityError, other.decrypt, PREFIX, first.encrypt(PREFIX, b"x")
        )

    def test_truncated(self) -> None:
        """
        Bodies too short to hold an IV, a block and an ICV, or not a whole
        number of blocks, raise L{IntegrityError}.
        """
        for _name, sender, receiver in _protectors():
            body = sender.encrypt(PREFIX, b"payload")
            for cut in (b"", body[:8], body[:-1], body[1:]):
                self.assertRaises(IntegrityError, receiver.decrypt, PREFIX, cut)

    def test_cbcBadPadding(self) -> None:
        """
        A CBC plaintext whose Pad Length points before its start raises
        L{IntegrityError}, even with a valid ICV.
        """
        protector, encryptionKey, integrityKey = _cbcPair(128, 12)
        iv = bytes(16)
        encryptor = Cipher(algorithms.AES(encryptionKey), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(bytes(15) + b"\x10") + encryptor.finalize()
        icv = hmac.digest(integrityKey, PREFIX + iv + ciphertext, "sha256")[:16]
        self.assertRaises(
            IntegrityError, protector.decrypt, PREFIX, iv + ciphertext + icv
        )

    def test_gcmBadPadding(self) -> None:
        """
        The same for GCM: an authentic body with an impossible Pad Length.
        """
        protector = _gcmProtector(128)
        key = bytes(range(20))
        iv = bytes(8)
        sealed = AESGCM(key[:16]).encrypt(key[16:] + iv, b"ab\x05", PREFIX)
        self.assertRaises(IntegrityError, protector.decrypt, PREFIX, iv + sealed)

    def test_padLengthHonoured(self) -> None:
        """
        Padding a peer chose, longer than needed, is removed on receipt.
        """
        protector, encryptionKey, integrityKey = _cbcPair(128, 12)
        iv = bytes(16)
        encryptor = Cipher(algorithms.AES(encryptionKey), modes.CBC(iv)).encryptor()
        ciphertext = (
            encryptor.update(b"abc" + bytes(28) + b"\x1c") + encryptor.finalize()
        )
        icv = hmac.digest(integrityKey, PREFIX + iv + ciphertext, "sha256")[:16]
        self.assertEqual(protector.decrypt(PREFIX, iv + ciphertext + icv), b"abc")

    def test_factoryRefusals(self) -> None:
        """
        GCM with an integrity transform, CBC without one, and keys of the
        wrong length are refused.
        """
        self.assertRaises(
            UnsupportedAlgorithm,
            sk_protector,
            EncrId.AES_GCM_16,
            128,
            IntegId.HMAC_SHA2_256_128,
            bytes(20),
            bytes(32),
        )
        self.assertRaises(
            UnsupportedAlgorithm,
            sk_protector,
            EncrId.AES_CBC,
            128,
            IntegId.NONE,
            bytes(16),
            b"",
        )
        self.assertRaises(
            ValueError, sk_protector, EncrId.AES_CBC, 128, 12, bytes(15), bytes(32)
        )
        self.assertRaises(
            ValueError, sk_protector, EncrId.AES_CBC, 128, 12, bytes(16), bytes(31)
        )
        self.assertRaises(
            ValueError, sk_protector, EncrId.AES_GCM_16, 128, 0, bytes(16), b""
        )


def _notifies(message: bytes) -> dict[int, bytes]:
    """The notify payloads of an unencrypted message, by type."""
    found = {}
    nextPayload, offset = message[16], 28
    while nextPayload:
        length = int.from_bytes(message[offset + 2 : offset + 4], "big")
        body = message[offset + 4 : offset + length]
        if nextPayload == 41:
            found[int.from_bytes(body[2:4], "big")] = body[4 + body[1] :]
        nextPayload, offset = message[offset], offset + length
    return found


class OddsAndEndsTests(SynchronousTestCase):
    """
    NAT detection hashes and SPIs.
    """

    def test_natDetectionStrongswan(self) -> None:
        """
        The NAT_DETECTION_DESTINATION_IP hashes strongSwan sent in the
        captured exchange: 10.77.0.2 port 5500 with a zero SPIr in the
        request, 10.77.0.1 port 4600 with the real SPIr in the response.
        """
        request = h(VECTOR["ike_sa_init_request"])
        response = h(VECTOR["ike_sa_init_response"])
        spiI, spiR = response[:8], response[8:16]
        self.assertEqual(
            nat_detection_hash(spiI, bytes(8), ipaddress.ip_address("10.77.0.2"), 5500),
            _notifies(request)[NotifyType.NAT_DETECTION_DESTINATION_IP],
        )
        self.assertEqual(
            nat_detection_hash(spiI, spiR, ipaddress.ip_address("10.77.0.1"), 4600),
            _notifies(response)[NotifyType.NAT_DETECTION_DESTINATION_IP],
        )

    def test_natDetectionIpv6(self) -> None:
        """
        IPv6 addresses go in as their 16 octets.
        """
        address = ipaddress.IPv6Address("2001:db8::1")
        self.assertEqual(
            nat_detection_hash(b"i" * 8, b"r" * 8, address, 4500),
            hashlib.sha1(
                b"i" * 8 + b"r" * 8 + address.packed + b"\x11\x94",
                usedforsecurity=False,
            ).digest(),
        )

    def test_randomSpi(self) -> None:
        """
        IKE SPIs are 8 octets and never zero, even when the random source
        produces zeros.
        """
        outputs = iter([bytes(8), b"\x00" * 7 + b"\x01"])
        self.patch(os, "urandom", lambda n: next(outputs))
        self.assertEqual(random_spi(), b"\x00" * 7 + b"\x01")

    def test_randomSpiDistinct(self) -> None:
        """
        Real SPIs differ.
        """
        spis = {random_spi() for _ in range(20)}
        self.assertEqual(len(spis), 20)
        self.assertEqual({len(spi) for spi in spis}, {8})

    def test_randomChildSpi(self) -> None:
        """
        ESP SPIs are 4 octets of value 256 or more: the values below are
        reserved.
        """
        outputs = iter([bytes(4), b"\x00\x00\x00\xff", b"\x00\x00\x01\x00"])
        self.patch(os, "urandom", lambda n: next(outputs))
        self.assertEqual(random_child_spi(), b"\x00\x00\x01\x00")

    def test_randomChildSpiReal(self) -> None:
        """
        Real ESP SPIs are 4 octets and at least 256.
        """
        for _ in range(20):
            spi = random_child_spi()
            self.assertEqual(len(spi), 4)
            self.assertGreaterEqual(int.from_bytes(spi, "big"), 256)
