"""
strongSwan's port rules (RFC 3948 as strongSwan applies them): on any port
pair where neither end is 500, IKE and UDP-encapsulated ESP share the
socket, so every IKE datagram carries the four-octet non-ESP marker, and a
datagram without it is ESP (or a NAT-T keepalive), not IKE.  A peer that
omits the marker there is silently ignored by strongSwan, which is why
both directions here follow the rule exactly.
"""

from __future__ import annotations

from nsstwisted.ike.constants import IKE_PORT, NATT_KEEPALIVE, NON_ESP_MARKER

__all__ = ["frame", "needs_marker", "unframe"]


def needs_marker(localPort: int, remotePort: int) -> bool:
    """Whether IKE between these ports carries the non-ESP marker."""
    return localPort != IKE_PORT and remotePort != IKE_PORT


def frame(message: bytes, localPort: int, remotePort: int) -> bytes:
    """The datagram that carries C{message} between these ports."""
    if needs_marker(localPort, remotePort):
        return NON_ESP_MARKER + message
    return message


def unframe(datagram: bytes, localPort: int, remotePort: int) -> bytes | None:
    """
    The IKE message in C{datagram}, or L{None} for a datagram that is not
    IKE: a NAT-T keepalive, ESP (no marker where one is due) or a runt.
    """
    if datagram == NATT_KEEPALIVE:
        return None
    if needs_marker(localPort, remotePort):
        if len(datagram) < len(NON_ESP_MARKER) or not datagram.startswith(
            NON_ESP_MARKER
        ):
            return None
        return datagram[len(NON_ESP_MARKER) :]
    return datagram
