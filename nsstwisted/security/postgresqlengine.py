"""
The PostgreSQL storage engine: one security database shared by every server
that connects to it, where users already run PostgreSQL highly available.

It behaves as the SQLite engine does, so that the security model's SQL and
its errors are the same on both:

  - the model writes C{?} placeholders; the cursor turns them into psycopg's
    C{%s} (and a literal C{%} into C{%%});
  - a unit of work that writes takes one transaction-level advisory lock up
    front, so writers queue one behind the other as SQLite's C{BEGIN
    IMMEDIATE} makes them, and a lock held longer than the busy timeout is
    refused with NSR0202E rather than waited on for ever;
  - text sorts by code point (C{COLLATE "C"}), as SQLite compares text, so a
    listing comes out in the same order whatever the server's locale;
  - the schema version and the mark that the database is ours live in a
    table, C{nss_schema}, where SQLite has C{user_version} and
    C{application_id}.

The database is the one the connection URI names, in the first schema of the
connection's C{search_path}; an empty one is initialised on first open.
psycopg 3 is an optional dependency (C{pip install nsstwisted[postgresql]}):
only this module imports it, and only a PostgreSQL URI imports this module.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import psycopg
import psycopg.conninfo
import psycopg.pq

from nsstwisted.security.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    SecurityError,
)
from nsstwisted.security.location import redact_uri
from nsstwisted.security.storage import (
    DEFAULT_BUSY_TIMEOUT,
    SCHEMA_3_MOVES,
    SCHEMA_3_TABLES,
    SCHEMA_4_COLUMN,
    SCHEMA_VERSION,
    Cursor,
    quote_identifier,
)

# What a database of ours says in nss_schema.application, and the key of the
# advisory lock that serialises its writers ("NSSd" as a big-endian integer,
# SQLite's application_id).
APPLICATION = "nsstwisted"
WRITE_LOCK_KEY = 0x4E535364

# How long a new connection may take, in seconds, unless the URI says: the
# first, at start; and each attempt to make a lost one again, which holds
# up the units of work waiting for the database meanwhile.
DEFAULT_CONNECT_TIMEOUT = 10
RECONNECT_TIMEOUT = 2

# How long sent data may stay unacknowledged before the connection is
# given up, in milliseconds (libpq's tcp_user_timeout), unless the URI says.
TCP_USER_TIMEOUT_MS = 10_000

# The channel on which a change that running servers must see at once (a
# REFRESH, a change of class options) is announced, by NOTIFY at commit.
CHANGES_CHANNEL = "nsstwisted_security"

# After a connection attempt fails, how long the engine refuses at once
# (NSR0346E) before it tries again: a server that is down would otherwise
# cost every logon a connection attempt, up to the connect timeout each
# against a host that does not answer.
RECONNECT_GAP = 1.0

# SQLSTATEs that mean "another unit of work holds what this one needs":
# lock_not_available (lock_timeout), serialization_failure,
# deadlock_detected, query_canceled (statement_timeout).
_LOCKED_STATES = frozenset({"55P03", "40001", "40P01", "57014"})

# SQLSTATEs that mean the server is away for now, besides class 08
# (connection exceptions): admin_shutdown, crash_shutdown,
# cannot_connect_now, idle_session_timeout.
_AWAY_STATES = frozenset({"57P01", "57P02", "57P03", "57P05"})

# read_only_sql_transaction (a hot standby, or a read-only transaction) and
# insufficient_privilege (a role that may serve but not administer).
_READ_ONLY_STATE = "25006"
_PRIVILEGE_STATE = "42501"

_SCHEMA = """
CREATE TABLE nss_schema (
    application TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE settings (
    name TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);
CREATE TABLE users (
    userid TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL DEFAULT '',
    owner TEXT COLLATE "C" NOT NULL,
    default_group TEXT COLLATE "C",
    password_hash TEXT COLLATE "C",
    failed_logons INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    created TEXT COLLATE "C" NOT NULL,
    last_logon TEXT COLLATE "C",
    restricted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE groups (
    groupid TEXT COLLATE "C" PRIMARY KEY,
    superior TEXT COLLATE "C",
    owner TEXT COLLATE "C" NOT NULL,
    created TEXT COLLATE "C" NOT NULL
);
CREATE TABLE connections (
    userid TEXT COLLATE "C" NOT NULL REFERENCES users(userid) ON DELETE CASCADE,
    groupid TEXT COLLATE "C" NOT NULL REFERENCES groups(groupid) ON DELETE CASCADE,
    PRIMARY KEY (userid, groupid)
);
CREATE TABLE profiles (
    class TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    uacc TEXT COLLATE "C" NOT NULL,
    owner TEXT COLLATE "C" NOT NULL,
    data TEXT COLLATE "C" NOT NULL DEFAULT '',
    sealed_key BYTEA,
    created TEXT COLLATE "C" NOT NULL,
    warning INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (class, name)
);
CREATE TABLE access_list (
    class TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    access TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (class, name, id),
    FOREIGN KEY (class, name) REFERENCES profiles(class, name) ON DELETE CASCADE
);
CREATE TABLE certificates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner TEXT COLLATE "C" NOT NULL,
    label TEXT COLLATE "C" NOT NULL,
    der BYTEA NOT NULL,
    fingerprint BYTEA NOT NULL UNIQUE,
    trusted INTEGER NOT NULL,
    sealed_key BYTEA,
    token_key TEXT COLLATE "C",
    UNIQUE (owner, label)
);
CREATE TABLE rings (
    owner TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (owner, name)
);
CREATE TABLE ring_members (
    owner TEXT COLLATE "C" NOT NULL,
    ring TEXT COLLATE "C" NOT NULL,
    certificate_id BIGINT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    usage TEXT COLLATE "C" NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, ring, certificate_id),
    FOREIGN KEY (owner, ring) REFERENCES rings(owner, name) ON DELETE CASCADE
);
""" + SCHEMA_3_TABLES.format(collate=' COLLATE "C"')

# What brings a database of each older schema version to the next one.
# PostgreSQL came with version 2: no older database exists on it.  Version
# 4 added the PKCS#11 token keys of certificates (storage.py).
_UPGRADES: dict[int, tuple[str, ...]] = {
    2: tuple(
        s
        for s in SCHEMA_3_TABLES.format(collate=' COLLATE "C"').split(";")
        if s.strip()
    )
    + SCHEMA_3_MOVES,
    3: (SCHEMA_4_COLUMN.format(collate=' COLLATE "C"'),),
}


@lru_cache(maxsize=512)
def _psycopg_sql(sql: str) -> str:
    """
    The model's statement in psycopg's placeholder style.

    The model's SQL holds no C{?} inside a string literal, so every C{?} is a
    parameter.
    """
    return sql.replace("%", "%%").replace("?", "%s")


def _parameter(value: Any) -> Any:
    # The schema keeps SQLite's 0/1 integers for flags; PostgreSQL, unlike
    # SQLite, will not store a boolean in an integer column.
    return int(value) if isinstance(value, bool) else value


class _PostgresqlCursor:
    """
    A psycopg cursor that speaks the model's placeholder style.
    """

    def __init__(self, connection: Any) -> None:
        self._cursor = connection.cursor()

    def renew(self, connection: Any) -> None:
        """
        Move to a new connection, the old one having been lost before this
        cursor ran anything.
        """
        self._cursor = connection.cursor()

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        self._cursor.execute(
            _psycopg_sql(sql), [_parameter(value) for value in parameters]
        )
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


class PostgresqlEngine:
    """
    A security database in a PostgreSQL database.

    The connection is in autocommit mode, and the engine opens and ends each
    transaction itself, as the SQLite engine does: L{SecurityDatabase
    <nsstwisted.security.database.SecurityDatabase>} decides where a unit of
    work begins and ends.

    A lost connection (the server restarted, or went away and came back)
    is made again by the next unit of work; a unit whose first statement
    finds the connection lost runs on the new one, since nothing of it had
    run, so that only the units in flight at the moment of loss fail.
    While the server cannot be reached, a unit of work is refused at once
    with NSR0346E for L{RECONNECT_GAP} seconds after each failed attempt.

    @ivar location: the connection URI without its password.
    """

    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(
        self,
        connection: Any,
        location: str,
        *,
        readOnly: bool,
        conninfo: str = "",
        reconnectInfo: str = "",
        busyTimeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self._connection = connection
        self._conninfo = conninfo
        self._reconnectInfo = reconnectInfo or conninfo
        self._busyTimeout = busyTimeout
        self._retryAt = float("-inf")
        self.location = location
        self.readOnly = readOnly

    @classmethod
    def open(
        cls,
        uri: str,
        *,
        busyTimeout: float | None = None,
        readOnly: bool = False,
    ) -> PostgresqlEngine:
        """
        Connect to the database the URI names.

        The database itself must exist (the server's administrator makes it);
        an empty one is initialised by L{SecurityDatabase
        <nsstwisted.security.database.SecurityDatabase>}.

        @param readOnly: every transaction is read-only, as a configuration
            check's must be.
        """
        location = redact_uri(uri)
        timeout = DEFAULT_BUSY_TIMEOUT if busyTimeout is None else busyTimeout
        try:
            conninfo = _conninfo(uri)
            reconnectInfo = _conninfo(uri, RECONNECT_TIMEOUT)
            connection = _connect(conninfo, timeout, readOnly)
        except psycopg.Error as e:
            raise translate_postgresql_error(location, e) from None
        return cls(
            connection,
            location,
            readOnly=readOnly,
            conninfo=conninfo,
            reconnectInfo=reconnectInfo,
            busyTimeout=timeout,
        )

    def _reconnect_if_lost(self) -> None:
        """
        Make the connection again if it was lost.

        @raise DatabaseUnavailableError: an attempt failed less than
            L{RECONNECT_GAP} seconds ago.
        @raise psycopg.Error: this attempt failed.
        """
        if not (self._connection.closed or self._connection.broken):
            return
        now = time.monotonic()
        if now < self._retryAt:
            raise DatabaseUnavailableError(
                f"security database {self.location} cannot be reached"
                f" (the last attempt to connect failed {RECONNECT_GAP:g} s ago"
                " or less)"
            )
        self._connection.close()
        try:
            self._connection = _connect(
                self._reconnectInfo, self._busyTimeout, self.readOnly
            )
        except psycopg.Error:
            self._retryAt = time.monotonic() + RECONNECT_GAP
            raise

    def cursor(self) -> Cursor:
        self._reconnect_if_lost()
        return _PostgresqlCursor(self._connection)

    def begin(self, cursor: Cursor, *, write: bool) -> None:
        try:
            self._begin(cursor, write=write)
        except psycopg.OperationalError:
            if not self._connection.broken:
                raise
            # Lost while idle (the server restarted since the last unit):
            # nothing of this unit ran, so it runs on a new connection.
            self._reconnect_if_lost()
            assert isinstance(cursor, _PostgresqlCursor)
            cursor.renew(self._connection)
            self._begin(cursor, write=write)

    def _begin(self, cursor: Cursor, *, write: bool) -> None:
        if write and not self.readOnly:
            cursor.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            try:
                cursor.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
            except psycopg.Error:
                # Unlike SQLite's BEGIN IMMEDIATE, the transaction is open
                # (and aborted) when the lock is refused: end it, so that the
                # connection serves the next unit of work.
                self.rollback(cursor)
                raise
        else:
            # One snapshot for the whole unit, as SQLite's read transaction
            # gives; writes in it (a nested unit) are still possible.
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")

    def commit(self, cursor: Cursor) -> None:
        cursor.execute("COMMIT")

    def rollback(self, cursor: Cursor) -> None:
        try:
            status = self._connection.info.transaction_status
            if status not in (
                psycopg.pq.TransactionStatus.IDLE,
                psycopg.pq.TransactionStatus.UNKNOWN,
            ):
                cursor.execute("ROLLBACK")
        except psycopg.Error:
            # The connection is already unusable; the caller gets the
            # original error, which says more than this one would.
            pass

    def announce(self, cursor: Cursor) -> None:
        """
        Tell every server listening on the database, at commit, that a
        change they must see at once was made.
        """
        cursor.execute(f"NOTIFY {CHANGES_CHANNEL}")

    def listener(self) -> ChangeListener:
        """
        A connection of its own that hears L{announce}.
        """
        return ChangeListener.open(self._reconnectInfo, self.location)

    def retry_now(self) -> None:
        """
        The server is known to be back (a listener connected): the next
        unit of work connects at once, without waiting out the gap.
        """
        self._retryAt = float("-inf")

    def translate(self, error: Exception) -> SecurityError:
        if isinstance(error, psycopg.Error):
            return translate_postgresql_error(self.location, error)
        return DatabaseCorruptError(
            f"security database {self.location} is not usable ({error})"
        )

    def schema_version(self) -> int | None:
        connection = self._connection
        (tables,) = connection.execute(
            "SELECT count(*) FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema()"
        ).fetchone()
        if tables == 0:
            return None
        (marked,) = connection.execute(
            "SELECT to_regclass('nss_schema') IS NOT NULL"
        ).fetchone()
        row = (
            connection.execute(
                "SELECT version FROM nss_schema WHERE application = %s",
                (APPLICATION,),
            ).fetchone()
            if marked
            else None
        )
        if row is None:
            raise DatabaseCorruptError(
                f"{self.location} is a PostgreSQL database but not a security database"
            )
        return int(row[0])

    def check_integrity(self) -> None:
        # PostgreSQL checks its own pages; there is no quick_check to run.
        return None

    def upgradable(self, version: int) -> bool:
        return version in _UPGRADES

    def initialise(self) -> None:
        with self._connection.transaction():
            self._connection.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
            # Another server may have initialised it while this one waited.
            (marked,) = self._connection.execute(
                "SELECT to_regclass('nss_schema') IS NOT NULL"
            ).fetchone()
            if marked:
                return
            # One round trip: psycopg sends a parameterless text whole.
            self._connection.execute(_SCHEMA)
            self._connection.execute(
                "INSERT INTO nss_schema (application, version) VALUES (%s, %s)",
                (APPLICATION, SCHEMA_VERSION),
            )

    def upgrade(self) -> int:
        with self._connection.transaction():
            self._connection.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
            # Read again under the write lock: another server may have
            # upgraded the database since this one opened it.
            (version,) = self._connection.execute(
                "SELECT version FROM nss_schema WHERE application = %s",
                (APPLICATION,),
            ).fetchone()
            version = int(version)
            while version in _UPGRADES:
                for statement in _UPGRADES[version]:
                    self._connection.execute(statement)
                version += 1
                self._connection.execute(
                    "UPDATE nss_schema SET version = %s WHERE application = %s",
                    (version, APPLICATION),
                )
        return version

    def tables(self) -> list[str]:
        rows = self._connection.execute(
            "SELECT tablename FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() AND tablename <> 'nss_schema' "
            'ORDER BY tablename COLLATE "C"'
        ).fetchall()
        return [str(name) for (name,) in rows]

    def columns(self, table: str) -> list[str]:
        rows = self._connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return [str(name) for (name,) in rows]

    def insert_rows(
        self,
        cursor: Cursor,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> int:
        identities = [
            str(name)
            for (name,) in self._connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s "
                "AND is_identity = 'YES'",
                (table,),
            ).fetchall()
        ]
        quoted = quote_identifier(table)
        names = ", ".join(quote_identifier(column) for column in columns)
        marks = ", ".join("?" for _ in columns)
        # A GENERATED ALWAYS identity refuses a value given for it unless
        # told that the value is meant.
        override = " OVERRIDING SYSTEM VALUE" if identities else ""
        statement = f"INSERT INTO {quoted} ({names}){override} VALUES ({marks})"  # noqa: S608
        count = 0
        for row in rows:
            cursor.execute(statement, row)
            count += 1
        for column in identities:
            # The sequence knows nothing of the ids given: without this the
            # next RACDCERT ADD would be handed an id a copied row holds.
            sequence = "pg_get_serial_sequence(?, ?)"
            after = f"coalesce(max({quote_identifier(column)}), 0) + 1"
            moving = f"SELECT setval({sequence}, {after}, false) FROM {quoted}"  # noqa: S608
            cursor.execute(
                moving, (f"{quote_identifier(self._schema())}.{quoted}", column)
            )
        return count

    def _schema(self) -> str:
        (schema,) = self._connection.execute("SELECT current_schema()").fetchone()
        return str(schema)

    def close(self) -> None:
        self._connection.close()


class ChangeListener:
    """
    A connection that listens on L{CHANGES_CHANNEL}, read without blocking
    whenever its socket is readable: a daemon watches L{fileno} in its event
    loop and calls L{changes}.
    """

    def __init__(self, connection: Any, location: str) -> None:
        self._connection = connection
        # A descriptor of our own for the event loop to watch: libpq closes
        # its socket as soon as it finds the connection lost, and the loop
        # must stop watching a descriptor that is still open (a number
        # closed under it may already be another connection's).
        self._fileno: int | None = os.dup(connection.pgconn.socket)
        self.location = location

    @classmethod
    def open(cls, conninfo: str, location: str) -> ChangeListener:
        """
        Connect and listen (blocking: call it from a thread).

        @raise SecurityError: the server cannot be reached, or will not
            let this connection listen (a standby cannot).
        """
        try:
            connection = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as e:
            raise translate_postgresql_error(location, e) from None
        try:
            connection.execute(f"LISTEN {CHANGES_CHANNEL}")
        except psycopg.Error as e:
            connection.close()
            raise translate_postgresql_error(location, e) from None
        return cls(connection, location)

    def fileno(self) -> int:
        return -1 if self._fileno is None else self._fileno

    def changes(self) -> int:
        """
        Read what the server sent; how many announcements it held (0 for
        none, as after a keep-alive).

        @raise DatabaseUnavailableError: the connection was lost.
        """
        pgconn = self._connection.pgconn
        try:
            pgconn.consume_input()
        except psycopg.Error as e:
            raise DatabaseUnavailableError(
                f"security database {self.location} cannot be reached ({e})"
            ) from None
        count = 0
        while pgconn.notifies() is not None:
            count += 1
        if pgconn.status != psycopg.pq.ConnStatus.OK:
            raise DatabaseUnavailableError(
                f"security database {self.location} cannot be reached"
                " (the connection was lost)"
            )
        return count

    def close(self) -> None:
        """
        Close the connection and the watched descriptor; the event loop
        must have stopped watching it.
        """
        fileno, self._fileno = self._fileno, None
        if fileno is not None:
            os.close(fileno)
        self._connection.close()


def _conninfo(uri: str, connectTimeout: int = DEFAULT_CONNECT_TIMEOUT) -> str:
    """
    C{uri} with the engine's defaults for what it does not name itself: a
    connect timeout, and TCP keepalives and a TCP user timeout, so that a
    connection to a server cut off by the network (which sends nothing,
    not even a reset) fails in seconds rather than after TCP's own
    retransmissions, minutes later, while a unit of work waits on it.
    """
    named = psycopg.conninfo.conninfo_to_dict(uri)
    defaults = {
        "connect_timeout": connectTimeout,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
    missing = {k: v for k, v in defaults.items() if k not in named}
    return psycopg.conninfo.make_conninfo(uri, **missing) if missing else uri


def _connect(conninfo: str, busyTimeout: float, readOnly: bool) -> Any:
    """
    A new connection with the engine's session settings.
    """
    connection = psycopg.connect(conninfo, autocommit=True)
    try:
        # Waiting for the write lock (an advisory lock) counts as waiting
        # for a lock: refused after the busy timeout.
        connection.execute(f"SET lock_timeout = {max(1, int(busyTimeout * 1000))}")
        if readOnly:
            connection.execute("SET default_transaction_read_only = on")
    except BaseException:
        connection.close()
        raise
    return connection


def translate_postgresql_error(location: str, error: psycopg.Error) -> SecurityError:
    """
    Turn a psycopg error into the security error an operator can act on, by
    its SQLSTATE: a lock waited on too long is NSR0202E; a server that
    cannot be reached now NSR0346E; a standby, or a role that may not
    write, NSR0347E; anything else makes the database not usable
    (NSR0201E).
    """
    text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    state = error.sqlstate
    if state in _LOCKED_STATES:
        return DatabaseLockedError(
            f"security database {location} is locked by another process ({text})"
        )
    if state == _READ_ONLY_STATE:
        return DatabaseReadOnlyError(
            f"security database {location} takes no changes over this "
            f"connection ({text}): it is a read-only standby, or was opened "
            "read-only; make changes at the primary"
        )
    if state == _PRIVILEGE_STATE:
        return DatabaseReadOnlyError(
            f"the role connected to security database {location} may not make "
            f"this change ({text}): administer with a role that may, as "
            "docs/operations.md describes"
        )
    away = state is None and isinstance(error, psycopg.OperationalError)
    if away or (state is not None and (state[:2] == "08" or state in _AWAY_STATES)):
        return DatabaseUnavailableError(
            f"security database {location} cannot be reached ({text})"
        )
    return DatabaseCorruptError(f"security database {location} is not usable ({text})")
