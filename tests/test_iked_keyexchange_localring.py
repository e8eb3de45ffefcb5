"""
iked's own key ring, for stacks that are not NSS clients: signing for an
IKE identity, the trusted CAs, and what happens when it cannot be used.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import load_der_x509_certificate
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nsstwisted.ike.auth import verify_signature
from nsstwisted.ike.constants import AuthMethod, IdType, NotifyType
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.policy import LocalIdentity
from nsstwisted.iked.keyexchange.localring import LocalKeyRing
from nsstwisted.iked.service import IKEDService
from nsstwisted.protocols.startup import StartupError
from tests.daemons import build_security, capture_messages, racf

POLICY = """\
KeyExchangeRule peer
{
  LocalSecurityEndpoint { Identity Fqdn client1.example
                          Location 127.0.0.1 }
  RemoteSecurityEndpoint { Location 127.0.0.1 }
  KeyExchangeActionRef ike
}
KeyExchangeAction ike
{
  KeyExchangeOffer { HowToEncrypt AES_CBC KeyLength 128
                     HowToAuthMsgs HMAC_SHA2_256_128
                     DHGroup Group19 }
}
"""


class LocalKeyRingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.setup = build_security(self)  # type: ignore[arg-type]
        self.ring = LocalKeyRing.open(
            self.setup.database, self.setup.stash, "NSSD", "NSSRING"
        )
        self.addCleanup(self.ring.close)

    def test_sign_for_identity(self) -> None:
        """The certificate that certifies the identity signs, RFC 7427."""
        signed = self.ring.sign(
            LocalIdentity(IdType.FQDN, "client1.example"), b"octets", frozenset({2, 3})
        )
        self.assertEqual(signed.method, AuthMethod.DIGITAL_SIGNATURE)
        self.assertEqual(signed.scheme.name, "RSA_PKCS1_SHA256")
        certificate = load_der_x509_certificate(signed.certificates[0])
        key = certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        verify_signature(key, signed.scheme, b"octets", signed.signature)

    def test_ecdsa_without_hash_notify(self) -> None:
        signed = self.ring.sign(
            LocalIdentity(IdType.FQDN, "client2.example"), b"octets", None
        )
        self.assertEqual(signed.method, AuthMethod.ECDSA_SHA256_P256)

    def test_chain(self) -> None:
        """
        The signature comes with the ring's CA certificates that issued the
        certificate, its issuer first (here an intermediate, then the root),
        for the engine to send the intermediates; a P-384 key signs under
        method 10 for a peer without RFC 7427.
        """
        racf(
            self.setup,
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('Sub CA') O('Example')) "
            "SIZE(2048) WITHLABEL('Sub CA') SIGNWITH(CERTAUTH LABEL('NSS CA'))",
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Sub CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
            "RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('sub.example')) "
            "NISTECC SIZE(384) WITHLABEL('Client1 sub') "
            "SIGNWITH(CERTAUTH LABEL('Sub CA')) ALTNAME(DOMAIN('sub.example'))",
            "RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('Client1 sub') "
            "RING(NSSRING) USAGE(PERSONAL))",
        )
        signed = self.ring.sign(LocalIdentity(IdType.FQDN, "sub.example"), b"x", None)
        self.assertEqual(signed.method, AuthMethod.ECDSA_SHA384_P384)
        subjects = [
            load_der_x509_certificate(c).subject.rfc4514_string()
            for c in signed.certificates
        ]
        self.assertEqual(
            subjects,
            ["CN=sub.example", "CN=Sub CA,O=Example", "CN=NSS Test CA,O=Example"],
        )

    def test_no_certificate(self) -> None:
        with self.assertRaises(IkeError) as caught:
            self.ring.sign(LocalIdentity(IdType.FQDN, "nobody.example"), b"x", None)
        self.assertEqual(caught.exception.notify, NotifyType.AUTHENTICATION_FAILED)

    def test_trust(self) -> None:
        trust = self.ring.trust()
        self.assertEqual(
            [c.subject.rfc4514_string() for c in trust.authorities],
            ["CN=NSS Test CA,O=Example"],
        )
        self.assertEqual(len(trust.hashes()[0]), 20)


class UnusableRingTests(TestCase):
    def write_config(self, folder: str, stack: str) -> str:
        config = os.path.join(folder, "iked.conf")
        with open(config, "w") as f:
            f.write(
                "IkeConfig\n{\n  SystemName SYS1\n"
                f'  SecurityDatabase "{folder}/missing.db"\n'
                f'  NmiSocket "{self.sockets()}/nmi"\n'
                "}\n" + stack
            )
        return config

    def sockets(self) -> str:
        """
        A short folder for the management socket: AF_UNIX paths hold at
        most 107 bytes, and a test's own folder can be deeper than that.
        """
        if not hasattr(self, "_sockets"):
            self._sockets = tempfile.mkdtemp(prefix="nss-", dir="/tmp")
            self.addCleanup(shutil.rmtree, self._sockets, True)
        return self._sockets

    def folder_with_policy(self) -> tuple[str, str]:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        policy = os.path.join(folder, "b.policy")
        with open(policy, "w") as f:
            f.write(POLICY)
        return folder, f'TcpipStack TCPIPB\n{{\n  PolicyFile "{policy}"\n}}\n'

    def test_password_of_a_database_uri_not_shown(self) -> None:
        """
        A local ring in a PostgreSQL database named by NSS_SECURITY_DB that
        cannot be used: iked's message names the database without the
        password its URI holds.
        """
        messages = capture_messages(self)
        folder, stack = self.folder_with_policy()
        config = self.write_config(folder, stack)
        with open(config) as f:
            text = f.read()
        config = os.path.join(folder, "uri.conf")
        with open(config, "w") as f:
            f.write(text.replace(f'  SecurityDatabase "{folder}/missing.db"\n', ""))
        uri = "postgresql://nssd:s3cret@/nss?host=/nonexistent"
        self.patch(
            os,
            "environ",
            {**os.environ, "NSS_SECURITY_DB": uri, "NSS_STASH": f"{folder}/x.sth"},
        )
        service = IKEDService.prepare(config, reactor)
        error = self.assertRaises(StartupError, service.startService)
        self.addCleanup(service.stopService)
        self.assertIn("postgresql://nssd@", str(error))
        self.assertNotIn("s3cret", str(error))
        self.assertNotIn("s3cret", "\n".join(messages))

    def test_missing_database(self) -> None:
        """
        A stack with IKE peers, no NSS and a local ring that cannot be
        opened stops iked's start (EZD1104I, naming the ring, the database
        and the stack) before it serves its management socket.
        """
        messages = capture_messages(self)
        folder, stack = self.folder_with_policy()
        service = IKEDService.prepare(self.write_config(folder, stack), reactor)
        error = self.assertRaises(StartupError, service.startService)
        self.addCleanup(service.stopService)
        self.assertFalse(service.running)
        self.assertIsNone(service.nmiPort)
        self.assertFalse(os.path.exists(os.path.join(self.sockets(), "nmi")))
        self.assertEqual(service.ike, {})
        self.assertIn("IKED/KEYRING", str(error))
        self.assertIn("missing.db", str(error))
        text = "\n".join(messages)
        self.assertIn(
            "EZD1104I IKE daemon cannot start: the local key ring IKED/KEYRING", text
        )
        self.assertIn("which stack TCPIPB signs", text)

    def test_unusable_at_refresh(self) -> Deferred[None]:
        """
        A refresh that gives a stack IKE peers and a local ring that cannot
        be opened leaves that stack's peers unserved (EZD1160I, EZD1159I);
        iked runs on.
        """
        messages = capture_messages(self)
        folder, stack = self.folder_with_policy()
        config = self.write_config(folder, "TcpipStack TCPIPB { }\n")
        service = IKEDService.prepare(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        self.write_config(folder, stack)

        async def go() -> None:
            await service.refresh()
            self.assertTrue(service.running)
            self.assertEqual(service.ike, {})
            text = "\n".join(messages)
            self.assertIn("EZD1160I The local key ring IKED/KEYRING", text)
            self.assertIn("EZD1159I Stack TCPIPB has IKE peers", text)

        return ensureDeferred(go())
