"""
What one IKE_SA_INIT request costs a responder on the reactor thread.

The engine computes its Diffie-Hellman share and the shared secret inside
C{receive()}, synchronously, so an IKE_SA_INIT from a spoofed address of a
configured peer costs the reactor that much CPU before anything is known
about the sender; past C{cookieThreshold} half-open SAs (30) the responder
asks for a COOKIE instead, which costs no DH (issue 23, item 7).

For each DH group this prints, in one run:

  - the baseline: bare C{cryptography} work of one responder (generate a
    key, compute the shared secret with the initiator's public value);
  - the engine: CPU per request of C{IkeEngine.receive} answering a fresh
    IKE_SA_INIT (the DH work, key derivation, decoding and encoding), and
    its ratio to the baseline;
  - how many such requests per second one core absorbs, and how long a
    flood at that rate takes to reach the COOKIE threshold;
  - the CPU of the COOKIE answer given beyond the threshold.

The goal is that the COOKIE defence works: beyond the COOKIE threshold, a
spoofed IKE_SA_INIT costs at most a quarter of one answered with DH.  The
engine's cost beside the bare DH work is shown as a ratio, for the record
(the setup-rate work decides whether DH moves off the reactor thread).  Run
it from anywhere: C{python benchmarks/ike_init_cost.py [--requests N]}; the
working tree's code is used.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nsstwisted.ike.constants import (  # noqa: E402
    DhGroupId,
    EncrId,
    IdType,
    IntegId,
    PrfId,
)
from nsstwisted.ike.crypto import dh_group  # noqa: E402
from nsstwisted.ike.engine import EngineSettings, IkeEngine  # noqa: E402
from nsstwisted.ike.events import SendDatagram  # noqa: E402
from nsstwisted.ike.policy import (  # noqa: E402
    AuthKind,
    IkeProposal,
    LocalIdentity,
    PeerPolicy,
)

GOAL = 0.25
COOKIE_THRESHOLD = EngineSettings().cookieThreshold
INITIATOR = ("127.0.0.1", 5500)
RESPONDER = ("127.0.0.1", 4600)
GROUPS = (
    DhGroupId.CURVE_25519,
    DhGroupId.ECP_256,
    DhGroupId.MODP_2048,
    DhGroupId.MODP_3072,
)


def policy(
    group: DhGroupId, local: tuple[str, int], remote: tuple[str, int]
) -> PeerPolicy:
    return PeerPolicy(
        name="peer",
        action="ike",
        localAddress=ipaddress.ip_address(local[0]),
        remoteAddress=ipaddress.ip_address(remote[0]),
        localIdentity=LocalIdentity(IdType.FQDN, "a.example"),
        remoteIdentity=None,
        proposals=(
            IkeProposal(
                EncrId.AES_GCM_16, 256, IntegId.NONE, PrfId.HMAC_SHA2_256, group
            ),
        ),
        auth=AuthKind.PRESHARED_KEY,
        sharedKey=b"benchmark",
        localPort=local[1],
        remotePort=remote[1],
    )


def requests(group: DhGroupId, count: int) -> list[bytes]:
    """Fresh IKE_SA_INIT requests, each with its own SPI, key and nonce."""
    initiator = IkeEngine([policy(group, INITIATOR, RESPONDER)])
    made = []
    for _ in range(count):
        for action in initiator.initiate("peer", None, 0.0):
            if isinstance(action, SendDatagram):
                made.append(action.message)
    return made


def bare(group: DhGroupId, count: int) -> float:
    """CPU seconds per responder DH: generate, then compute the secret."""
    peer = dh_group(group).generate().publicBytes
    started = time.process_time()
    for _ in range(count):
        dh_group(group).generate().exchange(peer)
    return (time.process_time() - started) / count


def engine(group: DhGroupId, messages: list[bytes], threshold: int) -> float:
    """CPU seconds per IKE_SA_INIT answered by a responder engine."""
    responder = IkeEngine(
        [policy(group, RESPONDER, INITIATOR)],
        EngineSettings(cookieThreshold=threshold),
    )
    started = time.process_time()
    for message in messages:
        responder.receive(message, RESPONDER, INITIATOR, 1.0)
    return (time.process_time() - started) / len(messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    count = parser.parse_args().requests
    print(
        f"IKE_SA_INIT on the responder, {count} requests per group"
        f" (goal: a COOKIE answer at most {GOAL}x an answer with DH)\n"
    )
    print(
        f"{'group':12} {'bare DH':>9} {'engine':>9} {'ratio':>6}"
        f" {'req/s/core':>10} {'limit in':>9} {'COOKIE':>16}"
    )
    allMet = True
    for group in GROUPS:
        messages = requests(group, count)
        base = bare(group, count)
        cost = engine(group, messages, threshold=count + 1)
        cookie = engine(group, messages, threshold=0)
        ratio = cost / base
        met = cookie / cost <= GOAL
        allMet &= met
        rate = 1 / cost
        print(
            f"{group.name:12} {base * 1e3:7.3f}ms {cost * 1e3:7.3f}ms {ratio:6.2f}"
            f" {rate:10.0f} {COOKIE_THRESHOLD / rate * 1e3:7.1f}ms"
            f" {cookie * 1e3:6.3f}ms ({cookie / cost:.2f}x)"
            f"  {'met' if met else 'NOT met'}"
        )
    print()
    print("Goal met for every group." if allMet else "Goal NOT met for every group.")


if __name__ == "__main__":
    main()
