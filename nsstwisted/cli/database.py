"""
C{nss-database}: move a security database between SQLite and PostgreSQL,
rotate its master key, say which schema version a database has, and back
up an SQLite one.

C{copy} is how a single host's SQLite file becomes the PostgreSQL database a
primary and a backup nssd share, and how a PostgreSQL database is taken into
a file to keep; the copying itself is L{nsstwisted.security.copying}'s.
C{backup} takes an online, consistent copy of an SQLite database while
nssd serves from it, without opening it for use or touching its stash
(L{nsstwisted.security.backup}'s).  It is here rather than a RACF command
of C{nss-racf}: RACF backs up its database with utilities (IRRUT200,
IRRUT400), not with a TSO command, and C{nss-racf} opens the database for
use and runs each command inside a transaction of its own, which a page copy
of the whole file has no use for.

C{rekey} reseals every secret under a new master key in a new stash file
(L{nsstwisted.security.rekeying}): it is here rather than in the RACF
command language because the master key is not RACF's (on z/OS it is ICSF's,
changed outside RACF), and because it acts on the database as a whole, as
C{copy} does.

C{version} reads a database's schema version without opening it for use,
which would upgrade an older one.

Exit status, as C{nss-racf}'s: 0 done; 1 the request was wrong (the target
is not empty, NSR0350E; a backup's target exists or cannot be one, or the
database is on PostgreSQL); 2 the command line was wrong, or a database or
the stash cannot be used.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar, NoReturn, TextIO

from twisted.python import usage

from nsstwisted.cli.adminaudit import (
    AdministrationAudit,
    audit_parameters,
    check_audit_options,
    open_audit,
    recorded,
)
from nsstwisted.cli.options import Finished, SubcommandOptions
from nsstwisted.security.backup import BackupReport, backup_database, stashes_beside
from nsstwisted.security.copying import CopyReport, copy_database
from nsstwisted.security.errors import SecurityError
from nsstwisted.security.location import (
    database_path,
    is_database_uri,
    redact_uri,
    stash_path,
)
from nsstwisted.security.rekeying import RekeyReport, rekey_database
from nsstwisted.security.schemaversion import StoredVersion, stored_version

__all__ = ["EXIT_ENVIRONMENT", "EXIT_OK", "EXIT_REFUSED", "PROGRAM", "main", "run"]

PROGRAM = "nss-database"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ENVIRONMENT = 2


class _HelpOptions(SubcommandOptions):
    program = PROGRAM
    synopsis = f"Usage: {PROGRAM}"


class CopyOptions(_HelpOptions):
    """
    C{nss-database copy}.
    """

    synopsis = f"Usage: {PROGRAM} copy --from SOURCE --to TARGET [--stash PATH]"
    longdesc = (
        "Copy a whole security database to a new SQLite file or an empty "
        "PostgreSQL database (postgresql://... URI), in either direction.  The "
        "source is read in one transaction and the target written in one, so "
        "the target ends with the complete copy or without any of it; a target "
        "that holds rows is refused.  Sealed keys are copied as they are: the "
        "source's stash (--stash, else $NSS_STASH, else beside a source file) "
        "is checked against it first, and serves the copy."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["from", "f", None, "The security database to copy (file or URI)."],
        ["to", "t", None, "Where to copy it: a new file, or an empty database."],
        ["stash", "s", None, "The stash file of the source's master key."],
        *audit_parameters("the copy"),
    ]

    def postOptions(self) -> None:
        if not self["from"] or not self["to"]:
            raise usage.UsageError("copy needs --from SOURCE and --to TARGET")
        check_audit_options(self)


class BackupOptions(_HelpOptions):
    """
    C{nss-database backup}.
    """

    synopsis = f"Usage: {PROGRAM} backup --to PATH [--replace] [--database LOCATION]"
    longdesc = (
        "Take an online, consistent copy of an SQLite security database while "
        "nssd runs, with SQLite's backup API: the copy is written beside the "
        "target, checked (integrity, schema version), given mode 0600 and "
        "then put in place.  An existing target is refused unless --replace "
        "is given.  The stash is never copied: back it up separately, and "
        "keep it apart from the database's backups.  The database is "
        "--database, else $NSS_SECURITY_DB, else "
        "/var/lib/nsstwisted/security.db; a PostgreSQL database is backed up "
        "with pg_dump (see the operations guide)."
    )
    optFlags: ClassVar[list[list[Any]]] = [
        ["replace", "r", "Replace an existing file at the target."],
    ]
    optParameters: ClassVar[list[list[Any]]] = [
        ["to", "t", None, "The backup file to make."],
        ["database", "d", None, "The security database (an SQLite file)."],
        *audit_parameters("the backup"),
    ]

    def postOptions(self) -> None:
        if not self["to"]:
            raise usage.UsageError("backup needs --to PATH")
        check_audit_options(self)


class RekeyOptions(_HelpOptions):
    """
    C{nss-database rekey}.
    """

    synopsis = (
        f"Usage: {PROGRAM} rekey --new-stash NEW [--stash OLD] [--database LOCATION]"
    )
    longdesc = (
        "Reseal every private key and PassTicket key of a security database "
        "under a new master key, written to the new stash file NEW (mode 0600; "
        "it must not exist).  The old stash (--stash, else $NSS_STASH, else "
        "beside a database file) is only read, and must open the database.  "
        "All keys are resealed in one transaction: the database ends sealed "
        "under the new key or untouched.  Then point every server and command "
        "at the new stash (StashFile, NSS_STASH) and refresh nssd.  Run again "
        "after an interruption, the same command says which stash opens the "
        "database."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["database", "d", None, "The security database (file or URI)."],
        ["stash", "s", None, "The stash file of the current master key."],
        ["new-stash", "n", None, "The new stash file to write."],
        *audit_parameters("the rotation"),
    ]

    def postOptions(self) -> None:
        if not self["new-stash"]:
            raise usage.UsageError("rekey needs --new-stash NEW")
        check_audit_options(self)


class VersionOptions(_HelpOptions):
    """
    C{nss-database version}.
    """

    synopsis = f"Usage: {PROGRAM} version [--database LOCATION]"
    longdesc = (
        "Say the engine, the location and the schema version of a security "
        "database, and the version this release understands, without "
        "upgrading it.  The database is --database, else $NSS_SECURITY_DB, "
        "else /var/lib/nsstwisted/security.db."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["database", "d", None, "The security database (file or URI)."],
    ]


class DatabaseOptions(_HelpOptions):
    """
    The command line of C{nss-database}.
    """

    synopsis = (
        f"Usage: {PROGRAM} copy --from SOURCE --to TARGET [--stash PATH]\n"
        f"       {PROGRAM} rekey --new-stash NEW [--stash OLD] "
        "[--database LOCATION]\n"
        f"       {PROGRAM} version [--database LOCATION]\n"
        f"       {PROGRAM} backup --to PATH [--replace] [--database LOCATION]"
    )
    longdesc = (
        "Copy a security database between SQLite files and PostgreSQL "
        "databases, rotate its master key, say its schema version, or back "
        "up an SQLite one."
    )
    subCommands: ClassVar[list[list[Any]]] = [
        ["copy", None, CopyOptions, "Copy a whole security database."],
        ["rekey", None, RekeyOptions, "Reseal every key under a new master key."],
        ["version", None, VersionOptions, "Say a database's schema version."],
        ["backup", None, BackupOptions, "Back up an SQLite database online."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("copy, rekey, version or backup is needed")


def _copied(report: CopyReport, stash: str) -> list[str]:
    rows = sum(count for _, count in report.counts)
    tables = ", ".join(f"{name} {count}" for name, count in report.counts)
    lines = [
        f"NSR0354I security database {report.source} was copied to "
        f"{report.target} (schema version {report.schemaVersion}): {rows} rows "
        f"({tables})"
    ]
    if report.sealed:
        lines.append(
            f"its keys are sealed with the master key of the stash file {stash}: "
            "every server and command that opens the copy needs that stash "
            "(--stash, NSS_STASH or StashFile)"
        )
    return lines


def _backed_up(report: BackupReport) -> list[str]:
    replaced = ", replacing the earlier file" if report.replaced else ""
    lines = [
        f"NSR0360I security database {report.source} was backed up to "
        f"{report.target} (schema version {report.schemaVersion}, "
        f"{report.size} bytes, integrity checked, mode 0600{replaced})",
        "NSR0361I the stash file was not copied into the backup: back it up "
        "separately and keep it apart from the database's backups, since a "
        "backup with its stash beside it is a copy of every private key",
    ]
    return lines


def _stash_beside(stash: str) -> str:
    return (
        f"NSR0367W the stash file {stash} is in the backup's folder: whoever "
        "can read that folder holds every private key; keep backups elsewhere"
    )


def _rekeyed(report: RekeyReport, oldStash: str) -> list[str]:
    if not report.done:
        return [
            f"NSR0374I security database {report.location} is already sealed "
            f"under the master key of stash file {report.newStash}: an earlier "
            "rotation committed, and nothing was changed now",
            f"use stash file {report.newStash} (StashFile, --stash or NSS_STASH) "
            "and refresh nssd",
        ]
    counted = (
        "its keys"
        if report.privateKeys < 0
        else f"{report.privateKeys} private keys and {report.passTicketKeys} "
        "PassTicket keys"
    )
    return [
        f"NSR0370I the master key of security database {report.location} was "
        f"rotated: {counted} are sealed under the new master key of stash file "
        f"{report.newStash}",
        f"point every server and command at {report.newStash} (StashFile, "
        f"--stash or NSS_STASH) and refresh nssd; keep {oldStash} only with the "
        "backups taken before now, which need it",
    ]


def _version(found: StoredVersion) -> list[str]:
    if found.version is None:
        state = "none: the database is empty, and is initialised on first use"
    elif found.version == found.understood:
        state = str(found.version)
    elif found.version > found.understood:
        state = f"{found.version}: newer than this release, which refuses it"
    elif found.upgradable:
        state = f"{found.version}: older, upgraded when it is next opened"
    else:
        state = f"{found.version}: older, and this release cannot upgrade it"
    return [
        f"ENGINE           {found.engine}",
        f"LOCATION         {found.location}",
        f"SCHEMA VERSION   {state}",
        f"THIS RELEASE     {found.understood}",
    ]


def run(
    argv: list[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """
    Run C{nss-database} and return its exit status.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = DatabaseOptions()  # type: ignore[no-untyped-call]
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
    sub, subCommand = options.subOptions, options.subCommand
    assert subCommand is not None  # postOptions saw to it
    audit = None
    if subCommand != "version":
        # What changes a database or copies its keys is recorded; reading
        # its version is not.
        audit, mayRun = open_audit(sub, PROGRAM, err)
        if not mayRun:
            return EXIT_ENVIRONMENT
    try:
        return _run(subCommand, sub, out, err, audit)
    finally:
        if audit is not None:
            audit.close()


def _run(
    subCommand: str,
    sub: usage.Options,
    out: TextIO,
    err: TextIO,
    audit: AdministrationAudit | None,
) -> int:
    try:
        if subCommand == "copy":
            stash = stash_path(sub["from"], sub["stash"])
            lines = _copied(copy_database(sub["from"], sub["to"], stash), stash)
        elif subCommand == "backup":
            location = database_path(sub["database"])
            report = backup_database(location, sub["to"], replace=sub["replace"])
            lines = _backed_up(report)
            for stash in stashes_beside(location, report.target):
                err.write(f"{PROGRAM}: {_stash_beside(stash)}\n")
        elif subCommand == "rekey":
            location = database_path(sub["database"])
            stash = stash_path(location, sub["stash"])
            lines = _rekeyed(rekey_database(location, stash, sub["new-stash"]), stash)
        else:
            lines = _version(stored_version(database_path(sub["database"])))
    except SecurityError as e:
        err.write(f"{PROGRAM}: {e}\n")
        if audit is not None and not _recorded(audit, subCommand, sub, e, err):
            return EXIT_ENVIRONMENT
        return e.exitStatus
    for line in lines:
        out.write(line + "\n")
    if audit is not None and not _recorded(audit, subCommand, sub, None, err):
        return EXIT_ENVIRONMENT
    return EXIT_OK


_RECORDED_OPTIONS = ("from", "to", "database", "stash", "new-stash", "replace")


def _recorded(
    audit: AdministrationAudit,
    subCommand: str,
    sub: usage.Options,
    failed: SecurityError | None,
    err: TextIO,
) -> bool:
    """
    Record a command run: its options as given (paths, and database URIs
    without their passwords), its result and a failure's message ID.
    """
    given = {name: sub[name] for name in _RECORDED_OPTIONS if sub.get(name)}
    if subCommand != "copy":
        # The database acted on, also when it came from the environment.
        given["database"] = database_path(sub["database"])
    for name, value in given.items():
        if isinstance(value, str) and is_database_uri(value):
            given[name] = redact_uri(value)
    fields = {"command": subCommand, "options": given}
    return recorded(
        audit, "database", fields, failed, err, f"{PROGRAM}: {subCommand} ran"
    )


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point.
    """
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
