"""
What a certificate must be to authenticate an IKE peer: the end-entity
profile of RFC 4945 section 5.1.3, on top of the RFC 5280 chain check.

A chain that validates proves only that a trusted CA issued the
certificate, not that the CA meant it for IKE: without this profile a CA
certificate, a code-signing or an e-mail certificate from the same CA
would do as well as an IKE one.  The profile is a function of the
certificate alone, so both places that judge a peer apply the same one:
iked's own check (L{nsstwisted.ike.localauth}) and nssd's VERIFY, which
imports it from here.

The rules, and why:

  - B{Not a CA} (RFC 5280 sections 4.2.1.9 and 4.2.1.3): a certificate
    with basicConstraints cA=TRUE, or whose keyUsage has keyCertSign,
    certifies a key for issuing certificates, not a peer.
  - B{keyUsage}, where present, has digitalSignature or nonRepudiation
    (RFC 4945 section 5.1.3.2).  A certificate without keyUsage passes, as
    that section's logic says ("If no KU extension, continue"): keyUsage
    is optional in the PKIX profile, and refusing its absence would refuse
    certificates that RFC 4945 accepts.
  - B{extendedKeyUsage}, where present, names id-kp-ipsecIKE or
    anyExtendedKeyUsage (RFC 4945 section 5.1.3.12).  serverAuth or
    clientAuth also pass only with L{PeerEku.IKE_OR_TLS}, which an operator
    codes for peers (Windows) whose certificates carry those, as libreswan
    lets them; the default refuses them (RFC 4945 section 7.3: checks are
    on unless configured off).  A critical extendedKeyUsage is judged the
    same way: we support the extension, so its criticality changes
    nothing.

Unknown critical extensions are refused by the chain check itself
(C{cryptography}'s verifier), as RFC 4945 section 5.1.3 asks.
"""

from __future__ import annotations

from typing import TypeVar

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from nsstwisted.ike.policy import PeerEku

__all__ = [
    "ID_KP_IPSEC_IKE",
    "PeerEku",
    "UnfitCertificate",
    "check_end_entity",
]

ID_KP_IPSEC_IKE = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17")
"""id-kp-ipsecIKE, assigned by RFC 4945 section 5.1.3.12."""

_IKE_PURPOSES = frozenset({ID_KP_IPSEC_IKE, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE})
_TLS_PURPOSES = frozenset(
    {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
)


class UnfitCertificate(Exception):
    """
    The certificate may not authenticate an IKE peer; the text says why,
    for the log.
    """


def check_end_entity(certificate: x509.Certificate, eku: PeerEku = PeerEku.IKE) -> None:
    """
    Refuse C{certificate} as an IKE peer's end-entity certificate unless it
    fits the profile above.

    @param eku: which extended key usages the peer may present.
    @raise UnfitCertificate: it does not fit, or an extension it carries
        cannot be read (fail closed).
    """
    try:
        extensions = certificate.extensions
        constraints = _extension(extensions, x509.BasicConstraints)
        usage = _extension(extensions, x509.KeyUsage)
        purposes = _extension(extensions, x509.ExtendedKeyUsage)
    except (ValueError, x509.DuplicateExtension) as error:
        raise UnfitCertificate(
            f"the certificate has a malformed extension: {error}"
        ) from None
    if constraints is not None and constraints.ca:
        raise UnfitCertificate(
            "the certificate is a CA certificate (basicConstraints cA), not an"
            " end entity (RFC 5280 section 4.2.1.9)"
        )
    if usage is not None:
        if usage.key_cert_sign:
            raise UnfitCertificate(
                "the certificate's key usage is for signing certificates"
                " (keyCertSign): a CA key, not an end entity's (RFC 5280"
                " section 4.2.1.3)"
            )
        if not (usage.digital_signature or usage.content_commitment):
            raise UnfitCertificate(
                "the certificate's key usage allows neither digitalSignature"
                " nor nonRepudiation (RFC 4945 section 5.1.3.2)"
            )
    if purposes is not None:
        _check_purposes(frozenset(purposes), eku)


def _check_purposes(named: frozenset[x509.ObjectIdentifier], eku: PeerEku) -> None:
    if named & _IKE_PURPOSES:
        return
    tls = named & _TLS_PURPOSES
    if tls and eku is PeerEku.IKE_OR_TLS:
        return
    listed = ", ".join(sorted(_purpose_name(p) for p in named))
    if tls:
        raise UnfitCertificate(
            f"the certificate's extended key usage ({listed}) is for TLS, which"
            " is accepted only where the configuration says IkeOrTls; IKE wants"
            " ipsecIKE or anyExtendedKeyUsage (RFC 4945 section 5.1.3.12)"
        )
    raise UnfitCertificate(
        f"the certificate's extended key usage ({listed}) names neither"
        " ipsecIKE nor anyExtendedKeyUsage (RFC 4945 section 5.1.3.12)"
    )


_T = TypeVar("_T", bound=x509.ExtensionType)


def _extension(extensions: x509.Extensions, kind: type[_T]) -> _T | None:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


_NAMES = {
    ID_KP_IPSEC_IKE: "ipsecIKE",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}


def _purpose_name(purpose: x509.ObjectIdentifier) -> str:
    return _NAMES.get(purpose, purpose.dotted_string)
