"""
A stack's IP filter policy file: the subset of the z/OS Policy Agent's IP
security policy syntax that nsstwisted reads, and the filter rules it gives.

The file holds three statements, in any order, names being case-sensitive
as the Policy Agent's are::

    IpFilterRule NssTrafficIPv4
    {
      IpSourceAddr    All4
      IpDestAddr      All4
      IpService
      {
        SourcePortRange 4159
        DestinationPortRange 1024 65535
        Protocol        tcp
        Direction       bidirectional InboundConnect
        Routing         local
      }
      IpGenericFilterActionRef permit-nolog
    }
    IpGenericFilterAction permit-nolog
    {
      IpFilterAction    permit
      IpFilterLogging   no
    }

  - C{IpFilterRule name}: C{IpSourceAddr} and C{IpDestAddr} (an address, an
    C{address/prefix}, C{All}, C{All4} or C{All6}), one or more services
    (C{IpServiceRef name} or an inline C{IpService {...}}), and
    C{IpGenericFilterActionRef name}.  The rules apply in file order.
  - C{IpService name}: C{Protocol} (C{All}, C{TCP}, C{UDP}, C{ICMP} or a
    number 1-255; default All), C{SourcePortRange} and
    C{DestinationPortRange} (C{port} or C{low high}; 0 means every port;
    TCP and UDP only), C{Direction} (C{Inbound}, C{Outbound} or
    C{BiDirectional}, the default, which TCP may follow with
    C{InboundConnect} or C{OutboundConnect}), C{Routing} (C{Local}, the
    default, C{Routed} or C{Either}).
  - C{IpGenericFilterAction name}: C{IpFilterAction} (C{Permit} or
    C{Deny}, required) and C{IpFilterLogging} (C{Yes} or C{No}, the
    default).

A rule gives one filter per service, address family and direction, in that
order, numbered from 1 (IBM's FilterNameExtension).  The addresses and
ports are written for the rule's first direction: outbound for
C{BiDirectional}, whose inbound filter swaps source and destination.

The same file may also define IKE peers and the dynamic VPNs they
negotiate (C{KeyExchangeRule}, C{KeyExchangeAction}, C{KeyExchangeOffer},
C{LocalSecurityEndpoint}, C{RemoteSecurityEndpoint}, C{LocalDynVpnRule},
C{IpDynVpnAction}, C{IpDataOffer}): L{nsstwisted.iked.keyexchange.ikepolicy} checks
those, and L{StackPolicy.peers} holds what they give.  The two halves do
not refer to each other: nsstwisted does not enforce filters, so no
filter rule needs to route traffic to a VPN.

Anything else (other statements, C{IpFilterPolicy}, address ranges and
sets, C{IpSec} actions) is an error, never silently ignored: a filter
policy that means less than it says is worse than none.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from nsstwisted.config import ConfigurationError, Setting, Statement, parse_config
from nsstwisted.config.parser import MAX_CONFIG_SIZE
from nsstwisted.ike.policy import PeerPolicy
from nsstwisted.iked.keyexchange.ikepolicy import IKE_STATEMENTS, peer_policies
from nsstwisted.iked.stackmodel.filters import (
    Address,
    FilterAction,
    FilterDirection,
    FilterLogging,
    FilterRule,
    FilterScope,
    PortRange,
    TcpQualifier,
)

__all__ = [
    "MAX_NAME_LENGTH",
    "IpFilterRule",
    "IpGenericFilterAction",
    "IpService",
    "ServiceDirection",
    "StackPolicy",
    "load_stack_policy",
    "stack_policy_from_text",
]

MAX_NAME_LENGTH = 32
"""IBM's limit on a policy statement's name."""

_TCP, _UDP = 6, 17
_T = TypeVar("_T")


class ServiceDirection(enum.Enum):
    """C{IpService Direction}: which way the traffic flows."""

    INBOUND = "Inbound"
    OUTBOUND = "Outbound"
    BIDIRECTIONAL = "BiDirectional"


@dataclass(frozen=True, kw_only=True)
class IpService:
    """
    An C{IpService} statement, checked.

    @ivar name: its name; L{None} for an unnamed inline one.
    @ivar protocol: the IP protocol number; L{None} for all.
    @ivar sourcePorts: L{None} for every port.
    @ivar destinationPorts: L{None} for every port.
    """

    name: str | None = None
    protocol: int | None = None
    sourcePorts: PortRange | None = None
    destinationPorts: PortRange | None = None
    direction: ServiceDirection = ServiceDirection.BIDIRECTIONAL
    tcpQualifier: TcpQualifier | None = None
    routing: FilterScope = FilterScope.LOCAL


@dataclass(frozen=True, kw_only=True)
class IpGenericFilterAction:
    """An C{IpGenericFilterAction} statement, checked."""

    name: str
    action: FilterAction
    logging: bool = False


@dataclass(frozen=True, kw_only=True)
class IpFilterRule:
    """
    An C{IpFilterRule} statement, checked and with its references resolved.

    @ivar sourceAddresses: one network per address family the rule covers,
        IPv4 first: C{All} gives C{0.0.0.0/0} and C{::/0}.
    @ivar destinationAddresses: likewise.
    @ivar services: in file order.
    """

    name: str
    sourceAddresses: tuple[Address, ...]
    destinationAddresses: tuple[Address, ...]
    services: tuple[IpService, ...]
    action: IpGenericFilterAction

    def filters(self) -> list[FilterRule]:
        """
        The filters this rule gives, numbered from 1: per service, per
        address family (IPv4 first), per direction (outbound first).
        """
        result: list[FilterRule] = []
        logging = FilterLogging.ALL if self.action.logging else FilterLogging.NONE
        for service in self.services:
            for source in self.sourceAddresses:
                for destination in self.destinationAddresses:
                    if source.version != destination.version:
                        continue
                    for direction in _DIRECTIONS[service.direction]:
                        swap = (
                            service.direction is ServiceDirection.BIDIRECTIONAL
                            and direction is FilterDirection.INBOUND
                        )
                        ends = (
                            (destination, service.destinationPorts),
                            (source, service.sourcePorts),
                        )
                        if not swap:
                            ends = ends[::-1]
                        result.append(
                            FilterRule(
                                name=self.name,
                                nameExtension=len(result) + 1,
                                action=self.action.action,
                                direction=direction,
                                scope=service.routing,
                                logging=logging,
                                protocol=service.protocol,
                                tcpQualifier=service.tcpQualifier,
                                sourceAddress=ends[0][0],
                                sourcePorts=ends[0][1],
                                destinationAddress=ends[1][0],
                                destinationPorts=ends[1][1],
                            )
                        )
        return result


_DIRECTIONS = {
    ServiceDirection.INBOUND: (FilterDirection.INBOUND,),
    ServiceDirection.OUTBOUND: (FilterDirection.OUTBOUND,),
    ServiceDirection.BIDIRECTIONAL: (
        FilterDirection.OUTBOUND,
        FilterDirection.INBOUND,
    ),
}


@dataclass(frozen=True)
class StackPolicy:
    """
    A stack's policy file, checked: its rules in file order and the
    filters they give, which L{nsstwisted.iked.stackmodel.filters.StackFilters} takes
    as the stack's policy set, and the IKE peers it defines for the
    engine.

    @ivar filename: the file, as the configuration names it.
    @ivar peers: one per C{KeyExchangeRule}, in file order, each with the
        CHILD_SAs of the C{LocalDynVpnRule}s it negotiates.
    """

    filename: str
    rules: tuple[IpFilterRule, ...]
    filters: tuple[FilterRule, ...]
    peers: tuple[PeerPolicy, ...] = ()


def load_stack_policy(path: str) -> StackPolicy:
    """
    Read and check a policy file (UTF-8, at most
    L{nsstwisted.config.MAX_CONFIG_SIZE} bytes).

    @raise ConfigurationError: the file cannot be read, breaks the syntax or
        says something outside the subset; the error names C{path}, the line
        and the keyword.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_CONFIG_SIZE + 1)
    except OSError as e:
        reason = e.strerror or str(e)
        raise ConfigurationError(f"cannot read the file: {reason}", path) from None
    if len(data) > MAX_CONFIG_SIZE:
        raise ConfigurationError(
            f"the file is larger than {MAX_CONFIG_SIZE} bytes", path
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigurationError("the file is not valid UTF-8", path, line) from None
    return stack_policy_from_text(text, path)


def stack_policy_from_text(text: str, filename: str) -> StackPolicy:
    """
    As L{load_stack_policy}, from text already read; C{filename} is only for
    errors and L{StackPolicy.filename}.
    """
    return _Builder(filename).build(parse_config(text, filename, nesting=1))


# --- checking ----------------------------------------------------------------


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename

    def error(self, setting: Setting, message: str) -> ConfigurationError:
        return ConfigurationError(message, self.filename, setting.line, setting.keyword)

    def statement_error(self, statement: Statement, message: str) -> ConfigurationError:
        return ConfigurationError(
            message, self.filename, statement.line, statement.kind
        )

    def build(self, statements: list[Statement]) -> StackPolicy:
        services: dict[str, IpService] = {}
        actions: dict[str, IpGenericFilterAction] = {}
        rules: list[Statement] = []
        ike: list[Statement] = []
        names: dict[tuple[str, str], int] = {}
        for statement in statements:
            kind = statement.kind.lower()
            if kind not in _STATEMENTS and kind not in IKE_STATEMENTS:
                raise self.statement_error(
                    statement,
                    "is not in nsstwisted's policy subset, which holds"
                    " IpFilterRule, IpService and IpGenericFilterAction for"
                    " filters, and KeyExchangeRule, KeyExchangeAction,"
                    " KeyExchangeOffer, LocalSecurityEndpoint,"
                    " RemoteSecurityEndpoint, LocalDynVpnRule, IpDynVpnAction"
                    " and IpDataOffer for IKE",
                )
            name = self.name(statement)
            earlier = names.get((kind, name))
            if earlier is not None:
                raise self.statement_error(
                    statement,
                    f"{name!r} is already the name of the {statement.kind}"
                    f" of line {earlier}",
                )
            names[(kind, name)] = statement.line
            if kind in IKE_STATEMENTS:
                ike.append(statement)
            elif kind == "ipservice":
                services[name] = self.service(statement, name)
            elif kind == "ipgenericfilteraction":
                actions[name] = self.action(statement, name)
            else:
                rules.append(statement)
        checked = tuple(self.rule(rule, services, actions) for rule in rules)
        filters = tuple(f for rule in checked for f in rule.filters())
        peers = peer_policies(ike, self)
        return StackPolicy(self.filename, checked, filters, peers)

    def name(self, statement: Statement, required: bool = True) -> str:
        name = statement.name
        if name is None:
            if not required:
                return ""
            raise self.statement_error(
                statement, f"needs a name: {statement.kind} name {{ ... }}"
            )
        if (
            not 1 <= len(name) <= MAX_NAME_LENGTH
            or name.startswith("-")
            or "," in name
            or not name.isprintable()
            or any(c.isspace() for c in name)
        ):
            raise self.statement_error(
                statement,
                f"the name {name!r} must be 1 to {MAX_NAME_LENGTH} printable"
                " characters without blanks or commas, not starting with '-'",
            )
        return name

    def no_nested(self, statement: Statement) -> None:
        if statement.statements:
            inner = statement.statements[0]
            raise self.statement_error(
                inner, f"is not a statement that {statement.kind} may hold"
            )

    def single(self, setting: Setting) -> str:
        if len(setting.values) != 1:
            raise self.error(setting, "takes exactly one value")
        return setting.values[0]

    def choice(self, setting: Setting, choices: Mapping[str, _T]) -> _T:
        value = self.single(setting).lower()
        if value not in choices:
            spelled = ", ".join(_SPELLINGS[v] for v in choices)
            raise self.error(setting, f"must be one of {spelled}")
        return choices[value]

    # IpService -------------------------------------------------------------

    def service(self, statement: Statement, name: str | None) -> IpService:
        self.no_nested(statement)
        protocol: int | None = None
        sourcePorts: PortRange | None = None
        destinationPorts: PortRange | None = None
        direction = ServiceDirection.BIDIRECTIONAL
        qualifier: TcpQualifier | None = None
        routing = FilterScope.LOCAL
        portSetting: Setting | None = None
        directionSetting: Setting | None = None
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "protocol":
                protocol = self.protocol(setting)
            elif keyword == "sourceportrange":
                sourcePorts = self.ports(setting)
                portSetting = setting
            elif keyword == "destinationportrange":
                destinationPorts = self.ports(setting)
                portSetting = setting
            elif keyword == "direction":
                direction, qualifier = self.direction(setting)
                directionSetting = setting
            elif keyword == "routing":
                routing = self.choice(setting, _ROUTING)
            else:
                raise self.error(
                    setting,
                    "unknown keyword of IpService, which takes Protocol,"
                    " SourcePortRange, DestinationPortRange, Direction and Routing",
                )
        ports = sourcePorts is not None or destinationPorts is not None
        if ports and protocol not in (_TCP, _UDP):
            assert portSetting is not None
            raise self.error(
                portSetting,
                "a port range needs Protocol TCP or UDP (0 means every port)",
            )
        if qualifier is not None and protocol != _TCP:
            assert directionSetting is not None
            raise self.error(directionSetting, f"{qualifier.value} needs Protocol TCP")
        return IpService(
            name=name,
            protocol=protocol,
            sourcePorts=sourcePorts,
            destinationPorts=destinationPorts,
            direction=direction,
            tcpQualifier=qualifier,
            routing=routing,
        )

    def protocol(self, setting: Setting) -> int | None:
        value = self.single(setting)
        lowered = value.lower()
        if lowered in _PROTOCOLS:
            return _PROTOCOLS[lowered]
        if value.isascii() and value.isdigit() and len(value) <= 3:
            number = int(value)
            if 1 <= number <= 255:
                return number
        # 0 (IPv6 hop-by-hop options) is refused: the NMI filter record
        # writes "all protocols" as 0, so it could not be told from All.
        raise self.error(
            setting, "must be All, TCP, UDP, ICMP or a number from 1 to 255"
        )

    def ports(self, setting: Setting) -> PortRange | None:
        values = setting.values
        if not 1 <= len(values) <= 2 or not all(
            value.isascii() and value.isdigit() and len(value) <= 5 for value in values
        ):
            raise self.error(setting, "takes a port, or a low and a high port")
        low, high = int(values[0]), int(values[-1])
        if not low <= high <= 65535:
            raise self.error(setting, "ports are 0 to 65535, the low one first")
        if high == 0 or (low == 0 and high == 65535):
            return None
        return PortRange(low, high)

    def direction(
        self, setting: Setting
    ) -> tuple[ServiceDirection, TcpQualifier | None]:
        values = setting.values
        if not 1 <= len(values) <= 2:
            raise self.error(
                setting,
                "takes Inbound, Outbound or BiDirectional, the last optionally"
                " followed by InboundConnect or OutboundConnect",
            )
        direction = _DIRECTION_NAMES.get(values[0].lower())
        if direction is None:
            raise self.error(setting, "must be Inbound, Outbound or BiDirectional")
        qualifier: TcpQualifier | None = None
        if len(values) == 2:
            qualifier = _QUALIFIER_NAMES.get(values[1].lower())
            if qualifier is None or direction is not ServiceDirection.BIDIRECTIONAL:
                raise self.error(
                    setting,
                    "only BiDirectional may be followed, and only by"
                    " InboundConnect or OutboundConnect",
                )
        return direction, qualifier

    # IpGenericFilterAction -------------------------------------------------

    def action(self, statement: Statement, name: str) -> IpGenericFilterAction:
        self.no_nested(statement)
        action: FilterAction | None = None
        logging = False
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "ipfilteraction":
                value = self.single(setting).lower()
                if value == "ipsec":
                    raise self.error(
                        setting,
                        "IpSec is not supported: nsstwisted's policy subset has"
                        " Permit and Deny only",
                    )
                action = self.choice(setting, _ACTIONS)
            elif keyword == "ipfilterlogging":
                logging = self.choice(setting, _YES_NO)
            else:
                raise self.error(
                    setting,
                    "unknown keyword of IpGenericFilterAction, which takes"
                    " IpFilterAction and IpFilterLogging",
                )
        if action is None:
            raise self.statement_error(
                statement, f"{name}: IpFilterAction is missing: code Permit or Deny"
            )
        return IpGenericFilterAction(name=name, action=action, logging=logging)

    # IpFilterRule ----------------------------------------------------------

    def rule(
        self,
        statement: Statement,
        services: Mapping[str, IpService],
        actions: Mapping[str, IpGenericFilterAction],
    ) -> IpFilterRule:
        name = self.name(statement)
        source: tuple[Address, ...] | None = None
        destination: tuple[Address, ...] | None = None
        action: IpGenericFilterAction | None = None
        # Services keep file order, inline and referenced alike.
        found: list[tuple[int, IpService]] = []
        for inner in statement.statements:
            if inner.kind.lower() != "ipservice":
                raise self.statement_error(
                    inner,
                    "is not a statement that IpFilterRule may hold: only"
                    " IpService may be coded inline",
                )
            found.append((inner.line, self.service(inner, self.inline_name(inner))))
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "ipsourceaddr":
                source = self.addresses(setting)
            elif keyword == "ipdestaddr":
                destination = self.addresses(setting)
            elif keyword == "ipserviceref":
                reference = self.single(setting)
                service = services.get(reference)
                if service is None:
                    raise self.error(setting, f"no IpService is named {reference!r}")
                found.append((setting.line, service))
            elif keyword == "ipgenericfilteractionref":
                reference = self.single(setting)
                action = actions.get(reference)
                if action is None:
                    raise self.error(
                        setting, f"no IpGenericFilterAction is named {reference!r}"
                    )
            else:
                raise self.error(
                    setting,
                    "unknown keyword of IpFilterRule, which takes IpSourceAddr,"
                    " IpDestAddr, IpServiceRef, IpService and"
                    " IpGenericFilterActionRef",
                )
        missing = [
            keyword
            for keyword, value in (
                ("IpSourceAddr", source),
                ("IpDestAddr", destination),
                ("IpServiceRef or IpService", found or None),
                ("IpGenericFilterActionRef", action),
            )
            if value is None
        ]
        if missing:
            raise self.statement_error(
                statement, f"{name}: {' and '.join(missing)} missing"
            )
        assert source is not None and destination is not None and action is not None
        if not {a.version for a in source} & {a.version for a in destination}:
            raise self.statement_error(
                statement,
                f"{name}: IpSourceAddr and IpDestAddr are of different address"
                " families, so the rule matches nothing",
            )
        found.sort(key=lambda item: item[0])
        return IpFilterRule(
            name=name,
            sourceAddresses=source,
            destinationAddresses=destination,
            services=tuple(service for _, service in found),
            action=action,
        )

    def inline_name(self, statement: Statement) -> str | None:
        return self.name(statement, required=False) or None

    def addresses(self, setting: Setting) -> tuple[Address, ...]:
        value = self.single(setting)
        every = _EVERY.get(value.lower())
        if every is not None:
            return every
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise self.error(
                setting,
                f"{value!r} must be an IP address, an address/prefix with no"
                " host bits set, All, All4 or All6",
            ) from None
        return (network,)


_STATEMENTS = ("ipfilterrule", "ipservice", "ipgenericfilteraction")
_PROTOCOLS: dict[str, int | None] = {"all": None, "tcp": _TCP, "udp": _UDP, "icmp": 1}
_DIRECTION_NAMES = {d.value.lower(): d for d in ServiceDirection}
_QUALIFIER_NAMES = {q.value.lower(): q for q in TcpQualifier}
_ROUTING = {scope.value.lower(): scope for scope in FilterScope}
_ACTIONS = {"permit": FilterAction.PERMIT, "deny": FilterAction.DENY}
_YES_NO = {"yes": True, "no": False}
_SPELLINGS = {
    "local": "Local",
    "routed": "Routed",
    "either": "Either",
    "permit": "Permit",
    "deny": "Deny",
    "yes": "Yes",
    "no": "No",
}
_ALL4: tuple[Address, ...] = (ipaddress.IPv4Network("0.0.0.0/0"),)
_ALL6: tuple[Address, ...] = (ipaddress.IPv6Network("::/0"),)
_EVERY = {
    "all": _ALL4 + _ALL6,
    "all4": _ALL4,
    "all6": _ALL6,
    # The seed's NSS sample writes All4 and All6 so.
    "all14": _ALL4,
    "all16": _ALL6,
}
