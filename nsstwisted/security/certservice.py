"""
What the NSS certificate service asks of a key ring: which certificate acts
for an identity, and which CA certificates a client may validate against.

Validating a peer's path to those CAs is not here: the IKE engine does it
too, for the stacks that keep their own CAs (C{nsstwisted.ike.localauth}),
and the sans-IO IKE package may not import the security manager, so the
one validator that nssd's VERIFY and the engine share lives with IKE, in
C{nsstwisted.ike.certpath} (RFC 5280 section 6), beside the end-entity
profile of C{nsstwisted.ike.certprofile}.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from cryptography import x509

from nsstwisted.security.distinguishednames import names_match, parse_name
from nsstwisted.security.errors import InvalidValueError, NotFoundError
from nsstwisted.security.keyring import CertificateUsage, KeyRing, RingEntry


class IdentityKind(enum.Enum):
    """
    The ways an NSS client names the identity it signs as.
    """

    DN = "DN"
    IPADDR = "IPADDR"
    FQDN = "FQDN"
    EMAIL = "EMAIL"


@dataclass(frozen=True)
class SignerIdentity:
    kind: IdentityKind
    value: str


def _matches(certificate: x509.Certificate, identity: SignerIdentity) -> bool:
    if identity.kind is IdentityKind.DN:
        try:
            wanted = parse_name(identity.value)
        except ValueError:
            return False
        return names_match(certificate.subject, wanted)
    try:
        names = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return False
    if identity.kind is IdentityKind.IPADDR:
        try:
            address = ipaddress.ip_address(identity.value)
        except ValueError:
            return False
        return address in names.get_values_for_type(x509.IPAddress)
    if identity.kind is IdentityKind.FQDN:
        wantedName = identity.value.rstrip(".").lower()
        return any(
            n.rstrip(".").lower() == wantedName
            for n in names.get_values_for_type(x509.DNSName)
        )
    return identity.value.lower() in (
        e.lower() for e in names.get_values_for_type(x509.RFC822Name)
    )


def signing_entries(ring: KeyRing) -> list[RingEntry]:
    """
    The ring entries that may act for a client: trusted PERSONAL or SITE
    certificates with a private key.
    """
    return [
        e
        for e in ring.entries
        if e.usage is not CertificateUsage.CERTAUTH
        and e.record.trusted
        and e.record.hasPrivateKey
    ]


def find_signer(
    ring: KeyRing, *, label: str | None = None, identity: SignerIdentity | None = None
) -> RingEntry:
    """
    The ring entry that signs for C{label}, or for the first certificate
    (in label order) whose subject or subjectAltName is C{identity}.
    """
    if (label is None) == (identity is None):
        raise InvalidValueError("name the signer by label or by identity, not both")
    for entry in signing_entries(ring):
        if label is not None and entry.record.label == label:
            return entry
        if identity is not None and _matches(entry.record.certificate, identity):
            return entry
    wanted = f"label {label!r}" if label is not None else f"identity {identity}"
    raise NotFoundError(f"no certificate on {ring} can sign for {wanted}")


def certificate_authorities(ring: KeyRing) -> list[RingEntry]:
    """
    The trusted CERTAUTH entries of the ring.
    """
    return [
        e
        for e in ring.entries
        if e.usage is CertificateUsage.CERTAUTH and e.record.trusted
    ]
