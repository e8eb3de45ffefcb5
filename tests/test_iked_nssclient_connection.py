"""
iked as an NSS client against real nssd servers: failover between two nssd
processes, refresh per stack, PassTicket logon, and the EZD messages of the
seed's common errors.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nsstwisted.iked.nssclient.connection import ConnectionState
from nsstwisted.iked.service import IKEDService
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.users import UserRegistry
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import NssFrame, Refusal
from tests.daemons import (
    CLIENT1_PASSWORD,
    LISTENING,
    NOBODY,
    PASSTICKET_KEY,
    DaemonProcess,
    SecuritySetup,
    build_security,
    capture_messages,
    connect_nmi_as,
    free_port,
    hold_nmi_connections,
    python,
    racf,
    skip_unless_root,
    start_nssd,
    twistd_args,
    write_nssd_config,
)

STACKS = """
NssStackConfig STACKA
{
  ClientName CLIENT1
  ServiceType Cert
  ServiceType RemoteMgmt
  UserID CLIENT1
  AuthBy Password
  PasswordFile "{folder}/client1.pw"
}
NssStackConfig STACKB
{
  ClientName CLIENT2
  ServiceType Cert
  UserID CLIENT2
  AuthBy PassTicket
  PassTicketKeyFile "{folder}/client2.key"
}
TcpipStack PLAIN { }
"""


def write_secrets(setup: SecuritySetup) -> None:
    for name, content in [
        ("client1.pw", CLIENT1_PASSWORD),
        ("client2.key", PASSTICKET_KEY + "\n"),
        ("wrong.pw", "not the password"),
    ]:
        path = os.path.join(setup.folder, name)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o600)
    with open(os.path.join(setup.folder, "ca.pem"), "wb") as f:
        f.write(setup.caPem)


def write_iked_config(
    setup: SecuritySetup,
    primary: int | None,
    backup: int | None,
    stacks: str = STACKS,
    waitLimit: int = 1,
    retries: int = 2,
) -> str:
    lines = ["IkeConfig", "{", "  SystemName IKESYS"]
    if primary is not None:
        lines.append(f"  NetworkSecurityServer 127.0.0.1 Port {primary}")
    if backup is not None:
        lines.append(f"  NetworkSecurityServerBackup 127.0.0.1 Port {backup}")
    lines += [
        f"  NssWaitLimit {waitLimit}",
        f"  NssWaitRetries {retries}",
        f'  CaFile "{setup.folder}/ca.pem"',
        f'  NmiSocket "{setup.sockets}/iked/ipsecmgmt"',
        "}",
        stacks.replace("{folder}", setup.folder),
    ]
    path = os.path.join(setup.folder, "iked.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


async def eventually(
    check: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await deferLater(reactor, 0.05, lambda: None)


class IkedTestCase(TestCase):
    timeout = 90

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self, database=self.security_database())
        write_secrets(self.setup)

    def security_database(self) -> str | None:
        """
        Where the test's security database is made: an SQLite file in its
        folder, unless a subclass gives a PostgreSQL URI.
        """
        return None

    def start_iked(self, config: str) -> IKEDService:
        service = IKEDService.prepare(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        return service

    def server_port(self, service: IKEDService, stack: str) -> int:
        connection = service.connections.get(stack)
        if connection is None:
            return 0
        status = connection.status()
        return status.serverPort if status.state is ConnectionState.CONNECTED else 0

    def logged(self, text: str) -> bool:
        return any(text in m for m in self.messages)


class FailoverTests(IkedTestCase):
    def start_nssd_process(self, name: str, port: int) -> DaemonProcess:
        config = write_nssd_config(self.setup, port=port, name=name)
        process = DaemonProcess()
        transport = reactor.spawnProcess(
            process, python(), twistd_args(config), env=dict(os.environ)
        )

        def stop() -> Deferred[int]:
            if not process.ended.called:
                transport.signalProcess("KILL")
            return process.ended

        self.addCleanup(stop)
        return process

    def test_failover(self) -> Deferred[None]:
        primaryPort, backupPort = free_port(), free_port()
        primary = self.start_nssd_process("primary", primaryPort)
        backup = self.start_nssd_process("backup", backupPort)

        async def go() -> None:
            await primary.waitFor(LISTENING.pattern)
            await backup.waitFor(LISTENING.pattern)
            service = self.start_iked(
                write_iked_config(self.setup, primaryPort, backupPort)
            )
            stacks = ["STACKA", "STACKB"]

            def on(port: int) -> Callable[[], bool]:
                return lambda: all(self.server_port(service, s) == port for s in stacks)

            await eventually(on(primaryPort), what="both stacks on the primary")
            self.assertTrue(self.logged("EZD1138I Stack STACKB is connected"))

            # Kill the primary: the stacks move to the backup.
            started = time.monotonic()
            primary.transport.signalProcess("KILL")  # type: ignore[union-attr]
            await primary.ended
            await eventually(on(backupPort), what="both stacks on the backup")
            self.assertLess(time.monotonic() - started, 10)
            self.assertTrue(self.logged("EZD1140I Stack STACKA lost its connection"))

            # Bring the primary back and kill the backup: back to the primary.
            primary2 = self.start_nssd_process("primary", primaryPort)
            await primary2.waitFor(LISTENING.pattern)
            backup.transport.signalProcess("KILL")  # type: ignore[union-attr]
            await backup.ended
            await eventually(on(primaryPort), what="both stacks back on the primary")

            # Both down: the stacks alternate between the two servers.
            mark = len(self.messages)
            primary2.transport.signalProcess("KILL")  # type: ignore[union-attr]
            await primary2.ended
            await eventually(
                lambda: (
                    sum(
                        "EZD1142I Stack STACKA switches" in m
                        for m in self.messages[mark:]
                    )
                    >= 3
                ),
                timeout=30,
                what="alternating attempts",
            )
            switches = [
                m for m in self.messages[mark:] if "EZD1142I Stack STACKA switches" in m
            ]
            self.assertTrue(any("to 127.0.0.1" in m for m in switches))
            self.assertEqual(
                service.connections["STACKA"].state.name
                in ("CONNECTING", "DISCONNECTED"),
                True,
            )

        return ensureDeferred(go())

    def test_halfOpenServerDetected(self) -> Deferred[None]:
        """
        A frozen primary (SIGSTOP: its TCP connections stay open, nothing
        answers) is found dead by heartbeats within their documented bound,
        and the stacks move to the backup.
        """
        from nsstwisted.iked.nssclient.connection import heartbeat_bound

        primaryPort, backupPort = free_port(), free_port()
        primary = self.start_nssd_process("primary", primaryPort)
        backup = self.start_nssd_process("backup", backupPort)

        async def go() -> None:
            await primary.waitFor(LISTENING.pattern)
            await backup.waitFor(LISTENING.pattern)
            service = self.start_iked(
                write_iked_config(self.setup, primaryPort, backupPort)
            )
            # Both stacks logged on, so that the primary is not frozen in the
            # middle of a logon.
            await eventually(
                lambda: (
                    self.server_port(service, "STACKA") == primaryPort
                    and self.server_port(service, "STACKB") == primaryPort
                ),
                what="both stacks on the primary",
            )
            pid = primary.transport.pid  # type: ignore[union-attr]
            os.kill(pid, signal.SIGSTOP)
            self.addCleanup(os.kill, pid, signal.SIGCONT)
            started = time.monotonic()
            await eventually(
                lambda: self.server_port(service, "STACKA") == backupPort,
                timeout=20,
                what="STACKA on the backup",
            )
            # Heartbeat bound, plus one wait and one attempt at most.
            self.assertLess(time.monotonic() - started, heartbeat_bound(1) + 1 + 3)

        return ensureDeferred(go())


class StackTests(IkedTestCase):
    def setUp(self) -> None:
        super().setUp()
        racf(
            self.setup,
            "RDEFINE SERVAUTH EZB.NSS.NSSSYS.CLIENT1B.IPSEC.CERT UACC(NONE)",
            "PERMIT EZB.NSS.NSSSYS.CLIENT1B.IPSEC.CERT CLASS(SERVAUTH) ID(CLIENT1)",
        )
        self.nssd = start_nssd(self, self.setup)
        assert self.nssd.port is not None
        self.port = self.nssd.port.getHost().port  # type: ignore[attr-defined]

    def test_passTicketAndPassword(self) -> Deferred[None]:
        service = self.start_iked(write_iked_config(self.setup, self.port, None))

        async def go() -> None:
            await eventually(
                lambda: (
                    self.server_port(service, "STACKA") == self.port
                    and self.server_port(service, "STACKB") == self.port
                ),
                what="both stacks connected",
            )
            session = await service.connections["STACKB"].whenConnected()
            cas = await session.caCertificates()
            self.assertEqual(len(cas), 1)
            self.assertEqual(len(self.nssd.registry), 2)

        return ensureDeferred(go())

    def test_displayJson(self) -> Deferred[None]:
        """
        C{nss-modify iked display --json}: the running configuration as
        data, typed, by the keywords of the text display, with the secret
        files named by path and their content nowhere.
        """
        import io
        import json

        from nsstwisted.cli.modify import run as modify

        service = self.start_iked(write_iked_config(self.setup, self.port, None))

        async def go() -> None:
            await eventually(lambda: service.nmiPort is not None, what="NMI")
            socket = service.configuration.nmiSocket
            out, err = io.StringIO(), io.StringIO()
            status = await modify(
                reactor, ["iked", "--socket", socket, "display", "--json"], out, err
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            shown = json.loads(out.getvalue())
            self.assertEqual((shown["Daemon"], shown["Function"]), ("iked", "Display"))
            statements = shown["Statements"]
            self.assertEqual(
                [(s["Statement"], s["Name"]) for s in statements],
                [
                    ("IkeConfig", None),
                    ("NssStackConfig", "STACKA"),
                    ("NssStackConfig", "STACKB"),
                    ("TcpipStack", "PLAIN"),
                ],
            )
            ike = statements[0]["Settings"]
            self.assertEqual(ike["SystemName"], "IKESYS")
            self.assertEqual(
                ike["NetworkSecurityServer"],
                {
                    "Host": "127.0.0.1",
                    "Port": self.port,
                    "IdentityKind": None,
                    "Identity": None,
                },
            )
            self.assertIsNone(ike["NetworkSecurityServerBackup"])
            self.assertEqual((ike["NssWaitLimit"], ike["NmiIdleTimeout"]), (1, 60))
            self.assertEqual(ike["NmiSocket"], socket)
            self.assertIs(ike["RequireRemoteIdentity"], False)
            stackA, stackB = statements[1]["Settings"], statements[2]["Settings"]
            self.assertEqual(stackA["ClientName"], "CLIENT1")
            self.assertEqual(stackA["UserID"], "CLIENT1")
            self.assertEqual(stackA["AuthBy"], "Password")
            self.assertEqual(
                stackA["PasswordFile"], os.path.join(self.setup.folder, "client1.pw")
            )
            self.assertEqual(stackB["AuthBy"], "PassTicket")
            self.assertEqual(stackB["ServiceType"], ["Cert"])
            self.assertNotIn(CLIENT1_PASSWORD, out.getvalue())
            self.assertNotIn(PASSTICKET_KEY, out.getvalue())

        return ensureDeferred(go())

    def test_wrongPassword(self) -> Deferred[None]:
        """
        A wrong PasswordFile is tried once: the stack stops with EZD1161I,
        which says what to fix, instead of revoking its own user in three
        retries; a refresh after the fix connects (issue 22, item 3).
        """
        stacks = STACKS.replace("client1.pw", "wrong.pw")
        config = write_iked_config(self.setup, self.port, None, stacks, retries=5)
        service = self.start_iked(config)

        async def go() -> None:
            await eventually(lambda: self.logged("EZD1161I"), what="EZD1161I")
            self.assertTrue(
                self.logged(
                    "for stack STACKA failed - return code EACCES reason code "
                    "NSSRsnUserAuthentication"
                )
            )
            self.assertTrue(self.logged("correct UserID and the PasswordFile"))
            connection = service.connections["STACKA"]
            self.assertEqual(connection.state, ConnectionState.REFUSED)
            # Three more waits would have revoked CLIENT1: nothing is retried.
            await deferLater(reactor, 3.5, lambda: None)
            attempts = sum("EZD1139I" in m and "STACKA" in m for m in self.messages)
            self.assertEqual(attempts, 1)
            self.assertEqual(self.users().get_user("CLIENT1").failedLogons, 1)
            # The operator fixes the file and refreshes.
            with open(os.path.join(self.setup.folder, "wrong.pw"), "w") as f:
                f.write(CLIENT1_PASSWORD)
            await service.refresh()
            await eventually(
                lambda: self.server_port(service, "STACKA") == self.port,
                what="STACKA connected after the refresh",
            )

        return ensureDeferred(go())

    def users(self) -> UserRegistry:
        database = SecurityDatabase.open(self.setup.database, self.setup.stash)
        self.addCleanup(database.close)
        return UserRegistry(database)

    def test_safDenial(self) -> Deferred[None]:
        stacks = STACKS.replace("ClientName CLIENT1", "ClientName CLIENT2X")
        self.start_iked(write_iked_config(self.setup, self.port, None, stacks))

        async def go() -> None:
            await eventually(
                lambda: (
                    self.logged("EZD1145I The network security certificate service")
                    and self.logged("EZD1147I The network security remote management")
                ),
                what="EZD1145I and EZD1147I",
            )
            self.assertTrue(self.logged("reason code NSSRsnServiceDenied"))

        return ensureDeferred(go())

    def test_noPingPong(self) -> Deferred[None]:
        """
        Two ikeds with the same client name take the name from each other;
        each waits NssWaitLimit before coming back, so they do not loop.
        """
        first = write_iked_config(self.setup, self.port, None)
        os.rename(first, first + ".1")
        second = write_iked_config(self.setup, self.port, None)
        with open(second) as f:
            text = f.read().replace("/iked/ipsecmgmt", "/iked2/ipsecmgmt")
        with open(second, "w") as f:
            f.write(text)
        self.start_iked(first + ".1")
        self.start_iked(second)

        async def go() -> None:
            await deferLater(reactor, 3.0, lambda: None)
            logons = sum("EZD1138I Stack STACKA" in m for m in self.messages)
            self.assertLessEqual(logons, 8)

        return ensureDeferred(go())

    def test_refresh(self) -> Deferred[None]:
        config = write_iked_config(self.setup, self.port, None)
        service = self.start_iked(config)

        async def go() -> None:
            await eventually(
                lambda: (
                    self.server_port(service, "STACKA") == self.port
                    and self.server_port(service, "STACKB") == self.port
                ),
                what="both stacks connected",
            )
            sessionA = service.connections["STACKA"].session
            sessionB = service.connections["STACKB"].session
            # Change STACKB, remove nothing, add STACKC: A stays untouched.
            stacks = (
                STACKS.replace(
                    "  ServiceType Cert\n  UserID CLIENT2",
                    "  ServiceType Cert\n  ServiceType RemoteMgmt\n  UserID CLIENT2",
                )
                + "NssStackConfig STACKC\n{\n  ClientName CLIENT1B\n"
                "  ServiceType Cert\n"
                '  UserID CLIENT1\n  PasswordFile "{folder}/client1.pw"\n}\n'
            )
            write_iked_config(self.setup, self.port, None, stacks)
            lines = await service.refresh()
            self.assertIn("stack STACKB changed", lines[0])
            self.assertIn("stack STACKC added", lines[0])
            self.assertIs(service.connections["STACKA"].session, sessionA)
            await eventually(
                lambda: (
                    self.server_port(service, "STACKB") == self.port
                    and service.connections["STACKB"].session is not sessionB
                ),
                what="STACKB reconnected",
            )
            # Remove STACKB: its connection closes.
            connectionB = service.connections["STACKB"]
            write_iked_config(
                self.setup,
                self.port,
                None,
                stacks.split("NssStackConfig STACKB")[0] + "TcpipStack PLAIN { }\n",
            )
            lines = await service.refresh()
            self.assertIn("stack STACKB removed", lines[0])
            self.assertTrue(self.logged("EZD1144I Stack STACKB disconnected"))
            self.assertNotIn("STACKB", service.connections)
            self.assertEqual(connectionB.state, ConnectionState.STOPPED)
            self.assertIs(service.connections["STACKA"].session, sessionA)
            # A bad file is rejected and changes nothing.
            with open(config, "a") as f:
                f.write("IkeConfig { NssWaitLimit banana }\n")
            failure = await self.assertFailure(service.refresh(), Exception)
            self.assertIn("NssWaitLimit", str(failure))
            self.assertIs(service.connections["STACKA"].session, sessionA)

        return ensureDeferred(go())


class BadServerTests(IkedTestCase):
    def test_identityMismatch(self) -> Deferred[None]:
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        config = write_iked_config(self.setup, port, None)
        with open(config) as f:
            text = f.read().replace(
                f"127.0.0.1 Port {port}",
                f"127.0.0.1 Port {port} Identity Fqdn nss.example",
            )
        with open(config, "w") as f:
            f.write(text)
        self.start_iked(config)

        async def go() -> None:
            await eventually(
                lambda: self.logged(
                    "EZD1149I The connection to network security server"
                ),
                what="EZD1149I",
            )
            self.assertEqual(len(nssd.registry), 0)

        return ensureDeferred(go())

    def test_wrongCaFileNamed(self) -> Deferred[None]:
        """
        nssd's certificate is not signed by a CA in iked's CaFile: EZD1149I
        says so in a sentence that names the file.
        """
        from tests.test_client_serveridentity import certificate

        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        from cryptography.hazmat.primitives.serialization import Encoding

        caFile = os.path.join(self.setup.folder, "ca.pem")
        with open(caFile, "wb") as f:
            f.write(certificate("CN=Another CA").public_bytes(Encoding.PEM))
        self.start_iked(write_iked_config(self.setup, port, None))

        async def go() -> None:
            await eventually(lambda: self.logged("EZD1149I"), what="EZD1149I")
            self.assertTrue(
                self.logged(f"is not signed by a CA certificate in {caFile}"),
                [m for m in self.messages if "EZD1149I" in m],
            )

        return ensureDeferred(go())

    def test_serverWithoutAltName(self) -> Deferred[None]:
        """
        An nssd whose TLS certificate chains to the CA file but names no
        server (RACDCERT GENCERT without ALTNAME) never sees the stacks'
        logons: iked says why with EZD1149I (issue 22, item 1).
        """
        racf(
            self.setup,
            "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('127.0.0.1') O('Example'))"
            " NISTECC SIZE(256) WITHLABEL('Rogue TLS')"
            " SIGNWITH(CERTAUTH LABEL('NSS CA'))",
            "RACDCERT ID(NSSD) ADDRING(ROGUE)",
            "RACDCERT ID(NSSD) CONNECT(ID(NSSD) LABEL('Rogue TLS') RING(ROGUE)"
            " DEFAULT)",
        )
        nssd = start_nssd(self, self.setup, tlsRing="NSSD/ROGUE")
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        self.start_iked(write_iked_config(self.setup, port, None))

        async def go() -> None:
            await eventually(
                lambda: self.logged("has no subjectAltName"), what="EZD1149I"
            )
            self.assertTrue(self.logged("EZD1149I"))
            self.assertEqual(len(nssd.registry), 0)
            self.assertFalse(
                [m for m in self.messages if "DBG0101I" in m or "DBG0102I" in m]
            )

        return ensureDeferred(go())

    def test_expiredServerCertificate(self) -> Deferred[None]:
        """
        EZD1149I says in words why TLS failed, not OpenSSL's error list
        (issue 10, item 5).
        """
        racf(
            self.setup,
            "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('127.0.0.1') O('Example'))"
            " NISTECC SIZE(256) WITHLABEL('Old TLS')"
            " SIGNWITH(CERTAUTH LABEL('NSS CA')) ALTNAME(IP(127.0.0.1))"
            " NOTBEFORE(DATE(2019-01-01)) NOTAFTER(DATE(2020-01-01))",
            "RACDCERT ID(NSSD) ADDRING(OLD)",
            "RACDCERT ID(NSSD) CONNECT(ID(NSSD) LABEL('Old TLS') RING(OLD) DEFAULT)",
        )
        nssd = start_nssd(self, self.setup, tlsRing="NSSD/OLD")
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        self.start_iked(write_iked_config(self.setup, port, None))

        async def go() -> None:
            await eventually(lambda: self.logged("EZD1149I"), what="EZD1149I")
            insecure = [m for m in self.messages if "EZD1149I" in m]
            self.assertIn(
                "is not secure - the server's certificate (CN=127.0.0.1,O=Example)"
                " expired on 2020-01-01 23:59:59 UTC",
                insecure[0],
            )
            self.assertNotIn("SSL routines", insecure[0])

        return ensureDeferred(go())

    def test_managementNotAskedFor(self) -> Deferred[None]:
        """
        A server that routes a network management request to a stack that
        asked only for the certificate service (and claims to have granted
        more) is refused: a stack serves only what it asked for.
        """
        answers: list[NssFrame] = []
        port = self.hostile_server(answers)
        stacks = STACKS.replace("  ServiceType RemoteMgmt\n", "")
        self.start_iked(write_iked_config(self.setup, port, None, stacks))

        async def go() -> None:
            await eventually(lambda: len(answers) >= 2, what="both stacks answered")
            for frame in answers:
                self.assertIsInstance(frame.message, Refusal)
                self.assertEqual(frame.returnCode, ReturnCode.EOPNOTSUPP)
                self.assertEqual(frame.reasonCode, ReasonCode.NSSRsnServiceNotGranted)

        return ensureDeferred(go())

    def hostile_server(self, answers: list[NssFrame]) -> int:
        """
        An NSS server with nssd's own TLS identity that accepts any logon,
        grants every service, and at once asks the client for GET_IKENSINFO.
        """
        from nsstwisted.nssd.tls import ServerContextFactory, server_context
        from nsstwisted.protocols.nss import NssFactory, NssProtocol
        from nsstwisted.security.database import SecurityDatabase
        from nsstwisted.security.keyring import KeyRingStore
        from nsstwisted.wire.nmi import NmiMessage, NmiMessageType, encode_message
        from nsstwisted.wire.nss import (
            LogonReply,
            LogonRequest,
            NetMgmtRequest,
            Services,
        )

        database = SecurityDatabase.open(self.setup.database, self.setup.stash)
        self.addCleanup(database.close)
        context, _ = server_context(KeyRingStore(database), "NSSD", "TLSRING", None)
        request = encode_message(
            NmiMessage(messageType=NmiMessageType.GET_IKENSINFO, correlator=7)
        )

        class Hostile:
            def __init__(self, protocol: NssProtocol) -> None:
                self.protocol = protocol

            def connected(self) -> None:
                pass

            def secured(self) -> None:
                pass

            def frameReceived(self, frame: NssFrame) -> None:
                if isinstance(frame.message, LogonRequest):
                    self.protocol.setupComplete()
                    self.protocol.sendFrame(
                        NssFrame(
                            frame.requestId,
                            LogonReply(
                                servicesGranted=Services.CERT | Services.NETMGMT,
                                apiVersion=1,
                                serverSystemName="ROGUE",
                            ),
                        )
                    )
                    self.protocol.sendFrame(NssFrame(99, NetMgmtRequest(request)))
                elif frame.requestId == 99:
                    answers.append(frame)

            def decodeFailed(self, failure: object) -> None:
                pass

            def timedOut(self, what: str) -> None:
                pass

            def connectionLost(self, reason: str) -> None:
                pass

        listening = reactor.listenSSL(  # type: ignore[attr-defined]
            0,
            NssFactory(Hostile, reactor),
            ServerContextFactory(context),
            interface="127.0.0.1",
        )
        self.addCleanup(listening.stopListening)
        port: int = listening.getHost().port
        return port

    def test_openRuleWarned(self) -> None:
        """
        A KeyExchangeRule without a remote Identity accepts any certificate
        from a trusted CA: iked says so at start (EZD1165I, issue 23 item 7).
        """
        from tests.test_iked_keyexchange_ikepolicy import EXAMPLE

        policy = os.path.join(self.setup.folder, "plain.policy")
        with open(policy, "w") as f:
            f.write(EXAMPLE.replace("    Identity   Fqdn strongswan.iked.test\n", ""))
        stacks = STACKS.replace(
            "TcpipStack PLAIN { }", f'TcpipStack PLAIN {{ PolicyFile "{policy}" }}'
        )
        config = write_iked_config(self.setup, free_port(), None, stacks)
        with open(config) as f:
            # The ring PLAIN signs with, without which iked would not start.
            text = f.read().replace(
                "\n}\n",
                f'\n  SecurityDatabase "{self.setup.database}"\n'
                "  KeyRing NSSD/NSSRING\n}\n",
                1,
            )
        with open(config, "w") as f:
            f.write(text)
        self.start_iked(config)
        self.assertTrue(
            self.logged(
                "EZD1165I Stack PLAIN KeyExchangeRule strongswan-peer names no"
                " remote Identity: any certificate from a trusted CA is accepted"
                " from 127.0.0.1"
            )
        )

    def test_silentServer(self) -> Deferred[None]:
        """
        A server that accepts TCP and then says nothing: the attempt ends
        after NssWaitLimit, and is retried at that pace.
        """
        from twisted.internet.endpoints import TCP4ServerEndpoint
        from twisted.internet.protocol import Factory, Protocol

        async def go() -> None:
            listening = await TCP4ServerEndpoint(
                reactor, 0, interface="127.0.0.1"
            ).listen(Factory.forProtocol(Protocol))
            self.addCleanup(listening.stopListening)
            port = listening.getHost().port
            self.start_iked(write_iked_config(self.setup, port, None))
            await eventually(
                lambda: self.logged("no answer within 1 second"),
                what="the attempt to time out",
            )

        return ensureDeferred(go())

    def test_unreachable(self) -> Deferred[None]:
        self.start_iked(write_iked_config(self.setup, free_port(), None))

        async def go() -> None:
            await eventually(
                lambda: self.logged("EZD1141I Stack STACKA cannot reach"),
                what="EZD1141I",
            )
            # NssWaitLimit 1: one second, not "1 seconds".
            await eventually(
                lambda: self.logged(
                    "EZD1143I Stack STACKA retries network security server"
                    " 127.0.0.1 in 1 second (attempt 2)"
                ),
                what="EZD1143I",
            )

        return ensureDeferred(go())

    def test_disconnectedBetweenAttempts(self) -> Deferred[None]:
        """
        Between two attempts a stack is C{disconnected}, as the -w report's
        documentation says; it is C{connecting} only while it tries.
        """
        import io

        from nsstwisted.cli.ipsec import run as ipsec

        service = self.start_iked(
            write_iked_config(self.setup, free_port(), None, waitLimit=30)
        )

        async def go() -> None:
            await eventually(
                lambda: self.logged("EZD1141I Stack STACKA cannot reach"),
                what="EZD1141I",
            )
            self.assertEqual(
                service.connections["STACKA"].state, ConnectionState.DISCONNECTED
            )
            out, err = io.StringIO(), io.StringIO()
            status = await ipsec(
                reactor,
                ["-w", "display", "--socket", service.configuration.nmiSocket],
                out,
                err,
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            stackA = out.getvalue().split("*****")[0]
            self.assertRegex(stackA, r"StackName: +STACKA\n")
            self.assertRegex(stackA, r"ConnectionState: +disconnected\n")
            self.assertRegex(stackA, r"NSServerIPAddress: +n/a\n")

        return ensureDeferred(go())


class ManagementConnectionTests(IkedTestCase):
    """
    iked's local NMI shares nssd's connection rules: a per-user limit and an
    idle timeout (NmiIdleTimeout), with EZD messages.
    """

    def start_local(self, *extra: str) -> IKEDService:
        path = os.path.join(self.setup.folder, "iked-local.conf")
        with open(path, "w") as f:
            f.write(
                "IkeConfig\n{\n  SystemName IKESYS\n"
                f'  NmiSocket "{self.setup.sockets}/iked/ipsecmgmt"\n'
                + "".join(f"  {line}\n" for line in extra)
                + "}\nTcpipStack PLAIN { }\n"
            )
        service = self.start_iked(path)
        return service

    async def served(self, service: IKEDService) -> str:
        await eventually(lambda: service.nmiPort is not None, what="the NMI socket")
        return service.configuration.nmiSocket

    def test_perUserLimit(self) -> Deferred[None]:
        skip_unless_root(self)
        service = self.start_local()

        async def go() -> None:
            import io

            from nsstwisted.cli.modify import run as modify

            path = await self.served(service)
            os.chmod(self.setup.sockets, 0o750)  # noqa: S103
            greetings = await hold_nmi_connections(self, path, 6)
            self.assertEqual([kind for kind, _, _ in greetings], [1] * 4 + [2] * 2)
            refused = [m for m in self.messages if "EZD1170I" in m]
            self.assertEqual(len(refused), 2)
            self.assertIn(f"uid {NOBODY} pid", refused[0])
            out, err = io.StringIO(), io.StringIO()
            status = await modify(
                reactor, ["iked", "--socket", path, "display"], out, err
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            self.assertIn("NmiIdleTimeout 60", out.getvalue())

        return ensureDeferred(go())

    def test_idleTimeout(self) -> Deferred[None]:
        from twisted.internet.endpoints import UNIXClientEndpoint

        from nsstwisted.protocols.nmi import NmiClientFactory
        from nsstwisted.wire.codes import ReasonCode, ReturnCode

        service = self.start_local("NmiIdleTimeout 1")

        async def go() -> None:
            path = await self.served(service)
            client = await UNIXClientEndpoint(reactor, path).connect(NmiClientFactory())
            await client.ready
            term = await client.terminated
            assert term is not None
            self.assertEqual(
                (term.returnCode, term.reasonCode),
                (ReturnCode.ETIMEDOUT, ReasonCode.NONE),
            )
            self.assertTrue(self.logged(f"uid {os.geteuid()} pid {os.getpid()}"))
            self.assertTrue(self.logged("EZD1172I NMI connID 1"))
            self.assertTrue(self.logged("was idle for 1 second - the connection"))
            self.assertTrue(
                any(m.endswith("on system IKESYS with 1 stack") for m in self.messages),
                self.messages,
            )
            config = service.configPath
            with open(config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(text.replace("NmiIdleTimeout 1", "NmiIdleTimeout 90"))
            lines = await service.refresh()
            self.assertEqual(lines, ["refresh complete: NmiIdleTimeout 1 -> 90"])
            self.assertEqual(service.nmiFactory.idleTimeout, 90)

        return ensureDeferred(go())

    def test_operatorInSocketGroup(self) -> Deferred[None]:
        """
        C{NmiSocketGroup} lets a member of the group in (EZD1180I says who
        may connect); a refresh that drops it gives the socket back to
        iked's own group, and C{NmiSocketMode} applies at once.
        """
        import grp
        import stat

        from nsstwisted.wire.nmi import NmiMessageType

        skip_unless_root(self)
        # As /var/sock lets every user pass to the sockets in it.
        os.chmod(self.setup.sockets, 0o755)  # noqa: S103
        service = self.start_local("NmiSocketGroup nogroup")

        async def go() -> None:
            path = await self.served(service)
            nogroup = grp.getgrnam("nogroup").gr_gid
            info = os.stat(path)
            self.assertEqual(
                (info.st_gid, stat.S_IMODE(info.st_mode)), (nogroup, 0o660)
            )
            self.assertTrue(
                self.logged(
                    f"EZD1180I management socket {path}: owner root, group "
                    "nogroup, mode 0660"
                )
            )
            operator = await connect_nmi_as(self, path, "nobody")
            reply = await operator.request(NmiMessageType.GET_IKENSINFO)
            self.assertTrue(reply.ok)
            config = service.configPath
            with open(config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(text.replace("NmiSocketGroup nogroup", "NmiSocketMode 0600"))
            lines = await service.refresh()
            self.assertEqual(
                lines,
                [
                    "refresh complete: NmiSocketGroup nogroup -> none; "
                    "NmiSocketMode 0660 -> 0600"
                ],
            )
            info = os.stat(path)
            self.assertEqual(
                (info.st_gid, stat.S_IMODE(info.st_mode)), (os.getegid(), 0o600)
            )
            with self.assertRaises(PermissionError):
                await connect_nmi_as(self, path, "nobody")

        return ensureDeferred(go())


class IpsecReportTests(IkedTestCase):
    def test_ipsecW(self) -> Deferred[None]:
        """
        nss-ipsec -w display against a running iked: the connected stacks and
        the plain one, in the report's layout.
        """
        import io

        from nsstwisted.cli.ipsec import run as ipsec

        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        service = self.start_iked(write_iked_config(self.setup, port, None))

        async def go() -> None:
            await eventually(
                lambda: (
                    self.server_port(service, "STACKA") == port
                    and self.server_port(service, "STACKB") == port
                ),
                what="both stacks connected",
            )
            out, err = io.StringIO(), io.StringIO()
            status = await ipsec(
                reactor,
                ["-w", "display", "--socket", service.configuration.nmiSocket],
                out,
                err,
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            lines = out.getvalue().splitlines()
            self.assertTrue(lines[0].startswith("CS V2R5 ipsec"))
            self.assertIn("Primary:", lines[1])
            self.assertIn("TotAvail: 3", lines[2])
            self.assertEqual(lines[-1], "3 entries selected")
            text = out.getvalue()
            self.assertIn("SystemName: IKESYS", text)
            for expected in [
                "StackName:",
                "ClientName:",
                "ConnectionState:",
                "NSServerSystemName:",
            ]:
                self.assertEqual(text.count(expected), 3, expected)
            self.assertEqual(text.count("connected\n"), 2)
            self.assertIn("CLIENT2", text)

        return ensureDeferred(go())


class TwistdIkedTests(IkedTestCase):
    """
    The real plugin: C{twistd -n iked}.
    """

    def spawn(self, config: str) -> DaemonProcess:
        process = DaemonProcess()
        transport = reactor.spawnProcess(
            process, python(), twistd_args(config, "iked"), env=dict(os.environ)
        )

        def stop() -> Deferred[int]:
            if not process.ended.called:
                transport.signalProcess("TERM")
            return process.ended

        self.addCleanup(stop)
        return process

    def test_twistdIked(self) -> Deferred[None]:
        import io

        from nsstwisted.cli.ipsec import run as ipsec
        from nsstwisted.cli.modify import run as modify

        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        config = write_iked_config(self.setup, port, None)
        process = self.spawn(config)
        socketPath = f"{self.setup.sockets}/iked/ipsecmgmt"

        async def go() -> None:
            await process.waitFor(rb"EZD1138I Stack STACKA is connected")
            await process.waitFor(rb"EZD1138I Stack STACKB is connected")
            out, err = io.StringIO(), io.StringIO()
            status = await ipsec(
                reactor, ["-w", "dis", "--socket", socketPath], out, err
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            self.assertIn("3 entries selected", out.getvalue())
            out, err = io.StringIO(), io.StringIO()
            status = await modify(
                reactor, ["iked", "--socket", socketPath, "display"], out, err
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            self.assertIn("NssStackConfig STACKA", out.getvalue())
            mark = len(process.output)
            os.kill(process.transport.pid, signal.SIGHUP)  # type: ignore[union-attr]
            await process.waitFor(rb"EZD1103I configuration refreshed", mark)
            process.transport.signalProcess("TERM")  # type: ignore[union-attr]
            await process.ended
            # twistd ends by re-raising SIGTERM once its services have stopped.
            self.assertIn(b"EZD1144I Stack STACKA disconnected", process.output)
            self.assertIn(b"Main loop terminated", process.output)

        return ensureDeferred(go())

    def test_secondIkedExits(self) -> Deferred[None]:
        """
        A second iked on the same configuration cannot take the management
        socket: it exits non-zero with EZD1101I and EZD1104I, and never logs
        on, so the first keeps its client names (issue 22, item 9).
        """
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        config = write_iked_config(self.setup, port, None)
        first = self.spawn(config)

        async def go() -> None:
            await first.waitFor(rb"EZD1138I Stack STACKA is connected")
            await first.waitFor(rb"EZD1138I Stack STACKB is connected")
            logons = sum("DBG0101I" in m for m in self.messages)
            second = self.spawn(config)
            status = await second.ended
            self.assertNotEqual(status, 0)
            self.assertIn(b"EZD1101I", second.output)
            self.assertIn(b"EZD1104I IKE daemon cannot start", second.output)
            self.assertIn(b"another iked", second.output)
            self.assertNotIn(b"Traceback", second.output)
            self.assertNotIn(b"EZD1138I", second.output)
            self.assertEqual(sum("DBG0101I" in m for m in self.messages), logons)
            self.assertIn(b"EZD1138I", first.output)
            self.assertNotIn(b"EZD1140I", first.output)

        return ensureDeferred(go())

    def test_replacedSideIsTold(self) -> Deferred[None]:
        """
        When another logon takes a stack's client name, the stack's EZD1140I
        says so, and from where, instead of "closed cleanly" (item 9).
        """
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        service = self.start_iked(write_iked_config(self.setup, port, None))

        async def go() -> None:
            from nsstwisted.client import PasswordCredentials, connect
            from nsstwisted.wire.nss import Services
            from tests.daemons import LOOPBACK, client_endpoint

            await eventually(
                lambda: self.server_port(service, "STACKA") == port,
                what="STACKA connected",
            )
            intruder = await connect(
                reactor,
                client_endpoint(self.setup, port),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )
            self.addCleanup(intruder.close)
            local = intruder.addresses()[0]
            await eventually(lambda: self.logged("EZD1140I"), what="EZD1140I")
            self.assertTrue(
                self.logged(
                    "EZD1140I Stack STACKA lost its connection to network security"
                    " server 127.0.0.1 - the server ended the session: EBUSY"
                    " NSSRsnReplacedByNewLogon (replaced by a new logon of client"
                    f" name CLIENT1 from {local[0]} port {local[1]})"
                ),
                "\n".join(m for m in self.messages if "EZD1140I" in m),
            )
            self.assertTrue(self.logged(f"from {local[0]} port {local[1]}"))

        return ensureDeferred(go())

    def test_badConfiguration(self) -> Deferred[None]:
        config = write_iked_config(self.setup, 4159, None)
        with open(config, "a") as f:
            f.write("IkeConfig { NssWaitRetries many }\n")
        process = self.spawn(config)

        async def go() -> None:
            self.assertNotEqual(await process.ended, 0)
            self.assertIn(b"EZD1104I", process.output)
            self.assertIn(b"NssWaitRetries", process.output)

        return ensureDeferred(go())
