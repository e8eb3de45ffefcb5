"""
Two IKE engines wired back to back with no sockets: what travels between
them, a clock that only moves when a test says so, and credentials from a
throwaway PKI.  Signatures and verdicts are answered with the real local
credentials, at once or when the test releases them (to see what happens
while a signature is outstanding).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nsstwisted.ike import authexchange
from nsstwisted.ike.constants import (
    DhGroupId,
    EncrId,
    IdType,
    IntegId,
    PayloadType,
    PrfId,
    TsType,
)
from nsstwisted.ike.engine import EngineSettings, IkeEngine
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.events import (
    Action,
    PeerCheckNeeded,
    SendDatagram,
    SignatureNeeded,
)
from nsstwisted.ike.localauth import LocalCredentials, LocalTrust
from nsstwisted.ike.payloads import TrafficSelector, TsPayload
from nsstwisted.ike.policy import (
    AuthKind,
    ChildPolicy,
    EspProposal,
    IkeProposal,
    LocalIdentity,
    PeerEku,
    PeerPolicy,
    Selector,
)
from nsstwisted.ike.selection import selectors_for

Patcher = Callable[[Any, str, Any], object]
"""C{TestCase.patch}: an object, an attribute name, its value for one test."""

LEFT = ("127.0.0.1", 5500)
RIGHT = ("127.0.0.1", 4600)

CBC_X25519 = IkeProposal(
    EncrId.AES_CBC,
    128,
    IntegId.HMAC_SHA2_256_128,
    PrfId.HMAC_SHA2_256,
    DhGroupId.CURVE_25519,
)
GCM_ECP256 = IkeProposal(
    EncrId.AES_GCM_16, 256, IntegId.NONE, PrfId.HMAC_SHA2_256, DhGroupId.ECP_256
)
ESP_GCM = EspProposal(EncrId.AES_GCM_16, 128, IntegId.NONE)
ESP_CBC = EspProposal(EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128)


class Pki:
    """A CA and leaf certificates issued for IKE identities."""

    def __init__(self) -> None:
        self.caKey = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "nsstwisted test CA")]
        )
        now = datetime.datetime.now(datetime.UTC)
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.caKey.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=None), critical=True
            )
            .add_extension(
                x509.KeyUsage(
                    False, False, False, False, False, True, True, False, False
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.caKey.public_key()),
                critical=False,
            )
            .sign(self.caKey, hashes.SHA256())
        )

    def issue(
        self,
        fqdn: str,
        keyType: str = "rsa",
        digitalSignature: bool = True,
        days: int = 30,
    ) -> tuple[x509.Certificate, PrivateKeyTypes]:
        key: PrivateKeyTypes
        if keyType == "rsa":
            key = rsa.generate_private_key(65537, 2048)
        elif keyType == "p384":
            key = ec.generate_private_key(ec.SECP384R1())
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fqdn)]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(fqdn)]), critical=False
            )
            .add_extension(
                x509.KeyUsage(
                    digitalSignature,
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [
                        ExtendedKeyUsageOID.SERVER_AUTH,
                        x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17"),
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.caKey.public_key()
                ),
                critical=False,
            )
            .sign(self.caKey, hashes.SHA256())
        )
        return certificate, key

    def issue_profile(
        self, fqdn: str, profile: str
    ) -> tuple[x509.Certificate, PrivateKeyTypes]:
        """
        A P-256 certificate for C{fqdn} from this CA, valid and with the
        right subjectAltName, whose other extensions are L{PROFILES}'s
        C{profile}: what a hostile peer holding a certificate of the trusted
        CA that was not made for IKE would present.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fqdn)]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(fqdn)]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.caKey.public_key()
                ),
                critical=False,
            )
        )
        for extension, critical in PROFILES[profile]:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(self.caKey, hashes.SHA256()), key


def key_usage(
    digitalSignature: bool = False,
    nonRepudiation: bool = False,
    keyEncipherment: bool = False,
    certSign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digitalSignature,
        content_commitment=nonRepudiation,
        key_encipherment=keyEncipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certSign,
        crl_sign=certSign,
        encipher_only=False,
        decipher_only=False,
    )


IPSEC_IKE = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17")
_SIGNING = (key_usage(digitalSignature=True), True)


def _eku(*purposes: x509.ObjectIdentifier) -> tuple[x509.ExtensionType, bool]:
    return x509.ExtendedKeyUsage(list(purposes)), False


PROFILES: dict[str, tuple[tuple[x509.ExtensionType, bool], ...]] = {
    # refused: not an end entity, or a key usage that is not for signing
    "ca": (
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (key_usage(digitalSignature=True, certSign=True), True),
    ),
    "certSign": ((key_usage(digitalSignature=True, certSign=True), True),),
    "keyEncipherment": ((key_usage(keyEncipherment=True), True),),
    # refused: an extended key usage for something else than IKE
    "emailProtection": (_SIGNING, _eku(ExtendedKeyUsageOID.EMAIL_PROTECTION)),
    "codeSigning": (_SIGNING, _eku(ExtendedKeyUsageOID.CODE_SIGNING)),
    # refused unless the policy says IkeOrTls
    "serverAuth": (_SIGNING, _eku(ExtendedKeyUsageOID.SERVER_AUTH)),
    "clientAuth": (_SIGNING, _eku(ExtendedKeyUsageOID.CLIENT_AUTH)),
    # accepted
    "noKeyUsage": (),
    "nonRepudiation": ((key_usage(nonRepudiation=True), True),),
    "noEku": (_SIGNING,),
    "ipsecIKE": (_SIGNING, _eku(IPSEC_IKE)),
    "anyExtendedKeyUsage": (
        _SIGNING,
        _eku(ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE),
    ),
    "codeSigningAndIpsecIKE": (
        _SIGNING,
        _eku(ExtendedKeyUsageOID.CODE_SIGNING, IPSEC_IKE),
    ),
    "criticalIpsecIKE": (
        _SIGNING,
        (x509.ExtendedKeyUsage([IPSEC_IKE]), True),
    ),
    "endEntity": (
        (x509.BasicConstraints(ca=False, path_length=None), True),
        _SIGNING,
    ),
}
"""End-entity extensions, by case, for L{Pki.issue_profile}."""

REFUSED = {
    "ca": "is a CA certificate",
    "certSign": "keyCertSign",
    "keyEncipherment": "neither digitalSignature nor nonRepudiation",
    "emailProtection": "(emailProtection) names neither ipsecIKE",
    "codeSigning": "(codeSigning) names neither ipsecIKE",
}
"""The cases refused whatever the policy, and a part of the reason."""

TLS_ONLY = {
    "serverAuth": "(serverAuth) is for TLS",
    "clientAuth": "(clientAuth) is for TLS",
}
"""The cases refused unless the policy says IkeOrTls."""

ACCEPTED = (
    "noKeyUsage",
    "nonRepudiation",
    "noEku",
    "ipsecIKE",
    "anyExtendedKeyUsage",
    "codeSigningAndIpsecIKE",
    "criticalIpsecIKE",
    "endEntity",
)


_PKI: Pki | None = None
_LEAVES: dict[tuple[str, str], tuple[x509.Certificate, PrivateKeyTypes]] = {}


def pki() -> Pki:
    """One PKI for the whole run: RSA key generation is slow."""
    global _PKI
    if _PKI is None:
        _PKI = Pki()
    return _PKI


def leaf(fqdn: str, keyType: str = "rsa") -> tuple[x509.Certificate, PrivateKeyTypes]:
    if (fqdn, keyType) not in _LEAVES:
        _LEAVES[(fqdn, keyType)] = pki().issue(fqdn, keyType)
    return _LEAVES[(fqdn, keyType)]


def profile_leaf(fqdn: str, profile: str) -> tuple[x509.Certificate, PrivateKeyTypes]:
    """L{Pki.issue_profile}, once per run for each name and case."""
    if (fqdn, profile) not in _LEAVES:
        _LEAVES[(fqdn, profile)] = pki().issue_profile(fqdn, profile)
    return _LEAVES[(fqdn, profile)]


def child_policy(
    name: str = "host-host",
    local: str = "10.2.0.0/24",
    remote: str = "10.1.0.0/24",
    proposals: tuple[EspProposal, ...] = (ESP_GCM, ESP_CBC),
    lifetime: int = 3600,
) -> ChildPolicy:
    return ChildPolicy(
        name=name,
        action="esp-" + name,
        localSelectors=(Selector(ipaddress.ip_network(local)),),
        remoteSelectors=(Selector(ipaddress.ip_network(remote)),),
        proposals=proposals,
        lifetime=lifetime,
    )


def peer_policy(
    name: str,
    local: tuple[str, int],
    remote: tuple[str, int],
    localId: str,
    remoteId: str | None,
    children: tuple[ChildPolicy, ...] = (),
    proposals: tuple[IkeProposal, ...] = (CBC_X25519, GCM_ECP256),
    auth: AuthKind = AuthKind.SIGNATURE,
    sharedKey: bytes | None = None,
    lifetime: int = 14400,
    peerEku: PeerEku = PeerEku.IKE,
) -> PeerPolicy:
    return PeerPolicy(
        name=name,
        action="ike-" + name,
        localAddress=ipaddress.ip_address(local[0]),
        remoteAddress=ipaddress.ip_address(remote[0]),
        localIdentity=LocalIdentity(IdType.FQDN, localId),
        remoteIdentity=None
        if remoteId is None
        else LocalIdentity(IdType.FQDN, remoteId),
        proposals=proposals,
        auth=auth,
        sharedKey=sharedKey,
        localPort=local[1],
        remotePort=remote[1],
        lifetime=lifetime,
        children=children,
        peerEku=peerEku,
    )


@dataclass
class Side:
    """One engine and the credentials that answer its requests."""

    name: str
    engine: IkeEngine
    endpoint: tuple[str, int]
    credentials: LocalCredentials | None
    trust: LocalTrust
    hold: bool = False
    held: list[Action] = field(default_factory=list)
    events: list[Action] = field(default_factory=list)
    signatures: int = 0
    sent: list[SendDatagram] = field(default_factory=list)
    breakSigner: Exception | None = None
    rejectPeer: Exception | None = None


class Wire:
    """
    Carries datagrams between two L{Side}s and answers their signature and
    peer-check requests.  C{tamper} may rewrite (or drop, by returning None)
    any message in flight.
    """

    def __init__(self, left: Side, right: Side) -> None:
        self.left, self.right = left, right
        self.now = 1000.0
        self.queue: list[tuple[Side, SendDatagram]] = []
        self.tamper: Callable[[Side, bytes], bytes | None] | None = None
        self.delivered = 0

    def other(self, side: Side) -> Side:
        return self.right if side is self.left else self.left

    def handle(self, side: Side, actions: list[Action]) -> None:
        for action in actions:
            side.events.append(action)
            if isinstance(action, SendDatagram):
                side.sent.append(action)
                if not action.raw:
                    self.queue.append((side, action))
            elif isinstance(action, (SignatureNeeded, PeerCheckNeeded)):
                if side.hold:
                    side.held.append(action)
                else:
                    self.answer(side, action)

    def answer(self, side: Side, action: Any) -> None:
        engine = side.engine
        if isinstance(action, SignatureNeeded):
            side.signatures += 1
            result: Any
            if side.breakSigner is not None:
                result = side.breakSigner
            else:
                assert side.credentials is not None
                result = side.credentials.sign(action.octets, action.peerHashes)
            self.handle(side, engine.signature_made(action.requestId, result, self.now))
        else:
            error: BaseException | None = side.rejectPeer
            if error is None:
                try:
                    side.trust.verify(
                        action.certificates,
                        action.scheme,
                        action.octets,
                        action.signature,
                        eku=action.sa.policy.peerEku,
                    )
                except IkeError as failure:
                    error = failure
            self.handle(side, engine.peer_checked(action.requestId, error, self.now))

    def release(self, side: Side) -> None:
        held, side.held = side.held, []
        side.hold = False
        for action in held:
            self.answer(side, action)

    def run(self, limit: int = 100) -> None:
        """Deliver until nothing is in flight."""
        for _ in range(limit):
            if not self.queue:
                return
            sender, datagram = self.queue.pop(0)
            receiver = self.other(sender)
            data: bytes | None = datagram.message
            if self.tamper is not None:
                data = self.tamper(sender, datagram.message)
            if data is None:
                continue
            self.delivered += 1
            self.handle(
                receiver,
                receiver.engine.receive(
                    data, datagram.remote, datagram.local, self.now
                ),
            )
        raise AssertionError("the engines never went quiet")

    def advance(self, seconds: float) -> None:
        """Move the clock, firing each engine's deadlines on the way."""
        end = self.now + seconds
        while True:
            deadlines = [
                (d, s)
                for s in (self.left, self.right)
                if (d := s.engine.next_deadline()) is not None and d <= end
            ]
            if not deadlines:
                break
            when, side = min(deadlines, key=lambda pair: pair[0])
            self.now = max(self.now, when)
            self.handle(side, side.engine.expire(self.now))
            self.run()
        self.now = end


def pair(
    leftChildren: tuple[ChildPolicy, ...] = (),
    rightChildren: tuple[ChildPolicy, ...] = (),
    leftProposals: tuple[IkeProposal, ...] = (CBC_X25519, GCM_ECP256),
    rightProposals: tuple[IkeProposal, ...] = (CBC_X25519, GCM_ECP256),
    leftKey: str = "rsa",
    rightKey: str = "rsa",
    settings: EngineSettings | None = None,
    auth: AuthKind = AuthKind.SIGNATURE,
    sharedKeys: tuple[bytes, bytes] = (b"", b""),
    rightRemoteId: str | None = "left.iked.test",
    leftLifetime: int = 14400,
    rightLifetime: int = 14400,
    peerEku: PeerEku = PeerEku.IKE,
) -> Wire:
    """
    The usual test topology: "left" (iked-like, 127.0.0.1:5500) and
    "right" (strongSwan-like, 127.0.0.1:4600).

    @param peerEku: what both sides' policies accept of the other's
        certificate.
    """
    trust = LocalTrust((pki().ca,))
    sides = []
    for (
        name,
        endpoint,
        remote,
        children,
        proposals,
        keyType,
        remoteId,
        psk,
        lifetime,
    ) in (
        (
            "left",
            LEFT,
            RIGHT,
            leftChildren,
            leftProposals,
            leftKey,
            "right.iked.test",
            sharedKeys[0],
            leftLifetime,
        ),
        (
            "right",
            RIGHT,
            LEFT,
            rightChildren,
            rightProposals,
            rightKey,
            rightRemoteId,
            sharedKeys[1],
            rightLifetime,
        ),
    ):
        certificate, key = leaf(f"{name}.iked.test", keyType)
        policy = peer_policy(
            f"to-{'right' if name == 'left' else 'left'}",
            endpoint,
            remote,
            f"{name}.iked.test",
            remoteId,
            children=children,
            proposals=proposals,
            auth=auth,
            sharedKey=psk or None,
            lifetime=lifetime,
            peerEku=peerEku,
        )
        engine = IkeEngine([policy], settings, authorities=trust.hashes())
        credentials = (
            None
            if auth == AuthKind.PRESHARED_KEY
            else LocalCredentials(certificate, key)
        )
        sides.append(Side(name, engine, endpoint, credentials, trust))
    return Wire(sides[0], sides[1])


def address_range(first: str, last: str, protocol: int = 0) -> TrafficSelector:
    """A traffic selector for C{first} to C{last}, which no prefix need be."""
    start, end = ipaddress.ip_address(first), ipaddress.ip_address(last)
    return TrafficSelector(
        TsType.IPV4_ADDR_RANGE if start.version == 4 else TsType.IPV6_ADDR_RANGE,
        protocol,
        0,
        65535,
        start.packed,
        end.packed,
    )


def offer_ranges(
    patch: Patcher, ranges: dict[str, tuple[TrafficSelector, ...]]
) -> None:
    """
    Make whichever engine initiates a CHILD_SA in IKE_AUTH offer, for
    each configured network named in C{ranges}, those selectors instead:
    a hostile initiator built like ours, whose offer no configuration
    could produce (a configuration states networks, a peer may send any
    ranges).  The responder never offers, so it is unaffected; the
    initiator's later checks use its configuration as usual.
    """

    def hostile(selectors: Sequence[Selector]) -> tuple[TrafficSelector, ...]:
        offered: list[TrafficSelector] = []
        for selector in selectors:
            offered += ranges.get(str(selector.network), selectors_for([selector]))
        return tuple(offered)

    patch(authexchange, "selectors_for", hostile)


def answer_ranges(
    patch: Patcher, engine: IkeEngine, answers: dict[str, tuple[TrafficSelector, ...]]
) -> None:
    """
    Make C{engine}, when it responds to a CHILD_SA of the LocalDynVpnRule
    named in C{answers}, answer with those selectors as TSi (the
    initiator's side) instead of its narrowing: a hostile responder built
    like ours, except that it does not check what it answers.  Only this
    engine is changed, so the initiator's checks are the real ones.
    """
    honest = engine._child_response

    def hostile(*args: Any, **kwargs: Any) -> tuple[list[Any], Any]:
        answer, child = honest(*args, **kwargs)
        selectors = answers.get(child.name)
        if selectors is None:
            return answer, child
        child.remoteSelectors = selectors
        rewritten = [
            TsPayload(PayloadType.TSi, selectors)
            if isinstance(p, TsPayload) and p.payloadType == PayloadType.TSi
            else p
            for p in answer
        ]
        return rewritten, child

    patch(engine, "_child_response", hostile)
