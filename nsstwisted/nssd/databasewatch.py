"""
nssd's watch on its security database: whether it can be reached, and, on
PostgreSQL, the connection that hears a change the moment it is committed.

nssd serves from memory (its snapshot of the profiles and users, and its
ring's keys), so a database that goes away stops only what must be
written before it is answered.  The watch says so when it happens
(DBG0170I), notices when the database is back, writes what was held
meanwhile and says so (DBG0171I), and makes nssd catch up at once, since a
REFRESH made meanwhile was announced to nobody.

Where the engine pushes changes (PostgreSQL's LISTEN/NOTIFY), a REFRESH
reaches every server on the database within a round trip: the listening
connection's socket is watched by the reactor like any other, and a
notification makes nssd catch up.  Its loss is also the quickest sign that
the database went away; it is made again every L{RETRY_INTERVAL} seconds.
Where the engine cannot push (SQLite, or a standby, which cannot LISTEN),
nssd's poll finds the change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    SecurityError,
)
from nsstwisted.security.storage import ChangeListener

RETRY_INTERVAL = 1.0
"""Seconds between attempts to make the listening connection again."""


@implementer(IReadDescriptor)
class _ChangeReader:
    """
    The listening connection as the reactor watches it.
    """

    def __init__(
        self,
        listener: ChangeListener,
        heard: Callable[[], None],
        lost: Callable[[Failure], None],
    ) -> None:
        self._listener = listener
        self._heard = heard
        self._lost = lost

    def fileno(self) -> int:
        return self._listener.fileno()

    def logPrefix(self) -> str:
        return "nssd-database"

    def doRead(self) -> Failure | None:
        try:
            heard = self._listener.changes()
        except SecurityError:
            # The reactor stops watching and calls connectionLost.
            return Failure()
        if heard:
            self._heard()
        return None

    def connectionLost(self, reason: Failure) -> None:
        self._listener.close()
        self._lost(reason)


class DatabaseWatch:
    """
    @param inPool: runs a blocking function in nssd's thread pool.
    @param catchUp: makes nssd catch up with the database now.
    @param writePending: writes the logon state held while the database
        was away (blocking); returns how many records it wrote.
    @param generation: the generation of the snapshot nssd serves from.
    """

    log = Logger(namespace="nssd")

    def __init__(
        self,
        reactor: Any,
        database: SecurityDatabase,
        inPool: Callable[..., Deferred[Any]],
        diagnostics: Diagnostics,
        catchUp: Callable[[], object],
        writePending: Callable[[], int],
        generation: Callable[[], int],
    ) -> None:
        self._reactor = reactor
        self._database = database
        self._inPool = inPool
        self._diagnostics = diagnostics
        self._catchUp = catchUp
        self._writePending = writePending
        self._generation = generation
        self.reachable = True
        self._running = False
        self._reader: _ChangeReader | None = None
        self._retry: IDelayedCall | None = None
        self._writing = False
        self._writeRetry: IDelayedCall | None = None
        self._back = False
        self._toldNotWritten = False
        self._pushRefused = False

    @property
    def listening(self) -> bool:
        """
        Whether changes are pushed to nssd now.
        """
        return self._reader is not None

    def start(self) -> None:
        self._running = True
        self._listen()

    def stop(self) -> None:
        self._running = False
        for call in (self._retry, self._writeRetry):
            if call is not None and call.active():
                call.cancel()
        self._retry = self._writeRetry = None
        reader, self._reader = self._reader, None
        if reader is not None:
            self._reactor.removeReader(reader)
            reader.connectionLost(Failure(ConnectionError("nssd stops")))

    # What nssd's other reads and writes found

    def failed(self, error: SecurityError) -> None:
        """
        A read or write of the database failed because it cannot be
        reached (or takes no writes).
        """
        if isinstance(error, DatabaseUnavailableError) and self.reachable:
            self.reachable = False
            self._diagnostics.database_unreachable(error.text, self._generation())

    def succeeded(self) -> None:
        """
        A read of the database succeeded: if it was away, it is back.
        """
        if not self.reachable:
            self.reachable = True
            self._write_pending(back=True)

    def write_pending(self) -> None:
        """
        Try again to write what was held (it could not be written when the
        database came back: a standby takes no writes).
        """
        self._write_pending(back=False)

    def _write_pending(self, *, back: bool) -> None:
        """
        Write what was held; DBG0171I says the database is back once that
        is done.  A connection that is not yet made again (the listener
        came back first) is tried again a moment later.
        """
        self._back = self._back or back
        if self._writing:
            return
        self._writing = True
        writing = self._inPool(self._writePending)

        def written(count: int) -> None:
            self._writing = False
            self._toldNotWritten = False
            if self._back:
                self._back = False
                self._diagnostics.database_back(self._database.path, count)

        def notWritten(failure: Failure) -> None:
            self._writing = False
            error = failure.value
            if isinstance(error, DatabaseUnavailableError):
                if self._running and self.reachable and self._writeRetry is None:
                    self._writeRetry = self._reactor.callLater(
                        RETRY_INTERVAL, self._write_again
                    )
                return
            if self._back:
                self._back = False
                self._diagnostics.database_back(self._database.path, 0)
            if isinstance(error, SecurityError):
                # Once, until they are written: nssd tries at every poll.
                if not self._toldNotWritten:
                    self._toldNotWritten = True
                    self._diagnostics.pending_not_written(error.text)
            else:
                self.log.failure("logon records not written", failure)

        writing.addCallbacks(written, notWritten)

    def _write_again(self) -> None:
        self._writeRetry = None
        if self._running:
            self._write_pending(back=False)

    # The listening connection

    def _listen(self) -> None:
        self._retry = None
        if not self._running:
            return
        opening: Deferred[ChangeListener | None] = self._inPool(self._database.listener)
        opening.addCallbacks(self._listening, self._notListening)

    def _listening(self, listener: ChangeListener | None) -> None:
        if listener is None:
            # SQLite: nothing pushes; nssd polls.
            return
        if not self._running:
            listener.close()
            return
        self._pushRefused = False
        self._reader = _ChangeReader(listener, self._heard, self._lost)
        self._reactor.addReader(self._reader)
        self._database.retry_now()
        self.succeeded()
        # Whatever was announced while nobody listened.
        self._catchUp()

    def _notListening(self, failure: Failure) -> None:
        error = failure.value
        if not isinstance(error, SecurityError):
            self.log.failure("cannot listen for changes", failure)
        elif isinstance(error, DatabaseReadOnlyError):
            # A standby cannot LISTEN: nssd polls it.
            if not self._pushRefused:
                self._pushRefused = True
                self._diagnostics.changes_not_pushed(error.text)
            return
        else:
            self.failed(error)
        self._again()

    def _heard(self) -> None:
        self._catchUp()

    def _lost(self, reason: Failure) -> None:
        if self._reader is None:
            return
        self._reader = None
        if not self._running:
            return
        error = reason.value
        if isinstance(error, SecurityError):
            self.failed(error)
        self._again()

    def _again(self) -> None:
        if self._running and self._retry is None:
            self._retry = self._reactor.callLater(RETRY_INTERVAL, self._listen)
