"""
What iked answers on its local IPSec NMI (C{/var/sock/ipsecmgmt}).

For now: C{nss-modify iked display|refresh} (z/OS C{MODIFY IKED,DISPLAY}
and C{REFRESH}) and C{NMsec_GET_IKENSINFO}, the data of C{ipsec -w}.  The
other IPsec requests are refused with C{EOPNOTSUPP} until the stack model
exists; C{NMsec_GET_CLIENTINFO} stays refused, as it is the NSS server's.

This mirrors L{nsstwisted.nssd.management} without importing it: nssd and
iked never import each other, so the small L{RefreshRejected} is defined
here again, with the same meaning and the same answer on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, DeferredLock, maybeDeferred, succeed
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from nsstwisted.iked.messages import IkedMessages
from nsstwisted.iked.stackmodel.filterreport import answer_filter_request
from nsstwisted.iked.stackmodel.stack import StackModel
from nsstwisted.iked.stackmodel.stackreport import STACK_REQUESTS, answer_stack_request
from nsstwisted.iked.stackmodel.tunnelreport import (
    TUNNEL_REQUESTS,
    answer_tunnel_request,
)
from nsstwisted.protocols.nmi import (
    NmiCaller,
    NmiRefusal,
    NmiServerObserver,
    describe_caller,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.filters import FILTER_REQUESTS, FILTER_SET_REQUESTS
from nsstwisted.wire.ikensinfo import IkeNssInfo, encode_ikensinfo_reply
from nsstwisted.wire.nmi import (
    IPSEC_REQUESTS,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    data_record,
    printable_line,
    text_record,
)

__all__ = ["IkedManagement", "IkedNmiObserver", "RefreshRejected"]

_NSSD_ONLY = frozenset({NmiMessageType.GET_CLIENTINFO})


class RefreshRejected(Exception):
    """
    The configuration file (or a file it names) was not acceptable; the
    running configuration stays.  The text says why.
    """


class IkedManagement:
    """
    iked's NMI handler (see L{nsstwisted.protocols.nmi.NmiHandler}).

    It takes callables rather than the service, so that it can be tested
    without one and the service keeps its refresh and connection logic.
    """

    def __init__(
        self,
        describe: Callable[[], list[str]],
        refresh: Callable[[], Deferred[list[str]]],
        nssInfo: Callable[[], tuple[str, list[IkeNssInfo]]],
        stackModel: Callable[[str], StackModel | None] | None = None,
        displayData: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        """
        @param describe: the configuration in force, as lines.
        @param displayData: the same configuration as data (its statements),
            for DAEMON_DISPLAY_DATA; L{None} refuses that request.
        @param refresh: reread the configuration; fires with lines saying
            what changed, or fails with L{RefreshRejected} when the new
            configuration is refused and the old one stays.
        @param nssInfo: the system name and every stack's NSS client, in
            the order the report should list them.
        """
        self._describe = describe
        self._refresh = refresh
        self._nssInfo = nssInfo
        self._stackModel = stackModel
        self._displayData = displayData
        # Two operators refreshing at once must not interleave two rereads
        # of the same file; the second waits and then rereads again.
        self._refreshing = DeferredLock()

    def handle(
        self, request: NmiMessage, stackName: str | None = None
    ) -> Deferred[NmiMessage]:
        """
        @param stackName: the stack a routed request came in for (through
            nssd, the target names the NSS client, not the stack); locally,
            the target names the stack, and a blank target means the first.
        """
        kind = request.messageType
        if self._stackModel is not None and (
            kind in FILTER_REQUESTS
            or kind in FILTER_SET_REQUESTS
            or kind in STACK_REQUESTS
            or kind in TUNNEL_REQUESTS
        ):
            return self._stack_request(request, stackName)
        if kind == NmiMessageType.DAEMON_DISPLAY:
            return succeed(request.answer([_lines(self._describe())]))
        if kind == NmiMessageType.DAEMON_DISPLAY_DATA:
            if self._displayData is None:
                return succeed(
                    request.refuse(
                        ReturnCode.EOPNOTSUPP,
                        ReasonCode.NONE,
                        "this iked has no configuration data to display",
                    )
                )
            return succeed(request.answer([data_record(self._displayData())]))
        if kind == NmiMessageType.DAEMON_REFRESH:
            return self._refreshNow(request)
        if kind == NmiMessageType.GET_IKENSINFO:
            # A failure here (a bad IkeNssInfo, say) is the protocol's to
            # answer: EIO NSSRsnServerError, with the traceback logged.
            return maybeDeferred(self._ikensInfo, request)
        if kind in _NSSD_ONLY:
            return succeed(
                request.refuse(
                    ReturnCode.EOPNOTSUPP,
                    ReasonCode.NONE,
                    f"{NmiMessageType(kind).ibmName} is served by nssd, not iked",
                )
            )
        if kind in IPSEC_REQUESTS:
            return succeed(
                request.refuse(
                    ReturnCode.EOPNOTSUPP,
                    ReasonCode.NONE,
                    f"iked does not serve {NmiMessageType(kind).ibmName} yet",
                )
            )
        return succeed(
            request.refuse(
                ReturnCode.EINVAL,
                ReasonCode.NMsRsnBadType,
                f"iked does not serve message type {int(kind)}",
            )
        )

    def _stack_request(
        self, request: NmiMessage, stackName: str | None
    ) -> Deferred[NmiMessage]:
        assert self._stackModel is not None
        wanted = stackName or request.target.strip()
        model = self._stackModel(wanted)
        if model is None:
            return succeed(
                request.refuse(
                    ReturnCode.ENXIO,
                    ReasonCode.NONE,
                    f"iked has no stack {wanted or '(first)'}",
                )
            )
        kind = request.messageType
        if kind == NmiMessageType.GET_IPINTERFACES:
            # Reading interfaces runs the ip command: not on the reactor.
            return deferToThread(model.interfaces).addCallback(
                lambda found: answer_stack_request(
                    request, model.name, model.statistics, found
                )
            )
        if kind in STACK_REQUESTS:
            return maybeDeferred(
                answer_stack_request, request, model.name, model.statistics
            )
        if kind in TUNNEL_REQUESTS:
            return maybeDeferred(
                answer_tunnel_request, request, model.name, model.tunnels
            )
        return maybeDeferred(answer_filter_request, request, model.name, model.filters)

    def _ikensInfo(self, request: NmiMessage) -> NmiMessage:
        if request.records:
            # IBM's GET requests may carry filter records; a list of at
            # most eight stacks needs none, and a filter ignored would be
            # a report that lies about what it selected.
            return request.refuse(
                ReturnCode.EINVAL,
                ReasonCode.NSSRsnBadField,
                f"{NmiMessageType.GET_IKENSINFO.ibmName} takes no records",
            )
        systemName, infos = self._nssInfo()
        return encode_ikensinfo_reply(request, systemName, infos)

    def _refreshNow(self, request: NmiMessage) -> Deferred[NmiMessage]:
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
                    "refresh rejected, configuration unchanged: "
                    f"{reason.getErrorMessage()}",
                )
            return request.refuse(
                ReturnCode.EIO,
                ReasonCode.NSSRsnServerError,
                f"refresh failed: {reason.getErrorMessage()}",
            )

        return refreshing.addCallbacks(refreshed, failed)


class IkedNmiObserver(NmiServerObserver):
    """
    Writes iked's messages about its local NMI connections: refusals
    (EZD1170I for a user at its own limit, EZD1171I for a full server) and
    idle closes (EZD1172I).
    """

    def __init__(self, messages: IkedMessages) -> None:
        self._messages = messages

    def refused(self, connId: int, refusal: NmiRefusal) -> None:
        if refusal.perUser:
            self._messages.nmi_refused_user(connId, refusal.describe())
        else:
            self._messages.nmi_refused_full(connId, refusal.describe())

    def idleClosed(self, connId: int, caller: NmiCaller | None, idle: float) -> None:
        self._messages.nmi_idle(connId, describe_caller(caller), idle)


def _lines(lines: list[str]) -> NmiRecord:
    return text_record(printable_line(line) for line in lines)
