"""
Tests for L{nsstwisted.security.signing}.
"""

# twisted.trial's assertion methods are not annotated.

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.certfiles import PrivateKey
from nsstwisted.security.errors import InvalidValueError
from nsstwisted.security.signing import (
    SignatureScheme,
    scheme_for_key,
    sign,
    verify,
)

# Generated once for the module: RSA generation is the slow part.
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
P256_KEY = ec.generate_private_key(ec.SECP256R1())
P384_KEY = ec.generate_private_key(ec.SECP384R1())

MESSAGE = b"IKE_SA_INIT message || nonce || prf(SK_pi, IDi')"

RSA_SCHEMES = [s for s in SignatureScheme if s.key_type == "RSA"]
EC_SCHEMES = [s for s in SignatureScheme if s.key_type == "EC"]


def _keysFor(scheme: SignatureScheme) -> list[PrivateKey]:
    if scheme.key_type == "RSA":
        return [RSA_KEY]
    return [P256_KEY, P384_KEY]


def _digest(scheme: SignatureScheme, data: bytes) -> bytes:
    h = hashes.Hash(scheme.hash_algorithm)
    h.update(data)
    return h.finalize()


class SignatureSchemeTests(SynchronousTestCase):
    """
    The properties of L{SignatureScheme}.
    """

    def test_members(self) -> None:
        """
        The ten RFC 7427 schemes are there, each with its key type and hash.
        """
        expected = {
            SignatureScheme.RSA_PKCS1_SHA1: ("RSA", hashes.SHA1),
            SignatureScheme.RSA_PKCS1_SHA256: ("RSA", hashes.SHA256),
            SignatureScheme.RSA_PKCS1_SHA384: ("RSA", hashes.SHA384),
            SignatureScheme.RSA_PKCS1_SHA512: ("RSA", hashes.SHA512),
            SignatureScheme.RSA_PSS_SHA256: ("RSA", hashes.SHA256),
            SignatureScheme.RSA_PSS_SHA384: ("RSA", hashes.SHA384),
            SignatureScheme.RSA_PSS_SHA512: ("RSA", hashes.SHA512),
            SignatureScheme.ECDSA_SHA256: ("EC", hashes.SHA256),
            SignatureScheme.ECDSA_SHA384: ("EC", hashes.SHA384),
            SignatureScheme.ECDSA_SHA512: ("EC", hashes.SHA512),
        }
        self.assertEqual(set(SignatureScheme), set(expected))
        for scheme, (key_type, hash_type) in expected.items():
            self.assertEqual(scheme.key_type, key_type)
            self.assertIsInstance(scheme.hash_algorithm, hash_type)

    def test_isPss(self) -> None:
        """
        Only the RSA_PSS schemes use PSS.
        """
        self.assertEqual(
            {s for s in SignatureScheme if s.is_pss},
            {
                SignatureScheme.RSA_PSS_SHA256,
                SignatureScheme.RSA_PSS_SHA384,
                SignatureScheme.RSA_PSS_SHA512,
            },
        )


class SignVerifyTests(SynchronousTestCase):
    """
    L{sign} and L{verify} for every scheme.
    """

    def test_roundTrip(self) -> None:
        """
        Every scheme signs with a matching key, and the signature verifies
        with the public key; another message does not.
        """
        for scheme in SignatureScheme:
            for key in _keysFor(scheme):
                signature = sign(key, MESSAGE, scheme)
                self.assertTrue(
                    verify(key.public_key(), MESSAGE, signature, scheme), scheme
                )
                self.assertFalse(
                    verify(key.public_key(), MESSAGE + b"!", signature, scheme),
                    scheme,
                )

    def test_prehashedMatchesMessage(self) -> None:
        """
        Signing a digest gives a signature that verifies over the message,
        and a signature over the message verifies against its digest.
        """
        for scheme in SignatureScheme:
            digest = _digest(scheme, MESSAGE)
            for key in _keysFor(scheme):
                public = key.public_key()
                from_digest = sign(key, digest, scheme, prehashed=True)
                self.assertTrue(verify(public, MESSAGE, from_digest, scheme), scheme)
                self.assertTrue(
                    verify(public, digest, from_digest, scheme, prehashed=True),
                    scheme,
                )
                from_message = sign(key, MESSAGE, scheme)
                self.assertTrue(
                    verify(public, digest, from_message, scheme, prehashed=True),
                    scheme,
                )

    def test_pkcs1IsDeterministic(self) -> None:
        """
        PKCS#1 v1.5 signatures over the digest equal those over the message.
        """
        scheme = SignatureScheme.RSA_PKCS1_SHA256
        self.assertEqual(
            sign(RSA_KEY, _digest(scheme, MESSAGE), scheme, prehashed=True),
            sign(RSA_KEY, MESSAGE, scheme),
        )

    def test_pssParameters(self) -> None:
        """
        PSS uses MGF1 with the message hash and a salt as long as the digest,
        so a verifier using those explicit parameters accepts it.
        """
        for scheme in RSA_SCHEMES:
            if not scheme.is_pss:
                continue
            algorithm = scheme.hash_algorithm
            signature = sign(RSA_KEY, MESSAGE, scheme)
            RSA_KEY.public_key().verify(
                signature,
                MESSAGE,
                padding.PSS(
                    mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size
                ),
                algorithm,
            )
            # PSS is not PKCS#1 v1.5 under the same hash.
            self.assertFalse(
                verify(
                    RSA_KEY.public_key(),
                    MESSAGE,
                    signature,
                    SignatureScheme[scheme.name.replace("PSS", "PKCS1")],
                )
            )

    def test_ecdsaIsDer(self) -> None:
        """
        ECDSA signatures are DER SEQUENCEs.
        """
        signature = sign(P256_KEY, MESSAGE, SignatureScheme.ECDSA_SHA256)
        self.assertEqual(signature[0], 0x30)

    def test_badSignature(self) -> None:
        """
        A damaged, empty, or garbage signature, or one by another key, is
        C{False}, never an exception.
        """
        for scheme in SignatureScheme:
            for key in _keysFor(scheme):
                public = key.public_key()
                damaged = bytearray(sign(key, MESSAGE, scheme))
                damaged[len(damaged) // 2] ^= 0x01
                self.assertFalse(verify(public, MESSAGE, bytes(damaged), scheme))
                self.assertFalse(verify(public, MESSAGE, b"", scheme))
                self.assertFalse(verify(public, MESSAGE, b"\x30\x00" * 40, scheme))
        other = ec.generate_private_key(ec.SECP256R1())
        signature = sign(other, MESSAGE, SignatureScheme.ECDSA_SHA256)
        self.assertFalse(
            verify(
                P256_KEY.public_key(), MESSAGE, signature, SignatureScheme.ECDSA_SHA256
            )
        )

    def test_wrongScheme(self) -> None:
        """
        A signature checked under another scheme of the same key type is
        C{False}.
        """
        signature = sign(RSA_KEY, MESSAGE, SignatureScheme.RSA_PKCS1_SHA256)
        self.assertFalse(
            verify(
                RSA_KEY.public_key(),
                MESSAGE,
                signature,
                SignatureScheme.RSA_PKCS1_SHA384,
            )
        )

    def test_wrongDigestLength(self) -> None:
        """
        A prehashed digest of the wrong length is refused, for signing and
        for verifying.
        """
        for scheme in SignatureScheme:
            key = _keysFor(scheme)[0]
            wrong = b"\x00" * (scheme.hash_algorithm.digest_size + 1)
            e = self.assertRaises(
                InvalidValueError, sign, key, wrong, scheme, prehashed=True
            )
            self.assertIn(str(scheme.hash_algorithm.digest_size), str(e))
            self.assertRaises(
                InvalidValueError,
                verify,
                key.public_key(),
                wrong[:-2],
                b"sig",
                scheme,
                prehashed=True,
            )

    def test_mismatchedKeyType(self) -> None:
        """
        A scheme for one key type used with the other is refused.
        """
        for scheme in EC_SCHEMES:
            e = self.assertRaises(InvalidValueError, sign, RSA_KEY, MESSAGE, scheme)
            self.assertIn(scheme.name, str(e))
            self.assertRaises(
                InvalidValueError,
                verify,
                RSA_KEY.public_key(),
                MESSAGE,
                b"sig",
                scheme,
            )
        for scheme in RSA_SCHEMES:
            self.assertRaises(InvalidValueError, sign, P256_KEY, MESSAGE, scheme)
            self.assertRaises(
                InvalidValueError,
                verify,
                P384_KEY.public_key(),
                MESSAGE,
                b"sig",
                scheme,
            )

    def test_unsupportedKeyType(self) -> None:
        """
        A key type outside the policy is refused by every scheme.
        """
        key = ed25519.Ed25519PrivateKey.generate()
        for scheme in SignatureScheme:
            self.assertRaises(InvalidValueError, sign, key, MESSAGE, scheme)
            self.assertRaises(
                InvalidValueError, verify, key.public_key(), MESSAGE, b"sig", scheme
            )


class SchemeForKeyTests(SynchronousTestCase):
    """
    L{scheme_for_key} picks a default scheme.
    """

    def test_defaults(self) -> None:
        """
        RSA gets PKCS#1 v1.5 with SHA-256; EC the hash matching the curve;
        private and public keys alike.
        """
        cases: list[tuple[PrivateKey, SignatureScheme]] = [
            (RSA_KEY, SignatureScheme.RSA_PKCS1_SHA256),
            (P256_KEY, SignatureScheme.ECDSA_SHA256),
            (P384_KEY, SignatureScheme.ECDSA_SHA384),
        ]
        for key, scheme in cases:
            self.assertEqual(scheme_for_key(key), scheme)
            self.assertEqual(scheme_for_key(key.public_key()), scheme)

    def test_defaultsSign(self) -> None:
        """
        The default scheme of a key signs and verifies with it.
        """
        for key in (RSA_KEY, P256_KEY, P384_KEY):
            scheme = scheme_for_key(key)
            signature = sign(key, MESSAGE, scheme)
            self.assertTrue(verify(key.public_key(), MESSAGE, signature, scheme))

    def test_refused(self) -> None:
        """
        Keys outside the policy have no scheme.
        """
        for key in (
            ec.generate_private_key(ec.SECP521R1()),
            ed25519.Ed25519PrivateKey.generate(),
        ):
            self.assertRaises(InvalidValueError, scheme_for_key, key)
