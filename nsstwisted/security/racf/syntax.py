"""
Operand grammar of the RACF commands: which operands are positional, which
keywords a command takes, and how many values each keyword carries.

The lexer gives a neutral tree; this module checks it against a command's
L{Syntax} and hands the interpreter a L{ParsedOperands} in which every
keyword is spelled in full, so no command has to deal with abbreviations,
duplicates or stray operands.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from nsstwisted.security.errors import CommandSyntaxError
from nsstwisted.security.racf.lexer import Operand, RacfCommand


class Arity(enum.Enum):
    """
    What may follow a keyword.
    """

    FLAG = "no value"
    ONE = "one value"
    OPTIONAL_ONE = "at most one value"
    MANY = "one or more values"
    NESTED = "keywords in parentheses"
    OPTIONAL_NESTED = "optionally keywords in parentheses"


@dataclass(frozen=True)
class Syntax:
    """
    The operands of one command (or of one nested keyword).

    @ivar positional: how many positional operands may lead, at most.
    @ivar required: how many of them must be there.
    @ivar keywords: the keywords and their arities.
    @ivar nested: the syntax inside each NESTED keyword.
    @ivar nestedPositional: for NESTED keywords whose first operand may be a
        bare word (C{SIGNWITH(CERTAUTH LABEL('x'))}), how many.
    """

    positional: int = 0
    required: int = 0
    keywords: Mapping[str, Arity] = field(default_factory=dict)
    nested: Mapping[str, Syntax] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedOperands:
    """
    A command's operands, checked: positional values (a parenthesised list
    counts as its elements) and keywords by full name.
    """

    positional: tuple[tuple[str, ...], ...]
    keywords: Mapping[str, tuple[str, ...]]
    nested: Mapping[str, ParsedOperands]

    def has(self, keyword: str) -> bool:
        return keyword in self.keywords or keyword in self.nested

    def value(self, keyword: str) -> str | None:
        values = self.keywords.get(keyword)
        return values[0] if values else None

    def values(self, keyword: str) -> tuple[str, ...]:
        return self.keywords.get(keyword, ())


def resolve_keyword(word: str, syntax: Syntax, verb: str, line: int | None) -> str:
    """
    The full keyword C{word} stands for: itself, or the one keyword it
    abbreviates unambiguously, as TSO allows.
    """
    upper = word.upper()
    if upper in syntax.keywords:
        return upper
    candidates = [k for k in syntax.keywords if k.startswith(upper)]
    if len(candidates) == 1:
        return candidates[0]
    reason = "is ambiguous" if candidates else "is not a keyword of this command"
    raise CommandSyntaxError(reason, verb, upper, line)


def _values(
    operand: Operand, verb: str, keyword: str, line: int | None
) -> tuple[str, ...]:
    values = []
    for inner in operand.args or ():
        if inner.args is not None:
            raise CommandSyntaxError(
                "takes plain values, not nested keywords", verb, keyword, line
            )
        values.append(inner.word)
    return tuple(values)


def parse_operands(
    operands: tuple[Operand, ...],
    syntax: Syntax,
    verb: str,
    line: int | None,
    *,
    within: str | None = None,
) -> ParsedOperands:
    """
    Check C{operands} against C{syntax}.

    @param within: the enclosing keyword, for messages about nested operands.
    """
    positional: list[tuple[str, ...]] = []
    keywords: dict[str, tuple[str, ...]] = {}
    nested: dict[str, ParsedOperands] = {}
    index = 0
    while index < len(operands) and len(positional) < syntax.positional:
        operand = operands[index]
        if operand.word == "" and operand.args is not None:
            positional.append(_values(operand, verb, within or verb, line))
        elif operand.args is None and (
            operand.quoted or operand.word.upper() not in syntax.keywords
        ):
            positional.append((operand.word,))
        else:
            break
        index += 1
    if len(positional) < syntax.required:
        raise CommandSyntaxError(
            f"needs {syntax.required} positional operand"
            + ("" if syntax.required == 1 else "s"),
            verb,
            within,
            line,
        )
    for operand in operands[index:]:
        if operand.quoted or operand.word == "":
            # The operand itself is not shown: it may be a password.
            raise CommandSyntaxError("an operand is out of place", verb, within, line)
        keyword = resolve_keyword(operand.word, syntax, verb, line)
        if keyword in keywords or keyword in nested:
            raise CommandSyntaxError("is given twice", verb, keyword, line)
        arity = syntax.keywords[keyword]
        if arity in (Arity.NESTED, Arity.OPTIONAL_NESTED):
            if operand.args is None:
                if arity is Arity.NESTED:
                    raise CommandSyntaxError(
                        "needs operands in parentheses", verb, keyword, line
                    )
                keywords[keyword] = ()
                continue
            nested[keyword] = parse_operands(
                operand.args, syntax.nested[keyword], verb, line, within=keyword
            )
            continue
        values = _values(operand, verb, keyword, line)
        if operand.args is None and arity not in (Arity.FLAG, Arity.OPTIONAL_ONE):
            raise CommandSyntaxError(f"needs {arity.value}", verb, keyword, line)
        if arity is Arity.FLAG and operand.args is not None:
            raise CommandSyntaxError("takes no value", verb, keyword, line)
        if arity in (Arity.ONE, Arity.OPTIONAL_ONE) and len(values) > 1:
            raise CommandSyntaxError("takes one value", verb, keyword, line)
        if arity in (Arity.ONE, Arity.MANY) and not values:
            raise CommandSyntaxError(f"needs {arity.value}", verb, keyword, line)
        keywords[keyword] = values
    return ParsedOperands(tuple(positional), keywords, nested)


def parse_command_operands(command: RacfCommand, syntax: Syntax) -> ParsedOperands:
    return parse_operands(command.operands, syntax, command.verb, command.line)
