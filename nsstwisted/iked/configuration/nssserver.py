"""
The value of C{NetworkSecurityServer} and C{NetworkSecurityServerBackup}:
a host, its port and the identity the server's certificate must show
(L{NssServerAddress}).  The identity is checked here as the NSS client
will read it, so that a value the client could not use is refused when
the file is loaded rather than at every connection attempt.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from nsstwisted.config import Setting, format_value
from nsstwisted.config.values import setting_error as _error
from nsstwisted.iked.configuration.values import _digits
from nsstwisted.wire.fields import has_control_character
from nsstwisted.wire.nss import NSS_PORT

__all__ = ["DEFAULT_PORT", "IDENTITY_KINDS", "NssServerAddress"]

DEFAULT_PORT = NSS_PORT

IDENTITY_KINDS = ("IpAddr", "Fqdn", "UserAtFqdn", "X500dn")
"""The kinds of C{Identity}, in IBM's spelling, which the model keeps."""

# The NSS protocol's limit on a distinguished name (the IDENTITY field).
MAX_DN_BYTES = 1024

_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


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


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host_name(text: str) -> bool:
    name = text.removesuffix(".")
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    # An all-digit last label is a mistyped IP address, not a name.
    if labels[-1].isdigit():
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


# RFC 4514, as the NSS client reads it (cryptography's from_rfc4514_string):
# attribute types by short name or dotted OID, no blanks around separators.
_DN_TYPES = {
    "CN": "2.5.4.3",
    "L": "2.5.4.7",
    "ST": "2.5.4.8",
    "O": "2.5.4.10",
    "OU": "2.5.4.11",
    "C": "2.5.4.6",
    "STREET": "2.5.4.9",
    "DC": "0.9.2342.19200300.100.1.25",
    "UID": "0.9.2342.19200300.100.1.1",
}
# Limits in UTF-8 bytes that the client's parser enforces, by OID.
_DN_SIZES = {
    "2.5.4.3": (1, 64),
    "2.5.4.6": (2, 2),
    "1.3.6.1.4.1.311.60.2.1.3": (2, 2),
}
_DN_TYPE = re.compile(r"(0|[1-9]\d*)(\.(0|[1-9]\d*))+|[A-Za-z][A-Za-z0-9-]*")
_DN_SPECIAL = r"[\\ #=\"+,;<>]"
_DN_PAIR = rf"\\(?:{_DN_SPECIAL}|[0-9A-Fa-f]{{2}})"
_DN_LEAD = r"[\x01-\x1f\x21\x24-\x2a\x2d-\x3a\x3d\x3f-\x5b\x5d-\x7f\x80-\U0010ffff]"
_DN_CHAR = r"[\x01-\x21\x23-\x2a\x2d-\x3a\x3d\x3f-\x5b\x5d-\x7f\x80-\U0010ffff]"
_DN_TRAIL = r"[\x01-\x1f\x21\x23-\x2a\x2d-\x3a\x3d\x3f-\x5b\x5d-\x7f\x80-\U0010ffff]"
_DN_STRING = re.compile(
    rf"(?:{_DN_LEAD}|{_DN_PAIR})(?:(?:{_DN_CHAR}|{_DN_PAIR})*(?:{_DN_TRAIL}|{_DN_PAIR}))?"
)
_DN_HEX = re.compile(r"#(?:[0-9A-Fa-f]{2})+")
_DN_ESCAPES = re.compile(rf"\\({_DN_SPECIAL})|((?:\\[0-9A-Fa-f]{{2}})+)")


def _dn_value(raw: str) -> str | None:
    """The unescaped value of an attribute, or None if it is not text."""
    try:
        if raw.startswith("#"):
            return bytes.fromhex(raw[1:]).decode("utf-8")
        return _DN_ESCAPES.sub(
            lambda m: (
                m.group(1)
                or bytes.fromhex(m.group(2).replace("\\", "")).decode("utf-8")
            ),
            raw,
        )
    except UnicodeDecodeError:
        return None


def _valid_oid(text: str) -> bool:
    # X.660: the first arc is 0, 1 or 2; under 0 and 1 the second is below 40.
    first, second = (int(arc) for arc in text.split(".")[:2])
    return first == 2 or (first < 2 and second < 40)


def _is_dn(text: str) -> bool:
    if not text or len(text.encode("utf-8")) > MAX_DN_BYTES:
        return False
    index, length = 0, len(text)
    rdn: set[tuple[str, str]] = set()
    while True:
        kind = _DN_TYPE.match(text, index)
        if kind is None:
            return False
        name = kind.group()
        oid = name if name[0].isdigit() else _DN_TYPES.get(name)
        if oid is None or not _valid_oid(oid):
            return False
        index = kind.end()
        if index >= length or text[index] != "=":
            return False
        index += 1
        raw = (_DN_HEX if text.startswith("#", index) else _DN_STRING).match(
            text, index
        )
        if raw is None:
            return False
        value = _dn_value(raw.group())
        low, high = _DN_SIZES.get(oid, (1, MAX_DN_BYTES))
        if value is None or not low <= len(value.encode("utf-8")) <= high:
            return False
        # A multi-valued RDN may not hold the same attribute twice.
        if (oid, value) in rdn:
            return False
        rdn.add((oid, value))
        index = raw.end()
        if index == length:
            return True
        if text[index] == ",":
            rdn = set()
        elif text[index] != "+":
            return False
        index += 1


def _identity_problem(kind: str, value: str) -> str | None:
    if has_control_character(value):
        return "holds a control character"
    if kind == "IpAddr" and not _is_ip(value):
        return f"{value!r} is not an IP address"
    if kind == "Fqdn" and not _is_host_name(value):
        return f"{value!r} is not a host name"
    if kind == "UserAtFqdn":
        user, at, domain = value.rpartition("@")
        if (
            not at
            or not user
            or any(c.isspace() or c == "@" for c in user)
            or not _is_host_name(domain)
        ):
            return f"{value!r} is not user@host.name"
    if kind == "X500dn" and not _is_dn(value):
        return (
            f"{value!r} is not a distinguished name as RFC 4514 writes it,"
            " such as CN=nssd,O=Example: attribute types CN L ST O OU C"
            " STREET DC UID or dotted OIDs, no blank after a comma"
            " (quote a value that holds blanks)"
        )
    return None


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
    if has_control_character(host) or not (_is_ip(host) or _is_host_name(host)):
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
            problem = _identity_problem(kind, identity)
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
