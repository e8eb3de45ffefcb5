"""
The stack model's view of the engine's SAs: the values of an
L{IkeTunnel} or L{DynamicTunnel} for an L{IkeSa} or L{ChildSa}, which
C{ipsec -k display} and C{-y display} show.
"""

from __future__ import annotations

from typing import Any

from nsstwisted.ike.identity import describe_id
from nsstwisted.ike.policy import TunnelMode
from nsstwisted.ike.sa import ChildSa, IkeSa
from nsstwisted.wire.tunnels import (
    EncapMode,
    IkeRole,
    IpsecProtocol,
    SaState,
    TunnelSelector,
)

__all__ = ["child_values", "ike_values"]


def _refresh(now: int, rekeyAt: float | None, establishedAt: float) -> int:
    """
    The wall-clock time of the engine's refresh (rekey), which precedes
    the expiry (L{nsstwisted.ike.lifetimes}); 0 when it never rekeys.  The
    values are taken as the SA is established, so its refresh is that far
    from now on the engine's clock.
    """
    if rekeyAt is None:
        return 0
    return now + max(0, round(rekeyAt - establishedAt))


def ike_values(sa: IkeSa, wallClock: float) -> dict[str, Any]:
    """The L{IkeTunnel} fields for C{sa} (C{wallClock}: seconds since the epoch)."""
    suite = sa.suite
    lifetime = sa.policy.lifetime
    now = int(wallClock)
    values: dict[str, Any] = {
        "state": SaState.ACTIVE,
        "role": IkeRole.INITIATOR if sa.originalInitiator else IkeRole.RESPONDER,
        "localNat": sa.localNat,
        "remoteNat": sa.remoteNat,
        "activated": now,
        "lifetime": lifetime,
        "keyExchangeAction": sa.policy.action,
        "localSpi": sa.localSpi,
        "remoteSpi": sa.remoteSpi,
        "localPort": sa.local[1],
        "remotePort": sa.remote[1],
        "localAuthMethod": int(sa.authMethod),
        "remoteAuthMethod": int(sa.authMethod),
        "localIdType": int(sa.policy.localIdentity.idType),
        "localId": sa.policy.localIdentity.value,
        "refresh": _refresh(now, sa.rekeyAt, sa.establishedAt),
        "expires": 0,
    }
    if suite is not None:
        values.update(
            encryption=int(suite.encrId),
            keyLength=suite.keyBits,
            integrity=int(suite.integId),
            prf=int(suite.prfId),
            dhGroup=int(suite.dhId),
        )
    if sa.peerId is not None:
        values["remoteIdType"] = int(sa.peerId.idType)
        values["remoteId"] = describe_id(sa.peerId.idType, sa.peerId.data)
    return values


def _selector(child: ChildSa, local: bool) -> TunnelSelector | None:
    selectors = child.localSelectors if local else child.remoteSelectors
    if not selectors:
        return None
    first = selectors[0]
    return TunnelSelector(
        str(first.start), str(first.end), first.protocol, first.startPort, first.endPort
    )


def child_values(child: ChildSa, wallClock: float) -> dict[str, Any]:
    """The L{DynamicTunnel} fields for C{child}."""
    sa = child.ikeSa
    suite = child.suite
    lifetime = child.policy.lifetime if child.policy else 0
    now = int(wallClock)
    encapsulated = sa.localNat or sa.remoteNat
    values: dict[str, Any] = {
        "ikeTunnelId": sa.tunnelId,
        "localAddress": sa.local[0],
        "remoteAddress": sa.remote[0],
        "state": SaState.ACTIVE,
        "activated": now,
        "lifetime": lifetime,
        "inboundSpi": child.spiIn,
        "outboundSpi": child.spiOut,
        "protocol": IpsecProtocol.ESP,
        "mode": EncapMode.TRANSPORT
        if child.mode == TunnelMode.TRANSPORT
        else EncapMode.TUNNEL,
        "pfsGroup": child.dhGroup,
        "localSelector": _selector(child, True),
        "remoteSelector": _selector(child, False),
        "udpEncapsulation": encapsulated,
        "localUdpPort": sa.local[1] if encapsulated else 0,
        "remoteUdpPort": sa.remote[1] if encapsulated else 0,
        "refresh": _refresh(now, child.rekeyAt, child.establishedAt),
        "expires": 0,
    }
    if suite is not None:
        values.update(
            encryption=int(suite.encrId),
            keyLength=suite.keyBits,
            integrity=int(suite.integId),
        )
    return values
