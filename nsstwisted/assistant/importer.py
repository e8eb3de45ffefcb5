"""
The reverse direction of the assistant: an installation made by hand (its
nssd.conf files, its iked.conf files and its security database) read into
a L{Description}, so that it can be brought under the assistant.

The files are read with the shared brace-statement parser
(L{nsstwisted.config}); the assistant may not import the daemons, so the
keywords of nssd.conf and iked.conf are restated here, as far as a
description holds them.  A file that breaks the syntax, or a value the
description would carry wrong, refuses the import with the file, line and
keyword; a keyword the description has no place for is reported
(NSA0090W) unless it has the daemon's default value, and the import goes on.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from nsstwisted.assistant.importnotices import ImportNotice, ImportRefused
from nsstwisted.assistant.model import (
    DEFAULT_NSS_PORT,
    SETTING_DEFAULTS,
    AuthBy,
    Certificate,
    Description,
    Image,
    NssServer,
    Operator,
    ServiceType,
    Stack,
    StackSettings,
)
from nsstwisted.assistant.securityimport import ServerRings, read_security
from nsstwisted.config import (
    MAX_CONFIG_SIZE,
    ConfigurationError,
    Setting,
    Statement,
    parse_config,
)
from nsstwisted.config.values import (
    SYSTEM_NAME,
    absolute_path,
    database_location,
    default_system_name,
    label_value,
    setting_error,
    single_value,
    system_name_value,
    unknown_keyword,
)
from nsstwisted.security.errors import StashError
from nsstwisted.security.location import stash_path
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN

__all__ = [
    "ImportNotice",
    "ImportRefused",
    "ImportedInstallation",
    "import_installation",
]

# The user ID and ring rules of nssd and iked, restated: the assistant
# imports neither daemon.
_USERID = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")
_STACK_NAME = _USERID
_RING_FORBIDDEN = "/(),'"
_NSSD_RING_OWNER = "NSSD"
_IKED_RING_OWNER = "IKED"
_MODEL_KEY_RING = NssServer(name="", systemName="", address="").keyRing

_T = TypeVar("_T")


@dataclass(frozen=True)
class ImportedInstallation:
    """
    The result of an import: the description, and what the operator must
    know about it, in the order found.
    """

    description: Description
    notices: tuple[ImportNotice, ...]


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
class _NssdFacts:
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
    "nmisocket": ("nmiSocket", absolute_path(107)),
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


def _read_nssd(
    path: str, hostname: str | None, notices: list[ImportNotice]
) -> _NssdFacts:
    """
    An nssd.conf: its NssConfig statements merged, the last value of a
    repeated keyword winning, as nssd reads them.
    """
    values: dict[str, object] = {}
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
    found = values.pop("systemName", None)
    assert found is None or isinstance(found, str)
    system = _system_name(found, path, hostname, notices)
    return _NssdFacts(path, system, **values)  # type: ignore[arg-type]


# --- iked.conf --------------------------------------------------------------


@dataclass(frozen=True)
class _Address:
    host: str
    port: int
    identity: str | None

    @property
    def key(self) -> tuple[str, int]:
        return self.host.lower(), self.port


_IDENTITY_KINDS = {k.lower(): k for k in ("IpAddr", "Fqdn", "UserAtFqdn", "X500dn")}


def _address(setting: Setting, filename: str) -> _Address:
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
    return _Address(values[0], port, identity)


@dataclass
class _StackFacts:
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
class _IkedFacts:
    path: str
    systemName: str
    primary: _Address | None = None
    backup: _Address | None = None
    nssWaitLimit: int | None = None
    nssWaitRetries: int | None = None
    caFile: str | None = None
    ikeSyslogLevel: int | None = None
    nmiSocket: str | None = None
    saInstaller: str | None = None
    stacks: list[_StackFacts] = field(default_factory=list)


_IKE_KEPT: dict[str, tuple[str, Callable[[Setting, str], object]]] = {
    "systemname": ("systemName", system_name_value),
    "networksecurityserver": ("primary", _address),
    "networksecurityserverbackup": ("backup", _address),
    "nsswaitlimit": ("nssWaitLimit", _number(1, 3600)),
    "nsswaitretries": ("nssWaitRetries", _number(1, 100)),
    "cafile": ("caFile", absolute_path()),
    "ikesysloglevel": ("ikeSyslogLevel", _number(0, 1023)),
    "nmisocket": ("nmiSocket", absolute_path(107)),
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
    "ikeretries": None,
    "ikeinitwait": None,
    "fips140": "no",
    "echo": None,
    "pagentwait": None,
    "supportedcertauth": None,
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


def _nss_stack(statement: Statement, path: str, stack: _StackFacts) -> None:
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
    if stack.userId is None:
        raise _refused(
            ConfigurationError(
                f"stack {stack.name}: UserID is missing",
                path,
                statement.line,
                statement.kind,
            )
        )
    stack.services = tuple(s for s in _SERVICE_ORDER if s in services)


def _tcpip_stack(statement: Statement, path: str, stack: _StackFacts) -> None:
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


def _read_iked(
    path: str, hostname: str | None, notices: list[ImportNotice]
) -> _IkedFacts:
    """
    An iked.conf as iked reads it: the last IkeConfig statement is used,
    the last NssStackConfig of a stack too; a TcpipStack adds a stack that
    is not an NSS client, or the namespace and policy file of one that is.
    """
    ike: dict[str, object] = {}
    stacks: dict[str, _StackFacts] = {}
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
        stack = stacks.setdefault(name, _StackFacts(name))
        if kind == "nssstackconfig":
            _nss_stack(statement, path, stack)
        else:
            _tcpip_stack(statement, path, stack)
    found = ike.pop("systemName", None)
    assert found is None or isinstance(found, str)
    system = _system_name(found, path, hostname, notices)
    return _IkedFacts(path, system, stacks=list(stacks.values()), **ike)  # type: ignore[arg-type]


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


def _server_base(address: _Address | None, system: str, backup: bool) -> str:
    """
    A server's name in the description: its host's first label for a host
    name, else its system name (and C{-backup} for a backup).
    """
    if address is not None and not re.fullmatch(r"[0-9.]+|.*:.*", address.host):
        return _toml_key(address.host.split(".", 1)[0].lower())
    return _toml_key(system.lower() + ("-backup" if backup else ""))


def _server(
    name: str,
    facts: _NssdFacts,
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
    )


@dataclass
class _Servers:
    servers: list[NssServer] = field(default_factory=list)
    byAddress: dict[tuple[str, int], str] = field(default_factory=dict)
    # Each nssd.conf read, with the server it became.
    read: list[tuple[_NssdFacts, str]] = field(default_factory=list)

    def named(self, name: str) -> NssServer:
        return next(s for s in self.servers if s.name == name)

    def replace(self, name: str, **changes: object) -> None:
        self.servers = [
            dataclasses.replace(s, **changes) if s.name == name else s  # type: ignore[arg-type]
            for s in self.servers
        ]


def _servers(
    nssd: Sequence[_NssdFacts],
    iked: Sequence[_IkedFacts],
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
    address: _Address,
    backup: bool,
    primaryName: str | None,
    image: _IkedFacts,
    unmatched: list[_NssdFacts],
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
        facts = _NssdFacts(f"the server {where}", image.systemName, address.port)
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
    facts: _IkedFacts,
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
        **extra,  # type: ignore[arg-type]
    )


def _client_name_of(facts: _IkedFacts, stack: _StackFacts) -> str | None:
    """
    The client name to describe: C{None} where it is the seed's default,
    which iked uses when none is coded, so that re-generation is faithful.
    """
    if stack.clientName == f"{facts.systemName}_{stack.name}":
        return None
    return stack.clientName


def _secrets_directory(facts: _IkedFacts, notices: list[ImportNotice]) -> str | None:
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
) -> ImportedInstallation:
    """
    Read an installation into a description.

    @param nssdConfs: the nssd.conf files, a primary before its backup.
    @param ikedConfs: the iked.conf files, one per image.
    @param database: the security database; by default the one the first
        nssd.conf names (C{SecurityDatabase}).  Without either, the
        description has no certificates and no operators (NSA0096W).
    @param stash: the stash file to check against the database; by default
        the first nssd.conf's C{StashFile}, else the file beside an SQLite
        database.
    @param hostname: the host whose name gives the system name of a file
        that codes no C{SystemName}, as the daemons take it.
    @param source: the description's C{source}.
    @raise ImportRefused: a file cannot be read or breaks its syntax, a
        system name cannot be had, or the database cannot be read.
    """
    notices: list[ImportNotice] = []
    nssd = [_read_nssd(path, hostname, notices) for path in nssdConfs]
    iked = [_read_iked(path, hostname, notices) for path in ikedConfs]
    servers = _servers(nssd, iked, hostname, notices)

    location = database or next((f.database for f in nssd if f.database), None)
    certificates: tuple[Certificate, ...] = ()
    operators: tuple[Operator, ...] = ()
    if location is None:
        notices.append(
            ImportNotice(
                "NSA0096W",
                "no security database is named (--database, or an nssd.conf's"
                " SecurityDatabase): the description has no certificates and no"
                " operators",
            )
        )
    else:
        stashFile = stash or next((f.stashFile for f in nssd if f.stashFile), None)
        if stashFile is None:
            try:
                stashFile = stash_path(location, None, {})
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
