"""
IKE_SA setups per second: iked (NSS signing) against strongSwan, and
strongSwan against strongSwan, in the same run, with their ratio.

iked signs its AUTH payloads through nssd, a network round trip per setup,
where strongSwan signs with a local key; this shows what that costs where it
matters to an operator, in tunnels brought up per second.  The initiator is a
strongSwan charon in both measurements and only the responder changes, so the
ratio compares the responders (iked with nssd against charon with its key)
under the same load.  Both run on this machine and share its cores with the
initiator; the figures are for comparing, not for capacity planning.

Each measurement runs in a throwaway network namespace (root and strongSwan
5.9.x needed, as for C{tests/test_strongswan_harness.py}) and makes:

  1. C{N} setups in sequence: initiate, wait for ESTABLISHED, next;
  2. C{N} setups at once: C{N} initiations sent without waiting, timed
     until the initiator has reported all C{N} IKE_SAs up.

Each setup is a full IKE_SA_INIT and IKE_AUTH with certificate
authentication (RSA-2048, RFC 7427 SHA-256 signatures) and, unless
C{--childless}, one CHILD_SA.  The initiator keeps every SA
(C{reuse_ikesa = no}) and the responder accepts any number from the one
identity (C{unique = never}); all are deleted after each pass, untimed.

strongSwan's DoS protection would otherwise shape the concurrent pass: the
responder asks for COOKIEs beyond C{cookie_threshold} (30) half-open
IKE_SAs, or C{cookie_threshold_ip} (3) from one address, and drops beyond
C{block_threshold} (5) per address.  The strongSwan responder here raises
all three well above C{N} (charon raises C{block_threshold} itself when
C{cookie_threshold_ip} exceeds it), so that what is measured is setup work,
not the COOKIE round trip.  charon logs at level 0 (C{--debug} for the
fixtures' levels), so as not to time its log file either.

The initiator is driven over vici directly (L{tests.strongswan.ViciClient}):
a C{swanctl} process per setup costs about as much as the setup.

Run it as root from anywhere: C{python benchmarks/ike_setup.py [-n N]}.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The fixtures (and, for the iked side, the code) of the working tree.
sys.path.insert(0, ROOT)

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from nsstwisted.cli.racf import run as nss_racf  # noqa: E402
from nsstwisted.security.database import SecurityDatabase  # noqa: E402
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore  # noqa: E402
from tests.daemons import LISTENING, DaemonProcess, twistd_args  # noqa: E402
from tests.strongswan import (  # noqa: E402
    Charon,
    Child,
    Connection,
    NetworkNamespace,
    TestPki,
    ViciClient,
    strongswan_available,
)

#: Where the initiator and responder listen inside the namespace (a fresh
#: namespace has every port free).
INITIATOR_PORTS = (4600, 4601)
RESPONDER_PORTS = (5500, 5501)
INITIATOR_ID = "initiator.bench.test"
RESPONDER_ID = "responder.bench.test"
CONNECTION = "bench"
CHILD = "net"
#: Pinned as in the interoperability tests, so runs are comparable.
PROPOSALS = "aes128-sha256-x25519"
ESP_PROPOSALS = "aes128gcm16"
QUIET = {
    "filelog": {
        "charon": dict.fromkeys(("default", "ike", "net", "cfg", "chd", "enc"), 0)
    }
}


@dataclass
class SetupFigures:
    """
    One responder's figures, in IKE_SA setups per second.
    """

    responder: str
    n: int
    sequential: float
    concurrent: float
    #: COOKIE notifies the responder sent (counted on the wire), if counted.
    cookies: int | None = None


@dataclass
class Options:
    childless: bool = False
    debug: bool = False
    timeout: float = 120.0
    workdir: str = ""


def initiator_connection(childless: bool, remote_id: str = RESPONDER_ID) -> Connection:
    """
    The initiator's side of every measurement: what the strongSwan
    initiator asks of a responder, whichever daemon that is; only the
    responder's identity differs.
    """
    return Connection(
        CONNECTION,
        remote_port=RESPONDER_PORTS[0],
        local_id=INITIATOR_ID,
        remote_id=remote_id,
        local_certs=["initiator.crt"],
        proposals=PROPOSALS,
        children=[] if childless else [Child(CHILD, esp_proposals=ESP_PROPOSALS)],
        options={"unique": "never", "childless": "allow" if childless else "never"},
    )


def start_initiator(
    namespace: NetworkNamespace,
    pki: TestPki,
    options: Options,
    remote_id: str = RESPONDER_ID,
) -> Charon:
    charon = Charon(
        os.path.join(options.workdir, "initiator"),
        namespace,
        *INITIATOR_PORTS,
        name="initiator",
        # A new IKE_SA per initiation, rather than a CHILD_SA on the last.
        settings={"reuse_ikesa": False, **({} if options.debug else QUIET)},
    )
    charon.add_ca(pki.ca_cert)
    charon.add_identity("initiator", *pki.issue(INITIATOR_ID))
    charon.connections.append(initiator_connection(options.childless, remote_id))
    return charon


async def run_setups(
    initiator: Charon, n: int, childless: bool, timeout: float
) -> tuple[float, float]:
    """
    Time C{n} setups in sequence and then C{n} at once from a started and
    loaded initiator; give both rates.  The responder is whatever the
    initiator's connection points at.
    """
    vici = await initiator.vici()
    up = 0
    allUp: Deferred[None] | None = None

    def updown(event: dict[str, Any]) -> None:
        nonlocal up
        if event.get("up") == "yes":
            up += 1
            if allUp is not None and up >= n and not allUp.called:
                allUp.callback(None)

    await vici.register("ike-updown", updown)
    target = {"ike": CONNECTION} if childless else {"ike": CONNECTION, "child": CHILD}

    start = time.perf_counter()
    for _ in range(n):
        await vici.request("initiate", {**target, "timeout": int(timeout * 1000)})
    sequential = n / (time.perf_counter() - start)
    await clear(initiator, vici)

    up = 0
    allUp = Deferred()
    timer = reactor.callLater(timeout, allUp.cancel)
    start = time.perf_counter()
    for _ in range(n):
        # timeout -1: charon answers at once and initiates in the background.
        await vici.request("initiate", {**target, "timeout": -1})
    try:
        await allUp
    except Exception:
        raise RuntimeError(
            f"only {up} of {n} concurrent setups completed in {timeout}s\n"
            f"{initiator.log_tail()}"
        ) from None
    concurrent = n / (time.perf_counter() - start)
    if timer.active():
        timer.cancel()
    await clear(initiator, vici)
    return sequential, concurrent


async def clear(initiator: Charon, vici: ViciClient) -> None:
    """
    Delete every IKE_SA of the benchmark connection and wait until the
    initiator holds none, so that the next pass starts empty.
    """
    await vici.request("terminate", {"ike": CONNECTION, "timeout": 60000})
    await initiator.wait_for_sas(lambda sas: not sas, "all SAs deleted", 60)


async def measure_strongswan(n: int, options: Options) -> SetupFigures:
    """
    strongSwan initiator against a strongSwan responder with a local RSA
    key: the reference figure.
    """
    namespace = NetworkNamespace("bench")
    pki = TestPki()
    initiator = start_initiator(namespace, pki, options)
    high = max(10 * n, 1000)
    responder = Charon(
        os.path.join(options.workdir, "responder"),
        namespace,
        *RESPONDER_PORTS,
        name="responder",
        settings={
            "cookie_threshold": high,
            "cookie_threshold_ip": high,
            "block_threshold": high,
            **({} if options.debug else QUIET),
        },
    )
    responder.add_ca(pki.ca_cert)
    responder.add_identity("responder", *pki.issue(RESPONDER_ID))
    responder.connections.append(
        Connection(
            CONNECTION,
            remote_port=INITIATOR_PORTS[0],
            local_id=RESPONDER_ID,
            remote_id=INITIATOR_ID,
            local_certs=["responder.crt"],
            proposals=PROPOSALS,
            children=[
                Child(
                    CHILD,
                    local_ts="10.2.0.0/24",
                    remote_ts="10.1.0.0/24",
                    esp_proposals=ESP_PROPOSALS,
                )
            ],
            options={"unique": "never", "childless": "allow"},
        )
    )
    try:
        await responder.start()
        await initiator.start()
        await responder.load()
        await initiator.load()
        sequential, concurrent = await run_setups(
            initiator, n, options.childless, options.timeout
        )
    finally:
        await initiator.stop()
        await responder.stop()
        namespace.delete()
    return SetupFigures("strongSwan", n, sequential, concurrent)


#: The iked side: its identity is the example job's C{Client1 cert}, made
#: inside the security database, so that its key exists only in nssd's ring.
IKED_ID = "client1.example"
EXAMPLE_JOB = os.path.join(ROOT, "docs", "examples", "nss-setup.racf")
#: The example job's password for CLIENT1 (public, in docs/examples).
CLIENT1_PASSWORD = "Cl1ent-One"  # noqa: S105
#: iked's policy: as in C{tests/test_ike_strongswan.py}, with the
#: benchmark's initiator as the remote endpoint.
IKED_POLICY = """\
KeyExchangeRule bench-peer
{{
  LocalSecurityEndpoint
  {{
    Identity   Fqdn {iked_id}
    Location   127.0.0.1
    IkePort    {iked}
  }}
  RemoteSecurityEndpoint
  {{
    Identity   Fqdn {initiator_id}
    Location   127.0.0.1
    IkePort    {initiator}
  }}
  KeyExchangeActionRef  ike-cert
}}
KeyExchangeAction ike-cert
{{
  HowToInitiate   IKEv2
  HowToRespond    IKEv2
  HowToAuthPeers  DsSignature
  KeyExchangeOffer
  {{
    HowToEncrypt          AES_CBC KeyLength 128
    HowToAuthMsgs         HMAC_SHA2_256_128
    PseudoRandomFunction  HMAC_SHA2_256
    DHGroup               Group31
    RefreshLifetimeProposed 480
  }}
}}
LocalDynVpnRule host-host
{{
  IpSourceAddr        10.2.0.0/24
  IpDestAddr          10.1.0.0/24
  KeyExchangeRuleRef  bench-peer
  IpDynVpnActionRef   esp-gcm
}}
IpDynVpnAction esp-gcm
{{
  HowToEncap  Tunnel
  IpDataOffer
  {{
    HowToEncrypt  AES_GCM_16 KeyLength 128
    RefreshLifetimeProposed 240
  }}
}}
"""
#: What tcpdump keeps: IKE_SA_INIT responses from the responder port whose
#: first payload is a COOKIE notify (UDP header 8 bytes; in the IKE header,
#: the next payload at 16 and the exchange type at 18; the notify type at 6
#: in the payload that follows the 28-byte header), with or without the
#: 4-byte non-ESP marker in front (iked sends one).
COOKIE_FILTER = (
    f"udp src port {RESPONDER_PORTS[0]} and ("
    "(udp[24] = 41 and udp[26] = 34 and udp[42:2] = 16390) or "
    "(udp[8:4] = 0 and udp[28] = 41 and udp[30] = 34 and udp[46:2] = 16390))"
)


def racf(database: str, *commands: str) -> None:
    """
    Run nss-racf on C{database}: a job file (C{--file}) or commands.
    """
    for command in commands:
        err = io.StringIO()
        args = ["--database", database]
        args += ["--file", command] if command == EXAMPLE_JOB else [command]
        if nss_racf(args, io.StringIO(), err):
            raise RuntimeError(f"{command}: {err.getvalue()}")


def build_iked_security(folder: str, pki: TestPki) -> tuple[str, bytes]:
    """
    The example job on a fresh database, with the initiator's CA added to
    nssd's ring; give the database's path and nssd's C{NSS CA} in PEM.
    """
    database = os.path.join(folder, "security.db")
    racf(database, EXAMPLE_JOB)
    db = SecurityDatabase.open(database, os.path.join(folder, "security.sth"))
    try:
        ca = KeyRingStore(db).get_certificate(CertificateOwner.authority(), "NSS CA")
        caPem = ca.certificate.public_bytes(serialization.Encoding.PEM)
    finally:
        db.close()
    peerCa = os.path.join(folder, "peer-ca.pem")
    with open(peerCa, "wb") as f:
        f.write(TestPki.cert_pem(pki.ca_cert))
    racf(
        database,
        f"RACDCERT CERTAUTH ADD('{peerCa}') WITHLABEL('Peer CA') TRUST",
        "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Peer CA') RING(NSSRING) "
        "USAGE(CERTAUTH))",
    )
    return database, caPem


class Daemon:
    """
    nssd or iked as a C{twistd -n} process in the namespace.
    """

    def __init__(self, namespace: NetworkNamespace, config: str, kind: str) -> None:
        self.kind = kind
        self.process = DaemonProcess()
        args = twistd_args(config, kind)
        self.transport = reactor.spawnProcess(
            self.process,
            "/usr/sbin/ip",
            ["ip", "netns", "exec", namespace.name, sys.executable, *args[1:]],
            env=dict(os.environ),
        )

    def tail(self, lines: int = 40) -> str:
        text = self.process.output.decode(errors="replace").splitlines()
        return "\n".join([f"--- tail of {self.kind}'s output ---", *text[-lines:]])

    async def stop(self) -> None:
        if not self.process.ended.called:
            self.transport.signalProcess("TERM")
        await self.process.ended


class CookieCounter:
    """
    tcpdump in the namespace, keeping only the responder's COOKIE notifies
    (the kernel filters, so it costs the setups nothing).
    """

    def __init__(self, namespace: NetworkNamespace) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        tcpdump = shutil.which("tcpdump")
        if tcpdump is None:
            return
        self.process = subprocess.Popen(
            [
                *("ip", "netns", "exec", namespace.name),
                *(tcpdump, "-i", "lo", "-n", "-l", "-Z", "root", COOKIE_FILTER),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stderr is not None
        # "listening on lo, ...": the filter is in place.
        self.process.stderr.readline()

    def stop(self) -> int | None:
        """
        The number of COOKIE notifies seen, or None without tcpdump.
        """
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=10)
        return sum(1 for line in out.splitlines() if b" UDP" in line)


async def measure_iked(n: int, options: Options) -> SetupFigures:
    """
    strongSwan initiator against iked, which signs its AUTH through nssd.

    Same shape as L{measure_strongswan}, set up as in
    C{tests/test_ike_strongswan.py}: a security database from the example
    job, with the initiator's CA added to nssd's ring; nssd and iked as
    processes in the namespace, iked on L{RESPONDER_PORTS} as
    C{client1.example} (whose key is only in nssd's ring) with the pinned
    proposals and selectors 10.2.0.0/24 === 10.1.0.0/24.

    iked's half-open limit (C{EngineSettings.cookieThreshold}, 30) is not
    configurable, so the concurrent pass may meet COOKIE notifies, which
    strongSwan answers by retrying; tcpdump counts them, when installed.
    """
    folder = os.path.join(options.workdir, "iked")
    os.makedirs(folder)
    namespace = NetworkNamespace("bench")
    pki = TestPki()
    daemons: list[Daemon] = []
    initiator: Charon | None = None
    counter: CookieCounter | None = None
    # Short, for the AF_UNIX socket paths.
    sockets = tempfile.mkdtemp(prefix="nss-", dir="/tmp")
    try:
        database, caPem = build_iked_security(folder, pki)
        nssdConfig = os.path.join(folder, "nssd.conf")
        with open(nssdConfig, "w") as f:
            f.write(
                "NssConfig\n{\n  Port 0\n  SyslogLevel 15\n"
                "  KeyRing NSSD/NSSRING\n  TlsKeyRing NSSD/TLSRING\n"
                "  SystemName NSSSYS\n"
                f'  SecurityDatabase "{database}"\n'
                f'  NmiSocket "{os.path.join(sockets, "nssd", "nss")}"\n'
                "}\n"
            )
        nssd = Daemon(namespace, nssdConfig, "nssd")
        daemons.append(nssd)
        match = await nssd.process.waitFor(LISTENING.pattern)
        nssdPort = int(match.group(1))
        with open(os.path.join(folder, "ca.pem"), "wb") as f:
            f.write(caPem)
        password = os.path.join(folder, "client1.pw")
        fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(CLIENT1_PASSWORD + "\n")
        policy = os.path.join(folder, "tcpipa.policy")
        with open(policy, "w") as f:
            f.write(
                IKED_POLICY.format(
                    iked_id=IKED_ID,
                    iked=RESPONDER_PORTS[0],
                    initiator_id=INITIATOR_ID,
                    initiator=INITIATOR_PORTS[0],
                )
            )
        ikedConfig = os.path.join(folder, "iked.conf")
        with open(ikedConfig, "w") as f:
            f.write(
                "IkeConfig\n{\n  SystemName NSSSYS\n"
                f"  NetworkSecurityServer 127.0.0.1 Port {nssdPort}\n"
                "  NssWaitLimit 2\n"
                f'  CaFile "{folder}/ca.pem"\n'
                f'  NmiSocket "{sockets}/iked/ipsecmgmt"\n'
                "}\n"
                "NssStackConfig TCPIPA\n{\n  ClientName CLIENT1\n"
                "  ServiceType Cert\n  ServiceType RemoteMgmt\n"
                "  UserID CLIENT1\n  AuthBy Password\n"
                f'  PasswordFile "{password}"\n'
                f'  PolicyFile "{policy}"\n'
                "}\n"
            )
        iked = Daemon(namespace, ikedConfig, "iked")
        daemons.append(iked)
        await iked.process.waitFor(rb"EZD1138I Stack TCPIPA is connected")
        initiator = start_initiator(namespace, pki, options, IKED_ID)
        initiator.add_ca(x509.load_pem_x509_certificate(caPem), "nss-ca")
        await initiator.start()
        await initiator.load()
        counter = CookieCounter(namespace)
        try:
            sequential, concurrent = await run_setups(
                initiator, n, options.childless, options.timeout
            )
        except Exception as error:
            raise RuntimeError(f"{error}\n{iked.tail()}\n{nssd.tail()}") from None
        cookies = counter.stop()
        counter = None
        if b"Traceback" in iked.process.output:
            print(f"iked logged a traceback:\n{iked.tail()}")
    finally:
        if counter is not None:
            counter.stop()
        if initiator is not None:
            await initiator.stop()
        for daemon in reversed(daemons):
            await daemon.stop()
        namespace.delete()
        shutil.rmtree(sockets, ignore_errors=True)
    return SetupFigures("iked (nssd signing)", n, sequential, concurrent, cookies)


def rate(value: float) -> str:
    return f"{value:,.1f} setups/s"


def report(figures: SetupFigures) -> None:
    print(f"{figures.responder} responder, {figures.n} IKE_SAs:")
    print(f"  sequential: {rate(figures.sequential)}")
    print(f"  concurrent: {rate(figures.concurrent)}")
    if figures.cookies:
        print(
            f"  note: the responder sent {figures.cookies} COOKIE notifies "
            "(half-open limit reached); strongSwan retried with the cookie, "
            "and that round trip is in the figures"
        )


def ratio(iked: SetupFigures, strongswan: SetupFigures) -> None:
    for name in ("sequential", "concurrent"):
        mine, theirs = getattr(iked, name), getattr(strongswan, name)
        print(f"ratio iked/strongSwan, {name}: {mine / theirs:.2f}")


async def run(n: int, options: Options) -> None:
    kind = "no CHILD_SA" if options.childless else "one CHILD_SA each"
    print(f"{os.cpu_count()} cores; {n} setups per pass, {kind}", flush=True)
    strongswan = await measure_strongswan(n, options)
    report(strongswan)
    try:
        iked = await measure_iked(n, options)
    except NotImplementedError:
        print("iked: not measured yet (measure_iked is not written); no ratio")
        return
    report(iked)
    ratio(iked, strongswan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100, help="setups per pass")
    parser.add_argument(
        "--childless",
        action="store_true",
        help="IKE_SAs without a CHILD_SA (RFC 6023)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="keep charon's logs at test levels"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs, config)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds allowed per pass"
    )
    args = parser.parse_args()
    reason = strongswan_available()
    if reason:
        sys.exit(f"cannot run: {reason}")
    # Short, so that charon's vici socket path stays within AF_UNIX limits.
    workdir = tempfile.mkdtemp(prefix="ikeb-", dir="/tmp")
    options = Options(args.childless, args.debug, args.timeout, workdir)
    try:
        react(lambda _: Deferred.fromCoroutine(run(args.n, options)))
    finally:
        if args.keep:
            print(f"work folder: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
