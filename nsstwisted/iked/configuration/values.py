"""
The checks that iked.conf's statement families share, and how a statement
is written back for C{nss-modify iked display}.  Each check takes a setting
and the file's name, so that an error names the file, line and keyword.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from nsstwisted.config import ConfigurationError, Setting, Statement, format_value
from nsstwisted.config.values import setting_error as _error
from nsstwisted.config.values import single_value as _single

# The same rules as nsstwisted.nssd.configuration, restated because the two
# daemons never import each other.
_USERID = re.compile(r"[A-Z@#$][A-Z0-9@#$]{0,7}")


def _block(header: str, lines: list[str]) -> list[str]:
    return [header, "{", *(f"  {line}" for line in lines), "}"]


def _optional(
    keyword: str, value: str | None, meaning: str = "not set", quote: bool = True
) -> str:
    if value is None:
        return f"# {keyword} ({meaning})"
    return f"{keyword} {format_value(value) if quote else value}"


_Check = Callable[[Setting, str], Any]


def _statement_error(
    statement: Statement, filename: str, message: str
) -> ConfigurationError:
    return ConfigurationError(message, filename, statement.line, statement.kind)


def _none(setting: Setting, filename: str) -> None:
    if setting.values:
        raise _error(setting, filename, "takes no value")


def _digits(text: str, low: int, high: int) -> int | None:
    # ASCII digits only: int() would also take "+1", " 1", "1_0" and
    # Arabic-Indic digits, none of which an operator means.
    if text.isascii() and text.isdigit() and len(text) <= 10:
        value = int(text)
        if low <= value <= high:
            return value
    return None


def _number(low: int, high: int) -> _Check:
    def check(setting: Setting, filename: str) -> int:
        value = _digits(_single(setting, filename), low, high)
        if value is None:
            raise _error(setting, filename, f"must be a number from {low} to {high}")
        return value

    return check


def _choice(choices: Mapping[str, Any], spelling: str) -> _Check:
    def check(setting: Setting, filename: str) -> Any:
        value = _single(setting, filename).lower()
        if value not in choices:
            raise _error(setting, filename, f"must be {spelling}")
        return choices[value]

    return check


_yes_no = _choice({"yes": True, "no": False}, "yes or no")
