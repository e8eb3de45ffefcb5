"""
The brace-statement syntax of the z/OS Communications Server configuration
files (nssd.conf, iked.conf and, later, policy files)::

    NssConfig
    {
      # specify port that NSS server will bind to
      Port 4159
    }

The parser knows the shape only: statements, their optional name, and the
settings inside them.  Which statements and keywords exist, how many values
each takes and what they mean is the business of the daemon that reads the
file, so that one parser serves every file and each daemon can name its own
rules in its own errors.

The rules, chosen so that a file has exactly one reading:

  - A statement is C{Kind [name] {...}}; the name must be on the kind's line,
    the C{{} may follow on a later line (the seed puts it on its own line).
  - A setting is a keyword and the values after it on the same line, up to the
    end of the line or a C{}}.  A line holds at most one setting.
  - C{#} starts a comment only where a word could start (at the start of a
    line, or after a blank or a brace), so that names holding C{#}, which MVS
    names may, need no quotes.
  - A value is a word (a run of anything but blanks, braces and C{"}) or a
    double-quoted string on one line with C{\\"} and C{\\\\} as its only
    escapes.  A quote may not touch a word, since C{ab"c d"} has no obvious
    meaning.
  - Blanks are spaces and tabs; CRLF line ends are accepted; every other
    control character is an error, even in a comment, because it is far more
    likely a damaged file than a wish.
  - Nested statements are refused unless the caller asks for them (policy
    files nest an C{IpService {...}} inside an C{IpFilterRule}): then a
    setting whose line ends in C{{}, or which is followed by a line that
    starts with C{{}, opens a statement of that kind, its one value being the
    name, up to the depth the caller allows.  Beyond that depth, or in a
    file that allows none, a C{{} inside a statement is an error, which is
    also how a missing C{}} shows itself.

Every error is a L{ConfigurationError} naming the file, the line and, where
known, the statement or keyword being read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "MAX_CONFIG_SIZE",
    "ConfigurationError",
    "Setting",
    "Statement",
    "format_value",
    "parse_config",
    "read_config",
]

MAX_CONFIG_SIZE = 1024 * 1024
"""
The largest file L{read_config} accepts, in bytes: far above any real
configuration, low enough that a wrong path (a log, a device) fails fast.
"""

# C0 and C1 controls (CR is allowed only before LF, which is removed first),
# the Unicode line and paragraph separators, and lone surrogates, which a
# str built by hand may hold and which cannot be written back out.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_BLANKS = " \t"
_WORD_END = _BLANKS + '{}"'
# A value that can be written without quotes and reads back the same.
_BARE = re.compile(r'[^\s{}"#][^\s{}"]*')


class ConfigurationError(Exception):
    """
    A configuration file cannot be used.

    Operators fix files by line, so the file, the line and the keyword are
    kept apart from the message and put together only by C{__str__}; callers
    that log or display the error (startup, a refused refresh) need nothing
    else.

    @ivar message: what is wrong, without the location.
    @ivar filename: the file, as the operator named it, if known.
    @ivar line: the 1-based line, if the error belongs to one.
    @ivar keyword: the keyword or statement, as written, if the error belongs
        to one.
    """

    def __init__(
        self,
        message: str,
        filename: str | None = None,
        line: int | None = None,
        keyword: str | None = None,
    ) -> None:
        super().__init__(message, filename, line, keyword)
        self.message = message
        self.filename = filename
        self.line = line
        self.keyword = keyword

    def __str__(self) -> str:
        where = ""
        if self.filename is not None:
            where = self.filename
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.keyword is not None:
            where += f"{self.keyword}: "
        return where + self.message


@dataclass(frozen=True)
class Setting:
    """
    One keyword line inside a statement.

    @ivar keyword: the keyword as written; compare it case-insensitively.
    @ivar values: the values after it on its line, quotes removed.
    @ivar line: its 1-based line, for errors.
    """

    keyword: str
    values: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Statement:
    """
    One C{Kind [name] {...}} block, settings in file order, repeats kept:
    whether the last or every repeat counts is a rule of the statement.

    @ivar kind: the statement keyword as written; compare it
        case-insensitively.
    @ivar name: the name between the kind and C{{}, if any.
    @ivar settings: the settings in file order.
    @ivar line: the 1-based line of the kind, for errors.
    @ivar statements: the statements nested inside it, in file order; only
        a file parsed with C{nesting} above 0 has any.
    """

    kind: str
    name: str | None
    settings: tuple[Setting, ...]
    line: int
    statements: tuple[Statement, ...] = ()


@dataclass(frozen=True)
class _Token:
    # "word", "string", "open", "close", "newline" or "end"
    kind: str
    text: str
    line: int


class _LexError(Exception):
    # Raised by the tokenizer, which does not know which keyword it is
    # reading; the parser adds that and the file name.
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message, line)
        self.message = message
        self.line = line


def _tokens(text: str) -> Iterator[_Token]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    number = 0
    for number, line in enumerate(text.split("\n"), start=1):
        control = _CONTROL.search(line)
        if control is not None:
            raise _LexError(
                f"control character U+{ord(control.group()):04X} is not allowed",
                number,
            )
        yield from _line_tokens(line, number)
        yield _Token("newline", "", number)
    yield _Token("end", "", number)


def _line_tokens(line: str, number: int) -> Iterator[_Token]:
    index, length = 0, len(line)
    while index < length:
        char = line[index]
        if char in _BLANKS:
            index += 1
        elif char == "#":
            return
        elif char == "{":
            yield _Token("open", char, number)
            index += 1
        elif char == "}":
            yield _Token("close", char, number)
            index += 1
        elif char == '"':
            text, index = _quoted(line, index + 1, number)
            if index < length and line[index] not in _BLANKS + "{}":
                raise _LexError("a closing quote must be followed by a blank", number)
            yield _Token("string", text, number)
        else:
            start = index
            while index < length and line[index] not in _WORD_END:
                index += 1
            if index < length and line[index] == '"':
                raise _LexError("a quote must not touch the word before it", number)
            yield _Token("word", line[start:index], number)


def _quoted(line: str, index: int, number: int) -> tuple[str, int]:
    """
    Read a quoted string whose opening quote is just before C{index}; return
    its text and the index after the closing quote.
    """
    parts: list[str] = []
    length = len(line)
    while index < length:
        char = line[index]
        if char == '"':
            return "".join(parts), index + 1
        if char == "\\":
            if index + 1 < length and line[index + 1] in '"\\':
                parts.append(line[index + 1])
                index += 2
                continue
            raise _LexError(
                'only \\" and \\\\ may be escaped in a quoted string', number
            )
        parts.append(char)
        index += 1
    raise _LexError(
        "unterminated quoted string (a quote must close on its line)", number
    )


class _Parser:
    def __init__(self, text: str, filename: str, nesting: int = 0) -> None:
        self._tokens = _tokens(text)
        self._filename = filename
        self._nesting = nesting
        self._context: str | None = None
        # The top-level statement being read, which an unclosed brace names.
        self._outer: _Token | None = None

    def _error(self, message: str, line: int) -> ConfigurationError:
        return ConfigurationError(message, self._filename, line, self._context)

    def _next(self) -> _Token:
        try:
            return next(self._tokens)
        except _LexError as e:
            raise self._error(e.message, e.line) from None

    def _next_significant(self) -> _Token:
        token = self._next()
        while token.kind == "newline":
            token = self._next()
        return token

    def statements(self) -> list[Statement]:
        result: list[Statement] = []
        while True:
            self._context = None
            token = self._next_significant()
            if token.kind == "end":
                return result
            if token.kind == "close":
                raise self._error("'}' without a matching '{'", token.line)
            if token.kind == "open":
                raise self._error(
                    "'{' without a statement keyword before it", token.line
                )
            if token.kind == "string":
                raise self._error(
                    "a statement must begin with a keyword, not a quoted string",
                    token.line,
                )
            self._outer = token
            result.append(self._statement(token))

    def _statement(self, kind: _Token) -> Statement:
        self._context = kind.text
        header: list[_Token] = []
        token = self._next()
        while token.kind in ("word", "string"):
            header.append(token)
            token = self._next()
        if token.kind == "close":
            raise self._error("'}' without a matching '{'", token.line)
        if token.kind != "open":
            if len(header) > 1:
                raise self._error("a setting outside a statement", kind.line)
            if token.kind == "newline":
                token = self._next_significant()
            if token.kind != "open" and header:
                raise self._error(
                    "'{' missing after the statement name,"
                    " or a setting outside a statement",
                    kind.line,
                )
            if token.kind != "open":
                raise self._error("'{' missing after the statement keyword", kind.line)
        if len(header) > 1:
            raise self._error(
                "a statement takes at most one name before its '{'", kind.line
            )
        name = header[0].text if header else None
        settings, statements = self._body(kind, 0)
        return Statement(kind.text, name, settings, kind.line, statements)

    def _body(
        self, kind: _Token, depth: int
    ) -> tuple[tuple[Setting, ...], tuple[Statement, ...]]:
        settings: list[Setting] = []
        statements: list[Statement] = []
        # The setting just read, if its line ended without a brace: a '{'
        # starting the next line makes it a nested statement's header.
        last: Setting | None = None
        while True:
            self._context = kind.text
            token = self._next_significant()
            if token.kind == "close":
                return tuple(settings), tuple(statements)
            if token.kind == "end":
                raise self._unclosed()
            if token.kind == "open":
                if last is None or depth >= self._nesting:
                    raise self._error(self._nested(kind), token.line)
                settings.pop()
                statements.append(self._inner(last, depth))
                last = None
                continue
            if token.kind == "string":
                raise self._error(
                    "a setting must begin with a keyword, not a quoted string",
                    token.line,
                )
            self._context = token.text
            values: list[str] = []
            value = self._next()
            while value.kind in ("word", "string"):
                values.append(value.text)
                value = self._next()
            setting = Setting(token.text, tuple(values), token.line)
            if value.kind == "open":
                if depth >= self._nesting:
                    raise self._error(self._nested(kind), value.line)
                statements.append(self._inner(setting, depth))
                last = None
                continue
            if value.kind == "end":
                raise self._unclosed()
            settings.append(setting)
            last = setting if value.kind == "newline" else None
            if value.kind == "close":
                return tuple(settings), tuple(statements)

    def _inner(self, header: Setting, depth: int) -> Statement:
        """
        Read a nested statement whose C{{} was just read, C{header} being
        its kind and name.
        """
        self._context = header.keyword
        if len(header.values) > 1:
            raise self._error(
                "a statement takes at most one name before its '{'", header.line
            )
        kind = _Token("word", header.keyword, header.line)
        settings, statements = self._body(kind, depth + 1)
        name = header.values[0] if header.values else None
        return Statement(header.keyword, name, settings, header.line, statements)

    def _unclosed(self) -> ConfigurationError:
        # The brace that is missing belongs to the outermost open statement
        # as far as anyone can tell: nested ones closed it by mistake.
        outer = self._outer
        assert outer is not None
        self._context = outer.text
        return self._error("statement not closed: '}' missing", outer.line)

    @staticmethod
    def _nested(kind: _Token) -> str:
        return (
            f"'{{' inside the {kind.text} statement of line {kind.line}:"
            " a '}' is missing, or a nested statement, which is not supported"
        )


def parse_config(text: str, filename: str, *, nesting: int = 0) -> list[Statement]:
    """
    Parse configuration text into its statements, in file order.

    @param filename: the name to put in errors; nothing is read from it.
    @param nesting: how deep statements may nest inside statements: 0 (the
        default, for nssd.conf and iked.conf) refuses any, 1 allows
        C{IpService {...}} inside C{IpFilterRule {...}}.
    @raise ConfigurationError: the text breaks the syntax.
    """
    return _Parser(text, filename, nesting).statements()


def read_config(path: str, *, nesting: int = 0) -> list[Statement]:
    """
    Read and parse a configuration file, which must be UTF-8 and at most
    L{MAX_CONFIG_SIZE} bytes; C{nesting} is as for L{parse_config}.

    @raise ConfigurationError: the file cannot be read or parsed; the error
        names C{path} as given, which is the name the operator knows.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_CONFIG_SIZE + 1)
    except OSError as e:
        reason = e.strerror or str(e)
        raise ConfigurationError(f"cannot read the file: {reason}", path) from None
    if len(data) > MAX_CONFIG_SIZE:
        raise ConfigurationError(
            f"the file is larger than {MAX_CONFIG_SIZE} bytes", path
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigurationError("the file is not valid UTF-8", path, line) from None
    return parse_config(text, path, nesting=nesting)


def format_value(value: str) -> str:
    """
    Write C{value} so that the parser reads it back unchanged: bare where it
    can be, quoted where it must be.  Used to show configuration in the file's
    own syntax, so that an operator can paste a display back into a file.

    @raise ValueError: C{value} holds a control character, which no file may
        hold.
    """
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} holds a control character")
    if _BARE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
