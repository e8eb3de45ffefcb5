"""
What every report of C{nss-ipsec} shares: IBM's primary options
(L{PRIMARIES}), the three heading lines, C{Name: value} detail lines in one
column, asterisk separators, C{N entries selected}, and how values and
times are shown in the report (local) and in the JSON (UTC).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "PRIMARIES",
    "RELEASE",
    "Primary",
    "detail_lines",
    "heading_lines",
    "json_time",
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


def json_time(moment: datetime) -> str:
    """
    A time as every command's C{--json} writes it: ISO 8601 in UTC, to the
    second (a naive time is taken as UTC).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_time(seconds: int) -> str | None:
    """The JSON's times: ISO 8601 UTC, C{None} for 0."""
    if not seconds:
        return None
    return json_time(datetime.fromtimestamp(seconds, UTC))


# IP protocols by name, as the filter and tunnel reports show them.
_PROTOCOLS = {1: "ICMP", 6: "TCP", 17: "UDP", 50: "ESP", 51: "AH", 58: "ICMPv6"}
