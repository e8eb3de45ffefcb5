"""
Tests for L{nsstwisted.cli.passticket}, the C{nss-passticket} command.
"""

# Trial's assertions carry no annotations; calling them is fine here.

import io
import os
import sys

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted import __version__
from nsstwisted.cli.passticket import main, run
from nsstwisted.security.passticket import ALPHABET, generate_passticket
from tests.terminal import run_on_terminal, run_tool, tool_argv

KEY_HEX = "098D61A85585D2AB"
KEY = bytes.fromhex(KEY_HEX)
NOW = 1_700_000_000
# The key comes from standard input: on the command line it draws a warning.
BASE = ["--userid", "ibmuser", "--applname", "tsoapp", "--key-file", "-"]


class RunTests(SynchronousTestCase):
    def runCommand(
        self, argv: list[str], clock: float = NOW, stdin: str = KEY_HEX + "\n"
    ) -> tuple[int, str, str]:
        stdout = io.StringIO()
        stderr = io.StringIO()
        status = run(
            argv,
            stdout=stdout,
            stderr=stderr,
            clock=lambda: clock,
            stdin=io.StringIO(stdin),
        )
        return status, stdout.getvalue(), stderr.getvalue()

    def assertUsageError(
        self, argv: list[str], *expected: str, stdin: str = KEY_HEX + "\n"
    ) -> str:
        status, out, err = self.runCommand(argv, stdin=stdin)
        self.assertEqual(status, 2)
        self.assertEqual(out, "")
        self.assertTrue(err.startswith("nss-passticket: "), err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.endswith("\n"))
        for text in expected:
            self.assertIn(text, err)
        return err

    def test_printsTicketForNow(self) -> None:
        status, out, err = self.runCommand(BASE, clock=NOW + 0.9)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n")
        ticket = out.strip()
        self.assertEqual(len(ticket), 8)
        self.assertTrue(all(c in ALPHABET for c in ticket))

    def test_fixedTimeMatchesLibrary(self) -> None:
        for when in (0, NOW, 2**32 - 1):
            status, out, err = self.runCommand([*BASE, "--time", str(when)])
            self.assertEqual((status, err), (0, ""))
            self.assertEqual(
                out, generate_passticket("IBMUSER", "TSOAPP", KEY, when) + "\n"
            )

    def test_shortOptions(self) -> None:
        status, out, _ = self.runCommand(
            ["-u", "IBMUSER", "-a", "TSOAPP", "-f", "-", "-t", str(NOW)],
            stdin=KEY_HEX.lower(),
        )
        self.assertEqual(status, 0)
        self.assertEqual(out, generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n")

    def test_badKey(self) -> None:
        for key in ("098D61A85585D2AZ", "098D61A85585D2A", "098D61A8 5585D2AB"):
            err = self.assertUsageError(
                ["--userid", "U", "--applname", "A", "--key-file", "-"],
                "NSR0103E",
                "key",
                stdin=key,
            )
            self.assertNotIn(key, err)
            self.assertNotIn(key[:8], err)

    def test_badUserid(self) -> None:
        self.assertUsageError(
            ["--userid", "TOOLONGID", "--applname", "A", "--key-file", "-"],
            "NSR0103E",
            "user ID",
        )

    def test_badApplname(self) -> None:
        self.assertUsageError(
            ["--userid", "U", "--applname", "TSO-APP", "--key-file", "-"],
            "NSR0103E",
            "application name",
        )

    def test_badTime(self) -> None:
        for when in ("-1", "1.5", "soon", "\u0661\u0662"):
            err = self.assertUsageError([*BASE, "--time", when], "--time")
            self.assertNotIn(KEY_HEX, err)

    def test_timeOutOfRange(self) -> None:
        self.assertUsageError([*BASE, "--time", str(2**32)], "NSR0103E", "time")

    def test_missingOptions(self) -> None:
        for name in ("userid", "applname"):
            argv = list(BASE)
            index = argv.index(f"--{name}")
            del argv[index : index + 2]
            self.assertUsageError(argv, f"--{name} is required")

    def test_unknownOptionAndExtraArguments(self) -> None:
        self.assertUsageError([*BASE, "--frobnicate"], "frobnicate")
        err = self.assertUsageError([*BASE, "extra"])
        self.assertNotIn(KEY_HEX, err)

    def test_help(self) -> None:
        status, out, err = self.runCommand(["--help"])
        self.assertEqual((status, err), (0, ""))
        self.assertIn("--userid", out)
        self.assertIn("--key", out)

    def test_version(self) -> None:
        status, out, err = self.runCommand(["--version"])
        self.assertEqual((status, err), (0, ""))
        self.assertIn(__version__, out)

    def test_defaultStreams(self) -> None:
        """
        Without explicit streams the command writes to C{sys.stdout}.
        """
        stdout = io.StringIO()
        self.patch(sys, "stdout", stdout)
        self.patch(sys, "stdin", io.StringIO(KEY_HEX))
        self.assertEqual(run([*BASE, "--time", str(NOW)]), 0)
        self.assertEqual(
            stdout.getvalue(), generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n"
        )


class MainTests(SynchronousTestCase):
    """
    L{main} is the console script: it must exit with the status itself.
    """

    def test_exitsWithStatus(self) -> None:
        self.patch(sys, "stdout", io.StringIO())
        self.patch(sys, "stderr", io.StringIO())
        self.patch(sys, "stdin", io.StringIO(KEY_HEX))
        error = self.assertRaises(SystemExit, main, [*BASE, "--time", str(NOW)])
        self.assertEqual(error.code, 0)
        error = self.assertRaises(SystemExit, main, ["--key", "nothex"])
        self.assertEqual(error.code, 2)

    def test_readsSysArgv(self) -> None:
        stdout = io.StringIO()
        self.patch(sys, "stdout", stdout)
        self.patch(sys, "stdin", io.StringIO(KEY_HEX))
        self.patch(sys, "argv", ["nss-passticket", *BASE, "--time", str(NOW)])
        error = self.assertRaises(SystemExit, main)
        self.assertEqual(error.code, 0)
        self.assertEqual(
            stdout.getvalue(), generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n"
        )


class KeyOffTheCommandLineTests(SynchronousTestCase):
    """
    The PassTicket key lets whoever holds it make tickets for every user, and
    every local user can read a running command's arguments: the key comes
    from an owner-only file, standard input or a prompt, and C{--key} is
    warned about.  The command runs as a real process.
    """

    def keyFile(self, mode: int, text: str = KEY_HEX + "\n") -> str:
        path: str = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_keyOnCommandLineWarnedAndObeyed(self) -> None:
        done = run_tool(
            "nsstwisted.cli.passticket",
            "-u",
            "ibmuser",
            "-a",
            "tsoapp",
            "--key",
            KEY_HEX,
            "--time",
            str(NOW),
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(
            done.stdout, generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n"
        )
        self.assertIn("nss-passticket: NSR0306W --key was given", done.stderr)
        self.assertIn("--key-file", done.stderr)
        self.assertNotIn(KEY_HEX, done.stderr)

    def test_keyFile(self) -> None:
        path = self.keyFile(0o600, f"  {KEY_HEX.lower()} \r\n")
        done = run_tool(
            "nsstwisted.cli.passticket",
            *["-u", "ibmuser", "-a", "tsoapp", "--key-file", path, "-t", str(NOW)],
        )
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertEqual(
            done.stdout, generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n"
        )

    def test_keyFileOpenToOthersRefused(self) -> None:
        path = self.keyFile(0o644)
        done = run_tool(
            "nsstwisted.cli.passticket",
            *["-u", "ibmuser", "-a", "tsoapp", "--key-file", path],
        )
        self.assertEqual((done.returncode, done.stdout), (2, ""))
        self.assertIn(
            f"NSR0307E the PassTicket key file {path} has mode 0644", done.stderr
        )
        self.assertNotIn(KEY_HEX, done.stderr)

    def test_keyOnStandardInput(self) -> None:
        done = run_tool(
            "nsstwisted.cli.passticket",
            *["-u", "ibmuser", "-a", "tsoapp", "--key-file", "-", "-t", str(NOW)],
            stdin=KEY_HEX + "\n",
        )
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertEqual(
            done.stdout, generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n"
        )

    def test_noKeyAndNoTerminal(self) -> None:
        """
        Without a key option and without a terminal to ask at, the command
        does not read a pipe nobody named: it says how to give the key.
        """
        done = run_tool(
            "nsstwisted.cli.passticket",
            *["-u", "ibmuser", "-a", "tsoapp"],
            stdin=KEY_HEX + "\n",
        )
        self.assertEqual((done.returncode, done.stdout), (2, ""))
        self.assertIn("NSR0307E no PassTicket key: give --key-file FILE", done.stderr)

    def test_keyAndKeyFileTogether(self) -> None:
        out, err = io.StringIO(), io.StringIO()
        status = run(
            ["-u", "U", "-a", "A", "--key", KEY_HEX, "--key-file", "-"], out, err
        )
        self.assertEqual(status, 2)
        self.assertIn("give --key-file or --key, not both", err.getvalue())

    def test_keyPromptAtTerminal(self) -> None:
        status, shown = run_on_terminal(
            tool_argv(
                "nsstwisted.cli.passticket",
                *["-u", "ibmuser", "-a", "tsoapp", "-t", str(NOW)],
            ),
            [(b"PassTicket key of TSOAPP (16 hex digits): ", KEY_HEX.encode())],
        )
        self.assertEqual(status, 0, shown)
        self.assertIn(
            generate_passticket("IBMUSER", "TSOAPP", KEY, NOW).encode(), shown
        )
        self.assertNotIn(KEY_HEX.encode(), shown)
