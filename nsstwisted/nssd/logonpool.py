"""
The threads that check logons, kept from starving the ones that sign.

A password check is one scrypt derivation, tens of milliseconds of CPU by
design; a reconnect storm brings hundreds of them at once.  Were they queued
in the signing pool, every SIGN of a client already logged on would wait
behind them, and its IKE negotiation with it.  So logons get their own
bounded pool, and its threads run at a lower scheduling priority (a higher
nice value, per thread, as Linux allows without privilege): when the cores
are free a storm uses them all, and when a signature, or the reactor thread
that carries its TLS records, wants a core, the scheduler gives it first.
scrypt releases the GIL while it computes, so the priority the kernel gives
is the priority that counts.  Under systemd, nssd's service has a cgroup of
its own, whose CPU weight ranks it against other services; the nice value
ranks only nssd's own threads against each other.
"""

from __future__ import annotations

import os
import threading

from twisted.internet.interfaces import IReactorFromThreads

from nsstwisted.nssd.workerpool import WorkerPool

#: How much lower than the process a logon thread runs: at nice +10 a
#: thread gets about a tenth of the CPU share of one at the process's own.
LOGON_NICENESS = 10

_MOST_NICE = 19


def lower_priority(niceness: int) -> None:
    """
    Lower the calling thread's scheduling priority by C{niceness}.  Where
    the system cannot (not Linux, or a sandbox that forbids it), the thread
    runs as it was: the separate pool still bounds what logons take.
    """
    getNativeId = getattr(threading, "get_native_id", None)
    if getNativeId is None or not hasattr(os, "setpriority"):
        return
    tid = getNativeId()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(current + niceness, _MOST_NICE))
    except OSError:
        pass


#: How many finished logon checks the reactor completes in one turn: each
#: costs it the SERVAUTH checks and the reply, a fraction of a millisecond,
#: so that a storm's logons finishing together keep a turn to a few
#: milliseconds, and the signatures of clients logged on are not held up.
LOGONS_PER_TURN = 16


def logon_pool(reactor: IReactorFromThreads, threads: int) -> WorkerPool:
    """
    A pool of C{threads} threads, each at L{LOGON_NICENESS} below the
    process, for logon checks, delivering at most L{LOGONS_PER_TURN} in one
    turn of the reactor.
    """
    return WorkerPool(
        reactor,
        threads,
        name="nssd-logon",
        deliveriesPerTurn=LOGONS_PER_TURN,
        threadStarted=lambda: lower_priority(LOGON_NICENESS),
    )
