"""
Tests for L{nsstwisted.wire.tunnels}: the NMsecIKETunnel and NMsecIPTunnel
records of the tunnel display requests.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import struct
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.filters import TunnelControl, TunnelStatus, encode_control_reply
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
    IKE_TUNNEL_SIZE,
    IP_TUNNEL_SIZE,
    TUNNEL_DISPLAY_REQUESTS,
    EncapMode,
    IkeRole,
    IkeTunnelInfo,
    IpsecProtocol,
    IpTunnelInfo,
    IpTunnelType,
    SaState,
    TunnelSelector,
    decode_ike_tunnel,
    decode_ip_tunnel,
    decode_tunnel_report,
    encode_ike_tunnel,
    encode_ip_tunnel,
    encode_tunnel_reply,
    tunnel_from_records,
    tunnel_records,
)
from tests.strategies import ike_tunnels, ip_tunnels, tunnel_selectors

T = NmiMessageType

DOCS = Path(__file__).parent.parent / "docs" / "nmi.md"

K1 = IkeTunnelInfo(
    "K1",
    "KeyExRule1",
    "10.1.1.1",
    "10.1.1.2",
    activated=1_700_000_000,
    lifetime=28800,
)
Y1 = IpTunnelInfo(
    "Y1",
    "DynAction1",
    IpTunnelType.IKE,
    rule="LocalDyn1",
    ikeTunnelId="K1",
    localAddress="10.1.1.1",
    remoteAddress="10.1.1.2",
    lifetime=3600,
)
M1 = IpTunnelInfo("M1", "ManAction1", IpTunnelType.MANUAL, state=SaState.INACTIVE)

# The worked examples of docs/nmi.md: what iked reports of an IKE SA and
# its CHILD_SA as strongSwan negotiates them with iked's initiator, the
# peer behind a NAT.  IKE: AES-CBC-128, HMAC-SHA2-256-128, PRF
# HMAC-SHA2-256, Curve25519, our RSA signature and the peer's RFC 7427
# digital signature, both on port 4500 after NAT detection.  ESP:
# AES-GCM-16-128 in tunnel mode, 10.1.0.0/24 here and 10.2.0.0/24 there,
# encapsulated in UDP, no PFS (the CHILD_SA of IKE_AUTH).
ACTIVATED = 1163762349  # 2006-11-17 11:19:09 UTC
EXAMPLE_K1 = IkeTunnelInfo(
    "K1",
    "KeyExRule1",
    "10.1.1.1",
    "192.0.2.7",
    role=IkeRole.INITIATOR,
    remoteNat=True,
    activated=ACTIVATED,
    lifetime=28800,
    keyExchangeAction="KeyExAction1",
    localSpi=0x8A3F2C1D4E5B6A79,
    remoteSpi=0xF1E2D3C4B5A69788,
    localPort=4500,
    remotePort=4500,
    encryption=12,
    keyLength=128,
    integrity=12,
    prf=5,
    dhGroup=31,
    localAuthMethod=1,
    remoteAuthMethod=14,
    localIdType=9,
    localId="CN=TCPCS3, O=Example",
    remoteIdType=2,
    remoteId="moon.example.com",
    refresh=ACTIVATED + 25200,
    dynamicTunnels=1,
)
EXAMPLE_Y1 = IpTunnelInfo(
    "Y1",
    "DynAction1",
    IpTunnelType.IKE,
    rule="LocalDyn1",
    ikeTunnelId="K1",
    localAddress="10.1.1.1",
    remoteAddress="192.0.2.7",
    activated=ACTIVATED + 1,
    lifetime=3600,
    inboundSpi=0xC1234567,
    outboundSpi=0xCABCDEF0,
    protocol=IpsecProtocol.ESP,
    mode=EncapMode.TUNNEL,
    encryption=20,
    keyLength=128,
    localSelector=TunnelSelector.of_network("10.1.0.0/24"),
    remoteSelector=TunnelSelector.of_network("10.2.0.0/24"),
    udpEncapsulation=True,
    localUdpPort=4500,
    remoteUdpPort=4500,
    remoteNat=True,
    refresh=ACTIVATED + 1 + 3240,
)


def request(kind: NmiMessageType) -> NmiMessage:
    return NmiMessage(kind, 7, target="TCPCS3")


class EntryTests(SynchronousTestCase):
    @given(ike_tunnels)
    def test_ikeRoundTrip(self, info: IkeTunnelInfo) -> None:
        data = encode_ike_tunnel(info)
        self.assertEqual(len(data), IKE_TUNNEL_SIZE)
        self.assertEqual(decode_ike_tunnel(data), info)

    @given(ip_tunnels())
    def test_ipRoundTrip(self, info: IpTunnelInfo) -> None:
        data = encode_ip_tunnel(info)
        self.assertEqual(len(data), IP_TUNNEL_SIZE)
        self.assertEqual(decode_ip_tunnel(data), info)

    def test_ibmOffsets(self) -> None:
        """
        IBM's part of NMsecIPTunnel: ID at 0, VPN action at 48, flags at
        96, type at 100, state at 101.
        """
        data = encode_ip_tunnel(
            dataclasses.replace(Y1, localAddress="::1", remoteAddress="::2")
        )
        self.assertEqual(data[0:2], b"Y1")
        self.assertEqual(data[48:58], b"DynAction1")
        self.assertEqual(data[96:100], b"\x00\x00\x00\x01")
        self.assertEqual(data[100:102], bytes([3, 4]))
        ike = encode_ike_tunnel(dataclasses.replace(K1, remoteNat=True))
        self.assertEqual(ike[192:196], b"\x00\x00\x00\x08")

    @given(st.binary(min_size=IKE_TUNNEL_SIZE, max_size=IKE_TUNNEL_SIZE))
    def test_ikeTotal(self, data: bytes) -> None:
        """
        The decoder raises nothing but FieldDecodeError, and what it
        accepts encodes back to the same bytes.
        """
        try:
            info = decode_ike_tunnel(data)
        except FieldDecodeError:
            return
        self.assertEqual(encode_ike_tunnel(info), data)

    @given(st.binary(min_size=IP_TUNNEL_SIZE, max_size=IP_TUNNEL_SIZE))
    def test_ipTotal(self, data: bytes) -> None:
        try:
            info = decode_ip_tunnel(data)
        except FieldDecodeError:
            return
        self.assertEqual(encode_ip_tunnel(info), data)

    def test_badEntries(self) -> None:
        good = bytearray(
            encode_ike_tunnel(
                dataclasses.replace(K1, localIdType=9, localId="CN=K1", remoteId="")
            )
        )
        for offset, value, text in [
            (192, 0x10, "NMsIKETunFlags: bits 0x10"),
            (195, 0x01, "IPv6 bit contradicts"),
            (196, 0, "NMsIKETunState: 0 is not a SaState"),
            (197, 3, "ikeVersion 3"),
            (198, 9, "NMsIKETunRole"),
            (199, 1, "reserved"),
            (0, 0x20, "NMsIKETunID"),
            (0x13E, 1, "reserved"),
            (0x13C, 0, "localIdType and localId are given together"),
            (0x240, ord("x"), "remoteIdType and remoteId are given together"),
            (0x140, 0xFF, "NMsIKETunLocalID: not valid utf-8"),
            (0x140, 0x07, "NMsIKETunLocalID: holds a control character"),
            (0xD9, ord("x"), "NMsIKETunKeyExchangeAction"),
        ]:
            data = bytearray(good)
            data[offset] = value
            with self.assertRaises(FieldDecodeError) as caught:
                decode_ike_tunnel(bytes(data))
            self.assertIn(text, caught.exception.detail, offset)
        self.assertRaises(FieldDecodeError, decode_ike_tunnel, bytes(10))
        ip = bytearray(encode_ip_tunnel(M1))
        for offset, value, text in [
            (99, 0x04, "NMsIPTunFlags: bits 0x4"),
            (99, 0x01, "IPv6 bit contradicts"),
            (100, 7, "NMsIPTunType"),
            (101, 0, "NMsIPTunState"),
            (102, 1, "reserved"),
            (104, ord("R"), "a manual tunnel has no rule"),
            (0x17B, 1, "reserved"),
            (0x18A, 1, "reserved"),
            (0x17A, 0x08, "NMsIPTunFlags2: bits 0x8"),
            (0x178, 6, "NMsIPTunProtocol: 6 is not a IpsecProtocol"),
            (0x179, 3, "NMsIPTunMode: 3 is not a EncapMode"),
            (0x13B, 1, "an SPI is given without a protocol"),
            (0x17D, 1, "UDP encapsulation ports without UDP encapsulation"),
            (0x180, 6, "NMsIPTunLocalSel: a blank selector has protocol"),
            (0x1F0, ord("1"), "NMsIPTunRemoteSel: TunnelSelector: startAddress"),
        ]:
            data = bytearray(ip)
            data[offset] = value
            with self.assertRaises(FieldDecodeError) as caught:
                decode_ip_tunnel(bytes(data))
            self.assertIn(text, caught.exception.detail, offset)
        self.assertRaises(FieldDecodeError, decode_ip_tunnel, bytes(10))
        # The selectors of a good dynamic tunnel.
        ip = bytearray(encode_ip_tunnel(EXAMPLE_Y1))
        for offset, patch, text in [
            (0x190, b":", "NMsIPTunLocalSel: TunnelSelector: startAddress"),
            (0x1C3, b"0", "NMsIPTunLocalSel: TunnelSelector: endAddress is below"),
            (0x1F0, b"::1     ", "NMsIPTunRemoteSel: TunnelSelector: startAddress and"),
            (0x182, b"\x01\x00\x00\xff", "NMsIPTunLocalSel: TunnelSelector: endPort"),
        ]:
            data = bytearray(ip)
            data[offset : offset + len(patch)] = patch
            with self.assertRaises(FieldDecodeError) as caught:
                decode_ip_tunnel(bytes(data))
            self.assertIn(text, caught.exception.detail, offset)

    def test_badValues(self) -> None:
        for make in [
            lambda: IkeTunnelInfo("", "R", "10.0.0.1", "10.0.0.2"),
            lambda: IkeTunnelInfo("K1", "", "10.0.0.1", "10.0.0.2"),
            lambda: IkeTunnelInfo("K1", "R", "", "10.0.0.2"),
            lambda: IkeTunnelInfo("K1", "R", "10.0.0.1", "::2"),
            lambda: IkeTunnelInfo("K1", "R", "10.0.0.1", "nowhere"),
            lambda: IkeTunnelInfo("K 1", "R", "10.0.0.1", "10.0.0.2"),
            lambda: IkeTunnelInfo("K1", "R", "10.0.0.1", "10.0.0.2", ikeVersion=3),
            lambda: IkeTunnelInfo("K1", "R", "10.0.0.1", "10.0.0.2", lifetime=-1),
            lambda: IkeTunnelInfo("K1", "R", "10.0.0.1", "10.0.0.2", state=4),  # type: ignore[arg-type]
            lambda: IpTunnelInfo("M1", "A", IpTunnelType.MANUAL, rule="R"),
            lambda: IpTunnelInfo("Y1", "A", 3),  # type: ignore[arg-type]
            lambda: IpTunnelInfo("Y1", "", IpTunnelType.IKE),
            lambda: IpTunnelInfo("Y1", "A", IpTunnelType.IKE, localAddress="1.2.3"),
            lambda: IpTunnelInfo("Y1", "A", IpTunnelType.IKE, fips140=1),  # type: ignore[arg-type]
            lambda: dataclasses.replace(K1, localSpi=2**64),
            lambda: dataclasses.replace(K1, keyExchangeAction="Key Ex"),
            lambda: dataclasses.replace(K1, localIdType=256, localId="x"),
            lambda: dataclasses.replace(K1, remoteIdType=2),
            lambda: dataclasses.replace(K1, remoteId="moon"),
            lambda: dataclasses.replace(K1, localIdType=2, localId="é" * 129),
            lambda: dataclasses.replace(K1, localIdType=2, localId="a\nb"),
            lambda: dataclasses.replace(K1, dhGroup=-1),
            lambda: dataclasses.replace(K1, dynamicTunnels=2**32),
            lambda: dataclasses.replace(Y1, inboundSpi=1),
            lambda: dataclasses.replace(Y1, protocol=50),  # type: ignore[arg-type]
            lambda: dataclasses.replace(Y1, mode=EncapMode.TUNNEL.text),  # type: ignore[arg-type]
            lambda: dataclasses.replace(Y1, localUdpPort=4500),
            lambda: dataclasses.replace(Y1, udpEncapsulation=1),  # type: ignore[arg-type]
            lambda: dataclasses.replace(Y1, localSelector="10.0.0.0/8"),  # type: ignore[arg-type]
            lambda: dataclasses.replace(EXAMPLE_Y1, outboundSpi=2**32),
            lambda: dataclasses.replace(EXAMPLE_Y1, inboundBytes=2**64),
        ]:
            self.assertRaises(ValueError, make)
        self.assertRaises(ValueError, encode_ike_tunnel, Y1)
        self.assertRaises(ValueError, encode_ip_tunnel, K1)


class SelectorTests(SynchronousTestCase):
    def test_ofNetwork(self) -> None:
        selector = TunnelSelector.of_network("10.2.0.0/24", 6, 443, 443)
        self.assertEqual(
            selector, TunnelSelector("10.2.0.0", "10.2.0.255", 6, 443, 443)
        )
        self.assertEqual(selector.prefix, 24)
        self.assertEqual(TunnelSelector.of_network("2001:db8::/32").prefix, 32)
        self.assertEqual(
            TunnelSelector.of_network("192.0.2.7"),
            TunnelSelector("192.0.2.7", "192.0.2.7"),
        )

    def test_prefix(self) -> None:
        """The prefix length of a range that is one network, else None."""
        for first, last, prefix in [
            ("10.0.0.1", "10.0.0.1", 32),
            ("0.0.0.0", "255.255.255.255", 0),  # noqa: S104
            ("10.0.0.0", "10.0.0.7", 29),
            ("10.0.0.4", "10.0.0.11", None),
            ("10.0.0.1", "10.0.0.2", None),
            ("10.0.0.0", "10.0.0.2", None),
            ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0),
            ("fe80::", "fe80::ffff", 112),
        ]:
            self.assertEqual(TunnelSelector(first, last).prefix, prefix, first)

    @given(tunnel_selectors())
    def test_prefixIsTheNetwork(self, selector: TunnelSelector | None) -> None:
        if selector is None or selector.prefix is None:
            return
        network = ipaddress.ip_network(f"{selector.startAddress}/{selector.prefix}")
        self.assertEqual(str(network.broadcast_address), selector.endAddress)

    def test_bad(self) -> None:
        for make in [
            lambda: TunnelSelector("", "10.0.0.1"),
            lambda: TunnelSelector("10.0.0.1", "nowhere"),
            lambda: TunnelSelector("10.0.0.1", "::1"),
            lambda: TunnelSelector("10.0.0.2", "10.0.0.1"),
            lambda: TunnelSelector("10.0.0.1", "10.0.0.1", 256),
            lambda: TunnelSelector("10.0.0.1", "10.0.0.1", 6, 80, 79),
            lambda: TunnelSelector("10.0.0.1", "10.0.0.1", 6, 0, 65536),
            lambda: TunnelSelector("10.0.0.1", "10.0.0.1", True),
        ]:
            self.assertRaises(ValueError, make)


class ReplyTests(SynchronousTestCase):
    def roundTrip(self, message: NmiMessage) -> NmiMessage:
        decoded = decode_message(encode_message(message))
        assert isinstance(decoded, NmiMessage)
        return decoded

    def test_iketun(self) -> None:
        reply = self.roundTrip(
            encode_tunnel_reply(request(T.GET_IKETUN), "TCPCS3", [K1])
        )
        report = decode_tunnel_report(reply)
        self.assertEqual(
            (report.stackName, report.ikeTunnels, report.ipTunnels),
            ("TCPCS3", [K1], []),
        )
        self.assertEqual(len(reply.records), 2)
        self.assertEqual(reply.records[0].sections, (NmiSection(1, b"TCPCS3  "),))

    def test_cascade(self) -> None:
        k2 = dataclasses.replace(K1, tunnelId="K2")
        y2 = dataclasses.replace(Y1, tunnelId="Y2")
        y3 = dataclasses.replace(Y1, tunnelId="Y3", ikeTunnelId="K2")
        reply = self.roundTrip(
            encode_tunnel_reply(
                request(T.GET_IKETUNCASCADE), "TCPCS3", [K1, k2], [y3, Y1, y2]
            )
        )
        self.assertEqual([len(r.sections) for r in reply.records], [1, 2, 2])
        self.assertEqual(reply.records[1].sections[1].entries, 2)
        report = decode_tunnel_report(reply)
        self.assertEqual(report.ikeTunnels, [K1, k2])
        self.assertEqual(report.ipTunnels, [Y1, y2, y3])

    def test_emptyCascade(self) -> None:
        reply = encode_tunnel_reply(request(T.GET_IKETUNCASCADE), "TCPCS3", [K1])
        self.assertEqual(reply.records[1].sections[1], NmiSection(0, b""))
        self.assertEqual(decode_tunnel_report(self.roundTrip(reply)).ipTunnels, [])

    def test_ipTunnels(self) -> None:
        stack = dataclasses.replace(Y1, tunnelType=IpTunnelType.STACK)
        for kind, tunnels in [
            (T.GET_IPTUNDYNIKE, [Y1]),
            (T.GET_IPTUNDYNSTACK, [stack]),
            (T.GET_IPTUNMANUAL, [M1]),
            (T.GET_IPTUNMANUAL, []),
        ]:
            reply = self.roundTrip(
                encode_tunnel_reply(request(kind), "TCPCS3", ipTunnels=tunnels)
            )
            self.assertEqual(decode_tunnel_report(reply).ipTunnels, tunnels)

    @given(
        st.sampled_from(sorted(TUNNEL_DISPLAY_REQUESTS)),
        st.lists(ike_tunnels, max_size=3, unique_by=lambda t: t.tunnelId),
        st.data(),
    )
    def test_roundTrip(
        self, kind: NmiMessageType, ikes: list[IkeTunnelInfo], data: st.DataObject
    ) -> None:
        wanted = {
            T.GET_IPTUNDYNIKE: IpTunnelType.IKE,
            T.GET_IPTUNDYNSTACK: IpTunnelType.STACK,
            T.GET_IPTUNMANUAL: IpTunnelType.MANUAL,
            T.GET_IKETUNCASCADE: IpTunnelType.IKE,
        }.get(kind)
        ips: list[IpTunnelInfo] = []
        if kind == T.GET_IKETUNCASCADE and ikes:
            parents = [t.tunnelId for t in ikes]
            for tunnel in data.draw(st.lists(ip_tunnels(IpTunnelType.IKE), max_size=3)):
                ips.append(
                    dataclasses.replace(
                        tunnel, ikeTunnelId=data.draw(st.sampled_from(parents))
                    )
                )
            ips.sort(key=lambda t: parents.index(t.ikeTunnelId))
        elif wanted is not None and kind != T.GET_IKETUNCASCADE:
            ikes = []
            ips = data.draw(st.lists(ip_tunnels(wanted), max_size=3))
        if kind not in (T.GET_IKETUN, T.GET_IKETUNCASCADE):
            ikes = []
        records = tunnel_records(kind, "TCPCS3", ikes, ips)
        report = tunnel_from_records(kind, records)
        self.assertEqual((report.ikeTunnels, report.ipTunnels), (ikes, ips))

    def test_refusedData(self) -> None:
        y_orphan = dataclasses.replace(Y1, ikeTunnelId="K9")
        for kind, ikes, ips, text in [
            (T.GET_IKETUN, [K1], [Y1], "lists no dynamic tunnels"),
            (T.GET_IPTUNMANUAL, [], [Y1], "not the MANUAL"),
            (T.GET_IPTUNDYNIKE, [K1], [], "lists no IKE tunnels"),
            (T.GET_IKETUNCASCADE, [K1], [y_orphan], "does not list"),
            (T.GET_IKETUNCASCADE, [K1, K1], [], "each IKE tunnel once"),
            (T.GET_IPFLTCURR, [], [], "not a tunnel display request"),
        ]:
            with self.assertRaises(ValueError) as caught:
                tunnel_records(kind, "TCPCS3", ikes, ips)
            self.assertIn(text, str(caught.exception))
        self.assertRaises(ValueError, tunnel_records, T.GET_IKETUN, "", [])
        self.assertRaises(ValueError, tunnel_records, T.GET_IKETUN, "TOOLONGNAME", [])
        answered = request(T.GET_IKETUN).answer()
        self.assertRaises(ValueError, encode_tunnel_reply, answered, "TCPCS3")
        self.assertRaises(ValueError, decode_tunnel_report, request(T.GET_IKETUN))

    def test_refusedRecords(self) -> None:
        stack = NmiRecord((NmiSection(1, b"TCPCS3  "),))
        ike = NmiRecord((NmiSection(1, encode_ike_tunnel(K1)),))
        y1 = encode_ip_tunnel(Y1)
        for kind, records, text in [
            (T.GET_IKETUN, [], "the stack record is missing"),
            (T.GET_IKETUN, [NmiRecord((NmiSection(1, b" " * 8),))], "blank"),
            (T.GET_IKETUN, [NmiRecord((NmiSection(1, b"TCPCS3"),))], "8 bytes"),
            (T.GET_IKETUN, [stack, ike, ike], "listed twice"),
            (T.GET_IKETUNCASCADE, [stack, ike], "has 2 sections, not 1"),
            (
                T.GET_IKETUNCASCADE,
                [stack, NmiRecord((ike.sections[0], NmiSection(2, y1)))],
                f"2 entries of {IP_TUNNEL_SIZE} bytes",
            ),
            (
                T.GET_IKETUNCASCADE,
                [
                    stack,
                    NmiRecord(
                        (
                            NmiSection(
                                1,
                                encode_ike_tunnel(
                                    dataclasses.replace(K1, tunnelId="K2")
                                ),
                            ),
                            NmiSection(1, y1),
                        )
                    ),
                ],
                "is under K2, but names 'K1'",
            ),
            (
                T.GET_IPTUNMANUAL,
                [stack, NmiRecord((NmiSection(1, y1),))],
                "not the MANUAL",
            ),
            (
                T.GET_IPTUNMANUAL,
                [stack, ike],
                f"tunnel record 1: tunnel record 1 holds 1 entry of {IP_TUNNEL_SIZE}",
            ),
            (T.GET_IPFLTCURR, [stack], "not a tunnel display request"),
        ]:
            with self.assertRaises(FieldDecodeError) as caught:
                tunnel_from_records(kind, records)
            self.assertIn(text, caught.exception.detail, text)

    def test_reservedStruct(self) -> None:
        """The layouts' sizes are what the documentation says."""
        self.assertEqual(
            struct.calcsize(">48s48s48s48sIBBBBQI4s48sQQQQIHHHHHHHBBBB2s256s256s"),
            IKE_TUNNEL_SIZE,
        )
        self.assertEqual(IKE_TUNNEL_SIZE, 0x340)
        self.assertEqual(IP_TUNNEL_SIZE, 0x250)
        self.assertEqual(IDENTITY_SIZE, 256)

    def test_firstLayoutKept(self) -> None:
        """
        The fields of the first layouts keep their offsets: the new ones
        follow them.
        """
        ike = encode_ike_tunnel(EXAMPLE_K1)
        self.assertEqual(ike[0xC8:0xD0], ACTIVATED.to_bytes(8, "big"))
        self.assertEqual(ike[0xD0:0xD4], (28800).to_bytes(4, "big"))
        self.assertEqual(ike[0xD8:0xE4], b"KeyExAction1")
        self.assertEqual(ike[0x108:0x110], bytes.fromhex("8a3f2c1d4e5b6a79"))
        self.assertEqual(ike[0x140:0x154], b"CN=TCPCS3, O=Example")
        self.assertEqual(ike[0x240:0x250], b"moon.example.com")
        ip = encode_ip_tunnel(EXAMPLE_Y1)
        self.assertEqual(ip[0x128:0x130], (ACTIVATED + 1).to_bytes(8, "big"))
        self.assertEqual(ip[0x138:0x140], bytes.fromhex("c1234567cabcdef0"))
        self.assertEqual(ip[0x178:0x17B], bytes([50, 1, 0x05]))
        self.assertEqual(ip[0x190:0x198], b"10.1.0.0")
        self.assertEqual(ip[0x1F0:0x1F8], b"10.2.0.0")


class DocumentationTests(SynchronousTestCase):
    """
    C{docs/nmi.md} shows what the codec makes.
    """

    def test_refreshExample(self) -> None:
        reply = encode_control_reply(
            NmiMessage(T.REFRESH_IKETUN, 10, target="client3"),
            [TunnelControl("KeyExRule1", "K1", TunnelStatus.STATEUPDATED)],
        )
        data = encode_message(reply)
        dump = "\n".join(
            f"{offset:04x}  " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
            for offset in range(0, len(data), 16)
        )
        self.assertIn(f"```text\n{dump}\n```", DOCS.read_text(encoding="utf-8"))

    def dump(self, message: NmiMessage) -> str:
        data = encode_message(message)
        return "\n".join(
            f"{offset:04x}  " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
            for offset in range(0, len(data), 16)
        )

    def test_ikeTunnelExample(self) -> None:
        """The GET_IKETUN reply of section 16.7, and what it decodes to."""
        reply = encode_tunnel_reply(
            NmiMessage(T.GET_IKETUN, 12, target="client3"), "TCPCS3", [EXAMPLE_K1]
        )
        self.assertIn(
            f"```text\n{self.dump(reply)}\n```", DOCS.read_text(encoding="utf-8")
        )
        self.assertEqual(decode_tunnel_report(reply).ikeTunnels, [EXAMPLE_K1])

    def test_dynamicTunnelExample(self) -> None:
        """The GET_IPTUNDYNIKE reply of section 16.8."""
        reply = encode_tunnel_reply(
            NmiMessage(T.GET_IPTUNDYNIKE, 13, target="client3"),
            "TCPCS3",
            ipTunnels=[EXAMPLE_Y1],
        )
        self.assertIn(
            f"```text\n{self.dump(reply)}\n```", DOCS.read_text(encoding="utf-8")
        )
        self.assertEqual(decode_tunnel_report(reply).ipTunnels, [EXAMPLE_Y1])

    def test_tables(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        section = text[text.index("## 16.") :]
        for state in SaState:
            self.assertIn(f"| {int(state)} | ", section)
            self.assertIn(f"| `{state.text}` |", section)
        self.assertIn(f"### 16.2 NMsecIKETunnel ({IKE_TUNNEL_SIZE} bytes)", section)
        self.assertIn(f"### 16.3 NMsecIPTunnel ({IP_TUNNEL_SIZE} bytes)", section)
        for kind in range(40, 47):
            self.assertIn(f"| {kind} | `{NmiMessageType(kind).ibmName}` |", section)
        for protocol in IpsecProtocol:
            self.assertIn(f"{int(protocol)} {protocol.text}", section)
        for mode in EncapMode:
            self.assertIn(f"{int(mode)} {mode.text}", section)
