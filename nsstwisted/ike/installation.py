"""
What a host must be told to carry one CHILD_SA's traffic, and the iproute2
command lines that tell a Linux kernel (XFRM).

The engine hands an installer one L{InstalledChildSa}: the negotiated
values and keys, already split into what protects inbound traffic and what
protects outbound traffic.  This module turns it into:

  - two states (L{xfrm_state_commands}): inbound (peer to us, our SPI,
    with a replay window) and outbound (us to peer, the peer's SPI);
  - three policies per pair of local and remote selectors
    (L{xfrm_policies}): C{out}, C{in} and, in tunnel mode, C{fwd}, each
    with a template that binds it to the states by reqid;
  - the commands that remove them again (L{xfrm_delete_commands}).

IKEv2 selects traffic by address ranges (RFC 7296 section 3.13.1); the
kernel selects it by prefixes.  A range becomes the fewest prefixes that
cover exactly it (L{range_selectors}), never fewer: a policy for the first
prefix alone would leave the rest of the traffic the SA was agreed for to
whatever other policy matches it, in the clear or dropped.  Since a range
can need dozens of prefixes, and every pair of a local and a remote prefix
needs its own policies, one CHILD_SA may need at most
L{MAX_PREFIX_PAIRS} pairs (L{prefix_pairs}); the engine refuses wider
selectors when it negotiates them, and L{InstalledChildSa} refuses them
again.

This is what strongSwan's kernel-netlink backend installs; the command
lines are iproute2's equivalents, since C{ip} needs no netlink code of our
own and reads the same to an operator as to a test.

Keys on a command line are keys in C{/proc/PID/cmdline}, which any local
user can read unless the host mounts C{/proc} with C{hidepid}.  So an
installer never puts these argv lists on a command line: it renders them
with L{xfrm_batch} and feeds them to C{ip -batch -} on standard input.
The argv form exists because it is what a test, a log of the policy
commands, or an operator reproducing a problem by hand wants to read.

C{ip} stops a batch at the first failing line without saying which line
failed, so an installer that must undo exactly what it added runs one line
per batch (see L{nsstwisted.iked.keyexchange.installer}).

Nothing here runs a process; this module is sans-IO.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from nsstwisted.ike.constants import EncrId, IntegId, ProtocolId
from nsstwisted.ike.payloads import TrafficSelector
from nsstwisted.ike.policy import Selector, TunnelMode

__all__ = [
    "IP",
    "MAX_PREFIX_PAIRS",
    "InstalledChildSa",
    "PolicyDirection",
    "XfrmPolicy",
    "hard_lifetime",
    "prefix_pairs",
    "range_selectors",
    "redact_keys",
    "xfrm_batch",
    "xfrm_delete_commands",
    "xfrm_policies",
    "xfrm_policy_commands",
    "xfrm_state_commands",
    "xfrm_state_delete_commands",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

IP = "ip"
"""The first element of every argv list here; L{xfrm_batch} drops it."""

REPLAY_WINDOW = 32
"""Packets of the inbound state's anti-replay window (strongSwan's default)."""

_GCM_SALT = 4
"""Octets of salt after an AES-GCM key (RFC 4106 section 8.1)."""

_GCM_ICV_BITS = {
    EncrId.AES_GCM_8: 64,
    EncrId.AES_GCM_12: 96,
    EncrId.AES_GCM_16: 128,
}

_INTEGRITY = {
    # IKEv2 transform: (kernel algorithm, key octets, truncated ICV bits)
    IntegId.HMAC_SHA1_96: ("hmac(sha1)", 20, 96),
    IntegId.HMAC_SHA2_256_128: ("hmac(sha256)", 32, 128),
    IntegId.HMAC_SHA2_384_192: ("hmac(sha384)", 48, 192),
    IntegId.HMAC_SHA2_512_256: ("hmac(sha512)", 64, 256),
}

_PORT_PROTOCOLS = frozenset({6, 17, 33, 132})
"""TCP, UDP, DCCP and SCTP: the protocols whose ports C{ip xfrm} can select."""

_ANY_PORTS = (0, 65535)

MAX_PREFIX_PAIRS = 64
"""
The most pairs of a local and a remote prefix one CHILD_SA may install:
at most 192 policies (C{out}, C{in}, C{fwd} per pair).

Any one IPv4 range needs at most 62 prefixes, so this admits every IPv4
range against one prefix (the usual shape: a range behind the peer, a
subnet behind us), and two ranges of up to 8 prefixes each.  The bound is
on the product because that is what the kernel is given, and what a
hostile peer inflates: two full-width ranges would be 3,844 pairs, and an
IPv6 range alone up to 254 prefixes.  Each policy costs one C{ip} run
(milliseconds) while every other installation waits.
"""


@dataclass(frozen=True)
class InstalledChildSa:
    """
    One negotiated CHILD_SA, as an installer needs it: both directions'
    SPIs and keys, and the traffic it carries.

    The values are checked when the object is made, so that a bad SA is
    refused by the engine that built it rather than by a kernel whose
    error would be harder to read.  The keys never appear in C{repr()}
    (nor in any error raised here), since SAs end up in logs.

    @ivar reqid: ties the policies to the states; unique per CHILD_SA
        family (a rekeyed CHILD_SA may keep its predecessor's reqid, as
        strongSwan's do, and then shares its policies).  1 to 2**32-1:
        0 in a template means "any state", which would be a different SA.
    @ivar spiIn: our SPI, which the peer puts on what it sends us.
    @ivar spiOut: the peer's SPI, which we put on what we send.
    @ivar encryptionKeyIn: for AES-GCM, the key followed by the 4-octet
        salt (RFC 4106), as IKEv2's key derivation produces them.
    @ivar integrityKeyIn: empty for AES-GCM.
    @ivar encapsulation: our UDP port and the peer's, when NAT was
        detected and ESP travels in UDP (RFC 3948); L{None} for plain ESP.
    @ivar lifetimeSeconds: this CHILD_SA's lifetime (0 = none), before
        which the engine rekeys it (L{nsstwisted.ike.lifetimes}).  The
        kernel is given a somewhat longer hard limit (L{hard_lifetime}),
        so that it removes a state the engine failed to rekey or delete,
        but never races a rekey that is on time.
    """

    reqid: int
    localAddress: Address
    remoteAddress: Address
    spiIn: bytes
    spiOut: bytes
    mode: TunnelMode
    encrId: EncrId
    keyBits: int
    integId: IntegId
    localSelectors: tuple[Selector, ...]
    remoteSelectors: tuple[Selector, ...]
    encryptionKeyIn: bytes = field(repr=False)
    encryptionKeyOut: bytes = field(repr=False)
    integrityKeyIn: bytes = field(default=b"", repr=False)
    integrityKeyOut: bytes = field(default=b"", repr=False)
    protocol: ProtocolId = ProtocolId.ESP
    encapsulation: tuple[int, int] | None = None
    lifetimeSeconds: int = 3600

    def __post_init__(self) -> None:
        if not 1 <= self.reqid <= 0xFFFFFFFF:
            raise ValueError(f"reqid {self.reqid} is not 1 to 4294967295")
        if self.localAddress.version != self.remoteAddress.version:
            raise ValueError("local and remote addresses differ in family")
        for name, spi in (("spiIn", self.spiIn), ("spiOut", self.spiOut)):
            if len(spi) != 4 or spi == bytes(4):
                raise ValueError(f"{name} must be 4 octets, not zero")
        if self.protocol is not ProtocolId.ESP:
            raise ValueError(f"only ESP can be installed, not {self.protocol.name}")
        if self.keyBits not in (128, 192, 256):
            raise ValueError(f"AES key length {self.keyBits} is not 128, 192 or 256")
        if self.encrId in _GCM_ICV_BITS:
            encryptionOctets = self.keyBits // 8 + _GCM_SALT
            if self.integId is not IntegId.NONE:
                raise ValueError("AES-GCM carries its own integrity: integId NONE")
            integrityOctets = 0
        elif self.encrId is EncrId.AES_CBC:
            encryptionOctets = self.keyBits // 8
            if self.integId not in _INTEGRITY:
                raise ValueError(f"AES-CBC needs integrity, not {self.integId.name}")
            integrityOctets = _INTEGRITY[self.integId][1]
        else:  # pragma: no cover - EncrId names nothing else today
            raise ValueError(f"cannot install {self.encrId.name}")
        for name, key, octets in (
            ("encryptionKeyIn", self.encryptionKeyIn, encryptionOctets),
            ("encryptionKeyOut", self.encryptionKeyOut, encryptionOctets),
            ("integrityKeyIn", self.integrityKeyIn, integrityOctets),
            ("integrityKeyOut", self.integrityKeyOut, integrityOctets),
        ):
            # The length only: an error message is a log line.
            if len(key) != octets:
                raise ValueError(f"{name} is {len(key)} octets, not {octets}")
        if not self.localSelectors or not self.remoteSelectors:
            raise ValueError("a CHILD_SA needs local and remote selectors")
        pairs = _pair_count(
            [(s.network.version, s.protocol, 1) for s in self.localSelectors],
            [(s.network.version, s.protocol, 1) for s in self.remoteSelectors],
        )
        if pairs > MAX_PREFIX_PAIRS:
            raise ValueError(
                f"its selectors make more than {MAX_PREFIX_PAIRS} pairs of local"
                " and remote prefixes, more than one CHILD_SA may install"
            )
        if self.encapsulation is not None and not all(
            1 <= port <= 65535 for port in self.encapsulation
        ):
            raise ValueError(f"UDP ports {self.encapsulation} are not 1 to 65535")
        if self.lifetimeSeconds < 0:
            raise ValueError("lifetimeSeconds must not be negative")

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The secrets, for L{redact_keys}; empty ones left out."""
        return tuple(
            key
            for key in (
                self.encryptionKeyIn,
                self.encryptionKeyOut,
                self.integrityKeyIn,
                self.integrityKeyOut,
            )
            if key
        )


def hard_lifetime(seconds: int) -> int:
    """
    The kernel's hard limit for a CHILD_SA whose lifetime is C{seconds}
    (the engine rekeys it at 80 to 90% of that): 10% more, rounded up, as
    strongSwan's default life time is its rekey time plus 10%.  0 stays 0
    (no limit).
    """
    return seconds + (seconds + 9) // 10


def _hex(octets: bytes) -> str:
    return "0x" + octets.hex()


def _algorithms(sa: InstalledChildSa, inbound: bool) -> list[str]:
    """The C{aead} or C{enc}+C{auth-trunc} arguments of one direction."""
    encryptionKey = sa.encryptionKeyIn if inbound else sa.encryptionKeyOut
    if sa.encrId in _GCM_ICV_BITS:
        return [
            "aead",
            "rfc4106(gcm(aes))",
            _hex(encryptionKey),
            str(_GCM_ICV_BITS[sa.encrId]),
        ]
    name, _, truncation = _INTEGRITY[sa.integId]
    integrityKey = sa.integrityKeyIn if inbound else sa.integrityKeyOut
    return [
        "enc",
        "cbc(aes)",
        _hex(encryptionKey),
        "auth-trunc",
        name,
        _hex(integrityKey),
        str(truncation),
    ]


def _unspecified(address: Address) -> str:
    """
    The unspecified address of C{address}'s family, for the
    encapsulation's original address (NAT-OA): the kernel needs the ports,
    not this address, to carry ESP in UDP, so it is left unspecified, as
    in the usual iproute2 recipe.
    """
    return str(
        ipaddress.IPv4Address(0) if address.version == 4 else ipaddress.IPv6Address(0)
    )


def _state_id(sa: InstalledChildSa, inbound: bool) -> list[str]:
    """C{src .. dst .. proto esp spi ..}: what names a state to the kernel."""
    if inbound:
        source, destination, spi = sa.remoteAddress, sa.localAddress, sa.spiIn
    else:
        source, destination, spi = sa.localAddress, sa.remoteAddress, sa.spiOut
    return [
        "src",
        str(source),
        "dst",
        str(destination),
        "proto",
        "esp",
        "spi",
        _hex(spi),
    ]


def xfrm_state_commands(sa: InstalledChildSa) -> list[list[str]]:
    """
    The C{ip xfrm state add} argv lists for C{sa}: inbound first, then
    outbound.

    Inbound goes first so that the peer's first packets under the new SA
    (which it may send as soon as it has our SPI) already find a state.
    The arguments are for C{ip} itself, never a shell: the algorithm
    names carry no quotes.
    """
    commands = []
    for inbound in (True, False):
        argv = [IP, "xfrm", "state", "add", *_state_id(sa, inbound)]
        argv += ["reqid", str(sa.reqid), "mode", sa.mode.value]
        if inbound:
            argv += ["replay-window", str(REPLAY_WINDOW)]
        if sa.lifetimeSeconds:
            argv += ["limit", "time-hard", str(hard_lifetime(sa.lifetimeSeconds))]
        argv += _algorithms(sa, inbound)
        if sa.encapsulation is not None:
            localPort, remotePort = sa.encapsulation
            # Ports as the state sees them: its source's, then its
            # destination's.
            ports = (remotePort, localPort) if inbound else (localPort, remotePort)
            argv += [
                "encap",
                "espinudp",
                str(ports[0]),
                str(ports[1]),
                _unspecified(sa.localAddress),
            ]
        commands.append(argv)
    return commands


def xfrm_state_delete_commands(sa: InstalledChildSa) -> list[list[str]]:
    """The C{ip xfrm state delete} argv lists for C{sa}'s two states."""
    return [
        [IP, "xfrm", "state", "delete", *_state_id(sa, inbound)]
        for inbound in (True, False)
    ]


class PolicyDirection(enum.Enum):
    """The kernel's policy directions; C{fwd} is traffic routed through us."""

    OUT = "out"
    IN = "in"
    FWD = "fwd"


@dataclass(frozen=True)
class XfrmPolicy:
    """
    One XFRM policy: a selector and direction (which traffic) and a
    template (which states protect it).

    It is a value rather than only a command line because an installer
    must tell whether two CHILD_SAs need the same policy (L{key}), as a
    CHILD_SA and its rekeyed successor do: the kernel holds one policy per
    selector and direction, so the second must update it, not add it,
    and removing the first must not delete it.

    @ivar protocol: the IP protocol number; 0 for any.
    @ivar sourcePort: L{None} for any.
    """

    direction: PolicyDirection
    source: Network
    destination: Network
    protocol: int
    sourcePort: int | None
    destinationPort: int | None
    templateSource: Address
    templateDestination: Address
    reqid: int
    mode: TunnelMode

    @property
    def key(self) -> tuple[object, ...]:
        """What the kernel identifies the policy by: selector and direction."""
        return (
            self.direction,
            self.source,
            self.destination,
            self.protocol,
            self.sourcePort,
            self.destinationPort,
        )

    def _selector(self) -> list[str]:
        argv = ["src", str(self.source), "dst", str(self.destination)]
        if self.protocol:
            argv += ["proto", str(self.protocol)]
            if self.sourcePort is not None:
                argv += ["sport", str(self.sourcePort)]
            if self.destinationPort is not None:
                argv += ["dport", str(self.destinationPort)]
        return [*argv, "dir", self.direction.value]

    def command(self, verb: Literal["add", "update"] = "add") -> list[str]:
        """
        The argv list that installs this policy.  C{update} replaces a
        policy with the same L{key}, or adds it if there is none.
        """
        return [
            IP,
            "xfrm",
            "policy",
            verb,
            *self._selector(),
            "tmpl",
            "src",
            str(self.templateSource),
            "dst",
            str(self.templateDestination),
            "proto",
            "esp",
            "reqid",
            str(self.reqid),
            "mode",
            self.mode.value,
        ]

    def delete_command(self) -> list[str]:
        """The argv list that removes this policy (the key is enough)."""
        return [IP, "xfrm", "policy", "delete", *self._selector()]


def range_selectors(ts: TrafficSelector) -> tuple[Selector, ...]:
    """
    The selectors of C{ts} as the kernel takes them: the fewest prefixes
    that together cover exactly its address range, each with its protocol
    and ports.

    A prefix more would be as wrong as one fewer: wider, it would send
    traffic the peer never agreed to into the SA; narrower, it would leave
    agreed traffic to other policies.

    @raise ValueError: a range that ends before it starts, which narrowing
        never produces.
    """
    return tuple(
        Selector(network, ts.protocol, ts.startPort, ts.endPort)
        for network in ipaddress.summarize_address_range(ts.start, ts.end)
    )


def _prefix_count(first: int, last: int, bits: int, limit: int) -> int:
    """
    How many prefixes L{range_selectors} makes of C{first} to C{last}
    (addresses of C{bits} bits as integers), counting no further than
    C{limit}.

    It counts rather than lists, and stops at C{limit}, so that a peer
    that sends hundreds of selectors costs the engine a few steps each:
    each step takes the largest block that starts at C{first} (aligned
    to its size) and does not pass C{last}, as C{summarize_address_range}
    does.
    """
    count = 0
    while first <= last and count < limit:
        aligned = first & -first if first else 1 << bits
        fits = 1 << ((last - first + 1).bit_length() - 1)
        first += min(aligned, fits)
        count += 1
    return count


def _pair_count(
    local: Iterable[tuple[int, int, int]],
    remote: Iterable[tuple[int, int, int]],
    limit: int = MAX_PREFIX_PAIRS,
) -> int:
    """
    How many pairs of a local and a remote prefix can match one packet,
    as L{xfrm_policies} pairs them (one IP version, and protocols equal or
    either one any), or C{limit + 1} if there are more than C{limit}.

    Each entry is (IP version, protocol, number of prefixes).  The entries
    are summed by version and protocol first, so that the work grows with
    the number of entries rather than with its square; every sum stops at
    C{limit + 1}, which keeps the answer to "more than C{limit}?" exact,
    since each term is a product of such sums.
    """
    ceiling = limit + 1

    def sums(entries: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int], int]:
        totals: dict[tuple[int, int], int] = {}
        for version, protocol, prefixes in entries:
            key = (version, protocol)
            totals[key] = min(ceiling, totals.get(key, 0) + prefixes)
        return totals

    localSums, remoteSums = sums(local), sums(remote)
    total = 0
    for version in (4, 6):
        mine = {p: n for (v, p), n in localSums.items() if v == version}
        theirs = {p: n for (v, p), n in remoteSums.items() if v == version}
        theirsAll = min(ceiling, sum(theirs.values()))
        mineSpecific = min(ceiling, sum(n for p, n in mine.items() if p))
        # Any protocol here pairs with every protocol there, and the
        # reverse; otherwise only equal protocols pair.
        total += mine.get(0, 0) * theirsAll + mineSpecific * theirs.get(0, 0)
        total += sum(n * theirs.get(p, 0) for p, n in mine.items() if p)
        if total > limit:
            return ceiling
    return total


def prefix_pairs(
    local: Sequence[TrafficSelector],
    remote: Sequence[TrafficSelector],
    limit: int = MAX_PREFIX_PAIRS,
) -> int:
    """
    How many pairs of a local and a remote prefix a CHILD_SA with these
    (narrowed) traffic selectors would install, or C{limit + 1} if more
    than C{limit}: what the engine compares with L{MAX_PREFIX_PAIRS}
    before it agrees to a CHILD_SA, without expanding a single range.
    """
    ceiling = limit + 1

    def entries(
        selectors: Sequence[TrafficSelector],
    ) -> Iterable[tuple[int, int, int]]:
        for ts in selectors:
            first, last = ts.start, ts.end
            count = _prefix_count(int(first), int(last), first.max_prefixlen, ceiling)
            yield first.version, ts.protocol, count

    return _pair_count(entries(local), entries(remote), limit)


def _port(selector: Selector) -> int | None:
    """
    The one port a selector names, or L{None} for any port.

    @raise ValueError: a range of ports, which the kernel could express
        only approximately (with a mask) and C{ip} not at all.  Widening it
        would send traffic the peer did not agree to into the SA, and
        narrowing it would leave agreed traffic in the clear, so it is
        refused.
    """
    if (selector.startPort, selector.endPort) == _ANY_PORTS:
        return None
    if selector.startPort == selector.endPort:
        return selector.startPort
    raise ValueError(
        f"ports {selector.startPort}-{selector.endPort} of {selector.network}"
        " are a range, which ip xfrm cannot select: only one port or any"
    )


def _pair(
    local: Selector, remote: Selector
) -> tuple[int, int | None, int | None] | None:
    """
    The protocol and the local and remote ports of the traffic both
    selectors admit, or L{None} if there can be none (different families
    or different protocols).
    """
    if local.network.version != remote.network.version:
        return None
    if local.protocol and remote.protocol and local.protocol != remote.protocol:
        return None
    protocol = local.protocol or remote.protocol
    localPort, remotePort = _port(local), _port(remote)
    if protocol not in _PORT_PROTOCOLS and (
        localPort is not None or remotePort is not None
    ):
        raise ValueError(
            f"protocol {protocol} has no ports ip xfrm can select;"
            " its selectors must allow any port"
        )
    return protocol, localPort, remotePort


def xfrm_policies(sa: InstalledChildSa) -> list[XfrmPolicy]:
    """
    C{sa}'s policies: for each pair of a local and a remote selector that
    can match the same packet, C{out} (local to remote, template from us
    to the peer), C{in} (the reverse) and, in tunnel mode, C{fwd} (like
    C{in}, for traffic we route on rather than receive).  Pairs that
    cannot match (an IPv4 and an IPv6 network, or TCP and UDP) are left
    out.

    The selectors are prefixes (see L{range_selectors}).  Two pairs may
    need the same policy (overlapping ranges can share a prefix); it is
    listed once, since the kernel holds one policy per selector and
    direction and would refuse to add the second.

    @raise ValueError: a selector that C{ip xfrm} cannot express (see
        L{_port}).
    """
    policies: dict[tuple[object, ...], XfrmPolicy] = {}
    for local in sa.localSelectors:
        for remote in sa.remoteSelectors:
            pair = _pair(local, remote)
            if pair is None:
                continue
            protocol, localPort, remotePort = pair
            out = XfrmPolicy(
                PolicyDirection.OUT,
                local.network,
                remote.network,
                protocol,
                localPort,
                remotePort,
                sa.localAddress,
                sa.remoteAddress,
                sa.reqid,
                sa.mode,
            )
            policies.setdefault(out.key, out)
            inbound = [PolicyDirection.IN]
            if sa.mode is TunnelMode.TUNNEL:
                inbound.append(PolicyDirection.FWD)
            for direction in inbound:
                policy = XfrmPolicy(
                    direction,
                    remote.network,
                    local.network,
                    protocol,
                    remotePort,
                    localPort,
                    sa.remoteAddress,
                    sa.localAddress,
                    sa.reqid,
                    sa.mode,
                )
                policies.setdefault(policy.key, policy)
    return list(policies.values())


def xfrm_policy_commands(sa: InstalledChildSa) -> list[list[str]]:
    """The C{ip xfrm policy add} argv lists for L{xfrm_policies}."""
    return [policy.command("add") for policy in xfrm_policies(sa)]


def xfrm_delete_commands(sa: InstalledChildSa) -> list[list[str]]:
    """
    The argv lists that remove C{sa}: its policies first, then its
    states, the reverse of installing them, so that no policy is left
    pointing at a state that is gone.
    """
    return [
        policy.delete_command() for policy in xfrm_policies(sa)
    ] + xfrm_state_delete_commands(sa)


def xfrm_batch(commands: Iterable[Sequence[str]]) -> bytes:
    """
    Render argv lists as the standard input of C{ip -batch -}: one line
    per command, without the leading C{ip}.

    C{ip} splits a batch line at white space and takes quotes and C{#}
    as syntax, so an argument holding any of them would change the
    command; it is refused rather than escaped.  Ours never hold them.

    @raise ValueError: a command that does not start with C{ip}, is empty,
        or has such an argument.
    """
    lines = []
    for argv in commands:
        if len(argv) < 2 or argv[0] != IP:
            raise ValueError(f"not an ip command: {list(argv[:3])}")
        for argument in argv[1:]:
            if not argument or any(
                character.isspace() or character in "\"'#\\" for character in argument
            ):
                raise ValueError(
                    f"argument {argument!r} cannot be written to an ip batch"
                )
        lines.append(" ".join(argv[1:]) + "\n")
    return "".join(lines).encode("ascii")


def redact_keys(text: str, sa: InstalledChildSa) -> str:
    """
    C{text} with every hex rendering of C{sa}'s keys replaced by
    C{<key>}.

    C{ip} quotes an argument it refuses (C{Error: argument "0x..." is
    wrong}), and its error text goes into exceptions and logs; this keeps
    the keys out of both, whatever C{ip} chooses to say.
    """
    for key in sa.keys:
        text = re.sub(re.escape(key.hex()), "<key>", text, flags=re.IGNORECASE)
    return text
