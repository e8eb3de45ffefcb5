"""
nssd's Prometheus metrics, scraped over real HTTP from a real in-process
nssd (real TLS, a security database built by nss-racf's example job): each
metric moves with the event it counts, by exactly that much.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nsstwisted.client import NssRequestFailed, PasswordCredentials, connect
from nsstwisted.config import ConfigurationError
from nsstwisted.nssd.configuration import nssd_configuration_from_text
from nsstwisted.nssd.metrics import NO_METRICS
from nsstwisted.nssd.service import NSSDService
from nsstwisted.protocols.startup import StartupError
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LOOPBACK,
    build_security,
    capture_messages,
    client_endpoint,
    ended_within,
    spawn_twistd,
    start_nssd,
    twistd_args,
    write_nssd_config,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class MetricsTestCase(TestCase):
    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)

    def assertLogged(self, text: str) -> None:
        if not any(text in m for m in self.messages):
            self.fail(f"{text!r} was not logged; the log:\n" + "\n".join(self.messages))

    def start(self, *extra: str) -> NSSDService:
        service = start_nssd(self, self.setup, extra=extra)
        assert service.port is not None
        self.portNumber = service.port.getHost().port  # type: ignore[attr-defined]
        return service

    def scrape(self, service: NSSDService) -> Deferred[str]:
        assert service.metricsPort is not None
        address = service.metricsPort.getHost()
        return fetch(f"http://127.0.0.1:{address.port}/metrics")  # type: ignore[attr-defined]

    async def logon(self, password: str = CLIENT1_PASSWORD) -> Any:
        session = await connect(
            reactor,
            client_endpoint(self.setup, self.portNumber),
            serverIdentity=LOOPBACK,
            clientName="CLIENT1",
            credentials=PasswordCredentials("CLIENT1", password),
            services=Services.CERT | Services.NETMGMT,
        )
        self.addCleanup(session.close)
        return session


class NssdMetricsTests(MetricsTestCase):
    def test_metricsMoveWithWhatTheyCount(self) -> Deferred[None]:
        """
        A logon, a signature, a refused signature and a refused logon move
        the counters and histograms by exactly one each, where they belong;
        the gauges read the server's state at the scrape.
        """
        service = self.start("  MetricsPort 0")

        async def go() -> None:
            before = parse(await self.scrape(service))
            session = await self.logon()
            await session.sign(
                label="Client1 cert",
                data=b"AUTH payload",
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            failure = await self.assertFailure(
                session.sign(
                    label="Client2 cert",
                    data=b"x",
                    scheme=SignatureSchemeCode.ECDSA_SHA256,
                ),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnCertAccessDenied)
            await self.assertFailure(
                ensureDeferred(self.logon(password="wrong")), NssRequestFailed
            )
            after = parse(await self.scrape(service))

            def moved(name: str, **labels: str) -> float:
                return value(after, name, **labels) - value(before, name, **labels)

            self.assertEqual(
                {
                    "accepted": moved(
                        "nssd_logons_total", method="password", result="accepted"
                    ),
                    "refused": moved(
                        "nssd_logons_total",
                        method="password",
                        result="password_invalid",
                    ),
                    "sign ok": moved("nssd_requests_total", type="sign", result="ok"),
                    "sign refused": moved(
                        "nssd_requests_total", type="sign", result="refused"
                    ),
                    "sign error": moved(
                        "nssd_requests_total", type="sign", result="error"
                    ),
                    "verify": moved("nssd_requests_total", type="verify", result="ok"),
                    # The refused signature was refused before any signing.
                    "sign executed": moved(
                        "nssd_request_execution_seconds_count", type="sign"
                    ),
                    "sign answered": moved("nssd_request_seconds_count", type="sign"),
                    "logons checked": moved(
                        "nssd_request_execution_seconds_count", type="logon"
                    ),
                    "refreshes": moved("nssd_refreshes_total", result="accepted"),
                },
                {
                    "accepted": 1,
                    "refused": 1,
                    "sign ok": 1,
                    "sign refused": 1,
                    "sign error": 0,
                    "verify": 0,
                    "sign executed": 1,
                    "sign answered": 2,
                    "logons checked": 2,
                    "refreshes": 0,
                },
            )
            self.assertGreater(
                moved("nssd_request_execution_seconds_sum", type="sign"), 0
            )
            self.assertGreaterEqual(
                moved("nssd_request_seconds_sum", type="sign"),
                moved("nssd_request_execution_seconds_sum", type="sign"),
            )
            self.assertEqual(value(after, "nssd_sessions", state="active"), 1)
            self.assertEqual(value(after, "nssd_database_reachable"), 1)
            self.assertIn(("nssd_pool_queued_jobs", (("pool", "sign"),)), after)
            self.assertIn(("nssd_pool_queued_jobs", (("pool", "logon"),)), after)
            self.assertLogged("DBG0180I metrics served on http://127.0.0.1:")

        return ensureDeferred(go())

    def test_refreshCountedAndListenerKept(self) -> Deferred[None]:
        """
        A refresh is counted with its time; one that changes C{MetricsPort}
        keeps the listener in force until a restart, and says so (DBG0183I).
        """
        service = self.start("  MetricsPort 0")

        async def go() -> None:
            before = parse(await self.scrape(service))
            self.assertEqual(value(before, "nssd_last_refresh_timestamp_seconds"), 0)
            in_force = service.configuration.metrics
            write_nssd_config(self.setup, "  MetricsPort 0 Interface ::1")
            await service.refresh()
            after = parse(await self.scrape(service))
            self.assertEqual(
                value(after, "nssd_refreshes_total", result="accepted")
                - value(before, "nssd_refreshes_total", result="accepted"),
                1,
            )
            self.assertGreater(
                value(after, "nssd_last_refresh_timestamp_seconds"), 1.7e9
            )
            self.assertEqual(service.configuration.metrics, in_force)
            self.assertLogged(
                "DBG0183I MetricsPort changed: the change takes effect when nssd"
                " restarts; in force until then: MetricsPort 0 Interface 127.0.0.1"
            )
            with open(service.configPath, "a") as f:
                f.write("NssConfig { Port x }\n")
            await self.assertFailure(service.refresh(), Exception)
            rejected = parse(await self.scrape(service))
            self.assertEqual(
                value(rejected, "nssd_refreshes_total", result="rejected"), 1
            )

        return ensureDeferred(go())

    def test_offByDefault(self) -> None:
        """
        Without C{MetricsPort} nothing is counted or served.
        """
        service = self.start()
        self.assertIs(service.metrics, NO_METRICS)
        self.assertIsNone(service.metricsPort)
        self.assertIsNone(service.configuration.metrics)
        self.assertIn("# MetricsPort (off)", service.configuration.describe())
        self.assertFalse([m for m in self.messages if "DBG0180I" in m])

    def test_portInUse(self) -> Deferred[None]:
        """
        A metrics port in use fails the start (DBG0182I), and the start
        leaves nothing listening.
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        service = NSSDService.prepare(
            write_nssd_config(self.setup, f"  MetricsPort {taken}"),
            reactor,
            interface="127.0.0.1",
        )
        error = self.assertRaises(StartupError, service.startService)
        self.assertIn(
            f"DBG0182I cannot serve metrics on 127.0.0.1 port {taken}:", str(error)
        )
        self.assertIn("Address already in use", str(error))
        self.assertLogged("DBG0010I NSS server cannot start: DBG0182I")
        self.assertFalse(service.running)
        self.assertIsNone(service.port)
        self.assertIsNone(service.nmiPort)

        async def released() -> None:
            # The management socket's file goes once its port has closed,
            # in a later turn of the reactor.
            await deferLater(reactor, 0.1, lambda: None)
            self.assertFalse(os.path.exists(service.configuration.nmiSocket))

        return ensureDeferred(released())

    def test_withoutPrometheusClient(self) -> None:
        """
        Metrics asked for without C{prometheus-client} installed fail the
        start with DBG0181I, which says what to install.
        """
        saved = {
            name: sys.modules.pop(name, None)
            for name in ("prometheus_client", "nsstwisted.nssd.prometheusmetrics")
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
            NSSDService.prepare,
            write_nssd_config(self.setup, "  MetricsPort 9159"),
            reactor,
            interface="127.0.0.1",
        )
        self.assertEqual(
            str(error),
            "DBG0181I MetricsPort is coded, but prometheus-client is not"
            " installed: install nsstwisted[metrics], or remove MetricsPort",
        )


def fetch(url: str) -> Deferred[str]:
    """GET C{url} in a thread, as a Prometheus server would."""
    assert url.startswith("http://"), url

    def get() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (http only)
            body: bytes = response.read()
        return body.decode("utf-8")

    return deferToThread(get)


class TwistdMetricsTests(TestCase):
    """
    The keyword end to end: C{twistd -n nssd} as its own process.
    """

    timeout = 60

    def test_served(self) -> Deferred[None]:
        setup = build_security(self)
        process = spawn_twistd(
            self, twistd_args(write_nssd_config(setup, "  MetricsPort 0"))
        )

        async def go() -> None:
            found = await process.waitFor(
                rb"DBG0180I metrics served on (http://127\.0\.0\.1:\d+/metrics)"
            )
            samples = parse(await fetch(found.group(1).decode()))
            self.assertEqual(value(samples, "nssd_database_reachable"), 1)
            self.assertEqual(value(samples, "nssd_sessions", state="active"), 0)
            self.assertIn(
                ("nssd_logons_total", (("method", "password"), ("result", "accepted"))),
                samples,
            )

        return ensureDeferred(go())

    def test_portInUseEndsTheStart(self) -> Deferred[None]:
        setup = build_security(self)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        process = spawn_twistd(
            self, twistd_args(write_nssd_config(setup, f"  MetricsPort {taken}"))
        )

        async def go() -> None:
            self.assertEqual(await ended_within(process), 1)
            output = process.output.decode(errors="replace")
            self.assertTrue(
                re.search(
                    "DBG0010I NSS server cannot start: DBG0182I cannot serve"
                    f" metrics on 127.0.0.1 port {taken}: .*Address already in use",
                    output,
                ),
                output,
            )
            self.assertNotIn("DBG0002I", output)

        return ensureDeferred(go())


class MetricsKeywordTests(TestCase):
    def configuration(self, line: str) -> Any:
        return nssd_configuration_from_text(
            f"NssConfig {{\n  SystemName NSSSYS\n  {line}\n}}\n", "nssd.conf"
        ).metrics

    def test_values(self) -> None:
        self.assertEqual(
            [
                self.configuration(line).describe()
                for line in (
                    "MetricsPort 9159",
                    "metricsport 9159 interface 0.0.0.0",
                    "MetricsPort 0 Interface ::1",
                )
            ],
            [
                "MetricsPort 9159 Interface 127.0.0.1",
                "MetricsPort 9159 Interface 0.0.0.0",
                "MetricsPort 0 Interface ::1",
            ],
        )

    def test_badValues(self) -> None:
        """
        A bad port, a host name or a stray word is an error naming the file,
        line and keyword.
        """
        for line, message in [
            ("MetricsPort 65536", "the port must be a number from 0 to 65535"),
            ("MetricsPort -1", "the port must be a number from 0 to 65535"),
            ("MetricsPort", "takes a port, then optionally Interface and an IP"),
            (
                "MetricsPort 9159 Interface localhost",
                "Interface 'localhost' must be an IPv4 or IPv6 address",
            ),
            ("MetricsPort 9159 Address 127.0.0.1", "takes a port, then optionally"),
            ("MetricsPort 9159 Interface", "takes a port, then optionally"),
        ]:
            error = self.assertRaises(ConfigurationError, self.configuration, line)
            self.assertIn("nssd.conf", str(error))
            self.assertIn(":3", str(error))
            self.assertIn("MetricsPort", str(error))
            self.assertIn(message, str(error))
