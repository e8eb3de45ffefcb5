"""
Every file of an installation, generated from its description: per NSS
server nssd.conf, the RACF job of its security database with the script
that gives its secrets, and a unit; per image iked.conf, a policy file per
NSS stack, the stacks' secret files and a unit; a README per host.

Generation reads the description and the secrets and nothing else, so the
same description and secrets give the same bytes; only the deployment
(L{nsstwisted.assistant.deployment}) writes files.
"""

from __future__ import annotations

from collections.abc import Callable

from nsstwisted.assistant.generators.ikedconf import generate_iked
from nsstwisted.assistant.generators.layout import GenerationError
from nsstwisted.assistant.generators.nssdconf import generate_nssd
from nsstwisted.assistant.generators.policyfiles import generate_policies
from nsstwisted.assistant.generators.racfjob import generate_racf
from nsstwisted.assistant.generators.readme import (
    Placement,
    generate_readmes,
    placements,
)
from nsstwisted.assistant.generators.secretfiles import generate_secrets
from nsstwisted.assistant.generators.units import generate_units
from nsstwisted.assistant.model import Description, GeneratedFile

__all__ = ["GenerationError", "Placement", "generate", "placements"]


def generate(
    description: Description, secret: Callable[[str], str]
) -> list[GeneratedFile]:
    """
    Every file of the installation, sorted by path, the same bytes for the
    same description and secrets.  C{secret(name)} returns the secret named
    (a user's password or a database's PassTicket key, by a name the
    generators choose, such as C{"NSSD1/TCPCS1.password"}); the caller
    keeps secrets across runs (the deployment reads them back from the
    files it wrote), so that a regeneration does not change them.

    @raise GenerationError: the description names something it does not
        hold (what the validation reports first).
    """
    files = [
        *generate_nssd(description),
        *generate_racf(description),
        *generate_iked(description),
        *generate_policies(description),
        *generate_secrets(description, secret),
        *generate_units(description),
        *generate_readmes(description),
    ]
    paths: dict[str, GeneratedFile] = {}
    for file in files:
        if file.path in paths and paths[file.path] != file:
            raise GenerationError(
                "NSA0060E",
                f"two files of the installation would be {file.path}: give the"
                " server and the image that share this folder different names",
            )
        paths[file.path] = file
    return sorted(paths.values(), key=lambda f: f.path)
