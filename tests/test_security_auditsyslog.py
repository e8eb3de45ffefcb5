"""
The audit trail's syslog target (L{nsstwisted.security.auditsyslog}),
against a real datagram socket.
"""

from __future__ import annotations

import os
import tempfile
import time

from twisted.trial.unittest import TestCase

from nsstwisted.security import auditsyslog
from nsstwisted.security.auditsyslog import FACILITIES, SyslogTarget, syslog_datagram
from tests.syslogreceiver import SyslogReceiver


class DatagramTests(TestCase):
    def test_format(self) -> None:
        """
        The C library's C{syslog()} form: priority (facility * 8 + info),
        the local time as RFC 3164 writes it, the tag with the process ID,
        then the record without its newline.
        """
        when = time.mktime((2026, 12, 8, 1, 2, 3, 0, 0, -1))
        datagram = syslog_datagram(FACILITIES["authpriv"], "nssd", 42, when, b"{}\n")
        self.assertEqual(datagram, b"<86>Dec  8 01:02:03 nssd[42]: {}")

    def test_facilities(self) -> None:
        self.assertEqual(FACILITIES["auth"], 4)
        self.assertEqual(FACILITIES["local7"], 23)


class TargetTests(TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp()
        self.path = os.path.join(self.folder, "log")

    def test_sends(self) -> None:
        receiver = SyslogReceiver(self.path)
        self.addCleanup(receiver.close)
        target = SyslogTarget(FACILITIES["local3"], self.path)
        self.addCleanup(target.close)
        target.check()
        target.send([b'{"a":1}\n', b'{"b":2}\n'])
        first, second = receiver.datagrams()
        self.assertRegex(first, rb"^<158>\w{3} [ \d]\d \d\d:\d\d:\d\d nssd\[\d+\]: ")
        self.assertTrue(first.endswith(b': {"a":1}'))
        self.assertTrue(second.endswith(b': {"b":2}'))

    def test_missingSocket(self) -> None:
        """
        No syslog daemon: the check and a send both say which socket.
        """
        target = SyslogTarget(FACILITIES["auth"], self.path)
        error = self.assertRaises(OSError, target.check)
        self.assertIn(self.path, error.strerror)
        error = self.assertRaises(OSError, target.send, [b"{}\n"])
        self.assertIn(self.path, error.strerror)

    def test_reconnects(self) -> None:
        """
        A daemon that restarted has a new socket at the same path: the send
        that failed on the old one leaves the next to connect again.
        """
        receiver = SyslogReceiver(self.path)
        target = SyslogTarget(FACILITIES["auth"], self.path)
        self.addCleanup(target.close)
        target.send([b"{}\n"])
        receiver.close()
        self.assertRaises(OSError, target.send, [b"{}\n"])
        receiver = SyslogReceiver(self.path)
        self.addCleanup(receiver.close)
        target.send([b'{"again":true}\n'])
        [datagram] = receiver.datagrams()
        self.assertTrue(datagram.endswith(b'{"again":true}'))

    def test_fullSocket(self) -> None:
        """
        A daemon that stopped reading: a send waits L{SEND_TIMEOUT} for
        room, then fails, rather than hold the writer for ever.
        """
        self.patch(auditsyslog, "SEND_TIMEOUT", 0.2)
        receiver = SyslogReceiver(self.path)
        self.addCleanup(receiver.close)
        target = SyslogTarget(FACILITIES["auth"], self.path)
        self.addCleanup(target.close)
        started = time.monotonic()
        error = self.assertRaises(OSError, target.send, [b"x" * 1000 + b"\n"] * 10000)
        self.assertIn("stayed full", error.strerror)
        self.assertLess(time.monotonic() - started, 5)
        self.assertTrue(receiver.datagrams())
