"""
IKE fragmentation (RFC 7383): an encrypted message too large for the path
goes out as several SKF messages, each encrypted and integrity-protected
on its own, and comes back together here.

Why IKE does this itself rather than leave it to IP: a 4096-bit
certificate chain makes IKE_AUTH 2 KB and more, and IP fragments of UDP
are what firewalls and home routers drop first.  An SKF message fits one
IP packet, so nothing on the way sees a fragment.

The reassembler is the part an attacker reaches, so it spends nothing on
what it cannot authenticate: a fragment is checked against the SA's keys
before it is kept, a set may hold at most L{MAX_FRAGMENTS} fragments and
L{MAX_REASSEMBLED_SIZE} octets, one set per direction of an IKE SA (a
newer message ID replaces it), and an incomplete set is dropped after
L{REASSEMBLY_TIMEOUT} seconds.  The engine only hands over fragments of
the message ID it expects, so a flood of forged fragments costs one ICV
check each, as forged SK messages do, and leaves no state behind.

Sans-IO: bytes and a clock reading in, bytes or a reason out.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from nsstwisted.ike.constants import PayloadType
from nsstwisted.ike.errors import IkeDecodeError, IntegrityError
from nsstwisted.ike.message import (
    HEADER_SIZE,
    IkeHeader,
    IkeMessage,
    SkProtector,
    encode_encrypted,
)
from nsstwisted.ike.payloads import GENERIC_HEADER_SIZE, encode_payloads
from nsstwisted.ike.ports import needs_marker

__all__ = [
    "DEFAULT_FRAGMENT_SIZE",
    "MAX_FRAGMENTS",
    "MAX_REASSEMBLED_SIZE",
    "MIN_FRAGMENT_SIZE",
    "REASSEMBLY_TIMEOUT",
    "Abandoned",
    "Fragment",
    "FragmentRefused",
    "Reassembled",
    "Reassembler",
    "decode_fragment",
    "encode_fragments",
    "message_room",
]

DEFAULT_FRAGMENT_SIZE = 1280
"""
The largest IP datagram we send, IP and UDP headers included: IPv6's
minimum MTU (RFC 8200), which every IPv6 path carries whole and nearly
every IPv4 path too; strongSwan's C{fragment_size} default is the same.
"""

MIN_FRAGMENT_SIZE = 576
"""IPv4's minimum reassembly buffer (RFC 791); smaller would be silly."""

MAX_FRAGMENTS = 32
"""
Fragments one message may have.  At 1280 octets a fragment carries about
1,200 octets, so 32 hold some 38 KB: several times the largest IKE_AUTH a
certificate chain makes (strongSwan refuses messages over 10,000 octets).
"""

MAX_REASSEMBLED_SIZE = 32 * 1024
"""
Decrypted octets one reassembly may hold: what 32 fragments of 1280-octet
datagrams carry, and three times what strongSwan accepts at all
(C{charon.max_packet}, 10,000).  Only an authenticated peer can fill it,
and a responder's half-open IKE SA only its one set of requests, so that
the memory a peer can pin is this much per IKE SA it has keys for.
"""

REASSEMBLY_TIMEOUT = 30.0
"""
Seconds an incomplete set is kept from its first fragment on: long enough
for the sender's first retransmissions to fill a gap (strongSwan resends
after 4 and 11 s), short enough that a set that never completes is gone
long before the SA's half-open timeout.
"""

_NUMBERS = struct.Struct(">HH")
_SKF_HEADER_SIZE = GENERIC_HEADER_SIZE + _NUMBERS.size
_UDP_HEADER_SIZE = 8
_MARKER_SIZE = 4


class FragmentRefused(IkeDecodeError):
    """A fragment that is not kept; the reason says why, for the log."""


@dataclass(frozen=True)
class Fragment:
    """
    One SKF message, decoded but not yet decrypted.

    @ivar firstInner: the SKF payload's Next Payload: the first inner
        payload's type in fragment 1, zero (and ignored) in the others.
    @ivar prefix: the octets the ICV covers besides the body: the IKE
        header, the SKF generic header, Fragment Number and Total.
    @ivar body: IV, ciphertext and ICV.
    """

    header: IkeHeader
    number: int
    total: int
    firstInner: int
    prefix: bytes
    body: bytes


def decode_fragment(data: bytes) -> Fragment:
    """
    Decode an SKF message without decrypting it.

    Only a message whose one payload is SKF is accepted: we never put
    plaintext payloads beside an encrypted one, and neither does any
    exchange after IKE_SA_INIT.

    @raise IkeDecodeError: for a malformed header, another first payload,
        an SKF payload that does not fill the message, or fragment
        numbers RFC 7383 section 2.5 forbids (zero, or above the total).
    """
    header = IkeHeader.decode(data)
    if header.nextPayload != PayloadType.SKF:
        raise FragmentRefused(f"first payload {header.nextPayload}, not SKF")
    if len(data) < HEADER_SIZE + _SKF_HEADER_SIZE:
        raise FragmentRefused(f"SKF message of {len(data)} octets")
    firstInner, _, length = struct.unpack_from(">BBH", data, HEADER_SIZE)
    if length != len(data) - HEADER_SIZE:
        raise FragmentRefused(
            f"SKF payload length {length} in a message of {len(data)} octets"
        )
    number, total = _NUMBERS.unpack_from(data, HEADER_SIZE + GENERIC_HEADER_SIZE)
    if number == 0 or total == 0 or number > total:
        raise FragmentRefused(f"fragment number {number} of {total}")
    split = HEADER_SIZE + _SKF_HEADER_SIZE
    return Fragment(header, number, total, firstInner, data[:split], data[split:])


def message_room(datagramSize: int, local: tuple[str, int], remote: int) -> int:
    """
    The octets an IKE message may have so that its datagram (IP header,
    UDP header, non-ESP marker where the ports want one) is at most
    C{datagramSize}.

    @param local: our address and port.
    @param remote: the peer's port.
    """
    ipHeader = 40 if ipaddress.ip_address(local[0]).version == 6 else 20
    marker = _MARKER_SIZE if needs_marker(local[1], remote) else 0
    return datagramSize - ipHeader - _UDP_HEADER_SIZE - marker


def encode_fragments(
    message: IkeMessage, protector: SkProtector, room: int
) -> tuple[bytes, ...]:
    """
    Encode C{message} encrypted: as one SK message if that is at most
    C{room} octets, else as the fewest SKF messages of at most C{room}
    octets each (RFC 7383 section 2.5).

    Each fragment is encrypted on its own, with the fragment numbers in
    what the ICV covers, and all carry the message's header fields; only
    the first names the first inner payload.

    @param room: see L{message_room}.
    @raise ValueError: when C{room} leaves no space for content.
    """
    whole = encode_encrypted(message, protector)
    if len(whole) <= room:
        return (whole,)
    firstInner, plaintext = encode_payloads(message.payloads)
    chunk = _chunk_size(protector, room - HEADER_SIZE - _SKF_HEADER_SIZE)
    pieces = [plaintext[i : i + chunk] for i in range(0, len(plaintext), chunk)]
    total = len(pieces)
    out = []
    for number, piece in enumerate(pieces, start=1):
        skfLength = _SKF_HEADER_SIZE + protector.body_length(len(piece))
        header = message._header(PayloadType.SKF, HEADER_SIZE + skfLength)
        prefix = (
            header.encode()
            + struct.pack(">BBH", firstInner if number == 1 else 0, 0, skfLength)
            + _NUMBERS.pack(number, total)
        )
        out.append(prefix + protector.encrypt(prefix, piece))
    return tuple(out)


def _chunk_size(protector: SkProtector, bodyRoom: int) -> int:
    """The most plaintext octets whose SKF body fits C{bodyRoom}."""
    chunk = bodyRoom
    while chunk > 0 and protector.body_length(chunk) > bodyRoom:
        # body_length grows by at most a block and an ICV over the
        # plaintext, so this walks down a few dozen steps at worst.
        chunk -= max(1, protector.body_length(chunk) - bodyRoom)
    if chunk <= 0:
        raise ValueError(f"{bodyRoom} octets leave no room for an SKF body")
    return chunk


@dataclass(frozen=True)
class Reassembled:
    """
    A whole message out of its fragments: decode C{plaintext} as the
    payload chain that starts with C{firstInner}.
    """

    header: IkeHeader
    firstInner: int
    plaintext: bytes
    count: int


@dataclass(frozen=True)
class Abandoned:
    """An incomplete set given up: timed out, replaced, or over a limit."""

    messageId: int
    response: bool
    held: int
    total: int
    reason: str


@dataclass
class _Set:
    messageId: int
    exchange: int
    total: int
    started: float
    firstInner: int = 0
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class Reassembler:
    """
    The fragments of one IKE SA in reassembly: at most one set of requests
    and one of responses, each for one message ID.

    @ivar abandoned: sets given up since the caller last emptied it, so
        that the engine can tell the operator once per set rather than
        once per fragment.
    """

    def __init__(
        self,
        maxFragments: int = MAX_FRAGMENTS,
        maxSize: int = MAX_REASSEMBLED_SIZE,
        timeout: float = REASSEMBLY_TIMEOUT,
    ) -> None:
        self.maxFragments = maxFragments
        self.maxSize = maxSize
        self.timeout = timeout
        self._sets: dict[bool, _Set] = {}
        self.abandoned: list[Abandoned] = []

    def add(
        self, fragment: Fragment, protector: SkProtector, now: float
    ) -> Reassembled | None:
        """
        Check C{fragment} and keep it; the whole message once the last one
        is in.

        The checks that need no key come first (count, a total smaller
        than before, a duplicate), then the ICV; only an authentic
        fragment may start, replace or grow a set.  A larger total than
        before restarts the set (RFC 7383 section 2.6.2: the sender went
        to smaller fragments).

        @raise FragmentRefused: the fragment is not kept; nothing changed.
        """
        header = fragment.header
        response = header.isResponse
        if fragment.total > self.maxFragments:
            raise FragmentRefused(
                f"message ID {header.messageId} in {fragment.total} fragments"
                f" (at most {self.maxFragments})"
            )
        current = self._sets.get(response)
        if current is not None and current.messageId == header.messageId:
            if fragment.total < current.total:
                raise FragmentRefused(
                    f"fragment {fragment.number} of message ID {header.messageId}"
                    f" says {fragment.total} fragments, earlier ones"
                    f" {current.total}"
                )
            if fragment.total == current.total and fragment.number in current.parts:
                raise FragmentRefused(
                    f"fragment {fragment.number} of message ID {header.messageId} again"
                )
            if header.exchange != current.exchange:
                raise FragmentRefused(
                    f"fragment {fragment.number} of message ID {header.messageId}"
                    f" is of exchange {header.exchange}, earlier ones of"
                    f" {current.exchange}"
                )
        try:
            plaintext = protector.decrypt(fragment.prefix, fragment.body)
        except IntegrityError as error:
            raise FragmentRefused(
                f"fragment {fragment.number} of message ID {header.messageId}: {error}"
            ) from None
        if current is None or current.messageId != header.messageId:
            if current is not None:
                self._abandon(response, f"message ID {header.messageId} began")
            current = self._start(fragment, now)
        elif fragment.total > current.total:
            self._abandon(response, f"the sender went to {fragment.total} fragments")
            current = self._start(fragment, now)
        if current.size + len(plaintext) > self.maxSize:
            self._abandon(response, f"more than {self.maxSize} octets")
            raise FragmentRefused(
                f"message ID {header.messageId} grows past {self.maxSize} octets"
            )
        current.parts[fragment.number] = plaintext
        current.size += len(plaintext)
        if fragment.number == 1:
            current.firstInner = fragment.firstInner
        if len(current.parts) < current.total:
            return None
        del self._sets[response]
        joined = b"".join(current.parts[n] for n in range(1, current.total + 1))
        return Reassembled(header, current.firstInner, joined, current.total)

    def _start(self, fragment: Fragment, now: float) -> _Set:
        header = fragment.header
        started = _Set(header.messageId, header.exchange, fragment.total, now)
        self._sets[header.isResponse] = started
        return started

    def _abandon(self, response: bool, reason: str) -> None:
        gone = self._sets.pop(response, None)
        if gone is not None:
            self.abandoned.append(
                Abandoned(gone.messageId, response, len(gone.parts), gone.total, reason)
            )

    def deadline(self) -> float | None:
        """When the oldest incomplete set times out; None for no set."""
        if not self._sets:
            return None
        return min(s.started for s in self._sets.values()) + self.timeout

    def expire(self, now: float) -> None:
        """Drop the sets whose time is up (into L{abandoned})."""
        for response, current in list(self._sets.items()):
            if current.started + self.timeout <= now:
                self._abandon(response, f"incomplete after {self.timeout:g} seconds")

    def clear(self) -> None:
        """Forget every set (the SA is gone)."""
        self._sets.clear()

    def held(self) -> int:
        """Fragments kept, over both sets (for tests and statistics)."""
        return sum(len(s.parts) for s in self._sets.values())

    def held_octets(self) -> int:
        """Decrypted octets kept, over both sets."""
        return sum(s.size for s in self._sets.values())
