"""
What the engine asks its adapter to do (actions) and what it tells it
happened (events).  Every engine call returns a list of these, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from nsstwisted.ike.auth import SignatureScheme
from nsstwisted.ike.sa import ChildSa, Endpoint, IkeSa

__all__ = [
    "Action",
    "ChildSaDeleted",
    "ChildSaEstablished",
    "Endpoint",
    "FragmentDropped",
    "IkeSaDeleted",
    "IkeSaEstablished",
    "IkeSaRekeyed",
    "MessageDropped",
    "MessageFragmented",
    "NegotiationFailed",
    "PeerCheckNeeded",
    "ReassemblyAbandoned",
    "Retransmitted",
    "SendDatagram",
    "SignatureNeeded",
]


@dataclass(frozen=True)
class SendDatagram:
    """
    Send an IKE message.  C{message} has no non-ESP marker: the adapter
    frames it for the ports (L{nsstwisted.ike.ports.frame}).
    """

    message: bytes
    local: Endpoint
    remote: Endpoint
    raw: bool = False
    """A NAT-T keepalive: sent as it is, never framed."""


@dataclass(frozen=True)
class SignatureNeeded:
    """Ask the stack's signer for a signature over C{octets}."""

    requestId: int
    sa: IkeSa
    octets: bytes
    peerHashes: frozenset[int] | None


@dataclass(frozen=True)
class PeerCheckNeeded:
    """Ask the stack's verifier about the peer's certificate and AUTH."""

    requestId: int
    sa: IkeSa
    certificates: tuple[bytes, ...]
    scheme: SignatureScheme
    octets: bytes
    signature: bytes


@dataclass(frozen=True)
class IkeSaEstablished:
    sa: IkeSa


@dataclass(frozen=True)
class IkeSaRekeyed:
    old: IkeSa
    new: IkeSa


@dataclass(frozen=True)
class IkeSaDeleted:
    """
    @ivar reason: why, for the operator: C{"deleted by the peer"},
        C{"peer not responding"}, an authentication failure, ...
    """

    sa: IkeSa
    reason: str


@dataclass(frozen=True)
class ChildSaEstablished:
    """
    @ivar replaces: the CHILD_SA this one rekeys, if any.
    """

    child: ChildSa
    replaces: ChildSa | None = None


@dataclass(frozen=True)
class ChildSaDeleted:
    child: ChildSa
    reason: str


@dataclass(frozen=True)
class NegotiationFailed:
    """
    A negotiation that did not come to be, or a CHILD_SA that could not
    be made while its IKE SA stays.

    @ivar peer: the KeyExchangeRule name, or the peer's address when no
        rule matched.
    """

    peer: str
    reason: str
    sa: IkeSa | None = None
    kind: str = "ike"
    """C{"ike"} (an IKE SA), C{"child"} (a CHILD_SA) or C{"notice"} (the
    peer reported an error; nothing of ours failed)."""
    local: bool | None = None
    """We started what failed; None: as the IKE SA's role says."""


@dataclass(frozen=True)
class Retransmitted:
    """We sent a request again (for the statistics)."""

    sa: IkeSa
    exchange: int


@dataclass(frozen=True)
class MessageDropped:
    """
    A datagram the engine ignored (bad ICV, wrong message ID, unknown SPI,
    malformed): RFC 7296 asks for silence toward the sender, so this is
    the only trace.
    """

    remote: Endpoint
    reason: str


@dataclass(frozen=True)
class FragmentDropped:
    """
    An RFC 7383 fragment not kept (forged, not negotiated, duplicate,
    inconsistent, over a limit, for another message ID).  Like
    L{MessageDropped}, one per datagram, so the adapter logs it at debug
    level: a flood must not flood the log.
    """

    remote: Endpoint
    reason: str


@dataclass(frozen=True)
class ReassemblyAbandoned:
    """
    An incomplete set of authentic fragments given up (timed out, replaced
    by a newer message, over the size limit): at most one per message of
    an authenticated peer, so worth the operator's attention.
    """

    sa: IkeSa
    messageId: int
    response: bool
    held: int
    total: int
    reason: str


@dataclass(frozen=True)
class MessageFragmented:
    """We sent a message as C{count} RFC 7383 fragments."""

    sa: IkeSa
    exchange: int
    messageId: int
    count: int


@dataclass(frozen=True)
class InitRequestTurnedAway:
    """
    An IKE_SA_INIT request met the responder's flood defence before any
    DH work: asked for a COOKIE (C{measure} C{"cookie"}) or dropped at the
    half-open limit (C{"limit"}).  One per request, so that the adapter
    counts them and tells the operator in a summary, not per packet.

    @ivar halfOpen: the half-open IKE SAs at that moment.
    """

    remote: Endpoint
    measure: str
    halfOpen: int


Action = (
    SendDatagram
    | SignatureNeeded
    | PeerCheckNeeded
    | IkeSaEstablished
    | IkeSaRekeyed
    | IkeSaDeleted
    | ChildSaEstablished
    | ChildSaDeleted
    | NegotiationFailed
    | MessageDropped
    | Retransmitted
    | FragmentDropped
    | ReassemblyAbandoned
    | MessageFragmented
    | InitRequestTurnedAway
)
