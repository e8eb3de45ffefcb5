"""
The description being edited: held in memory, changed one table at a time
with C{dataclasses.replace} on the model's frozen dataclasses, checked as
the file would be, and written back to its TOML file only when asked.

Nothing here imports Twisted; the page's resources call it.  Every edit
either replaces the whole description or raises L{DraftError} and changes
nothing, so a refused form never leaves half an edit behind.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nsstwisted.assistant.deployment import SecretKeeper
from nsstwisted.assistant.generators import generate
from nsstwisted.assistant.layout import image_table, table_path
from nsstwisted.assistant.loader import parse_description
from nsstwisted.assistant.model import (
    Certificate,
    Description,
    DescriptionError,
    Finding,
    GeneratedFile,
    Image,
    NssServer,
    Operator,
    Role,
    Stack,
)
from nsstwisted.assistant.tomlwriter import dump_description
from nsstwisted.assistant.validation import validate

__all__ = ["MASK", "Check", "Draft", "DraftError", "read_draft"]

#: What the preview shows in place of every secret.
MASK = "********"
#: A finding's file for what the page itself says about a form.
WEB = "<web>"


class DraftError(Exception):
    """
    An edit was refused; the finding says where and why.
    """

    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


@dataclass(frozen=True)
class Check:
    """
    What is known about the draft as it stands.

    @ivar findings: the loader's findings on the draft written out as TOML
        and read back, then the validation's.
    @ivar unavailable: why the draft could not be checked at all (the
        TOML writer, loader or validation failed on it), else C{None}.
    """

    findings: tuple[Finding, ...]
    unavailable: str | None


def _refuse(table: str, key: str, message: str, messageId: str) -> DraftError:
    return DraftError(Finding(WEB, table, key, message, messageId))


def _named(items: tuple[Any, ...], attribute: str, name: str) -> int | None:
    for i, item in enumerate(items):
        if getattr(item, attribute) == name:
            return i
    return None


class Draft:
    """
    The description under edit, its file, and the secrets of this session's
    generated files (made as C{nss-assistant generate} makes them, and kept
    so that two downloads agree; never shown).

    @ivar description: the draft as it stands.
    @ivar path: the TOML file it was read from and is saved to.
    """

    def __init__(self, description: Description, path: str) -> None:
        self.description = description
        self.path = path
        self._secrets = SecretKeeper({})
        self._check: tuple[Description, Check] | None = None

    # The tables: each edit replaces one tuple of the description.

    def _replace(self, **changes: Any) -> None:
        self.description = dataclasses.replace(self.description, **changes)

    def image(self, name: str) -> Image:
        """
        The image of that name; L{DraftError} (NSA0105E) if there is none.
        """
        i = _named(self.description.images, "name", name)
        if i is None:
            raise _refuse("images", name, f"there is no image {name!r}", "NSA0105E")
        return self.description.images[i]

    def stack(self, image: str, name: str) -> Stack:
        """
        The stack of that name on that image; L{DraftError} (NSA0105E) if
        there is none.
        """
        stacks = self.image(image).stacks
        i = _named(stacks, "name", name)
        if i is None:
            raise _refuse(
                image_table(image),
                name,
                f"image {image!r} has no stack {name!r}",
                "NSA0105E",
            )
        return stacks[i]

    def _put(
        self,
        table: str,
        attribute: str,
        item: Any,
        replacing: str | None,
    ) -> None:
        """
        Add C{item} to the description's C{table} (C{replacing} is C{None})
        or replace the item named C{replacing}; its name must be new in the
        table, and not empty.
        """
        items: tuple[Any, ...] = getattr(self.description, table)
        name = getattr(item, attribute)
        if not name:
            raise _refuse(table, attribute, "a name is needed", "NSA0104E")
        clash = _named(items, attribute, name)
        if replacing is None:
            if clash is not None:
                raise _refuse(
                    table, attribute, f"{name!r} is there already", "NSA0104E"
                )
            self._replace(**{table: (*items, item)})
            return
        i = _named(items, attribute, replacing)
        if i is None:
            raise _refuse(table, replacing, f"there is no {replacing!r}", "NSA0105E")
        if clash is not None and clash != i:
            raise _refuse(table, attribute, f"{name!r} is there already", "NSA0104E")
        self._replace(**{table: (*items[:i], item, *items[i + 1 :])})

    def _drop(self, table: str, attribute: str, name: str) -> None:
        items: tuple[Any, ...] = getattr(self.description, table)
        i = _named(items, attribute, name)
        if i is None:
            raise _refuse(table, name, f"there is no {name!r}", "NSA0105E")
        self._replace(**{table: items[:i] + items[i + 1 :]})

    def put_image(self, image: Image, replacing: str | None = None) -> None:
        """
        Add an image, or replace the one named C{replacing}.
        """
        self._put("images", "name", image, replacing)

    def remove_image(self, name: str) -> None:
        """
        Remove an image and its stacks.
        """
        self._drop("images", "name", name)

    def put_stack(
        self, imageName: str, stack: Stack, replacing: str | None = None
    ) -> None:
        """
        Add a stack to an image, or replace its stack named C{replacing}.
        """
        image = self.image(imageName)
        table = table_path("images", imageName, "stacks")
        if not stack.name:
            raise _refuse(table, "name", "a stack name is needed", "NSA0104E")
        clash = _named(image.stacks, "name", stack.name)
        if replacing is None:
            if clash is not None:
                raise _refuse(
                    table, "name", f"stack {stack.name!r} is there already", "NSA0104E"
                )
            stacks = (*image.stacks, stack)
        else:
            i = _named(image.stacks, "name", replacing)
            if i is None:
                raise _refuse(table, replacing, "no such stack", "NSA0105E")
            if clash is not None and clash != i:
                raise _refuse(
                    table, "name", f"stack {stack.name!r} is there already", "NSA0104E"
                )
            stacks = (*image.stacks[:i], stack, *image.stacks[i + 1 :])
        self.put_image(dataclasses.replace(image, stacks=stacks), imageName)

    def remove_stack(self, imageName: str, name: str) -> None:
        """
        Remove a stack from its image.
        """
        image = self.image(imageName)
        self.stack(imageName, name)
        stacks = tuple(s for s in image.stacks if s.name != name)
        self.put_image(dataclasses.replace(image, stacks=stacks), imageName)

    def put_server(self, server: NssServer, replacing: str | None = None) -> None:
        """
        Add an NSS server, or replace the one named C{replacing}.
        """
        self._put("servers", "name", server, replacing)

    def put_certificate(
        self, certificate: Certificate, replacing: str | None = None
    ) -> None:
        """
        Add a certificate, or replace the one labelled C{replacing}.
        """
        self._put("certificates", "label", certificate, replacing)

    def put_operator(self, operator: Operator, replacing: str | None = None) -> None:
        """
        Add an operator, or replace the one of user ID C{replacing}.
        """
        self._put("operators", "userId", operator, replacing)

    def remove(self, table: str, name: str) -> None:
        """
        Remove a server, certificate or operator by its name.
        """
        attribute = {"servers": "name", "certificates": "label"}.get(table, "userId")
        self._drop(table, attribute, name)

    # What the draft comes to.

    def check(self) -> Check:
        """
        The draft as the file would be: written as TOML, read back by the
        loader (whose findings are what a saved file would meet), then
        validated.  Remembered until the next edit.
        """
        if self._check is not None and self._check[0] is self.description:
            return self._check[1]
        findings: list[Finding] = []
        unavailable = None
        try:
            text = dump_description(self.description)
            try:
                parse_description(text, self.path)
            except DescriptionError as e:
                findings.extend(e.findings)
            findings.extend(validate(self.description))
        except Exception as e:
            unavailable = f"{type(e).__name__}: {e}"
        check = Check(tuple(findings), unavailable)
        self._check = (self.description, check)
        return check

    def preview(self) -> list[GeneratedFile]:
        """
        Every generated file with every secret replaced by L{MASK}: what
        the page may show.
        """
        files = generate(self.description, lambda name: MASK)
        return [
            dataclasses.replace(f, content=MASK.encode("ascii"))
            if f.role is Role.SECRET
            else f
            for f in files
        ]

    def archive(self) -> bytes:
        """
        The whole generated set, secrets included, as a gzip-compressed tar
        archive built in memory: each file with the mode its role needs
        (0600 for a secret), owned by root, dated 0, so that the same draft
        and secrets give the same bytes.
        """
        files = generate(self.description, self._secrets)
        buffer = io.BytesIO()
        # gzip's own header is dated 0 too (tarfile's "w:gz" dates it now).
        with (
            gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
            tarfile.open(
                fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT
            ) as tar,
        ):
            for f in files:
                info = tarfile.TarInfo(f.path)
                info.size = len(f.content)
                info.mode = f.mode
                info.mtime = 0
                tar.addfile(info, io.BytesIO(f.content))
        return buffer.getvalue()

    def save(self) -> None:
        """
        Write the draft to its file as TOML: to a new file beside it, then
        renamed over it, so that a failed save leaves the old file whole.
        Raises C{OSError}.
        """
        text = dump_description(self.description)
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".nss-assistant-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            if os.path.exists(self.path):
                os.chmod(temporary, os.stat(self.path).st_mode & 0o777)
            else:
                os.chmod(temporary, 0o644)
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def read_draft(
    path: str, parse: Callable[[str, str], Description] = parse_description
) -> tuple[Draft, bool]:
    """
    The draft of the description at C{path}, and whether the file existed:
    a file that does not exist yet is an empty description, made on the
    first save.  Raises C{OSError} or L{DescriptionError}.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return Draft(Description(source=path), path), False
    return Draft(parse(text, path), path), True
