"""
The audit trail's syslog target: each record's JSON line as one datagram to
the local syslog socket, shared by nssd and C{nss-racf} as the file format
is (L{nsstwisted.security.auditline}).

The datagram is what the C library's C{syslog()} sends to C{/dev/log}
(C{<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE}), which rsyslog, syslog-ng and
journald all parse; C{syslog()} itself is not used because it cannot say
that a record was not taken, and an audit trail that must refuse what it
cannot record needs to know.  A datagram socket does not guarantee more
than that the local daemon's socket accepted the record, which is what a
local syslog target can promise; forwarding it further is the daemon's
configuration.
"""

from __future__ import annotations

import os
import socket
import time

__all__ = [
    "DEFAULT_SOCKET",
    "FACILITIES",
    "SyslogTarget",
    "syslog_datagram",
]

DEFAULT_SOCKET = "/dev/log"

FACILITIES = {
    "user": 1,
    "daemon": 3,
    "auth": 4,
    "authpriv": 10,
    **{f"local{n}": 16 + n for n in range(8)},
}
"""The facilities an audit trail may be sent to, by their C{syslog.conf}
names: the security facilities and the local ones a site routes itself."""

SEVERITY_INFO = 6
SEND_TIMEOUT = 1.0
"""Seconds one datagram may wait for room at a busy syslog daemon before
the record counts as not written."""

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _rfc3164_time(when: float) -> str:
    """
    The local time as RFC 3164 writes it (C{Dec  8 01:02:03}), spelled here
    rather than by C{strftime}, whose month names follow the locale.
    """
    t = time.localtime(when)
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {clock}"


def syslog_datagram(
    facility: int, tag: str, pid: int, when: float, line: bytes
) -> bytes:
    """
    One audit record as a syslog datagram at severity C{info}: the record
    says whether it was a success or a refusal, and a site that sorts by
    severity routes the whole trail to one place.

    @param line: the record's JSON line; its newline is dropped.
    """
    header = f"<{facility * 8 + SEVERITY_INFO}>{_rfc3164_time(when)} {tag}[{pid}]: "
    return header.encode("ascii") + line.rstrip(b"\n")


class SyslogTarget:
    """
    A connection to the local syslog socket, made at the first record and
    made again after a failure (the daemon restarted, its socket moved).

    @ivar facility: the facility's number (L{FACILITIES}).
    @ivar path: the socket's path, C{/dev/log} unless configured.
    """

    def __init__(self, facility: int, path: str = DEFAULT_SOCKET, tag: str = "nssd"):
        self.facility = facility
        self.path = path
        self._tag = tag
        self._socket: socket.socket | None = None

    def send(self, lines: list[bytes]) -> None:
        """
        Send each record as a datagram of its own.

        @raise OSError: the socket is missing, refuses, or stayed full for
            L{SEND_TIMEOUT}; the records from the first unsent one on were
            not taken, and the next call connects again.
        """
        try:
            if self._socket is None:
                self._socket = self._connect()
            when = time.time()
            pid = os.getpid()
            for line in lines:
                self._socket.send(
                    syslog_datagram(self.facility, self._tag, pid, when, line)
                )
        except TimeoutError:
            self.close()
            raise OSError(0, f"the syslog socket {self.path} stayed full") from None
        except OSError as e:
            self.close()
            raise OSError(e.errno, f"{self.path}: {e.strerror or e}") from None

    def _connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.settimeout(SEND_TIMEOUT)
            s.connect(self.path)
        except BaseException:
            s.close()
            raise
        return s

    def check(self) -> None:
        """
        Connect and disconnect, as a start or refresh does before accepting
        the target; the connection the records use is the sender's own.

        @raise OSError: it cannot be reached.
        """
        try:
            self._connect().close()
        except OSError as e:
            raise OSError(e.errno, f"{self.path}: {e.strerror or e}") from None

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
