"""
Tests for L{nsstwisted.protocols.sdnotify}, and the readiness notices of the
real C{twistd -n nssd} and C{twistd -n iked} to a notification socket the
test binds, as systemd would for a unit of C{Type=notify}; and
C{systemd-analyze verify} of the units in C{contrib/systemd}.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReadDescriptor
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from nsstwisted.cli.modify import run as modify
from nsstwisted.protocols.sdnotify import (
    ReadinessNotifier,
    notice,
    notify_address,
)
from tests.daemons import (
    ROOT,
    DaemonProcess,
    build_security,
    ended_within,
    free_port,
    python,
    twistd_args,
    write_nssd_config,
)
from tests.test_iked_nssclient_connection import write_iked_config, write_secrets

Notice = dict[str, str]


@implementer(IReadDescriptor)
class NotifySocket:
    """
    A notification socket as systemd binds one: an C{AF_UNIX} datagram
    socket, at a path or an abstract name, read by the reactor.

    @ivar notices: every notice received, in order, as its fields.
    @ivar environ: what names it to a daemon (C{NOTIFY_SOCKET}).
    """

    def __init__(self, case: TestCase, *, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"nsstwisted-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.name = "@" + name
        else:
            folder = tempfile.mkdtemp(prefix="nss-notify-", dir="/tmp")
            case.addCleanup(shutil.rmtree, folder, True)
            self.name = os.path.join(folder, "notify")
            self.sock.bind(self.name)
        self.sock.setblocking(False)
        self.notices: list[Notice] = []
        self._waiters: list[tuple[str, int, Deferred[Notice]]] = []
        self.onNotice: Any = None
        reactor.addReader(self)

        def close() -> None:
            reactor.removeReader(self)
            self.sock.close()

        case.addCleanup(close)

    @property
    def environ(self) -> dict[str, str]:
        return {**clean_environ(), "NOTIFY_SOCKET": self.name}

    def fileno(self) -> int:
        return self.sock.fileno()

    def logPrefix(self) -> str:
        return "NotifySocket"

    def connectionLost(self, reason: Failure) -> None:
        pass

    def doRead(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            fields = dict(
                line.split("=", 1) for line in data.decode().splitlines() if line
            )
            self.notices.append(fields)
            if self.onNotice is not None:
                self.onNotice(fields)
            for waiter in list(self._waiters):
                key, after, waiting = waiter
                if key in fields and len(self.notices) > after:
                    self._waiters.remove(waiter)
                    waiting.callback(fields)

    def waitFor(self, key: str, after: int = 0) -> Deferred[Notice]:
        """
        The first notice with field C{key} among those after the first
        C{after} notices.
        """
        for fields in self.notices[after:]:
            if key in fields:
                waiting: Deferred[Notice] = Deferred()
                waiting.callback(fields)
                return waiting
        waiting = Deferred()
        self._waiters.append((key, after, waiting))
        return waiting.addTimeout(30, reactor)


def clean_environ() -> dict[str, str]:
    """
    The tests' environment without a notification socket of its own (were
    the tests run by systemd, the daemons would notify it).
    """
    return {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}


class NotifiedDaemon(DaemonProcess):
    """
    A daemon whose end tells the signal that ended it: twistd, stopped by
    SIGTERM, ends by SIGTERM again once it has stopped, which systemd
    counts as a clean stop.
    """

    signal: int | None = None
    pid: int

    def processEnded(self, reason: Failure) -> None:
        self.signal = getattr(reason.value, "signal", None)
        super().processEnded(reason)


def spawn(case: TestCase, args: list[str], environ: dict[str, str]) -> NotifiedDaemon:
    process = NotifiedDaemon()
    transport = reactor.spawnProcess(process, python(), args, env=environ, path=ROOT)
    process.pid = transport.pid

    def stop() -> Deferred[int]:
        if not process.ended.called:
            transport.signalProcess("KILL")
        return process.ended

    case.addCleanup(stop)
    return process


class ProtocolTests(SynchronousTestCase):
    """
    The datagram, the address, and what happens without a socket.
    """

    def receiver(self, abstract: bool) -> tuple[socket.socket, str]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        if abstract:
            name = f"nsstwisted-test-{uuid.uuid4().hex}"
            sock.bind("\0" + name)
            return sock, "@" + name
        folder = tempfile.mkdtemp(prefix="nss-notify-", dir="/tmp")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "notify")
        sock.bind(path)
        return sock, path

    def test_notice(self) -> None:
        self.assertEqual(
            notice([("READY", "1"), ("STATUS", "serving")]),
            b"READY=1\nSTATUS=serving\n",
        )

    def test_noForgedField(self) -> None:
        """
        A status with a newline (quoting a configuration file, say) would
        add a field of its own: refused.
        """
        self.assertRaises(ValueError, notice, [("STATUS", "x\nREADY=1")])
        self.assertRaises(ValueError, notice, [("A=B", "1")])

    def test_address(self) -> None:
        self.assertEqual(notify_address({"NOTIFY_SOCKET": "/run/x"}), "/run/x")
        self.assertEqual(notify_address({"NOTIFY_SOCKET": "@abc"}), "\0abc")
        self.assertIsNone(notify_address({}))
        self.assertIsNone(notify_address({"NOTIFY_SOCKET": ""}))
        self.assertIsNone(notify_address({"NOTIFY_SOCKET": "@"}))
        self.assertIsNone(notify_address({"NOTIFY_SOCKET": "vsock:2:1234"}))

    def check_sends(self, abstract: bool) -> None:
        sock, name = self.receiver(abstract)
        notifier = ReadinessNotifier({"NOTIFY_SOCKET": name})
        self.assertTrue(notifier.ready("serving on\nport 4159"))
        self.assertEqual(
            sock.recv(4096),
            b"READY=1\nSTATUS=serving on port 4159\nMAINPID=%d\n" % os.getpid(),
        )
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertTrue(notifier.reloading("refreshing"))
        fields = dict(line.split("=", 1) for line in sock.recv(4096).decode().split())
        self.assertEqual(fields["RELOADING"], "1")
        self.assertEqual(fields["STATUS"], "refreshing")
        self.assertGreaterEqual(int(fields["MONOTONIC_USEC"]), before)
        self.assertTrue(notifier.stopping("stopping"))
        self.assertEqual(sock.recv(4096), b"STOPPING=1\nSTATUS=stopping\n")

    def test_path(self) -> None:
        self.check_sends(abstract=False)

    def test_abstract(self) -> None:
        self.check_sends(abstract=True)

    def test_noSocket(self) -> None:
        """
        Without C{$NOTIFY_SOCKET} nothing is sent, and nothing fails.
        """
        self.assertFalse(ReadinessNotifier({}).ready("serving"))

    def test_socketGone(self) -> None:
        """
        A socket that is no longer there: the notice is dropped, the
        daemon told so, nothing raised.
        """
        sock, name = self.receiver(abstract=False)
        sock.close()
        os.remove(name)
        self.assertFalse(ReadinessNotifier({"NOTIFY_SOCKET": name}).ready("x"))

    def test_processEnvironment(self) -> None:
        """
        By default the environment is read at each notice, as sd_notify(3)
        reads it.
        """
        sock, name = self.receiver(abstract=True)
        notifier = ReadinessNotifier()
        self.patch(os, "environ", {"NOTIFY_SOCKET": name})
        self.assertTrue(notifier.stopping("stopping"))
        self.assertEqual(sock.recv(4096), b"STOPPING=1\nSTATUS=stopping\n")


class NssdNotifyTests(TestCase):
    """
    C{twistd -n nssd} under a fake service manager.
    """

    timeout = 90

    def setUp(self) -> None:
        self.setup = build_security(self)

    def run_nssd(self, abstract: bool) -> Deferred[None]:
        notify = NotifySocket(self, abstract=abstract)
        config = write_nssd_config(self.setup)
        nmiSocket = os.path.join(self.setup.sockets, "nssd", "nss")
        accepted: list[bool] = []

        def onNotice(fields: Notice) -> None:
            # At once, in the reactor turn that received READY=1: the port
            # accepts by then.
            if fields.get("READY") == "1" and not accepted:
                found = re.search(r"NSS port (\d+)", fields["STATUS"])
                try:
                    assert found is not None, fields
                    with socket.create_connection(
                        ("127.0.0.1", int(found.group(1))), timeout=5
                    ):
                        pass
                    with socket.socket(socket.AF_UNIX) as nmi:
                        nmi.connect(nmiSocket)
                except (OSError, AssertionError):
                    accepted.append(False)
                else:
                    accepted.append(True)

        notify.onNotice = onNotice
        process = spawn(self, twistd_args(config), notify.environ)

        async def go() -> None:
            ready = await notify.waitFor("READY")
            self.assertEqual(accepted, [True])
            self.assertEqual(ready["MAINPID"], str(process.pid))
            self.assertIn("started", ready["STATUS"])
            self.assertIn(b"DBG0002I", process.output)

            mark = len(notify.notices)
            os.kill(process.pid, signal.SIGHUP)
            reloading = await notify.waitFor("RELOADING", mark)
            self.assertIn("MONOTONIC_USEC", reloading)
            again = await notify.waitFor("READY", mark)
            self.assertLess(
                notify.notices.index(reloading), notify.notices.index(again)
            )
            self.assertIn("refresh complete", again["STATUS"])
            self.assertIn(b"DBG0011I configuration refreshed", process.output)

            # A rejected refresh: READY=1 all the same, nssd serving on.
            mark = len(notify.notices)
            with open(config, "a") as f:
                f.write("NssConfig { Bogus 1 }\n")
            os.kill(process.pid, signal.SIGHUP)
            await notify.waitFor("RELOADING", mark)
            rejected = await notify.waitFor("READY", mark)
            self.assertIn("refresh rejected", rejected["STATUS"])

            mark = len(notify.notices)
            os.kill(process.pid, signal.SIGTERM)
            await notify.waitFor("STOPPING", mark)
            await ended_within(process)
            self.assertEqual(process.signal, signal.SIGTERM)
            self.assertEqual(
                [n for n in notify.notices if "READY" in n or "STOPPING" in n][-1],
                notify.notices[-1],
            )
            self.assertIn("STOPPING", notify.notices[-1])

        return ensureDeferred(go())

    def test_pathSocket(self) -> Deferred[None]:
        """
        READY=1 once the NSS port and the management socket accept, with
        nssd's PID; RELOADING=1 then READY=1 for each SIGHUP, whether the
        refresh is taken or rejected; STOPPING=1 at SIGTERM.
        """
        return self.run_nssd(abstract=False)

    def test_abstractSocket(self) -> Deferred[None]:
        return self.run_nssd(abstract=True)

    def test_portInUse(self) -> Deferred[None]:
        """
        A start that fails once twistd runs (in startService) exits 1 and
        says nothing to the service manager.
        """
        notify = NotifySocket(self)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        config = write_nssd_config(self.setup, port=holder.getsockname()[1])
        process = spawn(self, twistd_args(config), notify.environ)

        async def go() -> None:
            self.assertEqual(await ended_within(process), 1, process.output)
            self.assertIn(b"DBG0010I NSS server cannot start", process.output)
            await deferLater(reactor, 0.2, lambda: None)
            self.assertEqual(notify.notices, [])

        return ensureDeferred(go())

    def test_badConfiguration(self) -> Deferred[None]:
        """
        A configuration that does not parse ends the start before the
        service is made: status 1, nothing said.
        """
        notify = NotifySocket(self)
        config = write_nssd_config(self.setup, "  Bogus 1")
        process = spawn(self, twistd_args(config), notify.environ)

        async def go() -> None:
            self.assertEqual(await ended_within(process), 1, process.output)
            self.assertIn(b"DBG0010I", process.output)
            await deferLater(reactor, 0.2, lambda: None)
            self.assertEqual(notify.notices, [])

        return ensureDeferred(go())

    def test_noNotifySocket(self) -> Deferred[None]:
        """
        Without C{$NOTIFY_SOCKET}, start, refresh and stop are as before.
        """
        config = write_nssd_config(self.setup)
        process = spawn(self, twistd_args(config), clean_environ())

        async def go() -> None:
            await process.waitFor(rb"DBG0002I")
            # Answered once the reactor runs, by when SIGHUP is nssd's (a
            # service manager waits for READY=1 instead).
            out, err = io.StringIO(), io.StringIO()
            nmiSocket = os.path.join(self.setup.sockets, "nssd", "nss")
            status = await modify(
                reactor, ["nssd", "--socket", nmiSocket, "display"], out, err
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            mark = len(process.output)
            os.kill(process.pid, signal.SIGHUP)
            await process.waitFor(rb"DBG0011I configuration refreshed", mark)
            os.kill(process.pid, signal.SIGTERM)
            await ended_within(process)
            self.assertEqual(process.signal, signal.SIGTERM, process.output)
            self.assertNotIn(b"Traceback", process.output)

        return ensureDeferred(go())


class IkedNotifyTests(TestCase):
    """
    C{twistd -n iked} under a fake service manager; its NSS server is not
    running, which does not keep iked from serving.
    """

    timeout = 90

    def setUp(self) -> None:
        self.setup = build_security(self)
        write_secrets(self.setup)

    def test_lifecycle(self) -> Deferred[None]:
        """
        READY=1 once the management socket accepts; RELOADING=1 then
        READY=1 for SIGHUP; STOPPING=1 at SIGTERM.
        """
        notify = NotifySocket(self, abstract=True)
        config = write_iked_config(self.setup, free_port(), None)
        nmiSocket = f"{self.setup.sockets}/iked/ipsecmgmt"
        accepted: list[bool] = []

        def onNotice(fields: Notice) -> None:
            if fields.get("READY") == "1" and not accepted:
                with socket.socket(socket.AF_UNIX) as nmi:
                    try:
                        nmi.connect(nmiSocket)
                    except OSError:
                        accepted.append(False)
                    else:
                        accepted.append(True)

        notify.onNotice = onNotice
        process = spawn(self, twistd_args(config, "iked"), notify.environ)

        async def go() -> None:
            ready = await notify.waitFor("READY")
            self.assertEqual(accepted, [True])
            self.assertEqual(ready["MAINPID"], str(process.pid))
            self.assertIn("3 stacks", ready["STATUS"])

            mark = len(notify.notices)
            os.kill(process.pid, signal.SIGHUP)
            reloading = await notify.waitFor("RELOADING", mark)
            again = await notify.waitFor("READY", mark)
            self.assertLess(
                notify.notices.index(reloading), notify.notices.index(again)
            )
            self.assertIn("refresh complete", again["STATUS"])
            self.assertIn(b"EZD1103I configuration refreshed", process.output)

            mark = len(notify.notices)
            os.kill(process.pid, signal.SIGTERM)
            await notify.waitFor("STOPPING", mark)
            await ended_within(process)
            self.assertEqual(process.signal, signal.SIGTERM, process.output)

        return ensureDeferred(go())

    def test_failedStart(self) -> Deferred[None]:
        """
        iked whose management socket's directory cannot be made exits 1
        and says nothing to the service manager.
        """
        notify = NotifySocket(self)
        blocker = os.path.join(self.setup.sockets, "not-a-directory")
        with open(blocker, "w") as f:
            f.write("a file where the socket directory should be\n")
        config = write_iked_config(self.setup, free_port(), None)
        with open(config) as f:
            text = f.read().replace(f"{self.setup.sockets}/iked/", f"{blocker}/iked/")
        with open(config, "w") as f:
            f.write(text)
        process = spawn(self, twistd_args(config, "iked"), notify.environ)

        async def go() -> None:
            self.assertEqual(await ended_within(process), 1, process.output)
            self.assertIn(b"EZD1104I IKE daemon cannot start", process.output)
            await deferLater(reactor, 0.2, lambda: None)
            self.assertEqual(notify.notices, [])

        return ensureDeferred(go())


class UnitFileTests(SynchronousTestCase):
    """
    The units in C{contrib/systemd}, as systemd reads them.
    """

    def test_verify(self) -> None:
        """
        C{systemd-analyze verify} finds nothing to say of either unit, with
        this environment's twistd for C{/usr/bin/twistd} (verify checks that
        the command exists).
        """
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        twistd = os.path.join(os.path.dirname(python()), "twistd")
        if not os.access(twistd, os.X_OK):
            self.skipTest(f"no twistd beside {python()}")
        folder = self.mktemp()
        os.makedirs(folder)
        units = []
        for name in ("nssd.service", "iked.service"):
            with open(os.path.join(ROOT, "contrib", "systemd", name)) as f:
                text = f.read()
            self.assertIn("ExecStart=/usr/bin/twistd ", text)
            units.append(os.path.join(folder, name))
            with open(units[-1], "w") as f:
                f.write(text.replace("/usr/bin/twistd", twistd))
        result = subprocess.run(
            [analyze, "verify", "--man=no", *units],
            capture_output=True,
            text=True,
            check=False,
        )
        output = result.stdout + result.stderr
        if "Failed to initialize manager" in output:
            self.skipTest(f"systemd-analyze cannot run here: {output.strip()}")
        self.assertEqual((result.returncode, output), (0, ""))

    def test_choices(self) -> None:
        """
        What the operations guide promises of both units.
        """
        for name in ("nssd.service", "iked.service"):
            with open(os.path.join(ROOT, "contrib", "systemd", name)) as f:
                text = f.read()
            for line in (
                "Type=notify",
                "NotifyAccess=main",
                "ExecReload=/bin/kill -HUP $MAINPID",
                "Restart=on-failure",
                "RestartPreventExitStatus=1",
                "NoNewPrivileges=yes",
                "ProtectSystem=strict",
                "ProtectHome=yes",
                "PrivateTmp=yes",
            ):
                self.assertIn(line + "\n", text, name)
            self.assertRegex(text, r"\nExecStart=\S*twistd -n --pidfile= ")
