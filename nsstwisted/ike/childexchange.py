"""
CREATE_CHILD_SA (RFC 7296 section 1.3): new CHILD_SAs, CHILD_SA rekeys and
IKE SA rekeys, both as requester and as responder, and the deletes that
finish a rekey.

Rekeys that cross (section 2.8.1 and 2.8.2): when the peer rekeys an SA
whose rekey of ours is in flight, we answer, and once both exchanges are
done the SA made with the lowest of the four nonces is redundant; its
maker deletes it, and the maker of the survivor deletes the old SA.  A
rekey of an SA we are already deleting (or have rekeyed) is answered
TEMPORARY_FAILURE, and a rekey of one we do not know CHILD_SA_NOT_FOUND
(section 2.25).
"""

from __future__ import annotations

from typing import Any

from nsstwisted.ike.constants import (
    DhGroupId,
    ExchangeType,
    NotifyType,
    PayloadType,
    ProtocolId,
)
from nsstwisted.ike.crypto import (
    dh_group,
    random_child_spi,
    random_spi,
)
from nsstwisted.ike.enginebase import (
    EngineBase,
    dh_of,
    enum_name,
    first_error,
    need,
    need_ts,
    with_group,
)
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    IkeSaRekeyed,
    NegotiationFailed,
)
from nsstwisted.ike.keys import (
    EspSuite,
    IkeSuite,
    derive_child_keys,
    derive_rekeyed_ike_keys,
)
from nsstwisted.ike.lifetimes import lowest_nonce_loses
from nsstwisted.ike.payloads import (
    DeletePayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TsPayload,
    find,
    find_notify,
)
from nsstwisted.ike.policy import (
    ChildPolicy,
    TunnelMode,
)
from nsstwisted.ike.sa import (
    ChildSa,
    ChildState,
    IkeSa,
    IkeState,
)
from nsstwisted.ike.selection import (
    ChosenEsp,
    accepted_esp,
    accepted_ike,
    check_installable,
    esp_sa_payload,
    ike_sa_payload,
    narrow,
    select_esp,
    select_ike,
    selectors_for,
    within,
)

__all__ = ["REDUNDANT", "ChildExchanges"]

REDUNDANT = "redundant (simultaneous rekey)"
"""Why the SA that lost a rekey collision is deleted."""


class ChildExchanges(EngineBase):
    """CREATE_CHILD_SA and the deletes that finish a rekey."""

    @staticmethod
    def _retry_with_group(
        payloads: list[Payload], state: dict[str, Any], offered: set[int]
    ) -> bool:
        """
        Whether an answer is INVALID_KE_PAYLOAD naming a group we offer,
        the first time: then C{state["group"]} is that group, for one
        retry (RFC 7296 section 1.3).
        """
        invalidKe = find_notify(payloads, NotifyType.INVALID_KE_PAYLOAD)
        if invalidKe is None or "retried" in state:
            return False
        wanted = int.from_bytes(invalidKe.data[:2], "big")
        if wanted not in offered:
            return False
        state["retried"] = True
        state["group"] = wanted
        return True

    def _child_answer(
        self,
        sa: IkeSa,
        child: ChildSa,
        payloads: list[Payload],
        *,
        pfs: bool,
        nonceI: bytes,
        nonceR: bytes,
        shared: bytes | None,
        replaces: ChildSa | None = None,
    ) -> None:
        """Complete a CHILD_SA we asked for from the responder's answer."""
        assert child.policy is not None and sa.prf is not None and sa.keys is not None
        answer = need(payloads, SaPayload, "SA")
        chosen = accepted_esp(answer, child.policy.proposals, pfs)
        # The peer's SPI first: every refusal below then deletes the
        # CHILD_SA at the peer, which believes it is up.
        child.spiOut = chosen.peerSpi
        tsi = need_ts(payloads, PayloadType.TSi)
        tsr = need_ts(payloads, PayloadType.TSr)
        if not within(
            tsi.selectors, selectors_for(child.policy.localSelectors)
        ) or not within(tsr.selectors, selectors_for(child.policy.remoteSelectors)):
            raise IkeError(
                "the peer's traffic selectors are wider than ours",
                notify=NotifyType.TS_UNACCEPTABLE,
            )
        suite = EspSuite.from_proposal(chosen.proposal)
        check_installable(tsi.selectors, tsr.selectors)
        child.suite = suite
        child.keys = derive_child_keys(
            sa.prf, sa.keys.skD, suite, nonceI, nonceR, shared
        )
        child.localSelectors = tsi.selectors
        child.remoteSelectors = tsr.selectors
        answered = (
            TunnelMode.TRANSPORT
            if find_notify(payloads, NotifyType.USE_TRANSPORT_MODE) is not None
            else TunnelMode.TUNNEL
        )
        if answered != child.policy.mode:
            # RFC 7296 section 1.3.1: the mode is the initiator's request; an
            # answer in another mode is not one we accept.
            raise IkeError(
                f"the peer answered {answered.value} mode; rule"
                f" {child.policy.name} asked for {child.policy.mode.value} mode",
                notify=NotifyType.NO_PROPOSAL_CHOSEN,
            )
        child.mode = answered
        child.initiator = True
        self._child_installed(sa, child, replaces)

    def _child_installed(
        self, sa: IkeSa, child: ChildSa, replaces: ChildSa | None
    ) -> None:
        child.state = ChildState.INSTALLED
        child.establishedAt = self._now
        if child.policy is not None:
            child.rekeyAt = self._refresh_at(child.policy.lifetime)
        if child not in sa.children:
            sa.children.append(child)
        if replaces is not None and replaces.state == ChildState.DELETED:
            # The peer deleted it while our rekey was in flight: the new
            # CHILD_SA replaces nothing (and is deleted in turn).
            replaces = None
        if replaces is not None:
            replaces.state = ChildState.REKEYED
            replaces.rekeyAt = None
        self._emit(ChildSaEstablished(child, replaces))

    def _child_rule(
        self, sa: IkeSa, payloads: list[Payload], policy: ChildPolicy | None
    ) -> tuple[ChildPolicy, tuple[Any, ...], tuple[Any, ...]]:
        """
        The CHILD_SA rule that answers a peer's request (C{policy} itself,
        for a rekey), chosen by the traffic selectors alone, and the
        narrowed selectors (remote, local).  Everything else the rule fixes
        (its proposals, PFS, the encapsulation mode) is then taken from that
        rule alone, never from another rule's.

        @raise IkeError: TS_UNACCEPTABLE.
        """
        tsi = need_ts(payloads, PayloadType.TSi)
        tsr = need_ts(payloads, PayloadType.TSr)
        candidates = (
            [policy]
            if policy is not None
            else [c for c in sa.policy.children if c.initiation.mayRespond]
        )
        for candidate in candidates:
            remote = narrow(tsi.selectors, selectors_for(candidate.remoteSelectors))
            local = narrow(tsr.selectors, selectors_for(candidate.localSelectors))
            if remote and local:
                # More prefixes than an SA may install: refused now, not
                # half-installed later.
                check_installable(local, remote)
                return candidate, tuple(remote), tuple(local)
        raise IkeError(
            "no LocalDynVpnRule covers the peer's traffic selectors",
            notify=NotifyType.TS_UNACCEPTABLE,
        )

    def _child_response(
        self,
        sa: IkeSa,
        payloads: list[Payload],
        rule: tuple[ChildPolicy, tuple[Any, ...], tuple[Any, ...]],
        chosen: ChosenEsp,
        *,
        nonceI: bytes,
        nonceR: bytes,
        shared: bytes | None,
    ) -> tuple[list[Payload], ChildSa]:
        """
        Our answer to a peer's CHILD_SA request under C{rule} (see
        L{_child_rule}), with C{chosen}, a proposal of that rule's.

        @raise IkeError: NO_PROPOSAL_CHOSEN, when the peer asks for an
            encapsulation mode the rule does not allow.
        """
        assert sa.prf is not None and sa.keys is not None
        candidate, remote, local = rule
        wantsTransport = (
            find_notify(payloads, NotifyType.USE_TRANSPORT_MODE) is not None
        )
        if candidate.mode == TunnelMode.TRANSPORT and not wantsTransport:
            # RFC 7296 section 1.3.1: no USE_TRANSPORT_MODE asks for a
            # tunnel, which a transport rule does not allow.
            raise IkeError(
                f"the peer asks for tunnel mode; rule {candidate.name} allows"
                " only transport mode",
                notify=NotifyType.NO_PROPOSAL_CHOSEN,
            )
        # A tunnel rule answers a request for transport mode without the
        # notify: the CHILD_SA is a tunnel, as the RFC lets a responder
        # decline.
        transport = wantsTransport and candidate.mode == TunnelMode.TRANSPORT
        suite = EspSuite.from_proposal(chosen.proposal)
        child = ChildSa(
            sa, candidate, random_child_spi(), chosen.peerSpi, initiator=False
        )
        child.suite = suite
        child.keys = derive_child_keys(
            sa.prf, sa.keys.skD, suite, nonceI, nonceR, shared
        )
        child.localSelectors = local
        child.remoteSelectors = remote
        child.mode = TunnelMode.TRANSPORT if transport else TunnelMode.TUNNEL
        answer: list[Payload] = []
        if transport:
            answer.append(NotifyPayload(0, NotifyType.USE_TRANSPORT_MODE))
        answer += [
            chosen.payload(child.spiIn),
            TsPayload(PayloadType.TSi, remote),
            TsPayload(PayloadType.TSr, local),
        ]
        return answer, child

    def _new_child(
        self, sa: IkeSa, policy: ChildPolicy, replaces: ChildSa | None = None
    ) -> None:
        """Ask the peer for a CHILD_SA (a rekey of C{replaces} if given)."""
        child = ChildSa(sa, policy, random_child_spi(), initiator=True)
        if replaces is not None:
            replaces.state = ChildState.REKEYING
        sa.children.append(child)
        state: dict[str, Any] = {}

        def build() -> list[Payload]:
            group = state.get("group", int(policy.proposals[0].dh))
            nonce = self._nonce()
            state["nonce"] = nonce
            payloads: list[Payload] = []
            if replaces is not None:
                payloads.append(
                    NotifyPayload(
                        ProtocolId.ESP, NotifyType.REKEY_SA, spi=replaces.spiIn
                    )
                )
            if policy.mode == TunnelMode.TRANSPORT:
                payloads.append(NotifyPayload(0, NotifyType.USE_TRANSPORT_MODE))
            payloads += [
                esp_sa_payload(with_group(policy, group), child.spiIn),
                NoncePayload(nonce),
            ]
            if group != DhGroupId.NONE:
                dh = dh_group(group).generate()
                state["dh"] = dh
                payloads.append(KePayload(group, dh.publicBytes))
            payloads += [
                TsPayload(PayloadType.TSi, selectors_for(policy.localSelectors)),
                TsPayload(PayloadType.TSr, selectors_for(policy.remoteSelectors)),
            ]
            return payloads

        def answered(payloads: list[Payload]) -> None:
            if self._retry_with_group(
                payloads, state, {int(p.dh) for p in policy.proposals}
            ):
                self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)
                return
            error = first_error(payloads)
            if error is not None:
                self._child_failed(
                    sa, child, replaces, f"refused: {enum_name(error, NotifyType)}"
                )
                return
            try:
                nonce = need(payloads, NoncePayload, "Nonce")
                shared = None
                dh = state.get("dh")
                answer = need(payloads, SaPayload, "SA")
                chosenDh = dh_of(answer)
                if chosenDh:
                    ke = need(payloads, KePayload, "KE")
                    if dh is None or ke.group != chosenDh:
                        raise IkeError("the peer's KE is not of the chosen group")
                    shared = dh.exchange(ke.data)
                child.dhGroup = chosenDh
                child.nonces = (state["nonce"], nonce.nonce)
                self._child_answer(
                    sa,
                    child,
                    payloads,
                    pfs=True,
                    nonceI=state["nonce"],
                    nonceR=nonce.nonce,
                    shared=shared,
                    replaces=replaces,
                )
            except IkeError as error:
                self._child_failed(sa, child, replaces, str(error))
                self._delete_child_quietly(sa, child)
                return
            if replaces is not None:
                self._rekey_done(child, replaces)

        self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)

    def _rekey_done(self, child: ChildSa, replaces: ChildSa) -> None:
        """
        Our rekey of C{replaces} made C{child}: delete the old CHILD_SA,
        unless the peer's rekey of it crossed ours and ours is the
        redundant one (then the peer deletes the old one), or the peer
        deleted it meanwhile (then the new one goes too, as strongSwan
        does: the peer wanted the traffic unprotected by it).
        """
        if replaces.state == ChildState.DELETED:
            self._delete_child(child, "the peer deleted the CHILD_SA being rekeyed")
            return
        rival = replaces.collision
        if rival is not None and rival.state == ChildState.INSTALLED:
            if lowest_nonce_loses(child.nonces, rival.nonces):
                rival.collision = None  # it survives
                self._delete_child(child, REDUNDANT)
                return
            # The peer deletes its redundant SA (L{_informational_request}
            # says so by C{rival.collision}).
        self._delete_child(replaces, "rekeyed")

    def _child_failed(
        self, sa: IkeSa, child: ChildSa, replaces: ChildSa | None, reason: str
    ) -> None:
        name = child.policy.name if child.policy else "?"
        self._emit(
            NegotiationFailed(
                sa.policy.name,
                f"CHILD_SA {name}: {reason}",
                sa,
                kind="child",
                local=True,
            )
        )
        if child in sa.children and child.state == ChildState.CREATING:
            sa.children.remove(child)
        rival = replaces.collision if replaces is not None else None
        if (
            replaces is not None
            and replaces.state == ChildState.REKEYING
            and rival is not None
            and rival.state == ChildState.INSTALLED
        ):
            # The peer's rekey, which crossed ours, replaced it: the peer
            # deletes it.
            replaces.state = ChildState.REKEYED
            replaces.rekeyAt = None
            rival.collision = None
        elif replaces is not None and replaces.state == ChildState.REKEYING:
            replaces.state = ChildState.INSTALLED
            if replaces.policy is not None and replaces.policy.lifetime:
                # Try again later rather than at once, in a loop.
                replaces.rekeyAt = self._now + min(
                    replaces.policy.lifetime / 10 + 1, 60
                )

    def _delete_child_quietly(self, sa: IkeSa, child: ChildSa) -> None:
        """A CHILD_SA the peer set up but we cannot use: delete it there."""
        if child.spiOut and child.state != ChildState.DELETED:
            child.state = ChildState.DELETING
            spi = child.spiIn
            self._request(
                sa,
                ExchangeType.INFORMATIONAL,
                lambda: [DeletePayload(ProtocolId.ESP, 4, (spi,))],
                lambda answer: None,
            )
        if child in sa.children:
            sa.children.remove(child)
        child.state = ChildState.DELETED

    def _create_child_request(
        self, sa: IkeSa, messageId: int, payloads: list[Payload]
    ) -> None:
        offer = need(payloads, SaPayload, "SA")
        if any(p.protocol == ProtocolId.IKE for p in offer.proposals):
            self._rekey_ike_request(sa, messageId, payloads, offer)
            return
        rekey = find_notify(payloads, NotifyType.REKEY_SA)
        replaces = None
        policy = None
        if rekey is not None:
            replaces = sa.child_by_outbound(rekey.spi)
            if replaces is None:
                raise IkeError(
                    "rekey of an unknown CHILD_SA", notify=NotifyType.CHILD_SA_NOT_FOUND
                )
            if replaces.state in (ChildState.REKEYED, ChildState.DELETING):
                raise IkeError(
                    "rekey of a CHILD_SA that is being deleted",
                    notify=NotifyType.TEMPORARY_FAILURE,
                )
            policy = replaces.policy
        nonceI = need(payloads, NoncePayload, "Nonce").nonce
        nonceR = self._nonce()
        # The rule first, by traffic selectors; then the proposal, and with
        # it PFS, from that rule alone.
        rule = self._child_rule(sa, payloads, policy)
        chosen = select_esp(offer, rule[0].proposals, pfs=True)
        shared = None
        ke = find(payloads, KePayload)
        answerKe: list[Payload] = []
        if chosen.proposal.dh != DhGroupId.NONE:
            if ke is None or ke.group != chosen.proposal.dh:
                raise IkeError(
                    "the peer's KE is not of the group we chose",
                    notify=NotifyType.INVALID_KE_PAYLOAD,
                    data=int(chosen.proposal.dh).to_bytes(2, "big"),
                )
            dh = dh_group(ke.group).generate()
            shared = dh.exchange(ke.data)
            answerKe = [KePayload(ke.group, dh.publicBytes)]
        answer, child = self._child_response(
            sa,
            payloads,
            rule,
            chosen,
            nonceI=nonceI,
            nonceR=nonceR,
            shared=shared,
        )
        child.dhGroup = int(chosen.proposal.dh)
        child.nonces = (nonceI, nonceR)
        sa_part = [p for p in answer if isinstance(p, SaPayload)]
        rest = [p for p in answer if not isinstance(p, SaPayload)]
        notices = [p for p in rest if isinstance(p, NotifyPayload)]
        selectors = [p for p in rest if isinstance(p, TsPayload)]
        self._respond(
            sa,
            ExchangeType.CREATE_CHILD_SA,
            messageId,
            [*notices, *sa_part, NoncePayload(nonceR), *answerKe, *selectors],
        )
        crossed = replaces is not None and replaces.state == ChildState.REKEYING
        self._child_installed(sa, child, replaces)
        if crossed:
            assert replaces is not None
            # Our rekey of it is in flight: it stays ours to finish, and
            # the nonces then decide (L{_rekey_done}).
            replaces.state = ChildState.REKEYING
            replaces.collision = child
            child.collision = replaces

    def _rekey_ike_request(
        self, sa: IkeSa, messageId: int, payloads: list[Payload], offer: SaPayload
    ) -> None:
        assert sa.prf is not None and sa.keys is not None
        chosen = select_ike(offer, sa.policy.proposals, spiSize=8)
        ke = need(payloads, KePayload, "KE")
        if ke.group != chosen.proposal.dh:
            raise IkeError(
                "the peer's KE is not of the group we chose",
                notify=NotifyType.INVALID_KE_PAYLOAD,
                data=int(chosen.proposal.dh).to_bytes(2, "big"),
            )
        nonceI = need(payloads, NoncePayload, "Nonce").nonce
        nonceR = self._nonce()
        dh = dh_group(ke.group).generate()
        shared = dh.exchange(ke.data)
        new = self._successor(
            sa, originalInitiator=False, spiI=chosen.peerSpi, spiR=random_spi()
        )
        suite = IkeSuite.from_proposal(chosen.proposal)
        self._rekeyed_keys(sa, new, suite, shared, nonceI, nonceR)
        self._respond(
            sa,
            ExchangeType.CREATE_CHILD_SA,
            messageId,
            [
                chosen.payload(new.spiR),
                NoncePayload(nonceR),
                KePayload(ke.group, dh.publicBytes),
            ],
        )
        if sa.rekeying:
            # Our rekey crossed the peer's (section 2.8.2): the new IKE SA
            # answers from now on (its maker may delete it there), but the
            # CHILD_SAs wait for the nonces to decide.
            new.establishedAt = new.lastHeard = self._now
            self._sas[new.localSpi] = new
            sa.collision = new
            new.collision = sa  # until it proves the survivor
            return
        self._hand_over(sa, new)

    def _successor(
        self, sa: IkeSa, *, originalInitiator: bool, spiI: bytes, spiR: bytes
    ) -> IkeSa:
        new = IkeSa(
            policy=sa.policy,
            originalInitiator=originalInitiator,
            spiI=spiI,
            spiR=spiR,
            local=sa.local,
            remote=sa.remote,
            state=IkeState.ESTABLISHED,
        )
        new.peerId = sa.peerId
        new.peerCertificates = sa.peerCertificates
        new.peerHashes = sa.peerHashes
        new.localNat, new.remoteNat = sa.localNat, sa.remoteNat
        new.authMethod = sa.authMethod
        # RFC 7383 fragmentation was agreed for the IKE SA, not its keys.
        new.fragmentation = sa.fragmentation
        return new

    def _rekeyed_keys(
        self,
        old: IkeSa,
        new: IkeSa,
        suite: IkeSuite,
        shared: bytes,
        nonceI: bytes,
        nonceR: bytes,
    ) -> None:
        assert old.prf is not None and old.keys is not None
        _, keys = derive_rekeyed_ike_keys(
            old.prf, old.keys.skD, suite, shared, nonceI, nonceR, new.spiI, new.spiR
        )
        new.suite = suite
        new.prf = suite.prf
        new.keys = keys
        new.nonceI, new.nonceR = nonceI, nonceR
        initiator, responder = keys.protectors()
        if new.originalInitiator:
            new.sendProtector, new.receiveProtector = initiator, responder
        else:
            new.sendProtector, new.receiveProtector = responder, initiator

    def _hand_over(self, old: IkeSa, new: IkeSa) -> None:
        """The CHILD_SAs move to the new IKE SA, which takes over."""
        new.children = [c for c in old.children if c.state != ChildState.DELETED]
        for child in new.children:
            child.ikeSa = new
        old.children = []
        old.state = IkeState.REKEYED
        old.rekeyAt = None
        new.establishedAt = self._now
        new.rekeyAt = self._refresh_at(new.policy.lifetime)
        self._sas[new.localSpi] = new
        self._keepalives.pop(old.localSpi, None)
        if new.localNat:
            self._keepalives[new.localSpi] = self._now + self.settings.keepaliveInterval
        self._emit(IkeSaRekeyed(old, new))

    def _rekey_ike(self, sa: IkeSa) -> None:
        assert sa.suite is not None
        current = next(
            (p for p in sa.policy.proposals if IkeSuite.from_proposal(p) == sa.suite),
            sa.policy.proposals[0],
        )
        proposals = [current, *[p for p in sa.policy.proposals if p != current]]
        state: dict[str, Any] = {"group": int(current.dh), "spi": random_spi()}
        sa.rekeyAt = None
        sa.rekeying = True

        def build() -> list[Payload]:
            state["nonce"] = self._nonce()
            dh = dh_group(state["group"]).generate()
            state["dh"] = dh
            return [
                ike_sa_payload(proposals, spi=state["spi"]),
                NoncePayload(state["nonce"]),
                KePayload(state["group"], dh.publicBytes),
            ]

        def answered(payloads: list[Payload]) -> None:
            if self._retry_with_group(payloads, state, {int(p.dh) for p in proposals}):
                self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)
                return
            sa.rekeying = False
            error = first_error(payloads)
            rival = sa.collision
            if error is not None and rival is not None and rival.isUp:
                # The peer finished its rekey, which crossed ours, first:
                # its new IKE SA takes over, and the peer deletes this one.
                rival.collision = None
                self._hand_over(sa, rival)
                return
            if error is not None:
                self._emit(
                    NegotiationFailed(
                        sa.policy.name,
                        f"IKE SA rekey refused: {enum_name(error, NotifyType)}",
                        sa,
                        local=True,
                    )
                )
                sa.rekeyAt = self._now + 60 if sa.policy.lifetime else None
                return
            chosen = accepted_ike(need(payloads, SaPayload, "SA"), proposals, spiSize=8)
            ke = need(payloads, KePayload, "KE")
            if ke.group != chosen.proposal.dh or ke.group != state["group"]:
                raise IkeError("the peer's KE is not of the chosen group")
            shared = state["dh"].exchange(ke.data)
            nonceR = need(payloads, NoncePayload, "Nonce").nonce
            new = self._successor(
                sa, originalInitiator=True, spiI=state["spi"], spiR=chosen.peerSpi
            )
            self._rekeyed_keys(
                sa,
                new,
                IkeSuite.from_proposal(chosen.proposal),
                shared,
                state["nonce"],
                nonceR,
            )
            if rival is not None and rival.isUp:
                if lowest_nonce_loses(
                    (new.nonceI, new.nonceR), (rival.nonceI, rival.nonceR)
                ):
                    # Ours is redundant: the peer's takes the CHILD_SAs and
                    # the peer deletes the old one; we delete ours.
                    new.establishedAt = new.lastHeard = self._now
                    self._sas[new.localSpi] = new
                    rival.collision = None
                    self._hand_over(sa, rival)
                    self._delete_ike(new, REDUNDANT)
                    return
                # The peer's is redundant, and the peer deletes it.
            self._hand_over(sa, new)
            self._delete_ike(sa, "rekeyed")

        self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)

    def _child_gone(self, sa: IkeSa, child: ChildSa, reason: str) -> None:
        if child.state == ChildState.DELETED:
            return
        child.state = ChildState.DELETED
        if child in sa.children:
            sa.children.remove(child)
        self._emit(ChildSaDeleted(child, reason))

    def _delete_child(self, child: ChildSa, reason: str) -> None:
        sa = child.ikeSa
        if child.state in (ChildState.DELETED, ChildState.DELETING) or not sa.isUp:
            return
        child.state = ChildState.DELETING

        def answered(payloads: list[Payload]) -> None:
            self._child_gone(sa, child, reason)

        def silent() -> None:
            self._child_gone(sa, child, reason)
            self._peer_silent(sa)

        self._request(
            sa,
            ExchangeType.INFORMATIONAL,
            lambda: [DeletePayload(ProtocolId.ESP, 4, (child.spiIn,))],
            answered,
            silent,
        )

    def _delete_ike(self, sa: IkeSa, reason: str) -> None:
        if sa.state != IkeState.REKEYED:
            sa.state = IkeState.DELETING
        sa.rekeyAt = None
        sa.deleteReason = reason
        self._request(
            sa,
            ExchangeType.INFORMATIONAL,
            lambda: [DeletePayload(ProtocolId.IKE, 0, ())],
            lambda answer: self._remove(sa, reason),
            lambda: self._remove(sa, reason),
        )
