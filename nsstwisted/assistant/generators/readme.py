"""
The README of each host's folder, and the placements it is written from:
which file of the folder goes where on the host, with which mode, and what
to run.

The placements are data as well as text, so that what the README tells an
operator to copy is what a test (or a deployment tool) copies: one answer
to "where does this file go".
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass

from nsstwisted.assistant.generators.layout import (
    RACF_JOB,
    SECRETS_SCRIPT,
    UNIT_DIRECTORY,
    ca_file,
    image_database,
    nss_stacks,
    policy_target,
    primaries,
    secret_file_name,
    served_stacks,
)
from nsstwisted.assistant.generators.racfcertificates import (
    add_command,
    exported_ca_files,
    pkcs12_imports,
)
from nsstwisted.assistant.generators.racfsecrets import database_options
from nsstwisted.assistant.generators.secretfiles import SERVER_SECRETS
from nsstwisted.assistant.generators.units import exec_start
from nsstwisted.assistant.model import Description, GeneratedFile, NssServer, Role


@dataclass(frozen=True)
class Placement:
    """
    One file to put on a host.

    @ivar host: the host's folder in the output folder.
    @ivar source: the file, relative to the output folder.
    @ivar target: the absolute path it goes to on the host.
    @ivar mode: the mode it must have there.
    @ivar madeByJob: the file is not generated but written by the RACF job
        when it runs (the exported CA certificate), so it is there only
        after the job.
    """

    host: str
    source: str
    target: str
    mode: int
    madeByJob: bool = False


def placements(description: Description) -> list[Placement]:
    found: list[Placement] = []
    for server in description.servers:
        folder = server.name
        found.append(Placement(folder, f"{folder}/nssd.conf", server.configFile, 0o644))
        found.append(
            Placement(
                folder,
                f"{folder}/nssd.service",
                f"{UNIT_DIRECTORY}/nssd.service",
                0o644,
            )
        )
    for image in description.images:
        folder = image.name
        found.append(Placement(folder, f"{folder}/iked.conf", image.configFile, 0o644))
        stacks = nss_stacks(image)
        for entry in stacks:
            name = entry.stack.name.upper()
            found.append(
                Placement(
                    folder,
                    f"{folder}/policy/{name}.policy",
                    policy_target(image, entry.stack),
                    0o644,
                )
            )
        files = sorted({secret_file_name(entry) for entry in stacks})
        for file in files:
            found.append(
                Placement(
                    folder,
                    f"{folder}/secrets/{file}",
                    f"{image.secretsDirectory.rstrip('/')}/{file}",
                    0o600,
                )
            )
        found.append(
            Placement(
                folder,
                f"{folder}/iked.service",
                f"{UNIT_DIRECTORY}/iked.service",
                0o644,
            )
        )
        database = image_database(description, image)
        if database is not None:
            for exported in exported_ca_files(description, database):
                found.append(
                    Placement(
                        folder,
                        f"{database.name}/{exported}",
                        ca_file(image),
                        0o644,
                        madeByJob=True,
                    )
                )
    return found


def _word(word: str) -> str:
    """
    A word of a shell command, quoted as an operator would quote it.
    """
    if word and not any(c in word for c in " \t\n'\"$`\\()*?[]{}<>|&;#~"):
        return word
    if not any(c in word for c in '"$`\\'):
        return f'"{word}"'
    return shlex.quote(word)


def _command(words: list[str]) -> str:
    return " ".join(_word(w) for w in words)


def _server_steps(description: Description, folder: str) -> list[str]:
    steps: list[str] = []
    for primary in primaries(description):
        if primary.name != folder:
            continue
        racf = _command(["nss-racf", *database_options(primary)])
        for certificate in pkcs12_imports(description, primary):
            steps += [
                f"- Add {certificate.label!r} from its PKCS#12 file first; nss-racf"
                " asks for the",
                "  file's password:",
                f"      {racf} {_command([' '.join(add_command(certificate))])}",
            ]
        steps += [
            f"- Set up the security database of NSS server {primary.name}: in this"
            " folder, run",
            f"      {racf} --file {RACF_JOB}",
            f"      sh {SECRETS_SCRIPT}",
            "  The job defines the users, profiles, certificates and key rings,",
            "  and exports the CA certificate beside itself ("
            + ", ".join(exported_ca_files(description, primary))
            + "); it holds no",
            "  secret.  The script gives the users their passwords and the PTKTDATA",
            f"  profile its key from {SERVER_SECRETS}/ through standard input."
            f"  Delete {SERVER_SECRETS}/",
            "  afterwards: the images have their own copies.",
        ]
        if not served_stacks(description, primary):
            steps.append("  (No stack uses this server yet.)")
    for server in description.servers:
        if server.name == folder and server.backupOf is not None:
            steps += [
                f"- NSS server {server.name} backs up {server.backupOf} and shares"
                " its security",
                f"  database: run the RACF job of {server.backupOf} there, not here,"
                " and give",
                "  this server a copy of the database's stash file (mode 0600)"
                + (f" at {server.stashFile}." if server.stashFile else "."),
            ]
        if server.name == folder:
            steps += _server_prerequisites(server)
            check = _command([*exec_start("nssd", server.configFile), "--check"])
            steps += [
                "- Check the configuration, then start nssd:",
                f"      {check.replace(' -n --pidfile=', '')}",
                "      systemctl daemon-reload && systemctl enable --now nssd",
            ]
    return steps


_METRICS_PACKAGE = [
    "- MetricsPort needs prometheus-client on this host:"
    " pip install 'nsstwisted[metrics]'",
]


def _server_prerequisites(server: NssServer) -> list[str]:
    """
    What the host needs before nssd starts with the server's metrics,
    audit trail and PKCS#11 token, which it checks only at the start
    (--check opens no audit file); the token's PIN file above all, which
    is the operator's to make, since the assistant never holds a PIN.
    """
    steps = []
    if server.metricsPort is not None:
        steps += _METRICS_PACKAGE
    if server.auditFile is not None:
        folder = posixpath.dirname(server.auditFile)
        steps += [
            f"- The audit trail goes to {server.auditFile}: make {folder}/ and let",
            "  nssd's user write there; nssd does not start if it cannot open the",
            "  file (DBG0010I).",
        ]
    if server.has_token:
        steps += [
            f"- The keys made in PKCS#11 token {server.pkcs11TokenLabel!r} are"
            " reached through",
            f"  {server.pkcs11Module}, which needs python-pkcs11 on this host:",
            "  pip install 'nsstwisted[pkcs11]'.  Make the PIN file yourself, before",
            f"  the RACF job runs: {server.pkcs11PinFile}, holding the token's user"
            " PIN",
            "  alone on one line, owned by nssd's user, mode 0600 (nssd and nss-racf",
            "  refuse it open to others, NSR0392E).  The assistant never holds the",
            "  PIN: no generated file contains it.",
        ]
    return steps


def _image_steps(description: Description, folder: str) -> list[str]:
    steps: list[str] = []
    for image in description.images:
        if image.name != folder:
            continue
        database = image_database(description, image)
        if database is not None:
            steps += [
                f"- The CaFile {ca_file(image)} is the CA certificate that the RACF",
                f"  job of {database.name} exports: copy it from {database.name}/"
                " after the job has run.",
            ]
        if image.metricsPort is not None:
            steps += _METRICS_PACKAGE
        check = _command([*exec_start("iked", image.configFile), "--check"])
        steps += [
            "- Check the configuration, then start iked:",
            f"      {check.replace(' -n --pidfile=', '')}",
            "      systemctl daemon-reload && systemctl enable --now iked",
        ]
    return steps


def generate_readmes(description: Description) -> list[GeneratedFile]:
    byHost: dict[str, list[Placement]] = {}
    for placement in placements(description):
        byHost.setdefault(placement.host, []).append(placement)
    folders = [s.name for s in description.servers] + [
        i.name for i in description.images
    ]
    files = []
    for folder in dict.fromkeys(folders):
        what = [f"NSS server {s.name}" for s in description.servers if s.name == folder]
        what += [f"image {i.name}" for i in description.images if i.name == folder]
        lines = [
            f"{folder}: {' and '.join(what)}",
            "",
            f"Generated by nss-assistant from {description.source}.  Copy the files",
            "of this folder to the host as follows, with the modes given; files",
            "marked 0600 are secrets that only their owner may read:",
            "",
        ]
        for placement in byHost.get(folder, []):
            made = "  (written by the RACF job)" if placement.madeByJob else ""
            lines.append(
                f"  {placement.source:<40} -> {placement.target}"
                f"  mode {placement.mode:04o}{made}"
            )
        lines += ["", "Then:", *_server_steps(description, folder)]
        lines += [*_image_steps(description, folder), ""]
        files.append(
            GeneratedFile(f"{folder}/README", "\n".join(lines).encode(), Role.README)
        )
    return files
