"""
The certificates of a RACF job: which the job makes (the CAs, the
certificates the stacks sign with, the servers' TLS certificates), in
which order (a signer before what it signs), with which RACDCERT command,
and which CA certificates it exports for the images' CaFile.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from nsstwisted.assistant.generators.layout import (
    EXPORTED_CA,
    GenerationError,
    NssStack,
    backups_of,
    identity_parts,
    racf_quoted,
    served_stacks,
    tls_certificate,
)
from nsstwisted.assistant.model import Certificate, Description, NssServer

_SUBJECT_KEYWORDS = {
    NameOID.COMMON_NAME: "CN",
    NameOID.TITLE: "T",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "SP",
    NameOID.COUNTRY_NAME: "C",
}

_ALTNAME_KEYWORDS = {"IpAddr": "IP", "Fqdn": "DOMAIN", "UserAtFqdn": "EMAIL"}


def owner_operand(userId: str) -> str:
    """
    RACDCERT's operand for an owner: C{CERTAUTH} or C{ID(userid)}.
    """
    return "CERTAUTH" if userId.upper() == "CERTAUTH" else f"ID({userId.upper()})"


def _subject(certificate: Certificate) -> str:
    try:
        name = x509.Name.from_rfc4514_string(certificate.subject)
    except ValueError as e:
        raise GenerationError(
            "NSA0057E",
            f"the subject of certificate {certificate.label!r} cannot be read: {e}",
        ) from None
    parts = []
    for rdn in reversed(name.rdns):
        for attribute in rdn:
            keyword = _SUBJECT_KEYWORDS.get(attribute.oid)
            if keyword is None:
                raise GenerationError(
                    "NSA0057E",
                    f"the subject of certificate {certificate.label!r} has"
                    f" {attribute.rfc4514_string()}, which RACDCERT SUBJECTSDN"
                    " cannot give: use CN, T, OU, O, L, ST or C",
                )
            parts.append(f"{keyword}({racf_quoted(str(attribute.value))})")
    return f"SUBJECTSDN({' '.join(parts)})"


def _altname(certificate: Certificate) -> str | None:
    given: dict[str, str] = {}
    for identity in certificate.identities:
        kind, value = identity_parts(identity)
        keyword = _ALTNAME_KEYWORDS.get(kind)
        if keyword is None or keyword in given:
            raise GenerationError(
                "NSA0058E",
                f"certificate {certificate.label!r} names the identity"
                f" {identity!r}, which RACDCERT GENCERT cannot give: ALTNAME"
                " takes one IpAddr, one Fqdn and one UserAtFqdn",
            )
        given[keyword] = value if keyword == "IP" else racf_quoted(value)
    if not given:
        return None
    return "ALTNAME(" + " ".join(f"{k}({v})" for k, v in given.items()) + ")"


def is_pkcs12(certificate: Certificate) -> bool:
    """
    Whether a certificate is imported from a PKCS#12 file, whose password
    RACDCERT ADD needs.
    """
    path = (certificate.importFrom or "").lower()
    return path.endswith((".p12", ".pfx"))


def add_command(certificate: Certificate) -> list[str]:
    """
    RACDCERT ADD of an imported certificate; for a PKCS#12 file with
    C{PASSWORD} written without its value, which nss-racf asks for.
    """
    owner = owner_operand(certificate.owner)
    words = [
        "RACDCERT",
        owner,
        f"ADD({racf_quoted(certificate.importFrom or '')})",
        f"WITHLABEL({racf_quoted(certificate.label)})",
    ]
    if owner == "CERTAUTH":
        words.append("TRUST")
    if is_pkcs12(certificate):
        words.append("PASSWORD")
    return words


def pkcs12_imports(description: Description, primary: NssServer) -> list[Certificate]:
    """
    The certificates the job of C{primary} needs added from PKCS#12 files
    before it runs.
    """
    servers = [primary, *backups_of(description, primary)]
    stacks = served_stacks(description, primary)
    return [c for c in job_certificates(description, servers, stacks) if is_pkcs12(c)]


def _key_type(certificate: Certificate, primary: NssServer) -> str | None:
    """
    GENCERT's key type operand: C{NISTECC} or none (RSA, GENCERT's
    default) for a key sealed in the database; C{RSA(TOKEN(label))} or
    C{NISTECC(TOKEN(label))} for one made in the token of the server whose
    job makes it, which must have one.
    """
    if certificate.keyStore != "token":
        return "NISTECC" if certificate.keyType == "NISTECC" else None
    if not primary.has_token:
        # The validation's NSA0123E looks for any server with a token; this
        # is the one whose database records the key.
        raise GenerationError(
            "NSA0125E",
            f"certificate {certificate.label!r} has its key made in a token,"
            f" but NSS server {primary.name}, whose RACF job makes it, has no"
            " PKCS#11 token: set its pkcs11_module, pkcs11_token_label and"
            " pkcs11_pin_file, or leave key_store out",
        )
    token = racf_quoted(primary.pkcs11TokenLabel or "")
    return f"{certificate.keyType}(TOKEN({token}))"


def certificate_command(
    description: Description, certificate: Certificate, primary: NssServer
) -> list[str] | None:
    """
    The RACDCERT command of C{primary}'s job that makes a certificate:
    GENCERT, or ADD for one imported from a PEM or DER file; C{None} for
    one imported from a PKCS#12 file, whose password the job must not hold
    (the README has the command that asks for it, to be run before the
    job).
    """
    owner = owner_operand(certificate.owner)
    label = f"WITHLABEL({racf_quoted(certificate.label)})"
    if certificate.importFrom is not None:
        return None if is_pkcs12(certificate) else add_command(certificate)
    words = ["RACDCERT", owner, "GENCERT", _subject(certificate)]
    keyType = _key_type(certificate, primary)
    if keyType is not None:
        words.append(keyType)
    words += [f"SIZE({certificate.keySize})", label]
    if certificate.signedBy is not None:
        signer = description.certificate(certificate.signedBy)
        if signer is None:
            raise GenerationError(
                "NSA0059E",
                f"certificate {certificate.label!r} is signed by"
                f" {certificate.signedBy!r}, which the description does not hold",
            )
        words.append(
            f"SIGNWITH({owner_operand(signer.owner)}"
            f" LABEL({racf_quoted(signer.label)}))"
        )
    altname = _altname(certificate)
    if altname is not None:
        words.append(altname)
    return words


def _signing_order(certificates: list[Certificate]) -> list[Certificate]:
    """
    The certificates with every signer before what it signs, otherwise in
    the description's order.
    """
    labels = {c.label for c in certificates}
    done: set[str] = set()
    ordered: list[Certificate] = []
    pending = list(certificates)
    while pending:
        ready = [
            c
            for c in pending
            if c.signedBy is None or c.signedBy not in labels or c.signedBy in done
        ]
        if not ready:
            raise GenerationError(
                "NSA0059E",
                "the certificates "
                + ", ".join(repr(c.label) for c in pending)
                + " sign one another in a circle",
            )
        for certificate in ready:
            ordered.append(certificate)
            done.add(certificate.label)
            pending.remove(certificate)
    return ordered


def _chain_root(description: Description, certificate: Certificate) -> Certificate:
    seen = {certificate.label}
    while certificate.signedBy is not None:
        signer = description.certificate(certificate.signedBy)
        if signer is None or signer.label in seen:
            break
        seen.add(signer.label)
        certificate = signer
    return certificate


def job_certificates(
    description: Description,
    servers: list[NssServer],
    stacks: list[NssStack],
) -> list[Certificate]:
    """
    The certificates a job makes, signers first: every CA, the
    certificates its stacks sign with (or their users own), and its
    servers' TLS certificates.
    """
    users = {entry.userId for entry in stacks}
    labels = {entry.settings.values.certificate for entry in stacks}
    tls = {c.label for s in servers if (c := tls_certificate(description, s))}
    wanted: list[Certificate] = []
    for certificate in description.certificates:
        if (
            certificate.usage == "certauth"
            or certificate.label in labels
            or certificate.label in tls
            or (certificate.usage == "client" and certificate.owner.upper() in users)
        ):
            wanted.append(certificate)
    for label in labels:
        if label is not None and description.certificate(label) is None:
            raise GenerationError(
                "NSA0059E",
                f"a stack signs with certificate {label!r}, which the"
                " description does not hold",
            )
    return _signing_order(wanted)


def exported_roots(
    description: Description, servers: list[NssServer]
) -> list[tuple[str, Certificate]]:
    """
    The root CA certificate of each server's TLS certificate, with the file
    the job exports it to: C{nss-ca.pem} for the usual single root.
    """
    roots: list[Certificate] = []
    for server in servers:
        presented = tls_certificate(description, server)
        if presented is None:
            continue
        root = _chain_root(description, presented)
        if root not in roots:
            roots.append(root)
    if len(roots) == 1:
        return [(EXPORTED_CA, roots[0])]
    return [(f"nss-ca-{n}.pem", root) for n, root in enumerate(roots, 1)]


def exported_ca_files(description: Description, primary: NssServer) -> list[str]:
    """
    The files the job of C{primary} exports CA certificates to, relative to
    its folder: the images it serves need them all in their CaFile.
    """
    servers = [primary, *backups_of(description, primary)]
    return [file for file, _ in exported_roots(description, servers)]
