"""
C{nss-racf}: administer the security database with RACF commands.

A command comes from the arguments (quote it, since the shell treats
parentheses specially) or a whole job from C{--file}.  A job is checked
completely before anything runs: a syntax error anywhere runs nothing.  Then
each command runs atomically; one that fails is reported with its line and
changes nothing, and the job goes on, as a TSO batch job does.

Exit status: 0 all commands ran; 1 a command was wrong (syntax, unknown
keyword, unknown user, bad certificate file, ...); 2 the command line was
wrong, or the database or stash file cannot be used.
"""

from __future__ import annotations

import os
import sys
from typing import ClassVar, NoReturn, TextIO

from twisted.python import usage

from nsstwisted import __version__
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    CommandSyntaxError,
    SecurityEnvironmentError,
    SecurityError,
)
from nsstwisted.security.location import database_path, stash_path
from nsstwisted.security.racf.commands import RacfInterpreter
from nsstwisted.security.racf.lexer import RacfCommand, parse_command, parse_job

PROGRAM = "nss-racf"
EXIT_OK = 0
EXIT_COMMAND_FAILED = 1
EXIT_ENVIRONMENT = 2
MAX_JOB_SIZE = 4 * 1024 * 1024


class RacfOptions(usage.Options):
    """
    The command line of C{nss-racf}.
    """

    synopsis = f"Usage: {PROGRAM} [options] 'RACF COMMAND' | --file JOB"
    longdesc = (
        "Run RACF commands (ADDUSER, RDEFINE, PERMIT, SETROPTS, RACDCERT, ...) "
        "against the security database.  The database is --database, else "
        "$NSS_SECURITY_DB, else /var/lib/nsstwisted/security.db; the stash "
        "file is --stash, else $NSS_STASH, else beside the database."
    )
    optParameters: ClassVar[list[list[str | None]]] = [
        ["database", "d", None, "The security database file."],
        ["stash", "s", None, "The stash file holding the master key."],
        ["file", "f", None, "Run the commands of this job file ('-': stdin)."],
    ]

    def parseArgs(self, *words: str) -> None:
        self["command"] = " ".join(words)

    def postOptions(self) -> None:
        if bool(self["command"]) == bool(self["file"]):
            raise usage.UsageError("give either one command or --file JOB")


def _read_job(path: str, stdin: TextIO) -> tuple[str, str]:
    """
    The job text and the folder relative certificate paths are taken from.
    """
    if path == "-":
        return stdin.read(MAX_JOB_SIZE + 1), "."
    with open(path, encoding="utf-8", errors="strict") as job:
        return job.read(MAX_JOB_SIZE + 1), os.path.dirname(os.path.abspath(path))


def _describe(error: SecurityError, command: RacfCommand) -> str:
    if isinstance(error, CommandSyntaxError):
        if error.line is None and command.line is not None:
            error.line = command.line
        if not error.command:
            error.command = command.verb
        return str(error)
    where = f"line {command.line}: " if command.line is not None else ""
    return f"{error.messageId} {where}{command.verb}: {error.text}"


def run(
    argv: list[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """
    Run C{nss-racf} and return its exit status.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = RacfOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(  # type: ignore[no-untyped-call]
            sys.argv[1:] if argv is None else argv
        )
    except usage.UsageError as e:
        err.write(f"{PROGRAM}: {e}\n{options.synopsis}\n")
        return EXIT_ENVIRONMENT
    base = "."
    try:
        if options["file"]:
            text, base = _read_job(options["file"], stdin or sys.stdin)
            if len(text) > MAX_JOB_SIZE:
                err.write(f"{PROGRAM}: the job is larger than {MAX_JOB_SIZE} bytes\n")
                return EXIT_COMMAND_FAILED
            commands = parse_job(text)
        else:
            commands = [parse_command(options["command"])]
    except (OSError, UnicodeDecodeError) as e:
        err.write(f"{PROGRAM}: cannot read job {options['file']}: {e}\n")
        return EXIT_ENVIRONMENT
    except CommandSyntaxError as e:
        err.write(f"{PROGRAM}: {e}\n")
        return EXIT_COMMAND_FAILED

    try:
        path = database_path(options["database"])
        database = SecurityDatabase.open(path, stash_path(path, options["stash"]))
    except SecurityError as e:
        err.write(f"{PROGRAM}: {e}\n")
        return EXIT_ENVIRONMENT
    try:
        return _run_commands(RacfInterpreter(database, base), commands, out, err)
    finally:
        database.close()


def _run_commands(
    interpreter: RacfInterpreter,
    commands: list[RacfCommand],
    out: TextIO,
    err: TextIO,
) -> int:
    syntaxErrors = []
    for command in commands:
        try:
            interpreter.check(command)
        except CommandSyntaxError as e:
            syntaxErrors.append(_describe(e, command))
    if syntaxErrors:
        for line in syntaxErrors:
            err.write(f"{PROGRAM}: {line}\n")
        err.write(f"{PROGRAM}: nothing was run\n")
        return EXIT_COMMAND_FAILED
    status = EXIT_OK
    for command in commands:
        try:
            lines = interpreter.execute(command)
        except SecurityEnvironmentError as e:
            err.write(f"{PROGRAM}: {_describe(e, command)}\n")
            return EXIT_ENVIRONMENT
        except SecurityError as e:
            err.write(f"{PROGRAM}: {_describe(e, command)}\n")
            status = EXIT_COMMAND_FAILED
            continue
        for line in lines:
            out.write(line + "\n")
    return status


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point.
    """
    sys.exit(run(argv))


__all__ = ["PROGRAM", "__version__", "main", "run"]
