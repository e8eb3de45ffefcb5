"""
Check a description: every value the model can hold wrongly, and every
reference between its tables, each with a finding that names the table and
key to correct.

A description reaches here from the TOML file, from the importer or from
the web page's forms, so nothing assumes the loader has looked at it.  The
rules are the daemons' own, called rather than restated: system names and
paths as nssd.conf and iked.conf check them (L{nsstwisted.config.values}),
identities as iked checks them (L{nsstwisted.config.identities}), user IDs
as RACF defines them (L{nsstwisted.security.users.normalize_id}), client
names as the NSS protocol carries them (L{nsstwisted.wire.nss}), SERVAUTH
profile names and certificate label mapping as nssd builds them
(L{nsstwisted.security.generic}, L{nsstwisted.security.labels}).  A
description that passes makes files the daemons and C{nss-racf} take, and
an installation whose names agree: every client name a profile, every
certificate a stack that signs with it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nsstwisted.assistant.layout import (
    IMAGE_ONLY_KEYS,
    INHERITED_KEYS,
    certificate_table,
    defaults_table,
    image_table,
    operator_table,
    server_table,
    stack_table,
)
from nsstwisted.assistant.model import (
    IMAGE_ONLY_SETTINGS,
    MAX_STACKS_PER_IMAGE,
    Certificate,
    Description,
    Finding,
    Image,
    NssServer,
    Stack,
    StackSettings,
    effective_settings,
)
from nsstwisted.config import ConfigurationError, Setting
from nsstwisted.config.identities import (
    IDENTITY_KINDS,
    identity_problem,
    is_host_name,
    is_ip_address,
)
from nsstwisted.config.values import (
    absolute_path,
    database_location,
    label_value,
    system_name_value,
)
from nsstwisted.security.certgen import KEY_SIZES
from nsstwisted.security.errors import InvalidValueError
from nsstwisted.security.generic import normalize_profile_name, upper_ascii
from nsstwisted.security.labels import colliding_labels, map_label
from nsstwisted.security.users import normalize_id
from nsstwisted.wire.fields import has_control_character
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN

__all__ = ["validate", "value_findings"]

# The ranges nssd.conf and iked.conf take (docs/nssd-config.md,
# docs/iked-config.md); the assistant may import neither daemon.
PORT_RANGE = (1, 65535)
SYSLOG_LEVEL_RANGE = (0, 15)
IKE_SYSLOG_LEVEL_RANGE = (0, 1023)
NSS_WAIT_LIMIT_RANGE = (1, 3600)
NSS_WAIT_RETRIES_RANGE = (1, 100)

# A server's or image's name becomes a folder of the generated set: it may
# hold nothing that leaves the folder or hides it.
_TABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A key ring's name, as RACDCERT ADDRING takes it: the characters that end
# a name in a RACF command (and the owner's slash) are refused.
_RING_NAME = re.compile(r"[^\s/(),']{1,237}")
_RING_OWNERS = ("CERTAUTH", "SITE")

_TOML_KEYS = {k.field: k.name for k in (*INHERITED_KEYS, *IMAGE_ONLY_KEYS)}


def validate(description: Description) -> list[Finding]:
    """
    Every finding about a parsed description (values, cross references,
    limits, SERVAUTH name rules, label-mapping collisions); empty when it
    is usable.
    """
    check = _Checker(description.source)
    check.values(description)
    check.references(description)
    return check.findings


def value_findings(description: Description) -> list[Finding]:
    """
    The findings about values taken one at a time: numbers out of range,
    names, paths, identities and labels that break their rules.  The loader
    reports these with the file's own findings.
    """
    check = _Checker(description.source)
    check.values(description)
    return check.findings


def _config_problem(check: Callable[[Setting, str], Any], value: str) -> str | None:
    """
    What the configuration files' own check says of C{value}, or C{None}:
    the assistant's files are then ones the daemons take.
    """
    try:
        check(Setting("", (value,), 0), "")
    except ConfigurationError as e:
        return e.message
    return None


def _user_id_problem(value: str, what: str = "user ID") -> str | None:
    try:
        normalize_id(value, what)
    except InvalidValueError as e:
        return e.text
    return None


def identity_key(text: str) -> tuple[str, str] | None:
    """
    An identity (C{"IpAddr 192.0.2.1"}) as a pair that compares equal for
    identities that name one thing: the kind in IBM's spelling, and the
    value (a host name in lower case, an address in its canonical form);
    C{None} if it is not an identity.
    """
    kind, _, value = text.strip().partition(" ")
    spelled = {k.lower(): k for k in IDENTITY_KINDS}.get(kind.lower())
    value = value.strip()
    if spelled is None or not value:
        return None
    if spelled == "IpAddr":
        try:
            value = str(ipaddress.ip_address(value))
        except ValueError:
            return None
    elif spelled == "Fqdn":
        value = value.lower().removesuffix(".")
    elif spelled == "UserAtFqdn":
        user, at, domain = value.rpartition("@")
        value = f"{user}{at}{domain.lower()}"
    return spelled, value


def _identity_problem(text: str) -> str | None:
    kind, _, value = text.strip().partition(" ")
    spelled = {k.lower(): k for k in IDENTITY_KINDS}.get(kind.lower())
    if spelled is None or not value.strip():
        return (
            f"{text!r} is not an identity: write a kind ({', '.join(IDENTITY_KINDS)})"
            " and a value, such as 'IpAddr 192.0.2.1'"
        )
    if has_control_character(value):
        return "holds a control character"
    problem = identity_problem(spelled, value.strip())
    return None if problem is None else f"{spelled}: {problem}"


@dataclass
class _Checker:
    source: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, table: str, key: str, message: str, messageId: str) -> None:
        self.findings.append(Finding(self.source, table, key, message, messageId))

    # --- values, one at a time -------------------------------------------

    def values(self, description: Description) -> None:
        for server in description.servers:
            self.server_values(server)
        for image in description.images:
            self.image_values(image)
        for index, certificate in enumerate(description.certificates):
            self.certificate_values(certificate_table(index), certificate)
        for index, operator in enumerate(description.operators):
            path = operator_table(index)
            self.user_id(path, "user_id", operator.userId)
            for key, names in (
                ("display", operator.display),
                ("control", operator.control),
            ):
                self.repeats(path, key, names)
                for name in names:
                    if name != "*" and not CLIENT_NAME_PATTERN.fullmatch(name):
                        self.add(
                            path,
                            key,
                            f"{name!r} is neither a client name nor '*'",
                            "NSA0005E",
                        )

    def number(
        self, path: str, key: str, value: int | None, bounds: tuple[int, int]
    ) -> None:
        low, high = bounds
        if value is not None and not low <= value <= high:
            self.add(
                path, key, f"{value} is not a number from {low} to {high}", "NSA0008E"
            )

    def system_name(self, path: str, value: str) -> None:
        problem = _config_problem(system_name_value, value)
        if problem is not None:
            self.add(path, "system_name", f"{value!r} {problem}", "NSA0009E")

    def user_id(self, path: str, key: str, value: str | None) -> None:
        if value is None:
            return
        problem = _user_id_problem(value)
        if problem is not None:
            self.add(path, key, problem, "NSA0010E")

    def table_name(self, path: str, what: str, name: str) -> None:
        if not _TABLE_NAME.fullmatch(name):
            self.add(
                path,
                "",
                f"the {what} name {name!r} must be 1 to 64 of A-Z a-z 0-9 _ . -,"
                " starting with a letter or digit: it names a folder of the"
                " generated files",
                "NSA0011E",
            )

    def path(
        self, path: str, key: str, value: str | None, database: bool = False
    ) -> None:
        if value is None:
            return
        problem = _config_problem(
            database_location if database else absolute_path(), value
        )
        if problem is not None:
            self.add(path, key, f"{value!r} {problem}", "NSA0012E")

    def key_ring(self, path: str, key: str, value: str | None) -> None:
        if value is None:
            return
        owner, slash, ring = value.partition("/")
        if not slash:
            owner, ring = "NSSD", value
        problem = _user_id_problem(owner, "the ring owner")
        if problem is None and not _RING_NAME.fullmatch(ring):
            problem = (
                f"the ring name {ring!r} must be 1 to 237 characters without"
                " blanks or / ( ) , '"
            )
        if problem is not None:
            self.add(path, key, f"{value!r}: {problem} (write owner/ring)", "NSA0014E")

    def identity(self, path: str, key: str, value: str) -> None:
        problem = _identity_problem(value)
        if problem is not None:
            self.add(path, key, problem, "NSA0015E")

    def repeats(self, path: str, key: str, values: Iterable[str]) -> None:
        seen: set[str] = set()
        for value in values:
            if value in seen:
                self.add(path, key, f"names {value!r} twice", "NSA0016E")
            seen.add(value)

    def server_values(self, server: NssServer) -> None:
        path = server_table(server.name)
        self.table_name(path, "server", server.name)
        self.system_name(path, server.systemName)
        host = server.address
        if has_control_character(host) or not (
            is_ip_address(host) or is_host_name(host)
        ):
            self.add(
                path,
                "address",
                f"{host!r} is not an IP address or host name",
                "NSA0013E",
            )
        self.number(path, "port", server.port, PORT_RANGE)
        self.number(path, "syslog_level", server.syslogLevel, SYSLOG_LEVEL_RANGE)
        self.key_ring(path, "key_ring", server.keyRing)
        self.key_ring(path, "tls_key_ring", server.tlsKeyRing)
        self.user_id(path, "user_id", server.userId)
        self.path(path, "database", server.database, database=True)
        self.path(path, "stash_file", server.stashFile)
        self.path(path, "nmi_socket", server.nmiSocket)

    def image_values(self, image: Image) -> None:
        path = image_table(image.name)
        self.table_name(path, "image", image.name)
        self.system_name(path, image.systemName)
        self.path(path, "ca_file", image.caFile)
        self.path(path, "nmi_socket", image.nmiSocket)
        self.path(path, "secrets_directory", image.secretsDirectory)
        self.number(
            path, "ike_syslog_level", image.ikeSyslogLevel, IKE_SYSLOG_LEVEL_RANGE
        )
        self.settings_values(path, defaults_table(image.name), image.defaults)
        for stack in image.stacks:
            where = stack_table(image.name, stack.name)
            problem = _user_id_problem(stack.name, "stack name")
            if problem is not None:
                self.add(
                    where, "", f"{problem} (a TCP/IP stack's job name)", "NSA0011E"
                )
            self.path(where, "policy_file", stack.policyFile)
            self.settings_values(where, where, stack.overrides)

    def settings_values(
        self, imageOnlyPath: str, path: str, settings: StackSettings
    ) -> None:
        """
        C{settings} of an image (whose image-only settings are written in
        its own table, the others in its defaults) or of a stack (all in
        its table).
        """
        self.user_id(path, "user_id", settings.userId)
        if settings.services is not None:
            if not settings.services:
                self.add(
                    path,
                    "services",
                    "names no service: give Cert, RemoteMgmt or both",
                    "NSA0016E",
                )
            self.repeats(path, "services", settings.services)
        if settings.identity is not None:
            self.identity(path, "identity", settings.identity)
        if settings.servers is not None:
            self.repeats(imageOnlyPath, "servers", settings.servers)
        self.number(
            imageOnlyPath, "nss_wait_limit", settings.nssWaitLimit, NSS_WAIT_LIMIT_RANGE
        )
        self.number(
            imageOnlyPath,
            "nss_wait_retries",
            settings.nssWaitRetries,
            NSS_WAIT_RETRIES_RANGE,
        )

    def certificate_values(self, path: str, certificate: Certificate) -> None:
        problem = _config_problem(label_value, certificate.label)
        if problem is not None:
            self.add(path, "label", f"{certificate.label!r} {problem}", "NSA0017E")
        if not certificate.subject.strip() or has_control_character(
            certificate.subject
        ):
            self.add(
                path,
                "subject",
                "must be a distinguished name, such as 'CN=SystemA TCPCS1,O=Example'",
                "NSA0017E",
            )
        owner = upper_ascii(certificate.owner)
        if owner not in _RING_OWNERS:
            self.user_id(path, "owner", certificate.owner)
        if (certificate.usage == "certauth") != (owner == "CERTAUTH"):
            self.add(
                path,
                "owner",
                "a certificate of usage certauth is owned by CERTAUTH, and only"
                f" such a certificate is (usage {certificate.usage}, owner"
                f" {certificate.owner})",
                "NSA0019E",
            )
        for identity in certificate.identities:
            self.identity(path, "identities", identity)
        self.repeats(path, "identities", certificate.identities)
        sizes = KEY_SIZES.get(certificate.keyType, ())
        if certificate.importFrom is None and certificate.keySize not in sizes:
            self.add(
                path,
                "key_size",
                f"{certificate.keySize} is not a {certificate.keyType} key size:"
                f" use {' or '.join(str(s) for s in sizes)}",
                "NSA0008E",
            )
        self.path(path, "import_from", certificate.importFrom)

    # --- references between tables ---------------------------------------

    def references(self, description: Description) -> None:
        self.servers(description)
        clients: dict[tuple[str, str], list[tuple[str, str]]] = {}
        usedIdentities: set[tuple[str, str]] = set()
        names: set[str] = set()
        self.defined_once(
            [(image_table(i.name), i.name) for i in description.images], "image"
        )
        for image in description.images:
            self.image_references(description, image)
            for stack in image.stacks:
                if not stack.nss:
                    continue
                self.stack_references(description, image, stack, clients)
                names.add(upper_ascii(image.client_name_of(stack)))
                identity = effective_settings(image, stack).values.identity
                key = None if identity is None else identity_key(identity)
                if key is not None:
                    usedIdentities.add(key)
        for (_system, _client), members in clients.items():
            if len(members) < 2:
                continue
            for path, name in members:
                others = ", ".join(f"[{p}]" for p, _ in members if p != path)
                self.add(
                    path,
                    "client_name",
                    f"the client name {name} is also the client name of {others}"
                    " on the same NSS server, which tells its clients apart by"
                    " name, ignoring case: give each stack its own client_name",
                    "NSA0025E",
                )
        self.certificates(description, usedIdentities)
        self.operators(description, names)

    def defined_once(self, entries: list[tuple[str, str]], what: str) -> None:
        seen: dict[str, str] = {}
        for path, name in entries:
            folded = upper_ascii(name)
            if folded in seen:
                self.add(
                    path,
                    "",
                    f"the {what} {name} is defined twice (also [{seen[folded]}])",
                    "NSA0018E",
                )
            else:
                seen[folded] = path

    def servers(self, description: Description) -> None:
        self.defined_once(
            [(server_table(s.name), s.name) for s in description.servers], "server"
        )
        listening: dict[tuple[str, int], str] = {}
        for server in description.servers:
            path = server_table(server.name)
            if server.backupOf is not None:
                primary = description.server(server.backupOf)
                if primary is None or primary is server or primary.backupOf is not None:
                    why = (
                        "is not a server of this description"
                        if primary is None
                        else "is this server itself"
                        if primary is server
                        else "is itself a backup: name the primary"
                    )
                    self.add(path, "backup_of", f"{server.backupOf} {why}", "NSA0023E")
                else:
                    self.backup_agrees(path, server, primary)
            where = (server.address.lower(), server.port)
            if where in listening:
                self.add(
                    path,
                    "port",
                    f"[{listening[where]}] listens on {server.address} port"
                    f" {server.port} too: give each server its own address or port",
                    "NSA0038E",
                )
            else:
                listening[where] = path
            if server.tlsLabel is not None:
                certificate = description.certificate(server.tlsLabel)
                if certificate is None or certificate.usage != "server":
                    why = (
                        "is not the label of a certificate of this description"
                        if certificate is None
                        else f"is a certificate of usage {certificate.usage},"
                        " not server"
                    )
                    self.add(
                        path, "tls_label", f"{server.tlsLabel!r} {why}", "NSA0036E"
                    )

    def backup_agrees(self, path: str, backup: NssServer, primary: NssServer) -> None:
        if upper_ascii(backup.systemName) != upper_ascii(primary.systemName):
            self.add(
                path,
                "system_name",
                f"{backup.systemName} is not the system name of its primary"
                f" {primary.name} ({primary.systemName}): the stacks' SERVAUTH"
                " profiles carry the system name, so a backup must share it",
                "NSA0024E",
            )
        if (
            backup.database is not None
            and primary.database is not None
            and backup.database != primary.database
        ):
            self.add(
                path,
                "database",
                f"is not the database of its primary {primary.name}: a backup"
                " serves the same users, profiles, PassTicket key and key ring",
                "NSA0024E",
            )

    def image_references(self, description: Description, image: Image) -> None:
        path = image_table(image.name)
        if len(image.stacks) > MAX_STACKS_PER_IMAGE:
            self.add(
                path,
                "stacks",
                f"has {len(image.stacks)} stacks: one iked serves at most"
                f" {MAX_STACKS_PER_IMAGE}",
                "NSA0026E",
            )
        self.defined_once(
            [(stack_table(image.name, s.name), s.name) for s in image.stacks],
            "stack",
        )
        servers = image.defaults.servers or ()
        for name in servers:
            if description.server(name) is None:
                self.add(
                    path,
                    "servers",
                    f"{name} is not a server of this description: define"
                    f" [servers.{name}] or correct the name",
                    "NSA0021E",
                )
        if len(servers) > 2:
            self.add(
                path,
                "servers",
                f"names {len(servers)} servers: give a primary and, at most,"
                " its backup",
                "NSA0022E",
            )
        elif len(servers) == 2:
            backup = description.server(servers[1])
            if backup is not None and backup.backupOf != servers[0]:
                self.add(
                    path,
                    "servers",
                    f"{servers[1]} is not the backup of {servers[0]}: give the"
                    f" primary first, then a server with backup_of = {servers[0]!r}",
                    "NSA0022E",
                )

    def stack_references(
        self,
        description: Description,
        image: Image,
        stack: Stack,
        clients: dict[tuple[str, str], list[tuple[str, str]]],
    ) -> None:
        path = stack_table(image.name, stack.name)
        for name in sorted(IMAGE_ONLY_SETTINGS):
            if getattr(stack.overrides, name) is not None:
                self.add(
                    path,
                    _TOML_KEYS[name],
                    f"is a setting of the whole image (iked.conf's IkeConfig):"
                    f" set it in [{image_table(image.name)}], not per stack",
                    "NSA0028E",
                )
        effective = effective_settings(image, stack)
        settings = effective.values
        if not settings.servers:
            self.add(
                path,
                "servers",
                f"the stack is an NSS client but its image names no NSS server:"
                f" set servers in [{image_table(image.name)}]",
                "NSA0020E",
            )
        if settings.userId is None:
            self.add(
                path,
                "user_id",
                "the stack is an NSS client but has no user ID to log on with:"
                f" set user_id here or in [{defaults_table(image.name)}]",
                "NSA0029E",
            )
        origin = {
            "stack": path,
            "image": defaults_table(image.name),
            "default": path,
        }
        certificate = None
        if settings.certificate is not None:
            where = origin[effective.origins["certificate"]]
            certificate = description.certificate(settings.certificate)
            if certificate is None:
                self.add(
                    where,
                    "certificate",
                    f"{settings.certificate!r} is not the label of a certificate"
                    " of this description",
                    "NSA0031E",
                )
            elif certificate.usage != "client":
                self.add(
                    where,
                    "certificate",
                    f"{settings.certificate!r} is a certificate of usage"
                    f" {certificate.usage}: a stack signs with a client certificate",
                    "NSA0032E",
                )
                certificate = None
        if certificate is not None and settings.identity is not None:
            wanted = identity_key(settings.identity)
            named = {identity_key(i) for i in certificate.identities}
            if wanted is not None and wanted not in named:
                self.add(
                    origin[effective.origins["identity"]],
                    "identity",
                    f"{settings.identity!r} is not among the identities of its"
                    f" certificate {certificate.label!r}, which its peers check",
                    "NSA0035E",
                )
        clientName = image.client_name_of(stack)
        self.client_name(description, path, clientName, stack, settings)
        for serverName in settings.servers or ():
            server = description.server(serverName)
            if server is None:
                continue
            group = (upper_ascii(server.systemName), upper_ascii(clientName))
            members = clients.setdefault(group, [])
            if all(p != path for p, _ in members):
                members.append((path, clientName))

    def client_name(
        self,
        description: Description,
        path: str,
        clientName: str,
        stack: Stack,
        settings: StackSettings,
    ) -> None:
        default = "" if stack.clientName is not None else "the default client name "
        problem = None
        if not CLIENT_NAME_PATTERN.fullmatch(clientName):
            problem = "must be 1 to 24 of A-Z a-z 0-9 _ . @ # $ -"
        elif "." in clientName:
            problem = (
                "holds a dot, which would split it into two qualifiers of its"
                " SERVAUTH profile names (EZB.NSS.sysname.clientname.IPSEC.CERT)"
            )
        else:
            for serverName in settings.servers or ():
                server = description.server(serverName)
                if server is None:
                    continue
                try:
                    normalize_profile_name(
                        f"EZB.NETMGMT.{server.systemName}.{clientName}.IPSEC.DISPLAY"
                    )
                except InvalidValueError as e:
                    problem = f"makes no SERVAUTH profile name: {e.text}"
        if problem is not None:
            hint = "" if not default else "; set client_name"
            self.add(
                path,
                "client_name",
                f"{default}{clientName!r} {problem}{hint}",
                "NSA0027E",
            )

    def certificates(
        self, description: Description, usedIdentities: set[tuple[str, str]]
    ) -> None:
        paths: dict[str, str] = {}
        for index, certificate in enumerate(description.certificates):
            path = certificate_table(index)
            if certificate.label in paths:
                self.add(
                    path,
                    "label",
                    f"the label {certificate.label!r} is defined twice"
                    f" (also [{paths[certificate.label]}])",
                    "NSA0018E",
                )
                continue
            paths[certificate.label] = path
        collisions = colliding_labels(paths)
        for label, path in paths.items():
            mapped = map_label(label)
            if mapped not in collisions:
                continue
            others = [repr(o) for o in collisions[mapped] if o != label]
            together = (
                others[0]
                if len(others) == 1
                else f"{', '.join(others[:-1])} and {others[-1]}"
            )
            self.add(
                path,
                "label",
                f"{label!r} maps to the profile name {mapped}"
                f" (EZB.NSSCERT.sysname.{mapped}.HOST), as {together}"
                f" {'does' if len(others) == 1 else 'do'}: one profile would"
                " govern both certificates; choose a label of its own",
                "NSA0030E",
            )
        for index, certificate in enumerate(description.certificates):
            path = certificate_table(index)
            if certificate.signedBy is not None:
                ca = description.certificate(certificate.signedBy)
                why = None
                if certificate.signedBy == certificate.label:
                    why = (
                        "is this certificate itself: leave signed_by out for a"
                        " self-signed CA"
                    )
                elif ca is None:
                    why = "is not the label of a certificate of this description"
                elif ca.usage != "certauth":
                    why = f"is a certificate of usage {ca.usage}, not certauth"
                if why is not None:
                    self.add(
                        path, "signed_by", f"{certificate.signedBy!r} {why}", "NSA0033E"
                    )
            if certificate.usage == "client":
                named = {identity_key(i) for i in certificate.identities}
                if not named & usedIdentities:
                    self.add(
                        path,
                        "identities",
                        f"no NSS stack uses an identity of {certificate.label!r}"
                        f" ({', '.join(certificate.identities) or 'it names none'}):"
                        " set a stack's identity to one of them, or remove the"
                        " certificate",
                        "NSA0034E",
                    )

    def operators(self, description: Description, clientNames: set[str]) -> None:
        self.defined_once(
            [
                (operator_table(i), o.userId)
                for i, o in enumerate(description.operators)
            ],
            "operator",
        )
        for index, operator in enumerate(description.operators):
            path = operator_table(index)
            for key, names in (
                ("display", operator.display),
                ("control", operator.control),
            ):
                for name in names:
                    if name != "*" and upper_ascii(name) not in clientNames:
                        self.add(
                            path,
                            key,
                            f"{name!r} is not the client name of an NSS stack of"
                            " this description",
                            "NSA0037E",
                        )
