"""
When two distinguished names are the same name.

NSS names certificates by distinguished name in two places: a client checks
that nssd's certificate has the subject it expects (C{Identity X500dn}), and
a SIGN request may name its certificate by the subject (C{IDENTITY} kind
C{DN}).  Both compare names as RFC 5280 section 7.1 does, so that an operator
who writes C{cn=NSS Server, o=Example} means the certificate whose subject
is C{CN=NSS Server,O=Example}, however its values are encoded; one function
here serves both, so that the two can never disagree.
"""

from __future__ import annotations

import unicodedata

from cryptography import x509

__all__ = ["names_match", "parse_name"]


def parse_name(text: str) -> x509.Name:
    """
    The name an RFC 4514 string writes (most specific RDN first, as
    C{CN=host,O=Example}).

    Written as people write names: attribute types in any case (RFC 4512
    compares them so; C{cryptography}'s parser knows only C{CN}, not
    C{cn}), and blanks around C{,} C{+} and C{=} allowed, as RFC 1779 did
    and as RFC 4518's preparation would drop from the values anyway.

    @raise ValueError: C{text} is no RFC 4514 distinguished name.
    """
    return x509.Name.from_rfc4514_string(_tidy(text))


def _tidy(text: str) -> str:
    """
    C{text} with its attribute types in upper case and without the blanks
    around separators.  An escaped character (a backslash and what it
    escapes) is kept as it is, and an C{=} inside a value is part of the
    value.
    """
    attributes: list[tuple[str, str, str]] = []  # (type, value, separator)
    piece: list[str] = []
    attributeType: str | None = None
    escaped = False
    for character in text:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == "=" and attributeType is None:
            attributeType, piece = "".join(piece), []
            continue
        elif character in ",+" and attributeType is not None:
            attributes.append((attributeType, "".join(piece), character))
            attributeType, piece = None, []
            continue
        piece.append(character)
    if attributeType is None:
        # No "=" where a type ends: leave the complaint to the parser.
        return text
    attributes.append((attributeType, "".join(piece), ""))
    return "".join(
        f"{_attribute_type(kind)}={_unpadded(value)}{separator}"
        for kind, value, separator in attributes
    )


def _attribute_type(text: str) -> str:
    kind = text.strip(" ")
    return kind.upper() if kind[:1].isalpha() else kind


def _unpadded(value: str) -> str:
    value = value.lstrip(" ")
    while value.endswith(" ") and not _ends_escaping(value[:-1]):
        value = value[:-1]
    return value


def _ends_escaping(text: str) -> bool:
    """Whether C{text} ends in a backslash that escapes what follows."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def names_match(one: x509.Name, other: x509.Name) -> bool:
    """
    RFC 5280 section 7.1: two names match when they hold the same number of
    relative distinguished names, in the same order, and each pair holds the
    same attribute types with matching values.  String values match after
    RFC 4518's preparation, so C{CN=NSS Server} matches C{cn=nss  server}
    whatever string type either was encoded with.
    """
    ones, others = one.rdns, other.rdns
    if len(ones) != len(others):
        return False
    return all(_rdn_key(a) == _rdn_key(b) for a, b in zip(ones, others, strict=True))


def _rdn_key(rdn: x509.RelativeDistinguishedName) -> frozenset[tuple[str, object]]:
    return frozenset(
        (attribute.oid.dotted_string, _prepared(attribute.value)) for attribute in rdn
    )


def _prepared(value: str | bytes) -> object:
    """
    RFC 4518's string preparation for caseIgnoreMatch, in the parts that
    matter for names people type: compatibility normalisation, case folding,
    and blanks (leading, trailing and repeated) that do not count.
    """
    if isinstance(value, bytes):
        return value
    text = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(text.split())
