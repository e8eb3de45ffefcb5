"""
The value of C{NetworkSecurityServer} and C{NetworkSecurityServerBackup}:
a host, its port and the identity the server's certificate must show
(L{NssServerAddress}).  The identity is checked here as the NSS client
will read it, so that a value the client could not use is refused when
the file is loaded rather than at every connection attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nsstwisted.config import Setting, format_value
from nsstwisted.config.identities import (
    IDENTITY_KINDS,
    identity_problem,
    is_host_name,
    is_ip_address,
)
from nsstwisted.config.values import setting_error as _error
from nsstwisted.iked.configuration.values import _digits
from nsstwisted.wire.fields import has_control_character
from nsstwisted.wire.nss import NSS_PORT

__all__ = ["DEFAULT_PORT", "IDENTITY_KINDS", "NssServerAddress"]

DEFAULT_PORT = NSS_PORT


@dataclass(frozen=True)
class NssServerAddress:
    """
    An NSS server, as C{NetworkSecurityServer} or
    C{NetworkSecurityServerBackup} names it.

    @ivar host: an IP address or a host name, as written.
    @ivar port: its TCP port.
    @ivar identityKind: what C{identity} is, in IBM's spelling (one of
        L{IDENTITY_KINDS}); L{None} when the server's certificate is to be
        checked against C{host} instead.
    @ivar identity: the identity the server's certificate must show.
    """

    host: str
    port: int = DEFAULT_PORT
    identityKind: str | None = None
    identity: str | None = None

    def describe(self) -> str:
        """
        The value as it is written in the file: C{host Port p [Identity kind
        value]}.  The port is always shown, since a display is read by
        someone who wants to know it.
        """
        text = f"{format_value(self.host)} Port {self.port}"
        if self.identityKind is not None and self.identity is not None:
            text += f" Identity {self.identityKind} {format_value(self.identity)}"
        return text

    def display_data(self) -> dict[str, Any]:
        """The value of L{describe} as data, for C{--json}."""
        return {
            "Host": self.host,
            "Port": self.port,
            "IdentityKind": self.identityKind,
            "Identity": self.identity,
        }


_SERVER_SYNTAX = "host [Port port] [Identity IpAddr|Fqdn|UserAtFqdn|X500dn value]"
_IDENTITY_KIND_NAMES = {kind.lower(): kind for kind in IDENTITY_KINDS}


def _server(setting: Setting, filename: str) -> NssServerAddress:
    values = setting.values
    if not values:
        raise _error(setting, filename, f"takes {_SERVER_SYNTAX}")
    host = values[0]
    # "NetworkSecurityServer Port 4159": a host named "port" is possible,
    # but a forgotten host is far likelier.
    keywords = ("port", "identity")
    if host.lower() in keywords and values[1:2] and values[1].lower() not in keywords:
        raise _error(
            setting, filename, f"the host is missing: the value is {_SERVER_SYNTAX}"
        )
    if has_control_character(host) or not (is_ip_address(host) or is_host_name(host)):
        raise _error(
            setting, filename, f"the host {host!r} is not an IP address or host name"
        )
    port: int | None = None
    kind: str | None = None
    identity: str | None = None
    index = 1
    while index < len(values):
        word = values[index].lower()
        if word == "port":
            if port is not None:
                raise _error(setting, filename, "Port is given twice")
            number = values[index + 1] if index + 1 < len(values) else ""
            checked = _digits(number, 1, 65535)
            if checked is None:
                raise _error(setting, filename, "Port must be a number from 1 to 65535")
            port = checked
            index += 2
        elif word == "identity":
            if kind is not None:
                raise _error(setting, filename, "Identity is given twice")
            if index + 2 >= len(values):
                raise _error(
                    setting,
                    filename,
                    "Identity takes a kind (IpAddr, Fqdn, UserAtFqdn or X500dn)"
                    " and a value",
                )
            kind = _IDENTITY_KIND_NAMES.get(values[index + 1].lower())
            if kind is None:
                raise _error(
                    setting,
                    filename,
                    f"the Identity kind {values[index + 1]!r} must be IpAddr, Fqdn,"
                    " UserAtFqdn or X500dn",
                )
            identity = values[index + 2]
            rest = values[index + 3 : index + 4]
            if kind == "X500dn" and rest and rest[0].lower() not in keywords:
                raise _error(
                    setting,
                    filename,
                    f"unexpected {rest[0]!r} after the X500dn value:"
                    " quote an X500dn value that holds blanks",
                )
            problem = (
                "holds a control character"
                if has_control_character(identity)
                else identity_problem(kind, identity)
            )
            if problem is not None:
                raise _error(setting, filename, f"Identity {kind}: {problem}")
            index += 3
        else:
            raise _error(
                setting,
                filename,
                f"unexpected {values[index]!r}: the value is {_SERVER_SYNTAX}",
            )
    return NssServerAddress(
        host, DEFAULT_PORT if port is None else port, kind, identity
    )
