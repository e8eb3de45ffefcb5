"""
Reading a peer's certificates and validating its certification path as
RFC 5280 section 6 defines it, for both places that judge an IKE peer:
iked's own check (L{nsstwisted.ike.localauth}) and nssd's VERIFY, which
imports it from here.  One module, so that a chain one of them accepts the
other accepts too.

B{Reading.}  C{cryptography} parses a certificate lazily: C{load_der_...}
accepts bytes whose version, key, names or extensions fail only when they
are first touched, each with its own exception (C{ValueError},
C{InvalidVersion}, C{UnsupportedAlgorithm}, C{DuplicateExtension}, ...).
L{load_certificate} touches all of them at once and turns every such
failure into L{MalformedCertificate}, so that the callers handle one
error, at one place, before they look at the certificate.

B{The path.}  Path building, signatures, validity, name chaining, name
constraints and path length are C{cryptography}'s verifier's.  What
decides whether a certificate may act as a CA in the path is its
I{extension policy}.  The verifier's ready-made one
(C{ExtensionPolicy.webpki_defaults_ca}) is the CA/Browser Forum's profile
for web server CAs, not RFC 5280's: it refuses a CA without keyUsage
(which is what C{openssl req -x509} makes, and what every other IKE
implementation accepts), a non-critical basicConstraints, an
authorityKeyIdentifier with issuer and serial, and a CA whose
extendedKeyUsage lacks TLS client authentication.  L{CA_EXTENSION_POLICY}
is RFC 5280 section 6's instead:

  - B{basicConstraints} must be present with cA TRUE (6.1.4 (k)); a
    certificate without it is no CA, whatever else it says.  Its
    criticality is not checked: 4.2.1.9 tells CAs to mark it critical,
    but section 6 does not test it, nor do OpenSSL and strongSwan.
  - B{pathLenConstraint} is enforced by the verifier (6.1.4 (l), (m)).
  - B{keyUsage}, where present, must assert keyCertSign (6.1.4 (n)); a CA
    without keyUsage passes.
  - B{authorityKeyIdentifier} and B{subjectKeyIdentifier} are aids for
    finding a path, not inputs of section 6: any form, either criticality.
  - B{extendedKeyUsage} in a CA certificate is not processed by section 6
    (RFC 5280 defines it for the end entity), so it restricts nothing
    here; the end entity's is judged by the IKE profile
    (L{nsstwisted.ike.certprofile}).
  - B{Any other critical extension} the verifier does not know refuses
    the certificate (RFC 5280 section 4.2): certificate policies are not
    processed, so a CA whose certificatePolicies, policyConstraints or
    inhibitAnyPolicy is critical is refused, which fails closed.

The end entity's extensions are left to the IKE profile
(C{ExtensionPolicy.permit_all}, which still refuses unknown critical
extensions), since what it must be depends on what it is for.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

__all__ = [
    "CA_EXTENSION_POLICY",
    "MAX_CHAIN_DEPTH",
    "MAX_PEER_CERTIFICATES",
    "ChainError",
    "MalformedCertificate",
    "authority_hash",
    "chain_to_send",
    "check_chain_length",
    "issuers_of",
    "load_certificate",
    "load_certificates",
    "validate_path",
]

MAX_CHAIN_DEPTH = 8
"""Intermediate CAs a path may hold, as the verifier counts them."""

MAX_PEER_CERTIFICATES = 1 + MAX_CHAIN_DEPTH
"""
The certificates a peer may send (its own and the intermediates): more
can never make a path the verifier accepts, so they are refused before
any of them is parsed or any signature checked, which bounds the work a
peer can cause with CERT payloads.
"""

_PARSE_ERRORS = (
    ValueError,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


class MalformedCertificate(Exception):
    """
    Bytes that should be a certificate cannot be read as one; the text says
    why, for the log.
    """


class ChainError(Exception):
    """
    A certificate does not validate to a trusted CA; the text says why,
    for the log.
    """


def load_certificate(der: bytes) -> x509.Certificate:
    """
    Parse C{der} as an X.509 certificate, all of it: version, serial,
    names, validity, public key and extensions.

    @raise MalformedCertificate: any part does not parse, the version is
        not one X.509 defines, or the key's algorithm is unknown.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.version  # noqa: B018 - parsed on first use
        certificate.serial_number  # noqa: B018
        certificate.issuer.rfc4514_string()
        certificate.subject.rfc4514_string()
        certificate.not_valid_before_utc  # noqa: B018
        certificate.not_valid_after_utc  # noqa: B018
        certificate.signature_algorithm_oid  # noqa: B018
        certificate.public_key()
        certificate.extensions  # noqa: B018
    except _PARSE_ERRORS as error:
        raise MalformedCertificate(
            f"not a readable X.509 certificate ({type(error).__name__}: {error})"
        ) from None
    return certificate


def load_certificates(ders: Iterable[bytes]) -> list[x509.Certificate]:
    """
    L{load_certificate} for each of C{ders}.

    @raise MalformedCertificate: for the first that does not parse, with
        its position (0 is the first).
    """
    loaded = []
    for position, der in enumerate(ders):
        try:
            loaded.append(load_certificate(der))
        except MalformedCertificate as error:
            raise MalformedCertificate(f"certificate {position}: {error}") from None
    return loaded


def check_chain_length(certificates: Sequence[object]) -> None:
    """
    Refuse a peer's certificates that are too many to be a path.

    @raise ChainError: more than L{MAX_PEER_CERTIFICATES}.
    """
    if len(certificates) > MAX_PEER_CERTIFICATES:
        raise ChainError(
            f"the chain of {len(certificates)} certificates is longer than the "
            f"{MAX_PEER_CERTIFICATES} allowed (an end entity and "
            f"{MAX_CHAIN_DEPTH} intermediate CAs)"
        )


def authority_hash(certificate: x509.Certificate) -> bytes:
    """A CA's CERTREQ entry: SHA-1 of its SubjectPublicKeyInfo."""
    spki = certificate.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(spki, usedforsecurity=False).digest()


def _self_issued(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def issuers_of(
    certificate: x509.Certificate, authorities: Iterable[x509.Certificate]
) -> list[x509.Certificate]:
    """
    The CA certificates, among C{authorities}, that issued C{certificate}
    and each other: its issuer first, up to a self-issued root or the
    first CA whose issuer is not among them, and at most
    L{MAX_CHAIN_DEPTH} + 1 (the intermediates a path may hold and a root).

    An issuer is the one whose subject is the certificate's issuer name
    I{and} whose key verifies its signature, so a CA certificate that
    merely shares a name (an old one after a rekey) is not taken.  This
    says nothing of trust: it builds what we send, and the peer judges.
    """
    candidates = list(authorities)
    chain: list[x509.Certificate] = []
    current = certificate
    while len(chain) <= MAX_CHAIN_DEPTH and not (chain and _self_issued(current)):
        issuer = next(
            (
                c
                for c in candidates
                if c.subject == current.issuer
                and c not in chain
                and _issued_by(current, c)
            ),
            None,
        )
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return chain


def chain_to_send(
    certificates: Sequence[bytes], peerAuthorities: Collection[bytes]
) -> tuple[bytes, ...]:
    """
    The certificates our CERT payloads carry: our own, then the
    intermediate CAs that issued it up to, not including, one the peer
    named in its CERTREQ; all of them when it named none of them.  A
    self-issued root is never sent (a peer must hold its anchor already,
    RFC 4945 section 3.2.3), nor anything past L{MAX_CHAIN_DEPTH}.

    @param certificates: DER, our certificate first and then its issuers
        in order, as the signer gives them (L{issuers_of}).
    @param peerAuthorities: the SHA-1 SubjectPublicKeyInfo hashes of the
        peer's CERTREQ.
    """
    if not certificates:
        return ()
    chosen = [certificates[0]]
    for der in certificates[1 : 1 + MAX_CHAIN_DEPTH]:
        facts = _authority_facts(der)
        if facts is not None and (facts[0] or facts[1] in peerAuthorities):
            break
        # (One we cannot read is not ours to judge: the signer's chain
        # goes as it is, and the peer refuses what it cannot read.)
        chosen.append(der)
    return tuple(chosen)


@functools.lru_cache(maxsize=64)
def _authority_facts(der: bytes) -> tuple[bool, bytes] | None:
    """
    Whether a CA certificate is self-issued, and its CERTREQ hash; L{None}
    if it cannot be read.  Kept, since every negotiation sends the same
    few certificates and parsing one costs more than the rest of the
    choice.
    """
    try:
        authority = load_certificate(der)
    except MalformedCertificate:
        return None
    return _self_issued(authority), authority_hash(authority)


def _ca_constraints(
    policy: Policy, certificate: x509.Certificate, value: x509.BasicConstraints
) -> None:
    if not value.ca:
        raise ValueError("basicConstraints does not assert cA (RFC 5280 6.1.4 (k))")


def _ca_key_usage(
    policy: Policy, certificate: x509.Certificate, value: x509.KeyUsage | None
) -> None:
    if value is not None and not value.key_cert_sign:
        raise ValueError("keyUsage is present without keyCertSign (RFC 5280 6.1.4 (n))")


CA_EXTENSION_POLICY = (
    ExtensionPolicy.permit_all()
    .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _ca_constraints)
    .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage)
)
"""What a certificate must be to issue others in a path: see above."""


def validate_path(
    certificate: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Iterable[x509.Certificate],
    at: datetime | None = None,
) -> list[x509.Certificate]:
    """
    Validate C{certificate} up to one of C{anchors}, through any of
    C{intermediates}, at time C{at} (now by default), and return the path,
    end entity first.

    This says only that a trusted CA issued the certificate, not what for:
    an IKE caller also holds it to the end-entity profile
    (L{nsstwisted.ike.certprofile.check_end_entity}).

    @raise ChainError: if no valid path exists.
    """
    roots = list(anchors)
    if not roots:
        raise ChainError("no certificate authority is available to this client")
    verifier = (
        PolicyBuilder()
        .store(Store(roots))
        .time(at or datetime.now(UTC))
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=CA_EXTENSION_POLICY,
            ee_policy=ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(certificate, list(intermediates))
    except VerificationError as error:
        raise ChainError(f"the certificate does not validate: {error}") from None
    return list(verified.chain)
