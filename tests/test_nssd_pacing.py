"""
Tests for L{nsstwisted.nssd.pacing}: handshake reads and accepts paced
across the reactor's turns.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import LoopingCall, deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from nsstwisted.nssd.pacing import (
    ACCEPTS_PER_TURN,
    HandshakePacer,
    PacedAcceptEndpoint,
    PacedAcceptPort,
)
from tests.daemons import (
    build_security,
    client_endpoint,
    start_nssd,
)
from tests.test_nssd_bad_input import signs


class _Call:
    def __init__(self, f: Callable[[], object]) -> None:
        self.f = f
        self.cancelled = self.called = False

    def active(self) -> bool:
        return not (self.cancelled or self.called)

    def cancel(self) -> None:
        self.cancelled = True


class _Turns:
    """
    The reactor's turns as the pacer relies on them: a call made at delay 0
    runs at the start of the next turn, never in the turn that made it
    (Twisted's C{Clock} would run it at once).
    """

    def __init__(self) -> None:
        self.pending: list[_Call] = []

    def callLater(self, delay: float, f: Callable[..., object], *args: object) -> _Call:
        call = _Call(lambda: f(*args))
        self.pending.append(call)
        return call

    def turn(self) -> None:
        calls, self.pending = self.pending, []
        for call in calls:
            if call.active():
                call.called = True
                call.f()

    def scheduled(self) -> list[_Call]:
        return [c for c in self.pending if c.active()]


class _Connection:
    """
    A connection as the pacer sees it, recording what the pacer did to it
    and when (by the fake clock's turn).
    """

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        self.name = name
        self._log = log
        self.reading = True

    def deliver(self, data: bytes) -> None:
        self._log.append((self.name, data.decode()))

    def pauseReading(self) -> None:
        self.reading = False

    def resumeReading(self) -> None:
        self.reading = True


class HandshakePacerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = _Turns()
        self.pacer = HandshakePacer(self.clock, stepsPerTurn=2)  # type: ignore[arg-type]
        self.log: list[tuple[str, str]] = []

    def connections(self, count: int) -> list[_Connection]:
        return [_Connection(f"c{n}", self.log) for n in range(count)]

    def test_stepsPerTurn(self) -> None:
        """
        Five connections' reads in one turn: two are handed to TLS at once;
        the others stop being read and are handed over two per later turn,
        in the order they arrived, each read again when its turn comes.
        """
        connections = self.connections(5)
        for c in connections:
            self.pacer.received(c, f"hello {c.name}".encode())
        self.assertEqual(self.log, [("c0", "hello c0"), ("c1", "hello c1")])
        self.assertEqual([c.reading for c in connections], [True] * 2 + [False] * 3)
        self.assertEqual(self.pacer.waiting, 3)
        self.clock.turn()
        self.assertEqual(self.log[2:], [("c2", "hello c2"), ("c3", "hello c3")])
        self.assertTrue(connections[2].reading and connections[3].reading)
        self.assertFalse(connections[4].reading)
        self.clock.turn()
        self.assertEqual(self.log[4:], [("c4", "hello c4")])
        self.assertEqual(self.pacer.waiting, 0)
        self.assertEqual(self.pacer.deferred, 3)

    def test_newArrivalsWaitTheirTurn(self) -> None:
        """
        A read that arrives in a turn whose steps went to connections that
        waited waits for the next turn: first come, first served.
        """
        c0, c1, c2, c3, late = self.connections(5)
        for c in (c0, c1, c2, c3):
            self.pacer.received(c, b"x")
        self.clock.turn()  # c2 and c3 handed over: this turn is full
        self.pacer.received(late, b"y")
        self.assertEqual([name for name, _ in self.log], ["c0", "c1", "c2", "c3"])
        self.assertFalse(late.reading)
        self.clock.turn()
        self.assertEqual(self.log[-1], ("c4", "y"))

    def test_forget(self) -> None:
        """
        A connection lost while it waits is never handed anything.
        """
        connections = self.connections(4)
        for c in connections:
            self.pacer.received(c, b"x")
        self.pacer.forget(connections[2])
        self.clock.turn()
        self.clock.turn()
        self.assertEqual([name for name, _ in self.log], ["c0", "c1", "c3"])

    def test_quietWhenIdle(self) -> None:
        """
        With nothing waiting, the pacer stops scheduling turns of its own.
        """
        (c,) = self.connections(1)
        self.pacer.received(c, b"x")
        self.clock.turn()
        self.clock.turn()
        self.assertEqual(self.clock.scheduled(), [])

    def test_stop(self) -> None:
        connections = self.connections(3)
        for c in connections:
            self.pacer.received(c, b"x")
        self.pacer.stop()
        self.assertEqual(self.clock.scheduled(), [])
        self.assertEqual(self.pacer.waiting, 0)


class _Counting(Protocol):
    def connectionMade(self) -> None:
        self.factory.accepted.append(time.monotonic())


class PacedAcceptPortTests(TestCase):
    def test_acceptsPerTurn(self) -> Deferred[None]:
        """
        Connections waiting in the accept queue are taken at most
        L{ACCEPTS_PER_TURN} per turn of the reactor, and all are taken.
        """
        factory = Factory.forProtocol(_Counting)
        factory.accepted = []  # type: ignore[attr-defined]
        port = PacedAcceptPort(0, factory, 256, "127.0.0.1", reactor)
        port.startListening()
        self.addCleanup(port.stopListening)
        self.assertEqual(port.numberAccepts, ACCEPTS_PER_TURN)
        address = port.getHost()
        count = ACCEPTS_PER_TURN * 3 + 5
        clients = [
            socket.create_connection((address.host, address.port)) for _ in range(count)
        ]
        for client in clients:
            self.addCleanup(client.close)
        seen: list[int] = []
        sampling = [True]

        def everyTurn() -> None:
            seen.append(len(factory.accepted))  # type: ignore[attr-defined]
            if sampling[0]:
                reactor.callLater(0, everyTurn)

        reactor.callLater(0, everyTurn)

        def check(_: None) -> None:
            sampling[0] = False
            self.assertEqual(len(factory.accepted), count)  # type: ignore[attr-defined]
            steps = [b - a for a, b in zip([0, *seen[:-1]], seen, strict=True)]
            self.assertLessEqual(max(steps), ACCEPTS_PER_TURN)
            # Twisted's own port would take them all in one turn.
            self.assertGreater(len([s for s in steps if s]), 1)

        return deferLater(reactor, 0.3, lambda: None).addCallback(check)

    def test_endpoint(self) -> Deferred[None]:
        """
        The endpoint listens with a paced port.
        """
        listening = PacedAcceptEndpoint(reactor, 0, 16, "127.0.0.1").listen(
            Factory.forProtocol(Protocol)
        )

        def check(port: object) -> None:
            self.assertIsInstance(port, PacedAcceptPort)
            self.addCleanup(port.stopListening)  # type: ignore[attr-defined]

        return listening.addCallback(check)


class _Silent(Protocol):
    """A TCP peer that connects and says nothing, or a byte now and then."""

    def __init__(self) -> None:
        self.lost: Deferred[None] = Deferred()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.callback(None)


@implementer(IHandshakeListener)
class _Secured(Protocol):
    """A TLS client that only completes its handshake."""

    def __init__(self) -> None:
        self.secured: Deferred[None] = Deferred()

    def handshakeCompleted(self) -> None:
        self.secured.callback(None)


class PacedServerTests(TestCase):
    """
    Pacing against a real nssd, as attackers and a storm would meet it.
    """

    def setUp(self) -> None:
        self.setup = build_security(self)
        self.service = start_nssd(self, self.setup, closeDeadline=0.5)
        assert self.service.port is not None
        self.portNumber = self.service.port.getHost().port  # type: ignore[attr-defined]

    async def sign_once(self) -> float:
        started = time.monotonic()
        await signs(client_endpoint(self.setup, self.portNumber))
        return time.monotonic() - started

    def test_silentAndSlowPeersHoldUpNoOne(self) -> Deferred[None]:
        """
        Sixty connections that never send a byte and sixty that send one
        byte of a TLS record every 20 ms hold no place that a client needs:
        a client connecting after them logs on and signs in well under a
        second, as it does alone.
        """
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.portNumber)

        async def go() -> None:
            peers = [await connectProtocol(endpoint, _Silent()) for _ in range(120)]
            dripping = peers[60:]

            def drip() -> None:
                for peer in dripping:
                    if peer.transport is not None and not peer.lost.called:
                        peer.transport.write(b"\x16")

            loop = LoopingCall(drip)
            loop.start(0.02)
            try:
                await deferLater(reactor, 0.2, lambda: None)
                elapsed = await self.sign_once()
            finally:
                loop.stop()
                for peer in peers:
                    if peer.transport is not None:
                        peer.transport.abortConnection()
            self.assertLess(elapsed, 1.0)

        return ensureDeferred(go())

    def test_handshakeStorm(self) -> Deferred[None]:
        """
        A hundred TLS clients at once all complete their handshakes, paced
        (some handshake reads waited for a later turn), and a client that
        comes with them logs on and signs.
        """
        tls = client_endpoint(self.setup, self.portNumber)

        async def go() -> None:
            peers = [_Secured() for _ in range(100)]
            connecting = [connectProtocol(tls, peer) for peer in peers]
            elapsed = await self.sign_once()
            await gatherResults(connecting)
            await gatherResults([peer.secured for peer in peers])
            for peer in peers:
                peer.transport.abortConnection()  # type: ignore[union-attr]
            self.assertGreater(self.service.handshakePacer.deferred, 0)
            self.assertLess(elapsed, 10.0)

        return ensureDeferred(go())
