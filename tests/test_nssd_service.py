"""
Real-socket tests of nssd: the service on an ephemeral loopback port, a real
security database built by nss-racf's example job, real TLS, and the client
API.
"""

from __future__ import annotations

import io
import os
import stat
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
    connectProtocol,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

from nsstwisted.cli.modify import run as modify
from nsstwisted.client import (
    NssRequestFailed,
    PassTicketCredentials,
    PasswordCredentials,
    ServerIdentity,
    connect,
    tls_endpoint,
)
from nsstwisted.nssd.service import NSSDService
from nsstwisted.protocols.nmi import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    NmiClientFactory,
)
from nsstwisted.security.signing import SignatureScheme, verify
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import NmiMessageType
from nsstwisted.wire.nss import Identity, IdentityKind, Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LOOPBACK,
    NOBODY,
    build_security,
    capture_messages,
    client_endpoint,
    hold_nmi_connections,
    racf,
    skip_unless_root,
    start_nssd,
    ticket_for,
    write_nssd_config,
)
from tests.ikepeers import ACCEPTED, REFUSED, TLS_ONLY, pki, profile_leaf
from tests.pkichains import malformed, openssl_chain

BOTH = Services.CERT | Services.NETMGMT


class NssdServiceTests(TestCase):
    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        self.service = start_nssd(self, self.setup)
        assert self.service.port is not None
        self.portNumber = self.service.port.getHost().port  # type: ignore[attr-defined]

    def assertLogged(self, text: str) -> None:
        if not any(text in m for m in self.messages):
            self.fail(f"{text!r} was not logged; the log:\n" + "\n".join(self.messages))

    async def logon(
        self, userid="CLIENT1", clientName="CLIENT1", password=None, services=BOTH
    ):
        credentials = (
            PassTicketCredentials(userid, lambda: ticket_for(userid))
            if password is None and userid == "CLIENT2"
            else PasswordCredentials(userid, password or CLIENT1_PASSWORD)
        )
        session = await connect(
            reactor,
            client_endpoint(self.setup, self.portNumber),
            serverIdentity=LOOPBACK,
            clientName=clientName,
            credentials=credentials,
            services=services,
        )
        self.addCleanup(session.close)
        return session

    def test_passwordLogonAndSign(self) -> Deferred[None]:
        async def go() -> None:
            session = await self.logon()
            self.assertEqual(session.servicesGranted, BOTH)
            self.assertEqual(session.reply.serverSystemName, "NSSSYS")
            reply = await session.sign(
                label="Client1 cert",
                data=b"AUTH payload",
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            certificate = x509.load_der_x509_certificate(reply.certificate)
            self.assertTrue(
                verify(
                    certificate.public_key(),
                    b"AUTH payload",
                    reply.signature,
                    SignatureScheme.RSA_PKCS1_SHA256,
                )
            )

        return ensureDeferred(go())

    def test_passTicketLogonSignDigestByIdentity(self) -> Deferred[None]:
        async def go() -> None:
            session = await self.logon(userid="CLIENT2", clientName="CLIENT2")
            digest = hashes.Hash(hashes.SHA256())
            digest.update(b"octets")
            reply = await session.sign(
                identity=Identity(IdentityKind.FQDN, "client2.example"),
                digest=digest.finalize(),
                scheme=SignatureSchemeCode.ECDSA_SHA256,
            )
            certificate = x509.load_der_x509_certificate(reply.certificate)
            self.assertTrue(
                verify(
                    certificate.public_key(),
                    b"octets",
                    reply.signature,
                    SignatureScheme.ECDSA_SHA256,
                )
            )

        return ensureDeferred(go())

    def test_verifyAndCaList(self) -> Deferred[None]:
        async def go() -> None:
            one = await self.logon()
            two = await self.logon(userid="CLIENT2", clientName="CLIENT2")
            signed = await two.sign(
                label="Client2 cert",
                data=b"peer data",
                scheme=SignatureSchemeCode.ECDSA_SHA256,
            )
            await one.verify(
                certificate=signed.certificate,
                data=b"peer data",
                signature=signed.signature,
                scheme=SignatureSchemeCode.ECDSA_SHA256,
            )
            failure = await self.assertFailure(
                one.verify(
                    certificate=signed.certificate,
                    data=b"other data",
                    signature=signed.signature,
                    scheme=SignatureSchemeCode.ECDSA_SHA256,
                ),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnVerifyFailed)
            cas = await one.caCertificates()
            self.assertEqual(
                [c.subject.rfc4514_string() for c in cas], ["CN=NSS Test CA,O=Example"]
            )

        return ensureDeferred(go())

    def test_wrongPassword(self) -> Deferred[None]:
        async def go() -> None:
            failure = await self.assertFailure(
                ensureDeferred(self.logon(password="wrong")), NssRequestFailed
            )
            self.assertEqual(failure.returnCode, ReturnCode.EACCES)
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnUserAuthentication)

        return ensureDeferred(go())

    def test_certificateAccessDenied(self) -> Deferred[None]:
        async def go() -> None:
            session = await self.logon()
            failure = await self.assertFailure(
                session.sign(
                    label="Client2 cert",
                    data=b"x",
                    scheme=SignatureSchemeCode.ECDSA_SHA256,
                ),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnCertAccessDenied)
            self.assertLogged(
                "DBG0004I NSS_CERTINFO Client CLIENT1 connected as userid CLIENT1 is "
                "not authorized to profile EZB.NSSCERT.NSSSYS.CLIENT2$CERT.HOST "
                "associated with matching certificate ( Client2 cert )"
            )
            failure = await self.assertFailure(
                session.sign(
                    label="nothing", data=b"x", scheme=SignatureSchemeCode.ECDSA_SHA256
                ),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnCertNotFound)

        return ensureDeferred(go())

    def test_serviceDeniedBySaf(self) -> Deferred[None]:
        """
        CLIENT1 logs on under another client's name: SAF denies both
        services (DBG0032I), so the logon is refused.
        """

        async def go() -> None:
            failure = await self.assertFailure(
                ensureDeferred(self.logon(clientName="CLIENT2")), NssRequestFailed
            )
            self.assertEqual(failure.returnCode, ReturnCode.EACCES)
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnServiceDenied)
            self.assertLogged(
                "DBG0032I NSS_VERBOSE ServauthCheck(CLIENT1 ,"
                "EZB.NSS.NSSSYS.CLIENT2.IPSEC.CERT) rc 8 (DENY)"
            )

        return ensureDeferred(go())

    def test_serviceNotGranted(self) -> Deferred[None]:
        """
        A client that asked only for network management may not sign.
        """

        async def go() -> None:
            session = await self.logon(services=Services.NETMGMT)
            self.assertEqual(session.servicesGranted, Services.NETMGMT)
            failure = await self.assertFailure(
                session.sign(
                    label="Client1 cert",
                    data=b"x",
                    scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
                ),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnServiceNotGranted)

        return ensureDeferred(go())

    def test_newLogonReplacesOld(self) -> Deferred[None]:
        async def go() -> None:
            first = await self.logon()
            second = await self.logon()
            await first.whenClosed()
            await second.sign(
                label="Client1 cert",
                data=b"x",
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            self.assertEqual(len(self.service.registry), 1)

        return ensureDeferred(go())

    def test_plaintextClientIsClosed(self) -> Deferred[None]:
        """
        A client that speaks plaintext is closed, and others are served.
        """
        closed: Deferred[None] = Deferred()

        class Plain(Protocol):
            def connectionMade(self) -> None:
                assert self.transport is not None
                self.transport.write(b"NSSP" + b"\x00" * 60)

            def connectionLost(self, reason: Failure = connectionDone) -> None:
                closed.callback(None)

        async def go() -> None:
            await connectProtocol(
                TCP4ClientEndpoint(reactor, "127.0.0.1", self.portNumber), Plain()
            )
            await closed
            self.assertLogged(
                "the connection is not secure - the connection will be closed"
            )
            self.assertLogged("DBG0104I NSS_LIFECYCLE NSS connID")
            session = await self.logon()
            await session.caCertificates()

        return ensureDeferred(go())


class IPv6Tests(TestCase):
    def test_ipv6Loopback(self) -> Deferred[None]:
        """
        nssd listens on IPv6 as well: here on ::1, the client checking the
        server's name (localhost) in its certificate.
        """
        setup = build_security(self)
        from nsstwisted.nssd.service import NSSDService
        from tests.daemons import write_nssd_config

        try:
            service = NSSDService.prepare(
                write_nssd_config(setup), reactor, interface="::1"
            )
            service.startService()
        except Exception as e:  # pragma: no cover - hosts without IPv6
            raise SkipTest(f"no IPv6 loopback: {e}") from None
        self.addCleanup(service.stopService)
        assert service.port is not None
        port = service.port.getHost().port  # type: ignore[attr-defined]

        async def go() -> None:
            endpoint = tls_endpoint(
                TCP6ClientEndpoint(reactor, "::1", port), [setup.caPem]
            )
            session = await connect(
                reactor,
                endpoint,
                serverIdentity=ServerIdentity("Fqdn", "localhost"),
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )
            await session.caCertificates()
            await session.close()

        return ensureDeferred(go())


class ManagementTests(TestCase):
    """
    nss-modify against the running service's management socket.
    """

    def setUp(self) -> None:
        self.setup = build_security(self)
        self.service = start_nssd(self, self.setup)
        self.socket = self.service.configuration.nmiSocket

    async def modify(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await modify(
            reactor, ["nssd", "--socket", self.socket, *argv], out, err
        )
        return status, out.getvalue(), err.getvalue()

    def test_socketMode(self) -> None:
        self.assertEqual(stat.S_IMODE(os.stat(self.socket).st_mode), 0o660)

    def test_display(self) -> Deferred[None]:
        async def go() -> None:
            status, out, err = await self.modify("display")
            self.assertEqual((status, err), (0, ""))
            self.assertIn("SystemName NSSSYS", out)
            self.assertIn("KeyRing NSSD/NSSRING", out)

        return ensureDeferred(go())

    def test_refresh(self) -> Deferred[None]:
        async def go() -> None:
            config = self.service.configPath
            with open(config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(text.replace("SyslogLevel 15", "SyslogLevel 2"))
            status, out, err = await self.modify("ref")
            self.assertEqual((status, err), (0, ""))
            self.assertIn("refresh complete", out)
            self.assertIn("SyslogLevel 2", out)
            self.assertEqual(self.service.diagnostics.level, 2)
            with open(config, "a") as f:
                f.write("NssConfig { Port banana }\n")
            status, out, err = await self.modify("refresh")
            self.assertEqual(status, 1)
            self.assertIn("refresh rejected", out + err)
            self.assertIn("Port", out + err)
            self.assertEqual(self.service.configuration.syslogLevel, 2)

        return ensureDeferred(go())


class ManagementConnectionTests(TestCase):
    """
    The management socket's connection limits and idle timeout, with real
    users: the kernel says who connected (SO_PEERCRED).
    """

    timeout = 60

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)

    def start(self, *extra: str) -> NSSDService:
        service = NSSDService.prepare(
            write_nssd_config(self.setup, *extra), reactor, interface="127.0.0.1"
        )
        service.startService()
        self.addCleanup(service.stopService)
        return service

    def logged(self, messageId: str) -> list[str]:
        return [m for m in self.messages if messageId in m]

    def test_operatorGetsInWhileAnotherUserHoldsConnections(self) -> Deferred[None]:
        """
        The reported lockout: a member of the socket's group holds as many
        idle connections as nssd lets it; another member still connects,
        and an operator's nss-modify is answered.
        """
        skip_unless_root(self)

        async def go() -> None:
            service = self.start()
            path = service.configuration.nmiSocket
            # The socket's group may pass to it, as /var/sock lets operators.
            os.chmod(self.setup.sockets, 0o750)  # noqa: S103
            greetings = await hold_nmi_connections(self, path, DEFAULT_MAX_CONNECTIONS)
            kept = DEFAULT_MAX_CONNECTIONS_PER_USER
            self.assertEqual(
                [kind for kind, _, _ in greetings],
                [NmiMessageType.INIT] * kept
                + [NmiMessageType.TERM] * (DEFAULT_MAX_CONNECTIONS - kept),
            )
            self.assertEqual(
                set(greetings[kept:]),
                {(NmiMessageType.TERM, ReturnCode.EBUSY, 54)},
            )
            other = await hold_nmi_connections(self, path, 1, uid=NOBODY - 1)
            self.assertEqual(other, [(NmiMessageType.INIT, 0, 0)])
            out, err = io.StringIO(), io.StringIO()
            status = await modify(
                reactor, ["nssd", "--socket", path, "display"], out, err
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            self.assertIn("SystemName NSSSYS", out.getvalue())
            refused = self.logged("DBG0120I")
            self.assertEqual(len(refused), DEFAULT_MAX_CONNECTIONS - kept)
            self.assertIn(f"uid {NOBODY} pid", refused[0])
            self.assertIn(f"uid {NOBODY} holds {kept}", refused[0])

        return ensureDeferred(go())

    def test_idleConnectionClosed(self) -> Deferred[None]:
        """
        A connection that asks nothing for NmiIdleTimeout seconds is sent
        TERM ETIMEDOUT and closed (DBG0122I); a refresh changes the timeout.
        """

        async def go() -> None:
            service = self.start("  NmiIdleTimeout 1")
            path = service.configuration.nmiSocket
            client = await UNIXClientEndpoint(reactor, path).connect(NmiClientFactory())
            await client.ready
            started = time.monotonic()
            term = await client.terminated
            self.assertGreaterEqual(time.monotonic() - started, 0.9)
            assert term is not None
            self.assertEqual(
                (term.messageType, term.returnCode, term.reasonCode),
                (NmiMessageType.TERM, ReturnCode.ETIMEDOUT, ReasonCode.NONE),
            )
            (idle,) = self.logged("DBG0122I")
            self.assertIn(f"uid {os.geteuid()} pid {os.getpid()}", idle)
            self.assertIn("was idle for 1 seconds", idle)
            self.assertEqual(service.nmiFactory.connections, set())
            config = service.configPath
            with open(config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(text.replace("NmiIdleTimeout 1", "NmiIdleTimeout 0"))
            lines = await service.refresh()
            self.assertIn("NmiIdleTimeout 0", lines[0])
            self.assertEqual(service.nmiFactory.idleTimeout, 0)

        return ensureDeferred(go())


class ClientRequestTests(TestCase):
    def test_unencodableRequestFails(self) -> Deferred[object]:
        """
        A request the codec cannot encode fails its Deferred and leaves no
        pending entry or timer behind.
        """
        from twisted.internet.task import Clock

        from nsstwisted.client.connection import NssClientConnection
        from nsstwisted.wire.nss import NssFrame, SignRequest, encode_frame

        class Link:
            def sendFrame(self, frame: NssFrame) -> None:
                encode_frame(frame)

        clock = Clock()
        connection = NssClientConnection(Link(), clock)
        request = SignRequest(
            label="x" * 300,
            identity=None,
            scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            digest=None,
            data=b"x",
        )
        d: Deferred[object] = connection.request(request)  # type: ignore[assignment]
        self.assertFailure(d, ValueError)
        self.assertEqual(clock.getDelayedCalls(), [])
        return d

    def test_heartbeatDetectsDeadServer(self) -> None:
        """
        A heartbeat unanswered within its time limit drops the connection,
        within interval + timeout of the last answer.
        """
        from twisted.internet.task import Clock

        from nsstwisted.client.connection import ClientTimeouts, NssClientConnection
        from nsstwisted.wire.nss import NssFrame

        class Link:
            def __init__(self) -> None:
                self.sent: list[NssFrame] = []
                self.aborted = False

            def sendFrame(self, frame: NssFrame) -> None:
                self.sent.append(frame)

            def abort(self) -> None:
                self.aborted = True

        clock = Clock()
        link = Link()
        connection = NssClientConnection(
            link, clock, ClientTimeouts(heartbeatInterval=2, heartbeatTimeout=1)
        )
        connection.startHeartbeats()
        clock.advance(2)
        self.assertEqual(len(link.sent), 1)
        self.assertFalse(link.aborted)
        clock.advance(1)
        self.assertTrue(link.aborted)


class VerifyProfileTests(TestCase):
    """
    VERIFY against the real nssd, for a client whose ring trusts a CA that
    issued certificates of every case of the RFC 4945 profile
    (L{tests.ikepeers.PROFILES}): each is signed with properly, so only
    the profile decides.
    """

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        caPath = os.path.join(self.setup.folder, "profile-ca.pem")
        with open(caPath, "wb") as f:
            f.write(pki().ca.public_bytes(Encoding.PEM))
        racf(
            self.setup,
            f"RACDCERT CERTAUTH ADD('{caPath}') WITHLABEL('Profile CA') TRUST",
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Profile CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
        )

    async def logon(self, *extra: str) -> Any:
        service = start_nssd(self, self.setup, extra=extra)
        assert service.port is not None
        session = await connect(
            reactor,
            client_endpoint(self.setup, service.port.getHost().port),  # type: ignore[attr-defined]
            serverIdentity=LOOPBACK,
            clientName="CLIENT1",
            credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
            services=Services.CERT,
        )
        self.addCleanup(session.close)
        return session

    async def verify(self, session: Any, profile: str) -> None:
        certificate, key = profile_leaf("peer.iked.test", profile)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        await session.verify(
            certificate=certificate.public_bytes(Encoding.DER),
            data=b"AUTH octets",
            signature=key.sign(b"AUTH octets", ec.ECDSA(hashes.SHA256())),
            scheme=SignatureSchemeCode.ECDSA_SHA256,
        )

    async def assertRefused(self, session: Any, profile: str, reason: str) -> None:
        verifying: Deferred[Any] = ensureDeferred(self.verify(session, profile))
        failure = await self.assertFailure(verifying, NssRequestFailed)
        self.assertEqual(
            (failure.returnCode, failure.reasonCode),
            (ReturnCode.EPERM, ReasonCode.NSSRsnChainInvalid),
            profile,
        )
        self.assertTrue(
            any(
                "DBG0006I" in m and "CN=peer.iked.test" in m and reason in m
                for m in self.messages
            ),
            (profile, self.messages),
        )

    def test_default(self) -> Deferred[None]:
        """
        By default VERIFY refuses a CA certificate, a key usage not for
        signatures, and any extended key usage without ipsecIKE or
        anyExtendedKeyUsage, serverAuth and clientAuth included.
        """

        async def go() -> None:
            session = await self.logon()
            for profile, reason in {**REFUSED, **TLS_ONLY}.items():
                await self.assertRefused(session, profile, reason)
            for profile in ACCEPTED:
                await self.verify(session, profile)

        return ensureDeferred(go())

    def test_tls_purposes(self) -> Deferred[None]:
        """VerifyEku IkeOrTls takes serverAuth and clientAuth, nothing else."""

        async def go() -> None:
            session = await self.logon("  VerifyEku IkeOrTls")
            for profile in (*TLS_ONLY, *ACCEPTED):
                await self.verify(session, profile)
            for profile, reason in REFUSED.items():
                await self.assertRefused(session, profile, reason)

        return ensureDeferred(go())


class VerifyPathTests(TestCase):
    """
    VERIFY against the real nssd for a chain made by C{openssl req -x509}
    with its defaults (CAs without keyUsage), whose root the client's ring
    trusts, and for certificates that do not parse.
    """

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        folder = os.path.join(self.setup.folder, "openssl")
        os.makedirs(folder)
        self.chain = openssl_chain(folder)
        racf(
            self.setup,
            f"RACDCERT CERTAUTH ADD('{folder}/root.pem') WITHLABEL('OpenSSL CA') TRUST",
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('OpenSSL CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
        )

    async def logon(self) -> Any:
        service = start_nssd(self, self.setup)
        assert service.port is not None
        session = await connect(
            reactor,
            client_endpoint(self.setup, service.port.getHost().port),  # type: ignore[attr-defined]
            serverIdentity=LOOPBACK,
            clientName="CLIENT1",
            credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
            services=Services.CERT,
        )
        self.addCleanup(session.close)
        return session

    def verify(self, session: Any, certificate: bytes, chain: tuple[bytes, ...]) -> Any:
        key = self.chain.leafKey
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return session.verify(
            certificate=certificate,
            chain=chain,
            data=b"AUTH octets",
            signature=key.sign(b"AUTH octets", ec.ECDSA(hashes.SHA256())),
            scheme=SignatureSchemeCode.ECDSA_SHA256,
        )

    async def refused(
        self, session: Any, certificate: bytes, chain: tuple[bytes, ...]
    ) -> tuple[ReturnCode, ReasonCode]:
        failure = await self.assertFailure(
            self.verify(session, certificate, chain), NssRequestFailed
        )
        return ReturnCode(failure.returnCode), ReasonCode(failure.reasonCode)

    def test_openssl_chain(self) -> Deferred[None]:
        """
        The root CA_LIST hands out validates the chain openssl made, as
        C{openssl verify} does; without the intermediate it does not.
        """

        async def go() -> None:
            session = await self.logon()
            cas = await session.caCertificates()
            self.assertIn(self.chain.root, cas)
            leaf, intermediate = self.chain.ders()
            await self.verify(session, leaf, (intermediate,))
            self.assertEqual(
                await self.refused(session, leaf, ()),
                (ReturnCode.EPERM, ReasonCode.NSSRsnChainInvalid),
            )

        return ensureDeferred(go())

    def test_malformed(self) -> Deferred[None]:
        """
        A certificate or chain certificate that does not parse is answered
        EINVAL NSSRsnCertMalformed, with DBG0006I and no traceback, and the
        session goes on serving.  (A truncated one does not get that far:
        its outer DER does not frame, which the codecs of both ends refuse,
        tests.test_wire_nss.)
        """

        async def go() -> None:
            session = await self.logon()
            leaf, intermediate = self.chain.ders()
            cases = malformed(leaf)
            del cases["truncated"]
            for name, spoilt in cases.items():
                for certificate, chain in (
                    (spoilt, (intermediate,)),
                    (leaf, (spoilt,)),
                ):
                    self.assertEqual(
                        await self.refused(session, certificate, chain),
                        (ReturnCode.EINVAL, ReasonCode.NSSRsnCertMalformed),
                        name,
                    )
            await self.verify(session, leaf, (intermediate,))
            self.assertTrue(
                any(
                    "DBG0006I" in m and "not a readable X.509 certificate" in m
                    for m in self.messages
                ),
                self.messages,
            )
            logged = "\n".join(self.messages)
            self.assertNotIn("Traceback", logged)
            self.assertNotIn("NSSRsnServerError", logged)

        return ensureDeferred(go())
