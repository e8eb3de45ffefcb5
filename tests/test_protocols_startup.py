"""
Tests for L{nsstwisted.protocols.startup}: binding at start, and how a
failed start becomes twistd's exit status.
"""

from __future__ import annotations

import socket

from twisted.application.service import Service
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from nsstwisted.protocols.startup import StartupError, for_twistd, listen_at_start


@implementer(IStreamServerEndpoint)
class LaterEndpoint:
    """An endpoint that would know whether it listens only later."""

    def __init__(self) -> None:
        self.listening: Deferred[IListeningPort] = Deferred()

    def listen(self, factory: object) -> Deferred[IListeningPort]:
        return self.listening


class ListenAtStartTests(SynchronousTestCase):
    def test_listens(self) -> None:
        port = listen_at_start(
            TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"),
            Factory.forProtocol(Protocol),
        )
        self.addCleanup(port.stopListening)
        self.assertNotEqual(port.getHost().port, 0)  # type: ignore[attr-defined]

    def test_portInUse(self) -> None:
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        number = holder.getsockname()[1]
        error = self.assertRaises(
            StartupError,
            listen_at_start,
            TCP4ServerEndpoint(reactor, number, interface="127.0.0.1"),
            Factory.forProtocol(Protocol),
        )
        self.assertIn(f"127.0.0.1:{number}", str(error))
        self.assertIn("Address already in use", str(error))

    def test_notAtOnce(self) -> None:
        """
        An endpoint that answers later is refused, and its attempt
        cancelled: twistd could no longer be told.
        """
        endpoint = LaterEndpoint()
        error = self.assertRaises(
            StartupError, listen_at_start, endpoint, Factory.forProtocol(Protocol)
        )
        self.assertIn("does not listen at once", str(error))
        self.assertTrue(endpoint.listening.called)


class Refusing(Service):
    name = "refusing"

    def startService(self) -> None:
        Service.startService(self)
        raise StartupError("the port is in use")


class ForTwistdTests(SynchronousTestCase):
    def test_failedStartEndsTwistd(self) -> None:
        """
        twistd's start-up handler catches C{Exception} (to remove the PID
        file and tell a daemonizing parent) and re-raises it: the error is
        both that and a C{SystemExit} with status 1, which ends twistd
        without a traceback.
        """
        wrapped = for_twistd(Refusing())
        error = self.assertRaises(SystemExit, wrapped.startService)
        self.assertIsInstance(error, Exception)
        self.assertEqual(error.code, 1)
        self.assertEqual(str(error), "the port is in use")

    def test_startsAndStops(self) -> None:
        inner = Service()
        inner.setName("nssd")
        wrapped = for_twistd(inner)
        self.assertEqual(wrapped.name, "nssd under twistd")
        wrapped.startService()
        self.assertTrue(inner.running)
        wrapped.stopService()
        self.assertFalse(inner.running)
