"""
An online backup of an SQLite security database: a consistent copy taken
while nssd holds the file open and records logons in it.

Copying the file with C{cp} while nssd writes can catch a page of one
moment beside a page of the next, and a half-written logon counter is the
least of what that breaks; and C{nss-database copy} opens the source for use
(an older schema upgraded) and needs its stash.  A backup does neither: it
copies the database's pages as they are, with SQLite's backup API, inside
one read transaction of a read-only connection, so that the copy is one
committed moment of it:

  - a writer that holds a transaction open (an C{nss-racf} job, a logon
    being recorded) does not stop it, and its uncommitted change is not in
    the copy; a writer that is committing at that instant makes the backup
    wait for the busy timeout at most (then NSR0202E), never indefinitely;
  - the copy is written to a temporary file in the target's folder, checked
    (C{PRAGMA integrity_check}, the application ID, the same schema version
    as the source's), given mode 0600, flushed to disk and only then put in
    place, so that a target path never holds a partial or unchecked backup;
  - an existing target is replaced only when the caller says so, and a
    target that is a folder, not a regular file, or the database itself is
    refused.

The stash is never copied, and nothing here opens it: a backup beside its
stash is every private key, readable by whoever can read the two files, so
the two are kept apart (the operations guide, "Backup and restore").  A
PostgreSQL database is backed up with its own tools (C{pg_dump}), and is
refused here with the pointer to that procedure.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
import urllib.parse
from dataclasses import dataclass

from nsstwisted.security.errors import (
    BackupEngineError,
    BackupFailedError,
    BackupFolderError,
    BackupTargetExistsError,
    BackupTargetKindError,
    DatabaseCorruptError,
)
from nsstwisted.security.location import is_database_uri, redact_uri, stash_path
from nsstwisted.security.sqliteengine import APPLICATION_ID, translate_sqlite_error
from nsstwisted.security.storage import DEFAULT_BUSY_TIMEOUT

__all__ = ["BackupReport", "backup_database", "stashes_beside"]

BACKUP_MODE = 0o600


@dataclass(frozen=True)
class BackupReport:
    """
    What a backup made, for the operator.

    @ivar source: the security database that was backed up.
    @ivar target: the backup file, as an absolute path.
    @ivar schemaVersion: the schema version of both.
    @ivar size: the backup's size in bytes.
    @ivar replaced: an earlier file at the target was replaced.
    """

    source: str
    target: str
    schemaVersion: int
    size: int
    replaced: bool


def backup_database(
    location: str,
    target: str,
    *,
    replace: bool = False,
    busyTimeout: float | None = None,
) -> BackupReport:
    """
    Back up the SQLite security database at C{location} to the file
    C{target}, online and consistent.

    @param replace: replace a file at C{target}, rather than refuse it.
    @raise BackupEngineError: C{location} is a PostgreSQL database.
    @raise BackupFolderError: C{target}'s folder does not exist.
    @raise BackupTargetKindError: C{target} is a folder, not a regular file,
        or the security database itself.
    @raise BackupTargetExistsError: C{target} exists, and C{replace} is not
        given.
    @raise DatabaseCorruptError: C{location} does not exist, is empty, or is
        not a security database.
    @raise DatabaseLockedError: a writer held the database past the busy
        timeout.
    @raise BackupFailedError: the copy could not be written, or failed its
        check; nothing is left of it, and C{target} is as it was.
    """
    if is_database_uri(location):
        raise BackupEngineError(
            f"security database {redact_uri(location)} is a PostgreSQL database: "
            "nss-database backup takes only SQLite files; back it up with "
            'pg_dump --format=custom as docs/operations.md says in "Backup and '
            'restore", and keep its stash apart; nothing was written'
        )
    path = os.path.abspath(target)
    folder = os.path.dirname(path)
    existed = _check_target(location, path, folder, replace)
    source = _open_source(location, busyTimeout)
    try:
        version = _schema_version(source, location)
        try:
            descriptor, temporary = tempfile.mkstemp(
                prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder
            )
        except OSError as e:
            raise _failed(path, e) from None
        os.close(descriptor)
        try:
            _copy(source, temporary, path)
            _check_copy(temporary, path, version)
            os.chmod(temporary, BACKUP_MODE)
            _flush(temporary)
            _put_in_place(temporary, path, replace)
            _flush(folder)
        except OSError as e:
            _remove(temporary)
            raise _failed(path, e) from None
        except BaseException:
            _remove(temporary)
            raise
    finally:
        source.close()
    return BackupReport(
        source=location,
        target=path,
        schemaVersion=version,
        size=os.path.getsize(path),
        replaced=existed,
    )


def stashes_beside(location: str, target: str) -> list[str]:
    """
    The stash files in the backup's folder: the database's own (by the
    usual search: C{NSS_STASH}, else beside the database), and one that the
    usual search would find beside the backup.  A backup with a stash
    beside it opens every private key for whoever can read the folder.
    """
    folder = os.path.realpath(os.path.dirname(os.path.abspath(target)))
    found = []
    for stash in (stash_path(location), stash_path(os.path.abspath(target))):
        if (
            os.path.exists(stash)
            and os.path.realpath(os.path.dirname(os.path.abspath(stash))) == folder
            and stash not in found
        ):
            found.append(stash)
    return found


def _check_target(location: str, path: str, folder: str, replace: bool) -> bool:
    """
    Refuse a target that cannot or may not take the backup, before anything
    is read or written; return whether a file is there to be replaced.
    """
    if not os.path.isdir(folder):
        raise BackupFolderError(
            f"the folder {folder} of the backup {path} does not exist or is not "
            "a folder: make it (mode 0700) or correct the path; nothing was written"
        )
    if os.path.isdir(path):
        raise BackupTargetKindError(
            f"the backup's target {path} is a folder: name a file in it; "
            "nothing was written"
        )
    if not os.path.lexists(path):
        return False
    if os.path.islink(path) or not os.path.isfile(path):
        raise BackupTargetKindError(
            f"the backup's target {path} is not a regular file (a symbolic "
            "link, a device, a socket): name a regular file; nothing was written"
        )
    if os.path.exists(location) and os.path.samefile(location, path):
        raise BackupTargetKindError(
            f"the backup's target {path} is the security database itself; "
            "nothing was written"
        )
    if not replace:
        raise BackupTargetExistsError(
            f"the backup's target {path} exists: name a new file, or give "
            "--replace to replace it; nothing was written"
        )
    return True


def _open_source(location: str, busyTimeout: float | None) -> sqlite3.Connection:
    """
    A read-only connection to the database, inside a read transaction that
    holds its committed state for the copy and the checks alike.
    """
    if not os.path.isfile(location):
        raise DatabaseCorruptError(
            f"security database {location} does not exist or is not a file"
        )
    try:
        connection = sqlite3.connect(
            f"file:{urllib.parse.quote(location)}?mode=ro",
            uri=True,
            timeout=DEFAULT_BUSY_TIMEOUT if busyTimeout is None else busyTimeout,
            isolation_level=None,
        )
    except sqlite3.Error as e:
        raise translate_sqlite_error(location, e) from None
    try:
        connection.execute("BEGIN")
        # The first read takes the shared lock, waiting out a commit for
        # the busy timeout at most.
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as e:
        connection.close()
        raise translate_sqlite_error(location, e) from None
    return connection


def _schema_version(source: sqlite3.Connection, location: str) -> int:
    try:
        applicationId = source.execute("PRAGMA application_id").fetchone()[0]
        tables = source.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        version = int(source.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as e:
        raise translate_sqlite_error(location, e) from None
    if applicationId == 0 and tables == 0:
        raise DatabaseCorruptError(
            f"security database {location} is empty: there is nothing to back up"
        )
    if applicationId != APPLICATION_ID:
        raise DatabaseCorruptError(
            f"{location} is an SQLite file but not a security database"
        )
    return version


def _copy(source: sqlite3.Connection, temporary: str, path: str) -> None:
    """
    Copy every page in one step, within the source's read transaction, so
    that no commit can fall between two pages.
    """
    try:
        copy = sqlite3.connect(temporary, isolation_level=None)
        try:
            source.backup(copy, pages=-1)
        finally:
            copy.close()
    except sqlite3.Error as e:
        raise BackupFailedError(
            f"the backup {path} could not be written ({e}); nothing was left "
            "of it, and the target is as it was"
        ) from None


def _check_copy(temporary: str, path: str, version: int) -> None:
    """
    Read the copy back as a restore would, refusing one that is damaged or
    not the database it was copied from.
    """
    try:
        copy = sqlite3.connect(
            f"file:{urllib.parse.quote(temporary)}?mode=ro",
            uri=True,
            isolation_level=None,
        )
        try:
            findings = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            applicationId = copy.execute("PRAGMA application_id").fetchone()[0]
            copied = int(copy.execute("PRAGMA user_version").fetchone()[0])
        finally:
            copy.close()
    except sqlite3.Error as e:
        raise BackupFailedError(
            f"the backup {path} failed its check when read back ({e}); nothing "
            "was left of it, and the target is as it was"
        ) from None
    if findings != ["ok"] or applicationId != APPLICATION_ID or copied != version:
        problem = "; ".join(findings[:3]) if findings != ["ok"] else "it is intact"
        raise BackupFailedError(
            f"the backup {path} failed its check ({problem}; schema version "
            f"{copied}, the source's {version}); nothing was left of it, and "
            "the target is as it was"
        )


def _flush(path: str) -> None:
    """
    Make a file's contents (or a folder's entries) durable, so that a
    backup reported made survives a crash that follows.
    """
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _put_in_place(temporary: str, path: str, replace: bool) -> None:
    """
    Give the checked copy the target's name: over an existing file only with
    C{replace}, and otherwise by a link that fails if a file appeared there
    since the target was checked.
    """
    if replace:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise BackupTargetExistsError(
            f"the backup's target {path} appeared while the backup was made: "
            "name a new file, or give --replace; it was not replaced"
        ) from None
    except OSError as e:
        # A file system without hard links: the check just made stands.
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(path):
            raise BackupTargetExistsError(
                f"the backup's target {path} appeared while the backup was made: "
                "name a new file, or give --replace; it was not replaced"
            ) from None
        os.rename(temporary, path)
        return
    os.unlink(temporary)


def _failed(path: str, error: OSError) -> BackupFailedError:
    return BackupFailedError(
        f"the backup {path} could not be written ({error.strerror or error}); "
        "nothing was left of it, and the target is as it was"
    )


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
