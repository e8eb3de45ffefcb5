"""
The records of the tunnel display requests: C{NMsec_GET_IKETUN},
C{NMsec_GET_IKETUNCASCADE} (the data of C{ipsec -k display}),
C{NMsec_GET_IPTUNDYNIKE}, C{NMsec_GET_IPTUNDYNSTACK} (C{ipsec -y display})
and C{NMsec_GET_IPTUNMANUAL} (C{ipsec -m display}).

IBM documents the start of its NMsecIPTunnel entry (tunnel ID and VPN
action at offsets 0 and 48, flags at 96, type and state at 100 and 101,
with C{NMsec_IPTUN_MANUAL} 1, C{NMsec_IPTUN_STACK} 2, C{NMsec_IPTUN_IKE} 3
and C{NMsec_SASTATE_INACTIVE} 1) and only the first flag bits of its
NMsecIKETunnel.  Those are kept; the rest of both layouts is ours, made
like L{nsstwisted.wire.filters}: one field for each value the reports
need.  Text is blank-padded ASCII and integers are big-endian.

The control requests of the tunnels (40 to 46) carry NMsecTunnel records;
their codec is L{nsstwisted.wire.filters}' (L{TunnelControl},
L{decode_control_request}, L{encode_control_reply}).

The codec is strict and total: what the encoder refuses with C{ValueError}
the decoder refuses with L{FieldDecodeError}, and the decoder raises
nothing else.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nsstwisted.wire.entries import address_problem, check_unsigned, single_entry
from nsstwisted.wire.fields import FieldDecodeError, FieldValueError, FixedText
from nsstwisted.wire.filters import ADDRESS_SIZE, NAME_PATTERN
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType, NmiRecord, NmiSection
from nsstwisted.wire.nss import STACK_NAME_PATTERN

__all__ = [
    "IKE_TUNNEL_SIZE",
    "IP_TUNNEL_SIZE",
    "TUNNEL_DISPLAY_REQUESTS",
    "TUNNEL_STACK_SIZE",
    "IkeRole",
    "IkeTunnelInfo",
    "IpTunnelInfo",
    "IpTunnelType",
    "SaState",
    "TunnelReport",
    "decode_ike_tunnel",
    "decode_ip_tunnel",
    "decode_tunnel_report",
    "encode_ike_tunnel",
    "encode_ip_tunnel",
    "encode_tunnel_reply",
    "tunnel_from_records",
    "tunnel_records",
]

IKE_TUNNEL_SIZE = 216
"""The bytes of one NMsecIKETunnel entry."""

IP_TUNNEL_SIZE = 312
"""The bytes of one NMsecIPTunnel entry."""

TUNNEL_STACK_SIZE = 8
"""The bytes of the stack record's one entry: the stack name."""

_T = NmiMessageType

TUNNEL_DISPLAY_REQUESTS = frozenset(
    {
        _T.GET_IKETUN,
        _T.GET_IKETUNCASCADE,
        _T.GET_IPTUNDYNIKE,
        _T.GET_IPTUNDYNSTACK,
        _T.GET_IPTUNMANUAL,
    }
)
"""The five display requests whose replies carry tunnel records."""

del _T


class _Texted(enum.IntEnum):
    @property
    def text(self) -> str:
        """What the report shows."""
        return _TEXTS[type(self), int(self)]


class SaState(_Texted):
    """
    A tunnel's state.  1 is IBM's C{NMsec_SASTATE_INACTIVE}; the other
    values are ours.  0 is not a state.
    """

    INACTIVE = 1
    PENDING = 2
    IN_PROGRESS = 3
    ACTIVE = 4
    EXPIRED = 5


class IpTunnelType(_Texted):
    """NMsIPTunType, IBM's values."""

    MANUAL = 1
    STACK = 2
    IKE = 3


class IkeRole(_Texted):
    """Which end started the IKE negotiation.  0 is not a role."""

    INITIATOR = 1
    RESPONDER = 2


_TEXTS: dict[tuple[type, int], str] = {
    (type(member), int(member)): text
    for member, text in [
        (SaState.INACTIVE, "Inactive"),
        (SaState.PENDING, "Pending"),
        (SaState.IN_PROGRESS, "In progress"),
        (SaState.ACTIVE, "Active"),
        (SaState.EXPIRED, "Expired"),
        (IpTunnelType.MANUAL, "Manual"),
        (IpTunnelType.STACK, "Dynamic Stack"),
        (IpTunnelType.IKE, "Dynamic IKE"),
        (IkeRole.INITIATOR, "Initiator"),
        (IkeRole.RESPONDER, "Responder"),
    ]
}

_NAME = FixedText(48, "ascii", NAME_PATTERN)
_STACK_NAME = FixedText(8, "ascii", STACK_NAME_PATTERN)
_ADDRESS = FixedText(ADDRESS_SIZE, "ascii")

# Tunnel ID, KeyExchangeRule, local address, remote address, flags, state,
# IKE version, role, reserved, activated, lifetime, reserved.
_IKE = struct.Struct(">48s48s48s48sIBBBBQI4s")
assert _IKE.size == IKE_TUNNEL_SIZE

# Tunnel ID, VPN action, flags, type, state, reserved (IBM's part), then
# rule, IKE tunnel ID, local address, remote address, activated, lifetime,
# reserved.
_IP = struct.Struct(">48s48sIBB2s48s48s48s48sQI4s")
assert _IP.size == IP_TUNNEL_SIZE

IKE_FLAG_IPV6 = 0x01
IKE_FLAG_LOCAL_NAT = 0x04
IKE_FLAG_REMOTE_NAT = 0x08
_IKE_FLAGS = IKE_FLAG_IPV6 | IKE_FLAG_LOCAL_NAT | IKE_FLAG_REMOTE_NAT

IP_FLAG_IPV6 = 0x01
IP_FLAG_FIPS140 = 0x02
_IP_FLAGS = IP_FLAG_IPV6 | IP_FLAG_FIPS140


def _text(value: object, codec: FixedText, name: str, required: bool) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} {value!r} is not a str")
    try:
        codec.encode(value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    if required and not value:
        raise ValueError(f"{name} is empty")


def _kind(value: object, kind: type[enum.IntEnum], name: str) -> None:
    if not isinstance(value, kind):
        raise ValueError(f"{name} {value!r} is not a {kind.__name__}")


def _addresses(local: object, remote: object, required: bool) -> bool:
    """Check a pair of address fields; whether they are IPv6."""
    versions = []
    for name, value in (("localAddress", local), ("remoteAddress", remote)):
        _text(value, _ADDRESS, name, required)
        assert isinstance(value, str)
        problem = address_problem(value)
        if problem:
            raise ValueError(f"{name}: {problem}")
        if value:
            versions.append(ipaddress.ip_address(value).version)
    if len(versions) == 2 and versions[0] != versions[1]:
        raise ValueError("localAddress and remoteAddress differ in family")
    return 6 in versions


def _bool(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} {value!r} is not a bool")


@dataclass(frozen=True)
class IkeTunnelInfo:
    """
    One IKE tunnel (IKE SA), as C{ipsec -k display} shows it.

    @ivar tunnelId: C{K1}, C{K2}, ...; never empty.
    @ivar keyExchangeRule: the KeyExchangeRule it came from; never empty.
    @ivar localAddress: the local endpoint, IPv4 or IPv6; never empty.
    @ivar remoteAddress: the remote endpoint, of the same family.
    @ivar ikeVersion: 1 or 2.
    @ivar activated: when the tunnel became active, seconds since the
        epoch; 0 = not yet.
    @ivar lifetime: its lifetime in seconds; 0 = n/a.
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

    def __post_init__(self) -> None:
        try:
            _text(self.tunnelId, _NAME, "tunnelId", True)
            _text(self.keyExchangeRule, _NAME, "keyExchangeRule", True)
            _addresses(self.localAddress, self.remoteAddress, True)
            _kind(self.state, SaState, "state")
            _kind(self.role, IkeRole, "role")
            if self.ikeVersion not in (1, 2) or isinstance(self.ikeVersion, bool):
                raise ValueError(f"ikeVersion {self.ikeVersion!r} is not 1 or 2")
            _bool(self.localNat, "localNat")
            _bool(self.remoteNat, "remoteNat")
            check_unsigned(self.activated, 8, "activated")
            check_unsigned(self.lifetime, 4, "lifetime")
        except ValueError as e:
            raise ValueError(f"IkeTunnelInfo {self.tunnelId!r}: {e}") from None

    @property
    def ipv6(self) -> bool:
        """Whether the endpoints are IPv6."""
        return ipaddress.ip_address(self.localAddress).version == 6


@dataclass(frozen=True)
class IpTunnelInfo:
    """
    One manual or dynamic tunnel, as C{ipsec -y display} and
    C{ipsec -m display} show it.

    @ivar tunnelId: C{Y1}, ... for dynamic tunnels, C{M1}, ... for manual
        ones; never empty.
    @ivar vpnAction: the IpDynVpnAction (dynamic) or IpManVpnAction
        (manual) name; never empty.
    @ivar tunnelType: L{IpTunnelType.IKE} or L{IpTunnelType.STACK} for a
        dynamic tunnel as IKE or the stack knows it, L{IpTunnelType.MANUAL}.
    @ivar rule: the LocalDynVpnRule of a dynamic tunnel; empty for a manual
        tunnel, and when the tunnel came from the peer.
    @ivar ikeTunnelId: the IKE tunnel that negotiated a dynamic tunnel;
        empty for a manual tunnel.
    @ivar localAddress: the local endpoint; empty = n/a.
    @ivar remoteAddress: the remote endpoint; empty = n/a.
    """

    tunnelId: str
    vpnAction: str
    tunnelType: IpTunnelType
    state: SaState = SaState.ACTIVE
    rule: str = ""
    ikeTunnelId: str = ""
    localAddress: str = ""
    remoteAddress: str = ""
    activated: int = 0
    lifetime: int = 0
    fips140: bool = False

    def __post_init__(self) -> None:
        try:
            _text(self.tunnelId, _NAME, "tunnelId", True)
            _text(self.vpnAction, _NAME, "vpnAction", True)
            _kind(self.tunnelType, IpTunnelType, "tunnelType")
            _kind(self.state, SaState, "state")
            _text(self.rule, _NAME, "rule", False)
            _text(self.ikeTunnelId, _NAME, "ikeTunnelId", False)
            if self.tunnelType == IpTunnelType.MANUAL and (
                self.rule or self.ikeTunnelId
            ):
                raise ValueError("a manual tunnel has no rule and no IKE tunnel")
            _addresses(self.localAddress, self.remoteAddress, False)
            check_unsigned(self.activated, 8, "activated")
            check_unsigned(self.lifetime, 4, "lifetime")
            _bool(self.fips140, "fips140")
        except ValueError as e:
            raise ValueError(f"IpTunnelInfo {self.tunnelId!r}: {e}") from None

    @property
    def ipv6(self) -> bool:
        """Whether the endpoints are IPv6."""
        address = self.localAddress or self.remoteAddress
        return bool(address) and ipaddress.ip_address(address).version == 6


def encode_ike_tunnel(info: IkeTunnelInfo) -> bytes:
    """
    The NMsecIKETunnel entry of one IKE tunnel (L{IKE_TUNNEL_SIZE} bytes).

    @raise ValueError: C{info} is not an L{IkeTunnelInfo}.
    """
    if not isinstance(info, IkeTunnelInfo):
        raise ValueError(f"{info!r} is not an IkeTunnelInfo")
    flags = IKE_FLAG_IPV6 if info.ipv6 else 0
    flags |= IKE_FLAG_LOCAL_NAT if info.localNat else 0
    flags |= IKE_FLAG_REMOTE_NAT if info.remoteNat else 0
    return _IKE.pack(
        _NAME.encode(info.tunnelId),
        _NAME.encode(info.keyExchangeRule),
        _ADDRESS.encode(info.localAddress),
        _ADDRESS.encode(info.remoteAddress),
        flags,
        int(info.state),
        info.ikeVersion,
        int(info.role),
        0,
        info.activated,
        info.lifetime,
        bytes(4),
    )


def _texts(fields: Sequence[tuple[str, FixedText, bytes]]) -> list[str]:
    texts = []
    for field, codec, raw in fields:
        try:
            texts.append(codec.decode(raw))
        except FieldDecodeError as e:
            raise FieldValueError(f"{field}: {e.detail}") from None
    return texts


def _enum(kind: type[_Texted], raw: int, name: str) -> _Texted:
    try:
        return kind(raw)
    except ValueError:
        raise FieldValueError(f"{name}: {raw} is not a {kind.__name__}") from None


def decode_ike_tunnel(data: bytes) -> IkeTunnelInfo:
    """
    One IKE tunnel from its NMsecIKETunnel entry.

    @raise FieldDecodeError: the bytes break a rule of the layout or of
        L{IkeTunnelInfo}.
    """
    if len(data) != IKE_TUNNEL_SIZE:
        raise FieldValueError(
            f"an NMsecIKETunnel entry is {IKE_TUNNEL_SIZE} bytes, not {len(data)}"
        )
    (tid, rule, local, remote, flags, state, version, role, reserved, activated,
     lifetime, reserved2) = _IKE.unpack(data)  # fmt: skip
    texts = _texts(
        [
            ("NMsIKETunID", _NAME, tid),
            ("NMsIKETunKeyExchangeRule", _NAME, rule),
            ("NMsIKETunLocalAddr", _ADDRESS, local),
            ("NMsIKETunRemoteAddr", _ADDRESS, remote),
        ]
    )
    if reserved or reserved2 != bytes(4):
        raise FieldValueError("NMsecIKETunnel: reserved bytes not zero")
    if flags & ~_IKE_FLAGS:
        raise FieldValueError(
            f"NMsIKETunFlags: bits {flags & ~_IKE_FLAGS:#x} are not defined"
        )
    try:
        info = IkeTunnelInfo(
            texts[0],
            texts[1],
            texts[2],
            texts[3],
            state=SaState(_enum(SaState, state, "NMsIKETunState")),
            ikeVersion=version,
            role=IkeRole(_enum(IkeRole, role, "NMsIKETunRole")),
            localNat=bool(flags & IKE_FLAG_LOCAL_NAT),
            remoteNat=bool(flags & IKE_FLAG_REMOTE_NAT),
            activated=activated,
            lifetime=lifetime,
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None
    if info.ipv6 != bool(flags & IKE_FLAG_IPV6):
        raise FieldValueError("NMsIKETunFlags: the IPv6 bit contradicts the addresses")
    return info


def encode_ip_tunnel(info: IpTunnelInfo) -> bytes:
    """
    The NMsecIPTunnel entry of one tunnel (L{IP_TUNNEL_SIZE} bytes).

    @raise ValueError: C{info} is not an L{IpTunnelInfo}.
    """
    if not isinstance(info, IpTunnelInfo):
        raise ValueError(f"{info!r} is not an IpTunnelInfo")
    flags = IP_FLAG_IPV6 if info.ipv6 else 0
    flags |= IP_FLAG_FIPS140 if info.fips140 else 0
    return _IP.pack(
        _NAME.encode(info.tunnelId),
        _NAME.encode(info.vpnAction),
        flags,
        int(info.tunnelType),
        int(info.state),
        bytes(2),
        _NAME.encode(info.rule),
        _NAME.encode(info.ikeTunnelId),
        _ADDRESS.encode(info.localAddress),
        _ADDRESS.encode(info.remoteAddress),
        info.activated,
        info.lifetime,
        bytes(4),
    )


def decode_ip_tunnel(data: bytes) -> IpTunnelInfo:
    """
    One tunnel from its NMsecIPTunnel entry.

    @raise FieldDecodeError: the bytes break a rule of the layout or of
        L{IpTunnelInfo}.
    """
    if len(data) != IP_TUNNEL_SIZE:
        raise FieldValueError(
            f"an NMsecIPTunnel entry is {IP_TUNNEL_SIZE} bytes, not {len(data)}"
        )
    (tid, action, flags, kind, state, reserved, rule, parent, local, remote,
     activated, lifetime, reserved2) = _IP.unpack(data)  # fmt: skip
    texts = _texts(
        [
            ("NMsIPTunID", _NAME, tid),
            ("NMsIPTunVPNAction", _NAME, action),
            ("NMsIPTunRule", _NAME, rule),
            ("NMsIPTunIKETunID", _NAME, parent),
            ("NMsIPTunLocalAddr", _ADDRESS, local),
            ("NMsIPTunRemoteAddr", _ADDRESS, remote),
        ]
    )
    if reserved != bytes(2) or reserved2 != bytes(4):
        raise FieldValueError("NMsecIPTunnel: reserved bytes not zero")
    if flags & ~_IP_FLAGS:
        raise FieldValueError(
            f"NMsIPTunFlags: bits {flags & ~_IP_FLAGS:#x} are not defined"
        )
    try:
        info = IpTunnelInfo(
            texts[0],
            texts[1],
            IpTunnelType(_enum(IpTunnelType, kind, "NMsIPTunType")),
            state=SaState(_enum(SaState, state, "NMsIPTunState")),
            rule=texts[2],
            ikeTunnelId=texts[3],
            localAddress=texts[4],
            remoteAddress=texts[5],
            activated=activated,
            lifetime=lifetime,
            fips140=bool(flags & IP_FLAG_FIPS140),
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None
    if info.ipv6 != bool(flags & IP_FLAG_IPV6):
        raise FieldValueError("NMsIPTunFlags: the IPv6 bit contradicts the addresses")
    return info


@dataclass(frozen=True)
class TunnelReport:
    """
    Everything a tunnel display reply says.

    @ivar ikeTunnels: the IKE tunnels (GET_IKETUN, GET_IKETUNCASCADE).
    @ivar ipTunnels: the manual or dynamic tunnels (GET_IPTUN...), or, in a
        cascade, the dynamic tunnels under the IKE tunnels, grouped by
        their IKE tunnel in the order of L{ikeTunnels}.
    """

    stackName: str
    ikeTunnels: list[IkeTunnelInfo]
    ipTunnels: list[IpTunnelInfo]


_IP_TYPES = {
    NmiMessageType.GET_IPTUNDYNIKE: IpTunnelType.IKE,
    NmiMessageType.GET_IPTUNDYNSTACK: IpTunnelType.STACK,
    NmiMessageType.GET_IPTUNMANUAL: IpTunnelType.MANUAL,
    NmiMessageType.GET_IKETUNCASCADE: IpTunnelType.IKE,
}

_IKE_REQUESTS = frozenset({NmiMessageType.GET_IKETUN, NmiMessageType.GET_IKETUNCASCADE})


def _ip_problem(messageType: int, tunnel: IpTunnelInfo) -> str | None:
    wanted = _IP_TYPES[NmiMessageType(messageType)]
    if tunnel.tunnelType != wanted:
        return (
            f"tunnel {tunnel.tunnelId} is of type {tunnel.tunnelType.name}, "
            f"not the {wanted.name} that {NmiMessageType(messageType).ibmName} "
            "lists"
        )
    return None


def tunnel_records(
    messageType: NmiMessageType,
    stackName: str,
    ikeTunnels: Iterable[IkeTunnelInfo] = (),
    ipTunnels: Iterable[IpTunnelInfo] = (),
) -> tuple[NmiRecord, ...]:
    """
    The records of a tunnel display reply: the stack record, then one
    record per tunnel.

      - GET_IKETUN: one section with the IKE tunnel's entry; no
        C{ipTunnels}.
      - GET_IKETUNCASCADE: two sections, the IKE tunnel's entry and the
        entries of the dynamic tunnels (type IKE) it negotiated, which may
        be none.  Every dynamic tunnel names an IKE tunnel of the reply.
      - GET_IPTUNDYNIKE, GET_IPTUNDYNSTACK, GET_IPTUNMANUAL: one section
        with the tunnel's entry, of the type the request lists; no
        C{ikeTunnels}.

    @raise ValueError: the data breaks one of those rules.
    """
    if messageType not in TUNNEL_DISPLAY_REQUESTS:
        raise ValueError(f"{messageType!r} is not a tunnel display request")
    _text(stackName, _STACK_NAME, "stack name", True)
    ikes = list(ikeTunnels)
    ips = list(ipTunnels)
    ikeEntries = [encode_ike_tunnel(t) for t in ikes]
    ipEntries = [encode_ip_tunnel(t) for t in ips]
    stack = NmiRecord((NmiSection(1, _STACK_NAME.encode(stackName)),))
    if messageType == NmiMessageType.GET_IKETUN:
        if ips:
            raise ValueError("GET_IKETUN lists no dynamic tunnels")
        return (stack, *(NmiRecord((NmiSection(1, e),)) for e in ikeEntries))
    for tunnel in ips:
        problem = _ip_problem(messageType, tunnel)
        if problem:
            raise ValueError(problem)
    if messageType != NmiMessageType.GET_IKETUNCASCADE:
        if ikes:
            raise ValueError(f"{messageType.ibmName} lists no IKE tunnels")
        return (stack, *(NmiRecord((NmiSection(1, e),)) for e in ipEntries))
    known = {t.tunnelId for t in ikes}
    if len(known) != len(ikes):
        raise ValueError("a cascade lists each IKE tunnel once")
    for tunnel in ips:
        if tunnel.ikeTunnelId not in known:
            raise ValueError(
                f"dynamic tunnel {tunnel.tunnelId} names IKE tunnel "
                f"{tunnel.ikeTunnelId!r}, which the cascade does not list"
            )
    records = [stack]
    for ike, entry in zip(ikes, ikeEntries, strict=True):
        under = [
            e
            for t, e in zip(ips, ipEntries, strict=True)
            if t.ikeTunnelId == ike.tunnelId
        ]
        records.append(
            NmiRecord((NmiSection(1, entry), NmiSection(len(under), b"".join(under))))
        )
    return tuple(records)


def _entries(section: NmiSection, size: int, where: str) -> list[bytes]:
    if len(section.data) != size * section.entries:
        raise FieldValueError(
            f"{where} holds {section.entries} entries of {size} bytes, not "
            f"{len(section.data)} bytes"
        )
    return [section.data[i : i + size] for i in range(0, len(section.data), size)]


def tunnel_from_records(
    messageType: NmiMessageType, records: Sequence[NmiRecord]
) -> TunnelReport:
    """
    What the records of a tunnel display reply say.

    @raise FieldDecodeError: the records break a rule of L{tunnel_records}.
    """
    if messageType not in TUNNEL_DISPLAY_REQUESTS:
        raise FieldValueError(f"{messageType!r} is not a tunnel display request")
    if not records:
        raise FieldValueError("the stack record is missing")
    raw = single_entry(records[0], TUNNEL_STACK_SIZE, "the stack record")
    [stackName] = _texts([("NMsTunStackName", _STACK_NAME, raw)])
    if not stackName:
        raise FieldValueError("NMsTunStackName is blank")
    ikes: list[IkeTunnelInfo] = []
    ips: list[IpTunnelInfo] = []
    for index, record in enumerate(records[1:], 1):
        where = f"tunnel record {index}"
        try:
            if messageType in _IKE_REQUESTS:
                cascade = messageType == NmiMessageType.GET_IKETUNCASCADE
                if len(record.sections) != 1 + cascade:
                    raise FieldValueError(
                        f"has {1 + cascade} sections, not {len(record.sections)}"
                    )
                first = NmiRecord(record.sections[:1])
                ike = decode_ike_tunnel(single_entry(first, IKE_TUNNEL_SIZE, where))
                ikes.append(ike)
                if cascade:
                    for entry in _entries(
                        record.sections[1], IP_TUNNEL_SIZE, "its second section"
                    ):
                        tunnel = decode_ip_tunnel(entry)
                        problem = _ip_problem(messageType, tunnel)
                        if tunnel.ikeTunnelId != ike.tunnelId:
                            problem = (
                                f"dynamic tunnel {tunnel.tunnelId} is under "
                                f"{ike.tunnelId}, but names {tunnel.ikeTunnelId!r}"
                            )
                        if problem:
                            raise FieldValueError(problem)
                        ips.append(tunnel)
            else:
                tunnel = decode_ip_tunnel(single_entry(record, IP_TUNNEL_SIZE, where))
                problem = _ip_problem(messageType, tunnel)
                if problem:
                    raise FieldValueError(problem)
                ips.append(tunnel)
        except FieldDecodeError as e:
            raise FieldValueError(f"{where}: {e.detail}") from None
    if len({t.tunnelId for t in ikes}) != len(ikes):
        raise FieldValueError("an IKE tunnel is listed twice")
    return TunnelReport(stackName, ikes, ips)


def encode_tunnel_reply(
    request: NmiMessage,
    stackName: str,
    ikeTunnels: Iterable[IkeTunnelInfo] = (),
    ipTunnels: Iterable[IpTunnelInfo] = (),
) -> NmiMessage:
    """
    The successful reply to a tunnel display request.

    @raise ValueError: C{request} is not a tunnel display request, or
        L{tunnel_records} refuses the data.
    """
    if request.messageType not in TUNNEL_DISPLAY_REQUESTS or request.reply:
        raise ValueError(f"{request!r} is not a tunnel display request")
    return request.answer(
        tunnel_records(
            NmiMessageType(request.messageType), stackName, ikeTunnels, ipTunnels
        )
    )


def decode_tunnel_report(message: NmiMessage) -> TunnelReport:
    """
    Everything a successful tunnel display reply says.

    @raise ValueError: C{message} is not a successful tunnel display reply
        (the caller checks the codes first).
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    if (
        message.messageType not in TUNNEL_DISPLAY_REQUESTS
        or not message.reply
        or not message.ok
    ):
        raise ValueError(f"{message!r} is not a successful tunnel display reply")
    return tunnel_from_records(NmiMessageType(message.messageType), message.records)
