"""
The identities a certificate may be asked to show, as iked.conf writes
them (C{Identity IpAddr|Fqdn|UserAtFqdn|X500dn value}) and the
configuration assistant's description too: their kinds and what makes a
value one the NSS client can use.  Shared here so that iked's configuration
and the assistant check an identity by one rule.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "IDENTITY_KINDS",
    "MAX_DN_BYTES",
    "identity_problem",
    "is_distinguished_name",
    "is_host_name",
    "is_ip_address",
]

IDENTITY_KINDS = ("IpAddr", "Fqdn", "UserAtFqdn", "X500dn")
"""The kinds of C{Identity}, in IBM's spelling, which the model keeps."""

# The NSS protocol's limit on a distinguished name (the IDENTITY field).
MAX_DN_BYTES = 1024

_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_host_name(text: str) -> bool:
    """A host name as RFC 1123 writes it, a final dot allowed."""
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


def is_distinguished_name(text: str) -> bool:
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


def identity_problem(kind: str, value: str) -> str | None:
    """
    What is wrong with an identity of C{kind} (one of L{IDENTITY_KINDS}, in
    IBM's spelling), or C{None} if the NSS client can use it.  Control
    characters are the caller's to refuse (the wire layer's rule).
    """
    if kind == "IpAddr" and not is_ip_address(value):
        return f"{value!r} is not an IP address"
    if kind == "Fqdn" and not is_host_name(value):
        return f"{value!r} is not a host name"
    if kind == "UserAtFqdn":
        user, at, domain = value.rpartition("@")
        if (
            not at
            or not user
            or any(c.isspace() or c == "@" for c in user)
            or not is_host_name(domain)
        ):
            return f"{value!r} is not user@host.name"
    if kind == "X500dn" and not is_distinguished_name(value):
        return (
            f"{value!r} is not a distinguished name as RFC 4514 writes it,"
            " such as CN=nssd,O=Example: attribute types CN L ST O OU C"
            " STREET DC UID or dotted OIDs, no blank after a comma"
            " (quote a value that holds blanks)"
        )
    return None
