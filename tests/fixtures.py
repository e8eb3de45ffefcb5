"""
Shared test fixtures: real security databases in per-test folders.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.database import SecurityDatabase


def new_database(case: SynchronousTestCase) -> SecurityDatabase:
    """
    Open a fresh security database (and stash path) in a new folder of
    C{case}, closed when the test ends.

    The database is an SQLite file, or, for a test case whose
    C{databaseEngine} is C{"postgresql"}, a schema of its own on the test
    run's PostgreSQL server (the test is skipped where none can run).
    """
    folder = case.mktemp()
    os.makedirs(folder)
    location = os.path.join(folder, "security.db")
    if getattr(case, "databaseEngine", "sqlite") == "postgresql":
        from tests.postgresql import postgresql_uri

        location = postgresql_uri(case)
    database = SecurityDatabase.open(location, os.path.join(folder, "security.sth"))
    case.addCleanup(database.close)
    return database
