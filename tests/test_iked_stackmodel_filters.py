"""
Tests for L{nsstwisted.iked.stackmodel.filters}: IBM's default rules, the filter set
switch and its outcomes, refreshes, and the report fields.
"""

from __future__ import annotations

import ipaddress

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.iked.stackmodel.filters import (
    DEFAULT_FILTER_RULES,
    DEFAULT_RULE_NAME,
    FilterAction,
    FilterDirection,
    FilterLogging,
    FilterRule,
    FilterScope,
    FilterSet,
    FilterSwitchOutcome,
    PortRange,
    StackFilters,
    TcpQualifier,
    protocol_text,
)

V4 = ipaddress.ip_network("0.0.0.0/0")


def rule(name: str = "R", **changes: object) -> FilterRule:
    values: dict[str, object] = {
        "name": name,
        "action": FilterAction.PERMIT,
        "direction": FilterDirection.OUTBOUND,
        "sourceAddress": V4,
        "destinationAddress": V4,
    }
    values.update(changes)
    return FilterRule(**values)  # type: ignore[arg-type]


POLICY = (rule("A"), rule("B", direction=FilterDirection.INBOUND))


class ValueTests(SynchronousTestCase):
    """
    The enumerations carry IBM's numbers, which the NMI records carry.
    """

    def test_filter_set(self) -> None:
        """NMsecStack's FilterSet bit: NMsec_FLT_DEFAULT 0, NMsec_FLT_POLICY 1."""
        self.assertEqual((FilterSet.DEFAULT, FilterSet.POLICY), (0, 1))

    def test_outcomes(self) -> None:
        """NMsecTunnel's status: NOTFOUND 1, STATEUPDATED 2, STATEALREADYSET 3."""
        self.assertEqual(
            (
                FilterSwitchOutcome.NOT_FOUND,
                FilterSwitchOutcome.STATE_UPDATED,
                FilterSwitchOutcome.STATE_ALREADY_SET,
            ),
            (1, 2, 3),
        )

    def test_protocol_text(self) -> None:
        self.assertEqual(
            [protocol_text(p) for p in (None, 1, 6, 17, 89)],
            ["All", "ICMP(1)", "TCP(6)", "UDP(17)", "89"],
        )

    def test_port_range(self) -> None:
        self.assertEqual(PortRange(0, 65535), PortRange(0, 65535))
        for low, high in ((2, 1), (-1, 5), (1, 65536)):
            self.assertRaises(ValueError, PortRange, low, high)


class DefaultRuleTests(SynchronousTestCase):
    """
    IBM's default when nothing is configured: SYSDEFAULTDENYRULE denies all
    traffic, out and in, IPv4 and IPv6.
    """

    def test_rules(self) -> None:
        self.assertEqual(
            [
                (r.name, r.nameExtension, r.direction, str(r.sourceAddress))
                for r in DEFAULT_FILTER_RULES
            ],
            [
                (DEFAULT_RULE_NAME, 1, FilterDirection.OUTBOUND, "0.0.0.0/0"),
                (DEFAULT_RULE_NAME, 2, FilterDirection.INBOUND, "0.0.0.0/0"),
                (DEFAULT_RULE_NAME, 3, FilterDirection.OUTBOUND, "::/0"),
                (DEFAULT_RULE_NAME, 4, FilterDirection.INBOUND, "::/0"),
            ],
        )
        self.assertEqual(DEFAULT_RULE_NAME, "SYSDEFAULTDENYRULE")
        for r in DEFAULT_FILTER_RULES:
            self.assertEqual(r.action, FilterAction.DENY)
            self.assertEqual(r.protocol, None)
            self.assertEqual(r.scope, FilterScope.EITHER)
            self.assertEqual(r.sourceAddress, r.destinationAddress)
            self.assertEqual((r.sourcePorts, r.destinationPorts), (None, None))
        self.assertEqual([r.ipv6 for r in DEFAULT_FILTER_RULES], [0, 0, 1, 1])

    def test_report(self) -> None:
        """
        The fields of C{ipsec -f display}, in IBM's order and spelling.
        """
        self.assertEqual(
            DEFAULT_FILTER_RULES[1].report_fields(),
            [
                ("FilterName", "SYSDEFAULTDENYRULE"),
                ("FilterNameExtension", "2"),
                ("GroupName", "n/a"),
                ("LocalStartActionName", "n/a"),
                ("VpnActionName", "n/a"),
                ("TunnelID", "0x00"),
                ("Type", "Generic"),
                ("DefensiveType", "n/a"),
                ("State", "Active"),
                ("Action", "Deny"),
                ("Scope", "Either"),
                ("Direction", "Inbound"),
                ("OnDemand", "n/a"),
                ("SecurityClass", "0"),
                ("Logging", "All"),
                ("LogLimit", "n/a"),
                ("Protocol", "All"),
                ("TCPQualifier", "n/a"),
                ("SourceAddress", "0.0.0.0"),  # noqa: S104 (not a bind)
                ("SourceAddressPrefix", "0"),
                ("SourcePort", "0"),
                ("SourcePortRange", "n/a"),
                ("DestAddress", "0.0.0.0"),  # noqa: S104 (not a bind)
                ("DestAddressPrefix", "0"),
                ("DestPort", "0"),
                ("DestPortRange", "n/a"),
            ],
        )

    def test_report_hosts_and_ports(self) -> None:
        """
        A single address shows no prefix, a single port no range.
        """
        fields = dict(
            rule(
                protocol=6,
                tcpQualifier=TcpQualifier.INBOUND_CONNECT,
                logging=FilterLogging.NONE,
                sourceAddress=ipaddress.ip_network("2001:db8::1"),
                sourcePorts=PortRange(4159, 4159),
                destinationAddress=ipaddress.ip_network("2001:db8::/32"),
                destinationPorts=PortRange(1024, 65535),
            ).report_fields()
        )
        self.assertEqual(fields["Protocol"], "TCP(6)")
        self.assertEqual(fields["TCPQualifier"], "InboundConnect")
        self.assertEqual(fields["Logging"], "None")
        self.assertEqual(
            [
                fields[name]
                for name in (
                    "SourceAddress",
                    "SourceAddressPrefix",
                    "SourcePort",
                    "SourcePortRange",
                    "DestAddress",
                    "DestAddressPrefix",
                    "DestPort",
                    "DestPortRange",
                )
            ],
            ["2001:db8::1", "n/a", "4159", "n/a", "2001:db8::", "32", "1024", "65535"],
        )


class SwitchTests(SynchronousTestCase):
    """
    L{StackFilters.switch} moves between the default and policy sets, and
    says what it did as IBM's control reply does.
    """

    def test_no_policy(self) -> None:
        """
        A stack without a policy file starts on the default rules, and has
        no policy set to switch to.
        """
        filters = StackFilters()
        self.assertIs(filters.currentSet, FilterSet.DEFAULT)
        self.assertFalse(filters.hasPolicy)
        self.assertEqual(filters.current(), DEFAULT_FILTER_RULES)
        self.assertEqual(filters.default(), DEFAULT_FILTER_RULES)
        self.assertEqual(filters.policy(), ())
        self.assertIs(
            filters.switch(FilterSet.DEFAULT), FilterSwitchOutcome.STATE_ALREADY_SET
        )
        self.assertIs(filters.switch(FilterSet.POLICY), FilterSwitchOutcome.NOT_FOUND)
        self.assertIs(filters.currentSet, FilterSet.DEFAULT)

    def test_policy(self) -> None:
        """
        A stack with a policy file starts on it; C{-f default} and C{-f
        reload} switch, and a second switch to the same set changes nothing.
        """
        filters = StackFilters(list(POLICY))
        self.assertIs(filters.currentSet, FilterSet.POLICY)
        self.assertEqual(filters.current(), POLICY)
        self.assertEqual(filters.policy(), POLICY)
        self.assertIs(
            filters.switch(FilterSet.POLICY), FilterSwitchOutcome.STATE_ALREADY_SET
        )
        self.assertIs(
            filters.switch(FilterSet.DEFAULT), FilterSwitchOutcome.STATE_UPDATED
        )
        self.assertEqual(filters.current(), DEFAULT_FILTER_RULES)
        self.assertIs(
            filters.switch(FilterSet.DEFAULT), FilterSwitchOutcome.STATE_ALREADY_SET
        )
        self.assertEqual(filters.policy(), POLICY)
        self.assertIs(
            filters.switch(FilterSet.POLICY), FilterSwitchOutcome.STATE_UPDATED
        )
        self.assertEqual(filters.current(), POLICY)

    def test_empty_policy(self) -> None:
        """
        A policy file without rules is a policy: switching to it is allowed,
        and its set is empty.
        """
        filters = StackFilters(())
        self.assertIs(filters.currentSet, FilterSet.POLICY)
        self.assertEqual(filters.current(), ())
        self.assertIs(
            filters.switch(FilterSet.DEFAULT), FilterSwitchOutcome.STATE_UPDATED
        )

    def test_own_default(self) -> None:
        """
        The default rules can be given, as a TCP/IP profile's would be.
        """
        default = (rule("SYSDEFAULTRULE.1"),)
        filters = StackFilters(None, default)
        self.assertEqual(filters.current(), default)


class RefreshTests(SynchronousTestCase):
    """
    L{StackFilters.replace_policy} installs a refreshed configuration's
    policy.
    """

    def test_first_policy(self) -> None:
        """A stack that gets its first policy switches to it."""
        filters = StackFilters()
        filters.replace_policy(POLICY)
        self.assertIs(filters.currentSet, FilterSet.POLICY)
        self.assertEqual(filters.current(), POLICY)

    def test_new_policy_keeps_default(self) -> None:
        """
        An operator's C{-f default} stays in force across a refresh that
        changes the policy, until C{-f reload}.
        """
        filters = StackFilters(POLICY)
        filters.switch(FilterSet.DEFAULT)
        filters.replace_policy(POLICY[:1])
        self.assertIs(filters.currentSet, FilterSet.DEFAULT)
        self.assertEqual(filters.policy(), POLICY[:1])
        filters.switch(FilterSet.POLICY)
        self.assertEqual(filters.current(), POLICY[:1])

    def test_new_policy_in_force(self) -> None:
        """A policy in force is replaced in force."""
        filters = StackFilters(POLICY)
        filters.replace_policy(POLICY[1:])
        self.assertEqual(filters.current(), POLICY[1:])

    def test_policy_removed(self) -> None:
        """A stack that loses its policy file goes back to the default set."""
        filters = StackFilters(POLICY)
        filters.replace_policy(None)
        self.assertIs(filters.currentSet, FilterSet.DEFAULT)
        self.assertFalse(filters.hasPolicy)
        self.assertEqual(filters.policy(), ())
