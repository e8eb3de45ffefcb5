"""
Tests for L{nsstwisted.cli.passticket}, the C{nss-passticket} command.
"""

# Trial's assertions carry no annotations; calling them is fine here.

import io
import sys

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted import __version__
from nsstwisted.cli.passticket import main, run
from nsstwisted.security.passticket import ALPHABET, generate_passticket

KEY_HEX = "098D61A85585D2AB"
KEY = bytes.fromhex(KEY_HEX)
NOW = 1_700_000_000
BASE = ["--userid", "ibmuser", "--applname", "tsoapp", "--key", KEY_HEX]


class RunTests(SynchronousTestCase):
    def runCommand(self, argv: list[str], clock: float = NOW) -> tuple[int, str, str]:
        stdout = io.StringIO()
        stderr = io.StringIO()
        status = run(argv, stdout=stdout, stderr=stderr, clock=lambda: clock)
        return status, stdout.getvalue(), stderr.getvalue()

    def assertUsageError(self, argv: list[str], *expected: str) -> str:
        status, out, err = self.runCommand(argv)
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
            ["-u", "IBMUSER", "-a", "TSOAPP", "-k", KEY_HEX.lower(), "-t", str(NOW)]
        )
        self.assertEqual(status, 0)
        self.assertEqual(out, generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n")

    def test_badKey(self) -> None:
        for key in ("098D61A85585D2AZ", "098D61A85585D2A", "098D61A8 5585D2AB"):
            err = self.assertUsageError(
                ["--userid", "U", "--applname", "A", "--key", key], "NSR0103E", "key"
            )
            self.assertNotIn(key, err)
            self.assertNotIn(key[:8], err)

    def test_badUserid(self) -> None:
        self.assertUsageError(
            ["--userid", "TOOLONGID", "--applname", "A", "--key", KEY_HEX],
            "NSR0103E",
            "user ID",
        )

    def test_badApplname(self) -> None:
        self.assertUsageError(
            ["--userid", "U", "--applname", "TSO-APP", "--key", KEY_HEX],
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
        for name in ("userid", "applname", "key"):
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
        error = self.assertRaises(SystemExit, main, [*BASE, "--time", str(NOW)])
        self.assertEqual(error.code, 0)
        error = self.assertRaises(SystemExit, main, ["--key", "nothex"])
        self.assertEqual(error.code, 2)

    def test_readsSysArgv(self) -> None:
        stdout = io.StringIO()
        self.patch(sys, "stdout", stdout)
        self.patch(sys, "argv", ["nss-passticket", *BASE, "--time", str(NOW)])
        error = self.assertRaises(SystemExit, main)
        self.assertEqual(error.code, 0)
        self.assertEqual(
            stdout.getvalue(), generate_passticket("IBMUSER", "TSOAPP", KEY, NOW) + "\n"
        )
