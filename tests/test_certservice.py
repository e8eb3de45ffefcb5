"""
Tests for L{nsstwisted.security.certservice} and the TLS identity of the key
ring store, and of L{nsstwisted.ike.certpath} with the CAs of a key ring.
"""

from datetime import UTC, datetime, timedelta

from OpenSSL import SSL
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.certpath import ChainError, validate_path
from nsstwisted.security.certgen import (
    build_certificate,
    generate_private_key,
    subject_name,
)
from nsstwisted.security.certservice import (
    IdentityKind,
    SignerIdentity,
    certificate_authorities,
    find_signer,
)
from nsstwisted.security.errors import InvalidValueError, NotFoundError
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.users import UserRegistry
from tests.fixtures import new_database

CA = CertificateOwner.authority()
C1 = CertificateOwner.user("CLIENT1")


class CertificateServiceTests(SynchronousTestCase):
    def setUp(self) -> None:
        database = new_database(self)
        users = UserRegistry(database)
        users.add_user("nssd")
        users.add_user("client1")
        self.store = KeyRingStore(database)
        self.store.generate_certificate(
            CA, "CA", subject_name([("CN", "CA"), ("O", "Ex")]), algorithm="NISTECC"
        )
        self.store.generate_certificate(
            C1,
            "c1",
            subject_name([("CN", "client1"), ("O", "Ex")]),
            algorithm="NISTECC",
            signWith=(CA, "CA"),
            altNames=(
                ("IP", "192.0.2.1"),
                ("DOMAIN", "client1.example"),
                ("EMAIL", "ike@client1.example"),
            ),
        )
        self.store.add_ring("nssd", "r")
        self.store.connect("nssd", "r", CA, "CA")
        self.store.connect("nssd", "r", C1, "c1", default=True)
        self.ring = self.store.ring("nssd", "r")

    def test_byLabel(self) -> None:
        self.assertEqual(find_signer(self.ring, label="c1").record.label, "c1")
        self.assertRaises(NotFoundError, find_signer, self.ring, label="CA")

    def test_byIdentity(self) -> None:
        for kind, value in [
            (IdentityKind.DN, "CN=client1,O=Ex"),
            (IdentityKind.DN, "cn=CLIENT1, o=ex"),
            (IdentityKind.DN, "CN=  client1 ,O=EX"),
            (IdentityKind.IPADDR, "192.0.2.1"),
            (IdentityKind.FQDN, "CLIENT1.example."),
            (IdentityKind.EMAIL, "IKE@client1.example"),
        ]:
            entry = find_signer(self.ring, identity=SignerIdentity(kind, value))
            self.assertEqual(entry.record.label, "c1", kind)
        for kind, value in [
            (IdentityKind.DN, "CN=other"),
            (IdentityKind.DN, "O=Ex,CN=client1"),
            (IdentityKind.DN, "CN=client1"),
            (IdentityKind.DN, "CN=client 1,O=Ex"),
            (IdentityKind.DN, "not a DN =="),
            (IdentityKind.IPADDR, "192.0.2.2"),
            (IdentityKind.IPADDR, "nonsense"),
            (IdentityKind.FQDN, "client2.example"),
        ]:
            self.assertRaises(
                NotFoundError,
                find_signer,
                self.ring,
                identity=SignerIdentity(kind, value),
            )

    def test_exactlyOneSelector(self) -> None:
        self.assertRaises(InvalidValueError, find_signer, self.ring)

    def test_chain(self) -> None:
        anchors = [e.record.certificate for e in certificate_authorities(self.ring)]
        leaf = self.store.get_certificate(C1, "c1").certificate
        chain = validate_path(leaf, [], anchors)
        self.assertEqual([c.subject for c in chain], [leaf.subject, anchors[0].subject])

    def test_chainExpired(self) -> None:
        anchors = [e.record.certificate for e in certificate_authorities(self.ring)]
        leaf = self.store.get_certificate(C1, "c1").certificate
        later = datetime.now(UTC) + timedelta(days=800)
        self.assertRaises(ChainError, validate_path, leaf, [], anchors, later)

    def test_chainUnknownIssuer(self) -> None:
        key = generate_private_key("NISTECC", 256)
        now = datetime.now(UTC)
        stranger = build_certificate(
            subject=subject_name([("CN", "stranger")]),
            public_key=key.public_key(),
            issuer_certificate=None,
            issuer_key=key,
            not_before=now,
            not_after=now + timedelta(days=1),
            certificate_authority=False,
        )
        anchors = [e.record.certificate for e in certificate_authorities(self.ring)]
        self.assertRaises(ChainError, validate_path, stranger, [], anchors)
        self.assertRaises(ChainError, validate_path, stranger, [], [])

    def test_tlsIdentity(self) -> None:
        context = SSL.Context(SSL.TLS_METHOD)
        record = self.store.install_tls_identity("nssd", "r", None, context)
        self.assertEqual(record.label, "c1")
        self.assertRaises(
            NotFoundError, self.store.install_tls_identity, "nssd", "r", "x", context
        )
