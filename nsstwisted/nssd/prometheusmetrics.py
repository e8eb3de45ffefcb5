"""
nssd's metrics in Prometheus form, served over HTTP by twisted.web.

Imported only when C{MetricsPort} is coded (see L{nsstwisted.nssd.metrics}),
since it needs C{prometheus-client}.  Each server has a registry of its own
(L{nsstwisted.protocols.metricsweb}).

The labels are few and fixed: request type, result, logon method, pool and
session state, never a client name, user ID or address, so that the number
of series does not grow with the clients.  Every label child a request
touches is bound once here, not looked up per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from twisted.internet.interfaces import IListeningPort

from nsstwisted.config.values import MetricsListener
from nsstwisted.nssd.metrics import (
    LOGON_METHODS,
    REQUEST_RESULTS,
    REQUEST_TYPES,
    MetricsSources,
    NssdMetrics,
    RequestTimer,
)
from nsstwisted.protocols.metricsweb import listen_metrics, metrics_registry
from nsstwisted.protocols.startup import StartupError
from nsstwisted.security.logon import LogonOutcome

__all__ = ["PrometheusMetrics"]

T = TypeVar("T")

#: From a quick ECDSA signature (tens of microseconds) to a logon's scrypt
#: (tens of milliseconds) and a request that waited behind a storm.
BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

LOGON_RESULTS = (
    "accepted",
    *(o.name.lower() for o in LogonOutcome if o is not LogonOutcome.ACCEPTED),
    "service_denied",
    "error",
)


class _Timer(RequestTimer):
    __slots__ = ("_counts", "_execution", "_started", "_total")

    def __init__(
        self,
        execution: Any,
        total: Any,
        counts: dict[str, Any] | None,
    ) -> None:
        self._execution = execution
        self._total = total
        self._counts = counts
        self._started = time.perf_counter()

    def execute(self, work: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return work(*args)
        finally:
            self._execution.observe(time.perf_counter() - started)

    def answered(self, result: str) -> None:
        self._total.observe(time.perf_counter() - self._started)
        if self._counts is not None:
            self._counts[result].inc()


class _Gauges:
    """The gauges read at each scrape (L{MetricsSources})."""

    def __init__(self, sources: MetricsSources) -> None:
        self._sources = sources

    def describe(self) -> list[Metric]:
        # Names only: the registry checks for clashes without reading the
        # sources before the server is built.
        return [
            GaugeMetricFamily("nssd_sessions", "", labels=["state"]),
            GaugeMetricFamily("nssd_pool_queued_jobs", "", labels=["pool"]),
            GaugeMetricFamily("nssd_database_reachable", ""),
        ]

    def collect(self) -> Iterator[Metric]:
        sessions = GaugeMetricFamily(
            "nssd_sessions",
            "NSS connections held, by state: setup (accepted, not yet logged"
            " on) or active (logged on)",
            labels=["state"],
        )
        for state, count in self._sources.sessions().items():
            sessions.add_metric([state], count)
        yield sessions
        queued = GaugeMetricFamily(
            "nssd_pool_queued_jobs",
            "Jobs waiting for a thread, by worker pool (sign: signatures and"
            " verifications; logon: password and PassTicket checks)",
            labels=["pool"],
        )
        for pool, count in self._sources.queued().items():
            queued.add_metric([pool], count)
        yield queued
        yield GaugeMetricFamily(
            "nssd_database_reachable",
            "1 if the security database answered nssd's last use of it, else 0"
            " (nssd serves from its snapshot meanwhile)",
            value=1 if self._sources.databaseReachable() else 0,
        )


class PrometheusMetrics(NssdMetrics):
    """
    nssd's metrics, counted and served.

    @ivar registry: this server's own registry.
    """

    enabled = True

    def __init__(self, listener: MetricsListener, sources: MetricsSources) -> None:
        self.listener = listener
        self.registry = metrics_registry()
        registry = self.registry
        logons = Counter(
            "nssd_logons",
            "Logons, by method and result (accepted, the refused outcome,"
            " service_denied, error)",
            ["method", "result"],
            registry=registry,
        )
        self._logons = {
            (method, result): logons.labels(method, result)
            for method in LOGON_METHODS
            for result in LOGON_RESULTS
        }
        requests = Counter(
            "nssd_requests",
            "Certificate service requests, by type and result (ok, refused, error)",
            ["type", "result"],
            registry=registry,
        )
        execution = Histogram(
            "nssd_request_execution_seconds",
            "Time a request's work took in its thread (signing, verifying,"
            " checking a logon), by type",
            ["type"],
            buckets=BUCKETS,
            registry=registry,
        )
        total = Histogram(
            "nssd_request_seconds",
            "Time from reading a request to answering it, queueing included, by type",
            ["type"],
            buckets=BUCKETS,
            registry=registry,
        )
        self._requests: dict[str, dict[str, Any]] = {
            kind: {result: requests.labels(kind, result) for result in REQUEST_RESULTS}
            for kind in REQUEST_TYPES
        }
        self._timing = {
            kind: (execution.labels(kind), total.labels(kind))
            for kind in (*REQUEST_TYPES, "logon")
        }
        refreshes = Counter(
            "nssd_refreshes",
            "Refreshes of the configuration (SIGHUP, nss-modify nssd refresh),"
            " by result (accepted, rejected)",
            ["result"],
            registry=registry,
        )
        self._refreshes = {
            True: refreshes.labels("accepted"),
            False: refreshes.labels("rejected"),
        }
        self._lastRefresh = Gauge(
            "nssd_last_refresh_timestamp_seconds",
            "When the last accepted refresh was made (Unix time); 0 for none"
            " since nssd started",
            registry=registry,
        )
        registry.register(_Gauges(sources))

    def request(self, kind: str) -> RequestTimer:
        execution, total = self._timing[kind]
        return _Timer(execution, total, self._requests.get(kind))

    def refused(self, kind: str) -> None:
        self._requests[kind]["refused"].inc()

    def logon(self, method: str, result: str) -> None:
        self._logons[method, result].inc()

    def refreshed(self, accepted: bool) -> None:
        self._refreshes[accepted].inc()
        if accepted:
            self._lastRefresh.set(time.time())

    def listen(self, reactor: Any) -> IListeningPort:
        """
        Serve C{/metrics} on the configured address and port, now.

        @raise StartupError: it cannot be listened on (DBG0182I).
        """
        listener = self.listener
        try:
            return listen_metrics(reactor, listener, self.registry)
        except StartupError as e:
            raise StartupError(
                f"DBG0182I cannot serve metrics on {listener.interface} port"
                f" {listener.port}: {e}"
            ) from None
