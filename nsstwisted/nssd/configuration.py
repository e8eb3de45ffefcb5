"""
The NSS server's configuration file, nssd.conf: where it is, what it may say,
and the checked, immutable L{NssdConfiguration} it becomes.

The model is plain data with no security-database lookups: whether the key
ring exists or holds a usable certificate is for the server to find out when
it starts or refreshes, since only it knows which database is open.  What
the model does promise is that every value it holds passed the checks below,
so that a refresh either yields a whole new configuration or an error naming
the file, line and keyword, and the running server keeps its old one.

The file holds C{NssConfig} statements only.  Several are merged, the last
value of a repeated keyword winning, as IBM documents for NSSD.
"""

from __future__ import annotations

import enum
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nsstwisted.config import (
    ConfigurationError,
    Setting,
    Statement,
    format_value,
    parse_config,
    read_config,
)
from nsstwisted.config.values import (
    DEFAULT_SOCKET_MODE,
    MAX_SOCKET_PATH_BYTES,
    PKCS11_KEYWORDS,
    SYSTEM_NAME,
    AuditSync,
    MetricsListener,
    audit_sync_value,
    check_pkcs11_complete,
    database_location,
    default_system_name,
    metrics_listener_value,
    socket_group_value,
    socket_mode_text,
    socket_mode_value,
    syslog_facility_value,
    token_label_value,
    unknown_keyword,
    yes_no_value,
)
from nsstwisted.config.values import absolute_path as _path
from nsstwisted.config.values import label_value as _label
from nsstwisted.config.values import setting_error as _error
from nsstwisted.config.values import single_value as _single
from nsstwisted.config.values import system_name_value as _system_name
from nsstwisted.ike.policy import PeerEku
from nsstwisted.security.auditsyslog import DEFAULT_SOCKET as DEFAULT_SYSLOG_SOCKET
from nsstwisted.security.auditsyslog import FACILITIES as SYSLOG_FACILITIES

__all__ = [
    "CONFIG_VARIABLE",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_LOGON_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_CONNECTIONS_PER_ADDRESS",
    "DEFAULT_NMI_IDLE_TIMEOUT",
    "DEFAULT_NMI_SOCKET",
    "DEFAULT_PORT",
    "DEFAULT_RING_OWNER",
    "AuditSync",
    "NssdConfiguration",
    "SyslogLevel",
    "config_path",
    "default_system_name",
    "load_nssd_configuration",
    "nssd_configuration_from_text",
]

DEFAULT_CONFIG_PATH = "/etc/security/nssd.conf"
CONFIG_VARIABLE = "NSSD_FILE"
DEFAULT_PORT = 4159
DEFAULT_NMI_SOCKET = "/var/sock/nss"
DEFAULT_NMI_IDLE_TIMEOUT = 60
"""
Seconds a management connection may stay idle (the protocol's default,
C{nsstwisted.protocols.nmi.DEFAULT_IDLE_TIMEOUT}, restated so that this
module stays stdlib-only).
"""
MAX_NMI_IDLE_TIMEOUT = 86400
DEFAULT_RING_OWNER = "NSSD"
"""
The owner of a ring coded without one (C{KeyRing ringname}).  On z/OS that
is the user ID NSSD runs under; here the server has no RACF identity of its
own, so the conventional C{NSSD} stands in for it.
"""

DEFAULT_MAX_CONNECTIONS = 4096
"""
Connections in all: four times the reconnect storm of 1,000 iked clients
the product is sized for, yet few enough that a flood of connections that
never log on stays within nssd's documented memory bound.
"""
DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 128
"""
Connections from one address: a host's eight stacks, sixteen times over,
for hosts behind one NAT address; one attacking address holds no more.
"""
DEFAULT_LOGON_TIMEOUT = 30
"""Seconds from TCP connect to a successful LOGON, TLS handshake included."""

MAX_SYSLOG_LEVEL = 15
MAX_CONNECTIONS = 65535
MAX_LOGON_TIMEOUT = 600
MAX_RING_NAME_LENGTH = 237

# The same rules as nsstwisted.security, restated here so that this module
# stays stdlib-only: the configuration is read before any database is open.
_USERID = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")
_RING_FORBIDDEN = "/(),'"


class SyslogLevel(enum.IntFlag):
    """
    The bits of C{SyslogLevel}.  2 and 8 are IBM's documented
    C{NSS_SYSLOG_LEVEL_VERBOSE} and C{NSS_SYSLOG_LEVEL_CLIENTLIFECYCLE}; the
    meanings of 1 and 4 are ours, after the names IBM's messages suggest.
    """

    MINIMUM = 1
    VERBOSE = 2
    CERTINFO = 4
    LIFECYCLE = 8


@dataclass(frozen=True, kw_only=True)
class NssdConfiguration:
    """
    The NSS server's configuration in force.

    Built by L{load_nssd_configuration}, which checks every value and fills
    the defaults that depend on other values or on the host; constructing
    one directly takes the values as given.

    @ivar systemName: the MVS-style system name that SERVAUTH profile names
        carry (C{EZB.NSS.sysname.clientname.IPSEC.CERT}).
    @ivar port: the TCP port clients connect to; 0 (our extension, for tests)
        lets the system choose, and the chosen port is logged (DBG0002I).
    @ivar syslogLevel: a sum of L{SyslogLevel} bits.
    @ivar keyRing: the (owner, ring) holding the client and CA certificates of
        the certificate service; without one, the server decides whether it
        offers that service.
    @ivar securityDatabase: the security database (a path, or a PostgreSQL
        connection URI), or L{None} for the usual search
        (C{NSS_SECURITY_DB}, then the default).
    @ivar stashFile: the stash file of the database's master key, or
        L{None} for the usual search (C{NSS_STASH}, then beside an SQLite
        file; a PostgreSQL database needs one named).
    @ivar tlsKeyRing: the (owner, ring) holding the certificate the server
        presents in TLS; the loader defaults it to C{keyRing}.
    @ivar tlsLabel: the label of that certificate, or L{None} for the ring's
        DEFAULT certificate.
    @ivar nmiSocket: the AF_UNIX path of the network management interface.
    @ivar nmiIdleTimeout: seconds a management connection may stay idle
        before nssd closes it; 0 for never.
    @ivar nmiSocketGroup: the group (a name, or a number) the management
        socket is given, so that its members may connect; L{None} leaves
        the socket in nssd's own group.
    @ivar nmiSocketMode: the management socket's permission bits; never
        any for others.
    @ivar verifyEku: the extended key usages VERIFY accepts in a peer's
        certificate: RFC 4945's by default, also the TLS ones with
        C{VerifyEku IkeOrTls} (L{nsstwisted.ike.certprofile}).
    @ivar maxConnections: the most NSS connections held at once, from TCP
        accept to close; more are closed as soon as they are accepted.
    @ivar maxConnectionsPerAddress: the most of them from one address.
    @ivar logonTimeout: seconds a connection has for its TLS handshake and
        a successful LOGON.
    @ivar metrics: where nssd serves its Prometheus metrics over HTTP, or
        L{None} (the default) for nowhere.
    @ivar auditFile: the file the audit trail is appended to, or L{None}
        for no audit trail.
    @ivar auditSync: when its records are forced to disk.
    @ivar auditRequired: whether a request whose record cannot be written
        is refused (fail closed) rather than served unrecorded.
    @ivar auditSyslog: the syslog facility the audit trail is also (or
        only) sent to, by name, or L{None} for none.
    @ivar auditSyslogSocket: the local syslog socket it is sent to.
    @ivar pkcs11Module: the PKCS#11 module (a shared library) of the token
        that holds the private keys of certificates made or bound there
        (RACDCERT GENCERT ... TOKEN(name), BIND), or L{None} for none.
    @ivar pkcs11TokenLabel: that token's label.
    @ivar pkcs11PinFile: the file, of mode 0600, holding the token's user
        PIN; never the database, whose copies travel further.
    """

    systemName: str
    port: int = DEFAULT_PORT
    syslogLevel: int = 0
    keyRing: tuple[str, str] | None = None
    securityDatabase: str | None = None
    stashFile: str | None = None
    tlsKeyRing: tuple[str, str] | None = None
    tlsLabel: str | None = None
    nmiSocket: str = DEFAULT_NMI_SOCKET
    nmiIdleTimeout: int = DEFAULT_NMI_IDLE_TIMEOUT
    nmiSocketGroup: str | None = None
    nmiSocketMode: int = DEFAULT_SOCKET_MODE
    verifyEku: PeerEku = PeerEku.IKE
    maxConnections: int = DEFAULT_MAX_CONNECTIONS
    maxConnectionsPerAddress: int = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
    logonTimeout: int = DEFAULT_LOGON_TIMEOUT
    metrics: MetricsListener | None = None
    auditFile: str | None = None
    auditSync: AuditSync = AuditSync.INTERVAL
    auditRequired: bool = False
    auditSyslog: str | None = None
    auditSyslogSocket: str = DEFAULT_SYSLOG_SOCKET

    @property
    def audited(self) -> bool:
        """Whether there is an audit trail: a file, syslog, or both."""
        return self.auditFile is not None or self.auditSyslog is not None

    pkcs11Module: str | None = None
    pkcs11TokenLabel: str | None = None
    pkcs11PinFile: str | None = None

    def describe(self) -> list[str]:
        """
        The configuration as lines of nssd.conf, one setting a line, for
        C{nss-modify nssd display}: in the file's own syntax so that an
        operator can paste them inside C{NssConfig { }} and get this
        configuration back.  Unset optional values are shown as comments,
        which say so and still paste harmlessly.
        """
        lines = [
            f"Port {self.port}",
            f"SyslogLevel {self.syslogLevel}",
            _optional("KeyRing", _ring_text(self.keyRing)),
            "Discipline IPSec Enable",
            f"SystemName {format_value(self.systemName)}",
            _optional("SecurityDatabase", self.securityDatabase),
            _optional("StashFile", self.stashFile),
            _optional("TlsKeyRing", _ring_text(self.tlsKeyRing)),
            _optional("TlsLabel", self.tlsLabel, "the ring's DEFAULT certificate"),
            f"NmiSocket {format_value(self.nmiSocket)}",
            f"NmiIdleTimeout {self.nmiIdleTimeout}",
            _optional("NmiSocketGroup", self.nmiSocketGroup, "nssd's own group"),
            f"NmiSocketMode {socket_mode_text(self.nmiSocketMode)}",
            f"VerifyEku {_EKU_NAMES[self.verifyEku]}",
            f"MaxConnections {self.maxConnections}",
            f"MaxConnectionsPerAddress {self.maxConnectionsPerAddress}",
            f"LogonTimeout {self.logonTimeout}",
            "# MetricsPort (off)" if self.metrics is None else self.metrics.describe(),
            _optional("AuditFile", self.auditFile, "no audit trail"),
            f"AuditSync {self.auditSync.value}",
            f"AuditRequired {'yes' if self.auditRequired else 'no'}",
            f"AuditSyslog {self.auditSyslog or 'none'}",
            f"AuditSyslogSocket {format_value(self.auditSyslogSocket)}",
            _optional("Pkcs11Module", self.pkcs11Module, "no PKCS#11 token"),
            _optional("Pkcs11TokenLabel", self.pkcs11TokenLabel),
            _optional("Pkcs11PinFile", self.pkcs11PinFile),
        ]
        return lines

    def display_data(self) -> list[dict[str, Any]]:
        """
        The configuration as data, for C{nss-modify nssd display --json}:
        the settings of L{describe}, by the same keywords and in the same
        order, typed (numbers, C{null} for an unset optional value) so that
        a program need not read the file's syntax.  One C{NssConfig}
        statement, the shape iked's display shares.
        """
        settings: dict[str, Any] = {
            "Port": self.port,
            "SyslogLevel": self.syslogLevel,
            "KeyRing": _ring_text(self.keyRing),
            "Discipline": "IPSec Enable",
            "SystemName": self.systemName,
            "SecurityDatabase": self.securityDatabase,
            "StashFile": self.stashFile,
            "TlsKeyRing": _ring_text(self.tlsKeyRing),
            "TlsLabel": self.tlsLabel,
            "NmiSocket": self.nmiSocket,
            "NmiIdleTimeout": self.nmiIdleTimeout,
            "NmiSocketGroup": self.nmiSocketGroup,
            "NmiSocketMode": socket_mode_text(self.nmiSocketMode),
            "VerifyEku": _EKU_NAMES[self.verifyEku],
            "MaxConnections": self.maxConnections,
            "MaxConnectionsPerAddress": self.maxConnectionsPerAddress,
            "LogonTimeout": self.logonTimeout,
            "MetricsPort": None
            if self.metrics is None
            else self.metrics.display_data(),
            "AuditFile": self.auditFile,
            "AuditSync": self.auditSync.value,
            "AuditRequired": self.auditRequired,
            "AuditSyslog": self.auditSyslog,
            "AuditSyslogSocket": self.auditSyslogSocket,
            "Pkcs11Module": self.pkcs11Module,
            "Pkcs11TokenLabel": self.pkcs11TokenLabel,
            "Pkcs11PinFile": self.pkcs11PinFile,
        }
        return [{"Statement": "NssConfig", "Name": None, "Settings": settings}]


def _ring_text(ring: tuple[str, str] | None) -> str | None:
    return None if ring is None else f"{ring[0]}/{ring[1]}"


def _optional(keyword: str, value: str | None, meaning: str = "not set") -> str:
    if value is None:
        return f"# {keyword} ({meaning})"
    return f"{keyword} {format_value(value)}"


def config_path(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """
    The configuration file by the documented search order: C{--config},
    else C{NSSD_FILE}, else L{DEFAULT_CONFIG_PATH}.  An empty value counts
    as unset, as a shell's C{NSSD_FILE=} usually means.
    """
    if explicit:
        return explicit
    env = os.environ if environ is None else environ
    return env.get(CONFIG_VARIABLE) or DEFAULT_CONFIG_PATH


def load_nssd_configuration(
    path: str, *, hostname: str | None = None
) -> NssdConfiguration:
    """
    Read, parse and check nssd.conf.

    @param hostname: the host name the default C{SystemName} comes from;
        L{None} for C{socket.gethostname()}.
    @raise ConfigurationError: the file cannot be read or is wrong; the
        error names the file, line and keyword.
    """
    return _build(read_config(path), path, hostname)


def nssd_configuration_from_text(
    text: str, filename: str, *, hostname: str | None = None
) -> NssdConfiguration:
    """
    As L{load_nssd_configuration}, from text already read; C{filename} is
    only for errors.
    """
    return _build(parse_config(text, filename), filename, hostname)


# --- checking ---------------------------------------------------------------

_Check = Callable[[Setting, str], Any]


def _number(low: int, high: int, meaning: str = "") -> _Check:
    def check(setting: Setting, filename: str) -> int:
        text = _single(setting, filename)
        # ASCII digits only: int() would also take "+1", " 1", "1_0" and
        # Arabic-Indic digits, none of which an operator means.
        if text.isascii() and text.isdigit() and len(text) <= 10:
            value = int(text)
            if low <= value <= high:
                return value
        raise _error(
            setting, filename, f"must be a number from {low} to {high}{meaning}"
        )

    return check


def _ring_name(ring: str) -> str | None:
    upper = ring.upper()
    if not 1 <= len(upper) <= MAX_RING_NAME_LENGTH:
        return None
    if any(c.isspace() or not c.isprintable() or c in _RING_FORBIDDEN for c in upper):
        return None
    return upper


def _ring(setting: Setting, filename: str) -> tuple[str, str]:
    text = _single(setting, filename)
    owner, slash, ring = text.partition("/")
    if not slash:
        owner, ring = DEFAULT_RING_OWNER, text
    owner = owner.upper()
    if not _USERID.fullmatch(owner):
        raise _error(
            setting,
            filename,
            f"the ring owner {owner!r} must be a user ID:"
            " 1 to 8 of A-Z 0-9 @ # $, not starting with a digit",
        )
    name = _ring_name(ring)
    if name is None:
        raise _error(
            setting,
            filename,
            f"the ring name {ring!r} must be 1 to {MAX_RING_NAME_LENGTH}"
            " printable characters without blanks or / ( ) , '",
        )
    return owner, name


def _discipline(setting: Setting, filename: str) -> None:
    if len(setting.values) != 2:
        raise _error(setting, filename, "takes a discipline and Enable or Disable")
    discipline, state = (value.lower() for value in setting.values)
    if discipline not in ("ipsec", "xmlappliance") or state not in (
        "enable",
        "disable",
    ):
        raise _error(
            setting,
            filename,
            "must be IPSec or XMLAppliance, then Enable or Disable",
        )
    # nsstwisted serves the IPSec discipline only: asking for exactly that
    # (including turning XMLAppliance off) is fine, anything else is not.
    if (discipline == "ipsec") != (state == "enable"):
        raise _error(
            setting,
            filename,
            f"{setting.values[0]} {setting.values[1]} is not supported:"
            " nsstwisted serves the IPSec discipline only",
        )


_EKU_NAMES = {PeerEku.IKE: "Ike", PeerEku.IKE_OR_TLS: "IkeOrTls"}


def _eku(setting: Setting, filename: str) -> PeerEku:
    text = _single(setting, filename).lower()
    for eku, name in _EKU_NAMES.items():
        if name.lower() == text:
            return eku
    raise _error(
        setting,
        filename,
        "must be Ike (the RFC 4945 profile) or IkeOrTls (also serverAuth and"
        " clientAuth)",
    )


# keyword (lower case) -> (field, check); a field of None is checked only.
_KEYWORDS: dict[str, tuple[str | None, _Check]] = {
    "port": ("port", _number(0, 65535)),
    "sysloglevel": (
        "syslogLevel",
        _number(
            0,
            MAX_SYSLOG_LEVEL,
            " (the sum of 1 minimum, 2 verbose, 4 certificate information,"
            " 8 client lifecycle)",
        ),
    ),
    "keyring": ("keyRing", _ring),
    "discipline": (None, _discipline),
    "systemname": ("systemName", _system_name),
    "securitydatabase": ("securityDatabase", database_location),
    "stashfile": ("stashFile", _path()),
    "tlskeyring": ("tlsKeyRing", _ring),
    "tlslabel": ("tlsLabel", _label),
    "nmisocket": ("nmiSocket", _path(MAX_SOCKET_PATH_BYTES)),
    "nmiidletimeout": (
        "nmiIdleTimeout",
        _number(0, MAX_NMI_IDLE_TIMEOUT, " (seconds; 0 for no idle timeout)"),
    ),
    "nmisocketgroup": ("nmiSocketGroup", socket_group_value),
    "nmisocketmode": ("nmiSocketMode", socket_mode_value),
    "verifyeku": ("verifyEku", _eku),
    "maxconnections": ("maxConnections", _number(1, MAX_CONNECTIONS)),
    "maxconnectionsperaddress": (
        "maxConnectionsPerAddress",
        _number(1, MAX_CONNECTIONS),
    ),
    "logontimeout": (
        "logonTimeout",
        _number(1, MAX_LOGON_TIMEOUT, " (seconds)"),
    ),
    "metricsport": ("metrics", metrics_listener_value),
    "auditfile": ("auditFile", _path()),
    "auditsync": ("auditSync", audit_sync_value),
    "auditrequired": ("auditRequired", yes_no_value),
    "auditsyslog": ("auditSyslog", syslog_facility_value(SYSLOG_FACILITIES)),
    "auditsyslogsocket": ("auditSyslogSocket", _path(MAX_SOCKET_PATH_BYTES)),
    "pkcs11module": ("pkcs11Module", _path()),
    "pkcs11tokenlabel": ("pkcs11TokenLabel", token_label_value),
    "pkcs11pinfile": ("pkcs11PinFile", _path()),
}


def _settings(statements: Iterable[Statement], filename: str) -> list[Setting]:
    settings: list[Setting] = []
    seen = False
    for statement in statements:
        kind = statement.kind.lower()
        if kind != "nssconfig":
            why = (
                "is not supported by nsstwisted"
                if kind == "ipsecdisciplineconfig"
                else "is not a statement of nssd.conf, which holds NssConfig"
            )
            raise ConfigurationError(
                f"statement {why}", filename, statement.line, statement.kind
            )
        if statement.name is not None:
            raise ConfigurationError(
                f"takes no name, but {statement.name!r} is given",
                filename,
                statement.line,
                statement.kind,
            )
        seen = True
        settings.extend(statement.settings)
    if not seen:
        raise ConfigurationError("no NssConfig statement", filename)
    return settings


def _build(
    statements: Iterable[Statement], filename: str, hostname: str | None
) -> NssdConfiguration:
    values: dict[str, Any] = {}
    tlsLabel: Setting | None = None
    auditRequired: Setting | None = None
    pkcs11: dict[str, Setting] = {}
    for setting in _settings(statements, filename):
        entry = _KEYWORDS.get(setting.keyword.lower())
        if entry is None:
            raise unknown_keyword(setting, filename, "NssConfig", _KEYWORDS)
        field, check = entry
        value = check(setting, filename)
        if field is not None:
            values[field] = value
        if field == "tlsLabel":
            tlsLabel = setting
        if field == "auditRequired":
            auditRequired = setting
        if field in PKCS11_KEYWORDS:
            pkcs11[field] = setting
    if "systemName" not in values:
        host = socket.gethostname() if hostname is None else hostname
        name = default_system_name(host)
        if not SYSTEM_NAME.fullmatch(name):
            raise ConfigurationError(
                f"not coded, and the host name {host!r} gives no valid system"
                " name (1 to 8 of A-Z 0-9 @ # $): code SystemName",
                filename,
                None,
                "SystemName",
            )
        values["systemName"] = name
    values.setdefault("tlsKeyRing", values.get("keyRing"))
    if tlsLabel is not None and values["tlsKeyRing"] is None:
        raise _error(
            tlsLabel,
            filename,
            "names a certificate, but neither TlsKeyRing nor KeyRing is coded",
        )
    if (
        auditRequired is not None
        and values["auditRequired"]
        and not values.get("auditFile")
        and not values.get("auditSyslog")
    ):
        # Fail closed on nothing would refuse every signature: say so now.
        raise _error(
            auditRequired,
            filename,
            "yes needs an audit trail to write to, but neither AuditFile nor"
            " AuditSyslog is coded",
        )
    check_pkcs11_complete(pkcs11, filename)
    return NssdConfiguration(**values)
