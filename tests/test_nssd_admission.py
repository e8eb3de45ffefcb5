"""
Tests for L{nsstwisted.nssd.admission}: the connection limits' counting and
their rate-limited messages, on Twisted's deterministic clock.  The limits
against real connections are in C{tests/test_nssd_bad_input.py}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.logger import ILogObserver, Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from nsstwisted.nssd.admission import REFUSAL_REPORT_INTERVAL, ConnectionAdmission
from nsstwisted.nssd.diagnostics import Diagnostics


class AdmissionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.messages: list[str] = []

        @implementer(ILogObserver)
        def observe(event: dict[str, Any]) -> None:
            self.messages.append(formatEvent(event))

        self.limits = (4, 2)
        self.admission = ConnectionAdmission(
            lambda: self.limits,
            Diagnostics(0, Logger(observer=observe)),
            self.clock,
        )

    def test_perAddress(self) -> None:
        self.assertTrue(self.admission.admit("192.0.2.1"))
        self.assertTrue(self.admission.admit("192.0.2.1"))
        self.assertFalse(self.admission.admit("192.0.2.1"))
        self.assertTrue(self.admission.admit("192.0.2.2"))
        self.assertEqual(self.admission.held, 3)
        self.assertEqual(self.admission.held_from("192.0.2.1"), 2)

    def test_total(self) -> None:
        for address in ("192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3"):
            self.assertTrue(self.admission.admit(address))
        self.assertFalse(self.admission.admit("192.0.2.4"))
        self.assertEqual(self.admission.held, 4)

    def test_releaseFreesPlace(self) -> None:
        """
        A closed connection's place is free again, and an address with no
        connection left is forgotten.
        """
        self.admission.admit("192.0.2.1")
        self.admission.admit("192.0.2.1")
        self.admission.release("192.0.2.1")
        self.assertTrue(self.admission.admit("192.0.2.1"))
        self.admission.release("192.0.2.1")
        self.admission.release("192.0.2.1")
        self.assertEqual((self.admission.held, self.admission.closed), (0, 3))
        self.assertEqual(self.admission.held_from("192.0.2.1"), 0)
        self.assertEqual(self.admission._byAddress, {})

    def test_limitsReadEachTime(self) -> None:
        """
        A refreshed limit applies to the next connection; those held above
        a lowered limit stay.
        """
        self.admission.admit("192.0.2.1")
        self.admission.admit("192.0.2.1")
        self.limits = (4, 1)
        self.assertFalse(self.admission.admit("192.0.2.1"))
        self.assertEqual(self.admission.held_from("192.0.2.1"), 2)
        self.limits = (4, 3)
        self.assertTrue(self.admission.admit("192.0.2.1"))

    def test_firstRefusalLogged(self) -> None:
        self.admission.admit("192.0.2.1")
        self.admission.admit("192.0.2.1")
        self.admission.admit("192.0.2.1")
        self.assertEqual(
            self.messages,
            [
                "DBG0111I NSS connection from 192.0.2.1 refused - "
                "MaxConnectionsPerAddress 2 reached - further refusals are "
                "counted, not logged singly"
            ],
        )

    def test_floodNotLoggedSingly(self) -> None:
        """
        After the first refusal, refusals are counted and summed up once
        per interval for as long as they go on; then the log is quiet, and
        the next refusal is logged singly again.
        """
        for address in ("192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3"):
            self.admission.admit(address)
        for _ in range(1000):
            self.admission.admit("192.0.2.1")
            self.admission.admit("192.0.2.9")
        self.assertEqual(len(self.messages), 1)
        self.assertIn(
            "DBG0110I NSS connection from 192.0.2.1 refused", self.messages[0]
        )
        self.assertIn("MaxConnections 4 reached", self.messages[0])

        self.admission.release("192.0.2.2")
        for _ in range(10):
            self.admission.admit("192.0.2.1")
        self.clock.advance(REFUSAL_REPORT_INTERVAL)
        self.assertEqual(
            self.messages[1:],
            [
                "DBG0112I 2009 more NSS connections refused in the last 60 "
                "seconds - 1999 by MaxConnections, 10 by MaxConnectionsPerAddress"
            ],
        )
        self.assertFalse(self.admission.admit("192.0.2.1"))
        self.clock.advance(REFUSAL_REPORT_INTERVAL)
        self.assertIn("DBG0112I 1 more", self.messages[2])
        self.clock.advance(REFUSAL_REPORT_INTERVAL)
        self.assertEqual(len(self.messages), 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

        self.assertFalse(self.admission.admit("192.0.2.1"))
        self.assertIn("DBG0111I NSS connection from 192.0.2.1", self.messages[3])

    def test_stopReportsAndCancels(self) -> None:
        for _ in range(3):
            self.admission.admit("192.0.2.1")
        self.admission.admit("192.0.2.1")
        self.admission.stop()
        self.assertIn("DBG0112I 1 more", self.messages[-1])
        self.assertEqual(self.clock.getDelayedCalls(), [])
