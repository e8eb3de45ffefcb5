"""
The threads that sign and check logons, with one wake-up of the reactor per
batch of work done, and a bounded batch per turn.

A signature is the reason nssd exists, and on a busy server most of the CPU
it spends around one (beyond the signature itself) was the hand-off to a
thread and back: Twisted's general C{ThreadPool} passes each job through a
coordinator, a team and a per-job context copy, and every finished job
wakes the reactor with a write to its waker.  Signing needs none of that
generality: a fixed set of threads take jobs from one C{queue.SimpleQueue}
(a C implementation, one lock per job), and a finished job joins a list the
reactor drains; only the job that finds the list unscheduled asks the
reactor to drain it.  When signatures finish faster than the reactor turns,
the reactor is woken once for many of them, which is when the saving counts.

The delivery keeps the order jobs finished in; each job's Deferred fires on
the reactor thread, as with C{deferToThreadPool}.  A pool may bound how many
it delivers in one turn (C{deliveriesPerTurn}): a reconnect storm finishes
hundreds of logon checks at once, and the reactor's work for each (the
SERVAUTH checks, the reply) done in one turn would hold up every signature
of the clients already logged on; the rest are delivered in the turns
after.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.python.failure import Failure

__all__ = ["WorkerPool"]

T = TypeVar("T")

_Job = tuple[Deferred[Any], Callable[..., Any], tuple[Any, ...]]


class WorkerPool:
    """
    C{threads} threads that run jobs submitted from the reactor thread.

    Jobs submitted before L{start} wait for it; jobs still queued at
    L{stop} are never run (their Deferreds never fire), as with Twisted's
    pool, since the service is going away.

    @ivar name: the threads' name prefix, as C{ps -L} and tracebacks show.
    """

    def __init__(
        self,
        reactor: IReactorFromThreads,
        threads: int,
        name: str = "nssd",
        *,
        deliveriesPerTurn: int | None = None,
        threadStarted: Callable[[], None] | None = None,
    ) -> None:
        """
        @param deliveriesPerTurn: the most Deferreds fired in one turn of
            the reactor, or C{None} for all that finished.
        @param threadStarted: called first in each thread (to lower its
            scheduling priority, say).
        """
        self._reactor = reactor
        self._size = max(1, threads)
        self.name = name
        self._deliveriesPerTurn = deliveriesPerTurn
        self._threadStarted = threadStarted
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._done: collections.deque[tuple[Deferred[Any], bool, Any]] = (
            collections.deque()
        )
        self._deliveryScheduled = False
        self._threads: list[threading.Thread] = []
        self.started = False

    @property
    def size(self) -> int:
        """
        How many threads sign.
        """
        return self._size

    @property
    def queued(self) -> int:
        """
        How many jobs wait for a thread, for the metrics' gauge: read when
        scraped, so that submitting a job costs nothing more.
        """
        return self._jobs.qsize()

    def start(self) -> None:
        """
        Start the threads.
        """
        if self.started:
            return
        self.started = True
        for number in range(self._size):
            thread = threading.Thread(
                target=self._work, name=f"{self.name}-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """
        Let each thread finish the job it is running and end; wait for them.
        """
        if not self.started:
            return
        self.started = False
        # Jobs still queued are dropped: the threads end at the first
        # sentinel each meets, so the sentinels must come first.
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()

    def submit(self, work: Callable[..., T], *args: Any) -> Deferred[T]:
        """
        Run C{work(*args)} in one of the threads; the Deferred fires with its
        result, or its failure, on the reactor thread.
        """
        done: Deferred[T] = Deferred()
        self._jobs.put((done, work, args))
        return done

    def _work(self) -> None:
        if self._threadStarted is not None:
            self._threadStarted()
        jobs = self._jobs
        finished = self._done
        while True:
            job = jobs.get()
            if job is None:
                return
            done, work, args = job
            try:
                result, succeeded = work(*args), True
            except BaseException:
                result, succeeded = Failure(), False
            finished.append((done, succeeded, result))
            # The check after the append: a drain that cleared the flag
            # before this check sees the job, and one that clears it after
            # will have been scheduled by whoever set it.
            if not self._deliveryScheduled:
                self._deliveryScheduled = True
                self._reactor.callFromThread(self._deliver)

    def _deliver(self) -> None:
        self._deliveryScheduled = False
        finished = self._done
        left = self._deliveriesPerTurn
        while finished:
            if left is not None:
                if not left:
                    # The rest in the next turn: a call from this thread
                    # runs after the reactor has looked at its sockets.
                    if not self._deliveryScheduled:
                        self._deliveryScheduled = True
                        self._reactor.callFromThread(self._deliver)
                    return
                left -= 1
            done, succeeded, result = finished.popleft()
            if succeeded:
                done.callback(result)
            else:
                done.errback(result)
