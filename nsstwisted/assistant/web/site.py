"""
The page's site and its listening port.

The port binds to the loopback interface unless told otherwise; the
address printed at start carries the access token, and is the only thing
that opens the page (see L{nsstwisted.assistant.web.protection}).  The
site writes no access log: the first request's URL holds the token.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IReactorCore
from twisted.web.http import Request
from twisted.web.server import Site

from nsstwisted.assistant.web.draft import Draft
from nsstwisted.assistant.web.protection import Guard
from nsstwisted.assistant.web.resources import AssistantResource

__all__ = ["AssistantSite", "Serving", "is_loopback", "serve"]


class AssistantSite(Site):
    """
    The site of one draft: no access log, no factory chatter.
    """

    noisy = False

    def __init__(self, draft: Draft, guard: Guard) -> None:
        super().__init__(AssistantResource(draft, guard))  # type: ignore[no-untyped-call]
        self.draft = draft
        self.guard = guard

    def log(self, request: Request) -> None:
        """
        Write no access log: the token is in the first request's URL.
        """


@dataclass(frozen=True)
class Serving:
    """
    A page being served: its port and the address to open it with.
    """

    port: IListeningPort
    url: str
    site: AssistantSite


def is_loopback(interface: str) -> bool:
    """
    Whether an interface address reaches only this host.
    """
    try:
        return ipaddress.ip_address(interface).is_loopback
    except ValueError:
        return interface == "localhost"


def _url_host(interface: str) -> str:
    try:
        address = ipaddress.ip_address(interface)
    except ValueError:
        return interface
    if address.is_unspecified:
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return f"[{address}]" if address.version == 6 else str(address)


async def _listen(
    reactor: IReactorCore, draft: Draft, interface: str, port: int, guard: Guard
) -> Serving:
    escaped = interface.replace("\\", "\\\\").replace(":", "\\:")
    kind = "tcp6" if ":" in interface else "tcp"
    endpoint = serverFromString(reactor, f"{kind}:{port}:interface={escaped}")
    site = AssistantSite(draft, guard)
    listening = await endpoint.listen(site)
    bound = listening.getHost().port
    url = f"http://{_url_host(interface)}:{bound}/?token={guard.token}"
    return Serving(listening, url, site)


def serve(
    reactor: IReactorCore,
    draft: Draft,
    interface: str = "127.0.0.1",
    port: int = 0,
    guard: Guard | None = None,
) -> Deferred[Serving]:
    """
    Listen on C{interface} and C{port} (0: a free one) for the page of
    C{draft}; the result says the address to open it with.
    """
    return Deferred.fromCoroutine(
        _listen(reactor, draft, interface, port, guard or Guard())
    )
