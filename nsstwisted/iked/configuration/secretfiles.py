"""
The secret files an NSS stack names (C{PasswordFile}, C{PassTicketKeyFile}):
checked when the configuration is loaded, so that a refresh that names a
file iked could not use is refused, and read afresh at each logon, so that
the secret is never kept in the configuration.
"""

from __future__ import annotations

import os
import re
import stat

from nsstwisted.config import ConfigurationError
from nsstwisted.iked.configuration.nssstack import AuthBy, NssStackConfig
from nsstwisted.wire.fields import has_control_character

__all__ = ["read_stack_secret"]

# The NSS protocol's limit on a password (the PASSWORD field).
MAX_PASSWORD_BYTES = 256
# Far above any real secret; low enough that a wrong path fails fast.
MAX_SECRET_FILE_SIZE = 4096

_PASSTICKET_KEY = re.compile(r"[0-9A-Fa-f]{16}")


def read_stack_secret(stack: NssStackConfig) -> str:
    """
    The stack's secret, read afresh from its file: the password (without
    its trailing newline) or the PassTicket key (16 hex digits).

    Read at each logon rather than kept, so that an operator can change a
    password by rewriting its file, and so that the secret spends as little
    time as possible in a long-lived process's memory.  No error ever shows
    the file's content.

    @raise ConfigurationError: the file is missing, unreadable, not a
        regular file, readable or writable by group or others, too large,
        empty or malformed; the error names the file and its keyword.
    """
    keyword = stack.authBy.fileKeyword
    problem, secret = _read_secret(stack.secretFile, stack.authBy)
    if problem is not None:
        raise ConfigurationError(problem, stack.secretFile, None, keyword)
    return secret


def _read_secret(path: str, authBy: AuthBy) -> tuple[str | None, str]:
    """
    Read a secret file; return (problem, "") or (None, secret).
    """
    try:
        # O_NONBLOCK so that a FIFO cannot hang the daemon; the type check
        # below refuses it anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        return f"cannot open the file: {e.strerror or e}", ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file", ""
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            return (
                f"has mode {mode:04o}: a secret file must not be readable or"
                " writable by group or others (chmod 600)",
                "",
            )
        try:
            data = os.read(fd, MAX_SECRET_FILE_SIZE + 1)
        except OSError as e:
            return f"cannot read the file: {e.strerror or e}", ""
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_FILE_SIZE:
        return f"is larger than {MAX_SECRET_FILE_SIZE} bytes", ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8", ""
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        return "is empty", ""
    if authBy is AuthBy.PASSTICKET:
        if not _PASSTICKET_KEY.fullmatch(text):
            return "must hold the PassTicket key as exactly 16 hex digits", ""
        return None, text
    if has_control_character(text):
        return (
            "holds a control character (only one trailing newline is allowed)",
            "",
        )
    if len(text.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"holds a password longer than {MAX_PASSWORD_BYTES} bytes", ""
    return None, text
