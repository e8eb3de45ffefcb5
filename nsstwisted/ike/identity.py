"""
IKE identities: the ID payload a configured identity becomes, whether a
received ID is the one a policy expects, and whether a certificate proves
it (RFC 7296 section 3.5 and RFC 4945 section 3.1: an FQDN, e-mail or IP
ID must appear among the certificate's subjectAltNames, a DN ID must be its
subject).

A peer whose certificate does not match its ID is refused even when the
certificate is perfectly valid: otherwise any certificate from a trusted
CA could claim any identity.
"""

from __future__ import annotations

import ipaddress

from cryptography import x509

from nsstwisted.ike.constants import IdType, NotifyType, PayloadType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.payloads import IdPayload
from nsstwisted.ike.policy import LocalIdentity

__all__ = [
    "certificate_matches",
    "check_certificate_identity",
    "describe_id",
    "id_matches",
    "id_payload",
]


def _id_data(identity: LocalIdentity) -> bytes:
    kind = identity.idType
    if kind in (IdType.FQDN, IdType.RFC822_ADDR):
        return identity.value.encode("ascii")
    if kind in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
        return ipaddress.ip_address(identity.value).packed
    if kind == IdType.DER_ASN1_DN:
        return x509.Name.from_rfc4514_string(identity.value).public_bytes()
    if kind == IdType.KEY_ID:
        return bytes.fromhex(identity.value)
    raise ValueError(f"unsupported ID type {kind}")


def id_payload(identity: LocalIdentity, payloadType: PayloadType) -> IdPayload:
    """The IDi or IDr payload for a configured identity."""
    return IdPayload(payloadType, int(identity.idType), _id_data(identity))


def describe_id(
    idType: int, data: bytes, certificate: x509.Certificate | None = None
) -> str:
    """
    An ID as an operator reads it (for displays and messages).  A DN is
    printed from the certificate that proves it, since cryptography parses
    no bare DER Name; without one it shows as hex.
    """
    try:
        if idType in (IdType.FQDN, IdType.RFC822_ADDR):
            return data.decode("ascii")
        if idType in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
            return str(ipaddress.ip_address(data))
    except (UnicodeDecodeError, ValueError):
        return data.hex()
    if (
        idType == IdType.DER_ASN1_DN
        and certificate is not None
        and certificate.subject.public_bytes() == data
    ):
        return certificate.subject.rfc4514_string()
    return data.hex()


def id_matches(expected: LocalIdentity, received: IdPayload) -> bool:
    """Whether a received ID is the configured one (case-insensitive names)."""
    if received.idType != int(expected.idType):
        return False
    want = _id_data(expected)
    if expected.idType in (IdType.FQDN, IdType.RFC822_ADDR):
        return received.data.lower() == want.lower()
    return received.data == want


def certificate_matches(certificate: x509.Certificate, received: IdPayload) -> bool:
    """Whether C{certificate} proves the identity in C{received}."""
    kind = received.idType
    if kind == IdType.DER_ASN1_DN:
        return certificate.subject.public_bytes() == received.data
    try:
        names = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return False
    try:
        if kind == IdType.FQDN:
            wanted = received.data.decode("ascii").lower()
            return wanted in (
                n.lower() for n in names.get_values_for_type(x509.DNSName)
            )
        if kind == IdType.RFC822_ADDR:
            wanted = received.data.decode("ascii").lower()
            return wanted in (
                n.lower() for n in names.get_values_for_type(x509.RFC822Name)
            )
    except UnicodeDecodeError:
        return False
    if kind in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
        try:
            address = ipaddress.ip_address(received.data)
        except ValueError:
            return False
        return address in names.get_values_for_type(x509.IPAddress)
    return False


def check_certificate_identity(
    certificate: x509.Certificate, received: IdPayload
) -> None:
    """
    @raise IkeError: (AUTHENTICATION_FAILED) the certificate does not prove
        the ID.
    """
    if not certificate_matches(certificate, received):
        raise IkeError(
            f"the peer's certificate ({certificate.subject.rfc4514_string()}) "
            "does not prove its ID "
            f"{describe_id(received.idType, received.data, certificate)}",
            notify=NotifyType.AUTHENTICATION_FAILED,
        )
