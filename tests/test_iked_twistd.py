"""
C{twistd -n iked} when it cannot start, and C{twistd iked --check}: the
real plugin as a separate process (issue 10, items 1 and 8).
"""

from __future__ import annotations

import os

from twisted.internet.defer import Deferred, ensureDeferred

from tests.daemons import (
    DaemonProcess,
    ended_within,
    free_port,
    spawn_twistd,
    start_nssd,
    twistd_args,
)
from tests.test_iked_keyexchange_localring import POLICY
from tests.test_iked_nssclient_connection import STACKS, IkedTestCase, write_iked_config


class IkedTwistdCase(IkedTestCase):
    timeout = 60

    def config(
        self, *ikeConfig: str, stacks: str = STACKS, port: int | None = None
    ) -> str:
        """
        iked.conf with the NSS stacks, a stack C{LOCAL} whose IKE peers
        sign with iked's own key ring (the example job's NSSD/NSSRING), and
        C{ikeConfig} lines at the end of IkeConfig.
        """
        policy = os.path.join(self.setup.folder, "local.policy")
        with open(policy, "w") as f:
            f.write(POLICY)
        path = write_iked_config(
            self.setup,
            free_port() if port is None else port,
            None,
            stacks + f'TcpipStack LOCAL {{ PolicyFile "{policy}" }}\n',
        )
        lines = [
            f'  SecurityDatabase "{self.setup.database}"',
            "  KeyRing NSSD/NSSRING",
            *ikeConfig,
        ]
        with open(path) as f:
            # At the end of IkeConfig, where the later of two values wins.
            text = f.read().replace("\n}\n", "\n" + "\n".join(lines) + "\n}\n", 1)
        with open(path, "w") as f:
            f.write(text)
        return path

    @property
    def nmiSocket(self) -> str:
        return f"{self.setup.sockets}/iked/ipsecmgmt"

    async def cannotStart(self, config: str, *expected: bytes) -> DaemonProcess:
        process = spawn_twistd(self, twistd_args(config, "iked"))
        code = await ended_within(process)
        self.assertEqual(code, 1, process.output)
        self.assertIn(b"EZD1104I IKE daemon cannot start: ", process.output)
        for text in expected:
            self.assertIn(text, process.output)
        self.assertNotIn(b"Traceback", process.output)
        self.assertNotIn(b"EZD1138I", process.output)
        return process


class FailedStartTests(IkedTwistdCase):
    """
    Every start that fails ends twistd within seconds, non-zero, with
    EZD1104I and no traceback, before iked serves its management socket
    or logs on to nssd.
    """

    def test_localRingMissing(self) -> Deferred[None]:
        """
        The database of the ring a stack signs with does not exist: iked
        ends without serving its management socket and without logging on
        to the nssd its NSS stacks use.
        """
        nssd = start_nssd(self, self.setup)
        assert nssd.port is not None
        port = nssd.port.getHost().port  # type: ignore[attr-defined]
        missing = os.path.join(self.setup.folder, "missing.db")
        config = self.config(f'  SecurityDatabase "{missing}"', port=port)

        async def go() -> None:
            await self.cannotStart(
                config,
                b"the local key ring NSSD/NSSRING in " + missing.encode(),
                b"which stack LOCAL signs its IKE peers' AUTH with",
                b"does not exist",
            )
            self.assertFalse(os.path.exists(self.nmiSocket))
            self.assertFalse(self.logged("DBG0101I"), self.messages)

        return ensureDeferred(go())

    def test_localRingNotDefined(self) -> Deferred[DaemonProcess]:
        config = self.config("  KeyRing NSSD/NOSUCH")
        return ensureDeferred(
            self.cannotStart(config, b"key ring NSSD/NOSUCH does not exist")
        )

    def test_foreignStash(self) -> Deferred[DaemonProcess]:
        with open(self.setup.stash, "r+b") as f:
            key = f.read()
            f.seek(0)
            f.write(bytes(b ^ 0xFF for b in key))
        return ensureDeferred(self.cannotStart(self.config(), b"NSR0203E stash file"))

    def test_noKeyRing(self) -> Deferred[DaemonProcess]:
        return ensureDeferred(
            self.cannotStart(
                self.config("  NoKeyRing"),
                b"stack LOCAL has IKE peers but neither the NSS certificate"
                b" service (ServiceType Cert) nor a key ring",
            )
        )

    def test_socketDirectoryFails(self) -> Deferred[None]:
        blocker = os.path.join(self.setup.sockets, "not-a-directory")
        with open(blocker, "w") as f:
            f.write("a file where the socket directory should be\n")
        config = self.config(f'  NmiSocket "{blocker}/iked/ipsecmgmt"')

        async def go() -> None:
            process = await self.cannotStart(
                config, b"EZD1101I cannot create socket directory"
            )
            self.assertNotIn(b"ReactorNotRunning", process.output)

        return ensureDeferred(go())

    def test_caFileMissing(self) -> Deferred[DaemonProcess]:
        os.remove(os.path.join(self.setup.folder, "ca.pem"))
        return ensureDeferred(self.cannotStart(self.config(), b"CaFile "))

    def test_caFileDamaged(self) -> Deferred[DaemonProcess]:
        """
        A CaFile whose certificate does not parse stops the start, rather
        than every connection attempt.
        """
        with open(os.path.join(self.setup.folder, "ca.pem"), "wb") as f:
            f.write(
                b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                b"-----END CERTIFICATE-----\n"
            )
        return ensureDeferred(
            self.cannotStart(self.config(), b"certificate 1 cannot be read")
        )


class CheckTests(IkedTwistdCase):
    """
    C{twistd iked --check}: what a start would find, with nothing bound,
    no NSS server called and the database opened read-only.
    """

    async def check(self, config: str) -> tuple[int, bytes]:
        process = spawn_twistd(self, twistd_args(config, "iked", options=["--check"]))
        return await ended_within(process), process.output

    def test_besideTheRunningIked(self) -> Deferred[None]:
        """
        The check of the configuration a running iked uses (whose
        management socket is taken) finds it can start, and says with what.
        """
        config = write_iked_config(self.setup, free_port(), None)
        running = spawn_twistd(self, twistd_args(config, "iked"))

        async def go() -> None:
            await running.waitFor(rb"EZD1141I Stack STACKA cannot reach")
            code, output = await self.check(config)
            self.assertEqual(code, 0, output)
            self.assertIn(
                b"iked: EZD1175I IKE daemon configuration %s checked:"
                b" iked can start with it" % config.encode(),
                output,
            )
            self.assertIn(
                b"stacks: STACKA (NSS client CLIENT1), STACKB (NSS client"
                b" CLIENT2), PLAIN",
                output,
            )
            self.assertIn(b"ca.pem: 1 CA certificates", output)
            self.assertIn(b"local key ring: not used", output)
            self.assertNotIn(b"Traceback", output)
            self.assertFalse(running.ended.called)

        return ensureDeferred(go())

    def test_localRing(self) -> Deferred[None]:
        """
        The ring a stack signs with is found, and the database is read, not
        written.
        """
        config = self.config()
        with open(self.setup.database, "rb") as f:
            before = f.read()

        async def go() -> None:
            code, output = await self.check(config)
            self.assertEqual(code, 0, output)
            self.assertIn(b"local key ring NSSD/NSSRING: ", output)
            self.assertIn(b"signs for stack LOCAL", output)
            with open(self.setup.database, "rb") as f:
                self.assertEqual(f.read(), before)

        return ensureDeferred(go())

    def test_sameMessageAsStart(self) -> Deferred[None]:
        """
        A check that fails says what the start would have said, to
        standard error, and exits 1; a missing stash is not made.
        """
        os.remove(self.setup.stash)

        async def go() -> None:
            code, output = await self.check(self.config())
            self.assertEqual(code, 1, output)
            self.assertIn(
                b"iked: EZD1104I IKE daemon cannot start: the local key ring"
                b" NSSD/NSSRING in ",
                output,
            )
            self.assertIn(b"NSR0203E", output)
            self.assertFalse(os.path.exists(self.setup.stash))

        return ensureDeferred(go())

    def test_badConfiguration(self) -> Deferred[None]:
        config = self.config("  NssWaitRetries many")

        async def go() -> None:
            code, output = await self.check(config)
            self.assertEqual(code, 1, output)
            self.assertIn(b"iked: EZD1104I IKE daemon cannot start: ", output)
            self.assertIn(b"NssWaitRetries", output)

        return ensureDeferred(go())
