"""
The certificate service: sign for a client, verify a peer for it, and list
the CA certificates it may use, each behind its SERVAUTH check.

VERIFY serves IKE clients, so it judges a peer as iked does locally: the
certificates are read and the path validated by L{nsstwisted.ike.certpath}
(RFC 5280 section 6), and the peer's certificate must also fit the IKE
end-entity profile of RFC 4945 (L{nsstwisted.ike.certprofile}), with the
extended key usages NssConfig C{VerifyEku} allows.

These methods block (the key ring is in SQLite, signing is CPU work or a
trip to a PKCS#11 token), so the session runs them in the server's thread
pool, never on the reactor thread.
They answer with a reply message or raise L{RequestRefused}, which carries the
return and reason codes the client will see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nsstwisted.ike.certpath import (
    ChainError,
    MalformedCertificate,
    load_certificates,
    validate_path,
)
from nsstwisted.ike.certprofile import UnfitCertificate, check_end_entity
from nsstwisted.ike.policy import PeerEku
from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.security.accessor import AccessorEnvironment
from nsstwisted.security.certservice import (
    IdentityKind,
    SignerIdentity,
    certificate_authorities,
    find_signer,
)
from nsstwisted.security.errors import (
    NotFoundError,
    SecurityEnvironmentError,
    SecurityRequestError,
    TokenKeyError,
    TokenUnavailableError,
)
from nsstwisted.security.keyring import KeyRing, KeyRingStore, RingEntry
from nsstwisted.security.labels import map_label
from nsstwisted.security.profiles import AccessLevel, ProfileSnapshot, ResourceClass
from nsstwisted.security.signing import SignatureScheme, verify
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.nss import (
    CaListReply,
    SignReply,
    SignRequest,
    VerifyReply,
    VerifyRequest,
)


class RequestRefused(Exception):
    """
    A request the server answers with an error: the codes go to the client,
    the text to nobody but the log (it may name profiles the client should
    not learn about).

    @ivar errorText: what the client's refusal says (its ERROR_TEXT), where
        it can say more than the reason code without telling the client
        anything but what its own request holds; C{None} for the reason
        code's own line.
    """

    def __init__(self, reasonCode: ReasonCode, text: str, errorText: str | None = None):
        super().__init__(text)
        self.reasonCode = reasonCode
        self.text = text
        self.errorText = errorText


@dataclass(frozen=True)
class Requester:
    """
    Who is asking: the logged-on client, its user ID and the security
    environment its logon built (C{None}: the user as the current snapshot
    knows it).
    """

    clientName: str
    userid: str
    requestId: int
    environment: AccessorEnvironment | None = None


@dataclass(frozen=True)
class PreparedSignature:
    """
    A signature checked and ready to be made.

    @ivar quick: whether it is cheap enough to make on the reactor thread:
        an elliptic-curve key held in memory signs in tens of microseconds,
        less than a trip to the thread pool and back costs, while an RSA
        signature (hundreds) belongs in the pool, where it neither holds
        up the other connections nor keeps the second core idle.
    """

    keyrings: KeyRingStore
    diagnostics: Diagnostics
    requester: Requester
    entry: RingEntry
    payload: bytes
    scheme: SignatureScheme
    prehashed: bool

    @property
    def quick(self) -> bool:
        return self.keyrings.signs_quickly(self.entry)

    def __call__(self) -> SignReply:
        entry, requester = self.entry, self.requester
        try:
            signature = self.keyrings.sign_entry(
                entry, self.payload, self.scheme, prehashed=self.prehashed
            )
        except TokenUnavailableError as e:
            # The key's token, not the server: the client may try again
            # later, or at another server, and every other key signs on.
            self.diagnostics.token_sign_refused(
                requester.clientName, entry.record.label, str(e), requester.requestId
            )
            raise RequestRefused(
                ReasonCode.NSSRsnKeyStoreUnavailable,
                e.text,
                f"the token holding the key of certificate {entry.record.label!r} "
                "cannot be used now",
            ) from None
        except TokenKeyError as e:
            # The token answers, and the key is not there (or not the
            # certificate's): the certificate has no usable private key.
            self.diagnostics.token_sign_refused(
                requester.clientName, entry.record.label, str(e), requester.requestId
            )
            raise RequestRefused(ReasonCode.NSSRsnNoPrivateKey, e.text) from None
        except SecurityEnvironmentError:
            raise
        except SecurityRequestError as e:
            # The key exists and is usable (checked before), so what is
            # left is a scheme that does not fit the key or a digest that
            # does not fit the scheme.
            raise RequestRefused(ReasonCode.NSSRsnSchemeMismatch, e.text) from None
        self.diagnostics.signed(
            requester.clientName,
            entry.record.label,
            self.scheme.name,
            requester.requestId,
        )
        return SignReply(signature=signature, certificate=entry.record.der)


class CertificateService:
    """
    @param ring: returns the current contents of the server's key ring (the
        NssConfig KeyRing), or C{None} if none is configured.
    @param snapshot: returns the current profile snapshot.
    @param verifyEku: returns the extended key usages VERIFY accepts in a
        peer's certificate (NssConfig C{VerifyEku}).
    """

    def __init__(
        self,
        keyrings: KeyRingStore,
        ring: Callable[[], KeyRing | None],
        snapshot: Callable[[], ProfileSnapshot],
        systemName: Callable[[], str],
        diagnostics: Diagnostics,
        verifyEku: Callable[[], PeerEku] = lambda: PeerEku.IKE,
    ) -> None:
        self._keyrings = keyrings
        self._verifyEku = verifyEku
        self._ring = ring
        self._snapshot = snapshot
        self._systemName = systemName
        self._diagnostics = diagnostics

    def _current_ring(self) -> KeyRing:
        ring = self._ring()
        if ring is None:
            raise RequestRefused(
                ReasonCode.NSSRsnServiceNotGranted,
                "no KeyRing is configured: the certificate service is off",
            )
        return ring

    def _permitted(self, requester: Requester, resource: str) -> bool:
        decision = self._snapshot().authorize(
            requester.userid,
            ResourceClass.SERVAUTH,
            resource,
            AccessLevel.READ,
            environment=requester.environment,
        )
        self._diagnostics.servauth_check(requester.userid, resource, decision)
        return decision.allowed

    def authorities(self, requester: Requester) -> list[RingEntry]:
        """
        The CERTAUTH entries of the ring this client may use.

        An entry whose mapped label another entry of the ring shares is left
        out: its profile would govern the other certificate as well.
        """
        system = self._systemName()
        ring = self._current_ring()
        return [
            entry
            for entry in certificate_authorities(ring)
            if (mapped := map_label(entry.record.label)) not in ring.label_collisions
            and self._permitted(requester, f"EZB.NSSCERT.{system}.{mapped}.CERTAUTH")
        ]

    def sign(self, requester: Requester, request: SignRequest) -> SignReply:
        """
        Check and make a signature, in one call (in the thread pool).
        """
        return self.prepare_sign(requester, request)()

    def prepare_sign(
        self, requester: Requester, request: SignRequest
    ) -> PreparedSignature:
        """
        Find the signer and check the requester's authority to it, which
        needs only memory (the ring, the snapshot), and return the
        signature still to be made.

        @raise RequestRefused: no such signer, or no authority to it.
        """
        ring = self._current_ring()
        identity = None
        if request.identity is not None:
            identity = SignerIdentity(
                IdentityKind[request.identity.kind.name], request.identity.value
            )
        try:
            entry = find_signer(ring, label=request.label, identity=identity)
        except NotFoundError:
            if request.identity is not None:
                kind, value = request.identity.kind.name, request.identity.value
                wanted = f"identity {kind} {value}"
                errorText = f"no certificate for identity {kind} {value}"
            else:
                wanted = f"label {request.label}"
                errorText = f"no certificate with label {request.label!r}"
            self._diagnostics.cert_not_found(
                requester.clientName, wanted, requester.requestId
            )
            raise RequestRefused(
                ReasonCode.NSSRsnCertNotFound, f"no certificate for {wanted}", errorText
            ) from None
        mapped = map_label(entry.record.label)
        profile = f"EZB.NSSCERT.{self._systemName()}.{mapped}.HOST"
        if mapped in ring.label_collisions:
            # Fail closed: whichever certificate the client is permitted to,
            # the profile cannot tell this one from the other.
            self._diagnostics.cert_label_shared(
                requester.clientName,
                entry.record.label,
                profile,
                requester.requestId,
            )
            raise RequestRefused(
                ReasonCode.NSSRsnCertAccessDenied,
                f"{profile} governs more than one certificate of the ring",
            )
        if not self._permitted(requester, profile):
            self._diagnostics.cert_not_authorized(
                requester.clientName,
                requester.userid,
                profile,
                entry.record.label,
                requester.requestId,
            )
            raise RequestRefused(
                ReasonCode.NSSRsnCertAccessDenied,
                f"not authorized to {profile}",
            )
        payload = request.digest if request.digest is not None else request.data
        assert payload is not None
        return PreparedSignature(
            self._keyrings,
            self._diagnostics,
            requester,
            entry,
            payload,
            SignatureScheme[request.scheme.name],
            request.digest is not None,
        )

    def verify(self, requester: Requester, request: VerifyRequest) -> VerifyReply:
        try:
            certificate, *chain = load_certificates(
                (request.certificate, *request.chain)
            )
        except MalformedCertificate as e:
            # Certificate 0 is CERTIFICATE, the others CHAIN_CERTIFICATEs.
            self._diagnostics.verified(
                requester.clientName, "(unreadable)", str(e), requester.requestId
            )
            raise RequestRefused(ReasonCode.NSSRsnCertMalformed, str(e)) from None
        subject = certificate.subject.rfc4514_string()
        anchors = [e.record.certificate for e in self.authorities(requester)]
        try:
            validate_path(certificate, chain, anchors)
            check_end_entity(certificate, self._verifyEku())
        except (ChainError, UnfitCertificate) as e:
            self._diagnostics.verified(
                requester.clientName, subject, str(e), requester.requestId
            )
            raise RequestRefused(ReasonCode.NSSRsnChainInvalid, str(e)) from None
        scheme = SignatureScheme[request.scheme.name]
        prehashed = request.digest is not None
        payload = request.digest if request.digest is not None else request.data
        assert payload is not None
        try:
            good = verify(
                certificate.public_key(),
                payload,
                request.signature,
                scheme,
                prehashed=prehashed,
            )
        except SecurityRequestError as e:
            raise RequestRefused(ReasonCode.NSSRsnSchemeMismatch, e.text) from None
        outcome = "signature valid" if good else "signature not valid"
        self._diagnostics.verified(
            requester.clientName, subject, outcome, requester.requestId
        )
        if not good:
            raise RequestRefused(ReasonCode.NSSRsnVerifyFailed, "signature not valid")
        return VerifyReply()

    def ca_list(self, requester: Requester) -> CaListReply:
        return CaListReply(
            certificates=tuple(e.record.der for e in self.authorities(requester))
        )
