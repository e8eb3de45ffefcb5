"""
RACDCERT with keys in a PKCS#11 token (GENCERT ... TOKEN(name), PCICC and
ICSF; BIND, UNBIND, LISTTOKEN), through C{nss-racf} against a real SoftHSM2
token, and the key ring signing with what they recorded.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.cli.racf import run
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import TokenUnavailableError
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.signing import SignatureScheme, verify
from nsstwisted.security.tokenaccess import TokenAccess, TokenOpener
from nsstwisted.security.tokenreference import TokenKeyReference
from tests.softhsm import new_token
from tests.test_pkcs11token import _pkcs11_private_key, certificate_for

SETUP = """
ADDUSER CLIENT1 NOPASSWORD
ADDUSER NSSD NOPASSWORD
RACDCERT ID(NSSD) ADDRING(NSSRING)
"""


class TokenCommandTests(SynchronousTestCase):
    """
    The token functions of RACDCERT, run by nss-racf with a module and a
    PIN file, as an administrator runs them.
    """

    def setUp(self) -> None:
        self.soft = new_token(self)
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.database = os.path.join(self.folder, "security.db")
        self.assertEqual(self.racf_job(SETUP)[0], 0)

    def nss_racf(self, *argv: str, tokens: bool = True) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        options = (
            [
                "--pkcs11-module",
                self.soft.module,
                "--pkcs11-pin-file",
                self.soft.pinFile,
                "--pkcs11-token",
                self.soft.label,
            ]
            if tokens
            else []
        )
        status = run(
            ["--database", self.database, *options, *argv],
            out,
            err,
            io.StringIO(""),
        )
        return status, out.getvalue(), err.getvalue()

    def racf_job(self, text: str) -> tuple[int, str, str]:
        path = os.path.join(self.folder, "job.racf")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return self.nss_racf("--file", path)

    def open(self) -> SecurityDatabase:
        database = SecurityDatabase.open(self.database, self.database[:-3] + ".sth")
        self.addCleanup(database.close)
        return database

    def store(self) -> KeyRingStore:
        """
        A key ring on the database that reaches the test's token, as nssd's
        does.
        """
        opener = TokenOpener(
            TokenAccess(self.soft.module, self.soft.pinFile, self.soft.label)
        )
        self.addCleanup(opener.close)
        return KeyRingStore(self.open(), opener)

    def gencert(self, label: str, where: str, owner: str = "ID(CLIENT1)") -> str:
        status, out, err = self.nss_racf(
            f"RACDCERT {owner} GENCERT SUBJECTSDN(CN('{label}')) WITHLABEL('{label}') "
            f"ALTNAME(DOMAIN('client1.example')) {where}"
        )
        self.assertEqual((status, err), (0, ""))
        return out

    def test_gencertInToken(self) -> None:
        """
        GENCERT RSA(TOKEN(name)) makes the key pair in the token: the
        database records where (the token, the key's label and id), never
        the key, and the token will never hand it out.
        """
        out = self.gencert(
            "Client1 cert", f"RSA(TOKEN('{self.soft.label}')) SIZE(2048)"
        )
        self.assertIn(
            "NSR0302I certificate 'Client1 cert' of ID(CLIENT1) added with its "
            "private key",
            out,
        )
        self.assertIn(
            "NSR0395I the private key of certificate 'Client1 cert' was made in "
            f"PKCS#11 token {self.soft.label} as object 'Client1 cert'",
            out,
        )
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute(
                "SELECT sealed_key, token_key, der FROM certificates "
                "WHERE label = 'Client1 cert'"
            ).fetchall()
        ((sealed, tokenKey, der),) = rows
        self.assertIsNone(sealed)
        reference = TokenKeyReference.parse(tokenKey)
        self.assertEqual(reference.uri, tokenKey)
        self.assertEqual(
            (reference.token, reference.label), (self.soft.label, "Client1 cert")
        )
        certificate = x509.load_der_x509_certificate(der)
        self.assertEqual(
            reference.id,
            x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest,
        )
        import pkcs11

        key = _pkcs11_private_key(self, self.soft, reference)
        self.assertIs(key[pkcs11.Attribute.EXTRACTABLE], False)
        self.assertIs(key[pkcs11.Attribute.SENSITIVE], True)
        # The self-signed certificate was signed in the token.
        certificate.verify_directly_issued_by(certificate)

    def test_tokenKeySigns(self) -> None:
        """
        A ring's certificate whose key is in the token signs, through the
        key ring, as a sealed key does.
        """
        self.gencert("Client1 cert", f"NISTECC(TOKEN('{self.soft.label}')) SIZE(384)")
        self.assertEqual(
            self.nss_racf(
                "RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('Client1 cert') "
                "RING(NSSRING))"
            )[0],
            0,
        )
        store = self.store()
        ring = store.ring("NSSD", "NSSRING")
        self.assertEqual(store.pin_keys(ring), 1)
        data = b"IKE_AUTH"
        signature = store.sign_entry(
            ring.entry("Client1 cert"), data, SignatureScheme.ECDSA_SHA384
        )
        self.assertTrue(
            verify(
                ring.entry("Client1 cert").record.certificate.public_key(),
                data,
                signature,
                SignatureScheme.ECDSA_SHA384,
            )
        )
        self.assertFalse(store.signs_quickly(ring.entry("Client1 cert")))

    def test_pcicc(self) -> None:
        """
        PCICC, which in RACF makes an RSA key in ICSF's hardware, makes it in
        the token nss-racf is given; its value names the key object.
        """
        out = self.gencert("Client1 cert", "PCICC(HARDKEY) SIZE(3072)")
        self.assertIn("as object 'HARDKEY'", out)
        store = self.store()
        record = store.get_certificate(CertificateOwner.user("CLIENT1"), "Client1 cert")
        assert record.tokenKey is not None
        self.assertEqual(record.tokenKey.label, "HARDKEY")
        self.assertEqual(record.certificate.public_key().key_size, 3072)  # type: ignore[union-attr]

    def test_icsfNeedsToken(self) -> None:
        status, _out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('x')) WITHLABEL('x') ICSF",
            tokens=False,
        )
        self.assertEqual(status, 1)
        self.assertIn("no PKCS#11 token is named: write TOKEN(name)", err)

    def test_pkdsRefused(self) -> None:
        status, _out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('x')) WITHLABEL('x') RSA(PKDS)"
        )
        self.assertEqual(status, 1)
        self.assertIn("RSA(PKDS) names ICSF's key data set", err)

    def test_noModule(self) -> None:
        """
        A token named without a module to reach it stops the job: nothing
        can be made there.
        """
        status, _out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('x')) WITHLABEL('x') "
            f"RSA(TOKEN({self.soft.label}))",
            tokens=False,
        )
        self.assertEqual(status, 2)
        self.assertIn(
            f"NSR0390E RACDCERT: token {self.soft.label} is needed, but no PKCS#11 "
            "module was given (nss-racf --pkcs11-module",
            err,
        )

    def test_pinFileOpenToOthers(self) -> None:
        os.chmod(self.soft.pinFile, 0o644)
        status, _out, err = self.nss_racf(f"RACDCERT LISTTOKEN({self.soft.label})")
        self.assertEqual(status, 2)
        self.assertIn(
            f"NSR0392E RACDCERT: PIN file {self.soft.pinFile} has mode 0644; mode "
            "0600 is required",
            err,
        )
        self.assertNotIn(self.soft.pin, err)

    def test_failedGencertLeavesNoKey(self) -> None:
        """
        A GENCERT that cannot store its certificate makes no key in the
        token: the label is checked first.
        """
        self.gencert("Client1 cert", f"RSA(TOKEN({self.soft.label}))")
        status, _out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('again')) "
            f"WITHLABEL('Client1 cert') RSA(TOKEN({self.soft.label}))"
        )
        self.assertEqual(status, 1)
        self.assertIn("NSR0102E", err)
        token = self.soft.open()
        self.addCleanup(token.close)
        self.assertEqual(len(token.keys()), 1)

    def test_caInToken(self) -> None:
        """
        A CA whose key is in the token signs the certificates GENCERT
        SIGNWITH makes, there.
        """
        self.gencert("Token CA", f"NISTECC(TOKEN({self.soft.label}))", owner="CERTAUTH")
        out = self.gencert(
            "Client1 cert", "NISTECC SIGNWITH(CERTAUTH LABEL('Token CA'))"
        )
        self.assertNotIn("NSR0395I", out)
        store = self.store()
        ca = store.get_certificate(CertificateOwner.authority(), "Token CA")
        client = store.get_certificate(CertificateOwner.user("CLIENT1"), "Client1 cert")
        client.certificate.verify_directly_issued_by(ca.certificate)
        self.assertIsNone(client.tokenKey)

    def test_bindUnbind(self) -> None:
        """
        A certificate added without its key is bound to the key already in
        the token by its public key, and signs; UNBIND forgets the key,
        which stays in the token.
        """
        token = self.soft.open()
        self.addCleanup(token.close)
        made = token.generate_key_pair("RSA", 2048, "made elsewhere")
        path = os.path.join(self.folder, "cert.pem")
        with open(path, "wb") as f:
            f.write(certificate_for(made).public_bytes(serialization.Encoding.PEM))
        status, _out, err = self.nss_racf(
            f"RACDCERT ID(CLIENT1) ADD('{path}') WITHLABEL('Bound')"
        )
        self.assertEqual((status, err), (0, ""))
        status, out, err = self.nss_racf(
            f"RACDCERT ID(CLIENT1) BIND(TOKEN({self.soft.label}) LABEL('Bound'))"
        )
        self.assertEqual((status, err), (0, ""))
        self.assertIn(
            "NSR0393I certificate 'Bound' of ID(CLIENT1) is bound to the private "
            f"key 'made elsewhere' (id {made.reference.id.hex().upper()}) in "
            f"PKCS#11 token {self.soft.label}",
            out,
        )
        self.assertNotIn("NSR0396W", out)
        record = self.store().get_certificate(CertificateOwner.user("CLIENT1"), "Bound")
        self.assertEqual(record.tokenKey, made.reference)
        self.assertTrue(record.hasPrivateKey)
        status, out, err = self.nss_racf(
            f"RACDCERT ID(CLIENT1) UNBIND(TOKEN({self.soft.label}) LABEL('Bound'))"
        )
        self.assertEqual((status, err), (0, ""))
        self.assertIn("NSR0394I certificate 'Bound' of ID(CLIENT1) is no longer", out)
        status, out, _ = self.nss_racf("RACDCERT ID(CLIENT1) LIST(LABEL('Bound'))")
        self.assertIn("Private Key Type: NONE", out)
        self.assertEqual(len(token.keys()), 1)

    def test_bindRefused(self) -> None:
        """
        BIND refuses a certificate whose key is sealed here, and one whose
        key the token does not hold.
        """
        self.gencert("Sealed", "NISTECC")
        status, _out, err = self.nss_racf(
            f"RACDCERT ID(CLIENT1) BIND(TOKEN({self.soft.label}) LABEL('Sealed'))"
        )
        self.assertEqual(status, 1)
        self.assertIn("has a private key already, sealed in the security database", err)
        other = self.soft.open()
        self.addCleanup(other.close)
        elsewhere = certificate_for(other.generate_key_pair("NISTECC", 256, "x"))
        other.destroy_key(
            TokenKeyReference(
                self.soft.label,
                "x",
                x509.SubjectKeyIdentifier.from_public_key(
                    elsewhere.public_key()
                ).digest,
            )
        )
        path = os.path.join(self.folder, "orphan.pem")
        with open(path, "wb") as f:
            f.write(elsewhere.public_bytes(serialization.Encoding.PEM))
        self.assertEqual(
            self.nss_racf(f"RACDCERT ID(CLIENT1) ADD('{path}') WITHLABEL('Orphan')")[0],
            0,
        )
        status, _out, err = self.nss_racf(
            f"RACDCERT ID(CLIENT1) BIND(TOKEN({self.soft.label}) LABEL('Orphan'))"
        )
        self.assertEqual(status, 1)
        self.assertIn(
            f"NSR0391E RACDCERT: token {self.soft.label} holds no private key whose "
            "public key is that of certificate 'Orphan' of ID(CLIENT1)",
            err,
        )

    def test_listToken(self) -> None:
        """
        LISTTOKEN lists the token's private keys, their attributes and the
        certificates bound to them; its JSON says the same.
        """
        self.gencert("Client1 cert", f"RSA(TOKEN({self.soft.label}))")
        token = self.soft.open()
        self.addCleanup(token.close)
        token.generate_key_pair("NISTECC", 256, "spare")
        status, out, err = self.nss_racf(f"RACDCERT LISTTOKEN({self.soft.label})")
        self.assertEqual((status, err), (0, ""))
        self.assertIn(f"Token: {self.soft.label}\n", out)
        self.assertIn("  Private keys: 2\n", out)
        self.assertIn(
            "  Key Label: Client1 cert\n",
            out,
        )
        self.assertIn("  Key Type: RSA   Size: 2048\n", out)
        self.assertIn("  Sensitive: YES   Extractable: NO   Sign: YES\n", out)
        self.assertIn("  Certificate: 'Client1 cert' of ID(CLIENT1)\n", out)
        self.assertIn("  Key Label: spare\n", out)
        self.assertIn("  Certificate: NONE\n", out)
        status, out, err = self.nss_racf(
            "--json", f"RACDCERT LISTTOKEN({self.soft.label})"
        )
        self.assertEqual(status, 0)
        (shown,) = json.loads(out)
        entries: list[dict[str, Any]] = shown["Entries"]
        self.assertEqual(shown["Function"], "LISTTOKEN")
        self.assertEqual([e["KeyLabel"] for e in entries], ["Client1 cert", "spare"])
        self.assertEqual(
            entries[0]["Certificates"],
            [{"Label": "Client1 cert", "Owner": "ID(CLIENT1)"}],
        )
        self.assertIs(entries[0]["Extractable"], False)

    def test_listShowsToken(self) -> None:
        self.gencert("Client1 cert", f"RSA(TOKEN({self.soft.label}))")
        _, out, _ = self.nss_racf("RACDCERT ID(CLIENT1) LIST")
        self.assertIn("  Private Key Type: RSA\n", out)
        self.assertIn(f"  Private Key Token: pkcs11:token={self.soft.label};", out)

    def test_addTokenRefused(self) -> None:
        for function, tool in (
            ("ADDTOKEN", "--init-token"),
            ("DELTOKEN", "--delete-token"),
        ):
            status, _out, err = self.nss_racf(f"RACDCERT {function}(NEWTOKEN)")
            self.assertEqual(status, 1)
            self.assertIn(f"softhsm2-util {tool}", err)

    def test_rolloverLeavesKeyInToken(self) -> None:
        """
        Retiring a certificate whose key is in the token forgets the key
        here and says it stays there; REKEY makes the successor's key in the
        same token.
        """
        self.gencert("Old", f"RSA(TOKEN({self.soft.label}))")
        status, out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) REKEY(LABEL('Old')) WITHLABEL('New')"
        )
        self.assertEqual((status, err), (0, ""))
        self.assertIn("NSR0395I the private key of certificate 'New' was made", out)
        status, out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) ROLLOVER(LABEL('Old')) NEWLABEL('New')"
        )
        self.assertEqual((status, err), (0, ""))
        self.assertIn(
            f"NSR0398W the private key of certificate 'Old' stays in PKCS#11 token "
            f"{self.soft.label} as object 'Old'",
            out,
        )
        store = self.store()
        self.assertFalse(
            store.get_certificate(CertificateOwner.user("CLIENT1"), "Old").hasPrivateKey
        )

    def test_tokenGoneAtSign(self) -> None:
        """
        With the token gone, a signature with its key fails as unavailable.
        """
        self.gencert("Client1 cert", f"RSA(TOKEN({self.soft.label}))")
        self.nss_racf(
            "RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('Client1 cert') RING(NSSRING))"
        )
        store = self.store()
        self.soft.remove()
        self.assertRaises(
            TokenUnavailableError,
            store.sign,
            "NSSD",
            "NSSRING",
            "Client1 cert",
            b"data",
        )
