"""
Where the security database and its stash file live.

Every command and daemon finds them by the same rule, so that an operator who
sets C{NSS_SECURITY_DB} once is never surprised by one tool looking elsewhere:

  1. an explicit path (C{--database PATH}, or a daemon's configuration);
  2. the environment variable C{NSS_SECURITY_DB};
  3. L{DEFAULT_DATABASE}.

The database is the path of an SQLite file, or a PostgreSQL connection URI
(C{postgresql://...} or C{postgres://...}, libpq's syntax).

The stash file is C{--stash PATH}, else C{NSS_STASH}, else the database path
with its C{.db} suffix replaced by C{.sth} (or C{.sth} appended), beside it.
A database named by a URI has no "beside it" on this host: its stash must be
named (C{--stash} or C{NSS_STASH}), and is refused with NSR0203E otherwise.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping

from nsstwisted.security.errors import StashError

DEFAULT_DATABASE = "/var/lib/nsstwisted/security.db"
DATABASE_VARIABLE = "NSS_SECURITY_DB"
STASH_VARIABLE = "NSS_STASH"


def database_path(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """
    The security database path by the documented search order.
    """
    if explicit:
        return explicit
    env = os.environ if environ is None else environ
    return env.get(DATABASE_VARIABLE) or DEFAULT_DATABASE


def stash_path(
    database: str,
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """
    The stash file path for C{database} by the documented search order.
    """
    if explicit:
        return explicit
    env = os.environ if environ is None else environ
    from_env = env.get(STASH_VARIABLE)
    if from_env:
        return from_env
    if is_database_uri(database):
        raise StashError(
            f"security database {redact_uri(database)} is a PostgreSQL database: "
            f"name its stash file with --stash or {STASH_VARIABLE} (every server "
            "on the database needs a copy of the same stash)"
        )
    stem, suffix = os.path.splitext(database)
    return (stem if suffix == ".db" else database) + ".sth"


def is_database_uri(location: str) -> bool:
    """
    Whether C{location} is a PostgreSQL connection URI (libpq's two
    spellings) rather than the path of an SQLite file.
    """
    return location.startswith(("postgresql://", "postgres://"))


def redact_uri(uri: str) -> str:
    """
    The URI without its password, as messages may name it: in the user
    part or as a C{password} parameter.
    """
    parts = urllib.parse.urlsplit(uri)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}@{hosts}" if at else hosts
    query = urllib.parse.urlencode(
        [
            (name, value)
            for name, value in urllib.parse.parse_qsl(
                parts.query, keep_blank_values=True
            )
            if name != "password"
        ],
        safe="/",
        quote_via=urllib.parse.quote,
    )
    # Spelled out: urlunsplit would drop the "//" of an empty host part.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def shown_location(location: str) -> str:
    """
    A database location as a message may show it: a PostgreSQL URI without
    its password, a path as it is.
    """
    return redact_uri(location) if is_database_uri(location) else location
