"""
Two stacks' IKE sides (L{StackIke}) in one process, over real UDP on
127.0.0.1, with local credentials: the adapter, the timers, the stack
model's tunnels and statistics, the recording installer and the control
operations, end to end without strongSwan.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import replace
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nsstwisted.ike import childexchange
from nsstwisted.ike.engine import EngineSettings
from nsstwisted.ike.events import ReassemblyAbandoned
from nsstwisted.ike.installation import MAX_PREFIX_PAIRS
from nsstwisted.ike.localauth import LocalCredentials, LocalTrust
from nsstwisted.ike.policy import PeerEku, PeerPolicy
from nsstwisted.iked.keyexchange.ikestack import StackIke
from nsstwisted.iked.keyexchange.installer import RecordingInstaller
from nsstwisted.iked.keyexchange.localsigners import LocalSigner, LocalVerifier
from nsstwisted.iked.stackmodel.filters import StackFilters
from nsstwisted.iked.stackmodel.interfaces import InterfaceReader
from nsstwisted.iked.stackmodel.stack import StackModel
from nsstwisted.iked.stackmodel.statistics import Counter, Gauge, StackStatistics
from nsstwisted.iked.stackmodel.tunnels import StackTunnels
from nsstwisted.wire.filters import TunnelStatus

from .daemons import capture_messages
from .ikepeers import (
    address_range,
    child_policy,
    leaf,
    offer_ranges,
    peer_policy,
    pki,
    profile_leaf,
)


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StackIkeTestCase(TestCase):
    timeout = 30

    def _side(
        self,
        name: str,
        policy: PeerPolicy,
        verifier: Any = None,
        profile: str | None = None,
        settings: EngineSettings | None = None,
    ) -> StackIke:
        if profile is None:
            certificate, key = leaf(f"{name}.iked.test")
        else:
            certificate, key = profile_leaf(f"{name}.iked.test", profile)
        model = StackModel(
            name.upper(),
            StackFilters(None),
            StackStatistics(),
            InterfaceReader(None),
            StackTunnels(),
        )
        signer = LocalSigner(LocalCredentials(certificate, key))
        ike = StackIke(
            reactor,
            name.upper(),
            [policy],
            lambda peer: signer,
            verifier or LocalVerifier(LocalTrust((pki().ca,))),
            RecordingInstaller(),
            model,
            settings,
        )
        ike.start()
        self.addCleanup(ike.stop)
        return ike

    async def _until(self, check: Any, what: str) -> None:
        for _ in range(200):
            if check():
                return
            await deferLater(reactor, 0.02, lambda: None)
        raise AssertionError(f"timed out waiting for {what}")


class QuietTests(StackIkeTestCase):
    def test_noProtocolChatter(self) -> Deferred[None]:
        """
        A stack's IKE sockets open and close without Twisted's C{Starting
        protocol} and C{Stopping protocol} lines.
        """
        messages = capture_messages(self)
        here = ("127.0.0.1", _udp_port())
        ike = self._side(
            "quiet", peer_policy("p", here, ("127.0.0.1", 9), "a.test", "b.test")
        )

        async def go() -> None:
            await ike.stop()
            self.assertEqual([m for m in messages if " protocol " in m], [])

        return ensureDeferred(go())


class TwoStacks(StackIkeTestCase):
    """Two stacks, left and right, that are each other's IKE peer."""

    #: the case of L{PROFILES} the left stack's certificate is, if not
    #: the usual one
    leftProfile: str | None = None

    def setUp(self) -> None:
        leftPort, rightPort = _udp_port(), _udp_port()
        left, right = ("127.0.0.1", leftPort), ("127.0.0.1", rightPort)
        self.left = self._side(
            "left",
            peer_policy(
                "to-right",
                left,
                right,
                "left.iked.test",
                "right.iked.test",
                children=(child_policy(),),
            ),
            profile=self.leftProfile,
        )
        self.right = self._side(
            "right",
            peer_policy(
                "to-left",
                right,
                left,
                "right.iked.test",
                "left.iked.test",
                children=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
            ),
            SlowVerifier(LocalVerifier(LocalTrust((pki().ca,))), 0.2),
        )


class StackIkeTests(TwoStacks):
    def test_activate_display_refresh_deactivate(self) -> Deferred[None]:
        async def go() -> None:
            left, right = self.left.model, self.right.model
            (outcome,) = left.tunnels.activate_dynamic(name="host-host")
            self.assertEqual(outcome.status, TunnelStatus.STATEUPDATED)
            await self._until(
                lambda: right.tunnels.dynamic_tunnels(), "the responder's tunnel"
            )
            await self._until(lambda: left.tunnels.dynamic_tunnels(), "our tunnel")
            (ikeTunnel,) = left.tunnels.ike_tunnels()
            (tunnel,) = left.tunnels.dynamic_tunnels()
            (peerTunnel,) = right.tunnels.dynamic_tunnels()
            self.assertEqual(tunnel.inboundSpi, peerTunnel.outboundSpi)
            self.assertEqual(tunnel.ikeTunnelId, ikeTunnel.tunnelId)
            self.assertEqual(ikeTunnel.remoteId, "right.iked.test")
            installed = self.left.installer.installed()  # type: ignore[attr-defined]
            self.assertEqual([sa.spiIn for sa in installed], [tunnel.inboundSpi])
            statistics = left.statistics
            self.assertEqual(statistics[Counter.P1_LOCAL_SUCCESS], 1)
            self.assertEqual(statistics[Counter.P2_LOCAL_SUCCESS], 1)
            self.assertEqual(right.statistics[Counter.P1_REMOTE_SUCCESS], 1)
            self.assertEqual(statistics[Gauge.P2_ACTIVE], 1)
            # refresh keeps the tunnel ID, with new SPIs
            before = tunnel.inboundSpi
            (outcome,) = left.tunnels.refresh_dynamic(tunnelId=tunnel.tunnelId)
            self.assertEqual(outcome.status, TunnelStatus.STATEUPDATED)
            await self._until(lambda: tunnel.inboundSpi != before, "the rekey")
            await self._until(
                lambda: len(self.left.installer.installed()) == 1,  # type: ignore[attr-defined]
                "the old SA removed",
            )
            self.assertEqual(statistics[Gauge.P2_ACTIVE], 1)
            # IKE refresh
            spi = ikeTunnel.localSpi
            left.tunnels.refresh_ike(tunnelId=ikeTunnel.tunnelId)
            await self._until(lambda: ikeTunnel.localSpi != spi, "the IKE rekey")
            self.assertEqual(len(left.tunnels.ike_tunnels()), 1)
            # deactivate the IKE tunnel: everything goes, on both sides
            left.tunnels.deactivate_ike(tunnelId=ikeTunnel.tunnelId)
            await self._until(
                lambda: (
                    not right.tunnels.ike_tunnels() and not left.tunnels.ike_tunnels()
                ),
                "the delete",
            )
            self.assertEqual(right.tunnels.dynamic_tunnels(), [])
            self.assertEqual(self.right.installer.installed(), [])  # type: ignore[attr-defined]
            self.assertEqual(statistics[Gauge.P1_ACTIVE], 0)
            self.assertEqual(statistics[Gauge.P2_ACTIVE], 0)

        return ensureDeferred(go())

    def test_unknown_rule(self) -> None:
        (outcome,) = self.left.model.tunnels.activate_dynamic(name="nothing")
        self.assertEqual(outcome.status, TunnelStatus.NOTFOUND)

    def test_failure_counted(self) -> Deferred[None]:
        """A refused negotiation counts as a local phase 1 failure."""
        policy = self.right.engine.peers[0]
        assert policy.remoteIdentity is not None
        wrong = replace(policy.remoteIdentity, value="x.test")
        self.right.update_peers([replace(policy, remoteIdentity=wrong)])

        async def go() -> None:
            self.left.model.tunnels.activate_dynamic(name="host-host")
            await self._until(
                lambda: self.left.model.statistics[Counter.P1_LOCAL_FAILURE] == 1,
                "the failure",
            )
            self.assertEqual(self.right.model.statistics[Counter.P1_REMOTE_FAILURE], 1)
            self.assertEqual(self.left.model.tunnels.ike_tunnels(), [])

        return ensureDeferred(go())


class LifetimeTests(TwoStacks):
    def test_responder_refreshes_before_expiry(self) -> Deferred[None]:
        """
        Both ends, the responder too, show (and keep) a refresh time
        before the expiry, within 80 to 90 per cent of the lifetime.
        """

        async def go() -> None:
            self.left.model.tunnels.activate_dynamic(name="host-host")
            for stack in (self.left, self.right):
                tunnels = stack.model.tunnels
                await self._until(tunnels.dynamic_tunnels, "the tunnel")
                (ike,) = tunnels.ike_tunnels()
                (child,) = tunnels.dynamic_tunnels()
                for tunnel in (ike, child):
                    lifetime = tunnel.lifetime
                    self.assertGreater(lifetime, 0)
                    self.assertLess(tunnel.refresh, tunnel.activated + lifetime)
                    self.assertGreaterEqual(
                        tunnel.refresh, tunnel.activated + int(0.8 * lifetime) - 1
                    )
                    self.assertLessEqual(
                        tunnel.refresh, tunnel.activated + int(0.9 * lifetime) + 1
                    )

        return ensureDeferred(go())

    def test_both_ends_rekey_at_once(self) -> Deferred[None]:
        """
        Both stacks refresh the CHILD_SA in the same turn of the reactor,
        so that their requests cross: one SA pair remains, installed on
        both sides, in the one tunnel each side shows.
        """
        messages = capture_messages(self)

        async def go() -> None:
            left, right = self.left.model.tunnels, self.right.model.tunnels
            left.activate_dynamic(name="host-host")
            await self._until(right.dynamic_tunnels, "the responder's tunnel")
            await self._until(left.dynamic_tunnels, "our tunnel")
            (mine,) = left.dynamic_tunnels()
            (theirs,) = right.dynamic_tunnels()
            before = mine.inboundSpi
            left.refresh_dynamic(tunnelId=mine.tunnelId)
            right.refresh_dynamic(tunnelId=theirs.tunnelId)

            def settled() -> bool:
                installed = [
                    stack.installer.installed()  # type: ignore[attr-defined]
                    for stack in (self.left, self.right)
                ]
                return (
                    mine.inboundSpi != before
                    and all(len(sas) == 1 for sas in installed)
                    and mine.inboundSpi == theirs.outboundSpi
                    and any("EZD1221I" in m for m in messages)
                )

            await self._until(settled, "one pair after the collision")
            for stack in (self.left, self.right):
                (tunnel,) = stack.model.tunnels.dynamic_tunnels()
                (sa,) = stack.installer.installed()  # type: ignore[attr-defined]
                self.assertEqual(sa.spiIn, tunnel.inboundSpi)
                self.assertEqual(stack.model.statistics[Gauge.P2_ACTIVE], 1)
            self.assertEqual(mine.outboundSpi, theirs.inboundSpi)

        return ensureDeferred(go())


class IkeCollisionTests(TwoStacks):
    def test_both_ends_rekey_the_ike_sa_at_once(self) -> Deferred[None]:
        """
        Both stacks refresh the IKE SA in the same turn of the reactor: one
        IKE SA remains, the same on both sides, in the one tunnel each
        shows, with the CHILD_SA; the collision is reported (EZD1222I).
        """
        messages = capture_messages(self)

        async def go() -> None:
            left, right = self.left.model.tunnels, self.right.model.tunnels
            left.activate_dynamic(name="host-host")
            await self._until(right.dynamic_tunnels, "the responder's tunnel")
            await self._until(left.dynamic_tunnels, "our tunnel")
            (mine,) = left.ike_tunnels()
            (theirs,) = right.ike_tunnels()
            (child,) = left.dynamic_tunnels()
            spi = child.inboundSpi
            before = mine.localSpi
            left.refresh_ike(tunnelId=mine.tunnelId)
            right.refresh_ike(tunnelId=theirs.tunnelId)

            def settled() -> bool:
                return (
                    mine.localSpi != before
                    and mine.localSpi == theirs.remoteSpi
                    and mine.remoteSpi == theirs.localSpi
                    and len(self.left.engine.sas()) == 1
                    and len(self.right.engine.sas()) == 1
                    and any("EZD1222I" in m for m in messages)
                )

            await self._until(settled, "one IKE SA after the collision")
            for stack in (self.left, self.right):
                self.assertEqual(len(stack.model.tunnels.ike_tunnels()), 1)
                self.assertEqual(stack.model.statistics[Gauge.P1_ACTIVE], 1)
                (sa,) = stack.engine.sas()
                self.assertEqual(len(sa.children), 1)
            self.assertEqual(child.inboundSpi, spi)  # moved over, untouched

        return ensureDeferred(go())


class DeadPeerTests(StackIkeTestCase):
    timeout = 60

    def test_dead_peer_removed_and_renegotiated(self) -> Deferred[None]:
        """
        The right stack stops answering: the left one, with DpdInterval 1,
        removes the IKE SA and its CHILD_SA (EZD1220I) and negotiates its
        AutoActivate rule again, which succeeds once the right stack is
        back (a restarted iked that knows no SA).
        """
        messages = capture_messages(self)
        left, right = ("127.0.0.1", _udp_port()), ("127.0.0.1", _udp_port())
        fast = EngineSettings(
            retransmitTimeout=0.2, retransmitBase=1.5, retransmitTries=2
        )
        leftPolicy = replace(
            peer_policy(
                "to-right",
                left,
                right,
                "left.iked.test",
                "right.iked.test",
                children=(replace(child_policy(), autoActivate=True),),
            ),
            dpdInterval=1,
        )
        rightPolicy = peer_policy(
            "to-left",
            right,
            left,
            "right.iked.test",
            "left.iked.test",
            children=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
        )
        first = self._side("right", rightPolicy)
        ours = self._side("left", leftPolicy, settings=fast)

        async def go() -> None:
            tunnels = ours.model.tunnels
            await self._until(tunnels.dynamic_tunnels, "the tunnel")
            (old,) = tunnels.ike_tunnels()
            spi = old.localSpi
            await first.stop()
            await self._until(lambda: not tunnels.ike_tunnels(), "the removal")
            self.assertEqual(tunnels.dynamic_tunnels(), [])
            self.assertEqual(ours.installer.installed(), [])  # type: ignore[attr-defined]
            (said,) = [m for m in messages if "EZD1220I" in m]
            self.assertIn("negotiating host-host again", said)
            self.assertTrue(
                any("EZD1151I" in m and "peer not responding" in m for m in messages)
            )
            # the right stack comes back, knowing nothing
            self._side("right", rightPolicy)
            await self._until(tunnels.dynamic_tunnels, "the tunnel again")
            (new,) = tunnels.ike_tunnels()
            self.assertNotEqual(new.localSpi, spi)

        return ensureDeferred(go())


class SlowVerifier:
    """
    The local verifier, answering after C{delay} seconds, as nssd's
    verification across the network does.
    """

    def __init__(self, verifier: LocalVerifier, delay: float) -> None:
        self._verifier = verifier
        self._delay = delay
        self.description = verifier.description

    def verify(self, *args: Any) -> Deferred[None]:
        verdict = self._verifier.verify(*args)
        later: Deferred[None] = deferLater(reactor, self._delay, lambda: None)
        return later.addCallback(lambda _: verdict)

    def authorities(self) -> Deferred[tuple[bytes, ...]]:
        return self._verifier.authorities()


class HostileUdpPeer:
    """
    A hostile IKE peer over real UDP: the project's own engine, answering
    its own signature and certificate questions at once, with a hook that
    may add a forged datagram right behind any it sends.
    """

    def __init__(self, engine: Any, credentials: LocalCredentials, local: Any) -> None:
        from nsstwisted.protocols.ike import IkeDatagramProtocol

        self.engine = engine
        self.credentials = credentials
        self.protocol = IkeDatagramProtocol(local, self.received)
        self.port = reactor.listenUDP(  # type: ignore[attr-defined]
            local[1], self.protocol, interface=local[0]
        )
        self.after: Any = None

    def received(self, message: bytes, local: Any, remote: Any) -> None:
        self.handle(self.engine.receive(message, local, remote, reactor.seconds()))

    def handle(self, actions: list[Any]) -> None:
        from nsstwisted.ike.events import (
            PeerCheckNeeded,
            SendDatagram,
            SignatureNeeded,
        )

        now = reactor.seconds()
        for action in actions:
            if isinstance(action, SendDatagram):
                self.protocol.send(action.message, action.remote, action.raw)
                if self.after is not None:
                    extra = self.after(action.message)
                    if extra is not None:
                        self.protocol.send(extra, action.remote)
            elif isinstance(action, SignatureNeeded):
                signed = self.credentials.sign(action.octets, action.peerHashes)
                self.handle(self.engine.signature_made(action.requestId, signed, now))
            elif isinstance(action, PeerCheckNeeded):
                self.handle(self.engine.peer_checked(action.requestId, None, now))


class HostileUdpTests(StackIkeTestCase):
    """
    A real StackIke as responder against a hostile peer over UDP (issue 23).
    """

    def setUp(self) -> None:
        self.hostileEnd = ("127.0.0.1", _udp_port())
        ours = ("127.0.0.1", _udp_port())
        # The documented default: no remote Identity on the rule; and a
        # verifier that answers as late as one across the network (nssd)
        # does, so that the second request arrives while the first is
        # still being checked.
        self.right = self._side(
            "right",
            peer_policy(
                "to-left",
                ours,
                self.hostileEnd,
                "right.iked.test",
                None,
                children=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
            ),
            SlowVerifier(LocalVerifier(LocalTrust((pki().ca,))), 0.2),
        )

    def test_second_ike_auth_cannot_swap_identity(self) -> Deferred[None]:
        """
        The hostile initiator follows its honest IKE_AUTH at once with a
        second one, next message ID, claiming ceo.example: the responder's
        tunnel is recorded under the identity that was proved.
        """
        from nsstwisted.ike.constants import ExchangeType
        from nsstwisted.ike.engine import IkeEngine
        from nsstwisted.ike.message import IkeHeader

        from .test_ike_engine import forged_auth

        victim = self.right.engine.peers[0]
        local = self.hostileEnd
        target = (str(victim.localAddress), victim.localPort)
        certificate, key = leaf("left.iked.test")
        engine = IkeEngine(
            [
                peer_policy(
                    "to-right",
                    local,
                    target,
                    "left.iked.test",
                    "right.iked.test",
                    children=(child_policy(),),
                )
            ]
        )
        hostile = HostileUdpPeer(engine, LocalCredentials(certificate, key), local)
        self.addCleanup(hostile.port.stopListening)
        forged: list[bytes] = []

        def second_auth(message: bytes) -> bytes | None:
            header = IkeHeader.decode(message)
            if header.exchange != ExchangeType.IKE_AUTH or header.isResponse or forged:
                return None
            (sa,) = engine.sas()
            forged.append(forged_auth(sa, header.messageId + 1, "ceo.example"))
            return forged[0]

        hostile.after = second_auth

        async def go() -> None:
            hostile.handle(engine.initiate("to-right", "host-host", reactor.seconds()))
            tunnels = self.right.model.tunnels
            await self._until(lambda: tunnels.ike_tunnels(), "the responder's SA")
            self.assertTrue(forged)
            (tunnel,) = tunnels.ike_tunnels()
            self.assertEqual(tunnel.remoteId, "left.iked.test")
            await deferLater(reactor, 0.3, lambda: None)
            self.assertEqual(
                [t.remoteId for t in tunnels.ike_tunnels()], ["left.iked.test"]
            )

        return ensureDeferred(go())


class HostileSelectorTests(TwoStacks):
    """
    A peer proposing address ranges, over UDP to a real L{StackIke}: what
    the stack installs must cover exactly what it agreed to.
    """

    def _everything(self) -> None:
        """Both stacks' rules become 0.0.0.0/0 on both sides."""
        everything = child_policy(local="0.0.0.0/0", remote="0.0.0.0/0")
        for side in (self.left, self.right):
            (policy,) = side.engine.peers
            side.update_peers([replace(policy, children=(everything,))])

    def test_range_installed_whole(self) -> Deferred[None]:
        """
        The left stack offers 10.2.0.1-10.2.0.254 for its side; the right
        stack (10.2.0.0/24 for the peer) agrees to it and installs all 14
        prefixes of it, not 10.2.0.1/32 alone.
        """
        offered = address_range("10.2.0.1", "10.2.0.254")
        offer_ranges(self.patch, {"10.2.0.0/24": (offered,)})

        async def go() -> None:
            self.left.model.tunnels.activate_dynamic(name="host-host")
            installer: Any = self.right.installer
            await self._until(lambda: installer.installed(), "the installation")
            (sa,) = installer.installed()
            remote = [s.network for s in sa.remoteSelectors]
            self.assertEqual(len(remote), 14)
            for host in range(1, 255):
                address = ipaddress.ip_address(f"10.2.0.{host}")
                self.assertEqual(sum(address in n for n in remote), 1, host)
            for outside in ("10.2.0.0", "10.2.0.255"):
                address = ipaddress.ip_address(outside)
                self.assertFalse(any(address in n for n in remote), outside)
            # The tunnel record shows the range as agreed.
            (tunnel,) = self.right.model.tunnels.dynamic_tunnels()
            assert tunnel.remoteSelector is not None
            self.assertEqual(
                (tunnel.remoteSelector.startAddress, tunnel.remoteSelector.endAddress),
                ("10.2.0.1", "10.2.0.254"),
            )

        return ensureDeferred(go())

    def test_wide_ranges_refused(self) -> Deferred[None]:
        """
        Nearly all of IPv4 as a range, on both sides, against rules of
        0.0.0.0/0: refused with TS_UNACCEPTABLE, nothing installed, the
        IKE SA kept.
        """
        self._everything()
        wide = address_range("0.0.0.1", "255.255.255.254")
        offer_ranges(self.patch, {"0.0.0.0/0": (wide,)})
        messages = capture_messages(self)

        async def go() -> None:
            left, right = self.left.model, self.right.model
            left.tunnels.activate_dynamic(name="host-host")
            await self._until(
                lambda: left.statistics[Counter.P2_LOCAL_FAILURE] == 1,
                "the refusal",
            )
            self.assertEqual(self.right.installer.installed(), [])  # type: ignore[attr-defined]
            self.assertEqual(right.tunnels.dynamic_tunnels(), [])
            self.assertEqual(len(right.tunnels.ike_tunnels()), 1)
            self.assertTrue(
                any("EZD1155I" in m and "TS_UNACCEPTABLE" in m for m in messages),
                messages,
            )

        return ensureDeferred(go())

    def test_installation_refuses_without_the_engine(self) -> Deferred[None]:
        """
        Were the engine to agree to such selectors anyway, the stack
        installs nothing and says so (EZD1158I), rather than skipping the
        installation in silence.
        """
        self._everything()
        wide = address_range("0.0.0.1", "255.255.255.254")
        offer_ranges(self.patch, {"0.0.0.0/0": (wide,)})
        self.patch(childexchange, "check_installable", lambda local, remote: None)
        messages = capture_messages(self)

        async def go() -> None:
            self.left.model.tunnels.activate_dynamic(name="host-host")
            await self._until(
                lambda: any("EZD1158I" in m for m in messages), "EZD1158I"
            )
            self.assertEqual(self.right.installer.installed(), [])  # type: ignore[attr-defined]
            refusal = next(m for m in messages if "EZD1158I" in m)
            self.assertIn(f"more than {MAX_PREFIX_PAIRS} pairs", refusal)

        return ensureDeferred(go())


class HostilePeerCertificateTests(TwoStacks):
    """
    Over UDP, the left stack authenticates with a certificate of the
    trusted CA whose extended key usage is serverAuth alone: the right
    stack refuses it (EZD1155I says why) until its KeyExchangeRule says
    PeerEku IkeOrTls, which the stack's verifier is then given.
    """

    leftProfile = "serverAuth"
    messages: list[str]

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        super().setUp()

    def test_refused_then_allowed(self) -> Deferred[None]:
        async def go() -> None:
            left, right = self.left.model, self.right.model
            left.tunnels.activate_dynamic(name="host-host")
            await self._until(
                lambda: right.statistics[Counter.P1_REMOTE_FAILURE] == 1,
                "the refusal",
            )
            self.assertEqual(right.tunnels.ike_tunnels(), [])
            self.assertTrue(
                any(
                    "EZD1155I Stack RIGHT negotiation with" in m
                    and "(serverAuth) is for TLS" in m
                    for m in self.messages
                ),
                self.messages,
            )
            (policy,) = self.right.engine.peers
            self.right.update_peers([replace(policy, peerEku=PeerEku.IKE_OR_TLS)])
            left.tunnels.activate_dynamic(name="host-host")
            await self._until(lambda: right.tunnels.ike_tunnels(), "the IKE SA")
            await self._until(lambda: left.tunnels.dynamic_tunnels(), "the tunnel")

        return ensureDeferred(go())


class FragmentationTests(TwoStacks):
    """RFC 7383 over real UDP between two stacks, and its messages."""

    def test_fragmented_over_udp(self) -> Deferred[None]:
        """
        With a 576-octet IkeFragmentSize on both stacks, IKE_AUTH goes in
        fragments over the sockets (EZD1212I says so for each side) and
        the tunnel comes up; an incomplete set given up is told to the
        operator with EZD1211I.
        """
        messages = capture_messages(self)
        for side in (self.left, self.right):
            side.engine.settings = EngineSettings(fragmentSize=576)

        async def go() -> None:
            self.left.model.tunnels.activate_dynamic(name="host-host")
            await self._until(
                lambda: self.left.model.tunnels.dynamic_tunnels(), "our tunnel"
            )
            for stack in ("LEFT", "RIGHT"):
                self.assertTrue(
                    any(
                        f"EZD1212I Stack {stack} sent IKE_AUTH message 1 to"
                        " 127.0.0.1 in " in m
                        for m in messages
                    ),
                    messages,
                )
            (sa,) = self.right.engine.sas()
            self.right._run(
                [ReassemblyAbandoned(sa, 7, False, 2, 3, "incomplete after 30 seconds")]
            )
            self.assertIn(
                "EZD1211I Stack RIGHT gave up reassembling request 7 from 127.0.0.1"
                " (to-left, 2 of 3 fragments): incomplete after 30 seconds",
                messages,
            )

        return ensureDeferred(go())
