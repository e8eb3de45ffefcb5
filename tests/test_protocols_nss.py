"""
Tests for L{nsstwisted.protocols.nss}: what the protocol does to the
connection it is given, over real TCP and TLS.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.trial.unittest import TestCase

from nsstwisted.client import tls_endpoint
from nsstwisted.nssd.tls import ServerContextFactory, server_context
from nsstwisted.protocols.nss import NssProtocol
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.keyring import KeyRingStore
from nsstwisted.wire.nss import DecodeFailure, NssFrame
from tests.daemons import build_security


class QuietHandler:
    """A handler that takes everything and does nothing."""

    def __init__(self, protocol: NssProtocol) -> None:
        self.protocol = protocol

    def connected(self) -> None:
        pass

    def secured(self) -> None:
        pass

    def frameReceived(self, frame: NssFrame) -> None:
        pass

    def decodeFailed(self, failure: DecodeFailure) -> None:
        pass

    def timedOut(self, what: str) -> None:
        pass

    def connectionLost(self, reason: str) -> None:
        pass


def _no_delay(protocol: NssProtocol) -> int:
    """TCP_NODELAY of the TCP connection under C{protocol} (and any TLS)."""
    transport: Any = protocol.transport
    if isinstance(transport, TLSMemoryBIOProtocol):
        transport = transport.transport
    handle: socket.socket = transport.getHandle()
    return handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


class NoDelayTests(TestCase):
    """
    Requests and answers are small and pipelined: a connection must not
    wait for ACKs before sending the next (Nagle's algorithm, which with
    the peer's delayed ACKs stalls a pipelined message for up to 40 ms).
    """

    def connect(self, endpoint: TCP4ClientEndpoint) -> Deferred[NssProtocol]:
        factory = Factory.forProtocol(lambda: NssProtocol(QuietHandler, reactor))
        d: Deferred[Any] = endpoint.connect(factory)

        def close(protocol: NssProtocol) -> NssProtocol:
            assert protocol.transport is not None
            self.addCleanup(protocol.transport.abortConnection)  # type: ignore[attr-defined]
            return protocol

        return d.addCallback(close)

    def test_tcp(self) -> Deferred[None]:
        listening = reactor.listenTCP(
            0,
            Factory.forProtocol(Protocol),  # type: ignore[arg-type]
            interface="127.0.0.1",
        )
        self.addCleanup(listening.stopListening)
        port = listening.getHost().port  # type: ignore[attr-defined]

        async def go() -> None:
            protocol = await self.connect(
                TCP4ClientEndpoint(reactor, "127.0.0.1", port)
            )
            self.assertTrue(_no_delay(protocol))

        return ensureDeferred(go())

    def test_through_tls(self) -> Deferred[None]:
        """Through TLS, the option reaches the TCP connection underneath."""
        setup = build_security(self)
        database = SecurityDatabase.open(setup.database, setup.stash)
        self.addCleanup(database.close)
        context, _ = server_context(KeyRingStore(database), "NSSD", "TLSRING", None)
        listening = reactor.listenSSL(  # type: ignore[attr-defined]
            0,
            Factory.forProtocol(Protocol),
            ServerContextFactory(context),
            interface="127.0.0.1",
        )
        self.addCleanup(listening.stopListening)

        async def go() -> None:
            protocol = await self.connect(
                tls_endpoint(  # type: ignore[arg-type]
                    TCP4ClientEndpoint(reactor, "127.0.0.1", listening.getHost().port),
                    [setup.caPem],
                )
            )
            self.assertTrue(_no_delay(protocol))

        return ensureDeferred(go())
