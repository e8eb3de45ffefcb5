"""
RACF generic profile names of general resources: validation, matching and
precedence.

A resource is protected by the discrete profile of the same name if there is
one; otherwise by the most specific generic profile that matches it.  The
generic characters follow "Profile names for general resources" in IBM's
z/OS Security Server RACF Command Language Reference (SA23-2292), which for
general resources differs from the data-set rules of enhanced generic naming
at the end of a name:

  - C{%} matches exactly one character other than a period;
  - C{*} as a whole qualifier at the start or in the middle (C{*.B},
    C{A.*.B}) matches exactly one qualifier;
  - C{*} as the last qualifier (C{A.B.*}) matches I{one or more} qualifiers
    to the end of the resource name;
  - C{*} ending a qualifier in the middle (C{A.B*.C}) matches the rest of
    that qualifier, possibly nothing;
  - C{*} ending the name as a character (C{A.B*}, and C{*} alone) matches
    zero or more characters to the end of the resource name, I{qualifiers
    included}: C{A.B*} covers C{A.B}, C{A.BC} and C{A.BC.D.E};
  - C{**} as a whole qualifier matches any number of qualifiers, none
    included, so that C{EZB.NSS.**} protects C{EZB.NSS} as well.

"Most specific" is decided the way RACF orders its in-storage profiles, as
the table "Sample general resource profile names in order from most specific
to least specific" of the Security Administrator's Guide (SA23-2289,
"Generic profile checking of general resources") shows it: the names are
compared token by token from the left, and at the first difference a literal
character (the period included) beats C{%}, which beats C{*}, which beats
C{**}, and any of them beats the end of the name.  So C{COPY.PAPER.*} comes
before C{COPY.PAPER*}, which comes before C{COPY.PAP*}.  Two profiles that
differ first in two literal characters can only both match after a C{**}
absorbed different numbers of qualifiers; RACF documents no order for that
case, and the tie is broken by character order, so the choice is always
deterministic.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field

from nsstwisted.security.errors import InvalidValueError

MAX_PROFILE_NAME_LENGTH = 246

_DOUBLE = "**"

# What a profile name may hold: printable ASCII but blank, quote, comma and
# parentheses, which end a name in a RACF command.  RACF names are EBCDIC;
# keeping them to ASCII keeps every name typeable and every comparison exact.
NAME_CHARACTERS = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset("(),'")

_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

# Ranks of the tokens for precedence; a higher rank is more specific.
_RANK_END = -1
_RANK_DOUBLE = 0
_RANK_STAR = 1
_RANK_PERCENT = 2
_RANK_LITERAL = 3


def is_generic(name: str) -> bool:
    """
    Whether a profile name is generic: it holds C{*} or C{%}.
    """
    return "*" in name or "%" in name


def upper_ascii(name: str) -> str:
    """
    Raise the ASCII letters of a profile, resource or user name, and only
    those: the one case rule for every name that is compared.

    Python's own C{upper} would make new names of other letters (C{ß} becomes
    C{SS}, the ligature C{ﬁ} becomes C{FI}, the dotless i, U+0131, becomes
    C{I}), so a resource nobody defined a profile for could be raised onto a
    profile that permits somebody else.
    """
    return name.translate(_ASCII_UPPER)


def normalize_profile_name(name: str) -> str:
    """
    Return the upper-case profile name, or raise L{InvalidValueError} if RACF
    would not accept it as a general resource profile name.

    Generic characters are checked here, at definition time, so that a
    matching rule never meets a name it cannot interpret.  Characters outside
    ASCII are refused: no resource name the NSS server builds holds one (a
    certificate label's are mapped to C{$}), so such a profile could protect
    nothing, or would have to be raised onto an ASCII name it does not show.
    """
    upper = upper_ascii(name)
    if not upper:
        raise InvalidValueError("a profile name must not be empty")
    if len(upper) > MAX_PROFILE_NAME_LENGTH:
        raise InvalidValueError(
            f"profile name is longer than {MAX_PROFILE_NAME_LENGTH} characters"
        )
    if any(c not in NAME_CHARACTERS for c in upper):
        raise InvalidValueError(
            f"profile name {upper!r} holds a blank, quote, comma, parenthesis, "
            "control character or a character outside ASCII"
        )
    qualifiers = upper.split(".")
    if qualifiers.count(_DOUBLE) > 1:
        raise InvalidValueError(f"profile name {upper!r} holds ** more than once")
    for qualifier in qualifiers:
        if qualifier == _DOUBLE:
            continue
        if "**" in qualifier:
            raise InvalidValueError(
                f"profile name {upper!r}: ** must be a whole qualifier"
            )
        if "*" in qualifier[:-1]:
            raise InvalidValueError(
                f"profile name {upper!r}: * may stand only at the end of a qualifier"
            )
    return upper


def _characters(text: str) -> str:
    # A qualifier's fixed part: % is one character of the qualifier,
    # everything else stands for itself.
    return "".join("[^.]" if c == "%" else re.escape(c) for c in text)


def _name_pattern(name: str) -> re.Pattern[str]:
    """
    The regular expression of a valid generic profile name, matched against
    the whole resource name.

    Each qualifier contributes its text preceded by the period that
    separates it from the one before, except after a leading C{**}, which
    brings its own periods.
    """
    if name in ("*", _DOUBLE):
        # The whole name: every resource of the class.
        return re.compile(".*", re.DOTALL)
    qualifiers = name.split(".")
    last = len(qualifiers) - 1
    pieces: list[str] = []
    separator = ""
    for index, qualifier in enumerate(qualifiers):
        if qualifier == _DOUBLE:
            # Zero or more qualifiers; at the start, each with the period
            # that ends it, elsewhere each with the period before it.
            pieces.append(r"(?:[^.]*\.)*" if index == 0 else r"(?:\.[^.]*)*")
            separator = "" if index == 0 else r"\."
            continue
        if qualifier == "*":
            body = r"[^.]+(?:\.[^.]+)*" if index == last else "[^.]+"
        elif qualifier.endswith("*"):
            rest = ".*" if index == last else "[^.]*"
            body = _characters(qualifier[:-1]) + rest
        else:
            body = _characters(qualifier)
        pieces.append(separator + body)
        separator = r"\."
    return re.compile("".join(pieces), re.DOTALL)


def _tokens(name: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(name):
        if name.startswith(_DOUBLE, position):
            tokens.append(_DOUBLE)
            position += 2
        else:
            tokens.append(name[position])
            position += 1
    return tokens


def specificity(name: str) -> tuple[tuple[int, str], ...]:
    """
    A sort key for precedence: of two profiles that match one resource, the
    one with the larger key is more specific and decides.
    """
    key: list[tuple[int, str]] = []
    ranks = {_DOUBLE: _RANK_DOUBLE, "*": _RANK_STAR, "%": _RANK_PERCENT}
    for token in _tokens(name):
        rank = ranks.get(token)
        key.append((_RANK_LITERAL, token) if rank is None else (rank, ""))
    key.append((_RANK_END, ""))
    return tuple(key)


@dataclass(frozen=True)
class GenericPattern:
    """
    A generic profile name compiled for repeated matching.

    Compilation happens once, when the in-memory snapshot is built, so that an
    authorization check costs only the matching itself.
    """

    name: str
    _pattern: re.Pattern[str] = field(repr=False)
    _literalPrefix: str = field(repr=False)

    @classmethod
    def compile(cls, name: str) -> GenericPattern:
        first = min((i for i, c in enumerate(name) if c in "*%"), default=len(name))
        prefix = name[:first]
        # "A.**" also matches "A", so the period before ** is not required.
        if name.startswith(_DOUBLE, first) and prefix.endswith("."):
            prefix = prefix[:-1]
        return cls(name, _name_pattern(name), prefix)

    def matches(self, resource: str) -> bool:
        """
        Whether this profile covers C{resource} (already upper case).

        The literal prefix is tested first: most generics of a large class
        fail there, at the cost of one C{startswith}.
        """
        if not resource.startswith(self._literalPrefix):
            return False
        return self._pattern.fullmatch(resource) is not None


def matches(profile: str, resource: str) -> bool:
    """
    Whether profile name C{profile} covers resource name C{resource}.
    """
    if not is_generic(profile):
        return profile == resource
    return GenericPattern.compile(profile).matches(resource)


def order_generics(names: Iterable[str]) -> list[GenericPattern]:
    """
    Compile generic profile names, most specific first, so that the first one
    that matches a resource is the one that decides.
    """
    return [
        GenericPattern.compile(name)
        for name in sorted(names, key=specificity, reverse=True)
    ]


def best_match(profiles: Iterable[str], resource: str) -> str | None:
    """
    The profile that protects C{resource}: the discrete profile of that name,
    else the most specific matching generic profile, else C{None}.
    """
    names = list(profiles)
    if resource in names:
        return resource
    generic = [name for name in names if is_generic(name)]
    for pattern in order_generics(generic):
        if pattern.matches(resource):
            return pattern.name
    return None
