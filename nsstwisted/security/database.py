"""
The security database: its units of work, its settings, its schema version
and the master key that seals its secrets, the same on every storage engine.

Every change goes through L{SecurityDatabase.transaction}, which takes the
write lock up front, so a command either changes everything it meant to or
nothing.  The engine's own errors never escape: the engine turns them into
L{DatabaseCorruptError} or L{DatabaseLockedError}, with the database named,
so an operator knows what to repair.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from nsstwisted.security import stash as _stash
from nsstwisted.security.errors import (
    DatabaseCorruptError,
    MasterKeyChangedError,
    SchemaVersionError,
    StashError,
)
from nsstwisted.security.location import is_database_uri, redact_uri
from nsstwisted.security.sqliteengine import (
    APPLICATION_ID,
    SqliteEngine,
    translate_sqlite_error,
)
from nsstwisted.security.storage import (
    DEFAULT_BUSY_TIMEOUT,
    SCHEMA_VERSION,
    ChangeListener,
    Cursor,
    StorageEngine,
)

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_BUSY_TIMEOUT",
    "MASTER_KEY_CHECK",
    "SCHEMA_VERSION",
    "SecurityDatabase",
    "open_engine",
    "translate_sqlite_error",
]

# The setting that records which master key sealed the database's secrets
# (L{MasterKey.check_value <nsstwisted.security.stash.MasterKey.check_value>},
# in hex); a master-key rotation changes it with the sealed rows.
MASTER_KEY_CHECK = _MASTER_CHECK = "master_key_check"


def _postgresql_engine(uri: str, timeout: float, readOnly: bool) -> StorageEngine:
    """
    The PostgreSQL engine for C{uri}, imported only now: psycopg is an
    optional dependency, and a database in a file never needs it.
    """
    try:
        from nsstwisted.security.postgresqlengine import PostgresqlEngine
    except ImportError as e:
        raise DatabaseCorruptError(
            f"security database {redact_uri(uri)} is a PostgreSQL "
            f"database, but psycopg 3 cannot be imported ({e}): install "
            "nsstwisted[postgresql]"
        ) from None
    return PostgresqlEngine.open(uri, busyTimeout=timeout, readOnly=readOnly)


def open_engine(
    location: str,
    *,
    create: bool = True,
    busyTimeout: float | None = None,
    readOnly: bool = False,
) -> StorageEngine:
    """
    A connection to the database at C{location} (an SQLite file, or a
    PostgreSQL URI), as it is: not yet checked, initialised or upgraded,
    which L{SecurityDatabase.open} does, so that its schema version can be
    read without changing it.
    """
    timeout = DEFAULT_BUSY_TIMEOUT if busyTimeout is None else busyTimeout
    if is_database_uri(location):
        return _postgresql_engine(location, timeout, readOnly)
    return SqliteEngine.open(
        location, create=create, busyTimeout=timeout, readOnly=readOnly
    )


class SecurityDatabase:
    """
    An open security database.

    One connection serves all callers; a lock serialises them, because the
    daemons call in from a thread pool and a connection is not safe to share
    between threads otherwise.

    @ivar path: where the database is (the file, for SQLite), as messages
        name it.
    @ivar stashPath: the stash file holding the master key.
    @ivar readOnly: opened read-only: nothing is written, and no stash file
        is created.
    @ivar schemaVersion: the schema version the database says it has, once
        opened: L{SCHEMA_VERSION}, since an older one is upgraded on open and
        a newer one refused.
    """

    def __init__(self, engine: StorageEngine, stashPath: str) -> None:
        self._engine = engine
        self._lock = threading.RLock()
        self._masterKey: _stash.MasterKey | None = None
        self._depth = 0
        self.path = engine.location
        self.stashPath = stashPath
        self.readOnly = engine.readOnly
        self.schemaVersion = 0

    @classmethod
    def open(
        cls,
        location: str,
        stashPath: str,
        *,
        create: bool = True,
        busyTimeout: float | None = None,
        readOnly: bool = False,
        initialise: bool = True,
    ) -> SecurityDatabase:
        """
        Open (and with C{create}, initialise) a security database.

        @param location: the path of an SQLite file, or a PostgreSQL
            connection URI (C{postgresql://...}, libpq's syntax), whose
            database must exist already: C{create} is about files, and an
            empty PostgreSQL database is initialised like a new file.
        @param readOnly: open the database read-only, as a configuration
            check does, which must change nothing: implies no C{create}, and
            L{master_key} creates no stash file.
        @param initialise: give an empty database (a new file, an empty
            PostgreSQL database) the schema; without it, an empty database
            is refused, as the source of a copy must be, since a database
            that holds nothing is a wrong name rather than something to copy.
        """
        engine = open_engine(
            location, create=create, busyTimeout=busyTimeout, readOnly=readOnly
        )
        database = cls(engine, stashPath)
        try:
            database._prepare(initialise=initialise)
        except BaseException:
            engine.close()
            raise
        return database

    def _prepare(self, *, initialise: bool = True) -> None:
        """
        Initialise an empty database, upgrade an older one, and refuse one
        that is newer than this release, whose meaning it cannot know.
        """
        engine = self._engine
        try:
            version = engine.schema_version()
            if version is None:
                if self.readOnly or not initialise:
                    raise DatabaseCorruptError(
                        f"security database {self.path} is empty"
                    )
                engine.initialise()
                self.schemaVersion = SCHEMA_VERSION
                return
            self._refuse_newer(version)
            if version != SCHEMA_VERSION and not engine.upgradable(version):
                raise DatabaseCorruptError(
                    f"security database {self.path} has schema version {version}, "
                    f"which this release cannot upgrade to version {SCHEMA_VERSION}"
                )
            engine.check_integrity()
            if version != SCHEMA_VERSION:
                version = engine.upgrade()
                self._refuse_newer(version)
        except engine.errors as e:
            raise engine.translate(e) from None
        self.schemaVersion = version

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"security database {self.path} has schema version {version}, "
                f"newer than version {SCHEMA_VERSION}, the newest this release "
                "of nsstwisted understands"
            )

    def close(self) -> None:
        with self._lock:
            self._engine.close()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """
        Run a unit of work atomically: commit if the block returns, roll back
        if it raises anything.

        Units nest: an inner one joins the outermost, so a RACF command that
        makes several changes commits all of them or none.
        """
        with self._unit(write=True) as cursor:
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        """
        Read a consistent view without taking the write lock (or join the
        unit of work already open).
        """
        with self._unit(write=False) as cursor:
            yield cursor

    @contextmanager
    def _unit(self, *, write: bool) -> Iterator[Cursor]:
        engine = self._engine
        with self._lock:
            try:
                cursor = engine.cursor()
            except engine.errors as e:
                raise engine.translate(e) from None
            if self._depth:
                self._depth += 1
                try:
                    yield cursor
                finally:
                    self._depth -= 1
                return
            try:
                engine.begin(cursor, write=write)
            except engine.errors as e:
                raise engine.translate(e) from None
            self._depth = 1
            try:
                yield cursor
                engine.commit(cursor)
            except engine.errors as e:
                engine.rollback(cursor)
                raise engine.translate(e) from None
            except BaseException:
                engine.rollback(cursor)
                raise
            finally:
                self._depth = 0

    def tables(self) -> list[str]:
        """
        The tables the database holds, inside an open unit of work (which
        turns the engine's errors into security errors).
        """
        with self._lock:
            return self._engine.tables()

    def columns(self, table: str) -> list[str]:
        """
        C{table}'s columns in their order (none for a table the database
        does not have), inside an open unit of work.
        """
        with self._lock:
            return self._engine.columns(table)

    def insert_rows(
        self,
        cursor: Cursor,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> int:
        """
        Insert rows as they are, generated ids included, inside an open
        unit of work: see L{StorageEngine.insert_rows}.
        """
        with self._lock:
            return self._engine.insert_rows(cursor, table, columns, rows)

    def setting(self, cursor: Cursor, name: str, default: str) -> str:
        """
        Read a SETROPTS-style setting inside an open transaction.
        """
        row = cursor.execute(
            "SELECT value FROM settings WHERE name = ?", (name,)
        ).fetchone()
        return default if row is None else str(row[0])

    def set_setting(self, cursor: Cursor, name: str, value: str) -> None:
        """
        Write a setting inside an open transaction.
        """
        cursor.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def announce(self, cursor: Cursor) -> None:
        """
        Inside a transaction: at its commit, tell the daemons listening on
        the database to catch up at once (engines that can push).
        """
        self._engine.announce(cursor)

    def listener(self) -> ChangeListener | None:
        """
        A connection of its own that hears L{announce}, or C{None} for an
        engine whose daemons poll (SQLite).  Blocking: call it from a
        thread.

        @raise SecurityError: it cannot be made now.
        """
        # Not under the lock: it is a connection of its own, and an attempt
        # to a server that does not answer must not hold up the units of
        # work of the other threads.
        return self._engine.listener()

    def retry_now(self) -> None:
        """
        The database is known to be reachable again: connect at the next
        unit of work, without waiting out the engine's gap.
        """
        self._engine.retry_now()

    def check_stash(self) -> bool:
        """
        Refuse a stash file that does not belong to the database, without
        creating one or recording its check value, as a copy needs: the
        database it reads is not to be changed.

        @return: whether the database has sealed anything (records a check
            value); if not, it needs no stash, and none was read.
        @raise StashError: the database has, and the stash file is missing
            or holds another master key.
        """
        with self.reading() as cursor:
            if not self.setting(cursor, _MASTER_CHECK, ""):
                return False
            # Only reads, now that a check value is recorded: the stash is
            # loaded and compared with it.
            self.master_key()
            return True

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
            # Read first: only a database that records no check value yet is
            # written, so that a server on a standby, or under a role that
            # may not administer, can start.
            with self.reading() as cursor:
                recorded = self.setting(cursor, _MASTER_CHECK, "")
            unit = self.reading() if self.readOnly or recorded else self.transaction()
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

    def confirm_master_key(self, cursor: Cursor, key: _stash.MasterKey) -> None:
        """
        Inside the unit of work that stores a value sealed under C{key}:
        refuse unless the database still records C{key}.

        A key is read from the stash before the unit of work that stores what
        it sealed; a master-key rotation that commits in between would leave
        that value sealed under a key the database no longer has.  Writers
        are serialised (SQLite's write lock, PostgreSQL's advisory lock), so
        a check inside the writing unit sees any rotation that came first,
        and a rotation that comes later reseals what this unit stored.

        @raise MasterKeyChangedError: the database records another key.
        """
        recorded = self.setting(cursor, _MASTER_CHECK, "")
        if recorded and not hmac.compare_digest(recorded, key.check_value().hex()):
            raise MasterKeyChangedError(
                f"the keys of security database {self.path} were resealed under "
                f"another master key since stash file {self.stashPath} was read: "
                "nothing was stored; run the command again with the new stash"
            )

    def reload_master_key(self, stashPath: str | None = None) -> _stash.MasterKey:
        """
        The master key the database records now, for a server that refreshes:
        the key held, if the database still records it and the stash file is
        the same; otherwise the key read again from C{stashPath} (or the
        stash file named at open), if the database records that one.

        A server holds its master key from its start; after a master-key
        rotation (C{nss-database rekey}) it takes the new key here, when the
        operator has named the new stash (StashFile) or put it in place of
        the old one.  The key held is kept when this fails, so that a refresh
        that fails changes nothing.

        @raise MasterKeyChangedError: the database records a key that the
            stash file does not hold.
        @raise StashError: the stash file cannot be read.
        """
        with self._lock:
            path = stashPath or self.stashPath
            with self.reading() as cursor:
                recorded = self.setting(cursor, _MASTER_CHECK, "")
            held = self._masterKey
            if held is None:
                self.stashPath = path
                return self.master_key()
            if not recorded:
                # Nothing is sealed (a read-only server on a database that
                # records no key yet): nothing can have been rotated.
                return held
            if path == self.stashPath and hmac.compare_digest(
                recorded, held.check_value().hex()
            ):
                return held
            key = _stash.load_stash(path)
            if not hmac.compare_digest(recorded, key.check_value().hex()):
                raise MasterKeyChangedError(
                    f"the keys of security database {self.path} are sealed under "
                    f"a master key that stash file {path} does not hold: after a "
                    "master-key rotation (nss-database rekey), name the new stash "
                    "(StashFile, --stash or NSS_STASH) or put it in place of the "
                    "old one; the keys already held are kept"
                )
            self._masterKey = key
            self.stashPath = path
            return key
