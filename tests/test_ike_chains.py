"""
Certificate chains in IKE_AUTH (issue 15, item 2): the chain a signer
builds from its CA certificates (L{nsstwisted.ike.certpath.issuers_of}),
what the engine sends of it (L{nsstwisted.ike.certpath.chain_to_send}),
and the refusal of a peer's chain that is too long or whose intermediate
did not issue the certificate below it, locally and engine against engine
with each side trusting only the root.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.auth import SignatureScheme, sign_locally
from nsstwisted.ike.certpath import (
    MAX_CHAIN_DEPTH,
    MAX_PEER_CERTIFICATES,
    ChainError,
    authority_hash,
    chain_to_send,
    check_chain_length,
    issuers_of,
)
from nsstwisted.ike.constants import NotifyType
from nsstwisted.ike.events import NegotiationFailed
from nsstwisted.ike.localauth import ChainRefused, LocalCredentials, LocalTrust
from nsstwisted.ike.sa import IkeState
from tests.ikepeers import Wire, pair
from tests.test_ike_engine import LEFT_CHILD, RIGHT_CHILD

OCTETS = b"the AUTH octets"


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)


def _build(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: Authority | None,
    ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    signer = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
        .add_extension(
            x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
            True,
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.IPSEC_IKE]), False)
    return builder.sign(signer, hashes.SHA256())


def authority(subject: str, issuer: Authority | None = None) -> Authority:
    """A root (no issuer) or an intermediate CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    return Authority(_build(subject, key, issuer, ca=True), key)


def end_entity(
    fqdn: str, issuer: Authority
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return _build(fqdn, key, issuer, ca=False), key


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


class ThreeLevels:
    """root → intermediate → end entity, for each of left and right."""

    def __init__(self) -> None:
        self.root = authority("Chain root")
        self.left = authority("Left intermediate", self.root)
        self.right = authority("Right intermediate", self.root)
        self.leftLeaf = end_entity("left.iked.test", self.left)
        self.rightLeaf = end_entity("right.iked.test", self.right)


_LEVELS: ThreeLevels | None = None


def levels() -> ThreeLevels:
    """One PKI for the run."""
    global _LEVELS
    if _LEVELS is None:
        _LEVELS = ThreeLevels()
    return _LEVELS


class IssuersTests(SynchronousTestCase):
    def test_order(self) -> None:
        """
        The issuers come in order, the certificate's own issuer first and
        the root last, whatever order the CA certificates are held in;
        the other side's intermediate is not taken.
        """
        pki = levels()
        found = issuers_of(
            pki.leftLeaf[0],
            [pki.root.certificate, pki.right.certificate, pki.left.certificate],
        )
        self.assertEqual(found, [pki.left.certificate, pki.root.certificate])

    def test_same_name_other_key(self) -> None:
        """
        A CA certificate with the issuer's name but another key (a rekeyed
        CA, or one made to look like it) is not the issuer.
        """
        pki = levels()
        impostor = authority("Left intermediate", pki.root)
        found = issuers_of(pki.leftLeaf[0], [impostor.certificate])
        self.assertEqual(found, [])

    def test_bounded(self) -> None:
        """
        However many CAs are held, the chain stops at the intermediates a
        path may hold and a root.
        """
        ca = authority("Level 0")
        held = [ca.certificate]
        for level in range(1, MAX_CHAIN_DEPTH + 4):
            ca = authority(f"Level {level}", ca)
            held.append(ca.certificate)
        leafCertificate, _ = end_entity("deep.iked.test", ca)
        found = issuers_of(leafCertificate, held)
        self.assertEqual(len(found), MAX_CHAIN_DEPTH + 1)


class ChainToSendTests(SynchronousTestCase):
    def setUp(self) -> None:
        pki = levels()
        self.pki = pki
        self.full = (der(pki.leftLeaf[0]), pki.left.der, pki.root.der)

    def test_no_certreq(self) -> None:
        """Without a CERTREQ we know, all intermediates go, never the root."""
        self.assertEqual(chain_to_send(self.full, ()), self.full[:2])

    def test_root_asked_for(self) -> None:
        """A CERTREQ for the root: the intermediates below it."""
        asked = (authority_hash(self.pki.root.certificate),)
        self.assertEqual(chain_to_send(self.full, asked), self.full[:2])

    def test_intermediate_asked_for(self) -> None:
        """A peer that trusts our intermediate gets our certificate alone."""
        asked = (b"\x00" * 20, authority_hash(self.pki.left.certificate))
        self.assertEqual(chain_to_send(self.full, asked), self.full[:1])

    def test_alone(self) -> None:
        """A signer without CA certificates: the certificate alone."""
        self.assertEqual(chain_to_send(self.full[:1], ()), self.full[:1])
        self.assertEqual(chain_to_send((), ()), ())


class LocalChainTests(SynchronousTestCase):
    """
    L{LocalTrust} with only the root: the path through a peer's
    intermediate holds, a wrong or missing intermediate or a chain too long
    does not, each as L{ChainRefused} (AUTHENTICATION_FAILED).
    """

    def verify(self, certificates: tuple[bytes, ...]) -> None:
        pki = levels()
        key = pki.leftLeaf[1]
        scheme = SignatureScheme.ECDSA_SHA256
        LocalTrust((pki.root.certificate,)).verify(
            certificates, scheme, OCTETS, sign_locally(key, scheme, OCTETS)
        )

    def assertRefused(self, certificates: tuple[bytes, ...], text: str) -> None:
        error = self.assertRaises(ChainRefused, self.verify, certificates)
        self.assertEqual(error.notify, NotifyType.AUTHENTICATION_FAILED)
        self.assertIn(text, str(error))

    def test_through_intermediate(self) -> None:
        pki = levels()
        self.verify((der(pki.leftLeaf[0]), pki.left.der))

    def test_missing_intermediate(self) -> None:
        pki = levels()
        self.assertRefused((der(pki.leftLeaf[0]),), "does not validate")

    def test_wrong_intermediate(self) -> None:
        """
        The other side's intermediate (a valid CA of the same root, but not
        the issuer) does not make a path.
        """
        pki = levels()
        self.assertRefused((der(pki.leftLeaf[0]), pki.right.der), "does not validate")

    def test_impostor_intermediate(self) -> None:
        """
        An intermediate with the issuer's name signed by another CA (not
        the root) does not make a path either.
        """
        pki = levels()
        impostor = authority("Left intermediate", authority("Another root"))
        self.assertRefused((der(pki.leftLeaf[0]), impostor.der), "does not validate")

    def test_too_long(self) -> None:
        """
        More certificates than a path may hold are refused before any is
        read: here the good path followed by junk.
        """
        pki = levels()
        certificates = (der(pki.leftLeaf[0]), pki.left.der) + (b"junk",) * (
            MAX_PEER_CERTIFICATES - 1
        )
        self.assertRefused(certificates, "longer than the 9 allowed")
        self.assertRaises(ChainError, check_chain_length, certificates)
        check_chain_length(certificates[:MAX_PEER_CERTIFICATES])


def _chained_pair() -> Wire:
    """
    Two engines whose certificates come from intermediates of one root,
    each trusting only the root and naming it in its CERTREQ.
    """
    pki = levels()
    wire = pair(
        leftChildren=(LEFT_CHILD,),
        rightChildren=(RIGHT_CHILD,),
        leftKey="p256",
        rightKey="p256",
    )
    for side, (certificate, key), intermediate in (
        (wire.left, pki.leftLeaf, pki.left),
        (wire.right, pki.rightLeaf, pki.right),
    ):
        side.credentials = LocalCredentials(
            certificate, key, chain=(intermediate.certificate, pki.root.certificate)
        )
        side.trust = LocalTrust((pki.root.certificate,))
        side.engine.set_authorities(side.trust.hashes())
    return wire


class EngineChainTests(SynchronousTestCase):
    def connect(self, wire: Wire) -> Wire:
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        wire.run()
        return wire

    def test_each_trusts_only_the_root(self) -> None:
        """
        Both sides send their intermediate (not the root the other asked
        for), and each validates the other's certificate through it.
        """
        wire = self.connect(_chained_pair())
        for side in (wire.left, wire.right):
            (sa,) = side.engine.sas()
            self.assertEqual(sa.state, IkeState.ESTABLISHED)
            self.assertEqual(len(sa.peerCertificates), 2)
        pki = levels()
        self.assertEqual(
            wire.left.engine.sas()[0].peerCertificates,
            (der(pki.rightLeaf[0]), pki.right.der),
        )

    def test_wrong_intermediate(self) -> None:
        """
        An initiator whose chain carries an intermediate that did not issue
        its certificate is refused with AUTHENTICATION_FAILED.
        """
        pki = levels()
        wire = _chained_pair()
        certificate, key = pki.leftLeaf
        wire.left.credentials = LocalCredentials(
            certificate, key, chain=(pki.right.certificate,)
        )
        self.connect(wire)
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertEqual(wire.right.engine.sas(), [])
        refused = [
            e.reason for e in wire.right.events if isinstance(e, NegotiationFailed)
        ]
        self.assertTrue(any("does not validate" in r for r in refused), refused)
        told = [e.reason for e in wire.left.events if isinstance(e, NegotiationFailed)]
        self.assertTrue(any("AUTHENTICATION_FAILED" in r for r in told), told)
