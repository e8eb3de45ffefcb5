"""
The responder's defence against IKE_SA_INIT floods, engine against engine:
COOKIEs beyond C{cookieThreshold} half-open IKE SAs, nothing at all at
C{halfOpenLimit}, and half-open SAs that expire and make room again.

The "spoofed" requests are real IKE_SA_INITs of the left engine, from the
address the right engine's policy expects, whose answers are never
delivered: what a forged source address looks like to the responder.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import NotifyType
from nsstwisted.ike.engine import EngineSettings
from nsstwisted.ike.events import (
    IkeSaEstablished,
    InitRequestTurnedAway,
    SendDatagram,
)
from nsstwisted.ike.message import (
    IkeHeader,
    IkeMessage,
    decode_message,
    encode_message,
)
from nsstwisted.ike.payloads import NotifyPayload
from nsstwisted.ike.sa import IkeState

from .ikepeers import Wire, child_policy, pair


def _wire(**settings: Any) -> Wire:
    return pair(
        leftChildren=(child_policy(),),
        rightChildren=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
        settings=EngineSettings(**settings),
    )


def _spoofed(wire: Wire) -> bytes:
    """A fresh IKE_SA_INIT request (new SPI, nonce and key) from left."""
    (send,) = [
        a
        for a in wire.left.engine.initiate("to-right", None, wire.now)
        if isinstance(a, SendDatagram)
    ]
    return send.message


def _to_right(wire: Wire, message: bytes) -> list[Any]:
    right = wire.right
    return right.engine.receive(message, right.endpoint, wire.left.endpoint, wire.now)


def _answer(actions: list[Any]) -> bytes | None:
    sent = [a.message for a in actions if isinstance(a, SendDatagram)]
    return sent[0] if sent else None


def _half_open(wire: Wire) -> int:
    return sum(
        1 for sa in wire.right.engine.sas() if sa.state == IkeState.AUTHENTICATING
    )


def _cookie_of(answer: bytes) -> bytes | None:
    _, payloads = decode_message(answer)
    first = payloads[0]
    if isinstance(first, NotifyPayload) and first.notifyType == NotifyType.COOKIE:
        return first.data
    return None


def _with_cookie(wire: Wire, request: bytes) -> bytes:
    """The left engine's retry of C{request} after the responder's COOKIE."""
    answer = _answer(_to_right(wire, request))
    assert answer is not None and _cookie_of(answer) is not None
    left = wire.left
    retry = _answer(
        left.engine.receive(answer, left.endpoint, wire.right.endpoint, wire.now)
    )
    assert retry is not None
    return retry


def _turned_away(actions: list[Any]) -> list[str]:
    return [a.measure for a in actions if isinstance(a, InitRequestTurnedAway)]


class CookieThresholdTests(SynchronousTestCase):
    def test_cookie_above_threshold(self) -> None:
        """
        Up to C{cookieThreshold} half-open SAs, a request is answered with
        DH; from then on, with a COOKIE and no state.
        """
        wire = _wire(cookieThreshold=3)
        for _ in range(3):
            actions = _to_right(wire, _spoofed(wire))
            answer = _answer(actions)
            assert answer is not None
            self.assertIsNone(_cookie_of(answer))
            self.assertEqual(_turned_away(actions), [])
        self.assertEqual(_half_open(wire), 3)
        actions = _to_right(wire, _spoofed(wire))
        answer = _answer(actions)
        assert answer is not None
        self.assertIsNotNone(_cookie_of(answer))
        self.assertEqual(_turned_away(actions), ["cookie"])
        self.assertEqual(_half_open(wire), 3)

    def test_peer_with_cookie_gets_in(self) -> None:
        """
        A real peer answers the COOKIE and establishes its IKE SA while
        spoofed requests hold the half-open SAs.
        """
        wire = _wire(cookieThreshold=2)
        for _ in range(5):
            _to_right(wire, _spoofed(wire))
        self.assertEqual(_half_open(wire), 2)
        wire.handle(wire.left, wire.left.engine.initiate("to-right", None, wire.now))
        wire.run()
        (up,) = [e for e in wire.right.events if isinstance(e, IkeSaEstablished)]
        self.assertEqual(up.sa.state, IkeState.ESTABLISHED)
        self.assertIn("cookie", _turned_away(wire.right.events))

    def test_wrong_cookie_is_asked_again(self) -> None:
        """A COOKIE for another request does not open a half-open SA."""
        wire = _wire(cookieThreshold=0)
        first = _with_cookie(wire, _spoofed(wire))
        second = _spoofed(wire)
        _, payloads = decode_message(first)
        cookie = payloads[0]
        assert isinstance(cookie, NotifyPayload)
        # The second request, with the first one's COOKIE spliced in: the
        # responder's cookie covers SPI and nonce, so it does not fit.
        forged = _splice_cookie(second, cookie.data)
        actions = _to_right(wire, forged)
        self.assertEqual(_turned_away(actions), ["cookie"])
        self.assertEqual(_half_open(wire), 0)


def _splice_cookie(request: bytes, cookie: bytes) -> bytes:
    header = IkeHeader.decode(request)
    _, payloads = decode_message(request)
    return encode_message(
        IkeMessage(
            spiI=header.spiI,
            spiR=header.spiR,
            exchange=header.exchange,
            messageId=0,
            isResponse=False,
            isInitiator=True,
            payloads=(NotifyPayload(0, NotifyType.COOKIE, data=cookie), *payloads),
        )
    )


class HalfOpenLimitTests(SynchronousTestCase):
    def test_dropped_at_limit(self) -> None:
        """
        At C{halfOpenLimit} half-open SAs a request is dropped unanswered,
        even one that carries a valid COOKIE.
        """
        wire = _wire(cookieThreshold=1, halfOpenLimit=3)
        _to_right(wire, _spoofed(wire))
        for _ in range(2):
            actions = _to_right(wire, _with_cookie(wire, _spoofed(wire)))
            self.assertIsNotNone(_answer(actions))
        self.assertEqual(_half_open(wire), 3)
        retry = _spoofed(wire)
        actions = _to_right(wire, retry)
        self.assertIsNone(_answer(actions))
        self.assertEqual(_turned_away(actions), ["limit"])
        self.assertEqual(_half_open(wire), 3)

    def test_known_request_still_answered_at_limit(self) -> None:
        """A retransmitted request of a half-open SA gets its answer again."""
        wire = _wire(cookieThreshold=5, halfOpenLimit=1)
        request = _spoofed(wire)
        first = _answer(_to_right(wire, request))
        self.assertEqual(_answer(_to_right(wire, request)), first)

    def test_expired_half_open_make_room(self) -> None:
        """
        Half-open SAs expire after C{halfOpenTimeout}; then requests are
        answered with DH again, without a COOKIE.
        """
        wire = _wire(cookieThreshold=2, halfOpenLimit=2, halfOpenTimeout=10.0)
        for _ in range(2):
            _to_right(wire, _spoofed(wire))
        self.assertEqual(_turned_away(_to_right(wire, _spoofed(wire))), ["limit"])
        wire.now += 9.0
        wire.right.engine.expire(wire.now)
        self.assertEqual(_half_open(wire), 2)
        wire.now += 1.0
        wire.right.engine.expire(wire.now)
        self.assertEqual(_half_open(wire), 0)
        self.assertEqual(wire.right.engine.sas(), [])
        actions = _to_right(wire, _spoofed(wire))
        answer = _answer(actions)
        assert answer is not None
        self.assertIsNone(_cookie_of(answer))
        self.assertEqual(_half_open(wire), 1)
