"""
iked's metrics in Prometheus form: each stack's IKE statistics and NSS
connection, read at the scrape, served over HTTP.

Imported only when C{IkeConfig} codes C{MetricsPort}, since it needs
C{prometheus-client}.  The counters are the statistics iked already keeps
for C{NMsec_GET_SUMMARY} (L{StackStatistics}), and the signature latency
the histogram each NSS stack's signer keeps anyway
(L{nsstwisted.iked.stackmodel.latency}), read when Prometheus asks: an IKE
negotiation costs nothing more with metrics on.  The only label
besides the fixed ones (initiator, exchange, kind, state) is the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from twisted.internet.interfaces import IListeningPort

from nsstwisted.config.values import MetricsListener
from nsstwisted.iked.stackmodel.samples import NSS_STATES, StackSample
from nsstwisted.iked.stackmodel.statistics import Counter, Gauge
from nsstwisted.protocols.metricsweb import listen_metrics, metrics_registry
from nsstwisted.protocols.startup import StartupError

__all__ = ["IkedMetrics"]

# name, help, label, {label value: counter}
_COUNTERS: tuple[tuple[str, str, str, dict[str, Counter]], ...] = (
    (
        "iked_ike_sa_setups",
        "IKE SAs established, by who initiated them",
        "initiator",
        {"local": Counter.P1_LOCAL_SUCCESS, "remote": Counter.P1_REMOTE_SUCCESS},
    ),
    (
        "iked_ike_sa_failures",
        "IKE SA negotiations that failed, by who initiated them",
        "initiator",
        {"local": Counter.P1_LOCAL_FAILURE, "remote": Counter.P1_REMOTE_FAILURE},
    ),
    (
        "iked_child_sa_setups",
        "CHILD SAs (dynamic tunnels) established, by who initiated them",
        "initiator",
        {"local": Counter.P2_LOCAL_SUCCESS, "remote": Counter.P2_REMOTE_SUCCESS},
    ),
    (
        "iked_child_sa_failures",
        "CHILD SA negotiations that failed, by who initiated them",
        "initiator",
        {"local": Counter.P2_LOCAL_FAILURE, "remote": Counter.P2_REMOTE_FAILURE},
    ),
    (
        "iked_retransmissions",
        "IKE messages sent again, by exchange (ike: IKE_SA_INIT and IKE_AUTH;"
        " child: CREATE_CHILD_SA)",
        "exchange",
        {"ike": Counter.P1_RETRANSMIT, "child": Counter.P2_RETRANSMIT},
    ),
)


class _StackCollector:
    def __init__(self, samples: Callable[[], Sequence[StackSample]]) -> None:
        self._samples = samples

    def describe(self) -> list[Metric]:
        # Names only, so that registering reads no stack.
        return [
            *(
                CounterMetricFamily(name, "", labels=["stack", label])
                for name, _, label, _ in _COUNTERS
            ),
            GaugeMetricFamily("iked_active_sas", "", labels=["stack", "kind"]),
            GaugeMetricFamily("iked_nss_connected", "", labels=["stack"]),
            GaugeMetricFamily(
                "iked_nss_connection_state", "", labels=["stack", "state"]
            ),
            CounterMetricFamily("iked_nss_failovers", "", labels=["stack"]),
            HistogramMetricFamily("iked_nss_signature_seconds", "", labels=["stack"]),
        ]

    def collect(self) -> Iterator[Metric]:
        samples = list(self._samples())
        for name, text, label, counters in _COUNTERS:
            family = CounterMetricFamily(name, text, labels=["stack", label])
            for sample in samples:
                for value, counter in counters.items():
                    family.add_metric([sample.name, value], sample.statistics[counter])
            yield family
        active = GaugeMetricFamily(
            "iked_active_sas",
            "SAs established and not expired, by kind (ike, child)",
            labels=["stack", "kind"],
        )
        for sample in samples:
            active.add_metric([sample.name, "ike"], sample.statistics[Gauge.P1_ACTIVE])
            active.add_metric(
                [sample.name, "child"], sample.statistics[Gauge.P2_ACTIVE]
            )
        yield active
        nss = [sample for sample in samples if sample.nssState is not None]
        connected = GaugeMetricFamily(
            "iked_nss_connected",
            "1 if the stack is logged on to an NSS server, else 0 (NSS client"
            " stacks only)",
            labels=["stack"],
        )
        state = GaugeMetricFamily(
            "iked_nss_connection_state",
            "The stack's NSS connection: 1 for its state, 0 for the others",
            labels=["stack", "state"],
        )
        failovers = CounterMetricFamily(
            "iked_nss_failovers",
            "Switches from one NSS server to the other (EZD1142I)",
            labels=["stack"],
        )
        for sample in nss:
            connected.add_metric(
                [sample.name], 1 if sample.nssState == "connected" else 0
            )
            for name in NSS_STATES:
                held = 1 if sample.nssState == name else 0
                state.add_metric([sample.name, name], held)
            failovers.add_metric([sample.name], sample.failovers)
        yield connected
        yield state
        yield failovers
        latency = HistogramMetricFamily(
            "iked_nss_signature_seconds",
            "Time from sending nssd a SIGN request to its answer (a signature"
            " or a refusal), as the stack sees it (NSS client stacks only)",
            labels=["stack"],
        )
        for sample in samples:
            histogram = sample.signatureLatency
            if histogram is None:
                continue
            latency.add_metric(
                [sample.name],
                [
                    ("+Inf" if bound == float("inf") else repr(bound), count)
                    for bound, count in histogram.cumulative()
                ],
                sum_value=histogram.total,
            )
        yield latency


class IkedMetrics:
    """
    iked's metrics: a registry of its own with the stacks' collector.
    """

    def __init__(
        self,
        listener: MetricsListener,
        samples: Callable[[], Sequence[StackSample]],
    ) -> None:
        self.listener = listener
        self.registry = metrics_registry()
        self.registry.register(_StackCollector(samples))

    def listen(self, reactor: Any) -> IListeningPort:
        """
        Serve C{/metrics} now.

        @raise StartupError: it cannot be listened on (EZD1192I).
        """
        listener = self.listener
        try:
            return listen_metrics(reactor, listener, self.registry)
        except StartupError as e:
            raise StartupError(
                f"EZD1192I cannot serve metrics on {listener.interface} port"
                f" {listener.port}: {e}"
            ) from None
