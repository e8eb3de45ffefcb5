"""
Dead peer detection and the INVALID_IKE_SPI answer after a restart
(L{nsstwisted.ike.liveness}), engine against engine.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import ExchangeType, NotifyType
from nsstwisted.ike.engine import IkeEngine
from nsstwisted.ike.events import ChildSaDeleted, IkeSaDeleted, MessageDropped
from nsstwisted.ike.liveness import SpiHintLimiter, invalid_spi_answer
from nsstwisted.ike.message import IkeHeader, decode_message
from nsstwisted.ike.payloads import find_notify
from nsstwisted.ike.sa import IkeSa, IkeState

from .ikepeers import Side, Wire, child_policy, pair


def _of(side: Side, kind: type[Any]) -> list[Any]:
    return [e for e in side.events if isinstance(e, kind)]


def _sa(side: Side) -> IkeSa:
    (sa,) = [sa for sa in side.engine.sas() if sa.state == IkeState.ESTABLISHED]
    return sa


def _informational_requests(side: Side) -> int:
    count = 0
    for datagram in side.sent:
        header = IkeHeader.decode(datagram.message)
        if header.exchange == ExchangeType.INFORMATIONAL and not header.isResponse:
            count += 1
    return count


def _with_dpd(interval: int) -> Wire:
    wire = pair(
        leftChildren=(child_policy(),),
        rightChildren=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
    )
    for policy in wire.left.engine.peers:
        object.__setattr__(policy, "dpdInterval", interval)
    wire.handle(wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now))
    wire.run()
    return wire


class DeadPeerDetectionTests(SynchronousTestCase):
    def test_off_by_default(self) -> None:
        wire = _with_dpd(0)
        wire.advance(2000)  # within the CHILD_SA's refresh (a delete)
        self.assertEqual(_informational_requests(wire.left), 0)

    def test_checks_only_when_nothing_arrived(self) -> None:
        wire = _with_dpd(10)
        wire.advance(9)
        self.assertEqual(_informational_requests(wire.left), 0)
        wire.advance(2)
        self.assertEqual(_informational_requests(wire.left), 1)
        self.assertIsNone(_sa(wire.left).outstanding)  # answered
        # A request from the peer is news of it: the next check waits.
        wire.advance(5)
        wire.handle(
            wire.right, wire.right.engine.check_liveness(_sa(wire.right), wire.now)
        )
        wire.run()
        wire.advance(9)
        self.assertEqual(_informational_requests(wire.left), 1)
        wire.advance(2)
        self.assertEqual(_informational_requests(wire.left), 2)

    def test_dead_peer_is_removed(self) -> None:
        wire = _with_dpd(10)
        sa = _sa(wire.left)
        wire.tamper = lambda sender, data: None  # the peer is gone
        wire.advance(300)
        (deleted,) = _of(wire.left, IkeSaDeleted)
        self.assertIs(deleted.sa, sa)
        self.assertEqual(deleted.reason, "peer not responding")
        self.assertTrue(sa.unreachable)
        (child,) = _of(wire.left, ChildSaDeleted)
        self.assertEqual(child.reason, "peer not responding")
        self.assertEqual(wire.left.engine.sas(), [])
        # one check and its five retransmissions, then nothing more
        self.assertEqual(_informational_requests(wire.left), 6)
        self.assertIsNone(wire.left.engine.next_deadline())

    def test_restarted_peer(self) -> None:
        """
        The peer restarts and knows no SA: it answers our check with an
        unprotected INVALID_IKE_SPI, which ends nothing by itself; the
        check times out, and a new negotiation succeeds.
        """
        wire = _with_dpd(10)
        sa = _sa(wire.left)
        right = wire.right
        right.engine = IkeEngine(right.engine.peers, right.engine.settings)
        wire.advance(11)
        hints = [
            d for d in _of(wire.left, MessageDropped) if "INVALID_IKE_SPI" in d.reason
        ]
        self.assertTrue(hints)
        self.assertEqual(sa.state, IkeState.ESTABLISHED)  # a hint, no more
        wire.advance(300)
        self.assertEqual(sa.state, IkeState.DELETED)
        self.assertTrue(sa.unreachable)
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        wire.run()
        self.assertEqual(len(_sa(wire.left).children), 1)
        self.assertEqual(len(_sa(wire.right).children), 1)

    def test_invalid_spi_hint_starts_a_check(self) -> None:
        """
        An unprotected INVALID_IKE_SPI for an SA of ours (without DPD)
        starts one liveness check, and another only after a while.
        """
        wire = _with_dpd(0)
        sa = _sa(wire.left)
        request = IkeHeader(
            sa.spiI, sa.spiR, 0, ExchangeType.INFORMATIONAL, 0x08, 7, 28
        )
        hint = invalid_spi_answer(request)
        for _ in range(2):
            wire.handle(
                wire.left,
                wire.left.engine.receive(
                    hint, wire.left.endpoint, wire.right.endpoint, wire.now
                ),
            )
            wire.run()
        self.assertEqual(_informational_requests(wire.left), 1)
        self.assertEqual(sa.state, IkeState.ESTABLISHED)
        wire.now += 11
        wire.handle(
            wire.left,
            wire.left.engine.receive(
                hint, wire.left.endpoint, wire.right.endpoint, wire.now
            ),
        )
        wire.run()
        self.assertEqual(_informational_requests(wire.left), 2)
        self.assertEqual(sa.state, IkeState.ESTABLISHED)

    def test_invalid_spi_hint_ends_a_delete(self) -> None:
        """
        An SA we are deleting, whose delete the peer answered with
        INVALID_IKE_SPI (it forgot the SA; its answer to our delete was
        lost), goes at once instead of after every retransmission.
        """
        wire = _with_dpd(0)
        sa = _sa(wire.left)
        wire.tamper = lambda sender, data: None
        wire.handle(wire.left, wire.left.engine.delete_ike_sa(sa, "operator", wire.now))
        wire.run()
        self.assertEqual(sa.state, IkeState.DELETING)
        request = IkeHeader(
            sa.spiI, sa.spiR, 0, ExchangeType.INFORMATIONAL, 0x08, 0, 28
        )
        wire.handle(
            wire.left,
            wire.left.engine.receive(
                invalid_spi_answer(request),
                wire.left.endpoint,
                wire.right.endpoint,
                wire.now,
            ),
        )
        self.assertEqual(sa.state, IkeState.DELETED)
        (deleted,) = _of(wire.left, IkeSaDeleted)
        self.assertEqual(deleted.reason, "operator")
        self.assertEqual(wire.left.engine.sas(), [])


class InvalidSpiAnswerTests(SynchronousTestCase):
    def test_answer(self) -> None:
        request = IkeHeader(
            b"\x01" * 8, b"\x02" * 8, 0, ExchangeType.INFORMATIONAL, 0x08, 7, 28
        )
        header, payloads = decode_message(invalid_spi_answer(request))
        self.assertEqual((header.spiI, header.spiR), (b"\x01" * 8, b"\x02" * 8))
        self.assertEqual(header.messageId, 7)
        self.assertTrue(header.isResponse)
        self.assertFalse(header.isInitiator)
        self.assertIsNotNone(find_notify(payloads, NotifyType.INVALID_IKE_SPI))

    def test_limits(self) -> None:
        limiter = SpiHintLimiter(perSource=1.0, perSecond=3)
        self.assertTrue(limiter.allow("192.0.2.1", 100.0))
        self.assertFalse(limiter.allow("192.0.2.1", 100.5))
        self.assertTrue(limiter.allow("192.0.2.1", 101.0))
        # a spoofed flood from many sources: a few answers a second
        answered = sum(limiter.allow(f"198.51.100.{n}", 102.0) for n in range(200))
        self.assertEqual(answered, 3)
