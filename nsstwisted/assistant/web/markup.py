"""
The page's HTML pieces: addresses, the shell every page shares (navigation,
the save form, the CSRF field), one form field with its label, hint and
findings, and the page of a refused request.

Every value shown is escaped; nothing here runs script or loads anything
from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from nsstwisted.assistant.model import (
    Finding,
)
from nsstwisted.assistant.web.fields import FieldSpec, format_value

Submitted = Mapping[str, str]

__all__ = [
    "Shell",
    "Submitted",
    "errors_list",
    "field",
    "form_finding",
    "image_url",
    "new_name",
    "q",
    "refusal",
    "shown",
    "stack_url",
]


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


def errors_list(fid: str, findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    items = "".join(
        f"<li>{escape(f.messageId)} {escape(f.message)}</li>" for f in findings
    )
    return f'<ul class="error" id="{fid}-error">{items}</ul>'


def form_finding(message: str, messageId: str = "NSA0103E") -> Finding:
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
        f"{errors_list(fid, findings)}</div>"
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


def new_name(fid: str, name: str, label: str, typed: str, refused: str) -> str:
    """
    A field of a form that adds an item: what was typed and why it was
    refused (a name already used, NSA0104E) when it comes back.
    """
    errors = (
        errors_list(fid, [Finding("<web>", "", name, refused, "NSA0104E")])
        if refused
        else ""
    )
    aria = f' aria-describedby="{fid}-error" aria-invalid="true"' if refused else ""
    return (
        f'<div class="field"><label for="{fid}">{escape(label)}</label> '
        f'<input type="text" id="{fid}" name="{escape(name)}" value="{escape(typed)}"'
        f"{aria}>{errors}</div>"
    )


def shown(value: object) -> str:
    text = format_value(value)
    return f"<code>{escape(text)}</code>" if text else "not set"


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
