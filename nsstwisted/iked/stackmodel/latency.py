"""
How long a stack waits for nssd's signatures: a histogram of plain data.

An NSS stack's AUTH payloads are signed by nssd, so an IKE_AUTH is only as
quick as the round trip to nssd: the request over TLS, its time queued and
signing there, the reply.  nssd measures its own part
(C{nssd_request_seconds}); this is the part only iked sees, network and
TLS included.  The NSS client room observes it
(L{nsstwisted.iked.nssclient.signers}), and the exporter
(L{nsstwisted.iked.stackmodel.prometheus}) reads it at a scrape without
C{prometheus-client} being needed to count.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

__all__ = ["SIGNATURE_BUCKETS", "LatencyHistogram", "LatencySnapshot"]

SIGNATURE_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""
Upper bounds in seconds: from a loopback nssd's ECDSA signature (about a
millisecond) to one that waited behind a storm or a failing network.
"""


@dataclass(frozen=True)
class LatencySnapshot:
    """
    The histogram at one moment.

    @ivar bounds: the buckets' upper bounds, in seconds.
    @ivar counts: per bucket, how many observations were at most its bound
        and above the bound before (not cumulative); one more at the end
        for those above every bound.
    @ivar total: the sum of every observation, in seconds.
    """

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: float = 0.0

    @property
    def count(self) -> int:
        """How many observations."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """
        (upper bound, observations at most that) pairs, Prometheus's form,
        ending with infinity and the count.
        """
        pairs = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs


class LatencyHistogram:
    """
    A histogram that one thread observes into and another reads: every
    observation replaces the whole L{LatencySnapshot}, so that a reader
    (the metrics server's thread) always gets one that is consistent, its
    counts and its sum from the same moment.
    """

    def __init__(self, bounds: tuple[float, ...] = SIGNATURE_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("bucket bounds must be increasing")
        self._snapshot = LatencySnapshot(bounds, (0,) * (len(bounds) + 1))

    def observe(self, seconds: float) -> None:
        """Count one wait of C{seconds}."""
        current = self._snapshot
        index = bisect.bisect_left(current.bounds, seconds)
        counts = list(current.counts)
        counts[index] += 1
        self._snapshot = LatencySnapshot(
            current.bounds, tuple(counts), current.total + seconds
        )

    def snapshot(self) -> LatencySnapshot:
        """The histogram now."""
        return self._snapshot
