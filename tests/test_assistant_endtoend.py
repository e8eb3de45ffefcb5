"""
The configuration assistant end to end (issue 13): a description built in
Python is generated into a folder, its RACF job and secrets script are run
with nss-racf on a fresh database, the files are copied where the READMEs
say, and the real C{twistd -n nssd} and C{twistd -n iked} are started from
the generated units and files alone.  Every stack connects, gets its
services, shows up in C{nss-ipsec -x display} for the generated operator,
and signs.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nsstwisted.assistant.deployment import deploy
from nsstwisted.assistant.generators import placements
from nsstwisted.assistant.generators.racfsecrets import database_options
from nsstwisted.assistant.model import (
    Certificate,
    Description,
    Image,
    NssServer,
    Operator,
    Stack,
    StackSettings,
)
from nsstwisted.cli import ipsec
from nsstwisted.cli.client import run as nss_client
from nsstwisted.cli.racf import run as nss_racf
from tests.daemons import (
    ROOT,
    DaemonProcess,
    ended_within,
    free_port,
    python,
)
from tests.softhsm import new_token

#: The Unix user the test runs as, which nssd maps to this RACF user ID
#: (SO_PEERCRED): the description's operator, so that nss-ipsec run by
#: the test is the generated operator.
OPERATOR = pwd.getpwuid(os.geteuid()).pw_name.upper()


@dataclass
class Folders:
    """
    The test's folders: C{root} for the database, the output and the hosts'
    files, C{sockets} short enough for AF_UNIX paths.
    """

    root: str
    sockets: str

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)


def folders(case: TestCase) -> Folders:
    root = os.path.abspath(case.mktemp())
    os.makedirs(root)
    sockets = tempfile.mkdtemp(prefix="nsa-", dir="/tmp")
    case.addCleanup(shutil.rmtree, sockets, True)
    return Folders(root, sockets)


def ca_and_server(where: Folders, port: int) -> tuple[NssServer, list[Certificate]]:
    server = NssServer(
        "NSSD1",
        "NSSSYS",
        "127.0.0.1",
        port=port,
        keyRing="NSSD/NSSRING",
        tlsKeyRing="NSSD/TLSRING",
        syslogLevel=15,
        database=where.path("server", "security.db"),
        stashFile=where.path("server", "security.sth"),
        nmiSocket=os.path.join(where.sockets, "nssd", "nss"),
        configFile=where.path("server", "nssd.conf"),
    )
    certificates = [
        Certificate(
            "NSS CA",
            "certauth",
            "CN=NSS Test CA,O=Example",
            "CERTAUTH",
            keyType="NISTECC",
            keySize=256,
        ),
        Certificate(
            "NSSD TLS",
            "server",
            "CN=localhost,O=Example",
            "NSSD",
            identities=("IpAddr 127.0.0.1",),
            keyType="NISTECC",
            keySize=256,
            signedBy="NSS CA",
        ),
    ]
    return server, certificates


def image(
    where: Folders, name: str, stacks: tuple[Stack, ...], **defaults: object
) -> Image:
    # Every file of the hosts in the test's folder: a stack's policy file
    # would otherwise go to /etc/security.
    placed = tuple(
        dataclasses.replace(
            stack, policyFile=where.path(name, f"{stack.name.lower()}.policy")
        )
        if stack.policyFile is None
        else stack
        for stack in stacks
    )
    return Image(
        name,
        name,
        defaults=StackSettings(servers=("NSSD1",), nssWaitLimit=1, **defaults),  # type: ignore[arg-type]
        stacks=placed,
        caFile=where.path(name, "nss-ca.pem"),
        nmiSocket=os.path.join(where.sockets, name.lower(), "ipsecmgmt"),
        secretsDirectory=where.path(name, "secrets"),
        configFile=where.path(name, "iked.conf"),
    )


def client_certificate(label: str, owner: str, host: str) -> Certificate:
    return Certificate(
        label,
        "client",
        f"CN={host},O=Example",
        owner,
        identities=(f"Fqdn {host}",),
        keyType="NISTECC",
        keySize=256,
        signedBy="NSS CA",
    )


def two_stacks(where: Folders, port: int) -> Description:
    """
    One server and one image with two stacks: TCPIP logs on with a
    password as IKEA, TCPIPB with PassTickets as IKEB.
    """
    server, certificates = ca_and_server(where, port)
    stacks = (
        Stack("TCPIP", overrides=StackSettings(certificate="TCPIP cert")),
        Stack(
            "TCPIPB",
            overrides=StackSettings(
                userId="IKEB", authBy="PassTicket", certificate="TCPIPB cert"
            ),
        ),
    )
    return Description(
        servers=(server,),
        images=(image(where, "MVS1", stacks, userId="IKEA"),),
        certificates=(
            *certificates,
            client_certificate("TCPIP cert", "IKEA", "tcpip.mvs1.example"),
            client_certificate("TCPIPB cert", "IKEB", "tcpipb.mvs1.example"),
        ),
        operators=(Operator(OPERATOR, display=("*",), listClients=True),),
        source="two-stacks.toml",
    )


def seed_topology(where: Folders, port: int) -> Description:
    """
    The seed's topology: SystemA with three NSS stacks, SystemB with two,
    SystemC with one, one NSS server; SystemB logs on with PassTickets.
    """
    server, certificates = ca_and_server(where, port)
    images = (
        image(
            where,
            "SYSTEMA",
            (Stack("TCPCS"), Stack("TCPCS2"), Stack("TCPCS3")),
            userId="SYSAIKE",
            certificate="SystemA cert",
        ),
        image(
            where,
            "SYSTEMB",
            (Stack("TCPCS"), Stack("TCPCS4")),
            userId="SYSBIKE",
            authBy="PassTicket",
            certificate="SystemB cert",
        ),
        image(
            where,
            "SYSTEMC",
            (Stack("TCPCS", clientName="client4"),),
            userId="SYSCIKE",
            services=("Cert",),
        ),
    )
    return Description(
        servers=(server,),
        images=images,
        certificates=(
            *certificates,
            client_certificate("SystemA cert", "SYSAIKE", "systema.example"),
            client_certificate("SystemB cert", "SYSBIKE", "systemb.example"),
        ),
        operators=(Operator(OPERATOR, display=("*",), listClients=True),),
        source="seed.toml",
    )


def twistd_command(unit: str) -> list[str]:
    """
    The unit's ExecStart, with twistd run by the tests' own interpreter.
    """
    with open(unit) as f:
        (line,) = [x for x in f.read().splitlines() if x.startswith("ExecStart=")]
    words = shlex.split(line.removeprefix("ExecStart="))
    return [python(), "-c", "from twisted.scripts.twistd import run; run()", *words[1:]]


class AssistantEndToEndTests(TestCase):
    timeout = 90

    def setUp(self) -> None:
        if not re.fullmatch(r"[A-Z@#$][A-Z0-9@#$]{0,7}", OPERATOR):
            self.skipTest(f"the login name {OPERATOR} is no RACF user ID")
        self.where = folders(self)
        self.port = free_port()
        self.out = self.where.path("out")

    def install(self, description: Description) -> None:
        """
        Generate, run the RACF job and the secrets script on a fresh
        database, and copy every file where the READMEs say.
        """
        deploy(description, self.out)
        (server,) = description.servers
        os.makedirs(self.where.path("server"))
        err = io.StringIO()
        job = os.path.join(self.out, server.name, "nss-setup.racf")
        status = nss_racf(
            [*database_options(server), "--file", job], io.StringIO(), err
        )
        self.assertEqual((status, err.getvalue()), (0, ""))
        shim = self.where.path("nss-racf")
        with open(shim, "w") as f:
            f.write(f'#!/bin/sh\nexec {python()} -m nsstwisted.cli.racf "$@"\n')
        os.chmod(shim, 0o700)
        script = os.path.join(self.out, server.name, "nss-setup-secrets.sh")
        done = subprocess.run(
            ["sh", script],
            env={**os.environ, "NSS_RACF": shim, "PYTHONPATH": ROOT},
            capture_output=True,
            text=True,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("NSR0304W", done.stderr)
        for placement in placements(description):
            if placement.source.endswith(".service"):
                continue  # run from the test's folder instead, below
            # Nothing outside the test's folders, whoever runs the test.
            self.assertTrue(
                placement.target.startswith(self.where.root + os.sep)
                or placement.target.startswith(self.where.sockets + os.sep),
                placement.target,
            )
            os.makedirs(os.path.dirname(placement.target), exist_ok=True)
            shutil.copyfile(os.path.join(self.out, placement.source), placement.target)
            os.chmod(placement.target, placement.mode)

    def start(
        self, unit: str
    ) -> tuple[DaemonProcess, Callable[[], Coroutine[Any, Any, None]]]:
        """
        Start the daemon of a generated unit; it is ended when the test
        ends, or earlier by the coroutine function returned.
        """
        process = DaemonProcess()
        transport = reactor.spawnProcess(
            process,
            python(),
            twistd_command(os.path.join(self.out, unit)),
            env={**os.environ, "PYTHONPATH": ROOT},
            path=ROOT,
        )

        async def stop() -> None:
            if not process.ended.called:
                transport.signalProcess("TERM")
                await ended_within(process, 15)

        self.addCleanup(lambda: Deferred.fromCoroutine(stop()))
        return process, stop

    async def clients(self, nmiSocket: str) -> dict[str, dict[str, str]]:
        """
        C{nss-ipsec -x display}'s clients, by client name, as run by the
        test's user: the generated operator.
        """
        out, err = io.StringIO(), io.StringIO()
        status = await ipsec.run(
            reactor, ["-x", "display", "--socket", nmiSocket], out, err
        )
        self.assertEqual((status, err.getvalue()), (0, ""))
        found: dict[str, dict[str, str]] = {}
        for block in out.getvalue().split("*****\n"):
            fields = dict(
                (key.strip(), value.strip())
                for key, sep, value in (
                    line.partition(":") for line in block.splitlines()
                )
                if sep
            )
            if "ClientName" in fields:
                found[fields["ClientName"]] = fields
        return found

    async def all_connected(
        self, nmiSocket: str, expected: dict[str, tuple[str, str, bool]]
    ) -> dict[str, dict[str, str]]:
        """
        Wait until nssd lists every expected client (name: stack, user ID,
        whether it asked for remote management) connected with its services
        enabled.
        """
        latest: dict[str, dict[str, str]] = {}

        async def check() -> bool:
            latest.clear()
            latest.update(await self.clients(nmiSocket))
            return all(
                name in latest
                and latest[name]["ConnectState"] == "connected"
                and latest[name]["CertificateServicesEnabled"] == "Yes"
                and latest[name]["RemoteManagementEnabled"] == ("Yes" if mgmt else "No")
                for name, (_, _, mgmt) in expected.items()
            )

        deadline = reactor.seconds() + 20
        while not await check():
            if reactor.seconds() > deadline:
                raise AssertionError(f"not every client is connected: {latest}")
            await Deferred.fromCoroutine(_sleep(0.2))
        for name, (stack, userId, _) in expected.items():
            self.assertEqual(
                (latest[name]["StackName"], latest[name]["UserID"]), (stack, userId)
            )
        self.assertEqual(set(latest), set(expected))
        return latest

    async def sign(
        self,
        clientName: str,
        userId: str,
        secret: list[str],
        label: str,
        certOut: str | None = None,
    ) -> None:
        data = self.where.path("data.bin")
        with open(data, "wb") as f:
            f.write(b"the IKE AUTH payload to sign")
        out, err = io.StringIO(), io.StringIO()
        status = await nss_client(
            reactor,
            [
                "--server",
                f"127.0.0.1:{self.port}",
                "--ca-file",
                self.where.path("MVS1", "nss-ca.pem"),
                "--client-name",
                clientName,
                "--userid",
                userId,
                *secret,
                "sign",
                "--label",
                label,
                "--hash",
                "sha256",
                "--scheme",
                "ecdsa",
                "--in",
                data,
                "--out",
                self.where.path(f"{clientName}.sig"),
                *([] if certOut is None else ["--cert-out", certOut]),
            ],
            out,
            err,
        )
        self.assertEqual((status, err.getvalue()), (0, ""), out.getvalue())
        self.assertIn("signature:", out.getvalue())

    async def test_oneImageTwoStacks(self) -> None:
        """
        One server, one image with a password stack and a PassTicket stack:
        both connect with their services enabled, show up in the operator's
        C{nss-ipsec -x display}, and sign with their certificates.
        """
        description = two_stacks(self.where, self.port)
        self.install(description)
        nssd, _ = self.start("NSSD1/nssd.service")
        await nssd.waitFor(rb"DBG0002I NSS server listening on \S+ port %d" % self.port)
        iked, stopIked = self.start("MVS1/iked.service")
        await iked.waitFor(rb"EZD1138I Stack TCPIP is connected")
        await iked.waitFor(rb"EZD1138I Stack TCPIPB is connected")
        await self.all_connected(
            os.path.join(self.where.sockets, "nssd", "nss"),
            {
                "MVS1_TCPIP": ("TCPIP", "IKEA", True),
                "MVS1_TCPIPB": ("TCPIPB", "IKEB", True),
            },
        )
        self.assertNotIn(b"EZD1145I", iked.output)
        self.assertNotIn(b"EZD1147I", iked.output)
        # The clients sign as the stacks do, with the stacks' own secret
        # files, once iked has let their client names go.
        await stopIked()
        secrets = self.where.path("MVS1", "secrets")
        await self.sign(
            "MVS1_TCPIP",
            "IKEA",
            ["--password-file", os.path.join(secrets, "IKEA.password")],
            "TCPIP cert",
        )
        # A PassTicket is good once per user and second: the one iked
        # logged on with must be of an earlier second than nss-client's.
        await Deferred.fromCoroutine(_sleep(1.0 - time.time() % 1.0 + 0.05))
        await self.sign(
            "MVS1_TCPIPB",
            "IKEB",
            ["--passticket-key-file", os.path.join(secrets, "NSSD.passticket-key")],
            "TCPIPB cert",
        )
        self.assertNotIn(b"Traceback", nssd.output + iked.output)

    async def test_seedTopology(self) -> None:
        """
        The seed's three systems (three, two and one NSS stacks) on one NSS
        server, one iked each: every stack is connected.
        """
        description = seed_topology(self.where, self.port)
        self.install(description)
        nssd, _ = self.start("NSSD1/nssd.service")
        await nssd.waitFor(rb"DBG0002I NSS server listening on \S+ port %d" % self.port)
        for name in ("SYSTEMA", "SYSTEMB", "SYSTEMC"):
            self.start(f"{name}/iked.service")
        await self.all_connected(
            os.path.join(self.where.sockets, "nssd", "nss"),
            {
                "SYSTEMA_TCPCS": ("TCPCS", "SYSAIKE", True),
                "SYSTEMA_TCPCS2": ("TCPCS2", "SYSAIKE", True),
                "SYSTEMA_TCPCS3": ("TCPCS3", "SYSAIKE", True),
                "SYSTEMB_TCPCS": ("TCPCS", "SYSBIKE", True),
                "SYSTEMB_TCPCS4": ("TCPCS4", "SYSBIKE", True),
                "client4": ("TCPCS", "SYSCIKE", False),
            },
        )
        self.assertNotIn(b"Traceback", nssd.output)

    async def test_auditTrailAndMetrics(self) -> None:
        """
        A server with an audit trail that must be written (AuditRequired,
        AuditSync every) and metrics, an image with metrics: the real nssd
        and iked start from the generated files, serve their metrics on
        the ports described, and nssd records the stacks' logons and a
        signature in the audit file described, after the commands that set
        it up.
        """
        description = two_stacks(self.where, self.port)
        audit = self.where.path("audit", "nssd-audit.log")
        nssdMetrics, ikedMetrics = free_port(), free_port()
        server = dataclasses.replace(
            description.servers[0],
            auditFile=audit,
            auditSync="every",
            auditRequired=True,
            metricsPort=nssdMetrics,
        )
        image = dataclasses.replace(description.images[0], metricsPort=ikedMetrics)
        description = dataclasses.replace(
            description, servers=(server,), images=(image,)
        )
        os.makedirs(os.path.dirname(audit))
        self.install(description)
        nssd, _ = self.start("NSSD1/nssd.service")
        await nssd.waitFor(rb"DBG0002I NSS server listening on \S+ port %d" % self.port)
        await nssd.waitFor(rb"DBG0190I .*: AuditSync every, AuditRequired yes")
        self.assertIn(
            b"DBG0180I metrics served on http://127.0.0.1:%d/metrics" % nssdMetrics,
            nssd.output,
        )
        iked, stopIked = self.start("MVS1/iked.service")
        await iked.waitFor(
            rb"EZD1190I metrics served on http://127.0.0.1:%d" % ikedMetrics
        )
        await iked.waitFor(rb"EZD1138I Stack TCPIP is connected")
        await iked.waitFor(rb"EZD1138I Stack TCPIPB is connected")
        scraped = await fetch(f"http://127.0.0.1:{nssdMetrics}/metrics")
        self.assertIn('nssd_sessions{state="active"} 2.0', scraped)
        scraped = await fetch(f"http://127.0.0.1:{ikedMetrics}/metrics")
        self.assertIn("# TYPE iked_", scraped)
        await stopIked()
        await self.sign(
            "MVS1_TCPIP",
            "IKEA",
            [
                "--password-file",
                self.where.path("MVS1", "secrets", "IKEA.password"),
            ],
            "TCPIP cert",
        )
        with open(audit, encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
        events = {(r["event"], r.get("client")) for r in records}
        self.assertIn(("logon", "MVS1_TCPIP"), events)
        self.assertIn(("logon", "MVS1_TCPIPB"), events)
        self.assertIn(("sign", "MVS1_TCPIP"), events)
        # The job and the secrets script that set the server up, recorded
        # by nss-racf in the same trail, without the secrets they set.
        commands = [r["command"] for r in records if r["event"] == "racf"]
        self.assertIn("SETROPTS RACLIST(SERVAUTH) REFRESH", commands)
        [password] = [c for c in commands if c.startswith("ALTUSER IKEA PASSWORD")]
        self.assertEqual(password, "ALTUSER IKEA PASSWORD('********')")
        self.assertEqual(os.stat(audit).st_mode & 0o777, 0o600)
        self.assertNotIn(b"Traceback", nssd.output + iked.output)

    async def test_tokenKey(self) -> None:
        """
        A server with a SoftHSM2 token and a stack's certificate described
        with C{key_store = "token"}: the generated job makes its key in the
        token (nss-racf run with the generated options lists it there),
        the real nssd started from the generated nssd.conf finds it, and
        the stack's signature made with it verifies with its certificate.
        """
        token = new_token(self)
        description = two_stacks(self.where, self.port)
        server = dataclasses.replace(
            description.servers[0],
            pkcs11Module=token.module,
            pkcs11TokenLabel=token.label,
            pkcs11PinFile=token.pinFile,
        )
        certificates = tuple(
            dataclasses.replace(c, keyStore="token") if c.label == "TCPIP cert" else c
            for c in description.certificates
        )
        description = dataclasses.replace(
            description, servers=(server,), certificates=certificates
        )
        self.install(description)
        out, err = io.StringIO(), io.StringIO()
        status = nss_racf(
            [*database_options(server), f"RACDCERT LISTTOKEN('{token.label}')"],
            out,
            err,
        )
        self.assertEqual((status, err.getvalue()), (0, ""))
        self.assertIn("TCPIP cert", out.getvalue())
        self.assertNotIn("TCPIPB cert", out.getvalue())
        nssd, _ = self.start("NSSD1/nssd.service")
        await nssd.waitFor(rb"DBG0002I NSS server listening on \S+ port %d" % self.port)
        self.assertRegex(
            nssd.output.decode(),
            rf"DBG0205I PKCS#11 token {token.label} \(module [^)]+\): 1 keys? of"
            " key ring NSSD/NSSRING",
        )
        certificate = self.where.path("tcpip.pem")
        await self.sign(
            "MVS1_TCPIP",
            "IKEA",
            ["--password-file", self.where.path("MVS1", "secrets", "IKEA.password")],
            "TCPIP cert",
            certOut=certificate,
        )
        with open(certificate, "rb") as f:
            publicKey = x509.load_pem_x509_certificate(f.read()).public_key()
        with open(self.where.path("MVS1_TCPIP.sig"), "rb") as f:
            signature = f.read()
        assert isinstance(publicKey, ec.EllipticCurvePublicKey)
        publicKey.verify(
            signature, b"the IKE AUTH payload to sign", ec.ECDSA(hashes.SHA256())
        )
        self.assertNotIn(token.pin.encode(), nssd.output)
        self.assertNotIn(b"Traceback", nssd.output)


def fetch(url: str) -> Deferred[str]:
    """GET C{url} in a thread, as a Prometheus server would."""

    def get() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (http only)
            body: bytes = response.read()
        return body.decode("utf-8")

    return deferToThread(get)


async def _sleep(seconds: float) -> None:
    waiter: Deferred[None] = Deferred()
    reactor.callLater(seconds, waiter.callback, None)
    await waiter
