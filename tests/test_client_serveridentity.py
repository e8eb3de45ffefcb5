"""
The client's check of the NSS server's identity, which must refuse before the
logon's first byte: against certificates of every shape the check meets, and
against real rogue TLS servers built from certificates that openssl and
nss-racf make (issue 22, item 1).
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import os
import shutil
import subprocess
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from nsstwisted.cli.client import run as nss_client
from nsstwisted.client import (
    ClientTimeouts,
    NssRequestFailed,
    PasswordCredentials,
    ServerIdentity,
    ServerIdentityMismatch,
    TlsFailed,
    connect,
    tls_endpoint,
)
from nsstwisted.nssd.tls import ServerContextFactory
from nsstwisted.security.distinguishednames import names_match
from nsstwisted.wire.nss import Services
from tests.daemons import (
    CLIENT1_PASSWORD,
    build_security,
    capture_messages,
    racf,
    start_nssd,
)

_KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(
    subject: str = "CN=nssd,O=Example",
    *,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """
    A self-signed certificate with C{subject} and, unless C{names} is None,
    a subjectAltName holding C{names}.
    """
    name = x509.Name.from_rfc4514_string(subject)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder.sign(_KEY, hashes.SHA256())


def dns(name: str) -> x509.GeneralName:
    return x509.DNSName(name)


def ip(address: str) -> x509.GeneralName:
    return x509.IPAddress(ipaddress.ip_address(address))


class ServerIdentityCheckTests(SynchronousTestCase):
    """
    L{ServerIdentity.check}, certificate by certificate.
    """

    def assertRefused(self, identity: ServerIdentity, cert: x509.Certificate) -> str:
        with self.assertRaises(ServerIdentityMismatch) as raised:
            identity.check(cert)
        return str(raised.exception)

    def test_noSubjectAltName(self) -> None:
        """
        A certificate without subjectAltName names no server, whatever its
        common name says (RACDCERT GENCERT without ALTNAME makes one).
        """
        cert = certificate("CN=127.0.0.1,O=Example")
        text = self.assertRefused(ServerIdentity("IpAddr", "127.0.0.1"), cert)
        self.assertIn("no subjectAltName", text)
        self.assertIn("ALTNAME", text)
        cert = certificate("CN=nssd.example,O=Example")
        self.assertRefused(ServerIdentity("Fqdn", "nssd.example"), cert)

    def test_addressWrittenAsDnsName(self) -> None:
        """
        ALTNAME(DOMAIN('10.1.2.3')) puts an address in a dNSName: it proves
        neither the address nor a name.
        """
        cert = certificate(names=[dns("10.1.2.3")])
        text = self.assertRefused(ServerIdentity("IpAddr", "10.1.2.3"), cert)
        self.assertIn("DNS:10.1.2.3", text)
        self.assertRefused(ServerIdentity.of_host("10.1.2.3"), cert)
        self.assertRefused(ServerIdentity("Fqdn", "10.1.2.3"), cert)

    def test_wrongNames(self) -> None:
        cert = certificate(names=[dns("nssd.example"), ip("10.0.0.1")])
        self.assertRefused(ServerIdentity("Fqdn", "other.example"), cert)
        self.assertRefused(ServerIdentity("IpAddr", "10.0.0.2"), cert)
        self.assertRefused(ServerIdentity("Fqdn", "sub.nssd.example"), cert)
        ServerIdentity("Fqdn", "NSSD.Example.").check(cert)
        ServerIdentity("IpAddr", "10.0.0.1").check(cert)
        ServerIdentity.of_host("nssd.example").check(cert)

    def test_ipv6(self) -> None:
        cert = certificate(names=[ip("::1")])
        ServerIdentity.of_host("::1").check(cert)
        ServerIdentity("IpAddr", "0:0::1").check(cert)
        self.assertRefused(ServerIdentity("IpAddr", "127.0.0.1"), cert)

    def test_wildcard(self) -> None:
        """
        A wildcard stands for exactly one whole left-most label, and never
        for a registered domain itself.
        """
        cert = certificate(names=[dns("*.nss.example")])
        ServerIdentity("Fqdn", "a.nss.example").check(cert)
        self.assertRefused(ServerIdentity("Fqdn", "nss.example"), cert)
        self.assertRefused(ServerIdentity("Fqdn", "a.b.nss.example"), cert)
        for pattern in ["*.example", "a*.nss.example", "*", "a.*.example"]:
            cert = certificate(names=[dns(pattern)])
            self.assertRefused(ServerIdentity("Fqdn", "ab.nss.example"), cert)

    def test_userAtFqdn(self) -> None:
        cert = certificate(names=[x509.RFC822Name("nss@Example.COM")])
        ServerIdentity("UserAtFqdn", "nss@example.com").check(cert)
        # The local part is compared exactly (RFC 5280 section 7.5).
        self.assertRefused(ServerIdentity("UserAtFqdn", "NSS@example.com"), cert)
        self.assertRefused(ServerIdentity("UserAtFqdn", "nss@other.com"), cert)

    def test_x500dn(self) -> None:
        """
        RFC 5280 section 7.1: the same names in the same order; case and
        insignificant blanks do not count, nor the string type.
        """
        cert = certificate("CN=NSS  Server,O=Example,C=US", names=[dns("nssd")])
        ServerIdentity("X500dn", "CN=NSS Server,O=Example,C=US").check(cert)
        ServerIdentity("X500dn", "CN=nss server,O=EXAMPLE,C=us").check(cert)
        text = self.assertRefused(
            ServerIdentity("X500dn", "CN=NSS Server,O=Other,C=US"), cert
        )
        self.assertIn("CN=NSS  Server,O=Example,C=US", text)
        # Order counts, and so does every part.
        self.assertRefused(
            ServerIdentity("X500dn", "C=US,O=Example,CN=NSS Server"), cert
        )
        self.assertRefused(ServerIdentity("X500dn", "CN=NSS Server,O=Example"), cert)
        self.assertRefused(ServerIdentity("X500dn", "not a name"), cert)

    def test_x500dnStringTypes(self) -> None:
        """
        A CA that encodes O as a PrintableString still matches a name typed
        in a configuration file.
        """
        printable = x509.Name(
            [
                x509.NameAttribute(
                    NameOID.ORGANIZATION_NAME,
                    "Example",
                    x509.name._ASN1Type.PrintableString,
                ),
                x509.NameAttribute(NameOID.COMMON_NAME, "nssd"),
            ]
        )
        self.assertTrue(
            names_match(printable, x509.Name.from_rfc4514_string("CN=nssd,O=Example"))
        )

    def test_x500dnIsTheSubjectOnly(self) -> None:
        """
        The DN is compared with the subject; no subjectAltName is needed.
        """
        cert = certificate("CN=nssd,O=Example")
        ServerIdentity("X500dn", "CN=nssd,O=Example").check(cert)

    def test_ofHost(self) -> None:
        self.assertEqual(
            ServerIdentity.of_host("10.1.2.3"), ServerIdentity("IpAddr", "10.1.2.3")
        )
        self.assertEqual(
            ServerIdentity.of_host("nssd.example"),
            ServerIdentity("Fqdn", "nssd.example"),
        )


# Real rogue servers.


class Recorder(Protocol):
    """
    A rogue NSS server: it completes the TLS handshake and records every
    byte the client sends, then hangs up.
    """

    def __init__(self, received: list[bytes]) -> None:
        self.received = received

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)
        self.transport.loseConnection()  # type: ignore[union-attr]


def openssl(folder: str, *args: str) -> None:
    subprocess.run(
        ["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60
    )


class OpensslPki:
    """
    A CA and server certificates of every shape, made by openssl.
    """

    def __init__(self, folder: str) -> None:
        if shutil.which("openssl") is None:
            raise SkipTest("openssl is not installed")
        self.folder = folder
        self._ca("ca", "/O=Example/CN=Rogue Test CA")
        self._ca("otherca", "/O=Other/CN=Other CA")

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def read(self, name: str) -> bytes:
        with open(self.path(name), "rb") as f:
            return f.read()

    def _ca(self, name: str, subject: str) -> None:
        openssl(
            self.folder,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.pem",
            "-subj",
            subject,
            "-days",
            "2",
        )

    def server(self, name: str, subject: str, san: str | None, ca: str = "ca") -> str:
        """
        A server certificate and key in one PEM file, signed by C{ca}.
        """
        openssl(
            self.folder,
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            subject,
        )
        extensions = self.path(f"{name}.ext")
        with open(extensions, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            if san is not None:
                f.write(f"subjectAltName={san}\n")
        openssl(
            self.folder,
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            f"{ca}.pem",
            "-CAkey",
            f"{ca}.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "1",
            "-extfile",
            extensions,
        )
        return (self.read(f"{name}.crt") + self.read(f"{name}.key")).decode()


def _rogue_context(serverPem: str) -> ServerContextFactory:
    """
    A TLS server context with the certificate and key in C{serverPem},
    built from C{cryptography} objects (Twisted's C{PrivateCertificate}
    hands pyOpenSSL the deprecated X509 and PKey ones).
    """
    data = serverPem.encode("ascii")
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.use_certificate(x509.load_pem_x509_certificate(data))
    key = serialization.load_pem_private_key(data, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    context.use_privatekey(key)
    return ServerContextFactory(context)


class RogueServerTests(TestCase):
    """
    The client API (what iked and nss-client use) against rogue TLS servers
    whose certificates chain to the trusted CA but do not prove the server's
    identity: the client must refuse before its logon's first byte.
    """

    def setUp(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        self.pki = OpensslPki(folder)

    async def attempt(
        self, serverPem: str, identity: ServerIdentity
    ) -> tuple[BaseException | None, list[bytes]]:
        received: list[bytes] = []
        factory = Factory.forProtocol(lambda: Recorder(received))
        options = _rogue_context(serverPem)
        port: Any = await SSL4ServerEndpoint(
            reactor, 0, options, interface="127.0.0.1"
        ).listen(factory)
        self.addCleanup(port.stopListening)
        endpoint = tls_endpoint(
            TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port),
            [self.pki.read("ca.pem")],
        )
        try:
            session = await connect(
                reactor,
                endpoint,
                serverIdentity=identity,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", "Secret-Pw1"),
                services=Services.CERT,
                timeouts=ClientTimeouts(requestTimeout=5),
            )
        except NssRequestFailed as e:
            return e, received
        await session.close()
        return None, received

    def assertRefusedBeforeLogon(
        self, serverPem: str, identity: ServerIdentity, expected: str
    ) -> Deferred[None]:
        async def go() -> None:
            error, received = await self.attempt(serverPem, identity)
            self.assertIsInstance(error, TlsFailed)
            self.assertIn(expected, str(error))
            self.assertEqual(received, [], "the client sent bytes to a rogue server")

        return ensureDeferred(go())

    def test_control(self) -> Deferred[None]:
        """
        A server that proves its identity gets the logon: the rogue server
        would see it, which is what the refusals below prevent.
        """
        pem = self.pki.server("good", "/O=Example/CN=nssd", "IP:127.0.0.1")

        async def go() -> None:
            error, received = await self.attempt(
                pem, ServerIdentity.of_host("127.0.0.1")
            )
            self.assertNotIsInstance(error, TlsFailed)
            self.assertTrue(received)
            self.assertIn(b"CLIENT1", b"".join(received))

        return ensureDeferred(go())

    def test_noSubjectAltName(self) -> Deferred[None]:
        pem = self.pki.server("nosan", "/O=Example/CN=127.0.0.1", None)
        return self.assertRefusedBeforeLogon(
            pem, ServerIdentity.of_host("127.0.0.1"), "no subjectAltName"
        )

    def test_addressAsDnsName(self) -> Deferred[None]:
        pem = self.pki.server("ipdns", "/O=Example/CN=nssd", "DNS:127.0.0.1")
        return self.assertRefusedBeforeLogon(
            pem, ServerIdentity.of_host("127.0.0.1"), "DNS:127.0.0.1"
        )

    def test_wrongSubjectAltName(self) -> Deferred[None]:
        pem = self.pki.server(
            "wrong", "/O=Example/CN=nssd", "DNS:other.example,IP:10.9.9.9"
        )
        return self.assertRefusedBeforeLogon(
            pem, ServerIdentity("Fqdn", "nssd.example"), "does not name Fqdn"
        )

    def test_wrongDistinguishedName(self) -> Deferred[None]:
        pem = self.pki.server("dn", "/C=US/O=Example/CN=Rogue", "DNS:nssd.example")
        return self.assertRefusedBeforeLogon(
            pem, ServerIdentity("X500dn", "CN=NSS Server,O=Example,C=US"), "subject"
        )

    def test_rightDistinguishedName(self) -> Deferred[None]:
        pem = self.pki.server("dnok", "/C=US/O=Example/CN=NSS Server", None)

        async def go() -> None:
            error, received = await self.attempt(
                pem, ServerIdentity("X500dn", "CN=NSS Server,O=Example,C=US")
            )
            self.assertNotIsInstance(error, TlsFailed)
            self.assertTrue(received)

        return ensureDeferred(go())

    def test_wrongCa(self) -> Deferred[None]:
        pem = self.pki.server(
            "fromotherca", "/O=Other/CN=nssd", "IP:127.0.0.1", ca="otherca"
        )
        return self.assertRefusedBeforeLogon(
            pem, ServerIdentity.of_host("127.0.0.1"), ""
        )


class RacfRogueServerTests(TestCase):
    """
    A real nssd presenting a TLS certificate that nss-racf made without a
    usable ALTNAME: iked, nss-client and the client API refuse it, and the
    server never sees a logon.
    """

    timeout = 60

    def start_rogue(self, altname: str) -> int:
        self.setup = build_security(self)
        self.messages = capture_messages(self)
        racf(
            self.setup,
            "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('localhost') O('Example'))"
            " NISTECC SIZE(256) WITHLABEL('Rogue TLS')"
            f" SIGNWITH(CERTAUTH LABEL('NSS CA')) {altname}",
            "RACDCERT ID(NSSD) ADDRING(ROGUE)",
            "RACDCERT ID(NSSD) CONNECT(ID(NSSD) LABEL('Rogue TLS') RING(ROGUE)"
            " DEFAULT)",
        )
        service = start_nssd(self, self.setup, tlsRing="NSSD/ROGUE")
        assert service.port is not None
        self.service = service
        port: int = service.port.getHost().port  # type: ignore[attr-defined]
        return port

    def assertNoLogonArrived(self) -> None:
        self.assertEqual(len(self.service.registry), 0)
        self.assertFalse(
            [m for m in self.messages if "DBG0101I" in m or "DBG0102I" in m],
            "a logon reached the rogue server",
        )

    async def client_api(self, port: int) -> BaseException:
        try:
            await connect(
                reactor,
                tls_endpoint(
                    TCP4ClientEndpoint(reactor, "127.0.0.1", port), [self.setup.caPem]
                ),
                serverIdentity=ServerIdentity.of_host("127.0.0.1"),
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )
        except TlsFailed as e:
            return e
        raise AssertionError("the client logged on to a rogue server")

    def test_noAltName(self) -> Deferred[None]:
        port = self.start_rogue("")

        async def go() -> None:
            error = await self.client_api(port)
            self.assertIn("no subjectAltName", str(error))
            self.assertNoLogonArrived()

        return ensureDeferred(go())

    def test_addressAsDomain(self) -> Deferred[None]:
        port = self.start_rogue("ALTNAME(DOMAIN('127.0.0.1'))")

        async def go() -> None:
            error = await self.client_api(port)
            self.assertIn("DNS:127.0.0.1", str(error))
            self.assertNoLogonArrived()

        return ensureDeferred(go())

    def test_nssClient(self) -> Deferred[None]:
        """
        nss-client says why it did not log on, and exits 2.
        """
        port = self.start_rogue("ALTNAME(DOMAIN('nssd.example'))")
        folder = self.setup.folder
        ca = os.path.join(folder, "ca.pem")
        with open(ca, "wb") as f:
            f.write(self.setup.caPem)
        password = os.path.join(folder, "client1.pw")
        with open(password, "w") as text:
            text.write(CLIENT1_PASSWORD)
        os.chmod(password, 0o600)

        async def go() -> None:
            out, err = io.StringIO(), io.StringIO()
            status = await nss_client(
                reactor,
                [
                    f"--server=127.0.0.1:{port}",
                    f"--ca-file={ca}",
                    "--client-name=CLIENT1",
                    "--userid=CLIENT1",
                    f"--password-file={password}",
                    "cacerts",
                ],
                out,
                err,
            )
            self.assertEqual(status, 2)
            self.assertIn("does not name IpAddr 127.0.0.1", err.getvalue())
            self.assertIn("DNS:nssd.example", err.getvalue())
            self.assertNotIn("Traceback", err.getvalue())
            self.assertNoLogonArrived()

        return ensureDeferred(go())
