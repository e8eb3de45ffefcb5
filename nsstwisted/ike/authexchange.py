"""
IKE_AUTH (RFC 7296 section 1.2, RFC 7427): our AUTH (a shared key at once,
a signature by asking the signer), the peer's (its ID against the policy
and its certificate, then the verifier), and the CHILD_SA that rides on
the exchange.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from nsstwisted.ike.auth import (
    decode_signature_auth,
    encode_signature_auth,
    psk_auth_data,
    signed_octets,
)
from nsstwisted.ike.certpath import (
    MalformedCertificate,
    chain_to_send,
    load_certificate,
)
from nsstwisted.ike.childexchange import ChildExchanges
from nsstwisted.ike.constants import (
    AuthMethod,
    CertEncoding,
    ExchangeType,
    NotifyType,
    PayloadType,
)
from nsstwisted.ike.enginebase import (
    authorities_of,
    certificate_request,
    enum_name,
    error_notify,
    first_error,
    need,
)
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.events import (
    IkeSaEstablished,
    NegotiationFailed,
    PeerCheckNeeded,
    SignatureNeeded,
)
from nsstwisted.ike.identity import (
    check_certificate_identity,
    describe_id,
    id_matches,
    id_payload,
)
from nsstwisted.ike.interfaces import Signed
from nsstwisted.ike.payloads import (
    AuthPayload,
    CertPayload,
    IdPayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TsPayload,
    find,
    find_all,
    notifies,
)
from nsstwisted.ike.policy import (
    AuthKind,
    TunnelMode,
)
from nsstwisted.ike.sa import (
    ChildSa,
    IkeSa,
    IkeState,
)
from nsstwisted.ike.selection import (
    esp_sa_payload,
    select_esp,
    selectors_for,
)

__all__ = ["AuthExchanges"]


class AuthExchanges(ChildExchanges):
    """IKE_AUTH, with its CHILD_SA (built on L{ChildExchanges})."""

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
            # Our certificate and the intermediates the peer needs to reach
            # a root it trusts (its CERTREQ says which, or all of them).
            certs: list[Payload] = [
                CertPayload(CertEncoding.X509_SIGNATURE, der)
                for der in chain_to_send(result.certificates, sa.peerAuthorities)
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
            payloads.append(certificate_request(self._authorities))
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
                refusal = enum_name(notify.notifyType, NotifyType)
                reason = f"the peer refused IKE_AUTH: {refusal}"
                self._emit(NegotiationFailed(sa.policy.name, reason, sa))
                self._remove(sa, reason)
                return
        try:
            peerId = need(payloads, IdPayload, "IDr")
            auth = need(payloads, AuthPayload, "AUTH")
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
            datagrams = self._seal(
                sa,
                ExchangeType.INFORMATIONAL,
                sa.nextRequestId,
                False,
                [NotifyPayload(0, NotifyType.AUTHENTICATION_FAILED)],
            )
            self._send(sa, *datagrams)
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
        AUTH; C{then} runs once all of that holds.  The SA records the
        peer's ID and certificates only then.

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
            sa.peerId = peerId
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
            certificate = load_certificate(certificates[0])
        except MalformedCertificate as error:
            raise IkeError(
                f"the peer's certificate is malformed: {error}",
                notify=NotifyType.AUTHENTICATION_FAILED,
            ) from None
        check_certificate_identity(certificate, peerId)
        scheme, signature = decode_signature_auth(
            auth.method, auth.data, certificate.public_key()
        )

        def checked(error: Any) -> None:
            if error is not None:
                raise IkeError(
                    f"the peer's certificate or AUTH was rejected: {error}",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                )
            # Only now is this who the peer is: an identity that is still
            # being checked is never recorded on the SA.
            sa.peerId = peerId
            sa.peerCertificates = certificates
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
        error = first_error(payloads)
        if error is not None:
            self._emit(
                NegotiationFailed(
                    sa.policy.name,
                    f"CHILD_SA {child.policy.name} refused: "
                    f"{enum_name(error, NotifyType)}",
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
        # Initiator or responder, the SA is refreshed before it expires
        # (L{nsstwisted.ike.lifetimes}).
        sa.rekeyAt = self._refresh_at(sa.policy.lifetime)
        if sa.localNat:
            self._keepalives[sa.localSpi] = self._now + self.settings.keepaliveInterval
        self._emit(IkeSaEstablished(sa))

    def _auth_request(self, sa: IkeSa, messageId: int, payloads: list[Payload]) -> None:
        peerId = find(payloads, IdPayload)
        if peerId is None or peerId.payloadType != PayloadType.IDi:
            raise IkeError("IKE_AUTH without IDi", notify=NotifyType.INVALID_SYNTAX)
        auth = need(payloads, AuthPayload, "AUTH")
        octets = self._octets(sa, peerId.body(), ofInitiator=True)
        sa.peerAuthorities = sa.peerAuthorities or authorities_of(payloads)

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
                sa, ExchangeType.IKE_AUTH, messageId, [error_notify(error.notify)]
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
            rule = self._child_rule(sa, payloads, None)
            chosen = select_esp(offer, rule[0].proposals, pfs=False)
            return self._child_response(
                sa,
                payloads,
                rule,
                chosen,
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
            return [error_notify(error.notify)], None
