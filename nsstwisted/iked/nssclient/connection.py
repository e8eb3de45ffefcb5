"""
One stack's connection to the NSS server, with primary/backup failover.

The policy is IBM's: try the primary, and retry it every NssWaitLimit seconds
up to NssWaitRetries times; then switch to the backup and do the same; when
both have failed, alternate between them, one attempt each, NssWaitLimit
seconds apart, until one answers.  A connection that is lost switches to the
other server at once.  Nothing ever loops without waiting.  A logon that
nssd refuses for a reason no retry cures (a wrong secret, a revoked user) is
not retried at all until the operator refreshes iked: each retry would count
toward REVOKE and lock the stack's own user out.

Heartbeats find a dead server behind a half-open TCP connection within
L{heartbeat_bound} seconds.

Requests (sign, verify, CA list) fail with a message when the connection
breaks under them; they are not retried here, because the IKE exchange that
asked retransmits and asks again, which reaches whichever server is then
connected.
"""

from __future__ import annotations

import enum
import itertools
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import (
    CancelledError,
    Deferred,
    TimeoutError,
    ensureDeferred,
)
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import deferLater
from twisted.logger import Logger

from nsstwisted.client import (
    ClientTimeouts,
    NssRequestFailed,
    NssSession,
    PassTicketCredentials,
    PasswordCredentials,
    ServerIdentity,
    connect,
    tls_endpoint,
)
from nsstwisted.client.serveridentity import IDENTITY_KINDS
from nsstwisted.config import ConfigurationError
from nsstwisted.iked.configuration import (
    AuthBy,
    NssServerAddress,
    NssStackConfig,
    read_stack_secret,
)
from nsstwisted.iked.messages import CONNECT_REQUEST, IkedMessages
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.counts import counted
from nsstwisted.wire.nss import Services

PASSTICKET_APPLICATION = "NSSD"


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    #: The logon was refused for a reason that retrying cannot cure; the
    #: stack waits for the operator's refresh.
    REFUSED = "logon refused"
    STOPPED = "stopped"


#: Logon refusals that no retry cures, and what the operator must fix.  A
#: stack that retried them would only count failures toward REVOKE.
DEFINITIVE_REFUSALS = {
    ReasonCode.NSSRsnUserAuthentication: (
        "the user ID or its secret is wrong: correct UserID and the PasswordFile"
        " or PassTicketKeyFile"
    ),
    ReasonCode.NSSRsnUserRevoked: (
        "the user ID is revoked: ALTUSER userid RESUME on the NSS server, after"
        " correcting the stack's secret if that was the cause"
    ),
    ReasonCode.NSSRsnPassTicketExpired: (
        "no PassTicket was accepted: correct the PassTicketKeyFile (the key of"
        " application NSSD) or the clock of this system or of the NSS server"
    ),
}


def heartbeat_timeouts(waitLimit: int) -> ClientTimeouts:
    """
    Heartbeat every min(20, NssWaitLimit) seconds and give each one
    min(10, NssWaitLimit) seconds to be answered.
    """
    return ClientTimeouts(
        heartbeatInterval=float(max(1, min(20, waitLimit))),
        heartbeatTimeout=float(max(1, min(10, waitLimit))),
        requestTimeout=float(max(1, waitLimit)),
    )


def heartbeat_bound(waitLimit: int) -> float:
    """
    The longest a dead server goes unnoticed.
    """
    timeouts = heartbeat_timeouts(waitLimit)
    return timeouts.heartbeatInterval + timeouts.heartbeatTimeout


@dataclass(frozen=True)
class ConnectionStatus:
    """
    What C{ipsec -w} shows of a stack's connection.
    """

    state: ConnectionState
    server: NssServerAddress | None
    clientAddress: str
    clientPort: int
    serverAddress: str
    serverPort: int
    serverSystemName: str
    serverApiVersion: int
    servicesGranted: Services
    connectedAt: float
    lastMessageAt: float


def server_identity(server: NssServerAddress) -> ServerIdentity:
    """
    What nssd's certificate must prove: the C{Identity} coded on
    C{NetworkSecurityServer}, else the host it is reached at.
    """
    if server.identityKind is not None and server.identity is not None:
        kind = server.identityKind
        if kind not in IDENTITY_KINDS:
            raise ValueError(f"unknown Identity kind {kind!r}")
        return ServerIdentity(kind, server.identity)
    return ServerIdentity.of_host(server.host)


class StackNssConnection:
    """
    Keeps one stack connected to nssd.

    @param servers: the primary and backup, in that order (either may be
        missing).
    @param caCertificates: PEM certificates that vouch for nssd.
    @param caFile: the file they came from (IkeConfig C{CaFile}), for the
        sentence EZD1149I gives when nssd's certificate is not signed by
        any of them.
    @param endpointFor: makes the TCP endpoint for a server (tests and
        embedding applications can replace it).
    @param switched: told each time the stack switches to the other server
        (EZD1142I), for the metrics' count of failovers, which outlives
        this connection when a refresh replaces it.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        stack: NssStackConfig,
        servers: Sequence[NssServerAddress | None],
        *,
        waitLimit: int,
        retries: int,
        caCertificates: Sequence[bytes],
        caFile: str | None = None,
        messages: IkedMessages,
        endpointFor: Callable[[NssServerAddress], IStreamClientEndpoint] | None = None,
        clock: Callable[[], float] = time.time,
        netMgmt: Callable[[bytes], Deferred[bytes]] | None = None,
        systemName: str | None = None,
        switched: Callable[[], None] | None = None,
    ) -> None:
        self._reactor = reactor
        self._switched = switched
        self.stack = stack
        self._servers = [s for s in servers if s is not None]
        if not self._servers:
            raise ValueError("an NSS stack needs a primary or a backup server")
        self._waitLimit = waitLimit
        self._retries = retries
        self._caCertificates = list(caCertificates)
        self._caFile = caFile
        self._messages = messages
        self._endpointFor = endpointFor or self._tcp_endpoint
        self._clock = clock
        # The second of the last PassTicket made, so that no two logons
        # present the same ticket (see _ticket_second).
        self._lastTicketSecond = -1
        self._netMgmt = netMgmt
        self._systemName = systemName
        self._correlators = itertools.count(1)
        self.state = ConnectionState.DISCONNECTED
        self.session: NssSession | None = None
        self._current = 0
        self._running: Deferred[None] | None = None
        self._stopping = False
        self._refused: str | None = None
        self._status = self._empty_status(None)
        self._waiter: Deferred[Any] | None = None
        self._connectedWaiters: list[Deferred[NssSession]] = []

    # Control

    def start(self) -> None:
        self._stopping = False
        self._refused = None
        self._running = ensureDeferred(self._run())
        self._running.addErrback(
            lambda f: self.log.failure("NSS connection manager failed", f)
        )

    async def stop(self) -> None:
        """
        Close the connection and stop reconnecting.
        """
        self._stopping = True
        if self._waiter is not None:
            self._waiter.cancel()
        session = self.session
        if session is not None:
            server = self._status.server
            await session.close()
            self._messages.disconnected(
                self.stack.stackName, server.host if server else "(none)"
            )
        if self._running is not None:
            self._running.cancel()
            try:
                await self._running
            except CancelledError:
                pass
        self.state = ConnectionState.STOPPED

    def update_servers(
        self,
        servers: Sequence[NssServerAddress | None],
        *,
        waitLimit: int,
        retries: int,
        caCertificates: Sequence[bytes],
        caFile: str | None = None,
    ) -> None:
        """
        New IkeConfig values from a refresh: they apply to the next
        connection attempt, and an established connection stays.
        """
        chosen = [s for s in servers if s is not None]
        if not chosen:
            return
        current = self._servers[self._current] if self._servers else None
        self._servers = chosen
        self._current = chosen.index(current) if current in chosen else 0
        self._waitLimit = waitLimit
        self._retries = retries
        self._caCertificates = list(caCertificates)
        self._caFile = caFile
        if self.state is ConnectionState.REFUSED:
            # The operator says the cause is fixed: try again, from the
            # primary.
            self._current = 0
            self.start()

    def status(self) -> ConnectionStatus:
        return self._status

    def whenConnected(self) -> Deferred[NssSession]:
        """
        Fires with the session as soon as one is up (at once if it is).
        """
        if self.session is not None:
            return Deferred.fromCoroutine(_value(self.session))
        waiter: Deferred[NssSession] = Deferred()
        self._connectedWaiters.append(waiter)
        return waiter

    # The policy

    async def _run(self) -> None:
        failures = [0] * len(self._servers)
        alternating = False
        while not self._stopping:
            if len(failures) != len(self._servers):
                # A refresh changed the servers: start the count afresh.
                failures = [0] * len(self._servers)
                alternating = False
            server = self._servers[self._current]
            connected = await self._attempt(server)
            if self._stopping:
                return
            if self._refused is not None:
                self.state = ConnectionState.REFUSED
                self._status = self._empty_status(server, ConnectionState.REFUSED)
                return
            if connected:
                failures = [0] * len(self._servers)
                alternating = False
                since = time.monotonic()
                reason = await self._serve()
                if self._stopping:
                    return
                self._messages.connection_lost(
                    self.stack.stackName, server.host, reason
                )
                # Switch at once after a connection that lived; one that was
                # dropped at once (another logon under the same client name,
                # say) waits, so that two such clients cannot ping-pong.
                brief = time.monotonic() - since < self._waitLimit
                wait = float(self._waitLimit) if brief else 0.0
                self._switch(server, wait)
                await self._sleep(wait)
                continue
            # Between attempts the stack is disconnected, as ipsec -w says.
            self.state = ConnectionState.DISCONNECTED
            self._status = self._empty_status(server)
            failures[self._current] += 1
            if len(self._servers) == 1:
                wait = float(self._waitLimit)
                self._messages.retrying(
                    self.stack.stackName, server.host, failures[self._current] + 1, wait
                )
            elif alternating or failures[self._current] >= self._retries:
                if all(f >= self._retries for f in failures):
                    alternating = True
                wait = float(self._waitLimit)
                self._switch(server, wait)
            else:
                wait = float(self._waitLimit)
                self._messages.retrying(
                    self.stack.stackName, server.host, failures[self._current] + 1, wait
                )
            await self._sleep(wait)

    def _switch(self, old: NssServerAddress, wait: float) -> None:
        if len(self._servers) < 2:
            return
        self._current = (self._current + 1) % len(self._servers)
        if self._switched is not None:
            self._switched()
        self._messages.switching(
            self.stack.stackName, old.host, self._servers[self._current].host, wait
        )

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self._waiter = deferLater(self._reactor, seconds, lambda: None)
        try:
            await self._waiter
        except CancelledError:
            pass
        finally:
            self._waiter = None

    async def _attempt(self, server: NssServerAddress) -> bool:
        """
        One connection and logon attempt, bounded by NssWaitLimit.
        """
        self.state = ConnectionState.CONNECTING
        self._status = self._empty_status(server, ConnectionState.CONNECTING)
        correlator = next(self._correlators)
        stackName = self.stack.stackName
        try:
            credentials = self._credentials()
        except ConfigurationError as e:
            self._messages.unreachable(stackName, server.host, str(e))
            return False
        attempt = ensureDeferred(
            connect(
                self._reactor,
                self._tls_endpoint(server),
                clientName=self.stack.clientName,
                credentials=credentials,
                services=self.stack.services,
                timeouts=heartbeat_timeouts(self._waitLimit),
                serverIdentity=server_identity(server),
                netMgmt=self._netMgmt,
                systemName=self._systemName,
                stackName=self.stack.stackName,
            )
        )
        self._waiter = attempt
        attempt.addTimeout(self._waitLimit, self._reactor)
        try:
            session: NssSession = await attempt
        except NssRequestFailed as e:
            if e.secured:
                self._messages.request_failed(
                    CONNECT_REQUEST, correlator, stackName, e.returnCode, e.reasonCode
                )
                if e.reasonCode is ReasonCode.NSSRsnServiceDenied:
                    self._services_unavailable(Services(0))
                remedy = DEFINITIVE_REFUSALS.get(e.reasonCode)
                if remedy is not None:
                    self._refused = remedy
                    self._messages.logon_refused(
                        stackName, server.host, self.stack.userid, e.reasonCode, remedy
                    )
            else:
                self._messages.not_secure(stackName, server.host, e.text)
            return False
        except (CancelledError, TimeoutError):
            if not self._stopping:
                self._messages.unreachable(
                    stackName,
                    server.host,
                    f"no answer within {counted(self._waitLimit, 'second')}",
                )
            return False
        except Exception as e:
            self._messages.unreachable(stackName, server.host, _describe(e))
            return False
        finally:
            self._waiter = None
        if self._stopping:
            await session.close()
            return False
        self.session = session
        self.state = ConnectionState.CONNECTED
        self._status = self._connected_status(server, session)
        self._messages.connected(
            stackName,
            server.host,
            self._status.serverAddress,
            self._status.serverPort,
            self.stack.clientName,
        )
        self._services_unavailable(session.servicesGranted)
        waiters, self._connectedWaiters = self._connectedWaiters, []
        for waiter in waiters:
            waiter.callback(session)
        return True

    def _services_unavailable(self, granted: Services) -> None:
        selected = self.stack.services
        if Services.CERT in selected and Services.CERT not in granted:
            self._messages.certificate_service_unavailable(self.stack.stackName)
        if Services.NETMGMT in selected and Services.NETMGMT not in granted:
            self._messages.remote_management_unavailable(self.stack.stackName)

    async def _serve(self) -> str:
        session = self.session
        assert session is not None
        reason = await session.whenClosed()
        self.session = None
        self.state = ConnectionState.DISCONNECTED
        self._status = self._empty_status(self._status.server)
        return reason

    # Building blocks

    def _credentials(self) -> PasswordCredentials | PassTicketCredentials:
        secret = read_stack_secret(self.stack)
        if self.stack.authBy is AuthBy.PASSWORD:
            return PasswordCredentials(self.stack.userid, secret)
        key = parse_key(secret)
        userid = self.stack.userid
        # A fresh ticket for every logon: one-time use is enforced by nssd.
        return PassTicketCredentials(
            userid,
            lambda: generate_passticket(
                userid, PASSTICKET_APPLICATION, key, self._ticket_second()
            ),
        )

    def _ticket_second(self) -> int:
        """
        The second to make a PassTicket for: now, or the second after the
        last ticket's if that was made this second.  A ticket is one per
        user and second, and every server on a shared database refuses one
        used anywhere: a failover to the backup within the second of the
        logon at the primary must not present the same ticket again.  A
        ticket a second or two ahead is well inside the server's window.
        """
        second = max(int(self._clock()), self._lastTicketSecond + 1)
        self._lastTicketSecond = second
        return second

    def _tcp_endpoint(self, server: NssServerAddress) -> IStreamClientEndpoint:
        return HostnameEndpoint(self._reactor, server.host, server.port)

    def _tls_endpoint(self, server: NssServerAddress) -> IStreamClientEndpoint:
        return tls_endpoint(
            self._endpointFor(server),
            self._caCertificates,
            server.host,
            caSource=self._caFile,
        )

    def _empty_status(
        self,
        server: NssServerAddress | None,
        state: ConnectionState = ConnectionState.DISCONNECTED,
    ) -> ConnectionStatus:
        return ConnectionStatus(
            state=state,
            server=server,
            clientAddress="",
            clientPort=0,
            serverAddress="",
            serverPort=0,
            serverSystemName="",
            serverApiVersion=0,
            servicesGranted=Services(0),
            connectedAt=0.0,
            lastMessageAt=0.0,
        )

    def _connected_status(
        self, server: NssServerAddress, session: NssSession
    ) -> ConnectionStatus:
        local, peer = session.addresses()
        now = self._clock()
        return ConnectionStatus(
            state=ConnectionState.CONNECTED,
            server=server,
            clientAddress=local[0],
            clientPort=local[1],
            serverAddress=peer[0],
            serverPort=peer[1],
            serverSystemName=session.reply.serverSystemName,
            serverApiVersion=session.reply.apiVersion,
            servicesGranted=session.servicesGranted,
            connectedAt=now,
            lastMessageAt=now,
        )

    def lastMessageAt(self) -> float:
        session = self.session
        return session.lastMessageAt() if session is not None else 0.0


async def _value(value: Any) -> Any:
    return value


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name: {text}"
    return text
