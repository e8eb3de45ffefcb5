"""
The companion script of a RACF job: it gives the stacks' users their
passwords and the PTKTDATA profile its key, reading each secret on
nss-racf's standard input from the secret files beside it, so that the job
holds no secret and no secret is ever on a command line.
"""

from __future__ import annotations

import shlex

from nsstwisted.assistant.generators.layout import (
    PASSTICKET_APPLICATION,
    PASSTICKET_KEY_SUFFIX,
    RACF_JOB,
    SECRETS_SCRIPT,
    secret_file_name,
    served_stacks,
)
from nsstwisted.assistant.generators.secretfiles import SERVER_SECRETS
from nsstwisted.assistant.model import Description, GeneratedFile, NssServer, Role


def database_options(primary: NssServer) -> list[str]:
    """
    nss-racf's options for the server's database and stash, none where the
    server uses the usual search, which nss-racf makes too; and for its
    audit trail, so that the commands that set the server up are recorded
    where its signatures will be; and for its PKCS#11 token, in which the
    job makes the keys of the certificates described so.  The PIN file is
    named, never read here: the operator makes it (mode 0600), and the
    assistant never holds the PIN.
    """
    options = []
    if primary.database is not None:
        options += ["--database", primary.database]
    if primary.stashFile is not None:
        options += ["--stash", primary.stashFile]
    if primary.auditFile is not None:
        options += ["--audit-file", primary.auditFile]
    if primary.auditSyslog is not None:
        options += ["--audit-syslog", primary.auditSyslog]
        if primary.auditSyslogSocket is not None:
            options += ["--audit-syslog-socket", primary.auditSyslogSocket]
    if primary.has_token:
        options += [
            "--pkcs11-module",
            primary.pkcs11Module or "",
            "--pkcs11-pin-file",
            primary.pkcs11PinFile or "",
            "--pkcs11-token",
            primary.pkcs11TokenLabel or "",
        ]
    return options


def secrets_script(description: Description, primary: NssServer) -> GeneratedFile:
    stacks = served_stacks(description, primary)
    racf = '"$NSS_RACF"' + "".join(
        " " + shlex.quote(o) for o in database_options(primary)
    )
    lines = [
        "#!/bin/sh",
        f"# {SECRETS_SCRIPT}: the secrets of NSS server {primary.name}'s security",
        f"# database, which {RACF_JOB} leaves out.  Run it after the job, on the",
        "# same host:   sh " + SECRETS_SCRIPT,
        "# nss-racf reads each secret from standard input (a keyword without its",
        f"# value), from the files in {SERVER_SECRETS}/ (mode 0600): no secret is",
        "# ever on a command line.  Delete the folder once this has run.",
        "# NSS_RACF names another nss-racf to run.",
        "set -eu",
        'cd "$(dirname "$0")"',
        'NSS_RACF="${NSS_RACF:-nss-racf}"',
    ]
    done: set[str] = set()
    for entry in stacks:
        if entry.authBy == "PassTicket":
            command = f"RALTER PTKTDATA {PASSTICKET_APPLICATION} SSIGNON(KEYMASKED)"
            file = f"{PASSTICKET_APPLICATION}{PASSTICKET_KEY_SUFFIX}"
        else:
            command = f"ALTUSER {entry.userId} PASSWORD"
            file = secret_file_name(entry)
        if command in done:
            continue
        done.add(command)
        lines.append(f"{racf} {shlex.quote(command)} < {SERVER_SECRETS}/{file}")
    lines.append("")
    return GeneratedFile(
        f"{primary.name}/{SECRETS_SCRIPT}", "\n".join(lines).encode(), Role.JOB
    )
