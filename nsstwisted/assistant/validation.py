"""
Check a description as a whole: the references between its tables, each
with a finding that names the table and key to correct, after the values
one at a time (L{nsstwisted.assistant.values}).

A description that passes makes files the daemons and C{nss-racf} take,
and an installation whose names agree: every stack a server, every client
name one stack and a SERVAUTH profile name (L{nsstwisted.wire.nss},
L{nsstwisted.security.generic}), every certificate label a profile name of
its own (L{nsstwisted.security.labels}, the seed's label mapping
collisions), every certificate a stack that signs with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from nsstwisted.assistant.values import identity_key, value_findings
from nsstwisted.security.errors import InvalidValueError
from nsstwisted.security.generic import normalize_profile_name, upper_ascii
from nsstwisted.security.labels import colliding_labels, map_label
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN

__all__ = ["validate", "value_findings"]

_TOML_KEYS = {k.field: k.name for k in (*INHERITED_KEYS, *IMAGE_ONLY_KEYS)}


def validate(description: Description) -> list[Finding]:
    """
    Every finding about a parsed description (values, cross references,
    limits, SERVAUTH name rules, label-mapping collisions); empty when it
    is usable.
    """
    check = _Checker(description.source)
    check.references(description)
    return value_findings(description) + check.findings


@dataclass
class _Checker:
    source: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, table: str, key: str, message: str, messageId: str) -> None:
        self.findings.append(Finding(self.source, table, key, message, messageId))

    # --- references between tables ---------------------------------------

    def references(self, description: Description) -> None:
        self.servers(description)
        self.metrics_ports(description)
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
                    f"the client name {name!r} is also the client name of {others}"
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
                    f"the {what} {name!r} is defined twice (also [{seen[folded]}])",
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
                    self.add(
                        path, "backup_of", f"{server.backupOf!r} {why}", "NSA0023E"
                    )
                else:
                    self.backup_agrees(path, server, primary)
            self.metrics_without_port(path, server.metricsPort, server.metricsInterface)
            if server.auditRequired and not server.audited:
                # nssd refuses it: failing closed on no trail at all would
                # refuse every logon and signature.
                self.add(
                    path,
                    "audit_required",
                    "is true, but the server keeps no audit trail to write to:"
                    " set audit_file, audit_syslog or both, or leave"
                    " audit_required out",
                    "NSA0118E",
                )
            self.token_complete(path, server)
            where = (server.address.lower(), server.port)
            if where in listening:
                self.add(
                    path,
                    "port",
                    f"[{listening[where]}] listens on {server.address!r} port"
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

    def token_complete(self, path: str, server: NssServer) -> None:
        """
        A server's token is named by all three of its settings or none, as
        nssd takes them (L{nsstwisted.config.values.check_pkcs11_complete}).
        """
        coded = {
            "pkcs11_module": server.pkcs11Module,
            "pkcs11_token_label": server.pkcs11TokenLabel,
            "pkcs11_pin_file": server.pkcs11PinFile,
        }
        missing = [key for key, value in coded.items() if value is None]
        if missing and len(missing) < len(coded):
            key = next(key for key, value in coded.items() if value is not None)
            self.add(
                path,
                key,
                "needs " + " and ".join(missing) + " as well: nssd reaches a"
                " PKCS#11 token through its module, by its label, with the PIN"
                " of its PIN file; set all three, or none",
                "NSA0122E",
            )

    def metrics_without_port(
        self, path: str, port: int | None, interface: str | None
    ) -> None:
        if interface is not None and port is None:
            self.add(
                path,
                "metrics_interface",
                "is set, but metrics_port is not: MetricsPort names the"
                " interface after its port; set metrics_port, or leave"
                " metrics_interface out",
                "NSA0117E",
            )

    def metrics_ports(self, description: Description) -> None:
        """
        A server's metrics port is none of the ports listened on at its
        address: its own NSS port (nssd listens on every interface), or
        another server's NSS or metrics port on the same address, so that
        the server can start.
        """
        # Port 0 (out of range, NSA0008E) would be the system's choice.
        taken: dict[tuple[str, int], str] = {}
        for server in description.servers:
            if server.port == 0:
                continue
            taken.setdefault(
                (server.address.lower(), server.port),
                f"the NSS port of [{server_table(server.name)}]",
            )
        for server in description.servers:
            if not server.metricsPort:
                continue
            path = server_table(server.name)
            where = (server.address.lower(), server.metricsPort)
            if where in taken:
                self.add(
                    path,
                    "metrics_port",
                    f"{server.metricsPort} is already {taken[where]} on"
                    f" {server.address!r}: give the metrics a port of their own",
                    "NSA0119E",
                )
            else:
                taken[where] = f"the metrics port of [{path}]"

    def backup_agrees(self, path: str, backup: NssServer, primary: NssServer) -> None:
        if upper_ascii(backup.systemName) != upper_ascii(primary.systemName):
            self.add(
                path,
                "system_name",
                f"{backup.systemName!r} is not the system name of its primary"
                f" {primary.name!r} ({primary.systemName!r}): the stacks' SERVAUTH"
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
                f"is not the database of its primary {primary.name!r}: a backup"
                " serves the same users, profiles, PassTicket key and key ring",
                "NSA0024E",
            )
        if primary.has_token and backup.pkcs11TokenLabel != primary.pkcs11TokenLabel:
            self.add(
                path,
                "pkcs11_token_label",
                f"is not the token of its primary {primary.name!r}"
                f" ({primary.pkcs11TokenLabel!r}): the database they share"
                " records the token of each key made there, which only a"
                " token of that label can sign with",
                "NSA0124E",
            )

    def image_references(self, description: Description, image: Image) -> None:
        path = image_table(image.name)
        self.metrics_without_port(path, image.metricsPort, image.metricsInterface)
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
                    f"{name!r} is not a server of this description: define"
                    f" [{server_table(name)}] or correct the name",
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
                    f"{servers[1]!r} is not the backup of {servers[0]!r}: give the"
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
        tokens = [s for s in description.servers if s.has_token]
        for index, certificate in enumerate(description.certificates):
            path = certificate_table(index)
            if certificate.keyStore == "token":
                self.token_certificate(path, certificate, tokens)
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

    def token_certificate(
        self, path: str, certificate: Certificate, tokens: list[NssServer]
    ) -> None:
        """
        A key made in a token needs a server with one, and a key pair
        made by GENCERT: an imported certificate brings its key along; and
        it signs for the stacks, not nssd's TLS handshakes.
        (Which server's job makes it is the generation's to check, which
        refuses a job without a token, NSA0125E.)
        """
        if certificate.importFrom is not None:
            self.add(
                path,
                "key_store",
                "is token, but the certificate is imported (import_from) with"
                " its key: only a key pair GENCERT makes is made in a token;"
                " leave key_store out",
                "NSA0123E",
            )
        elif certificate.usage == "server":
            self.add(
                path,
                "key_store",
                "is token, but a server certificate is nssd's TLS certificate,"
                " whose handshake nssd's TLS library signs only with a key it"
                " holds (nssd refuses the start, NSR0391E): leave key_store out",
                "NSA0123E",
            )
        elif not tokens:
            self.add(
                path,
                "key_store",
                "is token, but no server of the description has a PKCS#11"
                " token: set pkcs11_module, pkcs11_token_label and"
                " pkcs11_pin_file on the server whose job makes it, or leave"
                " key_store out",
                "NSA0123E",
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
