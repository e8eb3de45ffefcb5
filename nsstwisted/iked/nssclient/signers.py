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
from typing import Any

from cryptography import x509
from twisted.internet.defer import Deferred, ensureDeferred, fail
from zope.interface import implementer

from nsstwisted.client.connection import NssRequestFailed
from nsstwisted.ike.auth import SignatureScheme, choose_signature
from nsstwisted.ike.certpath import MalformedCertificate, load_certificate
from nsstwisted.ike.certprofile import UnfitCertificate, check_end_entity
from nsstwisted.ike.constants import AuthMethod, HashAlgorithmId, IdType, NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.interfaces import IPeerVerifier, ISigner, Signed
from nsstwisted.ike.localauth import authority_hash
from nsstwisted.ike.policy import LocalIdentity, PeerEku
from nsstwisted.iked.nssclient.connection import StackNssConnection
from nsstwisted.iked.stackmodel.latency import LatencyHistogram
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.nss import Identity, IdentityKind, SignatureSchemeCode

__all__ = [
    "NssSigner",
    "NssVerifier",
    "nss_identity",
]

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
    would sign, then ECDSA P-256 (the key type decides which nssd accepts).
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


class NssSigner:
    """
    Signs through the stack's NSS connection, with the certificate that
    certifies the stack's local IKE identity.

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
        self._certificates: dict[LocalIdentity, x509.Certificate] = {}
        self._clock = clock
        self.requests = 0
        self.latency = LatencyHistogram() if latency is None else latency
        self.description = f"nssd (stack {connection.stack.stackName})"

    def sign_for(self, identity: LocalIdentity) -> Any:
        """This signer bound to one identity (the engine's ISigner)."""
        return _BoundNssSigner(self, identity)

    async def _sign(
        self, identity: LocalIdentity, octets: bytes, peerHashes: frozenset[int] | None
    ) -> Signed:
        session = await self._connection.whenConnected()
        known = self._certificates.get(identity)
        if known is not None:
            choices = [choose_signature(known.public_key(), peerHashes)]
        else:
            choices = _rsa_first_choices(peerHashes)
        failure: Exception | None = None
        for method, scheme in choices:
            self.requests += 1
            digest = scheme.digest(octets)
            sent = self._clock()
            try:
                reply = await session.sign(
                    scheme=SignatureSchemeCode[scheme.name],
                    identity=nss_identity(identity),
                    digest=digest,
                )
            except NssRequestFailed as error:
                self.latency.observe(self._clock() - sent)
                failure = error
                # (A ReasonCode is an IntEnum: its str() is the number.)
                mismatch = error.reasonCode == ReasonCode.NSSRsnSchemeMismatch
                if known is None and mismatch:
                    continue  # the key is of the other type
                break
            self.latency.observe(self._clock() - sent)
            certificate = x509.load_der_x509_certificate(reply.certificate)
            self._certificates[identity] = certificate
            return Signed(method, scheme, reply.signature, (reply.certificate,))
        raise IkeError(
            f"nssd did not sign: {failure}", notify=NotifyType.AUTHENTICATION_FAILED
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
    """Has nssd validate the peer's certificate and check its AUTH."""

    def __init__(self, connection: StackNssConnection) -> None:
        self._connection = connection
        self.description = f"nssd (stack {connection.stack.stackName})"

    def verify(
        self,
        certificates: tuple[bytes, ...],
        scheme: SignatureScheme,
        octets: bytes,
        signature: bytes,
        eku: PeerEku = PeerEku.IKE,
    ) -> Deferred[None]:
        try:
            check_end_entity(load_certificate(certificates[0]), eku)
        except (IndexError, MalformedCertificate, UnfitCertificate) as error:
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
