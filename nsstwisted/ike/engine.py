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
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from nsstwisted.ike.auth import (
    SIGNATURE_HASH_ALGORITHMS_OFFER,
    decode_hash_algorithms,
    decode_signature_auth,
    encode_hash_algorithms,
    encode_signature_auth,
    psk_auth_data,
    signed_octets,
)
from nsstwisted.ike.constants import (
    NATT_KEEPALIVE,
    AuthMethod,
    CertEncoding,
    DhGroupId,
    ExchangeType,
    NotifyType,
    PayloadType,
    ProtocolId,
)
from nsstwisted.ike.crypto import (
    dh_group,
    nat_detection_hash,
    random_child_spi,
    random_spi,
)
from nsstwisted.ike.errors import IkeDecodeError, IkeError, IntegrityError
from nsstwisted.ike.events import (
    Action,
    ChildSaDeleted,
    ChildSaEstablished,
    Endpoint,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaRekeyed,
    MessageDropped,
    NegotiationFailed,
    PeerCheckNeeded,
    Retransmitted,
    SendDatagram,
    SignatureNeeded,
)
from nsstwisted.ike.identity import (
    check_certificate_identity,
    describe_id,
    id_matches,
    id_payload,
)
from nsstwisted.ike.interfaces import Signed
from nsstwisted.ike.keys import (
    EspSuite,
    IkeSuite,
    derive_child_keys,
    derive_ike_keys,
    derive_rekeyed_ike_keys,
)
from nsstwisted.ike.message import (
    IkeHeader,
    IkeMessage,
    decode_encrypted,
    decode_message,
    encode_encrypted,
    encode_message,
)
from nsstwisted.ike.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TsPayload,
    find,
    find_all,
    find_notify,
    notifies,
)
from nsstwisted.ike.policy import (
    AuthKind,
    ChildPolicy,
    PeerPolicy,
    TunnelMode,
)
from nsstwisted.ike.sa import (
    ChildSa,
    ChildState,
    IkeSa,
    IkeState,
    OutstandingRequest,
)
from nsstwisted.ike.selection import (
    accepted_esp,
    accepted_ike,
    esp_sa_payload,
    ike_sa_payload,
    narrow,
    select_esp,
    select_ike,
    selectors_for,
    within,
)

__all__ = ["EngineSettings", "IkeEngine"]

_ZERO_SPI = bytes(8)


@dataclass(frozen=True)
class EngineSettings:
    """
    The engine's timers and limits; the defaults are strongSwan's.

    @ivar cookieThreshold: half-open SAs from which a responder asks for a
        COOKIE before it spends a DH computation (0: always).
    """

    retransmitTimeout: float = 4.0
    retransmitBase: float = 1.8
    retransmitTries: int = 5
    halfOpenTimeout: float = 30.0
    cookieThreshold: int = 30
    keepaliveInterval: float = 20.0
    nonceSize: int = 32


def _name(value: int, kind: Any) -> str:
    try:
        return str(kind(value).name)
    except ValueError:
        return str(value)


class IkeEngine:
    """
    The IKE SAs of one stack and the exchanges that make, rekey and delete
    them.
    """

    def __init__(
        self,
        peers: Sequence[PeerPolicy],
        settings: EngineSettings | None = None,
        authorities: Sequence[bytes] = (),
    ) -> None:
        """
        @param authorities: SHA-1 hashes of the trusted CAs' public keys,
            sent in CERTREQ (L{set_authorities} updates them).
        """
        self.settings = settings or EngineSettings()
        self._peers = list(peers)
        self._authorities = tuple(authorities)
        self._sas: dict[bytes, IkeSa] = {}
        self._halfOpen: dict[tuple[bytes, Endpoint], IkeSa] = {}
        self._pending: dict[int, tuple[IkeSa, Callable[[Any], None]]] = {}
        self._requestIds = itertools.count(1)
        self._out: list[Action] = []
        self._now = 0.0
        self._cookieSecret = os.urandom(32)
        self._keepalives: dict[bytes, float] = {}

    # -- configuration ------------------------------------------------------

    @property
    def peers(self) -> list[PeerPolicy]:
        return list(self._peers)

    def update_peers(self, peers: Sequence[PeerPolicy]) -> None:
        """
        New policy (a refresh).  Existing SAs keep the policy they were
        made with until they are rekeyed or deleted.
        """
        self._peers = list(peers)

    def set_authorities(self, authorities: Sequence[bytes]) -> None:
        self._authorities = tuple(authorities)

    def peer(self, name: str) -> PeerPolicy | None:
        for policy in self._peers:
            if policy.name == name:
                return policy
        return None

    def endpoints(self) -> set[Endpoint]:
        """The local addresses and ports the policy needs sockets on."""
        return {(str(p.localAddress), p.localPort) for p in self._peers}

    def sas(self) -> list[IkeSa]:
        """Every IKE SA, in creation order."""
        return sorted(self._sas.values(), key=lambda sa: sa.serial)

    # -- plumbing -------------------------------------------------------------

    def _take(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _emit(self, action: Action) -> None:
        self._out.append(action)

    def _message(
        self,
        sa: IkeSa,
        exchange: ExchangeType,
        messageId: int,
        response: bool,
        payloads: Sequence[Payload],
    ) -> IkeMessage:
        return IkeMessage(
            spiI=sa.spiI,
            spiR=sa.spiR,
            exchange=int(exchange),
            messageId=messageId,
            isResponse=response,
            isInitiator=sa.originalInitiator,
            payloads=tuple(payloads),
        )

    def _seal(
        self,
        sa: IkeSa,
        exchange: ExchangeType,
        messageId: int,
        response: bool,
        payloads: Sequence[Payload],
    ) -> bytes:
        assert sa.sendProtector is not None
        return encode_encrypted(
            self._message(sa, exchange, messageId, response, payloads),
            sa.sendProtector,
        )

    def _send(self, sa: IkeSa, message: bytes) -> None:
        self._emit(SendDatagram(message, sa.local, sa.remote))

    def _request(
        self,
        sa: IkeSa,
        exchange: ExchangeType,
        build: Callable[[], Sequence[Payload]],
        onResponse: Callable[[list[Any]], None],
        onTimeout: Callable[[], None] | None = None,
    ) -> None:
        """
        Send a request on C{sa} now, or once the one in flight is
        answered (window size 1).  C{build} runs when it goes out, so that
        it sees the SA as it is then.
        """

        def go() -> None:
            if sa.state == IkeState.DELETED:
                return
            messageId = sa.nextRequestId
            sa.nextRequestId += 1
            message = self._seal(sa, exchange, messageId, False, build())
            sa.outstanding = OutstandingRequest(
                messageId,
                message,
                onResponse,
                onTimeout or (lambda: self._peer_silent(sa)),
                nextAt=self._now + self.settings.retransmitTimeout,
            )
            self._send(sa, message)

        if sa.outstanding is None:
            go()
        else:
            sa.queue.append(go)

    def _respond(
        self,
        sa: IkeSa,
        exchange: int,
        messageId: int,
        payloads: Sequence[Payload],
    ) -> None:
        message = self._seal(sa, ExchangeType(exchange), messageId, True, payloads)
        sa.lastResponseId = messageId
        sa.lastResponse = message
        sa.processingId = None
        self._send(sa, message)

    def _next_queued(self, sa: IkeSa) -> None:
        if sa.outstanding is None and sa.queue:
            sa.queue.pop(0)()

    def _ask(self, sa: IkeSa, then: Callable[[Any], None]) -> int:
        requestId = next(self._requestIds)
        self._pending[requestId] = (sa, then)
        return requestId

    # -- receiving --------------------------------------------------------------

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
        if header.isResponse:
            self._response(sa, header, data, remote)
        else:
            self._request_in(sa, header, data, remote)

    def _open(self, sa: IkeSa, header: IkeHeader, data: bytes) -> list[Any]:
        """
        Decode and decrypt.

        @raise IntegrityError: the ICV does not verify.
        @raise IkeDecodeError: the (authentic) content is malformed.
        """
        _, outer = decode_message(data)
        if not outer or not isinstance(outer[-1], EncryptedPayload):
            raise IkeDecodeError("an encrypted exchange without an SK payload")
        assert sa.receiveProtector is not None
        return list(decode_encrypted(data, header, outer, sa.receiveProtector))

    def _float(self, sa: IkeSa, remote: Endpoint) -> None:
        # RFC 7296 section 2.23: answer where the latest authentic message
        # came from (strongSwan moves to its NAT-T port for IKE_AUTH).
        if remote != sa.remote:
            sa.remote = remote

    def _response(
        self, sa: IkeSa, header: IkeHeader, data: bytes, remote: Endpoint
    ) -> None:
        outstanding = sa.outstanding
        if outstanding is None or header.messageId != outstanding.messageId:
            self._emit(MessageDropped(remote, "a response to no request of ours"))
            return
        try:
            payloads = self._open(sa, header, data)
        except IntegrityError:
            self._emit(MessageDropped(remote, "bad ICV"))
            return
        except IkeDecodeError as error:
            self._emit(MessageDropped(remote, f"malformed response: {error}"))
            return
        self._float(sa, remote)
        sa.outstanding = None
        try:
            outstanding.onResponse(payloads)
        except IkeError as error:
            self._emit(NegotiationFailed(sa.policy.name, str(error), sa))
        self._next_queued(sa)

    def _request_in(
        self, sa: IkeSa, header: IkeHeader, data: bytes, remote: Endpoint
    ) -> None:
        messageId = header.messageId
        if messageId == sa.lastResponseId and sa.lastResponse:
            try:
                self._open(sa, header, data)
            except IkeError:
                self._emit(MessageDropped(remote, "bad retransmission"))
                return
            self._send(sa, sa.lastResponse)
            return
        if messageId == sa.processingId:
            self._emit(
                MessageDropped(remote, f"request {messageId} is still being processed")
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
            payloads = self._open(sa, header, data)
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
                [_error_notify(error.notify, error.data)],
            )
            self._emit(
                NegotiationFailed(sa.policy.name, f"malformed request: {error}", sa)
            )
            return
        self._float(sa, remote)
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
            elif exchange == ExchangeType.INFORMATIONAL and sa.state not in (
                IkeState.CONNECTING,
                IkeState.AUTHENTICATING,
            ):
                self._informational_request(sa, messageId, payloads)
            else:
                raise IkeError(
                    f"unexpected {_name(exchange, ExchangeType)} request "
                    f"in state {sa.state.value}",
                    notify=NotifyType.INVALID_SYNTAX,
                )
        except IkeError as error:
            self._respond(
                sa, exchange, messageId, [_error_notify(error.notify, error.data)]
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

    # -- IKE_SA_INIT, initiator ------------------------------------------------

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
            spiR=_ZERO_SPI,
            local=(str(policy.localAddress), policy.localPort),
            remote=(str(policy.remoteAddress), policy.remotePort),
            establishedAt=now,
        )
        if child is not None:
            sa.pendingChild = ChildSa(sa, child, random_child_spi(), initiator=True)
        self._sas[sa.spiI] = sa
        self._send_init(sa, int(policy.proposals[0].dh))
        return self._take()

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
            payloads.append(_hash_notify())
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
                data=_natd(sa.spiI, sa.spiR, sa.local),
            ),
            NotifyPayload(
                0,
                NotifyType.NAT_DETECTION_DESTINATION_IP,
                data=_natd(sa.spiI, sa.spiR, sa.remote),
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
            self._resend_init(sa, int(_group_of(sa)))
            return
        invalidKe = find_notify(payloads, NotifyType.INVALID_KE_PAYLOAD)
        if invalidKe is not None:
            wanted = (
                int.from_bytes(invalidKe.data[:2], "big")
                if len(invalidKe.data) >= 2
                else -1
            )
            offered = {int(p.dh) for p in sa.policy.proposals}
            if wanted not in offered or wanted == _group_of(sa):
                self._fail_connecting(
                    sa, f"the peer wants DH group {wanted}, which we do not offer"
                )
                return
            self._resend_init(sa, wanted)
            return
        for notify in notifies(payloads):
            if notify.notifyType < 16384:
                self._fail_connecting(
                    sa, f"the peer refused: {_name(notify.notifyType, NotifyType)}"
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
        answer = _need(payloads, SaPayload, "SA")
        ke = _need(payloads, KePayload, "KE")
        nonce = _need(payloads, NoncePayload, "Nonce")
        chosen = accepted_ike(answer, sa.policy.proposals)
        assert sa.dh is not None
        if ke.group != chosen.proposal.dh or ke.group != _group_of(sa):
            raise IkeError("the peer's KE is not of the chosen group")
        shared = sa.dh.exchange(ke.data)
        sa.spiR = header.spiR
        sa.nonceR = nonce.nonce
        sa.initResponse = data
        sa.outstanding = None
        self._float(sa, remote)
        self._keys(sa, IkeSuite.from_proposal(chosen.proposal), shared)
        self._nat_detect(sa, payloads, sa.spiR)
        sa.peerHashes = _peer_hashes(payloads)
        sa.peerAuthorities = _authorities(payloads)
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
            sa.remoteNat = _natd(sa.spiI, spiR, sa.remote) not in sources
        if destinations:
            sa.localNat = _natd(sa.spiI, spiR, sa.local) not in destinations

    def _fail_connecting(self, sa: IkeSa, reason: str) -> None:
        self._emit(NegotiationFailed(sa.policy.name, reason, sa))
        self._remove(sa, reason)

    # -- IKE_SA_INIT, responder -------------------------------------------------

    def _init_request(
        self, header: IkeHeader, data: bytes, local: Endpoint, remote: Endpoint
    ) -> None:
        if header.spiR != _ZERO_SPI or header.messageId != 0:
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
            offer = _need(payloads, SaPayload, "SA")
            ke = _need(payloads, KePayload, "KE")
            nonce = _need(payloads, NoncePayload, "Nonce")
        except IkeError as error:
            self._plain_error(header, local, remote, error.notify)
            self._emit(NegotiationFailed(policy.name, str(error)))
            return
        if len(self._halfOpen) >= self.settings.cookieThreshold:
            expected = self._cookie(nonce.nonce, remote, header.spiI)
            first = payloads[0]
            if not (
                isinstance(first, NotifyPayload)
                and first.notifyType == NotifyType.COOKIE
                and hmac.compare_digest(first.data, expected)
            ):
                self._plain_error(header, local, remote, NotifyType.COOKIE, expected)
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
        self._nat_detect(sa, payloads, _ZERO_SPI)
        sa.peerHashes = _peer_hashes(payloads)
        sa.peerAuthorities = _authorities(payloads)
        reply: list[Payload] = [
            chosen.payload(),
            KePayload(ke.group, dh.publicBytes),
            NoncePayload(sa.nonceR),
            *self._nat_notifies(sa),
        ]
        if policy.auth == AuthKind.SIGNATURE:
            if policy.sendCertRequest and self._authorities:
                reply.append(_certreq(self._authorities))
            reply.append(_hash_notify())
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
                spiR=_ZERO_SPI,
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

    # -- IKE_AUTH, initiator ----------------------------------------------------

    def _local_id(self, sa: IkeSa) -> IdPayload:
        kind = PayloadType.IDi if sa.originalInitiator else PayloadType.IDr
        return id_payload(sa.policy.localIdentity, kind)

    def _octets(self, sa: IkeSa, idBody: bytes, ofInitiator: bool) -> bytes:
        assert sa.prf is not None and sa.keys is not None
        if ofInitiator:
            return signed_octets(
                sa.initRequest, sa.nonceR, sa.prf, sa.keys.skPi, idBody
            )
        return signed_octets(sa.initResponse, sa.nonceI, sa.prf, sa.keys.skPr, idBody)

    def _auth_send(self, sa: IkeSa) -> None:
        ours = self._local_id(sa)
        octets = self._octets(sa, ours.body(), ofInitiator=True)
        self._authenticate(
            sa, octets, lambda auth: self._auth_request_out(sa, ours, auth)
        )

    def _authenticate(
        self,
        sa: IkeSa,
        octets: bytes,
        then: Callable[[list[Payload]], None],
    ) -> None:
        """Make our AUTH (and CERT) payloads: at once for a PSK, else ask."""
        policy = sa.policy
        if policy.auth == AuthKind.PRESHARED_KEY:
            assert sa.prf is not None and policy.sharedKey is not None
            sa.authMethod = AuthMethod.SHARED_KEY
            then(
                [
                    AuthPayload(
                        AuthMethod.SHARED_KEY,
                        psk_auth_data(sa.prf, policy.sharedKey, octets),
                    )
                ]
            )
            return

        def signed(result: Any) -> None:
            if isinstance(result, BaseException):
                raise IkeError(
                    f"our AUTH signature could not be made: {result}",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                )
            assert isinstance(result, Signed)
            sa.authMethod = result.method
            data = encode_signature_auth(result.method, result.scheme, result.signature)
            certs: list[Payload] = [
                CertPayload(CertEncoding.X509_SIGNATURE, der)
                for der in result.certificates
            ]
            then([*certs, AuthPayload(result.method, data)])

        requestId = self._ask(sa, signed)
        self._emit(SignatureNeeded(requestId, sa, octets, sa.peerHashes))

    def _auth_request_out(
        self, sa: IkeSa, ours: IdPayload, auth: list[Payload]
    ) -> None:
        policy = sa.policy
        payloads: list[Payload] = [ours]
        certs = [p for p in auth if isinstance(p, CertPayload)]
        payloads += certs
        payloads.append(NotifyPayload(0, NotifyType.INITIAL_CONTACT))
        if (
            policy.auth == AuthKind.SIGNATURE
            and policy.sendCertRequest
            and self._authorities
        ):
            payloads.append(_certreq(self._authorities))
        if policy.remoteIdentity is not None:
            payloads.append(id_payload(policy.remoteIdentity, PayloadType.IDr))
        payloads += [p for p in auth if isinstance(p, AuthPayload)]
        child = sa.pendingChild
        if child is not None and child.policy is not None:
            if child.policy.mode == TunnelMode.TRANSPORT:
                payloads.append(NotifyPayload(0, NotifyType.USE_TRANSPORT_MODE))
            payloads += [
                esp_sa_payload(child.policy.proposals, child.spiIn, pfs=False),
                TsPayload(PayloadType.TSi, selectors_for(child.policy.localSelectors)),
                TsPayload(PayloadType.TSr, selectors_for(child.policy.remoteSelectors)),
            ]
        self._request(
            sa,
            ExchangeType.IKE_AUTH,
            lambda: payloads,
            lambda answer: self._auth_response(sa, answer),
        )

    def _auth_response(self, sa: IkeSa, payloads: list[Payload]) -> None:
        for notify in notifies(payloads):
            if notify.notifyType in (
                NotifyType.AUTHENTICATION_FAILED,
                NotifyType.INVALID_SYNTAX,
                NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
            ):
                reason = (
                    f"the peer refused IKE_AUTH: {_name(notify.notifyType, NotifyType)}"
                )
                self._emit(NegotiationFailed(sa.policy.name, reason, sa))
                self._remove(sa, reason)
                return
        try:
            peerId = _need(payloads, IdPayload, "IDr")
            auth = _need(payloads, AuthPayload, "AUTH")
            octets = self._octets(sa, peerId.body(), ofInitiator=False)
            self._check_peer(
                sa,
                peerId,
                auth,
                payloads,
                octets,
                lambda: self._auth_done_initiator(sa, payloads),
            )
        except IkeError as error:
            self._auth_failed(sa, str(error))

    def _auth_failed(self, sa: IkeSa, reason: str, tell: bool = True) -> None:
        self._emit(NegotiationFailed(sa.policy.name, reason, sa))
        if sa.state != IkeState.DELETED and not tell:
            self._remove(sa, reason)
        elif sa.state != IkeState.DELETED:
            # Tell the peer (best effort) and forget the SA at once.
            message = self._seal(
                sa,
                ExchangeType.INFORMATIONAL,
                sa.nextRequestId,
                False,
                [NotifyPayload(0, NotifyType.AUTHENTICATION_FAILED)],
            )
            self._send(sa, message)
            self._remove(sa, reason)

    def _check_peer(
        self,
        sa: IkeSa,
        peerId: IdPayload,
        auth: AuthPayload,
        payloads: list[Payload],
        octets: bytes,
        then: Callable[[], None],
    ) -> None:
        """
        Check the peer's ID against the policy and its certificate, and its
        AUTH; C{then} runs once all of that holds.

        @raise IkeError: AUTHENTICATION_FAILED, found locally.
        """
        policy = sa.policy
        if policy.remoteIdentity is not None and not id_matches(
            policy.remoteIdentity, peerId
        ):
            raise IkeError(
                f"the peer's ID {describe_id(peerId.idType, peerId.data)} is not "
                "the one "
                "its KeyExchangeRule expects",
                notify=NotifyType.AUTHENTICATION_FAILED,
            )
        sa.peerId = peerId
        if policy.auth == AuthKind.PRESHARED_KEY:
            if auth.method != AuthMethod.SHARED_KEY:
                raise IkeError(
                    "the peer did not use the shared key",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                )
            assert sa.prf is not None and policy.sharedKey is not None
            expected = psk_auth_data(sa.prf, policy.sharedKey, octets)
            if not hmac.compare_digest(expected, auth.data):
                raise IkeError(
                    "the peer's AUTH does not verify (shared key)",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                )
            then()
            return
        certificates = tuple(
            p.data
            for p in find_all(payloads, CertPayload)
            if p.encoding == CertEncoding.X509_SIGNATURE
        )
        if not certificates:
            raise IkeError(
                "the peer sent no certificate", notify=NotifyType.AUTHENTICATION_FAILED
            )
        try:
            certificate = x509.load_der_x509_certificate(certificates[0])
        except ValueError as error:
            raise IkeError(
                f"the peer's certificate is malformed: {error}",
                notify=NotifyType.AUTHENTICATION_FAILED,
            ) from None
        check_certificate_identity(certificate, peerId)
        scheme, signature = decode_signature_auth(
            auth.method, auth.data, certificate.public_key()
        )
        sa.peerCertificates = certificates

        def checked(error: Any) -> None:
            if error is not None:
                raise IkeError(
                    f"the peer's certificate or AUTH was rejected: {error}",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                )
            then()

        requestId = self._ask(sa, checked)
        self._emit(
            PeerCheckNeeded(requestId, sa, certificates, scheme, octets, signature)
        )

    def _auth_done_initiator(self, sa: IkeSa, payloads: list[Payload]) -> None:
        self._established(sa)
        child = sa.pendingChild
        sa.pendingChild = None
        if child is None or child.policy is None:
            return
        error = _first_error(payloads)
        if error is not None:
            self._emit(
                NegotiationFailed(
                    sa.policy.name,
                    f"CHILD_SA {child.policy.name} refused: {_name(error, NotifyType)}",
                    sa,
                    kind="child",
                    local=True,
                )
            )
            return
        try:
            self._child_answer(
                sa,
                child,
                payloads,
                pfs=False,
                nonceI=sa.nonceI,
                nonceR=sa.nonceR,
                shared=None,
            )
        except IkeError as error:
            self._emit(
                NegotiationFailed(
                    sa.policy.name,
                    f"CHILD_SA {child.policy.name}: {error}",
                    sa,
                    kind="child",
                    local=True,
                )
            )
            self._delete_child_quietly(sa, child)

    def _established(self, sa: IkeSa) -> None:
        sa.state = IkeState.ESTABLISHED
        sa.establishedAt = self._now
        self._halfOpen.pop((sa.spiI, sa.remote), None)
        for key, value in list(self._halfOpen.items()):
            if value is sa:
                del self._halfOpen[key]
        if sa.policy.lifetime and sa.originalInitiator:
            sa.rekeyAt = self._now + sa.policy.lifetime
        elif sa.policy.lifetime:
            # The responder rekeys a little later, so that the two ends do
            # not collide when their lifetimes are equal (RFC 7296 2.8.1).
            sa.rekeyAt = self._now + sa.policy.lifetime * 1.1
        if sa.localNat:
            self._keepalives[sa.localSpi] = self._now + self.settings.keepaliveInterval
        self._emit(IkeSaEstablished(sa))

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
        answer = _need(payloads, SaPayload, "SA")
        chosen = accepted_esp(answer, child.policy.proposals, pfs)
        tsi = _need_ts(payloads, PayloadType.TSi)
        tsr = _need_ts(payloads, PayloadType.TSr)
        if not within(
            tsi.selectors, selectors_for(child.policy.localSelectors)
        ) or not within(tsr.selectors, selectors_for(child.policy.remoteSelectors)):
            raise IkeError(
                "the peer's traffic selectors are wider than ours",
                notify=NotifyType.TS_UNACCEPTABLE,
            )
        suite = EspSuite.from_proposal(chosen.proposal)
        child.spiOut = chosen.peerSpi
        child.suite = suite
        child.keys = derive_child_keys(
            sa.prf, sa.keys.skD, suite, nonceI, nonceR, shared
        )
        child.localSelectors = tsi.selectors
        child.remoteSelectors = tsr.selectors
        child.mode = (
            TunnelMode.TRANSPORT
            if find_notify(payloads, NotifyType.USE_TRANSPORT_MODE) is not None
            else TunnelMode.TUNNEL
        )
        child.initiator = True
        self._child_installed(sa, child, replaces)

    def _child_installed(
        self, sa: IkeSa, child: ChildSa, replaces: ChildSa | None
    ) -> None:
        child.state = ChildState.INSTALLED
        child.establishedAt = self._now
        if child.policy is not None and child.policy.lifetime:
            factor = 1.0 if child.initiator else 1.1
            child.rekeyAt = self._now + child.policy.lifetime * factor
        if child not in sa.children:
            sa.children.append(child)
        if replaces is not None:
            replaces.state = ChildState.REKEYED
            replaces.rekeyAt = None
        self._emit(ChildSaEstablished(child, replaces))

    # -- IKE_AUTH, responder ----------------------------------------------------

    def _auth_request(self, sa: IkeSa, messageId: int, payloads: list[Payload]) -> None:
        peerId = find(payloads, IdPayload)
        if peerId is None or peerId.payloadType != PayloadType.IDi:
            raise IkeError("IKE_AUTH without IDi", notify=NotifyType.INVALID_SYNTAX)
        auth = _need(payloads, AuthPayload, "AUTH")
        octets = self._octets(sa, peerId.body(), ofInitiator=True)
        sa.peerAuthorities = sa.peerAuthorities or _authorities(payloads)

        def authenticated() -> None:
            ours = self._local_id(sa)
            mine = self._octets(sa, ours.body(), ofInitiator=False)

            def respond(auth: list[Payload]) -> None:
                childPart, child = self._child_for_auth(sa, payloads)
                self._respond(
                    sa, ExchangeType.IKE_AUTH, messageId, [ours, *auth, *childPart]
                )
                self._established(sa)
                if child is not None:
                    self._child_installed(sa, child, None)

            self._authenticate(sa, mine, respond)

        try:
            self._check_peer(sa, peerId, auth, payloads, octets, authenticated)
        except IkeError as error:
            self._respond(
                sa, ExchangeType.IKE_AUTH, messageId, [_error_notify(error.notify)]
            )
            self._emit(NegotiationFailed(sa.policy.name, str(error), sa))
            self._remove(sa, str(error))

    def _child_for_auth(
        self, sa: IkeSa, payloads: list[Payload]
    ) -> tuple[list[Payload], ChildSa | None]:
        """Our answer to the CHILD_SA part of IKE_AUTH, and the CHILD_SA."""
        offer = find(payloads, SaPayload)
        if offer is None:
            return [], None  # childless (RFC 6023)
        try:
            return self._child_response(
                sa,
                payloads,
                offer,
                None,
                pfs=False,
                nonceI=sa.nonceI,
                nonceR=sa.nonceR,
                shared=None,
            )
        except IkeError as error:
            self._emit(
                NegotiationFailed(
                    sa.policy.name,
                    f"CHILD_SA refused: {error}",
                    sa,
                    kind="child",
                    local=False,
                )
            )
            return [_error_notify(error.notify)], None

    def _child_response(
        self,
        sa: IkeSa,
        payloads: list[Payload],
        offer: SaPayload,
        policy: ChildPolicy | None,
        *,
        pfs: bool,
        nonceI: bytes,
        nonceR: bytes,
        shared: bytes | None,
    ) -> tuple[list[Payload], ChildSa]:
        """
        Choose a CHILD_SA policy (or use C{policy}, for a rekey), a
        proposal and narrowed selectors for a peer's request.

        @raise IkeError: NO_PROPOSAL_CHOSEN or TS_UNACCEPTABLE.
        """
        assert sa.prf is not None and sa.keys is not None
        tsi = _need_ts(payloads, PayloadType.TSi)
        tsr = _need_ts(payloads, PayloadType.TSr)
        candidates = (
            [policy]
            if policy is not None
            else [c for c in sa.policy.children if c.initiation.mayRespond]
        )
        for candidate in candidates:
            remote = narrow(tsi.selectors, selectors_for(candidate.remoteSelectors))
            local = narrow(tsr.selectors, selectors_for(candidate.localSelectors))
            if remote and local:
                break
        else:
            raise IkeError(
                "no LocalDynVpnRule covers the peer's traffic selectors",
                notify=NotifyType.TS_UNACCEPTABLE,
            )
        chosen = select_esp(offer, candidate.proposals, pfs)
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
        transport = (
            find_notify(payloads, NotifyType.USE_TRANSPORT_MODE) is not None
            and candidate.mode == TunnelMode.TRANSPORT
        )
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

    # -- CREATE_CHILD_SA --------------------------------------------------------

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
            nonce = os.urandom(self.settings.nonceSize)
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
                esp_sa_payload(_with_group(policy, group), child.spiIn),
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
            invalidKe = find_notify(payloads, NotifyType.INVALID_KE_PAYLOAD)
            if invalidKe is not None and "retried" not in state:
                wanted = int.from_bytes(invalidKe.data[:2], "big")
                if wanted in {int(p.dh) for p in policy.proposals}:
                    state["retried"] = True
                    state["group"] = wanted
                    self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)
                    return
            error = _first_error(payloads)
            if error is not None:
                self._child_failed(
                    sa, child, replaces, f"refused: {_name(error, NotifyType)}"
                )
                return
            try:
                nonce = _need(payloads, NoncePayload, "Nonce")
                shared = None
                dh = state.get("dh")
                answer = _need(payloads, SaPayload, "SA")
                chosenDh = _dh_of(answer)
                if chosenDh:
                    ke = _need(payloads, KePayload, "KE")
                    if dh is None or ke.group != chosenDh:
                        raise IkeError("the peer's KE is not of the chosen group")
                    shared = dh.exchange(ke.data)
                child.dhGroup = chosenDh
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
                self._delete_child(replaces, "rekeyed")

        self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)

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
        if replaces is not None and replaces.state == ChildState.REKEYING:
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
        offer = _need(payloads, SaPayload, "SA")
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
            policy = replaces.policy
        nonceI = _need(payloads, NoncePayload, "Nonce").nonce
        nonceR = os.urandom(self.settings.nonceSize)
        candidates = [policy] if policy is not None else list(sa.policy.children)
        ours = [p for c in candidates for p in c.proposals]
        chosen = select_esp(offer, ours, pfs=True)
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
            offer,
            policy,
            pfs=True,
            nonceI=nonceI,
            nonceR=nonceR,
            shared=shared,
        )
        child.dhGroup = int(chosen.proposal.dh)
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
        self._child_installed(sa, child, replaces)

    # -- IKE SA rekey -----------------------------------------------------------

    def _rekey_ike_request(
        self, sa: IkeSa, messageId: int, payloads: list[Payload], offer: SaPayload
    ) -> None:
        assert sa.prf is not None and sa.keys is not None
        chosen = select_ike(offer, sa.policy.proposals, spiSize=8)
        ke = _need(payloads, KePayload, "KE")
        if ke.group != chosen.proposal.dh:
            raise IkeError(
                "the peer's KE is not of the group we chose",
                notify=NotifyType.INVALID_KE_PAYLOAD,
                data=int(chosen.proposal.dh).to_bytes(2, "big"),
            )
        nonceI = _need(payloads, NoncePayload, "Nonce").nonce
        nonceR = os.urandom(self.settings.nonceSize)
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
        if new.policy.lifetime:
            factor = 1.0 if new.originalInitiator else 1.1
            new.rekeyAt = self._now + new.policy.lifetime * factor
        self._sas[new.localSpi] = new
        self._keepalives.pop(old.localSpi, None)
        if new.localNat:
            self._keepalives[new.localSpi] = self._now + self.settings.keepaliveInterval
        self._emit(IkeSaRekeyed(old, new))

    def rekey_ike_sa(self, sa: IkeSa, now: float) -> list[Action]:
        """Rekey an established IKE SA (C{ipsec -k refresh})."""
        self._now = now
        if sa.state == IkeState.ESTABLISHED:
            self._rekey_ike(sa)
        return self._take()

    def _rekey_ike(self, sa: IkeSa) -> None:
        assert sa.suite is not None
        current = next(
            (p for p in sa.policy.proposals if IkeSuite.from_proposal(p) == sa.suite),
            sa.policy.proposals[0],
        )
        proposals = [current, *[p for p in sa.policy.proposals if p != current]]
        state: dict[str, Any] = {"group": int(current.dh), "spi": random_spi()}
        sa.rekeyAt = None

        def build() -> list[Payload]:
            state["nonce"] = os.urandom(self.settings.nonceSize)
            dh = dh_group(state["group"]).generate()
            state["dh"] = dh
            return [
                ike_sa_payload(proposals, spi=state["spi"]),
                NoncePayload(state["nonce"]),
                KePayload(state["group"], dh.publicBytes),
            ]

        def answered(payloads: list[Payload]) -> None:
            invalidKe = find_notify(payloads, NotifyType.INVALID_KE_PAYLOAD)
            if invalidKe is not None and "retried" not in state:
                wanted = int.from_bytes(invalidKe.data[:2], "big")
                if wanted in {int(p.dh) for p in proposals}:
                    state["retried"] = True
                    state["group"] = wanted
                    self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)
                    return
            error = _first_error(payloads)
            if error is not None:
                self._emit(
                    NegotiationFailed(
                        sa.policy.name,
                        f"IKE SA rekey refused: {_name(error, NotifyType)}",
                        sa,
                        local=True,
                    )
                )
                sa.rekeyAt = self._now + 60 if sa.policy.lifetime else None
                return
            chosen = accepted_ike(
                _need(payloads, SaPayload, "SA"), proposals, spiSize=8
            )
            ke = _need(payloads, KePayload, "KE")
            if ke.group != chosen.proposal.dh or ke.group != state["group"]:
                raise IkeError("the peer's KE is not of the chosen group")
            shared = state["dh"].exchange(ke.data)
            nonceR = _need(payloads, NoncePayload, "Nonce").nonce
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
            self._hand_over(sa, new)
            self._delete_ike(sa, "rekeyed")

        self._request(sa, ExchangeType.CREATE_CHILD_SA, build, answered)

    # -- INFORMATIONAL ------------------------------------------------------------

    def _informational_request(
        self, sa: IkeSa, messageId: int, payloads: list[Payload]
    ) -> None:
        deletes = find_all(payloads, DeletePayload)
        if any(d.protocol == ProtocolId.IKE for d in deletes):
            self._respond(sa, ExchangeType.INFORMATIONAL, messageId, [])
            reason = (
                "rekeyed" if sa.state == IkeState.REKEYED else "deleted by the peer"
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
                    else "deleted by the peer"
                )
                self._child_gone(sa, child, reason)
        answer: list[Payload] = []
        if ours:
            answer.append(DeletePayload(ProtocolId.ESP, 4, tuple(ours)))
        error = _first_error(payloads)
        if error is not None:
            self._emit(
                NegotiationFailed(
                    sa.policy.name,
                    f"the peer reports {_name(error, NotifyType)}",
                    sa,
                    kind="notice",
                )
            )
            if error == NotifyType.AUTHENTICATION_FAILED:
                self._respond(sa, ExchangeType.INFORMATIONAL, messageId, answer)
                self._remove(sa, "the peer reports AUTHENTICATION_FAILED")
                return
        self._respond(sa, ExchangeType.INFORMATIONAL, messageId, answer)

    def _child_gone(self, sa: IkeSa, child: ChildSa, reason: str) -> None:
        if child.state == ChildState.DELETED:
            return
        child.state = ChildState.DELETED
        if child in sa.children:
            sa.children.remove(child)
        self._emit(ChildSaDeleted(child, reason))

    def delete_child_sa(self, child: ChildSa, reason: str, now: float) -> list[Action]:
        """Delete a CHILD_SA (C{ipsec -y deactivate})."""
        self._now = now
        self._delete_child(child, reason)
        return self._take()

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

    def delete_ike_sa(self, sa: IkeSa, reason: str, now: float) -> list[Action]:
        """Delete an IKE SA and its CHILD_SAs (C{ipsec -k deactivate})."""
        self._now = now
        if sa.state in (IkeState.CONNECTING, IkeState.AUTHENTICATING):
            self._remove(sa, reason)
        elif sa.state not in (IkeState.DELETED, IkeState.DELETING):
            self._delete_ike(sa, reason)
        return self._take()

    def _delete_ike(self, sa: IkeSa, reason: str) -> None:
        if sa.state != IkeState.REKEYED:
            sa.state = IkeState.DELETING
        sa.rekeyAt = None
        self._request(
            sa,
            ExchangeType.INFORMATIONAL,
            lambda: [DeletePayload(ProtocolId.IKE, 0, ())],
            lambda answer: self._remove(sa, reason),
            lambda: self._remove(sa, reason),
        )

    def check_liveness(self, sa: IkeSa, now: float) -> list[Action]:
        """Send an empty INFORMATIONAL (dead peer detection)."""
        self._now = now
        if sa.state == IkeState.ESTABLISHED:
            self._request(
                sa, ExchangeType.INFORMATIONAL, lambda: [], lambda answer: None
            )
        return self._take()

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

    # -- removal, timers ----------------------------------------------------------

    def _peer_silent(self, sa: IkeSa) -> None:
        self._remove(sa, "peer not responding")

    def _remove(self, sa: IkeSa, reason: str) -> None:
        """Forget an SA; an L{IkeSaDeleted} only for one that was up."""
        if sa.state == IkeState.DELETED:
            return
        wasUp = sa.state in (IkeState.ESTABLISHED, IkeState.DELETING, IkeState.REKEYED)
        sa.state = IkeState.DELETED
        sa.deleteReason = reason
        sa.outstanding = None
        sa.queue.clear()
        for child in list(sa.children):
            if child.state not in (ChildState.DELETED, ChildState.CREATING):
                child.state = ChildState.DELETED
                self._emit(ChildSaDeleted(child, reason))
        sa.children = []
        if self._sas.get(sa.localSpi) is sa:
            del self._sas[sa.localSpi]
        for key, value in list(self._halfOpen.items()):
            if value is sa:
                del self._halfOpen[key]
        self._keepalives.pop(sa.localSpi, None)
        for requestId, (owner, _) in list(self._pending.items()):
            if owner is sa:
                del self._pending[requestId]
        if wasUp:
            self._emit(IkeSaDeleted(sa, reason))

    def next_deadline(self) -> float | None:
        """When L{expire} should next be called; L{None} for never."""
        times: list[float] = []
        for sa in self._sas.values():
            if sa.outstanding is not None:
                times.append(sa.outstanding.nextAt)
            if sa.state in (IkeState.CONNECTING, IkeState.AUTHENTICATING):
                times.append(sa.establishedAt + self.settings.halfOpenTimeout)
            if sa.rekeyAt is not None and sa.state == IkeState.ESTABLISHED:
                times.append(sa.rekeyAt)
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
                self._send(sa, outstanding.message)
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

    # -- answers from the signer and the verifier ---------------------------------

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
                    [_error_notify(error.notify)],
                )
                self._emit(NegotiationFailed(sa.policy.name, str(error), sa))
                self._remove(sa, str(error))
            else:
                self._emit(NegotiationFailed(sa.policy.name, str(error), sa))
        return self._take()


# -- helpers ----------------------------------------------------------------------


def _natd(spiI: bytes, spiR: bytes, endpoint: Endpoint) -> bytes:
    return nat_detection_hash(
        spiI, spiR, ipaddress.ip_address(endpoint[0]), endpoint[1]
    )


def _hash_notify() -> NotifyPayload:
    return NotifyPayload(
        0,
        NotifyType.SIGNATURE_HASH_ALGORITHMS,
        data=encode_hash_algorithms(SIGNATURE_HASH_ALGORITHMS_OFFER),
    )


def _certreq(authorities: Sequence[bytes]) -> CertReqPayload:
    return CertReqPayload(CertEncoding.X509_SIGNATURE, b"".join(authorities))


def _peer_hashes(payloads: list[Payload]) -> frozenset[int] | None:
    notify = find_notify(payloads, NotifyType.SIGNATURE_HASH_ALGORITHMS)
    return None if notify is None else decode_hash_algorithms(notify.data)


def _authorities(payloads: list[Payload]) -> tuple[bytes, ...]:
    found: list[bytes] = []
    for request in find_all(payloads, CertReqPayload):
        if request.encoding == CertEncoding.X509_SIGNATURE:
            try:
                found += request.authorities()
            except IkeDecodeError:
                continue
    return tuple(found)


def _error_notify(notify: int, data: bytes = b"") -> NotifyPayload:
    return NotifyPayload(0, notify, data=data)


def _first_error(payloads: list[Payload]) -> int | None:
    for notify in notifies(payloads):
        if notify.notifyType < 16384:
            return notify.notifyType
    return None


def _need(payloads: list[Payload], cls: type[Any], what: str) -> Any:
    found = find(payloads, cls)
    if found is None:
        raise IkeError(
            f"the {what} payload is missing", notify=NotifyType.INVALID_SYNTAX
        )
    return found


def _need_ts(payloads: list[Payload], kind: PayloadType) -> TsPayload:
    for payload in find_all(payloads, TsPayload):
        if payload.payloadType == kind:
            return payload
    raise IkeError(
        f"the {kind.name} payload is missing", notify=NotifyType.INVALID_SYNTAX
    )


def _group_of(sa: IkeSa) -> int:
    assert sa.dh is not None
    return int(sa.dh.group.groupId)


def _dh_of(answer: SaPayload) -> int:
    for proposal in answer.proposals:
        for transform in proposal.transforms:
            if transform.transformType == 4 and transform.transformId:
                return transform.transformId
    return 0


def _with_group(policy: ChildPolicy, group: int) -> list[Any]:
    """Our ESP proposals, with the one of C{group} first (INVALID_KE retry)."""
    first = [p for p in policy.proposals if int(p.dh) == group]
    return first + [p for p in policy.proposals if int(p.dh) != group]
