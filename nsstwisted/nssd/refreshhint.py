"""
A hint for the administrator who permitted and forgot to refresh.

nssd answers SERVAUTH checks from a snapshot of the profiles, as RACF answers
a RACLISTed class from storage: a PERMIT (or RDEFINE, or a RESUME) takes
effect only at C{SETROPTS RACLIST(SERVAUTH) REFRESH}, which nssd notices
within seconds.  Until then the check is denied, exactly as RACF would deny
it, and the administrator who just made the PERMIT sees a denial that looks
wrong.

After a denial, nssd therefore looks at the database as it is now (one
snapshot read in the thread pool, only after a denial, and at most one per
L{READ_GAP} seconds however many denials come: those that come meanwhile
wait for the next read), and if the database would have given the user
more access, and no refresh has happened since the running snapshot was
taken, writes DBG0155I: the change is there, and waits for the refresh.  It
never changes an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.security.profiles import (
    AccessLevel,
    Decision,
    ProfileSnapshot,
    ResourceClass,
)

READ_GAP = 2.0
"""The fewest seconds between two reads of the database after denials."""

_MAX_WAITING = 64
_MAX_TOLD = 256

_Denial = tuple[str, str, Decision]


class RefreshHint:
    """
    @param reactor: provides C{seconds}, C{callLater} and C{callFromThread}.
    @param inPool: runs a blocking function in the server's thread pool.
    @param read: reads a new snapshot from the database (blocking).
    @param current: the snapshot nssd checks with now.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        inPool: Callable[[Callable[[], ProfileSnapshot]], Deferred[ProfileSnapshot]],
        read: Callable[[], ProfileSnapshot],
        current: Callable[[], ProfileSnapshot],
        diagnostics: Diagnostics,
    ) -> None:
        self._reactor = reactor
        self._inPool = inPool
        self._read = read
        self._current = current
        self._diagnostics = diagnostics
        self._lastRead = float("-inf")
        self._reading = False
        self._stopped = False
        self._next: IDelayedCall | None = None
        self._waiting: list[_Denial] = []
        # (generation, user ID, resource) already hinted at, so that a
        # client that retries does not repeat the message.
        self._told: set[tuple[int, str, str]] = set()

    def denied(self, userid: str, resource: str, decision: Decision) -> None:
        """
        A SERVAUTH check was denied.  May be called from any thread (the
        certificate service checks in the pool).
        """
        self._reactor.callFromThread(self._denied, (userid, resource, decision))

    def stop(self) -> None:
        """
        nssd stops: read nothing more.
        """
        self._stopped = True
        if self._next is not None and self._next.active():
            self._next.cancel()
        self._next = None
        self._waiting = []

    def _denied(self, denial: _Denial) -> None:
        if self._stopped:
            return
        if len(self._waiting) < _MAX_WAITING:
            self._waiting.append(denial)
        if self._reading or self._next is not None:
            return
        wait = self._lastRead + READ_GAP - self._reactor.seconds()
        if wait > 0:
            self._next = self._reactor.callLater(wait, self._start)
        else:
            self._start()

    def _start(self) -> None:
        self._next = None
        self._reading = True
        self._lastRead = self._reactor.seconds()
        reading = self._inPool(self._read)
        reading.addCallbacks(self._got, self._failed)

    def _got(self, fresh: ProfileSnapshot) -> None:
        self._reading = False
        self._compare(fresh)

    def _failed(self, failure: Failure) -> None:
        # Only a hint is lost; the denial itself stands and was reported.
        self._reading = False
        self._waiting = []
        self.log.debug("no refresh hint: {error}", error=failure.getErrorMessage())

    def _compare(self, fresh: ProfileSnapshot) -> None:
        waiting, self._waiting = self._waiting, []
        current = self._current()
        if fresh.generation != current.generation:
            # A refresh has been made, and nssd installs it within seconds.
            return
        for userid, resource, decision in waiting:
            key = (current.generation, userid, resource)
            if key in self._told:
                continue
            now = fresh.authorize(
                userid, ResourceClass.SERVAUTH, resource, AccessLevel.READ
            )
            if now.granted <= decision.granted:
                continue
            if len(self._told) >= _MAX_TOLD:
                self._told.clear()
            self._told.add(key)
            self._diagnostics.refresh_pending(
                userid,
                resource,
                now.profile or "NONE",
                now.granted.name,
                decision.granted.name,
            )
