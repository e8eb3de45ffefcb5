"""
Tests for C{nss-database}: a whole security database copied between real
SQLite files and a real PostgreSQL server (L{tests.postgresql}; those tests
skip, saying why, where none can start), and the schema version it says.

The source is built with C{nss-racf}, as an operator builds one: the
documented example job (users with passwords, a group, profiles with access
lists, a PTKTDATA profile, a CA and certificates signed by it with their
keys, two rings), after a certificate made and deleted again, so that the
certificates' ids have a gap a copy that renumbered them would break.
"""

from __future__ import annotations

import io
import os
import sqlite3
import time

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.cli import database as command
from nsstwisted.cli import racf
from nsstwisted.security.database import SCHEMA_VERSION, SecurityDatabase
from nsstwisted.security.keyring import KeyRingStore
from nsstwisted.security.logon import Logon
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.security.signing import scheme_for_key, verify
from nsstwisted.security.stash import create_stash
from nsstwisted.security.storage import SCHEMA_TABLES
from tests.postgresql import postgresql_uri
from tests.test_cli_racf import EXAMPLE_JOB

# What an operator looks at to see that two databases say the same.
LISTINGS = [
    "LISTUSER *",
    "LISTGRP NSSCLNT",
    "RLIST SERVAUTH * ALL",
    "RLIST PTKTDATA * ALL",
    "SETROPTS LIST",
    "RACDCERT CERTAUTH LIST",
    "RACDCERT ID(CLIENT1) LIST",
    "RACDCERT ID(CLIENT2) LIST",
    "RACDCERT ID(NSSD) LIST",
    "RACDCERT ID(NSSD) LISTRING(*)",
]

# The tables of schema version 1 (and 2).
VERSION_1_TABLES = (
    "settings",
    "users",
    "groups",
    "connections",
    "profiles",
    "access_list",
    "certificates",
    "rings",
    "ring_members",
)

# Made first and deleted at the end, so that the kept certificates' ids
# start at 2: ring_members names them by id.
GAP = (
    "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('Gone CA')) NISTECC SIZE(256) "
    "WITHLABEL('Gone CA')\n"
)
GAP_CLOSED = "RACDCERT CERTAUTH DELETE(LABEL('Gone CA'))\n"


class CopyTestCase(SynchronousTestCase):
    """
    A folder, one stash for every database of the test, and the commands.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.stash = self.path("security.sth")

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def nss_racf(self, location: str, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = racf.run(
            ["--database", location, "--stash", self.stash, *argv],
            out,
            err,
            io.StringIO(),
        )
        return status, out.getvalue(), err.getvalue()

    def nss_database(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = command.run(list(argv), out, err)
        return status, out.getvalue(), err.getvalue()

    def copy(self, source: str, target: str) -> tuple[int, str, str]:
        return self.nss_database(
            "copy", "--from", source, "--to", target, "--stash", self.stash
        )

    def source(self) -> str:
        """
        A security database file built with nss-racf.
        """
        location = self.path("source.db")
        with open(EXAMPLE_JOB, encoding="utf-8") as f:
            text = GAP + f.read() + GAP_CLOSED
        job = self.path("setup.racf")
        with open(job, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(job, 0o600)
        status, _out, err = self.nss_racf(location, "--file", job)
        self.assertEqual((status, err), (0, ""))
        return location

    def listings(self, location: str) -> list[str]:
        said = []
        for listing in LISTINGS:
            status, out, err = self.nss_racf(location, listing)
            self.assertEqual((status, err), (0, ""), listing)
            said.append(out)
        return said

    def open(self, location: str) -> SecurityDatabase:
        database = SecurityDatabase.open(location, self.stash)
        self.addCleanup(database.close)
        return database

    def rows(self, location: str) -> dict[str, int]:
        """
        How many rows each table of the schema holds, read without opening
        the database for use (which would initialise an empty one).
        """
        counts: dict[str, int] = {}
        if location.startswith("postgresql:"):
            import psycopg

            with psycopg.connect(location) as server:
                for table in SCHEMA_TABLES:
                    found = server.execute(
                        "SELECT to_regclass(%s) IS NOT NULL", (table,)
                    ).fetchone()
                    if found is not None and found[0]:
                        count = server.execute(
                            f"SELECT count(*) FROM {table}"  # noqa: S608
                        ).fetchone()
                        assert count is not None
                        counts[table] = count[0]
            return counts
        connection = sqlite3.connect(location)
        try:
            for table in SCHEMA_TABLES:
                counts[table] = connection.execute(
                    f"SELECT count(*) FROM {table}"  # noqa: S608
                ).fetchone()[0]
        finally:
            connection.close()
        return counts

    def assertServes(self, location: str) -> None:
        """
        The copy logs on with a password and a PassTicket, and signs with a
        copied private key a signature its certificate verifies: the sealed
        keys came across sealed, and the one stash opens them.
        """
        database = self.open(location)
        logon = Logon(database)
        self.assertTrue(logon.with_password("CLIENT1", "Cl1ent-One").accepted)
        self.assertFalse(logon.with_password("CLIENT1", "wrong-one").accepted)
        ticket = generate_passticket(
            "CLIENT2", "NSSD", parse_key("E001193519561977"), int(time.time())
        )
        self.assertTrue(logon.with_passticket("CLIENT2", "NSSD", ticket).accepted)
        keyrings = KeyRingStore(database)
        for label in ("Client1 cert", "Client2 cert"):
            signature = keyrings.sign("NSSD", "NSSRING", label, b"to be signed")
            public = keyrings.ring("NSSD", "NSSRING").entry(label)
            key = public.record.certificate.public_key()
            self.assertTrue(
                verify(key, b"to be signed", signature, scheme_for_key(key)), label
            )

    def assertCopied(self, status: int, out: str, err: str) -> None:
        self.assertEqual((status, err), (0, ""))
        self.assertIn("NSR0354I security database ", out)
        self.assertIn(f"(schema version {SCHEMA_VERSION}): ", out)
        self.assertIn("certificates 4, rings 2, ring_members 5", out)
        self.assertIn(f"stash file {self.stash}", out)


class SchemaTablesTests(CopyTestCase):
    """
    The one list of the schema's tables (L{SCHEMA_TABLES}) is the schema's:
    a table added to an engine's schema and not to the list fails here
    first, before a copy would refuse every database that has it.
    """

    def test_listNamesEverySqliteTable(self) -> None:
        database = self.open(self.path("new.db"))
        with database.reading():
            self.assertEqual(sorted(database.tables()), sorted(SCHEMA_TABLES))

    def test_listNamesEveryPostgresqlTable(self) -> None:
        database = self.open(postgresql_uri(self))
        with database.reading():
            self.assertEqual(sorted(database.tables()), sorted(SCHEMA_TABLES))

    def test_parentsBeforeChildren(self) -> None:
        """
        Every table a foreign key names comes before the table that holds
        it, so that rows are written in an order their keys allow.
        """
        location = self.path("new.db")
        self.open(location).close()
        with sqlite3.connect(location) as connection:
            for position, table in enumerate(SCHEMA_TABLES):
                for key in connection.execute(f"PRAGMA foreign_key_list({table})"):
                    parent = key[2]
                    self.assertIn(parent, SCHEMA_TABLES[:position], table)


class FileCopyTests(CopyTestCase):
    """
    Between two files: the same copy with nothing to install.
    """

    def test_fileToFile(self) -> None:
        source = self.source()
        before = self.listings(source)
        target = self.path("copy.db")
        self.assertCopied(*self.copy(source, target))
        self.assertEqual(self.listings(target), before)
        self.assertEqual(os.stat(target).st_mode & 0o777, 0o600)
        self.assertServes(target)

    def test_keepsCertificateIds(self) -> None:
        """
        The certificates keep their ids, which their ring memberships name,
        and the next certificate added to the copy gets a new one.
        """
        source = self.source()
        target = self.path("copy.db")
        self.assertCopied(*self.copy(source, target))
        query = "SELECT id, label FROM certificates ORDER BY id"
        with sqlite3.connect(source) as a, sqlite3.connect(target) as b:
            ids = a.execute(query).fetchall()
            self.assertEqual(b.execute(query).fetchall(), ids)
        self.assertEqual(ids[0][0], 2)
        status, _out, err = self.nss_racf(
            target,
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('New CA')) NISTECC "
            "SIZE(256) WITHLABEL('New CA')",
        )
        self.assertEqual((status, err), (0, ""))

    def test_nonEmptyTargetRefused(self) -> None:
        """
        A copy never merges: a target with rows is refused, naming them,
        with status 1, and is left as it was, byte for byte.
        """
        source = self.source()
        target = self.path("other.db")
        self.assertEqual(self.nss_racf(target, "ADDUSER BOB")[0], 0)
        with open(target, "rb") as f:
            before = f.read()
        status, out, err = self.copy(source, target)
        self.assertEqual((status, out), (1, ""))
        self.assertIn(
            f"nss-database: NSR0350E security database {target} is not empty "
            "(rows in users 1): a copy goes only into a new file or an empty "
            "database, and never merges; nothing was written",
            err,
        )
        with open(target, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_copyOntoItselfRefused(self) -> None:
        source = self.source()
        status, _out, err = self.copy(source, source)
        self.assertEqual(status, 1)
        self.assertIn("NSR0350E", err)

    def test_wrongStashRefusedFirst(self) -> None:
        """
        A stash that does not open the source's sealed keys is refused
        before anything is written: the target is not even made.
        """
        source = self.source()
        target = self.path("copy.db")
        other = self.path("other.sth")
        create_stash(other)
        status, out, err = self.nss_database(
            "copy", "--from", source, "--to", target, "--stash", other
        )
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(
            err,
            f"nss-database: NSR0203E stash file {other} does not belong to the "
            f"security database {source}\n",
        )
        self.assertFalse(os.path.exists(target))
        missing = self.path("missing.sth")
        status, _out, err = self.nss_database(
            "copy", "--from", source, "--to", target, "--stash", missing
        )
        self.assertEqual(status, 2)
        self.assertIn(f"NSR0203E stash file {missing} does not exist", err)
        self.assertFalse(os.path.exists(target))
        self.assertFalse(os.path.exists(missing))

    def test_stashBesideSourceFile(self) -> None:
        """
        Without --stash, a source file's stash is beside it, as for every
        command.
        """
        source = self.source()
        os.rename(self.stash, self.path("source.sth"))
        target = self.path("copy.db")
        status, out, _err = self.nss_database("copy", "--from", source, "--to", target)
        self.assertEqual(status, 0)
        self.assertIn(f"stash file {self.path('source.sth')}", out)

    def test_notSecurityDatabaseRefused(self) -> None:
        """
        A source that is not a security database is refused with status 2,
        and neither it nor the target is made or changed.
        """
        target = self.path("copy.db")
        foreign = self.path("foreign.db")
        with sqlite3.connect(foreign) as connection:
            connection.execute("CREATE TABLE songs (title TEXT)")
        text = self.path("notes.txt")
        with open(text, "w") as f:
            f.write("not a database at all, " * 100)
        empty = self.path("empty.db")
        open(empty, "w").close()
        missing = self.path("missing.db")
        for source, reason in [
            (foreign, f"{foreign} is an SQLite file but not a security database"),
            (text, f"security database {text} is not usable"),
            (empty, f"security database {empty} is empty"),
            (missing, f"security database {missing} does not exist"),
        ]:
            status, out, err = self.copy(source, target)
            self.assertEqual((status, out), (2, ""), source)
            self.assertTrue(
                err.startswith(f"nss-database: NSR0201E {reason}"), (source, err)
            )
            self.assertFalse(os.path.exists(target))
        self.assertFalse(os.path.exists(missing))
        self.assertEqual(os.path.getsize(empty), 0)

    def test_unlistedTableRefused(self) -> None:
        """
        A table the schema's list does not name (one added to the schema
        and forgotten in the list, say) is refused rather than left behind.
        """
        source = self.source()
        with sqlite3.connect(source) as connection:
            connection.execute("CREATE TABLE local_notes (note TEXT)")
        target = self.path("copy.db")
        status, out, err = self.copy(source, target)
        self.assertEqual((status, out), (2, ""))
        self.assertIn(
            f"NSR0351E security database {source} has the table local_notes, "
            "which this release's list of the schema's tables (schema version "
            f"{SCHEMA_VERSION}) does not name: a copy would leave it behind, so "
            "nothing was copied",
            err,
        )
        self.assertFalse(os.path.exists(target))

    def test_otherColumnsRefused(self) -> None:
        """
        A table whose columns differ from the target's is refused, and the
        target file the copy had made is removed again.
        """
        source = self.source()
        with sqlite3.connect(source) as connection:
            connection.execute("ALTER TABLE users ADD COLUMN shoe_size INTEGER")
        target = self.path("copy.db")
        status, _out, err = self.copy(source, target)
        self.assertEqual(status, 2)
        self.assertIn(f"NSR0351E table users of security database {target} ", err)
        self.assertIn("shoe_size", err)
        self.assertFalse(os.path.exists(target))

    def test_newerSourceRefused(self) -> None:
        source = self.source()
        with sqlite3.connect(source) as connection:
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        target = self.path("copy.db")
        status, _out, err = self.copy(source, target)
        self.assertEqual(status, 2)
        self.assertIn(
            f"NSR0345E security database {source} has schema version "
            f"{SCHEMA_VERSION + 1}",
            err,
        )
        self.assertFalse(os.path.exists(target))

    def test_olderSourceUpgraded(self) -> None:
        """
        A source of schema version 1 is upgraded on open, as every command
        upgrades it, and copied at the current version.
        """
        source = self.path("old.db")
        self.assertEqual(self.nss_racf(source, "ADDUSER ALICE")[0], 0)
        with sqlite3.connect(source, isolation_level=None) as old:
            old.execute("ALTER TABLE users DROP COLUMN restricted")
            old.execute("ALTER TABLE profiles DROP COLUMN warning")
            old.execute("ALTER TABLE certificates DROP COLUMN token_key")
            # And without the tables later versions added.
            for (table,) in old.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ).fetchall():
                if table not in VERSION_1_TABLES:
                    old.execute(f"DROP TABLE {table}")
            old.execute("PRAGMA user_version = 1")
        status, out, _err = self.nss_database("version", "--database", source)
        self.assertIn("SCHEMA VERSION   1: older, upgraded when it is next opened", out)
        target = self.path("copy.db")
        status, out, err = self.copy(source, target)
        self.assertEqual((status, err), (0, ""))
        self.assertIn(f"(schema version {SCHEMA_VERSION}): ", out)
        self.assertEqual(
            self.nss_racf(target, "LISTUSER *"), self.nss_racf(source, "LISTUSER *")
        )

    def test_interruptedCopyLeavesTargetEmpty(self) -> None:
        """
        A target that refuses one row (a real trigger, late in the copy,
        after users, profiles and certificates were written) gets none of
        the copy; once it accepts, the same copy goes through.
        """
        source = self.source()
        target = self.path("copy.db")
        self.open(target).close()
        with sqlite3.connect(target) as connection:
            connection.execute(
                "CREATE TRIGGER no_default BEFORE INSERT ON ring_members "
                "WHEN NEW.is_default = 1 BEGIN "
                "SELECT RAISE(ABORT, 'no default certificates here'); END"
            )
        status, out, err = self.copy(source, target)
        self.assertEqual((status, out), (2, ""))
        self.assertIn(
            f"nss-database: NSR0352E copying into security database {target} "
            "failed at table ring_members (NSR0201E security database "
            f"{target} is not usable (no default certificates here)); the copy "
            "was rolled back and the target holds none of it",
            err,
        )
        self.assertEqual(set(self.rows(target).values()), {0})
        with sqlite3.connect(target) as connection:
            connection.execute("DROP TRIGGER no_default")
        self.assertCopied(*self.copy(source, target))


class PostgresqlCopyTests(CopyTestCase):
    """
    Between SQLite and PostgreSQL, each way.
    """

    def setUp(self) -> None:
        super().setUp()
        self.uri = postgresql_uri(self)

    def test_sqliteToPostgresqlToSqlite(self) -> None:
        """
        A file copied into PostgreSQL, and that copy into a file again, list
        the same as the original, and log on, check PassTickets and sign.
        """
        source = self.source()
        before = self.listings(source)
        # The password stays out of every message.
        status, out, err = self.copy(source, self.uri + "&password=Sw0rdfish")
        self.assertNotIn("Sw0rdfish", out + err)
        self.assertCopied(status, out, err)
        back = self.path("back.db")
        self.assertCopied(*self.copy(self.uri, back))
        self.assertEqual(self.listings(self.uri), before)
        self.assertEqual(self.listings(back), before)
        self.assertServes(self.uri)
        self.assertServes(back)

    def test_identityMovedPastCopiedIds(self) -> None:
        """
        The certificates keep their ids on PostgreSQL, where the id is
        generated always, and the next one generated is past the highest.
        """
        source = self.source()
        self.assertCopied(*self.copy(source, self.uri))
        with sqlite3.connect(source) as connection:
            ids = connection.execute("SELECT id FROM certificates").fetchall()
        database = self.open(self.uri)
        with database.reading() as cursor:
            copied = cursor.execute("SELECT id FROM certificates").fetchall()
        self.assertEqual(sorted(copied), sorted(ids))
        for label in ("New CA", "Newer CA"):
            status, _out, err = self.nss_racf(
                self.uri,
                "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('New')) NISTECC "
                f"SIZE(256) WITHLABEL('{label}')",
            )
            self.assertEqual((status, err), (0, ""), label)
        with database.reading() as cursor:
            added = cursor.execute(
                "SELECT id FROM certificates WHERE label LIKE 'New%' ORDER BY id"
            ).fetchall()
        highest = max(i for (i,) in ids)
        self.assertEqual(added, [(highest + 1,), (highest + 2,)])

    def test_nonEmptyTargetRefused(self) -> None:
        source = self.source()
        self.assertEqual(self.nss_racf(self.uri, "ADDUSER BOB")[0], 0)
        before = self.nss_racf(self.uri, "LISTUSER *")
        status, out, err = self.copy(source, self.uri)
        self.assertEqual((status, out), (1, ""))
        self.assertIn("NSR0350E security database postgresql:", err)
        self.assertIn("is not empty (rows in users 1)", err)
        self.assertEqual(self.nss_racf(self.uri, "LISTUSER *"), before)

    def test_wrongStashRefusedFirst(self) -> None:
        """
        Not a table is made in the target before the stash is refused.
        """
        source = self.source()
        other = self.path("other.sth")
        create_stash(other)
        status, _out, err = self.nss_database(
            "copy", "--from", source, "--to", self.uri, "--stash", other
        )
        self.assertEqual(status, 2)
        self.assertIn("NSR0203E", err)
        self.assertEqual(self.rows(self.uri), {})

    def test_emptySourceRefused(self) -> None:
        """
        An empty PostgreSQL database is no source: it is refused, and not
        initialised by being read.
        """
        status, _out, err = self.copy(self.uri, self.path("copy.db"))
        self.assertEqual(status, 2)
        self.assertIn("NSR0201E security database postgresql:", err)
        self.assertIn("is empty", err)
        self.assertEqual(self.rows(self.uri), {})
        self.assertFalse(os.path.exists(self.path("copy.db")))

    def test_unlistedTableRefused(self) -> None:
        source = self.source()
        self.assertCopied(*self.copy(source, self.uri))
        database = self.open(self.uri)
        with database.transaction() as cursor:
            cursor.execute("CREATE TABLE inventory (item TEXT)")
        status, _out, err = self.copy(self.uri, self.path("copy.db"))
        self.assertEqual(status, 2)
        self.assertIn("has the table inventory, which this release's", err)
        self.assertFalse(os.path.exists(self.path("copy.db")))

    def test_interruptedCopyLeavesTargetEmpty(self) -> None:
        """
        A PostgreSQL target that refuses one row (a real CHECK constraint)
        keeps none of the copy, only the schema's empty tables, which a new
        copy accepts once the row is.
        """
        source = self.source()
        self.open(self.uri).close()
        database = self.open(self.uri)
        with database.transaction() as cursor:
            cursor.execute(
                "ALTER TABLE ring_members ADD CONSTRAINT no_default "
                "CHECK (is_default = 0)"
            )
        status, out, err = self.copy(source, self.uri)
        self.assertEqual((status, out), (2, ""))
        self.assertIn("NSR0352E copying into security database postgresql:", err)
        self.assertIn("failed at table ring_members (NSR0201E ", err)
        self.assertIn('violates check constraint "no_default"', err)
        self.assertEqual(set(self.rows(self.uri).values()), {0})
        with database.transaction() as cursor:
            cursor.execute("ALTER TABLE ring_members DROP CONSTRAINT no_default")
        self.assertCopied(*self.copy(source, self.uri))
        self.assertServes(self.uri)

    def test_stashMustBeNamed(self) -> None:
        """
        A PostgreSQL source has no "beside it" for its stash.
        """
        os.environ.pop("NSS_STASH", None)
        status, _out, err = self.nss_database(
            "copy", "--from", self.uri, "--to", self.path("copy.db")
        )
        self.assertEqual(status, 2)
        self.assertIn("NSR0203E", err)
        self.assertIn("name its stash file with --stash or NSS_STASH", err)


class VersionTests(CopyTestCase):
    def version(self, location: str) -> tuple[int, str, str]:
        return self.nss_database("version", "--database", location)

    def test_file(self) -> None:
        source = self.source()
        self.assertEqual(
            self.version(source),
            (
                0,
                "ENGINE           SQLite\n"
                f"LOCATION         {source}\n"
                f"SCHEMA VERSION   {SCHEMA_VERSION}\n"
                f"THIS RELEASE     {SCHEMA_VERSION}\n",
                "",
            ),
        )

    def test_newerNotRefusedButSaid(self) -> None:
        """
        A database newer than this release is what an operator asks about:
        its version is said, not refused, and nothing is changed.
        """
        source = self.source()
        with sqlite3.connect(source) as connection:
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        status, out, _err = self.version(source)
        self.assertEqual(status, 0)
        self.assertIn(
            f"SCHEMA VERSION   {SCHEMA_VERSION + 1}: newer than this release, "
            "which refuses it\n",
            out,
        )

    def test_missingNotCreated(self) -> None:
        missing = self.path("missing.db")
        status, out, err = self.version(missing)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(
            err,
            f"nss-database: NSR0201E security database {missing} does not exist\n",
        )
        self.assertFalse(os.path.exists(missing))

    def test_postgresqlWithoutPassword(self) -> None:
        """
        The location is shown without the URI's password; an empty database
        is said to be empty, and left so.
        """
        uri = postgresql_uri(self) + "&password=Sw0rdfish"
        status, out, err = self.version(uri)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("ENGINE           PostgreSQL\n", out)
        self.assertIn("LOCATION         postgresql:///nss?", out)
        self.assertNotIn("Sw0rdfish", out)
        self.assertIn("SCHEMA VERSION   none: the database is empty", out)
        self.assertEqual(self.rows(uri), {})
        self.open(uri).close()
        self.assertIn(f"SCHEMA VERSION   {SCHEMA_VERSION}\n", self.version(uri)[1])


class CommandLineTests(CopyTestCase):
    def test_usage(self) -> None:
        for argv in [
            [],
            ["copy"],
            ["copy", "--from", "a.db"],
            ["copy", "--to", "b.db"],
            ["move"],
        ]:
            status, out, err = self.nss_database(*argv)
            self.assertEqual((status, out), (2, ""), argv)
            self.assertTrue(err.startswith("nss-database: "), argv)
            self.assertIn("(see nss-database --help)", err)

    def test_help(self) -> None:
        status, out, err = self.nss_database("copy", "--help")
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(
            out.startswith(
                "Usage: nss-database copy --from SOURCE --to TARGET [--stash PATH]\n"
                "Options:\n"
            ),
            out,
        )
        self.assertIn("--from", out)
        self.assertIn("--stash", out)
