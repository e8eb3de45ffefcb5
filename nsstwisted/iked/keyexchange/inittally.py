"""
The IKE_SA_INIT requests a stack turned away, counted for one summary a
minute.

A flood of IKE_SA_INIT requests from forged addresses is answered per
packet (a COOKIE, a drop at the half-open limit, a refusal for want of a
rule or a proposal); a log line per packet would let the flood fill the
log and cost more than the answer.  So each is logged at debug level
only, and the operator gets one line a minute saying what happened
(EZD1230I), with the last refusal's reason so that a misconfigured real
peer is still seen.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SUMMARY_INTERVAL", "InitTally"]

SUMMARY_INTERVAL = 60.0
"""Seconds between two summaries of one stack, at most."""


@dataclass
class InitTally:
    """
    What a stack turned away since its last summary.

    @ivar cookies: requests answered with a COOKIE (over the threshold).
    @ivar dropped: requests dropped at the half-open limit.
    @ivar refused: requests refused before any IKE SA existed (no rule
        for the address, no acceptable proposal, malformed).
    @ivar expired: half-open IKE SAs that expired with no authentic
        IKE_AUTH, as those of forged addresses do.
    @ivar last: the last refusal, as EZD1155I words it.
    @ivar halfOpen: the half-open IKE SAs the engine last reported.
    """

    cookies: int = 0
    dropped: int = 0
    refused: int = 0
    expired: int = 0
    last: str = ""
    halfOpen: int = 0

    def __bool__(self) -> bool:
        return bool(self.cookies or self.dropped or self.refused or self.expired)

    def summary(self, stackName: str, cookieThreshold: int, halfOpenLimit: int) -> str:
        """EZD1230I for what was counted."""
        parts = []
        if self.cookies:
            parts.append(
                f"{self.cookies} asked for a COOKIE (CookieThreshold {cookieThreshold})"
            )
        if self.dropped:
            parts.append(
                f"{self.dropped} dropped at the half-open limit"
                f" (HalfOpenLimit {halfOpenLimit})"
            )
        if self.refused:
            parts.append(f"{self.refused} refused (last: {self.last})")
        if self.expired:
            parts.append(f"{self.expired} half open until they expired")
        return (
            f"EZD1230I Stack {stackName} turned away IKE_SA_INIT requests in the"
            f" last {SUMMARY_INTERVAL:.0f} seconds: {'; '.join(parts)};"
            f" {self.halfOpen} IKE SAs were half open"
        )
