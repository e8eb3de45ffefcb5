"""
The HTTP listener both daemons serve their Prometheus metrics on: twisted.web
with C{prometheus-client}'s Twisted resource at C{/metrics}, over one
registry of the daemon's own.

Imported only when a daemon's configuration codes C{MetricsPort}, since it
needs C{prometheus-client} (the C{metrics} extra).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.twisted import MetricsResource
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource
from twisted.web.server import Site

from nsstwisted.config.values import MetricsListener
from nsstwisted.protocols.startup import listen_at_start

__all__ = ["listen_metrics", "metrics_registry"]


class _QuietSite(Site):
    """
    A site that writes no access log: a Prometheus server scrapes every
    few seconds, and a line each time would bury the daemon's messages.
    """

    noisy = False

    def log(self, request: object) -> None:
        pass


def metrics_registry() -> CollectorRegistry:
    """
    A registry of a daemon's own, rather than the library's global one, so
    that several daemons in one process (the tests') do not collide, and a
    scrape shows what the daemon chose and no process-wide extras.
    """
    # No *_created series: one per label child, they double a scrape and
    # tell nothing the daemon's start does not.  (The switch is the
    # library's, for the process; the daemon is its only user.)
    disable_created_metrics()  # type: ignore[no-untyped-call]
    return CollectorRegistry(auto_describe=True)


def listen_metrics(
    reactor: Any, listener: MetricsListener, registry: CollectorRegistry
) -> IListeningPort:
    """
    Serve C{registry} at C{/metrics} on C{listener}'s address and port, now
    (before the reactor runs, as L{listen_at_start} does).

    @raise StartupError: it cannot be listened on; the text is the reason.
    """
    root = Resource()
    root.putChild(b"metrics", MetricsResource(registry))  # type: ignore[no-untyped-call]
    site = _QuietSite(root)  # type: ignore[no-untyped-call]
    endpoint = (
        TCP6ServerEndpoint(reactor, listener.port, interface=listener.interface)
        if ":" in listener.interface
        else TCP4ServerEndpoint(reactor, listener.port, interface=listener.interface)
    )
    return listen_at_start(endpoint, site)
