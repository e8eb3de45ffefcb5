"""
The security database file: one SQLite file, its schema, its transactions, and
the master key that seals its secrets.

Every change goes through L{SecurityDatabase.transaction}, which takes the
write lock up front (C{BEGIN IMMEDIATE}), so a command either changes
everything it meant to or nothing.  SQLite's own errors never escape: a damaged
or foreign file becomes L{DatabaseCorruptError} and a lock held too long
becomes L{DatabaseLockedError}, both with the path named, so an operator knows
what to repair.
"""

from __future__ import annotations

import hmac
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

from nsstwisted.security import stash as _stash
from nsstwisted.security.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    SecurityError,
    StashError,
)

# "NSSd" as a big-endian integer: SQLite's application_id marks our files.
APPLICATION_ID = 0x4E535364
SCHEMA_VERSION = 2
DEFAULT_BUSY_TIMEOUT = 5.0

_SCHEMA = """
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE users (
    userid TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL,
    default_group TEXT,
    password_hash TEXT,
    failed_logons INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    last_logon TEXT,
    restricted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE groups (
    groupid TEXT PRIMARY KEY,
    superior TEXT,
    owner TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE connections (
    userid TEXT NOT NULL REFERENCES users(userid) ON DELETE CASCADE,
    groupid TEXT NOT NULL REFERENCES groups(groupid) ON DELETE CASCADE,
    PRIMARY KEY (userid, groupid)
);
CREATE TABLE profiles (
    class TEXT NOT NULL,
    name TEXT NOT NULL,
    uacc TEXT NOT NULL,
    owner TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '',
    sealed_key BLOB,
    created TEXT NOT NULL,
    warning INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (class, name)
);
CREATE TABLE access_list (
    class TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    access TEXT NOT NULL,
    PRIMARY KEY (class, name, id),
    FOREIGN KEY (class, name) REFERENCES profiles(class, name) ON DELETE CASCADE
);
CREATE TABLE certificates (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    label TEXT NOT NULL,
    der BLOB NOT NULL,
    fingerprint BLOB NOT NULL UNIQUE,
    trusted INTEGER NOT NULL,
    sealed_key BLOB,
    UNIQUE (owner, label)
);
CREATE TABLE rings (
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);
CREATE TABLE ring_members (
    owner TEXT NOT NULL,
    ring TEXT NOT NULL,
    certificate_id INTEGER NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    usage TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, ring, certificate_id),
    FOREIGN KEY (owner, ring) REFERENCES rings(owner, name) ON DELETE CASCADE
);
"""

# What brings a database of each older schema version to the next one.
# Version 2 added RESTRICTED users and WARNING profiles, both off by
# default, so an upgraded database decides exactly as it did.
_UPGRADES: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE users ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE profiles ADD COLUMN warning INTEGER NOT NULL DEFAULT 0",
    ),
}

_MASTER_CHECK = "master_key_check"


def translate_sqlite_error(path: str, error: sqlite3.Error) -> SecurityError:
    """
    Turn an SQLite error into the security error an operator can act on.
    """
    text = str(error)
    if isinstance(error, sqlite3.OperationalError) and (
        "locked" in text or "busy" in text
    ):
        return DatabaseLockedError(
            f"security database {path} is locked by another process ({text})"
        )
    return DatabaseCorruptError(f"security database {path} is not usable ({text})")


class SecurityDatabase:
    """
    An open security database.

    One connection serves all callers; a lock serialises them, because the
    daemons call in from a thread pool and SQLite connections are not safe to
    share between threads otherwise.

    @ivar path: the database file.
    @ivar stashPath: the stash file holding the master key.
    @ivar readOnly: opened read-only: nothing is written, and no stash file
        is created.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: str,
        stashPath: str,
        *,
        readOnly: bool = False,
    ) -> None:
        self._connection = connection
        self._lock = threading.RLock()
        self._masterKey: _stash.MasterKey | None = None
        self._depth = 0
        self.path = path
        self.stashPath = stashPath
        self.readOnly = readOnly

    @classmethod
    def open(
        cls,
        path: str,
        stashPath: str,
        *,
        create: bool = True,
        busyTimeout: float | None = None,
        readOnly: bool = False,
    ) -> SecurityDatabase:
        """
        Open (and with C{create}, initialise) a security database.

        A new file is created with mode 0600 before SQLite touches it, since it
        holds password hashes and sealed keys.

        @param readOnly: open the file read-only (SQLite's C{mode=ro}), as a
            configuration check does, which must change nothing: implies
            no C{create}, and L{master_key} creates no stash file.
        """
        exists = os.path.exists(path)
        if not exists:
            if readOnly or not create:
                raise DatabaseCorruptError(f"security database {path} does not exist")
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except OSError as e:
                raise DatabaseCorruptError(
                    f"cannot create security database {path}: {e.strerror}"
                ) from None
        try:
            connection = sqlite3.connect(
                f"file:{urllib.parse.quote(path)}?mode=ro" if readOnly else path,
                timeout=DEFAULT_BUSY_TIMEOUT if busyTimeout is None else busyTimeout,
                isolation_level=None,
                check_same_thread=False,
                uri=readOnly,
            )
        except sqlite3.Error as e:
            raise translate_sqlite_error(path, e) from None
        database = cls(connection, path, stashPath, readOnly=readOnly)
        try:
            database._prepare()
        except BaseException:
            connection.close()
            raise
        return database

    def _prepare(self) -> None:
        try:
            connection = self._connection
            connection.execute("PRAGMA foreign_keys = ON")
            applicationId = connection.execute("PRAGMA application_id").fetchone()[0]
            tables = connection.execute(
                "SELECT count(*) FROM sqlite_master"
            ).fetchone()[0]
            if applicationId == 0 and tables == 0:
                if self.readOnly:
                    raise DatabaseCorruptError(
                        f"security database {self.path} is empty"
                    )
                self._initialise()
                return
            if applicationId != APPLICATION_ID:
                raise DatabaseCorruptError(
                    f"{self.path} is an SQLite file but not a security database"
                )
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION and version not in _UPGRADES:
                raise DatabaseCorruptError(
                    f"security database {self.path} has schema version {version}; "
                    f"this release reads version {SCHEMA_VERSION}"
                )
            check = connection.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise DatabaseCorruptError(
                    f"security database {self.path} is damaged ({check})"
                )
            if version != SCHEMA_VERSION:
                self._upgrade()
        except sqlite3.Error as e:
            raise translate_sqlite_error(self.path, e) from None

    def _initialise(self) -> None:
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _upgrade(self) -> None:
        """
        Bring an older database to this release's schema, one version at a
        time, in one transaction: it ends upgraded or untouched.
        """
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have
            # upgraded the file since it was opened.
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            while version in _UPGRADES:
                for statement in _UPGRADES[version]:
                    connection.execute(statement)
                version += 1
                connection.execute(f"PRAGMA user_version = {version}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """
        Run a unit of work atomically: commit if the block returns, roll back
        if it raises anything.

        Units nest: an inner one joins the outermost, so a RACF command that
        makes several changes commits all of them or none.
        """
        with self._unit("BEGIN IMMEDIATE") as cursor:
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Cursor]:
        """
        Read a consistent view without taking the write lock (or join the
        unit of work already open).
        """
        with self._unit("BEGIN") as cursor:
            yield cursor

    @contextmanager
    def _unit(self, begin: str) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._connection.cursor()
            if self._depth:
                self._depth += 1
                try:
                    yield cursor
                finally:
                    self._depth -= 1
                return
            try:
                cursor.execute(begin)
            except sqlite3.Error as e:
                raise translate_sqlite_error(self.path, e) from None
            self._depth = 1
            try:
                yield cursor
                cursor.execute("COMMIT")
            except sqlite3.Error as e:
                self._rollback(cursor)
                raise translate_sqlite_error(self.path, e) from None
            except BaseException:
                self._rollback(cursor)
                raise
            finally:
                self._depth = 0

    def _rollback(self, cursor: sqlite3.Cursor) -> None:
        try:
            if self._connection.in_transaction:
                cursor.execute("ROLLBACK")
        except sqlite3.Error:
            # The connection is already unusable; the caller gets the
            # original error, which says more than this one would.
            pass

    def setting(self, cursor: sqlite3.Cursor, name: str, default: str) -> str:
        """
        Read a SETROPTS-style setting inside an open transaction.
        """
        row = cursor.execute(
            "SELECT value FROM settings WHERE name = ?", (name,)
        ).fetchone()
        return default if row is None else str(row[0])

    def set_setting(self, cursor: sqlite3.Cursor, name: str, value: str) -> None:
        """
        Write a setting inside an open transaction.
        """
        cursor.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def master_key(self) -> _stash.MasterKey:
        """
        The master key that seals private keys and PassTicket keys.

        The stash file is created on first use, but only while no secret has
        been sealed yet: once the database records a key check value, a
        missing stash or one whose key does not match is an error, since a new
        key would silently orphan every sealed entry.
        """
        with self._lock:
            if self._masterKey is not None:
                return self._masterKey
            unit = self.reading() if self.readOnly else self.transaction()
            with unit as cursor:
                recorded = self.setting(cursor, _MASTER_CHECK, "")
                if os.path.exists(self.stashPath):
                    key = _stash.load_stash(self.stashPath)
                elif recorded:
                    raise StashError(
                        f"stash file {self.stashPath} does not exist, but the "
                        f"security database {self.path} holds keys sealed with it"
                    )
                elif self.readOnly:
                    raise StashError(f"stash file {self.stashPath} does not exist")
                else:
                    key = _stash.create_stash(self.stashPath)
                check = key.check_value().hex()
                if not recorded:
                    if not self.readOnly:
                        self.set_setting(cursor, _MASTER_CHECK, check)
                elif not hmac.compare_digest(recorded, check):
                    raise StashError(
                        f"stash file {self.stashPath} does not belong to the "
                        f"security database {self.path}"
                    )
            self._masterKey = key
            return key
