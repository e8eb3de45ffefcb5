"""
Where the operator tools take secrets from, other than their argument vector.

Every local user can read a running process's arguments (C{ps},
C{/proc/PID/cmdline}), so a password or key given there is disclosed for as
long as the command runs, and often kept in shell history besides.  The tools
therefore take a secret from one of three places that other users cannot
read, all here so that they behave alike:

  - a secret file, readable by its owner only (refused otherwise, as ssh
    refuses a key and nssd a stash file, so that a leak is noticed before the
    secret is used rather than trusted silently);
  - the terminal, with echo off, when standard input is one;
  - the first line of standard input when it is not a terminal (a pipe or a
    redirected file), for scripts.

No function here ever puts the secret into a message.
"""

from __future__ import annotations

import getpass
import os
import stat
from typing import TextIO

__all__ = [
    "MAX_SECRET_FILE",
    "SecretUnavailable",
    "ask_secret",
    "read_secret_file",
    "read_secret_line",
]

MAX_SECRET_FILE = 4096
"""
A secret file or line larger than this is not a password or a key: refuse it
rather than read an arbitrary file into memory.
"""


class SecretUnavailable(Exception):
    """
    A secret could not be had: the file is missing, unsafe or empty, or
    nothing was typed.  The command that needed it runs nothing.

    @ivar messageId: the message's stable identifier (docs/messages.md).
    @ivar text: what went wrong, naming the file or keyword, never the secret.
    """

    messageId = "NSR0307E"

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"{self.messageId} {self.text}"


def _first_line(raw: bytes, what: str) -> str:
    if len(raw) > MAX_SECRET_FILE:
        raise SecretUnavailable(f"the {what} is too large to hold a secret")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretUnavailable(f"the {what} is not UTF-8 text") from None
    lines = text.splitlines()
    secret = lines[0] if lines else ""
    if not secret:
        raise SecretUnavailable(f"the {what} is empty")
    return secret


def read_secret_file(path: str, what: str) -> str:
    """
    The first line of a secret file, which must be a regular file readable
    and writable by its owner only.  The mode is read from the open file, so
    the file checked is the file read.

    @param what: how the file is named in messages ("password file").
    @raise SecretUnavailable: the file cannot be read, is not a regular file,
        is open to group or others, is too large, or holds no secret.
    """
    try:
        # O_NONBLOCK so that a FIFO cannot hang the command; the type check
        # below refuses it anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise SecretUnavailable(
            f"cannot open the {what} {path}: {e.strerror}"
        ) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SecretUnavailable(f"the {what} {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise SecretUnavailable(
                f"the {what} {path} has mode {mode:04o}; it must be readable by "
                "its owner only (chmod 600)"
            )
        raw = f.read(MAX_SECRET_FILE + 1)
    return _first_line(raw, f"{what} {path}")


def read_secret_line(stream: TextIO, what: str) -> str:
    """
    The next line of a stream that is not a terminal, its line ending removed.

    @param what: the secret, for messages ("value of PASSWORD").
    @raise SecretUnavailable: the stream ended or the line is empty or too
        long.
    """
    line = stream.readline(MAX_SECRET_FILE + 1)
    if len(line) > MAX_SECRET_FILE:
        raise SecretUnavailable(f"the {what} on standard input is too long")
    secret = line.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise SecretUnavailable(f"no {what} on standard input")
    return secret


def ask_secret(prompt: str, what: str, stdin: TextIO) -> str:
    """
    A secret typed at the terminal with echo off when C{stdin} is a terminal,
    else the next line of C{stdin}.

    @param prompt: shown on the terminal; never includes a secret.
    @param what: the secret, for messages.
    @raise SecretUnavailable: nothing was typed, the input ended or was
        interrupted.
    """
    try:
        if not stdin.isatty():
            return read_secret_line(stdin, what)
        # getpass talks to the controlling terminal (/dev/tty) itself, so
        # the prompt does not land in a redirected standard output.
        secret = getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        raise SecretUnavailable(f"no {what} was typed") from None
    except UnicodeDecodeError:
        # The error's own text would quote the bytes, that is the secret.
        raise SecretUnavailable(f"the {what} is not UTF-8 text") from None
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise SecretUnavailable(f"cannot read the {what}: {reason}") from None
    if not secret:
        raise SecretUnavailable(f"no {what} was typed")
    return secret
