"""
Two IKE engines against each other, with no sockets: every exchange, the
message-ID rules, and the bad input an engine must survive.
"""

from __future__ import annotations

import dataclasses
import struct
import types
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import (
    DhGroupId,
    EncrId,
    ExchangeType,
    IntegId,
    NotifyType,
    PrfId,
)
from nsstwisted.ike.engine import EngineSettings, IkeEngine
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaRekeyed,
    MessageDropped,
    NegotiationFailed,
    PeerCheckNeeded,
    SendDatagram,
)
from nsstwisted.ike.interfaces import Signed
from nsstwisted.ike.localauth import LocalCredentials
from nsstwisted.ike.message import (
    IkeHeader,
    IkeMessage,
    decode_message,
    encode_encrypted,
)
from nsstwisted.ike.payloads import (
    AuthPayload,
    NotifyPayload,
    UnknownPayload,
    find_notify,
)
from nsstwisted.ike.policy import AuthKind, EspProposal, IkeProposal, PeerEku
from nsstwisted.ike.sa import ChildState, IkeSa, IkeState

from .ikepeers import (
    ACCEPTED,
    GCM_ECP256,
    LEFT,
    REFUSED,
    TLS_ONLY,
    Side,
    Wire,
    address_range,
    answer_ranges,
    child_policy,
    leaf,
    offer_ranges,
    pair,
    pki,
    profile_leaf,
)
from .pkichains import malformed

RIGHT_CHILD = child_policy(local="10.1.0.0/24", remote="10.2.0.0/24")
LEFT_CHILD = child_policy()


def _of(side: Side, kind: type[Any]) -> list[Any]:
    return [e for e in side.events if isinstance(e, kind)]


def _sa(side: Side) -> IkeSa:
    (sa,) = [sa for sa in side.engine.sas() if sa.state == IkeState.ESTABLISHED]
    return sa


def _connected(wire: Wire, child: bool = True) -> Wire:
    wire.handle(
        wire.left,
        wire.left.engine.initiate("to-right", "host-host" if child else None, wire.now),
    )
    wire.run()
    return wire


def _standard(**kw: Any) -> Wire:
    return _connected(
        pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,), **kw)
    )


class EstablishTests(SynchronousTestCase):
    def assertChildrenAgree(self, wire: Wire) -> None:
        (left,) = _sa(wire.left).live_children()
        (right,) = _sa(wire.right).live_children()
        self.assertEqual(left.spiIn, right.spiOut)
        self.assertEqual(left.spiOut, right.spiIn)
        self.assertEqual(left.outbound_keys(), right.inbound_keys())
        self.assertEqual(left.inbound_keys(), right.outbound_keys())
        self.assertEqual(left.state, ChildState.INSTALLED)

    def test_rsa_certificates(self) -> None:
        """IKE_SA_INIT + IKE_AUTH with RSA certificates and RFC 7427."""
        wire = _standard()
        for side in (wire.left, wire.right):
            self.assertEqual(len(_of(side, IkeSaEstablished)), 1, side.events)
            self.assertEqual(len(_of(side, ChildSaEstablished)), 1)
            self.assertEqual(side.signatures, 1)
        self.assertChildrenAgree(wire)
        left = _sa(wire.left)
        self.assertEqual(left.authMethod, 14)
        self.assertEqual(left.nextRequestId, 2)
        self.assertEqual(_sa(wire.right).nextExpectedId, 2)
        (child,) = left.live_children()
        self.assertEqual(str(child.localSelectors[0].start), "10.2.0.0")
        self.assertEqual(child.suite.encrId, EncrId.AES_GCM_16)  # type: ignore[union-attr]

    def test_ecdsa_certificates(self) -> None:
        wire = _standard(leftKey="p256", rightKey="p384")
        self.assertChildrenAgree(wire)
        self.assertEqual(_sa(wire.left).authMethod, 14)

    def test_preshared_key(self) -> None:
        wire = _standard(auth=AuthKind.PRESHARED_KEY, sharedKeys=(b"s3cret", b"s3cret"))
        self.assertChildrenAgree(wire)
        self.assertEqual(_sa(wire.left).authMethod, 2)
        self.assertEqual(wire.left.signatures, 0)

    def test_wrong_preshared_key(self) -> None:
        wire = _standard(auth=AuthKind.PRESHARED_KEY, sharedKeys=(b"s3cret", b"other"))
        self.assertEqual(wire.right.engine.sas(), [])
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertIn("shared key", str(_of(wire.right, NegotiationFailed)[0].reason))
        self.assertIn(
            "AUTHENTICATION_FAILED", _of(wire.left, NegotiationFailed)[0].reason
        )

    def test_childless(self) -> None:
        wire = _connected(pair(), child=False)
        self.assertEqual(_sa(wire.left).live_children(), [])
        self.assertEqual(_sa(wire.right).live_children(), [])

    def test_cookie(self) -> None:
        """A responder under load asks for a COOKIE; the initiator follows."""
        wire = pair(
            leftChildren=(LEFT_CHILD,),
            rightChildren=(RIGHT_CHILD,),
            settings=EngineSettings(cookieThreshold=0),
        )
        _connected(wire)
        self.assertChildrenAgree(wire)
        requests = [
            decode_message(d.message)[1]
            for d in wire.left.sent
            if IkeHeader.decode(d.message).exchange == ExchangeType.IKE_SA_INIT
        ]
        self.assertEqual(len(requests), 2)
        first = requests[1][0]
        assert isinstance(first, NotifyPayload)
        self.assertEqual(first.notifyType, NotifyType.COOKIE)

    def test_invalid_ke(self) -> None:
        """The responder wants another DH group: INVALID_KE_PAYLOAD and a retry."""
        wire = _standard(rightProposals=(GCM_ECP256,))
        self.assertChildrenAgree(wire)
        self.assertEqual(_sa(wire.left).suite.dhId, DhGroupId.ECP_256)  # type: ignore[union-attr]
        inits = [
            d
            for d in wire.left.sent
            if IkeHeader.decode(d.message).exchange == ExchangeType.IKE_SA_INIT
        ]
        self.assertEqual(len(inits), 2)

    def test_no_proposal(self) -> None:
        other = IkeProposal(
            EncrId.AES_CBC,
            256,
            IntegId.HMAC_SHA2_512_256,
            PrfId.HMAC_SHA2_512,
            DhGroupId.MODP_2048,
        )
        wire = _standard(rightProposals=(other,))
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertIn("NO_PROPOSAL_CHOSEN", _of(wire.left, NegotiationFailed)[0].reason)

    def test_modp_groups(self) -> None:
        modp = IkeProposal(
            EncrId.AES_CBC,
            256,
            IntegId.HMAC_SHA2_384_192,
            PrfId.HMAC_SHA2_384,
            DhGroupId.MODP_2048,
        )
        wire = _standard(leftProposals=(modp,), rightProposals=(modp,))
        self.assertChildrenAgree(wire)

    def test_child_refused_keeps_ike_sa(self) -> None:
        """TS_UNACCEPTABLE fails the CHILD_SA, not the IKE SA."""
        wire = _connected(
            pair(
                leftChildren=(LEFT_CHILD,),
                rightChildren=(
                    child_policy(local="10.9.0.0/24", remote="10.8.0.0/24"),
                ),
            )
        )
        self.assertEqual(_sa(wire.left).live_children(), [])
        self.assertEqual(_sa(wire.right).state, IkeState.ESTABLISHED)
        self.assertIn("TS_UNACCEPTABLE", _of(wire.left, NegotiationFailed)[0].reason)

    def test_narrowing(self) -> None:
        """The responder narrows a wide offer to its own selectors."""
        wire = _connected(
            pair(
                leftChildren=(child_policy(local="10.2.0.0/16", remote="10.1.0.0/16"),),
                rightChildren=(RIGHT_CHILD,),
            )
        )
        (child,) = _sa(wire.left).live_children()
        self.assertEqual(str(child.localSelectors[0].end), "10.2.0.255")
        self.assertEqual(str(child.remoteSelectors[0].start), "10.1.0.0")

    def test_nat_and_keepalives(self) -> None:
        """
        A NAT between them rewrites the initiator's source port: both
        detect it, and the one behind the NAT sends keepalives.
        """
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        original = wire.run

        def natted(limit: int = 100) -> None:
            wire.queue = [
                (s, SendDatagram(d.message, ("127.0.0.1", 6000), d.remote))
                if s is wire.left
                else (s, d)
                for s, d in wire.queue
            ]
            while wire.queue:
                wire.queue = [
                    (s, SendDatagram(d.message, ("127.0.0.1", 6000), d.remote))
                    if s is wire.left
                    else (s, d)
                    for s, d in wire.queue
                ]
                sender, datagram = wire.queue.pop(0)
                receiver = wire.other(sender)
                wire.handle(
                    receiver,
                    receiver.engine.receive(
                        datagram.message, datagram.remote, datagram.local, wire.now
                    ),
                )

        wire.run = natted  # type: ignore[method-assign]
        _connected(wire)
        wire.run = original  # type: ignore[method-assign]
        self.assertTrue(_sa(wire.right).remoteNat)
        self.assertFalse(_sa(wire.right).localNat)
        self.assertTrue(_sa(wire.left).localNat)
        self.assertEqual(_sa(wire.right).remote, ("127.0.0.1", 6000))
        wire.advance(21)
        keepalives = [d for d in wire.left.sent if d.raw]
        self.assertEqual([k.message for k in keepalives], [b"\xff"])


class RetransmissionTests(SynchronousTestCase):
    def test_lost_response_is_retransmitted(self) -> None:
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        lost: list[bytes] = []

        def drop_first_right(sender: Side, data: bytes) -> bytes | None:
            if sender is wire.right and not lost:
                lost.append(data)
                return None
            return data

        wire.tamper = drop_first_right
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        wire.run()
        self.assertEqual(wire.left.engine.sas()[0].state, IkeState.CONNECTING)
        wire.advance(4)
        self.assertEqual(_sa(wire.left).state, IkeState.ESTABLISHED)

    def test_duplicate_request_while_signing(self) -> None:
        """
        A retransmitted IKE_AUTH that arrives while our signature is pending
        is dropped: one signature, one answer.
        """
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        wire.right.hold = True
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        wire.run()
        (check,) = wire.right.held
        wire.right.held.clear()
        wire.answer(wire.right, check)  # the peer check; the signature is held
        self.assertEqual(len(wire.right.held), 1)
        wire.advance(4.5)  # the initiator retransmits IKE_AUTH
        drops = [
            e
            for e in _of(wire.right, MessageDropped)
            if "still being processed" in e.reason
        ]
        self.assertEqual(len(drops), 1)
        wire.release(wire.right)
        wire.run()
        self.assertEqual(wire.right.signatures, 1)
        self.assertEqual(_sa(wire.left).state, IkeState.ESTABLISHED)

    def test_cached_response(self) -> None:
        """A duplicate of an answered request gets the same answer again."""
        wire = _standard()
        sent = len(wire.right.sent)
        sa = _sa(wire.left)
        wire.handle(wire.left, wire.left.engine.check_liveness(sa, wire.now))
        request = wire.queue[-1][1].message
        wire.run()
        replies = wire.right.sent[sent:]
        self.assertEqual(len(replies), 1)
        wire.handle(
            wire.right,
            wire.right.engine.receive(request, ("127.0.0.1", 4600), LEFT, wire.now),
        )
        self.assertEqual(wire.right.sent[-1].message, replies[0].message)
        wire.queue.clear()

    def test_peer_not_responding(self) -> None:
        wire = _standard()
        wire.tamper = lambda sender, data: None
        sa = _sa(wire.left)
        wire.handle(wire.left, wire.left.engine.check_liveness(sa, wire.now))
        wire.run()
        wire.advance(200)
        (deleted,) = _of(wire.left, IkeSaDeleted)
        self.assertEqual(deleted.reason, "peer not responding")
        self.assertEqual(len(_of(wire.left, ChildSaDeleted)), 1)
        # 1 + 5 retransmissions
        liveness = [
            d
            for d in wire.left.sent
            if IkeHeader.decode(d.message).exchange == ExchangeType.INFORMATIONAL
        ]
        self.assertEqual(len(liveness), 6)


class CreateChildTests(SynchronousTestCase):
    def test_new_child(self) -> None:
        second = child_policy("second", local="10.4.0.0/24", remote="10.3.0.0/24")
        wire = _connected(
            pair(
                leftChildren=(LEFT_CHILD, second),
                rightChildren=(
                    RIGHT_CHILD,
                    child_policy("second", local="10.3.0.0/24", remote="10.4.0.0/24"),
                ),
            )
        )
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "second", wire.now)
        )
        wire.run()
        self.assertEqual(len(_sa(wire.left).live_children()), 2)
        self.assertEqual(len(_sa(wire.right).live_children()), 2)

    def _rekey_child(self, rekeyer: str) -> None:
        wire = _standard()
        side = getattr(wire, rekeyer)
        other = wire.other(side)
        (old,) = _sa(side).live_children()
        wire.handle(side, side.engine.rekey_child_sa(old, wire.now))
        wire.run()
        (new,) = _sa(side).live_children()
        (peerNew,) = _sa(other).live_children()
        self.assertNotEqual(new.spiIn, old.spiIn)
        self.assertEqual(new.spiIn, peerNew.spiOut)
        self.assertEqual(new.outbound_keys(), peerNew.inbound_keys())
        self.assertEqual(old.state, ChildState.DELETED)
        for s in (side, other):
            (deleted,) = _of(s, ChildSaDeleted)
            self.assertEqual(deleted.reason, "rekeyed")
            self.assertIsNotNone(_of(s, ChildSaEstablished)[-1].replaces)

    def test_rekey_child_by_initiator(self) -> None:
        self._rekey_child("left")

    def test_rekey_child_by_responder(self) -> None:
        self._rekey_child("right")

    def test_rekey_child_with_pfs(self) -> None:
        pfs = EspProposal(EncrId.AES_GCM_16, 128, IntegId.NONE, DhGroupId.ECP_256)
        wire = _standard()
        # both policies ask for PFS from now on
        for side in (wire.left, wire.right):
            for child in _sa(side).live_children():
                object.__setattr__(child.policy, "proposals", (pfs,))
        (old,) = _sa(wire.left).live_children()
        wire.handle(wire.left, wire.left.engine.rekey_child_sa(old, wire.now))
        wire.run()
        (new,) = _sa(wire.left).live_children()
        self.assertEqual(new.dhGroup, DhGroupId.ECP_256)
        (peer,) = _sa(wire.right).live_children()
        self.assertEqual(new.outbound_keys(), peer.inbound_keys())

    def test_child_invalid_ke_retry(self) -> None:
        """
        CREATE_CHILD_SA with a KE of a group the responder does not want:
        INVALID_KE_PAYLOAD, and one retry with the group it names.
        """
        ours = (
            EspProposal(EncrId.AES_GCM_16, 128, IntegId.NONE, DhGroupId.ECP_256),
            EspProposal(EncrId.AES_GCM_16, 128, IntegId.NONE, DhGroupId.CURVE_25519),
        )
        theirs = (ours[1],)
        wire = _standard()
        for side, proposals in ((wire.left, ours), (wire.right, theirs)):
            for child in _sa(side).live_children():
                object.__setattr__(child.policy, "proposals", proposals)
        (old,) = _sa(wire.left).live_children()
        wire.handle(wire.left, wire.left.engine.rekey_child_sa(old, wire.now))
        wire.run()
        (new,) = _sa(wire.left).live_children()
        self.assertEqual(new.dhGroup, DhGroupId.CURVE_25519)
        (peer,) = _sa(wire.right).live_children()
        self.assertEqual(new.outbound_keys(), peer.inbound_keys())
        creates = [
            d
            for d in wire.left.sent
            if IkeHeader.decode(d.message).exchange == ExchangeType.CREATE_CHILD_SA
        ]
        self.assertEqual(len(creates), 2)

    def _rekey_ike(self, rekeyer: str) -> None:
        wire = _standard()
        side = getattr(wire, rekeyer)
        other = wire.other(side)
        old = _sa(side)
        oldPeer = _sa(other)
        wire.handle(side, side.engine.rekey_ike_sa(old, wire.now))
        wire.run()
        new = _sa(side)
        newPeer = _sa(other)
        self.assertIsNot(new, old)
        self.assertEqual((new.spiI, new.spiR), (newPeer.spiI, newPeer.spiR))
        self.assertTrue(new.originalInitiator)
        self.assertEqual(old.state, IkeState.DELETED)
        self.assertEqual(oldPeer.state, IkeState.DELETED)
        self.assertEqual(len(new.live_children()), 1)
        self.assertIs(new.live_children()[0].ikeSa, new)
        for s in (side, other):
            self.assertEqual(len(_of(s, IkeSaRekeyed)), 1)
            self.assertEqual(_of(s, ChildSaDeleted), [])
        # the new SA works, message IDs from 0
        self.assertEqual(new.nextRequestId, 0)
        wire.handle(side, side.engine.check_liveness(new, wire.now))
        wire.run()
        self.assertEqual(new.nextRequestId, 1)
        self.assertEqual(newPeer.nextExpectedId, 1)
        # and so does a CHILD_SA rekey over it
        (child,) = new.live_children()
        wire.handle(
            other, other.engine.rekey_child_sa(newPeer.live_children()[0], wire.now)
        )
        wire.run()
        self.assertEqual(len(_sa(side).live_children()), 1)
        self.assertNotEqual(_sa(side).live_children()[0].spiIn, child.spiIn)

    def test_rekey_ike_by_initiator(self) -> None:
        self._rekey_ike("left")

    def test_rekey_ike_by_responder(self) -> None:
        self._rekey_ike("right")

    def test_lifetimes_rekey(self) -> None:
        wire = _standard()
        for child in _sa(wire.left).live_children():
            child.rekeyAt = wire.now + 10
        (before,) = _sa(wire.left).live_children()
        wire.advance(11)
        (after,) = _sa(wire.left).live_children()
        self.assertNotEqual(before.spiIn, after.spiIn)
        old = _sa(wire.left)
        old.rekeyAt = wire.now + 10
        wire.advance(11)
        self.assertIsNot(_sa(wire.left), old)


def _hosts(count: int, prefix: str = "10.2.0.") -> tuple[Any, ...]:
    """C{count} single-address selectors, each inside C{prefix}0/24."""
    return tuple(
        address_range(f"{prefix}{n}", f"{prefix}{n}") for n in range(1, count + 1)
    )


class HostileSelectorTests(SynchronousTestCase):
    """
    Peers that propose or answer traffic selectors no kernel could be
    given as a bounded set of policies (see L{MAX_PREFIX_PAIRS}): the
    CHILD_SA is refused with TS_UNACCEPTABLE and the IKE SA stays.
    """

    def test_range_is_narrowed_whole(self) -> None:
        """
        A range that is no prefix, inside our selector, is agreed as it
        is, neither widened nor cut to its first prefix.
        """
        offered = address_range("10.2.0.1", "10.2.0.254")
        offer_ranges(self.patch, {"10.2.0.0/24": (offered,)})
        wire = _standard()
        (child,) = _sa(wire.right).live_children()
        self.assertEqual(child.remoteSelectors, (offered,))

    def test_wide_ranges_refused(self) -> None:
        """
        An initiator offering nearly all of IPv4 as a range on both sides,
        to a responder whose rule is 0.0.0.0/0 on both: 62 prefixes each,
        3,844 pairs.  The responder refuses the CHILD_SA.
        """
        wide = address_range("0.0.0.1", "255.255.255.254")
        offer_ranges(self.patch, {"0.0.0.0/0": (wide,)})
        everything = child_policy(local="0.0.0.0/0", remote="0.0.0.0/0")
        wire = _connected(pair(leftChildren=(everything,), rightChildren=(everything,)))
        self.assertEqual(_sa(wire.right).live_children(), [])
        self.assertEqual(_sa(wire.left).live_children(), [])
        self.assertEqual(_sa(wire.right).state, IkeState.ESTABLISHED)
        self.assertIn("TS_UNACCEPTABLE", _of(wire.left, NegotiationFailed)[0].reason)
        (refusal,) = _of(wire.right, NegotiationFailed)
        self.assertIn("more than 64 pairs", refusal.reason)
        self.assertEqual(_of(wire.right, ChildSaEstablished), [])

    def test_many_selectors_refused(self) -> None:
        """
        The bound counts every selector of a list, not only ranges: 65
        single addresses against our one subnet are 65 pairs.
        """
        offer_ranges(self.patch, {"10.2.0.0/24": _hosts(65)})
        wire = _standard()
        self.assertEqual(_sa(wire.right).live_children(), [])
        self.assertIn("TS_UNACCEPTABLE", _of(wire.left, NegotiationFailed)[0].reason)

    def test_limit_is_allowed(self) -> None:
        """64 pairs are still one CHILD_SA."""
        offer_ranges(self.patch, {"10.2.0.0/24": _hosts(64)})
        wire = _standard()
        (child,) = _sa(wire.right).live_children()
        self.assertEqual(len(child.remoteSelectors), 64)

    def test_many_answered_selectors_refused(self) -> None:
        """
        A responder answers with 65 selectors, each inside what we offered
        (so each passes the check that it is no wider): we refuse the
        CHILD_SA and delete it, keeping the IKE SA.
        """
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        answer_ranges(self.patch, wire.right.engine, {"host-host": _hosts(65)})
        _connected(wire)
        self.assertEqual(_of(wire.left, ChildSaEstablished), [])
        self.assertEqual(_sa(wire.left).live_children(), [])
        self.assertEqual(_sa(wire.right).live_children(), [])
        (failure,) = _of(wire.left, NegotiationFailed)
        self.assertIn("more than 64 pairs", failure.reason)
        self.assertEqual(_sa(wire.left).state, IkeState.ESTABLISHED)

    def test_many_answered_selectors_refused_in_create_child_sa(self) -> None:
        """The same answer to CREATE_CHILD_SA is refused the same way."""
        second = child_policy("second", local="10.4.0.0/24", remote="10.3.0.0/24")
        wire = pair(
            leftChildren=(LEFT_CHILD, second),
            rightChildren=(
                RIGHT_CHILD,
                child_policy("second", local="10.3.0.0/24", remote="10.4.0.0/24"),
            ),
        )
        answer_ranges(self.patch, wire.right.engine, {"second": _hosts(65, "10.4.0.")})
        _connected(wire)
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "second", wire.now)
        )
        wire.run()
        (left,) = _sa(wire.left).live_children()
        (right,) = _sa(wire.right).live_children()
        self.assertEqual(left.name, "host-host")
        self.assertEqual(right.name, "host-host")
        (failure,) = _of(wire.left, NegotiationFailed)
        self.assertIn("more than 64 pairs", failure.reason)


class DeleteTests(SynchronousTestCase):
    def _delete_child(self, deleter: str) -> None:
        wire = _standard()
        side = getattr(wire, deleter)
        (child,) = _sa(side).live_children()
        wire.handle(side, side.engine.delete_child_sa(child, "operator", wire.now))
        wire.run()
        self.assertEqual(_sa(wire.left).live_children(), [])
        self.assertEqual(_sa(wire.right).live_children(), [])
        self.assertEqual(_of(side, ChildSaDeleted)[0].reason, "operator")
        self.assertEqual(
            _of(wire.other(side), ChildSaDeleted)[0].reason, "deleted by the peer"
        )

    def test_delete_child_by_initiator(self) -> None:
        self._delete_child("left")

    def test_delete_child_by_responder(self) -> None:
        self._delete_child("right")

    def _delete_ike(self, deleter: str) -> None:
        wire = _standard()
        side = getattr(wire, deleter)
        wire.handle(side, side.engine.delete_ike_sa(_sa(side), "operator", wire.now))
        wire.run()
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertEqual(wire.right.engine.sas(), [])
        self.assertEqual(_of(side, IkeSaDeleted)[0].reason, "operator")
        self.assertEqual(
            _of(wire.other(side), IkeSaDeleted)[0].reason, "deleted by the peer"
        )
        self.assertEqual(len(_of(wire.other(side), ChildSaDeleted)), 1)

    def test_delete_ike_by_initiator(self) -> None:
        self._delete_ike("left")

    def test_delete_ike_by_responder(self) -> None:
        self._delete_ike("right")

    def test_liveness(self) -> None:
        wire = _standard()
        wire.handle(
            wire.right, wire.right.engine.check_liveness(_sa(wire.right), wire.now)
        )
        wire.run()
        self.assertEqual(_sa(wire.right).nextRequestId, 1)
        self.assertIsNone(_sa(wire.right).outstanding)


def _inject(
    wire: Wire,
    sender: Side,
    payloads: list[Any],
    exchange: int = ExchangeType.INFORMATIONAL,
    messageId: int | None = None,
    response: bool = False,
) -> list[Any]:
    """Send a hand-made protected message from C{sender}'s SA."""
    sa = _sa(sender)
    message = IkeMessage(
        sa.spiI,
        sa.spiR,
        exchange,
        sa.nextRequestId if messageId is None else messageId,
        response,
        sa.originalInitiator,
        tuple(payloads),
    )
    data = encode_encrypted(message, sa.sendProtector)  # type: ignore[arg-type]
    receiver = wire.other(sender)
    return receiver.engine.receive(data, receiver.endpoint, sender.endpoint, wire.now)


class BadInputTests(SynchronousTestCase):
    def assertDropped(self, actions: list[Any], reason: str) -> None:
        drops = [a for a in actions if isinstance(a, MessageDropped)]
        self.assertTrue(drops, actions)
        self.assertIn(reason, drops[0].reason)
        self.assertFalse([a for a in actions if isinstance(a, SendDatagram)])

    def test_truncated_and_bad_length(self) -> None:
        wire = _standard()
        engine = wire.right.engine
        request = wire.left.sent[0].message
        self.assertDropped(
            engine.receive(request[:20], ("127.0.0.1", 4600), LEFT, wire.now),
            "malformed",
        )
        longer = request[:24] + struct.pack("!I", len(request) + 5) + request[28:]
        self.assertDropped(
            engine.receive(longer, ("127.0.0.1", 4600), LEFT, wire.now), "malformed"
        )
        self.assertEqual(_sa(wire.right).state, IkeState.ESTABLISHED)

    def test_truncated_payload_in_init(self) -> None:
        """A malformed IKE_SA_INIT gets INVALID_SYNTAX, and no state."""
        wire = pair()
        engine = wire.right.engine
        wire.handle(wire.left, wire.left.engine.initiate("to-right", None, wire.now))
        request = wire.queue.pop()[1].message
        broken = request[:-3]
        broken = broken[:24] + struct.pack("!I", len(broken)) + broken[28:]
        actions = engine.receive(broken, ("127.0.0.1", 4600), LEFT, wire.now)
        (reply,) = [a for a in actions if isinstance(a, SendDatagram)]
        _, payloads = decode_message(reply.message)
        self.assertEqual(payloads[0].notifyType, NotifyType.INVALID_SYNTAX)  # type: ignore[union-attr]
        self.assertEqual(engine.sas(), [])

    def test_unknown_critical_payload(self) -> None:
        wire = _standard()
        actions = _inject(wire, wire.left, [UnknownPayload(200, True, b"x")])
        (reply,) = [a for a in actions if isinstance(a, SendDatagram)]
        payloads = _open_reply(wire.left, reply.message)
        notify = find_notify(payloads, NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD)
        self.assertIsNotNone(notify)
        self.assertEqual(notify.data, bytes([200]))  # type: ignore[union-attr]
        self.assertEqual(_sa(wire.right).state, IkeState.ESTABLISHED)

    def test_unknown_noncritical_payload_is_skipped(self) -> None:
        wire = _standard()
        actions = _inject(wire, wire.left, [UnknownPayload(200, False, b"x")])
        (reply,) = [a for a in actions if isinstance(a, SendDatagram)]
        self.assertEqual(_open_reply(wire.left, reply.message), [])

    def test_unexpected_exchange(self) -> None:
        """A second IKE_AUTH on an established SA: INVALID_SYNTAX."""
        wire = _standard()
        actions = _inject(
            wire, wire.left, [AuthPayload(2, b"x" * 32)], exchange=ExchangeType.IKE_AUTH
        )
        (reply,) = [a for a in actions if isinstance(a, SendDatagram)]
        payloads = _open_reply(wire.left, reply.message)
        self.assertIsNotNone(find_notify(payloads, NotifyType.INVALID_SYNTAX))
        self.assertEqual(_sa(wire.right).state, IkeState.ESTABLISHED)

    def test_wrong_message_id(self) -> None:
        wire = _standard()
        actions = _inject(wire, wire.left, [], messageId=7)
        self.assertDropped(actions, "unexpected message ID 7")
        actions = _inject(wire, wire.left, [], messageId=0)
        self.assertDropped(actions, "unexpected message ID 0")
        # and a response to nothing
        self.assertDropped(
            _inject(wire, wire.left, [], messageId=2, response=True), "no request"
        )

    def test_bad_icv(self) -> None:
        wire = _standard()
        sa = _sa(wire.left)
        message = IkeMessage(
            sa.spiI,
            sa.spiR,
            ExchangeType.INFORMATIONAL,
            sa.nextRequestId,
            False,
            True,
            (),
        )
        data = bytearray(encode_encrypted(message, sa.sendProtector))  # type: ignore[arg-type]
        data[-1] ^= 1
        actions = wire.right.engine.receive(
            bytes(data), ("127.0.0.1", 4600), LEFT, wire.now
        )
        self.assertDropped(actions, "bad ICV")
        self.assertEqual(_sa(wire.right).nextExpectedId, 2)

    def test_unknown_spi(self) -> None:
        wire = _standard()
        sa = _sa(wire.left)
        message = IkeMessage(
            sa.spiI, b"\x01" * 8, ExchangeType.INFORMATIONAL, 2, False, True, ()
        )
        data = encode_encrypted(message, sa.sendProtector)  # type: ignore[arg-type]
        actions = wire.right.engine.receive(data, ("127.0.0.1", 4600), LEFT, wire.now)
        drops = [a for a in actions if isinstance(a, MessageDropped)]
        self.assertIn("no IKE SA", drops[0].reason)
        # RFC 7296 section 2.21.4: an unprotected INVALID_IKE_SPI answer,
        # with the request's SPIs and message ID.
        (answer,) = [a for a in actions if isinstance(a, SendDatagram)]
        header, payloads = decode_message(answer.message)
        self.assertEqual((header.spiI, header.spiR), (sa.spiI, b"\x01" * 8))
        self.assertEqual(header.messageId, 2)
        self.assertTrue(header.isResponse)
        self.assertFalse(header.isInitiator)
        self.assertIsNotNone(find_notify(payloads, NotifyType.INVALID_IKE_SPI))
        # at most one a second per source: no reflector for spoofed floods
        self.assertDropped(
            wire.right.engine.receive(data, ("127.0.0.1", 4600), LEFT, wire.now),
            "no IKE SA",
        )
        again = wire.right.engine.receive(data, ("127.0.0.1", 4600), LEFT, wire.now + 1)
        self.assertEqual(len([a for a in again if isinstance(a, SendDatagram)]), 1)
        # a response for an unknown SPI is never answered
        response = dataclasses.replace(message, isResponse=True)
        self.assertDropped(
            wire.right.engine.receive(
                encode_encrypted(response, sa.sendProtector),  # type: ignore[arg-type]
                ("127.0.0.1", 4600),
                LEFT,
                wire.now + 5,
            ),
            "no IKE SA",
        )

    def test_bad_auth(self) -> None:
        """A signature made with the wrong key: AUTHENTICATION_FAILED."""
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        from nsstwisted.ike.localauth import LocalCredentials

        from .ikepeers import leaf

        certificate, _ = leaf("left.iked.test")
        _, otherKey = leaf("impostor.iked.test")
        wire.left.credentials = LocalCredentials(certificate, otherKey)
        _connected(wire)
        self.assertEqual(wire.right.engine.sas(), [])
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertIn(
            "AUTHENTICATION_FAILED", _of(wire.left, NegotiationFailed)[-1].reason
        )

    def test_certificate_not_matching_id(self) -> None:
        wire = pair(
            leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,), rightRemoteId=None
        )
        from nsstwisted.ike.localauth import LocalCredentials

        from .ikepeers import leaf

        certificate, key = leaf("other.iked.test")
        wire.left.credentials = LocalCredentials(certificate, key)
        _connected(wire)
        self.assertEqual(wire.right.engine.sas(), [])
        reasons = [e.reason for e in _of(wire.right, NegotiationFailed)]
        self.assertTrue(
            any("does not prove its ID left.iked.test" in r for r in reasons), reasons
        )

    def test_wrong_peer_id(self) -> None:
        wire = pair(
            leftChildren=(LEFT_CHILD,),
            rightChildren=(RIGHT_CHILD,),
            rightRemoteId="someone.else",
        )
        _connected(wire)
        self.assertEqual(wire.right.engine.sas(), [])
        self.assertIn("not the one", _of(wire.right, NegotiationFailed)[-1].reason)

    def test_certificate_rejected_by_verifier(self) -> None:
        """The verifier (nssd, for NSS stacks) says no: AUTHENTICATION_FAILED."""
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        wire.left.rejectPeer = IkeError("NSS verify failed: EACCES")
        _connected(wire)
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertIn("EACCES", _of(wire.left, NegotiationFailed)[-1].reason)
        self.assertEqual(wire.right.engine.sas(), [])

    def test_signer_unreachable_as_responder(self) -> None:
        """
        The signer fails in the middle of IKE_AUTH: the SA fails with a
        clear reason, the peer is told, and the next negotiation works.
        """
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        wire.right.breakSigner = ConnectionError("nssd unreachable")
        _connected(wire)
        self.assertEqual(wire.right.engine.sas(), [])
        self.assertIn("nssd unreachable", _of(wire.right, NegotiationFailed)[-1].reason)
        self.assertIn(
            "AUTHENTICATION_FAILED", _of(wire.left, NegotiationFailed)[-1].reason
        )
        wire.right.breakSigner = None
        _connected(wire)
        self.assertEqual(_sa(wire.left).state, IkeState.ESTABLISHED)

    def test_signer_unreachable_as_initiator(self) -> None:
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        wire.left.breakSigner = ConnectionError("nssd unreachable")
        _connected(wire)
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertIn("nssd unreachable", _of(wire.left, NegotiationFailed)[-1].reason)
        wire.advance(31)  # the responder's half-open SA times out
        self.assertEqual(wire.right.engine.sas(), [])

    def test_expired_certificate(self) -> None:
        from nsstwisted.ike.localauth import LocalCredentials

        from .ikepeers import pki

        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        certificate, key = pki().issue("left.iked.test", "p256", days=-1)
        wire.left.credentials = LocalCredentials(certificate, key)
        _connected(wire)
        self.assertEqual(wire.right.engine.sas(), [])
        self.assertIn(
            "does not validate", _of(wire.right, NegotiationFailed)[-1].reason
        )


@dataclasses.dataclass(frozen=True)
class SpoiltCredentials(LocalCredentials):
    """
    A peer built as ours are, whose CERT payload number C{position} (0 is
    its own certificate) carries C{spoilt} instead: what a broken or
    hostile peer sends, correctly encrypted and integrity-protected.
    """

    spoilt: bytes = b""
    position: int = 0

    def sign(self, octets: bytes, peerHashes: frozenset[int] | None) -> Signed:
        signed = super().sign(octets, peerHashes)
        certificates = list(signed.certificates)
        certificates[self.position] = self.spoilt
        return dataclasses.replace(signed, certificates=tuple(certificates))


class MalformedCertificateTests(SynchronousTestCase):
    """
    A CERT payload that does not parse (bad ASN.1, version or key
    algorithm, a duplicate or unreadable extension) ends the exchange
    with AUTHENTICATION_FAILED (RFC 7296 section 2.21.2) and removes the
    half-open SA; no exception leaves the engine.
    """

    def negotiate(self, hostile: str, name: str, position: int = 0) -> Wire:
        wire = pair(
            leftChildren=(LEFT_CHILD,),
            rightChildren=(RIGHT_CHILD,),
            leftKey="p256",
            rightKey="p256",
        )
        side = getattr(wire, hostile)
        certificate, key = leaf(f"{hostile}.iked.test", "p256")
        spoilt = malformed(certificate.public_bytes(Encoding.DER))[name]
        side.credentials = SpoiltCredentials(
            certificate, key, (pki().ca,), spoilt=spoilt, position=position
        )
        return _connected(wire)

    def assertRefused(self, wire: Wire, judge: Side, name: str) -> None:
        self.assertEqual(wire.left.engine.sas(), [], name)
        self.assertEqual(wire.right.engine.sas(), [], name)
        reasons = [e.reason for e in _of(judge, NegotiationFailed)]
        self.assertTrue(
            any("not a readable X.509 certificate" in r for r in reasons),
            (name, reasons),
        )

    def test_initiator(self) -> None:
        """The responder refuses the initiator's IKE_AUTH request."""
        for name in CASES:
            wire = self.negotiate("left", name)
            self.assertRefused(wire, wire.right, name)
            self.assertIn(
                "AUTHENTICATION_FAILED", _of(wire.left, NegotiationFailed)[-1].reason
            )

    def test_initiator_chain(self) -> None:
        """An intermediate that does not parse is as bad as the peer's own."""
        for name in CASES:
            wire = self.negotiate("left", name, position=1)
            self.assertRefused(wire, wire.right, name)

    def test_responder(self) -> None:
        """
        The initiator refuses the responder's IKE_AUTH answer, tells it
        in an INFORMATIONAL, and forgets the SA.
        """
        for name in CASES:
            wire = self.negotiate("right", name)
            self.assertRefused(wire, wire.left, name)


CASES = tuple(malformed(leaf("left.iked.test", "p256")[0].public_bytes(Encoding.DER)))
"""The ways L{tests.pkichains.malformed} spoils a certificate."""


class PeerCertificateProfileTests(SynchronousTestCase):
    """
    A hostile peer, built as ours are, authenticates with a certificate
    that the trusted CA issued but not for IKE (RFC 4945 section 5.1.3):
    the other engine refuses it, whichever side presents it, and accepts
    the certificates the profile allows.
    """

    def negotiate(
        self, hostile: str, profile: str, peerEku: PeerEku = PeerEku.IKE
    ) -> Wire:
        from nsstwisted.ike.localauth import LocalCredentials

        wire = pair(
            leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,), peerEku=peerEku
        )
        side = getattr(wire, hostile)
        side.credentials = LocalCredentials(
            *profile_leaf(f"{hostile}.iked.test", profile)
        )
        return _connected(wire)

    def assertRefused(self, wire: Wire, judge: Side, reason: str) -> None:
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertEqual(wire.right.engine.sas(), [])
        reasons = [e.reason for e in _of(judge, NegotiationFailed)]
        self.assertTrue(any(reason in r for r in reasons), reasons)

    def test_refused_initiator(self) -> None:
        for profile, reason in {**REFUSED, **TLS_ONLY}.items():
            wire = self.negotiate("left", profile)
            self.assertRefused(wire, wire.right, reason)
            self.assertIn(
                "AUTHENTICATION_FAILED", _of(wire.left, NegotiationFailed)[-1].reason
            )

    def test_refused_responder(self) -> None:
        for profile, reason in {**REFUSED, **TLS_ONLY}.items():
            wire = self.negotiate("right", profile)
            self.assertRefused(wire, wire.left, reason)

    def test_accepted(self) -> None:
        for profile in ACCEPTED:
            for hostile in ("left", "right"):
                wire = self.negotiate(hostile, profile)
                self.assertEqual(_sa(wire.left).state, IkeState.ESTABLISHED, profile)
                self.assertEqual(_sa(wire.right).state, IkeState.ESTABLISHED, profile)

    def test_tls_purposes_where_the_policy_says_so(self) -> None:
        """
        A policy with PeerEku IkeOrTls takes serverAuth or clientAuth alone
        (Windows peers), and still nothing else the profile refuses.
        """
        for profile in TLS_ONLY:
            wire = self.negotiate("left", profile, PeerEku.IKE_OR_TLS)
            self.assertEqual(_sa(wire.right).state, IkeState.ESTABLISHED, profile)
        for profile, reason in REFUSED.items():
            wire = self.negotiate("left", profile, PeerEku.IKE_OR_TLS)
            self.assertRefused(wire, wire.right, reason)


def _open_reply(sender: Side, data: bytes) -> list[Any]:
    sa = _sa(sender)
    header, outer = decode_message(data)
    from nsstwisted.ike.message import decode_encrypted

    return decode_encrypted(data, header, outer, sa.receiveProtector)  # type: ignore[arg-type]


class ArbitraryInputTests(SynchronousTestCase):
    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=400))
    def test_arbitrary_bytes(self, data: bytes) -> None:
        """Nothing a peer sends makes the engine raise."""
        engine = IkeEngine([])
        engine.receive(data, ("127.0.0.1", 500), ("127.0.0.1", 500), 0.0)

    @settings(max_examples=100, deadline=None)
    @given(
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=255),
    )
    def test_mutated_init(self, position: int, value: int) -> None:
        """A mutated IKE_SA_INIT request never makes the responder raise."""
        wire = _PAIR
        request = bytearray(_REQUEST)
        request[position % len(request)] = value
        wire.right.engine.receive(bytes(request), ("127.0.0.1", 4600), LEFT, 0.0)


_PAIR = pair()
_PAIR.handle(_PAIR.left, _PAIR.left.engine.initiate("to-right", None, 0.0))
_REQUEST = _PAIR.queue.pop()[1].message


def _authenticating(side: Side) -> IkeSa:
    (sa,) = [sa for sa in side.engine.sas() if sa.state == IkeState.AUTHENTICATING]
    return sa


def forged_auth(sa: IkeSa, messageId: int, identity: str) -> bytes:
    """
    A second IKE_AUTH request from the initiator of C{sa}, on its real keys,
    claiming C{identity} with a certificate from a CA nobody trusts and an
    AUTH made with that certificate's key.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    from nsstwisted.ike.auth import encode_signature_auth
    from nsstwisted.ike.constants import CertEncoding, IdType, PayloadType
    from nsstwisted.ike.localauth import LocalCredentials
    from nsstwisted.ike.payloads import CertPayload, IdPayload

    from .ikepeers import Pki

    certificate, key = Pki().issue(identity, "p256")
    signed = LocalCredentials(certificate, key).sign(b"whatever", None)
    message = IkeMessage(
        sa.spiI,
        sa.spiR,
        ExchangeType.IKE_AUTH,
        messageId,
        False,
        True,
        (
            IdPayload(PayloadType.IDi, IdType.FQDN, identity.encode()),
            CertPayload(
                CertEncoding.X509_SIGNATURE, certificate.public_bytes(Encoding.DER)
            ),
            AuthPayload(
                signed.method,
                encode_signature_auth(signed.method, signed.scheme, signed.signature),
            ),
        ),
    )
    return encode_encrypted(message, sa.sendProtector)  # type: ignore[arg-type]


class HostilePeerTests(SynchronousTestCase):
    """
    Peers built from the engine itself, with manipulated messages (issue
    23): what a responder must refuse.
    """

    def test_second_ike_auth_cannot_swap_identity(self) -> None:
        """
        A peer with a valid certificate sends IKE_AUTH, then, before the
        answer, a second IKE_AUTH with the next message ID claiming another
        identity.  The responder handles one request at a time (RFC 7296
        section 2.3), drops the second unprocessed, and records the peer
        under the identity it proved.
        """
        wire = pair(
            leftChildren=(LEFT_CHILD,),
            rightChildren=(RIGHT_CHILD,),
            rightRemoteId=None,
        )
        wire.right.hold = True
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        wire.run()
        self.assertEqual(len(wire.right.held), 1)
        first = _authenticating(wire.left)
        forged = forged_auth(first, first.nextRequestId, "ceo.example")
        actions = wire.right.engine.receive(
            forged, wire.right.endpoint, wire.left.endpoint, wire.now
        )
        wire.handle(wire.right, actions)
        drops = [a for a in actions if isinstance(a, MessageDropped)]
        self.assertEqual(len(drops), 1)
        self.assertIn("window size 1", drops[0].reason)
        # Nothing about the claimed identity reached the SA.
        pending = _authenticating(wire.right)
        self.assertIsNone(pending.peerId)
        self.assertEqual(pending.peerCertificates, ())
        self.assertEqual(len(wire.right.held), 1)
        wire.release(wire.right)
        wire.run()
        sa = _sa(wire.right)
        assert sa.peerId is not None
        self.assertEqual(sa.peerId.data, b"left.iked.test")
        established = _of(wire.right, IkeSaEstablished)
        self.assertEqual(len(established), 1)
        self.assertEqual(wire.right.signatures, 1)

    def test_retransmitted_ike_auth_answered_from_cache(self) -> None:
        """
        Once answered, a retransmitted IKE_AUTH gets the cached answer: no
        second check, no second signature.
        """
        wire = pair(
            leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,), rightRemoteId=None
        )
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        requests: list[bytes] = []

        def record(sender: Side, data: bytes) -> bytes:
            if sender is wire.left and IkeHeader.decode(data).exchange == (
                ExchangeType.IKE_AUTH
            ):
                requests.append(data)
            return data

        wire.tamper = record
        wire.run()
        (request,) = requests
        answered = len(wire.right.sent)
        checks = len(_of(wire.right, PeerCheckNeeded))
        wire.handle(
            wire.right,
            wire.right.engine.receive(
                request, wire.right.endpoint, wire.left.endpoint, wire.now
            ),
        )
        self.assertEqual(len(wire.right.sent), answered + 1)
        self.assertEqual(
            wire.right.sent[-1].message, wire.right.sent[answered - 1].message
        )
        self.assertEqual(len(_of(wire.right, PeerCheckNeeded)), checks)
        self.assertEqual(wire.right.signatures, 1)
        wire.queue.clear()


def _esp_offer(dhGroups: tuple[int, ...]) -> Any:
    """An ESP proposal (AES-GCM-16 128) offering each DH group listed."""
    from nsstwisted.ike.constants import ProtocolId, TransformType
    from nsstwisted.ike.payloads import Proposal, SaPayload, Transform

    transforms = [
        Transform(TransformType.ENCR, int(EncrId.AES_GCM_16), 128),
        *(Transform(TransformType.DH, group) for group in dhGroups),
        Transform(TransformType.ESN, 0),
    ]
    return SaPayload(
        (Proposal(1, int(ProtocolId.ESP), b"\x01\x02\x03\x04", tuple(transforms)),)
    )


def _ts(network: str) -> tuple[Any, ...]:
    import ipaddress

    from nsstwisted.ike.payloads import TrafficSelector

    return (TrafficSelector.from_network(ipaddress.ip_network(network), 0, 0, 65535),)


class HostileChildTests(SynchronousTestCase):
    """
    CREATE_CHILD_SA and the CHILD_SA of IKE_AUTH against what the rule
    fixes (issue 23, items 3 and 4).
    """

    def test_pfs_cannot_be_skipped(self) -> None:
        """
        A rule whose proposal requires PFS gives no CHILD_SA keyed without
        DH, even when another rule of the same peer needs no PFS: a peer
        offering {ECP-256, NONE} without a KE payload is told which group
        to use (INVALID_KE_PAYLOAD), and nothing is installed.
        """
        from nsstwisted.ike.constants import PayloadType
        from nsstwisted.ike.payloads import NoncePayload, TsPayload

        pfs = EspProposal(EncrId.AES_GCM_16, 128, IntegId.NONE, DhGroupId.ECP_256)
        rightPfs = child_policy(
            "pfs", local="10.1.0.0/24", remote="10.2.0.0/24", proposals=(pfs,)
        )
        rightPlain = child_policy("plain", local="10.1.9.0/24", remote="10.2.9.0/24")
        wire = _connected(pair(rightChildren=(rightPlain, rightPfs)), child=False)
        before = len(_of(wire.right, ChildSaEstablished))
        actions = _inject(
            wire,
            wire.left,
            [
                _esp_offer((int(DhGroupId.ECP_256), 0)),
                NoncePayload(b"n" * 32),
                TsPayload(PayloadType.TSi, _ts("10.2.0.0/24")),
                TsPayload(PayloadType.TSr, _ts("10.1.0.0/24")),
            ],
            exchange=ExchangeType.CREATE_CHILD_SA,
        )
        wire.handle(wire.right, actions)
        self.assertEqual(len(_of(wire.right, ChildSaEstablished)), before)
        (reply,) = [a for a in actions if isinstance(a, SendDatagram)]
        notify = find_notify(
            _open_reply(wire.left, reply.message), NotifyType.INVALID_KE_PAYLOAD
        )
        assert notify is not None
        self.assertEqual(int.from_bytes(notify.data, "big"), DhGroupId.ECP_256)
        wire.queue.clear()

    def test_transport_rule_refuses_tunnel(self) -> None:
        """
        A responder whose rule allows only transport mode refuses a peer
        that asks for a tunnel (no USE_TRANSPORT_MODE), rather than making
        the transport rule a tunnel.
        """
        from dataclasses import replace

        from nsstwisted.ike.policy import TunnelMode

        transport = replace(RIGHT_CHILD, mode=TunnelMode.TRANSPORT)
        wire = _connected(pair(leftChildren=(LEFT_CHILD,), rightChildren=(transport,)))
        self.assertEqual(_sa(wire.right).live_children(), [])
        failures = [e.reason for e in _of(wire.right, NegotiationFailed)]
        self.assertTrue(any("allows only transport mode" in r for r in failures))
        self.assertTrue(
            any(
                "NO_PROPOSAL_CHOSEN" in e.reason
                for e in _of(wire.left, NegotiationFailed)
            )
        )

    def test_initiator_refuses_unrequested_transport(self) -> None:
        """
        An initiator that asked for a tunnel refuses an answer in transport
        mode (a hostile responder adds USE_TRANSPORT_MODE), and keeps no
        CHILD_SA.
        """
        from dataclasses import replace

        from nsstwisted.ike.policy import TunnelMode

        # The hostile responder is the same engine with a transport rule
        # that answers in transport mode whatever was asked.
        transport = replace(RIGHT_CHILD, mode=TunnelMode.TRANSPORT)
        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(transport,))

        engine = wire.right.engine
        original = type(engine)._child_response
        self.patch(
            engine,
            "_child_response",
            types.MethodType(_always_transport(original), engine),
        )
        _connected(wire)
        self.assertEqual(_sa(wire.left).live_children(), [])
        failures = [e.reason for e in _of(wire.left, NegotiationFailed)]
        self.assertTrue(any("answered transport mode" in r for r in failures), failures)


def _always_transport(original: Any) -> Any:
    """
    A responder's CHILD_SA answer that says USE_TRANSPORT_MODE whatever
    the initiator asked for: the hostile side, built from the engine's own
    code.
    """
    from dataclasses import replace

    from nsstwisted.ike.policy import TunnelMode

    def answer(self: Any, sa: Any, payloads: list[Any], rule: Any, *a: Any, **k: Any):
        payloads = [*payloads, NotifyPayload(0, NotifyType.USE_TRANSPORT_MODE)]
        candidate, remote, local = rule
        rule = (replace(candidate, mode=TunnelMode.TRANSPORT), remote, local)
        return original(self, sa, payloads, rule, *a, **k)

    return answer


class InvalidKeTests(SynchronousTestCase):
    def test_invalid_ke_ping_pong_is_bounded(self) -> None:
        """
        A responder (or anyone on the path who knows SPIi) that keeps
        answering INVALID_KE_PAYLOAD for the other group makes the initiator
        retry at most once per group, and never return to a refused one.
        """
        from nsstwisted.ike.message import IkeMessage as Message
        from nsstwisted.ike.message import encode_message
        from nsstwisted.ike.payloads import NotifyPayload as Notify

        wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
        groups = [int(p.dh) for p in wire.left.engine.peers[0].proposals]
        self.assertEqual(len(set(groups)), 2)
        requests: list[int] = []

        def bounce(sender: Side, data: bytes) -> bytes | None:
            header = IkeHeader.decode(data)
            if sender is not wire.left or header.exchange != ExchangeType.IKE_SA_INIT:
                return data
            _, payloads = decode_message(data)
            from nsstwisted.ike.payloads import KePayload, find

            ke = find(payloads, KePayload)
            assert ke is not None
            requests.append(ke.group)
            other = next(g for g in groups if g != ke.group)
            answer = encode_message(
                Message(
                    header.spiI,
                    bytes(8),
                    ExchangeType.IKE_SA_INIT,
                    0,
                    True,
                    False,
                    (
                        Notify(
                            0,
                            NotifyType.INVALID_KE_PAYLOAD,
                            data=other.to_bytes(2, "big"),
                        ),
                    ),
                )
            )
            wire.handle(
                wire.left,
                wire.left.engine.receive(
                    answer, wire.left.endpoint, wire.right.endpoint, wire.now
                ),
            )
            return None

        wire.tamper = bounce
        wire.handle(
            wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now)
        )
        wire.run()
        wire.advance(60)
        self.assertEqual(len(requests), 2)
        self.assertEqual(len(set(requests)), 2)
        failures = [e.reason for e in _of(wire.left, NegotiationFailed)]
        self.assertTrue(any("already refused" in r for r in failures), failures)
        self.assertEqual(wire.left.engine.sas(), [])
