"""
Fixtures that build a real security database and PKI with nss-racf and start
the real daemons, in-process (the service) or as C{twistd -n} processes.
"""

from __future__ import annotations

import io
import os
import pwd
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.threads import deferToThread
from twisted.logger import ILogObserver, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from nsstwisted.cli.racf import run as nss_racf
from nsstwisted.client import (
    NssSession,
    PasswordCredentials,
    ServerIdentity,
    connect,
    tls_endpoint,
)
from nsstwisted.nssd.service import NSSDService
from nsstwisted.protocols.nmi import NmiClientFactory, NmiClientProtocol
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.location import is_database_uri
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.wire.nmi import NmiDecoder, NmiMessage
from nsstwisted.wire.nss import Services

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_JOB = os.path.join(ROOT, "docs", "examples", "nss-setup.racf")
CLIENT1_PASSWORD = "Cl1ent-One"
PASSTICKET_KEY = "E001193519561977"


@dataclass
class SecuritySetup:
    """
    @ivar database: the security database: an SQLite file's path, or a
        PostgreSQL connection URI.
    @ivar stash: the stash file of its master key.
    @ivar sockets: a short folder for AF_UNIX sockets, whose paths may not
        exceed 107 bytes (a test's own folder can be deeper than that).
    """

    folder: str
    database: str
    stash: str
    caPem: bytes
    sockets: str


def build_security(
    case: TestCase, operator: str = "IPSECOP", database: str | None = None
) -> SecuritySetup:
    """
    Run the documented example job on a fresh database, with its stash in a
    new folder.

    @param operator: the user ID the job's operator gets instead of
        C{IPSECOP}, with all of its authority: the login name, upper-cased,
        of a Unix user that a test can act as (C{NOBODY}).
    @param database: the connection URI of an empty PostgreSQL database
        (L{tests.postgresql}); by default, an SQLite file in the folder.
    """
    folder = os.path.abspath(case.mktemp())
    os.makedirs(folder)
    if database is None:
        database = os.path.join(folder, "security.db")
    stash = os.path.join(folder, "security.sth")
    err = io.StringIO()
    with open(EXAMPLE_JOB, encoding="utf-8") as f:
        job = f.read().replace("IPSECOP", operator)
    status = nss_racf(
        ["--database", database, "--stash", stash, "--file", "-"],
        io.StringIO(),
        err,
        io.StringIO(job),
    )
    if status != 0:
        raise RuntimeError(f"example job failed: {err.getvalue()}")
    db = SecurityDatabase.open(database, stash)
    try:
        ca = KeyRingStore(db).get_certificate(CertificateOwner.authority(), "NSS CA")
        caPem = ca.certificate.public_bytes(serialization.Encoding.PEM)
    finally:
        db.close()
    sockets = tempfile.mkdtemp(prefix="nss-", dir="/tmp")
    case.addCleanup(shutil.rmtree, sockets, True)
    return SecuritySetup(folder, database, stash, caPem, sockets)


def racf(setup: SecuritySetup, *commands: str) -> None:
    """
    Run RACF commands against the test's security database.
    """
    for command in commands:
        err = io.StringIO()
        arguments = ["--database", setup.database, "--stash", setup.stash, command]
        if nss_racf(arguments, io.StringIO(), err):
            raise RuntimeError(f"{command}: {err.getvalue()}")


def write_nssd_config(
    setup: SecuritySetup,
    *extra: str,
    port: int = 0,
    name: str = "nssd",
    tlsRing: str = "NSSD/TLSRING",
    stash: str | None = None,
) -> str:
    """
    Write an nssd configuration file for C{setup}'s database.

    @param stash: the server's copy of the stash (C{StashFile}); by default
        the setup's own, named only where the usual search cannot find it
        (a database on PostgreSQL has no folder to search).
    """
    path = os.path.join(setup.folder, f"{name}.conf")
    if stash is None and is_database_uri(setup.database):
        stash = setup.stash
    lines = [
        "NssConfig",
        "{",
        f"  Port {port}",
        "  SyslogLevel 15",
        "  KeyRing NSSD/NSSRING",
        f"  TlsKeyRing {tlsRing}",
        "  SystemName NSSSYS",
        f'  SecurityDatabase "{setup.database}"',
        *([f'  StashFile "{stash}"'] if stash is not None else []),
        f'  NmiSocket "{os.path.join(setup.sockets, name, "nss")}"',
        *extra,
        "}",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start_nssd(
    case: TestCase,
    setup: SecuritySetup,
    tlsRing: str = "NSSD/TLSRING",
    extra: tuple[str, ...] = (),
    **options: Any,
) -> NSSDService:
    """
    Start an in-process NSSDService on an ephemeral loopback port; it stops
    when the test ends.

    @param extra: more NssConfig lines.
    """
    service = NSSDService.prepare(
        write_nssd_config(setup, *extra, tlsRing=tlsRing),
        reactor,
        interface="127.0.0.1",
        **options,
    )
    service.startService()
    case.addCleanup(service.stopService)
    return service


def capture_messages(case: TestCase) -> list[str]:
    """
    Collect the text of every log event while the test runs, so that tests
    can check that a denial produced its DBG message.
    """
    messages: list[str] = []

    @implementer(ILogObserver)
    def observe(event: dict[str, Any]) -> None:
        text = formatEvent(event)
        if text:
            messages.append(text)

    globalLogPublisher.addObserver(observe)
    case.addCleanup(globalLogPublisher.removeObserver, observe)
    return messages


def ticket_for(userid: str) -> str:
    """
    A fresh PassTicket of application NSSD for C{userid}, with the example
    job's key.
    """
    return generate_passticket(
        userid, "NSSD", parse_key(PASSTICKET_KEY), int(time.time())
    )


#: What the example job's nssd TLS certificate proves on loopback.
LOOPBACK = ServerIdentity("IpAddr", "127.0.0.1")


def client_endpoint(setup: SecuritySetup, port: int) -> IStreamClientEndpoint:
    return tls_endpoint(TCP4ClientEndpoint(reactor, "127.0.0.1", port), [setup.caPem])


async def logon_client1(
    setup: SecuritySetup, port: int, services: Services = Services.CERT
) -> NssSession:
    """
    Log CLIENT1 on with its password to the in-process nssd on C{port}:
    the session most tests need.
    """
    return await connect(
        reactor,
        client_endpoint(setup, port),
        serverIdentity=LOOPBACK,
        clientName="CLIENT1",
        credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
        services=services,
    )


def python() -> str:
    return sys.executable


LISTENING = re.compile(rb"DBG0002I NSS server listening on \S+ port (\d+)")


class DaemonProcess(ProcessProtocol):
    def __init__(self) -> None:
        self.output = b""
        self.ended: Deferred[int] = Deferred()
        self._watchers: list[tuple[re.Pattern[bytes], Deferred[re.Match[bytes]]]] = []

    def outReceived(self, data: bytes) -> None:
        self.output += data
        for pattern, waiter in list(self._watchers):
            found = pattern.search(self.output)
            if found:
                self._watchers.remove((pattern, waiter))
                waiter.callback(found)

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.ended.callback(code if code is not None else -1)
        for _, waiter in self._watchers:
            waiter.errback(AssertionError(self.output.decode(errors="replace")))
        self._watchers = []

    def waitFor(self, pattern: bytes, after: int = 0) -> Deferred[re.Match[bytes]]:
        compiled = re.compile(pattern)
        found = compiled.search(self.output, after)
        if found:
            return succeed(found)
        waiter: Deferred[re.Match[bytes]] = Deferred()
        self._watchers.append((compiled, waiter))
        return waiter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def twistd_args(
    config: str,
    daemon: str = "nssd",
    *,
    options: Sequence[str] = (),
    pidfile: str = "",
    logfile: str = "-",
    nodaemon: bool = True,
) -> list[str]:
    """
    The command line of C{twistd DAEMON --config CONFIG}.

    @param options: more options of the daemon's, such as C{--check}.
    @param nodaemon: C{-n}; without it twistd forks, and its first process
        ends with the start's status.
    """
    # What the twistd script runs, so that the interpreter is the tests' own.
    return [
        python(),
        "-c",
        "from twisted.scripts.twistd import run; run()",
        f"--pidfile={pidfile}",
        f"--logfile={logfile}",
        *(["-n"] if nodaemon else []),
        daemon,
        "--config",
        config,
        *(["--interface", "127.0.0.1"] if daemon == "nssd" else []),
        *options,
    ]


def spawn_twistd(
    case: TestCase, args: list[str], stopSignal: str = "KILL"
) -> DaemonProcess:
    """
    Run C{args} (from L{twistd_args}); the process is ended when the test
    ends, if it has not ended by itself.

    @param stopSignal: how it is ended: C{"TERM"} lets a daemon shut down
        as an operator's stop would (the strongSwan set-ups, whose iked
        deletes its SAs and whose namespace goes after it).
    """
    process = DaemonProcess()
    transport = reactor.spawnProcess(
        process, python(), args, env=dict(os.environ), path=ROOT
    )

    def stop() -> Deferred[int]:
        if not process.ended.called:
            transport.signalProcess(stopSignal)
        return process.ended

    case.addCleanup(stop)
    return process


async def ended_within(process: DaemonProcess, seconds: float = 15.0) -> int:
    """
    The exit status of C{process}, which must end within C{seconds}, as a
    daemon that cannot start must, for its service manager to see it.
    """
    ended: Deferred[int] = Deferred()

    def relay(code: int) -> int:
        if not ended.called:
            ended.callback(code)
        return code

    process.ended.addCallback(relay)
    ended.addTimeout(seconds, reactor)
    try:
        return await ended
    except DeferredTimeout:
        raise AssertionError(
            f"still running after {seconds} s:\n"
            + process.output.decode(errors="replace")
        ) from None


NOBODY = 65534
"""The uid of C{nobody}: a user that is neither root nor the daemon's."""


def skip_unless_root(case: TestCase) -> None:
    """
    Skip a test that must act as another user: only root can become one.
    """
    if os.geteuid() != 0:
        case.skipTest("acting as another uid needs root")


async def connect_nmi_as(
    case: TestCase, path: str, user: str, groups: list[int] | None = None
) -> NmiClientProtocol:
    """
    Connect to the NMI socket C{path} as the Unix user C{user}, with the
    groups a login would give it (or C{groups}), and return the connection
    once INIT has come; it is closed when the test ends.

    A forked child becomes the user and connects, so that the file system
    decides whether it may and the kernel records it as the peer
    (SO_PEERCRED is taken at connect), then hands the connected socket to
    this process over a socket pair and leaves.  Only root may do this
    (L{skip_unless_root}).

    @raise PermissionError: the user may not connect.
    """
    account = pwd.getpwnam(user)
    if groups is None:
        groups = os.getgrouplist(user, account.pw_gid)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pair
        status = 1
        try:
            parent.close()
            os.setgroups(groups)
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
            except OSError as e:
                child.sendall(f"{e.errno}".encode())
            else:
                socket.send_fds(child, [b"0"], [sock.fileno()])
            status = 0
        finally:
            os._exit(status)
    child.close()

    def receive() -> tuple[int, int | None]:
        with parent:
            data, fds, _, _ = socket.recv_fds(parent, 16, 1)
        os.waitpid(pid, 0)
        return int(data or b"-1"), fds[0] if fds else None

    error, fd = await deferToThread(receive)
    if fd is None:
        raise PermissionError(error, os.strerror(error) if error > 0 else "", path)
    connections: list[NmiClientProtocol] = []

    class Catching(NmiClientFactory):
        def buildProtocol(self, addr: object) -> NmiClientProtocol:
            protocol = super().buildProtocol(addr)
            connections.append(protocol)
            return protocol

    try:
        reactor.adoptStreamConnection(fd, socket.AF_UNIX, Catching())  # type: ignore[attr-defined]
    finally:
        os.close(fd)
    (protocol,) = connections
    case.addCleanup(protocol.close)
    await protocol.ready
    return protocol


async def hold_nmi_connections(
    case: TestCase, path: str, count: int, uid: int = NOBODY
) -> list[tuple[int, int, int]]:
    """
    Fork a child that becomes C{uid}, a member of the socket's group (so
    that the socket's mode lets it in, as it lets in any such member),
    opens C{count} connections to the NMI socket C{path} one after another,
    and holds them open without a word until the test ends.

    The uid is switched before connecting because SO_PEERCRED records who
    connected, not who later holds the socket.  The child never runs the
    reactor: it uses plain sockets and leaves with C{os._exit}.  Only root
    may do this (L{skip_unless_root}).

    @return: the first message each connection got, as (type, return code,
        reason code): INIT, or the TERM that refused it.
    """
    gid = os.stat(path).st_gid
    readyR, readyW = os.pipe()
    releaseR, releaseW = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(readyR)
        os.close(releaseW)
        _hold(path, count, uid, gid, readyW, releaseR)
    os.close(readyW)
    os.close(releaseR)

    def release() -> None:
        # Killed rather than told: a holder forked later holds a copy of
        # this one's pipe, so its end of file could come late.
        os.close(releaseW)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    case.addCleanup(release)

    def report() -> bytes:
        with os.fdopen(readyR, "rb") as ready:
            return ready.read()

    # The child's connections are served by this process's reactor, so
    # the report is awaited on a thread.
    text = (await deferToThread(report)).decode()
    if not text.endswith("\n") or text.startswith("error"):
        raise AssertionError(f"the connection holder failed: {text!r}")
    return [
        (int(kind), int(rc), int(rsn))
        for kind, rc, rsn in (line.split() for line in text.splitlines())
    ]


def _hold(
    path: str, count: int, uid: int, gid: int, readyW: int, releaseR: int
) -> None:
    status = 1
    try:
        os.setgroups([gid])
        os.setgid(gid)
        os.setuid(uid)
        held = []
        lines = []
        for _ in range(count):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(30)
            sock.connect(path)
            decoder = NmiDecoder()
            items: list[Any] = []
            while not items:
                data = sock.recv(4096)
                if not data:
                    break
                items = decoder.feed(data)
            first = items[0] if items else None
            if isinstance(first, NmiMessage):
                lines.append(
                    f"{int(first.messageType)} {int(first.returnCode)} "
                    f"{int(first.reasonCode)}\n"
                )
            else:
                lines.append("0 0 0\n")
            held.append(sock)
        os.write(readyW, "".join(lines).encode())
        os.close(readyW)
        os.read(releaseR, 1)  # killed when the test ends; EOF if it dies
        status = 0
    except BaseException as e:
        try:
            os.write(readyW, f"error {e!r}".encode())
        except OSError:
            pass
    finally:
        os._exit(status)
