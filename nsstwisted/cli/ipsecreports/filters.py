"""
The filter report, C{ipsec -f display}, and the answers of its control
functions C{default} and C{reload}; and their JSON forms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from nsstwisted.cli.ipsecreports.layout import (
    _PROTOCOLS,
    SEPARATOR,
    _entries_selected,
    _shown,
    _yes_no,
    detail_lines,
    heading_lines,
)
from nsstwisted.wire.filters import (
    FilterRecordInfo,
    FilterReport,
    FilterSet,
    TunnelControl,
)

__all__ = [
    "filter_control_json",
    "filter_control_report",
    "filter_json",
    "filter_report",
]

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
