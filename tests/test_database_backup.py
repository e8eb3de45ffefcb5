"""
Tests for C{nss-database backup} (L{nsstwisted.security.backup}): an online
backup of a real SQLite security database, built by the documented example
job, taken while another connection holds a write transaction open and while
a real nssd (in-process, real TLS) records logons in it; the refusals; and a
restore, as docs/operations.md describes it, from which a new nssd serves a
logon and a signature.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from nsstwisted.cli import database as command
from nsstwisted.cli import racf
from nsstwisted.client import NssSession, PasswordCredentials, connect
from nsstwisted.security.backup import backup_database
from nsstwisted.security.errors import DatabaseLockedError
from nsstwisted.security.storage import SCHEMA_TABLES, SCHEMA_VERSION
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LOOPBACK,
    SecuritySetup,
    build_security,
    client_endpoint,
    start_nssd,
)
from tests.postgresql import _binary, postgresql_uri, private_postgresql
from tests.test_nssd_postgresql import serving_role_grants

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

# The tables only logons write: a logon recorded after the backup's moment
# is rightly in the source and not in the backup.
LOGON_STATE = frozenset({"users", "logon_counters", "passticket_uses"})

DATA = b"IKE_AUTH octets signed with a restored key"


def nss_database(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = command.run(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def listings(database: str, stash: str, *, logonState: bool = True) -> str:
    """
    What the listing commands say of C{database}; without the lines that
    logons change, unless C{logonState}.
    """
    said = []
    for listing in LISTINGS:
        out, err = io.StringIO(), io.StringIO()
        status = racf.run(["--database", database, "--stash", stash, listing], out, err)
        if status:
            raise RuntimeError(f"{listing}: {err.getvalue()}")
        said.append(out.getvalue())
    text = "".join(said)
    if logonState:
        return text
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if "LAST-ACCESS=" not in line and "FAILED-LOGONS=" not in line
    )


def rows(database: str, table: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        query = f'SELECT * FROM "{table}" ORDER BY 1, 2'  # noqa: S608
        return connection.execute(query).fetchall()
    finally:
        connection.close()


async def signed_and_verified(case: TestCase, setup: SecuritySetup, port: int) -> None:
    """
    Log CLIENT1 on to the nssd at C{port} with its password, have it sign
    with CLIENT1's certificate, and check the signature with the key of the
    certificate nssd returns.
    """
    session = await connect(
        reactor,
        client_endpoint(setup, port),
        serverIdentity=LOOPBACK,
        clientName="CLIENT1",
        credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
        services=Services.CERT,
    )
    try:
        reply = await session.sign(
            label="Client1 cert",
            data=DATA,
            scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
        )
    finally:
        await session.close()
    certificate = x509.load_der_x509_certificate(reply.certificate)
    case.assertIn("client1.example", certificate.subject.rfc4514_string())
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(reply.signature, DATA, padding.PKCS1v15(), hashes.SHA256())


class BackupTestCase(TestCase):
    """
    A security database built by the example job, and a folder of its own
    (mode 0700, as the guide says) for its backups.
    """

    def setUp(self) -> None:
        self.setup = build_security(self)
        self.backups = os.path.abspath(self.mktemp())
        os.makedirs(self.backups, mode=0o700)
        self.target = os.path.join(self.backups, "security-backup.db")

    def backup(self, *extra: str) -> tuple[int, str, str]:
        return nss_database(
            "backup", "--database", self.setup.database, "--to", self.target, *extra
        )

    def assertBackedUp(self, result: tuple[int, str, str]) -> None:
        """
        The backup was made and said so, with the stash's warning, and its
        folder holds the backup alone: no stash, no temporary file.
        """
        status, out, err = result
        self.assertEqual((status, err), (0, ""))
        self.assertIn(
            f"NSR0360I security database {self.setup.database} was backed up to "
            f"{self.target} (schema version {SCHEMA_VERSION}, ",
            out,
        )
        self.assertIn("NSR0361I the stash file was not copied into the backup", out)
        self.assertEqual(os.listdir(self.backups), ["security-backup.db"])
        self.assertEqual(stat.S_IMODE(os.stat(self.target).st_mode), 0o600)
        connection = sqlite3.connect(f"file:{self.target}?mode=ro", uri=True)
        try:
            self.assertEqual(
                connection.execute("PRAGMA integrity_check").fetchall(), [("ok",)]
            )
        finally:
            connection.close()


class OnlineBackupTests(BackupTestCase):
    """
    A backup is one committed moment of the database, taken while others
    write to it.
    """

    def test_beside_an_open_write_transaction(self) -> None:
        """
        A writer holding a transaction open does not stop the backup, its
        uncommitted change is not in it, and it commits after the backup.
        """
        before = listings(self.setup.database, self.setup.stash)
        writer = sqlite3.connect(self.setup.database, isolation_level=None)
        self.addCleanup(writer.close)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE users SET name = 'UNCOMMITTED' WHERE userid = 'CLIENT1'")

        self.assertBackedUp(self.backup())

        writer.execute("COMMIT")
        self.assertEqual(listings(self.target, self.setup.stash), before)
        self.assertIn(
            "NAME=UNCOMMITTED", listings(self.setup.database, self.setup.stash)
        )
        for table in SCHEMA_TABLES:
            if table != "users":
                self.assertEqual(
                    rows(self.target, table), rows(self.setup.database, table), table
                )

    def test_while_nssd_serves_logons(self) -> None:
        """
        Backups taken while a real nssd logs clients on (and records each
        logon in the database) all succeed, and each holds the users,
        profiles and key rings of the source, sealed keys byte for byte.
        """
        service = start_nssd(self, self.setup)
        assert service.port is not None
        port = service.port.getHost().port  # type: ignore[attr-defined]

        async def logon_and_sign() -> bytes:
            session: NssSession = await connect(
                reactor,
                client_endpoint(self.setup, port),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )
            try:
                reply = await session.sign(
                    label="Client1 cert",
                    data=DATA,
                    scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
                )
            finally:
                await session.close()
            return reply.signature

        logonsDone = threading.Event()

        def backups() -> list[tuple[int, str, str]]:
            # Backup after backup, for as long as the logons go on.
            taken = [self.backup("--replace")]
            while not logonsDone.is_set():
                taken.append(self.backup("--replace"))
            return taken

        async def logons() -> list[bytes]:
            # One after another: a client name has one session at a time.
            try:
                return [await logon_and_sign() for _ in range(12)]
            finally:
                logonsDone.set()

        async def go() -> None:
            backedUp = deferToThread(backups)
            signatures = await ensureDeferred(logons())
            taken = await backedUp
            self.assertGreater(len(taken), 1)
            for status, out, err in taken:
                self.assertEqual((status, err), (0, ""))
                self.assertIn("NSR0360I", out)
            self.assertEqual(len(signatures), 12)

        d: Deferred[None] = ensureDeferred(go())

        def compare(_: None) -> None:
            self.assertEqual(os.listdir(self.backups), ["security-backup.db"])
            self.assertEqual(stat.S_IMODE(os.stat(self.target).st_mode), 0o600)
            self.assertEqual(
                listings(self.target, self.setup.stash, logonState=False),
                listings(self.setup.database, self.setup.stash, logonState=False),
            )
            for table in SCHEMA_TABLES:
                if table not in LOGON_STATE:
                    self.assertEqual(
                        rows(self.target, table),
                        rows(self.setup.database, table),
                        table,
                    )

        return d.addCallback(compare)  # type: ignore[return-value]


class RefusalTests(BackupTestCase):
    """
    A backup that cannot or may not be made is refused, status 1, and
    nothing is written.
    """

    def assertRefused(self, result: tuple[int, str, str], message: str) -> None:
        status, out, err = result
        self.assertEqual((status, out), (1, ""))
        self.assertIn(message, err)
        self.assertIn("nothing was written", err)

    def test_existing_target_without_replace(self) -> None:
        """
        An existing target is kept unless --replace is given; with it, the
        target is replaced by a backup of mode 0600 whatever its own was.
        """
        with open(self.target, "w") as earlier:
            earlier.write("an earlier backup\n")
        os.chmod(self.target, 0o644)
        self.assertRefused(self.backup(), "NSR0362E")
        with open(self.target) as kept:
            self.assertEqual(kept.read(), "an earlier backup\n")
        self.assertEqual(os.listdir(self.backups), ["security-backup.db"])

        status, out, err = self.backup("--replace")
        self.assertIn(", replacing the earlier file)", out)
        self.assertBackedUp((status, out, err))

    def test_folder_missing(self) -> None:
        """
        A target in a folder that does not exist is refused, and the folder
        is not made.
        """
        self.target = os.path.join(self.backups, "missing", "security.db")
        self.assertRefused(self.backup(), "NSR0363E")
        self.assertEqual(os.listdir(self.backups), [])

    def test_target_is_a_folder(self) -> None:
        """
        A folder named as the target is refused, with or without --replace.
        """
        self.target = self.backups
        self.assertRefused(self.backup("--replace"), "NSR0364E")
        self.assertEqual(os.listdir(self.backups), [])

    def test_target_is_the_database(self) -> None:
        """
        The database itself is no target, even with --replace.
        """
        before = rows(self.setup.database, "users")
        self.target = self.setup.database
        self.assertRefused(self.backup("--replace"), "NSR0364E")
        self.assertEqual(rows(self.setup.database, "users"), before)

    def test_postgresql(self) -> None:
        """
        A security database on a real PostgreSQL server is refused with the
        pointer to the documented pg_dump procedure, and no file is made.
        """
        setup = build_security(self, database=postgresql_uri(self))
        status, out, err = nss_database(
            "backup", "--database", setup.database, "--to", self.target
        )
        self.assertEqual((status, out), (1, ""))
        self.assertIn("NSR0365E", err)
        self.assertIn("pg_dump --format=custom", err)
        self.assertIn('"Backup and restore"', err)
        self.assertEqual(os.listdir(self.backups), [])

    def test_stash_in_the_backup_folder(self) -> None:
        """
        A backup made in the folder of the database's stash is made, and
        draws the warning that the folder now holds every key.
        """
        self.target = os.path.join(self.setup.folder, "security-backup.db")
        status, out, err = self.backup()
        self.assertEqual(status, 0)
        self.assertIn("NSR0360I", out)
        self.assertIn(f"NSR0367W the stash file {self.setup.stash} is in", err)


class RestoreTests(BackupTestCase):
    """
    The restore of docs/operations.md: the backup copied into place (mode
    0600) with the stash that matches it, and nssd started on it.
    """

    def test_restored_backup_serves(self) -> None:
        """
        A backup taken while nssd served, restored onto a new host's folder
        after the source lost a certificate, serves that certificate's
        client a logon and a signature that its public key verifies.
        """
        service = start_nssd(self, self.setup)
        self.assertIsNotNone(service.port)
        self.assertBackedUp(self.backup())
        # After the backup: the source loses CLIENT1's certificate.
        out, err = io.StringIO(), io.StringIO()
        deletion = "RACDCERT ID(CLIENT1) DELETE(LABEL('Client1 cert'))"
        arguments = ["--database", self.setup.database, "--stash", self.setup.stash]
        self.assertEqual(racf.run([*arguments, deletion], out, err), 0, err.getvalue())

        host = os.path.abspath(self.mktemp())
        os.makedirs(host, mode=0o700)
        database = os.path.join(host, "security.db")
        stash = os.path.join(host, "security.sth")
        # The documented copy: to a temporary name beside, mode 0600, renamed.
        shutil.copyfile(self.target, database + ".restoring")
        os.chmod(database + ".restoring", 0o600)
        os.replace(database + ".restoring", database)
        shutil.copyfile(self.setup.stash, stash)
        os.chmod(stash, 0o600)
        sockets = tempfile.mkdtemp(prefix="nss-", dir="/tmp")
        self.addCleanup(shutil.rmtree, sockets, True)
        restored = SecuritySetup(host, database, stash, self.setup.caPem, sockets)
        server = start_nssd(self, restored)
        assert server.port is not None
        port = server.port.getHost().port  # type: ignore[attr-defined]

        return ensureDeferred(  # type: ignore[return-value]
            signed_and_verified(self, restored, port)
        )


class FailureTests(BackupTestCase):
    """
    A backup that cannot be taken or fails its check leaves nothing at the
    target and nothing in its folder.
    """

    def test_locked_past_the_busy_timeout(self) -> None:
        """
        A writer that holds the database's exclusive lock makes the backup
        wait for the busy timeout, not forever, and then refuse (NSR0202E).
        """
        writer = sqlite3.connect(self.setup.database, isolation_level=None)
        self.addCleanup(writer.close)
        writer.execute("BEGIN EXCLUSIVE")
        self.addCleanup(writer.execute, "ROLLBACK")
        started = time.monotonic()
        with self.assertRaises(DatabaseLockedError) as raised:
            backup_database(self.setup.database, self.target, busyTimeout=0.3)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn("NSR0202E", str(raised.exception))
        self.assertEqual(os.listdir(self.backups), [])

    def test_damaged_copy_is_not_put_in_place(self) -> None:
        """
        A database damaged on disk gives a copy that fails its integrity
        check: it is refused (NSR0366E, status 2) and removed, and an
        earlier backup at the target is kept even with --replace.
        """
        damaged = os.path.join(self.setup.folder, "damaged.db")
        shutil.copyfile(self.setup.database, damaged)
        with open(damaged, "r+b") as f:
            pageSize = 4096
            f.seek(pageSize * 3)
            f.write(b"\xa5" * pageSize)
        with open(self.target, "w") as earlier:
            earlier.write("an earlier backup\n")
        status, out, err = nss_database(
            "backup", "--database", damaged, "--to", self.target, "--replace"
        )
        self.assertEqual((status, out), (2, ""))
        self.assertIn("NSR0366E", err)
        self.assertIn("failed its check", err)
        self.assertEqual(os.listdir(self.backups), ["security-backup.db"])
        with open(self.target) as kept:
            self.assertEqual(kept.read(), "an earlier backup\n")


class PostgresqlRestoreTests(BackupTestCase):
    """
    The PostgreSQL procedure of docs/operations.md, on a real cluster of
    the test's own: pg_dump in the custom format, the database dropped and
    made again, pg_restore without the dump's owners and grants, the
    serving role's documented grants applied, and nssd under that role
    serving a logon and a signature.  The cluster's superuser plays the
    administering role.
    """

    timeout = 120

    def test_dump_restore_serves(self) -> None:
        server = private_postgresql(self)
        dump, restore = _binary("pg_dump"), _binary("pg_restore")
        if dump is None or restore is None:
            raise SkipTest("PostgreSQL's pg_dump and pg_restore are not installed")
        admin = server.uri()
        setup = build_security(self, database=admin)
        before = listings(admin, setup.stash)
        archive = os.path.join(self.backups, "nss.dump")
        subprocess.run(
            [dump, "--format=custom", f"--file={archive}", admin],
            check=True,
            capture_output=True,
        )

        server.execute("DROP DATABASE nss", database="postgres")
        server.execute("CREATE DATABASE nss", database="postgres")
        subprocess.run(
            [
                restore,
                f"--dbname={admin}",
                "--no-owner",
                "--no-acl",
                "--single-transaction",
                "--exit-on-error",
                archive,
            ],
            check=True,
            capture_output=True,
        )
        server.execute(serving_role_grants("public", "nssd"))
        self.assertEqual(listings(admin, setup.stash), before)

        serving = admin.replace("&user=nss", "&user=nssd")
        self.assertNotEqual(serving, admin)
        service = start_nssd(self, dataclasses.replace(setup, database=serving))
        assert service.port is not None
        port = service.port.getHost().port  # type: ignore[attr-defined]
        return ensureDeferred(  # type: ignore[return-value]
            signed_and_verified(self, setup, port)
        )
