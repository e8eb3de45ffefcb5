"""
C{nss-passticket}: generate a legacy RACF PassTicket.

For operators and scripts that need a ticket outside a running program, for
instance to test an application's PassTicket set-up or to sign a batch job on
to it.  The ticket goes to standard output alone so that a script can capture
it; every problem is one line on standard error, and the key is never echoed,
since the command line and terminal scroll-back are easier to read than the
key store.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import ClassVar, NoReturn, TextIO

from twisted.python import usage

from nsstwisted import __version__
from nsstwisted.security.errors import SecurityError
from nsstwisted.security.passticket import generate_passticket, parse_key

PROGRAM = "nss-passticket"

EXIT_OK = 0
EXIT_USAGE = 2


class _Finished(Exception):
    """
    Raised instead of L{usage.Options}' own C{sys.exit} for C{--help} and
    C{--version}, so that L{run} stays callable from tests and writes the
    text where it was told to.

    @ivar text: what to print on standard output.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class PassTicketOptions(usage.Options):
    """
    The command line of C{nss-passticket}.
    """

    synopsis = (
        f"Usage: {PROGRAM} --userid USERID --applname APPLNAME --key HEX"
        " [--time SECONDS]"
    )
    longdesc = (
        "Print the legacy (DES) RACF PassTicket that lets USERID sign on to "
        "APPLNAME, using the application's 16-hex-digit PassTicket key."
    )

    optParameters: ClassVar[list[list[str | None]]] = [
        ["userid", "u", None, "The user ID (1 to 8 characters)."],
        ["applname", "a", None, "The application name (1 to 8 characters)."],
        ["key", "k", None, "The PassTicket key: 16 hex digits."],
        [
            "time",
            "t",
            None,
            "Generate for this many seconds since 1970-01-01 UTC (default: now).",
        ],
    ]

    def opt_help(self) -> None:
        """
        Display this help and exit.
        """
        raise _Finished(str(self))

    opt_h = opt_help

    def opt_version(self) -> None:
        """
        Display the version and exit.
        """
        raise _Finished(f"{PROGRAM} (nsstwisted) {__version__}\n")

    def postOptions(self) -> None:
        for name in ("userid", "applname", "key"):
            if self[name] is None:
                raise usage.UsageError(f"--{name} is required")
        if self["time"] is not None:
            text = self["time"]
            if not (text.isascii() and text.isdigit()):
                raise usage.UsageError(
                    "--time must be a whole number of seconds since the epoch"
                )
            self["time"] = int(text)


def run(
    argv: list[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> int:
    """
    Run the command and return its exit status instead of exiting, so that
    tests and other commands can call it.

    @param argv: the arguments, without the program name; C{sys.argv[1:]} if
        L{None}.
    @param stdout: where the ticket (or help) goes; C{sys.stdout} if L{None}.
    @param stderr: where problems go; C{sys.stderr} if L{None}.
    @param clock: the time source used when C{--time} is absent.
    @return: 0 when a ticket was printed, 2 for a usage error or an invalid
        value.
    """
    if argv is None:
        argv = sys.argv[1:]
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    # Twisted's usage module carries no annotations.
    options = PassTicketOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(argv)  # type: ignore[no-untyped-call]
    except _Finished as finished:
        out.write(finished.text)
        return EXIT_OK
    except usage.UsageError as error:
        err.write(f"{PROGRAM}: {error} (see {PROGRAM} --help)\n")
        return EXIT_USAGE
    when = options["time"] if options["time"] is not None else int(clock())
    try:
        ticket = generate_passticket(
            options["userid"], options["applname"], parse_key(options["key"]), when
        )
    except SecurityError as error:
        # The library's messages name the problem without repeating the key.
        err.write(f"{PROGRAM}: {error}\n")
        return EXIT_USAGE
    out.write(f"{ticket}\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point: run the command and exit with its status.
    """
    sys.exit(run(argv))
