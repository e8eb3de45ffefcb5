"""
Tests for L{nsstwisted.security.passticket}.

IBM publishes vectors for the pieces of the legacy algorithm (translation,
one permutation, the padding) but no end-to-end ticket for a fixed time, so
the whole is tested through its properties: determinism, the alphabet, the
window and one-time use.
"""

# Trial's assertions carry no annotations; calling them is fine here.

import threading

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.errors import InvalidValueError, PassTicketError
from nsstwisted.security.passticket import (
    ALPHABET,
    PASSTICKET_WINDOW,
    PassTicketEvaluator,
    PassTicketRejected,
    PassTicketRejection,
    des_ecb,
    generate_passticket,
    parse_key,
    permute,
    time_coder,
    time_coder_pad,
    translate,
)

KEY_HEX = "098D61A85585D2AB"
KEY = bytes.fromhex(KEY_HEX)
NOW = 1_700_000_000


class FakeClock:
    """
    A clock the test moves by hand.
    """

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def isTicket(ticket: str) -> bool:
    return len(ticket) == 8 and all(c in ALPHABET for c in ticket)


class PublishedVectorTests(SynchronousTestCase):
    """
    The vectors IBM's description of the algorithm gives for its steps.
    """

    def test_translate(self) -> None:
        self.assertEqual(translate(bytes.fromhex("07247F79")), "QHOAH1TV")

    def test_permuteRoundOne(self) -> None:
        self.assertEqual(
            permute(bytes([0x01, 0x7B]), 1), bytes([0b10100011, 0b00101010])
        )

    def test_padShortUserid(self) -> None:
        self.assertEqual(
            time_coder_pad("TOM"),
            (bytes.fromhex("E3D6D4555555"), bytes.fromhex("555555555555")),
        )

    def test_padSevenCharacterUserid(self) -> None:
        """
        The z/VM page prints C9C2D4E4D2C5 for the first pad; E2 (S) is right
        and D2 (K) a misprint.
        """
        self.assertEqual(
            time_coder_pad("IBMUSER"),
            (bytes.fromhex("C9C2D4E4E2C5"), bytes.fromhex("D95555555555")),
        )

    def test_padLowerCaseIsRaised(self) -> None:
        self.assertEqual(time_coder_pad("tom"), time_coder_pad("TOM"))


class PermuteTests(SynchronousTestCase):
    def test_everyRoundIsABitPermutation(self) -> None:
        """
        Each single-bit input lands on a distinct single-bit output, so no
        round loses information.
        """
        for round_number in range(1, 7):
            outputs = {
                permute((1 << bit).to_bytes(2, "big"), round_number)
                for bit in range(16)
            }
            self.assertEqual(len(outputs), 16)
            for output in outputs:
                self.assertEqual(bin(int.from_bytes(output, "big")).count("1"), 1)

    def test_roundSixFixesTheTopBit(self) -> None:
        self.assertEqual(permute(b"\x80\x00", 6), b"\x80\x00")
        self.assertEqual(permute(b"\x40\x00", 6), b"\x00\x01")

    def test_badArguments(self) -> None:
        self.assertRaises(ValueError, permute, b"\x00", 1)
        self.assertRaises(ValueError, permute, b"\x00\x00", 0)
        self.assertRaises(ValueError, permute, b"\x00\x00", 7)


class TranslateTests(SynchronousTestCase):
    def test_wrapsAround(self) -> None:
        """
        Character 1 takes bits 31, 32, 1, 2, 3, 4: with only bits 31-32 and
        1 set it is 0b111000 = 56, 56 mod 36 = 20, "U".
        """
        self.assertEqual(translate(bytes.fromhex("80000003"))[0], "U")

    def test_zero(self) -> None:
        self.assertEqual(translate(b"\x00\x00\x00\x00"), "AAAAAAAA")

    def test_badLength(self) -> None:
        self.assertRaises(ValueError, translate, b"\x00\x00\x00")


class DESTests(SynchronousTestCase):
    """
    C{cryptography} only offers DES as Triple DES; check that with K1 = K2 =
    K3 it really is single DES.
    """

    def test_fips81Vector(self) -> None:
        encrypt = des_ecb(bytes.fromhex("0123456789ABCDEF"))
        self.assertEqual(
            encrypt(b"Now is the time for all "),
            bytes.fromhex("3FA40E8A984D4815 6A271787AB8883F9 893D51EC4B563B53"),
        )

    def test_classicVector(self) -> None:
        encrypt = des_ecb(bytes.fromhex("133457799BBCDFF1"))
        self.assertEqual(
            encrypt(bytes.fromhex("0123456789ABCDEF")),
            bytes.fromhex("85E813540F0AB405"),
        )

    def test_blocksAreIndependent(self) -> None:
        """
        Reusing one encryptor is ECB: each block encrypts the same whether
        alone, first or later.
        """
        block = b"PASSTKT!"
        alone = des_ecb(KEY)(block)
        encrypt = des_ecb(KEY)
        self.assertEqual(encrypt(block + block), alone + alone)
        self.assertEqual(encrypt(block), alone)

    def test_parityBitsIgnored(self) -> None:
        flipped = bytes(b ^ 1 for b in KEY)
        self.assertEqual(des_ecb(flipped)(b"12345678"), des_ecb(KEY)(b"12345678"))
        self.assertEqual(
            generate_passticket("IBMUSER", "TSOAPP", flipped, NOW),
            generate_passticket("IBMUSER", "TSOAPP", KEY, NOW),
        )

    def test_keyLength(self) -> None:
        self.assertRaises(InvalidValueError, des_ecb, KEY * 2)


class TimeCoderTests(SynchronousTestCase):
    def test_isAPermutationOfR4(self) -> None:
        """
        The time coder is a Feistel network with bit permutations, hence
        invertible: distinct R4 values give distinct R5 values, which is what
        makes every second's ticket different (up to the translation).
        """
        outputs = {
            time_coder(KEY, r4.to_bytes(4, "big"), "IBMUSER") for r4 in range(512)
        }
        self.assertEqual(len(outputs), 512)

    def test_dependsOnUserid(self) -> None:
        r4 = b"\x01\x02\x03\x04"
        self.assertNotEqual(time_coder(KEY, r4, "TOM"), time_coder(KEY, r4, "TIM"))


class ParseKeyTests(SynchronousTestCase):
    def test_valid(self) -> None:
        self.assertEqual(parse_key(KEY_HEX), KEY)
        self.assertEqual(parse_key(KEY_HEX.lower()), KEY)

    def test_invalid(self) -> None:
        for text in (
            "",
            KEY_HEX[:-1],
            KEY_HEX + "0",
            "098D61A85585D2AG",
            "098D61A8 5585D2AB",
            " 098D61A85585D2A",
            "098D61A85585D2A\n",
            "0x98D61A85585D2A",
            "\uff10" * 16,
        ):
            error = self.assertRaises(InvalidValueError, parse_key, text)
            self.assertEqual(error.messageId, "NSR0103E")

    def test_messageHidesKey(self) -> None:
        text = "098D61A85585D2AZ"
        error = self.assertRaises(InvalidValueError, parse_key, text)
        self.assertNotIn(text, str(error))
        self.assertNotIn(text[:8], str(error))


class GenerateTests(SynchronousTestCase):
    def test_deterministic(self) -> None:
        first = generate_passticket("IBMUSER", "TSOAPP", KEY, NOW)
        self.assertEqual(generate_passticket("IBMUSER", "TSOAPP", KEY, NOW), first)
        self.assertTrue(isTicket(first))

    def test_caseInsensitive(self) -> None:
        self.assertEqual(
            generate_passticket("ibmuser", "tsoApp", KEY, NOW),
            generate_passticket("IBMUSER", "TSOAPP", KEY, NOW),
        )

    def test_changesWithEachInput(self) -> None:
        base = generate_passticket("IBMUSER", "TSOAPP", KEY, NOW)
        self.assertNotEqual(
            generate_passticket("IBMUSER", "TSOAPP", KEY, NOW + 1), base
        )
        self.assertNotEqual(generate_passticket("IBMUSR", "TSOAPP", KEY, NOW), base)
        self.assertNotEqual(generate_passticket("IBMUSER", "TSOAPQ", KEY, NOW), base)
        other = bytes.fromhex("0123456789ABCDEF")
        self.assertNotEqual(generate_passticket("IBMUSER", "TSOAPP", other, NOW), base)

    def test_nationalCharactersAndLimits(self) -> None:
        for userid in ("A", "@#$", "12345678", "$YS#U@R1"):
            self.assertTrue(isTicket(generate_passticket(userid, "APP", KEY, NOW)))
        for when in (0, 2**32 - 1):
            self.assertTrue(isTicket(generate_passticket("U", "A", KEY, when)))

    def test_invalidUserid(self) -> None:
        for userid in ("", "TOOLONGID", "A B", "A.B", "CAF\u00c9", "A\x00"):
            self.assertRaises(
                InvalidValueError, generate_passticket, userid, "TSOAPP", KEY, NOW
            )

    def test_invalidApplname(self) -> None:
        for applname in ("", "APPLICATN", "TSO-APP", " "):
            self.assertRaises(
                InvalidValueError, generate_passticket, "IBMUSER", applname, KEY, NOW
            )

    def test_invalidKey(self) -> None:
        for key in (b"", KEY[:7], KEY + b"\x00", KEY * 3):
            self.assertRaises(
                InvalidValueError, generate_passticket, "IBMUSER", "TSOAPP", key, NOW
            )

    def test_invalidTime(self) -> None:
        for when in (-1, 2**32, 1.5, True):
            self.assertRaises(
                InvalidValueError,
                generate_passticket,
                "IBMUSER",
                "TSOAPP",
                KEY,
                when,
            )


class EvaluatorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = FakeClock()
        self.evaluator = PassTicketEvaluator(clock=self.clock)

    def ticketAt(self, when: int, userid: str = "IBMUSER") -> str:
        return generate_passticket(userid, "TSOAPP", KEY, when)

    def assertRejected(
        self,
        reason: PassTicketRejection,
        ticket: object,
        userid: str = "IBMUSER",
        applname: str = "TSOAPP",
        key: bytes = KEY,
    ) -> PassTicketRejected:
        """
        Assert that evaluating C{ticket} is refused for C{reason}, with a
        message that gives away neither the ticket nor the key.
        """
        error: PassTicketRejected = self.assertRaises(
            PassTicketRejected, self.evaluator.evaluate, userid, applname, key, ticket
        )
        self.assertIs(error.reason, reason)
        self.assertIsInstance(error, PassTicketError)
        self.assertEqual(error.messageId, "NSR0106E")
        if isinstance(ticket, str) and ticket:
            self.assertNotIn(ticket, str(error))
        self.assertNotIn(KEY_HEX, str(error).upper())
        return error

    def test_window(self) -> None:
        self.assertEqual(PASSTICKET_WINDOW, 600)

    def test_acceptsNow(self) -> None:
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW))
        self.assertEqual(self.evaluator.remembered(), 1)

    def test_acceptsEdgesOfWindow(self) -> None:
        for when in (NOW - 600, NOW + 600, NOW - 1, NOW + 1):
            self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(when))

    def test_rejectsOutsideWindow(self) -> None:
        for when in (NOW - 601, NOW + 601, NOW - 3600, 0):
            self.assertRejected(PassTicketRejection.INVALID, self.ticketAt(when))

    def test_fractionalClock(self) -> None:
        """
        Only whole seconds within the window count: at NOW + 0.5 the earliest
        acceptable second is NOW - 599.
        """
        self.clock.now = NOW + 0.5
        self.assertRejected(PassTicketRejection.INVALID, self.ticketAt(NOW - 600))
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW - 599))
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW + 600))

    def test_expiresAsClockMoves(self) -> None:
        ticket = self.ticketAt(NOW)
        self.clock.now = NOW + 601
        self.assertRejected(PassTicketRejection.INVALID, ticket)

    def test_caseInsensitiveNames(self) -> None:
        self.evaluator.evaluate("ibmuser", "tsoapp", KEY, self.ticketAt(NOW))

    def test_replay(self) -> None:
        ticket = self.ticketAt(NOW)
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, ticket)
        error = self.assertRejected(PassTicketRejection.REPLAYED, ticket)
        self.assertEqual((error.userid, error.applname), ("IBMUSER", "TSOAPP"))
        # Still a replay, however it is spelled and as long as it is valid.
        self.clock.now = NOW + 600
        self.assertRejected(PassTicketRejection.REPLAYED, ticket, userid="ibmuser")

    def test_replayOfTicketFromThePast(self) -> None:
        """
        A ticket is remembered as long as its own second is in the window,
        not for a window from the moment it was used.
        """
        ticket = self.ticketAt(NOW - 500)
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, ticket)
        self.clock.now = NOW + 100
        self.assertRejected(PassTicketRejection.REPLAYED, ticket)
        self.clock.now = NOW + 101
        self.assertRejected(PassTicketRejection.INVALID, ticket)

    def test_otherTicketsOfSameUserStillAccepted(self) -> None:
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW))
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW + 1))
        self.evaluator.evaluate("TOM", "TSOAPP", KEY, self.ticketAt(NOW, "TOM"))

    def test_rejectionDoesNotConsume(self) -> None:
        ticket = self.ticketAt(NOW)
        self.assertRejected(PassTicketRejection.INVALID, ticket, userid="TOM")
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, ticket)

    def test_memoryIsPurged(self) -> None:
        for offset in range(5):
            self.evaluator.evaluate(
                "IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW + offset)
            )
        self.assertEqual(self.evaluator.remembered(), 5)
        # Seconds NOW and NOW + 1 are now out of the window.
        self.clock.now = NOW + 602
        self.assertRejected(PassTicketRejection.INVALID, "AAAAAAAA")
        self.assertEqual(self.evaluator.remembered(), 3)
        self.clock.now = NOW + 605
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW + 605))
        self.assertEqual(self.evaluator.remembered(), 1)

    def test_memoryStaysBounded(self) -> None:
        """
        A steady stream of sign-ons keeps only the last window's worth.
        """
        for step in range(30):
            self.clock.now = NOW + step * 100
            self.evaluator.evaluate(
                "IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW + step * 100)
            )
            self.assertLessEqual(self.evaluator.remembered(), 7)

    def test_wrongUserApplnameOrKey(self) -> None:
        ticket = self.ticketAt(NOW)
        self.assertRejected(PassTicketRejection.INVALID, ticket, userid="IBMUSES")
        self.assertRejected(PassTicketRejection.INVALID, ticket, applname="TSOAPQ")
        self.assertRejected(
            PassTicketRejection.INVALID, ticket, key=bytes.fromhex("0123456789ABCDEF")
        )

    def test_malformedTickets(self) -> None:
        ticket = self.ticketAt(NOW)
        for bad in (
            ticket.lower(),
            ticket[:7],
            ticket + "A",
            "",
            "\u00c4" * 8,
            "ABCD\u0660EFG",
            "ABC DEFG",
            "abcdefgh",
        ):
            self.assertRejected(PassTicketRejection.INVALID, bad)
        # Not even a string: a bug in the caller, but still just a refusal.
        self.assertRejected(PassTicketRejection.INVALID, ticket.encode("ascii"))
        self.assertRejected(PassTicketRejection.INVALID, None)
        # None of those consumed the genuine ticket.
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, ticket)

    def test_invalidInputsOfCaller(self) -> None:
        ticket = self.ticketAt(NOW)
        self.assertRaises(
            InvalidValueError, self.evaluator.evaluate, "TOOLONGID", "A", KEY, ticket
        )
        self.assertRaises(
            InvalidValueError, self.evaluator.evaluate, "U", "A", KEY[:4], ticket
        )

    def test_nearTheEpoch(self) -> None:
        """
        The window is clipped to the 4-byte range rather than failing.
        """
        self.clock.now = 100
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(0))
        self.clock.now = 2**32 + 100
        self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(2**32 - 1))

    def test_customWindow(self) -> None:
        evaluator = PassTicketEvaluator(clock=self.clock, window=0)
        self.assertRaises(
            PassTicketRejected,
            evaluator.evaluate,
            "IBMUSER",
            "TSOAPP",
            KEY,
            self.ticketAt(NOW + 1),
        )
        evaluator.evaluate("IBMUSER", "TSOAPP", KEY, self.ticketAt(NOW))
        self.assertRaises(ValueError, PassTicketEvaluator, window=-1)

    def test_concurrentReplayAcceptedOnce(self) -> None:
        """
        Of many threads presenting the same ticket at once, exactly one wins.
        """
        ticket = self.ticketAt(NOW - 599)
        results: list[object] = []
        barrier = threading.Barrier(8)

        def attempt() -> None:
            barrier.wait()
            try:
                self.evaluator.evaluate("IBMUSER", "TSOAPP", KEY, ticket)
            except PassTicketRejected as error:
                results.append(error.reason)
            else:
                results.append("accepted")

        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(results.count("accepted"), 1)
        self.assertEqual(results.count(PassTicketRejection.REPLAYED), 7)


NAMES = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789@#$", min_size=1, max_size=8
)


class PropertyTests(SynchronousTestCase):
    @settings(max_examples=200, deadline=None)
    @given(
        userid=NAMES,
        applname=NAMES,
        key=st.binary(min_size=8, max_size=8),
        when=st.integers(min_value=0, max_value=2**32 - 1),
    )
    def test_generatedTicketIsAcceptedOnce(
        self, userid: str, applname: str, key: bytes, when: int
    ) -> None:
        ticket = generate_passticket(userid, applname, key, when)
        self.assertTrue(isTicket(ticket))
        evaluator = PassTicketEvaluator(clock=FakeClock(when))
        evaluator.evaluate(userid, applname, key, ticket)
        error = self.assertRaises(
            PassTicketRejected, evaluator.evaluate, userid, applname, key, ticket
        )
        self.assertIs(error.reason, PassTicketRejection.REPLAYED)
