"""
A stack's IP filter rules, as C{ipsec -f display} reports them, and the
switch between its two filter sets.

A stack has two sets of rules:

  - the I{default} rules, which on z/OS come from the TCP/IP profile's
    C{IPSEC} statement and, when it codes none, are IBM's
    C{SYSDEFAULTDENYRULE}: deny everything, in and out, IPv4 and IPv6
    (L{DEFAULT_FILTER_RULES});
  - the I{policy} rules, which on z/OS come from the Policy Agent and here
    from the stack's C{PolicyFile} (L{nsstwisted.iked.configuration.policyfile}).

One of them is I{current}.  C{ipsec -f default} makes it the default set,
C{ipsec -f reload} the policy set; see L{StackFilters.switch}.

nsstwisted installs no kernel filters: these rules are what the stack
reports and what the operator switches, so IBM's deny-all default costs a
test box nothing.

This module is sans-IO and knows nothing of the NMI: the record codec turns
a L{FilterRule} into bytes, the report turns L{FilterRule.report_fields}
into lines.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_FILTER_RULES",
    "DEFAULT_RULE_NAME",
    "Address",
    "FilterAction",
    "FilterDirection",
    "FilterLogging",
    "FilterRule",
    "FilterScope",
    "FilterSet",
    "FilterState",
    "FilterSwitchOutcome",
    "FilterType",
    "PortRange",
    "StackFilters",
    "TcpQualifier",
    "protocol_text",
]

Address = ipaddress.IPv4Network | ipaddress.IPv6Network
"""
A filter's address: a network, a single host being a network of full
prefix length; C{0.0.0.0/0} or C{::/0} for every address of its family.
"""

DEFAULT_RULE_NAME = "SYSDEFAULTDENYRULE"
"""IBM's name for the default rules when the TCP/IP profile codes none."""

NOT_APPLICABLE = "n/a"


class FilterSet(enum.IntEnum):
    """
    Which set of rules is current; the values are IBM's NMsecStack
    FilterSet bit (NMsec_FLT_DEFAULT, NMsec_FLT_POLICY).
    """

    DEFAULT = 0
    POLICY = 1


class FilterSwitchOutcome(enum.IntEnum):
    """
    What a switch of the filter set did; the values are IBM's NMsecTunnel
    status values (NMsec_TUNSTATUS_*), which a control reply carries.
    """

    NOT_FOUND = 1
    """There is no such set: a switch to the policy set of a stack without a
    policy file."""
    STATE_UPDATED = 2
    """The set is now current."""
    STATE_ALREADY_SET = 3
    """The set was already current; nothing changed."""


class FilterType(enum.Enum):
    """The filter's Type in the report; policy and default rules are Generic."""

    GENERIC = "Generic"


class FilterState(enum.Enum):
    """The filter's State in the report."""

    ACTIVE = "Active"


class FilterAction(enum.Enum):
    """What the filter does with matching traffic."""

    PERMIT = "Permit"
    DENY = "Deny"


class FilterDirection(enum.Enum):
    """The traffic a filter applies to; every filter has exactly one."""

    INBOUND = "Inbound"
    OUTBOUND = "Outbound"


class FilterScope(enum.Enum):
    """
    The report's Scope, from C{IpService Routing}: traffic for this host,
    traffic it routes, or both.
    """

    LOCAL = "Local"
    ROUTED = "Routed"
    EITHER = "Either"


class FilterLogging(enum.Enum):
    """
    The report's Logging.  C{IpFilterLogging Yes} gives C{All} (matching
    traffic is logged whatever the action), C{No} gives C{None}.
    """

    ALL = "All"
    NONE = "None"


class TcpQualifier(enum.Enum):
    """
    Which side may open a TCP connection, from C{Direction Bidirectional
    InboundConnect|OutboundConnect}: the report's TCPQualifier.
    """

    INBOUND_CONNECT = "InboundConnect"
    OUTBOUND_CONNECT = "OutboundConnect"


_PROTOCOL_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP"}


def protocol_text(protocol: int | None) -> str:
    """
    A protocol as the report shows it: C{All}, C{TCP(6)}, C{UDP(17)},
    C{ICMP(1)}, or the bare number.
    """
    if protocol is None:
        return "All"
    name = _PROTOCOL_NAMES.get(protocol)
    return str(protocol) if name is None else f"{name}({protocol})"


@dataclass(frozen=True)
class PortRange:
    """
    Ports C{low} to C{high}, both included; a single port has C{low ==
    high}.  A filter without a port range matches every port.
    """

    low: int
    high: int

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= 65535:
            raise ValueError(f"{self.low}-{self.high} is not a port range")


@dataclass(frozen=True, kw_only=True)
class FilterRule:
    """
    One filter, as a stack installs it and C{ipsec -f display} reports it:
    one direction, one address family.  A policy C{IpFilterRule} gives one
    per service, address family and direction, numbered by C{nameExtension}.

    @ivar name: the FilterName: the C{IpFilterRule}'s name, or
        L{DEFAULT_RULE_NAME}.
    @ivar nameExtension: the FilterNameExtension, from 1, counting the
        filters one rule gives.
    @ivar sourcePorts: L{None} for every port.
    @ivar destinationPorts: L{None} for every port.
    @ivar protocol: the IP protocol number; L{None} for all.
    @ivar tcpQualifier: L{None} unless the service says who connects.
    """

    name: str
    nameExtension: int = 1
    type: FilterType = FilterType.GENERIC
    state: FilterState = FilterState.ACTIVE
    action: FilterAction
    direction: FilterDirection
    scope: FilterScope = FilterScope.LOCAL
    logging: FilterLogging = FilterLogging.NONE
    protocol: int | None = None
    tcpQualifier: TcpQualifier | None = None
    sourceAddress: Address
    sourcePorts: PortRange | None = None
    destinationAddress: Address
    destinationPorts: PortRange | None = None

    @property
    def ipv6(self) -> bool:
        """Whether this is an IPv6 filter."""
        return self.sourceAddress.version == 6

    def report_fields(self) -> list[tuple[str, str]]:
        """
        The filter's C{Name: value} pairs for C{ipsec -f display}, in IBM's
        order, with C{n/a} for what nsstwisted does not have (groups, VPN
        actions, defensive filters).  An address of full prefix length shows
        its prefix as C{n/a}, as IBM shows a single address; a port range of
        one port shows its range as C{n/a}; no ports show as C{0} and C{n/a}.
        """
        return [
            ("FilterName", self.name),
            ("FilterNameExtension", str(self.nameExtension)),
            ("GroupName", NOT_APPLICABLE),
            ("LocalStartActionName", NOT_APPLICABLE),
            ("VpnActionName", NOT_APPLICABLE),
            ("TunnelID", "0x00"),
            ("Type", self.type.value),
            ("DefensiveType", NOT_APPLICABLE),
            ("State", self.state.value),
            ("Action", self.action.value),
            ("Scope", self.scope.value),
            ("Direction", self.direction.value),
            ("OnDemand", NOT_APPLICABLE),
            ("SecurityClass", "0"),
            ("Logging", self.logging.value),
            ("LogLimit", NOT_APPLICABLE),
            ("Protocol", protocol_text(self.protocol)),
            (
                "TCPQualifier",
                NOT_APPLICABLE
                if self.tcpQualifier is None
                else self.tcpQualifier.value,
            ),
            *_address_fields("Source", self.sourceAddress),
            *_port_fields("Source", self.sourcePorts),
            *_address_fields("Dest", self.destinationAddress),
            *_port_fields("Dest", self.destinationPorts),
        ]


def _address_fields(prefix: str, address: Address) -> list[tuple[str, str]]:
    full = address.prefixlen == address.max_prefixlen
    return [
        (f"{prefix}Address", str(address.network_address)),
        (f"{prefix}AddressPrefix", NOT_APPLICABLE if full else str(address.prefixlen)),
    ]


def _port_fields(prefix: str, ports: PortRange | None) -> list[tuple[str, str]]:
    if ports is None:
        return [(f"{prefix}Port", "0"), (f"{prefix}PortRange", NOT_APPLICABLE)]
    high = NOT_APPLICABLE if ports.high == ports.low else str(ports.high)
    return [(f"{prefix}Port", str(ports.low)), (f"{prefix}PortRange", high)]


def _deny_all(version: int, extension: int) -> list[FilterRule]:
    everything: Address = ipaddress.ip_network("::/0" if version == 6 else "0.0.0.0/0")
    return [
        FilterRule(
            name=DEFAULT_RULE_NAME,
            nameExtension=extension + offset,
            action=FilterAction.DENY,
            direction=direction,
            scope=FilterScope.EITHER,
            logging=FilterLogging.ALL,
            sourceAddress=everything,
            destinationAddress=everything,
        )
        for offset, direction in enumerate(
            (FilterDirection.OUTBOUND, FilterDirection.INBOUND)
        )
    ]


DEFAULT_FILTER_RULES: tuple[FilterRule, ...] = (*_deny_all(4, 1), *_deny_all(6, 3))
"""
IBM's default when the TCP/IP profile codes no filter rules: SYSDEFAULTDENYRULE,
denying all traffic out and in, for IPv4 and (IP security for IPv6 being
enabled on every Linux stack) IPv6; Scope Either, since it covers routed
traffic too, and Logging All.  nsstwisted has no TCP/IP profile, so these are
every stack's default rules.
"""


class StackFilters:
    """
    One stack's filter rules: the default set, the policy set (if the stack
    has a policy file), and which of them is current.

    A stack with a policy starts on it, as a z/OS stack that initializes
    with the Policy Agent does; one without starts on the default set.
    """

    def __init__(
        self,
        policy: Iterable[FilterRule] | None = None,
        default: Iterable[FilterRule] = DEFAULT_FILTER_RULES,
    ) -> None:
        """
        @param policy: the policy rules, in order; L{None} when the stack has
            no policy file (an empty policy is a policy that has no rules).
        @param default: the default rules, in order.
        """
        self._default = tuple(default)
        self._policy = None if policy is None else tuple(policy)
        self._current = FilterSet.DEFAULT if policy is None else FilterSet.POLICY

    @property
    def currentSet(self) -> FilterSet:
        """Which set is current."""
        return self._current

    @property
    def hasPolicy(self) -> bool:
        """Whether the stack has policy rules to switch to."""
        return self._policy is not None

    def current(self) -> tuple[FilterRule, ...]:
        """The current rules: NMsec_GET_IPFLTCURR, C{ipsec -f display}."""
        return self._default if self._current is FilterSet.DEFAULT else self.policy()

    def default(self) -> tuple[FilterRule, ...]:
        """The default rules: NMsec_GET_IPFLTDEFAULT, C{-c profile}."""
        return self._default

    def policy(self) -> tuple[FilterRule, ...]:
        """
        The policy rules: NMsec_GET_IPFLTPOLICY, C{-c policy}; none for a
        stack without a policy file.
        """
        return () if self._policy is None else self._policy

    def switch(self, to: FilterSet) -> FilterSwitchOutcome:
        """
        Make C{to} the current set: C{ipsec -f default} (L{FilterSet.DEFAULT})
        or C{ipsec -f reload} (L{FilterSet.POLICY}).

        @return: L{FilterSwitchOutcome.STATE_UPDATED} when the current set
            changed, L{FilterSwitchOutcome.STATE_ALREADY_SET} when C{to} was
            current already, L{FilterSwitchOutcome.NOT_FOUND} for the policy
            set of a stack that has no policy file (the default set stays
            current).
        """
        if to is FilterSet.POLICY and self._policy is None:
            return FilterSwitchOutcome.NOT_FOUND
        if to is self._current:
            return FilterSwitchOutcome.STATE_ALREADY_SET
        self._current = to
        return FilterSwitchOutcome.STATE_UPDATED

    def replace_policy(self, policy: Sequence[FilterRule] | None) -> None:
        """
        Install the policy rules of a refreshed configuration.

        A stack that had no policy and gets one switches to it, as a stack
        does when the Policy Agent first gives it policy.  A stack that had
        one keeps its current set: an operator's C{ipsec -f default} stays in
        force across a refresh until C{ipsec -f reload}.  A stack that loses
        its policy file goes back to the default set.
        """
        if policy is None:
            self._policy = None
            self._current = FilterSet.DEFAULT
            return
        if self._policy is None:
            self._current = FilterSet.POLICY
        self._policy = tuple(policy)
