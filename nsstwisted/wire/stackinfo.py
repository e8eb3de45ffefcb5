"""
The records of three stack monitoring requests: C{NMsec_GET_SUMMARY} (the
NMsecStatistics counters), C{NMsec_GET_IPINTERFACES} (the NMsecInterface
entries behind C{ipsec -i display}) and C{NMsec_GET_PORTTRAN} (the
NMsecPortTran entries behind C{ipsec -o display}).

IBM documents the first 52 bytes of NMsecStatistics (the phase 1
counters) and nothing of the other two.  The rest is ours, made after
L{nsstwisted.wire.filters}: a stack record naming the stack that answered,
then one fixed-size entry per item.  As everywhere in the NMI
(C{docs/nmi.md} section 15), text is blank-padded ASCII and integers are
big-endian.

The codec is strict and total: what the encoder refuses with C{ValueError}
the decoder refuses with L{FieldDecodeError}, and the decoder raises
nothing else.  The rules live in the constructors (L{StatisticsInfo},
L{InterfaceInfo}, L{PortTranslationInfo}).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from nsstwisted.wire.entries import address_problem, check_unsigned, single_entry
from nsstwisted.wire.fields import FieldDecodeError, FieldValueError, FixedText
from nsstwisted.wire.filters import NAME_PATTERN
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType, NmiRecord, NmiSection
from nsstwisted.wire.nss import STACK_NAME_PATTERN

__all__ = [
    "ADDRESS_SIZE",
    "INTERFACE_NAME_PATTERN",
    "INTERFACE_SIZE",
    "PORTTRAN_SIZE",
    "PROTOCOLS",
    "STACK_REQUESTS",
    "STACK_SIZE",
    "STATISTICS_FIELDS",
    "STATISTICS_SIZE",
    "InterfaceInfo",
    "PortTranslationInfo",
    "StatisticsInfo",
    "decode_interface",
    "decode_interfaces_reply",
    "decode_porttran",
    "decode_porttran_reply",
    "decode_statistics",
    "decode_summary_reply",
    "encode_interface",
    "encode_interfaces_reply",
    "encode_porttran",
    "encode_porttran_reply",
    "encode_statistics",
    "encode_summary_reply",
]

ADDRESS_SIZE = 48
"""The width of an address field, as in NMsecNSS and NMsecIPFilter."""

STACK_SIZE = 8
"""The bytes of the stack record's one entry: the stack's name."""

STATISTICS_SIZE = 112
"""The bytes of one NMsecStatistics entry."""

INTERFACE_SIZE = 72
"""The bytes of one NMsecInterface entry."""

PORTTRAN_SIZE = 112
"""The bytes of one NMsecPortTran entry."""

INTERFACE_NAME_PATTERN = re.compile(r"[\x21-\x2e\x30-\x39\x3b-\x7e]{1,15}")
"""
A Linux interface name: at most 15 bytes (IFNAMSIZ less its NUL), printable
ASCII without blanks, C{/} or C{:}, as the kernel allows them.
"""

STACK_REQUESTS = frozenset(
    {
        NmiMessageType.GET_SUMMARY,
        NmiMessageType.GET_IPINTERFACES,
        NmiMessageType.GET_PORTTRAN,
    }
)
"""The three requests whose replies this module lays out."""

PROTOCOLS = {6: "TCP", 17: "UDP"}
"""The protocols a port translation may be for, with their report names."""

_STACK_NAME = FixedText(STACK_SIZE, "ascii", STACK_NAME_PATTERN)
_ADDRESS = FixedText(ADDRESS_SIZE, "ascii")
_INTERFACE_NAME = FixedText(16, "ascii", INTERFACE_NAME_PATTERN)
_TUNNEL_ID = FixedText(48, "ascii", NAME_PATTERN)

# Phase 1: active, in progress, expired (4 each); local and remote
# activation successes, local and remote failures, retransmissions (8 each).
# The same for phase 2 (dynamic tunnels as IKE knows them).  Manual tunnels
# active and inactive (4 each).
_STATISTICS = struct.Struct(">IIIQQQQQIIIQQQQQII")
assert _STATISTICS.size == STATISTICS_SIZE

# Name, address, prefix, security class, flags, reserved, interface index.
_INTERFACE = struct.Struct(">16s48sBBBBI")
assert _INTERFACE.size == INTERFACE_SIZE

# Remote address, remote port, translated port, protocol, 3 reserved,
# time created, tunnel ID.
_PORTTRAN = struct.Struct(">48sHHB3sQ48s")
assert _PORTTRAN.size == PORTTRAN_SIZE

FLAG_DVIPA = 0x01
_KNOWN_INTERFACE_FLAGS = FLAG_DVIPA


def _text(value: str, codec: FixedText, name: str) -> None:
    try:
        codec.encode(value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _decoded(codec: FixedText, raw: bytes, field: str) -> str:
    try:
        return codec.decode(raw)
    except FieldDecodeError as e:
        raise FieldValueError(f"{field}: {e.detail}") from None


# NMsecStatistics.


@dataclass(frozen=True)
class StatisticsInfo:
    """
    One stack's IKE statistics, as GET_SUMMARY carries them.

    The C{p1} fields count IKE (phase 1) tunnels, the C{p2} fields dynamic
    tunnels as IKE knows them (phase 2, IKEv2 child SAs).  C{Active},
    C{InProgress} and C{Expired} are current counts (4 bytes); the
    C{ActSuccess}, C{ActFailure} and C{Retransmit} fields are cumulative
    over iked's life, across stack restarts (8 bytes).  C{Lcl} counts
    activations this side started, C{Rmt} those the peer started.
    C{manActive} and C{manInactive} count manual tunnels.
    """

    p1Active: int = 0
    p1InProgress: int = 0
    p1Expired: int = 0
    p1LclActSuccess: int = 0
    p1RmtActSuccess: int = 0
    p1LclActFailure: int = 0
    p1RmtActFailure: int = 0
    p1Retransmit: int = 0
    p2Active: int = 0
    p2InProgress: int = 0
    p2Expired: int = 0
    p2LclActSuccess: int = 0
    p2RmtActSuccess: int = 0
    p2LclActFailure: int = 0
    p2RmtActFailure: int = 0
    p2Retransmit: int = 0
    manActive: int = 0
    manInactive: int = 0

    def __post_init__(self) -> None:
        for field, size in zip(dataclasses.fields(self), _sizes(), strict=True):
            check_unsigned(getattr(self, field.name), size, field.name)


def _sizes() -> list[int]:
    return [struct.calcsize(">" + code) for code in _STATISTICS.format[1:]]


STATISTICS_FIELDS = tuple(field.name for field in dataclasses.fields(StatisticsInfo))
"""The counters' names, in the order of the entry."""


def encode_statistics(info: StatisticsInfo) -> bytes:
    """
    The NMsecStatistics entry (L{STATISTICS_SIZE} bytes).

    @raise ValueError: C{info} is not a L{StatisticsInfo}.
    """
    if not isinstance(info, StatisticsInfo):
        raise ValueError(f"{info!r} is not a StatisticsInfo")
    return _STATISTICS.pack(*(getattr(info, name) for name in STATISTICS_FIELDS))


def decode_statistics(data: bytes) -> StatisticsInfo:
    """
    The counters of an NMsecStatistics entry.  Every value of every field
    is valid, so only the size can be wrong.

    @raise FieldDecodeError: the entry is not L{STATISTICS_SIZE} bytes.
    """
    if len(data) != STATISTICS_SIZE:
        raise FieldValueError(
            f"an NMsecStatistics entry is {STATISTICS_SIZE} bytes, not {len(data)}"
        )
    return StatisticsInfo(*_STATISTICS.unpack(data))


# NMsecInterface.


@dataclass(frozen=True)
class InterfaceInfo:
    """
    One address of one interface of a stack, as C{ipsec -i display} shows
    it.  An interface with two addresses is two entries.

    @ivar interfaceName: the Linux interface name (L{INTERFACE_NAME_PATTERN}).
    @ivar address: the address, IPv4 or IPv6 text, never blank.
    @ivar prefix: its prefix length, at most 32 or 128.
    @ivar securityClass: the interface's IPsec security class, 0 to 255;
        0 (IBM's default) when none is configured, which nsstwisted never is.
    @ivar dvipa: whether the address is a dynamic VIPA; nsstwisted has
        none, so always C{False} from iked.
    @ivar index: the kernel's interface index; 0 when unknown.
    """

    interfaceName: str
    address: str
    prefix: int
    securityClass: int = 0
    dvipa: bool = False
    index: int = 0

    def __post_init__(self) -> None:
        try:
            self._check()
        except ValueError as e:
            raise ValueError(
                f"InterfaceInfo of {self.interfaceName!r} {self.address!r}: {e}"
            ) from None

    def _check(self) -> None:
        _text(self.interfaceName, _INTERFACE_NAME, "interfaceName")
        if not self.interfaceName:
            raise ValueError("interfaceName is empty")
        _text(self.address, _ADDRESS, "address")
        if not self.address:
            raise ValueError("address is empty")
        problem = address_problem(self.address)
        if problem:
            raise ValueError(f"address: {problem}")
        check_unsigned(self.prefix, 1, "prefix")
        maximum = ipaddress.ip_address(self.address).max_prefixlen
        if self.prefix > maximum:
            raise ValueError(f"prefix {self.prefix} is longer than {maximum}")
        check_unsigned(self.securityClass, 1, "securityClass")
        if not isinstance(self.dvipa, bool):
            raise ValueError(f"dvipa {self.dvipa!r} is not a bool")
        check_unsigned(self.index, 4, "index")


def encode_interface(info: InterfaceInfo) -> bytes:
    """
    The NMsecInterface entry (L{INTERFACE_SIZE} bytes).

    @raise ValueError: C{info} is not an L{InterfaceInfo}.
    """
    if not isinstance(info, InterfaceInfo):
        raise ValueError(f"{info!r} is not an InterfaceInfo")
    return _INTERFACE.pack(
        _INTERFACE_NAME.encode(info.interfaceName),
        _ADDRESS.encode(info.address),
        info.prefix,
        info.securityClass,
        FLAG_DVIPA if info.dvipa else 0,
        0,
        info.index,
    )


def decode_interface(data: bytes) -> InterfaceInfo:
    """
    One interface address from its NMsecInterface entry.

    @raise FieldDecodeError: the bytes break a rule of the layout.
    """
    if len(data) != INTERFACE_SIZE:
        raise FieldValueError(
            f"an NMsecInterface entry is {INTERFACE_SIZE} bytes, not {len(data)}"
        )
    name, address, prefix, securityClass, flags, reserved, index = _INTERFACE.unpack(
        data
    )
    interfaceName = _decoded(_INTERFACE_NAME, name, "NMsIntfName")
    text = _decoded(_ADDRESS, address, "NMsIntfAddr")
    if flags & ~_KNOWN_INTERFACE_FLAGS:
        raise FieldValueError(
            f"NMsIntfFlags: bits {flags & ~_KNOWN_INTERFACE_FLAGS:#x} are not defined"
        )
    if reserved:
        raise FieldValueError("NMsecInterface: reserved byte not zero")
    try:
        return InterfaceInfo(
            interfaceName, text, prefix, securityClass, bool(flags & FLAG_DVIPA), index
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None


# NMsecPortTran.


@dataclass(frozen=True)
class PortTranslationInfo:
    """
    One NAT traversal port translation, as C{ipsec -o display} shows it:
    a peer behind a NAPT device whose source port iked has mapped to a
    port of its own, so that two peers behind one NAT stay apart.

    @ivar remoteAddress: the peer's public address (the NAT's), never blank.
    @ivar remotePort: the peer's port as the packets arrive.
    @ivar translatedPort: the port the stack uses for it instead.
    @ivar protocol: 6 (TCP) or 17 (UDP).
    @ivar timeCreated: when the translation was made, in seconds since
        1970-01-01 00:00:00 UTC; 0 when not known.
    @ivar tunnelId: the dynamic tunnel (C{Y1}, ...) it serves; C{""} when
        none.
    """

    remoteAddress: str
    remotePort: int
    translatedPort: int
    protocol: int = 17
    timeCreated: int = 0
    tunnelId: str = ""

    def __post_init__(self) -> None:
        try:
            self._check()
        except ValueError as e:
            raise ValueError(
                f"PortTranslationInfo of {self.remoteAddress!r}: {e}"
            ) from None

    def _check(self) -> None:
        _text(self.remoteAddress, _ADDRESS, "remoteAddress")
        if not self.remoteAddress:
            raise ValueError("remoteAddress is empty")
        problem = address_problem(self.remoteAddress)
        if problem:
            raise ValueError(f"remoteAddress: {problem}")
        for name in ("remotePort", "translatedPort"):
            value = getattr(self, name)
            check_unsigned(value, 2, name)
            if value == 0:
                raise ValueError(f"{name} is 0")
        check_unsigned(self.protocol, 1, "protocol")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol {self.protocol} is not TCP (6) or UDP (17)")
        check_unsigned(self.timeCreated, 8, "timeCreated")
        _text(self.tunnelId, _TUNNEL_ID, "tunnelId")


def encode_porttran(info: PortTranslationInfo) -> bytes:
    """
    The NMsecPortTran entry (L{PORTTRAN_SIZE} bytes).

    @raise ValueError: C{info} is not a L{PortTranslationInfo}.
    """
    if not isinstance(info, PortTranslationInfo):
        raise ValueError(f"{info!r} is not a PortTranslationInfo")
    return _PORTTRAN.pack(
        _ADDRESS.encode(info.remoteAddress),
        info.remotePort,
        info.translatedPort,
        info.protocol,
        bytes(3),
        info.timeCreated,
        _TUNNEL_ID.encode(info.tunnelId),
    )


def decode_porttran(data: bytes) -> PortTranslationInfo:
    """
    One port translation from its NMsecPortTran entry.

    @raise FieldDecodeError: the bytes break a rule of the layout.
    """
    if len(data) != PORTTRAN_SIZE:
        raise FieldValueError(
            f"an NMsecPortTran entry is {PORTTRAN_SIZE} bytes, not {len(data)}"
        )
    address, remotePort, translatedPort, protocol, reserved, created, tunnel = (
        _PORTTRAN.unpack(data)
    )
    remoteAddress = _decoded(_ADDRESS, address, "NMsPTRmtAddr")
    tunnelId = _decoded(_TUNNEL_ID, tunnel, "NMsPTTunnelID")
    if reserved != bytes(3):
        raise FieldValueError("NMsecPortTran: reserved bytes not zero")
    try:
        return PortTranslationInfo(
            remoteAddress, remotePort, translatedPort, protocol, created, tunnelId
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None


# The replies.

_Info = TypeVar("_Info")


def _interface_key(info: InterfaceInfo) -> tuple[str, str]:
    return (info.interfaceName, str(ipaddress.ip_address(info.address)))


def _porttran_key(info: PortTranslationInfo) -> tuple[str, int, int]:
    return (
        str(ipaddress.ip_address(info.remoteAddress)),
        info.protocol,
        info.translatedPort,
    )


def _duplicate(keys: Iterable[object]) -> object | None:
    seen: set[object] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return None


def _stack_record(stackName: str) -> NmiRecord:
    _text(stackName, _STACK_NAME, "stack name")
    if not stackName:
        raise ValueError("the stack name is empty")
    return NmiRecord((NmiSection(1, _STACK_NAME.encode(stackName)),))


def _stack_from(records: Sequence[NmiRecord]) -> str:
    if not records:
        raise FieldValueError("the stack record is missing")
    raw = single_entry(records[0], STACK_SIZE, "the stack record")
    name = _decoded(_STACK_NAME, raw, "NMsStackName")
    if not name:
        raise FieldValueError("NMsStackName is blank")
    return name


def _entries(
    records: Sequence[NmiRecord],
    size: int,
    what: str,
    decode: Callable[[bytes], _Info],
) -> list[_Info]:
    items = []
    for index, record in enumerate(records, 1):
        where = f"{what} record {index}"
        entry = single_entry(record, size, where)
        try:
            items.append(decode(entry))
        except FieldDecodeError as e:
            raise FieldValueError(f"{where}: {e.detail}") from None
    return items


def _check_request(request: NmiMessage, kind: NmiMessageType) -> None:
    if request.messageType != kind or request.reply:
        raise ValueError(f"{request!r} is not a {kind.ibmName} request")


def _check_reply(message: NmiMessage, kind: NmiMessageType) -> None:
    if message.messageType != kind or not message.reply or not message.ok:
        raise ValueError(f"{message!r} is not a successful {kind.ibmName} reply")


def encode_summary_reply(
    request: NmiMessage, stackName: str, statistics: StatisticsInfo
) -> NmiMessage:
    """
    The successful reply to GET_SUMMARY: the stack record, then one record
    holding one NMsecStatistics entry.

    @raise ValueError: C{request} is not a GET_SUMMARY request, or the
        stack name or statistics are not valid.
    """
    _check_request(request, NmiMessageType.GET_SUMMARY)
    stack = _stack_record(stackName)
    entry = encode_statistics(statistics)
    return request.answer([stack, NmiRecord((NmiSection(1, entry),))])


def decode_summary_reply(message: NmiMessage) -> tuple[str, StatisticsInfo]:
    """
    The stack name and statistics of a successful GET_SUMMARY reply.

    @raise ValueError: C{message} is not a successful GET_SUMMARY reply
        (the caller checks the codes first).
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    _check_reply(message, NmiMessageType.GET_SUMMARY)
    stackName = _stack_from(message.records)
    if len(message.records) != 2:
        raise FieldValueError(
            f"a GET_SUMMARY reply has 2 records, not {len(message.records)}"
        )
    found = _entries(
        message.records[1:], STATISTICS_SIZE, "statistics", decode_statistics
    )
    return stackName, found[0]


def encode_interfaces_reply(
    request: NmiMessage, stackName: str, interfaces: Iterable[InterfaceInfo]
) -> NmiMessage:
    """
    The successful reply to GET_IPINTERFACES: the stack record, then one
    record per interface address in the order given.

    @raise ValueError: C{request} is not a GET_IPINTERFACES request, the
        stack name is not valid, something is not an L{InterfaceInfo}, or
        one interface has the same address twice.
    """
    _check_request(request, NmiMessageType.GET_IPINTERFACES)
    stack = _stack_record(stackName)
    interfaces = list(interfaces)
    entries = [encode_interface(info) for info in interfaces]
    twice = _duplicate(_interface_key(info) for info in interfaces)
    if twice is not None:
        raise ValueError(f"interface address {twice!r} is listed twice")
    return request.answer(
        [stack, *(NmiRecord((NmiSection(1, entry),)) for entry in entries)]
    )


def decode_interfaces_reply(message: NmiMessage) -> tuple[str, list[InterfaceInfo]]:
    """
    The stack name and interface addresses of a successful
    GET_IPINTERFACES reply.

    @raise ValueError: C{message} is not a successful GET_IPINTERFACES reply.
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    _check_reply(message, NmiMessageType.GET_IPINTERFACES)
    stackName = _stack_from(message.records)
    found = _entries(message.records[1:], INTERFACE_SIZE, "interface", decode_interface)
    twice = _duplicate(_interface_key(info) for info in found)
    if twice is not None:
        raise FieldValueError(f"interface address {twice!r} is listed twice")
    return stackName, found


def encode_porttran_reply(
    request: NmiMessage,
    stackName: str,
    translations: Iterable[PortTranslationInfo],
) -> NmiMessage:
    """
    The successful reply to GET_PORTTRAN: the stack record, then one
    record per port translation.

    @raise ValueError: C{request} is not a GET_PORTTRAN request, the stack
        name is not valid, something is not a L{PortTranslationInfo}, or
        two translations share an address, protocol and translated port.
    """
    _check_request(request, NmiMessageType.GET_PORTTRAN)
    stack = _stack_record(stackName)
    translations = list(translations)
    entries = [encode_porttran(info) for info in translations]
    twice = _duplicate(_porttran_key(info) for info in translations)
    if twice is not None:
        raise ValueError(f"port translation {twice!r} is listed twice")
    return request.answer(
        [stack, *(NmiRecord((NmiSection(1, entry),)) for entry in entries)]
    )


def decode_porttran_reply(
    message: NmiMessage,
) -> tuple[str, list[PortTranslationInfo]]:
    """
    The stack name and port translations of a successful GET_PORTTRAN
    reply.

    @raise ValueError: C{message} is not a successful GET_PORTTRAN reply.
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    _check_reply(message, NmiMessageType.GET_PORTTRAN)
    stackName = _stack_from(message.records)
    found = _entries(
        message.records[1:], PORTTRAN_SIZE, "port translation", decode_porttran
    )
    twice = _duplicate(_porttran_key(info) for info in found)
    if twice is not None:
        raise FieldValueError(f"port translation {twice!r} is listed twice")
    return stackName, found
