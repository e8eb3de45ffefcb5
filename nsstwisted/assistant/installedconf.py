"""
The files of an installation as the import reads them: nssd.conf and
iked.conf, with the shared brace-statement parser (L{nsstwisted.config}),
into plain facts (L{NssdFacts}, L{IkedFacts}) that the importer turns into
a description.

The assistant may not import the daemons, so the keywords of both files
are restated here, as far as a description holds them; the statements are
read as the daemons read them (nssd merges its NssConfig statements; iked
uses its last IkeConfig and the last NssStackConfig of a stack).  A file
that cannot be read is NSA0080E; one that breaks the syntax, or a value
the description would carry wrong, NSA0081E with its file, line and
keyword.  A keyword the description has no place for is a notice
(NSA0090W) unless it has the daemon's default, which dropping it keeps.
The secret files the stacks name are never opened.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from nsstwisted.assistant.importnotices import ImportNotice, ImportRefused
from nsstwisted.assistant.model import DEFAULT_NSS_PORT, AuthBy, ServiceType
from nsstwisted.config import (
    MAX_CONFIG_SIZE,
    ConfigurationError,
    Setting,
    Statement,
    parse_config,
)
from nsstwisted.config.values import (
    MAX_SOCKET_PATH_BYTES,
    PKCS11_KEYWORDS,
    SYSTEM_NAME,
    AuditSync,
    MetricsListener,
    absolute_path,
    audit_sync_value,
    check_pkcs11_complete,
    database_location,
    default_system_name,
    label_value,
    metrics_listener_value,
    setting_error,
    single_value,
    syslog_facility_value,
    system_name_value,
    token_label_value,
    unknown_keyword,
    yes_no_value,
)
from nsstwisted.security.auditsyslog import FACILITIES
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN

__all__ = [
    "IkedFacts",
    "NssdFacts",
    "ServerAddress",
    "StackFacts",
    "read_iked",
    "read_nssd",
]

# The user ID and ring rules of nssd and iked, restated: the assistant
# imports neither daemon.
_USERID = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")
_STACK_NAME = _USERID
_RING_FORBIDDEN = "/(),'"
_NSSD_RING_OWNER = "NSSD"
_IKED_RING_OWNER = "IKED"

_T = TypeVar("_T")


# --- reading a file ---------------------------------------------------------


def _statements(path: str) -> list[Statement]:
    """
    The statements of a configuration file.  A file that cannot be read is
    NSA0080E; one that breaks the syntax NSA0081E, with its line.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_CONFIG_SIZE + 1)
    except OSError as e:
        raise ImportRefused(
            "NSA0080E", f"{path}: cannot read the file: {e.strerror or e}"
        ) from None
    if len(data) > MAX_CONFIG_SIZE:
        raise ImportRefused(
            "NSA0080E", f"{path}: the file is larger than {MAX_CONFIG_SIZE} bytes"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ImportRefused(
            "NSA0080E", f"{path}:{line}: the file is not valid UTF-8"
        ) from None
    try:
        return parse_config(text, path)
    except ConfigurationError as e:
        raise _refused(e) from None


def _refused(error: ConfigurationError) -> ImportRefused:
    return ImportRefused("NSA0081E", str(error))


def _checked(check: Callable[[Setting, str], _T], setting: Setting, path: str) -> _T:
    """A value checked, its error an NSA0081E naming the file and line."""
    try:
        return check(setting, path)
    except ConfigurationError as e:
        raise _refused(e) from None


def _number(low: int, high: int) -> Callable[[Setting, str], int]:
    def check(setting: Setting, filename: str) -> int:
        text = single_value(setting, filename)
        if text.isascii() and text.isdigit() and len(text) <= 10:
            value = int(text)
            if low <= value <= high:
                return value
        raise setting_error(setting, filename, f"must be a number from {low} to {high}")

    return check


def _ring(owner: str) -> Callable[[Setting, str], tuple[str, str]]:
    """C{KeyRing owner/ring} or C{ring}, upper case, as both daemons read it."""

    def check(setting: Setting, filename: str) -> tuple[str, str]:
        text = single_value(setting, filename)
        ringOwner, slash, ring = text.partition("/")
        if not slash:
            ringOwner, ring = owner, text
        ringOwner, ring = ringOwner.upper(), ring.upper()
        if (
            not _USERID.fullmatch(ringOwner)
            or not ring
            or any(
                c.isspace() or not c.isprintable() or c in _RING_FORBIDDEN for c in ring
            )
        ):
            raise setting_error(
                setting, filename, "must be owner/ring: a user ID and a ring name"
            )
        return ringOwner, ring

    return check


def _choice(choices: Mapping[str, _T], spelling: str) -> Callable[[Setting, str], _T]:
    def check(setting: Setting, filename: str) -> _T:
        value = single_value(setting, filename).lower()
        if value not in choices:
            raise setting_error(setting, filename, f"must be {spelling}")
        return choices[value]

    return check


def _userid(setting: Setting, filename: str) -> str:
    userid = single_value(setting, filename).upper()
    if not _USERID.fullmatch(userid):
        raise setting_error(
            setting, filename, "must be a user ID: 1 to 8 of A-Z 0-9 @ # $"
        )
    return userid


def _client_name(setting: Setting, filename: str) -> str:
    name = single_value(setting, filename)
    if not CLIENT_NAME_PATTERN.fullmatch(name):
        raise setting_error(
            setting, filename, "must be 1 to 24 of A-Z a-z 0-9 _ . @ # $ -"
        )
    return name


def _not_kept(
    setting: Setting, path: str, default: str | None, notices: list[ImportNotice]
) -> None:
    """
    Report a setting the description has no place for, unless it has the
    daemon's default value, which dropping it keeps.
    """
    written = " ".join(setting.values)
    if default is not None and written.lower() == default.lower():
        return
    notices.append(
        ImportNotice(
            "NSA0090W",
            f"{path}:{setting.line}: {setting.keyword} {written}: the"
            " description has no place for this setting; it is not imported,"
            " and a generated file leaves it at its default",
        )
    )


def _system_name(
    found: str | None, path: str, hostname: str | None, notices: list[ImportNotice]
) -> str:
    """
    The file's SystemName, or, when it codes none, the one its daemon takes
    from the host name, if the import was told the host.
    """
    if found is not None:
        return found
    if hostname is not None:
        name = default_system_name(hostname)
        if SYSTEM_NAME.fullmatch(name):
            notices.append(
                ImportNotice(
                    "NSA0092W",
                    f"{path} codes no SystemName: the daemon takes it from its"
                    f" host's name; the import took {name} from {hostname!r}:"
                    " check that it is that host's",
                )
            )
            return name
    raise ImportRefused(
        "NSA0082E",
        f"{path} codes no SystemName, and no host name gives a valid one"
        " (1 to 8 of A-Z 0-9 @ # $): code SystemName, or name the host with"
        " --hostname",
    )


# --- nssd.conf --------------------------------------------------------------


@dataclass
class NssdFacts:
    path: str
    systemName: str
    port: int = DEFAULT_NSS_PORT
    syslogLevel: int = 0
    keyRing: tuple[str, str] | None = None
    tlsKeyRing: tuple[str, str] | None = None
    tlsLabel: str | None = None
    database: str | None = None
    stashFile: str | None = None
    nmiSocket: str | None = None
    metrics: MetricsListener | None = None
    auditFile: str | None = None
    auditSync: AuditSync = AuditSync.INTERVAL
    auditRequired: bool = False
    auditSyslog: str | None = None
    auditSyslogSocket: str | None = None
    pkcs11Module: str | None = None
    pkcs11TokenLabel: str | None = None
    pkcs11PinFile: str | None = None


# keyword -> the field it sets and its check; or, for a keyword the
# description has no place for, None and nssd's default (None: always told).
_NSSD_KEPT: dict[str, tuple[str, Callable[[Setting, str], object]]] = {
    "port": ("port", _number(0, 65535)),
    "sysloglevel": ("syslogLevel", _number(0, 15)),
    "keyring": ("keyRing", _ring(_NSSD_RING_OWNER)),
    "systemname": ("systemName", system_name_value),
    "securitydatabase": ("database", database_location),
    "stashfile": ("stashFile", absolute_path()),
    "tlskeyring": ("tlsKeyRing", _ring(_NSSD_RING_OWNER)),
    "tlslabel": ("tlsLabel", label_value),
    "nmisocket": ("nmiSocket", absolute_path(MAX_SOCKET_PATH_BYTES)),
    # nssd's own checks (nsstwisted.config.values), not restated.
    "metricsport": ("metrics", metrics_listener_value),
    "auditfile": ("auditFile", absolute_path()),
    "auditsync": ("auditSync", audit_sync_value),
    "auditrequired": ("auditRequired", yes_no_value),
    "auditsyslog": ("auditSyslog", syslog_facility_value(FACILITIES)),
    "auditsyslogsocket": (
        "auditSyslogSocket",
        absolute_path(MAX_SOCKET_PATH_BYTES),
    ),
    "pkcs11module": ("pkcs11Module", absolute_path()),
    "pkcs11tokenlabel": ("pkcs11TokenLabel", token_label_value),
    "pkcs11pinfile": ("pkcs11PinFile", absolute_path()),
}
_NSSD_DROPPED: dict[str, str | None] = {
    "discipline": "IPSec Enable",
    "nmiidletimeout": "60",
    "nmisocketgroup": None,
    "nmisocketmode": "0660",
    "verifyeku": "Ike",
    "maxconnections": "4096",
    "maxconnectionsperaddress": "128",
    "logontimeout": "30",
}


def read_nssd(
    path: str, hostname: str | None, notices: list[ImportNotice]
) -> NssdFacts:
    """
    An nssd.conf: its NssConfig statements merged, the last value of a
    repeated keyword winning, as nssd reads them.
    """
    values: dict[str, object] = {}
    pkcs11: dict[str, Setting] = {}
    seen = False
    for statement in _statements(path):
        if statement.kind.lower() != "nssconfig" or statement.name is not None:
            raise _refused(
                ConfigurationError(
                    "is not a statement of nssd.conf, which holds NssConfig"
                    " statements without a name",
                    path,
                    statement.line,
                    statement.kind,
                )
            )
        seen = True
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            kept = _NSSD_KEPT.get(keyword)
            if kept is not None:
                values[kept[0]] = _checked(kept[1], setting, path)
                if kept[0] in PKCS11_KEYWORDS:
                    pkcs11[kept[0]] = setting
            elif keyword in _NSSD_DROPPED:
                if keyword == "discipline":
                    continue
                _not_kept(setting, path, _NSSD_DROPPED[keyword], notices)
            else:
                raise _refused(
                    unknown_keyword(
                        setting, path, "NssConfig", [*_NSSD_KEPT, *_NSSD_DROPPED]
                    )
                )
    if not seen:
        raise _refused(ConfigurationError("no NssConfig statement", path))
    try:
        # A token named by two of its three keywords is one nssd refuses.
        check_pkcs11_complete(pkcs11, path)
    except ConfigurationError as e:
        raise _refused(e) from None
    found = values.pop("systemName", None)
    assert found is None or isinstance(found, str)
    system = _system_name(found, path, hostname, notices)
    return NssdFacts(path, system, **values)  # type: ignore[arg-type]


# --- iked.conf --------------------------------------------------------------


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int
    identity: str | None

    @property
    def key(self) -> tuple[str, int]:
        return self.host.lower(), self.port


_IDENTITY_KINDS = {k.lower(): k for k in ("IpAddr", "Fqdn", "UserAtFqdn", "X500dn")}


def _address(setting: Setting, filename: str) -> ServerAddress:
    """
    C{host [Port port] [Identity kind value]}; the host and identity are
    kept as written, the daemon having checked them when it started.
    """
    values = setting.values
    if not values:
        raise setting_error(setting, filename, "takes host [Port port] [Identity ...]")
    port, identity, index = DEFAULT_NSS_PORT, None, 1
    while index < len(values):
        word = values[index].lower()
        if word == "port" and index + 1 < len(values):
            text = values[index + 1]
            if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
                raise setting_error(
                    setting, filename, "Port must be a number from 1 to 65535"
                )
            port, index = int(text), index + 2
        elif (
            word == "identity"
            and index + 2 < len(values)
            and (values[index + 1].lower() in _IDENTITY_KINDS)
        ):
            kind = _IDENTITY_KINDS[values[index + 1].lower()]
            identity, index = f"{kind} {values[index + 2]}", index + 3
        else:
            raise setting_error(
                setting,
                filename,
                f"unexpected {values[index]!r}: the value is host [Port port]"
                " [Identity IpAddr|Fqdn|UserAtFqdn|X500dn value]",
            )
    return ServerAddress(values[0], port, identity)


@dataclass
class StackFacts:
    name: str
    nss: bool = False
    clientName: str | None = None
    userId: str | None = None
    authBy: AuthBy = "Password"
    services: tuple[ServiceType, ...] = ()
    secretFile: str | None = None
    namespace: str | None = None
    policyFile: str | None = None


@dataclass
class IkedFacts:
    path: str
    systemName: str
    primary: ServerAddress | None = None
    backup: ServerAddress | None = None
    nssWaitLimit: int | None = None
    nssWaitRetries: int | None = None
    caFile: str | None = None
    ikeSyslogLevel: int | None = None
    nmiSocket: str | None = None
    saInstaller: str | None = None
    metrics: MetricsListener | None = None
    stacks: list[StackFacts] = field(default_factory=list)


_IKE_KEPT: dict[str, tuple[str, Callable[[Setting, str], object]]] = {
    "systemname": ("systemName", system_name_value),
    "networksecurityserver": ("primary", _address),
    "networksecurityserverbackup": ("backup", _address),
    "nsswaitlimit": ("nssWaitLimit", _number(1, 3600)),
    "nsswaitretries": ("nssWaitRetries", _number(1, 100)),
    "cafile": ("caFile", absolute_path()),
    "ikesysloglevel": ("ikeSyslogLevel", _number(0, 1023)),
    "nmisocket": ("nmiSocket", absolute_path(MAX_SOCKET_PATH_BYTES)),
    "metricsport": ("metrics", metrics_listener_value),
    "sainstaller": (
        "saInstaller",
        _choice({"record": "Record", "xfrm": "Xfrm"}, "Record or Xfrm"),
    ),
}
# IBM's keywords iked accepts but does not use have no default to compare
# with: dropping them changes nothing, which the notice says all the same.
_IKE_DROPPED: dict[str, str | None] = {
    "keyring": "IKED/KEYRING",
    "nokeyring": None,
    "nmiidletimeout": "60",
    "nmisocketgroup": None,
    "nmisocketmode": "0660",
    "securitydatabase": None,
    "stashfile": None,
    "requireremoteidentity": "no",
    "pagentsysloglevel": None,
    "smf119": None,
    "ikeretries": "6",
    "ikeinitwait": "2",
    "ikefragmentsize": "1280",
    "fips140": "no",
    "echo": None,
    "pagentwait": None,
    "supportedcertauth": None,
    "cookiethreshold": "30",
    "halfopenlimit": "1000",
}

_SERVICE_TYPES: dict[str, ServiceType] = {"cert": "Cert", "remotemgmt": "RemoteMgmt"}
_SERVICE_ORDER: tuple[ServiceType, ...] = ("Cert", "RemoteMgmt")


def _ike_config(
    statement: Statement, path: str, notices: list[ImportNotice]
) -> dict[str, object]:
    values: dict[str, object] = {}
    for setting in statement.settings:
        keyword = setting.keyword.lower()
        kept = _IKE_KEPT.get(keyword)
        if kept is not None:
            values[kept[0]] = _checked(kept[1], setting, path)
        elif keyword in _IKE_DROPPED:
            default = _IKE_DROPPED[keyword]
            if keyword == "keyring":
                ring = _checked(_ring(_IKED_RING_OWNER), setting, path)
                setting = dataclasses.replace(setting, values=("/".join(ring),))
            _not_kept(setting, path, default, notices)
        else:
            raise _refused(
                unknown_keyword(setting, path, "IkeConfig", [*_IKE_KEPT, *_IKE_DROPPED])
            )
    return values


def _stack_name(statement: Statement, path: str) -> str:
    name = (statement.name or "").upper()
    if not _STACK_NAME.fullmatch(name):
        raise _refused(
            ConfigurationError(
                "needs a stack name of 1 to 8 of A-Z 0-9 @ # $",
                path,
                statement.line,
                statement.kind,
            )
        )
    return name


def _nss_stack(statement: Statement, path: str, stack: StackFacts) -> None:
    """
    An NssStackConfig statement, which replaces an earlier one for the same
    stack (IBM: the last one is used); ServiceType adds up.
    """
    stack.nss = True
    stack.clientName, stack.userId, stack.authBy = None, None, "Password"
    stack.services, stack.secretFile = (), None
    services: set[ServiceType] = set()
    for setting in statement.settings:
        keyword = setting.keyword.lower()
        if keyword == "clientname":
            stack.clientName = _checked(_client_name, setting, path)
        elif keyword == "servicetype":
            services.add(
                _checked(
                    _choice(dict(_SERVICE_TYPES), "Cert or RemoteMgmt"), setting, path
                )
            )
        elif keyword == "userid":
            stack.userId = _checked(_userid, setting, path)
        elif keyword == "authby":
            stack.authBy = _checked(
                _choice(
                    {"password": "Password", "passticket": "PassTicket"},
                    "Password or PassTicket",
                ),
                setting,
                path,
            )
        elif keyword in ("passwordfile", "passticketkeyfile"):
            stack.secretFile = _checked(absolute_path(), setting, path)
        elif keyword == "namespace":
            stack.namespace = _checked(single_value, setting, path)
        elif keyword == "policyfile":
            stack.policyFile = _checked(absolute_path(), setting, path)
        else:
            raise _refused(
                unknown_keyword(
                    setting,
                    path,
                    "NssStackConfig",
                    [
                        "ClientName",
                        "ServiceType",
                        "UserID",
                        "AuthBy",
                        "PasswordFile",
                        "PassTicketKeyFile",
                        "Namespace",
                        "PolicyFile",
                    ],
                )
            )
    # iked refuses both, so an installation that runs has them.
    missing = [
        keyword
        for keyword, value in (("UserID", stack.userId), ("ServiceType", services))
        if not value
    ]
    if missing:
        raise _refused(
            ConfigurationError(
                f"stack {stack.name}: {' and '.join(missing)} missing",
                path,
                statement.line,
                statement.kind,
            )
        )
    stack.services = tuple(s for s in _SERVICE_ORDER if s in services)


def _tcpip_stack(statement: Statement, path: str, stack: StackFacts) -> None:
    for setting in statement.settings:
        keyword = setting.keyword.lower()
        if keyword == "namespace":
            stack.namespace = _checked(single_value, setting, path)
        elif keyword == "policyfile":
            stack.policyFile = _checked(absolute_path(), setting, path)
        else:
            raise _refused(
                unknown_keyword(
                    setting, path, "TcpipStack", ["Namespace", "PolicyFile"]
                )
            )


def read_iked(
    path: str, hostname: str | None, notices: list[ImportNotice]
) -> IkedFacts:
    """
    An iked.conf as iked reads it: the last IkeConfig statement is used,
    the last NssStackConfig of a stack too; a TcpipStack adds a stack that
    is not an NSS client, or the namespace and policy file of one that is.
    """
    ike: dict[str, object] = {}
    stacks: dict[str, StackFacts] = {}
    for statement in _statements(path):
        kind = statement.kind.lower()
        if kind == "ikeconfig":
            ike = _ike_config(statement, path, notices)
            continue
        if kind not in ("nssstackconfig", "tcpipstack"):
            raise _refused(
                ConfigurationError(
                    "is not a statement of iked.conf, which holds IkeConfig,"
                    " NssStackConfig and TcpipStack",
                    path,
                    statement.line,
                    statement.kind,
                )
            )
        name = _stack_name(statement, path)
        stack = stacks.setdefault(name, StackFacts(name))
        if kind == "nssstackconfig":
            _nss_stack(statement, path, stack)
        else:
            _tcpip_stack(statement, path, stack)
    found = ike.pop("systemName", None)
    assert found is None or isinstance(found, str)
    system = _system_name(found, path, hostname, notices)
    return IkedFacts(path, system, stacks=list(stacks.values()), **ike)  # type: ignore[arg-type]
