"""
The IKE statements of a stack's policy file: the subset of the z/OS Policy
Agent's key exchange and dynamic VPN policy that nsstwisted reads, and the
engine's policy values it gives (L{PeerPolicy}, one per KeyExchangeRule,
holding a L{ChildPolicy} per LocalDynVpnRule that it negotiates).

The statements, with IBM's spellings: a peer, its far end (which proves
whatever identity its certificate proves), how its IKE SA is negotiated,
one CHILD_SA written from our side, and how that is protected::

    KeyExchangeRule peer
    {
      LocalSecurityEndpoint
      {
        Identity  Fqdn me.example
        Location  192.0.2.1
      }
      RemoteSecurityEndpointRef far
      KeyExchangeActionRef ike
    }
    RemoteSecurityEndpoint far
    {
      Location  198.51.100.7
    }
    KeyExchangeAction ike
    {
      HowToAuthPeers DsSignature
      KeyExchangeOffer
      {
        HowToEncrypt AES_GCM_16
        DHGroup      Group19
      }
    }
    LocalDynVpnRule vpn
    {
      IpSourceAddr       10.2.0.0/24
      IpDestAddr         10.1.0.0/24
      KeyExchangeRuleRef peer
      IpDynVpnActionRef  esp
    }
    IpDynVpnAction esp
    {
      IpDataOffer
      {
        HowToEncrypt AES_GCM_16 KeyLength 128
      }
    }

Endpoints and offers may be coded inline or as named statements of their
own, referred to with C{LocalSecurityEndpointRef},
C{RemoteSecurityEndpointRef}, C{KeyExchangeOfferRef} and
C{IpDataOfferRef}.  docs/policy.md lists every keyword, value and default.

The subset is IKEv2 with one address per peer and one selector per side:
IKEv1 (C{Main}, C{Aggressive}), AH, address ranges and IBM's other
keywords are errors rather than ignored, for the reason the filter
statements give: a policy that means less than it says is worse than none.
Where the engine keeps one value (a peer's lifetime, a VPN's mode) and the
file may say several, the file must say one.

L{nsstwisted.iked.configuration.policyfile} reads the file, checks every
statement's name and uniqueness, and hands the IKE statements to
L{peer_policies}.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn, Protocol, TypeVar

from cryptography import x509

from nsstwisted.config import ConfigurationError, Setting, Statement
from nsstwisted.ike.constants import DhGroupId, EncrId, IdType, IntegId, PrfId
from nsstwisted.ike.policy import (
    AuthKind,
    ChildPolicy,
    EspProposal,
    IkeProposal,
    Initiation,
    LocalIdentity,
    PeerEku,
    PeerPolicy,
    Selector,
    TunnelMode,
)
from nsstwisted.iked.stackmodel.filters import Address, PortRange

__all__ = [
    "DEFAULT_CHILD_LIFETIME",
    "DEFAULT_DPD_INTERVAL",
    "DEFAULT_IKE_LIFETIME",
    "IKE_STATEMENTS",
    "PolicyFileReader",
    "peer_policies",
]

IKE_STATEMENTS = frozenset(
    {
        "keyexchangerule",
        "keyexchangeaction",
        "keyexchangeoffer",
        "localsecurityendpoint",
        "remotesecurityendpoint",
        "localdynvpnrule",
        "ipdynvpnaction",
        "ipdataoffer",
    }
)
"""The statements L{peer_policies} reads, in lower case."""

DEFAULT_IKE_LIFETIME = 240
"""
Minutes: an IKE SA's lifetime when its first KeyExchangeOffer codes no
C{RefreshLifetimeProposed}.  nsstwisted's choice (the engine's default), as
the reference material the project keeps records no IBM default.
"""

DEFAULT_CHILD_LIFETIME = 60
"""Minutes: as L{DEFAULT_IKE_LIFETIME}, for an IpDynVpnAction's first offer."""

DEFAULT_DPD_INTERVAL = 0
"""
Seconds of silence from a peer before iked checks that it is alive: off
unless coded, as strongSwan's C{dpd_delay} is, so that a quiet peer is not
woken for nothing.
"""

_T = TypeVar("_T")
_TCP, _UDP = 6, 17
_MAX_MINUTES = 65535
_MAX_DPD_INTERVAL = 86400


class PolicyFileReader(Protocol):
    """
    What the IKE statements borrow from the reader of the filter
    statements, so that one file has one set of rules for names, errors,
    protocols, ports and addresses.
    """

    def error(self, setting: Setting, message: str) -> ConfigurationError:
        """An error of C{setting}, naming the file, its line and keyword."""

    def statement_error(self, statement: Statement, message: str) -> ConfigurationError:
        """An error of C{statement} as a whole, naming its line and kind."""

    def name(self, statement: Statement, required: bool = True) -> str:
        """C{statement}'s checked name; C{""} for none when not required."""

    def no_nested(self, statement: Statement) -> None:
        """Refuse a statement nested in C{statement}."""

    def single(self, setting: Setting) -> str:
        """The one value of C{setting}."""

    def protocol(self, setting: Setting) -> int | None:
        """An IP protocol number, L{None} for C{All}."""

    def ports(self, setting: Setting) -> PortRange | None:
        """A port range, L{None} for every port."""

    def addresses(self, setting: Setting) -> tuple[Address, ...]:
        """One network per address family that the value covers."""


def peer_policies(
    statements: Sequence[Statement], reader: PolicyFileReader
) -> tuple[PeerPolicy, ...]:
    """
    The peers that a policy file's IKE statements define, in the order of
    their KeyExchangeRules, each with the CHILD_SAs of the LocalDynVpnRules
    that refer to it, in file order.

    @param statements: the file's statements whose kinds are in
        L{IKE_STATEMENTS}, in file order; their names already checked and
        unique per kind.
    @param reader: gives the errors (naming the file) and the checks that
        the filter statements share.
    @raise ConfigurationError: a statement says something outside the
        subset, or refers to a statement that does not exist.
    """
    return _IkeBuilder(reader).build(statements)


# --- what statements check into, before references are resolved ---------------


@dataclass(frozen=True)
class _Endpoint:
    identity: LocalIdentity | None
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int


@dataclass(frozen=True)
class _IkeOffer:
    proposal: IkeProposal
    lifetime: int | None  # minutes, if coded


@dataclass(frozen=True)
class _DataOffer:
    encr: EncrId
    keyBits: int
    integ: IntegId
    mode: TunnelMode | None  # if coded: otherwise the action's
    lifetime: int | None  # minutes, if coded


@dataclass(frozen=True)
class _KeyExchangeAction:
    name: str
    auth: AuthKind
    authName: str
    initiation: Initiation
    proposals: tuple[IkeProposal, ...]
    lifetime: int  # seconds
    peerEku: PeerEku = PeerEku.IKE
    dpdInterval: int = 0  # seconds; 0 = off


@dataclass(frozen=True)
class _DynVpnAction:
    name: str
    initiation: Initiation
    mode: TunnelMode
    proposals: tuple[EspProposal, ...]
    lifetime: int  # seconds


@dataclass(frozen=True)
class _Peer:
    # A KeyExchangeRule before its children are known.
    line: int
    policy: PeerPolicy


# --- checking ----------------------------------------------------------------


class _IkeBuilder:
    def __init__(self, reader: PolicyFileReader) -> None:
        self.reader = reader

    def build(self, statements: Sequence[Statement]) -> tuple[PeerPolicy, ...]:
        byKind: dict[str, list[Statement]] = {kind: [] for kind in IKE_STATEMENTS}
        for statement in statements:
            byKind[statement.kind.lower()].append(statement)
        localEnds = {
            s.name or "": self.endpoint(s, local=True)
            for s in self.named(byKind["localsecurityendpoint"])
        }
        remoteEnds = {
            s.name or "": self.endpoint(s, local=False)
            for s in self.named(byKind["remotesecurityendpoint"])
        }
        ikeOffers = {
            s.name or "": self.ike_offer(s)
            for s in self.named(byKind["keyexchangeoffer"])
        }
        dataOffers = {
            s.name or "": self.data_offer(s) for s in self.named(byKind["ipdataoffer"])
        }
        kxActions = {
            s.name or "": self.kx_action(s, ikeOffers)
            for s in byKind["keyexchangeaction"]
        }
        vpnActions = {
            s.name or "": self.vpn_action(s, dataOffers)
            for s in byKind["ipdynvpnaction"]
        }
        peers = {
            s.name or "": self.kx_rule(s, localEnds, remoteEnds, kxActions)
            for s in byKind["keyexchangerule"]
        }
        children: dict[str, list[ChildPolicy]] = {name: [] for name in peers}
        for statement in byKind["localdynvpnrule"]:
            peer, child = self.vpn_rule(statement, peers, vpnActions)
            children[peer].append(child)
        ordered = sorted(peers.values(), key=lambda peer: peer.line)
        return tuple(
            _replace_children(peer.policy, children[peer.policy.name])
            for peer in ordered
        )

    def named(self, statements: Iterable[Statement]) -> Iterable[Statement]:
        # A statement that may also be coded inline holds nothing nested
        # when it stands alone.
        for statement in statements:
            self.reader.no_nested(statement)
            yield statement

    # helpers ---------------------------------------------------------------

    def error(self, setting: Setting, message: str) -> ConfigurationError:
        return self.reader.error(setting, message)

    def choice(self, setting: Setting, choices: Mapping[str, _T]) -> _T:
        """One of C{choices}, whose keys are IBM's spellings."""
        value = self.reader.single(setting).lower()
        for spelled, result in choices.items():
            if spelled.lower() == value:
                return result
        raise self.error(setting, f"must be {_or(choices)}")

    def minutes(self, setting: Setting) -> int:
        value = self.reader.single(setting)
        if not (value.isascii() and value.isdigit() and len(value) <= 5) or not (
            1 <= int(value) <= _MAX_MINUTES
        ):
            raise self.error(setting, f"must be 1 to {_MAX_MINUTES} minutes")
        return int(value)

    def dpd_interval(self, setting: Setting) -> int:
        value = self.reader.single(setting)
        if not (value.isascii() and value.isdigit() and len(value) <= 5) or not (
            int(value) <= _MAX_DPD_INTERVAL
        ):
            raise self.error(setting, f"must be 0 (off) to {_MAX_DPD_INTERVAL} seconds")
        return int(value)

    def unknown(self, setting: Setting, kind: str, keywords: Sequence[str]) -> NoReturn:
        keyword = setting.keyword.lower()
        for inline in _INLINE:
            if keyword == inline.lower() and inline in keywords:
                raise self.error(
                    setting,
                    f"{inline} is coded with braces, {inline} {{ ... }}, here;"
                    f" {inline}Ref names one coded on its own",
                )
        raise self.error(
            setting, f"unknown keyword of {kind}, which takes {_and(keywords)}"
        )

    def nested(
        self, statement: Statement, allowed: Sequence[str]
    ) -> Iterable[tuple[str, Statement]]:
        """
        The statements nested in C{statement}, each with its kind in lower
        case, after checking that the kind is one of C{allowed} and that an
        inline statement's optional name is a valid one.
        """
        for inner in statement.statements:
            kind = inner.kind.lower()
            if kind not in (a.lower() for a in allowed):
                may = (
                    f"only {_or(allowed)} may be coded inline"
                    if allowed
                    else "nothing may be coded inline"
                )
                raise self.reader.statement_error(
                    inner, f"is not a statement that {statement.kind} may hold: {may}"
                )
            self.reader.name(inner, required=False)
            yield kind, inner

    def missing(
        self, statement: Statement, name: str, found: Mapping[str, object]
    ) -> None:
        absent = [keyword for keyword, value in found.items() if value is None]
        if absent:
            raise self.reader.statement_error(
                statement, f"{name}: {' and '.join(absent)} missing"
            )

    # LocalSecurityEndpoint, RemoteSecurityEndpoint ------------------------

    def endpoint(self, statement: Statement, local: bool) -> _Endpoint:
        identity: LocalIdentity | None = None
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
        port = 500
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "identity":
                identity = self.identity(setting)
            elif keyword == "location":
                address = self.location(setting)
            elif keyword == "ikeport":
                port = self.port(setting)
            else:
                self.unknown(
                    setting, statement.kind, ("Identity", "Location", "IkePort")
                )
        label = statement.name or statement.kind
        required: dict[str, object] = {"Location": address}
        if local:
            # Our ID payload must say something; the peer's may be anything
            # its certificate proves.
            required = {"Identity": identity, **required}
        self.missing(statement, label, required)
        assert address is not None
        return _Endpoint(identity, address, port)

    def identity(self, setting: Setting) -> LocalIdentity:
        values = setting.values
        if len(values) != 2:
            raise self.error(
                setting,
                "takes a kind and a value: IpAddr, Fqdn, UserAtFqdn or X500dn"
                " (quote a distinguished name that has blanks)",
            )
        kind, value = values[0].lower(), values[1]
        if kind == "ipaddr":
            address = self.address(setting, value)
            idType = IdType.IPV4_ADDR if address.version == 4 else IdType.IPV6_ADDR
            return LocalIdentity(idType, str(address))
        if kind == "fqdn":
            if not _is_fqdn(value):
                raise self.error(
                    setting, f"{value!r} is not a host name (ASCII, dot-separated)"
                )
            return LocalIdentity(IdType.FQDN, value)
        if kind == "useratfqdn":
            user, at, domain = value.rpartition("@")
            if not (at and _is_user(user) and _is_fqdn(domain)):
                raise self.error(
                    setting, f"{value!r} is not an e-mail address (user@host, ASCII)"
                )
            return LocalIdentity(IdType.RFC822_ADDR, value)
        if kind == "x500dn":
            if not _is_dn(value):
                raise self.error(
                    setting,
                    f"{value!r} is not a distinguished name in RFC 4514 text,"
                    " such as CN=host,O=Example,C=US (no blank after a comma)",
                )
            return LocalIdentity(IdType.DER_ASN1_DN, value)
        raise self.error(setting, "must be IpAddr, Fqdn, UserAtFqdn or X500dn")

    def address(
        self, setting: Setting, value: str
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        try:
            if "%" in value:  # a scoped IPv6 address names a link, not a peer
                raise ValueError(value)
            return ipaddress.ip_address(value)
        except ValueError:
            raise self.error(
                setting, f"{value!r} must be one IPv4 or IPv6 address"
            ) from None

    def location(
        self, setting: Setting
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if len(setting.values) != 1:
            raise self.error(setting, "takes one IPv4 or IPv6 address")
        return self.address(setting, setting.values[0])

    def port(self, setting: Setting) -> int:
        value = self.reader.single(setting)
        if not (value.isascii() and value.isdigit() and len(value) <= 5) or not (
            1 <= int(value) <= 65535
        ):
            raise self.error(setting, "must be a port from 1 to 65535")
        return int(value)

    # KeyExchangeOffer, KeyExchangeAction ----------------------------------

    def cipher(self, setting: Setting) -> tuple[EncrId, int]:
        values = setting.values
        encr = _CIPHERS.get(values[0].lower()) if values else None
        keyBits = 128
        if len(values) == 3 and values[1].lower() == "keylength":
            keyBits = _KEY_LENGTHS.get(values[2], 0)
        elif len(values) != 1:
            encr = None
        if encr is None or not keyBits:
            raise self.error(
                setting,
                "must be AES_CBC or AES_GCM_16, which may be followed by"
                " KeyLength 128, 192 or 256",
            )
        return encr, keyBits

    def group(self, setting: Setting, none: bool) -> DhGroupId:
        value = self.reader.single(setting).lower()
        if none and value == "none":
            return DhGroupId.NONE
        group = _GROUPS.get(value.removeprefix("group"))
        if group is None:
            spelled = [f"Group{n}" for n in _GROUPS] + (["None"] if none else [])
            raise self.error(setting, f"must be {_or(spelled)}")
        return group

    def ike_offer(self, statement: Statement) -> _IkeOffer:
        encr, keyBits = EncrId.AES_CBC, 128
        integ: Setting | None = None
        integId = IntegId.NONE
        prf = PrfId.HMAC_SHA2_256
        dh: DhGroupId | None = None
        lifetime: int | None = None
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "howtoencrypt":
                encr, keyBits = self.cipher(setting)
            elif keyword == "howtoauthmsgs":
                integ, integId = setting, self.choice(setting, _INTEGRITY)
            elif keyword == "pseudorandomfunction":
                prf = self.choice(setting, _PRFS)
            elif keyword == "dhgroup":
                dh = self.group(setting, none=False)
            elif keyword == "refreshlifetimeproposed":
                lifetime = self.minutes(setting)
            else:
                self.unknown(
                    setting,
                    "KeyExchangeOffer",
                    (
                        "HowToEncrypt",
                        "HowToAuthMsgs",
                        "PseudoRandomFunction",
                        "DHGroup",
                        "RefreshLifetimeProposed",
                    ),
                )
        label = statement.name or statement.kind
        if encr is EncrId.AES_GCM_16 and integ is not None:
            raise self.error(
                integ,
                "must not be coded with AES_GCM_16, which protects the messages itself",
            )
        if encr is EncrId.AES_CBC and integ is None:
            raise self.reader.statement_error(
                statement, f"{label}: HowToAuthMsgs missing: AES_CBC needs one"
            )
        self.missing(statement, label, {"DHGroup": dh})
        assert dh is not None
        return _IkeOffer(IkeProposal(encr, keyBits, integId, prf, dh), lifetime)

    def kx_action(
        self, statement: Statement, named: Mapping[str, _IkeOffer]
    ) -> _KeyExchangeAction:
        name = self.reader.name(statement)
        auth, authName = AuthKind.SIGNATURE, "DsSignature"
        initiation = Initiation.EITHER
        peerEku, ekuSetting = PeerEku.IKE, None
        dpdInterval = DEFAULT_DPD_INTERVAL
        # Each offer with the line that gives it, inline or by reference:
        # the offers are proposed in that order.
        given: list[tuple[int, _IkeOffer]] = [
            (inner.line, self.ike_offer(inner))
            for _, inner in self.nested(statement, _KX_INLINE)
        ]
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword in ("howtoinitiate", "howtorespond"):
                self.ike_version(setting)
            elif keyword == "initiation":
                initiation = self.choice(setting, _INITIATION)
            elif keyword == "howtoauthpeers":
                authName, auth = self.choice(
                    setting, {k: (k, v) for k, v in _AUTH.items()}
                )
            elif keyword == "keyexchangeofferref":
                offer = self.reference(setting, named, "KeyExchangeOffer")
                given.append((setting.line, offer))
            elif keyword == "peereku":
                peerEku, ekuSetting = self.choice(setting, _PEER_EKU), setting
            elif keyword == "dpdinterval":
                dpdInterval = self.dpd_interval(setting)
            else:
                self.unknown(
                    setting,
                    "KeyExchangeAction",
                    (
                        "HowToInitiate",
                        "HowToRespond",
                        "Initiation",
                        "HowToAuthPeers",
                        "PeerEku",
                        "DpdInterval",
                        "KeyExchangeOffer",
                        "KeyExchangeOfferRef",
                    ),
                )
        if ekuSetting is not None and auth is AuthKind.PRESHARED_KEY:
            raise self.error(
                ekuSetting,
                "is about the peer's certificate; HowToAuthPeers PresharedKey"
                " uses none",
            )
        self.missing(
            statement, name, {"KeyExchangeOffer or KeyExchangeOfferRef": given or None}
        )
        given.sort(key=lambda item: item[0])
        lifetime = self.one_lifetime(
            statement,
            name,
            [(line, offer.lifetime) for line, offer in given],
            DEFAULT_IKE_LIFETIME,
            "KeyExchangeOffer",
        )
        return _KeyExchangeAction(
            name=name,
            auth=auth,
            authName=authName,
            initiation=initiation,
            proposals=tuple(offer.proposal for _, offer in given),
            lifetime=lifetime * 60,
            peerEku=peerEku,
            dpdInterval=dpdInterval,
        )

    def ike_version(self, setting: Setting) -> None:
        value = self.reader.single(setting).lower()
        if value == "ikev2":
            return
        if value in ("main", "aggressive", "either"):
            raise self.error(
                setting, "IKEv1 is not supported: nsstwisted speaks IKEv2; code IKEv2"
            )
        if value == "donot":
            raise self.error(
                setting, "DoNot is not supported: code Initiation RemoteOnly instead"
            )
        raise self.error(setting, "must be IKEv2")

    def one_lifetime(
        self,
        statement: Statement,
        name: str,
        lifetimes: Sequence[tuple[int, int | None]],
        default: int,
        kind: str,
    ) -> int:
        """
        The minutes of the first offer of C{lifetimes} (the line giving
        each offer, and what it proposes): the engine keeps one lifetime
        per SA, so later offers may only repeat it.
        """
        firstLine, first = lifetimes[0][0], lifetimes[0][1] or default
        for line, lifetime in lifetimes[1:]:
            if lifetime is not None and lifetime != first:
                raise self.reader.statement_error(
                    statement,
                    f"{name}: the {kind}s of lines {firstLine} and {line} propose"
                    " different RefreshLifetimeProposed: nsstwisted keeps one"
                    " lifetime, the first offer's",
                )
        return first

    def reference(self, setting: Setting, named: Mapping[str, _T], kind: str) -> _T:
        reference = self.reader.single(setting)
        found = named.get(reference)
        if found is None:
            raise self.error(setting, f"no {kind} is named {reference!r}")
        return found

    # KeyExchangeRule ------------------------------------------------------

    def kx_rule(
        self,
        statement: Statement,
        localEnds: Mapping[str, _Endpoint],
        remoteEnds: Mapping[str, _Endpoint],
        actions: Mapping[str, _KeyExchangeAction],
    ) -> _Peer:
        name = self.reader.name(statement)
        # Each end is coded once, inline or by reference: the line that gave it.
        ends: dict[str, tuple[int, _Endpoint]] = {}
        action: _KeyExchangeAction | None = None
        sharedKey: bytes | None = None
        keySetting: Setting | None = None

        def found(kind: str, where: Setting, end: _Endpoint) -> None:
            earlier = ends.get(kind)
            if earlier is not None:
                raise self.error(
                    where,
                    f"a KeyExchangeRule has one {kind}, and line {earlier[0]}"
                    " already gives it",
                )
            ends[kind] = (where.line, end)

        for kind, inner in self.nested(statement, _RULE_INLINE):
            local = kind == "localsecurityendpoint"
            found(
                _RULE_INLINE[0] if local else _RULE_INLINE[1],
                Setting(inner.kind, (), inner.line),
                self.endpoint(inner, local),
            )
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "localsecurityendpointref":
                end = self.reference(setting, localEnds, _RULE_INLINE[0])
                found(_RULE_INLINE[0], setting, end)
            elif keyword == "remotesecurityendpointref":
                end = self.reference(setting, remoteEnds, _RULE_INLINE[1])
                found(_RULE_INLINE[1], setting, end)
            elif keyword == "keyexchangeactionref":
                action = self.reference(setting, actions, "KeyExchangeAction")
            elif keyword == "sharedkey":
                keySetting, sharedKey = setting, self.shared_key(setting)
            else:
                self.unknown(
                    setting,
                    "KeyExchangeRule",
                    (
                        "LocalSecurityEndpoint",
                        "LocalSecurityEndpointRef",
                        "RemoteSecurityEndpoint",
                        "RemoteSecurityEndpointRef",
                        "KeyExchangeActionRef",
                        "SharedKey",
                    ),
                )
        localEntry = ends.get(_RULE_INLINE[0])
        remoteEntry = ends.get(_RULE_INLINE[1])
        self.missing(
            statement,
            name,
            {
                "LocalSecurityEndpoint": localEntry,
                "RemoteSecurityEndpoint": remoteEntry,
                "KeyExchangeActionRef": action,
            },
        )
        assert localEntry is not None and remoteEntry is not None
        assert action is not None
        localEnd, remoteEnd = localEntry[1], remoteEntry[1]
        if localEnd.address.version != remoteEnd.address.version:
            raise self.reader.statement_error(
                statement,
                f"{name}: the Locations of its LocalSecurityEndpoint and"
                " RemoteSecurityEndpoint are of different address families",
            )
        presharedKey = action.auth is AuthKind.PRESHARED_KEY
        if presharedKey and sharedKey is None:
            raise self.reader.statement_error(
                statement,
                f"{name}: SharedKey missing: its KeyExchangeAction {action.name}"
                " authenticates with PresharedKey",
            )
        if keySetting is not None and not presharedKey:
            raise self.error(
                keySetting,
                "is only for HowToAuthPeers PresharedKey; KeyExchangeAction"
                f" {action.name} authenticates with {action.authName}",
            )
        assert localEnd.identity is not None
        return _Peer(
            statement.line,
            PeerPolicy(
                name=name,
                action=action.name,
                localAddress=localEnd.address,
                remoteAddress=remoteEnd.address,
                localIdentity=localEnd.identity,
                remoteIdentity=remoteEnd.identity,
                proposals=action.proposals,
                auth=action.auth,
                sharedKey=sharedKey,
                localPort=localEnd.port,
                remotePort=remoteEnd.port,
                lifetime=action.lifetime,
                initiation=action.initiation,
                # A CERTREQ asks for certificates, which a PSK peer has no
                # use for.
                sendCertRequest=not presharedKey,
                peerEku=action.peerEku,
                dpdInterval=action.dpdInterval,
            ),
        )

    def shared_key(self, setting: Setting) -> bytes:
        # Never put the key, or any part of it, in an error: errors are
        # logged and shown to operators.
        values = setting.values
        if len(values) != 2:
            raise self.error(
                setting,
                "takes Ascii or Hex and the key (quote an Ascii key that has blanks)",
            )
        kind, key = values[0].lower(), values[1]
        if kind == "ascii":
            if not key or not key.isascii() or not key.isprintable():
                raise self.error(
                    setting, "an Ascii key is one or more printable ASCII characters"
                )
            return key.encode("ascii")
        if kind == "hex":
            digits = key[2:] if key[:2].lower() == "0x" else key
            if (
                not digits
                or len(digits) % 2
                or not all(c in string.hexdigits for c in digits)
            ):
                raise self.error(
                    setting,
                    "a Hex key is an even number of hexadecimal digits,"
                    " optionally after 0x",
                )
            return bytes.fromhex(digits)
        raise self.error(setting, "must be Ascii or Hex, followed by the key")

    # IpDataOffer, IpDynVpnAction ------------------------------------------

    def data_offer(self, statement: Statement) -> _DataOffer:
        encr, keyBits = EncrId.AES_CBC, 128
        auth: Setting | None = None
        integ = IntegId.NONE
        mode: TunnelMode | None = None
        lifetime: int | None = None
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "howtoencrypt":
                encr, keyBits = self.cipher(setting)
            elif keyword == "howtoauth":
                auth, integ = setting, self.esp_integrity(setting)
            elif keyword == "howtoencap":
                mode = self.choice(setting, _MODES)
            elif keyword == "refreshlifetimeproposed":
                lifetime = self.minutes(setting)
            else:
                self.unknown(
                    setting,
                    "IpDataOffer",
                    (
                        "HowToEncap",
                        "HowToEncrypt",
                        "HowToAuth",
                        "RefreshLifetimeProposed",
                    ),
                )
        label = statement.name or statement.kind
        if encr is EncrId.AES_GCM_16 and auth is not None:
            raise self.error(
                auth,
                "must not be coded with AES_GCM_16, which protects the data itself",
            )
        if encr is EncrId.AES_CBC and auth is None:
            raise self.reader.statement_error(
                statement,
                f"{label}: HowToAuth missing: AES_CBC needs one, such as"
                " HowToAuth ESP HMAC_SHA2_256_128",
            )
        return _DataOffer(encr, keyBits, integ, mode, lifetime)

    def esp_integrity(self, setting: Setting) -> IntegId:
        values = setting.values
        if values and values[0].lower() == "ah":
            raise self.error(
                setting, "AH is not supported: nsstwisted protects data with ESP"
            )
        if len(values) != 2 or values[0].lower() != "esp":
            raise self.error(
                setting,
                "takes ESP and an integrity algorithm: ESP HMAC_SHA2_256_128,"
                " HMAC_SHA2_384_192 or HMAC_SHA2_512_256",
            )
        integ = _INTEGRITY_LOWER.get(values[1].lower())
        if integ is None:
            raise self.error(setting, f"the algorithm must be {_or(_INTEGRITY)}")
        return integ

    def vpn_action(
        self, statement: Statement, named: Mapping[str, _DataOffer]
    ) -> _DynVpnAction:
        name = self.reader.name(statement)
        initiation = Initiation.EITHER
        mode = TunnelMode.TUNNEL
        pfs = DhGroupId.NONE
        given: list[tuple[int, _DataOffer]] = [
            (inner.line, self.data_offer(inner))
            for _, inner in self.nested(statement, _VPN_INLINE)
        ]
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "initiation":
                initiation = self.choice(setting, _INITIATION)
            elif keyword == "howtoencap":
                mode = self.choice(setting, _MODES)
            elif keyword == "pfs":
                pfs = self.group(setting, none=True)
            elif keyword == "ipdataofferref":
                offer = self.reference(setting, named, "IpDataOffer")
                given.append((setting.line, offer))
            else:
                self.unknown(
                    setting,
                    "IpDynVpnAction",
                    (
                        "Initiation",
                        "HowToEncap",
                        "Pfs",
                        "IpDataOffer",
                        "IpDataOfferRef",
                    ),
                )
        self.missing(statement, name, {"IpDataOffer or IpDataOfferRef": given or None})
        given.sort(key=lambda item: item[0])
        # An offer's own HowToEncap wins over the action's.
        modes = {line: offer.mode or mode for line, offer in given}
        if len(set(modes.values())) > 1:
            lines = " and ".join(
                str(next(line for line, m in modes.items() if m is each))
                for each in TunnelMode
            )
            raise self.reader.statement_error(
                statement,
                f"{name}: the IpDataOffers of lines {lines} differ in HowToEncap:"
                " nsstwisted negotiates one mode per dynamic VPN",
            )
        lifetime = self.one_lifetime(
            statement,
            name,
            [(line, offer.lifetime) for line, offer in given],
            DEFAULT_CHILD_LIFETIME,
            "IpDataOffer",
        )
        return _DynVpnAction(
            name=name,
            initiation=initiation,
            mode=modes[given[0][0]],
            proposals=tuple(
                EspProposal(offer.encr, offer.keyBits, offer.integ, pfs)
                for _, offer in given
            ),
            lifetime=lifetime * 60,
        )

    # LocalDynVpnRule ------------------------------------------------------

    def vpn_rule(
        self,
        statement: Statement,
        peers: Mapping[str, _Peer],
        actions: Mapping[str, _DynVpnAction],
    ) -> tuple[str, ChildPolicy]:
        """The CHILD_SA of a LocalDynVpnRule and the peer that negotiates it."""
        name = self.reader.name(statement)
        list(self.nested(statement, ()))
        local: Address | None = None
        remote: Address | None = None
        protocol: int | None = None
        localPorts: PortRange | None = None
        remotePorts: PortRange | None = None
        portSetting: Setting | None = None
        peer: _Peer | None = None
        action: _DynVpnAction | None = None
        autoActivate: Setting | None = None
        for setting in statement.settings:
            keyword = setting.keyword.lower()
            if keyword == "ipsourceaddr":
                local = self.selector_network(setting)
            elif keyword == "ipdestaddr":
                remote = self.selector_network(setting)
            elif keyword == "protocol":
                protocol = self.reader.protocol(setting)
            elif keyword == "sourceportrange":
                localPorts, portSetting = self.reader.ports(setting), setting
            elif keyword == "destinationportrange":
                remotePorts, portSetting = self.reader.ports(setting), setting
            elif keyword == "keyexchangeruleref":
                peer = self.reference(setting, peers, "KeyExchangeRule")
            elif keyword == "ipdynvpnactionref":
                action = self.reference(setting, actions, "IpDynVpnAction")
            elif keyword == "autoactivate":
                autoActivate = setting if self.choice(setting, _YES_NO) else None
            else:
                self.unknown(
                    setting,
                    "LocalDynVpnRule",
                    (
                        "IpSourceAddr",
                        "IpDestAddr",
                        "Protocol",
                        "SourcePortRange",
                        "DestinationPortRange",
                        "KeyExchangeRuleRef",
                        "IpDynVpnActionRef",
                        "AutoActivate",
                    ),
                )
        self.missing(
            statement,
            name,
            {
                "IpSourceAddr": local,
                "IpDestAddr": remote,
                "IpDynVpnActionRef": action,
            },
        )
        assert local is not None and remote is not None and action is not None
        if local.version != remote.version:
            raise self.reader.statement_error(
                statement,
                f"{name}: IpSourceAddr and IpDestAddr are of different address"
                " families",
            )
        if (localPorts or remotePorts) and protocol not in (_TCP, _UDP):
            assert portSetting is not None
            raise self.error(
                portSetting,
                "a port range needs Protocol TCP or UDP (0 means every port)",
            )
        if autoActivate is not None and not action.initiation.mayInitiate:
            raise self.error(
                autoActivate,
                f"Yes needs an IpDynVpnAction that may initiate, and {action.name}"
                " has Initiation RemoteOnly",
            )
        if peer is None:
            if len(peers) != 1:
                raise self.reader.statement_error(
                    statement,
                    f"{name}: KeyExchangeRuleRef missing: the file has"
                    f" {len(peers)} KeyExchangeRules, so nsstwisted cannot tell"
                    " which peer negotiates it",
                )
            (peer,) = peers.values()
        number = protocol or 0
        child = ChildPolicy(
            name=name,
            action=action.name,
            localSelectors=(_selector(local, number, localPorts),),
            remoteSelectors=(_selector(remote, number, remotePorts),),
            proposals=action.proposals,
            mode=action.mode,
            lifetime=action.lifetime,
            initiation=action.initiation,
            autoActivate=autoActivate is not None,
        )
        return peer.policy.name, child

    def selector_network(self, setting: Setting) -> Address:
        networks = self.reader.addresses(setting)
        if len(networks) != 1:
            raise self.error(
                setting,
                "All covers two address families, and a dynamic VPN's selector"
                " one: code All4 or All6",
            )
        return networks[0]


def _selector(network: Address, protocol: int, ports: PortRange | None) -> Selector:
    if ports is None:
        return Selector(network, protocol)
    return Selector(network, protocol, ports.low, ports.high)


def _replace_children(peer: PeerPolicy, children: Sequence[ChildPolicy]) -> PeerPolicy:
    return replace(peer, children=tuple(children))


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_USER = re.compile(r"[!#-'*+\-/-9=?A-Z^-~]+(?:\.[!#-'*+\-/-9=?A-Z^-~]+)*")


def _is_fqdn(value: str) -> bool:
    """A host name: ASCII labels of letters, digits, '-' and '_'."""
    name = value.removesuffix(".")
    return (
        0 < len(name) <= 253
        and name.isascii()
        and all(_LABEL.fullmatch(label) for label in name.split("."))
    )


def _is_user(value: str) -> bool:
    """The part of an e-mail address before the '@' (RFC 5322 dot-atom)."""
    return 0 < len(value) <= 64 and _USER.fullmatch(value) is not None


def _is_dn(value: str) -> bool:
    """
    Whether the engine can make an ID payload of C{value}: it parses the
    same RFC 4514 text with the same library.
    """
    try:
        name = x509.Name.from_rfc4514_string(value)
        name.public_bytes()
    except ValueError:
        return False
    return len(name) > 0


def _or(words: Iterable[str]) -> str:
    listed = list(words)
    return (
        ", ".join(listed[:-1]) + " or " + listed[-1] if len(listed) > 1 else listed[0]
    )


def _and(words: Iterable[str]) -> str:
    listed = list(words)
    return (
        ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else listed[0]
    )


_INLINE = (
    "LocalSecurityEndpoint",
    "RemoteSecurityEndpoint",
    "KeyExchangeOffer",
    "IpDataOffer",
)
_RULE_INLINE = ("LocalSecurityEndpoint", "RemoteSecurityEndpoint")
_KX_INLINE = ("KeyExchangeOffer",)
_VPN_INLINE = ("IpDataOffer",)
_CIPHERS = {"aes_cbc": EncrId.AES_CBC, "aes_gcm_16": EncrId.AES_GCM_16}
_KEY_LENGTHS = {"128": 128, "192": 192, "256": 256}
_INTEGRITY = {
    "HMAC_SHA2_256_128": IntegId.HMAC_SHA2_256_128,
    "HMAC_SHA2_384_192": IntegId.HMAC_SHA2_384_192,
    "HMAC_SHA2_512_256": IntegId.HMAC_SHA2_512_256,
}
_INTEGRITY_LOWER = {k.lower(): v for k, v in _INTEGRITY.items()}
_PRFS = {
    "HMAC_SHA2_256": PrfId.HMAC_SHA2_256,
    "HMAC_SHA2_384": PrfId.HMAC_SHA2_384,
    "HMAC_SHA2_512": PrfId.HMAC_SHA2_512,
}
_GROUPS = {
    "14": DhGroupId.MODP_2048,
    "15": DhGroupId.MODP_3072,
    "19": DhGroupId.ECP_256,
    "20": DhGroupId.ECP_384,
    "31": DhGroupId.CURVE_25519,
}
_INITIATION = {
    "LocalOnly": Initiation.LOCAL_ONLY,
    "RemoteOnly": Initiation.REMOTE_ONLY,
    "Either": Initiation.EITHER,
}
_PEER_EKU = {"Ike": PeerEku.IKE, "IkeOrTls": PeerEku.IKE_OR_TLS}
_AUTH = {
    "DsSignature": AuthKind.SIGNATURE,
    "RsaSignature": AuthKind.SIGNATURE,
    "PresharedKey": AuthKind.PRESHARED_KEY,
}
_MODES = {"Tunnel": TunnelMode.TUNNEL, "Transport": TunnelMode.TRANSPORT}
_YES_NO = {"Yes": True, "No": False}
