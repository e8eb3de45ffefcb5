"""
Tests for L{nsstwisted.security.keyring}: certificates, rings, sealed keys,
signing, and a tampered key entry.
"""

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.certfiles import load_certificate_file
from nsstwisted.security.certgen import subject_name
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    AlreadyExistsError,
    InvalidValueError,
    LabelCollisionError,
    NotFoundError,
    TamperedEntryError,
)
from nsstwisted.security.keyring import (
    CertificateOwner,
    CertificateUsage,
    KeyRingStore,
    parse_ring_name,
)
from nsstwisted.security.signing import SignatureScheme, verify
from nsstwisted.security.users import UserRegistry
from tests.fixtures import new_database

CA = CertificateOwner.authority()
CLIENT = CertificateOwner.user("CLIENT1")


def relabel(database: SecurityDatabase, label: str, newLabel: str) -> None:
    """
    Rename a certificate behind the store's back, as a database written
    before colliding labels were refused may hold it.
    """
    with database.transaction() as cursor:
        cursor.execute(
            "UPDATE certificates SET label = ? WHERE label = ?", (newLabel, label)
        )


class KeyRingTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.database = new_database(self)
        users = UserRegistry(self.database)
        users.add_user("nssd")
        users.add_user("client1")
        self.store = KeyRingStore(self.database)
        self.store.generate_certificate(
            CA, "NSS CA", subject_name([("CN", "NSS CA")]), algorithm="NISTECC"
        )
        self.store.generate_certificate(
            CLIENT,
            "Client 1",
            subject_name([("CN", "client1")]),
            algorithm="NISTECC",
            signWith=(CA, "NSS CA"),
            altNames=(("DOMAIN", "client1.example"),),
        )
        self.store.add_ring("nssd", "nssring")
        self.store.connect("NSSD", "NSSRING", CLIENT, "Client 1")
        self.store.connect("NSSD", "NSSRING", CA, "NSS CA")


class RingNameTests(SynchronousTestCase):
    def test_seedSpelling(self) -> None:
        self.assertEqual(parse_ring_name("nssd/keyring"), ("NSSD", "KEYRING"))

    def test_invalid(self) -> None:
        for bad in ["nssd", "toolonguser/ring", "nssd/", "nssd/a b"]:
            self.assertRaises(InvalidValueError, parse_ring_name, bad)


class CertificateTests(KeyRingTestCase):
    def test_ringContents(self) -> None:
        ring = self.store.ring("nssd", "nssring")
        self.assertEqual([e.record.label for e in ring.entries], ["Client 1", "NSS CA"])
        self.assertEqual(ring.entry("Client 1").usage, CertificateUsage.PERSONAL)
        self.assertEqual(ring.entry("NSS CA").usage, CertificateUsage.CERTAUTH)

    def test_issuedByCa(self) -> None:
        client = self.store.get_certificate(CLIENT, "Client 1").certificate
        ca = self.store.get_certificate(CA, "NSS CA").certificate
        self.assertEqual(client.issuer, ca.subject)
        client.verify_directly_issued_by(ca)
        self.assertTrue(
            ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        )

    def test_duplicateLabel(self) -> None:
        self.assertRaises(
            AlreadyExistsError,
            self.store.generate_certificate,
            CLIENT,
            "Client 1",
            subject_name([("CN", "again")]),
            algorithm="NISTECC",
        )

    def assertCollision(self, owner: CertificateOwner, label: str) -> str:
        """
        GENCERT of C{label} for C{owner} is refused and adds nothing.
        """
        before = self.store.list_certificates(owner)
        error = self.assertRaises(
            LabelCollisionError,
            self.store.generate_certificate,
            owner,
            label,
            subject_name([("CN", "other")]),
            algorithm="NISTECC",
        )
        self.assertEqual(self.store.list_certificates(owner), before)
        return str(error)

    def test_sameLabelOfAnotherOwner(self) -> None:
        """
        Labels are unique per owner in RACF, but one label of two owners
        would name one profile: it is refused, across owners.
        """
        text = self.assertCollision(CertificateOwner.site(), "Client 1")
        self.assertTrue(text.startswith("NSR0310E "), text)
        self.assertIn("CLIENT$1", text)
        self.assertIn("'Client 1' of ID(CLIENT1)", text)

    def test_labelMappingToAnotherLabelsName(self) -> None:
        """
        A label differing only in case, or in a character that maps to C{$},
        names the same profile as C{Client 1}: refused, for its own owner
        as for any other.
        """
        self.store.generate_certificate(
            CertificateOwner.site(),
            "site",
            subject_name([("CN", "s")]),
            algorithm="NISTECC",
        )
        self.assertCollision(CLIENT, "CLIENT 1")
        self.assertCollision(CertificateOwner.site(), "client*1")
        self.assertCollision(CertificateOwner.site(), "Client\u00e91")

    def test_addFromFileRefusesCollision(self) -> None:
        """
        RACDCERT ADD is checked as GENCERT is, and adds nothing.
        """
        record = KeyRingStore(new_database(self)).generate_certificate(
            CertificateOwner.site(),
            "elsewhere",
            subject_name([("CN", "elsewhere")]),
            algorithm="NISTECC",
        )
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(record.der)
        self.assertRaises(
            LabelCollisionError,
            self.store.add_certificate,
            CertificateOwner.authority(),
            "nss CA",
            load_certificate_file(path),
        )
        self.assertEqual(len(self.store.list_certificates(CA)), 1)

    def test_distinctMappedLabels(self) -> None:
        """
        C{Straße} maps to C{STRA$E}, not to C{STRASSE}: both labels may be.
        """
        for label in ("Strasse", "Stra\u00dfe"):
            self.store.generate_certificate(
                CertificateOwner.site(),
                label,
                subject_name([("CN", label)]),
                algorithm="NISTECC",
            )
        self.assertCollision(CertificateOwner.site(), "STRA$E")

    def test_ringLabelCollisions(self) -> None:
        """
        A ring read from a database that holds colliding labels names them.
        """
        self.assertEqual(dict(self.store.ring("nssd", "nssring").label_collisions), {})
        self.store.generate_certificate(
            CertificateOwner.site(),
            "Legacy",
            subject_name([("CN", "s")]),
            algorithm="NISTECC",
        )
        relabel(self.database, "Legacy", "CLIENT 1")
        self.store.connect("nssd", "nssring", CertificateOwner.site(), "CLIENT 1")
        self.assertEqual(
            dict(self.store.ring("nssd", "nssring").label_collisions),
            {"CLIENT$1": ("CLIENT 1", "Client 1")},
        )

    def test_labelTooLong(self) -> None:
        self.assertRaises(
            InvalidValueError,
            self.store.generate_certificate,
            CLIENT,
            "x" * 33,
            subject_name([("CN", "x")]),
            algorithm="NISTECC",
        )

    def test_unknownUser(self) -> None:
        self.assertRaises(
            NotFoundError,
            self.store.generate_certificate,
            CertificateOwner.user("ghost"),
            "x",
            subject_name([("CN", "x")]),
            algorithm="NISTECC",
        )

    def test_noKeyInDatabaseInClear(self) -> None:
        """
        A private key holds its public modulus; if the stored blob held the
        key in clear, the modulus would show in it.
        """
        record = self.store.generate_certificate(
            CLIENT, "rsa", subject_name([("CN", "rsa")]), size=2048
        )
        modulus = record.certificate.public_key().public_numbers().n  # type: ignore[union-attr]
        with self.database.reading() as cursor:
            (blob,) = cursor.execute(
                "SELECT sealed_key FROM certificates WHERE label = 'rsa'"
            ).fetchone()
        self.assertNotIn(modulus.to_bytes(256, "big"), blob)
        self.assertNotIn(modulus.to_bytes(256, "big")[:32], blob)

    def test_addFromFileAndDuplicate(self) -> None:
        path = self.mktemp()
        der = self.store.get_certificate(CA, "NSS CA").der
        with open(path, "wb") as f:
            f.write(der)
        loaded = load_certificate_file(path)
        error = self.assertRaises(
            AlreadyExistsError,
            self.store.add_certificate,
            CertificateOwner.site(),
            "copy",
            loaded,
        )
        self.assertIn("NSS CA", str(error))

    def test_trust(self) -> None:
        self.store.set_trust(CLIENT, "Client 1", False)
        self.assertFalse(self.store.get_certificate(CLIENT, "Client 1").trusted)
        self.assertRaises(
            InvalidValueError, self.store.sign, "nssd", "nssring", "Client 1", b"x"
        )
        self.store.set_trust(CLIENT, "Client 1", True)
        self.store.sign("nssd", "nssring", "Client 1", b"x")

    def test_deleteLeavesRing(self) -> None:
        self.store.delete_certificate(CLIENT, "Client 1")
        labels = [e.record.label for e in self.store.ring("nssd", "nssring").entries]
        self.assertEqual(labels, ["NSS CA"])

    def test_removeAndDeleteRing(self) -> None:
        self.store.remove("nssd", "nssring", CA, "NSS CA")
        self.assertRaises(
            NotFoundError, self.store.remove, "nssd", "nssring", CA, "NSS CA"
        )
        self.store.get_certificate(CA, "NSS CA")
        self.store.delete_ring("nssd", "nssring")
        self.assertRaises(NotFoundError, self.store.ring, "nssd", "nssring")
        self.assertEqual(self.store.list_rings("nssd"), [])

    def test_sameLabelTwiceInRing(self) -> None:
        """
        A database written before mapped labels were kept unique may hold
        one label under two owners; the ring still takes only one of them.
        """
        self.store.generate_certificate(
            CertificateOwner.site(),
            "Legacy",
            subject_name([("CN", "site")]),
            algorithm="NISTECC",
        )
        relabel(self.database, "Legacy", "Client 1")
        self.assertRaises(
            AlreadyExistsError,
            self.store.connect,
            "nssd",
            "nssring",
            CertificateOwner.site(),
            "Client 1",
        )

    def test_defaultNeedsKey(self) -> None:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(
                self.store.get_certificate(CLIENT, "Client 1").certificate.public_bytes(
                    serialization.Encoding.PEM
                )
            )
        self.store.delete_certificate(CLIENT, "Client 1")
        self.store.add_certificate(CLIENT, "public only", load_certificate_file(path))
        self.assertRaises(
            InvalidValueError,
            self.store.connect,
            "nssd",
            "nssring",
            CLIENT,
            "public only",
            default=True,
        )


class PinnedKeyTests(KeyRingTestCase):
    """
    A server holds its ring's keys unsealed (pin_keys), so that it signs
    without the database; an elliptic-curve key held so signs quickly
    enough to be made on the server's event loop.
    """

    def setUp(self) -> None:
        super().setUp()
        self.store.generate_certificate(
            CLIENT,
            "Client RSA",
            subject_name([("CN", "client1 rsa")]),
            algorithm="RSA",
            size=2048,
            signWith=(CA, "NSS CA"),
        )
        self.store.connect("NSSD", "NSSRING", CLIENT, "Client RSA")
        self.ring = self.store.ring("NSSD", "NSSRING")
        self.entries = {e.record.label: e for e in self.ring.entries}

    def test_onlyPinnedEllipticCurveIsQuick(self) -> None:
        ecdsa, rsa = self.entries["Client 1"], self.entries["Client RSA"]
        self.assertFalse(self.store.signs_quickly(ecdsa))
        self.assertEqual(self.store.pin_keys(self.ring), 2)
        self.assertTrue(self.store.signs_quickly(ecdsa))
        self.assertFalse(self.store.signs_quickly(rsa))
        self.assertFalse(self.store.signs_quickly(self.entries["NSS CA"]))

    def test_pinnedKeysSignWithoutTheDatabase(self) -> None:
        self.store.pin_keys(self.ring)
        self.database.close()
        signature = self.store.sign_entry(
            self.entries["Client RSA"], b"octets", SignatureScheme.RSA_PKCS1_SHA256
        )
        public = self.entries["Client RSA"].record.certificate.public_key()
        self.assertTrue(
            verify(public, b"octets", signature, SignatureScheme.RSA_PKCS1_SHA256)
        )


class SigningTests(KeyRingTestCase):
    def test_signVerifies(self) -> None:
        signature = self.store.sign(
            "nssd",
            "nssring",
            "Client 1",
            b"IKE AUTH octets",
            SignatureScheme.ECDSA_SHA256,
        )
        public = self.store.get_certificate(CLIENT, "Client 1").certificate.public_key()
        self.assertTrue(
            verify(public, b"IKE AUTH octets", signature, SignatureScheme.ECDSA_SHA256)
        )

    def test_prehashed(self) -> None:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(b"data")
        signature = self.store.sign(
            "nssd",
            "nssring",
            "Client 1",
            digest.finalize(),
            SignatureScheme.ECDSA_SHA256,
            prehashed=True,
        )
        public = self.store.get_certificate(CLIENT, "Client 1").certificate.public_key()
        self.assertTrue(
            verify(public, b"data", signature, SignatureScheme.ECDSA_SHA256)
        )

    def test_caEntryDoesNotSign(self) -> None:
        self.assertRaises(
            InvalidValueError, self.store.sign, "nssd", "nssring", "NSS CA", b"x"
        )

    def test_notOnRing(self) -> None:
        self.assertRaises(
            NotFoundError, self.store.sign, "nssd", "nssring", "missing", b"x"
        )

    def test_tamperedKeyEntry(self) -> None:
        with self.database.transaction() as cursor:
            (blob,) = cursor.execute(
                "SELECT sealed_key FROM certificates WHERE label = 'Client 1'"
            ).fetchone()
            damaged = blob[:-1] + bytes([blob[-1] ^ 1])
            cursor.execute(
                "UPDATE certificates SET sealed_key = ? WHERE label = 'Client 1'",
                (damaged,),
            )
        fresh = KeyRingStore(self.database)
        self.assertRaises(
            TamperedEntryError, fresh.sign, "nssd", "nssring", "Client 1", b"x"
        )

    def test_swappedKeyEntry(self) -> None:
        """
        A sealed key moved onto another certificate's row does not open: the
        seal is bound to the certificate.
        """
        with self.database.transaction() as cursor:
            (blob,) = cursor.execute(
                "SELECT sealed_key FROM certificates WHERE label = 'NSS CA'"
            ).fetchone()
            cursor.execute(
                "UPDATE certificates SET sealed_key = ? WHERE label = 'Client 1'",
                (blob,),
            )
        fresh = KeyRingStore(self.database)
        self.assertRaises(
            TamperedEntryError, fresh.sign, "nssd", "nssring", "Client 1", b"x"
        )

    def test_noKeyApi(self) -> None:
        """
        Nothing public on the store hands out a private key.
        """
        public = [n for n in dir(self.store) if not n.startswith("_")]
        self.assertNotIn("private_key", " ".join(public))
        self.assertNotIn("export", " ".join(public))


class SignEntryTests(KeyRingTestCase):
    def test_signEntry(self) -> None:
        ring = self.store.ring("nssd", "nssring")
        signature = self.store.sign_entry(
            ring.entry("Client 1"), b"data", SignatureScheme.ECDSA_SHA256
        )
        public = ring.entry("Client 1").record.certificate.public_key()
        self.assertTrue(
            verify(public, b"data", signature, SignatureScheme.ECDSA_SHA256)
        )
        self.assertRaises(
            InvalidValueError, self.store.sign_entry, ring.entry("NSS CA"), b"data"
        )
