"""
The pages that read the draft: the tree of images and stacks with every
finding, and the preview of the generated files (secrets masked before they
get here).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from nsstwisted.assistant.model import (
    Description,
    GeneratedFile,
)
from nsstwisted.assistant.web.draft import Check
from nsstwisted.assistant.web.markup import (
    Shell,
    Submitted,
    image_url,
    new_name,
    stack_url,
)
from nsstwisted.assistant.web.placement import finding_url

__all__ = ["files_page", "findings_section", "tree"]


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
