"""
C{nss-modify}: display or refresh a running daemon's configuration.

The counterpart of the z/OS operator commands C{MODIFY NSSD,DISPLAY} and
C{MODIFY NSSD,REFRESH} (and the same for IKED): where z/OS has a console,
we have the daemon's network management socket.  The command sends one
request, prints the daemon's lines on standard output as they are (or,
with C{--json}, the configuration as the daemon's data), and reports every
problem as one line on standard error, naming the socket, so
that a script can tell "the daemon said no" (status 1) from "there was no
daemon to ask" (status 2).
"""

from __future__ import annotations

import getopt
import json
import sys
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn, TextIO

from twisted.internet import task
from twisted.internet.defer import TimeoutError
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.error import ConnectError
from twisted.python import usage

from nsstwisted.cli.options import CommandOptions, Finished
from nsstwisted.protocols.nmi import (
    NmiClientFactory,
    NmiClientProtocol,
    NmiConnectionLost,
    NmiError,
    NmiTerminated,
)
from nsstwisted.wire.counts import counted
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.nmi import (
    IKED_SOCKET,
    NSSD_SOCKET,
    NmiMessage,
    NmiMessageType,
    record_data,
)

__all__ = [
    "COMMANDS",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "SOCKETS",
    "DaemonOptions",
    "ModifyOptions",
    "keyword",
    "main",
    "run",
]

PROGRAM = "nss-modify"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 86400.0

SOCKETS = {"nssd": NSSD_SOCKET, "iked": IKED_SOCKET}
"""Where each daemon serves its management interface by default."""

COMMANDS = {
    "display": NmiMessageType.DAEMON_DISPLAY,
    "refresh": NmiMessageType.DAEMON_REFRESH,
}


def keyword(text: str) -> str:
    """
    The command that C{text} names: the whole word or its first three
    letters or more, in any case, as the z/OS C{ipsec} command takes its
    keyword values.

    @raise usage.UsageError: C{text} names none.
    """
    folded = text.lower()
    for name in COMMANDS:
        if len(folded) >= 3 and name.startswith(folded):
            return name
    raise usage.UsageError(
        f"unknown command {text!r}: display or refresh (or dis, ref)"
    )


class _HelpOptions(CommandOptions):
    program = PROGRAM
    opt_h = CommandOptions.opt_help


class DaemonOptions(_HelpOptions):
    """
    The part after the daemon's name: the socket and the command.
    """

    optFlags: ClassVar[list[list[Any]]] = [
        ["json", None, "With display: print the configuration as JSON data."],
    ]
    optParameters: ClassVar[list[list[Any]]] = [
        ["socket", "s", None, "The daemon's NMI socket (default: its usual path)."],
        [
            "timeout",
            "t",
            DEFAULT_TIMEOUT,
            "Seconds to wait for the daemon's greeting, and then for its answer.",
            float,
        ],
    ]

    def getSynopsis(self) -> str:
        return (
            f"Usage: {PROGRAM} nssd|iked [--socket PATH] [--timeout SECONDS] "
            "[--json] display|refresh"
        )

    def parseOptions(self, options: list[str] | None = None) -> None:
        """
        Take the options before or after the command, as GNU tools do
        (C{nss-modify nssd display --socket PATH}); C{--} still ends them.
        """
        given = sys.argv[1:] if options is None else options
        try:
            found, words = getopt.gnu_getopt(given, self.shortOpt, self.longOpt)
        except getopt.error as e:
            raise usage.UsageError(str(e)) from None
        reordered: list[str] = []
        for option, value in found:
            if option.startswith("--"):
                takesValue = f"{option[2:]}=" in self.longOpt
            else:
                takesValue = f"{option[1:]}:" in self.shortOpt
            reordered += [option, value] if takesValue else [option]
        super().parseOptions([*reordered, "--", *words])  # type: ignore[no-untyped-call]

    def parseArgs(self, command: str | None = None) -> None:
        if command is None:
            raise usage.UsageError("display or refresh is needed")
        self["command"] = keyword(command)

    def postOptions(self) -> None:
        if self["json"] and self["command"] != "display":
            raise usage.UsageError("--json goes with display only")
        if not 0 < self["timeout"] <= MAX_TIMEOUT:
            raise usage.UsageError(
                f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds"
            )


class ModifyOptions(_HelpOptions):
    """
    The command line of C{nss-modify}.
    """

    synopsis = (
        f"Usage: {PROGRAM} nssd|iked [--socket PATH] [--timeout SECONDS] "
        "[--json] display|refresh"
    )
    longdesc = (
        "Display the configuration a running nssd or iked uses, or make it "
        "reread its configuration file, like the z/OS operator commands "
        "MODIFY procname,DISPLAY and MODIFY procname,REFRESH.  The default "
        f"sockets are {NSSD_SOCKET} (nssd) and {IKED_SOCKET} (iked)."
    )
    subCommands: ClassVar[list[list[Any]]] = [
        ["nssd", None, DaemonOptions, "The NSS server."],
        ["iked", None, DaemonOptions, "The IKE daemon."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("nssd or iked is needed")


def _codes(error: NmiError) -> str:
    text = f"{error.returnCode.name} ({error.returnCode.value}) "
    text += f"{error.reasonCode.name} ({error.reasonCode.value})"
    if error.lines:
        text += ": " + "; ".join(error.lines)
    return text


async def run(reactor: Any, argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """
    Run the command and return its exit status instead of exiting, so that
    tests and other commands can call it.

    @param reactor: provides C{IReactorUNIX} and C{IReactorTime}.
    @param argv: the arguments, without the program name.
    @return: 0 when the daemon answered, 1 when it refused or failed the
        request (or went away during it), 2 for a usage error or when no
        daemon answered on the socket.
    """
    # Twisted's usage module carries no annotations.
    options = ModifyOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(argv)  # type: ignore[no-untyped-call]
    except Finished as finished:
        stdout.write(finished.text)
        return EXIT_OK
    except usage.UsageError as error:
        stderr.write(f"{PROGRAM}: {error} (see {PROGRAM} --help)\n")
        return EXIT_USAGE
    daemon = options.subCommand
    assert daemon is not None  # postOptions checked
    sub = options.subOptions
    path: str = sub["socket"] or SOCKETS[daemon]
    timeout: float = sub["timeout"]
    command: str = sub["command"]
    asJson = bool(sub["json"])

    def problem(text: str) -> None:
        stderr.write(f"{PROGRAM}: {text}\n")

    endpoint = UNIXClientEndpoint(reactor, path, timeout=max(1, round(timeout)))
    try:
        protocol: NmiClientProtocol = await endpoint.connect(NmiClientFactory())
    except ConnectError as error:
        reason = error.args[0] if error.args else str(error)
        problem(f"cannot connect to {daemon} at {path}: {reason}")
        return EXIT_USAGE
    try:
        reply = await _converse(
            reactor, protocol, daemon, path, command, asJson, timeout, problem
        )
        if isinstance(reply, int):
            return reply
        if asJson:
            return _print_data(daemon, reply, stdout, problem)
        for line in reply.lines():
            stdout.write(f"{line}\n")
        return EXIT_OK
    finally:
        protocol.close()
        # Wait for the close, so that nothing of ours outlives the call.
        await protocol.terminated


async def _converse(
    reactor: Any,
    protocol: NmiClientProtocol,
    daemon: str,
    path: str,
    command: str,
    asJson: bool,
    timeout: float,
    problem: Callable[[str], None],
) -> NmiMessage | int:
    """
    Wait for INIT, send the request and wait for its successful reply.

    @return: the reply, or the exit status after the problem was reported.
    """
    try:
        await protocol.ready.addTimeout(timeout, reactor)
    except TimeoutError:
        problem(
            f"{daemon} at {path} did not send INIT within {counted(timeout, 'second')}"
        )
        return EXIT_USAGE
    except NmiTerminated as error:
        problem(f"{daemon} at {path} ended the connection: {_codes(error)}")
        return EXIT_REFUSED
    except NmiConnectionLost as error:
        problem(f"{daemon} at {path} closed the connection before INIT: {error}")
        return EXIT_USAGE
    messageType = COMMANDS[command]
    if asJson:
        messageType = NmiMessageType.DAEMON_DISPLAY_DATA
    request = protocol.request(messageType)
    try:
        reply = await request.addTimeout(timeout, reactor)
    except TimeoutError:
        problem(
            f"{daemon} did not answer {command.upper()} within "
            f"{counted(timeout, 'second')}"
        )
        return EXIT_REFUSED
    except NmiTerminated as error:
        problem(f"{daemon} ended the connection: {_codes(error)}")
        return EXIT_REFUSED
    except NmiConnectionLost as error:
        problem(f"{daemon} closed the connection during {command.upper()}: {error}")
        return EXIT_REFUSED
    except NmiError as error:
        problem(f"{daemon} refused {command.upper()}: {_codes(error)}")
        return EXIT_REFUSED
    return reply


def _print_data(
    daemon: str, reply: NmiMessage, stdout: TextIO, problem: Callable[[str], None]
) -> int:
    """
    Print the daemon's configuration data as C{nss-ipsec --json} prints a
    report: one object, C{Daemon} and C{Function} first, then the
    daemon's C{Statements} as it sent them.
    """
    try:
        statements = record_data(reply.records[0])
    except FieldDecodeError as error:
        problem(
            f"{daemon} sent a {NmiMessageType.DAEMON_DISPLAY_DATA.ibmName} "
            f"reply that cannot be read: {error.detail}"
        )
        return EXIT_REFUSED
    shown = {"Daemon": daemon, "Function": "Display", "Statements": statements}
    stdout.write(json.dumps(shown, indent=2) + "\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point: run the command and exit with its status.
    """
    arguments = sys.argv[1:] if argv is None else argv

    async def command(reactor: Any) -> None:
        raise SystemExit(await run(reactor, arguments, sys.stdout, sys.stderr))

    task.react(command)
