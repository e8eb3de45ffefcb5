"""
Tests for L{nsstwisted.security.certgen}.
"""

# twisted.trial's assertion methods are not annotated.

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.certgen import (
    build_certificate,
    generate_private_key,
    subject_name,
)
from nsstwisted.security.errors import InvalidValueError

# Keys are made once: RSA generation dominates the run time otherwise.
RSA_KEY = generate_private_key("RSA", None)
P256_KEY = generate_private_key("NISTECC", None)
P384_KEY = generate_private_key("NISTECC", 384)
OTHER_P256_KEY = generate_private_key("NISTECC", 256)

NOW = datetime(2025, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=365)
CA_NAME = subject_name([("CN", "Test CA"), ("O", "Example"), ("C", "US")])
EE_NAME = subject_name([("CN", "host.example"), ("O", "Example"), ("C", "US")])


def _ca(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return build_certificate(
        subject=CA_NAME,
        public_key=key.public_key(),
        issuer_certificate=None,
        issuer_key=key,
        not_before=NOW,
        not_after=LATER,
        certificate_authority=True,
    )


P256_CA = _ca(P256_KEY)


def _ext(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> object:
    return certificate.extensions.get_extension_for_class(kind)


class GeneratePrivateKeyTests(SynchronousTestCase):
    """
    L{generate_private_key} offers only the sizes the policy allows.
    """

    def test_rsaDefault(self) -> None:
        """
        RSA without a size is 2048 bits with exponent 65537.
        """
        self.assertIsInstance(RSA_KEY, rsa.RSAPrivateKey)
        assert isinstance(RSA_KEY, rsa.RSAPrivateKey)
        self.assertEqual(RSA_KEY.key_size, 2048)
        self.assertEqual(RSA_KEY.public_key().public_numbers().e, 65537)

    def test_nisteccSizes(self) -> None:
        """
        NISTECC defaults to P-256 and offers P-384.
        """
        assert isinstance(P256_KEY, ec.EllipticCurvePrivateKey)
        assert isinstance(P384_KEY, ec.EllipticCurvePrivateKey)
        self.assertIsInstance(P256_KEY.curve, ec.SECP256R1)
        self.assertIsInstance(P384_KEY.curve, ec.SECP384R1)

    def test_caseInsensitive(self) -> None:
        """
        The algorithm keyword may be in any case, as RACF keywords are.
        """
        key = generate_private_key("nistecc", 384)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.assertIsInstance(key.curve, ec.SECP384R1)

    def test_refusedSizes(self) -> None:
        """
        Sizes outside the offered ones are refused, naming the size.
        """
        for algorithm, size in [
            ("RSA", 1024),
            ("RSA", 2047),
            ("RSA", 2056),
            ("RSA", 8192),
            ("NISTECC", 521),
            ("NISTECC", 224),
        ]:
            e = self.assertRaises(
                InvalidValueError, generate_private_key, algorithm, size
            )
            self.assertIn(str(size), str(e))

    def test_refusedAlgorithm(self) -> None:
        """
        Other algorithms are refused.
        """
        for algorithm in ("DSA", "ED25519", "BPECC", ""):
            self.assertRaises(InvalidValueError, generate_private_key, algorithm, None)


class SubjectNameTests(SynchronousTestCase):
    """
    L{subject_name} maps RACF SUBJECTSDN keywords.
    """

    def test_allKeywords(self) -> None:
        """
        Every keyword maps to its attribute, and the RFC 4514 form shows them
        in the order given.
        """
        name = subject_name(
            [
                ("CN", "Alice"),
                ("T", "Admin"),
                ("OU", "Unit 1"),
                ("OU", "Unit 2"),
                ("O", "Example"),
                ("L", "Springfield"),
                ("SP", "Oregon"),
                ("C", "us"),
            ]
        )
        self.assertEqual(
            name.rfc4514_string(),
            "CN=Alice,2.5.4.12=Admin,OU=Unit 1,OU=Unit 2,O=Example,"
            "L=Springfield,ST=Oregon,C=US",
        )
        self.assertEqual(name.get_attributes_for_oid(NameOID.TITLE)[0].value, "Admin")
        # X.509 encodes the most general part first.
        attributes = list(name)
        self.assertEqual(attributes[0].oid, NameOID.COUNTRY_NAME)
        self.assertEqual(attributes[-1].oid, NameOID.COMMON_NAME)

    def test_unknownKeyword(self) -> None:
        """
        An unknown keyword is refused.
        """
        e = self.assertRaises(InvalidValueError, subject_name, [("DC", "example")])
        self.assertIn("DC", str(e))

    def test_repeatedKeyword(self) -> None:
        """
        Only OU may repeat.
        """
        self.assertRaises(InvalidValueError, subject_name, [("CN", "a"), ("CN", "b")])

    def test_badCountry(self) -> None:
        """
        C must be two letters.
        """
        for country in ("USA", "U", "", "1A", "U "):
            self.assertRaises(InvalidValueError, subject_name, [("C", country)])

    def test_empty(self) -> None:
        """
        No parts, or an empty value, is refused.
        """
        self.assertRaises(InvalidValueError, subject_name, [])
        self.assertRaises(InvalidValueError, subject_name, [("CN", "")])

    def test_tooLong(self) -> None:
        """
        Values beyond the X.520 upper bounds are refused.
        """
        self.assertRaises(InvalidValueError, subject_name, [("CN", "x" * 65)])
        subject_name([("CN", "x" * 64), ("L", "y" * 128)])


class BuildCertificateTests(SynchronousTestCase):
    """
    L{build_certificate} issues CA and end-entity certificates.
    """

    def test_selfSignedCa(self) -> None:
        """
        A self-signed CA names itself as issuer, verifies with its own key and
        carries the CA extensions.
        """
        ca = P256_CA
        self.assertEqual(ca.issuer, ca.subject)
        ca.verify_directly_issued_by(ca)
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertTrue(constraints.critical)
        self.assertTrue(constraints.value.ca)
        self.assertIsNone(constraints.value.path_length)
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(usage.key_cert_sign)
        self.assertTrue(usage.crl_sign)
        self.assertTrue(usage.digital_signature)
        self.assertFalse(usage.key_encipherment)
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        self.assertEqual(
            ski, x509.SubjectKeyIdentifier.from_public_key(P256_KEY.public_key())
        )
        self.assertEqual(aki.key_identifier, ski.digest)
        self.assertIsInstance(ca.signature_hash_algorithm, hashes.SHA256)
        self.assertEqual(ca.not_valid_before_utc, NOW)
        self.assertEqual(ca.not_valid_after_utc, LATER)
        self.assertEqual(ca.version, x509.Version.v3)

    def test_endEntity(self) -> None:
        """
        An RSA end-entity certificate signed by the CA verifies with the CA's
        public key and carries end-entity extensions and alternative names.
        """
        ee = build_certificate(
            subject=EE_NAME,
            public_key=RSA_KEY.public_key(),
            issuer_certificate=P256_CA,
            issuer_key=P256_KEY,
            not_before=NOW,
            not_after=LATER,
            certificate_authority=False,
            alt_names=[
                ("IP", "192.0.2.1"),
                ("IP", "2001:db8::1"),
                ("DOMAIN", "host.example"),
                ("EMAIL", "admin@example.org"),
            ],
        )
        self.assertEqual(ee.issuer, P256_CA.subject)
        self.assertEqual(ee.subject, EE_NAME)
        ee.verify_directly_issued_by(P256_CA)
        self.assertEqual(ee.public_key(), RSA_KEY.public_key())
        constraints = ee.extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertFalse(constraints.value.ca)
        usage = ee.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(usage.digital_signature)
        self.assertTrue(usage.key_encipherment)
        self.assertFalse(usage.key_cert_sign)
        aki = ee.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
        ca_ski = P256_CA.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        self.assertEqual(aki.value.key_identifier, ca_ski.value.digest)
        san = ee.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        self.assertFalse(san.critical)
        self.assertEqual(
            san.value.get_values_for_type(x509.IPAddress),
            [
                ipaddress.ip_address("192.0.2.1"),
                ipaddress.ip_address("2001:db8::1"),
            ],
        )
        self.assertEqual(san.value.get_values_for_type(x509.DNSName), ["host.example"])
        self.assertEqual(
            san.value.get_values_for_type(x509.RFC822Name), ["admin@example.org"]
        )
        self.assertIsInstance(ee.signature_hash_algorithm, hashes.SHA256)
        # 159-bit random serials, positive.
        self.assertTrue(0 < ee.serial_number < 2**159)

    def test_ecEndEntityHasNoKeyEncipherment(self) -> None:
        """
        An EC key cannot encipher keys, so its usage does not claim so.
        """
        ee = build_certificate(
            subject=EE_NAME,
            public_key=OTHER_P256_KEY.public_key(),
            issuer_certificate=P256_CA,
            issuer_key=P256_KEY,
            not_before=NOW,
            not_after=LATER,
            certificate_authority=False,
        )
        usage = ee.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(usage.digital_signature)
        self.assertFalse(usage.key_encipherment)
        self.assertRaises(
            x509.ExtensionNotFound,
            ee.extensions.get_extension_for_class,
            x509.SubjectAlternativeName,
        )

    def test_p384IssuerUsesSha384(self) -> None:
        """
        A P-384 issuer signs with SHA-384; an RSA CA with SHA-256.
        """
        ca384 = _ca(P384_KEY)
        self.assertIsInstance(ca384.signature_hash_algorithm, hashes.SHA384)
        rsa_ca = _ca(RSA_KEY)
        self.assertIsInstance(rsa_ca.signature_hash_algorithm, hashes.SHA256)
        ee = build_certificate(
            subject=EE_NAME,
            public_key=P256_KEY.public_key(),
            issuer_certificate=rsa_ca,
            issuer_key=RSA_KEY,
            not_before=NOW,
            not_after=LATER,
            certificate_authority=False,
        )
        ee.verify_directly_issued_by(rsa_ca)

    def test_intermediate(self) -> None:
        """
        A CA signed by a CA can itself issue.
        """
        intermediate = build_certificate(
            subject=subject_name([("CN", "Intermediate")]),
            public_key=P384_KEY.public_key(),
            issuer_certificate=P256_CA,
            issuer_key=P256_KEY,
            not_before=NOW,
            not_after=LATER,
            certificate_authority=True,
        )
        intermediate.verify_directly_issued_by(P256_CA)
        ee = build_certificate(
            subject=EE_NAME,
            public_key=OTHER_P256_KEY.public_key(),
            issuer_certificate=intermediate,
            issuer_key=P384_KEY,
            not_before=NOW,
            not_after=LATER,
            certificate_authority=False,
        )
        ee.verify_directly_issued_by(intermediate)
        self.assertIsInstance(ee.signature_hash_algorithm, hashes.SHA384)

    def test_explicitSerial(self) -> None:
        """
        An explicit serial is used; a non-positive or too large one refused.
        """
        ca = build_certificate(
            subject=CA_NAME,
            public_key=P256_KEY.public_key(),
            issuer_certificate=None,
            issuer_key=P256_KEY,
            not_before=NOW,
            not_after=LATER,
            certificate_authority=True,
            serial_number=42,
        )
        self.assertEqual(ca.serial_number, 42)
        for serial in (0, -1, 2**159):
            self.assertRaises(
                InvalidValueError,
                build_certificate,
                subject=CA_NAME,
                public_key=P256_KEY.public_key(),
                issuer_certificate=None,
                issuer_key=P256_KEY,
                not_before=NOW,
                not_after=LATER,
                certificate_authority=True,
                serial_number=serial,
            )

    def _assertRefused(self, **overrides: object) -> InvalidValueError:
        arguments: dict[str, object] = {
            "subject": EE_NAME,
            "public_key": OTHER_P256_KEY.public_key(),
            "issuer_certificate": P256_CA,
            "issuer_key": P256_KEY,
            "not_before": NOW,
            "not_after": LATER,
            "certificate_authority": False,
        }
        arguments.update(overrides)
        error: InvalidValueError = self.assertRaises(
            InvalidValueError, build_certificate, **arguments
        )
        return error

    def test_validityOrder(self) -> None:
        """
        The certificate must expire after it starts.
        """
        self._assertRefused(not_after=NOW)
        self._assertRefused(not_before=LATER, not_after=NOW)

    def test_naiveTimes(self) -> None:
        """
        Times without a zone are refused.
        """
        self._assertRefused(not_before=datetime(2025, 1, 1))
        self._assertRefused(not_after=datetime(2026, 1, 1))

    def test_issuerNotCa(self) -> None:
        """
        An end-entity certificate cannot issue.
        """
        ee = build_certificate(
            subject=EE_NAME,
            public_key=OTHER_P256_KEY.public_key(),
            issuer_certificate=P256_CA,
            issuer_key=P256_KEY,
            not_before=NOW,
            not_after=LATER,
            certificate_authority=False,
        )
        e = self._assertRefused(
            issuer_certificate=ee,
            issuer_key=OTHER_P256_KEY,
            public_key=P384_KEY.public_key(),
        )
        self.assertIn("not a certificate authority", str(e))

    def test_issuerKeyMismatch(self) -> None:
        """
        The issuer key must be the CA certificate's key.
        """
        e = self._assertRefused(issuer_key=P384_KEY)
        self.assertIn("does not match", str(e))

    def test_selfSignedKeyMismatch(self) -> None:
        """
        A self-signed certificate must be signed by its own key.
        """
        self._assertRefused(issuer_certificate=None, issuer_key=P384_KEY)

    def test_badAltNames(self) -> None:
        """
        Malformed addresses and unknown name types are refused.
        """
        for alt in [
            ("IP", "300.1.1.1"),
            ("IP", "host.example"),
            ("IP", ""),
            ("URI", "http://example"),
            ("DOMAIN", ""),
            ("DOMAIN", "bücher.example"),
            ("EMAIL", "no-at-sign"),
            ("EMAIL", "@example"),
        ]:
            self._assertRefused(alt_names=[alt])

    def test_keyPolicy(self) -> None:
        """
        A key outside the policy can neither be certified nor sign.
        """
        small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
        e = self._assertRefused(public_key=small.public_key())
        self.assertIn("1024", str(e))
        p521 = ec.generate_private_key(ec.SECP521R1())
        e = self._assertRefused(
            issuer_certificate=None,
            issuer_key=p521,
            public_key=p521.public_key(),
        )
        self.assertIn("secp521r1", str(e))

    def test_emptySubject(self) -> None:
        """
        An empty subject name is refused.
        """
        self._assertRefused(subject=x509.Name([]))
