"""
C{nss-client}: try an NSS set-up from a client host.

An operator who has just defined a client's user ID, SERVAUTH profiles and
certificates wants to know, before any IKE daemon depends on them, whether
that client can log on to nssd, sign with its certificate, have a peer's
signature checked, and which CA certificates it will be told to trust.  This
command does exactly what an NSS client does (TLS that checks the server's
certificate, LOGON with a password or a fresh PassTicket, one request) and
reports the server's answer by the names of its return and reason codes, the
way they appear in C{docs/protocol.md} and nssd's own messages.

The file to sign is hashed here and only its digest is sent: the file may be
large, and an IKE client sends digests too.

Output: results go to standard output (the signer's subject, C{signature
valid}, the CA certificates as PEM), or with C{--json} the same results as
one JSON object; every problem is one line on standard error starting with
C{nss-client:}.  Secrets (the password, the PassTicket key
and the tickets made from it) are never printed.

Exit status: 0 success; 1 the server refused (return and reason code named);
2 a usage error, an unusable file, or a connection or TLS failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TextIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.error import ConnectError, DNSLookupError, TimeoutError
from twisted.internet.task import react
from twisted.python import usage

from nsstwisted.cli.ipsecreports.layout import json_time
from nsstwisted.cli.options import CommandOptions, Finished
from nsstwisted.cli.secretinput import SecretUnavailable, read_secret_file
from nsstwisted.client import (
    ClientTimeouts,
    ConnectionClosed,
    Credentials,
    NssRequestFailed,
    NssSession,
    PassTicketCredentials,
    PasswordCredentials,
    ServerIdentity,
    TlsFailed,
    connect,
    tls_endpoint,
)
from nsstwisted.security.errors import SecurityError
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import (
    CLIENT_NAME_PATTERN,
    USERID_PATTERN,
    Identity,
    IdentityKind,
    NssFrame,
    NssMessage,
    Services,
    SignatureSchemeCode,
    SignRequest,
    VerifyRequest,
    encode_frame,
)

PROGRAM = "nss-client"
DEFAULT_PORT = 4159
DEFAULT_TIMEOUT = 30.0
# The application name nssd evaluates PassTickets for (docs/protocol.md 4.1).
PASSTICKET_APPLICATION = "NSSD"
# VERIFY carries at most this many CHAIN_CERTIFICATE fields.
MAX_CHAIN = 16

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

HASHES: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}

# (--scheme, --hash) to the wire scheme.  SHA-1 goes with PKCS#1 v1.5 only,
# as in the protocol, so the other pairs are absent and refused here rather
# than by the server.
SCHEMES: dict[tuple[str, str], SignatureSchemeCode] = {
    ("pkcs1", "sha1"): SignatureSchemeCode.RSA_PKCS1_SHA1,
    ("pkcs1", "sha256"): SignatureSchemeCode.RSA_PKCS1_SHA256,
    ("pkcs1", "sha384"): SignatureSchemeCode.RSA_PKCS1_SHA384,
    ("pkcs1", "sha512"): SignatureSchemeCode.RSA_PKCS1_SHA512,
    ("pss", "sha256"): SignatureSchemeCode.RSA_PSS_SHA256,
    ("pss", "sha384"): SignatureSchemeCode.RSA_PSS_SHA384,
    ("pss", "sha512"): SignatureSchemeCode.RSA_PSS_SHA512,
    ("ecdsa", "sha256"): SignatureSchemeCode.ECDSA_SHA256,
    ("ecdsa", "sha384"): SignatureSchemeCode.ECDSA_SHA384,
    ("ecdsa", "sha512"): SignatureSchemeCode.ECDSA_SHA512,
}
SCHEME_NAMES = ("pkcs1", "pss", "ecdsa")

IDENTITY_KINDS: dict[str, IdentityKind] = {
    "fqdn": IdentityKind.FQDN,
    "ip": IdentityKind.IPADDR,
    "email": IdentityKind.EMAIL,
    "dn": IdentityKind.DN,
}

IDENTITY_HELP = (
    "KIND:VALUE names the certificate by what it certifies, as an IKE "
    "identity does: fqdn:HOST.NAME (a DNS subjectAltName), ip:ADDRESS (IPv4 "
    "or IPv6), email:USER@DOMAIN, or dn:RFC4514-NAME (for example "
    "'dn:CN=client1.example,O=Example').  Only the first ':' separates the "
    "kind from the value."
)


class CommandFailed(Exception):
    """
    The command cannot go on; L{run} prints the text and exits with the
    status.  One exception for every local problem keeps each step's error
    handling to a single C{raise}.

    @ivar text: one line, without the program name.
    @ivar status: the exit status.
    """

    def __init__(self, text: str, status: int = EXIT_USAGE) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


class _Options(CommandOptions):
    """
    Options whose C{--help} returns through L{run} rather than exiting.
    """

    program = PROGRAM

    opt_h = CommandOptions.opt_help


def _choice(name: str, value: str | None, choices: Sequence[str]) -> str | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in choices:
        raise usage.UsageError(f"--{name} must be one of {', '.join(choices)}")
    return lowered


def _require(options: usage.Options, *names: str) -> None:
    for name in names:
        if options[name] is None:
            raise usage.UsageError(f"--{name} is required")


def _exactly_one(options: usage.Options, first: str, second: str) -> None:
    if (options[first] is None) == (options[second] is None):
        raise usage.UsageError(f"give exactly one of --{first} and --{second}")


def parse_identity(text: str) -> Identity:
    """
    Turn C{KIND:VALUE} into an L{Identity}.  The value's own rules (an FQDN's
    characters, an address that parses) are checked by the wire codec
    before anything is sent, so they are not repeated here.

    @raise usage.UsageError: the kind is missing or unknown.
    """
    kind, sep, value = text.partition(":")
    if not sep or kind.lower() not in IDENTITY_KINDS:
        raise usage.UsageError(
            f"--identity {text!r}: expected KIND:VALUE with KIND one of "
            f"{', '.join(IDENTITY_KINDS)}"
        )
    return Identity(IDENTITY_KINDS[kind.lower()], value)


def parse_server(text: str) -> tuple[str, int]:
    """
    Split C{HOST[:PORT]}.  An IPv6 address with a port is written in
    brackets, C{[::1]:4159}, as in URLs; a bare IPv6 address (more than one
    colon) takes the default port.

    @raise usage.UsageError: the text is not of that form.
    """
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise usage.UsageError(f"--server {text!r}: expected [ADDRESS]:PORT")
        port = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if not host:
        raise usage.UsageError(f"--server {text!r}: the host is missing")
    if port is None:
        return host, DEFAULT_PORT
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise usage.UsageError(f"--server {text!r}: the port must be 1 to 65535")
    return host, int(port)


class SignOptions(_Options):
    synopsis = (
        "(--label LABEL | --identity KIND:VALUE) --hash HASH [--scheme SCHEME]"
        " --in FILE --out FILE [--cert-out PEM]"
    )
    longdesc = (
        "Hash FILE here with HASH, have nssd sign the digest with the private "
        "key of the client's certificate LABEL (or the one IDENTITY names), "
        "and write the raw signature to --out: for RSA the big-endian integer "
        "as long as the modulus, for ECDSA the DER Ecdsa-Sig-Value.  The "
        "signer's subject is printed on standard output; --cert-out also "
        "saves its certificate as PEM.  " + IDENTITY_HELP
    )
    optParameters: ClassVar[list[list[str | None]]] = [
        ["label", "l", None, "The label of the certificate in the client's ring."],
        [
            "identity",
            "i",
            None,
            "What the certificate certifies: fqdn:NAME, ip:ADDRESS, "
            "email:ADDRESS or dn:RFC4514-NAME.",
        ],
        ["hash", None, None, "The hash: sha256, sha384, sha512 or sha1."],
        [
            "scheme",
            None,
            "pkcs1",
            "pkcs1 or pss for an RSA key, ecdsa for an EC key (sha1 only with pkcs1).",
        ],
        ["in", None, None, "The file to sign."],
        ["out", None, None, "Where to write the signature."],
        ["cert-out", None, None, "Where to write the signer's certificate (PEM)."],
    ]

    def postOptions(self) -> None:
        _exactly_one(self, "label", "identity")
        _require(self, "hash", "in", "out")
        self["hash"] = _choice("hash", self["hash"], tuple(HASHES))
        self["scheme"] = _choice("scheme", self["scheme"], SCHEME_NAMES)
        self["schemeCode"] = _scheme(self["scheme"], self["hash"])
        if self["identity"] is not None:
            self["identity"] = parse_identity(self["identity"])


class VerifyOptions(_Options):
    synopsis = (
        "--cert CERT --hash HASH [--scheme SCHEME] [--chain PEM] --in FILE"
        " --signature FILE"
    )
    longdesc = (
        "Hash FILE here with HASH and have nssd check that the signature in "
        "--signature (raw, as 'sign' writes it) was made over it with the key "
        "of CERT (PEM or DER), and that CERT validates to a CA this client "
        "trusts, through the intermediates in --chain.  Without --scheme it "
        "follows CERT's key: pkcs1 for RSA, ecdsa for EC.  Prints 'signature "
        "valid' or the refusal."
    )
    optParameters: ClassVar[list[list[str | None]]] = [
        ["cert", None, None, "The signer's certificate, PEM or DER."],
        ["chain", None, None, "Intermediate CA certificates, PEM (at most 16)."],
        ["hash", None, None, "The hash: sha256, sha384, sha512 or sha1."],
        ["scheme", None, None, "pkcs1, pss or ecdsa (default: from --cert)."],
        ["in", None, None, "The file that was signed."],
        ["signature", None, None, "The signature file."],
    ]

    def postOptions(self) -> None:
        _require(self, "cert", "hash", "in", "signature")
        self["hash"] = _choice("hash", self["hash"], tuple(HASHES))
        self["scheme"] = _choice("scheme", self["scheme"], SCHEME_NAMES)
        if self["scheme"] is not None:
            _scheme(self["scheme"], self["hash"])


class CaCertsOptions(_Options):
    synopsis = ""
    longdesc = (
        "Print, as PEM on standard output, the CA certificates nssd lets this "
        "client trust: the ones an IKE client names in CERTREQ and validates "
        "peers against."
    )


def _scheme(scheme: str, hashName: str) -> SignatureSchemeCode:
    code = SCHEMES.get((scheme, hashName))
    if code is None:
        raise usage.UsageError(f"--scheme {scheme} does not go with --hash {hashName}")
    return code


class ClientOptions(_Options):
    """
    The command line of C{nss-client}: how to reach and log on to nssd, then
    one command with its own options.
    """

    synopsis = (
        f"Usage: {PROGRAM} --server HOST[:PORT] --ca-file PEM --client-name NAME"
        " --userid USERID (--password-file FILE | --passticket-key-file FILE)"
        " [--server-name NAME] [--timeout SECONDS] [--json]"
    )
    longdesc = (
        "Log on to the NSS server as an NSS client, asking for the certificate "
        "service, and run one COMMAND: sign, verify or cacerts (see "
        f"'{PROGRAM} ... COMMAND --help').  The connection options come before "
        "COMMAND.  The password file holds the password on its first line; the "
        "PassTicket key file holds the 16 hex digits of application NSSD's "
        "PassTicket key, from which a fresh ticket is made for the logon.  "
        "Either file must be readable by its owner only (chmod 600).  With "
        "--json, the result is printed as one JSON object.  Exit "
        "status: 0 success, 1 refused by the server, 2 usage, file or "
        "connection error."
    )
    optFlags: ClassVar[list[list[str | None]]] = [
        ["json", None, "Print the command's result as one JSON object."],
    ]
    optParameters: ClassVar[list[list[str | None]]] = [
        [
            "server",
            "s",
            None,
            f"The NSS server, HOST or HOST:PORT (port {DEFAULT_PORT}).",
        ],
        [
            "server-name",
            None,
            None,
            "The DNS name or IP address the server's certificate must show "
            "(default: HOST).",
        ],
        ["ca-file", None, None, "The CA certificates (PEM) that vouch for nssd."],
        ["client-name", "c", None, "The NSS client name, e.g. SYS1_TCPIP."],
        ["userid", "u", None, "The user ID that represents the client."],
        ["password-file", "p", None, "A file holding the user ID's password."],
        [
            "passticket-key-file",
            "k",
            None,
            "A file holding the PassTicket key of application NSSD.",
        ],
        [
            "timeout",
            "t",
            str(DEFAULT_TIMEOUT),
            "Seconds to wait for the connection and for each answer.",
        ],
    ]
    subCommands: ClassVar[list[tuple[str, None, type[usage.Options], str]]] = [
        ("sign", None, SignOptions, "Sign a file's digest with a client key."),
        ("verify", None, VerifyOptions, "Verify a signature through nssd."),
        ("cacerts", None, CaCertsOptions, "Print the client's CA certificates."),
    ]

    def getSynopsis(self) -> str:
        # A command's help starts with this synopsis followed by the
        # command's own; only the top-level help needs the placeholder.
        if self.subCommand is None:
            return self.synopsis + " COMMAND [options]"
        return self.synopsis

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a COMMAND is required: sign, verify or cacerts")
        _require(self, "server", "ca-file", "client-name", "userid")
        _exactly_one(self, "password-file", "passticket-key-file")
        self["host"], self["port"] = parse_server(self["server"])
        if self["server-name"] is None:
            self["server-name"] = self["host"]
        if CLIENT_NAME_PATTERN.fullmatch(self["client-name"]) is None:
            raise usage.UsageError(
                "--client-name must be 1 to 24 of A-Z a-z 0-9 _ - . @ # $"
            )
        if USERID_PATTERN.fullmatch(self["userid"]) is None:
            raise usage.UsageError("--userid must be 1 to 8 of A-Z a-z 0-9 @ # $")
        try:
            timeout = float(self["timeout"])
        except ValueError:
            timeout = -1.0
        if not 0 < timeout < 1e6:
            raise usage.UsageError("--timeout must be a positive number of seconds")
        self["timeout"] = timeout


# Local files.


def read_secret(path: str, what: str) -> str:
    """
    The first line of a secret file, which must be readable by its owner
    only (see L{read_secret_file}), so that nothing secret ever has to be
    given on the command line, where every local user can read it.

    @param what: how the file is named in messages ("password file").
    @raise CommandFailed: the file cannot be used; the message names the
        file and never its contents.
    """
    try:
        return read_secret_file(path, what)
    except SecretUnavailable as e:
        raise CommandFailed(str(e)) from None


def credentials_from(options: ClientOptions, clock: Callable[[], float]) -> Credentials:
    """
    The logon credentials the options name.  A PassTicket is made at logon
    time, not now, so that it is fresh however long the connection takes.
    """
    userid = options["userid"]
    if options["password-file"] is not None:
        return PasswordCredentials(
            userid, read_secret(options["password-file"], "password file")
        )
    path = options["passticket-key-file"]
    try:
        key = parse_key(read_secret(path, "PassTicket key file").strip())
    except SecurityError as e:
        # The library's message never repeats the key.
        raise CommandFailed(f"the PassTicket key file {path}: {e}") from None

    def ticket() -> str:
        return generate_passticket(userid, PASSTICKET_APPLICATION, key, int(clock()))

    return PassTicketCredentials(userid, ticket)


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CommandFailed(f"cannot read the {what} {path}: {e.strerror}") from None


def _write(path: str, what: str, content: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(content)
    except OSError as e:
        raise CommandFailed(f"cannot write the {what} {path}: {e.strerror}") from None


def _check_writable(path: str, what: str) -> None:
    """
    Refuse an output path that cannot be written before anything is signed,
    so that a typing mistake costs no signature (and no log line on the
    server for a signature nobody kept).
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandFailed(f"cannot write the {what} {path}: no folder {folder}")
    if os.path.isdir(path):
        raise CommandFailed(f"cannot write the {what} {path}: it is a folder")
    if not os.access(path if os.path.exists(path) else folder, os.W_OK):
        raise CommandFailed(f"cannot write the {what} {path}: permission denied")


def digest_file(path: str, hashName: str) -> bytes:
    """
    Hash a file in pieces, so that its size does not matter.
    """
    hasher = HASHES[hashName]()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                hasher.update(chunk)
    except OSError as e:
        raise CommandFailed(f"cannot read the input {path}: {e.strerror}") from None
    digest: bytes = hasher.digest()
    return digest


def load_certificates(path: str, what: str) -> list[x509.Certificate]:
    """
    The certificates of a PEM file (one or more), or of a DER file (one).
    """
    raw = _read(path, what)
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificates(raw)
        return [x509.load_der_x509_certificate(raw)]
    except ValueError:
        raise CommandFailed(
            f"the {what} {path} holds no PEM or DER X.509 certificate"
        ) from None


def _check_encodable(message: NssMessage, option: str) -> None:
    """
    Refuse locally what nssd would refuse as a bad field (a label of 33
    characters, an FQDN with an underscore): the codec's message is more
    precise than a refusal, and a wrong value then costs no logon.
    """
    try:
        encode_frame(NssFrame(1, message))
    except ValueError as e:
        raise CommandFailed(f"{option}: {str(e).split(': ', 1)[-1]}") from None


# The commands.  Each is split into what can be checked before connecting
# (options, files, digests) and what needs the session, so that a local
# mistake never costs a logon, and with a PassTicket never a ticket.


@dataclass
class _Result:
    """
    What a command found: the text it prints, and the same facts as data
    for C{--json}, made from the same objects.
    """

    text: str
    data: dict[str, Any]


def _certificate_data(certificate: x509.Certificate) -> dict[str, Any]:
    """A certificate's public facts, by the names C{RACDCERT LIST --json} uses."""
    return {
        "SubjectsName": certificate.subject.rfc4514_string(),
        "IssuersName": certificate.issuer.rfc4514_string(),
        "SerialNumber": f"{certificate.serial_number:X}",
        "StartDate": json_time(certificate.not_valid_before_utc),
        "EndDate": json_time(certificate.not_valid_after_utc),
        "SHA256Fingerprint": certificate.fingerprint(hashes.SHA256()).hex().upper(),
    }


@dataclass
class _Sign:
    request: SignRequest
    out: str
    certOut: str | None

    async def perform(self, session: NssSession) -> _Result:
        reply = await session.sign(
            scheme=self.request.scheme,
            label=self.request.label,
            identity=self.request.identity,
            digest=self.request.digest,
        )
        _write(self.out, "signature file", reply.signature)
        try:
            certificate = x509.load_der_x509_certificate(reply.certificate)
            subject = certificate.subject.rfc4514_string()
        except ValueError:
            certificate, subject = None, "(a certificate that does not parse)"
        if self.certOut is not None and certificate is not None:
            _write(
                self.certOut,
                "certificate file",
                certificate.public_bytes(serialization.Encoding.PEM),
            )
        text = (
            f"signature: {len(reply.signature)} bytes ({self.request.scheme.name})"
            f" written to {self.out}\n"
            f"signer: {subject}\n"
        )
        return _Result(
            text,
            {
                "Scheme": self.request.scheme.name,
                "Label": self.request.label,
                "Identity": None
                if self.request.identity is None
                else _identity_text(self.request.identity),
                "SignatureBytes": len(reply.signature),
                "SignatureFile": self.out,
                "CertificateFile": self.certOut if certificate is not None else None,
                "Signer": None
                if certificate is None
                else _certificate_data(certificate),
            },
        )


@dataclass
class _Verify:
    request: VerifyRequest

    async def perform(self, session: NssSession) -> _Result:
        await session.verify(
            certificate=self.request.certificate,
            chain=self.request.chain,
            scheme=self.request.scheme,
            digest=self.request.digest,
            signature=self.request.signature,
        )
        signer = x509.load_der_x509_certificate(self.request.certificate)
        return _Result(
            "signature valid\n",
            {
                "Valid": True,
                "Scheme": self.request.scheme.name,
                "ChainCertificates": len(self.request.chain),
                "Signer": _certificate_data(signer),
            },
        )


class _CaCerts:
    async def perform(self, session: NssSession) -> _Result:
        certificates = await session.caCertificates()
        pems = [
            c.public_bytes(serialization.Encoding.PEM).decode("ascii")
            for c in certificates
        ]
        entries = [
            {**_certificate_data(c), "PEM": pem}
            for c, pem in zip(certificates, pems, strict=True)
        ]
        return _Result("".join(pems), {"TotAvail": len(entries), "Entries": entries})


def _identity_text(identity: Identity) -> str:
    """An identity as C{--identity} takes it: C{fqdn:HOST}, C{dn:CN=...}."""
    for name, kind in IDENTITY_KINDS.items():
        if kind is identity.kind:
            return f"{name}:{identity.value}"
    return f"{identity.kind.name.lower()}:{identity.value}"


_Command = _Sign | _Verify | _CaCerts


def _prepare_sign(options: usage.Options) -> _Sign:
    scheme: SignatureSchemeCode = options["schemeCode"]
    _check_writable(options["out"], "signature file")
    if options["cert-out"] is not None:
        _check_writable(options["cert-out"], "certificate file")
    request = SignRequest(
        label=options["label"],
        identity=options["identity"],
        scheme=scheme,
        digest=digest_file(options["in"], options["hash"]),
        data=None,
    )
    _check_encodable(request, "--label" if request.label else "--identity")
    return _Sign(request, options["out"], options["cert-out"])


def _scheme_for_key(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "pkcs1"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ecdsa"
    raise CommandFailed(
        "the certificate's key is neither RSA nor EC, which nssd cannot verify"
    )


def _prepare_verify(options: usage.Options) -> _Verify:
    certificates = load_certificates(options["cert"], "certificate file")
    if len(certificates) != 1:
        raise CommandFailed(
            f"the certificate file {options['cert']} holds {len(certificates)} "
            "certificates; give the signer's alone, and intermediates with --chain"
        )
    certificate = certificates[0]
    chain: list[x509.Certificate] = []
    if options["chain"] is not None:
        chain = load_certificates(options["chain"], "chain file")
        if len(chain) > MAX_CHAIN:
            raise CommandFailed(
                f"the chain file {options['chain']} holds {len(chain)} "
                f"certificates; at most {MAX_CHAIN} may be sent"
            )
    hashName = options["hash"]
    scheme = options["scheme"] or _scheme_for_key(certificate)
    try:
        code = _scheme(scheme, hashName)
    except usage.UsageError as e:
        raise CommandFailed(str(e)) from None
    signature = _read(options["signature"], "signature file")
    der = serialization.Encoding.DER
    request = VerifyRequest(
        certificate=certificate.public_bytes(der),
        chain=tuple(c.public_bytes(der) for c in chain),
        scheme=code,
        digest=digest_file(options["in"], hashName),
        data=None,
        signature=signature,
    )
    _check_encodable(request, "--signature")
    return _Verify(request)


def _prepare(options: ClientOptions) -> _Command:
    sub = options.subOptions
    if options.subCommand == "sign":
        return _prepare_sign(sub)
    if options.subCommand == "verify":
        return _prepare_verify(sub)
    return _CaCerts()


def _trusted_cas(path: str) -> list[bytes]:
    pems = [
        c.public_bytes(serialization.Encoding.PEM)
        for c in load_certificates(path, "CA file")
    ]
    if not pems:
        raise CommandFailed(f"the CA file {path} holds no certificate")
    return pems


def _is_local_timeout(error: NssRequestFailed) -> bool:
    # The client API reports its own timeout with these codes; nssd never
    # sends them for a certificate request.
    return (
        error.returnCode is ReturnCode.ETIMEDOUT
        and error.reasonCode is ReasonCode.NSSRsnClientTimeout
    )


async def run(
    reactor: Any,
    argv: Sequence[str],
    stdout: TextIO,
    stderr: TextIO,
    *,
    clock: Callable[[], float] = time.time,
) -> int:
    """
    Run the command and return its exit status instead of exiting, so that
    tests and other programs can call it under their own reactor.

    @param reactor: provides TCP, name resolution and time.
    @param argv: the arguments, without the program name.
    @param stdout: where results go.
    @param stderr: where problems go, one line each.
    @param clock: seconds since the epoch, for PassTickets.
    @return: 0 success, 1 refused by nssd, 2 usage, file or connection error.
    """
    # Twisted's usage module carries no annotations.
    options = ClientOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(list(argv))  # type: ignore[no-untyped-call]
    except Finished as finished:
        stdout.write(finished.text)
        return EXIT_OK
    except usage.UsageError as error:
        stderr.write(f"{PROGRAM}: {error} (see {PROGRAM} --help)\n")
        return EXIT_USAGE

    host, port = options["host"], options["port"]
    where = f"{host} port {port}"
    loggedOn = False
    try:
        command = _prepare(options)
        cas = _trusted_cas(options["ca-file"])
        credentials = credentials_from(options, clock)
        timeout = options["timeout"]
        endpoint = tls_endpoint(
            HostnameEndpoint(reactor, host, port, timeout=timeout),
            cas,
            options["server-name"],
            caSource=options["ca-file"],
        )
        session = await connect(
            reactor,
            endpoint,
            serverIdentity=ServerIdentity.of_host(options["server-name"]),
            clientName=options["client-name"],
            credentials=credentials,
            services=Services.CERT,
            timeouts=ClientTimeouts(requestTimeout=timeout),
        )
        loggedOn = True
        try:
            result = await command.perform(session)
        finally:
            await session.close()
        if options["json"]:
            shown = {
                "Command": options.subCommand,
                "Server": host,
                "Port": port,
                "ClientName": options["client-name"],
                "UserID": options["userid"],
                **result.data,
            }
            stdout.write(json.dumps(shown, indent=2) + "\n")
        else:
            stdout.write(result.text)
        return EXIT_OK
    except CommandFailed as failed:
        stderr.write(f"{PROGRAM}: {failed.text}\n")
        return failed.status
    except TlsFailed as insecure:
        # An untrusted or misnamed server certificate, or no TLS at all.
        stderr.write(f"{PROGRAM}: cannot connect to {where}: {insecure.text}\n")
        return EXIT_USAGE
    except ConnectionClosed as closed:
        state = "lost the connection to" if loggedOn else "cannot connect to"
        stderr.write(f"{PROGRAM}: {state} {where}: {closed.text}\n")
        return EXIT_USAGE
    except NssRequestFailed as refused:
        stderr.write(f"{PROGRAM}: {refused}\n")
        return EXIT_USAGE if _is_local_timeout(refused) else EXIT_REFUSED
    except (ConnectError, DNSLookupError, TimeoutError) as error:
        stderr.write(f"{PROGRAM}: cannot connect to {where}: {error}\n")
        return EXIT_USAGE


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point: run the command under the global reactor
    and exit with its status.
    """
    arguments = sys.argv[1:] if argv is None else argv

    async def command(reactor: Any) -> None:
        status = await run(reactor, arguments, sys.stdout, sys.stderr)
        if status != EXIT_OK:
            # react() turns SystemExit into the process's exit status.
            raise SystemExit(status)

    react(lambda reactor: Deferred.fromCoroutine(command(reactor)))
