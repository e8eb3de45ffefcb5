"""
The C{TcpipStack} statement, which is ours: a stack iked serves, NSS client
or not, with its network namespace and its policy file
(L{StackDeclaration}); and the checks of a stack's name and namespace,
which C{NssStackConfig} codes too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nsstwisted.config import Setting, Statement, format_value
from nsstwisted.config.values import absolute_path as _path
from nsstwisted.config.values import setting_error as _error
from nsstwisted.config.values import single_value as _single
from nsstwisted.iked.configuration.policyfile import StackPolicy
from nsstwisted.iked.configuration.values import _block, _optional, _statement_error

__all__ = ["StackDeclaration"]

# Linux's limit on a file name, which a namespace name is (/run/netns/NAME).
MAX_NAMESPACE_LENGTH = 255

# A TCP/IP stack is named by its MVS job name: no leading digit.
_STACK_NAME = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")

_NAMESPACE = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*")


@dataclass(frozen=True)
class StackDeclaration:
    """
    A stack iked serves, NSS client or not: what C{ipsec -w} lists and what
    IKE (later) binds to.

    @ivar stackName: the stack, upper case.
    @ivar namespace: its Linux network namespace; L{None} for the host's own.
    @ivar policyFile: the absolute path of its IP filter policy file
        (C{PolicyFile}, nsstwisted's keyword); L{None} when the stack has
        only the default filter rules.
    @ivar policy: that file, checked when the configuration was loaded; a
        declaration built by hand has none unless given one.  It takes part
        in equality, so that a refresh that changes a policy file's content
        changes the configuration.
    """

    stackName: str
    namespace: str | None = None
    policyFile: str | None = None
    policy: StackPolicy | None = field(default=None, repr=False)

    def describe(self) -> list[str]:
        """The C{TcpipStack} statement, in the file's syntax."""
        lines = [_optional("Namespace", self.namespace, "the host's own stack")]
        if self.policyFile is not None:
            lines.append(f"PolicyFile {format_value(self.policyFile)}")
        return _block(f"TcpipStack {format_value(self.stackName)}", lines)

    def display_data(self) -> dict[str, Any]:
        """The statement of L{describe} as data, for C{--json}."""
        return {
            "Statement": "TcpipStack",
            "Name": self.stackName,
            "Settings": {"Namespace": self.namespace, "PolicyFile": self.policyFile},
        }


def _namespace(setting: Setting, filename: str) -> str:
    name = _single(setting, filename)
    if (
        not _NAMESPACE.fullmatch(name)
        or len(name) > MAX_NAMESPACE_LENGTH
        or name in (".", "..")
    ):
        raise _error(
            setting,
            filename,
            "must be a network namespace name as ip netns knows it:"
            f" 1 to {MAX_NAMESPACE_LENGTH} of A-Z a-z 0-9 _ . @ + -,"
            " not starting with a dot",
        )
    return name


def _stack_name(statement: Statement, filename: str) -> str:
    if statement.name is None:
        raise _statement_error(
            statement,
            filename,
            f"needs a stack name: {statement.kind} stackname {{ ... }}",
        )
    name = statement.name.upper()
    if not _STACK_NAME.fullmatch(name):
        raise _statement_error(
            statement,
            filename,
            f"the stack name {statement.name!r} must be 1 to 8 of A-Z 0-9 @ # $,"
            " not starting with a digit",
        )
    return name


@dataclass(frozen=True)
class _PlainDraft:
    """A TcpipStack statement, checked, before the file is complete."""

    statement: Statement
    namespace: Setting | None
    policyFile: Setting | None


def _tcpip_stack(statement: Statement, filename: str) -> tuple[str, _PlainDraft]:
    name = _stack_name(statement, filename)
    namespace: Setting | None = None
    policyFile: Setting | None = None
    for setting in statement.settings:
        keyword = setting.keyword.lower()
        if keyword == "namespace":
            _namespace(setting, filename)
            namespace = setting
        elif keyword == "policyfile":
            _path()(setting, filename)
            policyFile = setting
        else:
            raise _error(
                setting,
                filename,
                "unknown keyword of TcpipStack, which takes Namespace only,"
                " besides PolicyFile",
            )
    return name, _PlainDraft(statement, namespace, policyFile)
