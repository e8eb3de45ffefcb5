"""
Fuzz targets, and the real messages that seed their corpora.

Each target takes the fuzzer's bytes and checks what must hold whatever
they are; a broken rule raises, which the fuzzer reports as a crash and
the regression test (L{tests.test_fuzz_regressions}) as a failure.  Plain
Python, no atheris: the normal suite imports this module to replay the
inputs the fuzzer found (L{tests.fuzz.run} drives it under atheris).

  - L{nss_decoder}: the NSS protocol's stream decoder gives frames or
    L{DecodeFailure}s, the same however the stream is cut, and every frame
    it gives re-encodes to itself.
  - L{nmi_decoder}: the same for the NMI.
  - L{ike_message}: the IKE message decoder gives a header and payloads
    or L{IkeDecodeError}, and what it gives re-encodes to itself (less
    what the encoder deliberately does not carry: L{_as_sent}).
  - L{ike_auth}: a real IKE SA pair up to IKE_AUTH; the fuzzer's bytes are
    the inside of the initiator's SK payload (first octet: the first inner
    payload type), encrypted and integrity-protected with the SA's real
    keys, so that they reach the responder's IKE_AUTH logic.  Nothing may
    escape either engine, and the responder's SA must end established or
    removed, never half-open.
  - L{ike_fragments}: the same half-open pair, which agreed on RFC 7383
    fragmentation; the fuzzer's bytes are a sequence of records, each an
    SKF message to the responder (encrypted with the SA's real keys, or
    forged, or raw octets after a real header) or a step of the clock.
    Nothing may escape, the reassembler may never hold more than its
    limits, and once every timeout has passed it holds nothing and the
    responder's SA is established or removed.
"""

from __future__ import annotations

import copy
import dataclasses
import struct
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from nsstwisted.ike.constants import ExchangeType, HeaderFlag, PayloadType
from nsstwisted.ike.errors import IkeDecodeError
from nsstwisted.ike.fragments import (
    MAX_FRAGMENTS,
    MAX_REASSEMBLED_SIZE,
    REASSEMBLY_TIMEOUT,
)
from nsstwisted.ike.message import (
    HEADER_SIZE,
    IkeHeader,
    IkeMessage,
    decode_message,
    encode_message,
)
from nsstwisted.ike.payloads import (
    GENERIC_HEADER_SIZE,
    EncryptedPayload,
    Payload,
    SaPayload,
)
from nsstwisted.ike.sa import IkeState
from nsstwisted.wire.codes import REASON_RETURN_CODE, ReasonCode, ReturnCode
from nsstwisted.wire.nmi import NmiDecodeFailure, NmiDecoder, NmiMessage
from nsstwisted.wire.nmi import encode_message as encode_nmi
from nsstwisted.wire.nss import DecodeFailure, NssDecoder, NssFrame, encode_frame

# At the top, not where used: the fuzz driver instruments for coverage
# only the modules imported with this one, and the IKE engine comes in
# through tests.ikepeers.
from tests.ikepeers import Wire, child_policy, leaf, pair, pki

__all__ = [
    "SEEDS",
    "TARGETS",
    "ike_auth",
    "ike_fragments",
    "ike_message",
    "nmi_decoder",
    "nss_decoder",
]


class BrokenRule(AssertionError):
    """What must hold for every input did not."""


def _check_codes(returnCode: int, reasonCode: int) -> None:
    """A failure is sent with the return code its reason goes with."""
    wanted = REASON_RETURN_CODE.get(ReasonCode(reasonCode))
    if wanted is not None and ReturnCode(returnCode) is not wanted:
        raise BrokenRule(f"reason {reasonCode} sent with return code {returnCode}")


def _cut(data: bytes) -> tuple[bytes, int]:
    """The stream (all but the first octet) and where to cut it."""
    stream = data[1:]
    return stream, (data[0] * len(stream)) // 256 if data else 0


def nss_decoder(data: bytes) -> None:
    stream, cut = _cut(data)
    whole = NssDecoder().feed(stream)
    decoder = NssDecoder()
    pieces = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    if whole != pieces:
        raise BrokenRule(f"cut at {cut}: {whole!r} != {pieces!r}")
    for result in whole:
        if isinstance(result, DecodeFailure):
            _check_codes(result.returnCode, result.reasonCode)
            continue
        if not isinstance(result, NssFrame):
            raise BrokenRule(f"the decoder gave {result!r}")
        again = NssDecoder().feed(encode_frame(result))
        if again != [result]:
            raise BrokenRule(f"{result!r} re-encodes to {again!r}")


def nmi_decoder(data: bytes) -> None:
    stream, cut = _cut(data)
    whole = NmiDecoder().feed(stream)
    decoder = NmiDecoder()
    pieces = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    if whole != pieces:
        raise BrokenRule(f"cut at {cut}: {whole!r} != {pieces!r}")
    for result in whole:
        if isinstance(result, NmiDecodeFailure):
            _check_codes(result.returnCode, result.reasonCode)
            continue
        if not isinstance(result, NmiMessage):
            raise BrokenRule(f"the decoder gave {result!r}")
        again = NmiDecoder().feed(encode_nmi(result))
        if again != [result]:
            raise BrokenRule(f"{result!r} re-encodes to {again!r}")


def ike_message(data: bytes) -> None:
    try:
        header, payloads = decode_message(data)
    except IkeDecodeError:
        return
    message = IkeMessage(
        header.spiI,
        header.spiR,
        header.exchange,
        header.messageId,
        header.isResponse,
        header.isInitiator,
        tuple(payloads),
    )
    again = decode_message(encode_message(message))[1]
    if again != [_as_sent(p) for p in payloads]:
        raise BrokenRule(f"{payloads!r} re-encodes to {again!r}")


def _as_sent(payload: Payload) -> Payload:
    """
    C{payload} as encoding it keeps it: a transform's unknown attributes
    are noted when decoded (selection skips such a transform) but neither
    kept nor written (L{Transform}).
    """
    if not isinstance(payload, SaPayload):
        return payload
    return SaPayload(
        tuple(
            dataclasses.replace(
                proposal,
                transforms=tuple(
                    dataclasses.replace(transform, unknownAttributes=False)
                    for transform in proposal.transforms
                ),
            )
            for proposal in payload.proposals
        )
    )


def _pair() -> Any:
    return pair(
        leftChildren=(child_policy(),),
        rightChildren=(child_policy(local="10.1.0.0/24", remote="10.2.0.0/24"),),
        leftKey="p256",
        rightKey="p256",
    )


def _half_open() -> tuple[Any, Any, Any]:
    """
    A pair of engines (L{tests.ikepeers}) whose IKE_SA_INIT is done and
    whose initiator's IKE_AUTH request was held back: the wire, the
    initiator's SA, and the held request.
    """
    wire = _pair()
    held: list[bytes] = []

    def hold(sender: Any, message: bytes) -> bytes | None:
        if message[18] == ExchangeType.IKE_AUTH:
            held.append(message)
            return None
        return message

    wire.tamper = hold
    start = wire.left.engine.initiate("to-right", "host-host", wire.now)
    wire.handle(wire.left, start)
    wire.run()
    wire.tamper = None
    (sa,) = wire.left.engine.sas()
    return wire, sa, held[0]


def _seal(sa: Any, message: bytes, firstInner: int, plaintext: bytes) -> bytes:
    """
    C{plaintext} as the inside of the SK payload of C{message}'s header,
    encrypted and integrity-protected with the keys of C{sa}, the
    initiator's, so that the responder's keys open it.
    """
    header = IkeHeader.decode(message)
    protector = sa.sendProtector
    bodyLength = protector.body_length(len(plaintext))
    skLength = GENERIC_HEADER_SIZE + bodyLength
    outer = IkeHeader(
        header.spiI,
        header.spiR,
        PayloadType.SK,
        header.exchange,
        HeaderFlag.INITIATOR,
        header.messageId,
        HEADER_SIZE + skLength,
    )
    prefix = outer.encode() + struct.pack(">BBH", firstInner, 0, skLength)
    return bytes(prefix + protector.encrypt(prefix, plaintext))


_HALF_OPEN: tuple[Any, Any, bytes] | None = None


def _copy_of_half_open() -> tuple[Any, Any, bytes]:
    """
    A copy of one L{_half_open} pair, the same for every input: its keys,
    nonces and SPIs are those the seed's AUTH signed, so that a seed
    mutated elsewhere than in AUTH still gets past authentication into
    the CHILD_SA logic.  The engines are copied, the credentials shared.
    """
    global _HALF_OPEN
    if _HALF_OPEN is None:
        _HALF_OPEN = _half_open()
    wire, sa, request = _HALF_OPEN
    left, right = (
        dataclasses.replace(
            side, engine=copy.deepcopy(side.engine), held=[], events=[], sent=[]
        )
        for side in (wire.left, wire.right)
    )
    fresh = Wire(left, right)
    fresh.now = wire.now
    return fresh, sa, request


def ike_auth(data: bytes) -> None:
    if not data:
        return
    wire, sa, request = _copy_of_half_open()
    sealed = _seal(sa, request, data[0], data[1:])
    responder = wire.right
    wire.handle(
        responder,
        responder.engine.receive(
            sealed, responder.endpoint, wire.left.endpoint, wire.now
        ),
    )
    wire.run()
    for left in responder.engine.sas():
        if left.state not in (IkeState.ESTABLISHED, IkeState.DELETED):
            raise BrokenRule(f"the responder's SA is left {left.state.value}")


def ike_auth_seed() -> bytes:
    """The initiator's real IKE_AUTH inside: first inner type, then the payloads."""
    wire, _, request = _copy_of_half_open()
    (responderSa,) = wire.right.engine.sas()
    _, outer = decode_message(request)
    encrypted = outer[-1]
    assert isinstance(encrypted, EncryptedPayload)
    prefix = request[: len(request) - len(encrypted.data)]
    plaintext: bytes = responderSa.receiveProtector.decrypt(prefix, encrypted.data)
    return bytes([encrypted.firstInner]) + plaintext


_RECORD = struct.Struct(">BHHH")
"""A record of L{ike_fragments}: kind, Fragment Number, Total, length."""


def _fragment(
    sa: Any, request: bytes, kind: int, number: int, total: int, body: bytes
) -> bytes:
    """
    One SKF message on C{request}'s header for L{ike_fragments}: C{kind}'s
    low two bits say how (0 encrypted with the initiator's real keys, 1 a
    forged body, 2 C{body} raw after the header), bit 2 that it is for the
    next message ID instead of IKE_AUTH's, and the high bits are the first
    inner payload type's low bits (of 33 to 48).
    """
    header = IkeHeader.decode(request)
    messageId = header.messageId + (1 if kind & 4 else 0)
    firstInner = 33 + (kind >> 4) if number == 1 else 0
    if kind & 3 == 0:
        length = _SKF_NUMBERS + sa.sendProtector.body_length(len(body))
    else:
        length = _SKF_NUMBERS + len(body)
    outer = IkeHeader(
        header.spiI,
        header.spiR,
        PayloadType.SKF,
        header.exchange,
        HeaderFlag.INITIATOR,
        messageId,
        HEADER_SIZE + length,
    )
    if kind & 3 == 2:
        return bytes(outer.encode() + body)
    prefix = (
        outer.encode()
        + struct.pack(">BBH", firstInner, 0, length)
        + struct.pack(">HH", number, total)
    )
    if kind & 3 == 0:
        return bytes(prefix + sa.sendProtector.encrypt(prefix, body))
    return bytes(prefix + body)


_SKF_NUMBERS = GENERIC_HEADER_SIZE + 4


def _check_reassembly(responder: Any) -> None:
    for sa in responder.engine.sas():
        reassembler = sa.reassembler
        if reassembler.held() > 2 * MAX_FRAGMENTS:
            raise BrokenRule(f"{reassembler.held()} fragments held")
        if reassembler.held_octets() > 2 * MAX_REASSEMBLED_SIZE:
            raise BrokenRule(f"{reassembler.held_octets()} octets held")


def ike_fragments(data: bytes) -> None:
    wire, sa, request = _copy_of_half_open()
    responder = wire.right
    while len(data) >= _RECORD.size:
        kind, number, total, length = _RECORD.unpack_from(data)
        body = data[_RECORD.size : _RECORD.size + length]
        data = data[_RECORD.size + length :]
        if kind & 3 == 3:
            wire.advance(float(number % 64))
            continue
        message = _fragment(sa, request, kind, number, total, body)
        wire.handle(
            responder,
            responder.engine.receive(
                message, responder.endpoint, wire.left.endpoint, wire.now
            ),
        )
        wire.run()
        _check_reassembly(responder)
    wire.advance(REASSEMBLY_TIMEOUT + wire.right.engine.settings.halfOpenTimeout)
    for left in responder.engine.sas():
        if left.state not in (IkeState.ESTABLISHED, IkeState.DELETED):
            raise BrokenRule(f"the responder's SA is left {left.state.value}")
        if left.reassembler.held():
            raise BrokenRule(f"{left.reassembler.held()} fragments held at the end")


def ike_fragments_seed(pieces: int) -> bytes:
    """The real IKE_AUTH inside, in C{pieces} authentic fragment records."""
    inside = ike_auth_seed()
    firstInner, plaintext = inside[0], inside[1:]
    size = -(-len(plaintext) // pieces)
    records = b""
    for index in range(pieces):
        chunk = plaintext[index * size : (index + 1) * size]
        kind = (firstInner - 33) << 4 if index == 0 else 0
        records += _RECORD.pack(kind, index + 1, pieces, len(chunk)) + chunk
    return records


TARGETS: dict[str, Callable[[bytes], None]] = {
    "nss": nss_decoder,
    "nmi": nmi_decoder,
    "ike-message": ike_message,
    "ike-auth": ike_auth,
    "ike-fragments": ike_fragments,
}


def _examples(strategy: Any, count: int) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(count):
            yield strategy.example()


def _nss_seeds() -> Iterator[bytes]:
    from cryptography.hazmat.primitives.serialization import Encoding

    from nsstwisted.wire.nss import (
        CaListReply,
        SignatureSchemeCode,
        SignReply,
        VerifyRequest,
    )
    from tests.strategies import nss_frames

    certificate = leaf("peer.iked.test", "p256")[0].public_bytes(Encoding.DER)
    ca = pki().ca.public_bytes(Encoding.DER)
    for message in (
        VerifyRequest(
            certificate, (ca,), SignatureSchemeCode.ECDSA_SHA256, bytes(32), None, b"s"
        ),
        SignReply(b"\x30\x06\x02\x01\x01\x02\x01\x01", certificate),
        CaListReply((ca,)),
    ):
        yield b"\x00" + encode_frame(NssFrame(7, message))
    for frame in _examples(nss_frames(), 40):
        yield b"\x80" + encode_frame(frame)


def _nmi_seeds() -> Iterator[bytes]:
    from tests.strategies import nmi_valid_messages

    for message in _examples(nmi_valid_messages(), 40):
        yield b"\x80" + encode_nmi(message)


def _ike_message_seeds() -> Iterator[bytes]:
    wire = _pair()
    seen: list[bytes] = []

    def record(sender: Any, message: bytes) -> bytes:
        seen.append(message)
        return message

    wire.tamper = record
    wire.handle(wire.left, wire.left.engine.initiate("to-right", "host-host", wire.now))
    wire.run()
    yield from seen


SEEDS: dict[str, Callable[[], Iterator[bytes]]] = {
    "nss": _nss_seeds,
    "nmi": _nmi_seeds,
    "ike-message": _ike_message_seeds,
    "ike-auth": lambda: iter([ike_auth_seed()]),
    "ike-fragments": lambda: (ike_fragments_seed(n) for n in (1, 2, 3, 7)),
}
"""Real messages for each target's corpus, made by the real encoders and engines."""
