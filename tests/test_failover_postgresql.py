"""
A primary and a backup nssd on one security database on PostgreSQL, end to
end (issue 11): real C{twistd nssd} processes, each with its own copy of the
one stash, a real PostgreSQL server (L{tests.postgresql}), the database built
and changed with C{nss-racf} against its URI, and iked with two NSS stacks
that have both servers.

What the tests show: a change made with C{nss-racf} reaches both servers; a
killed primary leaves iked's stacks signing at the backup; wrong passwords at
either server count toward one REVOKE; and what happens today when
PostgreSQL stops under a client that signs.

Skipped, saying why, where no PostgreSQL server can start.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from nsstwisted.client import (
    Credentials,
    NssRequestFailed,
    NssSession,
    PassTicketCredentials,
    PasswordCredentials,
    connect,
)
from nsstwisted.ike.auth import SignatureScheme
from nsstwisted.ike.constants import IdType
from nsstwisted.ike.interfaces import Signed
from nsstwisted.ike.policy import LocalIdentity
from nsstwisted.iked.nssclient.signers import NssSigner, nss_identity
from nsstwisted.iked.service import IKEDService
from nsstwisted.security import signing
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.passticket import generate_passticket, parse_key
from nsstwisted.security.users import UserRegistry
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.nss import Services, SignatureSchemeCode, SignReply
from tests.daemons import (
    CLIENT1_PASSWORD,
    LISTENING,
    LOOPBACK,
    PASSTICKET_KEY,
    DaemonProcess,
    client_endpoint,
    free_port,
    racf,
    spawn_twistd,
    twistd_args,
    write_nssd_config,
)
from tests.postgresql import PostgresqlServer, postgresql_uri, private_postgresql
from tests.test_iked_nssclient_connection import (
    IkedTestCase,
    eventually,
    write_iked_config,
)

REFRESH_REACHES_SERVERS_WITHIN = 1.0
"""
The most seconds a C{SETROPTS RACLIST(SERVAUTH) REFRESH} made with
C{nss-racf} may take to reach every running nssd on the database (the
issue's goal): it is pushed by LISTEN/NOTIFY, where nssd's poll would take
up to C{SECURITY_POLL_INTERVAL} (5 s).
"""

DATABASE_LOST = rb"DBG0170I"
"""
What nssd writes when it loses the database: its listening connection breaks
at once.
"""

DATABASE_BACK = rb"DBG0171I"
"""What nssd writes when it has reconnected and written what it held."""

#: The IKE identities the example job's client certificates certify.
CLIENT1_IDENTITY = LocalIdentity(IdType.FQDN, "client1.example")
CLIENT2_IDENTITY = LocalIdentity(IdType.FQDN, "client2.example")
#: The certificate profile that lets CLIENT1 sign with its certificate.
CLIENT1_SIGNING = "EZB.NSSCERT.NSSSYS.CLIENT1$CERT.HOST"
OCTETS = b"the AUTH octets of an IKE_AUTH exchange"
REFRESH = "SETROPTS RACLIST(SERVAUTH) REFRESH"


@dataclass
class NssdProcess:
    """
    One C{twistd -n nssd} on the test's database.

    @ivar name: its configuration's name, and its stash copy's.
    """

    name: str
    port: int
    process: DaemonProcess

    def output_since(self, mark: int) -> str:
        return self.process.output[mark:].decode(errors="replace")

    async def kill(self) -> None:
        """
        SIGKILL, as a crash of its host would end it, and wait until it ended.
        """
        assert self.process.transport is not None
        self.process.transport.signalProcess("KILL")
        await self.process.ended


@dataclass
class SigningLoop:
    """
    Sign with C{sign} again and again, every C{interval} seconds, until
    L{stop}, recording each outcome: the load that an outage or a restart
    must not break (iked's stacks sign in every IKE_AUTH exchange).

    @ivar outcomes: (seconds since the loop started, the signature or the
        exception it failed with), in order.
    """

    sign: Callable[[], Awaitable[Any]]
    interval: float = 0.05
    outcomes: list[tuple[float, Any]] = field(default_factory=list, init=False)
    _running: bool = field(default=False, init=False)
    _done: Deferred[None] | None = field(default=None, init=False)

    def start(self) -> None:
        self._running = True
        self._done = ensureDeferred(self._loop())

    async def _loop(self) -> None:
        started = time.monotonic()
        while self._running:
            try:
                outcome: Any = await self.sign()
            except Exception as e:
                outcome = e
            self.outcomes.append((time.monotonic() - started, outcome))
            await deferLater(reactor, self.interval, lambda: None)

    async def stop(self) -> list[tuple[float, Any]]:
        """
        Stop after the signature in flight, and return every outcome.
        """
        self._running = False
        assert self._done is not None
        await self._done
        return self.outcomes

    @property
    def failures(self) -> list[tuple[float, Exception]]:
        return [(t, o) for t, o in self.outcomes if isinstance(o, Exception)]

    async def signed_more(self, count: int, timeout: float = 10.0) -> None:
        """
        Wait until C{count} more signatures have come back, whatever they were.
        """
        wanted = len(self.outcomes) + count
        await eventually(
            lambda: len(self.outcomes) >= wanted,
            timeout=timeout,
            what=f"{count} more signatures",
        )


class PostgresqlFailoverTestCase(IkedTestCase):
    """
    The example job's database on PostgreSQL; servers, clients and iked
    started by the tests.

    The helpers are meant for more tests than this module has: a PassTicket
    replayed at the backup (L{logon_with_ticket} at each server with one
    L{tests.daemons.ticket_for}, and L{refused_with}), and PostgreSQL restarted
    while iked signs (C{privateServer}, a L{SigningLoop} on
    L{stack_signer}, and C{deferToThread(self.postgresql.restart)}, so that
    the reactor serves the loop meanwhile).

    @cvar privateServer: the test stops or restarts PostgreSQL, so it needs
        a server of its own (C{self.postgresql}) rather than a schema on the
        test run's shared one.
    """

    timeout = 60
    privateServer = False
    postgresql: PostgresqlServer | None = None

    def security_database(self) -> str:
        if self.privateServer:
            self.postgresql = private_postgresql(self)
            return self.postgresql.new_schema()
        return postgresql_uri(self)

    async def start_nssd_process(self, name: str) -> NssdProcess:
        """
        Start C{twistd -n nssd} with a copy of the stash of its own, as a
        backup host holds one, and wait until it listens.
        """
        stash = os.path.join(self.setup.folder, f"{name}.sth")
        shutil.copy2(self.setup.stash, stash)
        port = free_port()
        config = write_nssd_config(self.setup, port=port, name=name, stash=stash)
        process = spawn_twistd(self, twistd_args(config))
        await process.waitFor(LISTENING.pattern)
        return NssdProcess(name, port, process)

    async def start_primary_and_backup(self) -> tuple[NssdProcess, NssdProcess]:
        primary, backup = await _both(
            self.start_nssd_process("primary"), self.start_nssd_process("backup")
        )
        return primary, backup

    async def logon(
        self,
        server: NssdProcess,
        credentials: Credentials | None = None,
        clientName: str = "CLIENT1",
    ) -> NssSession:
        """
        Log on to C{server} for the certificate service, as CLIENT1 with its
        password unless told otherwise; the session is closed when the test
        ends.

        @raise NssRequestFailed: the logon was refused.
        """
        if credentials is None:
            credentials = PasswordCredentials("CLIENT1", CLIENT1_PASSWORD)
        session = await connect(
            reactor,
            client_endpoint(self.setup, server.port),
            serverIdentity=LOOPBACK,
            clientName=clientName,
            credentials=credentials,
            services=Services.CERT,
        )
        self.addCleanup(session.close)
        return session

    async def logon_with_ticket(
        self, server: NssdProcess, ticket: str, userid: str = "CLIENT2"
    ) -> NssSession:
        """
        Log on to C{server} with the PassTicket C{ticket} (from
        L{tests.daemons.ticket_for}): the same ticket can be presented at
        both servers.

        @raise NssRequestFailed: the logon was refused.
        """
        return await self.logon(
            server, PassTicketCredentials(userid, lambda: ticket), userid
        )

    async def sign_as_client1(self, session: NssSession) -> SignReply:
        """
        Sign through C{session} with CLIENT1's certificate, and check the
        signature with the certificate that came back.
        """
        digest = SignatureScheme.RSA_PKCS1_SHA256.digest(OCTETS)
        reply = await session.sign(
            identity=nss_identity(CLIENT1_IDENTITY),
            digest=digest,
            scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
        )
        certificate = x509.load_der_x509_certificate(reply.certificate)
        self.assertTrue(
            signing.verify(
                certificate.public_key(),
                OCTETS,
                reply.signature,
                signing.SignatureScheme.RSA_PKCS1_SHA256,
            )
        )
        return reply

    def stack_signer(
        self, service: IKEDService, stack: str, identity: LocalIdentity
    ) -> Callable[[], Deferred[Signed]]:
        """
        What iked's IKE engine calls to sign an AUTH payload for C{stack}
        (its NSS signer): each call signs L{OCTETS} at whichever server the
        stack is logged on to, and the signature is checked.
        """
        signer = NssSigner(service.connections[stack]).sign_for(identity)

        def sign() -> Deferred[Signed]:
            def check(signed: Signed) -> Signed:
                certificate = x509.load_der_x509_certificate(signed.certificates[0])
                self.assertTrue(
                    signing.verify(
                        certificate.public_key(),
                        OCTETS,
                        signed.signature,
                        signing.SignatureScheme[signed.scheme.name],
                    )
                )
                return signed

            made: Deferred[Signed] = signer.sign(OCTETS, None)
            return made.addCallback(check)

        return sign

    async def stacks_on(self, service: IKEDService, server: NssdProcess) -> None:
        """
        Wait until both of iked's stacks are logged on to C{server}.
        """
        await eventually(
            lambda: all(
                self.server_port(service, stack) == server.port
                for stack in ("STACKA", "STACKB")
            ),
            what=f"both stacks on the {server.name}",
        )


async def _both(
    first: Coroutine[Any, Any, NssdProcess], second: Coroutine[Any, Any, NssdProcess]
) -> tuple[NssdProcess, NssdProcess]:
    """Await two coroutines that run at the same time."""
    one, two = Deferred.fromCoroutine(first), Deferred.fromCoroutine(second)
    return await one, await two


async def refused_with(attempt: Awaitable[Any]) -> ReasonCode:
    """
    The reason code C{attempt} was refused with.

    @raise AssertionError: it succeeded.
    """
    try:
        await attempt
    except NssRequestFailed as e:
        return e.reasonCode
    raise AssertionError("accepted, where a refusal was expected")


class SharedDatabaseTests(PostgresqlFailoverTestCase):
    def test_permitReachesBothServers(self) -> Deferred[None]:
        """
        CLIENT1, logged on to the primary and to the backup, may not sign
        with its certificate; a PERMIT and a REFRESH made with nss-racf
        against the database let it sign at both servers, on the sessions
        it already has, within L{REFRESH_REACHES_SERVERS_WITHIN}.
        """
        racf(
            self.setup,
            f"PERMIT {CLIENT1_SIGNING} CLASS(SERVAUTH) ID(CLIENT1) DELETE",
            REFRESH,
        )

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            sessions = [await self.logon(primary), await self.logon(backup)]
            for session in sessions:
                self.assertEqual(
                    await refused_with(self.sign_as_client1(session)),
                    ReasonCode.NSSRsnCertAccessDenied,
                )
            racf(
                self.setup,
                f"PERMIT {CLIENT1_SIGNING} CLASS(SERVAUTH) ID(CLIENT1) ACCESS(READ)",
                REFRESH,
            )
            permitted = time.monotonic()
            waiting = list(sessions)
            while waiting:
                for session in list(waiting):
                    try:
                        await self.sign_as_client1(session)
                    except NssRequestFailed as e:
                        self.assertEqual(
                            e.reasonCode, ReasonCode.NSSRsnCertAccessDenied
                        )
                    else:
                        waiting.remove(session)
                if time.monotonic() - permitted > REFRESH_REACHES_SERVERS_WITHIN:
                    names = [
                        server.name
                        for server, session in zip(
                            (primary, backup), sessions, strict=True
                        )
                        if session in waiting
                    ]
                    raise AssertionError(
                        f"the REFRESH did not reach the {' and '.join(names)}"
                        f" within {REFRESH_REACHES_SERVERS_WITHIN} s"
                    )
                await deferLater(reactor, 0.1, lambda: None)

        return ensureDeferred(go())

    def test_permitAdmitsLogonAtBothServers(self) -> Deferred[None]:
        """
        A logon as client name CLIENT1B, whose IPSEC.CERT profile permits
        nobody, is refused at both servers; after a PERMIT and a REFRESH
        made with nss-racf it is accepted at both.
        """
        profile = "EZB.NSS.NSSSYS.CLIENT1B.IPSEC.CERT"
        racf(self.setup, f"RDEFINE SERVAUTH {profile} UACC(NONE)", REFRESH)

        async def go() -> None:
            servers = await self.start_primary_and_backup()
            for server in servers:
                self.assertEqual(
                    await refused_with(self.logon(server, clientName="CLIENT1B")),
                    ReasonCode.NSSRsnServiceDenied,
                    server.name,
                )
            racf(
                self.setup,
                f"PERMIT {profile} CLASS(SERVAUTH) ID(CLIENT1) ACCESS(READ)",
                REFRESH,
            )
            deadline = time.monotonic() + REFRESH_REACHES_SERVERS_WITHIN
            for server in servers:
                while True:
                    try:
                        session = await self.logon(server, clientName="CLIENT1B")
                    except NssRequestFailed as e:
                        self.assertEqual(e.reasonCode, ReasonCode.NSSRsnServiceDenied)
                        if time.monotonic() > deadline:
                            raise AssertionError(
                                f"the REFRESH did not reach the {server.name}"
                            ) from None
                        await deferLater(reactor, 0.1, lambda: None)
                    else:
                        await self.sign_as_client1(session)
                        break

        return ensureDeferred(go())

    def test_passTicketsAtBothServers(self) -> Deferred[None]:
        """
        The PassTicket key the example job stored in the database logs
        CLIENT2 on at both servers; a ticket presented again at the server
        that took it is refused as replayed.
        """
        key = parse_key(PASSTICKET_KEY)
        now = int(time.time())
        # Two tickets of two different seconds: one per server.
        first, second = (
            generate_passticket("CLIENT2", "NSSD", key, when) for when in (now - 1, now)
        )

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            await self.logon_with_ticket(primary, first)
            self.assertEqual(
                await refused_with(self.logon_with_ticket(primary, first)),
                ReasonCode.NSSRsnPassTicketReplayed,
            )
            await self.logon_with_ticket(backup, second)

        return ensureDeferred(go())

    def test_passTicketReplayedAtBackupRefused(self) -> Deferred[None]:
        """
        A PassTicket accepted at the primary and presented again at the
        backup, which never saw it, is refused as replayed: its use was
        recorded in the database before the primary accepted it.
        """
        ticket = generate_passticket(
            "CLIENT2", "NSSD", parse_key(PASSTICKET_KEY), int(time.time())
        )

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            await self.logon_with_ticket(primary, ticket)
            self.assertEqual(
                await refused_with(self.logon_with_ticket(backup, ticket)),
                ReasonCode.NSSRsnPassTicketReplayed,
            )

        return ensureDeferred(go())

    def test_wrongPasswordsAtBothServersRevoke(self) -> Deferred[None]:
        """
        With REVOKE(2), one wrong password at the primary and one at the
        backup revoke CLIENT1: the failed-logon count is the database's,
        not each server's.  Then the right password is refused as revoked
        at both.
        """
        racf(self.setup, "SETROPTS PASSWORD(REVOKE(2))")
        wrong = PasswordCredentials("CLIENT1", "not-the-password")
        right = PasswordCredentials("CLIENT1", CLIENT1_PASSWORD)

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            for server in (primary, backup):
                self.assertEqual(
                    await refused_with(self.logon(server, wrong)),
                    ReasonCode.NSSRsnUserAuthentication,
                    server.name,
                )
            for server in (primary, backup):
                self.assertEqual(
                    await refused_with(self.logon(server, right)),
                    ReasonCode.NSSRsnUserRevoked,
                    server.name,
                )
            # And the operator's RESUME, made against the database, lets it
            # in at both again.
            racf(self.setup, "ALTUSER CLIENT1 RESUME")
            for server in (primary, backup):
                await self.sign_as_client1(await self.logon(server, right))

        return ensureDeferred(go())


class IkedFailoverTests(PostgresqlFailoverTestCase):
    def test_stacksSignAtBackupAfterPrimaryKilled(self) -> Deferred[None]:
        """
        iked's two stacks, each configured with the primary and the backup,
        log on to the primary and sign there; the primary is killed
        (SIGKILL); both stacks move to the backup, log on there (with a
        password and with a PassTicket, against the one database), and
        their signatures are made by the backup.
        """

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            service = self.start_iked(
                write_iked_config(self.setup, primary.port, backup.port)
            )
            await self.stacks_on(service, primary)
            signers = {
                "STACKA": self.stack_signer(service, "STACKA", CLIENT1_IDENTITY),
                "STACKB": self.stack_signer(service, "STACKB", CLIENT2_IDENTITY),
            }
            for sign in signers.values():
                await sign()
            # nssd logs a signature after it sends it: its line may come
            # through the pipe after the reply.
            await eventually(
                lambda: primary.process.output.count(b"DBG0005I") == 2,
                what="both signatures in the primary's log",
            )

            mark = len(backup.process.output)
            await primary.kill()
            await self.stacks_on(service, backup)
            for sign in signers.values():
                await sign()
            await eventually(
                lambda: all(
                    f"Client {client} signature created" in backup.output_since(mark)
                    for client in ("CLIENT1", "CLIENT2")
                ),
                what="both signatures in the backup's log",
            )

        return ensureDeferred(go())

    def test_failoverWithinTheSecond(self) -> Deferred[None]:
        """
        A stack that logged on with a PassTicket at the primary and fails
        over to the backup within the same second presents a new ticket,
        not the one the primary recorded: the backup would refuse that one
        as replayed.
        """

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            service = self.start_iked(
                write_iked_config(self.setup, primary.port, backup.port)
            )
            await self.stacks_on(service, primary)
            connection = service.connections["STACKB"]
            seconds = [connection._ticket_second() for _ in range(3)]
            self.assertEqual(len(set(seconds)), 3)
            mark = len(backup.process.output)
            await primary.kill()
            await self.stacks_on(service, backup)
            self.assertNotIn("NSSRsnPassTicketReplayed", backup.output_since(mark))
            self.assertNotIn("already used", backup.output_since(mark))

        return ensureDeferred(go())


class DatabaseOutageTests(PostgresqlFailoverTestCase):
    privateServer = True

    def test_signingGoesOnWhilePostgresqlIsStopped(self) -> Deferred[None]:
        """
        PostgreSQL stops (a clean, fast shutdown) under a stack that signs:
        nssd holds its snapshot and its ring's keys in memory, so the
        stack's signatures go on, none failing, and the stack stays on the
        primary, while nssd says that it lost the database (DBG0170I).
        """
        assert self.postgresql is not None
        postgresql = self.postgresql

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            service = self.start_iked(
                write_iked_config(self.setup, primary.port, backup.port)
            )
            await self.stacks_on(service, primary)
            loop = SigningLoop(self.stack_signer(service, "STACKA", CLIENT1_IDENTITY))
            loop.start()
            await loop.signed_more(3)
            mark = len(primary.process.output)
            await deferToThread(postgresql.stop, "fast")
            # nssd notices when it next reads the database (its poll).
            await primary.process.waitFor(DATABASE_LOST, mark)
            await loop.signed_more(5)
            outcomes = await loop.stop()
            self.assertEqual(loop.failures, [])
            self.assertGreaterEqual(len(outcomes), 8)
            self.assertEqual(self.server_port(service, "STACKA"), primary.port)

        return ensureDeferred(go())

    def test_restartWhileIkedSigns(self) -> Deferred[None]:
        """
        PostgreSQL is restarted while iked's stack signs in a loop: no
        signature fails (signing needs no database); during the stop a
        password logon is accepted from the snapshot and a PassTicket
        logon refused with C{NSSRsnSecurityDatabaseUnavailable}; nssd
        reconnects by itself when PostgreSQL is back (DBG0171I), a wrong
        password given meanwhile is written, and PassTickets work again.
        """
        assert self.postgresql is not None
        postgresql = self.postgresql
        # Client names of the test's own, so that its logons do not replace
        # the stacks' sessions.
        racf(
            self.setup,
            "RDEFINE SERVAUTH EZB.NSS.NSSSYS.CLIENT1B.IPSEC.CERT UACC(NONE)",
            "RDEFINE SERVAUTH EZB.NSS.NSSSYS.CLIENT2B.IPSEC.CERT UACC(NONE)",
            "PERMIT EZB.NSS.NSSSYS.CLIENT1B.IPSEC.CERT CLASS(SERVAUTH) ID(CLIENT1)",
            "PERMIT EZB.NSS.NSSSYS.CLIENT2B.IPSEC.CERT CLASS(SERVAUTH) ID(CLIENT2)",
            REFRESH,
        )

        def ticket(offset: int = 0) -> PassTicketCredentials:
            made = generate_passticket(
                "CLIENT2", "NSSD", parse_key(PASSTICKET_KEY), int(time.time()) + offset
            )
            return PassTicketCredentials("CLIENT2", lambda: made)

        async def go() -> None:
            primary, backup = await self.start_primary_and_backup()
            service = self.start_iked(
                write_iked_config(self.setup, primary.port, backup.port)
            )
            await self.stacks_on(service, primary)
            loop = SigningLoop(self.stack_signer(service, "STACKA", CLIENT1_IDENTITY))
            loop.start()
            await loop.signed_more(3)
            mark = len(primary.process.output)
            await deferToThread(postgresql.stop, "fast")
            await primary.process.waitFor(DATABASE_LOST, mark)
            await self.sign_as_client1(await self.logon(primary, clientName="CLIENT1B"))
            wrong = PasswordCredentials("CLIENT1", "not-the-password")
            self.assertEqual(
                await refused_with(self.logon(primary, wrong, "CLIENT1B")),
                ReasonCode.NSSRsnUserAuthentication,
            )
            self.assertEqual(
                await refused_with(self.logon(primary, ticket(), "CLIENT2B")),
                ReasonCode.NSSRsnSecurityDatabaseUnavailable,
            )
            await loop.signed_more(3)
            await deferToThread(postgresql.start)
            await primary.process.waitFor(DATABASE_BACK, mark)
            await loop.signed_more(3)
            outcomes = await loop.stop()
            self.assertEqual(loop.failures, [])
            self.assertGreaterEqual(len(outcomes), 9)
            self.assertEqual(self.server_port(service, "STACKA"), primary.port)
            database = SecurityDatabase.open(self.setup.database, self.setup.stash)
            self.addCleanup(database.close)
            self.assertEqual(UserRegistry(database).get_user("CLIENT1").failedLogons, 1)
            await self.logon(primary, ticket(1), "CLIENT2B")

        return ensureDeferred(go())
