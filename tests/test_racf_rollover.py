"""
Tests for certificate renewal with a new key pair, RACF's way:
C{RACDCERT REKEY} makes the successor beside the old certificate, which
serves on; C{RACDCERT ROLLOVER} puts the successor in its place in every
ring and destroys the old private key.  On a real database built with
C{nss-racf} from the documented example job.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import TestCase

from nsstwisted.client import NssRequestFailed, PasswordCredentials, connect
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
from nsstwisted.security.signing import scheme_for_key, verify
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LISTENING,
    LOOPBACK,
    build_security,
    client_endpoint,
    racf,
    spawn_twistd,
    twistd_args,
    write_nssd_config,
)
from tests.test_cli_racf import EXAMPLE_JOB, RacfTestCase
from tests.test_nssd_twistd import process_pid

CLIENT1 = CertificateOwner(userid="CLIENT1")
REKEY = (
    "RACDCERT ID(CLIENT1) REKEY(LABEL('Client1 cert')) WITHLABEL('Client1 cert 2') "
    "SIGNWITH(CERTAUTH LABEL('NSS CA'))"
)
ROLLOVER = (
    "RACDCERT ID(CLIENT1) ROLLOVER(LABEL('Client1 cert')) NEWLABEL('Client1 cert 2')"
)


class RolloverTests(RacfTestCase):
    def setUp(self) -> None:
        super().setUp()
        with open(EXAMPLE_JOB, encoding="utf-8") as f:
            status, _out, err = self.nss_racf("--file", self.job(f.read()))
        self.assertEqual((status, err), (0, ""))

    def signs(self, keyrings: KeyRingStore, label: str) -> None:
        signature = keyrings.sign("NSSD", "NSSRING", label, b"renewed")
        key = keyrings.ring("NSSD", "NSSRING").entry(label).record.certificate
        public = key.public_key()
        self.assertTrue(verify(public, b"renewed", signature, scheme_for_key(public)))

    def labels(self, keyrings: KeyRingStore) -> list[str]:
        return sorted(
            entry.record.label for entry in keyrings.ring("NSSD", "NSSRING").entries
        )

    def test_rekeyThenRollover(self) -> None:
        """
        The successor has the old subject and alternative names, a new key
        of the same kind, and the CA's signature; the old certificate signs
        on until the rollover, after which the successor has its place
        (usage and all) and the old one is kept without its key.
        """
        status, out, err = self.nss_racf(REKEY)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("NSR0302I certificate 'Client1 cert 2' of ID(CLIENT1) added", out)
        keyrings = KeyRingStore(self.open())
        old = keyrings.get_certificate(CLIENT1, "Client1 cert").certificate
        new = keyrings.get_certificate(CLIENT1, "Client1 cert 2").certificate
        self.assertEqual(new.subject, old.subject)
        self.assertEqual(new.issuer, old.issuer)
        self.assertEqual(
            new.extensions.get_extension_for_class(x509.SubjectAlternativeName),
            old.extensions.get_extension_for_class(x509.SubjectAlternativeName),
        )
        self.assertNotEqual(new.public_key(), old.public_key())
        self.assertIsInstance(new.public_key(), rsa.RSAPublicKey)
        self.assertEqual(new.public_key().key_size, 2048)  # type: ignore[union-attr]
        # Before the rollover: the ring is as it was, and the old key signs.
        self.assertNotIn("Client1 cert 2", self.labels(keyrings))
        self.signs(keyrings, "Client1 cert")
        before = keyrings.ring("NSSD", "NSSRING").entry("Client1 cert")

        status, out, err = self.nss_racf(ROLLOVER)
        self.assertEqual((status, err), (0, ""))
        self.assertIn(
            "NSR0375I certificate 'Client1 cert' of ID(CLIENT1) was rolled over to "
            "'Client1 cert 2' in 1 key ring;",
            out,
        )
        keyrings = KeyRingStore(self.open())
        self.assertEqual(
            self.labels(keyrings), ["Client1 cert 2", "Client2 cert", "NSS CA"]
        )
        after = keyrings.ring("NSSD", "NSSRING").entry("Client1 cert 2")
        self.assertEqual(
            (after.usage, after.isDefault), (before.usage, before.isDefault)
        )
        self.signs(keyrings, "Client1 cert 2")
        retired = keyrings.get_certificate(CLIENT1, "Client1 cert")
        self.assertFalse(retired.hasPrivateKey)

    def test_selfSignedWithoutSignwith(self) -> None:
        status, _out, err = self.nss_racf(
            "RACDCERT ID(CLIENT2) REKEY(LABEL('Client2 cert')) "
            "WITHLABEL('Client2 next')"
        )
        self.assertEqual((status, err), (0, ""))
        keyrings = KeyRingStore(self.open())
        new = keyrings.get_certificate(
            CertificateOwner(userid="CLIENT2"), "Client2 next"
        ).certificate
        self.assertEqual(new.issuer, new.subject)

    def test_rolloverRefusesSuccessorWithoutKey(self) -> None:
        """
        A successor with no private key cannot take the place of a
        certificate that signs: nothing changes.
        """
        self.assertEqual(self.nss_racf(REKEY)[0], 0)
        self.assertEqual(self.nss_racf(ROLLOVER)[0], 0)
        status, _out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) ROLLOVER(LABEL('Client1 cert 2')) "
            "NEWLABEL('Client1 cert')"
        )
        self.assertEqual(status, 1)
        self.assertIn("has no private key", err)
        keyrings = KeyRingStore(self.open())
        self.assertIn("Client1 cert 2", self.labels(keyrings))
        self.assertTrue(
            keyrings.get_certificate(CLIENT1, "Client1 cert 2").hasPrivateKey
        )

    def test_rekeyNeedsPrivateKey(self) -> None:
        self.assertEqual(self.nss_racf(REKEY)[0], 0)
        self.assertEqual(self.nss_racf(ROLLOVER)[0], 0)
        status, _out, err = self.nss_racf(
            "RACDCERT ID(CLIENT1) REKEY(LABEL('Client1 cert')) WITHLABEL('Again')"
        )
        self.assertEqual(status, 1)
        self.assertIn("has no private key: only a certificate that signs", err)


class NssdRolloverTests(TestCase):
    """
    A real C{twistd nssd}: a client signs with the old certificate through
    REKEY and ROLLOVER, until nssd's refresh; after it, with the successor.
    """

    timeout = 60

    def test_signsThroughRollover(self) -> Deferred[None]:
        setup = build_security(self)
        process = spawn_twistd(self, twistd_args(write_nssd_config(setup)))

        async def sign(session: Any, label: str) -> x509.Certificate:
            signed = await session.sign(
                label=label,
                data=b"rolled over",
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            certificate = x509.load_der_x509_certificate(signed.certificate)
            public = certificate.public_key()
            self.assertTrue(
                verify(public, b"rolled over", signed.signature, scheme_for_key(public))
            )
            return certificate

        async def go() -> None:
            found = await process.waitFor(LISTENING.pattern)
            one = await connect(
                reactor,
                client_endpoint(setup, int(found.group(1))),
                serverIdentity=LOOPBACK,
                clientName="CLIENT1",
                credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
                services=Services.CERT,
            )
            old = await sign(one, "Client1 cert")
            racf(
                setup,
                REKEY,
                "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.CLIENT1$CERT$2.HOST UACC(NONE)",
                "PERMIT EZB.NSSCERT.NSSSYS.CLIENT1$CERT$2.HOST CLASS(SERVAUTH) "
                "ID(CLIENT1) ACCESS(READ)",
                ROLLOVER,
            )
            # Until nssd's refresh: the old certificate and the key it holds.
            self.assertEqual(await sign(one, "Client1 cert"), old)
            mark = len(process.output)
            racf(setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            os.kill(process_pid(process), signal.SIGHUP)
            await process.waitFor(rb"DBG0011I configuration refreshed", mark)
            new = await sign(one, "Client1 cert 2")
            self.assertNotEqual(new.public_key(), old.public_key())
            self.assertEqual(new.subject, old.subject)
            failure = await self.assertFailure(
                ensureDeferred(sign(one, "Client1 cert")), NssRequestFailed
            )
            self.assertIn("NSSRsn", str(failure))
            await one.close()

        return ensureDeferred(go())
