"""
Rotating the master key: every sealed secret of a security database (the
private keys of its certificates, the PassTicket keys of its PTKTDATA
profiles) resealed under a new master key, held in a new stash file.

A rotation is all or nothing, and at every moment one stash file opens every
key the database holds:

  1. the old stash is checked against the database (its recorded key check
     value), and the new stash is written beside it under its own name:
     synced under a temporary name, then linked to that name, so the name
     never shows a partial file and never replaces one;
  2. in one unit of work (the write lock of either engine held throughout),
     every secret is unsealed with the old key and sealed again under the new
     one, and the recorded check value becomes the new key's; any failure
     rolls all of it back;
  3. only then is the rotation reported done; the old stash is never
     touched, and the operator switches the servers to the new one.

A crash before 2 commits leaves the database as it was (the old stash opens
it) and a new stash file that seals nothing; a crash after leaves the
database under the new stash, which exists.  Running the same command again
says which of the two it is (L{rekey_database}), so there is always a way
back without guessing.  When the commit's outcome is unknown (the
connection was lost as it committed), the new stash is kept, since removing
it could lose every key.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from nsstwisted.security.database import MASTER_KEY_CHECK, SecurityDatabase
from nsstwisted.security.errors import (
    RekeyFailedError,
    RekeyRefusedError,
    SecurityError,
)
from nsstwisted.security.keyring import CertificateOwner, private_key_aad
from nsstwisted.security.profiles import passticket_key_aad
from nsstwisted.security.stash import MasterKey, create_stash_beside, load_stash
from nsstwisted.security.storage import Cursor

__all__ = ["RekeyReport", "rekey_database"]


@dataclass(frozen=True)
class RekeyReport:
    """
    What a rotation did, for the operator.

    @ivar location: the database as messages show it (no password).
    @ivar newStash: the stash file that opens the database now.
    @ivar privateKeys: how many private keys were resealed (-1: not known,
        the commit's answer was lost but the database records the new key).
    @ivar passTicketKeys: how many PassTicket keys were resealed (likewise).
    @ivar done: the database was already sealed under C{newStash} (an
        earlier run committed): nothing was changed now.
    """

    location: str
    newStash: str
    privateKeys: int
    passTicketKeys: int
    done: bool = True


def _same_file(one: str, other: str) -> bool:
    if os.path.abspath(one) == os.path.abspath(other):
        return True
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def _recorded(database: SecurityDatabase) -> str:
    with database.reading() as cursor:
        return database.setting(cursor, MASTER_KEY_CHECK, "")


def _reseal(
    cursor: Cursor, old: MasterKey, new: MasterKey, failAt: list[str]
) -> tuple[int, int]:
    """
    Reseal every secret, in the open unit of work.

    @param failAt: receives what is being resealed, for the message should
        it fail.
    @return: the private keys and PassTicket keys resealed.
    """
    certificates = cursor.execute(
        "SELECT id, owner, label, der, sealed_key FROM certificates "
        "WHERE sealed_key IS NOT NULL ORDER BY id"
    ).fetchall()
    for ident, owner, label, der, sealed in certificates:
        failAt[:] = [
            f"the private key of certificate {label!r} of "
            f"{CertificateOwner.from_key(owner)}"
        ]
        aad = private_key_aad(bytes(der))
        resealed = new.seal(old.unseal(bytes(sealed), aad), aad)
        cursor.execute(
            "UPDATE certificates SET sealed_key = ? WHERE id = ?", (resealed, ident)
        )
    profiles = cursor.execute(
        "SELECT class, name, sealed_key FROM profiles "
        "WHERE sealed_key IS NOT NULL ORDER BY class, name"
    ).fetchall()
    for resourceClass, name, sealed in profiles:
        failAt[:] = [f"the PassTicket key of {resourceClass} profile {name}"]
        aad = passticket_key_aad(name)
        resealed = new.seal(old.unseal(bytes(sealed), aad), aad)
        cursor.execute(
            "UPDATE profiles SET sealed_key = ? WHERE class = ? AND name = ?",
            (resealed, resourceClass, name),
        )
    failAt[:] = ["recording the new master key"]
    return len(certificates), len(profiles)


def _already(database: SecurityDatabase, newStash: str) -> RekeyReport:
    """
    The new stash file exists: say whether an earlier run committed (the
    database records its key), else refuse.
    """
    key = load_stash(newStash)
    recorded = _recorded(database)
    if recorded and hmac.compare_digest(recorded, key.check_value().hex()):
        return RekeyReport(database.path, newStash, 0, 0, done=False)
    raise RekeyRefusedError(
        f"stash file {newStash} already exists and the security database "
        f"{database.path} is not sealed under its master key: nothing was "
        "changed, and every key is still sealed under the master key of stash "
        f"file {database.stashPath}.  If it was left by a rotation that did not "
        "finish, remove it and run the rotation again; otherwise name a new file"
    )


def rekey_database(
    location: str,
    oldStash: str,
    newStash: str,
    *,
    busyTimeout: float | None = None,
) -> RekeyReport:
    """
    Reseal every secret of the database at C{location} under a new master
    key, written to the new stash file C{newStash}.

    Run again after a rotation that was interrupted, with the same
    arguments, it reports an earlier rotation that committed (C{done} is
    false: nothing to do), and refuses while a new stash that seals nothing
    is in the way.

    @param oldStash: the stash the database is sealed under now; it is only
        read.
    @raise RekeyRefusedError: C{newStash} is C{oldStash}, exists already
        (and the database is not sealed under it), or the database has
        nothing sealed; nothing was written.
    @raise StashError: the old stash does not open the database.
    @raise RekeyFailedError: resealing failed; every key is still sealed
        under the old master key, and the new stash file was removed.
    """
    if _same_file(oldStash, newStash):
        raise RekeyRefusedError(
            f"the new stash file {newStash} is the old one: a rotation writes "
            "the new master key to a new file and never overwrites the old stash"
        )
    database = SecurityDatabase.open(
        location, oldStash, create=False, initialise=False, busyTimeout=busyTimeout
    )
    try:
        return _rekey(database, newStash)
    finally:
        database.close()


def _rekey(database: SecurityDatabase, newStash: str) -> RekeyReport:
    if os.path.lexists(newStash):
        return _already(database, newStash)
    if not database.check_stash():
        raise RekeyRefusedError(
            f"security database {database.path} has no sealed key and records "
            "no master key: there is nothing to rotate"
        )
    old = database.master_key()
    new = create_stash_beside(newStash)
    failAt: list[str] = ["reading the sealed keys"]
    try:
        with database.transaction() as cursor:
            # Checked again under the write lock: a rotation that committed
            # since the stash was read would otherwise be undone by this one.
            database.confirm_master_key(cursor, old)
            privateKeys, passTicketKeys = _reseal(cursor, old, new, failAt)
            database.set_setting(cursor, MASTER_KEY_CHECK, new.check_value().hex())
    except BaseException as failure:
        return _undo(database, newStash, new, failure, failAt[0])
    return RekeyReport(database.path, newStash, privateKeys, passTicketKeys)


def _undo(
    database: SecurityDatabase,
    newStash: str,
    new: MasterKey,
    failure: BaseException,
    failAt: str,
) -> RekeyReport:
    """
    After the resealing unit of work failed: remove the new stash, unless
    the database may have recorded its key after all (a commit whose answer
    was lost); then raise what the operator must know.
    """
    try:
        recorded = _recorded(database)
    except SecurityError:
        # Not known whether the commit happened: the new stash may be the
        # only one that opens the database now.
        raise RekeyFailedError(
            f"rotating the master key of security database {database.path} "
            f"failed at {failAt} ({failure}), and the database cannot be read "
            f"now to tell whether it committed: stash file {newStash} was kept. "
            "Run the same rotation again when the database can be reached: it "
            "says which stash opens the database"
        ) from None
    if hmac.compare_digest(recorded, new.check_value().hex()):
        # The commit happened and only its answer was lost.
        return RekeyReport(database.path, newStash, -1, -1)
    try:
        os.unlink(newStash)
        removed = "was removed"
    except OSError as e:
        removed = f"could not be removed ({e.strerror}): remove it"
    reason = str(failure) if isinstance(failure, SecurityError) else repr(failure)
    raise RekeyFailedError(
        f"rotating the master key of security database {database.path} failed "
        f"at {failAt} ({reason}); it was rolled back: every key is still sealed "
        f"under the master key of stash file {database.stashPath}, and the new "
        f"stash file {newStash} {removed}"
    ) from None
