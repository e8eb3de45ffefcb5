"""
The reverse direction of the assistant: an installation made by hand (its
nssd.conf files, its iked.conf files and its security database) read into
a L{Description}, so that it can be brought under the assistant.

The files are read by L{nsstwisted.assistant.installedconf}, the
database by L{nsstwisted.assistant.securityimport}; this module puts what
they found together, by the rules below, which docs/assistant.md
("Importing an installation") states for operators.

How the pieces become a description:

  - Servers: each distinct C{NetworkSecurityServer} and
    C{NetworkSecurityServerBackup} of the iked.conf files is a server; the
    nssd.conf files are matched to them by port, in the order given
    (primary first).  A backup without an nssd.conf of its own shares its
    primary's settings, as a backup must (NSA0093W); an nssd.conf that no
    iked.conf names gets the address of the host the import was told of.
  - Images: one per iked.conf, named by its SystemName.  A setting that
    every NSS stack of the image has alike becomes the image's default
    (left unset where it equals the documented default); a setting the
    stacks do not share is each stack's override.
  - Stacks: a client name equal to the seed's default C{SYSNAME_STACKNAME}
    is imported as C{None}, so that a re-generation writes what the
    installation has.  A stack's certificate is the one client certificate
    its user ID owns on nssd's key ring, and its identity that
    certificate's one subjectAltName, where there is exactly one.
  - Certificates and operators come from the security database
    (L{nsstwisted.assistant.securityimport}).

Secrets are never read: not the password and PassTicket key files the
stacks name, not the private keys; the notices say so (NSA0091W).

Sans-IO but for reading the files and the database: no Twisted.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nsstwisted.assistant.importnotices import ImportNotice, ImportRefused
from nsstwisted.assistant.installedconf import (
    IkedFacts,
    NssdFacts,
    ServerAddress,
    StackFacts,
    read_iked,
    read_nssd,
)
from nsstwisted.assistant.model import (
    SETTING_DEFAULTS,
    Certificate,
    Description,
    Image,
    NssServer,
    Operator,
    Stack,
    StackSettings,
)
from nsstwisted.assistant.securityimport import ServerRings, read_security
from nsstwisted.config.values import DEFAULT_METRICS_INTERFACE, MetricsListener
from nsstwisted.security.errors import StashError
from nsstwisted.security.location import database_path, stash_path

__all__ = [
    "ImportNotice",
    "ImportRefused",
    "ImportedInstallation",
    "import_installation",
]

_MODEL_KEY_RING = NssServer(name="", systemName="", address="").keyRing


@dataclass(frozen=True)
class ImportedInstallation:
    """
    The result of an import: the description, and what the operator must
    know about it, in the order found.
    """

    description: Description
    notices: tuple[ImportNotice, ...]


# --- servers ----------------------------------------------------------------


def _toml_key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text) or "nssd"


def _unique(base: str, taken: set[str]) -> str:
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    taken.add(name)
    return name


def _server_base(address: ServerAddress | None, system: str, backup: bool) -> str:
    """
    A server's name in the description: its host's first label for a host
    name, else its system name (and C{-backup} for a backup).
    """
    if address is not None and not re.fullmatch(r"[0-9.]+|.*:.*", address.host):
        return _toml_key(address.host.split(".", 1)[0].lower())
    return _toml_key(system.lower() + ("-backup" if backup else ""))


def _server(
    name: str,
    facts: NssdFacts,
    address: str,
    port: int,
    identity: str | None,
    notices: list[ImportNotice],
) -> NssServer:
    keyRing = facts.keyRing
    if keyRing is None:
        notices.append(
            ImportNotice(
                "NSA0093W",
                f"{facts.path} codes no KeyRing: server {name} gets the"
                f" description's {_MODEL_KEY_RING}",
            )
        )
        owner, ring = _MODEL_KEY_RING.split("/", 1)
        keyRing = (owner, ring)
    tlsKeyRing = facts.tlsKeyRing if facts.tlsKeyRing not in (None, keyRing) else None
    return NssServer(
        name=name,
        systemName=facts.systemName,
        address=address,
        port=port,
        keyRing="/".join(keyRing),
        tlsKeyRing=None if tlsKeyRing is None else "/".join(tlsKeyRing),
        tlsLabel=facts.tlsLabel,
        syslogLevel=facts.syslogLevel,
        database=facts.database,
        stashFile=facts.stashFile,
        nmiSocket=facts.nmiSocket,
        userId=keyRing[0],
        identity=identity,
        **_metrics(facts.metrics),
        auditFile=facts.auditFile,
        auditSync=facts.auditSync.value,
        auditRequired=facts.auditRequired,
        auditSyslog=facts.auditSyslog,
        auditSyslogSocket=facts.auditSyslogSocket,
        pkcs11Module=facts.pkcs11Module,
        pkcs11TokenLabel=facts.pkcs11TokenLabel,
        pkcs11PinFile=facts.pkcs11PinFile,
    )


def _metrics(listener: MetricsListener | None) -> dict[str, Any]:
    """
    A MetricsPort as the description's metricsPort and metricsInterface,
    the interface left unset where it is the daemons' default.
    """
    if listener is None:
        return {}
    interface = listener.interface
    return {
        "metricsPort": listener.port,
        "metricsInterface": (
            None if interface == DEFAULT_METRICS_INTERFACE else interface
        ),
    }


@dataclass
class _Servers:
    servers: list[NssServer] = field(default_factory=list)
    byAddress: dict[tuple[str, int], str] = field(default_factory=dict)
    # Each nssd.conf read, with the server it became.
    read: list[tuple[NssdFacts, str]] = field(default_factory=list)

    def named(self, name: str) -> NssServer:
        return next(s for s in self.servers if s.name == name)

    def replace(self, name: str, **changes: object) -> None:
        self.servers = [
            dataclasses.replace(s, **changes) if s.name == name else s  # type: ignore[arg-type]
            for s in self.servers
        ]


def _servers(
    nssd: Sequence[NssdFacts],
    iked: Sequence[IkedFacts],
    hostname: str | None,
    notices: list[ImportNotice],
) -> _Servers:
    result = _Servers()
    taken: set[str] = set()
    unmatched = list(nssd)
    for image in iked:
        primaryName: str | None = None
        for address, backup in ((image.primary, False), (image.backup, True)):
            if address is None:
                continue
            known = result.byAddress.get(address.key)
            if known is None:
                known = _new_server(
                    address,
                    backup,
                    primaryName,
                    image,
                    unmatched,
                    result,
                    taken,
                    notices,
                )
            if backup and primaryName is not None and known != primaryName:
                server = result.named(known)
                primaries = {
                    result.byAddress.get(i.primary.key)
                    for i in iked
                    if i.primary is not None
                }
                if server.backupOf is None and known not in primaries:
                    result.replace(known, backupOf=primaryName)
            if not backup:
                primaryName = known
    for facts in unmatched:
        host = hostname or "localhost"
        name = _unique(_server_base(None, facts.systemName, False), taken)
        notices.append(
            ImportNotice(
                "NSA0093W",
                f"{facts.path}: no iked.conf names this server"
                f" (NetworkSecurityServer with Port {facts.port}): server {name}"
                f" gets the address {host}; correct it",
            )
        )
        result.servers.append(_server(name, facts, host, facts.port, None, notices))
        result.read.append((facts, name))
    return result


def _new_server(
    address: ServerAddress,
    backup: bool,
    primaryName: str | None,
    image: IkedFacts,
    unmatched: list[NssdFacts],
    result: _Servers,
    taken: set[str],
    notices: list[ImportNotice],
) -> str:
    """
    The server at C{address}, first met: from the first unmatched nssd.conf
    with its port, else from its primary's (a backup), else from nothing.
    """
    facts = next((f for f in unmatched if f.port == address.port), None)
    where = f"{address.host} Port {address.port} ({image.path})"
    if facts is not None:
        unmatched.remove(facts)
    elif backup and primaryName is not None:
        primary = next((f for f, name in result.read if name == primaryName), None)
        if primary is not None:
            facts = dataclasses.replace(primary)
            notices.append(
                ImportNotice(
                    "NSA0093W",
                    f"no nssd.conf was given for the backup server {where}: it"
                    f" gets the settings of its primary's, {primary.path}",
                )
            )
    if facts is None:
        facts = NssdFacts(f"the server {where}", image.systemName, address.port)
        notices.append(
            ImportNotice(
                "NSA0093W",
                f"no nssd.conf was given for the server {where}: it gets the"
                f" defaults, and the system name {image.systemName} of the"
                " image that names it; correct them",
            )
        )
    name = _unique(_server_base(address, facts.systemName, backup), taken)
    server = _server(name, facts, address.host, address.port, address.identity, notices)
    result.servers.append(server)
    result.byAddress[address.key] = name
    result.read.append((facts, name))
    return name


# --- images -----------------------------------------------------------------

_SHARED = ("userId", "authBy", "services", "certificate", "identity")


def _stack_certificate(
    userId: str | None,
    certificates: Sequence[Certificate],
    where: str,
    notices: list[ImportNotice],
) -> tuple[str | None, str | None]:
    """
    The stack's certificate (the one client certificate its user ID owns)
    and identity (that certificate's one subjectAltName), where there is
    exactly one of each.
    """
    owned = [c for c in certificates if c.usage == "client" and c.owner == userId]
    if len(owned) > 1:
        notices.append(
            ImportNotice(
                "NSA0097W",
                f"{where}: user {userId} owns several client certificates"
                f" ({', '.join(c.label for c in owned)}): the stack names none;"
                " set its certificate",
            )
        )
    if len(owned) != 1:
        return None, None
    identities = owned[0].identities
    return owned[0].label, identities[0] if len(identities) == 1 else None


def _image(
    name: str,
    facts: IkedFacts,
    servers: _Servers,
    certificates: Sequence[Certificate],
    notices: list[ImportNotice],
) -> Image:
    own: dict[str, dict[str, object]] = {}
    for stack in facts.stacks:
        if not stack.nss:
            continue
        where = f"{facts.path}: stack {stack.name}"
        certificate, identity = _stack_certificate(
            stack.userId, certificates, where, notices
        )
        own[stack.name] = {
            "userId": stack.userId,
            "authBy": stack.authBy,
            "services": stack.services,
            "certificate": certificate,
            "identity": identity,
        }
    defaults: dict[str, object] = {}
    overrides: dict[str, dict[str, object]] = {n: {} for n in own}
    for setting in _SHARED:
        values = [v[setting] for v in own.values()]
        if values and all(v == values[0] for v in values):
            if values[0] != SETTING_DEFAULTS[setting]:
                defaults[setting] = values[0]
        else:
            for stackName, v in own.items():
                overrides[stackName][setting] = v[setting]
    names: list[str] = []
    for address in (facts.primary, facts.backup):
        if address is not None:
            names.append(servers.byAddress[address.key])
    if names:
        defaults["servers"] = tuple(dict.fromkeys(names))
    for setting in ("nssWaitLimit", "nssWaitRetries"):
        value = getattr(facts, setting)
        if value is not None and value != SETTING_DEFAULTS[setting]:
            defaults[setting] = value
    stacks = tuple(
        Stack(
            name=stack.name,
            clientName=_client_name_of(facts, stack),
            overrides=StackSettings(**overrides.get(stack.name, {})),  # type: ignore[arg-type]
            namespace=stack.namespace,
            policyFile=stack.policyFile,
            nss=stack.nss,
        )
        for stack in facts.stacks
    )
    extra: dict[str, object] = {}
    directory = _secrets_directory(facts, notices)
    if directory is not None:
        extra["secretsDirectory"] = directory
    return Image(
        name=name,
        systemName=facts.systemName,
        defaults=StackSettings(**defaults),  # type: ignore[arg-type]
        stacks=stacks,
        caFile=facts.caFile,
        ikeSyslogLevel=facts.ikeSyslogLevel,
        nmiSocket=facts.nmiSocket,
        saInstaller=facts.saInstaller,  # type: ignore[arg-type]
        **_metrics(facts.metrics),
        **extra,  # type: ignore[arg-type]
    )


def _client_name_of(facts: IkedFacts, stack: StackFacts) -> str | None:
    """
    The client name to describe: C{None} where it is the seed's default,
    which iked uses when none is coded, so that re-generation is faithful.
    """
    if stack.clientName == f"{facts.systemName}_{stack.name}":
        return None
    return stack.clientName


def _secrets_directory(facts: IkedFacts, notices: list[ImportNotice]) -> str | None:
    """
    Where the image's secret files are, if they share a folder; and the
    notice that the secrets themselves are not imported.
    """
    files = [s.secretFile for s in facts.stacks if s.secretFile is not None]
    if not files:
        return None
    folders = {os.path.dirname(f) for f in files}
    notices.append(
        ImportNotice(
            "NSA0091W",
            f"{facts.path}: the stacks' password and PassTicket key files"
            f" ({', '.join(files)}) are not read: a description holds no"
            " secret; put them where the generated iked.conf names them",
        )
    )
    if len(folders) == 1:
        return folders.pop()
    notices.append(
        ImportNotice(
            "NSA0091W",
            f"{facts.path}: the stacks' secret files are in several folders"
            f" ({', '.join(sorted(folders))}): the image's secretsDirectory"
            " is left at its default",
        )
    )
    return None


# --- the whole installation -------------------------------------------------


def import_installation(
    nssdConfs: Sequence[str] = (),
    ikedConfs: Sequence[str] = (),
    *,
    database: str | None = None,
    stash: str | None = None,
    hostname: str | None = None,
    source: str = "<import>",
    environ: Mapping[str, str] | None = None,
) -> ImportedInstallation:
    """
    Read an installation into a description.

    @param nssdConfs: the nssd.conf files, a primary before its backup.
    @param ikedConfs: the iked.conf files, one per image.
    @param database: the security database; by default the one the first
        nssd.conf names (C{SecurityDatabase}), else, if an nssd.conf is
        given, the one nssd would use (C{NSS_SECURITY_DB}, then the
        default).  With only iked.conf files and no C{database}, the
        description has no certificates and no operators (NSA0096W).
    @param stash: the stash file to check against the database; by default
        the first nssd.conf's C{StashFile}, else by the usual search
        (C{NSS_STASH}, then the file beside an SQLite database).
    @param hostname: the host whose name gives the system name of a file
        that codes no C{SystemName}, as the daemons take it.
    @param source: the description's C{source}.
    @param environ: the environment of the usual searches; L{None} for
        C{os.environ}.
    @raise ImportRefused: a file cannot be read or breaks its syntax, a
        system name cannot be had, or the database cannot be read.
    """
    notices: list[ImportNotice] = []
    nssd = [read_nssd(path, hostname, notices) for path in nssdConfs]
    iked = [read_iked(path, hostname, notices) for path in ikedConfs]
    servers = _servers(nssd, iked, hostname, notices)

    location = database or next((f.database for f in nssd if f.database), None)
    if location is None and nssd:
        # nssd's own search, which finds the database it serves from.
        location = database_path(None, environ)
    certificates: tuple[Certificate, ...] = ()
    operators: tuple[Operator, ...] = ()
    if location is None:
        notices.append(
            ImportNotice(
                "NSA0096W",
                "no security database is named (--database) and no nssd.conf"
                " is given: the description has no certificates and no"
                " operators",
            )
        )
    else:
        stashFile = stash or next((f.stashFile for f in nssd if f.stashFile), None)
        if stashFile is None:
            try:
                stashFile = stash_path(location, None, environ)
            except StashError:
                stashFile = None
        rings: list[ServerRings] = []
        for facts, name in servers.read:
            server = servers.named(name)
            keyRing = _pair(server.keyRing)
            tlsRing = keyRing if server.tlsKeyRing is None else _pair(server.tlsKeyRing)
            ring = ServerRings(keyRing, tlsRing, server.tlsLabel, facts.path)
            if ring not in rings:
                rings.append(ring)
        security = read_security(
            location,
            stashFile,
            rings,
            sorted({s.systemName for s in servers.servers}),
        )
        notices.extend(security.notices)
        certificates, operators = security.certificates, security.operators
        for _facts, name in servers.read:
            server = servers.named(name)
            keyRing = _pair(server.keyRing)
            tlsRing = keyRing if server.tlsKeyRing is None else _pair(server.tlsKeyRing)
            index = next(
                i
                for i, r in enumerate(rings)
                if (r.keyRing, r.tlsKeyRing, r.tlsLabel)
                == (keyRing, tlsRing, server.tlsLabel)
            )
            if server.tlsLabel is None and security.tlsLabels[index] is not None:
                servers.replace(name, tlsLabel=security.tlsLabels[index])

    images: list[Image] = []
    taken: set[str] = set()
    for image in iked:
        name = _unique(_toml_key(image.systemName), taken)
        images.append(_image(name, image, servers, certificates, notices))
    description = Description(
        servers=tuple(servers.servers),
        images=tuple(images),
        certificates=certificates,
        operators=operators,
        source=source,
    )
    return ImportedInstallation(description, tuple(notices))


def _pair(ring: str) -> tuple[str, str]:
    owner, _, name = ring.partition("/")
    return owner, name
