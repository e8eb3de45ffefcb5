"""
User and group profiles, passwords and revocation.

User IDs and group names share one name space, as in RACF, so that an access
list entry always means exactly one thing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from nsstwisted.security.accessor import AccessorEnvironment, read_environment
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    AlreadyExistsError,
    InvalidValueError,
    NotFoundError,
)
from nsstwisted.security.generic import upper_ascii
from nsstwisted.security.passwords import hash_password, verify_password
from nsstwisted.security.storage import Cursor

DEFAULT_REVOKE_LIMIT = 3
MAX_REVOKE_LIMIT = 255
REVOKE_SETTING = "password_revoke"

_NAME = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def normalize_id(value: str, what: str = "user ID") -> str:
    """
    Upper-case a user ID or group name and check RACF's rules: 1 to 8
    characters, letters, digits and C{@ # $}, not starting with a digit.
    """
    # ASCII letters only (see upper_ascii): str.upper() would raise a
    # dotless i to I, and let a name nobody defined stand for CLIENT1.
    upper = upper_ascii(value)
    if not _NAME.fullmatch(upper):
        raise InvalidValueError(
            f"{what} {value!r} must be 1 to 8 letters, digits, @, # or $, "
            "not starting with a digit"
        )
    return upper


def now() -> str:
    """
    The current time as stored in the database (ISO 8601, UTC, seconds).
    """
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class UserProfile:
    """
    What LISTUSER shows; the password hash is never part of it.
    """

    userid: str
    name: str
    owner: str
    defaultGroup: str | None
    hasPassword: bool
    failedLogons: int
    revoked: bool
    created: str
    lastLogon: str | None
    groups: tuple[str, ...]
    restricted: bool = False


@dataclass(frozen=True)
class GroupProfile:
    """
    What LISTGRP would show.
    """

    groupid: str
    superior: str | None
    owner: str
    members: tuple[str, ...]


def _exists(cursor: Cursor, table: str, column: str, value: str) -> bool:
    # Table and column names are constants of this module, never input.
    query = f"SELECT 1 FROM {table} WHERE {column} = ?"  # noqa: S608
    return cursor.execute(query, (value,)).fetchone() is not None


def require_user(cursor: Cursor, userid: str) -> None:
    """
    Raise L{NotFoundError} unless the user is defined.
    """
    if not _exists(cursor, "users", "userid", userid):
        raise NotFoundError(f"user {userid} is not defined")


def require_group(cursor: Cursor, groupid: str) -> None:
    """
    Raise L{NotFoundError} unless the group is defined.
    """
    if not _exists(cursor, "groups", "groupid", groupid):
        raise NotFoundError(f"group {groupid} is not defined")


def id_is_defined(cursor: Cursor, name: str) -> bool:
    """
    Whether C{name} is a defined user or group.
    """
    return _exists(cursor, "users", "userid", name) or _exists(
        cursor, "groups", "groupid", name
    )


def revoke_limit(database: SecurityDatabase, cursor: Cursor) -> int:
    """
    The number of consecutive failed logons that revokes a user; 0 means
    never (C{SETROPTS PASSWORD(NOREVOKE)}).
    """
    return int(database.setting(cursor, REVOKE_SETTING, str(DEFAULT_REVOKE_LIMIT)))


class UserRegistry:
    """
    The user and group profiles of one security database.
    """

    def __init__(self, database: SecurityDatabase) -> None:
        self._database = database

    def add_user(
        self,
        userid: str,
        *,
        name: str = "",
        password: str | None = None,
        defaultGroup: str | None = None,
        owner: str | None = None,
        restricted: bool = False,
    ) -> None:
        userid = normalize_id(userid)
        group = None if defaultGroup is None else normalize_id(defaultGroup, "group")
        owner = userid if owner is None else normalize_id(owner, "owner")
        hashed = None if password is None else hash_password(password)
        with self._database.transaction() as cursor:
            if id_is_defined(cursor, userid):
                raise AlreadyExistsError(f"{userid} is already a user or group")
            if group is not None:
                require_group(cursor, group)
            cursor.execute(
                "INSERT INTO users (userid, name, owner, default_group, "
                "password_hash, created, restricted) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (userid, name, owner, group, hashed, now(), int(restricted)),
            )
            if group is not None:
                cursor.execute(
                    "INSERT INTO connections (userid, groupid) VALUES (?, ?)",
                    (userid, group),
                )

    def alter_user(
        self,
        userid: str,
        *,
        name: str | None = None,
        password: str | None = None,
        noPassword: bool = False,
        revoke: bool = False,
        resume: bool = False,
        defaultGroup: str | None = None,
        restricted: bool | None = None,
    ) -> None:
        """
        Change a user profile.  RESUME also clears the failed-logon count, and
        a new password does too, as RACF does.

        @param restricted: C{True} for RESTRICTED, C{False} for
            NORESTRICTED, C{None} to leave the attribute as it is.
        """
        userid = normalize_id(userid)
        if revoke and resume:
            raise InvalidValueError("REVOKE and RESUME contradict each other")
        if password is not None and noPassword:
            raise InvalidValueError("PASSWORD and NOPASSWORD contradict each other")
        group = None if defaultGroup is None else normalize_id(defaultGroup, "group")
        hashed = None if password is None else hash_password(password)
        with self._database.transaction() as cursor:
            require_user(cursor, userid)
            if name is not None:
                cursor.execute(
                    "UPDATE users SET name = ? WHERE userid = ?", (name, userid)
                )
            if hashed is not None or noPassword:
                cursor.execute(
                    "UPDATE users SET password_hash = ?, failed_logons = 0 "
                    "WHERE userid = ?",
                    (hashed, userid),
                )
            if revoke:
                cursor.execute(
                    "UPDATE users SET revoked = 1 WHERE userid = ?", (userid,)
                )
            if resume:
                cursor.execute(
                    "UPDATE users SET revoked = 0, failed_logons = 0 WHERE userid = ?",
                    (userid,),
                )
            if restricted is not None:
                cursor.execute(
                    "UPDATE users SET restricted = ? WHERE userid = ?",
                    (int(restricted), userid),
                )
            if group is not None:
                require_group(cursor, group)
                cursor.execute(
                    "UPDATE users SET default_group = ? WHERE userid = ?",
                    (group, userid),
                )
                cursor.execute(
                    "INSERT INTO connections (userid, groupid) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (userid, group),
                )

    def delete_user(self, userid: str) -> None:
        """
        Delete a user with its group connections, its access-list entries, its
        certificates and its key rings.

        Unlike RACF, access-list entries do not survive the user: a later user
        of the same ID must not inherit its authority by accident.
        """
        userid = normalize_id(userid)
        with self._database.transaction() as cursor:
            require_user(cursor, userid)
            cursor.execute("DELETE FROM access_list WHERE id = ?", (userid,))
            cursor.execute("DELETE FROM rings WHERE owner = ?", (userid,))
            cursor.execute("DELETE FROM certificates WHERE owner = ?", (userid,))
            cursor.execute("DELETE FROM users WHERE userid = ?", (userid,))

    def get_user(self, userid: str) -> UserProfile:
        userid = normalize_id(userid)
        with self._database.reading() as cursor:
            row = cursor.execute(
                "SELECT userid, name, owner, default_group, password_hash, "
                "failed_logons, revoked, created, last_logon, restricted FROM users "
                "WHERE userid = ?",
                (userid,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"user {userid} is not defined")
            groups = tuple(
                g
                for (g,) in cursor.execute(
                    "SELECT groupid FROM connections WHERE userid = ? ORDER BY groupid",
                    (userid,),
                )
            )
        return UserProfile(
            userid=row[0],
            name=row[1],
            owner=row[2],
            defaultGroup=row[3],
            hasPassword=row[4] is not None,
            failedLogons=row[5],
            revoked=bool(row[6]),
            created=row[7],
            lastLogon=row[8],
            groups=groups,
            restricted=bool(row[9]),
        )

    def environment(self, userid: str) -> AccessorEnvironment:
        """
        The security environment a logon of C{userid} would get now: its
        groups and attributes as the database holds them.  A user ID that
        is not defined gets the environment of an undefined user.
        """
        userid = normalize_id(userid)
        with self._database.reading() as cursor:
            return read_environment(cursor, userid)

    def list_userids(self) -> list[str]:
        with self._database.reading() as cursor:
            return [u for (u,) in cursor.execute("SELECT userid FROM users ORDER BY 1")]

    def add_group(
        self, groupid: str, *, superior: str | None = None, owner: str | None = None
    ) -> None:
        groupid = normalize_id(groupid, "group")
        superior = None if superior is None else normalize_id(superior, "group")
        owner = superior or groupid if owner is None else normalize_id(owner, "owner")
        with self._database.transaction() as cursor:
            if id_is_defined(cursor, groupid):
                raise AlreadyExistsError(f"{groupid} is already a user or group")
            if superior is not None:
                require_group(cursor, superior)
            cursor.execute(
                "INSERT INTO groups (groupid, superior, owner, created) "
                "VALUES (?, ?, ?, ?)",
                (groupid, superior, owner, now()),
            )

    def delete_group(self, groupid: str) -> None:
        groupid = normalize_id(groupid, "group")
        with self._database.transaction() as cursor:
            require_group(cursor, groupid)
            if cursor.execute(
                "SELECT 1 FROM users WHERE default_group = ?", (groupid,)
            ).fetchone():
                raise InvalidValueError(
                    f"group {groupid} is the default group of a user"
                )
            cursor.execute("DELETE FROM access_list WHERE id = ?", (groupid,))
            cursor.execute("DELETE FROM groups WHERE groupid = ?", (groupid,))

    def get_group(self, groupid: str) -> GroupProfile:
        groupid = normalize_id(groupid, "group")
        with self._database.reading() as cursor:
            row = cursor.execute(
                "SELECT groupid, superior, owner FROM groups WHERE groupid = ?",
                (groupid,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"group {groupid} is not defined")
            members = tuple(
                u
                for (u,) in cursor.execute(
                    "SELECT userid FROM connections WHERE groupid = ? ORDER BY 1",
                    (groupid,),
                )
            )
        return GroupProfile(row[0], row[1], row[2], members)

    def connect(self, userid: str, groupid: str) -> None:
        userid = normalize_id(userid)
        groupid = normalize_id(groupid, "group")
        with self._database.transaction() as cursor:
            require_user(cursor, userid)
            require_group(cursor, groupid)
            cursor.execute(
                "INSERT INTO connections (userid, groupid) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                (userid, groupid),
            )

    def remove(self, userid: str, groupid: str) -> None:
        userid = normalize_id(userid)
        groupid = normalize_id(groupid, "group")
        with self._database.transaction() as cursor:
            require_user(cursor, userid)
            deleted = cursor.execute(
                "DELETE FROM connections WHERE userid = ? AND groupid = ?",
                (userid, groupid),
            ).rowcount
            if not deleted:
                raise NotFoundError(f"user {userid} is not connected to {groupid}")
            cursor.execute(
                "UPDATE users SET default_group = NULL "
                "WHERE userid = ? AND default_group = ?",
                (userid, groupid),
            )

    def set_revoke_limit(self, limit: int) -> None:
        """
        C{SETROPTS PASSWORD(REVOKE(n))}; 0 is C{NOREVOKE}.
        """
        if not 0 <= limit <= MAX_REVOKE_LIMIT:
            raise InvalidValueError(f"REVOKE must be 1 to {MAX_REVOKE_LIMIT}")
        with self._database.transaction() as cursor:
            self._database.set_setting(cursor, REVOKE_SETTING, str(limit))

    def revoke_limit(self) -> int:
        with self._database.reading() as cursor:
            return revoke_limit(self._database, cursor)


def equalise_password_check(password: str) -> None:
    """
    Spend what checking C{password} against a stored hash costs, for a user
    who has none (unknown, or protected): timing must not tell them apart.
    """
    verify_password(password, _timing_equaliser())


@functools.cache
def _timing_equaliser() -> str:
    # Made on first need, not at import: every command imports this module.
    return hash_password("nsstwisted timing equaliser")
