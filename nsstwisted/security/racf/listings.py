"""
What the RACF listing commands list, as records rather than lines.

C{LISTUSER}, C{LISTGRP}, C{RLIST}, C{RACDCERT LIST}, C{LISTRING} and
C{LISTTOKEN}, and C{SETROPTS LIST} each read some records and lay them out
in RACF's report.  The interpreter hands back those records beside the
report's lines (L{CommandOutput}), so that another form of the same listing
(the JSON of C{nss-racf --json}) is made from the data itself, never by
reading the report back.  The records are the security layer's own, which carry no
secret: a user's password is C{hasPassword}, a PassTicket key
C{hasPassTicketKey}, a certificate its public parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from nsstwisted.security.keyring import CertificateOwner, CertificateRecord, KeyRing
from nsstwisted.security.profiles import ClassOptions, ResourceClass, ResourceProfile
from nsstwisted.security.tokenobjects import TokenKeyInfo
from nsstwisted.security.tokenreference import TokenKeyReference
from nsstwisted.security.users import GroupProfile, UserProfile

__all__ = [
    "CertificateListing",
    "CommandOutput",
    "GroupListing",
    "Listing",
    "OptionsListing",
    "ProfileEntry",
    "ProfileListing",
    "RingListing",
    "TokenListing",
    "UserListing",
]


@dataclass(frozen=True)
class UserListing:
    """C{LISTUSER}: the users, in the order listed."""

    users: tuple[UserProfile, ...]


@dataclass(frozen=True)
class GroupListing:
    """C{LISTGRP}: the groups, in the order listed."""

    groups: tuple[GroupProfile, ...]


@dataclass(frozen=True)
class ProfileEntry:
    """
    One entry of C{RLIST}: a profile, or for C{RLIST ... GENERIC} with
    resource names, the resource asked about and the profile that decides
    for it (L{None} when none protects it).

    @ivar resource: the resource name asked about; L{None} when the entry
        lists a profile by its own name.
    """

    profile: ResourceProfile | None
    resource: str | None = None


@dataclass(frozen=True)
class ProfileListing:
    """
    C{RLIST}: a class's profiles.

    @ivar accessList: whether the access lists were asked for (C{ALL} or
        C{AUTHUSER}); without, the report leaves them out.
    """

    resourceClass: ResourceClass
    entries: tuple[ProfileEntry, ...]
    accessList: bool


@dataclass(frozen=True)
class CertificateListing:
    """C{RACDCERT LIST}: an owner's certificates."""

    owner: CertificateOwner
    records: tuple[CertificateRecord, ...]


@dataclass(frozen=True)
class RingListing:
    """C{RACDCERT LISTRING}: a user's key rings and what they hold."""

    userid: str
    rings: tuple[KeyRing, ...]


@dataclass(frozen=True)
class TokenListing:
    """
    C{RACDCERT LISTTOKEN}: the private keys in a token (their attributes,
    never their values), and the certificates bound to each.
    """

    token: str
    keys: tuple[TokenKeyInfo, ...]
    bound: dict[TokenKeyReference, list[CertificateRecord]]


@dataclass(frozen=True)
class OptionsListing:
    """
    C{SETROPTS LIST}: the class options, the RACLIST refresh generation and
    the revoke limit (0 for none).
    """

    options: ClassOptions
    generation: int
    revokeLimit: int


Listing = (
    UserListing
    | GroupListing
    | ProfileListing
    | CertificateListing
    | RingListing
    | OptionsListing
    | TokenListing
)


@dataclass(frozen=True)
class CommandOutput:
    """
    What one command reports.

    @ivar lines: the report, as C{nss-racf} prints it.
    @ivar messages: the lines that are messages rather than a listing
        (C{NSR0302I ... added}, the notes of C{RLIST ... GENERIC}); for a
        command that lists nothing, all its lines.
    @ivar listing: what a listing command listed; L{None} for the others.
    """

    lines: tuple[str, ...]
    messages: tuple[str, ...] = ()
    listing: Listing | None = None

    @classmethod
    def of_messages(cls, lines: list[str]) -> CommandOutput:
        """The output of a command that lists nothing: messages only."""
        return cls(tuple(lines), tuple(lines))
