"""
Authorization decisions as RACF makes them (issue 18), as one table of
cases: IBM's published examples of general-resource generics, and cases of
our own for the ending asterisks, C{%}, C{**}, discrete profiles, GRPLIST,
C{ID(*)}, RESTRICTED, WARNING, REVOKE and what DELUSER leaves behind.

Every case is checked through the Python API, and every SERVAUTH case also
through a real C{twistd nssd}: as a logon (the client's CERT service
profile), a signature (the certificate's HOST profile) or a CA list (its
CERTAUTH profile).  The same process then shows when changes are seen:
connections and class activation at the next logon without a REFRESH,
profiles only after one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nsstwisted.client import NssRequestFailed, NssSession, PasswordCredentials, connect
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.profiles import (
    AccessLevel,
    AuthorizationResult,
    ProfileStore,
    ResourceClass,
)
from nsstwisted.security.users import UserRegistry
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LISTENING,
    LOOPBACK,
    ROOT,
    DaemonProcess,
    SecuritySetup,
    build_security,
    client_endpoint,
    python,
    racf,
    twistd_args,
    write_nssd_config,
)
from tests.fixtures import new_database
from tests.test_generic import CICS_PROFILES, COPY_RESOURCES, COPY_TABLE

SERVAUTH = ResourceClass.SERVAUTH
PASSWORD = "Pw-18-cases"

# Added to the example job's database (docs/examples/nss-setup.racf, system
# NSSSYS).  The users: ALICE, BOB and CAROL plain; DAVE RESTRICTED; ERIN in
# two groups; FRANK revoked; GINA deleted and defined again.
JOB = (
    *(
        f"ADDUSER {user} PASSWORD({PASSWORD})"
        for user in ("ALICE", "BOB", "CAROL", "ERIN", "FRANK", "GINA")
    ),
    f"ADDUSER DAVE PASSWORD({PASSWORD}) RESTRICTED",
    "ADDGROUP GRPA",
    "ADDGROUP GRPB",
    "CONNECT ERIN GROUP(GRPA)",
    "CONNECT ERIN GROUP(GRPB)",
    # Where every user logs on to sign and list CAs: HOME.userid.
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.HOME.** UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.HOME.** CLASS(SERVAUTH) ID(* DAVE)",
    # The profiles: an asterisk ending the name as a character,
    # and as a qualifier, against a broad profile with UACC(READ).
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.END* UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.END* CLASS(SERVAUTH) ID(ALICE DAVE)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.TAIL.* UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.TAIL.* CLASS(SERVAUTH) ID(BOB)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.*.IPSEC.CERT UACC(READ)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.P%T.IPSEC.CERT UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.P%T.IPSEC.CERT CLASS(SERVAUTH) ID(ALICE)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.DEEP.** UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.DEEP.** CLASS(SERVAUTH) ID(BOB)",
    # A discrete profile decides before any generic.
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.DIS* UACC(READ)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.DISC.IPSEC.CERT UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.DISC.IPSEC.CERT CLASS(SERVAUTH) ID(CAROL)",
    # GRPLIST: the highest entry of the user's groups; the user's own
    # entry before any group's.
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.GRP.IPSEC.CERT UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.GRP.IPSEC.CERT CLASS(SERVAUTH) ID(GRPA) ACCESS(NONE)",
    "PERMIT EZB.NSS.NSSSYS.GRP.IPSEC.CERT CLASS(SERVAUTH) ID(GRPB) ACCESS(READ)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.GRPX.IPSEC.CERT UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.GRPX.IPSEC.CERT CLASS(SERVAUTH) ID(GRPB) ACCESS(READ)",
    "PERMIT EZB.NSS.NSSSYS.GRPX.IPSEC.CERT CLASS(SERVAUTH) ID(ERIN) ACCESS(NONE)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.STAR.IPSEC.CERT UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.STAR.IPSEC.CERT CLASS(SERVAUTH) ID(*)",
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.WARN.IPSEC.CERT UACC(NONE) WARNING",
    # DELUSER takes the user's entries with it: a new GINA inherits none.
    "RDEFINE SERVAUTH EZB.NSS.NSSSYS.GINA.IPSEC.CERT UACC(NONE)",
    "PERMIT EZB.NSS.NSSSYS.GINA.IPSEC.CERT CLASS(SERVAUTH) ID(GINA)",
    "DELUSER GINA",
    f"ADDUSER GINA PASSWORD({PASSWORD})",
    "ALTUSER FRANK REVOKE",
    # Certificates to sign with and a second CA, on nssd's ring.
    "RACDCERT ID(ALICE) GENCERT SUBJECTSDN(CN('end7')) NISTECC SIZE(256) "
    "WITHLABEL('END7 sign') SIGNWITH(CERTAUTH LABEL('NSS CA'))",
    "RACDCERT ID(CAROL) GENCERT SUBJECTSDN(CN('warn')) NISTECC SIZE(256) "
    "WITHLABEL('WARN sign') SIGNWITH(CERTAUTH LABEL('NSS CA'))",
    "RACDCERT ID(CAROL) GENCERT SUBJECTSDN(CN('other')) NISTECC SIZE(256) "
    "WITHLABEL('OTHER sign') SIGNWITH(CERTAUTH LABEL('NSS CA'))",
    "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('Tail CA')) NISTECC SIZE(256) "
    "WITHLABEL('TAIL CA')",
    *(
        f"RACDCERT ID(NSSD) CONNECT({owner} LABEL('{label}') RING(NSSRING) "
        f"USAGE({usage}))"
        for owner, label, usage in (
            ("ID(ALICE)", "END7 sign", "PERSONAL"),
            ("ID(CAROL)", "WARN sign", "PERSONAL"),
            ("ID(CAROL)", "OTHER sign", "PERSONAL"),
            ("CERTAUTH", "TAIL CA", "CERTAUTH"),
        )
    ),
    "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.*.HOST UACC(READ)",
    "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.END* UACC(NONE)",
    "PERMIT EZB.NSSCERT.NSSSYS.END* CLASS(SERVAUTH) ID(ALICE)",
    "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.WARN$SIGN.HOST UACC(NONE) WARNING",
    "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.TAIL* UACC(NONE)",
    "PERMIT EZB.NSSCERT.NSSSYS.TAIL* CLASS(SERVAUTH) ID(BOB)",
    "SETROPTS RACLIST(SERVAUTH) REFRESH",
)

# Which certificate of the ring a HOST or CERTAUTH resource names.
LABELS = {
    "END7$SIGN": "END7 sign",
    "WARN$SIGN": "WARN sign",
    "OTHER$SIGN": "OTHER sign",
    "TAIL$CA": "TAIL CA",
    "NSS$CA": "NSS CA",
}


@dataclass(frozen=True)
class Case:
    """
    One check: C{userid} asks for READ to C{resource}.

    @ivar profile: the profile that must decide, or C{None} if none may.
    """

    why: str
    userid: str
    resource: str
    allowed: bool
    profile: str | None
    warning: bool = False

    @property
    def client(self) -> str:
        """
        The client name a logon uses: the one in the resource name of the
        client's CERT service, else the user's home.
        """
        prefix, suffix = "EZB.NSS.NSSSYS.", ".IPSEC.CERT"
        if self.resource.startswith(prefix) and self.resource.endswith(suffix):
            return self.resource[len(prefix) : -len(suffix)]
        return f"HOME.{self.userid}"

    @property
    def label(self) -> str:
        return LABELS[self.resource.split(".")[3]]


def c(why: str, userid: str, resource: str, profile: str | None, **kw: Any) -> Case:
    allowed = kw.pop("allowed")
    return Case(why, userid, resource, allowed, profile, **kw)


def cert(client: str) -> str:
    return f"EZB.NSS.NSSSYS.{client}.IPSEC.CERT"


END, TAIL, ANY_CERT = (
    "EZB.NSS.NSSSYS.END*",
    "EZB.NSS.NSSSYS.TAIL.*",
    "EZB.NSS.NSSSYS.*.IPSEC.CERT",
)
SIGN_END, SIGN_ANY = "EZB.NSSCERT.NSSSYS.END*", "EZB.NSSCERT.NSSSYS.*.HOST"
CA_TAIL, CA_ANY = "EZB.NSSCERT.NSSSYS.TAIL*", "EZB.NSSCERT.NSSSYS.*.CERTAUTH"

CASES = [
    # END*: a literal character beats * at the first difference, and the
    # ending asterisk crosses qualifiers.
    c("END* decides, not *.IPSEC.CERT", "CAROL", cert("END7"), END, allowed=False),
    c("END* permits ALICE", "ALICE", cert("END7"), END, allowed=True),
    c("END* takes qualifiers too", "ALICE", cert("END7.X"), END, allowed=True),
    c("END* takes zero characters", "ALICE", cert("END"), END, allowed=True),
    # TAIL.*: one or more qualifiers.
    c("TAIL.* decides", "CAROL", cert("TAIL"), TAIL, allowed=False),
    c("TAIL.* permits BOB", "BOB", cert("TAIL"), TAIL, allowed=True),
    c("TAIL.* takes more", "BOB", cert("TAIL.X.Y"), TAIL, allowed=True),
    c("UACC(READ)", "CAROL", cert("ANY"), ANY_CERT, allowed=True),
    c("* is one qualifier", "CAROL", cert("NOPE.X"), None, allowed=False),
    # %: one character.
    c(
        "% one character",
        "ALICE",
        cert("PAT"),
        "EZB.NSS.NSSSYS.P%T.IPSEC.CERT",
        allowed=True,
    ),
    c(
        "% decides",
        "CAROL",
        cert("PAT"),
        "EZB.NSS.NSSSYS.P%T.IPSEC.CERT",
        allowed=False,
    ),
    c("% not two", "CAROL", cert("PAAT"), ANY_CERT, allowed=True),
    # **: any number of qualifiers, none included.
    c("** many", "BOB", cert("DEEP.A.B"), "EZB.NSS.NSSSYS.DEEP.**", allowed=True),
    c("** decides", "CAROL", cert("DEEP"), "EZB.NSS.NSSSYS.DEEP.**", allowed=False),
    # Discrete profiles.
    c("discrete", "CAROL", cert("DISC"), cert("DISC"), allowed=True),
    c("discrete first", "ALICE", cert("DISC"), cert("DISC"), allowed=False),
    c("generic DIS*", "ALICE", cert("DISX"), "EZB.NSS.NSSSYS.DIS*", allowed=True),
    # GRPLIST.
    c("highest group", "ERIN", cert("GRP"), cert("GRP"), allowed=True),
    c("no group", "CAROL", cert("GRP"), cert("GRP"), allowed=False),
    c("user before group", "ERIN", cert("GRPX"), cert("GRPX"), allowed=False),
    # ID(*) and RESTRICTED.
    c("ID(*)", "CAROL", cert("STAR"), cert("STAR"), allowed=True),
    c("no ID(*) if RESTRICTED", "DAVE", cert("STAR"), cert("STAR"), allowed=False),
    c("no UACC if RESTRICTED", "DAVE", cert("ANY"), ANY_CERT, allowed=False),
    c("RESTRICTED by name", "DAVE", cert("END7"), END, allowed=True),
    # WARNING.
    c("WARNING", "CAROL", cert("WARN"), cert("WARN"), allowed=True, warning=True),
    c("no WARNING if RESTRICTED", "DAVE", cert("WARN"), cert("WARN"), allowed=False),
    # REVOKE and DELUSER residue.
    c("revoked", "FRANK", cert("ANY"), ANY_CERT, allowed=False),
    c("DELUSER residue", "GINA", cert("GINA"), cert("GINA"), allowed=False),
    # Signatures: the certificate's HOST profile.
    c(
        "sign: END*",
        "ALICE",
        "EZB.NSSCERT.NSSSYS.END7$SIGN.HOST",
        SIGN_END,
        allowed=True,
    ),
    c(
        "sign: END* decides, not *.HOST",
        "CAROL",
        "EZB.NSSCERT.NSSSYS.END7$SIGN.HOST",
        SIGN_END,
        allowed=False,
    ),
    c(
        "sign: UACC",
        "CAROL",
        "EZB.NSSCERT.NSSSYS.OTHER$SIGN.HOST",
        SIGN_ANY,
        allowed=True,
    ),
    c(
        "sign: no UACC if RESTRICTED",
        "DAVE",
        "EZB.NSSCERT.NSSSYS.OTHER$SIGN.HOST",
        SIGN_ANY,
        allowed=False,
    ),
    c(
        "sign: WARNING",
        "CAROL",
        "EZB.NSSCERT.NSSSYS.WARN$SIGN.HOST",
        "EZB.NSSCERT.NSSSYS.WARN$SIGN.HOST",
        allowed=True,
        warning=True,
    ),
    # CA lists: the certificate's CERTAUTH profile.
    c("CA: TAIL*", "BOB", "EZB.NSSCERT.NSSSYS.TAIL$CA.CERTAUTH", CA_TAIL, allowed=True),
    c(
        "CA: TAIL* decides, not *.CERTAUTH",
        "CLIENT1",
        "EZB.NSSCERT.NSSSYS.TAIL$CA.CERTAUTH",
        CA_TAIL,
        allowed=False,
    ),
    c(
        "CA: group",
        "CLIENT1",
        "EZB.NSSCERT.NSSSYS.NSS$CA.CERTAUTH",
        CA_ANY,
        allowed=True,
    ),
    c(
        "CA: not in group",
        "CAROL",
        "EZB.NSSCERT.NSSSYS.NSS$CA.CERTAUTH",
        CA_ANY,
        allowed=False,
    ),
]


def password_of(userid: str) -> str:
    return CLIENT1_PASSWORD if userid == "CLIENT1" else PASSWORD


class IbmExampleProfileTests(SynchronousTestCase):
    """
    IBM's examples through the Python API, in every general-resource class:
    the profile that protects each resource, and after an RDELETE of it,
    the next one down IBM's list.
    """

    def deciders(
        self, resourceClass: ResourceClass, names: list[str], resource: str
    ) -> list[str]:
        database = new_database(self)
        profiles = ProfileStore(database)
        profiles.set_options(activate=[resourceClass], generic=[resourceClass])
        for name in names:
            profiles.define(resourceClass, name, owner="IBMUSER", uacc=AccessLevel.READ)
        order: list[str] = []
        while True:
            decision = profiles.snapshot().authorize(
                "ANYONE", resourceClass, resource, AccessLevel.READ
            )
            if decision.profile is None:
                return order
            self.assertTrue(decision.allowed)
            order.append(decision.profile)
            profiles.delete(resourceClass, decision.profile)

    def test_copyTable(self) -> None:
        names = [profile for profile, _ in COPY_TABLE]
        for resourceClass in ResourceClass:
            for resource in COPY_RESOURCES:
                expected = [p for p, covered in COPY_TABLE if resource in covered]
                self.assertEqual(
                    self.deciders(resourceClass, names, resource), expected, resource
                )

    def test_paperStarAndPapStar(self) -> None:
        for resourceClass in ResourceClass:
            self.assertEqual(
                self.deciders(
                    resourceClass, ["COPY.PAP*", "COPY.PAPER*"], "COPY.PAPER.TEST"
                ),
                ["COPY.PAPER*", "COPY.PAP*"],
            )

    def test_cics(self) -> None:
        for resourceClass in ResourceClass:
            self.assertEqual(
                self.deciders(resourceClass, CICS_PROFILES, "CEDA"),
                ["CEDA", "CE*", "C*", "**"],
            )


def check_with_python_api(case: TestCase, database: SecurityDatabase) -> None:
    """
    Every case against the database through the Python API: the snapshot
    with the environment a logon of the user would build now.
    """
    snapshot = ProfileStore(database).snapshot()
    users = UserRegistry(database)
    for each in CASES:
        decision = snapshot.authorize(
            each.userid,
            SERVAUTH,
            each.resource,
            AccessLevel.READ,
            environment=users.environment(each.userid),
        )
        case.assertEqual(decision.allowed, each.allowed, each.why)
        case.assertEqual(decision.profile, each.profile, each.why)
        case.assertEqual(decision.warning, each.warning, each.why)
        if each.profile is None:
            case.assertEqual(decision.result, AuthorizationResult.NOT_PROTECTED)


class DecisionTests(TestCase):
    """
    The cases through the Python API and through a real C{twistd nssd}.
    """

    timeout = 120

    def setUp(self) -> None:
        self.setup = build_security(self)
        racf(self.setup, *JOB)

    def test_pythonApi(self) -> None:
        database = SecurityDatabase.open(self.setup.database, self.setup.stash)
        self.addCleanup(database.close)
        check_with_python_api(self, database)

    def start(self, setup: SecuritySetup) -> DaemonProcess:
        process = DaemonProcess()
        transport = reactor.spawnProcess(
            process,
            python(),
            twistd_args(write_nssd_config(setup)),
            env=dict(os.environ),
            path=ROOT,
        )

        def stop() -> Deferred[int]:
            if not process.ended.called:
                transport.signalProcess("TERM")
            return process.ended

        self.addCleanup(stop)
        return process

    def test_throughNssd(self) -> Deferred[None]:
        process = self.start(self.setup)
        database = SecurityDatabase.open(self.setup.database, self.setup.stash)
        self.addCleanup(database.close)
        authorities = {
            label: KeyRingStore(database)
            .get_certificate(CertificateOwner.authority(), label)
            .certificate.public_bytes(serialization.Encoding.DER)
            for label in ("NSS CA", "TAIL CA")
        }

        async def go() -> None:
            found = await process.waitFor(LISTENING.pattern)
            port = int(found.group(1))

            async def logon(userid: str, client: str) -> NssSession:
                return await connect(
                    reactor,
                    client_endpoint(self.setup, port),
                    serverIdentity=LOOPBACK,
                    clientName=client,
                    credentials=PasswordCredentials(userid, password_of(userid)),
                    services=Services.CERT,
                )

            async def logon_allowed(userid: str, client: str) -> bool:
                try:
                    session = await logon(userid, client)
                except NssRequestFailed as e:
                    expected = (
                        ReasonCode.NSSRsnUserRevoked
                        if userid == "FRANK"
                        else ReasonCode.NSSRsnServiceDenied
                    )
                    self.assertEqual(e.reasonCode, expected, (userid, client))
                    return False
                await session.close()
                return True

            homes: dict[str, NssSession] = {}

            async def home(userid: str) -> NssSession:
                if userid not in homes:
                    homes[userid] = await logon(userid, f"HOME.{userid}")
                    self.addCleanup(homes[userid].close)
                return homes[userid]

            async def sign_allowed(each: Case) -> bool:
                session = await home(each.userid)
                try:
                    await session.sign(
                        label=each.label,
                        data=b"issue 18",
                        scheme=SignatureSchemeCode.ECDSA_SHA256,
                    )
                except NssRequestFailed as e:
                    self.assertEqual(e.reasonCode, ReasonCode.NSSRsnCertAccessDenied)
                    return False
                return True

            async def listed(each: Case) -> bool:
                session = await home(each.userid)
                ders = [
                    certificate.public_bytes(serialization.Encoding.DER)
                    for certificate in await session.caCertificates()
                ]
                return authorities[each.label] in ders

            for each in CASES:
                if each.resource.endswith(".IPSEC.CERT"):
                    allowed = await logon_allowed(each.userid, each.client)
                elif each.resource.endswith(".HOST"):
                    allowed = await sign_allowed(each)
                else:
                    allowed = await listed(each)
                self.assertEqual(allowed, each.allowed, each.why)
                if each.warning:
                    await process.waitFor(
                        rb"DBG0140I ServauthWarning\("
                        + f"{each.userid},{each.resource}".replace("$", "\\$").encode()
                    )
            self.assertNotIn(b"DBG0140I ServauthWarning(DAVE", process.output)

            # When changes are seen: no case below waits for nssd's poll.
            # A connection: at the next logon, without a REFRESH.
            self.assertFalse(await logon_allowed("CAROL", "GRP"))
            racf(self.setup, "CONNECT CAROL GROUP(GRPB)")
            self.assertTrue(await logon_allowed("CAROL", "GRP"))
            # Class activation: at once.
            mark = len(process.output)
            racf(self.setup, "SETROPTS NOCLASSACT(SERVAUTH)")
            self.assertFalse(await logon_allowed("ALICE", "END7"))
            await process.waitFor(rb"DBG0141I class options changed", mark)
            racf(self.setup, "SETROPTS CLASSACT(SERVAUTH)")
            self.assertTrue(await logon_allowed("ALICE", "END7"))
            # A profile: only after SETROPTS RACLIST(SERVAUTH) REFRESH.
            racf(self.setup, "PERMIT EZB.NSS.NSSSYS.END* CLASS(SERVAUTH) ID(CAROL)")
            self.assertFalse(await logon_allowed("CAROL", "END7"))
            self.assertNotIn(b"DBG0013I", process.output)
            racf(self.setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            self.assertTrue(await logon_allowed("CAROL", "END7"))
            self.assertIn(b"DBG0013I security profiles reloaded", process.output)

        return ensureDeferred(go())
