"""
The PostgreSQL fixtures (L{tests.postgresql}) prove themselves before the
outage and restart tests rely on them: a private server stops and starts
again without losing what was committed, even when stopped as a crash would
stop it; its clients' connections break and new ones succeed; its socket
path fits AF_UNIX; SQL runs as the superuser.

Skipped, saying why, where no PostgreSQL server can start.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.postgresql import ROLE, private_postgresql


class PrivateServerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = private_postgresql(self)

    def test_superuser(self) -> None:
        """
        L{execute} runs as the cluster's superuser, which may create roles
        (as a test of a less privileged nssd role would).
        """
        rows = self.server.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        self.assertEqual(rows, [(ROLE, True)])
        self.assertEqual(self.server.execute("CREATE ROLE nssd LOGIN"), [])

    def test_socketPathFits(self) -> None:
        """
        The socket, in the server's folder, is well within AF_UNIX's 107
        bytes, whatever the test's own folder.
        """
        socket = os.path.join(self.server.folder, ".s.PGSQL.5432")
        self.assertTrue(os.path.exists(socket))
        self.assertLessEqual(len(socket.encode()), 64)
        self.assertTrue(self.server.folder.startswith("/tmp/"))

    def test_committedSurvivesEveryStop(self) -> None:
        """
        A transaction committed before the server stops is there after it
        starts again, after a fast stop as after an immediate one (what a
        crash of PostgreSQL looks like): the throwaway cluster skips fsync,
        not the commit's write, so that a restart test sees what a
        production server would.
        """
        self.server.execute("CREATE TABLE uses (n INTEGER)")
        for n, mode in enumerate(("fast", "immediate")):
            self.server.execute("INSERT INTO uses VALUES (%s)", (n,))
            self.server.stop(mode)  # type: ignore[arg-type]
            self.assertFalse(self.server.running)
            self.server.start()
            self.assertTrue(self.server.running)
        self.assertEqual(
            self.server.execute("SELECT n FROM uses ORDER BY n"), [(0,), (1,)]
        )

    def test_restartBreaksConnections(self) -> None:
        """
        A connection made before L{restart} fails afterwards; a new one
        succeeds.
        """
        import psycopg

        with psycopg.connect(self.server.uri(), autocommit=True) as before:
            before.execute("SELECT 1")
            self.server.restart()
            with self.assertRaises(psycopg.OperationalError):
                before.execute("SELECT 1")
        self.assertEqual(self.server.execute("SELECT 1"), [(1,)])

    def test_schemas(self) -> None:
        """
        Each L{new_schema} URI works in a schema of its own.
        """
        import psycopg

        first, second = self.server.new_schema(), self.server.new_schema()
        self.assertNotEqual(first, second)
        for uri, name in ((first, "test1"), (second, "test2")):
            with psycopg.connect(uri) as connection:
                row = connection.execute("SELECT current_schema()").fetchone()
            self.assertEqual(row, (name,))
