"""
The signer and verifier of a stack that is not an NSS client: they use
credentials held by iked itself (L{nsstwisted.ike.localauth}).  An NSS
stack's are in L{nsstwisted.iked.nssclient.signers}.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from zope.interface import implementer

from nsstwisted.ike.auth import SignatureScheme
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.interfaces import IPeerVerifier, ISigner, Signed
from nsstwisted.ike.localauth import ChainRefused, LocalCredentials, LocalTrust
from nsstwisted.ike.policy import PeerEku

__all__ = ["LocalSigner", "LocalVerifier"]


@implementer(ISigner)
class LocalSigner:
    """Signs with credentials iked holds (a stack without NSS)."""

    def __init__(self, credentials: LocalCredentials) -> None:
        self._credentials = credentials
        self.description = "local key ring"

    def sign(
        self, octets: bytes, peerHashes: frozenset[int] | None
    ) -> Deferred[Signed]:
        try:
            return succeed(self._credentials.sign(octets, peerHashes))
        except IkeError:
            return fail()


@implementer(IPeerVerifier)
class LocalVerifier:
    """
    Checks the peer against CA certificates iked holds; a refused chain is
    logged as C{EZD1200I}.
    """

    log = Logger(namespace="iked")

    def __init__(self, trust: LocalTrust) -> None:
        self._trust = trust
        self.description = "local key ring"

    def verify(
        self,
        certificates: tuple[bytes, ...],
        scheme: SignatureScheme,
        octets: bytes,
        signature: bytes,
        eku: PeerEku = PeerEku.IKE,
    ) -> Deferred[None]:
        try:
            self._trust.verify(certificates, scheme, octets, signature, eku=eku)
        except ChainRefused as error:
            self.log.info(
                "{ikedMessage}",
                ikedMessage=f"EZD1200I Local key ring refused a peer's "
                f"certificate chain: {error}",
            )
            return fail()
        except IkeError:
            return fail()
        return succeed(None)

    def authorities(self) -> Deferred[tuple[bytes, ...]]:
        return succeed(self._trust.hashes())
