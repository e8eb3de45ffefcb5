"""
Tests for C{nss-database rekey}: every sealed key of a real security
database (built with C{nss-racf}, as an operator builds one) resealed under
a new master key, on SQLite files and on a real PostgreSQL server (those
tests skip, saying why, where none can start), and a real C{twistd nssd}
that serves through a rotation and takes the new stash at its refresh.

Failures are real ones, not mocks: a sealed key damaged on disk, and a
trigger in the database that refuses one row's update after others were
resealed.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import time
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nsstwisted.cli import database as command
from nsstwisted.client import PassTicketCredentials, PasswordCredentials, connect
from nsstwisted.security.database import MASTER_KEY_CHECK, SecurityDatabase
from nsstwisted.security.errors import MasterKeyChangedError, StashError
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.location import redact_uri
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.security.profiles import ProfileStore, ResourceClass
from nsstwisted.security.stash import create_stash, load_stash
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LISTENING,
    LOOPBACK,
    PASSTICKET_KEY,
    build_security,
    capture_messages,
    client_endpoint,
    racf,
    spawn_twistd,
    start_nssd,
    twistd_args,
    write_nssd_config,
)
from tests.postgresql import postgresql_uri
from tests.test_database_copy import CopyTestCase
from tests.test_nssd_twistd import process_pid

# What the example job seals: four private keys (the CA's, two clients',
# nssd's TLS key) and the PassTicket key of PTKTDATA profile NSSD.
RESEALED = "4 private keys and 1 PassTicket keys"


def _value(stored: Any) -> Any:
    return stored if isinstance(stored, str) else bytes(stored)


class RekeyTestCase(CopyTestCase):
    """
    A database built with nss-racf, and what its sealed rows hold.
    """

    def setUp(self) -> None:
        super().setUp()
        self.oldStash = self.stash
        self.newStash = self.path("new.sth")

    def rekey(self, location: str, *more: str) -> tuple[int, str, str]:
        return self.nss_database(
            "rekey",
            "--database",
            location,
            "--stash",
            self.oldStash,
            "--new-stash",
            self.newStash,
            *more,
        )

    def sealed(self, location: str) -> dict[str, Any]:
        """
        Every sealed value and the recorded check value, read as they are
        stored.
        """
        queries = {
            "certificates": "SELECT label, sealed_key FROM certificates "
            "WHERE sealed_key IS NOT NULL",
            "profiles": "SELECT name, sealed_key FROM profiles "
            "WHERE sealed_key IS NOT NULL",
            "check": "SELECT name, value FROM settings WHERE name = 'master_key_check'",
        }
        found: dict[str, Any] = {}
        if location.startswith("postgresql:"):
            import psycopg

            with psycopg.connect(location) as server:
                for name, query in queries.items():
                    rows = server.execute(query).fetchall()
                    found[name] = {row[0]: _value(row[1]) for row in rows}
            return found
        connection = sqlite3.connect(location)
        try:
            for name, query in queries.items():
                rows = connection.execute(query).fetchall()
                found[name] = {row[0]: _value(row[1]) for row in rows}
        finally:
            connection.close()
        return found

    def assertOldStashRefused(self, location: str) -> None:
        database = SecurityDatabase.open(location, self.oldStash)
        self.addCleanup(database.close)
        error = self.assertRaises(StashError, database.master_key)
        self.assertIn("does not belong to the security database", str(error))

    def assertRotated(self, location: str) -> None:
        before = self.sealed(location)
        with open(self.oldStash, "rb") as f:
            oldBytes = f.read()
        status, out, err = self.rekey(location)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("NSR0370I the master key of security database ", out)
        self.assertIn(RESEALED, out)
        self.assertIn(f"stash file {self.newStash}", out)
        self.assertEqual(os.stat(self.newStash).st_mode & 0o777, 0o600)
        with open(self.oldStash, "rb") as f:
            self.assertEqual(f.read(), oldBytes)
        after = self.sealed(location)
        for table in ("certificates", "profiles"):
            self.assertEqual(sorted(after[table]), sorted(before[table]))
            for name, blob in after[table].items():
                self.assertNotEqual(blob, before[table][name], name)
        self.assertEqual(
            after["check"][MASTER_KEY_CHECK],
            load_stash(self.newStash).check_value().hex(),
        )
        self.assertOldStashRefused(location)
        self.stash = self.newStash
        self.assertServes(location)

    def assertUntouched(self, location: str, before: dict[str, Any]) -> None:
        """
        A rotation that failed: every key as it was, the old stash serves,
        and no new stash is left.
        """
        self.assertEqual(self.sealed(location), before)
        self.assertFalse(os.path.lexists(self.newStash))
        self.assertEqual(
            [name for name in os.listdir(self.folder) if name.startswith(".new")], []
        )


class SqliteRekeyTests(RekeyTestCase):
    def test_rekeyThenServeWithNewStash(self) -> None:
        """
        Every private key and the PassTicket key are resealed under the new
        key; the copy logs on and signs with the new stash, and the old one
        is refused.
        """
        self.assertRotated(self.source())

    def test_damagedKeyRollsBack(self) -> None:
        """
        A key the old stash cannot unseal (damaged on disk) stops the
        rotation at that key, after others were resealed: all of it is
        rolled back, the new stash removed, and the old one still serves.
        """
        location = self.source()
        connection = sqlite3.connect(location)
        connection.execute(
            "UPDATE certificates SET sealed_key = CAST(substr(sealed_key, 1, 13)"
            " || zeroblob(40) AS BLOB) WHERE label = 'NSSD TLS'"
        )
        connection.commit()
        connection.close()
        before = self.sealed(location)
        status, out, err = self.rekey(location)
        self.assertEqual((status, out), (2, ""))
        self.assertIn("NSR0371E rotating the master key of security database", err)
        self.assertIn("failed at the private key of certificate 'NSSD TLS'", err)
        self.assertIn("every key is still sealed under the master key", err)
        self.assertIn(f"new stash file {self.newStash} was removed", err)
        self.assertUntouched(location, before)
        self.assertServes(location)

    def test_refusedRowRollsBack(self) -> None:
        """
        The database refuses the last row's update (a trigger, as a full
        disk or a constraint would): the keys resealed before it are rolled
        back with it.
        """
        location = self.source()
        connection = sqlite3.connect(location)
        connection.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE OF sealed_key ON profiles "
            "BEGIN SELECT RAISE(ABORT, 'injected refusal'); END"
        )
        connection.commit()
        connection.close()
        before = self.sealed(location)
        status, _out, err = self.rekey(location)
        self.assertEqual(status, 2)
        self.assertIn("NSR0371E", err)
        self.assertIn("failed at the PassTicket key of PTKTDATA profile NSSD", err)
        self.assertIn("injected refusal", err)
        self.assertUntouched(location, before)
        self.assertServes(location)

    def test_runAgainAfterCommit(self) -> None:
        """
        Run again after it committed (as after a crash before its report),
        the rotation says the database is already sealed under the new
        stash, and changes nothing.
        """
        location = self.source()
        self.assertEqual(self.rekey(location)[0], 0)
        after = self.sealed(location)
        status, out, err = self.rekey(location)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("NSR0374I security database ", out)
        self.assertIn(
            f"already sealed under the master key of stash file {self.newStash}", out
        )
        self.assertEqual(self.sealed(location), after)

    def test_newStashInTheWay(self) -> None:
        """
        A file at the new stash's name that the database is not sealed
        under (left by a rotation that did not commit) is never
        overwritten: the rotation is refused, and says what to do.
        """
        location = self.source()
        before = self.sealed(location)
        create_stash(self.newStash)
        with open(self.newStash, "rb") as f:
            leftover = f.read()
        status, out, err = self.rekey(location)
        self.assertEqual((status, out), (1, ""))
        self.assertIn(f"NSR0373E stash file {self.newStash} already exists", err)
        self.assertIn("remove it and run the rotation again", err)
        self.assertEqual(self.sealed(location), before)
        with open(self.newStash, "rb") as f:
            self.assertEqual(f.read(), leftover)

    def test_audited(self) -> None:
        """
        With C{--audit-file}, a rotation and a refused one are each recorded
        (who, the command, its options, the result); an audit file that
        cannot be opened rotates nothing (NSR0380E).
        """
        location = self.source()
        audit = self.path("nssd.audit")
        status, _out, err = self.rekey(location, "--audit-file", audit)
        self.assertEqual(status, 0, err)
        status, _out, err = self.rekey(location, "--audit-file", audit)
        self.assertEqual(status, 0, err)
        self.newStash = self.oldStash
        status, _out, err = self.rekey(location, "--audit-file", audit)
        self.assertEqual(status, 1)
        with open(audit, "rb") as f:
            records = [json.loads(line) for line in f]
        self.assertEqual(
            [(r["event"], r["command"], r["result"]) for r in records],
            [("database", "rekey", "success")] * 2 + [("database", "rekey", "failure")],
        )
        self.assertEqual(
            records[0]["options"],
            {
                "database": location,
                "stash": self.oldStash,
                "new-stash": self.path("new.sth"),
            },
        )
        self.assertEqual(records[2]["messageId"], "NSR0373E")
        self.assertEqual(records[0]["uid"], os.getuid())
        os.remove(audit)
        os.mkdir(audit)
        before = self.sealed(location)
        self.newStash = self.path("newer.sth")
        status, _out, err = self.rekey(location, "--audit-file", audit)
        self.assertEqual(status, 2)
        self.assertIn(f"NSR0380E the audit file {audit} cannot be opened", err)
        self.assertEqual(self.sealed(location), before)
        self.assertFalse(os.path.exists(self.newStash))
        # A record that cannot be written after the rotation ran (a full
        # disk): the rotation stands, and nss-database says so.
        self.oldStash = self.path("new.sth")
        status, _out, err = self.rekey(location, "--audit-file", "/dev/full")
        self.assertEqual(status, 2)
        self.assertEqual(
            err,
            "nss-database: NSR0381E rekey ran, but its record cannot be written"
            " to the audit trail (/dev/full: No space left on device)\n",
        )
        self.assertTrue(os.path.exists(self.newStash))

    def test_sameStashRefused(self) -> None:
        location = self.source()
        before = self.sealed(location)
        self.newStash = self.oldStash
        status, _out, err = self.rekey(location)
        self.assertEqual(status, 1)
        self.assertIn("NSR0373E the new stash file", err)
        self.assertEqual(self.sealed(location), before)

    def test_wrongOldStashRefused(self) -> None:
        location = self.source()
        before = self.sealed(location)
        self.oldStash = self.path("other.sth")
        create_stash(self.oldStash)
        status, _out, err = self.rekey(location)
        self.assertEqual(status, 2)
        self.assertIn("NSR0203E stash file", err)
        self.assertIn("does not belong to the security database", err)
        self.assertUntouched(location, before)

    def test_writerWithOldKeyRefused(self) -> None:
        """
        A command that read the old stash before the rotation committed
        stores nothing sealed under it afterwards: its key would open
        nothing, since the database no longer has that key.
        """
        location = self.source()
        writer = self.open(location)
        KeyRingStore(writer).get_certificate(CertificateOwner.authority(), "NSS CA")
        writer.master_key()
        self.assertEqual(self.rekey(location)[0], 0)
        error = self.assertRaises(
            MasterKeyChangedError,
            ProfileStore(writer).define,
            ResourceClass.PTKTDATA,
            "OTHERAPP",
            owner="IBMUSER",
            passTicketKey=bytes(8),
        )
        self.assertIn("NSR0372E", str(error))
        self.assertNotIn("OTHERAPP", self.sealed(location)["profiles"])

    def test_reloadMasterKey(self) -> None:
        """
        A server holding the old key takes the new one only from a stash
        that holds it, and keeps the old one otherwise.
        """
        location = self.source()
        server = self.open(location)
        held = server.master_key()
        self.assertEqual(self.rekey(location)[0], 0)
        error = self.assertRaises(MasterKeyChangedError, server.reload_master_key)
        self.assertIn(f"stash file {self.oldStash} does not hold", str(error))
        self.assertIs(server.master_key(), held)
        new = server.reload_master_key(self.newStash)
        self.assertEqual(new.check_value(), load_stash(self.newStash).check_value())
        self.assertEqual(server.stashPath, self.newStash)
        self.assertIs(server.reload_master_key(), new)

    def test_reloadStashReplacedInPlace(self) -> None:
        """
        The new stash renamed over the old one: the server takes it from
        the path it has always read.
        """
        location = self.source()
        server = self.open(location)
        server.master_key()
        self.assertEqual(self.rekey(location)[0], 0)
        os.replace(self.newStash, self.oldStash)
        key = server.reload_master_key()
        self.assertEqual(key.check_value(), load_stash(self.oldStash).check_value())
        self.assertEqual(server.stashPath, self.oldStash)


class PostgresqlRekeyTests(RekeyTestCase):
    """
    The same on a real PostgreSQL server.
    """

    def source_on_postgresql(self) -> str:
        uri = postgresql_uri(self)
        status, _out, err = self.copy(self.source(), uri)
        self.assertEqual((status, err), (0, ""))
        return uri

    def test_rekeyThenServeWithNewStash(self) -> None:
        self.assertRotated(self.source_on_postgresql())

    def test_auditedWithoutPassword(self) -> None:
        """
        A URI's password never reaches the audit record: the rest of the
        URI does, to say which database was rotated.
        """
        uri = self.source_on_postgresql() + "&password=Sekr1t-Pw"
        audit = self.path("nssd.audit")
        status, _out, err = self.rekey(uri, "--audit-file", audit)
        self.assertEqual(status, 0, err)
        with open(audit, "rb") as f:
            content = f.read()
        self.assertNotIn(b"Sekr1t", content)
        [record] = [json.loads(line) for line in content.splitlines()]
        self.assertEqual(record["options"]["database"], redact_uri(uri))
        self.assertIn("search_path", record["options"]["database"])

    def test_refusedRowRollsBack(self) -> None:
        import psycopg

        uri = self.source_on_postgresql()
        with psycopg.connect(uri) as server:
            server.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$BEGIN RAISE EXCEPTION 'injected refusal'; END$$"
            )
            server.execute(
                "CREATE TRIGGER refuse BEFORE UPDATE OF sealed_key ON profiles "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        before = self.sealed(uri)
        status, _out, err = self.rekey(uri)
        self.assertEqual(status, 2)
        self.assertIn("NSR0371E", err)
        self.assertIn("failed at the PassTicket key of PTKTDATA profile NSSD", err)
        self.assertIn("injected refusal", err)
        self.assertUntouched(uri, before)
        self.assertServes(uri)


class NssdThroughRekeyTests(TestCase):
    """
    A real C{twistd nssd}: it signs while the rotation runs and after it
    (with the keys it holds), refuses a refresh under the old stash and
    keeps serving, takes the new stash at a refresh that names it, and
    starts with it.
    """

    timeout = 90

    def test_servesThroughRekey(self) -> Deferred[None]:
        setup = build_security(self)
        newStash = os.path.join(setup.folder, "new.sth")
        config = write_nssd_config(setup)
        process = spawn_twistd(self, twistd_args(config))

        async def logon(port: int) -> Any:
            return await connect(
                reactor,
                client_endpoint(setup, port),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )

        async def passticket_logon(port: int) -> Any:
            return await connect(
                reactor,
                client_endpoint(setup, port),
                serverIdentity=LOOPBACK,
                clientName="CLIENT2",
                credentials=PassTicketCredentials(
                    "CLIENT2",
                    lambda: generate_passticket(
                        "CLIENT2", "NSSD", parse_key(PASSTICKET_KEY), int(time.time())
                    ),
                ),
                services=Services.CERT,
            )

        def sign(
            session: Any,
            label: str = "Client1 cert",
            scheme: SignatureSchemeCode = SignatureSchemeCode.RSA_PKCS1_SHA256,
        ) -> Deferred[Any]:
            return ensureDeferred(
                session.sign(
                    label=label,
                    data=b"signed through a rotation",
                    scheme=scheme,
                )
            )

        async def go() -> None:
            found = await process.waitFor(LISTENING.pattern)
            port = int(found.group(1))
            one = await logon(port)
            await sign(one)
            # Signatures go on while the rotation holds the write lock.
            rotation = deferToThread(self.rekey, setup.database, setup.stash, newStash)
            signed = await gatherResults([sign(one) for _ in range(20)])
            self.assertEqual(len(signed), 20)
            self.assertIn("NSR0370I", await rotation)
            await sign(one)

            # A refresh under the old stash is refused; nothing changes.
            mark = len(process.output)
            os.kill(process_pid(process), signal.SIGHUP)
            await process.waitFor(rb"DBG0012I refresh rejected", mark)
            self.assertIn(b"NSR0372E", process.output[mark:])
            await sign(one)
            # A new logon (which replaces the session of the same name).
            one = await logon(port)
            await sign(one)

            # A refresh that names the new stash takes it: PassTicket keys
            # are unsealed with it.
            mark = len(process.output)
            write_nssd_config(setup, stash=newStash)
            os.kill(process_pid(process), signal.SIGHUP)
            await process.waitFor(rb"DBG0011I configuration refreshed", mark)
            await sign(one)
            two = await passticket_logon(port)
            await sign(two, "Client2 cert", SignatureSchemeCode.ECDSA_SHA256)
            await two.close()
            await one.close()

            # And a restart with it.
            process.transport.signalProcess("TERM")  # type: ignore[union-attr]
            await process.ended
            again = spawn_twistd(self, twistd_args(config))
            found = await again.waitFor(LISTENING.pattern)
            two = await logon(int(found.group(1)))
            await sign(two)
            await two.close()

        return ensureDeferred(go())

    def rekey(self, database: str, old: str, new: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        status = command.run(
            ["rekey", "--database", database, "--stash", old, "--new-stash", new],
            out,
            err,
        )
        self.assertEqual((status, err.getvalue()), (0, ""))
        return out.getvalue()


class CatchUpTests(TestCase):
    """
    nssd catches up with a security refresh (SETROPTS RACLIST REFRESH)
    made after a rotation, before it has the new stash: it takes the
    profiles and keeps its ring and the keys it holds.
    """

    def test_securityRefreshKeepsRing(self) -> Deferred[None]:
        setup = build_security(self)
        service = start_nssd(self, setup)
        ring = service.ring
        out, err = io.StringIO(), io.StringIO()
        newStash = os.path.join(setup.folder, "new.sth")
        status = command.run(
            ["rekey", "--database", setup.database, "--new-stash", newStash],
            out,
            err,
        )
        self.assertEqual((status, err.getvalue()), (0, ""))
        racf(setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
        generation = service.snapshot.generation
        messages = capture_messages(self)

        async def go() -> None:
            snapshot = await service.current_snapshot()
            self.assertNotEqual(snapshot.generation, generation)
            self.assertIs(service.ring, ring)
            self.assertTrue(any("NSR0372E" in m for m in messages), messages)
            assert ring is not None
            signature = await deferToThread(
                service.keyrings.sign, "NSSD", "NSSRING", "Client1 cert", b"held"
            )
            self.assertTrue(signature)

        return ensureDeferred(go())
