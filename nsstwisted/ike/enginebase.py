"""
The engine's common part: its settings, its SA tables, and the plumbing
every exchange uses (message IDs, the one request in flight, cached
answers, pending questions to the signer and the verifier, removal), plus
the payload helpers the exchanges share.  L{nsstwisted.ike.engine} says
what the engine does as a whole.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nsstwisted.ike.auth import (
    SIGNATURE_HASH_ALGORITHMS_OFFER,
    decode_hash_algorithms,
    encode_hash_algorithms,
)
from nsstwisted.ike.constants import (
    CertEncoding,
    ExchangeType,
    NotifyType,
    PayloadType,
)
from nsstwisted.ike.crypto import (
    nat_detection_hash,
)
from nsstwisted.ike.errors import IkeDecodeError, IkeError
from nsstwisted.ike.events import (
    Action,
    ChildSaDeleted,
    Endpoint,
    IkeSaDeleted,
    MessageFragmented,
    SendDatagram,
)
from nsstwisted.ike.fragments import (
    DEFAULT_FRAGMENT_SIZE,
    encode_fragments,
    message_room,
)
from nsstwisted.ike.lifetimes import refresh_after
from nsstwisted.ike.liveness import SpiHintLimiter
from nsstwisted.ike.message import (
    IkeHeader,
    IkeMessage,
    decode_encrypted,
    decode_message,
    encode_encrypted,
)
from nsstwisted.ike.payloads import (
    CertReqPayload,
    EncryptedPayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TsPayload,
    decode_payloads,
    find,
    find_all,
    find_notify,
    notifies,
)
from nsstwisted.ike.policy import (
    ChildPolicy,
    PeerPolicy,
)
from nsstwisted.ike.sa import (
    ChildState,
    IkeSa,
    IkeState,
    OutstandingRequest,
)

__all__ = ["EngineBase", "EngineSettings"]

ZERO_SPI = bytes(8)


@dataclass(frozen=True)
class EngineSettings:
    """
    The engine's timers and limits; the defaults are strongSwan's.

    @ivar cookieThreshold: half-open SAs from which a responder asks for a
        COOKIE before it spends a DH computation (0: always).
    @ivar halfOpenLimit: half-open SAs at which a responder drops every
        new IKE_SA_INIT, even one with a valid COOKIE: a sender that can
        answer COOKIEs (a real address) must not fill memory and the CPU
        without bound.  Above C{cookieThreshold}, or a spoofed flood would
        lock out every peer instead of meeting COOKIEs.
    """

    retransmitTimeout: float = 4.0
    retransmitBase: float = 1.8
    retransmitTries: int = 5
    halfOpenTimeout: float = 30.0
    cookieThreshold: int = 30
    halfOpenLimit: int = 1000
    keepaliveInterval: float = 20.0
    nonceSize: int = 32
    fragmentSize: int = DEFAULT_FRAGMENT_SIZE
    """
    RFC 7383: the largest IP datagram an encrypted message may take before
    it goes out in fragments (IP and UDP headers included); 0 turns IKE
    fragmentation off, neither announced nor accepted.
    """


class EngineBase:
    """The state and plumbing the exchange classes share."""

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
        #: Where the nonces of CREATE_CHILD_SA come from, and the jitter of
        #: refresh times: the system's randomness, which a test replaces to
        #: decide which side of a rekey collision wins.
        self.nonces: Callable[[int], bytes] = os.urandom
        self.jitter: Callable[[], float] = random.random
        self._spiHints = SpiHintLimiter()

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

    def half_open(self) -> int:
        """How many IKE SAs we answered IKE_SA_INIT for, not yet authenticated."""
        return len(self._halfOpen)

    def sas(self) -> list[IkeSa]:
        """Every IKE SA, in creation order."""
        return sorted(self._sas.values(), key=lambda sa: sa.serial)

    def _nonce(self) -> bytes:
        return self.nonces(self.settings.nonceSize)

    def _refresh_at(self, lifetime: int) -> float | None:
        """When an SA established now with C{lifetime} is refreshed."""
        if not lifetime:
            return None
        return self._now + refresh_after(lifetime, self.jitter)

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
    ) -> tuple[bytes, ...]:
        """
        The datagrams of an encrypted message: one, or its RFC 7383
        fragments when both ends support them and it is too large.
        """
        assert sa.sendProtector is not None
        message = self._message(sa, exchange, messageId, response, payloads)
        if not (sa.fragmentation and self.settings.fragmentSize):
            return (encode_encrypted(message, sa.sendProtector),)
        room = message_room(self.settings.fragmentSize, sa.local, sa.remote[1])
        datagrams = encode_fragments(message, sa.sendProtector, room)
        if len(datagrams) > 1:
            self._emit(MessageFragmented(sa, exchange, messageId, len(datagrams)))
        return datagrams

    def _send(self, sa: IkeSa, *messages: bytes) -> None:
        for message in messages:
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
            datagrams = self._seal(sa, exchange, messageId, False, build())
            sa.outstanding = OutstandingRequest(
                messageId,
                datagrams[0],
                onResponse,
                onTimeout or (lambda: self._peer_silent(sa)),
                nextAt=self._now + self.settings.retransmitTimeout,
                fragments=datagrams if len(datagrams) > 1 else (),
            )
            self._send(sa, *datagrams)

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
        datagrams = self._seal(sa, ExchangeType(exchange), messageId, True, payloads)
        sa.lastResponseId = messageId
        sa.lastResponse = datagrams[0]
        sa.lastResponseFragments = datagrams if len(datagrams) > 1 else ()
        sa.processingId = None
        self._send(sa, *datagrams)

    def _next_queued(self, sa: IkeSa) -> None:
        if sa.outstanding is None and sa.queue:
            sa.queue.pop(0)()

    def _ask(self, sa: IkeSa, then: Callable[[Any], None]) -> int:
        requestId = next(self._requestIds)
        self._pending[requestId] = (sa, then)
        return requestId

    def _open(
        self,
        sa: IkeSa,
        header: IkeHeader,
        data: bytes,
        inner: tuple[int, bytes] | None = None,
    ) -> list[Any]:
        """
        Decode and decrypt.

        @param inner: the first inner payload type and the plaintext of a
            message reassembled from RFC 7383 fragments (each already
            checked), which is then decoded instead of C{data}.
        @raise IntegrityError: the ICV does not verify.
        @raise IkeDecodeError: the (authentic) content is malformed.
        """
        if inner is not None:
            payloads = decode_payloads(*inner)
            if payloads and isinstance(payloads[-1], EncryptedPayload):
                raise IkeDecodeError("an SK payload inside fragments")
            return list(payloads)
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

    def _peer_silent(self, sa: IkeSa) -> None:
        sa.unreachable = True
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
        sa.reassembler.clear()
        for requestId, (owner, _) in list(self._pending.items()):
            if owner is sa:
                del self._pending[requestId]
        if wasUp:
            self._emit(IkeSaDeleted(sa, reason))


def enum_name(value: int, kind: Any) -> str:
    try:
        return str(kind(value).name)
    except ValueError:
        return str(value)


def natd(spiI: bytes, spiR: bytes, endpoint: Endpoint) -> bytes:
    return nat_detection_hash(
        spiI, spiR, ipaddress.ip_address(endpoint[0]), endpoint[1]
    )


def hash_notify() -> NotifyPayload:
    return NotifyPayload(
        0,
        NotifyType.SIGNATURE_HASH_ALGORITHMS,
        data=encode_hash_algorithms(SIGNATURE_HASH_ALGORITHMS_OFFER),
    )


def fragmentation_notify() -> NotifyPayload:
    """IKEV2_FRAGMENTATION_SUPPORTED: no SPI, no data (RFC 7383 section 2.3)."""
    return NotifyPayload(0, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)


def certificate_request(authorities: Sequence[bytes]) -> CertReqPayload:
    return CertReqPayload(CertEncoding.X509_SIGNATURE, b"".join(authorities))


def peer_hashes(payloads: list[Payload]) -> frozenset[int] | None:
    notify = find_notify(payloads, NotifyType.SIGNATURE_HASH_ALGORITHMS)
    return None if notify is None else decode_hash_algorithms(notify.data)


def authorities_of(payloads: list[Payload]) -> tuple[bytes, ...]:
    found: list[bytes] = []
    for request in find_all(payloads, CertReqPayload):
        if request.encoding == CertEncoding.X509_SIGNATURE:
            try:
                found += request.authorities()
            except IkeDecodeError:
                continue
    return tuple(found)


def error_notify(notify: int, data: bytes = b"") -> NotifyPayload:
    return NotifyPayload(0, notify, data=data)


def first_error(payloads: list[Payload]) -> int | None:
    for notify in notifies(payloads):
        if notify.notifyType < 16384:
            return notify.notifyType
    return None


def need(payloads: list[Payload], cls: type[Any], what: str) -> Any:
    found = find(payloads, cls)
    if found is None:
        raise IkeError(
            f"the {what} payload is missing", notify=NotifyType.INVALID_SYNTAX
        )
    return found


def need_ts(payloads: list[Payload], kind: PayloadType) -> TsPayload:
    for payload in find_all(payloads, TsPayload):
        if payload.payloadType == kind:
            return payload
    raise IkeError(
        f"the {kind.name} payload is missing", notify=NotifyType.INVALID_SYNTAX
    )


def group_of(sa: IkeSa) -> int:
    assert sa.dh is not None
    return int(sa.dh.group.groupId)


def dh_of(answer: SaPayload) -> int:
    for proposal in answer.proposals:
        for transform in proposal.transforms:
            if transform.transformType == 4 and transform.transformId:
                return transform.transformId
    return 0


def with_group(policy: ChildPolicy, group: int) -> list[Any]:
    """Our ESP proposals, with the one of C{group} first (INVALID_KE retry)."""
    first = [p for p in policy.proposals if int(p.dh) == group]
    return first + [p for p in policy.proposals if int(p.dh) != group]
