"""
IKE fragmentation (RFC 7383) against a real strongSwan over a path whose
MTU is 1280 and which drops IP fragments, as the firewalls and home routers
of the issue do.

Two network namespaces, linked by a veth pair with an MTU of 1280 on both
ends: iked's stack (a local-ring C{TcpipStack}, so that no nssd is needed)
makes its IKE socket in one, charon runs in the other.  A classic BPF
filter on each end's ingress drops every IP fragment (the MF flag or a
fragment offset), before the kernel could reassemble it.  Both ends hold
RSA-4096 certificates with long subject names, so that each IKE_AUTH is
well over 1280 octets: sent whole, it leaves as IP fragments and is lost.

So the same exchange fails with iked's fragmentation off and succeeds with
it on; the kernel's own counters say which datagrams were fragmented by IP
(C{/proc/net/snmp} C{FragCreates} in iked's namespace: none may be, when
iked fragments) and the filters' drop counters which fragments were lost.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any

from cryptography import x509
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nsstwisted.cli.ipsec import run as ipsec
from tests.daemons import (
    DaemonProcess,
    build_security,
    spawn_twistd,
    twistd_args,
)
from tests.strongswan import (
    Charon,
    Child,
    CommandFailed,
    Connection,
    NetworkNamespace,
    TestPki,
    child_sas,
    strongswan_available,
)
from tests.test_ike_strongswan import trust_peer_ca

IKED_ADDRESS = "10.77.15.1"
CHARON_ADDRESS = "10.77.15.2"
IKED_PORT = 5500
CHARON_PORT = 4600
PATH_MTU = 1280

DROP_IP_FRAGMENTS = "4,40 0 0 20,69 0 1 16383,6 0 0 2,6 0 0 0"
"""
Classic BPF for tc's direct-action mode: load the IPv4 flags and fragment
offset (octet 20: the 14-octet Ethernet header, which cls_bpf puts back in
front at ingress, then octet 6 of the IP header); any of MF or the offset
set returns TC_ACT_SHOT (2), anything else TC_ACT_OK (0).
"""

POLICY = f"""\
KeyExchangeRule strongswan-peer
{{
  LocalSecurityEndpoint
  {{
    Identity   Fqdn iked-fragments.iked.test
    Location   {IKED_ADDRESS}
    IkePort    {IKED_PORT}
  }}
  RemoteSecurityEndpoint
  {{
    Identity   Fqdn strongswan-fragments.iked.test
    Location   {CHARON_ADDRESS}
    IkePort    {CHARON_PORT}
  }}
  KeyExchangeActionRef  ike-cert
}}
KeyExchangeAction ike-cert
{{
  HowToInitiate   IKEv2
  HowToRespond    IKEv2
  HowToAuthPeers  DsSignature
  KeyExchangeOffer
  {{
    HowToEncrypt          AES_CBC KeyLength 128
    HowToAuthMsgs         HMAC_SHA2_256_128
    PseudoRandomFunction  HMAC_SHA2_256
    DHGroup               Group31
  }}
}}
LocalDynVpnRule host-host
{{
  IpSourceAddr        10.2.0.0/24
  IpDestAddr          10.1.0.0/24
  KeyExchangeRuleRef  strongswan-peer
  IpDynVpnActionRef   esp-gcm
}}
IpDynVpnAction esp-gcm
{{
  HowToEncap  Tunnel
  IpDataOffer
  {{
    HowToEncrypt  AES_GCM_16 KeyLength 128
  }}
}}
"""

# RSA-4096 keys are slow to make: one PKI for the module.
_PKI: list[Any] = []


def _strongswan_pki() -> tuple[TestPki, x509.Certificate, Any]:
    if not _PKI:
        pki = TestPki(key_size=4096)
        _PKI.extend([pki, *pki.issue("strongswan-fragments.iked.test")])
    pki, certificate, key = _PKI
    return pki, certificate, key


def _ip_counters(namespace: NetworkNamespace) -> dict[str, int]:
    """The namespace's IPv4 counters (C{Ip:} of C{/proc/net/snmp})."""
    lines = [
        line.split()
        for line in namespace.run(["cat", "/proc/net/snmp"]).splitlines()
        if line.startswith("Ip:")
    ]
    names, values = lines[0][1:], lines[1][1:]
    return dict(zip(names, (int(v) for v in values), strict=True))


def _dropped(namespace: NetworkNamespace, device: str) -> int:
    """Packets the ingress filter on C{device} dropped."""
    shown = namespace.run(["tc", "-s", "qdisc", "show", "dev", device, "ingress"])
    match = re.search(r"dropped (\d+)", shown)
    return int(match.group(1)) if match else 0


def _installed(sas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        child
        for sa in sas
        if sa.get("state") == "ESTABLISHED"
        for child in child_sas(sa)
        if child.get("state") == "INSTALLED"
    ]


class FragmentationTests(TestCase):
    timeout = 300
    skip = strongswan_available()

    def _link(self) -> None:
        """
        The two namespaces, and the veth pair between them: MTU 1280, and
        every IP fragment dropped on the way in.
        """
        self.ikedNs = NetworkNamespace("fragments-iked", addresses=())
        self.addCleanup(self.ikedNs.delete)
        self.peerNs = NetworkNamespace("fragments-peer")
        self.addCleanup(self.peerNs.delete)
        self.ikedNs.run(
            [
                "ip", "link", "add", "vfrag0", "type", "veth",
                "peer", "name", "vfrag1", "netns", self.peerNs.name,
            ]
        )  # fmt: skip
        for namespace, device, address in (
            (self.ikedNs, "vfrag0", IKED_ADDRESS),
            (self.peerNs, "vfrag1", CHARON_ADDRESS),
        ):
            namespace.run(["ip", "link", "set", device, "mtu", str(PATH_MTU), "up"])
            namespace.add_address(f"{address}/24", device)
            namespace.run(["tc", "qdisc", "add", "dev", device, "ingress"])
            namespace.run(
                [
                    "tc", "filter", "add", "dev", device, "ingress",
                    "protocol", "ip", "pref", "1", "bpf", "da",
                    "bytecode", DROP_IP_FRAGMENTS,
                ]
            )  # fmt: skip

    async def _start(self, fragmentSize: str) -> None:
        """
        The link, iked (C{IkeFragmentSize fragmentSize}) with an RSA-4096
        certificate in its local key ring, and charon with another.
        """
        self._link()
        self.setup = setup = build_security(self)
        pki, certificate, key = _strongswan_pki()
        trust_peer_ca(
            setup,
            TestPki.cert_pem(pki.ca_cert),
            "ADDUSER IKED NOPASSWORD",
            "RACDCERT ID(IKED) GENCERT SUBJECTSDN(CN('iked-fragments.iked.test') "
            "OU('IKE fragmentation interoperability, RFC 7383') "
            "O('nsstwisted test laboratory for large certificates') "
            "L('A town with a long name') SP('A province') C('US')) SIZE(4096) "
            "WITHLABEL('IKED fragments') SIGNWITH(CERTAUTH LABEL('NSS CA')) "
            "ALTNAME(DOMAIN('iked-fragments.iked.test'))",
            "RACDCERT ID(IKED) ADDRING(KEYRING)",
            "RACDCERT ID(IKED) CONNECT(ID(IKED) LABEL('IKED fragments') "
            "RING(KEYRING) USAGE(PERSONAL))",
            "RACDCERT ID(IKED) CONNECT(CERTAUTH LABEL('Peer CA') RING(KEYRING) "
            "USAGE(CERTAUTH))",
        )
        policy = os.path.join(setup.folder, "tcpipb.policy")
        with open(policy, "w") as f:
            f.write(POLICY)
        self.ikedSocket = f"{setup.sockets}/iked/ipsecmgmt"
        ikedConfig = os.path.join(setup.folder, "iked.conf")
        with open(ikedConfig, "w") as f:
            f.write(
                "IkeConfig\n{\n  SystemName NSSSYS\n"
                f'  SecurityDatabase "{setup.database}"\n'
                f'  NmiSocket "{self.ikedSocket}"\n'
                f"  IkeFragmentSize {fragmentSize}\n"
                "}\n"
                f'TcpipStack TCPIPB\n{{\n  PolicyFile "{policy}"\n'
                f"  Namespace {self.ikedNs.name}\n}}\n"
            )
        self.iked = self._spawn(twistd_args(ikedConfig, "iked"))
        await self.iked.waitFor(rb"EZD1100I")
        await self._until_served()
        self.charon = Charon(
            self.mktemp(),
            self.peerNs,
            CHARON_PORT,
            CHARON_PORT + 1,
            retransmit_timeout=1.0,
            retransmit_base=1.4,
            retransmit_tries=3,
        )
        self.addCleanup(self.charon.stop)
        self.charon.add_ca(x509.load_pem_x509_certificate(setup.caPem), "nss-ca")
        self.charon.connections.append(
            Connection(
                "iked",
                remote_port=IKED_PORT,
                local_addrs=CHARON_ADDRESS,
                remote_addrs=IKED_ADDRESS,
                local_id="strongswan-fragments.iked.test",
                remote_id="iked-fragments.iked.test",
                local_certs=[self.charon.add_identity("strongswan", certificate, key)],
                proposals="aes128-sha256-x25519",
                children=[Child("host-host", esp_proposals="aes128gcm16")],
                options={"fragmentation": "yes"},
            )
        )
        await self.charon.start()
        await self.charon.load()

    def _spawn(self, args: list[str]) -> DaemonProcess:
        return spawn_twistd(self, args, stopSignal="TERM")

    async def _ipsec(self, *argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        args = [*argv, "-p", "TCPIPB", "--socket", self.ikedSocket]
        status = await ipsec(reactor, args, out, err)
        return status, out.getvalue() + err.getvalue()

    async def _until_served(self) -> None:
        """iked answers on its management socket: its stack is listening."""
        for _ in range(100):
            if os.path.exists(self.ikedSocket):
                status, _ = await self._ipsec("-k", "display")
                if status == 0:
                    return
            await deferLater(reactor, 0.1, lambda: None)
        self.fail(f"iked never served its socket:\n{self.iked.output.decode()}")

    def assertNotFragmentedByIp(self) -> None:
        """No IP fragment was made, and none was dropped, either way."""
        for namespace, device in ((self.ikedNs, "vfrag0"), (self.peerNs, "vfrag1")):
            counters = _ip_counters(namespace)
            self.assertEqual(
                (counters["FragCreates"], _dropped(namespace, device)),
                (0, 0),
                f"{namespace.name}: {counters}",
            )

    def test_strongswan_initiates(self) -> Deferred[None]:
        """
        strongSwan initiates over the 1280 path: both IKE_AUTH messages go
        in RFC 7383 fragments (charon's log says it reassembled iked's and
        fragmented its own), no IP fragment is made or lost, and the
        CHILD_SA is installed.
        """

        async def go() -> None:
            await self._start("1280")
            await self.charon.initiate(child="host-host", timeout=30)
            sas = await self.charon.wait_for_sas(
                lambda sas: len(_installed(sas)) == 1, "an INSTALLED CHILD_SA"
            )
            self.assertEqual(sas[0]["remote-id"], "iked-fragments.iked.test")
            self.assertNotFragmentedByIp()
            log = self.charon.log_text()
            self.assertIn("received fragment #1", log)
            self.assertRegex(log, r"splitting IKE message .* into \d+ fragments")
            # A flood of forged fragments for the IKE SA's next request:
            # iked drops each (its ICV) and goes on serving the peer.
            (sa,) = sas
            (child,) = _installed(sas)
            self._flood(sa["initiator-spi"], sa["responder-spi"], messageId=2)
            await self.charon.rekey(child="host-host")
            await self.charon.wait_for_sas(
                lambda sas: any(
                    c["spi-in"] != child["spi-in"] for c in _installed(sas)
                ),
                "a CHILD_SA rekeyed after the flood",
            )
            self.assertNotIn(b"EZD1211I", self.iked.output)
            self.assertRegex(
                self.iked.output,
                rb"EZD1210I Stack TCPIPB dropped an IKE fragment from "
                rb"10\.77\.15\.2 port \d+: fragment [12] of message ID 2: SK payload"
                rb" ICV does not verify",
            )
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def _flood(self, spiI: str, spiR: str, messageId: int, count: int = 1000) -> None:
        """
        C{count} forged SKF messages for the IKE SA C{spiI}/C{spiR}, from
        the peer's namespace to iked, fragment numbers 1 and 2 of 2.
        """
        script = (
            "import os, socket, struct\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"s.bind(({CHARON_ADDRESS!r}, 0))\n"
            f"for n in range({count}):\n"
            # IV, 11 AES blocks, ICV: a body of a possible length for the
            # SA's AES-CBC and HMAC-SHA2-256-128, so that the ICV is checked.
            "    body = os.urandom(16 + 176 + 16)\n"
            "    length = 28 + 8 + len(body)\n"
            f"    header = bytes.fromhex({spiI!r} + {spiR!r})\n"
            f"    header += struct.pack('>BBBBII', 53, 0x20, 36, 0x08, {messageId},"
            " length)\n"
            "    skf = struct.pack('>BBHHH', 33 if n % 2 == 0 else 0, 0,"
            " 8 + len(body), n % 2 + 1, 2)\n"
            "    s.sendto(bytes(4) + header + skf + body,"
            f" ({IKED_ADDRESS!r}, {IKED_PORT}))\n"
        )
        self.peerNs.run(["python3", "-c", script], timeout=60)

    def test_iked_initiates(self) -> Deferred[None]:
        """iked initiates over the 1280 path, and fragments its IKE_AUTH."""

        async def go() -> None:
            await self._start("1280")
            status, shown = await self._ipsec("-y", "activate", "-n", "host-host")
            self.assertEqual(status, 0, shown)
            await self.charon.wait_for_sas(
                lambda sas: len(_installed(sas)) == 1,
                "an INSTALLED CHILD_SA",
                timeout=30,
            )
            self.assertNotFragmentedByIp()
            self.assertIn("received fragment #1", self.charon.log_text())
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_unfragmented_fails(self) -> Deferred[None]:
        """
        The same exchanges with iked's fragmentation off: iked does not
        announce it, so neither end fragments, each IKE_AUTH leaves as IP
        fragments (counted by the kernel), the filter drops them, and
        nothing is established, whichever end begins: the path really
        needs RFC 7383.
        """

        async def go() -> None:
            await self._start("Off")
            with self.assertRaises(CommandFailed):
                await self.charon.initiate(child="host-host", timeout=20)
            self.assertEqual(await self.charon.list_sas(), [])
            peerCounters = _ip_counters(self.peerNs)
            self.assertGreater(peerCounters["FragCreates"], 0, peerCounters)
            self.assertGreater(_dropped(self.ikedNs, "vfrag0"), 0)
            self.assertNotIn("received fragment", self.charon.log_text())
            # iked's own IKE_AUTH, sent whole, meets the same fate.
            self.assertEqual(_ip_counters(self.ikedNs)["FragCreates"], 0)
            status, shown = await self._ipsec("-y", "activate", "-n", "host-host")
            self.assertEqual(status, 0, shown)
            for _ in range(100):
                if _dropped(self.peerNs, "vfrag1"):
                    break
                await deferLater(reactor, 0.1, lambda: None)
            self.assertGreater(_ip_counters(self.ikedNs)["FragCreates"], 0)
            self.assertGreater(_dropped(self.peerNs, "vfrag1"), 0)
            sas = await self.charon.list_sas()
            self.assertEqual(_installed(sas), [])
            self.assertNotIn("ESTABLISHED", [sa.get("state") for sa in sas])

        return ensureDeferred(go())
