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
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults

from nsstwisted.ike.auth import SignatureScheme, sign_locally
from nsstwisted.ike.certpath import MAX_PEER_CERTIFICATES
from nsstwisted.ike.constants import AuthMethod, HashAlgorithmId, IdType, NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.localauth import ChainRefused
from nsstwisted.ike.policy import LocalIdentity, PeerEku
from nsstwisted.iked.nssclient.signers import NssSigner, NssVerifier
from tests.daemons import racf, start_nssd
from tests.ikepeers import pki, profile_leaf
from tests.test_ike_chains import levels
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


def _gencert(label: str, identity: str, algorithm: str) -> list[str]:
    """RACF commands for another CLIENT1 certificate in nssd's ring."""
    mapped = label.upper().replace(" ", "$")
    return [
        f"RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('{identity}') O('Example')) "
        f"{algorithm} WITHLABEL('{label}') SIGNWITH(CERTAUTH LABEL('NSS CA')) "
        f"ALTNAME(DOMAIN('{identity}'))",
        f"RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('{label}') RING(NSSRING) "
        "USAGE(PERSONAL))",
        f"RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.{mapped}.HOST UACC(NONE)",
        f"PERMIT EZB.NSSCERT.NSSSYS.{mapped}.HOST CLASS(SERVAUTH) ID(CLIENT1) "
        "ACCESS(READ)",
        "SETROPTS RACLIST(SERVAUTH) REFRESH",
    ]


class NssSignerKeyTypeTests(IkedTestCase):
    """
    The signer learns the key type and curve of the certificate nssd
    holds from its replies, and follows a rollover to another key type.
    """

    async def signer(self, identity: str) -> tuple[Any, NssSigner, Any]:
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        service = self.start_iked(write_iked_config(self.setup, port, None))
        await eventually(
            lambda: self.server_port(service, "STACKA") == port, what="STACKA"
        )
        signer = NssSigner(service.connections["STACKA"])
        return signer.sign_for(LocalIdentity(IdType.FQDN, identity)), signer, nssd

    def assertVerifies(self, signed: Any) -> x509.Certificate:
        certificate = x509.load_der_x509_certificate(signed.certificates[0])
        public = certificate.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(
                signed.signature, OCTETS, ec.ECDSA(signed.scheme.hashAlgorithm)
            )
        return certificate

    def test_rolloverToEcdsa(self) -> Deferred[None]:
        """
        Once the signer knows the identity's key is RSA, a rollover in
        nssd's ring to a P-384 key makes nssd answer the RSA request with
        C{NSSRsnSchemeMismatch}: the signer forgets the key, learns the new
        one and signs with ECDSA SHA-384, in the same negotiation.
        """

        async def go() -> None:
            bound, signer, nssd = await self.signer("client1.example")
            peerHashes = frozenset({HashAlgorithmId.SHA2_256, HashAlgorithmId.SHA2_384})
            signed = await bound.sign(OCTETS, peerHashes)
            self.assertEqual(signed.scheme, SignatureScheme.RSA_PKCS1_SHA256)
            racf(
                self.setup,
                "RACDCERT ID(NSSD) REMOVE(ID(CLIENT1) LABEL('Client1 cert') "
                "RING(NSSRING))",
                *_gencert("Client1 ec", "client1.example", "NISTECC SIZE(384)"),
            )
            await nssd.refresh()
            signed = await bound.sign(OCTETS, peerHashes)
            self.assertEqual(
                (signed.method, signed.scheme),
                (AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.ECDSA_SHA384),
            )
            certificate = self.assertVerifies(signed)
            self.assertIn("client1.example", certificate.subject.rfc4514_string())
            before = signer.requests
            await bound.sign(OCTETS, peerHashes)
            self.assertEqual(signer.requests, before + 1)

        return ensureDeferred(go())

    def test_p384WithoutRfc7427(self) -> Deferred[None]:
        """
        For a peer without N(SIGNATURE_HASH_ALGORITHMS) a P-384 key signs
        under RFC 4754 method 10 with SHA-384, which the P-256 guess of the
        first request could not be; later ones ask once.
        """

        async def go() -> None:
            racf(
                self.setup,
                *_gencert("Client1 p384", "p384.example", "NISTECC SIZE(384)"),
            )
            bound, signer, _ = await self.signer("p384.example")
            signed = await bound.sign(OCTETS, None)
            self.assertEqual(
                (signed.method, signed.scheme),
                (AuthMethod.ECDSA_SHA384_P384, SignatureScheme.ECDSA_SHA384),
            )
            self.assertVerifies(signed)
            before = signer.requests
            signed = await bound.sign(OCTETS, None)
            self.assertEqual(signer.requests, before + 1)
            self.assertEqual(signed.method, AuthMethod.ECDSA_SHA384_P384)

        return ensureDeferred(go())

    def test_concurrentFirstSignatures(self) -> Deferred[None]:
        """
        Negotiations that start together before the key is known make one
        refused RSA request between them, not one each: the others wait for
        the first to learn the key.
        """

        async def go() -> None:
            racf(self.setup, *_gencert("Client1 p256", "p256.example", "NISTECC"))
            bound, signer, _ = await self.signer("p256.example")
            peerHashes = frozenset({HashAlgorithmId.SHA2_256})
            results = await gatherResults(
                [bound.sign(OCTETS, peerHashes) for _ in range(5)]
            )
            self.assertEqual(
                {r.scheme for r in results}, {SignatureScheme.ECDSA_SHA256}
            )
            self.assertEqual(signer.requests, 6)

        return ensureDeferred(go())

    def test_chainFromNssd(self) -> Deferred[None]:
        """
        The signature comes with the CA certificates of nssd's ring that
        issued the certificate, read from the CA list: here an intermediate
        and the root above it, in that order.
        """

        async def go() -> None:
            racf(
                self.setup,
                "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('Sub CA') O('Example')) "
                "NISTECC SIZE(256) WITHLABEL('Sub CA') "
                "SIGNWITH(CERTAUTH LABEL('NSS CA'))",
                "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Sub CA') RING(NSSRING) "
                "USAGE(CERTAUTH))",
                *_gencert("Client1 sub", "sub.example", "NISTECC SIZE(256)"),
            )
            racf(
                self.setup,
                "RACDCERT ID(CLIENT1) DELETE(LABEL('Client1 sub'))",
                "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('sub.example') "
                "O('Example')) NISTECC SIZE(256) WITHLABEL('Client1 sub') "
                "SIGNWITH(CERTAUTH LABEL('Sub CA')) ALTNAME(DOMAIN('sub.example'))",
                "RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('Client1 sub') "
                "RING(NSSRING) USAGE(PERSONAL))",
            )
            bound, _, _ = await self.signer("sub.example")
            signed = await bound.sign(OCTETS, frozenset({HashAlgorithmId.SHA2_256}))
            subjects = [
                x509.load_der_x509_certificate(der).subject.rfc4514_string()
                for der in signed.certificates
            ]
            self.assertEqual(len(subjects), 3, subjects)
            self.assertIn("CN=sub.example", subjects[0])
            self.assertIn("CN=Sub CA", subjects[1])
            self.assertIn("CN=NSS Test CA", subjects[2])

        return ensureDeferred(go())


class NssVerifierChainTests(IkedTestCase):
    """
    nssd trusts only the root of a three-level PKI: a peer's certificate
    validates through the intermediate it sends, and a wrong intermediate
    or a chain too long is refused (C{EZD1200I}, AUTHENTICATION_FAILED).
    """

    def setUp(self) -> None:
        super().setUp()
        rootPath = os.path.join(self.setup.folder, "chain-root.pem")
        with open(rootPath, "wb") as f:
            f.write(levels().root.certificate.public_bytes(Encoding.PEM))
        racf(
            self.setup,
            f"RACDCERT CERTAUTH ADD('{rootPath}') WITHLABEL('Chain root') TRUST",
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Chain root') RING(NSSRING) "
            "USAGE(CERTAUTH))",
        )

    async def verify(self, chain: tuple[bytes, ...]) -> None:
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        service = self.start_iked(write_iked_config(self.setup, port, None))
        await eventually(
            lambda: self.server_port(service, "STACKA") == port, what="STACKA"
        )
        verifier = NssVerifier(service.connections["STACKA"])
        certificate, key = levels().leftLeaf
        scheme = SignatureScheme.ECDSA_SHA256
        await verifier.verify(
            (certificate.public_bytes(Encoding.DER), *chain),
            scheme,
            OCTETS,
            sign_locally(key, scheme, OCTETS),
            PeerEku.IKE,
        )

    async def assertRefused(
        self, chain: tuple[bytes, ...], reason: str, subject: str = "CN=left.iked.test"
    ) -> None:
        verifying: Deferred[Any] = ensureDeferred(self.verify(chain))
        error = await self.assertFailure(verifying, ChainRefused)
        self.assertEqual(error.notify, NotifyType.AUTHENTICATION_FAILED)
        self.assertIn(reason, str(error))
        logged = [m for m in self.messages if "EZD1200I" in m]
        self.assertEqual(len(logged), 1, self.messages)
        self.assertIn(f"certificate chain of {subject}", logged[0])

    def test_through_intermediate(self) -> Deferred[None]:
        return ensureDeferred(self.verify((levels().left.der,)))

    def test_wrong_intermediate(self) -> Deferred[None]:
        """nssd refuses the other branch's intermediate (not the issuer)."""

        async def go() -> None:
            await self.assertRefused((levels().right.der,), "NSSRsnChainInvalid")
            self.assertTrue(self.logged("DBG0006I"), self.messages)

        return ensureDeferred(go())

    def test_too_long(self) -> Deferred[None]:
        """A chain longer than a path may be never reaches nssd."""

        async def go() -> None:
            chain = (levels().left.der,) * MAX_PEER_CERTIFICATES
            # (Not even the peer's own certificate is read.)
            await self.assertRefused(chain, "longer than the 9 allowed", "the peer")
            self.assertFalse(self.logged("DBG0006I"), self.messages)

        return ensureDeferred(go())
