"""
RACF PassTickets, legacy (DES) algorithm: generation and evaluation.

A PassTicket is a one-time password that a trusted program computes from a
user ID, an application name, a secret key shared with the security manager
and the current time, so that it can sign a user on to an application without
knowing the user's password.  The security manager accepts it by computing the
same ticket for every second of a tolerance window around its own clock: the
two clocks need not agree exactly, but the ticket stops working once its
moment has passed.

This module implements the legacy algorithm (a 56-bit DES key written as 16
hex digits).  It deliberately imports nothing from Twisted: the arithmetic is
synchronous CPU work that the daemons run in a thread pool and that the
command runs directly.

The algorithm, in outline (names as in IBM's description)::

    R1 = DES(key, userid8)              userid8, applname8: EBCDIC, upper case,
    R2 = DES(key, R1 XOR applname8)     left-justified, blank-padded to 8 bytes
    R4 = R2[0:4] XOR time4              time4: big-endian seconds since 1970
    R5 = time_coder(R4)                 six DES-keyed Feistel rounds
    ticket = translate(R5)              8 characters of A-Z 0-9
"""

from __future__ import annotations

import enum
import heapq
import hmac
import itertools
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence

# Single DES lives with the other legacy ciphers from cryptography 43 on.
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from nsstwisted.security.errors import InvalidValueError, PassTicketError

__all__ = [
    "ALPHABET",
    "PASSTICKET_WINDOW",
    "PassTicketEvaluator",
    "PassTicketRejected",
    "PassTicketRejection",
    "des_ecb",
    "generate_passticket",
    "parse_key",
    "permute",
    "time_coder",
    "time_coder_pad",
    "translate",
]

PASSTICKET_WINDOW = 600
"""
How far, in seconds, the moment a ticket was generated for may lie from the
evaluating clock, in either direction (RACF's fixed +/-10 minutes).
"""

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
"""The 36 characters a PassTicket is written in, in the order step 6 indexes."""

_MAX_TIME = 2**32 - 1
# The ticket carries the time in 4 bytes, so that is the only range of
# moments the algorithm can express.

_NAME = re.compile(r"[A-Z0-9@#$]{1,8}")
_KEY = re.compile(r"[0-9A-Fa-f]{16}")

_PERMUTATIONS: tuple[tuple[int, ...], ...] = (
    (10, 2, 12, 4, 14, 6, 16, 8, 9, 1, 11, 3, 13, 5, 15, 7),
    (1, 10, 3, 12, 13, 16, 7, 15, 9, 2, 11, 4, 5, 14, 8, 6),
    (3, 10, 1, 12, 13, 16, 9, 15, 7, 2, 14, 4, 5, 11, 8, 6),
    (10, 4, 12, 2, 14, 8, 16, 6, 9, 1, 13, 3, 11, 5, 15, 7),
    (4, 10, 12, 1, 8, 16, 14, 5, 9, 2, 13, 3, 11, 7, 15, 6),
    (1, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2),
)
# Round i's table lists, for output bits 1..16 (bit 1 the most significant),
# the input bit each one is copied from.

_TRANSLATE_STARTS = (31, 3, 7, 11, 15, 19, 23, 27)
# The bit of R5 (bit 1 the most significant) where each ticket character's
# 6-bit group starts; groups run on past bit 32 back to bit 1.


def _permutation_lookup(table: Sequence[int]) -> tuple[list[int], list[int]]:
    """
    Precompute a 16-bit bit permutation as two 256-entry tables, one per input
    byte, so that evaluation, which runs six permutations for each of some
    twelve hundred candidate seconds, does two look-ups instead of sixteen bit
    operations.
    """
    high = [0] * 256
    low = [0] * 256
    for output_bit, input_bit in enumerate(table, start=1):
        output_mask = 1 << (16 - output_bit)
        if input_bit <= 8:
            source, shift = high, 8 - input_bit
        else:
            source, shift = low, 16 - input_bit
        for value in range(256):
            if (value >> shift) & 1:
                source[value] |= output_mask
    return high, low


_PERMUTATION_LOOKUPS = tuple(_permutation_lookup(t) for t in _PERMUTATIONS)


def des_ecb(key: bytes) -> Callable[[bytes], bytes]:
    """
    Return a function that DES-encrypts any whole number of 8-byte blocks
    under C{key}, each block on its own (ECB).

    C{cryptography} offers single DES only as Triple DES with K1 = K2 = K3:
    encrypting, decrypting and encrypting again under one key is a single
    encryption.  The key is tripled here rather than passed as 8 bytes
    because C{cryptography} deprecates its implicit 8-byte expansion.  The
    low bit of each key byte is DES parity and is ignored, as RACF ignores it.

    One cipher context serves every block: ECB keeps no state between
    blocks, and building a context per block would dominate the cost of
    evaluation.  The function is therefore not safe to share between threads;
    build one per use.

    @param key: the 8-byte DES key.
    """
    if len(key) != 8:
        raise InvalidValueError("a PassTicket key must be 8 bytes (16 hex digits)")
    return Cipher(TripleDES(key * 3), modes.ECB()).encryptor().update  # noqa: S305


def parse_key(hex16: str) -> bytes:
    """
    Turn the key as an administrator writes it (RACF's C{KEYMASKED(...)}
    value: 16 hex digits) into the 8 key bytes.

    Stricter than L{bytes.fromhex} on purpose: a key with blanks or the wrong
    length is a typing mistake that should fail loudly rather than produce a
    key the other side does not share.

    @raise InvalidValueError: if C{hex16} is not exactly 16 hex digits.  The
        message never repeats the value, which may be most of a secret key.
    """
    if not isinstance(hex16, str) or _KEY.fullmatch(hex16) is None:
        raise InvalidValueError("a PassTicket key must be exactly 16 hex digits")
    return bytes.fromhex(hex16)


def _ebcdic_name(value: str, what: str) -> bytes:
    """
    Validate a user ID or application name and return it upper-cased in
    EBCDIC, unpadded.

    Code page 500 stands in for 1047 (which Python lacks): they agree on every
    character a valid name may hold.
    """
    upper = value.upper() if isinstance(value, str) else None
    if upper is None or _NAME.fullmatch(upper) is None:
        raise InvalidValueError(
            f"{what} {value!r} is not 1 to 8 characters of A-Z, 0-9, @, # and $"
        )
    return upper.encode("cp500")


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != 8:
        raise InvalidValueError("a PassTicket key must be 8 bytes (16 hex digits)")


def _check_time(when: int) -> None:
    if isinstance(when, bool) or not isinstance(when, int):
        raise InvalidValueError("a PassTicket time must be a whole number of seconds")
    if not 0 <= when <= _MAX_TIME:
        raise InvalidValueError(
            f"a PassTicket time must lie between 0 and {_MAX_TIME} seconds"
            " since 1970 (4 bytes)"
        )


def permute(block: bytes, round_number: int) -> bytes:
    """
    Apply round C{round_number}'s bit permutation (1 to 6) to a 2-byte block.

    The permutations are what stops the time coder from being a plain Feistel
    network; exposed so the published round-1 vector can be checked directly.
    """
    if len(block) != 2:
        raise ValueError("a time-coder half is 2 bytes")
    if not 1 <= round_number <= 6:
        raise ValueError("the time coder has rounds 1 to 6")
    high, low = _PERMUTATION_LOOKUPS[round_number - 1]
    return (high[block[0]] | low[block[1]]).to_bytes(2, "big")


def time_coder_pad(userid: str) -> tuple[bytes, bytes]:
    """
    Return the two 6-byte pads the time coder appends to its 2-byte half to
    make a DES block: the EBCDIC user ID padded with X'55' to 12 bytes, split
    in two.  Feeding the user ID into every round ties the time encoding to
    the user, not only to the key.

    @raise InvalidValueError: if C{userid} is not a valid user ID.
    """
    pad = _ebcdic_name(userid, "user ID").ljust(12, b"\x55")
    return pad[:6], pad[6:]


def _time_coder_many(
    encrypt: Callable[[bytes], bytes],
    r4s: Sequence[int],
    pads: tuple[bytes, bytes],
) -> list[int]:
    """
    Run the six time-coder rounds on many 32-bit R4 values at once.

    Each round is one call into the cipher with every candidate's block
    concatenated, so a full-window evaluation costs six calls rather than
    several thousand.
    """
    lefts = [r4 >> 16 for r4 in r4s]
    rights = [r4 & 0xFFFF for r4 in r4s]
    for round_number in range(1, 7):
        pad = pads[(round_number - 1) % 2]
        encrypted = encrypt(b"".join(r.to_bytes(2, "big") + pad for r in rights))
        high, low = _PERMUTATION_LOOKUPS[round_number - 1]
        permuted = []
        for index, left in enumerate(lefts):
            offset = 8 * index
            mixed = ((encrypted[offset] << 8) | encrypted[offset + 1]) ^ left
            permuted.append(high[mixed >> 8] | low[mixed & 0xFF])
        lefts, rights = rights, permuted
    return [(left << 16) | right for left, right in zip(lefts, rights, strict=True)]


def time_coder(key: bytes, r4: bytes, userid: str) -> bytes:
    """
    Encode the 4-byte value R4 (the time folded into the user and application
    digest) with the time coder's six rounds, giving R5.

    @param key: the 8-byte DES key.
    @param r4: 4 bytes.
    @param userid: the user ID, which supplies the pads.
    """
    _check_key(key)
    if len(r4) != 4:
        raise ValueError("R4 is 4 bytes")
    (r5,) = _time_coder_many(
        des_ecb(key), [int.from_bytes(r4, "big")], time_coder_pad(userid)
    )
    return r5.to_bytes(4, "big")


def _translate_int(r5: int) -> str:
    characters = []
    for start in _TRANSLATE_STARTS:
        # Rotate bit `start` up to the top, then keep the top six bits.
        rotated = ((r5 << (start - 1)) | (r5 >> (33 - start))) & 0xFFFFFFFF
        characters.append(ALPHABET[(rotated >> 26) % 36])
    return "".join(characters)


def translate(r5: bytes) -> str:
    """
    Spell the 4-byte time-coder output as the 8-character ticket.

    The eight 6-bit groups overlap (48 bits drawn from 32) and are reduced
    modulo 36, so the spelling cannot be undone: evaluation must regenerate
    candidates and compare, never decode.
    """
    if len(r5) != 4:
        raise ValueError("R5 is 4 bytes")
    return _translate_int(int.from_bytes(r5, "big"))


class _Generator:
    """
    The part of the algorithm fixed by user ID, application name and key,
    computed once so that an evaluation pays only for the time-dependent
    rounds of each candidate second.
    """

    def __init__(self, userid: str, applname: str, key: bytes) -> None:
        userid_ebcdic = _ebcdic_name(userid, "user ID")
        applname_ebcdic = _ebcdic_name(applname, "application name")
        _check_key(key)
        self._encrypt = des_ecb(key)
        r1 = self._encrypt(userid_ebcdic.ljust(8, b"\x40"))
        applname8 = applname_ebcdic.ljust(8, b"\x40")
        r2 = self._encrypt(bytes(a ^ b for a, b in zip(r1, applname8, strict=True)))
        self._r3 = int.from_bytes(r2[:4], "big")
        self._pads = time_coder_pad(userid)

    def tickets(self, times: Sequence[int]) -> list[str]:
        r5s = _time_coder_many(
            self._encrypt, [self._r3 ^ when for when in times], self._pads
        )
        return [_translate_int(r5) for r5 in r5s]


def generate_passticket(userid: str, applname: str, key: bytes, when: int) -> str:
    """
    Generate the legacy PassTicket that lets C{userid} sign on to C{applname}
    at second C{when}.

    The same inputs in the same second always give the same ticket; that is
    what lets the evaluating side recompute it, and also why RACF permits one
    ticket per user and application per second.

    @param userid: the user ID, 1 to 8 characters of A-Z 0-9 @ # $ (lower
        case is raised).
    @param applname: the application name, same rules.
    @param key: the 8-byte DES key (see L{parse_key}).
    @param when: seconds since 1970-01-01 00:00:00 UTC, 0 to 2**32-1.
    @return: 8 characters of L{ALPHABET}.
    @raise InvalidValueError: if any input breaks those rules.
    """
    generator = _Generator(userid, applname, key)
    _check_time(when)
    (ticket,) = generator.tickets([when])
    return ticket


class PassTicketRejection(enum.Enum):
    """
    Why a PassTicket was refused; the two need different operator responses
    (a clock or key problem against a possible attack).
    """

    INVALID = "invalid"
    """
    No second in the window produces this ticket: wrong key, user or
    application, a clock skew beyond the window, an expired ticket, or not a
    ticket at all.
    """

    REPLAYED = "replayed"
    """
    The ticket is genuine but was already accepted for this user and
    application while it is still inside its window.
    """


class PassTicketRejected(PassTicketError):
    """
    A PassTicket was presented and refused.

    The message names the user and application but never the ticket or the
    key, so it can be logged.

    @ivar reason: a L{PassTicketRejection}.
    @ivar userid: the user ID, upper case.
    @ivar applname: the application name, upper case.
    """

    def __init__(self, reason: PassTicketRejection, userid: str, applname: str):
        if reason is PassTicketRejection.REPLAYED:
            text = (
                f"PassTicket for user {userid} and application {applname}"
                " was already used"
            )
        else:
            text = (
                f"PassTicket for user {userid} and application {applname}"
                " is not valid at this time"
            )
        super().__init__(text)
        self.reason = reason
        self.userid = userid
        self.applname = applname


def _outward(centre: int, low: int, high: int) -> Iterator[int]:
    """
    Yield every integer of [low, high], nearest to C{centre} first: tickets
    are usually evaluated moments after generation, so the match is almost
    always found in the first few candidates.
    """
    yield centre
    for distance in range(1, max(centre - low, high - centre) + 1):
        if centre + distance <= high:
            yield centre + distance
        if centre - distance >= low:
            yield centre - distance


def _batches(candidates: Iterator[int]) -> Iterator[list[int]]:
    """
    Group candidates in batches of 1, 2, 4, ... so that an early match costs
    next to nothing while a full scan still makes few calls into the cipher.
    """
    size = 1
    while True:
        batch = list(itertools.islice(candidates, size))
        if not batch:
            return
        yield batch
        size *= 2


class PassTicketEvaluator:
    """
    Accept or refuse PassTickets against a clock, each ticket once.

    One evaluator must serve every evaluation for the applications it
    protects: replay protection is only as wide as the memory of the instance
    that is asked.  It is safe to call from several threads.

    Accepted tickets are remembered only while they could still be accepted
    (their matched second is within the window of the clock), so memory is
    bounded by the acceptance rate times the window.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        window: int = PASSTICKET_WINDOW,
    ) -> None:
        """
        @param clock: returns the current time in seconds since the epoch; a
            parameter so tests can control it.
        @param window: the tolerance in seconds, each way.
        """
        if window < 0:
            raise ValueError("the PassTicket window cannot be negative")
        self._clock = clock
        self._window = window
        self._lock = threading.Lock()
        self._accepted: dict[tuple[str, str, str], int] = {}
        self._expiry: list[tuple[int, tuple[str, str, str]]] = []

    def remembered(self) -> int:
        """
        Return how many accepted tickets are held for replay detection (for
        monitoring, and to show that memory stays bounded).
        """
        with self._lock:
            return len(self._accepted)

    def _forget(self, now: float) -> None:
        # Caller holds the lock.  Entries go in only when first accepted and
        # leave only here, so heap and dictionary stay in step.
        while self._expiry and self._expiry[0][0] < now - self._window:
            _, entry = heapq.heappop(self._expiry)
            del self._accepted[entry]

    def _match(self, generator: _Generator, ticket: str, now: float) -> int | None:
        low = max(0, math.ceil(now - self._window))
        high = min(_MAX_TIME, math.floor(now + self._window))
        if low > high:
            return None
        centre = min(max(round(now), low), high)
        wanted = ticket.encode("ascii")
        for batch in _batches(_outward(centre, low, high)):
            for when, candidate in zip(batch, generator.tickets(batch), strict=True):
                # Constant-time: a byte-by-byte comparison would tell a
                # prober how much of a guess was right.
                if hmac.compare_digest(candidate.encode("ascii"), wanted):
                    return when
        return None

    def evaluate(self, userid: str, applname: str, key: bytes, ticket: str) -> int:
        """
        Accept C{ticket} as C{userid}'s sign-on to C{applname}, or raise.

        Success also consumes the ticket: the same ticket for the same user
        and application is refused as long as it could still be accepted.

        @return: the second the ticket was generated for, which identifies
            it (with the user and application) where its use is recorded.

        @param key: the application's 8-byte DES key.
        @param ticket: as presented; anything but 8 characters of
            L{ALPHABET} is refused as L{PassTicketRejection.INVALID}.
        @raise PassTicketRejected: if the ticket is refused; C{reason} says
            why.
        @raise InvalidValueError: if the user ID, application name or key is
            malformed.  Those come from the caller's own records, not from the
            ticket's presenter, so they indicate a bug or bad configuration
            rather than a refused sign-on.
        """
        generator = _Generator(userid, applname, key)
        userid = userid.upper()
        applname = applname.upper()
        now = self._clock()
        well_formed = (
            isinstance(ticket, str)
            and len(ticket) == 8
            and all(character in ALPHABET for character in ticket)
        )
        matched = self._match(generator, ticket, now) if well_formed else None
        with self._lock:
            self._forget(now)
            if matched is None:
                raise PassTicketRejected(PassTicketRejection.INVALID, userid, applname)
            entry = (userid, applname, ticket)
            if entry in self._accepted:
                raise PassTicketRejected(PassTicketRejection.REPLAYED, userid, applname)
            self._accepted[entry] = matched
            heapq.heappush(self._expiry, (matched, entry))
        return matched
