"""
Hypothesis strategies for the RACF command language.

The alphabets are small and biased towards the characters the lexer treats
specially (separators, quotes, C{/} and C{*} of comments, the C{-} and C{+}
of continuation) so that few examples reach the interesting cases; sizes are
kept small so the property tests stay fast.  Nothing here uses randomness of
its own: every choice is drawn from Hypothesis, so failures shrink and replay.
"""

from __future__ import annotations

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
    init_message,
    text_record,
)

nmi_correlators = st.integers(0, 2**32 - 1)
nmi_targets = st.just("") | client_names
nmi_lines = st.lists(nss_texts, max_size=4)
nmi_text_records = nmi_lines.map(text_record)
nmi_optional_text = st.lists(nmi_text_records, max_size=1).map(tuple)
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
    records = (draw(nmi_text_records),) if daemon else draw(nmi_record_lists)
    return NmiMessage(messageType, correlator, True, target, records=records)
