"""
Check the values of a description one at a time: numbers in their ranges,
and names, paths, identities, key rings and labels by their rules.

A description reaches here from the TOML file, from the importer or from
the web page's forms, so nothing assumes the loader has looked at it.  The
rules are the daemons' own, called rather than restated: system names and
paths as nssd.conf and iked.conf check them (L{nsstwisted.config.values}),
identities as iked checks them (L{nsstwisted.config.identities}), user IDs
as RACF defines them (L{nsstwisted.security.users.normalize_id}), key sizes
as GENCERT makes them (L{nsstwisted.security.certgen.KEY_SIZES}), a
metrics listener, the audit trail's syslog facility and a PKCS#11 token's
label as nssd.conf takes them (L{nsstwisted.config.values},
L{nsstwisted.security.auditsyslog}).  The loader reports these findings
with its own, so that a port out of range is an error of the file;
L{nsstwisted.assistant.validation} adds the references between tables.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nsstwisted.assistant.layout import (
    certificate_table,
    defaults_table,
    image_table,
    operator_table,
    server_table,
    stack_table,
)
from nsstwisted.assistant.model import (
    Certificate,
    Description,
    Finding,
    Image,
    NssServer,
    StackSettings,
)
from nsstwisted.config import ConfigurationError, Setting
from nsstwisted.config.identities import (
    IDENTITY_KINDS,
    identity_problem,
    is_host_name,
    is_ip_address,
)
from nsstwisted.config.values import (
    MAX_SOCKET_PATH_BYTES,
    absolute_path,
    database_location,
    label_value,
    metrics_listener_value,
    syslog_facility_value,
    system_name_value,
    token_label_value,
)
from nsstwisted.security.auditsyslog import FACILITIES
from nsstwisted.security.certgen import KEY_SIZES
from nsstwisted.security.errors import InvalidValueError
from nsstwisted.security.generic import upper_ascii
from nsstwisted.security.users import normalize_id
from nsstwisted.wire.fields import has_control_character
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN

__all__ = ["identity_key", "user_id_problem", "value_findings"]

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


def value_findings(description: Description) -> list[Finding]:
    """
    The findings about values taken one at a time: numbers out of range,
    names, paths, identities and labels that break their rules.
    """
    check = _Checker(description.source)
    check.values(description)
    return check.findings


def _config_problem(
    check: Callable[[Setting, str], Any], value: str, *values: str
) -> str | None:
    """
    What the configuration files' own check says of C{value} (and the
    words that follow it, for a setting of several), or C{None}: the
    assistant's files are then ones the daemons take.
    """
    try:
        check(Setting("", (value, *values), 0), "")
    except ConfigurationError as e:
        return e.message
    return None


def user_id_problem(value: str, what: str = "user ID") -> str | None:
    """
    What RACF's rule for user IDs (which stack names share) says of
    C{value}, or C{None}.
    """
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
        problem = user_id_problem(value)
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
        self,
        path: str,
        key: str,
        value: str | None,
        database: bool = False,
        socket: bool = False,
    ) -> None:
        if value is None:
            return
        check = (
            database_location
            if database
            else absolute_path(MAX_SOCKET_PATH_BYTES if socket else None)
        )
        problem = _config_problem(check, value)
        if problem is not None:
            self.add(path, key, f"{value!r} {problem}", "NSA0012E")

    def key_ring(self, path: str, key: str, value: str | None) -> None:
        if value is None:
            return
        owner, slash, ring = value.partition("/")
        if not slash:
            owner, ring = "NSSD", value
        problem = user_id_problem(owner, "the ring owner")
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
        self.path(path, "config_file", server.configFile)
        if server.identity is not None:
            self.identity(path, "identity", server.identity)
        self.path(path, "nmi_socket", server.nmiSocket, socket=True)
        self.metrics(path, server.metricsPort, server.metricsInterface)
        self.path(path, "audit_file", server.auditFile)
        self.path(path, "audit_syslog_socket", server.auditSyslogSocket, socket=True)
        self.path(path, "pkcs11_module", server.pkcs11Module)
        self.path(path, "pkcs11_pin_file", server.pkcs11PinFile)
        if server.pkcs11TokenLabel is not None:
            problem = _config_problem(token_label_value, server.pkcs11TokenLabel)
            if problem is not None:
                self.add(
                    path,
                    "pkcs11_token_label",
                    f"{server.pkcs11TokenLabel!r} {problem}",
                    "NSA0121E",
                )
        if server.auditSyslog is not None:
            problem = _config_problem(
                syslog_facility_value(FACILITIES), server.auditSyslog
            )
            if problem is not None or server.auditSyslog.lower() == "none":
                self.add(
                    path,
                    "audit_syslog",
                    f"{server.auditSyslog!r} is not one of {', '.join(FACILITIES)}"
                    " (leave audit_syslog out for none)",
                    "NSA0005E",
                )

    def metrics(self, path: str, port: int | None, interface: str | None) -> None:
        """
        MetricsPort and its Interface, checked as the daemons check them,
        but for port 0, which lets the system choose a port that no
        Prometheus server could be told of.
        """
        self.number(path, "metrics_port", port, PORT_RANGE)
        if interface is None:
            return
        problem = _config_problem(
            metrics_listener_value, str(port or 1), "Interface", interface
        )
        if problem is not None:
            self.add(path, "metrics_interface", problem, "NSA0116E")

    def image_values(self, image: Image) -> None:
        path = image_table(image.name)
        self.table_name(path, "image", image.name)
        self.system_name(path, image.systemName)
        self.path(path, "ca_file", image.caFile)
        self.path(path, "nmi_socket", image.nmiSocket, socket=True)
        self.metrics(path, image.metricsPort, image.metricsInterface)
        self.path(path, "secrets_directory", image.secretsDirectory)
        self.path(path, "config_file", image.configFile)
        self.number(
            path, "ike_syslog_level", image.ikeSyslogLevel, IKE_SYSLOG_LEVEL_RANGE
        )
        self.settings_values(path, defaults_table(image.name), image.defaults)
        for stack in image.stacks:
            where = stack_table(image.name, stack.name)
            problem = user_id_problem(stack.name, "stack name")
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
                f" {certificate.owner!r})",
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
