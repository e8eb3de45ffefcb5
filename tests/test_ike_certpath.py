"""
Tests for L{nsstwisted.ike.certpath}: chains made by openssl, strongSwan's
pki and RACDCERT GENCERT validate, as they do in those tools; what RFC 5280
section 6 makes strict stays strict; certificates that do not parse give
L{MalformedCertificate} and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.auth import SignatureScheme
from nsstwisted.ike.certpath import (
    ChainError,
    MalformedCertificate,
    load_certificate,
    load_certificates,
    validate_path,
)
from nsstwisted.ike.certprofile import check_end_entity
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.localauth import LocalTrust
from tests.pkichains import (
    ToolChain,
    malformed,
    openssl_chain,
    racdcert_chain,
    strongswan_chain,
)

NOW = datetime.now(UTC)
Extensions = Sequence[tuple[x509.ExtensionType, bool]]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca_usage(certSign: bool = True) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certSign,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


CA = x509.BasicConstraints(ca=True, path_length=None)
OPENSSL_CA: Extensions = ((CA, True),)
"""What C{openssl req -x509} gives a CA by default: no keyUsage."""


class Issuer:
    """A CA made with cryptography, whose extensions a test chooses."""

    def __init__(
        self,
        name: str,
        extensions: Extensions = OPENSSL_CA,
        parent: Issuer | None = None,
        notAfter: datetime = NOW + timedelta(days=30),
        issuerName: x509.Name | None = None,
    ) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(name)
        signer = parent or self
        self.certificate = _build(
            self.name,
            self.key.public_key(),
            issuerName or signer.name,
            signer.key,
            extensions,
            notAfter,
        )

    def issue(
        self, name: str = "peer.example", extensions: Extensions = ()
    ) -> x509.Certificate:
        key = ec.generate_private_key(ec.SECP256R1())
        return _build(
            _name(name), key.public_key(), self.name, self.key, extensions, None
        )


def _build(
    subject: x509.Name,
    publicKey: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    signingKey: ec.EllipticCurvePrivateKey,
    extensions: Extensions,
    notAfter: datetime | None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(publicKey)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(notAfter or NOW + timedelta(days=30))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signingKey, hashes.SHA256())


class ToolChainTests(SynchronousTestCase):
    """
    A chain made by each tool, with its defaults, validates; its end
    entity fits the IKE profile; and iked's local check takes a signature
    made with its key.  Before RFC 5280's CA profile replaced the
    CA/Browser Forum's, the openssl chain was refused ("Certificate is
    missing required extension" for 2.5.29.15, keyUsage).
    """

    def chain(self, make: Callable[[str], ToolChain]) -> ToolChain:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        return make(folder)

    def assertValidates(self, chain: ToolChain) -> None:
        path = validate_path(chain.leaf, [chain.intermediate], [chain.root])
        self.assertEqual(path, [chain.leaf, chain.intermediate, chain.root])
        check_end_entity(chain.leaf)
        if chain.leafKey is None:
            return
        assert isinstance(chain.leafKey, ec.EllipticCurvePrivateKey)
        signature = chain.leafKey.sign(b"AUTH octets", ec.ECDSA(hashes.SHA256()))
        LocalTrust((chain.root,)).verify(
            chain.ders(), SignatureScheme.ECDSA_SHA256, b"AUTH octets", signature
        )
        self.assertRaises(
            IkeError,
            LocalTrust((chain.root,)).verify,
            chain.ders(),
            SignatureScheme.ECDSA_SHA256,
            b"other octets",
            signature,
        )

    def test_openssl(self) -> None:
        chain = self.chain(openssl_chain)
        for ca in (chain.root, chain.intermediate):
            self.assertRaises(
                x509.ExtensionNotFound,
                ca.extensions.get_extension_for_class,
                x509.KeyUsage,
            )
        self.assertValidates(chain)

    def test_strongswan(self) -> None:
        self.assertValidates(self.chain(strongswan_chain))

    def test_racdcert(self) -> None:
        self.assertValidates(self.chain(racdcert_chain))

    def test_intermediate_needed(self) -> None:
        """Without the intermediate there is no path, whichever tool."""
        chain = self.chain(openssl_chain)
        self.assertRaises(ChainError, validate_path, chain.leaf, [], [chain.root])


class CaProfileTests(SynchronousTestCase):
    """
    RFC 5280 section 6, case by case, for a root and an intermediate made
    with cryptography.
    """

    def validates(self, root: Issuer, sub: Issuer | None = None) -> None:
        issuer = sub or root
        leaf = issuer.issue()
        intermediates = [sub.certificate] if sub is not None else []
        validate_path(leaf, intermediates, [root.certificate])

    def refused(self, why: str, root: Issuer, sub: Issuer | None = None) -> None:
        error = self.assertRaises(ChainError, self.validates, root, sub)
        self.assertIn(why, str(error))

    def test_no_key_usage(self) -> None:
        """6.1.4 (n) checks keyCertSign only where keyUsage is present."""
        root = Issuer("root")
        self.validates(root)
        self.validates(root, Issuer("sub", parent=root))

    def test_key_usage_without_cert_sign(self) -> None:
        root = Issuer("root", ((CA, True), (_ca_usage(certSign=False), True)))
        self.refused("keyCertSign", root)
        good = Issuer("root")
        sub = Issuer("sub", ((CA, True), (_ca_usage(certSign=False), True)), good)
        self.refused("keyCertSign", good, sub)
        self.validates(good, Issuer("sub", ((CA, True), (_ca_usage(), True)), good))

    def test_basic_constraints_required(self) -> None:
        """6.1.4 (k): no basicConstraints, or cA FALSE, is no CA."""
        self.refused("missing required extension", Issuer("root", ()))
        notCa = x509.BasicConstraints(ca=False, path_length=None)
        self.refused("cA", Issuer("root", ((notCa, True),)))
        root = Issuer("root")
        self.refused(
            "missing required extension",
            root,
            Issuer("sub", ((_ca_usage(), True),), root),
        )

    def test_basic_constraints_criticality(self) -> None:
        """Section 6 does not test criticality; OpenSSL and strongSwan neither."""
        self.validates(Issuer("root", ((CA, False),)))

    def test_path_length(self) -> None:
        """6.1.4 (l), (m): a pathLenConstraint of 0 allows no intermediate."""
        root = Issuer("root", ((x509.BasicConstraints(ca=True, path_length=0), True),))
        self.validates(root)
        self.refused("", root, Issuer("sub", parent=root))
        longer = Issuer(
            "root", ((x509.BasicConstraints(ca=True, path_length=1), True),)
        )
        self.validates(longer, Issuer("sub", parent=longer))

    def test_validity(self) -> None:
        """6.1.3 (a)(2): every certificate of the path is valid now."""
        root = Issuer("root")
        self.refused("", root, Issuer("sub", parent=root, notAfter=NOW - timedelta(1)))
        self.refused("", Issuer("root", notAfter=NOW - timedelta(days=1)))

    def test_signature(self) -> None:
        """6.1.3 (a)(1): a CA of the same name but another key did not sign."""
        root = Issuer("root")
        impostor = Issuer("root")
        leaf = impostor.issue()
        self.assertRaises(ChainError, validate_path, leaf, [], [root.certificate])

    def test_name_chaining(self) -> None:
        """6.1.3 (a)(4): the issuer name is the CA's subject name."""
        root = Issuer("root")
        sub = Issuer("sub", parent=root, issuerName=_name("other root"))
        self.assertRaises(
            ChainError,
            validate_path,
            sub.issue(),
            [sub.certificate],
            [root.certificate],
        )

    def test_name_constraints(self) -> None:
        """6.1.4 (g): a CA's name constraints bind the names below it."""
        only = x509.NameConstraints([x509.DNSName("good.example")], None)
        root = Issuer("root", ((CA, True), (only, True)))
        for name, fits in (("peer.good.example", True), ("peer.bad.example", False)):
            san = x509.SubjectAlternativeName([x509.DNSName(name)])
            leaf = root.issue(name, ((san, False),))
            if fits:
                validate_path(leaf, [], [root.certificate])
            else:
                self.assertRaises(
                    ChainError, validate_path, leaf, [], [root.certificate]
                )

    def test_unknown_critical_extension(self) -> None:
        """RFC 5280 4.2: a CA with a critical extension we cannot process."""
        unknown = x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"
        )
        self.refused("critical", Issuer("root", ((CA, True), (unknown, True))))
        self.validates(Issuer("root", ((CA, True), (unknown, False))))

    def test_key_identifiers_any_form(self) -> None:
        """
        Key identifiers help find a path; section 6 does not read them. An
        authorityKeyIdentifier with issuer and serial (OpenSSL's
        C{keyid,issuer}) passes, and so does a CA with none.
        """
        root = Issuer("root")
        aki = x509.AuthorityKeyIdentifier(
            key_identifier=None,
            authority_cert_issuer=[x509.DirectoryName(root.name)],
            authority_cert_serial_number=root.certificate.serial_number,
        )
        self.validates(root, Issuer("sub", ((CA, True), (aki, False)), root))

    def test_ca_extended_key_usage(self) -> None:
        """
        Section 6 does not process a CA's extendedKeyUsage: a CA limited to
        IKE passes (the CA/Browser Forum profile wants TLS client auth).
        """
        ike = x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17")])
        self.validates(Issuer("root", ((CA, True), (ike, False))))

    def test_no_anchor(self) -> None:
        leaf = Issuer("root").issue()
        error = self.assertRaises(ChainError, validate_path, leaf, [], [])
        self.assertIn("no certificate authority", str(error))

    def test_at(self) -> None:
        """The validation time is the caller's."""
        root = Issuer("root")
        leaf = root.issue()
        validate_path(leaf, [], [root.certificate], NOW)
        self.assertRaises(
            ChainError,
            validate_path,
            leaf,
            [],
            [root.certificate],
            NOW + timedelta(days=60),
        )


class LoadTests(SynchronousTestCase):
    """Whatever the bytes, the answer is a certificate or L{MalformedCertificate}."""

    def test_malformed(self) -> None:
        good = Issuer("root").issue(
            extensions=(
                (x509.SubjectAlternativeName([x509.DNSName("peer.example")]), False),
                (
                    x509.AuthorityKeyIdentifier(b"k" * 20, None, None),
                    False,
                ),
            )
        )
        der = good.public_bytes(Encoding.DER)
        self.assertEqual(load_certificate(der), good)
        for name, spoilt in malformed(der).items():
            error = self.assertRaises(MalformedCertificate, load_certificate, spoilt)
            self.assertIn("not a readable X.509 certificate", str(error), name)
            error = self.assertRaises(
                MalformedCertificate, load_certificates, [der, spoilt]
            )
            self.assertTrue(str(error).startswith("certificate 1: "), name)
