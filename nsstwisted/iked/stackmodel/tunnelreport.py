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

from collections import Counter
from collections.abc import Callable

from nsstwisted.iked.stackmodel.tunnels import (
    DynamicTunnel,
    IkeTunnel,
    ManualTunnel,
    StackTunnels,
    TunnelOutcome,
)
from nsstwisted.wire import filters as control
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.fields import FieldDecodeError, has_control_character
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType
from nsstwisted.wire.tunnels import (
    IDENTITY_SIZE,
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


def _spi(value: bytes, size: int, name: str) -> int:
    """An SPI as the record's number; C{b""} (none yet) is 0."""
    if not isinstance(value, bytes) or len(value) not in (0, size):
        raise ValueError(f"{name} {value!r} is not {size} octets")
    return int.from_bytes(value, "big")


_ELLIPSIS = "..."


def _identity(text: str) -> str:
    """
    An identity as the record can carry it: control characters (which
    the record refuses, so that a peer's DN cannot fake a report line)
    shown as C{?}, and what does not fit L{IDENTITY_SIZE} bytes shortened
    with an ellipsis, as IBM shortens a long ID in its report.
    """
    shown = "".join("?" if has_control_character(c) else c for c in text).rstrip(" ")
    raw = shown.encode("utf-8")
    if len(raw) <= IDENTITY_SIZE:
        return shown
    room = IDENTITY_SIZE - len(_ELLIPSIS)
    return raw[:room].decode("utf-8", "ignore").rstrip(" ") + _ELLIPSIS


def ike_record(tunnel: IkeTunnel, dynamicTunnels: int = 0) -> IkeTunnelInfo:
    """
    One IKE tunnel as the wire carries it.

    @param dynamicTunnels: how many dynamic tunnels name it, which the
        stack's tables know and the tunnel does not.
    @raise ValueError: an SPI is not 8 octets, or a value does not fit
        its field (an engine bug, better seen than reported wrongly).
    """
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
        keyExchangeAction=tunnel.keyExchangeAction,
        localSpi=_spi(tunnel.localSpi, 8, "localSpi"),
        remoteSpi=_spi(tunnel.remoteSpi, 8, "remoteSpi"),
        localPort=tunnel.localPort,
        remotePort=tunnel.remotePort,
        encryption=int(tunnel.encryption),
        keyLength=tunnel.keyLength,
        integrity=int(tunnel.integrity),
        prf=int(tunnel.prf),
        dhGroup=int(tunnel.dhGroup),
        localAuthMethod=int(tunnel.localAuthMethod),
        remoteAuthMethod=int(tunnel.remoteAuthMethod),
        localIdType=int(tunnel.localIdType),
        localId=_identity(tunnel.localId),
        remoteIdType=int(tunnel.remoteIdType),
        remoteId=_identity(tunnel.remoteId),
        refresh=tunnel.refresh,
        expires=tunnel.expires,
        dynamicTunnels=dynamicTunnels,
    )


def dynamic_record(
    tunnel: DynamicTunnel, kind: IpTunnelType, ike: IkeTunnel | None = None
) -> IpTunnelInfo:
    """
    One dynamic tunnel, as IKE or the stack knows it.

    @param ike: its IKE tunnel, which says whether NAT was seen; None
        when the tables no longer hold it.
    @raise ValueError: an SPI is not 4 octets, or a value does not fit
        its field.
    """
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
        inboundSpi=_spi(tunnel.inboundSpi, 4, "inboundSpi"),
        outboundSpi=_spi(tunnel.outboundSpi, 4, "outboundSpi"),
        protocol=tunnel.protocol,
        mode=tunnel.mode,
        encryption=int(tunnel.encryption),
        keyLength=tunnel.keyLength,
        integrity=int(tunnel.integrity),
        pfsGroup=int(tunnel.pfsGroup),
        localSelector=tunnel.localSelector,
        remoteSelector=tunnel.remoteSelector,
        udpEncapsulation=tunnel.udpEncapsulation,
        localUdpPort=tunnel.localUdpPort,
        remoteUdpPort=tunnel.remoteUdpPort,
        localNat=ike is not None and ike.localNat,
        remoteNat=ike is not None and ike.remoteNat,
        outboundPackets=tunnel.outboundPackets,
        outboundBytes=tunnel.outboundBytes,
        inboundPackets=tunnel.inboundPackets,
        inboundBytes=tunnel.inboundBytes,
        refresh=tunnel.refresh,
        expires=tunnel.expires,
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
    ikes = tunnels.ike_tunnels()
    dynamics = tunnels.dynamic_tunnels()
    parents = {t.tunnelId: t for t in ikes}
    counts = Counter(t.ikeTunnelId for t in dynamics)

    def dynamic(tunnel: DynamicTunnel, kind: IpTunnelType) -> IpTunnelInfo:
        return dynamic_record(tunnel, kind, parents.get(tunnel.ikeTunnelId))

    if kind in (_T.GET_IKETUN, _T.GET_IKETUNCASCADE):
        records = [ike_record(t, counts[t.tunnelId]) for t in ikes]
        if kind == _T.GET_IKETUN:
            return encode_tunnel_reply(request, stackName, records)
        under = [
            dynamic(t, IpTunnelType.IKE) for t in dynamics if t.ikeTunnelId in parents
        ]
        return encode_tunnel_reply(request, stackName, records, under)
    if kind == _T.GET_IPTUNDYNIKE:
        return encode_tunnel_reply(
            request,
            stackName,
            ipTunnels=[dynamic(t, IpTunnelType.IKE) for t in dynamics],
        )
    if kind == _T.GET_IPTUNDYNSTACK:
        # The stack knows only the tunnels whose SAs it was given: the
        # active ones.  IKE also knows those still being negotiated.
        return encode_tunnel_reply(
            request,
            stackName,
            ipTunnels=[
                dynamic(t, IpTunnelType.STACK)
                for t in dynamics
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
