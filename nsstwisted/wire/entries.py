"""
Checks shared by the fixed-size NMI entries (NMsecNSS, NMsecClient,
NMsecIPFilter): one place for the rules every record codec applies the
same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from nsstwisted.wire.fields import FieldValueError
from nsstwisted.wire.nmi import NmiRecord


def address_problem(text: str) -> str | None:
    """
    What is wrong with an address field's text (blank means n/a), or None.
    """
    if not text:
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"{text!r} is not an IPv4 or IPv6 address"
    return None


def check_unsigned(value: object, size: int, name: str) -> None:
    """
    Refuse what does not fit an unsigned field of C{size} bytes.

    @raise ValueError: naming the field.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} {value!r} is not an integer")
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{name} {value} does not fit in {size} unsigned bytes")


def single_entry(record: NmiRecord, size: int, what: str) -> bytes:
    """
    The one entry of C{size} bytes a record of these families holds.

    @raise FieldValueError: the record has another shape.
    """
    if len(record.sections) != 1:
        raise FieldValueError(f"{what} has 1 section, not {len(record.sections)}")
    section = record.sections[0]
    if section.entries != 1 or len(section.data) != size:
        raise FieldValueError(
            f"{what} holds 1 entry of {size} bytes, not {section.entries} "
            f"in {len(section.data)} bytes"
        )
    return section.data


def first_duplicate(names: Iterable[str]) -> str | None:
    """
    The first name that repeats an earlier one, ignoring case: stack and
    client names are case-insensitive wherever they are looked up.
    """
    seen: set[str] = set()
    for name in names:
        folded = name.upper()
        if folded in seen:
            return name
        seen.add(folded)
    return None
