"""
Tests for L{nsstwisted.iked.keyexchange.installer}: the recording installer, the
factory, and L{XfrmInstaller} against a stand-in C{ip} (for what must
happen when commands fail, which a kernel will not do on request) and
against the real C{ip} in a network namespace of the test's own.

This machine's kernel has no ESP (see docs/sa-installation.md): real
policies install, but every real state fails.  The namespace tests
therefore check policies for real and accept either outcome for states:
the kernel's own refusal, with nothing left behind, or (on a kernel with
ESP) the states in place.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from nsstwisted.ike.constants import EncrId, IntegId
from nsstwisted.ike.installation import (
    InstalledChildSa,
    PolicyDirection,
    xfrm_delete_commands,
    xfrm_policies,
    xfrm_policy_commands,
)
from nsstwisted.ike.policy import Selector, TunnelMode
from nsstwisted.iked.keyexchange.ikestack import installed_sa
from nsstwisted.iked.keyexchange.installer import (
    ISaInstaller,
    RecordingInstaller,
    SaInstallError,
    XfrmInstaller,
    installer_for,
)

from .ikepeers import (
    address_range,
    child_policy,
    offer_ranges,
    pair,
)

GCM_IN = bytes(range(0x10, 0x24))
GCM_OUT = bytes(range(0x30, 0x44))


def child_sa(**changes: Any) -> InstalledChildSa:
    """
    An AES-GCM-16 tunnel-mode CHILD_SA, 10.77.0.1 (us) to 10.77.0.2, for
    10.1.0.0/24 to 10.2.0.0/24, with C{changes}.
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
        localSelectors=(Selector(ipaddress.ip_network("10.1.0.0/24")),),
        remoteSelectors=(Selector(ipaddress.ip_network("10.2.0.0/24")),),
        encryptionKeyIn=GCM_IN,
        encryptionKeyOut=GCM_OUT,
    )
    values.update(changes)
    return InstalledChildSa(**values)


def cbc_sa(**changes: Any) -> InstalledChildSa:
    """The same with AES-CBC-256 and HMAC-SHA2-256-128."""
    values: dict[str, Any] = dict(
        encrId=EncrId.AES_CBC,
        keyBits=256,
        integId=IntegId.HMAC_SHA2_256_128,
        encryptionKeyIn=b"\xa1" * 32,
        encryptionKeyOut=b"\xa2" * 32,
        integrityKeyIn=b"\xb1" * 32,
        integrityKeyOut=b"\xb2" * 32,
    )
    values.update(changes)
    return child_sa(**values)


class RecordingInstallerTests(SynchronousTestCase):
    def test_interface(self) -> None:
        installer = RecordingInstaller()
        self.assertTrue(verifyObject(ISaInstaller, installer))
        self.assertEqual(installer.describe(), "record only")

    def test_install_and_remove(self) -> None:
        """
        It keeps what is installed and forgets what is removed, and its
        Deferreds have fired already.
        """
        installer = RecordingInstaller()
        first = child_sa(reqid=9)
        second = child_sa(reqid=3)
        self.assertIsNone(self.successResultOf(installer.install(first)))
        self.successResultOf(installer.install(second))
        self.assertEqual(installer.installed(), [second, first])
        self.assertIsNone(self.successResultOf(installer.remove(first)))
        self.assertEqual(installer.installed(), [second])
        # Removing what is not there is not an error.
        self.successResultOf(installer.remove(first))
        self.assertEqual(installer.installed(), [second])

    def test_rekey_with_same_reqid(self) -> None:
        """
        A rekeyed CHILD_SA may keep its reqid; both are shown until the
        old one is removed, and removing it leaves the new one.
        """
        installer = RecordingInstaller()
        old = child_sa()
        new = child_sa(spiIn=b"\xc0\x00\x00\x02", spiOut=b"\xc7\x00\x00\x02")
        installer.install(old)
        installer.install(new)
        self.assertEqual(installer.installed(), [old, new])
        installer.remove(old)
        self.assertEqual(installer.installed(), [new])


class FactoryTests(SynchronousTestCase):
    def test_record(self) -> None:
        self.assertIsInstance(installer_for("record", reactor), RecordingInstaller)
        self.assertIsInstance(installer_for("Record", None), RecordingInstaller)

    def test_xfrm(self) -> None:
        installer = installer_for("XFRM", reactor, "blue")
        assert isinstance(installer, XfrmInstaller)
        self.assertTrue(verifyObject(ISaInstaller, installer))
        self.assertEqual(installer.namespace, "blue")
        self.assertEqual(installer.describe(), "ip xfrm in namespace blue")
        self.assertEqual(
            XfrmInstaller(reactor).describe(), "ip xfrm in the host's network stack"
        )

    def test_unknown(self) -> None:
        error = self.assertRaises(ValueError, installer_for, "netlink", reactor)
        self.assertIn("record, xfrm", str(error))

    def test_ip_command(self) -> None:
        self.assertEqual(XfrmInstaller(reactor, ipCommand="/x/ip").ipCommand, "/x/ip")
        self.assertTrue(XfrmInstaller(reactor).ipCommand.endswith("/ip"))


FAKE_IP = """\
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
line = sys.stdin.read()
with open(os.path.join(here, "log"), "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "stdin": line}) + "\\n")
try:
    with open(os.path.join(here, "rules")) as rules:
        loaded = json.load(rules)
except FileNotFoundError:
    loaded = []
for pattern, message, pause in loaded:
    if pattern in line:
        time.sleep(pause)
        sys.stderr.write(message + "\\n")
        sys.exit(2)
"""


class FakeIpTests(TestCase):
    """
    L{XfrmInstaller} against a stand-in C{ip} that logs its argv and batch
    and fails the lines the test names, as a kernel would for a clash.
    """

    def setUp(self) -> None:
        self.directory = Path(self.mktemp())
        self.directory.mkdir()
        script = self.directory / "ip"
        script.write_text(f"#!{sys.executable}\n{FAKE_IP}")
        script.chmod(0o755)
        self.installer = XfrmInstaller(reactor, "blue", ipCommand=str(script))

    def fail_on(self, *rules: tuple[str, str] | tuple[str, str, float]) -> None:
        """Make lines containing C{pattern} fail with C{message}."""
        (self.directory / "rules").write_text(
            json.dumps([[*rule, 0][:3] for rule in rules])
        )

    def runs(self) -> list[dict[str, Any]]:
        path = self.directory / "log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def lines(self) -> list[str]:
        """The batch lines run so far, in order."""
        return [run["stdin"].strip() for run in self.runs()]

    async def test_install(self) -> None:
        """
        States go first, inbound then outbound, then the policies; each is
        a one-line batch on standard input in the namespace, and no key
        appears in any argv.
        """
        sa = child_sa()
        await self.installer.install(sa)
        runs = self.runs()
        for run in runs:
            self.assertEqual(run["argv"], ["-n", "blue", "-batch", "-"])
            self.assertEqual(run["stdin"].count("\n"), 1)
        lines = self.lines()
        self.assertEqual(len(lines), 5)
        self.assertTrue(lines[0].startswith("xfrm state add src 10.77.0.2"))
        self.assertIn(GCM_IN.hex(), lines[0])
        self.assertTrue(lines[1].startswith("xfrm state add src 10.77.0.1"))
        self.assertEqual(
            lines[2:],
            [" ".join(argv[1:]) for argv in xfrm_policy_commands(sa)],
        )
        self.assertEqual(self.installer.installed(), [sa])

    async def test_no_namespace(self) -> None:
        installer = XfrmInstaller(reactor, ipCommand=self.installer.ipCommand)
        await installer.run(["ip", "xfrm", "policy", "list"])
        self.assertEqual(self.runs()[0]["argv"], ["-batch", "-"])

    async def test_first_state_fails(self) -> None:
        """
        When the inbound state fails (here an SPI clash) nothing was
        added, so nothing is undone (the clashing state is someone
        else's), and no policy is installed.
        """
        self.fail_on(("spi 0xc0000001", "RTNETLINK answers: File exists"))
        sa = child_sa()
        with self.assertRaises(SaInstallError) as caught:
            await self.installer.install(sa)
        self.assertEqual(len(self.lines()), 1)
        self.assertEqual(caught.exception.stderr, "RTNETLINK answers: File exists")
        self.assertIn("reqid 7", str(caught.exception))
        self.assertEqual(self.installer.installed(), [])

    async def test_second_state_fails(self) -> None:
        """
        When the outbound state fails, the inbound one is deleted again,
        and C{ip}'s words reach the error with the keys taken out.
        """
        message = f'Error: argument "0x{GCM_OUT.hex()}" is wrong'
        self.fail_on(("spi 0xc75bac00", message))
        with self.assertRaises(SaInstallError) as caught:
            await self.installer.install(child_sa())
        lines = self.lines()
        self.assertEqual(len(lines), 3)
        self.assertEqual(
            lines[2],
            "xfrm state delete src 10.77.0.2 dst 10.77.0.1 proto esp spi 0xc0000001",
        )
        self.assertEqual(caught.exception.stderr, 'Error: argument "0x<key>" is wrong')
        self.assertNotIn(GCM_OUT.hex(), str(caught.exception))

    async def test_policy_fails(self) -> None:
        """
        When a policy fails, the policies added before it and both states
        are removed, in reverse order.
        """
        self.fail_on(("dir fwd", "RTNETLINK answers: File exists"))
        sa = child_sa()
        with self.assertRaises(SaInstallError):
            await self.installer.install(sa)
        out, inbound, _, stateIn, stateOut = (
            " ".join(argv[1:]) for argv in xfrm_delete_commands(sa)
        )
        self.assertEqual(self.lines()[5:], [inbound, out, stateOut, stateIn])
        self.assertEqual(self.installer.installed(), [])

    async def test_undo_fails(self) -> None:
        """An undo that fails too is reported with the original failure."""
        self.fail_on(
            ("dir in tmpl", "RTNETLINK answers: File exists"),
            ("state delete", "RTNETLINK answers: Operation not permitted"),
        )
        with self.assertRaises(SaInstallError) as caught:
            await self.installer.install(child_sa())
        self.assertIn("Operation not permitted", str(caught.exception))
        self.assertEqual(caught.exception.stderr, "RTNETLINK answers: File exists")

    async def test_already_installed(self) -> None:
        sa = child_sa()
        await self.installer.install(sa)
        with self.assertRaises(SaInstallError):
            await self.installer.install(sa)
        self.assertEqual(len(self.lines()), 5)

    async def test_inexpressible(self) -> None:
        """An SA ip cannot express fails before any command runs."""
        sa = child_sa(
            localSelectors=(Selector(ipaddress.ip_network("10.1.0.0/24"), 6, 1, 9),)
        )
        with self.assertRaises(SaInstallError) as caught:
            await self.installer.install(sa)
        self.assertIn("1-9", str(caught.exception))
        with self.assertRaises(SaInstallError):
            await self.installer.remove(sa)
        self.assertEqual(self.runs(), [])

    async def test_remove(self) -> None:
        """Policies go first, then states; what is gone already is no error."""
        sa = child_sa()
        await self.installer.install(sa)
        self.fail_on(
            ("dir fwd", "RTNETLINK answers: No such file or directory"),
            ("0xc75bac00", "RTNETLINK answers: No such process"),
        )
        await self.installer.remove(sa)
        self.assertEqual(
            self.lines()[5:],
            [" ".join(argv[1:]) for argv in xfrm_delete_commands(sa)],
        )
        self.assertEqual(self.installer.installed(), [])

    async def test_remove_fails(self) -> None:
        """Every command is tried; then the failures are reported."""
        sa = child_sa()
        self.fail_on(("dir out", "RTNETLINK answers: Operation not permitted"))
        with self.assertRaises(SaInstallError) as caught:
            await self.installer.remove(sa)
        self.assertEqual(len(self.lines()), 5)
        self.assertEqual(
            caught.exception.stderr, "RTNETLINK answers: Operation not permitted"
        )

    async def test_rekey_same_reqid(self) -> None:
        """
        A rekeyed CHILD_SA with its predecessor's reqid updates the shared
        policies rather than adding them (the kernel holds one per
        selector), and removing the predecessor leaves them in place.
        """
        old = child_sa()
        new = child_sa(spiIn=b"\xc0\x00\x00\x02", spiOut=b"\xc7\x00\x00\x02")
        await self.installer.install(old)
        await self.installer.install(new)
        lines = self.lines()
        self.assertEqual(
            [line.split()[2] for line in lines[7:]], ["update", "update", "update"]
        )
        await self.installer.remove(old)
        self.assertEqual(
            [line.split()[:3] for line in self.lines()[10:]],
            [["xfrm", "state", "delete"]] * 2,
        )
        await self.installer.remove(new)
        self.assertEqual(
            [" ".join(line.split()[:3]) for line in self.lines()[12:]],
            ["xfrm policy delete"] * 3 + ["xfrm state delete"] * 2,
        )

    async def test_rekey_new_reqid(self) -> None:
        """
        With a new reqid the policies are pointed at the successor; if
        the successor goes first they are pointed back.
        """
        old = child_sa()
        new = child_sa(reqid=8, spiIn=b"\xc0\x00\x00\x02", spiOut=b"\xc7\x00\x00\x02")
        await self.installer.install(old)
        await self.installer.install(new)
        self.assertTrue(all("reqid 8" in line for line in self.lines()[7:]))
        await self.installer.remove(new)
        self.assertEqual(
            self.lines()[10:13],
            [" ".join(policy.command("update")[1:]) for policy in xfrm_policies(old)],
        )
        self.assertEqual(self.installer.installed(), [old])

    async def test_missing_ip(self) -> None:
        installer = XfrmInstaller(reactor, ipCommand=str(self.directory / "none"))
        with self.assertRaises(SaInstallError):
            await installer.install(child_sa())

    async def test_timeout(self) -> None:
        """An ip that hangs is killed and counts as failed."""
        self.installer.timeout = 0.2
        self.fail_on(("spi 0xc0000001", "late", 30))
        with self.assertRaises(SaInstallError) as caught:
            await self.installer.install(child_sa())
        self.assertIn("did not finish in time", caught.exception.stderr)

    async def test_serialised(self) -> None:
        """
        Operations run one at a time: a remove asked for during an
        install waits for it, so it sees the policies it must delete.
        """
        sa = child_sa()
        installing: Deferred[None] = self.installer.install(sa)
        removing: Deferred[None] = self.installer.remove(sa)
        await installing
        await removing
        self.assertEqual(
            [" ".join(line.split()[:3]) for line in self.lines()],
            ["xfrm state add"] * 2
            + ["xfrm policy add"] * 3
            + ["xfrm policy delete"] * 3
            + ["xfrm state delete"] * 2,
        )


IP = shutil.which("ip")


def ip(*argv: str) -> subprocess.CompletedProcess[str]:
    assert IP is not None
    return subprocess.run(
        [IP, *argv], capture_output=True, text=True, check=False, timeout=10
    )


def policy_blocks(listing: str) -> list[str]:
    """C{ip xfrm policy list} output, one flattened string per policy."""
    blocks: list[list[str]] = []
    for line in listing.splitlines():
        if line.startswith("src "):
            blocks.append([])
        if blocks:
            blocks[-1].append(line.strip())
    return [" ".join(block) for block in blocks]


def covering(
    policies: list[str], direction: str, end: str
) -> list[ipaddress.IPv4Network]:
    """
    The networks on the C{end} side (C{src} or C{dst}) of the kernel's
    policies in C{direction}, as C{ip xfrm policy list} shows them.
    """
    networks = []
    for policy in policies:
        words = policy.split()
        if words[words.index("dir") + 1] == direction:
            network = ipaddress.ip_network(words[words.index(end) + 1])
            assert isinstance(network, ipaddress.IPv4Network)
            networks.append(network)
    return networks


class NamespaceTests(TestCase):
    """
    The real C{ip} in a network namespace made for each test and removed
    after it.
    """

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise self.skipTest("needs root to create a network namespace")
        if IP is None:
            raise self.skipTest("needs iproute2's ip")
        self.namespace = f"nsst-inst-{secrets.token_hex(4)}"
        made = ip("netns", "add", self.namespace)
        if made.returncode != 0:
            raise self.skipTest(f"ip netns add failed: {made.stderr.strip()}")
        self.addCleanup(ip, "netns", "del", self.namespace)
        self.installer = XfrmInstaller(reactor, self.namespace, ipCommand=IP)

    def policies(self) -> list[str]:
        listing = ip("-n", self.namespace, "xfrm", "policy", "list")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        return policy_blocks(listing.stdout)

    def states(self) -> str:
        listing = ip("-n", self.namespace, "xfrm", "state", "list")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        return listing.stdout

    async def test_policies(self) -> None:
        """
        The policy command lines, run as the installer runs them, install
        what they say in the kernel, and the delete lines remove them.
        """
        sa = child_sa(
            localSelectors=(
                Selector(ipaddress.ip_network("10.1.0.0/24"), 6, 80, 80),
                Selector(ipaddress.ip_network("2001:db8:1::/48")),
            ),
            remoteSelectors=(
                Selector(ipaddress.ip_network("10.2.0.0/24")),
                Selector(ipaddress.ip_network("2001:db8:2::/48")),
            ),
        )
        for argv in xfrm_policy_commands(sa):
            outcome = await self.installer.run(argv)
            self.assertTrue(outcome.succeeded, outcome.stderr)
        policies = self.policies()
        self.assertEqual(len(policies), 6)
        for expected in (
            "src 10.1.0.0/24 dst 10.2.0.0/24 proto tcp sport 80 dir out",
            "src 10.2.0.0/24 dst 10.1.0.0/24 proto tcp dport 80 dir in",
            "src 10.2.0.0/24 dst 10.1.0.0/24 proto tcp dport 80 dir fwd",
            "src 2001:db8:1::/48 dst 2001:db8:2::/48 dir out",
            "src 2001:db8:2::/48 dst 2001:db8:1::/48 dir in",
            "src 2001:db8:2::/48 dst 2001:db8:1::/48 dir fwd",
        ):
            matching = [p for p in policies if p.startswith(expected + " ")]
            self.assertEqual(len(matching), 1, (expected, policies))
            self.assertIn("proto esp reqid 7 mode tunnel", matching[0])
            if " dir out " in matching[0]:
                self.assertIn("tmpl src 10.77.0.1 dst 10.77.0.2", matching[0])
            else:
                self.assertIn("tmpl src 10.77.0.2 dst 10.77.0.1", matching[0])
        for argv in xfrm_delete_commands(sa)[:-2]:
            outcome = await self.installer.run(argv)
            self.assertTrue(outcome.succeeded, outcome.stderr)
        self.assertEqual(self.policies(), [])

    async def install(self, sa: InstalledChildSa) -> None:
        """
        Install C{sa} for real.  On a kernel without ESP (this machine's)
        it must fail with the kernel's reason, leave nothing behind and
        show no key; on one with ESP the states and policies must be
        there, and go again on removal.
        """
        try:
            await self.installer.install(sa)
        except SaInstallError as e:
            self.assertTrue(
                "Requested type not found" in e.stderr
                or "AEAD algorithm not found" in e.stderr,
                f"not the kernel's missing ESP: {e}",
            )
            for key in sa.keys:
                self.assertNotIn(key.hex(), str(e).lower())
            self.assertEqual(self.policies(), [])
            self.assertEqual(self.states(), "")
            self.assertEqual(self.installer.installed(), [])
            return
        # This kernel has ESP.
        states = self.states()
        self.assertIn("spi 0xc0000001", states)
        self.assertIn("spi 0xc75bac00", states)
        self.assertEqual(len(self.policies()), len(xfrm_policies(sa)))
        await self.installer.remove(sa)
        self.assertEqual(self.states(), "")
        self.assertEqual(self.policies(), [])

    async def test_install_gcm(self) -> None:
        await self.install(child_sa(encapsulation=(4500, 4500)))

    async def test_install_cbc(self) -> None:
        await self.install(cbc_sa())

    async def test_install_ipv6_transport(self) -> None:
        await self.install(
            cbc_sa(
                mode=TunnelMode.TRANSPORT,
                localAddress=ipaddress.ip_address("2001:db8::1"),
                remoteAddress=ipaddress.ip_address("2001:db8::2"),
                localSelectors=(Selector(ipaddress.ip_network("2001:db8::1/128")),),
                remoteSelectors=(Selector(ipaddress.ip_network("2001:db8::2/128")),),
            )
        )

    async def test_remove_absent(self) -> None:
        """Removing an SA the kernel never had succeeds."""
        await self.installer.remove(child_sa())
        self.assertEqual(self.policies(), [])

    def assertCoversReportedRange(self, policies: list[str]) -> None:
        """Each direction covers 10.2.0.1-10.2.0.254 once, and nothing else."""
        for direction, end in (("out", "dst"), ("in", "src"), ("fwd", "src")):
            networks = covering(policies, direction, end)
            self.assertEqual(len(networks), 14, direction)
            for host in range(1, 255):
                address = ipaddress.ip_address(f"10.2.0.{host}")
                self.assertEqual(
                    sum(address in n for n in networks), 1, (direction, host)
                )
            for outside in ("10.2.0.0", "10.2.0.255"):
                address = ipaddress.ip_address(outside)
                self.assertFalse(any(address in n for n in networks), outside)

    def negotiated(self) -> InstalledChildSa:
        """
        What the right engine (10.2.0.0/24 for its peer) installs after a
        peer offered 10.2.0.1-10.2.0.254: negotiated by two real engines,
        made into an SA as iked makes it.
        """
        offered = address_range("10.2.0.1", "10.2.0.254")
        offer_ranges(self.patch, {"10.2.0.0/24": (offered,)})
        wire = pair(
            leftChildren=(child_policy(),),
            rightChildren=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
        )
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        wire.run()
        (sa,) = wire.right.engine.sas()
        (child,) = sa.live_children()
        record = installed_sa(child)
        assert record is not None
        return record

    async def test_range_policies(self) -> None:
        """
        The policy lines of the negotiated SA, run as the installer runs
        them, cover the whole range; the delete lines remove every one.
        """
        sa = self.negotiated()
        for argv in xfrm_policy_commands(sa):
            outcome = await self.installer.run(argv)
            self.assertTrue(outcome.succeeded, outcome.stderr)
        policies = self.policies()
        self.assertEqual(len(policies), 14 * 3)
        self.assertCoversReportedRange(policies)
        for argv in xfrm_delete_commands(sa)[:-2]:
            outcome = await self.installer.run(argv)
            self.assertTrue(outcome.succeeded, outcome.stderr)
        self.assertEqual(self.policies(), [])

    async def test_range_installed(self) -> None:
        """
        The installer itself: on a kernel without ESP it fails at the
        states and leaves nothing; with ESP, all 42 policies are there and
        go again on removal.
        """
        sa = self.negotiated()
        self.assertEqual(
            len([p for p in xfrm_policies(sa) if p.direction is PolicyDirection.OUT]),
            14,
        )
        await self.install(sa)
