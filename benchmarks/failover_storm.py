"""
A reconnect storm: N clients log on to one nssd at once, as they do when
their server fails and they all move to the backup (issue 12, goal 1).

nssd runs as its own process (C{twistd -n nssd}, over real TLS on loopback);
the storm's clients run in this process, each with its own client name, all
connecting at once.  Before any storm, ten clients already logged on
(BENCH1-BENCH10, as CLIENT1, in a third process, so that they measure nssd
and not their turn on this process's busy reactor) start sending RSA-2048
SIGN requests, each one every C{--sign-interval} seconds, and go on through
every storm: the latency of those requests with no storm is the baseline,
and the latency of the ones sent while a storm is under way is compared
with it.  nssd's CPU per logon is its CPU during the storm less what the
signers cost it in the baseline, per logon.

The storms, each of N clients with distinct client names:

  1. B{password, first logon}: N user IDs (SPnnnnn) with passwords, none of
     which nssd has verified before: every logon pays its scrypt check, as
     on a backup that has never seen the clients;
  2. B{password, reconnect}: the same N clients again, after they all
     disconnected, as after a network outage: the passwords were verified
     before;
  3. B{PassTicket}: N protected user IDs (STnnnnn), one fresh PassTicket
     each (a ticket is one per user and second, so the users must differ).

For each storm it prints the wall time until every client is logged on,
nssd's CPU per logon (from C{/proc/PID/stat}, so that the clients' CPU is
not counted), and the p50/p99 SIGN latency during the storm with its ratio
to the baseline; then whether the goals are met: N=1,000 all logged on
within 5 s (10,000 within 30 s) and the p99 SIGN latency during a storm
under 20 ms.

The users are made by a RACF job this script writes (C{ADDUSER} for each,
with C{DFLTGRP(NSSCLNT)} so that one generic SERVAUTH profile for the client
names STORM* serves them all).  Making N password users costs N scrypt
hashes, about a minute for 1,000.  Run it from anywhere:
C{python benchmarks/failover_storm.py [--clients N]}; the working tree's
code is used.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from argparse import SUPPRESS
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from sign_throughput import (  # noqa: E402
    LABEL,
    PASSWORD,
    NssdProcess,
    build_security,
    stash_file,
)
from twisted.internet.defer import Deferred, DeferredList  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from nsstwisted.cli.racf import run as nss_racf  # noqa: E402
from nsstwisted.client import (  # noqa: E402
    ClientTimeouts,
    Credentials,
    NssSession,
    PassTicketCredentials,
    PasswordCredentials,
    ServerIdentity,
    connect,
    tls_endpoint,
)
from nsstwisted.security.passticket import generate_passticket, parse_key  # noqa: E402
from nsstwisted.wire.nss import Services, SignatureSchemeCode  # noqa: E402

PASSTICKET_KEY = "E001193519561977"  # the example job's PTKTDATA NSSD key
STORM_PASSWORD = "St0rm-password"  # noqa: S105 (the benchmark's users)
SIGNERS = 10
P99_GOAL_MS = 20.0
DIGEST = hashlib.sha256(b"IKE_AUTH octets").digest()
#: Patient clients: the benchmark measures how long a storm takes, so no
#: logon may be given up on while it waits its turn.
PATIENT = ClientTimeouts(
    heartbeatInterval=600.0, heartbeatTimeout=600.0, requestTimeout=600.0
)


def wall_goal(clients: int) -> float | None:
    """
    The issue's goals: 1,000 clients within 5 s, 10,000 within 30 s.
    """
    if clients <= 1000:
        return 5.0
    if clients <= 10000:
        return 30.0
    return None


def storm_job(clients: int) -> str:
    lines = [
        "RDEFINE SERVAUTH EZB.NSS.NSSSYS.STORM*.IPSEC.CERT UACC(NONE)",
        "PERMIT EZB.NSS.NSSSYS.STORM*.IPSEC.CERT CLASS(SERVAUTH) ID(NSSCLNT)"
        " ACCESS(READ)",
    ]
    for number in range(1, clients + 1):
        lines.append(f"ADDUSER ST{number:05d} NOPASSWORD DFLTGRP(NSSCLNT)")
        lines.append(
            f"ADDUSER SP{number:05d} PASSWORD({STORM_PASSWORD}) DFLTGRP(NSSCLNT)"
        )
    lines.append("SETROPTS RACLIST(SERVAUTH) REFRESH")
    return "\n".join(lines) + "\n"


def build_storm_security(
    folder: str, clients: int, database: str | None = None
) -> tuple[str, bytes]:
    """
    L{build_security}'s database (in C{folder}, or at C{database}) with the
    storm's users.
    """
    database, caPem = build_security(folder, database)
    job = os.path.join(folder, "storm.racf")
    with open(job, "w") as f:
        f.write(storm_job(clients))
    err = io.StringIO()
    command = ["--database", database, "--stash", stash_file(folder), "--file", job]
    if nss_racf(command, io.StringIO(), err):
        raise SystemExit(f"the RACF job {job} failed: {err.getvalue()}")
    return database, caPem


def write_storm_config(folder: str, database: str, clients: int) -> str:
    """
    The benchmark's nssd.conf: room for every client and signer from the
    one loopback address, and the longest logon time limit, so that a slow
    storm is measured rather than cut short.
    """
    return write_roomy_config(folder, database, clients + SIGNERS)


def write_roomy_config(folder: str, database: str, connections: int) -> str:
    """
    An nssd.conf with room for C{connections} (and some to spare) from the
    one loopback address every benchmark client comes from (the defaults
    are 4096 connections, 128 per address), and the longest logon time.
    """
    room = min(connections + 100, 65535)
    path = os.path.join(folder, "nssd.conf")
    with open(path, "w") as f:
        f.write(
            "NssConfig\n{\n  Port 0\n  SyslogLevel 0\n"
            "  KeyRing NSSD/NSSRING\n  TlsKeyRing NSSD/TLSRING\n"
            "  SystemName NSSSYS\n"
            f'  SecurityDatabase "{database}"\n'
            f'  StashFile "{stash_file(folder)}"\n'
            f'  NmiSocket "{os.path.join(folder, "nmi")}"\n'
            f"  MaxConnections {room}\n  MaxConnectionsPerAddress {room}\n"
            "  LogonTimeout 600\n"
            "}\n"
        )
    return path


# The signers: ten connected clients, each sending one SIGN per interval, in
# a process of their own, so that what they measure is nssd's latency and
# not the storm clients' turn on this process's reactor.


async def sign_steadily(reactor: Any, port: int, caFile: str, interval: float) -> None:
    """
    The signer process: log ten clients on, then sign with each once per
    C{interval}, writing C{sent took} (monotonic seconds, shared by every
    process on the machine) for each answer, and C{failed} for each
    failure, until stopped.
    """
    with open(caFile, "rb") as f:
        caPem = f.read()
    sessions = []
    for number in range(1, SIGNERS + 1):
        endpoint = tls_endpoint(TCP4ClientEndpoint(reactor, "127.0.0.1", port), [caPem])
        sessions.append(
            await connect(
                reactor,
                endpoint,
                serverIdentity=ServerIdentity.of_host("127.0.0.1"),
                clientName=f"BENCH{number}",
                credentials=PasswordCredentials("CLIENT1", PASSWORD),
                services=Services.CERT,
                timeouts=PATIENT,
            )
        )
    print("ready", flush=True)

    def tick(session: NssSession) -> None:
        sent = time.monotonic()

        def signed(reply: object) -> None:
            print(f"{sent:.6f} {time.monotonic() - sent:.6f}", flush=True)

        def failed(failure: Any) -> None:
            print(f"failed {failure.getErrorMessage()}", flush=True)

        session.sign(
            label=LABEL, digest=DIGEST, scheme=SignatureSchemeCode.RSA_PKCS1_SHA256
        ).addCallbacks(signed, failed)
        reactor.callLater(interval, tick, session)

    for index, session in enumerate(sessions):
        # Spread over the interval, so that the ten do not ask together.
        reactor.callLater(interval * index / SIGNERS, tick, session)
    await Deferred()  # until the benchmark ends this process


class Signers:
    """
    The signer process, seen from the benchmark: its answers as they come.
    """

    def __init__(self, port: int, caFile: str, interval: float) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self.failures: list[str] = []
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--signer",
                str(port),
                caFile,
                "--sign-interval",
                str(interval),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(60) or self.process.poll() is not None:
            raise SystemExit("the signer process did not log on")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("ready"):
                self._ready.set()
            elif line.startswith("failed"):
                self.failures.append(line.strip())
            else:
                sent, took = line.split()
                self.samples.append((float(sent), float(took)))
        self._ready.set()

    def between(self, start: float, end: float) -> list[float]:
        return [took for sent, took in list(self.samples) if start <= sent < end]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# The storm.


@dataclass
class Storm:
    name: str
    clients: int
    wall: float
    nssdCpu: float
    failures: int
    latencies: list[float]
    #: Cores the storm's clients (this process) kept busy.
    clientCores: float
    #: Cores nssd kept busy, and of them its reactor thread (TLS, framing).
    nssdCores: float
    reactorCores: float


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _sleep(reactor: Any, seconds: float) -> Deferred[None]:
    waiting: Deferred[None] = Deferred()
    reactor.callLater(seconds, waiting.callback, None)
    return waiting


async def storm(
    reactor: Any,
    nssd: NssdProcess,
    port: int,
    caPem: bytes,
    signers: Signers,
    signingCpu: float,
    name: str,
    credentials: Callable[[int], Credentials],
    clients: int,
) -> tuple[Storm, list[NssSession]]:
    failures: list[str] = []
    sessions: list[NssSession] = []

    async def one(number: int) -> None:
        endpoint = tls_endpoint(TCP4ClientEndpoint(reactor, "127.0.0.1", port), [caPem])
        try:
            sessions.append(
                await connect(
                    reactor,
                    endpoint,
                    serverIdentity=ServerIdentity.of_host("127.0.0.1"),
                    clientName=f"STORM{number}",
                    credentials=credentials(number),
                    services=Services.CERT,
                    timeouts=PATIENT,
                )
            )
        except Exception as e:
            failures.append(f"{type(e).__name__}: {e}")

    before, reactorBefore = nssd.cpu_seconds()
    clientBefore = _client_cpu()
    start = time.monotonic()
    await DeferredList([Deferred.fromCoroutine(one(n)) for n in range(1, clients + 1)])
    wall = time.monotonic() - start
    after, reactorAfter = nssd.cpu_seconds()
    clientCpu = _client_cpu() - clientBefore
    if failures:
        print(f"  {len(failures)} logons failed, the first: {failures[0]}")
    # The SIGNs sent during the storm are answered by now or soon.
    await _sleep(reactor, 0.5)
    return (
        Storm(
            name,
            clients,
            wall,
            # Less what the signers cost nssd in the meantime.
            (after - before - signingCpu * wall) / max(clients - len(failures), 1),
            len(failures),
            signers.between(start, start + wall),
            clientCpu / wall,
            (after - before) / wall,
            (reactorAfter - reactorBefore) / wall,
        ),
        sessions,
    )


async def close_all(reactor: Any, sessions: list[NssSession]) -> None:
    await DeferredList([session.close() for session in sessions])
    # Let nssd see every goodbye before the next storm.
    await _sleep(reactor, 1.0)


async def run(reactor: Any, arguments: argparse.Namespace) -> None:
    clients = arguments.clients
    folder = tempfile.mkdtemp(prefix="nss-storm-")
    nssd: NssdProcess | None = None
    signers: Signers | None = None
    try:
        print(
            f"building the security database ({clients} password users, "
            f"{clients} PassTicket users) ...",
            flush=True,
        )
        started = time.perf_counter()
        database, caPem = build_storm_security(folder, clients)
        print(f"  built in {time.perf_counter() - started:.0f} s")
        nssd = NssdProcess(write_storm_config(folder, database, clients))
        port = nssd.port()
        caFile = os.path.join(folder, "ca.pem")
        with open(caFile, "wb") as f:
            f.write(caPem)
        signers = Signers(port, caFile, arguments.sign_interval)
        await _sleep(reactor, 1.0)  # the key loaded, the caches warm
        cpuBefore, _ = nssd.cpu_seconds()
        baselineStart = time.monotonic()
        await _sleep(reactor, arguments.baseline)
        baselineEnd = time.monotonic()
        cpuAfter, _ = nssd.cpu_seconds()
        baseline = signers.between(baselineStart, baselineEnd)
        # nssd's CPU seconds per second for the signers alone.
        signingCpu = (cpuAfter - cpuBefore) / (baselineEnd - baselineStart)

        key = parse_key(PASSTICKET_KEY)

        def by_password(number: int) -> Credentials:
            return PasswordCredentials(f"SP{number:05d}", STORM_PASSWORD)

        def by_passticket(number: int) -> Credentials:
            userid = f"ST{number:05d}"
            return PassTicketCredentials(
                userid,
                lambda: generate_passticket(userid, "NSSD", key, int(time.time())),
            )

        storms = []
        plan: list[tuple[str, Callable[[int], Credentials]]] = [
            ("password, first logon", by_password),
            ("password, reconnect", by_password),
            ("PassTicket", by_passticket),
        ]
        if arguments.only:
            plan = [step for step in plan if arguments.only in step[0]]
        for name, credentials in plan:
            print(f"storm: {clients} clients, {name} ...", flush=True)
            result, sessions = await storm(
                reactor,
                nssd,
                port,
                caPem,
                signers,
                signingCpu,
                name,
                credentials,
                clients,
            )
            storms.append(result)
            await close_all(reactor, sessions)
        # Counted before the signers stop: their goodbye fails what is in
        # flight.
        signFailures = list(signers.failures)
        signers.stop()
        report(clients, baseline, storms, len(signFailures), arguments.sign_interval)
        if signFailures:
            print(f"the first SIGN failure: {signFailures[0]}")
    finally:
        if signers is not None:
            signers.stop()
        if nssd is not None:
            nssd.stop()
        shutil.rmtree(folder, ignore_errors=True)


def report(
    clients: int,
    baseline: list[float],
    storms: list[Storm],
    signFailures: int,
    interval: float,
) -> None:
    base50, base99 = percentile(baseline, 0.50), percentile(baseline, 0.99)
    goal = wall_goal(clients)
    print()
    print(
        f"SIGN (RSA-2048) from {SIGNERS} connected clients, each one every"
        f" {interval * 1e3:.0f} ms"
    )
    print(
        f"  without a storm: p50 {base50 * 1e3:.2f} ms, p99 {base99 * 1e3:.2f} ms"
        f" ({len(baseline)} requests)"
    )
    print()
    print(
        f"{'storm':24} {'wall':>8} {'CPU/logon':>10} {'SIGN p50':>9} {'p99':>8}"
        f" {'p50 x':>6} {'p99 x':>6}  goals"
    )
    allMet = True
    for s in storms:
        if s.latencies:
            p50, p99 = percentile(s.latencies, 0.5), percentile(s.latencies, 0.99)
        else:
            p50 = p99 = float("nan")
        wallMet = goal is not None and s.wall <= goal and not s.failures
        latencyMet = p99 * 1e3 < P99_GOAL_MS
        allMet &= wallMet and latencyMet
        verdicts = [
            f"wall {'met' if wallMet else 'NOT met'}",
            f"p99 {'met' if latencyMet else 'NOT met'}",
        ]
        print(
            f"{s.name:24} {s.wall:7.2f}s {s.nssdCpu * 1e3:8.2f}ms"
            f" {p50 * 1e3:7.2f}ms {p99 * 1e3:6.2f}ms"
            f" {p50 / base50:6.2f} {p99 / base99:6.2f}  {', '.join(verdicts)}"
            + (f" ({s.failures} logons FAILED)" if s.failures else "")
        )
        print(
            f"{'':24} (cores busy: nssd {s.nssdCores:.2f}, of which its reactor"
            f" {s.reactorCores:.2f}; the storm's clients {s.clientCores:.2f})"
        )
    print()
    wallText = f"within {goal:.0f} s" if goal is not None else "(no goal for this N)"
    print(
        f"Goals: {clients} clients all logged on {wallText};"
        f" p99 SIGN latency during a storm under {P99_GOAL_MS:.0f} ms."
    )
    for s in storms:
        if s.latencies:
            p99 = percentile(s.latencies, 0.99)
        else:
            p99 = float("nan")
        met = goal is not None and s.wall <= goal and not s.failures
        print(f"  {s.name}: {'met' if met and p99 * 1e3 < P99_GOAL_MS else 'NOT met'}")
    if signFailures:
        print(f"{signFailures} SIGN requests FAILED")
    print("All goals met." if allMet and not signFailures else "Not all goals met.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--baseline", type=float, default=3.0)
    parser.add_argument("--sign-interval", type=float, default=0.05)
    parser.add_argument(
        "--only",
        choices=["password", "PassTicket"],
        help="run only the storms of this kind of credentials",
    )
    parser.add_argument("--signer", nargs=2, metavar=("PORT", "CAFILE"), help=SUPPRESS)
    arguments = parser.parse_args()
    if arguments.signer:
        port, caFile = arguments.signer
        react(
            lambda reactor: Deferred.fromCoroutine(
                sign_steadily(reactor, int(port), caFile, arguments.sign_interval)
            )
        )
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * arguments.clients + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    print(f"{os.cpu_count()} cores", flush=True)
    react(lambda reactor: Deferred.fromCoroutine(run(reactor, arguments)))


if __name__ == "__main__":
    main()
