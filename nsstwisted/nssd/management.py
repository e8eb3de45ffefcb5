"""
What nssd answers on its network management interface (C{/var/sock/nss}).

For now that is the operator's C{nss-modify nssd display} and C{nss-modify
nssd refresh}, the counterparts of z/OS C{MODIFY NSSD,DISPLAY} and C{MODIFY
NSSD,REFRESH}.  The IPsec requests that nssd routes to its NSS clients are
refused with C{EOPNOTSUPP} until the network management router exists;
C{NMsec_GET_STACKINFO} and C{NMsec_GET_IKENSINFO} will stay refused, as
IBM's NSS server refuses them (they are iked's own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, DeferredLock, maybeDeferred, succeed
from twisted.python.failure import Failure

from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.protocols.nmi import (
    NmiCaller,
    NmiRefusal,
    NmiServerObserver,
    describe_caller,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import (
    IPSEC_REQUESTS,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    data_record,
    printable_line,
    text_record,
)

__all__ = ["NssdManagement", "NssdNmiObserver"]

_IKED_ONLY = frozenset({NmiMessageType.GET_STACKINFO, NmiMessageType.GET_IKENSINFO})


class RefreshRejected(Exception):
    """
    The configuration file (or what it names) was not acceptable; the
    running configuration stays.  The text says why.
    """


class NssdManagement:
    """
    nssd's NMI handler (see L{nsstwisted.protocols.nmi.NmiHandler}).

    It takes two callables rather than the service itself, so that it can
    be tested without a server and the service keeps its refresh logic.
    """

    def __init__(
        self,
        describe: Callable[[], list[str]],
        refresh: Callable[[], Deferred[list[str]]],
        router: Any = None,
        displayData: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        """
        @param describe: the configuration in force, as lines.
        @param displayData: the same configuration as data (its statements),
            for DAEMON_DISPLAY_DATA; L{None} refuses that request.
        @param refresh: reread the configuration; fires with lines saying
            what changed, or why the refresh was rejected.
        """
        self._describe = describe
        self._refresh = refresh
        self._router = router
        self._displayData = displayData
        # Two operators refreshing at once must not interleave two rereads
        # of the same file; the second waits and then rereads again.
        self._refreshing = DeferredLock()

    def handle_from(
        self, request: NmiMessage, caller: NmiCaller | None
    ) -> Deferred[NmiMessage]:
        """
        The network management service's requests go to the router, which
        authorizes them by the caller; the rest are the daemon's own.
        """
        if self._router is not None and self._router.handles(request.messageType):
            return self._router.handle(request, caller)  # type: ignore[no-any-return]
        return self.handle(request)

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        kind = request.messageType
        if kind == NmiMessageType.DAEMON_DISPLAY:
            return succeed(request.answer([_lines(self._describe())]))
        if kind == NmiMessageType.DAEMON_DISPLAY_DATA:
            if self._displayData is None:
                return succeed(
                    request.refuse(
                        ReturnCode.EOPNOTSUPP,
                        ReasonCode.NONE,
                        "this nssd has no configuration data to display",
                    )
                )
            return succeed(request.answer([data_record(self._displayData())]))
        if kind == NmiMessageType.DAEMON_REFRESH:
            refreshing: Deferred[list[str]] = self._refreshing.run(
                maybeDeferred, self._refresh
            )

            def refreshed(lines: list[str]) -> NmiMessage:
                return request.answer([_lines(lines)])

            def failed(reason: Failure) -> NmiMessage:
                if reason.check(RefreshRejected):
                    return request.refuse(
                        ReturnCode.EINVAL,
                        ReasonCode.NONE,
                        f"refresh rejected, configuration unchanged: "
                        f"{reason.getErrorMessage()}",
                    )
                return request.refuse(
                    ReturnCode.EIO,
                    ReasonCode.NSSRsnServerError,
                    f"refresh failed: {reason.getErrorMessage()}",
                )

            return refreshing.addCallbacks(refreshed, failed)
        if kind in _IKED_ONLY:
            return succeed(
                request.refuse(
                    ReturnCode.EOPNOTSUPP,
                    ReasonCode.NONE,
                    f"{NmiMessageType(kind).ibmName} is served by iked, not nssd",
                )
            )
        if kind in IPSEC_REQUESTS:
            return succeed(
                request.refuse(
                    ReturnCode.EOPNOTSUPP,
                    ReasonCode.NONE,
                    f"nssd does not route {NmiMessageType(kind).ibmName} yet",
                )
            )
        return succeed(
            request.refuse(
                ReturnCode.EINVAL,
                ReasonCode.NMsRsnBadType,
                f"nssd does not serve message type {int(kind)}",
            )
        )


class NssdNmiObserver(NmiServerObserver):
    """
    Writes nssd's messages about its management connections: refusals
    (DBG0120I for a user at its own limit, DBG0121I for a full server) and
    idle closes (DBG0122I).
    """

    def __init__(self, diagnostics: Diagnostics) -> None:
        self._diagnostics = diagnostics

    def refused(self, connId: int, refusal: NmiRefusal) -> None:
        if refusal.perUser:
            self._diagnostics.nmi_refused_user(connId, refusal.describe())
        else:
            self._diagnostics.nmi_refused_full(connId, refusal.describe())

    def idleClosed(self, connId: int, caller: NmiCaller | None, idle: float) -> None:
        self._diagnostics.nmi_idle(connId, describe_caller(caller), idle)


def _lines(lines: list[str]) -> NmiRecord:
    return text_record(printable_line(line) for line in lines)
