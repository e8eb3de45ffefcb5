"""
C{nss-passticket}: generate a legacy RACF PassTicket.

For operators and scripts that need a ticket outside a running program, for
instance to test an application's PassTicket set-up or to sign a batch job on
to it.  The ticket goes to standard output alone so that a script can capture
it; every problem is one line on standard error, and the key is never echoed,
since the command line and terminal scroll-back are easier to read than the
key store.

The key lets whoever holds it make tickets for every user of the
application, so it is taken from an owner-only file (C{--key-file}), from
standard input (C{--key-file -}) or, without either, from a prompt at the
terminal with echo off.  C{--key HEX} still works, for the scripts written
before, but every local user can read it in the process list while the
command runs, so it draws the warning NSR0306W.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import ClassVar, NoReturn, TextIO

from twisted.python import usage

from nsstwisted.cli.options import CommandOptions, Finished
from nsstwisted.cli.secretinput import (
    SecretUnavailable,
    ask_secret,
    read_secret_file,
    read_secret_line,
)
from nsstwisted.security.errors import SecurityError
from nsstwisted.security.passticket import generate_passticket, parse_key

PROGRAM = "nss-passticket"

EXIT_OK = 0
EXIT_USAGE = 2


class PassTicketOptions(CommandOptions):
    """
    The command line of C{nss-passticket}.
    """

    program = PROGRAM

    synopsis = (
        f"Usage: {PROGRAM} --userid USERID --applname APPLNAME"
        " [--key-file FILE|-] [--time SECONDS]"
    )
    longdesc = (
        "Print the legacy (DES) RACF PassTicket that lets USERID sign on to "
        "APPLNAME, using the application's 16-hex-digit PassTicket key.  The "
        "key is read from --key-file (mode 600; '-' reads the first line of "
        "standard input) or, without it, asked for at the terminal.  --key "
        "HEX is accepted but warned about: other users can read it in the "
        "process list."
    )

    optParameters: ClassVar[list[list[str | None]]] = [
        ["userid", "u", None, "The user ID (1 to 8 characters)."],
        ["applname", "a", None, "The application name (1 to 8 characters)."],
        [
            "key-file",
            "f",
            None,
            "A file (mode 600) holding the PassTicket key, 16 hex digits, on "
            "its first line; '-' for standard input.",
        ],
        [
            "key",
            "k",
            None,
            "The PassTicket key: 16 hex digits.  Visible to every local user "
            "while the command runs: use --key-file or the prompt instead.",
        ],
        [
            "time",
            "t",
            None,
            "Generate for this many seconds since 1970-01-01 UTC (default: now).",
        ],
    ]

    opt_h = CommandOptions.opt_help

    def postOptions(self) -> None:
        for name in ("userid", "applname"):
            if self[name] is None:
                raise usage.UsageError(f"--{name} is required")
        if self["key"] is not None and self["key-file"] is not None:
            raise usage.UsageError("give --key-file or --key, not both")
        if self["time"] is not None:
            text = self["time"]
            if not (text.isascii() and text.isdigit()):
                raise usage.UsageError(
                    "--time must be a whole number of seconds since the epoch"
                )
            self["time"] = int(text)


def _key_text(options: PassTicketOptions, stdin: TextIO) -> str:
    """
    The key as the operator gave it: from the key file, standard input or
    the terminal, or (warned about by the caller) the command line.

    @raise SecretUnavailable: the file cannot be used, or no key was given
        and there is no terminal to ask at.
    """
    if options["key"] is not None:
        return str(options["key"])
    # Blanks around a key in a file or typed at a prompt are layout, not a
    # typing mistake inside the key, which parse_key still refuses.
    path = options["key-file"]
    if path == "-":
        return read_secret_line(stdin, "PassTicket key").strip()
    if path is not None:
        return read_secret_file(path, "PassTicket key file").strip()
    if not stdin.isatty():
        # Reading a pipe nobody asked to be read could swallow another
        # program's input: without a terminal, the key must be named.
        raise SecretUnavailable(
            "no PassTicket key: give --key-file FILE, or --key-file - to read "
            "it from standard input"
        )
    return ask_secret(
        f"PassTicket key of {options['applname'].upper()} (16 hex digits): ",
        "PassTicket key",
        stdin,
    ).strip()


def run(
    argv: list[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    *,
    clock: Callable[[], float] = time.time,
    stdin: TextIO | None = None,
) -> int:
    """
    Run the command and return its exit status instead of exiting, so that
    tests and other commands can call it.

    @param argv: the arguments, without the program name; C{sys.argv[1:]} if
        L{None}.
    @param stdout: where the ticket (or help) goes; C{sys.stdout} if L{None}.
    @param stderr: where problems go; C{sys.stderr} if L{None}.
    @param clock: the time source used when C{--time} is absent.
    @param stdin: where C{--key-file -} reads the key, and whose being a
        terminal allows a prompt; C{sys.stdin} if L{None}.
    @return: 0 when a ticket was printed, 2 for a usage error, an invalid
        value or a key that cannot be had.
    """
    if argv is None:
        argv = sys.argv[1:]
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    # Twisted's usage module carries no annotations.
    options = PassTicketOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(argv)  # type: ignore[no-untyped-call]
    except Finished as finished:
        out.write(finished.text)
        return EXIT_OK
    except usage.UsageError as error:
        err.write(f"{PROGRAM}: {error} (see {PROGRAM} --help)\n")
        return EXIT_USAGE
    if options["key"] is not None:
        # Warned, and still run: scripts written before the warning must
        # keep working.
        err.write(
            f"{PROGRAM}: NSR0306W --key was given on the command line, where "
            "every user of this system can read it while the command runs; use "
            "--key-file FILE (mode 600), --key-file - (standard input) or the "
            "prompt\n"
        )
    try:
        keyText = _key_text(options, sys.stdin if stdin is None else stdin)
    except SecretUnavailable as error:
        err.write(f"{PROGRAM}: {error}\n")
        return EXIT_USAGE
    when = options["time"] if options["time"] is not None else int(clock())
    try:
        ticket = generate_passticket(
            options["userid"], options["applname"], parse_key(keyText), when
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


if __name__ == "__main__":
    main()
