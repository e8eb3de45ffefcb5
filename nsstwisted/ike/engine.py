"""
The IKEv2 engine (RFC 7296): every IKE SA of one stack, driven by events
(a datagram, an operator's command, a signature or a verdict, the clock)
and answering with actions (L{nsstwisted.ike.events}).  It does no I/O and
reads no clock: each call is given C{now}, and L{IkeEngine.next_deadline}
says when it next wants L{IkeEngine.expire} called.

Exchanges: IKE_SA_INIT (with COOKIE and INVALID_KE_PAYLOAD retries and NAT
detection), IKE_AUTH (certificates and RFC 7427 signatures, or a shared
key; one CHILD_SA with narrowed traffic selectors), CREATE_CHILD_SA (a new
CHILD_SA, a CHILD_SA rekey, an IKE SA rekey) and INFORMATIONAL (delete,
liveness, error notifications).

Signatures and the peer's certificate are not the engine's to judge: it
asks (L{SignatureNeeded}, L{PeerCheckNeeded}) and waits, and while it
waits a retransmitted request is dropped rather than answered or signed
again.

The exchanges live in their own modules (L{nsstwisted.ike.initexchange},
L{nsstwisted.ike.authexchange}, L{nsstwisted.ike.childexchange}, and RFC
7383 fragments in L{nsstwisted.ike.fragmentexchange}, on the plumbing of
L{nsstwisted.ike.enginebase}); this class adds what ties them
together: receiving, INFORMATIONAL, the public operations and the timers.
"""

from __future__ import annotations

from typing import Any

from nsstwisted.ike.childexchange import REDUNDANT
from nsstwisted.ike.constants import (
    NATT_KEEPALIVE,
    ExchangeType,
    NotifyType,
    PayloadType,
    ProtocolId,
)
from nsstwisted.ike.crypto import (
    random_child_spi,
    random_spi,
)
from nsstwisted.ike.enginebase import (
    ZERO_SPI,
    EngineSettings,
    enum_name,
    error_notify,
    first_error,
)
from nsstwisted.ike.errors import IkeDecodeError, IkeError, IntegrityError
from nsstwisted.ike.events import (
    Action,
    Endpoint,
    MessageDropped,
    NegotiationFailed,
    Retransmitted,
    SendDatagram,
)
from nsstwisted.ike.fragmentexchange import FragmentExchanges
from nsstwisted.ike.initexchange import InitExchanges
from nsstwisted.ike.interfaces import Signed
from nsstwisted.ike.liveness import (
    HINT_SPACING,
    invalid_spi_answer,
    is_invalid_spi_hint,
    liveness_due,
)
from nsstwisted.ike.message import (
    IkeHeader,
)
from nsstwisted.ike.payloads import (
    DeletePayload,
    Payload,
    find_all,
)
from nsstwisted.ike.policy import (
    ChildPolicy,
)
from nsstwisted.ike.sa import (
    ChildSa,
    ChildState,
    IkeSa,
    IkeState,
)

__all__ = ["EngineSettings", "IkeEngine"]


def _unclaimed_rival(sa: IkeSa) -> bool:
    """
    Whether C{sa} is the peer's new IKE SA of a rekey collision that it
    did not win, the old IKE SA being decided (replaced or gone): the
    peer deletes it, and if it has not within the half-open timeout, it
    never will.
    """
    crossed = sa.collision
    return (
        sa.state == IkeState.ESTABLISHED
        and crossed is not None
        and crossed.collision is sa
        and not crossed.isUp
    )


class IkeEngine(FragmentExchanges, InitExchanges):
    """
    The IKE SAs of one stack and the exchanges that make, rekey and delete
    them.
    """

    def receive(
        self, data: bytes, local: Endpoint, remote: Endpoint, now: float
    ) -> list[Action]:
        """
        An IKE message (without its non-ESP marker) arrived on C{local}
        from C{remote}.
        """
        self._now = now
        try:
            header = IkeHeader.decode(data)
        except IkeDecodeError as error:
            self._emit(MessageDropped(remote, f"malformed header: {error}"))
            return self._take()
        try:
            if header.exchange == ExchangeType.IKE_SA_INIT:
                if header.isResponse:
                    self._init_response(header, data, remote)
                else:
                    self._init_request(header, data, local, remote)
            else:
                self._protected(header, data, local, remote)
        except IkeError as error:
            self._emit(MessageDropped(remote, str(error)))
        return self._take()

    def _protected(
        self, header: IkeHeader, data: bytes, local: Endpoint, remote: Endpoint
    ) -> None:
        ourSpi = header.spiR if header.isInitiator else header.spiI
        sa = self._sas.get(ourSpi)
        if sa is None or sa.state == IkeState.DELETED:
            self._emit(MessageDropped(remote, "no IKE SA has this SPI"))
            if not header.isResponse and self._spiHints.allow(remote[0], self._now):
                self._emit(SendDatagram(invalid_spi_answer(header), local, remote))
            return
        if sa.remoteSpi != (header.spiI if header.isInitiator else header.spiR):
            self._emit(MessageDropped(remote, "the peer's SPI does not match"))
            return
        if header.isInitiator == sa.originalInitiator:
            self._emit(MessageDropped(remote, "the I flag is wrong"))
            return
        if sa.receiveProtector is None:
            self._emit(MessageDropped(remote, "the IKE SA has no keys yet"))
            return
        inner = None
        if header.nextPayload == PayloadType.SKF:
            whole = self._fragment_in(sa, data, remote)
            if whole is None:
                return
            header, inner = whole.header, (whole.firstInner, whole.plaintext)
        if header.isResponse:
            self._response(sa, header, data, remote, inner)
        else:
            self._request_in(sa, header, data, remote, inner)

    def _response(
        self,
        sa: IkeSa,
        header: IkeHeader,
        data: bytes,
        remote: Endpoint,
        inner: tuple[int, bytes] | None = None,
    ) -> None:
        if is_invalid_spi_hint(data):
            # Unprotected, so a hint and no more (RFC 7296 section 2.21.4):
            # the peer may have lost the SA; only a liveness check of ours
            # may end it, and no more often than once a DPD interval.
            self._emit(MessageDropped(remote, "an unprotected INVALID_IKE_SPI"))
            if sa.state in (IkeState.REKEYED, IkeState.DELETING):
                # We are closing it anyway, and the peer has already
                # forgotten it (its answer to our delete was lost): a
                # forged hint gains nothing.
                self._remove(sa, sa.deleteReason or "deleted")
                return
            if sa.state == IkeState.ESTABLISHED and self._may_hint(sa):
                sa.hintedAt = self._now
                self._liveness_check(sa)
            return
        outstanding = sa.outstanding
        if outstanding is None or header.messageId != outstanding.messageId:
            self._emit(MessageDropped(remote, "a response to no request of ours"))
            return
        try:
            payloads = self._open(sa, header, data, inner)
        except IntegrityError:
            self._emit(MessageDropped(remote, "bad ICV"))
            return
        except IkeDecodeError as error:
            self._emit(MessageDropped(remote, f"malformed response: {error}"))
            return
        self._float(sa, remote)
        sa.lastHeard = self._now
        sa.outstanding = None
        try:
            outstanding.onResponse(payloads)
        except IkeError as error:
            self._emit(NegotiationFailed(sa.policy.name, str(error), sa))
        self._next_queued(sa)

    def _request_in(
        self,
        sa: IkeSa,
        header: IkeHeader,
        data: bytes,
        remote: Endpoint,
        inner: tuple[int, bytes] | None = None,
    ) -> None:
        messageId = header.messageId
        if messageId == sa.lastResponseId and sa.lastResponse:
            try:
                self._open(sa, header, data)
            except IkeError:
                self._emit(MessageDropped(remote, "bad retransmission"))
                return
            sa.lastHeard = self._now
            self._send(sa, *sa.lastResponseDatagrams)
            return
        if messageId == sa.processingId:
            self._emit(
                MessageDropped(remote, f"request {messageId} is still being processed")
            )
            return
        if sa.processingId is not None:
            # RFC 7296 section 2.3: the window is one request.  A peer that
            # sends the next before this one is answered is not to be
            # served, least of all a second IKE_AUTH while the first one's
            # identity is still being verified.
            self._emit(
                MessageDropped(
                    remote,
                    f"request {messageId} arrived while request"
                    f" {sa.processingId} is being processed (window size 1)",
                )
            )
            return
        if messageId != sa.nextExpectedId:
            self._emit(
                MessageDropped(
                    remote,
                    f"unexpected message ID {messageId} (expected {sa.nextExpectedId})",
                )
            )
            return
        try:
            payloads = self._open(sa, header, data, inner)
        except IntegrityError:
            self._emit(MessageDropped(remote, "bad ICV"))
            return
        except IkeDecodeError as error:
            # Authentic but malformed: tell the peer (RFC 7296 section 2.21.3).
            self._float(sa, remote)
            sa.nextExpectedId += 1
            self._respond(
                sa,
                header.exchange,
                messageId,
                [error_notify(error.notify, error.data)],
            )
            self._emit(
                NegotiationFailed(sa.policy.name, f"malformed request: {error}", sa)
            )
            if sa.state == IkeState.AUTHENTICATING:
                # A failed IKE_AUTH leaves nothing half-open, whatever failed.
                self._remove(sa, f"malformed request: {error}")
            return
        self._float(sa, remote)
        sa.lastHeard = self._now
        sa.nextExpectedId += 1
        sa.processingId = messageId
        exchange = header.exchange
        try:
            if (
                exchange == ExchangeType.IKE_AUTH
                and sa.state == IkeState.AUTHENTICATING
                and not sa.originalInitiator
            ):
                self._auth_request(sa, messageId, payloads)
            elif (
                exchange == ExchangeType.CREATE_CHILD_SA
                and sa.state == IkeState.ESTABLISHED
            ):
                self._create_child_request(sa, messageId, payloads)
            elif exchange == ExchangeType.CREATE_CHILD_SA and sa.state in (
                IkeState.REKEYED,
                IkeState.DELETING,
            ):
                # RFC 7296 section 2.25: we are closing this IKE SA (a
                # rekey of ours finished first, or a delete).
                raise IkeError(
                    "CREATE_CHILD_SA on an IKE SA that is being deleted",
                    notify=NotifyType.TEMPORARY_FAILURE,
                )
            elif exchange == ExchangeType.INFORMATIONAL and sa.state not in (
                IkeState.CONNECTING,
                IkeState.AUTHENTICATING,
            ):
                self._informational_request(sa, messageId, payloads)
            else:
                raise IkeError(
                    f"unexpected {enum_name(exchange, ExchangeType)} request "
                    f"in state {sa.state.value}",
                    notify=NotifyType.INVALID_SYNTAX,
                )
        except IkeError as error:
            self._respond(
                sa, exchange, messageId, [error_notify(error.notify, error.data)]
            )
            kind = "child" if exchange == ExchangeType.CREATE_CHILD_SA else "ike"
            if exchange == ExchangeType.INFORMATIONAL:
                kind = "notice"
            self._emit(
                NegotiationFailed(
                    sa.policy.name, str(error), sa, kind=kind, local=False
                )
            )
            if sa.state == IkeState.AUTHENTICATING:
                self._remove(sa, str(error))

    def initiate(
        self, peerName: str, childName: str | None, now: float
    ) -> list[Action]:
        """
        Start a CHILD_SA (C{childName}) with a peer, setting up an IKE SA
        first if there is none; or only an IKE SA (C{childName} None).

        @raise KeyError: no such peer or CHILD_SA policy.
        """
        self._now = now
        policy = self.peer(peerName)
        if policy is None:
            raise KeyError(peerName)
        child = None
        if childName is not None:
            child = next((c for c in policy.children if c.name == childName), None)
            if child is None:
                raise KeyError(childName)
        existing = self._established_with(policy)
        if existing is not None:
            if child is not None:
                self._new_child(existing, child)
            return self._take()
        sa = IkeSa(
            policy=policy,
            originalInitiator=True,
            spiI=random_spi(),
            spiR=ZERO_SPI,
            local=(str(policy.localAddress), policy.localPort),
            remote=(str(policy.remoteAddress), policy.remotePort),
            establishedAt=now,
        )
        if child is not None:
            sa.pendingChild = ChildSa(sa, child, random_child_spi(), initiator=True)
        self._sas[sa.spiI] = sa
        self._send_init(sa, int(policy.proposals[0].dh))
        return self._take()

    def rekey_ike_sa(self, sa: IkeSa, now: float) -> list[Action]:
        """Rekey an established IKE SA (C{ipsec -k refresh})."""
        self._now = now
        if sa.state == IkeState.ESTABLISHED:
            self._rekey_ike(sa)
        return self._take()

    def _informational_request(
        self, sa: IkeSa, messageId: int, payloads: list[Payload]
    ) -> None:
        deletes = find_all(payloads, DeletePayload)
        if any(d.protocol == ProtocolId.IKE for d in deletes):
            self._respond(sa, ExchangeType.INFORMATIONAL, messageId, [])
            rival = sa.collision
            if sa.rekeying and rival is not None and rival.isUp:
                # The peer finished its rekey, which crossed ours, without
                # seeing ours (section 2.8.2): its new IKE SA takes over and
                # ours is forgotten.
                rival.collision = None
                self._hand_over(sa, rival)
            crossed = sa.collision
            reason = (
                "rekeyed"
                if sa.state == IkeState.REKEYED
                # the peer's redundant IKE SA of a collision we won
                else REDUNDANT
                if crossed is not None and not crossed.isUp
                else "deleted by the peer"
            )
            self._remove(sa, reason)
            return
        ours: list[bytes] = []
        for delete in deletes:
            if delete.protocol != ProtocolId.ESP:
                continue
            for spi in delete.spis:
                child = sa.child_by_outbound(spi)
                if child is None:
                    continue
                ours.append(child.spiIn)
                reason = (
                    "rekeyed"
                    if child.state == ChildState.REKEYED
                    else REDUNDANT
                    if child.collision is not None
                    else "deleted by the peer"
                )
                self._child_gone(sa, child, reason)
        answer: list[Payload] = []
        if ours:
            answer.append(DeletePayload(ProtocolId.ESP, 4, tuple(ours)))
        error = first_error(payloads)
        if error is not None:
            self._emit(
                NegotiationFailed(
                    sa.policy.name,
                    f"the peer reports {enum_name(error, NotifyType)}",
                    sa,
                    kind="notice",
                )
            )
            if error == NotifyType.AUTHENTICATION_FAILED:
                self._respond(sa, ExchangeType.INFORMATIONAL, messageId, answer)
                self._remove(sa, "the peer reports AUTHENTICATION_FAILED")
                return
        self._respond(sa, ExchangeType.INFORMATIONAL, messageId, answer)

    def delete_child_sa(self, child: ChildSa, reason: str, now: float) -> list[Action]:
        """Delete a CHILD_SA (C{ipsec -y deactivate})."""
        self._now = now
        self._delete_child(child, reason)
        return self._take()

    def delete_ike_sa(self, sa: IkeSa, reason: str, now: float) -> list[Action]:
        """Delete an IKE SA and its CHILD_SAs (C{ipsec -k deactivate})."""
        self._now = now
        if sa.state in (IkeState.CONNECTING, IkeState.AUTHENTICATING):
            self._remove(sa, reason)
        elif sa.state not in (IkeState.DELETED, IkeState.DELETING):
            self._delete_ike(sa, reason)
        return self._take()

    def check_liveness(self, sa: IkeSa, now: float) -> list[Action]:
        """Send an empty INFORMATIONAL (dead peer detection)."""
        self._now = now
        if sa.state == IkeState.ESTABLISHED:
            self._liveness_check(sa)
        return self._take()

    def _liveness_check(self, sa: IkeSa) -> None:
        # Unanswered, it removes the SA as unreachable (L{_peer_silent}).
        self._request(sa, ExchangeType.INFORMATIONAL, lambda: [], lambda answer: None)

    def _may_hint(self, sa: IkeSa) -> bool:
        if sa.outstanding is not None or sa.queue:
            return False  # a request in flight finds out already
        spacing = sa.policy.dpdInterval or HINT_SPACING
        return sa.hintedAt is None or self._now - sa.hintedAt >= spacing

    def create_child_sa(
        self, sa: IkeSa, policy: ChildPolicy, now: float
    ) -> list[Action]:
        """A new CHILD_SA on an established IKE SA."""
        self._now = now
        if sa.state == IkeState.ESTABLISHED:
            self._new_child(sa, policy)
        return self._take()

    def rekey_child_sa(self, child: ChildSa, now: float) -> list[Action]:
        """Rekey a CHILD_SA (C{ipsec -y refresh})."""
        self._now = now
        if (
            child.state == ChildState.INSTALLED
            and child.policy is not None
            and child.ikeSa.state == IkeState.ESTABLISHED
        ):
            child.rekeyAt = None
            self._new_child(child.ikeSa, child.policy, replaces=child)
        return self._take()

    def next_deadline(self) -> float | None:
        """When L{expire} should next be called; L{None} for never."""
        times: list[float] = []
        for sa in self._sas.values():
            if sa.outstanding is not None:
                times.append(sa.outstanding.nextAt)
            reassembly = sa.reassembler.deadline()
            if reassembly is not None:
                times.append(reassembly)
            if sa.state in (IkeState.CONNECTING, IkeState.AUTHENTICATING):
                times.append(sa.establishedAt + self.settings.halfOpenTimeout)
            if sa.rekeyAt is not None and sa.state == IkeState.ESTABLISHED:
                times.append(sa.rekeyAt)
            due = liveness_due(sa)
            if due is not None:
                times.append(due)
            if _unclaimed_rival(sa):
                times.append(sa.establishedAt + self.settings.halfOpenTimeout)
            for child in sa.children:
                if child.rekeyAt is not None and child.state == ChildState.INSTALLED:
                    times.append(child.rekeyAt)
        times += self._keepalives.values()
        return min(times) if times else None

    def expire(self, now: float) -> list[Action]:
        """Do what is due: retransmissions, timeouts, rekeys, keepalives."""
        self._now = now
        settings = self.settings
        for sa in list(self._sas.values()):
            if sa.state == IkeState.DELETED:
                continue
            sa.reassembler.expire(now)
            self._report_abandoned(sa)
            outstanding = sa.outstanding
            if outstanding is not None and outstanding.nextAt <= now:
                if outstanding.attempts > settings.retransmitTries:
                    sa.outstanding = None
                    outstanding.onTimeout()
                    continue
                outstanding.nextAt = now + settings.retransmitTimeout * (
                    settings.retransmitBase**outstanding.attempts
                )
                outstanding.attempts += 1
                self._send(sa, *outstanding.datagrams)
                self._emit(
                    Retransmitted(sa, IkeHeader.decode(outstanding.message).exchange)
                )
            if (
                sa.state in (IkeState.CONNECTING, IkeState.AUTHENTICATING)
                and sa.establishedAt + settings.halfOpenTimeout <= now
            ):
                reason = "IKE SA setup timed out"
                self._emit(NegotiationFailed(sa.policy.name, reason, sa))
                self._remove(sa, reason)
                continue
            if (
                sa.state == IkeState.ESTABLISHED
                and sa.rekeyAt is not None
                and sa.rekeyAt <= now
            ):
                self._rekey_ike(sa)
            due = liveness_due(sa)
            if due is not None and due <= now:
                self._liveness_check(sa)
            if (
                _unclaimed_rival(sa)
                and sa.establishedAt + settings.halfOpenTimeout <= now
            ):
                # The peer's rekey that crossed ours and lost, which the
                # peer never finished (its answer lost, the old IKE SA
                # gone): the peer has no such SA to delete.
                self._remove(sa, REDUNDANT)
                continue
            for child in list(sa.children):
                if (
                    child.state == ChildState.INSTALLED
                    and child.rekeyAt is not None
                    and child.rekeyAt <= now
                ):
                    child.rekeyAt = None
                    if child.policy is not None and sa.state == IkeState.ESTABLISHED:
                        self._new_child(sa, child.policy, replaces=child)
        for spi, due in list(self._keepalives.items()):
            if due <= now:
                owner = self._sas.get(spi)
                if owner is None:
                    del self._keepalives[spi]
                    continue
                self._emit(
                    SendDatagram(NATT_KEEPALIVE, owner.local, owner.remote, raw=True)
                )
                self._keepalives[spi] = now + settings.keepaliveInterval
        return self._take()

    def signature_made(
        self, requestId: int, result: Signed | BaseException, now: float
    ) -> list[Action]:
        """The signer answered a L{SignatureNeeded} (with a failure, maybe)."""
        return self._resume(requestId, result, now)

    def peer_checked(
        self, requestId: int, error: BaseException | None, now: float
    ) -> list[Action]:
        """The verifier answered a L{PeerCheckNeeded}: L{None} if all holds."""
        return self._resume(requestId, error, now)

    def _resume(self, requestId: int, value: Any, now: float) -> list[Action]:
        self._now = now
        entry = self._pending.pop(requestId, None)
        if entry is None:
            return self._take()
        sa, then = entry
        if sa.state == IkeState.DELETED:
            return self._take()
        try:
            then(value)
        except IkeError as error:
            if sa.originalInitiator and sa.state == IkeState.AUTHENTICATING:
                # Before IKE_AUTH went out (our signature failed) there is
                # nothing the peer could be told under a valid message ID.
                self._auth_failed(sa, str(error), tell=sa.nextRequestId > 1)
            elif sa.processingId is not None:
                self._respond(
                    sa,
                    ExchangeType.IKE_AUTH,
                    sa.processingId,
                    [error_notify(error.notify)],
                )
                self._emit(NegotiationFailed(sa.policy.name, str(error), sa))
                self._remove(sa, str(error))
            else:
                self._emit(NegotiationFailed(sa.policy.name, str(error), sa))
        return self._take()
