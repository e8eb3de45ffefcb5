"""
Logon state that could not be written: what a server learned from logons
while its security database could not be reached (or would not take
writes), held until the database is back.

A failed password still counts toward REVOKE while the database is away:
the count starts from the failures the server's snapshot knows and adds
those seen since, so a guesser gains nothing from an outage, and a user
revoked here is refused here at once.  When the database takes writes
again, the held state is written in one unit of work, added to what other
servers wrote meanwhile (counts are added, never overwritten), and the
revocations it causes are the database's to decide by its own limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.storage import Cursor
from nsstwisted.security.users import revoke_limit

#: The logon counter that tallies refused logons.
REFUSED_LOGONS = "refused_logons"


@dataclass
class _Held:
    """
    What happened to one user's logons, in order: an accepted logon
    (C{reset}, at C{lastLogon}) wipes the failures before it.
    """

    reset: bool = False
    failures: int = 0
    revoked: bool = False
    lastLogon: str | None = None

    def merged_after(self, earlier: _Held) -> _Held:
        """
        This state, which came after C{earlier}, on top of it.
        """
        return _Held(
            reset=self.reset or earlier.reset,
            failures=self.failures if self.reset else earlier.failures + self.failures,
            revoked=self.revoked or earlier.revoked,
            lastLogon=self.lastLogon or earlier.lastLogon,
        )


class PendingLogons:
    """
    The held state of one server; safe to call from several threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, _Held] = {}
        self._refused = 0

    def __len__(self) -> int:
        """
        How many records wait to be written (users, and the tally if any).
        """
        with self._lock:
            return len(self._users) + (1 if self._refused else 0)

    def accepted(self, userid: str, when: str) -> None:
        with self._lock:
            self._users[userid] = _Held(reset=True, lastLogon=when).merged_after(
                self._users.get(userid, _Held())
            )

    def refused(self) -> None:
        with self._lock:
            self._refused += 1

    def failed(self, userid: str, knownFailures: int, limit: int) -> bool:
        """
        Count a failed logon of C{userid}, whose failures were
        C{knownFailures} when the snapshot was taken.

        @return: whether this failure revoked the user.
        """
        with self._lock:
            held = self._users.setdefault(userid, _Held())
            held.failures += 1
            total = held.failures + (0 if held.reset else knownFailures)
            if limit > 0 and total >= limit and not held.revoked:
                held.revoked = True
                return True
            return False

    def is_revoked(self, userid: str) -> bool:
        with self._lock:
            held = self._users.get(userid)
            return held is not None and held.revoked

    def write(self, database: SecurityDatabase) -> int:
        """
        Write the held state in one unit of work, and forget it; if the
        write fails, keep it (with whatever arrived meanwhile) and raise.

        @return: how many records were written.
        """
        with self._lock:
            users, self._users = self._users, {}
            refused, self._refused = self._refused, 0
        try:
            with database.transaction() as cursor:
                limit = revoke_limit(database, cursor)
                for userid, held in sorted(users.items()):
                    if held.reset:
                        cursor.execute(
                            "UPDATE users SET failed_logons = 0, last_logon = ?"
                            " WHERE userid = ?",
                            (held.lastLogon, userid),
                        )
                    if held.failures:
                        cursor.execute(
                            "UPDATE users SET failed_logons = failed_logons + ?"
                            " WHERE userid = ?",
                            (held.failures, userid),
                        )
                    row = cursor.execute(
                        "SELECT failed_logons FROM users WHERE userid = ?", (userid,)
                    ).fetchone()
                    if row is None:
                        continue
                    if held.revoked or (
                        limit > 0 and held.failures and row[0] >= limit
                    ):
                        cursor.execute(
                            "UPDATE users SET revoked = 1 WHERE userid = ?", (userid,)
                        )
                if refused:
                    count_refused(cursor, refused)
        except BaseException:
            with self._lock:
                for userid, held in users.items():
                    later = self._users.get(userid)
                    self._users[userid] = (
                        held if later is None else later.merged_after(held)
                    )
                self._refused += refused
            raise
        return len(users) + (1 if refused else 0)


def count_refused(cursor: Cursor, count: int = 1) -> None:
    """
    Add C{count} refused logons to the database's tally, inside a unit of
    work.
    """
    cursor.execute(
        "INSERT INTO logon_counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = logon_counters.value + ?",
        (REFUSED_LOGONS, count, count),
    )
