"""
Tests for L{nsstwisted.security.users} and L{nsstwisted.security.passwords}.
"""

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.errors import (
    AlreadyExistsError,
    InvalidValueError,
    NotFoundError,
)
from nsstwisted.security.passwords import hash_password, verify_password
from nsstwisted.security.users import UserRegistry, normalize_id
from tests.fixtures import new_database


class PasswordTests(SynchronousTestCase):
    def test_roundTrip(self) -> None:
        stored = hash_password("Secret phrase 1")
        self.assertTrue(verify_password("Secret phrase 1", stored))
        self.assertFalse(verify_password("secret phrase 1", stored))

    def test_salted(self) -> None:
        self.assertNotEqual(hash_password("same"), hash_password("same"))

    def test_storedFormNamesScrypt(self) -> None:
        stored = hash_password("my secret!")
        self.assertTrue(stored.startswith("scrypt$14$8$1$"))
        # "!" and blanks are not base64 characters, so a match would mean
        # the password itself was stored.
        self.assertNotIn("secret!", stored)

    def test_damagedHashNeverMatches(self) -> None:
        for bad in [
            "",
            "scrypt$",
            "md5$1$2$3$4$5",
            "scrypt$40$8$1$AAAA$AAAA",
            "scrypt$14$8$1$!!$AAAA",
            "scrypt$x$8$1$AAAA$AAAA",
        ]:
            self.assertFalse(verify_password("pw", bad), bad)

    def test_rules(self) -> None:
        for bad in ["", "x" * 101, "tab\there"]:
            self.assertRaises(InvalidValueError, hash_password, bad)


class NameTests(SynchronousTestCase):
    def test_upperCased(self) -> None:
        self.assertEqual(normalize_id("nssd"), "NSSD")
        self.assertEqual(normalize_id("#a$1@"), "#A$1@")

    def test_invalid(self) -> None:
        # A dotless i (U+0131) and a long s (U+017F) upper-case to ASCII.
        for bad in [
            "",
            "NINECHARS",
            "1ABC",
            "A B",
            "A.B",
            "\u00e9",
            "cl\u0131ent1",
            "\u017f",
        ]:
            self.assertRaises(InvalidValueError, normalize_id, bad)


class UserRegistryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.users = UserRegistry(new_database(self))

    def test_addAndGet(self) -> None:
        self.users.add_group("nssgrp")
        self.users.add_user(
            "client1", name="Client one", password="pw", defaultGroup="nssgrp"
        )
        user = self.users.get_user("CLIENT1")
        self.assertEqual(user.userid, "CLIENT1")
        self.assertEqual(user.name, "Client one")
        self.assertTrue(user.hasPassword)
        self.assertEqual(user.groups, ("NSSGRP",))
        self.assertEqual(user.defaultGroup, "NSSGRP")
        self.assertFalse(user.revoked)

    def test_sharedNameSpace(self) -> None:
        self.users.add_group("same")
        self.assertRaises(AlreadyExistsError, self.users.add_user, "same")
        self.users.add_user("user1")
        self.assertRaises(AlreadyExistsError, self.users.add_group, "user1")

    def test_unknownDefaultGroupChangesNothing(self) -> None:
        self.assertRaises(NotFoundError, self.users.add_user, "u", defaultGroup="none")
        self.assertEqual(self.users.list_userids(), [])

    def test_connectAndRemove(self) -> None:
        self.users.add_group("g1")
        self.users.add_user("u1")
        self.users.connect("u1", "g1")
        self.assertEqual(self.users.get_group("g1").members, ("U1",))
        self.users.remove("u1", "g1")
        self.assertEqual(self.users.get_group("g1").members, ())
        self.assertRaises(NotFoundError, self.users.remove, "u1", "g1")
        self.assertRaises(NotFoundError, self.users.connect, "nobody", "g1")

    def test_revokeAndResume(self) -> None:
        self.users.add_user("u1")
        self.users.alter_user("u1", revoke=True)
        self.assertTrue(self.users.get_user("u1").revoked)
        self.users.alter_user("u1", resume=True)
        self.assertFalse(self.users.get_user("u1").revoked)
        self.assertRaises(
            InvalidValueError, self.users.alter_user, "u1", revoke=True, resume=True
        )

    def test_deleteRemovesEverything(self) -> None:
        self.users.add_group("g1")
        self.users.add_user("u1", defaultGroup="g1")
        self.users.delete_user("u1")
        self.assertRaises(NotFoundError, self.users.get_user, "u1")
        self.assertEqual(self.users.get_group("g1").members, ())
        self.assertRaises(NotFoundError, self.users.delete_user, "u1")

    def test_deleteGroupInUse(self) -> None:
        self.users.add_group("g1")
        self.users.add_user("u1", defaultGroup="g1")
        self.assertRaises(InvalidValueError, self.users.delete_group, "g1")
        self.users.delete_user("u1")
        self.users.delete_group("g1")
        self.assertRaises(NotFoundError, self.users.get_group, "g1")

    def test_revokeLimit(self) -> None:
        self.assertEqual(self.users.revoke_limit(), 3)
        self.users.set_revoke_limit(5)
        self.assertEqual(self.users.revoke_limit(), 5)
        self.assertRaises(InvalidValueError, self.users.set_revoke_limit, 256)
