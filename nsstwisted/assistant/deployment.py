"""
Writing a generated installation into a folder, and saying what a new
generation would change in one.

The folder keeps a manifest, C{.nss-assistant.json}: for every file the
assistant wrote, the SHA-256 of what it wrote (and, for a secret file, the
name of its secret).  That is how an operator's edit is told from the
assistant's own file: a file whose bytes no longer have the recorded hash,
or that the manifest does not know, is never overwritten without
C{force}, and the refusal names it.

Secrets are kept across generations: a secret file already in the folder
is read back and its secret given to the generators again, so that a
regeneration does not change a password that a security database already
holds.  A secret the folder does not hold yet is made with L{secrets}.
C{diff} never shows a secret: a secret file is reported as changed or not,
and any secret value that could appear in another file's diff is masked.

The decisions (L{plan}) are pure; the reading and writing around them are
plain file operations, with no Twisted.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from nsstwisted.assistant.generators import generate
from nsstwisted.assistant.generators.layout import (
    PASSTICKET_KEY_SUFFIX,
    PASSWORD_SUFFIX,
)
from nsstwisted.assistant.model import Description, GeneratedFile, Role

__all__ = [
    "MANIFEST",
    "Change",
    "DeploymentError",
    "DeploymentReport",
    "Manifest",
    "Plan",
    "SecretKeeper",
    "deploy",
    "diff",
    "plan",
]

MANIFEST = ".nss-assistant.json"
MANIFEST_VERSION = 1
MASK = "********"
_KEY = re.compile(r"[0-9A-Fa-f]{16}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_SECRET_FILE = 4096


class DeploymentError(Exception):
    """
    The deployment was refused (C{exitStatus} 1: an edited file, a secret
    file that does not hold a secret) or cannot be done (2: the folder
    cannot be read or written).  Nothing was written when it is raised
    before writing began, which is every case but a failing disk.
    """

    def __init__(self, messageId: str, text: str, exitStatus: int = 1) -> None:
        super().__init__(f"{messageId} {text}")
        self.messageId = messageId
        self.text = text
        self.exitStatus = exitStatus


@dataclass(frozen=True)
class ManifestEntry:
    sha256: str
    secretName: str | None = None


@dataclass
class Manifest:
    """
    What the assistant last wrote into a folder.
    """

    files: dict[str, ManifestEntry] = field(default_factory=dict)

    def to_json(self) -> bytes:
        files: dict[str, dict[str, str]] = {}
        for path in sorted(self.files):
            entry = self.files[path]
            files[path] = {"sha256": entry.sha256}
            if entry.secretName is not None:
                files[path]["secret"] = entry.secretName
        document = {"version": MANIFEST_VERSION, "files": files}
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        def damaged(why: str) -> DeploymentError:
            return DeploymentError(
                "NSA0042E",
                f"the manifest {where} cannot be used ({why}): nothing was"
                " written; restore it, or move the folder aside and generate"
                " into a new one",
            )

        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise damaged("it is not JSON") from None
        if not isinstance(document, dict) or document.get("version") != 1:
            raise damaged("it is not a manifest of version 1")
        files = document.get("files")
        if not isinstance(files, dict):
            raise damaged("it has no files")
        manifest = cls()
        for path, entry in files.items():
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("sha256"), str)
                or not isinstance(entry.get("secret", ""), str)
                or not _inside(path)
            ):
                raise damaged(f"its entry for {path!r} is wrong")
            manifest.files[path] = ManifestEntry(entry["sha256"], entry.get("secret"))
        return manifest


def _inside(path: object) -> bool:
    """
    Whether a manifest path stays inside the folder: a damaged or planted
    manifest must not make the deployment read or remove files elsewhere.
    """
    if not isinstance(path, str) or not path or path.startswith("/"):
        return False
    return ".." not in path.split("/") and "\x00" not in path


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class Change(Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REMOVE = "remove"
    ABANDON = "abandon"
    """No longer generated, but edited: left in place and forgotten."""


@dataclass(frozen=True)
class PlannedFile:
    """
    What happens to one path.

    @ivar edited: the file in the folder is not what the assistant last
        wrote there (or the assistant never wrote it): an update of it
        needs C{force}.
    """

    path: str
    change: Change
    file: GeneratedFile | None
    current: bytes | None
    edited: bool = False
    known: bool = True


@dataclass(frozen=True)
class Plan:
    files: tuple[PlannedFile, ...]

    @property
    def conflicts(self) -> list[PlannedFile]:
        return [p for p in self.files if p.change is Change.UPDATE and p.edited]


def plan(
    generated: list[GeneratedFile],
    manifest: Manifest,
    current: Mapping[str, bytes | None],
) -> Plan:
    """
    Decide what to do with each file, from what is generated, what the
    manifest says was written, and what the folder holds now (C{None}: no
    file).
    """
    planned: list[PlannedFile] = []
    paths = {f.path for f in generated}
    for file in generated:
        now = current.get(file.path)
        if now is None:
            planned.append(PlannedFile(file.path, Change.CREATE, file, None))
            continue
        entry = manifest.files.get(file.path)
        edited = entry is None or entry.sha256 != digest(now)
        change = Change.UNCHANGED if now == file.content else Change.UPDATE
        planned.append(
            PlannedFile(file.path, change, file, now, edited, entry is not None)
        )
    for path in sorted(set(manifest.files) - paths):
        now = current.get(path)
        if now is None:
            continue
        edited = manifest.files[path].sha256 != digest(now)
        change = Change.ABANDON if edited else Change.REMOVE
        planned.append(PlannedFile(path, change, None, now, edited))
    return Plan(tuple(planned))


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise DeploymentError(
            "NSA0043E", f"cannot read {path}: {e.strerror}", exitStatus=2
        ) from None


def read_manifest(folder: str) -> Manifest:
    where = os.path.join(folder, MANIFEST)
    data = _read(where)
    return Manifest() if data is None else Manifest.from_json(data, where)


def _secret_value(content: bytes, path: str, name: str) -> str:
    """
    The secret a secret file holds, checked as iked will check it, so that
    a damaged file is refused here rather than kept and deployed.
    """
    problem = None
    text = ""
    if len(content) > MAX_SECRET_FILE:
        problem = "it is too large"
    else:
        try:
            lines = content.decode("utf-8").splitlines()
            text = lines[0] if lines else ""
        except UnicodeDecodeError:
            problem = "it is not UTF-8"
    if problem is None:
        if name.endswith(PASSTICKET_KEY_SUFFIX) and not _KEY.fullmatch(text):
            problem = "it does not hold a key of 16 hex digits"
        elif not text or _CONTROL.search(text):
            problem = "it does not hold a password on its first line"
    if problem is not None:
        raise DeploymentError(
            "NSA0044E",
            f"the secret file {path} cannot be kept: {problem}; correct it, or"
            " delete it to have a new secret made",
        )
    return text


class SecretKeeper:
    """
    The C{secret(name)} the generators ask: the secret the folder already
    holds under that name, else a new one, the same for every file that
    asks for one name within a run.
    """

    def __init__(
        self,
        kept: Mapping[str, str],
        make: Callable[[str], str] | None = None,
    ) -> None:
        self._values = dict(kept)
        self._make = make or new_secret
        self.made: list[str] = []

    def __call__(self, name: str) -> str:
        if name not in self._values:
            self._values[name] = self._make(name)
            self.made.append(name)
        return self._values[name]

    def values(self) -> list[str]:
        return list(self._values.values())


def new_secret(name: str) -> str:
    """
    A new secret of the kind its name says: a PassTicket key of 16 hex
    digits (64 random bits, what the DES key holds), or a password of 24
    URL-safe characters (144 random bits).
    """
    if name.endswith(PASSTICKET_KEY_SUFFIX):
        return secrets.token_hex(8).upper()
    if name.endswith(PASSWORD_SUFFIX):
        return secrets.token_urlsafe(18)
    raise ValueError(f"unknown kind of secret {name!r}")


def kept_secrets(folder: str, manifest: Manifest) -> dict[str, str]:
    """
    The secrets of the secret files the manifest records and the folder
    still holds, by name; the first file of a name (in path order) wins.
    """
    kept: dict[str, str] = {}
    for path in sorted(manifest.files):
        name = manifest.files[path].secretName
        if name is None or name in kept:
            continue
        content = _read(os.path.join(folder, path))
        if content is not None:
            kept[name] = _secret_value(content, path, name)
    return kept


@dataclass(frozen=True)
class Prepared:
    files: list[GeneratedFile]
    plan: Plan
    secrets: list[str]
    made: list[str]


def prepare(
    description: Description,
    folder: str,
    make: Callable[[str], str] | None = None,
) -> Prepared:
    """
    Generate against what C{folder} holds: its kept secrets, its manifest
    and its files.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DeploymentError("NSA0048E", f"{folder} is not a folder", exitStatus=2)
    manifest = read_manifest(folder)
    keeper = SecretKeeper(kept_secrets(folder, manifest), make)
    files = generate(description, keeper)
    paths = {f.path for f in files} | set(manifest.files)
    current = {p: _read(os.path.join(folder, p)) for p in sorted(paths)}
    return Prepared(files, plan(files, manifest, current), keeper.values(), keeper.made)


@dataclass(frozen=True)
class DeploymentReport:
    folder: str
    plan: Plan
    newSecrets: list[str]

    def count(self, change: Change) -> int:
        return sum(1 for p in self.plan.files if p.change is change)


def _refusal(conflicts: list[PlannedFile], folder: str) -> DeploymentError:
    lines = [
        os.path.join(folder, conflict.path)
        + (
            " was edited since nss-assistant generated it"
            if conflict.known
            else " was not written by nss-assistant"
        )
        for conflict in conflicts
    ]
    return DeploymentError(
        "NSA0040E",
        "not overwritten, and nothing was written: "
        + "; ".join(lines)
        + " (nss-assistant diff shows the changes; --force overwrites)",
    )


def _write(folder: str, file: GeneratedFile) -> None:
    target = os.path.join(folder, file.path)
    directory = os.path.dirname(target)
    secretDirectory = file.role is Role.SECRET
    os.makedirs(directory, mode=0o700 if secretDirectory else 0o755, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".nss-assistant-", dir=directory)
    try:
        os.fchmod(handle, file.mode)
        with os.fdopen(handle, "wb") as f:
            f.write(file.content)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def deploy(
    description: Description,
    folder: str,
    *,
    force: bool = False,
    make: Callable[[str], str] | None = None,
) -> DeploymentReport:
    """
    Write the installation into C{folder}, each file with its mode, and
    record the manifest.

    @param force: overwrite files edited since they were generated.
    @raise DeploymentError: an edited file without C{force} (nothing is
        written then), a damaged manifest or secret file, or a folder that
        cannot be written.
    """
    prepared = prepare(description, folder, make)
    if prepared.plan.conflicts and not force:
        raise _refusal(prepared.plan.conflicts, folder)
    manifest = Manifest()
    try:
        os.makedirs(folder, exist_ok=True)
        for planned in prepared.plan.files:
            file = planned.file
            if planned.change is Change.REMOVE:
                os.unlink(os.path.join(folder, planned.path))
                continue
            if file is None:
                continue
            if planned.change is not Change.UNCHANGED:
                _write(folder, file)
            else:
                os.chmod(os.path.join(folder, file.path), file.mode)
            manifest.files[file.path] = ManifestEntry(
                digest(file.content), file.secretName
            )
        _write(folder, GeneratedFile(MANIFEST, manifest.to_json(), Role.SECRET))
    except OSError as e:
        raise DeploymentError(
            "NSA0043E",
            f"cannot write into {folder}: {e.strerror}"
            + (f" ({e.filename})" if e.filename else ""),
            exitStatus=2,
        ) from None
    return DeploymentReport(folder, prepared.plan, prepared.made)


def _masked(text: str, values: list[str]) -> str:
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


def diff(
    description: Description,
    folder: str,
    make: Callable[[str], str] | None = None,
) -> list[str]:
    """
    What a C{deploy} would change in C{folder}, as unified diffs per file
    (lines without their newlines), with no secret shown: a secret file is
    only said to be created or changed, and secret values anywhere else are
    masked.  An edited file is marked, since C{deploy} would refuse it
    without C{force}.  Empty when nothing would change.
    """
    prepared = prepare(description, folder, make)
    lines: list[str] = []
    for planned in prepared.plan.files:
        if planned.change is Change.UNCHANGED:
            continue
        edited = " (edited since generated: deploy needs --force)"
        note = edited if planned.edited and planned.change is Change.UPDATE else ""
        secret = planned.file is not None and planned.file.role is Role.SECRET
        if planned.change is Change.REMOVE:
            lines.append(f"NSA0072I {planned.path}: no longer generated, removed")
            continue
        if planned.change is Change.ABANDON:
            lines.append(
                f"NSA0072I {planned.path}: no longer generated, edited: left in place"
            )
            continue
        if secret:
            what = "created" if planned.change is Change.CREATE else "changed"
            lines.append(
                f"NSA0073I {planned.path}: secret file {what} (not shown){note}"
            )
            continue
        assert planned.file is not None
        old = (planned.current or b"").decode("utf-8", "replace").splitlines()
        new = planned.file.content.decode("utf-8", "replace").splitlines()
        header = "/dev/null" if planned.current is None else f"a/{planned.path}"
        if note:
            lines.append(f"NSA0074I {planned.path}{note}")
        lines += difflib.unified_diff(
            old, new, header, f"b/{planned.path}", lineterm=""
        )
    return [_masked(line, prepared.secrets) for line in lines]
