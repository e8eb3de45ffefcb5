"""
Key derivation for IKE SAs and CHILD_SAs (RFC 7296 sections 2.13, 2.14,
2.17 and 2.18).

A negotiated proposal becomes a suite (L{IkeSuite}, L{EspSuite}) that knows
its key sizes, and a suite, the Diffie-Hellman secret and the nonces become
keys.  The key containers never print their keys: an SA's repr goes into
logs and test failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nsstwisted.ike.constants import DhGroupId, EncrId, IntegId, PrfId
from nsstwisted.ike.crypto import (
    Encryption,
    Integrity,
    Prf,
    SkProtector,
    encryption_for,
    integrity_for,
    prf_for,
    sk_protector,
)
from nsstwisted.ike.errors import UnsupportedAlgorithm
from nsstwisted.ike.policy import EspProposal, IkeProposal

__all__ = [
    "ChildKeys",
    "EspSuite",
    "IkeKeys",
    "IkeSuite",
    "derive_child_keys",
    "derive_ike_keys",
    "derive_rekeyed_ike_keys",
]


def _check_integrity(encryption: Encryption, integId: int) -> Integrity | None:
    """
    The integrity transform that goes with a cipher, refusing the two
    combinations RFC 5282 section 8 and RFC 7296 section 3.3 rule out: an
    AEAD with an integrity transform, a plain cipher without one.
    """
    if encryption.isAead:
        if integId != IntegId.NONE:
            raise UnsupportedAlgorithm("an AEAD cipher takes no integrity transform")
        return None
    if integId == IntegId.NONE:
        raise UnsupportedAlgorithm(
            f"encryption algorithm {encryption.encrId} needs an integrity transform"
        )
    return integrity_for(integId)


@dataclass(frozen=True)
class IkeSuite:
    """
    The transforms of an IKE SA, checked when built so that a suite that
    exists can always derive keys.

    @ivar keyBits: the AES Key Length attribute.
    @ivar integId: L{IntegId.NONE} with AES-GCM.
    @ivar dhId: the group of the exchange that created (or rekeyed) the SA.
    """

    encrId: EncrId
    keyBits: int
    integId: IntegId
    prfId: PrfId
    dhId: DhGroupId

    def __post_init__(self) -> None:
        prf_for(self.prfId)
        _check_integrity(self.encryption, self.integId)

    @classmethod
    def from_proposal(cls, proposal: IkeProposal) -> IkeSuite:
        """
        The suite of a chosen proposal.

        @raise UnsupportedAlgorithm: if any transform is not implemented.
        """
        return cls(
            proposal.encr, proposal.keyBits, proposal.integ, proposal.prf, proposal.dh
        )

    @property
    def prf(self) -> Prf:
        return prf_for(self.prfId)

    @property
    def integrity(self) -> Integrity | None:
        """The integrity transform; L{None} with an AEAD cipher."""
        return _check_integrity(self.encryption, self.integId)

    @property
    def encryption(self) -> Encryption:
        return encryption_for(self.encrId, self.keyBits)


@dataclass(frozen=True)
class IkeKeys:
    """
    The seven keys of an IKE SA, and the suite they belong to.

    @ivar skD: the key CHILD_SA and rekeyed IKE SA keys are derived from.
    @ivar skAi: the integrity key for what the original initiator sends
        (empty with AES-GCM); C{skAr} for the responder.
    @ivar skEi: the encryption key (with its salt for AES-GCM) for what
        the original initiator sends; C{skEr} for the responder.
    @ivar skPi: the key of the initiator's AUTH payload octets (RFC 7296
        section 2.15); C{skPr} for the responder.
    @ivar suite: the transforms, so that the keys can make their own SK
        protectors.
    """

    skD: bytes = field(repr=False)
    skAi: bytes = field(repr=False)
    skAr: bytes = field(repr=False)
    skEi: bytes = field(repr=False)
    skEr: bytes = field(repr=False)
    skPi: bytes = field(repr=False)
    skPr: bytes = field(repr=False)
    suite: IkeSuite

    def protectors(self) -> tuple[SkProtector, SkProtector]:
        """
        The SK protectors of the SA: the first for messages the original
        initiator sends (requests and responses alike), the second for the
        other side.  Build them once per SA; each owns a GCM IV counter.
        """
        suite = self.suite
        return (
            sk_protector(
                suite.encrId, suite.keyBits, suite.integId, self.skEi, self.skAi
            ),
            sk_protector(
                suite.encrId, suite.keyBits, suite.integId, self.skEr, self.skAr
            ),
        )


def _ike_keys(
    suite: IkeSuite,
    skeyseed: bytes,
    nonceI: bytes,
    nonceR: bytes,
    spiI: bytes,
    spiR: bytes,
) -> IkeKeys:
    """
    {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
    prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), with the suite's PRF.
    """
    prf = suite.prf
    integrity = suite.integrity
    aSize = integrity.keySize if integrity is not None else 0
    eSize = suite.encryption.keyMaterialSize
    sizes = (prf.keySize, aSize, aSize, eSize, eSize, prf.keySize, prf.keySize)
    stream = prf.plus(skeyseed, nonceI + nonceR + spiI + spiR, sum(sizes))
    parts = []
    offset = 0
    for size in sizes:
        parts.append(stream[offset : offset + size])
        offset += size
    skD, skAi, skAr, skEi, skEr, skPi, skPr = parts
    return IkeKeys(skD, skAi, skAr, skEi, skEr, skPi, skPr, suite)


def derive_ike_keys(
    suite: IkeSuite,
    sharedSecret: bytes,
    nonceI: bytes,
    nonceR: bytes,
    spiI: bytes,
    spiR: bytes,
) -> tuple[bytes, IkeKeys]:
    """
    The keys of a new IKE SA from its IKE_SA_INIT (RFC 7296 section 2.14).

    SKEYSEED = prf(Ni | Nr, g^ir): the nonces are the key, which for the
    HMAC PRFs is used whole.

    @param sharedSecret: g^ir as L{DhPrivateKey.exchange} returns it.
    @param nonceI: the nonce payload bodies.
    @return: SKEYSEED (for debugging against a peer's log) and the keys.
    """
    skeyseed = suite.prf(nonceI + nonceR, sharedSecret)
    return skeyseed, _ike_keys(suite, skeyseed, nonceI, nonceR, spiI, spiR)


def derive_rekeyed_ike_keys(
    oldPrf: Prf,
    oldSkD: bytes,
    suite: IkeSuite,
    sharedSecret: bytes,
    nonceI: bytes,
    nonceR: bytes,
    spiI: bytes,
    spiR: bytes,
) -> tuple[bytes, IkeKeys]:
    """
    The keys of an IKE SA that replaces another in CREATE_CHILD_SA (RFC
    7296 section 2.18).

    SKEYSEED = prf_old(SK_d_old, g^ir_new | Ni | Nr) chains the new SA to
    the old one's authentication; the seven keys then come from the new
    suite's PRF.

    @param nonceI: the nonce of the rekey exchange's initiator, who is the
        new SA's original initiator.
    @param spiI: the new SA's SPIs, from the rekey exchange's proposals.
    """
    skeyseed = oldPrf(oldSkD, sharedSecret + nonceI + nonceR)
    return skeyseed, _ike_keys(suite, skeyseed, nonceI, nonceR, spiI, spiR)


@dataclass(frozen=True)
class EspSuite:
    """
    The transforms of an ESP CHILD_SA.

    @ivar integId: L{IntegId.NONE} with AES-GCM.
    @ivar dhId: the PFS group, L{DhGroupId.NONE} without.
    @ivar esn: whether extended sequence numbers were negotiated.
    """

    encrId: EncrId
    keyBits: int
    integId: IntegId
    dhId: DhGroupId = DhGroupId.NONE
    esn: bool = False

    def __post_init__(self) -> None:
        _check_integrity(self.encryption, self.integId)

    @classmethod
    def from_proposal(cls, proposal: EspProposal) -> EspSuite:
        """
        The suite of a chosen proposal.

        @raise UnsupportedAlgorithm: if any transform is not implemented.
        """
        return cls(
            proposal.encr, proposal.keyBits, proposal.integ, proposal.dh, proposal.esn
        )

    @property
    def integrity(self) -> Integrity | None:
        """The integrity transform; L{None} with an AEAD cipher."""
        return _check_integrity(self.encryption, self.integId)

    @property
    def encryption(self) -> Encryption:
        return encryption_for(self.encrId, self.keyBits)


@dataclass(frozen=True)
class ChildKeys:
    """
    The keys of an ESP CHILD_SA.  "i" is the initiator of the exchange that
    created the CHILD_SA, not the IKE SA's original initiator.

    @ivar encrI: the encryption key (with its 4-octet salt for AES-GCM) of
        the initiator-to-responder SA; C{encrR} for the other direction.
    @ivar integI: the integrity key of the initiator-to-responder SA, empty
        for AES-GCM; C{integR} for the other direction.
    """

    encrI: bytes = field(repr=False)
    integI: bytes = field(repr=False)
    encrR: bytes = field(repr=False)
    integR: bytes = field(repr=False)


def derive_child_keys(
    prf: Prf,
    skD: bytes,
    suite: EspSuite,
    nonceI: bytes,
    nonceR: bytes,
    sharedSecret: bytes | None = None,
) -> ChildKeys:
    """
    KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr) cut into ENCRi | INTEGi | ENCRr |
    INTEGr (RFC 7296 section 2.17).

    @param prf: the IKE SA's PRF.
    @param nonceI: for the CHILD_SA of IKE_AUTH the IKE_SA_INIT nonces,
        otherwise those of the CREATE_CHILD_SA exchange.
    @param sharedSecret: the fresh g^ir with PFS, else L{None}.
    """
    integrity = suite.integrity
    eSize = suite.encryption.keyMaterialSize
    aSize = integrity.keySize if integrity is not None else 0
    seed = (sharedSecret or b"") + nonceI + nonceR
    keymat = prf.plus(skD, seed, 2 * (eSize + aSize))
    encrI = keymat[:eSize]
    integI = keymat[eSize : eSize + aSize]
    rest = keymat[eSize + aSize :]
    return ChildKeys(encrI, integI, rest[:eSize], rest[eSize:])
