"""
iked against a real strongSwan with ECDSA keys held in nssd and with
three-level certificate chains (issue 15, items 1 and 2).

As in L{tests.test_ike_strongswan}, nssd and iked run in the host's
namespace and the stack's IKE socket and charon in the test's network
namespace.  iked's certificate is made in the security database with
C{nss-racf} (C{RACDCERT GENCERT ... NISTECC SIZE(256|384)}), so its key
exists only in nssd's ring; strongSwan's comes from a PKI made here.

In the chain tests each side trusts only the other side's root: nssd's
ring holds strongSwan's root (not its intermediate) and strongSwan's
C{x509ca} holds nssd's root (not iked's intermediate), so each side
validates only if the other sends its intermediate.
"""

from __future__ import annotations

import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import TestCase

from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from tests import test_ike_strongswan as base
from tests.daemons import (
    LISTENING,
    DaemonProcess,
    build_security,
    racf,
    twistd_args,
    write_nssd_config,
)
from tests.strongswan import (
    Charon,
    Child,
    CommandFailed,
    Connection,
    NetworkNamespace,
    strongswan_available,
)
from tests.test_ike_strongswan import CHARON_PORT, IKED_PORT, ME, POLICY

PeerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _key(kind: str) -> PeerKey:
    if kind == "rsa":
        return rsa.generate_private_key(65537, 2048)
    return ec.generate_private_key(
        {"p256": ec.SECP256R1(), "p384": ec.SECP384R1()}[kind]
    )


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "strongSwan side"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _issue(
    subject: str,
    key: PeerKey,
    issuer: tuple[x509.Certificate, PeerKey] | None,
    ca: bool,
) -> x509.Certificate:
    """A certificate for C{key}: a root, an intermediate or a leaf."""
    now = datetime.datetime.now(datetime.UTC)
    issuerName = _name(subject) if issuer is None else issuer[0].subject
    signer = key if issuer is None else issuer[1]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuerName)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            False,
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), False
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.IPSEC_IKE]
            ),
            False,
        )
    return builder.sign(signer, hashes.SHA256())


class EcdsaChainStrongSwanTests(TestCase):
    timeout = 240
    skip = strongswan_available()

    # The neighbour's helpers, which use only what this class sets too.
    def _spawn(self, args: list[str]) -> DaemonProcess:
        return base.StrongSwanTests._spawn(self, args)  # type: ignore[arg-type]

    async def _ipsec(self, *argv: str, through: str | None = None) -> str:
        ipsec = base.StrongSwanTests._ipsec
        return await ipsec(self, *argv, through=through)  # type: ignore[arg-type]

    async def _charon_children(self) -> list[dict[str, Any]]:
        children = base.StrongSwanTests._charon_children
        return await children(self)  # type: ignore[arg-type]

    async def _start(
        self,
        ikedKey: str = "rsa",
        charonKey: str = "rsa",
        chain: bool = False,
        rfc7427: bool = True,
        localStack: bool = False,
        peerSendsChain: bool = True,
    ) -> str:
        """
        Start nssd, iked and charon; return iked's identity.

        @param ikedKey: C{"rsa"} (the example job's C{Client1 cert}),
            C{"p256"} or C{"p384"} (a NISTECC certificate made here).
        @param charonKey: strongSwan's key, likewise.
        @param chain: each side's certificate is issued by an intermediate
            CA the other side does not hold.
        @param rfc7427: whether charon sends N(SIGNATURE_HASH_ALGORITHMS);
            without it, both sides sign ECDSA under RFC 4754 (methods 9-11).
        @param localStack: also a stack TCPIPB that signs and verifies with
            iked's own ring (IKED/KEYRING), identity C{iked.local}, its
            certificate (P-256) issued by C{NSS sub} when C{chain} is set.
        @param peerSendsChain: with C{chain}, whether charon holds its own
            root, without which it cannot build its path and sends its
            certificate alone.
        """
        self.namespace = NetworkNamespace("ecdsa-chain")
        self.addCleanup(self.namespace.delete)
        self.setup = setup = build_security(self)
        peerRootKey = _key("rsa")
        peerRoot = _issue("strongSwan root", peerRootKey, None, ca=True)
        peerIssuer = (peerRoot, peerRootKey)
        peerIntermediate = None
        if chain:
            intermediateKey = _key("p256")
            peerIntermediate = _issue(
                "strongSwan intermediate", intermediateKey, peerIssuer, ca=True
            )
            peerIssuer = (peerIntermediate, intermediateKey)
        peerKey = _key(charonKey)
        peerCert = _issue("strongswan.iked.test", peerKey, peerIssuer, ca=False)
        base.trust_peer_ca(
            setup,
            peerRoot.public_bytes(Encoding.PEM),
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Peer CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
            f"ADDUSER {ME}",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.DISPLAY CLASS(SERVAUTH) ID({ME})",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL CLASS(SERVAUTH) ID({ME})",
        )
        identity = "client1.example"
        nssRoot = "NSS CA"
        if chain:
            racf(
                setup,
                "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('NSS root') O('Example')) "
                "NISTECC SIZE(384) WITHLABEL('NSS root')",
                "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('NSS sub') O('Example')) "
                "SIZE(2048) WITHLABEL('NSS sub') SIGNWITH(CERTAUTH LABEL('NSS root'))",
                "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('NSS root') RING(NSSRING) "
                "USAGE(CERTAUTH))",
                "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('NSS sub') RING(NSSRING) "
                "USAGE(CERTAUTH))",
            )
            nssRoot = "NSS root"
        if ikedKey != "rsa" or chain:
            identity = "ec1.example" if ikedKey != "rsa" else "chain1.example"
            algorithm = (
                f"NISTECC SIZE({ikedKey[1:]})" if ikedKey != "rsa" else "SIZE(2048)"
            )
            issuer = "NSS sub" if chain else "NSS CA"
            racf(
                setup,
                f"RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('{identity}') "
                f"O('Example')) {algorithm} WITHLABEL('Client1 second') "
                f"SIGNWITH(CERTAUTH LABEL('{issuer}')) ALTNAME(DOMAIN('{identity}'))",
                "RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('Client1 second') "
                "RING(NSSRING) USAGE(PERSONAL))",
                "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.CLIENT1$SECOND.HOST UACC(NONE)",
                "PERMIT EZB.NSSCERT.NSSSYS.CLIENT1$SECOND.HOST CLASS(SERVAUTH) "
                "ID(CLIENT1) ACCESS(READ)",
                "SETROPTS RACLIST(SERVAUTH) REFRESH",
            )
        if localStack:
            issuer = "NSS sub" if chain else "NSS CA"
            racf(
                setup,
                "ADDUSER IKED NOPASSWORD",
                "RACDCERT ID(IKED) GENCERT SUBJECTSDN(CN('iked.local')) "
                "NISTECC SIZE(256) WITHLABEL('IKED cert') "
                f"SIGNWITH(CERTAUTH LABEL('{issuer}')) ALTNAME(DOMAIN('iked.local'))",
                "RACDCERT ID(IKED) ADDRING(KEYRING)",
                "RACDCERT ID(IKED) CONNECT(ID(IKED) LABEL('IKED cert') "
                "RING(KEYRING) USAGE(PERSONAL))",
                *(
                    f"RACDCERT ID(IKED) CONNECT(CERTAUTH LABEL('{label}') "
                    "RING(KEYRING) USAGE(CERTAUTH))"
                    for label in dict.fromkeys(("Peer CA", issuer, nssRoot))
                ),
            )
        database = SecurityDatabase.open(setup.database, setup.stash)
        try:
            nssRootCert = (
                KeyRingStore(database)
                .get_certificate(CertificateOwner.authority(), nssRoot)
                .certificate
            )
        finally:
            database.close()
        nssdConfig = write_nssd_config(setup)
        self.nssd = self._spawn(twistd_args(nssdConfig, "nssd"))
        match = await self.nssd.waitFor(LISTENING.pattern)
        nssdPort = int(match.group(1))
        self.ikedSocket = base.iked_socket(setup)
        ikedConfig = base.write_iked_config(
            setup,
            nssdPort,
            self.namespace,
            POLICY.format(iked=IKED_PORT, charon=CHARON_PORT).replace(
                "client1.example", identity
            ),
            localStack=localStack,
        )
        self.iked = self._spawn(twistd_args(ikedConfig, "iked"))
        await self.iked.waitFor(rb"EZD1138I Stack TCPIPA is connected")
        self.charon = Charon(
            self.mktemp(),
            self.namespace,
            CHARON_PORT,
            CHARON_PORT + 1,
            settings=None if rfc7427 else {"signature_authentication": False},
        )
        self.addCleanup(self.charon.stop)
        self.charon.add_ca(nssRootCert, "nss-root")
        if peerIntermediate is not None:
            # Its own path, which charon sends up to (not including) its
            # root; neither is an anchor for iked's certificate, which
            # comes from the other PKI.
            self.charon.add_ca(peerIntermediate, "own-intermediate")
            if peerSendsChain:
                self.charon.add_ca(peerRoot, "own-root")
        certificate = self.charon.add_identity("strongswan", peerCert, peerKey)
        self.charon.connections.append(
            Connection(
                "iked",
                remote_port=IKED_PORT,
                local_id="strongswan.iked.test",
                remote_id=identity,
                local_certs=[certificate],
                proposals="aes128-sha256-x25519",
                children=[Child("host-host", esp_proposals="aes128gcm16")],
            )
        )
        if localStack:
            base.add_local_peer(self.namespace, self.charon, certificate)
        await self.charon.start()
        await self.charon.load()
        return identity

    async def _strongswan_initiates(self, identity: str) -> dict[str, Any]:
        await self.charon.initiate(child="host-host")
        await self._charon_children()
        (sa,) = await self.charon.list_sas()
        self.assertEqual(sa["state"], "ESTABLISHED")
        self.assertEqual(sa["remote-id"], identity)
        self.assertNotIn(b"Traceback", self.iked.output)
        return sa

    async def _iked_initiates(self, identity: str) -> dict[str, Any]:
        await self._ipsec("-y", "activate", "-n", "host-host", through="CLIENT1")
        await self._charon_children()
        (sa,) = await self.charon.list_sas()
        self.assertEqual(sa["state"], "ESTABLISHED")
        self.assertEqual(sa["remote-id"], identity)
        self.assertNotIn(b"Traceback", self.iked.output)
        return sa

    def _signed(self) -> list[bytes]:
        """nssd's DBG0005I lines: one per signature it made."""
        return [line for line in self.nssd.output.splitlines() if b"DBG0005I" in line]

    def test_ecdsa_p256_both_sides(self) -> Deferred[None]:
        """
        iked's P-256 key in nssd signs its AUTH (RFC 7427 ECDSA with
        SHA-256) for strongSwan's P-256 key, strongSwan initiating, then
        iked initiating after a delete; the second negotiation makes one
        signature request, not a failed one first.
        """

        async def go() -> None:
            identity = await self._start(ikedKey="p256", charonKey="p256")
            await self._strongswan_initiates(identity)
            first = len(self._signed())
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self._iked_initiates(identity)
            self.assertEqual(len(self._signed()), first + 1)
            self.assertNotIn(b"NSSRsnSchemeMismatch", self.iked.output)

        return ensureDeferred(go())

    def test_ecdsa_p384_both_sides(self) -> Deferred[None]:
        """
        A P-384 key in nssd signs with ECDSA SHA-384 for a P-384 peer,
        iked initiating and then strongSwan.
        """

        async def go() -> None:
            identity = await self._start(ikedKey="p384", charonKey="p384")
            await self._iked_initiates(identity)
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self._strongswan_initiates(identity)
            self.assertIn(b"ECDSA_SHA384", b"\n".join(self._signed()))

        return ensureDeferred(go())

    def test_ecdsa_mixed(self) -> Deferred[None]:
        """
        iked signs with its P-256 key in nssd and checks strongSwan's RSA
        signature, both ways round.
        """

        async def go() -> None:
            identity = await self._start(ikedKey="p256", charonKey="rsa")
            await self._strongswan_initiates(identity)
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self._iked_initiates(identity)

        return ensureDeferred(go())

    def test_ecdsa_p384_without_rfc7427(self) -> Deferred[None]:
        """
        A strongSwan that does not announce RFC 7427 gets iked's P-384
        signature under RFC 4754 method 10 (ECDSA with SHA-384 on P-384),
        and signs its own P-256 one under method 9, both ways round.
        """

        async def go() -> None:
            identity = await self._start(
                ikedKey="p384", charonKey="p256", rfc7427=False
            )
            await self._strongswan_initiates(identity)
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self._iked_initiates(identity)
            self.assertIn(b"ECDSA_SHA384", b"\n".join(self._signed()))
            log = self.charon.log_text()
            self.assertIn(f"authentication of '{identity}' with ECDSA-384", log)
            self.assertNotIn("RFC 7427", log)

        return ensureDeferred(go())

    def test_chain_strongswan_initiates(self) -> Deferred[None]:
        """
        Each side trusts only the other's root: strongSwan validates iked's
        certificate through the intermediate iked sends from nssd's ring,
        and nssd validates strongSwan's through the one strongSwan sends.
        """

        async def go() -> None:
            identity = await self._start(chain=True)
            await self._strongswan_initiates(identity)

        return ensureDeferred(go())

    def test_chain_without_intermediate_refused(self) -> Deferred[None]:
        """
        A strongSwan that sends its certificate without the intermediate
        that issued it is refused: nssd finds no path to the root it
        trusts, iked logs EZD1200I and answers AUTHENTICATION_FAILED.
        """

        async def go() -> None:
            await self._start(chain=True, peerSendsChain=False)
            with self.assertRaises(CommandFailed) as caught:
                await self.charon.initiate(child="host-host")
            self.assertIn("AUTHENTICATION_FAILED", str(caught.exception))
            await self.iked.waitFor(
                rb"EZD1200I Stack TCPIPA refused the certificate chain of "
                rb"CN=strongswan.iked.test,O=strongSwan side: nssd rejected it: "
                rb"EPERM NSSRsnChainInvalid"
            )
            self.assertEqual(await self.charon.list_sas(), [])

        return ensureDeferred(go())

    def test_chain_local_key_ring(self) -> Deferred[None]:
        """
        A stack with iked's own key ring sends the intermediate from that
        ring and validates strongSwan's chain against the ring's root,
        strongSwan initiating, then iked.
        """

        async def go() -> None:
            await self._start(chain=True, localStack=True)
            await self.charon.initiate(child="local-host")
            await self._charon_children()
            (sa,) = await self.charon.list_sas()
            self.assertEqual(sa["remote-id"], "iked.local")
            await self.charon.terminate(ike="iked-local")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self._ipsec("-y", "activate", "-n", "local-host", "-p", "TCPIPB")
            await self._charon_children()
            self.assertIn("O=Example, CN=NSS sub", self.charon.log_text())
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_chain_iked_initiates(self) -> Deferred[None]:
        """The same, with iked as the initiator and an ECDSA key."""

        async def go() -> None:
            identity = await self._start(ikedKey="p256", charonKey="p384", chain=True)
            await self._iked_initiates(identity)

        return ensureDeferred(go())
