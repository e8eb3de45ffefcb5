"""
Values that both daemons' configuration files take the same way: one
setting's single value, the system name, absolute paths and certificate
labels, each checked with an error naming the file, line and keyword.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from nsstwisted.config.parser import ConfigurationError, Setting

MAX_LABEL_LENGTH = 32
SYSTEM_NAME = re.compile(r"[A-Z0-9@#$]{1,8}")

Check = Callable[[Setting, str], Any]
"""Checks one setting (and the file it is in) and returns its value."""


def setting_error(setting: Setting, filename: str, message: str) -> ConfigurationError:
    return ConfigurationError(message, filename, setting.line, setting.keyword)


def single_value(setting: Setting, filename: str) -> str:
    if len(setting.values) != 1:
        raise setting_error(setting, filename, "takes exactly one value")
    return setting.values[0]


def system_name_value(setting: Setting, filename: str) -> str:
    name = single_value(setting, filename).upper()
    if not SYSTEM_NAME.fullmatch(name):
        raise setting_error(setting, filename, "must be 1 to 8 of A-Z 0-9 @ # $")
    return name


def absolute_path(limit: int | None = None) -> Check:
    def check(setting: Setting, filename: str) -> str:
        path = single_value(setting, filename)
        # A daemon's working directory is not the operator's, so a relative
        # path would name a different file than the one meant.
        if not os.path.isabs(path):
            raise setting_error(setting, filename, "must be an absolute path")
        if limit is not None and len(path.encode("utf-8")) > limit:
            raise setting_error(
                setting,
                filename,
                f"must be at most {limit} bytes long (the AF_UNIX limit)",
            )
        return path

    return check


def label_value(setting: Setting, filename: str) -> str:
    label = single_value(setting, filename)
    if not 1 <= len(label) <= MAX_LABEL_LENGTH or not label.isprintable():
        raise setting_error(
            setting,
            filename,
            f"must be 1 to {MAX_LABEL_LENGTH} printable characters"
            " (quote a label holding blanks)",
        )
    return label


def default_system_name(hostname: str) -> str:
    """
    The system name to use when none is coded: the short host name, upper
    case, cut to 8 characters, much as an MVS system name is usually the
    host's own short name; both daemons use it, so a host running both gets
    one name.  The result may still be invalid (C{web-01}); the
    loader then asks for C{SystemName} rather than guessing a mapping that
    would silently change profile names.
    """
    return hostname.split(".", 1)[0].upper()[:8]
