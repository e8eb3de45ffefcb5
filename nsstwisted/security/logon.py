"""
Logon: verifying a user ID with a password or a PassTicket, counting failures
and revoking, as RACF's RACROUTE VERIFY does.

The outcome is a value, not an exception, because every outcome is an
expected answer the NSS server must turn into a reason code for its client.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from nsstwisted.security.accessor import AccessorEnvironment, read_environment
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    UNWRITABLE,
    DatabaseUnavailableError,
    InvalidValueError,
)
from nsstwisted.security.passticket import (
    PASSTICKET_WINDOW,
    PassTicketEvaluator,
    PassTicketRejected,
    PassTicketRejection,
)
from nsstwisted.security.passwords import verify_password
from nsstwisted.security.pendinglogons import (
    REFUSED_LOGONS,
    PendingLogons,
    count_refused,
)
from nsstwisted.security.profiles import ProfileSnapshot, ProfileStore
from nsstwisted.security.storage import Cursor
from nsstwisted.security.users import (
    UserRegistry,
    equalise_password_check,
    normalize_id,
    now,
    revoke_limit,
)
from nsstwisted.security.verified import VerifiedPasswords


class LogonOutcome(enum.Enum):
    """
    Every answer a logon can get.  The outcome is the true reason, for the
    server's own log; what the client is told is less (see
    L{LogonResult.accepted} and the NSS server's mapping), so that no answer
    says whether a user ID exists.
    """

    ACCEPTED = "accepted"
    USER_NOT_DEFINED = "user not defined"
    USER_REVOKED = "user revoked"
    PASSWORD_INVALID = "password not valid"  # noqa: S105
    PROTECTED_USER = "password logon of a protected user (NOPASSWORD)"
    PASSTICKET_INVALID = "PassTicket not valid"
    PASSTICKET_REPLAYED = "PassTicket already used"
    PASSTICKET_NOT_SET_UP = "no PTKTDATA key for the application"
    DATABASE_UNAVAILABLE = (
        "PassTicket not checked: its use cannot be recorded in the security database"
    )


@dataclass(frozen=True)
class LogonResult:
    """
    @ivar revokedNow: this failure was the one that revoked the user, which
        an operator will want to see in the log.
    @ivar environment: of an accepted logon, the user's security
        environment (its groups and attributes), read in the same
        transaction that accepted it, as RACROUTE VERIFY builds the ACEE;
        the session checks with it until it ends.
    """

    outcome: LogonOutcome
    userid: str
    revokedNow: bool = False
    environment: AccessorEnvironment | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is LogonOutcome.ACCEPTED


__all__ = ["REFUSED_LOGONS", "Logon", "LogonOutcome", "LogonResult"]

# A user ID that no profile can have (RACF IDs hold at most 8 characters),
# whose PassTicket is computed when the presented ID is not even well formed,
# so that such a logon costs what any other does.
_NO_SUCH_USER = "NOSUCHID"


def _normalized(userid: str) -> str | None:
    try:
        return normalize_id(userid)
    except InvalidValueError:
        return None


class Logon:
    """
    Verifies credentials against one security database, as RACROUTE
    REQUEST=VERIFY does, with two rules that keep outsiders from learning or
    breaking anything:

        - Every logon does the same work, whether the user ID exists, has a
          password, is revoked or is not even well formed: a password logon
          costs one scrypt verification (unless it presents the very
          password verified last time, which only its holder can), a
          PassTicket logon one evaluation of the whole window.  Time does
          not tell which user IDs exist.
        - Only a failed password or PassTicket of a user who could have
          passed counts toward REVOKE.  A protected user (C{NOPASSWORD})
          cannot log on with a password at all, and no attempt of any kind
          counts against it, as RACF protects such users "from being revoked
          through unsuccessful attempts"; a revoked user's failures do not
          count either, and it learns that it is revoked only by presenting
          valid credentials.

    The secret is checked with no lock on the database: reading the user
    and recording the outcome are two short transactions around it.  A
    check that held the write lock would serialise every logon behind one
    scrypt computation, and a server frozen in the middle of one (a stopped
    process, a primary that hangs) would lock a backup that shares the
    database out of every logon.

    A password that was verified before is not hashed again (see
    L{VerifiedPasswords}): a reconnect storm of clients that were logged on
    costs microseconds a logon instead of one scrypt each.  Only the right
    password is fast; a wrong one still pays the whole check and counts
    toward REVOKE, and an unknown user still pays the equaliser.  An entry
    is dropped:

        - on a password change, by itself: the stored hash is part of the
          entry's key, and a new password is a new hash with a new salt;
        - on REVOKE (by command or by failures) and DELUSER, at the first
          logon attempt that finds the user revoked or gone, before
          anything is accepted (revocation is read afresh after the check);
          C{forget} drops one at once, as nssd does for the revoked and
          deleted users a REFRESH shows it;
        - on every REFRESH (C{forget_all}), so that an operator has one
          command that makes every next logon check the database's hash.

    A PassTicket's use is recorded in the database before it is accepted,
    so that a ticket accepted at one server is refused at every other
    server on the same database; the evaluator's memory refuses a replay
    at this server without asking.

    While the database cannot be reached (or takes no writes: a standby),
    a server given its snapshot goes on with password logons, checked
    against the users as the snapshot holds them; what they should have
    written (failed-logon counts, revocations, the tally) is held in
    L{pending} and written when the database is back.  A PassTicket is
    refused then (L{LogonOutcome.DATABASE_UNAVAILABLE}): its use cannot
    be recorded, and a ticket whose use is not recorded could be replayed
    at another server.

    One instance should serve a whole process, because the PassTicket
    evaluator it holds remembers used tickets to refuse replays, and the
    verified passwords are held per process.
    """

    def __init__(
        self,
        database: SecurityDatabase,
        evaluator: PassTicketEvaluator | None = None,
        snapshot: Callable[[], ProfileSnapshot] | None = None,
    ) -> None:
        """
        @param snapshot: the server's snapshot, which logons check with
            while the database cannot be reached; without it, they fail
            (with the database's error) as before.
        """
        self._database = database
        self._users = UserRegistry(database)
        self._profiles = ProfileStore(database)
        self._evaluator = evaluator or PassTicketEvaluator()
        self._verified = VerifiedPasswords()
        self._snapshot = snapshot
        self.pending = PendingLogons()

    def write_pending(self) -> int:
        """
        Write the logon state held while the database was away.

        @return: how many records were written.
        @raise SecurityError: the database still cannot take them; they
            are kept.
        """
        if not self.pending:
            return 0
        return self.pending.write(self._database)

    def forget(self, userid: str) -> None:
        """
        Drop C{userid}'s verified password: its next password logon pays
        the full check.
        """
        name = _normalized(userid)
        if name is not None:
            self._verified.forget(name)

    def forget_all(self) -> None:
        """
        Drop every verified password (a REFRESH).
        """
        self._verified.clear()

    def with_password(self, userid: str, password: str) -> LogonResult:
        name = _normalized(userid)
        row = None if name is None else self._user(name, offline=True)
        if name is None or row is None:
            if name is not None:
                self._verified.forget(name)
            equalise_password_check(password)
            return self._refused(LogonOutcome.USER_NOT_DEFINED, name or "")
        revoked, stored = row
        if stored is None or revoked:
            self._verified.forget(name)
        if stored is None:
            equalise_password_check(password)
            return self._refused(LogonOutcome.PROTECTED_USER, name)
        valid = self._verified.holds(name, stored, password) or verify_password(
            password, stored
        )
        result = self._conclude(name, valid, counted=True)
        if result.accepted:
            self._verified.remember(name, stored, password)
        elif result.outcome is not LogonOutcome.PASSWORD_INVALID or result.revokedNow:
            # Revoked or deleted: no password of this user is good now.
            self._verified.forget(name)
        return result

    def with_passticket(self, userid: str, applname: str, ticket: str) -> LogonResult:
        """
        Verify a PassTicket for application C{applname} (C{NSSD} for the NSS
        server), whose key is in the PTKTDATA profile of that name.
        """
        name = _normalized(userid)
        try:
            return self._with_passticket(name, applname, ticket)
        except UNWRITABLE:
            return LogonResult(LogonOutcome.DATABASE_UNAVAILABLE, name or "")

    def _with_passticket(
        self, name: str | None, applname: str, ticket: str
    ) -> LogonResult:
        try:
            key = self._profiles.pass_ticket_key(applname)
        except InvalidValueError:
            key = None
        if key is None:
            return LogonResult(LogonOutcome.PASSTICKET_NOT_SET_UP, name or "")
        row = None if name is None else self._user(name, offline=False)
        moment = self._evaluate(name or _NO_SUCH_USER, applname, key, ticket)
        if name is None or row is None:
            if name is not None:
                self._verified.forget(name)
            return self._refused(LogonOutcome.USER_NOT_DEFINED, name or "")
        if moment is PassTicketRejection.REPLAYED:
            return self._refused(LogonOutcome.PASSTICKET_REPLAYED, name)
        revoked, stored = row
        if revoked:
            self._verified.forget(name)
        ticketUsed = (applname.upper(), moment) if isinstance(moment, int) else None
        result = self._conclude(
            name, ticketUsed is not None, counted=stored is not None, ticket=ticketUsed
        )
        if not result.accepted and (
            result.revokedNow
            or result.outcome
            in (LogonOutcome.USER_REVOKED, LogonOutcome.USER_NOT_DEFINED)
        ):
            self._verified.forget(name)
        if result.outcome is LogonOutcome.PASSWORD_INVALID:
            return LogonResult(LogonOutcome.PASSTICKET_INVALID, name, result.revokedNow)
        return result

    def _user(self, userid: str, *, offline: bool) -> tuple[bool, str | None] | None:
        """
        Whether C{userid} is revoked, and its password hash; None for a user
        that is not defined.

        @param offline: if the database cannot be reached, answer from the
            snapshot (and what this server held since) rather than raise.
        """
        try:
            with self._database.reading() as cursor:
                row = cursor.execute(
                    "SELECT revoked, password_hash FROM users WHERE userid = ?",
                    (userid,),
                ).fetchone()
        except DatabaseUnavailableError:
            snapshot = self._snapshot() if offline and self._snapshot else None
            if snapshot is None:
                raise
            state = snapshot.logon_state(userid)
            if state is None:
                return None
            revoked = snapshot.is_revoked(userid) or self.pending.is_revoked(userid)
            return revoked, state[0]
        return None if row is None else (bool(row[0]), row[1])

    def _evaluate(
        self, userid: str, applname: str, key: bytes, ticket: str
    ) -> PassTicketRejection | int:
        """
        The second the ticket was made for, or why it is refused.
        """
        try:
            return self._evaluator.evaluate(userid, applname.upper(), key, ticket)
        except PassTicketRejected as e:
            return e.reason

    def _refused(self, outcome: LogonOutcome, userid: str) -> LogonResult:
        try:
            with self._database.transaction() as cursor:
                count_refused(cursor)
        except UNWRITABLE:
            if self._snapshot is None:
                raise
            self.pending.refused()
        return LogonResult(outcome, userid)

    def _count_refusal(self, cursor: Cursor) -> None:
        """
        Count a refused logon in the database's own tally.  Every refusal
        writes (a counted failure writes the user's row besides), so that
        a commit with changes, the dearest part of a refusal after the
        secret's check, costs the same whoever the user ID is.
        """
        count_refused(cursor)

    def _conclude(
        self,
        userid: str,
        valid: bool,
        *,
        counted: bool,
        ticket: tuple[str, int] | None = None,
    ) -> LogonResult:
        """
        Record the outcome of checked credentials in one short transaction,
        reading the user's revocation and failure count afresh: they may have
        changed while the secret was checked.

        @param counted: whether a failure counts toward REVOKE (not for a
            protected user).
        @param ticket: of a valid PassTicket, its application and second:
            its use is recorded before it is accepted, and a use already
            recorded (at another server) makes it a replay.  Such a logon
            is never concluded from the snapshot.
        """
        try:
            return self._conclude_in_database(userid, valid, counted, ticket)
        except UNWRITABLE:
            if ticket is not None or self._snapshot is None:
                raise
            return self._conclude_offline(userid, valid, counted, self._snapshot())

    def _conclude_offline(
        self, userid: str, valid: bool, counted: bool, snapshot: ProfileSnapshot
    ) -> LogonResult:
        """
        Conclude a password logon from the snapshot while the database
        cannot take the outcome, holding what must be written.
        """
        pending = self.pending
        state = snapshot.logon_state(userid)
        if state is None:
            pending.refused()
            return LogonResult(LogonOutcome.USER_NOT_DEFINED, userid)
        if snapshot.is_revoked(userid) or pending.is_revoked(userid):
            pending.refused()
            outcome = LogonOutcome.USER_REVOKED if valid else None
            return LogonResult(outcome or LogonOutcome.PASSWORD_INVALID, userid)
        if valid:
            pending.accepted(userid, now())
            return LogonResult(
                LogonOutcome.ACCEPTED, userid, environment=snapshot.environment(userid)
            )
        pending.refused()
        if not counted:
            return LogonResult(LogonOutcome.PASSWORD_INVALID, userid)
        revokedNow = pending.failed(userid, state[1], snapshot.revokeLimit)
        return LogonResult(LogonOutcome.PASSWORD_INVALID, userid, revokedNow)

    def _record_ticket(
        self, cursor: Cursor, userid: str, ticket: tuple[str, int]
    ) -> bool:
        """
        Record a PassTicket's use; C{False} if it was recorded already.

        Uses that can no longer be presented are dropped on the way: this
        ticket was accepted, so the clock is within the window of its
        second, and a ticket two windows older is outside it, whichever
        server's clock judges (no clock is read here).
        """
        applname, moment = ticket
        cursor.execute(
            "DELETE FROM passticket_uses WHERE userid = ? AND applname = ?"
            " AND moment < ?",
            (userid, applname, moment - 2 * PASSTICKET_WINDOW),
        )
        cursor.execute(
            "INSERT INTO passticket_uses (userid, applname, moment) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (userid, applname, moment),
        )
        return cursor.rowcount == 1

    def _conclude_in_database(
        self,
        userid: str,
        valid: bool,
        counted: bool,
        ticket: tuple[str, int] | None,
    ) -> LogonResult:
        with self._database.transaction() as cursor:
            row = cursor.execute(
                "SELECT revoked FROM users WHERE userid = ?", (userid,)
            ).fetchone()
            if row is None:
                # Deleted while its secret was checked.
                self._count_refusal(cursor)
                return LogonResult(LogonOutcome.USER_NOT_DEFINED, userid)
            if row[0]:
                # Told only to whoever holds valid credentials; nothing counts.
                self._count_refusal(cursor)
                outcome = LogonOutcome.USER_REVOKED if valid else None
                return LogonResult(outcome or LogonOutcome.PASSWORD_INVALID, userid)
            if valid and ticket is not None:
                if not self._record_ticket(cursor, userid, ticket):
                    self._count_refusal(cursor)
                    return LogonResult(LogonOutcome.PASSTICKET_REPLAYED, userid)
            if valid:
                cursor.execute(
                    "UPDATE users SET failed_logons = 0, last_logon = ?"
                    " WHERE userid = ?",
                    (now(), userid),
                )
                # The user's security environment, as RACF builds it at
                # logon: its groups and attributes as they are now.
                return LogonResult(
                    LogonOutcome.ACCEPTED,
                    userid,
                    environment=read_environment(cursor, userid),
                )
            self._count_refusal(cursor)
            if not counted:
                return LogonResult(LogonOutcome.PASSWORD_INVALID, userid)
            cursor.execute(
                "UPDATE users SET failed_logons = failed_logons + 1 WHERE userid = ?",
                (userid,),
            )
            (failures,) = cursor.execute(
                "SELECT failed_logons FROM users WHERE userid = ?", (userid,)
            ).fetchone()
            limit = revoke_limit(self._database, cursor)
            revokeNow = limit > 0 and failures >= limit
            if revokeNow:
                cursor.execute(
                    "UPDATE users SET revoked = 1 WHERE userid = ?", (userid,)
                )
            return LogonResult(LogonOutcome.PASSWORD_INVALID, userid, revokeNow)
