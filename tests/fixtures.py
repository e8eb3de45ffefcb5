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
    """
    folder = case.mktemp()
    os.makedirs(folder)
    database = SecurityDatabase.open(
        os.path.join(folder, "security.db"), os.path.join(folder, "security.sth")
    )
    case.addCleanup(database.close)
    return database
