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
checked with its public key.  Chain validation uses cryptography's
RFC 5280 verifier, and the profile is the one nssd's VERIFY applies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from nsstwisted.ike.auth import (
    SignatureScheme,
    choose_signature,
    sign_locally,
    verify_signature,
)
from nsstwisted.ike.certprofile import UnfitCertificate, check_end_entity
from nsstwisted.ike.constants import NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.interfaces import Signed
from nsstwisted.ike.policy import PeerEku

__all__ = ["LocalCredentials", "LocalTrust", "authority_hash"]


def authority_hash(certificate: x509.Certificate) -> bytes:
    """The CERTREQ entry of a CA: SHA-1 of its SubjectPublicKeyInfo."""
    spki = certificate.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(spki, usedforsecurity=False).digest()


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
        @raise IkeError: (AUTHENTICATION_FAILED) the chain, the
            certificate's profile or the signature does not hold.
        """
        if not certificates:
            raise IkeError("no certificate", notify=NotifyType.AUTHENTICATION_FAILED)
        try:
            leaf = x509.load_der_x509_certificate(certificates[0])
            intermediates = [
                x509.load_der_x509_certificate(c) for c in certificates[1:]
            ]
        except ValueError as error:
            raise IkeError(
                f"malformed certificate: {error}",
                notify=NotifyType.AUTHENTICATION_FAILED,
            ) from None
        if not self.authorities:
            raise IkeError("no trusted CA", notify=NotifyType.AUTHENTICATION_FAILED)
        verifier = (
            PolicyBuilder()
            .store(Store(list(self.authorities)))
            .time(now or datetime.now(UTC))
            .extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        try:
            verifier.verify(leaf, intermediates)
        except VerificationError as error:
            raise IkeError(
                f"the certificate does not validate: {error}",
                notify=NotifyType.AUTHENTICATION_FAILED,
            ) from None
        try:
            check_end_entity(leaf, eku)
        except UnfitCertificate as error:
            raise IkeError(
                str(error), notify=NotifyType.AUTHENTICATION_FAILED
            ) from None
        verify_signature(leaf.public_key(), scheme, octets, signature)
