"""
What an import says besides the description: the notices about what an
installation holds that the description cannot (a password, a private key,
a keyword the assistant does not generate), and the refusal when a file or
the security database cannot be read at all.

They live apart from the importer so that the part that reads the
configuration files and the part that reads the security database share
them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ImportNotice", "ImportRefused"]


@dataclass(frozen=True)
class ImportNotice:
    """
    Something the operator must know about an imported description: a
    value it does not hold, a secret it cannot hold, a guess it had to make.

    An import goes on after a notice, because a description that is almost
    right and says where it is not is what an operator bringing a hand-made
    installation under the assistant wants; the notices go to standard
    error and, as comments, to the head of the description.

    @ivar messageId: the stable message ID (C{NSA00nnW}), listed in
        docs/messages.md.
    @ivar text: one line, for the operator.
    """

    messageId: str
    text: str

    def __str__(self) -> str:
        return f"{self.messageId} {self.text}"


class ImportRefused(Exception):
    """
    The installation cannot be read: a file is missing or breaks its syntax,
    or the security database cannot be opened.  Nothing is written, since a
    description missing a whole file would silently drop what it holds.

    @ivar messageId: the stable message ID (C{NSA00nnE}).
    @ivar text: what is wrong and where, for the operator.
    """

    def __init__(self, messageId: str, text: str) -> None:
        super().__init__(messageId, text)
        self.messageId = messageId
        self.text = text

    def __str__(self) -> str:
        return f"{self.messageId} {self.text}"
