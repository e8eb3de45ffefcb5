"""
Real-socket tests of nssd: the service on an ephemeral loopback port, a real
security database built by nss-racf's example job, real TLS, and the client
API.
"""

from __future__ import annotations

import grp
import io
import json
import os
import stat
import threading
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
    connectProtocol,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import deferLater
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
from nsstwisted.nssd.router import caller_userid
from nsstwisted.nssd.service import NSSDService
from nsstwisted.protocols.nmi import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    NmiCaller,
    NmiClientFactory,
    NmiRequestFailed,
)
from nsstwisted.protocols.startup import StartupError
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
    connect_nmi_as,
    hold_nmi_connections,
    logon_client1,
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

    def test_noFactoryChatter(self) -> Deferred[None]:
        """
        Listening, a client's connection and a management connection write
        none of Twisted's C{Starting factory} and C{Stopping factory}
        lines, which told an operator nothing and came with every
        connection of every client.
        """

        async def go() -> None:
            session = await self.logon()
            await session.close()
            out, err = io.StringIO(), io.StringIO()
            socket = self.service.configuration.nmiSocket
            status = await modify(reactor, ["nssd", "-s", socket, "display"], out, err)
            self.assertEqual((status, err.getvalue()), (0, ""))
            self.assertLogged("DBG0101I")
            chatter = [m for m in self.messages if " factory " in m]
            self.assertEqual(chatter, [])

        return ensureDeferred(go())

    def test_acceptQueueHoldsAStorm(self) -> None:
        """
        The listening socket's accept queue is as long as the connections
        nssd may hold, not Twisted's 50: a storm of clients connecting at
        once is queued, not dropped to wait for SYN retransmissions
        (issue 12).
        """
        self.assertEqual(
            self.service.port.backlog,  # type: ignore[union-attr]
            self.service.configuration.maxConnections,
        )

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

    def test_displayJson(self) -> Deferred[None]:
        """
        C{nss-modify nssd display --json}: the configuration in force as one
        C{NssConfig} statement of typed settings, the same facts as the
        text display.
        """

        async def go() -> None:
            status, out, err = await self.modify("display", "--json")
            self.assertEqual((status, err), (0, ""))
            shown = json.loads(out)
            self.assertEqual((shown["Daemon"], shown["Function"]), ("nssd", "Display"))
            [statement] = shown["Statements"]
            self.assertEqual(
                (statement["Statement"], statement["Name"]), ("NssConfig", None)
            )
            settings = statement["Settings"]
            configuration = self.service.configuration
            self.assertEqual(settings["SystemName"], "NSSSYS")
            self.assertEqual(settings["KeyRing"], "NSSD/NSSRING")
            self.assertEqual(settings["Port"], configuration.port)
            self.assertEqual(settings["SyslogLevel"], 15)
            self.assertEqual(settings["NmiSocket"], self.socket)
            self.assertEqual(settings["NmiSocketMode"], "0660")
            self.assertIsNone(settings["NmiSocketGroup"])
            self.assertEqual(settings["MaxConnections"], configuration.maxConnections)

        return ensureDeferred(go())

    def test_jsonWithRefreshRefused(self) -> Deferred[None]:
        """--json goes with display only: a usage error, nothing sent."""

        async def go() -> None:
            status, out, err = await self.modify("refresh", "--json")
            self.assertEqual((status, out), (2, ""))
            self.assertIn("--json goes with display only", err)

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
            self.assertIn("was idle for 1 second - the connection", idle)
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


class OperatorSocketTests(TestCase):
    """
    An operator is let in by the management socket's group and identified
    by its login name: the documented example, with the Unix user
    C{nobody} (group C{nogroup}) in the place of C{ipsecop}, and the
    example job's operator defined as C{NOBODY} instead of C{IPSECOP}.
    """

    timeout = 60

    def setUp(self) -> None:
        skip_unless_root(self)
        self.messages = capture_messages(self)
        self.setup = build_security(self, operator="NOBODY")
        # As /var/sock lets every user pass to the sockets in it.
        os.chmod(self.setup.sockets, 0o755)  # noqa: S103

    def start(self, *extra: str) -> NSSDService:
        service = NSSDService.prepare(
            write_nssd_config(self.setup, *extra), reactor, interface="127.0.0.1"
        )
        service.startService()
        self.addCleanup(service.stopService)
        return service

    async def served(self, service: NSSDService) -> str:
        while service.nmiPort is None:
            await deferLater(reactor, 0.01, lambda: None)
        return service.configuration.nmiSocket

    def test_operatorInSocketGroup(self) -> Deferred[None]:
        """
        With C{NmiSocketGroup nogroup}, the socket is root:nogroup 0660
        (DBG0160I says so); nobody, a member, connects and is answered as
        NOBODY; daemon, not a member, cannot connect; daemon made a member
        connects but is refused, since DAEMON is no defined user.
        """

        async def go() -> None:
            service = self.start("  NmiSocketGroup nogroup")
            path = await self.served(service)
            info = os.stat(path)
            self.assertEqual(
                (info.st_gid, stat.S_IMODE(info.st_mode)),
                (grp.getgrnam("nogroup").gr_gid, 0o660),
            )
            self.assertEqual(
                [m for m in self.messages if "DBG0160I" in m],
                [
                    f"DBG0160I management socket {path}: owner root, group"
                    " nogroup, mode 0660"
                ],
            )
            operator = await connect_nmi_as(self, path, "nobody")
            reply = await operator.request(NmiMessageType.GET_CLIENTINFO)
            self.assertTrue(reply.ok)
            self.assertTrue(
                any("DBG0032I" in m and "NOBODY" in m for m in self.messages),
                self.messages,
            )
            with self.assertRaises(PermissionError):
                await connect_nmi_as(self, path, "daemon")
            stranger = await connect_nmi_as(
                self, path, "daemon", [grp.getgrnam("nogroup").gr_gid]
            )
            with self.assertRaises(NmiRequestFailed) as refused:
                await stranger.request(NmiMessageType.GET_CLIENTINFO)
            self.assertEqual(
                (refused.exception.returnCode, refused.exception.reasonCode),
                (ReturnCode.EACCES, ReasonCode.NSSRsnServiceDenied),
            )
            self.assertIn("DAEMON", "; ".join(refused.exception.lines))

        return ensureDeferred(go())

    def test_refreshAppliesGroupAndMode(self) -> Deferred[None]:
        """
        A refresh gives the socket a new group or mode at once; without
        NmiSocketGroup it goes back to nssd's own group, and the operator
        no longer gets in.  A connection made before stays.
        """

        async def go() -> None:
            service = self.start("  NmiSocketGroup nogroup")
            path = await self.served(service)
            before = await connect_nmi_as(self, path, "nobody")
            config = service.configPath
            with open(config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(text.replace("NmiSocketGroup nogroup", "NmiSocketMode 0600"))
            lines = await service.refresh()
            self.assertIn("NmiSocketMode 0600", lines[0])
            self.assertIn("# NmiSocketGroup (nssd's own group)", lines[0])
            info = os.stat(path)
            self.assertEqual(
                (info.st_gid, stat.S_IMODE(info.st_mode)), (os.getegid(), 0o600)
            )
            with self.assertRaises(PermissionError):
                await connect_nmi_as(self, path, "nobody")
            reply = await before.request(NmiMessageType.GET_CLIENTINFO)
            self.assertTrue(reply.ok)

        return ensureDeferred(go())

    def test_unknownGroupIsAConfigurationError(self) -> None:
        """
        A group that does not exist stops the start, naming the file, the
        line and the keyword.
        """
        config = write_nssd_config(self.setup, "  NmiSocketGroup nssops-typo")
        with self.assertRaises(StartupError) as failed:
            NSSDService.prepare(config, reactor, interface="127.0.0.1")
        self.assertIn(
            f"{config}:10: NmiSocketGroup: the group 'nssops-typo' does not exist",
            str(failed.exception),
        )


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


class RefreshHintTests(TestCase):
    """
    A PERMIT made without C{SETROPTS RACLIST(SERVAUTH) REFRESH} does not
    work yet, as in RACF; nssd says so (DBG0155I) where it reports the
    denial, and says nothing when the database agrees with the denial.
    """

    CERT = "EZB.NSS.NSSSYS.CLIENT1.IPSEC.CERT"

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        racf(
            self.setup,
            f"PERMIT {self.CERT} CLASS(SERVAUTH) ID(CLIENT1) DELETE",
            "SETROPTS RACLIST(SERVAUTH) REFRESH",
        )
        service = start_nssd(self, self.setup)
        assert service.port is not None
        self.portNumber = service.port.getHost().port  # type: ignore[attr-defined]

    async def logon(self) -> ReasonCode:
        try:
            session = await logon_client1(self.setup, self.portNumber)
        except NssRequestFailed as e:
            return e.reasonCode
        await session.close()
        return ReasonCode.NONE

    def hints(self) -> list[str]:
        return [m for m in self.messages if "DBG0155I" in m]

    async def settle(self, seconds: float) -> None:
        await deferLater(reactor, seconds, lambda: None)

    def test_permitWithoutRefresh(self) -> Deferred[None]:
        async def go() -> None:
            self.assertEqual(await self.logon(), ReasonCode.NSSRsnServiceDenied)
            await self.settle(0.5)
            self.assertEqual(self.hints(), [])
            racf(self.setup, f"PERMIT {self.CERT} CLASS(SERVAUTH) ID(CLIENT1)")
            self.assertEqual(await self.logon(), ReasonCode.NSSRsnServiceDenied)
            deadline = reactor.seconds() + 5
            while not self.hints() and reactor.seconds() < deadline:
                await self.settle(0.1)
            self.assertEqual(
                self.hints(),
                [
                    f"DBG0155I ServauthCheck(CLIENT1,{self.CERT}) was denied, but"
                    " the security database now gives CLIENT1 READ access through"
                    f" profile {self.CERT} (NONE when nssd's profiles were last"
                    " refreshed) - the change takes effect at SETROPTS"
                    " RACLIST(SERVAUTH) REFRESH"
                ],
            )
            # Said once, not at every retry.
            self.assertEqual(await self.logon(), ReasonCode.NSSRsnServiceDenied)
            await self.settle(2.5)
            self.assertEqual(len(self.hints()), 1)
            racf(self.setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            deadline = reactor.seconds() + 10
            while await self.logon() is not ReasonCode.NONE:
                self.assertLess(reactor.seconds(), deadline)
                await self.settle(0.5)

        return ensureDeferred(go())


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


ALICE_PASSWORD = "Al1ce-Pw"


class SecurityChangeTests(TestCase):
    """
    When a change in the security database reaches a running nssd, as RACF
    would have it: a user's groups at its next logon, class activation at
    once, profiles only after C{SETROPTS RACLIST(SERVAUTH) REFRESH}.  No
    test here waits for the 5-second poll: the logon itself catches up.
    """

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        racf(
            self.setup,
            f"ADDUSER ALICE PASSWORD({ALICE_PASSWORD})",
            "ADDGROUP GRPB",
            "RDEFINE SERVAUTH EZB.NSS.NSSSYS.ALICE.IPSEC.CERT UACC(NONE)",
            "PERMIT EZB.NSS.NSSSYS.ALICE.IPSEC.CERT CLASS(SERVAUTH) ID(GRPB)",
            "SETROPTS RACLIST(SERVAUTH) REFRESH",
        )
        self.service = start_nssd(self, self.setup)
        assert self.service.port is not None
        self.portNumber = self.service.port.getHost().port  # type: ignore[attr-defined]

    def logged(self, text: str) -> bool:
        return any(text in m for m in self.messages)

    async def logon(self, userid: str = "ALICE", password: str = ALICE_PASSWORD) -> Any:
        session = await connect(
            reactor,
            client_endpoint(self.setup, self.portNumber),
            serverIdentity=LOOPBACK,
            clientName=userid,
            credentials=PasswordCredentials(userid, password),
            services=Services.CERT,
        )
        self.addCleanup(session.close)
        return session

    async def refused(
        self, userid: str = "ALICE", password: str = ALICE_PASSWORD
    ) -> None:
        failure = await self.assertFailure(
            ensureDeferred(self.logon(userid, password)), NssRequestFailed
        )
        self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnServiceDenied)

    def test_connectionAtNextLogon(self) -> Deferred[None]:
        """
        After CONNECT, ALICE's next logon is granted without a refresh; a
        session keeps the groups its logon found, through CONNECT and
        REMOVE, as RACF's ACEE does.
        """

        async def go() -> None:
            await self.refused()
            racf(self.setup, "CONNECT ALICE GROUP(GRPB)")
            first = await self.logon()
            # EZB.NSSCERT.NSSSYS.*.CERTAUTH is permitted to NSSCLNT.
            self.assertEqual(await first.caCertificates(), [])
            racf(self.setup, "CONNECT ALICE GROUP(NSSCLNT)")
            self.assertEqual(await first.caCertificates(), [])
            second = await self.logon()
            self.assertEqual(len(await second.caCertificates()), 1)
            racf(self.setup, "REMOVE ALICE GROUP(NSSCLNT)", "REMOVE ALICE GROUP(GRPB)")
            self.assertEqual(len(await second.caCertificates()), 1)
            await self.refused()
            self.assertFalse(self.logged("DBG0013I"))

        return ensureDeferred(go())

    def test_classActivationAtOnce(self) -> Deferred[None]:
        """
        SETROPTS NOCLASSACT(SERVAUTH) is seen by the next logon, and from
        then on by the sessions' checks too (DBG0141I); CLASSACT likewise.
        """

        async def go() -> None:
            session = await self.logon("CLIENT1", CLIENT1_PASSWORD)
            racf(self.setup, "SETROPTS NOCLASSACT(SERVAUTH)")
            await self.refused("CLIENT1", CLIENT1_PASSWORD)
            self.assertTrue(
                self.logged(
                    "DBG0141I class options changed: active classes PTKTDATA, "
                    "generic SERVAUTH - in effect from now on, without a refresh"
                )
            )
            failure = await self.assertFailure(
                session.sign(
                    label="Client1 cert",
                    data=b"x",
                    scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
                ),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnCertAccessDenied)
            racf(self.setup, "SETROPTS CLASSACT(SERVAUTH)")
            await self.logon("CLIENT1", CLIENT1_PASSWORD)
            self.assertFalse(self.logged("DBG0013I"))

        return ensureDeferred(go())

    def test_profilesOnlyAfterRefresh(self) -> Deferred[None]:
        """
        A PERMIT is not seen until SETROPTS RACLIST(SERVAUTH) REFRESH; after
        it, the next logon sees it at once (DBG0013I).
        """

        async def go() -> None:
            racf(
                self.setup,
                "PERMIT EZB.NSS.NSSSYS.ALICE.IPSEC.CERT CLASS(SERVAUTH) ID(ALICE)",
            )
            await self.refused()
            racf(self.setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            await self.logon()
            self.assertTrue(self.logged("DBG0013I security profiles reloaded"))

        return ensureDeferred(go())

    def test_verifiedPasswordsUntilRefresh(self) -> Deferred[None]:
        """
        A reconnect is not hashed again, and the check runs in the logon
        pool, not the signing one; after C{SETROPTS RACLIST(SERVAUTH)
        REFRESH} and after C{nss-modify nssd refresh}, the next logon pays
        the hash again (issue 12).
        """
        from nsstwisted.security import passwords

        threads: list[str] = []
        real = passwords._derive

        def counted(*args: object) -> bytes:
            threads.append(threading.current_thread().name)
            return real(*args)  # type: ignore[arg-type]

        self.patch(passwords, "_derive", counted)

        async def derivations() -> int:
            threads.clear()
            session = await self.logon("CLIENT1", CLIENT1_PASSWORD)
            await session.close()
            return len(threads)

        async def go() -> None:
            self.assertEqual(await derivations(), 1)
            self.assertIn("nssd-logon", threads[0])
            self.assertEqual(await derivations(), 0)
            # nssd sees the REFRESH at its next catch-up with the database
            # (the 5-second poll, or a logon's authorization).
            racf(self.setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            await self.service.current_snapshot()
            self.assertEqual(await derivations(), 1)
            self.assertEqual(await derivations(), 0)
            await self.service.refresh()
            self.assertEqual(await derivations(), 1)

        return ensureDeferred(go())

    def test_catchUpsShared(self) -> Deferred[None]:
        """
        Logons that ask for the current snapshot while a catch-up with the
        database runs share the next one: fifty at once cost two reads of
        the database's status, not fifty in a row (issue 12).  A caller
        still sees every change made before it asked.
        """
        reads: list[int] = []
        real = self.service.profiles.status

        def counted() -> Any:
            reads.append(1)
            return real()

        self.patch(self.service.profiles, "status", counted)

        async def go() -> None:
            before = self.service.snapshot.generation
            results = await DeferredList(
                [self.service.current_snapshot() for _ in range(50)]
            )
            self.assertTrue(all(ok for ok, _ in results))
            self.assertLessEqual(len(reads), 2)
            racf(self.setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            snapshot = await self.service.current_snapshot()
            self.assertGreater(snapshot.generation, before)

        return ensureDeferred(go())

    def test_resumeAtNextLogon(self) -> Deferred[None]:
        """
        After REVOKE, a refresh, then RESUME, the user's next logon is
        granted without another refresh: its environment is newer than the
        snapshot that knows it revoked.
        """

        async def go() -> None:
            racf(
                self.setup,
                "CONNECT ALICE GROUP(GRPB)",
                "ALTUSER ALICE REVOKE",
                "SETROPTS RACLIST(SERVAUTH) REFRESH",
            )
            await self.service.current_snapshot()
            self.assertTrue(self.service.snapshot.is_revoked("ALICE"))
            racf(self.setup, "ALTUSER ALICE RESUME")
            await self.logon()

        return ensureDeferred(go())

    def test_warningLogged(self) -> Deferred[None]:
        """
        A WARNING profile lets CLIENT1 sign with CLIENT2's certificate and
        says so, whatever SyslogLevel (DBG0140I).
        """

        async def go() -> None:
            racf(
                self.setup,
                "RALTER SERVAUTH EZB.NSSCERT.NSSSYS.CLIENT2$CERT.HOST WARNING",
                "SETROPTS RACLIST(SERVAUTH) REFRESH",
            )
            self.service.diagnostics.level = 0
            session = await self.logon("CLIENT1", CLIENT1_PASSWORD)
            await session.sign(
                label="Client2 cert",
                data=b"x",
                scheme=SignatureSchemeCode.ECDSA_SHA256,
            )
            self.assertTrue(
                self.logged(
                    "DBG0140I ServauthWarning(CLIENT1,"
                    "EZB.NSSCERT.NSSSYS.CLIENT2$CERT.HOST) READ access allowed by "
                    "WARNING profile EZB.NSSCERT.NSSSYS.CLIENT2$CERT.HOST: CLIENT1 "
                    "holds NONE - the access would be refused without WARNING"
                )
            )

        return ensureDeferred(go())

    def test_deletedUserLosesSession(self) -> Deferred[None]:
        """
        DELUSER and the refresh that makes it known end the deleted user's
        session (DBG0142I), which would otherwise keep the groups its logon
        found; a user of the same ID defined again later inherits nothing.
        """

        async def go() -> None:
            racf(self.setup, "CONNECT ALICE GROUP(GRPB)")
            session = await self.logon()
            racf(self.setup, "DELUSER ALICE", "SETROPTS RACLIST(SERVAUTH) REFRESH")
            await self.service.current_snapshot()
            await session.whenClosed()
            self.assertTrue(
                self.logged("DBG0142I NSS connID")
                and self.logged("client ALICE userid ALICE is no longer defined")
            )
            racf(self.setup, f"ADDUSER ALICE PASSWORD({ALICE_PASSWORD})")
            await self.refused()

        return ensureDeferred(go())

    def test_operatorGroupsPerRequest(self) -> Deferred[None]:
        """
        An operator's NMI request is a new accessor, as each operator
        command is a new job under RACF: CONNECT counts at its next
        request, without a refresh.
        """
        me = caller_userid(NmiCaller(0, os.getuid(), 0))
        if me is None:
            raise SkipTest("the login name of this uid is not a RACF user ID")

        async def go() -> None:
            racf(
                self.setup,
                f"ADDUSER {me}",
                "ADDGROUP OPS",
                "PERMIT EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY CLASS(SERVAUTH) ID(OPS)",
                "SETROPTS RACLIST(SERVAUTH) REFRESH",
            )
            endpoint = UNIXClientEndpoint(reactor, self.service.configuration.nmiSocket)
            operator = await endpoint.connect(NmiClientFactory())
            await operator.ready
            self.addCleanup(operator.close)
            failure = await self.assertFailure(
                operator.request(NmiMessageType.GET_CLIENTINFO, ""), NmiRequestFailed
            )
            self.assertEqual(failure.returnCode, ReturnCode.EACCES)
            racf(self.setup, f"CONNECT {me} GROUP(OPS)")
            reply = await operator.request(NmiMessageType.GET_CLIENTINFO, "")
            self.assertEqual(reply.returnCode, ReturnCode.OK)
            racf(self.setup, f"ALTUSER {me} REVOKE")
            failure = await self.assertFailure(
                operator.request(NmiMessageType.GET_CLIENTINFO, ""), NmiRequestFailed
            )
            self.assertEqual(failure.returnCode, ReturnCode.EACCES)

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
