"""
The records of C{NMsec_GET_CLIENTINFO}: what nssd knows about each NSS
client connected to it, the data behind C{ipsec -x display}.

IBM documents that nssd alone serves the request, that a blank target asks
for every connected client and a named one for that client, and that the
request may carry filter records selecting a discipline.  It documents
nothing of the reply's bytes.  This layout is therefore ours, made after
L{nsstwisted.wire.ikensinfo}'s: a system record naming the server's
system, then one fixed-size NMsecClient entry per client with one field for
each line of the C{ipsec -x} report.  As everywhere in the NMI
(C{docs/nmi.md}), text is blank-padded ASCII and integers are big-endian.

The codec is strict and total, like L{nsstwisted.wire.nmi}: what the
encoder refuses with C{ValueError} the decoder refuses with
L{FieldDecodeError}, and the decoder raises nothing else.  The rules live
in one place, L{NssClientInfo}'s constructor, so that an nssd bug shows up
where the bad value is made, not when an operator asks for the report.

Filter records are operator input, not nssd's data, so they get a third
treatment: L{answer_clientinfo} turns a bad one into the error reply the
operator's program should see, and nssd's handler needs nothing else.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nsstwisted.wire.codes import ReasonCode, ReturnCode
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
    STACK_NAME_PATTERN,
    SYSTEM_NAME_PATTERN,
    USERID_PATTERN,
)

__all__ = [
    "ADDRESS_SIZE",
    "CLIENTINFO_SIZE",
    "FILTER_SIZE",
    "SYSTEM_SECTION_SIZE",
    "NssClientFlags",
    "NssClientInfo",
    "NssClientState",
    "NssDiscipline",
    "answer_clientinfo",
    "clientinfo_filter_record",
    "clientinfo_from_records",
    "clientinfo_records",
    "decode_clientinfo",
    "decode_clientinfo_filter",
    "decode_clientinfo_reply",
    "encode_clientinfo",
    "encode_clientinfo_reply",
]

ADDRESS_SIZE = 48
"""
The width of an address field, as in NMsecNSS: the longest IPv6 text (45
characters) with room for a short zone (C{%eth0}).
"""

CLIENTINFO_SIZE = 176
"""The bytes of one NMsecClient entry."""

SYSTEM_SECTION_SIZE = 8
"""The bytes of the system record's one entry: the server's system name."""

FILTER_SIZE = 4
"""The bytes of a filter record's one entry."""


class NssDiscipline(enum.IntEnum):
    """
    The kinds of NSS client, IBM's I{disciplines}.  nssd serves IPSec
    clients only; XMLAppliance is named so that a filter asking for it is
    understood, and answered truthfully with no client, rather than
    refused as nonsense.  0 is not a discipline, so that a zeroed entry is
    refused rather than read as one.
    """

    IPSEC = 1
    XMLAPPLIANCE = 2


class NssClientState(enum.IntEnum):
    """
    The state of a client's session with nssd.  IBM shows C{connected};
    the other text is ours.  0 is not a state.
    """

    CONNECTED = 1
    """Logged on; what every listed client is, most of the time."""
    DISCONNECTING = 2
    """
    nssd is ending the session (it sent or received DISCONNECT, or a newer
    logon replaced it) and the connection has not closed yet.
    """

    @property
    def text(self) -> str:
        """What C{ipsec -x} shows."""
        return self.name.lower()


class NssClientFlags(enum.IntFlag):
    """
    The flag word of an NMsecClient entry.  Bit 0 is the least significant,
    as in the NMI header's flags.
    """

    CERT_SELECTED = 0x01
    """NMsClntSvcSelCert: the client asked for the certificate service."""
    CERT_ENABLED = 0x02
    """NMsClntSvcEnblCert: ... and SAF granted it."""
    REMOTE_MGMT_SELECTED = 0x04
    """NMsClntSvcSelRmtMgmt: the client asked for remote management."""
    REMOTE_MGMT_ENABLED = 0x08
    """NMsClntSvcEnblRmtMgmt: ... and SAF granted it."""


_CLIENT_NAME = FixedText(24, "ascii", CLIENT_NAME_PATTERN)
_STACK_NAME = FixedText(8, "ascii", STACK_NAME_PATTERN)
_SYSTEM_NAME = FixedText(8, "ascii", SYSTEM_NAME_PATTERN)
_USERID = FixedText(8, "ascii", USERID_PATTERN)
_ADDRESS = FixedText(ADDRESS_SIZE, "ascii")

# Client name, stack name, system name, user ID, flags, discipline, state,
# 2 reserved, time connected, time of the last message, client and server
# port, 4 reserved, client and server address.
_ENTRY = struct.Struct(">24s8s8s8sIBB2sQQHH4s48s48s")
assert _ENTRY.size == CLIENTINFO_SIZE

# Discipline, 3 reserved.
_FILTER = struct.Struct(">B3s")
assert _FILTER.size == FILTER_SIZE

_KNOWN_FLAGS = int(
    NssClientFlags.CERT_SELECTED
    | NssClientFlags.CERT_ENABLED
    | NssClientFlags.REMOTE_MGMT_SELECTED
    | NssClientFlags.REMOTE_MGMT_ENABLED
)


@dataclass(frozen=True)
class NssClientInfo:
    """
    One NSS client connected to nssd, as C{ipsec -x} shows it.

    Every rule is checked when the object is made, so a value the encoder
    would refuse cannot exist, and the decoder reuses the same checks.

    @ivar clientName: the client name the client logged on with, as it
        spelled it; never empty.
    @ivar stackName: the stack the client said it serves at logon
        (C{CLIENT_STACK_NAME}); C{""} when it did not say.
    @ivar systemName: the system the client said it runs on
        (C{CLIENT_SYSTEM_NAME}); C{""} when it did not say.
    @ivar clientAddress: the client's end of the connection, IPv4 or IPv6
        text as nssd's socket reports it; C{""} = n/a, and then
        L{clientPort} is 0.
    @ivar serverAddress: nssd's end, likewise with L{serverPort}.
    @ivar userid: the user ID the client logged on with; never empty, since
        a listed client has logged on.
    @ivar remoteMgmtSelected: the client asked for remote management.
    @ivar remoteMgmtEnabled: ... and SAF granted it; never without
        L{remoteMgmtSelected}.
    @ivar certSelected: the client asked for the certificate service.
    @ivar certEnabled: ... and SAF granted it; never without
        L{certSelected}.  At least one service is selected, since a LOGON
        asks for one at least.
    @ivar connectState: the session's state.
    @ivar timeConnected: when the client logged on, in seconds since the
        epoch; 0 = n/a.
    @ivar timeLastMessageFromClient: when the last frame came from the
        client, in seconds since the epoch; 0 = n/a.
    @ivar discipline: the kind of client; nssd has IPSec clients only.
    """

    clientName: str
    userid: str
    stackName: str = ""
    systemName: str = ""
    clientAddress: str = ""
    clientPort: int = 0
    serverAddress: str = ""
    serverPort: int = 0
    remoteMgmtSelected: bool = False
    remoteMgmtEnabled: bool = False
    certSelected: bool = False
    certEnabled: bool = False
    connectState: NssClientState = NssClientState.CONNECTED
    timeConnected: int = 0
    timeLastMessageFromClient: int = 0
    discipline: NssDiscipline = NssDiscipline.IPSEC

    def __post_init__(self) -> None:
        try:
            self._check()
        except ValueError as e:
            raise ValueError(
                f"NssClientInfo of client {self.clientName!r}: {e}"
            ) from None

    def _check(self) -> None:
        for name, codec in [
            ("clientName", _CLIENT_NAME),
            ("userid", _USERID),
            ("stackName", _STACK_NAME),
            ("systemName", _SYSTEM_NAME),
            ("clientAddress", _ADDRESS),
            ("serverAddress", _ADDRESS),
        ]:
            try:
                codec.encode(getattr(self, name))
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
        for name in ("clientName", "userid"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        for name in ("clientAddress", "serverAddress"):
            problem = address_problem(getattr(self, name))
            if problem:
                raise ValueError(f"{name}: {problem}")
        for name in (
            "remoteMgmtSelected",
            "remoteMgmtEnabled",
            "certSelected",
            "certEnabled",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} {getattr(self, name)!r} is not a bool")
        for name, size in [
            ("clientPort", 2),
            ("serverPort", 2),
            ("timeConnected", 8),
            ("timeLastMessageFromClient", 8),
        ]:
            check_unsigned(getattr(self, name), size, name)
        for name, kind in [
            ("connectState", NssClientState),
            ("discipline", NssDiscipline),
        ]:
            if not isinstance(getattr(self, name), kind):
                raise ValueError(
                    f"{name} {getattr(self, name)!r} is not an {kind.__name__}"
                )
        if self.certEnabled and not self.certSelected:
            raise ValueError("certEnabled without certSelected")
        if self.remoteMgmtEnabled and not self.remoteMgmtSelected:
            raise ValueError("remoteMgmtEnabled without remoteMgmtSelected")
        if not (self.certSelected or self.remoteMgmtSelected):
            raise ValueError("no service selected: a LOGON asks for one at least")
        for end in ("client", "server"):
            if (getattr(self, f"{end}Address") == "") != (
                getattr(self, f"{end}Port") == 0
            ):
                raise ValueError(f"{end}Address and {end}Port go together")

    @property
    def flags(self) -> NssClientFlags:
        """The flag word of the entry."""
        flags = NssClientFlags(0)
        for flag, value in [
            (NssClientFlags.CERT_SELECTED, self.certSelected),
            (NssClientFlags.CERT_ENABLED, self.certEnabled),
            (NssClientFlags.REMOTE_MGMT_SELECTED, self.remoteMgmtSelected),
            (NssClientFlags.REMOTE_MGMT_ENABLED, self.remoteMgmtEnabled),
        ]:
            if value:
                flags |= flag
        return flags


def encode_clientinfo(info: NssClientInfo) -> bytes:
    """
    The NMsecClient entry of one client (L{CLIENTINFO_SIZE} bytes).

    @raise ValueError: C{info} is not an L{NssClientInfo}.
    """
    if not isinstance(info, NssClientInfo):
        raise ValueError(f"{info!r} is not an NssClientInfo")
    return _ENTRY.pack(
        _CLIENT_NAME.encode(info.clientName),
        _STACK_NAME.encode(info.stackName),
        _SYSTEM_NAME.encode(info.systemName),
        _USERID.encode(info.userid),
        int(info.flags),
        int(info.discipline),
        int(info.connectState),
        bytes(2),
        info.timeConnected,
        info.timeLastMessageFromClient,
        info.clientPort,
        info.serverPort,
        bytes(4),
        _ADDRESS.encode(info.clientAddress),
        _ADDRESS.encode(info.serverAddress),
    )


def decode_clientinfo(data: bytes) -> NssClientInfo:
    """
    One client from its NMsecClient entry.

    @raise FieldDecodeError: the bytes break a rule of the layout or of
        L{NssClientInfo}.
    """
    if len(data) != CLIENTINFO_SIZE:
        raise FieldValueError(
            f"an NMsecClient entry is {CLIENTINFO_SIZE} bytes, not {len(data)}"
        )
    (
        clientName,
        stackName,
        systemName,
        userid,
        flags,
        discipline,
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
        ("NMsClntName", _CLIENT_NAME, clientName),
        ("NMsClntStackName", _STACK_NAME, stackName),
        ("NMsClntSysName", _SYSTEM_NAME, systemName),
        ("NMsClntUserid", _USERID, userid),
        ("NMsClntClientAddr", _ADDRESS, clientAddress),
        ("NMsClntServerAddr", _ADDRESS, serverAddress),
    ]:
        try:
            texts[name] = codec.decode(raw)
        except FieldDecodeError as e:
            raise FieldValueError(f"{name}: {e.detail}") from None
    if flags & ~_KNOWN_FLAGS:
        raise FieldValueError(
            f"NMsClntFlags: bits {flags & ~_KNOWN_FLAGS:#x} are not defined"
        )
    if reserved1 != bytes(2) or reserved2 != bytes(4):
        raise FieldValueError("NMsecClient: reserved bytes not zero")
    try:
        clientDiscipline = NssDiscipline(discipline)
    except ValueError:
        raise FieldValueError(
            f"NMsClntDiscipline: {discipline} is not a discipline"
        ) from None
    try:
        connectState = NssClientState(state)
    except ValueError:
        raise FieldValueError(
            f"NMsClntConnState: {state} is not a connection state"
        ) from None
    flagSet = NssClientFlags(flags)
    try:
        return NssClientInfo(
            clientName=texts["NMsClntName"],
            userid=texts["NMsClntUserid"],
            stackName=texts["NMsClntStackName"],
            systemName=texts["NMsClntSysName"],
            clientAddress=texts["NMsClntClientAddr"],
            clientPort=clientPort,
            serverAddress=texts["NMsClntServerAddr"],
            serverPort=serverPort,
            remoteMgmtSelected=NssClientFlags.REMOTE_MGMT_SELECTED in flagSet,
            remoteMgmtEnabled=NssClientFlags.REMOTE_MGMT_ENABLED in flagSet,
            certSelected=NssClientFlags.CERT_SELECTED in flagSet,
            certEnabled=NssClientFlags.CERT_ENABLED in flagSet,
            connectState=connectState,
            timeConnected=timeConnected,
            timeLastMessageFromClient=timeLastMessage,
            discipline=clientDiscipline,
        )
    except ValueError as e:
        raise FieldValueError(str(e)) from None


def clientinfo_records(
    systemName: str, infos: Iterable[NssClientInfo]
) -> tuple[NmiRecord, ...]:
    """
    The records of a GET_CLIENTINFO reply: the system record, then one
    record per client in the order given.

    @param systemName: the NSS server's system name (nssd's C{SystemName}).
    @raise ValueError: a bad system name, something that is not an
        L{NssClientInfo}, or two clients of the same name (client names are
        case-insensitive, as nssd's registry holds them).
    """
    try:
        system = _SYSTEM_NAME.encode(systemName)
    except ValueError as e:
        raise ValueError(f"system name: {e}") from None
    if not systemName:
        raise ValueError("the system name is empty")
    infos = list(infos)
    entries = [encode_clientinfo(info) for info in infos]
    twice = first_duplicate(info.clientName for info in infos)
    if twice is not None:
        raise ValueError(f"client {twice} is listed twice")
    return (
        NmiRecord((NmiSection(1, system),)),
        *(NmiRecord((NmiSection(1, entry),)) for entry in entries),
    )


def clientinfo_from_records(
    records: Sequence[NmiRecord],
) -> tuple[str, list[NssClientInfo]]:
    """
    The server's system name and the clients of a GET_CLIENTINFO reply's
    records.

    @raise FieldDecodeError: the records break a rule of the layout.
    """
    if not records:
        raise FieldValueError("the system record is missing")
    raw = single_entry(records[0], SYSTEM_SECTION_SIZE, "the system record")
    try:
        systemName = _SYSTEM_NAME.decode(raw)
    except FieldDecodeError as e:
        raise FieldValueError(f"NMsClntServerSysName: {e.detail}") from None
    if not systemName:
        raise FieldValueError("NMsClntServerSysName is blank")
    infos = []
    for index, record in enumerate(records[1:], 1):
        where = f"client record {index}"
        entry = single_entry(record, CLIENTINFO_SIZE, where)
        try:
            infos.append(decode_clientinfo(entry))
        except FieldDecodeError as e:
            raise FieldValueError(f"{where}: {e.detail}") from None
    twice = first_duplicate(info.clientName for info in infos)
    if twice is not None:
        raise FieldValueError(f"client {twice} is listed twice")
    return systemName, infos


def _is_request(message: NmiMessage) -> bool:
    return message.messageType == NmiMessageType.GET_CLIENTINFO and not message.reply


def encode_clientinfo_reply(
    request: NmiMessage, systemName: str, infos: Iterable[NssClientInfo]
) -> NmiMessage:
    """
    The successful reply to a GET_CLIENTINFO request, listing exactly
    C{infos}: the caller has selected them (L{answer_clientinfo} does).

    @raise ValueError: C{request} is not a GET_CLIENTINFO request, or
        L{clientinfo_records} refuses the data.
    """
    if not _is_request(request):
        raise ValueError(f"{request!r} is not a GET_CLIENTINFO request")
    return request.answer(clientinfo_records(systemName, infos))


def decode_clientinfo_reply(
    message: NmiMessage,
) -> tuple[str, list[NssClientInfo]]:
    """
    The server's system name and the clients of a successful
    GET_CLIENTINFO reply.

    @raise ValueError: C{message} is not a successful GET_CLIENTINFO reply
        (the caller checks the codes first).
    @raise FieldDecodeError: its records break a rule of the layout.
    """
    if (
        message.messageType != NmiMessageType.GET_CLIENTINFO
        or not message.reply
        or not message.ok
    ):
        raise ValueError(f"{message!r} is not a successful GET_CLIENTINFO reply")
    return clientinfo_from_records(message.records)


# The request's filter records.


def clientinfo_filter_record(discipline: NssDiscipline) -> NmiRecord:
    """
    A filter record of a GET_CLIENTINFO request, selecting C{discipline}.

    @raise ValueError: C{discipline} is not an L{NssDiscipline}.
    """
    if not isinstance(discipline, NssDiscipline):
        raise ValueError(f"{discipline!r} is not an NssDiscipline")
    return NmiRecord((NmiSection(1, _FILTER.pack(int(discipline), bytes(3))),))


class _BadFilter(FieldValueError):
    """A filter record is wrong; C{reasonCode} is what to answer."""

    def __init__(self, reasonCode: ReasonCode, detail: str) -> None:
        super().__init__(detail)
        self.reasonCode = reasonCode


def decode_clientinfo_filter(request: NmiMessage) -> frozenset[NssDiscipline]:
    """
    The disciplines a GET_CLIENTINFO request selects: those its filter
    records name, or IPSec alone when it has none, as IBM's C{ipsec -x}
    asks for the IPSec clients.

    @raise ValueError: C{request} is not a GET_CLIENTINFO request.
    @raise FieldDecodeError: a filter record is wrong.
    """
    if not _is_request(request):
        raise ValueError(f"{request!r} is not a GET_CLIENTINFO request")
    if not request.records:
        return frozenset({NssDiscipline.IPSEC})
    disciplines: set[NssDiscipline] = set()
    for index, record in enumerate(request.records, 1):
        where = f"filter record {index}"
        try:
            raw = single_entry(record, FILTER_SIZE, where)
        except FieldValueError as e:
            raise _BadFilter(ReasonCode.NSSRsnBadField, e.detail) from None
        value, reserved = _FILTER.unpack(raw)
        if reserved != bytes(3):
            raise _BadFilter(
                ReasonCode.NSSRsnBadFieldValue, f"{where}: reserved bytes not zero"
            )
        try:
            disciplines.add(NssDiscipline(value))
        except ValueError:
            raise _BadFilter(
                ReasonCode.NSSRsnBadFieldValue,
                f"{where}: NMsClntFltDiscipline {value} is not a discipline",
            ) from None
    return frozenset(disciplines)


def answer_clientinfo(
    request: NmiMessage, systemName: str, infos: Iterable[NssClientInfo]
) -> NmiMessage:
    """
    nssd's whole answer to a GET_CLIENTINFO request, given every client
    connected now: the clients that the filter records and the target
    select, or the error reply the operator's program should see.

      - A bad filter record: C{EINVAL} with C{NSSRsnBadField} (not one
        4-byte entry) or C{NSSRsnBadFieldValue} (an unknown discipline, or
        reserved bytes set).
      - A target naming no connected client of a selected discipline:
        C{ENXIO}, reason C{NONE}, as IBM's NSS server answers.
      - Otherwise the reply, in the order of C{infos}.

    Authorization (C{EZB.NETMGMT.sysname.sysname.NSS.DISPLAY}) is the
    handler's business, before it calls this.

    @param systemName: nssd's C{SystemName}.
    @param infos: every client connected now, in the order to list them.
    @raise ValueError: C{request} is not a GET_CLIENTINFO request, or the
        data is nssd's bug (L{clientinfo_records} refuses it).
    """
    infos = list(infos)
    # Checked whatever the filter selects, so that an nssd bug shows on
    # every request rather than only on those that happen to list it.
    clientinfo_records(systemName, infos)
    try:
        disciplines = decode_clientinfo_filter(request)
    except _BadFilter as e:
        return request.refuse(ReturnCode.EINVAL, e.reasonCode, e.detail)
    selected = [info for info in infos if info.discipline in disciplines]
    if request.target:
        wanted = request.target.upper()
        selected = [info for info in selected if info.clientName.upper() == wanted]
        if not selected:
            return request.refuse(
                ReturnCode.ENXIO,
                ReasonCode.NONE,
                f"NSS client {request.target} is not connected",
            )
    return encode_clientinfo_reply(request, systemName, selected)
