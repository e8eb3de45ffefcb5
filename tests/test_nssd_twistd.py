"""
The real plugin: C{twistd -n nssd} as a separate process on an ephemeral
loopback port, with a security database and PKI made by nss-racf.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import connectProtocol
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest, TestCase

from nsstwisted.cli.modify import run as modify
from nsstwisted.client import (
    PassTicketCredentials,
    PasswordCredentials,
    connect,
)
from nsstwisted.security.database import SCHEMA_VERSION
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.security.signing import SignatureScheme, verify
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import (
    MAX_PRELOGON_MESSAGE_SIZE,
    Disconnect,
    Services,
    SignatureSchemeCode,
)
from tests.daemons import (
    CLIENT1_PASSWORD,
    LISTENING,
    LOOPBACK,
    PASSTICKET_KEY,
    ROOT,
    DaemonProcess,
    SecuritySetup,
    build_security,
    client_endpoint,
    ended_within,
    free_port,
    python,
    spawn_twistd,
    twistd_args,
    write_nssd_config,
)
from tests.test_nssd_bad_input import RawClient, endpoint_from, header, signs


class TwistdNssdTests(TestCase):
    timeout = 60

    def start(self, setup: SecuritySetup, config: str) -> DaemonProcess:
        process = DaemonProcess()
        transport = reactor.spawnProcess(
            process, python(), twistd_args(config), env=dict(os.environ), path=ROOT
        )

        def stop() -> Deferred[int]:
            if not process.ended.called:
                transport.signalProcess("TERM")
            return process.ended

        self.addCleanup(stop)
        return process

    def test_logonSignVerifyListRefresh(self) -> Deferred[None]:
        setup = build_security(self)
        config = write_nssd_config(setup)
        process = self.start(setup, config)

        async def go() -> None:
            found = await process.waitFor(LISTENING.pattern)
            port = int(found.group(1))
            one = await connect(
                reactor,
                client_endpoint(setup, port),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT | Services.NETMGMT,
            )
            two = await connect(
                reactor,
                client_endpoint(setup, port),
                serverIdentity=LOOPBACK,
                clientName="CLIENT2",
                credentials=PassTicketCredentials(
                    "CLIENT2",
                    lambda: generate_passticket(
                        "CLIENT2", "NSSD", parse_key(PASSTICKET_KEY), int(time.time())
                    ),
                ),
                services=Services.CERT,
            )
            data = b"IKE_SA_INIT | Nr | prf(SK_pi, IDi)"
            signed = await one.sign(
                label="Client1 cert",
                data=data,
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            certificate = x509.load_der_x509_certificate(signed.certificate)
            self.assertTrue(
                verify(
                    certificate.public_key(),
                    data,
                    signed.signature,
                    SignatureScheme.RSA_PKCS1_SHA256,
                )
            )
            self.verify_with_openssl(certificate, data, signed.signature)
            await two.verify(
                certificate=signed.certificate,
                data=data,
                signature=signed.signature,
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            cas = await two.caCertificates()
            self.assertEqual(len(cas), 1)

            # Refresh with a new port: the old connections stay, new ones
            # use the new port, and the old port no longer listens.
            newPort = free_port()
            mark = len(process.output)
            write_nssd_config(setup, port=newPort)
            os.kill(process_pid(process), signal.SIGHUP)
            await process.waitFor(rb"DBG0011I configuration refreshed", mark)
            await one.sign(
                label="Client1 cert",
                data=b"x",
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            three = await connect(
                reactor,
                client_endpoint(setup, newPort),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )
            await three.caCertificates()
            await self.assertFailure(
                ensureDeferred(
                    connect(
                        reactor,
                        client_endpoint(setup, port),
                        serverIdentity=LOOPBACK,
                        clientName="CLIENT2",
                        credentials=PasswordCredentials("CLIENT2", "x"),
                        services=Services.CERT,
                    )
                ),
                ConnectionRefusedError,
            )
            # A bad refresh is rejected and changes nothing.
            mark = len(process.output)
            with open(config, "a") as f:
                f.write("NssConfig { Bogus 1 }\n")
            os.kill(process_pid(process), signal.SIGHUP)
            await process.waitFor(rb"DBG0012I refresh rejected", mark)
            await three.caCertificates()
            for session in (two, three):
                await session.close()
            await one.whenClosed()

        return ensureDeferred(go())

    def verify_with_openssl(
        self, certificate: x509.Certificate, data: bytes, signature: bytes
    ) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            return
        folder = self.mktemp()
        os.makedirs(folder)
        paths = {
            "key.pem": certificate.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            ),
            "data": data,
            "sig": signature,
        }
        for name, content in paths.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(content)
        result = subprocess.run(
            [
                openssl,
                "dgst",
                "-sha256",
                "-verify",
                "key.pem",
                "-signature",
                "sig",
                "data",
            ],
            cwd=folder,
            capture_output=True,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"Verified OK", result.stdout)

    def test_preLogonLimits(self) -> Deferred[None]:
        """
        The real daemon under the pre-logon attack: a frame larger than a
        LOGON is refused (DISCONNECT C{EINVAL} C{NMsRsnExcessiveSize}) and
        the connection closed; a connection over C{MaxConnectionsPerAddress}
        is closed before TLS and logged once; a connection that does not
        log on within C{LogonTimeout} is closed; and meanwhile a real
        client from another address logs on and signs.
        """
        setup = build_security(self)
        config = write_nssd_config(
            setup, "  MaxConnectionsPerAddress 1", "  LogonTimeout 2"
        )
        process = self.start(setup, config)

        async def go() -> None:
            found = await process.waitFor(LISTENING.pattern)
            port = int(found.group(1))
            oversized = RawClient()
            await connectProtocol(endpoint_from(setup, port, "127.0.0.2"), oversized)
            oversized.send(
                header(messageType=1, total=MAX_PRELOGON_MESSAGE_SIZE + 1)
                + b"p" * 65536
            )
            frame = await oversized.frame()
            self.assertIsInstance(frame.message, Disconnect)
            self.assertEqual(
                (frame.returnCode, frame.reasonCode),
                (ReturnCode.EINVAL, ReasonCode.NMsRsnExcessiveSize),
            )
            await oversized.closed

            idle = RawClient()
            await connectProtocol(endpoint_from(setup, port, "127.0.0.3"), idle)
            refused = RawClient()
            await connectProtocol(endpoint_from(setup, port, "127.0.0.3"), refused)
            await refused.closed
            self.assertFalse(refused.secured)
            await process.waitFor(
                rb"DBG0111I NSS connection from 127.0.0.3 refused"
                rb" - MaxConnectionsPerAddress 1 reached"
            )
            await signs(endpoint_from(setup, port, "127.0.0.4"))
            await idle.closed
            self.assertTrue(idle.secured)
            await process.waitFor(rb"connection set-up took too long")

        return ensureDeferred(go())

    def test_badConfigurationExitsNonZero(self) -> Deferred[None]:
        setup = build_security(self)
        config = write_nssd_config(setup, "  Bogus 1")
        process = self.start(setup, config)

        async def go() -> None:
            code = await process.ended
            self.assertNotEqual(code, 0)
            self.assertIn(b"DBG0010I", process.output)
            self.assertIn(b"nssd.conf:", process.output)
            self.assertIn(b"Bogus", process.output)
            self.assertNotIn(b"Traceback", process.output)

        return ensureDeferred(go())

    def test_socketDirectoryFails(self) -> Deferred[None]:
        """
        The seed's case: the management socket's directory cannot be made,
        so nssd logs DBG0040I and shuts down.
        """
        setup = build_security(self)
        blocker = os.path.join(setup.sockets, "not-a-directory")
        with open(blocker, "w") as f:
            f.write("a file where the socket directory should be\n")
        config = write_nssd_config(setup)
        with open(config) as f:
            text = f.read().replace(
                os.path.join(setup.sockets, "nssd", "nss"),
                os.path.join(blocker, "nssd", "nss"),
            )
        with open(config, "w") as f:
            f.write(text)
        process = self.start(setup, config)

        async def go() -> None:
            code = await process.ended
            self.assertNotEqual(code, 0)
            self.assertIn(
                b"DBG0040I NSS_VERBOSE Cannot create socket directory", process.output
            )
            self.assertIn(b"DBG0010I", process.output)
            self.assertNotIn(b"Traceback", process.output)
            self.assertNotIn(b"DBG0002I", process.output)

        return ensureDeferred(go())

    def test_missingDatabaseExitsNonZero(self) -> Deferred[None]:
        setup = build_security(self)
        os.remove(setup.database)
        process = self.start(setup, write_nssd_config(setup))

        async def go() -> None:
            code = await process.ended
            self.assertNotEqual(code, 0)
            self.assertIn(b"NSR0201E", process.output)
            self.assertNotIn(b"Traceback", process.output)

        return ensureDeferred(go())


class FailedStartTests(TestCase):
    """
    Every start that fails ends twistd within seconds, non-zero, with
    DBG0010I and no traceback, having served nothing (issue 10, item 1).
    """

    timeout = 60

    def setUp(self) -> None:
        self.setup = build_security(self)

    async def cannotStart(self, config: str, *expected: bytes) -> DaemonProcess:
        process = spawn_twistd(self, twistd_args(config))
        code = await ended_within(process)
        self.assertEqual(code, 1, process.output)
        self.assertIn(b"DBG0010I NSS server cannot start", process.output)
        for text in expected:
            self.assertIn(text, process.output)
        self.assertNotIn(b"Traceback", process.output)
        self.assertNotIn(b"DBG0002I", process.output)
        return process

    def nmiSocket(self, name: str = "nssd") -> str:
        return os.path.join(self.setup.sockets, name, "nss")

    def test_portInUse(self) -> Deferred[None]:
        """
        A port that another process holds: nssd ends, its PID file
        removed, and it never served its management socket (which would
        have told an operator that it runs).
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = write_nssd_config(self.setup, port=port)
        pidfile = os.path.join(self.setup.folder, "nssd.pid")

        async def go() -> None:
            process = spawn_twistd(self, twistd_args(config, pidfile=pidfile))
            code = await ended_within(process)
            self.assertEqual(code, 1, process.output)
            self.assertIn(
                b"DBG0010I NSS server cannot start: Couldn't listen on"
                b" 127.0.0.1:%d: [Errno 98] Address already in use" % port,
                process.output,
            )
            self.assertNotIn(b"Traceback", process.output)
            self.assertNotIn(b"DBG0014I", process.output)
            self.assertFalse(os.path.exists(self.nmiSocket()))
            self.assertFalse(os.path.exists(pidfile))

        return ensureDeferred(go())

    def test_portInUseDaemonizing(self) -> Deferred[None]:
        """
        Without C{-n}, twistd's first process, the one a service manager
        (or an init script) waits for, exits 1, and the log says why.
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        config = write_nssd_config(self.setup, port=holder.getsockname()[1])
        pidfile = os.path.join(self.setup.folder, "nssd.pid")
        logfile = os.path.join(self.setup.folder, "nssd.log")
        self.addCleanup(kill_from_pidfile, pidfile)

        async def go() -> None:
            process = spawn_twistd(
                self,
                twistd_args(config, pidfile=pidfile, logfile=logfile, nodaemon=False),
            )
            code = await ended_within(process)
            self.assertEqual(code, 1, process.output)
            # twistd passes the first 100 bytes of the reason on.
            self.assertIn(b"Couldn't listen on 127.0.0.1", process.output)
            await eventually_gone(pidfile)
            with open(logfile, "rb") as f:
                log = f.read()
            self.assertIn(b"DBG0010I NSS server cannot start: Couldn't listen", log)
            self.assertNotIn(b"Traceback", log)

        return ensureDeferred(go())

    def test_managementSocketInUse(self) -> Deferred[None]:
        """
        A second nssd on the first one's management socket (but its own
        port) ends without listening on its port, and leaves the first
        one's socket to it.
        """
        first = spawn_twistd(self, twistd_args(write_nssd_config(self.setup)))
        second = write_nssd_config(self.setup, name="second")
        with open(second) as f:
            text = f.read().replace(self.nmiSocket("second"), self.nmiSocket())
        with open(second, "w") as f:
            f.write(text)

        async def go() -> None:
            await first.waitFor(LISTENING.pattern)
            process = await self.cannotStart(
                second,
                b"cannot serve the management interface on "
                + self.nmiSocket().encode(),
                b"Cannot acquire lock",
            )
            self.assertNotIn(b"ReactorNotRunning", process.output)
            out, err = io.StringIO(), io.StringIO()
            status = await modify(
                reactor, ["nssd", "--socket", self.nmiSocket(), "display"], out, err
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            self.assertIn("SystemName NSSSYS", out.getvalue())

        return ensureDeferred(go())

    def test_damagedDatabase(self) -> Deferred[DaemonProcess]:
        with open(self.setup.database, "r+b") as f:
            f.write(b"this is no longer SQLite" * 8)
        return ensureDeferred(
            self.cannotStart(
                write_nssd_config(self.setup), self.setup.database.encode()
            )
        )

    def test_newerSchema(self) -> Deferred[DaemonProcess]:
        """
        A database that a newer nsstwisted upgraded: nssd refuses it,
        naming both schema versions, rather than misreading it.
        """
        newer = sqlite3.connect(self.setup.database, isolation_level=None)
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        newer.close()
        return ensureDeferred(
            self.cannotStart(
                write_nssd_config(self.setup),
                b"NSR0345E security database " + self.setup.database.encode(),
                b"has schema version %d, newer than version %d"
                % (SCHEMA_VERSION + 1, SCHEMA_VERSION),
            )
        )

    def test_foreignStash(self) -> Deferred[DaemonProcess]:
        with open(self.setup.stash, "r+b") as f:
            key = f.read()
            f.seek(0)
            f.write(bytes(b ^ 0xFF for b in key))
        return ensureDeferred(
            self.cannotStart(write_nssd_config(self.setup), b"NSR0203E stash file")
        )

    def test_missingStash(self) -> Deferred[DaemonProcess]:
        os.remove(self.setup.stash)
        return ensureDeferred(
            self.cannotStart(
                write_nssd_config(self.setup),
                b"stash file " + self.setup.stash.encode() + b" does not exist",
            )
        )

    def test_missingKeyRing(self) -> Deferred[DaemonProcess]:
        config = write_nssd_config(self.setup, "  KeyRing NSSD/NOSUCH")
        return ensureDeferred(
            self.cannotStart(config, b"key ring NSSD/NOSUCH does not exist")
        )

    def test_missingTlsLabel(self) -> Deferred[DaemonProcess]:
        config = write_nssd_config(self.setup, "  TlsLabel NoSuchLabel")
        return ensureDeferred(
            self.cannotStart(config, b"has no certificate 'NoSuchLabel'")
        )


class CheckTests(TestCase):
    """
    C{twistd nssd --check}: what a start would find, with nothing bound
    and nothing written (issue 10, item 8).
    """

    timeout = 60

    def setUp(self) -> None:
        self.setup = build_security(self)

    async def check(self, config: str) -> tuple[int, bytes]:
        process = spawn_twistd(self, twistd_args(config, options=["--check"]))
        return await ended_within(process), process.output

    def test_besideTheRunningServer(self) -> Deferred[None]:
        """
        The check runs beside the nssd whose port and socket it names, says
        what a start would use, and changes nothing in the database.
        """
        config = write_nssd_config(self.setup)
        server = spawn_twistd(self, twistd_args(config))

        async def go() -> None:
            await server.waitFor(LISTENING.pattern)
            with open(self.setup.database, "rb") as f:
                before = f.read()
            code, output = await self.check(config)
            self.assertEqual(code, 0, output)
            self.assertIn(
                b"nssd: DBG0150I NSS server configuration %s checked:"
                b" nssd can start with it" % config.encode(),
                output,
            )
            self.assertIn(b"KeyRing NSSD/NSSRING: ", output)
            self.assertIn(b"TLS certificate 'NSSD TLS' of NSSD/TLSRING", output)
            self.assertNotIn(b"Traceback", output)
            with open(self.setup.database, "rb") as f:
                self.assertEqual(f.read(), before)
            self.assertTrue(os.path.exists(self.setup.stash))
            self.assertIn(b"DBG0002I", server.output)
            self.assertFalse(server.ended.called)

        return ensureDeferred(go())

    def test_sameMessageAsStart(self) -> Deferred[None]:
        config = write_nssd_config(self.setup, "  Bogus 1")

        async def go() -> None:
            code, output = await self.check(config)
            self.assertEqual(code, 1)
            self.assertIn(b"nssd: DBG0010I NSS server cannot start: ", output)
            self.assertIn(b"nssd.conf:", output)
            self.assertIn(b"Bogus", output)
            self.assertNotIn(b"Traceback", output)

        return ensureDeferred(go())

    def test_missingStashNotMade(self) -> Deferred[None]:
        """
        Where a start would fail on a missing stash, so does the check; and
        it makes none.
        """
        os.remove(self.setup.stash)

        async def go() -> None:
            code, output = await self.check(write_nssd_config(self.setup))
            self.assertEqual(code, 1)
            self.assertIn(b"DBG0010I NSS server cannot start: NSR0203E", output)
            self.assertFalse(os.path.exists(self.setup.stash))

        return ensureDeferred(go())

    def test_missingTlsLabel(self) -> Deferred[None]:
        config = write_nssd_config(self.setup, "  TlsLabel NoSuchLabel")

        async def go() -> None:
            code, output = await self.check(config)
            self.assertEqual(code, 1)
            self.assertIn(b"has no certificate 'NoSuchLabel'", output)

        return ensureDeferred(go())


def kill_from_pidfile(pidfile: str) -> None:
    """
    End a daemonized twistd that the test could not otherwise reach.
    """
    try:
        with open(pidfile) as f:
            os.kill(int(f.read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


async def eventually_gone(path: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} is still there")
        await deferLater(reactor, 0.05, lambda: None)


def process_pid(process: DaemonProcess) -> int:
    transport = process.transport
    if transport is None or transport.pid is None:
        raise SkipTest("the daemon is gone")
    return int(transport.pid)
