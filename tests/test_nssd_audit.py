"""
nssd's audit trail (issue 14 item 2), against a real in-process nssd: real
TLS, a real security database built by the example job, the client API, and
the audit file read back and parsed line by line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pwd
import re
import shutil
import stat
from typing import Any

from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nsstwisted.cli.racf import run as nss_racf
from nsstwisted.client import (
    NssRequestFailed,
    PassTicketCredentials,
    PasswordCredentials,
    connect,
)
from nsstwisted.config import ConfigurationError
from nsstwisted.nssd.configuration import AuditSync, nssd_configuration_from_text
from nsstwisted.nssd.service import NSSDService
from nsstwisted.protocols.startup import StartupError
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LOOPBACK,
    build_security,
    capture_messages,
    client_endpoint,
    logon_client1,
    racf,
    start_nssd,
    ticket_for,
    write_nssd_config,
)
from tests.syslogreceiver import SyslogReceiver

BOTH = Services.CERT | Services.NETMGMT
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
RSA = SignatureSchemeCode.RSA_PKCS1_SHA256


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AuditTrailTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        self.auditPath = os.path.join(self.setup.folder, "audit", "nssd.audit")
        os.makedirs(os.path.dirname(self.auditPath))

    def start(self, *extra: str) -> NSSDService:
        service = start_nssd(
            self, self.setup, extra=(f'  AuditFile "{self.auditPath}"', *extra)
        )
        assert service.port is not None
        self.portNumber = service.port.getHost().port  # type: ignore[attr-defined]
        return service

    async def logon(self, userid: str = "CLIENT1", password: str | None = None) -> Any:
        credentials = (
            PassTicketCredentials(userid, self.ticket)
            if userid == "CLIENT2"
            else PasswordCredentials(userid, password or CLIENT1_PASSWORD)
        )
        session = await connect(
            reactor,
            client_endpoint(self.setup, self.portNumber),
            serverIdentity=LOOPBACK,
            clientName=userid,
            credentials=credentials,
            services=BOTH,
        )
        self.addCleanup(session.close)
        return session

    def ticket(self) -> str:
        self.tickets.append(ticket_for("CLIENT2"))
        return self.tickets[-1]

    tickets: list[str]

    async def records(self, count: int) -> list[dict[str, Any]]:
        """
        The audit file's records, once it holds C{count} (the writer
        writes records that nothing waits for a moment later).
        """
        lines: list[bytes] = []
        for _ in range(100):
            # The file may not be there yet: after it was replaced, the
            # writer makes it anew with its next record.
            if os.path.isfile(self.auditPath):
                with open(self.auditPath, "rb") as f:
                    lines = f.read().splitlines()
                if len(lines) >= count:
                    break
            await deferLater(reactor, 0.05, lambda: None)
        records = [json.loads(line) for line in lines]
        for record in records:
            self.assertRegex(record.pop("time"), TIME)
        return records

    async def failures(self, service: NSSDService, count: int) -> None:
        for _ in range(100):
            if service.audit.failures >= count:
                break
            await deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(service.audit.failures, count)

    def logged(self, messageId: str) -> list[str]:
        return [m for m in self.messages if messageId in m]

    def test_everyKindOfEvent(self) -> Deferred[None]:
        """
        A refused logon, an accepted one, a SIGN, a VERIFY, a SIGN refused
        by SERVAUTH (with its denial) and a refresh: one line each, with
        exactly the documented fields; the file is created with mode 0600.
        """
        self.tickets = []

        async def go() -> None:
            service = self.start()
            self.assertEqual(
                self.logged("DBG0190I"),
                [
                    f"DBG0190I audit trail {self.auditPath} opened:"
                    " AuditSync interval, AuditRequired no"
                ],
            )
            await self.assertFailure(
                ensureDeferred(self.logon(password="wrong")), NssRequestFailed
            )
            session = await self.logon()
            signed = await session.sign(
                label="Client1 cert", data=b"AUTH payload", scheme=RSA
            )
            await session.verify(
                certificate=signed.certificate,
                data=b"AUTH payload",
                signature=signed.signature,
                scheme=RSA,
            )
            await self.assertFailure(
                session.sign(label="Client2 cert", data=b"x", scheme=RSA),
                NssRequestFailed,
            )
            await service.refresh()
            records = await self.records(7)
            conn = records[1]["conn"]
            refusedConn = records[0]["conn"]
            for record in records:
                record.pop("peer", None)
            common = {"conn": conn, "client": "CLIENT1", "userid": "CLIENT1"}
            self.assertEqual(
                records,
                [
                    {
                        "event": "logon",
                        "conn": refusedConn,
                        "client": "CLIENT1",
                        "userid": "CLIENT1",
                        "method": "password",
                        "result": "failure",
                        "returnCode": "EACCES",
                        "reasonCode": "NSSRsnUserAuthentication",
                        "detail": "password not valid",
                    },
                    {
                        "event": "logon",
                        **common,
                        "method": "password",
                        "services": "CERT,NETMGMT",
                        "result": "success",
                    },
                    {
                        "event": "sign",
                        **common,
                        "request": records[2]["request"],
                        "label": "Client1 cert",
                        "scheme": "RSA_PKCS1_SHA256",
                        "input": "data",
                        "sha256": sha256(b"AUTH payload"),
                        "result": "success",
                    },
                    {
                        "event": "verify",
                        **common,
                        "request": records[3]["request"],
                        "certificateSha256": sha256(signed.certificate),
                        "scheme": "RSA_PKCS1_SHA256",
                        "input": "data",
                        "sha256": sha256(b"AUTH payload"),
                        "result": "success",
                    },
                    {
                        "event": "authorization",
                        "userid": "CLIENT1",
                        "class": "SERVAUTH",
                        "resource": "EZB.NSSCERT.NSSSYS.CLIENT2$CERT.HOST",
                        "access": "READ",
                        "profile": records[4]["profile"],
                        "result": "failure",
                    },
                    {
                        "event": "sign",
                        **common,
                        "request": records[5]["request"],
                        "label": "Client2 cert",
                        "scheme": "RSA_PKCS1_SHA256",
                        "input": "data",
                        "sha256": sha256(b"x"),
                        "result": "failure",
                        "returnCode": "EACCES",
                        "reasonCode": "NSSRsnCertAccessDenied",
                    },
                    {
                        "event": "refresh",
                        "scope": "all",
                        "result": "success",
                        "changes": "no changes",
                    },
                ],
            )
            self.assertNotEqual(conn, refusedConn)
            self.assertEqual(stat.S_IMODE(os.stat(self.auditPath).st_mode), 0o600)
            self.assertEqual(service.audit.failures, 0)

        return ensureDeferred(go())

    def test_noSecrets(self) -> Deferred[None]:
        """
        Neither the password, the PassTicket, the key that signed nor the
        data signed appears in the audit file; the PassTicket logon and
        the signature by identity are recorded.
        """
        self.tickets = []

        async def go() -> None:
            service = self.start("  AuditSync every")
            one = await self.logon()
            await one.sign(label="Client1 cert", data=b"secret payload", scheme=RSA)
            two = await self.logon("CLIENT2")
            await two.sign(
                label="Client2 cert",
                data=b"secret payload",
                scheme=SignatureSchemeCode.ECDSA_SHA256,
            )
            records = await self.records(4)
            self.assertEqual(
                [(r["event"], r.get("method"), r["result"]) for r in records],
                [
                    ("logon", "password", "success"),
                    ("sign", None, "success"),
                    ("logon", "passticket", "success"),
                    ("sign", None, "success"),
                ],
            )
            with open(self.auditPath, "rb") as f:
                content = f.read()
            ring = service.ring
            assert ring is not None
            secrets = [CLIENT1_PASSWORD.encode(), b"secret payload"]
            self.assertTrue(self.tickets)
            secrets += [ticket.encode() for ticket in self.tickets]
            for label in ("Client1 cert", "Client2 cert"):
                # The key as nssd holds it once unsealed (pin_keys).
                key = service.keyrings._keys[ring.entry(label).record.digest]
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                der = key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                body = b"".join(pem.splitlines()[1:-1])
                secrets += [pem, der, body[:64]]
            for secret in secrets:
                self.assertNotIn(secret, content)
                self.assertNotIn(secret.hex().encode(), content)

        return ensureDeferred(go())

    def test_profileRefresh(self) -> Deferred[None]:
        """
        A SETROPTS RACLIST(SERVAUTH) REFRESH that nssd picks up is recorded
        as a refresh of the profiles, with the generation it loaded.
        """

        async def go() -> None:
            service = self.start()
            racf(self.setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            snapshot = await service.current_snapshot()
            [record] = await self.records(1)
            self.assertEqual(
                record,
                {
                    "event": "refresh",
                    "scope": "profiles",
                    "result": "success",
                    "changes": f"generation {snapshot.generation}",
                },
            )

        return ensureDeferred(go())

    def replaceByFolder(self) -> None:
        """
        Make the audit file unwritable, even for root: its name now leads
        to a folder, which nssd finds at its next write.
        """
        os.rename(self.auditPath, self.auditPath + ".1")
        os.mkdir(self.auditPath)

    def test_requiredFailsClosed(self) -> Deferred[None]:
        """
        With AuditRequired yes, a SIGN whose record cannot be written is
        refused with EBUSY NSSRsnAuditUnavailable (and DBG0191I says so),
        while a CA list, which needs no record, is served; once the file
        can be written again, signing goes on (DBG0192I).
        """
        self.tickets = []

        async def go() -> None:
            service = self.start("  AuditRequired yes")
            session = await self.logon()
            await session.sign(label="Client1 cert", data=b"one", scheme=RSA)
            self.replaceByFolder()
            failure = await self.assertFailure(
                session.sign(label="Client1 cert", data=b"two", scheme=RSA),
                NssRequestFailed,
            )
            self.assertEqual(
                (failure.returnCode, failure.reasonCode),
                (ReturnCode.EBUSY, ReasonCode.NSSRsnAuditUnavailable),
            )
            self.assertEqual(len(await session.caCertificates()), 1)
            # A refusal still says why it was refused, unrecorded or not.
            failure = await self.assertFailure(
                session.sign(label="nothing", data=b"x", scheme=RSA),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnCertNotFound)
            [failed] = self.logged("DBG0191I")
            self.assertIn("Is a directory", failed)
            self.assertIn("refused (AuditRequired yes)", failed)
            # The refused SIGN's record, which nothing waited for, too.
            await self.failures(service, 2)
            os.rmdir(self.auditPath)
            await session.sign(label="Client1 cert", data=b"three", scheme=RSA)
            self.assertEqual(
                self.logged("DBG0192I"),
                [
                    f"DBG0192I audit trail {self.auditPath} is written again;"
                    " 2 records were not written meanwhile"
                ],
            )
            [record] = await self.records(1)
            self.assertEqual(
                (record["event"], record["sha256"]), ("sign", sha256(b"three"))
            )
            with open(self.auditPath + ".1", "rb") as f:
                before = [json.loads(line) for line in f]
            self.assertEqual([r["event"] for r in before], ["logon", "sign"])

        return ensureDeferred(go())

    def test_requiredRefusesUnrecordedLogon(self) -> Deferred[None]:
        """
        With AuditRequired yes, a logon that cannot be recorded is refused:
        no session the audit trail does not know of.
        """
        self.tickets = []

        async def go() -> None:
            self.start("  AuditRequired yes")
            self.replaceByFolder()
            failure = await self.assertFailure(
                ensureDeferred(self.logon()), NssRequestFailed
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnAuditUnavailable)
            os.rmdir(self.auditPath)
            await self.logon()

        return ensureDeferred(go())

    def test_notRequiredGoesOn(self) -> Deferred[None]:
        """
        With AuditRequired no, signing goes on while nothing can be
        recorded, the failures are counted and reported once, and so is the
        recovery.
        """
        self.tickets = []

        async def go() -> None:
            service = self.start()
            session = await self.logon()
            await self.records(1)
            self.replaceByFolder()
            for data in (b"one", b"two"):
                await session.sign(label="Client1 cert", data=data, scheme=RSA)
            await self.failures(service, 2)
            [failed] = self.logged("DBG0191I")
            self.assertIn("go on unrecorded (AuditRequired no)", failed)
            os.rmdir(self.auditPath)
            await session.sign(label="Client1 cert", data=b"three", scheme=RSA)
            [record] = await self.records(1)
            self.assertEqual(record["sha256"], sha256(b"three"))
            for _ in range(100):
                if self.logged("DBG0192I"):
                    break
                await deferLater(reactor, 0.05, lambda: None)
            self.assertEqual(
                self.logged("DBG0192I"),
                [
                    f"DBG0192I audit trail {self.auditPath} is written again;"
                    " 2 records were not written meanwhile"
                ],
            )

        return ensureDeferred(go())

    def test_unwritableAtStart(self) -> None:
        """
        An AuditFile that cannot be opened stops the start: nssd never runs
        unaudited when it was told to audit.
        """
        shutil.rmtree(os.path.dirname(self.auditPath))
        path = write_nssd_config(self.setup, f'  AuditFile "{self.auditPath}"')
        error = self.assertRaises(
            StartupError,
            NSSDService.prepare,
            path,
            reactor,
            interface="127.0.0.1",
        )
        self.assertIn(f"AuditFile {self.auditPath} cannot be opened", str(error))

    def test_checkLeavesItAlone(self) -> None:
        """
        C{twistd nssd --check} writes nothing: it neither creates the audit
        file nor fails for want of it, and says so.
        """
        path = write_nssd_config(self.setup, f'  AuditFile "{self.auditPath}"')
        lines = NSSDService.check(path, reactor)
        self.assertIn(
            f"not checked: AuditFile {self.auditPath}, which only a start opens"
            " (and creates)",
            lines,
        )
        self.assertFalse(os.path.exists(self.auditPath))


class AuditSyslogTests(TestCase):
    """
    The audit trail sent to a syslog socket (C{AuditSyslog}), alone and
    beside the file, against a real in-process nssd and a real datagram
    socket standing for the syslog daemon's.
    """

    timeout = 60

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)
        self.socketPath = os.path.join(self.setup.folder, "log")
        self.receiver = SyslogReceiver(self.socketPath)
        self.addCleanup(lambda: self.receiver.close())
        self.auditPath = os.path.join(self.setup.folder, "nssd.audit")

    def start(self, *extra: str) -> NSSDService:
        service = start_nssd(
            self,
            self.setup,
            extra=(
                "  AuditSyslog local3",
                f'  AuditSyslogSocket "{self.socketPath}"',
                *extra,
            ),
        )
        assert service.port is not None
        self.portNumber = service.port.getHost().port  # type: ignore[attr-defined]
        return service

    async def logon(self) -> Any:
        session = await logon_client1(self.setup, self.portNumber, BOTH)
        self.addCleanup(session.close)
        return session

    async def received(self, count: int) -> list[dict[str, Any]]:
        """The records the syslog socket has had, once there are C{count}."""
        datagrams: list[bytes] = []
        for _ in range(100):
            datagrams += self.receiver.datagrams()
            if len(datagrams) >= count:
                break
            await deferLater(reactor, 0.05, lambda: None)
        records = []
        for datagram in datagrams:
            header, _, line = datagram.partition(b": ")
            self.assertRegex(
                header, rb"^<158>\w{3} [ \d]\d \d\d:\d\d:\d\d nssd\[\d+\]$"
            )
            records.append(json.loads(line))
        return records

    def test_sameRecordsAsTheFile(self) -> Deferred[None]:
        """
        With a file and syslog, each record goes to both, the same line.
        """

        async def go() -> None:
            self.start(f'  AuditFile "{self.auditPath}"')
            session = await self.logon()
            await session.sign(label="Client1 cert", data=b"one", scheme=RSA)
            sent = await self.received(2)
            self.assertEqual(
                [(r["event"], r["result"]) for r in sent],
                [("logon", "success"), ("sign", "success")],
            )
            self.assertEqual(sent[1]["sha256"], sha256(b"one"))
            with open(self.auditPath, "rb") as f:
                self.assertEqual([json.loads(line) for line in f], sent)
            [started] = [m for m in self.messages if "DBG0190I" in m]
            self.assertIn(
                f"audit trail {self.auditPath} and syslog local3 ({self.socketPath})",
                started,
            )

        return ensureDeferred(go())

    def test_requiredFailsClosed(self) -> Deferred[None]:
        """
        With syslog alone and C{AuditRequired yes}, a SIGN is refused while
        the syslog daemon is gone, and signing goes on once it is back.
        """

        async def go() -> None:
            service = self.start("  AuditRequired yes")
            session = await self.logon()
            await session.sign(label="Client1 cert", data=b"one", scheme=RSA)
            self.receiver.close()
            failure = await self.assertFailure(
                session.sign(label="Client1 cert", data=b"two", scheme=RSA),
                NssRequestFailed,
            )
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnAuditUnavailable)
            [failed] = [m for m in self.messages if "DBG0191I" in m]
            self.assertIn(f"syslog {self.socketPath}:", failed)
            self.assertEqual(service.audit.failures, 1)
            self.receiver = SyslogReceiver(self.socketPath)
            await session.sign(label="Client1 cert", data=b"three", scheme=RSA)
            [record] = await self.received(1)
            self.assertEqual(record["sha256"], sha256(b"three"))

        return ensureDeferred(go())

    def test_unreachableAtStart(self) -> None:
        """
        No syslog daemon at start: nssd does not start, and says what to
        look at; C{--check} says the same.
        """
        self.receiver.close()
        path = write_nssd_config(
            self.setup, "  AuditSyslog auth", f'  AuditSyslogSocket "{self.socketPath}"'
        )
        for attempt in (
            lambda: NSSDService.prepare(path, reactor, interface="127.0.0.1"),
            lambda: NSSDService.check(path, reactor),
        ):
            error = self.assertRaises(StartupError, attempt)
            self.assertIn(
                f"AuditSyslog auth: the syslog socket {self.socketPath}:", str(error)
            )
            self.assertIn("is the syslog daemon running", str(error))

    def test_checkReaches(self) -> None:
        path = write_nssd_config(
            self.setup, "  AuditSyslog auth", f'  AuditSyslogSocket "{self.socketPath}"'
        )
        lines = NSSDService.check(path, reactor)
        self.assertIn(
            f"AuditSyslog auth: the syslog socket {self.socketPath} is reachable",
            lines,
        )
        self.assertEqual(self.receiver.datagrams(), [])


class RacfAuditTests(TestCase):
    """
    nss-racf records each command it runs, with its secrets masked, in the
    audit file it is given.
    """

    def setUp(self) -> None:
        self.setup = build_security(self)
        self.auditPath = os.path.join(self.setup.folder, "nssd.audit")

    def racf(self, *arguments: str, environ: dict[str, str] | None = None) -> Any:
        out, err = io.StringIO(), io.StringIO()
        base = ["--database", self.setup.database, "--stash", self.setup.stash]
        saved = dict(os.environ)
        os.environ.update(environ or {})
        try:
            status = nss_racf([*base, *arguments], out, err, io.StringIO())
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return status, out.getvalue(), err.getvalue()

    def records(self) -> list[dict[str, Any]]:
        with open(self.auditPath, "rb") as f:
            content = f.read()
        self.assertNotIn(b"Sekr1t-Pw", content)
        records = [json.loads(line) for line in content.splitlines()]
        for record in records:
            self.assertRegex(record.pop("time"), TIME)
        return records

    def test_commandsRecorded(self) -> None:
        user = pwd.getpwuid(os.getuid()).pw_name
        job = os.path.join(self.setup.folder, "job.racf")
        with open(job, "w") as f:
            f.write("ADDUSER AUDIT1 PASSWORD(Sekr1t-Pw)\nALTUSER NOSUCH REVOKE\n")
        os.chmod(job, 0o600)
        status, _, err = self.racf("--audit-file", self.auditPath, "--file", job)
        self.assertEqual(status, 1, err)
        status, _, err = self.racf(
            "LISTUSER AUDIT1", environ={"NSS_AUDIT_FILE": self.auditPath}
        )
        self.assertEqual(status, 0, err)
        who = {"user": user, "uid": os.getuid()}
        records = self.records()
        for record in records:
            record.pop("login", None)
        self.assertEqual(
            records,
            [
                {
                    "event": "racf",
                    **who,
                    "command": "ADDUSER AUDIT1 PASSWORD('********')",
                    "result": "success",
                },
                {
                    "event": "racf",
                    **who,
                    "command": "ALTUSER NOSUCH REVOKE",
                    "result": "failure",
                    "messageId": records[1]["messageId"],
                },
                {
                    "event": "racf",
                    **who,
                    "command": "LISTUSER AUDIT1",
                    "result": "success",
                },
            ],
        )
        self.assertRegex(records[1]["messageId"], r"NSR\d{4}E")
        self.assertEqual(stat.S_IMODE(os.stat(self.auditPath).st_mode), 0o600)

    def test_syslog(self) -> None:
        """
        C{--audit-syslog} sends the same record to syslog, tagged
        C{nss-racf}; an unreachable socket runs nothing (NSR0382E).
        """
        socketPath = os.path.join(self.setup.folder, "log")
        receiver = SyslogReceiver(socketPath)
        self.addCleanup(receiver.close)
        where = ("--audit-syslog", "AUTH", "--audit-syslog-socket", socketPath)
        status, _, err = self.racf(*where, "LISTUSER CLIENT1")
        self.assertEqual(status, 0, err)
        [datagram] = receiver.datagrams()
        header, _, line = datagram.partition(b": ")
        self.assertRegex(header, rb"^<38>.* nss-racf\[\d+\]$")
        self.assertEqual(json.loads(line)["command"], "LISTUSER CLIENT1")
        receiver.close()
        status, _, err = self.racf(*where, "ADDUSER AUDIT3 NAME('x')")
        self.assertEqual(status, 2)
        self.assertIn(f"NSR0382E the syslog socket {socketPath}:", err)
        status, _, err = self.racf("LISTUSER AUDIT3")
        self.assertEqual(status, 1)
        status, _, err = self.racf("--audit-syslog", "kern", "LISTUSER CLIENT1")
        self.assertEqual(status, 2)
        self.assertIn("the facility must be one of user, daemon, auth", err)

    def test_recordNotWrittenStopsTheJob(self) -> None:
        """
        A record that cannot be written (a full disk: C{/dev/full}) stops
        the job after the command it records (NSR0381E): nothing more runs
        unrecorded.
        """
        job = os.path.join(self.setup.folder, "job.racf")
        with open(job, "w") as f:
            f.write("ADDUSER AUDIT4 NAME('x')\nADDUSER AUDIT5 NAME('y')\n")
        status, _, err = self.racf("--audit-file", "/dev/full", "--file", job)
        self.assertEqual(status, 2)
        self.assertIn(
            "nss-racf: NSR0381E ADDUSER ran, but its record cannot be written to"
            " the audit trail (/dev/full: No space left on device); the rest of"
            " the job was not run\n",
            err,
        )
        self.assertEqual(self.racf("LISTUSER AUDIT4")[0], 0)
        self.assertEqual(self.racf("LISTUSER AUDIT5")[0], 1)

    def test_unwritableRunsNothing(self) -> None:
        """
        An audit file that cannot be opened runs nothing (NSR0380E).
        """
        os.mkdir(self.auditPath)
        status, _, err = self.racf(
            "--audit-file", self.auditPath, "ADDUSER AUDIT2 NAME('x')"
        )
        self.assertEqual(status, 2)
        self.assertIn("NSR0380E", err)
        self.assertIn("nothing was run", err)
        status, _, err = self.racf("LISTUSER AUDIT2")
        self.assertEqual(status, 1)


class AuditConfigurationTests(TestCase):
    def parse(self, *lines: str) -> Any:
        text = "NssConfig\n{\n  SystemName NSSSYS\n" + "\n".join(lines) + "\n}\n"
        return nssd_configuration_from_text(text, "nssd.conf")

    def test_defaults(self) -> None:
        configuration = self.parse()
        self.assertIsNone(configuration.auditFile)
        self.assertEqual(configuration.auditSync, AuditSync.INTERVAL)
        self.assertFalse(configuration.auditRequired)
        self.assertIn("# AuditFile (no audit trail)", configuration.describe())

    def test_keywords(self) -> None:
        configuration = self.parse(
            "AuditFile /var/log/nssd.audit", "AuditSync Every", "AuditRequired YES"
        )
        self.assertEqual(configuration.auditFile, "/var/log/nssd.audit")
        self.assertEqual(configuration.auditSync, AuditSync.EVERY)
        self.assertTrue(configuration.auditRequired)
        self.assertIn("AuditRequired yes", configuration.describe())

    def test_requiredWithoutFile(self) -> None:
        error = self.assertRaises(ConfigurationError, self.parse, "AuditRequired yes")
        self.assertIn("neither AuditFile nor AuditSyslog is coded", str(error))

    def test_syslogKeywords(self) -> None:
        """
        C{AuditSyslog} alone is an audit trail, which C{AuditRequired yes}
        may rely on; the socket is C{/dev/log} unless coded.
        """
        configuration = self.parse("AuditSyslog AuthPriv", "AuditRequired yes")
        self.assertEqual(configuration.auditSyslog, "authpriv")
        self.assertEqual(configuration.auditSyslogSocket, "/dev/log")
        self.assertTrue(configuration.audited)
        self.assertIn("AuditSyslog authpriv", configuration.describe())
        configuration = self.parse("AuditSyslogSocket /run/log", "AuditSyslog none")
        self.assertEqual(configuration.auditSyslogSocket, "/run/log")
        self.assertIsNone(configuration.auditSyslog)
        self.assertFalse(configuration.audited)

    def test_badValues(self) -> None:
        for line, why in (
            ("AuditSync sometimes", "none, interval or every"),
            ("AuditRequired maybe", "yes or no"),
            ("AuditFile relative.log", "absolute path"),
            ("AuditSyslog kern", "none or a facility: user, daemon, auth"),
            ("AuditSyslogSocket dev/log", "absolute path"),
        ):
            error = self.assertRaises(ConfigurationError, self.parse, line)
            self.assertIn(why, str(error))
