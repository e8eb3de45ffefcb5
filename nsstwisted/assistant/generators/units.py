"""
The systemd units of nssd and iked: our counterpart of the seed's sample
JCL that runs NSSD.

Both run twistd in the foreground (C{-n}) without a PID file, so that
systemd follows the daemon itself and sees its exit status: a daemon that
cannot start ends with status 1 (DBG0010I, EZD1104I), which systemd
reports, rather than being restarted in a loop.

They make the choices of the units in C{contrib/systemd} (see "Running
under systemd" in the operations guide), so that there is one story:
C{Type=notify} (the daemon says READY=1 once it listens), reload by
SIGHUP, a restart after a crash but not after a refused start.  Not that
file's file-system sandbox (C{ProtectSystem=strict}, a dedicated user, the
state and runtime directories): it holds only with the paths it was written
for, and a description puts the database, the sockets and the secrets where
it likes.
"""

from __future__ import annotations

import re

from nsstwisted.assistant.generators.layout import TWISTD
from nsstwisted.assistant.model import Description, GeneratedFile, Role

#: nssd raises its open-file limit to MaxConnections (4096 by default) plus
#: 256 at its start; the unit lets it.
NSSD_OPEN_FILES = 4096 + 256

_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def unit_word(value: str) -> str:
    """
    A word of a unit's command line, quoted as systemd reads it.
    """
    if _PLAIN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def exec_start(daemon: str, config: str) -> list[str]:
    """
    The command line the unit runs (without systemd's quoting).
    """
    return [TWISTD, "-n", "--pidfile=", daemon, "--config", config]


def _unit(description: str, command: list[str], extra: list[str], daemon: str) -> bytes:
    lines = [
        "[Unit]",
        f"Description={description}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + " ".join(unit_word(w) for w in command),
        "ExecReload=/bin/kill -HUP $MAINPID",
        f"SyslogIdentifier={daemon}",
        *extra,
        "Restart=on-failure",
        "RestartPreventExitStatus=1",
        "RestartSec=5s",
        "NoNewPrivileges=yes",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines).encode()


def generate_units(description: Description) -> list[GeneratedFile]:
    files = []
    for server in description.servers:
        content = _unit(
            f"NSS server {server.name} (nsstwisted nssd, system"
            f" {server.systemName.upper()})",
            exec_start("nssd", server.configFile),
            [f"LimitNOFILE={NSSD_OPEN_FILES}"],
            "nssd",
        )
        files.append(GeneratedFile(f"{server.name}/nssd.service", content, Role.UNIT))
    for image in description.images:
        content = _unit(
            f"IKE daemon of image {image.name} (nsstwisted iked, system"
            f" {image.systemName.upper()})",
            exec_start("iked", image.configFile),
            [],
            "iked",
        )
        files.append(GeneratedFile(f"{image.name}/iked.service", content, Role.UNIT))
    return files
