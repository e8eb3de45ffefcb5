"""
Why a management socket may not be opened, in words an operator can act on.

Connecting to an AF_UNIX socket needs search permission on every folder of
its path and write permission on the socket itself, so "Permission denied"
means one of those is missing.  The daemons make their sockets for their
owner and one group; this says which folder or which socket stops the user,
and which user and group may get in, instead of the bare errno text.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat

__all__ = ["describe_denied"]


def describe_denied(path: str) -> str:
    """
    Why this process may not connect to the socket C{path}.
    """
    user = _user_name(os.geteuid())
    blocked = _first_closed_folder(os.path.dirname(os.path.abspath(path)))
    if blocked is not None:
        return (
            f"permission denied: user {user} may not enter the folder"
            f" {blocked} ({_describe(blocked)}), which holds the socket"
        )
    try:
        status = os.stat(path)
    except OSError:
        return "permission denied"
    owner, group = _user_name(status.st_uid), _group_name(status.st_gid)
    shown = f"the socket is {stat.filemode(status.st_mode)} {owner}:{group}"
    if status.st_mode & stat.S_IWOTH:
        return f"permission denied, although {shown}"
    if status.st_mode & stat.S_IWGRP:
        return (
            f"permission denied: {shown}, so only {owner} and members of group"
            f" {group} may open it, and user {user} is not in group {group}"
        )
    return f"permission denied: {shown}, so only {owner} may open it"


def _first_closed_folder(folder: str) -> str | None:
    """
    The first folder from the root down to C{folder} that this process may
    not search, if any.
    """
    current = os.sep
    for part in [p for p in folder.split(os.sep) if p]:
        current = os.path.join(current, part)
        if not os.access(current, os.X_OK):
            return current
    return None


def _describe(folder: str) -> str:
    try:
        status = os.stat(folder)
    except OSError:
        return "cannot be read"
    owner, group = _user_name(status.st_uid), _group_name(status.st_gid)
    return f"{stat.filemode(status.st_mode)} {owner}:{group}"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"
