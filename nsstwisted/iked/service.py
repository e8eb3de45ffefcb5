"""
The IKE daemon as a Twisted service.  For now it is the NSS client side of
iked: one L{StackNssConnection} per stack with an NssStackConfig, the local
management socket (C{nss-ipsec -w}, C{nss-modify iked}), and refresh.

Refresh follows IBM: a removed NssStackConfig closes that stack's
connection; an added one opens one; a changed one disconnects and
reconnects; an unchanged one keeps its connection untouched.  A changed
NetworkSecurityServer, NssWaitLimit or CaFile applies to the next connection
attempt; established connections stay.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import FrameType
from typing import TYPE_CHECKING, Any

from cryptography import x509
from twisted.application.service import Service
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    ensureDeferred,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure

from nsstwisted.config import ConfigurationError
from nsstwisted.ike.enginebase import EngineSettings
from nsstwisted.ike.interfaces import IPeerVerifier
from nsstwisted.ike.policy import PeerPolicy
from nsstwisted.iked.configuration import (
    IkedConfiguration,
    NssStackConfig,
    load_iked_configuration,
)
from nsstwisted.iked.keyexchange.ikestack import StackIke
from nsstwisted.iked.keyexchange.installer import installer_for
from nsstwisted.iked.keyexchange.localring import (
    LocalKeyRing,
    LocalRingSigner,
    LocalRingVerifier,
)
from nsstwisted.iked.messages import IkedMessages
from nsstwisted.iked.nssclient.connection import ConnectionState, StackNssConnection
from nsstwisted.iked.nssclient.management import (
    IkedManagement,
    IkedNmiObserver,
    RefreshRejected,
)
from nsstwisted.iked.nssclient.signers import NssSigner, NssVerifier
from nsstwisted.iked.stackmodel.filters import StackFilters
from nsstwisted.iked.stackmodel.interfaces import InterfaceReader
from nsstwisted.iked.stackmodel.latency import LatencyHistogram
from nsstwisted.iked.stackmodel.samples import StackSample
from nsstwisted.iked.stackmodel.stack import StackModel
from nsstwisted.iked.stackmodel.statistics import StackStatistics
from nsstwisted.iked.stackmodel.tunnels import StackTunnels
from nsstwisted.protocols.nmi import (
    NmiServerFactory,
    NmiSocketAccessError,
    change_socket_access,
    describe_socket_access,
    nmi_server_endpoint,
)
from nsstwisted.protocols.sdnotify import ReadinessNotifier
from nsstwisted.protocols.startup import StartupError, listen_at_start
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import SecurityError
from nsstwisted.security.location import database_path, shown_location, stash_path
from nsstwisted.wire.counts import counted
from nsstwisted.wire.ikensinfo import IkeNssConnectionState, IkeNssInfo
from nsstwisted.wire.nmi import (
    NmiDecodeFailure,
    NmiMessage,
    decode_message,
    encode_message,
)
from nsstwisted.wire.nss import NSS_API_VERSION, Services

if TYPE_CHECKING:
    from nsstwisted.iked.stackmodel.prometheus import IkedMetrics

_STATES = {
    ConnectionState.CONNECTING: IkeNssConnectionState.CONNECTING,
    ConnectionState.CONNECTED: IkeNssConnectionState.CONNECTED,
    ConnectionState.DISCONNECTED: IkeNssConnectionState.DISCONNECTED,
    ConnectionState.REFUSED: IkeNssConnectionState.DISCONNECTED,
    ConnectionState.STOPPED: IkeNssConnectionState.DISCONNECTED,
}


def read_ca_file(path: str | None, needed: bool) -> list[bytes]:
    """
    The PEM certificates of C{CaFile}, one entry each.
    """
    if path is None:
        if needed:
            raise StartupError(
                "IkeConfig CaFile is required: it holds the CA certificates "
                "that check the NSS server's TLS certificate"
            )
        return []
    try:
        with open(path, "rb") as f:
            data = f.read(1024 * 1024)
    except OSError as e:
        raise StartupError(f"CaFile {path}: {e.strerror}") from None
    marker = b"-----END CERTIFICATE-----"
    pems = [
        part + marker + b"\n" for part in data.split(marker) if b"-----BEGIN" in part
    ]
    if not pems:
        raise StartupError(f"CaFile {path} holds no PEM certificate")
    certificates = [pem[pem.index(b"-----BEGIN") :] for pem in pems]
    for number, pem in enumerate(certificates, 1):
        try:
            x509.load_pem_x509_certificate(pem)
        except ValueError as e:
            raise StartupError(
                f"CaFile {path}: certificate {number} cannot be read: {e}"
            ) from None
    return certificates


class IKEDService(Service):
    """
    @ivar connections: the NSS connection of each NSS-enabled stack, by name.
    """

    log = Logger(namespace="iked")
    name = "iked"
    #: Tells systemd (a unit of Type=notify) that iked serves, reloads on
    #: SIGHUP or stops; nothing without $NOTIFY_SOCKET.
    readiness = ReadinessNotifier()

    def __init__(
        self,
        configPath: str,
        configuration: IkedConfiguration,
        reactor: Any,
        *,
        endpointFor: Any = None,
    ) -> None:
        self.configPath = configPath
        self.configuration = configuration
        self._reactor = reactor
        self._endpointFor = endpointFor
        self.messages = IkedMessages()
        self._caCertificates = read_ca_file(
            configuration.caFile, bool(configuration.nssStacks)
        )
        self.connections: dict[str, StackNssConnection] = {}
        self.nmiPort: IListeningPort | None = None
        self.stacks: dict[str, StackModel] = {}
        self.ike: dict[str, StackIke] = {}
        self.localRing: LocalKeyRing | None = None
        #: Each stack's switches between NSS servers, kept across the
        #: connections a refresh replaces.
        self.failovers: dict[str, int] = {}
        #: Per NSS stack, how long nssd took to sign (kept across refreshes,
        #: as the statistics are).
        self.signatureLatency: dict[str, LatencyHistogram] = {}
        self.metrics = _iked_metrics(configuration, self.stack_samples)
        self.metricsPort: IListeningPort | None = None
        self._load_stacks(configuration)
        self.management = IkedManagement(
            lambda: self.configuration.describe(),
            self.refresh,
            self.nss_info,
            self.stack_model,
            lambda: self.configuration.display_data(),
        )
        self.nmiFactory = NmiServerFactory(
            self.management,
            reactor,
            idleTimeout=configuration.nmiIdleTimeout,
            observer=IkedNmiObserver(self.messages),
        )

    def _load_stacks(self, configuration: IkedConfiguration) -> None:
        """
        Each stack's model: a new stack starts on its policy (or the default
        rules without one); an existing stack gets the new policy and keeps
        the filter set an operator chose, and its statistics.
        """
        stacks = {}
        for name in configuration.stack_names():
            policy = configuration.stack_policy(name)
            rules = None if policy is None else policy.filters
            reader = InterfaceReader(configuration.stack(name).namespace)
            existing = self.stacks.get(name)
            if existing is None:
                stacks[name] = StackModel(
                    name, StackFilters(rules), StackStatistics(), reader, StackTunnels()
                )
            else:
                existing.filters.replace_policy(rules)
                existing.interfaces = reader
                stacks[name] = existing
        self.stacks = stacks

    def stack_samples(self) -> list[StackSample]:
        """
        Every stack as the metrics read it at a scrape, from the HTTP
        server's thread: the reactor thread replaces these mappings rather
        than change them in place, or changes them by one key at a time,
        so that a copy is whole.
        """
        stacks = dict(self.stacks)
        connections = dict(self.connections)
        failovers = dict(self.failovers)
        latencies = dict(self.signatureLatency)
        samples = []
        for name, model in stacks.items():
            connection = connections.get(name)
            samples.append(
                StackSample(
                    name,
                    model.statistics,
                    None
                    if connection is None
                    else connection.status().state.name.lower(),
                    failovers.get(name, 0),
                    None
                    if (latency := latencies.get(name)) is None
                    else latency.snapshot(),
                )
            )
        return samples

    def _failed_over(self, stackName: str) -> None:
        self.failovers[stackName] = self.failovers.get(stackName, 0) + 1

    def stack_model(self, name: str) -> StackModel | None:
        """
        Stack C{name} (any case), or the first stack when C{name} is blank.
        """
        if not name:
            return next(iter(self.stacks.values()), None)
        for stack, model in self.stacks.items():
            if stack.upper() == name.upper():
                return model
        return None

    @classmethod
    def prepare(
        cls,
        configPath: str,
        reactor: Any,
        *,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> IKEDService:
        try:
            configuration = load_iked_configuration(configPath)
        except ConfigurationError as e:
            raise StartupError(str(e)) from None
        return cls(configPath, configuration, reactor, **options)

    @classmethod
    def check(cls, configPath: str, reactor: Any) -> list[str]:
        """
        Check C{configPath} as a start would: the configuration with its
        policy and secret files, C{CaFile}, and the local key ring if a
        stack signs with it, opened read-only; nothing is bound and no NSS
        server is called, so that it can be run beside the iked it is
        meant for.

        @return: what a start would use, to show the operator; the first
            line is EZD1175I.
        @raise StartupError: what would stop a start.
        """
        service = cls.prepare(configPath, reactor)
        try:
            service._open_local_ring_at_start(readOnly=True)
            return service._checked(configPath)
        finally:
            service._close_local_ring()

    def _checked(self, configPath: str) -> list[str]:
        configuration = self.configuration
        nss = configuration.nssStacks
        lines = [
            f"EZD1175I IKE daemon configuration {configPath} checked: "
            "iked can start with it",
            "stacks: "
            + (
                ", ".join(
                    f"{name} (NSS client {nss[name].clientName})"
                    if name in nss
                    else name
                    for name in configuration.stack_names()
                )
                or "none"
            ),
        ]
        if configuration.caFile is not None:
            lines.append(
                f"CaFile {configuration.caFile}: "
                f"{len(self._caCertificates)} CA certificates"
            )
        ring, signing = self.localRing, self._stacks_signing_locally()
        if ring is None:
            lines.append("local key ring: not used (no stack signs with it)")
        else:
            lines.append(
                f"local key ring {ring}: {len(ring.read().entries)} certificates,"
                f" signs for stack {', '.join(signing)}"
            )
        lines.append(
            f"not checked: NmiSocket {configuration.nmiSocket}, the IKE ports"
            " and the NSS servers, which only a start uses"
        )
        return lines

    def _connection(self, stack: NssStackConfig) -> StackNssConnection:
        configuration = self.configuration
        return StackNssConnection(
            self._reactor,
            stack,
            [configuration.primary, configuration.backup],
            waitLimit=configuration.nssWaitLimit,
            retries=configuration.nssWaitRetries,
            caCertificates=self._caCertificates,
            caFile=configuration.caFile,
            messages=self.messages,
            endpointFor=self._endpointFor,
            netMgmt=lambda nmi: self.serve_routed(stack.stackName, nmi),
            systemName=configuration.systemName,
            switched=lambda: self._failed_over(stack.stackName),
        )

    # Service

    def startService(self) -> None:
        Service.startService(self)
        # First, before any line that says the daemon listens: a SIGHUP
        # sent on reading that line must find the handler (Python's default
        # action would end the daemon).  A refresh it asks for runs once the
        # reactor does.
        signal.signal(signal.SIGHUP, self._sighup)
        self.log.info(
            "{ikedMessage}",
            ikedMessage=f"EZD1100I IKE daemon starting on system "
            f"{self.configuration.systemName} with "
            f"{counted(len(self.configuration.stack_names()), 'stack')}",
        )
        try:
            self._open_local_ring_at_start(readOnly=False)
            self.nmiPort = self._listen_nmi(self.configuration.nmiSocket)
            self._listen_metrics()
        except StartupError as e:
            # Before one logon: a second iked must not take the first one's
            # client names from nssd on its way out.
            self.log.error(
                "{ikedMessage}",
                ikedMessage=f"EZD1104I IKE daemon cannot start: {e}",
            )
            self._close_local_ring()
            if self.nmiPort is not None:
                self.nmiPort.stopListening()
                self.nmiPort = None
            Service.stopService(self)
            raise
        for name, stack in self.configuration.nssStacks.items():
            connection = self._connection(stack)
            self.connections[name] = connection
            connection.start()
        self._start_ike()
        self._reactor.callWhenRunning(self._notify_ready)

    def _listen_metrics(self) -> None:
        """
        Serve the metrics, if C{MetricsPort} asks for them (EZD1190I).

        @raise StartupError: they cannot be served (EZD1192I).
        """
        if self.metrics is None:
            return
        port = self.metricsPort = self.metrics.listen(self._reactor)
        address = port.getHost()
        self.messages.metrics_listening(address.host, address.port)  # type: ignore[attr-defined]

    def _start_ike(self) -> None:
        """
        Start (or, on a refresh, update) the IKE side of every stack whose
        policy defines peers.  An NSS stack with the certificate service
        signs and verifies through nssd; any other stack uses iked's local
        key ring (IkeConfig C{KeyRing} in C{SecurityDatabase}).
        """
        configuration = self.configuration
        for name in configuration.stack_names():
            policy = configuration.stack_policy(name)
            peers = () if policy is None else policy.peers
            self._warn_open_rules(name, peers)
            existing = self.ike.get(name)
            if existing is not None:
                existing.update_peers(peers)
                existing.engine.settings = engine_settings(configuration)
                continue
            if not peers:
                continue
            credentials = self._credentials(name)
            if credentials is None:
                continue
            signerFor, verifier = credentials
            ike = StackIke(
                self._reactor,
                name,
                peers,
                signerFor,
                verifier,
                installer_for(
                    configuration.saInstaller,
                    self._reactor,
                    configuration.stack(name).namespace,
                ),
                self.stacks[name],
                settings=engine_settings(configuration),
                namespace=configuration.stack(name).namespace,
            )
            self.ike[name] = ike
            ike.start()

    def _warn_open_rules(self, name: str, peers: Sequence[PeerPolicy]) -> None:
        """
        EZD1165I for each rule that names no remote Identity: it accepts
        any certificate a trusted CA issued, presented from its address.
        """
        for peer in peers:
            if peer.remoteIdentity is None:
                self.log.warn(
                    "{ikedMessage}",
                    ikedMessage=f"EZD1165I Stack {name} KeyExchangeRule {peer.name}"
                    " names no remote Identity: any certificate from a trusted CA"
                    f" is accepted from {peer.remoteAddress}; code the peer's"
                    " Identity (IkeConfig RequireRemoteIdentity yes makes this an"
                    " error)",
                )

    def _credentials(
        self, name: str
    ) -> tuple[Callable[[PeerPolicy], Any], IPeerVerifier] | None:
        """
        The signer and verifier of stack C{name}, or None (logged) when it
        has none.
        """
        configuration = self.configuration
        nss = configuration.nssStacks.get(name)
        connection = self.connections.get(name)
        if nss is not None and connection is not None and Services.CERT in nss.services:
            latency = self.signatureLatency.get(name)
            if latency is None:
                # Replaced, not changed in place: a scrape reads a copy.
                latency = LatencyHistogram()
                self.signatureLatency = {**self.signatureLatency, name: latency}
            signer = NssSigner(connection, latency)
            return _signer_for(signer), NssVerifier(connection)
        ring = self._local_ring()
        if ring is None:
            self.log.error(
                "{ikedMessage}",
                ikedMessage=f"EZD1159I Stack {name} has IKE peers but neither the "
                "NSS certificate service (ServiceType Cert) nor a local key ring "
                "to sign with: its IKE peers are not served",
            )
            return None
        reactor = self._reactor

        def signerFor(peer: PeerPolicy) -> Any:
            return LocalRingSigner(reactor, ring, peer.localIdentity)

        return signerFor, LocalRingVerifier(reactor, ring)

    def _local_ring(self) -> LocalKeyRing | None:
        """
        iked's own key ring, opened once (None with C{NoKeyRing}, or when
        the database cannot be used: EZD1160I says why).
        """
        configuration = self.configuration
        if configuration.keyRing is None:
            return None
        owner, ringName = configuration.keyRing
        ring = self.localRing
        if ring is not None and (ring.owner, ring.ring) == (owner, ringName):
            return ring
        path = database_path(configuration.securityDatabase)
        try:
            ring = _open_local_ring(
                path, configuration.stashFile, owner, ringName, readOnly=False
            )
        except SecurityError as error:
            self.log.error(
                "{ikedMessage}",
                ikedMessage=f"EZD1160I The local key ring {owner}/{ringName} in "
                f"{shown_location(path)} cannot be used: {error}",
            )
            return None
        self._close_local_ring()
        self.localRing = ring
        return ring

    def _stacks_signing_locally(self) -> list[str]:
        """
        The stacks whose IKE peers iked's own key ring signs for: those
        with peers that do not use the NSS certificate service.
        """
        configuration = self.configuration
        stacks = []
        for name in configuration.stack_names():
            policy = configuration.stack_policy(name)
            nss = configuration.nssStacks.get(name)
            if policy is None or not policy.peers:
                continue
            if nss is None or Services.CERT not in nss.services:
                stacks.append(name)
        return stacks

    def _open_local_ring_at_start(self, *, readOnly: bool) -> None:
        """
        Open the local key ring if a stack signs with it, so that a ring,
        database or stash that cannot be used stops the start, as nssd's
        key ring stops nssd's.  (Later, at a refresh, EZD1160I says so and
        that stack's peers are not served.)

        @param readOnly: open the database read-only, as a check does.
        @raise StartupError: a stack needs the ring and it cannot be used.
        """
        stacks = self._stacks_signing_locally()
        if not stacks:
            return
        named = ", ".join(stacks)
        configuration = self.configuration
        if configuration.keyRing is None:
            raise StartupError(
                f"stack {named} has IKE peers but neither the NSS certificate "
                "service (ServiceType Cert) nor a key ring (NoKeyRing is coded)"
                " to sign with"
            )
        owner, ringName = configuration.keyRing
        path = database_path(configuration.securityDatabase)
        try:
            self.localRing = _open_local_ring(
                path, configuration.stashFile, owner, ringName, readOnly=readOnly
            )
        except SecurityError as error:
            raise StartupError(
                f"the local key ring {owner}/{ringName} in {shown_location(path)},"
                f" which stack "
                f"{named} signs its IKE peers' AUTH with, cannot be used: {error}"
            ) from None

    def _close_local_ring(self) -> None:
        if self.localRing is not None:
            self.localRing.close()
            self.localRing = None

    def stopService(self) -> Deferred[None]:
        if not self.running:
            # Never started, or its start failed and undid itself.
            return succeed(None)
        self.readiness.stopping("stopping")
        Service.stopService(self)
        stopping: list[Deferred[Any]] = [
            ensureDeferred(c.stop()) for c in self.connections.values()
        ]
        stopping += [ike.stop() for ike in self.ike.values()]
        self.ike = {}
        self._close_local_ring()
        self.connections = {}
        metricsPort, self.metricsPort = self.metricsPort, None
        if metricsPort is not None:
            stopped = metricsPort.stopListening()
            if stopped is not None:
                stopping.append(stopped)
        port, self.nmiPort = self.nmiPort, None
        if port is not None:
            stopped = port.stopListening()
            if stopped is not None:
                stopping.append(stopped)
            stopping.append(self.nmiFactory.terminateAll())
        return DeferredList(stopping).addCallback(lambda _: None)

    def _listen_nmi(self, path: str) -> IListeningPort:
        """
        Serve the management interface.  An iked that cannot serve it is,
        most often, a second iked on the same configuration, and two ikeds
        take each other's client names from nssd every few seconds.

        @raise StartupError: the directory cannot be made or the socket
            cannot be served (EZD1101I says which).
        """
        directory = os.path.dirname(path) or "."
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            self.log.error(
                "{ikedMessage}",
                ikedMessage=f"EZD1101I cannot create socket directory {directory}: "
                f"{e.strerror}",
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
            self.log.error(
                "{ikedMessage}",
                ikedMessage=f"EZD1101I cannot serve the management interface on "
                f"{path}: {e}",
            )
            raise StartupError(
                f"the management socket {path} is in use (is another iked"
                " running with this configuration?) or cannot be created"
            ) from None
        self.messages.nmi_socket_access(path, describe_socket_access(path))
        return port

    # Refresh

    def _sighup(self, signum: int, frame: FrameType | None) -> None:
        def refresh() -> None:
            # A rejected refresh was logged (EZD1102I); systemd is told that
            # iked serves on, with the configuration it had.
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
        READY=1 once the reactor runs (the management socket and the IKE
        ports were bound in C{startService}), and after each refresh by
        SIGHUP.  Not once the stacks are connected: a stack whose NSS
        server is away connects later, and iked serves meanwhile.
        """
        if not self.running:
            return
        self.readiness.ready(
            f"{outcome}; {counted(len(self.configuration.stack_names()), 'stack')},"
            f" NMI {self.configuration.nmiSocket}"
        )

    def refresh(self) -> Deferred[list[str]]:
        """
        Reread the configuration and apply it per stack.
        """
        return Deferred.fromCoroutine(self._refresh())

    async def _refresh(self) -> list[str]:
        try:
            new = load_iked_configuration(self.configPath)
            caCertificates = read_ca_file(new.caFile, bool(new.nssStacks))
            changed = change_socket_access(
                self.nmiPort,
                (self.configuration.nmiSocketGroup, self.configuration.nmiSocketMode),
                (new.nmiSocketGroup, new.nmiSocketMode),
            )
        except (ConfigurationError, StartupError, NmiSocketAccessError) as e:
            self.log.info(
                "{ikedMessage}",
                ikedMessage=f"EZD1102I refresh rejected, configuration unchanged: {e}",
            )
            raise RefreshRejected(str(e)) from None
        if changed is not None:
            self.messages.nmi_socket_access(*changed)
        old = self.configuration
        if new.metrics != old.metrics:
            # The listener is set at start: the metrics in force stay, and
            # display says so.
            self.messages.metrics_at_restart(
                "off" if old.metrics is None else old.metrics.describe()
            )
            new = replace(new, metrics=old.metrics)
        self.configuration = new
        self._caCertificates = caCertificates
        self._load_stacks(new)
        changes = []
        if new.nmiIdleTimeout != old.nmiIdleTimeout:
            self.nmiFactory.idleTimeout = new.nmiIdleTimeout
            changes.append(
                f"NmiIdleTimeout {old.nmiIdleTimeout} -> {new.nmiIdleTimeout}"
            )
        for keyword, before, after in (
            ("NmiSocketGroup", old.nmiSocketGroup, new.nmiSocketGroup),
            ("NmiSocketMode", f"{old.nmiSocketMode:04o}", f"{new.nmiSocketMode:04o}"),
        ):
            if before != after:
                changes.append(f"{keyword} {before or 'none'} -> {after or 'none'}")
        for name in list(self.connections):
            if name not in new.nssStacks:
                await self.connections.pop(name).stop()
                changes.append(f"stack {name} removed")
        for name, stack in new.nssStacks.items():
            existing = self.connections.get(name)
            if existing is not None and old.nssStacks.get(name) == stack:
                existing.update_servers(
                    [new.primary, new.backup],
                    waitLimit=new.nssWaitLimit,
                    retries=new.nssWaitRetries,
                    caCertificates=caCertificates,
                    caFile=new.caFile,
                )
                continue
            if existing is not None:
                await existing.stop()
                changes.append(f"stack {name} changed")
            else:
                changes.append(f"stack {name} added")
            connection = self._connection(stack)
            self.connections[name] = connection
            connection.start()
        for name in list(self.ike):
            replaced = f"stack {name} changed" in changes
            if (
                replaced
                or name not in new.stack_names()
                or name not in self.connections
            ):
                await self.ike.pop(name).stop()
        self._start_ike()
        text = "; ".join(changes) or "no stack changed"
        self.log.info(
            "{ikedMessage}", ikedMessage=f"EZD1103I configuration refreshed: {text}"
        )
        return [f"refresh complete: {text}"]

    # Requests nssd routes to a stack

    def serve_routed(self, stackName: str, nmi: bytes) -> Deferred[bytes]:
        """
        Answer an NMI request that came from nssd over stack C{stackName}'s
        NSS connection, as the local management socket would answer it.
        """
        request = decode_message(nmi)
        if isinstance(request, NmiDecodeFailure):
            # Not a TERM (which means nothing inside NETMGMT): an error reply.
            reply = NmiMessage(
                messageType=request.messageType or 0,
                correlator=request.correlator or 0,
                reply=True,
                returnCode=request.returnCode,
                reasonCode=request.reasonCode,
            )
            return succeed(encode_message(reply))

        def stamped(reply: NmiMessage) -> bytes:
            return encode_message(
                replace(
                    reply,
                    messageType=request.messageType,
                    correlator=request.correlator,
                    reply=True,
                    target=request.target,
                    version=request.version,
                )
            )

        return maybeDeferred(self.management.handle, request, stackName).addCallback(
            stamped
        )

    # What ipsec -w shows

    def nss_info(self) -> tuple[str, list[IkeNssInfo]]:
        configuration = self.configuration
        infos = []
        for name in configuration.stack_names():
            stack = configuration.nssStacks.get(name)
            connection = self.connections.get(name)
            if stack is None or connection is None:
                infos.append(IkeNssInfo.not_configured(name))
                continue
            status = connection.status()
            granted = status.servicesGranted
            connected = status.state is ConnectionState.CONNECTED
            infos.append(
                IkeNssInfo(
                    stackName=name,
                    clientName=stack.clientName,
                    configured=True,
                    remoteMgmtSelected=Services.NETMGMT in stack.services,
                    remoteMgmtEnabled=Services.NETMGMT in granted,
                    certSelected=Services.CERT in stack.services,
                    certEnabled=Services.CERT in granted,
                    clientApiVersion=NSS_API_VERSION,
                    serverApiVersion=status.serverApiVersion,
                    clientAddress=status.clientAddress,
                    clientPort=status.clientPort,
                    serverAddress=status.serverAddress,
                    serverPort=status.serverPort,
                    serverSystemName=status.serverSystemName,
                    userid=stack.userid,
                    connectionState=_STATES[status.state],
                    timeConnected=int(status.connectedAt),
                    timeLastMessage=int(
                        connection.lastMessageAt() or status.connectedAt
                    )
                    if connected
                    else 0,
                )
            )
        return configuration.systemName, infos


def engine_settings(configuration: IkedConfiguration) -> EngineSettings:
    """
    The IKE engine's timers and limits from IkeConfig: IBM's
    C{IkeInitWait} is the wait before the first retransmission,
    C{IkeRetries} how many there are before the peer is given up (which
    ends dead peer detection too); C{IkeFragmentSize} the largest datagram
    before RFC 7383 fragments; C{CookieThreshold} and C{HalfOpenLimit} the
    responder's flood defence, which a refresh applies to the next
    IKE_SA_INIT request (half-open SAs stay until they complete or
    expire).
    """
    return EngineSettings(
        retransmitTimeout=float(configuration.ikeInitWait),
        retransmitTries=configuration.ikeRetries,
        fragmentSize=configuration.ikeFragmentSize,
        cookieThreshold=configuration.cookieThreshold,
        halfOpenLimit=configuration.halfOpenLimit,
    )


def _iked_metrics(
    configuration: IkedConfiguration, samples: Callable[[], list[StackSample]]
) -> IkedMetrics | None:
    """
    iked's metrics if C{MetricsPort} asks for them, else L{None}.
    C{prometheus-client} is imported only then: it is an optional extra.

    @raise StartupError: it is not installed (EZD1191I).
    """
    if configuration.metrics is None:
        return None
    try:
        from nsstwisted.iked.stackmodel.prometheus import IkedMetrics
    except ImportError:
        raise StartupError(
            "EZD1191I MetricsPort is coded, but prometheus-client is not"
            " installed: install nsstwisted[metrics], or remove MetricsPort"
        ) from None
    return IkedMetrics(configuration.metrics, samples)


def _signer_for(signer: NssSigner) -> Callable[[PeerPolicy], Any]:
    """Each peer's AUTH is signed with the certificate of its local identity."""

    def bound(peer: PeerPolicy) -> Any:
        return signer.sign_for(peer.localIdentity)

    return bound


def _open_local_ring(
    path: str, stash: str | None, owner: str, ring: str, *, readOnly: bool
) -> LocalKeyRing:
    """
    Open ring C{owner/ring} of the security database C{path}, with its
    stash checked, since every signature needs it.

    @raise SecurityError: the database or its stash cannot be used, or
        there is no such ring.
    """
    database = SecurityDatabase.open(
        path, stash_path(path, stash), create=False, readOnly=readOnly
    )
    try:
        database.master_key()
        local = LocalKeyRing(database, owner, ring)
        local.read()
    except BaseException:
        database.close()
        raise
    return local
