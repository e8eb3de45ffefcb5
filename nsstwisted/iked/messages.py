"""
iked's operator messages about its NSS connections, with IBM-style
C{EZDnnnnI} identifiers.

EZD1138I, EZD1139I, EZD1145I, EZD1147I and EZD1149I carry IBM's numbers and,
where the seed shows them, IBM's text; EZD1140I to EZD1143I are ours.  No
message holds a password, PassTicket or key.
"""

from __future__ import annotations

from twisted.logger import Logger

from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.counts import counted

# Request type names as EZD1139I prints them.
CONNECT_REQUEST = "NSS_ConnectClientReqToSrv"
SIGN_REQUEST = "NSS_SignReqToSrv"
VERIFY_REQUEST = "NSS_VerifyReqToSrv"
CA_LIST_REQUEST = "NSS_CAListReqToSrv"


class IkedMessages:
    """
    Writes iked's NSS messages.  One object per daemon; the methods take
    names and codes only.
    """

    def __init__(self, logger: Logger | None = None) -> None:
        self._log = logger or Logger(namespace="iked")

    def _emit(self, text: str) -> None:
        # Not "message": legacy log observers own that key.
        self._log.info("{ikedMessage}", ikedMessage=text)

    def connected(
        self, stack: str, server: str, address: str, port: int, clientName: str
    ) -> None:
        self._emit(
            f"EZD1138I Stack {stack} is connected to network security server "
            f"{server} at {address} port {port} as client {clientName}"
        )

    def request_failed(
        self,
        requestType: str,
        correlator: int,
        stack: str,
        returnCode: ReturnCode,
        reasonCode: ReasonCode,
    ) -> None:
        self._emit(
            f"EZD1139I Request type {requestType} with correlator ID "
            f"{correlator:030X} for stack {stack} failed - return code "
            f"{returnCode.name} reason code {reasonCode.name}"
        )

    def certificate_service_unavailable(self, stack: str) -> None:
        self._emit(
            "EZD1145I The network security certificate service is not available "
            f"for stack {stack}"
        )

    def remote_management_unavailable(self, stack: str) -> None:
        self._emit(
            "EZD1147I The network security remote management service is not "
            f"available for stack {stack}"
        )

    def not_secure(self, stack: str, server: str, reason: str) -> None:
        self._emit(
            f"EZD1149I The connection to network security server {server} for "
            f"stack {stack} is not secure - {reason}"
        )

    def connection_lost(self, stack: str, server: str, reason: str) -> None:
        self._emit(
            f"EZD1140I Stack {stack} lost its connection to network security "
            f"server {server} - {reason}"
        )

    def unreachable(self, stack: str, server: str, reason: str) -> None:
        self._emit(
            f"EZD1141I Stack {stack} cannot reach network security server "
            f"{server} - {reason}"
        )

    def switching(self, stack: str, old: str, new: str, waitSeconds: float) -> None:
        self._emit(
            f"EZD1142I Stack {stack} switches from network security server {old} "
            f"to {new}; next attempt in {counted(waitSeconds, 'second')}"
        )

    def retrying(
        self, stack: str, server: str, attempt: int, waitSeconds: float
    ) -> None:
        self._emit(
            f"EZD1143I Stack {stack} retries network security server {server} "
            f"in {counted(waitSeconds, 'second')} (attempt {attempt})"
        )

    def logon_refused(
        self, stack: str, server: str, userid: str, reason: ReasonCode, remedy: str
    ) -> None:
        self._emit(
            f"EZD1161I Stack {stack} stops connecting to network security servers:"
            f" server {server} refused the logon of user ID {userid}"
            f" ({reason.name}) - {remedy}; then refresh iked"
        )

    def nmi_refused_user(self, connId: int, refusal: str) -> None:
        self._emit(f"EZD1170I NMI connID {connId} - {refusal}")

    def nmi_refused_full(self, connId: int, refusal: str) -> None:
        self._emit(f"EZD1171I NMI connID {connId} - {refusal}")

    def nmi_idle(self, connId: int, caller: str, seconds: float) -> None:
        self._emit(
            f"EZD1172I NMI connID {connId} - {caller} was idle for "
            f"{counted(seconds, 'second')} - the connection will be closed"
        )

    def nmi_socket_access(self, path: str, access: str) -> None:
        self._emit(f"EZD1180I management socket {path}: {access}")

    def metrics_listening(self, host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        self._emit(f"EZD1190I metrics served on http://{shown}:{port}/metrics")

    def metrics_at_restart(self, inForce: str) -> None:
        self._emit(
            "EZD1193I MetricsPort changed: the change takes effect when iked"
            f" restarts; in force until then: {inForce}"
        )

    def disconnected(self, stack: str, server: str) -> None:
        self._emit(
            f"EZD1144I Stack {stack} disconnected from network security server {server}"
        )
