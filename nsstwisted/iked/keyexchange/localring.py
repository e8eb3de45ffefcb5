"""
A local key ring for the stacks that are not NSS clients: IBM's IKED reads
its own RACF key ring (IkeConfig C{KeyRing}, default C{iked/keyring}), and
iked reads the same kind of ring from a security database on its own host
(IkeConfig C{SecurityDatabase}).

The certificate a peer's AUTH is signed with is the ring's first personal
certificate (in label order) that certifies the KeyExchangeRule's local
identity, found the way nssd finds one for an NSS client.  The trusted CA
certificates of the ring decide whether a peer's certificate is accepted
and make up the CERTREQ.  Key ring reads and signatures are blocking
(SQLite, RSA), so they run in the reactor's thread pool; the ring is read
again at each use, so that a RACDCERT change applies to the next
negotiation.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from nsstwisted.ike.auth import SignatureScheme, choose_signature
from nsstwisted.ike.certpath import issuers_of
from nsstwisted.ike.constants import IdType, NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.interfaces import IPeerVerifier, ISigner, Signed
from nsstwisted.ike.localauth import ChainRefused, LocalTrust
from nsstwisted.ike.policy import LocalIdentity, PeerEku
from nsstwisted.security import SecurityDatabase
from nsstwisted.security import SignatureScheme as SecurityScheme
from nsstwisted.security.certservice import (
    IdentityKind,
    SignerIdentity,
    certificate_authorities,
    find_signer,
)
from nsstwisted.security.errors import NotFoundError
from nsstwisted.security.keyring import KeyRing, KeyRingStore

__all__ = ["LocalKeyRing", "LocalRingSigner", "LocalRingVerifier"]

_KINDS = {
    IdType.FQDN: IdentityKind.FQDN,
    IdType.RFC822_ADDR: IdentityKind.EMAIL,
    IdType.IPV4_ADDR: IdentityKind.IPADDR,
    IdType.IPV6_ADDR: IdentityKind.IPADDR,
    IdType.DER_ASN1_DN: IdentityKind.DN,
}


class LocalKeyRing:
    """
    One key ring (C{owner/ring}) of a security database on iked's host.

    @raise SecurityError: (from L{open}) the database or its stash cannot
        be used.
    """

    def __init__(self, database: SecurityDatabase, owner: str, ring: str) -> None:
        self._database = database
        self._store = KeyRingStore(database)
        self.owner = owner
        self.ring = ring

    @classmethod
    def open(cls, path: str, stashPath: str, owner: str, ring: str) -> LocalKeyRing:
        return cls(SecurityDatabase.open(path, stashPath, create=False), owner, ring)

    def close(self) -> None:
        self._database.close()

    def __str__(self) -> str:
        return f"{self.owner}/{self.ring}"

    def read(self) -> KeyRing:
        """
        The ring as it is now.

        @raise NotFoundError: there is no such ring.
        """
        return self._store.ring(self.owner, self.ring)

    def sign(
        self, identity: LocalIdentity, octets: bytes, peerHashes: frozenset[int] | None
    ) -> Signed:
        """
        Sign C{octets} with the certificate that certifies C{identity}.

        @raise IkeError: (AUTHENTICATION_FAILED) no such certificate, or it
            cannot sign.
        """
        kind = _KINDS.get(identity.idType)
        if kind is None:
            raise IkeError(
                f"a certificate cannot be found by {identity.idType.name}",
                notify=NotifyType.AUTHENTICATION_FAILED,
            )
        ring = self.read()
        try:
            entry = find_signer(ring, identity=SignerIdentity(kind, identity.value))
        except NotFoundError as error:
            raise IkeError(
                str(error), notify=NotifyType.AUTHENTICATION_FAILED
            ) from None
        certificate = entry.record.certificate
        method, scheme = choose_signature(certificate.public_key(), peerHashes)
        signature = self._store.sign_entry(
            entry, scheme.digest(octets), SecurityScheme[scheme.name], prehashed=True
        )
        # The CA certificates of the ring that issued ours, for the engine
        # to send as the chain the peer needs.
        issuers = issuers_of(
            certificate, (e.record.certificate for e in certificate_authorities(ring))
        )
        return Signed(
            method,
            scheme,
            signature,
            tuple(c.public_bytes(Encoding.DER) for c in (certificate, *issuers)),
        )

    def trust(self) -> LocalTrust:
        """The ring's trusted CA certificates."""
        return LocalTrust(
            tuple(e.record.certificate for e in certificate_authorities(self.read()))
        )


@implementer(ISigner)
class LocalRingSigner:
    """Signs for one local identity with a L{LocalKeyRing}, off the reactor."""

    def __init__(
        self, reactor: Any, ring: LocalKeyRing, identity: LocalIdentity
    ) -> None:
        self._reactor = reactor
        self._ring = ring
        self._identity = identity
        self.description = f"local key ring {ring}"

    def sign(
        self, octets: bytes, peerHashes: frozenset[int] | None
    ) -> Deferred[Signed]:
        return deferToThreadPool(
            self._reactor,
            self._reactor.getThreadPool(),
            self._ring.sign,
            self._identity,
            octets,
            peerHashes,
        )


@implementer(IPeerVerifier)
class LocalRingVerifier:
    """
    Checks peers against the trusted CA certificates of a L{LocalKeyRing};
    a refused chain is logged as C{EZD1200I}.
    """

    log = Logger(namespace="iked")

    def __init__(self, reactor: Any, ring: LocalKeyRing) -> None:
        self._reactor = reactor
        self._ring = ring
        self.description = f"local key ring {ring}"

    def _in_pool(self, f: Any, *args: Any) -> Deferred[Any]:
        return deferToThreadPool(self._reactor, self._reactor.getThreadPool(), f, *args)

    def verify(
        self,
        certificates: tuple[bytes, ...],
        scheme: SignatureScheme,
        octets: bytes,
        signature: bytes,
        eku: PeerEku = PeerEku.IKE,
    ) -> Deferred[None]:
        def check() -> None:
            self._ring.trust().verify(certificates, scheme, octets, signature, eku=eku)

        def refused(failure: Failure) -> Failure:
            if failure.check(ChainRefused):
                self.log.info(
                    "{ikedMessage}",
                    ikedMessage=f"EZD1200I Local key ring {self._ring} refused "
                    f"a peer's certificate chain: {failure.value}",
                )
            return failure

        return self._in_pool(check).addErrback(refused)

    def authorities(self) -> Deferred[tuple[bytes, ...]]:
        return self._in_pool(lambda: self._ring.trust().hashes())
