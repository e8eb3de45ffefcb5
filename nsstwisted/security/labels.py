"""
Certificate label mapping for SERVAUTH profile names.

RACF certificate labels may hold lower case letters, blanks and the generic
characters C{*}, C{%} and C{&}; SERVAUTH profile names may hold none of them.
The NSS server therefore maps a label before it builds the names
C{EZB.NSSCERT.sysname.mappedlabelname.HOST} and C{...CERTAUTH}.  Distinct labels
can map to one name (C{certificate_123} and C{CERTIFICATE_123}); the profile
then governs both certificates, which is what the administrator must expect.
"""

from __future__ import annotations

MAX_LABEL_LENGTH = 32

_TRANSLATION = str.maketrans({"*": "$", "%": "$", "&": "$", " ": "$"})


def map_label(label: str) -> str:
    """
    Map a certificate label to the form used inside SERVAUTH profile names.

    Only ASCII lower case letters are raised: RACF labels are EBCDIC text, and
    raising other letters would invent names no administrator could type.
    """
    raised = "".join(c.upper() if "a" <= c <= "z" else c for c in label)
    return raised.translate(_TRANSLATION)
