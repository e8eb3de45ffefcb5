"""
Where iked puts a negotiated CHILD_SA: behind one interface,
L{ISaInstaller}, so that the engine neither knows nor cares whether a
kernel carries the traffic.

Two installers exist:

  - L{RecordingInstaller}, the default, keeps the SAs in memory, for the
    stack model to show.  Nothing reaches the kernel.  It is what a host
    without kernel ESP, a test, or an iked sharing a network namespace with
    another IKE daemon (whose states would clash with ours) wants.
  - L{XfrmInstaller} installs states and policies in a Linux kernel (XFRM)
    with iproute2's C{ip}, in the host's stack or in a network namespace.

L{installer_for} makes one from the configuration's C{SaInstaller}
keyword.

L{XfrmInstaller} feeds C{ip -batch -} on standard input, never argv, since
argv is readable by every local user in C{/proc} unless the host hides it.
It runs one command per C{ip} process: C{ip} stops a batch at the first
failure without saying which line failed, and an installer that undoes a
half-done installation must know exactly what it added, or it would
delete a state or policy that belongs to someone else (an SPI or a
selector that clashed is exactly such a thing).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredLock, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from nsstwisted.ike.installation import (
    InstalledChildSa,
    XfrmPolicy,
    redact_keys,
    xfrm_batch,
    xfrm_policies,
    xfrm_state_commands,
    xfrm_state_delete_commands,
)

__all__ = [
    "INSTALLER_KINDS",
    "IP_TIMEOUT",
    "ISaInstaller",
    "IpBatchProtocol",
    "IpOutcome",
    "RecordingInstaller",
    "SaInstallError",
    "XfrmInstaller",
    "installer_for",
]

IP_TIMEOUT = 5.0
"""Seconds one C{ip} command may take before it is killed and counted failed."""

INSTALLER_KINDS = ("record", "xfrm")
"""The values of the configuration's C{SaInstaller} keyword."""

_ABSENT = ("No such process", "No such file or directory")
"""
How C{ip} reports a state (ESRCH) or policy (ENOENT) that is not there;
removing something already gone is not a failure.
"""


class ISaInstaller(Interface):
    """
    Puts CHILD_SAs where the traffic is protected, and takes them away.

    The engine calls L{install} once a CHILD_SA is negotiated and
    L{remove} when it is deleted or replaced by a rekey; a rekeyed
    CHILD_SA is installed before its predecessor is removed.
    """

    def install(sa: InstalledChildSa) -> Deferred[None]:
        """
        Install C{sa}: its states, then its policies.

        @return: fires when C{sa} is in place, or fails with
            L{SaInstallError}, having undone whatever it had added.
        """

    def remove(sa: InstalledChildSa) -> Deferred[None]:
        """
        Remove C{sa}.  What is already gone is not an error.

        @return: fires when C{sa} is gone, or fails with L{SaInstallError}.
        """

    def describe() -> str:
        """Where SAs go, for a log line: C{"record only"}, C{"ip xfrm ..."}."""


class SaInstallError(Exception):
    """
    An installer could not install or remove a CHILD_SA.

    @ivar stderr: what C{ip} said, with any key replaced by C{<key>}
        (L{redact_keys}); empty when C{ip} did not run.
    """

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(f"{message}: {stderr}" if stderr else message)
        self.stderr = stderr


@implementer(ISaInstaller)
class RecordingInstaller:
    """
    The default installer: it only remembers the SAs, for the stack model
    to show, and never fails.

    SAs are kept by reqid and inbound SPI rather than reqid alone, since a
    rekeyed CHILD_SA may keep its predecessor's reqid and both are
    installed for a moment.
    """

    def __init__(self) -> None:
        self._installed: dict[tuple[int, bytes], InstalledChildSa] = {}

    def install(self, sa: InstalledChildSa) -> Deferred[None]:
        self._installed[sa.reqid, sa.spiIn] = sa
        return succeed(None)

    def remove(self, sa: InstalledChildSa) -> Deferred[None]:
        self._installed.pop((sa.reqid, sa.spiIn), None)
        return succeed(None)

    def describe(self) -> str:
        return "record only"

    def installed(self) -> list[InstalledChildSa]:
        """The SAs installed and not yet removed, by reqid, oldest first."""
        return sorted(self._installed.values(), key=lambda sa: sa.reqid)


@dataclass(frozen=True)
class IpOutcome:
    """
    How one C{ip} run ended.

    @ivar exitCode: L{None} if it was killed by a signal or never ran.
    """

    exitCode: int | None
    stdout: str
    stderr: str

    @property
    def succeeded(self) -> bool:
        return self.exitCode == 0

    @property
    def absent(self) -> bool:
        """It failed because what it was to delete was not there."""
        return not self.succeeded and any(text in self.stderr for text in _ABSENT)


class IpBatchProtocol(ProcessProtocol):
    """
    Writes a batch to C{ip -batch -} and collects what it says.

    C{twisted.internet.utils.getProcessOutputAndValue} cannot write to a
    child's standard input, which is the one place the keys may go.

    @ivar ended: fires with the L{IpOutcome}; never fails.
    """

    def __init__(self, batch: bytes) -> None:
        self.batch = batch
        self.ended: Deferred[IpOutcome] = Deferred()
        self.timedOut = False
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.batch)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self._stdout.append(data)

    def errReceived(self, data: bytes) -> None:
        self._stderr.append(data)

    def processEnded(self, reason: Failure) -> None:
        exitCode = getattr(reason.value, "exitCode", None)
        stderr = b"".join(self._stderr).decode("utf-8", "replace").strip()
        if self.timedOut:
            stderr = (stderr + "\n" if stderr else "") + "ip did not finish in time"
        self.ended.callback(
            IpOutcome(
                exitCode if isinstance(exitCode, int) else None,
                b"".join(self._stdout).decode("utf-8", "replace"),
                stderr,
            )
        )


@implementer(ISaInstaller)
class XfrmInstaller:
    """
    Installs CHILD_SAs in a Linux kernel with C{ip xfrm}.

    It needs a kernel with ESP (CONFIG_INET_ESP, CONFIG_INET6_ESP) and the
    algorithms negotiated (GCM, or CBC and the HMACs), and
    CAP_NET_ADMIN.  Without ESP, policies install but every state fails
    with C{Requested type not found} or C{Requested AEAD algorithm not
    found}, so every C{install} fails and leaves nothing behind.

    It keeps the SAs it installed so that two CHILD_SAs needing the same
    policy (a CHILD_SA and its rekeyed successor) share it: the second
    updates it rather than adding it, and removing either leaves it for
    the other (pointed at the other's states).  Operations run one at a
    time, since each may depend on what the previous one installed.
    """

    def __init__(
        self,
        reactor: Any,
        namespace: str | None = None,
        ipCommand: str | None = None,
        timeout: float = IP_TIMEOUT,
    ) -> None:
        """
        @param reactor: provides C{IReactorProcess} and C{IReactorTime}.
        @param namespace: the C{ip netns} name to install in; L{None} for
            the stack iked runs in.
        @param ipCommand: the C{ip} executable; by default the one on
            C{PATH}, else C{/usr/sbin/ip}.
        """
        self._reactor = reactor
        self.namespace = namespace
        self.ipCommand = ipCommand or shutil.which("ip") or "/usr/sbin/ip"
        self.timeout = timeout
        self._installed: dict[tuple[int, bytes], InstalledChildSa] = {}
        self._lock = DeferredLock()

    def describe(self) -> str:
        if self.namespace is None:
            return "ip xfrm in the host's network stack"
        return f"ip xfrm in namespace {self.namespace}"

    def installed(self) -> list[InstalledChildSa]:
        """The SAs this installer put in place and has not removed."""
        return sorted(self._installed.values(), key=lambda sa: sa.reqid)

    def install(self, sa: InstalledChildSa) -> Deferred[None]:
        return self._lock.run(lambda: Deferred.fromCoroutine(self._install(sa)))

    def remove(self, sa: InstalledChildSa) -> Deferred[None]:
        return self._lock.run(lambda: Deferred.fromCoroutine(self._remove(sa)))

    def _argv(self) -> list[str]:
        namespace = ["-n", self.namespace] if self.namespace is not None else []
        return [self.ipCommand, *namespace, "-batch", "-"]

    def run(self, command: Sequence[str]) -> Deferred[IpOutcome]:
        """
        Run one C{ip} command (an argv list starting with C{ip}) as a
        one-line batch on standard input, in this installer's namespace.

        This is the step L{install} and L{remove} are made of, without
        their bookkeeping or their one-at-a-time order; it is public so
        that a test or a diagnostic can run a policy line exactly as the
        installer would.

        @return: fires with the L{IpOutcome}; never fails.
        """
        return Deferred.fromCoroutine(self._run(command))

    async def _run(self, command: Sequence[str]) -> IpOutcome:
        protocol = IpBatchProtocol(xfrm_batch([command]))
        environment = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
        try:
            transport: IProcessTransport = self._reactor.spawnProcess(
                protocol, self.ipCommand, self._argv(), env=environment
            )
        except OSError as e:
            return IpOutcome(None, "", f"cannot run {self.ipCommand}: {e}")

        def kill() -> None:
            protocol.timedOut = True
            try:
                transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass

        timer: IDelayedCall = self._reactor.callLater(self.timeout, kill)
        try:
            return await protocol.ended
        finally:
            if timer.active():
                timer.cancel()

    def _holders(self) -> dict[tuple[object, ...], XfrmPolicy]:
        """
        The policy the kernel holds for each selector and direction, as
        the SAs still installed want it: the latest installed wins, since
        its update was the last.
        """
        holders = {}
        for other in self._installed.values():
            for policy in xfrm_policies(other):
                holders[policy.key] = policy
        return holders

    async def _undo(self, sa: InstalledChildSa, commands: list[list[str]]) -> str:
        """Run C{commands} in reverse; what went wrong, for the error."""
        problems = []
        for argv in reversed(commands):
            outcome = await self.run(argv)
            if not outcome.succeeded and not outcome.absent:
                problems.append(redact_keys(outcome.stderr, sa))
        return "; ".join(problems)

    async def _install(self, sa: InstalledChildSa) -> None:
        where = f"reqid {sa.reqid} ({self.describe()})"
        if (sa.reqid, sa.spiIn) in self._installed:
            raise SaInstallError(f"{where}: already installed")
        try:
            states = xfrm_state_commands(sa)
            policies = xfrm_policies(sa)
        except ValueError as e:
            raise SaInstallError(f"{where}: cannot be installed: {e}") from None
        undo: list[list[str]] = []

        async def fail(step: str, outcome: IpOutcome) -> SaInstallError:
            undone = await self._undo(sa, undo)
            message = f"{where}: {step} failed"
            if undone:
                message += f" (and undoing it failed too: {undone})"
            return SaInstallError(message, redact_keys(outcome.stderr, sa))

        for argv, deletion in zip(states, xfrm_state_delete_commands(sa), strict=True):
            outcome = await self.run(argv)
            if not outcome.succeeded:
                raise await fail("installing a state", outcome)
            undo.append(deletion)
        holders = self._holders()
        for policy in policies:
            holder = holders.get(policy.key)
            outcome = await self.run(
                policy.command("add" if holder is None else "update")
            )
            if not outcome.succeeded:
                raise await fail("installing a policy", outcome)
            undo.append(
                policy.delete_command() if holder is None else holder.command("update")
            )
        self._installed[sa.reqid, sa.spiIn] = sa

    async def _remove(self, sa: InstalledChildSa) -> None:
        where = f"reqid {sa.reqid} ({self.describe()})"
        self._installed.pop((sa.reqid, sa.spiIn), None)
        try:
            policies = xfrm_policies(sa)
        except ValueError as e:
            # It could never have been installed.
            raise SaInstallError(f"{where}: cannot be removed: {e}") from None
        holders = self._holders()
        commands = []
        for policy in policies:
            holder = holders.get(policy.key)
            if holder is None:
                commands.append(policy.delete_command())
            elif holder != policy:
                commands.append(holder.command("update"))
        commands += xfrm_state_delete_commands(sa)
        problems = []
        for argv in commands:
            outcome = await self.run(argv)
            if not outcome.succeeded and not outcome.absent:
                problems.append(redact_keys(outcome.stderr, sa))
        if problems:
            raise SaInstallError(f"{where}: removing failed", "; ".join(problems))


def installer_for(
    kind: str, reactor: Any, namespace: str | None = None
) -> ISaInstaller:
    """
    The installer the configuration's C{SaInstaller} keyword names.

    @param kind: C{record} or C{xfrm}, in any case, as configuration
        values are.
    @param reactor: for L{XfrmInstaller}; ignored for C{record}.
    @param namespace: the stack's network namespace, for L{XfrmInstaller}.
    @raise ValueError: an unknown C{kind}.
    """
    chosen = kind.lower()
    if chosen == "record":
        return RecordingInstaller()
    if chosen == "xfrm":
        return XfrmInstaller(reactor, namespace)
    raise ValueError(f"SaInstaller {kind!r} is not one of {', '.join(INSTALLER_KINDS)}")
