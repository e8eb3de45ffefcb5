"""
Tests for L{nsstwisted.security.racf.secretkeywords}: which operands of a RACF
command are secrets, and filling in the ones written without a value.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.errors import InvalidValueError
from nsstwisted.security.racf.commands import SYNTAX
from nsstwisted.security.racf.lexer import (
    Operand,
    RacfCommand,
    parse_command,
    render_command,
)
from nsstwisted.security.racf.secretkeywords import (
    SECRET_KEYWORDS,
    SecretOperand,
    fill_secrets,
    find_secrets,
    mask_secrets,
)
from nsstwisted.security.racf.syntax import parse_command_operands

from . import strategies


def found(text: str) -> list[tuple[str, bool]]:
    return [(s.keyword, s.given) for s in find_secrets(parse_command(text))]


class FindSecretsTests(SynchronousTestCase):
    def test_secretKeywords(self) -> None:
        self.assertEqual(
            found("ADDUSER U1 PASSWORD(x) NAME('a')"), [("PASSWORD", True)]
        )
        self.assertEqual(found("ALTUSER U1 NAME(A) PASSWORD"), [("PASSWORD", False)])
        self.assertEqual(
            found("RACDCERT ID(U1) ADD('c.p12') PASSWORD('p w')"), [("PASSWORD", True)]
        )
        self.assertEqual(
            find_secrets(parse_command("RDEFINE PTKTDATA A SSIGNON(KEYMASKED(k))")),
            [SecretOperand("SSIGNON(KEYMASKED)", "KEYMASKED", True)],
        )
        self.assertEqual(
            found("RALTER PTKTDATA A SSIGNON(KEYMASKED)"),
            [("SSIGNON(KEYMASKED)", False)],
        )

    def test_abbreviationsAndCase(self) -> None:
        """
        Keywords are resolved as the interpreter resolves them, so an
        abbreviated secret keyword is still a secret.
        """
        self.assertEqual(found("adduser u1 p(x)"), [("PASSWORD", True)])
        self.assertEqual(found("ALTUSER U1 PASSW(x)"), [("PASSWORD", True)])
        self.assertEqual(
            found("RDEFINE PTKTDATA A SS(KEYM(k))"), [("SSIGNON(KEYMASKED)", True)]
        )

    def test_notSecrets(self) -> None:
        for text in [
            "SETROPTS PASSWORD(REVOKE(3))",
            "ADDUSER U1 NOPASSWORD",
            # In the positional place a bare word is the user's name.
            "ADDUSER PASSW",
            "ADDUSER 'PASSWORD'",
            "ALTUSER U1 'PASSWORD(x)'",
            "RDEFINE SERVAUTH A UACC(NONE)",
            "LISTUSER PASSWORD",
            "FOO PASSWORD(x)",
            # Unknown or ambiguous keywords are the interpreter's to report.
            "ALTUSER U1 PASSWORDX(x)",
            "RACDCERT ID(U1) LIST",
        ]:
            self.assertEqual(found(text), [], text)

    def test_emptyParenthesesAreGivenNothing(self) -> None:
        """
        C{PASSWORD()} is neither a secret on the command line nor a request
        to be asked: the interpreter refuses it as before.
        """
        self.assertEqual(found("ALTUSER U1 PASSWORD()"), [])


class MaskSecretsTests(SynchronousTestCase):
    def masked(self, text: str) -> str:
        return render_command(mask_secrets(parse_command(text)))

    def test_valuesMasked(self) -> None:
        """
        Every secret's value, abbreviated or nested, is replaced; the rest
        of the command stays as written, for the audit trail.
        """
        self.assertEqual(
            self.masked("ADDUSER U1 PASSW(Sekr1t) NAME('a')"),
            "ADDUSER U1 PASSW('********') NAME('a')",
        )
        self.assertEqual(
            self.masked("RALTER PTKTDATA NSSD.U1 SSIGNON(KEYMASKED(E001193519561977))"),
            "RALTER PTKTDATA NSSD.U1 SSIGNON(KEYMASKED('********'))",
        )
        self.assertEqual(
            self.masked("RACDCERT ID(U1) ADD('c.p12') PASSWORD('p w')"),
            "RACDCERT ID(U1) ADD('c.p12') PASSWORD('********')",
        )

    def test_nothingToMask(self) -> None:
        for text in ("PERMIT A CLASS(SERVAUTH) ID(U1)", "ALTUSER U1 PASSWORD"):
            command = parse_command(text)
            self.assertEqual(mask_secrets(command), command)


class FillSecretsTests(SynchronousTestCase):
    def test_filledValueReachesTheInterpreter(self) -> None:
        for text, keyword, nested in [
            ("ALTUSER U1 PASSWORD NAME(X)", "PASSWORD", None),
            ("ADDUSER U1 PASSW", "PASSWORD", None),
            (
                "RDEFINE PTKTDATA A SSIGNON(KEYMASKED) UACC(NONE)",
                "KEYMASKED",
                "SSIGNON",
            ),
        ]:
            secret = "p(w) 'x', /* y */"
            command = fill_secrets(parse_command(text), [secret])
            ops = parse_command_operands(command, SYNTAX[command.verb])
            if nested is not None:
                ops = ops.nested[nested]
            self.assertEqual(ops.value(keyword), secret, text)
            self.assertEqual([s.given for s in find_secrets(command)], [True], text)

    def test_onlyBareKeywordsFilled(self) -> None:
        command = parse_command("RDEFINE PTKTDATA A SSIGNON(KEYMASKED(k)) UACC(NONE)")
        self.assertEqual(fill_secrets(command, []), command)
        self.assertRaises(ValueError, fill_secrets, command, ["x"])
        self.assertRaises(
            ValueError, fill_secrets, parse_command("ALTUSER U1 PASSWORD"), []
        )

    def test_badValuesRefusedWithoutEcho(self) -> None:
        command = parse_command("ALTUSER U1 PASSWORD")
        for value in ["", "Sup3r\tx", "Sup3r\x00", "Sup3r\x85", "Sup3r\u2028"]:
            error = self.assertRaises(InvalidValueError, fill_secrets, command, [value])
            self.assertIn("PASSWORD", str(error))
            self.assertNotIn("Sup3r", str(error))

    @given(
        st.sampled_from(sorted(SECRET_KEYWORDS)),
        st.lists(strategies.operands, max_size=5),
        st.sampled_from(["PASSWORD", "PASSW", "SSIGNON(KEYMASKED)", "SS(KEYM)"]),
        st.integers(0, 5),
    )
    def test_anyCommand(
        self, verb: str, operands: list[Operand], bare: str, at: int
    ) -> None:
        """
        Whatever the operands, finding never raises, and filling every bare
        secret keyword leaves none bare and the same keywords found.
        """
        extra = parse_command(f"X {bare}").operands
        command = RacfCommand(
            verb, tuple(operands[:at]) + extra + tuple(operands[at:]), None
        )
        before = find_secrets(command)
        missing = [s for s in before if not s.given]
        filled = fill_secrets(command, ["v"] * len(missing))
        after = find_secrets(filled)
        self.assertEqual([s.keyword for s in after], [s.keyword for s in before])
        self.assertTrue(all(s.given for s in after))
