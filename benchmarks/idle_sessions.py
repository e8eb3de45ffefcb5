"""
Idle capacity: what N logged-on, heartbeating sessions cost nssd in memory
and CPU while they idle (issue 12, goal 2).

nssd runs as its own process (C{twistd -n nssd}, over real TLS on loopback);
the clients run in C{--client-processes} other processes, each logging on
its share of the N sessions with distinct client names (IDLE1, IDLE2, ...)
and then heartbeating as iked does at its default C{NssWaitLimit} of 60: a
HEARTBEAT every 20 seconds, each given 10 seconds to be answered.  The
sessions log on by PassTicket, one protected user ID (SInnnnn, no password)
each: a password user costs an scrypt hash to define and about 48 ms of
nssd's CPU to log on, which for 10,000 would be minutes before the idle
period starts, and the memory a session holds does not depend on how it
logged on.

nssd's baseline is measured in the same run, before any client connects:
its RSS (VmRSS from C{/proc/PID/status}) and its CPU (utime + stime from
C{/proc/PID/stat}, every thread) over C{--baseline} seconds.  Then the
sessions log on, and after C{--settle} seconds its RSS is read again, its
CPU counted over C{--idle} seconds (at least one heartbeat interval, so
that every session is heard from), and its RSS read once more.  It prints
KiB per session, (RSS with N - baseline RSS) / N, nssd's CPU while the
sessions idle as a percentage of one core (split into user and system
time, and the reactor thread's share), each against the baseline, and the
goals as met or not met: 10,000 sessions in at most 1 GiB of RSS, and
nssd at most 5% of a core while they idle.  For N other than 10,000 the
RSS goal is scaled: at most 1 GiB x N / 10,000 above the baseline.

With C{--profile}, nssd runs under C{tracemalloc}, and C{cProfile} on its
reactor thread during the idle period (both slow it and add memory of
their own, so the figures of such a run are not the goals'): signal
handlers the benchmark installs in nssd's process, nssd itself unchanged,
write the snapshots and the statistics, and the benchmark prints where the
reactor's time went and the largest growths in Python's allocations by
source line, per session, beside the RSS growth per session; the
difference is memory Python's allocator does not see (OpenSSL's own
allocations for each TLS connection, the C allocator's overhead).

Run it from anywhere:
C{python benchmarks/idle_sessions.py [--sessions N] [--idle SECONDS]};
the working tree's code is used.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from argparse import SUPPRESS
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from failover_storm import PASSTICKET_KEY, write_roomy_config  # noqa: E402
from sign_throughput import NssdProcess, build_security, stash_file  # noqa: E402
from twisted.internet.defer import (  # noqa: E402
    Deferred,
    DeferredSemaphore,
    gatherResults,
)
from twisted.internet.endpoints import TCP4ClientEndpoint  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from nsstwisted.cli.racf import run as nss_racf  # noqa: E402
from nsstwisted.client import (  # noqa: E402
    NssSession,
    PassTicketCredentials,
    ServerIdentity,
    connect,
    tls_endpoint,
)
from nsstwisted.iked.nssclient.connection import heartbeat_timeouts  # noqa: E402
from nsstwisted.security.passticket import generate_passticket, parse_key  # noqa: E402
from nsstwisted.wire.nss import Services  # noqa: E402

#: iked's default NssWaitLimit, which sets its heartbeat interval (20 s)
#: and time limit (10 s).
IKED_WAIT_LIMIT = 60
GIB = 1 << 30
RSS_GOAL_SESSIONS = 10000
CPU_GOAL_PERCENT = 5.0
#: Logons a client process keeps in flight at once: enough to keep nssd
#: busy, few enough that none waits long for its turn.
IN_FLIGHT = 64

#: Run in nssd's process in place of plain twistd when it is profiled
#: (C{--profile}): tracemalloc on from the start; C{SIGUSR1} writes a
#: tracemalloc snapshot to the next of the paths in C{IDLE_BENCH_SNAPSHOTS};
#: C{SIGUSR2} starts C{cProfile} on the reactor thread, and the next
#: C{SIGUSR2} stops it and writes its statistics to C{IDLE_BENCH_CPROFILE}.
#: nssd's own code is not changed.
PROFILED_NSSD = """
import cProfile, os, signal, tracemalloc
tracemalloc.start(1)
paths = os.environ["IDLE_BENCH_SNAPSHOTS"].split(",")
profiler = None
def snapshot(signum, frame):
    tracemalloc.take_snapshot().dump(paths.pop(0))
def toggle(signum, frame):
    global profiler
    if profiler is None:
        profiler = cProfile.Profile()
        profiler.enable()
    else:
        profiler.disable()
        profiler.dump_stats(os.environ["IDLE_BENCH_CPROFILE"])
signal.signal(signal.SIGUSR1, snapshot)
signal.signal(signal.SIGUSR2, toggle)
from twisted.scripts.twistd import run
run()
"""


def idle_job(sessions: int) -> str:
    """
    A RACF job for C{sessions} protected user IDs, all in one group that a
    generic SERVAUTH profile for the client names IDLE* permits.
    """
    lines = [
        "RDEFINE SERVAUTH EZB.NSS.NSSSYS.IDLE*.IPSEC.CERT UACC(NONE)",
        "PERMIT EZB.NSS.NSSSYS.IDLE*.IPSEC.CERT CLASS(SERVAUTH) ID(NSSCLNT)"
        " ACCESS(READ)",
    ]
    for number in range(1, sessions + 1):
        lines.append(f"ADDUSER SI{number:05d} NOPASSWORD DFLTGRP(NSSCLNT)")
    lines.append("SETROPTS RACLIST(SERVAUTH) REFRESH")
    return "\n".join(lines) + "\n"


def build_idle_security(folder: str, sessions: int) -> tuple[str, bytes]:
    database, caPem = build_security(folder)
    job = os.path.join(folder, "idle.racf")
    with open(job, "w") as f:
        f.write(idle_job(sessions))
    err = io.StringIO()
    command = ["--database", database, "--stash", stash_file(folder), "--file", job]
    if nss_racf(command, io.StringIO(), err):
        raise SystemExit(f"the RACF job {job} failed: {err.getvalue()}")
    return database, caPem


class ProfiledNssd(NssdProcess):
    """
    nssd under tracemalloc and, on request, cProfile (C{--profile}): the
    same process as L{NssdProcess} starts, with L{PROFILED_NSSD} in front
    of twistd.
    """

    def __init__(self, config: str, snapshots: list[str], cprofile: str) -> None:
        super().__init__(
            config,
            PROFILED_NSSD,
            {
                "IDLE_BENCH_SNAPSHOTS": ",".join(snapshots),
                "IDLE_BENCH_CPROFILE": cprofile,
            },
        )


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


# The clients: each process logs its share on, then idles, heartbeating.


async def hold_sessions(
    reactor: Any, port: int, caFile: str, first: int, last: int
) -> None:
    """
    The client process: log sessions C{first}..C{last} on, print C{ready
    LOGGED-ON FAILED} and the first failure, then hold them, printing
    C{closed REASON} for each one that ends, until stopped.
    """
    with open(caFile, "rb") as f:
        caPem = f.read()
    key = parse_key(PASSTICKET_KEY)
    timeouts = heartbeat_timeouts(IKED_WAIT_LIMIT)
    sessions: list[NssSession] = []
    failures: list[str] = []
    gate = DeferredSemaphore(IN_FLIGHT)

    async def one(number: int) -> None:
        userid = f"SI{number:05d}"
        endpoint = tls_endpoint(TCP4ClientEndpoint(reactor, "127.0.0.1", port), [caPem])
        try:
            session = await connect(
                reactor,
                endpoint,
                serverIdentity=ServerIdentity.of_host("127.0.0.1"),
                clientName=f"IDLE{number}",
                credentials=PassTicketCredentials(
                    userid,
                    lambda: generate_passticket(userid, "NSSD", key, int(time.time())),
                ),
                services=Services.CERT,
                timeouts=timeouts,
            )
        except Exception as e:
            failures.append(f"{type(e).__name__}: {e}")
            return
        sessions.append(session)
        session.whenClosed().addBoth(
            lambda reason: print(f"closed {reason}", flush=True)
        )

    await gatherResults([gate.run(one, n) for n in range(first, last + 1)])
    print(f"ready {len(sessions)} {len(failures)}", flush=True)
    if failures:
        print(f"failure {failures[0]}", flush=True)
    await Deferred()  # until the benchmark ends this process


class Clients:
    """
    The client processes, seen from the benchmark.
    """

    def __init__(self, port: int, caFile: str, sessions: int, processes: int) -> None:
        self.loggedOn = 0
        self.failed = 0
        self.closed: list[str] = []
        self.firstFailure: str | None = None
        self._ready = 0
        self._lock = threading.Lock()
        self._allReady = threading.Event()
        self.processes: list[subprocess.Popen[str]] = []
        share = -(-sessions // processes)
        for first in range(1, sessions + 1, share):
            last = min(sessions, first + share - 1)
            process = subprocess.Popen(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--client",
                    str(port),
                    caFile,
                    str(first),
                    str(last),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            self.processes.append(process)
            threading.Thread(target=self._drain, args=(process,), daemon=True).start()

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                if line.startswith("ready"):
                    _, loggedOn, failed = line.split()
                    self.loggedOn += int(loggedOn)
                    self.failed += int(failed)
                    self._ready += 1
                    if self._ready == len(self.processes):
                        self._allReady.set()
                elif line.startswith("failure") and self.firstFailure is None:
                    self.firstFailure = line.split(" ", 1)[1].strip()
                elif line.startswith("closed"):
                    self.closed.append(line.split(" ", 1)[1].strip())
        with self._lock:
            self._ready += 1  # ended early: do not wait for it
            if self._ready >= len(self.processes):
                self._allReady.set()

    def wait(self, timeout: float) -> bool:
        return self._allReady.wait(timeout)

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            try:
                with open(f"/proc/{process.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class IdleCpu:
    """
    nssd's CPU over an idle period, each in percent of one core.
    """

    total: float
    user: float
    system: float
    #: The reactor thread's (TLS, framing, heartbeat replies).
    reactor: float


def _user_system(pid: int) -> tuple[float, float]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def idle_cpu(nssd: NssdProcess, seconds: float) -> IdleCpu:
    """
    nssd's CPU (every thread) over C{seconds} of wall time.
    """
    pid = nssd.process.pid
    before, reactorBefore = nssd.cpu_seconds()
    userBefore, systemBefore = _user_system(pid)
    start = time.monotonic()
    time.sleep(seconds)
    after, reactorAfter = nssd.cpu_seconds()
    user, system = _user_system(pid)
    percent = 100.0 / (time.monotonic() - start)
    return IdleCpu(
        (after - before) * percent,
        (user - userBefore) * percent,
        (system - systemBefore) * percent,
        (reactorAfter - reactorBefore) * percent,
    )


def run(arguments: argparse.Namespace) -> int:
    sessions = arguments.sessions
    folder = tempfile.mkdtemp(prefix="nss-idle-")
    nssd: NssdProcess | None = None
    clients: Clients | None = None
    snapshots = [os.path.join(folder, f"snapshot{i}") for i in (0, 1)]
    try:
        print(f"building the security database ({sessions} users) ...", flush=True)
        started = time.perf_counter()
        database, caPem = build_idle_security(folder, sessions)
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        config = write_roomy_config(folder, database, sessions)
        cprofile = os.path.join(folder, "idle.cprofile")
        if arguments.profile:
            nssd = ProfiledNssd(config, snapshots, cprofile)
        else:
            nssd = NssdProcess(config)
        port = nssd.port()
        pid = nssd.process.pid
        caFile = os.path.join(folder, "ca.pem")
        with open(caFile, "wb") as f:
            f.write(caPem)
        time.sleep(arguments.settle)  # started up, the key ring loaded
        baseRss = rss_kib(pid)
        print(f"baseline: nssd RSS {baseRss / 1024:.1f} MiB; idling ...", flush=True)
        baseCpu = idle_cpu(nssd, arguments.baseline).total
        if arguments.profile:
            os.kill(pid, signal.SIGUSR1)
            time.sleep(2)

        print(
            f"logging {sessions} sessions on from"
            f" {arguments.client_processes} processes ...",
            flush=True,
        )
        start = time.monotonic()
        nssdCpuBefore, _ = nssd.cpu_seconds()
        clients = Clients(port, caFile, sessions, arguments.client_processes)
        if not clients.wait(arguments.logon_limit):
            print(f"  not all logged on within {arguments.logon_limit:.0f} s")
        logonWall = time.monotonic() - start
        logonCpu = nssd.cpu_seconds()[0] - nssdCpuBefore
        print(
            f"  {clients.loggedOn} logged on in {logonWall:.1f} s"
            f" ({clients.failed} failed"
            + (f", the first: {clients.firstFailure}" if clients.firstFailure else "")
            + f"); nssd CPU {logonCpu * 1e3 / max(clients.loggedOn, 1):.2f} ms"
            " per logon",
            flush=True,
        )
        held = clients.loggedOn
        time.sleep(arguments.settle)
        loggedOnRss = rss_kib(pid)
        print(
            f"  nssd RSS {loggedOnRss / 1024:.1f} MiB; idling {arguments.idle:.0f} s"
            " ...",
            flush=True,
        )
        clientCpuBefore = clients.cpu_seconds()
        if arguments.profile:
            os.kill(pid, signal.SIGUSR2)
        cpu = idle_cpu(nssd, arguments.idle)
        clientCores = (clients.cpu_seconds() - clientCpuBefore) / arguments.idle
        idleRss = rss_kib(pid)
        if arguments.profile:
            os.kill(pid, signal.SIGUSR2)
            os.kill(pid, signal.SIGUSR1)
            time.sleep(max(5.0, sessions / 500))  # the snapshot is written
        closed = list(clients.closed)
        clients.stop()
        report(
            sessions,
            held,
            closed,
            baseRss,
            baseCpu,
            loggedOnRss,
            idleRss,
            cpu,
            clientCores,
            arguments.idle,
        )
        if arguments.profile:
            profile(snapshots, cprofile, held, idleRss - baseRss, arguments.idle)
        return 0
    finally:
        if clients is not None:
            clients.stop()
        if nssd is not None:
            nssd.stop()
        shutil.rmtree(folder, ignore_errors=True)


def report(
    sessions: int,
    held: int,
    closed: list[str],
    baseRss: int,
    baseCpu: float,
    loggedOnRss: int,
    idleRss: int,
    cpu: IdleCpu,
    clientCores: float,
    idle: float,
) -> None:
    perSession = (idleRss - baseRss) / max(held, 1)
    idleCpu = cpu.total
    heartbeats = held / heartbeat_timeouts(IKED_WAIT_LIMIT).heartbeatInterval
    rssGoal = GIB / 1024 * sessions / RSS_GOAL_SESSIONS  # KiB above the baseline
    print()
    print(f"nssd with {held} idle sessions (heartbeat every 20 s, as iked's default)")
    print(f"{'':28} {'baseline':>12} {'with sessions':>14} {'ratio':>8}")
    print(
        f"{'RSS after logon':28} {baseRss / 1024:10.1f}MB"
        f" {loggedOnRss / 1024:12.1f}MB {loggedOnRss / baseRss:8.2f}"
    )
    print(
        f"{f'RSS after {idle:.0f} s idle':28} {baseRss / 1024:10.1f}MB"
        f" {idleRss / 1024:12.1f}MB {idleRss / baseRss:8.2f}"
    )
    print(
        f"{'CPU, % of one core':28} {baseCpu:11.2f}% {idleCpu:13.2f}%"
        + (f" {idleCpu / baseCpu:8.1f}" if baseCpu else f" {'n/a':>8}")
    )
    print(
        f"KiB per session: {perSession:.1f}"
        f" (after logon {(loggedOnRss - baseRss) / max(held, 1):.1f});"
        f" the client processes kept {clientCores:.2f} cores busy"
    )
    print(
        f"  idle CPU: user {cpu.user:.2f}%, system {cpu.system:.2f}%; the reactor"
        f" thread {cpu.reactor:.2f}%; {heartbeats:.0f} heartbeats/s, so"
        f" {idleCpu / 100 / max(heartbeats, 1) * 1e6:.0f} us of nssd CPU each"
    )
    if closed:
        print(f"{len(closed)} sessions ENDED while idle, the first: {closed[0]}")
    print()
    rssMet = held == sessions and (idleRss - baseRss) <= rssGoal
    cpuMet = held == sessions and idleCpu <= CPU_GOAL_PERCENT and not closed
    scaled = "" if sessions == RSS_GOAL_SESSIONS else " (1 GiB scaled to N)"
    print(
        f"Goal: {sessions} sessions in at most {rssGoal / 1024:.0f} MiB above the"
        f" baseline{scaled}: {'met' if rssMet else 'NOT met'}"
        f" ({(idleRss - baseRss) / 1024:.0f} MiB; 10,000 at this rate:"
        f" {perSession * RSS_GOAL_SESSIONS / 1024 / 1024:.2f} GiB)"
    )
    print(
        f"Goal: nssd at most {CPU_GOAL_PERCENT:.0f}% of a core while they idle:"
        f" {'met' if cpuMet else 'NOT met'} ({idleCpu:.2f}%)"
    )
    print("All goals met." if rssMet and cpuMet else "Not all goals met.")


def profile(
    snapshots: list[str], cprofile: str, held: int, rssGrowthKiB: int, idle: float
) -> None:
    """
    The largest differences in Python's allocations between the snapshot
    before the logons and the one after the idle period, by source line;
    and where the reactor thread spent its time while the sessions idled.
    """
    import pstats
    import tracemalloc

    print()
    print(f"cProfile of nssd's reactor thread over the {idle:.0f} s idle period:")
    out = io.StringIO()
    pstats.Stats(cprofile, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue())

    before, after = (tracemalloc.Snapshot.load(path) for path in snapshots)
    stats = after.compare_to(before, "lineno")
    traced = sum(stat.size_diff for stat in stats)
    print()
    print(
        f"tracemalloc: Python's allocations grew {traced / 1024 / max(held, 1):.1f}"
        f" KiB per session; RSS grew {rssGrowthKiB / max(held, 1):.1f} KiB per"
        " session (the rest is outside Python's allocator: OpenSSL, the"
        " allocator's own overhead and fragmentation)"
    )
    print(f"{'KiB/session':>12} {'blocks':>9}  where")
    for stat in stats[:25]:
        frame = stat.traceback[0]
        where = (
            os.path.relpath(frame.filename, ROOT)
            if ROOT in frame.filename
            else (frame.filename)
        )
        print(
            f"{stat.size_diff / 1024 / max(held, 1):12.2f} {stat.count_diff:9}"
            f"  {where}:{frame.lineno}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument(
        "--idle", type=float, default=30.0, help="seconds of each idle measurement"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds to wait before reading nssd's RSS",
    )
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--logon-limit",
        type=float,
        default=600.0,
        help="seconds to wait for every session to log on",
    )
    parser.add_argument(
        "--baseline",
        type=float,
        default=10.0,
        help="seconds of nssd's CPU measurement before any session",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run nssd under tracemalloc and cProfile and print where its"
        " memory and its idle CPU went (the figures of such a run are not"
        " the goals')",
    )
    parser.add_argument(
        "--client", nargs=4, metavar=("PORT", "CAFILE", "FIRST", "LAST"), help=SUPPRESS
    )
    arguments = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, arguments.sessions + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if arguments.client:
        port, caFile, first, last = arguments.client
        react(
            lambda reactor: Deferred.fromCoroutine(
                hold_sessions(reactor, int(port), caFile, int(first), int(last))
            )
        )
        return
    print(f"{os.cpu_count()} cores", flush=True)
    raise SystemExit(run(arguments))


if __name__ == "__main__":
    main()
