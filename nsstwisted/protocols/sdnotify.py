"""
systemd's readiness protocol (sd_notify(3)) from the daemon's side, so that
a unit of C{Type=notify} learns when nssd or iked serves, reloads and stops.

The protocol is one datagram of C{KEY=value} lines to the C{AF_UNIX}
socket that C{$NOTIFY_SOCKET} names (an abstract socket when the name
starts with C{@}).  Written here rather than taken from a library: it is a
dozen lines, and a dependency for it would be the only one that only
systemd hosts need.

It lives beside L{nsstwisted.protocols.startup}, the other half of how the
daemons start: the lowest layer that both nssd and iked import (they never
import each other), and the layer that may do I/O.  It imports no Twisted:
a send is one system call on the reactor thread, which waits for room in
systemd's queue for a second at most.

Without C{$NOTIFY_SOCKET} (not under systemd, or a unit of another type)
every notice is a no-op.  A notice that cannot be sent is dropped and
reported to the caller: the daemon serves on either way.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence

__all__ = ["NOTIFY_SOCKET", "ReadinessNotifier", "notice", "notify_address"]

#: The environment variable systemd names its notification socket in.
NOTIFY_SOCKET = "NOTIFY_SOCKET"

#: How long a send may wait for room in systemd's queue.
SEND_TIMEOUT = 1.0


def notify_address(environ: Mapping[str, str]) -> str | None:
    """
    The address of the notification socket C{environ} names, in the form
    L{socket.socket.sendto} takes: a path, or an abstract name with its
    leading NUL.

    @return: L{None} without C{$NOTIFY_SOCKET}, or for an address this
        module does not speak (systemd's C{vsock:} form, for virtual
        machines).
    """
    name = environ.get(NOTIFY_SOCKET, "")
    if name.startswith("@") and len(name) > 1:
        return "\0" + name[1:]
    if name.startswith("/"):
        return name
    return None


def notice(fields: Sequence[tuple[str, str]]) -> bytes:
    """
    The datagram of C{fields}: one C{KEY=value} line each.

    @raise ValueError: a value holds a newline, which would end its field
        early and could forge another (a status quoting an operator's
        configuration file, say).
    """
    lines = []
    for key, value in fields:
        if "\n" in value or "\n" in key or "=" in key:
            raise ValueError(f"not a notification field: {key!r}={value!r}")
        lines.append(f"{key}={value}")
    return ("\n".join(lines) + "\n").encode()


def _status(text: str) -> str:
    return " ".join(text.split())


class ReadinessNotifier:
    """
    Tells the service manager what the daemon is doing.

    Reads the environment at each notice, as sd_notify(3) does, so that one
    notifier serves a daemon whatever its environment was when it was made.

    @ivar environ: the environment to read C{$NOTIFY_SOCKET} from; by
        default the process's own.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ

    def ready(self, status: str) -> bool:
        """
        The daemon serves: every socket it listens on is bound and the
        reactor runs.  Also the end of a reload.
        """
        return self.send(
            [("READY", "1"), ("STATUS", _status(status)), ("MAINPID", str(os.getpid()))]
        )

    def reloading(self, status: str) -> bool:
        """
        The daemon rereads its configuration; L{ready} follows, whether
        the refresh was taken or rejected.  C{MONOTONIC_USEC} is the time
        of the request, which systemd matches a reload with.
        """
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send(
            [
                ("RELOADING", "1"),
                ("STATUS", _status(status)),
                ("MONOTONIC_USEC", str(now)),
            ]
        )

    def stopping(self, status: str) -> bool:
        """
        The daemon is stopping.
        """
        return self.send([("STOPPING", "1"), ("STATUS", _status(status))])

    def send(self, fields: Sequence[tuple[str, str]]) -> bool:
        """
        Send C{fields} to the notification socket, if there is one.

        @return: whether the notice was sent: L{False} without a socket, or
            when the send failed (systemd gone, its queue full for
            L{SEND_TIMEOUT}).
        """
        address = notify_address(os.environ if self.environ is None else self.environ)
        if address is None:
            return False
        datagram = notice(fields)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.settimeout(SEND_TIMEOUT)
            try:
                s.sendto(datagram, address)
            except OSError:
                return False
        return True
