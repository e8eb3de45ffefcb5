"""
The forms that edit the description: an image's (its settings and the
defaults its stacks inherit), a stack's (each setting with where its value
comes from, to override or clear), and those of the servers, certificates
and operators.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from nsstwisted.assistant.layout import (
    image_table,
    stack_table,
    table_path,
)
from nsstwisted.assistant.model import (
    IMAGE_ONLY_SETTINGS,
    SETTING_DEFAULTS,
    Description,
    Finding,
    Image,
    Stack,
    StackSettings,
    effective_settings,
)
from nsstwisted.assistant.web.draft import Check
from nsstwisted.assistant.web.fields import FieldSpec, field_key, format_value
from nsstwisted.assistant.web.markup import (
    Shell,
    Submitted,
    errors_list,
    field,
    form_finding,
    image_url,
    new_name,
    q,
    shown,
    stack_url,
)
from nsstwisted.assistant.web.placement import Placed, in_table, item_table, place

__all__ = [
    "Collection",
    "collection_page",
    "image_form",
    "item_form",
    "stack_form",
    "table_findings",
]


def _input_value(
    spec: FieldSpec, submitted: Mapping[str, str] | None, stored: object
) -> str:
    """
    What a field shows: what was submitted, when a form comes back with
    findings, else the stored value in the form's own spelling.
    """
    if submitted is not None:
        return submitted.get(spec.name, "")
    return format_value(stored)


def _about(placed: Placed, spec: FieldSpec) -> Sequence[Finding]:
    """The findings placed at a field."""
    return placed.byField.get(field_key(spec.name), ())


def table_findings(placed: Placed) -> str:
    return errors_list("table", placed.table)


def _settings_fields(
    specs: Sequence[FieldSpec],
    own: StackSettings,
    placed: Placed,
    hint: Callable[[FieldSpec], str],
    submitted: Submitted | None,
    readonly: Callable[[FieldSpec], str | None],
    clear: Callable[[FieldSpec], str] = lambda spec: "",
) -> str:
    out = []
    for spec in specs:
        shown = readonly(spec)
        key = field_key(spec.name)
        if shown is not None:
            out.append(
                f'<div class="field" id="field-{escape(spec.name)}">'
                f'<span class="label">{escape(spec.label)}</span> '
                f"<output>{shown}</output>"
                f"{errors_list('f-' + spec.name, placed.byField.get(key, ()))}"
                "</div>"
            )
            continue
        ownValue = getattr(own, spec.name)
        value = (
            submitted.get(spec.name, "")
            if submitted is not None
            else format_value(ownValue)
        )
        out.append(
            field(spec, value, placed.byField.get(key, ()), hint(spec), clear(spec))
        )
    return "".join(out)


def image_form(
    shell: Shell,
    description: Description,
    check: Check,
    image: Image,
    imageSpecs: Sequence[FieldSpec],
    settingSpecs: Sequence[FieldSpec],
    submitted: Submitted | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
    newStack: tuple[str, str] = ("", ""),
) -> bytes:
    """
    An image's form: its own settings, and the stack defaults it gives its
    stacks (each with the documented default it falls back to); its
    stacks, and the form to add one (C{newStack}: the name typed there and
    why it was refused, when it was).
    """
    findings = list(check.findings) + [
        dataclasses.replace(form_finding(m), table=image_table(image.name), key=k)
        for k, m in (errors or {}).items()
    ]
    names = [s.name for s in (*imageSpecs, *settingSpecs)]
    placed = place(
        findings,
        in_table(
            image_table(image.name),
            excluding=table_path("images", image.name, "stacks"),
        ),
        names,
    )
    own = "".join(
        field(
            spec,
            _input_value(spec, submitted, getattr(image, spec.name)),
            _about(placed, spec),
        )
        for spec in imageSpecs
    )

    def hint(spec: FieldSpec) -> str:
        default = shown(SETTING_DEFAULTS[spec.name])
        if getattr(image.defaults, spec.name) is None:
            return f"Not set here: stacks take the default, {default}."
        return (
            f"Stacks inherit this unless they override it (the default is {default})."
        )

    defaults = _settings_fields(
        settingSpecs, image.defaults, placed, hint, submitted, lambda spec: None
    )
    stacks = "".join(
        f'<li><a href="{stack_url(image.name, s.name)}">{escape(s.name)}</a></li>'
        for s in image.stacks
    )
    edit = shell.form(
        image_url(image.name),
        f"{table_findings(placed)}<h2>Settings of the image</h2>{own}"
        "<h2>Defaults for its stacks</h2>"
        f"{defaults}"
        '<button type="submit" id="update">Apply the changes</button>',
        f"Image {image.name}",
    )
    add = shell.form(
        f"{image_url(image.name)}/stacks",
        '<h2 id="add-stack">Add a stack</h2>'
        + new_name("new-stack-name", "name", "Stack name", *newStack)
        + '<button type="submit" id="add-stack-button">Add the stack</button>',
        "Add a stack",
    )
    remove = shell.form(
        f"{image_url(image.name)}/delete",
        '<button type="submit" id="delete">Remove the image and its stacks</button>',
        "Remove the image",
    )
    body = (
        f"{edit}<section aria-labelledby='stacks'><h2 id='stacks'>Stacks</h2>"
        f"<ul id='stack-list'>{stacks}</ul></section>{add}{remove}"
    )
    return shell.page(f"Image {image.name}", body, notice)


def stack_form(
    shell: Shell,
    description: Description,
    check: Check,
    image: Image,
    stack: Stack,
    stackSpecs: Sequence[FieldSpec],
    settingSpecs: Sequence[FieldSpec],
    submitted: Submitted | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
) -> bytes:
    """
    A stack's form: its own fields, and every setting with where its value
    comes from (set here, inherited from the image, or the default), an
    input to override it and a button to clear an override.
    """
    table = stack_table(image.name, stack.name)
    findings = list(check.findings) + [
        dataclasses.replace(form_finding(m), table=table, key=k)
        for k, m in (errors or {}).items()
    ]
    names = [s.name for s in (*stackSpecs, *settingSpecs)]
    placed = place(findings, in_table(table), names)
    effective = effective_settings(image, stack)
    unnamed = dataclasses.replace(stack, clientName=None)
    own = "".join(
        field(
            spec,
            _input_value(spec, submitted, getattr(stack, spec.name)),
            _about(placed, spec),
            hint=(
                f"Not set: the seed's default, <code>"
                f"{escape(image.client_name_of(unnamed))}"
                "</code>."
                if spec.name == "clientName"
                else ""
            ),
        )
        for spec in stackSpecs
    )

    def hint(spec: FieldSpec) -> str:
        origin = effective.origins[spec.name]
        inherited = getattr(image.defaults, spec.name)
        fallback = (
            f"the image's {shown(inherited)}"
            if inherited is not None
            else f"the default, {shown(SETTING_DEFAULTS[spec.name])}"
        )
        if origin == "stack":
            return (
                f'<span class="origin" data-origin="stack">Overridden here</span>;'
                f" without the override: {fallback}."
            )
        where = "inherited from the image" if origin == "image" else "the default"
        return (
            f'<span class="origin" data-origin="{origin}">{where.capitalize()}</span>:'
            f" {shown(getattr(effective.values, spec.name))}."
        )

    def readonly(spec: FieldSpec) -> str | None:
        if spec.name not in IMAGE_ONLY_SETTINGS:
            return None
        origin = effective.origins[spec.name]
        where = "from the image" if origin == "image" else "the default"
        return (
            f"{shown(getattr(effective.values, spec.name))} "
            f'<span class="origin" data-origin="{origin}">({where}; set on the '
            f'<a href="{image_url(image.name)}">image</a> only)</span>'
        )

    def clear(spec: FieldSpec) -> str:
        if effective.origins[spec.name] != "stack":
            return ""
        return (
            f' <button type="submit" form="clear-form" name="clear"'
            f' value="{escape(spec.name)}" id="clear-{escape(spec.name)}">'
            f"Clear the override of {escape(spec.label)}</button>"
        )

    settings = _settings_fields(
        settingSpecs, stack.overrides, placed, hint, submitted, readonly, clear
    )
    edit = shell.form(
        stack_url(image.name, stack.name),
        f"{table_findings(placed)}<h2>The stack</h2>{own}"
        "<h2>Settings (inherited unless overridden)</h2>"
        "<p>Leave a field empty to inherit it.</p>"
        f"{settings}"
        '<button type="submit" id="update">Apply the changes</button>',
        f"Stack {stack.name}",
    )
    # The clear buttons sit next to their fields but belong to this form
    # (their form attribute), so that Enter in a field applies the changes
    # rather than clearing the first override.
    clearForm = (
        f'<form method="post" action="{stack_url(image.name, stack.name)}/clear"'
        f' id="clear-form">{shell.hidden()}</form>'
    )
    remove = shell.form(
        f"{stack_url(image.name, stack.name)}/delete",
        '<button type="submit" id="delete">Remove the stack</button>',
        "Remove the stack",
    )
    back = f'<p>Image <a href="{image_url(image.name)}">{escape(image.name)}</a></p>'
    return shell.page(
        f"Stack {stack.name} of {image.name}", back + edit + clearForm + remove, notice
    )


@dataclass(frozen=True)
class Collection:
    """
    A table of the description with one form per item: servers,
    certificates, operators.
    """

    table: str
    key: str
    title: str
    singular: str
    cls: type
    specs: Sequence[FieldSpec]
    #: What the form to add one starts with: the model's defaults.
    defaults: Mapping[str, object]


def collection_page(
    shell: Shell,
    collection: Collection,
    items: Sequence[object],
    check: Check,
    submitted: Submitted | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
    errorId: str = "NSA0103E",
) -> bytes:
    """
    A table's items, linked to their forms, and the form to add one, with
    the messages (C{errorId}) of a refused one next to its fields.
    """
    listing = "".join(
        f'<li><a href="/{collection.table}/{q(getattr(i, collection.key))}">'
        f"{escape(getattr(i, collection.key))}</a></li>"
        for i in items
    )
    findings = [
        Finding("<web>", collection.table, k, m, errorId)
        for k, m in (errors or {}).items()
    ]
    placed = place(
        findings,
        lambda f: f.table == collection.table,
        [s.name for s in collection.specs],
    )
    fields = "".join(
        field(
            spec,
            _input_value(spec, submitted, collection.defaults.get(spec.name)),
            _about(placed, spec),
        )
        for spec in collection.specs
    )
    add = shell.form(
        f"/{collection.table}",
        f'<h2 id="add">Add a {escape(collection.singular)}</h2>'
        f"{table_findings(placed)}{fields}"
        f'<button type="submit" id="add-button">Add the {escape(collection.singular)}'
        "</button>",
        f"Add a {collection.singular}",
    )
    body = (f'<ul id="items">{listing}</ul>' if listing else "<p>None yet.</p>") + add
    return shell.page(collection.title, body, notice)


def item_form(
    shell: Shell,
    description: Description,
    collection: Collection,
    item: object,
    check: Check,
    submitted: Submitted | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
) -> bytes:
    """
    One server's, certificate's or operator's form.
    """
    name = str(getattr(item, collection.key))
    table = item_table(description, collection.table, name)
    findings = list(check.findings) + [
        dataclasses.replace(form_finding(m), table=table, key=k)
        for k, m in (errors or {}).items()
    ]
    specs = [s for s in collection.specs if s.name != collection.key]
    placed = place(findings, in_table(table), [s.name for s in specs])
    fields = "".join(
        field(
            spec,
            _input_value(spec, submitted, getattr(item, spec.name)),
            _about(placed, spec),
        )
        for spec in specs
    )
    url = f"/{collection.table}/{q(name)}"
    edit = shell.form(
        url,
        f"{table_findings(placed)}{fields}"
        '<button type="submit" id="update">Apply the changes</button>',
        f"{collection.singular} {name}",
    )
    remove = shell.form(
        f"{url}/delete",
        f'<button type="submit" id="delete">Remove the {escape(collection.singular)}'
        "</button>",
    )
    back = f'<p><a href="/{collection.table}">{escape(collection.title)}</a></p>'
    return shell.page(
        f"{collection.singular.capitalize()} {name}", back + edit + remove, notice
    )
