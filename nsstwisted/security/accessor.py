"""
A user's security environment, the accessor environment: what RACF builds
when a user logs on (its ACEE, accessor environment element) and keeps for
as long as the user stays on: the groups the user is connected to, its
RESTRICTED attribute, and whether it is defined at all.

RACF answers an authorization check from two things.  The resource
profiles of a RACLISTed class are copies in storage, renewed only by
C{SETROPTS RACLIST(class) REFRESH}.  The user's environment is built at
logon.  So C{CONNECT}, C{REMOVE} and C{ALTUSER ... RESTRICTED} reach a user
at its next logon, whether or not anybody refreshes the profiles, and a
session that is already open keeps the environment it started with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nsstwisted.security.storage import Cursor


@dataclass(frozen=True)
class AccessorEnvironment:
    """
    @ivar userid: the user ID, upper case.
    @ivar groups: the groups the user is connected to; all of them count in
        a check, as under RACF's C{SETROPTS GRPLIST}.
    @ivar restricted: the user has the RESTRICTED attribute: C{ID(*)} and a
        profile's UACC give it nothing, nor does a WARNING profile.
    @ivar defined: the user is defined in the security database; an
        undefined user gets only a profile's UACC, as in RACF.
    @ivar revoked: the user is revoked and passes no check.
    @ivar builtAt: when it was read, by C{time.monotonic}: of an environment
        and a profile snapshot, the later one knows better whether the user
        is still defined and not revoked.
    """

    userid: str
    groups: frozenset[str] = frozenset()
    restricted: bool = False
    defined: bool = True
    revoked: bool = False
    builtAt: float = 0.0

    @classmethod
    def undefined(cls, userid: str) -> AccessorEnvironment:
        """
        The environment of a user ID the security database does not know.
        """
        return cls(userid, defined=False)


def read_environment(cursor: Cursor, userid: str) -> AccessorEnvironment:
    """
    Build the environment of C{userid} (already upper case) inside an open
    transaction, as a logon does.
    """
    builtAt = time.monotonic()
    row = cursor.execute(
        "SELECT restricted, revoked FROM users WHERE userid = ?", (userid,)
    ).fetchone()
    if row is None:
        return AccessorEnvironment(userid, defined=False, builtAt=builtAt)
    groups = frozenset(
        g
        for (g,) in cursor.execute(
            "SELECT groupid FROM connections WHERE userid = ?", (userid,)
        )
    )
    return AccessorEnvironment(
        userid,
        groups,
        restricted=bool(row[0]),
        revoked=bool(row[1]),
        builtAt=builtAt,
    )


__all__ = ["AccessorEnvironment", "read_environment"]
