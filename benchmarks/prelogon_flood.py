"""
nssd's resident memory under a flood of connections that never log on.

The attack of issue 22: many TLS connections, each sending 1 MiB - 1 byte
of a frame that announces the largest message size (1 MiB), and none ever
sending a LOGON.  Before logon only a LOGON (or a HEARTBEAT or DISCONNECT)
is valid, and the largest of those is 1068 bytes
(C{MAX_PRELOGON_MESSAGE_SIZE}), so nssd should refuse such a frame from its
header alone and never buffer it; the connections should cost no more than
their TLS state, and nssd should give the memory back when they close.

One run, against C{twistd -n nssd} in its own process with its default
limits (C{MaxConnections}, C{MaxConnectionsPerAddress}, C{LogonTimeout}):

  1. real clients log on and sign, one per thread of nssd's pool, warming
     nssd up; then nssd's idle resident set size (VmRSS) is read: the
     baseline;
  2. the attackers connect over real TLS from several loopback source
     addresses (127.0.0.2, 127.0.0.3, ...; Linux routes all of 127/8 to
     the loopback), so that the per-address limit does not hide what each
     connection costs, and each sends its frame and holds the connection
     until nssd closes it or the attack's time is up;
  3. meanwhile a real client logs on and signs;
  4. the attackers close what is left; after a pause nssd's RSS is read
     again.

It prints RSS before, during (sampled every 0.1 s, and the kernel's
high-water mark VmHWM) and after, each as growth over the idle baseline
and as a ratio to it, and checks the bound documented in
C{docs/nssd-config.md}: during the attack nssd grows by at most
L{PER_CONNECTION_BOUND} per connection it accepted (plus L{LOGON_ALLOWANCE}
for the real client's logon), and after it nssd is back within
L{AFTER_ALLOWANCE} of idle.  It also says whether the real client logged on
and signed during the attack.  It exits non-zero if the bound is not met.

Run it from anywhere, in well under two minutes:
C{python benchmarks/prelogon_flood.py [--connections N]}; the working
tree's code is used, not an installed copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCHMARKS)

from sign_throughput import (  # noqa: E402
    LABEL,
    PASSWORD,
    NssdProcess,
    build_security,
    write_config,
)
from twisted.internet.defer import Deferred, gatherResults  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402
from twisted.internet.interfaces import IHandshakeListener  # noqa: E402
from twisted.internet.protocol import Protocol, connectionDone  # noqa: E402
from twisted.internet.task import LoopingCall, react  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402
from zope.interface import implementer  # noqa: E402

from nsstwisted.client import (  # noqa: E402
    PasswordCredentials,
    ServerIdentity,
    connect,
    tls_endpoint,
)
from nsstwisted.wire.nss import (  # noqa: E402
    MAX_MESSAGE_SIZE,
    FieldType,
    MessageType,
    NssDecoder,
    Services,
    SignatureSchemeCode,
)

MIB = 1024 * 1024
PER_CONNECTION_BOUND = 64 * 1024
"""The documented most a pre-logon connection may cost nssd, in bytes."""
LOGON_ALLOWANCE = 16 * MIB
"""
What the real client's logon during the attack may add on top: checking a
password takes scrypt 16 MiB in a pool thread.
"""
AFTER_ALLOWANCE = 16 * MIB
"""How far above idle nssd may stay once the attackers are gone."""
_HEADER = struct.Struct(">4sHHHHIIIII")


def attack_frame(total: int) -> bytes:
    """
    All but the last byte of a LOGON request of C{total} bytes whose one
    field, a PASSWORD, fills the frame: well-formed framing, so that only
    the size can be held against it, and never complete, so that a server
    that buffers it holds all of it until its frame deadline.
    """
    header = _HEADER.pack(b"NSSP", 32, 1, MessageType.LOGON, 0, total, 1, 0, 0, 0)
    length = total - len(header) - 6
    field = struct.pack(">HI", FieldType.PASSWORD, length) + b"p" * (length - 1)
    return header + field


def rss(pid: int) -> tuple[int, int]:
    """nssd's VmRSS and VmHWM, in bytes."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


@implementer(IHandshakeListener)
class Attacker(Protocol):
    """
    Sends its frame as soon as TCP is up (TLS sends it once the handshake
    is done), never logs on, and notes what nssd answers and when it
    closes.
    """

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.secured = False
        self.answers: list[Any] = []
        self.closed: Deferred[None] = Deferred()
        self._decoder = NssDecoder()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.frame)

    def handshakeCompleted(self) -> None:
        self.secured = True

    def dataReceived(self, data: bytes) -> None:
        self.answers.extend(self._decoder.feed(data))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)


@dataclass
class Outcome:
    idle: int = 0
    peakSampled: int = 0
    peakHwm: int = 0
    after: int = 0
    accepted: int = 0
    refused: int = 0
    answered: dict[str, int] = field(default_factory=dict)
    closedByServer: int = 0
    attackSeconds: float = 0.0
    clientSeconds: float | None = None
    clientError: str | None = None


def _sleep(reactor: Any, seconds: float) -> Deferred[None]:
    waiting: Deferred[None] = Deferred()
    reactor.callLater(seconds, waiting.callback, None)
    return waiting


async def logon_and_sign(
    reactor: Any, port: int, caPem: bytes, clientName: str = "BENCH1"
) -> float:
    start = time.perf_counter()
    session = await connect(
        reactor,
        tls_endpoint(TCP4ClientEndpoint(reactor, "127.0.0.1", port), [caPem]),
        serverIdentity=ServerIdentity.of_host("127.0.0.1"),
        clientName=clientName,
        credentials=PasswordCredentials("CLIENT1", PASSWORD),
        services=Services.CERT,
    )
    try:
        await session.sign(
            label=LABEL, data=b"IKE_AUTH", scheme=SignatureSchemeCode.RSA_PKCS1_SHA256
        )
    finally:
        await session.close()
    return time.perf_counter() - start


async def flood(
    reactor: Any, nssd: NssdProcess, caPem: bytes, args: argparse.Namespace
) -> Outcome:
    outcome = Outcome()
    port = nssd.port()
    pid = nssd.process.pid
    # As many logons at once as nssd has pool threads, so that each thread
    # has made its password check (scrypt takes 16 MiB) before the baseline.
    await _all(
        [
            logon_and_sign(reactor, port, caPem, f"BENCH{n}")
            for n in range(1, (os.cpu_count() or 2) + 1)
        ]
    )
    await _sleep(reactor, 2.0)
    outcome.idle = rss(pid)[0]
    print(f"idle: RSS {outcome.idle / MIB:.1f} MiB", flush=True)

    def sample() -> None:
        outcome.peakSampled = max(outcome.peakSampled, rss(pid)[0])

    sampler = LoopingCall(sample)
    sampler.start(0.1)
    frame = attack_frame(args.frame)
    attackers: list[Attacker] = []
    start = time.perf_counter()

    async def one(index: int) -> None:
        source = f"127.0.0.{2 + index % args.addresses}"
        endpoint = tls_endpoint(
            TCP4ClientEndpoint(
                reactor, "127.0.0.1", port, timeout=10, bindAddress=(source, 0)
            ),
            [caPem],
        )
        attacker = Attacker(frame)
        try:
            await connectProtocol(endpoint, attacker)
        except Exception:
            outcome.refused += 1
            return
        attackers.append(attacker)

    # In waves, so that the listen backlog is not what refuses them.
    for wave in range(0, args.connections, args.wave):
        count = min(args.wave, args.connections - wave)
        await Deferred.fromCoroutine(_all([one(wave + i) for i in range(count)]))
    print(
        f"attack: {len(attackers)} connections made in "
        f"{time.perf_counter() - start:.1f} s; holding {args.hold:.0f} s ...",
        flush=True,
    )
    try:
        outcome.clientSeconds = await logon_and_sign(reactor, port, caPem)
    except Exception as e:
        outcome.clientError = f"{type(e).__name__}: {e}"
    remaining = args.hold - (time.perf_counter() - start)
    if remaining > 0:
        await _sleep(reactor, remaining)
    outcome.attackSeconds = time.perf_counter() - start
    sample()
    sampler.stop()
    outcome.peakHwm = rss(pid)[1]
    for attacker in attackers:
        if attacker.secured:
            outcome.accepted += 1
        else:
            outcome.refused += 1
        if attacker.closed.called:
            outcome.closedByServer += 1
        for answer in attacker.answers:
            name = getattr(answer, "reasonCode", None)
            key = name.name if name is not None else type(answer).__name__
            outcome.answered[key] = outcome.answered.get(key, 0) + 1
        if not attacker.closed.called and attacker.transport is not None:
            attacker.transport.abortConnection()  # type: ignore[attr-defined]
    await _sleep(reactor, args.settle)
    outcome.after = rss(pid)[0]
    return outcome


async def _all(coroutines: list[Any]) -> None:
    await gatherResults([Deferred.fromCoroutine(c) for c in coroutines])


def report(outcome: Outcome, args: argparse.Namespace) -> bool:
    idle = outcome.idle
    peak = max(outcome.peakSampled, outcome.peakHwm)

    def line(name: str, value: int) -> None:
        growth = value - idle
        print(
            f"  {name:<22} {value / MIB:8.1f} MiB   growth {growth / MIB:+8.1f} MiB"
            f"   {value / idle:5.2f} x idle"
        )

    print()
    print(
        f"{args.connections} attack connections from {args.addresses} source "
        f"addresses, each sending all but the last byte of a {args.frame}-byte frame "
        f"and never logging on; "
        f"{outcome.attackSeconds:.1f} s of attack:"
    )
    print(
        f"  accepted (TLS up) {outcome.accepted}, refused {outcome.refused}, "
        f"closed by nssd before the attack's time was up {outcome.closedByServer}"
    )
    answers = ", ".join(f"{k} {v}" for k, v in sorted(outcome.answered.items()))
    print(f"  nssd's answers: {answers or 'none'}")
    print("nssd's resident memory:")
    line("idle (before)", idle)
    line("during (sampled peak)", outcome.peakSampled)
    line("during (VmHWM)", outcome.peakHwm)
    line(f"after (+{args.settle:.0f} s)", outcome.after)
    perConnection = (peak - idle) / max(outcome.accepted, 1) / 1024
    print(f"  peak growth per accepted connection: {perConnection:.1f} KiB")
    if outcome.clientSeconds is not None:
        print(
            f"real client during the attack: logged on and signed in "
            f"{outcome.clientSeconds:.2f} s"
        )
    else:
        print(f"real client during the attack: FAILED ({outcome.clientError})")

    bound = outcome.accepted * PER_CONNECTION_BOUND + LOGON_ALLOWANCE
    duringOk = peak - idle <= bound
    afterOk = outcome.after - idle <= AFTER_ALLOWANCE
    clientOk = outcome.clientSeconds is not None

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print()
    print('Documented bound (docs/nssd-config.md, "Memory"):')
    print(
        f"  during: growth <= {PER_CONNECTION_BOUND // 1024} KiB x "
        f"{outcome.accepted} accepted + {LOGON_ALLOWANCE // MIB} MiB (logon) = "
        f"{bound / MIB:.1f} MiB: {(peak - idle) / MIB:.1f} MiB, {verdict(duringOk)}"
    )
    print(
        f"  after: growth <= {AFTER_ALLOWANCE // MIB} MiB: "
        f"{(outcome.after - idle) / MIB:.1f} MiB, {verdict(afterOk)}"
    )
    print(f"  a real client logs on and signs meanwhile: {verdict(clientOk)}")
    return duringOk and afterOk and clientOk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1500)
    parser.add_argument("--addresses", type=int, default=25)
    parser.add_argument("--frame", type=int, default=MAX_MESSAGE_SIZE)
    parser.add_argument("--wave", type=int, default=50)
    parser.add_argument("--hold", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    if not 1 <= args.addresses <= 250:
        parser.error("--addresses must be 1 to 250")

    folder = tempfile.mkdtemp(prefix="nssflood-")
    nssd: NssdProcess | None = None
    try:
        print("building the security database ...", flush=True)
        database, caPem = build_security(folder)
        nssd = NssdProcess(write_config(folder, database, 0))
        print(f"nssd pid {nssd.process.pid} on port {nssd.port()}", flush=True)
        started = nssd
        result: list[bool] = []

        async def run(reactor: Any) -> None:
            outcome = await flood(reactor, started, caPem, args)
            result.append(report(outcome, args))

        try:
            react(lambda reactor: Deferred.fromCoroutine(run(reactor)))
        except SystemExit as done:
            if done.code:
                print("\n".join(started.lines[-20:]), file=sys.stderr)
                raise
    finally:
        if nssd is not None:
            nssd.stop()
        shutil.rmtree(folder, ignore_errors=True)
    raise SystemExit(0 if result and result[0] else 1)


if __name__ == "__main__":
    main()
