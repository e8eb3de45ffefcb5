"""
The audit trail's line format, shared by nssd and C{nss-racf}, which append
to the same file: one JSON object per line, its C{time} in UTC (ISO 8601, to
the microsecond) and its C{event} first (the schema is in
C{docs/operations.md}, "Audit trail").

The callers hand over names, codes and hashes only; nothing here could tell
a secret from a name, so the rule that no password, PassTicket or key goes
into a record is kept where the records are built.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

__all__ = ["append_line", "audit_line", "open_audit_file"]

_encode = json.JSONEncoder(separators=(",", ":")).encode
_second: list[Any] = [None, ""]


def _timestamp(when: float) -> str:
    """
    ISO 8601 in UTC to the microsecond; the date and time to the second
    are formatted once a second, which is most of the cost.
    """
    second = int(when)
    if _second[0] != second:
        _second[:] = [
            second,
            datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        ]
    return f"{_second[1]}.{int((when - second) * 1e6):06d}Z"


def audit_line(when: float, event: str, fields: dict[str, Any]) -> bytes:
    """
    One record as the audit file holds it: a JSON object on one line.
    """
    text = _encode({"time": _timestamp(when), "event": event, **fields})
    return (text + "\n").encode("utf-8")


def open_audit_file(path: str) -> int:
    """
    Open C{path} for appending, creating it with mode 0600.

    @raise OSError: it cannot be.
    """
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)


def append_line(fd: int, data: bytes) -> None:
    """
    Append C{data} to the audit file C{fd}: each C{write} of an
    C{O_APPEND} file lands whole at its end, so writers that share the
    file (nssd, C{nss-racf}) do not cut into one another's lines as long
    as each line goes in one call, which a local file system grants.

    @raise OSError: it cannot be written.
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
