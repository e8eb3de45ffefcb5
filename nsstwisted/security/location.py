"""
Where the security database and its stash file live.

Every command and daemon finds them by the same rule, so that an operator who
sets C{NSS_SECURITY_DB} once is never surprised by one tool looking elsewhere:

  1. an explicit path (C{--database PATH}, or a daemon's configuration);
  2. the environment variable C{NSS_SECURITY_DB};
  3. L{DEFAULT_DATABASE}.

The stash file is C{--stash PATH}, else C{NSS_STASH}, else the database path
with its C{.db} suffix replaced by C{.sth} (or C{.sth} appended), beside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

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
    stem, suffix = os.path.splitext(database)
    return (stem if suffix == ".db" else database) + ".sth"
