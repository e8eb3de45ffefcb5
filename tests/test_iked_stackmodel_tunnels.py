"""
Tests for L{nsstwisted.iked.stackmodel.tunnels} (a stack's tunnel tables and their
control operations) and L{nsstwisted.iked.stackmodel.tunnelreport} (what iked answers
to the tunnel display and control requests).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.ike.constants import DhGroupId, EncrId, IdType, IntegId, PrfId
from nsstwisted.iked.stackmodel.tunnelreport import (
    TUNNEL_CONTROL_REQUESTS,
    TUNNEL_REQUESTS,
    answer_tunnel_request,
    dynamic_record,
    ike_record,
)
from nsstwisted.iked.stackmodel.tunnels import (
    DynamicTunnel,
    EncapMode,
    IkeTunnel,
    IpsecProtocol,
    SaState,
    StackTunnels,
    TunnelHooks,
    TunnelOutcome,
    TunnelSelector,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.filters import (
    TunnelControl,
    TunnelStatus,
    control_records,
    decode_control_reply,
)
from nsstwisted.wire.nmi import (
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    decode_message,
    encode_message,
)
from nsstwisted.wire.tunnels import (
    IDENTITY_SIZE,
    IpTunnelType,
    decode_tunnel_report,
)

T = NmiMessageType
S = TunnelStatus


def filled() -> StackTunnels:
    """K1 and K2 from KeyExRule1; Y1, Y2 under K1; Y3 pending; M1, M2."""
    tunnels = StackTunnels()
    tunnels.add_ike("KeyExRule1", "10.1.1.1", "10.1.1.2", lifetime=28800)
    tunnels.add_ike("KeyExRule1", "10.1.1.1", "10.1.1.3")
    tunnels.add_dynamic("LocalDyn1", "DynAction1", ikeTunnelId="K1")
    tunnels.add_dynamic("LocalDyn2", "DynAction1", ikeTunnelId="K1")
    tunnels.add_dynamic("LocalDyn3", "DynAction3", state=SaState.PENDING)
    tunnels.add_manual("ManAction1", localAddress="10.1.1.1")
    tunnels.add_manual("ManAction2", state=SaState.ACTIVE)
    return tunnels


class TablesTests(SynchronousTestCase):
    def test_ids(self) -> None:
        tunnels = filled()
        self.assertEqual([t.tunnelId for t in tunnels.ike_tunnels()], ["K1", "K2"])
        self.assertEqual(
            [t.tunnelId for t in tunnels.dynamic_tunnels()], ["Y1", "Y2", "Y3"]
        )
        self.assertEqual([t.tunnelId for t in tunnels.manual_tunnels()], ["M1", "M2"])

    def test_neverReused(self) -> None:
        """
        A removed tunnel's number is not given again within the run.
        """
        tunnels = filled()
        removed = tunnels.remove("k2")
        assert isinstance(removed, IkeTunnel)
        self.assertEqual(removed.tunnelId, "K2")
        self.assertIsNone(tunnels.lookup("K2"))
        self.assertEqual(tunnels.add_ike("R", "::1", "::2").tunnelId, "K3")
        tunnels.remove("Y3")
        self.assertEqual(tunnels.add_dynamic("L", "A").tunnelId, "Y4")

    def test_lookup(self) -> None:
        tunnels = filled()
        found = tunnels.lookup("y2")
        assert isinstance(found, DynamicTunnel)
        self.assertEqual(found.localDynVpnRule, "LocalDyn2")
        for missing in ["Y9", "", "Z1", "K"]:
            self.assertIsNone(tunnels.lookup(missing))
            self.assertIsNone(tunnels.remove(missing))
        self.assertEqual(
            [t.tunnelId for t in tunnels.by_rule("KeyExRule1")], ["K1", "K2"]
        )
        self.assertEqual([t.tunnelId for t in tunnels.by_rule("ManAction2")], ["M2"])
        self.assertEqual(tunnels.by_rule("keyexrule1"), [])

    def test_separateStacks(self) -> None:
        one, two = StackTunnels(), StackTunnels()
        one.add_manual("A")
        self.assertEqual(two.add_manual("A").tunnelId, "M1")


class ControlTests(SynchronousTestCase):
    def test_deactivateIkeByName(self) -> None:
        tunnels = filled()
        self.assertEqual(
            tunnels.deactivate_ike(name="KeyExRule1"),
            [
                TunnelOutcome("KeyExRule1", "K1", S.STATEUPDATED),
                TunnelOutcome("KeyExRule1", "K2", S.STATEUPDATED),
            ],
        )
        self.assertEqual(
            [t.state for t in tunnels.ike_tunnels()], [SaState.INACTIVE] * 2
        )
        self.assertEqual(
            tunnels.deactivate_ike(tunnelId="k1"),
            [TunnelOutcome("KeyExRule1", "K1", S.STATEALREADYSET)],
        )

    def test_refreshIke(self) -> None:
        tunnels = filled()
        self.assertEqual(
            tunnels.refresh_ike(tunnelId="K2"),
            [TunnelOutcome("KeyExRule1", "K2", S.STATEUPDATED)],
        )
        tunnels.deactivate_ike(tunnelId="K2")
        self.assertEqual(
            tunnels.refresh_ike(tunnelId="K2")[0].status, S.STATEALREADYSET
        )

    def test_notFound(self) -> None:
        tunnels = filled()
        for outcome, wanted in [
            (tunnels.refresh_ike(tunnelId="K9"), ("", "K9")),
            (tunnels.refresh_ike(tunnelId="Y1"), ("", "Y1")),
            (tunnels.deactivate_ike("Nope"), ("Nope", "")),
            (tunnels.activate_dynamic("LocalDyn1", "Y2"), ("LocalDyn1", "Y2")),
            (tunnels.activate_manual(tunnelId="K1"), ("", "K1")),
        ]:
            self.assertEqual(outcome, [TunnelOutcome(*wanted, S.NOTFOUND)])
        self.assertRaises(ValueError, tunnels.deactivate_manual)

    def test_dynamic(self) -> None:
        tunnels = filled()
        self.assertEqual(
            tunnels.activate_dynamic("LocalDyn3"),
            [TunnelOutcome("LocalDyn3", "Y3", S.STATEUPDATED)],
        )
        self.assertEqual(
            tunnels.activate_dynamic(tunnelId="Y3")[0].status, S.STATEALREADYSET
        )
        self.assertEqual(tunnels.refresh_dynamic("LocalDyn1")[0].status, S.STATEUPDATED)
        self.assertEqual(
            tunnels.deactivate_dynamic("LocalDyn1", "y1")[0].status, S.STATEUPDATED
        )
        self.assertEqual(tunnels.lookup("Y1").state, SaState.INACTIVE)  # type: ignore[union-attr]

    def test_manual(self) -> None:
        tunnels = filled()
        self.assertEqual(
            tunnels.activate_manual("ManAction1"),
            [TunnelOutcome("ManAction1", "M1", S.STATEUPDATED)],
        )
        self.assertEqual(
            tunnels.activate_manual("ManAction1")[0].status, S.STATEALREADYSET
        )
        self.assertEqual(
            tunnels.deactivate_manual(tunnelId="M2")[0].status, S.STATEUPDATED
        )
        self.assertEqual(
            tunnels.deactivate_manual(tunnelId="M2")[0].status, S.STATEALREADYSET
        )

    def test_hooks(self) -> None:
        """
        The IKE engine's actions replace the bookkeeping; what they return
        is what the reply says.
        """
        called: list[str] = []

        def noKer(tunnel: object) -> TunnelStatus:
            called.append(getattr(tunnel, "tunnelId", "?"))
            return S.NOKER

        tunnels = filled()
        tunnels.hooks = TunnelHooks(activateDynamic=noKer)
        self.assertEqual(
            tunnels.activate_dynamic("LocalDyn3"),
            [TunnelOutcome("LocalDyn3", "Y3", S.NOKER)],
        )
        self.assertEqual(called, ["Y3"])
        self.assertEqual(tunnels.lookup("Y3").state, SaState.PENDING)  # type: ignore[union-attr]


def request(kind: NmiMessageType, *controls: TunnelControl) -> NmiMessage:
    records = control_records(kind, False, controls) if controls else ()
    return NmiMessage(kind, 5, target="TCPCS3", records=records)


def wire(message: NmiMessage) -> NmiMessage:
    """The message as the other end reads it."""
    decoded = decode_message(encode_message(message))
    assert isinstance(decoded, NmiMessage)
    return decoded


class AnswerTests(SynchronousTestCase):
    def test_displays(self) -> None:
        tunnels = filled()
        report = decode_tunnel_report(
            wire(answer_tunnel_request(request(T.GET_IKETUN), "TCPCS3", tunnels))
        )
        self.assertEqual(report.stackName, "TCPCS3")
        self.assertEqual([t.tunnelId for t in report.ikeTunnels], ["K1", "K2"])
        self.assertEqual(report.ikeTunnels[0].lifetime, 28800)
        report = decode_tunnel_report(
            wire(answer_tunnel_request(request(T.GET_IKETUNCASCADE), "TCPCS3", tunnels))
        )
        self.assertEqual([t.tunnelId for t in report.ipTunnels], ["Y1", "Y2"])
        for kind, ids, tunnelType in [
            (T.GET_IPTUNDYNIKE, ["Y1", "Y2", "Y3"], IpTunnelType.IKE),
            (T.GET_IPTUNDYNSTACK, ["Y1", "Y2"], IpTunnelType.STACK),
            (T.GET_IPTUNMANUAL, ["M1", "M2"], IpTunnelType.MANUAL),
        ]:
            report = decode_tunnel_report(
                wire(answer_tunnel_request(request(kind), "TCPCS3", tunnels))
            )
            self.assertEqual([t.tunnelId for t in report.ipTunnels], ids)
            self.assertEqual({t.tunnelType for t in report.ipTunnels}, {tunnelType})

    def test_empty(self) -> None:
        """
        Until the IKEv2 engine fills them, the tables are empty.
        """
        for kind in TUNNEL_REQUESTS - TUNNEL_CONTROL_REQUESTS:
            report = decode_tunnel_report(
                answer_tunnel_request(request(kind), "TCPCS", StackTunnels())
            )
            self.assertEqual((report.ikeTunnels, report.ipTunnels), ([], []))

    def test_control(self) -> None:
        tunnels = filled()
        reply = wire(
            answer_tunnel_request(
                request(
                    T.REFRESH_IKETUN,
                    TunnelControl(tunnelId="K1"),
                    TunnelControl(name="Other"),
                ),
                "TCPCS3",
                tunnels,
            )
        )
        self.assertEqual(
            decode_control_reply(reply),
            [
                TunnelControl("KeyExRule1", "K1", S.STATEUPDATED),
                TunnelControl("Other", "", S.NOTFOUND),
            ],
        )
        for kind, entry, status in [
            (T.DEACTIVATE_IKETUN, TunnelControl(tunnelId="K2"), S.STATEUPDATED),
            (T.ACTIVATE_IPTUNDYN, TunnelControl("LocalDyn3"), S.STATEUPDATED),
            (T.DEACTIVATE_IPTUNDYN, TunnelControl(tunnelId="Y1"), S.STATEUPDATED),
            (T.REFRESH_IPTUNDYN, TunnelControl(tunnelId="Y1"), S.STATEALREADYSET),
            (T.ACTIVATE_IPTUNMANUAL, TunnelControl("ManAction1"), S.STATEUPDATED),
            (T.DEACTIVATE_IPTUNMANUAL, TunnelControl("ManAction2"), S.STATEUPDATED),
        ]:
            [answer] = decode_control_reply(
                answer_tunnel_request(request(kind, entry), "TCPCS3", tunnels)
            )
            self.assertEqual(answer.status, status, kind)
        self.assertEqual(
            [t.state for t in tunnels.manual_tunnels()],
            [SaState.ACTIVE, SaState.INACTIVE],
        )

    def test_refused(self) -> None:
        tunnels = filled()
        blank = NmiRecord((NmiSection(1, b" " * 96 + bytes(4)),))
        bad = NmiRecord((NmiSection(1, b"x"),))
        for message, text in [
            (
                NmiMessage(T.GET_IKETUN, 1, records=(bad,)),
                "NMsec_GET_IKETUN takes no records",
            ),
            (request(T.REFRESH_IKETUN), "names at least one tunnel"),
            (
                NmiMessage(T.REFRESH_IKETUN, 1, records=(blank,)),
                "names neither a tunnel ID nor a name",
            ),
            (
                NmiMessage(T.REFRESH_IKETUN, 1, records=(bad,)),
                "NMsec_REFRESH_IKETUN: NMsecTunnel record 1",
            ),
        ]:
            reply = answer_tunnel_request(message, "TCPCS3", tunnels)
            self.assertEqual(
                (reply.returnCode, reply.reasonCode),
                (ReturnCode.EINVAL, ReasonCode.NSSRsnBadField),
            )
            self.assertIn(text, reply.lines()[0])
        self.assertRaises(
            ValueError,
            answer_tunnel_request,
            request(T.GET_IPFLTCURR),
            "TCPCS3",
            tunnels,
        )
        self.assertRaises(
            ValueError,
            answer_tunnel_request,
            request(T.GET_IKETUN).answer(),
            "TCPCS3",
            tunnels,
        )


class RecordTests(SynchronousTestCase):
    """
    The model's tunnels as the wire carries them: what the engine fills
    in (SPIs as the octets it holds, the engine's IANA enumerations)
    arrives as the record's numbers, and what the tables know (how many
    dynamic tunnels an IKE tunnel has, whether its IKE tunnel saw NAT)
    is added.
    """

    def negotiated(self) -> StackTunnels:
        tunnels = StackTunnels()
        tunnels.add_ike(
            "KeyExRule1",
            "10.1.1.1",
            "192.0.2.7",
            localNat=True,
            localSpi=bytes.fromhex("0102030405060708"),
            remoteSpi=bytes.fromhex("a1a2a3a4a5a6a7a8"),
            encryption=EncrId.AES_CBC,
            keyLength=256,
            integrity=IntegId.HMAC_SHA2_384_192,
            prf=PrfId.HMAC_SHA2_384,
            dhGroup=DhGroupId.ECP_384,
            localIdType=IdType.FQDN,
            localId="zos.example.com",
        )
        tunnels.add_ike("KeyExRule2", "10.1.1.1", "192.0.2.8")
        for rule in ("LocalDyn1", "LocalDyn2"):
            tunnels.add_dynamic(
                rule,
                "DynAction1",
                ikeTunnelId="K1",
                inboundSpi=b"\xc1\x23\x45\x67",
                outboundSpi=b"\xca\xbc\xde\xf0",
                protocol=IpsecProtocol.ESP,
                mode=EncapMode.TUNNEL,
                encryption=EncrId.AES_GCM_16,
                keyLength=128,
                pfsGroup=DhGroupId.CURVE_25519,
                localSelector=TunnelSelector.of_network("10.1.0.0/24"),
                udpEncapsulation=True,
                localUdpPort=4500,
                remoteUdpPort=4500,
            )
        tunnels.add_dynamic("LocalDyn3", "DynAction3", ikeTunnelId="K9")
        return tunnels

    def test_ikeRecord(self) -> None:
        [k1, k2] = decode_tunnel_report(
            wire(
                answer_tunnel_request(
                    request(T.GET_IKETUN), "TCPCS3", self.negotiated()
                )
            )
        ).ikeTunnels
        self.assertEqual(
            (k1.localSpi, k1.remoteSpi), (0x0102030405060708, 0xA1A2A3A4A5A6A7A8)
        )
        self.assertEqual(
            (k1.encryption, k1.keyLength, k1.integrity, k1.prf, k1.dhGroup),
            (12, 256, 13, 6, 20),
        )
        self.assertEqual((k1.localIdType, k1.localId), (2, "zos.example.com"))
        self.assertEqual((k1.remoteIdType, k1.remoteId), (0, ""))
        self.assertEqual((k1.dynamicTunnels, k2.dynamicTunnels), (2, 0))
        self.assertEqual((k2.localSpi, k2.encryption), (0, 0))

    def test_dynamicRecord(self) -> None:
        """
        A dynamic tunnel takes NAT from its IKE tunnel, in every display
        that lists it; one whose IKE tunnel is gone has none.
        """
        tunnels = self.negotiated()
        for kind in (T.GET_IPTUNDYNIKE, T.GET_IKETUNCASCADE):
            report = decode_tunnel_report(
                wire(answer_tunnel_request(request(kind), "TCPCS3", tunnels))
            )
            y1 = report.ipTunnels[0]
            self.assertEqual((y1.inboundSpi, y1.outboundSpi), (0xC1234567, 0xCABCDEF0))
            self.assertEqual(
                (y1.protocol, y1.mode), (IpsecProtocol.ESP, EncapMode.TUNNEL)
            )
            self.assertEqual((y1.encryption, y1.keyLength, y1.pfsGroup), (20, 128, 31))
            self.assertEqual(y1.localSelector, TunnelSelector.of_network("10.1.0.0/24"))
            self.assertIsNone(y1.remoteSelector)
            self.assertEqual(
                (y1.udpEncapsulation, y1.localUdpPort, y1.remoteUdpPort),
                (True, 4500, 4500),
            )
            self.assertEqual((y1.localNat, y1.remoteNat), (True, False))
        orphan = dynamic_record(tunnels.dynamic_tunnels()[2], IpTunnelType.IKE)
        self.assertEqual((orphan.localNat, orphan.inboundSpi), (False, 0))

    def test_badSpi(self) -> None:
        """An SPI of the wrong size is the engine's bug, and is refused."""
        ike = IkeTunnel("K1", "R", "10.0.0.1", "10.0.0.2", localSpi=b"\x01" * 4)
        self.assertRaises(ValueError, ike_record, ike)
        dynamic = DynamicTunnel(
            "Y1", "L", "A", protocol=IpsecProtocol.ESP, inboundSpi=b"\x01" * 8
        )
        self.assertRaises(ValueError, dynamic_record, dynamic, IpTunnelType.IKE)

    def test_identities(self) -> None:
        """
        An identity the record cannot hold as it is: control characters
        become C{?}, and a long one is cut to fit with an ellipsis, on a
        character boundary.
        """
        long = "CN=" + "\u00e9" * 200
        ike = IkeTunnel(
            "K1",
            "R",
            "10.0.0.1",
            "10.0.0.2",
            localIdType=IdType.DER_ASN1_DN,
            localId=long,
            remoteIdType=IdType.FQDN,
            remoteId="moon\n.example.com\x85 ",
        )
        record = ike_record(ike)
        self.assertEqual(record.remoteId, "moon?.example.com?")
        self.assertTrue(record.localId.endswith("\u00e9..."))
        self.assertTrue(long.startswith(record.localId[:-3]))
        self.assertLessEqual(len(record.localId.encode()), IDENTITY_SIZE)
        self.assertGreater(len(record.localId.encode()), IDENTITY_SIZE - 4)
        fits = "x" * IDENTITY_SIZE
        self.assertEqual(
            ike_record(
                IkeTunnel(
                    "K1", "R", "10.0.0.1", "10.0.0.2", localIdType=2, localId=fits
                )
            ).localId,
            fits,
        )
