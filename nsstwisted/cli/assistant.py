"""
C{nss-assistant}: the configuration assistant's command.

C{generate} writes every file of an installation from its description
into a folder (L{nsstwisted.assistant.deployment}), C{diff} shows what a
generation would change there, C{check} reads and validates a description.
More subcommands (C{import}, C{serve}) are added to L{SUBCOMMANDS}, each
with its options and the function that runs it.

Exit status, as C{nss-database}'s: 0 done; 1 the request was refused (the
description has errors, a file was edited since it was generated); 2 the
command line was wrong, or a file or folder cannot be read or written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn, TextIO

from twisted.python import usage

from nsstwisted.assistant import loader, validation
from nsstwisted.assistant.deployment import (
    Change,
    DeploymentError,
    DeploymentReport,
    deploy,
    diff,
)
from nsstwisted.assistant.generators import GenerationError
from nsstwisted.assistant.model import Description, DescriptionError, Finding
from nsstwisted.cli.assistantimport import ImportOptions, run_import
from nsstwisted.cli.assistantserve import ServeOptions, run_serve
from nsstwisted.cli.options import Finished, SubcommandOptions

__all__ = [
    "EXIT_ENVIRONMENT",
    "EXIT_OK",
    "EXIT_REFUSED",
    "PROGRAM",
    "SUBCOMMANDS",
    "Subcommand",
    "Tools",
    "main",
    "run",
]

PROGRAM = "nss-assistant"
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ENVIRONMENT = 2


class _HelpOptions(SubcommandOptions):
    program = PROGRAM
    synopsis = f"Usage: {PROGRAM}"


class _DescriptionOptions(_HelpOptions):
    """
    A subcommand that takes the description file as its argument.
    """

    def parseOptions(self, options: list[str] | None = None) -> None:
        """
        Take options after the description too (C{generate SITE --out DIR}),
        as the synopsis writes them: usage stops at the first argument.
        """
        words = sys.argv[1:] if options is None else list(options)
        valued = set()
        for long, short, *_ in getattr(self, "optParameters", []):
            valued.add(f"--{long}")
            if short:
                valued.add(f"-{short}")
        flags: list[str] = []
        arguments: list[str] = []
        while words:
            word = words.pop(0)
            if word == "--":
                arguments += words
                break
            if word.startswith("-") and word != "-":
                flags.append(word)
                if word in valued and words:
                    flags.append(words.pop(0))
            else:
                arguments.append(word)
        super().parseOptions([*flags, "--", *arguments])  # type: ignore[no-untyped-call]

    def parseArgs(self, *paths: str) -> None:
        if len(paths) != 1:
            raise usage.UsageError("give one DESCRIPTION file")
        self["description"] = paths[0]


class GenerateOptions(_DescriptionOptions):
    synopsis = f"Usage: {PROGRAM} generate DESCRIPTION --out DIR [--force]"
    longdesc = (
        "Write every file of the installation (nssd.conf, iked.conf, policy "
        "files, the RACF job and its secrets script, secret files, systemd "
        "units, a README per host) into DIR, a folder per server and image.  "
        "A file edited since it was generated is not overwritten without "
        "--force; secrets already in DIR are kept."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["out", "o", None, "The output folder."],
    ]
    optFlags: ClassVar[list[list[str | None]]] = [
        ["force", None, "Overwrite files edited since they were generated."],
    ]

    def postOptions(self) -> None:
        if not self["out"]:
            raise usage.UsageError("generate needs --out DIR")


class DiffOptions(_DescriptionOptions):
    synopsis = f"Usage: {PROGRAM} diff DESCRIPTION --out DIR"
    longdesc = (
        "Show what generate would change in DIR, as a unified diff per file.  "
        "Secrets are never shown."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["out", "o", None, "The output folder generated before."],
    ]

    def postOptions(self) -> None:
        if not self["out"]:
            raise usage.UsageError("diff needs --out DIR")


class CheckOptions(_DescriptionOptions):
    synopsis = f"Usage: {PROGRAM} check DESCRIPTION"
    longdesc = "Read and validate a description, and print its findings."


@dataclass(frozen=True)
class Tools:
    """
    How a subcommand reads and validates a description: the loader's and
    the validation's functions, looked up when called so that they are
    always the ones installed.
    """

    load: Callable[[str], Description] = field(
        default=lambda path: loader.load_description(path)
    )
    validate: Callable[[Description], list[Finding]] = field(
        default=lambda description: validation.validate(description)
    )


@dataclass(frozen=True)
class Subcommand:
    """
    One subcommand: its name, its options, a line for the help, and the
    function that runs it with the parsed options and returns the exit
    status.
    """

    name: str
    options: type[usage.Options]
    summary: str
    run: Callable[[usage.Options, Tools, TextIO, TextIO], int]


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.messageId.endswith("E")]


def _read(
    path: str, tools: Tools, out: TextIO, err: TextIO
) -> tuple[Description | None, int]:
    """
    The description at C{path}, validated, with its findings written; or
    C{None} and the exit status when it cannot be used.
    """
    try:
        description = tools.load(path)
    except DescriptionError as e:
        for finding in e.findings:
            err.write(f"{PROGRAM}: {finding}\n")
        err.write(
            f"{PROGRAM}: NSA0045E the description {path} cannot be read:"
            f" {len(e.findings)} findings; nothing was generated\n"
        )
        return None, EXIT_REFUSED
    except OSError as e:
        err.write(
            f"{PROGRAM}: NSA0046E cannot read the description {path}: {e.strerror}\n"
        )
        return None, EXIT_ENVIRONMENT
    findings = tools.validate(description)
    for finding in findings:
        (err if finding in _errors(findings) else out).write(f"{PROGRAM}: {finding}\n")
    errors = _errors(findings)
    if errors:
        err.write(
            f"{PROGRAM}: NSA0047E the description {path} has {len(errors)}"
            " errors: correct them; nothing was generated\n"
        )
        return None, EXIT_REFUSED
    return description, EXIT_OK


def _generated(report: DeploymentReport) -> list[str]:
    counts = ", ".join(
        f"{report.count(change)} {word}"
        for change, word in (
            (Change.CREATE, "created"),
            (Change.UPDATE, "updated"),
            (Change.UNCHANGED, "unchanged"),
            (Change.REMOVE, "removed"),
        )
    )
    lines = [f"NSA0070I files generated in {report.folder}: {counts}"]
    if report.newSecrets:
        lines.append(
            "NSA0071I new secrets were made for "
            + ", ".join(report.newSecrets)
            + "; they are in the folder's secret files (mode 0600), not shown"
        )
    for planned in report.plan.files:
        if planned.change is Change.ABANDON:
            lines.append(
                f"NSA0072I {planned.path}: no longer generated, edited: left in"
                " place and no longer managed"
            )
    return lines


def run_generate(options: usage.Options, tools: Tools, out: TextIO, err: TextIO) -> int:
    description, status = _read(options["description"], tools, out, err)
    if description is None:
        return status
    try:
        report = deploy(description, options["out"], force=options["force"])
    except (DeploymentError, GenerationError) as e:
        err.write(f"{PROGRAM}: {e}\n")
        return e.exitStatus if isinstance(e, DeploymentError) else EXIT_REFUSED
    for line in _generated(report):
        out.write(line + "\n")
    return EXIT_OK


def run_diff(options: usage.Options, tools: Tools, out: TextIO, err: TextIO) -> int:
    description, status = _read(options["description"], tools, out, err)
    if description is None:
        return status
    try:
        lines = diff(description, options["out"])
    except (DeploymentError, GenerationError) as e:
        err.write(f"{PROGRAM}: {e}\n")
        return e.exitStatus if isinstance(e, DeploymentError) else EXIT_REFUSED
    if not lines:
        lines = [f"NSA0075I no changes: {options['out']} is what generate writes"]
    for line in lines:
        out.write(line + "\n")
    return EXIT_OK


def run_check(options: usage.Options, tools: Tools, out: TextIO, err: TextIO) -> int:
    path = options["description"]
    description, status = _read(path, tools, out, err)
    if description is None:
        return status
    stacks = sum(len(image.stacks) for image in description.images)
    out.write(
        f"NSA0076I the description {path} can be generated:"
        f" {len(description.servers)} servers, {len(description.images)} images,"
        f" {stacks} stacks, {len(description.certificates)} certificates,"
        f" {len(description.operators)} operators\n"
    )
    return EXIT_OK


#: The subcommands, in the order the help lists them.  Another subcommand
#: is added by appending its L{Subcommand}.
SUBCOMMANDS: list[Subcommand] = [
    Subcommand(
        "generate", GenerateOptions, "Write every file into a folder.", run_generate
    ),
    Subcommand("diff", DiffOptions, "Show what generate would change.", run_diff),
    Subcommand("check", CheckOptions, "Read and validate a description.", run_check),
    Subcommand(
        "import",
        ImportOptions,
        "Read an installation made by hand into a description.",
        lambda options, tools, out, err: run_import(
            options,  # type: ignore[arg-type]
            out,
            err,
        ),
    ),
    Subcommand(
        "serve",
        ServeOptions,
        "Edit the description on a web page served on this host.",
        lambda options, tools, out, err: run_serve(
            options,  # type: ignore[arg-type]
            out,
            err,
        ),
    ),
]


class AssistantOptions(_HelpOptions):
    """
    The command line of C{nss-assistant}.
    """

    longdesc = (
        "Generate an installation's files (nssd.conf, iked.conf, policy files, "
        "the RACF job, secrets, units) from one description of its NSS servers, "
        "images and stacks."
    )

    def __init__(self) -> None:
        self.subCommands = [[c.name, None, c.options, c.summary] for c in SUBCOMMANDS]
        lines = [str(getattr(c.options, "synopsis", c.name)) for c in SUBCOMMANDS]
        self.synopsis = "\n".join(
            line.replace("Usage: ", "       ", 1) if i else line
            for i, line in enumerate(lines)
        )
        super().__init__()  # type: ignore[no-untyped-call]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError(
                " or ".join(c.name for c in SUBCOMMANDS) + " is needed"
            )


def run(
    argv: list[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    *,
    tools: Tools | None = None,
) -> int:
    """
    Run C{nss-assistant} and return its exit status.

    @param tools: how descriptions are read and validated; the loader's
        and the validation's own by default.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = AssistantOptions()
    try:
        options.parseOptions(  # type: ignore[no-untyped-call]
            sys.argv[1:] if argv is None else argv
        )
    except Finished as finished:
        out.write(finished.text)
        return EXIT_OK
    except usage.UsageError as e:
        err.write(f"{PROGRAM}: {e} (see {PROGRAM} --help)\n")
        return EXIT_ENVIRONMENT
    (command,) = [c for c in SUBCOMMANDS if c.name == options.subCommand]
    return command.run(options.subOptions, tools or Tools(), out, err)


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point.
    """
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
