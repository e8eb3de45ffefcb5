"""
Tests for L{nsstwisted.assistant.deployment}: the files and their modes,
the manifest that protects an edited file, secrets kept across
generations, and a diff that never shows a secret.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.assistant.deployment import (
    MANIFEST,
    Change,
    DeploymentError,
    Manifest,
    ManifestEntry,
    deploy,
    diff,
    digest,
    new_secret,
    plan,
)
from nsstwisted.assistant.model import GeneratedFile, Role
from tests.assistantexamples import example

KEY_FILE = "MVS1/secrets/NSSD.passticket-key"
PASSWORD_FILE = "MVS1/secrets/IKEA.password"


class DeploymentTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        self.description = example("/srv/example")
        self.out = os.path.join(self.folder, "out")

    def path(self, relative: str) -> str:
        return os.path.join(self.out, relative)

    def read(self, relative: str) -> bytes:
        with open(self.path(relative), "rb") as f:
            return f.read()

    def write(self, relative: str, content: bytes) -> None:
        with open(self.path(relative), "wb") as f:
            f.write(content)


class DeployTests(DeploymentTestCase):
    def test_filesAndModes(self) -> None:
        """
        Every file is written with its mode; secret files and their folders
        are the owner's alone, and so is the manifest.
        """
        report = deploy(self.description, self.out)
        self.assertEqual(report.count(Change.CREATE), 23)
        for relative in ("MVS1/iked.conf", "NSSD1/nss-setup.racf", "MVS1/README"):
            self.assertEqual(stat.S_IMODE(os.stat(self.path(relative)).st_mode), 0o644)
        for relative in (KEY_FILE, PASSWORD_FILE, MANIFEST):
            self.assertEqual(stat.S_IMODE(os.stat(self.path(relative)).st_mode), 0o600)
        self.assertEqual(
            stat.S_IMODE(os.stat(self.path("MVS1/secrets")).st_mode), 0o700
        )

    def test_manifest(self) -> None:
        """
        The manifest records the SHA-256 of every file written, and the
        name of each secret file's secret.
        """
        deploy(self.description, self.out)
        document = json.loads(self.read(MANIFEST))
        self.assertEqual(document["version"], 1)
        files = document["files"]
        self.assertEqual(
            files["MVS1/iked.conf"], {"sha256": digest(self.read("MVS1/iked.conf"))}
        )
        self.assertEqual(files[KEY_FILE]["secret"], "NSSD1/NSSD.passticket-key")
        self.assertEqual(len(files), 23)

    def test_newSecrets(self) -> None:
        """
        New secrets come from the secrets module: a key of 16 hex digits,
        a long password; one name is one value in every file.
        """
        report = deploy(self.description, self.out)
        self.assertEqual(
            report.newSecrets,
            ["NSSD1/IKEA.password", "NSSD1/NSSD.passticket-key", "NSSD1/IKEC.password"],
        )
        key = self.read(KEY_FILE)
        self.assertRegex(key.decode(), r"^[0-9A-F]{16}\n$")
        password = self.read(PASSWORD_FILE)
        self.assertEqual(len(password), 25)
        self.assertEqual(password, self.read("NSSD1/secrets/IKEA.password"))
        self.assertNotEqual(new_secret("a.password"), new_secret("a.password"))

    def test_secretsKept(self) -> None:
        """
        A second generation reads the secrets back and changes nothing,
        even a secret an operator changed in its file (in both copies).
        """
        deploy(self.description, self.out)
        self.write(PASSWORD_FILE, b"chosen by the operator\n")
        self.write("NSSD1/secrets/IKEA.password", b"chosen by the operator\n")
        before = {p: self.read(p) for p in (KEY_FILE, PASSWORD_FILE)}
        report = deploy(self.description, self.out)
        self.assertEqual(report.newSecrets, [])
        self.assertEqual(report.count(Change.CREATE), 0)
        self.assertEqual({p: self.read(p) for p in before}, before)

    def test_sameBytes(self) -> None:
        """
        Generation is deterministic: a regeneration rewrites nothing.
        """
        deploy(self.description, self.out)
        report = deploy(self.description, self.out)
        self.assertEqual(report.count(Change.UNCHANGED), 23)

    def test_editedNotOverwritten(self) -> None:
        """
        A file edited since it was generated is not overwritten, and
        nothing else is written either; the refusal names the file.
        """
        deploy(self.description, self.out)
        self.write("MVS1/iked.conf", b"# mine\n")
        changed = dataclasses.replace(
            self.description,
            images=(
                dataclasses.replace(self.description.images[0], systemName="MVS9"),
                self.description.images[1],
            ),
        )
        readme = self.read("MVS1/README")
        error = self.assertRaises(DeploymentError, deploy, changed, self.out)
        self.assertEqual((error.messageId, error.exitStatus), ("NSA0040E", 1))
        self.assertIn(
            f"{self.path('MVS1/iked.conf')} was edited since nss-assistant"
            " generated it",
            str(error),
        )
        self.assertEqual(self.read("MVS1/iked.conf"), b"# mine\n")
        self.assertEqual(self.read("MVS1/README"), readme)

    def test_force(self) -> None:
        deploy(self.description, self.out)
        self.write("MVS1/iked.conf", b"# mine\n")
        deploy(self.description, self.out, force=True)
        self.assertIn(b"IkeConfig", self.read("MVS1/iked.conf"))
        deploy(self.description, self.out)

    def test_editedAsGenerated(self) -> None:
        """
        A file an operator edited into just what the generation now writes
        needs no force: nothing of the operator's would be lost.
        """
        deploy(self.description, self.out)
        changed = dataclasses.replace(
            self.description,
            servers=(
                dataclasses.replace(self.description.servers[0], syslogLevel=3),
                self.description.servers[1],
            ),
        )
        self.write(
            "NSSD1/nssd.conf",
            self.read("NSSD1/nssd.conf").replace(b"SyslogLevel 0", b"SyslogLevel 3"),
        )
        report = deploy(changed, self.out)
        self.assertIn(
            ("NSSD1/nssd.conf", Change.UNCHANGED),
            [(p.path, p.change) for p in report.plan.files],
        )
        self.assertEqual(diff(changed, self.out), [])

    def test_foreignFile(self) -> None:
        """
        A file the assistant did not write (no manifest) is not overwritten.
        """
        os.makedirs(self.path("MVS1"))
        self.write("MVS1/iked.conf", b"# written by hand\n")
        error = self.assertRaises(DeploymentError, deploy, self.description, self.out)
        self.assertIn(
            f"{self.path('MVS1/iked.conf')} was not written by nss-assistant",
            str(error),
        )
        self.assertFalse(os.path.exists(self.path(MANIFEST)))

    def test_noLongerGenerated(self) -> None:
        """
        A file no longer generated is removed, unless it was edited: then
        it is left, and forgotten.
        """
        deploy(self.description, self.out)
        self.write("MVS2/README", b"edited\n")
        smaller = dataclasses.replace(
            self.description, images=self.description.images[:1]
        )
        report = deploy(smaller, self.out)
        self.assertFalse(os.path.exists(self.path("MVS2/iked.conf")))
        self.assertEqual(self.read("MVS2/README"), b"edited\n")
        self.assertIn(
            ("MVS2/README", Change.ABANDON),
            [(p.path, p.change) for p in report.plan.files],
        )
        self.assertNotIn("MVS2/README", json.loads(self.read(MANIFEST))["files"])

    def test_damagedSecretFile(self) -> None:
        """
        A secret file that does not hold a secret is not kept, and not
        silently replaced either.
        """
        deploy(self.description, self.out)
        self.write(KEY_FILE, b"not a key\n")
        error = self.assertRaises(DeploymentError, deploy, self.description, self.out)
        self.assertEqual(error.messageId, "NSA0044E")
        self.assertIn("16 hex digits", str(error))
        self.assertNotIn("not a key", str(error))

    def test_damagedManifest(self) -> None:
        deploy(self.description, self.out)
        for content in (b"{", b'{"version": 1, "files": {"../x": {"sha256": ""}}}'):
            self.write(MANIFEST, content)
            error = self.assertRaises(
                DeploymentError, deploy, self.description, self.out
            )
            self.assertEqual(error.messageId, "NSA0042E")

    def test_notAFolder(self) -> None:
        os.makedirs(self.folder)
        with open(self.out, "w") as f:
            f.write("a file\n")
        error = self.assertRaises(DeploymentError, deploy, self.description, self.out)
        self.assertEqual((error.messageId, error.exitStatus), ("NSA0048E", 2))


class DiffTests(DeploymentTestCase):
    def test_nothingToChange(self) -> None:
        deploy(self.description, self.out)
        self.assertEqual(diff(self.description, self.out), [])

    def test_unifiedDiff(self) -> None:
        """
        A changed description shows as a unified diff of each file it
        changes.
        """
        deploy(self.description, self.out)
        changed = dataclasses.replace(
            self.description,
            servers=(
                dataclasses.replace(self.description.servers[0], syslogLevel=3),
                self.description.servers[1],
            ),
        )
        lines = diff(changed, self.out)
        self.assertEqual(lines[:2], ["--- a/NSSD1/nssd.conf", "+++ b/NSSD1/nssd.conf"])
        self.assertIn("-  SyslogLevel 0", lines)
        self.assertIn("+  SyslogLevel 3", lines)
        self.assertEqual(diff(self.description, self.out), [])

    def test_secretsMasked(self) -> None:
        """
        A diff into an empty folder shows the new secret files as created,
        without their content, and no secret appears anywhere in it.
        """
        made: dict[str, str] = {}

        def make(name: str) -> str:
            made[name] = new_secret(name)
            return made[name]

        lines = diff(self.description, self.out, make)
        self.assertIn(f"NSA0073I {KEY_FILE}: secret file created (not shown)", lines)
        text = "\n".join(lines)
        self.assertTrue(made)
        for value in made.values():
            self.assertNotIn(value, text)
        self.assertFalse(os.path.exists(self.out))

    def test_secretInAnotherFileMasked(self) -> None:
        """
        Should a secret turn up in a file that is not a secret file (an
        operator pasted one into a README), the diff masks it.
        """
        deploy(self.description, self.out)
        key = self.read(KEY_FILE).decode().strip()
        self.write("MVS1/README", f"the key is {key}\n".encode())
        text = "\n".join(diff(self.description, self.out))
        self.assertIn("-the key is ********", text)
        self.assertNotIn(key, text)
        self.assertIn("NSA0074I MVS1/README (edited since generated", text)

    def test_changedSecretFile(self) -> None:
        deploy(self.description, self.out)
        self.write("NSSD1/secrets/IKEA.password", b"another\n")
        lines = diff(self.description, self.out)
        self.assertEqual(
            lines,
            [
                "NSA0073I NSSD1/secrets/IKEA.password: secret file changed (not"
                " shown) (edited since generated: deploy needs --force)"
            ],
        )


class PlanTests(SynchronousTestCase):
    """
    The decisions alone, without a folder.
    """

    def test_plan(self) -> None:
        new = GeneratedFile("a", b"new\n", Role.CONFIGURATION)
        same = GeneratedFile("b", b"same\n", Role.CONFIGURATION)
        ours = GeneratedFile("c", b"v2\n", Role.CONFIGURATION)
        theirs = GeneratedFile("d", b"v2\n", Role.CONFIGURATION)
        manifest = Manifest(
            {
                "b": ManifestEntry(digest(b"same\n")),
                "c": ManifestEntry(digest(b"v1\n")),
                "d": ManifestEntry(digest(b"v1\n")),
                "e": ManifestEntry(digest(b"old\n")),
            }
        )
        result = plan(
            [new, same, ours, theirs],
            manifest,
            {"a": None, "b": b"same\n", "c": b"v1\n", "d": b"edited\n", "e": b"old\n"},
        )
        self.assertEqual(
            [(p.path, p.change, p.edited) for p in result.files],
            [
                ("a", Change.CREATE, False),
                ("b", Change.UNCHANGED, False),
                ("c", Change.UPDATE, False),
                ("d", Change.UPDATE, True),
                ("e", Change.REMOVE, False),
            ],
        )
        self.assertEqual([p.path for p in result.conflicts], ["d"])
