"""
The RACF command interpreter: ADDUSER, RDEFINE, PERMIT, SETROPTS, RACDCERT and
their companions, run against a L{SecurityDatabase}.

Each command is atomic: the store methods it calls each run in one
transaction, and every value is checked before the first of them runs, so a
command that fails changes nothing.  A command returns the lines it reports
(listings, warnings); errors are raised as L{SecurityError}s and carry the
command and, from a job, the line.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nsstwisted.security.certfiles import load_certificate_file
from nsstwisted.security.certgen import subject_name
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    CommandSyntaxError,
    InvalidValueError,
)
from nsstwisted.security.generic import is_generic, upper_ascii
from nsstwisted.security.keyring import (
    CertificateOwner,
    CertificateRecord,
    CertificateUsage,
    KeyRingStore,
)
from nsstwisted.security.labels import map_label
from nsstwisted.security.passticket import parse_key
from nsstwisted.security.pkcs11token import Pkcs11Token
from nsstwisted.security.profiles import (
    AccessLevel,
    ProfileStore,
    ResourceClass,
    ResourceProfile,
)
from nsstwisted.security.racf.lexer import RacfCommand
from nsstwisted.security.racf.listings import (
    CertificateListing,
    CommandOutput,
    GroupListing,
    OptionsListing,
    ProfileEntry,
    ProfileListing,
    RingListing,
    TokenListing,
    UserListing,
)
from nsstwisted.security.racf.syntax import (
    Arity,
    ParsedOperands,
    Syntax,
    parse_command_operands,
)
from nsstwisted.security.tokenaccess import TokenAccess, TokenOpener
from nsstwisted.security.tokenreference import TokenKeyReference
from nsstwisted.security.users import UserRegistry

A = Arity
_OWNER_KEYWORDS = {"ID": A.ONE, "CERTAUTH": A.FLAG, "SITE": A.FLAG}
# RSA(TOKEN(name)) and NISTECC(TOKEN(name)): the key is made in that PKCS#11
# token; PKDS (ICSF's key store) is recognised, to be refused saying so.
_KEY_STORE = Syntax(keywords={"TOKEN": A.ONE, "PKDS": A.OPTIONAL_ONE})

SYNTAX: dict[str, Syntax] = {
    "ADDUSER": Syntax(
        1,
        1,
        {
            "NAME": A.ONE,
            "PASSWORD": A.ONE,
            "NOPASSWORD": A.FLAG,
            "DFLTGRP": A.ONE,
            "OWNER": A.ONE,
            "RESTRICTED": A.FLAG,
            "NORESTRICTED": A.FLAG,
        },
    ),
    "ALTUSER": Syntax(
        1,
        1,
        {
            "NAME": A.ONE,
            "PASSWORD": A.ONE,
            "NOPASSWORD": A.FLAG,
            "REVOKE": A.FLAG,
            "RESUME": A.FLAG,
            "DFLTGRP": A.ONE,
            "RESTRICTED": A.FLAG,
            "NORESTRICTED": A.FLAG,
        },
    ),
    "DELUSER": Syntax(1, 1),
    "LISTUSER": Syntax(1, 0),
    "ADDGROUP": Syntax(1, 1, {"SUPGROUP": A.ONE, "OWNER": A.ONE}),
    "DELGROUP": Syntax(1, 1),
    "LISTGRP": Syntax(1, 1),
    "CONNECT": Syntax(1, 1, {"GROUP": A.ONE}),
    "REMOVE": Syntax(1, 1, {"GROUP": A.ONE}),
    "RDEFINE": Syntax(
        2,
        2,
        {
            "UACC": A.ONE,
            "OWNER": A.ONE,
            "DATA": A.ONE,
            "SSIGNON": A.NESTED,
            "WARNING": A.FLAG,
            "NOWARNING": A.FLAG,
        },
        {"SSIGNON": Syntax(keywords={"KEYMASKED": A.ONE})},
    ),
    "RALTER": Syntax(
        2,
        2,
        {
            "UACC": A.ONE,
            "OWNER": A.ONE,
            "DATA": A.ONE,
            "SSIGNON": A.NESTED,
            "NOSSIGNON": A.FLAG,
            "WARNING": A.FLAG,
            "NOWARNING": A.FLAG,
        },
        {"SSIGNON": Syntax(keywords={"KEYMASKED": A.ONE})},
    ),
    "RDELETE": Syntax(2, 2),
    "RLIST": Syntax(2, 2, {"ALL": A.FLAG, "AUTHUSER": A.FLAG, "GENERIC": A.FLAG}),
    "PERMIT": Syntax(
        1,
        1,
        {"CLASS": A.ONE, "ID": A.MANY, "ACCESS": A.ONE, "DELETE": A.FLAG},
    ),
    "SETROPTS": Syntax(
        0,
        0,
        {
            "CLASSACT": A.MANY,
            "NOCLASSACT": A.MANY,
            "RACLIST": A.MANY,
            "NORACLIST": A.MANY,
            "GENERIC": A.MANY,
            "NOGENERIC": A.MANY,
            "REFRESH": A.FLAG,
            "PASSWORD": A.NESTED,
            "LIST": A.FLAG,
        },
        {"PASSWORD": Syntax(keywords={"REVOKE": A.ONE, "NOREVOKE": A.FLAG})},
    ),
    "RACDCERT": Syntax(
        0,
        0,
        {
            **_OWNER_KEYWORDS,
            "ADD": A.ONE,
            "TRUST": A.FLAG,
            "NOTRUST": A.FLAG,
            "WITHLABEL": A.ONE,
            "PASSWORD": A.ONE,
            "GENCERT": A.FLAG,
            "SUBJECTSDN": A.NESTED,
            "SIZE": A.ONE,
            "RSA": A.OPTIONAL_NESTED,
            "NISTECC": A.OPTIONAL_NESTED,
            "PCICC": A.OPTIONAL_ONE,
            "ICSF": A.OPTIONAL_ONE,
            "SIGNWITH": A.NESTED,
            "NOTBEFORE": A.NESTED,
            "NOTAFTER": A.NESTED,
            "ALTNAME": A.NESTED,
            "ADDRING": A.ONE,
            "DELRING": A.ONE,
            "CONNECT": A.NESTED,
            "REMOVE": A.NESTED,
            "LIST": A.OPTIONAL_NESTED,
            "LISTRING": A.ONE,
            "EXPORT": A.NESTED,
            "DSN": A.ONE,
            "FORMAT": A.ONE,
            "DELETE": A.NESTED,
            "ALTER": A.NESTED,
            "REKEY": A.NESTED,
            "ROLLOVER": A.NESTED,
            "NEWLABEL": A.ONE,
            "BIND": A.NESTED,
            "UNBIND": A.NESTED,
            "LISTTOKEN": A.ONE,
            "ADDTOKEN": A.ONE,
            "DELTOKEN": A.ONE,
            "FORCE": A.FLAG,
        },
        {
            "RSA": _KEY_STORE,
            "NISTECC": _KEY_STORE,
            "BIND": Syntax(keywords={"TOKEN": A.ONE, "LABEL": A.ONE}),
            "UNBIND": Syntax(
                keywords={"TOKEN": A.ONE, "LABEL": A.ONE, "SEQNUM": A.ONE}
            ),
            "SUBJECTSDN": Syntax(
                keywords={
                    "CN": A.ONE,
                    "T": A.ONE,
                    "OU": A.MANY,
                    "O": A.ONE,
                    "L": A.ONE,
                    "SP": A.ONE,
                    "C": A.ONE,
                }
            ),
            "SIGNWITH": Syntax(keywords={**_OWNER_KEYWORDS, "LABEL": A.ONE}),
            "NOTBEFORE": Syntax(keywords={"DATE": A.ONE}),
            "NOTAFTER": Syntax(keywords={"DATE": A.ONE}),
            "ALTNAME": Syntax(keywords={"IP": A.ONE, "DOMAIN": A.ONE, "EMAIL": A.ONE}),
            "CONNECT": Syntax(
                keywords={
                    **_OWNER_KEYWORDS,
                    "LABEL": A.ONE,
                    "RING": A.ONE,
                    "USAGE": A.ONE,
                    "DEFAULT": A.FLAG,
                }
            ),
            "REMOVE": Syntax(
                keywords={**_OWNER_KEYWORDS, "LABEL": A.ONE, "RING": A.ONE}
            ),
            "LIST": Syntax(keywords={"LABEL": A.ONE}),
            "EXPORT": Syntax(keywords={"LABEL": A.ONE}),
            "DELETE": Syntax(keywords={"LABEL": A.ONE}),
            "ALTER": Syntax(keywords={"LABEL": A.ONE}),
            "REKEY": Syntax(keywords={"LABEL": A.ONE}),
            "ROLLOVER": Syntax(keywords={"LABEL": A.ONE}),
        },
    ),
}

_RACDCERT_FUNCTIONS = (
    "ADD",
    "GENCERT",
    "ADDRING",
    "DELRING",
    "CONNECT",
    "REMOVE",
    "LIST",
    "EXPORT",
    "LISTRING",
    "DELETE",
    "ALTER",
    "REKEY",
    "ROLLOVER",
    "BIND",
    "UNBIND",
    "LISTTOKEN",
    "ADDTOKEN",
    "DELTOKEN",
)

_LISTING_VERBS = frozenset({"LISTUSER", "LISTGRP", "RLIST"})
_LISTING_RACDCERT = ("LIST", "LISTRING", "EXPORT", "LISTTOKEN")


def check_command(command: RacfCommand) -> ParsedOperands:
    """
    Check a command's verb and operands without a database, so that a job
    with a syntax error anywhere can be refused before anything is opened
    or run.

    @raise CommandSyntaxError: the command is not one of L{SYNTAX}, or its
        operands do not fit it.
    """
    syntax = SYNTAX.get(command.verb)
    if syntax is None:
        raise CommandSyntaxError(
            "is not a supported RACF command", command.verb, None, command.line
        )
    return parse_command_operands(command, syntax)


def changes_database(command: RacfCommand) -> bool:
    """
    Whether a command defines, alters or deletes anything, rather than only
    listing: C{LISTUSER}, C{LISTGRP}, C{RLIST}, C{SETROPTS LIST} and
    C{RACDCERT LIST}, C{LISTRING} and C{EXPORT} only read.  A job of
    listings has no business creating a database, so that a mistyped
    database path is reported rather than filled.

    @raise CommandSyntaxError: as L{check_command}.
    """
    operands = check_command(command)
    if command.verb in _LISTING_VERBS:
        return False
    if command.verb == "SETROPTS":
        return bool({*operands.keywords, *operands.nested} - {"LIST"})
    if command.verb == "RACDCERT":
        return not any(operands.has(function) for function in _LISTING_RACDCERT)
    return True


_RING_HEADING = "  Certificate Label Name             Cert Owner     USAGE      DEFAULT"
_RING_RULE = "  " + "   ".join(["-" * 32, "-" * 12, "-" * 8, "-" * 7])

# The owner when a RACF command names none; RACF would use the issuer.
DEFAULT_OWNER = "IBMUSER"


class RacfInterpreter:
    """
    Runs parsed RACF commands against one security database.

    @param baseDirectory: where relative certificate file names in
        C{RACDCERT ADD} are looked up (the job file's folder, for example).
    @param tokens: opens the PKCS#11 tokens that RACDCERT's token functions
        and GENCERT's key stores name; by default none can be.
    """

    def __init__(
        self,
        database: SecurityDatabase,
        baseDirectory: str = ".",
        tokens: TokenOpener | None = None,
    ) -> None:
        self._database = database
        self._users = UserRegistry(database)
        self._profiles = ProfileStore(database)
        self._tokens = tokens or TokenOpener(TokenAccess())
        self._keyrings = KeyRingStore(database, self._tokens)
        self._base = baseDirectory
        self._handlers: dict[
            str, Callable[[ParsedOperands], list[str] | CommandOutput]
        ] = {
            "ADDUSER": self._adduser,
            "ALTUSER": self._altuser,
            "DELUSER": self._deluser,
            "LISTUSER": self._listuser,
            "ADDGROUP": self._addgroup,
            "DELGROUP": self._delgroup,
            "LISTGRP": self._listgrp,
            "CONNECT": self._connect,
            "REMOVE": self._remove,
            "RDEFINE": self._rdefine,
            "RALTER": self._ralter,
            "RDELETE": self._rdelete,
            "RLIST": self._rlist,
            "PERMIT": self._permit,
            "SETROPTS": self._setropts,
            "RACDCERT": self._racdcert,
        }

    def check(self, command: RacfCommand) -> ParsedOperands:
        """
        Check a command's verb and operands without running it
        (L{check_command}).
        """
        return check_command(command)

    def execute(self, command: RacfCommand) -> list[str]:
        """
        Run one command and return the lines it reports.
        """
        return list(self.run(command).lines)

    def run(self, command: RacfCommand) -> CommandOutput:
        """
        Run one command and return what it reports: its lines and, for a
        listing command, the records it listed.
        """
        operands = self.check(command)
        with self._database.transaction():
            output = self._handlers[command.verb](operands)
        if isinstance(output, CommandOutput):
            return output
        return CommandOutput.of_messages(output)

    # Users and groups

    def _adduser(self, ops: ParsedOperands) -> list[str]:
        _contradiction(ops, "PASSWORD", "NOPASSWORD")
        restricted = _switch(ops, "RESTRICTED", "NORESTRICTED")
        for userid in ops.positional[0]:
            self._users.add_user(
                userid,
                name=ops.value("NAME") or "",
                password=ops.value("PASSWORD"),
                defaultGroup=ops.value("DFLTGRP"),
                owner=ops.value("OWNER"),
                restricted=bool(restricted),
            )
        return []

    def _altuser(self, ops: ParsedOperands) -> list[str]:
        restricted = _switch(ops, "RESTRICTED", "NORESTRICTED")
        for userid in ops.positional[0]:
            self._users.alter_user(
                userid,
                name=ops.value("NAME"),
                password=ops.value("PASSWORD"),
                noPassword=ops.has("NOPASSWORD"),
                revoke=ops.has("REVOKE"),
                resume=ops.has("RESUME"),
                defaultGroup=ops.value("DFLTGRP"),
                restricted=restricted,
            )
        return []

    def _deluser(self, ops: ParsedOperands) -> list[str]:
        for userid in ops.positional[0]:
            self._users.delete_user(userid)
        return []

    def _listuser(self, ops: ParsedOperands) -> CommandOutput:
        names = ops.positional[0] if ops.positional else ("*",)
        if names == ("*",):
            names = tuple(self._users.list_userids())
        users = tuple(self._users.get_user(userid) for userid in names)
        lines: list[str] = []
        for user in users:
            attributes = (
                " ".join(
                    name
                    for name, held in (
                        ("REVOKED", user.revoked),
                        ("RESTRICTED", user.restricted),
                    )
                    if held
                )
                or "NONE"
            )
            lines += [
                f"USER={user.userid}  NAME={user.name or 'UNKNOWN'}  "
                f"OWNER={user.owner}  CREATED={user.created}",
                f" DEFAULT-GROUP={user.defaultGroup or 'NONE'}  "
                f"PASSWORD={'SET' if user.hasPassword else 'NONE'}  "
                f"FAILED-LOGONS={user.failedLogons}",
                f" ATTRIBUTES={attributes}",
                f" LAST-ACCESS={user.lastLogon or 'UNKNOWN'}",
                f" GROUPS={' '.join(user.groups) or 'NONE'}",
                "",
            ]
        return CommandOutput(tuple(lines), listing=UserListing(users))

    def _addgroup(self, ops: ParsedOperands) -> list[str]:
        for groupid in ops.positional[0]:
            self._users.add_group(
                groupid, superior=ops.value("SUPGROUP"), owner=ops.value("OWNER")
            )
        return []

    def _delgroup(self, ops: ParsedOperands) -> list[str]:
        for groupid in ops.positional[0]:
            self._users.delete_group(groupid)
        return []

    def _listgrp(self, ops: ParsedOperands) -> CommandOutput:
        groups = tuple(self._users.get_group(g) for g in ops.positional[0])
        lines = []
        for group in groups:
            lines += [
                f"INFORMATION FOR GROUP {group.groupid}",
                f"    SUPERIOR GROUP={group.superior or 'NONE'}  OWNER={group.owner}",
                f"    USERS={' '.join(group.members) or 'NONE'}",
            ]
        return CommandOutput(tuple(lines), listing=GroupListing(groups))

    def _connect(self, ops: ParsedOperands) -> list[str]:
        group = _required(ops, "GROUP", "CONNECT")
        for userid in ops.positional[0]:
            self._users.connect(userid, group)
        return []

    def _remove(self, ops: ParsedOperands) -> list[str]:
        group = _required(ops, "GROUP", "REMOVE")
        for userid in ops.positional[0]:
            self._users.remove(userid, group)
        return []

    # General resource profiles

    def _resource_class(self, ops: ParsedOperands) -> ResourceClass:
        names = ops.positional[0]
        if len(names) != 1:
            raise InvalidValueError("give one class, SERVAUTH or PTKTDATA")
        return ResourceClass.parse(names[0])

    def _rdefine(self, ops: ParsedOperands) -> list[str]:
        resourceClass = self._resource_class(ops)
        uacc = AccessLevel.parse(ops.value("UACC") or "NONE")
        key = _passticket_key(ops)
        warning = _switch(ops, "WARNING", "NOWARNING")
        warnings = []
        for name in ops.positional[1]:
            self._profiles.define(
                resourceClass,
                name,
                uacc=uacc,
                owner=ops.value("OWNER") or DEFAULT_OWNER,
                data=ops.value("DATA") or "",
                passTicketKey=key,
                warning=bool(warning),
            )
            if "&" in name:
                warnings.append(
                    f"NSR0333W profile {name.upper()} holds &, which is matched "
                    "as itself: nsstwisted has no RACF variables (RACFVARS)"
                )
            if (
                is_generic(name)
                and resourceClass not in self._profiles.options().generic
            ):
                warnings.append(
                    f"NSR0301W GENERIC is not active for {resourceClass.value}: "
                    f"profile {name.upper()} protects nothing until "
                    f"SETROPTS GENERIC({resourceClass.value})"
                )
        return warnings

    def _ralter(self, ops: ParsedOperands) -> list[str]:
        resourceClass = self._resource_class(ops)
        _contradiction(ops, "SSIGNON", "NOSSIGNON")
        uacc = ops.value("UACC")
        key = _passticket_key(ops)
        warning = _switch(ops, "WARNING", "NOWARNING")
        for name in ops.positional[1]:
            self._profiles.alter(
                resourceClass,
                name,
                uacc=None if uacc is None else AccessLevel.parse(uacc),
                owner=ops.value("OWNER"),
                data=ops.value("DATA"),
                passTicketKey=key,
                removePassTicketKey=ops.has("NOSSIGNON"),
                warning=warning,
            )
        return []

    def _rdelete(self, ops: ParsedOperands) -> list[str]:
        resourceClass = self._resource_class(ops)
        for name in ops.positional[1]:
            self._profiles.delete(resourceClass, name)
        return []

    def _rlist(self, ops: ParsedOperands) -> CommandOutput:
        resourceClass = self._resource_class(ops)
        names = ops.positional[1]
        if ops.has("GENERIC"):
            return self._rlist_generic(ops, resourceClass, names)
        if names == ("*",):
            profiles = self._profiles.list(resourceClass)
        else:
            profiles = [self._profiles.get(resourceClass, n) for n in names]
        accessList = ops.has("ALL") or ops.has("AUTHUSER")
        lines: list[str] = []
        for profile in profiles:
            lines += _profile_listing(profile, accessList)
        listing = ProfileListing(
            resourceClass, tuple(ProfileEntry(p) for p in profiles), accessList
        )
        return CommandOutput(tuple(lines), listing=listing)

    def _rlist_generic(
        self,
        ops: ParsedOperands,
        resourceClass: ResourceClass,
        names: tuple[str, ...],
    ) -> CommandOutput:
        """
        RLIST ... GENERIC: for each resource name, the profile that decides
        for it, as a check against the database's profiles would find it
        now; with C{*}, the class's generic profiles in the order checks
        search them.
        """
        accessList = ops.has("ALL") or ops.has("AUTHUSER")
        options = self._profiles.options()
        notes: list[str] = []
        if resourceClass not in options.active:
            notes.append(
                f"NSR0332I class {resourceClass.value} is not active: its checks "
                "return 4 (no decision), whatever profile protects the resource"
            )
        if resourceClass not in options.generic:
            notes.append(
                f"NSR0334I GENERIC is not active for {resourceClass.value}: "
                "generic profiles protect nothing"
            )
        lines = list(notes)
        entries: list[ProfileEntry] = []
        if names == ("*",):
            for generic in self._profiles.generic_order(resourceClass):
                entries.append(ProfileEntry(generic))
                lines += _profile_listing(generic, accessList)
        else:
            for name in names:
                resource = upper_ascii(name)
                profile = self._profiles.protecting(resourceClass, resource)
                entries.append(ProfileEntry(profile, resource))
                if profile is None:
                    lines += [
                        f"NSR0331I no profile in class {resourceClass.value} "
                        f"protects {resource}",
                        "",
                    ]
                    continue
                lines.append(
                    f"NSR0330I {resource} in class {resourceClass.value} is "
                    f"protected by profile {profile.name}"
                    + (" (G)" if profile.generic else "")
                )
                lines += _profile_listing(profile, accessList)
        listing = ProfileListing(resourceClass, tuple(entries), accessList)
        return CommandOutput(tuple(lines), tuple(notes), listing)

    def _permit(self, ops: ParsedOperands) -> list[str]:
        resourceClass = ResourceClass.parse(_required(ops, "CLASS", "PERMIT"))
        ids = ops.values("ID")
        if not ids:
            raise CommandSyntaxError("is required", "PERMIT", "ID")
        _contradiction(ops, "ACCESS", "DELETE")
        access = (
            None
            if ops.has("DELETE")
            else AccessLevel.parse(ops.value("ACCESS") or "READ")
        )
        for name in ops.positional[0]:
            self._profiles.permit(resourceClass, name, ids, access)
        return []

    def _setropts(self, ops: ParsedOperands) -> list[str] | CommandOutput:
        def classes(keyword: str) -> list[ResourceClass]:
            return [ResourceClass.parse(c) for c in ops.values(keyword)]

        revokeOps = ops.nested.get("PASSWORD")
        limit = None
        if revokeOps is not None:
            _contradiction(revokeOps, "REVOKE", "NOREVOKE")
            if revokeOps.has("NOREVOKE"):
                limit = 0
            elif revokeOps.has("REVOKE"):
                limit = _integer(revokeOps.value("REVOKE"), "PASSWORD(REVOKE)")
                if limit < 1:
                    raise InvalidValueError("REVOKE(n) needs n from 1 to 255")
            else:
                raise CommandSyntaxError(
                    "needs REVOKE(n) or NOREVOKE", "SETROPTS", "PASSWORD"
                )
        self._profiles.set_options(
            activate=classes("CLASSACT"),
            deactivate=classes("NOCLASSACT"),
            raclist=classes("RACLIST"),
            noRaclist=classes("NORACLIST"),
            generic=classes("GENERIC"),
            noGeneric=classes("NOGENERIC"),
            refresh=ops.has("REFRESH"),
        )
        if limit is not None:
            self._users.set_revoke_limit(limit)
        if not ops.has("LIST"):
            return []
        options = self._profiles.options()
        revoke = self._users.revoke_limit()
        generation = self._profiles.generation()

        def names(cs: frozenset[ResourceClass]) -> str:
            return " ".join(sorted(c.value for c in cs)) or "NONE"

        lines = [
            f"ACTIVE CLASSES = {names(options.active)}",
            f"GENERIC PROFILE CLASSES = {names(options.generic)}",
            f"RACLIST CLASSES = {names(options.raclisted)}",
            f"RACLIST REFRESH GENERATION = {generation}",
            "PASSWORD PROCESSING OPTIONS:",
            "  AFTER "
            + (
                f"{revoke} CONSECUTIVE UNSUCCESSFUL PASSWORD ATTEMPTS, "
                "A USERID WILL BE REVOKED."
                if revoke
                else "NO REVOKE LIMIT"
            ),
        ]
        listing = OptionsListing(options, generation, revoke)
        return CommandOutput(tuple(lines), listing=listing)

    # Digital certificates and key rings

    def _racdcert(self, ops: ParsedOperands) -> list[str] | CommandOutput:
        functions = [f for f in _RACDCERT_FUNCTIONS if ops.has(f)]
        if len(functions) != 1:
            raise CommandSyntaxError(
                "needs exactly one of " + ", ".join(_RACDCERT_FUNCTIONS),
                "RACDCERT",
                functions[1] if len(functions) > 1 else None,
            )
        function = functions[0]
        if function in ("LISTTOKEN", "ADDTOKEN", "DELTOKEN"):
            # RACF ignores the owner for these: a token is nobody's.
            return self._token_function(function, ops)
        owner = _owner(ops, "RACDCERT")
        if function in ("BIND", "UNBIND"):
            return self._bind(function, ops, owner)
        if function == "ADD":
            return self._add_certificate(ops, owner)
        if function == "GENCERT":
            return self._gencert(ops, owner)
        if function == "LIST":
            return self._list_certificates(ops, owner)
        if function == "EXPORT":
            return self._export(ops, owner)
        if function in ("ADDRING", "DELRING", "LISTRING", "CONNECT", "REMOVE"):
            return self._ring_function(function, ops, owner)
        if function == "REKEY":
            return self._rekey(ops, owner)
        target = ops.nested[function]
        if function == "ROLLOVER":
            label = _required(target, "LABEL", "RACDCERT ROLLOVER")
            newLabel = _required(ops, "NEWLABEL", "RACDCERT ROLLOVER")
            retired = self._keyrings.get_certificate(owner, label)
            rings = self._keyrings.rollover(owner, label, newLabel)
            return [
                f"NSR0375I certificate {label!r} of {owner} was rolled over to "
                f"{newLabel!r} in {rings} key ring{'' if rings == 1 else 's'}; "
                "its private key was deleted; servers use the new certificate "
                "after their next refresh",
                *_left_in_token(retired),
            ]
        label = _required(target, "LABEL", f"RACDCERT {function}")
        if function == "DELETE":
            deleted = self._keyrings.get_certificate(owner, label)
            self._keyrings.delete_certificate(owner, label)
            return _left_in_token(deleted)
        _contradiction(ops, "TRUST", "NOTRUST")
        if not (ops.has("TRUST") or ops.has("NOTRUST")):
            raise CommandSyntaxError("needs TRUST or NOTRUST", "RACDCERT", "ALTER")
        self._keyrings.set_trust(owner, label, ops.has("TRUST"))
        return []

    def _add_certificate(
        self, ops: ParsedOperands, owner: CertificateOwner
    ) -> list[str]:
        _contradiction(ops, "TRUST", "NOTRUST")
        path = os.path.join(self._base, _required(ops, "ADD", "RACDCERT"))
        password = ops.value("PASSWORD")
        loaded = load_certificate_file(
            path, None if password is None else password.encode("utf-8")
        )
        label = ops.value("WITHLABEL") or _default_label(loaded.certificate)
        record = self._keyrings.add_certificate(
            owner, label, loaded, trusted=not ops.has("NOTRUST")
        )
        return [_added(record), *_mapping(record.label)]

    def _gencert(self, ops: ParsedOperands, owner: CertificateOwner) -> list[str]:
        algorithm, token, keyLabel = self._key_store(ops)
        dn = ops.nested.get("SUBJECTSDN")
        if dn is None:
            raise CommandSyntaxError("is required", "RACDCERT GENCERT", "SUBJECTSDN")
        parts = [(k, v) for k, values in dn.keywords.items() for v in values]
        subject = subject_name(parts)
        label = _required(ops, "WITHLABEL", "RACDCERT GENCERT")
        size = ops.value("SIZE")
        signWith = None
        if "SIGNWITH" in ops.nested:
            signer = ops.nested["SIGNWITH"]
            signWith = (
                _owner(signer, "SIGNWITH"),
                _required(signer, "LABEL", "SIGNWITH"),
            )
        altNames: tuple[tuple[str, str], ...] = ()
        if "ALTNAME" in ops.nested:
            altNames = tuple(
                (k, v)
                for k, values in ops.nested["ALTNAME"].keywords.items()
                for v in values
            )
        record = self._keyrings.generate_certificate(
            owner,
            label,
            subject,
            algorithm=algorithm or "RSA",
            size=None if size is None else _integer(size, "SIZE"),
            signWith=signWith,
            altNames=altNames,
            notBefore=_date(ops, "NOTBEFORE"),
            notAfter=_date(ops, "NOTAFTER", endOfDay=True),
            token=token,
            tokenKeyLabel=keyLabel,
        )
        return [
            _added(record),
            *_in_token(record),
            *_mapping(record.label),
            *_altname_warnings(owner, label, altNames),
        ]

    def _key_store(
        self, ops: ParsedOperands
    ) -> tuple[str | None, Pkcs11Token | None, str | None]:
        """
        GENCERT's (and REKEY's) key type and where the key is made: the
        algorithm (C{None} where none is written), the token to make it in
        (C{None}: here, sealed in the database), and the key object's label
        there (C{None}: the certificate's).

        C{RSA(TOKEN(name))} and C{NISTECC(TOKEN(name))} name the token; RACF's
        C{PCICC} and C{ICSF}, which put an RSA key in ICSF's hardware key
        store, put it in the token nss-racf is given (C{--pkcs11-token}),
        their optional value naming the key object as RACF's names the PKDS
        entry.  ICSF's PKDS itself is not here, and is refused.
        """
        stores = [k for k in ("PCICC", "ICSF") if ops.has(k)]
        algorithms = [k for k in ("RSA", "NISTECC") if ops.has(k)]
        if len(algorithms) > 1:
            raise InvalidValueError("RSA and NISTECC contradict each other")
        if len(stores) > 1:
            raise InvalidValueError("PCICC and ICSF contradict each other")
        algorithm = algorithms[0] if algorithms else None
        if stores:
            if algorithm == "NISTECC":
                raise InvalidValueError(
                    f"{stores[0]} makes an RSA key: write NISTECC(TOKEN(name)) "
                    "for an elliptic-curve key in a token"
                )
            if algorithm is not None and algorithm in ops.nested:
                raise InvalidValueError(
                    f"{stores[0]} and RSA(...) both say where the key goes"
                )
            value = ops.value(stores[0])
            keyLabel = None if value in (None, "*") else value
            return "RSA", self._tokens.token(), keyLabel
        if algorithm is None or algorithm not in ops.nested:
            return algorithm, None, None
        where = ops.nested[algorithm]
        if where.has("PKDS"):
            raise InvalidValueError(
                f"{algorithm}(PKDS) names ICSF's key data set, which nsstwisted "
                f"does not have: write {algorithm}(TOKEN(name)) to make the key "
                "in a PKCS#11 token"
            )
        name = _required(where, "TOKEN", f"RACDCERT GENCERT {algorithm}")
        return algorithm, self._tokens.token(name), None

    def _rekey(self, ops: ParsedOperands, owner: CertificateOwner) -> list[str]:
        """
        RACDCERT REKEY(LABEL('old')) WITHLABEL('new'): the successor, with
        SIGNWITH in place of RACF's GENREQ and GENCERT(request).  The new
        key is made where GENCERT would make it (C{RSA(TOKEN(name))}, ...);
        the successor of a key in a token is made in that token unless
        another is named.
        """
        algorithm, token, _ = self._key_store(ops)
        label = _required(ops.nested["REKEY"], "LABEL", "RACDCERT REKEY")
        newLabel = _required(ops, "WITHLABEL", "RACDCERT REKEY")
        size = ops.value("SIZE")
        signWith = None
        if "SIGNWITH" in ops.nested:
            signer = ops.nested["SIGNWITH"]
            signWith = (
                _owner(signer, "SIGNWITH"),
                _required(signer, "LABEL", "SIGNWITH"),
            )
        if token is None:
            old = self._keyrings.get_certificate(owner, label).tokenKey
            if old is not None:
                token = self._tokens.token(old.token)
        record = self._keyrings.rekey_certificate(
            owner,
            label,
            newLabel,
            algorithm=algorithm,
            size=None if size is None else _integer(size, "SIZE"),
            signWith=signWith,
            notBefore=_date(ops, "NOTBEFORE"),
            notAfter=_date(ops, "NOTAFTER", endOfDay=True),
            token=token,
        )
        return [
            _added(record),
            *_in_token(record),
            *_mapping(record.label),
            f"certificate {newLabel!r} succeeds {label!r}, and is connected to no "
            f"ring until RACDCERT {owner} ROLLOVER(LABEL('{label}')) "
            f"NEWLABEL('{newLabel}') puts it in the old one's place in every ring",
        ]

    def _list_certificates(
        self, ops: ParsedOperands, owner: CertificateOwner
    ) -> CommandOutput:
        selection = ops.nested.get("LIST")
        if selection is not None and selection.has("LABEL"):
            label = _required(selection, "LABEL", "RACDCERT LIST")
            records = [self._keyrings.get_certificate(owner, label)]
        else:
            records = self._keyrings.list_certificates(owner)
        lines = [f"Digital certificate information for {owner}:", ""]
        for record in records:
            certificate = record.certificate
            lines += [
                f"  Label: {record.label}",
                f"  Certificate ID: {record.fingerprint[:32].upper()}",
                f"  Status: {'TRUST' if record.trusted else 'NOTRUST'}",
                f"  Start Date: {certificate.not_valid_before_utc:%Y/%m/%d %H:%M:%S}",
                f"  End Date:   {certificate.not_valid_after_utc:%Y/%m/%d %H:%M:%S}",
                f"  Serial Number: >{certificate.serial_number:X}<",
                f"  Issuer's Name: >{certificate.issuer.rfc4514_string()}<",
                f"  Subject's Name: >{certificate.subject.rfc4514_string()}<",
                f"  Private Key Type: {_key_type(record)}",
                *(
                    [f"  Private Key Token: {record.tokenKeyUri}"]
                    if record.tokenKeyUri is not None
                    else []
                ),
                "  Ring Associations: (see LISTRING)",
                "",
            ]
        if not records:
            lines.append("  No certificates")
        listing = CertificateListing(owner, tuple(records))
        return CommandOutput(tuple(lines), listing=listing)

    def _export(self, ops: ParsedOperands, owner: CertificateOwner) -> list[str]:
        """
        RACDCERT EXPORT: the certificate only, never its private key, in
        FORMAT(CERTB64) (PEM, the default) or FORMAT(CERTDER).
        """
        label = _required(ops.nested["EXPORT"], "LABEL", "RACDCERT EXPORT")
        path = os.path.join(self._base, _required(ops, "DSN", "RACDCERT EXPORT"))
        form = (ops.value("FORMAT") or "CERTB64").upper()
        if form not in ("CERTB64", "CERTDER"):
            raise InvalidValueError(
                f"FORMAT({form}) is not supported: only CERTB64 and CERTDER, "
                "since private keys never leave the security database"
            )
        record = self._keyrings.get_certificate(owner, label)
        encoding = (
            serialization.Encoding.PEM
            if form == "CERTB64"
            else serialization.Encoding.DER
        )
        data = record.certificate.public_bytes(encoding)
        try:
            with open(path, "wb") as target:
                target.write(data)
        except OSError as e:
            raise InvalidValueError(f"cannot write {path}: {e.strerror}") from None
        return [f"NSR0303I certificate {label!r} of {owner} exported to {path}"]

    def _bind(
        self, function: str, ops: ParsedOperands, owner: CertificateOwner
    ) -> list[str]:
        """
        RACDCERT BIND(TOKEN(name) LABEL('label')): record that the key of a
        certificate already in the database (added without one) is in the
        token, found there by the certificate's public key; UNBIND forgets
        it, and the key stays in the token.
        """
        target = ops.nested[function]
        where = f"RACDCERT {function}"
        tokenLabel = _required(target, "TOKEN", where)
        if target.has("SEQNUM"):
            raise CommandSyntaxError(
                "is not supported: name the certificate with LABEL('label')",
                where,
                "SEQNUM",
            )
        label = _required(target, "LABEL", where)
        if function == "UNBIND":
            record = self._keyrings.unbind_token_key(owner, label, tokenLabel)
            assert record.tokenKey is not None
            return [
                f"NSR0394I certificate {label!r} of {owner} is no longer bound to "
                f"its private key in PKCS#11 token {tokenLabel}; the key stays in "
                f"the token as object {record.tokenKey.label!r} (id "
                f"{record.tokenKey.id.hex().upper()}), for the token's own tools "
                "to destroy"
            ]
        record, info = self._keyrings.bind_token_key(
            owner, label, self._tokens.token(tokenLabel)
        )
        lines = [
            f"NSR0393I certificate {label!r} of {owner} is bound to the private "
            f"key {info.reference.label!r} (id {info.reference.id.hex().upper()}) "
            f"in PKCS#11 token {tokenLabel}"
        ]
        if info.extractable or not info.sensitive:
            lines.append(
                f"NSR0396W the private key {info.reference.label!r} in PKCS#11 "
                f"token {tokenLabel} is "
                + (
                    "extractable"
                    if info.extractable and info.sensitive
                    else "not sensitive"
                    if not info.extractable
                    else "extractable and not sensitive"
                )
                + ": the token will hand it out; a key made with GENCERT "
                "RSA(TOKEN(...)) or NISTECC(TOKEN(...)) never leaves its token"
            )
        return lines

    def _token_function(self, function: str, ops: ParsedOperands) -> CommandOutput:
        """
        RACDCERT LISTTOKEN(name): the private keys in the token, and the
        certificate of the database each is bound to.  ADDTOKEN and DELTOKEN
        are refused: a token is made and deleted with its own tools, which
        hold the security officer's PIN that nsstwisted never has.
        """
        name = _required(ops, function, "RACDCERT")
        if function != "LISTTOKEN":
            tool = (
                "softhsm2-util --init-token"
                if function == "ADDTOKEN"
                else ("softhsm2-util --delete-token")
            )
            raise CommandSyntaxError(
                "is not supported: a PKCS#11 token is made and deleted with its "
                f"own tools (for SoftHSM, {tool}), which need the token's "
                "security officer PIN; nsstwisted holds only the user PIN",
                "RACDCERT",
                function,
            )
        token = self._tokens.token(name)
        keys = token.keys()
        bound: dict[TokenKeyReference, list[CertificateRecord]] = {}
        for record in self._keyrings.token_certificates(token.label):
            if record.tokenKey is not None:
                bound.setdefault(record.tokenKey, []).append(record)
        lines = [
            f"Token: {token.label}",
            f"  PKCS#11 module: {token.modulePath}",
            f"  Private keys: {len(keys)}",
            "",
        ]
        for key in keys:
            users = bound.get(key.reference, [])
            lines += [
                f"  Key Label: {key.reference.label}",
                f"  Key Id: {key.reference.id.hex().upper()}",
                f"  Key Type: {key.keyType}   Size: {key.size or 'UNKNOWN'}",
                f"  Sensitive: {_yes(key.sensitive)}   Extractable: "
                f"{_yes(key.extractable)}   Sign: {_yes(key.sign)}",
                "  Certificate: "
                + (
                    ", ".join(f"{r.label!r} of {r.owner}" for r in users)
                    if users
                    else "NONE"
                ),
                "",
            ]
        missing = [
            record
            for reference, records in bound.items()
            if all(k.reference != reference for k in keys)
            for record in records
        ]
        for record in missing:
            lines.append(
                f"NSR0397W certificate {record.label!r} of {record.owner} is bound "
                f"to {record.tokenKeyUri}, which token {token.label} does not hold: "
                "it cannot sign"
            )
        listing = TokenListing(token.label, keys, bound)
        return CommandOutput(
            tuple(lines), tuple(ln for ln in lines if ln.startswith("NSR")), listing
        )

    def _ring_function(
        self, function: str, ops: ParsedOperands, owner: CertificateOwner
    ) -> list[str] | CommandOutput:
        if owner.userid is None:
            raise CommandSyntaxError(
                "key rings belong to users: give ID(userid)", "RACDCERT", function
            )
        userid = owner.userid
        if function == "ADDRING":
            self._keyrings.add_ring(userid, _required(ops, "ADDRING", "RACDCERT"))
            return []
        if function == "DELRING":
            self._keyrings.delete_ring(userid, _required(ops, "DELRING", "RACDCERT"))
            return []
        if function == "LISTRING":
            name = _required(ops, "LISTRING", "RACDCERT")
            names = self._keyrings.list_rings(userid) if name == "*" else [name]
            rings = tuple(self._keyrings.ring(userid, ring) for ring in names)
            lines: list[str] = []
            for contents in rings:
                lines += [
                    f"Digital ring information for user {userid}:",
                    "",
                    "  Ring:",
                    f"       >{contents.name}<",
                    _RING_HEADING,
                    _RING_RULE,
                ]
                for entry in contents.entries:
                    lines.append(
                        f"  {entry.record.label:<32}   {entry.record.owner!s:<12}   "
                        f"{entry.usage.value:<8}   {'YES' if entry.isDefault else 'NO'}"
                    )
                lines.append("")
            return CommandOutput(tuple(lines), listing=RingListing(userid, rings))
        target = ops.nested[function]
        certOwner = _owner(target, function, default=owner)
        label = _required(target, "LABEL", f"RACDCERT {function}")
        ring = _required(target, "RING", f"RACDCERT {function}")
        if function == "CONNECT":
            usage = target.value("USAGE")
            self._keyrings.connect(
                userid,
                ring,
                certOwner,
                label,
                usage=None if usage is None else CertificateUsage.parse(usage),
                default=target.has("DEFAULT"),
            )
        else:
            self._keyrings.remove(userid, ring, certOwner, label)
        return []


def _profile_listing(profile: ResourceProfile, accessList: bool) -> list[str]:
    lines = [
        "CLASS      NAME",
        "-----      ----",
        f"{profile.resourceClass.value:<10} {profile.name}"
        + (" (G)" if profile.generic else ""),
        "",
        "OWNER      UNIVERSAL ACCESS  WARNING",
        "-----      ----------------  -------",
        f"{profile.owner:<10} {profile.uacc.name:<17} "
        + ("YES" if profile.warning else "NO"),
        "",
        f"INSTALLATION DATA  {profile.data or 'NONE'}",
    ]
    if profile.resourceClass is ResourceClass.PTKTDATA:
        lines.append(
            "SSIGNON KEY        "
            + ("KEYMASKED DATA DEFINED" if profile.hasPassTicketKey else "NONE")
        )
    if accessList:
        lines += ["", "  USER      ACCESS", "  ----      ------"]
        lines += [f"  {i:<9} {a.name}" for i, a in profile.accessList]
        if not profile.accessList:
            lines.append("  NO ENTRIES IN STANDARD ACCESS LIST")
    lines.append("")
    return lines


def _contradiction(ops: ParsedOperands, first: str, second: str) -> None:
    if ops.has(first) and ops.has(second):
        raise InvalidValueError(f"{first} and {second} contradict each other")


def _switch(ops: ParsedOperands, on: str, off: str) -> bool | None:
    """
    A keyword and its NO form: C{True}, C{False}, or C{None} if neither was
    given.
    """
    _contradiction(ops, on, off)
    if ops.has(on):
        return True
    if ops.has(off):
        return False
    return None


def _required(ops: ParsedOperands, keyword: str, where: str) -> str:
    value = ops.value(keyword)
    if value is None:
        raise CommandSyntaxError("is required", where, keyword)
    return value


def _integer(value: str | None, keyword: str) -> int:
    if value is None or not value.isdigit() or len(value) > 9:
        raise InvalidValueError(f"{keyword} needs a number, not {value!r}")
    return int(value)


def _passticket_key(ops: ParsedOperands) -> bytes | None:
    signon = ops.nested.get("SSIGNON")
    if signon is None:
        return None
    hexKey = signon.value("KEYMASKED")
    if hexKey is None:
        raise CommandSyntaxError("needs KEYMASKED(key)", "SSIGNON", "KEYMASKED")
    return parse_key(hexKey)


def _owner(
    ops: ParsedOperands, where: str, default: CertificateOwner | None = None
) -> CertificateOwner:
    given = [k for k in ("ID", "CERTAUTH", "SITE") if ops.has(k)]
    if len(given) > 1:
        raise CommandSyntaxError("give only one of ID, CERTAUTH and SITE", where)
    if not given:
        if default is not None:
            return default
        raise CommandSyntaxError("needs ID(userid), CERTAUTH or SITE", where)
    if given[0] == "ID":
        return CertificateOwner.user(_required(ops, "ID", where))
    if given[0] == "CERTAUTH":
        return CertificateOwner.authority()
    return CertificateOwner.site()


def _date(ops: ParsedOperands, keyword: str, endOfDay: bool = False) -> datetime | None:
    nested = ops.nested.get(keyword)
    if nested is None:
        return None
    text = _required(nested, "DATE", keyword)
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidValueError(
            f"{keyword}(DATE) needs yyyy-mm-dd, not {text!r}"
        ) from None
    return day.replace(hour=23, minute=59, second=59) if endOfDay else day


def _default_label(certificate: x509.Certificate) -> str:
    # RACF makes up a label when none is given; ours is derived from the
    # serial number so it is stable for the same certificate.
    return f"LABEL{certificate.serial_number:X}"[:32]


def _key_type(record: CertificateRecord) -> str:
    if not record.hasPrivateKey:
        return "NONE"
    public = record.certificate.public_key()
    return "ECDSA" if isinstance(public, ec.EllipticCurvePublicKey) else "RSA"


def _altname_warnings(
    owner: CertificateOwner, label: str, altNames: tuple[tuple[str, str], ...]
) -> list[str]:
    """
    Say when a new end-entity certificate cannot serve as a TLS server's
    (nssd's) certificate: NSS clients accept a server only by a
    subjectAltName that names it, never by its common name.
    """
    if owner.certauth:
        return []
    if not altNames:
        return [
            f"NSR0320W certificate {label!r} of {owner} has no ALTNAME: NSS"
            " clients refuse it as nssd's TLS certificate; add"
            " ALTNAME(DOMAIN('host')) or ALTNAME(IP(address)) if nssd is to"
            " present it"
        ]
    warnings = []
    for kind, value in altNames:
        if kind.upper() != "DOMAIN":
            continue
        try:
            ipaddress.ip_address(value)
        except ValueError:
            continue
        warnings.append(
            f"NSR0321W certificate {label!r} of {owner} has the address"
            f" {value} as ALTNAME DOMAIN: it names no host and proves no"
            f" address; write ALTNAME(IP({value})) instead"
        )
    return warnings


def _yes(flag: bool) -> str:
    return "YES" if flag else "NO"


def _in_token(record: CertificateRecord) -> list[str]:
    """
    Where a new certificate's key was made, if in a token.
    """
    reference = record.tokenKey
    if reference is None:
        return []
    return [
        f"NSR0395I the private key of certificate {record.label!r} was made in "
        f"PKCS#11 token {reference.token} as object {reference.label!r} (id "
        f"{reference.id.hex().upper()}): sensitive, never extractable; the "
        "security database records where it is, never the key"
    ]


def _left_in_token(record: CertificateRecord) -> list[str]:
    """
    The warning that a certificate retired or deleted here leaves its key
    in its token.
    """
    reference = record.tokenKey
    if reference is None:
        return []
    return [
        f"NSR0398W the private key of certificate {record.label!r} stays in "
        f"PKCS#11 token {reference.token} as object {reference.label!r} (id "
        f"{reference.id.hex().upper()}): destroy it with the token's own tools "
        "when nothing signs with it"
    ]


def _added(record: CertificateRecord) -> str:
    return f"NSR0302I certificate {record.label!r} of {record.owner} added" + (
        " with its private key" if record.hasPrivateKey else ""
    )


def _mapping(label: str) -> list[str]:
    # The administrator defines the certificate's profiles by this name, and
    # cannot be expected to work out what a blank or an accented letter
    # becomes.
    mapped = map_label(label)
    if mapped == label:
        return []
    return [
        f"NSR0311I label {label!r} is {mapped} in SERVAUTH profile names: "
        f"EZB.NSSCERT.sysname.{mapped}.HOST or .CERTAUTH"
    ]


__all__ = ["SYNTAX", "RacfInterpreter", "changes_database", "check_command"]
