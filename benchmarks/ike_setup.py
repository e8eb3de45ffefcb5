"""
IKE_SA setups per second: iked against strongSwan, and strongSwan against
strongSwan, in the same run, with their ratio.

By default iked is the responder (C{--initiator strongswan}): a strongSwan
charon initiates in both measurements and only the responder changes, so
the ratio compares the responders (iked against charon) under the same
load.  With C{--initiator iked} the roles turn: a strongSwan charon
responds in both measurements, and the initiators are compared.  iked
signs its AUTH payloads through nssd (C{--signer nssd}, the default: a
round trip per signature and one per peer check, where strongSwan signs
and verifies locally) or with its own key ring (C{--signer local}).
C{--key ecdsa} gives every party a P-256 key instead of RSA-2048 (with
nssd signing, CLIENT1's certificate in nssd's ring is renewed as a P-256
one, by C{RACDCERT REKEY} and C{ROLLOVER}).  Everything runs on this
machine and shares its cores; the figures are for comparing, not for
capacity planning.

Each measurement runs in a throwaway network namespace (root and strongSwan
5.9.x needed, as for C{tests/test_strongswan_harness.py}) and makes:

  1. C{N} setups in sequence: initiate, wait until the counting side
     reports the IKE_SA up, next;
  2. C{N} setups at once: C{N} initiations sent without waiting, timed
     until the counting side has reported all C{N} IKE_SAs up.

The counting side is always a strongSwan charon (its C{ike-updown} events
over vici): the initiator when iked responds, the responder when iked
initiates, in both measurements alike.  Each setup is a full IKE_SA_INIT
and IKE_AUTH with certificate authentication (RFC 7427 signatures) and,
unless C{--childless}, one CHILD_SA.  A strongSwan initiator keeps every SA
(C{reuse_ikesa = no}); iked, which reuses an IKE SA to the same peer,
initiates through C{N} KeyExchangeRules to C{N} addresses of the strongSwan
responder (127.1.x.y, all of them the namespace's loopback).  Responders
accept any number from one identity (C{unique = never}); all SAs are
deleted after each pass, untimed.

DoS protection would otherwise shape the concurrent pass: a responder asks
for COOKIEs beyond its threshold of half-open IKE_SAs (30 for both).  The
strongSwan responder here raises C{cookie_threshold},
C{cookie_threshold_ip} and C{block_threshold} well above C{N}, and iked
its C{CookieThreshold} and C{HalfOpenLimit} alike, so that what is
measured is setup work, not the COOKIE round trip.  charon logs at level 0
(C{--debug} for the fixtures' levels), so as not to time its log file.

The CPU each process spent in each pass is read from C{/proc} and shown
per setup: what bounds the rate on two cores is the sum of them.  On a
shared machine one run's ratio moves with whatever else runs at the time:
C{--runs K} measures both K times, alternating, and gives the median
ratio, which the goal (a concurrent ratio of at least 1.0) is judged by.
C{--profile FOLDER} runs nssd and iked under cProfile (twistd
C{--profile}), for C{python -m pstats}.

Run it as root from anywhere:
C{python benchmarks/ike_setup.py [-n N] [--runs K] [--initiator iked]
[--key ecdsa] [--signer local]}.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The fixtures (and, for the iked side, the code) of the working tree.
sys.path.insert(0, ROOT)

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import CancelledError, Deferred  # noqa: E402
from twisted.internet.endpoints import UNIXClientEndpoint  # noqa: E402
from twisted.internet.error import ConnectError  # noqa: E402
from twisted.internet.task import deferLater, react  # noqa: E402

from nsstwisted.cli.racf import run as nss_racf  # noqa: E402
from nsstwisted.protocols.nmi import (  # noqa: E402
    NmiClientFactory,
    NmiClientProtocol,
)
from nsstwisted.security.database import SecurityDatabase  # noqa: E402
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore  # noqa: E402
from nsstwisted.wire.filters import TunnelControl, control_records  # noqa: E402
from nsstwisted.wire.nmi import NmiMessageType  # noqa: E402
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
#: The goal of issue 15: iked at least as fast as strongSwan, concurrently.
GOAL = 1.0


@dataclass
class Options:
    childless: bool = False
    debug: bool = False
    timeout: float = 120.0
    workdir: str = ""
    #: A folder for the daemons' cProfile statistics, or "" for none.
    profile: str = ""
    #: Which side iked plays: "strongswan" initiates (iked responds), or
    #: "iked" initiates.
    initiator: str = "strongswan"
    #: "rsa" (2048) or "ecdsa" (P-256), for every party.
    key: str = "rsa"
    #: Who signs for iked: "nssd" or "local" (iked's own key ring).
    signer: str = "nssd"

    @property
    def ikedInitiates(self) -> bool:
        return self.initiator == "iked"


def profile_of(options: Options, kind: str) -> str | None:
    """Where daemon C{kind}'s profile goes, if the run profiles."""
    if not options.profile:
        return None
    return os.path.join(options.profile, f"{kind}.cprofile")


@dataclass
class SetupFigures:
    """
    One measurement's figures, in IKE_SA setups per second, and the CPU
    seconds each process spent in each pass.
    """

    label: str
    n: int
    sequential: float
    concurrent: float
    cpu: dict[str, tuple[float, float]] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process C{pid} and its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are the 14th and 15th fields; fields[0] is the 3rd.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_sample(processes: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in processes.items()}


def peer_address(index: int) -> str:
    """The strongSwan responder's address for iked's rule C{index}."""
    return f"127.1.{index // 250}.{index % 250 + 1}"


Initiate = Callable[[int], Awaitable[None]]


async def run_setups(
    n: int,
    initiate: Initiate,
    clear: Callable[[], Awaitable[None]],
    counter: Charon,
    timeout: float,
    processes: dict[str, int],
) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """
    Time C{n} setups in sequence and then C{n} at once; give both rates
    and each process's CPU seconds in each pass.

    @param initiate: starts setup number C{i} and returns at once.
    @param counter: the charon whose C{ike-updown} events count the setups.
    """
    vici = await counter.vici()
    up = 0
    wanted = 0
    waiter: Deferred[None] | None = None

    def updown(event: dict[str, Any]) -> None:
        nonlocal up
        if event.get("up") == "yes":
            up += 1
            if waiter is not None and up >= wanted and not waiter.called:
                waiter.callback(None)

    async def until(count: int) -> None:
        nonlocal waiter, wanted
        if up >= count:
            return
        wanted = count
        waiter = Deferred()
        timer = reactor.callLater(timeout, waiter.cancel)
        try:
            await waiter
        except CancelledError:
            raise RuntimeError(
                f"only {up} of {count} setups completed in {timeout}s\n"
                f"{counter.log_tail()}"
            ) from None
        finally:
            waiter = None
            if timer.active():
                timer.cancel()

    await vici.register("ike-updown", updown)
    before = cpu_sample(processes)
    start = time.perf_counter()
    for index in range(n):
        await initiate(index)
        await until(index + 1)
    sequential = n / (time.perf_counter() - start)
    middle = cpu_sample(processes)
    await clear()
    up = 0
    between = cpu_sample(processes)
    start = time.perf_counter()
    for index in range(n):
        await initiate(index)
    await until(n)
    concurrent = n / (time.perf_counter() - start)
    after = cpu_sample(processes)
    await clear()
    cpu = {
        name: (middle[name] - before[name], after[name] - between[name])
        for name in processes
    }
    return sequential, concurrent, cpu


def charon_initiate(initiator: Charon, childless: bool) -> Initiate:
    """A strongSwan initiator's setups: vici initiate, not waiting."""
    target = {"ike": CONNECTION} if childless else {"ike": CONNECTION, "child": CHILD}
    vici: ViciClient | None = None

    async def initiate(index: int) -> None:
        nonlocal vici
        if vici is None:
            vici = await initiator.vici()
        # timeout -1: charon answers at once and initiates in the background.
        await vici.request("initiate", {**target, "timeout": -1})

    return initiate


def charon_clear(charon: Charon) -> Callable[[], Awaitable[None]]:
    """
    Delete every IKE_SA of the benchmark connection and wait until
    C{charon} holds none, so that the next pass starts empty.
    """

    async def clear() -> None:
        vici = await charon.vici()
        await vici.request("terminate", {"ike": CONNECTION, "timeout": 60000})
        await charon.wait_for_sas(lambda sas: not sas, "all SAs deleted", 60)

    return clear


def strongswan_initiator(
    namespace: NetworkNamespace, pki: TestPki, options: Options, remote_id: str
) -> Charon:
    """
    The strongSwan initiator (responder mode, and the reference of
    initiator mode), pointed at whatever responds on L{RESPONDER_PORTS}.
    """
    charon = Charon(
        os.path.join(options.workdir, "initiator"),
        namespace,
        *INITIATOR_PORTS,
        name="initiator",
        # A new IKE_SA per initiation, rather than a CHILD_SA on the last.
        settings={"reuse_ikesa": False, **({} if options.debug else QUIET)},
    )
    charon.add_ca(pki.ca_cert)
    charon.add_identity("initiator", *pki.issue(INITIATOR_ID, options.key))
    charon.connections.append(
        Connection(
            CONNECTION,
            remote_port=RESPONDER_PORTS[0],
            local_id=INITIATOR_ID,
            remote_id=remote_id,
            local_certs=["initiator.crt"],
            proposals=PROPOSALS,
            children=[]
            if options.childless
            else [Child(CHILD, esp_proposals=ESP_PROPOSALS)],
            options={
                "unique": "never",
                "childless": "allow" if options.childless else "never",
            },
        )
    )
    return charon


def strongswan_responder(
    namespace: NetworkNamespace, pki: TestPki, options: Options, n: int
) -> Charon:
    """
    The strongSwan responder (the reference of responder mode, and the
    peer of initiator mode): any local address, any remote identity that
    a trusted CA vouches for, COOKIE thresholds far above C{n}.
    """
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
    responder.add_identity("responder", *pki.issue(RESPONDER_ID, options.key))
    responder.connections.append(
        Connection(
            CONNECTION,
            remote_port=INITIATOR_PORTS[0],
            local_id=RESPONDER_ID,
            remote_id="%any",
            local_addrs="%any",
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
    return responder


async def measure_strongswan(n: int, options: Options) -> SetupFigures:
    """
    strongSwan initiator against a strongSwan responder with local keys:
    the reference figure, counted where the iked measurement counts.
    """
    namespace = NetworkNamespace("bench")
    pki = TestPki()
    initiator = strongswan_initiator(namespace, pki, options, RESPONDER_ID)
    responder = strongswan_responder(namespace, pki, options, n)
    try:
        await responder.start()
        await initiator.start()
        await responder.load()
        await initiator.load()
        counter = responder if options.ikedInitiates else initiator
        sequential, concurrent, cpu = await run_setups(
            n,
            charon_initiate(initiator, options.childless),
            charon_clear(counter),
            counter,
            options.timeout,
            {
                "charon initiator": pid_of(initiator),
                "charon responder": pid_of(responder),
            },
        )
    finally:
        await initiator.stop()
        await responder.stop()
        namespace.delete()
    return SetupFigures("strongSwan", n, sequential, concurrent, cpu)


def pid_of(charon: Charon) -> int:
    pid = charon.pid
    assert pid is not None, "charon is not running"
    return pid


#: The iked side, signing through nssd: its identity is the example job's
#: C{Client1 cert}, made inside the security database, so that its key
#: exists only in nssd's ring.
IKED_ID = "client1.example"
#: The iked side, signing with its own key ring (C{--signer local}): a
#: certificate the job's NSS CA issues to C{IKED}, of the benchmark's kind.
LOCAL_ID = "iked.local"
EXAMPLE_JOB = os.path.join(ROOT, "docs", "examples", "nss-setup.racf")
#: The example job's password for CLIENT1 (public, in docs/examples).
CLIENT1_PASSWORD = "Cl1ent-One"  # noqa: S105
#: One KeyExchangeRule of iked's policy, with its LocalDynVpnRule.
IKED_RULE = """\
KeyExchangeRule bench-peer-{index}
{{
  LocalSecurityEndpoint
  {{
    Identity   Fqdn {iked_id}
    Location   127.0.0.1
    IkePort    {iked_port}
  }}
  RemoteSecurityEndpoint
  {{
    Identity   Fqdn {peer_id}
    Location   {peer_address}
    IkePort    {peer_port}
  }}
  KeyExchangeActionRef  ike-cert
}}
LocalDynVpnRule host-{index}
{{
  IpSourceAddr        {local_ts}
  IpDestAddr          {remote_ts}
  KeyExchangeRuleRef  bench-peer-{index}
  IpDynVpnActionRef   esp-gcm
}}
"""
#: The actions every rule shares.
IKED_ACTIONS = """\
KeyExchangeAction ike-cert
{
  HowToInitiate   IKEv2
  HowToRespond    IKEv2
  HowToAuthPeers  DsSignature
  KeyExchangeOffer
  {
    HowToEncrypt          AES_CBC KeyLength 128
    HowToAuthMsgs         HMAC_SHA2_256_128
    PseudoRandomFunction  HMAC_SHA2_256
    DHGroup               Group31
    RefreshLifetimeProposed 480
  }
}
IpDynVpnAction esp-gcm
{
  HowToEncap  Tunnel
  IpDataOffer
  {
    HowToEncrypt  AES_GCM_16 KeyLength 128
    RefreshLifetimeProposed 240
  }
}
"""


def iked_policy(n: int, options: Options, ikedId: str) -> str:
    """
    iked's policy: as a responder one rule for the strongSwan initiator; as
    an initiator C{n} rules, one per address of the strongSwan responder,
    so that each activation is a new IKE SA.
    """
    if not options.ikedInitiates:
        rules = [
            IKED_RULE.format(
                index=0,
                iked_id=ikedId,
                iked_port=RESPONDER_PORTS[0],
                peer_id=INITIATOR_ID,
                peer_address="127.0.0.1",
                peer_port=INITIATOR_PORTS[0],
                local_ts="10.2.0.0/24",
                remote_ts="10.1.0.0/24",
            )
        ]
    else:
        rules = [
            IKED_RULE.format(
                index=index,
                iked_id=ikedId,
                iked_port=INITIATOR_PORTS[0],
                peer_id=RESPONDER_ID,
                peer_address=peer_address(index),
                peer_port=RESPONDER_PORTS[0],
                local_ts="10.1.0.0/24",
                remote_ts="10.2.0.0/24",
            )
            for index in range(n)
        ]
    return "".join(rules) + IKED_ACTIONS


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


def build_iked_security(folder: str, pki: TestPki, key: str) -> tuple[str, bytes]:
    """
    The example job on a fresh database, with strongSwan's CA added to
    nssd's ring and to iked's own ring, and iked's own certificate (of
    kind C{key}); give the database's path and the C{NSS CA} in PEM.
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
    size = "NISTECC SIZE(256)" if key == "ecdsa" else "SIZE(2048)"
    racf(
        database,
        f"RACDCERT CERTAUTH ADD('{peerCa}') WITHLABEL('Peer CA') TRUST",
        "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Peer CA') RING(NSSRING) "
        "USAGE(CERTAUTH))",
        "ADDUSER IKED NOPASSWORD",
        f"RACDCERT ID(IKED) GENCERT SUBJECTSDN(CN('{LOCAL_ID}')) {size} "
        "WITHLABEL('IKED cert') SIGNWITH(CERTAUTH LABEL('NSS CA')) "
        f"ALTNAME(DOMAIN('{LOCAL_ID}'))",
        "RACDCERT ID(IKED) ADDRING(KEYRING)",
        "RACDCERT ID(IKED) CONNECT(ID(IKED) LABEL('IKED cert') RING(KEYRING) "
        "USAGE(PERSONAL))",
        "RACDCERT ID(IKED) CONNECT(CERTAUTH LABEL('Peer CA') RING(KEYRING) "
        "USAGE(CERTAUTH))",
    )
    if key == "ecdsa":
        # CLIENT1's certificate in nssd's ring becomes a P-256 one, as an
        # operator renews it: a successor with a new key, rolled over into
        # its place (the ring then holds it for client1.example).
        racf(
            database,
            "RACDCERT ID(CLIENT1) REKEY(LABEL('Client1 cert')) WITHLABEL('Client1 ec')"
            " NISTECC SIZE(256) SIGNWITH(CERTAUTH LABEL('NSS CA'))",
            "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.CLIENT1$EC.HOST UACC(NONE)",
            "PERMIT EZB.NSSCERT.NSSSYS.CLIENT1$EC.HOST CLASS(SERVAUTH) ID(CLIENT1) "
            "ACCESS(READ)",
            "RACDCERT ID(CLIENT1) ROLLOVER(LABEL('Client1 cert'))"
            " NEWLABEL('Client1 ec')",
            "SETROPTS RACLIST(SERVAUTH) REFRESH",
        )
    return database, caPem


class Daemon:
    """
    nssd or iked as a C{twistd -n} process in the namespace.
    """

    def __init__(
        self,
        namespace: NetworkNamespace,
        config: str,
        kind: str,
        profile: str | None = None,
    ) -> None:
        """
        @param profile: where twistd writes the daemon's cProfile
            statistics when it stops (L{None}: not profiled).
        """
        self.kind = kind
        self.process = DaemonProcess()
        args = twistd_args(config, kind)
        if profile is not None:
            at = args.index(kind)
            args[at:at] = [f"--profile={profile}", "--profiler=cprofile", "--savestats"]
        self.transport = reactor.spawnProcess(
            self.process,
            "/usr/sbin/ip",
            ["ip", "netns", "exec", namespace.name, sys.executable, *args[1:]],
            env=dict(os.environ),
        )

    @property
    def pid(self) -> int:
        pid = self.transport.pid
        assert pid is not None
        return int(pid)

    def tail(self, lines: int = 40) -> str:
        text = self.process.output.decode(errors="replace").splitlines()
        return "\n".join([f"--- tail of {self.kind}'s output ---", *text[-lines:]])

    async def stop(self) -> None:
        if not self.process.ended.called:
            self.transport.signalProcess("TERM")
        await self.process.ended


async def nmi_client(path: str) -> NmiClientProtocol:
    """A management connection to iked, once it answers on C{path}."""
    for _ in range(100):
        try:
            protocol: NmiClientProtocol = await UNIXClientEndpoint(
                reactor, path
            ).connect(NmiClientFactory())
        except ConnectError:
            await deferLater(reactor, 0.1)
            continue
        await protocol.ready
        return protocol
    raise RuntimeError(f"iked does not answer on {path}")


def iked_initiate(nmi: NmiClientProtocol) -> Initiate:
    """iked's setups: C{ipsec -y activate} of rule C{host-i}, over NMI."""

    async def initiate(index: int) -> None:
        messageType = NmiMessageType.ACTIVATE_IPTUNDYN
        records = control_records(
            messageType, False, [TunnelControl(f"host-{index}", "")]
        )
        await nmi.request(messageType, "TCPIPA", records)

    return initiate


async def measure_iked(n: int, options: Options) -> SetupFigures:
    """
    iked against strongSwan: strongSwan initiates and iked responds, or the
    reverse.

    Set up as in C{tests/test_ike_strongswan.py}: a security database from
    the example job, with strongSwan's CA added to nssd's ring and to
    iked's own; nssd (unless C{--signer local}) and iked as processes in
    the namespace.  iked is C{client1.example} (whose key is only in nssd's
    ring) on stack TCPIPA, an NSS client, or with C{--signer local}
    C{iked.local} on stack TCPIPA, which is not one and signs and checks
    certificates with iked's own ring.  Proposals and selectors are the
    pinned ones (10.2.0.0/24 === 10.1.0.0/24); C{CookieThreshold} and
    C{HalfOpenLimit} are far above C{n}, as strongSwan's thresholds are.
    """
    folder = os.path.join(options.workdir, "iked")
    shutil.rmtree(folder, ignore_errors=True)  # the last run's
    os.makedirs(folder)
    namespace = NetworkNamespace("bench")
    for index in range(n if options.ikedInitiates else 0):
        namespace.add_address(f"{peer_address(index)}/32")
    pki = TestPki()
    daemons: list[Daemon] = []
    charon: Charon | None = None
    nmi: NmiClientProtocol | None = None
    # Short, for the AF_UNIX socket paths.
    sockets = tempfile.mkdtemp(prefix="nss-", dir="/tmp")
    local = options.signer == "local"
    ikedId = LOCAL_ID if local else IKED_ID
    high = max(10 * n, 1000)
    try:
        database, caPem = build_iked_security(folder, pki, options.key)
        ikeConfig = [
            "SystemName NSSSYS",
            f"CookieThreshold {high}",
            f"HalfOpenLimit {high + 1}",
            f'NmiSocket "{sockets}/iked/ipsecmgmt"',
        ]
        processes: dict[str, int] = {}
        policy = os.path.join(folder, "tcpipa.policy")
        with open(policy, "w") as f:
            f.write(iked_policy(n, options, ikedId))
        if local:
            ikeConfig += [f'SecurityDatabase "{database}"', "KeyRing IKED/KEYRING"]
            stack = f'TcpipStack TCPIPA\n{{\n  PolicyFile "{policy}"\n}}\n'
        else:
            nssdConfig = os.path.join(folder, "nssd.conf")
            with open(nssdConfig, "w") as f:
                f.write(
                    "NssConfig\n{\n  Port 0\n  SyslogLevel 1\n"
                    "  KeyRing NSSD/NSSRING\n  TlsKeyRing NSSD/TLSRING\n"
                    "  SystemName NSSSYS\n"
                    f'  SecurityDatabase "{database}"\n'
                    f'  NmiSocket "{os.path.join(sockets, "nssd", "nss")}"\n'
                    "}\n"
                )
            nssd = Daemon(namespace, nssdConfig, "nssd", profile_of(options, "nssd"))
            daemons.append(nssd)
            match = await nssd.process.waitFor(LISTENING.pattern)
            processes["nssd"] = nssd.pid
            with open(os.path.join(folder, "ca.pem"), "wb") as f:
                f.write(caPem)
            password = os.path.join(folder, "client1.pw")
            fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(CLIENT1_PASSWORD + "\n")
            ikeConfig += [
                f"NetworkSecurityServer 127.0.0.1 Port {int(match.group(1))}",
                "NssWaitLimit 2",
                f'CaFile "{folder}/ca.pem"',
            ]
            stack = (
                "NssStackConfig TCPIPA\n{\n  ClientName CLIENT1\n"
                "  ServiceType Cert\n  ServiceType RemoteMgmt\n"
                "  UserID CLIENT1\n  AuthBy Password\n"
                f'  PasswordFile "{password}"\n'
                f'  PolicyFile "{policy}"\n'
                "}\n"
            )
        ikedConfig = os.path.join(folder, "iked.conf")
        with open(ikedConfig, "w") as f:
            f.write("IkeConfig\n{\n" + "".join(f"  {line}\n" for line in ikeConfig))
            f.write("}\n" + stack)
        iked = Daemon(namespace, ikedConfig, "iked", profile_of(options, "iked"))
        daemons.append(iked)
        if local:
            await iked.process.waitFor(rb"EZD1100I")
        else:
            await iked.process.waitFor(rb"EZD1138I Stack TCPIPA is connected")
        try:
            nmi = await nmi_client(f"{sockets}/iked/ipsecmgmt")
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{iked.tail()}") from None
        processes["iked"] = iked.pid
        nssCa = x509.load_pem_x509_certificate(caPem)
        if options.ikedInitiates:
            charon = strongswan_responder(namespace, pki, options, n)
            initiate = iked_initiate(nmi)
        else:
            charon = strongswan_initiator(namespace, pki, options, ikedId)
            initiate = charon_initiate(charon, options.childless)
        charon.add_ca(nssCa, "nss-ca")
        await charon.start()
        await charon.load()
        processes[f"charon {'responder' if options.ikedInitiates else 'initiator'}"] = (
            pid_of(charon)
        )
        try:
            sequential, concurrent, cpu = await run_setups(
                n,
                initiate,
                charon_clear(charon),
                charon,
                options.timeout,
                processes,
            )
        except Exception as error:
            tails = "\n".join(daemon.tail() for daemon in daemons)
            raise RuntimeError(f"{error}\n{tails}") from None
        if b"Traceback" in iked.process.output:
            print(f"iked logged a traceback:\n{iked.tail()}")
    finally:
        if nmi is not None:
            nmi.close()
        if charon is not None:
            await charon.stop()
        for daemon in reversed(daemons):
            await daemon.stop()
        namespace.delete()
        shutil.rmtree(sockets, ignore_errors=True)
    signer = "its own key ring" if local else "nssd"
    return SetupFigures(f"iked (signing with {signer})", n, sequential, concurrent, cpu)


def rate(value: float) -> str:
    return f"{value:,.1f} setups/s"


def report(figures: SetupFigures, role: str) -> None:
    print(f"{figures.label} as {role}, {figures.n} IKE_SAs:")
    for index, name in enumerate(("sequential", "concurrent")):
        cpu = ", ".join(
            f"{process} {1000 * spent[index] / figures.n:.2f}"
            for process, spent in figures.cpu.items()
        )
        print(f"  {name}: {rate(getattr(figures, name))}  (CPU ms per setup: {cpu})")


def ratios(iked: SetupFigures, strongswan: SetupFigures) -> tuple[float, float]:
    """iked's rates over strongSwan's, sequential and concurrent."""
    return (
        iked.sequential / strongswan.sequential,
        iked.concurrent / strongswan.concurrent,
    )


def verdict(concurrent: float) -> str:
    met = "met" if concurrent >= GOAL else "not met"
    return f"goal (concurrent ratio at least {GOAL:.1f}): {met}"


async def run(n: int, runs: int, options: Options) -> None:
    kind = "no CHILD_SA" if options.childless else "one CHILD_SA each"
    role = "initiator" if options.ikedInitiates else "responder"
    key = "ECDSA P-256" if options.key == "ecdsa" else "RSA-2048"
    print(
        f"{os.cpu_count()} cores; {n} setups per pass, {kind}; {key};"
        f" iked as {role}, signing with {options.signer}",
        flush=True,
    )
    measured: list[tuple[float, float]] = []
    for number in range(1, runs + 1):
        if runs > 1:
            print(f"run {number} of {runs}:")
        strongswan = await measure_strongswan(n, options)
        report(strongswan, role)
        iked = await measure_iked(n, options)
        report(iked, role)
        sequential, concurrent = ratios(iked, strongswan)
        print(f"ratio iked/strongSwan, sequential: {sequential:.2f}")
        print(f"ratio iked/strongSwan, concurrent: {concurrent:.2f}", flush=True)
        measured.append((sequential, concurrent))
    if runs > 1:
        # The machine is shared: one run's ratio moves with whatever else
        # ran then, the median of several much less.
        sequential = statistics.median(m[0] for m in measured)
        concurrent = statistics.median(m[1] for m in measured)
        print(f"median ratio of {runs} runs, sequential: {sequential:.2f}")
        print(f"median ratio of {runs} runs, concurrent: {concurrent:.2f}")
    print(verdict(concurrent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100, help="setups per pass")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="measure both this many times, alternating, and give the median ratio",
    )
    parser.add_argument(
        "--initiator",
        choices=("strongswan", "iked"),
        default="strongswan",
        help="who initiates: strongSwan (iked responds, the default) or iked",
    )
    parser.add_argument(
        "--key",
        choices=("rsa", "ecdsa"),
        default="rsa",
        help="every party's key: RSA-2048 (the default) or ECDSA P-256",
    )
    parser.add_argument(
        "--signer",
        choices=("nssd", "local"),
        default="nssd",
        help="who signs for iked: nssd (the default) or iked's own key ring",
    )
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
        "--profile",
        metavar="FOLDER",
        default="",
        help="write nssd's and iked's cProfile statistics into FOLDER",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds allowed per pass"
    )
    args = parser.parse_args()
    reason = strongswan_available()
    if reason:
        sys.exit(f"cannot run: {reason}")
    if args.n > 250 * 250 and args.initiator == "iked":
        sys.exit("with --initiator iked, -n is at most 62500 (one address each)")
    # Short, so that charon's vici socket path stays within AF_UNIX limits.
    workdir = tempfile.mkdtemp(prefix="ikeb-", dir="/tmp")
    options = Options(
        childless=args.childless,
        debug=args.debug,
        timeout=args.timeout,
        workdir=workdir,
        profile=os.path.abspath(args.profile) if args.profile else "",
        initiator=args.initiator,
        key=args.key,
        signer=args.signer,
    )
    if options.profile:
        os.makedirs(options.profile, exist_ok=True)
    try:
        react(lambda _: Deferred.fromCoroutine(run(args.n, args.runs, options)))
    finally:
        if args.keep:
            print(f"work folder: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
