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
        self.users.add_user("nopw")
        self.assertEqual(
            self.logon.with_password("nopw", "x").outcome,
            LogonOutcome.PASSWORD_INVALID,
        )

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
        database = new_database(self)
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

    def test_failuresRevoke(self) -> None:
        for _ in range(3):
            self.logon.with_passticket("client1", "NSSD", "AAAAAAAA")
        self.assertTrue(self.users.get_user("client1").revoked)

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
