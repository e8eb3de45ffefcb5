"""
What the engine is told to negotiate: the peers it may talk to, with their
identities, proposals and lifetimes (L{PeerPolicy}, one per
KeyExchangeRule), and the CHILD_SAs it may set up with each
(L{ChildPolicy}, one per LocalDynVpnRule).

These are plain, checked values.  Where they come from (Policy Agent files
in iked) is not the engine's business, so that a test or an embedding
application can build them directly.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

from nsstwisted.ike.constants import (
    DhGroupId,
    EncrId,
    IdType,
    IntegId,
    PrfId,
)

__all__ = [
    "AuthKind",
    "ChildPolicy",
    "EspProposal",
    "IkeProposal",
    "Initiation",
    "LocalIdentity",
    "PeerEku",
    "PeerPolicy",
    "Selector",
    "TunnelMode",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class IkeProposal:
    """
    One IKE SA proposal: a single transform of each type (nsstwisted
    offers several proposals rather than several transforms per type, so
    that what is offered reads as what is configured).

    @ivar keyBits: the AES key length, 128, 192 or 256.
    @ivar integ: L{IntegId.NONE} with an AEAD cipher.
    """

    encr: EncrId
    keyBits: int
    integ: IntegId
    prf: PrfId
    dh: DhGroupId


@dataclass(frozen=True)
class EspProposal:
    """
    One ESP proposal.

    @ivar dh: the group for PFS in CREATE_CHILD_SA; L{DhGroupId.NONE}
        for none.  The CHILD_SA of IKE_AUTH never has its own DH.
    """

    encr: EncrId
    keyBits: int
    integ: IntegId
    dh: DhGroupId = DhGroupId.NONE
    esn: bool = False


class AuthKind(enum.Enum):
    """How a peer proves who it is."""

    SIGNATURE = "signature"
    PRESHARED_KEY = "presharedkey"


class PeerEku(enum.Enum):
    """
    Which extended key usages a peer's certificate may carry
    (L{nsstwisted.ike.certprofile}).

    @cvar IKE: RFC 4945 section 5.1.3.12: no extended key usage, or one
        that names id-kp-ipsecIKE or anyExtendedKeyUsage.
    @cvar IKE_OR_TLS: also one that names serverAuth or clientAuth, which
        Windows peers' certificates carry; an operator's choice per peer,
        never the default.
    """

    IKE = "ike"
    IKE_OR_TLS = "ikeortls"


class Initiation(enum.Enum):
    """Who may start a negotiation (IBM's C{Initiation} values)."""

    LOCAL_ONLY = "localonly"
    REMOTE_ONLY = "remoteonly"
    EITHER = "either"

    @property
    def mayInitiate(self) -> bool:
        return self is not Initiation.REMOTE_ONLY

    @property
    def mayRespond(self) -> bool:
        return self is not Initiation.LOCAL_ONLY


class TunnelMode(enum.Enum):
    TUNNEL = "tunnel"
    TRANSPORT = "transport"


@dataclass(frozen=True)
class LocalIdentity:
    """
    An IKE identity (ID payload) as configured.

    @ivar value: the FQDN, e-mail address, IP address text, or the DN in
        RFC 4514 text; for a KEY_ID, hex.
    """

    idType: IdType
    value: str


@dataclass(frozen=True)
class Selector:
    """
    One traffic selector as configured: a network, an IP protocol (0 =
    any) and a port range (0-65535 = any).
    """

    network: Network
    protocol: int = 0
    startPort: int = 0
    endPort: int = 65535


@dataclass(frozen=True)
class ChildPolicy:
    """
    A CHILD_SA the engine may negotiate (a LocalDynVpnRule and its
    IpDynVpnAction).

    @ivar name: the LocalDynVpnRule name, which C{ipsec -y} shows and
        steers.
    @ivar action: the IpDynVpnAction name.
    @ivar lifetime: seconds until the CHILD_SA is rekeyed (0 = never).
    @ivar autoActivate: initiate it as soon as its IKE SA exists.
    """

    name: str
    action: str
    localSelectors: tuple[Selector, ...]
    remoteSelectors: tuple[Selector, ...]
    proposals: tuple[EspProposal, ...]
    mode: TunnelMode = TunnelMode.TUNNEL
    lifetime: int = 3600
    initiation: Initiation = Initiation.EITHER
    autoActivate: bool = False


@dataclass(frozen=True)
class PeerPolicy:
    """
    An IKE peer (a KeyExchangeRule and its KeyExchangeAction).

    @ivar name: the KeyExchangeRule name, which C{ipsec -k} shows.
    @ivar remotePort: the peer's IKE port (500 unless configured).
    @ivar localPort: our IKE port for this peer.
    @ivar remoteIdentity: the identity the peer must prove; L{None}
        accepts whatever its certificate proves.
    @ivar sharedKey: the PSK when C{auth} is PRESHARED_KEY.
    @ivar lifetime: seconds until the IKE SA is rekeyed (0 = never).
    @ivar sendCertRequest: send CERTREQ (for the trusted CAs) in IKE_AUTH.
    @ivar peerEku: the extended key usages the peer's certificate may
        carry.
    @ivar dpdInterval: seconds without a message from the peer after
        which an empty INFORMATIONAL asks whether it is alive (0 = never).
    """

    name: str
    action: str
    localAddress: Address
    remoteAddress: Address
    localIdentity: LocalIdentity
    remoteIdentity: LocalIdentity | None
    proposals: tuple[IkeProposal, ...]
    auth: AuthKind = AuthKind.SIGNATURE
    sharedKey: bytes | None = field(default=None, repr=False)
    localPort: int = 500
    remotePort: int = 500
    lifetime: int = 14400
    initiation: Initiation = Initiation.EITHER
    children: tuple[ChildPolicy, ...] = ()
    sendCertRequest: bool = True
    peerEku: PeerEku = PeerEku.IKE
    dpdInterval: int = 0
