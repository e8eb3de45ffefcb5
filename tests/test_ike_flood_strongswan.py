"""
A real iked (twistd, signing through a real nssd) under a flood of 1,000
IKE_SA_INIT requests from forged source addresses, while a real strongSwan
peer sets up its IKE SA and CHILD_SA: the flood meets COOKIEs (and
refusals), the peer answers its COOKIE and gets in, and iked writes no
per-packet line above debug level.

The forged requests are sent through a raw socket in the test's network
namespace, with the source addresses written into the IP header: half from
strongSwan's own address (127.0.0.1, port 500; what an attacker who knows
the peer forges, and what reaches the DH work and the half-open table),
half from 500 other addresses that no KeyExchangeRule admits.  Nobody
listens at any of them, so no COOKIE is ever answered.
"""

from __future__ import annotations

import os
import struct
import sys

from cryptography import x509
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from nsstwisted.ike.engine import IkeEngine
from nsstwisted.ike.events import SendDatagram
from tests.daemons import (
    LISTENING,
    DaemonProcess,
    build_security,
    spawn_twistd,
    twistd_args,
    write_nssd_config,
)
from tests.ikepeers import peer_policy
from tests.strongswan import (
    Charon,
    Child,
    Connection,
    NetworkNamespace,
    TestPki,
    strongswan_available,
)
from tests.test_ike_strongswan import (
    CHARON_PORT,
    IKED_PORT,
    POLICY,
    trust_peer_ca,
    write_iked_config,
)

FORGED = 1000
COOKIE_THRESHOLD = 5
HALF_OPEN_LIMIT = 50

#: Run in the namespace: read (source address, IKE message) records from
#: stdin and send each as a UDP datagram from port 500 to iked, through a
#: raw socket whose IP header carries the forged source.  The kernel fills
#: in the header's length, ID and checksum; the UDP checksum is optional
#: over IPv4 and left zero.
RAW_SENDER = """
import socket, struct, sys, time
data = sys.stdin.buffer.read()
port = int(sys.argv[1])
pause = float(sys.argv[2])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
offset = sent = 0
while offset < len(data):
    source, length = struct.unpack_from("!4sH", data, offset)
    offset += 6
    message = data[offset:offset + length]
    offset += length
    udp = struct.pack("!HHHH", 500, port, 8 + len(message), 0) + message
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, socket.IPPROTO_UDP, 0,
        source, socket.inet_aton("127.0.0.1"),
    )
    raw.sendto(ip + udp, ("127.0.0.1", 0))
    sent += 1
    if pause:
        time.sleep(pause)
print(sent, flush=True)
"""


def forged_requests(count: int) -> bytes:
    """
    C{count} IKE_SA_INIT requests, each with its own SPI, nonce and
    Curve25519 key, offering what iked's policy accepts, as RAW_SENDER
    records: even ones from 127.0.0.1 (strongSwan's address), odd ones
    from 127.77.x.y, which no rule admits.
    """
    policy = peer_policy(
        "forger",
        ("127.0.0.1", 500),
        ("127.0.0.1", IKED_PORT),
        "forger.test",
        None,
    )
    engine = IkeEngine([policy])
    records = []
    for number in range(count):
        (request,) = [
            a.message
            for a in engine.initiate("forger", None, 0.0)
            if isinstance(a, SendDatagram)
        ]
        source = (
            bytes((127, 0, 0, 1))
            if number % 2 == 0
            else bytes((127, 77, number // 256, number % 256))
        )
        records.append(struct.pack("!4sH", source, len(request)) + request)
    return b"".join(records)


class _Sender(ProcessProtocol):
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.output = b""
        self.ended: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.data)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def errReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)


class ForgedFloodTests(TestCase):
    timeout = 240
    skip = strongswan_available()

    async def _start(self) -> None:
        self.namespace = NetworkNamespace("dosrate")
        self.addCleanup(self.namespace.delete)
        setup = build_security(self)
        pki = TestPki()
        trust_peer_ca(
            setup,
            TestPki.cert_pem(pki.ca_cert),
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Peer CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
        )
        self.nssd = self._spawn(twistd_args(write_nssd_config(setup), "nssd"))
        match = await self.nssd.waitFor(LISTENING.pattern)
        ikedConfig = write_iked_config(
            setup,
            int(match.group(1)),
            self.namespace,
            POLICY.format(iked=IKED_PORT, charon=CHARON_PORT),
            ikeConfig=(
                f"  CookieThreshold {COOKIE_THRESHOLD}\n"
                f"  HalfOpenLimit {HALF_OPEN_LIMIT}\n"
            ),
            securityDatabase=False,
        )
        self.iked = self._spawn(twistd_args(ikedConfig, "iked"))
        await self.iked.waitFor(rb"EZD1138I Stack TCPIPA is connected")
        self.charon = Charon(
            self.mktemp(), self.namespace, CHARON_PORT, CHARON_PORT + 1
        )
        self.addCleanup(self.charon.stop)
        self.charon.add_ca(x509.load_pem_x509_certificate(setup.caPem), "nss-ca")
        certificate = self.charon.add_identity(
            "strongswan", *pki.issue("strongswan.iked.test")
        )
        self.charon.connections.append(
            Connection(
                "iked",
                remote_port=IKED_PORT,
                local_id="strongswan.iked.test",
                remote_id="client1.example",
                local_certs=[certificate],
                proposals="aes128-sha256-x25519",
                children=[Child("host-host", esp_proposals="aes128gcm16")],
            )
        )
        await self.charon.start()
        await self.charon.load()

    def _spawn(self, args: list[str]) -> DaemonProcess:
        return spawn_twistd(self, args, stopSignal="TERM")

    def _flood(self, pause: float) -> _Sender:
        sender = _Sender(forged_requests(FORGED))
        argv = self.namespace.command(
            [sys.executable, "-c", RAW_SENDER, str(IKED_PORT), str(pause)]
        )
        reactor.spawnProcess(sender, argv[0], argv, env=dict(os.environ))
        return sender

    def test_peer_gets_in_during_flood(self) -> Deferred[None]:
        """
        1,000 forged IKE_SA_INIT requests over about two seconds; during
        them strongSwan sets up its IKE SA and CHILD_SA with iked, after
        answering a COOKIE.  No line per forged request is written above
        debug level; a minute later one EZD1230I sums the flood up: the
        COOKIEs, the 500 refusals, and the C{CookieThreshold} half-open
        IKE SAs of forged requests, which expired.
        """

        async def go() -> None:
            await self._start()
            sender = self._flood(pause=0.002)
            # Once the forged requests hold the half-open IKE SAs (iked asks
            # for COOKIEs), strongSwan initiates.
            await self.iked.waitFor(rb"EZD1231I").addTimeout(30, reactor)
            await self.charon.initiate(child="host-host", timeout=30)
            await sender.ended
            self.assertEqual(sender.output.strip(), str(FORGED).encode(), sender.output)
            (sa,) = await self.charon.wait_for_sas(
                lambda sas: len(sas) == 1 and sas[0]["state"] == "ESTABLISHED",
                "strongSwan's IKE SA",
            )
            self.assertEqual(sa["remote-id"], "client1.example")
            await self.iked.waitFor(rb"EZD1153I Stack TCPIPA CHILD SA")
            self.assertIn("COOKIE", self.charon.log_text())
            match = await self.iked.waitFor(
                rb"EZD1230I Stack TCPIPA turned away IKE_SA_INIT requests in the"
                rb" last 60 seconds: (\d+) asked for a COOKIE \(CookieThreshold 5\);"
                rb" 500 refused \(last: 127\.77\.\d+\.\d+: no KeyExchangeRule"
                rb" lets 127\.77\.\d+\.\d+ start an IKE SA\); 5 half open until"
                rb" they expired; 0 IKE SAs were half open",
            ).addTimeout(90, reactor)
            # The forged requests from strongSwan's address beyond the first
            # five, and strongSwan's own first request.
            self.assertIn(int(match.group(1)), (495, 496))
            lines = self.iked.output.decode(errors="replace").splitlines()
            loud = [
                line
                for line in lines
                if ("EZD1155I" in line or "EZD1231I" in line) and "#debug]" not in line
            ]
            self.assertEqual(loud, [], "\n".join(lines[-20:]))
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())
