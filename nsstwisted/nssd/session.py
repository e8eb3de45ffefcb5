"""
One NSS client connection, as the server sees it: logon, the services it was
granted, and the requests it may make.

The session is the protocol's handler: the protocol decodes frames and hands
them here; the session answers through the link.  Everything that blocks
(logon against the database, signing) runs in the server's thread pool; the
session only decides and replies, so one slow signature never holds up
another client.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from nsstwisted.nssd.audit import AuditTrail, AuditUnavailable
from nsstwisted.nssd.certificates import CertificateService, Requester, RequestRefused
from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.nssd.metrics import NO_METRICS, NssdMetrics, RequestTimer
from nsstwisted.nssd.registry import ClientRegistry
from nsstwisted.nssd.workerpool import WorkerPool
from nsstwisted.security.accessor import AccessorEnvironment
from nsstwisted.security.errors import SecurityEnvironmentError
from nsstwisted.security.logon import Logon, LogonOutcome, LogonResult
from nsstwisted.security.profiles import AccessLevel, ProfileSnapshot, ResourceClass
from nsstwisted.wire.clientinfo import NssClientInfo, NssClientState
from nsstwisted.wire.codes import (
    REASON_RETURN_CODE,
    REASON_TEXT,
    ReasonCode,
    ReturnCode,
)
from nsstwisted.wire.nss import (
    CLIENT_REQUESTS,
    NSS_API_VERSION,
    CaListReply,
    DecodeFailure,
    Disconnect,
    HeartbeatReply,
    HeartbeatRequest,
    LogonReply,
    LogonRequest,
    MessageType,
    NetMgmtReply,
    NetMgmtRequest,
    NssFrame,
    Refusal,
    Services,
    SignReply,
    SignRequest,
    VerifyReply,
    VerifyRequest,
    error_text,
)

T = TypeVar("T")

PASSTICKET_APPLICATION = "NSSD"


def logon_refusal(outcome: LogonOutcome, byPassTicket: bool) -> ReasonCode:
    """
    What a refused client is told.  It depends on the kind of credentials
    it presented and on nothing it could not know already: an unknown user
    ID gets the answer a defined one with a wrong secret gets (a PassTicket
    logon C{NSSRsnPassTicketExpired}, a password logon
    C{NSSRsnUserAuthentication}), and revocation is told only to whoever
    presented valid credentials (see L{Logon}).
    """
    if outcome is LogonOutcome.USER_REVOKED:
        return ReasonCode.NSSRsnUserRevoked
    if outcome is LogonOutcome.PASSTICKET_REPLAYED:
        return ReasonCode.NSSRsnPassTicketReplayed
    if outcome is LogonOutcome.DATABASE_UNAVAILABLE:
        # Told whatever the credentials: it says nothing about the user.
        return ReasonCode.NSSRsnSecurityDatabaseUnavailable
    if byPassTicket and outcome in (
        LogonOutcome.USER_NOT_DEFINED,
        LogonOutcome.PASSTICKET_INVALID,
    ):
        return ReasonCode.NSSRsnPassTicketExpired
    return ReasonCode.NSSRsnUserAuthentication


_SERVICE_PROFILES = {Services.CERT: "CERT", Services.NETMGMT: "NETMGMT"}

#: The certificate service's requests as the metrics' C{type} label.
_REQUEST_KINDS: dict[int, str] = {
    MessageType.SIGN: "sign",
    MessageType.VERIFY: "verify",
    MessageType.CA_LIST: "calist",
}

_connIds = itertools.count(1)


class Link(Protocol):
    """
    What a session needs of its connection.
    """

    def sendFrame(self, frame: NssFrame) -> None: ...

    def close(self) -> None: ...

    def setupComplete(self) -> None: ...

    def addresses(self) -> tuple[tuple[str, int], tuple[str, int]]: ...

    def peerDescription(self) -> str: ...


class SessionState(enum.Enum):
    CONNECTED = "connected"
    SECURED = "awaiting logon"
    LOGGING_ON = "logging on"
    ACTIVE = "active"
    CLOSED = "closed"


class ServerContext:
    """
    What every session shares: the security database's services, the
    current configuration values, the registry and the thread pools: one
    for the certificate service, and one for logon checks (see
    L{nsstwisted.nssd.logonpool}), so that a storm of logons never queues
    ahead of a signature.

    @ivar currentSnapshot: brings the snapshot up to the database's class
        options and refresh generation, then returns it: what a logon
        checks with, so that class activation and a REFRESH reach the next
        logon at once.
    """

    def __init__(
        self,
        *,
        reactor: IReactorTime,
        pool: WorkerPool,
        logon: Logon,
        certificates: CertificateService,
        currentSnapshot: Callable[[], Deferred[ProfileSnapshot]],
        systemName: Callable[[], str],
        registry: ClientRegistry,
        diagnostics: Diagnostics,
        offeredServices: Callable[[], Services],
        logonPool: WorkerPool,
        metrics: NssdMetrics = NO_METRICS,
        audit: AuditTrail | None = None,
    ) -> None:
        self.reactor = reactor
        self.pool = pool
        self.logonPool = logonPool
        self.logon = logon
        self.certificates = certificates
        self.currentSnapshot = currentSnapshot
        self.systemName = systemName
        self.registry = registry
        self.diagnostics = diagnostics
        self.offeredServices = offeredServices
        self.metrics = metrics
        self.audit = audit

    def in_pool(self, work: Callable[..., T], *args: Any) -> Deferred[T]:
        return self.pool.submit(work, *args)

    def in_logon_pool(self, work: Callable[..., T], *args: Any) -> Deferred[T]:
        return self.logonPool.submit(work, *args)

    def in_pool_timed(
        self, timer: RequestTimer | None, work: Callable[..., T], *args: Any
    ) -> Deferred[T]:
        """
        As L{in_pool}, the work timed by C{timer} if metrics are on.
        """
        if timer is None:
            return self.pool.submit(work, *args)
        return self.pool.submit(timer.execute, work, *args)


class NssServerSession:
    """
    The server side of one NSS connection.
    """

    log = Logger()

    def __init__(self, context: ServerContext, link: Link) -> None:
        self._context = context
        self._link = link
        self.connId = next(_connIds)
        self.state = SessionState.CONNECTED
        self.clientName = ""
        self.userid = ""
        self.services = Services(0)
        self.apiVersion = 0
        self.peer = link.peerDescription()
        self.connectedAt = time.time()
        self.lastMessageAt = self.connectedAt
        self.requestedServices = Services(0)
        self.loggedOnAt = 0.0
        self.systemName = ""
        self.stackName = ""
        #: The security environment the logon built, and when (by
        #: C{time.monotonic}); every check of the session uses it.
        self.environment: AccessorEnvironment | None = None
        self.environmentAt = 0.0
        self._replaced = False
        self._netIds = itertools.count(1)
        self._netPending: dict[int, Deferred[bytes]] = {}

    # Events from the protocol

    def connected(self) -> None:
        self._context.diagnostics.connected(self.connId, self.peer)

    def secured(self) -> None:
        if self.state is SessionState.CONNECTED:
            self.state = SessionState.SECURED

    def connectionLost(self, reason: str) -> None:
        if self.state is SessionState.CONNECTED:
            self._context.diagnostics.not_secure(self.connId)
        elif not self._replaced:
            self._context.diagnostics.disconnected(self.connId, self.clientName, reason)
        self.state = SessionState.CLOSED
        self._context.registry.unregister(self)
        pending, self._netPending = self._netPending, {}
        for waiting in pending.values():
            waiting.errback(
                NetMgmtFailed(ReturnCode.ENXIO, ReasonCode.NSSRsnClientNotConnected)
            )

    def decodeFailed(self, failure: DecodeFailure) -> None:
        self._context.diagnostics.bad_request(
            self.connId,
            failure.returnCode.name,
            failure.reasonCode.name,
            failure.fatal,
        )
        response = failure.response()
        if response is not None:
            self._send(response)

    def timedOut(self, what: str) -> None:
        self._context.diagnostics.timed_out(self.connId, what)

    def frameReceived(self, frame: NssFrame) -> None:
        self.lastMessageAt = time.time()
        message = frame.message
        if message.isReply:
            # Never answered, whatever it is: a reply to nothing is dropped.
            self._reply_received(frame)
        elif isinstance(message, HeartbeatRequest):
            self._send(NssFrame(frame.requestId, HeartbeatReply()))
        elif isinstance(message, Disconnect):
            self._link.close()
        elif message.messageType not in CLIENT_REQUESTS:
            self._refuse(
                frame,
                ReasonCode.NMsRsnBadType,
                f"{_type_name(message.messageType)} requests are sent by the"
                " server, not to it",
            )
        elif isinstance(message, LogonRequest):
            self._logon(frame.requestId, message)
        elif self.state is not SessionState.ACTIVE:
            self._context.metrics.refused(_request_kind(message.messageType))
            waiting = (
                "; wait for the LOGON reply"
                if self.state is SessionState.LOGGING_ON
                else ""
            )
            self._refuse(
                frame,
                ReasonCode.NSSRsnNotLoggedOn,
                f"{_type_name(message.messageType)} needs a completed LOGON first"
                + waiting,
            )
        else:
            self._certificate_request(frame)

    def clientInfo(self) -> NssClientInfo:
        """
        What C{ipsec -x} shows of this client.
        """
        local, peer = self._link.addresses()
        return NssClientInfo(
            clientName=self.clientName,
            userid=self.userid,
            stackName=self.stackName,
            systemName=self.systemName,
            clientAddress=peer[0],
            clientPort=peer[1],
            serverAddress=local[0],
            serverPort=local[1],
            certSelected=Services.CERT in self.requestedServices,
            certEnabled=Services.CERT in self.services,
            remoteMgmtSelected=Services.NETMGMT in self.requestedServices,
            remoteMgmtEnabled=Services.NETMGMT in self.services,
            connectState=NssClientState.CONNECTED,
            timeConnected=int(self.loggedOnAt),
            timeLastMessageFromClient=int(self.lastMessageAt),
        )

    # Network management: requests nssd routes to this client

    def request_netmgmt(self, nmi: bytes) -> Deferred[bytes]:
        """
        Send a routed NMI request to this client; the Deferred fires with the
        client's NMI reply, or fails with L{NetMgmtFailed}.  Cancelling it
        (the router's time limit) forgets the request, so a late reply is
        dropped as one nobody asked for.
        """
        if self.state is not SessionState.ACTIVE:
            return fail(
                NetMgmtFailed(ReturnCode.ENXIO, ReasonCode.NSSRsnClientNotConnected)
            )
        requestId = next(self._netIds) & 0xFFFFFFFF

        def forget(waiting: Deferred[bytes]) -> None:
            self._netPending.pop(requestId, None)

        waiting: Deferred[bytes] = Deferred(forget)
        self._netPending[requestId] = waiting
        self._send(NssFrame(requestId, NetMgmtRequest(nmi)))
        return waiting

    def _reply_received(self, frame: NssFrame) -> None:
        """
        A reply matches a request only by ID and type, and the only requests
        nssd sends that are answered are NETMGMT: anything else, or a late
        answer to one the router gave up on, matches nothing.
        """
        waiting = None
        if frame.message.messageType == MessageType.NETMGMT:
            waiting = self._netPending.pop(frame.requestId, None)
        if waiting is None:
            self._context.diagnostics.unsolicited_reply(self.connId, frame.requestId)
            return
        if isinstance(frame.message, NetMgmtReply):
            waiting.callback(frame.message.nmi)
        else:
            waiting.errback(NetMgmtFailed(frame.returnCode, frame.reasonCode))

    # The registry's interface

    def replace(self, newConnId: int, peer: str) -> None:
        self._replaced = True
        self._context.diagnostics.replaced(
            self.connId, self.clientName, newConnId, peer
        )
        self._send(
            NssFrame(
                0,
                Disconnect(
                    reason=f"replaced by a new logon of client name"
                    f" {self.clientName} from {peer}"
                ),
                ReturnCode.EBUSY,
                ReasonCode.NSSRsnReplacedByNewLogon,
            )
        )
        self._link.close()

    def revoke(self) -> None:
        self._replaced = True
        self._context.diagnostics.revoked(self.connId, self.clientName, self.userid)
        self._send(
            NssFrame(
                0,
                Disconnect(reason=f"user ID {self.userid} is revoked"),
                ReturnCode.EACCES,
                ReasonCode.NSSRsnUserRevoked,
            )
        )
        self._link.close()

    def undefine(self) -> None:
        self._replaced = True
        self._context.diagnostics.undefined(self.connId, self.clientName, self.userid)
        self._send(
            NssFrame(
                0,
                Disconnect(reason=f"user ID {self.userid} is no longer defined"),
                ReturnCode.EACCES,
                ReasonCode.NSSRsnUserAuthentication,
            )
        )
        self._link.close()

    # Logon

    def _logon(self, requestId: int, request: LogonRequest) -> None:
        if self.state is SessionState.ACTIVE or self.state is SessionState.LOGGING_ON:
            self._audit_logon(request, ReasonCode.NSSRsnAlreadyLoggedOn)
            self._send(
                refusal_frame(
                    requestId,
                    request,
                    ReasonCode.NSSRsnAlreadyLoggedOn,
                    "this connection is logged on already"
                    if self.state is SessionState.ACTIVE
                    else "a LOGON is outstanding on this connection",
                )
            )
            return
        if request.apiVersion < 1:
            self._audit_logon(request, ReasonCode.NSSRsnApiVersion)
            self._send(
                refusal_frame(
                    requestId,
                    request,
                    ReasonCode.NSSRsnApiVersion,
                    f"API version {request.apiVersion} is not supported;"
                    f" this server speaks 1 to {NSS_API_VERSION}",
                )
            )
            return
        self.state = SessionState.LOGGING_ON
        self.clientName = request.clientName
        self.userid = request.userid.upper()
        logon = self._context.logon
        check: Callable[..., LogonResult]
        arguments: tuple[Any, ...]
        if request.passTicket is not None:
            check = logon.with_passticket
            arguments = (request.userid, PASSTICKET_APPLICATION, request.passTicket)
        else:
            assert request.password is not None
            check = logon.with_password
            arguments = (request.userid, request.password)
        metrics = self._context.metrics
        if metrics.enabled:
            timer = metrics.request("logon")
            work = self._context.in_logon_pool(
                self._unless_closed, timer.execute, check, *arguments
            )
            work.addBoth(_answered, timer)
        else:
            work = self._context.in_logon_pool(self._unless_closed, check, *arguments)
        work.addCallback(self._logon_checked, requestId, request)
        work.addErrback(_abandoned)
        work.addErrback(self._internal_error, requestId, request)

    def _unless_closed(
        self, check: Callable[..., LogonResult], *args: Any
    ) -> LogonResult:
        """
        Check the logon, unless the connection closed while the check
        waited in the logon pool's queue.  In a storm of first password
        logons the queue is long, and a client whose C{LogonTimeout} passed
        is gone: its check (tens of milliseconds of scrypt) would only delay
        the ones still waiting, until they time out too.  An abandoned check
        tells its client nothing, so a guesser who hangs up learns nothing
        either.  (The state is read in the pool's thread: at worst a check
        whose connection is closing is made anyway.)
        """
        if self.state is SessionState.CLOSED:
            raise _LogonAbandoned()
        return check(*args)

    def _logon_checked(
        self, result: LogonResult, requestId: int, request: LogonRequest
    ) -> Deferred[None] | None:
        if self.state is SessionState.CLOSED:
            return None
        diagnostics = self._context.diagnostics
        if not result.accepted:
            self._context.metrics.logon(
                _logon_method(request), result.outcome.name.lower()
            )
            reason = logon_refusal(result.outcome, request.passTicket is not None)
            diagnostics.logon_failed(
                self.connId, self.clientName, self.userid, result.outcome.value
            )
            self._audit_logon(request, reason, result.outcome.value)
            self._send(refusal_frame(requestId, request, reason))
            # One logon attempt per connection: a guesser pays a TLS handshake
            # per guess, and revocation does the rest.
            self._link.close()
            return None
        checking = self._context.currentSnapshot()
        return checking.addCallback(self._logon_authorize, result, requestId, request)

    def _logon_authorize(
        self,
        snapshot: ProfileSnapshot,
        result: LogonResult,
        requestId: int,
        request: LogonRequest,
    ) -> None:
        """
        Grant the services the user may have, checked with the environment
        its logon just built and the profiles of the last REFRESH.
        """
        if self.state is SessionState.CLOSED:
            return
        diagnostics = self._context.diagnostics
        # The user ID as the logon checked it, which its environment bears.
        self.userid = result.userid
        environment = result.environment
        system = self._context.systemName()
        granted = Services(0)
        offered = self._context.offeredServices()
        for service, suffix in _SERVICE_PROFILES.items():
            if service not in request.services or service not in offered:
                continue
            resource = f"EZB.NSS.{system}.{self.clientName.upper()}.IPSEC.{suffix}"
            decision = snapshot.authorize(
                self.userid,
                ResourceClass.SERVAUTH,
                resource,
                AccessLevel.READ,
                environment=environment,
            )
            diagnostics.servauth_check(self.userid, resource, decision)
            if decision.allowed:
                granted |= service
        if not granted:
            self._context.metrics.logon(_logon_method(request), "service_denied")
            diagnostics.logon_failed(
                self.connId, self.clientName, self.userid, "no service permitted"
            )
            self._audit_logon(request, ReasonCode.NSSRsnServiceDenied)
            self._send(
                refusal_frame(requestId, request, ReasonCode.NSSRsnServiceDenied)
            )
            self._link.close()
            return
        self.services = granted
        self.environment = environment
        self.environmentAt = 0.0 if environment is None else environment.builtAt
        self.requestedServices = request.services
        self.systemName = request.systemName or ""
        self.stackName = request.stackName or ""
        self.loggedOnAt = time.time()
        self.apiVersion = min(request.apiVersion, NSS_API_VERSION)
        self.state = SessionState.ACTIVE
        self._link.setupComplete()
        self._context.registry.register(self)
        self._context.metrics.logon(_logon_method(request), "accepted")
        diagnostics.logged_on(
            self.connId, self.clientName, self.userid, services_text(granted)
        )
        reply = NssFrame(
            requestId,
            LogonReply(
                servicesGranted=granted,
                apiVersion=self.apiVersion,
                serverSystemName=system,
            ),
        )
        recorded = self._audit_logon(request, None, services=services_text(granted))
        if recorded is None:
            self._send(reply)
        else:
            recorded.addCallbacks(
                lambda _: self._send(reply),
                self._logon_unrecorded,
                errbackArgs=(requestId, request),
            )

    def _logon_unrecorded(
        self, failure: Failure, requestId: int, request: LogonRequest
    ) -> None:
        """
        C{AuditRequired yes}, and the logon's record could not be written:
        no session the audit trail does not know of.
        """
        failure.trap(AuditUnavailable)
        self._send(refusal_frame(requestId, request, ReasonCode.NSSRsnAuditUnavailable))
        self._link.close()

    def _audit_logon(
        self,
        request: LogonRequest,
        refused: ReasonCode | None,
        detail: str | None = None,
        services: str | None = None,
    ) -> Deferred[None] | None:
        """
        Record a logon, accepted (C{refused} is C{None}) or not: who, from
        where, by which kind of credentials, never the credentials.
        """
        audit = self._context.audit
        if audit is None or not audit.enabled:
            return None
        fields: dict[str, Any] = {
            "conn": self.connId,
            "client": request.clientName,
            "userid": request.userid.upper(),
            "peer": self.peer,
            "method": "passticket" if request.passTicket is not None else "password",
        }
        if services is not None:
            fields["services"] = services
        fields.update(_result_fields(refused))
        if detail is not None:
            fields["detail"] = detail
        return audit.record("logon", fields, wait=refused is None)

    # Certificate service

    def _certificate_request(self, frame: NssFrame) -> None:
        metrics = self._context.metrics
        if Services.CERT not in self.services:
            metrics.refused(_request_kind(frame.message.messageType))
            self._refuse(
                frame,
                ReasonCode.NSSRsnServiceNotGranted,
                "the certificate service (CERT) was not granted at LOGON",
            )
            return
        requester = Requester(
            self.clientName, self.userid, frame.requestId, self.environment
        )
        certificates = self._context.certificates
        message = frame.message
        # Timed only when metrics are on: the signing path pays one
        # attribute's look-up for them otherwise.
        timer = (
            metrics.request(_request_kind(message.messageType))
            if metrics.enabled
            else None
        )
        work: Deferred[SignReply | VerifyReply | CaListReply]
        record = self._audit_request(frame.requestId, message)
        if isinstance(message, SignRequest):
            work = self._sign(certificates, requester, message, timer, record)
        elif isinstance(message, VerifyRequest):
            work = self._context.in_pool_timed(
                timer, certificates.verify, requester, message
            )
        else:
            work = self._context.in_pool_timed(timer, certificates.ca_list, requester)
        if timer is not None:
            work.addBoth(_answered, timer)
        if record is not None:
            work.addBoth(self._audited, record, frame)
            return
        work.addCallback(lambda reply: self._send(NssFrame(frame.requestId, reply)))
        work.addErrback(self._internal_error, frame.requestId, message)

    def _sign(
        self,
        certificates: CertificateService,
        requester: Requester,
        request: SignRequest,
        timer: RequestTimer | None = None,
        record: dict[str, Any] | None = None,
    ) -> Deferred[SignReply | VerifyReply | CaListReply]:
        """
        Check the request, then sign: on this thread with a key that signs
        in microseconds (see L{PreparedSignature.quick}), else in the pool.

        @param record: the request's audit record, which learns the label
            of the certificate found.
        """
        try:
            prepared = certificates.prepare_sign(requester, request)
        except Exception:
            return fail(Failure())
        if record is not None:
            record["label"] = prepared.entry.record.label
        if prepared.quick:
            if timer is not None:
                return maybeDeferred(timer.execute, prepared)
            return maybeDeferred(prepared)
        return self._context.in_pool_timed(timer, prepared)

    # The audit trail

    def _audit_request(self, requestId: int, message: Any) -> dict[str, Any] | None:
        """
        The start of a SIGN's or VERIFY's audit record, or C{None} for a
        request that needs none (a CA list: it grants nothing, and its
        denials are recorded as such) or when there is no audit trail.
        Only the SHA-256 of the digest or data is kept, never the data.
        """
        audit = self._context.audit
        if audit is None or not audit.enabled:
            return None
        if not isinstance(message, SignRequest | VerifyRequest):
            return None
        payload = message.digest if message.digest is not None else message.data
        record: dict[str, Any] = {
            "conn": self.connId,
            "client": self.clientName,
            "userid": self.userid,
            "request": requestId,
        }
        if isinstance(message, SignRequest):
            record["label"] = message.label
            if message.identity is not None:
                kind, value = message.identity.kind.name, message.identity.value
                record["identity"] = f"{kind} {value}"
        else:
            record["certificateSha256"] = hashlib.sha256(
                message.certificate
            ).hexdigest()
        record["scheme"] = message.scheme.name
        record["input"] = "digest" if message.digest is not None else "data"
        record["sha256"] = hashlib.sha256(payload or b"").hexdigest()
        return record

    def _audited(self, result: Any, record: dict[str, Any], frame: NssFrame) -> None:
        """
        Record the request's outcome, then answer it; with C{AuditRequired
        yes}, answer a success once its record is written, and refuse it if
        it could not be (a refusal grants nothing, and goes out as it is).

        The answer is sent from here, by a plain callable the audit trail
        calls, rather than by returning a Deferred of the record into the
        request's chain: a Deferred and its chaining cost more than the rest
        of the record (issue 14's benchmark).
        """
        audit = self._context.audit
        assert audit is not None
        event = "verify" if "certificateSha256" in record else "sign"
        refused = None
        if isinstance(result, Failure):
            value = result.value
            refused = (
                value.reasonCode
                if isinstance(value, RequestRefused)
                else ReasonCode.NSSRsnServerError
            )
        record.update(_result_fields(refused))
        if refused is None and audit.required:
            audit.record_then(
                event, record, partial(self._answer_recorded, result, frame)
            )
        else:
            audit.record_then(event, record, None)
            self._answer(result, frame)

    def _answer(self, result: Any, frame: NssFrame) -> None:
        if isinstance(result, Failure):
            self._internal_error(result, frame.requestId, frame.message)
        else:
            self._send(NssFrame(frame.requestId, result))

    def _answer_recorded(self, result: Any, frame: NssFrame, error: str | None) -> None:
        """
        Answer a request once its record is written, or refuse it if the
        record could not be (C{error}).
        """
        if error is None:
            self._answer(result, frame)
        else:
            self._send(
                refusal_frame(
                    frame.requestId, frame.message, ReasonCode.NSSRsnAuditUnavailable
                )
            )

    # Replies

    def _internal_error(self, failure: Failure, requestId: int, message: Any) -> None:
        if isinstance(failure.value, RequestRefused):
            refused = failure.value
            self._send(
                refusal_frame(requestId, message, refused.reasonCode, refused.errorText)
            )
            return
        if isinstance(failure.value, SecurityEnvironmentError):
            self.log.error("{error}", error=str(failure.value))
        else:
            self.log.failure("request {requestId} failed", failure, requestId=requestId)
        self._send(refusal_frame(requestId, message, ReasonCode.NSSRsnServerError))
        if self.state is SessionState.LOGGING_ON:
            if isinstance(message, LogonRequest):
                self._context.metrics.logon(_logon_method(message), "error")
            self._link.close()

    def _refuse(self, frame: NssFrame, reasonCode: ReasonCode, text: str) -> None:
        self._send(refusal_frame(frame.requestId, frame.message, reasonCode, text))

    def _send(self, frame: NssFrame) -> None:
        if self.state is not SessionState.CLOSED:
            self._link.sendFrame(frame)


class _LogonAbandoned(Exception):
    """
    A logon check was not made: its connection had closed meanwhile.
    """


def _abandoned(failure: Failure) -> None:
    failure.trap(_LogonAbandoned)


class NetMgmtFailed(Exception):
    """
    A routed request did not get an NMI reply from the client.
    """

    def __init__(self, returnCode: ReturnCode, reasonCode: ReasonCode) -> None:
        super().__init__(f"{returnCode.name} {reasonCode.name}")
        self.returnCode = returnCode
        self.reasonCode = reasonCode


def refusal_frame(
    requestId: int, request: Any, reasonCode: ReasonCode, text: str | None = None
) -> NssFrame:
    """
    The error reply to C{request}, with the return code the protocol
    specification pairs with C{reasonCode}, and an ERROR_TEXT: C{text} where
    the caller can say more than the reason code does, else the reason's
    own line (docs/protocol.md section 4.9: refusals say what was wrong).
    """
    return NssFrame(
        requestId,
        Refusal(int(request.messageType)),
        REASON_RETURN_CODE[reasonCode],
        reasonCode,
        error_text(text or REASON_TEXT[reasonCode]),
    )


def _request_kind(messageType: int) -> str:
    # Only SIGN, VERIFY and CA_LIST get this far; anything else is answered
    # as a CA list would be, and counted as one.
    return _REQUEST_KINDS.get(messageType, "calist")


def _logon_method(request: LogonRequest) -> str:
    return "password" if request.passTicket is None else "passticket"


def _answered(result: T, timer: RequestTimer) -> T:
    """
    Tell C{timer} how its request was answered, passing the result on: a
    refusal the protocol defines is C{refused}, any other failure C{error}.
    """
    if not isinstance(result, Failure):
        timer.answered("ok")
    elif isinstance(result.value, RequestRefused):
        timer.answered("refused")
    else:
        timer.answered("error")
    return result


def _result_fields(refused: ReasonCode | None) -> dict[str, Any]:
    if refused is None:
        return {"result": "success"}
    return {
        "result": "failure",
        "returnCode": REASON_RETURN_CODE[refused].name,
        "reasonCode": refused.name,
    }


def _type_name(messageType: int) -> str:
    try:
        return MessageType(messageType).name
    except ValueError:
        return f"type {messageType}"


def services_text(services: Services) -> str:
    names = [name for flag, name in _SERVICE_PROFILES.items() if flag in services]
    return ",".join(names) or "none"
