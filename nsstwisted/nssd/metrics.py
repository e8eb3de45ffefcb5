"""
What nssd counts for Prometheus, and nothing at all when metrics are off.

The certificate service and the logon go through L{NssdMetrics}'s methods
wherever they already report; with C{MetricsPort} not coded that object is
L{NO_METRICS}, whose methods do nothing, and the signing path asks one
attribute (L{NssdMetrics.enabled}) before it times anything, so that a
server without metrics pays nothing for them on the path issue 12 measures.
With C{MetricsPort} coded, L{nssd_metrics} builds the Prometheus
implementation, importing C{prometheus-client} only then: it is an optional
extra (C{nsstwisted[metrics]}), and a server that does not ask for metrics
never needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "LOGON_METHODS",
    "NO_METRICS",
    "REQUEST_RESULTS",
    "REQUEST_TYPES",
    "MetricsSources",
    "NssdMetrics",
    "RequestTimer",
]

T = TypeVar("T")

REQUEST_TYPES = ("sign", "verify", "calist")
"""The certificate service's requests, as the C{type} label names them."""
REQUEST_RESULTS = ("ok", "refused", "error")
"""
How a request was answered: with its reply, with a refusal the protocol
defines (a reason code the client can act on), or with C{NSSRsnServerError}.
"""
LOGON_METHODS = ("password", "passticket")


class RequestTimer:
    """
    Times one request: from when nssd read it (the timer's making) to its
    answer, and, inside that, the work itself, which runs in a pool's thread
    after waiting in its queue; the difference is the time queued.  This
    one, made when metrics are off, times nothing.
    """

    __slots__ = ()

    def execute(self, work: Callable[..., T], *args: Any) -> T:
        """Run C{work(*args)}, in whichever thread calls this."""
        return work(*args)

    def answered(self, result: str) -> None:
        """The request was answered; C{result} is one of L{REQUEST_RESULTS}."""


_NO_TIMER = RequestTimer()


@dataclass(frozen=True)
class MetricsSources:
    """
    What nssd's gauges read at each scrape rather than keep up to date: each
    is the server's own count, so that serving a session or a signature
    costs no gauge update.  They are read from the HTTP server's thread;
    each reads one number the reactor thread keeps, which is at worst a
    moment old.

    @ivar sessions: the sessions by state (C{setup}: accepted, not yet
        logged on; C{active}: logged on).
    @ivar queued: the jobs waiting in each worker pool, by pool.
    @ivar databaseReachable: whether the security database answered last.
    """

    sessions: Callable[[], Mapping[str, int]]
    queued: Callable[[], Mapping[str, int]]
    databaseReachable: Callable[[], bool]


class NssdMetrics:
    """
    nssd's metrics, switched off: every method does nothing.

    @ivar enabled: whether anything is counted; the signing path asks
        this before it makes a L{RequestTimer}.
    """

    enabled = False

    def request(self, kind: str) -> RequestTimer:
        """
        A timer for one request of C{kind} (of L{REQUEST_TYPES}, or
        C{logon}), started now.
        """
        return _NO_TIMER

    def refused(self, kind: str) -> None:
        """
        A request of C{kind} was refused before any work was done for it
        (not logged on, the service not granted).
        """

    def logon(self, method: str, result: str) -> None:
        """
        A logon by C{method} (of L{LOGON_METHODS}) ended with C{result}:
        C{accepted}, a refused outcome's name, C{service_denied} or
        C{error}.
        """

    def refreshed(self, accepted: bool) -> None:
        """A refresh of the configuration was made, or rejected."""

    def listen(self, reactor: Any) -> Any:
        """
        Serve the metrics, or nothing; return the listening port, if any.

        @raise StartupError: the port cannot be listened on.
        """
        return None


NO_METRICS = NssdMetrics()
