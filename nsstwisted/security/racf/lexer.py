"""
The lexer and parser of the RACF command language.

This module only turns text into a syntax tree (L{RacfCommand}) and back
(L{render_command}); what the verbs and keywords mean is decided by the
interpreter above it.  It is sans-IO so that the same code serves a command
typed on the command line, a job file read from disk and a command received
over the network, and so that it can be tested on strings alone.

Two passes do the work.  The first (L{_Scanner}) works on physical lines: it
drops JCL statements, joins TSO continuation lines, removes comments and
enforces the size bounds, yielding one logical line per command.  The second
(L{_parse_logical}) splits a logical line into the verb and a tree of
operands.  The split keeps the rules that need line structure (continuation,
JCL, line numbers) away from the rules that need token structure (quotes,
parentheses), so each can be reasoned about on its own.

Where TSO leaves a case open or the job format makes one ambiguous, the
rules chosen here are:

  - A C{-} or C{+} that is the last non-blank character of a line is always
    a continuation mark, even when it ends a word; a word ending in one must
    be followed by something else on its line (L{render_command} adds a
    comma).
  - Comments are found in the joined text, so a continuation may split
    C{/*}; a comment counts as one blank, and a line end inside a comment
    does not end the command.
  - JCL lines are recognised only where a command could start: inside a
    continued command or an open comment, C{//} is text.
  - A command's line is the line of its verb, not of an empty continuation
    line or comment before it.
  - After C{)} the next operand may follow without a separator
    (C{ID(A)ACCESS(READ)}); after a quoted string a blank, comma or C{)}
    must follow.
  - A tab is a blank everywhere, inside quoted strings too; the verb is ASCII
    letters; a leading byte-order mark is ignored.

Every malformed input, whatever it is, raises
L{CommandSyntaxError}: the lexer faces files written by people and by
scripts, and callers must be able to turn any failure into a defined answer.
To keep that promise for adversarial input, the work is bounded: physical
lines, logical commands and parenthesis nesting have fixed maxima, and no pass
recurses on the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nsstwisted.security.errors import CommandSyntaxError

__all__ = [
    "MAX_COMMAND_LENGTH",
    "MAX_LINE_LENGTH",
    "MAX_NESTING",
    "Operand",
    "RacfCommand",
    "parse_command",
    "parse_job",
    "render_command",
]

MAX_LINE_LENGTH = 1000
"""
The longest physical line accepted, in characters (line ending excluded).
Bounds the memory one line of an adversarial file can claim; real RACF
command lines are far shorter, and continuation covers anything longer.
"""

MAX_COMMAND_LENGTH = 32 * 1024
"""
The longest logical command accepted, in characters, after continuation
lines are joined and comments removed; the size of the TSO command buffer.
"""

MAX_NESTING = 100
"""
The deepest parenthesis nesting accepted.  Real commands nest three or four
levels; the bound keeps the tree shallow enough that recursive consumers
(the interpreter, L{render_command}, the dataclass C{==} and C{repr}) can
never hit Python's recursion limit.
"""


@dataclass(frozen=True)
class Operand:
    """
    One operand of a command: a keyword or value, with its argument list.

    The lexer does not decide what an operand means, so it keeps enough to
    let the interpreter do that: whether the word was quoted (a quoted value
    is never a keyword, and keeps its case) and whether parentheses followed
    (C{KEYWORD} and C{KEYWORD()} are different requests).

    @ivar word: the text as written, quotes removed and C{''} unescaped; C{""}
        for a parenthesised list written on its own, such as C{(A B)}.
    @ivar quoted: whether the word was written as a quoted string.
    @ivar args: the operands between the parentheses that followed the word,
        C{()} for empty parentheses, or C{None} when no parentheses followed.
    """

    word: str
    quoted: bool
    args: tuple[Operand, ...] | None


@dataclass(frozen=True)
class RacfCommand:
    """
    One parsed RACF command.

    @ivar verb: the command name, upper case (TSO command names are not case
        sensitive, and the interpreter dispatches on this).
    @ivar operands: the operands in the order written; order matters for
        positional operands such as the profile name of C{PERMIT}.
    @ivar line: the 1-based line of the job where the command starts, so that
        errors the interpreter finds later can point at it; C{None} for a
        command that did not come from a job.
    """

    verb: str
    operands: tuple[Operand, ...]
    line: int | None


# Characters that may not appear anywhere: C0 controls other than tab (line
# feed is consumed by line splitting, a carriage return only before it), DEL,
# C1 controls, the Unicode line and paragraph separators (an editor would show
# them as line breaks the lexer does not see) and lone surrogates (left by
# decoding a file with errors="surrogateescape"; they cannot be stored).
_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

# A bare word: anything but a blank, comma, parenthesis or quote.  Tabs and
# control characters have been removed or rejected by the first pass.
_WORD = re.compile(r"[^ ,()']+")

# What the first pass must stop at outside quotes and comments.
_NORMAL_STOP = re.compile(r"['/]")

# A verb guessed from the start of a partly read command, only to name it in
# an error raised before the command is parsed.
_VERB_GUESS = re.compile(r"[ \t]*([A-Za-z]+)(?=[ ,\t]|$)")

_VERB = re.compile(r"[A-Za-z]+")

_NORMAL, _QUOTE, _COMMENT = range(3)


class _Scanner:
    """
    The first pass: from physical lines to logical commands.

    It is a state machine fed one physical line at a time because whether a
    line is JCL, and whether a C{/*} opens a comment, depends on what came
    before (an open comment, an open quoted string, a continuation).  Each
    completed logical command is parsed at once, so that errors are reported
    in the order they occur in the file.

    @ivar commands: the commands parsed so far.
    """

    def __init__(self, jcl: bool, first_line: int, numbered: bool) -> None:
        """
        @param jcl: whether JCL statements and delimiters are skipped (a job
            file) or are text like any other (a single command).
        @param first_line: the number of the first physical line.
        @param numbered: whether errors and commands carry line numbers; a
            command from the command line has none to report.
        """
        self.commands: list[RacfCommand] = []
        self._jcl = jcl
        self._first_line = first_line
        self._numbered = numbered
        self._pieces: list[str] = []
        self._size = 0
        self._start: int | None = None
        self._state = _NORMAL
        # A "/" at the end of a piece in _NORMAL (it may open a comment with
        # the first character of the next continuation line), or a "*" at the
        # end of a piece in _COMMENT (it may close it likewise).
        self._pending = False
        self._pending_line = 0
        self._comment_line = 0

    def _where(self, lineno: int | None) -> int | None:
        return lineno if self._numbered else None

    def _error(
        self, text: str, lineno: int | None, current: str = ""
    ) -> CommandSyntaxError:
        """
        Build an error for a problem found before the command was parsed,
        naming the command if its verb has been read.

        @param current: the physical line being examined, where the verb is
            when it is the first line of the command.
        """
        if self._state == _COMMENT:
            current = ""
        match = _VERB_GUESS.match("".join(self._pieces) or current)
        verb = match.group(1).upper() if match else ""
        return CommandSyntaxError(text, command=verb, line=self._where(lineno))

    def scan(self, text: str) -> None:
        """
        Feed a whole text, split into physical lines, and finish.
        """
        if text.startswith("\ufeff"):
            # A byte-order mark is an artefact of the editor, not text.
            text = text[1:]
        lines = text.split("\n")
        if lines[-1] == "":
            # The final line ending terminates the last line; it does not
            # start an empty one.
            lines.pop()
        continuation: str | None = None
        lineno = self._first_line
        for index, raw in enumerate(lines):
            lineno = self._first_line + index
            line = raw[:-1] if raw.endswith("\r") else raw
            if len(line) > MAX_LINE_LENGTH:
                raise self._error(
                    f"line longer than {MAX_LINE_LENGTH} characters", lineno, line
                )
            bad = _FORBIDDEN.search(line)
            if bad is not None:
                raise self._error(
                    f"control character U+{ord(bad.group()):04X} in the text",
                    lineno,
                    line,
                )
            line = line.replace("\t", " ")
            if continuation is None and self._state != _COMMENT and self._jcl:
                if line.startswith("//") or (
                    line.startswith("/*") and "*/" not in line[2:]
                ):
                    continue
            if continuation == "+":
                line = line.lstrip(" ")
            stripped = line.rstrip(" ")
            if stripped.endswith(("-", "+")):
                continuation = stripped[-1]
                self._feed(stripped[:-1], lineno)
            else:
                continuation = None
                self._feed(line, lineno)
                self._hard_break()
        if continuation is not None:
            raise self._error("continuation on the last line", lineno)
        if self._state == _COMMENT:
            raise self._error("unterminated comment", self._comment_line)

    def _emit(self, text: str, lineno: int) -> None:
        """
        Append text to the current command, starting one if needed.
        """
        if self._start is None:
            text = text.lstrip(" ")
            if not text:
                return
            self._start = lineno
        self._pieces.append(text)
        self._size += len(text)
        if self._size > MAX_COMMAND_LENGTH:
            raise self._error(
                f"command longer than {MAX_COMMAND_LENGTH} characters", self._start
            )

    def _feed(self, content: str, lineno: int) -> None:
        """
        Process the text of one physical line, continuation mark removed.
        """
        i = 0
        end = len(content)
        if self._pending and content:
            # An empty continuation line leaves a pending mark pending.
            self._pending = False
            if self._state == _NORMAL:
                if content.startswith("*"):
                    self._open_comment(self._pending_line)
                    i = 1
                else:
                    self._emit("/", self._pending_line)
            elif content.startswith("/"):
                # _COMMENT: the "*" ending the previous piece closes it.
                self._state = _NORMAL
                i = 1
        while i < end:
            if self._state == _NORMAL:
                match = _NORMAL_STOP.search(content, i)
                if match is None:
                    self._emit(content[i:], lineno)
                    return
                j = match.start()
                if j > i:
                    self._emit(content[i:j], lineno)
                if content[j] == "'":
                    self._emit("'", lineno)
                    self._state = _QUOTE
                    i = j + 1
                elif j + 1 == end:
                    self._pending = True
                    self._pending_line = lineno
                    return
                elif content[j + 1] == "*":
                    self._open_comment(lineno)
                    i = j + 2
                else:
                    self._emit("/", lineno)
                    i = j + 1
            elif self._state == _QUOTE:
                k = content.find("'", i)
                if k < 0:
                    self._emit(content[i:], lineno)
                    return
                self._emit(content[i : k + 1], lineno)
                self._state = _NORMAL
                i = k + 1
            else:
                k = content.find("*/", i)
                if k < 0:
                    self._pending = content.endswith("*")
                    return
                self._state = _NORMAL
                i = k + 2

    def _open_comment(self, lineno: int) -> None:
        # A comment stands for a blank: "A/*x*/B" is two words, as in TSO.
        self._emit(" ", lineno)
        self._state = _COMMENT
        self._comment_line = lineno

    def _hard_break(self) -> None:
        """
        Handle the end of a physical line that is not continued.

        Inside a comment the line end is part of the comment, so the command
        goes on after it; anywhere else it ends the command.  An open quoted
        string is left for the second pass to report, because it knows the
        verb.
        """
        if self._state == _COMMENT:
            # "*" and "/" on either side of a line end do not close it.
            self._pending = False
            return
        if self._pending:
            self._pending = False
            self._emit("/", self._pending_line)
        self._state = _NORMAL
        if self._start is not None:
            self.commands.append(
                _parse_logical("".join(self._pieces), self._where(self._start))
            )
        self._pieces = []
        self._size = 0
        self._start = None


class _Frame:
    """
    An operand whose argument list is open: the parser's explicit stack
    (explicit so that deep nesting cannot exhaust Python's stack).
    """

    __slots__ = ("outer", "word")

    def __init__(self, word: str, outer: list[Operand]) -> None:
        self.word = word
        self.outer = outer


def _parse_logical(text: str, line: int | None) -> RacfCommand:
    """
    The second pass: parse one logical command.

    @param text: the command, joined and free of comments, tabs and control
        characters, starting with a non-blank.
    @param line: the line to report in errors and in the result.
    """
    first = _WORD.match(text)
    verb_text = first.group() if first is not None else ""
    pos = len(verb_text)
    if not verb_text or _VERB.fullmatch(verb_text) is None:
        shown = verb_text or text[:1]
        raise CommandSyntaxError(
            f"a command must start with a command name, not {shown!r}", line=line
        )
    verb = verb_text.upper()
    if pos < len(text) and text[pos] in "('":
        raise CommandSyntaxError(
            "a command name must be followed by a blank", command=verb, line=line
        )

    def error(message: str, stack: list[_Frame]) -> CommandSyntaxError:
        # Name the outermost open keyword: that is what the operator wrote
        # and will look for.
        keyword = stack[0].word.upper() if stack and stack[0].word else None
        return CommandSyntaxError(message, command=verb, keyword=keyword, line=line)

    stack: list[_Frame] = []
    current: list[Operand] = []
    end = len(text)
    while pos < end:
        char = text[pos]
        if char in " ,":
            pos += 1
        elif char == "(":
            stack.append(_Frame("", current))
            current = []
            pos += 1
            if len(stack) > MAX_NESTING:
                raise error(f"parentheses nested more than {MAX_NESTING} deep", stack)
        elif char == ")":
            if not stack:
                raise error("')' without a matching '('", stack)
            frame = stack.pop()
            frame.outer.append(Operand(frame.word, False, tuple(current)))
            current = frame.outer
            pos += 1
        elif char == "'":
            pieces = []
            pos += 1
            while True:
                close = text.find("'", pos)
                if close < 0:
                    raise error("unterminated quoted string", stack)
                pieces.append(text[pos:close])
                pos = close + 1
                if pos < end and text[pos] == "'":
                    pieces.append("'")
                    pos += 1
                else:
                    break
            if pos < end and text[pos] == "(":
                raise error("a quoted string cannot be followed by '('", stack)
            if pos < end and text[pos] not in " ,)":
                raise error(
                    "a quoted string must be followed by a blank, comma or ')'", stack
                )
            current.append(Operand("".join(pieces), True, None))
        else:
            match = _WORD.match(text, pos)
            assert match is not None  # every other character is a word character
            word = match.group()
            pos = match.end()
            if pos < end and text[pos] == "'":
                raise error("a quote inside a word", stack)
            if pos < end and text[pos] == "(":
                stack.append(_Frame(word, current))
                current = []
                pos += 1
                if len(stack) > MAX_NESTING:
                    raise error(
                        f"parentheses nested more than {MAX_NESTING} deep", stack
                    )
            else:
                current.append(Operand(word, False, None))
    if stack:
        raise error("missing ')'", stack)
    return RacfCommand(verb, tuple(current), line)


def _scan(text: str, jcl: bool, line: int | None) -> list[RacfCommand]:
    scanner = _Scanner(jcl, 1 if line is None else line, line is not None)
    scanner.scan(text)
    return scanner.commands


def parse_job(text: str) -> list[RacfCommand]:
    """
    Parse a job file: RACF commands as submitted in a TSO batch job.

    JCL statements (C{//...}) and in-stream delimiters (C{/*} in column 1)
    are skipped so that the SYSTSIN part of real z/OS jobs can be run as
    they are.  Comments, continuation lines (C{-} keeps the next line's
    leading blanks, C{+} drops them) and blank lines follow TSO.

    @param text: the whole file, lines ended by C{\\n} or C{\\r\\n}.
    @return: the commands in file order, each with the line where it starts.
    @raise CommandSyntaxError: for the first error in the file, naming the
        line and, once read, the command.
    """
    return _scan(text, jcl=True, line=1)


def parse_command(text: str, line: int | None = None) -> RacfCommand:
    """
    Parse exactly one command, such as one given on the command line.

    Comments and continuation lines are allowed as in a job, but JCL is not
    recognised: a single command has no job around it.

    @param text: the command.
    @param line: the line where the text starts, to report in errors and in
        the result; C{None} when the command has no place in a file.
    @raise CommandSyntaxError: if the text is malformed, holds no command or
        holds more than one.
    """
    commands = _scan(text, jcl=False, line=line)
    if not commands:
        raise CommandSyntaxError("no command", line=line)
    if len(commands) > 1:
        extra = commands[1]
        raise CommandSyntaxError(
            f"more than one command (another, {extra.verb}, follows)",
            command=commands[0].verb,
            line=extra.line,
        )
    return commands[0]


def _render_operand(operand: Operand, depth: int) -> str:
    """
    Render one operand at C{depth} (1 for an operand of the command itself),
    so that its argument list, if any, sits inside C{depth} parentheses.
    """
    if operand.args is not None and depth > MAX_NESTING:
        raise ValueError(f"parentheses nested more than {MAX_NESTING} deep")
    word = operand.word
    if _FORBIDDEN.search(word) or "\t" in word:
        raise ValueError(f"control character in {word!r}")
    if operand.quoted:
        if operand.args is not None:
            raise ValueError(f"the quoted word {word!r} cannot have arguments")
        return "'" + word.replace("'", "''") + "'"
    if word:
        if _WORD.fullmatch(word) is None or "/*" in word:
            raise ValueError(f"{word!r} cannot be written without quotes")
    elif operand.args is None:
        raise ValueError("an unquoted empty word needs arguments")
    if operand.args is None:
        return word
    inner = " ".join(_render_operand(arg, depth + 1) for arg in operand.args)
    return f"{word}({inner})"


def render_command(cmd: RacfCommand) -> str:
    """
    Write a command as canonical text that L{parse_command} reads back equal.

    The interpreter and the tools use this to echo, log and store commands,
    so the form is fixed: operands separated by one blank, quotes only where
    the tree has them.  Two cases need care to survive a reparse: a command
    ending in a bare word that ends in C{-} or C{+} gets a trailing comma (a
    harmless separator) so the mark is not read as a continuation, and a
    command longer than L{MAX_LINE_LENGTH} is split into C{-} continuation
    lines.  The line number is not part of the text.

    @raise ValueError: if the command cannot be written so as to parse back
        equal: a verb that is not upper-case letters, a word with a control
        character, a bare word with a separator, a quote or C{/*} in it, an
        empty bare word without arguments, a quoted word with arguments, or a
        command deeper or longer than the parser accepts.
    """
    if _VERB.fullmatch(cmd.verb) is None or cmd.verb != cmd.verb.upper():
        raise ValueError(f"{cmd.verb!r} is not an upper-case command name")
    text = " ".join([cmd.verb, *(_render_operand(op, 1) for op in cmd.operands)])
    if text.endswith(("-", "+")):
        text += ","
    if len(text) > MAX_COMMAND_LENGTH:
        raise ValueError(f"command longer than {MAX_COMMAND_LENGTH} characters")
    lines = []
    while len(text) > MAX_LINE_LENGTH:
        # Break after a blank where possible, to keep operands whole.
        cut = text.rfind(" ", 0, MAX_LINE_LENGTH - 1) + 1 or MAX_LINE_LENGTH - 1
        lines.append(text[:cut] + "-")
        text = text[cut:]
    lines.append(text)
    return "\n".join(lines)
