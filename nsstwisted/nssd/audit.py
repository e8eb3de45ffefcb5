"""
nssd's audit trail: one JSON line per logon, SIGN, VERIFY, authorization
denial and refresh, appended to the C{AuditFile} by a thread of its own.

An operator asks of an audit trail who signed what with which certificate,
and needs the answer to survive nssd; the reactor must not wait on a disk
for it.  So the reactor only formats a record (names, codes and hashes: the
callers never hand it a password, a PassTicket, a key or the data signed)
and collects it; what one turn of the reactor collected goes to the writer
thread as one batch, and the writer writes and, by C{AuditSync}, forces to
disk whatever batches have queued meanwhile, in one C{write}.  Under load
the batches grow, which is what keeps the cost per record low: the first
version queued each record by itself and formatted it in the writer, and
the wake-ups of both threads, one per record, and their contention for the
GIL cost ECDSA signing more than half its throughput.

With C{AuditRequired yes} a request's reply waits for its record: the
writer calls back what waits from the reactor thread, one wake of the
reactor for all the batches written before it turns (the economy of
L{nsstwisted.nssd.workerpool}, whose queue serves single jobs rather than
batches, so it is not reused as it is), and a record that cannot be
written is reported as such, which the session turns into a refusal.  What
waits is a plain callable (L{AuditTrail.record_then}) on the signing path,
where a Deferred, its callbacks and the chaining cost more than the rest of
the record, and a Deferred (L{AuditTrail.record}) where the record is rare
(a logon).  With C{AuditRequired no} nothing waits,
and the reactor is woken only to report a failure or the recovery.

The file is opened for appending, created with mode 0600, and opened again
when its name no longer leads to the file held open (logrotate moved it, or
an operator replaced it), so that records go where the configuration says.
With C{AuditSyslog} each record also goes to the local syslog socket, one
datagram a record (L{nsstwisted.security.auditsyslog}); a record counts as
written once every target took it, so that C{AuditRequired yes} refuses
what either target lost.
"""

from __future__ import annotations

import collections
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.threadable import isInIOThread

from nsstwisted.nssd.configuration import AuditSync, NssdConfiguration
from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.security.auditline import append_line, audit_line, open_audit_file
from nsstwisted.security.auditsyslog import FACILITIES, SyslogTarget

__all__ = ["AuditTrail", "AuditUnavailable", "check_audit_file", "check_syslog"]

_log = Logger()

QUEUE_SIZE = 65536
"""Records queued at most; past it a record counts as not written."""
BATCH_SIZE = 4096
SYNC_INTERVAL = 1.0
REPORT_INTERVAL = 60.0
"""Seconds between two reports (DBG0191I) of records not written."""

_Waiter = Callable[[str | None], object]
"""What waits for a record: called with C{None} once it is written, or with
what failed."""

# A record's JSON line, and what waits for it.
_Item = tuple[bytes, _Waiter | None]


class AuditUnavailable(Exception):
    """
    A record could not be written (or queued); the request it records is
    refused when C{AuditRequired yes}.
    """


def check_audit_file(path: str) -> None:
    """
    Open (creating, mode 0600) and close C{path}, as a start or refresh
    does before accepting an C{AuditFile}.

    @raise OSError: it cannot be opened for appending.
    """
    os.close(open_audit_file(path))


def check_syslog(facility: str, path: str) -> None:
    """
    Reach the syslog socket C{path}, as a start or refresh does before
    accepting an C{AuditSyslog}.

    @raise OSError: it cannot be reached.
    """
    SyslogTarget(FACILITIES[facility], path).check()


class AuditTrail:
    """
    The audit file and its writer thread, for a reactor that provides
    C{IReactorTime} and C{IReactorFromThreads}.

    @ivar failures: how many records could not be written (or queued) since
        nssd started: what a metric of audit failures reads.
    @ivar required: C{AuditRequired}: whether L{record} returns a Deferred
        for the reply to wait on.
    """

    def __init__(
        self,
        reactor: Any,
        diagnostics: Diagnostics,
        configuration: NssdConfiguration,
    ) -> None:
        self._reactor = reactor
        self._diagnostics = diagnostics
        self.path: str | None = None
        self.syslog: tuple[int, str] | None = None
        self.sync = AuditSync.INTERVAL
        self.required = False
        self.configure(configuration)
        # Batches (lists of records), and None to stop.
        self._queue: queue.SimpleQueue[list[_Item] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # This turn's records, and how many were ever handed to the writer
        # (written by the reactor thread only), and how many it took
        # (written by the writer only): the difference is the queue's
        # length.
        self._collected: list[_Item] = []
        self._enqueued = 0
        self._taken = 0
        # Writer thread only: whether its last batch failed, so that the
        # next good one tells the reactor the trail is writable again.
        self._lastFailed = False
        self._fd = -1
        self._syslogTarget: SyslogTarget | None = None
        self._identity: tuple[int, int] | None = None
        self._openPath: str | None = None
        self._dirty = False
        self._syncedAt = 0.0
        # Counted by the writer thread, and by whoever found the queue full
        # (any thread), under the lock.
        self._lock = threading.Lock()
        self._failures = 0
        # Written batches' outcomes, for the reactor (as WorkerPool's).
        self._done: collections.deque[tuple[list[_Waiter], str | None, int]] = (
            collections.deque()
        )
        self._deliveryScheduled = False
        # Reactor thread only.
        self._failing = False
        self._reportedAt = 0.0
        self._unreported = 0
        self._reportedCount = 0

    @property
    def enabled(self) -> bool:
        return self.path is not None or self.syslog is not None

    def describe_targets(self) -> str:
        """Where the records go, as the diagnostics name it."""
        targets = [] if self.path is None else [self.path]
        if self.syslog is not None:
            facility = next(k for k, v in FACILITIES.items() if v == self.syslog[0])
            targets.append(f"syslog {facility} ({self.syslog[1]})")
        return " and ".join(targets) or "nowhere"

    @property
    def failures(self) -> int:
        return self._failures

    def configure(self, configuration: NssdConfiguration) -> None:
        """
        Follow the configuration (at start and refresh); a new C{AuditFile}
        is opened by the writer at its next batch.
        """
        self.path = configuration.auditFile
        facility = configuration.auditSyslog
        self.syslog = (
            None
            if facility is None
            else (FACILITIES[facility], configuration.auditSyslogSocket)
        )
        self.sync = configuration.auditSync
        self.required = configuration.auditRequired

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._write_loop, name="nssd-audit", daemon=True
        )
        self._thread.start()
        if self.enabled:
            self._diagnostics.audit_started(
                self.describe_targets(), self.sync.value, self.required
            )

    def stop(self) -> None:
        """
        Write what is queued, then end the writer.
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._hand_over()
        self._queue.put(None)
        thread.join()

    def record(
        self, event: str, fields: dict[str, Any], wait: bool = True
    ) -> Deferred[None] | None:
        """
        Collect a record of C{event} (on the reactor thread); the records of
        one turn of the reactor go to the writer together.

        @param fields: names, codes and hashes only; never a secret, a key
            or the data a client signed.
        @param wait: whether what is recorded waits for the record, if
            C{AuditRequired yes}: what grants something does (an accepted
            logon, a signature, a verification); a refusal, which grants
            nothing, and a refresh do not.
        @return: with C{AuditRequired yes} and C{wait}, a Deferred that
            fires once the record is written or fails with
            L{AuditUnavailable}; else C{None}, and nothing waits.
        """
        if not self.enabled:
            return None
        if not (self.required and wait):
            self._collect(event, fields, None)
            return None
        waiting: Deferred[None] = Deferred()

        def written(error: str | None) -> None:
            if error is None:
                waiting.callback(None)
            else:
                waiting.errback(AuditUnavailable(error))

        self._collect(event, fields, written)
        return waiting

    def record_then(
        self, event: str, fields: dict[str, Any], then: _Waiter | None
    ) -> None:
        """
        Collect a record (on the reactor thread), as L{record}; with
        C{AuditRequired yes} call C{then} on the reactor thread once it is
        written (with C{None}) or could not be (with what failed, maybe
        before this returns), and never call it otherwise.
        """
        if self.enabled:
            self._collect(event, fields, then if self.required else None)

    def _collect(
        self, event: str, fields: dict[str, Any], then: _Waiter | None
    ) -> None:
        if self._enqueued - self._taken + len(self._collected) >= QUEUE_SIZE:
            # The writer cannot keep up (a disk that hangs, say).
            self._lost(1)
            self._report_failure("the audit queue is full", 1)
            if then is not None:
                then("the audit queue is full")
            return
        if not self._collected:
            self._reactor.callLater(0, self._hand_over)
        # Formatted here rather than in the writer: a writer thread busy
        # with Python holds the GIL, and the reactor, which gives it up at
        # every send, waits for it a switch interval each time.
        self._collected.append((audit_line(time.time(), event, fields), then))

    def _hand_over(self) -> None:
        batch, self._collected = self._collected, []
        if batch:
            self._enqueued += len(batch)
            self._queue.put(batch)

    def note(self, event: str, fields: dict[str, Any]) -> None:
        """
        Record what nothing waits for, from any thread (a SERVAUTH denial
        is seen in the thread that checked it): denials are few, so one
        made in the pool costs a wake of the reactor, which collects it.
        """
        if not self.enabled:
            return
        if isInIOThread():
            self.record(event, fields, wait=False)
        else:
            self._reactor.callFromThread(self.record, event, fields, False)

    def _lost(self, count: int) -> None:
        with self._lock:
            self._failures += count

    # The writer thread

    def _write_loop(self) -> None:
        jobs = self._queue
        running = True
        while running:
            try:
                first = jobs.get(timeout=SYNC_INTERVAL if self._dirty else None)
            except queue.Empty:
                self._sync_now()
                continue
            if first is None:
                break
            batch = first
            while len(batch) < BATCH_SIZE:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    running = False
                    break
                batch += more
            self._write_batch(batch)
        self._sync_now()
        self._close()
        if self._syslogTarget is not None:
            self._syslogTarget.close()

    def _write_batch(self, batch: list[_Item]) -> None:
        error = self._write_targets([line for line, _ in batch])
        if error is not None:
            self._lost(len(batch))
        self._taken += len(batch)
        waiting = [then for _, then in batch if then is not None]
        recovered, self._lastFailed = self._lastFailed, error is not None
        if not waiting and error is None and not recovered:
            return
        self._done.append((waiting, error, len(batch)))
        # As in WorkerPool: the check after the append.
        if not self._deliveryScheduled:
            self._deliveryScheduled = True
            self._reactor.callFromThread(self._deliver)

    def _write_targets(self, lines: list[bytes]) -> str | None:
        """
        Give the records to every target.

        @return: what failed, or C{None} if every target took them.
        """
        path, syslog = self.path, self.syslog
        if path is None and syslog is None:
            return "neither AuditFile nor AuditSyslog is coded any more"
        errors = []
        if path is not None:
            try:
                self._write(path, b"".join(lines))
            except OSError as e:
                errors.append(f"{self._openPath or path}: {e.strerror or e}")
                self._close()
        if syslog is not None:
            try:
                self._send(syslog, lines)
            except OSError as e:
                errors.append(f"syslog {e.strerror or e}")
        return "; ".join(errors) or None

    def _send(self, syslog: tuple[int, str], lines: list[bytes]) -> None:
        target = self._syslogTarget
        if target is None or (target.facility, target.path) != syslog:
            if target is not None:
                target.close()
            target = self._syslogTarget = SyslogTarget(*syslog)
        target.send(lines)

    def _write(self, path: str, data: bytes) -> None:
        if self._fd < 0 or path != self._openPath or not self._same_file(path):
            self._close()
            self._fd = open_audit_file(path)
            info = os.fstat(self._fd)
            self._identity = (info.st_dev, info.st_ino)
            self._openPath = path
        append_line(self._fd, data)
        self._dirty = True
        sync = self.sync
        if sync is AuditSync.EVERY or (
            sync is AuditSync.INTERVAL
            and time.monotonic() - self._syncedAt >= SYNC_INTERVAL
        ):
            self._sync_now()

    def _same_file(self, path: str) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._identity

    def _sync_now(self) -> None:
        if not self._dirty or self._fd < 0:
            return
        self._dirty = False
        self._syncedAt = time.monotonic()
        if self.sync is not AuditSync.NONE:
            try:
                os.fsync(self._fd)
            except OSError:
                # Written, not forced: the next write finds out if the
                # file is really gone.
                pass

    def _close(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = -1
        self._identity = None
        self._openPath = None
        self._dirty = False

    # Back on the reactor thread

    def _deliver(self) -> None:
        self._deliveryScheduled = False
        done = self._done
        while done:
            waiting, error, count = done.popleft()
            if error is None:
                if self._failing:
                    self._failing = False
                    self._diagnostics.audit_recovered(
                        self.describe_targets(),
                        self._unreported + self._reportedCount,
                    )
                    self._unreported = self._reportedCount = 0
            else:
                self._report_failure(error, count)
            for then in waiting:
                try:
                    then(error)
                except Exception:
                    # One waiter's fault must not leave the others' replies
                    # unsent.
                    _log.failure("answering an audited request failed")

    def _report_failure(self, error: str, count: int) -> None:
        """
        Say that records were lost: at the first failure, then at most once
        per L{REPORT_INTERVAL} with the count since the last report.
        """
        self._unreported += count
        now = time.monotonic()
        if self._failing and now - self._reportedAt < REPORT_INTERVAL:
            return
        self._failing = True
        self._reportedAt = now
        self._diagnostics.audit_failed(error, self._unreported, self.required)
        self._reportedCount += self._unreported
        self._unreported = 0
