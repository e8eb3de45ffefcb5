"""
Tests for L{nsstwisted.iked.configuration}: iked.conf's statements and
keywords, defaults, last-wins rules, secret files, the stack limit, errors,
search order, display and the equality a refresh relies on.
"""

from __future__ import annotations

import grp
import os
import re
import socket
from dataclasses import replace
from pathlib import Path

from cryptography import x509
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.config import ConfigurationError
from nsstwisted.ike.enginebase import EngineSettings
from nsstwisted.iked.configuration import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_KEY_RING,
    MAX_STACKS,
    AuthBy,
    IkedConfiguration,
    NssServerAddress,
    NssStackConfig,
    StackDeclaration,
    config_path,
    default_system_name,
    iked_configuration_from_text,
    load_iked_configuration,
    read_stack_secret,
)
from nsstwisted.iked.service import engine_settings
from nsstwisted.protocols.nmi import DEFAULT_IDLE_TIMEOUT
from nsstwisted.wire.nss import Services
from tests.strategies import (
    iked_client_names,
    iked_namespaces,
    iked_paths,
    iked_rings,
    iked_servers,
    iked_stack_names,
    iked_upper_names,
)

fast = settings(max_examples=100, deadline=None, database=None)
cheap = settings(max_examples=500, deadline=None, database=None)

PASSWORD = "s3cret pass"
KEY = "0123456789ABCDEF"
DOCS = Path(__file__).parent.parent / "docs" / "iked-config.md"


def block(header: str, *lines: str) -> str:
    return header + "\n{\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def ike(*lines: str) -> str:
    return block("IkeConfig", *lines)


def tcpip(name: str, *lines: str) -> str:
    return block(f"TcpipStack {name}", *lines)


class Files(SynchronousTestCase):
    """
    A folder with a password file, a PassTicket key file and a CA file, each
    as iked wants it, and helpers that build files using them.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.password = self.secret("tcpip.pw", PASSWORD + "\n")
        self.key = self.secret("tcpipc.key", KEY + "\n")
        self.ca = self.secret("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0o644)

    def secret(self, name: str, content: str | bytes, mode: int = 0o600) -> str:
        path = os.path.join(self.folder, name)
        data = content.encode("utf-8") if isinstance(content, str) else content
        with open(path, "wb") as stream:
            stream.write(data)
        os.chmod(path, mode)
        return path

    def servers(self, *extra: str) -> str:
        """An IkeConfig with a server and a CA file, as NSS stacks need."""
        return ike(
            "NetworkSecurityServer nssd.example.com", f"CaFile {self.ca}", *extra
        )

    def nss(self, name: str, *lines: str, secret: bool = True) -> str:
        """An NssStackConfig; unless told, with a user ID, service and file."""
        if secret:
            lines = ("ServiceType Cert", "UserID nssuser", *lines)
            if not any(line.lower().startswith("authby") for line in lines):
                lines = (*lines, f"PasswordFile {self.password}")
        return block(f"NssStackConfig {name}", *lines)

    def example(self) -> str:
        """A complete file: two NSS stacks and a plain one."""
        return (
            ike(
                "NetworkSecurityServer 192.0.2.10 Port 4159 Identity Fqdn"
                " nssd1.example.com",
                "NetworkSecurityServerBackup nssd2.example.com Port 4160",
                "NssWaitLimit 30",
                "NssWaitRetries 2",
                f"CaFile {self.ca}",
            )
            + self.nss(
                "TCPIP",
                "ClientName MVS1_TCPIP",
                "ServiceType Cert",
                "ServiceType RemoteMgmt",
                "UserID NSSCLNT",
                "AuthBy Password",
                f"PasswordFile {self.password}",
                secret=False,
            )
            + tcpip("TCPIPB", "Namespace blue")
            + self.nss(
                "TCPIPC",
                "ServiceType Cert",
                "UserID nssclnt",
                "AuthBy PassTicket",
                f"PassTicketKeyFile {self.key}",
                "Namespace green",
                secret=False,
            )
        )

    def load(self, text: str, hostname: str = "mvs1.example.com") -> IkedConfiguration:
        return iked_configuration_from_text(text, "iked.conf", hostname=hostname)

    def assertBad(
        self, text: str, line: int | str | None, keyword: str | None, message: str
    ) -> ConfigurationError:
        """
        Loading C{text} fails at C{line}: a number, or the one line of the
        text that reads C{line} once stripped.
        """
        if isinstance(line, str):
            found = [
                number
                for number, written in enumerate(text.split("\n"), start=1)
                if written.strip() == line
            ]
            self.assertEqual(len(found), 1, f"{line!r} is not one line of the text")
            line = found[0]
        error: ConfigurationError = self.assertRaises(
            ConfigurationError, self.load, text
        )
        self.assertEqual(
            (error.filename, error.line, error.keyword), ("iked.conf", line, keyword)
        )
        self.assertIn(message, error.message)
        return error

    def assertBadIke(self, line: str, message: str) -> ConfigurationError:
        """A bad setting on line 3, the first of an IkeConfig."""
        return self.assertBad(ike(line), 3, line.split()[0], message)

    def assertBadStack(self, line: str, message: str) -> ConfigurationError:
        """A bad setting in an otherwise good NssStackConfig."""
        text = self.servers() + self.nss("TCPIP", line)
        return self.assertBad(text, line, line.split()[0], message)


class ExampleTests(Files):
    """
    A complete file gives the configuration it describes.
    """

    def expected(self) -> IkedConfiguration:
        tcpipStack = NssStackConfig(
            stackName="TCPIP",
            clientName="MVS1_TCPIP",
            services=Services.CERT | Services.NETMGMT,
            userid="NSSCLNT",
            authBy=AuthBy.PASSWORD,
            secretFile=self.password,
        )
        tcpipc = NssStackConfig(
            stackName="TCPIPC",
            clientName="MVS1_TCPIPC",
            services=Services.CERT,
            userid="NSSCLNT",
            authBy=AuthBy.PASSTICKET,
            secretFile=self.key,
            namespace="green",
        )
        return IkedConfiguration(
            systemName="MVS1",
            primary=NssServerAddress("192.0.2.10", 4159, "Fqdn", "nssd1.example.com"),
            backup=NssServerAddress("nssd2.example.com", 4160),
            nssWaitLimit=30,
            nssWaitRetries=2,
            caFile=self.ca,
            stacks=(
                StackDeclaration("TCPIP"),
                StackDeclaration("TCPIPB", "blue"),
                StackDeclaration("TCPIPC", "green"),
            ),
            nssStacks={"TCPIP": tcpipStack, "TCPIPC": tcpipc},
        )

    def test_example(self) -> None:
        config = self.load(self.example())
        self.assertEqual(config, self.expected())
        self.assertEqual(config.stack_names(), ["TCPIP", "TCPIPB", "TCPIPC"])
        self.assertEqual(list(config.nssStacks), ["TCPIP", "TCPIPC"])

    def test_load_file(self) -> None:
        """
        L{load_iked_configuration} reads the file and names it in errors.
        """
        path = os.path.join(self.folder, "iked.conf")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(self.example())
        self.assertEqual(
            load_iked_configuration(path, hostname="mvs1"), self.expected()
        )
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(ike("NssWaitLimit 0"))
        error = self.assertRaises(
            ConfigurationError, load_iked_configuration, path, hostname="mvs1"
        )
        self.assertTrue(str(error).startswith(f"{path}:3: NssWaitLimit: "))

    def test_missing_file(self) -> None:
        path = self.mktemp()
        error = self.assertRaises(ConfigurationError, load_iked_configuration, path)
        self.assertEqual(error.filename, path)

    def test_documented_example(self) -> None:
        """
        The complete example of docs/iked-config.md loads, once its secret
        files exist, into two NSS stacks and a plain one, and displays as
        the page says.
        """
        text = DOCS.read_text(encoding="utf-8")
        section = text[text.index("## A complete example") :]
        conf, display = re.findall(r"```\n(.*?)```", section, re.DOTALL)[:2]
        for path in set(re.findall(r"/etc/security/[\w./-]+", conf)):
            name = os.path.basename(path)
            content = KEY if name.endswith(".key") else PASSWORD
            self.secret(name, content + "\n", 0o600)
        config = self.load(conf.replace("/etc/security/", self.folder + "/"))
        self.assertEqual(config.stack_names(), ["TCPIP", "TCPIPB", "TCPIPC"])
        self.assertEqual(
            [stack.authBy for stack in config.nssStacks.values()],
            [AuthBy.PASSWORD, AuthBy.PASSTICKET],
        )
        shown = "\n".join(config.describe()) + "\n"
        self.assertEqual(shown.replace(self.folder + "/", "/etc/security/"), display)


class DefaultTests(Files):
    """
    What is not coded takes IBM's default, or ours where IBM has none.
    """

    def test_empty_file(self) -> None:
        """
        A file without statements is valid: no NSS stacks, all defaults.
        """
        for text in ("", "# nothing\n", "IkeConfig {}"):
            config = self.load(text, hostname="nsshost")
            self.assertEqual(config, IkedConfiguration(systemName="NSSHOST"))
            self.assertIsNone(config.primary)
            self.assertIsNone(config.backup)
            self.assertEqual(config.nssWaitLimit, 60)
            self.assertEqual(config.nssWaitRetries, 3)
            self.assertEqual(config.keyRing, ("IKED", "KEYRING"))
            self.assertEqual(config.keyRing, DEFAULT_KEY_RING)
            self.assertIsNone(config.caFile)
            self.assertEqual(config.nmiSocket, "/var/sock/ipsecmgmt")
            self.assertEqual(config.ikeSyslogLevel, 1)
            self.assertEqual(config.stacks, ())
            self.assertEqual(dict(config.nssStacks), {})
            self.assertEqual(config.stack_names(), [])

    def test_system_name_from_host(self) -> None:
        self.assertEqual(self.load("", "mvs1.example.com").systemName, "MVS1")
        self.assertEqual(self.load("", "verylonghostname").systemName, "VERYLONG")
        self.assertEqual(default_system_name("a.b.c"), "A")

    def test_system_name_from_bad_host(self) -> None:
        for host in ("web-01", "", "h_1"):
            error = self.assertRaises(ConfigurationError, self.load, "", host)
            self.assertEqual(
                (error.filename, error.line, error.keyword),
                ("iked.conf", None, "SystemName"),
            )
            self.assertIn("code SystemName", error.message)
        self.assertEqual(
            self.load(ike("SystemName WEB01"), "web-01").systemName, "WEB01"
        )

    def test_gethostname(self) -> None:
        self.patch(socket, "gethostname", lambda: "lpar7.example.com")
        self.assertEqual(iked_configuration_from_text("", "f").systemName, "LPAR7")

    def test_stack_defaults(self) -> None:
        """
        ClientName defaults to sysname_stackname, from the system name in
        force (coded or not, before or after the stack); AuthBy to Password;
        the stack is the host's own.
        """
        stack = self.load(self.servers() + self.nss("tcpip")).nssStacks["TCPIP"]
        self.assertEqual(stack.clientName, "MVS1_TCPIP")
        self.assertIs(stack.authBy, AuthBy.PASSWORD)
        self.assertIsNone(stack.namespace)
        config = self.load(self.nss("TCPIP") + self.servers("SystemName SYS2"))
        self.assertEqual(config.nssStacks["TCPIP"].clientName, "SYS2_TCPIP")

    def test_server_port_default(self) -> None:
        config = self.load(self.servers())
        self.assertEqual(config.primary, NssServerAddress("nssd.example.com"))
        self.assertEqual(config.primary and config.primary.port, 4159)


class IkeConfigTests(Files):
    """
    Each IkeConfig keyword's good and bad values.
    """

    def test_all(self) -> None:
        config = self.load(
            ike(
                "SystemName sys#1",
                "IKESYSLOGLEVEL 255",
                "keyring owner1/ring.one",
                "NetworkSecurityServer nss1",
                "networksecurityserverbackup 2001:db8::1 port 9",
                "NssWaitLimit 3600",
                "NssWaitRetries 100",
                "CaFile /etc/security/nss-ca.pem",
                "NmiSocket /run/iked.sock",
                "NMIIDLETIMEOUT 0",
            )
        )
        self.assertEqual(
            config,
            IkedConfiguration(
                systemName="SYS#1",
                ikeSyslogLevel=255,
                keyRing=("OWNER1", "RING.ONE"),
                primary=NssServerAddress("nss1"),
                backup=NssServerAddress("2001:db8::1", 9),
                nssWaitLimit=3600,
                nssWaitRetries=100,
                caFile="/etc/security/nss-ca.pem",
                nmiSocket="/run/iked.sock",
                nmiIdleTimeout=0,
            ),
        )

    def test_limits(self) -> None:
        config = self.load(
            ike("NssWaitLimit 1", "NssWaitRetries 1", "IkeSyslogLevel 0")
        )
        self.assertEqual(
            (config.nssWaitLimit, config.nssWaitRetries, config.ikeSyslogLevel),
            (1, 1, 0),
        )

    def test_key_ring(self) -> None:
        """
        A ring without owner is IKED's; NoKeyRing (V2R4) says there is none;
        the later of KeyRing and NoKeyRing wins.
        """
        self.assertEqual(self.load(ike("KeyRing ikering")).keyRing, ("IKED", "IKERING"))
        self.assertIsNone(self.load(ike("NoKeyRing")).keyRing)
        self.assertIsNone(self.load(ike("KeyRing a/b", "NoKeyRing")).keyRing)
        self.assertEqual(self.load(ike("NoKeyRing", "KeyRing a/b")).keyRing, ("A", "B"))

    def test_ignored_keywords(self) -> None:
        """
        IBM's keywords that the IKE engine will use are accepted, checked
        and (for now) change nothing.
        """
        config = self.load(
            ike(
                "PagentSyslogLevel 3",
                "SMF119 IKEALL",
                "SMF119 DynTunnel",
                "smf119 none",
                "FIPS140 no",
                "Echo yes",
                "echo NO",
                "PagentWait 0",
                "SupportedCertAuth CA1",
                'SupportedCertAuth "Second CA"',
            )
        )
        self.assertEqual(config, IkedConfiguration(systemName="MVS1"))

    def test_retransmissions(self) -> None:
        """
        IBM's IkeRetries and IkeInitWait (defaults 6 and 2) time the IKE
        engine's retransmissions, and with them how soon a dead peer is
        given up.
        """
        default = self.load(ike())
        self.assertEqual((default.ikeRetries, default.ikeInitWait), (6, 2))
        self.assertEqual(
            engine_settings(default),
            EngineSettings(retransmitTimeout=2.0, retransmitTries=6),
        )
        config = self.load(ike("IkeRetries 10", "IkeInitWait 1"))
        self.assertEqual((config.ikeRetries, config.ikeInitWait), (10, 1))
        settings = engine_settings(config)
        self.assertEqual(
            (settings.retransmitTries, settings.retransmitTimeout), (10, 1.0)
        )
        self.assertIn("  IkeRetries 10", config.describe())
        self.assertEqual(config.display_data()[0]["Settings"]["IkeInitWait"], 1)

    def test_numbers(self) -> None:
        cases = [
            ("NssWaitLimit", 1, 3600),
            ("NssWaitRetries", 1, 100),
            ("IkeSyslogLevel", 0, 1023),
            ("PagentSyslogLevel", 0, 1023),
            ("IkeRetries", 1, 10),
            ("IkeInitWait", 1, 10),
            ("PagentWait", 0, 86400),
        ]
        for keyword, low, high in cases:
            message = f"must be a number from {low} to {high}"
            for bad in (str(high + 1), "-1", "+5", "5s", "0x10", "١٢", "9" * 11):
                self.assertBadIke(f"{keyword} {bad}", message)
            if low > 0:
                self.assertBadIke(f"{keyword} {low - 1}", message)
            self.assertBadIke(keyword, "takes exactly one value")
            self.assertBadIke(f"{keyword} 1 2", "takes exactly one value")

    def test_message_format(self) -> None:
        error = self.assertBadIke("NssWaitRetries 0", "from 1 to 100")
        self.assertEqual(
            str(error), "iked.conf:3: NssWaitRetries: must be a number from 1 to 100"
        )

    def test_yes_no(self) -> None:
        self.assertBadIke("Echo maybe", "must be yes or no")
        self.assertBadIke("Echo", "takes exactly one value")
        self.assertBadIke("FIPS140 on", "must be yes or no")

    def test_fips140_yes(self) -> None:
        """
        FIPS140 yes would promise what nsstwisted does not do.
        """
        self.assertBadIke("FIPS140 yes", "not supported")

    def test_smf119(self) -> None:
        self.assertBadIke("SMF119", "at least one record type")
        self.assertBadIke("SMF119 Everything", "is not a record type")

    def test_supported_cert_auth(self) -> None:
        self.assertBadIke("SupportedCertAuth " + "L" * 33, "1 to 32 printable")
        self.assertBadIke("SupportedCertAuth two words", "exactly one value")

    def test_key_ring_bad(self) -> None:
        self.assertBadIke("KeyRing 1abc/ring", "must be a user ID")
        self.assertBadIke("KeyRing ninechars/ring", "must be a user ID")
        self.assertBadIke("KeyRing iked/", "the ring name")
        self.assertBadIke("KeyRing iked/a/b", "the ring name")
        self.assertBadIke('KeyRing "iked/my ring"', "the ring name")
        self.assertBadIke("KeyRing iked/" + "r" * 238, "the ring name")
        self.assertBadIke("KeyRing", "takes exactly one value")
        self.assertBadIke("NoKeyRing iked/keyring", "takes no value")

    def test_system_name_bad(self) -> None:
        for bad in ("NINECHARS", "web-01", '""', "SYS.1"):
            self.assertBadIke(f"SystemName {bad}", "must be 1 to 8 of A-Z 0-9 @ # $")

    def test_paths(self) -> None:
        self.assertBadIke("CaFile ca.pem", "must be an absolute path")
        self.assertBadIke('CaFile ""', "must be an absolute path")
        self.assertBadIke("NmiSocket var/sock/ipsecmgmt", "must be an absolute path")
        self.assertBadIke("NmiSocket /" + "s" * 107, "at most 107 bytes")
        self.assertEqual(
            self.load(ike("NmiSocket /" + "s" * 106)).nmiSocket, "/" + "s" * 106
        )

    def test_nmi_idle_timeout(self) -> None:
        self.assertEqual(self.load(ike("NmiIdleTimeout 86400")).nmiIdleTimeout, 86400)
        self.assertEqual(self.load(ike()).nmiIdleTimeout, DEFAULT_IDLE_TIMEOUT)
        for bad in ("86401", "-5", "1.5"):
            self.assertBadIke(f"NmiIdleTimeout {bad}", "must be a number from 0 to")

    def test_ike_fragment_size(self) -> None:
        """
        IkeFragmentSize: 1280 unless coded; Off (or 0) turns RFC 7383
        fragmentation off; a size below IPv4's 576 or above a UDP datagram
        is refused.
        """
        self.assertEqual(self.load(ike()).ikeFragmentSize, 1280)
        self.assertEqual(self.load(ike("IkeFragmentSize 576")).ikeFragmentSize, 576)
        for off in ("Off", "off", "0"):
            config = self.load(ike(f"IkeFragmentSize {off}"))
            self.assertEqual(config.ikeFragmentSize, 0)
            self.assertIn("  IkeFragmentSize Off", config.describe())
        for bad in ("575", "65536", "-1", "1280.5", "on"):
            self.assertBadIke(
                f"IkeFragmentSize {bad}", "must be Off, or a datagram size from 576"
            )

    def test_socket_group_and_mode(self) -> None:
        """
        As for nssd (the same checks): a group of this host, by name or
        number, and an octal mode that gives others nothing.
        """
        group = grp.getgrgid(os.getegid())
        config = self.load(ike(f"NmiSocketGroup {group.gr_name}", "NmiSocketMode 0640"))
        self.assertEqual(
            (config.nmiSocketGroup, config.nmiSocketMode), (group.gr_name, 0o640)
        )
        config = self.load(ike())
        self.assertEqual((config.nmiSocketGroup, config.nmiSocketMode), (None, 0o660))
        self.assertIn("  # NmiSocketGroup (iked's own group)", config.describe())
        self.assertBadIke("NmiSocketGroup no-such-group", "does not exist on this host")
        self.assertBadIke(
            "NmiSocketMode 0666", "0666 would let every user of this host connect"
        )
        self.assertBadIke("NmiSocketMode 0060", "keep the daemon's own user out")
        self.assertBadIke("NmiSocketMode 660x", "must be an octal mode")

    def test_unknown_keyword(self) -> None:
        self.assertBadIke("NssServer nssd", "unknown keyword of IkeConfig")
        self.assertBadIke("Namespace blue", "unknown keyword of IkeConfig")

    def test_unknown_keyword_suggests(self) -> None:
        error = self.assertBadIke("NssWaitLimt 30", "unknown keyword")
        self.assertEqual(
            error.message, "unknown keyword of IkeConfig; did you mean NssWaitLimit?"
        )
        error = self.assertBadIke("NssServer nssd", "unknown keyword")
        self.assertEqual(error.message, "unknown keyword of IkeConfig")

    def test_named(self) -> None:
        self.assertBad("IkeConfig main {}", 1, "IkeConfig", "takes no name")


class ServerTests(Files):
    """
    C{NetworkSecurityServer host [Port p] [Identity kind value]}, and the
    same for the backup.
    """

    def server(self, value: str) -> NssServerAddress | None:
        return self.load(ike(f"NetworkSecurityServer {value}")).primary

    def test_forms(self) -> None:
        cases = {
            "nssd": NssServerAddress("nssd"),
            "nssd.example.com.": NssServerAddress("nssd.example.com."),
            "192.0.2.1 Port 1": NssServerAddress("192.0.2.1", 1),
            "::1 PORT 65535": NssServerAddress("::1", 65535),
            "nssd Identity IpAddr 192.0.2.1": NssServerAddress(
                "nssd", 4159, "IpAddr", "192.0.2.1"
            ),
            "nssd identity fqdn nssd.example.com port 5": NssServerAddress(
                "nssd", 5, "Fqdn", "nssd.example.com"
            ),
            "nssd Port 5 Identity USERATFQDN nss@example.com": NssServerAddress(
                "nssd", 5, "UserAtFqdn", "nss@example.com"
            ),
            'nssd Identity x500DN "CN=NSS Server,O=Example,C=US"': NssServerAddress(
                "nssd", 4159, "X500dn", "CN=NSS Server,O=Example,C=US"
            ),
            "nssd Identity X500dn CN=nssd,O=Example": NssServerAddress(
                "nssd", 4159, "X500dn", "CN=nssd,O=Example"
            ),
        }
        for value, expected in cases.items():
            self.assertEqual(self.server(value), expected, value)

    def test_backup_same_rules(self) -> None:
        config = self.load(
            ike("NetworkSecurityServerBackup nssb Port 77 Identity Fqdn nssb.ex")
        )
        self.assertEqual(config.backup, NssServerAddress("nssb", 77, "Fqdn", "nssb.ex"))
        self.assertBadIke(
            "NetworkSecurityServerBackup nssb Port 0", "Port must be a number"
        )

    def test_last_wins(self) -> None:
        config = self.load(
            ike("NetworkSecurityServer one Port 1", "NetworkSecurityServer two")
        )
        self.assertEqual(config.primary, NssServerAddress("two"))

    def test_bad(self) -> None:
        cases = [
            ("", "takes host"),
            ("Port 4159", "the host is missing"),
            ("Identity Fqdn a.b", "the host is missing"),
            ("nss_d", "is not an IP address or host name"),
            ("-nssd", "is not an IP address or host name"),
            ("999.1.1.1", "is not an IP address or host name"),
            ("a" * 64, "is not an IP address or host name"),
            ("nssd Port", "Port must be a number from 1 to 65535"),
            ("nssd Port 0", "Port must be a number from 1 to 65535"),
            ("nssd Port 65536", "Port must be a number from 1 to 65535"),
            ("nssd Port x", "Port must be a number from 1 to 65535"),
            ("nssd Port 1 Port 2", "Port is given twice"),
            ("nssd Identity", "Identity takes a kind"),
            ("nssd Identity Fqdn", "Identity takes a kind"),
            ("nssd Identity Dns a.b", "must be IpAddr, Fqdn, UserAtFqdn or X500dn"),
            ("nssd Identity IpAddr a.b", "Identity IpAddr: 'a.b' is not an IP"),
            ("nssd Identity Fqdn a_b", "Identity Fqdn: 'a_b' is not a host name"),
            ("nssd Identity UserAtFqdn a.b", "is not user@host.name"),
            ("nssd Identity UserAtFqdn @a.b", "is not user@host.name"),
            ("nssd Identity X500dn nssd", "is not a distinguished name"),
            ("nssd Identity Fqdn a.b Identity Fqdn c.d", "Identity is given twice"),
            ("nssd 4159", "unexpected '4159'"),
            (
                "nssd Identity X500dn CN=nssd, O=Example",
                "quote an X500dn value that holds blanks",
            ),
            (
                'nssd Identity X500dn "CN=nssd, O=Example"',
                "no blank after a comma",
            ),
        ]
        for value, message in cases:
            self.assertBadIke(f"NetworkSecurityServer {value}".rstrip(), message)

    def test_describe(self) -> None:
        self.assertEqual(NssServerAddress("nssd").describe(), "nssd Port 4159")
        self.assertEqual(
            NssServerAddress("nssd", 1, "X500dn", "CN=a b,O=c").describe(),
            'nssd Port 1 Identity X500dn "CN=a b,O=c"',
        )


class DistinguishedNameTests(Files):
    """
    An X500dn identity must be a name the NSS client can compare with the
    server's certificate, which reads it as RFC 4514 (cryptography's
    C{Name.from_rfc4514_string}).
    """

    def accepted(self, dn: str) -> bool:
        try:
            self.load(ike(f"NetworkSecurityServer n Identity X500dn {_quote(dn)}"))
        except ConfigurationError:
            return False
        return True

    def test_good(self) -> None:
        for dn in (
            "CN=nssd",
            "CN=nssd,OU=Security,O=Example Corp,L=Town,ST=Here,C=US",
            "CN=a+UID=b,DC=example,DC=com",
            "STREET=1 Main St,CN=x",
            "2.5.4.3=nssd",
            "CN=a\\,b",
            "CN=\\ lead",
            "CN=#6e737364",
            "CN=caf\\c3\\a9",
            "CN=Ünïcode",
        ):
            self.assertTrue(self.accepted(dn), dn)
            x509.Name.from_rfc4514_string(dn)

    def test_bad(self) -> None:
        for dn in (
            "nssd",
            "cn=nssd",
            "CN=a, O=b",
            "CN=a,",
            ",CN=a",
            "CN=",
            "C=USA",
            "CN=" + "x" * 65,
            "XX=a",
            "CN=a;O=b",
            "CN= lead",
            "CN=\\ff",
            "CN=#ff",
            "CN=a=b\\",
            "3.5.4.3=x",
            "CN=a+2.5.4.3=a",
            "C=Ué",
            "1.40=x",
        ):
            self.assertFalse(self.accepted(dn), dn)

    @cheap
    @given(
        st.lists(
            st.sampled_from(
                [
                    *'CNOUDLST=,+\\#  abc019.é"<>;',
                    *("CN=", "O=", "\\2c", "\\c3\\a9", "2.5.4.3="),
                ]
            ),
            max_size=12,
        ).map("".join)
    )
    def test_client_agrees(self, dn: str) -> None:
        """
        Whatever the configuration accepts, the NSS client can parse.
        """
        if self.accepted(dn):
            x509.Name.from_rfc4514_string(dn)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class NssStackConfigTests(Files):
    """
    Each NssStackConfig keyword's good and bad values, and the rules
    between them.
    """

    def stack(self, *lines: str) -> NssStackConfig:
        config = self.load(self.servers() + self.nss("TCPIP", *lines, secret=False))
        return config.nssStacks["TCPIP"]

    def test_all(self) -> None:
        stack = self.stack(
            "clientname Client-1.a@#$_",
            "SERVICETYPE remotemgmt",
            "Userid user#1",
            "authby passticket",
            f"passticketkeyfile {self.key}",
            "namespace ns-1.a_b",
        )
        self.assertEqual(
            stack,
            NssStackConfig(
                stackName="TCPIP",
                clientName="Client-1.a@#$_",
                services=Services.NETMGMT,
                userid="USER#1",
                authBy=AuthBy.PASSTICKET,
                secretFile=self.key,
                namespace="ns-1.a_b",
            ),
        )

    def test_stack_name(self) -> None:
        for name, expected in (
            ("tcpip", "TCPIP"),
            ("$T@#1", "$T@#1"),
            ("A" * 8, "A" * 8),
        ):
            config = self.load(self.servers() + self.nss(name))
            self.assertEqual(list(config.nssStacks), [expected])
        for bad in ("1TCPIP", "TCPIPABCD", "TCP-IP", '"TCP IP"', "t.p"):
            self.assertBad(
                self.servers() + self.nss(bad),
                f"NssStackConfig {bad}",
                "NssStackConfig",
                "must be 1 to 8 of A-Z 0-9 @ # $, not starting with a digit",
            )

    def test_no_name(self) -> None:
        self.assertBad(
            self.servers() + self.nss(""),
            "NssStackConfig",
            "NssStackConfig",
            "needs a stack name",
        )

    def test_services(self) -> None:
        """
        ServiceType is repeatable and adds up; once is as good as twice.
        """
        self.assertEqual(
            self.stack(
                "ServiceType Cert",
                "ServiceType RemoteMgmt",
                "ServiceType Cert",
                "UserID u",
                f"PasswordFile {self.password}",
            ).services,
            Services.CERT | Services.NETMGMT,
        )
        self.assertBadStack("ServiceType Xml", "must be Cert or RemoteMgmt")
        self.assertBadStack("ServiceType Cert RemoteMgmt", "exactly one value")
        self.assertBadStack("ServiceType", "exactly one value")

    def test_client_name(self) -> None:
        self.assertEqual(self.stack_with("ClientName " + "c" * 24).clientName, "c" * 24)
        for bad in ("c" * 25, "a/b", "a,b", "é", '""', '"a b"'):
            self.assertBadStack(f"ClientName {bad}", "must be 1 to 24 of")
        self.assertBadStack("ClientName a b", "exactly one value")

    def stack_with(self, line: str) -> NssStackConfig:
        return self.stack(
            "ServiceType Cert", "UserID u", f"PasswordFile {self.password}", line
        )

    def test_userid(self) -> None:
        self.assertEqual(self.stack_with("UserID $abc#1").userid, "$ABC#1")
        for bad in ("1abc", "ninechars", "a-b", '""'):
            self.assertBadStack(f"UserID {bad}", "must be a user ID")

    def test_auth_by(self) -> None:
        self.assertBadStack("AuthBy Certificate", "must be Password or PassTicket")
        self.assertBadStack("AuthBy", "exactly one value")

    def test_file_paths(self) -> None:
        self.assertBadStack("PasswordFile tcpip.pw", "must be an absolute path")
        self.assertBadStack("PasswordFile", "exactly one value")

    def test_file_must_match_auth_by(self) -> None:
        text = self.servers() + self.nss(
            "TCPIP",
            "ServiceType Cert",
            "UserID u",
            "AuthBy PassTicket",
            f"PasswordFile {self.password}",
            secret=False,
        )
        self.assertBad(
            text,
            f"PasswordFile {self.password}",
            "PasswordFile",
            "AuthBy PassTicket needs PassTicketKeyFile",
        )
        text = self.servers() + self.nss(
            "TCPIP",
            "ServiceType Cert",
            "UserID u",
            f"PassTicketKeyFile {self.key}",
            secret=False,
        )
        self.assertBad(
            text,
            f"PassTicketKeyFile {self.key}",
            "PassTicketKeyFile",
            "AuthBy Password (the default) needs PasswordFile, not PassTicketKeyFile",
        )

    def test_both_files(self) -> None:
        text = self.servers() + self.nss(
            "TCPIP",
            "ServiceType Cert",
            "UserID u",
            "AuthBy Password",
            f"PasswordFile {self.password}",
            f"PassTicketKeyFile {self.key}",
            secret=False,
        )
        self.assertBad(
            text,
            f"PassTicketKeyFile {self.key}",
            "PassTicketKeyFile",
            "needs PasswordFile",
        )

    def test_missing(self) -> None:
        cases = [
            (
                ("ServiceType Cert", f"PasswordFile {self.password}"),
                "UserID is missing",
            ),
            (("UserID u", f"PasswordFile {self.password}"), "ServiceType is missing"),
            (("UserID u", "ServiceType Cert"), "PasswordFile is missing"),
            (
                ("UserID u", "ServiceType Cert", "AuthBy PassTicket"),
                "PassTicketKeyFile is missing",
            ),
        ]
        for lines, message in cases:
            self.assertBad(
                self.servers() + self.nss("TCPIP", *lines, secret=False),
                "NssStackConfig TCPIP",
                "NssStackConfig",
                message,
            )

    def test_namespace(self) -> None:
        self.assertEqual(self.stack_with("Namespace " + "n" * 255).namespace, "n" * 255)
        for bad in ("n" * 256, ".", "..", ".hidden", "a/b", '""', "a:b"):
            self.assertBadStack(f"Namespace {bad}", "network namespace name")

    def test_unknown_keyword(self) -> None:
        self.assertBadStack("Password secret", "unknown keyword of NssStackConfig")

    def test_needs_server(self) -> None:
        """
        IBM: an NssStackConfig without a server in IkeConfig is an error.
        Either server is enough.
        """
        self.assertBad(
            ike(f"CaFile {self.ca}") + self.nss("TCPIP"),
            "NssStackConfig TCPIP",
            "NssStackConfig",
            "code NetworkSecurityServer, NetworkSecurityServerBackup or both",
        )
        config = self.load(
            ike(f"CaFile {self.ca}", "NetworkSecurityServerBackup b")
            + self.nss("TCPIP")
        )
        self.assertIsNone(config.primary)

    def test_needs_ca_file(self) -> None:
        self.assertBad(
            ike("NetworkSecurityServer a") + self.nss("TCPIP"),
            "NssStackConfig TCPIP",
            "NssStackConfig",
            "no CaFile",
        )

    def test_client_names_unique(self) -> None:
        """
        The server tells clients apart by name, case-insensitively, so two
        stacks may not share one, whether coded or defaulted.
        """
        self.assertBad(
            self.servers()
            + self.nss("TCPIP", "ClientName shared")
            + self.nss("TCPIPB", "ClientName SHARED"),
            "NssStackConfig TCPIPB",
            "NssStackConfig",
            "the client name SHARED is already stack TCPIP's",
        )
        self.assertBad(
            self.servers()
            + self.nss("TCPIP", "ClientName MVS1_TCPIPB")
            + self.nss("TCPIPB"),
            "NssStackConfig TCPIPB",
            "NssStackConfig",
            "already stack TCPIP's",
        )


class TcpipStackTests(Files):
    """
    Our C{TcpipStack} statement declares stacks that are not NSS clients.
    """

    def test_declared(self) -> None:
        config = self.load(tcpip("tcpipb") + tcpip("TCPIPC", "NAMESPACE green"))
        self.assertEqual(
            config.stacks,
            (StackDeclaration("TCPIPB"), StackDeclaration("TCPIPC", "green")),
        )
        self.assertEqual(dict(config.nssStacks), {})

    def test_no_server_needed(self) -> None:
        """
        Plain stacks need neither an NSS server nor a CA file.
        """
        self.assertEqual(self.load(tcpip("TCPIP")).stack_names(), ["TCPIP"])

    def test_one_line(self) -> None:
        config = self.load("TcpipStack TCPIPB { Namespace blue }\nTcpipStack T2 {}\n")
        self.assertEqual(config.stack_names(), ["TCPIPB", "T2"])

    def test_bad(self) -> None:
        self.assertBad(tcpip("TCPIP", "UserID u"), 3, "UserID", "takes Namespace only")
        self.assertBad(
            tcpip("TCPIP", "Namespace a/b"), 3, "Namespace", "namespace name"
        )
        self.assertBad(tcpip(""), 1, "TcpipStack", "needs a stack name")
        self.assertBad(tcpip("9TCP"), 1, "TcpipStack", "not starting with a digit")

    def test_with_nss_stack(self) -> None:
        """
        A stack may be declared and also be an NSS client; the namespace may
        be coded in either statement, or in both if they agree.  The stack
        keeps the place of its first statement.
        """
        text = (
            tcpip("TCPIPA")
            + tcpip("TCPIP", "Namespace blue")
            + self.servers()
            + self.nss("TCPIP")
        )
        config = self.load(text)
        self.assertEqual(config.stack_names(), ["TCPIPA", "TCPIP"])
        self.assertEqual(config.nssStacks["TCPIP"].namespace, "blue")
        self.assertEqual(config.stacks[1], StackDeclaration("TCPIP", "blue"))
        text = self.servers() + self.nss("TCPIP", "Namespace blue") + tcpip("TCPIP")
        self.assertEqual(self.load(text).nssStacks["TCPIP"].namespace, "blue")
        text = (
            self.servers()
            + self.nss("TCPIP", "Namespace blue")
            + tcpip("TCPIP", "Namespace blue")
        )
        self.assertEqual(self.load(text).nssStacks["TCPIP"].namespace, "blue")

    def test_namespace_conflict(self) -> None:
        text = (
            tcpip("TCPIP", "Namespace blue")
            + self.servers()
            + self.nss("TCPIP", "Namespace green")
        )
        self.assertBad(
            text,
            "Namespace green",
            "Namespace",
            "'green' differs from the namespace 'blue' of line 3",
        )

    def test_unknown_statement(self) -> None:
        for text, kind in (
            ("NssConfig {}", "NssConfig"),
            ("IpFilterPolicy {}", "IpFilterPolicy"),
        ):
            self.assertBad(tcpip("T") + text, 4, kind, "not a statement of iked.conf")


class LastWinsTests(Files):
    """
    IBM's rules: the last IkeConfig is used; the last NssStackConfig of a
    stack is used; within a statement the last value of a keyword wins.
    Everything replaced is still checked.
    """

    def test_last_ike_config_used(self) -> None:
        """
        Several IkeConfig statements are not merged: settings only in an
        earlier one are lost.
        """
        config = self.load(
            ike("NssWaitLimit 10", "IkeSyslogLevel 7") + ike("NssWaitRetries 5")
        )
        self.assertEqual(
            (config.nssWaitLimit, config.ikeSyslogLevel, config.nssWaitRetries),
            (60, 1, 5),
        )

    def test_earlier_ike_config_checked(self) -> None:
        self.assertBad(
            ike("NssWaitLimit 0") + ike("NssWaitLimit 10"), 3, "NssWaitLimit", "from 1"
        )

    def test_repeated_keyword(self) -> None:
        config = self.load(ike("NssWaitLimit 10", "nsswaitlimit 20"))
        self.assertEqual(config.nssWaitLimit, 20)
        self.assertBad(ike("NssWaitLimit 0", "NssWaitLimit 10"), 3, "NssWaitLimit", "")

    def test_last_nss_stack_config_used(self) -> None:
        """
        A later NssStackConfig for a stack replaces the earlier one whole:
        its ServiceTypes do not add to the earlier ones.
        """
        text = (
            self.servers()
            + self.nss("TCPIP", "ServiceType RemoteMgmt", "ClientName first")
            + self.nss("tcpip", "AuthBy PassTicket", f"PassTicketKeyFile {self.key}")
        )
        stack = self.load(text).nssStacks["TCPIP"]
        self.assertEqual(stack.services, Services.CERT)
        self.assertEqual(stack.clientName, "MVS1_TCPIP")
        self.assertIs(stack.authBy, AuthBy.PASSTICKET)

    def test_earlier_nss_stack_config_checked(self) -> None:
        text = self.servers() + self.nss("TCPIP", "ClientName a/b") + self.nss("TCPIP")
        self.assertBad(text, "ClientName a/b", "ClientName", "must be 1 to 24")

    def test_replaced_secret_file_not_read(self) -> None:
        """
        Secret files are checked for the statements in force only: a
        replaced statement's file is never read.
        """
        missing = os.path.join(self.folder, "missing.pw")
        text = (
            self.servers()
            + self.nss("TCPIP", "AuthBy Password", f"PasswordFile {missing}")
            + self.nss("TCPIP")
        )
        self.assertEqual(self.load(text).nssStacks["TCPIP"].secretFile, self.password)

    def test_last_tcpip_stack_used(self) -> None:
        config = self.load(tcpip("T", "Namespace a") + tcpip("T"))
        self.assertEqual(config.stacks, (StackDeclaration("T"),))

    def test_statement_kinds_case_insensitive(self) -> None:
        config = self.load(
            "ikeconfig { nsswaitlimit 5 }\n"
            + "TCPIPSTACK t {}\n"
            + block(
                "nssstackconfig u",
                "UserID u",
                "ServiceType Cert",
                f"PasswordFile {self.password}",
            )
            + ike("NetworkSecurityServer n", f"CaFile {self.ca}")
        )
        self.assertEqual(config.stack_names(), ["T", "U"])
        self.assertEqual(config.nssWaitLimit, 60)


class StackLimitTests(Files):
    """
    At most eight stacks, NSS clients or not.
    """

    def test_eight(self) -> None:
        text = self.servers() + "".join(
            self.nss(f"N{i}") if i % 2 else tcpip(f"T{i}") for i in range(MAX_STACKS)
        )
        config = self.load(text)
        self.assertEqual(len(config.stacks), 8)
        self.assertEqual(len(config.nssStacks), 4)

    def test_repeats_count_once(self) -> None:
        text = "".join(tcpip(f"T{i}") for i in range(MAX_STACKS)) * 2
        self.assertEqual(len(self.load(text).stacks), 8)

    def test_ninth(self) -> None:
        text = "".join(tcpip(f"T{i}") for i in range(MAX_STACKS)) + "\n" + tcpip("T8")
        error = self.assertBad(text, "TcpipStack T8", "TcpipStack", "at most 8 stacks")
        self.assertIn("stack T8 would be stack 9", error.message)
        text = (
            self.servers()
            + "".join(tcpip(f"T{i}") for i in range(MAX_STACKS))
            + self.nss("N")
        )
        self.assertBad(text, "NssStackConfig N", "NssStackConfig", "at most 8 stacks")


class SecretFileTests(Files):
    """
    The secret files: read at each logon by L{read_stack_secret}, and
    checked when the configuration is loaded, so that a refresh naming a
    bad one is refused.
    """

    def stack(self, path: str, authBy: AuthBy = AuthBy.PASSWORD) -> NssStackConfig:
        return NssStackConfig(
            stackName="TCPIP",
            clientName="C",
            services=Services.CERT,
            userid="U",
            authBy=authBy,
            secretFile=path,
        )

    def config(self, path: str, authBy: AuthBy = AuthBy.PASSWORD) -> str:
        keyword = authBy.fileKeyword
        return self.servers() + self.nss(
            "TCPIP", f"AuthBy {authBy.value}", f"{keyword} {path}"
        )

    def assertSecretBad(
        self, path: str, message: str, authBy: AuthBy = AuthBy.PASSWORD
    ) -> None:
        """
        Both at load time (naming the configuration file, line and keyword,
        and the secret file) and at logon (naming the secret file), the
        same problem, and never the secret.
        """
        keyword = authBy.fileKeyword
        error = self.assertBad(
            self.config(path, authBy), f"{keyword} {path}", keyword, message
        )
        self.assertIn(path, error.message)
        logon = self.assertRaises(
            ConfigurationError, read_stack_secret, self.stack(path, authBy)
        )
        self.assertEqual((logon.filename, logon.keyword), (path, keyword))
        self.assertIn(message, logon.message)
        for text in (str(error), str(logon)):
            self.assertNotIn(PASSWORD, text)
            self.assertNotIn(KEY, text)

    def test_password(self) -> None:
        self.assertEqual(read_stack_secret(self.stack(self.password)), PASSWORD)
        for content in (PASSWORD, PASSWORD + "\r\n", " " + PASSWORD + " \n"):
            path = self.secret("p", content)
            self.assertEqual(
                read_stack_secret(self.stack(path)), content.rstrip("\r\n")
            )
        path = self.secret("long", "é" * 128)
        self.assertEqual(read_stack_secret(self.stack(path)), "é" * 128)

    def test_key(self) -> None:
        stack = self.stack(self.key, AuthBy.PASSTICKET)
        self.assertEqual(read_stack_secret(stack), KEY)
        path = self.secret("k", "0123456789abcdef")
        self.assertEqual(
            read_stack_secret(self.stack(path, AuthBy.PASSTICKET)), "0123456789abcdef"
        )

    def test_reread(self) -> None:
        """
        Each logon reads the file again, so a changed password is used
        without a refresh.
        """
        stack = self.stack(self.password)
        self.assertEqual(read_stack_secret(stack), PASSWORD)
        self.secret("tcpip.pw", "new password\n")
        self.assertEqual(read_stack_secret(stack), "new password")

    def test_modes(self) -> None:
        """
        Mode 0600 or stricter: no permission for group or others.
        """
        for mode in (0o600, 0o400, 0o700, 0o000):
            path = self.secret(f"ok{mode:o}", PASSWORD, mode)
            self.load(self.config(path))
        for mode in (0o640, 0o604, 0o644, 0o660, 0o606, 0o610, 0o601, 0o620):
            path = self.secret(f"bad{mode:o}", PASSWORD, mode)
            self.assertSecretBad(path, f"has mode {mode:04o}")

    def test_missing(self) -> None:
        self.assertSecretBad(os.path.join(self.folder, "none"), "cannot open the file")

    def test_unreadable(self) -> None:
        if os.geteuid() == 0:
            raise self.skipTest("root reads any file")
        path = self.secret("unreadable", PASSWORD, 0o000)
        self.assertSecretBad(path, "cannot open the file")

    def test_not_regular(self) -> None:
        directory = os.path.join(self.folder, "dir")
        os.mkdir(directory, 0o700)
        self.assertSecretBad(directory, "is not a regular file")
        fifo = os.path.join(self.folder, "fifo")
        os.mkfifo(fifo, 0o600)
        self.assertSecretBad(fifo, "is not a regular file")

    def test_symlink_checks_target(self) -> None:
        link = os.path.join(self.folder, "link")
        os.symlink(self.password, link)
        self.assertEqual(read_stack_secret(self.stack(link)), PASSWORD)
        os.chmod(self.password, 0o644)
        self.assertSecretBad(link, "has mode 0644")

    def test_empty(self) -> None:
        for content in ("", "\n", "\r\n"):
            self.assertSecretBad(self.secret("empty", content), "is empty")
            self.assertSecretBad(
                self.secret("empty", content), "is empty", AuthBy.PASSTICKET
            )

    def test_bad_password(self) -> None:
        self.assertSecretBad(
            self.secret("two", "secret\nsecret\n"), "holds a control character"
        )
        self.assertSecretBad(self.secret("tab", "a\tb"), "holds a control character")
        self.assertSecretBad(self.secret("long", "x" * 257), "longer than 256 bytes")
        self.assertSecretBad(self.secret("long", "é" * 129), "longer than 256 bytes")
        self.assertSecretBad(self.secret("latin1", b"caf\xe9"), "is not valid UTF-8")
        self.assertSecretBad(self.secret("huge", "x" * 5000), "larger than 4096 bytes")

    def test_bad_key(self) -> None:
        for content in (
            "0123456789ABCDE",
            "0123456789ABCDEF0",
            "0123456789ABCDEG",
            " 0123456789ABCDEF",
            "01234567 89ABCDEF",
            "0123456789ABCDEF\n\n",
        ):
            self.assertSecretBad(
                self.secret("key", content), "exactly 16 hex digits", AuthBy.PASSTICKET
            )

    def test_password_file_for_passticket(self) -> None:
        """
        A password where a key is wanted is malformed, and not shown.
        """
        self.assertSecretBad(self.password, "16 hex digits", AuthBy.PASSTICKET)

    def test_refresh_rejected(self) -> None:
        """
        A file that loaded becomes unusable: loading again (a refresh) is
        refused with the file named.
        """
        text = self.servers() + self.nss("TCPIP")
        self.load(text)
        os.chmod(self.password, 0o640)
        self.assertBad(
            text,
            f"PasswordFile {self.password}",
            "PasswordFile",
            f"{self.password}: has mode 0640",
        )


class ConfigPathTests(SynchronousTestCase):
    """
    The file is C{--config}, else C{IKED_FILE}, else the default.
    """

    def test_order(self) -> None:
        env = {"IKED_FILE": "/env/iked.conf"}
        self.assertEqual(config_path("/cli/iked.conf", env), "/cli/iked.conf")
        self.assertEqual(config_path(None, env), "/env/iked.conf")
        self.assertEqual(config_path(None, {}), DEFAULT_CONFIG_PATH)
        self.assertEqual(DEFAULT_CONFIG_PATH, "/etc/security/iked.conf")

    def test_empty_is_unset(self) -> None:
        self.assertEqual(config_path("", {"IKED_FILE": ""}), DEFAULT_CONFIG_PATH)

    def test_process_environment(self) -> None:
        self.patch(os, "environ", {"IKED_FILE": "/p/iked.conf"})
        self.assertEqual(config_path(None), "/p/iked.conf")


# --- describe and equality ------------------------------------------------------


class DescribeTests(Files):
    """
    L{IkedConfiguration.describe} prints whole statements in the file's own
    syntax, which load back into the same configuration.
    """

    def test_example(self) -> None:
        config = self.load(self.example())
        self.assertEqual(
            config.describe(),
            [
                "IkeConfig",
                "{",
                "  SystemName MVS1",
                "  IkeSyslogLevel 1",
                "  IkeRetries 6",
                "  IkeInitWait 2",
                "  KeyRing IKED/KEYRING",
                "  NetworkSecurityServer 192.0.2.10 Port 4159 Identity Fqdn"
                " nssd1.example.com",
                "  NetworkSecurityServerBackup nssd2.example.com Port 4160",
                "  NssWaitLimit 30",
                "  NssWaitRetries 2",
                f"  CaFile {self.ca}",
                "  NmiSocket /var/sock/ipsecmgmt",
                "  NmiIdleTimeout 60",
                "  # NmiSocketGroup (iked's own group)",
                "  NmiSocketMode 0660",
                "  SaInstaller record",
                "  IkeFragmentSize 1280",
                "  # SecurityDatabase (the usual search)",
                "  # StashFile (the usual search)",
                "  RequireRemoteIdentity no",
                "  # MetricsPort (off)",
                "  CookieThreshold 30",
                "  HalfOpenLimit 1000",
                "}",
                "NssStackConfig TCPIP",
                "{",
                "  ClientName MVS1_TCPIP",
                "  ServiceType Cert",
                "  ServiceType RemoteMgmt",
                "  UserID NSSCLNT",
                "  AuthBy Password",
                f"  PasswordFile {self.password}",
                "  # Namespace (the host's own stack)",
                "}",
                "TcpipStack TCPIPB",
                "{",
                "  Namespace blue",
                "}",
                "NssStackConfig TCPIPC",
                "{",
                "  ClientName MVS1_TCPIPC",
                "  ServiceType Cert",
                "  UserID NSSCLNT",
                "  AuthBy PassTicket",
                f"  PassTicketKeyFile {self.key}",
                "  Namespace green",
                "}",
            ],
        )

    def test_unset(self) -> None:
        lines = self.load(ike("NoKeyRing")).describe()
        self.assertIn("  NoKeyRing", lines)
        self.assertIn("  # NetworkSecurityServer (not set)", lines)
        self.assertIn("  # NetworkSecurityServerBackup (not set)", lines)
        self.assertIn("  # CaFile (not set)", lines)

    def test_quoting(self) -> None:
        password = self.secret("my password", PASSWORD)
        config = self.load(
            ike(
                'NmiSocket "/a b"',
                'NetworkSecurityServer n Identity X500dn "CN=a b"',
                f"CaFile {self.ca}",
            )
            + self.nss("TCPIP", "AuthBy Password", f"PasswordFile {_quote(password)}")
        )
        lines = config.describe()
        self.assertIn('  NmiSocket "/a b"', lines)
        self.assertIn(
            '  NetworkSecurityServer n Port 4159 Identity X500dn "CN=a b"', lines
        )
        self.assertIn(f'  PasswordFile "{password}"', lines)

    def test_secret_not_shown(self) -> None:
        config = self.load(self.servers() + self.nss("TCPIP"))
        self.assertNotIn(PASSWORD, "\n".join(config.describe()))
        self.assertNotIn(PASSWORD, repr(config.display_data()))

    def test_displayData(self) -> None:
        """
        L{IkedConfiguration.display_data}, the data of C{nss-modify iked
        display --json}: the statements of the display, each with a key for
        every keyword it shows, in its order (C{NoKeyRing} is C{KeyRing}
        C{null}; C{PolicyFile}, shown only when set, is always a key).
        """
        config = self.load(self.example())
        statements: list[tuple[str, str | None, list[str]]] = []
        for line in config.describe():
            if line in ("{", "}"):
                continue
            if not line.startswith("  "):
                kind, *name = line.split()
                statements.append((kind, name[0] if name else None, []))
                continue
            words = line.split()
            keyword = words[1] if words[0] == "#" else words[0]
            keyword = "KeyRing" if keyword == "NoKeyRing" else keyword
            if keyword not in statements[-1][2]:
                statements[-1][2].append(keyword)
        data = config.display_data()
        self.assertEqual(
            [(s["Statement"], s["Name"]) for s in data],
            [(kind, name) for kind, name, _ in statements],
        )
        for shown, (_, _, keywords) in zip(data, statements, strict=True):
            self.assertEqual(
                [k for k in shown["Settings"] if k != "PolicyFile"], keywords
            )
        ike, tcpip = data[0]["Settings"], data[1]["Settings"]
        self.assertEqual(
            ike["NetworkSecurityServer"],
            {
                "Host": "192.0.2.10",
                "Port": 4159,
                "IdentityKind": "Fqdn",
                "Identity": "nssd1.example.com",
            },
        )
        self.assertEqual(ike["NssWaitLimit"], 30)
        self.assertIs(ike["RequireRemoteIdentity"], False)
        self.assertEqual(tcpip["ServiceType"], ["Cert", "RemoteMgmt"])
        self.assertEqual(tcpip["PasswordFile"], self.password)
        self.assertIsNone(tcpip["Namespace"])
        self.assertIsNone(tcpip["PolicyFile"])

    @fast
    @given(st.data())
    def test_round_trip(self, data: st.DataObject) -> None:
        """
        The described lines, as a file, give an equal configuration,
        whatever the host.
        """
        draw = data.draw
        names = draw(st.lists(iked_stack_names, max_size=MAX_STACKS, unique=True))
        nssNames = [name for name in names if draw(st.booleans())]
        systemName = draw(iked_upper_names)
        nssStacks = {}
        for number, name in enumerate(nssNames):
            authBy = draw(st.sampled_from(AuthBy))
            nssStacks[name] = NssStackConfig(
                stackName=name,
                clientName=draw(
                    st.sampled_from(
                        [f"{systemName}_{name}", draw(iked_client_names) + str(number)]
                    )
                ),
                services=draw(
                    st.sampled_from(
                        [
                            Services.CERT,
                            Services.NETMGMT,
                            Services.CERT | Services.NETMGMT,
                        ]
                    )
                ),
                userid=draw(iked_stack_names),
                authBy=authBy,
                secretFile=self.password if authBy is AuthBy.PASSWORD else self.key,
                namespace=draw(iked_namespaces),
            )
        clientNames = [stack.clientName.upper() for stack in nssStacks.values()]
        assume(len(set(clientNames)) == len(clientNames))
        primary = draw(st.none() | iked_servers())
        backup = draw(
            iked_servers()
            if nssStacks and primary is None
            else st.none() | iked_servers()
        )
        config = IkedConfiguration(
            systemName=systemName,
            primary=primary,
            backup=backup,
            nssWaitLimit=draw(st.integers(1, 3600)),
            nssWaitRetries=draw(st.integers(1, 100)),
            keyRing=draw(st.none() | iked_rings),
            caFile=self.ca if nssStacks else draw(st.none() | iked_paths),
            nmiSocket=draw(iked_paths.filter(lambda p: len(p.encode()) <= 107)),
            ikeSyslogLevel=draw(st.integers(0, 1023)),
            stacks=tuple(
                StackDeclaration(
                    name,
                    nssStacks[name].namespace
                    if name in nssStacks
                    else draw(iked_namespaces),
                )
                for name in names
            ),
            nssStacks=nssStacks,
        )
        text = "\n".join(config.describe()) + "\n"
        self.assertEqual(self.load(text, hostname="other"), config)


class EqualityTests(Files):
    """
    What a refresh relies on: loads of the same stack compare equal, a
    change compares unequal, and the configuration is immutable and
    hashable.
    """

    def two(self) -> str:
        return (
            self.servers()
            + self.nss("TCPIP")
            + self.nss("TCPIPC", "AuthBy PassTicket", f"PassTicketKeyFile {self.key}")
        )

    def test_same_file_twice(self) -> None:
        first, second = self.load(self.two()), self.load(self.two())
        self.assertEqual(first, second)
        self.assertEqual(hash(first), hash(second))
        self.assertEqual(len({first, second}), 1)

    def test_unchanged_stack_equal(self) -> None:
        """
        Changing one stack, or IkeConfig, leaves the other stacks equal.
        """
        old = self.load(self.two())
        new = self.load(
            self.servers("NssWaitLimit 5", "NetworkSecurityServerBackup b")
            + self.nss("TCPIP", "Namespace blue")
            + self.nss("TCPIPC", "AuthBy PassTicket", f"PassTicketKeyFile {self.key}")
        )
        self.assertNotEqual(old, new)
        self.assertEqual(old.nssStacks["TCPIPC"], new.nssStacks["TCPIPC"])
        self.assertNotEqual(old.nssStacks["TCPIP"], new.nssStacks["TCPIP"])

    def test_every_field_counts(self) -> None:
        """
        Each field that shapes a connection changes the stack's equality.
        """
        stack = self.load(self.two()).nssStacks["TCPIP"]
        for change in (
            {"clientName": "other"},
            {"services": Services.NETMGMT},
            {"userid": "OTHER"},
            {"authBy": AuthBy.PASSTICKET},
            {"secretFile": "/other"},
            {"namespace": "blue"},
        ):
            self.assertNotEqual(replace(stack, **change), stack, change)

    def test_system_name_changes_default_client(self) -> None:
        """
        The default client name follows the system name, so changing
        SystemName reconnects stacks that do not code ClientName.
        """
        old = self.load(self.two())
        new = self.load(
            self.two()
            + ike(
                "SystemName MVS2",
                "NetworkSecurityServer nssd.example.com",
                f"CaFile {self.ca}",
            )
        )
        self.assertNotEqual(old.nssStacks["TCPIP"], new.nssStacks["TCPIP"])

    def test_secret_content_is_not_configuration(self) -> None:
        """
        A changed password does not change the configuration: the next
        logon reads it anyway.
        """
        old = self.load(self.two())
        self.secret("tcpip.pw", "changed\n")
        self.assertEqual(self.load(self.two()), old)

    def test_immutable(self) -> None:
        config = self.load(self.two())

        def assign() -> None:
            config.nssStacks["X"] = config.nssStacks["TCPIP"]  # type: ignore[index]

        self.assertRaises(TypeError, assign)
        self.assertRaises(AttributeError, setattr, config, "nssWaitLimit", 1)
        self.assertIsInstance(config.stacks, tuple)

    def test_direct_construction(self) -> None:
        """
        Built by hand from a dict, a configuration equals the loaded one;
        NSS stacks missing from C{stacks} are added to it.
        """
        loaded = self.load(self.two())
        built = IkedConfiguration(
            systemName="MVS1",
            primary=NssServerAddress("nssd.example.com"),
            caFile=self.ca,
            nssStacks=dict(loaded.nssStacks),
        )
        self.assertEqual(built, loaded)
        self.assertEqual(built.stack_names(), ["TCPIP", "TCPIPC"])
        self.assertEqual(hash(built), hash(loaded))


class PropertyTests(Files):
    """
    Arbitrary text never raises anything but L{ConfigurationError}.
    """

    keyword_lines = st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "NetworkSecurityServer",
                    "NetworkSecurityServerBackup",
                    "NssWaitLimit",
                    "KeyRing",
                    "NoKeyRing",
                    "SMF119",
                    "ClientName",
                    "ServiceType",
                    "UserID",
                    "AuthBy",
                    "Namespace",
                    "Port",
                    "Identity",
                    "X500dn",
                    "Other",
                ]
            ),
            st.lists(st.text(max_size=12).filter(lambda t: "\n" not in t), max_size=5),
        ),
        max_size=6,
    )

    @cheap
    @given(st.text(), st.text(max_size=10))
    def test_arbitrary_text(self, text: str, hostname: str) -> None:
        try:
            self.load(text, hostname)
        except ConfigurationError:
            pass

    @cheap
    @given(
        st.sampled_from(["IkeConfig", "NssStackConfig TCPIP", "TcpipStack T"]),
        keyword_lines,
    )
    def test_arbitrary_values(
        self, header: str, lines: list[tuple[str, list[str]]]
    ) -> None:
        text = self.servers() + block(
            header, *(" ".join([k, *(_quote(v) for v in vs)]) for k, vs in lines)
        )
        try:
            config = self.load(text)
        except ConfigurationError as e:
            self.assertEqual(e.filename, "iked.conf")
        else:
            self.assertIsInstance(config, IkedConfiguration)


class RequireRemoteIdentityTests(Files):
    """
    IkeConfig RequireRemoteIdentity: a rule that would accept any
    certificate from a trusted CA is refused when it says so (issue 23,
    item 7).
    """

    def policy(self, remoteIdentity: bool) -> str:
        from tests.test_iked_keyexchange_ikepolicy import EXAMPLE

        text = EXAMPLE
        if not remoteIdentity:
            text = text.replace("    Identity   Fqdn strongswan.iked.test\n", "")
        return self.secret("stack.policy", text, 0o644)

    def test_refused(self) -> None:
        path = self.policy(remoteIdentity=False)
        text = ike("RequireRemoteIdentity yes") + tcpip("TCPIP", f"PolicyFile {path}")
        error = self.assertBad(
            text,
            f"PolicyFile {path}",
            "PolicyFile",
            "KeyExchangeRule strongswan-peer names no Identity on its"
            " RemoteSecurityEndpoint",
        )
        self.assertIn("RequireRemoteIdentity yes", str(error))

    def test_accepted(self) -> None:
        path = self.policy(remoteIdentity=False)
        config = self.load(ike() + tcpip("TCPIP", f"PolicyFile {path}"))
        self.assertFalse(config.requireRemoteIdentity)
        path = self.policy(remoteIdentity=True)
        config = self.load(
            ike("RequireRemoteIdentity yes") + tcpip("TCPIP", f"PolicyFile {path}")
        )
        self.assertTrue(config.requireRemoteIdentity)
        self.assertIn("  RequireRemoteIdentity yes", config.describe())


class FloodLimitTests(Files):
    """
    IkeConfig CookieThreshold and HalfOpenLimit: the responder's defence
    against IKE_SA_INIT floods (issue 15, item 6).
    """

    def test_defaults(self) -> None:
        config = self.load(ike())
        self.assertEqual((config.cookieThreshold, config.halfOpenLimit), (30, 1000))

    def test_coded(self) -> None:
        config = self.load(ike("CookieThreshold 0", "HalfOpenLimit 50"))
        self.assertEqual((config.cookieThreshold, config.halfOpenLimit), (0, 50))
        self.assertIn("  CookieThreshold 0", config.describe())
        self.assertIn("  HalfOpenLimit 50", config.describe())
        data = config.display_data()[0]["Settings"]
        self.assertEqual((data["CookieThreshold"], data["HalfOpenLimit"]), (0, 50))
        again = self.load("\n".join(config.describe()) + "\n")
        self.assertEqual(again.halfOpenLimit, 50)

    def test_ranges(self) -> None:
        self.assertBadIke("CookieThreshold -1", "must be a number from 0 to 100000")
        self.assertBadIke("HalfOpenLimit 0", "must be a number from 1 to 1000000")

    def test_threshold_below_limit(self) -> None:
        """A COOKIE threshold at or above the limit would lock real peers out."""
        text = ike("HalfOpenLimit 40", "CookieThreshold 40")
        error = self.assertBad(
            text,
            "CookieThreshold 40",
            "CookieThreshold",
            "CookieThreshold (40) must be below HalfOpenLimit (40)",
        )
        self.assertIn("asked for a COOKIE", str(error))
        self.assertBad(
            ike("HalfOpenLimit 30"),
            "HalfOpenLimit 30",
            "HalfOpenLimit",
            "CookieThreshold (30) must be below HalfOpenLimit (30)",
        )
