"""
The RACF keywords whose values are secrets, found in a parsed command.

A password or PassTicket key written into a command is only as private as the
place the command came from: a job file with an owner-only mode keeps it, the
argument vector of a running C{nss-racf} does not (every local user can read
C{/proc/PID/cmdline}).  The tools that take commands need to know which
operands are secret, to warn about the second case and to let a keyword be
written without its value and the value be asked for instead, as TSO prompts
for a missing operand.  That knowledge is about the command language, so it
lives here, beside the grammar, and is sans-IO: it takes a L{RacfCommand} and
returns facts or a new command, and never sees a terminal.

Keywords are resolved as the interpreter resolves them (abbreviations
included: C{ADDUSER U1 PASSW(x)} carries a password), but a keyword this
module cannot resolve is skipped rather than reported: reporting syntax is the
interpreter's job, and a command that does not parse runs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from nsstwisted.security.errors import CommandSyntaxError, InvalidValueError
from nsstwisted.security.racf.commands import SYNTAX
from nsstwisted.security.racf.lexer import Operand, RacfCommand
from nsstwisted.security.racf.syntax import Syntax, resolve_keyword

__all__ = [
    "MASK",
    "SECRET_KEYWORDS",
    "SecretOperand",
    "fill_secrets",
    "find_secrets",
    "mask_secrets",
]

MASK = "********"
"""What a secret's value is replaced with where a command is shown."""

SECRET_KEYWORDS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "ADDUSER": (("PASSWORD",),),
    "ALTUSER": (("PASSWORD",),),
    "RACDCERT": (("PASSWORD",),),
    "RDEFINE": (("SSIGNON", "KEYMASKED"),),
    "RALTER": (("SSIGNON", "KEYMASKED"),),
}
"""
For each command, the paths of the keywords whose value is a secret: the
user's password, the PKCS#12 file's password of C{RACDCERT ADD}, and the
PassTicket key inside C{SSIGNON}.  C{SETROPTS PASSWORD(REVOKE(n))} is a rule,
not a secret, and is not listed.
"""


@dataclass(frozen=True)
class SecretOperand:
    """
    A secret-bearing keyword as it was written in a command.

    @ivar keyword: its full name for messages, nested keywords inside their
        parents: C{PASSWORD}, C{SSIGNON(KEYMASKED)}.  Never the value.
    @ivar prompt: the keyword an operator writes without a value to be asked
        for it (C{KEYMASKED} for C{SSIGNON(KEYMASKED)}).
    @ivar given: whether a value was written (C{PASSWORD(x)}); C{False} for
        the bare keyword (C{PASSWORD}), which asks for the value.
    """

    keyword: str
    prompt: str
    given: bool


@dataclass(frozen=True)
class _Found:
    secret: SecretOperand
    location: tuple[int, ...]


def _keyword_start(operands: Sequence[Operand], syntax: Syntax) -> int:
    """
    The index of the first operand that is read as a keyword, by the same
    rule as L{nsstwisted.security.racf.syntax.parse_operands}: a bare word
    in a positional place is a name (C{ADDUSER PASSW} defines user PASSW),
    not a keyword.
    """
    index = 0
    while index < len(operands) and index < syntax.positional:
        operand = operands[index]
        if operand.word == "" and operand.args is not None:
            index += 1
        elif operand.args is None and (
            operand.quoted or operand.word.upper() not in syntax.keywords
        ):
            index += 1
        else:
            break
    return index


def _walk(
    operands: Sequence[Operand],
    syntax: Syntax,
    verb: str,
    paths: tuple[tuple[str, ...], ...],
    parents: tuple[str, ...],
    location: tuple[int, ...],
) -> Iterator[_Found]:
    # Recursion is bounded by the longest path in SECRET_KEYWORDS (two), not
    # by the nesting of the input.
    for index in range(_keyword_start(operands, syntax), len(operands)):
        operand = operands[index]
        if operand.quoted or operand.word == "":
            continue
        try:
            keyword = resolve_keyword(operand.word, syntax, verb, None)
        except CommandSyntaxError:
            continue
        for path in paths:
            if path[0] != keyword:
                continue
            if len(path) == 1:
                if operand.args == ():
                    # PASSWORD() holds no secret and asks for none; the
                    # interpreter refuses it as it always has.
                    continue
                name = "".join(f"{p}(" for p in parents) + keyword + ")" * len(parents)
                yield _Found(
                    SecretOperand(name, keyword, operand.args is not None),
                    (*location, index),
                )
            elif operand.args is not None and keyword in syntax.nested:
                yield from _walk(
                    operand.args,
                    syntax.nested[keyword],
                    verb,
                    (path[1:],),
                    (*parents, keyword),
                    (*location, index),
                )


def _found(command: RacfCommand) -> list[_Found]:
    syntax = SYNTAX.get(command.verb)
    paths = SECRET_KEYWORDS.get(command.verb)
    if syntax is None or paths is None:
        return []
    return list(_walk(command.operands, syntax, command.verb, paths, (), ()))


def find_secrets(command: RacfCommand) -> list[SecretOperand]:
    """
    The secret-bearing keywords of a command, in the order written: with a
    value or bare.  C{PASSWORD()} is neither and is not listed.
    """
    return [found.secret for found in _found(command)]


def _has_control_character(value: str) -> bool:
    # The characters the lexer refuses in any text, and the tab it would
    # have turned into a blank: a value typed at a prompt must mean what the
    # same value written in a job would.
    return any(
        ord(c) < 0x20
        or 0x7F <= ord(c) <= 0x9F
        or c in "\u2028\u2029"
        or 0xD800 <= ord(c) <= 0xDFFF
        for c in value
    )


def _replace(
    operands: tuple[Operand, ...], location: tuple[int, ...], value: str
) -> tuple[Operand, ...]:
    index, rest = location[0], location[1:]
    operand = operands[index]
    if rest:
        replaced = Operand(
            operand.word, operand.quoted, _replace(operand.args or (), rest, value)
        )
    else:
        # Quoted, so that the value is a value whatever it spells.
        replaced = Operand(operand.word, False, (Operand(value, True, None),))
    return (*operands[:index], replaced, *operands[index + 1 :])


def fill_secrets(command: RacfCommand, values: Sequence[str]) -> RacfCommand:
    """
    The command with each secret keyword written without a value given the
    next of C{values}, in the order L{find_secrets} lists them.

    @raise InvalidValueError: a value is empty or holds a control character;
        the message names the keyword, never the value.
    @raise ValueError: C{values} does not hold one value for each keyword
        written without one.
    """
    missing = [found for found in _found(command) if not found.secret.given]
    if len(missing) != len(values):
        raise ValueError(f"{len(missing)} secrets are missing, {len(values)} given")
    operands = command.operands
    for found, value in zip(missing, values, strict=True):
        if not value:
            raise InvalidValueError(f"{found.secret.keyword} needs a value")
        if _has_control_character(value):
            raise InvalidValueError(
                f"the value of {found.secret.keyword} holds a control character"
            )
        operands = _replace(operands, found.location, value)
    return RacfCommand(command.verb, operands, command.line)


def mask_secrets(command: RacfCommand) -> RacfCommand:
    """
    The command with the value of every secret keyword replaced by L{MASK},
    to be recorded or shown: the audit trail says that a password was set,
    never which.
    """
    operands = command.operands
    for found in _found(command):
        if found.secret.given:
            operands = _replace(operands, found.location, MASK)
    return RacfCommand(command.verb, operands, command.line)
