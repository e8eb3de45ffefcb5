"""
Whether the time of a refused logon tells which user IDs exist.

docs/protocol.md section 7.2 promises that nothing does: nssd answers an
unknown user ID as it answers a defined one with a wrong secret, and spends
the same work on it (issue 22, item 6).  This measures it against the real
nssd, in its own process, over real TLS on loopback: for each kind of
credentials, the time from sending LOGON to the refusal, for a user ID that
is defined and for one that is not, interleaved so that the machine's noise
falls on both alike.  The clock starts when LOGON is sent on a connection
whose TLS handshake is already done, and stops at the refusal.  The
baseline is the defined user; the figure is the ratio of the unknown user's
median to it.

Measured before the fix: a password logon took 1.2-1.4 ms for an unknown
user and 50-107 ms for a defined one (a ratio near 0.02).  The goal is a
ratio between 0.8 and 1.25 for every pair.  CLIENT1 has a password, CLIENT2
is protected (NOPASSWORD) and logs on with PassTickets; REVOKE is turned off
for the run so that CLIENT1 stays a defined, unrevoked user.

Run it from anywhere: C{python benchmarks/logon_timing.py [--rounds N]}; the
working tree's code is used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from sign_throughput import NssdProcess, build_security, write_config  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from nsstwisted.cli.racf import run as nss_racf  # noqa: E402
from nsstwisted.client import tls_endpoint  # noqa: E402
from nsstwisted.protocols.nss import NssFactory, NssProtocol  # noqa: E402
from nsstwisted.wire.codes import ReturnCode  # noqa: E402
from nsstwisted.wire.nss import (  # noqa: E402
    NSS_API_VERSION,
    LogonRequest,
    NssFrame,
    Services,
)

LOW, HIGH = 0.8, 1.25
CASES = [
    ("password", "CLIENT1", "NOBODY1"),
    ("password, protected user", "CLIENT2", "NOBODY2"),
    ("PassTicket", "CLIENT1", "NOBODY1"),
    ("PassTicket, protected user", "CLIENT2", "NOBODY2"),
]


class LogonTimer:
    """
    The handler of one raw NSS connection: says when TLS is up and hands
    over the first frame the server sends.
    """

    def __init__(self, protocol: NssProtocol) -> None:
        self.protocol = protocol
        self.ready: Deferred[None] = Deferred()
        self.reply: Deferred[NssFrame] = Deferred()

    def connected(self) -> None:
        pass

    def secured(self) -> None:
        self.ready.callback(None)

    def frameReceived(self, frame: NssFrame) -> None:
        if not self.reply.called:
            self.reply.callback(frame)

    def decodeFailed(self, failure: object) -> None:
        pass

    def timedOut(self, what: str) -> None:
        pass

    def connectionLost(self, reason: str) -> None:
        for waiting in (self.ready, self.reply):
            if not waiting.called:
                waiting.errback(ConnectionError(reason))


def logon_request(kind: str, userid: str) -> LogonRequest:
    password, ticket = (
        ("not the password", None)
        if kind.startswith("password")
        else (None, "AAAAAAAA")
    )
    return LogonRequest(
        clientName=userid,
        userid=userid,
        password=password,
        passTicket=ticket,
        apiVersion=NSS_API_VERSION,
        services=Services.CERT,
    )


async def refused_in(
    reactor: Any, port: int, caPem: bytes, kind: str, userid: str
) -> tuple[float, str]:
    """
    Seconds from sending LOGON to the refusal, and the reason code.  The
    TCP and TLS set-up, which is the same for everybody, is done and settled
    before the clock starts, so that only the logon is timed.
    """
    timers: list[LogonTimer] = []

    def handler(protocol: NssProtocol) -> LogonTimer:
        timers.append(LogonTimer(protocol))
        return timers[-1]

    endpoint = tls_endpoint(TCP4ClientEndpoint(reactor, "127.0.0.1", port), [caPem])
    await endpoint.connect(NssFactory(handler, reactor))
    timer = timers[0]
    await timer.ready
    await _sleep(reactor, 0.05)
    started = time.perf_counter()
    timer.protocol.sendFrame(NssFrame(1, logon_request(kind, userid)))
    frame = await timer.reply
    elapsed = time.perf_counter() - started
    timer.protocol.abort()
    if frame.returnCode is ReturnCode.OK:
        raise SystemExit(f"{userid} logged on with {kind} credentials that are wrong")
    return elapsed, frame.reasonCode.name


def _sleep(reactor: Any, seconds: float) -> Deferred[None]:
    waiting: Deferred[None] = Deferred()
    reactor.callLater(seconds, waiting.callback, None)
    return waiting


async def main(reactor: Any, rounds: int) -> None:
    folder = tempfile.mkdtemp(prefix="nss-logon-timing-")
    database, caPem = build_security(folder)
    status = nss_racf(
        ["--database", database, "SETROPTS PASSWORD(NOREVOKE)"],
        sys.stdout,
        sys.stderr,
    )
    if status:
        raise SystemExit("SETROPTS PASSWORD(NOREVOKE) failed")
    nssd = NssdProcess(write_config(folder, database, 0))
    try:
        port = nssd.port()
        # Warm up: the first logons load the equaliser hash and the caches.
        for kind, defined, unknown in CASES:
            for userid in (defined, unknown):
                await refused_in(reactor, port, caPem, kind, userid)
        print(f"Refused logons against nssd over TLS on loopback, {rounds} rounds")
        print(f"(goal: unknown/defined median ratio within {LOW}-{HIGH})\n")
        print(
            f"{'credentials':28} {'defined':>10} {'unknown':>10} {'ratio':>7}  answer"
        )
        allMet = True
        for kind, defined, unknown in CASES:
            times: dict[str, list[float]] = {defined: [], unknown: []}
            answers: dict[str, set[str]] = {defined: set(), unknown: set()}
            for _ in range(rounds):
                for userid in (defined, unknown):
                    seconds, answer = await refused_in(
                        reactor, port, caPem, kind, userid
                    )
                    times[userid].append(seconds)
                    answers[userid].add(answer)
            base = statistics.median(times[defined])
            other = statistics.median(times[unknown])
            ratio = other / base
            same = answers[defined] == answers[unknown]
            met = LOW <= ratio <= HIGH and same
            allMet &= met
            print(
                f"{kind:28} {base * 1e3:8.1f}ms {other * 1e3:8.1f}ms {ratio:7.2f}"
                f"  {'same' if same else 'DIFFERENT'}"
                f" ({', '.join(sorted(answers[defined] | answers[unknown]))})"
                f"  {'met' if met else 'NOT met'}"
            )
        print()
        print(
            "Goal met: the answers and their times do not tell which user IDs exist."
            if allMet
            else "Goal NOT met."
        )
    finally:
        nssd.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    arguments = parser.parse_args()
    react(lambda reactor: Deferred.fromCoroutine(main(reactor, arguments.rounds)))
