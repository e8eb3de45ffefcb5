"""
The layouts of C{nss-ipsec}'s reports: IBM's heading lines, C{Name: value}
detail lines in one column, asterisk separators and C{N entries selected},
for every primary, and their JSON forms.  Kept apart from the command's
options and its conversation with the daemons, so that each can be read
(and changed) on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nsstwisted.wire.clientinfo import NssClientInfo
from nsstwisted.wire.filters import (
    FilterRecordInfo,
    FilterReport,
    FilterSet,
    TunnelControl,
)
from nsstwisted.wire.ikensinfo import IkeNssInfo
from nsstwisted.wire.stackinfo import (
    PROTOCOLS,
    InterfaceInfo,
    PortTranslationInfo,
)
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
    "PRIMARIES",
    "RELEASE",
    "Primary",
    "detail_lines",
    "filter_control_json",
    "filter_control_report",
    "filter_json",
    "filter_report",
    "heading_lines",
    "interface_json",
    "interface_report",
    "nss_server_json",
    "nss_server_report",
    "port_translation_json",
    "port_translation_report",
    "stack_nss_json",
    "stack_nss_report",
    "tunnel_control_json",
    "tunnel_control_report",
    "tunnel_json",
    "tunnel_report",
]

PROGRAM = "nss-ipsec"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 86400.0

RELEASE = "CS V2R5"
"""
The release the heading names.  Scripts written for z/OS look for
C{CS VxRy ipsec}; V2R5 is the release whose NSS this project follows.
"""

NOT_APPLICABLE = "n/a"
SEPARATOR = "*****"
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"


@dataclass(frozen=True)
class Primary:
    """
    One primary option of the C{ipsec} command.

    @ivar letter: the option letter; case-sensitive, as IBM's.
    @ivar longName: the long option, ours (IBM has none).
    @ivar heading: what the report's C{Primary:} heading shows.
    @ivar functions: the function keywords, the first the usual one.
    @ivar daemon: which daemon answers it when no C{-z} is given: nssd for
        C{-x}, which is about nssd's own clients, iked otherwise.
    """

    letter: str
    longName: str
    heading: str
    functions: tuple[str, ...]
    daemon: str = "iked"


PRIMARIES = (
    Primary("f", "filter", "Filter", ("display", "default", "reload")),
    Primary("k", "ike-tunnel", "IKE tunnel", ("display", "deactivate", "refresh")),
    Primary(
        "y",
        "dynamic-tunnel",
        "Dynamic tunnel",
        ("display", "activate", "deactivate", "refresh"),
    ),
    Primary(
        "m", "manual-tunnel", "Manual tunnel", ("display", "activate", "deactivate")
    ),
    Primary("i", "interface", "Interface", ("display",)),
    Primary("o", "port-translation", "NATT Port Trans", ("display",)),
    Primary("x", "nss-server", "NSS Server", ("display",), daemon="nssd"),
    Primary("w", "stack-nss", "Stack NSS", ("display",)),
)
"""IBM's primary options that the network management issue names."""


_PRIMARY_HEADINGS = {p.letter: p.heading for p in PRIMARIES}


def heading_lines(
    *,
    targetLabel: str,
    targetName: str,
    primary: str,
    function: str,
    source: str,
    scope: str,
    totAvail: int,
    when: time.struct_time,
    reportFormat: str = "Detail",
) -> list[str]:
    """
    The three heading lines every C{ipsec} display report starts with.

    IBM pads its heading labels to one width so that the second and third
    lines form columns; the widths here hold the longest values IBM shows
    (C{NATT Port Trans}, C{display (cascade)}).

    @param targetLabel: C{Stack Name}, or C{NSS Client Name} for C{-z},
        C{-x} and C{-w}.
    @param when: the local time the report was made.
    """
    return [
        f"{RELEASE} ipsec {targetLabel}: {targetName}  {time.asctime(when)}",
        f"{'Primary:':<10}{primary:<16}{'Function:':<10}{function:<20}"
        f"{'Format:':<10}{reportFormat}",
        f"{'Source:':<10}{source:<16}{'Scope:':<10}{scope:<20}"
        f"{'TotAvail:':<10}{totAvail}",
    ]


def detail_lines(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """
    C{Name: value} lines with every value in one column, one blank after
    the longest label.
    """
    width = max((len(name) for name, _ in pairs), default=0) + 2
    return [f"{name + ':':<{width}}{value}" for name, value in pairs]


def _entries_selected(count: int) -> str:
    return f"{count} entries selected"


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _number(value: int) -> str:
    return str(value) if value else NOT_APPLICABLE


def _text(value: str) -> str:
    return value or NOT_APPLICABLE


def _stack_nss_values(
    info: IkeNssInfo, when: Callable[[int], str | None]
) -> list[tuple[str, Any]]:
    """
    The fields of one stack as typed values, C{None} for n/a: shared by
    the report and the JSON, so that both show the same data.
    """

    def enabled(selected: bool, value: bool) -> bool | None:
        return value if selected else None

    state = info.connectionState
    return [
        ("StackName", info.stackName),
        ("ClientName", info.clientName or None),
        ("ClientAPIVersion", info.clientApiVersion or None),
        ("ServerAPIVersion", info.serverApiVersion or None),
        ("NSServicesSupported", info.configured),
        ("RemoteManagementSelected", info.remoteMgmtSelected),
        (
            "RemoteManagementEnabled",
            enabled(info.remoteMgmtSelected, info.remoteMgmtEnabled),
        ),
        ("CertificateServicesSelected", info.certSelected),
        ("CertificateServicesEnabled", enabled(info.certSelected, info.certEnabled)),
        ("NSClientIPAddress", info.clientAddress or None),
        ("NSClientPort", info.clientPort or None),
        ("NSServerIPAddress", info.serverAddress or None),
        ("NSServerPort", info.serverPort or None),
        ("NSServerSystemName", info.serverSystemName or None),
        ("UserID", info.userid or None),
        ("ConnectionState", None if not info.configured else state.text),
        ("TimeConnectedToNSServer", when(info.timeConnected)),
        ("TimeOfLastMessageToNSServer", when(info.timeLastMessage)),
    ]


def _shown(value: Any) -> str:
    if value is None:
        return NOT_APPLICABLE
    if isinstance(value, bool):
        return _yes_no(value)
    return str(value)


def _local_times(
    localtime: Callable[[float], time.struct_time],
) -> Callable[[int], str | None]:
    """The report's times: local, C{None} (n/a) for 0."""

    def when(seconds: int) -> str | None:
        return time.strftime(TIME_FORMAT, localtime(seconds)) if seconds else None

    return when


def _utc_time(seconds: int) -> str | None:
    """The JSON's times: ISO 8601 UTC, C{None} for 0."""
    if not seconds:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _listing(
    *,
    primary: str,
    source: str,
    systemName: str,
    entries: Sequence[Sequence[tuple[str, Any]]],
    now: float,
    localtime: Callable[[float], time.struct_time],
) -> list[str]:
    """
    The lines of a report on many stacks or clients (C{-w}, C{-x}), after
    the seed's samples: the heading, C{SystemName}, a blank line, each
    entry's block followed by asterisks, a blank line and the count.  With
    no entry at all, one blank line separates C{SystemName} from the count.
    """
    lines = heading_lines(
        targetLabel="NSS Client Name",
        targetName=NOT_APPLICABLE,
        primary=primary,
        function="Display",
        source=source,
        scope=NOT_APPLICABLE,
        totAvail=len(entries),
        when=localtime(now),
    )
    lines += [f"SystemName: {systemName}", ""]
    for values in entries:
        lines += detail_lines([(name, _shown(value)) for name, value in values])
        lines.append(SEPARATOR)
    if entries:
        lines.append("")
    lines.append(_entries_selected(len(entries)))
    return lines


def _listing_json(
    *,
    primary: str,
    source: str,
    systemName: str,
    entries: Sequence[Sequence[tuple[str, Any]]],
) -> dict[str, Any]:
    """The JSON of a report made by L{_listing}: the same data, typed."""
    return {
        "Primary": primary,
        "Function": "Display",
        "Source": source,
        "SystemName": systemName,
        "TotAvail": len(entries),
        "Entries": [dict(values) for values in entries],
    }


def stack_nss_report(
    systemName: str,
    infos: Sequence[IkeNssInfo],
    now: float,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> list[str]:
    """
    The lines of C{ipsec -w display}, after the seed's sample: the heading,
    C{SystemName}, a blank line, each stack's block followed by asterisks,
    a blank line and the count.  With no stack at all, one blank line
    separates C{SystemName} from the count.

    @param now: when the report is made, for the heading.
    @param localtime: turns seconds since the epoch into the local time
        that the heading and the times show, as IBM's do.
    """
    when = _local_times(localtime)
    return _listing(
        primary="Stack NSS",
        source="IKED",
        systemName=systemName,
        entries=[_stack_nss_values(info, when) for info in infos],
        now=now,
        localtime=localtime,
    )


def stack_nss_json(systemName: str, infos: Sequence[IkeNssInfo]) -> dict[str, Any]:
    """
    The data of C{ipsec -w display} for programs: the report's names as
    keys, C{null} for n/a, booleans for Yes and No, numbers for ports and
    versions, and times in ISO 8601 UTC (the report shows local time).
    """
    return _listing_json(
        primary="Stack NSS",
        source="IKED",
        systemName=systemName,
        entries=[_stack_nss_values(info, _utc_time) for info in infos],
    )


def _nss_server_values(
    info: NssClientInfo, when: Callable[[int], str | None]
) -> list[tuple[str, Any]]:
    """
    The fields of one client as typed values, C{None} for n/a, in the
    order of the seed's C{ipsec -x} sample.

    Unlike C{-w}, an C{...Enabled} line is C{No}, not n/a, for a service
    that was not selected: the seed says that C{Enabled} is C{Yes} when the
    client selected the service and SAF permits it, and C{No} otherwise.
    """
    return [
        ("ClientName", info.clientName),
        ("StackName", info.stackName or None),
        ("SystemName", info.systemName or None),
        ("ClientIPAddress", info.clientAddress or None),
        ("ClientPort", info.clientPort or None),
        ("ServerIPAddress", info.serverAddress or None),
        ("ServerPort", info.serverPort or None),
        ("UserID", info.userid),
        ("RemoteManagementSelected", info.remoteMgmtSelected),
        ("RemoteManagementEnabled", info.remoteMgmtEnabled),
        ("CertificateServicesSelected", info.certSelected),
        ("CertificateServicesEnabled", info.certEnabled),
        ("ConnectState", info.connectState.text),
        ("TimeConnected", when(info.timeConnected)),
        ("TimeOfLastMessageFromClient", when(info.timeLastMessageFromClient)),
    ]


def nss_server_report(
    systemName: str,
    infos: Sequence[NssClientInfo],
    now: float,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> list[str]:
    """
    The lines of C{ipsec -x display}, after the seed's sample: the heading
    (C{Primary: NSS Server}, C{Source: Server}), nssd's C{SystemName}, a
    blank line, each client's block followed by asterisks, a blank line
    and the count; the same layout as L{stack_nss_report}.

    @param now: when the report is made, for the heading.
    @param localtime: turns seconds since the epoch into the local time
        that the heading and the times show, as IBM's do.
    """
    when = _local_times(localtime)
    return _listing(
        primary="NSS Server",
        source="Server",
        systemName=systemName,
        entries=[_nss_server_values(info, when) for info in infos],
        now=now,
        localtime=localtime,
    )


def nss_server_json(systemName: str, infos: Sequence[NssClientInfo]) -> dict[str, Any]:
    """
    The data of C{ipsec -x display} for programs, typed as
    L{stack_nss_json}'s: C{null} for n/a, booleans, numbers for ports,
    times in ISO 8601 UTC.
    """
    return _listing_json(
        primary="NSS Server",
        source="Server",
        systemName=systemName,
        entries=[_nss_server_values(info, _utc_time) for info in infos],
    )


# The filter report.

_PROTOCOLS = {1: "ICMP", 6: "TCP", 17: "UDP", 50: "ESP", 51: "AH", 58: "ICMPv6"}

_SCOPES = {"current": "Current", "policy": "Policy", "profile": "Profile"}


def _filter_values(rule: FilterRecordInfo) -> list[tuple[str, Any]]:
    """
    The lines of one rule as typed values, C{None} for n/a: shared by the
    report and the JSON.  IBM's labels and order as far as the reference
    gives them; what iked does not model (groups, tunnels, security
    classes, ...) is n/a.
    """
    values: list[tuple[str, Any]] = [
        ("FilterName", rule.filterName),
        ("FilterNameExtension", None),
        ("GroupName", None),
        ("LocalStartActionName", None),
        ("VpnActionName", None),
        ("TunnelID", None),
        ("Type", rule.filterType.text),
        ("DefensiveType", None),
        ("State", rule.state.text),
        ("Action", rule.action.text),
        ("Scope", rule.scope.text),
        ("Direction", rule.direction.text),
        ("OnDemand", None),
        ("SecurityClass", None),
        ("Logging", rule.logging.text),
        ("Protocol", rule.protocol),
    ]
    for label, address, prefix, (low, high) in [
        ("Source", rule.sourceAddress, rule.sourcePrefix, rule.sourcePorts),
        (
            "Dest",
            rule.destinationAddress,
            rule.destinationPrefix,
            rule.destinationPorts,
        ),
    ]:
        values += [
            (f"{label}Address", address),
            (f"{label}AddressPrefix", prefix),
            (f"{label}Port", low),
            (f"{label}PortRange", high if high != low else None),
        ]
    return values


def _shown_set(report: FilterReport, scope: str) -> FilterSet:
    """The set whose rules a report of C{-c scope} shows."""
    if scope == "policy":
        return FilterSet.POLICY
    if scope == "profile":
        return FilterSet.DEFAULT
    return report.currentSet


def _filter_shown(name: str, value: Any, ports: dict[str, Any]) -> str:
    if name == "Protocol":
        if value == 0:
            return "All"
        known = _PROTOCOLS.get(value)
        return f"{known}({value})" if known else str(value)
    if name in ("SourcePort", "DestPort") and value == 0 and ports[name] is None:
        return "All"
    return _shown(value)


def filter_report(
    report: FilterReport,
    now: float,
    *,
    scope: str = "current",
    clientName: str | None = None,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> list[str]:
    """
    The lines of C{ipsec -f display}: IBM's three heading lines (with the
    stack's name, or the client's for C{-z}), the filter heading's
    C{Logging}/C{Predecap}/C{DVIPSec} and C{NatKeepAlive}/C{FIPS140} lines,
    a blank line, each rule's block followed by asterisks, a blank line
    and the count.  With no rule, one blank line precedes the count.

    @param scope: C{current}, C{policy} or C{profile}, as C{-c} said.
    @param clientName: the client of C{-z}, which the heading names
        instead of the stack.
    """
    shownSet = _shown_set(report, scope)
    if clientName is None:
        label, name = "Stack Name", report.stackName
    else:
        label, name = "NSS Client Name", clientName
    settings = report.settings
    lines = heading_lines(
        targetLabel=label,
        targetName=name,
        primary="Filter",
        function="Display",
        source=shownSet.source,
        scope=_SCOPES[scope],
        totAvail=len(report.rules),
        when=localtime(now),
    )
    lines += [
        f"{'Logging:':<10}{'On' if settings.logging else 'Off':<16}"
        f"{'Predecap:':<10}{'On' if settings.predecap else 'Off':<20}"
        f"{'DVIPSec:':<10}{_yes_no(settings.dvipsec)}",
        f"{f'NatKeepAlive: {settings.natKeepAlive}':<26}"
        f"{'FIPS140:':<10}{_yes_no(settings.fips140)}",
        "",
    ]
    for rule in report.rules:
        values = _filter_values(rule)
        byName = dict(values)
        ranges = {
            "SourcePort": byName["SourcePortRange"],
            "DestPort": byName["DestPortRange"],
        }
        lines += detail_lines(
            [(label, _filter_shown(label, value, ranges)) for label, value in values]
        )
        lines.append(SEPARATOR)
    if report.rules:
        lines.append("")
    lines.append(_entries_selected(len(report.rules)))
    return lines


def filter_json(report: FilterReport, scope: str = "current") -> dict[str, Any]:
    """
    The data of C{ipsec -f display} for programs: the report's names as
    keys, C{null} for n/a, numbers for the protocol (0 = all), prefixes
    and ports (C{SourcePort} 0 with C{SourcePortRange} null = all).
    """
    shownSet = _shown_set(report, scope)
    settings = report.settings
    return {
        "Primary": "Filter",
        "Function": "Display",
        "StackName": report.stackName,
        "Source": shownSet.source,
        "Scope": _SCOPES[scope],
        "CurrentSet": "Policy" if report.currentSet == FilterSet.POLICY else "Default",
        "Logging": settings.logging,
        "Predecap": settings.predecap,
        "DVIPSec": settings.dvipsec,
        "NatKeepAlive": settings.natKeepAlive,
        "FIPS140": settings.fips140,
        "TotAvail": len(report.rules),
        "Entries": [dict(_filter_values(rule)) for rule in report.rules],
    }


def filter_control_report(controls: Sequence[TunnelControl]) -> list[str]:
    """
    The output of C{ipsec -f default} and C{-f reload}: IBM's small table
    of control output (C{Tunnel ID  Status}), here with the stack that
    switched and what happened (C{State updated}, C{State already set}).
    """
    width = max([len("Stack Name"), *(len(c.name) for c in controls)]) + 2
    return [f"{'Stack Name':<{width}}Status"] + [
        f"{c.name:<{width}}{c.status.text}" for c in controls
    ]


def filter_control_json(
    function: str, controls: Sequence[TunnelControl]
) -> dict[str, Any]:
    """The data of C{ipsec -f default|reload} for programs."""
    return {
        "Primary": "Filter",
        "Function": function.capitalize(),
        "Entries": [{"StackName": c.name, "Status": c.status.text} for c in controls],
    }


# The tunnel reports.

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


# The stack reports: -i (interfaces) and -o (NAT traversal port
# translations).


def _interface_values(info: InterfaceInfo) -> list[tuple[str, Any]]:
    """One interface address as typed values, C{None} for n/a."""
    return [
        ("InterfaceName", info.interfaceName),
        ("InterfaceAddress", info.address),
        ("AddressPrefix", info.prefix),
        ("SecurityClass", info.securityClass),
        ("DVIPA", info.dvipa),
        ("InterfaceIndex", info.index or None),
    ]


def _porttran_values(
    info: PortTranslationInfo, when: Callable[[int], str | None]
) -> list[tuple[str, Any]]:
    """One port translation as typed values, C{None} for n/a."""
    return [
        ("RemoteAddress", info.remoteAddress),
        ("RemotePort", info.remotePort),
        ("TranslatedPort", info.translatedPort),
        ("Protocol", f"{PROTOCOLS[info.protocol]}({info.protocol})"),
        ("TimeCreated", when(info.timeCreated)),
        ("TunnelID", info.tunnelId or None),
    ]


def _stack_listing(
    *,
    primary: str,
    stackName: str,
    clientName: str | None,
    entries: Sequence[Sequence[tuple[str, Any]]],
    now: float,
    localtime: Callable[[float], time.struct_time],
) -> list[str]:
    """
    The lines of C{-i display} and C{-o display}, laid out as the tunnel
    reports: the heading (the stack, or the client for C{-z}; C{Source:
    Stack}, C{Scope: Current}), a blank line, each entry's block followed
    by asterisks, a blank line and the count.  With no entry, one blank
    line precedes the count.
    """
    if clientName is None:
        label, target = "Stack Name", stackName
    else:
        label, target = "NSS Client Name", clientName
    lines = heading_lines(
        targetLabel=label,
        targetName=target,
        primary=primary,
        function="Display",
        source="Stack",
        scope="Current",
        totAvail=len(entries),
        when=localtime(now),
    )
    lines.append("")
    for values in entries:
        lines += detail_lines([(name, _shown(value)) for name, value in values])
        lines.append(SEPARATOR)
    if entries:
        lines.append("")
    lines.append(_entries_selected(len(entries)))
    return lines


def _stack_listing_json(
    primary: str, stackName: str, entries: Sequence[Sequence[tuple[str, Any]]]
) -> dict[str, Any]:
    return {
        "Primary": primary,
        "Function": "Display",
        "StackName": stackName,
        "Source": "Stack",
        "TotAvail": len(entries),
        "Entries": [dict(values) for values in entries],
    }


def interface_report(
    stackName: str,
    interfaces: Sequence[InterfaceInfo],
    now: float,
    *,
    clientName: str | None = None,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> list[str]:
    """
    The lines of C{ipsec -i display}: one block per interface address
    (name, address, prefix, security class, DVIPA, index).

    @param clientName: the client of C{-z}, which the heading names
        instead of the stack.
    """
    return _stack_listing(
        primary="Interface",
        stackName=stackName,
        clientName=clientName,
        entries=[_interface_values(info) for info in interfaces],
        now=now,
        localtime=localtime,
    )


def interface_json(
    stackName: str, interfaces: Sequence[InterfaceInfo]
) -> dict[str, Any]:
    """
    The data of C{ipsec -i display} for programs: numbers for the prefix,
    the security class and the index (C{null} when not known), a boolean
    for C{DVIPA}.
    """
    return _stack_listing_json(
        "Interface", stackName, [_interface_values(info) for info in interfaces]
    )


def port_translation_report(
    stackName: str,
    translations: Sequence[PortTranslationInfo],
    now: float,
    *,
    clientName: str | None = None,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> list[str]:
    """
    The lines of C{ipsec -o display}: one block per NAT traversal port
    translation, with the time it was made in local time.
    """
    when = _local_times(localtime)
    return _stack_listing(
        primary="NATT Port Trans",
        stackName=stackName,
        clientName=clientName,
        entries=[_porttran_values(info, when) for info in translations],
        now=now,
        localtime=localtime,
    )


def port_translation_json(
    stackName: str, translations: Sequence[PortTranslationInfo]
) -> dict[str, Any]:
    """
    The data of C{ipsec -o display} for programs: numbers for the ports,
    C{TimeCreated} in ISO 8601 UTC, C{null} for n/a.
    """
    return _stack_listing_json(
        "NATT Port Trans",
        stackName,
        [_porttran_values(info, _utc_time) for info in translations],
    )
