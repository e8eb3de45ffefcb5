"""
Throwaway PostgreSQL servers for the tests that run the security model on
PostgreSQL.

A L{PostgresqlServer} is a cluster made with C{initdb} and run with
C{pg_ctl} in a folder of its own under C{/tmp}.  It listens only on a unix
socket in that folder, so it needs no free port and nothing else on the host
can reach it; the folder's name is short because an AF_UNIX path may not
exceed 107 bytes.  PostgreSQL refuses to run as root: as root (CI), the
cluster belongs to the C{postgres} user that Debian's package creates, else
to C{nobody}.  Nothing is flushed to disk (C{fsync} and full page writes are
off): nothing here outlives the test run, and a start is quicker.  A commit
still waits for its write, though (synchronous commit stays on), so that a
server stopped as a crash would stop it (C{stop("immediate")}) keeps every
committed transaction, as a production server does: a restart test must not
see a recorded PassTicket use or failed logon vanish.

Two ways to get one:

  - L{postgresql_uri}: one cluster shared by the whole test run, started the
    first time a test asks and stopped when the run ends; every test gets a
    schema of its own in its one database, which is much quicker to make than
    a database, let alone a cluster.
  - L{private_postgresql}: a cluster of the test's own, which the test may
    stop and start again (an outage, a restart) without disturbing others;
    it is removed when the test ends.

Where no server can start (no C{initdb}, no psycopg, a start that fails),
the test that asks is skipped, saying why.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Sequence
from typing import Any, Literal

from twisted.trial.unittest import SkipTest, SynchronousTestCase

DATABASE = "nss"
ROLE = "nss"
"""The cluster's superuser (C{initdb -U}), which the tests connect as."""

StopMode = Literal["smart", "fast", "immediate"]


class PostgresqlUnavailable(Exception):
    """
    No PostgreSQL server can run here; the text says why, for a skip.
    """


def _binary(name: str) -> str | None:
    """
    A PostgreSQL server program: on PATH, or where Debian keeps it (the
    newest version).
    """
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")

    def version(path: str) -> int:
        number = path.split("/")[4]
        return int(number) if number.isdigit() else 0

    candidates.sort(key=version)
    return candidates[-1] if candidates else None


def _owner() -> pwd.struct_passwd | None:
    """
    The unprivileged user the cluster runs as, when this process is root.

    @raise PostgresqlUnavailable: root, and no such user.
    """
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresqlUnavailable(
        "running as root, and there is no postgres or nobody user"
    )


class PostgresqlServer:
    """
    A private PostgreSQL cluster: made by L{create}, then started, stopped
    and started again as a test needs, and removed by L{destroy}.

    The methods block (C{pg_ctl -w} waits for the server): a test whose
    reactor must go on meanwhile, because clients are working, runs them
    with C{deferToThread}.

    @ivar folder: the cluster's folder; its unix socket is in it.
    """

    def __init__(
        self,
        folder: str,
        pgctl: str,
        run: dict[str, Any],
        psycopg: Any,
        durable: bool = False,
    ) -> None:
        self.folder = folder
        self._durable = durable
        self._pgctl = pgctl
        self._run = run
        self._psycopg = psycopg
        self._data = os.path.join(folder, "data")
        self._log = os.path.join(folder, "server.log")
        self._schemas = itertools.count(1)
        self._destroyed = False

    @classmethod
    def create(cls, *, durable: bool = False) -> PostgresqlServer:
        """
        Make a new cluster, with the database L{DATABASE} in it, and start it.

        @param durable: keep PostgreSQL's default durability (C{fsync}), as
            a benchmark that compares its commits with SQLite's must; tests
            do without, which is quicker.

        @raise PostgresqlUnavailable: it cannot be made or started here.
        """
        try:
            import psycopg
        except ImportError:
            raise PostgresqlUnavailable(
                "psycopg 3 is not installed (nsstwisted[postgresql])"
            ) from None
        initdb, pgctl = _binary("initdb"), _binary("pg_ctl")
        if initdb is None or pgctl is None:
            raise PostgresqlUnavailable(
                "PostgreSQL's initdb and pg_ctl are not installed"
            )
        owner = _owner()
        # Under /tmp whoever runs the tests, for a socket path well short of
        # AF_UNIX's limit; the owner must be able to reach it.
        folder = tempfile.mkdtemp(prefix="nss-pg-", dir="/tmp")
        run: dict[str, Any] = {"cwd": folder, "capture_output": True, "text": True}
        if owner is not None:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            run.update(user=owner.pw_uid, group=owner.pw_gid, extra_groups=[])
        server = cls(folder, pgctl, run, psycopg, durable)
        try:
            server._pg(
                initdb,
                "-D",
                server._data,
                "-U",
                ROLE,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
            server.start()
            server._create_database()
        except BaseException:
            server.destroy()
            raise
        return server

    def _pg(self, program: str, *args: str) -> None:
        """
        Run a server program as the cluster's owner.

        @raise PostgresqlUnavailable: it failed; the text has the last lines
            of its output and of the server's log.
        """
        name = os.path.basename(program)
        try:
            done = subprocess.run(
                [program, *args], check=False, timeout=60, **self._run
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise PostgresqlUnavailable(f"{name} failed: {e}") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            if os.path.exists(self._log):
                with open(self._log, errors="replace") as f:
                    detail += f.read().strip().splitlines()[-3:]
            raise PostgresqlUnavailable(f"{name} failed: {' / '.join(detail)}")

    def _create_database(self) -> None:
        with self._psycopg.connect(self.uri(database="postgres"), autocommit=True) as c:
            try:
                # A natural-language default collation, as production
                # databases have, so that a listing that sorted by it instead
                # of by code point (as SQLite does) would show.
                c.execute(
                    f"CREATE DATABASE {DATABASE} TEMPLATE template0 "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
                )
            except self._psycopg.Error:
                c.execute(f"CREATE DATABASE {DATABASE}")

    def start(self) -> None:
        """
        Start the server and wait until it accepts connections.
        """
        options = f"-c listen_addresses='' -c unix_socket_directories='{self.folder}'"
        if not self._durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._pg(
            self._pgctl,
            "-D",
            self._data,
            "-l",
            self._log,
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: StopMode = "fast") -> None:
        """
        Stop the server and wait until it has.

        @param mode: C{pg_ctl}'s: C{fast} ends the sessions and shuts down
            cleanly, as an administrator's restart does; C{immediate} stops
            every process at once, as a crash of the host would.
        """
        self._pg(self._pgctl, "-D", self._data, "-m", mode, "-w", "stop")

    def restart(self, mode: StopMode = "fast") -> None:
        """
        Stop the server and start it again: the clients' connections break,
        and a new connection succeeds afterwards.
        """
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        return os.path.exists(os.path.join(self._data, "postmaster.pid"))

    def uri(self, schema: str | None = None, database: str = DATABASE) -> str:
        """
        The connection URI of C{database} as the superuser, over the unix
        socket; with a C{schema}, the connection works in that schema.
        """
        query = {"host": self.folder, "user": ROLE}
        if schema is not None:
            query["options"] = f"-c search_path={schema}"
        text = urllib.parse.urlencode(query, safe="/", quote_via=urllib.parse.quote)
        return f"postgresql:///{database}?{text}"

    def execute(
        self, sql: str, parameters: Sequence[Any] = (), database: str = DATABASE
    ) -> list[tuple[Any, ...]]:
        """
        Run one statement as the superuser, committed at once, and return
        the rows it gave (none for a statement without).
        """
        with self._psycopg.connect(self.uri(database=database), autocommit=True) as c:
            cursor = c.execute(sql, parameters or None)
            return list(cursor.fetchall()) if cursor.description else []

    def new_schema(self) -> str:
        """
        The URI of a new, empty schema in L{DATABASE}.
        """
        schema = f"test{next(self._schemas)}"
        self.execute(f"CREATE SCHEMA {schema}")
        return self.uri(schema)

    def standby(self) -> PostgresqlServer:
        """
        A hot standby of this server: a cluster of its own, made from a base
        backup of this one (C{pg_basebackup -R}) and started, which replays
        this server's changes by streaming replication and takes no writes.
        Destroy it as any other.

        @raise PostgresqlUnavailable: it cannot be made or started.
        """
        basebackup = _binary("pg_basebackup")
        if basebackup is None:
            raise PostgresqlUnavailable("PostgreSQL's pg_basebackup is not installed")
        folder = tempfile.mkdtemp(prefix="nss-pg-", dir="/tmp")
        run = dict(self._run, cwd=folder)
        if "user" in run:
            os.chown(folder, run["user"], run["group"])
        standby = PostgresqlServer(
            folder, self._pgctl, run, self._psycopg, self._durable
        )
        try:
            standby._pg(
                basebackup,
                "-h",
                self.folder,
                "-U",
                ROLE,
                "-D",
                standby._data,
                "-R",
                "--no-sync",
                # At once: a spread checkpoint would take minutes.
                "--checkpoint=fast",
            )
            standby.start()
        except BaseException:
            standby.destroy()
            raise
        return standby

    def destroy(self) -> None:
        """
        Stop the server at once, if it runs, and remove its folder.
        """
        if self._destroyed:
            return
        self._destroyed = True
        if os.path.exists(os.path.join(self._data, "postmaster.pid")):
            subprocess.run(
                [self._pgctl, "-D", self._data, "-m", "immediate", "-w", "stop"],
                check=False,
                timeout=60,
                **self._run,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def private_postgresql(case: SynchronousTestCase) -> PostgresqlServer:
    """
    A running PostgreSQL cluster of C{case}'s own, removed when it ends.

    @raise SkipTest: no server can run here.
    """
    try:
        server = PostgresqlServer.create()
    except PostgresqlUnavailable as e:
        raise SkipTest(f"no PostgreSQL server for the tests: {e}") from None
    case.addCleanup(server.destroy)
    return server


# The test run's shared cluster, or why there is none.
_shared: PostgresqlServer | PostgresqlUnavailable | None = None


def postgresql_uri(case: SynchronousTestCase) -> str:
    """
    The URI of an empty schema of its own for C{case}, on the test run's
    shared PostgreSQL server (started now, if it is not yet).

    @raise SkipTest: the server cannot run here.
    """
    global _shared
    if _shared is None:
        try:
            _shared = PostgresqlServer.create()
        except PostgresqlUnavailable as e:
            _shared = e
        else:
            atexit.register(_shared.destroy)
    if isinstance(_shared, PostgresqlUnavailable):
        raise SkipTest(f"no PostgreSQL server for the tests: {_shared}")
    return _shared.new_schema()
