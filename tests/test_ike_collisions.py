"""
Rekeys that cross, and rekeys that cross a delete (RFC 7296 sections
2.8.1, 2.8.2 and 2.25), engine against engine; and when SAs are refreshed
(L{nsstwisted.ike.lifetimes}).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.childexchange import REDUNDANT
from nsstwisted.ike.constants import ExchangeType
from nsstwisted.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    IkeSaDeleted,
    IkeSaRekeyed,
    NegotiationFailed,
)
from nsstwisted.ike.lifetimes import lowest_nonce_loses, refresh_after
from nsstwisted.ike.message import IkeHeader
from nsstwisted.ike.sa import ChildSa, ChildState, IkeSa, IkeState

from .ikepeers import Side, Wire, child_policy, pair


def _of(side: Side, kind: type[Any]) -> list[Any]:
    return [e for e in side.events if isinstance(e, kind)]


def _sa(side: Side) -> IkeSa:
    (sa,) = [sa for sa in side.engine.sas() if sa.state == IkeState.ESTABLISHED]
    return sa


def _standard(lifetime: int = 14400) -> Wire:
    wire = pair(
        leftChildren=(child_policy(),),
        rightChildren=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
        leftLifetime=lifetime,
        rightLifetime=lifetime,
    )
    wire.handle(wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now))
    wire.run()
    return wire


def _nonces(*firsts: int) -> Callable[[int], bytes]:
    """Nonces that start with the given octets, one per call, in turn."""
    octets: Iterator[int] = iter(firsts)
    return lambda size: bytes([next(octets)]) + bytes(size - 1)


def _step(wire: Wire) -> None:
    """Deliver the first datagram in flight, and only that one."""
    sender, datagram = wire.queue.pop(0)
    receiver = wire.other(sender)
    wire.handle(
        receiver,
        receiver.engine.receive(
            datagram.message, datagram.remote, datagram.local, wire.now
        ),
    )


def _one_pair(test: SynchronousTestCase, wire: Wire) -> tuple[ChildSa, ChildSa]:
    """Exactly one CHILD_SA on each side, and they are each other's."""
    left, right = _sa(wire.left), _sa(wire.right)
    (mine,) = left.children
    (theirs,) = right.children
    test.assertEqual(mine.state, ChildState.INSTALLED)
    test.assertEqual(theirs.state, ChildState.INSTALLED)
    test.assertEqual((mine.spiIn, mine.spiOut), (theirs.spiOut, theirs.spiIn))
    test.assertEqual(mine.outbound_keys(), theirs.inbound_keys())
    test.assertEqual(mine.inbound_keys(), theirs.outbound_keys())
    test.assertEqual(mine.localSelectors, theirs.remoteSelectors)
    test.assertEqual(mine.remoteSelectors, theirs.localSelectors)
    return mine, theirs


class ChildCollisionTests(SynchronousTestCase):
    """Both ends rekey the same CHILD_SA at once (section 2.8.1)."""

    def collide(self, leftNonce: int, rightNonces: tuple[int, int]) -> Wire:
        wire = _standard()
        # The right side makes its own request's nonce first, then the
        # one of its answer to the left's request.
        wire.left.engine.nonces = _nonces(leftNonce, leftNonce)
        wire.right.engine.nonces = _nonces(*rightNonces)
        (oldLeft,) = _sa(wire.left).live_children()
        (oldRight,) = _sa(wire.right).live_children()
        wire.handle(wire.left, wire.left.engine.rekey_child_sa(oldLeft, wire.now))
        wire.handle(wire.right, wire.right.engine.rekey_child_sa(oldRight, wire.now))
        wire.run()
        self.assertEqual(oldLeft.state, ChildState.DELETED)
        self.assertEqual(oldRight.state, ChildState.DELETED)
        for side in (wire.left, wire.right):
            # each answered the other's rekey, and its own was answered
            self.assertEqual(len(_of(side, ChildSaEstablished)), 3)
            self.assertEqual(_of(side, NegotiationFailed), [])
        return wire

    def test_we_win(self) -> None:
        """
        The lowest nonce is in the right side's exchange: the right side
        deletes the SA it made, the left one the old SA.
        """
        wire = self.collide(0xF0, (0x10, 0x20))
        mine, _ = _one_pair(self, wire)
        self.assertTrue(mine.initiator)
        self.assertEqual(mine.nonces[0][0], 0xF0)
        for side in (wire.left, wire.right):
            # the loser deletes its own SA, the winner sees it go
            reasons = {e.reason for e in _of(side, ChildSaDeleted)}
            self.assertEqual(reasons, {REDUNDANT, "rekeyed"})
        (redundant,) = [
            e.child for e in _of(wire.left, ChildSaDeleted) if e.reason == REDUNDANT
        ]
        self.assertFalse(redundant.initiator)  # the right side's

    def test_we_lose(self) -> None:
        """
        The lowest nonce is the right side's answer to ours: the left side
        deletes the SA it made and leaves the old one to the right side.
        """
        wire = self.collide(0xF0, (0x20, 0x10))
        mine, theirs = _one_pair(self, wire)
        self.assertFalse(mine.initiator)
        self.assertEqual(theirs.nonces[0][0], 0x20)
        reasons = {e.reason for e in _of(wire.left, ChildSaDeleted)}
        self.assertEqual(reasons, {REDUNDANT, "rekeyed"})
        # The loser sent one delete (its own redundant SA), not the old one.
        deletes = [
            d
            for d in wire.left.sent
            if IkeHeader.decode(d.message).exchange == ExchangeType.INFORMATIONAL
            and not IkeHeader.decode(d.message).isResponse
        ]
        self.assertEqual(len(deletes), 1)

    def test_seen_by_one_side(self) -> None:
        """
        The left side finishes its rekey before the right side's request
        reaches it: it answers TEMPORARY_FAILURE (it is deleting the old
        SA), and the right side keeps the left side's SA.
        """
        wire = _standard()
        (oldLeft,) = _sa(wire.left).live_children()
        (oldRight,) = _sa(wire.right).live_children()
        wire.handle(wire.left, wire.left.engine.rekey_child_sa(oldLeft, wire.now))
        wire.handle(wire.right, wire.right.engine.rekey_child_sa(oldRight, wire.now))
        late = wire.queue.pop(1)  # the right side's request, delayed
        _step(wire)  # the left request: the right side sees the collision
        _step(wire)  # its answer: the left side is done, deletes the old SA
        wire.queue.insert(0, late)
        wire.run()
        mine, _ = _one_pair(self, wire)
        self.assertTrue(mine.initiator)
        (refused,) = _of(wire.right, NegotiationFailed)
        self.assertIn("TEMPORARY_FAILURE", refused.reason)


class ChildDeleteCollisionTests(SynchronousTestCase):
    """A rekey that crosses a delete of the same CHILD_SA (section 2.25.1)."""

    def test_rekey_of_a_child_being_deleted(self) -> None:
        wire = _standard()
        (oldLeft,) = _sa(wire.left).live_children()
        (oldRight,) = _sa(wire.right).live_children()
        wire.handle(
            wire.left, wire.left.engine.delete_child_sa(oldLeft, "operator", wire.now)
        )
        wire.handle(wire.right, wire.right.engine.rekey_child_sa(oldRight, wire.now))
        wire.run()
        self.assertEqual(_sa(wire.left).children, [])
        self.assertEqual(_sa(wire.right).children, [])
        (refused,) = _of(wire.right, NegotiationFailed)
        self.assertIn("TEMPORARY_FAILURE", refused.reason)
        # the right side did not try again later
        wire.advance(3600)
        self.assertEqual(_sa(wire.right).children, [])

    def test_rekey_of_an_unknown_child(self) -> None:
        wire = _standard()
        (oldLeft,) = _sa(wire.left).live_children()
        (oldRight,) = _sa(wire.right).live_children()
        wire.handle(
            wire.left, wire.left.engine.delete_child_sa(oldLeft, "operator", wire.now)
        )
        wire.run()
        # a rekey of the deleted SA made up by hand: the right side's SA as
        # it was before the delete
        oldRight.state = ChildState.INSTALLED
        _sa(wire.right).children.append(oldRight)
        wire.handle(wire.right, wire.right.engine.rekey_child_sa(oldRight, wire.now))
        wire.run()
        (refused,) = _of(wire.right, NegotiationFailed)
        self.assertIn("CHILD_SA_NOT_FOUND", refused.reason)


class IkeCollisionTests(SynchronousTestCase):
    """Both ends rekey the IKE SA at once (section 2.8.2)."""

    def collide(self, leftNonce: int, rightNonces: tuple[int, int]) -> Wire:
        wire = _standard()
        wire.left.engine.nonces = _nonces(leftNonce, leftNonce)
        wire.right.engine.nonces = _nonces(*rightNonces)
        oldLeft, oldRight = _sa(wire.left), _sa(wire.right)
        (childLeft,) = oldLeft.children
        wire.handle(wire.left, wire.left.engine.rekey_ike_sa(oldLeft, wire.now))
        wire.handle(wire.right, wire.right.engine.rekey_ike_sa(oldRight, wire.now))
        wire.run()
        self.assertEqual(oldLeft.state, IkeState.DELETED)
        self.assertEqual(oldRight.state, IkeState.DELETED)
        left, right = _sa(wire.left), _sa(wire.right)
        self.assertEqual((left.spiI, left.spiR), (right.spiI, right.spiR))
        self.assertEqual(len(wire.left.engine.sas()), 1)
        self.assertEqual(len(wire.right.engine.sas()), 1)
        # the CHILD_SA moved, untouched, to the survivor
        self.assertEqual(left.children, [childLeft])
        self.assertIs(childLeft.ikeSa, left)
        _one_pair(self, wire)
        for side in (wire.left, wire.right):
            self.assertEqual(_of(side, ChildSaDeleted), [])
            (rekeyed,) = _of(side, IkeSaRekeyed)
            self.assertIs(rekeyed.new, _sa(side))
        # the survivor carries requests both ways
        wire.handle(wire.left, wire.left.engine.check_liveness(left, wire.now))
        wire.handle(wire.right, wire.right.engine.check_liveness(right, wire.now))
        wire.run()
        self.assertIsNone(left.outstanding)
        self.assertIsNone(right.outstanding)
        self.assertEqual(left.nextRequestId, right.nextExpectedId)
        return wire

    def test_we_win(self) -> None:
        wire = self.collide(0xF0, (0x10, 0x20))
        self.assertTrue(_sa(wire.left).originalInitiator)
        for side in (wire.left, wire.right):
            # the loser deletes its new IKE SA, the winner sees it go
            reasons = {e.reason for e in _of(side, IkeSaDeleted)}
            self.assertEqual(reasons, {REDUNDANT, "rekeyed"})

    def test_we_lose(self) -> None:
        wire = self.collide(0xF0, (0x20, 0x10))
        self.assertFalse(_sa(wire.left).originalInitiator)
        reasons = {e.reason for e in _of(wire.left, IkeSaDeleted)}
        self.assertEqual(reasons, {REDUNDANT, "rekeyed"})

    def test_seen_by_one_side(self) -> None:
        """
        The left side finishes first and answers the right side's late
        request TEMPORARY_FAILURE; the right side takes the left side's
        new IKE SA.
        """
        wire = _standard()
        oldLeft, oldRight = _sa(wire.left), _sa(wire.right)
        wire.handle(wire.left, wire.left.engine.rekey_ike_sa(oldLeft, wire.now))
        wire.handle(wire.right, wire.right.engine.rekey_ike_sa(oldRight, wire.now))
        late = wire.queue.pop(1)
        _step(wire)
        _step(wire)
        wire.queue.insert(0, late)
        wire.run()
        left, right = _sa(wire.left), _sa(wire.right)
        self.assertEqual((left.spiI, left.spiR), (right.spiI, right.spiR))
        self.assertTrue(left.originalInitiator)
        self.assertEqual(len(wire.right.engine.sas()), 1)
        _one_pair(self, wire)
        for side in (wire.left, wire.right):
            self.assertEqual(_of(side, ChildSaDeleted), [])

    def test_delete_before_our_rekey_is_answered(self) -> None:
        """
        The left side finishes without seeing the collision and its
        delete of the old IKE SA reaches the right side before the answer
        to the right side's rekey: the right side forgets its rekey and
        keeps the left side's new IKE SA, CHILD_SAs and all.
        """
        wire = _standard()
        oldLeft, oldRight = _sa(wire.left), _sa(wire.right)
        wire.handle(wire.left, wire.left.engine.rekey_ike_sa(oldLeft, wire.now))
        wire.handle(wire.right, wire.right.engine.rekey_ike_sa(oldRight, wire.now))
        late = wire.queue.pop(1)  # the right side's request, lost
        _step(wire)
        _step(wire)
        del late
        wire.run()
        left, right = _sa(wire.left), _sa(wire.right)
        self.assertEqual((left.spiI, left.spiR), (right.spiI, right.spiR))
        _one_pair(self, wire)
        self.assertEqual(_of(wire.right, ChildSaDeleted), [])


class RefreshTests(SynchronousTestCase):
    """Both roles refresh an SA before its lifetime ends, with jitter."""

    def test_refresh_after(self) -> None:
        self.assertEqual(refresh_after(1000, lambda: 0.0), 900)
        self.assertAlmostEqual(refresh_after(1000, lambda: 0.999999), 800, places=3)

    def test_lowest_nonce(self) -> None:
        # octet by octet; a prefix is the lower
        self.assertTrue(lowest_nonce_loses([b"\x01\xff"], [b"\x02"]))
        self.assertTrue(lowest_nonce_loses([b"\x05", b"\x01"], [b"\x01\x00"]))
        self.assertFalse(lowest_nonce_loses([b"\x01\x00"], [b"\x01"]))

    def test_both_roles_refresh_before_expiry(self) -> None:
        wire = _standard(lifetime=1000)
        for side in (wire.left, wire.right):
            sa = _sa(side)
            assert sa.rekeyAt is not None
            self.assertGreaterEqual(sa.rekeyAt, wire.now + 800)
            self.assertLessEqual(sa.rekeyAt, wire.now + 900)
            (child,) = sa.children
            assert child.rekeyAt is not None and child.policy is not None
            self.assertLessEqual(child.rekeyAt, wire.now + 0.9 * child.policy.lifetime)
        # The responder's SA is rekeyed (by whichever end comes first)
        # before its lifetime ends.
        responderSa = _sa(wire.right)
        wire.advance(950)
        self.assertEqual(responderSa.state, IkeState.DELETED)
        self.assertEqual(len(_of(wire.right, IkeSaRekeyed)), 1)

    def test_responder_refreshes(self) -> None:
        """The responder rekeys by itself when the initiator would not."""
        wire = _standard(lifetime=1000)
        _sa(wire.left).rekeyAt = None
        wire.advance(950)
        (rekeyed,) = _of(wire.right, IkeSaRekeyed)
        self.assertTrue(rekeyed.new.originalInitiator)
        self.assertTrue(any(s.state == IkeState.ESTABLISHED for s in [_sa(wire.right)]))


class InterleavingTests(SynchronousTestCase):
    """
    Whatever order the network delivers the two crossing rekeys' messages
    in (and whichever it loses, to be retransmitted), exactly one SA pair
    remains.
    """

    losses = 0

    def deliver_in(self, wire: Wire, data: st.DataObject) -> None:
        for _ in range(60):
            if not wire.queue:
                return
            index = data.draw(st.integers(0, len(wire.queue) - 1))
            sender, datagram = wire.queue.pop(index)
            if self.losses < 2 and data.draw(st.booleans()):
                self.losses += 1
                continue  # lost, to be retransmitted
            receiver = wire.other(sender)
            wire.handle(
                receiver,
                receiver.engine.receive(
                    datagram.message, datagram.remote, datagram.local, wire.now
                ),
            )
        raise AssertionError("the engines never went quiet")

    def settle(
        self,
        wire: Wire,
        data: st.DataObject,
        left: Callable[[], list[Any]],
        right: Callable[[], list[Any]],
    ) -> None:
        """
        Start both rekeys (C{left}, C{right}), deliver in the drawn order,
        losing at most two messages, then let retransmissions finish.
        """
        self.losses = 0
        # the nonces, which decide who wins, drawn as well
        draw = random.Random(data.draw(st.integers(0, 2**32))).randbytes
        for side in (wire.left, wire.right):
            side.engine.nonces = draw
            side.engine.jitter = lambda: 0.5
        wire.handle(wire.left, left())
        wire.handle(wire.right, right())
        self.deliver_in(wire, data)
        for _ in range(40):
            wire.advance(5)
            self.deliver_in(wire, data)

    @settings(max_examples=100, deadline=None, database=None)
    @given(st.data())
    def test_child_rekeys(self, data: st.DataObject) -> None:
        wire = _standard()
        (oldLeft,) = _sa(wire.left).live_children()
        (oldRight,) = _sa(wire.right).live_children()
        self.settle(
            wire,
            data,
            lambda: wire.left.engine.rekey_child_sa(oldLeft, wire.now),
            lambda: wire.right.engine.rekey_child_sa(oldRight, wire.now),
        )
        _one_pair(self, wire)

    @settings(max_examples=100, deadline=None, database=None)
    @given(st.data())
    def test_ike_rekeys(self, data: st.DataObject) -> None:
        wire = _standard()
        oldLeft, oldRight = _sa(wire.left), _sa(wire.right)
        self.settle(
            wire,
            data,
            lambda: wire.left.engine.rekey_ike_sa(oldLeft, wire.now),
            lambda: wire.right.engine.rekey_ike_sa(oldRight, wire.now),
        )
        left, right = _sa(wire.left), _sa(wire.right)
        self.assertEqual((left.spiI, left.spiR), (right.spiI, right.spiR))
        self.assertEqual(len(wire.left.engine.sas()), 1)
        self.assertEqual(len(wire.right.engine.sas()), 1)
        _one_pair(self, wire)

    @settings(max_examples=100, deadline=None, database=None)
    @given(st.data())
    def test_child_rekey_crosses_a_delete(self, data: st.DataObject) -> None:
        """The delete wins: no CHILD_SA remains on either side."""
        wire = _standard()
        (oldLeft,) = _sa(wire.left).live_children()
        (oldRight,) = _sa(wire.right).live_children()
        self.settle(
            wire,
            data,
            lambda: wire.left.engine.rekey_child_sa(oldLeft, wire.now),
            lambda: wire.right.engine.delete_child_sa(oldRight, "operator", wire.now),
        )
        self.assertEqual(_sa(wire.left).children, [])
        self.assertEqual(_sa(wire.right).children, [])

    @settings(max_examples=100, deadline=None, database=None)
    @given(st.data())
    def test_ike_rekey_crosses_a_delete(self, data: st.DataObject) -> None:
        """The delete wins: no IKE SA remains on either side."""
        wire = _standard()
        oldLeft, oldRight = _sa(wire.left), _sa(wire.right)
        self.settle(
            wire,
            data,
            lambda: wire.left.engine.rekey_ike_sa(oldLeft, wire.now),
            lambda: wire.right.engine.delete_ike_sa(oldRight, "operator", wire.now),
        )
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertEqual(wire.right.engine.sas(), [])
