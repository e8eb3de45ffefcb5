"""
The PIN of a PKCS#11 token, read from a file of mode 0600.

A token's user PIN is the one secret that opens every key the token holds
to whoever can reach the module, so it is kept as the master key's stash
is: in a file only its owner may read (a file group or others may open is
refused, not warned about), read once through one descriptor, and held in
an object that will not show it in a log, a traceback or a pickle.  It is
never written to the security database, whose copies travel further than
the host.

The file holds the PIN alone; one line break at its end is not part of it
(an editor adds one).
"""

from __future__ import annotations

import hmac
from typing import NoReturn

from nsstwisted.security.errors import PinFileError
from nsstwisted.security.secretfile import read_owner_only_file

__all__ = ["MAX_PIN_LENGTH", "TokenPin", "read_pin_file"]

MAX_PIN_LENGTH = 255
"""The longest PIN read; longer files are refused as not being PIN files."""


class TokenPin:
    """
    A token's user PIN, which no method shows: code that logs in asks for
    L{reveal} at the moment it calls C{C_Login}, and nowhere else.
    """

    __slots__ = ("__pin",)

    def __init__(self, pin: str) -> None:
        self.__pin = pin

    def reveal(self) -> str:
        """
        The PIN itself, for the login call and nothing else.
        """
        return self.__pin

    def __repr__(self) -> str:
        return "<TokenPin (not shown)>"

    def __eq__(self, other: object) -> bool:
        # Compared only to tell whether a refresh changed the file.
        if not isinstance(other, TokenPin):
            return NotImplemented
        return hmac.compare_digest(self.__pin.encode(), other.__pin.encode())

    def __hash__(self) -> int:
        raise TypeError("a TokenPin is not hashable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a TokenPin cannot be pickled or copied")


def read_pin_file(path: str) -> TokenPin:
    """
    Read a token's PIN from C{path}.

    The checks are made on the descriptor that is read, so the file cannot
    be swapped between them; it is opened non-blocking, so that a FIFO in
    its place is reported rather than waited on.

    @raise PinFileError: it does not exist, cannot be read, is not a
        regular file, grants any permission to group or others, is empty,
        is longer than a PIN, or is not UTF-8.  The error never holds the
        file's content.
    """
    data = read_owner_only_file(
        path, "PIN file", MAX_PIN_LENGTH + 3, PinFileError, ": chmod 600 it"
    )
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise PinFileError(f"PIN file {path} is empty")
    if len(data) > MAX_PIN_LENGTH or b"\n" in data:
        raise PinFileError(
            f"PIN file {path} is not a PIN file: it holds more than one line of "
            f"at most {MAX_PIN_LENGTH} bytes"
        )
    try:
        return TokenPin(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise PinFileError(f"PIN file {path} is not UTF-8 text") from None
