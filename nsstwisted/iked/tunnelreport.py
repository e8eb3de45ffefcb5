"""
The bridge between a stack's tunnel tables and the NMI tunnel records:
what iked answers to C{ipsec -k}, C{-y} and C{-m}, locally and through
nssd.

Display requests (GET_IKETUN, GET_IKETUNCASCADE, GET_IPTUNDYNIKE,
GET_IPTUNDYNSTACK, GET_IPTUNMANUAL) carry no records.  Control requests
(40 to 46) carry one NMsecTunnel record per tunnel or rule they name; the
reply carries one entry per tunnel acted on, or one NOTFOUND entry for a
record that matched nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from nsstwisted.iked.tunnels import (
    DynamicTunnel,
    IkeTunnel,
    ManualTunnel,
    StackTunnels,
    TunnelOutcome,
)
from nsstwisted.wire import filters as control
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType
from nsstwisted.wire.tunnels import (
    TUNNEL_DISPLAY_REQUESTS,
    IkeTunnelInfo,
    IpTunnelInfo,
    IpTunnelType,
    SaState,
    encode_tunnel_reply,
)

__all__ = [
    "TUNNEL_CONTROL_REQUESTS",
    "TUNNEL_REQUESTS",
    "answer_tunnel_request",
    "dynamic_record",
    "ike_record",
    "manual_record",
]

_T = NmiMessageType

_CONTROLS: dict[
    NmiMessageType, Callable[[StackTunnels], Callable[..., list[TunnelOutcome]]]
] = {
    _T.DEACTIVATE_IKETUN: lambda s: s.deactivate_ike,
    _T.REFRESH_IKETUN: lambda s: s.refresh_ike,
    _T.ACTIVATE_IPTUNDYN: lambda s: s.activate_dynamic,
    _T.DEACTIVATE_IPTUNDYN: lambda s: s.deactivate_dynamic,
    _T.REFRESH_IPTUNDYN: lambda s: s.refresh_dynamic,
    _T.ACTIVATE_IPTUNMANUAL: lambda s: s.activate_manual,
    _T.DEACTIVATE_IPTUNMANUAL: lambda s: s.deactivate_manual,
}

TUNNEL_CONTROL_REQUESTS = frozenset(_CONTROLS)
"""The seven tunnel control requests."""

TUNNEL_REQUESTS = TUNNEL_DISPLAY_REQUESTS | TUNNEL_CONTROL_REQUESTS
"""Every request L{answer_tunnel_request} answers."""


def ike_record(tunnel: IkeTunnel) -> IkeTunnelInfo:
    """One IKE tunnel as the wire carries it."""
    return IkeTunnelInfo(
        tunnel.tunnelId,
        tunnel.keyExchangeRule,
        tunnel.localAddress,
        tunnel.remoteAddress,
        state=tunnel.state,
        ikeVersion=tunnel.ikeVersion,
        role=tunnel.role,
        localNat=tunnel.localNat,
        remoteNat=tunnel.remoteNat,
        activated=tunnel.activated,
        lifetime=tunnel.lifetime,
    )


def dynamic_record(tunnel: DynamicTunnel, kind: IpTunnelType) -> IpTunnelInfo:
    """One dynamic tunnel, as IKE or the stack knows it."""
    return IpTunnelInfo(
        tunnel.tunnelId,
        tunnel.vpnAction,
        kind,
        state=tunnel.state,
        rule=tunnel.localDynVpnRule,
        ikeTunnelId=tunnel.ikeTunnelId,
        localAddress=tunnel.localAddress,
        remoteAddress=tunnel.remoteAddress,
        activated=tunnel.activated,
        lifetime=tunnel.lifetime,
    )


def manual_record(tunnel: ManualTunnel) -> IpTunnelInfo:
    """One manual tunnel."""
    return IpTunnelInfo(
        tunnel.tunnelId,
        tunnel.vpnAction,
        IpTunnelType.MANUAL,
        state=tunnel.state,
        localAddress=tunnel.localAddress,
        remoteAddress=tunnel.remoteAddress,
        activated=tunnel.activated,
    )


def _display(request: NmiMessage, stackName: str, tunnels: StackTunnels) -> NmiMessage:
    kind = request.messageType
    if kind == _T.GET_IKETUN:
        return encode_tunnel_reply(
            request, stackName, [ike_record(t) for t in tunnels.ike_tunnels()]
        )
    if kind == _T.GET_IKETUNCASCADE:
        ikes = tunnels.ike_tunnels()
        parents = {t.tunnelId for t in ikes}
        under = [
            dynamic_record(t, IpTunnelType.IKE)
            for t in tunnels.dynamic_tunnels()
            if t.ikeTunnelId in parents
        ]
        return encode_tunnel_reply(
            request, stackName, [ike_record(t) for t in ikes], under
        )
    if kind == _T.GET_IPTUNDYNIKE:
        return encode_tunnel_reply(
            request,
            stackName,
            ipTunnels=[
                dynamic_record(t, IpTunnelType.IKE) for t in tunnels.dynamic_tunnels()
            ],
        )
    if kind == _T.GET_IPTUNDYNSTACK:
        # The stack knows only the tunnels whose SAs it was given: the
        # active ones.  IKE also knows those still being negotiated.
        return encode_tunnel_reply(
            request,
            stackName,
            ipTunnels=[
                dynamic_record(t, IpTunnelType.STACK)
                for t in tunnels.dynamic_tunnels()
                if t.state == SaState.ACTIVE
            ],
        )
    return encode_tunnel_reply(
        request,
        stackName,
        ipTunnels=[manual_record(t) for t in tunnels.manual_tunnels()],
    )


def answer_tunnel_request(
    request: NmiMessage, stackName: str, tunnels: StackTunnels
) -> NmiMessage:
    """
    Answer a tunnel display or control request (L{TUNNEL_REQUESTS}) for
    one stack.

    A display request with records, a control request without one, and a
    control entry that names neither a tunnel ID nor a name are refused
    with C{EINVAL} C{NSSRsnBadField}.

    @raise ValueError: C{request} is not one of L{TUNNEL_REQUESTS}.
    """
    kind = request.messageType
    if request.reply or kind not in TUNNEL_REQUESTS:
        raise ValueError(f"{request!r} is not a tunnel request")
    name = NmiMessageType(kind).ibmName
    if kind in TUNNEL_DISPLAY_REQUESTS:
        if request.records:
            return request.refuse(
                ReturnCode.EINVAL, ReasonCode.NSSRsnBadField, f"{name} takes no records"
            )
        return _display(request, stackName, tunnels)
    try:
        entries = control.decode_control_request(request)
    except FieldDecodeError as e:
        return request.refuse(
            ReturnCode.EINVAL, ReasonCode.NSSRsnBadField, f"{name}: {e.detail}"
        )
    if not entries:
        return request.refuse(
            ReturnCode.EINVAL,
            ReasonCode.NSSRsnBadField,
            f"{name} names at least one tunnel in an NMsecTunnel record",
        )
    if any(not e.name and not e.tunnelId for e in entries):
        return request.refuse(
            ReturnCode.EINVAL,
            ReasonCode.NSSRsnBadField,
            f"{name}: an NMsecTunnel record names neither a tunnel ID nor a name",
        )
    operation = _CONTROLS[NmiMessageType(kind)](tunnels)
    outcomes = [o for e in entries for o in operation(e.name, e.tunnelId)]
    return control.encode_control_reply(
        request,
        [control.TunnelControl(o.name, o.tunnelId, o.status) for o in outcomes],
    )
