"""
The secret files: each NSS stack's password or PassTicket key file for its
image, and, for the server that keeps the stacks' users, a copy of each
for the companion script of the RACF job, which gives the users those
passwords and the PTKTDATA profile that key, so that the job itself holds
no secret.

A secret is asked for by name (L{layout.password_secret},
L{layout.passticket_secret}); one name is one value wherever it is
written, which is what makes the image's file and the server's copy agree.
"""

from __future__ import annotations

from collections.abc import Callable

from nsstwisted.assistant.generators.layout import (
    PASSTICKET_APPLICATION,
    PASSTICKET_KEY_SUFFIX,
    image_database,
    nss_stacks,
    passticket_secret,
    password_secret,
    primaries,
    secret_file_name,
    served_stacks,
)
from nsstwisted.assistant.model import Description, GeneratedFile, Role

#: The server's folder for the copies its RACF script reads.
SERVER_SECRETS = "secrets"


def _secret_file(path: str, name: str, secret: Callable[[str], str]) -> GeneratedFile:
    return GeneratedFile(path, (secret(name) + "\n").encode(), Role.SECRET, name)


def generate_secrets(
    description: Description, secret: Callable[[str], str]
) -> list[GeneratedFile]:
    files: dict[str, GeneratedFile] = {}
    for image in description.images:
        database = image_database(description, image)
        if database is None:
            continue
        for entry in nss_stacks(image):
            name = (
                passticket_secret(database)
                if entry.authBy == "PassTicket"
                else password_secret(database, entry.userId)
            )
            path = f"{image.name}/secrets/{secret_file_name(entry)}"
            files.setdefault(path, _secret_file(path, name, secret))
    for primary in primaries(description):
        for entry in served_stacks(description, primary):
            if entry.authBy == "PassTicket":
                name = passticket_secret(primary)
                file = f"{PASSTICKET_APPLICATION}{PASSTICKET_KEY_SUFFIX}"
            else:
                name = password_secret(primary, entry.userId)
                file = secret_file_name(entry)
            path = f"{primary.name}/{SERVER_SECRETS}/{file}"
            files.setdefault(path, _secret_file(path, name, secret))
    return list(files.values())
