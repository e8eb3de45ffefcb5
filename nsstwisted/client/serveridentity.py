"""
Who the NSS server must be: the identity a client checks in the server's
certificate before it sends a single byte of its logon.

A client hands nssd its password or a PassTicket, so a server that only
I{chains} to the trusted CA is not enough: any certificate that CA issued
would do, and a PassTicket captured by such a server logs on at the real one
while its window is open.  The check lives here, in plain code that fails
closed, rather than in a TLS library's verify callback, because a callback
that swallows an unexpected exception keeps the handshake's verdict (that is
how a certificate without subjectAltName got through Twisted 26.10's
C{ClientTLSOptions}).

The kinds are IBM's (C{NetworkSecurityServer ... Identity kind value}):

    - C{Fqdn}: a C{dNSName} of the subjectAltName (RFC 6125 section 6.4,
      with a wildcard only as the whole left-most label);
    - C{IpAddr}: an C{iPAddress} of the subjectAltName (RFC 5280 section
      4.2.1.6); an address written as a C{dNSName} never matches;
    - C{UserAtFqdn}: an C{rfc822Name} of the subjectAltName (the local part
      exactly, the domain without regard to case);
    - C{X500dn}: the subject name, compared as RFC 5280 section 7.1 compares
      names: the same relative distinguished names in the same order, each
      value after RFC 4518's preparation (case and insignificant blanks do
      not count); the comparison is L{nsstwisted.security.distinguishednames},
      the one nssd's SIGN by a DN identity makes too.

The common name is never consulted (RFC 6125 section 6.4.4 allows it only
where no subjectAltName exists, and that is exactly the certificate a client
must refuse).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

from nsstwisted.security.distinguishednames import names_match, parse_name

IdentityKind = Literal["Fqdn", "IpAddr", "UserAtFqdn", "X500dn"]

#: The kinds, in IBM's spelling.
IDENTITY_KINDS: tuple[IdentityKind, ...] = ("IpAddr", "Fqdn", "UserAtFqdn", "X500dn")

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class ServerIdentityMismatch(Exception):
    """
    The server's certificate does not show the identity the client expects;
    the message says what it shows instead, for the operator.
    """


@dataclass(frozen=True)
class ServerIdentity:
    """
    The identity an NSS server's certificate must prove.

    @ivar kind: what C{value} is, in IBM's spelling.
    @ivar value: the host name, address, e-mail address or distinguished
        name (RFC 4514 text, most specific first).
    """

    kind: IdentityKind
    value: str

    @classmethod
    def of_host(cls, host: str) -> ServerIdentity:
        """
        The default identity of a server reached at C{host}: an IP address
        if C{host} is one, else a DNS name.
        """
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return cls("Fqdn", host)
        return cls("IpAddr", host)

    def describe(self) -> str:
        return f"{self.kind} {self.value}"

    def check(self, certificate: x509.Certificate) -> None:
        """
        Refuse C{certificate} unless it proves this identity.

        Whatever goes wrong while looking (a malformed extension, a value
        that does not parse) refuses too: the caller treats every exception
        as a refusal, and this method turns the ones it understands into a
        message an operator can act on.

        @raise ServerIdentityMismatch: the certificate does not prove it.
        """
        if self.kind == "X500dn":
            _check_subject(certificate, self.value)
            return
        names = _alternative_names(certificate)
        if self.kind == "Fqdn":
            wanted = _host_name(self.value)
            if wanted is None:
                raise ServerIdentityMismatch(f"{self.value!r} is not a host name")
            if any(_dns_matches(pattern, wanted) for pattern in _dns_names(names)):
                return
        elif self.kind == "IpAddr":
            address = ipaddress.ip_address(self.value)
            if address in names.get_values_for_type(x509.IPAddress):
                return
        elif self.kind == "UserAtFqdn":
            if any(_mailbox_matches(m, self.value) for m in _mailboxes(names)):
                return
        else:
            raise ServerIdentityMismatch(f"unknown identity kind {self.kind!r}")
        raise ServerIdentityMismatch(
            f"the server's certificate does not name {self.describe()}: "
            f"its subjectAltName holds {_describe_names(names)}"
        )


def _alternative_names(certificate: x509.Certificate) -> x509.SubjectAlternativeName:
    try:
        extension = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        raise ServerIdentityMismatch(
            "the server's certificate has no subjectAltName, so it names no"
            " server (create it with ALTNAME(DOMAIN('host')) or ALTNAME(IP(address)))"
        ) from None
    return extension.value


def _describe_names(names: x509.SubjectAlternativeName) -> str:
    shown: list[str] = []
    for name in names:
        if isinstance(name, x509.DNSName):
            shown.append(f"DNS:{name.value}")
        elif isinstance(name, x509.IPAddress):
            shown.append(f"IP:{name.value}")
        elif isinstance(name, x509.RFC822Name):
            shown.append(f"email:{name.value}")
        else:
            shown.append(type(name).__name__)
    return ", ".join(shown) or "nothing"


def _host_name(text: str) -> str | None:
    """
    C{text} as a lower-case DNS name in A-labels, or None if it is none
    (an IP address written as a name is none).
    """
    name = text.rstrip(".").lower()
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        return None
    if labels[-1].isdigit():
        # 10.1.2.3 in a dNSName is an address in the wrong field.
        return None
    return name


def _dns_names(names: x509.SubjectAlternativeName) -> list[str]:
    return [str(v) for v in names.get_values_for_type(x509.DNSName)]


def _dns_matches(pattern: str, wanted: str) -> bool:
    """
    RFC 6125 section 6.4.3, the strict form: C{*} only as the whole
    left-most label, standing for exactly one label, and never for the
    registered domain itself.
    """
    text = pattern.rstrip(".").lower()
    if text.startswith("*."):
        rest = _host_name(text[2:])
        if rest is None or rest.count(".") < 1:
            return False
        first, dot, remainder = wanted.partition(".")
        return bool(dot) and bool(first) and remainder == rest
    name = _host_name(text)
    return name is not None and name == wanted


def _mailboxes(names: x509.SubjectAlternativeName) -> list[str]:
    return [str(v) for v in names.get_values_for_type(x509.RFC822Name)]


def _mailbox_matches(candidate: str, wanted: str) -> bool:
    # RFC 5280 section 7.5: the local part is compared exactly, the host
    # part without regard to case.
    user, at, host = candidate.rpartition("@")
    wantedUser, wantedAt, wantedHost = wanted.rpartition("@")
    return (
        bool(at and wantedAt)
        and user == wantedUser
        and host.lower().rstrip(".") == wantedHost.lower().rstrip(".")
    )


def _check_subject(certificate: x509.Certificate, wanted: str) -> None:
    try:
        expected = parse_name(wanted)
    except ValueError as e:
        raise ServerIdentityMismatch(
            f"{wanted!r} is not a distinguished name: {e}"
        ) from None
    subject = certificate.subject
    if not names_match(subject, expected):
        raise ServerIdentityMismatch(
            f"the server's certificate subject {subject.rfc4514_string()}"
            f" is not {wanted}"
        )


__all__ = [
    "IDENTITY_KINDS",
    "IdentityKind",
    "ServerIdentity",
    "ServerIdentityMismatch",
]
