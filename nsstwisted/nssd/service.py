"""
The NSS server as a Twisted service: it opens the security database, builds
the TLS identity, listens on the NSS port and serves sessions; it refreshes
its configuration on SIGHUP and its security profiles when
C{SETROPTS RACLIST(SERVAUTH) REFRESH} says they changed.

What a change in the security database reaches, and when, follows RACF:
profiles wait for a REFRESH, which the server sees at the next logon or
poll; class options (C{CLASSACT}, C{GENERIC}) count from the next logon or
poll without one; a user's groups and attributes count from its next logon
(see L{nsstwisted.security.accessor}).

Everything that can fail because of the configuration or the database is done
in L{NSSDService.prepare}, before the reactor runs, so that a bad start exits
non-zero with a message naming the problem.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import signal
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    DeferredLock,
    inlineCallbacks,
)
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from nsstwisted import __version__
from nsstwisted.config import ConfigurationError
from nsstwisted.nssd.admission import AdmissionFactory, ConnectionAdmission
from nsstwisted.nssd.audit import AuditTrail, check_audit_file, check_syslog
from nsstwisted.nssd.certificates import CertificateService
from nsstwisted.nssd.configuration import (
    NssdConfiguration,
    load_nssd_configuration,
)
from nsstwisted.nssd.databasewatch import DatabaseWatch
from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.nssd.heap import return_free_memory
from nsstwisted.nssd.logonpool import logon_pool
from nsstwisted.nssd.management import (
    NssdManagement,
    NssdNmiObserver,
    RefreshRejected,
)
from nsstwisted.nssd.metrics import MetricsSources
from nsstwisted.nssd.metricschoice import nssd_metrics
from nsstwisted.nssd.pacing import HandshakePacer, PacedAcceptEndpoint
from nsstwisted.nssd.refreshhint import RefreshHint
from nsstwisted.nssd.registry import ClientRegistry
from nsstwisted.nssd.router import NetworkManagementRouter
from nsstwisted.nssd.session import NssServerSession, ServerContext
from nsstwisted.nssd.tls import ServerContextFactory, server_context
from nsstwisted.nssd.tokens import NssdTokens
from nsstwisted.nssd.workerpool import WorkerPool
from nsstwisted.protocols.nmi import (
    NmiServerFactory,
    NmiSocketAccessError,
    change_socket_access,
    describe_socket_access,
    nmi_server_endpoint,
)
from nsstwisted.protocols.nss import (
    DEFAULT_CLOSE_DEADLINE,
    DEFAULT_FRAME_DEADLINE,
    NssFactory,
    NssProtocol,
)
from nsstwisted.protocols.sdnotify import ReadinessNotifier
from nsstwisted.protocols.startup import StartupError, listen_at_start
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    DatabaseUnavailableError,
    MasterKeyChangedError,
    SecurityError,
)
from nsstwisted.security.keyring import (
    CertificateRecord,
    KeyRing,
    KeyRingStore,
    RingEntry,
)
from nsstwisted.security.location import database_path, stash_path
from nsstwisted.security.logon import Logon
from nsstwisted.security.profiles import Decision, ProfileSnapshot, ProfileStore
from nsstwisted.security.users import UserRegistry
from nsstwisted.wire.clientinfo import answer_clientinfo
from nsstwisted.wire.nmi import NmiMessage
from nsstwisted.wire.nss import MAX_PRELOGON_MESSAGE_SIZE, Services

# How often the server asks the database whether the profiles were refreshed
# or the class options changed, when no logon asked in between.
SECURITY_POLL_INTERVAL = 5.0
# Checked this often: once this many connections have closed, or when
# connections have closed and then none in the last interval, nssd gives the
# memory they held back to the system (see nsstwisted.nssd.heap).
HEAP_TRIM_CLOSES = 256
HEAP_TRIM_INTERVAL = 2.0
# Open files nssd needs besides its NSS connections: the database, the
# listening sockets, the management interface's connections, the log.
FILES_BESIDES_CONNECTIONS = 256


class NSSDService(Service):
    """
    The NSS server.

    @ivar configuration: the configuration in use.
    @ivar port: the listening port, once listening.
    """

    log = Logger(namespace="nssd")
    name = "nssd"
    #: Tells systemd (a unit of Type=notify) that nssd serves, reloads on
    #: SIGHUP or stops; nothing without $NOTIFY_SOCKET.
    readiness = ReadinessNotifier()

    def __init__(
        self,
        configPath: str,
        configuration: NssdConfiguration,
        database: SecurityDatabase,
        reactor: Any,
        *,
        interface: str = "::",
        threads: int | None = None,
        frameDeadline: float = DEFAULT_FRAME_DEADLINE,
        setupDeadline: float | None = None,
        closeDeadline: float = DEFAULT_CLOSE_DEADLINE,
        stashFor: Callable[[NssdConfiguration], str] | None = None,
    ) -> None:
        """
        @param setupDeadline: seconds for the TLS handshake and the logon,
            overriding the configuration's C{LogonTimeout} (for tests,
            which need less than its one-second minimum).
        @param closeDeadline: seconds after which a connection nssd closes
            is dropped if the peer has not answered TLS's goodbye.
        @param stashFor: the stash file a configuration names (its
            C{StashFile}, else the environment's or the default), which a
            refresh reads the master key from again after a master-key
            rotation; by default C{StashFile}, else the stash nssd opened.
        """
        self._stashFor = stashFor or (lambda c: c.stashFile or database.stashPath)
        self.configPath = configPath
        self.frameDeadline = frameDeadline
        self.setupDeadline = setupDeadline
        self.closeDeadline = closeDeadline
        self.configuration = configuration
        self.interface = interface
        self._reactor = reactor
        self._database = database
        self.diagnostics = Diagnostics(configuration.syslogLevel)
        self.audit = AuditTrail(reactor, self.diagnostics, configuration)
        # One session of the token's pool for each thread that signs.
        self.tokens = NssdTokens(self.diagnostics, threads or os.cpu_count() or 2)
        self.keyrings = KeyRingStore(database, self.tokens)
        self.profiles = ProfileStore(database)
        self.users = UserRegistry(database)
        self.registry = ClientRegistry()
        self.admission = ConnectionAdmission(
            lambda: (
                self.configuration.maxConnections,
                self.configuration.maxConnectionsPerAddress,
            ),
            self.diagnostics,
            reactor,
        )
        self.handshakePacer = HandshakePacer(reactor)
        # One catch-up with the database at a time, so that an older read
        # of the class options never replaces a newer one; the callers that
        # ask while one runs share the next (see current_snapshot).
        self._securityLock = DeferredLock()
        self._snapshotWaiters: list[Deferred[ProfileSnapshot]] = []
        self._catchingUp = False
        self.pool = WorkerPool(reactor, threads or os.cpu_count() or 2)
        self.logonPool = logon_pool(reactor, threads or os.cpu_count() or 2)
        self.metrics = nssd_metrics(
            configuration.metrics,
            MetricsSources(
                sessions=self._sessions_by_state,
                queued=lambda: {
                    "sign": self.pool.queued,
                    "logon": self.logonPool.queued,
                },
                databaseReachable=lambda: self.databaseWatch.reachable,
            ),
        )
        self.metricsPort: IListeningPort | None = None
        self.snapshot: ProfileSnapshot = self.profiles.snapshot()
        self.tokens.configure(configuration)
        try:
            self.ring: KeyRing | None = self._load_ring(configuration)
            context, self.tlsCertificate = self._tls_context(configuration)
        except BaseException:
            # A start that fails logs out of the token it logged into.
            self.tokens.close()
            raise
        self.contextFactory = ServerContextFactory(context)
        self.port: IListeningPort | None = None
        self._ports: list[IListeningPort] = []
        self.nmiPort: IListeningPort | None = None
        self.router = NetworkManagementRouter(
            self.registry,
            self._operator_security,
            lambda: self.configuration.systemName,
            self.diagnostics,
            reactor,
            self._client_info,
        )
        self.nmiFactory = NmiServerFactory(
            NssdManagement(
                lambda: self.configuration.describe(),
                self.refresh,
                self.router,
                lambda: self.configuration.display_data(),
            ),
            reactor,
            idleTimeout=configuration.nmiIdleTimeout,
            observer=NssdNmiObserver(self.diagnostics),
        )
        self._poller: LoopingCall | None = None
        self._heapTrim: LoopingCall | None = None
        self._closedAtTrim = self._closedAtCheck = 0
        # Password logons go on from the snapshot while the database cannot
        # be reached (see Logon).
        logon = Logon(database, snapshot=lambda: self.snapshot)
        certificates = CertificateService(
            self.keyrings,
            lambda: self.ring,
            lambda: self.snapshot,
            lambda: self.configuration.systemName,
            self.diagnostics,
            verifyEku=lambda: self.configuration.verifyEku,
        )
        self.context = ServerContext(
            reactor=reactor,
            pool=self.pool,
            logon=logon,
            certificates=certificates,
            currentSnapshot=self.current_snapshot,
            systemName=lambda: self.configuration.systemName,
            registry=self.registry,
            diagnostics=self.diagnostics,
            offeredServices=self._offered_services,
            logonPool=self.logonPool,
            metrics=self.metrics,
            audit=self.audit,
        )
        self.refreshHint = RefreshHint(
            reactor,
            self._in_pool,
            self.profiles.snapshot,
            lambda: self.snapshot,
            self.diagnostics,
        )
        self.diagnostics.denialObserver = self._denied
        self.databaseWatch = DatabaseWatch(
            reactor,
            database,
            self._in_pool,
            self.diagnostics,
            catchUp=self._catch_up_now,
            writePending=logon.write_pending,
            generation=lambda: self.snapshot.generation,
        )

    @classmethod
    def prepare(
        cls,
        configPath: str,
        reactor: Any,
        *,
        interface: str = "::",
        environ: Mapping[str, str] | None = None,
        readOnly: bool = False,
        **options: Any,
    ) -> NSSDService:
        """
        Read the configuration, open the database and build the TLS identity.

        @param readOnly: open the database read-only, and leave the audit
            file alone (for L{check}, which writes nothing).
        @raise StartupError: if any of it fails.
        """
        env = os.environ if environ is None else environ
        try:
            configuration = load_nssd_configuration(configPath)
        except ConfigurationError as e:
            raise StartupError(str(e)) from None
        if not readOnly:
            _check_audit_file(configuration)
        else:
            # Reaching the socket writes nothing.
            _check_audit_syslog(configuration)
        path = database_path(configuration.securityDatabase, env)
        try:
            database = SecurityDatabase.open(
                path,
                stash_path(path, configuration.stashFile, env),
                create=False,
                readOnly=readOnly,
            )
        except SecurityError as e:
            raise StartupError(str(e)) from None
        try:
            return cls(
                configPath,
                configuration,
                database,
                reactor,
                interface=interface,
                stashFor=lambda c: stash_path(path, c.stashFile, env),
                **options,
            )
        except (SecurityError, StartupError) as e:
            database.close()
            raise StartupError(str(e)) from None

    @classmethod
    def check(
        cls,
        configPath: str,
        reactor: Any,
        *,
        environ: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """
        Check C{configPath} as a start would, by L{prepare}, with the
        database opened read-only and nothing bound, so that it can be run
        beside the nssd it is meant for (before a refresh, say).

        @return: what a start would use, to show the operator; the first
            line is DBG0150I.
        @raise StartupError: what would stop a start.
        """
        service = cls.prepare(configPath, reactor, environ=environ, readOnly=True)
        try:
            return service._checked(configPath, now or datetime.now(UTC))
        finally:
            service.tokens.close()
            service._database.close()

    def _checked(self, configPath: str, now: datetime) -> list[str]:
        configuration = self.configuration
        database = self._database
        tls = self.tlsCertificate
        owner, tlsRing = _tls_ring(configuration)
        certificate = tls.certificate
        expires = certificate.not_valid_after_utc
        ring = self.ring
        return [
            f"DBG0150I NSS server configuration {configPath} checked: "
            "nssd can start with it",
            f"security database {database.path}, stash {database.stashPath}"
            " (read, not written)",
            "no KeyRing: the certificate service is off"
            if ring is None
            else f"KeyRing {ring}: {len(ring.entries)} certificates",
            f"TLS certificate {tls.label!r} of {owner}/{tlsRing}"
            f" ({certificate.subject.rfc4514_string()})"
            f" {'expired' if expires < now else 'valid until'}"
            f" {expires:%Y-%m-%d %H:%M} UTC",
            f"not checked: Port {configuration.port} and NmiSocket"
            f" {configuration.nmiSocket}, which only a start binds",
            *(
                [
                    f"not checked: AuditFile {configuration.auditFile}, which only a"
                    " start opens (and creates)"
                ]
                if configuration.auditFile is not None
                else []
            ),
            *(
                [
                    f"AuditSyslog {configuration.auditSyslog}: the syslog socket"
                    f" {configuration.auditSyslogSocket} is reachable"
                ]
                if configuration.auditSyslog is not None
                else []
            ),
            *self._token_checked(),
        ]

    def _token_checked(self) -> list[str]:
        """
        What C{--check} says of the PKCS#11 token: logged into, or why not
        (a start would serve on without its keys).
        """
        token = self.tokens.token
        if token is None:
            return []
        unavailable = token.unavailable
        if unavailable is not None:
            return [
                f"PKCS#11 token {token.label} is unavailable ({unavailable}): nssd "
                "would start, and its keys would not sign"
            ]
        return [f"PKCS#11 token {token.label} (module {token.modulePath}): logged in"]

    def _sessions_by_state(self) -> dict[str, int]:
        # Held connections that are not (or not yet) a registered logon are
        # in their TLS handshake or LOGON.
        active = len(self.registry)
        return {"setup": max(0, self.admission.held - active), "active": active}

    def _denied(self, userid: str, resource: str, decision: Decision) -> None:
        """
        A SERVAUTH check was denied (in any thread): the refresh hint looks
        for a change that would permit it, and the audit trail records it.
        """
        self.refreshHint.denied(userid, resource, decision)
        self.audit.note(
            "authorization",
            {
                "userid": userid,
                "class": "SERVAUTH",
                "resource": resource,
                "access": "READ",
                "profile": decision.profile,
                "result": "failure",
            },
        )

    def _client_info(self, request: NmiMessage) -> NmiMessage:
        return answer_clientinfo(
            request,
            self.configuration.systemName,
            [session.clientInfo() for session in self.registry],  # type: ignore[attr-defined]
        )

    def _offered_services(self) -> Services:
        # Without a KeyRing the certificate service is off, as in IBM's NSS;
        # network management is always offered.
        if self.ring is None:
            return Services.NETMGMT
        return Services.CERT | Services.NETMGMT

    def _load_ring(self, configuration: NssdConfiguration) -> KeyRing | None:
        # After a master-key rotation (nss-database rekey) the key nssd
        # holds no longer opens the database: take the new one from the
        # stash the configuration names, or refuse (NSR0372E) before the
        # keys held are let go, so that a refresh under the old stash
        # changes nothing and signing goes on.
        self._database.reload_master_key(self._stashFor(configuration))
        if configuration.keyRing is None:
            return None
        ring = self.keyrings.ring(*configuration.keyRing)
        # Unsealed now, so that signing never waits for the database, and
        # goes on while it cannot be reached; a key in a token is found and
        # checked there now, so that one that cannot sign is said now.
        unusable: list[RingEntry] = []

        def report(entry: RingEntry, error: SecurityError) -> None:
            unusable.append(entry)
            self.diagnostics.token_key_unusable(
                str(ring), entry.record.label, error.messageId, error.text
            )

        self.keyrings.pin_keys(ring, report)
        inToken = [e for e in ring.entries if e.record.tokenKeyUri is not None]
        token = self.tokens.token
        if inToken and token is not None:
            failed = sum(1 for e in unusable if e in inToken)
            self.diagnostics.token_keys_loaded(
                token.label, token.modulePath, str(ring), len(inToken) - failed, failed
            )
        return ring

    def _report_collisions(self, ring: KeyRing | None) -> None:
        """
        Name the ring's certificates whose labels map to one profile name
        (DBG0130I); the certificate service uses none of them.  Each load
        says so again, until an administrator relabels or removes them.
        """
        if ring is None:
            return
        for mapped, labels in sorted(ring.label_collisions.items()):
            self.diagnostics.labels_collide(
                str(ring), self.configuration.systemName, mapped, labels
            )

    def _tls_context(
        self, configuration: NssdConfiguration
    ) -> tuple[Any, CertificateRecord]:
        owner, ring = _tls_ring(configuration)
        return server_context(self.keyrings, owner, ring, configuration.tlsLabel)

    # Service

    def startService(self) -> None:
        Service.startService(self)
        # First, before any line that says the daemon listens: a SIGHUP
        # sent on reading that line must find the handler (Python's default
        # action would end the daemon).  A refresh it asks for runs once the
        # reactor does.
        signal.signal(signal.SIGHUP, self._sighup)
        self.diagnostics.started(__version__, self.configuration.systemName)
        self._report_collisions(self.ring)
        try:
            self._listen_at_start()
        except StartupError as e:
            self.diagnostics.startup_failed(str(e))
            Service.stopService(self)
            raise
        self._ensure_file_limit(self.configuration.maxConnections)
        self.pool.start()
        self.logonPool.start()
        self.audit.start()
        self._poller = LoopingCall(self._poll_security)
        self._poller.clock = self._reactor
        self._poller.start(SECURITY_POLL_INTERVAL, now=False)
        self._heapTrim = LoopingCall(self._trim_heap)
        self._heapTrim.clock = self._reactor
        self._heapTrim.start(HEAP_TRIM_INTERVAL, now=False)
        self.databaseWatch.start()
        self._reactor.callWhenRunning(self._notify_ready)

    def stopService(self) -> Deferred[None] | None:
        if not self.running:
            # Never started, or its start failed and undid itself.
            return None
        self.readiness.stopping("stopping")
        Service.stopService(self)
        for loop in (self._poller, self._heapTrim):
            if loop is not None and loop.running:
                loop.stop()
        ports, self._ports, self.port = self._ports, [], None
        nmiPort, self.nmiPort = self.nmiPort, None
        metricsPort, self.metricsPort = self.metricsPort, None
        if metricsPort is not None:
            ports.append(metricsPort)
        self.admission.stop()
        self.handshakePacer.stop()
        self.refreshHint.stop()
        self.databaseWatch.stop()
        self.diagnostics.stopped()
        stopping: list[Deferred[Any]] = [
            d for d in (p.stopListening() for p in ports) if d is not None
        ]
        if nmiPort is not None:
            stopped = nmiPort.stopListening()
            if stopped is not None:
                stopping.append(stopped)
            stopping.append(self.nmiFactory.terminateAll())
        self.pool.stop()
        self.logonPool.stop()
        self.audit.stop()
        self.tokens.close()
        return DeferredList(stopping).addCallback(lambda _: None)

    def _factory(self) -> NssFactory:
        def session(protocol: NssProtocol) -> NssServerSession:
            return NssServerSession(self.context, protocol)

        return NssFactory(
            session,
            self._reactor,
            setupMessageSize=MAX_PRELOGON_MESSAGE_SIZE,
            frameDeadline=self.frameDeadline,
            setupDeadline=self._setup_deadline,
            closeDeadline=self.closeDeadline,
        )

    def _setup_deadline(self) -> float:
        if self.setupDeadline is not None:
            return self.setupDeadline
        return float(self.configuration.logonTimeout)

    def _listen(self, portNumber: int) -> Deferred[IListeningPort]:
        """
        Listen on NSS port C{portNumber} (a refresh's new port).
        """
        listening: Deferred[IListeningPort] = self._endpoint(portNumber).listen(
            self._port_factory()
        )
        return listening.addCallback(self._listening_on)

    def _endpoint(self, portNumber: int) -> PacedAcceptEndpoint:
        # (listenTCP, below the endpoint, takes "::" as IPv6 by itself.)
        # The accept queue holds as many connections as nssd may hold (the
        # kernel caps it at net.core.somaxconn): when every client of a
        # failed server connects at once, a connection beyond Twisted's
        # default of 50 would be dropped and wait for its SYN's
        # retransmission, 1, 3, 7... seconds later.  Accepting is paced
        # (nsstwisted.nssd.pacing), so that they wait there in turn.
        return PacedAcceptEndpoint(
            self._reactor,
            portNumber,
            backlog=self.configuration.maxConnections,
            interface=self.interface,
        )

    def _port_factory(self) -> AdmissionFactory:
        # TLS over admission rather than an SSL endpoint, so that a
        # connection over the limits is closed before its TLS handshake.
        return AdmissionFactory(
            TLSMemoryBIOFactory(self.contextFactory, False, self._factory()),
            self.admission,
            self.handshakePacer,
        )

    def _listening_on(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        self._ports.append(port)
        address = port.getHost()
        self.diagnostics.listening(address.host, address.port)  # type: ignore[attr-defined]
        return port

    def _trim_heap(self) -> None:
        """
        Give back what closed connections held: the pages stay resident
        otherwise, and a flood's peak would become nssd's size.  Done
        during a flood once enough have closed, and when one is over.
        """
        closed = self.admission.closed
        sinceTrim = closed - self._closedAtTrim
        quiet = closed == self._closedAtCheck
        self._closedAtCheck = closed
        if sinceTrim >= HEAP_TRIM_CLOSES or (sinceTrim and quiet):
            self._closedAtTrim = closed
            return_free_memory()

    def _ensure_file_limit(self, maxConnections: int) -> None:
        """
        Raise the soft limit of open files, up to the hard one, so that
        C{MaxConnections} is what limits the connections: past the file
        limit every accept would fail, and be logged, for as long as a
        flood lasts.  Say so (DBG0113I) if the hard limit is too low.
        """
        wanted = maxConnections + FILES_BESIDES_CONNECTIONS
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft >= wanted:
            return
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if raised > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            except (OSError, ValueError):
                raised = soft
        if raised < wanted:
            self.diagnostics.file_limit(raised, maxConnections)

    def _listen_at_start(self) -> None:
        """
        Bind the NSS port and the management socket, or neither: a start
        that fails serves nothing, not even the management interface, which
        would tell an operator that nssd runs.  The port comes first, so
        that a port in use leaves no socket file behind.

        @raise StartupError: either cannot be bound.
        """
        port = listen_at_start(
            self._endpoint(self.configuration.port), self._port_factory()
        )
        try:
            self.nmiPort = self._listen_nmi(self.configuration.nmiSocket)
        except StartupError:
            port.stopListening()
            raise
        try:
            self.metricsPort = self.metrics.listen(self._reactor)
        except StartupError:
            port.stopListening()
            self.nmiPort.stopListening()
            self.nmiPort = None
            raise
        # DBG0002I last: what waits for it finds everything served.
        if self.metricsPort is not None:
            address = self.metricsPort.getHost()
            self.diagnostics.metrics_listening(address.host, address.port)  # type: ignore[union-attr]
        self._listening_on(port)

    def _listen_nmi(self, path: str) -> IListeningPort:
        """
        Serve the management interface on C{path}, creating its directory
        if need be; if the directory cannot be made, say so first
        (DBG0040I, as IBM's server does).

        @raise StartupError: the directory cannot be made, or the socket
            cannot be served ("Cannot acquire lock": another nssd serves it).
        """
        directory = os.path.dirname(path) or "."
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            self.diagnostics.socket_directory_failed(
                directory, e.errno or 0, e.strerror or str(e)
            )
            raise StartupError(f"cannot create socket directory {directory}") from None
        try:
            port = listen_at_start(
                nmi_server_endpoint(
                    self._reactor,
                    path,
                    mode=self.configuration.nmiSocketMode,
                    group=self.configuration.nmiSocketGroup,
                ),
                self.nmiFactory,
            )
        except StartupError as e:
            raise StartupError(
                f"cannot serve the management interface on {path}: {e}"
            ) from None
        self.diagnostics.nmi_listening(path)
        self.diagnostics.nmi_socket_access(path, describe_socket_access(path))
        return port

    # Refresh

    def _sighup(self, signum: int, frame: FrameType | None) -> None:
        def refresh() -> None:
            # A rejected refresh was logged (DBG0012I); systemd is told that
            # nssd serves on, with the configuration it had.
            self.readiness.reloading("refreshing the configuration (SIGHUP)")
            self.refresh().addCallbacks(
                lambda lines: self._notify_ready(lines[0]), failed
            )

        def failed(f: Failure) -> None:
            self._notify_ready(f"refresh rejected: {f.getErrorMessage()}")
            f.trap(RefreshRejected)

        self._reactor.callFromThread(refresh)

    def _notify_ready(self, outcome: str = "started") -> None:
        """
        READY=1 once the reactor runs (every socket was bound in
        C{startService}, so nssd accepts), and after each refresh by SIGHUP.
        """
        if not self.running:
            return
        port = self.configuration.port
        if self.port is not None:
            port = self.port.getHost().port  # type: ignore[attr-defined]
        self.readiness.ready(
            f"{outcome}; NSS port {port}, NMI {self.configuration.nmiSocket}"
        )

    def refresh(self) -> Deferred[list[str]]:
        """
        Reread the configuration file and the security profiles.  Any error
        rejects the whole refresh; the running configuration stays.

        @return: a Deferred firing with a list of lines describing the
            outcome, for C{nss-modify nssd refresh}, or failing with
            L{RefreshRejected}.
        """

        def counted(result: Any) -> Any:
            self.metrics.refreshed(not isinstance(result, Failure))
            return result

        refreshing: Deferred[list[str]] = self._refresh()
        return refreshing.addBoth(counted)

    @inlineCallbacks
    def _refresh(self) -> Any:
        try:
            new = load_nssd_configuration(self.configPath)
            _check_audit_file(new)
        except (ConfigurationError, StartupError) as e:
            self.diagnostics.refresh_rejected(str(e))
            self._audit_refresh(str(e))
            raise RefreshRejected(str(e)) from None
        old = self.configuration
        try:
            yield self._in_pool(self.tokens.configure, new)
            ring = yield self._in_pool(self._load_ring, new)
            context, tlsCertificate = yield self._in_pool(self._tls_context, new)
            snapshot = yield self._in_pool(self.profiles.snapshot)
        except (SecurityError, StartupError) as e:
            self.diagnostics.refresh_rejected(str(e))
            self._audit_refresh(str(e))
            raise RefreshRejected(str(e)) from None
        try:
            changed = change_socket_access(
                self.nmiPort,
                (old.nmiSocketGroup, old.nmiSocketMode),
                (new.nmiSocketGroup, new.nmiSocketMode),
            )
        except NmiSocketAccessError as e:
            self.diagnostics.refresh_rejected(str(e))
            self._audit_refresh(str(e))
            raise RefreshRejected(str(e)) from None
        if changed is not None:
            self.diagnostics.nmi_socket_access(*changed)
        changes = []
        if new.port != old.port:
            try:
                newPort = yield self._listen(new.port)
            except Exception as e:
                self.diagnostics.refresh_rejected(
                    f"cannot listen on port {new.port}: {e}"
                )
                self._audit_refresh(f"cannot listen on port {new.port}: {e}")
                raise RefreshRejected(
                    f"cannot listen on port {new.port}: {e}"
                ) from None
            changes.append(f"Port {old.port} -> {new.port}")
            for port in self._old_ports(newPort):
                yield port.stopListening()
        if new.metrics != old.metrics:
            # The listener, and whether requests are timed at all, are set
            # at start: the metrics in force stay, and display says so.
            self.diagnostics.metrics_at_restart(
                "off" if old.metrics is None else old.metrics.describe()
            )
            new = dataclasses.replace(new, metrics=old.metrics)
        self.configuration = new
        self.diagnostics.level = new.syslogLevel
        self.audit.configure(new)
        self.nmiFactory.idleTimeout = new.nmiIdleTimeout
        if new.maxConnections > old.maxConnections:
            self._ensure_file_limit(new.maxConnections)
        self.ring = ring
        self._report_collisions(ring)
        self._install_snapshot(snapshot)
        self.contextFactory.replace(context)
        self.tlsCertificate = tlsCertificate
        for line in new.describe():
            if line not in old.describe():
                changes.append(line)
        text = "; ".join(changes) or "no changes"
        self.diagnostics.refreshed(text)
        self._audit_refresh(None, text)
        return [f"refresh complete: {text}"]

    def _audit_refresh(
        self, rejected: str | None, changes: str | None = None, what: str = "all"
    ) -> None:
        """
        Record a refresh: of everything (C{nss-modify nssd refresh},
        SIGHUP), or of the profiles (C{what} C{profiles}: a
        C{SETROPTS RACLIST REFRESH} seen).
        """
        fields: dict[str, Any] = {"scope": what}
        if rejected is None:
            fields["result"] = "success"
            if changes is not None:
                fields["changes"] = changes
        else:
            fields["result"] = "failure"
            fields["detail"] = rejected
        self.audit.record("refresh", fields, wait=False)

    def _install_snapshot(self, snapshot: ProfileSnapshot) -> None:
        """
        Check with C{snapshot} from now on, and end the sessions of the users
        it knows to be revoked: a revoked user keeps neither its sessions
        nor the authority they carry.  So do the sessions of users it knows
        to be deleted since they logged on, which would otherwise keep the
        groups their logon found.
        """
        self.snapshot = snapshot
        # A password verified before this refresh is checked against the
        # database's hash again at its next logon.
        self.context.logon.forget_all()
        for client in list(self.registry):
            if snapshot.is_revoked(client.userid):
                client.revoke()
            elif (
                not snapshot.is_defined(client.userid)
                and client.environmentAt < snapshot.builtAt
            ):
                client.undefine()

    def current_snapshot(self) -> Deferred[ProfileSnapshot]:
        """
        Catch up with the database, then return the snapshot: rebuilt if a
        REFRESH bumped the generation, given the new class options if
        those changed.  A logon checks with what this returns.

        Every caller gets a catch-up that started after it asked, so that
        nothing done in the database before a logon is missed by it; but
        the callers that ask while one runs share the next one, rather
        than queue one each.  In a storm of logons that is two reads of
        the database's status in a row at most, not one per logon, each
        waiting for its turn on the reactor.

        @raise SecurityError: (in the Deferred) the database could not be
            read; the caller fails closed.
        """
        waiting: Deferred[ProfileSnapshot] = Deferred()
        self._snapshotWaiters.append(waiting)
        if not self._catchingUp:
            self._next_catch_up()
        return waiting

    def _next_catch_up(self) -> None:
        waiters, self._snapshotWaiters = self._snapshotWaiters, []
        self._catchingUp = True

        def done(result: ProfileSnapshot | Failure) -> None:
            self._catchingUp = False
            for waiting in waiters:
                if isinstance(result, Failure):
                    waiting.errback(result)
                else:
                    waiting.callback(result)
            if self._snapshotWaiters:
                self._next_catch_up()

        self._securityLock.run(self._catch_up).addBoth(done)

    @inlineCallbacks
    def _catch_up(self) -> Any:
        """
        Catch up with the database; while it cannot be reached, serve on
        with the snapshot nssd has (DBG0170I says so once).
        """
        try:
            generation, options = yield self._in_pool(self.profiles.status)
            if generation != self.snapshot.generation:
                snapshot = yield self._in_pool(self.profiles.snapshot)
                try:
                    ring = yield self._in_pool(self._load_ring, self.configuration)
                except MasterKeyChangedError as e:
                    # The profiles are taken; the ring and its keys are kept
                    # until a refresh names the new stash.
                    self.log.error("{error}", error=str(e))
                    ring = self.ring
                self.ring = ring
                self.diagnostics.security_refreshed(snapshot.generation)
                self._audit_refresh(
                    None, f"generation {snapshot.generation}", "profiles"
                )
                self._install_snapshot(snapshot)
                self._report_collisions(ring)
            elif options != self.snapshot.options:
                self.snapshot = self.snapshot.with_options(options)
                self.diagnostics.class_options_seen(options)
        except DatabaseUnavailableError as e:
            self.databaseWatch.failed(e)
            return self.snapshot
        self.databaseWatch.succeeded()
        return self.snapshot

    def _catch_up_now(self) -> None:
        """
        Catch up at once: a change was announced, or the database is back
        and changes made meanwhile were announced to nobody.
        """
        self.current_snapshot().addErrback(
            lambda f: self.log.error("{error}", error=f.getErrorMessage())
        )

    @inlineCallbacks
    def _operator_security(self, userid: str) -> Any:
        """
        What an operator's NMI request is checked with: the current
        snapshot, and the operator's environment read for this request.
        """
        snapshot = yield self.current_snapshot()
        try:
            environment = yield self._in_pool(self.users.environment, userid)
        except DatabaseUnavailableError:
            # As a logon does while the database is away: the operator as
            # the snapshot knows it.
            environment = snapshot.environment(userid)
        return snapshot, environment

    def _old_ports(self, newPort: IListeningPort) -> list[IListeningPort]:
        old = [p for p in self._ports if p is not newPort]
        self._ports = [newPort]
        return old

    def _in_pool(self, work: Any, *args: Any) -> Deferred[Any]:
        return self.context.in_pool(work, *args)

    @inlineCallbacks
    def _poll_security(self) -> Any:
        try:
            yield self.current_snapshot()
        except SecurityError as e:
            self.log.error("{error}", error=str(e))
            return
        if self.databaseWatch.reachable and self.context.logon.pending:
            # Held records that could not be written when the database
            # came back (a standby takes no writes) are tried again.
            self.databaseWatch.write_pending()


def _check_audit_file(configuration: NssdConfiguration) -> None:
    """
    @raise StartupError: the configuration's C{AuditFile} cannot be opened
        for appending, or its C{AuditSyslog} socket cannot be reached; a
        start or refresh fails rather than run unaudited.
    """
    path = configuration.auditFile
    if path is not None:
        try:
            check_audit_file(path)
        except OSError as e:
            raise StartupError(
                f"AuditFile {path} cannot be opened: {e.strerror or e}"
            ) from None
    _check_audit_syslog(configuration)


def _check_audit_syslog(configuration: NssdConfiguration) -> None:
    facility = configuration.auditSyslog
    if facility is not None:
        try:
            check_syslog(facility, configuration.auditSyslogSocket)
        except OSError as e:
            raise StartupError(
                f"AuditSyslog {facility}: the syslog socket {e.strerror or e}"
                " cannot be reached; is the syslog daemon running, and is"
                " AuditSyslogSocket its socket?"
            ) from None


def _tls_ring(configuration: NssdConfiguration) -> tuple[str, str]:
    """
    The ring of nssd's TLS certificate: C{TlsKeyRing}, else C{KeyRing}.

    @raise StartupError: neither is configured.
    """
    ring = configuration.tlsKeyRing or configuration.keyRing
    if ring is None:
        raise StartupError(
            "no TlsKeyRing or KeyRing is configured: nssd has no TLS identity"
        )
    return ring
