"""
Liveness (RFC 7296 sections 2.4 and 2.21.4): when an IKE SA is due a dead
peer detection check, and the unprotected INVALID_IKE_SPI that tells a
peer we have no SA for its message.

Dead peer detection: when nothing authentic has come from the peer for
the rule's C{DpdInterval}, and no request of ours is in flight (it would
find out as well), an empty INFORMATIONAL goes out.  If every
retransmission of it goes unanswered, the IKE SA and its CHILD_SAs are
removed as unreachable, and a rule that starts by itself negotiates again
(the iked runtime does that part).

After a restart we know none of a peer's SAs.  Answering its protected
requests with INVALID_IKE_SPI (section 2.21.4) lets it (and its operator)
see at once why nothing is answered; strongSwan's DPD then times out and
its C{dpd_action = restart} negotiates anew.  The answer is unprotected,
so anyone can provoke one with a spoofed source: the answers are rate
limited, per source address and in all.  The other way round, an
unprotected INVALID_IKE_SPI that reaches us changes nothing by itself (it
may be forged): it only starts a liveness check of the SA it names.
"""

from __future__ import annotations

from nsstwisted.ike.constants import NotifyType
from nsstwisted.ike.errors import IkeDecodeError
from nsstwisted.ike.message import IkeHeader, IkeMessage, decode_message, encode_message
from nsstwisted.ike.payloads import EncryptedPayload, NotifyPayload, find_notify
from nsstwisted.ike.sa import IkeSa, IkeState

__all__ = [
    "HINT_SPACING",
    "SpiHintLimiter",
    "invalid_spi_answer",
    "is_invalid_spi_hint",
    "liveness_due",
]

HINT_SPACING = 10.0
"""
Seconds between two liveness checks an INVALID_IKE_SPI hint may start on
one SA whose rule has no C{DpdInterval}.
"""


def liveness_due(sa: IkeSa) -> float | None:
    """When C{sa} is due a dead peer detection check; L{None} for never."""
    interval = sa.policy.dpdInterval
    if (
        not interval
        or sa.state != IkeState.ESTABLISHED
        or sa.outstanding is not None
        or sa.queue
    ):
        return None
    return max(sa.lastHeard, sa.establishedAt) + interval


def invalid_spi_answer(request: IkeHeader) -> bytes:
    """
    The unprotected answer to a request for an IKE SA we do not know: the
    same SPIs, exchange and message ID, the R flag set, and an
    INVALID_IKE_SPI notify (section 2.21.4).
    """
    return encode_message(
        IkeMessage(
            spiI=request.spiI,
            spiR=request.spiR,
            exchange=request.exchange,
            messageId=request.messageId,
            isResponse=True,
            isInitiator=not request.isInitiator,
            payloads=(NotifyPayload(0, NotifyType.INVALID_IKE_SPI),),
        )
    )


def is_invalid_spi_hint(data: bytes) -> bool:
    """Whether C{data} is an unprotected message with INVALID_IKE_SPI."""
    try:
        _, payloads = decode_message(data)
    except IkeDecodeError:
        return False
    if any(isinstance(p, EncryptedPayload) for p in payloads):
        return False
    return find_notify(payloads, NotifyType.INVALID_IKE_SPI) is not None


class SpiHintLimiter:
    """
    At most one INVALID_IKE_SPI answer per source address per
    C{perSource} seconds, and C{perSecond} in all: enough for a peer that
    lost its SA to learn it, too few to make us a reflector.
    """

    def __init__(
        self, perSource: float = 1.0, perSecond: int = 10, remembered: int = 1024
    ) -> None:
        self.perSource = perSource
        self.perSecond = perSecond
        self.remembered = remembered
        self._last: dict[str, float] = {}
        self._second = 0
        self._count = 0

    def allow(self, address: str, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second, self._count = second, 0
        if self._count >= self.perSecond:
            return False
        last = self._last.get(address)
        if last is not None and now - last < self.perSource:
            return False
        if len(self._last) >= self.remembered:
            self._last.clear()
        self._last[address] = now
        self._count += 1
        return True
