"""
What the NSS certificate service asks of a key ring: which certificate acts
for an identity, whether a peer's certificate chains to a CA the client may
use, and installing the server's own TLS identity.

Chain validation uses C{cryptography}'s RFC 5280 path builder rather than
code of our own: it is maintained, tested against the public suites, and
handles path building, validity, basic constraints and name chaining.  What
an IKE peer's end-entity certificate must be besides (RFC 4945: no CA, a key
usage for signatures, an IKE extended key usage) is IKE's business and lives
with IKE, in C{nsstwisted.ike.certprofile}; nssd's VERIFY applies it after
this check, as iked does after its own.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from nsstwisted.security.distinguishednames import names_match, parse_name
from nsstwisted.security.errors import InvalidValueError, NotFoundError
from nsstwisted.security.keyring import CertificateUsage, KeyRing, RingEntry

MAX_CHAIN_DEPTH = 8


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


class ChainError(Exception):
    """
    A peer certificate does not validate; the text says why, for the log.
    """


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


def validate_chain(
    certificate: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Iterable[x509.Certificate],
    at: datetime | None = None,
) -> list[x509.Certificate]:
    """
    Validate C{certificate} up to one of C{anchors} and return the chain,
    leaf first.

    This says only that a trusted CA issued the certificate, not what for:
    an IKE caller must also hold it to the end-entity profile
    (C{nsstwisted.ike.certprofile.check_end_entity}).

    @raise ChainError: if no valid path exists.
    """
    roots = list(anchors)
    if not roots:
        raise ChainError("no certificate authority is available to this client")
    builder = (
        PolicyBuilder()
        .store(Store(roots))
        .time(at or datetime.now(UTC))
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=ExtensionPolicy.permit_all(),
        )
    )
    try:
        verified = builder.build_client_verifier().verify(
            certificate, list(intermediates)
        )
    except VerificationError as e:
        raise ChainError(f"certificate does not validate: {e}") from None
    return list(verified.chain)
