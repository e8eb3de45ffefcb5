"""
Tests for the C{nss-racf} command: jobs, exit statuses, messages with line
numbers, and the documented example job on a fresh database.
"""

import io
import os
import sqlite3
import time

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.cli.racf import run
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.logon import Logon
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.security.profiles import AccessLevel, ProfileStore, ResourceClass
from nsstwisted.security.users import UserRegistry

EXAMPLE_JOB = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "docs",
    "examples",
    "nss-setup.racf",
)


class RacfCommandLineTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.database = os.path.join(self.folder, "security.db")

    def nss_racf(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = run(["--database", self.database, *argv], out, err, io.StringIO(stdin))
        return status, out.getvalue(), err.getvalue()

    def job(self, text: str) -> str:
        path = os.path.join(self.folder, "job.racf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def open(self) -> SecurityDatabase:
        database = SecurityDatabase.open(self.database, self.database[:-3] + ".sth")
        self.addCleanup(database.close)
        return database

    def test_singleCommand(self) -> None:
        self.assertEqual(self.nss_racf("ADDUSER", "CLIENT1")[0], 0)
        status, out, err = self.nss_racf("LISTUSER CLIENT1")
        self.assertEqual((status, err), (0, ""))
        self.assertIn("USER=CLIENT1", out)

    def test_databaseFromEnvironment(self) -> None:
        os.environ["NSS_SECURITY_DB"] = self.database
        self.addCleanup(os.environ.pop, "NSS_SECURITY_DB")
        out, err = io.StringIO(), io.StringIO()
        self.assertEqual(run(["ADDUSER U1"], out, err), 0)
        self.assertEqual(UserRegistry(self.open()).list_userids(), ["U1"])

    def test_failedCommandNamesLineAndGoesOn(self) -> None:
        path = self.job("ADDUSER U1\n\nLISTUSER NOBODY\nADDUSER U2\n")
        status, _out, err = self.nss_racf("--file", path)
        self.assertEqual(status, 1)
        self.assertIn("NSR0101E line 3: LISTUSER: user NOBODY is not defined", err)
        self.assertEqual(UserRegistry(self.open()).list_userids(), ["U1", "U2"])

    def test_syntaxErrorRunsNothing(self) -> None:
        path = self.job(
            "ADDUSER U1\nRDEFINE SERVAUTH X -\n  FOO(1)\nADDUSER U2 -\n BAR\n"
        )
        status, _out, err = self.nss_racf("--file", path)
        self.assertEqual(status, 1)
        self.assertIn("line 2: RDEFINE FOO:", err)
        self.assertIn("line 4: ADDUSER BAR:", err)
        self.assertIn("nothing was run", err)
        self.assertEqual(UserRegistry(self.open()).list_userids(), [])

    def test_unbalanced(self) -> None:
        path = self.job("ADDUSER U1\nRDEFINE SERVAUTH X UACC(READ\n")
        status, _out, err = self.nss_racf("--file", path)
        self.assertEqual(status, 1)
        self.assertIn("line 2", err)

    def test_stdin(self) -> None:
        status, _out, err = self.nss_racf("--file", "-", stdin="ADDUSER U1\n")
        self.assertEqual(status, 0, err)

    def test_usage(self) -> None:
        self.assertEqual(self.nss_racf()[0], 2)
        self.assertEqual(self.nss_racf("--file", "x", "ADDUSER U1")[0], 2)
        self.assertEqual(self.nss_racf("--bogus")[0], 2)

    def test_missingJobFile(self) -> None:
        status, _out, err = self.nss_racf("--file", os.path.join(self.folder, "none"))
        self.assertEqual(status, 2)
        self.assertIn("cannot read job", err)

    def test_corruptDatabase(self) -> None:
        with open(self.database, "wb") as f:
            f.write(b"garbage" * 1000)
        status, _out, err = self.nss_racf("ADDUSER U1")
        self.assertEqual(status, 2)
        self.assertIn("NSR0201E", err)

    def test_missingStash(self) -> None:
        self.nss_racf("RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED(E001193519561977))")
        os.remove(self.database[:-3] + ".sth")
        status, _out, err = self.nss_racf(
            "RDEFINE PTKTDATA APPL2 SSIGNON(KEYMASKED(E001193519561977))"
        )
        self.assertEqual(status, 2)
        self.assertIn("NSR0203E", err)
        self.assertEqual(len(ProfileStore(self.open()).list(ResourceClass.PTKTDATA)), 1)

    def test_passwordNotEchoed(self) -> None:
        self.nss_racf("ADDUSER U1")
        for command in [
            "ALTUSER U1 PASSWORD(Sup3rSecret) BOGUS",
            "ALTUSER U1 PASSWORD(Sup3r'Secret)",
            "ALTUSER U1 'Sup3rSecret'",
            "ALTUSER U1 PASSWORD('Sup3rSecret",
            "ALTUSER U1 PASSWORD(Sup3rSecret Sup3rSecret)",
        ]:
            status, out, err = self.nss_racf(command)
            self.assertEqual(status, 1, command)
            self.assertNotIn("Sup3r", out + err)

    def test_exampleJob(self) -> None:
        """
        The job in docs/security.md sets up a working NSS server on a fresh
        database: logons, decisions and signatures all come out as the
        documentation says.
        """
        status, _out, err = self.nss_racf("--file", EXAMPLE_JOB)
        self.assertEqual((status, err), (0, ""))
        database = self.open()
        logon = Logon(database)
        self.assertTrue(logon.with_password("CLIENT1", "Cl1ent-One").accepted)
        ticket = generate_passticket(
            "CLIENT2",
            "NSSD",
            parse_key("E001193519561977"),
            int(time.time()),
        )
        self.assertTrue(logon.with_passticket("CLIENT2", "NSSD", ticket).accepted)
        snapshot = ProfileStore(database).snapshot()

        def allowed(user: str, resource: str) -> bool:
            return snapshot.authorize(
                user, ResourceClass.SERVAUTH, resource, AccessLevel.READ
            ).allowed

        self.assertTrue(allowed("CLIENT1", "EZB.NSS.NSSSYS.CLIENT1.IPSEC.CERT"))
        self.assertFalse(allowed("CLIENT1", "EZB.NSS.NSSSYS.CLIENT2.IPSEC.CERT"))
        self.assertTrue(allowed("CLIENT2", "EZB.NSSCERT.NSSSYS.CLIENT2$CERT.HOST"))
        self.assertTrue(allowed("CLIENT2", "EZB.NSSCERT.NSSSYS.NSS$CA.CERTAUTH"))
        self.assertTrue(allowed("IPSECOP", "EZB.NETMGMT.NSSSYS.CLIENT1.IPSEC.CONTROL"))
        self.assertFalse(allowed("CLIENT1", "EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY"))
        keyrings = KeyRingStore(database)
        self.assertEqual(
            [e.record.label for e in keyrings.ring("nssd", "nssring").entries],
            ["Client1 cert", "Client2 cert", "NSS CA"],
        )
        self.assertTrue(keyrings.sign("NSSD", "NSSRING", "Client2 cert", b"x"))

    def test_lockedDatabase(self) -> None:
        import nsstwisted.security.database as databaseModule

        self.nss_racf("ADDUSER U1")
        self.patch(databaseModule, "DEFAULT_BUSY_TIMEOUT", 0.1)
        holder = sqlite3.connect(self.database, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        status, _out, err = self.nss_racf("ADDUSER U2")
        self.assertEqual(status, 2)
        self.assertIn("NSR0202E", err)
        holder.execute("ROLLBACK")
        self.assertEqual(UserRegistry(self.open()).list_userids(), ["U1"])

    def test_tamperedSigningKey(self) -> None:
        self.nss_racf("ADDUSER U1")
        self.nss_racf(
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('CA')) NISTECC WITHLABEL('CA')"
        )
        database = self.open()
        with database.transaction() as cursor:
            (blob,) = cursor.execute("SELECT sealed_key FROM certificates").fetchone()
            cursor.execute(
                "UPDATE certificates SET sealed_key = ?",
                (blob[:20] + bytes([blob[20] ^ 1]) + blob[21:],),
            )
        database.close()
        status, _out, err = self.nss_racf(
            "RACDCERT ID(U1) GENCERT SUBJECTSDN(CN('u1')) NISTECC WITHLABEL('u1') "
            "SIGNWITH(CERTAUTH LABEL('CA'))"
        )
        self.assertEqual(status, 2)
        self.assertIn("NSR0204E", err)
        self.assertEqual(
            KeyRingStore(self.open()).list_certificates(CertificateOwner.user("U1")),
            [],
        )
