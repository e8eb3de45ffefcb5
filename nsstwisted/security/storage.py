"""
What the security model needs of a database engine, and nothing more.

The users, profiles, key rings and logon state are written in SQL against a
L{Cursor}; the engine underneath (SQLite, the embedded default, and later
PostgreSQL for servers that share one database) supplies the cursors, the
transactions, the schema and its migrations, and turns its own errors into
the L{SecurityError} family, so that an operator sees the same messages
whichever engine holds the data.  L{SecurityDatabase
<nsstwisted.security.database.SecurityDatabase>} keeps what is the same on
every engine: units of work that nest, settings, the schema version policy
and the master key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from nsstwisted.security.errors import SecurityError

# The schema this release reads and writes.  Every engine creates it and
# brings an older database up to it; a newer one is refused (NSR0345E),
# since this release cannot know what the newer columns mean to a decision.
SCHEMA_VERSION = 4

# Version 3 added the two tables a serving daemon writes besides the
# users' logon state: the PassTickets used (in the database, so that a
# ticket accepted at one server is refused at another) and the logon
# counters, which were settings before (a serving role may write them, and
# no setting).  Both engines write them the same way.
SCHEMA_3_TABLES = """
CREATE TABLE passticket_uses (
    userid TEXT{collate} NOT NULL,
    applname TEXT{collate} NOT NULL,
    moment BIGINT NOT NULL,
    PRIMARY KEY (userid, applname, moment)
);
CREATE TABLE logon_counters (
    name TEXT{collate} PRIMARY KEY,
    value BIGINT NOT NULL
)
"""

# Version 4 added where a certificate's private key lives when a PKCS#11
# token holds it: an RFC 7512 URI naming the token, the key object's label
# and its id (never the key), beside sealed_key, which such a certificate
# leaves empty.  Both engines add the column the same way.
SCHEMA_4_COLUMN = "ALTER TABLE certificates ADD COLUMN token_key TEXT{collate}"

# What brings a version 2 database to version 3, after SCHEMA_3_TABLES.
SCHEMA_3_MOVES = (
    "INSERT INTO logon_counters (name, value) SELECT name, CAST(value AS BIGINT)"
    " FROM settings WHERE name = 'refused_logons'",
    "DELETE FROM settings WHERE name = 'refused_logons'",
)

# Every table of the schema, parents before children (a row's foreign keys
# name rows of tables listed before it).  The one list that says what a
# whole security database is: a copy (nss-database copy) moves these tables
# and refuses a database that has any other, so a table added to the schema
# without being added here fails loudly instead of being left behind.  An
# engine's own bookkeeping (PostgreSQL's nss_schema) is not the schema's.
SCHEMA_TABLES = (
    "settings",
    "users",
    "groups",
    "connections",
    "profiles",
    "access_list",
    "certificates",
    "rings",
    "ring_members",
    "passticket_uses",
    "logon_counters",
)

# How long a unit of work waits for another process's write lock before it
# is refused with NSR0202E, in seconds.
DEFAULT_BUSY_TIMEOUT = 5.0


def quote_identifier(name: str) -> str:
    """
    A table or column name as SQL writes it in both engines: double-quoted,
    so that a name read from a database is never taken for SQL.
    """
    return '"' + name.replace('"', '""') + '"'


class Cursor(Protocol):
    """
    The part of a DB-API cursor the security model uses.

    Rows are tuples in the order of the SELECT list; C{?} marks a
    parameter (an engine whose driver spells it otherwise translates).
    """

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        """
        Run one statement; return the cursor, so that a fetch can follow.
        """

    def fetchone(self) -> Any:
        """
        The next row, or C{None}.
        """

    def fetchall(self) -> list[Any]:
        """
        The remaining rows.
        """

    def __iter__(self) -> Iterator[Any]:
        """
        The remaining rows, one at a time.
        """

    @property
    def rowcount(self) -> int:
        """
        How many rows the last UPDATE or DELETE touched.
        """


class ChangeListener(Protocol):
    """
    A connection that hears what L{StorageEngine.announce} announces; a
    daemon watches its file descriptor in its event loop.
    """

    def fileno(self) -> int:
        """
        The descriptor that becomes readable when the server sends.
        """

    def changes(self) -> int:
        """
        Read without blocking; how many announcements arrived.

        @raise SecurityError: the connection was lost.
        """

    def close(self) -> None:
        """
        Stop listening.
        """


class StorageEngine(Protocol):
    """
    One connection to one security database.

    Not safe to share between threads by itself: L{SecurityDatabase
    <nsstwisted.security.database.SecurityDatabase>} serialises its callers.

    @ivar location: what an operator knows the database by (a file path, a
        connection URI without its password), named in every error.
    @ivar readOnly: nothing may be written through this connection.
    @ivar errors: the engine's own exception classes, which
        L{translate} turns into security errors.
    """

    location: str
    readOnly: bool
    errors: tuple[type[Exception], ...]

    def cursor(self) -> Cursor:
        """
        A new cursor on the connection.
        """

    def begin(self, cursor: Cursor, *, write: bool) -> None:
        """
        Start a transaction: with C{write}, take the write lock up front, so
        that a unit of work never fails half-way for want of it; without,
        read one consistent view.
        """

    def commit(self, cursor: Cursor) -> None:
        """
        Commit the open transaction.
        """

    def rollback(self, cursor: Cursor) -> None:
        """
        Roll back the open transaction, if any; never raise, since the
        caller is already reporting the error that made it roll back.
        """

    def translate(self, error: Exception) -> SecurityError:
        """
        Turn one of L{errors} into the security error an operator can act
        on: locked (NSR0202E), or not usable (NSR0201E), naming L{location}.
        """

    def schema_version(self) -> int | None:
        """
        The schema version the database says it has, or C{None} for an empty
        database that is not yet initialised.

        @raise DatabaseCorruptError: the database belongs to another
            application.
        """

    def check_integrity(self) -> None:
        """
        Refuse a database the engine finds damaged.

        @raise DatabaseCorruptError: it is damaged.
        """

    def initialise(self) -> None:
        """
        Create the schema of L{SCHEMA_VERSION} in an empty database, in one
        transaction.
        """

    def upgrade(self) -> int:
        """
        Bring an older database to L{SCHEMA_VERSION}, one version at a time,
        in one transaction: it ends upgraded or untouched.

        @return: the version the database has now, read again under the
            write lock (another process may have upgraded it meanwhile, even
            beyond L{SCHEMA_VERSION}).
        """

    def upgradable(self, version: int) -> bool:
        """
        Whether this engine has a migration path from C{version}.
        """

    def announce(self, cursor: Cursor) -> None:
        """
        Inside a unit of work that writes: tell every daemon listening on
        the database, when it commits, that it must catch up now (a
        REFRESH, new class options).  An engine that cannot push does
        nothing, and its daemons find the change by polling.
        """

    def listener(self) -> ChangeListener | None:
        """
        A new connection that hears L{announce}, or C{None} where changes
        are not pushed.

        @raise SecurityError: it cannot be made now.
        """

    def retry_now(self) -> None:
        """
        The server is known to be reachable again: an engine that waits
        between attempts to connect tries at the next unit of work.
        """

    def tables(self) -> list[str]:
        """
        The names of the tables the database holds, without the engine's
        own bookkeeping: inside a unit of work, so that they are the ones
        its rows are read from.
        """

    def columns(self, table: str) -> list[str]:
        """
        The names of C{table}'s columns in their order, or an empty list
        where the database has no such table.
        """

    def insert_rows(
        self,
        cursor: Cursor,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> int:
        """
        Insert C{rows} into C{table} as they are, generated ids included (a
        copied certificate keeps the id its ring memberships name), and
        leave the next generated id past the highest one inserted.

        @param columns: names the engine listed in L{columns}.
        @return: how many rows were inserted.
        """

    def close(self) -> None:
        """
        Close the connection.
        """
