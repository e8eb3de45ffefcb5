"""
Certificate label mapping for SERVAUTH profile names.

RACF certificate labels may hold lower case letters, blanks, the generic
characters C{*}, C{%} and C{&}, and any other character of their code page;
SERVAUTH profile names may hold none of them.  The NSS server therefore maps a
label before it builds the names C{EZB.NSSCERT.sysname.mappedlabelname.HOST}
and C{...CERTAUTH}:

  - ASCII lower case letters are raised (L{upper_ascii}, the rule every
    profile and resource name follows);
  - the other characters a profile name may hold stay as they are;
  - everything else becomes C{$}: blank, C{*}, C{%}, C{&}, the characters
    that end a name in a RACF command (C{(}, C{)}, C{,}, C{'}), and every
    character outside ASCII, letters included (C{Straße} maps to C{STRA$E},
    never to C{STRASSE}).

Distinct labels can so map to one name (C{certificate_123} and
C{CERTIFICATE_123}; C{Straße} and C{Stra$e}); one profile would then govern
both certificates, whoever owns them.  That is why RACDCERT refuses a label
whose mapped name another certificate's label already has (L{colliding_labels}
finds them), and why the NSS server uses neither certificate of such a pair
that an older database may still hold.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from nsstwisted.security.generic import NAME_CHARACTERS, upper_ascii

MAX_LABEL_LENGTH = 32

# What stands for a character a profile name cannot hold, as IBM's NSS
# server does for blanks and the generic characters.
SUBSTITUTE = "$"

_MAPPED = {c: upper_ascii(c) for c in NAME_CHARACTERS - frozenset("*%&")}


@functools.lru_cache(maxsize=4096)
def map_label(label: str) -> str:
    """
    Map a certificate label to the form used inside SERVAUTH profile names.

    The result holds only characters of a discrete profile name, so the
    authorization check, whatever case rule it applied, could not change it.
    Every SIGN maps its label; a ring holds few labels, so the mapping is
    kept (a pure function of the label).
    """
    return "".join(_MAPPED.get(c, SUBSTITUTE) for c in label)


def colliding_labels(labels: Iterable[str]) -> Mapping[str, tuple[str, ...]]:
    """
    The mapped names that more than one of C{labels} maps to, each with its
    labels in order.
    """
    byName: dict[str, list[str]] = {}
    for label in labels:
        byName.setdefault(map_label(label), []).append(label)
    return {
        name: tuple(sorted(group)) for name, group in byName.items() if len(group) > 1
    }
