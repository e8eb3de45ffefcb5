"""
The records of the IP filter requests (C{NMsec_GET_IPFLTCURR},
C{NMsec_GET_IPFLTDEFAULT}, C{NMsec_GET_IPFLTPOLICY}), the data behind
C{ipsec -f display}, and the NMsecTunnel section of the control requests,
among them the filter set switch behind C{ipsec -f default|reload}.

IBM documents the NMsecTunnel section of its control requests (a name, a
tunnel ID and a status byte at offsets 0, 48 and 96) and the filter set
values (C{NMsec_FLT_DEFAULT} 0, C{NMsec_FLT_POLICY} 1), but nothing of its
filter records.  The NMsecIPFilter layout here is therefore ours, made
after L{nsstwisted.wire.ikensinfo}'s: a stack record with what the
report's heading shows, then one fixed-size entry per filter rule with one
field for each value the report's detail lines need.  As everywhere in the
NMI (C{docs/nmi.md}), text is blank-padded ASCII and integers are
big-endian.

The codec is strict and total, like L{nsstwisted.wire.nmi}: what the
encoder refuses with C{ValueError} the decoder refuses with
L{FieldDecodeError}, and the decoder raises nothing else.  The rules live
in the constructors (L{FilterRecordInfo}, L{FilterSettings},
L{TunnelControl}), so that an iked bug shows up where the bad value is
made, not when an operator asks for the report.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nsstwisted.wire.entries import check_unsigned, single_entry
from nsstwisted.wire.fields import FieldDecodeError, FieldValueError, FixedText
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType, NmiRecord, NmiSection
from nsstwisted.wire.nss import STACK_NAME_PATTERN

__all__ = [
    "ADDRESS_SIZE",
    "ANY_ADDRESS",
    "FILTER_REQUESTS",
    "FILTER_SET_REQUESTS",
    "FILTER_SIZE",
    "NAME_PATTERN",
    "STACK_SECTION_SIZE",
    "TUNNEL_SIZE",
    "FilterAction",
    "FilterDirection",
    "FilterLogging",
    "FilterRecordInfo",
    "FilterReport",
    "FilterScope",
    "FilterSet",
    "FilterSettings",
    "FilterState",
    "FilterType",
    "TunnelControl",
    "TunnelStatus",
    "answer_filter_set",
    "control_from_records",
    "control_records",
    "decode_control_reply",
    "decode_control_request",
    "decode_filter",
    "decode_filter_reply",
    "decode_filter_report",
    "encode_control_reply",
    "encode_filter",
    "encode_filter_reply",
    "filter_from_records",
    "filter_records",
]

ADDRESS_SIZE = 48
"""The width of an address field, as in NMsecNSS."""

FILTER_SIZE = 168
"""The bytes of one NMsecIPFilter entry."""

STACK_SECTION_SIZE = 16
"""The bytes of the stack record's one entry (NMsecIPFilterStack)."""

TUNNEL_SIZE = 100
"""
The bytes of one NMsecTunnel entry: IBM's 97 (name, tunnel ID, status)
and 3 reserved bytes that keep entries on a 4-byte boundary.
"""

ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - a rule's address, not a bind
"""Every IPv4 address, with prefix length 0: a rule's default ends."""

NAME_PATTERN = re.compile(r"[\x21-\x7e]{1,48}")
"""
A filter rule name, an NMsecTunnel name or tunnel ID: printable ASCII
without blanks, since a blank would read as padding.  Policy Agent names
(C{SYSDEFAULTDENYRULE}, C{SYSDEFAULTRULE.1}, C{K1}, C{Y12}) all fit.
"""

_T = NmiMessageType

FILTER_REQUESTS = frozenset({_T.GET_IPFLTCURR, _T.GET_IPFLTDEFAULT, _T.GET_IPFLTPOLICY})
"""The three display requests whose replies carry filter records."""

FILTER_SET_REQUESTS = frozenset({_T.SET_IPFLTDEFAULT, _T.SET_IPFLTPOLICY})
"""The two control requests that switch a stack's current filter set."""

_CONTROL_TYPES = frozenset(t for t in _T if 40 <= t < 100)

del _T


class FilterSet(enum.IntEnum):
    """The two filter sets of a stack, with IBM's values."""

    DEFAULT = 0
    """NMsec_FLT_DEFAULT: the TCP/IP profile's rules (C{-c profile})."""
    POLICY = 1
    """NMsec_FLT_POLICY: Policy Agent's rules (C{-c policy})."""

    @property
    def source(self) -> str:
        """What the report's C{Source:} heading shows."""
        return "Stack Profile" if self is FilterSet.DEFAULT else "Stack Policy"


class _Texted(enum.IntEnum):
    """An enumeration whose members the report shows by a text."""

    @property
    def text(self) -> str:
        """What C{ipsec -f display} shows."""
        return _TEXTS[type(self), int(self)]


class FilterType(_Texted):
    """A rule's type; IBM's names.  0 is not a type."""

    GENERIC = 1
    DEFENSIVE = 2
    DYNAMIC_ANCHOR = 3
    DYNAMIC = 4
    NATT_ANCHOR = 5
    NATT_DYNAMIC = 6
    NRF = 7


class FilterState(_Texted):
    """Whether a rule is in force.  0 is not a state."""

    ACTIVE = 1
    INACTIVE = 2


class FilterAction(_Texted):
    """What a rule does with the traffic it matches.  0 is not an action."""

    PERMIT = 1
    DENY = 2


class FilterDirection(_Texted):
    """Which traffic a rule matches.  0 is not a direction."""

    INBOUND = 1
    OUTBOUND = 2
    BIDIRECTIONAL = 3


class FilterLogging(_Texted):
    """Which matches are logged.  0 is not a value."""

    ALL = 1
    PERMIT = 2
    DENY = 3
    NONE = 4


class FilterScope(_Texted):
    """Which traffic a rule applies to.  0 is not a scope."""

    LOCAL = 1
    ROUTED = 2
    EITHER = 3


class TunnelStatus(_Texted):
    """
    NMsTunStatus, IBM's values.  0 in requests; IBM shows no value 4.
    """

    NONE = 0
    NOTFOUND = 1
    STATEUPDATED = 2
    STATEALREADYSET = 3
    NOKER = 5
    NOFILTER = 6
    NODATAOFFER = 7


_TEXTS: dict[tuple[type, int], str] = {
    (type(member), int(member)): text
    for member, text in [
        (FilterType.GENERIC, "Generic"),
        (FilterType.DEFENSIVE, "Defensive"),
        (FilterType.DYNAMIC_ANCHOR, "Dynamic Anchor"),
        (FilterType.DYNAMIC, "Dynamic"),
        (FilterType.NATT_ANCHOR, "NATT Anchor"),
        (FilterType.NATT_DYNAMIC, "NATT Dynamic"),
        (FilterType.NRF, "NRF"),
        (FilterState.ACTIVE, "Active"),
        (FilterState.INACTIVE, "Inactive"),
        (FilterAction.PERMIT, "Permit"),
        (FilterAction.DENY, "Deny"),
        (FilterDirection.INBOUND, "Inbound"),
        (FilterDirection.OUTBOUND, "Outbound"),
        (FilterDirection.BIDIRECTIONAL, "BiDirectional"),
        (FilterLogging.ALL, "All"),
        (FilterLogging.PERMIT, "Permit"),
        (FilterLogging.DENY, "Deny"),
        (FilterLogging.NONE, "None"),
        (FilterScope.LOCAL, "Local"),
        (FilterScope.ROUTED, "Routed"),
        (FilterScope.EITHER, "Either"),
        (TunnelStatus.NONE, "n/a"),
        (TunnelStatus.NOTFOUND, "Not found"),
        (TunnelStatus.STATEUPDATED, "State updated"),
        (TunnelStatus.STATEALREADYSET, "State already set"),
        (TunnelStatus.NOKER, "No KeyExchangeRule"),
        (TunnelStatus.NOFILTER, "No filter rule"),
        (TunnelStatus.NODATAOFFER, "No data offer"),
    ]
}
"""Keyed by class and value: members of IntEnums with equal values are equal."""

_NAME = FixedText(48, "ascii", NAME_PATTERN)
_STACK_NAME = FixedText(8, "ascii", STACK_NAME_PATTERN)
_ADDRESS = FixedText(ADDRESS_SIZE, "ascii")

# Name, source address, destination address, set, type, state, action,
# direction, logging, protocol, scope, source prefix, destination prefix,
# 2 reserved, source ports low and high, destination ports low and high,
# 4 reserved.
_ENTRY = struct.Struct(">48s48s48sBBBBBBBBBB2sHHHH4s")
assert _ENTRY.size == FILTER_SIZE

# Stack name, flags, current set, reserved, NAT keepalive.
_STACK = struct.Struct(">8sIBBH")
assert _STACK.size == STACK_SECTION_SIZE

# Name, tunnel ID, status, 3 reserved.
_TUNNEL = struct.Struct(">48s48sB3s")
assert _TUNNEL.size == TUNNEL_SIZE

FLAG_LOGGING = 0x01
FLAG_PREDECAP = 0x02
FLAG_DVIPSEC = 0x04
FLAG_FIPS140 = 0x08
_KNOWN_FLAGS = FLAG_LOGGING | FLAG_PREDECAP | FLAG_DVIPSEC | FLAG_FIPS140


def _kind(value: object, kind: type[enum.IntEnum], name: str) -> None:
    if not isinstance(value, kind):
        raise ValueError(f"{name} {value!r} is not a {kind.__name__}")


def _text(value: str, codec: FixedText, name: str) -> None:
    try:
        codec.encode(value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _enum_field(kind: type[_Texted] | type[FilterSet], raw: int, name: str) -> object:
    try:
        return kind(raw)
    except ValueError:
        raise FieldValueError(f"{name}: {raw} is not a {kind.__name__}") from None


@dataclass(frozen=True)
class FilterRecordInfo:
    """
    One IP filter rule of a stack, as C{ipsec -f display} shows it.

    Every rule is checked when the object is made, so a value the encoder
    would refuse cannot exist, and the decoder reuses the same checks.

    @ivar filterName: the rule's name, 1 to 48 printable characters
        without blanks.
    @ivar filterSet: the set the rule belongs to.
    @ivar sourceAddress: IPv4 or IPv6 text; the network of the rule, with
        L{sourcePrefix} (C{0.0.0.0} and 0 is every address).
    @ivar destinationAddress: likewise, of the same family.
    @ivar protocol: the IP protocol number, 0 for all protocols.
    @ivar sourcePorts: the low and high port, C{(0, 0)} for all ports.
    @ivar destinationPorts: likewise.
    """

    filterName: str
    filterSet: FilterSet = FilterSet.POLICY
    filterType: FilterType = FilterType.GENERIC
    state: FilterState = FilterState.ACTIVE
    action: FilterAction = FilterAction.DENY
    direction: FilterDirection = FilterDirection.BIDIRECTIONAL
    logging: FilterLogging = FilterLogging.NONE
    protocol: int = 0
    scope: FilterScope = FilterScope.EITHER
    sourceAddress: str = ANY_ADDRESS
    sourcePrefix: int = 0
    destinationAddress: str = ANY_ADDRESS
    destinationPrefix: int = 0
    sourcePorts: tuple[int, int] = (0, 0)
    destinationPorts: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        try:
            self._check()
        except ValueError as e:
            raise ValueError(
                f"FilterRecordInfo of rule {self.filterName!r}: {e}"
            ) from None

    def _check(self) -> None:
        _text(self.filterName, _NAME, "filterName")
        if not self.filterName:
            raise ValueError("filterName is empty")
        for name, kind in [
            ("filterSet", FilterSet),
            ("filterType", FilterType),
            ("state", FilterState),
            ("action", FilterAction),
            ("direction", FilterDirection),
            ("logging", FilterLogging),
            ("scope", FilterScope),
        ]:
            _kind(getattr(self, name), kind, name)
        check_unsigned(self.protocol, 1, "protocol")
        families = []
        for end in ("source", "destination"):
            address = getattr(self, f"{end}Address")
            _text(address, _ADDRESS, f"{end}Address")
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(
                    f"{end}Address {address!r} is not an IPv4 or IPv6 address"
                ) from None
            families.append(parsed.version)
            prefix = getattr(self, f"{end}Prefix")
            check_unsigned(prefix, 1, f"{end}Prefix")
            if prefix > parsed.max_prefixlen:
                raise ValueError(
                    f"{end}Prefix {prefix} is longer than an IPv{parsed.version} "
                    "address"
                )
            ports = getattr(self, f"{end}Ports")
            if not isinstance(ports, tuple) or len(ports) != 2:
                raise ValueError(f"{end}Ports {ports!r} is not a (low, high) pair")
            for port in ports:
                check_unsigned(port, 2, f"{end}Ports")
            if ports[0] > ports[1]:
                raise ValueError(f"{end}Ports {ports[0]}-{ports[1]} is backwards")
        if families[0] != families[1]:
            raise ValueError("sourceAddress and destinationAddress differ in family")


def encode_filter(info: FilterRecordInfo) -> bytes:
    """
    The NMsecIPFilter entry of one rule (L{FILTER_SIZE} bytes).

    @raise ValueError: C{info} is not a L{FilterRecordInfo}.
    """
    if not isinstance(info, FilterRecordInfo):
        raise ValueError(f"{info!r} is not a FilterRecordInfo")
    return _ENTRY.pack(
        _NAME.encode(info.filterName),
        _ADDRESS.encode(info.sourceAddress),
        _ADDRESS.encode(info.destinationAddress),
        int(info.filterSet),
        int(info.filterType),
        int(info.state),
        int(info.action),
        int(info.direction),
        int(info.logging),
        info.protocol,
        int(info.scope),
        info.sourcePrefix,
        info.destinationPrefix,
        bytes(2),
        *info.sourcePorts,
        *info.destinationPorts,
        bytes(4),
    )


def decode_filter(data: bytes) -> FilterRecordInfo:
    """
    One rule from its NMsecIPFilter entry.

    @raise FieldDecodeError: the bytes break a rule of the layout or of
        L{FilterRecordInfo}.
    """
    if len(data) != FILTER_SIZE:
        raise FieldValueError(
            f"an NMsecIPFilter entry is {FILTER_SIZE} bytes, not {len(data)}"
        )
    (
        name,
        source,
        destination,
        filterSet,
        filterType,
        state,
        action,
        direction,
        logging,
        protocol,
        scope,
        sourcePrefix,
        destinationPrefix,
        reserved1,
        sourceLow,
        sourceHigh,
        destinationLow,
        destinationHigh,
        reserved2,
    ) = _ENTRY.unpack(data)
    texts = {}
    for field, codec, raw in [
        ("NMsFltName", _NAME, name),
        ("NMsFltSrcAddr", _ADDRESS, source),
        ("NMsFltDstAddr", _ADDRESS, destination),
    ]:
        try:
            texts[field] = codec.decode(raw)
        except FieldDecodeError as e:
            raise FieldValueError(f"{field}: {e.detail}") from None
    if reserved1 != bytes(2) or reserved2 != bytes(4):
        raise FieldValueError("NMsecIPFilter: reserved bytes not zero")
    values = {
        "filterSet": _enum_field(FilterSet, filterSet, "NMsFltSet"),
        "filterType": _enum_field(FilterType, filterType, "NMsFltType"),
        "state": _enum_field(FilterState, state, "NMsFltState"),
        "action": _enum_field(FilterAction, action, "NMsFltAction"),
        "direction": _enum_field(FilterDirection, direction, "NMsFltDirection"),
        "logging": _enum_field(FilterLogging, logging, "NMsFltLogging"),
        "scope": _enum_field(FilterScope, scope, "NMsFltScope"),
    }
    try:
        return FilterRecordInfo(
            filterName=texts["NMsFltName"],
            protocol=protocol,
            sourceAddress=texts["NMsFltSrcAddr"],
            sourcePrefix=sourcePrefix,
            destinationAddress=texts["NMsFltDstAddr"],
            destinationPrefix=destinationPrefix,
            sourcePorts=(sourceLow, sourceHigh),
            destinationPorts=(destinationLow, destinationHigh),
            **values,  # type: ignore[arg-type]
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None


@dataclass(frozen=True)
class FilterSettings:
    """
    The stack-wide values the C{ipsec -f display} heading shows.  The
    defaults are what nsstwisted's iked reports: it has no Predecap, DVIPA
    or FIPS 140 mode, logs filter matches, and keeps NAT mappings alive
    every 20 seconds (IBM's default).

    @ivar natKeepAlive: seconds, 0 = off.
    """

    logging: bool = True
    predecap: bool = False
    dvipsec: bool = False
    fips140: bool = False
    natKeepAlive: int = 20

    def __post_init__(self) -> None:
        for name in ("logging", "predecap", "dvipsec", "fips140"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} {getattr(self, name)!r} is not a bool")
        check_unsigned(self.natKeepAlive, 2, "natKeepAlive")

    @property
    def flags(self) -> int:
        """The flag word of the stack entry."""
        flags = 0
        for flag, value in [
            (FLAG_LOGGING, self.logging),
            (FLAG_PREDECAP, self.predecap),
            (FLAG_DVIPSEC, self.dvipsec),
            (FLAG_FIPS140, self.fips140),
        ]:
            if value:
                flags |= flag
        return flags


@dataclass(frozen=True)
class FilterReport:
    """
    Everything a filter display reply says: the stack, its current set,
    its heading values, and the rules.
    """

    stackName: str
    currentSet: FilterSet
    settings: FilterSettings
    rules: list[FilterRecordInfo]


def _wanted_set(messageType: int, currentSet: FilterSet) -> FilterSet:
    if messageType == NmiMessageType.GET_IPFLTDEFAULT:
        return FilterSet.DEFAULT
    if messageType == NmiMessageType.GET_IPFLTPOLICY:
        return FilterSet.POLICY
    return currentSet


def filter_records(
    messageType: NmiMessageType,
    stackName: str,
    currentSet: FilterSet,
    rules: Iterable[FilterRecordInfo],
    settings: FilterSettings | None = None,
) -> tuple[NmiRecord, ...]:
    """
    The records of a filter display reply: the stack record, then one
    record per rule in the order given (the order in which the stack
    applies them).

    @param messageType: the request answered, which says the set every
        rule must belong to: the current set, the default set or the
        policy set.
    @raise ValueError: a bad stack name or set, something that is not a
        L{FilterRecordInfo}, or a rule of another set.
    """
    if messageType not in FILTER_REQUESTS:
        raise ValueError(f"{messageType!r} is not a filter display request")
    _text(stackName, _STACK_NAME, "stack name")
    if not stackName:
        raise ValueError("the stack name is empty")
    _kind(currentSet, FilterSet, "currentSet")
    settings = FilterSettings() if settings is None else settings
    if not isinstance(settings, FilterSettings):
        raise ValueError(f"{settings!r} is not FilterSettings")
    wanted = _wanted_set(messageType, currentSet)
    entries = []
    for rule in rules:
        entry = encode_filter(rule)
        if rule.filterSet != wanted:
            raise ValueError(
                f"rule {rule.filterName} belongs to the {rule.filterSet.name} set, "
                f"not the {wanted.name} set that "
                f"{NmiMessageType(messageType).ibmName} lists"
            )
        entries.append(entry)
    stack = _STACK.pack(
        _STACK_NAME.encode(stackName),
        settings.flags,
        int(currentSet),
        0,
        settings.natKeepAlive,
    )
    return (
        NmiRecord((NmiSection(1, stack),)),
        *(NmiRecord((NmiSection(1, entry),)) for entry in entries),
    )


def filter_from_records(
    messageType: NmiMessageType, records: Sequence[NmiRecord]
) -> FilterReport:
    """
    What the records of a filter display reply say.

    @param messageType: the request answered.
    @raise FieldDecodeError: the records break a rule of the layout.
    """
    if not records:
        raise FieldValueError("the stack record is missing")
    raw = single_entry(records[0], STACK_SECTION_SIZE, "the stack record")
    name, flags, current, reserved, keepAlive = _STACK.unpack(raw)
    try:
        stackName = _STACK_NAME.decode(name)
    except FieldDecodeError as e:
        raise FieldValueError(f"NMsFltStackName: {e.detail}") from None
    if not stackName:
        raise FieldValueError("NMsFltStackName is blank")
    if flags & ~_KNOWN_FLAGS:
        raise FieldValueError(
            f"NMsFltStackFlags: bits {flags & ~_KNOWN_FLAGS:#x} are not defined"
        )
    if reserved:
        raise FieldValueError("NMsecIPFilterStack: reserved byte not zero")
    currentSet = _enum_field(FilterSet, current, "NMsFltCurrentSet")
    assert isinstance(currentSet, FilterSet)
    settings = FilterSettings(
        logging=bool(flags & FLAG_LOGGING),
        predecap=bool(flags & FLAG_PREDECAP),
        dvipsec=bool(flags & FLAG_DVIPSEC),
        fips140=bool(flags & FLAG_FIPS140),
        natKeepAlive=keepAlive,
    )
    wanted = _wanted_set(messageType, currentSet)
    rules = []
    for index, record in enumerate(records[1:], 1):
        where = f"filter record {index}"
        entry = single_entry(record, FILTER_SIZE, where)
        try:
            rule = decode_filter(entry)
        except FieldDecodeError as e:
            raise FieldValueError(f"{where}: {e.detail}") from None
        if rule.filterSet != wanted:
            raise FieldValueError(
                f"{where}: rule {rule.filterName} belongs to the "
                f"{rule.filterSet.name} set, not the {wanted.name} set"
            )
        rules.append(rule)
    return FilterReport(stackName, currentSet, settings, rules)


def _is_filter_request(message: NmiMessage) -> bool:
    return message.messageType in FILTER_REQUESTS and not message.reply


def encode_filter_reply(
    request: NmiMessage,
    stackName: str,
    currentSet: FilterSet,
    rules: Iterable[FilterRecordInfo],
    settings: FilterSettings | None = None,
) -> NmiMessage:
    """
    The successful reply to a GET_IPFLTCURR, GET_IPFLTDEFAULT or
    GET_IPFLTPOLICY request.

    @param stackName: the stack whose rules these are.
    @param currentSet: the stack's current filter set, whichever set the
        request asked for.
    @param rules: the rules of the set asked for (the current one for
        GET_IPFLTCURR), in the order the stack applies them.
    @param settings: the heading's values; L{FilterSettings}' defaults
        when not given.
    @raise ValueError: C{request} is not a filter display request, or
        L{filter_records} refuses the data.
    """
    if not _is_filter_request(request):
        raise ValueError(f"{request!r} is not a filter display request")
    return request.answer(
        filter_records(
            NmiMessageType(request.messageType),
            stackName,
            currentSet,
            rules,
            settings,
        )
    )


def decode_filter_report(message: NmiMessage) -> FilterReport:
    """
    Everything a successful filter display reply says.

    @raise ValueError: C{message} is not a successful filter display reply
        (the caller checks the codes first).
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    if (
        message.messageType not in FILTER_REQUESTS
        or not message.reply
        or not message.ok
    ):
        raise ValueError(f"{message!r} is not a successful filter display reply")
    return filter_from_records(NmiMessageType(message.messageType), message.records)


def decode_filter_reply(
    message: NmiMessage,
) -> tuple[str, FilterSet, list[FilterRecordInfo]]:
    """
    The stack name, its current set and the rules of a successful filter
    display reply; L{decode_filter_report} adds the heading's values.

    @raise ValueError: C{message} is not a successful filter display reply.
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    report = decode_filter_report(message)
    return report.stackName, report.currentSet, report.rules


# The control requests' NMsecTunnel section.


@dataclass(frozen=True)
class TunnelControl:
    """
    One NMsecTunnel entry: what a control request names, and what its
    reply says happened to it.

    @ivar name: the IpManVpnAction (manual), LocalDynVpnRule (dynamic) or
        KeyExchangeRule (IKE) name, or, in a filter set switch's reply,
        the stack's name; C{""} when not given.
    @ivar tunnelId: the tunnel ID (C{K1}, C{Y2}, ...); C{""} when not given.
    @ivar status: L{TunnelStatus.NONE} in a request, anything else in a
        reply.
    """

    name: str = ""
    tunnelId: str = ""
    status: TunnelStatus = TunnelStatus.NONE

    def __post_init__(self) -> None:
        _text(self.name, _NAME, "name")
        _text(self.tunnelId, _NAME, "tunnelId")
        _kind(self.status, TunnelStatus, "status")


def _encode_tunnel(control: TunnelControl) -> bytes:
    if not isinstance(control, TunnelControl):
        raise ValueError(f"{control!r} is not a TunnelControl")
    return _TUNNEL.pack(
        _NAME.encode(control.name),
        _NAME.encode(control.tunnelId),
        int(control.status),
        bytes(3),
    )


def _decode_tunnel(data: bytes) -> TunnelControl:
    name, tunnelId, status, reserved = _TUNNEL.unpack(data)
    texts = []
    for field, raw in [("NMsTunName", name), ("NMsTunTunnelID", tunnelId)]:
        try:
            texts.append(_NAME.decode(raw))
        except FieldDecodeError as e:
            raise FieldValueError(f"{field}: {e.detail}") from None
    if reserved != bytes(3):
        raise FieldValueError("NMsecTunnel: reserved bytes not zero")
    value = _enum_field(TunnelStatus, status, "NMsTunStatus")
    assert isinstance(value, TunnelStatus)
    return TunnelControl(texts[0], texts[1], value)


_SWITCH_STATUSES = frozenset(
    {TunnelStatus.STATEUPDATED, TunnelStatus.STATEALREADYSET, TunnelStatus.NOTFOUND}
)
"""
What a filter set switch reply may say: NOTFOUND when the stack has no
such set (a reload of a stack without a policy).
"""


def _control_problem(
    messageType: int, reply: bool, controls: Sequence[TunnelControl]
) -> str | None:
    """The rule of the control request family that C{controls} break."""
    for control in controls:
        if (control.status == TunnelStatus.NONE) == reply:
            return (
                f"a control {'reply' if reply else 'request'} entry has status "
                f"{control.status.name}"
            )
    if messageType in FILTER_SET_REQUESTS:
        if not reply and controls:
            return "a filter set switch request carries no NMsecTunnel entry"
        if reply:
            if len(controls) != 1:
                return (
                    "a filter set switch reply carries one NMsecTunnel entry, "
                    f"not {len(controls)}"
                )
            if controls[0].status not in _SWITCH_STATUSES:
                return (
                    "a filter set switch reply's status is STATEUPDATED, "
                    f"STATEALREADYSET or NOTFOUND, not {controls[0].status.name}"
                )
            if not controls[0].name:
                return "a filter set switch reply names the stack"
    return None


def control_records(
    messageType: NmiMessageType, reply: bool, controls: Iterable[TunnelControl]
) -> tuple[NmiRecord, ...]:
    """
    The records of a control request or reply: one per entry, each one
    section holding one NMsecTunnel entry.

    @raise ValueError: C{messageType} is not a control request, or the
        entries break a rule (L{_control_problem}).
    """
    if messageType not in _CONTROL_TYPES:
        raise ValueError(f"{messageType!r} is not a control request")
    controls = list(controls)
    entries = [_encode_tunnel(control) for control in controls]
    problem = _control_problem(messageType, reply, controls)
    if problem:
        raise ValueError(problem)
    return tuple(NmiRecord((NmiSection(1, entry),)) for entry in entries)


def control_from_records(
    messageType: NmiMessageType, reply: bool, records: Sequence[NmiRecord]
) -> list[TunnelControl]:
    """
    The NMsecTunnel entries of a control request's or reply's records.

    @raise FieldDecodeError: the records break a rule of the layout.
    """
    controls = []
    for index, record in enumerate(records, 1):
        where = f"NMsecTunnel record {index}"
        entry = single_entry(record, TUNNEL_SIZE, where)
        try:
            controls.append(_decode_tunnel(entry))
        except FieldDecodeError as e:
            raise FieldValueError(f"{where}: {e.detail}") from None
    problem = _control_problem(messageType, reply, controls)
    if problem:
        raise FieldValueError(problem)
    return controls


def decode_control_request(message: NmiMessage) -> list[TunnelControl]:
    """
    The entries a control request names (none for a filter set switch).

    @raise ValueError: C{message} is not a control request.
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    if message.messageType not in _CONTROL_TYPES or message.reply:
        raise ValueError(f"{message!r} is not a control request")
    return control_from_records(
        NmiMessageType(message.messageType), False, message.records
    )


def encode_control_reply(
    request: NmiMessage, controls: Iterable[TunnelControl]
) -> NmiMessage:
    """
    The successful reply to a control request, one entry per tunnel acted
    on (or found missing), each with its status.

    @raise ValueError: C{request} is not a control request, or
        L{control_records} refuses the entries.
    """
    if request.messageType not in _CONTROL_TYPES or request.reply:
        raise ValueError(f"{request!r} is not a control request")
    return request.answer(
        control_records(NmiMessageType(request.messageType), True, controls)
    )


def decode_control_reply(message: NmiMessage) -> list[TunnelControl]:
    """
    The entries of a successful control reply.

    @raise ValueError: C{message} is not a successful control reply (the
        caller checks the codes first).
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    if message.messageType not in _CONTROL_TYPES or not message.reply or not message.ok:
        raise ValueError(f"{message!r} is not a successful control reply")
    return control_from_records(
        NmiMessageType(message.messageType), True, message.records
    )


def answer_filter_set(
    request: NmiMessage, stackName: str, changed: bool | TunnelStatus
) -> NmiMessage:
    """
    The reply to a SET_IPFLTDEFAULT or SET_IPFLTPOLICY request, for the
    stack that handled it: STATEUPDATED when the switch changed the
    current set, STATEALREADYSET when the stack was using that set
    already, NOTFOUND when the stack has no such set.

    @param changed: C{True} or C{False}, or the status itself
        (STATEUPDATED, STATEALREADYSET or NOTFOUND; the iked model's
        C{FilterSwitchOutcome} values are these).
    @raise ValueError: C{request} is not a filter set switch request, or
        the status is not one of those.
    """
    if request.messageType not in FILTER_SET_REQUESTS or request.reply:
        raise ValueError(f"{request!r} is not a filter set switch request")
    if isinstance(changed, bool):
        status = TunnelStatus.STATEUPDATED if changed else TunnelStatus.STATEALREADYSET
    else:
        status = TunnelStatus(changed)
    return encode_control_reply(request, [TunnelControl(stackName, "", status)])
