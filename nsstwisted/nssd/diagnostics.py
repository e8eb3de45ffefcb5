"""
nssd's operator messages: stable C{DBGnnnnI} identifiers, gated by the
SyslogLevel bit mask the way IBM's NSS server gates them.

Every message goes through L{Diagnostics}, so that the catalogue in
C{docs/messages.md} and the code cannot drift apart, and so that no call site
can put a password, PassTicket or key into a log line: the methods take only
names, codes and numbers.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger

from nsstwisted.nssd.configuration import SyslogLevel
from nsstwisted.security.profiles import (
    AccessLevel,
    ClassOptions,
    Decision,
    ResourceClass,
)
from nsstwisted.wire.counts import counted

_TAGS = {
    SyslogLevel.MINIMUM: "NSS_MINIMUM",
    SyslogLevel.VERBOSE: "NSS_VERBOSE",
    SyslogLevel.CERTINFO: "NSS_CERTINFO",
    SyslogLevel.LIFECYCLE: "NSS_LIFECYCLE",
}


def _classes(classes: frozenset[ResourceClass]) -> str:
    return " ".join(sorted(c.value for c in classes)) or "NONE"


class Diagnostics:
    """
    Messages without a level bit (startup, shutdown, configuration errors)
    are always written: an operator must see why a server did not start,
    whatever the level.

    Writes nssd's messages to a L{Logger} when the current level asks for
    them.  The level can change at refresh without replacing this object.
    """

    def __init__(self, level: int, logger: Logger | None = None) -> None:
        self.level = level
        self._log = logger or Logger(namespace="nssd")
        #: Told of every SERVAUTH denial reported here, from whichever
        #: thread made the check (see L{nsstwisted.nssd.refreshhint}).
        self.denialObserver: Callable[[str, str, Decision], None] | None = None

    def _emit(
        self, messageId: str, bit: SyslogLevel | None, text: str | Callable[[], str]
    ) -> None:
        # The key is not "message": legacy log observers own that one and
        # would overwrite it.
        # A hot-path message passes a function, so that nothing is
        # formatted unless the level asks for it.
        if bit is not None and not self.level & bit:
            return
        body = text() if callable(text) else text
        tag = "" if bit is None else f" {_TAGS[bit]}"
        self._log.info("{nssMessage}", nssMessage=f"{messageId}{tag} {body}")

    # Always written

    def started(self, version: str, systemName: str) -> None:
        self._emit(
            "DBG0001I", None, f"NSS server {version} starting on system {systemName}"
        )

    def listening(self, host: str, port: int) -> None:
        self._emit("DBG0002I", None, f"NSS server listening on {host} port {port}")

    def stopped(self) -> None:
        self._emit("DBG0003I", None, "NSS server stopped")

    def startup_failed(self, reason: str) -> None:
        self._emit("DBG0010I", None, f"NSS server cannot start: {reason}")

    def metrics_listening(self, host: str, port: int) -> None:
        self._emit(
            "DBG0180I",
            None,
            f"metrics served on http://{f'[{host}]' if ':' in host else host}"
            f":{port}/metrics",
        )

    def metrics_at_restart(self, inForce: str) -> None:
        self._emit(
            "DBG0183I",
            None,
            "MetricsPort changed: the change takes effect when nssd restarts;"
            f" in force until then: {inForce}",
        )

    def refreshed(self, changes: str) -> None:
        self._emit("DBG0011I", None, f"configuration refreshed: {changes}")

    def refresh_rejected(self, reason: str) -> None:
        self._emit(
            "DBG0012I", None, f"refresh rejected, configuration unchanged: {reason}"
        )

    def security_refreshed(self, generation: int) -> None:
        self._emit(
            "DBG0013I", None, f"security profiles reloaded (generation {generation})"
        )

    def audit_started(self, targets: str, sync: str, required: bool) -> None:
        self._emit(
            "DBG0190I",
            None,
            f"audit trail {targets} opened: AuditSync {sync},"
            f" AuditRequired {'yes' if required else 'no'}",
        )

    def audit_failed(self, error: str, lost: int, required: bool) -> None:
        consequence = (
            "requests that need a record are refused (AuditRequired yes)"
            if required
            else "requests go on unrecorded (AuditRequired no)"
        )
        self._emit(
            "DBG0191I",
            None,
            f"audit records cannot be written ({error}): {lost} not written"
            f" since the last report; {consequence}",
        )

    def audit_recovered(self, targets: str, lost: int) -> None:
        self._emit(
            "DBG0192I",
            None,
            f"audit trail {targets} is written again; {lost} records were not"
            " written meanwhile",
        )

    def database_unreachable(self, why: str, generation: int) -> None:
        # Always written: an operator must know that nssd serves from memory.
        self._emit(
            "DBG0170I",
            None,
            f"{why}: nssd serves from its snapshot of generation {generation};"
            " password"
            " logons go on, PassTicket logons are refused until it is back",
        )

    def database_back(self, location: str, written: int) -> None:
        self._emit(
            "DBG0171I",
            None,
            f"security database {location} can be reached again; logon records"
            f" held meanwhile written: {written}",
        )

    def changes_not_pushed(self, why: str) -> None:
        self._emit(
            "DBG0172I",
            None,
            f"changes are not pushed to nssd ({why}): nssd looks for a REFRESH"
            " every few seconds instead",
        )

    def pending_not_written(self, why: str) -> None:
        self._emit(
            "DBG0173I",
            None,
            f"logon records held while the security database was away cannot"
            f" be written yet ({why}); nssd keeps them and tries again",
        )

    # PKCS#11 tokens: always written, since keys that cannot sign need an
    # operator whatever the level.

    def token_keys_loaded(
        self, token: str, module: str, ring: str, loaded: int, unusable: int
    ) -> None:
        self._emit(
            "DBG0205I",
            None,
            f"PKCS#11 token {token} (module {module}): {loaded} keys of key ring"
            f" {ring} sign in it"
            + (f", {unusable} cannot (DBG0207I)" if unusable else ""),
        )

    def token_unavailable(self, token: str, reason: str) -> None:
        self._emit(
            "DBG0206I",
            None,
            f"PKCS#11 token {token or '(none)'} is unavailable: {reason}; the"
            " certificates whose keys it holds cannot sign until it is back,"
            " and every other key signs on",
        )

    def token_key_unusable(
        self, ring: str, label: str, messageId: str, reason: str
    ) -> None:
        self._emit(
            "DBG0207I",
            None,
            f"key ring {ring}: certificate ( {label} ) cannot sign: {messageId}"
            f" {reason}",
        )

    def token_reset(self, token: str, reason: str) -> None:
        self._emit(
            "DBG0209I",
            None,
            f"PKCS#11 token {token} failed as a reset token does ({reason}):"
            " nssd logged into it again, and signs on",
        )

    def token_available(self, token: str) -> None:
        self._emit(
            "DBG0210I",
            None,
            f"PKCS#11 token {token} is available again: its keys sign",
        )

    def nmi_listening(self, path: str) -> None:
        self._emit("DBG0014I", None, f"management interface listening on {path}")

    def refresh_pending(
        self, userid: str, resource: str, profile: str, now: str, checked: str
    ) -> None:
        # Always written: whoever made the PERMIT is waiting for it to work,
        # whatever the level.  Written once per user and resource until the
        # next refresh.
        self._emit(
            "DBG0155I",
            None,
            f"ServauthCheck({userid},{resource}) was denied, but the security"
            f" database now gives {userid} {now} access through profile"
            f" {profile} ({checked} when nssd's profiles were last refreshed)"
            " - the change takes effect at SETROPTS RACLIST(SERVAUTH) REFRESH",
        )

    def nmi_socket_access(self, path: str, access: str) -> None:
        # Always written: who may connect is the first thing an operator
        # who cannot connect needs to know.
        self._emit("DBG0160I", None, f"management socket {path}: {access}")

    def labels_collide(
        self, ring: str, systemName: str, mapped: str, labels: tuple[str, ...]
    ) -> None:
        # Always written: the ring needs an administrator, and certificates
        # clients expect to sign with are out of service until then.
        self._emit(
            "DBG0130I",
            None,
            f"key ring {ring}: the certificates "
            + " ".join(f"( {label} )" for label in labels)
            + f" map to one name in profiles EZB.NSSCERT.{systemName}.{mapped}.HOST "
            "and .CERTAUTH; none of them is used",
        )

    # Always written as well: a refused or closed management connection is
    # what an operator who cannot get in, or an administrator looking for
    # who locks them out, needs to see whatever the level.

    def nmi_refused_user(self, connId: int, refusal: str) -> None:
        self._emit("DBG0120I", None, f"NMI connID {connId} - {refusal}")

    def nmi_refused_full(self, connId: int, refusal: str) -> None:
        self._emit("DBG0121I", None, f"NMI connID {connId} - {refusal}")

    def nmi_idle(self, connId: int, caller: str, seconds: float) -> None:
        self._emit(
            "DBG0122I",
            None,
            f"NMI connID {connId} - {caller} was idle for "
            f"{counted(seconds, 'second')} - the connection will be closed",
        )

    def connection_refused(self, address: str, keyword: str, limit: int) -> None:
        """
        Written for the first refusal only; L{refusals_counted} sums up the
        ones that follow (see L{nsstwisted.nssd.admission}).
        """
        messageId = "DBG0110I" if keyword == "MaxConnections" else "DBG0111I"
        self._emit(
            messageId,
            None,
            f"NSS connection from {address} refused - {keyword} {limit} reached"
            " - further refusals are counted, not logged singly",
        )

    def refusals_counted(self, seconds: float, total: int, perAddress: int) -> None:
        self._emit(
            "DBG0112I",
            None,
            f"{counted(total + perAddress, 'more NSS connection')} refused in the"
            f" last {counted(round(seconds), 'second')} - {total} by MaxConnections,"
            f" {perAddress} by "
            "MaxConnectionsPerAddress",
        )

    def file_limit(self, files: int, maxConnections: int) -> None:
        self._emit(
            "DBG0113I",
            None,
            f"the open file limit {files} is too low for MaxConnections "
            f"{maxConnections} - connections beyond it will fail",
        )

    def class_options_seen(self, options: ClassOptions) -> None:
        # Always written: a class deactivated by mistake changes every
        # answer at once, and the log must show when.
        self._emit(
            "DBG0141I",
            None,
            f"class options changed: active classes {_classes(options.active)}, "
            f"generic {_classes(options.generic)} - in effect from now on, "
            "without a refresh",
        )

    def servauth_warning(
        self, userid: str, resource: str, decision: Decision, level: AccessLevel
    ) -> None:
        # Always written, whatever the level: a WARNING profile exists to
        # show what enforcing it would refuse.
        self._emit(
            "DBG0140I",
            None,
            f"ServauthWarning({userid},{resource}) {level.name} access allowed by "
            f"WARNING profile {decision.profile}: {userid} holds "
            f"{decision.granted.name} - the access would be refused without "
            "WARNING",
        )

    # NSS_VERBOSE

    def servauth_check(
        self,
        userid: str,
        resource: str,
        decision: Decision,
        level: AccessLevel = AccessLevel.READ,
    ) -> None:
        """
        DBG0032I for every check, as the level asks; and DBG0140I, always,
        for an access a WARNING profile allowed.
        """
        if decision.warning:
            self.servauth_warning(userid, resource, decision, level)
        self._emit(
            "DBG0032I",
            SyslogLevel.VERBOSE,
            lambda: (
                f"ServauthCheck({userid:<8},{resource}) rc "
                f"{decision.result.value} ({'PERMIT' if decision.allowed else 'DENY'}) "
                f"profile {decision.profile or 'NONE'}"
            ),
        )
        if not decision.allowed and self.denialObserver is not None:
            self.denialObserver(userid, resource, decision)

    def socket_directory_failed(self, directory: str, errno: int, text: str) -> None:
        self._emit(
            "DBG0040I",
            SyslogLevel.VERBOSE,
            f"Cannot create socket directory {directory} - rc -1 errno {errno} {text}",
        )

    def bad_request(
        self, connId: int, returnCode: str, reason: str, fatal: bool
    ) -> None:
        action = "the connection will be closed" if fatal else "the request is refused"
        self._emit(
            "DBG0033I",
            SyslogLevel.VERBOSE,
            f"NSS connID {connId} - bad message: {returnCode} {reason} - {action}",
        )

    def unsolicited_reply(self, connId: int, requestId: int) -> None:
        self._emit(
            "DBG0034I",
            SyslogLevel.VERBOSE,
            f"NSS connID {connId} - a reply to request {requestId:032X}, which "
            "is not outstanding, is ignored",
        )

    # NSS_CERTINFO

    def cert_not_authorized(
        self, clientName: str, userid: str, profile: str, label: str, requestId: int
    ) -> None:
        self._emit(
            "DBG0004I",
            SyslogLevel.CERTINFO,
            f"Client {clientName} connected as userid {userid} is not authorized "
            f"to profile {profile} associated with matching certificate ( {label} ) "
            f"for request {requestId:032X}",
        )

    def signed(self, clientName: str, label: str, scheme: str, requestId: int) -> None:
        self._emit(
            "DBG0005I",
            SyslogLevel.CERTINFO,
            lambda: (
                f"Client {clientName} signature created with certificate "
                f"( {label} ) scheme {scheme} for request {requestId:032X}"
            ),
        )

    def verified(
        self, clientName: str, subject: str, outcome: str, requestId: int
    ) -> None:
        self._emit(
            "DBG0006I",
            SyslogLevel.CERTINFO,
            f"Client {clientName} verify for certificate {subject}: {outcome} "
            f"for request {requestId:032X}",
        )

    def cert_label_shared(
        self, clientName: str, label: str, profile: str, requestId: int
    ) -> None:
        self._emit(
            "DBG0131I",
            SyslogLevel.CERTINFO,
            f"Client {clientName} may not use certificate ( {label} ): its profile "
            f"name {profile} also names another certificate of the ring "
            f"for request {requestId:032X}",
        )

    def token_sign_refused(
        self, clientName: str, label: str, reason: str, requestId: int
    ) -> None:
        self._emit(
            "DBG0208I",
            SyslogLevel.CERTINFO,
            f"Client {clientName} signature with certificate ( {label} ) refused:"
            f" {reason} for request {requestId:032X}",
        )

    def cert_not_found(self, clientName: str, wanted: str, requestId: int) -> None:
        self._emit(
            "DBG0007I",
            SyslogLevel.CERTINFO,
            f"Client {clientName} no certificate matches {wanted} "
            f"for request {requestId:032X}",
        )

    # NSS_LIFECYCLE

    def connected(self, connId: int, peer: str) -> None:
        self._emit(
            "DBG0100I",
            SyslogLevel.LIFECYCLE,
            f"NSS connID {connId} - connection from {peer}",
        )

    def logged_on(
        self, connId: int, clientName: str, userid: str, services: str
    ) -> None:
        self._emit(
            "DBG0101I",
            SyslogLevel.LIFECYCLE,
            f"NSS connID {connId} - client {clientName} logged on as userid {userid} "
            f"- services {services}",
        )

    def logon_failed(
        self, connId: int, clientName: str, userid: str, reason: str
    ) -> None:
        self._emit(
            "DBG0102I",
            SyslogLevel.LIFECYCLE,
            f"NSS connID {connId} - client {clientName} logon as userid {userid} "
            f"failed - {reason}",
        )

    def disconnected(self, connId: int, clientName: str, reason: str) -> None:
        self._emit(
            "DBG0103I",
            SyslogLevel.LIFECYCLE,
            f"NSS connID {connId} - client {clientName or '(none)'} disconnected "
            f"- {reason}",
        )

    def not_secure(self, connId: int) -> None:
        self._emit(
            "DBG0104I",
            SyslogLevel.LIFECYCLE,
            f"NSS connID {connId} - the connection is not secure - "
            "the connection will be closed",
        )

    def replaced(self, connId: int, clientName: str, newConnId: int, peer: str) -> None:
        self._emit(
            "DBG0105I",
            SyslogLevel.LIFECYCLE,
            f"NSS connID {connId} - client {clientName} replaced by a new logon on "
            f"connID {newConnId} from {peer} - the connection will be closed",
        )

    def revoked(self, connId: int, clientName: str, userid: str) -> None:
        self._emit(
            "DBG0107I",
            None,
            f"NSS connID {connId} - client {clientName} userid {userid} is revoked"
            " - the connection will be closed",
        )

    def undefined(self, connId: int, clientName: str, userid: str) -> None:
        self._emit(
            "DBG0142I",
            None,
            f"NSS connID {connId} - client {clientName} userid {userid} is no "
            "longer defined - the connection will be closed",
        )

    def timed_out(self, connId: int, what: str) -> None:
        self._emit(
            "DBG0106I",
            SyslogLevel.LIFECYCLE,
            f"NSS connID {connId} - {what} took too long - "
            "the connection will be closed",
        )
