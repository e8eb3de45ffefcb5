"""
Copying a whole security database to another location: from an SQLite file
to PostgreSQL when a single host grows into a primary and a backup, from
PostgreSQL to a file for a copy to keep, or from file to file.

A copy is all or nothing, because half a security database decides wrongly
(a profile without its access list denies, a ring without its certificates
signs with nothing):

  - the source is read in one transaction, so the copy is one moment of it
    even while servers go on recording logons; it is read whole before the
    target is touched (a security database is thousands of rows, not
    millions), so that the source is not held open while the target writes,
    and an error is always the database's that made it;
  - the target is written in one transaction, which first makes sure the
    target holds no rows: a copy never merges, since no rule could choose
    between two users, profiles or master keys of one name;
  - a new target file that a failed copy made is removed again, and a
    PostgreSQL target keeps only the schema's empty tables, which a new copy
    accepts.

The tables are those of L{SCHEMA_TABLES}, read by the columns each engine
reports, so that the copy follows the schema: a database with a table the
list does not name is refused (NSR0351E) rather than copied without it.
Sealed private keys and PassTicket keys are copied sealed, as they are; the
stash that opens them opens the copy, and is checked against the source
before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    CopyFailedError,
    SchemaTablesError,
    SecurityError,
    TargetNotEmptyError,
)
from nsstwisted.security.location import is_database_uri
from nsstwisted.security.storage import SCHEMA_TABLES, quote_identifier

__all__ = ["CopyReport", "TableRows", "copy_database", "read_tables", "write_tables"]


@dataclass(frozen=True)
class TableRows:
    """
    One table of a security database, read whole.

    @ivar columns: in the order the source engine lists them; each row's
        values are in this order.
    """

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class CopyReport:
    """
    What a copy did, for the operator.

    @ivar source: the source's location as messages show it (no password).
    @ivar target: the target's, likewise.
    @ivar sealed: the source has sealed keys, so the copy needs the stash
        that was checked against it.
    @ivar counts: the rows copied, per table, in L{SCHEMA_TABLES} order.
    """

    source: str
    target: str
    schemaVersion: int
    sealed: bool
    counts: tuple[tuple[str, int], ...]


def _refuse_unknown_tables(database: SecurityDatabase) -> None:
    unknown = sorted(set(database.tables()) - set(SCHEMA_TABLES))
    if unknown:
        raise SchemaTablesError(
            f"security database {database.path} has the table"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}, which this "
            f"release's list of the schema's tables (schema version "
            f"{database.schemaVersion}) does not name: a copy would leave "
            f"{'them' if len(unknown) > 1 else 'it'} behind, so nothing was copied"
        )


def read_tables(source: SecurityDatabase) -> tuple[bool, list[TableRows]]:
    """
    Every table of C{source}, in one transaction, after checking its stash.

    @return: whether the source has sealed keys (and so checked its stash),
        and its tables in L{SCHEMA_TABLES} order.
    @raise StashError: the stash does not open the source's sealed keys.
    @raise SchemaTablesError: the source has a table the list does not name,
        or lacks one it names.
    """
    with source.reading() as cursor:
        sealed = source.check_stash()
        _refuse_unknown_tables(source)
        tables = []
        for name in SCHEMA_TABLES:
            columns = source.columns(name)
            if not columns:
                raise SchemaTablesError(
                    f"security database {source.path} has no table {name}, "
                    f"which schema version {source.schemaVersion} has: it is "
                    "damaged, so nothing was copied"
                )
            selected = ", ".join(quote_identifier(column) for column in columns)
            # Identifiers only, quoted: the table's from the list, the
            # columns as the engine named them.
            query = f"SELECT {selected} FROM {quote_identifier(name)}"  # noqa: S608
            rows = cursor.execute(query).fetchall()
            tables.append(
                TableRows(name, tuple(columns), tuple(tuple(row) for row in rows))
            )
    return sealed, tables


def write_tables(target: SecurityDatabase, tables: list[TableRows]) -> None:
    """
    Write C{tables} into the empty C{target}, in one transaction.

    @raise TargetNotEmptyError: a table of the target holds rows; nothing
        was written.
    @raise SchemaTablesError: the target's tables or columns are not the
        source's; nothing was written.
    @raise CopyFailedError: the target refused a row; the transaction was
        rolled back, and the target holds none of the copy.
    """
    writing: str | None = None
    try:
        with target.transaction() as cursor:
            _refuse_unknown_tables(target)
            occupied = []
            for table in tables:
                columns = target.columns(table.name)
                if sorted(columns) != sorted(table.columns):
                    raise SchemaTablesError(
                        f"table {table.name} of security database {target.path} "
                        f"has the columns {', '.join(columns) or '(none)'}, but the "
                        f"source's has {', '.join(table.columns)}: nothing was copied"
                    )
                counting = f"SELECT count(*) FROM {quote_identifier(table.name)}"  # noqa: S608
                (count,) = cursor.execute(counting).fetchone()
                if count:
                    occupied.append(f"{table.name} {count}")
            if occupied:
                raise TargetNotEmptyError(
                    f"security database {target.path} is not empty (rows in "
                    f"{', '.join(occupied)}): a copy goes only into a new file or "
                    "an empty database, and never merges; nothing was written"
                )
            for table in tables:
                writing = table.name
                target.insert_rows(cursor, table.name, table.columns, table.rows)
    except SecurityError as e:
        if writing is None:
            raise
        raise CopyFailedError(
            f"copying into security database {target.path} failed at table "
            f"{writing} ({e}); the copy was rolled back and the target holds "
            "none of it"
        ) from None


def copy_database(
    sourceLocation: str,
    targetLocation: str,
    stashPath: str,
    *,
    busyTimeout: float | None = None,
) -> CopyReport:
    """
    Copy the security database at C{sourceLocation} to C{targetLocation}.

    The source must be a security database: an older schema is upgraded
    as every open does, a newer one refused (NSR0345E), an empty one
    refused.  The target must be a new file, or a database with no rows;
    an empty one is given the schema.

    @param stashPath: the stash of the source, which serves the copy as it
        is: its sealed keys are not resealed.
    """
    source = SecurityDatabase.open(
        sourceLocation,
        stashPath,
        create=False,
        initialise=False,
        busyTimeout=busyTimeout,
    )
    try:
        sealed, tables = read_tables(source)
        version = source.schemaVersion
        sourceShown = source.path
    finally:
        source.close()
    made = not is_database_uri(targetLocation) and not os.path.lexists(targetLocation)
    try:
        target = SecurityDatabase.open(
            targetLocation, stashPath, busyTimeout=busyTimeout
        )
        try:
            if target.schemaVersion != version:
                raise SchemaTablesError(
                    f"security database {target.path} has schema version "
                    f"{target.schemaVersion}, its source {version}: nothing was copied"
                )
            write_tables(target, tables)
            targetShown = target.path
        finally:
            target.close()
    except BaseException:
        if made:
            # A file this copy made and could not fill: an empty database
            # left at that path would pass for the copy.
            try:
                os.unlink(targetLocation)
            except OSError:
                pass
        raise
    return CopyReport(
        source=sourceShown,
        target=targetShown,
        schemaVersion=version,
        sealed=sealed,
        counts=tuple((table.name, len(table.rows)) for table in tables),
    )
