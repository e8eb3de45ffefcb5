"""
A local syslog daemon's socket, for the audit trail's syslog tests: a real
C{AF_UNIX} datagram socket bound in a test's folder, read without blocking.
"""

from __future__ import annotations

import os
import socket


class SyslogReceiver:
    """
    The receiving end of C{/dev/log}, bound at C{path}.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(path)
        self._socket.setblocking(False)

    def datagrams(self) -> list[bytes]:
        """What has arrived since the last call."""
        received = []
        while True:
            try:
                received.append(self._socket.recv(65536))
            except BlockingIOError:
                return received

    def close(self) -> None:
        """Stop, as a syslog daemon that went away: its socket is gone."""
        self._socket.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
