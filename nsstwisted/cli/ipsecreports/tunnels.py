"""
The tunnel reports, C{ipsec -k}, C{-y} and C{-m} (IKE, dynamic and manual
tunnels), and the answers of their control functions; and their JSON forms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from nsstwisted.cli.ipsecreports.layout import (
    _PRIMARY_HEADINGS,
    _PROTOCOLS,
    SEPARATOR,
    _entries_selected,
    _local_times,
    _shown,
    _utc_time,
    detail_lines,
    heading_lines,
)
from nsstwisted.wire.filters import TunnelControl
from nsstwisted.wire.tunnels import (
    IkeRole,
    IkeTunnelInfo,
    IpsecProtocol,
    IpTunnelInfo,
    IpTunnelType,
    TunnelReport,
    TunnelSelector,
)

__all__ = [
    "tunnel_control_json",
    "tunnel_control_report",
    "tunnel_json",
    "tunnel_report",
]

_TUNNEL_SOURCES = {"k": "IKED", "y": "Stack", "m": "Stack"}

# The IANA "IKEv2 Parameters" numbers the records carry, as the reports
# name them: the seed's wording where its sample shows the algorithm
# (3DES, Hmac_Sha for HMAC-SHA1-96), IKEv2's names otherwise, and IBM's
# for the ID types.  A number not listed shows as Unknown(n), so that a
# newer peer's transform is still reported.
_ENCRYPTIONS = {
    3: "3DES",
    11: "NULL",
    12: "AES-CBC",
    13: "AES-CTR",
    18: "AES-GCM-8",
    19: "AES-GCM-12",
    20: "AES-GCM-16",
}
_INTEGRITIES = {
    1: "HMAC-MD5-96",
    2: "Hmac_Sha",
    5: "AES-XCBC-96",
    12: "HMAC-SHA2-256-128",
    13: "HMAC-SHA2-384-192",
    14: "HMAC-SHA2-512-256",
}
_PRFS = {
    1: "HMAC-MD5",
    2: "HMAC-SHA1",
    4: "AES128-XCBC",
    5: "HMAC-SHA2-256",
    6: "HMAC-SHA2-384",
    7: "HMAC-SHA2-512",
}
_AUTH_METHODS = {
    1: "RSA-Signature",
    2: "Shared-Key",
    3: "DSS-Signature",
    9: "ECDSA-SHA256-P256",
    10: "ECDSA-SHA384-P384",
    11: "ECDSA-SHA512-P521",
    14: "Digital-Signature",
}
_ID_TYPES = {
    1: "ID_IPV4_ADDR",
    2: "ID_FQDN",
    3: "ID_USER_FQDN",
    5: "ID_IPV6_ADDR",
    9: "ID_DER_ASN1_DN",
    11: "ID_KEY_ID",
}

_NONE = "None"
"""What an algorithm line says when the SA has none (AES-GCM's integrity)."""

_DO_NOT_ENCRYPT = "DoNotEncrypt"
"""IBM's HowToEncrypt for an SA that does not encrypt (AH)."""


def _named(table: dict[int, str], number: int) -> str | None:
    """A number's report name; None (n/a) for 0."""
    if not number:
        return None
    return table.get(number, f"Unknown({number})")


def _encryption(number: int, keyLength: int) -> str | None:
    """C{AES-CBC/128}: the cipher and, when it has one, its key length."""
    name = _named(_ENCRYPTIONS, number)
    return f"{name}/{keyLength}" if name and keyLength else name


def _group(number: int) -> str | None:
    """C{Group31}: a DH group by its IANA number."""
    return f"Group{number}" if number else None


def _expiry(activated: int, lifetime: int, expires: int) -> int:
    """When an SA ends: as the record says, else its activation plus life."""
    if expires:
        return expires
    return activated + lifetime if activated and lifetime else 0


def _ike_values(
    tunnel: IkeTunnelInfo, when: Callable[[int], str | None], now: int = 0
) -> list[tuple[str, Any]]:
    """
    The lines of one IKE tunnel as typed values, C{None} for n/a: shared
    by the report and the JSON.

    There is no seed sample of C{ipsec -k display}; the labels and their
    order are those of IBM's field descriptions of the IKE tunnel report
    (C{TunnelID}, C{IKEVersion}, C{KeyExchangeRuleName}, ...), without
    the IKEv1-only lines and with IKEv2's: the SPIs of both ends instead
    of IKEv1's cookies, each end's authentication method, the ports.
    An AEAD cipher's C{AuthenticationAlgorithm} is C{None}.  The NAT
    traversal block is the one of the C{-y} report, for phase 1
    (C{zOSCanInitP1SA}); UDP encapsulation is on once NAT is seen, as
    RFC 7296 moves IKE to port 4500 then.  C{NumDynamicTunnels}, the
    dynamic tunnels that name the IKE tunnel, comes last, so that in a
    cascade the dynamic tunnels it counts follow it.
    """
    localSpi = f"{tunnel.localSpi:016x}" if tunnel.localSpi else None
    remoteSpi = f"{tunnel.remoteSpi:016x}" if tunnel.remoteSpi else None
    initiator = tunnel.role == IkeRole.INITIATOR
    integrity = _named(_INTEGRITIES, tunnel.integrity)
    udpEncap = tunnel.localNat or tunnel.remoteNat
    return [
        ("TunnelID", tunnel.tunnelId),
        ("IKEVersion", f"{tunnel.ikeVersion}.0"),
        ("KeyExchangeRuleName", tunnel.keyExchangeRule),
        ("KeyExchangeActionName", tunnel.keyExchangeAction or None),
        ("LocalEndPoint", tunnel.localAddress),
        ("LocalPort", tunnel.localPort or None),
        ("LocalIDType", _named(_ID_TYPES, tunnel.localIdType)),
        ("LocalID", tunnel.localId or None),
        ("RemoteEndPoint", tunnel.remoteAddress),
        ("RemotePort", tunnel.remotePort or None),
        ("RemoteIDType", _named(_ID_TYPES, tunnel.remoteIdType)),
        ("RemoteID", tunnel.remoteId or None),
        ("State", tunnel.state.text),
        (
            "AuthenticationAlgorithm",
            integrity or (_NONE if tunnel.encryption else None),
        ),
        ("EncryptionAlgorithm", _named(_ENCRYPTIONS, tunnel.encryption)),
        ("KeyLength", tunnel.keyLength or None),
        ("PseudoRandomFunction", _named(_PRFS, tunnel.prf)),
        ("DiffieHellmanGroup", _group(tunnel.dhGroup)),
        ("LocalAuthenticationMethod", _named(_AUTH_METHODS, tunnel.localAuthMethod)),
        (
            "RemoteAuthenticationMethod",
            _named(_AUTH_METHODS, tunnel.remoteAuthMethod),
        ),
        ("InitiatorSPI", localSpi if initiator else remoteSpi),
        ("ResponderSPI", remoteSpi if initiator else localSpi),
        ("ActivationTime", when(tunnel.activated)),
        ("Lifetime", tunnel.lifetime or None),
        ("LifetimeRefresh", when(tunnel.refresh)),
        (
            "LifetimeExpires",
            when(_expiry(tunnel.activated, tunnel.lifetime, tunnel.expires)),
        ),
        ("CurrentTime", when(now)),
        ("Role", tunnel.role.text),
        (
            _NAT_TOPOLOGY,
            {
                "UdpEncapMode": udpEncap,
                "LclNATDetected": tunnel.localNat,
                "RmtNATDetected": tunnel.remoteNat,
                "RmtNAPTDetected": None if tunnel.remoteNat else False,
                "RmtIsGw": None,
                "RmtIsZOS": None,
                "zOSCanInitP1SA": None,
                "RmtUdpEncapPort": (tunnel.remotePort or None) if udpEncap else None,
            },
        ),
        ("NumDynamicTunnels", tunnel.dynamicTunnels),
    ]


_NAT_TOPOLOGY = "NAT Traversal Topology"
"""The label of a tunnel's indented NAT traversal block."""


def _address_values(
    side: str, selector: TunnelSelector | None
) -> list[tuple[str, Any]]:
    """
    IBM's three lines of one side's traffic selector: the base address,
    and the prefix when the range is one network, or the range's last
    address when it is not; a single address has the base alone.
    """
    base = prefix = last = None
    if selector is not None:
        base = selector.startAddress
        if selector.endAddress != selector.startAddress:
            prefix = selector.prefix
            last = selector.endAddress if prefix is None else None
    return [
        (f"{side}AddressBase", base),
        (f"{side}AddressPrefix", prefix),
        (f"{side}AddressRange", last),
    ]


def _ports(selector: TunnelSelector | None) -> int | str | None:
    """A selector's ports: 0 for all (IBM's), one port, or C{low-high}."""
    if selector is None:
        return None
    low, high = selector.startPort, selector.endPort
    if (low, high) == (0, 65535):
        return 0
    return low if low == high else f"{low}-{high}"


def _protocol_text(value: int) -> str:
    """C{ALL(0)}, C{TCP(6)}, ...: IBM's protocol value of the -y report."""
    if value == 0:
        return "ALL(0)"
    known = _PROTOCOLS.get(value)
    return f"{known}({value})" if known else str(value)


def _selector_protocol(tunnel: IpTunnelInfo) -> int | str | None:
    """
    The selectors' IP protocol: one number when they agree (as IKEv2's
    narrowing leaves them), both when they do not.
    """
    local, remote = tunnel.localSelector, tunnel.remoteSelector
    numbers = [s.protocol for s in (local, remote) if s is not None]
    if not numbers:
        return None
    if len(set(numbers)) == 1:
        return numbers[0]
    return "/".join(_protocol_text(n) for n in numbers)


def _ip_values(
    tunnel: IpTunnelInfo, when: Callable[[int], str | None], now: int = 0
) -> list[tuple[str, Any]]:
    """
    The lines of one dynamic or manual tunnel as typed values, C{None} for
    n/a.

    A dynamic tunnel has the lines of the seed's C{ipsec -y display}
    sample, in its order and with its names, then C{FIPS140} and two of
    ours, C{PFSGroup} and C{LclUdpEncapPort}.  An ESP SA authenticates
    and encrypts under one SPI, so the C{Auth...Spi} and C{Encrypt...Spi}
    lines show the same numbers (the seed's differ because its tunnel is
    an AH and ESP bundle, which iked does not make); AES-GCM's
    C{AuthAlgorithm} is C{None}.  The counters, C{Lifesize} and
    C{LifesizeRefresh} (always 0, IBM's "no byte limit": iked has none)
    and C{CurrentByteCount} are shown once the tunnel has SAs, and are
    n/a before.  C{LifetimeExpires} is the record's expiry, or the
    activation time plus the lifetime; C{CurrentTime} is the time of the
    report (C{now}).  C{VPNLifeExpires} stays n/a: iked has no VpnLife.
    IKEv2 cannot tell NAT from NAPT, so C{RmtNAPTDetected} is n/a when
    NAT was seen in front of the peer; the other lines IBM fills from
    IKEv1's NAT traversal are n/a.
    """
    if tunnel.tunnelType == IpTunnelType.MANUAL:
        return [
            ("TunnelID", tunnel.tunnelId),
            ("VpnActionName", tunnel.vpnAction),
            ("Type", tunnel.tunnelType.text),
            ("State", tunnel.state.text),
            ("LocalEndPoint", tunnel.localAddress or None),
            ("RemoteEndPoint", tunnel.remoteAddress or None),
            ("FIPS140", tunnel.fips140),
            ("ActivationTime", when(tunnel.activated)),
        ]
    hasSa = bool(tunnel.inboundSpi or tunnel.outboundSpi)
    negotiated = bool(tunnel.encryption or tunnel.integrity)
    encrypts = tunnel.protocol == IpsecProtocol.ESP and bool(tunnel.encryption)

    def counted(value: int) -> int | None:
        return value if hasSa else None

    def spi(value: int, shown: bool = True) -> int | None:
        return value if value and shown else None

    if tunnel.encryption:
        howToEncrypt = _encryption(tunnel.encryption, tunnel.keyLength)
    else:
        howToEncrypt = _DO_NOT_ENCRYPT if negotiated else None
    udpEncap = tunnel.udpEncapsulation
    return [
        ("TunnelID", tunnel.tunnelId),
        ("ParentIKETunnelID", tunnel.ikeTunnelId or None),
        ("VpnActionName", tunnel.vpnAction),
        ("LocalDynVpnRule", tunnel.rule or None),
        ("State", tunnel.state.text),
        ("HowToEncap", tunnel.mode.text if tunnel.mode else None),
        ("LocalEndPoint", tunnel.localAddress or None),
        ("RemoteEndPoint", tunnel.remoteAddress or None),
        *_address_values("Local", tunnel.localSelector),
        *_address_values("Remote", tunnel.remoteSelector),
        ("HowToAuth", tunnel.protocol.text if tunnel.protocol else None),
        (
            "AuthAlgorithm",
            _named(_INTEGRITIES, tunnel.integrity) or (_NONE if negotiated else None),
        ),
        ("AuthInboundSpi", spi(tunnel.inboundSpi)),
        ("AuthOutboundSpi", spi(tunnel.outboundSpi)),
        ("HowToEncrypt", howToEncrypt),
        ("EncryptInboundSpi", spi(tunnel.inboundSpi, encrypts)),
        ("EncryptOutboundSpi", spi(tunnel.outboundSpi, encrypts)),
        ("Protocol", _selector_protocol(tunnel)),
        ("LocalPort", _ports(tunnel.localSelector)),
        ("RemotePort", _ports(tunnel.remoteSelector)),
        ("OutboundPackets", counted(tunnel.outboundPackets)),
        ("OutboundBytes", counted(tunnel.outboundBytes)),
        ("InboundPackets", counted(tunnel.inboundPackets)),
        ("InboundBytes", counted(tunnel.inboundBytes)),
        ("Lifesize", counted(0)),
        ("LifesizeRefresh", counted(0)),
        ("CurrentByteCount", counted(tunnel.inboundBytes + tunnel.outboundBytes)),
        ("LifetimeRefresh", when(tunnel.refresh)),
        (
            "LifetimeExpires",
            when(_expiry(tunnel.activated, tunnel.lifetime, tunnel.expires)),
        ),
        ("CurrentTime", when(now)),
        ("VPNLifeExpires", None),
        (
            _NAT_TOPOLOGY,
            {
                "UdpEncapMode": udpEncap,
                "LclNATDetected": tunnel.localNat,
                "RmtNATDetected": tunnel.remoteNat,
                "RmtNAPTDetected": None if tunnel.remoteNat else False,
                "RmtIsGw": None,
                "RmtIsZOS": None,
                "zOSCanInitP2SA": None,
                "RmtUdpEncapPort": (tunnel.remoteUdpPort or None) if udpEncap else None,
                "SrcNATtoARcvd": None,
                "DstNATtoARcvd": None,
            },
        ),
        ("FIPS140", tunnel.fips140),
        ("PFSGroup", _group(tunnel.pfsGroup) or (_NONE if negotiated else None)),
        ("LclUdpEncapPort", (tunnel.localUdpPort or None) if udpEncap else None),
    ]


_TUNNEL_FORMATS: dict[str, Callable[[int], str]] = {
    "Protocol": _protocol_text,
    "Lifesize": lambda value: f"{value}K",
    "LifesizeRefresh": lambda value: f"{value}K",
    "CurrentByteCount": lambda value: f"{value}b",
}
"""
The lines whose numbers the report writes in IBM's way (C{ALL(0)},
C{0K}, C{0b}) and the JSON as plain numbers.
"""


def _tunnel_shown(name: str, value: Any) -> str:
    shape = _TUNNEL_FORMATS.get(name)
    if shape is not None and isinstance(value, int) and not isinstance(value, bool):
        return shape(value)
    return _shown(value)


def _block_lines(values: Sequence[tuple[str, Any]]) -> list[str]:
    """
    The C{Name: value} lines of a block whose values may hold an indented
    sub-block (a C{dict}, as the NAT traversal block): its label alone,
    then its lines indented by two blanks, every value in one column.
    """
    pairs: list[tuple[str, str]] = []
    for name, value in values:
        if isinstance(value, dict):
            pairs.append((name, ""))
            pairs += [(f"  {n}", _tunnel_shown(n, v)) for n, v in value.items()]
        else:
            pairs.append((name, _tunnel_shown(name, value)))
    return [line.rstrip() for line in detail_lines(pairs)]


def _selected(
    report: TunnelReport, primary: str, tunnelId: str | None, name: str | None
) -> tuple[int, list[IkeTunnelInfo | IpTunnelInfo]]:
    """
    The total available and the tunnels that C{-a} and C{-n} select: the
    ID in any case, the name exactly (for C{-y}, the LocalDynVpnRule or the
    IpDynVpnAction).
    """
    tunnels: list[IkeTunnelInfo | IpTunnelInfo]
    tunnels = list(report.ikeTunnels) if primary == "k" else list(report.ipTunnels)

    def names(tunnel: IkeTunnelInfo | IpTunnelInfo) -> tuple[str, ...]:
        if isinstance(tunnel, IkeTunnelInfo):
            return (tunnel.keyExchangeRule,)
        return (tunnel.rule, tunnel.vpnAction)

    chosen = [
        t
        for t in tunnels
        if (tunnelId is None or t.tunnelId.upper() == tunnelId.upper())
        and (name is None or name in names(t))
    ]
    return len(tunnels), chosen


def _tunnel_blocks(
    report: TunnelReport,
    chosen: Sequence[IkeTunnelInfo | IpTunnelInfo],
    cascade: bool,
    when: Callable[[int], str | None],
    now: int = 0,
) -> list[tuple[list[tuple[str, Any]], list[list[tuple[str, Any]]]]]:
    """
    Each chosen tunnel's values, with its dynamic tunnels' in a cascade.

    @param now: the time of the report, for C{CurrentTime}.
    """
    blocks: list[tuple[list[tuple[str, Any]], list[list[tuple[str, Any]]]]] = []
    for tunnel in chosen:
        if isinstance(tunnel, IkeTunnelInfo):
            under = [
                _ip_values(t, when, now)
                for t in report.ipTunnels
                if cascade and t.ikeTunnelId == tunnel.tunnelId
            ]
            blocks.append((_ike_values(tunnel, when, now), under))
        else:
            blocks.append((_ip_values(tunnel, when, now), []))
    return blocks


def tunnel_report(
    report: TunnelReport,
    now: float,
    *,
    primary: str,
    cascade: bool = False,
    fromIked: bool = False,
    tunnelId: str | None = None,
    name: str | None = None,
    clientName: str | None = None,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> list[str]:
    """
    The lines of C{ipsec -k display}, C{-y display} and C{-m display}:
    IBM's three heading lines (with the stack's name, or the client's for
    C{-z}), a blank line, each tunnel's block followed by asterisks, a
    blank line and the count.  With no tunnel, one blank line precedes the
    count.  In a cascade (C{-k display -e}), each IKE tunnel's dynamic
    tunnels follow its lines, indented by two blanks, each ended by
    indented asterisks.

    @param primary: C{k}, C{y} or C{m}.
    @param fromIked: C{-y display -b}: the source is IKED.
    @param tunnelId: C{-a}, which selects one tunnel.
    @param name: C{-n}, which selects the tunnels of a rule or action.
    """
    total, chosen = _selected(report, primary, tunnelId, name)
    when = _local_times(localtime)
    if clientName is None:
        label, target = "Stack Name", report.stackName
    else:
        label, target = "NSS Client Name", clientName
    lines = heading_lines(
        targetLabel=label,
        targetName=target,
        primary=_PRIMARY_HEADINGS[primary],
        function="Display (cascade)" if cascade else "Display",
        source="IKED" if fromIked else _TUNNEL_SOURCES[primary],
        scope="Current",
        totAvail=total,
        when=localtime(now),
    )
    lines.append("")
    for values, under in _tunnel_blocks(report, chosen, cascade, when, int(now)):
        lines += _block_lines(values)
        for dynamic in under:
            lines += [f"  {line}" for line in _block_lines(dynamic)]
            lines.append(f"  {SEPARATOR}")
        lines.append(SEPARATOR)
    if chosen:
        lines.append("")
    lines.append(_entries_selected(len(chosen)))
    return lines


def tunnel_json(
    report: TunnelReport,
    *,
    primary: str,
    cascade: bool = False,
    fromIked: bool = False,
    tunnelId: str | None = None,
    name: str | None = None,
    now: float = 0,
) -> dict[str, Any]:
    """
    The data of C{ipsec -k|-y|-m display} for programs: the report's
    names as keys, C{null} for n/a, booleans, numbers where the report
    shows a number (lifetimes, key lengths, ports, prefixes, a dynamic
    tunnel's SPIs and counters, and C{Protocol}, C{Lifesize} and
    C{CurrentByteCount} without IBM's C{ALL(0)}, C{K} and C{b}), the IKE
    SPIs as the report's hex, times in ISO 8601 UTC; a tunnel's NAT
    traversal block is an object; in a cascade each IKE tunnel has
    C{DynamicTunnels}.

    @param now: the time of the report, a tunnel's C{CurrentTime}
        (0: null).
    """
    total, chosen = _selected(report, primary, tunnelId, name)
    entries = []
    for values, under in _tunnel_blocks(report, chosen, cascade, _utc_time, int(now)):
        entry = dict(values)
        if cascade:
            entry["DynamicTunnels"] = [dict(d) for d in under]
        entries.append(entry)
    return {
        "Primary": _PRIMARY_HEADINGS[primary],
        "Function": "Display (cascade)" if cascade else "Display",
        "StackName": report.stackName,
        "Source": "IKED" if fromIked else _TUNNEL_SOURCES[primary],
        "TotAvail": total,
        "Entries": entries,
    }


def tunnel_control_report(controls: Sequence[TunnelControl]) -> list[str]:
    """
    The output of the tunnel control functions: IBM's small table
    (C{Tunnel ID  Status}), one line per tunnel acted on, with what
    happened.  A selection that matched nothing shows the ID or the name
    asked for, and C{Not found}.
    """
    shown = [c.tunnelId or c.name for c in controls]
    width = max([len("Tunnel ID"), *(len(s) for s in shown)]) + 2
    return [f"{'Tunnel ID':<{width}}Status"] + [
        f"{s:<{width}}{c.status.text}" for s, c in zip(shown, controls, strict=True)
    ]


def tunnel_control_json(
    primary: str, function: str, controls: Sequence[TunnelControl]
) -> dict[str, Any]:
    """The data of the tunnel control functions for programs."""
    return {
        "Primary": _PRIMARY_HEADINGS[primary],
        "Function": function.capitalize(),
        "Entries": [
            {
                "TunnelID": c.tunnelId or None,
                "Name": c.name or None,
                "Status": c.status.text,
            }
            for c in controls
        ],
    }
