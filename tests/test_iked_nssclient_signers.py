"""
Tests for L{nsstwisted.iked.nssclient.signers}: the NSS stack's verifier against
a real nssd, where a peer's certificate must pass both iked's profile
check, with the peer policy's C{PeerEku}, and nssd's VERIFY, with its
C{VerifyEku}.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet.defer import Deferred, ensureDeferred

from nsstwisted.ike.auth import SignatureScheme, sign_locally
from nsstwisted.ike.constants import HashAlgorithmId, IdType, NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.policy import LocalIdentity, PeerEku
from nsstwisted.iked.nssclient.signers import NssSigner, NssVerifier
from tests.daemons import racf, start_nssd
from tests.ikepeers import pki, profile_leaf
from tests.test_iked_nssclient_connection import (
    IkedTestCase,
    eventually,
    write_iked_config,
)

OCTETS = b"the peer's AUTH octets"


class NssVerifierTests(IkedTestCase):
    def setUp(self) -> None:
        super().setUp()
        caPath = os.path.join(self.setup.folder, "profile-ca.pem")
        with open(caPath, "wb") as f:
            f.write(pki().ca.public_bytes(Encoding.PEM))
        racf(
            self.setup,
            f"RACDCERT CERTAUTH ADD('{caPath}') WITHLABEL('Profile CA') TRUST",
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Profile CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
        )

    async def verifier(self, *nssdConfig: str) -> NssVerifier:
        nssd = start_nssd(self, self.setup, extra=nssdConfig)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        service = self.start_iked(write_iked_config(self.setup, port, None))
        await eventually(
            lambda: self.server_port(service, "STACKA") == port, what="STACKA"
        )
        return NssVerifier(service.connections["STACKA"])

    async def verify(self, verifier: NssVerifier, profile: str, eku: PeerEku) -> None:
        certificate, key = profile_leaf("peer.iked.test", profile)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        scheme = SignatureScheme.ECDSA_SHA256
        await verifier.verify(
            (certificate.public_bytes(Encoding.DER),),
            scheme,
            OCTETS,
            sign_locally(key, scheme, OCTETS),
            eku,
        )

    async def assertRefused(
        self, verifier: NssVerifier, profile: str, eku: PeerEku, reason: str
    ) -> None:
        verifying: Deferred[Any] = ensureDeferred(self.verify(verifier, profile, eku))
        error = await self.assertFailure(verifying, IkeError)
        self.assertEqual(error.notify, NotifyType.AUTHENTICATION_FAILED)
        self.assertIn(reason, str(error))

    def test_server_allows_tls(self) -> Deferred[None]:
        """
        nssd takes serverAuth (VerifyEku IkeOrTls); iked takes it only for
        a peer whose policy says IkeOrTls, and refuses it for the others
        without asking nssd.  Neither takes a CA certificate.
        """

        async def go() -> None:
            verifier = await self.verifier("  VerifyEku IkeOrTls")
            await self.verify(verifier, "serverAuth", PeerEku.IKE_OR_TLS)
            await self.assertRefused(
                verifier, "serverAuth", PeerEku.IKE, "(serverAuth) is for TLS"
            )
            await self.assertRefused(
                verifier, "ca", PeerEku.IKE_OR_TLS, "is a CA certificate"
            )
            asked = [m for m in self.messages if "DBG0006I" in m]
            self.assertEqual(len(asked), 1, asked)
            self.assertIn("signature valid", asked[0])

        return ensureDeferred(go())

    def test_server_strict(self) -> Deferred[None]:
        """
        With nssd's default, a peer's PeerEku IkeOrTls is not enough: nssd
        refuses serverAuth, and iked fails the peer.
        """

        async def go() -> None:
            verifier = await self.verifier()
            await self.verify(verifier, "ipsecIKE", PeerEku.IKE)
            await self.assertRefused(
                verifier, "serverAuth", PeerEku.IKE_OR_TLS, "nssd rejected it"
            )
            self.assertTrue(
                any(
                    "DBG0006I" in m and "(serverAuth) is for TLS" in m
                    for m in self.messages
                ),
                self.messages,
            )

        return ensureDeferred(go())


class NssSignerTests(IkedTestCase):
    """
    The stack's signer against a real nssd, for the example job's two
    clients: CLIENT1's certificate has an RSA key, CLIENT2's an ECDSA one.
    """

    async def signer(self, stack: str, identity: str) -> Any:
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        service = self.start_iked(write_iked_config(self.setup, port, None))
        await eventually(lambda: self.server_port(service, stack) == port, what=stack)
        return NssSigner(service.connections[stack]).sign_for(
            LocalIdentity(IdType.FQDN, identity)
        )

    def test_ecdsaKeyFoundByTrying(self) -> Deferred[None]:
        """
        Before it knows the key's type, the signer asks for RSA first; nssd
        refuses that for an ECDSA key (NSSRsnSchemeMismatch), and the signer
        asks again for ECDSA, with or without the peer's hash list.  The
        next signature asks for ECDSA at once.
        """

        async def go() -> None:
            signer = await self.signer("STACKB", "client2.example")
            for peerHashes in (None, frozenset({HashAlgorithmId.SHA2_256})):
                signed = await signer.sign(OCTETS, peerHashes)
                self.assertEqual(signed.scheme, SignatureScheme.ECDSA_SHA256)
                certificate = x509.load_der_x509_certificate(signed.certificates[0])
                public = certificate.public_key()
                assert isinstance(public, ec.EllipticCurvePublicKey)
                public.verify(signed.signature, OCTETS, ec.ECDSA(hashes.SHA256()))
            signed = [m for m in self.messages if "DBG0005I" in m]
            self.assertEqual(len(signed), 2, signed)

        return ensureDeferred(go())
