"""
Building blocks of binary message codecs: big-endian integers, type-length-
value fields and bounded values.

Both wire families (the NSS protocol and the NMI) are made of the same few
kinds of values, and both must refuse the same kinds of bad input without ever
letting an exception escape to the connection.  Each value codec here is
therefore a small object that does two things with one set of rules: it
I{encodes} a Python value, raising C{ValueError} when the value breaks a rule
(a programming error of the sender), and it I{decodes} bytes, raising
L{FieldValueError} when the bytes break the same rule (the peer's error,
which the caller turns into a reason code).  Keeping both directions on one
object is what stops the encoder from producing what the decoder refuses.

Nothing here knows a message type or a reason code; the protocol modules do.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

__all__ = [
    "BoundedBytes",
    "BoundedText",
    "EnumValue",
    "FieldDecodeError",
    "FieldOverrun",
    "FieldValueError",
    "FixedText",
    "FlagSet",
    "Reader",
    "Tlv",
    "TlvLayout",
    "UnsignedInt",
    "ValueCodec",
    "decode_uint",
    "encode_uint",
    "has_control_character",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.IntEnum)
F = TypeVar("F", bound=enum.IntFlag)

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class FieldDecodeError(Exception):
    """
    Received bytes break a rule of the format.

    A distinct base class, not C{ValueError}, so that a decoder can catch
    exactly the peer's mistakes and let its own bugs surface in tests.

    @ivar detail: a short English description for the peer and the log.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class FieldOverrun(FieldDecodeError):
    """
    A length points past the end of the bytes that contain it: the
    container's framing is wrong, not just one value.
    """


class FieldValueError(FieldDecodeError):
    """
    The bytes of a value are all there but mean nothing valid.
    """


def has_control_character(text: str) -> bool:
    """
    Whether C{text} holds a C0 or C1 control character.

    Text that operators will read in logs must not be able to fake log lines
    or move the terminal's cursor.  The rule is by code point range rather
    than by Unicode category so that every version of Python (and every
    other implementation) draws the line in the same place.
    """
    return _CONTROL.search(text) is not None


def encode_uint(value: int, size: int) -> bytes:
    """
    An unsigned big-endian integer of C{size} bytes.

    @raise ValueError: C{value} is not an C{int} or does not fit.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{value} does not fit in {size} unsigned bytes")
    return value.to_bytes(size, "big")


def decode_uint(raw: bytes, size: int) -> int:
    """
    The integer in exactly C{size} bytes.

    @raise FieldValueError: C{raw} is not C{size} bytes long; a field of the
        wrong length is a malformed value, never silently widened.
    """
    if len(raw) != size:
        raise FieldValueError(f"an integer of {size} bytes, not {len(raw)}")
    return int.from_bytes(raw, "big")


class Reader:
    """
    A cursor over received bytes that reads big-endian integers and byte
    strings in order, within a window of the buffer.

    The window lets a codec read a record inside a message without copying
    it, and makes reading past the record's end an error even when the
    buffer goes on.
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        offset: int = 0,
        end: int | None = None,
    ) -> None:
        self._data = memoryview(data)
        self._end = len(self._data) if end is None else end
        if not 0 <= offset <= self._end <= len(self._data):
            raise ValueError("the window lies outside the data")
        self.offset = offset

    @property
    def remaining(self) -> int:
        """How many bytes are left in the window."""
        return self._end - self.offset

    def at_end(self) -> bool:
        """Whether the window is used up."""
        return self.offset == self._end

    def take(self, count: int) -> bytes:
        """
        The next C{count} bytes.

        @raise FieldOverrun: fewer than C{count} bytes are left.
        """
        if count < 0 or count > self.remaining:
            raise FieldOverrun(
                f"{count} bytes needed at offset {self.offset}, {self.remaining} left"
            )
        start = self.offset
        self.offset += count
        return bytes(self._data[start : self.offset])

    def uint(self, size: int) -> int:
        """The next unsigned big-endian integer of C{size} bytes."""
        return int.from_bytes(self.take(size), "big")

    def u8(self) -> int:
        return self.uint(1)

    def u16(self) -> int:
        return self.uint(2)

    def u32(self) -> int:
        return self.uint(4)

    def u64(self) -> int:
        return self.uint(8)


_TYPE2_LENGTH4 = struct.Struct(">HI")


class Tlv(NamedTuple):
    """
    One field as received (a named tuple: one is made for every field of
    every frame a server receives).

    @ivar offset: where the field's own header starts, counted from the
        start of the buffer, so that error texts can point at it.
    """

    fieldType: int
    value: bytes
    offset: int


@dataclass(frozen=True)
class TlvLayout:
    """
    The shape of a type-length-value field: how wide the type and the length
    are.  The length counts the value only.

    A layout object rather than fixed functions because the two families
    need not agree on widths, and a codec should say its widths once.
    """

    typeSize: int = 2
    lengthSize: int = 4

    @property
    def headerSize(self) -> int:
        """The bytes in front of every value."""
        return self.typeSize + self.lengthSize

    def encode(self, fieldType: int, value: bytes) -> bytes:
        """
        One field.

        @raise ValueError: the type or the value's length does not fit.
        """
        if (
            self.typeSize == 2
            and self.lengthSize == 4
            and isinstance(fieldType, int)
            and not isinstance(fieldType, bool)
            and 0 <= fieldType <= 0xFFFF
            and len(value) <= 0xFFFFFFFF
        ):
            # The NSS family's widths, on every field of every frame sent:
            # one C call; anything out of range takes the checked path below.
            return _TYPE2_LENGTH4.pack(fieldType, len(value)) + value
        return (
            encode_uint(fieldType, self.typeSize)
            + encode_uint(len(value), self.lengthSize)
            + value
        )

    def iterate(
        self,
        data: bytes | bytearray | memoryview,
        offset: int = 0,
        end: int | None = None,
    ) -> Iterator[Tlv]:
        """
        The fields of C{data[offset:end]}, in order, until the window is
        exactly used up.

        A generator so that the caller can stop at the first bad field and
        report it before later fields are even looked at.

        @raise FieldOverrun: a field's header or value runs past C{end}.
        """
        # Plain slicing rather than a Reader: this loop runs for every field
        # of every message a server receives.
        view = memoryview(data)
        stop = len(view) if end is None else end
        if not 0 <= offset <= stop <= len(view):
            raise ValueError("the window lies outside the data")
        typeSize, headerSize = self.typeSize, self.headerSize
        position = offset
        while position < stop:
            if stop - position < headerSize:
                raise FieldOverrun(
                    f"a field header at offset {position} needs {headerSize} "
                    f"bytes, {stop - position} left"
                )
            fieldType = int.from_bytes(view[position : position + typeSize], "big")
            length = int.from_bytes(
                view[position + typeSize : position + headerSize], "big"
            )
            valueStart = position + headerSize
            if length > stop - valueStart:
                raise FieldOverrun(
                    f"field {fieldType} at offset {position} claims {length} bytes, "
                    f"{stop - valueStart} left"
                )
            value = bytes(view[valueStart : valueStart + length])
            yield Tlv(fieldType, value, position)
            position = valueStart + length


class ValueCodec(Protocol[T]):
    """
    The two directions of one kind of value, under one set of rules.
    """

    def encode(self, value: T) -> bytes:
        """@raise ValueError: C{value} breaks a rule."""

    def decode(self, raw: bytes) -> T:
        """@raise FieldValueError: C{raw} breaks a rule."""


@dataclass(frozen=True)
class UnsignedInt:
    """
    A big-endian unsigned integer of a fixed width, within bounds.
    """

    size: int
    minimum: int = 0
    maximum: int | None = None

    def _check(self, value: int) -> str | None:
        top = (1 << (8 * self.size)) - 1 if self.maximum is None else self.maximum
        if not self.minimum <= value <= top:
            return f"{value} is outside {self.minimum}..{top}"
        return None

    def encode(self, value: int) -> bytes:
        raw = encode_uint(value, self.size)
        problem = self._check(value)
        if problem:
            raise ValueError(problem)
        return raw

    def decode(self, raw: bytes) -> int:
        value = decode_uint(raw, self.size)
        problem = self._check(value)
        if problem:
            raise FieldValueError(problem)
        return value


@dataclass(frozen=True)
class EnumValue(Generic[E]):
    """
    An integer that must be a member of an enumeration: an unknown value is
    refused rather than passed on as a bare number nobody handles.
    """

    enumType: type[E]
    size: int

    def encode(self, value: E) -> bytes:
        if not isinstance(value, self.enumType):
            raise ValueError(f"{value!r} is not a {self.enumType.__name__}")
        return encode_uint(int(value), self.size)

    def decode(self, raw: bytes) -> E:
        number = decode_uint(raw, self.size)
        try:
            return self.enumType(number)
        except ValueError:
            raise FieldValueError(
                f"{number} is not a {self.enumType.__name__}"
            ) from None


@dataclass(frozen=True)
class FlagSet(Generic[F]):
    """
    A bit set whose every set bit must be a defined flag, so that a peer
    cannot ask for something this side does not know it was asked for.

    @ivar allowEmpty: whether no bits at all is a valid value.
    """

    flagType: type[F]
    size: int
    allowEmpty: bool = True

    def _known(self) -> int:
        known = 0
        for flag in self.flagType:
            known |= int(flag)
        return known

    def _check(self, number: int) -> str | None:
        unknown = number & ~self._known()
        if unknown:
            return f"bits {unknown:#x} are not {self.flagType.__name__} flags"
        if not number and not self.allowEmpty:
            return f"at least one {self.flagType.__name__} flag is needed"
        return None

    def encode(self, value: F) -> bytes:
        if not isinstance(value, self.flagType):
            raise ValueError(f"{value!r} is not a {self.flagType.__name__}")
        problem = self._check(int(value))
        if problem:
            raise ValueError(problem)
        return encode_uint(int(value), self.size)

    def decode(self, raw: bytes) -> F:
        number = decode_uint(raw, self.size)
        problem = self._check(number)
        if problem:
            raise FieldValueError(problem)
        return self.flagType(number)


@dataclass(frozen=True)
class BoundedBytes:
    """
    An opaque byte string of bounded length.

    @ivar check: further rules on the content (a DER shape, say); returns a
        description of what is wrong, or C{None}.
    """

    minLength: int = 0
    maxLength: int | None = None
    check: Callable[[bytes], str | None] | None = None

    def _problem(self, value: bytes) -> str | None:
        if len(value) < self.minLength:
            return f"{len(value)} bytes, at least {self.minLength} needed"
        if self.maxLength is not None and len(value) > self.maxLength:
            return f"{len(value)} bytes, at most {self.maxLength} allowed"
        return self.check(value) if self.check else None

    def encode(self, value: bytes) -> bytes:
        if not isinstance(value, bytes):
            raise ValueError(f"{type(value).__name__} is not bytes")
        problem = self._problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def decode(self, raw: bytes) -> bytes:
        problem = self._problem(raw)
        if problem:
            raise FieldValueError(problem)
        return raw


@dataclass(frozen=True)
class BoundedText:
    """
    Text of bounded length in a given encoding.

    Lengths in characters are what people reason about (a user ID of up to 8
    characters); lengths in bytes are what a receiver must bound.  Both can
    be given; for ASCII they are the same.

    @ivar pattern: if given, the whole text must match it.
    @ivar allowControl: whether control characters may appear; text meant
        for logs should refuse them.
    @ivar check: further rules, returning a description of what is wrong.
    """

    minLength: int = 1
    maxLength: int | None = None
    maxBytes: int | None = None
    encoding: str = "utf-8"
    pattern: re.Pattern[str] | None = None
    allowControl: bool = False
    check: Callable[[str], str | None] | None = None

    def _problem(self, value: str, size: int) -> str | None:
        if len(value) < self.minLength:
            return f"{len(value)} characters, at least {self.minLength} needed"
        if self.maxLength is not None and len(value) > self.maxLength:
            return f"{len(value)} characters, at most {self.maxLength} allowed"
        if self.maxBytes is not None and size > self.maxBytes:
            return f"{size} bytes, at most {self.maxBytes} allowed"
        if not self.allowControl and has_control_character(value):
            return "holds a control character"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"{value!r} holds a character not allowed here"
        return self.check(value) if self.check else None

    def encode(self, value: str) -> bytes:
        if not isinstance(value, str):
            raise ValueError(f"{type(value).__name__} is not str")
        raw = value.encode(self.encoding)
        problem = self._problem(value, len(raw))
        if problem:
            raise ValueError(problem)
        return raw

    def decode(self, raw: bytes) -> str:
        if self.maxBytes is not None and len(raw) > self.maxBytes:
            # Refuse before decoding, so a huge value costs nothing.
            raise FieldValueError(f"{len(raw)} bytes, at most {self.maxBytes} allowed")
        try:
            value = raw.decode(self.encoding)
        except UnicodeDecodeError:
            raise FieldValueError(f"not valid {self.encoding}") from None
        problem = self._problem(value, len(raw))
        if problem:
            raise FieldValueError(problem)
        return value


@dataclass(frozen=True)
class FixedText:
    """
    Text in a fixed number of bytes, padded on the right with blanks, as the
    IBM records lay out names (the NMI's client and stack names).

    Trailing blanks are padding, so a value cannot end in a blank; a value of
    only blanks is the empty string ("not given").  C{encoding} is a
    parameter because IBM's records are EBCDIC and ours need not be.
    """

    size: int
    encoding: str = "ascii"
    pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        if len(" ".encode(self.encoding)) != 1:
            raise ValueError("blank padding needs a single-byte encoding")

    def _problem(self, value: str) -> str | None:
        if value != value.rstrip(" "):
            return "ends in a blank, which padding would swallow"
        if has_control_character(value):
            return "holds a control character"
        if value and self.pattern is not None and not self.pattern.fullmatch(value):
            return f"{value!r} holds a character not allowed here"
        return None

    def encode(self, value: str) -> bytes:
        if not isinstance(value, str):
            raise ValueError(f"{type(value).__name__} is not str")
        raw = value.encode(self.encoding)
        if len(raw) > self.size:
            raise ValueError(f"{len(raw)} bytes do not fit in {self.size}")
        problem = self._problem(value)
        if problem:
            raise ValueError(problem)
        return raw + " ".encode(self.encoding) * (self.size - len(raw))

    def decode(self, raw: bytes) -> str:
        if len(raw) != self.size:
            raise FieldValueError(f"{len(raw)} bytes, not {self.size}")
        try:
            value = raw.decode(self.encoding).rstrip(" ")
        except UnicodeDecodeError:
            raise FieldValueError(f"not valid {self.encoding}") from None
        problem = self._problem(value)
        if problem:
            raise FieldValueError(problem)
        return value
