"""
The errors of the sans-IO IKEv2 layer.  Each carries the notify type that
tells the peer what went wrong, so that an engine can turn any of them into
the error notification RFC 7296 asks for without a table of its own.
"""

from __future__ import annotations

from nsstwisted.ike.constants import NotifyType

__all__ = [
    "IkeDecodeError",
    "IkeError",
    "IntegrityError",
    "UnsupportedAlgorithm",
]


class IkeError(Exception):
    """
    Anything the IKE layer refuses.

    @ivar notify: the error notify type a peer should be told, where one fits.
    @ivar data: the notification data (e.g. the payload type for
        UNSUPPORTED_CRITICAL_PAYLOAD).
    """

    notify: int = NotifyType.INVALID_SYNTAX

    def __init__(
        self, message: str, notify: int | None = None, data: bytes = b""
    ) -> None:
        super().__init__(message)
        if notify is not None:
            self.notify = notify
        self.data = data


class IkeDecodeError(IkeError):
    """Bytes that are not a well-formed IKEv2 message or payload."""


class IntegrityError(IkeError):
    """
    An SK payload whose ICV does not verify (or whose AEAD tag fails): the
    message is dropped without an answer, as RFC 7296 section 2.21.2 says.
    """

    notify = NotifyType.INVALID_SYNTAX


class UnsupportedAlgorithm(IkeError):
    """A transform ID or auth method nsstwisted does not implement."""

    notify = NotifyType.NO_PROPOSAL_CHOSEN
