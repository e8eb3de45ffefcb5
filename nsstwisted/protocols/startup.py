"""
How nssd and iked start, so that a start that fails ends the process with a
non-zero status a service manager sees, before anything was served.

A daemon decides its start in C{startService}: it binds every socket there,
at once, and raises L{StartupError} (having logged its message) if one
cannot be bound, undoing what it had bound.  Nothing is served by then,
because the reactor has not run: no client is accepted on a port that is
about to close, and iked logs on to nssd only once it has started.  Under
twistd, L{for_twistd} turns that error into twistd's own failed-start path:
it removes the PID file, tells the parent of a daemonizing twistd, and ends
the process with status 1 and no traceback.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import IService, MultiService
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.python.failure import Failure

__all__ = ["StartupError", "for_twistd", "listen_at_start"]


class StartupError(Exception):
    """
    A daemon cannot start; the text says why, naming the file, line and
    keyword of a configuration error.
    """


def listen_at_start(
    endpoint: IStreamServerEndpoint, factory: IProtocolFactory
) -> IListeningPort:
    """
    Listen on C{endpoint} now, in C{startService}, before the reactor runs.

    Twisted's TCP and UNIX server endpoints bind inside C{listen} and hand
    back a Deferred that has already fired; an endpoint that would answer
    only once the reactor runs is refused, because a start decided that
    late can no longer be told to twistd (nor to its daemonizing parent).

    @raise StartupError: the endpoint cannot listen; the text is the
        reason, such as C{Address already in use}.
    """
    outcome: list[Any] = []
    listening = endpoint.listen(factory)
    listening.addBoth(outcome.append)
    if not outcome:
        listening.cancel()
        raise StartupError(f"{endpoint!r} does not listen at once")
    result = outcome[0]
    if isinstance(result, Failure):
        raise StartupError(result.getErrorMessage())
    port: IListeningPort = result
    return port


class _StartFailed(SystemExit, Exception):
    """
    The service could not start and has logged why.

    An L{Exception}, so that twistd's start-up handler removes the PID file
    and tells a daemonizing parent, which then exits 1; a L{SystemExit}
    with status 1, so that, re-raised from there, it ends twistd without a
    traceback.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(1)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class _EndOnFailedStart(MultiService):
    """
    The service twistd runs: one daemon's service, whose L{StartupError}
    ends twistd.
    """

    def __init__(self, name: str) -> None:
        MultiService.__init__(self)
        self.name = name

    def startService(self) -> None:
        try:
            MultiService.startService(self)
        except StartupError as e:
            raise _StartFailed(str(e)) from None


def for_twistd(service: IService) -> IService:
    """
    Wrap a daemon's service for twistd, which then exits 1 if the service
    raises L{StartupError} from C{startService}.
    """
    parent = _EndOnFailedStart(f"{service.name} under twistd")
    service.setServiceParent(parent)
    return parent
