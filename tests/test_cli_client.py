"""
Tests for L{nsstwisted.cli.client}, the C{nss-client} command: run in-process
against a real nssd (the service on an ephemeral loopback port, a security
database built by the documented example job, real TLS), as an operator would
run it from a client host.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nsstwisted.cli.client import parse_identity, parse_server, run
from nsstwisted.wire.nss import Identity, IdentityKind
from tests.daemons import (
    CLIENT1_PASSWORD,
    PASSTICKET_KEY,
    build_security,
    racf,
    start_nssd,
)

DATA = b"IKE_AUTH octets to be signed\x00\xff" * 100


def write_secret(path: str, text: str, mode: int = 0o600) -> str:
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


async def nss_client(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = await run(reactor, list(argv), stdout, stderr)
    return status, stdout.getvalue(), stderr.getvalue()


class NssClientTests(TestCase):
    """
    Commands against a running nssd.
    """

    def setUp(self) -> None:
        self.setup = build_security(self)
        service = start_nssd(self, self.setup)
        assert service.port is not None
        self.portNumber = service.port.getHost().port  # type: ignore[attr-defined]
        self.folder = self.setup.folder
        self.caFile = self.path("ca.pem")
        with open(self.caFile, "wb") as f:
            f.write(self.setup.caPem)
        self.passwordFile = write_secret(self.path("client1.pw"), CLIENT1_PASSWORD)
        self.keyFile = write_secret(self.path("nssd.key"), PASSTICKET_KEY)
        self.dataFile = self.path("data.bin")
        with open(self.dataFile, "wb") as f:
            f.write(DATA)

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def connection(
        self,
        client: str = "CLIENT1",
        *,
        port: int | None = None,
        secret: list[str] | None = None,
        serverName: str | None = None,
    ) -> list[str]:
        """
        The connection options of CLIENT1 (password) or CLIENT2 (PassTicket).
        """
        if secret is None:
            secret = (
                ["--password-file", self.passwordFile]
                if client == "CLIENT1"
                else ["--passticket-key-file", self.keyFile]
            )
        options = [
            "--server",
            f"127.0.0.1:{port or self.portNumber}",
            "--ca-file",
            self.caFile,
            "--client-name",
            client,
            "--userid",
            client,
            *secret,
        ]
        if serverName is not None:
            options += ["--server-name", serverName]
        return options

    def read(self, name: str) -> bytes:
        with open(self.path(name), "rb") as f:
            return f.read()

    def certificate(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.read(name))

    def client1_signs(self) -> list[str]:
        """The arguments of CLIENT1's SIGN of the data file."""
        return [
            "sign",
            "--label",
            "Client1 cert",
            "--hash",
            "sha256",
            "--in",
            self.dataFile,
            "--out",
            self.path("sig1"),
            "--cert-out",
            self.path("client1.pem"),
        ]

    async def sign_client1(self) -> tuple[bytes, x509.Certificate]:
        status, out, err = await nss_client(*self.connection(), *self.client1_signs())
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            out,
            f"signature: 256 bytes (RSA_PKCS1_SHA256) written to {self.path('sig1')}\n"
            "signer: CN=client1.example,O=Example\n",
        )
        return self.read("sig1"), self.certificate("client1.pem")

    def test_signByLabel(self) -> Deferred[None]:
        """
        CLIENT1 (password logon) signs with its RSA certificate by label; the
        raw PKCS#1 v1.5 signature checks with the certificate's key.
        """

        async def go() -> None:
            signature, certificate = await self.sign_client1()
            key = certificate.public_key()
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, DATA, padding.PKCS1v15(), hashes.SHA256())
            self.assertRaises(
                InvalidSignature,
                key.verify,
                signature,
                DATA + b"!",
                padding.PKCS1v15(),
                hashes.SHA256(),
            )

        return ensureDeferred(go())

    def test_signByIdentity(self) -> Deferred[None]:
        """
        CLIENT2 logs on with a PassTicket made from the key file and signs
        with the certificate that certifies client2.example (ECDSA).
        """

        async def go() -> None:
            status, out, err = await nss_client(
                *self.connection("CLIENT2"),
                "sign",
                "--identity",
                "fqdn:client2.example",
                "--hash",
                "sha384",
                "--scheme",
                "ecdsa",
                "--in",
                self.dataFile,
                "--out",
                self.path("sig2"),
                "--cert-out",
                self.path("client2.pem"),
            )
            self.assertEqual((status, err), (0, ""))
            self.assertIn("(ECDSA_SHA384)", out)
            self.assertIn("signer: CN=client2.example,O=Example\n", out)
            key = self.certificate("client2.pem").public_key()
            assert isinstance(key, ec.EllipticCurvePublicKey)
            key.verify(self.read("sig2"), DATA, ec.ECDSA(hashes.SHA384()))

        return ensureDeferred(go())

    def verify_args(self, signature: str, data: str, *extra: str) -> list[str]:
        return [
            *self.connection(),
            "verify",
            "--cert",
            self.path("client2.pem"),
            "--hash",
            "sha256",
            "--in",
            data,
            "--signature",
            signature,
            *extra,
        ]

    def test_verifyValidAndNot(self) -> Deferred[None]:
        """
        CLIENT1 has nssd verify CLIENT2's signature: valid over the signed
        file (the scheme follows the certificate's EC key), refused with the
        codes' names over another file.
        """

        async def go() -> None:
            status, _, err = await nss_client(
                *self.connection("CLIENT2"),
                "sign",
                "--label",
                "Client2 cert",
                "--hash",
                "sha256",
                "--scheme",
                "ecdsa",
                "--in",
                self.dataFile,
                "--out",
                self.path("sig2"),
                "--cert-out",
                self.path("client2.pem"),
            )
            self.assertEqual((status, err), (0, ""))
            status, out, err = await nss_client(
                *self.verify_args(self.path("sig2"), self.dataFile)
            )
            self.assertEqual((status, out, err), (0, "signature valid\n", ""))

            other = self.path("other.bin")
            with open(other, "wb") as f:
                f.write(DATA[:-1])
            status, out, err = await nss_client(
                *self.verify_args(self.path("sig2"), other)
            )
            self.assertEqual((status, out), (1, ""))
            self.assertTrue(
                err.startswith("nss-client: EPERM NSSRsnVerifyFailed: "), err
            )

            # An ECDSA signature checked as RSA: the scheme does not fit.
            status, out, err = await nss_client(
                *self.verify_args(self.path("sig2"), self.dataFile, "--scheme", "pss")
            )
            self.assertEqual(status, 1)
            self.assertTrue(
                err.startswith("nss-client: EINVAL NSSRsnSchemeMismatch: "), err
            )

        return ensureDeferred(go())

    def test_cacerts(self) -> Deferred[None]:
        async def go() -> None:
            status, out, err = await nss_client(*self.connection(), "cacerts")
            self.assertEqual((status, err), (0, ""))
            self.assertEqual(out.count("-----BEGIN CERTIFICATE-----"), 1)
            certificates = x509.load_pem_x509_certificates(out.encode("ascii"))
            self.assertEqual(
                [c.subject.rfc4514_string() for c in certificates],
                ["CN=NSS Test CA,O=Example"],
            )
            self.assertEqual(out.encode("ascii"), self.setup.caPem)

        return ensureDeferred(go())

    def test_signJson(self) -> Deferred[None]:
        """
        C{--json} with sign: the facts the text prints (size, scheme,
        signer), typed, and the signature file written as without it; the
        password and the PassTicket key appear nowhere.
        """

        async def go() -> None:
            status, out, err = await nss_client(
                *self.connection(), "--json", *self.client1_signs()
            )
            self.assertEqual((status, err), (0, ""))
            shown = json.loads(out)
            certificate = self.certificate("client1.pem")
            self.assertEqual(
                {k: v for k, v in shown.items() if k != "Signer"},
                {
                    "Command": "sign",
                    "Server": "127.0.0.1",
                    "Port": self.portNumber,
                    "ClientName": "CLIENT1",
                    "UserID": "CLIENT1",
                    "Scheme": "RSA_PKCS1_SHA256",
                    "Label": "Client1 cert",
                    "Identity": None,
                    "SignatureBytes": 256,
                    "SignatureFile": self.path("sig1"),
                    "CertificateFile": self.path("client1.pem"),
                },
            )
            signer = shown["Signer"]
            self.assertEqual(signer["SubjectsName"], "CN=client1.example,O=Example")
            self.assertEqual(signer["IssuersName"], "CN=NSS Test CA,O=Example")
            self.assertEqual(signer["SerialNumber"], f"{certificate.serial_number:X}")
            self.assertEqual(
                signer["SHA256Fingerprint"],
                certificate.fingerprint(hashes.SHA256()).hex().upper(),
            )
            self.assertRegex(signer["EndDate"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertEqual(len(self.read("sig1")), 256)
            self.assertNotIn(CLIENT1_PASSWORD, out)

        return ensureDeferred(go())

    def test_verifyAndCacertsJson(self) -> Deferred[None]:
        """
        C{--json} with verify (CLIENT2, by PassTicket) and cacerts: C{Valid}
        with the signer's facts, and the CA certificates with their PEM; a
        refused verify prints no JSON, only the codes on standard error.
        """

        async def go() -> None:
            await self.sign_client1()
            verify = [
                *self.connection("CLIENT2"),
                "--json",
                "verify",
                "--cert",
                self.path("client1.pem"),
                "--hash",
                "sha256",
                "--in",
                self.dataFile,
                "--signature",
                self.path("sig1"),
            ]
            status, out, err = await nss_client(*verify)
            self.assertEqual((status, err), (0, ""))
            shown = json.loads(out)
            self.assertEqual((shown["Command"], shown["Valid"]), ("verify", True))
            self.assertEqual(shown["UserID"], "CLIENT2")
            self.assertEqual(shown["Scheme"], "RSA_PKCS1_SHA256")
            self.assertEqual(shown["ChainCertificates"], 0)
            self.assertEqual(
                shown["Signer"]["SubjectsName"], "CN=client1.example,O=Example"
            )
            self.assertNotIn(PASSTICKET_KEY, out)

            # CLIENT1 now, since a PassTicket is good for one logon a second.
            refused = [*self.connection(), *verify[len(self.connection("CLIENT2")) :]]
            refused[refused.index(self.dataFile)] = self.path("sig1")
            status, out, err = await nss_client(*refused)
            self.assertEqual((status, out), (1, ""))
            self.assertTrue(
                err.startswith("nss-client: EPERM NSSRsnVerifyFailed: "), err
            )

            status, out, err = await nss_client(*self.connection(), "--json", "cacerts")
            self.assertEqual((status, err), (0, ""))
            shown = json.loads(out)
            self.assertEqual((shown["Command"], shown["TotAvail"]), ("cacerts", 1))
            [ca] = shown["Entries"]
            self.assertEqual(ca["SubjectsName"], "CN=NSS Test CA,O=Example")
            self.assertEqual(ca["PEM"].encode("ascii"), self.setup.caPem)

        return ensureDeferred(go())

    def test_refusalNamed(self) -> Deferred[None]:
        """
        CLIENT1 may not sign with CLIENT2's certificate: exit 1, the return
        and reason code by name, and no signature file.
        """

        async def go() -> None:
            status, out, err = await nss_client(
                *self.connection(),
                "sign",
                "--label",
                "Client2 cert",
                "--hash",
                "sha256",
                "--scheme",
                "ecdsa",
                "--in",
                self.dataFile,
                "--out",
                self.path("never"),
            )
            self.assertEqual((status, out), (1, ""))
            self.assertTrue(
                err.startswith("nss-client: EACCES NSSRsnCertAccessDenied: "), err
            )
            self.assertEqual(err.count("\n"), 1)
            self.assertFalse(os.path.exists(self.path("never")))

            status, _, err = await nss_client(
                *self.connection(),
                "sign",
                "--label",
                "no such cert",
                "--hash",
                "sha256",
                "--in",
                self.dataFile,
                "--out",
                self.path("never"),
            )
            self.assertEqual(status, 1)
            self.assertTrue(err.startswith("nss-client: ENOENT NSSRsnCertNotFound: "))

        return ensureDeferred(go())

    def test_wrongPassword(self) -> Deferred[None]:
        """
        A refused logon is a refusal (exit 1), and the password is not
        printed.
        """

        async def go() -> None:
            wrong = write_secret(self.path("wrong.pw"), "Not-The-Pw1")
            status, out, err = await nss_client(
                *self.connection(secret=["--password-file", wrong]), "cacerts"
            )
            self.assertEqual((status, out), (1, ""))
            self.assertTrue(
                err.startswith("nss-client: EACCES NSSRsnUserAuthentication: "), err
            )
            self.assertNotIn("Not-The-Pw1", err)

        return ensureDeferred(go())

    def test_insecureSecretFiles(self) -> Deferred[None]:
        """
        A password or key file that group or others may read is refused
        before connecting, naming the file and its mode; an owner-only
        read-only file is fine.
        """

        async def go() -> None:
            loose = write_secret(self.path("loose.pw"), CLIENT1_PASSWORD, 0o644)
            status, out, err = await nss_client(
                *self.connection(secret=["--password-file", loose]), "cacerts"
            )
            self.assertEqual((status, out), (2, ""))
            self.assertIn(loose, err)
            self.assertIn("mode 0644", err)
            self.assertNotIn(CLIENT1_PASSWORD, err)

            key = write_secret(self.path("loose.key"), PASSTICKET_KEY, 0o640)
            status, _, err = await nss_client(
                *self.connection("CLIENT2", secret=["--passticket-key-file", key]),
                "cacerts",
            )
            self.assertEqual(status, 2)
            self.assertIn(f"NSR0307E the PassTicket key file {key} has mode 0640", err)
            self.assertNotIn(PASSTICKET_KEY, err)

            status, _, err = await nss_client(
                *self.connection(secret=["--password-file", self.path("absent")]),
                "cacerts",
            )
            self.assertEqual(status, 2)
            self.assertIn(f"cannot open the password file {self.path('absent')}", err)

            readOnly = write_secret(self.path("ro.pw"), CLIENT1_PASSWORD, 0o400)
            status, _, err = await nss_client(
                *self.connection(secret=["--password-file", readOnly]), "cacerts"
            )
            self.assertEqual((status, err), (0, ""))

        return ensureDeferred(go())

    def test_badPassTicketKey(self) -> Deferred[None]:
        async def go() -> None:
            bad = write_secret(self.path("bad.key"), "E0011935195619ZZ")
            status, _, err = await nss_client(
                *self.connection("CLIENT2", secret=["--passticket-key-file", bad]),
                "cacerts",
            )
            self.assertEqual(status, 2)
            self.assertIn("16 hex digits", err)
            self.assertNotIn("E0011935195619", err)

        return ensureDeferred(go())

    def test_serverNameChecked(self) -> Deferred[None]:
        """
        The server's certificate names localhost and 127.0.0.1; another
        name fails the TLS check, which is a connection failure (exit 2).
        """

        async def go() -> None:
            status, out, err = await nss_client(
                *self.connection(serverName="nss.example.org"), "cacerts"
            )
            self.assertEqual((status, out), (2, ""))
            self.assertTrue(
                err.startswith(
                    f"nss-client: cannot connect to 127.0.0.1 port {self.portNumber}"
                ),
                err,
            )
            status, _, err = await nss_client(
                *self.connection(serverName="localhost"), "cacerts"
            )
            self.assertEqual((status, err), (0, ""))

        return ensureDeferred(go())

    def test_unreachableServer(self) -> Deferred[None]:
        async def go() -> None:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            closedPort = probe.getsockname()[1]
            probe.close()
            status, out, err = await nss_client(
                *self.connection(port=closedPort), "cacerts"
            )
            self.assertEqual((status, out), (2, ""))
            self.assertTrue(
                err.startswith(
                    f"nss-client: cannot connect to 127.0.0.1 port {closedPort}: "
                ),
                err,
            )

        return ensureDeferred(go())

    def test_identityCheckedHere(self) -> Deferred[None]:
        async def go() -> None:
            status, _, err = await nss_client(
                *self.connection(),
                "sign",
                "--identity",
                "fqdn:bad_name.example",
                "--hash",
                "sha256",
                "--in",
                self.dataFile,
                "--out",
                self.path("never"),
            )
            self.assertEqual(status, 2)
            self.assertEqual(
                err,
                "nss-client: --identity: 'bad_name.example' holds a character "
                "not allowed here\n",
            )

        return ensureDeferred(go())

    def test_opensslVerifies(self) -> Deferred[None]:
        """
        The signature file is what the openssl command line expects: the
        raw PKCS#1 v1.5 signature over the file's SHA-256.
        """
        openssl = shutil.which("openssl")
        if openssl is None:
            self.skipTest("no openssl command")

        async def go() -> None:
            _, certificate = await self.sign_client1()
            with open(self.path("pub.pem"), "wb") as f:
                f.write(
                    certificate.public_key().public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    )
                )
            result = subprocess.run(
                [
                    openssl,
                    "dgst",
                    "-sha256",
                    "-verify",
                    self.path("pub.pem"),
                    "-signature",
                    self.path("sig1"),
                    self.dataFile,
                ],
                capture_output=True,
                check=False,
            )
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn(b"Verified OK", result.stdout)

        return ensureDeferred(go())


class UsageTests(TestCase):
    """
    Mistakes found before any connection: exit 2, one line on stderr.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.data = os.path.join(self.folder, "data")
        with open(self.data, "wb") as f:
            f.write(b"data")
        self.base = [
            "--server",
            "127.0.0.1",
            "--ca-file",
            os.path.join(self.folder, "ca.pem"),
            "--client-name",
            "CLIENT1",
            "--userid",
            "CLIENT1",
            "--password-file",
            os.path.join(self.folder, "pw"),
        ]

    def assertUsage(self, argv: list[str], *expected: str) -> Deferred[None]:
        async def go() -> None:
            status, out, err = await nss_client(*argv)
            self.assertEqual((status, out), (2, ""))
            self.assertTrue(err.startswith("nss-client: "), err)
            self.assertEqual(err.count("\n"), 1, err)
            for text in expected:
                self.assertIn(text, err)

        return ensureDeferred(go())

    def sign(self, *options: str) -> list[str]:
        return [*self.base, "sign", "--in", self.data, "--out", "sig", *options]

    def test_noCommand(self) -> Deferred[None]:
        return self.assertUsage(self.base, "a COMMAND is required")

    def test_unknownCommand(self) -> Deferred[None]:
        return self.assertUsage([*self.base, "frobnicate"], "Unknown command")

    def test_missingServer(self) -> Deferred[None]:
        return self.assertUsage([*self.base[2:], "cacerts"], "--server is required")

    def test_bothSecrets(self) -> Deferred[None]:
        return self.assertUsage(
            [*self.base, "--passticket-key-file", "k", "cacerts"],
            "exactly one of --password-file and --passticket-key-file",
        )

    def test_labelAndIdentity(self) -> Deferred[None]:
        return self.assertUsage(
            self.sign("--label", "x", "--identity", "fqdn:a.b", "--hash", "sha256"),
            "exactly one of --label and --identity",
        )

    def test_badHash(self) -> Deferred[None]:
        return self.assertUsage(
            self.sign("--label", "x", "--hash", "md5"), "--hash must be one of"
        )

    def test_sha1OnlyWithPkcs1(self) -> Deferred[None]:
        return self.assertUsage(
            self.sign("--label", "x", "--hash", "sha1", "--scheme", "ecdsa"),
            "--scheme ecdsa does not go with --hash sha1",
        )

    def test_badIdentityKind(self) -> Deferred[None]:
        return self.assertUsage(
            self.sign("--identity", "host:a.example", "--hash", "sha256"),
            "KIND one of fqdn, ip, email, dn",
        )

    def test_badPort(self) -> Deferred[None]:
        argv = [*self.base, "cacerts"]
        argv[1] = "127.0.0.1:0"
        return self.assertUsage(argv, "the port must be 1 to 65535")

    def test_missingCaFile(self) -> Deferred[None]:
        return self.assertUsage(
            [*self.base, "cacerts"], "cannot read the CA file", "ca.pem"
        )

    def test_missingInput(self) -> Deferred[None]:
        argv = self.sign("--label", "x", "--hash", "sha256")
        argv[argv.index(self.data)] = os.path.join(self.folder, "absent")
        return self.assertUsage(argv, "cannot read the input", "absent")

    def test_help(self) -> Deferred[None]:
        async def go() -> None:
            status, out, err = await nss_client("--help")
            self.assertEqual((status, err), (0, ""))
            self.assertIn("COMMAND", out)
            status, out, err = await nss_client("--server", "x", "sign", "--help")
            self.assertEqual((status, err), (0, ""))
            self.assertIn("fqdn:NAME", out)

        return ensureDeferred(go())


class InsecureServerTests(TestCase):
    """
    A server whose certificate does not pass the TLS check: nss-client says
    in a sentence what failed (and names the CA file where that matters),
    not OpenSSL's error list, and exits 2 without a logon.
    """

    def setUp(self) -> None:
        self.setup = build_security(self)
        self.caFile = os.path.join(self.setup.folder, "ca.pem")
        with open(self.caFile, "wb") as f:
            f.write(self.setup.caPem)
        self.passwordFile = write_secret(
            os.path.join(self.setup.folder, "client1.pw"), CLIENT1_PASSWORD
        )

    def serve(self, certificate: str | None = None) -> int:
        """
        Start nssd; with C{certificate} (the rest of a RACDCERT GENCERT),
        presenting that certificate instead of the example job's.
        """
        ring = "NSSD/TLSRING"
        if certificate is not None:
            racf(
                self.setup,
                "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('localhost') O('Example'))"
                f" NISTECC SIZE(256) WITHLABEL('Test TLS') {certificate}"
                " ALTNAME(IP(127.0.0.1))",
                "RACDCERT ID(NSSD) ADDRING(TESTTLS)",
                "RACDCERT ID(NSSD) CONNECT(ID(NSSD) LABEL('Test TLS')"
                " RING(TESTTLS) DEFAULT)",
            )
            ring = "NSSD/TESTTLS"
        service = start_nssd(self, self.setup, tlsRing=ring)
        assert service.port is not None
        port: int = service.port.getHost().port  # type: ignore[attr-defined]
        return port

    async def refused(self, port: int, caFile: str | None = None) -> str:
        status, out, err = await nss_client(
            "--server",
            f"127.0.0.1:{port}",
            "--ca-file",
            caFile or self.caFile,
            "--client-name",
            "CLIENT1",
            "--userid",
            "CLIENT1",
            "--password-file",
            self.passwordFile,
            "cacerts",
        )
        self.assertEqual((status, out), (2, ""))
        prefix = f"nss-client: cannot connect to 127.0.0.1 port {port}: "
        self.assertTrue(err.startswith(prefix), err)
        self.assertEqual(err.count("\n"), 1, err)
        return err[len(prefix) : -1]

    def test_otherCa(self) -> Deferred[None]:
        port = self.serve()
        other = build_security(self)
        otherFile = os.path.join(other.folder, "other-ca.pem")
        with open(otherFile, "wb") as f:
            f.write(other.caPem)

        async def go() -> None:
            self.assertEqual(
                await self.refused(port, otherFile),
                "the server's certificate is not signed by a CA certificate in"
                f" {otherFile}: its chain ends in the CA certificate"
                " CN=NSS Test CA,O=Example",
            )

        return ensureDeferred(go())

    def test_otherCaLeafOnly(self) -> Deferred[None]:
        """
        A server that sends its own certificate only.
        """
        port = self.serve("SIGNWITH(CERTAUTH LABEL('NSS CA'))")
        other = build_security(self)

        async def go() -> None:
            self.assertEqual(
                await self.refused(port, self.write_ca(other.caPem)),
                "the server's certificate (CN=localhost,O=Example) is not signed"
                f" by a CA certificate in {self.otherFile}: its issuer is"
                " CN=NSS Test CA,O=Example",
            )

        return ensureDeferred(go())

    def write_ca(self, pem: bytes) -> str:
        self.otherFile = os.path.join(self.setup.folder, "other-ca.pem")
        with open(self.otherFile, "wb") as f:
            f.write(pem)
        return self.otherFile

    def test_expired(self) -> Deferred[None]:
        port = self.serve(
            "SIGNWITH(CERTAUTH LABEL('NSS CA'))"
            " NOTBEFORE(DATE(2019-01-01)) NOTAFTER(DATE(2020-01-01))"
        )

        async def go() -> None:
            self.assertEqual(
                await self.refused(port),
                "the server's certificate (CN=localhost,O=Example) expired on"
                " 2020-01-01 23:59:59 UTC",
            )

        return ensureDeferred(go())

    def test_notYetValid(self) -> Deferred[None]:
        port = self.serve(
            "SIGNWITH(CERTAUTH LABEL('NSS CA'))"
            " NOTBEFORE(DATE(2090-01-01)) NOTAFTER(DATE(2091-01-01))"
        )

        async def go() -> None:
            self.assertEqual(
                await self.refused(port),
                "the server's certificate (CN=localhost,O=Example) is not valid"
                " before 2090-01-01 00:00:00 UTC (or the clock of this system is"
                " wrong)",
            )

        return ensureDeferred(go())

    def test_selfSigned(self) -> Deferred[None]:
        port = self.serve("")

        async def go() -> None:
            self.assertEqual(
                await self.refused(port),
                "the server's certificate (CN=localhost,O=Example) is"
                f" self-signed, and it is not in {self.caFile}",
            )

        return ensureDeferred(go())

    def test_notTls(self) -> Deferred[None]:
        """
        Something that is not a TLS server at all.
        """
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]

        def answer() -> None:
            peer, _ = listener.accept()
            with peer:
                peer.recv(4096)
                peer.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        async def go() -> None:
            served = deferToThread(answer)
            text = await self.refused(port)
            await served
            self.assertTrue(
                text.startswith(
                    "the server does not speak TLS (is it nssd, and is the port"
                    " right?): "
                ),
                text,
            )

        return ensureDeferred(go())


class ParsingTests(TestCase):
    def test_server(self) -> None:
        self.assertEqual(parse_server("nss.example"), ("nss.example", 4159))
        self.assertEqual(parse_server("nss.example:1234"), ("nss.example", 1234))
        self.assertEqual(parse_server("[::1]:99"), ("::1", 99))
        self.assertEqual(parse_server("[::1]"), ("::1", 4159))
        self.assertEqual(parse_server("fe80::1"), ("fe80::1", 4159))

    def test_identity(self) -> None:
        self.assertEqual(
            parse_identity("DN:CN=a,O=b:c"), Identity(IdentityKind.DN, "CN=a,O=b:c")
        )
        self.assertEqual(parse_identity("ip:::1"), Identity(IdentityKind.IPADDR, "::1"))
        self.assertEqual(
            parse_identity("email:op@example.org"),
            Identity(IdentityKind.EMAIL, "op@example.org"),
        )


class DocumentationTests(TestCase):
    """
    The section of C{docs/commands.md} on nss-client names every option of
    the command and of each of its commands, with its one-letter form.
    """

    def test_everyOptionDocumented(self) -> None:
        from nsstwisted.cli.client import ClientOptions
        from tests.daemons import ROOT

        with open(os.path.join(ROOT, "docs", "commands.md"), encoding="utf-8") as f:
            text = f.read()
        section = text.split("## nss-client\n", 1)[1].split("\n## ", 1)[0]
        commands = [options for _, _, options, _ in ClientOptions.subCommands]
        for options in [ClientOptions, *commands]:
            for name, letter, *_ in getattr(options, "optParameters", []):
                self.assertIn(f"--{name}", section, name)
                if letter is not None and options is ClientOptions:
                    self.assertIn(f"`-{letter}`, `--{name}", section, name)
        for name, _, _, _ in ClientOptions.subCommands:
            self.assertIn(f"nss-client CONNECTION {name}", section)
