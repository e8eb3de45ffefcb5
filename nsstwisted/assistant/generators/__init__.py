"""
PLACEHOLDER (replaced by the generators' branch): every generated file.
"""

from __future__ import annotations

from collections.abc import Callable

from nsstwisted.assistant.model import Description, GeneratedFile


def generate(
    description: Description, secret: Callable[[str], str]
) -> list[GeneratedFile]:
    """
    Every file of the installation, sorted by path, the same bytes for the
    same description and secrets.  C{secret(name)} returns the secret named
    (a stack's password or PassTicket key, by a name the generators choose,
    such as C{"SYSTEMA/TCPCS1.password"}); the caller keeps secrets across
    runs (the deployment reads them back from the files it wrote), so that a
    regeneration does not change them.
    """
    raise NotImplementedError
