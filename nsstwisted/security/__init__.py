"""
The external security manager: users and groups, SERVAUTH and PTKTDATA
profiles with an in-memory snapshot for checks, key rings whose private keys
never leave this package (or the PKCS#11 token that holds them), PassTickets,
and the RACF command language.

No Twisted here: the daemons call this package from a thread pool.
"""

from nsstwisted.security.accessor import AccessorEnvironment
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    AlreadyExistsError,
    CertificateFileError,
    CommandSyntaxError,
    DatabaseCorruptError,
    DatabaseLockedError,
    InvalidValueError,
    LabelCollisionError,
    NotFoundError,
    PassTicketError,
    PinFileError,
    SchemaVersionError,
    SecurityEnvironmentError,
    SecurityError,
    SecurityRequestError,
    StashError,
    TamperedEntryError,
    TokenKeyError,
    TokenUnavailableError,
)
from nsstwisted.security.keyring import (
    CertificateOwner,
    CertificateRecord,
    CertificateUsage,
    KeyRing,
    KeyRingStore,
    RingEntry,
    parse_ring_name,
)
from nsstwisted.security.labels import map_label
from nsstwisted.security.location import database_path, stash_path
from nsstwisted.security.logon import Logon, LogonOutcome, LogonResult
from nsstwisted.security.passticket import (
    PassTicketEvaluator,
    PassTicketRejected,
    PassTicketRejection,
    generate_passticket,
)
from nsstwisted.security.profiles import (
    AccessLevel,
    AuthorizationResult,
    Decision,
    ProfileSnapshot,
    ProfileStore,
    ResourceClass,
)
from nsstwisted.security.signing import SignatureScheme, verify
from nsstwisted.security.users import UserRegistry

__all__ = [
    "AccessLevel",
    "AccessorEnvironment",
    "AlreadyExistsError",
    "AuthorizationResult",
    "CertificateFileError",
    "CertificateOwner",
    "CertificateRecord",
    "CertificateUsage",
    "CommandSyntaxError",
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "Decision",
    "InvalidValueError",
    "KeyRing",
    "KeyRingStore",
    "LabelCollisionError",
    "Logon",
    "LogonOutcome",
    "LogonResult",
    "NotFoundError",
    "PassTicketError",
    "PassTicketEvaluator",
    "PassTicketRejected",
    "PassTicketRejection",
    "PinFileError",
    "ProfileSnapshot",
    "ProfileStore",
    "ResourceClass",
    "RingEntry",
    "SchemaVersionError",
    "SecurityDatabase",
    "SecurityEnvironmentError",
    "SecurityError",
    "SecurityRequestError",
    "SignatureScheme",
    "StashError",
    "TamperedEntryError",
    "TokenKeyError",
    "TokenUnavailableError",
    "UserRegistry",
    "database_path",
    "generate_passticket",
    "map_label",
    "parse_ring_name",
    "stash_path",
    "verify",
]
