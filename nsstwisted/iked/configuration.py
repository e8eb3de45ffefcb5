"""
The IKE daemon's configuration file, iked.conf: where it is, what it may say,
and the checked, immutable L{IkedConfiguration} it becomes.

The model is plain data, so that a refresh can compare the old and the new
configuration stack by stack: an L{NssStackConfig} that compares equal keeps
its connection, one that does not is reconnected.  Everything a stack's
connection depends on is therefore in its L{NssStackConfig}, including its
network namespace, and nothing else is.

Every value the model holds passed the checks below, so that a refresh either
yields a whole new configuration or an error naming the file, line and
keyword, and the running daemon keeps its old one.  That includes the secret
files: a refresh that names a password file iked could not use is refused
rather than accepted and then failing at the next logon.

The statements follow IBM: several C{IkeConfig} statements are not merged,
the last one is used; several C{NssStackConfig} statements for one stack, the
last one is used; within a statement a repeated keyword's last value wins,
except the additive C{ServiceType}, C{SMF119} and C{SupportedCertAuth}.
C{TcpipStack} is ours.  Statements that a later one replaces are still
checked, so a mistake is never hidden by being overridden.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
import socket
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
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
    SYSTEM_NAME,
    default_system_name,
    unknown_keyword,
)
from nsstwisted.config.values import absolute_path as _path
from nsstwisted.config.values import label_value as _label
from nsstwisted.config.values import setting_error as _error
from nsstwisted.config.values import single_value as _single
from nsstwisted.config.values import system_name_value as _system_name
from nsstwisted.iked.policy import StackPolicy, load_stack_policy
from nsstwisted.wire.fields import has_control_character
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN, NSS_PORT, Services

__all__ = [
    "CONFIG_VARIABLE",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_IKE_SYSLOG_LEVEL",
    "DEFAULT_KEY_RING",
    "DEFAULT_NMI_IDLE_TIMEOUT",
    "DEFAULT_NMI_SOCKET",
    "DEFAULT_NSS_WAIT_LIMIT",
    "DEFAULT_NSS_WAIT_RETRIES",
    "DEFAULT_PORT",
    "DEFAULT_RING_OWNER",
    "IDENTITY_KINDS",
    "MAX_STACKS",
    "AuthBy",
    "IkedConfiguration",
    "NssServerAddress",
    "NssStackConfig",
    "StackDeclaration",
    "config_path",
    "default_system_name",
    "iked_configuration_from_text",
    "load_iked_configuration",
    "read_stack_secret",
]

DEFAULT_CONFIG_PATH = "/etc/security/iked.conf"
CONFIG_VARIABLE = "IKED_FILE"
DEFAULT_PORT = NSS_PORT
DEFAULT_NMI_SOCKET = "/var/sock/ipsecmgmt"
DEFAULT_RING_OWNER = "IKED"
"""
The owner of a ring coded without one (C{KeyRing ringname}): on z/OS the
user ID IKED runs under, here the conventional C{IKED}.
"""
DEFAULT_KEY_RING = (DEFAULT_RING_OWNER, "KEYRING")
"""IBM's default, C{iked/keyring}, upper-cased as every ring name here is."""
DEFAULT_NSS_WAIT_LIMIT = 60
DEFAULT_NSS_WAIT_RETRIES = 3
DEFAULT_IKE_SYSLOG_LEVEL = 1
DEFAULT_NMI_IDLE_TIMEOUT = 60
"""
Seconds a management connection may stay idle: the protocol's default,
C{nsstwisted.protocols.nmi.DEFAULT_IDLE_TIMEOUT}, as a whole number.
"""

MAX_STACKS = 8
"""How many stacks one iked serves, as IBM's IKED does."""

IDENTITY_KINDS = ("IpAddr", "Fqdn", "UserAtFqdn", "X500dn")
"""The kinds of C{Identity}, in IBM's spelling, which the model keeps."""

# Our ranges, where IBM documents none: wide enough for any sensible value,
# narrow enough that a slip of the keyboard (an extra zero) is caught.
NSS_WAIT_LIMIT_RANGE = (1, 3600)
NSS_WAIT_RETRIES_RANGE = (1, 100)
SYSLOG_LEVEL_RANGE = (0, 1023)
NMI_IDLE_TIMEOUT_RANGE = (0, 86400)

MAX_RING_NAME_LENGTH = 237
# sun_path is 108 bytes on Linux, one of which is the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
# The NSS protocol's limit on a password (the PASSWORD field).
MAX_PASSWORD_BYTES = 256
# Far above any real secret; low enough that a wrong path fails fast.
MAX_SECRET_FILE_SIZE = 4096
# The NSS protocol's limit on a distinguished name (the IDENTITY field).
MAX_DN_BYTES = 1024
# Linux's limit on a file name, which a namespace name is (/run/netns/NAME).
MAX_NAMESPACE_LENGTH = 255

# The same rules as nsstwisted.nssd.configuration, restated because the two
# daemons never import each other.
_USERID = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")
# A TCP/IP stack is named by its MVS job name: no leading digit.
_STACK_NAME = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")
_RING_FORBIDDEN = "/(),'"
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_NAMESPACE = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*")
_PASSTICKET_KEY = re.compile(r"[0-9A-Fa-f]{16}")


class AuthBy(enum.Enum):
    """
    How a stack proves its user ID to the NSS server: with the user's
    password, or with a PassTicket that iked computes afresh for every logon
    from a key shared with the server's C{NSSD} PTKTDATA profile, so that no
    reusable password need be stored on the client system.
    """

    PASSWORD = "Password"  # noqa: S105 (a method, not a password)
    PASSTICKET = "PassTicket"

    @property
    def fileKeyword(self) -> str:
        """The keyword that names this method's secret file."""
        return _FILE_KEYWORDS[self]


_FILE_KEYWORDS = {
    AuthBy.PASSWORD: "PasswordFile",
    AuthBy.PASSTICKET: "PassTicketKeyFile",
}

_SERVICE_TYPES = {"cert": Services.CERT, "remotemgmt": Services.NETMGMT}
_SERVICE_NAMES = ((Services.CERT, "Cert"), (Services.NETMGMT, "RemoteMgmt"))


@dataclass(frozen=True)
class NssServerAddress:
    """
    An NSS server, as C{NetworkSecurityServer} or
    C{NetworkSecurityServerBackup} names it.

    @ivar host: an IP address or a host name, as written.
    @ivar port: its TCP port.
    @ivar identityKind: what C{identity} is, in IBM's spelling (one of
        L{IDENTITY_KINDS}); L{None} when the server's certificate is to be
        checked against C{host} instead.
    @ivar identity: the identity the server's certificate must show.
    """

    host: str
    port: int = DEFAULT_PORT
    identityKind: str | None = None
    identity: str | None = None

    def describe(self) -> str:
        """
        The value as it is written in the file: C{host Port p [Identity kind
        value]}.  The port is always shown, since a display is read by
        someone who wants to know it.
        """
        text = f"{format_value(self.host)} Port {self.port}"
        if self.identityKind is not None and self.identity is not None:
            text += f" Identity {self.identityKind} {format_value(self.identity)}"
        return text


@dataclass(frozen=True, kw_only=True)
class NssStackConfig:
    """
    One stack's NSS client: everything its connection to the NSS server
    depends on, so that equality says whether a refresh must reconnect it.

    @ivar stackName: the stack, upper case (a TCP/IP job name on z/OS).
    @ivar clientName: the name the server knows this client by, which its
        SERVAUTH profile names carry.
    @ivar services: the services asked for at logon; never empty.
    @ivar userid: the user ID the client logs on with, upper case.
    @ivar authBy: how that user ID is proved.
    @ivar secretFile: the absolute path of the password file or the
        PassTicket key file, whichever C{authBy} says; the secret itself is
        read by L{read_stack_secret} at each logon and never kept here.
    @ivar namespace: the Linux network namespace the stack is, by its
        C{ip netns} name; L{None} for the host's own network stack.
    """

    stackName: str
    clientName: str
    services: Services
    userid: str
    authBy: AuthBy = AuthBy.PASSWORD
    secretFile: str
    namespace: str | None = None

    def describe(self, policyFile: str | None = None) -> list[str]:
        """
        The C{NssStackConfig} statement, in the file's syntax, with the
        stack's C{PolicyFile} if it has one: the policy file is the stack's
        (L{StackDeclaration}), not its NSS connection's, so that a new
        policy does not reconnect the stack.
        """
        lines = [f"ClientName {format_value(self.clientName)}"]
        lines += [
            f"ServiceType {name}"
            for flag, name in _SERVICE_NAMES
            if flag in self.services
        ]
        lines += [
            f"UserID {format_value(self.userid)}",
            f"AuthBy {self.authBy.value}",
            f"{self.authBy.fileKeyword} {format_value(self.secretFile)}",
            _optional("Namespace", self.namespace, "the host's own stack"),
        ]
        if policyFile is not None:
            lines.append(f"PolicyFile {format_value(policyFile)}")
        return _block(f"NssStackConfig {format_value(self.stackName)}", lines)


@dataclass(frozen=True)
class StackDeclaration:
    """
    A stack iked serves, NSS client or not: what C{ipsec -w} lists and what
    IKE (later) binds to.

    @ivar stackName: the stack, upper case.
    @ivar namespace: its Linux network namespace; L{None} for the host's own.
    @ivar policyFile: the absolute path of its IP filter policy file
        (C{PolicyFile}, nsstwisted's keyword); L{None} when the stack has
        only the default filter rules.
    @ivar policy: that file, checked when the configuration was loaded; a
        declaration built by hand has none unless given one.  It takes part
        in equality, so that a refresh that changes a policy file's content
        changes the configuration.
    """

    stackName: str
    namespace: str | None = None
    policyFile: str | None = None
    policy: StackPolicy | None = field(default=None, repr=False)

    def describe(self) -> list[str]:
        """The C{TcpipStack} statement, in the file's syntax."""
        lines = [_optional("Namespace", self.namespace, "the host's own stack")]
        if self.policyFile is not None:
            lines.append(f"PolicyFile {format_value(self.policyFile)}")
        return _block(f"TcpipStack {format_value(self.stackName)}", lines)


class _StackMap(Mapping[str, NssStackConfig]):
    """
    A read-only mapping that is also hashable, so that the frozen
    L{IkedConfiguration} holding it stays hashable; equal to any mapping
    with the same items, in any order.
    """

    __slots__ = ("_stacks",)

    def __init__(self, stacks: Mapping[str, NssStackConfig] | None = None) -> None:
        self._stacks: dict[str, NssStackConfig] = dict(stacks or {})

    def __getitem__(self, name: str) -> NssStackConfig:
        return self._stacks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stacks)

    def __len__(self) -> int:
        return len(self._stacks)

    def __hash__(self) -> int:
        return hash(frozenset(self._stacks.items()))

    def __repr__(self) -> str:
        return f"{self._stacks!r}"


@dataclass(frozen=True, kw_only=True)
class IkedConfiguration:
    """
    The IKE daemon's configuration in force.

    Built by L{load_iked_configuration}, which checks every value and fills
    the defaults that depend on other values or on the host; constructing
    one directly takes the values as given, except that C{nssStacks} is
    frozen and an NSS stack missing from C{stacks} is added to its end, so
    that L{stack_names} always lists every stack.

    @ivar systemName: the MVS-style system name that default client names
        and C{ipsec -w} carry.
    @ivar primary: the NSS server stacks try first.
    @ivar backup: the NSS server stacks switch to when the current one fails.
    @ivar nssWaitLimit: seconds between connection attempts to a server.
    @ivar nssWaitRetries: attempts on one server before switching to the
        other; with C{nssWaitLimit}, the longest a stack tries one server.
    @ivar keyRing: the (owner, ring) for stacks that are not NSS clients;
        L{None} when C{NoKeyRing} says there is none.
    @ivar caFile: the PEM file of the CA certificates that check the NSS
        server's TLS certificate; needed as soon as one stack uses NSS.
    @ivar nmiSocket: the AF_UNIX path of iked's local NMI.
    @ivar nmiIdleTimeout: seconds a local NMI connection may stay idle
        before iked closes it; 0 for never.
    @ivar ikeSyslogLevel: IBM's IkeSyslogLevel bit mask.
    @ivar requireRemoteIdentity: every KeyExchangeRule must name the peer's
        Identity (on its RemoteSecurityEndpoint); without one, a rule
        accepts any certificate a trusted CA issued.
    @ivar stacks: every stack, NSS client or not, in file order.
    @ivar nssStacks: the NSS clients, by stack name.
    """

    systemName: str
    primary: NssServerAddress | None = None
    backup: NssServerAddress | None = None
    nssWaitLimit: int = DEFAULT_NSS_WAIT_LIMIT
    nssWaitRetries: int = DEFAULT_NSS_WAIT_RETRIES
    keyRing: tuple[str, str] | None = DEFAULT_KEY_RING
    caFile: str | None = None
    nmiSocket: str = DEFAULT_NMI_SOCKET
    nmiIdleTimeout: int = DEFAULT_NMI_IDLE_TIMEOUT
    ikeSyslogLevel: int = DEFAULT_IKE_SYSLOG_LEVEL
    saInstaller: str = "record"
    securityDatabase: str | None = None
    requireRemoteIdentity: bool = False
    stacks: tuple[StackDeclaration, ...] = ()
    nssStacks: Mapping[str, NssStackConfig] = field(default_factory=_StackMap)

    def __post_init__(self) -> None:
        nssStacks = _StackMap(self.nssStacks)
        stacks = tuple(self.stacks)
        declared = {stack.stackName for stack in stacks}
        stacks += tuple(
            StackDeclaration(name, nss.namespace)
            for name, nss in nssStacks.items()
            if name not in declared
        )
        object.__setattr__(self, "nssStacks", nssStacks)
        object.__setattr__(self, "stacks", stacks)

    def stack_names(self) -> list[str]:
        """Every stack, NSS client or not, in file order."""
        return [stack.stackName for stack in self.stacks]

    def stack(self, stackName: str) -> StackDeclaration:
        """
        The declaration of a stack, NSS client or not.

        @raise KeyError: iked does not serve C{stackName}.
        """
        for stack in self.stacks:
            if stack.stackName == stackName:
                return stack
        raise KeyError(stackName)

    def policy_file(self, stackName: str) -> str | None:
        """
        The stack's C{PolicyFile}, coded in its C{NssStackConfig} or its
        C{TcpipStack}; L{None} if it has none.

        @raise KeyError: iked does not serve C{stackName}.
        """
        return self.stack(stackName).policyFile

    def stack_policy(self, stackName: str) -> StackPolicy | None:
        """
        The stack's policy file as loaded with the configuration, whose
        C{filters} are the stack's policy set; L{None} if it has none.

        @raise KeyError: iked does not serve C{stackName}.
        """
        return self.stack(stackName).policy

    def describe(self) -> list[str]:
        """
        The configuration as iked.conf, for C{nss-modify iked display}: an
        C{IkeConfig} statement, then a statement per stack in file order.
        Pasted into a file, the lines give this configuration back.  Unset
        optional values show as comments; IBM's keywords that iked accepts
        but does not yet use are not shown.
        """
        ike = [
            f"SystemName {format_value(self.systemName)}",
            f"IkeSyslogLevel {self.ikeSyslogLevel}",
            "NoKeyRing"
            if self.keyRing is None
            else f"KeyRing {format_value(_ring_text(self.keyRing))}",
            _optional(
                "NetworkSecurityServer",
                None if self.primary is None else self.primary.describe(),
                quote=False,
            ),
            _optional(
                "NetworkSecurityServerBackup",
                None if self.backup is None else self.backup.describe(),
                quote=False,
            ),
            f"NssWaitLimit {self.nssWaitLimit}",
            f"NssWaitRetries {self.nssWaitRetries}",
            _optional("CaFile", self.caFile),
            f"NmiSocket {format_value(self.nmiSocket)}",
            f"NmiIdleTimeout {self.nmiIdleTimeout}",
            f"SaInstaller {self.saInstaller}",
            _optional("SecurityDatabase", self.securityDatabase, "the usual search"),
            f"RequireRemoteIdentity {'yes' if self.requireRemoteIdentity else 'no'}",
        ]
        lines = _block("IkeConfig", ike)
        for stack in self.stacks:
            nss = self.nssStacks.get(stack.stackName)
            lines += stack.describe() if nss is None else nss.describe(stack.policyFile)
        return lines


def _block(header: str, lines: list[str]) -> list[str]:
    return [header, "{", *(f"  {line}" for line in lines), "}"]


def _ring_text(ring: tuple[str, str]) -> str:
    return f"{ring[0]}/{ring[1]}"


def _optional(
    keyword: str, value: str | None, meaning: str = "not set", quote: bool = True
) -> str:
    if value is None:
        return f"# {keyword} ({meaning})"
    return f"{keyword} {format_value(value) if quote else value}"


def config_path(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """
    The configuration file by the documented search order: C{--config},
    else C{IKED_FILE} (IBM's variable), else L{DEFAULT_CONFIG_PATH}.  An
    empty value counts as unset, as a shell's C{IKED_FILE=} usually means.
    """
    if explicit:
        return explicit
    env = os.environ if environ is None else environ
    return env.get(CONFIG_VARIABLE) or DEFAULT_CONFIG_PATH


def load_iked_configuration(
    path: str, *, hostname: str | None = None
) -> IkedConfiguration:
    """
    Read, parse and check iked.conf, and the secret files it names.

    @param hostname: the host name the default C{SystemName} comes from;
        L{None} for C{socket.gethostname()}.
    @raise ConfigurationError: the file cannot be read or is wrong, or a
        secret file cannot be used; the error names the file, line and
        keyword.
    """
    return _build(read_config(path), path, hostname)


def iked_configuration_from_text(
    text: str, filename: str, *, hostname: str | None = None
) -> IkedConfiguration:
    """
    As L{load_iked_configuration}, from text already read; C{filename} is
    only for errors.  Secret files are still read and checked.
    """
    return _build(parse_config(text, filename), filename, hostname)


# --- secret files -----------------------------------------------------------


def read_stack_secret(stack: NssStackConfig) -> str:
    """
    The stack's secret, read afresh from its file: the password (without
    its trailing newline) or the PassTicket key (16 hex digits).

    Read at each logon rather than kept, so that an operator can change a
    password by rewriting its file, and so that the secret spends as little
    time as possible in a long-lived process's memory.  No error ever shows
    the file's content.

    @raise ConfigurationError: the file is missing, unreadable, not a
        regular file, readable or writable by group or others, too large,
        empty or malformed; the error names the file and its keyword.
    """
    keyword = stack.authBy.fileKeyword
    problem, secret = _read_secret(stack.secretFile, stack.authBy)
    if problem is not None:
        raise ConfigurationError(problem, stack.secretFile, None, keyword)
    return secret


def _read_secret(path: str, authBy: AuthBy) -> tuple[str | None, str]:
    """
    Read a secret file; return (problem, "") or (None, secret).
    """
    try:
        # O_NONBLOCK so that a FIFO cannot hang the daemon; the type check
        # below refuses it anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        return f"cannot open the file: {e.strerror or e}", ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file", ""
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            return (
                f"has mode {mode:04o}: a secret file must not be readable or"
                " writable by group or others (chmod 600)",
                "",
            )
        try:
            data = os.read(fd, MAX_SECRET_FILE_SIZE + 1)
        except OSError as e:
            return f"cannot read the file: {e.strerror or e}", ""
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_FILE_SIZE:
        return f"is larger than {MAX_SECRET_FILE_SIZE} bytes", ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8", ""
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        return "is empty", ""
    if authBy is AuthBy.PASSTICKET:
        if not _PASSTICKET_KEY.fullmatch(text):
            return "must hold the PassTicket key as exactly 16 hex digits", ""
        return None, text
    if has_control_character(text):
        return (
            "holds a control character (only one trailing newline is allowed)",
            "",
        )
    if len(text.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"holds a password longer than {MAX_PASSWORD_BYTES} bytes", ""
    return None, text


# --- checking values ----------------------------------------------------------

_Check = Callable[[Setting, str], Any]


def _statement_error(
    statement: Statement, filename: str, message: str
) -> ConfigurationError:
    return ConfigurationError(message, filename, statement.line, statement.kind)


def _none(setting: Setting, filename: str) -> None:
    if setting.values:
        raise _error(setting, filename, "takes no value")


def _digits(text: str, low: int, high: int) -> int | None:
    # ASCII digits only: int() would also take "+1", " 1", "1_0" and
    # Arabic-Indic digits, none of which an operator means.
    if text.isascii() and text.isdigit() and len(text) <= 10:
        value = int(text)
        if low <= value <= high:
            return value
    return None


def _number(low: int, high: int) -> _Check:
    def check(setting: Setting, filename: str) -> int:
        value = _digits(_single(setting, filename), low, high)
        if value is None:
            raise _error(setting, filename, f"must be a number from {low} to {high}")
        return value

    return check


def _choice(choices: Mapping[str, Any], spelling: str) -> _Check:
    def check(setting: Setting, filename: str) -> Any:
        value = _single(setting, filename).lower()
        if value not in choices:
            raise _error(setting, filename, f"must be {spelling}")
        return choices[value]

    return check


_yes_no = _choice({"yes": True, "no": False}, "yes or no")
_sa_installer = _choice({"record": "record", "xfrm": "xfrm"}, "Record or Xfrm")


def _fips140(setting: Setting, filename: str) -> None:
    # Accepting "yes" and ignoring it would let an operator believe iked
    # restricts itself to FIPS 140 algorithms when it does not.
    if _yes_no(setting, filename):
        raise _error(
            setting,
            filename,
            "yes is not supported: nsstwisted does not restrict itself to"
            " FIPS 140 algorithms",
        )


_SMF119 = {
    value.lower()
    for value in (
        "None",
        "IKEALL",
        "IKETunnel",
        "IKETunnelActDeact",
        "IKETunnelExpire",
        "IKETunnelRefresh",
        "DynTunnel",
        "DynTunnelALL",
        "DynTunnelActDeact",
        "DynTunnelExpire",
        "DynTunnelRefresh",
    )
}


def _smf119(setting: Setting, filename: str) -> None:
    if not setting.values:
        raise _error(setting, filename, "takes at least one record type")
    for value in setting.values:
        if value.lower() not in _SMF119:
            raise _error(
                setting,
                filename,
                f"{value!r} is not a record type: None, IKEALL, IKETunnel or DynTunnel",
            )


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
    name = ring.upper()
    if not 1 <= len(name) <= MAX_RING_NAME_LENGTH or any(
        c.isspace() or not c.isprintable() or c in _RING_FORBIDDEN for c in name
    ):
        raise _error(
            setting,
            filename,
            f"the ring name {ring!r} must be 1 to {MAX_RING_NAME_LENGTH}"
            " printable characters without blanks or / ( ) , '",
        )
    return owner, name


def _no_key_ring(setting: Setting, filename: str) -> None:
    _none(setting, filename)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host_name(text: str) -> bool:
    name = text.removesuffix(".")
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    # An all-digit last label is a mistyped IP address, not a name.
    if labels[-1].isdigit():
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


# RFC 4514, as the NSS client reads it (cryptography's from_rfc4514_string):
# attribute types by short name or dotted OID, no blanks around separators.
_DN_TYPES = {
    "CN": "2.5.4.3",
    "L": "2.5.4.7",
    "ST": "2.5.4.8",
    "O": "2.5.4.10",
    "OU": "2.5.4.11",
    "C": "2.5.4.6",
    "STREET": "2.5.4.9",
    "DC": "0.9.2342.19200300.100.1.25",
    "UID": "0.9.2342.19200300.100.1.1",
}
# Limits in UTF-8 bytes that the client's parser enforces, by OID.
_DN_SIZES = {
    "2.5.4.3": (1, 64),
    "2.5.4.6": (2, 2),
    "1.3.6.1.4.1.311.60.2.1.3": (2, 2),
}
_DN_TYPE = re.compile(r"(0|[1-9]\d*)(\.(0|[1-9]\d*))+|[A-Za-z][A-Za-z0-9-]*")
_DN_SPECIAL = r"[\\ #=\"+,;<>]"
_DN_PAIR = rf"\\(?:{_DN_SPECIAL}|[0-9A-Fa-f]{{2}})"
_DN_LEAD = r"[\x01-\x1f\x21\x24-\x2a\x2d-\x3a\x3d\x3f-\x5b\x5d-\x7f\x80-\U0010ffff]"
_DN_CHAR = r"[\x01-\x21\x23-\x2a\x2d-\x3a\x3d\x3f-\x5b\x5d-\x7f\x80-\U0010ffff]"
_DN_TRAIL = r"[\x01-\x1f\x21\x23-\x2a\x2d-\x3a\x3d\x3f-\x5b\x5d-\x7f\x80-\U0010ffff]"
_DN_STRING = re.compile(
    rf"(?:{_DN_LEAD}|{_DN_PAIR})(?:(?:{_DN_CHAR}|{_DN_PAIR})*(?:{_DN_TRAIL}|{_DN_PAIR}))?"
)
_DN_HEX = re.compile(r"#(?:[0-9A-Fa-f]{2})+")
_DN_ESCAPES = re.compile(rf"\\({_DN_SPECIAL})|((?:\\[0-9A-Fa-f]{{2}})+)")


def _dn_value(raw: str) -> str | None:
    """The unescaped value of an attribute, or None if it is not text."""
    try:
        if raw.startswith("#"):
            return bytes.fromhex(raw[1:]).decode("utf-8")
        return _DN_ESCAPES.sub(
            lambda m: (
                m.group(1)
                or bytes.fromhex(m.group(2).replace("\\", "")).decode("utf-8")
            ),
            raw,
        )
    except UnicodeDecodeError:
        return None


def _valid_oid(text: str) -> bool:
    # X.660: the first arc is 0, 1 or 2; under 0 and 1 the second is below 40.
    first, second = (int(arc) for arc in text.split(".")[:2])
    return first == 2 or (first < 2 and second < 40)


def _is_dn(text: str) -> bool:
    if not text or len(text.encode("utf-8")) > MAX_DN_BYTES:
        return False
    index, length = 0, len(text)
    rdn: set[tuple[str, str]] = set()
    while True:
        kind = _DN_TYPE.match(text, index)
        if kind is None:
            return False
        name = kind.group()
        oid = name if name[0].isdigit() else _DN_TYPES.get(name)
        if oid is None or not _valid_oid(oid):
            return False
        index = kind.end()
        if index >= length or text[index] != "=":
            return False
        index += 1
        raw = (_DN_HEX if text.startswith("#", index) else _DN_STRING).match(
            text, index
        )
        if raw is None:
            return False
        value = _dn_value(raw.group())
        low, high = _DN_SIZES.get(oid, (1, MAX_DN_BYTES))
        if value is None or not low <= len(value.encode("utf-8")) <= high:
            return False
        # A multi-valued RDN may not hold the same attribute twice.
        if (oid, value) in rdn:
            return False
        rdn.add((oid, value))
        index = raw.end()
        if index == length:
            return True
        if text[index] == ",":
            rdn = set()
        elif text[index] != "+":
            return False
        index += 1


def _identity_problem(kind: str, value: str) -> str | None:
    if has_control_character(value):
        return "holds a control character"
    if kind == "IpAddr" and not _is_ip(value):
        return f"{value!r} is not an IP address"
    if kind == "Fqdn" and not _is_host_name(value):
        return f"{value!r} is not a host name"
    if kind == "UserAtFqdn":
        user, at, domain = value.rpartition("@")
        if (
            not at
            or not user
            or any(c.isspace() or c == "@" for c in user)
            or not _is_host_name(domain)
        ):
            return f"{value!r} is not user@host.name"
    if kind == "X500dn" and not _is_dn(value):
        return (
            f"{value!r} is not a distinguished name as RFC 4514 writes it,"
            " such as CN=nssd,O=Example: attribute types CN L ST O OU C"
            " STREET DC UID or dotted OIDs, no blank after a comma"
            " (quote a value that holds blanks)"
        )
    return None


_SERVER_SYNTAX = "host [Port port] [Identity IpAddr|Fqdn|UserAtFqdn|X500dn value]"
_IDENTITY_KIND_NAMES = {kind.lower(): kind for kind in IDENTITY_KINDS}


def _server(setting: Setting, filename: str) -> NssServerAddress:
    values = setting.values
    if not values:
        raise _error(setting, filename, f"takes {_SERVER_SYNTAX}")
    host = values[0]
    # "NetworkSecurityServer Port 4159": a host named "port" is possible,
    # but a forgotten host is far likelier.
    keywords = ("port", "identity")
    if host.lower() in keywords and values[1:2] and values[1].lower() not in keywords:
        raise _error(
            setting, filename, f"the host is missing: the value is {_SERVER_SYNTAX}"
        )
    if has_control_character(host) or not (_is_ip(host) or _is_host_name(host)):
        raise _error(
            setting, filename, f"the host {host!r} is not an IP address or host name"
        )
    port: int | None = None
    kind: str | None = None
    identity: str | None = None
    index = 1
    while index < len(values):
        word = values[index].lower()
        if word == "port":
            if port is not None:
                raise _error(setting, filename, "Port is given twice")
            number = values[index + 1] if index + 1 < len(values) else ""
            checked = _digits(number, 1, 65535)
            if checked is None:
                raise _error(setting, filename, "Port must be a number from 1 to 65535")
            port = checked
            index += 2
        elif word == "identity":
            if kind is not None:
                raise _error(setting, filename, "Identity is given twice")
            if index + 2 >= len(values):
                raise _error(
                    setting,
                    filename,
                    "Identity takes a kind (IpAddr, Fqdn, UserAtFqdn or X500dn)"
                    " and a value",
                )
            kind = _IDENTITY_KIND_NAMES.get(values[index + 1].lower())
            if kind is None:
                raise _error(
                    setting,
                    filename,
                    f"the Identity kind {values[index + 1]!r} must be IpAddr, Fqdn,"
                    " UserAtFqdn or X500dn",
                )
            identity = values[index + 2]
            rest = values[index + 3 : index + 4]
            if kind == "X500dn" and rest and rest[0].lower() not in keywords:
                raise _error(
                    setting,
                    filename,
                    f"unexpected {rest[0]!r} after the X500dn value:"
                    " quote an X500dn value that holds blanks",
                )
            problem = _identity_problem(kind, identity)
            if problem is not None:
                raise _error(setting, filename, f"Identity {kind}: {problem}")
            index += 3
        else:
            raise _error(
                setting,
                filename,
                f"unexpected {values[index]!r}: the value is {_SERVER_SYNTAX}",
            )
    return NssServerAddress(
        host, DEFAULT_PORT if port is None else port, kind, identity
    )


def _client_name(setting: Setting, filename: str) -> str:
    name = _single(setting, filename)
    if not CLIENT_NAME_PATTERN.fullmatch(name):
        raise _error(
            setting,
            filename,
            "must be 1 to 24 of A-Z a-z 0-9 _ . @ # $ -"
            " (the characters the NSS protocol takes)",
        )
    return name


def _userid(setting: Setting, filename: str) -> str:
    userid = _single(setting, filename).upper()
    if not _USERID.fullmatch(userid):
        raise _error(
            setting,
            filename,
            "must be a user ID: 1 to 8 of A-Z 0-9 @ # $, not starting with a digit",
        )
    return userid


def _namespace(setting: Setting, filename: str) -> str:
    name = _single(setting, filename)
    if (
        not _NAMESPACE.fullmatch(name)
        or len(name) > MAX_NAMESPACE_LENGTH
        or name in (".", "..")
    ):
        raise _error(
            setting,
            filename,
            "must be a network namespace name as ip netns knows it:"
            f" 1 to {MAX_NAMESPACE_LENGTH} of A-Z a-z 0-9 _ . @ + -,"
            " not starting with a dot",
        )
    return name


def _stack_name(statement: Statement, filename: str) -> str:
    if statement.name is None:
        raise _statement_error(
            statement,
            filename,
            f"needs a stack name: {statement.kind} stackname {{ ... }}",
        )
    name = statement.name.upper()
    if not _STACK_NAME.fullmatch(name):
        raise _statement_error(
            statement,
            filename,
            f"the stack name {statement.name!r} must be 1 to 8 of A-Z 0-9 @ # $,"
            " not starting with a digit",
        )
    return name


# --- statements ---------------------------------------------------------------

# keyword (lower case) -> (field, check); a field of None is checked only.
_IKE_KEYWORDS: dict[str, tuple[str | None, _Check]] = {
    "ikesysloglevel": ("ikeSyslogLevel", _number(*SYSLOG_LEVEL_RANGE)),
    "pagentsysloglevel": (None, _number(*SYSLOG_LEVEL_RANGE)),
    "smf119": (None, _smf119),
    "ikeretries": (None, _number(1, 10)),
    "ikeinitwait": (None, _number(1, 10)),
    "fips140": (None, _fips140),
    "keyring": ("keyRing", _ring),
    "nokeyring": ("keyRing", _no_key_ring),
    "echo": (None, _yes_no),
    "networksecurityserver": ("primary", _server),
    "networksecurityserverbackup": ("backup", _server),
    "nsswaitlimit": ("nssWaitLimit", _number(*NSS_WAIT_LIMIT_RANGE)),
    "nsswaitretries": ("nssWaitRetries", _number(*NSS_WAIT_RETRIES_RANGE)),
    "pagentwait": (None, _number(0, 86400)),
    "supportedcertauth": (None, _label),
    "systemname": ("systemName", _system_name),
    "nmisocket": ("nmiSocket", _path(MAX_SOCKET_PATH_BYTES)),
    "nmiidletimeout": ("nmiIdleTimeout", _number(*NMI_IDLE_TIMEOUT_RANGE)),
    "cafile": ("caFile", _path()),
    "sainstaller": ("saInstaller", _sa_installer),
    "securitydatabase": ("securityDatabase", _path()),
    "requireremoteidentity": ("requireRemoteIdentity", _yes_no),
}


def _ike_config(statement: Statement, filename: str) -> dict[str, Any]:
    if statement.name is not None:
        raise _statement_error(
            statement, filename, f"takes no name, but {statement.name!r} is given"
        )
    values: dict[str, Any] = {}
    for setting in statement.settings:
        entry = _IKE_KEYWORDS.get(setting.keyword.lower())
        if entry is None:
            raise unknown_keyword(setting, filename, "IkeConfig", _IKE_KEYWORDS)
        name, check = entry
        value = check(setting, filename)
        if name is not None:
            values[name] = value
    return values


@dataclass(frozen=True)
class _NssDraft:
    """
    An NssStackConfig statement, checked, before the file's other statements
    supply its defaults (the client name from the system name, the
    namespace perhaps from a TcpipStack).  The settings are kept for errors
    that only the whole file can reveal.
    """

    statement: Statement
    stackName: str
    clientName: str | None
    services: Services
    userid: str
    authBy: AuthBy
    secret: Setting
    namespace: Setting | None
    policyFile: Setting | None = None


def _nss_stack(statement: Statement, filename: str) -> _NssDraft:
    stackName = _stack_name(statement, filename)
    clientName: str | None = None
    services = Services(0)
    userid: str | None = None
    authBy, authBySetting = AuthBy.PASSWORD, None
    namespace: Setting | None = None
    policyFile: Setting | None = None
    files: dict[str, Setting] = {}
    for setting in statement.settings:
        keyword = setting.keyword.lower()
        if keyword == "clientname":
            clientName = _client_name(setting, filename)
        elif keyword == "servicetype":
            services |= _service_type(setting, filename)
        elif keyword == "userid":
            userid = _userid(setting, filename)
        elif keyword == "authby":
            authBy, authBySetting = _auth_by(setting, filename), setting
        elif keyword in ("passwordfile", "passticketkeyfile"):
            _path()(setting, filename)
            files[keyword] = setting
        elif keyword == "namespace":
            _namespace(setting, filename)
            namespace = setting
        elif keyword == "policyfile":
            _path()(setting, filename)
            policyFile = setting
        else:
            raise _error(setting, filename, "unknown keyword of NssStackConfig")
    wanted = authBy.fileKeyword
    for keyword, setting in files.items():
        if keyword != wanted.lower():
            default = "" if authBySetting is not None else " (the default)"
            raise _error(
                setting,
                filename,
                f"AuthBy {authBy.value}{default} needs {wanted}, not {setting.keyword}",
            )
    if userid is None:
        raise _statement_error(
            statement,
            filename,
            f"stack {stackName}: UserID is missing: code the user ID the stack"
            " logs on to the NSS server with",
        )
    if not services:
        raise _statement_error(
            statement,
            filename,
            f"stack {stackName}: ServiceType is missing: code Cert, RemoteMgmt or both",
        )
    secret = files.get(wanted.lower())
    if secret is None:
        raise _statement_error(
            statement,
            filename,
            f"stack {stackName}: {wanted} is missing: AuthBy {authBy.value} needs it",
        )
    return _NssDraft(
        statement,
        stackName,
        clientName,
        services,
        userid,
        authBy,
        secret,
        namespace,
        policyFile,
    )


_service_type = _choice(_SERVICE_TYPES, "Cert or RemoteMgmt")
_auth_by = _choice(
    {method.value.lower(): method for method in AuthBy}, "Password or PassTicket"
)


@dataclass(frozen=True)
class _PlainDraft:
    """A TcpipStack statement, checked, before the file is complete."""

    statement: Statement
    namespace: Setting | None
    policyFile: Setting | None


def _tcpip_stack(statement: Statement, filename: str) -> tuple[str, _PlainDraft]:
    name = _stack_name(statement, filename)
    namespace: Setting | None = None
    policyFile: Setting | None = None
    for setting in statement.settings:
        keyword = setting.keyword.lower()
        if keyword == "namespace":
            _namespace(setting, filename)
            namespace = setting
        elif keyword == "policyfile":
            _path()(setting, filename)
            policyFile = setting
        else:
            raise _error(
                setting,
                filename,
                "unknown keyword of TcpipStack, which takes Namespace only,"
                " besides PolicyFile",
            )
    return name, _PlainDraft(statement, namespace, policyFile)


_STATEMENTS = ("ikeconfig", "nssstackconfig", "tcpipstack")


def _build(
    statements: Iterable[Statement], filename: str, hostname: str | None
) -> IkedConfiguration:
    ike: dict[str, Any] = {}
    order: list[str] = []
    nss: dict[str, _NssDraft] = {}
    plain: dict[str, _PlainDraft] = {}
    for statement in statements:
        kind = statement.kind.lower()
        if kind not in _STATEMENTS:
            raise _statement_error(
                statement,
                filename,
                "is not a statement of iked.conf, which holds IkeConfig,"
                " NssStackConfig and TcpipStack",
            )
        if kind == "ikeconfig":
            # IBM: the last IkeConfig statement is used, not a merge.
            ike = _ike_config(statement, filename)
            continue
        if kind == "nssstackconfig":
            draft = _nss_stack(statement, filename)
            name = draft.stackName
            nss[name] = draft
        else:
            name, declared = _tcpip_stack(statement, filename)
            plain[name] = declared
        if name not in order:
            if len(order) == MAX_STACKS:
                raise _statement_error(
                    statement,
                    filename,
                    f"stack {name} would be stack {MAX_STACKS + 1}:"
                    f" iked serves at most {MAX_STACKS} stacks"
                    f" ({', '.join(order)})",
                )
            order.append(name)

    if "systemName" not in ike:
        ike["systemName"] = _default_system_name(filename, hostname)
    systemName: str = ike["systemName"]

    stacks: list[StackDeclaration] = []
    nssStacks: dict[str, NssStackConfig] = {}
    clients: dict[str, str] = {}
    for name in order:
        stackDraft, plainDraft = nss.get(name), plain.get(name)
        namespace = _stack_value(
            None if stackDraft is None else stackDraft.namespace,
            None if plainDraft is None else plainDraft.namespace,
            filename,
            "the namespace",
        )
        policySetting = _stack_setting(
            None if stackDraft is None else stackDraft.policyFile,
            None if plainDraft is None else plainDraft.policyFile,
            filename,
            "the policy file",
        )
        policyFile: str | None = None
        policy: StackPolicy | None = None
        if policySetting is not None:
            policyFile = policySetting.values[0]
            policy = _stack_policy(policySetting, filename)
            if ike.get("requireRemoteIdentity"):
                _require_remote_identities(policy, policySetting, filename)
        stacks.append(StackDeclaration(name, namespace, policyFile, policy))
        client = nss.get(name)
        if client is None:
            continue
        _check_servers(client, ike, filename)
        clientName = client.clientName or f"{systemName}_{name}"
        other = clients.get(clientName.upper())
        if other is not None:
            raise _statement_error(
                client.statement,
                filename,
                f"stack {name}: the client name {clientName} is already stack"
                f" {other}'s, and the NSS server tells its clients apart by"
                " name (case-insensitively): code ClientName",
            )
        clients[clientName.upper()] = name
        stack = NssStackConfig(
            stackName=name,
            clientName=clientName,
            services=client.services,
            userid=client.userid,
            authBy=client.authBy,
            secretFile=client.secret.values[0],
            namespace=namespace,
        )
        problem, _ = _read_secret(stack.secretFile, stack.authBy)
        if problem is not None:
            raise _error(client.secret, filename, f"{stack.secretFile}: {problem}")
        nssStacks[name] = stack
    return IkedConfiguration(stacks=tuple(stacks), nssStacks=nssStacks, **ike)


def _default_system_name(filename: str, hostname: str | None) -> str:
    host = socket.gethostname() if hostname is None else hostname
    name = default_system_name(host)
    if not SYSTEM_NAME.fullmatch(name):
        raise ConfigurationError(
            f"not coded, and the host name {host!r} gives no valid system"
            " name (1 to 8 of A-Z 0-9 @ # $): code SystemName in IkeConfig",
            filename,
            None,
            "SystemName",
        )
    return name


def _stack_setting(
    nss: Setting | None, plain: Setting | None, filename: str, what: str
) -> Setting | None:
    """
    A stack's setting that its NssStackConfig or its TcpipStack may code:
    both may, but not differently.  The first one in the file is returned.
    """
    settings = [setting for setting in (nss, plain) if setting is not None]
    if not settings:
        return None
    settings.sort(key=lambda setting: setting.line)
    first, last = settings[0], settings[-1]
    if first.values[0] != last.values[0]:
        raise _error(
            last,
            filename,
            f"{last.values[0]!r} differs from {what} {first.values[0]!r}"
            f" of line {first.line} for the same stack",
        )
    return first


def _stack_value(
    nss: Setting | None, plain: Setting | None, filename: str, what: str
) -> str | None:
    setting = _stack_setting(nss, plain, filename, what)
    return None if setting is None else setting.values[0]


def _stack_policy(setting: Setting, filename: str) -> StackPolicy:
    """
    Load a stack's policy file.  An error inside it names the policy file,
    its line and keyword; a file that cannot be read at all is an error of
    the C{PolicyFile} line of iked.conf, which is where the fix goes.
    """
    path = setting.values[0]
    try:
        return load_stack_policy(path)
    except ConfigurationError as e:
        if e.line is None:
            raise _error(setting, filename, f"{path}: {e.message}") from None
        raise


def _require_remote_identities(
    policy: StackPolicy, setting: Setting, filename: str
) -> None:
    """
    Under C{RequireRemoteIdentity yes}, refuse a policy with a rule that
    would accept any certificate from a trusted CA.
    """
    for peer in policy.peers:
        if peer.remoteIdentity is None:
            raise _error(
                setting,
                filename,
                f"{policy.filename}: KeyExchangeRule {peer.name} names no"
                " Identity on its RemoteSecurityEndpoint, which IkeConfig"
                " RequireRemoteIdentity yes requires: code the peer's Identity",
            )


def _check_servers(draft: _NssDraft, ike: Mapping[str, Any], filename: str) -> None:
    if ike.get("primary") is None and ike.get("backup") is None:
        raise _statement_error(
            draft.statement,
            filename,
            f"stack {draft.stackName} is an NSS client, but IkeConfig names no"
            " NSS server: code NetworkSecurityServer,"
            " NetworkSecurityServerBackup or both",
        )
    if ike.get("caFile") is None:
        raise _statement_error(
            draft.statement,
            filename,
            f"stack {draft.stackName} is an NSS client, but IkeConfig has no"
            " CaFile to check the NSS server's certificate with",
        )
