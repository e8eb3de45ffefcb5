"""
The IKEv2 payloads (RFC 7296 section 3.2 to 3.14) and the payload chain
that links them through their generic headers.

Each payload is a frozen dataclass whose C{body()} is the payload without
its 4-octet generic header, because that is what the protocol itself
works with: the IDx' of the AUTH octets is an ID payload's body, and a
payload's place in the chain (its Next Payload and Critical bit) belongs
to L{encode_payloads}, not to the payload.  Every C{decode} refuses a
malformed body with L{IkeDecodeError}, so that one C{except} in the engine
turns any bad input into the notify the peer must be told.

Numbers that L{nsstwisted.ike.constants} names come back from the decoders
as their enumeration members, and any other number as a plain C{int}, so
that a log line reads C{NotifyType.COOKIE} while an unknown status notify
is still kept and passed over.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar

from nsstwisted.ike.constants import (
    KEY_LENGTH_ATTRIBUTE,
    AuthMethod,
    CertEncoding,
    DhGroupId,
    EncrId,
    EsnId,
    IdType,
    IntegId,
    NotifyType,
    PayloadType,
    PrfId,
    ProtocolId,
    TransformType,
    TsType,
)
from nsstwisted.ike.errors import IkeDecodeError

__all__ = [
    "GENERIC_HEADER_SIZE",
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "DeletePayload",
    "EncryptedPayload",
    "IdPayload",
    "KePayload",
    "NoncePayload",
    "NotifyPayload",
    "Payload",
    "Proposal",
    "SaPayload",
    "TrafficSelector",
    "Transform",
    "TsPayload",
    "UnknownPayload",
    "VendorIdPayload",
    "decode_payloads",
    "encode_payloads",
    "find",
    "find_all",
    "find_notify",
    "notifies",
]

GENERIC_HEADER_SIZE = 4
"""Next Payload, the Critical bit with 7 reserved bits, Payload Length."""

_CRITICAL = 0x80
_ATTRIBUTE_TV = 0x8000

# The Last/More octet of the substructures of an SA payload (section 3.3).
_LAST = 0
_MORE_PROPOSALS = 2
_MORE_TRANSFORMS = 3

# Last/More octet, reserved, length, and the substructure's fixed fields.
_PROPOSAL_MINIMUM = 8
_TRANSFORM_MINIMUM = 8

_MINIMUM_NONCE = 16
_MAXIMUM_NONCE = 256

_SHA1_SIZE = 20

_SELECTOR_SIZES = {TsType.IPV4_ADDR_RANGE: 16, TsType.IPV6_ADDR_RANGE: 40}

# The transform IDs are numbered per transform type.
_TRANSFORM_IDS: dict[int, type[enum.IntEnum]] = {
    TransformType.ENCR: EncrId,
    TransformType.PRF: PrfId,
    TransformType.INTEG: IntegId,
    TransformType.DH: DhGroupId,
    TransformType.ESN: EsnId,
}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _named(kind: type[enum.IntEnum] | None, value: int) -> int:
    """
    The member of C{kind} for C{value} where there is one, so that decoded
    numbers print by name; else C{value} itself, since an unknown number
    is often to be passed over rather than refused.
    """
    if kind is None:
        return value
    try:
        return kind(value)
    except ValueError:
        return value


def _need(data: bytes, size: int, what: str) -> None:
    """
    Refuse C{data} shorter than the C{size} octets the fixed part of
    C{what} takes.
    """
    if len(data) < size:
        raise IkeDecodeError(f"{what}: {len(data)} octets, at least {size} needed")


def _substructures(
    data: bytes, more: int, minimum: int, what: str, count: int | None = None
) -> list[bytes]:
    """
    Split the proposals of an SA payload, or the transforms of a proposal,
    each headed by a C{Last(1) | RESERVED(1) | Length(2)} header.

    The Last/More octets are the only way to find the end of an SA
    payload's proposals, and a proposal also states how many transforms
    it holds; both must agree, or a peer could make the two readings of
    one payload differ.

    @param more: the value of the Last/More octet of all but the last
        substructure (2 for proposals, 3 for transforms).
    @param minimum: the least length a substructure may claim.
    @param count: the number of substructures the enclosing structure
        announces, or C{None} where only the Last/More octets tell.
    @return: the substructures' bodies, without their 4-octet headers.
    """
    bodies: list[bytes] = []
    if count == 0:
        if data:
            raise IkeDecodeError(f"{len(data)} octets after the last {what}")
        return bodies
    offset = 0
    while True:
        if len(data) - offset < GENERIC_HEADER_SIZE:
            raise IkeDecodeError(f"truncated {what} header")
        flag, _reserved, length = struct.unpack_from(">BBH", data, offset)
        if length < minimum:
            raise IkeDecodeError(f"{what} length {length}, at least {minimum}")
        end = offset + length
        if end > len(data):
            raise IkeDecodeError(f"{what} length {length} runs past the payload")
        bodies.append(data[offset + GENERIC_HEADER_SIZE : end])
        offset = end
        if flag not in (_LAST, more):
            raise IkeDecodeError(f"{what} Last/More octet {flag}")
        final = flag == _LAST
        if count is not None and final != (len(bodies) == count):
            raise IkeDecodeError(f"{what} Last/More octets disagree with count {count}")
        if final:
            break
    if offset != len(data):
        raise IkeDecodeError(f"{len(data) - offset} octets after the last {what}")
    return bodies


def _substructure(flag: int, body: bytes) -> bytes:
    return struct.pack(">BBH", flag, 0, GENERIC_HEADER_SIZE + len(body)) + body


@dataclass(frozen=True)
class Transform:
    """
    One transform of a proposal (section 3.3.2).

    @ivar transformType: a L{TransformType}.
    @ivar transformId: the algorithm, numbered per transform type.
    @ivar keyLength: the Key Length attribute in bits, or C{None} where
        the transform has none.
    @ivar unknownAttributes: set by L{decode} when the transform carried
        an attribute other than one Key Length.  Such a transform means
        something nsstwisted cannot honour, so selection must skip it
        (section 3.3.6); the attributes themselves are not kept, and
        L{body} does not write them.
    """

    transformType: int
    transformId: int
    keyLength: int | None = None
    unknownAttributes: bool = False

    def body(self) -> bytes:
        """
        The transform without its Last/Length header: Type, RESERVED,
        Transform ID and the Key Length attribute (TV form) if any.
        """
        fixed = struct.pack(">BBH", self.transformType, 0, self.transformId)
        if self.keyLength is None:
            return fixed
        return fixed + struct.pack(
            ">HH", _ATTRIBUTE_TV | KEY_LENGTH_ATTRIBUTE, self.keyLength
        )

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 4, "transform")
        transformType, _reserved, transformId = struct.unpack_from(">BBH", body)
        keyLength: int | None = None
        unknown = False
        offset = 4
        while offset < len(body):
            if len(body) - offset < 4:
                raise IkeDecodeError("truncated transform attribute")
            kind, value = struct.unpack_from(">HH", body, offset)
            offset += 4
            if kind & _ATTRIBUTE_TV:
                if kind == _ATTRIBUTE_TV | KEY_LENGTH_ATTRIBUTE and keyLength is None:
                    keyLength = value
                else:
                    unknown = True
            else:
                # TLV: value is the length of what follows.
                if len(body) - offset < value:
                    raise IkeDecodeError("transform attribute runs past the transform")
                offset += value
                unknown = True
        return cls(
            _named(TransformType, transformType),
            _named(_TRANSFORM_IDS.get(transformType), transformId),
            keyLength,
            unknown,
        )


@dataclass(frozen=True)
class Proposal:
    """
    One proposal of an SA payload (section 3.3.1).

    @ivar number: the Proposal Num as sent; a response must echo the
        number of the proposal it chose, so it is never renumbered.
    @ivar protocol: a L{ProtocolId}.
    @ivar spi: empty in the first IKE_SA_INIT, the sender's new IKE SPI
        (8 octets) in an IKE rekey, the sender's inbound SPI (4 octets)
        for ESP.
    """

    number: int
    protocol: int
    spi: bytes
    transforms: tuple[Transform, ...]

    def body(self) -> bytes:
        """The proposal without its Last/Length header."""
        fixed = struct.pack(
            ">BBBB", self.number, self.protocol, len(self.spi), len(self.transforms)
        )
        last = len(self.transforms) - 1
        return (
            fixed
            + self.spi
            + b"".join(
                _substructure(_LAST if i == last else _MORE_TRANSFORMS, t.body())
                for i, t in enumerate(self.transforms)
            )
        )

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 4, "proposal")
        number, protocol, spiSize, count = struct.unpack_from(">BBBB", body)
        _need(body, 4 + spiSize, "proposal SPI")
        spi = body[4 : 4 + spiSize]
        transforms = _substructures(
            body[4 + spiSize :],
            _MORE_TRANSFORMS,
            _TRANSFORM_MINIMUM,
            "transform",
            count,
        )
        return cls(
            number,
            _named(ProtocolId, protocol),
            spi,
            tuple(Transform.decode(t) for t in transforms),
        )


@dataclass(frozen=True)
class SaPayload:
    """An SA payload: the proposals offered, or the one chosen (section 3.3)."""

    payloadType: ClassVar[PayloadType] = PayloadType.SA

    proposals: tuple[Proposal, ...]

    def body(self) -> bytes:
        last = len(self.proposals) - 1
        return b"".join(
            _substructure(_LAST if i == last else _MORE_PROPOSALS, p.body())
            for i, p in enumerate(self.proposals)
        )

    @classmethod
    def decode(cls, body: bytes) -> Self:
        proposals = _substructures(body, _MORE_PROPOSALS, _PROPOSAL_MINIMUM, "proposal")
        return cls(tuple(Proposal.decode(p) for p in proposals))


@dataclass(frozen=True)
class KePayload:
    """
    A Key Exchange payload (section 3.4).

    @ivar group: the L{DhGroupId} the data belongs to; a responder that
        wants another group says so with INVALID_KE_PAYLOAD.
    @ivar data: the public value, padded as the group's RFC says.
    """

    payloadType: ClassVar[PayloadType] = PayloadType.KE

    group: int
    data: bytes

    def body(self) -> bytes:
        return struct.pack(">HH", self.group, 0) + self.data

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 4, "KE payload")
        (group,) = struct.unpack_from(">H", body)
        return cls(_named(DhGroupId, group), body[4:])


@dataclass(frozen=True)
class NoncePayload:
    """A Nonce payload (section 3.9): 16 to 256 octets, checked on decode."""

    payloadType: ClassVar[PayloadType] = PayloadType.NONCE

    nonce: bytes

    def body(self) -> bytes:
        return self.nonce

    @classmethod
    def decode(cls, body: bytes) -> Self:
        if not _MINIMUM_NONCE <= len(body) <= _MAXIMUM_NONCE:
            raise IkeDecodeError(
                f"nonce of {len(body)} octets, not {_MINIMUM_NONCE}..{_MAXIMUM_NONCE}"
            )
        return cls(body)


@dataclass(frozen=True)
class NotifyPayload:
    """
    A Notify payload (section 3.10): an error (type below 16384) or a
    status.

    @ivar protocol: the L{ProtocolId} the SPI belongs to, or 0 where the
        notify concerns the IKE SA and carries no SPI.
    @ivar spi: the SPI the notify is about (REKEY_SA names the CHILD_SA).
    """

    payloadType: ClassVar[PayloadType] = PayloadType.NOTIFY

    protocol: int
    notifyType: int
    spi: bytes = b""
    data: bytes = b""

    def body(self) -> bytes:
        fixed = struct.pack(">BBH", self.protocol, len(self.spi), self.notifyType)
        return fixed + self.spi + self.data

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 4, "Notify payload")
        protocol, spiSize, notifyType = struct.unpack_from(">BBH", body)
        _need(body, 4 + spiSize, "Notify SPI")
        return cls(
            _named(ProtocolId, protocol),
            _named(NotifyType, notifyType),
            body[4 : 4 + spiSize],
            body[4 + spiSize :],
        )


@dataclass(frozen=True)
class IdPayload:
    """
    An Identification payload (section 3.5).

    @ivar payloadType: L{PayloadType.IDi} or L{PayloadType.IDr}; the body
        is the same for both, so the type travels with the value.
    @ivar idType: an L{IdType}.
    """

    payloadType: PayloadType
    idType: int
    data: bytes

    def body(self) -> bytes:
        """
        The body, which is exactly the IDx' that the AUTH octets take
        the PRF of (section 2.15).
        """
        return struct.pack(">B3x", self.idType) + self.data

    @classmethod
    def decode(cls, body: bytes, payloadType: int = PayloadType.IDi) -> Self:
        _need(body, 4, "ID payload")
        return cls(PayloadType(payloadType), _named(IdType, body[0]), body[4:])


@dataclass(frozen=True)
class CertPayload:
    """A Certificate payload (section 3.6); encoding 4 is one DER X.509."""

    payloadType: ClassVar[PayloadType] = PayloadType.CERT

    encoding: int
    data: bytes

    def body(self) -> bytes:
        return bytes([self.encoding]) + self.data

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 1, "CERT payload")
        return cls(_named(CertEncoding, body[0]), body[1:])


@dataclass(frozen=True)
class CertReqPayload:
    """
    A Certificate Request payload (section 3.7): the CAs the sender trusts.
    """

    payloadType: ClassVar[PayloadType] = PayloadType.CERTREQ

    encoding: int
    data: bytes

    def body(self) -> bytes:
        return bytes([self.encoding]) + self.data

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 1, "CERTREQ payload")
        return cls(_named(CertEncoding, body[0]), body[1:])

    def authorities(self) -> list[bytes]:
        """
        The SHA-1 hashes of the trusted CAs' SubjectPublicKeyInfo, which
        is what an X.509 CERTREQ lists; empty for any other encoding.

        This is checked only when asked, since a CERTREQ nsstwisted does
        not act on must not fail the exchange.

        @raise IkeDecodeError: if the data is not a whole number of hashes.
        """
        if self.encoding != CertEncoding.X509_SIGNATURE:
            return []
        if len(self.data) % _SHA1_SIZE:
            raise IkeDecodeError(
                f"CERTREQ of {len(self.data)} octets, not a multiple of {_SHA1_SIZE}"
            )
        return [
            self.data[i : i + _SHA1_SIZE] for i in range(0, len(self.data), _SHA1_SIZE)
        ]


@dataclass(frozen=True)
class AuthPayload:
    """An Authentication payload (section 3.8)."""

    payloadType: ClassVar[PayloadType] = PayloadType.AUTH

    method: int
    data: bytes

    def body(self) -> bytes:
        return struct.pack(">B3x", self.method) + self.data

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 4, "AUTH payload")
        return cls(_named(AuthMethod, body[0]), body[4:])


@dataclass(frozen=True)
class TrafficSelector:
    """
    One traffic selector of a TS payload (section 3.13.1): an address
    range and a port range of one IP protocol.

    Unlike a payload it has no separate header, so L{body} is the whole
    selector, Type and Selector Length included.

    @ivar tsType: a L{TsType}.
    @ivar protocol: the IP protocol, 0 for any.
    @ivar startAddress: packed, 4 octets for IPv4 and 16 for IPv6.
    """

    tsType: int
    protocol: int
    startPort: int
    endPort: int
    startAddress: bytes
    endAddress: bytes

    @classmethod
    def from_network(
        cls,
        network: Network,
        protocol: int = 0,
        startPort: int = 0,
        endPort: int = 65535,
    ) -> Self:
        """The selector covering all of C{network}, as a policy states it."""
        tsType = (
            TsType.IPV4_ADDR_RANGE if network.version == 4 else TsType.IPV6_ADDR_RANGE
        )
        return cls(
            tsType,
            protocol,
            startPort,
            endPort,
            network.network_address.packed,
            network.broadcast_address.packed,
        )

    @property
    def start(self) -> Address:
        return ipaddress.ip_address(self.startAddress)

    @property
    def end(self) -> Address:
        return ipaddress.ip_address(self.endAddress)

    def body(self) -> bytes:
        size = 8 + len(self.startAddress) + len(self.endAddress)
        fixed = struct.pack(
            ">BBHHH", self.tsType, self.protocol, size, self.startPort, self.endPort
        )
        return fixed + self.startAddress + self.endAddress

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """
        Decode exactly one selector.

        @raise IkeDecodeError: for a TS type other than the IPv4 and IPv6
            ranges (their layout is unknown, so nothing after them could
            be read either) or a length that does not fit the type.
        """
        _need(body, 4, "traffic selector")
        tsType, protocol, length = struct.unpack_from(">BBH", body)
        size = _SELECTOR_SIZES.get(tsType)
        if size is None:
            raise IkeDecodeError(f"unknown traffic selector type {tsType}")
        if length != size or len(body) != size:
            raise IkeDecodeError(
                f"traffic selector of type {tsType}: length {length}, not {size}"
            )
        startPort, endPort = struct.unpack_from(">HH", body, 4)
        half = (size - 8) // 2
        return cls(
            TsType(tsType),
            protocol,
            startPort,
            endPort,
            body[8 : 8 + half],
            body[8 + half :],
        )


@dataclass(frozen=True)
class TsPayload:
    """
    A Traffic Selector payload (section 3.13).

    @ivar payloadType: L{PayloadType.TSi} or L{PayloadType.TSr}.
    """

    payloadType: PayloadType
    selectors: tuple[TrafficSelector, ...]

    def body(self) -> bytes:
        return struct.pack(">B3x", len(self.selectors)) + b"".join(
            s.body() for s in self.selectors
        )

    @classmethod
    def decode(cls, body: bytes, payloadType: int = PayloadType.TSi) -> Self:
        _need(body, 4, "TS payload")
        selectors = []
        offset = 4
        for _ in range(body[0]):
            if len(body) - offset < 4:
                raise IkeDecodeError("truncated traffic selector")
            (length,) = struct.unpack_from(">H", body, offset + 2)
            selectors.append(TrafficSelector.decode(body[offset : offset + length]))
            offset += length
        if offset != len(body):
            raise IkeDecodeError(
                f"{len(body) - offset} octets after the last traffic selector"
            )
        return cls(PayloadType(payloadType), tuple(selectors))


@dataclass(frozen=True)
class DeletePayload:
    """
    A Delete payload (section 3.11).

    @ivar spiSize: kept apart from the SPIs, since a Delete for the IKE SA
        has size 0 and no SPIs, while one for ESP has size 4.
    @ivar spis: the sender's inbound SPIs of the SAs it deletes.
    """

    payloadType: ClassVar[PayloadType] = PayloadType.DELETE

    protocol: int
    spiSize: int
    spis: tuple[bytes, ...]

    def body(self) -> bytes:
        if any(len(spi) != self.spiSize for spi in self.spis):
            raise ValueError(f"Delete SPIs must all be {self.spiSize} octets")
        fixed = struct.pack(">BBH", self.protocol, self.spiSize, len(self.spis))
        return fixed + b"".join(self.spis)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        _need(body, 4, "Delete payload")
        protocol, spiSize, count = struct.unpack_from(">BBH", body)
        if len(body) - 4 != spiSize * count:
            raise IkeDecodeError(
                f"Delete payload: {len(body) - 4} octets for {count} SPIs "
                f"of {spiSize} octets"
            )
        spis = tuple(
            body[4 + i * spiSize : 4 + (i + 1) * spiSize] for i in range(count)
        )
        return cls(_named(ProtocolId, protocol), spiSize, spis)


@dataclass(frozen=True)
class VendorIdPayload:
    """A Vendor ID payload (section 3.12): opaque, and never required."""

    payloadType: ClassVar[PayloadType] = PayloadType.VENDOR_ID

    data: bytes

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, body: bytes) -> Self:
        return cls(body)


@dataclass(frozen=True)
class UnknownPayload:
    """
    A payload of a type nsstwisted does not implement (CP and EAP among
    them), kept so that the chain reads on past it.

    @ivar critical: always C{False} once decoded, since a critical unknown
        payload fails the whole message; settable for encoding, so that a
        test can send what a newer peer might.
    """

    payloadType: int
    critical: bool
    data: bytes

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, body: bytes, payloadType: int = 0, critical: bool = False) -> Self:
        return cls(payloadType, critical, body)


@dataclass(frozen=True)
class EncryptedPayload:
    """
    An Encrypted and Authenticated (SK) payload (section 3.14), still
    encrypted: the codec does not know the keys, so decryption is
    L{nsstwisted.ike.message.decode_encrypted}'s business.

    @ivar firstInner: the type of the first payload inside, which the SK
        payload's own Next Payload field carries (0 for none, as in an
        empty INFORMATIONAL).
    @ivar data: IV, ciphertext and ICV.
    """

    payloadType: ClassVar[PayloadType] = PayloadType.SK

    firstInner: int
    data: bytes

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, body: bytes, firstInner: int = 0) -> Self:
        return cls(firstInner, body)


Payload = (
    SaPayload
    | KePayload
    | IdPayload
    | CertPayload
    | CertReqPayload
    | AuthPayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VendorIdPayload
    | TsPayload
    | EncryptedPayload
    | UnknownPayload
)


_DECODERS: dict[int, Callable[[bytes, int], Payload]] = {
    PayloadType.SA: lambda body, _: SaPayload.decode(body),
    PayloadType.KE: lambda body, _: KePayload.decode(body),
    PayloadType.IDi: IdPayload.decode,
    PayloadType.IDr: IdPayload.decode,
    PayloadType.CERT: lambda body, _: CertPayload.decode(body),
    PayloadType.CERTREQ: lambda body, _: CertReqPayload.decode(body),
    PayloadType.AUTH: lambda body, _: AuthPayload.decode(body),
    PayloadType.NONCE: lambda body, _: NoncePayload.decode(body),
    PayloadType.NOTIFY: lambda body, _: NotifyPayload.decode(body),
    PayloadType.DELETE: lambda body, _: DeletePayload.decode(body),
    PayloadType.VENDOR_ID: lambda body, _: VendorIdPayload.decode(body),
    PayloadType.TSi: TsPayload.decode,
    PayloadType.TSr: TsPayload.decode,
}


def decode_payloads(firstType: int, data: bytes) -> list[Payload]:
    """
    Decode a chain of payloads.

    An SK payload ends the chain: it must reach to the end of C{data},
    and its Next Payload is the first inner type, kept in
    L{EncryptedPayload.firstInner}.  An unknown payload is kept as an
    L{UnknownPayload} unless its Critical bit is set.

    @param firstType: the Next Payload of whatever precedes C{data} (the
        IKE header, or an SK payload for its decrypted inside).
    @raise IkeDecodeError: for any malformed payload or chain; with
        UNSUPPORTED_CRITICAL_PAYLOAD and the payload type as its data for
        an unknown critical payload.  SKF is refused as well: an RFC 7383
        fragment is taken apart by L{nsstwisted.ike.fragments} before any
        payload chain is decoded.
    """
    payloads: list[Payload] = []
    payloadType = firstType
    offset = 0
    while payloadType != PayloadType.NONE:
        if len(data) - offset < GENERIC_HEADER_SIZE:
            raise IkeDecodeError(f"truncated header of payload type {payloadType}")
        following, flags, length = struct.unpack_from(">BBH", data, offset)
        if length < GENERIC_HEADER_SIZE:
            raise IkeDecodeError(f"payload type {payloadType}: length {length}")
        end = offset + length
        if end > len(data):
            raise IkeDecodeError(
                f"payload type {payloadType}: length {length} runs past the message"
            )
        body = data[offset + GENERIC_HEADER_SIZE : end]
        if payloadType == PayloadType.SK:
            if end != len(data):
                raise IkeDecodeError("SK payload is not the last payload")
            payloads.append(EncryptedPayload(_named(PayloadType, following), body))
            return payloads
        if payloadType == PayloadType.SKF:
            raise IkeDecodeError("an SKF payload where a payload chain is")
        decoder = _DECODERS.get(payloadType)
        if decoder is not None:
            payloads.append(decoder(body, payloadType))
        elif flags & _CRITICAL:
            raise IkeDecodeError(
                f"unsupported critical payload type {payloadType}",
                notify=NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
                data=bytes([payloadType]),
            )
        else:
            payloads.append(UnknownPayload(payloadType, False, body))
        payloadType = following
        offset = end
    if offset != len(data):
        raise IkeDecodeError(f"{len(data) - offset} octets after the last payload")
    return payloads


def encode_payloads(payloads: Sequence[Payload]) -> tuple[int, bytes]:
    """
    Chain payloads through their generic headers.

    @return: the type of the first payload (0 for none), for the header
        or SK payload before them, and the chained octets.
    @raise ValueError: if an L{EncryptedPayload} is not the last payload.
    """
    chunks = []
    for index, payload in enumerate(payloads):
        last = index == len(payloads) - 1
        if isinstance(payload, EncryptedPayload):
            if not last:
                raise ValueError("an SK payload must be the last payload")
            following = payload.firstInner
        else:
            following = PayloadType.NONE if last else payloads[index + 1].payloadType
        flags = (
            _CRITICAL if isinstance(payload, UnknownPayload) and payload.critical else 0
        )
        body = payload.body()
        chunks.append(
            struct.pack(">BBH", following, flags, GENERIC_HEADER_SIZE + len(body))
            + body
        )
    firstType = payloads[0].payloadType if payloads else PayloadType.NONE
    return firstType, b"".join(chunks)


_P = TypeVar("_P")


def find(payloads: Iterable[Payload], cls: type[_P]) -> _P | None:
    """The first payload of class C{cls}, or C{None}."""
    for payload in payloads:
        if isinstance(payload, cls):
            return payload
    return None


def find_all(payloads: Iterable[Payload], cls: type[_P]) -> list[_P]:
    """All payloads of class C{cls}, in message order."""
    return [payload for payload in payloads if isinstance(payload, cls)]


def notifies(payloads: Iterable[Payload]) -> list[NotifyPayload]:
    """All Notify payloads, in message order."""
    return find_all(payloads, NotifyPayload)


def find_notify(payloads: Iterable[Payload], notifyType: int) -> NotifyPayload | None:
    """The first Notify payload of type C{notifyType}, or C{None}."""
    for notify in notifies(payloads):
        if notify.notifyType == notifyType:
            return notify
    return None
