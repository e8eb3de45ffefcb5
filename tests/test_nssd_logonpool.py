"""
Tests for L{nsstwisted.nssd.logonpool}: logon checks run in their own
threads, below the process's scheduling priority.
"""

import os
import threading

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SkipTest, TestCase

from nsstwisted.nssd.logonpool import LOGON_NICENESS, logon_pool


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class LogonPoolTests(TestCase):
    def test_lowerPriority(self) -> Deferred[None]:
        """
        A job in the logon pool runs at a nice value L{LOGON_NICENESS} above
        the thread that made the pool (or at the most a thread may have).
        """
        if not hasattr(os, "setpriority"):
            raise SkipTest("no per-thread priorities here")
        pool = logon_pool(reactor, 2)  # type: ignore[arg-type]
        pool.start()
        self.addCleanup(pool.stop)
        mine = _niceness()

        def check(seen: tuple[int, str]) -> None:
            niceness, name = seen
            self.assertEqual(niceness, min(mine + LOGON_NICENESS, 19))
            self.assertIn("nssd-logon", name)
            # The calling thread keeps its own priority.
            self.assertEqual(_niceness(), mine)

        work = pool.submit(lambda: (_niceness(), threading.current_thread().name))
        return work.addCallback(check)

    def test_bounded(self) -> None:
        pool = logon_pool(reactor, 3)  # type: ignore[arg-type]
        self.assertEqual(pool.size, 3)
