"""
The RACF job of each security database (one per primary NSS server, which
its backups share), and its companion script for the secrets.

The job follows docs/examples/nss-setup.racf: the classes, the users and
their group, the EZB.NSS profiles of each stack's services, the
EZB.NSSCERT profiles of each stack's certificate (by its mapped label) and
of the CA certificates, the EZB.NETMGMT profiles of the operators, the
PTKTDATA profile of PassTicket logons, the certificates (GENCERT, or ADD
for an imported file), the key rings, the export of the CA certificate
that the images' CaFile needs, and the RACLIST refresh.

The job holds no secret: the stacks' users are defined without a password
and the PTKTDATA profile without a key.  nss-racf reads a secret keyword
written without its value from standard input, so the companion script
gives each user its password and the profile its key from the secret
files beside it, and no secret is ever in the job, on a command line or in
a file anyone but the owner may read.
"""

from __future__ import annotations

import shlex

from cryptography import x509
from cryptography.x509.oid import NameOID

from nsstwisted.assistant.generators.layout import (
    CLIENT_GROUP,
    EXPORTED_CA,
    PASSTICKET_APPLICATION,
    PASSTICKET_KEY_SUFFIX,
    RACF_JOB,
    SECRETS_SCRIPT,
    GenerationError,
    NssStack,
    folded,
    identity_parts,
    primaries,
    racf_quoted,
    ring_parts,
    secret_file_name,
    served_stacks,
    tls_certificate,
    tls_ring,
)
from nsstwisted.assistant.generators.secretfiles import SERVER_SECRETS
from nsstwisted.assistant.model import (
    Certificate,
    Description,
    GeneratedFile,
    NssServer,
    Role,
)
from nsstwisted.security.labels import map_label

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


def _comment(text: str) -> str:
    return f"/* {text:<68} */"


class _Job:
    """
    The job's lines, each command written once however many servers,
    stacks or operators ask for it.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._seen: set[str] = set()

    def section(self, *comments: str) -> None:
        if self.lines:
            self.lines.append("")
        self.lines.extend(_comment(c) for c in comments)

    def command(self, *words: str) -> None:
        key = " ".join(words)
        if key in self._seen:
            return
        self._seen.add(key)
        self.lines.extend(folded(list(words)))


def _owner(userId: str) -> str:
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
    owner = _owner(certificate.owner)
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
    backups = [s for s in description.servers if s.backupOf == primary.name]
    servers = [primary, *backups]
    stacks = served_stacks(description, primary)
    return [c for c in _job_certificates(description, servers, stacks) if is_pkcs12(c)]


def _make_certificate(
    job: _Job, description: Description, certificate: Certificate
) -> None:
    owner = _owner(certificate.owner)
    label = f"WITHLABEL({racf_quoted(certificate.label)})"
    if certificate.importFrom is not None:
        if is_pkcs12(certificate):
            # Its password is a secret the job must not hold: README has
            # the command that asks for it, to be run before the job.
            job.lines.append(
                _comment(f"{certificate.label!r}: added before this job (README)")
            )
            return
        job.command(*add_command(certificate))
        return
    words = ["RACDCERT", owner, "GENCERT", _subject(certificate)]
    if certificate.keyType == "NISTECC":
        words.append("NISTECC")
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
            f"SIGNWITH({_owner(signer.owner)} LABEL({racf_quoted(signer.label)}))"
        )
    altname = _altname(certificate)
    if altname is not None:
        words.append(altname)
    job.command(*words)


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


def _job_certificates(
    description: Description,
    servers: list[NssServer],
    stacks: list[NssStack],
) -> list[Certificate]:
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


def racf_job(description: Description, primary: NssServer) -> GeneratedFile:
    backups = [s for s in description.servers if s.backupOf == primary.name]
    servers = [primary, *backups]
    stacks = served_stacks(description, primary)
    system = primary.systemName.upper()
    job = _Job()
    job.section(
        f"{RACF_JOB}: the security set-up of NSS server {primary.name}",
        f"(system {system})"
        + (f" and its backups {', '.join(s.name for s in backups)}" if backups else ""),
        f"generated by nss-assistant.  Run it, then {SECRETS_SCRIPT},",
        "on the server's host: see README.  It holds no secret.",
    )
    job.section("Classes: RACLISTed, generic SERVAUTH; PassTickets active")
    job.command(
        "SETROPTS",
        "CLASSACT(SERVAUTH PTKTDATA)",
        "RACLIST(SERVAUTH)",
        "GENERIC(SERVAUTH)",
    )
    job.command("SETROPTS", "PASSWORD(REVOKE(3))")

    job.section(
        "Users: the server, the stacks (passwords come from the script),",
        "the operators and the owners of certificates",
    )
    job.command("ADDGROUP", CLIENT_GROUP)
    defined: set[str] = set()

    def user(userId: str, name: str, *more: str) -> None:
        if userId.upper() in defined or userId.upper() == "CERTAUTH":
            return
        defined.add(userId.upper())
        job.command("ADDUSER", userId.upper(), f"NAME({racf_quoted(name)})", *more)

    for server in servers:
        user(server.userId, f"NSS server {server.name}", "NOPASSWORD")
        for ring in (server.keyRing, tls_ring(server)):
            user(ring_parts(ring, server.userId)[0], "NSS key rings", "NOPASSWORD")
    for entry in stacks:
        user(
            entry.userId,
            f"iked stacks of image {entry.image.name}",
            "NOPASSWORD",
            f"DFLTGRP({CLIENT_GROUP})",
        )
    for operator in description.operators:
        user(operator.userId, "IPsec operator", "NOPASSWORD")
    certificates = _job_certificates(description, servers, stacks)
    for certificate in certificates:
        user(certificate.owner, "certificate owner", "NOPASSWORD")

    if any(entry.authBy == "PassTicket" for entry in stacks):
        job.section(
            f"PassTickets of application {PASSTICKET_APPLICATION}: the key is",
            f"given by {SECRETS_SCRIPT}",
        )
        job.command("RDEFINE", "PTKTDATA", PASSTICKET_APPLICATION, "UACC(NONE)")

    job.section("Services: each stack's certificate and management services")
    for entry in stacks:
        for service in entry.settings.values.services or ():
            suffix = "CERT" if service == "Cert" else "NETMGMT"
            profile = f"EZB.NSS.{system}.{entry.clientName.upper()}.IPSEC.{suffix}"
            job.command("RDEFINE", "SERVAUTH", profile, "UACC(NONE)")
            job.command(
                "PERMIT",
                profile,
                "CLASS(SERVAUTH)",
                f"ID({entry.userId})",
                "ACCESS(READ)",
            )

    job.section(
        "Certificates: each stack may sign with its own (mapped label), and",
        "every stack may list the CA certificates",
    )
    for entry in stacks:
        label = entry.settings.values.certificate
        if label is None:
            continue
        profile = f"EZB.NSSCERT.{system}.{map_label(label)}.HOST"
        job.command("RDEFINE", "SERVAUTH", profile, "UACC(NONE)")
        job.command(
            "PERMIT", profile, "CLASS(SERVAUTH)", f"ID({entry.userId})", "ACCESS(READ)"
        )
    certauth = f"EZB.NSSCERT.{system}.*.CERTAUTH"
    job.command("RDEFINE", "SERVAUTH", certauth, "UACC(NONE)")
    job.command(
        "PERMIT", certauth, "CLASS(SERVAUTH)", f"ID({CLIENT_GROUP})", "ACCESS(READ)"
    )

    if description.operators:
        job.section("Network management: what each operator may display or control")
    for operator in description.operators:
        profiles = []
        if operator.listClients:
            profiles.append(f"EZB.NETMGMT.{system}.{system}.NSS.DISPLAY")
        profiles += [
            f"EZB.NETMGMT.{system}.{name.upper()}.IPSEC.DISPLAY"
            for name in operator.display
        ]
        profiles += [
            f"EZB.NETMGMT.{system}.{name.upper()}.IPSEC.CONTROL"
            for name in operator.control
        ]
        for profile in profiles:
            job.command("RDEFINE", "SERVAUTH", profile, "UACC(NONE)")
            job.command(
                "PERMIT",
                profile,
                "CLASS(SERVAUTH)",
                f"ID({operator.userId.upper()})",
                "ACCESS(READ)",
            )

    job.section("Certificates: the CAs first, then what they sign")
    for certificate in certificates:
        _make_certificate(job, description, certificate)

    job.section(
        "Key rings: the clients' certificates and the CAs on the KeyRing;",
        "the server's TLS certificate and the CAs on the TLS ring",
    )
    for server in servers:
        owner, ring = ring_parts(server.keyRing, server.userId)
        tlsOwner, tlsRing = ring_parts(tls_ring(server), server.userId)
        job.command("RACDCERT", f"ID({owner})", f"ADDRING({ring})")
        for certificate in certificates:
            if certificate.usage == "client":
                usage = "PERSONAL"
            elif certificate.usage == "certauth":
                usage = "CERTAUTH"
            else:
                continue
            job.command(
                "RACDCERT",
                f"ID({owner})",
                f"CONNECT({_owner(certificate.owner)}"
                f" LABEL({racf_quoted(certificate.label)}) RING({ring})"
                f" USAGE({usage}))",
            )
        job.command("RACDCERT", f"ID({tlsOwner})", f"ADDRING({tlsRing})")
        presented = tls_certificate(description, server)
        if presented is not None:
            default = "" if server.tlsLabel is not None else " DEFAULT"
            job.command(
                "RACDCERT",
                f"ID({tlsOwner})",
                f"CONNECT({_owner(presented.owner)}"
                f" LABEL({racf_quoted(presented.label)}) RING({tlsRing}){default})",
            )
        for certificate in certificates:
            if certificate.usage == "certauth" and (tlsOwner, tlsRing) != (owner, ring):
                job.command(
                    "RACDCERT",
                    f"ID({tlsOwner})",
                    f"CONNECT(CERTAUTH LABEL({racf_quoted(certificate.label)})"
                    f" RING({tlsRing}))",
                )

    roots = _exported_roots(description, servers)
    if roots:
        job.section(
            "The CA certificate of the server's TLS certificate, for the",
            "images' CaFile (written beside this job; see README)",
        )
    for file, root in roots:
        job.command(
            "RACDCERT",
            _owner(root.owner),
            f"EXPORT(LABEL({racf_quoted(root.label)}))",
            f"DSN({racf_quoted(file)})",
        )

    job.section("Make running servers pick the changes up")
    job.command("SETROPTS", "RACLIST(SERVAUTH)", "REFRESH")
    job.lines.append("")
    return GeneratedFile(
        f"{primary.name}/{RACF_JOB}", "\n".join(job.lines).encode(), Role.JOB
    )


def _exported_roots(
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
    backups = [s for s in description.servers if s.backupOf == primary.name]
    return [file for file, _ in _exported_roots(description, [primary, *backups])]


def database_options(primary: NssServer) -> list[str]:
    """
    nss-racf's options for the server's database and stash; none where the
    server uses the usual search, which nss-racf makes too.
    """
    options = []
    if primary.database is not None:
        options += ["--database", primary.database]
    if primary.stashFile is not None:
        options += ["--stash", primary.stashFile]
    return options


def secrets_script(description: Description, primary: NssServer) -> GeneratedFile:
    stacks = served_stacks(description, primary)
    racf = '"$NSS_RACF"' + "".join(
        " " + shlex.quote(o) for o in database_options(primary)
    )
    lines = [
        "#!/bin/sh",
        f"# {SECRETS_SCRIPT}: the secrets of NSS server {primary.name}'s security",
        f"# database, which {RACF_JOB} leaves out.  Run it after the job, on the",
        "# same host:   sh " + SECRETS_SCRIPT,
        "# nss-racf reads each secret from standard input (a keyword without its",
        f"# value), from the files in {SERVER_SECRETS}/ (mode 0600): no secret is",
        "# ever on a command line.  Delete the folder once this has run.",
        "# NSS_RACF names another nss-racf to run.",
        "set -eu",
        'cd "$(dirname "$0")"',
        'NSS_RACF="${NSS_RACF:-nss-racf}"',
    ]
    done: set[str] = set()
    for entry in stacks:
        if entry.authBy == "PassTicket":
            command = f"RALTER PTKTDATA {PASSTICKET_APPLICATION} SSIGNON(KEYMASKED)"
            file = f"{PASSTICKET_APPLICATION}{PASSTICKET_KEY_SUFFIX}"
        else:
            command = f"ALTUSER {entry.userId} PASSWORD"
            file = secret_file_name(entry)
        if command in done:
            continue
        done.add(command)
        lines.append(f"{racf} {shlex.quote(command)} < {SERVER_SECRETS}/{file}")
    lines.append("")
    return GeneratedFile(
        f"{primary.name}/{SECRETS_SCRIPT}", "\n".join(lines).encode(), Role.JOB
    )


def generate_racf(description: Description) -> list[GeneratedFile]:
    files = []
    for primary in primaries(description):
        files.append(racf_job(description, primary))
        files.append(secrets_script(description, primary))
    return files
