"""
PLACEHOLDER (replaced by the loader's branch): write a description as TOML.
"""

from __future__ import annotations

from nsstwisted.assistant.model import Description


def dump_description(description: Description) -> str:
    """
    The description as TOML text that L{parse_description} reads back to an
    equal description; deterministic, omitting values left at None.
    """
    raise NotImplementedError
