"""
IKE fragmentation (RFC 7383): the codec and the reassembler alone, then
two engines against each other with fragmentation on, off, and a small
limit, and the bad input a reassembler must survive (a flood of forged
fragments, fragments that never complete, a wrong ICV, totals that change).
"""

from __future__ import annotations

import dataclasses
import os
import struct
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import (
    EncrId,
    ExchangeType,
    IntegId,
    NotifyType,
    PayloadType,
)
from nsstwisted.ike.crypto import sk_protector
from nsstwisted.ike.engine import EngineSettings
from nsstwisted.ike.errors import IkeDecodeError
from nsstwisted.ike.events import (
    ChildSaEstablished,
    FragmentDropped,
    IkeSaEstablished,
    MessageFragmented,
    NegotiationFailed,
    ReassemblyAbandoned,
    Retransmitted,
    SendDatagram,
)
from nsstwisted.ike.fragments import (
    MAX_FRAGMENTS,
    REASSEMBLY_TIMEOUT,
    FragmentRefused,
    Reassembler,
    decode_fragment,
    encode_fragments,
    message_room,
)
from nsstwisted.ike.message import (
    HEADER_SIZE,
    IkeHeader,
    IkeMessage,
    SkProtector,
    decode_message,
)
from nsstwisted.ike.payloads import (
    CertPayload,
    decode_payloads,
    find_notify,
)
from nsstwisted.ike.sa import IkeSa

from .ikepeers import LEFT, RIGHT, Side, Wire, child_policy, pair

RIGHT_CHILD = child_policy(local="10.1.0.0/24", remote="10.2.0.0/24")
LEFT_CHILD = child_policy()
SMALL = EngineSettings(fragmentSize=576)
SMALL_ROOM = message_room(576, LEFT, RIGHT[1])


def _cbc() -> tuple[SkProtector, SkProtector]:
    encryption, integrity = os.urandom(16), os.urandom(32)

    def one() -> SkProtector:
        return sk_protector(
            EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, encryption, integrity
        )

    return one(), one()


def _gcm() -> tuple[SkProtector, SkProtector]:
    key = os.urandom(36)

    def one() -> SkProtector:
        return sk_protector(EncrId.AES_GCM_16, 256, IntegId.NONE, key, b"")

    return one(), one()


def _message(size: int, messageId: int = 1, response: bool = False) -> IkeMessage:
    return IkeMessage(
        spiI=b"\x01" * 8,
        spiR=b"\x02" * 8,
        exchange=int(ExchangeType.IKE_AUTH),
        messageId=messageId,
        isResponse=response,
        isInitiator=True,
        payloads=(CertPayload(4, bytes(range(256)) * (size // 256 + 1)),),
    )


def _skf(
    protector: SkProtector,
    number: int,
    total: int,
    piece: bytes,
    messageId: int = 1,
    firstInner: int = PayloadType.CERT,
    spis: tuple[bytes, bytes] = (b"\x01" * 8, b"\x02" * 8),
    response: bool = False,
    initiator: bool = True,
    exchange: int = ExchangeType.IKE_AUTH,
) -> bytes:
    """One authentic SKF message, numbered as the test wants."""
    message = IkeMessage(
        spiI=spis[0],
        spiR=spis[1],
        exchange=int(exchange),
        messageId=messageId,
        isResponse=response,
        isInitiator=initiator,
        payloads=(),
    )
    length = 8 + protector.body_length(len(piece))
    header = message._header(PayloadType.SKF, HEADER_SIZE + length)
    prefix = (
        header.encode()
        + struct.pack(">BBH", firstInner if number == 1 else 0, 0, length)
        + struct.pack(">HH", number, total)
    )
    return prefix + protector.encrypt(prefix, piece)


class CodecTests(SynchronousTestCase):
    """L{encode_fragments} and L{decode_fragment}, and their round trip."""

    def test_fits_is_one_sk_message(self) -> None:
        """A message within the room is not fragmented: one SK message."""
        send, _ = _gcm()
        (whole,) = encode_fragments(_message(300), send, 1200)
        self.assertEqual(IkeHeader.decode(whole).nextPayload, PayloadType.SK)

    def test_round_trip(self) -> None:
        """
        With either cipher and several rooms, every fragment fits, carries
        the message's header fields, numbers 1..n of n, names the first
        inner payload only in fragment 1, and the reassembled content is
        the message's payloads.
        """
        for protectors in (_cbc, _gcm):
            for room in (200, 544, 1248, 2000):
                send, receive = protectors()
                message = _message(3000)
                datagrams = encode_fragments(message, send, room)
                self.assertGreater(len(datagrams), 1)
                reassembler = Reassembler()
                whole = None
                for number, datagram in enumerate(datagrams, start=1):
                    self.assertLessEqual(len(datagram), room)
                    fragment = decode_fragment(datagram)
                    self.assertEqual(
                        (fragment.number, fragment.total), (number, len(datagrams))
                    )
                    self.assertEqual(
                        fragment.firstInner, PayloadType.CERT if number == 1 else 0
                    )
                    self.assertEqual(fragment.header.messageId, 1)
                    self.assertEqual(fragment.header.exchange, ExchangeType.IKE_AUTH)
                    whole = reassembler.add(fragment, receive, 0.0)
                assert whole is not None
                self.assertEqual(
                    decode_payloads(whole.firstInner, whole.plaintext),
                    list(message.payloads),
                )
                self.assertEqual(whole.count, len(datagrams))

    def test_fewest_fragments(self) -> None:
        """All fragments but the last are full: no more are sent than needed."""
        send, _ = _cbc()
        datagrams = encode_fragments(_message(5000), send, 544)
        for datagram in datagrams[:-1]:
            self.assertGreater(len(datagram), 544 - 16)

    def test_no_room(self) -> None:
        send, _ = _gcm()
        self.assertRaises(ValueError, encode_fragments, _message(5000), send, 60)

    def test_room(self) -> None:
        """The room is the datagram less IP, UDP and (where due) the marker."""
        self.assertEqual(message_room(1280, ("192.0.2.1", 4500), 4500), 1248)
        self.assertEqual(message_room(1280, ("192.0.2.1", 500), 500), 1252)
        self.assertEqual(message_room(1280, ("2001:db8::1", 500), 500), 1232)

    def test_malformed(self) -> None:
        """Each malformed SKF message is refused with its reason."""
        send, _ = _gcm()
        good = _skf(send, 1, 2, b"x" * 40)
        cases = {
            "fragment number 0 of 2": _skf(send, 0, 2, b"x"),
            "fragment number 3 of 2": _skf(send, 3, 2, b"x"),
            "fragment number 1 of 0": _skf(send, 1, 0, b"x"),
        }
        for reason, data in cases.items():
            with self.assertRaises(IkeDecodeError) as caught:
                decode_fragment(data)
            self.assertIn(reason, str(caught.exception))
        # An SKF payload that does not fill the message.
        longer = bytearray(good)
        struct.pack_into(">H", longer, HEADER_SIZE + 2, len(good) - HEADER_SIZE - 1)
        self.assertRaises(FragmentRefused, decode_fragment, bytes(longer))
        # Another first payload.
        plain = bytearray(good)
        plain[16] = PayloadType.SK
        self.assertRaises(FragmentRefused, decode_fragment, bytes(plain))
        # Too short for the SKF header.
        short = bytearray(good[: HEADER_SIZE + 4])
        struct.pack_into(">I", short, 24, len(short))
        self.assertRaises(FragmentRefused, decode_fragment, bytes(short))


class ReassemblerTests(SynchronousTestCase):
    """The limits, each on its own."""

    def setUp(self) -> None:
        self.send, self.receive = _gcm()
        self.reassembler = Reassembler()

    def add(self, data: bytes, now: float = 0.0) -> Any:
        return self.reassembler.add(decode_fragment(data), self.receive, now)

    def refused(self, data: bytes, reason: str, now: float = 0.0) -> None:
        with self.assertRaises(FragmentRefused) as caught:
            self.add(data, now)
        self.assertIn(reason, str(caught.exception))

    def test_out_of_order(self) -> None:
        self.assertIsNone(self.add(_skf(self.send, 3, 3, b"c")))
        self.assertIsNone(self.add(_skf(self.send, 1, 3, b"a")))
        whole = self.add(_skf(self.send, 2, 3, b"b"))
        self.assertEqual(whole.plaintext, b"abc")
        self.assertEqual(whole.firstInner, PayloadType.CERT)
        self.assertEqual(self.reassembler.held(), 0)

    def test_wrong_icv(self) -> None:
        """A fragment that does not verify is not kept."""
        _, other = _gcm()
        data = _skf(self.send, 1, 2, b"a")
        with self.assertRaises(FragmentRefused) as caught:
            self.reassembler.add(decode_fragment(data), other, 0.0)
        self.assertIn("does not verify", str(caught.exception))
        self.assertEqual(self.reassembler.held(), 0)

    def test_duplicate(self) -> None:
        self.add(_skf(self.send, 1, 2, b"a"))
        self.refused(_skf(self.send, 1, 2, b"z"), "fragment 1 of message ID 1 again")
        self.assertEqual(self.add(_skf(self.send, 2, 2, b"b")).plaintext, b"ab")

    def test_too_many(self) -> None:
        """More than MAX_FRAGMENTS is refused before any decryption."""
        self.refused(
            _skf(self.send, 1, MAX_FRAGMENTS + 1, b"a"),
            f"in {MAX_FRAGMENTS + 1} fragments (at most {MAX_FRAGMENTS})",
        )
        self.assertEqual(self.reassembler.held(), 0)

    def test_fewer_than_before(self) -> None:
        """A total smaller than the earlier fragments' is dropped (2.6.2)."""
        self.add(_skf(self.send, 1, 3, b"a"))
        self.refused(_skf(self.send, 2, 2, b"b"), "says 2 fragments, earlier ones 3")
        self.assertEqual(self.reassembler.held(), 1)

    def test_more_than_before(self) -> None:
        """A larger total restarts the message (2.6.2: smaller fragments)."""
        self.add(_skf(self.send, 1, 2, b"a"))
        self.assertIsNone(self.add(_skf(self.send, 1, 3, b"A")))
        (gone,) = self.reassembler.abandoned
        self.assertEqual((gone.messageId, gone.held, gone.total), (1, 1, 2))
        self.assertIn("went to 3 fragments", gone.reason)
        self.add(_skf(self.send, 2, 3, b"B"))
        self.assertEqual(self.add(_skf(self.send, 3, 3, b"C")).plaintext, b"ABC")

    def test_exchange_changes(self) -> None:
        self.add(_skf(self.send, 1, 2, b"a"))
        self.refused(
            _skf(self.send, 2, 2, b"b", exchange=ExchangeType.INFORMATIONAL),
            "of exchange",
        )

    def test_newer_message_replaces(self) -> None:
        """One set per direction: a newer message ID discards the older one."""
        self.add(_skf(self.send, 1, 2, b"a", messageId=1))
        self.add(_skf(self.send, 1, 2, b"b", messageId=2))
        (gone,) = self.reassembler.abandoned
        self.assertEqual(gone.messageId, 1)
        self.assertEqual(self.reassembler.held(), 1)

    def test_requests_and_responses_apart(self) -> None:
        """A request and a response in reassembly do not disturb each other."""
        self.add(_skf(self.send, 1, 2, b"q", messageId=5))
        self.add(_skf(self.send, 1, 2, b"r", messageId=3, response=True))
        self.assertEqual(self.reassembler.abandoned, [])
        self.assertEqual(
            self.add(_skf(self.send, 2, 2, b"Q", messageId=5)).plaintext, b"qQ"
        )

    def test_size_limit(self) -> None:
        """Past the size limit the whole set is dropped."""
        reassembler = Reassembler(maxSize=100)
        reassembler.add(
            decode_fragment(_skf(self.send, 1, 3, b"a" * 60)), self.receive, 0
        )
        with self.assertRaises(FragmentRefused) as caught:
            reassembler.add(
                decode_fragment(_skf(self.send, 2, 3, b"b" * 60)), self.receive, 0
            )
        self.assertIn("grows past 100 octets", str(caught.exception))
        self.assertEqual(reassembler.held(), 0)
        self.assertIn("more than 100 octets", reassembler.abandoned[0].reason)

    def test_timeout(self) -> None:
        """An incomplete set is dropped REASSEMBLY_TIMEOUT after it began."""
        self.add(_skf(self.send, 1, 2, b"a"), now=10.0)
        self.assertEqual(self.reassembler.deadline(), 10.0 + REASSEMBLY_TIMEOUT)
        self.reassembler.expire(10.0 + REASSEMBLY_TIMEOUT - 0.1)
        self.assertEqual(self.reassembler.held(), 1)
        self.reassembler.expire(10.0 + REASSEMBLY_TIMEOUT)
        self.assertEqual(self.reassembler.held(), 0)
        self.assertIsNone(self.reassembler.deadline())
        self.assertIn(
            "incomplete after 30 seconds", self.reassembler.abandoned[0].reason
        )


# --- two engines ---------------------------------------------------------------


def _of(side: Side, kind: type[Any]) -> list[Any]:
    return [e for e in side.events if isinstance(e, kind)]


def _sa(side: Side) -> IkeSa:
    (sa,) = side.engine.sas()
    return sa


def _wire(
    left: EngineSettings | None = SMALL, right: EngineSettings | None = SMALL
) -> Wire:
    wire = pair(leftChildren=(LEFT_CHILD,), rightChildren=(RIGHT_CHILD,))
    wire.left.engine.settings = left or EngineSettings()
    wire.right.engine.settings = right or EngineSettings()
    return wire


def _start(wire: Wire) -> None:
    wire.handle(wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now))


def _reasons(side: Side) -> list[str]:
    """What went wrong on C{side}, short enough for a failure message."""
    return [
        f"{type(e).__name__}: {e.reason}" for e in side.events if hasattr(e, "reason")
    ]


def _established(test: SynchronousTestCase, wire: Wire) -> None:
    for side in (wire.left, wire.right):
        test.assertEqual(len(_of(side, IkeSaEstablished)), 1, _reasons(side))
        test.assertEqual(len(_of(side, ChildSaEstablished)), 1, _reasons(side))


def _exchange(data: bytes) -> int:
    return IkeHeader.decode(data).exchange


def _is_fragment(data: bytes) -> bool:
    return IkeHeader.decode(data).nextPayload == PayloadType.SKF


def _auth(side: Side) -> list[bytes]:
    return [
        d.message for d in side.sent if _exchange(d.message) == ExchangeType.IKE_AUTH
    ]


class EngineTests(SynchronousTestCase):
    """Both ends engines of ours."""

    def test_small_limit(self) -> None:
        """
        With a 576-octet limit both IKE_AUTH messages go out in fragments of
        at most that datagram size, each says so (MessageFragmented), and
        the SAs come up as without fragmentation.
        """
        wire = _wire()
        _start(wire)
        wire.run()
        _established(self, wire)
        for side in (wire.left, wire.right):
            self.assertTrue(_sa(side).fragmentation)
            auth = _auth(side)
            self.assertGreater(len(auth), 1)
            self.assertTrue(all(_is_fragment(d) for d in auth))
            self.assertTrue(all(len(d) <= SMALL_ROOM for d in auth), auth)
            (told,) = _of(side, MessageFragmented)
            self.assertEqual((told.messageId, told.count), (1, len(auth)))

    def test_announced_in_ike_sa_init(self) -> None:
        """Both IKE_SA_INIT messages carry IKEV2_FRAGMENTATION_SUPPORTED."""
        wire = _wire()
        _start(wire)
        wire.run()
        for side in (wire.left, wire.right):
            init = side.sent[0].message
            self.assertEqual(_exchange(init), ExchangeType.IKE_SA_INIT)
            _, payloads = decode_message(init)
            self.assertIsNotNone(
                find_notify(payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)
            )

    def test_default_limit_fits(self) -> None:
        """
        At the default 1280 an RSA-2048 IKE_AUTH fits: fragmentation is
        agreed but nothing is fragmented.
        """
        wire = _wire(None, None)
        _start(wire)
        wire.run()
        _established(self, wire)
        for side in (wire.left, wire.right):
            self.assertTrue(_sa(side).fragmentation)
            self.assertEqual(len(_auth(side)), 1)
            self.assertFalse(_of(side, MessageFragmented))

    def test_off_at_the_responder(self) -> None:
        """
        A responder with fragmentation off does not answer the announcement,
        so the initiator, however small its limit, sends IKE_AUTH whole.
        """
        wire = _wire(SMALL, EngineSettings(fragmentSize=0))
        _start(wire)
        wire.run()
        _established(self, wire)
        _, payloads = decode_message(wire.right.sent[0].message)
        self.assertIsNone(
            find_notify(payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)
        )
        for side in (wire.left, wire.right):
            self.assertFalse(_sa(side).fragmentation)
            (auth,) = _auth(side)
            self.assertGreater(len(auth), SMALL_ROOM)

    def test_off_at_the_initiator(self) -> None:
        """An initiator with fragmentation off does not announce it."""
        wire = _wire(EngineSettings(fragmentSize=0), SMALL)
        _start(wire)
        wire.run()
        _established(self, wire)
        _, payloads = decode_message(wire.left.sent[0].message)
        self.assertIsNone(
            find_notify(payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)
        )
        self.assertEqual(len(_auth(wire.right)), 1)

    def test_fragments_not_negotiated(self) -> None:
        """
        An SKF message on an SA without fragmentation is dropped, at once
        and without a decryption, however authentic.
        """
        wire = _wire(EngineSettings(fragmentSize=0), EngineSettings(fragmentSize=0))
        _start(wire)
        wire.run()
        left, right = _sa(wire.left), _sa(wire.right)
        assert left.sendProtector is not None
        actions = wire.right.engine.receive(
            _skf(
                left.sendProtector,
                1,
                2,
                b"x",
                messageId=2,
                spis=(left.spiI, left.spiR),
            ),
            RIGHT,
            LEFT,
            wire.now,
        )
        (dropped,) = actions
        assert isinstance(dropped, FragmentDropped)
        self.assertIn("not negotiated", dropped.reason)
        self.assertEqual(right.reassembler.held(), 0)

    def test_later_exchanges_fragmented(self) -> None:
        """
        Exchanges after IKE_AUTH are fragmented too when they are too
        large: with a tiny limit a CREATE_CHILD_SA rekey goes out, and is
        answered, in fragments.
        """
        tiny = EngineSettings(fragmentSize=200)
        wire = _wire(tiny, tiny)
        _start(wire)
        wire.run()
        _established(self, wire)
        (child,) = _sa(wire.left).live_children()
        wire.handle(wire.left, wire.left.engine.rekey_child_sa(child, wire.now))
        wire.run()
        for side in (wire.left, wire.right):
            create = [
                d.message
                for d in side.sent
                if _exchange(d.message) == ExchangeType.CREATE_CHILD_SA
            ]
            self.assertGreater(len(create), 1)
            self.assertTrue(all(_is_fragment(d) for d in create))
            self.assertEqual(len(_of(side, ChildSaEstablished)), 2)

    def test_kept_through_an_ike_sa_rekey(self) -> None:
        """
        The IKE SA that replaces a rekeyed one keeps fragmentation (it
        was agreed for the IKE SA, in IKE_SA_INIT, which a rekey does not
        repeat): a CHILD_SA rekey on it still goes in fragments.
        """
        tiny = EngineSettings(fragmentSize=200)
        wire = _wire(tiny, tiny)
        _start(wire)
        wire.run()
        wire.handle(wire.left, wire.left.engine.rekey_ike_sa(_sa(wire.left), wire.now))
        wire.run()
        left, right = _sa(wire.left), _sa(wire.right)
        self.assertTrue(left.fragmentation and right.fragmentation)
        (child,) = left.live_children()
        before = len(_of(wire.left, MessageFragmented))
        wire.handle(wire.left, wire.left.engine.rekey_child_sa(child, wire.now))
        wire.run()
        self.assertGreater(len(_of(wire.left, MessageFragmented)), before)
        self.assertEqual(len(_of(wire.left, ChildSaEstablished)), 2)

    def test_lost_request_fragment(self) -> None:
        """
        A fragment of the IKE_AUTH request lost once: the responder waits;
        the initiator's retransmission resends every fragment, and the
        exchange completes.
        """
        wire = _wire()
        lost: list[bytes] = []

        def lose(sender: Side, data: bytes) -> bytes | None:
            if sender is wire.left and _is_fragment(data) and not lost:
                if decode_fragment(data).number == 2:
                    lost.append(data)
                    return None
            return data

        wire.tamper = lose
        _start(wire)
        wire.run()
        self.assertFalse(_of(wire.right, IkeSaEstablished))
        self.assertEqual(_sa(wire.right).reassembler.held(), len(_auth(wire.left)) - 1)
        sentBefore = len(_auth(wire.left))
        wire.advance(5)
        _established(self, wire)
        self.assertEqual(len(_auth(wire.left)), 2 * sentBefore)
        self.assertEqual(len(_of(wire.left, Retransmitted)), 1)

    def test_lost_response_fragment(self) -> None:
        """
        A fragment of the IKE_AUTH response lost once: the initiator
        resends its request (all fragments), and the responder answers with
        its whole response once, for fragment 1 only (RFC 7383 2.6.1),
        without processing the request again.
        """
        wire = _wire()
        lost: list[bytes] = []

        def lose(sender: Side, data: bytes) -> bytes | None:
            if sender is wire.right and _is_fragment(data) and not lost:
                lost.append(data)
                return None
            return data

        wire.tamper = lose
        _start(wire)
        wire.run()
        self.assertFalse(_of(wire.left, IkeSaEstablished))
        responses = len(_auth(wire.right))
        wire.advance(5)
        _established(self, wire)
        self.assertEqual(len(_auth(wire.right)), 2 * responses)
        self.assertEqual(wire.right.signatures, 1)


class BadInputTests(SynchronousTestCase):
    """What a forger or a broken peer sends; each case ends served."""

    def _auth_held(self, wire: Wire) -> list[bytes]:
        """Start, and keep the initiator's IKE_AUTH fragments from the wire."""
        held: list[bytes] = []

        def hold(sender: Side, data: bytes) -> bytes | None:
            if sender is wire.left and _is_fragment(data):
                held.append(data)
                return None
            return data

        wire.tamper = hold
        _start(wire)
        wire.run()
        wire.tamper = None
        self.assertGreater(len(held), 1)
        return held

    def _deliver(self, wire: Wire, data: bytes) -> list[Any]:
        actions = wire.right.engine.receive(data, RIGHT, LEFT, wire.now)
        wire.handle(wire.right, actions)
        return actions

    def test_flood_of_forged_fragments(self) -> None:
        """
        1,000 forged fragments of the very message ID the responder waits
        for, with the right SPIs and every fragment number: each is dropped
        for its ICV (FragmentDropped, debug level), none is kept, and the
        real fragments, delivered after, complete IKE_AUTH.
        """
        wire = _wire()
        held = self._auth_held(wire)
        spis = _sa(wire.left).spiI, _sa(wire.left).spiR
        _, forger = _gcm()
        dropped = 0
        for index in range(1000):
            forged = _skf(
                forger,
                index % len(held) + 1,
                len(held),
                os.urandom(100),
                spis=spis,
            )
            for action in self._deliver(wire, forged):
                assert isinstance(action, FragmentDropped)
                self.assertIn("of message ID 1:", action.reason)
                dropped += 1
        self.assertEqual(dropped, 1000)
        self.assertEqual(_sa(wire.right).reassembler.held(), 0)
        self.assertFalse(_of(wire.right, ReassemblyAbandoned))
        for data in held:
            wire.handle(
                wire.right, wire.right.engine.receive(data, RIGHT, LEFT, wire.now)
            )
        wire.run()
        _established(self, wire)

    def test_wrong_icv(self) -> None:
        """A real fragment with one octet changed is dropped; the real one completes."""
        wire = _wire()
        held = self._auth_held(wire)
        changed = bytearray(held[1])
        changed[-1] ^= 1
        (action,) = self._deliver(wire, bytes(changed))
        assert isinstance(action, FragmentDropped)
        self.assertIn("fragment 2 of message ID 1", action.reason)
        self.assertEqual(_sa(wire.right).reassembler.held(), 0)
        for data in held:
            self._deliver(wire, data)
        wire.run()
        _established(self, wire)

    def test_never_completes(self) -> None:
        """
        The last fragment of IKE_AUTH never arrives: the responder holds
        the others no longer than REASSEMBLY_TIMEOUT (EZD1211I's event),
        never more than the set, the initiator gives up, and a new
        negotiation afterwards succeeds.
        """
        settings = dataclasses.replace(SMALL, halfOpenTimeout=200.0)
        wire = _wire(settings, settings)

        def lose_last(sender: Side, data: bytes) -> bytes | None:
            if sender is wire.left and _is_fragment(data):
                fragment = decode_fragment(data)
                if fragment.number == fragment.total:
                    return None
            return data

        wire.tamper = lose_last
        _start(wire)
        wire.run()
        initiator, responder = _sa(wire.left), _sa(wire.right)
        total = decode_fragment(_auth(wire.left)[0]).total
        self.assertEqual(responder.reassembler.held(), total - 1)
        wire.advance(REASSEMBLY_TIMEOUT + 1)
        gone = _of(wire.right, ReassemblyAbandoned)
        self.assertTrue(gone)
        self.assertIn("incomplete after 30 seconds", gone[0].reason)
        self.assertEqual((gone[0].held, gone[0].total), (total - 1, total))
        self.assertLessEqual(responder.reassembler.held(), total - 1)
        wire.advance(300)
        self.assertEqual(initiator.deleteReason, "peer not responding")
        self.assertEqual(wire.left.engine.sas(), [])
        self.assertEqual(wire.right.engine.sas(), [])
        self.assertEqual(responder.reassembler.held(), 0)
        wire.tamper = None
        _start(wire)
        wire.run()
        _established(self, wire)

    def test_inconsistent_totals(self) -> None:
        """
        Authentic fragments (the initiator's own keys) whose Total
        Fragments disagree: fewer than before is dropped, more than the
        limit is dropped before decryption, more than before starts over;
        the real fragments still complete the exchange.
        """
        settings = dataclasses.replace(SMALL, halfOpenTimeout=200.0)
        wire = _wire(settings, settings)
        held = self._auth_held(wire)
        initiator = _sa(wire.left)
        assert initiator.sendProtector is not None
        spis = initiator.spiI, initiator.spiR
        total = len(held)
        self._deliver(wire, held[0])
        (fewer,) = self._deliver(
            wire, _skf(initiator.sendProtector, 2, total - 1, b"x", spis=spis)
        )
        assert isinstance(fewer, FragmentDropped)
        self.assertIn(f"says {total - 1} fragments, earlier ones {total}", fewer.reason)
        (tooMany,) = self._deliver(
            wire, _skf(initiator.sendProtector, 2, MAX_FRAGMENTS + 1, b"x", spis=spis)
        )
        assert isinstance(tooMany, FragmentDropped)
        self.assertIn(f"at most {MAX_FRAGMENTS}", tooMany.reason)
        responder = _sa(wire.right)
        self.assertEqual(responder.reassembler.held(), 1)
        (restarted,) = self._deliver(
            wire, _skf(initiator.sendProtector, 2, total + 1, b"x", spis=spis)
        )
        assert isinstance(restarted, ReassemblyAbandoned)
        self.assertIn(f"went to {total + 1} fragments", restarted.reason)
        self.assertEqual(responder.reassembler.held(), 1)
        # The real fragments now claim fewer than the set in reassembly,
        # and are refused until it times out; a retransmission after that
        # brings the exchange home.
        wire.advance(5)
        self.assertFalse(_of(wire.right, IkeSaEstablished))
        wire.advance(REASSEMBLY_TIMEOUT + 20)
        _established(self, wire)

    def test_fragment_for_another_message_id(self) -> None:
        """
        Fragments of a message ID the window does not allow are dropped
        before any decryption, and nothing is kept.
        """
        wire = _wire()
        held = self._auth_held(wire)
        initiator = _sa(wire.left)
        assert initiator.sendProtector is not None
        spis = initiator.spiI, initiator.spiR
        for messageId in (0, 2, 7, 2**32 - 1):
            (action,) = self._deliver(
                wire,
                _skf(
                    initiator.sendProtector, 1, 2, b"x", messageId=messageId, spis=spis
                ),
            )
            assert isinstance(action, FragmentDropped)
            self.assertIn(f"request {messageId}", action.reason)
        self.assertEqual(_sa(wire.right).reassembler.held(), 0)
        for data in held:
            self._deliver(wire, data)
        wire.run()
        _established(self, wire)

    def test_response_fragment_to_nothing(self) -> None:
        """A response fragment while no request of ours is out is dropped."""
        wire = _wire()
        _start(wire)
        wire.run()
        responder = _sa(wire.right)
        assert responder.sendProtector is not None
        actions = wire.left.engine.receive(
            _skf(
                responder.sendProtector,
                1,
                2,
                b"x",
                messageId=1,
                spis=(responder.spiI, responder.spiR),
                response=True,
                initiator=False,
            ),
            LEFT,
            RIGHT,
            wire.now,
        )
        (action,) = actions
        assert isinstance(action, FragmentDropped)
        self.assertIn("to no request", action.reason)

    def test_malformed_content(self) -> None:
        """
        Authentic fragments whose reassembled content is not a payload
        chain: the responder answers INVALID_SYNTAX and removes the
        half-open SA, as for an unfragmented malformed request.
        """
        wire = _wire()
        self._auth_held(wire)
        initiator = _sa(wire.left)
        assert initiator.sendProtector is not None
        spis = initiator.spiI, initiator.spiR
        self._deliver(wire, _skf(initiator.sendProtector, 1, 2, b"\x00\x00", spis=spis))
        actions = self._deliver(
            wire, _skf(initiator.sendProtector, 2, 2, b"\xff" * 3, spis=spis)
        )
        failed = [a for a in actions if isinstance(a, NegotiationFailed)]
        self.assertTrue(failed, actions)
        self.assertIn("malformed", failed[0].reason)
        self.assertEqual(wire.right.engine.sas(), [])
        sent = [a for a in actions if isinstance(a, SendDatagram)]
        self.assertEqual(len(sent), 1)
