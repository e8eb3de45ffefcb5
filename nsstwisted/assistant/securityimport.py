"""
The security database's part of an import: the certificates on nssd's key
rings and the operators its EZB.NETMGMT profiles permit, as the
description's L{Certificate} and L{Operator} entries.

The database is opened read-only and nothing sealed in it is unsealed: a
private key or a PassTicket key cannot go into a description (which is a
plain file an operator edits and may share), so the import says which
secrets it left behind instead.  Only the stash is checked against the
database, when one is known, since a deployment with the wrong stash would
not start.

The profiles that follow from the stacks (EZB.NSS, EZB.NSSCERT, PTKTDATA)
are not read back: the generators derive them from the stacks and
certificates, which is the point of the assistant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from nsstwisted.assistant.importnotices import ImportNotice, ImportRefused
from nsstwisted.assistant.model import (
    Certificate,
    CertificateUsage,
    KeyType,
    Operator,
)
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import NotFoundError, SecurityError
from nsstwisted.security.keyring import (
    CertificateOwner,
    CertificateRecord,
    KeyRingStore,
)
from nsstwisted.security.keyring import CertificateUsage as RingUsage
from nsstwisted.security.location import shown_location
from nsstwisted.security.profiles import (
    AccessLevel,
    ProfileStore,
    ResourceClass,
    ResourceProfile,
)
from nsstwisted.security.users import UserRegistry

__all__ = ["InstalledSecurity", "ServerRings", "read_security"]

# The entry of an access list that stands for every user (RACF's ID(*)).
_EVERY_USER = "*"


@dataclass(frozen=True)
class ServerRings:
    """
    The rings of one nssd, as its nssd.conf names them.

    @ivar keyRing: C{KeyRing}: the clients' certificates and the CAs.
    @ivar tlsKeyRing: C{TlsKeyRing}, or C{keyRing} when not coded.
    @ivar tlsLabel: C{TlsLabel}, or C{None} for the TLS ring's DEFAULT.
    @ivar where: the file that names them, for notices.
    """

    keyRing: tuple[str, str]
    tlsKeyRing: tuple[str, str]
    tlsLabel: str | None
    where: str


@dataclass(frozen=True)
class InstalledSecurity:
    """
    What the security database gave the import.

    @ivar tlsLabels: per L{ServerRings} given, the label of the certificate
        that server presents in TLS (its C{TlsLabel}, or the DEFAULT entry
        of its TLS ring), or C{None} if there is none.
    """

    certificates: tuple[Certificate, ...]
    operators: tuple[Operator, ...]
    tlsLabels: tuple[str | None, ...]
    notices: tuple[ImportNotice, ...]


def read_security(
    location: str,
    stash: str | None,
    servers: Sequence[ServerRings],
    systemNames: Sequence[str],
) -> InstalledSecurity:
    """
    Read the certificates on the servers' rings and the operators of the
    EZB.NETMGMT profiles of C{systemNames} from the database at
    C{location}.

    @param stash: the stash file to check against the database, or C{None}
        to check none.
    @raise ImportRefused: the database cannot be opened or read (NSA0084E).
    """
    shown = shown_location(location)
    try:
        database = SecurityDatabase.open(
            location, stash or "", create=False, readOnly=True
        )
    except SecurityError as e:
        raise ImportRefused(
            "NSA0084E", f"the security database {shown} cannot be read: {e}"
        ) from None
    try:
        return _read(database, stash, servers, systemNames)
    except SecurityError as e:
        raise ImportRefused(
            "NSA0084E", f"the security database {shown} cannot be read: {e}"
        ) from None
    finally:
        database.close()


def _read(
    database: SecurityDatabase,
    stash: str | None,
    servers: Sequence[ServerRings],
    systemNames: Sequence[str],
) -> InstalledSecurity:
    notices: list[ImportNotice] = []
    if stash is not None:
        try:
            database.check_stash()
        except SecurityError as e:
            notices.append(
                ImportNotice(
                    "NSA0096W",
                    f"the stash file {stash} does not open the security database"
                    f" ({e}): a server deployed with it would not start",
                )
            )
    _secrets(database, notices)
    rings = _RingReader(KeyRingStore(database), notices)
    tlsLabels = tuple(rings.read(server) for server in servers)
    certificates = rings.certificates()
    operators = _operators(database, {n.upper() for n in systemNames}, notices)
    return InstalledSecurity(certificates, operators, tlsLabels, tuple(notices))


def _secrets(database: SecurityDatabase, notices: list[ImportNotice]) -> None:
    """
    Say which passwords and PassTicket keys the database holds and the
    description cannot: a password is kept only as its hash, a PassTicket
    key only sealed, and neither belongs in a plain file.
    """
    users = UserRegistry(database)
    withPassword = [u for u in users.list_userids() if users.get_user(u).hasPassword]
    keys = [
        p.name
        for p in ProfileStore(database).list(ResourceClass.PTKTDATA)
        if p.hasPassTicketKey
    ]
    if withPassword or keys:
        held = [
            *([f"the passwords of {', '.join(withPassword)}"] if withPassword else []),
            *([f"the PassTicket keys of {', '.join(keys)}"] if keys else []),
        ]
        notices.append(
            ImportNotice(
                "NSA0091W",
                f"{' and '.join(held)} are not imported: a database keeps them"
                " only hashed or sealed; set them anew where a generated file"
                " needs them, or keep the users and profiles as they are",
            )
        )


@dataclass
class _Found:
    record: CertificateRecord
    usage: CertificateUsage


@dataclass
class _RingReader:
    """
    Collects the certificates of every ring read, once each: a CA is on
    both of a server's rings, and two servers share their rings.
    """

    store: KeyRingStore
    notices: list[ImportNotice]
    found: dict[tuple[str, str], _Found] = field(default_factory=dict)

    def read(self, server: ServerRings) -> str | None:
        tlsLabel: str | None = None
        for ring in dict.fromkeys((server.keyRing, server.tlsKeyRing)):
            try:
                keyRing = self.store.ring(*ring)
            except NotFoundError:
                self.notices.append(
                    ImportNotice(
                        "NSA0094W",
                        f"the key ring {ring[0]}/{ring[1]} that {server.where}"
                        " names does not exist in the security database: its"
                        " certificates are not imported",
                    )
                )
                continue
            for entry in keyRing.entries:
                usage: CertificateUsage = "client"
                if entry.usage is RingUsage.CERTAUTH or entry.record.owner.certauth:
                    usage = "certauth"
                elif ring == server.tlsKeyRing and (
                    entry.record.label == server.tlsLabel
                    if server.tlsLabel is not None
                    else entry.isDefault
                ):
                    usage, tlsLabel = "server", entry.record.label
                self._add(entry.record, usage)
        if tlsLabel is None:
            which = server.tlsLabel or "DEFAULT"
            tlsRing = "/".join(server.tlsKeyRing)
            self.notices.append(
                ImportNotice(
                    "NSA0094W",
                    f"{server.where}: the TLS certificate ({which} of {tlsRing}) is"
                    " not in the security database: the server has no TLS"
                    " certificate in the description",
                )
            )
        return tlsLabel

    def _add(self, record: CertificateRecord, usage: CertificateUsage) -> None:
        key = (record.owner.key, record.label)
        known = self.found.get(key)
        if known is None:
            self.found[key] = _Found(record, usage)
        elif usage != "client" and known.usage == "client":
            known.usage = usage

    def certificates(self) -> tuple[Certificate, ...]:
        authorities = [f.record for f in self.found.values() if f.usage == "certauth"]
        others = [
            r
            for r in self.store.list_certificates(CertificateOwner.authority())
            if (r.owner.key, r.label) not in self.found
        ]
        result: list[Certificate] = []
        for found in list(self.found.values()):
            signer = _issuer(found.record, authorities, others)
            if signer is not None and (signer.owner.key, signer.label) not in (
                self.found
            ):
                # The CA is in the database but on no ring read: it still
                # belongs in the description, which its certificates name.
                self.found[(signer.owner.key, signer.label)] = _Found(
                    signer, "certauth"
                )
                authorities.append(signer)
                converted = self._certificate(signer, "certauth", None)
                if converted is not None:
                    result.append(converted)
            converted = self._certificate(found.record, found.usage, signer)
            if converted is not None:
                result.append(converted)
        result.sort(key=_certificate_order)
        kept = [c.label for c in result]
        if kept:
            self.notices.append(
                ImportNotice(
                    "NSA0091W",
                    "the private keys of the certificates are not imported"
                    f" ({', '.join(kept)}): a RACF job generated from the"
                    " description makes new key pairs; to keep a certificate,"
                    " export it with RACDCERT EXPORT and name the file in its"
                    " importFrom",
                )
            )
        return tuple(result)

    def _certificate(
        self,
        record: CertificateRecord,
        usage: CertificateUsage,
        signer: CertificateRecord | None,
    ) -> Certificate | None:
        cert = record.certificate
        key = _key(cert)
        if key is None:
            self.notices.append(
                ImportNotice(
                    "NSA0094W",
                    f"certificate {record.label!r} of {record.owner} has a key"
                    " that is neither RSA nor a NIST curve: it is not imported",
                )
            )
            return None
        if not record.owner.certauth and record.owner.userid is None:
            self.notices.append(
                ImportNotice(
                    "NSA0094W",
                    f"certificate {record.label!r} is a SITE certificate: the"
                    " description names it with owner SITE, which a generated"
                    " job cannot make; add it with importFrom",
                )
            )
        selfSigned = cert.issuer == cert.subject
        if signer is None and not selfSigned:
            self.notices.append(
                ImportNotice(
                    "NSA0094W",
                    f"certificate {record.label!r}: its issuer"
                    f" {cert.issuer.rfc4514_string()} is no CA certificate of"
                    " the security database, so it has no signedBy",
                )
            )
        return Certificate(
            label=record.label,
            usage=usage,
            subject=cert.subject.rfc4514_string(),
            owner=_owner(record.owner),
            identities=_identities(cert),
            keyType=key[0],
            keySize=key[1],
            signedBy=None if signer is None or selfSigned else signer.label,
        )


def _certificate_order(certificate: Certificate) -> tuple[int, str]:
    # CAs first, as a RACF job must make them before what they sign.
    rank = {"certauth": 0, "server": 1, "client": 2}[certificate.usage]
    return rank, certificate.label


def _owner(owner: CertificateOwner) -> str:
    if owner.userid is not None:
        return owner.userid
    return "CERTAUTH" if owner.certauth else "SITE"


def _issuer(
    record: CertificateRecord,
    *candidates: Sequence[CertificateRecord],
) -> CertificateRecord | None:
    """
    The CA certificate that signed C{record}: the subject must be its
    issuer and the signature must check, so that two CAs of one name are
    told apart.  A self-signed certificate has none.
    """
    cert = record.certificate
    if cert.issuer == cert.subject:
        return None
    for group in candidates:
        for ca in group:
            if ca.certificate.subject != cert.issuer or ca.der == record.der:
                continue
            try:
                cert.verify_directly_issued_by(ca.certificate)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return ca
    return None


def _key(cert: x509.Certificate) -> tuple[KeyType, int] | None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
    ):
        return "NISTECC", key.curve.key_size
    return None


def _identities(cert: x509.Certificate) -> tuple[str, ...]:
    """
    The subjectAltName entries as IKE identities, in the certificate's
    order: IpAddr, Fqdn, UserAtFqdn, X500dn.
    """
    try:
        names = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return ()
    identities: list[str] = []
    for name in names:
        if isinstance(name, x509.IPAddress):
            identities.append(f"IpAddr {name.value}")
        elif isinstance(name, x509.DNSName):
            identities.append(f"Fqdn {name.value}")
        elif isinstance(name, x509.RFC822Name):
            identities.append(f"UserAtFqdn {name.value}")
        elif isinstance(name, x509.DirectoryName):
            identities.append(f"X500dn {name.value.rfc4514_string()}")
    return tuple(identities)


# --- operators --------------------------------------------------------------


@dataclass
class _Authority:
    display: set[str] = field(default_factory=set)
    control: set[str] = field(default_factory=set)
    listClients: bool = False


def _operators(
    database: SecurityDatabase, systemNames: set[str], notices: list[ImportNotice]
) -> tuple[Operator, ...]:
    """
    The operators of the network management profiles nssd checks:
    C{EZB.NETMGMT.sys.sys.NSS.DISPLAY} (list the clients) and
    C{EZB.NETMGMT.sys.client.IPSEC.DISPLAY} or C{.CONTROL}.  Everyone with
    READ or more is an operator; a group's members are, each.
    """
    users = UserRegistry(database)
    found: dict[str, _Authority] = {}
    for profile in ProfileStore(database).list(ResourceClass.SERVAUTH):
        parts = profile.name.split(".")
        if parts[:2] != ["EZB", "NETMGMT"]:
            continue
        grant = _grant(profile, parts, systemNames, notices)
        if grant is None:
            continue
        for userid in _permitted(users, profile, notices):
            authority = found.setdefault(userid, _Authority())
            kind, target = grant
            if kind == "list":
                authority.listClients = True
            elif kind == "DISPLAY":
                authority.display.add(target)
            else:
                authority.control.add(target)
    return tuple(
        Operator(
            userId=userid,
            display=_targets(found[userid].display),
            control=_targets(found[userid].control),
            listClients=found[userid].listClients,
        )
        for userid in sorted(found)
    )


def _targets(targets: set[str]) -> tuple[str, ...]:
    return tuple(sorted(targets, key=lambda t: (t != "*", t)))


def _grant(
    profile: ResourceProfile,
    parts: list[str],
    systemNames: set[str],
    notices: list[ImportNotice],
) -> tuple[str, str] | None:
    """
    What C{profile} lets its users do, as (C{"list"}, C{""}), (C{"DISPLAY"},
    client) or (C{"CONTROL"}, client); C{None} for a profile of another
    system or one nssd does not check.
    """
    if len(parts) != 6:
        notices.append(
            ImportNotice(
                "NSA0095W",
                f"SERVAUTH profile {profile.name} is not a network management"
                " profile nssd checks (EZB.NETMGMT.sys.name.NSS|IPSEC.DISPLAY"
                "|CONTROL): its access list is not imported",
            )
        )
        return None
    system, target, family, kind = parts[2:]
    if system != "*" and system not in systemNames:
        return None
    if family == "NSS" and kind == "DISPLAY" and target in (system, "*"):
        grant = ("list", "")
    elif family == "IPSEC" and kind in ("DISPLAY", "CONTROL"):
        grant = (kind, target)
        if target != "*" and any(c in target for c in "*%"):
            notices.append(
                ImportNotice(
                    "NSA0095W",
                    f"SERVAUTH profile {profile.name} is generic: its operators"
                    f" get {target} as written, which the description keeps as"
                    " a client name pattern",
                )
            )
    else:
        notices.append(
            ImportNotice(
                "NSA0095W",
                f"SERVAUTH profile {profile.name} is not a network management"
                " profile nssd checks: its access list is not imported",
            )
        )
        return None
    if profile.uacc >= AccessLevel.READ:
        notices.append(
            ImportNotice(
                "NSA0095W",
                f"SERVAUTH profile {profile.name} has UACC({profile.uacc.name}):"
                " every user may do what it protects, which the description's"
                " operators cannot say; only its access list is imported",
            )
        )
    return grant


def _permitted(
    users: UserRegistry, profile: ResourceProfile, notices: list[ImportNotice]
) -> list[str]:
    """
    The user IDs that C{profile}'s access list gives READ or more, a
    group's members in its place.
    """
    userids: list[str] = []
    for entry, access in profile.accessList:
        if access < AccessLevel.READ:
            continue
        if entry == _EVERY_USER:
            notices.append(
                ImportNotice(
                    "NSA0095W",
                    f"SERVAUTH profile {profile.name} permits ID(*), every"
                    " user: that entry is not imported",
                )
            )
            continue
        try:
            users.get_user(entry)
            userids.append(entry)
            continue
        except NotFoundError:
            pass
        try:
            members = users.get_group(entry).members
        except NotFoundError:
            continue
        notices.append(
            ImportNotice(
                "NSA0095W",
                f"SERVAUTH profile {profile.name} permits the group {entry}:"
                f" its members ({', '.join(members) or 'none'}) are imported as"
                " operators each, and the group is not kept",
            )
        )
        userids.extend(members)
    return userids
