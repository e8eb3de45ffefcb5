"""
The form fields of the description's tables, read off the model's own type
hints, and the reading of a submitted form back into typed values.

Deriving the fields from the dataclasses keeps the page in step with the
model: a field the model gains appears on its form without a second list
to forget.  A form posts text only; each field's kind says how that text
becomes the model's value, and a value that cannot be one comes back as a
message for that field (NSA0103E) instead of reaching the draft.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "FieldSpec",
    "FormErrors",
    "defaults_of",
    "field_key",
    "format_value",
    "parse_fields",
    "specs_of",
]

Kind = Literal["text", "int", "choice", "list", "bool"]

#: Labels where splitting the model's name would read badly.
_LABELS: Mapping[str, str] = {
    "userId": "User ID",
    "authBy": "AuthBy",
    "nssWaitLimit": "NssWaitLimit (seconds)",
    "nssWaitRetries": "NssWaitRetries",
    "syslogLevel": "SyslogLevel",
    "ikeSyslogLevel": "IKE SyslogLevel",
    "nmiSocket": "NMI socket",
    "tlsKeyRing": "TLS key ring",
    "tlsLabel": "TLS certificate label",
    "caFile": "CA file",
    "saInstaller": "SA installer",
    "nss": "NSS client",
    "listClients": "May list clients",
    "importFrom": "Import from file",
    "metricsPort": "MetricsPort",
    "metricsInterface": "Metrics interface (IP address; loopback if empty)",
    "auditFile": "AuditFile",
    "auditSync": "AuditSync",
    "auditRequired": "AuditRequired (refuse what cannot be recorded)",
    "auditSyslog": "AuditSyslog facility (user, daemon, auth, authpriv,"
    " local0 to local7; none if empty)",
    "auditSyslogSocket": "AuditSyslogSocket (/dev/log if empty)",
    "pkcs11Module": "Pkcs11Module (the token's PKCS#11 library; no token if empty)",
    "pkcs11TokenLabel": "Pkcs11TokenLabel",
    "pkcs11PinFile": "Pkcs11PinFile (made by you, mode 0600; never the PIN)",
    "keyStore": "Key store (sealed in the database, or made in the server's token)",
}


@dataclass(frozen=True)
class FieldSpec:
    """
    One field of a form.

    @ivar name: the model's attribute name, which is also the input's name.
    @ivar kind: how the submitted text is read: C{"list"} is comma
        separated, C{"choice"} one of C{choices}, C{"bool"} a checkbox.
    @ivar optional: whether an empty input means C{None} ("not set").
    @ivar choices: the allowed values of a choice, or of each list item
        (empty when any text is allowed).
    """

    name: str
    label: str
    kind: Kind
    optional: bool
    choices: tuple[str, ...] = ()


class FormErrors(Exception):
    """
    Some submitted values cannot be the model's; C{errors} maps each field
    name to its message.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def _label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    words = re.sub(r"(?<!^)([A-Z])", r" \1", name).lower()
    return words[:1].upper() + words[1:]


def _literals(hint: object) -> tuple[str, ...]:
    return tuple(str(a) for a in typing.get_args(hint))


def _spec(name: str, hint: object) -> FieldSpec:
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        (hint,) = args
        origin = typing.get_origin(hint)
    label = _label(name)
    if hint is bool:
        return FieldSpec(name, label, "bool", False)
    if hint is int:
        return FieldSpec(name, label, "int", optional)
    if origin is Literal:
        return FieldSpec(name, label, "choice", optional, _literals(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        choices = _literals(item) if typing.get_origin(item) is Literal else ()
        return FieldSpec(name, label, "list", optional, choices)
    return FieldSpec(name, label, "text", optional)


def specs_of(cls: type, exclude: frozenset[str] = frozenset()) -> list[FieldSpec]:
    """
    The form fields of a model dataclass, in the model's order, but for the
    names excluded (a table's own name, which a form does not rename, and
    nested tables, which have forms of their own).
    """
    hints = typing.get_type_hints(cls)
    return [
        _spec(f.name, hints[f.name])
        for f in dataclasses.fields(cls)
        if f.name not in exclude
    ]


def defaults_of(cls: type) -> dict[str, object]:
    """
    The model's default of each field that has one, which a form to add an
    item starts with (a server's port 4159, its key ring NSSD/NSSRING).
    """
    found: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            found[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            found[f.name] = f.default_factory()
    return found


def format_value(value: object) -> str:
    """
    A model value as the text its input shows: lists comma separated, an
    unset value empty.
    """
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _parse(spec: FieldSpec, raw: str | None) -> object:
    if spec.kind == "bool":
        return raw is not None
    text = (raw or "").strip()
    if not text:
        if spec.optional:
            return None
        if spec.kind == "list":
            return ()
        raise ValueError("a value is needed")
    if spec.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if spec.kind == "choice":
        if text not in spec.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(spec.choices)}")
        return text
    if spec.kind == "list":
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        wrong = [item for item in items if spec.choices and item not in spec.choices]
        if wrong:
            raise ValueError(
                f"{', '.join(wrong)}: each must be one of {', '.join(spec.choices)}"
            )
        return items
    return text


def parse_fields(
    specs: list[FieldSpec], submitted: Mapping[str, str]
) -> dict[str, Any]:
    """
    The typed values of a submitted form, one per field; raise
    L{FormErrors} naming every field that cannot be read, so that the form
    comes back with all its messages at once.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        try:
            values[spec.name] = _parse(spec, submitted.get(spec.name))
        except ValueError as e:
            errors[spec.name] = str(e)
    if errors:
        raise FormErrors(errors)
    return values


def field_key(key: str) -> str:
    """
    A key as findings and fields are matched by: case, C{_} and C{-}
    ignored, so that a finding about TOML's C{user_id} or C{UserId} lands
    next to the model's C{userId}.
    """
    return re.sub(r"[_\-\s]", "", key).lower()
