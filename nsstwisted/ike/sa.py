"""
The state of one IKE SA and its CHILD_SAs, as the engine keeps it.

An L{IkeSa} also keeps the exchange bookkeeping RFC 7296 section 2.1-2.3
asks for: the next message ID in each direction (window size 1), the one
request of ours in flight with its retransmission schedule, and our last
response, which a duplicate request gets again instead of being processed
twice.  Only the requester retransmits.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nsstwisted.ike.crypto import DhPrivateKey, Prf
from nsstwisted.ike.fragments import Reassembler
from nsstwisted.ike.keys import ChildKeys, EspSuite, IkeKeys, IkeSuite
from nsstwisted.ike.message import SkProtector
from nsstwisted.ike.payloads import IdPayload, TrafficSelector
from nsstwisted.ike.policy import ChildPolicy, PeerPolicy, TunnelMode

__all__ = [
    "ChildSa",
    "ChildState",
    "Endpoint",
    "IkeSa",
    "IkeState",
    "OutstandingRequest",
]

Endpoint = tuple[str, int]
"""
An address (text) and a UDP port.  Defined here, where the SAs that hold
one are, so that L{nsstwisted.ike.events} (which also carries them, and
names it for its users) imports this module and not the reverse.
"""

_serials = itertools.count(1)


class IkeState(enum.Enum):
    CONNECTING = "connecting"  # IKE_SA_INIT sent or received
    AUTHENTICATING = "authenticating"  # IKE_AUTH in progress
    ESTABLISHED = "established"
    REKEYED = "rekeyed"  # replaced by a new IKE SA, awaiting deletion
    DELETING = "deleting"
    DELETED = "deleted"


class ChildState(enum.Enum):
    CREATING = "creating"
    INSTALLED = "installed"
    REKEYING = "rekeying"
    REKEYED = "rekeyed"  # replaced, awaiting deletion
    DELETING = "deleting"
    DELETED = "deleted"


@dataclass
class OutstandingRequest:
    """
    Our request in flight: its bytes for retransmission and what to do
    with the answer.

    @ivar onResponse: called with the decrypted payloads of the response.
    @ivar onTimeout: called when every retransmission went unanswered.
    """

    messageId: int
    message: bytes
    onResponse: Callable[[list[Any]], None]
    onTimeout: Callable[[], None]
    attempts: int = 1
    nextAt: float = 0.0
    #: when the request went out as RFC 7383 fragments, all of them
    #: (C{message} is then the first): a retransmission resends them all.
    fragments: tuple[bytes, ...] = ()

    @property
    def datagrams(self) -> tuple[bytes, ...]:
        return self.fragments or (self.message,)


@dataclass(eq=False)
class ChildSa:
    """
    One CHILD_SA (an ESP SA pair).

    @ivar spiIn: our SPI (the one the peer sends with).
    @ivar spiOut: the peer's SPI.
    @ivar initiator: we started the exchange that made it, so its
        "initiator" keys are our outbound keys.
    """

    ikeSa: IkeSa
    policy: ChildPolicy | None
    spiIn: bytes
    spiOut: bytes = b""
    suite: EspSuite | None = None
    keys: ChildKeys | None = field(default=None, repr=False)
    localSelectors: tuple[TrafficSelector, ...] = ()
    remoteSelectors: tuple[TrafficSelector, ...] = ()
    mode: TunnelMode = TunnelMode.TUNNEL
    initiator: bool = True
    state: ChildState = ChildState.CREATING
    establishedAt: float = 0.0
    rekeyAt: float | None = None
    reqid: int = field(default_factory=lambda: next(_serials))
    dhGroup: int = 0
    tunnelId: str = ""
    #: The nonces (Ni, Nr) of the CREATE_CHILD_SA that made it, by which a
    #: rekey collision is decided (RFC 7296 section 2.8.1).
    nonces: tuple[bytes, ...] = field(default=(), repr=False)
    #: Of a CHILD_SA we are rekeying: the peer's rekey of it, which crossed
    #: ours.  Of that rekey, until it proves the survivor: the CHILD_SA
    #: it replaces, so that its delete by the peer is known as the end of
    #: a collision.
    collision: ChildSa | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.policy.name if self.policy else ""

    def outbound_keys(self) -> tuple[bytes, bytes]:
        """(encryption, integrity) keys for what we send."""
        assert self.keys is not None
        if self.initiator:
            return self.keys.encrI, self.keys.integI
        return self.keys.encrR, self.keys.integR

    def inbound_keys(self) -> tuple[bytes, bytes]:
        assert self.keys is not None
        if self.initiator:
            return self.keys.encrR, self.keys.integR
        return self.keys.encrI, self.keys.integI


@dataclass(eq=False)
class IkeSa:
    """
    One IKE SA.

    @ivar originalInitiator: we are the original initiator (we set the I
        flag, and use SK_ei/SK_ai to protect what we send).
    @ivar localSpi: our SPI, by which the engine finds the SA.
    """

    policy: PeerPolicy
    originalInitiator: bool
    spiI: bytes
    spiR: bytes
    local: Endpoint
    remote: Endpoint
    state: IkeState = IkeState.CONNECTING
    serial: int = field(default_factory=lambda: next(_serials))
    suite: IkeSuite | None = None
    prf: Prf | None = None
    keys: IkeKeys | None = field(default=None, repr=False)
    sendProtector: SkProtector | None = field(default=None, repr=False)
    receiveProtector: SkProtector | None = field(default=None, repr=False)
    dh: DhPrivateKey | None = field(default=None, repr=False)
    nonceI: bytes = b""
    nonceR: bytes = b""
    initRequest: bytes = b""
    initResponse: bytes = b""
    cookie: bytes = b""
    cookieRetries: int = 0
    #: DH groups the responder refused with INVALID_KE_PAYLOAD: never offered
    #: again, so that a peer (or anyone who knows SPIi) cannot make us
    #: compute keys without end.
    refusedGroups: set[int] = field(default_factory=set)
    peerHashes: frozenset[int] | None = None
    peerAuthorities: tuple[bytes, ...] = ()
    peerId: IdPayload | None = None
    peerCertificates: tuple[bytes, ...] = ()
    localNat: bool = False
    remoteNat: bool = False
    establishedAt: float = 0.0
    rekeyAt: float | None = None
    # message IDs (RFC 7296 section 2.2)
    nextRequestId: int = 0
    nextExpectedId: int = 0
    outstanding: OutstandingRequest | None = None
    queue: list[Callable[[], None]] = field(default_factory=list)
    lastResponseId: int = -1
    lastResponse: bytes = b""
    #: as L{OutstandingRequest.fragments}, for our last response
    lastResponseFragments: tuple[bytes, ...] = ()
    processingId: int | None = None
    children: list[ChildSa] = field(default_factory=list)
    pendingChild: ChildSa | None = None
    tunnelId: str = ""
    authMethod: int = 0
    deleteReason: str = ""
    #: both ends announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383)
    fragmentation: bool = False
    reassembler: Reassembler = field(default_factory=Reassembler, repr=False)
    #: When an authentic message last came from the peer (dead peer
    #: detection starts from it).
    lastHeard: float = 0.0
    #: Our IKE SA rekey is in flight.
    rekeying: bool = False
    #: The peer's rekey of this IKE SA that crossed ours: the new IKE SA it
    #: made, which takes the CHILD_SAs unless ours wins (section 2.8.2).
    collision: IkeSa | None = field(default=None, repr=False)
    #: Removed because the peer stopped answering (dead peer detection or
    #: any request of ours unanswered): a rule that starts by itself
    #: negotiates again.
    unreachable: bool = False
    #: When we last checked liveness on an unprotected INVALID_IKE_SPI.
    hintedAt: float | None = None

    @property
    def localSpi(self) -> bytes:
        return self.spiI if self.originalInitiator else self.spiR

    @property
    def remoteSpi(self) -> bytes:
        return self.spiR if self.originalInitiator else self.spiI

    @property
    def lastResponseDatagrams(self) -> tuple[bytes, ...]:
        return self.lastResponseFragments or (self.lastResponse,)

    @property
    def isUp(self) -> bool:
        return self.state in (IkeState.ESTABLISHED, IkeState.DELETING)

    def live_children(self) -> list[ChildSa]:
        return [
            c
            for c in self.children
            if c.state not in (ChildState.DELETED, ChildState.CREATING)
        ]

    def child_by_outbound(self, spi: bytes) -> ChildSa | None:
        for child in self.children:
            if child.spiOut == spi and child.state != ChildState.DELETED:
                return child
        return None
