"""
A stack's IKE statistics: the counters behind C{NMsec_GET_SUMMARY}.

L{StackStatistics} is sans-IO.  The stack's IKE side
(L{nsstwisted.iked.keyexchange.ikestack}) tells it what happened (an IKE SA or CHILD_SA
established, failed, was retransmitted, went away) and it keeps the
numbers; L{StackStatistics.snapshot} gives them as the wire's
L{StatisticsInfo}.  The in-progress and expired gauges stay 0: the engine
keeps no expired SAs, and half-open ones are not counted.

IBM's cumulative counters last for iked's life, even across stack
restarts: iked keeps one L{StackStatistics} per stack name and does not
replace it when a refresh rebuilds the stack.
"""

from __future__ import annotations

import enum

from nsstwisted.wire.stackinfo import StatisticsInfo

__all__ = ["Counter", "Gauge", "StackStatistics"]

_COUNTER_LIMIT = 1 << 64
_GAUGE_LIMIT = (1 << 32) - 1


class Counter(enum.Enum):
    """
    A cumulative counter: it only grows, and wraps at 2**64 as the wire's
    8-byte field does.  The values are the L{StatisticsInfo} fields.
    """

    P1_LOCAL_SUCCESS = "p1LclActSuccess"
    """An IKE SA this side initiated was established."""
    P1_REMOTE_SUCCESS = "p1RmtActSuccess"
    """An IKE SA a peer initiated was established."""
    P1_LOCAL_FAILURE = "p1LclActFailure"
    """An IKE SA this side initiated failed."""
    P1_REMOTE_FAILURE = "p1RmtActFailure"
    """An IKE SA a peer initiated failed."""
    P1_RETRANSMIT = "p1Retransmit"
    """An IKE_SA_INIT or IKE_AUTH message was sent again."""
    P2_LOCAL_SUCCESS = "p2LclActSuccess"
    """A child SA (dynamic tunnel) this side initiated was established."""
    P2_REMOTE_SUCCESS = "p2RmtActSuccess"
    """A child SA a peer initiated was established."""
    P2_LOCAL_FAILURE = "p2LclActFailure"
    """A child SA this side initiated failed."""
    P2_REMOTE_FAILURE = "p2RmtActFailure"
    """A child SA a peer initiated failed."""
    P2_RETRANSMIT = "p2Retransmit"
    """A CREATE_CHILD_SA message was sent again."""


class Gauge(enum.Enum):
    """
    A current count: it goes up and down and is never below 0.  The wire
    carries 4 bytes; a larger count is reported as 2**32 - 1.
    """

    P1_ACTIVE = "p1Active"
    """IKE tunnels established and not expired."""
    P1_IN_PROGRESS = "p1InProgress"
    """IKE tunnels being negotiated."""
    P1_EXPIRED = "p1Expired"
    """
    IKE tunnels expired but kept while dynamic tunnels they made remain,
    as IBM keeps them.
    """
    P2_ACTIVE = "p2Active"
    """Dynamic tunnels established and not expired."""
    P2_IN_PROGRESS = "p2InProgress"
    """Dynamic tunnels being negotiated."""
    P2_EXPIRED = "p2Expired"
    """Dynamic tunnels expired and not yet removed."""
    MANUAL_ACTIVE = "manActive"
    """Manual tunnels active."""
    MANUAL_INACTIVE = "manInactive"
    """Manual tunnels configured but inactive."""


class StackStatistics:
    """
    The IKE statistics of one stack, all zero at first.
    """

    def __init__(self) -> None:
        self._values: dict[str, int] = {
            member.value: 0 for kind in (Counter, Gauge) for member in kind
        }

    def count(self, counter: Counter, by: int = 1) -> None:
        """
        Add C{by} to a cumulative counter.

        @raise ValueError: C{counter} is not a L{Counter}, or C{by} is
            negative: a cumulative counter never goes back.
        """
        if not isinstance(counter, Counter):
            raise ValueError(f"{counter!r} is not a Counter")
        if isinstance(by, bool) or not isinstance(by, int) or by < 0:
            raise ValueError(f"a counter grows by a count, not {by!r}")
        self._values[counter.value] = (self._values[counter.value] + by) % (
            _COUNTER_LIMIT
        )

    def adjust(self, gauge: Gauge, delta: int) -> None:
        """
        Add C{delta} (which may be negative) to a current count.

        @raise ValueError: C{gauge} is not a L{Gauge}, C{delta} is not an
            integer, or the count would go below 0 (an engine bug, shown
            where it happens rather than as a huge count in a report).
        """
        if not isinstance(gauge, Gauge):
            raise ValueError(f"{gauge!r} is not a Gauge")
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise ValueError(f"{delta!r} is not an integer")
        value = self._values[gauge.value] + delta
        if value < 0:
            raise ValueError(f"{gauge.name} would go below 0, to {value}")
        self._values[gauge.value] = value

    def set(self, gauge: Gauge, value: int) -> None:
        """
        Set a current count, for an engine that counts its SAs itself.

        @raise ValueError: C{gauge} is not a L{Gauge} or C{value} is not a
            count.
        """
        if not isinstance(gauge, Gauge):
            raise ValueError(f"{gauge!r} is not a Gauge")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{value!r} is not a count")
        self._values[gauge.value] = value

    def __getitem__(self, name: Counter | Gauge) -> int:
        """The value of one counter or gauge."""
        return self._values[name.value]

    def snapshot(self) -> StatisticsInfo:
        """All the values now, as GET_SUMMARY carries them."""
        values = dict(self._values)
        for gauge in Gauge:
            values[gauge.value] = min(values[gauge.value], _GAUGE_LIMIT)
        return StatisticsInfo(**values)
