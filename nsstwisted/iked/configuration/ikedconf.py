"""
The IKE daemon's configuration file, iked.conf: where it is, what it may say,
and the checked, immutable L{IkedConfiguration} it becomes.

The model is plain data, so that a refresh can compare the old and the new
configuration stack by stack: an L{NssStackConfig} that compares equal keeps
its connection, one that does not is reconnected.  Everything a stack's
connection depends on is therefore in its L{NssStackConfig}, including its
network namespace, and nothing else is.

Every value the model holds passed the checks of its statement family
(L{ikeconfig}, L{nssstack}, L{tcpipstack}), so that a refresh either
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

import os
import socket
from collections.abc import Iterable, Iterator, Mapping
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
    DEFAULT_SOCKET_MODE,
    SYSTEM_NAME,
    MetricsListener,
    default_system_name,
    socket_mode_text,
)
from nsstwisted.config.values import setting_error as _error
from nsstwisted.iked.configuration.ikeconfig import (
    DEFAULT_COOKIE_THRESHOLD,
    DEFAULT_HALF_OPEN_LIMIT,
    DEFAULT_IKE_FRAGMENT_SIZE,
    DEFAULT_IKE_INIT_WAIT,
    DEFAULT_IKE_RETRIES,
    DEFAULT_IKE_SYSLOG_LEVEL,
    DEFAULT_KEY_RING,
    DEFAULT_NMI_IDLE_TIMEOUT,
    DEFAULT_NMI_SOCKET,
    DEFAULT_NSS_WAIT_LIMIT,
    DEFAULT_NSS_WAIT_RETRIES,
    _ike_config,
    _ring_text,
)
from nsstwisted.iked.configuration.nssserver import NssServerAddress
from nsstwisted.iked.configuration.nssstack import NssStackConfig, _nss_stack, _NssDraft
from nsstwisted.iked.configuration.policyfile import StackPolicy, load_stack_policy
from nsstwisted.iked.configuration.secretfiles import _read_secret
from nsstwisted.iked.configuration.tcpipstack import (
    StackDeclaration,
    _PlainDraft,
    _tcpip_stack,
)
from nsstwisted.iked.configuration.values import _block, _optional, _statement_error

__all__ = [
    "CONFIG_VARIABLE",
    "DEFAULT_CONFIG_PATH",
    "MAX_STACKS",
    "IkedConfiguration",
    "config_path",
    "iked_configuration_from_text",
    "load_iked_configuration",
]

DEFAULT_CONFIG_PATH = "/etc/security/iked.conf"
CONFIG_VARIABLE = "IKED_FILE"

MAX_STACKS = 8
"""How many stacks one iked serves, as IBM's IKED does."""


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
    @ivar nmiSocketGroup: the group (a name, or a number) the local NMI
        socket is given, so that its members may connect; L{None} leaves
        the socket in iked's own group.
    @ivar nmiSocketMode: that socket's permission bits; never any for
        others.
    @ivar ikeSyslogLevel: IBM's IkeSyslogLevel bit mask.
    @ivar ikeRetries: how often the IKE engine sends an unanswered request
        again before it gives the peer up (dead peer detection ends
        there).
    @ivar ikeInitWait: seconds before its first retransmission.
    @ivar requireRemoteIdentity: every KeyExchangeRule must name the peer's
        Identity (on its RemoteSecurityEndpoint); without one, a rule
        accepts any certificate a trusted CA issued.
    @ivar ikeFragmentSize: the largest IP datagram an encrypted IKE
        message may take before it goes out in RFC 7383 fragments; 0 for
        no IKE fragmentation at all.
    @ivar metrics: where iked serves its Prometheus metrics over HTTP, or
        L{None} (the default) for nowhere.
    @ivar cookieThreshold: half-open IKE SAs from which every stack asks
        new initiators for a COOKIE (0: always).
    @ivar halfOpenLimit: half-open IKE SAs at which a stack drops new
        IKE_SA_INIT requests; above C{cookieThreshold}.
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
    nmiSocketGroup: str | None = None
    nmiSocketMode: int = DEFAULT_SOCKET_MODE
    ikeSyslogLevel: int = DEFAULT_IKE_SYSLOG_LEVEL
    ikeRetries: int = DEFAULT_IKE_RETRIES
    ikeInitWait: int = DEFAULT_IKE_INIT_WAIT
    saInstaller: str = "record"
    securityDatabase: str | None = None
    stashFile: str | None = None
    requireRemoteIdentity: bool = False
    ikeFragmentSize: int = DEFAULT_IKE_FRAGMENT_SIZE
    metrics: MetricsListener | None = None
    cookieThreshold: int = DEFAULT_COOKIE_THRESHOLD
    halfOpenLimit: int = DEFAULT_HALF_OPEN_LIMIT
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
            f"IkeRetries {self.ikeRetries}",
            f"IkeInitWait {self.ikeInitWait}",
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
            _optional("NmiSocketGroup", self.nmiSocketGroup, "iked's own group"),
            f"NmiSocketMode {socket_mode_text(self.nmiSocketMode)}",
            f"SaInstaller {self.saInstaller}",
            f"IkeFragmentSize {self.ikeFragmentSize or 'Off'}",
            _optional("SecurityDatabase", self.securityDatabase, "the usual search"),
            _optional("StashFile", self.stashFile, "the usual search"),
            f"RequireRemoteIdentity {'yes' if self.requireRemoteIdentity else 'no'}",
            "# MetricsPort (off)" if self.metrics is None else self.metrics.describe(),
            f"CookieThreshold {self.cookieThreshold}",
            f"HalfOpenLimit {self.halfOpenLimit}",
        ]
        lines = _block("IkeConfig", ike)
        for stack in self.stacks:
            nss = self.nssStacks.get(stack.stackName)
            lines += stack.describe() if nss is None else nss.describe(stack.policyFile)
        return lines

    def display_data(self) -> list[dict[str, Any]]:
        """
        The configuration as data, for C{nss-modify iked display --json}:
        the statements and settings of L{describe}, by the same keywords
        and in the same order, typed (numbers, booleans, C{null} for an
        unset optional value, C{NetworkSecurityServer} an object).
        C{NoKeyRing} is C{KeyRing} C{null}.
        """
        ike: dict[str, Any] = {
            "SystemName": self.systemName,
            "IkeSyslogLevel": self.ikeSyslogLevel,
            "IkeRetries": self.ikeRetries,
            "IkeInitWait": self.ikeInitWait,
            "KeyRing": None if self.keyRing is None else _ring_text(self.keyRing),
            "NetworkSecurityServer": None
            if self.primary is None
            else self.primary.display_data(),
            "NetworkSecurityServerBackup": None
            if self.backup is None
            else self.backup.display_data(),
            "NssWaitLimit": self.nssWaitLimit,
            "NssWaitRetries": self.nssWaitRetries,
            "CaFile": self.caFile,
            "NmiSocket": self.nmiSocket,
            "NmiIdleTimeout": self.nmiIdleTimeout,
            "NmiSocketGroup": self.nmiSocketGroup,
            "NmiSocketMode": socket_mode_text(self.nmiSocketMode),
            "SaInstaller": self.saInstaller,
            "IkeFragmentSize": self.ikeFragmentSize,
            "SecurityDatabase": self.securityDatabase,
            "StashFile": self.stashFile,
            "RequireRemoteIdentity": self.requireRemoteIdentity,
            "MetricsPort": None
            if self.metrics is None
            else self.metrics.display_data(),
            "CookieThreshold": self.cookieThreshold,
            "HalfOpenLimit": self.halfOpenLimit,
        }
        statements: list[dict[str, Any]] = [
            {"Statement": "IkeConfig", "Name": None, "Settings": ike}
        ]
        for stack in self.stacks:
            nss = self.nssStacks.get(stack.stackName)
            statements.append(
                stack.display_data()
                if nss is None
                else nss.display_data(stack.policyFile)
            )
        return statements


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
