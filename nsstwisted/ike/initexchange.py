"""
IKE_SA_INIT (RFC 7296 sections 1.2, 2.6, 2.23): proposals, KE, nonces, NAT
detection, COOKIE and INVALID_KE_PAYLOAD retries, with the exact message
bytes kept for AUTH.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os

from nsstwisted.ike.authexchange import AuthExchanges
from nsstwisted.ike.constants import (
    ExchangeType,
    NotifyType,
)
from nsstwisted.ike.crypto import (
    dh_group,
    random_spi,
)
from nsstwisted.ike.enginebase import (
    ZERO_SPI,
    authorities_of,
    certificate_request,
    enum_name,
    fragmentation_notify,
    group_of,
    hash_notify,
    natd,
    need,
    peer_hashes,
)
from nsstwisted.ike.errors import IkeDecodeError, IkeError
from nsstwisted.ike.events import (
    Endpoint,
    InitRequestTurnedAway,
    MessageDropped,
    NegotiationFailed,
    SendDatagram,
)
from nsstwisted.ike.keys import (
    IkeSuite,
    derive_ike_keys,
)
from nsstwisted.ike.message import (
    IkeHeader,
    IkeMessage,
    decode_message,
    encode_message,
)
from nsstwisted.ike.payloads import (
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    find_notify,
    notifies,
)
from nsstwisted.ike.policy import (
    AuthKind,
    PeerPolicy,
)
from nsstwisted.ike.sa import (
    IkeSa,
    IkeState,
    OutstandingRequest,
)
from nsstwisted.ike.selection import (
    accepted_ike,
    ike_sa_payload,
    select_ike,
)

__all__ = ["InitExchanges"]


class InitExchanges(AuthExchanges):
    """IKE_SA_INIT, which leads into IKE_AUTH."""

    def _established_with(self, policy: PeerPolicy) -> IkeSa | None:
        for sa in self.sas():
            if sa.policy.name == policy.name and sa.state == IkeState.ESTABLISHED:
                return sa
        return None

    def _send_init(self, sa: IkeSa, group: int) -> None:
        policy = sa.policy
        # A retry after COOKIE or INVALID_KE_PAYLOAD keeps the nonce (the
        # cookie covers it) and the key, unless the group changed.
        if sa.dh is None or int(sa.dh.group.groupId) != group:
            sa.dh = dh_group(group).generate()
        if not sa.nonceI:
            sa.nonceI = os.urandom(self.settings.nonceSize)
        payloads: list[Payload] = []
        if sa.cookie:
            payloads.append(NotifyPayload(0, NotifyType.COOKIE, data=sa.cookie))
        payloads += [
            ike_sa_payload(policy.proposals),
            KePayload(group, sa.dh.publicBytes),
            NoncePayload(sa.nonceI),
            *self._nat_notifies(sa),
        ]
        if policy.auth == AuthKind.SIGNATURE:
            payloads.append(hash_notify())
        if self.settings.fragmentSize:
            payloads.append(fragmentation_notify())
        message = encode_message(
            self._message(sa, ExchangeType.IKE_SA_INIT, 0, False, payloads)
        )
        sa.initRequest = message
        sa.nextRequestId = 1
        sa.outstanding = OutstandingRequest(
            0,
            message,
            lambda payloads: None,  # IKE_SA_INIT answers are plain: see _init_response
            lambda: self._peer_silent(sa),
            nextAt=self._now + self.settings.retransmitTimeout,
        )
        self._send(sa, message)

    def _nat_notifies(self, sa: IkeSa) -> list[NotifyPayload]:
        return [
            NotifyPayload(
                0,
                NotifyType.NAT_DETECTION_SOURCE_IP,
                data=natd(sa.spiI, sa.spiR, sa.local),
            ),
            NotifyPayload(
                0,
                NotifyType.NAT_DETECTION_DESTINATION_IP,
                data=natd(sa.spiI, sa.spiR, sa.remote),
            ),
        ]

    def _init_response(self, header: IkeHeader, data: bytes, remote: Endpoint) -> None:
        sa = self._sas.get(header.spiI)
        if (
            sa is None
            or not sa.originalInitiator
            or sa.state != IkeState.CONNECTING
            or sa.outstanding is None
            or header.messageId != 0
        ):
            self._emit(MessageDropped(remote, "an IKE_SA_INIT response to nothing"))
            return
        try:
            _, payloads = decode_message(data)
        except IkeDecodeError as error:
            self._emit(
                MessageDropped(remote, f"malformed IKE_SA_INIT response: {error}")
            )
            return
        cookie = find_notify(payloads, NotifyType.COOKIE)
        if cookie is not None:
            sa.cookieRetries += 1
            if sa.cookieRetries > 2 or not cookie.data:
                self._fail_connecting(sa, "the peer keeps asking for a COOKIE")
                return
            sa.cookie = cookie.data
            self._resend_init(sa, int(group_of(sa)))
            return
        invalidKe = find_notify(payloads, NotifyType.INVALID_KE_PAYLOAD)
        if invalidKe is not None:
            wanted = (
                int.from_bytes(invalidKe.data[:2], "big")
                if len(invalidKe.data) >= 2
                else -1
            )
            offered = {int(p.dh) for p in sa.policy.proposals}
            current = group_of(sa)
            sa.refusedGroups.add(current)
            if wanted in sa.refusedGroups:
                # One INVALID_KE_PAYLOAD per group, and no way back: the
                # retries end when the groups we offer do.
                self._fail_connecting(
                    sa,
                    f"the peer wants DH group {wanted}, which it already refused",
                )
                return
            if wanted not in offered:
                self._fail_connecting(
                    sa, f"the peer wants DH group {wanted}, which we do not offer"
                )
                return
            self._resend_init(sa, wanted)
            return
        for notify in notifies(payloads):
            if notify.notifyType < 16384:
                self._fail_connecting(
                    sa, f"the peer refused: {enum_name(notify.notifyType, NotifyType)}"
                )
                return
        try:
            self._init_complete(sa, header, data, payloads, remote)
        except IkeError as error:
            self._fail_connecting(sa, str(error))

    def _resend_init(self, sa: IkeSa, group: int) -> None:
        sa.outstanding = None
        self._send_init(sa, group)

    def _init_complete(
        self,
        sa: IkeSa,
        header: IkeHeader,
        data: bytes,
        payloads: list[Payload],
        remote: Endpoint,
    ) -> None:
        answer = need(payloads, SaPayload, "SA")
        ke = need(payloads, KePayload, "KE")
        nonce = need(payloads, NoncePayload, "Nonce")
        chosen = accepted_ike(answer, sa.policy.proposals)
        assert sa.dh is not None
        if ke.group != chosen.proposal.dh or ke.group != group_of(sa):
            raise IkeError("the peer's KE is not of the chosen group")
        shared = sa.dh.exchange(ke.data)
        sa.spiR = header.spiR
        sa.nonceR = nonce.nonce
        sa.initResponse = data
        sa.outstanding = None
        self._float(sa, remote)
        self._keys(sa, IkeSuite.from_proposal(chosen.proposal), shared)
        self._nat_detect(sa, payloads, sa.spiR)
        sa.peerHashes = peer_hashes(payloads)
        sa.peerAuthorities = authorities_of(payloads)
        sa.fragmentation = self._fragmentation(payloads)
        sa.state = IkeState.AUTHENTICATING
        sa.dh = None
        self._auth_send(sa)

    def _keys(self, sa: IkeSa, suite: IkeSuite, shared: bytes) -> None:
        sa.suite = suite
        sa.prf = suite.prf
        _, keys = derive_ike_keys(suite, shared, sa.nonceI, sa.nonceR, sa.spiI, sa.spiR)
        sa.keys = keys
        initiator, responder = keys.protectors()
        if sa.originalInitiator:
            sa.sendProtector, sa.receiveProtector = initiator, responder
        else:
            sa.sendProtector, sa.receiveProtector = responder, initiator

    def _nat_detect(self, sa: IkeSa, payloads: list[Payload], spiR: bytes) -> None:
        """
        Compare the peer's NAT-D hashes with ours.  A request's hashes use
        a zero responder SPI (it had none yet), a response's the real one.
        """
        sources = [
            n.data
            for n in notifies(payloads)
            if n.notifyType == NotifyType.NAT_DETECTION_SOURCE_IP
        ]
        destinations = [
            n.data
            for n in notifies(payloads)
            if n.notifyType == NotifyType.NAT_DETECTION_DESTINATION_IP
        ]
        if sources:
            sa.remoteNat = natd(sa.spiI, spiR, sa.remote) not in sources
        if destinations:
            sa.localNat = natd(sa.spiI, spiR, sa.local) not in destinations

    def _fragmentation(self, payloads: list[Payload]) -> bool:
        """Both ends want RFC 7383 fragmentation: we, and the peer said so."""
        return bool(self.settings.fragmentSize) and (
            find_notify(payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) is not None
        )

    def _fail_connecting(self, sa: IkeSa, reason: str) -> None:
        self._emit(NegotiationFailed(sa.policy.name, reason, sa))
        self._remove(sa, reason)

    def _init_request(
        self, header: IkeHeader, data: bytes, local: Endpoint, remote: Endpoint
    ) -> None:
        if header.spiR != ZERO_SPI or header.messageId != 0:
            self._emit(
                MessageDropped(remote, "an IKE_SA_INIT request with a responder SPI")
            )
            return
        known = self._halfOpen.get((header.spiI, remote))
        if known is not None:
            if known.initRequest == data and known.initResponse:
                self._emit(SendDatagram(known.initResponse, local, remote))
            else:
                self._emit(
                    MessageDropped(remote, "a second IKE_SA_INIT for a known SPI")
                )
            return
        halfOpen = len(self._halfOpen)
        if halfOpen >= self.settings.halfOpenLimit:
            # Dropped unread and unanswered: no work, nothing to reflect,
            # and a real peer retransmits until an entry expires.
            self._emit(InitRequestTurnedAway(remote, "limit", halfOpen))
            return
        try:
            _, payloads = decode_message(data)
        except IkeDecodeError as error:
            self._plain_error(header, local, remote, error.notify, error.data)
            self._emit(NegotiationFailed(remote[0], f"malformed IKE_SA_INIT: {error}"))
            return
        policy = self._policy_for(local, remote)
        if policy is None or not policy.initiation.mayRespond:
            self._plain_error(header, local, remote, NotifyType.NO_PROPOSAL_CHOSEN)
            self._emit(
                NegotiationFailed(
                    remote[0], f"no KeyExchangeRule lets {remote[0]} start an IKE SA"
                )
            )
            return
        try:
            offer = need(payloads, SaPayload, "SA")
            ke = need(payloads, KePayload, "KE")
            nonce = need(payloads, NoncePayload, "Nonce")
        except IkeError as error:
            self._plain_error(header, local, remote, error.notify)
            self._emit(NegotiationFailed(policy.name, str(error)))
            return
        if halfOpen >= self.settings.cookieThreshold:
            expected = self._cookie(nonce.nonce, remote, header.spiI)
            first = payloads[0]
            if not (
                isinstance(first, NotifyPayload)
                and first.notifyType == NotifyType.COOKIE
                and hmac.compare_digest(first.data, expected)
            ):
                self._plain_error(header, local, remote, NotifyType.COOKIE, expected)
                self._emit(InitRequestTurnedAway(remote, "cookie", halfOpen))
                return
        try:
            chosen = select_ike(offer, policy.proposals)
        except IkeError as error:
            self._plain_error(header, local, remote, error.notify)
            self._emit(NegotiationFailed(policy.name, str(error)))
            return
        if ke.group != chosen.proposal.dh:
            self._plain_error(
                header,
                local,
                remote,
                NotifyType.INVALID_KE_PAYLOAD,
                int(chosen.proposal.dh).to_bytes(2, "big"),
            )
            return
        dh = dh_group(ke.group).generate()
        try:
            shared = dh.exchange(ke.data)
        except IkeError as error:
            self._plain_error(header, local, remote, NotifyType.INVALID_SYNTAX)
            self._emit(NegotiationFailed(policy.name, str(error)))
            return
        sa = IkeSa(
            policy=policy,
            originalInitiator=False,
            spiI=header.spiI,
            spiR=random_spi(),
            local=local,
            remote=remote,
            state=IkeState.AUTHENTICATING,
            nonceI=nonce.nonce,
            nonceR=os.urandom(self.settings.nonceSize),
            establishedAt=self._now,
        )
        self._keys(sa, IkeSuite.from_proposal(chosen.proposal), shared)
        self._nat_detect(sa, payloads, ZERO_SPI)
        sa.peerHashes = peer_hashes(payloads)
        sa.peerAuthorities = authorities_of(payloads)
        reply: list[Payload] = [
            chosen.payload(),
            KePayload(ke.group, dh.publicBytes),
            NoncePayload(sa.nonceR),
            *self._nat_notifies(sa),
        ]
        if policy.auth == AuthKind.SIGNATURE:
            if policy.sendCertRequest and self._authorities:
                reply.append(certificate_request(self._authorities))
            reply.append(hash_notify())
        sa.fragmentation = self._fragmentation(payloads)
        if sa.fragmentation:
            # RFC 7383 section 2.3: announced only in answer to an announcement.
            reply.append(fragmentation_notify())
        response = encode_message(
            self._message(sa, ExchangeType.IKE_SA_INIT, 0, True, reply)
        )
        sa.initRequest = data
        sa.initResponse = response
        sa.lastResponseId = 0
        sa.lastResponse = response
        sa.nextExpectedId = 1
        self._sas[sa.spiR] = sa
        self._halfOpen[(sa.spiI, remote)] = sa
        self._send(sa, response)

    def _plain_error(
        self,
        header: IkeHeader,
        local: Endpoint,
        remote: Endpoint,
        notify: int,
        data: bytes = b"",
    ) -> None:
        message = encode_message(
            IkeMessage(
                spiI=header.spiI,
                spiR=ZERO_SPI,
                exchange=int(ExchangeType.IKE_SA_INIT),
                messageId=0,
                isResponse=True,
                isInitiator=False,
                payloads=(NotifyPayload(0, notify, data=data),),
            )
        )
        self._emit(SendDatagram(message, local, remote))

    def _cookie(self, nonce: bytes, remote: Endpoint, spiI: bytes) -> bytes:
        address = ipaddress.ip_address(remote[0]).packed
        digest = hmac.new(self._cookieSecret, nonce + address + spiI, hashlib.sha256)
        return b"\x01" + digest.digest()[:16]

    def _policy_for(self, local: Endpoint, remote: Endpoint) -> PeerPolicy | None:
        for policy in self._peers:
            if (
                policy.localPort == local[1]
                and ipaddress.ip_address(local[0]) == policy.localAddress
                and ipaddress.ip_address(remote[0]) == policy.remoteAddress
            ):
                return policy
        # A peer that floated to another port, or a wildcard-bound socket.
        for policy in self._peers:
            if ipaddress.ip_address(remote[0]) == policy.remoteAddress and (
                policy.localPort == local[1]
            ):
                return policy
        return None
