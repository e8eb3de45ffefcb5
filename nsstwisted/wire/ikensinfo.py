"""
The records of C{NMsec_GET_IKENSINFO}: what iked knows about each stack's
NSS client, the data behind C{ipsec -w display}.

IBM documents the start of its NMsecNSS section (the client, stack, user
and server system names, then a word of flags) and nothing after the
certificate service bits.  This layout keeps IBM's first 52 bytes as IBM
shows them and defines the rest from what C{ipsec -w} displays, so that
every line of that report comes from one field.  As everywhere in the NMI
(C{docs/nmi.md}), text is blank-padded ASCII and integers are big-endian.

A reply is a system record followed by one record per stack, in the
order iked lists its stacks.  The system record exists because the report
shows the system name even when iked has no stack at all, and because
IBM's command could ask its own host for the name while ours may run where
the name is configured rather than the host's.

The codec is strict and total, like L{nsstwisted.wire.nmi}: what the
encoder refuses with C{ValueError} the decoder refuses with
L{FieldDecodeError}, and the decoder raises nothing else.  The rules live
in one place, L{IkeNssInfo}'s constructor, so an iked bug shows up where
the bad value is made, not when an operator asks for the report.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from nsstwisted.wire.entries import (
    address_problem,
    check_unsigned,
    first_duplicate,
    single_entry,
)
from nsstwisted.wire.fields import FieldDecodeError, FieldValueError, FixedText
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType, NmiRecord, NmiSection
from nsstwisted.wire.nss import (
    CLIENT_NAME_PATTERN,
    SYSTEM_NAME_PATTERN,
    USERID_PATTERN,
)

__all__ = [
    "ADDRESS_SIZE",
    "IKENSINFO_SIZE",
    "STACK_NAME_PATTERN",
    "SYSTEM_SECTION_SIZE",
    "IkeNssConnectionState",
    "IkeNssFlags",
    "IkeNssInfo",
    "decode_ikensinfo",
    "decode_ikensinfo_reply",
    "encode_ikensinfo",
    "encode_ikensinfo_reply",
    "ikensinfo_from_records",
    "ikensinfo_records",
]

STACK_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.@#$-]{1,8}")
"""
A stack name: what a TCP/IP job name may hold on z/OS, plus the characters
of a client name, since the default client name is C{SYSNAME_STACKNAME}.
"""

ADDRESS_SIZE = 48
"""
The width of an address field: the longest IPv6 text (45 characters) with
room for a short zone (C{%eth0}).
"""

IKENSINFO_SIZE = 184
"""The bytes of one NMsecNSS entry."""

SYSTEM_SECTION_SIZE = 8
"""The bytes of the system record's one entry: the system name."""


class IkeNssFlags(enum.IntFlag):
    """
    The flag word at offset 48.  IBM names the first three bits; the
    remote management bits are ours, placed after IBM's.  Bit 0 is the
    least significant, as in the NMI header's flags.
    """

    CONFIGURED = 0x01
    """NMsIKENSSConfigured: the stack has an NssStackConfig."""
    CERT_SELECTED = 0x02
    """NMsIKENSSvcSelCert: the stack asks for the certificate service."""
    CERT_ENABLED = 0x04
    """NMsIKENSSvcEnblCert: ... and the NSS server granted it at logon."""
    REMOTE_MGMT_SELECTED = 0x08
    """NMsIKENSSvcSelRmtMgmt: the stack asks for remote management."""
    REMOTE_MGMT_ENABLED = 0x10
    """NMsIKENSSvcEnblRmtMgmt: ... and the NSS server granted it at logon."""


class IkeNssConnectionState(enum.IntEnum):
    """
    The state of a stack's connection to the NSS server.  IBM shows
    C{connected}; the other texts are ours, and a stack that is not an NSS
    client shows C{n/a}.  0 is not a state, so that a zeroed entry is
    refused rather than read as one.
    """

    NOT_CONFIGURED = 1
    CONNECTING = 2
    CONNECTED = 3
    DISCONNECTED = 4

    @property
    def text(self) -> str:
        """What C{ipsec -w} shows: C{n/a} for a stack that is not a client."""
        return _STATE_TEXT[self]


_STATE_TEXT = {
    IkeNssConnectionState.NOT_CONFIGURED: "n/a",
    IkeNssConnectionState.CONNECTING: "connecting",
    IkeNssConnectionState.CONNECTED: "connected",
    IkeNssConnectionState.DISCONNECTED: "disconnected",
}

_CLIENT_NAME = FixedText(24, "ascii", CLIENT_NAME_PATTERN)
_STACK_NAME = FixedText(8, "ascii", STACK_NAME_PATTERN)
_USERID = FixedText(8, "ascii", USERID_PATTERN)
_SYSTEM_NAME = FixedText(8, "ascii", SYSTEM_NAME_PATTERN)
_ADDRESS = FixedText(ADDRESS_SIZE, "ascii")

# Client name, stack name, user ID, server system name, flags, client and
# server API version, state, 3 reserved, time connected, time of the last
# message, client and server port, 4 reserved, client and server address.
_ENTRY = struct.Struct(">24s8s8s8sIIIB3sQQHH4s48s48s")
assert _ENTRY.size == IKENSINFO_SIZE

_KNOWN_FLAGS = int(
    IkeNssFlags.CONFIGURED
    | IkeNssFlags.CERT_SELECTED
    | IkeNssFlags.CERT_ENABLED
    | IkeNssFlags.REMOTE_MGMT_SELECTED
    | IkeNssFlags.REMOTE_MGMT_ENABLED
)


@dataclass(frozen=True)
class IkeNssInfo:
    """
    One stack's NSS client, as C{ipsec -w} shows it.

    Every rule is checked when the object is made, so a value the encoder
    would refuse cannot exist, and the decoder reuses the same checks.

    @ivar stackName: the stack; never empty.
    @ivar clientName: the NSS client name; C{""} exactly when the stack is
        not an NSS client (not L{configured}).
    @ivar configured: the stack has an NssStackConfig (NSServicesSupported).
    @ivar remoteMgmtSelected: the stack asks for the remote management
        service.
    @ivar remoteMgmtEnabled: ... and SAF granted it at logon; never without
        L{remoteMgmtSelected}.
    @ivar certSelected: the stack asks for the certificate service.
    @ivar certEnabled: ... and SAF granted it at logon; never without
        L{certSelected}.
    @ivar clientApiVersion: the API version iked offers; 0 = n/a.
    @ivar serverApiVersion: the session's API version from the logon reply;
        0 = n/a.
    @ivar clientAddress: iked's end of the connection, IPv4 or IPv6 text;
        C{""} = n/a, and then L{clientPort} is 0.
    @ivar serverAddress: the server's end, likewise with L{serverPort}.
    @ivar serverSystemName: the server's system name from the logon reply.
    @ivar userid: the user ID the stack logs on with.
    @ivar connectionState: L{IkeNssConnectionState.NOT_CONFIGURED} exactly
        when the stack is not an NSS client.
    @ivar timeConnected: seconds since the epoch; 0 = n/a.
    @ivar timeLastMessage: seconds since the epoch; 0 = n/a.
    """

    stackName: str
    clientName: str = ""
    configured: bool = False
    remoteMgmtSelected: bool = False
    remoteMgmtEnabled: bool = False
    certSelected: bool = False
    certEnabled: bool = False
    clientApiVersion: int = 0
    serverApiVersion: int = 0
    clientAddress: str = ""
    clientPort: int = 0
    serverAddress: str = ""
    serverPort: int = 0
    serverSystemName: str = ""
    userid: str = ""
    connectionState: IkeNssConnectionState = IkeNssConnectionState.NOT_CONFIGURED
    timeConnected: int = 0
    timeLastMessage: int = 0

    @classmethod
    def not_configured(cls, stackName: str) -> IkeNssInfo:
        """
        A stack that is not an NSS client: IBM shows it too, with C{n/a}
        and C{No} throughout, so that the operator sees every stack.
        """
        return cls(stackName)

    def __post_init__(self) -> None:
        try:
            self._check()
        except ValueError as e:
            raise ValueError(f"IkeNssInfo of stack {self.stackName!r}: {e}") from None

    def _check(self) -> None:
        for name, codec in [
            ("stackName", _STACK_NAME),
            ("clientName", _CLIENT_NAME),
            ("userid", _USERID),
            ("serverSystemName", _SYSTEM_NAME),
            ("clientAddress", _ADDRESS),
            ("serverAddress", _ADDRESS),
        ]:
            try:
                codec.encode(getattr(self, name))
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
        if not self.stackName:
            raise ValueError("stackName is empty")
        for name in ("clientAddress", "serverAddress"):
            problem = address_problem(getattr(self, name))
            if problem:
                raise ValueError(f"{name}: {problem}")
        for name in (
            "configured",
            "remoteMgmtSelected",
            "remoteMgmtEnabled",
            "certSelected",
            "certEnabled",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} {getattr(self, name)!r} is not a bool")
        for name, size in [
            ("clientApiVersion", 4),
            ("serverApiVersion", 4),
            ("clientPort", 2),
            ("serverPort", 2),
            ("timeConnected", 8),
            ("timeLastMessage", 8),
        ]:
            check_unsigned(getattr(self, name), size, name)
        if not isinstance(self.connectionState, IkeNssConnectionState):
            raise ValueError(
                f"connectionState {self.connectionState!r} is not an "
                "IkeNssConnectionState"
            )
        if self.certEnabled and not self.certSelected:
            raise ValueError("certEnabled without certSelected")
        if self.remoteMgmtEnabled and not self.remoteMgmtSelected:
            raise ValueError("remoteMgmtEnabled without remoteMgmtSelected")
        for end in ("client", "server"):
            if (getattr(self, f"{end}Address") == "") != (
                getattr(self, f"{end}Port") == 0
            ):
                raise ValueError(f"{end}Address and {end}Port go together")
        if self.configured:
            if not self.clientName:
                raise ValueError("an NSS client has a clientName")
            if self.connectionState == IkeNssConnectionState.NOT_CONFIGURED:
                raise ValueError("an NSS client has a connectionState")
        else:
            # A stack that is not a client has nothing but its name: the
            # report's n/a lines must be the truth, not a mask over data.
            extra = [
                f.name
                for f in fields(self)
                if f.name != "stackName" and getattr(self, f.name) != f.default
            ]
            if extra:
                raise ValueError(
                    f"a stack that is not an NSS client has no {', '.join(extra)}"
                )

    @property
    def flags(self) -> IkeNssFlags:
        """The flag word of the entry."""
        flags = IkeNssFlags(0)
        for flag, value in [
            (IkeNssFlags.CONFIGURED, self.configured),
            (IkeNssFlags.CERT_SELECTED, self.certSelected),
            (IkeNssFlags.CERT_ENABLED, self.certEnabled),
            (IkeNssFlags.REMOTE_MGMT_SELECTED, self.remoteMgmtSelected),
            (IkeNssFlags.REMOTE_MGMT_ENABLED, self.remoteMgmtEnabled),
        ]:
            if value:
                flags |= flag
        return flags


def encode_ikensinfo(info: IkeNssInfo) -> bytes:
    """
    The NMsecNSS entry of one stack (L{IKENSINFO_SIZE} bytes).

    @raise ValueError: C{info} is not an L{IkeNssInfo}.
    """
    if not isinstance(info, IkeNssInfo):
        raise ValueError(f"{info!r} is not an IkeNssInfo")
    return _ENTRY.pack(
        _CLIENT_NAME.encode(info.clientName),
        _STACK_NAME.encode(info.stackName),
        _USERID.encode(info.userid),
        _SYSTEM_NAME.encode(info.serverSystemName),
        int(info.flags),
        info.clientApiVersion,
        info.serverApiVersion,
        int(info.connectionState),
        bytes(3),
        info.timeConnected,
        info.timeLastMessage,
        info.clientPort,
        info.serverPort,
        bytes(4),
        _ADDRESS.encode(info.clientAddress),
        _ADDRESS.encode(info.serverAddress),
    )


def decode_ikensinfo(data: bytes) -> IkeNssInfo:
    """
    One stack from its NMsecNSS entry.

    @raise FieldDecodeError: the bytes break a rule of the layout or of
        L{IkeNssInfo}.
    """
    if len(data) != IKENSINFO_SIZE:
        raise FieldValueError(
            f"an NMsecNSS entry is {IKENSINFO_SIZE} bytes, not {len(data)}"
        )
    (
        clientName,
        stackName,
        userid,
        serverSystemName,
        flags,
        clientApiVersion,
        serverApiVersion,
        state,
        reserved1,
        timeConnected,
        timeLastMessage,
        clientPort,
        serverPort,
        reserved2,
        clientAddress,
        serverAddress,
    ) = _ENTRY.unpack(data)
    texts = {}
    for name, codec, raw in [
        ("NMsIKENSClientName", _CLIENT_NAME, clientName),
        ("NMsIKENSStackName", _STACK_NAME, stackName),
        ("NMsIKENSUserid", _USERID, userid),
        ("NMsIKENSServerSysName", _SYSTEM_NAME, serverSystemName),
        ("NMsIKENSClientAddr", _ADDRESS, clientAddress),
        ("NMsIKENSServerAddr", _ADDRESS, serverAddress),
    ]:
        try:
            texts[name] = codec.decode(raw)
        except FieldDecodeError as e:
            raise FieldValueError(f"{name}: {e.detail}") from None
    if flags & ~_KNOWN_FLAGS:
        raise FieldValueError(
            f"NMsIKENSFlags: bits {flags & ~_KNOWN_FLAGS:#x} are not defined"
        )
    if reserved1 != bytes(3) or reserved2 != bytes(4):
        raise FieldValueError("NMsecNSS: reserved bytes not zero")
    try:
        connectionState = IkeNssConnectionState(state)
    except ValueError:
        raise FieldValueError(
            f"NMsIKENSConnState: {state} is not a connection state"
        ) from None
    flagSet = IkeNssFlags(flags)
    try:
        return IkeNssInfo(
            stackName=texts["NMsIKENSStackName"],
            clientName=texts["NMsIKENSClientName"],
            configured=IkeNssFlags.CONFIGURED in flagSet,
            remoteMgmtSelected=IkeNssFlags.REMOTE_MGMT_SELECTED in flagSet,
            remoteMgmtEnabled=IkeNssFlags.REMOTE_MGMT_ENABLED in flagSet,
            certSelected=IkeNssFlags.CERT_SELECTED in flagSet,
            certEnabled=IkeNssFlags.CERT_ENABLED in flagSet,
            clientApiVersion=clientApiVersion,
            serverApiVersion=serverApiVersion,
            clientAddress=texts["NMsIKENSClientAddr"],
            clientPort=clientPort,
            serverAddress=texts["NMsIKENSServerAddr"],
            serverPort=serverPort,
            serverSystemName=texts["NMsIKENSServerSysName"],
            userid=texts["NMsIKENSUserid"],
            connectionState=connectionState,
            timeConnected=timeConnected,
            timeLastMessage=timeLastMessage,
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None


def ikensinfo_records(
    systemName: str, infos: Iterable[IkeNssInfo]
) -> tuple[NmiRecord, ...]:
    """
    The records of a GET_IKENSINFO reply: the system record, then one
    record per stack in the order given.

    @raise ValueError: a bad system name, something that is not an
        L{IkeNssInfo}, or two stacks of the same name (stack names are
        case-insensitive, as C{ipsec -p} takes them).
    """
    try:
        system = _SYSTEM_NAME.encode(systemName)
    except ValueError as e:
        raise ValueError(f"system name: {e}") from None
    if not systemName:
        raise ValueError("the system name is empty")
    infos = list(infos)
    entries = [encode_ikensinfo(info) for info in infos]
    twice = first_duplicate(info.stackName for info in infos)
    if twice is not None:
        raise ValueError(f"stack {twice} is listed twice")
    return (
        NmiRecord((NmiSection(1, system),)),
        *(NmiRecord((NmiSection(1, entry),)) for entry in entries),
    )


def ikensinfo_from_records(
    records: Sequence[NmiRecord],
) -> tuple[str, list[IkeNssInfo]]:
    """
    The system name and the stacks of a GET_IKENSINFO reply's records.

    @raise FieldDecodeError: the records break a rule of the layout.
    """
    if not records:
        raise FieldValueError("the system record is missing")
    raw = single_entry(records[0], SYSTEM_SECTION_SIZE, "the system record")
    try:
        systemName = _SYSTEM_NAME.decode(raw)
    except FieldDecodeError as e:
        raise FieldValueError(f"NMsIKENSSysName: {e.detail}") from None
    if not systemName:
        raise FieldValueError("NMsIKENSSysName is blank")
    infos = []
    for index, record in enumerate(records[1:], 1):
        where = f"stack record {index}"
        entry = single_entry(record, IKENSINFO_SIZE, where)
        try:
            infos.append(decode_ikensinfo(entry))
        except FieldDecodeError as e:
            raise FieldValueError(f"{where}: {e.detail}") from None
    twice = first_duplicate(info.stackName for info in infos)
    if twice is not None:
        raise FieldValueError(f"stack {twice} is listed twice")
    return systemName, infos


def encode_ikensinfo_reply(
    request: NmiMessage, systemName: str, infos: Iterable[IkeNssInfo]
) -> NmiMessage:
    """
    The successful reply to a GET_IKENSINFO request.

    @raise ValueError: C{request} is not a GET_IKENSINFO request, or
        L{ikensinfo_records} refuses the data.
    """
    if request.messageType != NmiMessageType.GET_IKENSINFO or request.reply:
        raise ValueError(f"{request!r} is not a GET_IKENSINFO request")
    return request.answer(ikensinfo_records(systemName, infos))


def decode_ikensinfo_reply(message: NmiMessage) -> tuple[str, list[IkeNssInfo]]:
    """
    The system name and the stacks of a successful GET_IKENSINFO reply.

    @raise ValueError: C{message} is not a successful GET_IKENSINFO reply
        (the caller checks the codes first).
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    if (
        message.messageType != NmiMessageType.GET_IKENSINFO
        or not message.reply
        or not message.ok
    ):
        raise ValueError(f"{message!r} is not a successful GET_IKENSINFO reply")
    return ikensinfo_from_records(message.records)
