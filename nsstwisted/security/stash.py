"""
The master key and the stash file that holds it.

Every secret the security database keeps (private keys, PassTicket keys) is
sealed with AES-256-GCM under one master key.  The key lives outside the
database, in a small stash file, so that a copy of the database alone (a
backup, a file sent with a problem report) reveals no secret.  The stash is to
the database what the RACF ICSF master key is to the CKDS.

Stash file format (48 bytes, no other content)::

    offset  length  content
    0       8       magic b"NSSSTSH1"
    8       32      the AES-256 master key
    40      8       the first 8 bytes of SHA-256(magic || key)

The checksum is not a security measure (anyone who can write the file can
recompute it); it exists so that a truncated, overwritten or hand-edited stash
is reported as damaged instead of silently producing a key that fails to
unseal every entry.  The file must be a regular file of mode 0600 (no
permission for group or others): a readable stash would make the sealing
pointless, so we refuse to use one rather than warn.

Sealed blob format::

    version (1 byte, 1) || nonce (12 bytes) || AES-GCM ciphertext and tag

The caller passes associated data (for example the key ring and label of a
private key) so that a sealed value cannot be moved to another row of the
database and still unseal there.

This module does no I/O beyond reading and creating the stash file, and
imports nothing from Twisted, so the synchronous command line tools and the
daemons share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nsstwisted.security.errors import StashError, TamperedEntryError
from nsstwisted.security.secretfile import read_owner_only_file

__all__ = [
    "KEY_SIZE",
    "STASH_MAGIC",
    "STASH_SIZE",
    "MasterKey",
    "create_stash",
    "create_stash_beside",
    "load_stash",
]

STASH_MAGIC = b"NSSSTSH1"
KEY_SIZE = 32
_CHECKSUM_SIZE = 8
STASH_SIZE = len(STASH_MAGIC) + KEY_SIZE + _CHECKSUM_SIZE

_SEAL_VERSION = 1
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MIN_BLOB_SIZE = 1 + _NONCE_SIZE + _TAG_SIZE
_CHECK_LABEL = b"nsstwisted master key check v1"


class MasterKey:
    """
    The AES-256 key that seals every secret of one security database.

    The key bytes are kept in a private slot and no method hands them out:
    code that needs a secret protected asks this object to seal or unseal it,
    so the key cannot leak into logs, tracebacks or another data structure by
    accident.  Copying and pickling are refused for the same reason.
    """

    __slots__ = ("__aead", "__key")

    def __init__(self, key: bytes) -> None:
        """
        @param key: exactly 32 random bytes.  Normally only L{load_stash} and
            L{create_stash} construct a L{MasterKey}; tests may build one
            directly.
        @raise StashError: if C{key} is not 32 bytes, since a short key would
            silently weaken every sealed entry.
        """
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise StashError(f"a master key must be {KEY_SIZE} bytes")
        self.__key = key
        self.__aead = AESGCM(key)

    @classmethod
    def generate(cls) -> MasterKey:
        """
        Make a new random master key.

        Kept separate from L{create_stash} so that tests and in-memory
        databases need no file.
        """
        return cls(os.urandom(KEY_SIZE))

    def __repr__(self) -> str:
        # Show the check value's prefix so that two keys can be told apart in
        # a debugger, never the key itself.
        return f"<MasterKey check={self.check_value().hex()[:8]}...>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a MasterKey cannot be pickled or copied")

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """
        Encrypt and authenticate C{plaintext}, binding it to C{aad}.

        A fresh random nonce is drawn for every call: with 96-bit random
        nonces the collision risk stays negligible for far more entries than a
        security database will ever hold, and no nonce counter has to be
        stored and kept consistent across processes.

        @param plaintext: the secret to protect.
        @param aad: associated data that must be presented again to unseal,
            typically the identity of the row the blob is stored in.
        @return: version byte 1, the 12-byte nonce, then ciphertext and tag.
        """
        nonce = os.urandom(_NONCE_SIZE)
        sealed = self.__aead.encrypt(nonce, plaintext, aad)
        return bytes([_SEAL_VERSION]) + nonce + sealed

    def unseal(self, blob: bytes, aad: bytes) -> bytes:
        """
        Verify and decrypt a blob made by L{seal}.

        Every failure is reported as L{TamperedEntryError}: whether the blob
        was truncated, altered, sealed under another key or bound to another
        row, the database can no longer be trusted for that entry and the
        administrator must act, so there is nothing to gain from finer
        distinctions (and they would help an attacker probing the format).

        @raise TamperedEntryError: if the blob does not authenticate.
        """
        if len(blob) < _MIN_BLOB_SIZE:
            raise TamperedEntryError("sealed entry is too short")
        if blob[0] != _SEAL_VERSION:
            raise TamperedEntryError(f"sealed entry has unknown version {blob[0]}")
        nonce = blob[1 : 1 + _NONCE_SIZE]
        try:
            return self.__aead.decrypt(nonce, blob[1 + _NONCE_SIZE :], aad)
        except InvalidTag:
            raise TamperedEntryError(
                "sealed entry failed authentication: it was altered or sealed "
                "under another master key"
            ) from None

    def check_value(self) -> bytes:
        """
        A 16-byte fingerprint of the key for the database to store.

        Comparing it with the value stored in the database tells, before any
        entry is unsealed, whether this stash belongs to that database.  It is
        an HMAC under the key, so it reveals nothing about the key.
        """
        mac = hmac.new(self.__key, _CHECK_LABEL, hashlib.sha256)
        return mac.digest()[:16]


def _checksum(key: bytes) -> bytes:
    return hashlib.sha256(STASH_MAGIC + key).digest()[:_CHECKSUM_SIZE]


def load_stash(path: str) -> MasterKey:
    """
    Read the master key from the stash file at C{path}.

    The file is opened once and every check is made on that open descriptor,
    so the file cannot be swapped between the checks and the read.  It is
    opened non-blocking so that a FIFO planted in its place is reported
    instead of hanging the daemon.

    @raise StashError: if the file does not exist, cannot be read, is not a
        regular file, grants any permission to group or others, or is damaged.
    """
    data = read_owner_only_file(path, "stash file", STASH_SIZE + 1, StashError)
    if len(data) != STASH_SIZE:
        raise StashError(
            f"stash file {path} is damaged: it is not {STASH_SIZE} bytes long"
        )
    magic = data[: len(STASH_MAGIC)]
    key = data[len(STASH_MAGIC) : len(STASH_MAGIC) + KEY_SIZE]
    checksum = data[len(STASH_MAGIC) + KEY_SIZE :]
    if magic != STASH_MAGIC:
        raise StashError(f"stash file {path} is damaged: it is not a stash file")
    if not hmac.compare_digest(checksum, _checksum(key)):
        raise StashError(f"stash file {path} is damaged: its checksum is wrong")
    return MasterKey(key)


def create_stash(path: str) -> MasterKey:
    """
    Create a new stash file at C{path} holding a new random master key.

    The file is created with C{O_EXCL}, so an existing stash (and with it
    every secret sealed under it) can never be overwritten, and also so that
    a symbolic link planted at C{path} is not followed.  The mode is set to
    0600 explicitly because the creation mode is filtered by the umask only
    towards fewer permissions and we want a known result.  Data and directory
    are synced so that a database that records the new key's check value
    never outlives the stash after a crash.

    Deciding whether creating a stash is allowed at all (only with a new
    database) is the caller's business; this function only creates.

    @raise StashError: if the file exists, or the directory is missing or not
        writable.
    """
    try:
        fd = os.open(
            path,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
            0o600,
        )
    except FileExistsError:
        raise StashError(f"stash file {path} already exists") from None
    except FileNotFoundError:
        raise StashError(
            f"stash file {path} cannot be created: its directory does not exist"
        ) from None
    except OSError as e:
        raise StashError(f"stash file {path} cannot be created: {e.strerror}") from None
    key = os.urandom(KEY_SIZE)
    try:
        try:
            os.fchmod(fd, 0o600)
            data = STASH_MAGIC + key + _checksum(key)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        # Do not leave a half-written stash behind: the next attempt would be
        # refused as "already exists" and a later load would call it damaged.
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise StashError(f"stash file {path} cannot be written: {e.strerror}") from None
    _sync_directory(path)
    return MasterKey(key)


def create_stash_beside(path: str) -> MasterKey:
    """
    Create a new stash file at C{path} holding a new random master key, so
    that C{path} never names a partial file, as a master-key rotation needs.

    The key is written and synced under a temporary name in the same
    directory (made mode 0600 by C{mkstemp}), then linked to C{path}: a link
    is atomic and, unlike a rename, never replaces a file that is there
    already, so neither another stash nor a file planted at C{path} is
    overwritten.  A crash leaves at worst the temporary file (C{.PATH.*}),
    which holds a key nothing was sealed with.

    @raise StashError: if C{path} exists, or the directory is missing or not
        writable, or does not allow hard links.
    """
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{base}.", dir=directory)
    except FileNotFoundError:
        raise StashError(
            f"stash file {path} cannot be created: its directory does not exist"
        ) from None
    except OSError as e:
        raise StashError(f"stash file {path} cannot be created: {e.strerror}") from None
    key = os.urandom(KEY_SIZE)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(STASH_MAGIC + key + _checksum(key))
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise StashError(f"stash file {path} already exists") from None
    except OSError as e:
        raise StashError(f"stash file {path} cannot be written: {e.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    _sync_directory(path)
    return MasterKey(key)


def _sync_directory(path: str) -> None:
    """
    Make the new directory entry durable.

    Failure here is ignored: some file systems do not support syncing a
    directory, and the data itself is already on disk.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(dfd)
    finally:
        os.close(dfd)
