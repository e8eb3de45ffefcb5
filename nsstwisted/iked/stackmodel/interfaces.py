"""
Reading a stack's interfaces and their addresses: the data of
C{NMsec_GET_IPINTERFACES} (C{ipsec -i display}).

A stack is the host's own network stack or a Linux network namespace
(L{nsstwisted.iked.configuration.StackDeclaration.namespace}).

  - For the host's stack, L{InterfaceReader} runs C{ip -j addr show}.  When
    C{ip} is missing or fails, it falls back to C{socket.if_nameindex()}
    and C{/proc/net/if_inet6}, which give the interfaces and their IPv6
    addresses only (Linux has no C{/proc} file of IPv4 addresses with
    their prefixes); it logs that IPv4 addresses are missing.
  - For a namespace, it runs C{ip -n NAME -j addr show}.  There is no
    fallback: C{/proc/net} shows the reader's own namespace.

C{ip} runs without a shell and with a timeout.  A failure gives an empty
list and a logged reason, never an exception, since a report that cannot
list interfaces should still be a report.  Reading blocks for as long as
C{ip} takes (at most the timeout), so iked calls a reader in a thread
(C{deferToThread(reader)}), never on the reactor thread.

Every address becomes one L{InterfaceInfo}: security class 0 (nsstwisted
has no interface security classes) and DVIPA no (it has no dynamic VIPAs).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
from collections.abc import Callable, Sequence

from twisted.logger import Logger

from nsstwisted.wire.stackinfo import INTERFACE_NAME_PATTERN, InterfaceInfo

__all__ = [
    "IP_TIMEOUT",
    "InterfaceReader",
    "ReadFailure",
    "parse_if_inet6",
    "parse_ip_json",
    "run_command",
]

IP_TIMEOUT = 5.0
"""Seconds C{ip} may take before it is killed and the list is empty."""

PROC_IF_INET6 = "/proc/net/if_inet6"

log = Logger()

Run = Callable[[Sequence[str], float], bytes]
"""Run a command (no shell) with a timeout and return its standard output."""


class ReadFailure(Exception):
    """Why the interfaces could not be read; logged, never raised out."""


def run_command(argv: Sequence[str], timeout: float) -> bytes:
    """
    Run C{argv} without a shell and return its standard output.

    @raise ReadFailure: it could not start, timed out, or exited non-zero.
    """
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise ReadFailure(f"{argv[0]}: {e}") from None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        raise ReadFailure(
            f"{' '.join(argv)} exited with status {done.returncode}: {error}"
        )
    return done.stdout


def _info(
    name: object, address: object, prefix: object, index: object
) -> InterfaceInfo | None:
    if not isinstance(name, str) or not INTERFACE_NAME_PATTERN.fullmatch(name):
        return None
    try:
        return InterfaceInfo(
            name,
            str(address),
            prefix,  # type: ignore[arg-type]
            index=index,  # type: ignore[arg-type]
        )
    except ValueError:
        return None


def parse_ip_json(output: bytes) -> list[InterfaceInfo]:
    """
    The addresses in C{ip -j addr show}'s output, in its order.  An entry
    that is not an interface name with an IPv4 or IPv6 address and prefix
    is skipped and logged.

    @raise ReadFailure: the output is not the JSON list C{ip} writes.
    """
    try:
        links = json.loads(output)
    except ValueError as e:
        raise ReadFailure(f"ip wrote no JSON: {e}") from None
    if not isinstance(links, list):
        raise ReadFailure("ip wrote JSON that is not a list of interfaces")
    found: list[InterfaceInfo] = []
    for link in links:
        if not isinstance(link, dict):
            continue
        addresses = link.get("addr_info", [])
        if not isinstance(addresses, list):
            continue
        for entry in addresses:
            if not isinstance(entry, dict) or entry.get("family") not in (
                "inet",
                "inet6",
            ):
                continue
            info = _info(
                link.get("ifname"),
                entry.get("local"),
                entry.get("prefixlen"),
                link.get("ifindex", 0),
            )
            if info is None:
                log.warn(
                    "skipping interface address {name!r} {address!r}: not valid",
                    name=link.get("ifname"),
                    address=entry.get("local"),
                )
                continue
            found.append(info)
    return found


def parse_if_inet6(text: str) -> list[InterfaceInfo]:
    """
    The IPv6 addresses of C{/proc/net/if_inet6}: lines of the address in 32
    hex digits, the interface index, the prefix length, the scope and the
    flags (all hex), and the interface name.  A bad line is skipped.
    """
    found: list[InterfaceInfo] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6:
            continue
        raw, index, prefix, _scope, _flags, name = fields
        try:
            address = str(ipaddress.IPv6Address(bytes.fromhex(raw)))
            info = _info(name, address, int(prefix, 16), int(index, 16))
        except ValueError:
            info = None
        if info is None:
            log.warn(
                "skipping a bad line of {path}: {line!r}", path=PROC_IF_INET6, line=line
            )
            continue
        found.append(info)
    return found


def _read_text(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


class InterfaceReader:
    """
    Reads the interfaces of one stack each time it is called.

    @ivar namespace: the stack's network namespace; L{None} for the host's.
    """

    def __init__(
        self,
        namespace: str | None = None,
        *,
        run: Run = run_command,
        nameIndex: Callable[[], list[tuple[int, str]]] = socket.if_nameindex,
        readText: Callable[[str], str] = _read_text,
        timeout: float = IP_TIMEOUT,
    ) -> None:
        """
        @param run: runs C{ip}; replaced in tests.
        @param nameIndex: lists the host's interfaces for the fallback.
        @param readText: reads C{/proc/net/if_inet6} for the fallback.
        """
        self.namespace = namespace
        self._run = run
        self._nameIndex = nameIndex
        self._readText = readText
        self._timeout = timeout

    @property
    def command(self) -> list[str]:
        """The C{ip} command this reader runs."""
        if self.namespace is None:
            return ["ip", "-j", "addr", "show"]
        return ["ip", "-n", self.namespace, "-j", "addr", "show"]

    def __call__(self) -> list[InterfaceInfo]:
        """
        The stack's interface addresses now; an empty list, with a logged
        reason, when they cannot be read.
        """
        where = (
            "the host's stack"
            if self.namespace is None
            else f"namespace {self.namespace}"
        )
        try:
            return parse_ip_json(self._run(self.command, self._timeout))
        except ReadFailure as e:
            reason = str(e)
        except Exception as e:  # a reader never raises: report, don't fail
            reason = f"{type(e).__name__}: {e}"
        if self.namespace is not None:
            log.warn(
                "cannot read the interfaces of {where}: {reason}",
                where=where,
                reason=reason,
            )
            return []
        log.warn(
            "cannot run ip for {where} ({reason}); listing IPv6 addresses "
            "from {path} only",
            where=where,
            reason=reason,
            path=PROC_IF_INET6,
        )
        return self._fallback()

    def _fallback(self) -> list[InterfaceInfo]:
        try:
            known = {name for _index, name in self._nameIndex()}
            found = parse_if_inet6(self._readText(PROC_IF_INET6))
        except Exception as e:
            log.warn(
                "cannot read the host's interfaces: {reason}",
                reason=f"{type(e).__name__}: {e}",
            )
            return []
        return [info for info in found if info.interfaceName in known]
