"""
Signing and verification with credentials held in this process: the
stacks that are not NSS clients, and any embedding application that keeps
its own keys.  An NSS stack never uses this module for signing: its key
is in nssd.

The peer's certificate must be issued by one of the trusted CA
certificates, directly or through the intermediates it sent, must be
valid now, and must fit the IKE end-entity profile of RFC 4945
(L{nsstwisted.ike.certprofile}: no CA certificate, a key usage for
signatures, an IKE extended key usage); its AUTH signature is then
checked with its public key.  Reading the certificates and validating
the path are L{nsstwisted.ike.certpath}'s (RFC 5280 section 6), and the
profile is L{nsstwisted.ike.certprofile}'s: both are what nssd's VERIFY
applies, so a peer is judged alike whether its stack asks nssd or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from nsstwisted.ike.auth import (
    SignatureScheme,
    choose_signature,
    sign_locally,
    verify_signature,
)
from nsstwisted.ike.certpath import (
    ChainError,
    MalformedCertificate,
    authority_hash,
    check_chain_length,
    load_certificates,
    validate_path,
)
from nsstwisted.ike.certprofile import UnfitCertificate, check_end_entity
from nsstwisted.ike.constants import NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.interfaces import Signed
from nsstwisted.ike.policy import PeerEku

__all__ = ["ChainRefused", "LocalCredentials", "LocalTrust", "authority_hash"]


class ChainRefused(IkeError):
    """
    The peer's certificates do not make a path to a trusted CA: unreadable,
    too many (L{nsstwisted.ike.certpath.MAX_PEER_CERTIFICATES}), or an
    intermediate that did not issue the certificate below it or that no
    trusted CA issued.  Always AUTHENTICATION_FAILED; a separate class so
    that the stack can log it as a chain refusal rather than a bad AUTH.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, notify=NotifyType.AUTHENTICATION_FAILED)


@dataclass(frozen=True)
class LocalCredentials:
    """
    A certificate (with its chain) and its private key, in this process.

    @ivar preferPss: sign RSA with RSASSA-PSS instead of PKCS#1 v1.5.
    """

    certificate: x509.Certificate
    privateKey: PrivateKeyTypes = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    preferPss: bool = False

    def sign(self, octets: bytes, peerHashes: frozenset[int] | None) -> Signed:
        method, scheme = choose_signature(self.privateKey, peerHashes, self.preferPss)
        signature = sign_locally(self.privateKey, scheme, octets)
        certificates = (self.certificate, *self.chain)
        return Signed(
            method,
            scheme,
            signature,
            tuple(c.public_bytes(Encoding.DER) for c in certificates),
        )


@dataclass(frozen=True)
class LocalTrust:
    """The CA certificates a stack trusts, and the checks made with them."""

    authorities: tuple[x509.Certificate, ...]

    def hashes(self) -> tuple[bytes, ...]:
        return tuple(authority_hash(c) for c in self.authorities)

    def verify(
        self,
        certificates: Sequence[bytes],
        scheme: SignatureScheme,
        octets: bytes,
        signature: bytes,
        now: datetime | None = None,
        eku: PeerEku = PeerEku.IKE,
    ) -> None:
        """
        @param eku: the extended key usages the peer's policy accepts.
        @raise ChainRefused: the chain does not hold.
        @raise IkeError: (AUTHENTICATION_FAILED) the certificate's profile
            or the signature does not hold.
        """
        if not certificates:
            raise IkeError("no certificate", notify=NotifyType.AUTHENTICATION_FAILED)
        try:
            check_chain_length(certificates)
            leaf, *intermediates = load_certificates(certificates)
        except ChainError as error:
            raise ChainRefused(f"the peer's certificate chain: {error}") from None
        except MalformedCertificate as error:
            raise ChainRefused(
                f"the peer's certificate is malformed: {error}"
            ) from None
        try:
            validate_path(leaf, intermediates, self.authorities, now)
        except ChainError as error:
            raise ChainRefused(str(error)) from None
        try:
            check_end_entity(leaf, eku)
        except UnfitCertificate as error:
            raise IkeError(
                str(error), notify=NotifyType.AUTHENTICATION_FAILED
            ) from None
        verify_signature(leaf.public_key(), scheme, octets, signature)
