"""
iked against a real strongSwan, as in L{tests.test_ike_strongswan} (whose
set-up these tests share): rekeys that cross, dead peers, an iked restart
and an nssd that stops answering during IKE_AUTH.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater

from tests import test_ike_strongswan as base
from tests.daemons import twistd_args
from tests.strongswan import CommandFailed, child_sas

DPD_POLICY = base.POLICY.replace(
    "  HowToAuthPeers  DsSignature\n",
    "  HowToAuthPeers  DsSignature\n  DpdInterval     2\n",
)
"""iked checks a silent strongSwan after 2 s."""

FAST_RETRIES = "  IkeRetries 2\n  IkeInitWait 1\n"
"""iked gives a silent peer up after about 6 s (1 + 1.8 + 3.2)."""

ROUNDS = 12
"""
Simultaneous rekeys tried at most, until one crossed: strongSwan, held by
SIGSTOP while both requests start, handles iked's first in about half the
rounds (then the two rekeys run one after the other).
"""


def _child_entries(shown: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(shown)["Entries"]
    return entries


def _spis(entry: dict[str, Any]) -> tuple[int, int]:
    """A dynamic tunnel's (inbound, outbound) SPIs, from C{-y display --json}."""
    inbound: Any = entry.get("EncryptInboundSpi") or entry.get("AuthInboundSpi")
    outbound: Any = entry.get("EncryptOutboundSpi") or entry.get("AuthOutboundSpi")
    return int(inbound), int(outbound)


class StrongSwanLivenessTests(base.StrongSwanSetup):
    namespacePurpose = "rekey-dpd"

    async def _consistent(self) -> dict[str, Any]:
        """
        Wait until each side has exactly one CHILD_SA, in any state, and
        they are each other's: SPIs crossed, selectors mirrored.
        """

        def one(sas: list[dict[str, Any]]) -> bool:
            children = [c for sa in sas for c in child_sas(sa)]
            return len(children) == 1 and children[0].get("state") == "INSTALLED"

        for _ in range(100):
            sas = await self.charon.list_sas()
            entries = _child_entries(await self._ipsec("-y", "display", "--json"))
            if one(sas) and len(entries) == 1:
                (child,) = base._installed(sas)
                inbound, outbound = _spis(entries[0])
                if (inbound, outbound) == (
                    int(child["spi-out"], 16),
                    int(child["spi-in"], 16),
                ):
                    self.assertEqual(child["local-ts"], ["10.1.0.0/24"])
                    self.assertEqual(child["remote-ts"], ["10.2.0.0/24"])
                    return child
            await deferLater(reactor, 0.2, lambda: None)
        raise AssertionError(
            f"no single consistent CHILD_SA pair: strongSwan {sas}, iked {entries}"
        )

    def test_rekeys_cross(self) -> Deferred[None]:
        """
        Both ends rekey the CHILD_SA at the same moment, round after
        round: whoever wins, exactly one pair remains, the same on both
        sides; and iked's refresh of the IKE SA it answered (a responder)
        comes before its expiry.
        """

        async def go() -> None:
            await self._start()
            await self.charon.initiate(child="host-host")
            before = await self._consistent()
            (ike,) = json.loads(await self._ipsec("-k", "display", "--json"))["Entries"]
            self.assertEqual(ike["Role"], "Responder")
            self.assertLess(ike["LifetimeRefresh"], ike["LifetimeExpires"])
            pid = self.charon.pid
            assert pid is not None
            for attempt in range(ROUNDS):
                # strongSwan is held while both rekeys start: its own and
                # iked's request wait for it, and then (most times) cross.
                os.kill(pid, signal.SIGSTOP)
                try:
                    theirs = self.charon.rekey(child="host-host")
                    await deferLater(reactor, 0.3, lambda: None)
                    await self._ipsec("-y", "refresh", "-a", "Y1")
                finally:
                    os.kill(pid, signal.SIGCONT)
                await theirs
                after = await self._consistent()
                self.assertNotEqual(after["spi-in"], before["spi-in"])
                before = after
                if attempt >= 3 and b"EZD1221I" in self.iked.output:
                    break
            self.assertNotIn(b"Traceback", self.iked.output)
            # Each round that crossed is one EZD1221I, and strongSwan's
            # "CHILD_SA rekey collision won" or "lost".
            self.assertIn(b"EZD1221I", self.iked.output)
            self.assertIn("CHILD_SA rekey collision", self.charon.log_text())

        return ensureDeferred(go())

    def test_ike_rekeys_cross(self) -> Deferred[None]:
        """
        Both ends rekey the IKE SA at the same moment, round after round:
        one IKE SA remains, the same on both sides, and it carries the
        CHILD_SA, untouched (RFC 7296 section 2.8.2).
        """

        async def go() -> None:
            await self._start()
            await self.charon.initiate(child="host-host")
            child = await self._consistent()
            pid = self.charon.pid
            assert pid is not None
            for attempt in range(ROUNDS):
                (before,) = await self.charon.list_sas()
                os.kill(pid, signal.SIGSTOP)
                try:
                    theirs = self.charon.rekey(ike="iked")
                    await deferLater(reactor, 0.3, lambda: None)
                    await self._ipsec("-k", "refresh", "-a", "K1")
                finally:
                    os.kill(pid, signal.SIGCONT)
                await theirs

                def settled(
                    sas: list[dict[str, Any]], old: str = before["initiator-spi"]
                ) -> bool:
                    return (
                        len(sas) == 1
                        and sas[0]["state"] == "ESTABLISHED"
                        and sas[0]["initiator-spi"] != old
                    )

                await self.charon.wait_for_sas(settled, "one rekeyed IKE SA")
                for _ in range(50):
                    (sa,) = await self.charon.list_sas()
                    shown = json.loads(await self._ipsec("-k", "display", "--json"))
                    spis = {
                        (e["InitiatorSPI"].lower(), e["ResponderSPI"].lower())
                        for e in shown["Entries"]
                    }
                    if spis == {(sa["initiator-spi"], sa["responder-spi"])}:
                        break
                    await deferLater(reactor, 0.2, lambda: None)
                else:
                    self.fail(f"iked shows {shown}, strongSwan {sa}")
                # the CHILD_SA moved over as it was
                self.assertEqual((await self._consistent())["spi-in"], child["spi-in"])
                if attempt >= 3 and b"EZD1222I" in self.iked.output:
                    break
            self.assertNotIn(b"Traceback", self.iked.output)
            self.assertIn(b"EZD1222I", self.iked.output)
            self.assertIn("IKE_SA rekey collision", self.charon.log_text())

        return ensureDeferred(go())

    def test_dead_peer(self) -> Deferred[None]:
        """
        strongSwan is killed: iked's DPD (DpdInterval 2) finds it silent,
        and iked removes the IKE SA and its CHILD_SA and says so.
        """

        async def go() -> None:
            await self._start(policy=DPD_POLICY, ikeConfig=FAST_RETRIES)
            await self.charon.initiate(child="host-host")
            await self._consistent()
            pid = self.charon.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await self.iked.waitFor(rb"EZD1220I Stack TCPIPA peer strongswan-peer")
            self.assertIn(b"peer not responding", self.iked.output)
            shown = json.loads(await self._ipsec("-k", "display", "--json"))
            self.assertEqual(shown["Entries"], [])
            self.assertEqual(
                _child_entries(await self._ipsec("-y", "display", "--json")), []
            )

        return ensureDeferred(go())

    def test_strongswan_restarts(self) -> Deferred[None]:
        """
        strongSwan crashes and comes back knowing nothing: iked's DPD finds
        the old IKE SA dead, removes it, and negotiates its AutoActivate
        rule again (EZD1220I), which brings the tunnel back by itself.
        """

        async def go() -> None:
            await self._start(
                policy=DPD_POLICY.replace(
                    "  IpDynVpnActionRef   esp-gcm\n",
                    "  IpDynVpnActionRef   esp-gcm\n  AutoActivate        Yes\n",
                ),
                ikeConfig=FAST_RETRIES,
            )
            try:
                await self._charon_children()  # iked started it by itself
            except CommandFailed:
                # charon came up after iked's first attempt gave up
                await self._ipsec("-y", "activate", "-n", "host-host")
            old = await self._consistent()
            await self.charon.crash_and_restart()
            await self.charon.load()
            await self.iked.waitFor(rb"EZD1220I Stack TCPIPA peer strongswan-peer")
            self.assertIn(b"negotiating host-host again", self.iked.output)
            new = await self._consistent()
            self.assertNotEqual(new["spi-in"], old["spi-in"])
            (sa,) = await self.charon.list_sas()
            self.assertNotEqual(sa.get("initiator"), "yes")  # iked initiated
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_iked_restarts(self) -> Deferred[None]:
        """
        iked restarts and knows no SA; strongSwan's DPD (dpd_delay 2 s,
        dpd_action restart) gets INVALID_IKE_SPI, gives the old SA up and
        negotiates again, with no operator action.
        """

        async def go() -> None:
            await self._start(
                charonSettings={"retransmit_timeout": 1, "retransmit_tries": 2},
                connectionOptions={"dpd_delay": "2s"},
                childOptions={"dpd_action": "restart"},
            )
            await self.charon.initiate(child="host-host")
            old = await self._consistent()
            (oldSa,) = await self.charon.list_sas()
            self.iked.transport.signalProcess("TERM")  # type: ignore[union-attr]
            await self.iked.ended
            self.iked = self._spawn(twistd_args(self.ikedConfig, "iked"))
            await self.iked.waitFor(rb"EZD1138I Stack TCPIPA is connected")
            await self.charon.wait_for_sas(
                lambda sas: (
                    len(sas) == 1
                    and sas[0]["initiator-spi"] != oldSa["initiator-spi"]
                    and len(base._installed(sas)) == 1
                ),
                "the tunnel back after iked's restart",
                timeout=60,
            )
            new = await self._consistent()
            self.assertNotEqual(new["spi-in"], old["spi-in"])
            # iked's unprotected INVALID_IKE_SPI answers reached strongSwan,
            # which (rightly) changed nothing for them
            self.assertIn("received unencrypted informational", self.charon.log_text())
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_nssd_unreachable_during_ike_auth(self) -> Deferred[None]:
        """
        nssd stops answering (SIGSTOP) while strongSwan initiates: iked
        cannot sign, the negotiation fails cleanly (EZD1155I, no IKE SA
        left), and once nssd answers again the next one succeeds.
        """

        async def go() -> None:
            await self._start()
            self.nssd.transport.signalProcess("STOP")  # type: ignore[union-attr]
            try:
                try:
                    await self.charon.initiate(child="host-host", timeout=10)
                except CommandFailed:
                    pass
                else:
                    self.fail("IKE_AUTH succeeded without nssd")
                await self.iked.waitFor(rb"EZD1155I Stack TCPIPA negotiation")
                shown = json.loads(await self._ipsec("-k", "display", "--json"))
                self.assertEqual(shown["Entries"], [])
            finally:
                self.nssd.transport.signalProcess(signal.SIGCONT)  # type: ignore[union-attr]
            # strongSwan, told AUTHENTICATION_FAILED, kept nothing either
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            for _ in range(10):
                try:
                    await self.charon.initiate(child="host-host", timeout=10)
                    break
                except CommandFailed:
                    await deferLater(reactor, 1, lambda: None)
            await self._consistent()
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())
