"""
Return and reason codes shared by the NSS protocol and the NMI.

Both wire families answer with a pair, as IBM's NMsM header does: a return
code that says what kind of failure it was (an errno number, so that a
program can branch on it) and a reason code that says which failure exactly
(so that an operator can be told what to fix).  The numbers are z/OS
Language Environment errno values, not Linux ones, because the IBM
documentation our operators read quotes them (EINVAL is 121, not 22).

Reason codes 1 to 6 are IBM's own C{NMsRsn} values.  Everything above is
ours: IBM never published the reasons of its NSS client protocol.  The names
keep IBM's style (C{NSSRsn...}) because log lines and the documentation
print them by name.
"""

from __future__ import annotations

import enum

__all__ = [
    "REASON_RETURN_CODE",
    "REASON_TEXT",
    "RETURN_TEXT",
    "ReasonCode",
    "ReturnCode",
]


class ReturnCode(enum.IntEnum):
    """
    The errno-like half of an answer, with z/OS errno numbers.

    EINVAL, ENXIO and EOPNOTSUPP are the values IBM's NMI documentation
    gives; the others are the z/OS C{errno.h} numbers for the same names.
    """

    OK = 0
    EACCES = 111
    EBUSY = 114
    EINVAL = 121
    EIO = 122
    ENOENT = 129
    ENXIO = 138
    EPERM = 139
    EOPNOTSUPP = 1112
    ETIMEDOUT = 1127


RETURN_TEXT: dict[ReturnCode, str] = {
    ReturnCode.OK: "success",
    ReturnCode.EACCES: "credentials, authorization or service refused",
    ReturnCode.EBUSY: "busy, shutting down, or the session was taken over",
    ReturnCode.EINVAL: "the message was not valid, or not valid now",
    ReturnCode.EIO: "the receiver failed while carrying out a valid request",
    ReturnCode.ENOENT: "the named certificate or key does not exist",
    ReturnCode.ENXIO: "the addressed NSS client is not connected",
    ReturnCode.EPERM: "the signature or certificate failed its check",
    ReturnCode.EOPNOTSUPP: "the operation or version is not supported",
    ReturnCode.ETIMEDOUT: "the peer did not answer in time",
}
"""One line per return code, for logs and the documentation's table."""


class ReasonCode(enum.IntEnum):
    """
    The precise half of an answer.

    Numbers are grouped so that a glance tells the area: 1-6 IBM's header
    checks, 7-14 our decoding and framing checks, 20s logon and session, 30s
    the certificate service, 40s network management, 50s the server itself.
    """

    NONE = 0
    # IBM's NMsRsn values: the header could not be accepted.
    NMsRsnBadIdent = 1
    NMsRsnBadVersion = 2
    NMsRsnBadType = 3
    NMsRsnExcessiveSize = 4
    NMsRsnHdrSize = 5
    NMsRsnMsgSize = 6
    # Decoding and framing (project-defined).
    NSSRsnBadField = 7
    NSSRsnDuplicateField = 8
    NSSRsnFieldOverrun = 9
    NSSRsnMissingField = 10
    NSSRsnBadFieldValue = 11
    NSSRsnBadHeaderValue = 12
    NSSRsnRequestIdInUse = 13
    NSSRsnFieldConflict = 14
    # Logon and session.
    NSSRsnUserAuthentication = 20
    NSSRsnUserRevoked = 21
    NSSRsnPassTicketExpired = 22
    NSSRsnPassTicketReplayed = 23
    NSSRsnNotLoggedOn = 24
    NSSRsnAlreadyLoggedOn = 25
    NSSRsnApiVersion = 26
    NSSRsnServiceNotGranted = 27
    NSSRsnServiceDenied = 28
    # Certificate service.
    NSSRsnCertNotFound = 30
    NSSRsnCertAccessDenied = 31
    NSSRsnNoPrivateKey = 32
    NSSRsnSchemeMismatch = 33
    NSSRsnSignFailed = 34
    NSSRsnVerifyFailed = 35
    NSSRsnChainInvalid = 36
    NSSRsnCertMalformed = 37
    # Network management.
    NSSRsnClientNotConnected = 40
    NSSRsnClientTimeout = 41
    # The server and the connection.
    NSSRsnServerError = 50
    NSSRsnShutdown = 51
    NSSRsnReplacedByNewLogon = 52
    NSSRsnHeartbeatTimeout = 53
    NSSRsnTooManyRequests = 54
    NSSRsnSecurityDatabaseUnavailable = 55
    NSSRsnAuditUnavailable = 56
    NSSRsnKeyStoreUnavailable = 58


_R = ReasonCode

REASON_TEXT: dict[ReasonCode, str] = {
    _R.NONE: "no reason given",
    _R.NMsRsnBadIdent: "the message identifier (eyecatcher) is not NSSP",
    _R.NMsRsnBadVersion: "the header version is not one this peer speaks",
    _R.NMsRsnBadType: "message type unknown, not accepted from this side, or bad flags",
    _R.NMsRsnExcessiveSize: "the message is larger than the receiver accepts",
    _R.NMsRsnHdrSize: "the header length field is not 32",
    _R.NMsRsnMsgSize: "the total length is smaller than the header",
    _R.NSSRsnBadField: "a field type unknown, or not allowed in this message",
    _R.NSSRsnDuplicateField: "a field appears more often than its message allows",
    _R.NSSRsnFieldOverrun: "a field runs past the end of the message",
    _R.NSSRsnMissingField: "a field the message requires is absent",
    _R.NSSRsnBadFieldValue: "a field's value breaks its encoding or limits",
    _R.NSSRsnBadHeaderValue: "reserved word, return code or reason code not valid",
    _R.NSSRsnRequestIdInUse: "a request reused the ID of one still outstanding",
    _R.NSSRsnFieldConflict: "two fields that exclude each other are both present",
    _R.NSSRsnUserAuthentication: "user ID unknown or password not valid",
    _R.NSSRsnUserRevoked: "the user ID is revoked",
    _R.NSSRsnPassTicketExpired: "the PassTicket is not valid or outside its window",
    _R.NSSRsnPassTicketReplayed: "the PassTicket was used already",
    _R.NSSRsnNotLoggedOn: "the request needs a completed LOGON first",
    _R.NSSRsnAlreadyLoggedOn: "this connection is logged on, or a LOGON is pending",
    _R.NSSRsnApiVersion: "the client's API version is not supported",
    _R.NSSRsnServiceNotGranted: "the service was not granted at LOGON",
    _R.NSSRsnServiceDenied: "the security manager denies the user the service",
    _R.NSSRsnCertNotFound: "no certificate matches the label or identity",
    _R.NSSRsnCertAccessDenied: "the security manager denies use of the certificate",
    _R.NSSRsnNoPrivateKey: "the certificate has no private key on the server",
    _R.NSSRsnSchemeMismatch: "the signature scheme does not fit the key",
    _R.NSSRsnSignFailed: "the server could not make the signature",
    _R.NSSRsnVerifyFailed: "the signature does not verify",
    _R.NSSRsnChainInvalid: "the certificate does not validate to a trusted CA",
    _R.NSSRsnCertMalformed: "a certificate in the request cannot be read as X.509",
    _R.NSSRsnClientNotConnected: "the addressed NSS client is not connected",
    _R.NSSRsnClientTimeout: "the NSS client did not answer in time",
    _R.NSSRsnServerError: "an internal error in the receiver of the request",
    _R.NSSRsnShutdown: "the server is shutting down",
    _R.NSSRsnReplacedByNewLogon: "a new LOGON with the same client name took over",
    _R.NSSRsnHeartbeatTimeout: "the peer did not answer a HEARTBEAT in time",
    _R.NSSRsnTooManyRequests: "too many requests outstanding on this connection",
    _R.NSSRsnSecurityDatabaseUnavailable: (
        "the security database cannot record what the request needs recorded"
    ),
    _R.NSSRsnAuditUnavailable: (
        "the audit trail cannot record the request, and the server requires it"
    ),
    _R.NSSRsnKeyStoreUnavailable: (
        "the hardware token holding the certificate's key cannot be used now"
    ),
}
"""One line per reason code, for logs and the documentation's table."""

REASON_RETURN_CODE: dict[ReasonCode, ReturnCode] = {
    _R.NMsRsnBadIdent: ReturnCode.EINVAL,
    _R.NMsRsnBadVersion: ReturnCode.EINVAL,
    _R.NMsRsnBadType: ReturnCode.EINVAL,
    _R.NMsRsnExcessiveSize: ReturnCode.EINVAL,
    _R.NMsRsnHdrSize: ReturnCode.EINVAL,
    _R.NMsRsnMsgSize: ReturnCode.EINVAL,
    _R.NSSRsnBadField: ReturnCode.EINVAL,
    _R.NSSRsnDuplicateField: ReturnCode.EINVAL,
    _R.NSSRsnFieldOverrun: ReturnCode.EINVAL,
    _R.NSSRsnMissingField: ReturnCode.EINVAL,
    _R.NSSRsnBadFieldValue: ReturnCode.EINVAL,
    _R.NSSRsnBadHeaderValue: ReturnCode.EINVAL,
    _R.NSSRsnRequestIdInUse: ReturnCode.EINVAL,
    _R.NSSRsnFieldConflict: ReturnCode.EINVAL,
    _R.NSSRsnUserAuthentication: ReturnCode.EACCES,
    _R.NSSRsnUserRevoked: ReturnCode.EACCES,
    _R.NSSRsnPassTicketExpired: ReturnCode.EACCES,
    _R.NSSRsnPassTicketReplayed: ReturnCode.EACCES,
    _R.NSSRsnNotLoggedOn: ReturnCode.EACCES,
    _R.NSSRsnAlreadyLoggedOn: ReturnCode.EINVAL,
    _R.NSSRsnApiVersion: ReturnCode.EOPNOTSUPP,
    _R.NSSRsnServiceNotGranted: ReturnCode.EACCES,
    _R.NSSRsnServiceDenied: ReturnCode.EACCES,
    _R.NSSRsnCertNotFound: ReturnCode.ENOENT,
    _R.NSSRsnCertAccessDenied: ReturnCode.EACCES,
    _R.NSSRsnNoPrivateKey: ReturnCode.ENOENT,
    _R.NSSRsnSchemeMismatch: ReturnCode.EINVAL,
    _R.NSSRsnSignFailed: ReturnCode.EIO,
    _R.NSSRsnVerifyFailed: ReturnCode.EPERM,
    _R.NSSRsnChainInvalid: ReturnCode.EPERM,
    _R.NSSRsnCertMalformed: ReturnCode.EINVAL,
    _R.NSSRsnClientNotConnected: ReturnCode.ENXIO,
    _R.NSSRsnClientTimeout: ReturnCode.ETIMEDOUT,
    _R.NSSRsnServerError: ReturnCode.EIO,
    _R.NSSRsnShutdown: ReturnCode.EBUSY,
    _R.NSSRsnReplacedByNewLogon: ReturnCode.EBUSY,
    _R.NSSRsnHeartbeatTimeout: ReturnCode.ETIMEDOUT,
    _R.NSSRsnTooManyRequests: ReturnCode.EBUSY,
    _R.NSSRsnSecurityDatabaseUnavailable: ReturnCode.EBUSY,
    _R.NSSRsnAuditUnavailable: ReturnCode.EBUSY,
    _R.NSSRsnKeyStoreUnavailable: ReturnCode.EBUSY,
}
"""
The return code each reason code is sent with, so that senders pair them
alike and a client may branch on the return code alone.  One exception is
documented: a client refusing a NETMGMT request it was not granted answers
C{EOPNOTSUPP} with C{NSSRsnServiceNotGranted}, as IBM's NMI answers for a
client not enabled for remote management.  C{NONE} is absent: it goes with
C{OK}, and with IBM's bare C{ENXIO} and C{EOPNOTSUPP} answers.
"""

del _R
