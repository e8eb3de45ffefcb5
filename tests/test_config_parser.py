"""
Tests for L{nsstwisted.config.parser}: the brace-statement syntax, by example
for each rule and error, and by property for robustness and round trips.
"""

from __future__ import annotations

import os
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.config import (
    MAX_CONFIG_SIZE,
    ConfigurationError,
    Setting,
    Statement,
    format_value,
    parse_config,
    read_config,
)
from tests.strategies import config_special_text, config_statements, config_values

fast = settings(max_examples=200, deadline=None, database=None)
cheap = settings(max_examples=1000, deadline=None, database=None)

SEED = """\
NssConfig
{
  # specify port that NSS server will bind to
  Port 4159
  # specify minimum syslog logging
  SyslogLevel 1
  # specify NSS keyring
  KeyRing nssd/keyring
}
"""


class ExampleTests(SynchronousTestCase):
    """
    Well-formed files parse to the expected statements.
    """

    def test_seed(self) -> None:
        """
        The seed's example, with its brace on a line of its own, parses.
        """
        self.assertEqual(
            parse_config(SEED, "nssd.conf"),
            [
                Statement(
                    "NssConfig",
                    None,
                    (
                        Setting("Port", ("4159",), 4),
                        Setting("SyslogLevel", ("1",), 6),
                        Setting("KeyRing", ("nssd/keyring",), 8),
                    ),
                    1,
                )
            ],
        )

    def test_empty(self) -> None:
        """
        Blank lines and comments alone make no statements.
        """
        self.assertEqual(parse_config("\n  # nothing\n\t\n", "f"), [])
        self.assertEqual(parse_config("", "f"), [])

    def test_one_line(self) -> None:
        """
        A statement may be written on one line; the C{}} ends the last
        setting's values.
        """
        self.assertEqual(
            parse_config("IkeConfig { IkeRetries 6 }", "f"),
            [Statement("IkeConfig", None, (Setting("IkeRetries", ("6",), 1),), 1)],
        )

    def test_several_values(self) -> None:
        """
        A keyword's values are the rest of its line.
        """
        text = (
            "IkeConfig {\n"
            "  NetworkSecurityServer 10.1.1.1 Port 4159 Identity Fqdn nss.example\n"
            "  NssWaitLimit 60\n"
            "}\n"
        )
        [statement] = parse_config(text, "iked.conf")
        self.assertEqual(
            statement.settings,
            (
                Setting(
                    "NetworkSecurityServer",
                    ("10.1.1.1", "Port", "4159", "Identity", "Fqdn", "nss.example"),
                    2,
                ),
                Setting("NssWaitLimit", ("60",), 3),
            ),
        )

    def test_name_and_case(self) -> None:
        """
        A statement may carry a name; kinds, names and keywords keep the
        case they are written in, and repeats are all kept in order.
        """
        text = "nssstackconfig TCPIP\n\n{\n ClientName a\n CLIENTNAME b\n}\n"
        self.assertEqual(
            parse_config(text, "f"),
            [
                Statement(
                    "nssstackconfig",
                    "TCPIP",
                    (
                        Setting("ClientName", ("a",), 4),
                        Setting("CLIENTNAME", ("b",), 5),
                    ),
                    1,
                )
            ],
        )

    def test_quoted_name(self) -> None:
        """
        A statement name may be quoted.
        """
        [statement] = parse_config('S "a name" {}', "f")
        self.assertEqual(statement.name, "a name")

    def test_no_values(self) -> None:
        """
        A keyword without values is kept; whether that is allowed is the
        statement's rule.
        """
        [statement] = parse_config("IkeConfig {\n NoKeyRing\n}", "f")
        self.assertEqual(statement.settings, (Setting("NoKeyRing", (), 2),))

    def test_several_statements(self) -> None:
        """
        Statements follow one another, even on one line.
        """
        statements = parse_config("A { x 1 } B n { y 2 }\nC\n{\n}\n", "f")
        self.assertEqual(
            [(s.kind, s.name, s.line) for s in statements],
            [("A", None, 1), ("B", "n", 1), ("C", None, 2)],
        )

    def test_quoted_values(self) -> None:
        """
        Quoted values may hold blanks, braces, C{#} and the two escapes.
        """
        text = r'S { TlsLabel "NSS {Server} # 1" "a\"b\\c" "" }'
        [statement] = parse_config(text, "f")
        self.assertEqual(
            statement.settings[0].values, ("NSS {Server} # 1", 'a"b\\c', "")
        )

    def test_comments(self) -> None:
        """
        C{#} starts a comment where a word could start, not inside a word,
        so that names holding C{#} need no quotes.
        """
        text = "S {#c\n SystemName SYS#1 # the name\n K v#w}# end\n"
        [statement] = parse_config(text, "f")
        self.assertEqual(
            statement.settings,
            (Setting("SystemName", ("SYS#1",), 2), Setting("K", ("v#w",), 3)),
        )

    def test_crlf_tabs_bom(self) -> None:
        """
        CRLF line ends, tabs and a leading byte order mark are accepted.
        """
        text = "\ufeffS\r\n{\r\n\tPort\t4159\r\n}\r\n"
        self.assertEqual(
            parse_config(text, "f"),
            [Statement("S", None, (Setting("Port", ("4159",), 3),), 1)],
        )

    def test_backslash_in_word(self) -> None:
        """
        Outside quotes a backslash is an ordinary character.
        """
        [statement] = parse_config("S { K a\\b }", "f")
        self.assertEqual(statement.settings[0].values, ("a\\b",))


class ErrorTests(SynchronousTestCase):
    """
    Each syntax error is a L{ConfigurationError} naming file, line and,
    where known, keyword.
    """

    def assertSyntaxError(
        self,
        text: str,
        line: int | None,
        keyword: str | None,
        message: str,
    ) -> ConfigurationError:
        error: ConfigurationError = self.assertRaises(
            ConfigurationError, parse_config, text, "x.conf"
        )
        self.assertEqual(
            (error.filename, error.line, error.keyword), ("x.conf", line, keyword)
        )
        self.assertIn(message, error.message)
        return error

    def test_str(self) -> None:
        """
        The error reads C{file:line: keyword: message}, leaving out what is
        unknown.
        """
        self.assertEqual(
            str(
                ConfigurationError("must be a number", "iked.conf", 12, "NssWaitLimit")
            ),
            "iked.conf:12: NssWaitLimit: must be a number",
        )
        self.assertEqual(str(ConfigurationError("m", "f", 3)), "f:3: m")
        self.assertEqual(str(ConfigurationError("m", "f", None, "K")), "f: K: m")
        self.assertEqual(str(ConfigurationError("m", None, 2)), "line 2: m")
        self.assertEqual(str(ConfigurationError("m")), "m")

    def test_missing_open(self) -> None:
        """
        A statement keyword not followed by C{{} is an error at its line.
        """
        self.assertSyntaxError(
            "NssConfig\n  Port 4159\n}\n", 1, "NssConfig", "'{' missing"
        )
        self.assertSyntaxError("\nNssConfig", 2, "NssConfig", "'{' missing")

    def test_setting_outside(self) -> None:
        """
        A setting outside any statement is an error.
        """
        self.assertSyntaxError(
            "Port 4159\n", 1, "Port", "a setting outside a statement"
        )
        self.assertSyntaxError(
            "A {}\nNetworkSecurityServer 10.1.1.1 Port 4159\n",
            2,
            "NetworkSecurityServer",
            "a setting outside a statement",
        )

    def test_two_names(self) -> None:
        self.assertSyntaxError("A b c {\n}", 1, "A", "at most one name")

    def test_unclosed(self) -> None:
        """
        A statement left open names the statement and its opening line.
        """
        self.assertSyntaxError(
            "NssConfig {\n Port 4159\n", 1, "NssConfig", "'}' missing"
        )
        self.assertSyntaxError("NssConfig {\n Port 4159", 1, "NssConfig", "'}' missing")

    def test_missing_close_before_next(self) -> None:
        """
        A missing C{}} shows itself at the next statement's C{{}.
        """
        self.assertSyntaxError(
            "A {\n K v\nB\n{\n}\n}", 4, "A", "'{' inside the A statement of line 1"
        )
        self.assertSyntaxError("A {\n {\n}\n}", 2, "A", "a '}' is missing")

    def test_extra_close(self) -> None:
        self.assertSyntaxError("A {\n}\n}\n", 3, None, "without a matching '{'")
        self.assertSyntaxError("A }", 1, "A", "without a matching '{'")

    def test_open_alone(self) -> None:
        self.assertSyntaxError("{ K v }", 1, None, "without a statement keyword")

    def test_quoted_keyword(self) -> None:
        self.assertSyntaxError('"A" { }', 1, None, "not a quoted string")
        self.assertSyntaxError('A {\n "K" v\n}', 2, "A", "not a quoted string")

    def test_unterminated_quote(self) -> None:
        """
        A quote must close on its own line.
        """
        self.assertSyntaxError(
            'A {\n TlsLabel "NSS server\n}\n', 2, "TlsLabel", "unterminated"
        )

    def test_bad_escape(self) -> None:
        self.assertSyntaxError(r'A { K "a\nb" }', 1, "K", "may be escaped")

    def test_quote_touching_word(self) -> None:
        self.assertSyntaxError('A { K ab"c" }', 1, "K", "must not touch")
        self.assertSyntaxError('A { K "ab"c }', 1, "K", "followed by a blank")

    def test_control_characters(self) -> None:
        """
        Control characters are refused anywhere, comments included; a lone
        CR is one.
        """
        for char in "\x00\x0b\x0c\x1b\x7f\x85\r\u2028":
            self.assertSyntaxError(
                f"A {{\n K v # {char} x\n}}", 2, "A", "control character"
            )


class ReadTests(SynchronousTestCase):
    """
    L{read_config} reads UTF-8 files up to L{MAX_CONFIG_SIZE} bytes.
    """

    def write(self, data: bytes) -> str:
        path: str = self.mktemp()
        with open(path, "wb") as stream:
            stream.write(data)
        return path

    def test_read(self) -> None:
        path = self.write(SEED.encode("utf-8"))
        self.assertEqual(read_config(path), parse_config(SEED, path))

    def test_errors_name_the_path(self) -> None:
        """
        A syntax error names the path as given.
        """
        path = self.write(b"A {\n")
        error = self.assertRaises(ConfigurationError, read_config, path)
        self.assertEqual(error.filename, path)
        self.assertTrue(str(error).startswith(f"{path}:1: A: "))

    def test_missing(self) -> None:
        path = self.mktemp()
        error = self.assertRaises(ConfigurationError, read_config, path)
        self.assertEqual((error.filename, error.line), (path, None))
        self.assertIn("cannot read", str(error))

    def test_directory(self) -> None:
        path = self.mktemp()
        os.mkdir(path)
        error = self.assertRaises(ConfigurationError, read_config, path)
        self.assertIn("cannot read", str(error))

    def test_too_large(self) -> None:
        """
        A file over the limit is refused; one at the limit is read.
        """
        line = b"# " + b"x" * 1021 + b"\n"
        exact = line * (MAX_CONFIG_SIZE // len(line))
        self.assertEqual(len(exact), MAX_CONFIG_SIZE)
        self.assertEqual(read_config(self.write(exact)), [])
        error = self.assertRaises(
            ConfigurationError, read_config, self.write(exact + b"\n")
        )
        self.assertIn("larger than", error.message)

    def test_not_utf8(self) -> None:
        """
        Bytes that are not UTF-8 are an error at their line.
        """
        path = self.write(b"A {\n K \xe9\n}\n")
        error = self.assertRaises(ConfigurationError, read_config, path)
        self.assertEqual((error.filename, error.line), (path, 2))
        self.assertIn("UTF-8", error.message)


class FormatValueTests(SynchronousTestCase):
    """
    L{format_value} writes values bare when it can and quoted when it must.
    """

    def test_bare(self) -> None:
        for value in ("4159", "nssd/keyring", "SYS#1", "a\\b", "/var/sock/nss"):
            self.assertEqual(format_value(value), value)

    def test_quoted(self) -> None:
        self.assertEqual(format_value(""), '""')
        self.assertEqual(format_value("NSS Server"), '"NSS Server"')
        self.assertEqual(format_value("#x"), '"#x"')
        self.assertEqual(format_value("a{b"), '"a{b"')
        self.assertEqual(format_value('a"b\\'), '"a\\"b\\\\"')

    def test_control(self) -> None:
        self.assertRaises(ValueError, format_value, "a\nb")
        self.assertRaises(ValueError, format_value, "a\x00b")


# --- properties ---------------------------------------------------------------


def render(statement: Statement, brace_on_own_line: bool, one_line: bool) -> str:
    head = statement.kind
    if statement.name is not None:
        head += " " + format_value(statement.name)
    lines = [
        " ".join([s.keyword, *(format_value(v) for v in s.values)])
        for s in statement.settings
    ]
    if one_line:
        return head + " { " + "\n".join(lines) + " }"
    opening = "\n{" if brace_on_own_line else " {"
    return head + opening + "\n" + "".join(f"  {line}  # c\n" for line in lines) + "}"


def without_lines(statement: Statement) -> Statement:
    return replace(
        statement,
        line=0,
        settings=tuple(replace(s, line=0) for s in statement.settings),
    )


class PropertyTests(SynchronousTestCase):
    """
    Arbitrary text never breaks the parser, and rendered statements parse
    back to themselves.
    """

    @cheap
    @given(st.text() | config_special_text)
    def test_arbitrary_text(self, text: str) -> None:
        """
        Any text parses or raises L{ConfigurationError}, nothing else.
        """
        try:
            result = parse_config(text, "f")
        except ConfigurationError as e:
            self.assertEqual(e.filename, "f")
            self.assertIsInstance(str(e), str)
        else:
            self.assertIsInstance(result, list)

    @fast
    @given(
        st.lists(config_statements(), max_size=3),
        st.booleans(),
        st.booleans(),
    )
    def test_round_trip(
        self, parsed: list[Statement], own_line: bool, one_line: bool
    ) -> None:
        """
        Statements written with L{format_value} in any layout parse back.
        """
        text = "\n".join(render(s, own_line, one_line) for s in parsed)
        result = parse_config(text, "f")
        self.assertEqual([without_lines(s) for s in result], parsed)

    @fast
    @given(config_values)
    def test_format_value(self, value: str) -> None:
        """
        Any value without control characters survives formatting.
        """
        [statement] = parse_config(f"S {{ K {format_value(value)} }}", "f")
        self.assertEqual(statement.settings[0].values, (value,))
