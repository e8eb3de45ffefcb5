"""
C{nss-racf}: administer the security database with RACF commands.

A command comes from the arguments (quote it, since the shell treats
parentheses specially) or a whole job from C{--file}.  A job is checked
completely before anything runs: a syntax error anywhere runs nothing.  Then
each command runs atomically; one that fails is reported with its line and
changes nothing, and the job goes on, as a TSO batch job does.

Secrets (passwords, PassTicket keys) belong in a job, never in the arguments,
which every local user can read while the command runs.  A secret that
arrives in the arguments still works, so that existing scripts keep running,
but draws the warning NSR0304W; a secret keyword written in the arguments
without its value (C{ALTUSER U1 PASSWORD}) is asked for at the terminal, or
read from standard input when that is not one.  A job file holding a secret
that group or others may open draws NSR0305W.

With C{--audit-file PATH} (or C{NSS_AUDIT_FILE}), each command run is
recorded in nssd's audit trail: one JSON line saying who ran it (the OS
user), the command with its secrets masked, and its result.  It is written
by this process, appended to the file nssd appends to; a job whose audit
file cannot be opened runs nothing, and one whose record cannot be written
stops there.  C{--audit-syslog FACILITY} (or C{NSS_AUDIT_SYSLOG}) sends the
same records to the local syslog socket, with the same rules.

Exit status: 0 all commands ran; 1 a command was wrong (syntax, unknown
keyword, unknown user, bad certificate file, ...); 2 the command line was
wrong, or the database or stash file cannot be used.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from typing import Any, ClassVar, NoReturn, TextIO

from twisted.python import usage

from nsstwisted import __version__
from nsstwisted.cli.adminaudit import (
    AdministrationAudit,
    audit_parameters,
    check_audit_options,
    open_audit,
    recorded,
)
from nsstwisted.cli.options import CommandOptions, Finished
from nsstwisted.cli.racfjson import command_json
from nsstwisted.cli.secretinput import SecretUnavailable, ask_secret
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    CommandSyntaxError,
    SecurityEnvironmentError,
    SecurityError,
)
from nsstwisted.security.location import database_path, is_database_uri, stash_path
from nsstwisted.security.racf.commands import (
    RacfInterpreter,
    changes_database,
    check_command,
)
from nsstwisted.security.racf.lexer import (
    RacfCommand,
    parse_command,
    parse_job,
    render_command,
)
from nsstwisted.security.racf.secretkeywords import (
    SecretOperand,
    fill_secrets,
    find_secrets,
    mask_secrets,
)
from nsstwisted.security.tokenaccess import TokenAccess, TokenOpener

PROGRAM = "nss-racf"
EXIT_OK = 0
EXIT_COMMAND_FAILED = 1
EXIT_ENVIRONMENT = 2
MAX_JOB_SIZE = 4 * 1024 * 1024


class RacfOptions(CommandOptions):
    """
    The command line of C{nss-racf}.
    """

    program = PROGRAM

    synopsis = f"Usage: {PROGRAM} [options] [--json] 'RACF COMMAND' | --file JOB"
    longdesc = (
        "Run RACF commands (ADDUSER, RDEFINE, PERMIT, SETROPTS, RACDCERT, ...) "
        "against the security database.  The database is --database, else "
        "$NSS_SECURITY_DB, else /var/lib/nsstwisted/security.db; the stash "
        "file is --stash, else $NSS_STASH, else beside the database.  Keep "
        "secrets off the command line, where other users can read them: put "
        "them in a job (mode 600, or --file - for standard input), or write "
        "PASSWORD or SSIGNON(KEYMASKED) without a value to be asked for it."
    )
    optFlags: ClassVar[list[list[str | None]]] = [
        [
            "json",
            None,
            "Print what the commands report as one JSON array, an object "
            "per command that ran, instead of the report.",
        ],
    ]
    optParameters: ClassVar[list[list[str | None]]] = [
        ["database", "d", None, "The security database file."],
        ["stash", "s", None, "The stash file holding the master key."],
        ["file", "f", None, "Run the commands of this job file ('-': stdin)."],
        *audit_parameters("each command run"),
        [
            "pkcs11-module",
            None,
            None,
            "The PKCS#11 module of the tokens that GENCERT ... TOKEN(name), "
            "BIND, UNBIND and LISTTOKEN name (nssd.conf's Pkcs11Module).",
        ],
        [
            "pkcs11-pin-file",
            None,
            None,
            "The file (mode 0600) holding the tokens' user PIN "
            "(nssd.conf's Pkcs11PinFile).",
        ],
        [
            "pkcs11-token",
            None,
            None,
            "The token GENCERT's PCICC and ICSF make keys in "
            "(nssd.conf's Pkcs11TokenLabel).",
        ],
    ]

    opt_h = CommandOptions.opt_help

    def parseArgs(self, *words: str) -> None:
        self["command"] = " ".join(words)

    def postOptions(self) -> None:
        if bool(self["command"]) == bool(self["file"]):
            raise usage.UsageError("give either one command or --file JOB")
        check_audit_options(self)


def _read_job(path: str, stdin: TextIO) -> tuple[str, str, int]:
    """
    The job text, the folder relative certificate paths are taken from, and
    the permission bits of the job file (0 for standard input, which no one
    else can reread).
    """
    if path == "-":
        return stdin.read(MAX_JOB_SIZE + 1), ".", 0
    with open(path, encoding="utf-8", errors="strict") as job:
        mode = stat.S_IMODE(os.fstat(job.fileno()).st_mode)
        text = job.read(MAX_JOB_SIZE + 1)
        return text, os.path.dirname(os.path.abspath(path)), mode


def _secrets_in_open_job(
    path: str, mode: int, commands: list[RacfCommand]
) -> str | None:
    """
    The warning for a job file that holds secrets and that group or others
    may open, or L{None}: the job is where secrets are kept off the command
    line, so it must not hand them to the same readers in another way.
    """
    if not mode & 0o077:
        return None
    where = [
        f"{secret.keyword} on line {command.line}"
        for command in commands
        for secret in find_secrets(command)
        if secret.given
    ]
    if not where:
        return None
    return (
        f"NSR0305W the job file {path} holds secrets ({', '.join(where)}) and "
        f"has mode {mode:04o}, so group or others may read it; chmod 600 it"
    )


def _secret_in_argv(secret: SecretOperand, verb: str) -> str:
    """
    The warning for a secret given in the arguments: it names the keyword,
    never the value, and says what to do instead.
    """
    return (
        f"NSR0304W {verb} {secret.keyword} was given on the command line, where "
        "every user of this system can read it while the command runs; write "
        f"{secret.prompt} without a value to be asked for it, or put the command "
        "in a job file (--file JOB, or --file - for standard input)"
    )


def _ask_for_secrets(command: RacfCommand, stdin: TextIO) -> RacfCommand:
    """
    The command with every secret keyword written without a value given the
    value typed at the terminal (echo off) or read from standard input.

    @raise SecretUnavailable: a value was not given.
    """
    values = []
    for secret in find_secrets(command):
        if not secret.given:
            values.append(
                ask_secret(
                    f"{command.verb} {secret.keyword}: ",
                    f"value of {secret.keyword}",
                    stdin,
                )
            )
    return fill_secrets(command, values) if values else command


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

    @param stdin: the job of C{--file -}, or where a secret keyword written
        without its value is asked for: at the terminal when it is one, else
        its next line; C{sys.stdin} if L{None}.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = RacfOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(  # type: ignore[no-untyped-call]
            sys.argv[1:] if argv is None else argv
        )
    except Finished as finished:
        out.write(finished.text)
        return EXIT_OK
    except usage.UsageError as e:
        err.write(f"{PROGRAM}: {e}\n{options.synopsis}\n")
        return EXIT_ENVIRONMENT
    base = "."
    try:
        if options["file"]:
            text, base, mode = _read_job(options["file"], stdin or sys.stdin)
            if len(text) > MAX_JOB_SIZE:
                err.write(f"{PROGRAM}: the job is larger than {MAX_JOB_SIZE} bytes\n")
                return EXIT_COMMAND_FAILED
            commands = parse_job(text)
            warning = _secrets_in_open_job(options["file"], mode, commands)
            if warning is not None:
                err.write(f"{PROGRAM}: {warning}\n")
        else:
            command = parse_command(options["command"])
            for secret in find_secrets(command):
                if secret.given:
                    # Warned, and still run: scripts written before the
                    # warning must keep working.
                    err.write(f"{PROGRAM}: {_secret_in_argv(secret, command.verb)}\n")
            commands = [_ask_for_secrets(command, stdin or sys.stdin)]
    except (OSError, UnicodeDecodeError) as e:
        err.write(f"{PROGRAM}: cannot read job {options['file']}: {e}\n")
        return EXIT_ENVIRONMENT
    except SecretUnavailable as e:
        err.write(f"{PROGRAM}: {e}; nothing was run\n")
        return EXIT_ENVIRONMENT
    except SecurityError as e:
        # A syntax error, or a value typed for a secret that breaks a rule.
        err.write(f"{PROGRAM}: {e}\n")
        return EXIT_COMMAND_FAILED

    # A job with a syntax error anywhere runs nothing, and opens nothing.
    syntaxErrors = []
    for command in commands:
        try:
            check_command(command)
        except CommandSyntaxError as e:
            syntaxErrors.append(_describe(e, command))
    if syntaxErrors:
        for line in syntaxErrors:
            err.write(f"{PROGRAM}: {line}\n")
        err.write(f"{PROGRAM}: nothing was run\n")
        return EXIT_COMMAND_FAILED
    audit, mayRun = open_audit(options, PROGRAM, err)
    if not mayRun:
        return EXIT_ENVIRONMENT
    try:
        return _open_and_run(options, commands, base, out, err, audit)
    finally:
        if audit is not None:
            audit.close()


def _open_and_run(
    options: RacfOptions,
    commands: list[RacfCommand],
    base: str,
    out: TextIO,
    err: TextIO,
    audit: AdministrationAudit | None,
) -> int:
    try:
        path = database_path(options["database"])
        stash = stash_path(path, options["stash"])
        # A PostgreSQL database is made by its server's administrator; an
        # empty one is initialised, and is no mistyped path left behind.
        created = not is_database_uri(path) and not os.path.exists(path)
        if created and not any(changes_database(c) for c in commands):
            err.write(f"{PROGRAM}: {_not_created(path, commands)}\n")
            return EXIT_ENVIRONMENT
        database = SecurityDatabase.open(path, stash)
    except SecurityError as e:
        err.write(f"{PROGRAM}: {e}\n")
        return EXIT_ENVIRONMENT
    asJson = bool(options["json"])
    if created:
        # Said, so that a mistyped path that a defining command filled
        # is noticed at once; on standard error with --json, whose
        # standard output is the JSON alone.
        (err if asJson else out).write(
            f"NSR0341I security database {path} was created (mode 0600); its"
            f" stash file {stash} is made with the first key sealed\n"
        )
    tokens = TokenOpener(
        TokenAccess(
            module=options["pkcs11-module"],
            pinFile=options["pkcs11-pin-file"],
            token=options["pkcs11-token"],
            source="nss-racf --pkcs11-module, --pkcs11-pin-file and --pkcs11-token",
        )
    )
    try:
        interpreter = RacfInterpreter(database, base, tokens)
        if asJson:
            return _run_commands_json(interpreter, commands, out, err, audit)
        return _run_commands(interpreter, commands, out, err, audit)
    finally:
        tokens.close()
        database.close()


def _not_created(path: str, commands: list[RacfCommand]) -> str:
    """
    The error for listing commands on a database that does not exist: they
    would find it empty, and an empty database left behind at a mistyped
    path would look like a real one.
    """
    verbs = ", ".join(sorted({command.verb for command in commands}))
    return (
        f"NSR0340E security database {path} does not exist, and was not"
        f" created: listing commands ({verbs or 'none given'}) need an existing"
        " one; name it with --database or NSS_SECURITY_DB"
    )


def _run_commands(
    interpreter: RacfInterpreter,
    commands: list[RacfCommand],
    out: TextIO,
    err: TextIO,
    audit: AdministrationAudit | None = None,
) -> int:
    status = EXIT_OK
    for command in commands:
        failed: SecurityError | None = None
        try:
            lines = interpreter.execute(command)
        except SecurityError as e:
            failed = e
        if audit is not None and not _recorded(audit, command, failed, err):
            return EXIT_ENVIRONMENT
        if isinstance(failed, SecurityEnvironmentError):
            err.write(f"{PROGRAM}: {_describe(failed, command)}\n")
            return EXIT_ENVIRONMENT
        if failed is not None:
            err.write(f"{PROGRAM}: {_describe(failed, command)}\n")
            status = EXIT_COMMAND_FAILED
            continue
        for line in lines:
            out.write(line + "\n")
    return status


def _run_commands_json(
    interpreter: RacfInterpreter,
    commands: list[RacfCommand],
    out: TextIO,
    err: TextIO,
    audit: AdministrationAudit | None = None,
) -> int:
    """
    Run the commands as L{_run_commands} does, and print one JSON array
    with an object per command that ran, in the job's order: one document,
    which a program reads in one go whatever the job holds.  Problems stay
    one line each on standard error, as without C{--json}, and set the
    same exit status; a failed command has no object (C{Line} tells which
    ran).  The array is printed even when the job stops at a database
    that cannot be used, holding what ran before.
    """
    status = EXIT_OK
    shown: list[dict[str, Any]] = []
    for command in commands:
        failed: SecurityError | None = None
        try:
            output = interpreter.run(command)
        except SecurityError as e:
            failed = e
        if audit is not None and not _recorded(audit, command, failed, err):
            status = EXIT_ENVIRONMENT
            break
        if isinstance(failed, SecurityEnvironmentError):
            err.write(f"{PROGRAM}: {_describe(failed, command)}\n")
            status = EXIT_ENVIRONMENT
            break
        if failed is not None:
            err.write(f"{PROGRAM}: {_describe(failed, command)}\n")
            status = EXIT_COMMAND_FAILED
            continue
        shown.append(command_json(command, output))
    out.write(json.dumps(shown, indent=2) + "\n")
    return status


def _recorded(
    audit: AdministrationAudit,
    command: RacfCommand,
    failed: SecurityError | None,
    err: TextIO,
) -> bool:
    return recorded(
        audit,
        "racf",
        {"command": render_command(mask_secrets(command))},
        failed,
        err,
        f"{PROGRAM}: {command.verb} ran",
        "; the rest of the job was not run",
    )


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point.
    """
    sys.exit(run(argv))


__all__ = ["PROGRAM", "__version__", "main", "run"]

if __name__ == "__main__":
    main()
