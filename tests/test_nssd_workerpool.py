"""
Tests for L{nsstwisted.nssd.workerpool}: jobs run in the pool's threads,
their results reach the reactor thread, and the reactor is woken once for
every batch of jobs that finished while it was busy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.trial.unittest import TestCase

from nsstwisted.nssd.workerpool import WorkerPool


class _CountingReactor:
    """
    The real reactor's C{callFromThread}, counted: how often the pool woke
    the reactor.
    """

    def __init__(self) -> None:
        self.wakeUps = 0

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kw: Any) -> None:
        self.wakeUps += 1
        reactor.callFromThread(f, *args, **kw)  # type: ignore[attr-defined]


def _pool(test: TestCase, threads: int = 2) -> tuple[WorkerPool, _CountingReactor]:
    counting = _CountingReactor()
    pool = WorkerPool(counting, threads, name="test-signing")  # type: ignore[arg-type]
    pool.start()
    test.addCleanup(pool.stop)
    return pool, counting


class WorkerPoolTests(TestCase):
    def test_resultOnReactorThread(self) -> Deferred[None]:
        """
        The job runs in a pool thread; its Deferred fires on the reactor
        thread with the job's result.
        """
        pool, _ = _pool(self)
        reactorThread = threading.get_ident()

        def check(ran: tuple[int, str]) -> None:
            ident, name = ran
            self.assertNotEqual(ident, reactorThread)
            self.assertTrue(name.startswith("test-signing-"))
            self.assertEqual(threading.get_ident(), reactorThread)

        work = pool.submit(
            lambda: (threading.get_ident(), threading.current_thread().name)
        )
        return work.addCallback(check)

    def test_failure(self) -> Deferred[None]:
        """
        A job's exception is its Deferred's failure, and the thread goes on
        to the next job.
        """
        pool, _ = _pool(self, threads=1)

        def broken() -> None:
            raise ValueError("no such key")

        failed = self.assertFailure(pool.submit(broken), ValueError)
        after = pool.submit(lambda x: x * 2, 21)
        return gatherResults([failed, after]).addCallback(
            lambda results: self.assertEqual(results[1], 42)
        )

    def test_oneWakeUpPerBatch(self) -> None:
        """
        Jobs that all finish while the reactor thread is busy wake it once,
        and each of their Deferreds fires with its own result when it runs.
        """
        pool, counting = _pool(self)
        count = 200
        finished = threading.Semaphore(0)

        def job(n: int) -> int:
            finished.release()
            return n * n

        results: dict[int, int] = {}
        for n in range(count):
            pool.submit(job, n).addCallback(results.__setitem__, n)
        # The reactor thread (this test) stays busy until all have run.
        for _ in range(count):
            self.assertTrue(finished.acquire(timeout=10))
        # Their Deferreds have not fired: only the reactor fires them.
        self.assertEqual(results, {})
        done: Deferred[None] = Deferred()
        reactor.callLater(0.05, done.callback, None)

        def check(_: None) -> None:
            self.assertEqual(results, {n * n: n for n in range(count)})
            self.assertEqual(counting.wakeUps, 1)

        return done.addCallback(check)  # type: ignore[return-value]

    def test_deliveriesPerTurn(self) -> None:
        """
        A pool that delivers at most N in a turn fires N Deferreds in the
        turn after the jobs finished, and the others in the turns after
        that, in the order the jobs finished.
        """
        counting = _CountingReactor()
        pool = WorkerPool(counting, 1, deliveriesPerTurn=3)  # type: ignore[arg-type]
        pool.start()
        self.addCleanup(pool.stop)
        finished = threading.Semaphore(0)

        def job(n: int) -> int:
            finished.release()
            return n

        fired: list[int] = []
        for n in range(7):
            pool.submit(job, n).addCallback(fired.append)
        for _ in range(7):
            self.assertTrue(finished.acquire(timeout=10))
        seen: list[list[int]] = []

        def everyTurn() -> None:
            seen.append(list(fired))
            if len(fired) < 7:
                reactor.callLater(0, everyTurn)

        reactor.callLater(0, everyTurn)
        done: Deferred[None] = Deferred()
        reactor.callLater(0.2, done.callback, None)

        def check(_: None) -> None:
            self.assertEqual(fired, list(range(7)))
            # Never more than three more in one turn.
            counts = [len(s) for s in seen]
            steps = [b - a for a, b in zip([0, *counts[:-1]], counts, strict=True)]
            self.assertLessEqual(max(steps), 3)
            self.assertGreaterEqual(len([s for s in steps if s]), 3)

        return done.addCallback(check)  # type: ignore[return-value]

    def test_threadStarted(self) -> Deferred[None]:
        """
        The start hook runs in each thread, before any job.
        """
        marks: list[str] = []
        pool = WorkerPool(
            reactor,  # type: ignore[arg-type]
            2,
            name="test-hook",
            threadStarted=lambda: marks.append(threading.current_thread().name),
        )
        pool.start()
        self.addCleanup(pool.stop)
        work = pool.submit(lambda: None)
        return work.addCallback(
            lambda _: self.assertIn(marks[0], {"test-hook-0", "test-hook-1"})
        )

    def test_manyFromEveryThread(self) -> Deferred[None]:
        """
        Under a stream of jobs finishing at random moments, every job's
        Deferred fires exactly once with its own result: no delivery is
        lost between a drain and the next job's wake-up.
        """
        pool, counting = _pool(self, threads=4)
        count = 5000
        work = [pool.submit(lambda n: n + 1, n) for n in range(count)]

        def check(results: list[int]) -> None:
            self.assertEqual(results, [n + 1 for n in range(count)])
            self.assertLessEqual(counting.wakeUps, count)

        return gatherResults(work).addCallback(check)

    def test_submittedBeforeStart(self) -> Deferred[None]:
        """
        A job submitted before the pool starts runs once it does.
        """
        pool = WorkerPool(reactor, 1)  # type: ignore[arg-type]
        self.addCleanup(pool.stop)
        work = pool.submit(lambda: "signed")
        pool.start()
        return work.addCallback(self.assertEqual, "signed")

    def test_stopEndsThreads(self) -> None:
        """
        Stopping the pool ends its threads, and a second stop does nothing.
        """
        pool = WorkerPool(reactor, 3, name="test-stop")  # type: ignore[arg-type]
        pool.start()
        self.assertEqual(pool.size, 3)
        names = {t.name for t in threading.enumerate()}
        self.assertTrue({"test-stop-0", "test-stop-1", "test-stop-2"} <= names)
        pool.stop()
        pool.stop()
        names = {t.name for t in threading.enumerate()}
        self.assertFalse({"test-stop-0", "test-stop-1", "test-stop-2"} & names)
