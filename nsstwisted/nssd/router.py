"""
The network management service: IPsec NMI requests from operators on the
NSS server's host, routed to the NSS client named in the request's target.

Who may ask is decided by the caller's socket peer credentials: the uid is
mapped to a user ID of the security database by a fixed rule (its login
name, upper case, if that is a valid user ID), and that user's SERVAUTH
access decides.  Each request is a new accessor, as each operator command
is a new job under RACF: its security environment (groups, RESTRICTED) is
read from the database for the request, so a CONNECT or REMOVE counts at
the operator's next command.  The checks:

  - READ on C{EZB.NETMGMT.sysname.sysname.NSS.DISPLAY} for GET_CLIENTINFO;
  - READ on C{EZB.NETMGMT.sysname.clientname.IPSEC.DISPLAY} for routed
    monitoring (GET_...) requests;
  - READ on C{EZB.NETMGMT.sysname.clientname.IPSEC.CONTROL} for routed
    control requests.
"""

from __future__ import annotations

import pwd
import re
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, TimeoutError, fail, succeed
from twisted.python.failure import Failure

from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.nssd.registry import ClientRegistry
from nsstwisted.nssd.session import NetMgmtFailed
from nsstwisted.protocols.nmi import NmiCaller
from nsstwisted.security.accessor import AccessorEnvironment
from nsstwisted.security.profiles import AccessLevel, ProfileSnapshot, ResourceClass
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import (
    IPSEC_REQUESTS,
    NmiDecodeFailure,
    NmiMessage,
    NmiMessageType,
    decode_message,
    encode_message,
)
from nsstwisted.wire.nss import Services

DEFAULT_ROUTE_TIMEOUT = 30.0

# The profiles and the caller's environment a request is checked with, or
# None for a caller with no user ID.
_Accessor = tuple[ProfileSnapshot, AccessorEnvironment] | None

_USERID = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")

# Requests IBM's NSS server does not route: they are iked-local.
NOT_ROUTED = frozenset({NmiMessageType.GET_STACKINFO, NmiMessageType.GET_IKENSINFO})


def caller_userid(caller: NmiCaller | None) -> str | None:
    """
    The user ID a management caller acts as: the login name of its uid, in
    upper case, when that is a valid user ID; otherwise nobody.
    """
    if caller is None:
        return None
    try:
        name = pwd.getpwuid(caller.uid).pw_name.upper()
    except KeyError:
        return None
    return name if _USERID.fullmatch(name) else None


def is_control(messageType: int) -> bool:
    """
    Control requests change a client's state; the others only read it.
    """
    if messageType not in IPSEC_REQUESTS:
        return False
    return not NmiMessageType(messageType).name.startswith("GET_")


class NetworkManagementRouter:
    """
    Answers GET_CLIENTINFO and routes the other IPsec requests.

    @param security: returns, for a user ID, the current profile snapshot
        and the user's security environment as the database holds it now.
    @param clientInfo: answers a GET_CLIENTINFO request (the registry's
        clients as NMsecClient records).
    """

    def __init__(
        self,
        registry: ClientRegistry,
        security: Callable[
            [str], Deferred[tuple[ProfileSnapshot, AccessorEnvironment]]
        ],
        systemName: Callable[[], str],
        diagnostics: Diagnostics,
        reactor: Any,
        clientInfo: Callable[[NmiMessage], NmiMessage],
        timeout: float = DEFAULT_ROUTE_TIMEOUT,
    ) -> None:
        self._registry = registry
        self._security = security
        self._systemName = systemName
        self._diagnostics = diagnostics
        self._reactor = reactor
        self._clientInfo = clientInfo
        self.timeout = timeout

    def _permitted(self, accessor: _Accessor, resource: str) -> bool:
        if accessor is None:
            return False
        snapshot, environment = accessor
        decision = snapshot.authorize(
            environment.userid,
            ResourceClass.SERVAUTH,
            resource,
            AccessLevel.READ,
            environment=environment,
        )
        self._diagnostics.servauth_check(environment.userid, resource, decision)
        return decision.allowed

    def handles(self, messageType: int) -> bool:
        return messageType == NmiMessageType.GET_CLIENTINFO or (
            messageType in IPSEC_REQUESTS and messageType not in NOT_ROUTED
        )

    def handle(
        self, request: NmiMessage, caller: NmiCaller | None
    ) -> Deferred[NmiMessage]:
        userid = caller_userid(caller)
        if userid is None:
            return self._handle(None, request, None)
        return self._security(userid).addCallback(self._handle, request, userid)

    def _handle(
        self, accessor: _Accessor, request: NmiMessage, userid: str | None
    ) -> Deferred[NmiMessage]:
        system = self._systemName()
        target = request.target.strip()
        if request.messageType == NmiMessageType.GET_CLIENTINFO:
            resource = f"EZB.NETMGMT.{system}.{system}.NSS.DISPLAY"
            if not self._permitted(accessor, resource):
                return succeed(_denied(request, userid, resource))
            if target and self._registry.get(target) is None:
                return succeed(
                    request.refuse(
                        ReturnCode.ENXIO,
                        ReasonCode.NSSRsnClientNotConnected,
                        f"NSS client {target} is not connected",
                    )
                )
            return succeed(self._clientInfo(request))
        if not target:
            return succeed(
                request.refuse(
                    ReturnCode.EINVAL,
                    ReasonCode.NSSRsnMissingField,
                    "a routed request needs the NSS client's name in NMsMTarget",
                )
            )
        session: Any = self._registry.get(target)
        if session is None:
            return succeed(
                request.refuse(
                    ReturnCode.ENXIO,
                    ReasonCode.NSSRsnClientNotConnected,
                    f"NSS client {target} is not connected",
                )
            )
        if Services.NETMGMT not in session.services:
            return succeed(
                request.refuse(
                    ReturnCode.EOPNOTSUPP,
                    ReasonCode.NONE,
                    f"NSS client {target} is not enabled for remote management",
                )
            )
        kind = "CONTROL" if is_control(request.messageType) else "DISPLAY"
        resource = f"EZB.NETMGMT.{system}.{target.upper()}.IPSEC.{kind}"
        if not self._permitted(accessor, resource):
            return succeed(_denied(request, userid, resource))
        try:
            nmi = encode_message(request)
        except ValueError as e:
            return fail(e)
        routed: Deferred[bytes] = session.request_netmgmt(nmi)
        routed.addTimeout(self.timeout, self._reactor)

        def answered(data: bytes) -> NmiMessage:
            reply = decode_message(data)
            if isinstance(reply, NmiDecodeFailure):
                return request.refuse(
                    ReturnCode.EIO,
                    ReasonCode.NSSRsnServerError,
                    f"NSS client {target} sent a reply that is not valid: {reply.text}",
                )
            return reply

        def failed(failure: Failure) -> NmiMessage:
            if failure.check(TimeoutError):
                return request.refuse(
                    ReturnCode.ETIMEDOUT,
                    ReasonCode.NSSRsnClientTimeout,
                    f"NSS client {target} did not answer within {self.timeout:g} s",
                )
            if failure.check(NetMgmtFailed):
                error: NetMgmtFailed = failure.value  # type: ignore[assignment]
                return request.refuse(
                    error.returnCode,
                    error.reasonCode,
                    f"NSS client {target} could not answer",
                )
            return failure  # type: ignore[return-value]

        return routed.addCallbacks(answered, failed)


def _denied(request: NmiMessage, userid: str | None, resource: str) -> NmiMessage:
    who = userid or "an unknown user"
    return request.refuse(
        ReturnCode.EACCES,
        ReasonCode.NSSRsnServiceDenied,
        f"{who} is not permitted to {resource}",
    )
