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
need.  Text is blank-padded ASCII (identities: UTF-8) and integers are
big-endian.

The records carry what an IKEv2 SA really has: SPIs, the negotiated
transforms, identities, traffic selectors, UDP encapsulation, counters
and refresh times.  Algorithms, authentication methods and identity types
travel as their IANA "IKEv2 Parameters" numbers, so that this codec (which
imports nothing but the standard library) need not know them all and a
newer peer's transform still round-trips; the report names them.  IBM's
layouts carry no version, so the ones that added these fields are new
layouts of new sizes rather than versions of the old ones (docs/nmi.md
section 16).

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
from typing import TypeVar

from nsstwisted.wire.entries import address_problem, check_unsigned, single_entry
from nsstwisted.wire.fields import FieldDecodeError, FieldValueError, FixedText
from nsstwisted.wire.filters import ADDRESS_SIZE, NAME_PATTERN
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType, NmiRecord, NmiSection
from nsstwisted.wire.nss import STACK_NAME_PATTERN

__all__ = [
    "IDENTITY_SIZE",
    "IKE_TUNNEL_SIZE",
    "IP_TUNNEL_SIZE",
    "TUNNEL_DISPLAY_REQUESTS",
    "TUNNEL_STACK_SIZE",
    "EncapMode",
    "IkeRole",
    "IkeTunnelInfo",
    "IpTunnelInfo",
    "IpTunnelType",
    "IpsecProtocol",
    "SaState",
    "TunnelReport",
    "TunnelSelector",
    "decode_ike_tunnel",
    "decode_ip_tunnel",
    "decode_tunnel_report",
    "encode_ike_tunnel",
    "encode_ip_tunnel",
    "encode_tunnel_reply",
    "tunnel_from_records",
    "tunnel_records",
]

IKE_TUNNEL_SIZE = 832
"""The bytes of one NMsecIKETunnel entry."""

IP_TUNNEL_SIZE = 592
"""The bytes of one NMsecIPTunnel entry."""

TUNNEL_STACK_SIZE = 8
"""The bytes of the stack record's one entry: the stack name."""

IDENTITY_SIZE = 256
"""
The bytes of an IKE identity's text (UTF-8).  A distinguished name can be
longer; iked shortens what does not fit (L{nsstwisted.iked.stackmodel.tunnelreport}).
"""

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
    values are ours, with the names IBM's reports show.  0 is not a state.

    An IKE negotiation goes C{PENDING} (waiting for something it needs,
    such as the IKE tunnel a dynamic tunnel rides on), C{IN_PROGRESS},
    then C{ACTIVE}; a rekeyed SA that is kept until it is deleted is
    C{EXPIRED}, and a negotiation that stopped without an SA (refused,
    timed out) is C{INCOMPLETE} until the engine removes it.
    """

    INACTIVE = 1
    PENDING = 2
    IN_PROGRESS = 3
    ACTIVE = 4
    EXPIRED = 5
    INCOMPLETE = 6


class IpTunnelType(_Texted):
    """NMsIPTunType, IBM's values."""

    MANUAL = 1
    STACK = 2
    IKE = 3


class IkeRole(_Texted):
    """Which end started the IKE negotiation.  0 is not a role."""

    INITIATOR = 1
    RESPONDER = 2


class IpsecProtocol(_Texted):
    """
    The protocol of a tunnel's SAs: its IP protocol number, so that the
    byte says the same as a packet capture.  0 in the record = not known
    yet.
    """

    ESP = 50
    AH = 51


class EncapMode(_Texted):
    """Tunnel or transport mode (IBM's HowToEncap).  0 = not known yet."""

    TUNNEL = 1
    TRANSPORT = 2


_E = TypeVar("_E", bound=_Texted)

_TEXTS: dict[tuple[type, int], str] = {
    (type(member), int(member)): text
    for member, text in [
        (SaState.INACTIVE, "Inactive"),
        (SaState.PENDING, "Pending"),
        (SaState.IN_PROGRESS, "In progress"),
        (SaState.ACTIVE, "Active"),
        (SaState.EXPIRED, "Expired"),
        (SaState.INCOMPLETE, "Incomplete"),
        (IpTunnelType.MANUAL, "Manual"),
        (IpTunnelType.STACK, "Dynamic Stack"),
        (IpTunnelType.IKE, "Dynamic IKE"),
        (IkeRole.INITIATOR, "Initiator"),
        (IkeRole.RESPONDER, "Responder"),
        (IpsecProtocol.ESP, "ESP"),
        (IpsecProtocol.AH, "AH"),
        (EncapMode.TUNNEL, "Tunnel"),
        (EncapMode.TRANSPORT, "Transport"),
    ]
}

_NAME = FixedText(48, "ascii", NAME_PATTERN)
_STACK_NAME = FixedText(8, "ascii", STACK_NAME_PATTERN)
_ADDRESS = FixedText(ADDRESS_SIZE, "ascii")
_IDENTITY = FixedText(IDENTITY_SIZE, "utf-8")

# Tunnel ID, KeyExchangeRule, local address, remote address, flags, state,
# IKE version, role, reserved, activated, lifetime, reserved (the first
# layout's 216 bytes, unchanged); then KeyExchangeAction, local SPI, remote
# SPI, refresh, expires, dynamic tunnels, local port, remote port,
# encryption, key length, integrity, PRF, DH group, local and remote
# authentication method, local and remote identity type, reserved, local
# identity, remote identity.
_IKE = struct.Struct(">48s48s48s48sIBBBBQI4s48sQQQQIHHHHHHHBBBB2s256s256s")
assert _IKE.size == IKE_TUNNEL_SIZE

# Tunnel ID, VPN action, flags, type, state, reserved (IBM's part), then
# rule, IKE tunnel ID, local address, remote address, activated, lifetime,
# reserved (the first layout's 312 bytes, unchanged); then inbound and
# outbound SPI, refresh, expires, outbound packets and bytes, inbound
# packets and bytes, encryption, key length, integrity, PFS group,
# protocol, mode, our flags, reserved, local and remote UDP encapsulation
# port, the selectors' protocols (local, remote), their port ranges (local
# start and end, remote start and end), reserved, and their address
# ranges (local start and end, remote start and end).
_IP = struct.Struct(
    ">48s48sIBB2s48s48s48s48sQI4sIIQQQQQQHHHHBBBBHHBBHHHH6s48s48s48s48s"
)
assert _IP.size == IP_TUNNEL_SIZE

IKE_FLAG_IPV6 = 0x01
IKE_FLAG_LOCAL_NAT = 0x04
IKE_FLAG_REMOTE_NAT = 0x08
_IKE_FLAGS = IKE_FLAG_IPV6 | IKE_FLAG_LOCAL_NAT | IKE_FLAG_REMOTE_NAT

IP_FLAG_IPV6 = 0x01
IP_FLAG_FIPS140 = 0x02
_IP_FLAGS = IP_FLAG_IPV6 | IP_FLAG_FIPS140

# NMsIPTunFlags2: ours, apart from IBM's flag word, whose free bits are
# IBM's to give.
IP_FLAG2_UDP_ENCAP = 0x01
IP_FLAG2_LOCAL_NAT = 0x02
IP_FLAG2_REMOTE_NAT = 0x04
_IP_FLAGS2 = IP_FLAG2_UDP_ENCAP | IP_FLAG2_LOCAL_NAT | IP_FLAG2_REMOTE_NAT


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


def _optional_kind(value: object, kind: type[enum.IntEnum], name: str) -> None:
    if value is not None:
        _kind(value, kind, name)


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


def _unsigned(values: Iterable[tuple[str, object]], size: int) -> None:
    for name, value in values:
        check_unsigned(value, size, name)


def _identity(idType: object, value: object, name: str) -> None:
    """An identity: a type (1 byte) and its text, both or neither given."""
    check_unsigned(idType, 1, f"{name}Type")
    _text(value, _IDENTITY, name, False)
    if bool(idType) != bool(value):
        raise ValueError(f"{name}Type and {name} are given together or not at all")


@dataclass(frozen=True)
class TunnelSelector:
    """
    One side's traffic selector of a dynamic tunnel, as IKEv2 negotiates
    it (RFC 7296 section 3.13.1): an address range, an IP protocol and a
    port range.  IBM's report shows an address base with a prefix or a
    range end; the record keeps the range, which says both.

    @ivar startAddress: the first address of the range.
    @ivar endAddress: the last, of the same family, not below the first;
        the same address for one host.
    @ivar protocol: the IP protocol; 0 = all.
    @ivar startPort: the first port; with C{endPort} 65535, 0 = all.
    @ivar endPort: the last port, not below the first.
    """

    startAddress: str
    endAddress: str
    protocol: int = 0
    startPort: int = 0
    endPort: int = 65535

    def __post_init__(self) -> None:
        try:
            for name, value in (
                ("startAddress", self.startAddress),
                ("endAddress", self.endAddress),
            ):
                _text(value, _ADDRESS, name, True)
                assert isinstance(value, str)
                problem = address_problem(value)
                if problem:
                    raise ValueError(f"{name}: {problem}")
            start = ipaddress.ip_address(self.startAddress)
            end = ipaddress.ip_address(self.endAddress)
            if start.version != end.version:
                raise ValueError("startAddress and endAddress differ in family")
            if int(end) < int(start):
                raise ValueError("endAddress is below startAddress")
            check_unsigned(self.protocol, 1, "protocol")
            _unsigned((("startPort", self.startPort), ("endPort", self.endPort)), 2)
            if self.endPort < self.startPort:
                raise ValueError("endPort is below startPort")
        except ValueError as e:
            raise ValueError(f"TunnelSelector: {e}") from None

    @classmethod
    def of_network(
        cls, network: str, protocol: int = 0, startPort: int = 0, endPort: int = 65535
    ) -> TunnelSelector:
        """
        The selector of a network (C{10.2.0.0/24}) or one address.

        @raise ValueError: C{network} is not a network.
        """
        net = ipaddress.ip_network(network)
        return cls(
            str(net.network_address),
            str(net.broadcast_address),
            protocol,
            startPort,
            endPort,
        )

    @property
    def prefix(self) -> int | None:
        """
        The prefix length when the range is exactly one network (a single
        address is one of C{/32} or C{/128}), else None.
        """
        start = int(ipaddress.ip_address(self.startAddress))
        end = int(ipaddress.ip_address(self.endAddress))
        size = end - start + 1
        # One network: a power of two addresses, starting on a multiple of it.
        if size & (size - 1) or start % size:
            return None
        bits = 32 if ipaddress.ip_address(self.startAddress).version == 4 else 128
        return bits - (size.bit_length() - 1)


@dataclass(frozen=True)
class IkeTunnelInfo:
    """
    One IKE tunnel (IKE SA), as C{ipsec -k display} shows it.

    The numbers of the negotiated transforms are IANA's (IKEv2 Transform
    Type 1 to 4 IDs, IKEv2 Authentication Method, IKEv2 Identification
    Payload ID Type); 0 means not negotiated yet, and an C{integrity} of 0
    with an encryption negotiated means none, as with AES-GCM.  Times are
    seconds since the epoch, 0 = n/a.

    @ivar tunnelId: C{K1}, C{K2}, ...; never empty.
    @ivar keyExchangeRule: the KeyExchangeRule it came from; never empty.
    @ivar localAddress: the local endpoint, IPv4 or IPv6; never empty.
    @ivar remoteAddress: the remote endpoint, of the same family.
    @ivar ikeVersion: 1 or 2.
    @ivar activated: when the tunnel became active; 0 = not yet.
    @ivar lifetime: its lifetime in seconds; 0 = n/a.
    @ivar keyExchangeAction: the KeyExchangeAction; empty = n/a.
    @ivar localSpi: our IKE SPI (8 octets as a number); 0 = none yet.
    @ivar remoteSpi: the peer's; 0 = none yet (an initiator's first
        message has none).
    @ivar localPort: our UDP port (500, or 4500 once NAT was seen);
        0 = n/a.
    @ivar keyLength: the encryption key's bits; 0 = n/a.
    @ivar localIdType: the ID type of C{localId}; 0 exactly when
        C{localId} is empty.
    @ivar localId: our identity as text (a DN in RFC 4514 form, an
        address, an FQDN, ...; a KEY_ID in hex).
    @ivar refresh: when iked will rekey it.
    @ivar expires: when it ends; 0 = C{activated} + C{lifetime}.
    @ivar dynamicTunnels: how many dynamic tunnels name it.
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
    localSpi: int = 0
    remoteSpi: int = 0
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
    dynamicTunnels: int = 0

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
            _text(self.keyExchangeAction, _NAME, "keyExchangeAction", False)
            _unsigned(
                [
                    ("activated", self.activated),
                    ("localSpi", self.localSpi),
                    ("remoteSpi", self.remoteSpi),
                    ("refresh", self.refresh),
                    ("expires", self.expires),
                ],
                8,
            )
            _unsigned(
                [
                    ("lifetime", self.lifetime),
                    ("dynamicTunnels", self.dynamicTunnels),
                ],
                4,
            )
            _unsigned(
                [
                    ("localPort", self.localPort),
                    ("remotePort", self.remotePort),
                    ("encryption", self.encryption),
                    ("keyLength", self.keyLength),
                    ("integrity", self.integrity),
                    ("prf", self.prf),
                    ("dhGroup", self.dhGroup),
                ],
                2,
            )
            _unsigned(
                [
                    ("localAuthMethod", self.localAuthMethod),
                    ("remoteAuthMethod", self.remoteAuthMethod),
                ],
                1,
            )
            _identity(self.localIdType, self.localId, "localId")
            _identity(self.remoteIdType, self.remoteId, "remoteId")
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

    Transform numbers are IANA's, as for L{IkeTunnelInfo}; times are
    seconds since the epoch, 0 = n/a.  The SPIs, the counters and the
    transforms are those of the tunnel's newest SA pair.

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
    @ivar inboundSpi: the SPI the peer sends with (4 octets as a number);
        0 = no SA yet.  A nonzero SPI needs a C{protocol}.
    @ivar protocol: ESP or AH; None = not known yet.
    @ivar integrity: 0 = none (AES-GCM authenticates by itself).
    @ivar pfsGroup: the DH group of the exchange that made the SA; 0 =
        none (the SA of IKE_AUTH never has one).
    @ivar localSelector: the traffic the tunnel protects on our side;
        None = n/a.
    @ivar udpEncapsulation: ESP in UDP (RFC 3948), as after NAT is seen;
        C{localUdpPort} and C{remoteUdpPort} are its ports, and 0 without.
    @ivar localNat: NAT was seen in front of us (from the IKE tunnel).
    @ivar refresh: when iked will rekey it.
    @ivar expires: when it ends; 0 = C{activated} + C{lifetime}.
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
    inboundSpi: int = 0
    outboundSpi: int = 0
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
    localNat: bool = False
    remoteNat: bool = False
    outboundPackets: int = 0
    outboundBytes: int = 0
    inboundPackets: int = 0
    inboundBytes: int = 0
    refresh: int = 0
    expires: int = 0

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
            _bool(self.fips140, "fips140")
            _unsigned(
                [
                    ("activated", self.activated),
                    ("refresh", self.refresh),
                    ("expires", self.expires),
                    ("outboundPackets", self.outboundPackets),
                    ("outboundBytes", self.outboundBytes),
                    ("inboundPackets", self.inboundPackets),
                    ("inboundBytes", self.inboundBytes),
                ],
                8,
            )
            _unsigned(
                [
                    ("lifetime", self.lifetime),
                    ("inboundSpi", self.inboundSpi),
                    ("outboundSpi", self.outboundSpi),
                ],
                4,
            )
            _unsigned(
                [
                    ("encryption", self.encryption),
                    ("keyLength", self.keyLength),
                    ("integrity", self.integrity),
                    ("pfsGroup", self.pfsGroup),
                    ("localUdpPort", self.localUdpPort),
                    ("remoteUdpPort", self.remoteUdpPort),
                ],
                2,
            )
            _optional_kind(self.protocol, IpsecProtocol, "protocol")
            _optional_kind(self.mode, EncapMode, "mode")
            if (self.inboundSpi or self.outboundSpi) and self.protocol is None:
                raise ValueError("an SPI is given without a protocol")
            for name, selector in (
                ("localSelector", self.localSelector),
                ("remoteSelector", self.remoteSelector),
            ):
                if selector is not None and not isinstance(selector, TunnelSelector):
                    raise ValueError(f"{name} {selector!r} is not a TunnelSelector")
            for name, flag in (
                ("udpEncapsulation", self.udpEncapsulation),
                ("localNat", self.localNat),
                ("remoteNat", self.remoteNat),
            ):
                _bool(flag, name)
            if not self.udpEncapsulation and (self.localUdpPort or self.remoteUdpPort):
                raise ValueError("UDP encapsulation ports without UDP encapsulation")
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
        _NAME.encode(info.keyExchangeAction),
        info.localSpi,
        info.remoteSpi,
        info.refresh,
        info.expires,
        info.dynamicTunnels,
        info.localPort,
        info.remotePort,
        info.encryption,
        info.keyLength,
        info.integrity,
        info.prf,
        info.dhGroup,
        info.localAuthMethod,
        info.remoteAuthMethod,
        info.localIdType,
        info.remoteIdType,
        bytes(2),
        _IDENTITY.encode(info.localId),
        _IDENTITY.encode(info.remoteId),
    )


def _texts(fields: Sequence[tuple[str, FixedText, bytes]]) -> list[str]:
    texts = []
    for field, codec, raw in fields:
        try:
            texts.append(codec.decode(raw))
        except FieldDecodeError as e:
            raise FieldValueError(f"{field}: {e.detail}") from None
    return texts


def _enum(kind: type[_E], raw: int, name: str) -> _E:
    try:
        return kind(raw)
    except ValueError:
        raise FieldValueError(f"{name}: {raw} is not a {kind.__name__}") from None


def _optional_enum(kind: type[_E], raw: int, name: str) -> _E | None:
    return None if raw == 0 else _enum(kind, raw, name)


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
     lifetime, reserved2, action, localSpi, remoteSpi, refresh, expires,
     dynamicTunnels, localPort, remotePort, encryption, keyLength, integrity,
     prf, dhGroup, localAuth, remoteAuth, localIdType, remoteIdType, reserved3,
     localId, remoteId) = _IKE.unpack(data)  # fmt: skip
    texts = _texts(
        [
            ("NMsIKETunID", _NAME, tid),
            ("NMsIKETunKeyExchangeRule", _NAME, rule),
            ("NMsIKETunLocalAddr", _ADDRESS, local),
            ("NMsIKETunRemoteAddr", _ADDRESS, remote),
            ("NMsIKETunKeyExchangeAction", _NAME, action),
            ("NMsIKETunLocalID", _IDENTITY, localId),
            ("NMsIKETunRemoteID", _IDENTITY, remoteId),
        ]
    )
    if reserved or reserved2 != bytes(4) or reserved3 != bytes(2):
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
            keyExchangeAction=texts[4],
            localSpi=localSpi,
            remoteSpi=remoteSpi,
            localPort=localPort,
            remotePort=remotePort,
            encryption=encryption,
            keyLength=keyLength,
            integrity=integrity,
            prf=prf,
            dhGroup=dhGroup,
            localAuthMethod=localAuth,
            remoteAuthMethod=remoteAuth,
            localIdType=localIdType,
            localId=texts[5],
            remoteIdType=remoteIdType,
            remoteId=texts[6],
            refresh=refresh,
            expires=expires,
            dynamicTunnels=dynamicTunnels,
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None
    if info.ipv6 != bool(flags & IKE_FLAG_IPV6):
        raise FieldValueError("NMsIKETunFlags: the IPv6 bit contradicts the addresses")
    return info


def _selector_fields(
    selector: TunnelSelector | None,
) -> tuple[int, int, int, bytes, bytes]:
    """A selector's protocol, ports and addresses; zeros and blanks for None."""
    if selector is None:
        return 0, 0, 0, _ADDRESS.encode(""), _ADDRESS.encode("")
    return (
        selector.protocol,
        selector.startPort,
        selector.endPort,
        _ADDRESS.encode(selector.startAddress),
        _ADDRESS.encode(selector.endAddress),
    )


def encode_ip_tunnel(info: IpTunnelInfo) -> bytes:
    """
    The NMsecIPTunnel entry of one tunnel (L{IP_TUNNEL_SIZE} bytes).

    @raise ValueError: C{info} is not an L{IpTunnelInfo}.
    """
    if not isinstance(info, IpTunnelInfo):
        raise ValueError(f"{info!r} is not an IpTunnelInfo")
    flags = IP_FLAG_IPV6 if info.ipv6 else 0
    flags |= IP_FLAG_FIPS140 if info.fips140 else 0
    flags2 = IP_FLAG2_UDP_ENCAP if info.udpEncapsulation else 0
    flags2 |= IP_FLAG2_LOCAL_NAT if info.localNat else 0
    flags2 |= IP_FLAG2_REMOTE_NAT if info.remoteNat else 0
    lProto, lStart, lEnd, lFirst, lLast = _selector_fields(info.localSelector)
    rProto, rStart, rEnd, rFirst, rLast = _selector_fields(info.remoteSelector)
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
        info.inboundSpi,
        info.outboundSpi,
        info.refresh,
        info.expires,
        info.outboundPackets,
        info.outboundBytes,
        info.inboundPackets,
        info.inboundBytes,
        info.encryption,
        info.keyLength,
        info.integrity,
        info.pfsGroup,
        0 if info.protocol is None else int(info.protocol),
        0 if info.mode is None else int(info.mode),
        flags2,
        0,
        info.localUdpPort,
        info.remoteUdpPort,
        lProto,
        rProto,
        lStart,
        lEnd,
        rStart,
        rEnd,
        bytes(6),
        lFirst,
        lLast,
        rFirst,
        rLast,
    )


def _selector(
    side: str, protocol: int, startPort: int, endPort: int, first: str, last: str
) -> TunnelSelector | None:
    """A selector from its fields: None when both addresses are blank."""
    if not first and not last:
        if protocol or startPort or endPort:
            raise FieldValueError(
                f"NMsIPTun{side}Sel: a blank selector has protocol and ports 0"
            )
        return None
    try:
        return TunnelSelector(first, last, protocol, startPort, endPort)
    except ValueError as e:
        raise FieldValueError(f"NMsIPTun{side}Sel: {e}") from None


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
     activated, lifetime, reserved2, inboundSpi, outboundSpi, refresh, expires,
     outPackets, outBytes, inPackets, inBytes, encryption, keyLength, integrity,
     pfsGroup, protocol, mode, flags2, reserved3, localUdpPort, remoteUdpPort,
     lProto, rProto, lStart, lEnd, rStart, rEnd, reserved4, lFirst, lLast,
     rFirst, rLast) = _IP.unpack(data)  # fmt: skip
    texts = _texts(
        [
            ("NMsIPTunID", _NAME, tid),
            ("NMsIPTunVPNAction", _NAME, action),
            ("NMsIPTunRule", _NAME, rule),
            ("NMsIPTunIKETunID", _NAME, parent),
            ("NMsIPTunLocalAddr", _ADDRESS, local),
            ("NMsIPTunRemoteAddr", _ADDRESS, remote),
            ("NMsIPTunLocalSelStart", _ADDRESS, lFirst),
            ("NMsIPTunLocalSelEnd", _ADDRESS, lLast),
            ("NMsIPTunRemoteSelStart", _ADDRESS, rFirst),
            ("NMsIPTunRemoteSelEnd", _ADDRESS, rLast),
        ]
    )
    if (
        reserved != bytes(2)
        or reserved2 != bytes(4)
        or reserved3
        or reserved4 != bytes(6)
    ):
        raise FieldValueError("NMsecIPTunnel: reserved bytes not zero")
    if flags & ~_IP_FLAGS:
        raise FieldValueError(
            f"NMsIPTunFlags: bits {flags & ~_IP_FLAGS:#x} are not defined"
        )
    if flags2 & ~_IP_FLAGS2:
        raise FieldValueError(
            f"NMsIPTunFlags2: bits {flags2 & ~_IP_FLAGS2:#x} are not defined"
        )
    localSelector = _selector("Local", lProto, lStart, lEnd, texts[6], texts[7])
    remoteSelector = _selector("Remote", rProto, rStart, rEnd, texts[8], texts[9])
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
            inboundSpi=inboundSpi,
            outboundSpi=outboundSpi,
            protocol=_optional_enum(IpsecProtocol, protocol, "NMsIPTunProtocol"),
            mode=_optional_enum(EncapMode, mode, "NMsIPTunMode"),
            encryption=encryption,
            keyLength=keyLength,
            integrity=integrity,
            pfsGroup=pfsGroup,
            localSelector=localSelector,
            remoteSelector=remoteSelector,
            udpEncapsulation=bool(flags2 & IP_FLAG2_UDP_ENCAP),
            localUdpPort=localUdpPort,
            remoteUdpPort=remoteUdpPort,
            localNat=bool(flags2 & IP_FLAG2_LOCAL_NAT),
            remoteNat=bool(flags2 & IP_FLAG2_REMOTE_NAT),
            outboundPackets=outPackets,
            outboundBytes=outBytes,
            inboundPackets=inPackets,
            inboundBytes=inBytes,
            refresh=refresh,
            expires=expires,
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
