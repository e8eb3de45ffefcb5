"""
The SQLite storage engine: the embedded default, one file with nothing to
install.

Every write takes SQLite's write lock up front (C{BEGIN IMMEDIATE}), so a
command either changes everything it meant to or nothing.  SQLite's own errors
never escape: a damaged or foreign file becomes L{DatabaseCorruptError} and a
lock held too long becomes L{DatabaseLockedError}, both with the path named,
so an operator knows what to repair.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from nsstwisted.security.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    SecurityError,
)
from nsstwisted.security.storage import (
    DEFAULT_BUSY_TIMEOUT,
    SCHEMA_3_MOVES,
    SCHEMA_3_TABLES,
    SCHEMA_4_COLUMN,
    SCHEMA_VERSION,
    ChangeListener,
    Cursor,
    quote_identifier,
)

# "NSSd" as a big-endian integer: SQLite's application_id marks our files.
APPLICATION_ID = 0x4E535364

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
    token_key TEXT,
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
""" + SCHEMA_3_TABLES.format(collate="")

_SCHEMA_3 = tuple(s for s in SCHEMA_3_TABLES.format(collate="").split(";") if s.strip())

# What brings a database of each older schema version to the next one.
# Version 2 added RESTRICTED users and WARNING profiles, both off by
# default, so an upgraded database decides exactly as it did.  Version 3
# added the used PassTickets and the logon counters, version 4 the PKCS#11
# token keys of certificates (storage.py).
_UPGRADES: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE users ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE profiles ADD COLUMN warning INTEGER NOT NULL DEFAULT 0",
    ),
    2: _SCHEMA_3 + SCHEMA_3_MOVES,
    3: (SCHEMA_4_COLUMN.format(collate=""),),
}


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


class SqliteEngine:
    """
    A security database in one SQLite file.

    The schema version is SQLite's C{user_version}, and C{application_id}
    marks the file as ours, so a foreign SQLite file is refused rather than
    written into.

    @ivar location: the database file.
    """

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(
        self, connection: sqlite3.Connection, path: str, *, readOnly: bool
    ) -> None:
        self._connection = connection
        self.location = path
        self.readOnly = readOnly

    @classmethod
    def open(
        cls,
        path: str,
        *,
        create: bool = True,
        busyTimeout: float | None = None,
        readOnly: bool = False,
    ) -> SqliteEngine:
        """
        Open the file, creating it empty with C{create}.

        A new file is created with mode 0600 before SQLite touches it, since it
        holds password hashes and sealed keys.

        @param readOnly: open the file read-only (SQLite's C{mode=ro}), as a
            configuration check does, which must change nothing: implies no
            C{create}.
        """
        if not os.path.exists(path):
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
        try:
            # Per connection in SQLite: without it, no ON DELETE CASCADE.
            connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as e:
            connection.close()
            raise translate_sqlite_error(path, e) from None
        return cls(connection, path, readOnly=readOnly)

    def cursor(self) -> Cursor:
        return self._connection.cursor()

    def begin(self, cursor: Cursor, *, write: bool) -> None:
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self, cursor: Cursor) -> None:
        cursor.execute("COMMIT")

    def rollback(self, cursor: Cursor) -> None:
        try:
            if self._connection.in_transaction:
                cursor.execute("ROLLBACK")
        except sqlite3.Error:
            # The connection is already unusable; the caller gets the
            # original error, which says more than this one would.
            pass

    def translate(self, error: Exception) -> SecurityError:
        if isinstance(error, sqlite3.Error):
            return translate_sqlite_error(self.location, error)
        return DatabaseCorruptError(
            f"security database {self.location} is not usable ({error})"
        )

    def schema_version(self) -> int | None:
        connection = self._connection
        applicationId = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if applicationId == 0 and tables == 0:
            return None
        if applicationId != APPLICATION_ID:
            raise DatabaseCorruptError(
                f"{self.location} is an SQLite file but not a security database"
            )
        return int(connection.execute("PRAGMA user_version").fetchone()[0])

    def check_integrity(self) -> None:
        check = self._connection.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise DatabaseCorruptError(
                f"security database {self.location} is damaged ({check})"
            )

    def upgradable(self, version: int) -> bool:
        return version in _UPGRADES

    def initialise(self) -> None:
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

    def upgrade(self) -> int:
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have
            # upgraded the file since it was opened.
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            while version in _UPGRADES:
                for statement in _UPGRADES[version]:
                    connection.execute(statement)
                version += 1
                connection.execute(f"PRAGMA user_version = {version}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return version

    def announce(self, cursor: Cursor) -> None:
        # Nothing pushes a change to the other processes on a file: they
        # poll for it.
        return None

    def listener(self) -> ChangeListener | None:
        return None

    def retry_now(self) -> None:
        return None

    def tables(self) -> list[str]:
        # SQLite's own tables (sqlite_sequence, sqlite_stat1) are its
        # bookkeeping, not the schema's.
        rows = self._connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        ).fetchall()
        return [str(name) for (name,) in rows]

    def columns(self, table: str) -> list[str]:
        rows = self._connection.execute(
            f"PRAGMA table_info({quote_identifier(table)})"
        ).fetchall()
        return [str(row[1]) for row in rows]

    def insert_rows(
        self,
        cursor: Cursor,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> int:
        # An INTEGER PRIMARY KEY takes the id given, and the next one
        # generated is past the highest: nothing to move afterwards.
        names = ", ".join(quote_identifier(column) for column in columns)
        marks = ", ".join("?" for _ in columns)
        quoted = quote_identifier(table)
        statement = f"INSERT INTO {quoted} ({names}) VALUES ({marks})"  # noqa: S608
        count = 0
        for row in rows:
            cursor.execute(statement, row)
            count += 1
        return count

    def close(self) -> None:
        self._connection.close()
