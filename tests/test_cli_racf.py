"""
Tests for the C{nss-racf} command: jobs, exit statuses, messages with line
numbers, and the documented example job on a fresh database.
"""

import io
import json
import os
import sqlite3
import time
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.cli.racf import run
from nsstwisted.security.database import SCHEMA_VERSION, SecurityDatabase
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.logon import Logon
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.security.profiles import AccessLevel, ProfileStore, ResourceClass
from nsstwisted.security.users import UserRegistry
from tests.terminal import run_on_terminal, run_tool, tool_argv

EXAMPLE_JOB = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "docs",
    "examples",
    "nss-setup.racf",
)


class RacfTestCase(SynchronousTestCase):
    """A folder for the database, and nss-racf run on it."""

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.database = os.path.join(self.folder, "security.db")

    def nss_racf(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = run(["--database", self.database, *argv], out, err, io.StringIO(stdin))
        return status, out.getvalue(), err.getvalue()

    def job(self, text: str, mode: int = 0o600) -> str:
        path = os.path.join(self.folder, "job.racf")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def open(self) -> SecurityDatabase:
        database = SecurityDatabase.open(self.database, self.database[:-3] + ".sth")
        self.addCleanup(database.close)
        return database


class RacfCommandLineTests(RacfTestCase):
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

    def test_newerSchema(self) -> None:
        """
        A database of a newer schema is refused with NSR0345E and status 2,
        and nothing is written to it.
        """
        self.nss_racf("ADDUSER U1")
        newer = sqlite3.connect(self.database, isolation_level=None)
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        newer.close()
        status, _out, err = self.nss_racf("ADDUSER U2")
        self.assertEqual(status, 2)
        self.assertIn(
            f"NSR0345E security database {self.database} has schema version "
            f"{SCHEMA_VERSION + 1}, newer than version {SCHEMA_VERSION}",
            err,
        )
        check = sqlite3.connect(self.database)
        self.addCleanup(check.close)
        self.assertEqual(
            check.execute("SELECT userid FROM users").fetchall(), [("U1",)]
        )

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
        # An owner-only copy: the checkout's file may be open to others, which
        # draws NSR0305W (tested below) since the job holds passwords.
        with open(EXAMPLE_JOB, encoding="utf-8") as f:
            status, _out, err = self.nss_racf("--file", self.job(f.read()))
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


PASSWORD = "S3cret-pw1"
KEY_HEX = "E001193519561977"


class NewDatabaseTests(RacfTestCase):
    """
    nss-racf never makes a database silently: commands that only list need
    an existing one, and a command that defines something in a new one
    says that it made it.
    """

    def test_listingDoesNotCreate(self) -> None:
        """
        The reported typo: C{nss-racf -d typo.db 'LISTUSER *'} exited 0 and
        left an empty typo.db behind.
        """
        for command in (
            "LISTUSER *",
            "LISTGRP NSSCLNT",
            "RLIST SERVAUTH * AUTHUSER",
            "SETROPTS LIST",
            "RACDCERT ID(NSSD) LISTRING(*)",
            "RACDCERT CERTAUTH LIST",
            f"RACDCERT CERTAUTH EXPORT(LABEL('CA')) DSN('{self.folder}/ca.pem')",
        ):
            status, out, err = self.nss_racf(command)
            verb = command.split()[0]
            self.assertEqual(
                (status, out, err),
                (
                    2,
                    "",
                    f"nss-racf: NSR0340E security database {self.database} does"
                    f" not exist, and was not created: listing commands ({verb})"
                    " need an existing one; name it with --database or"
                    " NSS_SECURITY_DB\n",
                ),
                command,
            )
            self.assertEqual(os.listdir(self.folder), [], command)

    def test_listingJobDoesNotCreate(self) -> None:
        path = self.job("LISTUSER *\nRLIST SERVAUTH *\n/* only a comment */\n")
        status, _out, err = self.nss_racf("--file", path)
        self.assertEqual(status, 2)
        self.assertIn("listing commands (LISTUSER, RLIST)", err)
        self.assertFalse(os.path.exists(self.database))
        status, _out, err = self.nss_racf("--file", self.job("/* nothing */\n"))
        self.assertEqual(status, 2)
        self.assertIn("(none given)", err)
        self.assertFalse(os.path.exists(self.database))

    def test_syntaxErrorDoesNotCreate(self) -> None:
        status, _out, err = self.nss_racf("ADDUSER U1 BOGUS(1)")
        self.assertEqual(status, 1)
        self.assertIn("nothing was run", err)
        self.assertFalse(os.path.exists(self.database))

    def test_definingCommandSaysSo(self) -> None:
        """
        A defining command creates the database and says so, once; a job
        that lists after defining is a defining job.
        """
        path = self.job("LISTUSER *\nADDUSER U1\nSETROPTS CLASSACT(SERVAUTH) LIST\n")
        status, out, err = self.nss_racf("--file", path)
        self.assertEqual(status, 0, err)
        stash = self.database[:-3] + ".sth"
        self.assertTrue(
            out.startswith(
                f"NSR0341I security database {self.database} was created (mode"
                f" 0600); its stash file {stash} is made with the first key"
                " sealed\n"
            ),
            out,
        )
        self.assertEqual(os.stat(self.database).st_mode & 0o777, 0o600)
        status, out, err = self.nss_racf("ADDUSER U2")
        self.assertEqual((status, out, err), (0, "", ""))
        status, out, err = self.nss_racf("LISTUSER U2")
        self.assertEqual((status, err), (0, ""))
        self.assertNotIn("NSR0341I", out)


class SecretsOffTheCommandLineTests(SynchronousTestCase):
    """
    A secret in nss-racf's arguments can be read by every local user in
    C{/proc/PID/cmdline} while the command runs.  It is warned about (and
    still obeyed, for existing scripts); a job file, standard input or a
    prompt keep it off the command line instead.  The commands run as real
    processes, as an operator runs them.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.database = os.path.join(self.folder, "security.db")
        # PassTicket keys are used only while the class is active.
        self.assertEqual(self.nss_racf("SETROPTS CLASSACT(PTKTDATA)")[0], 0)

    def nss_racf(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = run(["--database", self.database, *argv], out, err, io.StringIO(stdin))
        return status, out.getvalue(), err.getvalue()

    def logon(self, userid: str, password: str) -> bool:
        database = SecurityDatabase.open(self.database, self.database[:-3] + ".sth")
        try:
            return Logon(database).with_password(userid, password).accepted
        finally:
            database.close()

    def ticketAccepted(self, key: str) -> bool:
        database = SecurityDatabase.open(self.database, self.database[:-3] + ".sth")
        try:
            ticket = generate_passticket("U1", "NSSD", parse_key(key), int(time.time()))
            return Logon(database).with_passticket("U1", "NSSD", ticket).accepted
        finally:
            database.close()

    def test_passwordInArgumentsWarnedAndObeyed(self) -> None:
        done = run_tool(
            "nsstwisted.cli.racf",
            "--database",
            self.database,
            f"ADDUSER U1 PASSWORD({PASSWORD})",
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(
            "nss-racf: NSR0304W ADDUSER PASSWORD was given on the", done.stderr
        )
        self.assertIn("write PASSWORD without a value", done.stderr)
        self.assertIn("--file", done.stderr)
        self.assertNotIn(PASSWORD, done.stdout + done.stderr)
        self.assertTrue(self.logon("U1", PASSWORD))

    def test_everySecretKeywordWarned(self) -> None:
        """
        Abbreviated keywords, the nested PassTicket key and the PKCS#12
        password are secrets too; the warning names the keyword and comes
        even when the command then fails.
        """
        self.nss_racf("ADDUSER U1")
        for command, keyword, status in [
            ("ALTUSER U1 PASSW(Sup3rSecret)", "ALTUSER PASSWORD", 0),
            (
                "RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED(E001193519561977))",
                "RDEFINE SSIGNON(KEYMASKED)",
                0,
            ),
            (
                "RALTER PTKTDATA NSSD SSIGNON(KEYM(E001193519561977))",
                "RALTER SSIGNON(KEYMASKED)",
                0,
            ),
            (
                "RACDCERT ID(U1) ADD('missing.p12') PASSWORD(Sup3rSecret)",
                "RACDCERT PASSWORD",
                1,
            ),
        ]:
            result, out, err = self.nss_racf(command)
            self.assertEqual(result, status, err)
            self.assertIn(f"NSR0304W {keyword} was given", err)
            self.assertNotIn("Sup3r", out + err)
            self.assertNotIn("E0011935", out + err)

    def test_noWarningWithoutSecret(self) -> None:
        for command in [
            "SETROPTS PASSWORD(REVOKE(3))",
            "ADDUSER U1 NOPASSWORD",
            "ADDUSER PASSW",
            "RDEFINE PTKTDATA NSSD UACC(NONE)",
        ]:
            status, _out, err = self.nss_racf(command)
            self.assertEqual((status, err), (0, ""), command)

    def test_jobOnStandardInput(self) -> None:
        done = run_tool(
            "nsstwisted.cli.racf",
            "--database",
            self.database,
            "--file",
            "-",
            stdin=f"ADDUSER U1 PASSWORD({PASSWORD})\n"
            f"RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED({KEY_HEX}))\n",
        )
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertTrue(self.logon("U1", PASSWORD))
        self.assertTrue(self.ticketAccepted(KEY_HEX))

    def test_jobFileOpenToOthersWarned(self) -> None:
        path = os.path.join(self.folder, "job.racf")
        with open(path, "w") as f:
            f.write(
                "ADDUSER U1 NOPASSWORD\n"
                f"ALTUSER U1 PASSWORD({PASSWORD})\n"
                f"RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED({KEY_HEX}))\n"
            )
        os.chmod(path, 0o640)
        status, _out, err = self.nss_racf("--file", path)
        self.assertEqual(status, 0, err)
        self.assertEqual(
            err,
            f"nss-racf: NSR0305W the job file {path} holds secrets (PASSWORD on "
            "line 2, SSIGNON(KEYMASKED) on line 3) and has mode 0640, so group "
            "or others may read it; chmod 600 it\n",
        )
        self.assertTrue(self.logon("U1", PASSWORD))
        os.chmod(path, 0o600)
        self.nss_racf("DELUSER U1")
        self.nss_racf("RDELETE PTKTDATA NSSD")
        status, _out, err = self.nss_racf("--file", path)
        self.assertEqual((status, err), (0, ""))

    def test_bareKeywordInJobStillAnError(self) -> None:
        """
        Only a command from the arguments asks for a value: a job cannot be
        interrupted by prompts, and its standard input may be the job.
        """
        status, _out, err = self.nss_racf("--file", "-", stdin="ADDUSER U1 PASSWORD\n")
        self.assertEqual(status, 1)
        self.assertIn("PASSWORD: needs one value", err)

    def test_secretFromStandardInput(self) -> None:
        self.nss_racf("ADDUSER U1")
        done = run_tool(
            "nsstwisted.cli.racf",
            "--database",
            self.database,
            "ALTUSER U1 PASSWORD",
            stdin=PASSWORD + "\n",
        )
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertNotIn(PASSWORD, done.stdout)
        self.assertTrue(self.logon("U1", PASSWORD))
        done = run_tool(
            "nsstwisted.cli.racf",
            "--database",
            self.database,
            "RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED)",
            stdin=KEY_HEX + "\n",
        )
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertTrue(self.ticketAccepted(KEY_HEX))

    def test_noSecretOnStandardInputRunsNothing(self) -> None:
        self.nss_racf("ADDUSER U1 NOPASSWORD")
        for stdin in ["", "\n"]:
            status, _out, err = self.nss_racf(
                "ALTUSER U1 PASSWORD NAME(X)", stdin=stdin
            )
            self.assertEqual(status, 2)
            self.assertIn("NSR0307E no value of PASSWORD on standard input", err)
            self.assertIn("nothing was run", err)
        self.assertIn("NAME=UNKNOWN", self.nss_racf("LISTUSER U1")[1])

    def test_controlCharacterInSecretRefused(self) -> None:
        self.nss_racf("ADDUSER U1")
        status, out, err = self.nss_racf("ALTUSER U1 PASSWORD", stdin="Sup3r\tpw\n")
        self.assertEqual(status, 1)
        self.assertIn("NSR0103E the value of PASSWORD holds a control character", err)
        self.assertNotIn("Sup3r", out + err)

    def test_promptAtTerminal(self) -> None:
        """
        At a terminal the value is asked for with echo off: nothing typed
        shows on the screen.
        """
        self.nss_racf("ADDUSER U1")
        status, shown = run_on_terminal(
            tool_argv(
                "nsstwisted.cli.racf",
                "--database",
                self.database,
                "ALTUSER U1 PASSWORD",
            ),
            [(b"ALTUSER PASSWORD: ", PASSWORD.encode())],
        )
        self.assertEqual(status, 0, shown)
        self.assertNotIn(PASSWORD.encode(), shown)
        self.assertTrue(self.logon("U1", PASSWORD))

    def test_passTicketKeyPromptAtTerminal(self) -> None:
        self.nss_racf("ADDUSER U1")
        status, shown = run_on_terminal(
            tool_argv(
                "nsstwisted.cli.racf",
                "--database",
                self.database,
                "RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED) UACC(NONE)",
            ),
            [(b"RDEFINE SSIGNON(KEYMASKED): ", KEY_HEX.encode())],
        )
        self.assertEqual(status, 0, shown)
        self.assertNotIn(KEY_HEX.encode(), shown)
        self.assertTrue(self.ticketAccepted(KEY_HEX))


class JsonListingTests(RacfTestCase):
    """
    C{nss-racf --json}: the listing commands' data as one JSON array, with
    the same facts as the reports and no secret.
    """

    def setUp(self) -> None:
        super().setUp()
        with open(EXAMPLE_JOB, encoding="utf-8") as f:
            status, _out, err = self.nss_racf("--file", self.job(f.read()))
        self.assertEqual((status, err), (0, ""))

    def listed(self, *argv: str) -> list[Any]:
        status, out, err = self.nss_racf("--json", *argv)
        self.assertEqual((status, err), (0, ""))
        shown: list[Any] = json.loads(out)
        self.assertIsInstance(shown, list)
        return shown

    def test_listuser(self) -> None:
        """
        The facts of LISTUSER's report (name, default group, groups, that a
        password is set) and never the password nor its hash.
        """
        [shown] = self.listed("LISTUSER (CLIENT1 CLIENT2)")
        self.assertEqual(
            (shown["Command"], shown["Function"], shown["Line"]),
            ("LISTUSER", None, None),
        )
        client1, client2 = shown["Entries"]
        self.assertEqual(client1["UserID"], "CLIENT1")
        self.assertEqual(client1["Name"], "iked stack A on host 1")
        self.assertEqual(client1["DefaultGroup"], "NSSCLNT")
        self.assertEqual(client1["Groups"], ["NSSCLNT"])
        self.assertIs(client1["PasswordSet"], True)
        self.assertIs(client2["PasswordSet"], False)
        self.assertIs(client1["Revoked"], False)
        self.assertEqual(client1["FailedLogons"], 0)
        self.assertIsNone(client1["LastAccess"])
        self.assertRegex(client1["Created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        text = json.dumps(shown)
        self.assertNotIn("Cl1ent-One", text)
        database = self.open()
        with database.reading() as cursor:
            (hashed,) = cursor.execute(
                "SELECT password_hash FROM users WHERE userid = 'CLIENT1'"
            ).fetchone()
        self.assertTrue(hashed)
        self.assertNotIn(str(hashed), text)
        self.assertNotIn("hash", text.lower())

    def test_revokedAfterFailedLogons(self) -> None:
        """The report's ATTRIBUTES=REVOKED is C{Revoked: true}."""
        logon = Logon(self.open())
        for _ in range(3):
            logon.with_password("CLIENT1", "wrong-pw1")
        [shown] = self.listed("LISTUSER CLIENT1")
        [client1] = shown["Entries"]
        self.assertIs(client1["Revoked"], True)
        self.assertEqual(client1["FailedLogons"], 3)

    def test_lastAccess(self) -> None:
        """The report's LAST-ACCESS, after a logon, is a time in UTC."""
        self.assertTrue(
            Logon(self.open()).with_password("CLIENT1", "Cl1ent-One").accepted
        )
        [shown] = self.listed("LISTUSER CLIENT1")
        [client1] = shown["Entries"]
        self.assertRegex(client1["LastAccess"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_listgrp(self) -> None:
        [shown] = self.listed("LISTGRP NSSCLNT")
        self.assertEqual(
            shown["Entries"],
            [
                {
                    "GroupID": "NSSCLNT",
                    "SuperiorGroup": None,
                    "Owner": "NSSCLNT",
                    "Users": ["CLIENT1", "CLIENT2"],
                }
            ],
        )

    def test_rlistPtktdataKeyMasked(self) -> None:
        """
        A PTKTDATA profile shows that its key is defined, as the report's
        KEYMASKED DATA DEFINED does, and never the key.
        """
        [shown] = self.listed("RLIST PTKTDATA NSSD ALL")
        [nssd] = shown["Entries"]
        self.assertEqual(nssd["Class"], "PTKTDATA")
        self.assertEqual(nssd["UniversalAccess"], "NONE")
        self.assertIs(nssd["SsignonKeyDefined"], True)
        self.assertEqual(nssd["AccessList"], [])
        self.assertNotIn(KEY_HEX.lower(), json.dumps(shown).lower())

    def test_rlistAccessList(self) -> None:
        [shown] = self.listed("RLIST SERVAUTH EZB.NSS.NSSSYS.CLIENT1.IPSEC.CERT")
        [profile] = shown["Entries"]
        self.assertIsNone(profile["AccessList"])
        self.assertIsNone(profile["SsignonKeyDefined"])
        [shown] = self.listed(
            "RLIST SERVAUTH EZB.NSS.NSSSYS.CLIENT1.IPSEC.CERT AUTHUSER"
        )
        [profile] = shown["Entries"]
        self.assertEqual(profile["AccessList"], [{"ID": "CLIENT1", "Access": "READ"}])
        self.assertIs(profile["Generic"], False)

    def test_rlistGeneric(self) -> None:
        """
        RLIST ... GENERIC with resource names: each resource with the
        profile that decides for it, C{null} for none.
        """
        [shown] = self.listed(
            "RLIST SERVAUTH (EZB.NSSCERT.NSSSYS.X.CERTAUTH EZB.NOTHING) GENERIC"
        )
        protected, unprotected = shown["Entries"]
        self.assertEqual(protected["Resource"], "EZB.NSSCERT.NSSSYS.X.CERTAUTH")
        self.assertEqual(protected["Profile"]["Name"], "EZB.NSSCERT.NSSSYS.*.CERTAUTH")
        self.assertIs(protected["Profile"]["Generic"], True)
        self.assertEqual(unprotected, {"Resource": "EZB.NOTHING", "Profile": None})
        self.assertEqual(shown["Messages"], [])

    def test_rlistGenericNotes(self) -> None:
        """The notes of an inactive class are the command's messages."""
        [shown] = self.listed("RLIST PTKTDATA * GENERIC")
        self.assertEqual(
            [m.split()[0] for m in shown["Messages"]],
            ["NSR0334I"],
        )

    def test_racdcertList(self) -> None:
        [shown] = self.listed("RACDCERT ID(CLIENT2) LIST")
        self.assertEqual((shown["Command"], shown["Function"]), ("RACDCERT", "LIST"))
        self.assertEqual(shown["Owner"], "ID(CLIENT2)")
        [cert] = shown["Entries"]
        record = KeyRingStore(self.open()).get_certificate(
            CertificateOwner.user("CLIENT2"), "Client2 cert"
        )
        self.assertEqual(cert["Label"], "Client2 cert")
        self.assertEqual(cert["CertificateID"], record.fingerprint[:32].upper())
        self.assertEqual(cert["SerialNumber"], f"{record.certificate.serial_number:X}")
        self.assertEqual(cert["SubjectsName"], "CN=client2.example,O=Example")
        self.assertEqual(cert["IssuersName"], "CN=NSS Test CA,O=Example")
        self.assertEqual(cert["PrivateKeyType"], "ECDSA")
        self.assertIs(cert["Trusted"], True)
        self.assertEqual(
            cert["EndDate"],
            record.certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self.assertNotIn("PRIVATE", json.dumps(shown))

    def test_listring(self) -> None:
        [shown] = self.listed("RACDCERT ID(NSSD) LISTRING(TLSRING)")
        self.assertEqual(shown["Function"], "LISTRING")
        self.assertEqual(shown["UserID"], "NSSD")
        self.assertEqual(
            shown["Entries"],
            [
                {
                    "Ring": "TLSRING",
                    "Certificates": [
                        {
                            "Label": "NSS CA",
                            "CertOwner": "CERTAUTH",
                            "Usage": "CERTAUTH",
                            "Default": False,
                        },
                        {
                            "Label": "NSSD TLS",
                            "CertOwner": "ID(NSSD)",
                            "Usage": "PERSONAL",
                            "Default": True,
                        },
                    ],
                }
            ],
        )

    def test_setroptsList(self) -> None:
        [shown] = self.listed("SETROPTS LIST")
        self.assertEqual(shown["Function"], "LIST")
        self.assertEqual(shown["ActiveClasses"], ["PTKTDATA", "SERVAUTH"])
        self.assertEqual(shown["GenericProfileClasses"], ["SERVAUTH"])
        self.assertEqual(shown["RaclistClasses"], ["SERVAUTH"])
        self.assertEqual(shown["RevokeLimit"], 3)
        self.assertIsInstance(shown["RaclistRefreshGeneration"], int)

    def test_jobIsOneArray(self) -> None:
        """
        A job prints one array, an object per command that ran, in order,
        with its line; a failed command is reported on standard error and
        has no object; a command that lists nothing carries its messages.
        The secrets the job holds appear nowhere.
        """
        path = self.job(
            "LISTGRP NSSCLNT\n"
            "LISTUSER NOBODY\n"
            "ADDUSER NEWONE PASSWORD(N3w-one-pw)\n"
            "RACDCERT CERTAUTH EXPORT(LABEL('NSS CA')) DSN('ca.pem')\n"
        )
        status, out, err = self.nss_racf("--json", "--file", path)
        self.assertEqual(status, 1)
        self.assertIn("NSR0101E line 2: LISTUSER", err)
        shown = json.loads(out)
        self.assertEqual(
            [(s["Command"], s["Function"], s["Line"]) for s in shown],
            [
                ("LISTGRP", None, 1),
                ("ADDUSER", None, 3),
                ("RACDCERT", "EXPORT", 4),
            ],
        )
        self.assertEqual(shown[1]["Messages"], [])
        self.assertEqual([m.split()[0] for m in shown[2]["Messages"]], ["NSR0303I"])
        self.assertNotIn("N3w-one-pw", out + err)

    def test_createdSaidOnStandardError(self) -> None:
        """
        With --json, standard output is the JSON alone: NSR0341I, said
        when a job creates the database, goes to standard error.
        """
        self.database = os.path.join(self.folder, "new.db")
        status, out, err = self.nss_racf("--json", "ADDUSER U1")
        self.assertEqual(status, 0)
        self.assertIn("NSR0341I", err)
        self.assertEqual(json.loads(out)[0]["Command"], "ADDUSER")
