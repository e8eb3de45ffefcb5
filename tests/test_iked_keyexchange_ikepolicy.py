"""
Tests for L{nsstwisted.iked.keyexchange.ikepolicy}: the IKE statements of a stack's
policy file, the engine's peer and CHILD_SA policies they give, and their
errors, which must name the file, the line and the keyword, and must never
show a shared key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import string
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.config import ConfigurationError
from nsstwisted.ike.constants import DhGroupId, EncrId, IdType, IntegId, PrfId
from nsstwisted.ike.policy import (
    AuthKind,
    ChildPolicy,
    EspProposal,
    IkeProposal,
    Initiation,
    LocalIdentity,
    PeerEku,
    PeerPolicy,
    Selector,
    TunnelMode,
)
from nsstwisted.iked.configuration.policyfile import (
    StackPolicy,
    load_stack_policy,
    stack_policy_from_text,
)
from nsstwisted.iked.keyexchange.ikepolicy import IKE_STATEMENTS

fast = settings(max_examples=300, deadline=None, database=None)

DOCS = Path(__file__).parent.parent / "docs" / "policy.md"

# The example the design asks to parse, as written there.
EXAMPLE = """\
KeyExchangeRule strongswan-peer
{
  LocalSecurityEndpoint
  {
    Identity   Fqdn iked.iked.test
    Location   127.0.0.1
    IkePort    5500            # nsstwisted: the local IKE port (default 500)
  }
  RemoteSecurityEndpoint
  {
    Identity   Fqdn strongswan.iked.test
    Location   127.0.0.1
    IkePort    4600            # nsstwisted: the peer's IKE port (default 500)
  }
  KeyExchangeActionRef  ike-v2-cert
}
KeyExchangeAction ike-v2-cert
{
  HowToInitiate   IKEv2
  HowToRespond    IKEv2
  Initiation      Either          # LocalOnly | RemoteOnly | Either
  HowToAuthPeers  DsSignature     # DsSignature | RsaSignature | PresharedKey
  KeyExchangeOffer
  {
    HowToEncrypt          AES_CBC KeyLength 128
    HowToAuthMsgs         HMAC_SHA2_256_128
    PseudoRandomFunction  HMAC_SHA2_256
    DHGroup               Group31
    RefreshLifetimeProposed 240
  }
  KeyExchangeOffer
  {
    HowToEncrypt          AES_GCM_16 KeyLength 256
    PseudoRandomFunction  HMAC_SHA2_256
    DHGroup               Group19
  }
}
LocalDynVpnRule host-host
{
  IpSourceAddr        10.2.0.0/24
  IpDestAddr          10.1.0.0/24
  Protocol            All
  KeyExchangeRuleRef  strongswan-peer   # nsstwisted: which peer negotiates it
  IpDynVpnActionRef   esp-gcm
  AutoActivate        No
}
IpDynVpnAction esp-gcm
{
  Initiation  Either
  HowToEncap  Tunnel
  Pfs         None
  IpDataOffer
  {
    HowToEncap    Tunnel
    HowToEncrypt  AES_GCM_16 KeyLength 128
    RefreshLifetimeProposed 60
  }
  IpDataOffer
  {
    HowToEncrypt  AES_CBC KeyLength 128
    HowToAuth     ESP HMAC_SHA2_256_128
  }
}
"""

LOOPBACK = ipaddress.ip_address("127.0.0.1")

EXAMPLE_CHILD = ChildPolicy(
    name="host-host",
    action="esp-gcm",
    localSelectors=(Selector(ipaddress.ip_network("10.2.0.0/24")),),
    remoteSelectors=(Selector(ipaddress.ip_network("10.1.0.0/24")),),
    proposals=(
        EspProposal(EncrId.AES_GCM_16, 128, IntegId.NONE, DhGroupId.NONE),
        EspProposal(EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, DhGroupId.NONE),
    ),
    mode=TunnelMode.TUNNEL,
    lifetime=3600,
    initiation=Initiation.EITHER,
    autoActivate=False,
)

EXAMPLE_PEER = PeerPolicy(
    name="strongswan-peer",
    action="ike-v2-cert",
    localAddress=LOOPBACK,
    remoteAddress=LOOPBACK,
    localIdentity=LocalIdentity(IdType.FQDN, "iked.iked.test"),
    remoteIdentity=LocalIdentity(IdType.FQDN, "strongswan.iked.test"),
    proposals=(
        IkeProposal(
            EncrId.AES_CBC,
            128,
            IntegId.HMAC_SHA2_256_128,
            PrfId.HMAC_SHA2_256,
            DhGroupId.CURVE_25519,
        ),
        IkeProposal(
            EncrId.AES_GCM_16,
            256,
            IntegId.NONE,
            PrfId.HMAC_SHA2_256,
            DhGroupId.ECP_256,
        ),
    ),
    auth=AuthKind.SIGNATURE,
    sharedKey=None,
    localPort=5500,
    remotePort=4600,
    lifetime=240 * 60,
    initiation=Initiation.EITHER,
    children=(EXAMPLE_CHILD,),
    sendCertRequest=True,
)

SECRET = "Open-Sesame-4711"


def block(header: str, *lines: str) -> str:
    return header + "\n{\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def inline(kind: str, lines: Sequence[str]) -> list[str]:
    return [kind, "{", *lines, "}"]


def peer(
    *lines: str,
    name: str = "peer",
    local: Sequence[str] | None = ("Identity Fqdn me.test", "Location 192.0.2.1"),
    remote: Sequence[str] | None = ("Location 192.0.2.2",),
    action: str | None = "ike",
) -> str:
    """A KeyExchangeRule with inline endpoints, and C{lines} last."""
    body: list[str] = []
    if local is not None:
        body += inline("LocalSecurityEndpoint", local)
    if remote is not None:
        body += inline("RemoteSecurityEndpoint", remote)
    if action is not None:
        body.append(f"KeyExchangeActionRef {action}")
    return block(f"KeyExchangeRule {name}", *body, *lines)


GCM_IKE = ("HowToEncrypt AES_GCM_16", "DHGroup Group19")
GCM_ESP = ("HowToEncrypt AES_GCM_16",)


def ike(
    *lines: str, name: str = "ike", offers: Sequence[Sequence[str]] = (GCM_IKE,)
) -> str:
    """A KeyExchangeAction of C{lines} and inline offers."""
    body = list(lines)
    for offer in offers:
        body += inline("KeyExchangeOffer", offer)
    return block(f"KeyExchangeAction {name}", *body)


def vpn(
    *lines: str,
    name: str = "vpn",
    source: str = "10.2.0.0/24",
    destination: str = "10.1.0.0/24",
    action: str = "esp",
) -> str:
    """A LocalDynVpnRule."""
    return block(
        f"LocalDynVpnRule {name}",
        f"IpSourceAddr {source}",
        f"IpDestAddr {destination}",
        f"IpDynVpnActionRef {action}",
        *lines,
    )


def esp(
    *lines: str, name: str = "esp", offers: Sequence[Sequence[str]] = (GCM_ESP,)
) -> str:
    """An IpDynVpnAction of C{lines} and inline offers."""
    body = list(lines)
    for offer in offers:
        body += inline("IpDataOffer", offer)
    return block(f"IpDynVpnAction {name}", *body)


def load(text: str) -> StackPolicy:
    return stack_policy_from_text(text, "p.policy")


def only_peer(text: str) -> PeerPolicy:
    (result,) = load(text).peers
    return result


def only_child(text: str) -> ChildPolicy:
    (child,) = only_peer(text).children
    return child


BASE = peer() + ike() + vpn() + esp()


def line_of(text: str, marker: str) -> int:
    """
    The 1-based line of the only line of C{text} that is C{marker}, or
    else that starts with its words.
    """
    lines = [line.strip() for line in text.split("\n")]
    found = [n for n, line in enumerate(lines, 1) if line == marker]
    if not found:
        pattern = re.compile(re.escape(marker) + r"(\s|$)")
        found = [n for n, line in enumerate(lines, 1) if pattern.match(line)]
    assert len(found) == 1, (marker, found)
    return found[0]


class ExampleTests(SynchronousTestCase):
    """
    The design's example, and the documented one, give exactly the engine
    values they describe; filter and IKE statements share a file.
    """

    def test_example(self) -> None:
        policy = load(EXAMPLE)
        self.assertEqual(policy.peers, (EXAMPLE_PEER,))
        self.assertEqual((policy.rules, policy.filters), ((), ()))

    def test_documented_example(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        section = text[text.index("### A complete peer") :]
        found = re.search(r"```\n(.*?)```", section, re.DOTALL)
        assert found is not None
        example = found.group(1)
        self.assertEqual(load(example).peers, (EXAMPLE_PEER,))

    def test_documented_statements(self) -> None:
        """The documentation names every IKE statement and keyword."""
        text = DOCS.read_text(encoding="utf-8").lower()
        for word in (
            *IKE_STATEMENTS,
            "localsecurityendpointref",
            "remotesecurityendpointref",
            "keyexchangeofferref",
            "ipdataofferref",
            "keyexchangeruleref",
            "ipdynvpnactionref",
            "keyexchangeactionref",
            "sharedkey",
            "ikeport",
            "autoactivate",
            "pfs",
            "peereku",
        ):
            self.assertIn(f"`{word}", text)

    def test_with_filters(self) -> None:
        """Filter statements work as before beside the IKE ones."""
        filters = block(
            "IpFilterRule strongswan-peer",
            "IpSourceAddr All4",
            "IpDestAddr All4",
            "IpService",
            "{",
            "Protocol udp",
            "SourcePortRange 5500",
            "}",
            "IpGenericFilterActionRef permit",
        ) + block("IpGenericFilterAction permit", "IpFilterAction permit")
        alone = load(filters)
        policy = load(filters + EXAMPLE)
        self.assertEqual(policy.rules, alone.rules)
        self.assertEqual(policy.filters, alone.filters)
        self.assertEqual(len(policy.filters), 2)
        self.assertEqual(policy.peers, (EXAMPLE_PEER,))
        # Interleaved, too.
        self.assertEqual(load(EXAMPLE + filters), policy)

    def test_load_file(self) -> None:
        path = os.path.abspath(self.mktemp())
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(EXAMPLE)
        policy = load_stack_policy(path)
        self.assertEqual(policy.peers, (EXAMPLE_PEER,))
        self.assertEqual(policy, load_stack_policy(path))
        self.assertEqual(hash(policy), hash(load_stack_policy(path)))

    def test_no_peers(self) -> None:
        """A file without IKE statements defines no peers."""
        self.assertEqual(load("").peers, ())
        self.assertEqual(StackPolicy("p", (), ()).peers, ())


class MeaningTests(SynchronousTestCase):
    """
    Each keyword's values and defaults, and how the statements combine
    into peers and CHILD_SAs.
    """

    def test_defaults(self) -> None:
        """
        What a minimal file leaves to defaults: port 500, Either, signature
        authentication, HMAC_SHA2_256, 240 and 60 minutes, AES 128, Tunnel,
        no PFS, no AutoActivate, every protocol and port.
        """
        result = only_peer(BASE)
        self.assertEqual(
            result,
            PeerPolicy(
                name="peer",
                action="ike",
                localAddress=ipaddress.ip_address("192.0.2.1"),
                remoteAddress=ipaddress.ip_address("192.0.2.2"),
                localIdentity=LocalIdentity(IdType.FQDN, "me.test"),
                remoteIdentity=None,
                proposals=(
                    IkeProposal(
                        EncrId.AES_GCM_16,
                        128,
                        IntegId.NONE,
                        PrfId.HMAC_SHA2_256,
                        DhGroupId.ECP_256,
                    ),
                ),
                children=(
                    ChildPolicy(
                        name="vpn",
                        action="esp",
                        localSelectors=(Selector(ipaddress.ip_network("10.2.0.0/24")),),
                        remoteSelectors=(
                            Selector(ipaddress.ip_network("10.1.0.0/24")),
                        ),
                        proposals=(EspProposal(EncrId.AES_GCM_16, 128, IntegId.NONE),),
                    ),
                ),
            ),
        )
        self.assertEqual(
            (result.localPort, result.remotePort, result.lifetime), (500, 500, 14400)
        )
        self.assertEqual(result.children[0].lifetime, 3600)
        self.assertIs(result.peerEku, PeerEku.IKE)
        self.assertEqual(result.dpdInterval, 0)

    def test_default_cipher(self) -> None:
        """IBM's default HowToEncrypt is AES_CBC KeyLength 128."""
        text = peer() + ike(offers=[("HowToAuthMsgs HMAC_SHA2_384_192", "DHGroup 14")])
        (proposal,) = only_peer(text).proposals
        self.assertEqual(
            proposal,
            IkeProposal(
                EncrId.AES_CBC,
                128,
                IntegId.HMAC_SHA2_384_192,
                PrfId.HMAC_SHA2_256,
                DhGroupId.MODP_2048,
            ),
        )
        child = only_child(
            peer() + ike() + vpn() + esp(offers=[("HowToAuth ESP HMAC_SHA2_512_256",)])
        )
        self.assertEqual(
            child.proposals,
            (EspProposal(EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_512_256),),
        )

    def test_ike_algorithms(self) -> None:
        """Every cipher, key length, integrity, PRF and group of the subset."""
        cases = [
            (
                (
                    "HowToEncrypt aes_cbc keylength 192",
                    "HowToAuthMsgs HMAC_SHA2_512_256",
                ),
                EncrId.AES_CBC,
                192,
                IntegId.HMAC_SHA2_512_256,
            ),
            (("HowToEncrypt AES_GCM_16 KeyLength 256",), EncrId.AES_GCM_16, 256, None),
            (("HowToEncrypt AES_GCM_16",), EncrId.AES_GCM_16, 128, None),
        ]
        for lines, encr, bits, integ in cases:
            (proposal,) = only_peer(
                peer() + ike(offers=[(*lines, "DHGroup Group20")])
            ).proposals
            self.assertEqual(
                (proposal.encr, proposal.keyBits, proposal.integ),
                (encr, bits, integ or IntegId.NONE),
            )
        for spelled, prf in (
            ("HMAC_SHA2_256", PrfId.HMAC_SHA2_256),
            ("hmac_sha2_384", PrfId.HMAC_SHA2_384),
            ("HMAC_SHA2_512", PrfId.HMAC_SHA2_512),
        ):
            offer = (*GCM_IKE, f"PseudoRandomFunction {spelled}")
            (proposal,) = only_peer(peer() + ike(offers=[offer])).proposals
            self.assertEqual(proposal.prf, prf)
        for spelled, group in (
            ("Group14", DhGroupId.MODP_2048),
            ("group15", DhGroupId.MODP_3072),
            ("19", DhGroupId.ECP_256),
            ("GROUP20", DhGroupId.ECP_384),
            ("31", DhGroupId.CURVE_25519),
        ):
            grouped = ("HowToEncrypt AES_GCM_16", f"DHGroup {spelled}")
            (proposal,) = only_peer(peer() + ike(offers=[grouped])).proposals
            self.assertEqual(proposal.dh, group)

    def test_offer_order(self) -> None:
        """
        Offers keep file order, inline and referenced alike, and a named
        offer may serve several actions.
        """
        text = (
            peer()
            + block("KeyExchangeOffer o20", "HowToEncrypt AES_GCM_16", "DHGroup 20")
            + block(
                "KeyExchangeAction ike",
                "KeyExchangeOffer",
                "{",
                "HowToEncrypt AES_GCM_16",
                "DHGroup 19",
                "}",
                "KeyExchangeOfferRef o20",
                "KeyExchangeOffer",
                "{",
                "HowToEncrypt AES_GCM_16",
                "DHGroup 31",
                "}",
            )
            + block("KeyExchangeAction other", "KeyExchangeOfferRef o20")
        )
        groups = [p.dh for p in only_peer(text).proposals]
        self.assertEqual(
            groups, [DhGroupId.ECP_256, DhGroupId.ECP_384, DhGroupId.CURVE_25519]
        )
        text = (
            peer()
            + ike()
            + vpn()
            + block("IpDataOffer d256", "HowToEncrypt AES_GCM_16 KeyLength 256")
            + block(
                "IpDynVpnAction esp",
                "IpDataOfferRef d256",
                "IpDataOffer",
                "{",
                "HowToEncrypt AES_GCM_16 KeyLength 192",
                "}",
            )
        )
        bits = [p.keyBits for p in only_child(text).proposals]
        self.assertEqual(bits, [256, 192])

    def test_lifetimes(self) -> None:
        """
        The first offer's RefreshLifetimeProposed, in minutes, is the
        lifetime; later offers may repeat it.
        """
        offers = [
            (*GCM_IKE, "RefreshLifetimeProposed 30"),
            ("HowToEncrypt AES_GCM_16", "DHGroup 31", "RefreshLifetimeProposed 30"),
            ("HowToEncrypt AES_GCM_16", "DHGroup 20"),
        ]
        data = [("HowToEncrypt AES_GCM_16", "RefreshLifetimeProposed 5"), GCM_ESP]
        result = only_peer(peer() + ike(offers=offers) + vpn() + esp(offers=data))
        self.assertEqual(result.lifetime, 30 * 60)
        self.assertEqual(result.children[0].lifetime, 5 * 60)
        offers = [GCM_IKE, ("HowToEncrypt AES_GCM_16", "DHGroup 31")]
        self.assertEqual(only_peer(peer() + ike(offers=offers)).lifetime, 240 * 60)

    def test_identities(self) -> None:
        """Each Identity kind becomes its ID type; a value is kept as written."""
        cases = [
            ("IpAddr 192.0.2.1", IdType.IPV4_ADDR, "192.0.2.1"),
            ("ipaddr 2001:DB8::0001", IdType.IPV6_ADDR, "2001:db8::1"),
            ("Fqdn Host-1.example.TEST", IdType.FQDN, "Host-1.example.TEST"),
            (
                "UserAtFqdn ike.admin@iked.test",
                IdType.RFC822_ADDR,
                "ike.admin@iked.test",
            ),
            (
                'X500dn "CN=strongswan.iked.test,O=iked test,C=CH"',
                IdType.DER_ASN1_DN,
                "CN=strongswan.iked.test,O=iked test,C=CH",
            ),
            ("X500DN CN=moon", IdType.DER_ASN1_DN, "CN=moon"),
        ]
        for written, idType, value in cases:
            result = only_peer(
                peer(
                    local=(f"Identity {written}", "Location 192.0.2.1"),
                    remote=(f"Identity {written}", "Location 192.0.2.2"),
                )
                + ike()
            )
            expected = LocalIdentity(idType, value)
            self.assertEqual(
                (result.localIdentity, result.remoteIdentity), (expected,) * 2
            )

    def test_ipv6_and_ports(self) -> None:
        result = only_peer(
            peer(
                local=("Identity Fqdn me.test", "Location 2001:db8::1", "IkePort 1"),
                remote=("Location 2001:DB8::2", "IkePort 65535"),
            )
            + ike()
        )
        self.assertEqual(
            (result.localAddress, result.remoteAddress),
            (ipaddress.ip_address("2001:db8::1"), ipaddress.ip_address("2001:db8::2")),
        )
        self.assertEqual((result.localPort, result.remotePort), (1, 65535))

    def test_named_endpoints(self) -> None:
        """Endpoints coded on their own serve every rule that names them."""
        text = (
            block(
                "KeyExchangeRule a",
                "LocalSecurityEndpointRef me",
                "RemoteSecurityEndpointRef far",
                "KeyExchangeActionRef ike",
            )
            + block("LocalSecurityEndpoint me", "Identity Fqdn me.test", "Location ::1")
            + block("RemoteSecurityEndpoint far", "Location ::2", "IkePort 4500")
            + block(
                "KeyExchangeRule b",
                "LocalSecurityEndpointRef me",
                "RemoteSecurityEndpoint",
                "{",
                "Location ::3",
                "}",
                "KeyExchangeActionRef ike",
            )
            + ike()
        )
        a, b = load(text).peers
        self.assertEqual(
            (a.localAddress, a.remoteAddress, a.remotePort),
            (ipaddress.ip_address("::1"), ipaddress.ip_address("::2"), 4500),
        )
        self.assertEqual(
            (b.localAddress, b.remoteAddress, b.remotePort),
            (ipaddress.ip_address("::1"), ipaddress.ip_address("::3"), 500),
        )
        self.assertEqual(a.localIdentity, b.localIdentity)

    def test_authentication(self) -> None:
        """
        Both signature methods are the engine's signature authentication; a
        preshared key comes from the rule, Ascii or Hex, and asks for no
        certificates.
        """
        for method in ("DsSignature", "rsasignature"):
            result = only_peer(peer() + ike(f"HowToAuthPeers {method}"))
            self.assertEqual(
                (result.auth, result.sharedKey, result.sendCertRequest),
                (AuthKind.SIGNATURE, None, True),
            )
        for written, key in (
            (f"Ascii {SECRET}", SECRET.encode()),
            ('ascii "two words"', b"two words"),
            ("Hex 0a0B0c", b"\x0a\x0b\x0c"),
            ("HEX 0xFF00", b"\xff\x00"),
        ):
            result = only_peer(
                peer(f"SharedKey {written}") + ike("HowToAuthPeers PresharedKey")
            )
            self.assertEqual(
                (result.auth, result.sharedKey, result.sendCertRequest),
                (AuthKind.PRESHARED_KEY, key, False),
            )

    def test_peer_eku(self) -> None:
        """
        A peer's certificate may name the TLS purposes only where its
        KeyExchangeAction says IkeOrTls.
        """
        for spelled, eku in (
            ("Ike", PeerEku.IKE),
            ("ikeortls", PeerEku.IKE_OR_TLS),
            ("IKEORTLS", PeerEku.IKE_OR_TLS),
        ):
            result = only_peer(peer() + ike(f"PeerEku {spelled}"))
            self.assertIs(result.peerEku, eku)

    def test_dpd_interval(self) -> None:
        """Dead peer detection, in seconds, per KeyExchangeAction."""
        for spelled, seconds in (("30", 30), ("0", 0), ("86400", 86400)):
            result = only_peer(peer() + ike(f"DpdInterval {spelled}"))
            self.assertEqual(result.dpdInterval, seconds)

    def test_initiation(self) -> None:
        for spelled, initiation in (
            ("LocalOnly", Initiation.LOCAL_ONLY),
            ("remoteonly", Initiation.REMOTE_ONLY),
            ("Either", Initiation.EITHER),
        ):
            result = only_peer(
                peer()
                + ike(
                    f"Initiation {spelled}", "HowToInitiate ikev2", "HowToRespond IKEV2"
                )
                + vpn()
                + esp(f"Initiation {spelled}")
            )
            self.assertEqual(
                (result.initiation, result.children[0].initiation),
                (initiation, initiation),
            )

    def test_pfs(self) -> None:
        """Pfs gives every ESP proposal its group; None gives none."""
        offers = [GCM_ESP, ("HowToEncrypt AES_GCM_16 KeyLength 256",)]
        for spelled, group in (
            ("Group14", DhGroupId.MODP_2048),
            ("31", DhGroupId.CURVE_25519),
            ("None", DhGroupId.NONE),
        ):
            child = only_child(
                peer() + ike() + vpn() + esp(f"Pfs {spelled}", offers=offers)
            )
            self.assertEqual([p.dh for p in child.proposals], [group, group])

    def test_encapsulation(self) -> None:
        """An offer's HowToEncap wins; without it, the action's; else Tunnel."""
        cases = [
            ((), (GCM_ESP,), TunnelMode.TUNNEL),
            (("HowToEncap Transport",), (GCM_ESP,), TunnelMode.TRANSPORT),
            ((), ((*GCM_ESP, "HowToEncap transport"),), TunnelMode.TRANSPORT),
            (
                ("HowToEncap Tunnel",),
                (
                    (*GCM_ESP, "HowToEncap Transport"),
                    (*GCM_ESP, "HowToEncap Transport"),
                ),
                TunnelMode.TRANSPORT,
            ),
        ]
        for lines, offers, mode in cases:
            child = only_child(peer() + ike() + vpn() + esp(*lines, offers=offers))
            self.assertEqual(child.mode, mode)

    def test_selectors(self) -> None:
        """
        IpSourceAddr and SourcePortRange are our side, IpDestAddr and
        DestinationPortRange the peer's.
        """
        child = only_child(
            peer()
            + ike()
            + vpn(
                "Protocol TCP",
                "SourcePortRange 22",
                "DestinationPortRange 1024 65535",
                source="192.0.2.1",
                destination="All4",
            )
            + esp()
        )
        self.assertEqual(
            (child.localSelectors, child.remoteSelectors),
            (
                (Selector(ipaddress.ip_network("192.0.2.1/32"), 6, 22, 22),),
                (Selector(ipaddress.ip_network("0.0.0.0/0"), 6, 1024, 65535),),
            ),
        )
        for written, number in (("udp", 17), ("ICMP", 1), ("50", 50), ("All", 0)):
            child = only_child(peer() + ike() + vpn(f"Protocol {written}") + esp())
            self.assertEqual(
                [s.protocol for s in child.localSelectors + child.remoteSelectors],
                [number, number],
            )
        child = only_child(
            peer()
            + ike()
            + vpn("SourcePortRange 0", source="2001:db8::/32", destination="All6")
            + esp()
        )
        self.assertEqual(
            child.localSelectors, (Selector(ipaddress.ip_network("2001:db8::/32")),)
        )
        self.assertEqual(
            child.remoteSelectors, (Selector(ipaddress.ip_network("::/0")),)
        )

    def test_auto_activate(self) -> None:
        for value, expected in (("Yes", True), ("no", False)):
            child = only_child(peer() + ike() + vpn(f"AutoActivate {value}") + esp())
            self.assertIs(child.autoActivate, expected)

    def test_children(self) -> None:
        """
        Each peer gets the LocalDynVpnRules that name it, in file order; a
        lone peer needs no KeyExchangeRuleRef.
        """
        text = (
            peer(name="a")
            + vpn("KeyExchangeRuleRef b", name="v1")
            + peer(name="b", remote=("Location 192.0.2.3",))
            + vpn("KeyExchangeRuleRef a", name="v2")
            + vpn("KeyExchangeRuleRef b", name="v3")
            + peer(name="c", remote=("Location 192.0.2.4",))
            + ike()
            + esp()
        )
        a, b, c = load(text).peers
        self.assertEqual([p.name for p in (a, b, c)], ["a", "b", "c"])
        self.assertEqual([ch.name for ch in a.children], ["v2"])
        self.assertEqual([ch.name for ch in b.children], ["v1", "v3"])
        self.assertEqual(c.children, ())
        text = vpn(name="v1") + vpn(name="v2") + peer() + ike() + esp()
        self.assertEqual([ch.name for ch in only_peer(text).children], ["v1", "v2"])

    def test_case(self) -> None:
        """Keywords and values are case-insensitive; names are not."""
        # The example's names and identities are in lower case already.
        self.assertEqual(load(EXAMPLE.lower()).peers, (EXAMPLE_PEER,))
        (shouted,) = load(EXAMPLE.upper()).peers
        self.assertEqual(
            shouted,
            replace(
                EXAMPLE_PEER,
                name="STRONGSWAN-PEER",
                action="IKE-V2-CERT",
                localIdentity=LocalIdentity(IdType.FQDN, "IKED.IKED.TEST"),
                remoteIdentity=LocalIdentity(IdType.FQDN, "STRONGSWAN.IKED.TEST"),
                children=(replace(EXAMPLE_CHILD, name="HOST-HOST", action="ESP-GCM"),),
            ),
        )
        text = peer(action="IKE") + ike(name="ike")
        error = self.assertRaises(ConfigurationError, load, text)
        self.assertIn("no KeyExchangeAction is named 'IKE'", error.message)

    def test_last_wins(self) -> None:
        """A repeated keyword: the last value counts, as in the filter statements."""
        result = only_peer(
            peer(
                local=(
                    "Identity Fqdn first.test",
                    "Identity Fqdn me.test",
                    "Location 192.0.2.9",
                    "Location 192.0.2.1",
                )
            )
            + ike("Initiation LocalOnly", "Initiation Either")
        )
        self.assertEqual(
            (result.localIdentity.value, str(result.localAddress), result.initiation),
            ("me.test", "192.0.2.1", Initiation.EITHER),
        )

    def test_inline_names(self) -> None:
        """An inline endpoint or offer may carry a name, which names nothing."""
        text = (
            block(
                "KeyExchangeRule peer",
                "LocalSecurityEndpoint here",
                "{",
                "Identity Fqdn me.test",
                "Location 192.0.2.1",
                "}",
                "RemoteSecurityEndpoint there {",
                "Location 192.0.2.2",
                "}",
                "KeyExchangeActionRef ike",
            )
            + ike()
        )
        self.assertEqual(only_peer(text).localIdentity.value, "me.test")

    def test_equality(self) -> None:
        """Policies compare and hash by content, the shared key included."""
        psk = peer(f"SharedKey Ascii {SECRET}") + ike("HowToAuthPeers PresharedKey")
        self.assertEqual(load(psk), load(psk))
        self.assertEqual(hash(load(psk)), hash(load(psk)))
        other = psk.replace(SECRET, SECRET + "x")
        self.assertNotEqual(load(psk), load(other))


class ErrorTests(SynchronousTestCase):
    """
    Every error names the file, the line and the keyword or statement.
    """

    def assertBad(
        self, text: str, marker: str, keyword: str, message: str
    ) -> ConfigurationError:
        """
        C{text} fails at the line holding C{marker}, naming C{keyword}, with
        C{message} in its text.
        """
        line = line_of(text, marker)
        error: ConfigurationError = self.assertRaises(ConfigurationError, load, text)
        self.assertEqual(
            (error.filename, error.line, error.keyword), ("p.policy", line, keyword)
        )
        self.assertIn(message, error.message)
        self.assertTrue(str(error).startswith(f"p.policy:{line}: {keyword}: "))
        return error

    def test_dangling_references(self) -> None:
        cases = [
            (peer(action="gold") + ike(), "KeyExchangeActionRef", "KeyExchangeAction"),
            (
                block(
                    "KeyExchangeRule peer",
                    "LocalSecurityEndpointRef gold",
                    "RemoteSecurityEndpoint",
                    "{",
                    "Location 192.0.2.2",
                    "}",
                    "KeyExchangeActionRef ike",
                )
                + ike(),
                "LocalSecurityEndpointRef",
                "LocalSecurityEndpoint",
            ),
            (
                peer("RemoteSecurityEndpointRef gold", remote=None) + ike(),
                "RemoteSecurityEndpointRef",
                "RemoteSecurityEndpoint",
            ),
            (
                peer() + ike("KeyExchangeOfferRef gold"),
                "KeyExchangeOfferRef",
                "KeyExchangeOffer",
            ),
            (
                peer() + ike() + vpn() + esp("IpDataOfferRef gold"),
                "IpDataOfferRef",
                "IpDataOffer",
            ),
            (
                peer() + ike() + vpn("KeyExchangeRuleRef gold") + esp(),
                "KeyExchangeRuleRef",
                "KeyExchangeRule",
            ),
            (
                peer() + ike() + vpn(action="gold") + esp(),
                "IpDynVpnActionRef",
                "IpDynVpnAction",
            ),
        ]
        for text, keyword, kind in cases:
            self.assertBad(text, keyword, keyword, f"no {kind} is named 'gold'")

    def test_duplicate_names(self) -> None:
        text = BASE + peer(name="peer", remote=("Location 192.0.2.99",))
        error = self.assertRaises(ConfigurationError, load, text)
        self.assertEqual(
            (error.line, error.keyword),
            (len(BASE.split("\n")), "KeyExchangeRule"),
        )
        self.assertIn(
            "already the name of the KeyExchangeRule of line 1", error.message
        )
        text = BASE + esp(
            name="esp", offers=[("HowToEncrypt AES_GCM_16 KeyLength 256",)]
        )
        error = self.assertRaises(ConfigurationError, load, text)
        self.assertEqual(error.keyword, "IpDynVpnAction")
        self.assertIn("already the name of the IpDynVpnAction", error.message)
        # Different kinds may share a name.
        text = (
            peer(action="x", name="x")
            + ike(name="x")
            + vpn(action="x", name="x")
            + esp(name="x")
            + block("LocalSecurityEndpoint x", "Identity Fqdn a.test", "Location ::1")
            + block("RemoteSecurityEndpoint x", "Location ::1")
            + block("IpDataOffer x", *GCM_ESP)
            + block("KeyExchangeOffer x", *GCM_IKE)
        )
        self.assertEqual(only_peer(text).name, "x")

    def test_names(self) -> None:
        text = BASE + "IpDataOffer\n{\n  HowToEncrypt AES_GCM_16 KeyLength 256\n}\n"
        error = self.assertRaises(ConfigurationError, load, text)
        self.assertEqual(
            (error.keyword, error.line), ("IpDataOffer", len(BASE.split("\n")))
        )
        self.assertIn("needs a name", error.message)
        self.assertBad(
            peer(name="-peer") + ike(),
            "KeyExchangeRule -peer",
            "KeyExchangeRule",
            "must be 1 to 32",
        )

    def test_groups(self) -> None:
        for value in ("Group2", "Group5", "21", "None", "Group014", "ecp256"):
            self.assertBad(
                peer() + ike(offers=[("HowToEncrypt AES_GCM_16", f"DHGroup {value}")]),
                "DHGroup",
                "DHGroup",
                "must be Group14, Group15, Group19, Group20 or Group31",
            )
        self.assertBad(
            BASE.replace(
                "IpDynVpnAction esp\n{\n", "IpDynVpnAction esp\n{\n  Pfs Group1\n"
            ),
            "Pfs",
            "Pfs",
            "must be Group14, Group15, Group19, Group20, Group31 or None",
        )

    def test_ike_integrity(self) -> None:
        self.assertBad(
            peer() + ike(offers=[(*GCM_IKE, "HowToAuthMsgs HMAC_SHA2_256_128")]),
            "HowToAuthMsgs",
            "HowToAuthMsgs",
            "must not be coded with AES_GCM_16",
        )
        self.assertBad(
            peer() + ike(offers=[("HowToEncrypt AES_CBC KeyLength 256", "DHGroup 19")]),
            "KeyExchangeOffer",
            "KeyExchangeOffer",
            "HowToAuthMsgs missing: AES_CBC needs one",
        )
        self.assertBad(
            peer() + ike(offers=[(*GCM_IKE, "HowToAuthMsgs SHA1")]),
            "HowToAuthMsgs",
            "HowToAuthMsgs",
            "must be HMAC_SHA2_256_128, HMAC_SHA2_384_192 or HMAC_SHA2_512_256",
        )

    def test_data_integrity(self) -> None:
        self.assertBad(
            peer()
            + ike()
            + vpn()
            + esp(offers=[(*GCM_ESP, "HowToAuth ESP HMAC_SHA2_256_128")]),
            "HowToAuth",
            "HowToAuth",
            "must not be coded with AES_GCM_16",
        )
        self.assertBad(
            peer() + ike() + vpn() + esp(offers=[("HowToEncrypt AES_CBC",)]),
            "IpDataOffer",
            "IpDataOffer",
            "HowToAuth missing: AES_CBC needs one",
        )
        for value in ("AH HMAC_SHA2_256_128", "ah"):
            self.assertBad(
                peer()
                + ike()
                + vpn()
                + esp(offers=[("HowToEncrypt AES_CBC", f"HowToAuth {value}")]),
                "HowToAuth",
                "HowToAuth",
                "AH is not supported",
            )
        for value in ("HMAC_SHA2_256_128", "ESP", "ESP HMAC_SHA2_256_128 x"):
            self.assertBad(
                peer()
                + ike()
                + vpn()
                + esp(offers=[("HowToEncrypt AES_CBC", f"HowToAuth {value}")]),
                "HowToAuth",
                "HowToAuth",
                "takes ESP and an integrity algorithm",
            )
        self.assertBad(
            peer()
            + ike()
            + vpn()
            + esp(offers=[("HowToEncrypt AES_CBC", "HowToAuth ESP HMAC_MD5")]),
            "HowToAuth",
            "HowToAuth",
            "the algorithm must be HMAC_SHA2_256_128",
        )

    def test_ciphers(self) -> None:
        for value in (
            "DES",
            "AES",
            "AES_GCM_16 KeyLength 512",
            "AES_CBC KeyLength",
            "AES_CBC 128",
            "AES_CBC KeySize 128",
            "",
        ):
            self.assertBad(
                peer() + ike(offers=[(f"HowToEncrypt {value}", "DHGroup 19")]),
                f"HowToEncrypt {value}".strip(),
                "HowToEncrypt",
                "must be AES_CBC or AES_GCM_16",
            )
            self.assertBad(
                peer() + ike() + vpn() + esp(offers=[(f"HowToEncrypt {value}",)]),
                f"HowToEncrypt {value}".strip(),
                "HowToEncrypt",
                "must be AES_CBC or AES_GCM_16",
            )

    def test_ikev1(self) -> None:
        for keyword in ("HowToInitiate", "HowToRespond"):
            for value in ("Main", "aggressive", "Either"):
                self.assertBad(
                    peer() + ike(f"{keyword} {value}"),
                    keyword,
                    keyword,
                    "IKEv1 is not supported",
                )
            self.assertBad(
                peer() + ike(f"{keyword} IKEv3"), keyword, keyword, "must be IKEv2"
            )
        self.assertBad(
            peer() + ike("HowToInitiate DoNot"),
            "HowToInitiate",
            "HowToInitiate",
            "code Initiation RemoteOnly",
        )

    def test_identity(self) -> None:
        cases = [
            ("Identity Fqdn", "takes a kind and a value"),
            ("Identity X500dn CN=a b,O=c", "takes a kind and a value"),
            ("Identity KeyId 0102", "must be IpAddr, Fqdn, UserAtFqdn or X500dn"),
            ("Identity IpAddr 192.0.2.0/24", "must be one IPv4 or IPv6 address"),
            ("Identity IpAddr fe80::1%eth0", "must be one IPv4 or IPv6 address"),
            ("Identity Fqdn bad..name", "is not a host name"),
            ("Identity Fqdn -bad.name", "is not a host name"),
            (
                "Identity Fqdn b\N{LATIN SMALL LETTER E WITH ACUTE}.test",
                "is not a host name",
            ),
            ("Identity Fqdn a@b.test", "is not a host name"),
            ("Identity UserAtFqdn nobody", "is not an e-mail address"),
            ("Identity UserAtFqdn @iked.test", "is not an e-mail address"),
            ("Identity UserAtFqdn a@@iked.test", "is not an e-mail address"),
            ("Identity UserAtFqdn a@", "is not an e-mail address"),
            ('Identity X500dn "CN=a, O=b"', "not a distinguished name in RFC 4514"),
            ('Identity X500dn "T=IKE"', "not a distinguished name"),
            ('Identity X500dn ""', "not a distinguished name"),
            ('Identity X500dn "C=USA"', "not a distinguished name"),
        ]
        for setting, message in cases:
            for side in ("local", "remote"):
                ends = {
                    "local": ("Identity Fqdn me.test", "Location 192.0.2.1"),
                    "remote": ("Location 192.0.2.2",),
                }
                ends[side] = (*ends[side], setting)
                self.assertBad(
                    peer(local=ends["local"], remote=ends["remote"]) + ike(),
                    setting,
                    "Identity",
                    message,
                )

    def test_location(self) -> None:
        for value in ("192.0.2.0/24", "192.0.2.1 192.0.2.2", "host.test", "", "All"):
            self.assertBad(
                peer(remote=(f"Location {value}",)) + ike(),
                f"Location {value}".strip(),
                "Location",
                "IPv4 or IPv6 address",
            )
        self.assertBad(
            peer(remote=("Location 2001:db8::2",)) + ike(),
            "KeyExchangeRule",
            "KeyExchangeRule",
            "peer: the Locations of its LocalSecurityEndpoint and"
            " RemoteSecurityEndpoint are of different address families",
        )

    def test_ports(self) -> None:
        for value in ("0", "65536", "abc", "4500 4501", "-1", "+500"):
            self.assertBad(
                peer(remote=("Location 192.0.2.2", f"IkePort {value}")) + ike(),
                "IkePort",
                "IkePort",
                "takes exactly one value"
                if " " in value
                else "must be a port from 1 to 65535",
            )

    def test_lifetimes(self) -> None:
        for value in ("0", "65536", "1.5", "four"):
            self.assertBad(
                peer() + ike(offers=[(*GCM_IKE, f"RefreshLifetimeProposed {value}")]),
                "RefreshLifetimeProposed",
                "RefreshLifetimeProposed",
                "must be 1 to 65535 minutes",
            )
        self.assertBad(
            peer()
            + ike(
                offers=[
                    GCM_IKE,
                    (
                        "HowToEncrypt AES_GCM_16",
                        "DHGroup 31",
                        "RefreshLifetimeProposed 480",
                    ),
                ]
            ),
            "KeyExchangeAction",
            "KeyExchangeAction",
            "propose different RefreshLifetimeProposed",
        )
        text = (
            peer()
            + ike()
            + vpn()
            + esp(
                offers=[
                    (*GCM_ESP, "RefreshLifetimeProposed 30"),
                    (*GCM_ESP, "RefreshLifetimeProposed 60"),
                ]
            )
        )
        error = self.assertBad(
            text, "IpDynVpnAction", "IpDynVpnAction", "propose different"
        )
        first = line_of(text, "RefreshLifetimeProposed 30") - 3
        second = line_of(text, "RefreshLifetimeProposed 60") - 3
        self.assertIn(f"lines {first} and {second}", error.message)

    def test_dpd_interval(self) -> None:
        for value in ("86401", "-1", "2.5", "often", "1000000"):
            self.assertBad(
                peer() + ike(f"DpdInterval {value}"),
                "DpdInterval",
                "DpdInterval",
                "must be 0 (off) to 86400 seconds",
            )

    def test_modes(self) -> None:
        text = (
            peer()
            + ike()
            + vpn()
            + esp(offers=[GCM_ESP, (*GCM_ESP, "HowToEncap Transport")])
        )
        self.assertBad(text, "IpDynVpnAction", "IpDynVpnAction", "differ in HowToEncap")
        self.assertBad(
            peer() + ike() + vpn() + esp("HowToEncap Either"),
            "HowToEncap",
            "HowToEncap",
            "must be Tunnel or Transport",
        )

    def test_shared_key_required(self) -> None:
        self.assertBad(
            peer() + ike("HowToAuthPeers PresharedKey"),
            "KeyExchangeRule",
            "KeyExchangeRule",
            "peer: SharedKey missing: its KeyExchangeAction ike authenticates"
            " with PresharedKey",
        )

    def test_shared_key_refused(self) -> None:
        for method in ("", "HowToAuthPeers RsaSignature"):
            lines = (method,) if method else ()
            error = self.assertBad(
                peer(f"SharedKey Ascii {SECRET}") + ike(*lines),
                "SharedKey",
                "SharedKey",
                "is only for HowToAuthPeers PresharedKey",
            )
            self.assertNotIn(SECRET, str(error))

    def test_peer_eku_values(self) -> None:
        self.assertBad(
            peer() + ike("PeerEku Tls"), "PeerEku", "PeerEku", "must be Ike or IkeOrTls"
        )
        self.assertBad(
            peer(f"SharedKey Ascii {SECRET}")
            + ike("HowToAuthPeers PresharedKey", "PeerEku IkeOrTls"),
            "PeerEku",
            "PeerEku",
            "HowToAuthPeers PresharedKey uses none",
        )

    def test_shared_key_values(self) -> None:
        for value, message in (
            (f"Ebcdic {SECRET}", "must be Ascii or Hex"),
            (f"{SECRET}", "takes Ascii or Hex and the key"),
            (f"Ascii {SECRET} {SECRET}", "takes Ascii or Hex and the key"),
            (f'Ascii "{SECRET}\N{EURO SIGN}"', "printable ASCII"),
            ('Ascii ""', "printable ASCII"),
            ("Hex 0a0", "even number of hexadecimal digits"),
            ("Hex 0x", "even number of hexadecimal digits"),
            ("Hex 0g", "even number of hexadecimal digits"),
        ):
            self.assertBad(
                peer(f"SharedKey {value}") + ike("HowToAuthPeers PresharedKey"),
                "SharedKey",
                "SharedKey",
                message,
            )

    def test_rule_unreferenced(self) -> None:
        """A LocalDynVpnRule without KeyExchangeRuleRef needs exactly one peer."""
        text = (
            peer(name="a")
            + peer(name="b", remote=("Location 192.0.2.3",))
            + ike()
            + vpn()
            + esp()
        )
        self.assertBad(
            text,
            "LocalDynVpnRule",
            "LocalDynVpnRule",
            "vpn: KeyExchangeRuleRef missing: the file has 2 KeyExchangeRules",
        )
        self.assertBad(
            vpn() + esp(),
            "LocalDynVpnRule",
            "LocalDynVpnRule",
            "the file has 0 KeyExchangeRules",
        )

    def test_selectors(self) -> None:
        self.assertBad(
            peer() + ike() + vpn(destination="2001:db8::/32") + esp(),
            "LocalDynVpnRule",
            "LocalDynVpnRule",
            "vpn: IpSourceAddr and IpDestAddr are of different address families",
        )
        self.assertBad(
            peer() + ike() + vpn(source="All") + esp(),
            "IpSourceAddr",
            "IpSourceAddr",
            "code All4 or All6",
        )
        self.assertBad(
            peer() + ike() + vpn(destination="10.1.0.1/24") + esp(),
            "IpDestAddr",
            "IpDestAddr",
            "must be an IP address",
        )
        for lines in (
            ("DestinationPortRange 80",),
            ("Protocol ICMP", "SourcePortRange 7"),
        ):
            self.assertBad(
                peer() + ike() + vpn(*lines) + esp(),
                lines[-1],
                lines[-1].split()[0],
                "needs Protocol TCP or UDP",
            )
        self.assertBad(
            peer() + ike() + vpn("Protocol 0") + esp(),
            "Protocol",
            "Protocol",
            "must be All, TCP, UDP, ICMP or a number from 1 to 255",
        )

    def test_auto_activate(self) -> None:
        self.assertBad(
            peer() + ike() + vpn("AutoActivate Yes") + esp("Initiation RemoteOnly"),
            "AutoActivate",
            "AutoActivate",
            "Yes needs an IpDynVpnAction that may initiate, and esp has"
            " Initiation RemoteOnly",
        )
        self.assertBad(
            peer() + ike() + vpn("AutoActivate Maybe") + esp(),
            "AutoActivate",
            "AutoActivate",
            "must be Yes or No",
        )

    def test_initiation(self) -> None:
        for text in (
            peer() + ike("Initiation Both"),
            BASE.replace(
                "IpDynVpnAction esp\n{\n", "IpDynVpnAction esp\n{\n  Initiation Both\n"
            ),
        ):
            self.assertBad(
                text,
                "Initiation",
                "Initiation",
                "must be LocalOnly, RemoteOnly or Either",
            )
        self.assertBad(
            peer() + ike("HowToAuthPeers ECDSA-256"),
            "HowToAuthPeers",
            "HowToAuthPeers",
            "must be DsSignature, RsaSignature or PresharedKey",
        )

    def test_missing(self) -> None:
        self.assertBad(
            peer(local=None, remote=None, action=None),
            "KeyExchangeRule",
            "KeyExchangeRule",
            "peer: LocalSecurityEndpoint and RemoteSecurityEndpoint and"
            " KeyExchangeActionRef missing",
        )
        self.assertBad(
            peer(local=("Location 192.0.2.1",)) + ike(),
            "LocalSecurityEndpoint",
            "LocalSecurityEndpoint",
            "LocalSecurityEndpoint: Identity missing",
        )
        self.assertBad(
            peer(remote=("Identity Fqdn far.test",)) + ike(),
            "RemoteSecurityEndpoint",
            "RemoteSecurityEndpoint",
            "RemoteSecurityEndpoint: Location missing",
        )
        self.assertBad(
            BASE + block("LocalSecurityEndpoint me", "Location ::1"),
            "LocalSecurityEndpoint me",
            "LocalSecurityEndpoint",
            "me: Identity missing",
        )
        self.assertBad(
            peer() + ike(offers=[("HowToEncrypt AES_GCM_16",)]),
            "KeyExchangeOffer",
            "KeyExchangeOffer",
            "DHGroup missing",
        )
        self.assertBad(
            peer() + ike(offers=[]),
            "KeyExchangeAction",
            "KeyExchangeAction",
            "ike: KeyExchangeOffer or KeyExchangeOfferRef missing",
        )
        self.assertBad(
            peer() + ike() + vpn() + esp(offers=[]),
            "IpDynVpnAction",
            "IpDynVpnAction",
            "esp: IpDataOffer or IpDataOfferRef missing",
        )
        self.assertBad(
            peer()
            + ike()
            + block("LocalDynVpnRule vpn", "IpDestAddr 10.0.0.0/8")
            + esp(),
            "LocalDynVpnRule",
            "LocalDynVpnRule",
            "vpn: IpSourceAddr and IpDynVpnActionRef missing",
        )

    def test_endpoint_twice(self) -> None:
        text = (
            peer("LocalSecurityEndpointRef me")
            + block("LocalSecurityEndpoint me", "Identity Fqdn me.test", "Location ::1")
            + ike()
        )
        self.assertBad(
            text,
            "LocalSecurityEndpointRef",
            "LocalSecurityEndpointRef",
            "a KeyExchangeRule has one LocalSecurityEndpoint, and line 3 already",
        )
        text = peer("RemoteSecurityEndpoint", "{", "Location 192.0.2.7", "}") + ike()
        error = self.assertRaises(ConfigurationError, load, text)
        self.assertEqual(
            (error.line, error.keyword),
            (line_of(text, "Location 192.0.2.7") - 2, "RemoteSecurityEndpoint"),
        )
        self.assertIn("has one RemoteSecurityEndpoint, and line 8", error.message)

    def test_unknown(self) -> None:
        cases = [
            (
                peer("CaLabel x") + ike(),
                "CaLabel",
                "unknown keyword of KeyExchangeRule",
            ),
            (
                peer(remote=("Location 192.0.2.2", "CaLabel x")) + ike(),
                "CaLabel",
                "unknown keyword of RemoteSecurityEndpoint, which takes Identity,"
                " Location and IkePort",
            ),
            (
                peer() + ike("HowToAuthMe DsSignature"),
                "HowToAuthMe",
                "unknown keyword of KeyExchangeAction",
            ),
            (
                peer() + ike(offers=[(*GCM_IKE, "RefreshLifesizeProposed 10")]),
                "RefreshLifesizeProposed",
                "unknown keyword of KeyExchangeOffer",
            ),
            (
                peer() + ike() + vpn("RemoteIdentity x") + esp(),
                "RemoteIdentity",
                "unknown keyword of LocalDynVpnRule",
            ),
            (
                peer() + ike() + vpn() + esp("VpnLife 10"),
                "VpnLife",
                "unknown keyword of IpDynVpnAction",
            ),
            (
                peer()
                + ike()
                + vpn()
                + esp(offers=[(*GCM_ESP, "RefreshLifesizeProposed 1")]),
                "RefreshLifesizeProposed",
                "unknown keyword of IpDataOffer",
            ),
            (
                peer("LocalSecurityEndpoint me", local=None) + ike(),
                "LocalSecurityEndpoint me",
                "LocalSecurityEndpoint is coded with braces",
            ),
            (
                peer() + ike("KeyExchangeOffer o"),
                "KeyExchangeOffer o",
                "KeyExchangeOfferRef names one coded on its own",
            ),
            (
                peer() + ike() + vpn("IpDataOffer x") + esp(),
                "IpDataOffer x",
                "unknown keyword of LocalDynVpnRule",
            ),
        ]
        for text, marker, message in cases:
            self.assertBad(text, marker, marker.split()[0], message)

    def test_unknown_statement(self) -> None:
        error = self.assertBad(
            BASE + block("KeyExchangePolicy"),
            "KeyExchangePolicy",
            "KeyExchangePolicy",
            "not in nsstwisted's policy subset",
        )
        self.assertIn("KeyExchangeRule", error.message)

    def test_nested(self) -> None:
        cases = [
            (
                peer("KeyExchangeOffer {", *GCM_IKE, "}") + ike(),
                "KeyExchangeOffer {",
                "only LocalSecurityEndpoint or RemoteSecurityEndpoint may be coded"
                " inline",
            ),
            (
                peer() + ike("IpDataOffer {", *GCM_ESP, "}"),
                "IpDataOffer {",
                "only KeyExchangeOffer may be coded inline",
            ),
            (
                peer() + ike() + vpn("IpDataOffer {", *GCM_ESP, "}") + esp(),
                "IpDataOffer {",
                "nothing may be coded inline",
            ),
            (
                peer() + ike() + vpn() + esp("KeyExchangeOffer {", *GCM_IKE, "}"),
                "KeyExchangeOffer {",
                "only IpDataOffer may be coded inline",
            ),
            (
                BASE + "LocalSecurityEndpoint me {\n  Identity x {\n  }\n}\n",
                "Identity x {",
                "is not a statement that LocalSecurityEndpoint may hold",
            ),
        ]
        for text, marker, message in cases:
            self.assertBad(text, marker, marker.split()[0], message)

    def test_inline_name(self) -> None:
        self.assertBad(
            peer("RemoteSecurityEndpoint a,b {", "Location 192.0.2.2", "}", remote=None)
            + ike(),
            "RemoteSecurityEndpoint a,b",
            "RemoteSecurityEndpoint",
            "must be 1 to 32",
        )


class SecretTests(SynchronousTestCase):
    """
    A shared key appears in no representation of the policy and in no
    error, since both reach logs and operators.
    """

    TEXT = peer(f"SharedKey Ascii {SECRET}") + ike("HowToAuthPeers PresharedKey")

    def test_policy(self) -> None:
        policy = load(self.TEXT)
        self.assertEqual(policy.peers[0].sharedKey, SECRET.encode())
        for shown in (
            repr(policy),
            str(policy),
            repr(policy.peers),
            str(policy.peers[0]),
        ):
            self.assertNotIn(SECRET, shown)
        hexed = load(
            peer(f"SharedKey Hex {SECRET.encode().hex()}")
            + ike("HowToAuthPeers PresharedKey")
        )
        self.assertEqual(hexed.peers[0].sharedKey, SECRET.encode())
        self.assertNotIn(SECRET.encode().hex(), repr(hexed))
        self.assertNotIn(SECRET, repr(hexed))

    def test_errors(self) -> None:
        """Every error of a file holding a key, whatever its cause, omits it."""
        hexed = SECRET.encode().hex()
        texts = [
            peer(f"SharedKey Ascii {SECRET}") + ike(),
            peer(f"SharedKey Ebcdic {SECRET}") + ike("HowToAuthPeers PresharedKey"),
            peer(f"SharedKey {SECRET}") + ike("HowToAuthPeers PresharedKey"),
            peer(f"SharedKey Ascii {SECRET} more") + ike("HowToAuthPeers PresharedKey"),
            peer(f'SharedKey Ascii "{SECRET}\N{EURO SIGN}"')
            + ike("HowToAuthPeers PresharedKey"),
            peer(f"SharedKey Hex {hexed}0") + ike("HowToAuthPeers PresharedKey"),
            peer(f"SharedKey Hex {hexed}zz") + ike("HowToAuthPeers PresharedKey"),
            peer() + ike(f"SharedKey Ascii {SECRET}"),
            peer(f"SharedKey Ascii {SECRET}", remote=("Location ::1",))
            + ike("HowToAuthPeers PresharedKey"),
            self.TEXT + block(f"KeyExchangeRule {SECRET[:8]}"),
        ]
        for text in texts:
            error = self.assertRaises(ConfigurationError, load, text)
            for shown in (str(error), repr(error), repr(error.args)):
                self.assertNotIn(SECRET, shown)
                self.assertNotIn(hexed, shown)


class RobustnessTests(SynchronousTestCase):
    """
    Whatever the text, the reader gives a policy or a
    L{ConfigurationError}, never another exception.
    """

    def check(self, text: str) -> None:
        try:
            policy = load(text)
        except ConfigurationError as e:
            str(e)
        else:
            hash(policy)
            repr(policy)

    @fast
    @given(st.data())
    def test_mutated_example(self, data: st.DataObject) -> None:
        """The example with a stretch of it replaced by arbitrary text."""
        start = data.draw(st.integers(0, len(EXAMPLE)))
        end = data.draw(st.integers(start, min(len(EXAMPLE), start + 12)))
        middle = data.draw(st.text(string.printable, max_size=12))
        self.check(EXAMPLE[:start] + middle + EXAMPLE[end:])

    @fast
    @given(st.data())
    def test_mutated_value(self, data: st.DataObject) -> None:
        """The example with one value replaced by an arbitrary word."""
        lines = EXAMPLE.split("\n")
        candidates = [n for n, line in enumerate(lines) if len(line.split()) >= 2]
        index = data.draw(st.sampled_from(candidates))
        words = lines[index].split("#")[0].split()
        position = data.draw(st.integers(1, len(words) - 1))
        words[position] = data.draw(
            st.text(
                st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
                min_size=1,
                max_size=20,
            ).filter(lambda w: not set(w) & set('{}"#'))
        )
        lines[index] = " ".join(words)
        self.check("\n".join(lines))
