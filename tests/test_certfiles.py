"""
Tests for L{nsstwisted.security.certfiles}.
"""

# twisted.trial's assertion methods are not annotated.

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
)
from cryptography.hazmat.primitives.serialization import pkcs12
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.certfiles import (
    MAX_FILE_SIZE,
    LoadedCertificate,
    check_key_policy,
    load_certificate_file,
)
from nsstwisted.security.certgen import (
    build_certificate,
    generate_private_key,
    subject_name,
)
from nsstwisted.security.errors import CertificateFileError, InvalidValueError

NOW = datetime(2025, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=365)
PASSWORD = b"correct horse"

CA_KEY = generate_private_key("NISTECC", 256)
CA_CERT = build_certificate(
    subject=subject_name([("CN", "Test CA"), ("C", "US")]),
    public_key=CA_KEY.public_key(),
    issuer_certificate=None,
    issuer_key=CA_KEY,
    not_before=NOW,
    not_after=LATER,
    certificate_authority=True,
)
RSA_KEY = generate_private_key("RSA", 2048)
RSA_CERT = build_certificate(
    subject=subject_name([("CN", "rsa.example")]),
    public_key=RSA_KEY.public_key(),
    issuer_certificate=CA_CERT,
    issuer_key=CA_KEY,
    not_before=NOW,
    not_after=LATER,
    certificate_authority=False,
)
EC_KEY = generate_private_key("NISTECC", 384)
EC_CERT = build_certificate(
    subject=subject_name([("CN", "ec.example")]),
    public_key=EC_KEY.public_key(),
    issuer_certificate=CA_CERT,
    issuer_key=CA_KEY,
    not_before=NOW,
    not_after=LATER,
    certificate_authority=False,
)

PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8
TRADITIONAL = serialization.PrivateFormat.TraditionalOpenSSL
PLAIN = serialization.NoEncryption()
ENCRYPTED = serialization.BestAvailableEncryption(PASSWORD)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(PEM)


def _weak_rsa_key() -> rsa.RSAPrivateKey:
    """
    An RSA key below the policy's minimum, made on purpose.
    """
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


def _outside_policy_certificate(
    key: CertificateIssuerPrivateKeyTypes,
) -> x509.Certificate:
    """
    A self-signed certificate built with cryptography directly, since
    L{build_certificate} refuses such keys.
    """
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "weak")])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(LATER)
        .sign(key, algorithm)
    )


class LoadCertificateFileTests(SynchronousTestCase):
    """
    L{load_certificate_file} reads PEM, DER and PKCS#12.
    """

    def setUp(self) -> None:
        os.mkdir(directory := self.mktemp())
        self.directory = directory

    def _write(self, data: bytes, name: str = "cert") -> str:
        path = os.path.join(self.directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _load(self, data: bytes, password: bytes | None = None) -> LoadedCertificate:
        return load_certificate_file(self._write(data), password)

    def _assertFileError(
        self, data: bytes, password: bytes | None = None
    ) -> CertificateFileError:
        path = self._write(data)
        error: CertificateFileError = self.assertRaises(
            CertificateFileError, load_certificate_file, path, password
        )
        return error

    def test_pemCertificate(self) -> None:
        """
        A PEM file with one certificate gives that certificate and no key.
        """
        loaded = self._load(_pem(RSA_CERT))
        self.assertEqual(loaded, LoadedCertificate(RSA_CERT, None, ()))

    def test_pemCertificateChainAndKey(self) -> None:
        """
        The first certificate is the one added, the others its chain; the key
        may appear anywhere, and text between blocks is ignored.
        """
        key = RSA_KEY.private_bytes(PEM, PKCS8, PLAIN)
        data = (
            key
            + b"Bag Attributes\n    friendlyName: test\n"
            + _pem(RSA_CERT)
            + b"\n"
            + _pem(CA_CERT)
        )
        loaded = self._load(data)
        self.assertEqual(loaded.certificate, RSA_CERT)
        self.assertEqual(loaded.chain, (CA_CERT,))
        assert loaded.private_key is not None
        self.assertEqual(loaded.private_key.public_key(), RSA_KEY.public_key())

    def test_pemTraditionalKeys(self) -> None:
        """
        Traditional "RSA PRIVATE KEY" and "EC PRIVATE KEY" blocks are read,
        and an "EC PARAMETERS" block before the key is skipped.
        """
        loaded = self._load(
            _pem(RSA_CERT) + RSA_KEY.private_bytes(PEM, TRADITIONAL, PLAIN)
        )
        self.assertIsInstance(loaded.private_key, rsa.RSAPrivateKey)
        parameters = (
            b"-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n"
            b"-----END EC PARAMETERS-----\n"
        )
        ec_key = EC_KEY.private_bytes(PEM, TRADITIONAL, PLAIN)
        self.assertIn(b"EC PRIVATE KEY", ec_key)
        loaded = self._load(parameters + ec_key + _pem(EC_CERT))
        self.assertIsInstance(loaded.private_key, ec.EllipticCurvePrivateKey)
        self.assertEqual(loaded.certificate, EC_CERT)

    def test_crlfLineEnds(self) -> None:
        """
        PEM written on Windows, with CR LF line ends, is read.
        """
        data = _pem(RSA_CERT) + RSA_KEY.private_bytes(PEM, PKCS8, PLAIN)
        loaded = self._load(data.replace(b"\n", b"\r\n"))
        self.assertEqual(loaded.certificate, RSA_CERT)
        self.assertIsNotNone(loaded.private_key)

    def test_encryptedPkcs8Key(self) -> None:
        """
        An encrypted PKCS#8 key needs the right password.
        """
        data = _pem(EC_CERT) + EC_KEY.private_bytes(PEM, PKCS8, ENCRYPTED)
        self.assertIn(b"ENCRYPTED PRIVATE KEY", data)
        loaded = self._load(data, PASSWORD)
        assert loaded.private_key is not None
        self.assertEqual(loaded.private_key.public_key(), EC_KEY.public_key())
        e = self._assertFileError(data, b"wrong")
        self.assertIn("wrong", str(e))
        self.assertNotIn("correct horse", str(e))
        e = self._assertFileError(data)
        self.assertIn("no password", str(e))

    def test_encryptedTraditionalKey(self) -> None:
        """
        An encrypted traditional key (Proc-Type header) needs the right
        password.
        """
        data = _pem(RSA_CERT) + RSA_KEY.private_bytes(PEM, TRADITIONAL, ENCRYPTED)
        self.assertIn(b"Proc-Type: 4,ENCRYPTED", data)
        loaded = self._load(data, PASSWORD)
        self.assertIsInstance(loaded.private_key, rsa.RSAPrivateKey)
        e = self._assertFileError(data, b"not the password")
        self.assertIn("wrong", str(e))
        self.assertNotIn("not the password", str(e))
        e = self._assertFileError(data)
        self.assertIn("no password", str(e))

    def test_passwordForPlainKeyIgnored(self) -> None:
        """
        A password given for a file with nothing encrypted is not an error.
        """
        data = _pem(RSA_CERT) + RSA_KEY.private_bytes(PEM, PKCS8, PLAIN)
        self.assertIsNotNone(self._load(data, PASSWORD).private_key)

    def test_der(self) -> None:
        """
        A DER file holds one certificate.
        """
        loaded = self._load(RSA_CERT.public_bytes(serialization.Encoding.DER))
        self.assertEqual(loaded, LoadedCertificate(RSA_CERT, None, ()))

    def test_pkcs12(self) -> None:
        """
        A PKCS#12 file with key and chain is read with the right password
        and refused with a wrong or missing one.
        """
        data = pkcs12.serialize_key_and_certificates(
            b"friendly", RSA_KEY, RSA_CERT, [CA_CERT], ENCRYPTED
        )
        loaded = self._load(data, PASSWORD)
        self.assertEqual(loaded.certificate, RSA_CERT)
        self.assertEqual(loaded.chain, (CA_CERT,))
        assert loaded.private_key is not None
        self.assertEqual(loaded.private_key.public_key(), RSA_KEY.public_key())
        e = self._assertFileError(data, b"wrong password")
        self.assertIn("wrong", str(e))
        self.assertNotIn("wrong password", str(e))
        e = self._assertFileError(data)
        self.assertIn("none was given", str(e))

    def test_pkcs12WithoutPassword(self) -> None:
        """
        An unprotected PKCS#12 file needs no password.
        """
        data = pkcs12.serialize_key_and_certificates(None, EC_KEY, EC_CERT, None, PLAIN)
        loaded = self._load(data)
        self.assertEqual(loaded.certificate, EC_CERT)
        self.assertIsNotNone(loaded.private_key)

    def test_pkcs12CertificatesOnly(self) -> None:
        """
        A PKCS#12 file without a key gives its first certificate and the rest
        as chain.
        """
        data = pkcs12.serialize_key_and_certificates(
            None, None, None, [EC_CERT, CA_CERT], ENCRYPTED
        )
        loaded = self._load(data, PASSWORD)
        self.assertEqual(loaded, LoadedCertificate(EC_CERT, None, (CA_CERT,)))

    def test_notACertificate(self) -> None:
        """
        A text file, random bytes and a DER structure that is no certificate
        are all "not a certificate".
        """
        for data in [
            b"Dear operator,\nthis is a letter.\n",
            os.urandom(600),
            b"\x30\x03\x02\x01\x05",
            b"\x00" * 100,
        ]:
            e = self._assertFileError(data)
            self.assertIn("is not a certificate (PEM, DER or PKCS#12)", str(e))

    def test_incompletePem(self) -> None:
        """
        A PEM file cut off before its END line is not a certificate.
        """
        data = _pem(RSA_CERT)
        e = self._assertFileError(data[: len(data) // 2])
        self.assertIn("is not a certificate", str(e))

    def test_damagedPemCertificate(self) -> None:
        """
        A certificate block with damaged content is reported.
        """
        data = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        e = self._assertFileError(data)
        self.assertIn("damaged certificate", str(e))

    def test_damagedPemKey(self) -> None:
        """
        A private key block with damaged content is reported.
        """
        data = _pem(RSA_CERT) + (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        e = self._assertFileError(data)
        self.assertIn("damaged", str(e))

    def test_otherPemBlock(self) -> None:
        """
        PEM blocks that are neither certificate nor key are refused by name.
        """
        data = _pem(RSA_CERT) + (
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
            b"-----END CERTIFICATE REQUEST-----\n"
        )
        e = self._assertFileError(data)
        self.assertIn("CERTIFICATE REQUEST", str(e))

    def test_keyOnly(self) -> None:
        """
        A key without a certificate is not enough.
        """
        e = self._assertFileError(RSA_KEY.private_bytes(PEM, PKCS8, PLAIN))
        self.assertIn("no certificate", str(e))

    def test_twoKeys(self) -> None:
        """
        Which of two keys belongs to the certificate is not guessed.
        """
        data = (
            _pem(RSA_CERT)
            + RSA_KEY.private_bytes(PEM, PKCS8, PLAIN)
            + EC_KEY.private_bytes(PEM, PKCS8, PLAIN)
        )
        e = self._assertFileError(data)
        self.assertIn("more than one private key", str(e))

    def test_keyMismatch(self) -> None:
        """
        A key that is not the certificate's is refused, in PEM and PKCS#12.
        """
        data = _pem(RSA_CERT) + EC_KEY.private_bytes(PEM, PKCS8, PLAIN)
        e = self._assertFileError(data)
        self.assertIn("does not match", str(e))
        data = _pem(EC_CERT) + CA_KEY.private_bytes(PEM, PKCS8, PLAIN)
        e = self._assertFileError(data)
        self.assertIn("does not match", str(e))

    def test_empty(self) -> None:
        """
        An empty (or blank) file is reported as empty.
        """
        for data in (b"", b"\n  \n"):
            e = self._assertFileError(data)
            self.assertIn("empty", str(e))

    def test_missing(self) -> None:
        """
        A missing file is reported as such.
        """
        path = os.path.join(self.directory, "nothing")
        e = self.assertRaises(CertificateFileError, load_certificate_file, path)
        self.assertIn("does not exist", str(e))

    def test_directory(self) -> None:
        """
        A directory is not a certificate file.
        """
        e = self.assertRaises(
            CertificateFileError, load_certificate_file, self.directory
        )
        self.assertIn("not a regular file", str(e))

    def test_unreadable(self) -> None:
        """
        A file we may not read is reported.
        """
        if os.geteuid() == 0:
            raise self.skipTest("root may read any file")
        path = self._write(_pem(RSA_CERT))
        os.chmod(path, 0)
        e = self.assertRaises(CertificateFileError, load_certificate_file, path)
        self.assertIn("cannot be read", str(e))

    def test_sizeLimit(self) -> None:
        """
        A file of exactly 1 MiB is read; one byte more is refused.
        """
        data = _pem(RSA_CERT)
        padded = data + b"#" * (MAX_FILE_SIZE - len(data))
        self.assertEqual(self._load(padded).certificate, RSA_CERT)
        e = self._assertFileError(padded + b"#")
        self.assertIn("larger than", str(e))

    def test_weakKeysRefused(self) -> None:
        """
        Certificates whose keys are outside the policy (RSA-1024, Ed25519,
        P-521) are refused with L{InvalidValueError} naming type and size.
        """
        cases: list[
            tuple[
                rsa.RSAPrivateKey
                | ec.EllipticCurvePrivateKey
                | ed25519.Ed25519PrivateKey,
                str,
            ]
        ] = [
            (_weak_rsa_key(), "1024"),
            (ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
            (ec.generate_private_key(ec.SECP521R1()), "secp521r1"),
        ]
        for key, text in cases:
            certificate = _outside_policy_certificate(key)
            for data in (
                _pem(certificate),
                certificate.public_bytes(serialization.Encoding.DER),
                _pem(certificate) + key.private_bytes(PEM, PKCS8, PLAIN),
            ):
                path = self._write(data)
                e = self.assertRaises(InvalidValueError, load_certificate_file, path)
                self.assertIn(text, str(e))

    def test_weakPrivateKeyRefused(self) -> None:
        """
        A private key outside the policy is refused even before it is
        compared with the certificate.
        """
        key = _weak_rsa_key()
        path = self._write(_pem(RSA_CERT) + key.private_bytes(PEM, PKCS8, PLAIN))
        e = self.assertRaises(InvalidValueError, load_certificate_file, path)
        self.assertIn("1024", str(e))


class CheckKeyPolicyTests(SynchronousTestCase):
    """
    L{check_key_policy} is the single statement of which keys are allowed.
    """

    @staticmethod
    def _rsaPublic(bits: int) -> rsa.RSAPublicKey:
        # The policy looks only at the size, so an odd modulus of the right
        # length stands in for a real key without the cost of generating one.
        modulus = (1 << (bits - 1)) | 1
        return rsa.RSAPublicNumbers(65537, modulus).public_key()

    def test_rsaBounds(self) -> None:
        """
        RSA moduli from 2048 to 4096 bits inclusive are allowed.
        """
        for bits in (2048, 3072, 4096):
            check_key_policy(self._rsaPublic(bits))
        for bits in (1024, 2047, 4097, 8192):
            e = self.assertRaises(
                InvalidValueError, check_key_policy, self._rsaPublic(bits)
            )
            self.assertIn(f"RSA key of {bits} bits", str(e))

    def test_privateAndPublic(self) -> None:
        """
        Private and public keys are judged alike.
        """
        for key in (RSA_KEY, EC_KEY, CA_KEY):
            check_key_policy(key)
            check_key_policy(key.public_key())

    def test_curves(self) -> None:
        """
        Only P-256 and P-384 are allowed among the curves.
        """
        for curve in (ec.SECP521R1(), ec.SECP256K1(), ec.BrainpoolP256R1()):
            key = ec.generate_private_key(curve)
            e = self.assertRaises(InvalidValueError, check_key_policy, key)
            self.assertIn(curve.name, str(e))
            self.assertRaises(InvalidValueError, check_key_policy, key.public_key())

    def test_otherTypes(self) -> None:
        """
        Edwards keys are refused, naming their type.
        """
        key = ed25519.Ed25519PrivateKey.generate()
        e = self.assertRaises(InvalidValueError, check_key_policy, key)
        self.assertIn("Ed25519", str(e))
        self.assertRaises(InvalidValueError, check_key_policy, key.public_key())
