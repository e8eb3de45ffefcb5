"""
Tests for L{nsstwisted.security.verified}: what the held proof of a verified
password matches, and how much is held.
"""

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.verified import VerifiedPasswords


class VerifiedPasswordsTests(SynchronousTestCase):
    def test_matchesOnlyTheTriple(self) -> None:
        """
        An entry matches its user ID, stored hash and password, and nothing
        that differs in any of the three.
        """
        verified = VerifiedPasswords()
        verified.remember("CLIENT1", "hash-a", "right")
        self.assertTrue(verified.holds("CLIENT1", "hash-a", "right"))
        self.assertFalse(verified.holds("CLIENT1", "hash-a", "wrong"))
        self.assertFalse(verified.holds("CLIENT1", "hash-b", "right"))
        self.assertFalse(verified.holds("CLIENT2", "hash-a", "right"))
        self.assertFalse(verified.holds("CLIENT1", "hash-", "aright"))

    def test_keyPerInstance(self) -> None:
        """
        What one process holds means nothing to another: each has its own
        random key.
        """
        one, other = VerifiedPasswords(), VerifiedPasswords()
        one.remember("CLIENT1", "hash", "right")
        self.assertNotEqual(
            one._tag("CLIENT1", "hash", "right"), other._tag("CLIENT1", "hash", "right")
        )

    def test_passwordNotHeld(self) -> None:
        """
        Neither the password nor the stored hash is held, only a tag.
        """
        verified = VerifiedPasswords()
        verified.remember("CLIENT1", "stored-hash", "the password")
        (entry,) = verified._entries.values()
        self.assertEqual(len(entry), 32)
        self.assertNotIn(b"the password", entry)

    def test_oneEntryPerUser(self) -> None:
        verified = VerifiedPasswords()
        verified.remember("CLIENT1", "hash", "first")
        verified.remember("CLIENT1", "hash", "second")
        self.assertEqual(len(verified), 1)
        self.assertFalse(verified.holds("CLIENT1", "hash", "first"))
        self.assertTrue(verified.holds("CLIENT1", "hash", "second"))

    def test_bounded(self) -> None:
        """
        When full, the oldest entry makes room for the newest.
        """
        verified = VerifiedPasswords(limit=2)
        for userid in ["A", "B", "C"]:
            verified.remember(userid, "hash", "pw")
        self.assertEqual(len(verified), 2)
        self.assertFalse(verified.holds("A", "hash", "pw"))
        self.assertTrue(verified.holds("C", "hash", "pw"))

    def test_forgetAndClear(self) -> None:
        verified = VerifiedPasswords()
        verified.remember("A", "hash", "pw")
        verified.remember("B", "hash", "pw")
        verified.forget("A")
        verified.forget("nobody")
        self.assertFalse(verified.holds("A", "hash", "pw"))
        self.assertTrue(verified.holds("B", "hash", "pw"))
        verified.clear()
        self.assertEqual(len(verified), 0)
