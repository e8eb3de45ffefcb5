"""
Which metrics nssd keeps: none, or Prometheus's when C{MetricsPort} is
coded.  A module of its own, so that L{nsstwisted.nssd.metrics} (what the
sessions call) never imports the Prometheus implementation, which imports
C{prometheus-client}, an optional extra.
"""

from __future__ import annotations

from nsstwisted.config.values import MetricsListener
from nsstwisted.nssd.metrics import NO_METRICS, MetricsSources, NssdMetrics
from nsstwisted.protocols.startup import StartupError

__all__ = ["nssd_metrics"]


def nssd_metrics(
    listener: MetricsListener | None, sources: MetricsSources
) -> NssdMetrics:
    """
    The metrics C{listener} asks for: L{NO_METRICS} without one.

    @raise StartupError: a listener is configured but C{prometheus-client}
        is not installed (DBG0181I).
    """
    if listener is None:
        return NO_METRICS
    try:
        from nsstwisted.nssd.prometheusmetrics import PrometheusMetrics
    except ImportError:
        raise StartupError(
            "DBG0181I MetricsPort is coded, but prometheus-client is not"
            " installed: install nsstwisted[metrics], or remove MetricsPort"
        ) from None
    return PrometheusMetrics(listener, sources)
