"""
The reports on NSS clients: C{ipsec -w}, each iked stack as an NSS client,
and C{ipsec -x}, the clients connected to an nssd; and their JSON forms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from nsstwisted.cli.ipsecreports.layout import (
    NOT_APPLICABLE,
    SEPARATOR,
    _entries_selected,
    _local_times,
    _shown,
    _utc_time,
    detail_lines,
    heading_lines,
)
from nsstwisted.wire.clientinfo import NssClientInfo
from nsstwisted.wire.ikensinfo import IkeNssInfo

__all__ = [
    "nss_server_json",
    "nss_server_report",
    "stack_nss_json",
    "stack_nss_report",
]


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
