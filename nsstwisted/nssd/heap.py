"""
Giving the system back the memory of connections that have closed.

Two things keep it otherwise.  A connection that ends without TLS's goodbye
(every one nssd aborts, every peer that just drops) is left in a reference
cycle by Twisted's TLS (the failure it records holds the traceback whose
frame holds the failure), and the cycle holds the connection's objects and
its OpenSSL state until the cyclic collector's oldest generation runs, which
may not be for a long time.  And glibc's malloc keeps what a process frees
for its own reuse, giving pages back to the system only from the top of its
heap, so that after a flood of connections their pages stay resident
although nothing uses them.  L{return_free_memory} collects the cycles and
then calls C{malloc_trim(0)}, which returns every whole free page wherever
it lies.  Under another C library (musl has no C{malloc_trim}) only the
collection is done.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def return_free_memory() -> None:
    """
    Free what closed connections left in reference cycles, and give the
    system back the free pages of the C heap.  It takes the reactor some
    milliseconds, so it is for after many connections have closed, not
    after each.
    """
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)
