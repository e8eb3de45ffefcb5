"""
The schema version a security database says it has, read without changing
anything: opening it for use would upgrade an older database and refuse a
newer one, and an operator asking which version it has wants to know before
either happens (before an upgrade of nsstwisted, before moving a database).
"""

from __future__ import annotations

from dataclasses import dataclass

from nsstwisted.security.database import open_engine
from nsstwisted.security.location import is_database_uri
from nsstwisted.security.storage import SCHEMA_VERSION

__all__ = ["StoredVersion", "stored_version"]


@dataclass(frozen=True)
class StoredVersion:
    """
    What a security database is, as C{nss-database version} says.

    @ivar engine: C{"SQLite"} or C{"PostgreSQL"}.
    @ivar location: the file, or the URI without its password.
    @ivar version: the schema version it has, or L{None} if it is empty (not
        yet initialised).
    @ivar understood: the schema version this release reads and writes.
    @ivar upgradable: an older version this release upgrades on open.
    """

    engine: str
    location: str
    version: int | None
    understood: int
    upgradable: bool


def stored_version(location: str, *, busyTimeout: float | None = None) -> StoredVersion:
    """
    The schema version of the database at C{location}, opened read-only.

    @raise DatabaseCorruptError: it does not exist, cannot be reached, or is
        not a security database.
    """
    engine = open_engine(location, create=False, busyTimeout=busyTimeout, readOnly=True)
    try:
        try:
            version = engine.schema_version()
            upgradable = version is not None and engine.upgradable(version)
        except engine.errors as e:
            raise engine.translate(e) from None
        return StoredVersion(
            engine="PostgreSQL" if is_database_uri(location) else "SQLite",
            location=engine.location,
            version=version,
            understood=SCHEMA_VERSION,
            upgradable=upgradable,
        )
    finally:
        engine.close()
