"""
Tests for L{nsstwisted.cli.assistant}, the C{nss-assistant} command: its
subcommands, messages and exit statuses.

The description is built in Python and handed to the command through its
L{Tools}, in place of the TOML loader and the validation, which have tests
of their own.
"""

from __future__ import annotations

import dataclasses
import io
import os

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.assistant.model import Description, DescriptionError, Finding
from nsstwisted.cli.assistant import SUBCOMMANDS, Tools, run
from tests.assistantexamples import example

FINDING = Finding(
    "site.toml",
    "images.MVS1.stacks.TCPIP",
    "clientName",
    "two stacks have the client name MVS1_TCPIP",
    "NSA0003E",
)
WARNING = Finding(
    "site.toml", "certificates.old", "", "no stack uses this certificate", "NSA0009W"
)


class NssAssistantTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.out = os.path.join(self.folder, "out")
        self.description = example("/srv/example")
        self.findings: list[Finding] = []
        self.loaded: list[str] = []

    def load(self, path: str) -> Description:
        self.loaded.append(path)
        if path == "missing.toml":
            raise FileNotFoundError(2, "No such file or directory", path)
        if path == "broken.toml":
            raise DescriptionError([FINDING])
        return self.description

    def validate(self, description: Description) -> list[Finding]:
        return self.findings

    def nss_assistant(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = run(list(argv), out, err, tools=Tools(self.load, self.validate))
        return status, out.getvalue(), err.getvalue()

    def test_generate(self) -> None:
        status, out, err = self.nss_assistant(
            "generate", "site.toml", "--out", self.out
        )
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(self.loaded, ["site.toml"])
        lines = out.splitlines()
        self.assertEqual(
            lines[0],
            f"NSA0070I files generated in {self.out}: 23 created, 0 updated,"
            " 0 unchanged, 0 removed",
        )
        self.assertTrue(lines[1].startswith("NSA0071I new secrets were made for "))
        self.assertTrue(os.path.exists(os.path.join(self.out, "MVS1", "iked.conf")))

    def test_generateRefusesEdited(self) -> None:
        self.nss_assistant("generate", "site.toml", "--out", self.out)
        path = os.path.join(self.out, "NSSD1", "nssd.conf")
        with open(path, "a") as f:
            f.write("# mine\n")
        status, out, err = self.nss_assistant("generate", "site.toml", "-o", self.out)
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err,
            "nss-assistant: NSA0040E not overwritten, and nothing was written:"
            f" {path} was edited since nss-assistant generated it (nss-assistant"
            " diff shows the changes; --force overwrites)\n",
        )
        status, out, err = self.nss_assistant("diff", "site.toml", "--out", self.out)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("-# mine", out.splitlines())
        status, out, err = self.nss_assistant(
            "generate", "site.toml", "--out", self.out, "--force"
        )
        self.assertEqual((status, err), (0, ""))
        self.assertIn("1 updated", out)
        self.assertNotIn("NSA0071I", out)

    def test_diffUpToDate(self) -> None:
        self.nss_assistant("generate", "site.toml", "--out", self.out)
        status, out, err = self.nss_assistant("diff", "site.toml", "--out", self.out)
        self.assertEqual(
            (status, out, err),
            (0, f"NSA0075I no changes: {self.out} is what generate writes\n", ""),
        )

    def test_check(self) -> None:
        self.findings = [WARNING]
        status, out, err = self.nss_assistant("check", "site.toml")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            out,
            f"nss-assistant: {WARNING}\n"
            "NSA0076I the description site.toml can be generated: 2 servers,"
            " 2 images, 4 stacks, 5 certificates, 1 operators\n",
        )

    def test_findingsRefuse(self) -> None:
        """
        A description with errors generates nothing: each finding is
        listed with its location, then NSA0047E.
        """
        self.findings = [FINDING, WARNING]
        for argv in (
            ["generate", "site.toml", "--out", self.out],
            ["diff", "site.toml", "--out", self.out],
            ["check", "site.toml"],
        ):
            status, out, err = self.nss_assistant(*argv)
            self.assertEqual(status, 1, argv)
            self.assertEqual(
                err,
                "nss-assistant: NSA0003E site.toml: [images.MVS1.stacks.TCPIP]"
                " clientName: two stacks have the client name MVS1_TCPIP\n"
                "nss-assistant: NSA0047E the description site.toml has 1 errors:"
                " correct them; nothing was generated\n",
            )
            self.assertEqual(out, f"nss-assistant: {WARNING}\n")
        self.assertFalse(os.path.exists(self.out))

    def test_descriptionUnreadable(self) -> None:
        status, out, err = self.nss_assistant("check", "broken.toml")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err.splitlines(),
            [
                f"nss-assistant: {FINDING}",
                "nss-assistant: NSA0045E the description broken.toml cannot be"
                " read: 1 findings; nothing was generated",
            ],
        )
        status, out, err = self.nss_assistant("generate", "missing.toml", "-o", "x")
        self.assertEqual(
            (status, err),
            (
                2,
                "nss-assistant: NSA0046E cannot read the description missing.toml:"
                " No such file or directory\n",
            ),
        )

    def test_generationError(self) -> None:
        """
        What the validation should have refused, and generation finds,
        is refused with its ID, without a traceback.
        """
        server = self.description.servers[0]
        self.description = dataclasses.replace(
            self.description,
            servers=(dataclasses.replace(server, port=0), self.description.servers[1]),
        )
        status, out, err = self.nss_assistant("generate", "site.toml", "-o", self.out)
        self.assertEqual((status, out), (1, ""))
        self.assertTrue(err.startswith("nss-assistant: NSA0054E NSS server NSSD1"))

    def test_outputNotWritable(self) -> None:
        blocker = os.path.join(self.folder, "file")
        with open(blocker, "w") as f:
            f.write("x\n")
        status, out, err = self.nss_assistant(
            "generate", "site.toml", "--out", os.path.join(blocker, "out")
        )
        self.assertEqual((status, out), (2, ""))
        self.assertTrue(err.startswith("nss-assistant: NSA0043E "), err)

    def test_usage(self) -> None:
        for argv, message in [
            ([], "generate or diff or check or import or serve is needed"),
            (["generate", "site.toml"], "generate needs --out DIR"),
            (["diff", "site.toml"], "diff needs --out DIR"),
            (["check"], "give one DESCRIPTION file"),
            (["check", "a", "b"], "give one DESCRIPTION file"),
            (["frobnicate"], "Unknown command: frobnicate"),
        ]:
            status, out, err = self.nss_assistant(*argv)
            self.assertEqual((status, out), (2, ""), argv)
            self.assertEqual(
                err, f"nss-assistant: {message} (see nss-assistant --help)\n"
            )
        self.assertEqual(self.loaded, [])

    def test_help(self) -> None:
        status, out, err = self.nss_assistant("--help")
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(
            out.startswith(
                "Usage: nss-assistant generate DESCRIPTION --out DIR [--force]\n"
                "       nss-assistant diff DESCRIPTION --out DIR\n"
                "       nss-assistant check DESCRIPTION\n"
                "       nss-assistant import "
            ),
            out,
        )
        status, out, _ = self.nss_assistant("generate", "--help")
        self.assertEqual(status, 0)
        self.assertIn("--force", out)
        self.assertEqual(
            [c.name for c in SUBCOMMANDS],
            ["generate", "diff", "check", "import", "serve"],
        )
