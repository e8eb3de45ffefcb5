"""
Write a description as TOML, in the layout the loader reads
(L{nsstwisted.assistant.layout}).

The text is deterministic: the same description gives the same bytes,
tables in the description's order and keys in the layout's, so that a
description saved by the web page or made by the importer differs from the
last one only where the installation does.  A value left at its default (or
unset) is not written, so the file shows what the operator chose and the
defaults stay the documented ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from nsstwisted.assistant.layout import (
    CERTIFICATE_KEYS,
    IMAGE_KEYS,
    IMAGE_ONLY_KEYS,
    INHERITED_KEYS,
    OPERATOR_KEYS,
    SERVER_KEYS,
    STACK_KEYS,
    Key,
    basic_string,
    defaults_table,
    image_table,
    server_table,
    stack_table,
)
from nsstwisted.assistant.model import (
    Certificate,
    Description,
    Image,
    NssServer,
    Operator,
    Stack,
    StackSettings,
)

__all__ = ["dump_description"]


def dump_description(description: Description) -> str:
    """
    The description as TOML text that L{parse_description} reads back to an
    equal description; deterministic, omitting values left at None or at
    their defaults.
    """
    blocks: list[list[str]] = []
    for server in description.servers:
        blocks.append(_table(server_table(server.name), server, SERVER_KEYS))
    for image in description.images:
        blocks.extend(_image(image))
    for certificate in description.certificates:
        blocks.append(_array_table("certificates", certificate, CERTIFICATE_KEYS))
    for operator in description.operators:
        blocks.append(_array_table("operators", operator, OPERATOR_KEYS))
    return "\n".join("\n".join(block) + "\n" for block in blocks)


def _image(image: Image) -> list[list[str]]:
    header = [f"[{image_table(image.name)}]"]
    # The system name first, then the NSS servers it uses: what an operator
    # looks for first in an image.
    header += _lines(image, IMAGE_KEYS[:1])
    header += _lines(image.defaults, IMAGE_ONLY_KEYS)
    header += _lines(image, IMAGE_KEYS[1:])
    blocks = [header]
    defaults = _lines(image.defaults, INHERITED_KEYS)
    if defaults:
        blocks.append([f"[{defaults_table(image.name)}]", *defaults])
    for stack in image.stacks:
        blocks.append(_stack(image, stack))
    return blocks


def _stack(image: Image, stack: Stack) -> list[str]:
    return [
        f"[{stack_table(image.name, stack.name)}]",
        *_lines(stack, STACK_KEYS),
        *_lines(stack.overrides, (*INHERITED_KEYS, *IMAGE_ONLY_KEYS)),
    ]


def _table(path: str, record: NssServer, keys: Iterable[Key]) -> list[str]:
    return [f"[{path}]", *_lines(record, keys)]


def _array_table(
    name: str, record: Certificate | Operator, keys: Iterable[Key]
) -> list[str]:
    return [f"[[{name}]]", *_lines(record, keys)]


def _lines(
    record: NssServer | Image | Stack | StackSettings | Certificate | Operator,
    keys: Iterable[Key],
) -> list[str]:
    """
    C{key = value} for each of C{keys} whose field is not at its default.
    """
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(record)
        if f.default is not dataclasses.MISSING
    }
    lines = []
    for key in keys:
        value = getattr(record, key.field)
        if key.field in defaults and value == defaults[key.field]:
            continue
        lines.append(f"{key.name} = {_value(value)}")
    return lines


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return basic_string(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(basic_string(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")
