"""
Whole IKEv2 messages: the 28-octet header (RFC 7296 section 3.1) with its
payload chain, in plaintext or inside one SK payload (section 3.14).

The codec knows where the SK payload's octets go but not the keys or the
algorithms: those are behind an L{SkProtector}, which the crypto module
implements per negotiated suite.  So this module stays a pure layout, and
the same encode and decode serve AES-CBC with HMAC and AES-GCM alike.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from nsstwisted.ike.constants import (
    IKE_VERSION,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    PayloadType,
)
from nsstwisted.ike.errors import IkeDecodeError
from nsstwisted.ike.payloads import (
    GENERIC_HEADER_SIZE,
    EncryptedPayload,
    Payload,
    decode_payloads,
    encode_payloads,
)

__all__ = [
    "HEADER_SIZE",
    "IkeHeader",
    "IkeMessage",
    "SkProtector",
    "decode_encrypted",
    "decode_message",
    "encode_encrypted",
    "encode_message",
]

HEADER_SIZE = 28
"""The IKE header: two SPIs, Next Payload, version, exchange, flags, ID, length."""

_HEADER = struct.Struct(">8s8sBBBBII")
_SPI_SIZE = 8
_MAJOR_VERSION = IKE_VERSION >> 4


@dataclass(frozen=True)
class IkeHeader:
    """
    The IKE header as it is on the wire.

    @ivar spiI: the IKE SA initiator's SPI, never zero.
    @ivar spiR: the responder's SPI, zero in the first IKE_SA_INIT request.
    @ivar nextPayload: the type of the first payload; L{PayloadType.SK}
        for an encrypted message.
    @ivar flags: the L{HeaderFlag} bits, kept whole since the reserved
        ones must be ignored rather than refused.
    @ivar length: the whole message's length, SK payload's ICV included.
    @ivar version: major version in the high nibble, minor in the low one.
    """

    spiI: bytes
    spiR: bytes
    nextPayload: int
    exchange: int
    flags: int
    messageId: int
    length: int
    version: int = IKE_VERSION

    @property
    def isResponse(self) -> bool:
        return bool(self.flags & HeaderFlag.RESPONSE)

    @property
    def isInitiator(self) -> bool:
        """
        Whether the sender is the original initiator of the IKE SA (the I
        flag), which picks the SK_ei/SK_ai or SK_er/SK_ar keys; not whether
        the message is a request.
        """
        return bool(self.flags & HeaderFlag.INITIATOR)

    def encode(self) -> bytes:
        if len(self.spiI) != _SPI_SIZE or len(self.spiR) != _SPI_SIZE:
            raise ValueError("IKE SPIs are 8 octets")
        return _HEADER.pack(
            self.spiI,
            self.spiR,
            self.nextPayload,
            self.version,
            self.exchange,
            self.flags,
            self.messageId,
            self.length,
        )

    @classmethod
    def decode(cls, data: bytes) -> IkeHeader:
        """
        Decode the header of the whole message C{data}.

        @param data: the entire message, so that the Length field can be
            checked against what arrived.
        @raise IkeDecodeError: with INVALID_MAJOR_VERSION for a major
            version other than 2 (the minor version is ignored, as section
            2.5 asks); with INVALID_SYNTAX for a short message, a Length
            that disagrees with the message, or a zero initiator SPI.
        """
        if len(data) < HEADER_SIZE:
            raise IkeDecodeError(f"IKE message of {len(data)} octets")
        fields = _HEADER.unpack_from(data)
        spiI, spiR, nextPayload, version, exchange, flags, messageId, length = fields
        if version >> 4 != _MAJOR_VERSION:
            raise IkeDecodeError(
                f"IKE major version {version >> 4}",
                notify=NotifyType.INVALID_MAJOR_VERSION,
            )
        if length != len(data):
            raise IkeDecodeError(
                f"IKE header length {length}, message of {len(data)} octets"
            )
        if spiI == bytes(_SPI_SIZE):
            raise IkeDecodeError("zero initiator SPI")
        return cls(
            spiI,
            spiR,
            nextPayload,
            _named_exchange(exchange),
            flags,
            messageId,
            length,
            version,
        )


def _named_exchange(exchange: int) -> int:
    try:
        return ExchangeType(exchange)
    except ValueError:
        return exchange


@dataclass(frozen=True)
class IkeMessage:
    """
    A message as the engine builds it: the header's meaning, without the
    layout fields (Next Payload, Length) that encoding fills in.

    @ivar isInitiator: the I flag: the sender is the IKE SA's original
        initiator.
    @ivar payloads: in plaintext messages, the payloads; for
        L{encode_encrypted}, the payloads that go inside the SK payload.
    """

    spiI: bytes
    spiR: bytes
    exchange: int
    messageId: int
    isResponse: bool
    isInitiator: bool
    payloads: tuple[Payload, ...]

    def _header(self, nextPayload: int, length: int) -> IkeHeader:
        flags = (HeaderFlag.RESPONSE if self.isResponse else 0) | (
            HeaderFlag.INITIATOR if self.isInitiator else 0
        )
        return IkeHeader(
            self.spiI,
            self.spiR,
            nextPayload,
            self.exchange,
            flags,
            self.messageId,
            length,
        )


class SkProtector(Protocol):
    """
    The keys and algorithms of one direction of an IKE SA, as the SK
    payload needs them (section 3.14).  Padding and the Pad Length octet
    belong to the protector, since only it knows the cipher's block size.
    """

    def body_length(self, plaintextLength: int) -> int:
        """
        The size of IV, ciphertext (with padding and the Pad Length octet)
        and ICV for C{plaintextLength} octets of inner payloads; the
        header and SK Length fields must hold it before encryption,
        because they are authenticated.
        """

    def encrypt(self, prefix: bytes, plaintext: bytes) -> bytes:
        """
        Protect the inner payloads.

        @param prefix: the message up to and including the SK generic
            header, final lengths in place: what the ICV or AEAD tag covers
            besides the ciphertext.
        @return: IV, ciphertext and ICV, exactly L{body_length} octets.
        """

    def decrypt(self, prefix: bytes, body: bytes) -> bytes:
        """
        Check and decrypt an SK payload's body.

        @return: the inner payload octets, padding and Pad Length removed.
        @raise IntegrityError: for any body that does not verify, a short
            one included.
        """


def decode_message(data: bytes) -> tuple[IkeHeader, list[Payload]]:
    """
    Decode a message without decrypting it: an SK payload stays the last
    element, an L{EncryptedPayload}, for L{decode_encrypted}.

    @raise IkeDecodeError: for a malformed header or payload chain.
    """
    header = IkeHeader.decode(data)
    return header, decode_payloads(header.nextPayload, data[HEADER_SIZE:])


def encode_message(message: IkeMessage) -> bytes:
    """Encode a plaintext message, such as IKE_SA_INIT."""
    firstType, chain = encode_payloads(message.payloads)
    header = message._header(firstType, HEADER_SIZE + len(chain))
    return header.encode() + chain


def encode_encrypted(message: IkeMessage, protector: SkProtector) -> bytes:
    """
    Encode a message with all its payloads inside one SK payload.

    An empty payload list is allowed: the SK payload's Next Payload is
    then 0, which is what an empty INFORMATIONAL (a liveness check or its
    answer) looks like.

    @raise ValueError: if a payload is itself an L{EncryptedPayload}, or
        the protector's output is not the size it announced.
    """
    if any(isinstance(payload, EncryptedPayload) for payload in message.payloads):
        raise ValueError("an SK payload cannot be encrypted inside another")
    firstInner, plaintext = encode_payloads(message.payloads)
    bodyLength = protector.body_length(len(plaintext))
    skLength = GENERIC_HEADER_SIZE + bodyLength
    header = message._header(PayloadType.SK, HEADER_SIZE + skLength)
    prefix = header.encode() + struct.pack(">BBH", firstInner, 0, skLength)
    body = protector.encrypt(prefix, plaintext)
    if len(body) != bodyLength:
        raise ValueError(
            f"SK protector gave {len(body)} octets, announced {bodyLength}"
        )
    return prefix + body


def decode_encrypted(
    data: bytes,
    header: IkeHeader,
    payloads: list[Payload],
    protector: SkProtector,
) -> list[Payload]:
    """
    Decrypt the SK payload that L{decode_message} left at the end of
    C{payloads}, and decode what it holds.

    @param data: the whole message, as given to L{decode_message}.
    @param header: its header, from L{decode_message}.
    @return: any plaintext payloads before the SK payload, then the
        inner ones.
    @raise IkeDecodeError: if there is no SK payload, the inside is
        malformed, or it holds another SK payload.
    @raise IntegrityError: from the protector, when the message does not
        verify; RFC 7296 section 2.21.2 wants it dropped unanswered.
    """
    if not payloads or not isinstance(payloads[-1], EncryptedPayload):
        raise IkeDecodeError(
            f"message of exchange {int(header.exchange)} without an SK payload"
        )
    encrypted = payloads[-1]
    prefix = data[: len(data) - len(encrypted.data)]
    plaintext = protector.decrypt(prefix, encrypted.data)
    inner = decode_payloads(encrypted.firstInner, plaintext)
    if inner and isinstance(inner[-1], EncryptedPayload):
        raise IkeDecodeError("an SK payload inside an SK payload")
    return [*payloads[:-1], *inner]
