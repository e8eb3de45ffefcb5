"""
Reading a file that holds a secret (the master key's stash, a token's PIN)
only if its owner alone may read it.

The stash and the PIN file are guarded alike, so one reader serves both:
the file is opened once, non-blocking (a FIFO planted in its place is
reported instead of hanging the daemon), and every check is made on that
descriptor, so the file cannot be swapped between the checks and the read.
Each caller keeps its own error type and the words that name its file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

__all__ = ["read_owner_only_file"]


def read_owner_only_file(
    path: str,
    what: str,
    limit: int,
    error: Callable[[str], Exception],
    modeAdvice: str = "",
) -> bytes:
    """
    Read at most C{limit} bytes of the regular file at C{path}, which must
    grant no permission to group or others.

    @param what: how the messages name the file (C{"stash file"}).
    @param error: makes the exception raised, from its message.
    @param modeAdvice: what the message about a too open mode adds at its
        end (C{": chmod 600 it"}).
    @raise Exception: C{error}'s, if the file does not exist, cannot be
        opened or read, is not a regular file, or is open to group or
        others.  Its message never holds the file's content.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except OSError as e:
        raise error(f"{what} {path} cannot be opened: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise error(
                f"{what} {path} has mode {mode:04o}; mode 0600 is required "
                f"(no access for group or others){modeAdvice}"
            )
        try:
            return os.read(fd, limit)
        except OSError as e:
            raise error(f"{what} {path} cannot be read: {e.strerror}") from None
    finally:
        os.close(fd)
