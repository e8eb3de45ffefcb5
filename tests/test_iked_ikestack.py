"""
Two stacks' IKE sides (L{StackIke}) in one process, over real UDP on
127.0.0.1, with local credentials: the adapter, the timers, the stack
model's tunnels and statistics, the recording installer and the control
operations, end to end without strongSwan.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nsstwisted.ike.localauth import LocalCredentials, LocalTrust
from nsstwisted.ike.policy import PeerEku, PeerPolicy
from nsstwisted.iked.filters import StackFilters
from nsstwisted.iked.ikesigners import LocalSigner, LocalVerifier
from nsstwisted.iked.ikestack import StackIke
from nsstwisted.iked.installer import RecordingInstaller
from nsstwisted.iked.interfaces import InterfaceReader
from nsstwisted.iked.stack import StackModel
from nsstwisted.iked.statistics import Counter, Gauge, StackStatistics
from nsstwisted.iked.tunnels import StackTunnels
from nsstwisted.wire.filters import TunnelStatus
from tests.daemons import capture_messages

from .ikepeers import child_policy, leaf, peer_policy, pki, profile_leaf


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StackPair(TestCase):
    """Two stacks' IKE sides, left and right, each the other's peer."""

    timeout = 30

    def _side(
        self, name: str, policy: PeerPolicy, profile: str | None = None
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
            LocalVerifier(LocalTrust((pki().ca,))),
            RecordingInstaller(),
            model,
        )
        ike.start()
        self.addCleanup(ike.stop)
        return ike

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
            self.leftProfile,
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
        )

    async def _until(self, check: Any, what: str) -> None:
        for _ in range(200):
            if check():
                return
            await deferLater(reactor, 0.02, lambda: None)
        raise AssertionError(f"timed out waiting for {what}")


class StackIkeTests(StackPair):
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


class HostilePeerCertificateTests(StackPair):
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
