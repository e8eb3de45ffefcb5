"""
The NSS protocol between NSS clients (IKE daemons) and the NSS server: a
sans-IO codec.

IBM never published the protocol its NSS server speaks to its clients, so
this one is ours, modelled on IBM's NMI message family: a fixed header with an
eyecatcher, a header length, a version, a type, a total length and a return
and reason code, followed by type-length-value fields.  C{docs/protocol.md}
is the specification; this module is its reference implementation.

The codec is strict and total.  L{encode_frame} refuses (with C{ValueError})
anything the decoder would refuse, because sending it would be a bug.
L{NssDecoder.feed} never raises: every way bytes can be wrong becomes a
L{DecodeFailure} that carries the return and reason code to answer with and
says whether the connection can go on.  It can go on whenever the frame's
total length could be trusted, because then the bad frame can be skipped and
its request answered; it cannot when the framing itself is in doubt.

Nothing here keeps session state (logged on or not, services granted,
outstanding request IDs): that belongs to the protocol layer, which the
documentation's state rules bind.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.fields import (
    BoundedBytes,
    BoundedText,
    EnumValue,
    FieldDecodeError,
    FieldOverrun,
    FlagSet,
    TlvLayout,
    UnsignedInt,
    ValueCodec,
    encode_uint,
    has_control_character,
)

__all__ = [
    "CLIENT_NAME_PATTERN",
    "CLIENT_REQUESTS",
    "FLAG_REPLY",
    "HEADER_LENGTH",
    "IDENTIFIER",
    "MAX_CERTIFICATE_SIZE",
    "MAX_CHAIN_LENGTH",
    "MAX_MESSAGE_SIZE",
    "MAX_PRELOGON_MESSAGE_SIZE",
    "MAX_TEXT_BYTES",
    "NSS_API_VERSION",
    "NSS_PORT",
    "PASSTICKET_PATTERN",
    "SERVER_REQUESTS",
    "STACK_NAME_PATTERN",
    "SYSTEM_NAME_PATTERN",
    "USERID_PATTERN",
    "VERSION",
    "CaListReply",
    "CaListRequest",
    "DecodeFailure",
    "Disconnect",
    "FieldType",
    "HeartbeatReply",
    "HeartbeatRequest",
    "Identity",
    "IdentityKind",
    "LogonReply",
    "LogonRequest",
    "MessageType",
    "NetMgmtReply",
    "NetMgmtRequest",
    "NssDecoder",
    "NssFrame",
    "NssMessage",
    "Refusal",
    "Services",
    "SignReply",
    "SignRequest",
    "SignatureSchemeCode",
    "VerifyReply",
    "VerifyRequest",
    "encode_frame",
    "error_text",
]

IDENTIFIER = b"NSSP"
"""The eyecatcher every frame starts with."""

HEADER_LENGTH = 32
VERSION = 1
"""The header version this module speaks; a frame of another is refused."""

FLAG_REPLY = 0x0001
"""Header flag bit 0: the frame answers the request of the same ID."""

NSS_PORT = 4159
"""IBM's default NssConfig Port."""

NSS_API_VERSION = 1
"""The service level this implementation offers at LOGON."""

MAX_MESSAGE_SIZE = 1 << 20
"""The default largest total length a decoder accepts (inclusive)."""

MAX_TEXT_BYTES = 512
"""The largest ERROR_TEXT or DISCONNECT_REASON, in bytes of UTF-8."""

MAX_CHAIN_LENGTH = 16
"""The most intermediate certificates one VERIFY may carry."""

MAX_CERTIFICATE_SIZE = 65536
"""The largest DER certificate, in bytes."""

_HEADER = struct.Struct(">4sHHHHIIIII")
_LAYOUT = TlvLayout(typeSize=2, lengthSize=4)


def _fields(*valueSizes: int) -> int:
    return sum(6 + size for size in valueSizes)


_LARGEST_LOGON = HEADER_LENGTH + _fields(
    24,  # CLIENT_NAME
    8,  # USERID
    256,  # PASSWORD (a PASSTICKET is 8)
    4,  # API_VERSION
    4,  # SERVICES
    8,  # CLIENT_SYSTEM_NAME
    8,  # CLIENT_STACK_NAME
    MAX_TEXT_BYTES,  # ERROR_TEXT
)
_LARGEST_DISCONNECT = HEADER_LENGTH + _fields(MAX_TEXT_BYTES, MAX_TEXT_BYTES)

MAX_PRELOGON_MESSAGE_SIZE = max(_LARGEST_LOGON, _LARGEST_DISCONNECT)
"""
The largest frame a client can need before its LOGON has succeeded (1068):
then only LOGON (904 bytes at most), HEARTBEAT and DISCONNECT (a reason and
an ERROR_TEXT, 1068) are valid, so a server accepts no more from a peer that
has not proved who it is, and buffers no more for it.
"""


class MessageType(enum.IntEnum):
    """
    What a frame is about; the header's REPLY flag tells request from reply.
    """

    LOGON = 1
    SIGN = 2
    VERIFY = 3
    CA_LIST = 4
    NETMGMT = 5
    HEARTBEAT = 6
    DISCONNECT = 7


CLIENT_REQUESTS = frozenset(
    {
        MessageType.LOGON,
        MessageType.SIGN,
        MessageType.VERIFY,
        MessageType.CA_LIST,
        MessageType.HEARTBEAT,
        MessageType.DISCONNECT,
    }
)
"""The request types an NSS client may send (a server refuses the others)."""

SERVER_REQUESTS = frozenset(
    {MessageType.NETMGMT, MessageType.HEARTBEAT, MessageType.DISCONNECT}
)
"""The request types an NSS server may send (a client refuses the others)."""


class FieldType(enum.IntEnum):
    """
    The type numbers of fields.  A field has one encoding wherever it
    appears; which messages may carry it is each message's schema.
    """

    ERROR_TEXT = 1
    CLIENT_NAME = 2
    USERID = 3
    PASSWORD = 4
    PASSTICKET = 5
    API_VERSION = 6
    SERVICES = 7
    SYSTEM_NAME = 8
    KEY_LABEL = 9
    IDENTITY = 10
    SIGNATURE_SCHEME = 11
    DIGEST = 12
    DATA = 13
    SIGNATURE = 14
    CERTIFICATE = 15
    CHAIN_CERTIFICATE = 16
    NMI_MESSAGE = 17
    DISCONNECT_REASON = 18
    CLIENT_SYSTEM_NAME = 19
    CLIENT_STACK_NAME = 20


class Services(enum.IntFlag):
    """
    The services a client asks for at LOGON and the server grants, IBM's
    IPSec certificate service and IPSec remote management service.
    """

    CERT = 1
    NETMGMT = 2


class IdentityKind(enum.IntEnum):
    """
    How an L{Identity} names a certificate: by the forms IKE identities take.
    """

    DN = 1
    IPADDR = 2
    FQDN = 3
    EMAIL = 4


_DIGEST_SIZES = {"SHA1": 20, "SHA256": 32, "SHA384": 48, "SHA512": 64}


class SignatureSchemeCode(enum.IntEnum):
    """
    The wire numbers of the signature schemes of
    L{nsstwisted.security.signing.SignatureScheme}, member for member by name.
    """

    RSA_PKCS1_SHA1 = 1
    RSA_PKCS1_SHA256 = 2
    RSA_PKCS1_SHA384 = 3
    RSA_PKCS1_SHA512 = 4
    RSA_PSS_SHA256 = 5
    RSA_PSS_SHA384 = 6
    RSA_PSS_SHA512 = 7
    ECDSA_SHA256 = 8
    ECDSA_SHA384 = 9
    ECDSA_SHA512 = 10

    @property
    def digest_size(self) -> int:
        """
        The length of the scheme's hash, which a DIGEST field must have: a
        digest of the wrong hash must be refused before anything signs it.
        """
        return _DIGEST_SIZES[self.name.rsplit("_", 1)[1]]


@dataclass(frozen=True)
class Identity:
    """
    A certificate named by what it certifies rather than by its label.

    @ivar value: for C{DN} an RFC 4514 string, for C{IPADDR} the text form
        of an IPv4 or IPv6 address, for C{FQDN} an ASCII host name (IDNs as
        A-labels), for C{EMAIL} an RFC 822 address.
    """

    kind: IdentityKind
    value: str


# Messages.  Each class says its type and direction so that the protocol
# layer can ask a frame's message without a table of its own.


@dataclass(frozen=True)
class LogonRequest:
    """
    The client's first request: who it is, how it proves it, what it wants.

    Exactly one of C{password} and C{passTicket} is given.

    @ivar systemName: the system the client runs on (iked's C{SystemName}),
        or C{None} to leave it unsaid.  Only C{ipsec -x} shows it: the
        server cannot learn it any other way, since the client name is a
        free name and only I{by convention} C{sysname_stackname}.
    @ivar stackName: the TCP/IP stack the client serves, or C{None}; for
        C{ipsec -x} too.  Both are optional, and last with defaults, so
        that a client (or code) that predates them logs on unchanged.
    """

    messageType: ClassVar[MessageType] = MessageType.LOGON
    isReply: ClassVar[bool] = False

    clientName: str
    userid: str
    password: str | None
    passTicket: str | None
    apiVersion: int
    services: Services
    systemName: str | None = None
    stackName: str | None = None


@dataclass(frozen=True)
class LogonReply:
    """
    @ivar servicesGranted: a non-empty subset of the services asked for.
    @ivar apiVersion: the API version of the session: the lower of the
        client's and the server's.
    """

    messageType: ClassVar[MessageType] = MessageType.LOGON
    isReply: ClassVar[bool] = True

    servicesGranted: Services
    apiVersion: int
    serverSystemName: str


@dataclass(frozen=True)
class SignRequest:
    """
    Sign with the private key of a certificate the server holds for the
    client, named by exactly one of C{label} and C{identity}; sign exactly
    one of C{digest} (already hashed with the scheme's hash) and C{data}.
    """

    messageType: ClassVar[MessageType] = MessageType.SIGN
    isReply: ClassVar[bool] = False

    label: str | None
    identity: Identity | None
    scheme: SignatureSchemeCode
    digest: bytes | None
    data: bytes | None


@dataclass(frozen=True)
class SignReply:
    """
    @ivar certificate: the DER certificate whose key signed, which the
        client sends to its IKE peer.
    """

    messageType: ClassVar[MessageType] = MessageType.SIGN
    isReply: ClassVar[bool] = True

    signature: bytes
    certificate: bytes


@dataclass(frozen=True)
class VerifyRequest:
    """
    Verify a peer's signature, and that the peer's certificate validates to
    a CA the client trusts, through the given intermediates.
    """

    messageType: ClassVar[MessageType] = MessageType.VERIFY
    isReply: ClassVar[bool] = False

    certificate: bytes
    chain: tuple[bytes, ...]
    scheme: SignatureSchemeCode
    digest: bytes | None
    data: bytes | None
    signature: bytes


@dataclass(frozen=True)
class VerifyReply:
    """
    The signature and the certificate are good; a failure is a L{Refusal}.
    """

    messageType: ClassVar[MessageType] = MessageType.VERIFY
    isReply: ClassVar[bool] = True


@dataclass(frozen=True)
class CaListRequest:
    """
    Ask for the CA certificates the client trusts, which an IKEv2 client
    names in CERTREQ payloads.
    """

    messageType: ClassVar[MessageType] = MessageType.CA_LIST
    isReply: ClassVar[bool] = False


@dataclass(frozen=True)
class CaListReply:
    messageType: ClassVar[MessageType] = MessageType.CA_LIST
    isReply: ClassVar[bool] = True

    certificates: tuple[bytes, ...]


@dataclass(frozen=True)
class NetMgmtRequest:
    """
    Sent by the server: an NMI request, routed to this client, carried
    opaquely so that this protocol need not change when the NMI grows.
    """

    messageType: ClassVar[MessageType] = MessageType.NETMGMT
    isReply: ClassVar[bool] = False

    nmi: bytes


@dataclass(frozen=True)
class NetMgmtReply:
    """The client's NMI reply, with the NMI's own return and reason code."""

    messageType: ClassVar[MessageType] = MessageType.NETMGMT
    isReply: ClassVar[bool] = True

    nmi: bytes


@dataclass(frozen=True)
class HeartbeatRequest:
    messageType: ClassVar[MessageType] = MessageType.HEARTBEAT
    isReply: ClassVar[bool] = False


@dataclass(frozen=True)
class HeartbeatReply:
    messageType: ClassVar[MessageType] = MessageType.HEARTBEAT
    isReply: ClassVar[bool] = True


@dataclass(frozen=True)
class Disconnect:
    """
    The sender is closing the connection and sends nothing more; never
    answered.  The frame's return and reason code say why.

    @ivar reason: text for the other side's log; C{""} sends none.
    """

    messageType: ClassVar[MessageType] = MessageType.DISCONNECT
    isReply: ClassVar[bool] = False

    reason: str = ""


@dataclass(frozen=True)
class Refusal:
    """
    A reply whose return code is not C{OK}, to a request of any type.

    One class for every failed request rather than a failed variant of each
    reply, so that a reply class always holds a result and code that gets
    one need not wonder whether its fields are filled in.  A refusal carries
    no field but the frame's ERROR_TEXT.

    @ivar messageType: the type of the refused request.  An C{int} rather
        than a L{MessageType}, because a request of a type this side does
        not know is answered too (with C{NMsRsnBadType}), echoing its type.
    """

    isReply: ClassVar[bool] = True

    messageType: int


NssMessage: TypeAlias = (
    LogonRequest
    | LogonReply
    | SignRequest
    | SignReply
    | VerifyRequest
    | VerifyReply
    | CaListRequest
    | CaListReply
    | NetMgmtRequest
    | NetMgmtReply
    | HeartbeatRequest
    | HeartbeatReply
    | Disconnect
    | Refusal
)


@dataclass(frozen=True)
class NssFrame:
    """
    One message with its header's request ID and codes.

    @ivar requestId: chosen by the requester, echoed by the reply; each side
        numbers its own requests, so the REPLY flag keeps the two sides'
        numbers apart.
    @ivar text: ERROR_TEXT, for humans only; any message may carry it.
    """

    requestId: int
    message: NssMessage
    returnCode: ReturnCode = ReturnCode.OK
    reasonCode: ReasonCode = ReasonCode.NONE
    text: str | None = None


@dataclass(frozen=True)
class DecodeFailure:
    """
    A frame that could not be decoded, and what to do about it.

    @ivar requestId: the bad frame's request ID, when its header could be
        trusted that far, so that the request can be answered (or, for a
        reply, the pending request failed).
    @ivar messageType: the bad frame's type number, likewise.
    @ivar fatal: the framing is lost: the connection must be closed, and the
        decoder returns nothing more.
    @ivar text: what was wrong, for the log and for the peer.
    @ivar reply: the bad frame had the REPLY flag set, so it must not be
        answered.
    """

    requestId: int | None
    messageType: int | None
    returnCode: ReturnCode
    reasonCode: ReasonCode
    fatal: bool
    text: str
    reply: bool = False

    def response(self) -> NssFrame | None:
        """
        The frame the receiver sends about this failure, if any: a
        L{Disconnect} before closing for a fatal failure, a L{Refusal} for a
        request that can be answered, nothing for a bad reply or a bad
        DISCONNECT (neither is ever answered).
        """
        text = error_text(self.text)
        if self.fatal:
            return NssFrame(0, Disconnect(text), self.returnCode, self.reasonCode)
        if (
            self.reply
            or self.requestId is None
            or self.messageType is None
            or self.messageType == MessageType.DISCONNECT
        ):
            return None
        return NssFrame(
            self.requestId,
            Refusal(self.messageType),
            self.returnCode,
            self.reasonCode,
            text or None,
        )


def error_text(text: str) -> str:
    """
    C{text} made fit for ERROR_TEXT or DISCONNECT_REASON: control characters
    replaced, cut to L{MAX_TEXT_BYTES} at a character boundary.  Refusals
    quote what the peer sent (a label, an identity of up to 1024 bytes), so
    that every text a sender builds goes through here rather than trusting
    its length to the encoder.
    """
    clean = "".join("?" if has_control_character(c) else c for c in text)
    raw = clean.encode("utf-8")[:MAX_TEXT_BYTES]
    return raw.decode("utf-8", "ignore")


# Field values.


def _der_problem(raw: bytes) -> str | None:
    """
    Whether C{raw} is one DER SEQUENCE with a definite, minimal length that
    spans it exactly: enough to catch PEM, a truncated copy or two
    certificates run together, without parsing X.509 in the codec.
    """
    if len(raw) < 2 or raw[0] != 0x30:
        return "not a DER SEQUENCE"
    first = raw[1]
    if first < 0x80:
        length, start = first, 2
    elif first == 0x80:
        return "an indefinite length is not DER"
    else:
        count = first & 0x7F
        if count > 4 or len(raw) < 2 + count:
            return "a DER length that does not fit"
        length = int.from_bytes(raw[2 : 2 + count], "big")
        start = 2 + count
        if raw[2] == 0 or length < 0x80:
            return "a DER length not in its shortest form"
    if start + length != len(raw):
        return f"the DER SEQUENCE is {start + length} bytes, the field {len(raw)}"
    return None


_FQDN = re.compile(r"[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _ip_problem(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


_IDENTITY_VALUES: dict[IdentityKind, BoundedText] = {
    IdentityKind.DN: BoundedText(maxBytes=1024),
    IdentityKind.IPADDR: BoundedText(maxBytes=64, encoding="ascii", check=_ip_problem),
    IdentityKind.FQDN: BoundedText(maxLength=253, encoding="ascii", pattern=_FQDN),
    IdentityKind.EMAIL: BoundedText(maxBytes=254, pattern=_EMAIL),
}


class _IdentityValue:
    """
    IDENTITY: a u16 kind, then the value's text, whose rules depend on the
    kind.
    """

    _kind = EnumValue(IdentityKind, 2)

    def encode(self, value: Identity) -> bytes:
        if not isinstance(value, Identity):
            raise ValueError(f"{value!r} is not an Identity")
        kind = self._kind.encode(value.kind)
        return kind + _IDENTITY_VALUES[value.kind].encode(value.value)

    def decode(self, raw: bytes) -> Identity:
        kind = self._kind.decode(raw[:2])
        return Identity(kind, _IDENTITY_VALUES[kind].decode(raw[2:]))


# The ASCII identifiers, public so that configuration parsers can refuse at
# load time a name the protocol would refuse at LOGON.
CLIENT_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.@#$-]{1,24}")
USERID_PATTERN = re.compile(r"[A-Za-z0-9@#$]{1,8}")
PASSTICKET_PATTERN = re.compile(r"[\x21-\x7e]{8}")
SYSTEM_NAME_PATTERN = re.compile(r"[A-Za-z0-9@#$_-]{1,8}")
# What a TCP/IP job name may hold on z/OS, plus the characters of a client
# name, since the default client name is SYSNAME_STACKNAME.  The NMI's
# stack name fields (nsstwisted.wire.ikensinfo) use the same rule.
STACK_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.@#$-]{1,8}")

_CERTIFICATE = BoundedBytes(2, MAX_CERTIFICATE_SIZE, _der_problem)

_VALUES: dict[FieldType, ValueCodec[Any]] = {
    FieldType.ERROR_TEXT: BoundedText(minLength=0, maxBytes=MAX_TEXT_BYTES),
    FieldType.CLIENT_NAME: BoundedText(encoding="ascii", pattern=CLIENT_NAME_PATTERN),
    FieldType.USERID: BoundedText(encoding="ascii", pattern=USERID_PATTERN),
    FieldType.PASSWORD: BoundedText(maxBytes=256),
    FieldType.PASSTICKET: BoundedText(encoding="ascii", pattern=PASSTICKET_PATTERN),
    FieldType.API_VERSION: UnsignedInt(4, minimum=1),
    FieldType.SERVICES: FlagSet(Services, 4, allowEmpty=False),
    FieldType.SYSTEM_NAME: BoundedText(encoding="ascii", pattern=SYSTEM_NAME_PATTERN),
    FieldType.KEY_LABEL: BoundedText(maxLength=32, maxBytes=128),
    FieldType.IDENTITY: _IdentityValue(),
    FieldType.SIGNATURE_SCHEME: EnumValue(SignatureSchemeCode, 2),
    FieldType.DIGEST: BoundedBytes(1, 64),
    FieldType.DATA: BoundedBytes(0),
    FieldType.SIGNATURE: BoundedBytes(1, 2048),
    FieldType.CERTIFICATE: _CERTIFICATE,
    FieldType.CHAIN_CERTIFICATE: _CERTIFICATE,
    FieldType.NMI_MESSAGE: BoundedBytes(1),
    FieldType.DISCONNECT_REASON: BoundedText(maxBytes=MAX_TEXT_BYTES),
    FieldType.CLIENT_SYSTEM_NAME: BoundedText(
        encoding="ascii", pattern=SYSTEM_NAME_PATTERN
    ),
    FieldType.CLIENT_STACK_NAME: BoundedText(
        encoding="ascii", pattern=STACK_NAME_PATTERN
    ),
}


# Message schemas.


class _Occurs(enum.Enum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    REPEATED = "repeatable"


@dataclass(frozen=True)
class _Slot:
    """
    One attribute of a message class and the field that carries it.

    @ivar absent: the attribute's value when an optional field is absent.
    @ivar limit: the most times a repeatable field may appear.
    """

    attr: str
    fieldType: FieldType
    occurs: _Occurs
    absent: object = None
    limit: int | None = None


def _digest_problem(values: Mapping[str, Any]) -> str | None:
    digest, scheme = values["digest"], values["scheme"]
    if digest is not None and len(digest) != scheme.digest_size:
        return (
            f"a {scheme.name} digest is {scheme.digest_size} bytes, not {len(digest)}"
        )
    return None


@dataclass(frozen=True)
class _Schema:
    """
    The fields of one kind of message and the rules between them.

    @ivar exclusive: pairs of attributes of which exactly one is given.
    @ivar check: a rule across fields, given the attributes by name,
        returning what is wrong or C{None}.
    """

    cls: type[Any]
    slots: tuple[_Slot, ...] = ()
    exclusive: tuple[tuple[str, str], ...] = ()
    check: Callable[[Mapping[str, Any]], str | None] | None = None
    byField: dict[int, _Slot] = field(init=False, repr=False, compare=False)
    exclusiveNames: tuple[tuple[str, str, list[str]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "byField", {s.fieldType: s for s in self.slots})
        # Worked out once: decoding consults them for every message.
        object.__setattr__(
            self,
            "exclusiveNames",
            tuple(
                (
                    first,
                    second,
                    [s.fieldType.name for s in self.slots if s.attr in (first, second)],
                )
                for first, second in self.exclusive
            ),
        )


_R, _O, _N = _Occurs.REQUIRED, _Occurs.OPTIONAL, _Occurs.REPEATED
F = FieldType

_SCHEMAS: tuple[_Schema, ...] = (
    _Schema(
        LogonRequest,
        (
            _Slot("clientName", F.CLIENT_NAME, _R),
            _Slot("userid", F.USERID, _R),
            _Slot("password", F.PASSWORD, _O),
            _Slot("passTicket", F.PASSTICKET, _O),
            _Slot("apiVersion", F.API_VERSION, _R),
            _Slot("services", F.SERVICES, _R),
            _Slot("systemName", F.CLIENT_SYSTEM_NAME, _O),
            _Slot("stackName", F.CLIENT_STACK_NAME, _O),
        ),
        exclusive=(("password", "passTicket"),),
    ),
    _Schema(
        LogonReply,
        (
            _Slot("servicesGranted", F.SERVICES, _R),
            _Slot("apiVersion", F.API_VERSION, _R),
            _Slot("serverSystemName", F.SYSTEM_NAME, _R),
        ),
    ),
    _Schema(
        SignRequest,
        (
            _Slot("label", F.KEY_LABEL, _O),
            _Slot("identity", F.IDENTITY, _O),
            _Slot("scheme", F.SIGNATURE_SCHEME, _R),
            _Slot("digest", F.DIGEST, _O),
            _Slot("data", F.DATA, _O),
        ),
        exclusive=(("label", "identity"), ("digest", "data")),
        check=_digest_problem,
    ),
    _Schema(
        SignReply,
        (
            _Slot("signature", F.SIGNATURE, _R),
            _Slot("certificate", F.CERTIFICATE, _R),
        ),
    ),
    _Schema(
        VerifyRequest,
        (
            _Slot("certificate", F.CERTIFICATE, _R),
            _Slot("chain", F.CHAIN_CERTIFICATE, _N, limit=MAX_CHAIN_LENGTH),
            _Slot("scheme", F.SIGNATURE_SCHEME, _R),
            _Slot("digest", F.DIGEST, _O),
            _Slot("data", F.DATA, _O),
            _Slot("signature", F.SIGNATURE, _R),
        ),
        exclusive=(("digest", "data"),),
        check=_digest_problem,
    ),
    _Schema(VerifyReply),
    _Schema(CaListRequest),
    _Schema(CaListReply, (_Slot("certificates", F.CERTIFICATE, _N),)),
    _Schema(NetMgmtRequest, (_Slot("nmi", F.NMI_MESSAGE, _R),)),
    _Schema(NetMgmtReply, (_Slot("nmi", F.NMI_MESSAGE, _R),)),
    _Schema(HeartbeatRequest),
    _Schema(HeartbeatReply),
    _Schema(Disconnect, (_Slot("reason", F.DISCONNECT_REASON, _O, absent=""),)),
)
_REFUSAL = _Schema(Refusal)

del _R, _O, _N, F

_BY_CLASS: dict[type[Any], _Schema] = {s.cls: s for s in _SCHEMAS}
_BY_KIND: dict[tuple[int, bool], _Schema] = {
    (s.cls.messageType, s.cls.isReply): s for s in _SCHEMAS
}


def _name(fieldType: int) -> str:
    try:
        return FieldType(fieldType).name
    except ValueError:
        return f"type {fieldType}"


# Encoding.


def _as_enum(enumType: type[Any], value: object, what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} {value!r} is not an integer")
    try:
        return enumType(value)
    except ValueError:
        raise ValueError(f"{what} {value} is not a {enumType.__name__}") from None


def _encode_fields(message: NssMessage, schema: _Schema) -> bytearray:
    where = type(message).__name__
    body = bytearray()
    present: dict[str, bool] = {}
    for slot in schema.slots:
        value = getattr(message, slot.attr)
        codec = _VALUES[slot.fieldType]
        try:
            if slot.occurs is _Occurs.REPEATED:
                if not isinstance(value, tuple):
                    raise ValueError("a tuple is needed")
                if slot.limit is not None and len(value) > slot.limit:
                    raise ValueError(f"at most {slot.limit} allowed")
                for item in value:
                    body += _LAYOUT.encode(slot.fieldType, codec.encode(item))
            elif slot.occurs is _Occurs.OPTIONAL and value == slot.absent:
                present[slot.attr] = False
            else:
                present[slot.attr] = True
                body += _LAYOUT.encode(slot.fieldType, codec.encode(value))
        except ValueError as e:
            raise ValueError(f"{where}.{slot.attr}: {e}") from None
    for first, second in schema.exclusive:
        if present[first] == present[second]:
            raise ValueError(f"{where}: exactly one of {first} and {second} is needed")
    problem = schema.check(vars(message)) if schema.check else None
    if problem:
        raise ValueError(f"{where}: {problem}")
    return body


def encode_frame(frame: NssFrame, maxMessageSize: int = MAX_MESSAGE_SIZE) -> bytes:
    """
    The bytes of one frame.

    @param maxMessageSize: the largest frame the peer accepts; a larger one
        would make it close the connection.
    @raise ValueError: the frame breaks a rule of the protocol, so that the
        peer would refuse it; sending it would be a bug of the caller.
    """
    if not isinstance(frame, NssFrame):
        raise ValueError(f"{frame!r} is not an NssFrame")
    message = frame.message
    returnCode = _as_enum(ReturnCode, frame.returnCode, "return code")
    reasonCode = _as_enum(ReasonCode, frame.reasonCode, "reason code")
    if returnCode is ReturnCode.OK and reasonCode is not ReasonCode.NONE:
        raise ValueError("return code OK goes with reason code NONE only")
    if isinstance(message, Refusal):
        messageType = message.messageType
        encode_uint(messageType, 2)
        if messageType == MessageType.DISCONNECT:
            raise ValueError("a DISCONNECT is never answered, so never refused")
        if returnCode is ReturnCode.OK:
            raise ValueError("a Refusal needs a return code other than OK")
        body = bytearray()
    else:
        schema = _BY_CLASS.get(type(message))
        if schema is None:
            raise ValueError(f"{message!r} is not an NSS message")
        messageType = message.messageType
        if message.isReply and returnCode is not ReturnCode.OK:
            raise ValueError("a failed request is answered with a Refusal")
        if (
            not message.isReply
            and messageType != MessageType.DISCONNECT
            and returnCode is not ReturnCode.OK
        ):
            raise ValueError("a request carries return code OK")
        body = _encode_fields(message, schema)
    if frame.text is not None:
        try:
            text = _VALUES[FieldType.ERROR_TEXT].encode(frame.text)
        except ValueError as e:
            raise ValueError(f"text: {e}") from None
        body += _LAYOUT.encode(FieldType.ERROR_TEXT, text)
    total = HEADER_LENGTH + len(body)
    if total > maxMessageSize:
        raise ValueError(
            f"the frame is {total} bytes, the peer accepts {maxMessageSize}"
        )
    header = _HEADER.pack(
        IDENTIFIER,
        HEADER_LENGTH,
        VERSION,
        messageType,
        FLAG_REPLY if message.isReply else 0,
        total,
        int.from_bytes(encode_uint(frame.requestId, 4), "big"),
        returnCode,
        reasonCode,
        0,
    )
    return header + bytes(body)


# Decoding.


class _Refused(Exception):
    """A frame of trusted length is bad: refuse it and go on."""

    def __init__(self, reasonCode: ReasonCode, text: str) -> None:
        super().__init__(text)
        self.reasonCode = reasonCode
        self.text = text


def _decode_fields(schema: _Schema, frame: bytes) -> tuple[dict[str, Any], str | None]:
    """
    The message's attributes and its ERROR_TEXT, from the fields of a frame.

    @raise _Refused: a field or a rule between fields is broken.
    """
    where = schema.cls.__name__
    values: dict[int, list[Any]] = {}
    text: list[str] = []
    try:
        for tlv in _LAYOUT.iterate(frame, HEADER_LENGTH):
            # Names are for error texts only, so they are made only then.
            if tlv.fieldType == FieldType.ERROR_TEXT:
                if text:
                    raise _Refused(
                        ReasonCode.NSSRsnDuplicateField,
                        f"{_name(tlv.fieldType)} repeated",
                    )
                codec: ValueCodec[Any] = _VALUES[FieldType.ERROR_TEXT]
                text.append(codec.decode(tlv.value))
                continue
            slot = schema.byField.get(tlv.fieldType)
            if slot is None:
                name = _name(tlv.fieldType)
                raise _Refused(
                    ReasonCode.NSSRsnBadField,
                    f"field {name} at offset {tlv.offset} is not allowed in {where}",
                )
            seen = values.setdefault(tlv.fieldType, [])
            if slot.occurs is not _Occurs.REPEATED and seen:
                name = _name(tlv.fieldType)
                raise _Refused(
                    ReasonCode.NSSRsnDuplicateField,
                    f"field {name} at offset {tlv.offset} repeated in {where}",
                )
            if slot.limit is not None and len(seen) >= slot.limit:
                name = _name(tlv.fieldType)
                raise _Refused(
                    ReasonCode.NSSRsnDuplicateField,
                    f"more than {slot.limit} {name} fields in {where}",
                )
            try:
                seen.append(_VALUES[slot.fieldType].decode(tlv.value))
            except FieldDecodeError as e:
                name = _name(tlv.fieldType)
                raise _Refused(
                    ReasonCode.NSSRsnBadFieldValue,
                    f"field {name} at offset {tlv.offset}: {e.detail}",
                ) from None
    except FieldOverrun as e:
        raise _Refused(ReasonCode.NSSRsnFieldOverrun, e.detail) from None
    except FieldDecodeError as e:
        raise _Refused(
            ReasonCode.NSSRsnBadFieldValue, f"ERROR_TEXT: {e.detail}"
        ) from None

    arguments: dict[str, Any] = {}
    for slot in schema.slots:
        seen = values.get(slot.fieldType, [])
        if slot.occurs is _Occurs.REPEATED:
            arguments[slot.attr] = tuple(seen)
        elif seen:
            arguments[slot.attr] = seen[0]
        elif slot.occurs is _Occurs.REQUIRED:
            raise _Refused(
                ReasonCode.NSSRsnMissingField,
                f"{where} needs field {slot.fieldType.name}",
            )
        else:
            arguments[slot.attr] = slot.absent
    pairs = schema.exclusiveNames
    for first, second, names in pairs:
        if arguments[first] is None and arguments[second] is None:
            raise _Refused(
                ReasonCode.NSSRsnMissingField, f"{where} needs {names[0]} or {names[1]}"
            )
    for first, second, names in pairs:
        if arguments[first] is not None and arguments[second] is not None:
            raise _Refused(
                ReasonCode.NSSRsnFieldConflict,
                f"{where} carries both {names[0]} and {names[1]}",
            )
    problem = schema.check(arguments) if schema.check else None
    if problem:
        raise _Refused(ReasonCode.NSSRsnBadFieldValue, f"{where}: {problem}")
    return arguments, text[0] if text else None


# The codes a header may carry, looked up once per frame received rather
# than found by walking each enumeration.
_MESSAGE_TYPES = frozenset(int(m) for m in MessageType)
_RETURN_CODES = {int(m): m for m in ReturnCode}
_REASON_CODES = {int(m): m for m in ReasonCode}


def _decode_frame(frame: bytes) -> NssFrame | DecodeFailure:
    """
    One whole frame whose identifier, header length and total length have
    been checked already.
    """
    (_, _, version, messageType, flags, _, requestId, rc, rsn, reserved) = (
        _HEADER.unpack_from(frame)
    )
    reply = bool(flags & FLAG_REPLY)

    def refused(reasonCode: ReasonCode, text: str) -> DecodeFailure:
        return DecodeFailure(
            requestId, messageType, ReturnCode.EINVAL, reasonCode, False, text, reply
        )

    if version != VERSION:
        return refused(
            ReasonCode.NMsRsnBadVersion,
            f"version {version}; this side speaks {VERSION}",
        )
    if flags & ~FLAG_REPLY:
        return refused(ReasonCode.NMsRsnBadType, f"flags {flags:#06x} not valid")
    if messageType not in _MESSAGE_TYPES:
        return refused(ReasonCode.NMsRsnBadType, f"message type {messageType} unknown")
    if messageType == MessageType.DISCONNECT and reply:
        return refused(ReasonCode.NMsRsnBadType, "a DISCONNECT is never a reply")
    if reserved:
        return refused(ReasonCode.NSSRsnBadHeaderValue, "reserved word not zero")
    returnCode = _RETURN_CODES.get(rc)
    if returnCode is None:
        return refused(ReasonCode.NSSRsnBadHeaderValue, f"return code {rc} unknown")
    reasonCode = _REASON_CODES.get(rsn)
    if reasonCode is None:
        return refused(ReasonCode.NSSRsnBadHeaderValue, f"reason code {rsn} unknown")
    if returnCode is ReturnCode.OK and reasonCode is not ReasonCode.NONE:
        return refused(ReasonCode.NSSRsnBadHeaderValue, "reason code without error")
    if not reply and messageType != MessageType.DISCONNECT and rc:
        return refused(ReasonCode.NSSRsnBadHeaderValue, "a request with a return code")
    schema = _REFUSAL if reply and rc else _BY_KIND[messageType, reply]
    try:
        arguments, text = _decode_fields(schema, frame)
    except _Refused as e:
        return refused(e.reasonCode, e.text)
    message: NssMessage
    if schema is _REFUSAL:
        message = Refusal(MessageType(messageType))
    else:
        message = schema.cls(**arguments)
    return NssFrame(requestId, message, returnCode, reasonCode, text)


class NssDecoder:
    """
    Turns a byte stream into frames, however the stream is cut.

    One decoder per connection and direction.  The identifier is checked as
    soon as its bytes arrive and the lengths as soon as the header has, so a
    peer that speaks something else is caught before it can make us buffer
    anything.
    """

    def __init__(self, maxMessageSize: int = MAX_MESSAGE_SIZE) -> None:
        """
        @param maxMessageSize: the largest total length accepted; a frame
            announcing more is fatal, since skipping it would mean reading
            what we refuse to buffer.
        """
        self.maxMessageSize = maxMessageSize
        self._buffer = bytearray()
        self._failed = False

    @property
    def maxMessageSize(self) -> int:
        """
        The largest total length accepted now.  A server lowers it to
        L{MAX_PRELOGON_MESSAGE_SIZE} until the peer has logged on and then
        raises it, so that an unauthenticated peer can never make it buffer
        more than a LOGON; the next header fed is checked against the new
        value, and so is a frame already partly buffered.
        """
        return self._maxMessageSize

    @maxMessageSize.setter
    def maxMessageSize(self, maxMessageSize: int) -> None:
        if (
            isinstance(maxMessageSize, bool)
            or not isinstance(maxMessageSize, int)
            or not HEADER_LENGTH <= maxMessageSize <= 0xFFFFFFFF
        ):
            raise ValueError(
                f"maxMessageSize must be {HEADER_LENGTH}..{0xFFFFFFFF}, "
                f"not {maxMessageSize!r}"
            )
        self._maxMessageSize = maxMessageSize

    @property
    def pending(self) -> int:
        """
        How many bytes of an incomplete frame are buffered: a connection can
        time out a peer that starts a frame and never finishes it.
        """
        return len(self._buffer)

    @property
    def failed(self) -> bool:
        """Whether a fatal failure has ended decoding for good."""
        return self._failed

    def discard(self) -> None:
        """
        The connection is gone: free what is buffered now rather than when
        the collector gets round to the connection's objects, and decode
        nothing more.
        """
        self._failed = True
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[NssFrame | DecodeFailure]:
        """
        Add received bytes; return every frame (or failure) they complete.
        """
        if self._failed:
            return []
        buffer = self._buffer
        buffer += data
        results: list[NssFrame | DecodeFailure] = []
        offset = 0
        while True:
            available = len(buffer) - offset
            start = bytes(buffer[offset : offset + min(available, len(IDENTIFIER))])
            if start != IDENTIFIER[: len(start)]:
                # Quote up to the first wrong byte only, so that the text
                # does not depend on how the stream was cut.
                wrong = next(i for i, b in enumerate(start) if b != IDENTIFIER[i])
                results.append(
                    self._fatal(
                        ReasonCode.NMsRsnBadIdent,
                        f"identifier starts {start[: wrong + 1]!r}, not {IDENTIFIER!r}",
                    )
                )
                return results
            if available < HEADER_LENGTH:
                break
            headerLength = int.from_bytes(buffer[offset + 4 : offset + 6], "big")
            total = int.from_bytes(buffer[offset + 12 : offset + 16], "big")
            failure = None
            if headerLength != HEADER_LENGTH:
                failure = self._fatal(
                    ReasonCode.NMsRsnHdrSize, f"header length {headerLength}"
                )
            elif total < HEADER_LENGTH:
                failure = self._fatal(
                    ReasonCode.NMsRsnMsgSize,
                    f"total length {total} is less than the header",
                )
            elif total > self._maxMessageSize:
                failure = self._fatal(
                    ReasonCode.NMsRsnExcessiveSize,
                    f"total length {total} exceeds {self._maxMessageSize}",
                )
            if failure is not None:
                results.append(failure)
                return results
            if available < total:
                break
            results.append(_decode_frame(bytes(buffer[offset : offset + total])))
            offset += total
        del buffer[:offset]
        return results

    def _fatal(self, reasonCode: ReasonCode, text: str) -> DecodeFailure:
        self._failed = True
        self._buffer = bytearray()
        return DecodeFailure(None, None, ReturnCode.EINVAL, reasonCode, True, text)
