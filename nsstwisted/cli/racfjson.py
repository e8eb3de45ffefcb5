"""
The JSON of C{nss-racf --json}: what each command reported, as data.

Made from the records the interpreter listed (L{CommandOutput.listing}),
never from the report's lines, and typed by the conventions of
C{nss-ipsec --json}: keys in the report's words, C{null} for what the
report shows as C{NONE} or C{UNKNOWN}, C{true} and C{false} for
yes-or-no facts, numbers for counts, names of enumerations as the report
spells them (C{READ}, C{PERSONAL}), and times in ISO 8601 UTC.

Nothing secret has a key: a user's password is C{PasswordSet}, a
PassTicket key C{SsignonKeyDefined}, a certificate its public parts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from nsstwisted.cli.ipsecreports.layout import json_time
from nsstwisted.security.keyring import CertificateRecord, KeyRing
from nsstwisted.security.profiles import ResourceClass, ResourceProfile
from nsstwisted.security.racf.commands import check_command
from nsstwisted.security.racf.lexer import RacfCommand
from nsstwisted.security.racf.listings import (
    CertificateListing,
    CommandOutput,
    GroupListing,
    Listing,
    OptionsListing,
    ProfileListing,
    RingListing,
    TokenListing,
    UserListing,
)
from nsstwisted.security.users import GroupProfile, UserProfile

__all__ = ["command_json"]

_FUNCTIONS = {
    "RACDCERT": (
        "ADD",
        "GENCERT",
        "REKEY",
        "ROLLOVER",
        "LIST",
        "LISTRING",
        "EXPORT",
        "ADDRING",
        "DELRING",
        "CONNECT",
        "REMOVE",
        "DELETE",
        "ALTER",
        "BIND",
        "UNBIND",
        "LISTTOKEN",
    ),
    "SETROPTS": ("LIST",),
}
"""The keywords that name what a command does, for C{Function}."""


def _utc(moment: datetime | str | None) -> str | None:
    """
    ISO 8601 UTC, as C{nss-ipsec --json} writes times; the database keeps
    its times as ISO 8601 text with an offset (a naive one is taken as UTC).
    """
    if moment is None:
        return None
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            # Not a time this database writes; shown as stored rather
            # than failing the whole listing.
            return moment
        moment = parsed
    return json_time(moment)


def _user(user: UserProfile) -> dict[str, Any]:
    return {
        "UserID": user.userid,
        "Name": user.name or None,
        "Owner": user.owner,
        "Created": _utc(user.created),
        "DefaultGroup": user.defaultGroup or None,
        "PasswordSet": user.hasPassword,
        "FailedLogons": user.failedLogons,
        "Revoked": user.revoked,
        "Restricted": user.restricted,
        "LastAccess": _utc(user.lastLogon),
        "Groups": list(user.groups),
    }


def _group(group: GroupProfile) -> dict[str, Any]:
    return {
        "GroupID": group.groupid,
        "SuperiorGroup": group.superior or None,
        "Owner": group.owner,
        "Users": list(group.members),
    }


def _profile(profile: ResourceProfile, accessList: bool) -> dict[str, Any]:
    ptktdata = profile.resourceClass is ResourceClass.PTKTDATA
    return {
        "Class": profile.resourceClass.value,
        "Name": profile.name,
        "Generic": profile.generic,
        "Owner": profile.owner,
        "UniversalAccess": profile.uacc.name,
        "Warning": profile.warning,
        "InstallationData": profile.data or None,
        # Whether a key is defined, never the key: the report's KEYMASKED.
        "SsignonKeyDefined": profile.hasPassTicketKey if ptktdata else None,
        "AccessList": [
            {"ID": userid, "Access": access.name}
            for userid, access in profile.accessList
        ]
        if accessList
        else None,
    }


def _certificate(record: CertificateRecord) -> dict[str, Any]:
    certificate = record.certificate
    return {
        "Label": record.label,
        "Owner": str(record.owner),
        "CertificateID": record.fingerprint[:32].upper(),
        "Trusted": record.trusted,
        "StartDate": _utc(certificate.not_valid_before_utc),
        "EndDate": _utc(certificate.not_valid_after_utc),
        "SerialNumber": f"{certificate.serial_number:X}",
        "IssuersName": certificate.issuer.rfc4514_string(),
        "SubjectsName": certificate.subject.rfc4514_string(),
        "PrivateKeyType": _key_type(record),
        "PrivateKeyToken": record.tokenKeyUri,
    }


def _key_type(record: CertificateRecord) -> str | None:
    if not record.hasPrivateKey:
        return None
    public = record.certificate.public_key()
    return "ECDSA" if isinstance(public, ec.EllipticCurvePublicKey) else "RSA"


def _ring(ring: KeyRing) -> dict[str, Any]:
    return {
        "Ring": ring.name,
        "Certificates": [
            {
                "Label": entry.record.label,
                "CertOwner": str(entry.record.owner),
                "Usage": entry.usage.value,
                "Default": entry.isDefault,
            }
            for entry in ring.entries
        ],
    }


def _listing(listing: Listing) -> dict[str, Any]:
    if isinstance(listing, UserListing):
        return {"Entries": [_user(user) for user in listing.users]}
    if isinstance(listing, GroupListing):
        return {"Entries": [_group(group) for group in listing.groups]}
    if isinstance(listing, ProfileListing):
        entries: list[dict[str, Any]] = []
        for entry in listing.entries:
            shown = (
                None
                if entry.profile is None
                else _profile(entry.profile, listing.accessList)
            )
            if entry.resource is None:
                assert shown is not None
                entries.append(shown)
            else:
                entries.append({"Resource": entry.resource, "Profile": shown})
        return {"Class": listing.resourceClass.value, "Entries": entries}
    if isinstance(listing, CertificateListing):
        return {
            "Owner": str(listing.owner),
            "Entries": [_certificate(record) for record in listing.records],
        }
    if isinstance(listing, RingListing):
        return {
            "UserID": listing.userid,
            "Entries": [_ring(ring) for ring in listing.rings],
        }
    if isinstance(listing, TokenListing):
        return {
            "Token": listing.token,
            "Entries": [
                {
                    "KeyLabel": key.reference.label,
                    "KeyId": key.reference.id.hex().upper(),
                    "KeyUri": key.reference.uri,
                    "KeyType": key.keyType,
                    "KeySize": key.size or None,
                    "Sensitive": key.sensitive,
                    "Extractable": key.extractable,
                    "Sign": key.sign,
                    "Certificates": [
                        {"Label": record.label, "Owner": str(record.owner)}
                        for record in listing.bound.get(key.reference, [])
                    ],
                }
                for key in listing.keys
            ],
        }
    assert isinstance(listing, OptionsListing)
    options = listing.options

    def names(classes: frozenset[ResourceClass]) -> list[str]:
        return sorted(c.value for c in classes)

    return {
        "ActiveClasses": names(options.active),
        "GenericProfileClasses": names(options.generic),
        "RaclistClasses": names(options.raclisted),
        "RaclistRefreshGeneration": listing.generation,
        "RevokeLimit": listing.revokeLimit or None,
    }


def command_json(command: RacfCommand, output: CommandOutput) -> dict[str, Any]:
    """
    One command's object: C{Command} (the verb), C{Function} (what a
    C{RACDCERT} did, C{LIST} for C{SETROPTS LIST}, else C{null}), C{Line}
    (its line in the job, C{null} for a command from the arguments),
    C{Messages} (the lines that are not a listing), and for a listing
    command the keys of its listing.  The command's operands are not
    repeated: they may hold a password or a PassTicket key.
    """
    operands = check_command(command)
    function = next(
        (name for name in _FUNCTIONS.get(command.verb, ()) if operands.has(name)),
        None,
    )
    shown: dict[str, Any] = {
        "Command": command.verb,
        "Function": function,
        "Line": command.line,
        "Messages": list(output.messages),
    }
    if output.listing is not None:
        shown.update(_listing(output.listing))
    return shown
