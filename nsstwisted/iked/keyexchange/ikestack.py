"""
One stack's IKE: its engine, its UDP sockets, the clock that drives the
engine's timers, its signer and verifier, its SA installer, and the
stack model that C{ipsec -k} and C{-y} show.

Everything the engine decides arrives here as actions; this class only
carries them out (send, ask the signer, install) and keeps the books.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure

from nsstwisted.ike.childexchange import REDUNDANT
from nsstwisted.ike.constants import IKE_PORT, ExchangeType
from nsstwisted.ike.engine import EngineSettings, IkeEngine
from nsstwisted.ike.events import (
    Action,
    ChildSaDeleted,
    ChildSaEstablished,
    Endpoint,
    FragmentDropped,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaRekeyed,
    InitRequestTurnedAway,
    MessageDropped,
    MessageFragmented,
    NegotiationFailed,
    PeerCheckNeeded,
    ReassemblyAbandoned,
    Retransmitted,
    SendDatagram,
    SignatureNeeded,
)
from nsstwisted.ike.installation import InstalledChildSa, range_selectors
from nsstwisted.ike.interfaces import IPeerVerifier
from nsstwisted.ike.policy import PeerPolicy
from nsstwisted.ike.sa import ChildSa, ChildState, IkeSa, IkeState
from nsstwisted.iked.keyexchange.inittally import SUMMARY_INTERVAL, InitTally
from nsstwisted.iked.keyexchange.installer import ISaInstaller
from nsstwisted.iked.keyexchange.netns import udp_socket
from nsstwisted.iked.stackmodel.stack import StackModel
from nsstwisted.iked.stackmodel.statistics import Counter, Gauge
from nsstwisted.iked.stackmodel.tunnelfill import child_values, ike_values
from nsstwisted.iked.stackmodel.tunnels import DynamicTunnel, IkeTunnel, TunnelHooks
from nsstwisted.protocols.ike import IkeDatagramProtocol
from nsstwisted.wire.filters import TunnelStatus

__all__ = ["StackIke"]

SignerFor = Callable[[PeerPolicy], Any]


class StackIke:
    """
    The IKE side of one stack.

    @ivar engine: the sans-IO engine; tests and embedders may drive it.
    """

    log = Logger(namespace="iked")

    def __init__(
        self,
        reactor: Any,
        stackName: str,
        peers: Sequence[PeerPolicy],
        signerFor: SignerFor,
        verifier: IPeerVerifier,
        installer: ISaInstaller,
        model: StackModel,
        settings: EngineSettings | None = None,
        namespace: str | None = None,
    ) -> None:
        """
        @param namespace: the stack's network namespace, where its IKE
            sockets are made (L{None}: iked's own).
        """
        self._reactor = reactor
        self.namespace = namespace
        self.stackName = stackName
        self.engine = IkeEngine(peers, settings)
        self._signerFor = signerFor
        self.verifier = verifier
        self.installer = installer
        self.model = model
        self._ports: dict[Endpoint, IListeningPort] = {}
        self._protocols: dict[Endpoint, IkeDatagramProtocol] = {}
        self._timer: IDelayedCall | None = None
        self._scheduling: IDelayedCall | None = None
        self._ikeTunnels: dict[str, IkeSa] = {}
        self._childTunnels: dict[str, ChildSa] = {}
        self._authoritiesCall: IDelayedCall | None = None
        self._tally = InitTally()
        self._tallyCall: IDelayedCall | None = None
        self.running = False
        model.tunnels.hooks = TunnelHooks(
            deactivateIke=self._deactivate_ike,
            refreshIke=self._refresh_ike,
            activateDynamic=self._activate_dynamic,
            deactivateDynamic=self._deactivate_dynamic,
            refreshDynamic=self._refresh_dynamic,
            activateRule=self._activate_rule,
        )

    # -- life -----------------------------------------------------------------

    def start(self) -> None:
        self.running = True
        self._listen()
        self._fetch_authorities()
        for policy in self.engine.peers:
            for child in policy.children:
                if child.autoActivate and child.initiation.mayInitiate:
                    self._run(
                        self.engine.initiate(policy.name, child.name, self._now())
                    )

    def stop(self) -> Deferred[None]:
        """Delete nothing (the peers time out), stop listening."""
        self.running = False
        for call in (
            self._timer,
            self._scheduling,
            self._authoritiesCall,
            self._tallyCall,
        ):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._scheduling = None
        self._authoritiesCall = self._tallyCall = None
        stopping = [port.stopListening() for port in self._ports.values()]
        self._ports.clear()
        self._protocols.clear()
        return DeferredList([d for d in stopping if d is not None]).addCallback(
            lambda _: None
        )

    def update_peers(self, peers: Sequence[PeerPolicy]) -> None:
        """
        A refresh: new policy (existing SAs stay until rekeyed or deleted)
        and the CA list for CERTREQ asked for again.
        """
        self.engine.update_peers(peers)
        if self.running:
            self._listen()
            self._fetch_authorities()

    def _now(self) -> float:
        return float(self._reactor.seconds())

    def _listen(self) -> None:
        wanted = self.engine.endpoints()
        for endpoint in list(self._ports):
            if endpoint not in wanted:
                self._ports.pop(endpoint).stopListening()
                self._protocols.pop(endpoint, None)
        for endpoint in wanted - set(self._ports):
            protocol = IkeDatagramProtocol(endpoint, self._received)
            try:
                sock = udp_socket(self.namespace, endpoint[0], endpoint[1])
                try:
                    port = self._reactor.adoptDatagramPort(
                        sock.fileno(), sock.family, protocol
                    )
                finally:
                    sock.close()  # the reactor holds its own duplicate
            except OSError as error:
                self.log.error(
                    "{ikedMessage}",
                    ikedMessage=f"EZD1157I Stack {self.stackName} cannot listen for "
                    f"IKE on {endpoint[0]} port {endpoint[1]}"
                    f"{'' if self.namespace is None else ' in ' + self.namespace}"
                    f": {error}",
                )
                continue
            self._ports[endpoint] = port
            self._protocols[endpoint] = protocol

    def _fetch_authorities(self) -> None:
        """Ask for the CA list; on failure once more every 10 s, never twice at once."""
        if self._authoritiesCall is not None and self._authoritiesCall.active():
            self._authoritiesCall.cancel()
        self._authoritiesCall = None

        def got(hashes: tuple[bytes, ...]) -> None:
            self.engine.set_authorities(hashes)

        def failed(reason: Failure) -> None:
            if self.running:
                self._authoritiesCall = self._reactor.callLater(
                    10, self._fetch_authorities
                )

        d = self.verifier.authorities()
        d.addCallbacks(got, failed)

    # -- the engine's actions -------------------------------------------------

    def _received(self, message: bytes, local: Endpoint, remote: Endpoint) -> None:
        self._run(self.engine.receive(message, local, remote, self._now()))

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            self._do(action)
        self._reschedule()

    def _reschedule(self) -> None:
        """
        Ask the engine for its next deadline once per turn of the reactor,
        not once per event: the answer takes time in proportion to the IKE
        SAs (it looks at every SA's timers), and under load one turn
        delivers many datagrams, signatures and verdicts.  The timers it
        sets are seconds away, so a turn's delay costs them nothing.
        """
        if self._scheduling is None and self.running:
            self._scheduling = self._reactor.callLater(0, self._schedule)

    def _schedule(self) -> None:
        self._scheduling = None
        if not self.running:
            return
        deadline = self.engine.next_deadline()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if deadline is not None:
            delay = max(0.0, deadline - self._now())
            self._timer = self._reactor.callLater(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._run(self.engine.expire(self._now()))

    def _do(self, action: Action) -> None:
        if isinstance(action, SendDatagram):
            protocol = self._protocols.get(action.local)
            if protocol is None:
                protocol = next(
                    (p for e, p in self._protocols.items() if e[1] == action.local[1]),
                    None,
                )
            if protocol is not None:
                protocol.send(action.message, action.remote, action.raw)
        elif isinstance(action, SignatureNeeded):
            self._sign(action)
        elif isinstance(action, PeerCheckNeeded):
            self._check(action)
        elif isinstance(action, IkeSaEstablished):
            self._ike_up(action.sa)
        elif isinstance(action, IkeSaRekeyed):
            self._ike_rekeyed(action.old, action.new)
        elif isinstance(action, IkeSaDeleted):
            self._ike_down(action.sa, action.reason)
        elif isinstance(action, ChildSaEstablished):
            self._child_up(action.child, action.replaces)
        elif isinstance(action, ChildSaDeleted):
            self._child_down(action.child, action.reason)
        elif isinstance(action, Retransmitted):
            self.model.statistics.count(
                Counter.P2_RETRANSMIT
                if action.exchange == ExchangeType.CREATE_CHILD_SA
                else Counter.P1_RETRANSMIT
            )
        elif isinstance(action, NegotiationFailed):
            self._count_failure(action)
            text = (
                f"EZD1155I Stack {self.stackName} negotiation with {action.peer} "
                f"failed: {action.reason}"
            )
            sa = action.sa
            if sa is None:
                # An IKE_SA_INIT refused before any IKE SA existed: per
                # packet from anyone, so counted for EZD1230I instead.
                self.log.debug("{ikedMessage}", ikedMessage=text)
                self._tally.refused += 1
                self._tally.last = f"{action.peer}: {action.reason}"
                self._tally_window()
            elif not sa.originalInitiator and sa.nextExpectedId == 1:
                # Half open until it expired, no authentic IKE_AUTH ever
                # came: what a forged address leaves behind.
                self.log.debug("{ikedMessage}", ikedMessage=text)
                self._tally.expired += 1
                self._tally_window()
            else:
                self._say(text)
        elif isinstance(action, InitRequestTurnedAway):
            self._turned_away(action)
        elif isinstance(action, MessageDropped):
            self.log.debug(
                "{ikedMessage}",
                ikedMessage=f"EZD1156I Stack {self.stackName} ignored a message from "
                f"{action.remote[0]} port {action.remote[1]}: {action.reason}",
            )
        elif isinstance(action, FragmentDropped):
            # Per datagram, and anyone can send one: debug only (RFC 7383
            # fragments a forger cannot authenticate are not worth more).
            self.log.debug(
                "{ikedMessage}",
                ikedMessage=f"EZD1210I Stack {self.stackName} dropped an IKE "
                f"fragment from {action.remote[0]} port {action.remote[1]}: "
                f"{action.reason}",
            )
        elif isinstance(action, ReassemblyAbandoned):
            sa = action.sa
            self._say(
                f"EZD1211I Stack {self.stackName} gave up reassembling "
                f"{'response' if action.response else 'request'} "
                f"{action.messageId} from {sa.remote[0]} "
                f"({sa.policy.name}, {action.held} of {action.total} "
                f"fragments): {action.reason}"
            )
        elif isinstance(action, MessageFragmented):
            self.log.debug(
                "{ikedMessage}",
                ikedMessage=f"EZD1212I Stack {self.stackName} sent "
                f"{ExchangeType(action.exchange).name} message "
                f"{action.messageId} to {action.sa.remote[0]} in "
                f"{action.count} fragments",
            )

    def _turned_away(self, action: InitRequestTurnedAway) -> None:
        settings = self.engine.settings
        if action.measure == "cookie":
            self._tally.cookies += 1
            why = f"asked for a COOKIE (CookieThreshold {settings.cookieThreshold})"
        else:
            self._tally.dropped += 1
            why = f"dropped (HalfOpenLimit {settings.halfOpenLimit})"
        self.log.debug(
            "{ikedMessage}",
            ikedMessage=f"EZD1231I Stack {self.stackName} IKE_SA_INIT from "
            f"{action.remote[0]} port {action.remote[1]} {why}: "
            f"{action.halfOpen} IKE SAs half open",
        )
        self._tally_window()

    def _tally_window(self) -> None:
        """The first turned-away request of a quiet spell opens a window."""
        if self._tallyCall is None and self.running:
            self._tallyCall = self._reactor.callLater(SUMMARY_INTERVAL, self._summarise)

    def _summarise(self) -> None:
        self._tallyCall = None
        tally, self._tally = self._tally, InitTally()
        if tally:
            tally.halfOpen = self.engine.half_open()
            settings = self.engine.settings
            self._say(
                tally.summary(
                    self.stackName, settings.cookieThreshold, settings.halfOpenLimit
                )
            )

    def _count_failure(self, failure: NegotiationFailed) -> None:
        if failure.kind == "notice":
            return
        local = failure.local
        if local is None:
            local = failure.sa is not None and failure.sa.originalInitiator
        if failure.kind == "child":
            counter = Counter.P2_LOCAL_FAILURE if local else Counter.P2_REMOTE_FAILURE
        else:
            counter = Counter.P1_LOCAL_FAILURE if local else Counter.P1_REMOTE_FAILURE
        self.model.statistics.count(counter)

    def _say(self, text: str) -> None:
        self.log.info("{ikedMessage}", ikedMessage=text)

    def _sign(self, action: SignatureNeeded) -> None:
        requestId = action.requestId
        signer = self._signerFor(action.sa.policy)
        d = signer.sign(action.octets, action.peerHashes)

        def done(result: Any) -> None:
            value = result.value if isinstance(result, Failure) else result
            assert value is not None
            self._run(self.engine.signature_made(requestId, value, self._now()))

        d.addBoth(done)

    def _check(self, action: PeerCheckNeeded) -> None:
        requestId = action.requestId
        d = self.verifier.verify(
            action.certificates,
            action.scheme,
            action.octets,
            action.signature,
            action.sa.policy.peerEku,
        )

        def done(result: Any) -> None:
            error = result.value if isinstance(result, Failure) else None
            self._run(self.engine.peer_checked(requestId, error, self._now()))

        d.addBoth(done)

    # -- the stack model ------------------------------------------------------

    def _ike_up(self, sa: IkeSa) -> None:
        tunnel = self.model.tunnels.add_ike(
            sa.policy.name, sa.local[0], sa.remote[0], **ike_values(sa, time.time())
        )
        sa.tunnelId = tunnel.tunnelId
        self._ikeTunnels[tunnel.tunnelId] = sa
        statistics = self.model.statistics
        statistics.count(
            Counter.P1_LOCAL_SUCCESS
            if sa.originalInitiator
            else Counter.P1_REMOTE_SUCCESS
        )
        statistics.adjust(Gauge.P1_ACTIVE, 1)
        self._say(
            f"EZD1150I Stack {self.stackName} IKE SA {tunnel.tunnelId} with "
            f"{sa.remote[0]} established ({sa.policy.name}, "
            f"{'initiator' if sa.originalInitiator else 'responder'}, "
            f"SPIs {sa.spiI.hex()}/{sa.spiR.hex()})"
        )

    def _ike_rekeyed(self, old: IkeSa, new: IkeSa) -> None:
        tunnel = self.model.tunnels.lookup(old.tunnelId)
        new.tunnelId = old.tunnelId
        self._ikeTunnels[new.tunnelId] = new
        if isinstance(tunnel, IkeTunnel):
            for key, value in ike_values(new, time.time()).items():
                setattr(tunnel, key, value)
        self._say(
            f"EZD1152I Stack {self.stackName} IKE SA {new.tunnelId} rekeyed "
            f"(SPIs {new.spiI.hex()}/{new.spiR.hex()})"
        )

    def _ike_down(self, sa: IkeSa, reason: str) -> None:
        if reason == REDUNDANT:
            # The loser of an IKE SA rekey collision, never a tunnel's.
            survivor = next(
                (
                    s
                    for s in self._ikeTunnels.values()
                    if s.policy.name == sa.policy.name and s.remote == sa.remote
                ),
                None,
            )
            self._say(
                f"EZD1222I Stack {self.stackName} IKE SA "
                f"{survivor.tunnelId if survivor else '-'} with {sa.remote[0]} was "
                f"rekeyed by both ends at once: SPIs {sa.spiI.hex()}/"
                f"{sa.spiR.hex()} deleted ({reason})"
                + (
                    f", SPIs {survivor.spiI.hex()}/{survivor.spiR.hex()} kept"
                    if survivor
                    else ""
                )
            )
            return
        if self._ikeTunnels.get(sa.tunnelId) is not sa:
            return  # replaced by a rekey: the tunnel lives on
        del self._ikeTunnels[sa.tunnelId]
        self.model.tunnels.remove(sa.tunnelId)
        self.model.statistics.adjust(Gauge.P1_ACTIVE, -1)
        self._say(
            f"EZD1151I Stack {self.stackName} IKE SA {sa.tunnelId} with "
            f"{sa.remote[0]} deleted: {reason}"
        )
        if sa.unreachable and self.running:
            self._renegotiate(sa)

    def _renegotiate(self, sa: IkeSa) -> None:
        """
        The peer stopped answering (dead peer detection, or any request of
        ours unanswered): the rules that start by themselves (AutoActivate,
        and we may initiate) negotiate again, once; the others wait for
        the peer.
        """
        policy = self.engine.peer(sa.policy.name)
        rules = [
            child.name
            for child in (policy.children if policy is not None else ())
            if child.autoActivate and child.initiation.mayInitiate
        ]
        what = (
            f"negotiating {', '.join(rules)} again"
            if rules
            else "no rule of it starts by itself: waiting for the peer"
        )
        self._say(
            f"EZD1220I Stack {self.stackName} peer {sa.policy.name} at "
            f"{sa.remote[0]} is not responding: {what}"
        )

        def again() -> None:
            if not self.running:
                return
            for name in rules:
                try:
                    self._run(self.engine.initiate(sa.policy.name, name, self._now()))
                except KeyError:
                    continue  # a refresh removed it meanwhile

        if rules:
            self._reactor.callLater(0, again)

    def _child_up(self, child: ChildSa, replaces: ChildSa | None) -> None:
        values = child_values(child, time.time())
        if replaces is not None and replaces.tunnelId:
            child.tunnelId = replaces.tunnelId
            tunnel = self.model.tunnels.lookup(child.tunnelId)
            if isinstance(tunnel, DynamicTunnel):
                for key, value in values.items():
                    setattr(tunnel, key, value)
        else:
            name = child.policy.name if child.policy else ""
            action = child.policy.action if child.policy else ""
            tunnel = self.model.tunnels.add_dynamic(name, action, **values)
            child.tunnelId = tunnel.tunnelId
        self._childTunnels[child.tunnelId] = child
        statistics = self.model.statistics
        statistics.count(
            Counter.P2_LOCAL_SUCCESS if child.initiator else Counter.P2_REMOTE_SUCCESS
        )
        if replaces is None:
            statistics.adjust(Gauge.P2_ACTIVE, 1)
        self._install(child)
        self._say(
            f"EZD1153I Stack {self.stackName} CHILD SA {child.tunnelId} "
            f"({child.name}) {'rekeyed' if replaces else 'established'}, "
            f"SPIs in {child.spiIn.hex()} out {child.spiOut.hex()}"
        )

    def _child_down(self, child: ChildSa, reason: str) -> None:
        self._uninstall(child)
        registered = self._childTunnels.get(child.tunnelId)
        if registered is not child:
            # replaced by its rekey, or (REDUNDANT) by ours, which won
            if reason == REDUNDANT and registered is not None:
                self._collided(child, registered, reason)
            return
        survivor = next(
            (
                c
                for c in child.ikeSa.children
                if c is not child
                and c.tunnelId == child.tunnelId
                and c.state == ChildState.INSTALLED
            ),
            None,
        )
        if survivor is not None:
            # The loser of a rekey collision (both ends rekeyed the tunnel
            # at once): the tunnel lives on in the winner.
            self._childTunnels[child.tunnelId] = survivor
            tunnel = self.model.tunnels.lookup(child.tunnelId)
            if isinstance(tunnel, DynamicTunnel):
                for key, value in child_values(survivor, time.time()).items():
                    setattr(tunnel, key, value)
            self._collided(child, survivor, reason)
            return
        del self._childTunnels[child.tunnelId]
        self.model.tunnels.remove(child.tunnelId)
        self.model.statistics.adjust(Gauge.P2_ACTIVE, -1)
        self._say(
            f"EZD1154I Stack {self.stackName} CHILD SA {child.tunnelId} "
            f"({child.name}) deleted: {reason}"
        )

    def _collided(self, loser: ChildSa, survivor: ChildSa, reason: str) -> None:
        self._say(
            f"EZD1221I Stack {self.stackName} CHILD SA {loser.tunnelId} "
            f"({loser.name}) was rekeyed by both ends at once: SPIs in "
            f"{loser.spiIn.hex()} out {loser.spiOut.hex()} deleted ({reason}), "
            f"SPIs in {survivor.spiIn.hex()} out {survivor.spiOut.hex()} kept"
        )

    def _install(self, child: ChildSa) -> None:
        def refused(reason: str) -> None:
            self._say(
                f"EZD1158I Stack {self.stackName} CHILD SA {child.tunnelId} could not "
                f"be installed: {reason}"
            )

        try:
            record = installed_sa(child)
        except ValueError as e:
            # Said, never skipped in silence: the peer believes the SA
            # carries its traffic.
            refused(str(e))
            return
        if record is None:
            return
        self.installer.install(record).addErrback(
            lambda failure: refused(failure.getErrorMessage())
        )

    def _uninstall(self, child: ChildSa) -> None:
        try:
            record = installed_sa(child)
        except ValueError:
            return  # it was never installed
        if record is not None:
            self.installer.remove(record).addErrback(lambda failure: None)

    # -- the control operations (ipsec -k / -y) -------------------------------

    def _deactivate_ike(self, tunnel: Any) -> TunnelStatus:
        sa = self._ikeTunnels.get(tunnel.tunnelId)
        if sa is None or sa.state != IkeState.ESTABLISHED:
            return TunnelStatus.STATEALREADYSET
        self._run(
            self.engine.delete_ike_sa(sa, "deactivated by the operator", self._now())
        )
        return TunnelStatus.STATEUPDATED

    def _refresh_ike(self, tunnel: Any) -> TunnelStatus:
        sa = self._ikeTunnels.get(tunnel.tunnelId)
        if sa is None or sa.state != IkeState.ESTABLISHED:
            return TunnelStatus.STATEALREADYSET
        self._run(self.engine.rekey_ike_sa(sa, self._now()))
        return TunnelStatus.STATEUPDATED

    def _activate_dynamic(self, tunnel: Any) -> TunnelStatus:
        child = self._childTunnels.get(tunnel.tunnelId)
        if child is not None and child.state == ChildState.INSTALLED:
            return TunnelStatus.STATEALREADYSET
        return self._activate_rule(tunnel.name)

    def _activate_rule(self, name: str) -> TunnelStatus:
        for policy in self.engine.peers:
            for child in policy.children:
                if child.name == name:
                    if not child.initiation.mayInitiate:
                        return TunnelStatus.STATEALREADYSET
                    self._run(self.engine.initiate(policy.name, name, self._now()))
                    return TunnelStatus.STATEUPDATED
        return TunnelStatus.NOTFOUND

    def _deactivate_dynamic(self, tunnel: Any) -> TunnelStatus:
        child = self._childTunnels.get(tunnel.tunnelId)
        if child is None or child.state != ChildState.INSTALLED:
            return TunnelStatus.STATEALREADYSET
        self._run(
            self.engine.delete_child_sa(
                child, "deactivated by the operator", self._now()
            )
        )
        return TunnelStatus.STATEUPDATED

    def _refresh_dynamic(self, tunnel: Any) -> TunnelStatus:
        child = self._childTunnels.get(tunnel.tunnelId)
        if child is None or child.state != ChildState.INSTALLED:
            return TunnelStatus.STATEALREADYSET
        self._run(self.engine.rekey_child_sa(child, self._now()))
        return TunnelStatus.STATEUPDATED


def installed_sa(child: ChildSa) -> InstalledChildSa | None:
    """
    What the installer needs of a CHILD_SA (None if it has no keys).

    Each negotiated range becomes all the prefixes that cover it
    (L{range_selectors}), so that the policies cover exactly what was
    agreed.

    @raise ValueError: a CHILD_SA that cannot be installed as negotiated
        (L{InstalledChildSa} says why).
    """
    if child.keys is None or child.suite is None or not child.spiOut:
        return None
    sa = child.ikeSa
    encOut, integOut = child.outbound_keys()
    encIn, integIn = child.inbound_keys()
    encapsulation = None
    if (
        sa.localNat
        or sa.remoteNat
        or (sa.local[1] != IKE_PORT and sa.remote[1] != IKE_PORT)
    ):
        encapsulation = (sa.local[1], sa.remote[1])
    return InstalledChildSa(
        reqid=child.reqid,
        localAddress=ipaddress.ip_address(sa.local[0]),
        remoteAddress=ipaddress.ip_address(sa.remote[0]),
        spiIn=child.spiIn,
        spiOut=child.spiOut,
        mode=child.mode,
        encrId=child.suite.encrId,
        keyBits=child.suite.keyBits,
        integId=child.suite.integId,
        localSelectors=tuple(
            s for t in child.localSelectors for s in range_selectors(t)
        ),
        remoteSelectors=tuple(
            s for t in child.remoteSelectors for s in range_selectors(t)
        ),
        encryptionKeyIn=encIn,
        encryptionKeyOut=encOut,
        integrityKeyIn=integIn,
        integrityKeyOut=integOut,
        encapsulation=encapsulation,
        lifetimeSeconds=child.policy.lifetime if child.policy else 3600,
    )
