"""
The page's HTML, rendered on the server as plain forms: no script at all,
a style sheet served from the package, a label for every input, and each
finding next to the field it names.

Every value shown is escaped; no secret is ever shown (the preview of the
generated files has them masked before it gets here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from nsstwisted.assistant.layout import (
    certificate_table,
    image_table,
    operator_table,
    server_table,
    stack_table,
    table_path,
)
from nsstwisted.assistant.model import (
    IMAGE_ONLY_SETTINGS,
    SETTING_DEFAULTS,
    Description,
    Finding,
    GeneratedFile,
    Image,
    Stack,
    StackSettings,
    effective_settings,
)
from nsstwisted.assistant.web.draft import Check
from nsstwisted.assistant.web.fields import FieldSpec, field_key, format_value

__all__ = ["Placed", "Shell", "place"]

Submitted = Mapping[str, str]


def q(segment: str) -> str:
    """
    A name as one path segment of a URL.
    """
    return quote(segment, safe="")


def image_url(image: str) -> str:
    """
    The address of an image's form.
    """
    return f"/images/{q(image)}"


def stack_url(image: str, stack: str) -> str:
    """
    The address of a stack's form.
    """
    return f"{image_url(image)}/stacks/{q(stack)}"


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


def _errors(fid: str, findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    items = "".join(
        f"<li>{escape(f.messageId)} {escape(f.message)}</li>" for f in findings
    )
    return f'<ul class="error" id="{fid}-error">{items}</ul>'


def _form_error(message: str, messageId: str = "NSA0103E") -> Finding:
    return Finding("<web>", "", "", message, messageId)


def field(
    spec: FieldSpec,
    value: str,
    findings: Sequence[Finding] = (),
    hint: str = "",
    extra: str = "",
) -> str:
    """
    One field: its label, its input (radio buttons for a choice, a checkbox
    for a yes/no), a hint (where an inherited value comes from), and the
    findings about it, which the input names with C{aria-describedby}.
    """
    fid = f"f-{spec.name}"
    described = []
    hint_html = ""
    if hint:
        described.append(f"{fid}-hint")
        hint_html = f'<p class="hint" id="{fid}-hint">{hint}</p>'
    if findings:
        described.append(f"{fid}-error")
    aria = ""
    if described:
        aria += f' aria-describedby="{" ".join(described)}"'
    if findings:
        aria += ' aria-invalid="true"'
    name = escape(spec.name)
    if spec.kind == "choice":
        options = [("", "(not set)")] if spec.optional else []
        options += [(c, c) for c in spec.choices]
        radios = "".join(
            f'<label><input type="radio" name="{name}"'
            f' id="{fid}-{escape(v) or "unset"}"'
            f' value="{escape(v)}"{" checked" if v == value else ""}{aria}>'
            f" {escape(text)}</label> "
            for v, text in options
        )
        control = (
            f'<fieldset id="{fid}"><legend>{escape(spec.label)}</legend>'
            f"{radios}</fieldset>"
        )
    elif spec.kind == "bool":
        control = (
            f'<input type="checkbox" id="{fid}" name="{name}" value="yes"'
            f"{' checked' if value == 'yes' else ''}{aria}>"
            f' <label for="{fid}">{escape(spec.label)}</label>'
        )
    else:
        kind = "number" if spec.kind == "int" else "text"
        control = (
            f'<label for="{fid}">{escape(spec.label)}</label> '
            f'<input type="{kind}" id="{fid}" name="{name}" value="{escape(value)}"'
            f"{aria}>"
        )
        if spec.kind == "list":
            choices = f": {', '.join(spec.choices)}" if spec.choices else ""
            hint_html += f'<p class="hint">Separate values with commas{choices}.</p>'
    return (
        f'<div class="field" id="field-{name}">{control}{extra}{hint_html}'
        f"{_errors(fid, findings)}</div>"
    )


class Shell:
    """
    What every page shares: the navigation, the save form and the CSRF
    token its forms carry.
    """

    def __init__(self, path: str, csrf: str) -> None:
        self.path = path
        self.csrf = csrf

    def hidden(self) -> str:
        """
        The CSRF field every POST form carries.
        """
        return f'<input type="hidden" name="csrf" value="{escape(self.csrf)}">'

    def form(self, action: str, body: str, label: str = "") -> str:
        """
        A POST form to C{action}.
        """
        aria = f' aria-label="{escape(label)}"' if label else ""
        return (
            f'<form method="post" action="{escape(action)}"{aria}>'
            f"{self.hidden()}{body}</form>"
        )

    def page(self, title: str, body: str, notice: str = "") -> bytes:
        """
        A whole page.
        """
        notice_html = (
            f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
        )
        nav = "".join(
            f'<li><a href="{href}">{text}</a></li>'
            for href, text in (
                ("/", "Images and stacks"),
                ("/servers", "NSS servers"),
                ("/certificates", "Certificates"),
                ("/operators", "Operators"),
                ("/files", "Generated files"),
            )
        )
        save = self.form(
            "/save", '<button type="submit" id="save">Save to the file</button>'
        )
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)} - nss-assistant</title>"
            '<link rel="stylesheet" href="/style.css"></head><body>'
            f"<header><p>Description <code>{escape(self.path)}</code></p>"
            f'<nav aria-label="Parts of the description"><ul>{nav}</ul></nav>'
            f"{save}</header>"
            f"<main><h1>{escape(title)}</h1>{notice_html}{body}</main>"
            "</body></html>\n"
        ).encode()


def findings_section(description: Description, check: Check) -> str:
    """
    Every finding about the draft, each linked to its form; or why the
    draft could not be checked.
    """
    if check.unavailable:
        return (
            '<section aria-labelledby="findings"><h2 id="findings">Findings</h2>'
            f'<p class="warning">NSA0115W the draft could not be checked: '
            f"{escape(check.unavailable)}</p></section>"
        )
    if not check.findings:
        return (
            '<section aria-labelledby="findings"><h2 id="findings">Findings</h2>'
            '<p id="no-findings">None: the description is consistent.</p></section>'
        )
    items = []
    for f in check.findings:
        url = finding_url(description, f)
        text = escape(str(f))
        items.append(
            f'<li><a href="{url}">{text}</a></li>' if url else f"<li>{text}</li>"
        )
    return (
        '<section aria-labelledby="findings"><h2 id="findings">Findings</h2>'
        f'<ul class="error" id="all-findings">{"".join(items)}</ul></section>'
    )


def _table_findings(placed: Placed) -> str:
    return _errors("table", placed.table)


def new_name(fid: str, name: str, label: str, typed: str, refused: str) -> str:
    """
    A field of a form that adds an item: what was typed and why it was
    refused (a name already used, NSA0104E) when it comes back.
    """
    errors = (
        _errors(fid, [Finding("<web>", "", name, refused, "NSA0104E")])
        if refused
        else ""
    )
    aria = f' aria-describedby="{fid}-error" aria-invalid="true"' if refused else ""
    return (
        f'<div class="field"><label for="{fid}">{escape(label)}</label> '
        f'<input type="text" id="{fid}" name="{escape(name)}" value="{escape(typed)}"'
        f"{aria}>{errors}</div>"
    )


def tree(
    shell: Shell,
    description: Description,
    check: Check,
    notice: str,
    typed: Submitted | None = None,
    refused: str = "",
) -> bytes:
    """
    The images and their stacks as a tree, the form to add an image (with
    what was typed and why it was refused, when it was), and every finding.
    """
    typed = typed or {}
    images = []
    for image in description.images:
        stacks = "".join(
            f'<li><a href="{stack_url(image.name, s.name)}">{escape(s.name)}</a>'
            f" (client {escape(image.client_name_of(s))}"
            f"{'' if s.nss else ', not an NSS client'})</li>"
            for s in image.stacks
        )
        images.append(
            f'<li><a href="{image_url(image.name)}">{escape(image.name)}</a>'
            f" (system {escape(image.systemName)}, {len(image.stacks)} stacks)"
            f"{f'<ul>{stacks}</ul>' if stacks else ''}</li>"
        )
    listing = (
        f'<ul class="tree" id="tree">{"".join(images)}</ul>'
        if images
        else '<p id="tree">No images yet.</p>'
    )
    add = shell.form(
        "/images",
        '<h2 id="add-image">Add an image</h2>'
        + new_name(
            "new-image-name", "name", "Image name", typed.get("name", ""), refused
        )
        + new_name(
            "new-image-system",
            "systemName",
            "System name",
            typed.get("systemName", ""),
            "",
        )
        + '<button type="submit" id="add-image-button">Add the image</button>',
        "Add an image",
    )
    body = (
        '<section aria-labelledby="tree-heading"><h2 id="tree-heading">'
        f"Images and their stacks</h2>{listing}</section>"
        f"{add}{findings_section(description, check)}"
    )
    return shell.page("Images and stacks", body, notice)


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
                f"{_errors('f-' + spec.name, placed.byField.get(key, ()))}"
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


def _shown(value: object) -> str:
    text = format_value(value)
    return f"<code>{escape(text)}</code>" if text else "not set"


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
        dataclasses.replace(_form_error(m), table=image_table(image.name), key=k)
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
            submitted.get(spec.name, "")
            if submitted is not None
            else format_value(getattr(image, spec.name)),
            placed.byField.get(field_key(spec.name), ()),
        )
        for spec in imageSpecs
    )

    def hint(spec: FieldSpec) -> str:
        default = _shown(SETTING_DEFAULTS[spec.name])
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
        f"{_table_findings(placed)}<h2>Settings of the image</h2>{own}"
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
        dataclasses.replace(_form_error(m), table=table, key=k)
        for k, m in (errors or {}).items()
    ]
    names = [s.name for s in (*stackSpecs, *settingSpecs)]
    placed = place(findings, in_table(table), names)
    effective = effective_settings(image, stack)
    unnamed = dataclasses.replace(stack, clientName=None)
    own = "".join(
        field(
            spec,
            submitted.get(spec.name, "")
            if submitted is not None
            else format_value(getattr(stack, spec.name)),
            placed.byField.get(field_key(spec.name), ()),
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
            f"the image's {_shown(inherited)}"
            if inherited is not None
            else f"the default, {_shown(SETTING_DEFAULTS[spec.name])}"
        )
        if origin == "stack":
            return (
                f'<span class="origin" data-origin="stack">Overridden here</span>;'
                f" without the override: {fallback}."
            )
        where = "inherited from the image" if origin == "image" else "the default"
        return (
            f'<span class="origin" data-origin="{origin}">{where.capitalize()}</span>:'
            f" {_shown(getattr(effective.values, spec.name))}."
        )

    def readonly(spec: FieldSpec) -> str | None:
        if spec.name not in IMAGE_ONLY_SETTINGS:
            return None
        origin = effective.origins[spec.name]
        where = "from the image" if origin == "image" else "the default"
        return (
            f"{_shown(getattr(effective.values, spec.name))} "
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
        f"{_table_findings(placed)}<h2>The stack</h2>{own}"
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
            submitted.get(spec.name, "")
            if submitted is not None
            else format_value(collection.defaults.get(spec.name)),
            placed.byField.get(field_key(spec.name), ()),
        )
        for spec in collection.specs
    )
    add = shell.form(
        f"/{collection.table}",
        f'<h2 id="add">Add a {escape(collection.singular)}</h2>'
        f"{_table_findings(placed)}{fields}"
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
        dataclasses.replace(_form_error(m), table=table, key=k)
        for k, m in (errors or {}).items()
    ]
    specs = [s for s in collection.specs if s.name != collection.key]
    placed = place(findings, in_table(table), [s.name for s in specs])
    fields = "".join(
        field(
            spec,
            submitted.get(spec.name, "")
            if submitted is not None
            else format_value(getattr(item, spec.name)),
            placed.byField.get(field_key(spec.name), ()),
        )
        for spec in specs
    )
    url = f"/{collection.table}/{q(name)}"
    edit = shell.form(
        url,
        f"{_table_findings(placed)}{fields}"
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


def files_page(
    shell: Shell, files: Sequence[GeneratedFile] | None, problem: str | None
) -> bytes:
    """
    A preview of every generated file, secrets masked, and the link to
    download the whole set.
    """
    if files is None:
        body = f'<p class="error" id="files-error">{escape(problem or "")}</p>'
        return shell.page("Generated files", body)
    toc = "".join(
        f'<li><a href="#file-{i}">{escape(f.path)}</a></li>'
        for i, f in enumerate(files)
    )
    sections = "".join(
        f'<section aria-labelledby="file-{i}"><h2 id="file-{i}">{escape(f.path)}</h2>'
        f"<p>{escape(f.role.value)}, mode {f.mode:04o}</p>"
        f"<pre>{escape(f.content.decode('utf-8', 'replace'))}</pre></section>"
        for i, f in enumerate(files)
    )
    body = (
        '<p><a href="/files.tar.gz" id="download" download>Download every file'
        " (tar.gz, with the secrets)</a></p>"
        "<p>Secrets are masked here; the archive holds them, mode 0600.</p>"
        f'<ul id="file-list">{toc}</ul>{sections}'
    )
    return shell.page("Generated files", body)


def refusal(messageId: str, message: str) -> bytes:
    """
    The page of a refused request: no navigation, no forms, no token.
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"><title>Refused - nss-assistant'
        "</title></head><body><main><h1>Refused</h1>"
        f'<p id="refusal">{escape(messageId)} {escape(message)}</p>'
        "</main></body></html>\n"
    ).encode()
