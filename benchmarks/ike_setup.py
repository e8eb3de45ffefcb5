"""
IKE_SA setups per second: iked (NSS signing) against strongSwan, and
strongSwan against strongSwan, in the same run, with their ratio.

iked signs its AUTH payloads through nssd, a network round trip per setup,
where strongSwan signs with a local key; this shows what that costs where it
matters to an operator, in tunnels brought up per second.  The initiator is a
strongSwan charon in both measurements and only the responder changes, so the
ratio compares the responders (iked with nssd against charon with its key)
under the same load.  Both run on this machine and share its cores with the
initiator; the figures are for comparing, not for capacity planning.

Each measurement runs in a throwaway network namespace (root and strongSwan
5.9.x needed, as for C{tests/test_strongswan_harness.py}) and makes:

  1. C{N} setups in sequence: initiate, wait for ESTABLISHED, next;
  2. C{N} setups at once: C{N} initiations sent without waiting, timed
     until the initiator has reported all C{N} IKE_SAs up.

Each setup is a full IKE_SA_INIT and IKE_AUTH with certificate
authentication (RSA-2048, RFC 7427 SHA-256 signatures) and, unless
C{--childless}, one CHILD_SA.  The initiator keeps every SA
(C{reuse_ikesa = no}) and the responder accepts any number from the one
identity (C{unique = never}); all are deleted after each pass, untimed.

strongSwan's DoS protection would otherwise shape the concurrent pass: the
responder asks for COOKIEs beyond C{cookie_threshold} (30) half-open
IKE_SAs, or C{cookie_threshold_ip} (3) from one address, and drops beyond
C{block_threshold} (5) per address.  The strongSwan responder here raises
all three well above C{N} (charon raises C{block_threshold} itself when
C{cookie_threshold_ip} exceeds it), so that what is measured is setup work,
not the COOKIE round trip.  charon logs at level 0 (C{--debug} for the
fixtures' levels), so as not to time its log file either.

The initiator is driven over vici directly (L{tests.strongswan.ViciClient}):
a C{swanctl} process per setup costs about as much as the setup.

Run it as root from anywhere: C{python benchmarks/ike_setup.py [-n N]}.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The fixtures (and, for the iked side, the code) of the working tree.
sys.path.insert(0, ROOT)

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from tests.strongswan import (  # noqa: E402
    Charon,
    Child,
    Connection,
    NetworkNamespace,
    TestPki,
    ViciClient,
    strongswan_available,
)

#: Where the initiator and responder listen inside the namespace (a fresh
#: namespace has every port free).
INITIATOR_PORTS = (4600, 4601)
RESPONDER_PORTS = (5500, 5501)
INITIATOR_ID = "initiator.bench.test"
RESPONDER_ID = "responder.bench.test"
CONNECTION = "bench"
CHILD = "net"
#: Pinned as in the interoperability tests, so runs are comparable.
PROPOSALS = "aes128-sha256-x25519"
ESP_PROPOSALS = "aes128gcm16"
QUIET = {
    "filelog": {
        "charon": dict.fromkeys(("default", "ike", "net", "cfg", "chd", "enc"), 0)
    }
}


@dataclass
class SetupFigures:
    """
    One responder's figures, in IKE_SA setups per second.
    """

    responder: str
    n: int
    sequential: float
    concurrent: float


@dataclass
class Options:
    childless: bool = False
    debug: bool = False
    timeout: float = 120.0
    workdir: str = ""


def initiator_connection(childless: bool) -> Connection:
    """
    The initiator's side of every measurement: what the strongSwan
    initiator asks of a responder, whichever daemon that is.
    """
    return Connection(
        CONNECTION,
        remote_port=RESPONDER_PORTS[0],
        local_id=INITIATOR_ID,
        remote_id=RESPONDER_ID,
        local_certs=["initiator.crt"],
        proposals=PROPOSALS,
        children=[] if childless else [Child(CHILD, esp_proposals=ESP_PROPOSALS)],
        options={"unique": "never", "childless": "allow" if childless else "never"},
    )


def start_initiator(
    namespace: NetworkNamespace, pki: TestPki, options: Options
) -> Charon:
    charon = Charon(
        os.path.join(options.workdir, "initiator"),
        namespace,
        *INITIATOR_PORTS,
        name="initiator",
        # A new IKE_SA per initiation, rather than a CHILD_SA on the last.
        settings={"reuse_ikesa": False, **({} if options.debug else QUIET)},
    )
    charon.add_ca(pki.ca_cert)
    charon.add_identity("initiator", *pki.issue(INITIATOR_ID))
    charon.connections.append(initiator_connection(options.childless))
    return charon


async def run_setups(
    initiator: Charon, n: int, childless: bool, timeout: float
) -> tuple[float, float]:
    """
    Time C{n} setups in sequence and then C{n} at once from a started and
    loaded initiator; give both rates.  The responder is whatever the
    initiator's connection points at.
    """
    vici = await initiator.vici()
    up = 0
    allUp: Deferred[None] | None = None

    def updown(event: dict[str, Any]) -> None:
        nonlocal up
        if event.get("up") == "yes":
            up += 1
            if allUp is not None and up >= n and not allUp.called:
                allUp.callback(None)

    await vici.register("ike-updown", updown)
    target = {"ike": CONNECTION} if childless else {"ike": CONNECTION, "child": CHILD}

    start = time.perf_counter()
    for _ in range(n):
        await vici.request("initiate", {**target, "timeout": int(timeout * 1000)})
    sequential = n / (time.perf_counter() - start)
    await clear(initiator, vici)

    up = 0
    allUp = Deferred()
    timer = reactor.callLater(timeout, allUp.cancel)
    start = time.perf_counter()
    for _ in range(n):
        # timeout -1: charon answers at once and initiates in the background.
        await vici.request("initiate", {**target, "timeout": -1})
    try:
        await allUp
    except Exception:
        raise RuntimeError(
            f"only {up} of {n} concurrent setups completed in {timeout}s\n"
            f"{initiator.log_tail()}"
        ) from None
    concurrent = n / (time.perf_counter() - start)
    if timer.active():
        timer.cancel()
    await clear(initiator, vici)
    return sequential, concurrent


async def clear(initiator: Charon, vici: ViciClient) -> None:
    """
    Delete every IKE_SA of the benchmark connection and wait until the
    initiator holds none, so that the next pass starts empty.
    """
    await vici.request("terminate", {"ike": CONNECTION, "timeout": 60000})
    await initiator.wait_for_sas(lambda sas: not sas, "all SAs deleted", 60)


async def measure_strongswan(n: int, options: Options) -> SetupFigures:
    """
    strongSwan initiator against a strongSwan responder with a local RSA
    key: the reference figure.
    """
    namespace = NetworkNamespace("bench")
    pki = TestPki()
    initiator = start_initiator(namespace, pki, options)
    high = max(10 * n, 1000)
    responder = Charon(
        os.path.join(options.workdir, "responder"),
        namespace,
        *RESPONDER_PORTS,
        name="responder",
        settings={
            "cookie_threshold": high,
            "cookie_threshold_ip": high,
            "block_threshold": high,
            **({} if options.debug else QUIET),
        },
    )
    responder.add_ca(pki.ca_cert)
    responder.add_identity("responder", *pki.issue(RESPONDER_ID))
    responder.connections.append(
        Connection(
            CONNECTION,
            remote_port=INITIATOR_PORTS[0],
            local_id=RESPONDER_ID,
            remote_id=INITIATOR_ID,
            local_certs=["responder.crt"],
            proposals=PROPOSALS,
            children=[
                Child(
                    CHILD,
                    local_ts="10.2.0.0/24",
                    remote_ts="10.1.0.0/24",
                    esp_proposals=ESP_PROPOSALS,
                )
            ],
            options={"unique": "never", "childless": "allow"},
        )
    )
    try:
        await responder.start()
        await initiator.start()
        await responder.load()
        await initiator.load()
        sequential, concurrent = await run_setups(
            initiator, n, options.childless, options.timeout
        )
    finally:
        await initiator.stop()
        await responder.stop()
        namespace.delete()
    return SetupFigures("strongSwan", n, sequential, concurrent)


async def measure_iked(n: int, options: Options) -> SetupFigures:
    """
    THE IKED SIDE, TO BE WRITTEN: strongSwan initiator against iked, which
    signs through nssd.

    Same shape as L{measure_strongswan}: make a namespace and PKI, start
    nssd with the CA and iked's leaf key (the key goes to nssd's key ring
    only), start iked as the responder on L{RESPONDER_PORTS} with identity
    L{RESPONDER_ID}, the pinned proposals and selectors 10.2.0.0/24 ===
    10.1.0.0/24, its half-open limits raised as for strongSwan; then
    C{start_initiator}, C{load} and
    C{run_setups(initiator, n, options.childless, options.timeout)}.
    """
    raise NotImplementedError("iked side of the IKE setup benchmark")


def rate(value: float) -> str:
    return f"{value:,.1f} setups/s"


def report(figures: SetupFigures) -> None:
    print(f"{figures.responder} responder, {figures.n} IKE_SAs:")
    print(f"  sequential: {rate(figures.sequential)}")
    print(f"  concurrent: {rate(figures.concurrent)}")


def ratio(iked: SetupFigures, strongswan: SetupFigures) -> None:
    for name in ("sequential", "concurrent"):
        mine, theirs = getattr(iked, name), getattr(strongswan, name)
        print(f"ratio iked/strongSwan, {name}: {mine / theirs:.2f}")


async def run(n: int, options: Options) -> None:
    kind = "no CHILD_SA" if options.childless else "one CHILD_SA each"
    print(f"{os.cpu_count()} cores; {n} setups per pass, {kind}", flush=True)
    strongswan = await measure_strongswan(n, options)
    report(strongswan)
    try:
        iked = await measure_iked(n, options)
    except NotImplementedError:
        print("iked: not measured yet (measure_iked is not written); no ratio")
        return
    report(iked)
    ratio(iked, strongswan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100, help="setups per pass")
    parser.add_argument(
        "--childless",
        action="store_true",
        help="IKE_SAs without a CHILD_SA (RFC 6023)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="keep charon's logs at test levels"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs, config)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds allowed per pass"
    )
    args = parser.parse_args()
    reason = strongswan_available()
    if reason:
        sys.exit(f"cannot run: {reason}")
    # Short, so that charon's vici socket path stays within AF_UNIX limits.
    workdir = tempfile.mkdtemp(prefix="ikeb-", dir="/tmp")
    options = Options(args.childless, args.debug, args.timeout, workdir)
    try:
        react(lambda _: Deferred.fromCoroutine(run(args.n, options)))
    finally:
        if args.keep:
            print(f"work folder: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
