"""
C{nss-assistant serve DESCRIPTION}: edit a description on a web page.

The page (L{nsstwisted.assistant.web}) listens on the loopback interface
unless C{--interface} says otherwise, on C{--port} or a free port, and
prints the address to open, with the access token in it (NSA0110I).  It
runs until interrupted (Ctrl-C, SIGTERM).  A description file that does not
exist yet starts an empty description, which the page's first save makes.

Exit status: 0 stopped; 2 the command line was wrong, the description
cannot be read (NSA0106E), or the port cannot be listened on (NSA0109E).
"""

from __future__ import annotations

import getopt
import sys
from typing import Any, ClassVar, NoReturn, TextIO

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorCore
from twisted.python import usage
from twisted.python.failure import Failure

from nsstwisted.assistant.model import DescriptionError
from nsstwisted.assistant.web import Draft, read_draft, serve
from nsstwisted.assistant.web.site import Serving, is_loopback
from nsstwisted.cli.options import CommandOptions, Finished

__all__ = ["EXIT_ENVIRONMENT", "EXIT_OK", "ServeOptions", "main", "run_serve"]

PROGRAM = "nss-assistant"
EXIT_OK = 0
EXIT_ENVIRONMENT = 2


class ServeOptions(CommandOptions):
    """
    The command line of C{nss-assistant serve}.
    """

    program = PROGRAM
    synopsis = f"Usage: {PROGRAM} serve DESCRIPTION [--port N] [--interface ADDRESS]"
    longdesc = (
        "Edit the description DESCRIPTION (a TOML file; a new one if it does "
        "not exist) on a web page: the images and stacks as a tree, their "
        "settings with what each inherits, the findings next to their "
        "fields, a preview of every generated file and the whole set to "
        "download.  Open the address printed at start (it holds the access "
        "token) in a browser on this host; stop with Ctrl-C."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["port", "p", 0, "The TCP port; 0 (the default) picks a free one.", int],
        [
            "interface",
            "i",
            "127.0.0.1",
            "The address to listen on; anything but loopback lets other hosts "
            "try the page's token.",
        ],
    ]
    opt_h = CommandOptions.opt_help

    def getSynopsis(self) -> str:
        # A subcommand's own line, not usage's parent synopsis run into it.
        return self.synopsis

    def parseOptions(self, options: list[str] | None = None) -> None:
        """
        Take the options after the description too (C{serve DESCRIPTION
        --port N}), as GNU commands do; usage's getopt stops at the first
        argument.
        """
        argv = sys.argv[1:] if options is None else options
        try:
            found, arguments = getopt.gnu_getopt(argv, self.shortOpt, self.longOpt)
        except getopt.GetoptError as e:
            raise usage.UsageError(str(e)) from None
        ordered = []
        for option, value in found:
            valued = (
                f"{option[2:]}=" in self.longOpt
                if option.startswith("--")
                else f"{option[1:]}:" in self.shortOpt
            )
            ordered += [option, value] if valued else [option]
        super().parseOptions([*ordered, "--", *arguments])  # type: ignore[no-untyped-call]

    def parseArgs(self, description: str) -> None:  # type: ignore[override]
        self["description"] = description

    def postOptions(self) -> None:
        if not 0 <= self["port"] <= 65535:
            raise usage.UsageError(f"--port {self['port']} is not a TCP port")


def _draft(path: str, stderr: TextIO) -> tuple[Draft | None, bool]:
    try:
        return read_draft(path)
    except DescriptionError as e:
        stderr.write(f"NSA0106E the description {path} cannot be read:\n")
        for finding in e.findings:
            stderr.write(f"  {finding}\n")
    except (OSError, UnicodeDecodeError) as e:
        stderr.write(f"NSA0106E the description {path} cannot be read: {e}\n")
    return None, False


def run_serve(
    options: ServeOptions,
    stdout: TextIO,
    stderr: TextIO,
    reactor: IReactorCore | None = None,
) -> int:
    """
    Serve the page of the description C{options} names until the reactor
    is stopped (Ctrl-C, SIGTERM); the exit status.
    """
    path: str = options["description"]
    interface: str = options["interface"]
    draft, existed = _draft(path, stderr)
    if draft is None:
        return EXIT_ENVIRONMENT
    if reactor is None:
        from twisted.internet import reactor as installed

        reactor = installed
    assert reactor is not None
    status = [EXIT_OK]

    def listening(serving: Serving) -> None:
        if not existed:
            stdout.write(
                f"NSA0112I the description {path} does not exist yet: the page "
                "starts an empty one, which its first save writes\n"
            )
        if not is_loopback(interface):
            stderr.write(
                f"NSA0111W the page listens on {interface}, not only on this "
                "host's loopback: other hosts can reach it, and only the token "
                "keeps them out, over plain HTTP\n"
            )
        stdout.write(
            f"NSA0110I nss-assistant serves {path} at {serving.url} ; open it in "
            "a browser on this host, and stop with Ctrl-C\n"
        )
        stdout.flush()

    def failed(failure: Failure) -> None:
        reason = failure.value
        if isinstance(reason, CannotListenError):
            reason = reason.socketError
        stderr.write(
            f"NSA0109E nss-assistant cannot listen on {interface} port "
            f"{options['port']}: {reason}\n"
        )
        status[0] = EXIT_ENVIRONMENT
        reactor.stop()

    def start() -> None:
        d = serve(reactor, draft, interface, options["port"])
        d.addCallbacks(listening, failed)

    reactor.callWhenRunning(start)
    reactor.run()
    return status[0]


def main(argv: list[str] | None = None) -> NoReturn:
    """
    Run C{serve} on its own (C{python -m nsstwisted.cli.assistantserve
    DESCRIPTION}), as C{nss-assistant serve} does.
    """
    options = ServeOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except Finished as finished:
        sys.stdout.write(finished.text)
        sys.exit(EXIT_OK)
    except usage.UsageError as e:
        sys.stderr.write(f"{PROGRAM} serve: {e} (see {PROGRAM} serve --help)\n")
        sys.exit(EXIT_ENVIRONMENT)
    sys.exit(run_serve(options, sys.stdout, sys.stderr))


if __name__ == "__main__":
    main()
