"""
iked's Prometheus metrics, scraped over real HTTP: each stack's NSS
connection and failovers from a real iked against two real in-process nssds,
and the IKE and CHILD SA counters from two stacks' IKE sides negotiating
over real UDP.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import replace

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import TestCase

from nsstwisted.config import ConfigurationError
from nsstwisted.config.values import MetricsListener
from nsstwisted.ike.constants import IdType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.policy import LocalIdentity
from nsstwisted.iked.configuration import iked_configuration_from_text
from nsstwisted.iked.nssclient.signers import NssSigner
from nsstwisted.iked.service import IKEDService
from nsstwisted.iked.stackmodel.latency import LatencyHistogram
from nsstwisted.iked.stackmodel.prometheus import IkedMetrics
from nsstwisted.iked.stackmodel.samples import StackSample
from nsstwisted.iked.stackmodel.statistics import StackStatistics
from nsstwisted.protocols.startup import StartupError
from tests.daemons import (
    LISTENING,
    DaemonProcess,
    free_port,
    python,
    start_nssd,
    twistd_args,
    write_nssd_config,
)
from tests.test_iked_keyexchange_ikestack import TwoStacks
from tests.test_iked_nssclient_connection import (
    IkedTestCase,
    eventually,
    write_iked_config,
)
from tests.test_nssd_metrics import Samples, fetch, parse, value


def scrape(port: object) -> Deferred[str]:
    return fetch(f"http://127.0.0.1:{port.getHost().port}/metrics")  # type: ignore[attr-defined]


def with_metrics(config: str, line: str) -> str:
    """C{config} (a file) with C{line} added to its IkeConfig."""
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace("IkeConfig\n{\n", f"IkeConfig\n{{\n{line}\n", 1))
    return config


class IkedNssMetricsTests(IkedTestCase):
    def start_nssd_process(self, name: str, port: int) -> DaemonProcess:
        """An nssd of its own process, which a test can kill, as a crash."""
        process = DaemonProcess()
        transport = reactor.spawnProcess(
            process,
            python(),
            twistd_args(write_nssd_config(self.setup, port=port, name=name)),
            env=dict(os.environ),
        )

        def stop() -> Deferred[int]:
            if not process.ended.called:
                transport.signalProcess("KILL")
            return process.ended

        self.addCleanup(stop)
        return process

    def test_connectionAndFailover(self) -> Deferred[None]:
        """
        Each NSS stack shows as connected; when its server goes away, the
        switch to the backup is counted once per stack, and the stacks
        show connected again.  A stack that is not an NSS client has no
        NSS series.
        """
        primaryPort, backupPort = free_port(), free_port()
        primary = self.start_nssd_process("primary", primaryPort)
        backup = self.start_nssd_process("backup", backupPort)
        stacks = ("STACKA", "STACKB")

        async def go() -> None:
            await primary.waitFor(LISTENING.pattern)
            await backup.waitFor(LISTENING.pattern)
            service = self.start_iked(
                with_metrics(
                    write_iked_config(self.setup, primaryPort, backupPort),
                    "  MetricsPort 0",
                )
            )
            await eventually(
                lambda: all(
                    self.server_port(service, s) == primaryPort for s in stacks
                ),
                what="both stacks on the primary",
            )
            before = parse(await scrape(service.metricsPort))
            for stack in stacks:
                self.assertEqual(value(before, "iked_nss_connected", stack=stack), 1)
                self.assertEqual(
                    value(
                        before,
                        "iked_nss_connection_state",
                        stack=stack,
                        state="connected",
                    ),
                    1,
                )
                self.assertEqual(
                    value(before, "iked_nss_failovers_total", stack=stack), 0
                )
            self.assertNotIn(("iked_nss_connected", (("stack", "PLAIN"),)), before)
            self.assertIn(
                (
                    "iked_ike_sa_setups_total",
                    (("initiator", "local"), ("stack", "PLAIN")),
                ),
                before,
            )
            primary.transport.signalProcess("KILL")  # type: ignore[union-attr]
            await primary.ended
            await eventually(
                lambda: all(self.server_port(service, s) == backupPort for s in stacks),
                what="both stacks on the backup",
            )
            after = parse(await scrape(service.metricsPort))
            for stack in stacks:
                self.assertEqual(
                    value(after, "iked_nss_failovers_total", stack=stack), 1
                )
                self.assertEqual(value(after, "iked_nss_connected", stack=stack), 1)
            self.assertTrue(self.logged("EZD1190I metrics served on http://127.0.0.1:"))

        return ensureDeferred(go())

    def test_offByDefault(self) -> None:
        service = self.start_iked(write_iked_config(self.setup, 9, None))
        self.assertIsNone(service.metrics)
        self.assertIsNone(service.metricsPort)
        self.assertFalse(self.logged("EZD1190I"))

    def test_portInUse(self) -> Deferred[None]:
        """
        A metrics port in use fails the start (EZD1192I, then EZD1104I),
        and gives up the management socket it had bound.
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        service = IKEDService.prepare(
            with_metrics(
                write_iked_config(self.setup, 9, None), f"  MetricsPort {taken}"
            ),
            reactor,
        )
        error = self.assertRaises(StartupError, service.startService)
        self.assertIn(
            f"EZD1192I cannot serve metrics on 127.0.0.1 port {taken}:", str(error)
        )
        self.assertIn("Address already in use", str(error))
        self.assertTrue(self.logged("EZD1104I IKE daemon cannot start: EZD1192I"))
        self.assertFalse(service.running)
        self.assertIsNone(service.nmiPort)
        self.assertEqual(service.connections, {})
        socketPath = service.configuration.nmiSocket
        # The management socket's file goes once its port has closed, in
        # a later turn of the reactor.
        return ensureDeferred(
            eventually(
                lambda: not os.path.exists(socketPath), what="the socket file gone"
            )
        )

    def test_withoutPrometheusClient(self) -> None:
        saved = {
            name: sys.modules.pop(name, None)
            for name in (
                "prometheus_client",
                "nsstwisted.iked.stackmodel.prometheus",
                "nsstwisted.protocols.metricsweb",
            )
        }

        def restore() -> None:
            for name, module in saved.items():
                if module is not None:
                    sys.modules[name] = module
                else:
                    sys.modules.pop(name, None)

        self.addCleanup(restore)
        # A None entry makes an import fail as a missing package does.
        sys.modules["prometheus_client"] = None  # type: ignore[assignment]
        error = self.assertRaises(
            StartupError,
            IKEDService.prepare,
            with_metrics(write_iked_config(self.setup, 9, None), "  MetricsPort 0"),
            reactor,
        )
        self.assertEqual(
            str(error),
            "EZD1191I MetricsPort is coded, but prometheus-client is not"
            " installed: install nsstwisted[metrics], or remove MetricsPort",
        )

    def test_refreshKeepsListener(self) -> Deferred[None]:
        config = with_metrics(write_iked_config(self.setup, 9, None), "  MetricsPort 0")
        service = self.start_iked(config)
        inForce = service.configuration.metrics

        async def go() -> None:
            write_iked_config(self.setup, 9, None)
            await service.refresh()
            self.assertEqual(service.configuration.metrics, inForce)
            self.assertIsNotNone(service.metricsPort)
            self.assertTrue(
                self.logged(
                    "EZD1193I MetricsPort changed: the change takes effect when iked"
                    " restarts; in force until then: MetricsPort 0 Interface"
                    " 127.0.0.1"
                )
            )
            samples = parse(await scrape(service.metricsPort))
            self.assertIn(("iked_nss_connected", (("stack", "STACKA"),)), samples)

        return ensureDeferred(go())


class SignatureLatencyTests(IkedTestCase):
    """
    C{iked_nss_signature_seconds}: a stack's signer against a real nssd
    observes each SIGN request's round trip, signed or refused, and the
    histogram is scraped over HTTP.  (The service's own signer, in a real
    IKE_AUTH with strongSwan: C{tests/test_ike_strongswan.py}.)
    """

    def test_signaturesObserved(self) -> Deferred[None]:
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        nssdPort = nssd.port.getHost().port  # type: ignore[attr-defined]
        # A clock that makes the first round trip 3 ms and the second 20 s.
        readings = iter([100.0, 100.003, 200.0, 220.0])
        latency = LatencyHistogram()
        metrics = IkedMetrics(
            MetricsListener(0),
            lambda: [
                StackSample(
                    "STACKA", StackStatistics(), "connected", 0, latency.snapshot()
                ),
                StackSample("PLAIN", StackStatistics()),
            ],
        )
        port = metrics.listen(reactor)
        self.addCleanup(port.stopListening)

        async def go() -> None:
            service = self.start_iked(write_iked_config(self.setup, nssdPort, None))
            await eventually(
                lambda: self.server_port(service, "STACKA") == nssdPort,
                what="STACKA",
            )
            signer = NssSigner(
                service.connections["STACKA"], latency, clock=lambda: next(readings)
            )
            before = parse(await scrape(port))
            self.assertEqual(
                value(before, "iked_nss_signature_seconds_count", stack="STACKA"), 0
            )
            await signer.sign_for(LocalIdentity(IdType.FQDN, "client1.example")).sign(
                b"AUTH octets", None
            )
            refused = signer.sign_for(LocalIdentity(IdType.FQDN, "nobody.example"))
            await self.assertFailure(refused.sign(b"AUTH octets", None), IkeError)
            self.assertEqual(signer.requests, 2)
            after = parse(await scrape(port))

            def bucket(le: str) -> float:
                return value(
                    after, "iked_nss_signature_seconds_bucket", stack="STACKA", le=le
                )

            self.assertEqual(
                [bucket("0.0025"), bucket("0.005"), bucket("10.0"), bucket("+Inf")],
                [0, 1, 1, 2],
            )
            self.assertEqual(
                value(after, "iked_nss_signature_seconds_count", stack="STACKA"), 2
            )
            self.assertAlmostEqual(
                value(after, "iked_nss_signature_seconds_sum", stack="STACKA"), 20.003
            )
            # A stack that does not sign through nssd has no series.
            self.assertNotIn(
                ("iked_nss_signature_seconds_count", (("stack", "PLAIN"),)), after
            )

        return ensureDeferred(go())

    def test_bucketBounds(self) -> None:
        """
        An observation on a bound counts in that bound's bucket, as
        Prometheus's C{le} ("less or equal") says.
        """
        latency = LatencyHistogram((0.01, 0.1))
        for seconds in (0.01, 0.05, 0.1, 0.5):
            latency.observe(seconds)
        self.assertEqual(
            latency.snapshot().cumulative(), [(0.01, 1), (0.1, 3), (float("inf"), 4)]
        )
        self.assertRaises(ValueError, LatencyHistogram, (0.1, 0.01))


class IkeSaMetricsTests(TwoStacks):
    """
    The IKE side's statistics as metrics, from two stacks that negotiate
    with each other over real UDP.
    """

    def serve(self) -> object:
        metrics = IkedMetrics(
            MetricsListener(0),
            lambda: [
                StackSample(side.model.name, side.model.statistics)
                for side in (self.left, self.right)
            ],
        )
        port = metrics.listen(reactor)
        self.addCleanup(port.stopListening)
        return port

    def test_setupsCounted(self) -> Deferred[None]:
        port = self.serve()

        async def go() -> None:
            before = parse(await scrape(port))
            self.left.model.tunnels.activate_dynamic(name="host-host")
            await self._until(
                lambda: (
                    self.left.model.tunnels.dynamic_tunnels()
                    and self.right.model.tunnels.dynamic_tunnels()
                ),
                "the tunnel on both sides",
            )
            after = parse(await scrape(port))

            def moved(name: str, **labels: str) -> float:
                return value(after, name, **labels) - value(before, name, **labels)

            self.assertEqual(
                [
                    moved("iked_ike_sa_setups_total", stack="LEFT", initiator="local"),
                    moved(
                        "iked_ike_sa_setups_total", stack="RIGHT", initiator="remote"
                    ),
                    moved(
                        "iked_child_sa_setups_total", stack="LEFT", initiator="local"
                    ),
                    moved(
                        "iked_child_sa_setups_total", stack="RIGHT", initiator="remote"
                    ),
                    moved(
                        "iked_ike_sa_failures_total", stack="LEFT", initiator="local"
                    ),
                    value(after, "iked_active_sas", stack="LEFT", kind="ike"),
                    value(after, "iked_active_sas", stack="LEFT", kind="child"),
                ],
                [1, 1, 1, 1, 0, 1, 1],
            )

        return ensureDeferred(go())

    def test_failuresCounted(self) -> Deferred[None]:
        port = self.serve()
        policy = self.right.engine.peers[0]
        assert policy.remoteIdentity is not None
        wrong = replace(policy.remoteIdentity, value="x.test")
        self.right.update_peers([replace(policy, remoteIdentity=wrong)])

        async def go() -> None:
            before: Samples = parse(await scrape(port))
            self.left.model.tunnels.activate_dynamic(name="host-host")
            await self._until(
                lambda: self.right.model.statistics.snapshot().p1RmtActFailure == 1,
                "the failure",
            )
            await self._until(
                lambda: self.left.model.statistics.snapshot().p1LclActFailure == 1,
                "the failure",
            )
            after = parse(await scrape(port))
            self.assertEqual(
                [
                    value(after, name, stack=stack, initiator=initiator)
                    - value(before, name, stack=stack, initiator=initiator)
                    for name, stack, initiator in [
                        ("iked_ike_sa_failures_total", "LEFT", "local"),
                        ("iked_ike_sa_failures_total", "RIGHT", "remote"),
                        ("iked_ike_sa_setups_total", "LEFT", "local"),
                    ]
                ],
                [1, 1, 0],
            )

        return ensureDeferred(go())


class IkedMetricsKeywordTests(TestCase):
    def load(self, line: str) -> MetricsListener | None:
        return iked_configuration_from_text(
            f"IkeConfig\n{{\n  SystemName IKESYS\n  {line}\n}}\n", "iked.conf"
        ).metrics

    def test_values(self) -> None:
        self.assertIsNone(self.load("NmiIdleTimeout 60"))
        self.assertEqual(self.load("MetricsPort 9160"), MetricsListener(9160))
        self.assertEqual(
            self.load("MetricsPort 9160 Interface ::1"), MetricsListener(9160, "::1")
        )

    def test_badValue(self) -> None:
        error = self.assertRaises(
            ConfigurationError, self.load, "MetricsPort 9160 Interface host.test"
        )
        self.assertIn("iked.conf", str(error))
        self.assertIn(":4", str(error))
        self.assertIn("MetricsPort", str(error))
        self.assertIn("must be an IPv4 or IPv6 address", str(error))
