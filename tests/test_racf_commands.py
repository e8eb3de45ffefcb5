"""
Tests for L{nsstwisted.security.racf.commands} and its operand grammar: each
command's effect, keyword abbreviation, and atomicity of failing commands.
"""

import os

from cryptography.hazmat.primitives import serialization
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.certgen import (
    build_certificate,
    generate_private_key,
    subject_name,
)
from nsstwisted.security.errors import (
    AlreadyExistsError,
    CertificateFileError,
    CommandSyntaxError,
    InvalidValueError,
    LabelCollisionError,
    NotFoundError,
)
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.logon import Logon
from nsstwisted.security.profiles import AccessLevel, ProfileStore, ResourceClass
from nsstwisted.security.racf.commands import RacfInterpreter
from nsstwisted.security.racf.lexer import parse_command
from nsstwisted.security.users import UserRegistry
from tests.fixtures import new_database


class InterpreterTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.database = new_database(self)
        self.folder = os.path.dirname(self.database.path)
        self.interpreter = RacfInterpreter(self.database, self.folder)
        self.users = UserRegistry(self.database)
        self.profiles = ProfileStore(self.database)
        self.keyrings = KeyRingStore(self.database)

    def run_(self, text: str) -> list[str]:
        return self.interpreter.execute(parse_command(text))


class UserCommandTests(InterpreterTestCase):
    def test_adduserList(self) -> None:
        self.run_("ADDGROUP NSSCLNT")
        self.run_("adduser (client1 client2) password(pw1) dfltgrp(nssclnt)")
        self.assertEqual(self.users.list_userids(), ["CLIENT1", "CLIENT2"])
        self.assertTrue(Logon(self.database).with_password("client2", "pw1").accepted)

    def test_adduserAtomic(self) -> None:
        self.run_("ADDUSER CLIENT2")
        self.assertRaises(AlreadyExistsError, self.run_, "ADDUSER (CLIENT1 CLIENT2)")
        self.assertEqual(self.users.list_userids(), ["CLIENT2"])

    def test_altuserRevokeResume(self) -> None:
        self.run_("ADDUSER U1 PASSWORD(pw)")
        self.run_("ALTUSER U1 REVOKE")
        self.assertTrue(self.users.get_user("U1").revoked)
        self.run_("ALTUSER U1 RESUME")
        self.assertFalse(self.users.get_user("U1").revoked)

    def test_listuserShowsNoPassword(self) -> None:
        self.run_("ADDUSER U1 PASSWORD(TopSecret9) NAME('A User')")
        text = "\n".join(self.run_("LISTUSER U1"))
        self.assertIn("USER=U1", text)
        self.assertIn("NAME=A User", text)
        self.assertIn("PASSWORD=SET", text)
        self.assertNotIn("TopSecret9", text)
        self.assertNotIn("scrypt", text)

    def test_restricted(self) -> None:
        """
        ADDUSER and ALTUSER take RESTRICTED and NORESTRICTED; LISTUSER
        shows the attribute.
        """
        self.run_("ADDUSER (U1 U2) RESTRICTED")
        self.assertTrue(self.users.get_user("U1").restricted)
        self.assertIn(" ATTRIBUTES=RESTRICTED", self.run_("LISTUSER U1"))
        self.run_("ALTUSER U1 REVOKE")
        self.assertIn(" ATTRIBUTES=REVOKED RESTRICTED", self.run_("LISTUSER U1"))
        self.run_("ALTUSER U1 NORESTRICTED RESUME")
        self.assertIn(" ATTRIBUTES=NONE", self.run_("LISTUSER U1"))
        self.run_("ALTUSER U2 NAME('still restricted')")
        self.assertTrue(self.users.get_user("U2").restricted)
        self.assertRaises(
            InvalidValueError, self.run_, "ADDUSER U3 RESTRICTED NORESTRICTED"
        )

    def test_deluser(self) -> None:
        self.run_("ADDUSER U1")
        self.run_("DELUSER U1")
        self.assertRaises(NotFoundError, self.run_, "LISTUSER U1")

    def test_connectRemove(self) -> None:
        self.run_("ADDGROUP G1")
        self.run_("ADDUSER U1")
        self.run_("CONNECT U1 GROUP(G1)")
        self.assertIn("USERS=U1", "\n".join(self.run_("LISTGRP G1")))
        self.run_("REMOVE U1 GROUP(G1)")
        self.assertIn("USERS=NONE", "\n".join(self.run_("LISTGRP G1")))

    def test_abbreviation(self) -> None:
        self.run_("ADDGROUP G1")
        self.run_("ADDUSER U1 DFLT(G1) NOPASS")
        self.assertEqual(self.users.get_user("U1").defaultGroup, "G1")

    def test_ambiguousAbbreviation(self) -> None:
        error = self.assertRaises(CommandSyntaxError, self.run_, "ALTUSER U1 RE")
        self.assertEqual(error.keyword, "RE")
        self.assertIn("ambiguous", str(error))

    def test_contradiction(self) -> None:
        self.assertRaises(
            InvalidValueError, self.run_, "ADDUSER U1 PASSWORD(x) NOPASSWORD"
        )


class SyntaxTests(InterpreterTestCase):
    def test_unknownCommand(self) -> None:
        error = self.assertRaises(CommandSyntaxError, self.run_, "ADDSD 'X.Y'")
        self.assertEqual(error.command, "ADDSD")

    def test_missingPositionalCounted(self) -> None:
        """
        The count of operands missing is said as a count: never
        C{operand(s)}.
        """
        error = self.assertRaises(CommandSyntaxError, self.run_, "ADDUSER")
        self.assertIn("needs 1 positional operand", str(error))
        self.assertNotIn("operand(s)", str(error))
        error = self.assertRaises(CommandSyntaxError, self.run_, "RDEFINE SERVAUTH")
        self.assertIn("needs 2 positional operands", str(error))

    def test_unknownKeyword(self) -> None:
        error = self.assertRaises(
            CommandSyntaxError, self.run_, "RDEFINE SERVAUTH X COLOUR(RED)"
        )
        self.assertEqual((error.command, error.keyword), ("RDEFINE", "COLOUR"))

    def test_unknownNestedKeyword(self) -> None:
        error = self.assertRaises(
            CommandSyntaxError,
            self.run_,
            "RDEFINE PTKTDATA NSSD SSIGNON(KEYENCRYPTED(E001193519561977))",
        )
        self.assertEqual(error.keyword, "KEYENCRYPTED")

    def test_duplicateKeyword(self) -> None:
        error = self.assertRaises(
            CommandSyntaxError, self.run_, "RDEFINE SERVAUTH X UACC(READ) UACC(NONE)"
        )
        self.assertEqual(error.keyword, "UACC")

    def test_missingValue(self) -> None:
        self.assertRaises(CommandSyntaxError, self.run_, "RDEFINE SERVAUTH X UACC")
        self.assertRaises(CommandSyntaxError, self.run_, "RDEFINE SERVAUTH X UACC()")
        self.assertRaises(CommandSyntaxError, self.run_, "ALTUSER U1 REVOKE(1)")

    def test_missingPositional(self) -> None:
        self.assertRaises(CommandSyntaxError, self.run_, "RDEFINE SERVAUTH")
        self.assertRaises(CommandSyntaxError, self.run_, "ADDUSER")

    def test_nothingWritten(self) -> None:
        self.assertRaises(CommandSyntaxError, self.run_, "ADDUSER U1 BOGUS")
        self.assertEqual(self.users.list_userids(), [])


class ResourceCommandTests(InterpreterTestCase):
    def test_seedPtktdataAsWritten(self) -> None:
        self.run_(
            "RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)"
        )
        profile = self.profiles.get(ResourceClass.PTKTDATA, "NSSD")
        self.assertTrue(profile.hasPassTicketKey)
        self.run_("SETROPTS CLASSACT(PTKTDATA)")
        self.assertEqual(
            self.profiles.pass_ticket_key("NSSD"), bytes.fromhex("E001193519561977")
        )
        listing = "\n".join(self.run_("RLIST PTKTDATA NSSD ALL"))
        self.assertIn("KEYMASKED DATA DEFINED", listing)
        self.assertNotIn("E001193519561977", listing)

    def test_badKey(self) -> None:
        self.assertRaises(
            InvalidValueError,
            self.run_,
            "RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED(E00119351956197))",
        )
        self.assertEqual(self.profiles.list(ResourceClass.PTKTDATA), [])

    def test_permitAndAuthorize(self) -> None:
        self.run_("ADDUSER CLIENT1")
        self.run_("SETROPTS CLASSACT(SERVAUTH) GENERIC(SERVAUTH)")
        self.run_("RDEFINE SERVAUTH EZB.NSS.SYS1.*.IPSEC.CERT UACC(NONE)")
        self.run_(
            "PERMIT EZB.NSS.SYS1.*.IPSEC.CERT CLASS(SERVAUTH) ID(CLIENT1) ACCESS(READ)"
        )
        decision = self.profiles.snapshot().authorize(
            "CLIENT1",
            ResourceClass.SERVAUTH,
            "EZB.NSS.SYS1.C1.IPSEC.CERT",
            AccessLevel.READ,
        )
        self.assertTrue(decision.allowed)
        self.assertEqual(decision.profile, "EZB.NSS.SYS1.*.IPSEC.CERT")
        self.run_("PERMIT EZB.NSS.SYS1.*.IPSEC.CERT CLASS(SERVAUTH) ID(CLIENT1) DELETE")
        self.assertFalse(
            self.profiles.snapshot()
            .authorize(
                "CLIENT1",
                ResourceClass.SERVAUTH,
                "EZB.NSS.SYS1.C1.IPSEC.CERT",
                AccessLevel.READ,
            )
            .allowed
        )

    def test_genericWarning(self) -> None:
        lines = self.run_("RDEFINE SERVAUTH EZB.NSS.** UACC(NONE)")
        self.assertTrue(lines and lines[0].startswith("NSR0301W"))
        self.run_("SETROPTS GENERIC(SERVAUTH)")
        self.assertEqual(self.run_("RDEFINE SERVAUTH EZB.X.** UACC(NONE)"), [])

    def test_raltRdelete(self) -> None:
        self.run_("RDEFINE SERVAUTH A.B")
        self.run_("RALTER SERVAUTH A.B UACC(READ) DATA('hello there')")
        profile = self.profiles.get(ResourceClass.SERVAUTH, "A.B")
        self.assertEqual(
            (profile.uacc, profile.data), (AccessLevel.READ, "hello there")
        )
        self.run_("RDELETE SERVAUTH A.B")
        self.assertRaises(NotFoundError, self.run_, "RLIST SERVAUTH A.B")

    def test_unknownClass(self) -> None:
        self.assertRaises(InvalidValueError, self.run_, "RDEFINE FACILITY BPX.DAEMON")

    def test_warningMode(self) -> None:
        """
        RDEFINE and RALTER take WARNING and NOWARNING; RLIST shows the mode.
        """
        self.run_("RDEFINE SERVAUTH (A.B A.C) WARNING")
        self.assertTrue(self.profiles.get(ResourceClass.SERVAUTH, "A.B").warning)
        listing = self.run_("RLIST SERVAUTH A.B")
        self.assertIn("OWNER      UNIVERSAL ACCESS  WARNING", listing)
        self.assertIn("IBMUSER    NONE              YES", listing)
        self.run_("RALTER SERVAUTH A.B NOWARNING")
        self.assertFalse(self.profiles.get(ResourceClass.SERVAUTH, "A.B").warning)
        self.assertIn(
            "IBMUSER    NONE              NO", self.run_("RLIST SERVAUTH A.B")
        )
        # RALTER without either keyword leaves the mode alone.
        self.run_("RALTER SERVAUTH A.C UACC(READ)")
        self.assertTrue(self.profiles.get(ResourceClass.SERVAUTH, "A.C").warning)
        self.assertRaises(
            InvalidValueError, self.run_, "RALTER SERVAUTH A.C WARNING NOWARNING"
        )

    def test_ampersandMatchedAsItself(self) -> None:
        """
        RACF accepts & (a RACF variable) in general-resource profile names,
        and so does RDEFINE, with a warning that it is only a character here.
        """
        self.run_("SETROPTS GENERIC(SERVAUTH)")
        lines = self.run_("RDEFINE SERVAUTH COPY.&X")
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("NSR0333W profile COPY.&X holds &"))
        self.assertFalse(self.profiles.get(ResourceClass.SERVAUTH, "COPY.&X").generic)

    def test_rlistGeneric(self) -> None:
        """
        RLIST class resource GENERIC names the profile that decides for a
        resource name; with *, the generic profiles in the order checks
        search them.
        """
        self.run_("SETROPTS CLASSACT(SERVAUTH) GENERIC(SERVAUTH)")
        for name in ("**", "C*", "CE*", "CED%"):
            self.run_(f"RDEFINE SERVAUTH {name}")
        self.run_("RDEFINE SERVAUTH CEDA UACC(READ)")
        self.run_("PERMIT CE* CLASS(SERVAUTH) ID(*) ACCESS(READ)")
        lines = self.run_("RLIST SERVAUTH (cemt ceda) GENERIC AUTHUSER")
        self.assertEqual(
            lines[0], "NSR0330I CEMT in class SERVAUTH is protected by profile CE* (G)"
        )
        self.assertIn("  *         READ", lines)
        self.assertIn(
            "NSR0330I CEDA in class SERVAUTH is protected by profile CEDA", lines
        )
        order = [
            line.split()[1]
            for line in self.run_("RLIST SERVAUTH * GENERIC")
            if line.startswith("SERVAUTH ")
        ]
        self.assertEqual(order, ["CED%", "CE*", "C*", "**"])
        self.run_("RDELETE SERVAUTH **")
        self.assertEqual(
            self.run_("RLIST SERVAUTH DSNC GENERIC")[0],
            "NSR0331I no profile in class SERVAUTH protects DSNC",
        )
        self.run_("SETROPTS NOCLASSACT(SERVAUTH) NOGENERIC(SERVAUTH)")
        lines = self.run_("RLIST SERVAUTH CEMT GENERIC")
        self.assertTrue(lines[0].startswith("NSR0332I class SERVAUTH is not active"))
        self.assertTrue(lines[1].startswith("NSR0334I GENERIC is not active"))
        self.assertEqual(
            lines[2], "NSR0331I no profile in class SERVAUTH protects CEMT"
        )

    def test_setroptsList(self) -> None:
        self.run_("SETROPTS CLASSACT(SERVAUTH) PASSWORD(REVOKE(5))")
        text = "\n".join(self.run_("SETROPTS LIST"))
        self.assertIn("ACTIVE CLASSES = SERVAUTH", text)
        self.assertIn("AFTER 5 CONSECUTIVE", text)
        self.run_("SETROPTS PASSWORD(NOREVOKE) NOCLASSACT(SERVAUTH)")
        self.assertEqual(self.users.revoke_limit(), 0)
        self.assertIn("ACTIVE CLASSES = NONE", "\n".join(self.run_("SETROPTS LIST")))

    def test_setroptsRefresh(self) -> None:
        self.run_("SETROPTS RACLIST(SERVAUTH) REFRESH")
        self.assertEqual(self.profiles.generation(), 1)

    def test_badRevoke(self) -> None:
        self.assertRaises(InvalidValueError, self.run_, "SETROPTS PASSWORD(REVOKE(0))")
        self.assertRaises(InvalidValueError, self.run_, "SETROPTS PASSWORD(REVOKE(x))")


class CertificateCommandTests(InterpreterTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.run_("ADDUSER NSSD")
        self.run_("ADDUSER CLIENT1")
        self.run_(
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('Test CA') O('Example') C('US')) "
            "NISTECC WITHLABEL('Test CA')"
        )

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.folder, name)
        with open(path, "wb") as f:
            f.write(data)
        return name

    def test_gencertSigned(self) -> None:
        self.run_(
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('c1') OU('a' 'b')) "
            "WITHLABEL('c1') SIGNWITH(CERTAUTH LABEL('Test CA')) "
            "NOTBEFORE(DATE(2026-01-01)) NOTAFTER(DATE(2030-12-31)) SIZE(2048)"
        )
        certificate = self.keyrings.get_certificate(
            CertificateOwner.user("CLIENT1"), "c1"
        ).certificate
        self.assertEqual(
            certificate.issuer.rfc4514_string(), "CN=Test CA,O=Example,C=US"
        )
        self.assertEqual(certificate.not_valid_before_utc.year, 2026)
        self.assertEqual(certificate.not_valid_after_utc.day, 31)
        self.assertEqual(certificate.public_key().key_size, 2048)  # type: ignore[union-attr]

    def test_gencertWithoutAltNameWarns(self) -> None:
        """
        An end-entity certificate without ALTNAME, or with an address as a
        DOMAIN, is made, with a warning that NSS clients will not accept it
        as nssd's TLS certificate; a CA certificate needs no ALTNAME.
        """
        lines = self.run_(
            "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('nssd')) NISTECC"
            " WITHLABEL('tls1') SIGNWITH(CERTAUTH LABEL('Test CA'))"
        )
        self.assertTrue(any(line.startswith("NSR0320W") for line in lines), lines)
        lines = self.run_(
            "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('nssd')) NISTECC"
            " WITHLABEL('tls2') SIGNWITH(CERTAUTH LABEL('Test CA'))"
            " ALTNAME(DOMAIN('10.1.2.3'))"
        )
        self.assertTrue(any("ALTNAME(IP(10.1.2.3))" in line for line in lines))
        self.assertTrue(any(line.startswith("NSR0321W") for line in lines), lines)
        lines = self.run_(
            "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('nssd')) NISTECC"
            " WITHLABEL('tls3') SIGNWITH(CERTAUTH LABEL('Test CA'))"
            " ALTNAME(DOMAIN('nssd.example') IP(10.1.2.3))"
        )
        self.assertFalse([line for line in lines if "W " in line[:9]], lines)
        lines = self.run_(
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('CA2')) NISTECC WITHLABEL('CA2')"
        )
        self.assertFalse([line for line in lines if line.startswith("NSR032")])

    def test_gencertReportsMappedLabel(self) -> None:
        """
        A label that is not its own profile name is reported with the name
        to define (NSR0311I); one that is, is not.
        """
        lines = self.run_(
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('s')) NISTECC "
            "WITHLABEL('Stra\u00dfe 1') ALTNAME(DOMAIN('s.example'))"
        )
        self.assertEqual(
            lines[1:],
            [
                "NSR0311I label 'Stra\u00dfe 1' is STRA$E$1 in SERVAUTH profile "
                "names: EZB.NSSCERT.sysname.STRA$E$1.HOST or .CERTAUTH"
            ],
        )
        lines = self.run_(
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('t')) NISTECC "
            "WITHLABEL('PLAIN') ALTNAME(DOMAIN('t.example'))"
        )
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("NSR0302I "), lines)

    def test_gencertCollidingLabel(self) -> None:
        """
        CLIENT1 may not have a certificate labelled C{TEST CA}: it would
        share C{EZB.NSSCERT.sysname.TEST$CA.*} with the CA's C{Test CA}.
        Nothing is added.
        """
        error = self.assertRaises(
            LabelCollisionError,
            self.run_,
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('x')) NISTECC "
            "WITHLABEL('TEST CA')",
        )
        self.assertTrue(str(error).startswith("NSR0310E "))
        self.assertIn("'Test CA' of CERTAUTH", str(error))
        self.assertEqual(
            self.keyrings.list_certificates(CertificateOwner.user("CLIENT1")), []
        )

    def test_gencertNeedsSubject(self) -> None:
        self.assertRaises(
            CommandSyntaxError, self.run_, "RACDCERT ID(CLIENT1) GENCERT WITHLABEL('x')"
        )

    def test_gencertBadSize(self) -> None:
        self.assertRaises(
            InvalidValueError,
            self.run_,
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('x')) WITHLABEL('x') "
            "SIZE(1024)",
        )

    def test_oneFunctionOnly(self) -> None:
        self.assertRaises(
            CommandSyntaxError, self.run_, "RACDCERT ID(NSSD) ADDRING(A) DELRING(A)"
        )
        self.assertRaises(CommandSyntaxError, self.run_, "RACDCERT ID(NSSD)")

    def test_ringsBelongToUsers(self) -> None:
        self.assertRaises(CommandSyntaxError, self.run_, "RACDCERT CERTAUTH ADDRING(R)")

    def test_addPemWithKeyAndList(self) -> None:
        key = generate_private_key("NISTECC", 256)
        name = subject_name([("CN", "imported")])
        from datetime import UTC, datetime, timedelta

        start = datetime.now(UTC)
        certificate = build_certificate(
            subject=name,
            public_key=key.public_key(),
            issuer_certificate=None,
            issuer_key=key,
            not_before=start,
            not_after=start + timedelta(days=1),
            certificate_authority=False,
        )
        pem = certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
        path = self.write("imported.pem", pem)
        self.assertRaises(
            CertificateFileError,
            self.run_,
            f"RACDCERT ID(CLIENT1) ADD('{path}') WITHLABEL('imp') PASSWORD('bad')",
        )
        self.run_(
            f"RACDCERT ID(CLIENT1) ADD('{path}') WITHLABEL('imp') "
            "PASSWORD('pw') NOTRUST"
        )
        text = "\n".join(self.run_("RACDCERT ID(CLIENT1) LIST(LABEL('imp'))"))
        self.assertIn("Status: NOTRUST", text)
        self.assertIn("Private Key Type: ECDSA", text)
        self.run_("RACDCERT ID(CLIENT1) ALTER(LABEL('imp')) TRUST")
        self.assertIn(
            "Status: TRUST", "\n".join(self.run_("RACDCERT ID(CLIENT1) LIST"))
        )

    def test_addNotACertificate(self) -> None:
        path = self.write("junk.pem", b"hello, I am not a certificate\n")
        error = self.assertRaises(
            CertificateFileError,
            self.run_,
            f"RACDCERT CERTAUTH ADD('{path}') WITHLABEL('junk')",
        )
        self.assertIn("not a certificate", str(error))
        self.assertEqual(
            [
                r.label
                for r in self.keyrings.list_certificates(CertificateOwner.authority())
            ],
            ["Test CA"],
        )

    def test_ringLifecycle(self) -> None:
        self.run_("RACDCERT ID(NSSD) ADDRING(NSSRING)")
        self.run_(
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Test CA') RING(NSSRING) "
            "USAGE(CERTAUTH))"
        )
        listing = "\n".join(self.run_("RACDCERT ID(NSSD) LISTRING(NSSRING)"))
        self.assertIn("Test CA", listing)
        self.run_("RACDCERT ID(NSSD) REMOVE(CERTAUTH LABEL('Test CA') RING(NSSRING))")
        self.assertEqual(self.keyrings.ring("NSSD", "NSSRING").entries, ())
        self.run_("RACDCERT ID(NSSD) DELRING(NSSRING)")
        self.assertRaises(
            NotFoundError, self.run_, "RACDCERT ID(NSSD) LISTRING(NSSRING)"
        )

    def test_delete(self) -> None:
        self.run_("RACDCERT CERTAUTH DELETE(LABEL('Test CA'))")
        self.assertRaises(
            NotFoundError, self.run_, "RACDCERT CERTAUTH LIST(LABEL('Test CA'))"
        )

    def test_badUsage(self) -> None:
        self.run_("RACDCERT ID(NSSD) ADDRING(R)")
        self.assertRaises(
            InvalidValueError,
            self.run_,
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Test CA') RING(R) USAGE(OWNER))",
        )


class ExportTests(InterpreterTestCase):
    def test_exportPemAndDer(self) -> None:
        self.run_(
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('CA')) NISTECC WITHLABEL('CA')"
        )
        self.run_("RACDCERT CERTAUTH EXPORT(LABEL('CA')) DSN('ca.pem')")
        self.run_("RACDCERT CERTAUTH EXPORT(LABEL('CA')) DSN('ca.der') FORMAT(CERTDER)")
        with open(os.path.join(self.folder, "ca.pem"), "rb") as f:
            pem = f.read()
        with open(os.path.join(self.folder, "ca.der"), "rb") as f:
            der = f.read()
        self.assertTrue(pem.startswith(b"-----BEGIN CERTIFICATE-----"))
        self.assertNotIn(b"PRIVATE", pem)
        self.assertEqual(
            der,
            self.keyrings.get_certificate(CertificateOwner.authority(), "CA").der,
        )

    def test_noPrivateKeyFormats(self) -> None:
        self.run_(
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('CA')) NISTECC WITHLABEL('CA')"
        )
        self.assertRaises(
            InvalidValueError,
            self.run_,
            "RACDCERT CERTAUTH EXPORT(LABEL('CA')) DSN('ca.p12') FORMAT(PKCS12DER)",
        )
        self.assertFalse(os.path.exists(os.path.join(self.folder, "ca.p12")))
