"""
When an SA is refreshed, and which of two SAs made by a rekey collision
survives (RFC 7296 sections 2.8 and 2.8.1).

A rule's lifetime is when its SA expires.  Both ends refresh (rekey) it
before then: iked as initiator and as responder alike, so that an SA never
lives on a peer's timer alone (the responder used to rekey only after its
lifetime had passed, and C{ipsec -k display} showed a refresh time equal
to the expiry).  The refresh comes at 80 to 90 per cent of the lifetime,
drawn at random per SA: the margin leaves time for retransmissions before
the expiry, and the jitter makes it unlikely that two ends with equal
lifetimes rekey the same SA at once, as section 2.8.1 asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = [
    "REFRESH_EARLIEST",
    "REFRESH_LATEST",
    "lowest_nonce_loses",
    "refresh_after",
]

REFRESH_EARLIEST = 0.80
"""The earliest refresh, as a fraction of the lifetime."""
REFRESH_LATEST = 0.90
"""The latest refresh, as a fraction of the lifetime."""


def refresh_after(lifetime: float, random: Callable[[], float]) -> float:
    """
    Seconds from establishment to the refresh of an SA that expires after
    C{lifetime} seconds; C{random} returns a float in [0, 1), the jitter.
    """
    return lifetime * (REFRESH_LATEST - (REFRESH_LATEST - REFRESH_EARLIEST) * random())


def lowest_nonce_loses(ours: Iterable[bytes], theirs: Iterable[bytes]) -> bool:
    """
    Whether the SA made by our exchange (its two nonces in C{ours}) is the
    redundant one of a simultaneous rekey, whose other exchange, the
    peer's, used C{theirs}: the SA created with the lowest of the four
    nonces is redundant, "lowest" comparing octet by octet and a nonce that
    is a prefix of another being the lower (RFC 7296 section 2.8.1), which
    is how Python orders L{bytes}.  Both ends reach the same verdict.
    """
    return min(ours) < min(theirs)
