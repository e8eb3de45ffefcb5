"""
Logons and signatures per second through nssd with its security database on
PostgreSQL, as ratios to the same on SQLite, measured in one run (issue 11).

PostgreSQL buys a shared database for a primary and a backup nssd; this
measures what it costs the serving.  The same security database is built
on each engine (the example job, the BENCH client names, and N password
users SPnnnnn made by failover_storm's job).  Then, four times, in the
order SQLite, PostgreSQL, PostgreSQL, SQLite (so that a machine growing
busier or quieter favours neither), a fresh nssd is started on one of them
as its own process (C{twistd -n nssd}, over real TLS on loopback) and
measured from this process, its client:

  1. B{password, first logon}: N distinct users log on, C{--concurrency} at
     a time, none of them verified by this nssd before: each pays its
     scrypt check, and every logon records its outcome in the database (a
     write transaction);
  2. B{password, reconnect}: the same N again, C{--reconnects} times, after
     they disconnected: the verified-password cache spares the scrypt
     check, so the database's read and write are a larger part of each
     logon;
  3. B{SIGN}: RSA-2048 signatures from connected clients, each keeping many
     requests in flight (sign_throughput's load), which never touch the
     database: the ratio shows only the noise of the machine, and so does
     nssd's CPU per signature, printed beside it, which a busy machine
     changes less than the rate.

PostgreSQL is a throwaway cluster (tests/postgresql.py's) on a unix socket,
with its default durability (C{fsync}, synchronous commits), as SQLite keeps
its own.  Where it cannot run (no C{initdb}, no psycopg) the script says why
and exits 0.  It prints each figure per engine (the mean of its two
passes), the ratio PostgreSQL/SQLite, and the goals: signatures/s on
PostgreSQL at least 0.95 of SQLite's (signing never touches the database),
and logons/s, first and reconnect, at least 0.5 of SQLite's (each logon is
a read and a commit, and a commit to a server over a socket may well cost
more than one to a local file, but not so much that a reconnect storm takes
twice as long).

Run it from anywhere: C{python benchmarks/database_engines.py [--users N]};
the working tree's code is used.
"""

from __future__ import annotations

import argparse
import atexit
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from failover_storm import (  # noqa: E402
    PATIENT,
    STORM_PASSWORD,
    build_storm_security,
    close_all,
    write_storm_config,
)
from sign_throughput import NssdProcess, nssd_load  # noqa: E402
from twisted.internet.defer import Deferred, DeferredList  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from nsstwisted.client import (  # noqa: E402
    NssSession,
    PasswordCredentials,
    ServerIdentity,
    connect,
    tls_endpoint,
)
from nsstwisted.wire.nss import Services  # noqa: E402
from tests.postgresql import PostgresqlServer, PostgresqlUnavailable  # noqa: E402

SIGN_GOAL = 0.95
LOGON_GOAL = 0.5
ENGINES = ("SQLite", "PostgreSQL")

SIGN_GOAL = 0.95
LOGON_GOAL = 0.5
#: Each engine is measured twice, in the order A B B A, so that a machine
#: that grows busier or quieter during the run favours neither.
ORDER = ("SQLite", "PostgreSQL", "PostgreSQL", "SQLite")


@dataclass
class Pass:
    """
    One nssd's figures: logons/s (first, reconnect) and signatures/s.
    """

    first: float
    reconnect: float
    signatures: float
    #: nssd's CPU per signature, which other work on a shared machine
    #: changes much less than the rates.
    signCpu: float
    failures: int


async def log_on_all(
    reactor: Any, port: int, caPem: bytes, users: int, concurrency: int
) -> tuple[float, list[NssSession], int]:
    """
    Log the N password users on, C{concurrency} logons at a time, and keep
    every session open, as clients that stay connected do; the logons per
    second, the sessions and the number that failed.
    """
    numbers = iter(range(1, users + 1))
    sessions: list[NssSession] = []
    failures: list[str] = []

    async def worker() -> None:
        for number in numbers:
            endpoint = tls_endpoint(
                TCP4ClientEndpoint(reactor, "127.0.0.1", port), [caPem]
            )
            try:
                sessions.append(
                    await connect(
                        reactor,
                        endpoint,
                        serverIdentity=ServerIdentity.of_host("127.0.0.1"),
                        clientName=f"STORM{number}",
                        credentials=PasswordCredentials(
                            f"SP{number:05d}", STORM_PASSWORD
                        ),
                        services=Services.CERT,
                        timeouts=PATIENT,
                    )
                )
            except Exception as e:
                failures.append(f"{type(e).__name__}: {e}")

    start = time.perf_counter()
    await DeferredList([Deferred.fromCoroutine(worker()) for _ in range(concurrency)])
    wall = time.perf_counter() - start
    if failures:
        print(f"    {len(failures)} logons failed, the first: {failures[0]}")
    return len(sessions) / wall, sessions, len(failures)


async def measure(
    reactor: Any,
    folder: str,
    database: str,
    caPem: bytes,
    arguments: argparse.Namespace,
) -> Pass:
    """
    Start a fresh nssd on the database, whose verified-password cache is
    empty, so that the first logons are first again, and measure it.
    """
    nssd = NssdProcess(write_storm_config(folder, database, arguments.users))
    try:
        port = nssd.port()
        first, sessions, failures = await log_on_all(
            reactor, port, caPem, arguments.users, arguments.concurrency
        )
        await close_all(reactor, sessions)
        # Reconnects are quick: several rounds, timed together.
        reconnects, wall = 0, 0.0
        for _ in range(arguments.reconnects):
            rate, sessions, failed = await log_on_all(
                reactor, port, caPem, arguments.users, arguments.concurrency
            )
            reconnects += len(sessions)
            wall += len(sessions) / rate if sessions else 0.0
            failures += failed
            await close_all(reactor, sessions)
        load = await nssd_load(
            reactor,
            nssd,
            caPem,
            arguments.clients,
            arguments.depth,
            arguments.warmup,
            arguments.duration,
        )
    except BaseException:
        print("\n".join(nssd.lines[-20:]), file=sys.stderr)
        raise
    finally:
        nssd.stop()
    return Pass(
        first,
        reconnects / wall if wall else 0.0,
        load.signatures / load.seconds,
        load.nssdCpu / max(load.signatures, 1),
        failures + load.failures,
    )


async def run(reactor: Any, postgresql: str, arguments: argparse.Namespace) -> None:
    folders = {engine: tempfile.mkdtemp(prefix="nss-engines-") for engine in ORDER}
    try:
        databases: dict[str, tuple[str, bytes]] = {}
        for engine, location in (("SQLite", None), ("PostgreSQL", postgresql)):
            print(
                f"{engine}: building the security database"
                f" ({arguments.users} password users) ...",
                flush=True,
            )
            databases[engine] = build_storm_security(
                folders[engine], arguments.users, location
            )
        passes: dict[str, list[Pass]] = {engine: [] for engine in ORDER}
        for engine in ORDER:
            print(
                f"{engine}: a fresh nssd; {arguments.users} first logons,"
                f" {arguments.reconnects} x {arguments.users} reconnects,"
                f" SIGN for {arguments.duration:.0f} s ...",
                flush=True,
            )
            database, caPem = databases[engine]
            passes[engine].append(
                await measure(reactor, folders[engine], database, caPem, arguments)
            )
    finally:
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)
    report(passes["SQLite"], passes["PostgreSQL"], arguments)


def report(sqlite: list[Pass], pg: list[Pass], arguments: argparse.Namespace) -> None:
    rows: list[tuple[str, Callable[[Pass], float], float]] = [
        ("logons/s, first logon", lambda p: p.first, LOGON_GOAL),
        ("logons/s, reconnect", lambda p: p.reconnect, LOGON_GOAL),
        ("signatures/s (RSA-2048)", lambda p: p.signatures, SIGN_GOAL),
    ]
    print()
    print(
        f"{arguments.users} password users, {arguments.concurrency} logons at a"
        f" time; SIGN from {arguments.clients} clients x {arguments.depth} in"
        f" flight for {arguments.duration:.0f} s; {os.cpu_count()} cores;"
        " each engine measured twice (A B B A), the mean shown"
    )
    print()
    print(
        f"{'':25} {'SQLite':>8} {'PostgreSQL':>11} {'PG/SQLite':>10}  goal"
        f"{'':18} (each pass: SQLite; PostgreSQL)"
    )
    allMet = True
    for name, figure, goal in rows:
        mine = statistics.mean(figure(p) for p in sqlite)
        theirs = statistics.mean(figure(p) for p in pg)
        ratio = theirs / mine
        met = ratio >= goal
        allMet &= met
        each = "; ".join(
            " ".join(f"{figure(p):.0f}" for p in passes) for passes in (sqlite, pg)
        )
        print(
            f"{name:25} {mine:8.1f} {theirs:11.1f} {ratio:10.2f}"
            f"  >= {goal:.2f}: {'met    ' if met else 'NOT met'}  ({each})"
        )
    cpu = [statistics.mean(p.signCpu for p in passes) * 1e3 for passes in (sqlite, pg)]
    print(
        f"{'  nssd CPU/signature, ms':25} {cpu[0]:8.3f} {cpu[1]:11.3f}"
        f" {cpu[1] / cpu[0]:10.2f}  (less sensitive to a busy machine than the rate)"
    )
    failures = sum(p.failures for p in sqlite + pg)
    if failures:
        allMet = False
        print(f"{failures} logons or SIGN requests FAILED")
    print()
    print(
        f"Goals: signatures/s on PostgreSQL at least {SIGN_GOAL} of SQLite's,"
        " since signing never touches the database; logons/s (first and"
        f" reconnect) at least {LOGON_GOAL} of SQLite's, since each logon"
        " reads the user and commits its outcome."
    )
    print("All goals met." if allMet else "Not all goals met.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--reconnects", type=int, default=3, help="rounds of reconnects per pass"
    )
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--depth", type=int, default=32)
    arguments = parser.parse_args()
    try:
        cluster = PostgresqlServer.create(durable=True)
    except PostgresqlUnavailable as e:
        print(f"PostgreSQL cannot run here, so nothing to compare: {e}")
        return
    atexit.register(cluster.destroy)
    postgresql = cluster.new_schema()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * arguments.users + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    print(f"{os.cpu_count()} cores", flush=True)
    react(lambda reactor: Deferred.fromCoroutine(run(reactor, postgresql, arguments)))


if __name__ == "__main__":
    main()
