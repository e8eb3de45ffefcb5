"""
The Hypothesis strategies of the test suite, one section per codec or
parser: the RACF command language, the NSS protocol, the NMI records, the
configuration and policy languages.

For the RACF command language, the alphabets are small and biased towards
the characters the lexer treats specially (separators, quotes, C{/} and
C{*} of comments, the C{-} and C{+} of continuation) so that few examples
reach the interesting cases; sizes are
kept small so the property tests stay fast.  Nothing here uses randomness of
its own: every choice is drawn from Hypothesis, so failures shrink and replay.
"""

from __future__ import annotations

import grp
import os
import string
from dataclasses import replace

from hypothesis import strategies as st

from nsstwisted.security.racf.lexer import Operand, RacfCommand, render_command

# Characters of bare words: what RACF names are made of, plus the lexer's
# special characters that are still word characters, plus some non-ASCII.
WORD_ALPHABET = string.ascii_letters + string.digits + ".*%&/-+#@$_:=\u00e9\u20ac"

# Characters the lexer treats specially, to salt arbitrary text with.
SPECIAL_ALPHABET = " ,()'/*-+\t\r\n\x00\x85\u2028\ud800AZaz09.\u00e9"

verbs = st.text(string.ascii_uppercase, min_size=1, max_size=8)

bare_words = st.text(WORD_ALPHABET, min_size=1, max_size=10).filter(
    lambda word: "/*" not in word
)

# Anything but the characters the lexer rejects: quoted strings may hold
# blanks, commas, parentheses, quotes and comment marks.
quoted_words = st.one_of(
    st.text(st.sampled_from(" ,()'/*-+aZ9"), max_size=10),
    st.text(
        st.characters(
            exclude_categories=("Cc", "Cs"), exclude_characters="\u2028\u2029"
        ),
        max_size=10,
    ),
)


def _with_args(children: st.SearchStrategy[Operand]) -> st.SearchStrategy[Operand]:
    return st.builds(
        Operand,
        word=st.one_of(st.just(""), bare_words),
        quoted=st.just(False),
        args=st.lists(children, max_size=3).map(tuple),
    )


operands: st.SearchStrategy[Operand] = st.recursive(
    st.one_of(
        st.builds(Operand, word=bare_words, quoted=st.just(False), args=st.none()),
        st.builds(Operand, word=quoted_words, quoted=st.just(True), args=st.none()),
    ),
    _with_args,
    max_leaves=8,
)

commands: st.SearchStrategy[RacfCommand] = st.builds(
    RacfCommand,
    verb=verbs,
    operands=st.lists(operands, max_size=5).map(tuple),
    line=st.none(),
)

# Arbitrary text: unrestricted Unicode, and text dense in special characters.
texts = st.one_of(
    st.text(max_size=60),
    st.text(st.sampled_from(SPECIAL_ALPHABET), max_size=60),
)


@st.composite
def continued(draw: st.DrawFn, text: str) -> list[str]:
    """
    Split one line of text at random points into TSO continuation lines.

    Each break is either C{-} (the next line appended as is) or, when the
    next piece does not start with a blank, C{+} with the next line indented
    (the indentation is then removed again); blanks may follow either mark.
    The first piece is never empty, so the command starts on the first line
    (empty pieces elsewhere give lines holding nothing but the mark).

    @param text: one line, not empty.
    @return: the physical lines, to be joined with line ends.
    """
    points = sorted(draw(st.lists(st.integers(1, len(text)), max_size=5)))
    pieces = [
        text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)
    ]
    lines = [pieces[0]]
    for piece in pieces[1:]:
        trailing = draw(st.sampled_from(["", " "]))
        if not piece.startswith(" ") and draw(st.booleans()):
            lines[-1] += "+" + trailing
            lines.append(draw(st.sampled_from(["", " ", "    "])) + piece)
        else:
            lines[-1] += "-" + trailing
            lines.append(piece)
    return lines


@st.composite
def continued_commands(draw: st.DrawFn) -> tuple[RacfCommand, list[str]]:
    """
    A command and its rendering split into continuation lines.
    """
    command = draw(commands)
    return command, draw(continued(render_command(command)))


# Lines a job may hold between commands, none of which is a command.
FILLER_LINES = [
    "",
    "   ",
    "//NSSJOB  JOB (ACCT),'RACF'",
    "//STEP1   EXEC PGM=IKJEFT01",
    "//SYSTSIN DD *",
    "//* a JCL comment",
    "/*",
    " /* a comment */",
    "/* a comment in column 1 */",
]


@st.composite
def jobs(draw: st.DrawFn) -> tuple[list[RacfCommand], str]:
    """
    A job file of continued commands between JCL, comments and blank lines,
    with the commands it must parse to (their lines included).
    """
    expected = []
    lines: list[str] = []
    for command in draw(st.lists(commands, max_size=3)):
        lines.extend(draw(st.lists(st.sampled_from(FILLER_LINES), max_size=2)))
        expected.append(replace(command, line=len(lines) + 1))
        lines.extend(draw(continued(render_command(command))))
    lines.extend(draw(st.lists(st.sampled_from(FILLER_LINES), max_size=2)))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return expected, "".join(line + ending for line in lines)


# --------------------------------------------------------------------------
# The NSS protocol (nsstwisted.wire.nss).
#
# Every strategy here draws only values the codec accepts, so that a round
# trip must succeed; the arbitrary-bytes tests do the rest.  Byte strings and
# texts are kept short so that a stream of several frames stays small.

from nsstwisted.wire.codes import ReasonCode, ReturnCode  # noqa: E402
from nsstwisted.wire.nss import (  # noqa: E402
    CaListReply,
    CaListRequest,
    Disconnect,
    HeartbeatReply,
    HeartbeatRequest,
    Identity,
    IdentityKind,
    LogonReply,
    LogonRequest,
    MessageType,
    NetMgmtReply,
    NetMgmtRequest,
    NssFrame,
    NssMessage,
    Refusal,
    Services,
    SignatureSchemeCode,
    SignReply,
    SignRequest,
    VerifyReply,
    VerifyRequest,
)

request_ids = st.integers(0, 2**32 - 1)


def _text_of(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=min_size, max_size=max_size)


client_names = _text_of(string.ascii_letters + string.digits + "_-.@#$", 1, 24)
userids = _text_of(string.ascii_letters + string.digits + "@#$", 1, 8)
system_names = _text_of(string.ascii_letters + string.digits + "@#$_-", 1, 8)
passtickets = _text_of("".join(chr(c) for c in range(0x21, 0x7F)), 8, 8)

# Human text: any Unicode but control characters and lone surrogates.
nss_texts = st.text(
    st.characters(
        codec="utf-8",
        exclude_characters="".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]),
    ),
    max_size=20,
)
passwords = nss_texts.filter(bool)
labels = nss_texts.filter(lambda t: 1 <= len(t) <= 32)
nss_services = st.sampled_from([Services.CERT, Services.NETMGMT, Services(3)])
api_versions = st.integers(1, 2**32 - 1)
schemes = st.sampled_from(SignatureSchemeCode)
small_bytes = st.binary(max_size=24)


def der_sequence(content: bytes) -> bytes:
    """
    C{content} wrapped as one DER SEQUENCE, the shape certificate fields
    must have.
    """
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return b"\x30" + length + content


certificates = st.binary(max_size=160).map(der_sequence)
signatures = st.binary(min_size=1, max_size=24)

_FQDN_LABELS = _text_of(string.ascii_letters + string.digits + "-", 1, 10)
identities = st.one_of(
    st.builds(Identity, st.just(IdentityKind.DN), labels),
    st.builds(Identity, st.just(IdentityKind.IPADDR), st.ip_addresses().map(str)),
    st.builds(
        Identity,
        st.just(IdentityKind.FQDN),
        st.lists(_FQDN_LABELS, min_size=1, max_size=4).map(".".join),
    ),
    st.builds(
        Identity,
        st.just(IdentityKind.EMAIL),
        st.tuples(_text_of(string.ascii_letters + ".+_", 1, 8), _FQDN_LABELS).map(
            "@".join
        ),
    ),
)


@st.composite
def _digest_or_data(
    draw: st.DrawFn,
) -> tuple[SignatureSchemeCode, bytes | None, bytes | None]:
    scheme = draw(schemes)
    if draw(st.booleans()):
        size = scheme.digest_size
        return scheme, draw(st.binary(min_size=size, max_size=size)), None
    return scheme, None, draw(small_bytes)


@st.composite
def logon_requests(draw: st.DrawFn) -> LogonRequest:
    password, ticket = draw(
        st.one_of(
            st.tuples(passwords, st.none()),
            st.tuples(st.none(), passtickets),
        )
    )
    return LogonRequest(
        draw(client_names),
        draw(userids),
        password,
        ticket,
        draw(api_versions),
        draw(nss_services),
    )


@st.composite
def sign_requests(draw: st.DrawFn) -> SignRequest:
    label, identity = draw(
        st.one_of(st.tuples(labels, st.none()), st.tuples(st.none(), identities))
    )
    scheme, digest, data = draw(_digest_or_data())
    return SignRequest(label, identity, scheme, digest, data)


@st.composite
def verify_requests(draw: st.DrawFn) -> VerifyRequest:
    scheme, digest, data = draw(_digest_or_data())
    return VerifyRequest(
        draw(certificates),
        tuple(draw(st.lists(certificates, max_size=3))),
        scheme,
        digest,
        data,
        draw(signatures),
    )


nmi_messages = st.binary(min_size=1, max_size=24)

nss_requests: st.SearchStrategy[NssMessage] = st.one_of(
    logon_requests(),
    sign_requests(),
    verify_requests(),
    st.just(CaListRequest()),
    st.builds(NetMgmtRequest, nmi_messages),
    st.just(HeartbeatRequest()),
)

nss_replies: st.SearchStrategy[NssMessage] = st.one_of(
    st.builds(LogonReply, nss_services, api_versions, system_names),
    st.builds(SignReply, signatures, certificates),
    st.just(VerifyReply()),
    st.builds(CaListReply, st.lists(certificates, max_size=3).map(tuple)),
    st.builds(NetMgmtReply, nmi_messages),
    st.just(HeartbeatReply()),
)

nss_disconnects = st.builds(Disconnect, passwords | st.just(""))
failure_codes = st.tuples(
    st.sampled_from([c for c in ReturnCode if c is not ReturnCode.OK]),
    st.sampled_from(ReasonCode),
)
refused_types = st.sampled_from(
    [t for t in MessageType if t is not MessageType.DISCONNECT]
)
error_texts = st.none() | nss_texts


@st.composite
def nss_frames(draw: st.DrawFn) -> NssFrame:
    """
    Any valid frame: a request or a reply with return code OK, a refusal,
    or a DISCONNECT with any codes (OK goes with NONE only).
    """
    requestId, text = draw(request_ids), draw(error_texts)
    kind = draw(st.sampled_from(["request", "reply", "refusal", "disconnect"]))
    if kind == "request":
        return NssFrame(requestId, draw(nss_requests), text=text)
    if kind == "reply":
        return NssFrame(requestId, draw(nss_replies), text=text)
    codes: tuple[ReturnCode, ReasonCode] = draw(failure_codes)
    returnCode, reasonCode = codes
    if kind == "refusal":
        message: NssMessage = Refusal(draw(refused_types))
    else:
        message = draw(nss_disconnects)
        if draw(st.booleans()):
            returnCode, reasonCode = ReturnCode.OK, ReasonCode.NONE
    return NssFrame(requestId, message, returnCode, reasonCode, text)


# --------------------------------------------------------------------------
# The NMI message family (nsstwisted.wire.nmi).
#
# As for the NSS protocol, every strategy draws only what the codec accepts.
# Records of the IPsec request types are framed but not interpreted yet, so
# they get arbitrary sections; the other types get text records.

from nsstwisted.wire.nmi import (  # noqa: E402
    DAEMON_REQUESTS,
    IPSEC_REQUESTS,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    data_record,
    init_message,
    text_record,
)

nmi_correlators = st.integers(0, 2**32 - 1)
nmi_targets = st.just("") | client_names
nmi_lines = st.lists(nss_texts, max_size=4)
nmi_text_records = nmi_lines.map(text_record)
nmi_optional_text = st.lists(nmi_text_records, max_size=1).map(tuple)
nmi_data_records = st.lists(
    st.dictionaries(
        nss_texts,
        st.none() | st.booleans() | st.integers() | nss_texts,
        max_size=3,
    ),
    max_size=3,
).map(data_record)
nmi_sections = st.builds(NmiSection, st.integers(0, 2**32 - 1), small_bytes)
nmi_raw_records = st.builds(NmiRecord, st.lists(nmi_sections, max_size=3).map(tuple))
nmi_record_lists = st.lists(nmi_raw_records, max_size=2).map(tuple)
nmi_ipsec_types = st.sampled_from(sorted(IPSEC_REQUESTS))
nmi_daemon_types = st.sampled_from(sorted(DAEMON_REQUESTS))
nmi_request_types = nmi_ipsec_types | nmi_daemon_types


@st.composite
def nmi_valid_messages(draw: st.DrawFn) -> NmiMessage:
    """
    Any valid NMI message: INIT of any version, TERM with any codes, a
    request, a successful reply, or an error reply.
    """
    kind = draw(st.sampled_from(["init", "term", "request", "reply", "error"]))
    if kind == "init":
        return init_message(draw(st.integers(1, 0xFFFF)))
    if kind == "term":
        codes: tuple[ReturnCode, ReasonCode] = draw(
            st.just((ReturnCode.OK, ReasonCode.NONE)) | failure_codes
        )
        return NmiMessage(
            NmiMessageType.TERM,
            returnCode=codes[0],
            reasonCode=codes[1],
            records=draw(nmi_optional_text),
        )
    messageType = draw(nmi_request_types)
    correlator, target = draw(nmi_correlators), draw(nmi_targets)
    if kind == "error":
        returnCode, reasonCode = draw(failure_codes)
        return NmiMessage(
            messageType,
            correlator,
            reply=True,
            target=target,
            returnCode=returnCode,
            reasonCode=reasonCode,
            records=draw(nmi_optional_text),
        )
    daemon = messageType in DAEMON_REQUESTS
    if kind == "request":
        records = () if daemon else draw(nmi_record_lists)
        return NmiMessage(messageType, correlator, target=target, records=records)
    if messageType == NmiMessageType.DAEMON_DISPLAY_DATA:
        records = (draw(nmi_data_records),)
    else:
        records = (draw(nmi_text_records),) if daemon else draw(nmi_record_lists)
    return NmiMessage(messageType, correlator, True, target, records=records)


# ----------------------------------------------------------------------------
# Configuration parser (tests/test_config_parser.py)
# ----------------------------------------------------------------------------

from nsstwisted.config import Setting, Statement  # noqa: E402

# Text biased towards what the parser treats specially.
config_special_text = st.text(
    st.sampled_from(list(' \t\n\r{}"#\\\x00\x85\u2028\ufeffAz09/é')), max_size=60
)

config_words = st.text(
    string.ascii_letters + string.digits + "@#$/._-", min_size=1
).filter(lambda w: not w.startswith("#"))
config_values = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12
)


@st.composite
def config_statements(draw: st.DrawFn) -> Statement:
    settings_ = draw(
        st.lists(
            st.builds(
                Setting,
                keyword=config_words,
                values=st.lists(config_values, max_size=4).map(tuple),
                line=st.just(0),
            ),
            max_size=4,
        )
    )
    name = draw(st.none() | config_values)
    return Statement(draw(config_words), name, tuple(settings_), 0)


# ----------------------------------------------------------------------------
# Generic profile names (tests/test_generic.py)
# ----------------------------------------------------------------------------

generic_qualifiers = st.text(alphabet="AB", min_size=1, max_size=2)
generic_pattern_qualifiers = st.one_of(
    generic_qualifiers,
    st.sampled_from(["*", "%", "A%", "%B", "A*", "B*", "AB*"]),
)


@st.composite
def generic_profile_names(draw: st.DrawFn) -> str:
    qualifiers = draw(st.lists(generic_pattern_qualifiers, min_size=1, max_size=4))
    if draw(st.booleans()):
        qualifiers.insert(draw(st.integers(0, len(qualifiers))), "**")
    return ".".join(qualifiers)


# ----------------------------------------------------------------------------
# IKE daemon configuration (tests/test_iked_configuration.py)
# ----------------------------------------------------------------------------

from nsstwisted.iked.configuration import NssServerAddress  # noqa: E402

iked_upper_names = st.text(
    string.ascii_uppercase + string.digits + "@#$", min_size=1, max_size=8
)
iked_stack_names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_uppercase + "@#$"),
    st.text(string.ascii_uppercase + string.digits + "@#$", max_size=7),
)
iked_rings = st.tuples(
    iked_stack_names,
    st.text(
        st.characters(
            min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/(),'"
        ),
        min_size=1,
        max_size=12,
    ).map(str.upper),
)
iked_paths = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20
).map(lambda p: "/" + p)
iked_host_names = st.from_regex(
    r"[a-z][a-z0-9-]{0,8}[a-z](\.[a-z]{2,5}){0,2}", fullmatch=True
)
iked_addresses = st.ip_addresses().map(str)
iked_identities = st.one_of(
    st.tuples(st.just("IpAddr"), iked_addresses),
    st.tuples(st.just("Fqdn"), iked_host_names),
    st.tuples(
        st.just("UserAtFqdn"),
        st.builds("{}@{}".format, iked_host_names, iked_host_names),
    ),
    st.tuples(
        st.just("X500dn"),
        st.sampled_from(["CN=nssd", "CN=NSS Server,O=Example,C=US", 'CN=a\\"b+UID=x']),
    ),
)
iked_client_names = st.from_regex(r"[A-Za-z0-9_.@#$-]{1,20}", fullmatch=True)
iked_namespaces = st.none() | st.from_regex(
    r"[a-z0-9_-][a-z0-9_.-]{0,10}", fullmatch=True
)


@st.composite
def iked_servers(draw: st.DrawFn) -> NssServerAddress:
    kind, identity = draw(st.none() | iked_identities) or (None, None)
    return NssServerAddress(
        draw(iked_host_names | iked_addresses),
        draw(st.integers(1, 65535)),
        kind,
        identity,
    )


# ----------------------------------------------------------------------------
# IKE stack policy (tests/test_iked_configuration_policyfile.py)
# ----------------------------------------------------------------------------

policy_words = st.sampled_from(
    [
        "IpFilterRule",
        "IpService",
        "IpGenericFilterAction",
        "IpServiceRef",
        "IpGenericFilterActionRef",
        "IpSourceAddr",
        "IpDestAddr",
        "Protocol",
        "SourcePortRange",
        "DestinationPortRange",
        "Direction",
        "Routing",
        "IpFilterAction",
        "IpFilterLogging",
        "All",
        "All4",
        "All6",
        "tcp",
        "udp",
        "icmp",
        "0",
        "7",
        "65535",
        "65536",
        "Inbound",
        "Outbound",
        "BiDirectional",
        "InboundConnect",
        "Local",
        "Routed",
        "permit",
        "deny",
        "yes",
        "no",
        "a",
        "b",
        "10.0.0.0/8",
        "::1",
        "{",
        "}",
        "\n",
        "#",
        '"',
    ]
)


# ----------------------------------------------------------------------------
# Network security server configuration (tests/test_nssd_configuration.py)
# ----------------------------------------------------------------------------

from nsstwisted.config.values import MetricsListener  # noqa: E402
from nsstwisted.ike.policy import PeerEku  # noqa: E402
from nsstwisted.nssd.configuration import NssdConfiguration  # noqa: E402

nssd_upper_names = st.text(
    string.ascii_uppercase + string.digits + "@#$", min_size=1, max_size=8
)
nssd_user_ids = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_uppercase + "@#$"),
    st.text(string.ascii_uppercase + string.digits + "@#$", max_size=7),
)
nssd_ring_names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/(),'"),
    min_size=1,
    max_size=20,
).map(str.upper)
nssd_rings = st.tuples(nssd_user_ids, nssd_ring_names)
nssd_paths = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30
).map(lambda p: "/" + p)
nssd_labels = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=32
)
#: This host's groups, by name or by number, as NmiSocketGroup takes them.
socket_groups = st.sampled_from(
    sorted({g.gr_name for g in grp.getgrall()} | {str(os.getegid())})
)
#: Every mode NmiSocketMode takes: owner read and write, nothing for others.
socket_modes = st.sampled_from([0o600 | bits for bits in range(0o200) if not bits & 7])


nssd_token_labels = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
    min_size=1,
    max_size=32,
).filter(lambda t: t == t.strip() and 0 < len(t.encode()) <= 32 and t.isprintable())


@st.composite
def nssd_configurations(draw: st.DrawFn) -> NssdConfiguration:
    keyRing = draw(st.none() | nssd_rings)
    tlsKeyRing = draw(st.none() | nssd_rings) or keyRing
    # The token's three keywords come together or not at all.
    token = draw(st.none() | st.tuples(nssd_paths, nssd_token_labels, nssd_paths))
    module, tokenLabel, pinFile = token or (None, None, None)
    return NssdConfiguration(
        pkcs11Module=module,
        pkcs11TokenLabel=tokenLabel,
        pkcs11PinFile=pinFile,
        systemName=draw(nssd_upper_names),
        port=draw(st.integers(1, 65535)),
        syslogLevel=draw(st.integers(0, 15)),
        keyRing=keyRing,
        securityDatabase=draw(st.none() | nssd_paths),
        tlsKeyRing=tlsKeyRing,
        tlsLabel=draw(st.none() | nssd_labels) if tlsKeyRing else None,
        nmiSocket=draw(nssd_paths.filter(lambda p: len(p.encode()) <= 107)),
        nmiIdleTimeout=draw(st.integers(0, 86400)),
        nmiSocketGroup=draw(st.none() | socket_groups),
        nmiSocketMode=draw(socket_modes),
        verifyEku=draw(st.sampled_from(PeerEku)),
        maxConnections=draw(st.integers(1, 65535)),
        maxConnectionsPerAddress=draw(st.integers(1, 65535)),
        logonTimeout=draw(st.integers(1, 600)),
        metrics=draw(
            st.none()
            | st.builds(
                MetricsListener,
                st.integers(0, 65535),
                st.sampled_from(["127.0.0.1", "::1", "2001:db8::1"]),
            )
        ),
    )


# ----------------------------------------------------------------------------
# NMI client information (tests/test_wire_clientinfo.py)
# ----------------------------------------------------------------------------

import re  # noqa: E402

from nsstwisted.wire.clientinfo import (  # noqa: E402
    CLIENTINFO_SIZE,
    NssClientInfo,
    NssClientState,
    NssDiscipline,
    encode_clientinfo,
)
from nsstwisted.wire.nss import (  # noqa: E402
    CLIENT_NAME_PATTERN,
    STACK_NAME_PATTERN,
    SYSTEM_NAME_PATTERN,
    USERID_PATTERN,
)


def pattern_texts(pattern: re.Pattern[str]) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


clientinfo_client_names = pattern_texts(CLIENT_NAME_PATTERN)
clientinfo_system_names = pattern_texts(SYSTEM_NAME_PATTERN)
clientinfo_addresses = st.ip_addresses().map(str) | st.sampled_from(
    ["::ffff:10.10.10.1", "fe80::1%eth0", "2001:db8::1"]
)
clientinfo_ends = st.just(("", 0)) | st.tuples(
    clientinfo_addresses, st.integers(1, 0xFFFF)
)


@st.composite
def clientinfo_services(draw: st.DrawFn) -> dict[str, bool]:
    """At least one service selected; each enabled only if selected."""
    certSelected, rmSelected = draw(
        st.sampled_from([(True, False), (False, True), (True, True)])
    )
    return dict(
        certSelected=certSelected,
        certEnabled=certSelected and draw(st.booleans()),
        remoteMgmtSelected=rmSelected,
        remoteMgmtEnabled=rmSelected and draw(st.booleans()),
    )


@st.composite
def nss_client_infos(draw: st.DrawFn, clientName: str | None = None) -> NssClientInfo:
    """Any valid client."""
    name = draw(clientinfo_client_names) if clientName is None else clientName
    clientEnd, serverEnd = draw(clientinfo_ends), draw(clientinfo_ends)
    return NssClientInfo(
        clientName=name,
        userid=draw(pattern_texts(USERID_PATTERN)),
        stackName=draw(st.just("") | pattern_texts(STACK_NAME_PATTERN)),
        systemName=draw(st.just("") | clientinfo_system_names),
        clientAddress=clientEnd[0],
        clientPort=clientEnd[1],
        serverAddress=serverEnd[0],
        serverPort=serverEnd[1],
        connectState=draw(st.sampled_from(NssClientState)),
        timeConnected=draw(st.integers(0, 2**64 - 1)),
        timeLastMessageFromClient=draw(st.integers(0, 2**64 - 1)),
        discipline=draw(st.sampled_from(NssDiscipline)),
        **draw(clientinfo_services()),
    )


@st.composite
def nss_client_lists(draw: st.DrawFn) -> list[NssClientInfo]:
    """Up to eight clients whose names differ, in any case."""
    names = draw(
        st.lists(
            clientinfo_client_names, max_size=8, unique_by=lambda name: name.upper()
        )
    )
    return [draw(nss_client_infos(name)) for name in names]


clientinfo_sections = st.builds(
    NmiSection, st.integers(0, 3), st.binary(max_size=CLIENTINFO_SIZE + 2)
)
clientinfo_raw_records = st.builds(
    NmiRecord, st.lists(clientinfo_sections, max_size=2).map(tuple)
)


@st.composite
def clientinfo_damaged(draw: st.DrawFn) -> bytes:
    """A valid entry with a few bytes changed: nearly right, mostly wrong."""
    data = bytearray(encode_clientinfo(draw(nss_client_infos())))
    for _ in range(draw(st.integers(1, 3))):
        data[draw(st.integers(0, CLIENTINFO_SIZE - 1))] = draw(st.integers(0, 255))
    return bytes(data)


# ----------------------------------------------------------------------------
# NMI IKE-to-NSS information (tests/test_wire_ikensinfo.py)
# ----------------------------------------------------------------------------

from nsstwisted.wire.ikensinfo import (  # noqa: E402
    IKENSINFO_SIZE,
    IkeNssConnectionState,
    IkeNssInfo,
    encode_ikensinfo,
)

ikensinfo_stack_names = pattern_texts(STACK_NAME_PATTERN)
ikensinfo_system_names = pattern_texts(SYSTEM_NAME_PATTERN)
ikensinfo_addresses = st.ip_addresses().map(str) | st.sampled_from(
    ["::ffff:10.10.10.1", "fe80::1%eth0", "2001:db8::1"]
)
ikensinfo_ends = st.just(("", 0)) | st.tuples(
    ikensinfo_addresses, st.integers(1, 0xFFFF)
)


@st.composite
def ike_nss_infos(draw: st.DrawFn, stackName: str | None = None) -> IkeNssInfo:
    """
    Any valid stack: not an NSS client, or a client in any state.
    """
    name = draw(ikensinfo_stack_names) if stackName is None else stackName
    if not draw(st.booleans()):
        return IkeNssInfo.not_configured(name)
    certSelected, rmSelected = draw(st.booleans()), draw(st.booleans())
    clientEnd, serverEnd = draw(ikensinfo_ends), draw(ikensinfo_ends)
    return IkeNssInfo(
        stackName=name,
        clientName=draw(pattern_texts(CLIENT_NAME_PATTERN)),
        configured=True,
        remoteMgmtSelected=rmSelected,
        remoteMgmtEnabled=rmSelected and draw(st.booleans()),
        certSelected=certSelected,
        certEnabled=certSelected and draw(st.booleans()),
        clientApiVersion=draw(st.integers(0, 0xFFFFFFFF)),
        serverApiVersion=draw(st.integers(0, 0xFFFFFFFF)),
        clientAddress=clientEnd[0],
        clientPort=clientEnd[1],
        serverAddress=serverEnd[0],
        serverPort=serverEnd[1],
        serverSystemName=draw(st.just("") | ikensinfo_system_names),
        userid=draw(st.just("") | pattern_texts(USERID_PATTERN)),
        connectionState=draw(
            st.sampled_from(
                [
                    IkeNssConnectionState.CONNECTING,
                    IkeNssConnectionState.CONNECTED,
                    IkeNssConnectionState.DISCONNECTED,
                ]
            )
        ),
        timeConnected=draw(st.integers(0, 2**64 - 1)),
        timeLastMessage=draw(st.integers(0, 2**64 - 1)),
    )


@st.composite
def ike_nss_lists(draw: st.DrawFn) -> list[IkeNssInfo]:
    """Up to eight stacks whose names differ, in any case."""
    names = draw(
        st.lists(ikensinfo_stack_names, max_size=8, unique_by=lambda name: name.upper())
    )
    return [draw(ike_nss_infos(name)) for name in names]


ikensinfo_sections = st.builds(
    NmiSection, st.integers(0, 3), st.binary(max_size=IKENSINFO_SIZE + 2)
)
ikensinfo_raw_records = st.builds(
    NmiRecord, st.lists(ikensinfo_sections, max_size=2).map(tuple)
)


@st.composite
def ikensinfo_damaged(draw: st.DrawFn) -> bytes:
    """A valid entry with a few bytes changed: nearly right, mostly wrong."""
    data = bytearray(encode_ikensinfo(draw(ike_nss_infos())))
    for _ in range(draw(st.integers(1, 3))):
        data[draw(st.integers(0, IKENSINFO_SIZE - 1))] = draw(st.integers(0, 255))
    return bytes(data)


# ----------------------------------------------------------------------------
# NMI IP filters (tests/test_wire_filters.py)
# ----------------------------------------------------------------------------

from nsstwisted.wire.filters import (  # noqa: E402
    FILTER_SIZE,
    NAME_PATTERN,
    FilterAction,
    FilterDirection,
    FilterLogging,
    FilterRecordInfo,
    FilterScope,
    FilterSet,
    FilterSettings,
    FilterState,
    FilterType,
)

filter_names = st.from_regex(NAME_PATTERN, fullmatch=True)


@st.composite
def filter_ends(draw: st.DrawFn, version: int) -> tuple[str, int]:
    if version == 4:
        address = draw(st.ip_addresses(v=4))
        return str(address), draw(st.integers(0, 32))
    address6 = draw(st.ip_addresses(v=6))
    return str(address6), draw(st.integers(0, 128))


filter_ports = st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)).map(
    lambda pair: (min(pair), max(pair))
)


@st.composite
def filter_infos(
    draw: st.DrawFn, filterSet: FilterSet | None = None
) -> FilterRecordInfo:
    """Any valid rule."""
    version = draw(st.sampled_from([4, 6]))
    source, destination = draw(filter_ends(version)), draw(filter_ends(version))
    return FilterRecordInfo(
        filterName=draw(filter_names),
        filterSet=draw(st.sampled_from(FilterSet)) if filterSet is None else filterSet,
        filterType=draw(st.sampled_from(FilterType)),
        state=draw(st.sampled_from(FilterState)),
        action=draw(st.sampled_from(FilterAction)),
        direction=draw(st.sampled_from(FilterDirection)),
        logging=draw(st.sampled_from(FilterLogging)),
        protocol=draw(st.integers(0, 255)),
        scope=draw(st.sampled_from(FilterScope)),
        sourceAddress=source[0],
        sourcePrefix=source[1],
        destinationAddress=destination[0],
        destinationPrefix=destination[1],
        sourcePorts=draw(filter_ports),
        destinationPorts=draw(filter_ports),
    )


filter_sections = st.builds(
    NmiSection, st.integers(0, 2), st.binary(max_size=FILTER_SIZE + 2)
)
filter_raw_records = st.builds(
    NmiRecord, st.lists(filter_sections, max_size=2).map(tuple)
)

filter_settings = st.builds(
    FilterSettings,
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 0xFFFF),
)


# ----------------------------------------------------------------------------
# NMI stack information (tests/test_wire_stackinfo.py)
# ----------------------------------------------------------------------------

from nsstwisted.wire.stackinfo import (  # noqa: E402
    INTERFACE_NAME_PATTERN,
    STATISTICS_FIELDS,
    STATISTICS_SIZE,
    InterfaceInfo,
    PortTranslationInfo,
    StatisticsInfo,
)

stackinfo_gauges = st.integers(0, (1 << 32) - 1)
stackinfo_counters = st.integers(0, (1 << 64) - 1)


@st.composite
def stackinfo_statistics(draw: st.DrawFn) -> StatisticsInfo:
    """Any counters."""
    values = {}
    for field in STATISTICS_FIELDS:
        big = field.endswith(("Success", "Failure", "Retransmit"))
        values[field] = draw(stackinfo_counters if big else stackinfo_gauges)
    return StatisticsInfo(**values)


@st.composite
def stackinfo_addresses(draw: st.DrawFn) -> tuple[str, int]:
    if draw(st.booleans()):
        return str(draw(st.ip_addresses(v=4))), draw(st.integers(0, 32))
    return str(draw(st.ip_addresses(v=6))), draw(st.integers(0, 128))


@st.composite
def stackinfo_interfaces(draw: st.DrawFn) -> InterfaceInfo:
    """Any interface address."""
    address, prefix = draw(stackinfo_addresses())
    return InterfaceInfo(
        draw(st.from_regex(INTERFACE_NAME_PATTERN, fullmatch=True)),
        address,
        prefix,
        draw(st.integers(0, 255)),
        draw(st.booleans()),
        draw(st.integers(0, (1 << 32) - 1)),
    )


@st.composite
def stackinfo_translations(draw: st.DrawFn) -> PortTranslationInfo:
    """Any port translation."""
    return PortTranslationInfo(
        str(draw(st.ip_addresses())),
        draw(st.integers(1, 0xFFFF)),
        draw(st.integers(1, 0xFFFF)),
        draw(st.sampled_from([6, 17])),
        draw(st.integers(0, (1 << 64) - 1)),
        draw(st.just("") | st.from_regex(NAME_PATTERN, fullmatch=True)),
    )


stackinfo_stack_names = st.from_regex(STACK_NAME_PATTERN, fullmatch=True)

stackinfo_sections = st.builds(
    NmiSection, st.integers(0, 2), st.binary(max_size=STATISTICS_SIZE + 2)
)
stackinfo_raw_records = st.builds(
    NmiRecord, st.lists(stackinfo_sections, max_size=2).map(tuple)
)


# ----------------------------------------------------------------------------
# NMI tunnel reports (tests/test_wire_tunnels.py)
# ----------------------------------------------------------------------------

from typing import Any  # noqa: E402

from nsstwisted.wire.tunnels import (  # noqa: E402
    IDENTITY_SIZE,
    EncapMode,
    IkeRole,
    IkeTunnelInfo,
    IpsecProtocol,
    IpTunnelInfo,
    IpTunnelType,
    SaState,
    TunnelSelector,
)

tunnel_names = st.from_regex(r"[\x21-\x7e]{1,48}", fullmatch=True)
tunnel_optional_names = st.one_of(st.just(""), tunnel_names)
tunnel_ipv4_addresses = st.ip_addresses(v=4).map(str)
tunnel_ipv6_addresses = st.ip_addresses(v=6).map(str)
tunnel_address_pairs = st.one_of(
    st.tuples(tunnel_ipv4_addresses, tunnel_ipv4_addresses),
    st.tuples(tunnel_ipv6_addresses, tunnel_ipv6_addresses),
)


def tunnel_unsigned(size: int) -> st.SearchStrategy[int]:
    """Any value of an unsigned field of C{size} bytes, 0 often."""
    return st.one_of(st.just(0), st.integers(0, 2 ** (8 * size) - 1))


# Identities: any text but control characters (which the record refuses),
# without trailing blanks, that fits the field in UTF-8.
tunnel_identities = (
    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1)
    .map(lambda text: text.rstrip(" "))
    .filter(lambda text: bool(text) and len(text.encode()) <= IDENTITY_SIZE)
)


@st.composite
def tunnel_identity(draw: st.DrawFn) -> tuple[int, str]:
    """An identity's type and text: both or neither."""
    idType = draw(tunnel_unsigned(1))
    return idType, draw(tunnel_identities) if idType else ""


@st.composite
def ike_tunnel_extras(draw: st.DrawFn) -> dict[str, Any]:
    """The IKEv2 fields of an IKE tunnel, as L{IkeTunnelInfo} keywords."""
    localIdType, localId = draw(tunnel_identity())
    remoteIdType, remoteId = draw(tunnel_identity())
    extras: dict[str, Any] = {
        "keyExchangeAction": draw(tunnel_optional_names),
        "localIdType": localIdType,
        "localId": localId,
        "remoteIdType": remoteIdType,
        "remoteId": remoteId,
    }
    for size, names in [
        (8, ["localSpi", "remoteSpi", "refresh", "expires"]),
        (4, ["dynamicTunnels"]),
        (2, ["localPort", "remotePort", "encryption", "keyLength"]),
        (2, ["integrity", "prf", "dhGroup"]),
        (1, ["localAuthMethod", "remoteAuthMethod"]),
    ]:
        extras.update({name: draw(tunnel_unsigned(size)) for name in names})
    return extras


ike_tunnels = st.builds(
    lambda tid, rule, pair, state, version, role, lnat, rnat, act, life: IkeTunnelInfo(
        tid,
        rule,
        pair[0],
        pair[1],
        state=state,
        ikeVersion=version,
        role=role,
        localNat=lnat,
        remoteNat=rnat,
        activated=act,
        lifetime=life,
    ),
    tunnel_names,
    tunnel_names,
    tunnel_address_pairs,
    st.sampled_from(SaState),
    st.sampled_from([1, 2]),
    st.sampled_from(IkeRole),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
).flatmap(lambda tunnel: ike_tunnel_extras().map(lambda x: replace(tunnel, **x)))


@st.composite
def tunnel_selectors(draw: st.DrawFn) -> TunnelSelector | None:
    """A traffic selector of one family (a range, a network or a host), or None."""
    if draw(st.booleans()):
        return None
    first, last = sorted(
        draw(
            st.one_of(
                st.tuples(st.ip_addresses(v=4), st.ip_addresses(v=4)),
                st.tuples(st.ip_addresses(v=6), st.ip_addresses(v=6)),
            )
        ),
        key=int,
    )
    low, high = sorted(draw(st.tuples(tunnel_unsigned(2), tunnel_unsigned(2))))
    return TunnelSelector(str(first), str(last), draw(tunnel_unsigned(1)), low, high)


@st.composite
def ip_tunnels(draw: st.DrawFn, kind: IpTunnelType | None = None) -> IpTunnelInfo:
    tunnelType = kind or draw(st.sampled_from(IpTunnelType))
    manual = tunnelType == IpTunnelType.MANUAL
    pair = draw(st.one_of(st.just(("", "")), tunnel_address_pairs))
    return IpTunnelInfo(
        draw(tunnel_names),
        draw(tunnel_names),
        tunnelType,
        state=draw(st.sampled_from(SaState)),
        rule="" if manual else draw(tunnel_optional_names),
        ikeTunnelId="" if manual else draw(tunnel_optional_names),
        localAddress=pair[0],
        remoteAddress=pair[1],
        activated=draw(st.integers(0, 2**64 - 1)),
        lifetime=draw(st.integers(0, 2**32 - 1)),
        fips140=draw(st.booleans()),
        **draw(ip_tunnel_extras()),
    )


@st.composite
def ip_tunnel_extras(draw: st.DrawFn) -> dict[str, Any]:
    """The SA fields of a tunnel, as L{IpTunnelInfo} keywords."""
    protocol = draw(st.one_of(st.none(), st.sampled_from(IpsecProtocol)))
    udp = draw(st.booleans())
    extras: dict[str, Any] = {
        "protocol": protocol,
        "mode": draw(st.one_of(st.none(), st.sampled_from(EncapMode))),
        "localSelector": draw(tunnel_selectors()),
        "remoteSelector": draw(tunnel_selectors()),
        "udpEncapsulation": udp,
        "localNat": draw(st.booleans()),
        "remoteNat": draw(st.booleans()),
    }
    spis = ["inboundSpi", "outboundSpi"] if protocol is not None else []
    ports = ["localUdpPort", "remoteUdpPort"] if udp else []
    for size, names in [
        (4, spis),
        (8, ["refresh", "expires", "outboundPackets", "outboundBytes"]),
        (8, ["inboundPackets", "inboundBytes"]),
        (2, ["encryption", "keyLength", "integrity", "pfsGroup", *ports]),
    ]:
        extras.update({name: draw(tunnel_unsigned(size)) for name in names})
    return extras


# ----------------------------------------------------------------------------
# IKEv2 payloads and messages (tests/test_ike_payloads.py,
# tests/test_ike_message.py)
# ----------------------------------------------------------------------------

from nsstwisted.ike.constants import PayloadType  # noqa: E402
from nsstwisted.ike.message import IkeMessage  # noqa: E402
from nsstwisted.ike.payloads import (  # noqa: E402
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    TrafficSelector,
    Transform,
    TsPayload,
    UnknownPayload,
    VendorIdPayload,
)

ike_octets = st.integers(0, 255)
ike_shorts = st.integers(0, 65535)
ike_data = st.binary(max_size=40)

# A Transform that decodes as it was built: unknown attributes are not kept,
# so only the decoder sets unknownAttributes.
ike_transforms = st.builds(
    Transform,
    transformType=ike_octets,
    transformId=ike_shorts,
    keyLength=st.one_of(st.none(), ike_shorts),
)

ike_proposals = st.builds(
    Proposal,
    number=ike_octets,
    protocol=ike_octets,
    spi=st.sampled_from([b"", b"\x01\x02\x03\x04", b"\x00" * 7 + b"\x09"]),
    transforms=st.lists(ike_transforms, max_size=5).map(tuple),
)

ike_sa_payloads = st.builds(
    SaPayload, st.lists(ike_proposals, min_size=1, max_size=3).map(tuple)
)
ike_ke_payloads = st.builds(KePayload, ike_shorts, st.binary(max_size=64))
ike_nonce_payloads = st.builds(NoncePayload, st.binary(min_size=16, max_size=256))
ike_notify_payloads = st.builds(
    NotifyPayload,
    ike_octets,
    ike_shorts,
    st.sampled_from([b"", b"\xc0\x00\x00\x01", b"\x01" * 8]),
    ike_data,
)
ike_id_payloads = st.builds(
    IdPayload,
    st.sampled_from([PayloadType.IDi, PayloadType.IDr]),
    ike_octets,
    ike_data,
)
ike_cert_payloads = st.builds(CertPayload, ike_octets, ike_data)
ike_certreq_payloads = st.builds(
    CertReqPayload,
    ike_octets,
    st.lists(st.binary(min_size=20, max_size=20), max_size=3).map(b"".join),
)
ike_auth_payloads = st.builds(AuthPayload, ike_octets, ike_data)


@st.composite
def ike_traffic_selectors(draw: st.DrawFn) -> TrafficSelector:
    """An IPv4 or IPv6 range selector, its ends in either order."""
    addresses = draw(st.sampled_from([st.ip_addresses(v=4), st.ip_addresses(v=6)]))
    start = draw(addresses)
    end = draw(addresses)
    return TrafficSelector(
        7 if start.version == 4 else 8,
        draw(ike_octets),
        draw(ike_shorts),
        draw(ike_shorts),
        _packed(start),
        _packed(end),
    )


def _packed(address: Any) -> bytes:
    # Newer Hypothesis types ip_addresses() as the private _BaseAddress.
    return int(address).to_bytes(4 if address.version == 4 else 16, "big")


ike_ts_payloads = st.builds(
    TsPayload,
    st.sampled_from([PayloadType.TSi, PayloadType.TSr]),
    st.lists(ike_traffic_selectors(), max_size=4).map(tuple),
)


@st.composite
def ike_delete_payloads(draw: st.DrawFn) -> DeletePayload:
    """A Delete payload whose SPIs all have its SPI size."""
    spiSize = draw(st.sampled_from([0, 4, 8]))
    spis = draw(st.lists(st.binary(min_size=spiSize, max_size=spiSize), max_size=4))
    return DeletePayload(draw(ike_octets), spiSize, tuple(spis))


ike_vendor_id_payloads = st.builds(VendorIdPayload, ike_data)

# Types nsstwisted does not implement: unassigned ones, CP and EAP.
ike_unknown_types = st.one_of(
    st.integers(1, 32),
    st.sampled_from([PayloadType.CP, PayloadType.EAP]),
    st.integers(49, 52),
    st.integers(54, 255),
)
ike_unknown_payloads = st.builds(
    UnknownPayload, ike_unknown_types, st.just(False), ike_data
)

ike_payloads: st.SearchStrategy[Payload] = st.one_of(
    ike_sa_payloads,
    ike_ke_payloads,
    ike_nonce_payloads,
    ike_notify_payloads,
    ike_id_payloads,
    ike_cert_payloads,
    ike_certreq_payloads,
    ike_auth_payloads,
    ike_ts_payloads,
    ike_delete_payloads(),
    ike_vendor_id_payloads,
    ike_unknown_payloads,
)

ike_encrypted_payloads = st.builds(EncryptedPayload, ike_octets, ike_data)


@st.composite
def ike_payload_chains(draw: st.DrawFn, encrypted: bool = True) -> list[Payload]:
    """
    Plaintext payloads, and (unless C{encrypted} is false) sometimes an SK
    payload at the end, where the chain allows one.
    """
    chain: list[Payload] = draw(st.lists(ike_payloads, max_size=6))
    if encrypted and draw(st.booleans()):
        chain.append(draw(ike_encrypted_payloads))
    return chain


ike_spis = st.binary(min_size=8, max_size=8)
ike_initiator_spis = ike_spis.filter(lambda spi: spi != bytes(8))


@st.composite
def ike_messages(draw: st.DrawFn, encrypted: bool = True) -> IkeMessage:
    """
    A message with any exchange, flags and Message ID.

    @param encrypted: whether the payloads may end in an SK payload; false
        for messages whose payloads go inside one.
    """
    return IkeMessage(
        draw(ike_initiator_spis),
        draw(ike_spis),
        draw(ike_octets),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.booleans()),
        draw(st.booleans()),
        tuple(draw(ike_payload_chains(encrypted))),
    )


# ----------------------------------------------------------------------------
# The configuration assistant's description (tests/test_assistant_tomlwriter.py)
# ----------------------------------------------------------------------------

from typing import get_args  # noqa: E402

from nsstwisted.assistant.model import (  # noqa: E402
    Certificate,
    CertificateUsage,
    Description,
    Image,
    KeyStore,
    KeyType,
    NssServer,
    Operator,
    Stack,
    StackSettings,
)
from nsstwisted.security.auditsyslog import FACILITIES as SYSLOG_FACILITIES  # noqa: E402
from nsstwisted.security.certgen import KEY_SIZES  # noqa: E402

# Any text a TOML string can hold (no lone surrogates): control characters,
# quotes, backslashes and letters outside ASCII, so that the writer's
# escaping is exercised wherever the model takes free text.
assistant_texts = st.text(st.characters(codec="utf-8"), max_size=12)
# Table names: folder-safe, but with dots, which TOML keys must quote.
assistant_table_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,8}", fullmatch=True)
assistant_userids = st.from_regex(r"[A-Za-z@#$][A-Za-z0-9@#$]{0,7}", fullmatch=True)
assistant_system_names = st.from_regex(r"[A-Za-z0-9@#$]{1,8}", fullmatch=True)
assistant_paths = assistant_texts.map(lambda p: "/" + p)
assistant_labels = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp", "Co", "Cn")),
    min_size=1,
    max_size=32,
).filter(str.isprintable)
assistant_identities = iked_identities.map(" ".join)
assistant_client_names = st.from_regex(r"[A-Za-z0-9_@#$-]{1,24}", fullmatch=True)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _unique(strategy: st.SearchStrategy[str], max_size: int = 3) -> Any:
    return st.lists(strategy, max_size=max_size, unique=True).map(tuple)


assistant_settings = st.builds(
    StackSettings,
    userId=_optional(assistant_userids),
    authBy=_optional(st.sampled_from(["Password", "PassTicket"])),
    services=_optional(
        st.lists(
            st.sampled_from(["Cert", "RemoteMgmt"]), min_size=1, max_size=2, unique=True
        ).map(tuple)
    ),
    servers=_optional(_unique(assistant_texts)),
    certificate=_optional(assistant_texts),
    identity=_optional(assistant_identities),
    nssWaitLimit=_optional(st.integers(1, 3600)),
    nssWaitRetries=_optional(st.integers(1, 100)),
)

assistant_servers = st.builds(
    NssServer,
    name=assistant_table_names,
    systemName=assistant_system_names,
    address=iked_addresses | iked_host_names,
    port=st.integers(1, 65535),
    keyRing=st.builds(
        "{}/{}".format, assistant_userids, iked_rings.map(lambda r: r[1])
    ),
    tlsKeyRing=_optional(iked_rings.map(lambda r: r[1])),
    tlsLabel=_optional(assistant_texts),
    syslogLevel=st.integers(0, 15),
    database=_optional(assistant_paths),
    stashFile=_optional(assistant_paths),
    nmiSocket=_optional(assistant_paths),
    backupOf=_optional(assistant_texts),
    userId=assistant_userids,
    metricsPort=_optional(st.integers(1, 65535)),
    metricsInterface=_optional(iked_addresses),
    auditFile=_optional(assistant_paths),
    auditSync=st.sampled_from(["none", "interval", "every"]),
    auditRequired=st.booleans(),
    auditSyslog=_optional(st.sampled_from(sorted(SYSLOG_FACILITIES))),
    auditSyslogSocket=_optional(assistant_paths),
    pkcs11Module=_optional(assistant_paths),
    pkcs11TokenLabel=_optional(nssd_token_labels),
    pkcs11PinFile=_optional(assistant_paths),
)

assistant_stacks = st.builds(
    Stack,
    name=assistant_userids,
    clientName=_optional(assistant_texts),
    overrides=assistant_settings,
    namespace=_optional(assistant_texts),
    policyFile=_optional(assistant_paths),
    nss=st.booleans(),
)


@st.composite
def assistant_images(draw: st.DrawFn) -> Image:
    stacks = draw(st.lists(assistant_stacks, max_size=3, unique_by=lambda s: s.name))
    return Image(
        name=draw(assistant_table_names),
        systemName=draw(assistant_system_names),
        defaults=draw(assistant_settings),
        stacks=tuple(stacks),
        caFile=draw(_optional(assistant_paths)),
        ikeSyslogLevel=draw(_optional(st.integers(0, 1023))),
        nmiSocket=draw(_optional(assistant_paths)),
        saInstaller=draw(_optional(st.sampled_from(["Record", "Xfrm"]))),
        metricsPort=draw(_optional(st.integers(1, 65535))),
        metricsInterface=draw(_optional(iked_addresses)),
        secretsDirectory=draw(assistant_paths),
    )


@st.composite
def assistant_certificates(draw: st.DrawFn) -> Certificate:
    usage = draw(st.sampled_from(get_args(CertificateUsage)))
    owner = (
        "CERTAUTH"
        if usage == "certauth"
        else draw(assistant_userids.filter(lambda u: u.upper() != "CERTAUTH"))
    )
    keyType = draw(st.sampled_from(get_args(KeyType)))
    return Certificate(
        label=draw(assistant_labels),
        usage=usage,
        subject=draw(assistant_labels.filter(str.strip)),
        owner=owner,
        identities=draw(_unique(assistant_identities)),
        keyType=keyType,
        keySize=draw(st.sampled_from(KEY_SIZES[keyType])),
        signedBy=draw(_optional(assistant_texts)),
        importFrom=draw(_optional(assistant_paths)),
        keyStore=draw(st.sampled_from(get_args(KeyStore))),
    )


assistant_operators = st.builds(
    Operator,
    userId=assistant_userids,
    display=_unique(st.just("*") | assistant_client_names),
    control=_unique(st.just("*") | assistant_client_names),
    listClients=st.booleans(),
)


@st.composite
def assistant_descriptions(draw: st.DrawFn) -> Description:
    """
    Descriptions whose every value keeps its own rules (so that the loader
    takes them), with free text wherever the model takes it; their cross
    references need not hold.
    """
    return Description(
        servers=tuple(
            draw(st.lists(assistant_servers, max_size=2, unique_by=lambda s: s.name))
        ),
        images=tuple(
            draw(st.lists(assistant_images(), max_size=2, unique_by=lambda i: i.name))
        ),
        certificates=tuple(draw(st.lists(assistant_certificates(), max_size=3))),
        operators=tuple(draw(st.lists(assistant_operators, max_size=2))),
        source="<hypothesis>",
    )
