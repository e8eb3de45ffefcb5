"""
C{nss-assistant import}: read an installation made by hand (nssd.conf,
iked.conf, the security database) into a description file, so that the
assistant can generate its files from then on.

The reading is L{nsstwisted.assistant.importer}'s; this module parses the
command line, refuses to overwrite a description unless told to, and writes
the description with the import's notices as comments at its head, so that
what the description could not hold stays beside it.

Exit status: 0 the description was written; 1 the installation cannot be
read (a missing or malformed file) or the output exists; 2 the command line
was wrong, or the security database or the output file cannot be used.
"""

from __future__ import annotations

import os
import socket
from typing import Any, ClassVar, TextIO

from twisted.python import usage

from nsstwisted.assistant.importer import (
    ImportedInstallation,
    ImportRefused,
    import_installation,
)
from nsstwisted.assistant.tomlwriter import dump_description
from nsstwisted.cli.options import CommandOptions

__all__ = [
    "EXIT_ENVIRONMENT",
    "EXIT_OK",
    "EXIT_REFUSED",
    "ImportOptions",
    "run_import",
]

PROGRAM = "nss-assistant"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ENVIRONMENT = 2

# The refusals that are about this host rather than the files read.
_ENVIRONMENT = frozenset({"NSA0084E"})


class ImportOptions(CommandOptions):
    """
    C{nss-assistant import}.
    """

    program = PROGRAM
    synopsis = (
        f"Usage: {PROGRAM} import [--nssd-conf PATH ...] [--iked-conf PATH ...]"
        " [--database LOCATION] [--stash PATH] [--hostname NAME]"
        " --out DESCRIPTION.toml [--force]"
    )
    longdesc = (
        "Read an installation made by hand into a description: each "
        "--nssd-conf (a primary before its backup), each --iked-conf (one "
        "image each) and the security database (--database, else the first "
        "nssd.conf's SecurityDatabase, else nssd's usual search), which is "
        "only read.  What the "
        "description cannot hold (passwords, keys, settings it has no place "
        "for) is said on standard error and as comments at the head of the "
        "description.  An existing --out is kept unless --force is given."
    )
    optFlags: ClassVar[list[list[Any]]] = [
        ["force", "f", "Overwrite --out if it exists."],
    ]
    optParameters: ClassVar[list[list[Any]]] = [
        ["database", "d", None, "The security database (file or URI)."],
        ["stash", "s", None, "The stash file to check against the database."],
        [
            "hostname",
            None,
            None,
            "The host whose name gives a SystemName a file does not code"
            " (default: this host's).",
        ],
        ["out", "o", None, "The description file to write."],
    ]
    opt_h = CommandOptions.opt_help

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["nssd-conf"] = []
        self["iked-conf"] = []

    def getSynopsis(self) -> str:
        # A subcommand's own line, not usage's parent synopsis run into it.
        return self.synopsis

    def opt_nssd_conf(self, path: str) -> None:
        """
        An nssd.conf to import (repeat it for a primary and its backup).
        """
        self["nssd-conf"].append(path)

    def opt_iked_conf(self, path: str) -> None:
        """
        An iked.conf to import, one image each (repeat it).
        """
        self["iked-conf"].append(path)

    def postOptions(self) -> None:
        if not self["out"]:
            raise usage.UsageError("NSA0088E import needs --out DESCRIPTION.toml")
        if not self["nssd-conf"] and not self["iked-conf"]:
            raise usage.UsageError(
                "NSA0088E import needs an installation: --nssd-conf PATH,"
                " --iked-conf"
                " PATH or both"
            )


def _header(options: ImportOptions, result: ImportedInstallation) -> str:
    """
    The comments at the head of the description: where it came from, and
    every notice, one line each.
    """
    sources = [f"nssd.conf {p}" for p in options["nssd-conf"]]
    sources += [f"iked.conf {p}" for p in options["iked-conf"]]
    lines = [f"# Imported by {PROGRAM} import from {', '.join(sources)}."]
    lines += [f"# {notice}" for notice in result.notices]
    return "".join(_one_line(line) + "\n" for line in lines) + "\n"


def _one_line(text: str) -> str:
    # A path could hold a line end, which would end the comment early.
    return text.replace("\r", " ").replace("\n", " ")


def _write(path: str, text: str, force: bool) -> None:
    """
    Write the description; without C{force}, only if no file is there,
    checked as the file is created so that a file made meanwhile is kept.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    descriptor = os.open(path, flags, 0o644)
    with open(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)


def run_import(options: ImportOptions, stdout: TextIO, stderr: TextIO) -> int:
    """
    Run C{nss-assistant import} with parsed C{options}; return the exit
    status.
    """
    out: str = options["out"]
    if os.path.lexists(out) and not options["force"]:
        stderr.write(
            f"{PROGRAM}: NSA0086E {out} exists: the import writes no description"
            " over it; give --force to replace it, or another --out\n"
        )
        return EXIT_REFUSED
    try:
        result = import_installation(
            options["nssd-conf"],
            options["iked-conf"],
            database=options["database"],
            stash=options["stash"],
            hostname=options["hostname"] or socket.gethostname(),
            source=out,
        )
    except ImportRefused as e:
        stderr.write(f"{PROGRAM}: {_one_line(str(e))}\n")
        return EXIT_ENVIRONMENT if e.messageId in _ENVIRONMENT else EXIT_REFUSED
    try:
        text = dump_description(result.description)
    except NotImplementedError:
        stderr.write(
            f"{PROGRAM}: NSA0089E this installation of nsstwisted cannot write"
            " a description (its TOML writer is missing): nothing was written\n"
        )
        return EXIT_ENVIRONMENT
    for notice in result.notices:
        stderr.write(f"{PROGRAM}: {_one_line(str(notice))}\n")
    try:
        _write(out, _header(options, result) + text, options["force"])
    except FileExistsError:
        stderr.write(
            f"{PROGRAM}: NSA0086E {out} was made while the import ran: the"
            " import writes no description over it\n"
        )
        return EXIT_REFUSED
    except OSError as e:
        stderr.write(f"{PROGRAM}: NSA0087E cannot write {out}: {e.strerror or e}\n")
        return EXIT_ENVIRONMENT
    description = result.description
    stacks = sum(len(image.stacks) for image in description.images)
    stdout.write(
        f"NSA0099I the installation was imported into {out}:"
        f" {len(description.servers)} servers, {len(description.images)}"
        f" images, {stacks} stacks, {len(description.certificates)}"
        f" certificates, {len(description.operators)} operators;"
        f" {len(result.notices)} notices\n"
    )
    return EXIT_OK
