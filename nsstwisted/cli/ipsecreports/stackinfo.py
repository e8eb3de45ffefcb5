"""
The stack reports: C{ipsec -i} (interfaces) and C{ipsec -o} (NAT traversal
port translations); and their JSON forms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from nsstwisted.cli.ipsecreports.layout import (
    SEPARATOR,
    _entries_selected,
    _local_times,
    _shown,
    _utc_time,
    detail_lines,
    heading_lines,
)
from nsstwisted.wire.stackinfo import PROTOCOLS, InterfaceInfo, PortTranslationInfo

__all__ = [
    "interface_json",
    "interface_report",
    "port_translation_json",
    "port_translation_report",
]


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
