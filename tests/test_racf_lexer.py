"""
Tests for L{nsstwisted.security.racf.lexer}: the lexer and parser of the RACF
command language, by example for each rule and by property for robustness.
"""

# Twisted trial's assertion methods carry no annotations; calling them is
# fine, so mypy is told so once here rather than on every line.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.errors import CommandSyntaxError
from nsstwisted.security.racf.lexer import (
    MAX_COMMAND_LENGTH,
    MAX_LINE_LENGTH,
    MAX_NESTING,
    Operand,
    RacfCommand,
    parse_command,
    parse_job,
    render_command,
)

from . import strategies

# Deterministic-friendly: no example database written into the tree, no
# deadline to trip on a slow machine.  Structured examples are costly to
# generate, so they get fewer than plain text, which is cheap.
fast = settings(max_examples=100, deadline=None, database=None)
cheap = settings(max_examples=500, deadline=None, database=None)


def word(text: str, *args: Operand) -> Operand:
    """
    A bare word; with arguments, a word followed by parentheses.
    """
    return Operand(text, False, tuple(args) if args else None)


def call(text: str, *args: Operand) -> Operand:
    """
    A bare word followed by parentheses, possibly empty.
    """
    return Operand(text, False, tuple(args))


def quoted(text: str) -> Operand:
    return Operand(text, True, None)


def command(verb: str, *operands: Operand, line: int | None = None) -> RacfCommand:
    return RacfCommand(verb, tuple(operands), line)


class SyntaxErrorMixin:
    """
    Check the details of the errors the lexer raises.
    """

    def assert_syntax_error(
        self: Any,
        parse: Callable[[str], object],
        text: str,
        command: str,
        line: int | None,
        message: str | None = None,
        keyword: str | None = None,
    ) -> CommandSyntaxError:
        error: CommandSyntaxError = self.assertRaises(CommandSyntaxError, parse, text)
        self.assertEqual(
            (error.command, error.line, error.keyword), (command, line, keyword)
        )
        if message is not None:
            self.assertIn(message, error.text)
        return error


class RealCommandTests(SynchronousTestCase):
    """
    The commands the NSS setup actually uses parse to the expected trees.
    """

    def test_ptktdata(self) -> None:
        self.assertEqual(
            parse_command(
                "RDEFINE PTKTDATA NSSD SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)"
            ),
            command(
                "RDEFINE",
                word("PTKTDATA"),
                word("NSSD"),
                word("SSIGNON", word("KEYMASKED", word("E001193519561977"))),
                word("UACC", word("NONE")),
            ),
        )

    def test_permit(self) -> None:
        self.assertEqual(
            parse_command(
                "PERMIT EZB.NSS.MVS1.CLIENT1.IPSEC.CERT CLASS(SERVAUTH) "
                "ID(NSSUSER) ACCESS(READ)"
            ),
            command(
                "PERMIT",
                word("EZB.NSS.MVS1.CLIENT1.IPSEC.CERT"),
                word("CLASS", word("SERVAUTH")),
                word("ID", word("NSSUSER")),
                word("ACCESS", word("READ")),
            ),
        )

    def test_racdcert_connect(self) -> None:
        self.assertEqual(
            parse_command(
                "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('My CA') RING(NSSRING) "
                "USAGE(CERTAUTH))"
            ),
            command(
                "RACDCERT",
                word("ID", word("NSSD")),
                word(
                    "CONNECT",
                    word("CERTAUTH"),
                    word("LABEL", quoted("My CA")),
                    word("RING", word("NSSRING")),
                    word("USAGE", word("CERTAUTH")),
                ),
            ),
        )

    def test_connect_with_id(self) -> None:
        self.assertEqual(
            parse_command(
                "RACDCERT ID(NSSD) CONNECT(ID(NSSD) LABEL('Client 1') "
                "RING(NSSRING) USAGE(PERSONAL))"
            ).operands[1],
            word(
                "CONNECT",
                word("ID", word("NSSD")),
                word("LABEL", quoted("Client 1")),
                word("RING", word("NSSRING")),
                word("USAGE", word("PERSONAL")),
            ),
        )

    def test_subjectsdn(self) -> None:
        self.assertEqual(
            parse_command(
                "RACDCERT GENCERT SUBJECTSDN(CN('nss client') O('Example'))"
            ).operands[1],
            word(
                "SUBJECTSDN",
                word("CN", quoted("nss client")),
                word("O", quoted("Example")),
            ),
        )

    def test_setropts(self) -> None:
        self.assertEqual(
            parse_command("SETROPTS PASSWORD(REVOKE(3))"),
            command("SETROPTS", word("PASSWORD", word("REVOKE", word("3")))),
        )

    def test_bare_list(self) -> None:
        """
        A parenthesised list after a blank is an operand of its own, with an
        empty word.
        """
        self.assertEqual(
            parse_command("ADDUSER (USER1 USER2) PASSWORD(secret)"),
            command(
                "ADDUSER",
                call("", word("USER1"), word("USER2")),
                word("PASSWORD", word("secret")),
            ),
        )


class WordTests(SynchronousTestCase, SyntaxErrorMixin):
    """
    Words, separators, parentheses and the verb.
    """

    def test_verb_upper_cased_words_not(self) -> None:
        self.assertEqual(
            parse_command("adduser nssd Name(x)"),
            command("ADDUSER", word("nssd"), word("Name", word("x"))),
        )

    def test_word_characters(self) -> None:
        words = [
            "EZB.NSS.SYS1.*.IPSEC.CERT",
            "EZB.NSS.**",
            "A%C",
            "nssd/keyring",
            "E001193519561977",
            "&SYSNAME",
            "A-B",
            "-",
            "*/",
            "caf\u00e9",
        ]
        self.assertEqual(
            parse_command("PERMIT " + " ".join(words)).operands,
            tuple(word(w) for w in words),
        )

    def test_commas_are_separators(self) -> None:
        self.assertEqual(parse_command("X ID(A,B)"), parse_command("X ID(A B)"))
        self.assertEqual(
            parse_command("X ,A,,B , C,"),
            command("X", word("A"), word("B"), word("C")),
        )

    def test_leading_and_trailing_blanks(self) -> None:
        self.assertEqual(parse_command("   X  A   "), command("X", word("A")))

    def test_tab_is_a_blank(self) -> None:
        self.assertEqual(
            parse_command("X\tA(B\tC)\t'a\tb'"),
            command("X", word("A", word("B"), word("C")), quoted("a b")),
        )

    def test_empty_parentheses(self) -> None:
        self.assertEqual(
            parse_command("X NOPASSWORD() ()"),
            command("X", call("NOPASSWORD"), call("")),
        )

    def test_deep_nesting(self) -> None:
        self.assertEqual(
            parse_command("X A(B(C(D((E)))))"),
            command(
                "X", word("A", word("B", word("C", word("D", call("", word("E"))))))
            ),
        )

    def test_blank_before_parenthesis(self) -> None:
        self.assertEqual(
            parse_command("X ID (A)"),
            command("X", word("ID"), call("", word("A"))),
        )

    def test_operand_after_closing_parenthesis(self) -> None:
        """
        A closing parenthesis ends the operand, so what follows it directly
        starts the next one.
        """
        self.assertEqual(
            parse_command("X ID(A)ACCESS(READ)(B)'c'"),
            command(
                "X",
                word("ID", word("A")),
                word("ACCESS", word("READ")),
                call("", word("B")),
                quoted("c"),
            ),
        )

    def test_nesting_limit(self) -> None:
        deepest = "X " + "A(" * MAX_NESTING + ")" * MAX_NESTING
        self.assertEqual(len(render_command(parse_command(deepest))), len(deepest))
        self.assert_syntax_error(
            parse_command,
            "X " + "A(" * (MAX_NESTING + 1) + ")" * (MAX_NESTING + 1),
            "X",
            None,
            "nested",
            keyword="A",
        )

    def test_bad_verbs(self) -> None:
        for text in ["123 X", "ADD.USER X", "'ADDUSER' X", "(A) X", ",X", ")"]:
            self.assert_syntax_error(parse_command, text, "", None, "command name")

    def test_verb_with_arguments(self) -> None:
        for text in ["ADDUSER(X)", "ADDUSER'X'"]:
            self.assert_syntax_error(parse_command, text, "ADDUSER", None, "blank")

    def test_unbalanced(self) -> None:
        self.assert_syntax_error(
            parse_command, "PERMIT X ID(A", "PERMIT", None, "missing ')'", "ID"
        )
        self.assert_syntax_error(
            parse_command, "PERMIT X ID(A))", "PERMIT", None, "without a matching"
        )
        self.assert_syntax_error(
            parse_command, "PERMIT X )", "PERMIT", None, "without a matching"
        )


class QuoteTests(SynchronousTestCase, SyntaxErrorMixin):
    """
    Quoted strings.
    """

    def test_doubled_quote(self) -> None:
        self.assertEqual(
            parse_command("RACDCERT LABEL('it''s a label')"),
            command("RACDCERT", word("LABEL", quoted("it's a label"))),
        )

    def test_special_characters_inside(self) -> None:
        self.assertEqual(
            parse_command("X 'a, (b) c /* d */' '''' ''"),
            command("X", quoted("a, (b) c /* d */"), quoted("'"), quoted("")),
        )

    def test_quoted_case_kept(self) -> None:
        self.assertEqual(parse_command("x 'MiXeD'").operands, (quoted("MiXeD"),))

    def test_unterminated(self) -> None:
        self.assert_syntax_error(
            parse_command,
            "RACDCERT CONNECT(LABEL('My CA",
            "RACDCERT",
            None,
            "unterminated quoted string",
            "CONNECT",
        )
        self.assert_syntax_error(parse_command, "X 'it''", "X", None, "unterminated")

    def test_quote_inside_word(self) -> None:
        self.assert_syntax_error(parse_command, "X AB'C'", "X", None, "quote inside")
        self.assert_syntax_error(parse_command, "X AB'", "X", None, "quote inside")

    def test_quoted_followed_by_parenthesis(self) -> None:
        self.assert_syntax_error(parse_command, "X 'x'(A)", "X", None, "'('")

    def test_quoted_followed_by_word(self) -> None:
        self.assert_syntax_error(parse_command, "X 'x'y", "X", None, "followed")

    def test_quoted_then_separate_list(self) -> None:
        self.assertEqual(
            parse_command("X 'x' (A)"),
            command("X", quoted("x"), call("", word("A"))),
        )


class ParseCommandTests(SynchronousTestCase, SyntaxErrorMixin):
    """
    L{parse_command} specifics: exactly one command, optional line number.
    """

    def test_no_command(self) -> None:
        for text in ["", "   ", "\n\n", "/* just a comment */", " -\n  "]:
            self.assert_syntax_error(parse_command, text, "", None, "no command")

    def test_more_than_one(self) -> None:
        self.assert_syntax_error(
            parse_command, "LISTUSER A\nLISTUSER B", "LISTUSER", None, "more than one"
        )

    def test_line(self) -> None:
        self.assertEqual(parse_command("X A", line=7), command("X", word("A"), line=7))
        self.assert_syntax_error(
            lambda text: parse_command(text, line=7), "X A(", "X", 7, "missing", "A"
        )
        self.assert_syntax_error(
            lambda text: parse_command(text, line=7), "", "", 7, "no command"
        )

    def test_comments_and_continuation(self) -> None:
        self.assertEqual(
            parse_command("X A /* one */ -\n  B(C+\n   D) /* two */"),
            command("X", word("A"), word("B", word("CD"))),
        )

    def test_no_jcl(self) -> None:
        """
        A single command has no job around it: JCL is text like any other.
        """
        self.assert_syntax_error(parse_command, "//STEP EXEC", "", None)
        self.assert_syntax_error(parse_command, "/*\nX", "", None, "comment")

    def test_control_characters(self) -> None:
        for char in "\x00\x01\x1b\x7f\x85\r\u2028\ud800":
            self.assert_syntax_error(
                parse_command, f"X A{char}B", "X", None, "control character"
            )


class JobTests(SynchronousTestCase, SyntaxErrorMixin):
    """
    Job files: JCL, comments, continuation, line numbers, bounds.
    """

    def test_job(self) -> None:
        job = (
            "//NSSSETUP JOB (ACCT),'RACF SETUP',CLASS=A\n"  # 1
            "//STEP1    EXEC PGM=IKJEFT01\n"  # 2
            "//SYSTSPRT DD SYSOUT=*\n"  # 3
            "//SYSTSIN  DD *\n"  # 4
            "/* The NSS user: a comment in column 1 */\n"  # 5
            "ADDUSER NSSD NAME('NSS DAEMON') /* trailing */ -\n"  # 6
            "        OMVS(UID(0) -\n"  # 7
            "  HOME('/u/nssd'))\n"  # 8
            "\n"  # 9
            "  /* a comment over\n"  # 10
            "     two lines */ RACDCERT ID(NSSD) ADDRING(NSSRING)\n"  # 11
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('My -\n"  # 12
            "Root CA') RING(NSSRING) +\n"  # 13
            "          USAGE(CERTAUTH))\n"  # 14
            "PERMIT EZB.NSS.MVS1.CLIENT1.+\n"  # 15
            "       IPSEC.CERT CLASS(SERVAUTH) ID(NSSUSER) ACCESS(READ)\n"  # 16
            "SETROPTS RACLIST(SERVAUTH) REFRESH /* comment\n"  # 17
            "   spanning */ GENERIC(*)\n"  # 18
            "/*\n"  # 19
            "//\n"  # 20
        )
        self.assertEqual(
            parse_job(job),
            [
                command(
                    "ADDUSER",
                    word("NSSD"),
                    word("NAME", quoted("NSS DAEMON")),
                    word(
                        "OMVS",
                        word("UID", word("0")),
                        word("HOME", quoted("/u/nssd")),
                    ),
                    line=6,
                ),
                command(
                    "RACDCERT",
                    word("ID", word("NSSD")),
                    word("ADDRING", word("NSSRING")),
                    line=11,
                ),
                command(
                    "RACDCERT",
                    word("ID", word("NSSD")),
                    word(
                        "CONNECT",
                        word("CERTAUTH"),
                        word("LABEL", quoted("My Root CA")),
                        word("RING", word("NSSRING")),
                        word("USAGE", word("CERTAUTH")),
                    ),
                    line=12,
                ),
                command(
                    "PERMIT",
                    word("EZB.NSS.MVS1.CLIENT1.IPSEC.CERT"),
                    word("CLASS", word("SERVAUTH")),
                    word("ID", word("NSSUSER")),
                    word("ACCESS", word("READ")),
                    line=15,
                ),
                command(
                    "SETROPTS",
                    word("RACLIST", word("SERVAUTH")),
                    word("REFRESH"),
                    word("GENERIC", word("*")),
                    line=17,
                ),
            ],
        )

    def test_empty_job(self) -> None:
        self.assertEqual(parse_job(""), [])
        self.assertEqual(parse_job("\n \n//JOB\n/*\n /* c */\n"), [])

    def test_crlf(self) -> None:
        self.assertEqual(
            parse_job("//J JOB\r\nX A -\r\n B\r\n\r\nY\r\n"),
            [command("X", word("A"), word("B"), line=2), command("Y", line=5)],
        )

    def test_byte_order_mark(self) -> None:
        self.assertEqual(parse_job("\ufeffX A\n"), [command("X", word("A"), line=1)])

    def test_dash_keeps_leading_blanks(self) -> None:
        self.assertEqual(
            parse_job("X L('A -\n   B')").pop().operands,
            (word("L", quoted("A    B")),),
        )

    def test_plus_drops_leading_blanks(self) -> None:
        self.assertEqual(
            parse_job("X L('A +\n   B')").pop().operands,
            (word("L", quoted("A B")),),
        )

    def test_continuation_inside_word(self) -> None:
        self.assertEqual(
            parse_job("PERMIT EZB.NSS.-\nMVS1 X").pop().operands,
            (word("EZB.NSS.MVS1"), word("X")),
        )

    def test_word_ending_in_dash_needs_more(self) -> None:
        """
        A C{-} or C{+} ending a line is always a continuation mark, so a word
        ending in one must not end the line: here a comma follows it.
        """
        self.assertEqual(
            parse_job("X A-,\nY B+ ,\n"),
            [command("X", word("A-"), line=1), command("Y", word("B+"), line=2)],
        )
        self.assertEqual(parse_job("X A--\nB"), [command("X", word("A-B"), line=1)])

    def test_blank_continuation_lines(self) -> None:
        self.assertEqual(
            parse_job("-\n   -\nX A -\n-\n B\n"),
            [command("X", word("A"), word("B"), line=3)],
        )

    def test_comment_split_by_continuation(self) -> None:
        """
        Comments are found in the joined text: a continuation can split the
        C{/*} or C{*/} of a comment, but a plain line end cannot close one.
        """
        self.assertEqual(
            parse_job("X A/-\n*c*-\n/B C"),
            [command("X", word("A"), word("B"), word("C"), line=1)],
        )
        self.assertEqual(
            parse_job("X A /* c *\n/ B */ C"),
            [command("X", word("A"), word("C"), line=1)],
        )
        self.assertEqual(
            parse_job("X A/\nY"),
            [command("X", word("A/"), line=1), command("Y", line=2)],
        )

    def test_comment_is_a_blank(self) -> None:
        self.assertEqual(
            parse_job("X A/**/B"), [command("X", word("A"), word("B"), line=1)]
        )

    def test_comment_markers_in_quotes(self) -> None:
        self.assertEqual(
            parse_job("X '/* no */' A\n").pop().operands,
            (quoted("/* no */"), word("A")),
        )

    def test_jcl_inside_continuation_is_text(self) -> None:
        """
        JCL is recognised only where a command could start: inside a
        continued command, C{//} is text.
        """
        self.assertEqual(
            parse_job("X A -\n//B\n").pop().operands, (word("A"), word("//B"))
        )

    def test_jcl_inside_comment_is_comment(self) -> None:
        self.assertEqual(
            parse_job("X A /* c\n//D */ B\n"),
            [command("X", word("A"), word("B"), line=1)],
        )

    def test_command_starts_after_comment(self) -> None:
        self.assertEqual(
            parse_job(" /* one\n two\n */\n\n X\n"), [command("X", line=5)]
        )

    def test_errors_carry_line_and_command(self) -> None:
        job = "//J JOB\nLISTUSER A\n\nPERMIT B ID(C -\n  D\nX\n"
        self.assert_syntax_error(parse_job, job, "PERMIT", 4, "missing ')'", "ID")
        self.assert_syntax_error(
            parse_job, "X A\n Y 'B -\nC\n", "Y", 2, "unterminated quoted"
        )
        self.assert_syntax_error(parse_job, "X A\n\n) B\n", "", 3, "command name")

    def test_continuation_on_last_line(self) -> None:
        self.assert_syntax_error(parse_job, "X A\nY B -\n", "Y", 2, "last line")
        self.assert_syntax_error(parse_job, "X A +  ", "X", 1, "last line")
        self.assert_syntax_error(parse_job, "X A -\n-\n", "X", 2, "last line")

    def test_unterminated_comment(self) -> None:
        self.assert_syntax_error(
            parse_job, "X A\nY B /* c\n\n", "Y", 2, "unterminated comment"
        )
        self.assert_syntax_error(parse_job, "\n /* c", "", 2, "unterminated comment")

    def test_control_character_names_line(self) -> None:
        self.assert_syntax_error(parse_job, "X A\nY B -\n C\x00\n", "Y", 3, "U+0000")
        self.assert_syntax_error(parse_job, "X A\nY\x07 B\n", "", 2, "U+0007")
        self.assert_syntax_error(parse_job, "X A\nY B\rC\n", "Y", 2, "U+000D")
        self.assert_syntax_error(parse_job, "//J\x00OB\n", "", 1, "U+0000")
        self.assert_syntax_error(
            parse_job, "X A /* c\n\x00 */\n", "X", 2, "control character"
        )

    def test_line_length(self) -> None:
        longest = "X " + "A" * (MAX_LINE_LENGTH - 2)
        self.assertEqual(len(parse_job(longest + "\r\n")), 1)
        self.assert_syntax_error(parse_job, "\n" + longest + "A", "X", 2, "longer")

    def test_command_length(self) -> None:
        def continued(text: str) -> str:
            size = MAX_LINE_LENGTH - 1
            return "-\n".join(text[i : i + size] for i in range(0, len(text), size))

        longest = "X " + "A" * (MAX_COMMAND_LENGTH - 2)
        self.assertEqual(
            parse_job(continued(longest)),
            [command("X", word("A" * (MAX_COMMAND_LENGTH - 2)), line=1)],
        )
        self.assert_syntax_error(
            parse_job, "\n\n" + continued(longest + "A"), "X", 3, "command longer"
        )


class RenderTests(SynchronousTestCase):
    """
    L{render_command} writes canonical text, or refuses.
    """

    def test_canonical(self) -> None:
        text = "X ,A  ID(B,C) ()  NOPW() L('it''s') P(Q(R))"
        self.assertEqual(
            render_command(parse_command(text)),
            "X A ID(B C) () NOPW() L('it''s') P(Q(R))",
        )

    def test_trailing_continuation_mark(self) -> None:
        for last in ["A-", "-", "B+"]:
            cmd = command("X", word(last))
            self.assertEqual(render_command(cmd), f"X {last},")
            self.assertEqual(parse_command(render_command(cmd)), cmd)

    def test_long_command_is_continued(self) -> None:
        cmd = command(
            "X",
            *[word("A" * 50)] * 30,
            word("L", quoted("x" * 2000)),
            word("B" * 1500),
        )
        text = render_command(cmd)
        self.assertTrue(all(len(line) <= MAX_LINE_LENGTH for line in text.split("\n")))
        self.assertEqual(parse_command(text), cmd)
        self.assertEqual(parse_job(text), [replace(cmd, line=1)])

    def test_length_limit(self) -> None:
        longest = command("X", word("A" * (MAX_COMMAND_LENGTH - 2)))
        self.assertEqual(parse_command(render_command(longest)), longest)
        self.assertRaises(
            ValueError,
            render_command,
            command("X", word("A" * (MAX_COMMAND_LENGTH - 1))),
        )

    def test_nesting_limit(self) -> None:
        operand = word("A")
        for _ in range(MAX_NESTING):
            operand = call("B", operand)
        cmd = command("X", operand)
        self.assertEqual(parse_command(render_command(cmd)), cmd)
        self.assertRaises(ValueError, render_command, command("X", call("B", operand)))

    def test_unrepresentable(self) -> None:
        bad = [
            command("x"),
            command("X1"),
            command(""),
            command("X", word("A B")),
            command("X", word("A,B")),
            command("X", word("A'B")),
            command("X", word("A(")),
            command("X", word("A/*")),
            command("X", word("A\tB")),
            command("X", word("")),
            command("X", quoted("a\nb")),
            command("X", quoted("a\x00b")),
            command("X", Operand("a", True, ())),
            command("X", call("A", word("B C"))),
        ]
        for cmd in bad:
            self.assertRaises(ValueError, render_command, cmd)


class PropertyTests(SynchronousTestCase):
    """
    Properties over generated input.
    """

    @cheap
    @given(strategies.texts)
    def test_only_syntax_errors(self, text: str) -> None:
        """
        Whatever the text, parsing either succeeds or raises
        L{CommandSyntaxError}, and whatever parses renders back equal.
        """
        for parse in (parse_job, parse_command, lambda t: parse_command(t, line=3)):
            try:
                result = parse(text)
            except CommandSyntaxError:
                continue
            parsed = result if isinstance(result, list) else [result]
            for cmd in parsed:
                self.assertEqual(parse_command(render_command(cmd), line=cmd.line), cmd)

    @fast
    @given(strategies.commands)
    def test_round_trip(self, cmd: RacfCommand) -> None:
        self.assertEqual(parse_command(render_command(cmd)), cmd)

    @fast
    @given(strategies.continued_commands())
    def test_continuation_chunks(self, case: tuple[RacfCommand, list[str]]) -> None:
        cmd, lines = case
        text = "".join(line + "\n" for line in lines)
        self.assertEqual(parse_command(text), cmd)
        self.assertEqual(parse_job(text), [replace(cmd, line=1)])

    @fast
    @given(strategies.jobs())
    def test_jobs(self, case: tuple[list[RacfCommand], str]) -> None:
        expected, text = case
        self.assertEqual(parse_job(text), expected)

    @fast
    @given(st.data())
    def test_mutated_jobs(self, data: st.DataObject) -> None:
        """
        A valid job with characters inserted still raises nothing but
        L{CommandSyntaxError}.
        """
        _, text = data.draw(strategies.jobs())
        for _ in range(data.draw(st.integers(1, 3))):
            where = data.draw(st.integers(0, len(text)))
            char = data.draw(st.sampled_from(strategies.SPECIAL_ALPHABET))
            text = text[:where] + char + text[where:]
        try:
            parse_job(text)
        except CommandSyntaxError:
            pass
