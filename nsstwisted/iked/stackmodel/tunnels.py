"""
A stack's tunnel tables: its IKE tunnels (C{K1}, C{K2}, ...), its dynamic
tunnels (C{Y1}, ...) and its manual tunnels (C{M1}, ...), as C{ipsec -k},
C{-y} and C{-m} show and steer them.

The IKEv2 engine fills the tables; until it exists they stay empty, and
tests fill them directly (L{StackTunnels.add_ike}, L{add_dynamic},
L{add_manual}).

Tunnel IDs are allocated per stack and per kind, counting up from 1, and a
number is never reused while iked runs, even after its tunnel is removed,
so that an operator's C{-a K3} can never hit a newer tunnel by mistake.
IDs are matched without regard to case (C{k3} is C{K3}); rule and action
names, which are Policy Agent names, are matched exactly.

The control operations (L{StackTunnels.deactivate_ike} and friends) find
the tunnels a request names and call one L{TunnelHooks} action per tunnel.
Each action returns the L{TunnelStatus} the reply carries for that tunnel.
The IKE engine will provide actions that really negotiate or delete SAs;
the defaults here only keep the books (L{bookkeeping}): activate makes a
tunnel C{ACTIVE}, deactivate makes it C{INACTIVE} (C{STATEALREADYSET} if
it was so already), and refresh answers C{STATEUPDATED} for an active
tunnel and C{STATEALREADYSET} for one that is not active, since a tunnel
that is down has nothing to refresh.  An operation that matches nothing
answers one C{NOTFOUND}.

This module is sans-IO.  It speaks the wire's L{TunnelStatus} because the
status values are IBM's own and the reply carries them as they are.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from nsstwisted.wire.filters import TunnelStatus
from nsstwisted.wire.tunnels import (
    EncapMode,
    IkeRole,
    IpsecProtocol,
    SaState,
    TunnelSelector,
)

__all__ = [
    "DynamicTunnel",
    "EncapMode",
    "IkeRole",
    "IkeTunnel",
    "IpsecProtocol",
    "ManualTunnel",
    "SaState",
    "StackTunnels",
    "TunnelHooks",
    "TunnelOutcome",
    "TunnelSelector",
    "bookkeeping",
]


@dataclass
class IkeTunnel:
    """
    One IKE tunnel (IKE SA) of a stack.

    The engine fills what it has negotiated; every field after C{state}
    has a default meaning "not known yet", so that a tunnel can be listed
    from its first message on.  Transforms, authentication methods and ID
    types are IANA's numbers (the engine's L{nsstwisted.ike.constants}
    enumerations are such numbers); 0 = not negotiated, and C{integrity} 0
    with an encryption means none, as with AES-GCM.  Times are seconds
    since the epoch, 0 = n/a.

    @ivar activated: when it became active.
    @ivar lifetime: seconds; 0 = n/a.
    @ivar keyExchangeAction: the KeyExchangeAction it was negotiated under.
    @ivar localSpi: our IKE SPI, the 8 octets of the IKE header; C{b""}
        until there is one.
    @ivar remoteSpi: the peer's, likewise (an initiator has none until
        the IKE_SA_INIT response).
    @ivar localPort: the UDP port we speak IKE on (500, 4500 after NAT
        detection); 0 = n/a.
    @ivar keyLength: the encryption key's bits (the Key Length attribute).
    @ivar localAuthMethod: how we authenticated (the AUTH payload's
        method); C{remoteAuthMethod}, how the peer did.
    @ivar localIdType: the ID type of C{localId}, 0 while there is none.
    @ivar localId: our identity as text: the address, FQDN or e-mail
        address, the DN in RFC 4514 form, a KEY_ID in hex.  What does not
        fit the record's 256 bytes is shortened there.
    @ivar refresh: when the engine will rekey it.
    @ivar expires: when it ends; 0 = C{activated} + C{lifetime}.
    """

    tunnelId: str
    keyExchangeRule: str
    localAddress: str
    remoteAddress: str
    state: SaState = SaState.ACTIVE
    ikeVersion: int = 2
    role: IkeRole = IkeRole.INITIATOR
    localNat: bool = False
    remoteNat: bool = False
    activated: int = 0
    lifetime: int = 0
    keyExchangeAction: str = ""
    localSpi: bytes = b""
    remoteSpi: bytes = b""
    localPort: int = 0
    remotePort: int = 0
    encryption: int = 0
    keyLength: int = 0
    integrity: int = 0
    prf: int = 0
    dhGroup: int = 0
    localAuthMethod: int = 0
    remoteAuthMethod: int = 0
    localIdType: int = 0
    localId: str = ""
    remoteIdType: int = 0
    remoteId: str = ""
    refresh: int = 0
    expires: int = 0

    @property
    def name(self) -> str:
        """The name a control request may give: the KeyExchangeRule."""
        return self.keyExchangeRule


@dataclass
class DynamicTunnel:
    """
    One dynamic tunnel (IPsec SA pair negotiated by IKE) of a stack.

    The SA fields describe its newest SA pair and have defaults meaning
    "no SA yet", as for a tunnel still C{PENDING}.  Transforms are IANA's
    numbers, as for L{IkeTunnel}; times are seconds since the epoch, 0 =
    n/a.  Whether NAT was seen is the IKE tunnel's to say, and the report
    takes it from there.

    @ivar localDynVpnRule: the LocalDynVpnRule it was activated from;
        empty when the peer started it.
    @ivar ikeTunnelId: the IKE tunnel that negotiated it.
    @ivar inboundSpi: the SPI of the inbound SA (ours, which the peer
        sends with), 4 octets; C{b""} while there is none.
    @ivar outboundSpi: the SPI of the outbound SA (the peer's).
    @ivar protocol: ESP (all iked negotiates) or AH; None = n/a.
    @ivar mode: tunnel or transport; None = n/a.
    @ivar keyLength: the encryption key's bits.
    @ivar integrity: 0 = none, as with AES-GCM.
    @ivar pfsGroup: the DH group of the CREATE_CHILD_SA exchange that made
        the SA; 0 = none (never one for the SA of IKE_AUTH).
    @ivar localSelector: the traffic selector of our side (the first, when
        IKEv2 narrowed to several); None = n/a.
    @ivar udpEncapsulation: ESP in UDP (RFC 3948); C{localUdpPort} and
        C{remoteUdpPort} are its ports, 0 without it.
    @ivar outboundPackets: counters of the SA pair; 0 until the engine
        counts.
    @ivar refresh: when the engine will rekey it.
    @ivar expires: when it ends; 0 = C{activated} + C{lifetime}.
    """

    tunnelId: str
    localDynVpnRule: str
    vpnAction: str
    ikeTunnelId: str = ""
    localAddress: str = ""
    remoteAddress: str = ""
    state: SaState = SaState.ACTIVE
    activated: int = 0
    lifetime: int = 0
    inboundSpi: bytes = b""
    outboundSpi: bytes = b""
    protocol: IpsecProtocol | None = None
    mode: EncapMode | None = None
    encryption: int = 0
    keyLength: int = 0
    integrity: int = 0
    pfsGroup: int = 0
    localSelector: TunnelSelector | None = None
    remoteSelector: TunnelSelector | None = None
    udpEncapsulation: bool = False
    localUdpPort: int = 0
    remoteUdpPort: int = 0
    outboundPackets: int = 0
    outboundBytes: int = 0
    inboundPackets: int = 0
    inboundBytes: int = 0
    refresh: int = 0
    expires: int = 0

    @property
    def name(self) -> str:
        """The name a control request may give: the LocalDynVpnRule."""
        return self.localDynVpnRule


@dataclass
class ManualTunnel:
    """One manual tunnel of a stack: ACTIVE or INACTIVE."""

    tunnelId: str
    vpnAction: str
    localAddress: str = ""
    remoteAddress: str = ""
    state: SaState = SaState.INACTIVE
    activated: int = 0

    @property
    def name(self) -> str:
        """The name a control request may give: the IpManVpnAction."""
        return self.vpnAction


Tunnel = IkeTunnel | DynamicTunnel | ManualTunnel
Action = Callable[[Tunnel], TunnelStatus]


@dataclass(frozen=True)
class TunnelOutcome:
    """
    What a control operation did to one tunnel, or that it found none.

    @ivar name: the tunnel's rule or action name, or the name asked for.
    @ivar tunnelId: the tunnel's ID, or the ID asked for.
    """

    name: str
    tunnelId: str
    status: TunnelStatus


def _activate(tunnel: Tunnel) -> TunnelStatus:
    if tunnel.state == SaState.ACTIVE:
        return TunnelStatus.STATEALREADYSET
    tunnel.state = SaState.ACTIVE
    return TunnelStatus.STATEUPDATED


def _deactivate(tunnel: Tunnel) -> TunnelStatus:
    if tunnel.state == SaState.INACTIVE:
        return TunnelStatus.STATEALREADYSET
    tunnel.state = SaState.INACTIVE
    return TunnelStatus.STATEUPDATED


def _refresh(tunnel: Tunnel) -> TunnelStatus:
    if tunnel.state != SaState.ACTIVE:
        return TunnelStatus.STATEALREADYSET
    return TunnelStatus.STATEUPDATED


def bookkeeping() -> TunnelHooks:
    """The default actions: state bookkeeping only (see the module)."""
    return TunnelHooks()


@dataclass
class TunnelHooks:
    """
    The actions of the control operations, one callable per operation,
    each taking the tunnel and returning the status for the reply.  The
    IKE engine replaces them; the defaults keep the books only.
    """

    deactivateIke: Action = _deactivate
    refreshIke: Action = _refresh
    activateDynamic: Action = _activate
    deactivateDynamic: Action = _deactivate
    refreshDynamic: Action = _refresh
    activateManual: Action = _activate
    deactivateManual: Action = _deactivate
    activateRule: Callable[[str], TunnelStatus] | None = None
    """
    Start a dynamic tunnel for a LocalDynVpnRule that has none yet
    (C{ipsec -y activate} by rule name); the IKE engine provides it.
    """


@dataclass
class StackTunnels:
    """
    The tunnel tables of one stack, in the order tunnels were added.
    """

    hooks: TunnelHooks = field(default_factory=TunnelHooks)
    _ike: dict[str, IkeTunnel] = field(default_factory=dict)
    _dynamic: dict[str, DynamicTunnel] = field(default_factory=dict)
    _manual: dict[str, ManualTunnel] = field(default_factory=dict)
    _numbers: dict[str, Iterator[int]] = field(
        default_factory=lambda: {p: itertools.count(1) for p in "KYM"}
    )

    def _allocate(self, prefix: str) -> str:
        return f"{prefix}{next(self._numbers[prefix])}"

    def add_ike(
        self,
        keyExchangeRule: str,
        localAddress: str,
        remoteAddress: str,
        **values: object,
    ) -> IkeTunnel:
        """
        Add an IKE tunnel under a new ID (C{K<n>}).

        @param values: the other fields of L{IkeTunnel}.
        """
        tunnel = IkeTunnel(
            self._allocate("K"),
            keyExchangeRule,
            localAddress,
            remoteAddress,
            **values,  # type: ignore[arg-type]
        )
        self._ike[tunnel.tunnelId.upper()] = tunnel
        return tunnel

    def add_dynamic(
        self, localDynVpnRule: str, vpnAction: str, **values: object
    ) -> DynamicTunnel:
        """Add a dynamic tunnel under a new ID (C{Y<n>})."""
        tunnel = DynamicTunnel(
            self._allocate("Y"),
            localDynVpnRule,
            vpnAction,
            **values,  # type: ignore[arg-type]
        )
        self._dynamic[tunnel.tunnelId.upper()] = tunnel
        return tunnel

    def add_manual(self, vpnAction: str, **values: object) -> ManualTunnel:
        """Add a manual tunnel under a new ID (C{M<n>})."""
        tunnel = ManualTunnel(
            self._allocate("M"),
            vpnAction,
            **values,  # type: ignore[arg-type]
        )
        self._manual[tunnel.tunnelId.upper()] = tunnel
        return tunnel

    def _table(self, tunnelId: str) -> dict[str, Tunnel] | None:
        tables: dict[str, dict[str, Tunnel]] = {
            "K": self._ike,  # type: ignore[dict-item]
            "Y": self._dynamic,  # type: ignore[dict-item]
            "M": self._manual,  # type: ignore[dict-item]
        }
        return tables.get(tunnelId[:1].upper())

    def lookup(self, tunnelId: str) -> Tunnel | None:
        """The tunnel with this ID, whatever its kind, or None."""
        table = self._table(tunnelId)
        return None if table is None else table.get(tunnelId.upper())

    def remove(self, tunnelId: str) -> Tunnel | None:
        """Remove the tunnel with this ID; it, or None when there is none."""
        table = self._table(tunnelId)
        return None if table is None else table.pop(tunnelId.upper(), None)

    def ike_tunnels(self) -> list[IkeTunnel]:
        """The IKE tunnels."""
        return list(self._ike.values())

    def dynamic_tunnels(self) -> list[DynamicTunnel]:
        """The dynamic tunnels."""
        return list(self._dynamic.values())

    def manual_tunnels(self) -> list[ManualTunnel]:
        """The manual tunnels."""
        return list(self._manual.values())

    def by_rule(self, name: str) -> list[Tunnel]:
        """
        Every tunnel whose name (KeyExchangeRule, LocalDynVpnRule or
        IpManVpnAction) is C{name}.
        """
        every: list[Tunnel] = [
            *self._ike.values(),
            *self._dynamic.values(),
            *self._manual.values(),
        ]
        return [t for t in every if t.name == name]

    @staticmethod
    def _matching(tunnels: list[Tunnel], name: str, tunnelId: str) -> list[Tunnel]:
        if not name and not tunnelId:
            raise ValueError("a control entry names a tunnel or a rule")
        return [
            t
            for t in tunnels
            if (not name or t.name == name)
            and (not tunnelId or t.tunnelId.upper() == tunnelId.upper())
        ]

    def _control(
        self, tunnels: list[Tunnel], action: Action, name: str, tunnelId: str
    ) -> list[TunnelOutcome]:
        matched = self._matching(tunnels, name, tunnelId)
        if not matched:
            return [TunnelOutcome(name, tunnelId, TunnelStatus.NOTFOUND)]
        return [TunnelOutcome(t.name, t.tunnelId, action(t)) for t in matched]

    def deactivate_ike(self, name: str = "", tunnelId: str = "") -> list[TunnelOutcome]:
        """
        Deactivate the IKE tunnels of KeyExchangeRule C{name} and/or ID
        C{tunnelId}.

        @raise ValueError: neither is given.
        """
        return self._control(
            list(self._ike.values()), self.hooks.deactivateIke, name, tunnelId
        )

    def refresh_ike(self, name: str = "", tunnelId: str = "") -> list[TunnelOutcome]:
        """Refresh IKE tunnels, selected as L{deactivate_ike} selects."""
        return self._control(
            list(self._ike.values()), self.hooks.refreshIke, name, tunnelId
        )

    def activate_dynamic(
        self, name: str = "", tunnelId: str = ""
    ) -> list[TunnelOutcome]:
        """
        Activate the dynamic tunnels of LocalDynVpnRule C{name} and/or ID
        C{tunnelId}.  A rule without a tunnel yet is NOTFOUND until the IKE
        engine can start one.
        """
        tunnels: list[Tunnel] = list(self._dynamic.values())
        if (
            name
            and not tunnelId
            and self.hooks.activateRule is not None
            and not self._matching(tunnels, name, tunnelId)
        ):
            return [TunnelOutcome(name, "", self.hooks.activateRule(name))]
        return self._control(tunnels, self.hooks.activateDynamic, name, tunnelId)

    def deactivate_dynamic(
        self, name: str = "", tunnelId: str = ""
    ) -> list[TunnelOutcome]:
        """Deactivate dynamic tunnels, selected as L{activate_dynamic} selects."""
        return self._control(
            list(self._dynamic.values()), self.hooks.deactivateDynamic, name, tunnelId
        )

    def refresh_dynamic(
        self, name: str = "", tunnelId: str = ""
    ) -> list[TunnelOutcome]:
        """Refresh dynamic tunnels, selected as L{activate_dynamic} selects."""
        return self._control(
            list(self._dynamic.values()), self.hooks.refreshDynamic, name, tunnelId
        )

    def activate_manual(
        self, name: str = "", tunnelId: str = ""
    ) -> list[TunnelOutcome]:
        """Activate the manual tunnels of IpManVpnAction C{name} and/or ID."""
        return self._control(
            list(self._manual.values()), self.hooks.activateManual, name, tunnelId
        )

    def deactivate_manual(
        self, name: str = "", tunnelId: str = ""
    ) -> list[TunnelOutcome]:
        """Deactivate manual tunnels, selected as L{activate_manual} selects."""
        return self._control(
            list(self._manual.values()), self.hooks.deactivateManual, name, tunnelId
        )
