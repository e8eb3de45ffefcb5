"""
A throwaway PostgreSQL server for the tests that run the security model on
PostgreSQL.

One cluster per test run, made with C{initdb} and started with C{pg_ctl} in a
temporary folder the first time a test asks for it, and stopped when the run
ends.  It listens only on a unix socket in that folder, so it needs no free
port and nothing else on the host can reach it.  PostgreSQL refuses to run as
root: as root (CI), the cluster belongs to the C{postgres} user that Debian's
package creates, else to C{nobody}.  Every test gets a schema of its own in
the one database, which is much quicker to make than a database.

Where the server cannot start (no C{initdb}, no psycopg, a start that fails)
every test that asks for it is skipped, saying why.

The benchmarks start their own cluster with L{start_cluster} (durable, since
they compare PostgreSQL's commits with SQLite's).
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

from twisted.trial.unittest import SkipTest, SynchronousTestCase

DATABASE = "nss"
ROLE = "nss"


class Cluster:
    """
    The running cluster, or why there is none.
    """

    def __init__(self) -> None:
        self.folder: str | None = None
        self.failure: str | None = None
        self.schemas = itertools.count(1)

    def uri(self, schema: str | None = None) -> str:
        assert self.folder is not None
        query = {"host": self.folder, "user": ROLE}
        if schema is not None:
            query["options"] = f"-c search_path={schema}"
        text = urllib.parse.urlencode(query, safe="/", quote_via=urllib.parse.quote)
        return f"postgresql:///{DATABASE}?{text}"

    def new_schema_uri(self) -> str:
        """
        The URI of a new, empty schema of its own in the one database.
        """
        import psycopg

        schema = f"test{next(self.schemas)}"
        with psycopg.connect(self.uri(), autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
        return self.uri(schema)


_cluster: Cluster | None = None


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
    """
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and there is no postgres or nobody user")


def start_cluster(*, durable: bool = False) -> Cluster:
    """
    Make and start a cluster, stopped and deleted when this process ends;
    its C{failure} says why there is none.

    @param durable: keep PostgreSQL's default durability (C{fsync},
        synchronous commits), as a benchmark that compares its commits with
        SQLite's must; tests do without, which is quicker.
    """
    cluster = Cluster()
    try:
        import psycopg
    except ImportError:
        cluster.failure = "psycopg 3 is not installed (nsstwisted[postgresql])"
        return cluster
    initdb, pgctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pgctl is None:
        cluster.failure = "PostgreSQL's initdb and pg_ctl are not installed"
        return cluster
    try:
        owner = _owner()
    except RuntimeError as e:
        cluster.failure = str(e)
        return cluster
    # The owner must reach the folder: as root, TMPDIR may be root's own.
    folder = tempfile.mkdtemp(prefix="nss-pg-", dir=None if owner is None else "/tmp")
    run: dict[str, object] = {"cwd": folder, "capture_output": True, "text": True}
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run.update(user=owner.pw_uid, group=owner.pw_gid, extra_groups=[])
    data = os.path.join(folder, "data")
    log = os.path.join(folder, "server.log")
    options = f"-c listen_addresses='' -c unix_socket_directories='{folder}'"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    steps = [
        [initdb, "-D", data, "-U", ROLE, "-A", "trust", "-E", "UTF8", "--locale=C"],
        [pgctl, "-D", data, "-l", log, "-w", "-t", "30", "-o", options, "start"],
    ]
    # Quicker, and enough for a cluster thrown away at the end of the run.
    steps[0] += ["--no-sync", "--no-instructions"]
    for step in steps:
        try:
            done = subprocess.run(step, check=False, timeout=60, **run)  # type: ignore[call-overload]
        except (OSError, subprocess.SubprocessError) as e:
            cluster.failure = f"{os.path.basename(step[0])} failed: {e}"
            break
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    detail += f.read().strip().splitlines()[-3:]
            cluster.failure = (
                f"{os.path.basename(step[0])} failed: {' / '.join(detail)}"
            )
            break
    else:
        cluster.folder = folder
        atexit.register(_stop, pgctl, data, folder, run)
        import psycopg

        with psycopg.connect(
            cluster.uri().replace(DATABASE, "postgres", 1), autocommit=True
        ) as c:
            try:
                # A natural-language default collation, as production
                # databases have, so that a listing that sorted by it instead
                # of by code point (as SQLite does) would show.
                c.execute(
                    f"CREATE DATABASE {DATABASE} TEMPLATE template0 "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
                )
            except psycopg.Error:
                c.execute(f"CREATE DATABASE {DATABASE}")
        return cluster
    shutil.rmtree(folder, ignore_errors=True)
    return cluster


def _stop(pgctl: str, data: str, folder: str, run: dict[str, object]) -> None:
    subprocess.run(  # type: ignore[call-overload]
        [pgctl, "-D", data, "-m", "immediate", "stop"], check=False, timeout=60, **run
    )
    shutil.rmtree(folder, ignore_errors=True)


def postgresql_uri(case: SynchronousTestCase) -> str:
    """
    The URI of an empty schema of its own for C{case}, on the test run's
    PostgreSQL server (started now, if it is not yet).

    @raise SkipTest: the server cannot run here.
    """
    global _cluster
    if _cluster is None:
        _cluster = start_cluster()
    if _cluster.failure is not None:
        raise SkipTest(f"no PostgreSQL server for the tests: {_cluster.failure}")
    return _cluster.new_schema_uri()
