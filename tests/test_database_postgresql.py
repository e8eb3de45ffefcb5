"""
The security model on PostgreSQL (L{nsstwisted.security.postgresqlengine}),
against a real server (L{tests.postgresql}): the same tests as on SQLite for
users, profiles, logons and key rings, the documented example job run by
C{nss-racf} against a connection URI, and what only PostgreSQL has to get
right (the schema's mark and version in a table, writers that queue, the
password kept out of messages, the stash that must be named).

Skipped, saying why, where no PostgreSQL server can start.
"""

from __future__ import annotations

import io
import os
import time

from twisted.internet import reactor
from twisted.trial.unittest import SynchronousTestCase

import tests.test_keyring as keyring_tests
import tests.test_logon as logon_tests
import tests.test_profiles as profile_tests
import tests.test_users as user_tests
from nsstwisted.cli.racf import EXIT_ENVIRONMENT, run
from nsstwisted.security.certgen import subject_name
from nsstwisted.security.database import SCHEMA_VERSION, SecurityDatabase
from nsstwisted.security.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    SchemaVersionError,
    StashError,
)
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.location import redact_uri, stash_path
from nsstwisted.security.logon import Logon
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.security.profiles import AccessLevel, ProfileStore, ResourceClass
from nsstwisted.security.users import UserRegistry
from tests.postgresql import postgresql_uri
from tests.test_cli_racf import EXAMPLE_JOB

ON_POSTGRESQL = "postgresql"


class UserRegistryTests(user_tests.UserRegistryTests):
    databaseEngine = ON_POSTGRESQL


class DefinitionTests(profile_tests.DefinitionTests):
    databaseEngine = ON_POSTGRESQL


class DecisionTests(profile_tests.DecisionTests):
    databaseEngine = ON_POSTGRESQL


class PasswordLogonTests(logon_tests.PasswordLogonTests):
    databaseEngine = ON_POSTGRESQL


class PassTicketLogonTests(logon_tests.PassTicketLogonTests):
    databaseEngine = ON_POSTGRESQL


# GENCERT, CONNECT, the ring's listing and signing with sealed keys; the
# certificate definitions' own rules are the model's, tested on SQLite.
class SigningTests(keyring_tests.SigningTests):
    databaseEngine = ON_POSTGRESQL


class PostgresqlTestCase(SynchronousTestCase):
    """A schema of its own on the server, and a stash path for it."""

    def setUp(self) -> None:
        self.uri = postgresql_uri(self)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        self.stash = os.path.join(folder, "security.sth")

    def open(
        self, *, busyTimeout: float | None = None, readOnly: bool = False
    ) -> SecurityDatabase:
        database = SecurityDatabase.open(
            self.uri, self.stash, busyTimeout=busyTimeout, readOnly=readOnly
        )
        self.addCleanup(database.close)
        return database


class EngineTests(PostgresqlTestCase):
    def test_schemaVersionInTable(self) -> None:
        """
        A new database is initialised at the current schema version, which a
        second server opening it reads back from the database.
        """
        self.open()
        again = self.open()
        self.assertEqual(again.schemaVersion, SCHEMA_VERSION)
        with again.reading() as cursor:
            self.assertEqual(
                cursor.execute("SELECT version FROM nss_schema").fetchall(),
                [(SCHEMA_VERSION,)],
            )

    def test_upgradeFromVersion2(self) -> None:
        """
        A version 2 database on PostgreSQL gets version 3's tables, and its
        tally of refused logons moves into the counters.
        """
        database = self.open()
        with database.transaction() as cursor:
            cursor.execute("ALTER TABLE certificates DROP COLUMN token_key")
            cursor.execute("DROP TABLE passticket_uses")
            cursor.execute("DROP TABLE logon_counters")
            cursor.execute(
                "INSERT INTO settings (name, value) VALUES ('refused_logons', '7')"
            )
            cursor.execute("UPDATE nss_schema SET version = 2")
        again = self.open()
        self.assertEqual(again.schemaVersion, SCHEMA_VERSION)
        with again.reading() as cursor:
            self.assertEqual(
                cursor.execute("SELECT name, value FROM logon_counters").fetchall(),
                [("refused_logons", 7)],
            )
            self.assertEqual(again.setting(cursor, "refused_logons", "none"), "none")

    def test_upgradeFromVersion3(self) -> None:
        """
        A version 3 database on PostgreSQL gets the column that says where
        in a PKCS#11 token a certificate's key is.
        """
        database = self.open()
        with database.transaction() as cursor:
            cursor.execute("ALTER TABLE certificates DROP COLUMN token_key")
            cursor.execute("UPDATE nss_schema SET version = 3")
        again = self.open()
        self.assertEqual(again.schemaVersion, SCHEMA_VERSION)
        with again.reading() as cursor:
            self.assertEqual(
                cursor.execute("SELECT count(token_key) FROM certificates").fetchall(),
                [(0,)],
            )

    def test_newerRefused(self) -> None:
        database = self.open()
        with database.transaction() as cursor:
            cursor.execute("UPDATE nss_schema SET version = ?", (SCHEMA_VERSION + 1,))
        error = self.assertRaises(
            SchemaVersionError, SecurityDatabase.open, self.uri, self.stash
        )
        self.assertIn(f"schema version {SCHEMA_VERSION + 1}", str(error))

    def test_foreignDatabaseRefused(self) -> None:
        """
        A database holding someone else's tables is not written into.
        """
        database = self.open()
        with database.transaction() as cursor:
            cursor.execute("DROP TABLE nss_schema")
        error = self.assertRaises(
            DatabaseCorruptError, SecurityDatabase.open, self.uri, self.stash
        )
        self.assertIn("not a security database", str(error))

    def test_writersQueue(self) -> None:
        """
        A unit of work that writes holds the write lock until it ends: a
        second server's write waits for it, and is refused with NSR0202E
        once it has waited the busy timeout.
        """
        first = self.open()
        second = self.open(busyTimeout=0.2)
        users = UserRegistry(second)
        with first.transaction():
            started = time.monotonic()
            self.assertRaises(DatabaseLockedError, users.add_user, "client1")
            self.assertGreaterEqual(time.monotonic() - started, 0.2)
        users.add_user("client1")
        self.assertEqual(UserRegistry(first).get_user("client1").userid, "CLIENT1")

    def test_readOnly(self) -> None:
        """
        Read-only, as a configuration check opens the database: it reads
        what is there, and a write is refused with NSR0347E; an empty
        database is not initialised.
        """
        empty = self.assertRaises(
            DatabaseCorruptError,
            SecurityDatabase.open,
            self.uri,
            self.stash,
            readOnly=True,
        )
        self.assertIn("is empty", str(empty))
        UserRegistry(self.open()).add_user("alice")
        again = self.open(readOnly=True)
        self.assertEqual(UserRegistry(again).list_userids(), ["ALICE"])
        error = self.assertRaises(
            DatabaseReadOnlyError, UserRegistry(again).add_user, "bob"
        )
        self.assertIn("read-only", str(error))
        self.assertEqual(error.messageId, "NSR0347E")
        self.assertEqual(UserRegistry(again).list_userids(), ["ALICE"])

    def test_codePointOrder(self) -> None:
        """
        Listings sort by code point, as on SQLite, whatever the database's
        own collation (the test server's is ICU's en-US, which would put
        "alpha" first).
        """
        database = self.open()
        UserRegistry(database).add_user("client1")
        store = KeyRingStore(database)
        owner = CertificateOwner.user("client1")
        for label in ("alpha", "Zeta", "Beta"):
            store.generate_certificate(
                owner, label, subject_name([("CN", label)]), algorithm="NISTECC"
            )
        self.assertEqual(
            [record.label for record in store.list_certificates(owner)],
            ["Beta", "Zeta", "alpha"],
        )

    def test_failedLogonsAddUp(self) -> None:
        """
        Wrong passwords at two servers on the one database count together
        towards REVOKE.
        """
        primary, backup = self.open(), self.open()
        UserRegistry(primary).add_user("client1", password="right")
        UserRegistry(primary).set_revoke_limit(2)
        Logon(primary).with_password("client1", "wrong")
        Logon(backup).with_password("client1", "wrong")
        self.assertTrue(UserRegistry(primary).get_user("client1").revoked)

    def test_passwordNotNamed(self) -> None:
        """
        Messages name the database by its URI without the password.
        """
        uri = "postgresql://nss:s3cret@[::1]:1/nss?password=s3cret&connect_timeout=1"
        self.assertEqual(
            redact_uri(uri), "postgresql://nss@[::1]:1/nss?connect_timeout=1"
        )
        error = self.assertRaises(
            DatabaseCorruptError, SecurityDatabase.open, uri, self.stash
        )
        self.assertNotIn("s3cret", str(error))
        self.assertIn("postgresql://nss@[::1]:1/nss", str(error))

    def test_stashMustBeNamed(self) -> None:
        """
        A database named by a URI has no folder to find its stash beside:
        the stash must be named, or the command is refused with NSR0203E.
        """
        error = self.assertRaises(StashError, stash_path, self.uri, None, {})
        self.assertIn("--stash or NSS_STASH", str(error))
        self.assertEqual(stash_path(self.uri, None, {"NSS_STASH": "/s"}), "/s")


class RacfJobTests(PostgresqlTestCase):
    def nss_racf(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = run(["--database", self.uri, *argv], out, err, io.StringIO())
        return status, out.getvalue(), err.getvalue()

    def test_exampleJob(self) -> None:
        """
        The documented example job, run against a PostgreSQL URI, makes a
        database that logs on, decides and holds the key ring as the same
        job does on SQLite.
        """
        job = os.path.join(os.path.dirname(self.stash), "job.racf")
        with open(EXAMPLE_JOB, encoding="utf-8") as f, open(job, "w") as copy:
            copy.write(f.read())
        os.chmod(job, 0o600)
        status, _out, err = self.nss_racf("--stash", self.stash, "--file", job)
        self.assertEqual((status, err), (0, ""))
        database = self.open()
        logon = Logon(database)
        self.assertTrue(logon.with_password("CLIENT1", "Cl1ent-One").accepted)
        ticket = generate_passticket(
            "CLIENT2", "NSSD", parse_key("E001193519561977"), int(time.time())
        )
        self.assertTrue(logon.with_passticket("CLIENT2", "NSSD", ticket).accepted)
        snapshot = ProfileStore(database).snapshot()
        self.assertTrue(
            snapshot.authorize(
                "CLIENT1",
                ResourceClass.SERVAUTH,
                "EZB.NSS.NSSSYS.CLIENT1.IPSEC.CERT",
                AccessLevel.READ,
            ).allowed
        )
        self.assertEqual(
            [
                e.record.label
                for e in KeyRingStore(database).ring("nssd", "nssring").entries
            ],
            ["Client1 cert", "Client2 cert", "NSS CA"],
        )

    def test_nssdChecksConfiguration(self) -> None:
        """
        nssd finds a PostgreSQL database by C{NSS_SECURITY_DB} and its stash
        by C{NSS_STASH}, and its configuration check reads its rings from
        it, naming the database without a password.
        """
        self.test_exampleJob()
        from nsstwisted.nssd.service import NSSDService

        config = os.path.join(os.path.dirname(self.stash), "nssd.conf")
        with open(config, "w") as f:
            f.write(
                "NssConfig\n{\n  Port 0\n  KeyRing NSSD/NSSRING\n"
                "  TlsKeyRing NSSD/TLSRING\n  SystemName NSSSYS\n}\n"
            )
        lines = NSSDService.check(
            config,
            reactor,
            environ={"NSS_SECURITY_DB": self.uri, "NSS_STASH": self.stash},
        )
        self.assertTrue(lines[0].startswith("DBG0150I"), lines)
        self.assertIn(f"security database {redact_uri(self.uri)}", lines[1])
        self.assertIn("KeyRing NSSD/NSSRING: 3 certificates", lines)

    def test_stashNotNamed(self) -> None:
        """
        Without --stash (or NSS_STASH), nss-racf refuses a URI with NSR0203E
        and touches nothing.
        """
        previous = os.environ.pop("NSS_STASH", None)
        if previous is not None:
            self.addCleanup(os.environ.__setitem__, "NSS_STASH", previous)
        status, _out, err = self.nss_racf("ADDUSER CLIENT1")
        self.assertEqual(status, EXIT_ENVIRONMENT)
        self.assertIn("NSR0203E", err)
