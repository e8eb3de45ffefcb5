"""
The audit trail of the administration commands (C{nss-racf},
C{nss-database}): one record per command run, saying who ran it, what and
with which result, in the file nssd appends to and/or the syslog socket.

The commands write the records themselves, in one C{write} per line as
nssd's writer does, rather than sending them to nssd, which need not be
running.  Administration is rare, and each record is forced to disk before
the next command runs.  A trail that cannot be opened runs nothing, and a
record that cannot be written stops the job, so that nothing runs
unrecorded once the trail fails.
"""

from __future__ import annotations

import os
import pwd
import time
from typing import Any, TextIO

from twisted.python import usage

from nsstwisted.security.auditline import append_line, audit_line, open_audit_file
from nsstwisted.security.auditsyslog import DEFAULT_SOCKET, FACILITIES, SyslogTarget
from nsstwisted.security.errors import SecurityError

__all__ = [
    "AUDIT_SYSLOG_VARIABLE",
    "AUDIT_VARIABLE",
    "AdministrationAudit",
    "audit_parameters",
    "check_audit_options",
    "open_audit",
    "recorded",
]

AUDIT_VARIABLE = "NSS_AUDIT_FILE"
AUDIT_SYSLOG_VARIABLE = "NSS_AUDIT_SYSLOG"


def audit_parameters(what: str) -> list[list[Any]]:
    """
    The audit options of a command's C{optParameters}.

    @param what: what is recorded, for the help (C{"each command run"}).
    """
    return [
        [
            "audit-file",
            None,
            None,
            f"Record {what} in this audit file (else ${AUDIT_VARIABLE}).",
        ],
        [
            "audit-syslog",
            None,
            None,
            f"Also (or only) send the record of {what} to syslog, with this"
            f" facility (else ${AUDIT_SYSLOG_VARIABLE}).",
        ],
        ["audit-syslog-socket", None, DEFAULT_SOCKET, "The local syslog socket."],
    ]


def check_audit_options(options: usage.Options) -> None:
    """
    Settle C{--audit-syslog} from the option or its variable, as a
    facility's lower-case name, in C{postOptions}.

    @raise usage.UsageError: it names no facility an audit trail may use.
    """
    facility = options["audit-syslog"] or os.environ.get(AUDIT_SYSLOG_VARIABLE)
    if facility is not None and facility.lower() not in FACILITIES:
        raise usage.UsageError(
            f"--audit-syslog {facility}: the facility must be one of"
            f" {', '.join(FACILITIES)}"
        )
    options["audit-syslog"] = None if facility is None else facility.lower()


class AdministrationAudit:
    """
    The audit file, open for appending while the command runs, and the
    syslog socket, given the same line.
    """

    def __init__(self, path: str | None, syslog: SyslogTarget | None = None) -> None:
        self.path = path
        self._syslog = syslog
        self._fd = -1 if path is None else open_audit_file(path)
        uid = os.getuid()
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        self._who: dict[str, object] = {"user": user, "uid": uid}
        try:
            login = os.getlogin()
        except OSError:
            login = None
        if login is not None and login != user:
            # The terminal's login: who ran it through sudo or su.
            self._who["login"] = login

    def record(self, event: str, fields: dict[str, Any]) -> None:
        """
        Record C{event} with who ran it, then C{fields} (never a secret).

        @raise OSError: the record cannot be written, or sent.
        """
        line = audit_line(time.time(), event, {**self._who, **fields})
        if self._fd >= 0:
            try:
                append_line(self._fd, line)
                os.fsync(self._fd)
            except OSError as e:
                raise OSError(e.errno, f"{self.path}: {e.strerror or e}") from None
        if self._syslog is not None:
            self._syslog.send([line])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        if self._syslog is not None:
            self._syslog.close()


def recorded(
    audit: AdministrationAudit,
    event: str,
    fields: dict[str, Any],
    failed: SecurityError | None,
    err: TextIO,
    said: str,
    consequence: str = "",
) -> bool:
    """
    Record a command that ran, with its result and a failure's message ID.

    @param said: how C{err} names what ran, and what follows from an
        unwritten record (NSR0381E): C{"nss-racf: ADDUSER ran"}.
    @param consequence: what follows from an unwritten record, said after
        it (C{"; the rest of the job was not run"}).
    @return: whether the record was written.
    """
    fields = {**fields, "result": "success" if failed is None else "failure"}
    if failed is not None:
        fields["messageId"] = failed.messageId
    try:
        audit.record(event, fields)
    except OSError as e:
        program, _, what = said.partition(": ")
        err.write(
            f"{program}: NSR0381E {what}, but its record cannot be written to"
            f" the audit trail ({e.strerror or e}){consequence}\n"
        )
        return False
    return True


def open_audit(
    options: usage.Options, program: str, err: TextIO
) -> tuple[AdministrationAudit | None, bool]:
    """
    Open the trail the options (or the environment) ask for.

    @return: the trail, or L{None} for none; and whether the command may
        run, which it may not if the trail was asked for and cannot be
        opened (NSR0380E, NSR0382E, written to C{err}).
    """
    path = options["audit-file"] or os.environ.get(AUDIT_VARIABLE) or None
    facility = options["audit-syslog"]
    syslog = None
    if facility is not None:
        syslog = SyslogTarget(
            FACILITIES[facility], options["audit-syslog-socket"], program
        )
        try:
            syslog.check()
        except OSError as e:
            err.write(
                f"{program}: NSR0382E the syslog socket {e.strerror or e} cannot"
                " be reached for --audit-syslog; nothing was run\n"
            )
            return None, False
    if path is None and syslog is None:
        return None, True
    try:
        return AdministrationAudit(path, syslog), True
    except OSError as e:
        err.write(
            f"{program}: NSR0380E the audit file {path} cannot be opened"
            f" ({e.strerror or e}); nothing was run\n"
        )
        return None, False
