"""
nssd signing with keys in a PKCS#11 token: a real C{twistd -n nssd} with a
real SoftHSM2 token, its signatures checked with the C{openssl} binary; and
a token that refuses the PIN, is taken away or initialised again, each
reported with its message while the keys sealed in the database sign on.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import SkipTest, TestCase

from nsstwisted.cli.racf import run as nss_racf
from nsstwisted.client import NssSession, PasswordCredentials, connect
from nsstwisted.client.connection import NssRequestFailed
from nsstwisted.nssd.management import RefreshRejected
from nsstwisted.nssd.service import NSSDService
from nsstwisted.protocols.startup import StartupError
from nsstwisted.security.labels import map_label
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nss import Services, SignatureSchemeCode
from tests.daemons import (
    CLIENT1_PASSWORD,
    LISTENING,
    LOOPBACK,
    DaemonProcess,
    SecuritySetup,
    build_security,
    capture_messages,
    client_endpoint,
    ended_within,
    spawn_twistd,
    start_nssd,
    twistd_args,
    write_nssd_config,
)
from tests.softhsm import SoftToken, new_token

DATA = b"IKE_SA_INIT | Nr | prf(SK_pi, IDi)"


def token_job(token: str) -> str:
    """
    Two certificates of CLIENT1 whose keys are made in the token, RSA-2048
    and ECDSA P-256, signed by the example's CA, on nssd's ring, and
    CLIENT1's authority to both.
    """
    lines = []
    for label, kind in (("Client1 hsm", "RSA"), ("Client1 hsmec", "NISTECC")):
        size = 2048 if kind == "RSA" else 256
        lines += [
            f"RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('{label}') O('Example')) -",
            f"  WITHLABEL('{label}') {kind}(TOKEN('{token}')) SIZE({size}) -",
            "  SIGNWITH(CERTAUTH LABEL('NSS CA')) ALTNAME(DOMAIN('client1.example'))",
            f"RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('{label}') RING(NSSRING) -",
            "  USAGE(PERSONAL))",
            f"RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.{map_label(label)}.HOST UACC(NONE)",
            f"PERMIT EZB.NSSCERT.NSSSYS.{map_label(label)}.HOST CLASS(SERVAUTH) -",
            "  ID(CLIENT1) ACCESS(READ)",
        ]
    lines.append("SETROPTS RACLIST(SERVAUTH) REFRESH")
    return "\n".join(lines) + "\n"


def setup_with_token(case: TestCase) -> tuple[SecuritySetup, SoftToken]:
    token = new_token(case)
    setup = build_security(case)
    job = os.path.join(setup.folder, "token.racf")
    with open(job, "w") as f:
        f.write(token_job(token.label))
    os.chmod(job, 0o600)
    err = io.StringIO()
    status = nss_racf(
        [
            "--database",
            setup.database,
            "--stash",
            setup.stash,
            "--pkcs11-module",
            token.module,
            "--pkcs11-pin-file",
            token.pinFile,
            "--file",
            job,
        ],
        io.StringIO(),
        err,
    )
    if status != 0:
        raise RuntimeError(f"token job failed: {err.getvalue()}")
    return setup, token


def token_lines(token: SoftToken, pinFile: str | None = None) -> tuple[str, ...]:
    return (
        f'  Pkcs11Module "{token.module}"',
        f'  Pkcs11TokenLabel "{token.label}"',
        f'  Pkcs11PinFile "{pinFile or token.pinFile}"',
    )


def openssl_verifies(
    folder: str, certificate: bytes, signature: bytes, pss: bool = False
) -> bool:
    """
    Whether C{openssl dgst -sha256 -verify} accepts C{signature} over
    L{DATA} with the public key of C{certificate} (DER): the check of a
    party that shares no code with nsstwisted.
    """
    pem = x509.load_der_x509_certificate(certificate).public_bytes(
        serialization.Encoding.PEM
    )
    paths = {}
    for name, content in (("cert.pem", pem), ("data", DATA), ("sig", signature)):
        paths[name] = os.path.join(folder, name)
        with open(paths[name], "wb") as f:
            f.write(content)
    publicKey = subprocess.run(
        ["openssl", "x509", "-in", paths["cert.pem"], "-pubkey", "-noout"],
        capture_output=True,
        check=True,
    ).stdout
    paths["pub.pem"] = os.path.join(folder, "pub.pem")
    with open(paths["pub.pem"], "wb") as f:
        f.write(publicKey)
    options = (
        ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
        if pss
        else []
    )
    done = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            *options,
            "-verify",
            paths["pub.pem"],
            "-signature",
            paths["sig"],
            paths["data"],
        ],
        capture_output=True,
        text=True,
    )
    return done.returncode == 0 and "Verified OK" in done.stdout


async def client1_session(
    case: TestCase, setup: SecuritySetup, port: int
) -> NssSession:
    """
    CLIENT1's session for the certificate service of the nssd on C{port},
    closed when C{case} ends.
    """
    session = await connect(
        reactor,
        client_endpoint(setup, port),
        serverIdentity=LOOPBACK,
        clientName="CLIENT1",
        credentials=PasswordCredentials("CLIENT1", CLIENT1_PASSWORD),
        services=Services.CERT,
    )
    case.addCleanup(session.close)
    return session


class TwistdTokenTests(TestCase):
    """
    The real daemon with the real token.
    """

    timeout = 120

    def setUp(self) -> None:
        if shutil.which("openssl") is None:
            raise SkipTest("the openssl binary is not installed")
        self.setup, self.token = setup_with_token(self)

    async def started(self, *extra: str) -> tuple[DaemonProcess, int]:
        config = write_nssd_config(self.setup, *extra)
        process = spawn_twistd(self, twistd_args(config))
        found = await process.waitFor(LISTENING.pattern)
        return process, int(found.group(1))

    async def client(self, port: int) -> NssSession:
        return await client1_session(self, self.setup, port)

    async def assertRefused(
        self,
        session: NssSession,
        label: str,
        reason: ReasonCode,
        returnCode: ReturnCode,
    ) -> None:
        try:
            await session.sign(
                label=label, data=DATA, scheme=SignatureSchemeCode.RSA_PKCS1_SHA256
            )
        except NssRequestFailed as e:
            self.assertEqual((e.returnCode, e.reasonCode), (returnCode, reason))
        else:
            self.fail(f"{label} signed")

    async def assertSealedSigns(self, session: NssSession) -> None:
        reply = await session.sign(
            label="Client1 cert",
            data=DATA,
            scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
        )
        self.assertTrue(
            openssl_verifies(self.setup.folder, reply.certificate, reply.signature)
        )

    def test_signsWithTokenKeys(self) -> Deferred[None]:
        """
        nssd signs with the token's RSA-2048 and P-256 keys (PKCS#1 v1.5,
        PSS, ECDSA) as with a sealed key, and openssl verifies each
        signature with the certificate nssd sends back.
        """

        async def go() -> None:
            process, port = await self.started(*token_lines(self.token))
            await process.waitFor(
                rb"DBG0205I PKCS#11 token \S+ \(module [^)]+\): 2 keys of key ring"
                rb" NSSD/NSSRING sign in it"
            )
            session = await self.client(port)
            for label, scheme, pss in (
                ("Client1 hsm", SignatureSchemeCode.RSA_PKCS1_SHA256, False),
                ("Client1 hsm", SignatureSchemeCode.RSA_PSS_SHA256, True),
                ("Client1 hsmec", SignatureSchemeCode.ECDSA_SHA256, False),
            ):
                reply = await session.sign(label=label, data=DATA, scheme=scheme)
                self.assertTrue(
                    openssl_verifies(
                        self.setup.folder, reply.certificate, reply.signature, pss
                    ),
                    f"{label} {scheme.name}",
                )
            await self.assertSealedSigns(session)
            self.assertNotIn(self.token.pin.encode(), process.output)

        return ensureDeferred(go())

    def test_wrongPin(self) -> Deferred[None]:
        """
        With a PIN the token refuses, nssd starts, says so once (DBG0206I),
        names the certificates that cannot sign (DBG0207I), refuses them
        with NSSRsnKeyStoreUnavailable, and signs with its sealed keys.
        """
        wrong = os.path.join(self.setup.folder, "wrong.pin")
        fd = os.open(wrong, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("not-the-pin\n")

        async def go() -> None:
            process, port = await self.started(*token_lines(self.token, wrong))
            await process.waitFor(
                rb"DBG0206I PKCS#11 token \S+ is unavailable: NSR0390E token \S+"
                rb" refused the user PIN from PIN file \S+wrong.pin \(PinIncorrect\)"
            )
            await process.waitFor(
                rb"DBG0207I key ring NSSD/NSSRING: certificate \( Client1 hsm \)"
                rb" cannot sign: NSR0390E"
            )
            session = await self.client(port)
            await self.assertRefused(
                session,
                "Client1 hsm",
                ReasonCode.NSSRsnKeyStoreUnavailable,
                ReturnCode.EBUSY,
            )
            await self.assertSealedSigns(session)
            self.assertEqual(process.output.count(b"DBG0206I"), 1)
            self.assertNotIn(b"not-the-pin", process.output)

        return ensureDeferred(go())

    def test_removedToken(self) -> Deferred[None]:
        """
        A token taken away while nssd runs: its keys are refused with
        NSSRsnKeyStoreUnavailable (DBG0206I says why), and the sealed keys
        sign on.
        """

        async def go() -> None:
            process, port = await self.started(*token_lines(self.token))
            session = await self.client(port)
            await session.sign(
                label="Client1 hsm",
                data=DATA,
                scheme=SignatureSchemeCode.RSA_PKCS1_SHA256,
            )
            self.token.remove()
            await self.assertRefused(
                session,
                "Client1 hsm",
                ReasonCode.NSSRsnKeyStoreUnavailable,
                ReturnCode.EBUSY,
            )
            await process.waitFor(
                rb"DBG0206I PKCS#11 token \S+ is unavailable: .*"
                rb"is not present"
            )
            await self.assertSealedSigns(session)

        return ensureDeferred(go())

    def test_reinitialisedToken(self) -> Deferred[None]:
        """
        A token initialised again in place answers, after nssd logs in
        again (DBG0209I), but no longer holds the key: the certificate has
        no private key (NSSRsnNoPrivateKey), and the sealed keys sign on.
        """

        async def go() -> None:
            process, port = await self.started(*token_lines(self.token))
            session = await self.client(port)
            await session.sign(
                label="Client1 hsmec",
                data=DATA,
                scheme=SignatureSchemeCode.ECDSA_SHA256,
            )
            self.token.reinitialise()
            try:
                await session.sign(
                    label="Client1 hsmec",
                    data=DATA,
                    scheme=SignatureSchemeCode.ECDSA_SHA256,
                )
            except NssRequestFailed as e:
                self.assertEqual(e.reasonCode, ReasonCode.NSSRsnNoPrivateKey)
            else:
                self.fail("a key the token no longer holds signed")
            await process.waitFor(rb"DBG0209I PKCS#11 token \S+ failed as a reset")
            await self.assertSealedSigns(session)

        return ensureDeferred(go())

    def test_pinFileOpenToOthers(self) -> Deferred[None]:
        """
        A PIN file that group or others may read stops the start, naming
        the file and the mode required.
        """
        os.chmod(self.token.pinFile, 0o640)

        async def go() -> None:
            config = write_nssd_config(self.setup, *token_lines(self.token))
            process = spawn_twistd(self, twistd_args(config))
            status = await ended_within(process)
            self.assertNotEqual(status, 0)
            self.assertIn(
                f"NSR0392E PIN file {self.token.pinFile} has mode 0640; mode 0600 "
                "is required".encode(),
                process.output,
            )
            self.assertNotIn(self.token.pin.encode(), process.output)

        return ensureDeferred(go())


class RefreshTokenTests(TestCase):
    """
    The token across a refresh, in-process.
    """

    timeout = 60

    def test_pinCorrectedAtRefresh(self) -> Deferred[None]:
        """
        A wrong PIN is tried again only when a refresh reads another one
        from the PIN file; then the token is back (DBG0210I) and its keys
        sign.
        """
        setup, token = setup_with_token(self)
        pinFile = os.path.join(setup.folder, "refresh.pin")
        fd = os.open(pinFile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("not-the-pin\n")
        messages = capture_messages(self)
        service = start_nssd(self, setup, extra=token_lines(token, pinFile))
        self.assertTrue(any("DBG0206I" in m for m in messages))

        async def go() -> None:
            assert service.port is not None
            port = service.port.getHost().port  # type: ignore[attr-defined]
            session = await client1_session(self, setup, port)
            try:
                await session.sign(
                    label="Client1 hsmec",
                    data=DATA,
                    scheme=SignatureSchemeCode.ECDSA_SHA256,
                )
            except NssRequestFailed as e:
                self.assertEqual(e.reasonCode, ReasonCode.NSSRsnKeyStoreUnavailable)
            else:
                self.fail("signed with a token whose PIN was refused")
            with open(pinFile, "w") as f:
                f.write(token.pin + "\n")
            await service.refresh()
            self.assertTrue(
                any(
                    f"DBG0210I PKCS#11 token {token.label} is available" in m
                    for m in messages
                )
            )
            reply = await session.sign(
                label="Client1 hsmec",
                data=DATA,
                scheme=SignatureSchemeCode.ECDSA_SHA256,
            )
            self.assertTrue(
                openssl_verifies(setup.folder, reply.certificate, reply.signature)
            )
            self.assertFalse(any(token.pin in m for m in messages))

        return ensureDeferred(go())

    def test_tlsKeyInTokenRefused(self) -> None:
        """
        nssd's own TLS certificate cannot have its key in the token (its TLS
        library takes only a key it holds): a start with one is refused,
        saying so, rather than serving without TLS.
        """
        setup, token = setup_with_token(self)
        job = os.path.join(setup.folder, "tls.racf")
        with open(job, "w") as f:
            f.write(
                "RACDCERT ID(NSSD) GENCERT SUBJECTSDN(CN('localhost')) -\n"
                f"  WITHLABEL('NSSD HSM TLS') NISTECC(TOKEN('{token.label}')) -\n"
                "  SIGNWITH(CERTAUTH LABEL('NSS CA')) ALTNAME(IP(127.0.0.1))\n"
                "RACDCERT ID(NSSD) ADDRING(HSMTLS)\n"
                "RACDCERT ID(NSSD) CONNECT(ID(NSSD) LABEL('NSSD HSM TLS') -\n"
                "  RING(HSMTLS) DEFAULT)\n"
            )
        os.chmod(job, 0o600)
        err = io.StringIO()
        arguments = ["--database", setup.database, "--stash", setup.stash]
        tokenArguments = ["--pkcs11-module", token.module]
        tokenArguments += ["--pkcs11-pin-file", token.pinFile]
        status = nss_racf(
            [*arguments, *tokenArguments, "--file", job], io.StringIO(), err
        )
        self.assertEqual((status, err.getvalue()), (0, ""))
        config = write_nssd_config(setup, *token_lines(token), tlsRing="NSSD/HSMTLS")
        error = self.assertRaises(
            StartupError, NSSDService.prepare, config, reactor, interface="127.0.0.1"
        )
        self.assertIn(
            "NSR0391E the private key of TLS certificate 'NSSD HSM TLS' is in PKCS#11"
            f" token {token.label}: nssd's TLS (pyOpenSSL) cannot sign its handshake"
            " with a token key",
            str(error),
        )

    def test_pinFileOpenedAtRefresh(self) -> Deferred[None]:
        """
        A refresh that finds the PIN file open to others is rejected, naming
        it, and the token goes on signing with the PIN nssd has.
        """
        setup, token = setup_with_token(self)
        service = start_nssd(self, setup, extra=token_lines(token))

        async def go() -> None:
            os.chmod(token.pinFile, 0o644)
            try:
                await service.refresh()
            except RefreshRejected as e:
                self.assertIn(
                    f"NSR0392E PIN file {token.pinFile} has mode 0644", str(e)
                )
            else:
                self.fail("a refresh accepted a PIN file open to others")
            assert service.port is not None
            port = service.port.getHost().port  # type: ignore[attr-defined]
            session = await client1_session(self, setup, port)
            reply = await session.sign(
                label="Client1 hsm",
                data=DATA,
                scheme=SignatureSchemeCode.RSA_PSS_SHA256,
            )
            self.assertTrue(
                openssl_verifies(setup.folder, reply.certificate, reply.signature, True)
            )

        return ensureDeferred(go())

    def test_check(self) -> None:
        """
        C{--check} logs into the token as a start would, and says so; and
        says when it cannot.
        """
        setup, token = setup_with_token(self)
        config = write_nssd_config(setup, *token_lines(token))
        lines = NSSDService.check(config, reactor)
        self.assertIn(
            f"PKCS#11 token {token.label} (module {token.module}): logged in", lines
        )
        token.remove()
        lines = NSSDService.check(config, reactor)
        self.assertTrue(
            any(
                line.startswith(f"PKCS#11 token {token.label} is unavailable")
                and line.endswith("nssd would start, and its keys would not sign")
                for line in lines
            ),
            lines,
        )
