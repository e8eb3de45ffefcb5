"""
Real-daemon tests of the certificate service's label mapping: nssd on an
ephemeral loopback port over a security database built by the example job and
nss-racf, with clients that log on and sign through the client API.
"""

from __future__ import annotations

import sqlite3
from typing import cast

from cryptography import x509
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import TestCase

from nsstwisted.client import NssRequestFailed, NssSession, PasswordCredentials
from nsstwisted.client import connect as nss_connect
from nsstwisted.wire.codes import ReasonCode
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LOOPBACK,
    SecuritySetup,
    build_security,
    capture_messages,
    client_endpoint,
    racf,
    start_nssd,
)


def gencert(owner: str, label: str, commonName: str) -> str:
    return (
        f"RACDCERT ID({owner}) GENCERT SUBJECTSDN(CN('{commonName}') O('Example')) "
        f"NISTECC SIZE(256) WITHLABEL('{label}') SIGNWITH(CERTAUTH LABEL('NSS CA'))"
    )


def connect_to_ring(owner: str, label: str) -> str:
    return (
        f"RACDCERT ID(NSSD) CONNECT(ID({owner}) LABEL('{label}') RING(NSSRING) "
        "USAGE(PERSONAL))"
    )


class LabelMappingTests(TestCase):
    """
    The ring holds CLIENT1's certificate C{Strasse}, whose profile
    C{EZB.NSSCERT.NSSSYS.STRASSE.HOST} permits CLIENT1, and CLIENT2's
    certificate C{Straße}.
    """

    def setUp(self) -> None:
        self.messages = capture_messages(self)
        self.setup = build_security(self)

    def start(self) -> int:
        service = start_nssd(self, self.setup)
        assert service.port is not None
        return int(service.port.getHost().port)  # type: ignore[attr-defined]

    def assertLogged(self, text: str) -> None:
        if not any(text in m for m in self.messages):
            self.fail(f"{text!r} was not logged; the log:\n" + "\n".join(self.messages))

    async def logon(self, port: int) -> NssSession:
        session = await nss_connect(
            reactor,
            client_endpoint(self.setup, port),
            serverIdentity=LOOPBACK,
            clientName="CLIENT1",
            credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
            services=Services.CERT,
        )
        self.addCleanup(session.close)
        return session

    async def refused(self, session: NssSession, label: str) -> ReasonCode:
        signing = session.sign(
            label=label, data=b"x", scheme=SignatureSchemeCode.ECDSA_SHA256
        )
        # trial's assertFailure fires with the exception, not the result.
        failure = cast(
            NssRequestFailed, await self.assertFailure(signing, NssRequestFailed)
        )
        return ReasonCode(failure.reasonCode)

    def test_nonAsciiLabelIsNotCheckedAgainstAsciiProfile(self) -> Deferred[None]:
        """
        CLIENT1 asks to sign with CLIENT2's C{Straße}: its profile name is
        C{...STRA$E.HOST}, not CLIENT1's C{...STRASSE.HOST}, so the signature
        is refused; CLIENT1 still signs with its own C{Strasse}.
        """
        racf(
            self.setup,
            gencert("CLIENT1", "Strasse", "strasse.example"),
            gencert("CLIENT2", "Straße", "strasse2.example"),
            connect_to_ring("CLIENT1", "Strasse"),
            connect_to_ring("CLIENT2", "Straße"),
            "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.STRASSE.HOST UACC(NONE)",
            "PERMIT EZB.NSSCERT.NSSSYS.STRASSE.HOST CLASS(SERVAUTH) ID(CLIENT1)",
            "SETROPTS RACLIST(SERVAUTH) REFRESH",
        )
        port = self.start()

        async def go() -> None:
            session = await self.logon(port)
            reason = await self.refused(session, "Straße")
            self.assertEqual(reason, ReasonCode.NSSRsnCertAccessDenied)
            self.assertLogged(
                "DBG0004I NSS_CERTINFO Client CLIENT1 connected as userid CLIENT1 "
                "is not authorized to profile EZB.NSSCERT.NSSSYS.STRA$E.HOST "
                "associated with matching certificate ( Straße )"
            )
            reply = await session.sign(
                label="Strasse", data=b"x", scheme=SignatureSchemeCode.ECDSA_SHA256
            )
            certificate = x509.load_der_x509_certificate(reply.certificate)
            self.assertEqual(
                certificate.subject.rfc4514_string(), "CN=strasse.example,O=Example"
            )

        return ensureDeferred(go())

    def test_collidingLabelIsRefusedByRacdcert(self) -> None:
        """
        CLIENT2's certificate may not be labelled C{CLIENT1 CERT}: it would
        share C{EZB.NSSCERT.sys.CLIENT1$CERT.HOST} with CLIENT1's
        C{Client1 cert}.
        """
        e = self.assertRaises(
            RuntimeError,
            racf,
            self.setup,
            gencert("CLIENT2", "CLIENT1 CERT", "other.example"),
        )
        self.assertIn("NSR0310E", str(e))
        self.assertIn("CLIENT1$CERT", str(e))

    def test_collisionInExistingDatabaseFailsClosed(self) -> Deferred[None]:
        """
        A database written before collisions were refused holds CLIENT2's
        C{CLIENT1 CERT} beside CLIENT1's C{Client1 cert}, both on the ring.
        nssd says so when it loads the ring (DBG0130I) and signs with
        neither (DBG0131I), whoever is permitted to the shared profile.
        """
        racf(
            self.setup,
            gencert("CLIENT2", "Legacy", "legacy.example"),
            connect_to_ring("CLIENT2", "Legacy"),
        )
        relabel(self.setup, "Legacy", "CLIENT1 CERT")
        port = self.start()
        self.assertLogged(
            "DBG0130I key ring NSSD/NSSRING: the certificates ( CLIENT1 CERT ) "
            "( Client1 cert ) map to one name in profiles EZB.NSSCERT.NSSSYS."
            "CLIENT1$CERT.HOST and .CERTAUTH; none of them is used"
        )

        async def go() -> None:
            session = await self.logon(port)
            for label in ("CLIENT1 CERT", "Client1 cert"):
                reason = await self.refused(session, label)
                self.assertEqual(reason, ReasonCode.NSSRsnCertAccessDenied)
            self.assertLogged(
                "DBG0131I NSS_CERTINFO Client CLIENT1 may not use certificate "
                "( CLIENT1 CERT ): its profile name EZB.NSSCERT.NSSSYS."
                "CLIENT1$CERT.HOST also names another certificate of the ring"
            )

        return ensureDeferred(go())

    def test_collidingCertificateAuthorityIsNotListed(self) -> Deferred[None]:
        """
        Two CERTAUTH entries of an old database whose labels map to one
        name are both left out of the CA list.
        """
        racf(
            self.setup,
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('Other CA')) NISTECC "
            "SIZE(256) WITHLABEL('Legacy CA')",
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Legacy CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
        )
        relabel(self.setup, "Legacy CA", "nss ca")
        port = self.start()

        async def go() -> None:
            session = await self.logon(port)
            self.assertEqual(await session.caCertificates(), [])

        return ensureDeferred(go())


def relabel(setup: SecuritySetup, label: str, newLabel: str) -> None:
    """
    Rename a certificate behind nss-racf's back, as a database written
    before colliding labels were refused may hold it.
    """
    connection = sqlite3.connect(setup.database)
    try:
        with connection:
            connection.execute(
                "UPDATE certificates SET label = ? WHERE label = ?", (newLabel, label)
            )
    finally:
        connection.close()
