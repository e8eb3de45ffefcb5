"""
The C{NssStackConfig} statement: one stack's NSS client, everything its
connection to the NSS server depends on (L{NssStackConfig}), and how it
proves its user ID (L{AuthBy}).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from nsstwisted.config import Setting, Statement, format_value
from nsstwisted.config.values import absolute_path as _path
from nsstwisted.config.values import setting_error as _error
from nsstwisted.config.values import single_value as _single
from nsstwisted.iked.configuration.tcpipstack import _namespace, _stack_name
from nsstwisted.iked.configuration.values import (
    _USERID,
    _block,
    _choice,
    _optional,
    _statement_error,
)
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN, Services

__all__ = ["AuthBy", "NssStackConfig"]


class AuthBy(enum.Enum):
    """
    How a stack proves its user ID to the NSS server: with the user's
    password, or with a PassTicket that iked computes afresh for every logon
    from a key shared with the server's C{NSSD} PTKTDATA profile, so that no
    reusable password need be stored on the client system.
    """

    PASSWORD = "Password"  # noqa: S105 (a method, not a password)
    PASSTICKET = "PassTicket"

    @property
    def fileKeyword(self) -> str:
        """The keyword that names this method's secret file."""
        return _FILE_KEYWORDS[self]


_FILE_KEYWORDS = {
    AuthBy.PASSWORD: "PasswordFile",
    AuthBy.PASSTICKET: "PassTicketKeyFile",
}

_SERVICE_TYPES = {"cert": Services.CERT, "remotemgmt": Services.NETMGMT}
_SERVICE_NAMES = ((Services.CERT, "Cert"), (Services.NETMGMT, "RemoteMgmt"))


@dataclass(frozen=True, kw_only=True)
class NssStackConfig:
    """
    One stack's NSS client: everything its connection to the NSS server
    depends on, so that equality says whether a refresh must reconnect it.

    @ivar stackName: the stack, upper case (a TCP/IP job name on z/OS).
    @ivar clientName: the name the server knows this client by, which its
        SERVAUTH profile names carry.
    @ivar services: the services asked for at logon; never empty.
    @ivar userid: the user ID the client logs on with, upper case.
    @ivar authBy: how that user ID is proved.
    @ivar secretFile: the absolute path of the password file or the
        PassTicket key file, whichever C{authBy} says; the secret itself is
        read by L{read_stack_secret} at each logon and never kept here.
    @ivar namespace: the Linux network namespace the stack is, by its
        C{ip netns} name; L{None} for the host's own network stack.
    """

    stackName: str
    clientName: str
    services: Services
    userid: str
    authBy: AuthBy = AuthBy.PASSWORD
    secretFile: str
    namespace: str | None = None

    def describe(self, policyFile: str | None = None) -> list[str]:
        """
        The C{NssStackConfig} statement, in the file's syntax, with the
        stack's C{PolicyFile} if it has one: the policy file is the stack's
        (L{StackDeclaration}), not its NSS connection's, so that a new
        policy does not reconnect the stack.
        """
        lines = [f"ClientName {format_value(self.clientName)}"]
        lines += [
            f"ServiceType {name}"
            for flag, name in _SERVICE_NAMES
            if flag in self.services
        ]
        lines += [
            f"UserID {format_value(self.userid)}",
            f"AuthBy {self.authBy.value}",
            f"{self.authBy.fileKeyword} {format_value(self.secretFile)}",
            _optional("Namespace", self.namespace, "the host's own stack"),
        ]
        if policyFile is not None:
            lines.append(f"PolicyFile {format_value(policyFile)}")
        return _block(f"NssStackConfig {format_value(self.stackName)}", lines)

    def display_data(self, policyFile: str | None = None) -> dict[str, Any]:
        """
        The statement of L{describe} as data, for C{--json}: C{ServiceType}
        a list, the secret file by its path (never its content), and
        C{PolicyFile} C{null} when the stack has none.
        """
        return {
            "Statement": "NssStackConfig",
            "Name": self.stackName,
            "Settings": {
                "ClientName": self.clientName,
                "ServiceType": [
                    name for flag, name in _SERVICE_NAMES if flag in self.services
                ],
                "UserID": self.userid,
                "AuthBy": self.authBy.value,
                self.authBy.fileKeyword: self.secretFile,
                "Namespace": self.namespace,
                "PolicyFile": policyFile,
            },
        }


def _client_name(setting: Setting, filename: str) -> str:
    name = _single(setting, filename)
    if not CLIENT_NAME_PATTERN.fullmatch(name):
        raise _error(
            setting,
            filename,
            "must be 1 to 24 of A-Z a-z 0-9 _ . @ # $ -"
            " (the characters the NSS protocol takes)",
        )
    return name


def _userid(setting: Setting, filename: str) -> str:
    userid = _single(setting, filename).upper()
    if not _USERID.fullmatch(userid):
        raise _error(
            setting,
            filename,
            "must be a user ID: 1 to 8 of A-Z 0-9 @ # $, not starting with a digit",
        )
    return userid


@dataclass(frozen=True)
class _NssDraft:
    """
    An NssStackConfig statement, checked, before the file's other statements
    supply its defaults (the client name from the system name, the
    namespace perhaps from a TcpipStack).  The settings are kept for errors
    that only the whole file can reveal.
    """

    statement: Statement
    stackName: str
    clientName: str | None
    services: Services
    userid: str
    authBy: AuthBy
    secret: Setting
    namespace: Setting | None
    policyFile: Setting | None = None


def _nss_stack(statement: Statement, filename: str) -> _NssDraft:
    stackName = _stack_name(statement, filename)
    clientName: str | None = None
    services = Services(0)
    userid: str | None = None
    authBy, authBySetting = AuthBy.PASSWORD, None
    namespace: Setting | None = None
    policyFile: Setting | None = None
    files: dict[str, Setting] = {}
    for setting in statement.settings:
        keyword = setting.keyword.lower()
        if keyword == "clientname":
            clientName = _client_name(setting, filename)
        elif keyword == "servicetype":
            services |= _service_type(setting, filename)
        elif keyword == "userid":
            userid = _userid(setting, filename)
        elif keyword == "authby":
            authBy, authBySetting = _auth_by(setting, filename), setting
        elif keyword in ("passwordfile", "passticketkeyfile"):
            _path()(setting, filename)
            files[keyword] = setting
        elif keyword == "namespace":
            _namespace(setting, filename)
            namespace = setting
        elif keyword == "policyfile":
            _path()(setting, filename)
            policyFile = setting
        else:
            raise _error(setting, filename, "unknown keyword of NssStackConfig")
    wanted = authBy.fileKeyword
    for keyword, setting in files.items():
        if keyword != wanted.lower():
            default = "" if authBySetting is not None else " (the default)"
            raise _error(
                setting,
                filename,
                f"AuthBy {authBy.value}{default} needs {wanted}, not {setting.keyword}",
            )
    if userid is None:
        raise _statement_error(
            statement,
            filename,
            f"stack {stackName}: UserID is missing: code the user ID the stack"
            " logs on to the NSS server with",
        )
    if not services:
        raise _statement_error(
            statement,
            filename,
            f"stack {stackName}: ServiceType is missing: code Cert, RemoteMgmt or both",
        )
    secret = files.get(wanted.lower())
    if secret is None:
        raise _statement_error(
            statement,
            filename,
            f"stack {stackName}: {wanted} is missing: AuthBy {authBy.value} needs it",
        )
    return _NssDraft(
        statement,
        stackName,
        clientName,
        services,
        userid,
        authBy,
        secret,
        namespace,
        policyFile,
    )


_service_type = _choice(_SERVICE_TYPES, "Cert or RemoteMgmt")
_auth_by = _choice(
    {method.value.lower(): method for method in AuthBy}, "Password or PassTicket"
)
