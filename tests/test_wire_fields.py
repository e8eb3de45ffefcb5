"""
Tests for L{nsstwisted.wire.fields}.

Every value codec is checked in both directions against the same rules: what
C{encode} refuses with C{ValueError}, C{decode} refuses with
L{FieldValueError}, so no codec built on these can send what it would refuse.
"""

from __future__ import annotations

import enum
import re

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.fields import (
    BoundedBytes,
    BoundedText,
    EnumValue,
    FieldOverrun,
    FieldValueError,
    FixedText,
    FlagSet,
    Reader,
    Tlv,
    TlvLayout,
    UnsignedInt,
    decode_uint,
    encode_uint,
    has_control_character,
)


class Colour(enum.IntEnum):
    RED = 1
    GREEN = 2


class Right(enum.IntFlag):
    READ = 1
    WRITE = 4


class IntegerTests(SynchronousTestCase):
    def test_encodeBigEndian(self) -> None:
        self.assertEqual(encode_uint(0x0102, 2), b"\x01\x02")
        self.assertEqual(encode_uint(0, 4), b"\0\0\0\0")
        self.assertEqual(encode_uint(2**32 - 1, 4), b"\xff" * 4)

    def test_encodeOutOfRange(self) -> None:
        self.assertRaises(ValueError, encode_uint, 2**16, 2)
        self.assertRaises(ValueError, encode_uint, -1, 2)

    def test_encodeNotAnInteger(self) -> None:
        """
        A bool is an C{int} to Python but never a wire integer.
        """
        self.assertRaises(ValueError, encode_uint, True, 1)
        self.assertRaises(ValueError, encode_uint, "1", 1)

    def test_decodeNeedsExactLength(self) -> None:
        self.assertEqual(decode_uint(b"\x01\x02", 2), 0x0102)
        self.assertRaises(FieldValueError, decode_uint, b"\x01", 2)
        self.assertRaises(FieldValueError, decode_uint, b"\x01\x02\x03", 2)

    @given(
        st.integers(1, 8).flatmap(
            lambda n: st.tuples(st.just(n), st.integers(0, 2 ** (8 * n) - 1))
        )
    )
    def test_roundTrip(self, case: tuple[int, int]) -> None:
        size, value = case
        self.assertEqual(decode_uint(encode_uint(value, size), size), value)


class ReaderTests(SynchronousTestCase):
    def test_readsInOrder(self) -> None:
        reader = Reader(bytes(range(1, 16)))
        self.assertEqual(reader.u8(), 0x01)
        self.assertEqual(reader.u16(), 0x0203)
        self.assertEqual(reader.u32(), 0x04050607)
        self.assertEqual(reader.u64(), 0x08090A0B0C0D0E0F)
        self.assertTrue(reader.at_end())

    def test_window(self) -> None:
        """
        Reading stops at the window's end even when the data goes on.
        """
        reader = Reader(b"abcdef", 1, 3)
        self.assertEqual(reader.remaining, 2)
        self.assertEqual(reader.take(2), b"bc")
        self.assertRaises(FieldOverrun, reader.take, 1)

    def test_overrunLeavesOffset(self) -> None:
        reader = Reader(b"ab")
        self.assertRaises(FieldOverrun, reader.u32)
        self.assertEqual(reader.offset, 0)

    def test_badWindow(self) -> None:
        self.assertRaises(ValueError, Reader, b"ab", 3)
        self.assertRaises(ValueError, Reader, b"ab", 0, 3)


class TlvTests(SynchronousTestCase):
    layout = TlvLayout(2, 4)

    def test_encode(self) -> None:
        self.assertEqual(self.layout.encode(7, b"xy"), b"\0\x07\0\0\0\x02xy")

    def test_iterate(self) -> None:
        data = b"HEAD" + self.layout.encode(1, b"a") + self.layout.encode(2, b"")
        self.assertEqual(
            list(self.layout.iterate(data, 4)),
            [Tlv(1, b"a", 4), Tlv(2, b"", 11)],
        )

    def test_otherWidths(self) -> None:
        layout = TlvLayout(1, 2)
        self.assertEqual(layout.headerSize, 3)
        self.assertEqual(
            list(layout.iterate(layout.encode(9, b"z"))), [Tlv(9, b"z", 0)]
        )

    def test_truncatedHeader(self) -> None:
        data = self.layout.encode(1, b"a") + b"\0\x02\0"
        fields = self.layout.iterate(data)
        self.assertEqual(next(fields), Tlv(1, b"a", 0))
        self.assertRaises(FieldOverrun, next, fields)

    def test_valueOverrun(self) -> None:
        data = self.layout.encode(1, b"abc")[:-1]
        self.assertRaises(FieldOverrun, list, self.layout.iterate(data))

    def test_windowEnd(self) -> None:
        """
        A field may not reach past the window even into bytes that exist.
        """
        data = self.layout.encode(1, b"abc")
        self.assertRaises(
            FieldOverrun, list, self.layout.iterate(data, 0, len(data) - 1)
        )

    def test_typeTooWide(self) -> None:
        self.assertRaises(ValueError, TlvLayout(1, 1).encode, 256, b"")
        self.assertRaises(ValueError, TlvLayout(1, 1).encode, 1, b"x" * 256)

    @given(
        st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=20)), max_size=5)
    )
    def test_roundTrip(self, fields: list[tuple[int, bytes]]) -> None:
        data = b"".join(self.layout.encode(t, v) for t, v in fields)
        self.assertEqual(
            [(f.fieldType, f.value) for f in self.layout.iterate(data)], fields
        )

    @given(st.binary(max_size=40))
    def test_arbitraryBytes(self, data: bytes) -> None:
        """
        Any bytes give fields or a L{FieldOverrun}, nothing else.
        """
        try:
            for tlv in self.layout.iterate(data):
                self.assertLessEqual(tlv.offset + 6 + len(tlv.value), len(data))
        except FieldOverrun:
            pass


class UnsignedIntTests(SynchronousTestCase):
    codec = UnsignedInt(2, minimum=1, maximum=1000)

    def test_roundTrip(self) -> None:
        self.assertEqual(self.codec.decode(self.codec.encode(1000)), 1000)

    def test_bounds(self) -> None:
        self.assertRaises(ValueError, self.codec.encode, 0)
        self.assertRaises(ValueError, self.codec.encode, 1001)
        self.assertRaises(FieldValueError, self.codec.decode, b"\0\0")
        self.assertRaises(FieldValueError, self.codec.decode, encode_uint(1001, 2))

    def test_wrongLength(self) -> None:
        self.assertRaises(FieldValueError, self.codec.decode, b"\0\0\x01")

    def test_fullRange(self) -> None:
        codec = UnsignedInt(4)
        self.assertEqual(codec.decode(b"\xff" * 4), 2**32 - 1)


class EnumValueTests(SynchronousTestCase):
    codec = EnumValue(Colour, 2)

    def test_roundTrip(self) -> None:
        for colour in Colour:
            self.assertIs(self.codec.decode(self.codec.encode(colour)), colour)

    def test_unknownValue(self) -> None:
        self.assertRaises(FieldValueError, self.codec.decode, b"\0\x03")

    def test_notAMember(self) -> None:
        self.assertRaises(ValueError, self.codec.encode, 1)


class FlagSetTests(SynchronousTestCase):
    codec = FlagSet(Right, 4, allowEmpty=False)

    def test_roundTrip(self) -> None:
        value = Right.READ | Right.WRITE
        self.assertEqual(self.codec.encode(value), b"\0\0\0\x05")
        self.assertEqual(self.codec.decode(b"\0\0\0\x05"), value)

    def test_unknownBits(self) -> None:
        self.assertRaises(FieldValueError, self.codec.decode, b"\0\0\0\x02")
        self.assertRaises(ValueError, self.codec.encode, Right(2))

    def test_empty(self) -> None:
        self.assertRaises(FieldValueError, self.codec.decode, b"\0\0\0\0")
        self.assertRaises(ValueError, self.codec.encode, Right(0))
        self.assertEqual(FlagSet(Right, 1).decode(b"\0"), Right(0))


class BoundedBytesTests(SynchronousTestCase):
    codec = BoundedBytes(1, 3, lambda b: "no zeros" if b"\0" in b else None)

    def test_bounds(self) -> None:
        self.assertEqual(self.codec.decode(b"abc"), b"abc")
        for bad in (b"", b"abcd", b"a\0"):
            self.assertRaises(FieldValueError, self.codec.decode, bad)
            self.assertRaises(ValueError, self.codec.encode, bad)

    def test_notBytes(self) -> None:
        self.assertRaises(ValueError, self.codec.encode, bytearray(b"a"))


class BoundedTextTests(SynchronousTestCase):
    def test_characterAndByteLimits(self) -> None:
        codec = BoundedText(minLength=1, maxLength=3, maxBytes=4)
        self.assertEqual(codec.decode("é".encode()), "é")
        self.assertEqual(codec.encode("abc"), b"abc")
        self.assertRaises(ValueError, codec.encode, "abcd")
        self.assertRaises(ValueError, codec.encode, "ééé")
        self.assertRaises(ValueError, codec.encode, "")
        self.assertRaises(FieldValueError, codec.decode, "ééé".encode())
        self.assertRaises(FieldValueError, codec.decode, b"")

    def test_invalidEncoding(self) -> None:
        self.assertRaises(FieldValueError, BoundedText().decode, b"\xff")
        self.assertRaises(
            FieldValueError, BoundedText(encoding="ascii").decode, b"\xc3\xa9"
        )
        self.assertRaises(ValueError, BoundedText(encoding="ascii").encode, "é")

    def test_loneSurrogate(self) -> None:
        self.assertRaises(ValueError, BoundedText().encode, "\ud800")

    def test_controlCharacters(self) -> None:
        for text in ("a\nb", "\x00", "\x7f", "\x85"):
            self.assertRaises(ValueError, BoundedText().encode, text)
            self.assertRaises(FieldValueError, BoundedText().decode, text.encode())
        self.assertEqual(BoundedText(allowControl=True).decode(b"a\nb"), "a\nb")

    def test_pattern(self) -> None:
        codec = BoundedText(pattern=re.compile("[A-Z]+"))
        self.assertEqual(codec.decode(b"ABC"), "ABC")
        self.assertRaises(FieldValueError, codec.decode, b"ABc")
        self.assertRaises(ValueError, codec.encode, "A B")

    def test_check(self) -> None:
        codec = BoundedText(check=lambda t: None if t.startswith("x") else "no x")
        self.assertEqual(codec.decode(b"xy"), "xy")
        self.assertRaises(FieldValueError, codec.decode, b"yx")

    def test_notText(self) -> None:
        self.assertRaises(ValueError, BoundedText().encode, b"abc")

    @given(st.text(max_size=30))
    def test_directionsAgree(self, text: str) -> None:
        """
        Whatever C{encode} accepts, C{decode} gives back; whatever it
        refuses, C{decode} refuses too.
        """
        codec = BoundedText(minLength=0, maxLength=20, maxBytes=40)
        try:
            raw = codec.encode(text)
        except ValueError:
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError:
                return
            self.assertRaises(FieldValueError, codec.decode, raw)
        else:
            self.assertEqual(codec.decode(raw), text)


class FixedTextTests(SynchronousTestCase):
    codec = FixedText(8)

    def test_padding(self) -> None:
        self.assertEqual(self.codec.encode("TCPIP"), b"TCPIP   ")
        self.assertEqual(self.codec.decode(b"TCPIP   "), "TCPIP")
        self.assertEqual(self.codec.decode(b" " * 8), "")

    def test_limits(self) -> None:
        self.assertRaises(ValueError, self.codec.encode, "TOOLONGNAME")
        self.assertRaises(ValueError, self.codec.encode, "TRAIL ")
        self.assertRaises(FieldValueError, self.codec.decode, b"SHORT")
        self.assertRaises(FieldValueError, self.codec.decode, b"TAB\t    ")

    def test_ebcdic(self) -> None:
        codec = FixedText(4, encoding="cp037")
        self.assertEqual(codec.encode("AB"), b"\xc1\xc2\x40\x40")
        self.assertEqual(codec.decode(b"\xc1\xc2\x40\x40"), "AB")

    def test_pattern(self) -> None:
        codec = FixedText(4, pattern=re.compile("[A-Z]+"))
        self.assertRaises(FieldValueError, codec.decode, b"ab  ")
        self.assertEqual(codec.decode(b"    "), "")

    def test_multibytePadRefused(self) -> None:
        self.assertRaises(ValueError, FixedText, 4, "utf-16")


class ControlCharacterTests(SynchronousTestCase):
    def test_ranges(self) -> None:
        self.assertTrue(has_control_character("\x1f"))
        self.assertTrue(has_control_character("\x9f"))
        self.assertFalse(has_control_character(" ~\xa0é€"))
