"""
Proposals and traffic selectors: what we offer, what we accept of a
peer's offer, and how a responder narrows traffic selectors.

nsstwisted writes each configured proposal as one SA proposal with one
transform per type, and accepts a peer's proposal when it contains every
transform of one of ours (a peer may list several per type, as strongSwan
does).  The answer is the peer's proposal number with exactly our
transforms, as RFC 7296 section 3.3 asks.  Initiator preference wins: the
peer's proposals are tried in its order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nsstwisted.ike.constants import (
    DhGroupId,
    EncrId,
    IntegId,
    NotifyType,
    ProtocolId,
    TransformType,
    TsType,
)
from nsstwisted.ike.errors import IkeError
from nsstwisted.ike.installation import MAX_PREFIX_PAIRS, prefix_pairs
from nsstwisted.ike.payloads import (
    Proposal,
    SaPayload,
    TrafficSelector,
    Transform,
)
from nsstwisted.ike.policy import EspProposal, IkeProposal, Selector

__all__ = [
    "ChosenEsp",
    "ChosenIke",
    "check_installable",
    "esp_sa_payload",
    "ike_sa_payload",
    "narrow",
    "select_esp",
    "select_ike",
    "selectors_for",
    "within",
]

_AEAD = frozenset({EncrId.AES_GCM_8, EncrId.AES_GCM_12, EncrId.AES_GCM_16})


def _encr(encr: EncrId, keyBits: int) -> Transform:
    return Transform(TransformType.ENCR, int(encr), keyBits)


def ike_transforms(proposal: IkeProposal) -> tuple[Transform, ...]:
    transforms = [_encr(proposal.encr, proposal.keyBits)]
    transforms.append(Transform(TransformType.PRF, int(proposal.prf)))
    if proposal.integ != IntegId.NONE:
        transforms.append(Transform(TransformType.INTEG, int(proposal.integ)))
    transforms.append(Transform(TransformType.DH, int(proposal.dh)))
    return tuple(transforms)


def esp_transforms(proposal: EspProposal) -> tuple[Transform, ...]:
    transforms = [_encr(proposal.encr, proposal.keyBits)]
    if proposal.integ != IntegId.NONE:
        transforms.append(Transform(TransformType.INTEG, int(proposal.integ)))
    if proposal.dh != DhGroupId.NONE:
        transforms.append(Transform(TransformType.DH, int(proposal.dh)))
    transforms.append(Transform(TransformType.ESN, 1 if proposal.esn else 0))
    return tuple(transforms)


def ike_sa_payload(proposals: Sequence[IkeProposal], spi: bytes = b"") -> SaPayload:
    """Our IKE offer: one SA proposal per configured proposal."""
    return SaPayload(
        tuple(
            Proposal(number, int(ProtocolId.IKE), spi, ike_transforms(p))
            for number, p in enumerate(proposals, 1)
        )
    )


def esp_sa_payload(
    proposals: Sequence[EspProposal], spi: bytes, pfs: bool = True
) -> SaPayload:
    """
    Our ESP offer.  Without C{pfs} (the CHILD_SA of IKE_AUTH) the DH
    transforms are left out, since that exchange has no KE payload.
    """
    chosen = [p if pfs else _without_dh(p) for p in proposals]
    return SaPayload(
        tuple(
            Proposal(number, int(ProtocolId.ESP), spi, esp_transforms(p))
            for number, p in enumerate(chosen, 1)
        )
    )


def _without_dh(proposal: EspProposal) -> EspProposal:
    return EspProposal(
        proposal.encr, proposal.keyBits, proposal.integ, esn=proposal.esn
    )


def _has(offered: Proposal, wanted: Transform) -> bool:
    return any(
        t.transformType == wanted.transformType
        and t.transformId == wanted.transformId
        and t.keyLength == wanted.keyLength
        and not t.unknownAttributes
        for t in offered.transforms
    )


def _types(proposal: Proposal) -> set[int]:
    return {t.transformType for t in proposal.transforms}


def _covers(offered: Proposal, ours: tuple[Transform, ...]) -> bool:
    """Every one of our transforms is offered, and no type we lack is required."""
    if not all(_has(offered, t) for t in ours):
        return False
    ourTypes = {t.transformType for t in ours}
    extra = _types(offered) - ourTypes
    # An offered INTEG "none" or DH "none" is what we mean by leaving it out.
    for kind in extra:
        ids = {t.transformId for t in offered.transforms if t.transformType == kind}
        if kind in (TransformType.INTEG, TransformType.DH) and 0 in ids:
            continue
        return False
    return True


@dataclass(frozen=True)
class ChosenIke:
    proposal: IkeProposal
    number: int
    peerSpi: bytes

    def payload(self, spi: bytes = b"") -> SaPayload:
        return SaPayload(
            (
                Proposal(
                    self.number, int(ProtocolId.IKE), spi, ike_transforms(self.proposal)
                ),
            )
        )


@dataclass(frozen=True)
class ChosenEsp:
    proposal: EspProposal
    number: int
    peerSpi: bytes

    def payload(self, spi: bytes) -> SaPayload:
        return SaPayload(
            (
                Proposal(
                    self.number, int(ProtocolId.ESP), spi, esp_transforms(self.proposal)
                ),
            )
        )


def select_ike(
    offer: SaPayload, ours: Sequence[IkeProposal], spiSize: int = 0
) -> ChosenIke:
    """
    The first of the peer's IKE proposals that one of ours matches.

    @raise IkeError: NO_PROPOSAL_CHOSEN.
    """
    for offered in offer.proposals:
        if offered.protocol != ProtocolId.IKE or len(offered.spi) != spiSize:
            continue
        for proposal in ours:
            if _covers(offered, ike_transforms(proposal)):
                return ChosenIke(proposal, offered.number, offered.spi)
    raise IkeError("no IKE proposal matches ours", notify=NotifyType.NO_PROPOSAL_CHOSEN)


def select_esp(offer: SaPayload, ours: Sequence[EspProposal], pfs: bool) -> ChosenEsp:
    """
    The first of the peer's ESP proposals that one of ours matches.  In
    IKE_AUTH (C{pfs} false) our DH transforms are left out of the match.

    @raise IkeError: NO_PROPOSAL_CHOSEN.
    """
    for offered in offer.proposals:
        if offered.protocol != ProtocolId.ESP or len(offered.spi) != 4:
            continue
        for proposal in ours:
            candidate = proposal if pfs else _without_dh(proposal)
            if _covers(offered, esp_transforms(candidate)):
                return ChosenEsp(candidate, offered.number, offered.spi)
    raise IkeError("no ESP proposal matches ours", notify=NotifyType.NO_PROPOSAL_CHOSEN)


def accepted_ike(
    answer: SaPayload, ours: Sequence[IkeProposal], spiSize: int = 0
) -> ChosenIke:
    """
    Check a responder's answer: exactly one proposal, exactly one of ours.

    @raise IkeError: NO_PROPOSAL_CHOSEN (the answer is not something we offered).
    """
    if len(answer.proposals) != 1:
        raise IkeError(
            "the answer must hold one proposal", notify=NotifyType.NO_PROPOSAL_CHOSEN
        )
    (chosen,) = answer.proposals
    for proposal in ours:
        transforms = ike_transforms(proposal)
        if (
            chosen.protocol == ProtocolId.IKE
            and len(chosen.spi) == spiSize
            and len(chosen.transforms) == len(transforms)
            and _covers(chosen, transforms)
        ):
            return ChosenIke(proposal, chosen.number, chosen.spi)
    raise IkeError(
        "the peer chose a proposal we did not offer",
        notify=NotifyType.NO_PROPOSAL_CHOSEN,
    )


def accepted_esp(
    answer: SaPayload, ours: Sequence[EspProposal], pfs: bool
) -> ChosenEsp:
    """Check a responder's ESP answer as L{accepted_ike} does."""
    if len(answer.proposals) != 1:
        raise IkeError(
            "the answer must hold one proposal", notify=NotifyType.NO_PROPOSAL_CHOSEN
        )
    (chosen,) = answer.proposals
    for proposal in ours:
        candidate = proposal if pfs else _without_dh(proposal)
        if (
            chosen.protocol == ProtocolId.ESP
            and len(chosen.spi) == 4
            and _covers(chosen, esp_transforms(candidate))
        ):
            return ChosenEsp(candidate, chosen.number, chosen.spi)
    raise IkeError(
        "the peer chose an ESP proposal we did not offer",
        notify=NotifyType.NO_PROPOSAL_CHOSEN,
    )


# -- traffic selectors ---------------------------------------------------------


def selectors_for(selectors: Sequence[Selector]) -> tuple[TrafficSelector, ...]:
    """Configured selectors as TS payload entries."""
    return tuple(
        TrafficSelector.from_network(s.network, s.protocol, s.startPort, s.endPort)
        for s in selectors
    )


def _range(ts: TrafficSelector) -> tuple[int, int]:
    return int(ts.start), int(ts.end)


def _intersect(a: TrafficSelector, b: TrafficSelector) -> TrafficSelector | None:
    if a.tsType != b.tsType:
        return None
    if a.protocol and b.protocol and a.protocol != b.protocol:
        return None
    (aLow, aHigh), (bLow, bHigh) = _range(a), _range(b)
    low, high = max(aLow, bLow), min(aHigh, bHigh)
    if low > high:
        return None
    portLow, portHigh = max(a.startPort, b.startPort), min(a.endPort, b.endPort)
    if portLow > portHigh:
        return None
    size = 4 if a.tsType == TsType.IPV4_ADDR_RANGE else 16
    return TrafficSelector(
        a.tsType,
        a.protocol or b.protocol,
        portLow,
        portHigh,
        low.to_bytes(size, "big"),
        high.to_bytes(size, "big"),
    )


def narrow(
    offered: Sequence[TrafficSelector], ours: Sequence[TrafficSelector]
) -> tuple[TrafficSelector, ...]:
    """
    The responder's narrowing (RFC 7296 section 2.9): every non-empty
    intersection of an offered selector with one of ours.  Empty when
    nothing overlaps, which the caller answers with TS_UNACCEPTABLE.
    """
    result: list[TrafficSelector] = []
    for mine in ours:
        for theirs in offered:
            common = _intersect(mine, theirs)
            if common is not None and common not in result:
                result.append(common)
    return tuple(result)


def within(
    answered: Sequence[TrafficSelector], offered: Sequence[TrafficSelector]
) -> bool:
    """Whether each answered selector lies inside one we offered."""
    for ts in answered:
        if not any(_intersect(ts, o) == ts for o in offered):
            return False
    return bool(answered)


def check_installable(
    local: Sequence[TrafficSelector], remote: Sequence[TrafficSelector]
) -> None:
    """
    Refuse a CHILD_SA whose (narrowed) selectors a kernel could not be
    given as policies within L{MAX_PREFIX_PAIRS}, whichever side we are.

    A responder that agreed to them would install only part of what it
    agreed to, or thousands of policies for one hostile peer; an
    initiator must check the same, since the responder chooses the
    narrowed selectors (each inside ours, but as many as it likes).
    Refusing is what RFC 7296 section 2.9 offers for selectors a policy
    cannot accept.

    @raise IkeError: TS_UNACCEPTABLE.
    """
    if prefix_pairs(local, remote) > MAX_PREFIX_PAIRS:
        raise IkeError(
            "the traffic selectors need more than"
            f" {MAX_PREFIX_PAIRS} pairs of local and remote address prefixes,"
            " more than one CHILD_SA may install",
            notify=NotifyType.TS_UNACCEPTABLE,
        )
