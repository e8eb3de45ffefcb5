"""
Tests for L{nsstwisted.ike.keys}: the strongSwan 5.9.8 capture and the NSS
IKEv2 KDF vectors, and the suites that size the keys.
"""

from __future__ import annotations

import json
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import DhGroupId, EncrId, IntegId, PrfId
from nsstwisted.ike.crypto import prf_for
from nsstwisted.ike.errors import UnsupportedAlgorithm
from nsstwisted.ike.keys import (
    ChildKeys,
    EspSuite,
    IkeKeys,
    IkeSuite,
    derive_child_keys,
    derive_ike_keys,
    derive_rekeyed_ike_keys,
)
from nsstwisted.ike.policy import EspProposal, IkeProposal

h = bytes.fromhex

VECTOR = json.loads(
    (Path(__file__).parent / "data" / "ike-vector-strongswan598.json").read_text()
)

STRONGSWAN_SUITE = IkeSuite(
    EncrId.AES_CBC,
    128,
    IntegId.HMAC_SHA2_256_128,
    PrfId.HMAC_SHA2_256,
    DhGroupId.CURVE_25519,
)
GCM_SUITE = IkeSuite(
    EncrId.AES_GCM_16, 256, IntegId.NONE, PrfId.HMAC_SHA2_384, DhGroupId.ECP_384
)

# NSS gtests/common/testvectors/ike-sha256-vectors.h, vectors 6-8.
NSS_GIR = "0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29"
NSS_NI = "3f302be1abcb28e1"
NSS_NR = "8c332ee006064c9b"
NSS_SKEYSEED = "5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe"
NSS_SPII = "40dac39e1e1a8640"
NSS_SPIR = "8619a1cf9a6e4c07"
NSS_PRF_PLUS_START = "0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ec"
NSS_GIR_NEW = "25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c"
NSS_REKEYED_SKEYSEED = (
    "2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398"
)


def nonce(message: bytes) -> bytes:
    """
    The nonce payload body of an unencrypted message, found by walking the
    generic payload headers from the IKE header's Next Payload.
    """
    nextPayload, offset = message[16], 28
    while nextPayload:
        length = int.from_bytes(message[offset + 2 : offset + 4], "big")
        if nextPayload == 40:
            return message[offset + 4 : offset + length]
        nextPayload, offset = message[offset], offset + length
    raise AssertionError("no nonce payload")


def strongswanInputs() -> tuple[bytes, bytes, bytes, bytes]:
    """Ni, Nr, SPIi and SPIr of the captured IKE_SA_INIT."""
    request = h(VECTOR["ike_sa_init_request"])
    response = h(VECTOR["ike_sa_init_response"])
    return nonce(request), nonce(response), response[:8], response[8:16]


class StrongswanVectorTests(SynchronousTestCase):
    """
    The keys strongSwan 5.9.8 derived in a lab run, from its own messages.
    """

    def setUp(self) -> None:
        self.ni, self.nr, self.spiI, self.spiR = strongswanInputs()
        self.skeyseed, self.keys = derive_ike_keys(
            STRONGSWAN_SUITE,
            h(VECTOR["g_ir"]),
            self.ni,
            self.nr,
            self.spiI,
            self.spiR,
        )

    def test_inputs(self) -> None:
        """
        The nonces are strongSwan's 32 octets; the request carried a zero
        SPIr.
        """
        self.assertEqual((len(self.ni), len(self.nr)), (32, 32))
        request = h(VECTOR["ike_sa_init_request"])
        self.assertEqual(request[:8], self.spiI)
        self.assertEqual(request[8:16], bytes(8))

    def test_skeyseed(self) -> None:
        """
        SKEYSEED = prf(Ni | Nr, g^ir).
        """
        self.assertEqual(self.skeyseed, h(VECTOR["SKEYSEED"]))

    def test_keys(self) -> None:
        """
        All seven SK_* keys, sized 32/32/32/16/16/32/32.
        """
        keys = self.keys
        for name, value in [
            ("SK_d", keys.skD),
            ("SK_ai", keys.skAi),
            ("SK_ar", keys.skAr),
            ("SK_ei", keys.skEi),
            ("SK_er", keys.skEr),
            ("SK_pi", keys.skPi),
            ("SK_pr", keys.skPr),
        ]:
            self.assertEqual(value, h(VECTOR[name]), name)
        self.assertEqual(keys.suite, STRONGSWAN_SUITE)

    def test_authPrfTails(self) -> None:
        """
        prf(SK_pi, IDi') and prf(SK_pr, IDr') end the two signed octets.
        """
        prf = STRONGSWAN_SUITE.prf
        self.assertEqual(
            prf(self.keys.skPi, h(VECTOR["IDi_prime"])),
            h(VECTOR["initiator_octets_tail_prf_SK_pi_IDi"]),
        )
        self.assertEqual(
            prf(self.keys.skPr, h(VECTOR["IDr_prime"])),
            h(VECTOR["responder_octets_tail_prf_SK_pr_IDr"]),
        )

    def test_childKeymat(self) -> None:
        """
        The IKE_AUTH CHILD_SA's AES-GCM-16-128 KEYMAT is prf+(SK_d, Ni | Nr)
        cut into key+salt for each direction, no integrity keys.
        """
        suite = EspSuite(EncrId.AES_GCM_16, 128, IntegId.NONE)
        child = derive_child_keys(
            STRONGSWAN_SUITE.prf, self.keys.skD, suite, self.ni, self.nr
        )
        self.assertEqual(child.encrI, h(VECTOR["child_KEYMAT_ei_salt"]))
        self.assertEqual(child.encrR, h(VECTOR["child_KEYMAT_er_salt"]))
        self.assertEqual((child.integI, child.integR), (b"", b""))

    def test_protectors(self) -> None:
        """
        The keys' protectors: what the initiator's first protector sends,
        the responder's first protector reads, and the second direction is
        a different key.
        """
        initiatorSide = self.keys.protectors()
        _, responderKeys = derive_ike_keys(
            STRONGSWAN_SUITE,
            h(VECTOR["g_ir"]),
            self.ni,
            self.nr,
            self.spiI,
            self.spiR,
        )
        responderSide = responderKeys.protectors()
        prefix = bytes(32)
        body = initiatorSide[0].encrypt(prefix, b"IDi AUTH SAi2 TSi TSr")
        self.assertEqual(
            responderSide[0].decrypt(prefix, body), b"IDi AUTH SAi2 TSi TSr"
        )
        body = responderSide[1].encrypt(prefix, b"IDr AUTH SAr2")
        self.assertEqual(initiatorSide[1].decrypt(prefix, body), b"IDr AUTH SAr2")
        self.assertNotEqual(
            initiatorSide[0].encrypt(prefix, b"x")[16:],
            initiatorSide[1].encrypt(prefix, b"x")[16:],
        )


class NssVectorTests(SynchronousTestCase):
    """
    The IKEv2 KDF vectors NSS ships (HMAC-SHA-256).
    """

    suite = IkeSuite(
        EncrId.AES_CBC,
        128,
        IntegId.HMAC_SHA2_256_128,
        PrfId.HMAC_SHA2_256,
        DhGroupId.ECP_256,
    )

    def test_skeyseedAndPrfPlus(self) -> None:
        """
        SKEYSEED from g^ir and the nonces; SK_d is the first 32 octets of
        prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
        """
        skeyseed, keys = derive_ike_keys(
            self.suite, h(NSS_GIR), h(NSS_NI), h(NSS_NR), h(NSS_SPII), h(NSS_SPIR)
        )
        self.assertEqual(skeyseed, h(NSS_SKEYSEED))
        self.assertEqual(keys.skD, h(NSS_PRF_PLUS_START))
        self.assertEqual(
            self.suite.prf.plus(
                skeyseed, h(NSS_NI + NSS_NR + NSS_SPII + NSS_SPIR), 132
            )[:32],
            h(NSS_PRF_PLUS_START),
        )

    def test_rekey(self) -> None:
        """
        SKEYSEED' = prf_old(SK_d_old, g^ir_new | Ni | Nr).
        """
        skeyseed, keys = derive_rekeyed_ike_keys(
            prf_for(PrfId.HMAC_SHA2_256),
            h(NSS_PRF_PLUS_START),
            self.suite,
            h(NSS_GIR_NEW),
            h(NSS_NI),
            h(NSS_NR),
            h(NSS_SPII),
            h(NSS_SPIR),
        )
        self.assertEqual(skeyseed, h(NSS_REKEYED_SKEYSEED))
        prf = self.suite.prf
        stream = prf.plus(skeyseed, h(NSS_NI + NSS_NR + NSS_SPII + NSS_SPIR), 192)
        self.assertEqual(keys.skD, stream[:32])
        self.assertEqual(keys.skPr, stream[-32:])


class RekeyTests(SynchronousTestCase):
    """
    L{derive_rekeyed_ike_keys} when the rekey changes the PRF.
    """

    def test_oldPrfForSeedNewPrfForKeys(self) -> None:
        """
        The old PRF makes SKEYSEED; the new suite's PRF (and key sizes) make
        the seven keys.
        """
        oldPrf = prf_for(PrfId.HMAC_SHA1)
        oldSkD = b"d" * 20
        secret, ni, nr = b"g" * 48, b"i" * 32, b"r" * 32
        spiI, spiR = b"I" * 8, b"R" * 8
        skeyseed, keys = derive_rekeyed_ike_keys(
            oldPrf, oldSkD, GCM_SUITE, secret, ni, nr, spiI, spiR
        )
        self.assertEqual(skeyseed, oldPrf(oldSkD, secret + ni + nr))
        newPrf = prf_for(PrfId.HMAC_SHA2_384)
        stream = newPrf.plus(skeyseed, ni + nr + spiI + spiR, 48 + 36 + 36 + 48 + 48)
        self.assertEqual(
            (keys.skD, keys.skEi, keys.skEr, keys.skPi, keys.skPr),
            (stream[:48], stream[48:84], stream[84:120], stream[120:168], stream[168:]),
        )
        self.assertEqual((keys.skAi, keys.skAr), (b"", b""))


class SuiteTests(SynchronousTestCase):
    """
    L{IkeSuite} and L{EspSuite}.
    """

    def test_fromProposal(self) -> None:
        """
        A proposal's transforms become the suite's.
        """
        proposal = IkeProposal(
            EncrId.AES_CBC,
            256,
            IntegId.HMAC_SHA2_512_256,
            PrfId.HMAC_SHA2_512,
            DhGroupId.MODP_3072,
        )
        suite = IkeSuite.from_proposal(proposal)
        self.assertEqual(
            suite,
            IkeSuite(
                EncrId.AES_CBC,
                256,
                IntegId.HMAC_SHA2_512_256,
                PrfId.HMAC_SHA2_512,
                DhGroupId.MODP_3072,
            ),
        )
        self.assertEqual(suite.prf.prfId, PrfId.HMAC_SHA2_512)
        integrity = suite.integrity
        assert integrity is not None
        self.assertEqual(integrity.icvSize, 32)
        self.assertEqual(suite.encryption.keyMaterialSize, 32)

    def test_aead(self) -> None:
        """
        With AES-GCM the suite has no integrity transform, and SK_a* are
        empty while SK_e* carry the salt.
        """
        self.assertIsNone(GCM_SUITE.integrity)
        _, keys = derive_ike_keys(
            GCM_SUITE, b"s" * 48, b"i" * 32, b"r" * 32, b"I" * 8, b"R" * 8
        )
        self.assertEqual(
            [len(k) for k in (keys.skD, keys.skAi, keys.skAr, keys.skEi)],
            [48, 0, 0, 36],
        )
        self.assertEqual(
            [len(k) for k in (keys.skEr, keys.skPi, keys.skPr)], [36, 48, 48]
        )

    def test_refusals(self) -> None:
        """
        An AEAD with an integrity transform, a plain cipher without one, and
        unsupported transforms are refused when the suite is made.
        """
        for args in [
            (EncrId.AES_GCM_16, 128, IntegId.HMAC_SHA2_256_128, PrfId.HMAC_SHA2_256),
            (EncrId.AES_CBC, 128, IntegId.NONE, PrfId.HMAC_SHA2_256),
            (EncrId.AES_CBC, 100, IntegId.HMAC_SHA2_256_128, PrfId.HMAC_SHA2_256),
            (EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, 4),
        ]:
            self.assertRaises(UnsupportedAlgorithm, IkeSuite, *args, DhGroupId.ECP_256)
        self.assertRaises(
            UnsupportedAlgorithm,
            EspSuite,
            EncrId.AES_GCM_16,
            128,
            IntegId.HMAC_SHA2_256_128,
        )
        self.assertRaises(UnsupportedAlgorithm, EspSuite, EncrId.AES_CBC, 128, 0)

    def test_espFromProposal(self) -> None:
        """
        An ESP proposal's transforms, PFS group and ESN become the suite's.
        """
        proposal = EspProposal(
            EncrId.AES_CBC,
            128,
            IntegId.HMAC_SHA1_96,
            DhGroupId.CURVE_25519,
            esn=True,
        )
        self.assertEqual(
            EspSuite.from_proposal(proposal),
            EspSuite(
                EncrId.AES_CBC,
                128,
                IntegId.HMAC_SHA1_96,
                DhGroupId.CURVE_25519,
                True,
            ),
        )

    def test_reprHidesKeys(self) -> None:
        """
        Neither key container shows a key in its repr.
        """
        _, keys = derive_ike_keys(
            STRONGSWAN_SUITE, b"s" * 32, b"i" * 32, b"r" * 32, b"I" * 8, b"R" * 8
        )
        text = repr(keys)
        for value in (keys.skD, keys.skEi, keys.skAi, keys.skPi, keys.skPr):
            self.assertNotIn(repr(value)[2:-1], text)
            self.assertNotIn(value.hex(), text)
        self.assertIn("IkeKeys", text)
        child = ChildKeys(b"\x01" * 20, b"", b"\x02" * 20, b"")
        self.assertNotIn("01", repr(child))
        self.assertNotIn("x01", repr(child))
        self.assertIsInstance(keys, IkeKeys)


class ChildKeyTests(SynchronousTestCase):
    """
    L{derive_child_keys}.
    """

    def test_orderCbc(self) -> None:
        """
        KEYMAT is ENCRi | INTEGi | ENCRr | INTEGr.
        """
        prf = prf_for(PrfId.HMAC_SHA2_256)
        suite = EspSuite(EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_256_128)
        keys = derive_child_keys(prf, b"d" * 32, suite, b"i" * 16, b"r" * 16)
        keymat = prf.plus(b"d" * 32, b"i" * 16 + b"r" * 16, 128)
        self.assertEqual(
            (keys.encrI, keys.integI, keys.encrR, keys.integR),
            (keymat[:32], keymat[32:64], keymat[64:96], keymat[96:]),
        )

    def test_pfs(self) -> None:
        """
        With PFS, g^ir goes in front of the nonces.
        """
        prf = prf_for(PrfId.HMAC_SHA2_256)
        suite = EspSuite(EncrId.AES_GCM_16, 256, IntegId.NONE, DhGroupId.ECP_256)
        keys = derive_child_keys(
            prf, b"d" * 32, suite, b"i" * 16, b"r" * 16, sharedSecret=b"g" * 32
        )
        keymat = prf.plus(b"d" * 32, b"g" * 32 + b"i" * 16 + b"r" * 16, 72)
        self.assertEqual((keys.encrI, keys.encrR), (keymat[:36], keymat[36:]))
        withoutPfs = derive_child_keys(prf, b"d" * 32, suite, b"i" * 16, b"r" * 16)
        self.assertNotEqual(withoutPfs.encrI, keys.encrI)
