"""
Hypothesis strategies for the RACF command language.

The alphabets are small and biased towards the characters the lexer treats
specially (separators, quotes, C{/} and C{*} of comments, the C{-} and C{+}
of continuation) so that few examples reach the interesting cases; sizes are
kept small so the property tests stay fast.  Nothing here uses randomness of
its own: every choice is drawn from Hypothesis, so failures shrink and replay.
"""

from __future__ import annotations

import string
from dataclasses import replace

from hypothesis import strategies as st

from nsstwisted.security.racf.lexer import Operand, RacfCommand, render_command

# Characters of bare words: what RACF names are made of, plus the lexer's
# special characters that are still word characters, plus some non-ASCII.
WORD_ALPHABET = string.ascii_letters + string.digits + ".*%&/-+#@$_:=\u00e9\u20ac"

# Characters the lexer treats specially, to salt arbitrary text with.
SPECIAL_ALPHABET = " ,()'/*-+\t\r\n\x00\x85\u2028\ud800AZaz09.\u00e9"

verbs = st.text(string.ascii_uppercase, min_size=1, max_size=8)

bare_words = st.text(WORD_ALPHABET, min_size=1, max_size=10).filter(
    lambda word: "/*" not in word
)

# Anything but the characters the lexer rejects: quoted strings may hold
# blanks, commas, parentheses, quotes and comment marks.
quoted_words = st.one_of(
    st.text(st.sampled_from(" ,()'/*-+aZ9"), max_size=10),
    st.text(
        st.characters(
            exclude_categories=("Cc", "Cs"), exclude_characters="\u2028\u2029"
        ),
        max_size=10,
    ),
)


def _with_args(children: st.SearchStrategy[Operand]) -> st.SearchStrategy[Operand]:
    return st.builds(
        Operand,
        word=st.one_of(st.just(""), bare_words),
        quoted=st.just(False),
        args=st.lists(children, max_size=3).map(tuple),
    )


operands: st.SearchStrategy[Operand] = st.recursive(
    st.one_of(
        st.builds(Operand, word=bare_words, quoted=st.just(False), args=st.none()),
        st.builds(Operand, word=quoted_words, quoted=st.just(True), args=st.none()),
    ),
    _with_args,
    max_leaves=8,
)

commands: st.SearchStrategy[RacfCommand] = st.builds(
    RacfCommand,
    verb=verbs,
    operands=st.lists(operands, max_size=5).map(tuple),
    line=st.none(),
)

# Arbitrary text: unrestricted Unicode, and text dense in special characters.
texts = st.one_of(
    st.text(max_size=60),
    st.text(st.sampled_from(SPECIAL_ALPHABET), max_size=60),
)


@st.composite
def continued(draw: st.DrawFn, text: str) -> list[str]:
    """
    Split one line of text at random points into TSO continuation lines.

    Each break is either C{-} (the next line appended as is) or, when the
    next piece does not start with a blank, C{+} with the next line indented
    (the indentation is then removed again); blanks may follow either mark.
    The first piece is never empty, so the command starts on the first line
    (empty pieces elsewhere give lines holding nothing but the mark).

    @param text: one line, not empty.
    @return: the physical lines, to be joined with line ends.
    """
    points = sorted(draw(st.lists(st.integers(1, len(text)), max_size=5)))
    pieces = [
        text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)
    ]
    lines = [pieces[0]]
    for piece in pieces[1:]:
        trailing = draw(st.sampled_from(["", " "]))
        if not piece.startswith(" ") and draw(st.booleans()):
            lines[-1] += "+" + trailing
            lines.append(draw(st.sampled_from(["", " ", "    "])) + piece)
        else:
            lines[-1] += "-" + trailing
            lines.append(piece)
    return lines


@st.composite
def continued_commands(draw: st.DrawFn) -> tuple[RacfCommand, list[str]]:
    """
    A command and its rendering split into continuation lines.
    """
    command = draw(commands)
    return command, draw(continued(render_command(command)))


# Lines a job may hold between commands, none of which is a command.
FILLER_LINES = [
    "",
    "   ",
    "//NSSJOB  JOB (ACCT),'RACF'",
    "//STEP1   EXEC PGM=IKJEFT01",
    "//SYSTSIN DD *",
    "//* a JCL comment",
    "/*",
    " /* a comment */",
    "/* a comment in column 1 */",
]


@st.composite
def jobs(draw: st.DrawFn) -> tuple[list[RacfCommand], str]:
    """
    A job file of continued commands between JCL, comments and blank lines,
    with the commands it must parse to (their lines included).
    """
    expected = []
    lines: list[str] = []
    for command in draw(st.lists(commands, max_size=3)):
        lines.extend(draw(st.lists(st.sampled_from(FILLER_LINES), max_size=2)))
        expected.append(replace(command, line=len(lines) + 1))
        lines.extend(draw(continued(render_command(command))))
    lines.extend(draw(st.lists(st.sampled_from(FILLER_LINES), max_size=2)))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return expected, "".join(line + ending for line in lines)
