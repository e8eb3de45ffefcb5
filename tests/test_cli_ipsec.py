"""
Tests for C{nss-ipsec} (L{nsstwisted.cli.ipsec}): the option syntax, the
C{-w display}, C{-x display} and C{-y display -z} reports line by line
against the seed's samples, the other reports (C{-f}, C{-k}, C{-y}, C{-m},
C{-i}, C{-o}), their JSON, and the whole command against real AF_UNIX
sockets served by L{IkedManagement} (C{-w}), by a small GET_CLIENTINFO
handler built on L{answer_clientinfo} (C{-x}), and by handlers built on
iked's answers for the stack's filters, tunnels and interfaces.
"""

from __future__ import annotations

import calendar
import dataclasses
import io
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IListeningPort
from twisted.internet.selectreactor import SelectReactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nsstwisted.cli import ipsec, ipsecreports
from nsstwisted.ike.constants import (
    AuthMethod,
    DhGroupId,
    EncrId,
    IdType,
    IntegId,
    PrfId,
)
from nsstwisted.iked.nssclient.management import IkedManagement
from nsstwisted.iked.stackmodel.stackreport import answer_stack_request
from nsstwisted.iked.stackmodel.statistics import StackStatistics
from nsstwisted.iked.stackmodel.tunnelreport import answer_tunnel_request
from nsstwisted.iked.stackmodel.tunnels import (
    EncapMode,
    IpsecProtocol,
    SaState,
    StackTunnels,
    TunnelSelector,
)
from nsstwisted.protocols.nmi import NmiServerFactory, nmi_server_endpoint
from nsstwisted.wire.clientinfo import (
    NssClientInfo,
    NssClientState,
    answer_clientinfo,
)
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.filters import (
    FILTER_SET_REQUESTS,
    FilterAction,
    FilterDirection,
    FilterLogging,
    FilterRecordInfo,
    FilterReport,
    FilterScope,
    FilterSet,
    FilterSettings,
    TunnelControl,
    TunnelStatus,
    answer_filter_set,
    decode_control_request,
    encode_filter_reply,
)
from nsstwisted.wire.ikensinfo import IkeNssConnectionState, IkeNssInfo
from nsstwisted.wire.nmi import (
    IKED_SOCKET,
    NSSD_SOCKET,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
    NmiSection,
    decode_message,
    encode_message,
)
from nsstwisted.wire.stackinfo import (
    InterfaceInfo,
    PortTranslationInfo,
    encode_porttran_reply,
)
from nsstwisted.wire.tunnels import (
    IkeRole,
    IkeTunnelInfo,
    IpTunnelInfo,
    IpTunnelType,
    TunnelReport,
    decode_tunnel_report,
    encode_tunnel_reply,
)
from tests import test_wire_clientinfo
from tests.daemons import NOBODY, skip_unless_root
from tests.test_wire_ikensinfo import CONNECTED_AT, client

T = NmiMessageType

DOCS = Path(__file__).parent.parent / "docs" / "commands.md"

# The seed's three stacks: TCPCS is not an NSS client, TCPCS3 and TCPCS4
# are connected to the NSS server on MVS052.
STACKS = [
    IkeNssInfo.not_configured("TCPCS"),
    client("TCPCS3"),
    client(
        "TCPCS4",
        clientName="client4",
        clientAddress="10.10.10.2",
        clientPort=50104,
        userid="USER1",
    ),
]
# The seed's report was made 56 seconds after the stacks connected.
NOW = CONNECTED_AT + 56

BLOCK_TCPCS = """\
StackName:                   TCPCS
ClientName:                  n/a
ClientAPIVersion:            n/a
ServerAPIVersion:            n/a
NSServicesSupported:         No
RemoteManagementSelected:    No
RemoteManagementEnabled:     n/a
CertificateServicesSelected: No
CertificateServicesEnabled:  n/a
NSClientIPAddress:           n/a
NSClientPort:                n/a
NSServerIPAddress:           n/a
NSServerPort:                n/a
NSServerSystemName:          n/a
UserID:                      n/a
ConnectionState:             n/a
TimeConnectedToNSServer:     n/a
TimeOfLastMessageToNSServer: n/a
"""

BLOCK_TCPCS3 = """\
StackName:                   TCPCS3
ClientName:                  client3
ClientAPIVersion:            1
ServerAPIVersion:            1
NSServicesSupported:         Yes
RemoteManagementSelected:    Yes
RemoteManagementEnabled:     Yes
CertificateServicesSelected: Yes
CertificateServicesEnabled:  Yes
NSClientIPAddress:           10.10.10.1
NSClientPort:                50105
NSServerIPAddress:           10.10.10.3
NSServerPort:                4159
NSServerSystemName:          MVS052
UserID:                      USER3
ConnectionState:             connected
TimeConnectedToNSServer:     2006/11/17 11:19:09
TimeOfLastMessageToNSServer: 2006/11/17 11:19:09
"""

BLOCK_TCPCS4 = """\
StackName:                   TCPCS4
ClientName:                  client4
ClientAPIVersion:            1
ServerAPIVersion:            1
NSServicesSupported:         Yes
RemoteManagementSelected:    Yes
RemoteManagementEnabled:     Yes
CertificateServicesSelected: Yes
CertificateServicesEnabled:  Yes
NSClientIPAddress:           10.10.10.2
NSClientPort:                50104
NSServerIPAddress:           10.10.10.3
NSServerPort:                4159
NSServerSystemName:          MVS052
UserID:                      USER1
ConnectionState:             connected
TimeConnectedToNSServer:     2006/11/17 11:19:09
TimeOfLastMessageToNSServer: 2006/11/17 11:19:09
"""

HEADING = """\
CS V2R5 ipsec NSS Client Name: n/a  Fri Nov 17 11:20:05 2006
Primary:  Stack NSS       Function: Display             Format:   Detail
Source:   IKED            Scope:    n/a                 TotAvail: 3
SystemName: MVS052

"""

REPORT = (
    HEADING
    + BLOCK_TCPCS
    + "*****\n"
    + BLOCK_TCPCS3
    + "*****\n"
    + BLOCK_TCPCS4
    + "*****\n"
    + "\n"
    + "3 entries selected\n"
)


# The seed's ipsec -x sample: client4 on MVS052, connected at 12:37:08, the
# report made at 12:40:02.  The second client logged on without saying its
# stack or system (a client older than CLIENT_STACK_NAME), over IPv4, and
# asked for the certificate service alone.
X_CONNECTED_AT = test_wire_clientinfo.CONNECTED_AT
X_NOW = X_CONNECTED_AT + 174
CLIENT4 = test_wire_clientinfo.client()
CLIENT5 = NssClientInfo(
    clientName="MVS053_TCPCS5",
    userid="USER5",
    clientAddress="10.10.10.5",
    clientPort=1031,
    serverAddress="10.10.10.99",
    serverPort=4159,
    certSelected=True,
    certEnabled=True,
    timeConnected=X_CONNECTED_AT + 100,
    timeLastMessageFromClient=X_CONNECTED_AT + 160,
)
CLIENTS = [CLIENT4, CLIENT5]

X_HEADING = """\
CS V2R5 ipsec NSS Client Name: n/a  Mon Nov 27 12:40:02 2006
Primary:  NSS Server      Function: Display             Format:   Detail
Source:   Server          Scope:    n/a                 TotAvail: {count}
SystemName: MVS052

"""

BLOCK_CLIENT4 = """\
ClientName:                  client4
StackName:                   TCPCS4
SystemName:                  MVS052
ClientIPAddress:             ::ffff:10.10.10.1
ClientPort:                  50003
ServerIPAddress:             ::ffff:10.10.10.99
ServerPort:                  4159
UserID:                      USER1
RemoteManagementSelected:    Yes
RemoteManagementEnabled:     Yes
CertificateServicesSelected: Yes
CertificateServicesEnabled:  Yes
ConnectState:                connected
TimeConnected:               2006/11/27 12:37:08
TimeOfLastMessageFromClient: 2006/11/27 12:37:08
"""

BLOCK_CLIENT5 = """\
ClientName:                  MVS053_TCPCS5
StackName:                   n/a
SystemName:                  n/a
ClientIPAddress:             10.10.10.5
ClientPort:                  1031
ServerIPAddress:             10.10.10.99
ServerPort:                  4159
UserID:                      USER5
RemoteManagementSelected:    No
RemoteManagementEnabled:     No
CertificateServicesSelected: Yes
CertificateServicesEnabled:  Yes
ConnectState:                connected
TimeConnected:               2006/11/27 12:38:48
TimeOfLastMessageFromClient: 2006/11/27 12:39:48
"""

X_REPORT_ONE = (
    X_HEADING.format(count=1)
    + BLOCK_CLIENT4
    + "*****\n"
    + "\n"
    + "1 entries selected\n"
)

X_REPORT = (
    X_HEADING.format(count=2)
    + BLOCK_CLIENT4
    + "*****\n"
    + BLOCK_CLIENT5
    + "*****\n"
    + "\n"
    + "2 entries selected\n"
)

SEED_DATE = ["Mon", "Nov", "27", "12:40:02", "2006"]

# The seed's sample as it stands, spacing aside: IBM's labels and values in
# IBM's order, which the report must keep.
SEED_X_BLOCK = [
    ("ClientName", "client4"),
    ("StackName", "TCPCS4"),
    ("SystemName", "MVS052"),
    ("ClientIPAddress", "::ffff:10.10.10.1"),
    ("ClientPort", "50003"),
    ("ServerIPAddress", "::ffff:10.10.10.99"),
    ("ServerPort", "4159"),
    ("UserID", "USER1"),
    ("RemoteManagementSelected", "Yes"),
    ("RemoteManagementEnabled", "Yes"),
    ("CertificateServicesSelected", "Yes"),
    ("CertificateServicesEnabled", "Yes"),
    ("ConnectState", "connected"),
    ("TimeConnected", "2006/11/27 12:37:08"),
    ("TimeOfLastMessageFromClient", "2006/11/27 12:37:08"),
]


def entry_json(block: str) -> dict[str, Any]:
    """
    What the JSON of a stack holds, read from its report block: the same
    data with n/a as null, Yes/No as booleans, numbers as numbers and
    times in UTC ISO 8601 (the blocks above are in UTC).
    """
    entry: dict[str, Any] = {}
    for line in block.splitlines():
        name, value = line.split(":", 1)
        text = value.strip()
        converted: Any = text
        if text == "n/a":
            converted = None
        elif text in ("Yes", "No"):
            converted = text == "Yes"
        elif text.isdigit() and name not in ("StackName", "ClientName"):
            converted = int(text)
        elif name.startswith("Time"):
            converted = text.replace("/", "-").replace(" ", "T") + "Z"
        entry[name] = converted
    return entry


class ReportTests(SynchronousTestCase):
    """
    The C{-w display} report has the seed's layout, line by line.
    """

    def test_seed(self) -> None:
        lines = ipsecreports.stack_nss_report("MVS052", STACKS, NOW, time.gmtime)
        expected = REPORT.splitlines()
        for number, (got, wanted) in enumerate(zip(lines, expected, strict=False), 1):
            self.assertEqual(got, wanted, f"line {number}")
        self.assertEqual(len(lines), len(expected))

    def test_structure(self) -> None:
        """
        The seed's shape, independently of the field values: three heading
        lines, SystemName, a blank line, 18 lines and asterisks per stack,
        a blank line, the count.
        """
        lines = ipsecreports.stack_nss_report("MVS052", STACKS, NOW, time.gmtime)
        self.assertTrue(lines[0].startswith("CS V2R5 ipsec NSS Client Name: n/a  "))
        self.assertTrue(lines[1].startswith("Primary:  Stack NSS "))
        self.assertTrue(lines[2].startswith("Source:   IKED "))
        self.assertEqual(lines[3:5], ["SystemName: MVS052", ""])
        self.assertEqual(len(lines), 5 + 3 * 19 + 2)
        for index in range(3):
            self.assertEqual(lines[5 + 19 * index + 18], "*****")
        self.assertEqual(lines[-2:], ["", "3 entries selected"])
        # One column for every value: the longest label, its colon, a blank.
        for line in lines[5:-2]:
            if line != "*****":
                self.assertLessEqual(line.index(":"), 27, line)
                self.assertEqual(line[line.index(":") + 1 : 29].strip(), "", line)
                self.assertNotEqual(line[29], " ", line)

    def test_otherStates(self) -> None:
        """
        A client that is not connected yet: Enabled is No for a service it
        selected (not granted yet), n/a for one it did not; what only a
        connection tells is n/a.
        """
        info = IkeNssInfo(
            stackName="TCPCS5",
            clientName="MVS052_TCPCS5",
            configured=True,
            certSelected=True,
            clientApiVersion=1,
            userid="IKED",
            connectionState=IkeNssConnectionState.CONNECTING,
        )
        lines = ipsecreports.stack_nss_report("MVS052", [info], NOW, time.gmtime)
        self.assertEqual(
            lines[5:],
            [
                "StackName:                   TCPCS5",
                "ClientName:                  MVS052_TCPCS5",
                "ClientAPIVersion:            1",
                "ServerAPIVersion:            n/a",
                "NSServicesSupported:         Yes",
                "RemoteManagementSelected:    No",
                "RemoteManagementEnabled:     n/a",
                "CertificateServicesSelected: Yes",
                "CertificateServicesEnabled:  No",
                "NSClientIPAddress:           n/a",
                "NSClientPort:                n/a",
                "NSServerIPAddress:           n/a",
                "NSServerPort:                n/a",
                "NSServerSystemName:          n/a",
                "UserID:                      IKED",
                "ConnectionState:             connecting",
                "TimeConnectedToNSServer:     n/a",
                "TimeOfLastMessageToNSServer: n/a",
                "*****",
                "",
                "1 entries selected",
            ],
        )
        lines = ipsecreports.stack_nss_report(
            "MVS052",
            [
                IkeNssInfo(
                    "TCPCS5",
                    "c5",
                    True,
                    connectionState=IkeNssConnectionState.DISCONNECTED,
                )
            ],
            NOW,
            time.gmtime,
        )
        self.assertIn("ConnectionState:             disconnected", lines)

    def test_noStacks(self) -> None:
        lines = ipsecreports.stack_nss_report("MVS052", [], NOW, time.gmtime)
        self.assertEqual(lines[2][-11:], "TotAvail: 0")
        self.assertEqual(lines[3:], ["SystemName: MVS052", "", "0 entries selected"])

    def test_localTime(self) -> None:
        """
        Times are shown in the zone the caller gives, local by default, as
        IBM shows them.
        """

        def plusOneHour(seconds: float) -> time.struct_time:
            return time.gmtime(seconds + 3600)

        lines = ipsecreports.stack_nss_report("MVS052", STACKS[1:2], NOW, plusOneHour)
        self.assertTrue(lines[0].endswith("  Fri Nov 17 12:20:05 2006"))
        self.assertIn("TimeConnectedToNSServer:     2006/11/17 12:19:09", lines)

    def test_asctimeDay(self) -> None:
        """
        The heading's date is C's asctime: a one-digit day is padded with a
        blank, as z/OS prints it.
        """
        lines = ipsecreports.stack_nss_report("S", [], 1165395600, time.gmtime)
        self.assertTrue(lines[0].endswith("  Wed Dec  6 09:00:00 2006"), lines[0])

    def test_heading(self) -> None:
        """
        The heading's columns hold IBM's longest values, for the primaries
        to come.
        """
        lines = ipsecreports.heading_lines(
            targetLabel="Stack Name",
            targetName="TCPCS4",
            primary="NATT Port Trans",
            function="Display (cascade)",
            source="Stack Policy",
            scope="Current",
            totAvail=164,
            when=time.gmtime(0),
            reportFormat="Short",
        )
        self.assertEqual(
            lines,
            [
                "CS V2R5 ipsec Stack Name: TCPCS4  Thu Jan  1 00:00:00 1970",
                "Primary:  NATT Port Trans Function: Display (cascade)   "
                "Format:   Short",
                "Source:   Stack Policy    Scope:    Current             TotAvail: 164",
            ],
        )

    def test_detailLines(self) -> None:
        self.assertEqual(
            ipsecreports.detail_lines([("A", "1"), ("Longer", "two")]),
            ["A:      1", "Longer: two"],
        )
        self.assertEqual(ipsecreports.detail_lines([]), [])


class NssServerReportTests(SynchronousTestCase):
    """
    The C{-x display} report has the seed's layout, line by line.
    """

    def assertLines(self, lines: list[str], expected: str) -> None:
        wanted = expected.splitlines()
        for number, (got, line) in enumerate(zip(lines, wanted, strict=False), 1):
            self.assertEqual(got, line, f"line {number}")
        self.assertEqual(len(lines), len(wanted))

    def test_seed(self) -> None:
        lines = ipsecreports.nss_server_report("MVS052", [CLIENT4], X_NOW, time.gmtime)
        self.assertLines(lines, X_REPORT_ONE)

    def test_twoClients(self) -> None:
        lines = ipsecreports.nss_server_report("MVS052", CLIENTS, X_NOW, time.gmtime)
        self.assertLines(lines, X_REPORT)

    def test_seedContent(self) -> None:
        """
        The seed's heading content and its block's labels and values, in
        its order; only the spacing is ours (IBM's column layout, as C{-w}).
        """
        lines = ipsecreports.nss_server_report("MVS052", [CLIENT4], X_NOW, time.gmtime)
        self.assertEqual(
            lines[0].split(),
            ["CS", "V2R5", "ipsec", "NSS", "Client", "Name:", "n/a", *SEED_DATE],
        )
        self.assertEqual(
            lines[1].split(),
            ["Primary:", "NSS", "Server", "Function:", "Display", "Format:", "Detail"],
        )
        self.assertEqual(
            lines[2].split(),
            ["Source:", "Server", "Scope:", "n/a", "TotAvail:", "1"],
        )
        self.assertEqual(lines[3:5], ["SystemName: MVS052", ""])
        block = [line.split(":", 1) for line in lines[5:20]]
        self.assertEqual([(name, value.strip()) for name, value in block], SEED_X_BLOCK)
        self.assertEqual(lines[20:], ["*****", "", "1 entries selected"])

    def test_alignment(self) -> None:
        """
        The same column as C{-w}: every value starts one blank after the
        longest label, in column 30.
        """
        lines = ipsecreports.nss_server_report("MVS052", CLIENTS, X_NOW, time.gmtime)
        wide = ipsecreports.stack_nss_report("MVS052", STACKS, NOW, time.gmtime)
        self.assertEqual(wide[5].index("TCPCS"), 29)
        for line in lines[5:-2]:
            if line != "*****":
                self.assertLessEqual(line.index(":"), 27, line)
                self.assertEqual(line[line.index(":") + 1 : 29].strip(), "", line)
                self.assertNotEqual(line[29], " ", line)

    def test_enabledNotSelected(self) -> None:
        """
        Unlike C{-w}, a service not selected is C{No} enabled, not n/a, as
        the seed describes C{ipsec -x}.
        """
        lines = ipsecreports.nss_server_report("MVS052", [CLIENT5], X_NOW, time.gmtime)
        self.assertIn("RemoteManagementSelected:    No", lines)
        self.assertIn("RemoteManagementEnabled:     No", lines)
        info = dataclasses.replace(CLIENT4, certEnabled=False)
        lines = ipsecreports.nss_server_report("MVS052", [info], X_NOW, time.gmtime)
        self.assertIn("CertificateServicesSelected: Yes", lines)
        self.assertIn("CertificateServicesEnabled:  No", lines)

    def test_unknowns(self) -> None:
        """
        Whatever nssd does not know is n/a: the stack and system a client
        did not name, ends and times not known.
        """
        info = NssClientInfo(
            "c1",
            "U",
            remoteMgmtSelected=True,
            connectState=NssClientState.DISCONNECTING,
        )
        lines = ipsecreports.nss_server_report("MVS052", [info], X_NOW, time.gmtime)
        self.assertEqual(
            lines[5:20],
            [
                "ClientName:                  c1",
                "StackName:                   n/a",
                "SystemName:                  n/a",
                "ClientIPAddress:             n/a",
                "ClientPort:                  n/a",
                "ServerIPAddress:             n/a",
                "ServerPort:                  n/a",
                "UserID:                      U",
                "RemoteManagementSelected:    Yes",
                "RemoteManagementEnabled:     No",
                "CertificateServicesSelected: No",
                "CertificateServicesEnabled:  No",
                "ConnectState:                disconnecting",
                "TimeConnected:               n/a",
                "TimeOfLastMessageFromClient: n/a",
            ],
        )

    def test_noClients(self) -> None:
        lines = ipsecreports.nss_server_report("MVS052", [], X_NOW, time.gmtime)
        self.assertEqual(lines[2][-11:], "TotAvail: 0")
        self.assertEqual(lines[3:], ["SystemName: MVS052", "", "0 entries selected"])

    def test_localTime(self) -> None:
        def plusOneHour(seconds: float) -> time.struct_time:
            return time.gmtime(seconds + 3600)

        lines = ipsecreports.nss_server_report("MVS052", [CLIENT4], X_NOW, plusOneHour)
        self.assertTrue(lines[0].endswith("  Mon Nov 27 13:40:02 2006"))
        self.assertIn("TimeConnected:               2006/11/27 13:37:08", lines)


class JsonTests(SynchronousTestCase):
    def test_nssServer(self) -> None:
        data = ipsecreports.nss_server_json("MVS052", CLIENTS)
        self.assertEqual(
            data,
            {
                "Primary": "NSS Server",
                "Function": "Display",
                "Source": "Server",
                "SystemName": "MVS052",
                "TotAvail": 2,
                "Entries": [entry_json(BLOCK_CLIENT4), entry_json(BLOCK_CLIENT5)],
            },
        )
        self.assertEqual(
            list(data["Entries"][0]),
            [line.split(":")[0] for line in BLOCK_CLIENT4.splitlines()],
        )
        self.assertEqual(data["Entries"][1]["StackName"], None)
        self.assertIs(data["Entries"][1]["RemoteManagementEnabled"], False)
        self.assertEqual(data["Entries"][0]["ClientPort"], 50003)
        self.assertEqual(json.loads(json.dumps(data)), data)

    def test_seed(self) -> None:
        data = ipsecreports.stack_nss_json("MVS052", STACKS)
        self.assertEqual(
            data,
            {
                "Primary": "Stack NSS",
                "Function": "Display",
                "Source": "IKED",
                "SystemName": "MVS052",
                "TotAvail": 3,
                "Entries": [
                    entry_json(BLOCK_TCPCS),
                    entry_json(BLOCK_TCPCS3),
                    entry_json(BLOCK_TCPCS4),
                ],
            },
        )
        # Key order follows the report.
        self.assertEqual(
            list(data["Entries"][0]),
            [line.split(":")[0] for line in BLOCK_TCPCS.splitlines()],
        )
        self.assertEqual(
            data["Entries"][1]["TimeConnectedToNSServer"], "2006-11-17T11:19:09Z"
        )
        self.assertIs(data["Entries"][0]["RemoteManagementEnabled"], None)
        self.assertEqual(json.loads(json.dumps(data)), data)


class UsageTests(SynchronousTestCase):
    """
    IBM's option rules, and usage errors that exit 2 without touching the
    reactor.
    """

    def nssIpsec(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        coroutine = ipsec.run(object(), list(argv), out, err)
        status = self.successResultOf(Deferred.fromCoroutine(coroutine))
        return status, out.getvalue(), err.getvalue()

    def options(self, *argv: str) -> ipsec.IpsecOptions:
        options = ipsec.IpsecOptions()
        options.parseOptions(list(argv))
        return options

    def test_errors(self) -> None:
        for argv, text in [
            ((), "a primary option is needed: -f, -k, -y, -m, -i, -o, -x or -w"),
            (("-w",), "option -w requires argument"),
            (("-w", "display", "-k", "display"), "one primary option at a time"),
            (("-w", "di"), "unknown -w function 'di': display (dis)"),
            (("-w", "show"), "unknown -w function 'show'"),
            (("-w", "refresh"), "unknown -w function 'refresh'"),
            (("-W", "display"), "-W"),
            (("-w", "display", "now"), "Wrong number of arguments"),
            (("-w", "display", "-z", "client3"), "-z cannot be used with -w"),
            (("-w", "display", "-p", "TCPCS"), "-p cannot be used with -w"),
            (("-x", "display", "-z", "client4"), "-z cannot be used with -x"),
            (("-x", "display", "-p", "TCPCS"), "-p cannot be used with -x"),
            (("-x", "refresh"), "unknown -x function 'refresh'"),
            (("-x", "display", "-w", "display"), "one primary option at a time"),
            (("-w", "display", "--timeout", "0"), "--timeout"),
            (("-w", "display", "--timeout", "nan"), "--timeout"),
            (("-w", "display", "--bogus"), "bogus"),
            (("-f", "display", "-z", "c", "-p", "s"), "-z and -p exclude each other"),
            (("-f", "default", "-c", "policy"), "-c goes with -f display only"),
            (("-w", "display", "-c", "policy"), "-c goes with -f display only"),
            (("-f", "display", "-c", "po"), "unknown -c value 'po'"),
            (("-f", "display", "-c", "all"), "unknown -c value 'all'"),
            (("-f", "display", "-z", "a b"), "-z 'a b' is not a valid name"),
            (("-f", "display", "-p", "TOOLONGNAME"), "-p 'TOOLONGNAME' is not"),
            (("-f", "show"), "unknown -f function 'show'"),
            (("-i", "show"), "unknown -i function 'show'"),
            (("-o", "dis", "-a", "Y1"), "-a goes with -k, -y and -m only"),
            (("-i", "dis", "-c", "policy"), "-c goes with -f display only"),
            (("-k", "activate"), "unknown -k function 'activate'"),
            (("-k", "ref"), "-k refresh needs the tunnel ID (-a) or the name (-n)"),
            (("-m", "act", "-z", "c"), "-m activate needs the tunnel ID (-a)"),
            (("-f", "dis", "-a", "K1"), "-a goes with -k, -y and -m only"),
            (("-w", "dis", "-n", "Rule"), "-n goes with -k, -y and -m only"),
            (("-k", "ref", "-a", "K 1"), "-a 'K 1' is not a valid name"),
            (("-k", "ref", "-n", "x" * 49), "is not a valid name"),
            (("-k", "ref", "-a", "K1", "-e"), "-e goes with -k display only"),
            (("-y", "dis", "-e"), "-e goes with -k display only"),
            (("-k", "dis", "-b"), "-b goes with -y display only"),
            (("-y", "ref", "-a", "Y1", "-b"), "-b goes with -y display only"),
        ]:
            status, out, err = self.nssIpsec(*argv)
            self.assertEqual((status, out), (2, ""), argv)
            self.assertIn(text, err, argv)
            self.assertTrue(err.startswith("nss-ipsec: "), err)
            self.assertTrue(err.endswith("(see nss-ipsec --help)\n"), err)

    def test_unimplementedPrimaries(self) -> None:
        """
        Every primary the network management issue names is known, with
        its functions, and all are implemented; one that were not would
        say so rather than that it does not exist.
        """
        for primary in ipsecreports.PRIMARIES:
            for function in primary.functions:
                self.assertIn((primary.letter, function), ipsec._REPORTS)
        self.assertEqual("".join(p.letter for p in ipsecreports.PRIMARIES), "fkymioxw")
        reports = dict(ipsec._REPORTS)
        del reports["o", "display"]
        self.patch(ipsec, "_REPORTS", reports)
        status, _, err = self.nssIpsec("-o", "dis")
        self.assertEqual(status, 2)
        self.assertIn("-o display (NATT Port Trans) is not implemented yet", err)

    def test_abbreviations(self) -> None:
        """
        Function keywords in any case, cut to three letters or more.
        """
        for word in ("display", "dis", "DIS", "Displ", "DISPLAY"):
            for letter in ("w", "x"):
                options = self.options(f"-{letter}", word)
                self.assertEqual(
                    (options.primary.letter, options.function), (letter, "display")
                )
        self.assertEqual(
            ipsec.keyword("DEA", ("display", "deactivate"), "-k"), "deactivate"
        )

    def test_longOptions(self) -> None:
        options = self.options("--stack-nss", "dis", "--json", "--socket", "/s")
        self.assertEqual(options.function, "display")
        self.assertTrue(options["json"])
        self.assertEqual(options["socket"], "/s")

    def test_daemon(self) -> None:
        """
        -x and -z go to nssd, everything else to iked.
        """
        self.assertEqual(self.options("-w", "dis").daemon, "iked")
        self.assertEqual(self.options("-x", "dis").daemon, "nssd")
        self.assertEqual(self.options("--nss-server", "dis").daemon, "nssd")
        self.assertEqual(ipsec.SOCKETS, {"iked": IKED_SOCKET, "nssd": NSSD_SOCKET})
        self.assertEqual(
            {p.letter for p in ipsecreports.PRIMARIES if p.daemon == "nssd"}, {"x"}
        )

    def test_help(self) -> None:
        status, out, err = self.nssIpsec("--help")
        self.assertEqual((status, err), (0, ""))
        self.assertIn(
            "Usage: nss-ipsec -w|-x display | (-f display|default|reload", out
        )
        self.assertIn("--filter-set", out)
        self.assertIn("--stack-nss", out)
        self.assertIn("--nss-server", out)

    def test_helpNamesEveryTargetedPrimary(self) -> None:
        """
        The help of -z and -p names every primary they go with, which is
        every primary but -w and -x.
        """
        status, out, err = self.nssIpsec("--help")
        self.assertEqual((status, err), (0, ""))
        text = " ".join(out.split())
        self.assertIn(
            "-z, --client= The NSS client to ask, through nssd (with -f, -k, -y, "
            "-m, -i or -o).",
            text,
        )
        self.assertIn(
            "-p, --stack= The local stack to ask (with -f, -k, -y, -m, -i or -o).",
            text,
        )
        for primary in ipsecreports.PRIMARIES:
            if primary.letter in "wx":
                continue
            for target in ("-z", "-p"):
                options = self.options(f"-{primary.letter}", "display", target, "TCPCS")
                self.assertEqual(options.target, "TCPCS")

    def test_version(self) -> None:
        status, out, _ = self.nssIpsec("--version")
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith("nss-ipsec (nsstwisted) "))


class Refusing:
    """A handler that refuses everything with EOPNOTSUPP."""

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        return succeed(
            request.refuse(ReturnCode.EOPNOTSUPP, ReasonCode.NONE, "not here")
        )


class Garbled:
    """A handler that answers GET_IKENSINFO with a record of nonsense."""

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        return succeed(request.answer([NmiRecord((NmiSection(1, b"MVS052  "),))] * 2))


def socket_path(case: TestCase, name: str) -> str:
    """
    A socket path in a folder of its own, removed after the test.  AF_UNIX
    paths are limited to 107 bytes: trial's temporary directory can be
    deeper than that.
    """
    folder = tempfile.mkdtemp(dir="/tmp")
    case.addCleanup(shutil.rmtree, folder, True)
    return os.path.join(folder, name)


async def serve_nmi(case: TestCase, path: str, handler: Any) -> NmiServerFactory:
    """
    Serve the NMI with C{handler} on C{path} until the test ends.
    """
    factory = NmiServerFactory(handler, reactor)
    port: IListeningPort = await nmi_server_endpoint(reactor, path).listen(factory)

    async def stop() -> None:
        stopping = port.stopListening()
        if stopping is not None:
            await stopping
        await factory.terminateAll()

    case.addCleanup(lambda: Deferred.fromCoroutine(stop()))
    return factory


async def run_as_nobody(*argv: str) -> tuple[int, str, str]:
    """
    Run C{nss-ipsec} with C{argv} as user C{nobody}, with no supplementary
    group, in a forked child under a reactor of its own, as an operator who
    was not let in would run it.  Only root may do this.
    """
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(readable)
        status = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            own = SelectReactor()
            out, err = io.StringIO(), io.StringIO()
            outcome: list[int] = []

            def started() -> None:
                running = Deferred.fromCoroutine(
                    ipsec.run(own, list(argv), out, err, now=lambda: NOW)
                )
                running.addCallback(outcome.append)
                running.addBoth(lambda _: own.stop())

            own.callWhenRunning(started)
            own.run(installSignalHandlers=False)
            report = json.dumps([outcome[0], out.getvalue(), err.getvalue()])
            os.write(writable, report.encode())
            status = 0
        finally:
            os._exit(status)
    os.close(writable)

    def collect() -> bytes:
        with os.fdopen(readable, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        return data

    status, out, err = json.loads(await deferToThread(collect))
    return status, out, err


class SocketTests(TestCase):
    """
    C{nss-ipsec} end to end over a real AF_UNIX socket.
    """

    def setUp(self) -> None:
        self.path = socket_path(self, "ipsecmgmt")
        self.stacks = list(STACKS)

    def nssInfo(self) -> tuple[str, list[IkeNssInfo]]:
        return "MVS052", self.stacks

    async def serve(self, handler: Any = None) -> NmiServerFactory:
        if handler is None:
            handler = IkedManagement(
                lambda: ["IkeConfig"], lambda: succeed([]), self.nssInfo
            )
        return await serve_nmi(self, self.path, handler)

    async def nssIpsec(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await ipsec.run(
            reactor, list(argv), out, err, now=lambda: NOW, localtime=time.gmtime
        )
        return status, out.getvalue(), err.getvalue()

    async def test_display(self) -> None:
        await self.serve()
        status, out, err = await self.nssIpsec("-w", "display", "--socket", self.path)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, REPORT)

    async def test_displayAbbreviated(self) -> None:
        await self.serve()
        status, out, _ = await self.nssIpsec("--socket", self.path, "-w", "DIS")
        self.assertEqual((status, out), (0, REPORT))

    async def test_json(self) -> None:
        await self.serve()
        status, out, err = await self.nssIpsec(
            "-w", "dis", "--json", "--socket", self.path
        )
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out), ipsecreports.stack_nss_json("MVS052", STACKS))
        self.assertTrue(out.endswith("}\n"))

    async def test_stateNow(self) -> None:
        """
        Each run shows iked's data of the moment.
        """
        await self.serve()
        self.stacks = self.stacks[:1]
        status, out, _ = await self.nssIpsec("-w", "display", "--socket", self.path)
        self.assertEqual(status, 0)
        self.assertTrue(out.endswith("*****\n\n1 entries selected\n"))

    async def test_refused(self) -> None:
        await self.serve(Refusing())
        status, out, err = await self.nssIpsec("-w", "display", "--socket", self.path)
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err,
            "nss-ipsec: iked refused NMsec_GET_IKENSINFO: EOPNOTSUPP (1112) "
            "NONE (0): not here\n",
        )

    async def test_daemonFails(self) -> None:
        """
        Data iked cannot encode is iked's failure: EIO, exit 1.
        """
        self.stacks = [IkeNssInfo("A"), IkeNssInfo("a")]
        await self.serve()
        status, _, err = await self.nssIpsec("-w", "display", "--socket", self.path)
        self.assertEqual(status, 1)
        self.assertIn(
            "iked refused NMsec_GET_IKENSINFO: EIO (122) NSSRsnServerError (50)", err
        )
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    async def test_unreadableReply(self) -> None:
        await self.serve(Garbled())
        status, out, err = await self.nssIpsec("-w", "display", "--socket", self.path)
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err,
            "nss-ipsec: iked sent a NMsec_GET_IKENSINFO reply that cannot be "
            "read: stack record 1 holds 1 entry of 184 bytes, not 1 in 8 bytes\n",
        )

    async def test_missingSocket(self) -> None:
        status, out, err = await self.nssIpsec("-w", "display", "--socket", self.path)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(
            err,
            f"nss-ipsec: cannot connect to iked at {self.path}: "
            "No such file or directory\n",
        )

    async def test_folderClosed(self) -> None:
        """
        A user who may not enter the socket's folder is told which folder,
        and whose it is (issue 10, item 5).
        """
        skip_unless_root(self)
        await self.serve()
        folder = os.path.dirname(self.path)
        os.chmod(folder, 0o700)
        status, out, err = await run_as_nobody("-w", "display", "--socket", self.path)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(
            err,
            f"nss-ipsec: cannot connect to iked at {self.path}: permission"
            f" denied: user nobody may not enter the folder {folder}"
            " (drwx------ root:root), which holds the socket\n",
        )

    async def test_socketClosed(self) -> None:
        """
        A user outside the socket's group is told which socket, and which
        user and group may open it.
        """
        skip_unless_root(self)
        await self.serve()
        # nobody may reach the socket, but not open it.
        os.chmod(os.path.dirname(self.path), 0o711)  # noqa: S103
        os.chown(self.path, 0, 0)
        os.chmod(self.path, 0o660)
        status, out, err = await run_as_nobody("-w", "display", "--socket", self.path)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(
            err,
            f"nss-ipsec: cannot connect to iked at {self.path}: permission"
            " denied: the socket is srw-rw---- root:root, so only root and"
            " members of group root may open it, and user nobody is not in"
            " group root\n",
        )

    async def test_defaultSocket(self) -> None:
        """
        Without --socket, iked's usual path.
        """
        if os.path.exists(IKED_SOCKET):
            self.skipTest(f"{IKED_SOCKET} exists here")
        status, _, err = await self.nssIpsec("-w", "display")
        self.assertEqual(status, 2)
        self.assertIn(f"cannot connect to iked at {IKED_SOCKET}", err)

    async def test_noReply(self) -> None:
        class Silent:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                return Deferred()

        await self.serve(Silent())
        status, _, err = await self.nssIpsec(
            "-w", "display", "--socket", self.path, "--timeout", "0.2"
        )
        self.assertEqual(status, 1)
        self.assertEqual(
            err,
            "nss-ipsec: iked did not answer NMsec_GET_IKENSINFO within 0.2 seconds\n",
        )
        # One second is not "1 seconds".
        status, _, err = await self.nssIpsec(
            "-w", "display", "--socket", self.path, "--timeout", "1"
        )
        self.assertEqual(
            (status, err),
            (
                1,
                "nss-ipsec: iked did not answer NMsec_GET_IKENSINFO within 1 second\n",
            ),
        )

    async def test_shutdown(self) -> None:
        """
        An iked that stops while it works on the request: exit 1, with
        the TERM's codes.
        """

        class Silent:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                return Deferred()

        factory = await self.serve(Silent())
        reactor.callLater(0.1, factory.terminateAll)
        status, _, err = await self.nssIpsec("-w", "display", "--socket", self.path)
        self.assertEqual(status, 1)
        self.assertIn("iked ended the connection: EBUSY (114) NSSRsnShutdown (51)", err)


class ClientInfoServer:
    """
    An NMI handler that answers GET_CLIENTINFO as nssd's will: through
    L{answer_clientinfo}, with the clients of the moment.  It keeps the
    requests, so that a test can see what C{nss-ipsec} asked.
    """

    def __init__(self, clients: list[NssClientInfo]) -> None:
        self.clients = clients
        self.requests: list[NmiMessage] = []

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        self.requests.append(request)
        if request.messageType != NmiMessageType.GET_CLIENTINFO:
            return succeed(request.refuse(ReturnCode.EOPNOTSUPP))
        # maybeDeferred, as nssd must: data it cannot encode is its bug,
        # which the protocol answers EIO NSSRsnServerError.
        return maybeDeferred(answer_clientinfo, request, "MVS052", self.clients)


class GarbledClientInfo:
    """A handler that answers with a system record where a client goes."""

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        return succeed(request.answer([NmiRecord((NmiSection(1, b"MVS052  "),))] * 2))


class NssServerSocketTests(TestCase):
    """
    C{nss-ipsec -x} end to end over a real AF_UNIX socket, against a
    GET_CLIENTINFO handler built on the codec nssd will use.
    """

    def setUp(self) -> None:
        self.path = socket_path(self, "nss")
        self.server = ClientInfoServer(list(CLIENTS))

    async def serve(self, handler: Any = None) -> NmiServerFactory:
        return await serve_nmi(self, self.path, handler or self.server)

    async def nssIpsec(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await ipsec.run(
            reactor, list(argv), out, err, now=lambda: X_NOW, localtime=time.gmtime
        )
        return status, out.getvalue(), err.getvalue()

    async def test_display(self) -> None:
        await self.serve()
        status, out, err = await self.nssIpsec("-x", "display", "--socket", self.path)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, X_REPORT)

    async def test_request(self) -> None:
        """
        C{-x} asks for every client: a blank target and no filter record,
        which selects the IPSec clients, as IBM's command asks.
        """
        await self.serve()
        status, _, _ = await self.nssIpsec("--nss-server", "DIS", "--socket", self.path)
        self.assertEqual(status, 0)
        [request] = self.server.requests
        self.assertEqual(
            (request.messageType, request.target, request.records, request.reply),
            (NmiMessageType.GET_CLIENTINFO, "", (), False),
        )

    async def test_oneClient(self) -> None:
        self.server.clients = [CLIENT4]
        await self.serve()
        status, out, _ = await self.nssIpsec("-x", "dis", "--socket", self.path)
        self.assertEqual((status, out), (0, X_REPORT_ONE))

    async def test_noClients(self) -> None:
        self.server.clients = []
        await self.serve()
        status, out, _ = await self.nssIpsec("-x", "display", "--socket", self.path)
        self.assertEqual(status, 0)
        self.assertTrue(
            out.endswith("TotAvail: 0\nSystemName: MVS052\n\n0 entries selected\n")
        )

    async def test_json(self) -> None:
        await self.serve()
        status, out, err = await self.nssIpsec(
            "-x", "display", "--json", "--socket", self.path
        )
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            json.loads(out), ipsecreports.nss_server_json("MVS052", CLIENTS)
        )
        self.assertTrue(out.endswith("}\n"))

    async def test_refused(self) -> None:
        await self.serve(Refusing())
        status, out, err = await self.nssIpsec("-x", "display", "--socket", self.path)
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err,
            "nss-ipsec: nssd refused NMsec_GET_CLIENTINFO: EOPNOTSUPP (1112) "
            "NONE (0): not here\n",
        )

    async def test_daemonFails(self) -> None:
        """
        Data nssd cannot encode is nssd's failure: EIO, exit 1.
        """
        self.server.clients = [
            CLIENT4,
            dataclasses.replace(CLIENT4, clientName="CLIENT4"),
        ]
        await self.serve()
        status, _, err = await self.nssIpsec("-x", "display", "--socket", self.path)
        self.assertEqual(status, 1)
        self.assertIn(
            "nssd refused NMsec_GET_CLIENTINFO: EIO (122) NSSRsnServerError (50)", err
        )
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    async def test_unreadableReply(self) -> None:
        await self.serve(GarbledClientInfo())
        status, out, err = await self.nssIpsec("-x", "display", "--socket", self.path)
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err,
            "nss-ipsec: nssd sent a NMsec_GET_CLIENTINFO reply that cannot be "
            "read: client record 1 holds 1 entry of 176 bytes, not 1 in 8 bytes\n",
        )

    async def test_missingSocket(self) -> None:
        status, out, err = await self.nssIpsec("-x", "display", "--socket", self.path)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(
            err,
            f"nss-ipsec: cannot connect to nssd at {self.path}: "
            "No such file or directory\n",
        )

    async def test_defaultSocket(self) -> None:
        """
        Without --socket, nssd's usual path, not iked's.
        """
        if os.path.exists(NSSD_SOCKET):
            self.skipTest(f"{NSSD_SOCKET} exists here")
        status, _, err = await self.nssIpsec("-x", "display")
        self.assertEqual(status, 2)
        self.assertIn(f"cannot connect to nssd at {NSSD_SOCKET}", err)


class DocumentationTests(SynchronousTestCase):
    """
    C{docs/commands.md} shows what the command prints.
    """

    def test_examples(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        report = ipsecreports.stack_nss_report("MVS052", STACKS[:2], NOW, time.gmtime)
        self.assertIn("```text\n" + "\n".join(report) + "\n```", text)
        data = ipsecreports.stack_nss_json("MVS052", STACKS[1:2])
        self.assertIn("```json\n" + json.dumps(data, indent=2) + "\n```", text)

    def test_nssServerExamples(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        report = ipsecreports.nss_server_report("MVS052", CLIENTS, X_NOW, time.gmtime)
        self.assertIn("```text\n" + "\n".join(report) + "\n```", text)
        data = ipsecreports.nss_server_json("MVS052", CLIENTS[1:])
        self.assertIn("```json\n" + json.dumps(data, indent=2) + "\n```", text)

    def test_synopsis(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        synopsis = ipsec.IpsecOptions.synopsis.removeprefix("Usage: ")
        self.assertIn(f"```text\n{synopsis}\n```", text)

    def test_primaries(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        for primary in ipsecreports.PRIMARIES:
            self.assertIn(
                f"| `-{primary.letter}` | `--{primary.longName}` | "
                f"{primary.heading} | {', '.join(primary.functions)} |",
                text,
            )


# -f: a stack's IP filter rules and its filter set switch.

PERMIT_SSH = FilterRecordInfo(
    "PermitSSH",
    FilterSet.POLICY,
    action=FilterAction.PERMIT,
    direction=FilterDirection.INBOUND,
    logging=FilterLogging.PERMIT,
    protocol=6,
    scope=FilterScope.LOCAL,
    sourceAddress="10.1.1.0",
    sourcePrefix=24,
    destinationAddress="10.1.1.5",
    destinationPrefix=32,
    sourcePorts=(1024, 65535),
    destinationPorts=(22, 22),
)
DENY_ALL_POLICY = FilterRecordInfo("DenyAll", FilterSet.POLICY)
DENY_ALL_DEFAULT = FilterRecordInfo(
    "SYSDEFAULTDENYRULE", FilterSet.DEFAULT, logging=FilterLogging.ALL
)

F_HEADING = """\
CS V2R5 ipsec {label}: {name}  Fri Nov 17 11:20:05 2006
Primary:  Filter          Function: Display             Format:   Detail
Source:   {source:<16}Scope:    {scope:<20}TotAvail: {count}
Logging:  On              Predecap: Off                 DVIPSec:  No
NatKeepAlive: 20          FIPS140:  No

"""

BLOCK_PERMIT_SSH = """\
FilterName:           PermitSSH
FilterNameExtension:  n/a
GroupName:            n/a
LocalStartActionName: n/a
VpnActionName:        n/a
TunnelID:             n/a
Type:                 Generic
DefensiveType:        n/a
State:                Active
Action:               Permit
Scope:                Local
Direction:            Inbound
OnDemand:             n/a
SecurityClass:        n/a
Logging:              Permit
Protocol:             TCP(6)
SourceAddress:        10.1.1.0
SourceAddressPrefix:  24
SourcePort:           1024
SourcePortRange:      65535
DestAddress:          10.1.1.5
DestAddressPrefix:    32
DestPort:             22
DestPortRange:        n/a
"""

BLOCK_DENY_ALL = """\
FilterName:           DenyAll
FilterNameExtension:  n/a
GroupName:            n/a
LocalStartActionName: n/a
VpnActionName:        n/a
TunnelID:             n/a
Type:                 Generic
DefensiveType:        n/a
State:                Active
Action:               Deny
Scope:                Either
Direction:            BiDirectional
OnDemand:             n/a
SecurityClass:        n/a
Logging:              None
Protocol:             All
SourceAddress:        0.0.0.0
SourceAddressPrefix:  0
SourcePort:           All
SourcePortRange:      n/a
DestAddress:          0.0.0.0
DestAddressPrefix:    0
DestPort:             All
DestPortRange:        n/a
"""

F_REPORT = (
    F_HEADING.format(
        label="Stack Name",
        name="TCPCS3",
        source="Stack Policy",
        scope="Current",
        count=2,
    )
    + BLOCK_PERMIT_SSH
    + "*****\n"
    + BLOCK_DENY_ALL
    + "*****\n"
    + "\n"
    + "2 entries selected\n"
)

F_REPORT_Z = F_REPORT.replace(
    "ipsec Stack Name: TCPCS3", "ipsec NSS Client Name: client3", 1
)


def policy_report() -> FilterReport:
    return FilterReport(
        "TCPCS3", FilterSet.POLICY, FilterSettings(), [PERMIT_SSH, DENY_ALL_POLICY]
    )


class FilterReportTests(SynchronousTestCase):
    """
    The C{-f display} report, line by line, and the C{-f default|reload}
    output.
    """

    def assertLines(self, lines: list[str], expected: str) -> None:
        wanted = expected.splitlines()
        for number, (got, line) in enumerate(zip(lines, wanted, strict=False), 1):
            self.assertEqual(got, line, f"line {number}")
        self.assertEqual(len(lines), len(wanted))

    def test_local(self) -> None:
        lines = ipsecreports.filter_report(policy_report(), NOW, localtime=time.gmtime)
        self.assertLines(lines, F_REPORT)

    def test_client(self) -> None:
        """
        Through nssd the heading names the NSS client, as IBM's does.
        """
        lines = ipsecreports.filter_report(
            policy_report(), NOW, clientName="client3", localtime=time.gmtime
        )
        self.assertLines(lines, F_REPORT_Z)

    def test_headingContent(self) -> None:
        lines = ipsecreports.filter_report(policy_report(), NOW, localtime=time.gmtime)
        self.assertEqual(
            lines[1].split(),
            ["Primary:", "Filter", "Function:", "Display", "Format:", "Detail"],
        )
        self.assertEqual(
            lines[2].split(),
            ["Source:", "Stack", "Policy", "Scope:", "Current", "TotAvail:", "2"],
        )
        self.assertEqual(
            lines[3].split(),
            ["Logging:", "On", "Predecap:", "Off", "DVIPSec:", "No"],
        )
        self.assertEqual(lines[4].split(), ["NatKeepAlive:", "20", "FIPS140:", "No"])

    def test_profile(self) -> None:
        """
        The default set's rules: C{Source: Stack Profile}, the scope -c
        gave, and the stack's settings as it sent them.
        """
        report = FilterReport(
            "TCPCS3",
            FilterSet.POLICY,
            FilterSettings(
                logging=False, predecap=True, dvipsec=True, fips140=True, natKeepAlive=0
            ),
            [DENY_ALL_DEFAULT],
        )
        lines = ipsecreports.filter_report(
            report, NOW, scope="profile", localtime=time.gmtime
        )
        self.assertEqual(
            lines[2:5],
            [
                "Source:   Stack Profile   Scope:    Profile             TotAvail: 1",
                "Logging:  Off             Predecap: On                  DVIPSec:  Yes",
                "NatKeepAlive: 0           FIPS140:  Yes",
            ],
        )
        self.assertIn("FilterName:           SYSDEFAULTDENYRULE", lines)
        self.assertIn("Logging:              All", lines)
        current = dataclasses.replace(report, currentSet=FilterSet.DEFAULT)
        lines = ipsecreports.filter_report(current, NOW, localtime=time.gmtime)
        self.assertTrue(
            lines[2].startswith("Source:   Stack Profile   Scope:    Current")
        )

    def test_noRules(self) -> None:
        report = FilterReport("TCPCS3", FilterSet.POLICY, FilterSettings(), [])
        lines = ipsecreports.filter_report(
            report, NOW, scope="policy", localtime=time.gmtime
        )
        self.assertEqual(lines[2][-11:], "TotAvail: 0")
        self.assertEqual(lines[5:], ["", "0 entries selected"])

    def test_values(self) -> None:
        """
        Protocols by name where IBM names them, else by number; a port
        range shows its high end; IPv6 addresses as they are.
        """
        info = FilterRecordInfo(
            "r6",
            FilterSet.POLICY,
            protocol=17,
            sourceAddress="2001:db8::",
            sourcePrefix=32,
            destinationAddress="::",
            sourcePorts=(0, 1023),
            destinationPorts=(500, 500),
        )
        report = FilterReport("S", FilterSet.POLICY, FilterSettings(), [info])
        lines = ipsecreports.filter_report(report, NOW, localtime=time.gmtime)
        for line in [
            "Protocol:             UDP(17)",
            "SourceAddress:        2001:db8::",
            "SourceAddressPrefix:  32",
            "SourcePort:           0",
            "SourcePortRange:      1023",
            "DestAddress:          ::",
            "DestPort:             500",
            "DestPortRange:        n/a",
        ]:
            self.assertIn(line, lines)
        other = dataclasses.replace(info, protocol=47)
        report = FilterReport("S", FilterSet.POLICY, FilterSettings(), [other])
        lines = ipsecreports.filter_report(report, NOW, localtime=time.gmtime)
        self.assertIn("Protocol:             47", lines)

    def test_json(self) -> None:
        data = ipsecreports.filter_json(policy_report())
        self.assertEqual(
            {k: v for k, v in data.items() if k != "Entries"},
            {
                "Primary": "Filter",
                "Function": "Display",
                "StackName": "TCPCS3",
                "Source": "Stack Policy",
                "Scope": "Current",
                "CurrentSet": "Policy",
                "Logging": True,
                "Predecap": False,
                "DVIPSec": False,
                "NatKeepAlive": 20,
                "FIPS140": False,
                "TotAvail": 2,
            },
        )
        first = data["Entries"][0]
        self.assertEqual(
            list(first), [line.split(":")[0] for line in BLOCK_PERMIT_SSH.splitlines()]
        )
        self.assertEqual(
            (first["Protocol"], first["SourcePort"], first["SourcePortRange"]),
            (6, 1024, 65535),
        )
        self.assertEqual(
            (first["GroupName"], first["DestPortRange"], first["Action"]),
            (None, None, "Permit"),
        )
        self.assertEqual(data["Entries"][1]["SourcePort"], 0)
        self.assertEqual(json.loads(json.dumps(data)), data)

    def test_control(self) -> None:
        self.assertEqual(
            ipsecreports.filter_control_report(
                [TunnelControl("TCPCS3", "", TunnelStatus.STATEUPDATED)]
            ),
            ["Stack Name  Status", "TCPCS3      State updated"],
        )
        self.assertEqual(
            ipsecreports.filter_control_report(
                [TunnelControl("TCPCSLONG", "", TunnelStatus.STATEALREADYSET)]
            ),
            ["Stack Name  Status", "TCPCSLONG   State already set"],
        )
        self.assertEqual(
            ipsecreports.filter_control_json(
                "reload", [TunnelControl("TCPCS3", "", TunnelStatus.STATEUPDATED)]
            ),
            {
                "Primary": "Filter",
                "Function": "Reload",
                "Entries": [{"StackName": "TCPCS3", "Status": "State updated"}],
            },
        )


class FilterOptionTests(SynchronousTestCase):
    def options(self, *argv: str) -> ipsec.IpsecOptions:
        options = ipsec.IpsecOptions()
        options.parseOptions(list(argv))
        return options

    def test_scopes(self) -> None:
        for argv, scope in [
            (("-f", "dis"), "current"),
            (("-f", "dis", "-c", "CUR"), "current"),
            (("-f", "dis", "-c", "policy"), "policy"),
            (("-f", "dis", "-c", "Pro"), "profile"),
            (("-f", "dis", "-c", "profile"), "profile"),
            (("-f", "dis", "-c", "def"), "profile"),
            (("--filter", "display", "--filter-set", "default"), "profile"),
        ]:
            self.assertEqual(self.options(*argv).filterScope, scope, argv)

    def test_functions(self) -> None:
        for word, function in [
            ("DEF", "default"),
            ("rel", "reload"),
            ("Dis", "display"),
        ]:
            self.assertEqual(self.options("-f", word).function, function)

    def test_targets(self) -> None:
        options = self.options("-f", "dis", "-z", "client3")
        self.assertEqual((options.daemon, options.target), ("nssd", "client3"))
        options = self.options("-f", "dis", "-p", "TCPCS3")
        self.assertEqual((options.daemon, options.target), ("iked", "TCPCS3"))
        options = self.options("-f", "reload")
        self.assertEqual((options.daemon, options.target), ("iked", ""))


class FilterStack:
    """
    An NMI handler that serves the filter requests as iked's stack model
    will, on the codec: one stack whose current set can be switched, and
    which answers through nssd under its client name, or locally under its
    stack name or a blank target.  It keeps the requests.
    """

    def __init__(self, names: tuple[str, ...] = ("", "TCPCS3")) -> None:
        self.names = names
        self.currentSet = FilterSet.POLICY
        self.requests: list[NmiMessage] = []

    def rules(self, filterSet: FilterSet) -> list[FilterRecordInfo]:
        if filterSet == FilterSet.POLICY:
            return [PERMIT_SSH, DENY_ALL_POLICY]
        return [DENY_ALL_DEFAULT]

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        self.requests.append(request)
        if request.target not in self.names:
            return succeed(request.refuse(ReturnCode.ENXIO, ReasonCode.NONE, "no"))
        T = NmiMessageType
        if request.messageType in FILTER_SET_REQUESTS:
            wanted = (
                FilterSet.DEFAULT
                if request.messageType == T.SET_IPFLTDEFAULT
                else FilterSet.POLICY
            )
            changed = wanted != self.currentSet
            self.currentSet = wanted
            return succeed(answer_filter_set(request, "TCPCS3", changed))
        shown = {
            T.GET_IPFLTCURR: self.currentSet,
            T.GET_IPFLTDEFAULT: FilterSet.DEFAULT,
            T.GET_IPFLTPOLICY: FilterSet.POLICY,
        }.get(NmiMessageType(request.messageType))
        if shown is None:
            return succeed(request.refuse(ReturnCode.EOPNOTSUPP))
        return maybeDeferred(
            encode_filter_reply, request, "TCPCS3", self.currentSet, self.rules(shown)
        )


class FilterSocketTests(TestCase):
    """
    C{nss-ipsec -f} end to end over a real AF_UNIX socket, against a
    handler built on the codec iked will use: locally (iked's socket,
    C{-p}) and through nssd (nssd's socket, C{-z}, the client's name as
    the target).
    """

    def setUp(self) -> None:
        self.path = socket_path(self, "ipsecmgmt")
        self.stack = FilterStack()

    async def serve(self, handler: Any = None) -> NmiServerFactory:
        return await serve_nmi(self, self.path, handler or self.stack)

    async def nssIpsec(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await ipsec.run(
            reactor,
            [*argv, "--socket", self.path],
            out,
            err,
            now=lambda: NOW,
            localtime=time.gmtime,
        )
        return status, out.getvalue(), err.getvalue()

    async def test_displayLocal(self) -> None:
        await self.serve()
        status, out, err = await self.nssIpsec("-f", "display", "-p", "TCPCS3")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, F_REPORT)
        [request] = self.stack.requests
        self.assertEqual(
            (request.messageType, request.target, request.records),
            (NmiMessageType.GET_IPFLTCURR, "TCPCS3", ()),
        )

    async def test_displayDefaultStack(self) -> None:
        """
        Without -p or -z, a blank target: iked's first stack.
        """
        await self.serve()
        status, out, _ = await self.nssIpsec("-f", "dis")
        self.assertEqual((status, out), (0, F_REPORT))
        self.assertEqual(self.stack.requests[0].target, "")

    async def test_displayThroughNssd(self) -> None:
        self.stack = FilterStack(("client3",))
        await self.serve()
        status, out, err = await self.nssIpsec("-f", "display", "-z", "client3")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, F_REPORT_Z)
        self.assertEqual(self.stack.requests[0].target, "client3")

    async def test_scopes(self) -> None:
        await self.serve()
        for scope, messageType, source in [
            ("policy", NmiMessageType.GET_IPFLTPOLICY, "Stack Policy"),
            ("profile", NmiMessageType.GET_IPFLTDEFAULT, "Stack Profile"),
            ("default", NmiMessageType.GET_IPFLTDEFAULT, "Stack Profile"),
            ("current", NmiMessageType.GET_IPFLTCURR, "Stack Policy"),
        ]:
            status, out, _ = await self.nssIpsec("-f", "dis", "-c", scope)
            self.assertEqual(status, 0, scope)
            self.assertEqual(self.stack.requests[-1].messageType, messageType)
            self.assertIn(f"Source:   {source:<16}", out)

    async def test_switchAndBack(self) -> None:
        """
        C{-f default} switches the stack to its default set, which
        C{-f display} then shows; a second C{-f default} finds it set
        already; C{-f reload} switches back.
        """
        self.stack = FilterStack(("client3",))
        await self.serve()
        status, out, err = await self.nssIpsec("-z", "client3", "-f", "default")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, "Stack Name  Status\nTCPCS3      State updated\n")
        self.assertEqual(
            self.stack.requests[-1].messageType, NmiMessageType.SET_IPFLTDEFAULT
        )
        status, out, _ = await self.nssIpsec("-f", "display", "-z", "client3")
        self.assertEqual(status, 0)
        self.assertIn("Source:   Stack Profile   Scope:    Current ", out)
        self.assertIn("FilterName:           SYSDEFAULTDENYRULE", out)
        self.assertTrue(out.endswith("*****\n\n1 entries selected\n"))
        status, out, _ = await self.nssIpsec("-z", "client3", "-f", "DEF")
        self.assertEqual(
            (status, out), (0, "Stack Name  Status\nTCPCS3      State already set\n")
        )
        status, out, _ = await self.nssIpsec("-z", "client3", "-f", "reload")
        self.assertEqual(
            (status, out), (0, "Stack Name  Status\nTCPCS3      State updated\n")
        )
        self.assertEqual(
            self.stack.requests[-1].messageType, NmiMessageType.SET_IPFLTPOLICY
        )
        status, out, _ = await self.nssIpsec("-f", "display", "-z", "client3")
        self.assertEqual(out, F_REPORT_Z)

    async def test_switchNotFound(self) -> None:
        """
        A stack without such a set answers NOTFOUND: the table says so,
        and the exit status is 1.
        """

        class NoPolicy:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                return succeed(
                    answer_filter_set(request, "TCPCS3", TunnelStatus.NOTFOUND)
                )

        await self.serve(NoPolicy())
        status, out, err = await self.nssIpsec("-f", "reload")
        self.assertEqual(
            (status, out, err), (1, "Stack Name  Status\nTCPCS3      Not found\n", "")
        )

    async def test_switchJson(self) -> None:
        await self.serve()
        status, out, _ = await self.nssIpsec("-f", "default", "-p", "TCPCS3", "--json")
        self.assertEqual(status, 0)
        self.assertEqual(
            json.loads(out),
            {
                "Primary": "Filter",
                "Function": "Default",
                "Entries": [{"StackName": "TCPCS3", "Status": "State updated"}],
            },
        )

    async def test_displayJson(self) -> None:
        await self.serve()
        status, out, _ = await self.nssIpsec("-f", "display", "--json")
        self.assertEqual(status, 0)
        self.assertEqual(json.loads(out), ipsecreports.filter_json(policy_report()))

    async def test_notConnected(self) -> None:
        """
        A refusal (nssd's ENXIO for a client that is not connected) is
        exit 1 with the codes.
        """
        await self.serve()
        status, out, err = await self.nssIpsec("-f", "display", "-z", "client9")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err,
            "nss-ipsec: nssd refused NMsec_GET_IPFLTCURR: ENXIO (138) NONE (0): no\n",
        )
        status, _, err = await self.nssIpsec("-f", "reload", "-z", "client9")
        self.assertEqual(status, 1)
        self.assertIn("nssd refused NMsec_SET_IPFLTPOLICY: ENXIO", err)

    async def test_unreadable(self) -> None:
        class Garbage:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                return succeed(request.answer([NmiRecord((NmiSection(1, b"x"),))]))

        await self.serve(Garbage())
        status, out, err = await self.nssIpsec("-f", "display")
        self.assertEqual((status, out), (1, ""))
        self.assertIn(
            "iked sent a NMsec_GET_IPFLTCURR reply that cannot be read: the stack "
            "record holds 1 entry of 16 bytes",
            err,
        )
        status, out, err = await self.nssIpsec("-f", "default")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("NMsec_SET_IPFLTDEFAULT reply that cannot be read", err)

    async def test_missingSocket(self) -> None:
        status, _, err = await self.nssIpsec("-f", "display", "-z", "client3")
        self.assertEqual(status, 2)
        self.assertIn(f"cannot connect to nssd at {self.path}", err)


class FilterDocumentationTests(SynchronousTestCase):
    def test_example(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        lines = ipsecreports.filter_report(policy_report(), NOW, localtime=time.gmtime)
        self.assertIn("```text\n" + "\n".join(lines) + "\n```", text)
        control = ipsecreports.filter_control_report(
            [TunnelControl("TCPCS3", "", TunnelStatus.STATEUPDATED)]
        )
        self.assertIn(
            "```text\n$ nss-ipsec -z client3 -f default\n"
            + "\n".join(control)
            + "\n```",
            text,
        )


# The tunnel primaries: -k, -y and -m.


def tunnel_stack() -> StackTunnels:
    """
    A stack with one IKE tunnel K1, its dynamic tunnel Y1, a dynamic
    tunnel Y2 still being negotiated, and a manual tunnel M1 not active.

    K1 and Y1 are what strongSwan negotiates with iked as the initiator,
    the peer behind a NAT: an IKE SA of AES-CBC-128, HMAC-SHA2-256-128,
    PRF HMAC-SHA2-256 and Curve25519, iked signing with RSA and the peer
    with an RFC 7427 digital signature, on port 4500 after NAT detection;
    and the CHILD_SA of IKE_AUTH, ESP with AES-GCM-16-128 in tunnel mode
    between 10.1.0.0/24 here and 10.2.0.0/24 there, encapsulated in UDP,
    with iked's SPI c1234567 and the peer's cabcdef0.
    """
    tunnels = StackTunnels()
    tunnels.add_ike(
        "KeyExRule1",
        "10.1.1.1",
        "192.0.2.7",
        remoteNat=True,
        activated=CONNECTED_AT,
        lifetime=28800,
        keyExchangeAction="KeyExAction1",
        localSpi=bytes.fromhex("8a3f2c1d4e5b6a79"),
        remoteSpi=bytes.fromhex("f1e2d3c4b5a69788"),
        localPort=4500,
        remotePort=4500,
        encryption=EncrId.AES_CBC,
        keyLength=128,
        integrity=IntegId.HMAC_SHA2_256_128,
        prf=PrfId.HMAC_SHA2_256,
        dhGroup=DhGroupId.CURVE_25519,
        localAuthMethod=AuthMethod.RSA_SIGNATURE,
        remoteAuthMethod=AuthMethod.DIGITAL_SIGNATURE,
        localIdType=IdType.DER_ASN1_DN,
        localId="CN=TCPCS3, O=Example",
        remoteIdType=IdType.FQDN,
        remoteId="moon.example.com",
        refresh=CONNECTED_AT + 25200,
    )
    tunnels.add_dynamic(
        "LocalDyn1",
        "DynAction1",
        ikeTunnelId="K1",
        localAddress="10.1.1.1",
        remoteAddress="192.0.2.7",
        activated=CONNECTED_AT + 1,
        lifetime=3600,
        inboundSpi=bytes.fromhex("c1234567"),
        outboundSpi=bytes.fromhex("cabcdef0"),
        protocol=IpsecProtocol.ESP,
        mode=EncapMode.TUNNEL,
        encryption=EncrId.AES_GCM_16,
        keyLength=128,
        localSelector=TunnelSelector.of_network("10.1.0.0/24"),
        remoteSelector=TunnelSelector.of_network("10.2.0.0/24"),
        udpEncapsulation=True,
        localUdpPort=4500,
        remoteUdpPort=4500,
        refresh=CONNECTED_AT + 1 + 3240,
    )
    tunnels.add_dynamic("LocalDyn2", "DynAction2", state=SaState.PENDING)
    tunnels.add_manual("ManAction1", localAddress="10.1.1.1", remoteAddress="10.1.1.9")
    return tunnels


K_REPORT = """\
CS V2R5 ipsec Stack Name: TCPCS3  Fri Nov 17 11:20:05 2006
Primary:  IKE tunnel      Function: Display             Format:   Detail
Source:   IKED            Scope:    Current             TotAvail: 1

TunnelID:                   K1
IKEVersion:                 2.0
KeyExchangeRuleName:        KeyExRule1
KeyExchangeActionName:      KeyExAction1
LocalEndPoint:              10.1.1.1
LocalPort:                  4500
LocalIDType:                ID_DER_ASN1_DN
LocalID:                    CN=TCPCS3, O=Example
RemoteEndPoint:             192.0.2.7
RemotePort:                 4500
RemoteIDType:               ID_FQDN
RemoteID:                   moon.example.com
State:                      Active
AuthenticationAlgorithm:    HMAC-SHA2-256-128
EncryptionAlgorithm:        AES-CBC
KeyLength:                  128
PseudoRandomFunction:       HMAC-SHA2-256
DiffieHellmanGroup:         Group31
LocalAuthenticationMethod:  RSA-Signature
RemoteAuthenticationMethod: Digital-Signature
InitiatorSPI:               8a3f2c1d4e5b6a79
ResponderSPI:               f1e2d3c4b5a69788
ActivationTime:             2006/11/17 11:19:09
Lifetime:                   28800
LifetimeRefresh:            2006/11/17 18:19:09
LifetimeExpires:            2006/11/17 19:19:09
CurrentTime:                2006/11/17 11:20:05
Role:                       Initiator
NAT Traversal Topology:
  UdpEncapMode:             Yes
  LclNATDetected:           No
  RmtNATDetected:           Yes
  RmtNAPTDetected:          n/a
  RmtIsGw:                  n/a
  RmtIsZOS:                 n/a
  zOSCanInitP1SA:           n/a
  RmtUdpEncapPort:          4500
NumDynamicTunnels:          1
*****

1 entries selected
"""

Y1_BLOCK = """\
TunnelID:               Y1
ParentIKETunnelID:      K1
VpnActionName:          DynAction1
LocalDynVpnRule:        LocalDyn1
State:                  Active
HowToEncap:             Tunnel
LocalEndPoint:          10.1.1.1
RemoteEndPoint:         192.0.2.7
LocalAddressBase:       10.1.0.0
LocalAddressPrefix:     24
LocalAddressRange:      n/a
RemoteAddressBase:      10.2.0.0
RemoteAddressPrefix:    24
RemoteAddressRange:     n/a
HowToAuth:              ESP
AuthAlgorithm:          None
AuthInboundSpi:         3240314215
AuthOutboundSpi:        3401375472
HowToEncrypt:           AES-GCM-16/128
EncryptInboundSpi:      3240314215
EncryptOutboundSpi:     3401375472
Protocol:               ALL(0)
LocalPort:              0
RemotePort:             0
OutboundPackets:        0
OutboundBytes:          0
InboundPackets:         0
InboundBytes:           0
Lifesize:               0K
LifesizeRefresh:        0K
CurrentByteCount:       0b
LifetimeRefresh:        2006/11/17 12:13:10
LifetimeExpires:        2006/11/17 12:19:10
CurrentTime:            2006/11/17 11:20:05
VPNLifeExpires:         n/a
NAT Traversal Topology:
  UdpEncapMode:         Yes
  LclNATDetected:       No
  RmtNATDetected:       Yes
  RmtNAPTDetected:      n/a
  RmtIsGw:              n/a
  RmtIsZOS:             n/a
  zOSCanInitP2SA:       n/a
  RmtUdpEncapPort:      4500
  SrcNATtoARcvd:        n/a
  DstNATtoARcvd:        n/a
FIPS140:                No
PFSGroup:               None
LclUdpEncapPort:        4500
"""

K_CASCADE = K_REPORT.replace("Display             ", "Display (cascade)   ").replace(
    "NumDynamicTunnels:          1\n",
    "NumDynamicTunnels:          1\n"
    + "".join(f"  {line}\n" for line in Y1_BLOCK.splitlines())
    + "  *****\n",
)

Y_REPORT = f"""\
CS V2R5 ipsec Stack Name: TCPCS3  Fri Nov 17 11:20:05 2006
Primary:  Dynamic tunnel  Function: Display             Format:   Detail
Source:   Stack           Scope:    Current             TotAvail: 1

{Y1_BLOCK}*****

1 entries selected
"""

M_REPORT = """\
CS V2R5 ipsec NSS Client Name: client3  Fri Nov 17 11:20:05 2006
Primary:  Manual tunnel   Function: Display             Format:   Detail
Source:   Stack           Scope:    Current             TotAvail: 1

TunnelID:       M1
VpnActionName:  ManAction1
Type:           Manual
State:          Inactive
LocalEndPoint:  10.1.1.1
RemoteEndPoint: 10.1.1.9
FIPS140:        No
ActivationTime: n/a
*****

1 entries selected
"""

EMPTY_K = """\
CS V2R5 ipsec Stack Name: TCPCS  Fri Nov 17 11:20:05 2006
Primary:  IKE tunnel      Function: Display             Format:   Detail
Source:   IKED            Scope:    Current             TotAvail: 0

0 entries selected
"""


class TunnelStack:
    """
    An NMI handler that serves the tunnel requests as iked will, through
    L{answer_tunnel_request} on a L{StackTunnels}: locally under its stack
    name or a blank target, through nssd under its client name.  It keeps
    the requests.
    """

    def __init__(self, names: tuple[str, ...] = ("", "TCPCS3", "client3")) -> None:
        self.names = names
        self.tunnels = tunnel_stack()
        self.requests: list[NmiMessage] = []

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        self.requests.append(request)
        if request.target not in self.names:
            return succeed(request.refuse(ReturnCode.ENXIO, ReasonCode.NONE, "no"))
        return maybeDeferred(answer_tunnel_request, request, "TCPCS3", self.tunnels)


def tunnel_report(kind: NmiMessageType, tunnels: StackTunnels) -> TunnelReport:
    return decode_tunnel_report(
        answer_tunnel_request(NmiMessage(kind, 1), "TCPCS3", tunnels)
    )


class TunnelReportTests(SynchronousTestCase):
    def report(self, kind: NmiMessageType, **options: Any) -> str:
        lines = ipsecreports.tunnel_report(
            tunnel_report(kind, tunnel_stack()), NOW, localtime=time.gmtime, **options
        )
        return "".join(f"{line}\n" for line in lines)

    def test_ike(self) -> None:
        self.assertEqual(self.report(T.GET_IKETUN, primary="k"), K_REPORT)

    def test_cascade(self) -> None:
        self.assertEqual(
            self.report(T.GET_IKETUNCASCADE, primary="k", cascade=True), K_CASCADE
        )

    def test_dynamic(self) -> None:
        self.assertEqual(self.report(T.GET_IPTUNDYNSTACK, primary="y"), Y_REPORT)
        fromIked = self.report(T.GET_IPTUNDYNIKE, primary="y", fromIked=True)
        self.assertIn("Source:   IKED            Scope:    Current", fromIked)
        self.assertIn("TotAvail: 2\n", fromIked)
        self.assertIn("State:                  Pending\n", fromIked)

    def test_manual(self) -> None:
        self.assertEqual(
            self.report(T.GET_IPTUNMANUAL, primary="m", clientName="client3"),
            M_REPORT,
        )

    def test_empty(self) -> None:
        lines = ipsecreports.tunnel_report(
            TunnelReport("TCPCS", [], []), NOW, primary="k", localtime=time.gmtime
        )
        self.assertEqual("".join(f"{line}\n" for line in lines), EMPTY_K)

    def test_selection(self) -> None:
        """
        C{-a} selects by ID in any case, C{-n} by name exactly (for C{-y},
        the LocalDynVpnRule or the IpDynVpnAction); TotAvail stays the
        total.
        """
        cases: list[tuple[dict[str, Any], list[str]]] = [
            ({"tunnelId": "y2"}, ["Y2"]),
            ({"name": "LocalDyn1"}, ["Y1"]),
            ({"name": "DynAction2"}, ["Y2"]),
            ({"name": "localdyn1"}, []),
            ({"name": "LocalDyn1", "tunnelId": "Y2"}, []),
        ]
        for options, ids in cases:
            data = ipsecreports.tunnel_json(
                tunnel_report(T.GET_IPTUNDYNIKE, tunnel_stack()),
                primary="y",
                fromIked=True,
                **options,
            )
            self.assertEqual([e["TunnelID"] for e in data["Entries"]], ids, options)
            self.assertEqual(data["TotAvail"], 2)
        text = self.report(T.GET_IKETUN, primary="k", tunnelId="K9")
        self.assertTrue(text.endswith("TotAvail: 1\n\n0 entries selected\n"), text)

    def test_json(self) -> None:
        data = ipsecreports.tunnel_json(
            tunnel_report(T.GET_IKETUNCASCADE, tunnel_stack()),
            primary="k",
            cascade=True,
        )
        self.assertEqual(
            {k: v for k, v in data.items() if k != "Entries"},
            {
                "Primary": "IKE tunnel",
                "Function": "Display (cascade)",
                "StackName": "TCPCS3",
                "Source": "IKED",
                "TotAvail": 1,
            },
        )
        [entry] = data["Entries"]
        self.assertEqual(entry["ActivationTime"], "2006-11-17T11:19:09Z")
        self.assertEqual(entry["LifetimeRefresh"], "2006-11-17T18:19:09Z")
        self.assertEqual(entry["CurrentTime"], None)
        self.assertEqual(entry["Lifetime"], 28800)
        self.assertEqual(entry["KeyLength"], 128)
        self.assertEqual(entry["LocalPort"], 4500)
        self.assertEqual(entry["InitiatorSPI"], "8a3f2c1d4e5b6a79")
        self.assertEqual(entry["LocalID"], "CN=TCPCS3, O=Example")
        self.assertEqual(entry["NumDynamicTunnels"], 1)
        self.assertEqual(
            entry["NAT Traversal Topology"],
            {
                "UdpEncapMode": True,
                "LclNATDetected": False,
                "RmtNATDetected": True,
                "RmtNAPTDetected": None,
                "RmtIsGw": None,
                "RmtIsZOS": None,
                "zOSCanInitP1SA": None,
                "RmtUdpEncapPort": 4500,
            },
        )
        [dynamic] = entry["DynamicTunnels"]
        self.assertEqual(dynamic["TunnelID"], "Y1")
        self.assertEqual(
            {k: dynamic[k] for k in ("AuthInboundSpi", "EncryptOutboundSpi")},
            {"AuthInboundSpi": 0xC1234567, "EncryptOutboundSpi": 0xCABCDEF0},
        )
        self.assertEqual(dynamic["HowToEncrypt"], "AES-GCM-16/128")
        self.assertEqual(dynamic["LocalAddressPrefix"], 24)
        self.assertEqual(
            [dynamic[k] for k in ("Protocol", "Lifesize", "CurrentByteCount")],
            [0, 0, 0],
        )
        self.assertEqual(dynamic["NAT Traversal Topology"]["RmtUdpEncapPort"], 4500)
        self.assertEqual(dynamic["LclUdpEncapPort"], 4500)
        manual = ipsecreports.tunnel_json(
            tunnel_report(T.GET_IPTUNMANUAL, tunnel_stack()), primary="m"
        )
        self.assertIsNone(manual["Entries"][0]["ActivationTime"])
        self.assertNotIn("DynamicTunnels", manual["Entries"][0])

    def values(self, tunnel: IkeTunnelInfo | IpTunnelInfo) -> dict[str, str]:
        """One tunnel's report lines as {name: value}, for -k or -y."""
        if isinstance(tunnel, IkeTunnelInfo):
            report = TunnelReport("TCPCS3", [tunnel], [])
            primary = "k"
        else:
            report = TunnelReport("TCPCS3", [], [tunnel])
            primary = "y"
        lines = ipsecreports.tunnel_report(
            report, NOW, primary=primary, localtime=time.gmtime
        )
        return dict(name_values(lines[4 : lines.index("*****")]))

    def test_ikeNotNegotiated(self) -> None:
        """
        An IKE tunnel still negotiating has no transforms, SPIs or
        identities yet: n/a, and NAT traversal off.
        """
        shown = self.values(
            IkeTunnelInfo(
                "K2", "KeyExRule1", "10.1.1.1", "10.1.1.2", state=SaState.IN_PROGRESS
            )
        )
        self.assertEqual(shown["State"], "In progress")
        for name in [
            "KeyExchangeActionName",
            "LocalPort",
            "LocalIDType",
            "LocalID",
            "AuthenticationAlgorithm",
            "EncryptionAlgorithm",
            "KeyLength",
            "PseudoRandomFunction",
            "DiffieHellmanGroup",
            "LocalAuthenticationMethod",
            "InitiatorSPI",
            "ResponderSPI",
            "LifetimeRefresh",
            "LifetimeExpires",
            "  RmtUdpEncapPort",
        ]:
            self.assertEqual(shown[name], "n/a", name)
        self.assertEqual(shown["  UdpEncapMode"], "No")
        self.assertEqual(shown["  RmtNAPTDetected"], "No")
        self.assertEqual(shown["NumDynamicTunnels"], "0")

    def test_ikeResponder(self) -> None:
        """
        A responder's own SPI is the responder's; an AEAD cipher has no
        integrity algorithm; numbers the report does not know are shown;
        a record's expiry wins over activation plus lifetime.
        """
        shown = self.values(
            IkeTunnelInfo(
                "K2",
                "KeyExRule1",
                "fe80::1",
                "fe80::2",
                role=IkeRole.RESPONDER,
                localSpi=0x1122334455667788,
                remoteSpi=0xAA,
                encryption=EncrId.AES_GCM_16,
                keyLength=256,
                prf=99,
                dhGroup=19,
                localAuthMethod=AuthMethod.SHARED_KEY,
                remoteAuthMethod=200,
                localIdType=IdType.IPV6_ADDR,
                localId="fe80::1",
                remoteIdType=77,
                remoteId="\u00e9t\u00e9.example",
                activated=CONNECTED_AT,
                lifetime=60,
                expires=CONNECTED_AT + 3600,
                localNat=True,
            )
        )
        self.assertEqual(shown["InitiatorSPI"], "00000000000000aa")
        self.assertEqual(shown["ResponderSPI"], "1122334455667788")
        self.assertEqual(shown["AuthenticationAlgorithm"], "None")
        self.assertEqual(shown["EncryptionAlgorithm"], "AES-GCM-16")
        self.assertEqual(shown["KeyLength"], "256")
        self.assertEqual(shown["PseudoRandomFunction"], "Unknown(99)")
        self.assertEqual(shown["DiffieHellmanGroup"], "Group19")
        self.assertEqual(shown["LocalAuthenticationMethod"], "Shared-Key")
        self.assertEqual(shown["RemoteAuthenticationMethod"], "Unknown(200)")
        self.assertEqual(shown["LocalIDType"], "ID_IPV6_ADDR")
        self.assertEqual(shown["RemoteIDType"], "Unknown(77)")
        self.assertEqual(shown["RemoteID"], "\u00e9t\u00e9.example")
        self.assertEqual(shown["LifetimeExpires"], "2006/11/17 12:19:09")
        self.assertEqual(shown["Role"], "Responder")
        self.assertEqual(shown["  UdpEncapMode"], "Yes")
        self.assertEqual(shown["  LclNATDetected"], "Yes")
        self.assertEqual(shown["  RmtNAPTDetected"], "No")
        self.assertEqual(shown["  RmtUdpEncapPort"], "n/a")

    def test_dynamicSelectors(self) -> None:
        """
        IBM's three address lines of a selector: base and prefix for a
        network, base and range end for another range, the base alone
        for one host; ports 0 for all, one port, or a range; the
        protocol of both selectors, or of each when they differ.
        """
        tunnel = IpTunnelInfo(
            "Y9",
            "DynAction1",
            IpTunnelType.IKE,
            localSelector=TunnelSelector("10.1.0.4", "10.1.0.11", 6, 1024, 65535),
            remoteSelector=TunnelSelector("192.0.2.7", "192.0.2.7", 6, 22, 22),
        )
        shown = self.values(tunnel)
        self.assertEqual(
            [shown[f"Local{n}"] for n in ("AddressBase", "AddressPrefix")],
            ["10.1.0.4", "n/a"],
        )
        self.assertEqual(shown["LocalAddressRange"], "10.1.0.11")
        self.assertEqual(
            [
                shown["RemoteAddressBase"],
                shown["RemoteAddressPrefix"],
                shown["RemoteAddressRange"],
            ],
            ["192.0.2.7", "n/a", "n/a"],
        )
        self.assertEqual(
            [shown["Protocol"], shown["LocalPort"], shown["RemotePort"]],
            ["TCP(6)", "1024-65535", "22"],
        )
        udp = dataclasses.replace(
            tunnel, remoteSelector=TunnelSelector.of_network("10.2.0.0/16", 17)
        )
        self.assertEqual(self.values(udp)["Protocol"], "TCP(6)/UDP(17)")
        self.assertEqual(self.values(udp)["RemoteAddressPrefix"], "16")
        data = ipsecreports.tunnel_json(TunnelReport("TCPCS3", [], [udp]), primary="y")
        [entry] = data["Entries"]
        self.assertEqual(entry["Protocol"], "TCP(6)/UDP(17)")
        self.assertEqual(entry["LocalPort"], "1024-65535")
        self.assertEqual(entry["RemotePort"], 0)
        self.assertEqual(entry["RemoteAddressPrefix"], 16)
        other = dataclasses.replace(
            tunnel, localSelector=TunnelSelector("10.1.0.4", "10.1.0.4", 132)
        )
        self.assertEqual(self.values(other)["Protocol"], "132/TCP(6)")

    def test_dynamicAh(self) -> None:
        """
        An AH SA authenticates only: IBM's DoNotEncrypt, no encryption
        SPIs; counters once there are SAs, the byte count of both
        directions with IBM's C{b}.
        """
        shown = self.values(
            IpTunnelInfo(
                "Y9",
                "DynAction1",
                IpTunnelType.STACK,
                inboundSpi=0x100,
                outboundSpi=0x200,
                protocol=IpsecProtocol.AH,
                mode=EncapMode.TRANSPORT,
                integrity=IntegId.HMAC_SHA2_512_256,
                pfsGroup=DhGroupId.MODP_2048,
                outboundPackets=3,
                outboundBytes=300,
                inboundPackets=2,
                inboundBytes=250,
            )
        )
        self.assertEqual(
            [shown[n] for n in ("HowToEncap", "HowToAuth", "AuthAlgorithm")],
            ["Transport", "AH", "HMAC-SHA2-512-256"],
        )
        self.assertEqual(
            [shown[n] for n in ("AuthInboundSpi", "AuthOutboundSpi")], ["256", "512"]
        )
        self.assertEqual(shown["HowToEncrypt"], "DoNotEncrypt")
        self.assertEqual(
            [shown[n] for n in ("EncryptInboundSpi", "EncryptOutboundSpi")],
            ["n/a", "n/a"],
        )
        self.assertEqual(
            [shown[n] for n in ("OutboundPackets", "OutboundBytes")], ["3", "300"]
        )
        self.assertEqual(
            [shown[n] for n in ("InboundPackets", "InboundBytes")], ["2", "250"]
        )
        self.assertEqual(shown["CurrentByteCount"], "550b")
        self.assertEqual(shown["Lifesize"], "0K")
        self.assertEqual(shown["PFSGroup"], "Group14")
        self.assertEqual(shown["Protocol"], "n/a")
        self.assertEqual(shown["LocalAddressBase"], "n/a")
        self.assertEqual(shown["  UdpEncapMode"], "No")
        self.assertEqual(shown["LclUdpEncapPort"], "n/a")

    def test_dynamicPending(self) -> None:
        """
        A tunnel without SAs yet (C{-y display -b} shows it) says n/a for
        everything of an SA.
        """
        data = ipsecreports.tunnel_json(
            tunnel_report(T.GET_IPTUNDYNIKE, tunnel_stack()), primary="y", now=NOW
        )
        entry = data["Entries"][1]
        self.assertEqual((entry["TunnelID"], entry["State"]), ("Y2", "Pending"))
        known = {k for k, v in entry.items() if v is not None}
        self.assertEqual(
            known,
            {
                "TunnelID",
                "VpnActionName",
                "LocalDynVpnRule",
                "State",
                "CurrentTime",
                "NAT Traversal Topology",
                "FIPS140",
            },
        )

    def test_control(self) -> None:
        controls = [
            TunnelControl("KeyExRule1", "K1", TunnelStatus.STATEUPDATED),
            TunnelControl("Nope", "", TunnelStatus.NOTFOUND),
        ]
        self.assertEqual(
            ipsecreports.tunnel_control_report(controls),
            ["Tunnel ID  Status", "K1         State updated", "Nope       Not found"],
        )
        self.assertEqual(
            ipsecreports.tunnel_control_json("k", "refresh", controls),
            {
                "Primary": "IKE tunnel",
                "Function": "Refresh",
                "Entries": [
                    {"TunnelID": "K1", "Name": "KeyExRule1", "Status": "State updated"},
                    {"TunnelID": None, "Name": "Nope", "Status": "Not found"},
                ],
            },
        )


# The seed's ipsec -z sample: "ipsec -y display -z client4", its two slides
# (the first detail lines, then the continuation) as they stand, spacing
# aside.  One dynamic tunnel Y2 under K1, active since 12:44:19 with a
# lifetime of two hours; the report was made at 12:44:35.
SEED_Z_SAMPLE = """\
CS VLR9 ipsec NS Client Name: client4 Mon Nov 27 12:44:35 2006
Primary: Dynamic tunnel Function: Display Format: Detail
Source: Stack Scope: Current TotAvail: 1

TunnelID: Y2
ParentIKETunnelID: K1
VpnActionName: Dvpn
LocalDynVpnRule: mvs052_192
State: Active
HowToEncap: Tunnel
LocalEndPoint: 10.10.10.1
RemoteEndPoint: 10.10.10.2
LocalAddressBase: 10.10.10.1
LocalAddressPrefix: n/a
LocalAddressRange: n/a
RemoteAddressBase: 10.10.10.2
RemoteAddressPrefix: n/a
RemoteAddressRange: n/a
HowToAuth: AH
AuthAlgorithm: Hmac_Sha
AuthInboundSpi: 2401615039
AuthOutboundSpi: 1971620597
HowToEncrypt: 3DES
EncryptInboundSpi: 4088723240
EncryptOutboundSpi: 445063417
Protocol:                ALL(0)
LocalPort:               0
RemotePort:              0
OutboundPackets:         0
OutboundBytes:           0
InboundPackets:          0
InboundBytes:            0
Lifesize:                0K
LifesizeRefresh:         0K
CurrentByteCount:        0b
LifetimeRefresh:         2006/11/27 14:09:19
LifetimeExpires:         2006/11/27 14:44:19
CurrentTime:              2006/11/27 12:44:35
VPNLifeExpires:          2007/03/07 12:44:19
NAT Traversal Topology:
  UdpEncapMode:          No
  LclNATDetected:        No
  RmtNATDetected:        No
  RmtNAPTDetected:       No
  RmtIsGw:                n/a
  RmtIsZOS:               n/a
  zOSCanInitP2SA:         n/a
  RmtUdpEncapPort:        n/a
  SrcNATtoARcvd:          n/a
  DstNATtoARcvd:          n/a
*****
1 entries selected
"""

SEED_Z_ACTIVATED = calendar.timegm((2006, 11, 27, 12, 44, 19, 0, 0, 0))
SEED_Z_NOW = SEED_Z_ACTIVATED + 16

# Where our report of the sample's tunnel differs from the sample, and
# what it shows instead.  The sample's tunnel is an AH and ESP bundle
# (HowToAuth AH with the AH SPIs, 3DES with the ESP SPIs); iked makes ESP
# SAs only, which authenticate and encrypt under one SPI, so the tunnel's
# nearest NMsecIPTunnel (docs/nmi.md, section 16.3) is ESP with 3DES and
# HMAC-SHA1-96, whose Auth... SPIs are the ESP SPIs.  iked has no VpnLife.
SEED_Z_DIFFERENT = {
    "HowToAuth": "ESP",
    "AuthInboundSpi": "4088723240",
    "AuthOutboundSpi": "445063417",
    "VPNLifeExpires": "n/a",
}

# The lines of ours that the sample lacks, at the end of the block.
SEED_Z_OURS = [
    ("FIPS140", "No"),
    ("PFSGroup", "None"),
    ("LclUdpEncapPort", "n/a"),
]


def name_values(lines: list[str]) -> list[tuple[str, str]]:
    """
    The detail lines as (name, value), the name with its indentation and
    the value without its padding.
    """
    pairs = []
    for line in lines:
        name, value = line.split(":", 1)
        pairs.append((name, value.strip()))
    return pairs


def heading_fields(line: str) -> list[tuple[str, str]]:
    """A heading line's C{Label: value} fields, spacing aside."""
    return [
        (label, value.strip())
        for label, value in re.findall(r"(\w+):\s+(.*?)(?=\s+\w+:|$)", line)
    ]


class SeedDynamicTunnelTests(SynchronousTestCase):
    """
    C{nss-ipsec -y display -z client4} against the seed's C{ipsec -z}
    sample, line by line: the reply of the NMI carries the sample's
    tunnel, and the report has the sample's lines in its order and with
    its names, the values in our one column.
    """

    def reply(self) -> TunnelReport:
        request = NmiMessage(T.GET_IPTUNDYNSTACK, 7, target="client4")
        tunnel = IpTunnelInfo(
            "Y2",
            "Dvpn",
            IpTunnelType.STACK,
            state=SaState.ACTIVE,
            rule="mvs052_192",
            ikeTunnelId="K1",
            localAddress="10.10.10.1",
            remoteAddress="10.10.10.2",
            activated=SEED_Z_ACTIVATED,
            lifetime=7200,
            inboundSpi=4088723240,
            outboundSpi=445063417,
            protocol=IpsecProtocol.ESP,
            mode=EncapMode.TUNNEL,
            encryption=3,
            integrity=IntegId.HMAC_SHA1_96,
            localSelector=TunnelSelector.of_network("10.10.10.1"),
            remoteSelector=TunnelSelector.of_network("10.10.10.2"),
            refresh=SEED_Z_ACTIVATED + 5100,
        )
        reply = encode_tunnel_reply(request, "TCPCS4", ipTunnels=[tunnel])
        # Through the bytes of the wire, as nssd passes the reply on.
        decoded = decode_message(encode_message(reply))
        assert isinstance(decoded, NmiMessage)
        return decode_tunnel_report(decoded)

    def report(self) -> list[str]:
        return ipsecreports.tunnel_report(
            self.reply(),
            SEED_Z_NOW,
            primary="y",
            clientName="client4",
            localtime=time.gmtime,
        )

    def test_heading(self) -> None:
        """
        The heading has the sample's fields; the release and the label of
        the first line are ours (C{CS V2R5}, C{NSS Client Name}), and so
        is the spacing.
        """
        sample = SEED_Z_SAMPLE.splitlines()
        ours = self.report()
        self.assertEqual(
            ours[0], "CS V2R5 ipsec NSS Client Name: client4  Mon Nov 27 12:44:35 2006"
        )
        self.assertEqual(sample[0].split()[-5:], ours[0].split()[-5:])
        self.assertEqual(sample[0].split()[4:7], ours[0].split()[4:7])
        for line in (1, 2):
            self.assertEqual(heading_fields(ours[line]), heading_fields(sample[line]))
        self.assertEqual(
            heading_fields(ours[1]),
            [("Primary", "Dynamic tunnel"), ("Function", "Display"),
             ("Format", "Detail")],
        )  # fmt: skip
        self.assertEqual(ours[3], "")

    def test_lines(self) -> None:
        """
        The detail lines are the sample's, in its order and with its
        names, and so are their values but where iked's ESP-only tunnel
        differs from the sample's AH and ESP bundle, and the VPN's life
        that iked does not have; the lines the sample lacks are ours, the
        last three.
        """
        sample = SEED_Z_SAMPLE.splitlines()
        ours = self.report()
        sampleBlock = sample[4 : sample.index("*****")]
        oursBlock = ours[4 : ours.index("*****")]
        self.assertEqual(name_values(oursBlock[-3:]), SEED_Z_OURS)
        expected = [
            (name, SEED_Z_DIFFERENT.get(name.strip(), value))
            for name, value in name_values(sampleBlock)
        ]
        self.assertEqual(name_values(oursBlock[:-3]), expected)
        # Every other value is the sample's.
        same = [
            pair
            for pair in name_values(sampleBlock)
            if pair[0].strip() not in SEED_Z_DIFFERENT
        ]
        self.assertEqual(len(same), 42)
        self.assertTrue(set(same) <= set(name_values(oursBlock)))
        # One value column, the NAT block's lines indented by two blanks.
        columns = {
            len(line) - len(line.split(":", 1)[1].lstrip())
            for line in oursBlock
            if not line.endswith(":")
        }
        self.assertEqual(len(columns), 1)
        self.assertIn("NAT Traversal Topology:", oursBlock)
        self.assertEqual(
            ours[ours.index("*****") :], ["*****", "", "1 entries selected"]
        )
        self.assertEqual(sample[-2:], ["*****", "1 entries selected"])

    def test_json(self) -> None:
        """The JSON has the same data: the NAT block is an object."""
        data = ipsecreports.tunnel_json(self.reply(), primary="y", now=SEED_Z_NOW)
        [entry] = data["Entries"]
        self.assertEqual(entry["LifetimeExpires"], "2006-11-27T14:44:19Z")
        self.assertEqual(entry["LifetimeRefresh"], "2006-11-27T14:09:19Z")
        self.assertEqual(entry["CurrentTime"], "2006-11-27T12:44:35Z")
        self.assertEqual(entry["EncryptInboundSpi"], 4088723240)
        self.assertEqual(entry["AuthAlgorithm"], "Hmac_Sha")
        self.assertEqual(entry["HowToEncrypt"], "3DES")
        self.assertEqual(entry["LocalAddressBase"], "10.10.10.1")
        self.assertIsNone(entry["LocalAddressPrefix"])
        self.assertEqual(entry["CurrentByteCount"], 0)
        self.assertIsNone(entry["VPNLifeExpires"])
        self.assertEqual(entry["NAT Traversal Topology"]["UdpEncapMode"], False)
        self.assertIsNone(entry["NAT Traversal Topology"]["RmtIsGw"])


class TunnelOptionTests(SynchronousTestCase):
    def options(self, *argv: str) -> ipsec.IpsecOptions:
        options = ipsec.IpsecOptions()
        options.parseOptions(list(argv))
        return options

    def test_functions(self) -> None:
        for argv, function in [
            (("-k", "DEA", "-a", "K1"), "deactivate"),
            (("-k", "ref", "-n", "KeyExRule1"), "refresh"),
            (("-y", "act", "-n", "LocalDyn1"), "activate"),
            (("-y", "Refresh", "-a", "Y1"), "refresh"),
            (("-m", "deact", "-a", "M1"), "deactivate"),
            (("--manual-tunnel", "dis"), "display"),
            (("-k", "dis", "-e"), "display"),
            (("-y", "dis", "-b", "--tunnel-id", "Y1"), "display"),
        ]:
            self.assertEqual(self.options(*argv).function, function, argv)

    def test_targets(self) -> None:
        options = self.options("-k", "dis", "-z", "client3")
        self.assertEqual((options.daemon, options.target), ("nssd", "client3"))
        options = self.options("-m", "act", "-a", "M1", "-p", "TCPCS3")
        self.assertEqual((options.daemon, options.target), ("iked", "TCPCS3"))


class TunnelSocketTests(TestCase):
    """
    C{nss-ipsec -k}, C{-y} and C{-m} end to end over a real AF_UNIX
    socket, against L{answer_tunnel_request} on a stack's tunnel tables:
    locally (C{-p}, or no target) and through nssd (C{-z}).
    """

    def setUp(self) -> None:
        self.path = socket_path(self, "ipsecmgmt")
        self.stack = TunnelStack()

    async def serve(self, handler: Any = None) -> NmiServerFactory:
        return await serve_nmi(self, self.path, handler or self.stack)

    async def nssIpsec(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await ipsec.run(
            reactor,
            [*argv, "--socket", self.path],
            out,
            err,
            now=lambda: NOW,
            localtime=time.gmtime,
        )
        return status, out.getvalue(), err.getvalue()

    async def test_displays(self) -> None:
        await self.serve()
        for argv, kind, report in [
            (("-k", "display", "-p", "TCPCS3"), T.GET_IKETUN, K_REPORT),
            (("-k", "dis", "-e"), T.GET_IKETUNCASCADE, K_CASCADE),
            (("-y", "DIS"), T.GET_IPTUNDYNSTACK, Y_REPORT),
            (("-m", "display", "-z", "client3"), T.GET_IPTUNMANUAL, M_REPORT),
        ]:
            status, out, err = await self.nssIpsec(*argv)
            self.assertEqual((status, err), (0, ""), argv)
            self.assertEqual(out, report, argv)
            request = self.stack.requests[-1]
            self.assertEqual((request.messageType, request.records), (kind, ()))
        status, out, _ = await self.nssIpsec("-y", "dis", "-b", "-a", "y2")
        self.assertEqual(status, 0)
        self.assertEqual(self.stack.requests[-1].messageType, T.GET_IPTUNDYNIKE)
        self.assertIn("TunnelID:               Y2\n", out)
        self.assertTrue(out.endswith("*****\n\n1 entries selected\n"))

    async def test_empty(self) -> None:
        """
        Until the IKEv2 engine fills them, a stack's tables are empty.
        """
        self.stack.tunnels = StackTunnels()
        await self.serve()
        status, out, _ = await self.nssIpsec("-k", "display", "--json")
        self.assertEqual(status, 0)
        self.assertEqual(json.loads(out)["Entries"], [])

    async def test_refreshAndDeactivate(self) -> None:
        """
        The control functions name the tunnel by ID (C{-a}) or name
        (C{-n}) in one NMsecTunnel record, and print IBM's table; the
        tables change as the bookkeeping says.
        """
        await self.serve()
        status, out, err = await self.nssIpsec("-k", "refresh", "-a", "K1")
        self.assertEqual(
            (status, out, err), (0, "Tunnel ID  Status\nK1         State updated\n", "")
        )
        request = self.stack.requests[-1]
        self.assertEqual(request.messageType, T.REFRESH_IKETUN)
        self.assertEqual(decode_control_request(request), [TunnelControl("", "K1")])
        status, out, _ = await self.nssIpsec(
            "-z", "client3", "-k", "deactivate", "-n", "KeyExRule1"
        )
        self.assertEqual(
            (status, out), (0, "Tunnel ID  Status\nK1         State updated\n")
        )
        self.assertEqual(self.stack.tunnels.lookup("K1").state, SaState.INACTIVE)  # type: ignore[union-attr]
        status, out, _ = await self.nssIpsec("-k", "dea", "-a", "k1")
        self.assertEqual(
            (status, out), (0, "Tunnel ID  Status\nK1         State already set\n")
        )

    async def test_dynamicAndManual(self) -> None:
        await self.serve()
        for argv, kind, row in [
            (
                ("-y", "activate", "-n", "LocalDyn2"),
                T.ACTIVATE_IPTUNDYN,
                "Y2         State updated",
            ),
            (
                ("-y", "refresh", "-a", "Y2"),
                T.REFRESH_IPTUNDYN,
                "Y2         State updated",
            ),
            (
                ("-y", "deactivate", "-a", "Y1"),
                T.DEACTIVATE_IPTUNDYN,
                "Y1         State updated",
            ),
            (
                ("-m", "activate", "-n", "ManAction1"),
                T.ACTIVATE_IPTUNMANUAL,
                "M1         State updated",
            ),
            (
                ("-m", "act", "-a", "M1"),
                T.ACTIVATE_IPTUNMANUAL,
                "M1         State already set",
            ),
            (
                ("-m", "deactivate", "-a", "M1", "-p", "TCPCS3"),
                T.DEACTIVATE_IPTUNMANUAL,
                "M1         State updated",
            ),
        ]:
            status, out, err = await self.nssIpsec(*argv)
            self.assertEqual((status, err), (0, ""), argv)
            self.assertEqual(out, f"Tunnel ID  Status\n{row}\n", argv)
            self.assertEqual(self.stack.requests[-1].messageType, kind)
        status, out, _ = await self.nssIpsec("-m", "display")
        self.assertIn("State:          Inactive\n", out)

    async def test_notFound(self) -> None:
        """
        A selection that matches nothing is printed as Not found, and the
        exit status is 1.
        """
        await self.serve()
        status, out, err = await self.nssIpsec("-k", "refresh", "-a", "K9")
        self.assertEqual(
            (status, out, err), (1, "Tunnel ID  Status\nK9         Not found\n", "")
        )
        status, out, _ = await self.nssIpsec("-m", "act", "-n", "Nope", "--json")
        self.assertEqual(status, 1)
        self.assertEqual(
            json.loads(out),
            {
                "Primary": "Manual tunnel",
                "Function": "Activate",
                "Entries": [{"TunnelID": None, "Name": "Nope", "Status": "Not found"}],
            },
        )

    async def test_refused(self) -> None:
        await self.serve()
        status, out, err = await self.nssIpsec("-k", "display", "-z", "client9")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("nssd refused NMsec_GET_IKETUN: ENXIO (138)", err)
        status, _, err = await self.nssIpsec("-y", "ref", "-a", "Y1", "-z", "client9")
        self.assertEqual(status, 1)
        self.assertIn("nssd refused NMsec_REFRESH_IPTUNDYN: ENXIO", err)

    async def test_unreadable(self) -> None:
        class Garbage:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                return succeed(request.answer([NmiRecord((NmiSection(1, b"x"),))]))

        await self.serve(Garbage())
        status, out, err = await self.nssIpsec("-m", "display")
        self.assertEqual((status, out), (1, ""))
        self.assertIn(
            "iked sent a NMsec_GET_IPTUNMANUAL reply that cannot be read", err
        )
        status, out, err = await self.nssIpsec("-y", "act", "-a", "Y1")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("NMsec_ACTIVATE_IPTUNDYN reply that cannot be read", err)

    async def test_missingSocket(self) -> None:
        status, _, err = await self.nssIpsec("-k", "display", "-z", "client3")
        self.assertEqual(status, 2)
        self.assertIn(f"cannot connect to nssd at {self.path}", err)


class TunnelDocumentationTests(SynchronousTestCase):
    def test_examples(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        for report in [K_CASCADE, Y_REPORT, M_REPORT]:
            self.assertIn(f"```text\n{report}```", text)
        self.assertIn(
            "```text\n$ nss-ipsec -k refresh -a K1\nTunnel ID  Status\n"
            "K1         State updated\n```",
            text,
        )
        control = ipsecreports.tunnel_control_report(
            [TunnelControl("ManAction9", "", TunnelStatus.NOTFOUND)]
        )
        self.assertIn(
            "```text\n$ nss-ipsec -m activate -n ManAction9\n"
            + "\n".join(control)
            + "\n```",
            text,
        )


# -i and -o: a stack's interfaces and its NAT traversal port translations.

INTERFACES = [
    InterfaceInfo("lo", "127.0.0.1", 8, index=1),
    InterfaceInfo("eth0", "10.1.1.1", 24, index=2),
    InterfaceInfo("eth0", "fe80::1", 64, securityClass=7, dvipa=True),
]

TRANSLATIONS = [
    PortTranslationInfo("192.0.2.7", 4500, 4501, 17, CONNECTED_AT, "Y1"),
    PortTranslationInfo("192.0.2.7", 4500, 4502, 6),
]

I_REPORT = """\
CS V2R5 ipsec Stack Name: TCPCS3  Fri Nov 17 11:20:05 2006
Primary:  Interface       Function: Display             Format:   Detail
Source:   Stack           Scope:    Current             TotAvail: 3

InterfaceName:    lo
InterfaceAddress: 127.0.0.1
AddressPrefix:    8
SecurityClass:    0
DVIPA:            No
InterfaceIndex:   1
*****
InterfaceName:    eth0
InterfaceAddress: 10.1.1.1
AddressPrefix:    24
SecurityClass:    0
DVIPA:            No
InterfaceIndex:   2
*****
InterfaceName:    eth0
InterfaceAddress: fe80::1
AddressPrefix:    64
SecurityClass:    7
DVIPA:            Yes
InterfaceIndex:   n/a
*****

3 entries selected
"""

O_REPORT = """\
CS V2R5 ipsec NSS Client Name: client3  Fri Nov 17 11:20:05 2006
Primary:  NATT Port Trans Function: Display             Format:   Detail
Source:   Stack           Scope:    Current             TotAvail: 2

RemoteAddress:  192.0.2.7
RemotePort:     4500
TranslatedPort: 4501
Protocol:       UDP(17)
TimeCreated:    2006/11/17 11:19:09
TunnelID:       Y1
*****
RemoteAddress:  192.0.2.7
RemotePort:     4500
TranslatedPort: 4502
Protocol:       TCP(6)
TimeCreated:    n/a
TunnelID:       n/a
*****

2 entries selected
"""

O_EMPTY = """\
CS V2R5 ipsec Stack Name: TCPCS3  Fri Nov 17 11:20:05 2006
Primary:  NATT Port Trans Function: Display             Format:   Detail
Source:   Stack           Scope:    Current             TotAvail: 0

0 entries selected
"""


class StackInfoStack:
    """
    An NMI handler that answers GET_IPINTERFACES and GET_PORTTRAN as iked
    does, through L{answer_stack_request}: locally under its stack name or
    a blank target, through nssd under its client name.  It keeps the
    requests.  With C{translations}, GET_PORTTRAN lists them (iked has
    none until NAT traversal exists).
    """

    def __init__(self, translations: list[PortTranslationInfo] | None = None) -> None:
        self.names = ("", "TCPCS3", "client3")
        self.translations = translations
        self.requests: list[NmiMessage] = []

    def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
        self.requests.append(request)
        if request.target not in self.names:
            return succeed(request.refuse(ReturnCode.ENXIO, ReasonCode.NONE, "no"))
        if request.messageType == T.GET_PORTTRAN and self.translations:
            return succeed(encode_porttran_reply(request, "TCPCS3", self.translations))
        return maybeDeferred(
            answer_stack_request, request, "TCPCS3", StackStatistics(), INTERFACES
        )


class StackInfoReportTests(SynchronousTestCase):
    def test_interfaces(self) -> None:
        lines = ipsecreports.interface_report(
            "TCPCS3", INTERFACES, NOW, localtime=time.gmtime
        )
        self.assertEqual("".join(f"{line}\n" for line in lines), I_REPORT)

    def test_portTranslations(self) -> None:
        lines = ipsecreports.port_translation_report(
            "TCPCS3", TRANSLATIONS, NOW, clientName="client3", localtime=time.gmtime
        )
        self.assertEqual("".join(f"{line}\n" for line in lines), O_REPORT)
        lines = ipsecreports.port_translation_report(
            "TCPCS3", [], NOW, localtime=time.gmtime
        )
        self.assertEqual("".join(f"{line}\n" for line in lines), O_EMPTY)

    def test_json(self) -> None:
        data = ipsecreports.interface_json("TCPCS3", INTERFACES)
        self.assertEqual(
            {k: v for k, v in data.items() if k != "Entries"},
            {
                "Primary": "Interface",
                "Function": "Display",
                "StackName": "TCPCS3",
                "Source": "Stack",
                "TotAvail": 3,
            },
        )
        self.assertEqual(
            data["Entries"][2],
            {
                "InterfaceName": "eth0",
                "InterfaceAddress": "fe80::1",
                "AddressPrefix": 64,
                "SecurityClass": 7,
                "DVIPA": True,
                "InterfaceIndex": None,
            },
        )
        data = ipsecreports.port_translation_json("TCPCS3", TRANSLATIONS)
        self.assertEqual(data["Primary"], "NATT Port Trans")
        self.assertEqual(
            data["Entries"],
            [
                {
                    "RemoteAddress": "192.0.2.7",
                    "RemotePort": 4500,
                    "TranslatedPort": 4501,
                    "Protocol": "UDP(17)",
                    "TimeCreated": "2006-11-17T11:19:09Z",
                    "TunnelID": "Y1",
                },
                {
                    "RemoteAddress": "192.0.2.7",
                    "RemotePort": 4500,
                    "TranslatedPort": 4502,
                    "Protocol": "TCP(6)",
                    "TimeCreated": None,
                    "TunnelID": None,
                },
            ],
        )


class StackInfoSocketTests(TestCase):
    """
    C{nss-ipsec -i display} and C{-o display} end to end over a real
    AF_UNIX socket, against L{answer_stack_request}: locally (C{-p}, or
    no target) and through nssd (C{-z}).
    """

    def setUp(self) -> None:
        self.path = socket_path(self, "ipsecmgmt")

    async def serve(self, handler: Any) -> NmiServerFactory:
        return await serve_nmi(self, self.path, handler)

    async def nssIpsec(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await ipsec.run(
            reactor,
            [*argv, "--socket", self.path],
            out,
            err,
            now=lambda: NOW,
            localtime=time.gmtime,
        )
        return status, out.getvalue(), err.getvalue()

    async def test_interfaces(self) -> None:
        stack = StackInfoStack()
        await self.serve(stack)
        for argv, target in [
            (("-i", "display", "-p", "TCPCS3"), "TCPCS3"),
            (("-i", "DIS"), ""),
            (("--interface", "display"), ""),
        ]:
            status, out, err = await self.nssIpsec(*argv)
            self.assertEqual((status, out, err), (0, I_REPORT, ""), argv)
            request = stack.requests[-1]
            self.assertEqual(
                (request.messageType, request.target, request.records),
                (T.GET_IPINTERFACES, target, ()),
            )
        status, out, err = await self.nssIpsec("-i", "dis", "-z", "client3")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            out,
            I_REPORT.replace("Stack Name: TCPCS3", "NSS Client Name: client3"),
        )
        self.assertEqual(stack.requests[-1].target, "client3")

    async def test_portTranslations(self) -> None:
        """
        iked has no port translations yet: an empty table; a stack that
        has some lists them.
        """
        await self.serve(StackInfoStack())
        status, out, err = await self.nssIpsec("-o", "display")
        self.assertEqual((status, out, err), (0, O_EMPTY, ""))

    async def test_portTranslationsThroughNssd(self) -> None:
        stack = StackInfoStack(TRANSLATIONS)
        await self.serve(stack)
        status, out, err = await self.nssIpsec("-o", "dis", "-z", "client3")
        self.assertEqual((status, out, err), (0, O_REPORT, ""))
        request = stack.requests[-1]
        self.assertEqual(
            (request.messageType, request.target), (T.GET_PORTTRAN, "client3")
        )

    async def test_json(self) -> None:
        await self.serve(StackInfoStack(TRANSLATIONS))
        status, out, err = await self.nssIpsec("-i", "display", "--json")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            json.loads(out),
            json.loads(json.dumps(ipsecreports.interface_json("TCPCS3", INTERFACES))),
        )
        status, out, err = await self.nssIpsec("-o", "display", "--json")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            json.loads(out),
            json.loads(
                json.dumps(ipsecreports.port_translation_json("TCPCS3", TRANSLATIONS))
            ),
        )

    async def test_refused(self) -> None:
        await self.serve(StackInfoStack())
        for primary, name in (("-i", "IPINTERFACES"), ("-o", "PORTTRAN")):
            status, out, err = await self.nssIpsec(primary, "dis", "-z", "client9")
            self.assertEqual((status, out), (1, ""))
            self.assertIn(f"nssd refused NMsec_GET_{name}: ENXIO", err)

    async def test_unreadable(self) -> None:
        class Garbage:
            def handle(self, request: NmiMessage) -> Deferred[NmiMessage]:
                return succeed(request.answer([NmiRecord((NmiSection(1, b"x"),))]))

        await self.serve(Garbage())
        for primary, name in (("-i", "IPINTERFACES"), ("-o", "PORTTRAN")):
            status, out, err = await self.nssIpsec(primary, "display")
            self.assertEqual((status, out), (1, ""))
            self.assertIn(f"NMsec_GET_{name} reply that cannot be read", err)

    async def test_missingSocket(self) -> None:
        status, out, err = await self.nssIpsec("-i", "display")
        self.assertEqual((status, out), (2, ""))
        self.assertIn("cannot connect to iked", err)


class StackInfoDocumentationTests(SynchronousTestCase):
    def test_examples(self) -> None:
        text = DOCS.read_text(encoding="utf-8")
        for report in [I_REPORT, O_REPORT]:
            self.assertIn(f"```text\n{report}```", text)
