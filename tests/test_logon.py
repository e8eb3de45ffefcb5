"""
Tests for L{nsstwisted.security.logon}: passwords, revocation after N
failures, RESUME, and PassTicket logons with window edges and replay.
"""

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.logon import Logon, LogonOutcome
from nsstwisted.security.passticket import (
    PassTicketEvaluator,
    generate_passticket,
    parse_key,
)
from nsstwisted.security.profiles import ProfileStore, ResourceClass
from nsstwisted.security.users import UserRegistry
from tests.fixtures import new_database

KEY = "E001193519561977"
NOW = 1_800_000_000


class PasswordLogonTests(SynchronousTestCase):
    def setUp(self) -> None:
        database = new_database(self)
        self.users = UserRegistry(database)
        self.users.add_user("client1", password="right")
        self.logon = Logon(database)

    def test_accepted(self) -> None:
        result = self.logon.with_password("client1", "right")
        self.assertEqual(result.outcome, LogonOutcome.ACCEPTED)
        self.assertIsNotNone(self.users.get_user("client1").lastLogon)

    def test_acceptedBuildsEnvironment(self) -> None:
        """
        An accepted logon carries the user's security environment as the
        database holds it at that moment; a refused one carries none.
        """
        self.users.add_group("g1")
        self.users.connect("client1", "g1")
        self.users.alter_user("client1", restricted=True)
        result = self.logon.with_password("client1", "right")
        assert result.environment is not None
        self.assertEqual(result.environment.userid, "CLIENT1")
        self.assertEqual(result.environment.groups, frozenset({"G1"}))
        self.assertTrue(result.environment.restricted)
        self.assertIsNone(self.logon.with_password("client1", "wrong").environment)

    def test_unknownUser(self) -> None:
        self.assertEqual(
            self.logon.with_password("nobody", "x").outcome,
            LogonOutcome.USER_NOT_DEFINED,
        )
        self.assertEqual(
            self.logon.with_password("not a valid id", "x").outcome,
            LogonOutcome.USER_NOT_DEFINED,
        )

    def test_noPasswordSet(self) -> None:
        """
        A protected user (NOPASSWORD) cannot log on with a password, and no
        number of attempts revokes it: an outsider cannot lock out the
        clients that log on with PassTickets (issue 22, item 3).
        """
        self.users.add_user("nopw")
        for _ in range(5):
            self.assertEqual(
                self.logon.with_password("nopw", "x").outcome,
                LogonOutcome.PROTECTED_USER,
            )
        profile = self.users.get_user("nopw")
        self.assertFalse(profile.revoked)
        self.assertEqual(profile.failedLogons, 0)

    def test_revokedToldOnlyWithRightPassword(self) -> None:
        """
        A revoked user is told so only when it presents the right password;
        a wrong one gets the answer an unknown user gets, and counts nothing.
        """
        self.users.set_revoke_limit(1)
        self.logon.with_password("client1", "wrong")
        self.assertEqual(
            self.logon.with_password("client1", "wrong").outcome,
            LogonOutcome.PASSWORD_INVALID,
        )
        self.assertEqual(self.users.get_user("client1").failedLogons, 1)
        self.assertEqual(
            self.logon.with_password("client1", "right").outcome,
            LogonOutcome.USER_REVOKED,
        )

    def test_sameWorkForUnknownUsers(self) -> None:
        """
        Every password logon derives one scrypt key, whether the user ID is
        defined, unknown, malformed or protected, so that time does not tell
        which user IDs exist (issue 22, item 6).
        """
        from nsstwisted.security import passwords

        self.users.add_user("nopw")
        real = passwords._derive
        calls: list[int] = []

        def counted(*args: object) -> bytes:
            calls.append(1)
            return real(*args)  # type: ignore[arg-type]

        self.patch(passwords, "_derive", counted)
        # The equaliser's own hash is made once, on first need.
        self.logon.with_password("nobody", "x")
        for userid in ["client1", "nobody", "not a valid id", "nopw"]:
            calls.clear()
            self.logon.with_password(userid, "guess")
            self.assertEqual(len(calls), 1, userid)

    def test_revokedAfterThree(self) -> None:
        outcomes = [self.logon.with_password("client1", "wrong") for _ in range(3)]
        self.assertEqual([r.revokedNow for r in outcomes], [False, False, True])
        self.assertTrue(self.users.get_user("client1").revoked)
        # Even the right password is refused now.
        self.assertEqual(
            self.logon.with_password("client1", "right").outcome,
            LogonOutcome.USER_REVOKED,
        )
        self.users.alter_user("client1", resume=True)
        self.assertTrue(self.logon.with_password("client1", "right").accepted)

    def test_successResetsCount(self) -> None:
        self.logon.with_password("client1", "wrong")
        self.logon.with_password("client1", "wrong")
        self.assertTrue(self.logon.with_password("client1", "right").accepted)
        self.logon.with_password("client1", "wrong")
        self.logon.with_password("client1", "wrong")
        self.assertFalse(self.users.get_user("client1").revoked)

    def test_configuredLimit(self) -> None:
        self.users.set_revoke_limit(1)
        self.assertTrue(self.logon.with_password("client1", "wrong").revokedNow)

    def test_noRevoke(self) -> None:
        self.users.set_revoke_limit(0)
        for _ in range(10):
            self.logon.with_password("client1", "wrong")
        self.assertFalse(self.users.get_user("client1").revoked)
        self.assertEqual(self.users.get_user("client1").failedLogons, 10)


class PassTicketLogonTests(SynchronousTestCase):
    def setUp(self) -> None:
        database = self.database = new_database(self)
        self.users = UserRegistry(database)
        self.users.add_user("client1")
        self.profiles = ProfileStore(database)
        self.profiles.set_options(activate=[ResourceClass.PTKTDATA])
        self.profiles.define(
            ResourceClass.PTKTDATA,
            "NSSD",
            owner="client1",
            passTicketKey=parse_key(KEY),
        )
        self.now = float(NOW)
        self.logon = Logon(database, PassTicketEvaluator(clock=lambda: self.now))

    def ticket(self, when: int) -> str:
        return generate_passticket("CLIENT1", "NSSD", parse_key(KEY), when)

    def test_accepted(self) -> None:
        result = self.logon.with_passticket("client1", "nssd", self.ticket(NOW))
        self.assertEqual(result.outcome, LogonOutcome.ACCEPTED)
        assert result.environment is not None
        self.assertEqual(result.environment.userid, "CLIENT1")

    def test_windowEdges(self) -> None:
        for offset in (-600, 600):
            self.assertTrue(
                self.logon.with_passticket(
                    "client1", "NSSD", self.ticket(NOW + offset)
                ).accepted
            )
        for offset in (-601, 601):
            self.assertEqual(
                self.logon.with_passticket(
                    "client1", "NSSD", self.ticket(NOW + offset)
                ).outcome,
                LogonOutcome.PASSTICKET_INVALID,
            )

    def test_replay(self) -> None:
        ticket = self.ticket(NOW)
        self.assertTrue(self.logon.with_passticket("client1", "NSSD", ticket).accepted)
        self.assertEqual(
            self.logon.with_passticket("client1", "NSSD", ticket).outcome,
            LogonOutcome.PASSTICKET_REPLAYED,
        )

    def test_replayAtAnotherServer(self) -> None:
        """
        A ticket accepted by one server is refused as a replay by another
        server on the same database, whose own memory never saw it: the
        use is recorded in the database before the ticket is accepted.
        """
        ticket = self.ticket(NOW)
        backup = Logon(self.database, PassTicketEvaluator(clock=lambda: self.now))
        self.assertTrue(self.logon.with_passticket("client1", "NSSD", ticket).accepted)
        self.assertEqual(
            backup.with_passticket("client1", "NSSD", ticket).outcome,
            LogonOutcome.PASSTICKET_REPLAYED,
        )
        # The next second's ticket is another ticket, good at either server.
        self.assertTrue(
            backup.with_passticket("client1", "NSSD", self.ticket(NOW + 1)).accepted
        )
        with self.database.reading() as cursor:
            self.assertEqual(
                cursor.execute(
                    "SELECT userid, applname, moment FROM passticket_uses"
                    " ORDER BY moment"
                ).fetchall(),
                [("CLIENT1", "NSSD", NOW), ("CLIENT1", "NSSD", NOW + 1)],
            )

    def test_oldUsesDropped(self) -> None:
        """
        The record of used tickets keeps only uses that could still be
        presented: one accepted two windows later drops the older ones.
        """
        self.assertTrue(
            self.logon.with_passticket("client1", "NSSD", self.ticket(NOW)).accepted
        )
        self.now = float(NOW + 1300)
        self.assertTrue(
            self.logon.with_passticket(
                "client1", "NSSD", self.ticket(NOW + 1300)
            ).accepted
        )
        with self.database.reading() as cursor:
            self.assertEqual(
                cursor.execute("SELECT moment FROM passticket_uses").fetchall(),
                [(NOW + 1300,)],
            )

    def test_failuresRevoke(self) -> None:
        """
        Wrong PassTickets count toward REVOKE for a user who has a password,
        and not for a protected one.
        """
        self.users.add_user("client3", password="right")
        for _ in range(3):
            self.logon.with_passticket("client3", "NSSD", "AAAAAAAA")
        self.assertTrue(self.users.get_user("client3").revoked)
        for _ in range(3):
            self.logon.with_passticket("client1", "NSSD", "AAAAAAAA")
        self.assertFalse(self.users.get_user("client1").revoked)
        self.assertTrue(
            self.logon.with_passticket("client1", "NSSD", self.ticket(NOW)).accepted
        )

    def test_unknownUser(self) -> None:
        """
        A ticket for an unknown user costs a whole window's evaluation, as
        one for a defined user does.
        """
        from nsstwisted.security import passticket

        real = passticket._Generator
        generators: list[int] = []

        def counted(*args: object) -> object:
            generators.append(1)
            return real(*args)  # type: ignore[arg-type]

        self.patch(passticket, "_Generator", counted)
        for userid in ["nobody", "client1", "not valid"]:
            generators.clear()
            result = self.logon.with_passticket(userid, "NSSD", "AAAAAAAA")
            self.assertFalse(result.accepted)
            self.assertEqual(len(generators), 1, userid)
        self.assertEqual(
            self.logon.with_passticket("nobody", "NSSD", "AAAAAAAA").outcome,
            LogonOutcome.USER_NOT_DEFINED,
        )

    def test_classInactive(self) -> None:
        self.profiles.set_options(deactivate=[ResourceClass.PTKTDATA])
        self.assertEqual(
            self.logon.with_passticket("client1", "NSSD", self.ticket(NOW)).outcome,
            LogonOutcome.PASSTICKET_NOT_SET_UP,
        )

    def test_noProfile(self) -> None:
        self.assertEqual(
            self.logon.with_passticket("client1", "OTHER", self.ticket(NOW)).outcome,
            LogonOutcome.PASSTICKET_NOT_SET_UP,
        )


class VerifiedPasswordTests(SynchronousTestCase):
    """
    A password verified once is not hashed again at the next logon (issue
    12); every rule that drops it is tested here, by counting scrypt key
    derivations.
    """

    def setUp(self) -> None:
        from nsstwisted.security import passwords

        self.database = database = new_database(self)
        self.users = UserRegistry(database)
        self.users.add_user("client1", password="right")
        self.logon = Logon(database)
        self.derivations = 0
        real = passwords._derive

        def counted(*args: object) -> bytes:
            self.derivations += 1
            return real(*args)  # type: ignore[arg-type]

        self.patch(passwords, "_derive", counted)
        # The equaliser's own hash is made once, on first need.
        self.logon.with_password("nobody", "x")

    def derived(self, userid: str, password: str) -> tuple[LogonOutcome, int]:
        """
        The outcome of one password logon and how many scrypt keys it
        derived.
        """
        self.derivations = 0
        outcome = self.logon.with_password(userid, password).outcome
        return outcome, self.derivations

    def test_reconnectIsNotHashed(self) -> None:
        """
        The first logon pays the hash, a reconnect with the same password
        does not, and is accepted with a fresh environment.
        """
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 0))
        self.assertEqual(self.derived("CLIENT1", "right"), (LogonOutcome.ACCEPTED, 0))

    def test_wrongPasswordPaysAndCounts(self) -> None:
        """
        Only the right password is fast: a wrong one pays the whole hash,
        counts toward REVOKE, and leaves the right one's entry alone.
        """
        self.logon.with_password("client1", "right")
        self.assertEqual(
            self.derived("client1", "wrong"), (LogonOutcome.PASSWORD_INVALID, 1)
        )
        self.assertEqual(self.users.get_user("client1").failedLogons, 1)
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 0))

    def test_unknownUserStillPaysTheEqualiser(self) -> None:
        """
        An unknown user costs one hash whatever it presents, as before:
        time does not tell which user IDs exist (issue 22, item 6).
        """
        self.logon.with_password("client1", "right")
        for userid in ["nobody", "not a valid id"]:
            self.assertEqual(
                self.derived(userid, "right"), (LogonOutcome.USER_NOT_DEFINED, 1)
            )

    def test_passwordChange(self) -> None:
        """
        A new password is a new stored hash, which makes the old entry miss
        by itself: the old password is refused after a full check, the new
        one pays once.
        """
        self.logon.with_password("client1", "right")
        self.users.alter_user("client1", password="newer")
        self.assertEqual(
            self.derived("client1", "right"), (LogonOutcome.PASSWORD_INVALID, 1)
        )
        self.assertEqual(self.derived("client1", "newer"), (LogonOutcome.ACCEPTED, 1))
        self.assertEqual(self.derived("client1", "newer"), (LogonOutcome.ACCEPTED, 0))

    def test_passwordSetToTheSameAgain(self) -> None:
        """
        Even the same password set again (a new salt) is checked afresh.
        """
        self.logon.with_password("client1", "right")
        self.users.alter_user("client1", password="right")
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))

    def test_revokeByCommand(self) -> None:
        """
        A revoked user's entry is dropped at its next attempt, which pays
        the hash (and learns it is revoked only with the right password);
        after RESUME the first logon pays again.
        """
        self.logon.with_password("client1", "right")
        self.users.alter_user("client1", revoke=True)
        self.assertEqual(
            self.derived("client1", "wrong"), (LogonOutcome.PASSWORD_INVALID, 1)
        )
        self.assertEqual(
            self.derived("client1", "right"), (LogonOutcome.USER_REVOKED, 1)
        )
        self.users.alter_user("client1", resume=True)
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))

    def test_revokeByFailures(self) -> None:
        """
        The failure that revokes drops the entry: after RESUME, the right
        password pays the hash again.
        """
        self.users.set_revoke_limit(2)
        self.logon.with_password("client1", "right")
        self.logon.with_password("client1", "wrong")
        self.assertTrue(self.logon.with_password("client1", "wrong").revokedNow)
        self.users.alter_user("client1", resume=True)
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))

    def test_revokeByPassTicketFailures(self) -> None:
        """
        Revocation through failed PassTickets drops the password's entry
        too.
        """
        profiles = ProfileStore(self.database)
        profiles.set_options(activate=[ResourceClass.PTKTDATA])
        profiles.define(
            ResourceClass.PTKTDATA,
            "NSSD",
            owner="client1",
            passTicketKey=parse_key(KEY),
        )
        self.users.set_revoke_limit(1)
        self.logon.with_password("client1", "right")
        result = self.logon.with_passticket("client1", "NSSD", "AAAAAAAA")
        self.assertTrue(result.revokedNow)
        self.users.alter_user("client1", resume=True)
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))

    def test_deleteUser(self) -> None:
        """
        A deleted user is not defined, whatever it presents; defined again
        with the same password, it pays the hash at its first logon.
        """
        self.logon.with_password("client1", "right")
        self.users.delete_user("client1")
        self.assertEqual(
            self.derived("client1", "right"), (LogonOutcome.USER_NOT_DEFINED, 1)
        )
        self.users.add_user("client1", password="right")
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))

    def test_protectedUser(self) -> None:
        """
        A user made protected (NOPASSWORD) cannot log on with the password
        it had, however recently it was verified.
        """
        self.logon.with_password("client1", "right")
        self.users.alter_user("client1", noPassword=True)
        self.assertEqual(
            self.derived("client1", "right"), (LogonOutcome.PROTECTED_USER, 1)
        )

    def test_forget(self) -> None:
        """
        C{forget} drops one user's entry, C{forget_all} every entry (what
        nssd does at a REFRESH).
        """
        self.users.add_user("client2", password="two")
        self.logon.with_password("client1", "right")
        self.logon.with_password("client2", "two")
        self.logon.forget("client1")
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))
        self.assertEqual(self.derived("client2", "two"), (LogonOutcome.ACCEPTED, 0))
        self.logon.forget_all()
        self.assertEqual(self.derived("client1", "right"), (LogonOutcome.ACCEPTED, 1))
        self.assertEqual(self.derived("client2", "two"), (LogonOutcome.ACCEPTED, 1))
