"""
What iked's metrics read of each stack at a scrape: its IKE statistics, its
NSS connection as the service sees it, and how long nssd took to sign.
Plain data, so that the stack model's exporter
(L{nsstwisted.iked.stackmodel.prometheus}) needs nothing of the NSS client
room above it.
"""

from __future__ import annotations

from dataclasses import dataclass

from nsstwisted.iked.stackmodel.latency import LatencySnapshot
from nsstwisted.iked.stackmodel.statistics import StackStatistics

__all__ = ["NSS_STATES", "StackSample"]

NSS_STATES = ("connecting", "connected", "disconnected", "refused", "stopped")
"""
The states of a stack's NSS connection (C{refused}: its logon was refused
for a reason no retry cures, and it waits for a refresh).
"""


@dataclass(frozen=True)
class StackSample:
    """
    One stack at a scrape.

    @ivar name: the stack's name.
    @ivar statistics: its IKE statistics (the counters of GET_SUMMARY).
    @ivar nssState: its NSS connection's state, of L{NSS_STATES}; L{None}
        for a stack that is not an NSS client.
    @ivar failovers: how often it switched from one NSS server to the
        other since iked started.
    @ivar signatureLatency: how long its SIGN requests to nssd took;
        L{None} for a stack that does not sign through nssd.
    """

    name: str
    statistics: StackStatistics
    nssState: str | None = None
    failovers: int = 0
    signatureLatency: LatencySnapshot | None = None
