"""
Fixtures that run real strongSwan daemons (charon 5.9.x) as IKEv2 peers.

iked has to interoperate with strongSwan, so the interoperability tests and
the IKE benchmark run the real thing rather than a model of it: a throwaway
PKI (L{TestPki}), a network namespace per test (L{NetworkNamespace}) so that
the daemons' wildcard sockets and routes never touch the host, and one
L{Charon} per peer, driven through C{swanctl}.

Everything here follows the lab recipe in the IKEv2 notes (sections 4 and 8):

  - charon binds its IKE ports on the wildcard address and writes the fixed
    file C{/run/charon.pid}; each instance therefore runs inside the test's
    namespace (C{ip netns exec}) and a private mount namespace with its own
    tmpfs on C{/run} (C{unshare -m}), so that several can run at once;
  - the kernels we run on have no ESP, so the plugin list puts
    C{kernel-libipsec} (userspace ESP over a TUN device) before
    C{kernel-netlink}.  libipsec fakes NAT detection, so every peer sees
    "remote behind NAT" and ESP is UDP-encapsulated;
  - with libipsec a traffic selector must not cover the IKE endpoints, and an
    address inside the local selector must exist locally: the namespace puts
    the inner addresses (L{INNER_ADDRESSES}) on C{lo}.

Every call that waits for a process has a timeout, so that a broken peer
fails the test with charon's log instead of hanging it.  The control calls
return Deferreds rather than blocking, because a peer that lives in the
test's own reactor (an in-process iked) must keep running while C{swanctl}
waits for it.

A typical test::

    reason = strongswan_available()   # as the TestCase's C{skip}

    ns = NetworkNamespace("iked")
    self.addCleanup(ns.delete)
    pki = TestPki(self.mktemp())
    moon = Charon(self.mktemp(), ns, 4600, 4601, name="moon")
    self.addCleanup(moon.stop)
    moon.add_ca(pki.ca_cert)
    cert, key = pki.issue("moon.iked.test")
    moon.add_identity("moon", cert, key)
    moon.connections.append(Connection(
        "peer", remote_port=5500, local_id="moon.iked.test",
        remote_id="sun.iked.test", local_certs=["moon.crt"],
        children=[Child("net")]))
    await moon.start()
    await moon.load()
    await moon.initiate(child="net")
    sas = await moon.list_sas()
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from twisted.internet import reactor as _globalReactor
from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol, Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

CHARON = "/usr/lib/ipsec/charon"
PLUGIN_DIRECTORY = "/usr/lib/ipsec/plugins"

#: charon's plugins, named one by one so that the host's
#: C{/etc/strongswan.d} cannot change what a test runs against.  C{kdf} is
#: required on 5.9.x once plugins are listed (otherwise "KDF_PRF not
#: supported"); C{kernel-libipsec} must come before C{kernel-netlink}.
CHARON_PLUGINS = (
    "random nonce openssl kdf pem pkcs1 pkcs8 x509 pubkey revocation "
    "constraints kernel-libipsec kernel-netlink socket-default vici"
)

#: swanctl only parses credentials and talks vici; listing its plugins keeps
#: it from printing a "failed to load" line per optional plugin.
SWANCTL_PLUGINS = "random nonce openssl pem pkcs1 pkcs8 x509 pubkey"

#: Inner (tunnel) addresses put on the namespace's C{lo}: libipsec needs a
#: local address inside the local traffic selector to route from.
INNER_ADDRESSES = ("10.1.0.1/24", "10.2.0.1/24")

#: ikeIntermediate (RFC 4945), which strongSwan's lab certificates carry.
IKE_INTERMEDIATE = ObjectIdentifier("1.3.6.1.5.5.7.3.17")

_SWANCTL_FOLDERS = (
    "x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss "
    "pkcs8 pkcs12"
).split()

#: AF_UNIX paths are limited to 108 bytes with the NUL; stay well below.
_MAX_SOCKET_PATH = 100

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
SettingValue: TypeAlias = (
    str | int | float | bool | Sequence[str] | Mapping[str, "SettingValue"]
)
Settings = Mapping[str, SettingValue]


def _plugin_file(name: str) -> str:
    return os.path.join(PLUGIN_DIRECTORY, f"libstrongswan-{name}.so")


def _tool(name: str) -> str | None:
    """
    Find a system tool: on C{PATH}, or in the sbin folders a non-login
    shell (or tox) may leave off it.
    """
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def swanctl_path() -> str | None:
    """
    Where C{swanctl} is (normally C{/usr/sbin}).
    """
    return _tool("swanctl")


def _ip() -> str:
    return _tool("ip") or "ip"


def strongswan_available() -> str | None:
    """
    Say why the strongSwan tests cannot run here, or C{None} if they can.

    Meant for a TestCase's C{skip} attribute: the suite stays green on a
    developer machine without strongSwan, while CI installs the packages
    (C{.ci/run}) and so runs these tests for real.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "strongSwan tests need root (network namespaces, /run mount)"
    if not os.access(CHARON, os.X_OK):
        return f"{CHARON} is missing (apt-get install strongswan-charon)"
    if swanctl_path() is None:
        return "swanctl is missing (apt-get install strongswan-swanctl)"
    for plugin, package in [
        ("openssl", "libstrongswan-standard-plugins"),
        ("kernel-libipsec", "libcharon-extra-plugins"),
        ("vici", "strongswan-swanctl"),
    ]:
        if not os.path.exists(_plugin_file(plugin)):
            return f"strongSwan plugin {plugin} is missing (apt-get install {package})"
    for tool, package in [("ip", "iproute2"), ("unshare", "util-linux")]:
        if _tool(tool) is None:
            return f"{tool} is missing (apt-get install {package})"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (kernel-libipsec needs a TUN device)"
    return None


class CommandFailed(Exception):
    """
    A helper command failed or timed out; the message carries its output
    (and, for charon's commands, the tail of charon's log) because that is
    what one needs to see in a CI log.
    """


def _run(argv: Sequence[str], timeout: float = 10.0) -> str:
    """
    Run a short host command (ip) synchronously: these finish in
    milliseconds and are only used while setting up or tearing down.
    """
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise CommandFailed(f"{' '.join(argv)}: no answer in {timeout}s") from e
    if done.returncode != 0:
        raise CommandFailed(
            f"{' '.join(argv)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        )
    return done.stdout


class NetworkNamespace:
    """
    A throwaway network namespace with C{lo} up and the tunnels' inner
    addresses on it.

    It exists from construction on; register L{delete} as a cleanup.  The
    name carries the purpose and a random part, C{nsst-<purpose>-<hex>}, so
    that a leftover one can be traced to the test that leaked it.

    @ivar name: the namespace's name, as C{ip netns} knows it.
    """

    def __init__(
        self, purpose: str, addresses: Sequence[str] = INNER_ADDRESSES
    ) -> None:
        self.name = f"nsst-{purpose}-{secrets.token_hex(3)}"
        _run([_ip(), "netns", "add", self.name])
        self._deleted = False
        try:
            _run([_ip(), "-n", self.name, "link", "set", "lo", "up"])
            for address in addresses:
                self.add_address(address)
        except BaseException:
            self.delete()
            raise

    def add_address(self, address: str, device: str = "lo") -> None:
        """
        Add C{address} (CIDR notation) to C{device} in the namespace.
        """
        _run([_ip(), "-n", self.name, "address", "add", address, "dev", device])

    def command(self, argv: Sequence[str]) -> list[str]:
        """
        The argv that runs C{argv} inside the namespace, for callers that
        spawn processes themselves.
        """
        return [_ip(), "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> str:
        """
        Run a short command inside the namespace and return its output.

        @raise CommandFailed: if it exits non-zero or takes too long.
        """
        return _run(self.command(argv), timeout)

    def delete(self) -> None:
        """
        Remove the namespace; safe to call twice.  Processes still inside
        keep it alive until they end, so the order of cleanups does not
        matter for correctness.
        """
        if self._deleted:
            return
        self._deleted = True
        subprocess.run(
            [_ip(), "netns", "delete", self.name],
            capture_output=True,
            timeout=10,
            check=False,
        )


class TestPki:
    """
    A throwaway certificate authority and the leaf certificates strongSwan
    and iked authenticate with.

    Keys are RSA-2048 by default rather than the lab's RSA-3072: key
    generation is the slow part of a test's set-up, and 2048 bits keep the
    same signature choice in strongSwan (RFC 7427 with SHA-256; only keys
    over 3072 bits switch it to SHA-384).

    Leaves carry what strongSwan checks or what the lab certificates had:
    C{subjectAltName} with the identity (a DNS name, or an IP address if the
    identity is one), C{keyUsage=digitalSignature} and
    C{extendedKeyUsage=serverAuth,ikeIntermediate}.

    @ivar ca_cert: the CA certificate, for strongSwan's C{x509ca} and for
        importing into nssd's key ring.
    @ivar ca_key: the CA's private key.
    @ivar ca_cert_path: the CA certificate as PEM, if a directory was given.
    @ivar ca_key_path: the CA key as unencrypted PKCS#8 PEM, likewise.
    """

    # Not a test case, whatever its name says.
    __test__ = False

    def __init__(
        self,
        directory: str | None = None,
        name: str = "nsstwisted test CA",
        key_size: int = 2048,
    ) -> None:
        self.key_size = key_size
        self.ca_key = rsa.generate_private_key(65537, key_size)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nsstwisted tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        now = datetime.datetime.now(datetime.UTC)
        public = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_cert_path: str | None = None
        self.ca_key_path: str | None = None
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
            self.ca_cert_path, self.ca_key_path = self.write(
                directory, "ca", self.ca_cert, self.ca_key
            )

    def issue(
        self, identity: str, key_type: str = "rsa"
    ) -> tuple[x509.Certificate, PrivateKey]:
        """
        Issue a leaf certificate for C{identity} with a new key.

        @param key_type: C{"rsa"} (of the CA's size) or C{"ecdsa"} (P-256),
            the two kinds iked signs with through nssd.
        """
        key: PrivateKey
        if key_type == "rsa":
            key = rsa.generate_private_key(65537, self.key_size)
        elif key_type == "ecdsa":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"key_type must be 'rsa' or 'ecdsa', not {key_type!r}")
        alt: x509.GeneralName
        try:
            alt = x509.IPAddress(ipaddress.ip_address(identity))
        except ValueError:
            alt = x509.DNSName(identity)
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(
                            NameOID.ORGANIZATION_NAME, "nsstwisted tests"
                        ),
                        x509.NameAttribute(NameOID.COMMON_NAME, identity),
                    ]
                )
            )
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.SubjectAlternativeName([alt]), False)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE]
                ),
                False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.ca_key.public_key()
                ),
                False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        return cert, key

    @staticmethod
    def cert_pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    @staticmethod
    def cert_der(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)

    @staticmethod
    def key_pem(key: PrivateKey) -> bytes:
        """
        Unencrypted PKCS#8, which strongSwan's pkcs8 plugin and nss-racf
        both read.
        """
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @staticmethod
    def key_der(key: PrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @staticmethod
    def pkcs12(
        cert: x509.Certificate,
        key: PrivateKey,
        password: bytes | None = None,
        name: bytes = b"leaf",
    ) -> bytes:
        """
        Certificate and key as one PKCS#12 blob, for key ring import paths
        that want a single file.
        """
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(name, key, cert, None, encryption)

    @classmethod
    def write(
        cls,
        directory: str,
        name: str,
        cert: x509.Certificate,
        key: PrivateKey | None = None,
    ) -> tuple[str, str | None]:
        """
        Write C{name.crt} and, with a key, C{name.key} (both PEM) into
        C{directory}; return their paths.  The key file is made
        owner-readable only, like any private key on disk.
        """
        cert_path = os.path.join(directory, f"{name}.crt")
        with open(cert_path, "wb") as f:
            f.write(cls.cert_pem(cert))
        if key is None:
            return cert_path, None
        key_path = os.path.join(directory, f"{name}.key")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(cls.key_pem(key))
        return cert_path, key_path


_PLAIN = re.compile(r"[A-Za-z0-9_.:/%@+-]+")


def _value(value: SettingValue) -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        text = ", ".join(str(v) for v in value)
    if "\n" in text:
        raise ValueError(f"setting value {text!r} cannot be written on one line")
    if _PLAIN.fullmatch(text):
        return text
    # Quoted, a value keeps its spaces, "=", "#" and braces (a DN as an id).
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_settings(settings: Settings, indent: int = 0) -> str:
    """
    Write a nested mapping in strongSwan's settings syntax (used by both
    strongswan.conf and swanctl.conf): mappings become sections, sequences
    comma-separated lists, booleans C{yes}/C{no}.

    One setting per line, always: a value runs to the end of its line, so
    two settings on one line would silently become one.
    """
    pad = "  " * indent
    lines: list[str] = []
    for key, value in settings.items():
        if isinstance(value, Mapping):
            lines.append(f"{pad}{key} {{")
            inner = render_settings(value, indent + 1)
            if inner:
                lines.append(inner.rstrip("\n"))
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{key} = {_value(value)}")
    return "\n".join(lines) + "\n" if lines else ""


def _merge(base: dict[str, Any], extra: Settings) -> dict[str, Any]:
    """
    Deep-merge C{extra} into C{base}, so that callers can override one key
    of a nested section without restating the section.
    """
    for key, value in extra.items():
        current = base.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        elif isinstance(value, Mapping):
            base[key] = _merge({}, value)
        else:
            base[key] = value
    return base


@dataclass
class Child:
    """
    One CHILD_SA configuration of a L{Connection}.

    The default selectors are the namespace's inner addresses, from
    10.1.0.0/24 to 10.2.0.0/24; the other peer swaps them.  C{options}
    adds or overrides any other swanctl.conf child setting.
    """

    name: str
    local_ts: str | Sequence[str] = "10.1.0.0/24"
    remote_ts: str | Sequence[str] = "10.2.0.0/24"
    esp_proposals: str | Sequence[str] = "aes128gcm16"
    mode: str = "tunnel"
    rekey_time: str = "1h"
    start_action: str = "none"
    options: Settings = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return _merge(
            {
                "local_ts": self.local_ts,
                "remote_ts": self.remote_ts,
                "mode": self.mode,
                "esp_proposals": self.esp_proposals,
                "rekey_time": self.rekey_time,
                "start_action": self.start_action,
            },
            self.options,
        )


@dataclass
class Connection:
    """
    One swanctl.conf connection (an IKE_SA configuration).

    The fixed settings are the ones interoperability tests want stable:
    IKEv2 only, C{mobike = no} (no MOBIKE-driven port floating or extra
    notifies), C{send_certreq = yes} and C{send_cert = always} (so that
    strongSwan does not depend on the peer's CERTREQ).  C{options} adds or
    overrides any other connection setting (C{unique}, C{childless},
    C{dpd_delay}, ...).

    @ivar local_port: C{None} means the charon's own C{port}.
    @ivar local_certs: file names in the charon's C{swanctl/x509}, as
        returned by L{Charon.add_identity}.
    """

    name: str
    remote_port: int
    local_id: str
    remote_id: str
    local_addrs: str | Sequence[str] = "127.0.0.1"
    remote_addrs: str | Sequence[str] = "127.0.0.1"
    local_port: int | None = None
    proposals: str | Sequence[str] = "aes128-sha256-x25519"
    local_auth: str = "pubkey"
    local_certs: Sequence[str] = ()
    remote_auth: str = "pubkey"
    rekey_time: str = "4h"
    children: Sequence[Child] = ()
    options: Settings = field(default_factory=dict)

    def settings(self, default_port: int) -> dict[str, Any]:
        local: dict[str, Any] = {"auth": self.local_auth, "id": self.local_id}
        if self.local_certs:
            local["certs"] = list(self.local_certs)
        conn: dict[str, Any] = {
            "version": 2,
            "local_addrs": self.local_addrs,
            "remote_addrs": self.remote_addrs,
            "local_port": self.local_port or default_port,
            "remote_port": self.remote_port,
            "proposals": self.proposals,
            "rekey_time": self.rekey_time,
            "mobike": False,
            "send_certreq": True,
            "send_cert": "always",
            "local": local,
            "remote": {"auth": self.remote_auth, "id": self.remote_id},
        }
        if self.children:
            conn["children"] = {c.name: c.settings() for c in self.children}
        return _merge(conn, self.options)


@dataclass
class Psk:
    """
    A pre-shared key for the identities in C{ids}.
    """

    ids: Sequence[str]
    secret: str

    def settings(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            f"id-{n}": identity for n, identity in enumerate(self.ids, 1)
        }
        entry["secret"] = self.secret
        return entry


# The raw format swanctl prints: "name {key=value list=[a b] sub {...}}".
_TOKEN = re.compile(r"(?P<key>[^\s=\[\]{}]+)=|(?P<word>[^\s=\[\]{}]+)")
# Where a value stops: a closing brace, or whitespace before the next
# "key=" (lower-case, as all vici keys are) or "name {".
_VALUE_END = re.compile(r"\}|\s+(?=[a-z0-9][a-z0-9_-]*=|[^\s=\[\]{}]+ \{)")


class RawFormatError(ValueError):
    """
    swanctl's C{--raw} output did not parse.
    """


def parse_vici_raw(text: str) -> list[tuple[str, dict[str, Any]]]:
    """
    Parse the output of a swanctl command run with C{--raw}: one vici
    message per line, such as C{list-sa event {moon {state=ESTABLISHED
    child-sas {...}}}}, into (message name, body) pairs.

    Sections become dicts, lists (C{[a b]}) become lists of strings, values
    stay strings.  Values are printed unquoted by swanctl; one that contains
    spaces (a distinguished name such as C{C=CH, O=x, CN=moon}) is read up
    to the next lower-case C{key=}, C{}} or C{name {}, which is right for
    DNs since their attribute names are upper-case.
    """
    messages: list[tuple[str, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        brace = line.find("{")
        if brace < 0 or line.startswith("["):
            # swanctl's own chatter ("no IKE_SAs found") and streamed log
            # lines ("[IKE] CHILD_SA net{1} established ...").
            continue
        name = line[:brace].strip()
        try:
            body, end = _parse_section(line, brace + 1)
        except RawFormatError as e:
            raise RawFormatError(f"line {number}: {e}: {line!r}") from None
        if line[end:].strip():
            raise RawFormatError(f"line {number}: trailing text: {line!r}")
        messages.append((name, body))
    return messages


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _parse_section(text: str, pos: int) -> tuple[dict[str, Any], int]:
    """
    Parse from just after a C{{} to just after its C{}}.
    """
    section: dict[str, Any] = {}
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            raise RawFormatError("unterminated section")
        if text[pos] == "}":
            return section, pos + 1
        token = _TOKEN.match(text, pos)
        if token is None:
            raise RawFormatError(f"unexpected {text[pos]!r} at {pos}")
        if token.group("key"):
            key = token.group("key")
            pos = token.end()
            if pos < len(text) and text[pos] == "[":
                items, pos = _parse_list(text, pos + 1)
                section[key] = items
            else:
                stop = _VALUE_END.search(text, pos)
                end = stop.start() if stop else len(text)
                section[key] = text[pos:end]
                pos = end
        else:
            key = token.group("word")
            pos = _skip_space(text, token.end())
            if pos >= len(text) or text[pos] != "{":
                raise RawFormatError(f"{key!r} is neither key=value nor a section")
            section[key], pos = _parse_section(text, pos + 1)


def _parse_list(text: str, pos: int) -> tuple[list[str], int]:
    end = text.find("]", pos)
    if end < 0:
        raise RawFormatError("unterminated list")
    return text[pos:end].split(), end + 1


def child_sas(sa: Mapping[str, Any]) -> list[dict[str, Any]]:
    """
    The CHILD_SAs of one IKE_SA from L{Charon.list_sas}, in swanctl's order.
    """
    children = sa.get("child-sas", {})
    return list(children.values()) if isinstance(children, dict) else []


@dataclass
class CommandResult:
    argv: list[str]
    code: int
    output: str


class _Collector(ProcessProtocol):
    """
    Keep a process's merged output and exit code (-1 when a signal ended
    it), for error messages and for L{run_command}.
    """

    def __init__(self) -> None:
        self.output = b""
        self.ended: Deferred[int] = Deferred()
        self.code: int | None = None
        self.timedOut = False

    def outReceived(self, data: bytes) -> None:
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.code = code if code is not None else -1
        self.ended.callback(self.code)


def run_command(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    reactor: Any = None,
) -> Deferred[CommandResult]:
    """
    Run C{argv} without blocking the reactor and give its exit code and
    merged output; after C{timeout} seconds it is killed and the Deferred
    fails with L{CommandFailed}.  A non-zero exit is not a failure here:
    the caller knows which codes are.
    """
    clock: Any = reactor or _globalReactor
    protocol = _Collector()
    transport = IReactorProcess(clock).spawnProcess(
        protocol,
        argv[0],
        list(argv),
        env=dict(env if env is not None else os.environ),
    )

    def expire() -> None:
        protocol.timedOut = True
        try:
            transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    timer = IReactorTime(clock).callLater(timeout, expire)

    def done(code: int) -> CommandResult:
        if timer.active():
            timer.cancel()
        output = protocol.output.decode(errors="replace")
        if protocol.timedOut:
            raise CommandFailed(
                f"{' '.join(argv)}: no answer in {timeout}s; output:\n{output}"
            )
        return CommandResult(list(argv), code, output)

    return protocol.ended.addCallback(done)


# vici: the control protocol swanctl speaks (strongSwan's
# src/libcharon/plugins/vici/README.md).  A packet is a 32-bit length and a
# type octet; commands and events carry a name, and then a message of
# sections, key/values and lists.
_CMD_REQUEST, _CMD_RESPONSE, _CMD_UNKNOWN = 0, 1, 2
_EVENT_REGISTER, _EVENT_CONFIRM, _EVENT = 3, 5, 7
_SECTION_START, _SECTION_END, _KEY_VALUE = 1, 2, 3
_LIST_START, _LIST_ITEM, _LIST_END = 4, 5, 6
ViciMessage = Mapping[str, Any]


class ViciError(Exception):
    """
    charon refused a vici command (an unknown command or event, or
    C{success=no} with its C{errmsg}).
    """


def encode_vici(message: ViciMessage) -> bytes:
    """
    Encode a message: mappings are sections, lists and tuples are lists,
    anything else is a value (C{str}, C{bytes}, C{int}, or C{bool} as
    C{yes}/C{no}).
    """
    out = bytearray()
    for key, value in message.items():
        name = key.encode()
        if isinstance(value, Mapping):
            out += bytes([_SECTION_START, len(name)]) + name
            out += encode_vici(value)
            out.append(_SECTION_END)
        elif isinstance(value, list | tuple):
            out += bytes([_LIST_START, len(name)]) + name
            for item in value:
                data = _vici_value(item)
                out += bytes([_LIST_ITEM]) + len(data).to_bytes(2, "big") + data
            out.append(_LIST_END)
        else:
            data = _vici_value(value)
            out += bytes([_KEY_VALUE, len(name)]) + name
            out += len(data).to_bytes(2, "big") + data
    return bytes(out)


def _vici_value(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"yes" if value else b"no"
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def decode_vici(data: bytes) -> dict[str, Any]:
    """
    Decode a message into dicts, lists of strings and strings (values are
    text in every reply the fixtures read).
    """
    stack: list[dict[str, Any]] = [{}]
    current_list: list[str] | None = None
    pos = 0

    def name() -> str:
        nonlocal pos
        length = data[pos]
        text = data[pos + 1 : pos + 1 + length].decode(errors="replace")
        pos += 1 + length
        return text

    def value() -> str:
        nonlocal pos
        length = int.from_bytes(data[pos : pos + 2], "big")
        text = data[pos + 2 : pos + 2 + length].decode(errors="replace")
        pos += 2 + length
        return text

    while pos < len(data):
        kind = data[pos]
        pos += 1
        if kind == _SECTION_START:
            section: dict[str, Any] = {}
            stack[-1][name()] = section
            stack.append(section)
        elif kind == _SECTION_END:
            stack.pop()
        elif kind == _KEY_VALUE:
            key = name()
            stack[-1][key] = value()
        elif kind == _LIST_START:
            current_list = []
            stack[-1][name()] = current_list
        elif kind == _LIST_ITEM and current_list is not None:
            current_list.append(value())
        elif kind == _LIST_END:
            current_list = None
        else:
            raise ViciError(f"bad vici element {kind} at {pos - 1}")
    return stack[0]


class ViciClient(Protocol):
    """
    A vici session over charon's UNIX socket, without a process per command.

    The fixtures drive charon with swanctl, which is simplest to read in a
    test, but a swanctl process costs about 10 ms: more than an IKE_SA
    setup.  The benchmark therefore talks vici itself.  Commands are sent
    one at a time, in order, as charon expects; events for registered
    names go to their handlers whenever they arrive.

    Connect with L{Charon.vici}.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._waiting: list[Deferred[tuple[int, bytes]]] = []
        self._lock = DeferredLock()
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[:4], "big")
            if len(self._buffer) < 4 + length:
                return
            packet = self._buffer[4 : 4 + length]
            self._buffer = self._buffer[4 + length :]
            kind, body = packet[0], packet[1:]
            if kind == _EVENT:
                size = body[0]
                event = body[1 : 1 + size].decode()
                handler = self._handlers.get(event)
                if handler is not None:
                    handler(decode_vici(body[1 + size :]))
            elif self._waiting:
                self._waiting.pop(0).callback((kind, body))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.errback(reason)
        self.closed.callback(None)

    def _send(self, kind: int, payload: bytes) -> Deferred[tuple[int, bytes]]:
        async def exchange() -> tuple[int, bytes]:
            await self._lock.acquire()
            try:
                waiter: Deferred[tuple[int, bytes]] = Deferred()
                self._waiting.append(waiter)
                packet = bytes([kind]) + payload
                assert self.transport is not None
                self.transport.write(len(packet).to_bytes(4, "big") + packet)
                return await waiter
            finally:
                self._lock.release()

        return Deferred.fromCoroutine(exchange())

    def request(
        self, command: str, message: ViciMessage | None = None
    ) -> Deferred[dict[str, Any]]:
        """
        Send a command and give charon's reply.

        @raise ViciError: (as the Deferred's failure) if charon does not know
            the command or answers C{success=no}.
        """
        name = command.encode()
        payload = bytes([len(name)]) + name + encode_vici(message or {})

        def reply(answer: tuple[int, bytes]) -> dict[str, Any]:
            kind, body = answer
            if kind == _CMD_UNKNOWN:
                raise ViciError(f"charon does not know the command {command!r}")
            if kind != _CMD_RESPONSE:
                raise ViciError(f"{command}: unexpected vici packet type {kind}")
            decoded = decode_vici(body)
            if decoded.get("success") == "no":
                raise ViciError(f"{command}: {decoded.get('errmsg', 'failed')}")
            return decoded

        return self._send(_CMD_REQUEST, payload).addCallback(reply)

    def register(
        self, event: str, handler: Callable[[dict[str, Any]], None]
    ) -> Deferred[None]:
        """
        Receive C{event} (such as C{ike-updown}) from now on.
        """
        self._handlers[event] = handler
        name = event.encode()

        def confirmed(answer: tuple[int, bytes]) -> None:
            if answer[0] != _EVENT_CONFIRM:
                del self._handlers[event]
                raise ViciError(f"charon refused to register event {event!r}")

        payload = bytes([len(name)]) + name
        return self._send(_EVENT_REGISTER, payload).addCallback(confirmed)

    def close(self) -> Deferred[None]:
        """
        Hang up; fires once the connection is gone.
        """
        if self.transport is not None and not self.closed.called:
            self.transport.loseConnection()
        return self.closed


class Charon:
    """
    One strongSwan charon, in a namespace, configured from Python.

    The directory holds C{strongswan.conf}, C{charon.log} and the swanctl
    tree (C{swanctl/swanctl.conf} and the C{x509}, C{x509ca} and C{private}
    credential folders).  The vici socket lives there too unless the path
    would be too long for AF_UNIX, in which case it goes into a short
    folder under C{/tmp} that L{stop} removes.

    Describe the peer with L{connections} and L{secrets} and the credential
    methods, then L{start} and L{load}; register L{stop} as a cleanup
    before starting.

    @ivar connections: the swanctl.conf connections L{load} writes.
    @ivar secrets: the PSKs L{load} writes.
    """

    def __init__(
        self,
        directory: str,
        namespace: NetworkNamespace,
        port: int,
        port_nat_t: int,
        *,
        name: str = "charon",
        debug: bool = False,
        retransmit_timeout: float | None = None,
        retransmit_base: float | None = None,
        retransmit_tries: int | None = None,
        settings: Settings | None = None,
        reactor: Any = None,
    ) -> None:
        """
        @param port: charon's C{port} (IKE_SA_INIT is sent and received here).
        @param port_nat_t: charon's C{port_nat_t}; must differ from C{port}.
            With libipsec's faked NAT, IKE_AUTH and later use this one.
        @param debug: log ike, chd and enc at level 4, which prints keys,
            nonces, SKEYSEED and every payload: what one needs to compare
            iked's derivations against strongSwan's.
        @param retransmit_timeout: charon's first retransmit delay (4 s by
            default), for tests that exercise retransmission.
        @param settings: more C{charon} settings, merged over these.
        """
        if port == port_nat_t:
            raise ValueError("port and port_nat_t must differ")
        swanctl = swanctl_path()
        if swanctl is None:
            raise RuntimeError("swanctl is not installed")
        self._swanctl = swanctl
        self.directory = os.path.abspath(directory)
        self.namespace = namespace
        self.port = port
        self.port_nat_t = port_nat_t
        self.name = name
        self.debug = debug
        self.connections: list[Connection] = []
        self.secrets: list[Psk] = []
        self._reactor: Any = reactor or _globalReactor
        self.swanctl_directory = os.path.join(self.directory, "swanctl")
        # All the folders swanctl --load-all reads, so that it does not
        # print one "opening directory failed" line per missing one.
        for sub in _SWANCTL_FOLDERS:
            os.makedirs(os.path.join(self.swanctl_directory, sub), exist_ok=True)
        self.config_path = os.path.join(self.directory, "strongswan.conf")
        self.swanctl_conf = os.path.join(self.swanctl_directory, "swanctl.conf")
        self.log_path = os.path.join(self.directory, "charon.log")
        self._socketDirectory: str | None = None
        socket = os.path.join(self.directory, "charon.vici")
        if len(socket.encode()) >= _MAX_SOCKET_PATH:
            self._socketDirectory = tempfile.mkdtemp(prefix="ss-", dir="/tmp")
            socket = os.path.join(self._socketDirectory, "vici")
        self.socket_path = socket
        self.uri = f"unix://{socket}"
        charon: dict[str, Any] = {
            "port": port,
            "port_nat_t": port_nat_t,
            "load": CHARON_PLUGINS,
            # libipsec routes the inner traffic into its TUN device.
            "install_routes": True,
            "install_virtual_ip": False,
            "filelog": {
                "charon": {
                    "path": self.log_path,
                    "time_format": "%T",
                    "ike_name": True,
                    "append": False,
                    "flush_line": True,
                    "default": 1,
                    "ike": 4 if debug else 2,
                    "net": 2,
                    "cfg": 2,
                    "chd": 4 if debug else 2,
                    "enc": 4 if debug else 1,
                }
            },
            "plugins": {"vici": {"socket": self.uri}},
        }
        if retransmit_timeout is not None:
            charon["retransmit_timeout"] = retransmit_timeout
        if retransmit_base is not None:
            charon["retransmit_base"] = retransmit_base
        if retransmit_tries is not None:
            charon["retransmit_tries"] = retransmit_tries
        _merge(charon, settings or {})
        self.settings: dict[str, Any] = {
            "charon": charon,
            "swanctl": {"load": SWANCTL_PLUGINS, "socket": self.uri},
        }
        self._protocol: _Collector | None = None
        self._transport: Any = None
        self._vici: list[ViciClient] = []

    # Credentials ---------------------------------------------------------

    def add_ca(self, cert: x509.Certificate, name: str = "ca") -> str:
        """
        Trust C{cert} as a CA (C{swanctl/x509ca}); return the file's path.
        """
        path, _ = TestPki.write(
            os.path.join(self.swanctl_directory, "x509ca"), name, cert
        )
        return path

    def add_certificate(self, name: str, cert: x509.Certificate) -> str:
        """
        Add an end-entity certificate (C{swanctl/x509}), such as a peer's
        certificate that is not sent in a CERT payload; return the file
        name that L{Connection.local_certs} takes.
        """
        TestPki.write(os.path.join(self.swanctl_directory, "x509"), name, cert)
        return f"{name}.crt"

    def add_identity(self, name: str, cert: x509.Certificate, key: PrivateKey) -> str:
        """
        Add this charon's own certificate and its private key; return the
        certificate's file name for L{Connection.local_certs}.
        """
        filename = self.add_certificate(name, cert)
        path = os.path.join(self.swanctl_directory, "private", f"{name}.key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(TestPki.key_pem(key))
        return filename

    # Files ---------------------------------------------------------------

    def write_config(self) -> None:
        """
        Write strongswan.conf and swanctl.conf from the current description;
        L{start} and L{load} call this, tests rarely need to.
        """
        with open(self.config_path, "w") as f:
            f.write(render_settings(self.settings))
        swanctl: dict[str, Any] = {
            "connections": {c.name: c.settings(self.port) for c in self.connections},
        }
        if self.secrets:
            swanctl["secrets"] = {
                f"ike-{n}": s.settings() for n, s in enumerate(self.secrets, 1)
            }
        with open(self.swanctl_conf, "w") as f:
            f.write(render_settings(swanctl))

    def log_text(self) -> str:
        """
        charon's log so far, or its console output if it never opened the
        log file.
        """
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            if self._protocol is None:
                return ""
            return self._protocol.output.decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _failure(self, message: str) -> CommandFailed:
        console = ""
        if self._protocol is not None and self._protocol.output:
            console = self._protocol.output.decode(errors="replace")[-2000:]
            console = f"\n--- charon console ---\n{console}"
        return CommandFailed(
            f"charon {self.name!r}: {message}\n"
            f"--- tail of {self.log_path} ---\n{self.log_tail()}{console}"
        )

    # Process -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._protocol is not None and self._protocol.code is None

    @property
    def pid(self) -> int | None:
        return None if self._transport is None else self._transport.pid

    def start(self, timeout: float = 15.0) -> Deferred[None]:
        """
        Start charon in the namespace with a private C{/run}, and fire when
        its vici socket answers C{swanctl --stats}.

        @raise CommandFailed: (as the Deferred's failure) if charon exits or
            does not answer within C{timeout} seconds; the message holds the
            tail of its log.
        """
        return Deferred.fromCoroutine(self._start(timeout))

    async def _start(self, timeout: float) -> None:
        if self._protocol is not None:
            raise RuntimeError(f"charon {self.name!r} was already started")
        self.write_config()
        self._protocol = _Collector()
        mount = shlex.quote(_tool("mount") or "mount")
        inner = f"{mount} -t tmpfs tmpfs /run && exec {CHARON}"
        argv = self.namespace.command(
            [
                _tool("unshare") or "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                inner,
            ]
        )
        env = dict(os.environ, STRONGSWAN_CONF=self.config_path)
        self._transport = IReactorProcess(self._reactor).spawnProcess(
            self._protocol, argv[0], argv, env=env, path=self.directory
        )
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise self._failure(
                    f"exited with code {self._protocol.code} while starting"
                )
            if os.path.exists(self.socket_path):
                result = await self._swanctl_raw(["--stats"], timeout=5)
                if result.code == 0:
                    return
            if time.monotonic() > deadline:
                raise self._failure(f"vici socket did not answer in {timeout}s")
            await deferLater(self._reactor, 0.05)

    def stop(self, timeout: float = 5.0) -> Deferred[None]:
        """
        SIGTERM (charon's clean shutdown), then SIGKILL after C{timeout}
        seconds; fires when the process is gone.  Safe to call when charon
        never started or already stopped.
        """
        return Deferred.fromCoroutine(self._stop(timeout))

    async def _stop(self, timeout: float) -> None:
        sessions, self._vici = self._vici, []
        for session in sessions:
            await session.close()
        protocol = self._protocol
        if protocol is not None and protocol.code is None:
            for sig, wait in (("TERM", timeout), ("KILL", 5.0)):
                try:
                    self._transport.signalProcess(sig)
                except ProcessExitedAlready:
                    break
                if await self._ended_within(protocol, wait):
                    break
        if self._socketDirectory is not None:
            shutil.rmtree(self._socketDirectory, ignore_errors=True)
            self._socketDirectory = None

    def crash_and_restart(self, timeout: float = 15.0) -> Deferred[None]:
        """
        SIGKILL charon, as a crash would end it, and start it again with
        the same configuration (then L{load} it): the new charon knows
        none of the old one's SAs.
        """
        return Deferred.fromCoroutine(self._crash_and_restart(timeout))

    async def _crash_and_restart(self, timeout: float) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.code is None:
            self._transport.signalProcess("KILL")
            await self._ended_within(protocol, 5.0)
        sessions, self._vici = self._vici, []
        for session in sessions:
            await session.close()
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)  # left behind by the killed charon
        self._protocol = None
        await self._start(timeout)

    async def _ended_within(self, protocol: _Collector, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while protocol.code is None and time.monotonic() < deadline:
            await deferLater(self._reactor, 0.05)
        return protocol.code is not None

    def vici(self) -> Deferred[ViciClient]:
        """
        Open a vici session to this charon, for callers that send many
        commands (see L{ViciClient}); L{stop} closes it if the caller has
        not.
        """
        endpoint = UNIXClientEndpoint(self._reactor, self.socket_path, timeout=5)

        def keep(client: ViciClient) -> ViciClient:
            self._vici.append(client)
            return client

        connecting: Deferred[ViciClient] = connectProtocol(endpoint, ViciClient())
        return connecting.addCallback(keep)

    # swanctl -------------------------------------------------------------

    def _swanctl_raw(
        self, args: Sequence[str], timeout: float
    ) -> Deferred[CommandResult]:
        env = dict(os.environ, STRONGSWAN_CONF=self.config_path)
        return run_command(
            [self._swanctl, *args, "--uri", self.uri],
            env=env,
            timeout=timeout,
            reactor=self._reactor,
        )

    def swanctl(self, *args: str, timeout: float = 10.0) -> Deferred[str]:
        """
        Run C{swanctl ARGS} against this charon and give its output.

        @raise CommandFailed: (as the Deferred's failure) on a non-zero exit
            or a timeout, with swanctl's output and the tail of charon's log.
        """

        async def go() -> str:
            try:
                result = await self._swanctl_raw(args, timeout)
            except CommandFailed as e:
                raise self._failure(str(e)) from None
            if result.code != 0:
                raise self._failure(
                    f"swanctl {' '.join(args)}: exit {result.code}\n{result.output}"
                )
            return result.output

        return Deferred.fromCoroutine(go())

    def load(self) -> Deferred[str]:
        """
        Write the configuration and C{swanctl --load-all} it: credentials,
        CAs and connections, replacing what was loaded before.
        """
        self.write_config()
        return self.swanctl("--load-all", "--file", self.swanctl_conf)

    def initiate(
        self,
        child: str | None = None,
        ike: str | None = None,
        timeout: float = 15.0,
    ) -> Deferred[str]:
        """
        Initiate a CHILD_SA (and its IKE_SA), or with C{ike} alone an IKE_SA
        with no child (RFC 6023; the connection needs C{childless = allow}
        or C{force}); fires when swanctl reports success.
        """
        args = ["--initiate", "--timeout", str(max(1, int(timeout)))]
        args += self._names(child, ike)
        return self.swanctl(*args, timeout=timeout + 5)

    def rekey(
        self,
        child: str | None = None,
        ike: str | None = None,
        reauth: bool = False,
        timeout: float = 10.0,
    ) -> Deferred[str]:
        """
        Ask charon to rekey; it only queues the exchange, so wait for the new
        SPIs with L{wait_for_sas}.
        """
        args = ["--rekey", *self._names(child, ike)]
        if reauth:
            args.append("--reauth")
        return self.swanctl(*args, timeout=timeout)

    def terminate(
        self,
        ike: str | None = None,
        child: str | None = None,
        timeout: float = 10.0,
        force: bool = False,
    ) -> Deferred[str]:
        """
        Delete the named IKE_SA or CHILD_SA and wait for the peer's answer
        (or, with C{force}, do not).
        """
        args = ["--terminate", "--timeout", str(max(1, int(timeout)))]
        args += self._names(child, ike)
        if force:
            args.append("--force")
        return self.swanctl(*args, timeout=timeout + 5)

    @staticmethod
    def _names(child: str | None, ike: str | None) -> list[str]:
        if child is None and ike is None:
            raise ValueError("name a child or an ike")
        args = []
        if child is not None:
            args += ["--child", child]
        if ike is not None:
            args += ["--ike", ike]
        return args

    def list_sas(
        self, ike: str | None = None, timeout: float = 10.0
    ) -> Deferred[list[dict[str, Any]]]:
        """
        The current IKE_SAs as dicts of swanctl's raw fields (C{state},
        C{spi-i}, C{child-sas}, ...), each with its connection's name added
        as C{name}.  CHILD_SAs are under C{child-sas}, keyed by
        C{<name>-<uniqueid>}; L{child_sas} lists them.
        """
        args = ["--list-sas", "--raw"]
        if ike is not None:
            args += ["--ike", ike]

        def parse(output: str) -> list[dict[str, Any]]:
            sas: list[dict[str, Any]] = []
            for message, body in parse_vici_raw(output):
                if message != "list-sa event":
                    continue
                for name, sa in body.items():
                    sa.setdefault("name", name)
                    sas.append(sa)
            return sas

        return self.swanctl(*args, timeout=timeout).addCallback(parse)

    def wait_for_sas(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        description: str,
        timeout: float = 10.0,
        interval: float = 0.1,
    ) -> Deferred[list[dict[str, Any]]]:
        """
        Poll L{list_sas} until C{predicate} holds, for the asynchronous
        operations (rekeying, a peer's delete); give the SAs that satisfied
        it.

        @raise CommandFailed: after C{timeout} seconds, naming
            C{description} and showing the last SAs seen and charon's log.
        """

        async def go() -> list[dict[str, Any]]:
            deadline = time.monotonic() + timeout
            while True:
                sas = await self.list_sas()
                if predicate(sas):
                    return sas
                if time.monotonic() > deadline:
                    raise self._failure(
                        f"timed out after {timeout}s waiting for {description};"
                        f" last SAs: {sas!r}"
                    )
                await deferLater(self._reactor, interval)

        return Deferred.fromCoroutine(go())


__all__ = [
    "CHARON",
    "CHARON_PLUGINS",
    "INNER_ADDRESSES",
    "Charon",
    "Child",
    "CommandFailed",
    "CommandResult",
    "Connection",
    "NetworkNamespace",
    "Psk",
    "RawFormatError",
    "TestPki",
    "ViciClient",
    "ViciError",
    "child_sas",
    "decode_vici",
    "encode_vici",
    "parse_vici_raw",
    "render_settings",
    "run_command",
    "strongswan_available",
    "swanctl_path",
]
