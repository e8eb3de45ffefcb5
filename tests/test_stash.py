"""
Tests for L{nsstwisted.security.stash}.
"""

# twisted.trial's assertion methods are not annotated.

from __future__ import annotations

import copy
import os
import pickle
import stat

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.errors import StashError, TamperedEntryError
from nsstwisted.security.stash import (
    STASH_MAGIC,
    STASH_SIZE,
    MasterKey,
    create_stash,
    load_stash,
)

# One key for the property tests: Hypothesis runs the test body many times and
# the key is not what is being varied.
_KEY = MasterKey.generate()


class StashFileTests(SynchronousTestCase):
    """
    Creating and loading the stash file.
    """

    def setUp(self) -> None:
        os.mkdir(directory := self.mktemp())
        self.path = os.path.join(directory, "nss.sth")

    def test_createThenLoad(self) -> None:
        """
        The key loaded from a new stash unseals what the key returned by
        L{create_stash} sealed, and has the same check value.
        """
        created = create_stash(self.path)
        blob = created.seal(b"secret", b"ring/label")
        loaded = load_stash(self.path)
        self.assertEqual(loaded.unseal(blob, b"ring/label"), b"secret")
        self.assertEqual(loaded.check_value(), created.check_value())

    def test_createdFileFormatAndMode(self) -> None:
        """
        The stash is 48 bytes starting with the magic and has mode 0600 even
        under a permissive umask.
        """
        old = os.umask(0)
        try:
            create_stash(self.path)
        finally:
            os.umask(old)
        st_ = os.stat(self.path)
        self.assertEqual(stat.S_IMODE(st_.st_mode), 0o600)
        with open(self.path, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), STASH_SIZE)
        self.assertEqual(data[:8], STASH_MAGIC)

    def test_createOverExisting(self) -> None:
        """
        An existing stash is never overwritten.
        """
        first = create_stash(self.path)
        with open(self.path, "rb") as f:
            before = f.read()
        e = self.assertRaises(StashError, create_stash, self.path)
        self.assertIn("already exists", str(e))
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(load_stash(self.path).check_value(), first.check_value())

    def test_createOverSymlink(self) -> None:
        """
        A symbolic link at the stash path is not followed.
        """
        target = self.path + ".target"
        os.symlink(target, self.path)
        self.assertRaises(StashError, create_stash, self.path)
        self.assertFalse(os.path.exists(target))

    def test_createMissingDirectory(self) -> None:
        """
        A stash in a missing directory cannot be created.
        """
        path = os.path.join(self.mktemp(), "nss.sth")
        e = self.assertRaises(StashError, create_stash, path)
        self.assertIn("directory does not exist", str(e))

    def test_createUnwritableDirectory(self) -> None:
        """
        A stash in a directory we may not write to cannot be created.
        """
        if os.geteuid() == 0:
            raise self.skipTest("root may write to any directory")
        directory = os.path.dirname(self.path)
        os.chmod(directory, 0o500)
        self.addCleanup(os.chmod, directory, 0o700)
        e = self.assertRaises(StashError, create_stash, self.path)
        self.assertIn("cannot be created", str(e))

    def test_loadMissing(self) -> None:
        """
        A missing stash is reported as such.
        """
        e = self.assertRaises(StashError, load_stash, self.path)
        self.assertIn("does not exist", str(e))
        self.assertEqual(e.exitStatus, 2)

    def test_loadGroupReadable(self) -> None:
        """
        A stash readable by others is refused, naming the mode found and the
        mode required.
        """
        create_stash(self.path)
        os.chmod(self.path, 0o644)
        e = self.assertRaises(StashError, load_stash, self.path)
        self.assertIn("0644", str(e))
        self.assertIn("0600", str(e))

    def test_loadAnyGroupOrOtherBit(self) -> None:
        """
        Every group or other permission bit is refused; owner-only modes are
        accepted.
        """
        create_stash(self.path)
        for mode in (0o640, 0o620, 0o610, 0o604, 0o602, 0o601):
            os.chmod(self.path, mode)
            self.assertRaises(StashError, load_stash, self.path)
        os.chmod(self.path, 0o400)
        load_stash(self.path)

    def test_loadDirectory(self) -> None:
        """
        A directory is not a stash.
        """
        os.mkdir(self.path, 0o700)
        e = self.assertRaises(StashError, load_stash, self.path)
        self.assertIn("not a regular file", str(e))

    def test_loadFifo(self) -> None:
        """
        A FIFO is refused without blocking.
        """
        os.mkfifo(self.path, 0o600)
        e = self.assertRaises(StashError, load_stash, self.path)
        self.assertIn("not a regular file", str(e))

    def _writeStash(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    def _assertDamaged(self) -> None:
        e = self.assertRaises(StashError, load_stash, self.path)
        self.assertIn("damaged", str(e))

    def test_loadFlippedByte(self) -> None:
        """
        A change to any byte of the stash (magic, key or checksum) is
        detected.
        """
        create_stash(self.path)
        with open(self.path, "rb") as f:
            good = f.read()
        for index in (0, 7, 8, 20, 39, 40, 47):
            damaged = bytearray(good)
            damaged[index] ^= 0x01
            self._writeStash(bytes(damaged))
            self._assertDamaged()

    def test_loadTruncated(self) -> None:
        """
        A truncated stash is damaged.
        """
        create_stash(self.path)
        with open(self.path, "rb") as f:
            good = f.read()
        for length in (0, 8, 40, STASH_SIZE - 1):
            self._writeStash(good[:length])
            self._assertDamaged()

    def test_loadExtended(self) -> None:
        """
        A stash with bytes appended is damaged.
        """
        create_stash(self.path)
        with open(self.path, "rb") as f:
            good = f.read()
        self._writeStash(good + b"\n")
        self._assertDamaged()

    def test_errorDoesNotShowKey(self) -> None:
        """
        The text of a load error never includes the key bytes.
        """
        create_stash(self.path)
        with open(self.path, "rb") as f:
            good = f.read()
        key = good[8:40]
        self._writeStash(good[:-1] + bytes([good[-1] ^ 1]))
        e = self.assertRaises(StashError, load_stash, self.path)
        for form in (key.hex(), repr(key), key.decode("latin-1")):
            self.assertNotIn(form, str(e))


class MasterKeyTests(SynchronousTestCase):
    """
    Sealing and unsealing with L{MasterKey}.
    """

    def test_roundTrip(self) -> None:
        """
        What is sealed unseals with the same associated data.
        """
        key = MasterKey.generate()
        blob = key.seal(b"private key", b"aad")
        self.assertEqual(key.unseal(blob, b"aad"), b"private key")

    def test_blobFormat(self) -> None:
        """
        A blob is version 1, a 12-byte nonce and ciphertext plus 16-byte tag;
        nonces differ between seals.
        """
        key = MasterKey.generate()
        first = key.seal(b"abc", b"")
        second = key.seal(b"abc", b"")
        self.assertEqual(first[0], 1)
        self.assertEqual(len(first), 1 + 12 + 3 + 16)
        self.assertNotEqual(first[1:13], second[1:13])

    def test_tampered(self) -> None:
        """
        A change to any byte of the blob is detected.
        """
        key = MasterKey.generate()
        blob = key.seal(b"secret", b"aad")
        for index in range(len(blob)):
            damaged = bytearray(blob)
            damaged[index] ^= 0x80
            self.assertRaises(TamperedEntryError, key.unseal, bytes(damaged), b"aad")

    def test_wrongAad(self) -> None:
        """
        A blob cannot be unsealed for another row.
        """
        key = MasterKey.generate()
        blob = key.seal(b"secret", b"ring1/label")
        self.assertRaises(TamperedEntryError, key.unseal, blob, b"ring2/label")

    def test_otherKey(self) -> None:
        """
        A blob sealed under one master key does not unseal under another.
        """
        blob = MasterKey.generate().seal(b"secret", b"aad")
        e = self.assertRaises(
            TamperedEntryError, MasterKey.generate().unseal, blob, b"aad"
        )
        self.assertEqual(e.exitStatus, 2)

    def test_shortAndUnknownVersion(self) -> None:
        """
        Short blobs and unknown versions are tampered entries.
        """
        key = MasterKey.generate()
        blob = key.seal(b"secret", b"aad")
        self.assertRaises(TamperedEntryError, key.unseal, b"", b"aad")
        self.assertRaises(TamperedEntryError, key.unseal, blob[:28], b"aad")
        self.assertRaises(TamperedEntryError, key.unseal, b"\x02" + blob[1:], b"aad")

    def test_checkValue(self) -> None:
        """
        The check value is 16 bytes, stable for one key and different for
        another.
        """
        key = MasterKey(b"k" * 32)
        self.assertEqual(len(key.check_value()), 16)
        self.assertEqual(key.check_value(), MasterKey(b"k" * 32).check_value())
        self.assertNotEqual(key.check_value(), MasterKey.generate().check_value())

    def test_checkValueKnownAnswer(self) -> None:
        """
        The check value is the documented HMAC, so that other tools can
        compute it.
        """
        import hashlib
        import hmac

        raw = bytes(range(32))
        expected = hmac.new(
            raw, b"nsstwisted master key check v1", hashlib.sha256
        ).digest()[:16]
        self.assertEqual(MasterKey(raw).check_value(), expected)

    def test_reprHidesKey(self) -> None:
        """
        The repr shows neither the key bytes nor their hex form.
        """
        raw = bytes(range(32))
        text = repr(MasterKey(raw))
        self.assertNotIn(raw.hex(), text)
        self.assertNotIn(repr(raw), text)
        self.assertNotIn(raw.hex()[:8], text)
        self.assertIn("MasterKey", text)

    def test_noPublicKeyAttribute(self) -> None:
        """
        No public attribute or method returns the key bytes.
        """
        raw = os.urandom(32)
        key = MasterKey(raw)
        for name in dir(key):
            if name.startswith("_"):
                continue
            value = getattr(key, name)
            if callable(value):
                continue
            self.assertNotEqual(value, raw, name)
        self.assertNotEqual(key.check_value(), raw)
        self.assertNotIn(raw, key.check_value())

    def test_notCopyable(self) -> None:
        """
        A master key cannot be pickled or copied, so it cannot be written
        out through those routes.
        """
        key = MasterKey.generate()
        self.assertRaises(TypeError, pickle.dumps, key)
        self.assertRaises(TypeError, copy.copy, key)
        self.assertRaises(TypeError, copy.deepcopy, key)

    def test_badKeyLength(self) -> None:
        """
        Only 32-byte keys are accepted.
        """
        self.assertRaises(StashError, MasterKey, b"short")
        self.assertRaises(StashError, MasterKey, b"x" * 33)

    @given(st.binary(), st.binary())
    def test_sealRoundTripProperty(self, plaintext: bytes, aad: bytes) -> None:
        """
        Any plaintext and associated data survive a seal and unseal.
        """
        self.assertEqual(_KEY.unseal(_KEY.seal(plaintext, aad), aad), plaintext)

    @given(st.binary(max_size=200), st.binary(max_size=20))
    def test_unsealArbitraryBytes(self, blob: bytes, aad: bytes) -> None:
        """
        Arbitrary bytes given to unseal raise L{TamperedEntryError} and
        nothing else.
        """
        self.assertRaises(TamperedEntryError, _KEY.unseal, blob, aad)

    @given(st.binary(max_size=40), st.binary(max_size=20))
    def test_unsealArbitraryVersionOneBytes(self, rest: bytes, aad: bytes) -> None:
        """
        Arbitrary bytes with the right version byte still only raise
        L{TamperedEntryError}.
        """
        self.assertRaises(TamperedEntryError, _KEY.unseal, b"\x01" + rest, aad)
