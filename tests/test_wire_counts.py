"""
Tests for L{nsstwisted.wire.counts}, and that the operator-visible
messages say their counts with it: never C{1 seconds}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.counts import counted


class CountedTests(SynchronousTestCase):
    def test_counted(self) -> None:
        self.assertEqual(counted(1, "second"), "1 second")
        self.assertEqual(counted(1.0, "second"), "1 second")
        self.assertEqual(counted(0, "stack"), "0 stacks")
        self.assertEqual(counted(2, "stack"), "2 stacks")
        self.assertEqual(counted(30.0, "second"), "30 seconds")
        self.assertEqual(counted(0.5, "second"), "0.5 seconds")
        self.assertEqual(counted(1_000_000, "connection"), "1000000 connections")
        self.assertEqual(counted(2, "entry", "entries"), "2 entries")
        self.assertEqual(counted(1, "entry", "entries"), "1 entry")
