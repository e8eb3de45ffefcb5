"""
Tests for L{nsstwisted.iked.configuration.policyfile}: the policy file
subset, the filters it gives, its errors; the nested statements of
L{nsstwisted.config} that it relies on; and the C{PolicyFile} keyword of
iked.conf.
"""

from __future__ import annotations

import ipaddress
import os
import re
import string
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.config import ConfigurationError, Setting, Statement, parse_config
from nsstwisted.iked.configuration import (
    IkedConfiguration,
    StackDeclaration,
    iked_configuration_from_text,
)
from nsstwisted.iked.configuration.policyfile import (
    IpService,
    ServiceDirection,
    StackPolicy,
    load_stack_policy,
    stack_policy_from_text,
)
from nsstwisted.iked.stackmodel.filters import (
    FilterAction,
    FilterDirection,
    FilterLogging,
    FilterRule,
    FilterScope,
    PortRange,
    StackFilters,
    TcpQualifier,
)
from tests.strategies import policy_words

fast = settings(max_examples=200, deadline=None, database=None)
cheap = settings(max_examples=1000, deadline=None, database=None)

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs" / "policy.md"
SEED = Path("/work/shared/seed/000_da91e9b1477a5a61.txt")

ALL4 = ipaddress.ip_network("0.0.0.0/0")
ALL6 = ipaddress.ip_network("::/0")

# The seed's sample, as it is written there.
NSS_SAMPLE = """\
IpFilterRule      NssTrafficIPv4
{
  IpSourceAddr    all14
  IpDestAddr      all14
  IpService       {
    SourcePortRange 4159
    DestinationPortRange 1024 65535
    Protocol        tcp
    Direction       bidirectional InboundConnect
    Routing         local
  }
  IpGenericFilterActionRef permit-nolog
}
IpFilterRule      NssTrafficIPv6
{
  IpSourceAddr    all16
  IpDestAddr      all16
  IpService       {
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
"""

ACTION = "IpGenericFilterAction act\n{\n  IpFilterAction permit\n}\n"


def block(header: str, *lines: str) -> str:
    return header + "\n{\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def rule(*lines: str, name: str = "R") -> str:
    """An IpFilterRule of the lines, or of a whole-traffic rule if none."""
    if not lines:
        lines = ("IpSourceAddr All4", "IpDestAddr All4", "IpServiceRef any")
    return block(f"IpFilterRule {name}", *lines, "IpGenericFilterActionRef act")


def service(*lines: str, name: str = "any") -> str:
    return block(f"IpService {name}", *lines)


def load(text: str) -> StackPolicy:
    return stack_policy_from_text(text, "p.policy")


def filters_of(*services: str) -> list[FilterRule]:
    """The filters of one whole-traffic rule with one inline service."""
    text = rule(
        "IpSourceAddr 192.0.2.1",
        "IpDestAddr 198.51.100.0/24",
        "IpService",
        "{",
        *services,
        "}",
    )
    return list(load(text + ACTION).filters)


class NestingTests(SynchronousTestCase):
    """
    C{parse_config(..., nesting=1)} reads a statement inside a statement;
    the default still refuses one.
    """

    def test_brace_on_line(self) -> None:
        self.assertEqual(
            parse_config(
                "A a {\n  K v\n  B b {\n    L w\n  }\n  M\n}\n", "f", nesting=1
            ),
            [
                Statement(
                    "A",
                    "a",
                    (Setting("K", ("v",), 2), Setting("M", (), 6)),
                    1,
                    (Statement("B", "b", (Setting("L", ("w",), 4),), 3),),
                )
            ],
        )

    def test_brace_on_next_line(self) -> None:
        """
        A C{{} starting a line makes the setting before it a statement, as
        the IBM samples write it; comments and blank lines may come between.
        """
        text = "A\n{\n  K v\n  B\n  # the service\n\n  {\n    L w\n  }\n}\n"
        (statement,) = parse_config(text, "f", nesting=1)
        self.assertEqual(statement.settings, (Setting("K", ("v",), 3),))
        self.assertEqual(
            statement.statements, (Statement("B", None, (Setting("L", ("w",), 8),), 4),)
        )

    def test_one_line(self) -> None:
        (statement,) = parse_config("A { B { L w } K v }", "f", nesting=1)
        self.assertEqual(statement.settings, (Setting("K", ("v",), 1),))
        self.assertEqual(statement.statements[0].settings, (Setting("L", ("w",), 1),))

    def test_default_refuses(self) -> None:
        error = self.assertRaises(
            ConfigurationError, parse_config, "A {\n  B {\n  }\n}\n", "f"
        )
        self.assertIn("nested statement, which is not supported", error.message)
        self.assertEqual((error.line, error.keyword), (2, "B"))

    def test_too_deep(self) -> None:
        error = self.assertRaises(
            ConfigurationError,
            parse_config,
            "A {\n  B {\n    C {\n    }\n  }\n}\n",
            "f",
            nesting=1,
        )
        self.assertEqual((error.line, error.keyword), (3, "C"))

    def test_two_names(self) -> None:
        error = self.assertRaises(
            ConfigurationError, parse_config, "A {\n  B x y {\n  }\n}\n", "f", nesting=1
        )
        self.assertEqual((error.line, error.keyword), (2, "B"))
        self.assertIn("at most one name", error.message)

    def test_brace_without_setting(self) -> None:
        """A C{{} right after another C{{} belongs to no statement."""
        error = self.assertRaises(
            ConfigurationError, parse_config, "A {\n  {\n  }\n}\n", "f", nesting=1
        )
        self.assertEqual(error.line, 2)

    def test_unclosed_names_outer(self) -> None:
        """
        A missing C{}} is reported at the statement that lacks it: a nested
        statement closed by its own brace does not take the blame.
        """
        error = self.assertRaises(
            ConfigurationError,
            parse_config,
            "A a\n{\n  K v\nA b {\n  K w\n}\n",
            "f",
            nesting=1,
        )
        self.assertEqual((error.line, error.keyword), (1, "A"))
        self.assertIn("'}' missing", error.message)


class SampleTests(SynchronousTestCase):
    """
    The seed's NSS sample and the documented example load into the filters
    that their rules describe.
    """

    def test_seed_sample(self) -> None:
        policy = load(NSS_SAMPLE)
        self.assertEqual(
            [r.name for r in policy.rules], ["NssTrafficIPv4", "NssTrafficIPv6"]
        )
        common = {
            "action": FilterAction.PERMIT,
            "scope": FilterScope.LOCAL,
            "logging": FilterLogging.NONE,
            "protocol": 6,
            "tcpQualifier": TcpQualifier.INBOUND_CONNECT,
        }
        nss, ephemeral = PortRange(4159, 4159), PortRange(1024, 65535)
        expected = []
        for name, every in (("NssTrafficIPv4", ALL4), ("NssTrafficIPv6", ALL6)):
            expected += [
                FilterRule(
                    name=name,
                    nameExtension=1,
                    direction=FilterDirection.OUTBOUND,
                    sourceAddress=every,
                    sourcePorts=nss,
                    destinationAddress=every,
                    destinationPorts=ephemeral,
                    **common,  # type: ignore[arg-type]
                ),
                FilterRule(
                    name=name,
                    nameExtension=2,
                    direction=FilterDirection.INBOUND,
                    sourceAddress=every,
                    sourcePorts=ephemeral,
                    destinationAddress=every,
                    destinationPorts=nss,
                    **common,  # type: ignore[arg-type]
                ),
            ]
        self.assertEqual(list(policy.filters), expected)

    def test_seed_file(self) -> None:
        """The sample, cut from the seed itself, gives the same filters."""
        if not SEED.exists():
            raise self.skipTest("the seed is not here")
        text = SEED.read_text(encoding="utf-8")
        start = text.index("IpFilterRule      NssTrafficIPv4")
        sample = text[start : text.index("```", start)]
        self.assertEqual(load(sample).filters, load(NSS_SAMPLE).filters)

    def test_documented_example(self) -> None:
        """
        The example of docs/policy.md gives the filters its table shows.
        """
        text = DOCS.read_text(encoding="utf-8")
        section = text[text.index("## An example") :]
        (example,) = re.findall(r"```\n(.*?)```", section, re.DOTALL)
        rows = re.findall(
            r"^\| (\w+) \| (\d) \| (\w+) \| `([^`]+)` \| (\S+)"
            r" \| `([^`]+)` \| (\S+) \| (\w+) \|$",
            section,
            re.MULTILINE,
        )
        self.assertEqual(len(rows), 4)

        def ports(p: PortRange | None) -> str:
            assert p is not None
            return str(p.low) if p.low == p.high else f"{p.low}\N{EN DASH}{p.high}"

        def address(a: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
            return str(a.network_address) if a.prefixlen == a.max_prefixlen else str(a)

        shown = [
            (
                f.name,
                str(f.nameExtension),
                f.direction.value,
                address(f.sourceAddress),
                ports(f.sourcePorts),
                address(f.destinationAddress),
                ports(f.destinationPorts),
                f.logging.value,
            )
            for f in load(example).filters
        ]
        self.assertEqual(shown, rows)

    def test_load_file(self) -> None:
        path = os.path.abspath(self.mktemp())
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(NSS_SAMPLE)
        policy = load_stack_policy(path)
        self.assertEqual(policy.filename, path)
        self.assertEqual(policy, load_stack_policy(path))
        self.assertEqual(len(policy.filters), 4)

    def test_empty(self) -> None:
        """A file without rules is a policy without filters."""
        self.assertEqual(load("# nothing yet\n"), StackPolicy("p.policy", (), ()))

    def test_stack_filters(self) -> None:
        """The filters are what L{StackFilters} takes as its policy."""
        policy = load(NSS_SAMPLE)
        self.assertEqual(StackFilters(policy.filters).current(), policy.filters)


class MeaningTests(SynchronousTestCase):
    """
    Each keyword's values and defaults, and how rules become filters.
    """

    def test_service_defaults(self) -> None:
        """
        IBM's defaults: all protocols and ports, BiDirectional, Local; an
        action's logging is No.
        """
        policy = load(rule() + service() + ACTION)
        self.assertEqual(policy.rules[0].services, (IpService(name="any"),))
        self.assertEqual(
            policy.rules[0].services[0].direction, ServiceDirection.BIDIRECTIONAL
        )
        out, _ = policy.filters
        self.assertEqual(
            (out.protocol, out.sourcePorts, out.scope), (None, None, FilterScope.LOCAL)
        )
        self.assertEqual(out.logging, FilterLogging.NONE)
        self.assertEqual(
            [f.direction for f in policy.filters],
            [FilterDirection.OUTBOUND, FilterDirection.INBOUND],
        )

    def test_directions(self) -> None:
        """
        Inbound and Outbound give one filter, as written; BiDirectional
        swaps addresses and ports for its inbound filter.
        """
        for direction in ("Inbound", "Outbound"):
            (only,) = filters_of(
                "Protocol udp", "SourcePortRange 53", f"Direction {direction}"
            )
            self.assertEqual(only.direction.value, direction)
            self.assertEqual(str(only.sourceAddress), "192.0.2.1/32")
            self.assertEqual(only.sourcePorts, PortRange(53, 53))
            self.assertIsNone(only.destinationPorts)
        _, back = filters_of(
            "Protocol udp", "SourcePortRange 53", "Direction BiDirectional"
        )
        self.assertEqual(
            (
                str(back.sourceAddress),
                back.sourcePorts,
                str(back.destinationAddress),
                back.destinationPorts,
            ),
            ("198.51.100.0/24", None, "192.0.2.1/32", PortRange(53, 53)),
        )

    def test_protocols(self) -> None:
        for value, number in (
            ("All", None),
            ("TCP", 6),
            ("udp", 17),
            ("Icmp", 1),
            ("255", 255),
            ("089", 89),
        ):
            self.assertEqual(filters_of(f"Protocol {value}")[0].protocol, number)

    def test_ports(self) -> None:
        for value, ports in (
            ("0", None),
            ("0 65535", None),
            ("0 0", None),
            ("0 1023", PortRange(0, 1023)),
            ("7 7", PortRange(7, 7)),
            ("65535", PortRange(65535, 65535)),
        ):
            (out, _) = filters_of("Protocol tcp", f"DestinationPortRange {value}")
            self.assertEqual(out.destinationPorts, ports, value)

    def test_port_zero_any_protocol(self) -> None:
        """Port 0 means every port, so it needs no TCP or UDP."""
        self.assertIsNone(filters_of("SourcePortRange 0")[0].sourcePorts)

    def test_routing(self) -> None:
        for value in ("Local", "ROUTED", "either"):
            self.assertEqual(
                filters_of(f"Routing {value}")[0].scope.value.lower(), value.lower()
            )

    def test_qualifier(self) -> None:
        out, back = filters_of(
            "Protocol TCP", "Direction BiDirectional OutboundConnect"
        )
        self.assertEqual(
            (out.tcpQualifier, back.tcpQualifier), (TcpQualifier.OUTBOUND_CONNECT,) * 2
        )

    def test_logging_and_deny(self) -> None:
        text = (
            rule()
            + service()
            + block(
                "IpGenericFilterAction act",
                "IpFilterAction Deny",
                "IpFilterLogging Yes",
            )
        )
        out, _ = load(text).filters
        self.assertEqual(
            (out.action, out.logging), (FilterAction.DENY, FilterLogging.ALL)
        )

    def test_addresses(self) -> None:
        """
        C{All} gives both families; a family missing on one side is skipped.
        """

        def families(source: str, destination: str) -> list[str]:
            text = rule(
                f"IpSourceAddr {source}",
                f"IpDestAddr {destination}",
                "IpServiceRef any",
            )
            return [
                f"{f.sourceAddress}>{f.destinationAddress}"
                for f in load(text + service("Direction Outbound") + ACTION).filters
            ]

        self.assertEqual(families("All", "All"), ["0.0.0.0/0>0.0.0.0/0", "::/0>::/0"])
        self.assertEqual(families("All", "2001:db8::1"), ["::/0>2001:db8::1/128"])
        self.assertEqual(families("10.0.0.0/8", "All4"), ["10.0.0.0/8>0.0.0.0/0"])
        self.assertEqual(families("all6", "ALL"), ["::/0>::/0"])

    def test_services_in_order(self) -> None:
        """
        Services, inline and referenced, count in file order, wherever
        the referenced ones are defined.
        """
        text = (
            rule(
                "IpSourceAddr All4",
                "IpDestAddr All4",
                "IpServiceRef second",
                "IpService first {",
                "Direction Inbound",
                "}",
                "IpServiceRef any",
            )
            + service("Direction Outbound", "Protocol udp", name="second")
            + service("Direction Outbound")
            + ACTION
        )
        self.assertEqual(
            [
                (f.nameExtension, f.direction.value, f.protocol)
                for f in load(text).filters
            ],
            [(1, "Outbound", 17), (2, "Inbound", None), (3, "Outbound", None)],
        )
        self.assertEqual(load(text).rules[0].services[1].name, "first")

    def test_rule_order(self) -> None:
        text = rule(name="b") + ACTION + rule(name="a") + service()
        self.assertEqual([r.name for r in load(text).rules], ["b", "a"])

    def test_case(self) -> None:
        """Keywords are case-insensitive, names are not."""
        text = (
            "ipfilterrule R {\n ipsourceaddr all\n IPDESTADDR ALL\n"
            " ipserviceref Any\n ipgenericfilteractionref act\n}\n"
        )
        error = self.assertRaises(ConfigurationError, load, text + service() + ACTION)
        self.assertIn("no IpService is named 'Any'", error.message)
        self.assertEqual(len(load(text + service(name="Any") + ACTION).filters), 4)

    def test_last_wins(self) -> None:
        text = (
            rule(
                "IpSourceAddr All6",
                "IpSourceAddr All4",
                "IpDestAddr All",
                "IpServiceRef any",
            )
            + service("Protocol udp", "Protocol tcp")
            + ACTION
        )
        filters = load(text).filters
        self.assertEqual(
            {(f.sourceAddress.version, f.protocol) for f in filters}, {(4, 6)}
        )


class ErrorTests(SynchronousTestCase):
    """
    Every error names the file, the line and the keyword or statement.
    """

    def assertBad(self, text: str, line: int, keyword: str, message: str) -> None:
        error = self.assertRaises(ConfigurationError, load, text)
        self.assertEqual(
            (error.filename, error.line, error.keyword), ("p.policy", line, keyword)
        )
        self.assertIn(message, error.message)
        self.assertTrue(str(error).startswith(f"p.policy:{line}: {keyword}: "))

    def assertBadService(self, setting: str, message: str) -> None:
        """A bad setting, the first of an IpService on line 1."""
        self.assertBad(
            service(setting) + rule() + ACTION, 3, setting.split()[0], message
        )

    def test_unknown_statement(self) -> None:
        self.assertBad(
            ACTION + "IpFilterPolicy\n{\n}\n",
            5,
            "IpFilterPolicy",
            "not in nsstwisted's policy subset",
        )

    def test_unknown_keywords(self) -> None:
        self.assertBad(
            rule("SecurityClass 0"),
            3,
            "SecurityClass",
            "unknown keyword of IpFilterRule",
        )
        self.assertBadService("SecurityClass 0", "unknown keyword of IpService")
        self.assertBad(
            block(
                "IpGenericFilterAction act",
                "IpFilterAction permit",
                "DiscardAction Silent",
            ),
            4,
            "DiscardAction",
            "unknown keyword of IpGenericFilterAction",
        )

    def test_names(self) -> None:
        self.assertBad(ACTION + "IpService\n{\n}\n", 5, "IpService", "needs a name")
        self.assertBad(block("IpService -a"), 1, "IpService", "must be 1 to 32")
        self.assertBad(block("IpService a,b"), 1, "IpService", "must be 1 to 32")
        self.assertBad(
            block("IpService " + "a" * 33), 1, "IpService", "must be 1 to 32"
        )
        self.assertBad(block('IpService "a b"'), 1, "IpService", "must be 1 to 32")
        self.assertEqual(load(block("IpService " + "a" * 32)).rules, ())

    def test_duplicate(self) -> None:
        self.assertBad(
            service() + ACTION + service(),
            8,
            "IpService",
            "already the name of the IpService of line 1",
        )
        # A service and an action may share a name.
        text = (
            rule("IpSourceAddr All", "IpDestAddr All", "IpServiceRef act")
            + service(name="act")
            + ACTION
        )
        self.assertEqual(len(load(text).filters), 4)

    def test_missing(self) -> None:
        self.assertBad(
            block("IpFilterRule R", "IpDestAddr All"),
            1,
            "IpFilterRule",
            "IpSourceAddr and IpServiceRef or IpService and"
            " IpGenericFilterActionRef missing",
        )
        self.assertBad(
            block("IpGenericFilterAction act", "IpFilterLogging yes"),
            1,
            "IpGenericFilterAction",
            "IpFilterAction is missing",
        )

    def test_references(self) -> None:
        self.assertBad(
            rule() + ACTION, 5, "IpServiceRef", "no IpService is named 'any'"
        )
        self.assertBad(
            rule() + service(),
            6,
            "IpGenericFilterActionRef",
            "no IpGenericFilterAction is named 'act'",
        )

    def test_addresses(self) -> None:
        for value in (
            "192.0.2.1/24",
            "300.1.1.1",
            "10.0.0.1-10.0.0.9",
            "any",
            "::1/129",
        ):
            self.assertBad(
                rule(f"IpSourceAddr {value}"),
                3,
                "IpSourceAddr",
                "must be an IP address",
            )
        self.assertBad(rule("IpSourceAddr a b"), 3, "IpSourceAddr", "exactly one value")
        self.assertBad(
            rule("IpSourceAddr All4", "IpDestAddr 2001:db8::/32", "IpServiceRef any")
            + service()
            + ACTION,
            1,
            "IpFilterRule",
            "different address families",
        )

    def test_protocol(self) -> None:
        for value in ("256", "-1", "0", "tcp6", "\N{ARABIC-INDIC DIGIT ONE}"):
            self.assertBadService(f"Protocol {value}", "must be All, TCP")

    def test_ports(self) -> None:
        for value in ("1 2 3", "a", "65536", "2 1", "+1", "1_0"):
            self.assertBadService(f"SourcePortRange {value}", "port")
        self.assertBad(
            service("Protocol ICMP", "DestinationPortRange 7") + rule() + ACTION,
            4,
            "DestinationPortRange",
            "needs Protocol TCP or UDP",
        )
        self.assertBad(
            service("DestinationPortRange 7") + rule() + ACTION,
            3,
            "DestinationPortRange",
            "needs Protocol TCP or UDP",
        )

    def test_direction(self) -> None:
        self.assertBadService(
            "Direction Sideways", "must be Inbound, Outbound or BiDirectional"
        )
        self.assertBadService("Direction", "takes Inbound")
        self.assertBadService(
            "Direction Inbound InboundConnect", "only BiDirectional may be followed"
        )
        self.assertBadService(
            "Direction BiDirectional Connect", "only BiDirectional may be followed"
        )
        self.assertBadService(
            "Direction BiDirectional InboundConnect",
            "InboundConnect needs Protocol TCP",
        )

    def test_routing(self) -> None:
        self.assertBadService("Routing Both", "must be one of Local, Routed, Either")

    def test_action(self) -> None:
        self.assertBad(
            block("IpGenericFilterAction act", "IpFilterAction IpSec"),
            3,
            "IpFilterAction",
            "IpSec is not supported",
        )
        self.assertBad(
            block("IpGenericFilterAction act", "IpFilterAction allow"),
            3,
            "IpFilterAction",
            "must be one of Permit, Deny",
        )
        self.assertBad(
            block(
                "IpGenericFilterAction act",
                "IpFilterAction permit",
                "IpFilterLogging LogDeny",
            ),
            4,
            "IpFilterLogging",
            "must be one of Yes, No",
        )

    def test_nested(self) -> None:
        self.assertBad(
            rule("IpDataOffer {", "}"),
            3,
            "IpDataOffer",
            "only IpService may be coded inline",
        )
        self.assertBad(
            "IpService s {\n  IpService t {\n  }\n}\n",
            2,
            "IpService",
            "is not a statement that IpService may hold",
        )
        self.assertBad(
            "IpGenericFilterAction a {\n  IpService t {\n  }\n}\n",
            2,
            "IpService",
            "is not a statement that IpGenericFilterAction",
        )

    def test_inline_service_error(self) -> None:
        """An error inside an inline service names its own line."""
        self.assertBad(
            rule("IpService {", "Protocol bogus", "}"), 4, "Protocol", "must be All"
        )

    def test_files(self) -> None:
        missing = os.path.abspath(self.mktemp())
        error = self.assertRaises(ConfigurationError, load_stack_policy, missing)
        self.assertEqual((error.filename, error.line), (missing, None))
        self.assertIn("cannot read", error.message)
        with open(missing, "wb") as stream:
            stream.write(b"IpService a {\n}\n\xff\n")
        error = self.assertRaises(ConfigurationError, load_stack_policy, missing)
        self.assertEqual((error.filename, error.line), (missing, 3))
        with open(missing, "wb") as stream:
            stream.write(b"#" * (1024 * 1024 + 1))
        error = self.assertRaises(ConfigurationError, load_stack_policy, missing)
        self.assertIn("larger than", error.message)


class RobustnessTests(SynchronousTestCase):
    """
    Whatever the text, the parser gives a policy or a L{ConfigurationError},
    never another exception.
    """

    def check(self, text: str) -> None:
        try:
            policy = load(text)
        except ConfigurationError as e:
            str(e)
        else:
            hash(policy)
            for f in policy.filters:
                f.report_fields()

    @cheap
    @given(st.text())
    def test_any_text(self, text: str) -> None:
        self.check(text)

    @cheap
    @given(st.lists(policy_words, max_size=60).map(" ".join))
    def test_policy_words(self, text: str) -> None:
        self.check(text)

    @fast
    @given(st.data())
    def test_mutated_sample(self, data: st.DataObject) -> None:
        """The sample with a stretch of it replaced by arbitrary text."""
        start = data.draw(st.integers(0, len(NSS_SAMPLE)))
        end = data.draw(st.integers(start, min(len(NSS_SAMPLE), start + 12)))
        middle = data.draw(st.text(string.printable, max_size=12))
        self.check(NSS_SAMPLE[:start] + middle + NSS_SAMPLE[end:])


# --- PolicyFile in iked.conf ---------------------------------------------------


class PolicyFileTests(SynchronousTestCase):
    """
    iked.conf's C{PolicyFile}: coded in C{TcpipStack} or C{NssStackConfig},
    loaded with the configuration, shown by describe().
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.policy = self.write("tcpip.policy", NSS_SAMPLE)
        self.password = self.write("tcpip.pw", "pw\n", 0o600)
        self.ca = self.write("ca.pem", "x\n")

    def write(self, name: str, text: str, mode: int = 0o644) -> str:
        path = os.path.join(self.folder, name)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(path, mode)
        return path

    def load(self, text: str) -> IkedConfiguration:
        return iked_configuration_from_text(text, "iked.conf", hostname="mvs1")

    def nss(self, *lines: str) -> str:
        return block(
            "IkeConfig", "NetworkSecurityServer nssd", f"CaFile {self.ca}"
        ) + block(
            "NssStackConfig TCPIP",
            "ServiceType Cert",
            "UserID u",
            f"PasswordFile {self.password}",
            *lines,
        )

    def test_tcpip_stack(self) -> None:
        config = self.load(
            block("TcpipStack T", f"PolicyFile {self.policy}") + block("TcpipStack U")
        )
        self.assertEqual(config.policy_file("T"), self.policy)
        self.assertIsNone(config.policy_file("U"))
        policy = config.stack_policy("T")
        assert policy is not None
        self.assertEqual(policy, load_stack_policy(self.policy))
        self.assertIsNone(config.stack_policy("U"))
        self.assertEqual(config.stack("T").policyFile, self.policy)
        self.assertRaises(KeyError, config.policy_file, "V")
        self.assertEqual(
            config.describe()[-9:],
            [
                "TcpipStack T",
                "{",
                "  # Namespace (the host's own stack)",
                f"  PolicyFile {self.policy}",
                "}",
                "TcpipStack U",
                "{",
                "  # Namespace (the host's own stack)",
                "}",
            ],
        )

    def test_nss_stack(self) -> None:
        config = self.load(self.nss(f"PolicyFile {self.policy}"))
        self.assertEqual(config.policy_file("TCPIP"), self.policy)
        self.assertIsNotNone(config.stack_policy("TCPIP"))
        self.assertIn(f"  PolicyFile {self.policy}", config.describe())
        # The NSS connection's configuration does not hold it.
        self.assertEqual(
            config.nssStacks["TCPIP"], self.load(self.nss()).nssStacks["TCPIP"]
        )

    def test_round_trip(self) -> None:
        for text in (
            self.nss(f"PolicyFile {self.policy}"),
            block("TcpipStack T", f"PolicyFile {self.policy}"),
        ):
            config = self.load(text)
            self.assertEqual(self.load("\n".join(config.describe()) + "\n"), config)

    def test_both_statements(self) -> None:
        text = block("TcpipStack TCPIP", f"PolicyFile {self.policy}") + self.nss(
            f"PolicyFile {self.policy}"
        )
        self.assertEqual(self.load(text).policy_file("TCPIP"), self.policy)
        other = self.write("other.policy", "")
        error = self.assertRaises(
            ConfigurationError,
            self.load,
            block("TcpipStack TCPIP", f"PolicyFile {self.policy}")
            + self.nss(f"PolicyFile {other}"),
        )
        self.assertEqual((error.filename, error.keyword), ("iked.conf", "PolicyFile"))
        self.assertIn("differs from the policy file", error.message)

    def test_relative(self) -> None:
        error = self.assertRaises(
            ConfigurationError,
            self.load,
            block("TcpipStack T", "PolicyFile tcpip.policy"),
        )
        self.assertEqual((error.line, error.keyword), (3, "PolicyFile"))
        self.assertIn("absolute path", error.message)

    def test_bad_policy(self) -> None:
        """
        An error in the policy file fails the load, naming the policy file,
        its line and keyword.
        """
        bad = self.write(
            "bad.policy",
            NSS_SAMPLE.replace("Protocol        tcp", "Protocol        tcpp", 1),
        )
        error = self.assertRaises(
            ConfigurationError, self.load, block("TcpipStack T", f"PolicyFile {bad}")
        )
        self.assertEqual(
            (error.filename, error.line, error.keyword), (bad, 8, "Protocol")
        )

    def test_missing_policy(self) -> None:
        """A policy file that cannot be read is an error of its iked.conf line."""
        missing = os.path.join(self.folder, "none.policy")
        error = self.assertRaises(
            ConfigurationError,
            self.load,
            block("TcpipStack T", f"PolicyFile {missing}"),
        )
        self.assertEqual(
            (error.filename, error.line, error.keyword), ("iked.conf", 3, "PolicyFile")
        )
        self.assertIn(missing, error.message)
        self.assertIn("cannot read", error.message)

    def test_equality_follows_content(self) -> None:
        """
        A refresh that changes the policy file's content changes the
        configuration; a declaration built by hand has no policy.
        """
        text = block("TcpipStack T", f"PolicyFile {self.policy}")
        before = self.load(text)
        self.assertEqual(self.load(text), before)
        self.assertEqual(hash(self.load(text)), hash(before))
        self.write("tcpip.policy", NSS_SAMPLE.replace("permit\n", "deny\n"))
        self.assertNotEqual(self.load(text), before)
        self.assertNotEqual(StackDeclaration("T", None, self.policy), before.stack("T"))
