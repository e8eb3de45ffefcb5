"""
PLACEHOLDER (replaced by the loader's branch): read a description from TOML.
"""

from __future__ import annotations

from nsstwisted.assistant.model import Description


def parse_description(text: str, source: str) -> Description:
    """
    Parse a description's TOML text; raise L{DescriptionError} with every
    finding (syntax, unknown keys, wrong types, each with file, table, key).
    """
    raise NotImplementedError


def load_description(path: str) -> Description:
    """
    Read and parse the description file at C{path}.
    """
    raise NotImplementedError
