"""
Logon: verifying a user ID with a password or a PassTicket, counting failures
and revoking, as RACF's RACROUTE VERIFY does.

The outcome is a value, not an exception, because every outcome is an
expected answer the NSS server must turn into a reason code for its client.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import InvalidValueError
from nsstwisted.security.passticket import (
    PassTicketEvaluator,
    PassTicketRejected,
    PassTicketRejection,
)
from nsstwisted.security.profiles import ProfileStore
from nsstwisted.security.users import (
    UserRegistry,
    normalize_id,
    now,
    revoke_limit,
)


class LogonOutcome(enum.Enum):
    """
    Every answer a logon can get.
    """

    ACCEPTED = "accepted"
    USER_NOT_DEFINED = "user not defined"
    USER_REVOKED = "user revoked"
    PASSWORD_INVALID = "password not valid"  # noqa: S105
    PASSTICKET_INVALID = "PassTicket not valid"
    PASSTICKET_REPLAYED = "PassTicket already used"
    PASSTICKET_NOT_SET_UP = "no PTKTDATA key for the application"


@dataclass(frozen=True)
class LogonResult:
    """
    @ivar revokedNow: this failure was the one that revoked the user, which
        an operator will want to see in the log.
    """

    outcome: LogonOutcome
    userid: str
    revokedNow: bool = False

    @property
    def accepted(self) -> bool:
        return self.outcome is LogonOutcome.ACCEPTED


class Logon:
    """
    Verifies credentials against one security database.

    One instance should serve a whole process, because the PassTicket
    evaluator it holds remembers used tickets to refuse replays.
    """

    def __init__(
        self, database: SecurityDatabase, evaluator: PassTicketEvaluator | None = None
    ) -> None:
        self._database = database
        self._users = UserRegistry(database)
        self._profiles = ProfileStore(database)
        self._evaluator = evaluator or PassTicketEvaluator()

    def with_password(self, userid: str, password: str) -> LogonResult:
        try:
            userid = normalize_id(userid)
        except InvalidValueError:
            return LogonResult(LogonOutcome.USER_NOT_DEFINED, userid.upper())
        return self._verify(
            userid, lambda cursor: self._users.check_password(cursor, userid, password)
        )

    def with_passticket(self, userid: str, applname: str, ticket: str) -> LogonResult:
        """
        Verify a PassTicket for application C{applname} (C{NSSD} for the NSS
        server), whose key is in the PTKTDATA profile of that name.
        """
        try:
            userid = normalize_id(userid)
        except InvalidValueError:
            return LogonResult(LogonOutcome.USER_NOT_DEFINED, userid.upper())
        try:
            key = self._profiles.pass_ticket_key(applname)
        except InvalidValueError:
            key = None
        if key is None:
            return LogonResult(LogonOutcome.PASSTICKET_NOT_SET_UP, userid)
        rejection: list[PassTicketRejection] = []

        def check(cursor: sqlite3.Cursor) -> bool:
            try:
                self._evaluator.evaluate(userid, applname.upper(), key, ticket)
            except PassTicketRejected as e:
                rejection.append(e.reason)
                return False
            return True

        result = self._verify(userid, check)
        if rejection and result.outcome is LogonOutcome.PASSWORD_INVALID:
            outcome = (
                LogonOutcome.PASSTICKET_REPLAYED
                if rejection[0] is PassTicketRejection.REPLAYED
                else LogonOutcome.PASSTICKET_INVALID
            )
            return LogonResult(outcome, userid, result.revokedNow)
        return result

    def _verify(
        self, userid: str, check: Callable[[sqlite3.Cursor], bool]
    ) -> LogonResult:
        database = self._database
        with database.transaction() as cursor:
            row = cursor.execute(
                "SELECT revoked, failed_logons FROM users WHERE userid = ?", (userid,)
            ).fetchone()
            if row is None:
                return LogonResult(LogonOutcome.USER_NOT_DEFINED, userid)
            if row[0]:
                return LogonResult(LogonOutcome.USER_REVOKED, userid)
            if check(cursor):
                cursor.execute(
                    "UPDATE users SET failed_logons = 0, last_logon = ? "
                    "WHERE userid = ?",
                    (now(), userid),
                )
                return LogonResult(LogonOutcome.ACCEPTED, userid)
            failures = row[1] + 1
            limit = revoke_limit(database, cursor)
            revokeNow = limit > 0 and failures >= limit
            cursor.execute(
                "UPDATE users SET failed_logons = ?, revoked = ? WHERE userid = ?",
                (failures, int(revokeNow), userid),
            )
            return LogonResult(LogonOutcome.PASSWORD_INVALID, userid, revokeNow)
