"""
General resource profiles in the classes SERVAUTH and PTKTDATA, their access
lists, the class options of SETROPTS, and the in-memory snapshot that answers
authorization checks.

Checks never touch the database: like a RACLISTed class, they are answered
from a L{ProfileSnapshot} built once.  A daemon rebuilds it when told to
(C{SETROPTS RACLIST(class) REFRESH} bumps L{ProfileStore.generation}, which a
daemon can poll cheaply).  What the snapshot holds of users and class
options is only a default: a check made for a logged-on user takes that
user's L{AccessorEnvironment}, built at logon, and a daemon swaps in new
class options (L{ProfileSnapshot.with_options}) as soon as it reads them,
because RACF's class activation acts at once and only the profiles wait for
a REFRESH.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from nsstwisted.security.accessor import AccessorEnvironment
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    AlreadyExistsError,
    InvalidValueError,
    NotFoundError,
)
from nsstwisted.security.generic import (
    GenericPattern,
    best_match,
    is_generic,
    normalize_profile_name,
    order_generics,
    upper_ascii,
)
from nsstwisted.security.storage import Cursor
from nsstwisted.security.users import id_is_defined, normalize_id, now, revoke_limit

_ACTIVE = "classact"
_RACLIST = "raclist"
_GENERIC = "generic"
_GENERATION = "raclist_generation"

_FOUND_CACHE_SIZE = 4096
_APPLICATION_NAME = re.compile(r"[A-Z0-9@#$]{1,8}")

# The access-list entry that applies to every defined user, as in RACF.
ALL_USERS = "*"


class ResourceClass(enum.Enum):
    """
    The general resource classes this security manager knows.
    """

    SERVAUTH = "SERVAUTH"
    PTKTDATA = "PTKTDATA"

    @classmethod
    def parse(cls, value: str) -> ResourceClass:
        try:
            return cls(value.upper())
        except ValueError:
            raise InvalidValueError(
                f"class {value!r} is not SERVAUTH or PTKTDATA"
            ) from None


class AccessLevel(enum.IntEnum):
    """
    RACF access authorities, in increasing order.
    """

    NONE = 0
    READ = 1
    UPDATE = 2
    CONTROL = 3
    ALTER = 4

    @classmethod
    def parse(cls, value: str) -> AccessLevel:
        try:
            return cls[value.upper()]
        except KeyError:
            raise InvalidValueError(
                f"access {value!r} is not NONE, READ, UPDATE, CONTROL or ALTER"
            ) from None


class AuthorizationResult(enum.IntEnum):
    """
    SAF return codes: 0 allowed, 4 no decision (no profile protects the
    resource or the class is inactive), 8 denied.  The NSS server treats 4 as
    a denial, as the seed's DBG0032I line shows.
    """

    ALLOWED = 0
    NOT_PROTECTED = 4
    DENIED = 8


@dataclass(frozen=True)
class Decision:
    """
    The answer to one authorization check.

    @ivar result: the SAF return code.
    @ivar profile: the profile that decided, or C{None} if none protects the
        resource.
    @ivar granted: the access the user holds through that profile.
    @ivar warning: the profile is in WARNING mode and allowed an access
        the user does not hold (C{granted} is below what was asked for):
        the caller must log it, naming user, resource, profile and access.
    """

    result: AuthorizationResult
    profile: str | None
    granted: AccessLevel
    warning: bool = False

    @property
    def allowed(self) -> bool:
        return self.result is AuthorizationResult.ALLOWED


@dataclass(frozen=True)
class ResourceProfile:
    """
    A profile as RLIST shows it.  A PassTicket key is reported only as
    present or absent.
    """

    resourceClass: ResourceClass
    name: str
    generic: bool
    uacc: AccessLevel
    owner: str
    data: str
    hasPassTicketKey: bool
    accessList: tuple[tuple[str, AccessLevel], ...]
    warning: bool = False


@dataclass(frozen=True)
class ClassOptions:
    """
    The SETROPTS class options.
    """

    active: frozenset[ResourceClass]
    raclisted: frozenset[ResourceClass]
    generic: frozenset[ResourceClass]


@dataclass(frozen=True)
class _CompiledProfile:
    uacc: AccessLevel
    accessList: Mapping[str, AccessLevel]
    warning: bool = False


@dataclass(frozen=True)
class _CompiledClass:
    discrete: Mapping[str, _CompiledProfile]
    generics: tuple[tuple[GenericPattern, _CompiledProfile], ...]


@dataclass(frozen=True)
class ProfileSnapshot:
    """
    An immutable copy of the profiles and access lists, built in one read,
    that answers checks without I/O; with the class options and the users
    (their groups and attributes, and who is revoked) as that read found
    them.

    Being immutable, it can be shared by any number of threads, and replacing
    it is a single assignment.

    @ivar builtAt: when the read began, by C{time.monotonic}: a session whose
        environment is older than the snapshot can be checked against what
        the snapshot knows of its user.
    """

    generation: int
    options: ClassOptions
    _classes: Mapping[ResourceClass, _CompiledClass] = field(repr=False)
    _environments: Mapping[str, AccessorEnvironment] = field(repr=False)
    _revoked: frozenset[str] = field(default=frozenset(), repr=False)
    builtAt: float = 0.0
    # Per user: its password hash (None: protected) and failed logons, so
    # that password logons go on while the database cannot be reached.
    _logonState: Mapping[str, tuple[str | None, int]] = field(
        default_factory=dict, repr=False
    )
    revokeLimit: int = 0
    # Which profile protects a resource never changes within a snapshot, so
    # the answer is remembered; the bound keeps a prober from filling memory.
    _found: dict[tuple[ResourceClass, str], tuple[str, _CompiledProfile] | None] = (
        field(default_factory=dict, repr=False, compare=False)
    )

    def with_options(self, options: ClassOptions) -> ProfileSnapshot:
        """
        The same profiles under other class options: what a daemon installs
        when C{SETROPTS CLASSACT}, C{NOCLASSACT}, C{GENERIC} or C{NOGENERIC}
        changed, which RACF applies at once, without a REFRESH.
        """
        return replace(self, options=options, _found={})

    def is_revoked(self, userid: str) -> bool:
        """
        Whether C{userid} was revoked when the snapshot was taken: such a
        user passes no check with an environment older than the snapshot,
        and its sessions end when the snapshot that knows it is installed.
        """
        return upper_ascii(userid) in self._revoked

    def is_defined(self, userid: str) -> bool:
        """
        Whether C{userid} was a defined user when the snapshot was taken.
        """
        return upper_ascii(userid) in self._environments

    def logon_state(self, userid: str) -> tuple[str | None, int] | None:
        """
        C{userid}'s password hash (C{None} for a protected user) and count
        of failed logons when the snapshot was taken, or C{None} for a user
        it does not know: what a logon checks with while the database
        cannot be reached.
        """
        return self._logonState.get(upper_ascii(userid))

    def environment(self, userid: str) -> AccessorEnvironment:
        """
        The environment C{userid} had when the snapshot was taken: what a
        check without an environment of its own uses.
        """
        name = upper_ascii(userid)
        found = self._environments.get(name)
        return AccessorEnvironment.undefined(name) if found is None else found

    def protecting_profile(
        self, resourceClass: ResourceClass, resource: str
    ) -> str | None:
        """
        The name of the profile that protects C{resource}, if any.
        """
        found = self._find(resourceClass, upper_ascii(resource))
        return None if found is None else found[0]

    def _find(
        self, resourceClass: ResourceClass, resource: str
    ) -> tuple[str, _CompiledProfile] | None:
        key = (resourceClass, resource)
        if key in self._found:
            return self._found[key]
        found = self._search(resourceClass, resource)
        if len(self._found) >= _FOUND_CACHE_SIZE:
            self._found.clear()
        self._found[key] = found
        return found

    def _search(
        self, resourceClass: ResourceClass, resource: str
    ) -> tuple[str, _CompiledProfile] | None:
        compiled = self._classes.get(resourceClass)
        if compiled is None:
            return None
        if resource in compiled.discrete:
            return resource, compiled.discrete[resource]
        if resourceClass in self.options.generic:
            for pattern, profile in compiled.generics:
                if pattern.matches(resource):
                    return pattern.name, profile
        return None

    def authorize(
        self,
        userid: str,
        resourceClass: ResourceClass,
        resource: str,
        level: AccessLevel,
        *,
        environment: AccessorEnvironment | None = None,
    ) -> Decision:
        """
        Decide whether C{userid} holds C{level} access to C{resource}.

        The access comes, in RACF's order, from the user's own access-list
        entry; else the highest entry of a group the user is connected to;
        else, unless the user is RESTRICTED, the C{*} entry, for defined
        users, and else the profile's UACC.  A profile in WARNING mode lets
        a defined, unrestricted user in even without that access, and says
        so in the decision.

        The resource and the user ID are raised by L{upper_ascii} alone, the
        rule profile names were stored by: a resource holding a letter
        outside ASCII then matches no discrete profile, rather than one that
        Unicode case mapping would make of it (C{STRAßE} is not C{STRASSE}).

        @param environment: the user's environment as its logon built it;
            by default, the user as this snapshot saw it.
        @raise ValueError: the environment is another user's.
        """
        name = upper_ascii(userid)
        accessor = self.environment(name) if environment is None else environment
        if accessor.userid != name:
            raise ValueError(f"the environment of {accessor.userid} is not {name}'s")
        if not self._still_valid(accessor):
            # A revoked user has no security environment: whatever protects
            # the resource, and even if nothing does, the answer is no.
            protecting = self.protecting_profile(resourceClass, resource)
            return Decision(AuthorizationResult.DENIED, protecting, AccessLevel.NONE)
        if resourceClass not in self.options.active:
            return Decision(AuthorizationResult.NOT_PROTECTED, None, AccessLevel.NONE)
        found = self._find(resourceClass, upper_ascii(resource))
        if found is None:
            return Decision(AuthorizationResult.NOT_PROTECTED, None, AccessLevel.NONE)
        profileName, profile = found
        granted = _granted(accessor, profile)
        if granted >= level:
            return Decision(AuthorizationResult.ALLOWED, profileName, granted)
        if profile.warning and accessor.defined and not accessor.restricted:
            return Decision(
                AuthorizationResult.ALLOWED, profileName, granted, warning=True
            )
        return Decision(AuthorizationResult.DENIED, profileName, granted)

    def _still_valid(self, accessor: AccessorEnvironment) -> bool:
        """
        Whether the user may pass checks at all: not revoked, by the later
        of its environment and this snapshot; and, if this snapshot is the
        later, still defined.  So a RESUME counts from the next logon, and
        a REVOKE or DELUSER reaches the sessions opened before it at the
        refresh that makes it known.
        """
        if accessor.revoked:
            return False
        if accessor.builtAt >= self.builtAt:
            return True
        name = accessor.userid
        if name in self._revoked:
            return False
        return not accessor.defined or name in self._environments


def _granted(accessor: AccessorEnvironment, profile: _CompiledProfile) -> AccessLevel:
    acl = profile.accessList
    if accessor.userid in acl:
        return acl[accessor.userid]
    groupLevels = [acl[g] for g in accessor.groups if g in acl]
    if groupLevels:
        return max(groupLevels)
    if accessor.restricted:
        # RESTRICTED: only what the user or its groups are given by name.
        return AccessLevel.NONE
    if accessor.defined and ALL_USERS in acl:
        return acl[ALL_USERS]
    return profile.uacc


def _class_set(value: str) -> frozenset[ResourceClass]:
    return frozenset(ResourceClass(v) for v in value.split() if v)


def _class_text(classes: Iterable[ResourceClass]) -> str:
    return " ".join(sorted(c.value for c in classes))


class ProfileStore:
    """
    The general resource profiles of one security database.
    """

    def __init__(self, database: SecurityDatabase) -> None:
        self._database = database

    def define(
        self,
        resourceClass: ResourceClass,
        name: str,
        *,
        uacc: AccessLevel = AccessLevel.NONE,
        owner: str,
        data: str = "",
        passTicketKey: bytes | None = None,
        warning: bool = False,
    ) -> None:
        """
        Define a profile (RDEFINE).  A PassTicket key is sealed under the
        master key before it is stored, and only PTKTDATA profiles hold one.
        """
        name = normalize_profile_name(name)
        owner = normalize_id(owner, "owner")
        sealed = self._seal_key(resourceClass, name, passTicketKey)
        with self._database.transaction() as cursor:
            if sealed is not None:
                self._database.confirm_master_key(cursor, self._database.master_key())
            if self._row(cursor, resourceClass, name) is not None:
                raise AlreadyExistsError(
                    f"{resourceClass.value} profile {name} is already defined"
                )
            cursor.execute(
                "INSERT INTO profiles (class, name, uacc, owner, data, sealed_key, "
                "created, warning) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    resourceClass.value,
                    name,
                    uacc.name,
                    owner,
                    data,
                    sealed,
                    now(),
                    int(warning),
                ),
            )

    def alter(
        self,
        resourceClass: ResourceClass,
        name: str,
        *,
        uacc: AccessLevel | None = None,
        owner: str | None = None,
        data: str | None = None,
        passTicketKey: bytes | None = None,
        removePassTicketKey: bool = False,
        warning: bool | None = None,
    ) -> None:
        """
        Change a profile (RALTER).

        @param warning: C{True} for WARNING, C{False} for NOWARNING, C{None}
            to leave the mode as it is.
        """
        name = normalize_profile_name(name)
        owner = None if owner is None else normalize_id(owner, "owner")
        sealed = self._seal_key(resourceClass, name, passTicketKey)
        with self._database.transaction() as cursor:
            if sealed is not None:
                self._database.confirm_master_key(cursor, self._database.master_key())
            if self._row(cursor, resourceClass, name) is None:
                raise self._not_found(resourceClass, name)
            key = (resourceClass.value, name)
            if uacc is not None:
                cursor.execute(
                    "UPDATE profiles SET uacc = ? WHERE class = ? AND name = ?",
                    (uacc.name, *key),
                )
            if owner is not None:
                cursor.execute(
                    "UPDATE profiles SET owner = ? WHERE class = ? AND name = ?",
                    (owner, *key),
                )
            if data is not None:
                cursor.execute(
                    "UPDATE profiles SET data = ? WHERE class = ? AND name = ?",
                    (data, *key),
                )
            if sealed is not None or removePassTicketKey:
                cursor.execute(
                    "UPDATE profiles SET sealed_key = ? WHERE class = ? AND name = ?",
                    (sealed, *key),
                )
            if warning is not None:
                cursor.execute(
                    "UPDATE profiles SET warning = ? WHERE class = ? AND name = ?",
                    (int(warning), *key),
                )

    def delete(self, resourceClass: ResourceClass, name: str) -> None:
        name = normalize_profile_name(name)
        with self._database.transaction() as cursor:
            deleted = cursor.execute(
                "DELETE FROM profiles WHERE class = ? AND name = ?",
                (resourceClass.value, name),
            ).rowcount
            if not deleted:
                raise self._not_found(resourceClass, name)

    def permit(
        self,
        resourceClass: ResourceClass,
        name: str,
        ids: Iterable[str],
        access: AccessLevel | None,
    ) -> None:
        """
        Add or change access-list entries (PERMIT ... ACCESS), or with
        C{access=None} remove them (PERMIT ... DELETE).  Every ID must be a
        defined user or group, or C{*}.
        """
        name = normalize_profile_name(name)
        names = [i if i == ALL_USERS else normalize_id(i, "ID") for i in ids]
        if not names:
            raise InvalidValueError("PERMIT needs at least one ID")
        with self._database.transaction() as cursor:
            if self._row(cursor, resourceClass, name) is None:
                raise self._not_found(resourceClass, name)
            for entry in names:
                key = (resourceClass.value, name, entry)
                if access is None:
                    deleted = cursor.execute(
                        "DELETE FROM access_list WHERE class = ? AND name = ? "
                        "AND id = ?",
                        key,
                    ).rowcount
                    if not deleted:
                        raise NotFoundError(
                            f"{entry} is not in the access list of {name}"
                        )
                    continue
                if entry != ALL_USERS and not id_is_defined(cursor, entry):
                    raise NotFoundError(f"{entry} is not a defined user or group")
                cursor.execute(
                    "INSERT INTO access_list (class, name, id, access) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT(class, name, id) "
                    "DO UPDATE SET access = excluded.access",
                    (*key, access.name),
                )

    def get(self, resourceClass: ResourceClass, name: str) -> ResourceProfile:
        name = normalize_profile_name(name)
        with self._database.reading() as cursor:
            row = self._row(cursor, resourceClass, name)
            if row is None:
                raise self._not_found(resourceClass, name)
            return self._profile(cursor, resourceClass, row)

    def list(self, resourceClass: ResourceClass) -> list[ResourceProfile]:
        with self._database.reading() as cursor:
            rows = cursor.execute(
                "SELECT name, uacc, owner, data, sealed_key, warning FROM profiles "
                "WHERE class = ? ORDER BY name",
                (resourceClass.value,),
            ).fetchall()
            return [self._profile(cursor, resourceClass, row) for row in rows]

    def pass_ticket_key(self, applname: str) -> bytes | None:
        """
        The unsealed PassTicket key of PTKTDATA profile C{applname}, or
        C{None} if the class is inactive or no profile with a key exists.

        This is the one place a PassTicket key leaves its seal, and only to
        evaluate or generate a ticket inside this package.
        """
        name = normalize_profile_name(applname)
        with self._database.reading() as cursor:
            active = _class_set(self._database.setting(cursor, _ACTIVE, ""))
            row = cursor.execute(
                "SELECT sealed_key FROM profiles WHERE class = ? AND name = ?",
                (ResourceClass.PTKTDATA.value, name),
            ).fetchone()
        if ResourceClass.PTKTDATA not in active or row is None or row[0] is None:
            return None
        return self._database.master_key().unseal(row[0], passticket_key_aad(name))

    def options(self) -> ClassOptions:
        with self._database.reading() as cursor:
            return self._options(cursor)

    def set_options(
        self,
        *,
        activate: Iterable[ResourceClass] = (),
        deactivate: Iterable[ResourceClass] = (),
        raclist: Iterable[ResourceClass] = (),
        noRaclist: Iterable[ResourceClass] = (),
        generic: Iterable[ResourceClass] = (),
        noGeneric: Iterable[ResourceClass] = (),
        refresh: bool = False,
    ) -> None:
        """
        Apply SETROPTS class options; C{refresh} bumps the generation so that
        running daemons rebuild their snapshots.
        """
        db = self._database
        with db.transaction() as cursor:
            current = self._options(cursor)
            db.set_setting(
                cursor,
                _ACTIVE,
                _class_text((current.active | set(activate)) - set(deactivate)),
            )
            db.set_setting(
                cursor,
                _RACLIST,
                _class_text((current.raclisted | set(raclist)) - set(noRaclist)),
            )
            db.set_setting(
                cursor,
                _GENERIC,
                _class_text((current.generic | set(generic)) - set(noGeneric)),
            )
            if refresh:
                generation = int(db.setting(cursor, _GENERATION, "0"))
                db.set_setting(cursor, _GENERATION, str(generation + 1))
            # Class options take effect at once, as a REFRESH does: every
            # server on the database hears of it at the commit (PostgreSQL;
            # on SQLite they poll).
            db.announce(cursor)

    def generation(self) -> int:
        """
        The refresh generation; a daemon whose snapshot is older rebuilds.
        """
        with self._database.reading() as cursor:
            return int(self._database.setting(cursor, _GENERATION, "0"))

    def status(self) -> tuple[int, ClassOptions]:
        """
        The refresh generation and the class options, in one cheap read: a
        daemon compares them with its snapshot's to know whether to rebuild
        it (a new generation) or only to swap in the options (L{with_options
        <ProfileSnapshot.with_options>}).
        """
        with self._database.reading() as cursor:
            generation = int(self._database.setting(cursor, _GENERATION, "0"))
            return generation, self._options(cursor)

    def protecting(
        self, resourceClass: ResourceClass, resource: str
    ) -> ResourceProfile | None:
        """
        The profile that protects C{resource} as the database stands now
        (C{RLIST class resource GENERIC}): the discrete profile of that
        name, else, while C{SETROPTS GENERIC} is active for the class, the
        most specific generic profile that matches it.
        """
        name = upper_ascii(resource)
        with self._database.reading() as cursor:
            generic = resourceClass in self._options(cursor).generic
            names = [
                n
                for (n,) in cursor.execute(
                    "SELECT name FROM profiles WHERE class = ?", (resourceClass.value,)
                )
                if generic or not is_generic(n) or n == name
            ]
            found = name if name in names else best_match(names, name)
            if found is None:
                return None
            row = self._row(cursor, resourceClass, found)
            assert row is not None
            return self._profile(cursor, resourceClass, row)

    def generic_order(
        self, resourceClass: ResourceClass
    ) -> tuple[ResourceProfile, ...]:
        """
        The generic profiles of a class in the order checks search them,
        most specific first (C{RLIST class * GENERIC}).
        """
        byName = {p.name: p for p in self.list(resourceClass) if p.generic}
        return tuple(byName[pattern.name] for pattern in order_generics(byName))

    def snapshot(self) -> ProfileSnapshot:
        """
        Build the in-memory snapshot in one consistent read.
        """
        builtAt = time.monotonic()
        with self._database.reading() as cursor:
            options = self._options(cursor)
            generation = int(self._database.setting(cursor, _GENERATION, "0"))
            acls: dict[tuple[str, str], dict[str, AccessLevel]] = {}
            for cls, name, entry, access in cursor.execute(
                "SELECT class, name, id, access FROM access_list"
            ):
                acls.setdefault((cls, name), {})[entry] = AccessLevel[access]
            profiles: dict[ResourceClass, dict[str, _CompiledProfile]] = {
                c: {} for c in ResourceClass
            }
            for cls, name, uacc, warning in cursor.execute(
                "SELECT class, name, uacc, warning FROM profiles"
            ):
                profiles[ResourceClass(cls)][name] = _CompiledProfile(
                    AccessLevel[uacc], acls.get((cls, name), {}), bool(warning)
                )
            groups: dict[str, set[str]] = {}
            for userid, groupid in cursor.execute(
                "SELECT userid, groupid FROM connections"
            ):
                groups.setdefault(userid, set()).add(groupid)
            environments = {}
            logonState = {}
            for userid, restricted, revoked, hashed, failed in cursor.execute(
                "SELECT userid, restricted, revoked, password_hash, failed_logons"
                " FROM users"
            ):
                environments[userid] = AccessorEnvironment(
                    userid,
                    frozenset(groups.get(userid, ())),
                    restricted=bool(restricted),
                    revoked=bool(revoked),
                    builtAt=builtAt,
                )
                logonState[userid] = (hashed, int(failed))
            limit = revoke_limit(self._database, cursor)
        classes = {}
        for cls, byName in profiles.items():
            generic = order_generics(n for n in byName if is_generic(n))
            classes[cls] = _CompiledClass(
                {n: p for n, p in byName.items() if not is_generic(n)},
                tuple((pattern, byName[pattern.name]) for pattern in generic),
            )
        return ProfileSnapshot(
            generation,
            options,
            classes,
            environments,
            frozenset(u for u, e in environments.items() if e.revoked),
            builtAt,
            logonState,
            limit,
        )

    def _options(self, cursor: Cursor) -> ClassOptions:
        db = self._database
        return ClassOptions(
            _class_set(db.setting(cursor, _ACTIVE, "")),
            _class_set(db.setting(cursor, _RACLIST, "")),
            _class_set(db.setting(cursor, _GENERIC, "")),
        )

    def _seal_key(
        self, resourceClass: ResourceClass, name: str, key: bytes | None
    ) -> bytes | None:
        if key is None:
            return None
        if resourceClass is not ResourceClass.PTKTDATA:
            raise InvalidValueError("only PTKTDATA profiles hold SSIGNON keys")
        if not _APPLICATION_NAME.fullmatch(name):
            raise InvalidValueError(
                "a PassTicket key belongs in a profile named after the "
                "application: 1 to 8 of A-Z, 0-9, @, # and $"
            )
        return self._database.master_key().seal(key, passticket_key_aad(name))

    @staticmethod
    def _row(
        cursor: Cursor, resourceClass: ResourceClass, name: str
    ) -> tuple[str, str, str, str, bytes | None, int] | None:
        row = cursor.execute(
            "SELECT name, uacc, owner, data, sealed_key, warning FROM profiles "
            "WHERE class = ? AND name = ?",
            (resourceClass.value, name),
        ).fetchone()
        return None if row is None else tuple(row)

    @staticmethod
    def _profile(
        cursor: Cursor, resourceClass: ResourceClass, row: tuple[object, ...]
    ) -> ResourceProfile:
        name = str(row[0])
        acl = tuple(
            (str(entry), AccessLevel[str(access)])
            for entry, access in cursor.execute(
                "SELECT id, access FROM access_list WHERE class = ? AND name = ? "
                "ORDER BY id",
                (resourceClass.value, name),
            )
        )
        return ResourceProfile(
            resourceClass=resourceClass,
            name=name,
            generic=is_generic(name),
            uacc=AccessLevel[str(row[1])],
            owner=str(row[2]),
            data=str(row[3]),
            hasPassTicketKey=row[4] is not None,
            accessList=acl,
            warning=bool(row[5]),
        )

    @staticmethod
    def _not_found(resourceClass: ResourceClass, name: str) -> NotFoundError:
        return NotFoundError(f"{resourceClass.value} profile {name} is not defined")


def passticket_key_aad(name: str) -> bytes:
    """
    What a PassTicket key's seal is bound to: its PTKTDATA profile's name.
    """
    # Binding the seal to the profile name stops a key being moved to
    # another application's profile by editing the file.
    return b"nsstwisted PTKTDATA key\x00" + name.encode("ascii", "replace")
