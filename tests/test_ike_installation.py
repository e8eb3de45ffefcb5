"""
Tests for L{nsstwisted.ike.installation}: the CHILD_SA an installer is
given, and the C{ip xfrm} command lines built from it.

These are the command lines a kernel with ESP would run; this machine's
kernel has none, so L{tests.test_iked_keyexchange_installer} can run only the policy
lines for real.  The state lines are checked here, word for word.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import EncrId, IntegId, ProtocolId
from nsstwisted.ike.installation import (
    MAX_PREFIX_PAIRS,
    InstalledChildSa,
    PolicyDirection,
    XfrmPolicy,
    hard_lifetime,
    prefix_pairs,
    range_selectors,
    redact_keys,
    xfrm_batch,
    xfrm_delete_commands,
    xfrm_policies,
    xfrm_policy_commands,
    xfrm_state_commands,
    xfrm_state_delete_commands,
)
from nsstwisted.ike.payloads import TrafficSelector
from nsstwisted.ike.policy import Selector, TunnelMode

from .ikepeers import address_range

GCM_IN = bytes(range(0x10, 0x24))
GCM_OUT = bytes(range(0x30, 0x44))


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def child_sa(**changes: Any) -> InstalledChildSa:
    """
    An AES-GCM-16/128 tunnel-mode CHILD_SA between 10.77.0.1 (us) and
    10.77.0.2 for 10.1.0.0/24 to 10.2.0.0/24, with C{changes}.
    """
    values: dict[str, Any] = dict(
        reqid=7,
        localAddress=ipaddress.ip_address("10.77.0.1"),
        remoteAddress=ipaddress.ip_address("10.77.0.2"),
        spiIn=bytes.fromhex("c0000001"),
        spiOut=bytes.fromhex("c75bac00"),
        mode=TunnelMode.TUNNEL,
        encrId=EncrId.AES_GCM_16,
        keyBits=128,
        integId=IntegId.NONE,
        localSelectors=(Selector(net("10.1.0.0/24")),),
        remoteSelectors=(Selector(net("10.2.0.0/24")),),
        encryptionKeyIn=GCM_IN,
        encryptionKeyOut=GCM_OUT,
        lifetimeSeconds=0,
    )
    values.update(changes)
    return InstalledChildSa(**values)


def cbc_sa(integ: IntegId, octets: int, **changes: Any) -> InstalledChildSa:
    """An AES-CBC-256 CHILD_SA with C{integ} (whose keys are C{octets} long)."""
    values: dict[str, Any] = dict(
        encrId=EncrId.AES_CBC,
        keyBits=256,
        integId=integ,
        encryptionKeyIn=b"\x01" * 32,
        encryptionKeyOut=b"\x02" * 32,
        integrityKeyIn=b"\x03" * octets,
        integrityKeyOut=b"\x04" * octets,
    )
    values.update(changes)
    return child_sa(**values)


INBOUND_GCM = [
    "ip",
    "xfrm",
    "state",
    "add",
    "src",
    "10.77.0.2",
    "dst",
    "10.77.0.1",
    "proto",
    "esp",
    "spi",
    "0xc0000001",
    "reqid",
    "7",
    "mode",
    "tunnel",
    "replay-window",
    "32",
    "aead",
    "rfc4106(gcm(aes))",
    "0x" + GCM_IN.hex(),
    "128",
]

OUTBOUND_GCM = [
    "ip",
    "xfrm",
    "state",
    "add",
    "src",
    "10.77.0.1",
    "dst",
    "10.77.0.2",
    "proto",
    "esp",
    "spi",
    "0xc75bac00",
    "reqid",
    "7",
    "mode",
    "tunnel",
    "aead",
    "rfc4106(gcm(aes))",
    "0x" + GCM_OUT.hex(),
    "128",
]


def after(argv: list[str], word: str, count: int = 1) -> list[str]:
    """The C{count} arguments after C{word} in C{argv}."""
    index = argv.index(word)
    return argv[index + 1 : index + 1 + count]


class StateCommandTests(SynchronousTestCase):
    def test_gcm(self) -> None:
        """
        AES-GCM is one C{aead} algorithm whose key is the key and salt; the
        inbound state (ours, from the peer) comes first and alone has a
        replay window.
        """
        self.assertEqual(xfrm_state_commands(child_sa()), [INBOUND_GCM, OUTBOUND_GCM])

    def test_gcm_icv_and_key_length(self) -> None:
        for encr, bits in (
            (EncrId.AES_GCM_8, "64"),
            (EncrId.AES_GCM_12, "96"),
            (EncrId.AES_GCM_16, "128"),
        ):
            key = bytes(range(36))
            sa = child_sa(
                encrId=encr, keyBits=256, encryptionKeyIn=key, encryptionKeyOut=key
            )
            inbound, _ = xfrm_state_commands(sa)
            self.assertEqual(
                after(inbound, "aead", 3), ["rfc4106(gcm(aes))", "0x" + key.hex(), bits]
            )

    def test_cbc_with_each_hmac(self) -> None:
        """
        AES-CBC is C{enc} plus C{auth-trunc} with the kernel's name for
        the HMAC and the ICV truncation IKEv2's transform names.
        """
        for integ, name, octets, bits in (
            (IntegId.HMAC_SHA1_96, "hmac(sha1)", 20, "96"),
            (IntegId.HMAC_SHA2_256_128, "hmac(sha256)", 32, "128"),
            (IntegId.HMAC_SHA2_384_192, "hmac(sha384)", 48, "192"),
            (IntegId.HMAC_SHA2_512_256, "hmac(sha512)", 64, "256"),
        ):
            inbound, outbound = xfrm_state_commands(cbc_sa(integ, octets))
            self.assertEqual(after(inbound, "enc", 2), ["cbc(aes)", "0x" + "01" * 32])
            self.assertEqual(after(outbound, "enc", 2), ["cbc(aes)", "0x" + "02" * 32])
            self.assertEqual(
                after(inbound, "auth-trunc", 3),
                [name, "0x" + "03" * octets, bits],
            )
            self.assertEqual(
                after(outbound, "auth-trunc", 3),
                [name, "0x" + "04" * octets, bits],
            )
            self.assertNotIn("aead", inbound)

    def test_transport(self) -> None:
        for argv in xfrm_state_commands(child_sa(mode=TunnelMode.TRANSPORT)):
            self.assertEqual(after(argv, "mode"), ["transport"])

    def test_ipv6(self) -> None:
        sa = child_sa(
            localAddress=ipaddress.ip_address("2001:db8::1"),
            remoteAddress=ipaddress.ip_address("2001:db8::2"),
            encapsulation=(4500, 4500),
        )
        inbound, outbound = xfrm_state_commands(sa)
        self.assertEqual(inbound[4:8], ["src", "2001:db8::2", "dst", "2001:db8::1"])
        self.assertEqual(outbound[4:8], ["src", "2001:db8::1", "dst", "2001:db8::2"])
        self.assertEqual(after(inbound, "encap", 4), ["espinudp", "4500", "4500", "::"])

    def test_encapsulation(self) -> None:
        """
        The ports are the state's source's and destination's: the peer's
        then ours for the inbound state, ours then the peer's outbound.
        """
        inbound, outbound = xfrm_state_commands(child_sa(encapsulation=(4500, 4501)))
        self.assertEqual(inbound[-5:], "encap espinudp 4501 4500 0.0.0.0".split())
        self.assertEqual(outbound[-5:], "encap espinudp 4500 4501 0.0.0.0".split())

    def test_no_encapsulation(self) -> None:
        for argv in xfrm_state_commands(child_sa()):
            self.assertNotIn("encap", argv)

    def test_lifetime(self) -> None:
        """
        The kernel's hard limit is 10% past the rekey time, so it removes
        a state iked forgot but never races a rekey.
        """
        for argv in xfrm_state_commands(child_sa(lifetimeSeconds=3600)):
            self.assertEqual(after(argv, "limit", 2), ["time-hard", "3960"])
        self.assertEqual(hard_lifetime(0), 0)
        self.assertEqual(hard_lifetime(1), 2)
        self.assertEqual(hard_lifetime(28800), 31680)

    def test_no_quotes(self) -> None:
        """The argv goes to ip without a shell: nothing is quoted."""
        sa = cbc_sa(IntegId.HMAC_SHA2_256_128, 32)
        for argv in xfrm_state_commands(sa) + xfrm_state_commands(child_sa()):
            for argument in argv:
                self.assertNotIn("'", argument)
                self.assertNotIn('"', argument)

    def test_delete(self) -> None:
        self.assertEqual(
            xfrm_state_delete_commands(child_sa()),
            [
                "ip xfrm state delete src 10.77.0.2 dst 10.77.0.1"
                " proto esp spi 0xc0000001".split(),
                "ip xfrm state delete src 10.77.0.1 dst 10.77.0.2"
                " proto esp spi 0xc75bac00".split(),
            ],
        )


class PolicyCommandTests(SynchronousTestCase):
    def test_tunnel(self) -> None:
        """
        Out from our selector to theirs with a template from us to the
        peer; in and fwd the other way round.
        """
        self.assertEqual(
            xfrm_policy_commands(child_sa()),
            [
                (
                    "ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out"
                    " tmpl src 10.77.0.1 dst 10.77.0.2 proto esp reqid 7 mode tunnel"
                ).split(),
                (
                    "ip xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir in"
                    " tmpl src 10.77.0.2 dst 10.77.0.1 proto esp reqid 7 mode tunnel"
                ).split(),
                (
                    "ip xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir fwd"
                    " tmpl src 10.77.0.2 dst 10.77.0.1 proto esp reqid 7 mode tunnel"
                ).split(),
            ],
        )

    def test_transport(self) -> None:
        """Transport mode protects only our own traffic: no fwd policy."""
        sa = child_sa(
            mode=TunnelMode.TRANSPORT,
            localSelectors=(Selector(net("10.77.0.1/32")),),
            remoteSelectors=(Selector(net("10.77.0.2/32")),),
        )
        self.assertEqual(
            xfrm_policy_commands(sa),
            [
                (
                    "ip xfrm policy add src 10.77.0.1/32 dst 10.77.0.2/32 dir out"
                    " tmpl src 10.77.0.1 dst 10.77.0.2 proto esp reqid 7"
                    " mode transport"
                ).split(),
                (
                    "ip xfrm policy add src 10.77.0.2/32 dst 10.77.0.1/32 dir in"
                    " tmpl src 10.77.0.2 dst 10.77.0.1 proto esp reqid 7"
                    " mode transport"
                ).split(),
            ],
        )

    def test_ipv6(self) -> None:
        sa = child_sa(
            localAddress=ipaddress.ip_address("2001:db8::1"),
            remoteAddress=ipaddress.ip_address("2001:db8::2"),
            localSelectors=(Selector(net("2001:db8:1::/48")),),
            remoteSelectors=(Selector(net("2001:db8:2::/48")),),
        )
        out, inbound, forward = xfrm_policy_commands(sa)
        self.assertEqual(
            out[4:],
            (
                "src 2001:db8:1::/48 dst 2001:db8:2::/48 dir out"
                " tmpl src 2001:db8::1 dst 2001:db8::2 proto esp reqid 7 mode tunnel"
            ).split(),
        )
        self.assertEqual(after(inbound, "dir"), ["in"])
        self.assertEqual(
            after(forward, "tmpl", 4), "src 2001:db8::2 dst 2001:db8::1".split()
        )

    def test_ipv6_in_ipv4(self) -> None:
        """A tunnel may carry one family between addresses of the other."""
        sa = child_sa(
            localSelectors=(Selector(net("2001:db8:1::/48")),),
            remoteSelectors=(Selector(net("2001:db8:2::/48")),),
        )
        out = xfrm_policy_commands(sa)[0]
        self.assertEqual(after(out, "src", 1), ["2001:db8:1::/48"])
        self.assertEqual(after(out, "tmpl", 4), "src 10.77.0.1 dst 10.77.0.2".split())

    def test_selectors_with_protocol_and_ports(self) -> None:
        """
        Every local selector is paired with every remote one.  A pair's
        protocol is the one both admit and its ports go with the side
        they belong to; pairs of different families or protocols cannot
        match a packet and are left out.
        """
        sa = child_sa(
            localSelectors=(
                Selector(net("10.1.0.0/24"), 6, 80, 80),
                Selector(net("10.1.1.0/24")),
                Selector(net("2001:db8:1::/48"), 17),
            ),
            remoteSelectors=(
                Selector(net("10.2.0.0/24")),
                Selector(net("10.2.1.5/32"), 17, 53, 53),
            ),
        )
        selectors = [argv[4 : argv.index("tmpl")] for argv in xfrm_policy_commands(sa)]
        self.assertEqual(
            [" ".join(selector) for selector in selectors],
            [
                "src 10.1.0.0/24 dst 10.2.0.0/24 proto 6 sport 80 dir out",
                "src 10.2.0.0/24 dst 10.1.0.0/24 proto 6 dport 80 dir in",
                "src 10.2.0.0/24 dst 10.1.0.0/24 proto 6 dport 80 dir fwd",
                # (10.1.0.0/24 TCP, 10.2.1.5 UDP) cannot match: left out.
                "src 10.1.1.0/24 dst 10.2.0.0/24 dir out",
                "src 10.2.0.0/24 dst 10.1.1.0/24 dir in",
                "src 10.2.0.0/24 dst 10.1.1.0/24 dir fwd",
                "src 10.1.1.0/24 dst 10.2.1.5/32 proto 17 dport 53 dir out",
                "src 10.2.1.5/32 dst 10.1.1.0/24 proto 17 sport 53 dir in",
                "src 10.2.1.5/32 dst 10.1.1.0/24 proto 17 sport 53 dir fwd",
                # 2001:db8:1::/48 has no IPv6 partner.
            ],
        )

    def test_port_range_refused(self) -> None:
        """
        C{ip} selects one port or any; a range would have to be widened
        (more traffic than agreed) or narrowed (agreed traffic in the
        clear), so it is refused.
        """
        sa = child_sa(localSelectors=(Selector(net("10.1.0.0/24"), 6, 1024, 2047),))
        error = self.assertRaises(ValueError, xfrm_policy_commands, sa)
        self.assertIn("1024-2047", str(error))
        self.assertRaises(ValueError, xfrm_delete_commands, sa)

    def test_ports_without_port_protocol_refused(self) -> None:
        sa = child_sa(localSelectors=(Selector(net("10.1.0.0/24"), 1, 0x0800, 0x0800),))
        self.assertRaises(ValueError, xfrm_policy_commands, sa)

    def test_update(self) -> None:
        policy = xfrm_policies(child_sa())[0]
        self.assertEqual(
            policy.command("update")[:4], ["ip", "xfrm", "policy", "update"]
        )

    def test_key(self) -> None:
        """
        Policies with the same selector and direction have the same key
        whatever their templates: the kernel holds only one of them.
        """
        first = xfrm_policies(child_sa())
        second = xfrm_policies(child_sa(reqid=8, spiIn=b"\xc0\x00\x00\x09"))
        self.assertEqual([p.key for p in first], [p.key for p in second])
        self.assertNotEqual(first, second)
        self.assertEqual(
            [p.direction for p in first],
            [PolicyDirection.OUT, PolicyDirection.IN, PolicyDirection.FWD],
        )
        self.assertIsInstance(first[0], XfrmPolicy)

    def test_delete(self) -> None:
        """Policies go first, then the states, the reverse of installation."""
        sa = child_sa(
            localSelectors=(Selector(net("10.1.0.0/24"), 6, 80, 80),),
        )
        self.assertEqual(
            [" ".join(argv) for argv in xfrm_delete_commands(sa)],
            [
                "ip xfrm policy delete src 10.1.0.0/24 dst 10.2.0.0/24"
                " proto 6 sport 80 dir out",
                "ip xfrm policy delete src 10.2.0.0/24 dst 10.1.0.0/24"
                " proto 6 dport 80 dir in",
                "ip xfrm policy delete src 10.2.0.0/24 dst 10.1.0.0/24"
                " proto 6 dport 80 dir fwd",
                "ip xfrm state delete src 10.77.0.2 dst 10.77.0.1"
                " proto esp spi 0xc0000001",
                "ip xfrm state delete src 10.77.0.1 dst 10.77.0.2"
                " proto esp spi 0xc75bac00",
            ],
        )


def covers(selectors: tuple[Selector, ...], address: str) -> int:
    """How many of C{selectors} hold C{address}."""
    return sum(ipaddress.ip_address(address) in s.network for s in selectors)


REPORTED = address_range("10.2.0.1", "10.2.0.254")
"""The range of the report: a /24 without its network and broadcast addresses."""

_PROTOCOLS = st.sampled_from((0, 6, 17))


@st.composite
def ranges(draw: st.DrawFn) -> TrafficSelector:
    """An IPv4 or IPv6 range, with its ends anywhere, and a protocol."""
    bits = draw(st.sampled_from((32, 128)))
    first = draw(st.integers(0, 2**bits - 1))
    last = draw(st.integers(first, 2**bits - 1))
    make = ipaddress.IPv4Address if bits == 32 else ipaddress.IPv6Address
    ts = address_range(str(make(first)), str(make(last)))
    return dataclasses.replace(ts, protocol=draw(_PROTOCOLS))


class RangeTests(SynchronousTestCase):
    """
    IKEv2 agrees on address ranges; the kernel takes prefixes.  A range
    must become all of the prefixes that cover it, and no more.
    """

    def test_reported_range(self) -> None:
        """10.2.0.1-10.2.0.254 is 14 prefixes, not 10.2.0.1/32 alone."""
        selectors = range_selectors(REPORTED)
        self.assertEqual(
            [str(s.network) for s in selectors],
            [
                "10.2.0.1/32",
                "10.2.0.2/31",
                "10.2.0.4/30",
                "10.2.0.8/29",
                "10.2.0.16/28",
                "10.2.0.32/27",
                "10.2.0.64/26",
                "10.2.0.128/26",
                "10.2.0.192/27",
                "10.2.0.224/28",
                "10.2.0.240/29",
                "10.2.0.248/30",
                "10.2.0.252/31",
                "10.2.0.254/32",
            ],
        )
        for host in range(1, 255):
            self.assertEqual(covers(selectors, f"10.2.0.{host}"), 1, host)
        self.assertEqual(covers(selectors, "10.2.0.0"), 0)
        self.assertEqual(covers(selectors, "10.2.0.255"), 0)

    def test_prefix_is_one_selector(self) -> None:
        ts = TrafficSelector.from_network(net("2001:db8::/48"), 17, 53, 53)
        self.assertEqual(
            range_selectors(ts), (Selector(net("2001:db8::/48"), 17, 53, 53),)
        )

    def test_protocol_and_ports_kept(self) -> None:
        ts = dataclasses.replace(REPORTED, protocol=6, startPort=443, endPort=443)
        for selector in range_selectors(ts):
            self.assertEqual(
                (selector.protocol, selector.startPort, selector.endPort),
                (6, 443, 443),
            )

    def test_widest_ranges(self) -> None:
        """What a hostile peer may send: 62 IPv4 prefixes, 254 IPv6 ones."""
        self.assertEqual(
            len(range_selectors(address_range("0.0.0.1", "255.255.255.254"))), 62
        )
        self.assertEqual(
            len(range_selectors(address_range("::1", "ffff:" * 7 + "fffe"))), 254
        )

    def test_backwards_range_refused(self) -> None:
        self.assertRaises(
            ValueError, range_selectors, address_range("10.0.0.2", "10.0.0.1")
        )

    @given(ranges())
    def test_exact_cover(self, ts: TrafficSelector) -> None:
        """
        The prefixes are disjoint, adjacent and span exactly the range:
        together they hold every address of it and nothing else.
        """
        selectors = range_selectors(ts)
        networks = [s.network for s in selectors]
        self.assertEqual(networks[0].network_address, ts.start)
        self.assertEqual(networks[-1].broadcast_address, ts.end)
        for before, after_ in itertools.pairwise(networks):
            self.assertEqual(int(before.broadcast_address) + 1, int(after_[0]))

    @given(st.lists(ranges(), max_size=6), st.lists(ranges(), max_size=6))
    def test_prefix_pairs_counts_policies(
        self, local: list[TrafficSelector], remote: list[TrafficSelector]
    ) -> None:
        """
        L{prefix_pairs}, which counts without expanding, agrees with the
        pairs L{xfrm_policies} would install (up to the limit, past which
        it says only "more").
        """
        expected = sum(
            1
            for mine in local
            for theirs in remote
            if mine.start.version == theirs.start.version
            and (
                not mine.protocol
                or not theirs.protocol
                or mine.protocol == theirs.protocol
            )
            for _ in range(len(range_selectors(mine)) * len(range_selectors(theirs)))
        )
        self.assertEqual(
            prefix_pairs(local, remote), min(expected, MAX_PREFIX_PAIRS + 1)
        )

    def test_prefix_pairs_of_hostile_selectors(self) -> None:
        wide = address_range("0.0.0.1", "255.255.255.254")
        self.assertEqual(prefix_pairs([wide], [wide]), MAX_PREFIX_PAIRS + 1)
        self.assertEqual(prefix_pairs([wide], [REPORTED]), MAX_PREFIX_PAIRS + 1)
        subnet = TrafficSelector.from_network(net("10.1.0.0/24"))
        self.assertEqual(prefix_pairs([subnet], [wide]), 62)
        self.assertEqual(prefix_pairs([subnet], [REPORTED]), 14)
        # Pairs that cannot match one packet install nothing.
        v6 = address_range("::1", "ffff::fffe")
        self.assertEqual(prefix_pairs([subnet], [v6, REPORTED]), 14)
        tcp = dataclasses.replace(wide, protocol=6)
        udp = dataclasses.replace(subnet, protocol=17)
        self.assertEqual(prefix_pairs([udp], [tcp]), 0)
        self.assertEqual(prefix_pairs([udp], [wide]), 62)

    def test_policies_cover_the_range(self) -> None:
        """
        Every pair of a local and a remote prefix gets its out, in and fwd
        policy; removal deletes every one of them.
        """
        sa = child_sa(remoteSelectors=range_selectors(REPORTED))
        policies = xfrm_policies(sa)
        self.assertEqual(len(policies), 14 * 3)
        outbound = tuple(
            Selector(p.destination)
            for p in policies
            if p.direction is PolicyDirection.OUT
        )
        self.assertEqual(outbound, range_selectors(REPORTED))
        for direction in (PolicyDirection.IN, PolicyDirection.FWD):
            self.assertEqual(
                tuple(Selector(p.source) for p in policies if p.direction is direction),
                outbound,
            )
        deletions = [
            " ".join(argv) for argv in xfrm_delete_commands(sa) if argv[2] == "policy"
        ]
        self.assertEqual(deletions, [" ".join(p.delete_command()) for p in policies])

    def test_cross_product(self) -> None:
        """Two ranges: every local prefix with every remote prefix."""
        local = range_selectors(address_range("10.1.0.1", "10.1.0.6"))
        remote = range_selectors(address_range("10.2.0.1", "10.2.0.2"))
        sa = child_sa(localSelectors=local, remoteSelectors=remote)
        out = [
            (str(p.source), str(p.destination))
            for p in xfrm_policies(sa)
            if p.direction is PolicyDirection.OUT
        ]
        self.assertEqual(
            out,
            [
                (str(mine.network), str(theirs.network))
                for mine in local
                for theirs in remote
            ],
        )
        self.assertEqual(len(local) * len(remote), 8)

    def test_shared_prefix_listed_once(self) -> None:
        """
        Overlapping ranges can share a prefix; its policy is listed once,
        since the kernel would refuse to add it twice.
        """
        local = range_selectors(
            address_range("10.1.0.0", "10.1.0.127")
        ) + range_selectors(address_range("10.1.0.0", "10.1.0.191"))
        self.assertEqual(
            [str(s.network) for s in local],
            ["10.1.0.0/25", "10.1.0.0/25", "10.1.0.128/26"],
        )
        policies = xfrm_policies(child_sa(localSelectors=local))
        self.assertEqual(len(policies), 2 * 3)
        self.assertEqual(len({p.key for p in policies}), len(policies))

    def test_limit(self) -> None:
        """
        An SA is refused when its selectors make more than
        L{MAX_PREFIX_PAIRS} pairs, whether or not an engine checked.
        """
        hosts = tuple(
            Selector(net(f"10.2.0.{n}/32")) for n in range(1, MAX_PREFIX_PAIRS + 2)
        )
        self.assertEqual(
            len(xfrm_policies(child_sa(remoteSelectors=hosts[:-1]))),
            3 * MAX_PREFIX_PAIRS,
        )
        error = self.assertRaises(ValueError, child_sa, remoteSelectors=hosts)
        self.assertIn(f"more than {MAX_PREFIX_PAIRS} pairs", str(error))
        wide = range_selectors(address_range("0.0.0.1", "255.255.255.254"))
        self.assertRaises(
            ValueError, child_sa, localSelectors=wide, remoteSelectors=wide
        )
        # An IPv6 selector pairs with no IPv4 one, and adds no pair.
        sa = child_sa(
            localSelectors=(
                Selector(net("10.1.0.0/24")),
                Selector(net("2001:db8::/64")),
            ),
            remoteSelectors=hosts[:-1],
        )
        self.assertEqual(len(xfrm_policies(sa)), 3 * MAX_PREFIX_PAIRS)


class ChildSaTests(SynchronousTestCase):
    def test_keys_not_in_repr(self) -> None:
        """An SA may be logged; its keys may not."""
        for sa in (child_sa(), cbc_sa(IntegId.HMAC_SHA2_512_256, 64)):
            text = repr(sa) + str(sa)
            self.assertIn("reqid=7", text)
            for key in sa.keys:
                self.assertNotIn(key.hex(), text)
                self.assertNotIn(repr(key), text)
            for name in ("encryptionKeyIn", "integrityKeyOut"):
                self.assertNotIn(name, text)

    def test_keys(self) -> None:
        self.assertEqual(child_sa().keys, (GCM_IN, GCM_OUT))
        self.assertEqual(len(cbc_sa(IntegId.HMAC_SHA1_96, 20).keys), 4)

    def test_refused(self) -> None:
        """
        An SA a kernel could not take is refused when it is made; the
        error names the field and lengths but never shows a key.
        """
        v6 = ipaddress.ip_address("2001:db8::2")
        for changes in (
            dict(reqid=0),
            dict(reqid=2**32),
            dict(remoteAddress=v6),
            dict(spiIn=b"\x01\x02\x03"),
            dict(spiOut=bytes(4)),
            dict(protocol=ProtocolId.AH),
            dict(keyBits=64),
            dict(encryptionKeyIn=GCM_IN[:16]),
            dict(encryptionKeyOut=GCM_OUT + b"\x00"),
            dict(integId=IntegId.HMAC_SHA2_256_128),
            dict(integrityKeyIn=b"\x05" * 32),
            dict(encrId=EncrId.AES_CBC),
            dict(localSelectors=()),
            dict(remoteSelectors=()),
            dict(encapsulation=(0, 4500)),
            dict(encapsulation=(4500, 65536)),
            dict(lifetimeSeconds=-1),
        ):
            error = self.assertRaises(ValueError, child_sa, **changes)
            self.assertNotIn(GCM_IN.hex()[:8], str(error), changes)
            self.assertNotIn(GCM_OUT.hex()[:8], str(error), changes)

    def test_cbc_integrity_lengths(self) -> None:
        self.assertRaises(ValueError, cbc_sa, IntegId.HMAC_SHA2_384_192, 32)
        self.assertRaises(ValueError, cbc_sa, IntegId.NONE, 0)
        self.assertRaises(
            ValueError,
            cbc_sa,
            IntegId.HMAC_SHA1_96,
            20,
            encryptionKeyIn=b"\x01" * 16,
        )

    def test_frozen(self) -> None:
        self.assertRaises(
            dataclasses.FrozenInstanceError, setattr, child_sa(), "reqid", 9
        )


class BatchTests(SynchronousTestCase):
    def test_render(self) -> None:
        """One line per command, without the leading C{ip}."""
        self.assertEqual(
            xfrm_batch(xfrm_state_commands(child_sa())),
            (
                " ".join(INBOUND_GCM[1:]) + "\n" + " ".join(OUTBOUND_GCM[1:]) + "\n"
            ).encode(),
        )
        self.assertEqual(xfrm_batch([]), b"")

    def test_refused(self) -> None:
        """
        What ip's batch reader would split or interpret (white space,
        quotes, comments) is refused, not escaped.
        """
        for argv in (
            [],
            ["ip"],
            ["tc", "qdisc"],
            ["ip", "xfrm", "policy flush"],
            ["ip", "xfrm", "state\nflush"],
            ["ip", "xfrm", "'cbc(aes)'"],
            ["ip", "xfrm", '"x"'],
            ["ip", "xfrm", "#"],
            ["ip", "xfrm", ""],
            ["ip", "xfrm", "a\\"],
        ):
            self.assertRaises(ValueError, xfrm_batch, [argv])


class RedactTests(SynchronousTestCase):
    def test_redact(self) -> None:
        """
        C{ip} echoes an argument it refuses; any rendering of a key in
        its words is replaced.
        """
        sa = cbc_sa(IntegId.HMAC_SHA2_256_128, 32)
        text = (
            f'Error: argument "0x{"01" * 32}" is wrong: ALGO-KEYMAT value is invalid'
            f" {'04' * 32} {'03' * 32}".upper()
        )
        redacted = redact_keys(text, sa)
        for key in sa.keys:
            self.assertNotIn(key.hex(), redacted.lower())
        self.assertIn("<key>", redacted)
        self.assertEqual(
            redact_keys("RTNETLINK answers: File exists", sa),
            "RTNETLINK answers: File exists",
        )
