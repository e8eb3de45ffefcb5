"""
Tests for L{nsstwisted.ike.certprofile}: the RFC 4945 end-entity profile,
with a certificate of the trusted CA for each case, alone and as
L{LocalTrust} applies it after the chain check.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.auth import SignatureScheme, sign_locally
from nsstwisted.ike.certprofile import (
    PeerEku,
    UnfitCertificate,
    check_end_entity,
)
from nsstwisted.ike.constants import NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.localauth import LocalTrust

from .ikepeers import ACCEPTED, PROFILES, REFUSED, TLS_ONLY, pki, profile_leaf


class ProfileTests(SynchronousTestCase):
    def test_cases_are_all_judged(self) -> None:
        """Every case the tests build is in exactly one outcome."""
        judged = [*REFUSED, *TLS_ONLY, *ACCEPTED]
        self.assertEqual(sorted(judged), sorted(PROFILES))

    def test_refused(self) -> None:
        """
        A CA certificate, a certificate-signing key, a key usage without
        digitalSignature or nonRepudiation, and an extended key usage for
        e-mail or code signing are refused, whatever the policy allows.
        """
        for profile, reason in REFUSED.items():
            certificate, _ = profile_leaf("peer.iked.test", profile)
            for eku in PeerEku:
                with self.assertRaises(UnfitCertificate, msg=profile) as caught:
                    check_end_entity(certificate, eku)
                self.assertIn(reason, str(caught.exception))

    def test_tls_purposes(self) -> None:
        """
        serverAuth or clientAuth alone: refused by default, accepted where
        the policy says IkeOrTls.
        """
        for profile, reason in TLS_ONLY.items():
            certificate, _ = profile_leaf("peer.iked.test", profile)
            with self.assertRaises(UnfitCertificate) as caught:
                check_end_entity(certificate)
            self.assertIn(reason, str(caught.exception))
            self.assertIn("RFC 4945 section 5.1.3.12", str(caught.exception))
            check_end_entity(certificate, PeerEku.IKE_OR_TLS)

    def test_accepted(self) -> None:
        """
        No keyUsage (RFC 4945 5.1.3.2: "If no KU extension, continue"),
        nonRepudiation alone, no extended key usage, and one that names
        ipsecIKE or anyExtendedKeyUsage (critical or not, beside others).
        """
        for profile in ACCEPTED:
            certificate, _ = profile_leaf("peer.iked.test", profile)
            for eku in PeerEku:
                check_end_entity(certificate, eku)

    def test_malformed_extension(self) -> None:
        """An extension that cannot be read refuses the certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bad")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, b"\x01\x02"),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        with self.assertRaises(UnfitCertificate) as caught:
            check_end_entity(certificate)
        self.assertIn("malformed extension", str(caught.exception))


class LocalTrustTests(SynchronousTestCase):
    """L{LocalTrust} applies the profile once the chain validates."""

    def check(self, profile: str, eku: PeerEku = PeerEku.IKE) -> None:
        certificate, key = profile_leaf("peer.iked.test", profile)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        scheme = SignatureScheme.ECDSA_SHA256
        signature = sign_locally(key, scheme, b"octets")
        LocalTrust((pki().ca,)).verify(
            (certificate.public_bytes(Encoding.DER),),
            scheme,
            b"octets",
            signature,
            eku=eku,
        )

    def test_refused(self) -> None:
        for profile, reason in {**REFUSED, **TLS_ONLY}.items():
            with self.assertRaises(IkeError, msg=profile) as caught:
                self.check(profile)
            self.assertEqual(caught.exception.notify, NotifyType.AUTHENTICATION_FAILED)
            self.assertIn(reason, str(caught.exception))

    def test_accepted(self) -> None:
        for profile in ACCEPTED:
            self.check(profile)
        for profile in TLS_ONLY:
            self.check(profile, PeerEku.IKE_OR_TLS)
