"""
The network management service: NMI requests from an operator on nssd's
management socket, authorized by the caller's peer credentials and routed to
an iked stack over its NSS connection.
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import UNIXClientEndpoint

from nsstwisted.nssd.router import caller_userid, is_control
from nsstwisted.protocols.nmi import (
    NmiCaller,
    NmiClientFactory,
    NmiClientProtocol,
    NmiRequestFailed,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import NmiMessageType
from tests.daemons import racf, start_nssd
from tests.test_iked_nssclient_connection import (
    IkedTestCase,
    eventually,
    write_iked_config,
)

ME = pwd.getpwuid(os.getuid()).pw_name.upper()


class CallerTests(IkedTestCase):
    def test_callerUserid(self) -> None:
        self.assertEqual(caller_userid(NmiCaller(1, os.getuid(), 0)), ME)
        self.assertIsNone(caller_userid(None))
        self.assertIsNone(caller_userid(NmiCaller(1, 2**31 - 2, 0)))

    def test_isControl(self) -> None:
        self.assertFalse(is_control(NmiMessageType.GET_SUMMARY))
        controls = [t for t in NmiMessageType if is_control(t)]
        self.assertTrue(controls)


class RoutingTestCase(IkedTestCase):
    def setUp(self) -> None:
        super().setUp()
        racf(
            self.setup,
            f"ADDUSER {ME}",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.DISPLAY CLASS(SERVAUTH) ID({ME})",
            f"PERMIT EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY CLASS(SERVAUTH) ID({ME})",
        )
        self.nssd = start_nssd(self, self.setup)
        assert self.nssd.port is not None
        port = self.nssd.port.getHost().port  # type: ignore[attr-defined]
        self.iked = self.start_iked(write_iked_config(self.setup, port, None))
        self.port = port

    async def operator(self) -> NmiClientProtocol:
        endpoint = UNIXClientEndpoint(reactor, self.nssd.configuration.nmiSocket)
        protocol: NmiClientProtocol = await endpoint.connect(NmiClientFactory())
        await protocol.ready
        self.addCleanup(protocol.close)
        return protocol

    async def connected(self) -> None:
        await eventually(
            lambda: (
                self.server_port(self.iked, "STACKA") == self.port
                and self.server_port(self.iked, "STACKB") == self.port
            ),
            what="both stacks connected",
        )

    async def refused(
        self, protocol: NmiClientProtocol, messageType: NmiMessageType, target: str
    ) -> NmiRequestFailed:
        request: Deferred[Any] = protocol.request(messageType, target)
        failure: NmiRequestFailed = await self.assertFailure(request, NmiRequestFailed)
        return failure


class RoutingTests(RoutingTestCase):
    def test_routedToIked(self) -> Deferred[None]:
        """
        A GET_SUMMARY for CLIENT1 reaches STACKA's iked over its NSS
        connection, and STACKA's answer comes back.
        """

        async def go() -> None:
            await self.connected()
            protocol = await self.operator()
            reply = await protocol.request(NmiMessageType.GET_SUMMARY, "CLIENT1")
            self.assertEqual(reply.returnCode, ReturnCode.OK)
            self.assertEqual(reply.records[0].sections[0].data.rstrip(), b"STACKA")
            self.assertTrue(
                self.logged("EZB.NETMGMT.NSSSYS.CLIENT1.IPSEC.DISPLAY) rc 0")
            )

        return ensureDeferred(go())

    def test_notConnected(self) -> Deferred[None]:
        async def go() -> None:
            await self.connected()
            protocol = await self.operator()
            failure = await self.refused(protocol, NmiMessageType.GET_SUMMARY, "NOBODY")
            self.assertEqual(failure.returnCode, ReturnCode.ENXIO)
            self.assertEqual(failure.reasonCode, ReasonCode.NSSRsnClientNotConnected)

        return ensureDeferred(go())

    def test_notEnabledForRemoteManagement(self) -> Deferred[None]:
        async def go() -> None:
            await self.connected()
            protocol = await self.operator()
            failure = await self.refused(
                protocol, NmiMessageType.GET_SUMMARY, "CLIENT2"
            )
            self.assertEqual(failure.returnCode, ReturnCode.EOPNOTSUPP)
            self.assertIn("not enabled for remote management", " ".join(failure.lines))

        return ensureDeferred(go())

    def test_controlNotPermitted(self) -> Deferred[None]:
        """
        The operator may display but not control: CONTROL is denied.
        """

        async def go() -> None:
            await self.connected()
            protocol = await self.operator()
            control = next(t for t in NmiMessageType if is_control(t))
            failure = await self.refused(protocol, control, "CLIENT1")
            self.assertEqual(failure.returnCode, ReturnCode.EACCES)
            self.assertIn(
                "EZB.NETMGMT.NSSSYS.CLIENT1.IPSEC.CONTROL", " ".join(failure.lines)
            )

        return ensureDeferred(go())

    def test_blankTarget(self) -> Deferred[None]:
        async def go() -> None:
            await self.connected()
            protocol = await self.operator()
            failure = await self.refused(protocol, NmiMessageType.GET_SUMMARY, "")
            self.assertEqual(failure.returnCode, ReturnCode.EINVAL)

        return ensureDeferred(go())

    def test_notRouted(self) -> Deferred[None]:
        async def go() -> None:
            await self.connected()
            protocol = await self.operator()
            failure = await self.refused(
                protocol, NmiMessageType.GET_IKENSINFO, "CLIENT1"
            )
            self.assertEqual(failure.returnCode, ReturnCode.EOPNOTSUPP)

        return ensureDeferred(go())


class ClientListTests(RoutingTestCase):
    def test_ipsecX(self) -> Deferred[None]:
        """
        nss-ipsec -x display lists both iked stacks with Selected and
        Enabled as their logons and SAF profiles made them.
        """
        import io

        from nsstwisted.cli.ipsec import run as ipsec

        async def go() -> None:
            await self.connected()
            out, err = io.StringIO(), io.StringIO()
            status = await ipsec(
                reactor,
                ["-x", "display", "--socket", self.nssd.configuration.nmiSocket],
                out,
                err,
            )
            self.assertEqual((status, err.getvalue()), (0, ""))
            text = out.getvalue()
            self.assertIn("SystemName: NSSSYS", text)
            self.assertTrue(text.rstrip().endswith("2 entries selected"))
            blocks = text.split("*****")
            one = next(b for b in blocks if "CLIENT1\n" in b)
            two = next(b for b in blocks if "CLIENT2\n" in b)
            for block, stack in ((one, "STACKA"), (two, "STACKB")):
                self.assertIn(stack, block)
                self.assertIn("IKESYS", block)
            self.assertRegex(one, r"RemoteManagementSelected: +Yes")
            self.assertRegex(one, r"RemoteManagementEnabled: +Yes")
            self.assertRegex(two, r"RemoteManagementSelected: +No")
            self.assertRegex(two, r"CertificateServicesEnabled: +Yes")

        return ensureDeferred(go())

    def test_unauthorizedUser(self) -> Deferred[None]:
        async def go() -> None:
            await self.connected()
            racf(
                self.setup,
                f"PERMIT EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY CLASS(SERVAUTH) "
                f"ID({ME}) DELETE",
                "SETROPTS RACLIST(SERVAUTH) REFRESH",
            )
            self.nssd.snapshot = self.nssd.profiles.snapshot()
            protocol = await self.operator()
            failure = await self.refused(protocol, NmiMessageType.GET_CLIENTINFO, "")
            self.assertEqual(failure.returnCode, ReturnCode.EACCES)

        return ensureDeferred(go())


class RevocationTests(RoutingTestCase):
    def test_revokedUserLosesSessionAndAuthority(self) -> Deferred[None]:
        """
        After ALTUSER REVOKE and the refresh that makes it known, the revoked
        client's live session ends (DBG0107I; iked's EZD1140I says why, and
        it does not retry a revoked logon), and a revoked operator's NMI
        requests are refused (issue 22, item 4).
        """

        async def go() -> None:
            await self.connected()
            protocol = await self.operator()
            reply = await protocol.request(NmiMessageType.GET_CLIENTINFO, "")
            self.assertEqual(reply.returnCode, ReturnCode.OK)
            racf(
                self.setup,
                "ALTUSER CLIENT1 REVOKE",
                f"ALTUSER {ME} REVOKE",
                "SETROPTS RACLIST(SERVAUTH) REFRESH",
            )
            await eventually(
                lambda: self.logged("userid CLIENT1 is revoked"),
                timeout=20,
                what="DBG0107I",
            )
            self.assertTrue(self.logged("DBG0107I"))
            await eventually(
                lambda: self.logged("EZD1161I Stack STACKA"), what="EZD1161I"
            )
            self.assertTrue(
                self.logged(
                    "lost its connection to network security server 127.0.0.1"
                    " - the server ended the session: EACCES NSSRsnUserRevoked"
                )
            )
            self.assertIsNone(self.nssd.registry.get("CLIENT1"))
            # CLIENT2 is not revoked and keeps its session.
            self.assertIsNotNone(self.nssd.registry.get("CLIENT2"))
            operator = await self.operator()
            failure = await self.refused(operator, NmiMessageType.GET_CLIENTINFO, "")
            self.assertEqual(failure.returnCode, ReturnCode.EACCES)

        return ensureDeferred(go())


POLICY = """
IpFilterRule NssTraffic
{
  IpSourceAddr    All4
  IpDestAddr      All4
  IpService
  {
    SourcePortRange 4159
    DestinationPortRange 1024 65535
    Protocol        tcp
    Direction       bidirectional InboundConnect
  }
  IpGenericFilterActionRef permit-nolog
}
IpGenericFilterAction permit-nolog
{
  IpFilterAction    permit
  IpFilterLogging   no
}
"""


class FilterSetTests(IkedTestCase):
    """
    C{nss-ipsec -z CLIENT -f default} really switches that client's filter
    set, as C{-f display} shows through nssd and locally, and C{-f reload}
    switches it back.
    """

    def setUp(self) -> None:
        super().setUp()
        racf(
            self.setup,
            f"ADDUSER {ME}",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.DISPLAY CLASS(SERVAUTH) ID({ME})",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL CLASS(SERVAUTH) ID({ME})",
        )
        self.nssd = start_nssd(self, self.setup)
        assert self.nssd.port is not None
        self.port = self.nssd.port.getHost().port  # type: ignore[attr-defined]
        policy = os.path.join(self.setup.folder, "stacka.policy")
        with open(policy, "w") as f:
            f.write(POLICY)
        from tests.test_iked_nssclient_connection import STACKS

        stacks = STACKS.replace(
            "  AuthBy Password\n", f'  AuthBy Password\n  PolicyFile "{policy}"\n', 1
        )
        self.iked = self.start_iked(
            write_iked_config(self.setup, self.port, None, stacks)
        )

    async def ipsec(self, *argv: str) -> tuple[int, str]:
        import io

        from nsstwisted.cli.ipsec import run

        out, err = io.StringIO(), io.StringIO()
        status = await run(reactor, list(argv), out, err)
        return status, out.getvalue() + err.getvalue()

    def test_switchThroughNssd(self) -> Deferred[None]:
        nssdSocket = self.nssd.configuration.nmiSocket
        ikedSocket = self.iked.configuration.nmiSocket

        async def go() -> None:
            await eventually(
                lambda: self.server_port(self.iked, "STACKA") == self.port,
                what="STACKA connected",
            )
            status, text = await self.ipsec(
                "-z", "CLIENT1", "-f", "display", "--socket", nssdSocket
            )
            self.assertEqual(status, 0, text)
            self.assertIn("NssTraffic", text)
            self.assertIn("Stack Policy", text)

            status, text = await self.ipsec(
                "-z", "CLIENT1", "-f", "default", "--socket", nssdSocket
            )
            self.assertEqual(status, 0, text)
            self.assertIn("State updated", text)
            status, text = await self.ipsec(
                "-p", "STACKA", "-f", "display", "--socket", ikedSocket
            )
            self.assertEqual(status, 0, text)
            self.assertIn("SYSDEFAULTDENYRULE", text)
            self.assertNotIn("NssTraffic", text)
            status, text = await self.ipsec(
                "-z", "CLIENT1", "-f", "dis", "--socket", nssdSocket
            )
            self.assertIn("SYSDEFAULTDENYRULE", text)

            status, text = await self.ipsec(
                "-z", "CLIENT1", "-f", "default", "--socket", nssdSocket
            )
            self.assertIn("State already set", text)
            status, text = await self.ipsec(
                "-z", "CLIENT1", "-f", "reload", "--socket", nssdSocket
            )
            self.assertEqual(status, 0, text)
            self.assertIn("State updated", text)
            status, text = await self.ipsec(
                "-p", "STACKA", "-f", "display", "--socket", ikedSocket
            )
            self.assertIn("NssTraffic", text)

            # The tunnel tables are empty until the IKEv2 issue fills them.
            status, text = await self.ipsec(
                "-z", "CLIENT1", "-k", "display", "--socket", nssdSocket
            )
            self.assertEqual(status, 0, text)
            self.assertIn("0 entries selected", text)
            status, text = await self.ipsec(
                "-z",
                "CLIENT1",
                "-y",
                "activate",
                "-n",
                "NORULE",
                "--socket",
                nssdSocket,
            )
            self.assertEqual(status, 1, text)

            # CLIENT2 is not enabled for remote management: EOPNOTSUPP.
            status, text = await self.ipsec(
                "-z", "CLIENT2", "-f", "display", "--socket", nssdSocket
            )
            self.assertEqual(status, 1, text)
            self.assertIn("EOPNOTSUPP", text)
            status, text = await self.ipsec(
                "-z", "NOBODY", "-f", "display", "--socket", nssdSocket
            )
            self.assertEqual(status, 1, text)
            self.assertIn("ENXIO", text)

        return ensureDeferred(go())
