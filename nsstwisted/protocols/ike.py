"""
IKE over UDP: a thin adapter between a socket and whoever drives the
engine.  It applies strongSwan's port rules (L{nsstwisted.ike.ports}) in
both directions and nothing else: no state, no parsing.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.protocol import DatagramProtocol

from nsstwisted.ike.events import Endpoint
from nsstwisted.ike.ports import frame, unframe

__all__ = ["IkeDatagramProtocol"]

Deliver = Callable[[bytes, Endpoint, Endpoint], None]


class IkeDatagramProtocol(DatagramProtocol):
    """
    One IKE socket.

    @ivar local: the address and port it is bound to, which the engine
        needs for NAT detection (Twisted gives no IP_PKTINFO, so sockets
        are bound to a specific address).
    """

    # Twisted's "Starting protocol" and "Stopping protocol" lines, at every
    # start and refresh of a stack, tell an operator nothing.
    noisy = False

    def __init__(self, local: Endpoint, deliver: Deliver) -> None:
        self.local = local
        self._deliver = deliver

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        remote = (addr[0], addr[1])
        message = unframe(datagram, self.local[1], remote[1])
        if message is not None:
            self._deliver(message, self.local, remote)

    def send(self, message: bytes, remote: Endpoint, raw: bool = False) -> None:
        """Send an IKE message (or, C{raw}, a keepalive as it is)."""
        if self.transport is None:
            return
        data = message if raw else frame(message, self.local[1], remote[1])
        self.transport.write(data, remote)
