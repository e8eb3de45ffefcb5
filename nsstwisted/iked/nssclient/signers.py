"""
An NSS stack's signer and verifier (L{nsstwisted.ike.interfaces}).

An NSS stack (C{ServiceType Cert}) has nssd make its AUTH signatures: it
hashes the signed octets here and sends nssd the digest, the scheme and
the identity the certificate certifies, and gets back the signature and
the certificate.  Its private key is never on this side.  It also has
nssd check the peer's certificate chain and signature (C{VERIFY}), and
takes the CA list for CERTREQ from nssd.  Before it asks, it holds the
peer's certificate to the RFC 4945 profile with the extended key usages
the peer's policy accepts (L{nsstwisted.ike.certprofile}): nssd applies
the profile too, with its own C{VerifyEku}, but only iked knows which peer
the certificate is for, and a peer's C{PeerEku Ike} must hold whatever the
server allows.

A stack that is not an NSS client uses credentials held by iked itself
(L{nsstwisted.iked.keyexchange.localsigners}).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.logger import Logger
from zope.interface import implementer

from nsstwisted.client.connection import ConnectionClosed, NssRequestFailed
from nsstwisted.ike.auth import SignatureScheme, choose_signature
from nsstwisted.ike.certpath import (
    ChainError,
    MalformedCertificate,
    check_chain_length,
    issuers_of,
    load_certificate,
)
from nsstwisted.ike.certprofile import UnfitCertificate, check_end_entity
from nsstwisted.ike.constants import AuthMethod, HashAlgorithmId, IdType, NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.interfaces import IPeerVerifier, ISigner, Signed
from nsstwisted.ike.localauth import ChainRefused, authority_hash
from nsstwisted.ike.policy import LocalIdentity, PeerEku
from nsstwisted.iked.nssclient.connection import StackNssConnection
from nsstwisted.iked.stackmodel.latency import LatencyHistogram
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.nss import Identity, IdentityKind, SignatureSchemeCode, SignReply

__all__ = [
    "NssSigner",
    "NssVerifier",
    "nss_identity",
]

_CHAIN_REASONS = frozenset(
    {ReasonCode.NSSRsnChainInvalid, ReasonCode.NSSRsnCertMalformed}
)
"""nssd's reasons for a VERIFY whose certificates make no trusted path."""

_KINDS = {
    IdType.FQDN: IdentityKind.FQDN,
    IdType.RFC822_ADDR: IdentityKind.EMAIL,
    IdType.IPV4_ADDR: IdentityKind.IPADDR,
    IdType.IPV6_ADDR: IdentityKind.IPADDR,
    IdType.DER_ASN1_DN: IdentityKind.DN,
}


def nss_identity(identity: LocalIdentity) -> Identity:
    """The NSS SIGN request's IDENTITY for a configured IKE identity."""
    kind = _KINDS.get(identity.idType)
    if kind is None:
        raise ValueError(
            f"an NSS certificate cannot be found by {identity.idType.name}"
        )
    return Identity(kind, identity.value)


def _rsa_first_choices(
    peerHashes: frozenset[int] | None,
) -> list[tuple[AuthMethod, SignatureScheme]]:
    """
    What to ask nssd for before we know the key type: RSA as strongSwan
    would sign, then ECDSA (the key type decides which nssd accepts).
    The curve is not known either: nssd signs any ECDSA hash with any
    curve, and the certificate of its reply tells which one it is.
    """
    if peerHashes is None:
        return [
            (AuthMethod.RSA_SIGNATURE, SignatureScheme.RSA_PKCS1_SHA1),
            (AuthMethod.ECDSA_SHA256_P256, SignatureScheme.ECDSA_SHA256),
        ]
    hashes = [
        h
        for h in (
            HashAlgorithmId.SHA2_256,
            HashAlgorithmId.SHA2_384,
            HashAlgorithmId.SHA2_512,
        )
        if h in peerHashes
    ]
    if not hashes:
        raise IkeError(
            "the peer accepts no hash we sign with",
            notify=NotifyType.AUTHENTICATION_FAILED,
        )
    name = {2: "256", 3: "384", 4: "512"}[int(hashes[0])]
    return [
        (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme[f"RSA_PKCS1_SHA{name}"]),
        (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme[f"ECDSA_SHA{name}"]),
    ]


@dataclass(frozen=True)
class _Learned:
    """
    What a SIGN reply taught about an identity's certificate in nssd.

    @ivar session: the NSS session the issuers were read on: a new one
        (after a reconnection, perhaps to another nssd) reads them again.
    @ivar issuers: DER of the CA certificates that issued it, from nssd's
        CA list (L{issuers_of}); none if the list was refused (no
        CERTAUTH certificate the client may use), until the next session.
    """

    der: bytes
    certificate: x509.Certificate
    session: object
    issuers: tuple[bytes, ...]


class NssSigner:
    """
    Signs through the stack's NSS connection, with the certificate that
    certifies the stack's local IKE identity.

    The key type and curve decide the signature scheme, and only nssd
    holds the key: the first signature for an identity asks for RSA and,
    if nssd answers C{NSSRsnSchemeMismatch}, for ECDSA; the certificate
    that comes back with the signature is remembered, so every later
    negotiation asks once, for the scheme that key wants
    (L{choose_signature}).  A reply whose key wants another scheme than
    the request assumed (a P-384 curve or an RSA key over 3072 bits,
    which the first guess cannot know, or a rollover) is signed again
    once, as the key wants, so that the scheme never depends on how much
    the signer knew; a C{NSSRsnSchemeMismatch} for the remembered key (a
    rollover to the other key type) forgets it and learns again, once.

    While the first signature for an identity finds out its key, other
    negotiations for it wait for that rather than repeat the refused
    request.

    The CA certificates that issued the certificate come from nssd's CA
    list (the CERTAUTH certificates of its ring this client may use),
    read when the certificate is first seen on a session, and go with
    the signature for the engine to send as the chain.

    @ivar requests: how many SIGN requests went to nssd (tests count them).
    @ivar latency: each SIGN request's round trip, from sending it to
        nssd's answer (a signature or a refusal), for the stack's metric;
        a request whose connection was lost is not counted, since its time
        says nothing of nssd's.
    """

    def __init__(
        self,
        connection: StackNssConnection,
        latency: LatencyHistogram | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._connection = connection
        self._learned: dict[LocalIdentity, _Learned] = {}
        self._learning: dict[LocalIdentity, list[Deferred[None]]] = {}
        self._clock = clock
        self.requests = 0
        self.latency = LatencyHistogram() if latency is None else latency
        self.description = f"nssd (stack {connection.stack.stackName})"

    def sign_for(self, identity: LocalIdentity) -> Any:
        """This signer bound to one identity (the engine's ISigner)."""
        return _BoundNssSigner(self, identity)

    async def _request(
        self,
        session: Any,
        identity: LocalIdentity,
        scheme: SignatureScheme,
        octets: bytes,
    ) -> SignReply:
        self.requests += 1
        sent = self._clock()
        try:
            reply: SignReply = await session.sign(
                scheme=SignatureSchemeCode[scheme.name],
                identity=nss_identity(identity),
                digest=scheme.digest(octets),
            )
        except ConnectionClosed:
            raise
        except NssRequestFailed:
            self.latency.observe(self._clock() - sent)
            raise
        self.latency.observe(self._clock() - sent)
        return reply

    async def _learn(
        self, session: Any, identity: LocalIdentity, der: bytes
    ) -> _Learned:
        """The certificate of a reply, with its issuers, remembered."""
        known = self._learned.get(identity)
        if known is not None and known.der == der and known.session is session:
            return known
        certificate = known.certificate if known and known.der == der else None
        if certificate is None:
            certificate = x509.load_der_x509_certificate(der)
        issuers: tuple[bytes, ...]
        try:
            authorities = await session.caCertificates()
        except NssRequestFailed:
            # Our certificate alone: the peer may hold the intermediates.
            # A lost connection brings a new session, which asks again.
            issuers = ()
        else:
            issuers = tuple(
                c.public_bytes(Encoding.DER)
                for c in issuers_of(certificate, authorities)
            )
        learned = _Learned(der, certificate, session, issuers)
        self._learned[identity] = learned
        return learned

    async def _sign(
        self, identity: LocalIdentity, octets: bytes, peerHashes: frozenset[int] | None
    ) -> Signed:
        session = await self._connection.whenConnected()
        if identity not in self._learned and identity in self._learning:
            # Another negotiation is finding out what the key is: wait for
            # it rather than make the same refused request (many peers
            # come at once after a restart).
            waiter: Deferred[None] = Deferred()
            self._learning[identity].append(waiter)
            await waiter
        if identity in self._learned:
            return await self._sign_as_known(session, identity, octets, peerHashes)
        self._learning.setdefault(identity, [])
        try:
            return await self._sign_as_known(session, identity, octets, peerHashes)
        finally:
            for waiter in self._learning.pop(identity, []):
                waiter.callback(None)

    async def _sign_as_known(
        self,
        session: Any,
        identity: LocalIdentity,
        octets: bytes,
        peerHashes: frozenset[int] | None,
    ) -> Signed:
        known = self._learned.get(identity)
        if known is not None:
            choices = [choose_signature(known.certificate.public_key(), peerHashes)]
        else:
            choices = _rsa_first_choices(peerHashes)
        forgotten = resigned = False
        while choices:
            method, scheme = choices.pop(0)
            try:
                reply = await self._request(session, identity, scheme, octets)
            except NssRequestFailed as error:
                # (A ReasonCode is an IntEnum: its str() is the number.)
                mismatch = error.reasonCode == ReasonCode.NSSRsnSchemeMismatch
                if mismatch and choices:
                    continue  # the key is of the other type
                if mismatch and known is not None and not forgotten:
                    # The remembered key is not the one nssd holds now.
                    self._learned.pop(identity, None)
                    known, forgotten = None, True
                    choices = _rsa_first_choices(peerHashes)
                    continue
                raise IkeError(
                    f"nssd did not sign: {error}",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                ) from None
            learned = await self._learn(session, identity, reply.certificate)
            wanted = choose_signature(learned.certificate.public_key(), peerHashes)
            if (method, scheme) == wanted:
                return Signed(
                    method,
                    scheme,
                    reply.signature,
                    (reply.certificate, *learned.issuers),
                )
            if resigned:
                break
            # Its key wants another scheme (a curve or size we could not
            # know before): sign again, once, as it wants.
            known, resigned = learned, True
            choices = [wanted]
        raise IkeError(
            "nssd signed with a certificate whose key changed under the request",
            notify=NotifyType.AUTHENTICATION_FAILED,
        )


@implementer(ISigner)
class _BoundNssSigner:
    def __init__(self, signer: NssSigner, identity: LocalIdentity) -> None:
        self._signer = signer
        self._identity = identity
        self.description = signer.description

    def sign(
        self, octets: bytes, peerHashes: frozenset[int] | None
    ) -> Deferred[Signed]:
        return ensureDeferred(self._signer._sign(self._identity, octets, peerHashes))


@implementer(IPeerVerifier)
class NssVerifier:
    """
    Has nssd validate the peer's certificate and check its AUTH.

    The peer's certificates after the first go to nssd as the chain's
    intermediates.  A chain iked can refuse alone (more certificates than
    a path may hold, or an unreadable first one) never reaches nssd; a
    chain refused for either reason, or by nssd (C{NSSRsnChainInvalid},
    C{NSSRsnCertMalformed}), is logged as C{EZD1200I}.
    """

    log = Logger(namespace="iked")

    def __init__(self, connection: StackNssConnection) -> None:
        self._connection = connection
        self._stackName = connection.stack.stackName
        self.description = f"nssd (stack {self._stackName})"

    def _chain_refused(self, subject: str, reason: str) -> ChainRefused:
        self.log.info(
            "{ikedMessage}",
            ikedMessage=f"EZD1200I Stack {self._stackName} refused the "
            f"certificate chain of {subject}: {reason}",
        )
        return ChainRefused(reason)

    def verify(
        self,
        certificates: tuple[bytes, ...],
        scheme: SignatureScheme,
        octets: bytes,
        signature: bytes,
        eku: PeerEku = PeerEku.IKE,
    ) -> Deferred[None]:
        subject = "the peer"
        try:
            check_chain_length(certificates)
            leaf = load_certificate(certificates[0])
        except (ChainError, MalformedCertificate) as error:
            return fail(
                self._chain_refused(subject, f"the peer's certificate chain: {error}")
            )
        except IndexError:
            return fail(
                IkeError(
                    "the peer sent no certificate",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                )
            )
        subject = leaf.subject.rfc4514_string()
        try:
            check_end_entity(leaf, eku)
        except UnfitCertificate as error:
            return fail(
                IkeError(
                    f"the peer's certificate is refused: {error}",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                )
            )

        async def check() -> None:
            session = await self._connection.whenConnected()
            try:
                await session.verify(
                    certificate=certificates[0],
                    chain=certificates[1:],
                    scheme=SignatureSchemeCode[scheme.name],
                    digest=scheme.digest(octets),
                    signature=signature,
                )
            except NssRequestFailed as error:
                if error.reasonCode in _CHAIN_REASONS:
                    raise self._chain_refused(
                        subject, f"nssd rejected it: {error}"
                    ) from None
                raise IkeError(
                    f"nssd rejected it: {error}",
                    notify=NotifyType.AUTHENTICATION_FAILED,
                ) from None

        return ensureDeferred(check())

    def authorities(self) -> Deferred[tuple[bytes, ...]]:
        async def fetch() -> tuple[bytes, ...]:
            session = await self._connection.whenConnected()
            certificates = await session.caCertificates()
            return tuple(authority_hash(c) for c in certificates)

        return ensureDeferred(fetch())
