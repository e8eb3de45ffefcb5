"""
Read a description from its TOML file into the model.

The loader checks what the file itself can get wrong: its TOML syntax,
keys that no table takes, keys in the wrong table, values of the wrong type
and values outside their choices, with every finding at once; then the
values the model can hold wrongly from any source (numbers out of range,
malformed names), which L{nsstwisted.assistant.values} checks for the
loader and for the other sources alike.  The cross references between
tables (a server a stack names, two stacks with one client name) are left
to L{nsstwisted.assistant.validation.validate}, so that the web page can
hold a draft that is still inconsistent.

The layout the file follows is in L{nsstwisted.assistant.layout} and
documented in docs/assistant.md.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nsstwisted.assistant.layout import (
    CERTIFICATE_KEYS,
    IMAGE_KEYS,
    IMAGE_ONLY_KEYS,
    IMAGE_TABLES,
    INHERITED_KEYS,
    OPERATOR_KEYS,
    SERVER_KEYS,
    STACK_KEYS,
    TOP_LEVEL,
    Key,
    Kind,
    certificate_table,
    defaults_table,
    image_table,
    key_text,
    operator_table,
    server_table,
    stack_table,
)
from nsstwisted.assistant.model import (
    Certificate,
    Description,
    DescriptionError,
    Finding,
    Image,
    NssServer,
    Operator,
    Stack,
    StackSettings,
)
from nsstwisted.assistant.values import value_findings
from nsstwisted.config.values import nearest_keyword

__all__ = ["load_description", "parse_description"]

_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_description(path: str) -> Description:
    """
    Read and parse the description file at C{path}.

    @raise DescriptionError: the file cannot be read (NSA0001E), or
        L{parse_description} finds it wrong.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise DescriptionError(
            [Finding(path, "", "", f"cannot be read: {reason}", "NSA0001E")]
        ) from None
    return parse_description(text, path)


def parse_description(text: str, source: str) -> Description:
    """
    Parse a description's TOML text; raise L{DescriptionError} with every
    finding (syntax, unknown keys, wrong types, values out of range, each
    with file, table and key).  C{source} names the file in findings and
    becomes the description's C{source}.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DescriptionError([_syntax_finding(source, e)]) from None
    reader = _Reader(source)
    description = reader.description(document)
    findings = reader.findings
    if description is not None:
        findings += value_findings(description)
    if findings:
        raise DescriptionError(findings)
    assert description is not None
    return description


def _syntax_finding(source: str, error: tomllib.TOMLDecodeError) -> Finding:
    message = str(error)
    found = _AT_LINE.search(message)
    if found is not None:
        message = (
            f"line {found[1]}, column {found[2]}: the TOML syntax is wrong:"
            f" {message[: found.start()].rstrip()}"
        )
    else:
        message = f"the TOML syntax is wrong: {message}"
    return Finding(source, "", "", message, "NSA0002E")


@dataclass
class _Reader:
    """
    Turns the parsed TOML document into the model, collecting findings
    rather than stopping at the first.  A table with a finding still
    yields a model object where it can (with the field's default in place
    of the wrong value), so that the findings of the tables after it are
    found too; the description is then thrown away.
    """

    source: str
    findings: list[Finding] = field(default_factory=list)

    def finding(self, table: str, key: str, message: str, messageId: str) -> None:
        self.findings.append(Finding(self.source, table, key, message, messageId))

    def description(self, document: Mapping[str, Any]) -> Description | None:
        self.unknown_keys("", document, TOP_LEVEL)
        servers = [
            self.server(name, table)
            for name, table in self.named_tables(document, "servers")
        ]
        images = [
            self.image(name, table)
            for name, table in self.named_tables(document, "images")
        ]
        certificates = [
            self.record(table, certificate_table(i), CERTIFICATE_KEYS, Certificate)
            for i, table in enumerate(self.array_of_tables(document, "certificates"))
        ]
        operators = [
            self.record(table, operator_table(i), OPERATOR_KEYS, Operator)
            for i, table in enumerate(self.array_of_tables(document, "operators"))
        ]
        if self.findings:
            return None
        return Description(
            servers=tuple(s for s in servers if s is not None),
            images=tuple(i for i in images if i is not None),
            certificates=tuple(c for c in certificates if c is not None),
            operators=tuple(o for o in operators if o is not None),
            source=self.source,
        )

    # --- the shapes of tables --------------------------------------------

    def named_tables(
        self, parent: Mapping[str, Any], key: str, path: str = ""
    ) -> list[tuple[str, Mapping[str, Any]]]:
        """
        The tables under C{parent[key]}, by name, in file order: C{[servers.NSS1]}.
        """
        value = parent.get(key, {})
        where = f"{path}.{key}" if path else key
        if not isinstance(value, dict):
            self.finding(
                path,
                key,
                f"must be a table of tables: write [{where}.NAME] for each",
                "NSA0004E",
            )
            return []
        tables: list[tuple[str, Mapping[str, Any]]] = []
        for name, table in value.items():
            if not isinstance(table, dict):
                self.finding(
                    where,
                    key_text(name),
                    f"must be a table: write [{where}.{key_text(name)}]",
                    "NSA0004E",
                )
                continue
            tables.append((name, table))
        return tables

    def array_of_tables(
        self, document: Mapping[str, Any], key: str
    ) -> list[Mapping[str, Any]]:
        """
        The tables of C{[[key]]}, in file order.
        """
        value = document.get(key, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.finding(
                "",
                key,
                f"must be an array of tables: write [[{key}]] before each",
                "NSA0004E",
            )
            return []
        return value

    def unknown_keys(
        self,
        path: str,
        table: Mapping[str, Any],
        known: Iterable[str],
        elsewhere: Mapping[str, str] | None = None,
    ) -> None:
        """
        A finding for each key of C{table} that is not C{known}: where the
        key belongs in another table (C{elsewhere}), the finding says which
        (NSA0007E); otherwise it suggests the nearest known key (NSA0003E).
        """
        known = tuple(known)
        for key in table:
            if key in known:
                continue
            if elsewhere is not None and key in elsewhere:
                self.finding(
                    path,
                    key_text(key),
                    f"does not belong in this table: write it in [{elsewhere[key]}]",
                    "NSA0007E",
                )
                continue
            message = "is not a key of this table"
            nearest = _nearest_key(key, known)
            if nearest is not None:
                message += f"; did you mean {nearest}?"
            else:
                message += f"; it takes {', '.join(known)}"
            self.finding(path, key_text(key), message, "NSA0003E")

    def values(
        self, path: str, table: Mapping[str, Any], keys: Iterable[Key]
    ) -> dict[str, Any]:
        """
        The model's fields from C{keys} of C{table}, checked for type and
        choices; a key that is absent or wrong is left out, so that the
        model's default takes its place.
        """
        fields: dict[str, Any] = {}
        for key in keys:
            if key.name not in table:
                if key.required:
                    self.finding(path, key.name, "is missing", "NSA0006E")
                continue
            value = self.value(path, key, table[key.name])
            if value is not None:
                fields[key.field] = value
        return fields

    def value(self, path: str, key: Key, value: Any) -> Any:
        """
        One value, checked against its key's kind and choices; C{None} when
        it is wrong (and the finding made).
        """
        expected = {
            Kind.STRING: isinstance(value, str),
            # A bool is an int to Python, but not to TOML or the operator.
            Kind.INTEGER: isinstance(value, int) and not isinstance(value, bool),
            Kind.BOOLEAN: isinstance(value, bool),
            Kind.STRINGS: isinstance(value, list)
            and all(isinstance(v, str) for v in value),
        }[key.kind]
        if not expected:
            self.finding(
                path,
                key.name,
                f"must be {key.kind.value}, not {_toml_type(value)}",
                "NSA0004E",
            )
            return None
        if not key.choices:
            return tuple(value) if key.kind is Kind.STRINGS else value
        entries = value if key.kind is Kind.STRINGS else [value]
        spelled = {choice.lower(): choice for choice in key.choices}
        canonical = []
        for entry in entries:
            choice = spelled.get(entry.lower())
            if choice is None:
                self.finding(
                    path,
                    key.name,
                    f"{entry!r} is not one of {', '.join(key.choices)}",
                    "NSA0005E",
                )
                return None
            canonical.append(choice)
        return tuple(canonical) if key.kind is Kind.STRINGS else canonical[0]

    # --- the tables ------------------------------------------------------

    def server(self, name: str, table: Mapping[str, Any]) -> NssServer | None:
        path = server_table(name)
        self.unknown_keys(path, table, (k.name for k in SERVER_KEYS))
        fields = self.values(path, table, SERVER_KEYS)
        if not {"systemName", "address"} <= fields.keys():
            return None
        return NssServer(name=name, **fields)

    def image(self, name: str, table: Mapping[str, Any]) -> Image | None:
        path = image_table(name)
        own = (*IMAGE_KEYS, *IMAGE_ONLY_KEYS)
        self.unknown_keys(
            path,
            table,
            [k.name for k in own] + list(IMAGE_TABLES),
            {k.name: defaults_table(name) for k in INHERITED_KEYS}
            | {k.name: stack_table(name, "STACK") for k in STACK_KEYS},
        )
        fields = self.values(path, table, IMAGE_KEYS)
        imageOnly = self.values(path, table, IMAGE_ONLY_KEYS)
        defaults = self.defaults(name, table)
        stacks: list[Stack] = []
        for stackName, stackTable in self.named_tables(table, "stacks", path):
            stack = self.stack(name, stackName, stackTable)
            stacks.append(stack)
        if "systemName" not in fields:
            return None
        return Image(
            name=name,
            defaults=StackSettings(**defaults, **imageOnly),
            stacks=tuple(stacks),
            **fields,
        )

    def defaults(self, image: str, table: Mapping[str, Any]) -> dict[str, Any]:
        path = defaults_table(image)
        value = table.get("defaults", {})
        if not isinstance(value, dict):
            self.finding(
                image_table(image),
                "defaults",
                f"must be a table: write [{path}]",
                "NSA0004E",
            )
            return {}
        self.unknown_keys(
            path,
            value,
            (k.name for k in INHERITED_KEYS),
            {k.name: image_table(image) for k in IMAGE_ONLY_KEYS}
            | {k.name: stack_table(image, "STACK") for k in STACK_KEYS},
        )
        return self.values(path, value, INHERITED_KEYS)

    def stack(self, image: str, name: str, table: Mapping[str, Any]) -> Stack:
        path = stack_table(image, name)
        overrides = (*INHERITED_KEYS, *IMAGE_ONLY_KEYS)
        self.unknown_keys(
            path,
            table,
            [k.name for k in (*STACK_KEYS, *overrides)],
            {k.name: image_table(image) for k in IMAGE_KEYS},
        )
        fields = self.values(path, table, STACK_KEYS)
        settings = self.values(path, table, overrides)
        return Stack(name=name, overrides=StackSettings(**settings), **fields)

    def record(
        self,
        table: Mapping[str, Any],
        path: str,
        keys: tuple[Key, ...],
        kind: type[Certificate] | type[Operator],
    ) -> Any:
        """
        One table of an array of tables: a certificate or an operator.
        """
        self.unknown_keys(path, table, (k.name for k in keys))
        fields = self.values(path, table, keys)
        if not all(k.field in fields for k in keys if k.required):
            return None
        return kind(**fields)


def _nearest_key(written: str, known: tuple[str, ...]) -> str | None:
    """
    The known key nearest to C{written}, spelled as the table spells it:
    TOML keys are case sensitive, so C{System_Name} is told C{system_name}.
    """
    nearest = nearest_keyword(written, known)
    if nearest is None:
        return None
    return next(k for k in known if k.lower() == nearest.lower())


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array" if not value else "an array of other values"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"
