"""
Tests for L{nsstwisted.security.pkcs11token}, L{nsstwisted.security.tokenkeys},
L{nsstwisted.security.tokenreference} and L{nsstwisted.security.pinfile},
against a real SoftHSM2 token (L{tests.softhsm}).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.certgen import build_certificate, subject_name
from nsstwisted.security.errors import (
    InvalidValueError,
    PinFileError,
    TokenKeyError,
    TokenUnavailableError,
)
from nsstwisted.security.pinfile import TokenPin, read_pin_file
from nsstwisted.security.pkcs11token import Pkcs11Token
from nsstwisted.security.signing import SignatureScheme, sign, verify
from nsstwisted.security.tokenkeys import (
    TokenEcKey,
    TokenMechanism,
    TokenRsaKey,
    is_token_key,
)
from nsstwisted.security.tokenreference import TokenKeyReference
from tests.softhsm import SoftToken, new_token


def certificate_for(
    key: TokenRsaKey | TokenEcKey, name: str = "token key"
) -> x509.Certificate:
    """
    A self-signed certificate for a token key, signed by the token.
    """
    now = datetime.now(UTC)
    return build_certificate(
        subject=subject_name([("CN", name)]),
        public_key=key.public_key(),
        issuer_certificate=None,
        issuer_key=key,
        not_before=now,
        not_after=now + timedelta(days=1),
        certificate_authority=False,
    )


class Observed:
    """
    What a token told its observer, in order.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def token_reset(self, token: str, reason: str) -> None:
        self.events.append(("reset", reason))

    def token_unavailable(self, error: TokenUnavailableError) -> None:
        self.events.append(("unavailable", error.text))

    def token_available(self, token: str) -> None:
        self.events.append(("available", token))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pkcs11_private_key(
    case: SynchronousTestCase, soft: SoftToken, reference: TokenKeyReference
) -> Any:
    """
    The key object itself, through python-pkcs11 directly, logged in with
    the user PIN, to read its attributes as any other application of the
    token could.
    """
    import pkcs11

    lib = pkcs11.lib(soft.module)
    token = lib.get_token(token_label=soft.label)
    try:
        session = token.open(user_pin=soft.pin)
    except pkcs11.UserAlreadyLoggedIn:
        session = token.open()
    case.addCleanup(session.close)
    return session.get_key(
        object_class=pkcs11.ObjectClass.PRIVATE_KEY,
        label=reference.label,
        id=reference.id,
    )


class TokenKeyTests(SynchronousTestCase):
    """
    Keys made in the token, signing through the one signing path.
    """

    def setUp(self) -> None:
        self.soft = new_token(self)
        self.observed = Observed()
        self.token = self.soft.open(observer=self.observed)
        self.addCleanup(self.token.close)

    def test_generatedKeyNeverLeaves(self) -> None:
        """
        A key pair made in the token is a token object, sensitive and never
        extractable, as the token itself says; its private exponent cannot
        be read by anyone, and the key object here refuses to export it.
        """
        import pkcs11

        key = self.token.generate_key_pair("RSA", 2048, "never leaves")
        self.assertTrue(is_token_key(key))
        found = _pkcs11_private_key(self, self.soft, key.reference)
        Attribute = pkcs11.Attribute
        self.assertIs(found[Attribute.EXTRACTABLE], False)
        self.assertIs(found[Attribute.NEVER_EXTRACTABLE], True)
        self.assertIs(found[Attribute.SENSITIVE], True)
        self.assertIs(found[Attribute.ALWAYS_SENSITIVE], True)
        self.assertIs(found[Attribute.TOKEN], True)
        self.assertIs(found[Attribute.DECRYPT], False)
        self.assertRaises(
            pkcs11.AttributeSensitive,
            lambda: found[Attribute.PRIVATE_EXPONENT],
        )
        self.assertRaises(TokenKeyError, key.private_bytes)
        self.assertRaises(TokenKeyError, key.private_numbers)

    def test_keyIdIsSubjectKeyIdentifier(self) -> None:
        """
        The key's CKA_ID is the SHA-1 key identifier of its public key, as
        other PKCS#11 tools look keys up by, and its label the one asked for.
        """
        key = self.token.generate_key_pair("NISTECC", 256, "Client1 cert")
        self.assertEqual(key.reference.label, "Client1 cert")
        self.assertEqual(key.reference.token, self.soft.label)
        self.assertEqual(
            key.reference.id,
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest,
        )

    def assertSignsEveryScheme(self, algorithm: str, size: int, keyType: str) -> None:
        made = self.token.generate_key_pair(algorithm, size, f"{algorithm} {size}")
        certificate = certificate_for(made)
        certificate.verify_directly_issued_by(certificate)
        key = self.token.private_key(made.reference, certificate)
        schemes = [s for s in SignatureScheme if s.key_type == keyType]
        for scheme in schemes:
            data = b"IKE_SA_INIT | Nr | prf(SK_pi, IDi)"
            signature = sign(key, data, scheme)
            self.assertTrue(
                verify(certificate.public_key(), data, signature, scheme), scheme
            )
            digest = hashlib.new(scheme.hash_algorithm.name, data).digest()
            signature = sign(key, digest, scheme, prehashed=True)
            self.assertTrue(
                verify(certificate.public_key(), digest, signature, scheme, True),
                scheme,
            )

    def test_rsaSignsEveryScheme(self) -> None:
        """
        An RSA-2048 token key signs every RSA scheme (PKCS#1 v1.5 and PSS,
        each hash), of data and of a digest, verifiably.
        """
        self.assertSignsEveryScheme("RSA", 2048, "RSA")

    def test_p256SignsEveryScheme(self) -> None:
        self.assertSignsEveryScheme("NISTECC", 256, "EC")

    def test_p384SignsEveryScheme(self) -> None:
        self.assertSignsEveryScheme("NISTECC", 384, "EC")

    def test_mechanismsChecked(self) -> None:
        """
        Loading a key finds the mechanisms it signs with; a scheme whose
        mechanism the key does not have is refused as not fitting the key.
        """
        made = self.token.generate_key_pair("RSA", 2048, "mechanisms")
        certificate = certificate_for(made)
        key = self.token.private_key(made.reference, certificate)
        assert isinstance(key, TokenRsaKey)
        self.assertEqual(
            key.mechanisms,
            {TokenMechanism.RSA_PKCS, TokenMechanism.RSA_PKCS_PSS},
        )
        public = made.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        without = TokenRsaKey(
            self.token,
            made.reference,
            public,
            frozenset({TokenMechanism.RSA_PKCS}),
        )
        sign(without, b"x", SignatureScheme.RSA_PKCS1_SHA256)
        error = self.assertRaises(
            InvalidValueError, sign, without, b"x", SignatureScheme.RSA_PSS_SHA256
        )
        self.assertIn("CKM_RSA_PKCS_PSS", error.text)

    def test_keyOfAnotherCertificateRefused(self) -> None:
        """
        A reference to a key that is not the certificate's is refused when
        it is loaded: its probe signature does not verify.
        """
        one = self.token.generate_key_pair("NISTECC", 256, "one")
        two = self.token.generate_key_pair("NISTECC", 256, "two")
        error = self.assertRaises(
            TokenKeyError, self.token.private_key, two.reference, certificate_for(one)
        )
        self.assertIn("not the private key of its certificate", error.text)

    def test_keyTypeChecked(self) -> None:
        rsaKey = self.token.generate_key_pair("RSA", 2048, "rsa")
        ecKey = self.token.generate_key_pair("NISTECC", 256, "ec")
        error = self.assertRaises(
            TokenKeyError,
            self.token.private_key,
            ecKey.reference,
            certificate_for(rsaKey),
        )
        self.assertIn("not the certificate's key type", error.text)

    def test_missingKey(self) -> None:
        made = self.token.generate_key_pair("NISTECC", 256, "gone")
        certificate = certificate_for(made)
        self.token.destroy_key(made.reference)
        error = self.assertRaises(
            TokenKeyError, self.token.private_key, made.reference, certificate
        )
        self.assertIn("holds no private key 'gone'", error.text)

    def test_keyOfAnotherToken(self) -> None:
        """
        A key in a token this one is not is unavailable here, not missing.
        """
        made = self.token.generate_key_pair("NISTECC", 256, "elsewhere")
        other = TokenKeyReference("OTHER", "elsewhere", made.reference.id)
        self.assertRaises(
            TokenUnavailableError,
            self.token.private_key,
            other,
            certificate_for(made),
        )

    def test_findByPublicKey(self) -> None:
        """
        A key is found by its public key: RSA by its modulus, EC through its
        public key object.
        """
        for algorithm, size in (("RSA", 2048), ("NISTECC", 256)):
            made = self.token.generate_key_pair(algorithm, size, f"find {algorithm}")
            self.token.generate_key_pair(algorithm, size, f"other {algorithm}")
            (found,) = self.token.find_key(made.public_key())
            self.assertEqual(found.reference, made.reference)
            self.assertFalse(found.extractable)
            self.assertTrue(found.sensitive)

    def test_listKeys(self) -> None:
        self.token.generate_key_pair("RSA", 3072, "b rsa")
        self.token.generate_key_pair("NISTECC", 384, "a ec")
        listed = [(k.reference.label, k.keyType, k.size) for k in self.token.keys()]
        self.assertEqual(listed, [("a ec", "NISTECC", 384), ("b rsa", "RSA", 3072)])

    def test_generateRefusesOtherSizes(self) -> None:
        self.assertRaises(
            InvalidValueError, self.token.generate_key_pair, "RSA", 1024, "x"
        )
        self.assertRaises(
            InvalidValueError, self.token.generate_key_pair, "NISTECC", 521, "x"
        )
        self.assertEqual(self.token.keys(), ())

    def test_poolSignsFromManyThreads(self) -> None:
        """
        Threads beyond the pool's size sign at once, each signature good: a
        session is never lent twice, and calls into the module are one at a
        time, as its initialisation promised it.
        """
        made = self.token.generate_key_pair("NISTECC", 256, "busy")
        certificate = certificate_for(made)
        key = self.token.private_key(made.reference, certificate)
        failures: list[BaseException] = []

        def signer(number: int) -> None:
            try:
                for round in range(25):
                    data = f"{number} {round}".encode()
                    signature = sign(key, data, SignatureScheme.ECDSA_SHA256)
                    if not verify(
                        certificate.public_key(),
                        data,
                        signature,
                        SignatureScheme.ECDSA_SHA256,
                    ):
                        raise AssertionError(f"bad signature {number} {round}")
            except BaseException as e:
                failures.append(e)

        threads = [threading.Thread(target=signer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(failures, [])
        self.assertLessEqual(len(self.token._idle), self.token.sessions)


class TokenResetTests(SynchronousTestCase):
    """
    A token that was logged out or reset is logged into again, once; a
    token that is gone, or refuses the PIN, is unavailable.
    """

    def setUp(self) -> None:
        self.soft = new_token(self)
        self.observed = Observed()
        self.clock = Clock()
        self.token = self.soft.open(observer=self.observed, clock=self.clock)
        self.addCleanup(self.token.close)
        made = self.token.generate_key_pair("NISTECC", 256, "signer")
        self.certificate = certificate_for(made)
        self.key = self.token.private_key(made.reference, self.certificate)

    def signs(self) -> bool:
        signature = sign(self.key, b"data", SignatureScheme.ECDSA_SHA256)
        return verify(
            self.certificate.public_key(),
            b"data",
            signature,
            SignatureScheme.ECDSA_SHA256,
        )

    def test_loggedOut(self) -> None:
        """
        After the login is gone (a logout ends it for every session of the
        process), the next signature logs in again and is made.
        """
        self.assertTrue(self.signs())
        self.token._login.close()  # C_Logout, then C_CloseSession
        self.assertTrue(self.signs())
        self.assertEqual([e[0] for e in self.observed.events], ["reset"])
        self.assertTrue(self.signs())
        self.assertEqual(len(self.observed.events), 1)

    def test_moduleInitialisedAgain(self) -> None:
        """
        A module initialised again (every session of it ends) is logged
        into again.
        """
        self.assertTrue(self.signs())
        assert self.token._module is not None
        self.token._module.reinitialize()
        self.assertTrue(self.signs())

    def test_removed(self) -> None:
        """
        A token taken away makes its signatures fail as unavailable, after
        one attempt to log in again; it is not tried again before the retry
        interval, and is back once it is.
        """
        self.assertTrue(self.signs())
        self.soft.remove()
        error = self.assertRaises(TokenUnavailableError, self.signs)
        self.assertIn(f"token {self.soft.label} is not present", error.text)
        self.assertTrue(error.retry)
        self.assertEqual([e[0] for e in self.observed.events], ["unavailable"])
        self.assertRaises(TokenUnavailableError, self.signs)
        self.assertEqual(len(self.observed.events), 1)
        self.clock.now += 11
        self.assertRaises(TokenUnavailableError, self.signs)
        self.assertEqual(len(self.observed.events), 2)

    def test_reinitialised(self) -> None:
        """
        A token initialised again answers, but the key is gone: that is the
        key's failure, not the token's.
        """
        self.assertTrue(self.signs())
        self.soft.reinitialise()
        error = self.assertRaises(TokenKeyError, self.signs)
        self.assertIn("holds no private key 'signer'", error.text)

    def test_wrongPin(self) -> None:
        """
        A wrong PIN makes the token unavailable and is never presented
        again, however long one waits: a token counts wrong PINs towards
        locking it.  A new PIN is tried at once.
        """
        wrong = Pkcs11Token(
            self.soft.module,
            self.soft.label,
            TokenPin("not the pin"),
            observer=self.observed,
            clock=self.clock,
            pinSource="PIN file /etc/nss/token.pin",
        )
        self.addCleanup(wrong.close)
        # Log the right token out, so that the wrong PIN is checked.
        self.token.close()
        error = self.assertRaises(TokenUnavailableError, wrong.open)
        self.assertFalse(error.retry)
        self.assertIn(
            "refused the user PIN from PIN file /etc/nss/token.pin", error.text
        )
        self.assertIn("PinIncorrect", error.text)
        self.assertNotIn("not the pin", error.text)
        self.clock.now += 3600
        self.assertRaises(TokenUnavailableError, wrong.open)
        self.assertEqual([e[0] for e in self.observed.events], ["unavailable"])
        wrong.change_pin(TokenPin("not the pin"))
        self.assertRaises(TokenUnavailableError, wrong.open)
        self.assertEqual(len(self.observed.events), 1)
        wrong.change_pin(TokenPin(self.soft.pin))
        wrong.open()
        self.assertEqual(
            [e[0] for e in self.observed.events], ["unavailable", "available"]
        )

    def test_missingModule(self) -> None:
        token = Pkcs11Token("/nonexistent/libpkcs11.so", "X", TokenPin("1234"))
        error = self.assertRaises(TokenUnavailableError, token.open)
        self.assertIn(
            "PKCS#11 module /nonexistent/libpkcs11.so does not exist", error.text
        )
        self.assertEqual(error.messageId, "NSR0390E")


class TokenReferenceTests(SynchronousTestCase):
    """
    The RFC 7512 URI a certificate row holds.
    """

    def test_uri(self) -> None:
        reference = TokenKeyReference("NSS TOKEN", "Client1 cert", b"\x01\xab")
        self.assertEqual(
            reference.uri,
            "pkcs11:token=NSS%20TOKEN;object=Client1%20cert;id=%01%AB;type=private",
        )

    @given(
        st.text(min_size=1, max_size=10).filter(
            lambda t: t == t.strip() and t.isprintable()
        ),
        st.text(min_size=1, max_size=32),
        st.binary(min_size=1, max_size=64),
    )
    def test_roundTrip(self, token: str, label: str, ident: bytes) -> None:
        reference = TokenKeyReference(token, label, ident)
        self.assertEqual(TokenKeyReference.parse(reference.uri), reference)

    def test_refused(self) -> None:
        for uri in (
            "file:///x",
            "pkcs11:token=T;object=o",
            "pkcs11:token=T;object=o;id=%01;type=cert",
            "pkcs11:token=T;object=o;id=%01?pin-value=1234",
            "pkcs11:token=T;object=o;id=%01;serial=12",
            "pkcs11:token=T;token=U;object=o;id=%01",
        ):
            self.assertRaises(InvalidValueError, TokenKeyReference.parse, uri)


class PinFileTests(SynchronousTestCase):
    """
    The PIN file, and the PIN held in memory.
    """

    def setUp(self) -> None:
        folder = self.mktemp()
        os.makedirs(folder)
        self.path = os.path.join(folder, "token.pin")

    def write(self, data: bytes, mode: int = 0o600) -> None:
        with open(self.path, "wb") as f:
            f.write(data)
        os.chmod(self.path, mode)

    def test_read(self) -> None:
        self.write(b"12345678\n")
        self.assertEqual(read_pin_file(self.path).reveal(), "12345678")

    def test_openToOthersRefused(self) -> None:
        """
        A PIN file group or others may read is refused, saying its mode and
        what to do, never the PIN.
        """
        for mode in (0o640, 0o604, 0o644):
            self.write(b"secret-pin\n", mode)
            error = self.assertRaises(PinFileError, read_pin_file, self.path)
            self.assertEqual(
                str(error),
                f"NSR0392E PIN file {self.path} has mode {mode:04o}; mode 0600 is "
                "required (no access for group or others): chmod 600 it",
            )

    def test_missingEmptyLong(self) -> None:
        self.assertIn(
            "does not exist",
            str(self.assertRaises(PinFileError, read_pin_file, self.path)),
        )
        self.write(b"\n")
        self.assertIn(
            "is empty", str(self.assertRaises(PinFileError, read_pin_file, self.path))
        )
        self.write(b"1234\n5678\n")
        error = self.assertRaises(PinFileError, read_pin_file, self.path)
        self.assertNotIn("1234", str(error))

    def test_notAFile(self) -> None:
        os.mkfifo(self.path, 0o600)
        self.assertIn(
            "is not a regular file",
            str(self.assertRaises(PinFileError, read_pin_file, self.path)),
        )

    def test_pinNotShown(self) -> None:
        pin = TokenPin("secret-pin")
        self.assertNotIn("secret-pin", repr(pin))
        self.assertNotIn("secret-pin", str(pin))
        self.assertRaises(TypeError, pickle.dumps, pin)
