"""
Tests for L{nsstwisted.security.database} and L{nsstwisted.security.location}:
creation, modes, transactions, and the corrupt, foreign and locked files.
"""

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta

from cryptography import x509
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.certfiles import LoadedCertificate
from nsstwisted.security.certgen import (
    build_certificate,
    generate_private_key,
    subject_name,
)
from nsstwisted.security.database import SCHEMA_VERSION, SecurityDatabase
from nsstwisted.security.errors import (
    AlreadyExistsError,
    DatabaseCorruptError,
    DatabaseLockedError,
    SchemaVersionError,
    SecurityEnvironmentError,
    StashError,
)
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.location import DEFAULT_DATABASE, database_path, stash_path
from nsstwisted.security.users import UserRegistry
from tests.fixtures import new_database


def _self_signed() -> x509.Certificate:
    key = generate_private_key("NISTECC", 256)
    now = datetime.now(UTC)
    return build_certificate(
        subject=subject_name([("CN", "CA")]),
        public_key=key.public_key(),
        issuer_certificate=None,
        issuer_key=key,
        not_before=now,
        not_after=now + timedelta(days=1),
        certificate_authority=True,
    )


class LocationTests(SynchronousTestCase):
    def test_explicitWins(self) -> None:
        self.assertEqual(database_path("/a.db", {"NSS_SECURITY_DB": "/b.db"}), "/a.db")

    def test_environment(self) -> None:
        self.assertEqual(database_path(None, {"NSS_SECURITY_DB": "/b.db"}), "/b.db")

    def test_default(self) -> None:
        self.assertEqual(database_path(None, {}), DEFAULT_DATABASE)

    def test_stashBesideDatabase(self) -> None:
        self.assertEqual(stash_path("/x/sec.db", None, {}), "/x/sec.sth")
        self.assertEqual(stash_path("/x/sec", None, {}), "/x/sec.sth")

    def test_stashOverrides(self) -> None:
        self.assertEqual(
            stash_path("/x/sec.db", "/k.sth", {"NSS_STASH": "/e"}), "/k.sth"
        )
        self.assertEqual(stash_path("/x/sec.db", None, {"NSS_STASH": "/e"}), "/e")


class OpenTests(SynchronousTestCase):
    def test_newFileIsPrivate(self) -> None:
        database = new_database(self)
        mode = stat.S_IMODE(os.stat(database.path).st_mode)
        self.assertEqual(mode, 0o600)

    def test_reopen(self) -> None:
        database = new_database(self)
        UserRegistry(database).add_user("alice")
        database.close()
        again = SecurityDatabase.open(database.path, database.stashPath)
        self.addCleanup(again.close)
        self.assertEqual(UserRegistry(again).list_userids(), ["ALICE"])

    def test_missingWithoutCreate(self) -> None:
        path = self.mktemp()
        self.assertRaises(
            DatabaseCorruptError,
            SecurityDatabase.open,
            path,
            path + ".sth",
            create=False,
        )
        self.assertFalse(os.path.exists(path))

    def test_notADatabase(self) -> None:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"this is not SQLite at all" * 100)
        error = self.assertRaises(
            DatabaseCorruptError, SecurityDatabase.open, path, path + ".sth"
        )
        self.assertIn(path, str(error))

    def test_foreignSqlite(self) -> None:
        path = self.mktemp()
        other = sqlite3.connect(path)
        other.execute("CREATE TABLE t (x)")
        other.commit()
        other.close()
        error = self.assertRaises(
            DatabaseCorruptError, SecurityDatabase.open, path, path + ".sth"
        )
        self.assertIn("not a security database", str(error))

    def test_damagedPages(self) -> None:
        database = new_database(self)
        users = UserRegistry(database)
        for n in range(50):
            users.add_user(f"U{n}", name="x" * 200)
        database.close()
        size = os.path.getsize(database.path)
        with open(database.path, "r+b") as f:
            f.seek(size // 2)
            f.write(os.urandom(size // 2))

        def use() -> None:
            again = SecurityDatabase.open(database.path, database.stashPath)
            try:
                UserRegistry(again).list_userids()
            finally:
                again.close()

        self.assertRaises(DatabaseCorruptError, use)

    def test_upgradeFromVersion1(self) -> None:
        """
        A database of schema version 1 (before RESTRICTED users and WARNING
        profiles) opens, is upgraded in place, and keeps its contents, with
        nobody restricted and no profile in warning mode.
        """
        database = new_database(self)
        UserRegistry(database).add_user("alice")
        database.close()
        old = sqlite3.connect(database.path, isolation_level=None)
        old.execute("ALTER TABLE users DROP COLUMN restricted")
        old.execute("ALTER TABLE profiles DROP COLUMN warning")
        old.execute("ALTER TABLE certificates DROP COLUMN token_key")
        old.execute("DROP TABLE passticket_uses")
        old.execute("DROP TABLE logon_counters")
        old.execute("PRAGMA user_version = 1")
        old.close()
        again = SecurityDatabase.open(database.path, database.stashPath)
        self.addCleanup(again.close)
        self.assertEqual(again.schemaVersion, SCHEMA_VERSION)
        self.assertEqual(UserRegistry(again).list_userids(), ["ALICE"])
        with again.reading() as cursor:
            self.assertEqual(
                cursor.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION
            )
            self.assertEqual(
                cursor.execute("SELECT restricted FROM users").fetchall(), [(0,)]
            )
            cursor.execute("SELECT warning FROM profiles")

    def test_upgradeFromVersion2(self) -> None:
        """
        A database of schema version 2 gets the tables of used PassTickets
        and logon counters, and its tally of refused logons moves from the
        settings into the counters.
        """
        database = new_database(self)
        database.close()
        old = sqlite3.connect(database.path, isolation_level=None)
        old.execute("ALTER TABLE certificates DROP COLUMN token_key")
        old.execute("DROP TABLE passticket_uses")
        old.execute("DROP TABLE logon_counters")
        old.execute("INSERT INTO settings (name, value) VALUES ('refused_logons', '7')")
        old.execute("PRAGMA user_version = 2")
        old.close()
        again = SecurityDatabase.open(database.path, database.stashPath)
        self.addCleanup(again.close)
        self.assertEqual(again.schemaVersion, SCHEMA_VERSION)
        with again.reading() as cursor:
            self.assertEqual(
                cursor.execute("SELECT name, value FROM logon_counters").fetchall(),
                [("refused_logons", 7)],
            )
            self.assertEqual(again.setting(cursor, "refused_logons", "none"), "none")
            self.assertEqual(
                cursor.execute("SELECT * FROM passticket_uses").fetchall(), []
            )

    def test_upgradeFromVersion3(self) -> None:
        """
        A database of schema version 3 gets the column that says where in a
        PKCS#11 token a certificate's key is, empty for every certificate
        it has: their keys stay sealed as they were.
        """
        database = new_database(self)
        KeyRingStore(database).add_certificate(
            CertificateOwner.authority(),
            "CA",
            LoadedCertificate(_self_signed(), None, ()),
        )
        database.close()
        old = sqlite3.connect(database.path, isolation_level=None)
        old.execute("ALTER TABLE certificates DROP COLUMN token_key")
        old.execute("PRAGMA user_version = 3")
        old.close()
        again = SecurityDatabase.open(database.path, database.stashPath)
        self.addCleanup(again.close)
        self.assertEqual(again.schemaVersion, SCHEMA_VERSION)
        with again.reading() as cursor:
            self.assertEqual(
                cursor.execute("SELECT label, token_key FROM certificates").fetchall(),
                [("CA", None)],
            )
        record = KeyRingStore(again).get_certificate(CertificateOwner.authority(), "CA")
        self.assertIsNone(record.tokenKey)

    def test_saysSchemaVersion(self) -> None:
        """
        An open database says its schema version: this release's, whether it
        was just made or opened again.
        """
        database = new_database(self)
        self.assertEqual(database.schemaVersion, SCHEMA_VERSION)
        database.close()
        again = SecurityDatabase.open(database.path, database.stashPath)
        self.addCleanup(again.close)
        self.assertEqual(again.schemaVersion, SCHEMA_VERSION)

    def test_newerVersionRefused(self) -> None:
        """
        A database that a newer nsstwisted brought to a newer schema is
        refused with NSR0345E naming both versions, and left as it is: this
        release cannot know what the newer columns mean to a decision.
        """
        database = new_database(self)
        database.close()
        newer = sqlite3.connect(database.path, isolation_level=None)
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        newer.close()
        for readOnly in (False, True):
            error = self.assertRaises(
                SchemaVersionError,
                SecurityDatabase.open,
                database.path,
                database.stashPath,
                readOnly=readOnly,
            )
            self.assertIsInstance(error, SecurityEnvironmentError)
            self.assertEqual(error.exitStatus, 2)
            self.assertEqual(
                str(error),
                f"NSR0345E security database {database.path} has schema version "
                f"{SCHEMA_VERSION + 1}, newer than version {SCHEMA_VERSION}, the "
                "newest this release of nsstwisted understands",
            )
        check = sqlite3.connect(database.path)
        self.addCleanup(check.close)
        self.assertEqual(
            check.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION + 1
        )

    def test_unknownOlderVersionRefused(self) -> None:
        """
        A version this release has no upgrade for (0: marked as ours but
        never versioned) is refused as not usable, naming both versions.
        """
        database = new_database(self)
        database.close()
        broken = sqlite3.connect(database.path, isolation_level=None)
        broken.execute("PRAGMA user_version = 0")
        broken.close()
        error = self.assertRaises(
            DatabaseCorruptError,
            SecurityDatabase.open,
            database.path,
            database.stashPath,
        )
        self.assertIn(
            f"schema version 0, which this release cannot upgrade to version "
            f"{SCHEMA_VERSION}",
            str(error),
        )

    def test_locked(self) -> None:
        database = new_database(self)
        database.close()
        quick = SecurityDatabase.open(
            database.path, database.stashPath, busyTimeout=0.1
        )
        self.addCleanup(quick.close)
        holder = sqlite3.connect(database.path, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        error = self.assertRaises(
            DatabaseLockedError, UserRegistry(quick).add_user, "bob"
        )
        self.assertIn("locked", str(error))
        holder.execute("ROLLBACK")
        UserRegistry(quick).add_user("bob")


class TransactionTests(SynchronousTestCase):
    def test_rollbackOnError(self) -> None:
        database = new_database(self)

        class Boom(Exception):
            pass

        def work() -> None:
            with database.transaction() as cursor:
                cursor.execute("INSERT INTO settings (name, value) VALUES ('a', 'b')")
                raise Boom()

        self.assertRaises(Boom, work)
        with database.reading() as cursor:
            self.assertIsNone(
                cursor.execute("SELECT 1 FROM settings WHERE name='a'").fetchone()
            )

    def test_nestedJoinsOuter(self) -> None:
        database = new_database(self)
        users = UserRegistry(database)

        def work() -> None:
            with database.transaction():
                users.add_user("one")
                users.add_user("one")

        self.assertRaises(AlreadyExistsError, work)
        self.assertEqual(users.list_userids(), [])


class MasterKeyTests(SynchronousTestCase):
    def test_createdOnFirstUse(self) -> None:
        database = new_database(self)
        self.assertFalse(os.path.exists(database.stashPath))
        database.master_key()
        self.assertEqual(stat.S_IMODE(os.stat(database.stashPath).st_mode), 0o600)

    def test_missingAfterUse(self) -> None:
        database = new_database(self)
        database.master_key()
        database.close()
        os.remove(database.stashPath)
        again = SecurityDatabase.open(database.path, database.stashPath)
        self.addCleanup(again.close)
        error = self.assertRaises(StashError, again.master_key)
        self.assertIn("does not exist", str(error))
        self.assertFalse(os.path.exists(database.stashPath))

    def test_wrongStash(self) -> None:
        first = new_database(self)
        first.master_key()
        second = new_database(self)
        second.master_key()
        first.close()
        again = SecurityDatabase.open(first.path, second.stashPath)
        self.addCleanup(again.close)
        error = self.assertRaises(StashError, again.master_key)
        self.assertIn("does not belong", str(error))

    def test_openStash(self) -> None:
        database = new_database(self)
        database.master_key()
        database.close()
        os.chmod(database.stashPath, 0o644)
        again = SecurityDatabase.open(database.path, database.stashPath)
        self.addCleanup(again.close)
        self.assertRaises(StashError, again.master_key)


class ReadOnlyTests(SynchronousTestCase):
    """
    C{readOnly}, as a configuration check opens the database: it reads
    what is there and changes nothing, not even the stash.
    """

    def reopen(self, database: SecurityDatabase) -> SecurityDatabase:
        database.close()
        again = SecurityDatabase.open(database.path, database.stashPath, readOnly=True)
        self.addCleanup(again.close)
        return again

    def test_reads(self) -> None:
        database = new_database(self)
        UserRegistry(database).add_user("alice")
        key = database.master_key().check_value()
        again = self.reopen(database)
        self.assertEqual(UserRegistry(again).list_userids(), ["ALICE"])
        self.assertEqual(again.master_key().check_value(), key)

    def test_writesRefused(self) -> None:
        database = new_database(self)
        again = self.reopen(database)
        error = self.assertRaises(
            DatabaseCorruptError, UserRegistry(again).add_user, "bob"
        )
        self.assertIn("readonly", str(error))
        self.assertEqual(UserRegistry(again).list_userids(), [])

    def test_missingNotCreated(self) -> None:
        path = self.mktemp()
        error = self.assertRaises(
            DatabaseCorruptError,
            SecurityDatabase.open,
            path,
            path + ".sth",
            readOnly=True,
        )
        self.assertIn("does not exist", str(error))
        self.assertFalse(os.path.exists(path))

    def test_emptyNotInitialised(self) -> None:
        path = self.mktemp()
        open(path, "wb").close()
        error = self.assertRaises(
            DatabaseCorruptError,
            SecurityDatabase.open,
            path,
            path + ".sth",
            readOnly=True,
        )
        self.assertIn("is empty", str(error))
        self.assertEqual(os.path.getsize(path), 0)

    def test_noStashCreated(self) -> None:
        """
        Where a writable open would make the stash (no key sealed yet), a
        read-only one says it is missing and leaves the folder as it was.
        """
        database = new_database(self)
        again = self.reopen(database)
        error = self.assertRaises(StashError, again.master_key)
        self.assertIn("does not exist", str(error))
        self.assertFalse(os.path.exists(database.stashPath))

    def test_checkValueNotRecorded(self) -> None:
        """
        A stash that exists while no key check is recorded yet is used,
        and the check is not written: the file keeps its bytes.
        """
        database = new_database(self)
        other = new_database(self)
        other.master_key()
        database.close()
        with open(database.path, "rb") as f:
            before = f.read()
        again = SecurityDatabase.open(database.path, other.stashPath, readOnly=True)
        self.addCleanup(again.close)
        again.master_key()
        with open(database.path, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_pathQuoted(self) -> None:
        """
        The path goes into an SQLite URI: characters that mean something
        there are quoted.
        """
        folder = self.mktemp() + " a?b#c%20"
        os.makedirs(folder)
        path = os.path.join(folder, "security.db")
        SecurityDatabase.open(path, path + ".sth").close()
        again = SecurityDatabase.open(path, path + ".sth", readOnly=True)
        self.addCleanup(again.close)
        self.assertEqual(again.path, path)
