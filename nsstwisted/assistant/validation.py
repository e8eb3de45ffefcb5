"""
PLACEHOLDER (replaced by the validation's branch): check a description.
"""

from __future__ import annotations

from nsstwisted.assistant.model import Description, Finding


def validate(description: Description) -> list[Finding]:
    """
    Every finding about a parsed description (cross references, limits,
    SERVAUTH name rules, label-mapping collisions); empty when it is usable.
    """
    raise NotImplementedError
