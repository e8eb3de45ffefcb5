"""
Logons while the PostgreSQL server cannot be reached, on the real server.

The outage is real as a client sees it: the test's connections belong to a
role of their own, which the test cuts off (its backends terminated, as a
server shutdown terminates them) and forbids to log in again, so that every
reconnection is refused by the server until the role is let back in.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.parse

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import DatabaseUnavailableError
from nsstwisted.security.logon import Logon, LogonOutcome
from nsstwisted.security.passticket import (
    PassTicketEvaluator,
    generate_passticket,
    parse_key,
)
from nsstwisted.security.profiles import ProfileStore, ResourceClass
from nsstwisted.security.users import UserRegistry
from tests.postgresql import postgresql_uri

KEY = "E001193519561977"


class Outage:
    """
    A role of its own for a test's connections, that can be cut off.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        try:
            import psycopg
        except ImportError:
            raise SkipTest("psycopg 3 is not installed") from None
        self._psycopg = psycopg
        self.adminUri = postgresql_uri(case)
        parts = urllib.parse.urlsplit(self.adminUri)
        query = dict(urllib.parse.parse_qsl(parts.query))
        schema = query["options"].rpartition("=")[2]
        self.role = f"outage_{schema}"
        with psycopg.connect(self.adminUri, autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {self.role} LOGIN")
            admin.execute(f"GRANT ALL ON SCHEMA {schema} TO {self.role}")
        self.uri = self.adminUri.replace("&user=nss&", f"&user={self.role}&")
        assert self.uri != self.adminUri
        case.addCleanup(self.restore)
        # The role's name is made above from the test's own schema's.
        self._terminate = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"  # noqa: S608
            f" WHERE usename = '{self.role}'"
        )

    def _admin(self, *statements: str) -> None:
        with self._psycopg.connect(self.adminUri, autocommit=True) as admin:
            for statement in statements:
                admin.execute(statement)

    def cut(self) -> None:
        """
        Terminate the role's connections and refuse new ones.
        """
        self._admin(
            f"ALTER ROLE {self.role} NOLOGIN",
            self._terminate,
        )

    def restore(self) -> None:
        self._admin(f"ALTER ROLE {self.role} LOGIN")

    def terminate(self) -> None:
        """
        Terminate the role's connections only (a server restart, as idle
        clients see it).
        """
        self._admin(self._terminate)


class OutageTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.outage = Outage(self)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        self.stash = os.path.join(folder, "security.sth")
        self.database = self.open()
        self.users = UserRegistry(self.database)
        self.profiles = ProfileStore(self.database)
        self.profiles.set_options(activate=[ResourceClass.PTKTDATA])
        self.profiles.define(
            ResourceClass.PTKTDATA,
            "NSSD",
            owner="ibmuser",
            passTicketKey=parse_key(KEY),
        )
        self.users.add_user("alice", password="right-password")
        self.users.add_user("bob", password="bobs-password")
        self.users.set_revoke_limit(3)
        self.snapshot = self.profiles.snapshot()
        self.logon = Logon(self.database, snapshot=lambda: self.snapshot)

    def open(self) -> SecurityDatabase:
        database = SecurityDatabase.open(self.outage.uri, self.stash)
        self.addCleanup(database.close)
        return database

    def failed_logons(self, userid: str) -> tuple[int, bool]:
        user = UserRegistry(self.open()).get_user(userid)
        return user.failedLogons, user.revoked


class ReconnectTests(OutageTestCase):
    def test_idleConnectionLost(self) -> None:
        """
        A connection lost while idle (the server restarted between two
        units of work) costs nothing: the next unit runs on a new one.
        """
        self.outage.terminate()
        self.assertEqual(self.users.list_userids(), ["ALICE", "BOB"])

    def test_refusedThenBack(self) -> None:
        """
        While the server refuses connections a unit of work fails with
        NSR0346E, at once after the first attempt; when it takes them
        again, work goes on without reopening the database.
        """
        self.outage.cut()
        error = self.assertRaises(DatabaseUnavailableError, self.users.list_userids)
        self.assertEqual(error.messageId, "NSR0346E")
        self.assertIn("cannot be reached", str(error))
        again = self.assertRaises(DatabaseUnavailableError, self.users.list_userids)
        self.assertIn("last attempt to connect failed", str(again))
        self.outage.restore()
        from nsstwisted.security import postgresqlengine

        self.patch(postgresqlengine, "RECONNECT_GAP", 0.0)
        self.database._engine._retryAt = float("-inf")  # type: ignore[attr-defined]
        self.assertEqual(self.users.list_userids(), ["ALICE", "BOB"])

    def test_unansweringServerHoldsNobodyLong(self) -> None:
        """
        A server cut off by the network accepts nothing and answers
        nothing (here: a socket that listens and never speaks).  An attempt
        to connect to it again gives up after RECONNECT_TIMEOUT, not the
        first connection's longer timeout; and a listener being made to it
        in another thread does not hold up this thread's work.
        """
        from nsstwisted.security import postgresqlengine

        hole = socket.socket()
        self.addCleanup(hole.close)
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        silent = postgresqlengine._conninfo(
            f"postgresql://nss@127.0.0.1:{hole.getsockname()[1]}/nss",
            postgresqlengine.RECONNECT_TIMEOUT,
        )
        engine = self.database._engine
        engine._reconnectInfo = silent  # type: ignore[attr-defined]
        outcome: list[BaseException | None] = []

        def listen() -> None:
            try:
                self.database.listener()
            except BaseException as e:
                outcome.append(e)
            else:
                outcome.append(None)

        thread = threading.Thread(target=listen)
        thread.start()
        started = time.monotonic()
        self.assertEqual(self.users.list_userids(), ["ALICE", "BOB"])
        self.assertLess(time.monotonic() - started, 1.0)
        thread.join()
        self.assertIsInstance(outcome[0], DatabaseUnavailableError)
        self.outage.terminate()
        started = time.monotonic()
        self.assertRaises(DatabaseUnavailableError, self.users.list_userids)
        self.assertLess(
            time.monotonic() - started, postgresqlengine.RECONNECT_TIMEOUT + 1.5
        )


class PasswordLogonOutageTests(OutageTestCase):
    def setUp(self) -> None:
        super().setUp()
        from nsstwisted.security import postgresqlengine

        # Each logon tries the server again, as it would a second later.
        self.patch(postgresqlengine, "RECONNECT_GAP", 0.0)
        self.outage.cut()

    def test_acceptedFromSnapshot(self) -> None:
        """
        The right password is accepted from the snapshot, with the user's
        environment as the snapshot holds it; the success is written when
        the database is back.
        """
        result = self.logon.with_password("alice", "right-password")
        self.assertEqual(result.outcome, LogonOutcome.ACCEPTED)
        assert result.environment is not None
        self.assertEqual(result.environment.userid, "ALICE")
        self.assertEqual(len(self.logon.pending), 1)
        self.outage.restore()
        self.assertEqual(self.logon.write_pending(), 1)
        self.assertEqual(len(self.logon.pending), 0)
        self.assertIsNotNone(UserRegistry(self.open()).get_user("alice").lastLogon)

    def test_unknownAndWrong(self) -> None:
        """
        An unknown user and a wrong password are refused as when the
        database is up.
        """
        self.assertEqual(
            self.logon.with_password("nobody", "x").outcome,
            LogonOutcome.USER_NOT_DEFINED,
        )
        self.assertEqual(
            self.logon.with_password("alice", "wrong").outcome,
            LogonOutcome.PASSWORD_INVALID,
        )

    def test_failuresRevokeAndAreWritten(self) -> None:
        """
        Wrong passwords count toward REVOKE during the outage, on top of
        the failures the snapshot knows; the user revoked here is refused
        here at once, and the counts are written (added to what other
        servers wrote meanwhile) when the database is back.
        """
        self.outage.restore()
        other = Logon(self.open())
        other.with_password("bob", "wrong")  # another server, before the cut
        self.snapshot = self.profiles.snapshot()
        self.outage.cut()
        self.logon.with_password("bob", "wrong")
        result = self.logon.with_password("bob", "wrong")
        self.assertTrue(result.revokedNow)
        self.assertEqual(
            self.logon.with_password("bob", "bobs-password").outcome,
            LogonOutcome.USER_REVOKED,
        )
        self.outage.restore()
        self.logon.write_pending()
        self.assertEqual(self.failed_logons("bob"), (3, True))

    def test_writeFailsAndKeeps(self) -> None:
        """
        A write attempted while the database is still away keeps the held
        state, and later failures add to it.
        """
        self.logon.with_password("alice", "wrong")
        self.assertRaises(DatabaseUnavailableError, self.logon.write_pending)
        self.logon.with_password("alice", "wrong")
        self.outage.restore()
        self.logon.write_pending()
        self.assertEqual(self.failed_logons("alice"), (2, False))

    def test_withoutSnapshotFails(self) -> None:
        """
        A Logon not given a snapshot does not guess: it fails closed with
        the database's error.
        """
        bare = Logon(self.database)
        self.assertRaises(
            DatabaseUnavailableError, bare.with_password, "alice", "right-password"
        )

    def test_passTicketRefused(self) -> None:
        """
        A valid PassTicket is refused while its use cannot be recorded.
        """
        ticket = generate_passticket("ALICE", "NSSD", parse_key(KEY), 1_800_000_000)
        logon = Logon(
            self.database,
            PassTicketEvaluator(clock=lambda: 1_800_000_000.0),
            snapshot=lambda: self.snapshot,
        )
        self.assertEqual(
            logon.with_passticket("alice", "NSSD", ticket).outcome,
            LogonOutcome.DATABASE_UNAVAILABLE,
        )
