"""
Key and certificate generation for RACDCERT GENCERT.

With this module an administrator (or a test suite) can build a complete PKI
for IKE -- a self-signed CA and end-entity certificates signed by it -- with
the RACF commands alone, without openssl.  The choices are deliberately few:
the key sizes and curves of L{check_key_policy}, SHA-256 signatures (SHA-384
for a P-384 issuer, to keep the strength of hash and key matched), and the
extensions an IKEv2 peer and a path validator need, nothing more.

No Twisted and no database here; the caller stores what we return.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

from nsstwisted.security.certfiles import PrivateKey, check_key_policy
from nsstwisted.security.errors import InvalidValueError

__all__ = [
    "KEY_SIZES",
    "build_certificate",
    "generate_private_key",
    "generate_size",
    "subject_name",
]

_RSA_SIZES = (2048, 3072, 4096)
_EC_CURVES: dict[int, ec.EllipticCurve] = {
    256: ec.SECP256R1(),
    384: ec.SECP384R1(),
}

#: The key sizes GENCERT makes, by algorithm (its default first), for
#: those who check a size before asking for a key.
KEY_SIZES: dict[str, tuple[int, ...]] = {
    "RSA": _RSA_SIZES,
    "NISTECC": tuple(_EC_CURVES),
}

# RACF SUBJECTSDN keyword -> (OID, upper bound in characters from X.520).
_SUBJECT_KEYWORDS: dict[str, tuple[x509.ObjectIdentifier, int]] = {
    "CN": (NameOID.COMMON_NAME, 64),
    "T": (NameOID.TITLE, 64),
    "OU": (NameOID.ORGANIZATIONAL_UNIT_NAME, 64),
    "O": (NameOID.ORGANIZATION_NAME, 64),
    "L": (NameOID.LOCALITY_NAME, 128),
    "SP": (NameOID.STATE_OR_PROVINCE_NAME, 128),
    "C": (NameOID.COUNTRY_NAME, 2),
}
_REPEATABLE_KEYWORDS = frozenset({"OU"})
_COUNTRY = re.compile(r"[A-Za-z]{2}")

_MAX_SERIAL = 1 << 159


def generate_size(algorithm: str, size: int | None) -> int:
    """
    The key size RACDCERT GENCERT RSA/NISTECC SIZE(n) asks for, checked,
    with the default filled in: for a key made here or inside a token.

    Only the three RSA sizes in common use are offered, rather than every
    multiple of 8 the policy would allow, so that generated keys are ones
    every peer and HSM interoperates with.

    @param algorithm: C{"RSA"} or C{"NISTECC"} (any case).
    @param size: RSA 2048, 3072 or 4096 (default 2048); NISTECC 256 or 384
        (default 256).
    @raise InvalidValueError: for any other algorithm or size.
    """
    kind = algorithm.upper()
    if kind == "RSA":
        bits = 2048 if size is None else size
        if bits not in _RSA_SIZES:
            raise InvalidValueError(
                f"RSA key size {bits} is not allowed: use 2048, 3072 or 4096"
            )
        return bits
    if kind == "NISTECC":
        bits = 256 if size is None else size
        if bits not in _EC_CURVES:
            raise InvalidValueError(
                f"NISTECC key size {bits} is not allowed: use 256 or 384"
            )
        return bits
    raise InvalidValueError(
        f"key algorithm {algorithm!r} is not allowed: use RSA or NISTECC"
    )


def generate_private_key(algorithm: str, size: int | None) -> PrivateKey:
    """
    Make a new key as RACDCERT GENCERT RSA/NISTECC SIZE(n) asks
    (L{generate_size} says which sizes).

    @raise InvalidValueError: for another algorithm or size.
    """
    bits = generate_size(algorithm, size)
    if algorithm.upper() == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return ec.generate_private_key(_EC_CURVES[bits])


def subject_name(parts: Sequence[tuple[str, str]]) -> x509.Name:
    """
    Build a distinguished name from RACF SUBJECTSDN keywords.

    The keywords are taken in the order given, most specific first as RACF
    and RFC 4514 write them (C{CN} ... C{C}); the encoded name holds them in
    the reverse order, as X.509 does, so that C{rfc4514_string()} shows them
    back as they were typed.

    @param parts: pairs of keyword (C{CN}, C{T}, C{OU}, C{O}, C{L}, C{SP},
        C{C}; only C{OU} may repeat) and value.
    @raise InvalidValueError: for an unknown or repeated keyword, an empty or
        over-long value, a country that is not two letters, or no parts.
    """
    if not parts:
        raise InvalidValueError("a subject distinguished name needs at least one part")
    seen: set[str] = set()
    attributes: list[x509.NameAttribute[str]] = []
    for keyword, value in parts:
        key = keyword.upper()
        entry = _SUBJECT_KEYWORDS.get(key)
        if entry is None:
            raise InvalidValueError(
                f"unknown SUBJECTSDN keyword {keyword!r}: use CN, T, OU, O, L, SP or C"
            )
        if key in seen and key not in _REPEATABLE_KEYWORDS:
            raise InvalidValueError(f"SUBJECTSDN keyword {key} is given twice")
        seen.add(key)
        oid, limit = entry
        if key == "C":
            if not _COUNTRY.fullmatch(value):
                raise InvalidValueError(
                    f"SUBJECTSDN C({value!r}) is not a two-letter country code"
                )
            value = value.upper()
        elif not value:
            raise InvalidValueError(f"SUBJECTSDN {key} is empty")
        elif len(value) > limit:
            raise InvalidValueError(
                f"SUBJECTSDN {key} is {len(value)} characters; at most {limit}"
            )
        try:
            attributes.append(x509.NameAttribute(oid, value))
        except ValueError as e:
            raise InvalidValueError(f"SUBJECTSDN {key} is not allowed: {e}") from None
    return x509.Name(list(reversed(attributes)))


def _general_names(alt_names: Sequence[tuple[str, str]]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for kind, value in alt_names:
        tag = kind.upper()
        if tag == "IP":
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                raise InvalidValueError(
                    f"ALTNAME IP({value!r}) is not an IPv4 or IPv6 address"
                ) from None
            names.append(x509.IPAddress(address))
        elif tag == "DOMAIN":
            if not value or not value.isascii() or " " in value:
                raise InvalidValueError(
                    f"ALTNAME DOMAIN({value!r}) is not a domain name (use the "
                    f"ASCII form of internationalised names)"
                )
            names.append(x509.DNSName(value))
        elif tag == "EMAIL":
            local, at, domain = value.partition("@")
            if not (local and at and domain) or not value.isascii():
                raise InvalidValueError(
                    f"ALTNAME EMAIL({value!r}) is not an e-mail address"
                )
            names.append(x509.RFC822Name(value))
        else:
            raise InvalidValueError(
                f"unknown ALTNAME type {kind!r}: use IP, DOMAIN or EMAIL"
            )
    return names


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
    except x509.ExtensionNotFound:
        return False
    if not constraints.ca:
        return False
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def _authority_key_identifier(
    issuer_certificate: x509.Certificate | None, issuer_key: PrivateKey
) -> x509.AuthorityKeyIdentifier:
    """
    Take the key identifier from the issuer's own SubjectKeyIdentifier when it
    has one: path builders match AKI against SKI byte for byte, and a CA made
    by another tool may compute its SKI differently from us.
    """
    if issuer_certificate is not None:
        try:
            ski = issuer_certificate.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value
        except x509.ExtensionNotFound:
            pass
        else:
            return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())


def build_certificate(
    *,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer_certificate: x509.Certificate | None,
    issuer_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    certificate_authority: bool,
    alt_names: Sequence[tuple[str, str]] = (),
    serial_number: int | None = None,
) -> x509.Certificate:
    """
    Issue a certificate as RACDCERT GENCERT does.

    @param subject: the subject name, for example from L{subject_name}.
    @param public_key: the key being certified.
    @param issuer_certificate: the signing CA's certificate, or C{None} for a
        self-signed certificate (then C{issuer_key} must be the private half
        of C{public_key}).
    @param issuer_key: the key that signs.
    @param not_before: start of validity; must be timezone-aware, since a
        naive time would be read as UTC and silently shift by the local
        offset.
    @param not_after: end of validity, after C{not_before}, timezone-aware.
    @param certificate_authority: whether the new certificate may sign others.
    @param alt_names: pairs of C{"IP"}, C{"DOMAIN"} or C{"EMAIL"} and value,
        for the SubjectAlternativeName that IKE peers identify by.
    @param serial_number: a positive serial below 2**159; random by default,
        so that serials need no registry and cannot be predicted.
    @raise InvalidValueError: if any key fails L{check_key_policy}, the
        validity is empty or naive, the issuer is not a CA or its key does
        not match, or an alternative name or the serial is invalid.
    """
    check_key_policy(public_key)
    check_key_policy(issuer_key)
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        # Unreachable after the policy check; narrows the type for mypy.
        raise InvalidValueError("only RSA and EC keys can be certified")
    if len(subject) == 0:
        raise InvalidValueError("the subject name must not be empty")
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise InvalidValueError("validity times must carry a time zone")
    if not_after <= not_before:
        raise InvalidValueError("the certificate must expire after it starts")
    if issuer_certificate is None:
        if issuer_key.public_key() != public_key:
            raise InvalidValueError(
                "a self-signed certificate must be signed with its own key"
            )
        issuer_name = subject
    else:
        if not _is_ca(issuer_certificate):
            raise InvalidValueError(
                "the issuer certificate is not a certificate authority"
            )
        if issuer_key.public_key() != issuer_certificate.public_key():
            raise InvalidValueError(
                "the issuer key does not match the issuer certificate"
            )
        issuer_name = issuer_certificate.subject
    if serial_number is None:
        serial_number = _random_serial()
    elif not 0 < serial_number < _MAX_SERIAL:
        raise InvalidValueError("the serial number must be positive and below 2**159")

    if certificate_authority:
        constraints = x509.BasicConstraints(ca=True, path_length=None)
        usage = _key_usage(digital_signature=True, cert_sign=True)
    else:
        constraints = x509.BasicConstraints(ca=False, path_length=None)
        usage = _key_usage(
            digital_signature=True,
            key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
        )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial_number)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(constraints, critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .add_extension(_authority_key_identifier(issuer_certificate, issuer_key), False)
    )
    general_names = _general_names(alt_names)
    if general_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general_names), critical=False
        )
    algorithm: hashes.SHA256 | hashes.SHA384 = hashes.SHA256()
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey) and isinstance(
        issuer_key.curve, ec.SECP384R1
    ):
        algorithm = hashes.SHA384()
    return builder.sign(issuer_key, algorithm)


def _random_serial() -> int:
    while True:
        serial = x509.random_serial_number()
        if 0 < serial < _MAX_SERIAL:
            return serial


def _key_usage(
    *,
    digital_signature: bool,
    key_encipherment: bool = False,
    cert_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
