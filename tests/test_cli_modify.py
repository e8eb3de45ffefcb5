"""
Tests for C{nss-modify} (L{nsstwisted.cli.modify}) against a real AF_UNIX
socket served by L{NmiServerFactory} with an L{NssdManagement} handler.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor, task
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import UNIXClientEndpoint, UNIXServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nsstwisted.cli import modify
from nsstwisted.nssd.management import NssdManagement
from nsstwisted.protocols.nmi import (
    NmiClientFactory,
    NmiClientProtocol,
    NmiServerFactory,
    nmi_server_endpoint,
)
from nsstwisted.wire.nmi import (
    IKED_SOCKET,
    NSSD_SOCKET,
    SOCKET_MODE,
    NmiMessage,
    NmiMessageType,
)

CONFIGURATION = ["Port 4159", "SyslogLevel 0", "# KeyRing (not set)"]


class Silent:
    """A handler that never answers."""

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        return Deferred()


class ModifyTests(TestCase):
    """
    C{nss-modify} end to end over a socket in a temporary directory.
    """

    def setUp(self) -> None:
        folder = self.mktemp()
        os.makedirs(folder)
        self.path = os.path.join(folder, "nss")
        self.refreshes = 0

    def describe(self) -> list[str]:
        return list(CONFIGURATION)

    def refresh(self) -> Deferred[list[str]]:
        self.refreshes += 1
        return succeed([f"refresh complete: no changes ({self.refreshes})"])

    async def serve(
        self, handler: Any = None, **kwargs: Any
    ) -> tuple[NmiServerFactory, IListeningPort]:
        if handler is None:
            handler = NssdManagement(self.describe, self.refresh)
        factory = NmiServerFactory(handler, reactor, **kwargs)
        port: IListeningPort = await nmi_server_endpoint(reactor, self.path).listen(
            factory
        )

        async def stop() -> None:
            stopping = port.stopListening()
            if stopping is not None:
                await stopping
            await factory.terminateAll()

        self.addCleanup(lambda: Deferred.fromCoroutine(stop()))
        return factory, port

    async def modify(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await modify.run(reactor, list(argv), out, err)
        return status, out.getvalue(), err.getvalue()

    async def test_display(self) -> None:
        await self.serve()
        status, out, err = await self.modify("nssd", "--socket", self.path, "display")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, "".join(f"{line}\n" for line in CONFIGURATION))

    async def test_displayJson(self) -> None:
        """
        C{display --json} asks for the configuration as data and prints it
        as C{nss-ipsec --json} prints a report: one object, C{Daemon} and
        C{Function} first.
        """
        data = [{"Statement": "NssConfig", "Name": None, "Settings": {"Port": 4159}}]
        await self.serve(
            NssdManagement(self.describe, self.refresh, None, lambda: data)
        )
        status, out, err = await self.modify(
            "iked", "dis", "--json", "--socket", self.path
        )
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            json.loads(out),
            {"Daemon": "iked", "Function": "Display", "Statements": data},
        )

    async def test_displayJsonUnserved(self) -> None:
        """
        A daemon that does not serve the data refuses it: exit 1, the codes
        on standard error, nothing on standard output.
        """
        await self.serve()
        status, out, err = await self.modify(
            "nssd", "--socket", self.path, "--json", "display"
        )
        self.assertEqual((status, out), (1, ""))
        self.assertIn("nss-modify: nssd refused DISPLAY: EOPNOTSUPP", err)

    async def test_refresh(self) -> None:
        await self.serve()
        status, out, err = await self.modify("nssd", "-s", self.path, "refresh")
        self.assertEqual(
            (status, out, err), (0, "refresh complete: no changes (1)\n", "")
        )

    async def test_abbreviations(self) -> None:
        """
        Command keywords may be cut to three letters, in any case.
        """
        await self.serve()
        for word, expected in [("dis", CONFIGURATION[0]), ("DISPL", CONFIGURATION[0])]:
            status, out, _ = await self.modify("nssd", "--socket", self.path, word)
            self.assertEqual((status, out.splitlines()[0]), (0, expected))
        status, out, _ = await self.modify("nssd", "--socket", self.path, "Ref")
        self.assertEqual((status, out), (0, "refresh complete: no changes (1)\n"))

    async def test_optionsAfterCommand(self) -> None:
        """
        The options may follow the command, as an operator who recalls the
        command and adds a socket types them.
        """
        await self.serve()
        status, out, err = await self.modify("nssd", "display", "--socket", self.path)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, "".join(f"{line}\n" for line in CONFIGURATION))
        status, out, err = await self.modify(
            "iked", "ref", "-t", "5", f"--socket={self.path}"
        )
        self.assertEqual(
            (status, out, err), (0, "refresh complete: no changes (1)\n", "")
        )

    async def test_socketMode(self) -> None:
        """
        The socket file lets the owner and the group in, nobody else.
        """
        await self.serve()
        mode = os.stat(self.path).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), SOCKET_MODE)

    async def test_refusal(self) -> None:
        """
        A request the daemon fails exits 1 and names the codes.
        """
        management = NssdManagement(
            self.describe, lambda: fail(RuntimeError("the file is locked"))
        )
        await self.serve(management)
        status, out, err = await self.modify("nssd", "--socket", self.path, "refresh")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err,
            "nss-modify: nssd refused REFRESH: EIO (122) NSSRsnServerError (50): "
            "refresh failed: the file is locked\n",
        )

    async def test_tooManyConnections(self) -> None:
        """
        A daemon serving its maximum answers with TERM: the command exits 1
        with the TERM's codes.
        """
        # No reserve for root or this process's user, who run the test.
        await self.serve(maxConnections=1, privilegedUids=())
        holder: NmiClientProtocol = await UNIXClientEndpoint(
            reactor, self.path
        ).connect(NmiClientFactory())
        await holder.ready
        status, _, err = await self.modify("nssd", "--socket", self.path, "dis")
        holder.close()
        await holder.terminated
        self.assertEqual(status, 1)
        self.assertIn(f"nssd at {self.path} ended the connection: EBUSY (114)", err)
        self.assertIn("NSSRsnTooManyRequests (54)", err)

    async def test_missingSocket(self) -> None:
        status, out, err = await self.modify("iked", "--socket", self.path, "display")
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(
            err,
            f"nss-modify: cannot connect to iked at {self.path}: "
            "No such file or directory\n",
        )

    async def test_nothingListening(self) -> None:
        """
        A socket file that nobody serves (a daemon that died without
        cleaning up) is "cannot connect".
        """
        with open(self.path, "w"):
            pass
        status, _, err = await self.modify("nssd", "--socket", self.path, "display")
        self.assertEqual(status, 2)
        self.assertIn(f"cannot connect to nssd at {self.path}", err)

    async def test_noInit(self) -> None:
        """
        Something that accepts but never greets is not a daemon: exit 2.
        """
        port = await UNIXServerEndpoint(reactor, self.path).listen(
            Factory.forProtocol(Protocol)
        )
        self.addCleanup(port.stopListening)
        status, _, err = await self.modify(
            "nssd", "--socket", self.path, "--timeout", "0.2", "display"
        )
        self.assertEqual(status, 2)
        self.assertEqual(
            err,
            f"nss-modify: nssd at {self.path} did not send INIT within 0.2 seconds\n",
        )

    async def test_noReply(self) -> None:
        await self.serve(Silent())
        status, _, err = await self.modify(
            "iked", "-s", self.path, "-t", "0.2", "refresh"
        )
        self.assertEqual(status, 1)
        self.assertEqual(
            err, "nss-modify: iked did not answer REFRESH within 0.2 seconds\n"
        )
        # One second is not "1 seconds".
        status, _, err = await self.modify("iked", "-s", self.path, "-t", "1", "ref")
        self.assertEqual(
            (status, err),
            (1, "nss-modify: iked did not answer REFRESH within 1 second\n"),
        )

    async def test_daemonGoesAway(self) -> None:
        """
        A daemon that stops while it works on the request: exit 1.
        """
        factory, _ = await self.serve(Silent())

        def stopSoon() -> None:
            factory.terminateAll()

        reactor.callLater(0.1, stopSoon)
        status, _, err = await self.modify("nssd", "-s", self.path, "display")
        self.assertEqual(status, 1)
        self.assertIn("nssd ended the connection: EBUSY (114) NSSRsnShutdown (51)", err)


class UsageTests(SynchronousTestCase):
    """
    Usage errors exit 2 without touching the reactor.
    """

    def modify(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        coroutine = modify.run(object(), list(argv), out, err)
        status = self.successResultOf(Deferred.fromCoroutine(coroutine))
        return status, out.getvalue(), err.getvalue()

    def test_errors(self) -> None:
        for argv, text in [
            ((), "nssd or iked is needed"),
            (("ikes", "display"), "ikes"),
            (("nssd",), "display or refresh is needed"),
            (("nssd", "di"), "unknown command 'di'"),
            (("nssd", "show"), "unknown command 'show'"),
            (("nssd", "display", "now"), "Wrong number of arguments"),
            (("nssd", "--timeout", "0", "display"), "--timeout"),
            (("nssd", "--timeout", "nan", "display"), "--timeout"),
            (("nssd", "--timeout", "soon", "display"), "soon"),
            (("nssd", "--bogus", "display"), "bogus"),
            (("nssd", "display", "--timeout", "0"), "--timeout"),
            (("nssd", "display", "--socket"), "--socket requires argument"),
            (("nssd", "display", "--", "--socket", "/s"), "Wrong number of arguments"),
            (("nssd", "refresh", "--json"), "--json goes with display only"),
        ]:
            status, out, err = self.modify(*argv)
            self.assertEqual((status, out), (2, ""), argv)
            self.assertIn(text, err, argv)
            self.assertTrue(err.startswith("nss-modify: "), err)
            self.assertTrue(err.endswith("(see nss-modify --help)\n"), err)

    def test_help(self) -> None:
        for argv in (["--help"], ["nssd", "--help"], ["-h"]):
            status, out, err = self.modify(*argv)
            self.assertEqual((status, err), (0, ""))
            self.assertIn("Usage: nss-modify nssd|iked", out)

    def test_version(self) -> None:
        status, out, _ = self.modify("--version")
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith("nss-modify (nsstwisted) "))

    def test_keywords(self) -> None:
        self.assertEqual(modify.keyword("REFRESH"), "refresh")
        self.assertEqual(modify.keyword("disp"), "display")
        self.assertEqual(modify.COMMANDS["display"], NmiMessageType.DAEMON_DISPLAY)

    def test_defaultSockets(self) -> None:
        self.assertEqual(modify.SOCKETS, {"nssd": NSSD_SOCKET, "iked": IKED_SOCKET})
        self.assertEqual(NSSD_SOCKET, "/var/sock/nss")
        self.assertEqual(IKED_SOCKET, "/var/sock/ipsecmgmt")


class DefaultSocketTests(TestCase):
    """
    Without C{--socket}, the daemon's usual path is used.
    """

    async def test_defaultPathNamed(self) -> None:
        if os.path.exists(IKED_SOCKET):
            self.skipTest(f"{IKED_SOCKET} exists on this host")
        out, err = io.StringIO(), io.StringIO()
        status = await modify.run(reactor, ["iked", "display"], out, err)
        self.assertEqual(status, 2)
        self.assertIn(f"cannot connect to iked at {IKED_SOCKET}", err.getvalue())


class MainTests(SynchronousTestCase):
    """
    L{modify.main} runs L{modify.run} under C{task.react} and exits with
    its status.
    """

    def test_main(self) -> None:
        started: list[Callable[[Any], Any]] = []
        self.patch(task, "react", started.append)
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        modify.main(["--version"])
        (command,) = started
        done = Deferred.fromCoroutine(command(object()))
        exit = self.failureResultOf(done, SystemExit).value
        self.assertEqual(exit.code, 0)
        self.assertIn("nss-modify", out.getvalue())

    def test_mainUsesArgv(self) -> None:
        started: list[Callable[[Any], Any]] = []
        self.patch(task, "react", started.append)
        self.patch(sys, "argv", ["nss-modify"])
        self.patch(sys, "stderr", io.StringIO())
        modify.main()
        done = Deferred.fromCoroutine(started[0](object()))
        self.assertEqual(self.failureResultOf(done, SystemExit).value.code, 2)
