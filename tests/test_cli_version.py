"""
C{--version} names nsstwisted's release in every command and both daemons,
never Twisted's: each is run as the real program, in a process of its own.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted import __version__
from tests.daemons import ROOT


def console_scripts() -> dict[str, str]:
    """Every command the package installs, with its module."""
    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, "setup.cfg"))
    scripts = {}
    for line in setup["options.entry_points"]["console_scripts"].splitlines():
        if line.strip():
            name, _, target = line.partition("=")
            scripts[name.strip()] = target.strip().split(":")[0]
    return scripts


def run(code: str, *argv: str) -> tuple[int, str, str]:
    environment = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


class VersionTests(SynchronousTestCase):
    def assertVersion(self, program: str, code: str, *argv: str) -> None:
        status, out, err = run(code, *argv, "--version")
        self.assertEqual(
            (status, out, err),
            (0, f"{program} (nsstwisted) {__version__}\n", ""),
            f"{program} {' '.join(argv)} --version",
        )

    def test_commands(self) -> None:
        """
        Every command, and every command of theirs that has its own options
        (C{nss-modify nssd}, C{nss-client sign}, ...).
        """
        scripts = console_scripts()
        self.assertEqual(
            sorted(scripts),
            [
                "nss-assistant",
                "nss-client",
                "nss-database",
                "nss-ipsec",
                "nss-modify",
                "nss-passticket",
                "nss-racf",
            ],
        )
        subcommands = {
            "nss-modify": ["nssd", "iked"],
            "nss-client": ["sign", "verify", "cacerts"],
            "nss-database": ["copy", "rekey", "version", "backup"],
            "nss-assistant": ["generate", "diff", "check", "import", "serve"],
        }
        for program, module in scripts.items():
            code = f"import {module} as m; m.main()"
            self.assertVersion(program, code)
            for subcommand in subcommands.get(program, []):
                self.assertVersion(program, code, subcommand)

    def test_daemons(self) -> None:
        """
        C{twistd nssd --version} and C{twistd iked --version}: the plugins'.
        """
        code = "from twisted.scripts.twistd import run; run()"
        for daemon in ("nssd", "iked"):
            self.assertVersion(daemon, code, daemon)
