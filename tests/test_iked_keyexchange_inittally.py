"""
A stack under an IKE_SA_INIT flood logs per request at debug level only,
and sums up at most once a minute (EZD1230I); IkeConfig's limits reach the
engine, and a refresh changes them; a burst of requests costs the stack
one look at the engine's timers, not one per request.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from nsstwisted.ike.engine import EngineSettings
from nsstwisted.ike.events import SendDatagram
from nsstwisted.iked.keyexchange.ikestack import StackIke
from nsstwisted.iked.keyexchange.inittally import SUMMARY_INTERVAL
from nsstwisted.iked.stackmodel.filters import StackFilters
from nsstwisted.iked.stackmodel.interfaces import InterfaceReader
from nsstwisted.iked.stackmodel.stack import StackModel
from nsstwisted.iked.stackmodel.statistics import StackStatistics
from nsstwisted.iked.stackmodel.tunnels import StackTunnels

from .ikepeers import LEFT, RIGHT, pair

STRANGER = ("192.0.2.7", 500)


class FloodSummaryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.wire = pair()
        self.logged: list[tuple[LogLevel, str]] = []

        @implementer(ILogObserver)
        def observe(event: dict[str, Any]) -> None:
            self.logged.append((event["log_level"], formatEvent(event)))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        model = StackModel(
            "RIGHT",
            StackFilters(None),
            StackStatistics(),
            InterfaceReader(None),
            StackTunnels(),
        )
        self.stack = StackIke(
            self.clock,
            "RIGHT",
            self.wire.right.engine.peers,
            lambda peer: None,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            model,
            EngineSettings(cookieThreshold=2, halfOpenLimit=5),
        )
        # Running, without sockets: the engine's answers go nowhere.
        self.stack.running = True

    def info(self) -> list[str]:
        return [text for level, text in self.logged if level >= LogLevel.info]

    def test_summary_once_a_minute(self) -> None:
        """
        20 requests from the rule's address (2 half open, 18 COOKIEs) and 5
        from an address no rule admits: debug lines only, then one
        EZD1230I when the minute is up.
        """
        # A left engine of another pair makes the requests: its answers
        # are never delivered, as to a forged address.
        left = pair().left
        for _ in range(20):
            self.spoof_from(left.engine)
        for _ in range(5):
            self.spoof_from(left.engine, STRANGER)
        debug = [text for level, text in self.logged if level == LogLevel.debug]
        self.assertEqual(sum("EZD1231I" in t for t in debug), 18, debug)
        self.assertEqual(sum("EZD1155I" in t for t in debug), 5, debug)
        self.assertIn(
            "EZD1231I Stack RIGHT IKE_SA_INIT from 127.0.0.1 port 5500 asked for a"
            " COOKIE (CookieThreshold 2): 2 IKE SAs half open",
            debug,
        )
        self.assertEqual(self.info(), [])
        self.clock.advance(SUMMARY_INTERVAL - 1)
        self.assertEqual(self.info(), [])
        self.clock.advance(1)
        (summary,) = self.info()
        self.assertEqual(
            summary,
            "EZD1230I Stack RIGHT turned away IKE_SA_INIT requests in the last 60"
            " seconds: 18 asked for a COOKIE (CookieThreshold 2); 5 refused (last:"
            " 192.0.2.7: no KeyExchangeRule lets 192.0.2.7 start an IKE SA);"
            " 2 half open until they expired; 0 IKE SAs were half open",
        )
        debug = [text for level, text in self.logged if level == LogLevel.debug]
        self.assertEqual(sum("setup timed out" in t for t in debug), 2, debug)
        # A quiet minute says nothing.
        self.clock.advance(SUMMARY_INTERVAL * 2)
        self.assertEqual(len(self.info()), 1)

    def refresh(self, cookieThreshold: int, halfOpenLimit: int) -> None:
        """Set the limits as a refresh does (L{engine_settings})."""
        self.stack.engine.settings = dataclasses.replace(
            self.stack.engine.settings,
            cookieThreshold=cookieThreshold,
            halfOpenLimit=halfOpenLimit,
        )

    def test_refresh_changes_limits(self) -> None:
        """A refresh's limits apply to the next request."""
        left = pair().left
        self.refresh(0, 5)
        self.spoof_from(left.engine)
        self.assertEqual(self.stack.engine.half_open(), 0)
        self.refresh(3, 5)
        self.spoof_from(left.engine)
        self.assertEqual(self.stack.engine.half_open(), 1)

    def spoof_from(self, engine: Any, remote: tuple[str, int] = LEFT) -> None:
        (request,) = [
            a.message
            for a in engine.initiate("to-right", None, 1000.0)
            if isinstance(a, SendDatagram)
        ]
        self.stack._received(request, RIGHT, remote)


class DeadlineTests(SynchronousTestCase):
    """
    The engine's next deadline looks at every IKE SA's timers: the stack
    asks for it once per turn of the reactor, however many datagrams that
    turn delivered, so that a burst costs it once, not once per datagram.
    """

    def test_once_per_turn(self) -> None:
        clock = Clock()
        wire = pair()
        model = StackModel(
            "RIGHT",
            StackFilters(None),
            StackStatistics(),
            InterfaceReader(None),
            StackTunnels(),
        )
        stack = StackIke(
            clock,
            "RIGHT",
            wire.right.engine.peers,
            lambda peer: None,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            model,
        )
        stack.running = True
        asked: list[float | None] = []
        nextDeadline = stack.engine.next_deadline

        def counted() -> float | None:
            asked.append(nextDeadline())
            return asked[-1]

        stack.engine.next_deadline = counted  # type: ignore[method-assign]
        left = pair().left
        for _ in range(20):
            (request,) = [
                a.message
                for a in left.engine.initiate("to-right", None, 0.0)
                if isinstance(a, SendDatagram)
            ]
            stack._received(request, RIGHT, LEFT)
        self.assertEqual(stack.engine.half_open(), 20)
        self.assertEqual(asked, [])
        clock.advance(0)
        self.assertEqual(len(asked), 1)
        # The half-open SAs expire when the deadline said.
        clock.advance(stack.engine.settings.halfOpenTimeout)
        self.assertEqual(stack.engine.half_open(), 0)
