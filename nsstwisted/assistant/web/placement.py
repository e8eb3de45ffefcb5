"""
Findings onto forms: which form a finding belongs to (by the table path the
loader and validation name, L{nsstwisted.assistant.layout}), and which field
of it (by its key, whatever its spelling), so that each message is shown
next to what it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from nsstwisted.assistant.layout import (
    certificate_table,
    image_table,
    operator_table,
    server_table,
    stack_table,
)
from nsstwisted.assistant.model import (
    Description,
    Finding,
)
from nsstwisted.assistant.web.fields import field_key
from nsstwisted.assistant.web.markup import image_url, q, stack_url

__all__ = ["Placed", "finding_url", "in_table", "item_table", "place"]


@dataclass(frozen=True)
class Placed:
    """
    The findings of one form: by field (the key as L{field_key} reads
    it), and those about the table as a whole or a key the form has no
    field for, shown at the form's top.
    """

    byField: Mapping[str, tuple[Finding, ...]]
    table: tuple[Finding, ...]


def place(
    findings: Iterable[Finding],
    belongs: Callable[[Finding], bool],
    fields: Iterable[str],
) -> Placed:
    """
    Sort the findings that C{belongs} to a form onto its fields.
    """
    names = {field_key(name) for name in fields}
    byField: dict[str, list[Finding]] = {}
    table: list[Finding] = []
    for finding in findings:
        if not belongs(finding):
            continue
        key = field_key(finding.key)
        if key in names:
            byField.setdefault(key, []).append(finding)
        else:
            table.append(finding)
    return Placed({k: tuple(v) for k, v in byField.items()}, tuple(table))


def in_table(*tables: str, excluding: str | None = None) -> Callable[[Finding], bool]:
    """
    A test for findings about one of C{tables} or a table nested in one
    (an image's C{defaults}, a stack's C{overrides}), but not under
    C{excluding} (an image's stacks, which have forms of their own).
    """

    def belongs(finding: Finding) -> bool:
        if excluding and (
            finding.table == excluding or finding.table.startswith(excluding + ".")
        ):
            return False
        return any(
            finding.table == t or finding.table.startswith(t + ".") for t in tables
        )

    return belongs


def item_table(description: Description, table: str, name: str) -> str:
    """
    The table path findings give a server, certificate or operator: a
    named table for a server, the place in its array of tables for the
    others (C{certificates[2]}).
    """
    if table == "servers":
        return server_table(name)
    key = "label" if table == "certificates" else "userId"
    items = getattr(description, table)
    index = next(i for i, item in enumerate(items) if getattr(item, key) == name)
    return (certificate_table if table == "certificates" else operator_table)(index)


def _tables(description: Description) -> list[tuple[str, str]]:
    """
    Every table the page has a form for, with the form's address, the
    most nested first so that the first match is the closest.
    """
    tables = []
    for image in description.images:
        for stack in image.stacks:
            tables.append(
                (stack_table(image.name, stack.name), stack_url(image.name, stack.name))
            )
        tables.append((image_table(image.name), image_url(image.name)))
    for server in description.servers:
        tables.append((server_table(server.name), f"/servers/{q(server.name)}"))
    for i, certificate in enumerate(description.certificates):
        url = f"/certificates/{q(certificate.label)}"
        tables.append((certificate_table(i), url))
    for i, operator in enumerate(description.operators):
        tables.append((operator_table(i), f"/operators/{q(operator.userId)}"))
    return tables


def finding_url(description: Description, finding: Finding) -> str | None:
    """
    The form a finding belongs to, if the page has one.
    """
    for table, url in _tables(description):
        if finding.table == table or finding.table.startswith(table + "."):
            return url
    top = finding.table.split(".", 1)[0].split("[", 1)[0]
    if top in ("servers", "certificates", "operators"):
        return f"/{top}"
    return "/" if top == "images" else None
