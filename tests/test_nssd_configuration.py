"""
Tests for L{nsstwisted.nssd.configuration}: nssd.conf's keywords, defaults,
merge rule, errors, search order and display.
"""

from __future__ import annotations

import grp
import os
import socket

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.config import ConfigurationError
from nsstwisted.ike.policy import PeerEku
from nsstwisted.nssd.configuration import (
    DEFAULT_CONFIG_PATH,
    NssdConfiguration,
    SyslogLevel,
    config_path,
    default_system_name,
    load_nssd_configuration,
    nssd_configuration_from_text,
)
from nsstwisted.protocols.nmi import DEFAULT_IDLE_TIMEOUT
from tests.strategies import nssd_configurations

fast = settings(max_examples=200, deadline=None, database=None)
cheap = settings(max_examples=1000, deadline=None, database=None)

SEED = """\
NssConfig
{
  # specify port that NSS server will bind to
  Port 4159
  # specify minimum syslog logging
  SyslogLevel 1
  # specify NSS keyring
  KeyRing nssd/keyring
}
"""


def load(text: str, hostname: str = "mvs1.example.com") -> NssdConfiguration:
    return nssd_configuration_from_text(text, "nssd.conf", hostname=hostname)


def body(*lines: str) -> str:
    return "NssConfig\n{\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


class SeedTests(SynchronousTestCase):
    """
    The seed's example file gives the configuration it describes.
    """

    def test_seed(self) -> None:
        self.assertEqual(
            load(SEED),
            NssdConfiguration(
                systemName="MVS1",
                port=4159,
                syslogLevel=1,
                keyRing=("NSSD", "KEYRING"),
                tlsKeyRing=("NSSD", "KEYRING"),
            ),
        )

    def test_load_file(self) -> None:
        """
        L{load_nssd_configuration} reads the file and names it in errors.
        """
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(SEED)
        self.assertEqual(load_nssd_configuration(path, hostname="mvs1"), load(SEED))
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(body("Port 70000"))
        error = self.assertRaises(
            ConfigurationError, load_nssd_configuration, path, hostname="mvs1"
        )
        self.assertTrue(str(error).startswith(f"{path}:3: Port: "))

    def test_missing_file(self) -> None:
        path = self.mktemp()
        error = self.assertRaises(ConfigurationError, load_nssd_configuration, path)
        self.assertEqual(error.filename, path)


class DefaultTests(SynchronousTestCase):
    """
    An empty C{NssConfig} gives IBM's defaults and ours.
    """

    def test_defaults(self) -> None:
        config = load("NssConfig {}", hostname="nsshost")
        self.assertEqual(config, NssdConfiguration(systemName="NSSHOST"))
        self.assertEqual(config.port, 4159)
        self.assertEqual(config.syslogLevel, 0)
        self.assertIsNone(config.keyRing)
        self.assertIsNone(config.securityDatabase)
        self.assertIsNone(config.tlsKeyRing)
        self.assertIsNone(config.tlsLabel)
        self.assertEqual(config.nmiSocket, "/var/sock/nss")
        self.assertIs(config.verifyEku, PeerEku.IKE)

    def test_system_name_from_host(self) -> None:
        """
        The default system name is the upper-case short host name, cut to 8.
        """
        self.assertEqual(load("NssConfig {}", "mvs1.example.com").systemName, "MVS1")
        self.assertEqual(
            load("NssConfig {}", "verylonghostname").systemName, "VERYLONG"
        )
        self.assertEqual(load("NssConfig {}", "sys$1").systemName, "SYS$1")
        self.assertEqual(default_system_name("a.b.c"), "A")

    def test_system_name_from_bad_host(self) -> None:
        """
        A host name that gives no valid system name asks for C{SystemName}
        rather than guessing; coding it is enough.
        """
        for host in ("web-01", "", ".example", "h_1"):
            error = self.assertRaises(ConfigurationError, load, "NssConfig {}", host)
            self.assertEqual(
                (error.filename, error.line, error.keyword),
                ("nssd.conf", None, "SystemName"),
            )
            self.assertIn("code SystemName", error.message)
        self.assertEqual(load(body("SystemName WEB01"), "web-01").systemName, "WEB01")

    def test_gethostname(self) -> None:
        """
        Without a host name given, the system's own is used.
        """
        self.patch(socket, "gethostname", lambda: "lpar7.example.com")
        self.assertEqual(
            nssd_configuration_from_text("NssConfig {}", "f").systemName, "LPAR7"
        )

    def test_tls_ring_defaults_to_key_ring(self) -> None:
        config = load(body("KeyRing nssd/nssring"))
        self.assertEqual(config.tlsKeyRing, ("NSSD", "NSSRING"))
        config = load(body("KeyRing nssd/nssring", "TlsKeyRing tls/ring"))
        self.assertEqual(config.tlsKeyRing, ("TLS", "RING"))

    def test_syslog_bits(self) -> None:
        self.assertEqual(
            SyslogLevel(load(body("SyslogLevel 10")).syslogLevel),
            SyslogLevel.VERBOSE | SyslogLevel.LIFECYCLE,
        )


class KeywordTests(SynchronousTestCase):
    """
    Each keyword's good values.
    """

    def test_all(self) -> None:
        config = load(
            body(
                "port 5000",
                "SYSLOGLEVEL 15",
                "KeyRing owner1/ring.one",
                "Discipline IPSec Enable",
                "discipline xmlappliance disable",
                "SystemName sys#1",
                "SecurityDatabase /var/lib/nss/sec.db",
                "TlsKeyRing tlsring",
                'TlsLabel "NSS Server Cert"',
                "NmiSocket /run/nss.sock",
                "nmiidletimeout 5",
                "maxconnections 5000",
                "MAXCONNECTIONSPERADDRESS 16",
                "LogonTimeout 10",
            )
        )
        self.assertEqual(
            config,
            NssdConfiguration(
                port=5000,
                syslogLevel=15,
                keyRing=("OWNER1", "RING.ONE"),
                systemName="SYS#1",
                securityDatabase="/var/lib/nss/sec.db",
                tlsKeyRing=("NSSD", "TLSRING"),
                tlsLabel="NSS Server Cert",
                nmiSocket="/run/nss.sock",
                nmiIdleTimeout=5,
                maxConnections=5000,
                maxConnectionsPerAddress=16,
                logonTimeout=10,
            ),
        )

    def test_pkcs11(self) -> None:
        """
        The PKCS#11 token's module, label and PIN file, coded together.
        """
        config = load(
            body(
                "Pkcs11Module /usr/lib/softhsm/libsofthsm2.so",
                'pkcs11tokenlabel "NSS Keys"',
                "PKCS11PINFILE /etc/security/nss-token.pin",
            )
        )
        self.assertEqual(
            (config.pkcs11Module, config.pkcs11TokenLabel, config.pkcs11PinFile),
            (
                "/usr/lib/softhsm/libsofthsm2.so",
                "NSS Keys",
                "/etc/security/nss-token.pin",
            ),
        )
        self.assertIn('Pkcs11TokenLabel "NSS Keys"', config.describe())

    def test_connection_defaults(self) -> None:
        """
        The limits default to what a reconnect storm of 1,000 iked clients
        needs, with room to spare: 4096 in all, 128 from one address (a
        host's eight stacks, sixteen times, for hosts behind one NAT), and
        30 seconds to log on.
        """
        config = load(body("KeyRing r"))
        self.assertEqual(
            (
                config.maxConnections,
                config.maxConnectionsPerAddress,
                config.logonTimeout,
            ),
            (4096, 128, 30),
        )
        self.assertGreater(config.maxConnections, 1000)
        self.assertGreaterEqual(config.maxConnectionsPerAddress, 8)

    def test_ring_without_owner(self) -> None:
        """
        C{KeyRing ringname} is owned by the server's user ID, NSSD.
        """
        self.assertEqual(load(body("KeyRing nssring")).keyRing, ("NSSD", "NSSRING"))

    def test_label_case_kept(self) -> None:
        config = load(body("KeyRing r", "TlsLabel nssServer"))
        self.assertEqual(config.tlsLabel, "nssServer")

    def test_limits(self) -> None:
        config = load(body("Port 1", "KeyRing " + "R" * 237, "TlsLabel " + "L" * 32))
        self.assertEqual((config.port, config.tlsLabel), (1, "L" * 32))
        self.assertEqual(load(body("Port 65535", "SyslogLevel 0")).port, 65535)
        self.assertEqual(
            load(body("NmiSocket /" + "s" * 106)).nmiSocket, "/" + "s" * 106
        )
        self.assertEqual(load(body("NmiIdleTimeout 0")).nmiIdleTimeout, 0)
        self.assertEqual(load(body("NmiIdleTimeout 86400")).nmiIdleTimeout, 86400)

    def test_nmiIdleTimeoutDefault(self) -> None:
        """
        The default is the protocol's, as a whole number of seconds.
        """
        self.assertEqual(load(body()).nmiIdleTimeout, DEFAULT_IDLE_TIMEOUT)

    def test_socket_group_and_mode(self) -> None:
        """
        The group is one of this host's, by name or number, kept as
        written; the mode is octal.
        """
        group = grp.getgrgid(os.getegid())
        config = load(body(f"NmiSocketGroup {group.gr_name}", "NmiSocketMode 0600"))
        self.assertEqual(
            (config.nmiSocketGroup, config.nmiSocketMode), (group.gr_name, 0o600)
        )
        config = load(body(f"NmiSocketGroup {group.gr_gid}", "NmiSocketMode 770"))
        self.assertEqual(
            (config.nmiSocketGroup, config.nmiSocketMode), (str(group.gr_gid), 0o770)
        )
        config = load(body())
        self.assertEqual((config.nmiSocketGroup, config.nmiSocketMode), (None, 0o660))


class MergeTests(SynchronousTestCase):
    """
    Several C{NssConfig} statements merge; the last value of a keyword wins.
    """

    def test_merge(self) -> None:
        config = load(
            body("Port 5000", "SyslogLevel 2")
            + body("KeyRing a/b")
            + body("Port 6000", "port 7000")
        )
        self.assertEqual(
            (config.port, config.syslogLevel, config.keyRing), (7000, 2, ("A", "B"))
        )

    def test_bad_value_not_hidden_by_later(self) -> None:
        """
        Every value is checked, even one a later value overrides.
        """
        error = self.assertRaises(
            ConfigurationError, load, body("Port 70000", "Port 4159")
        )
        self.assertEqual(error.line, 3)


class ErrorTests(SynchronousTestCase):
    """
    Every bad value is an error naming file, line and keyword as written.
    """

    def assertBad(self, line: str, message: str, *before: str) -> ConfigurationError:
        text = body(*before, line)
        error: ConfigurationError = self.assertRaises(ConfigurationError, load, text)
        keyword = line.split()[0] if line.split() else None
        self.assertEqual(
            (error.filename, error.line, error.keyword),
            ("nssd.conf", 3 + len(before), keyword),
        )
        self.assertIn(message, error.message)
        self.assertTrue(str(error).startswith(f"nssd.conf:{3 + len(before)}: "))
        return error

    def test_port(self) -> None:
        for bad in ("65536", "-1", "+80", "4159x", "0x10", "١٢", "99999999999"):
            self.assertBad(f"Port {bad}", "must be a number from 0 to 65535")
        self.assertBad("Port", "takes exactly one value")
        self.assertBad("Port 1 2", "takes exactly one value")

    def test_syslog_level(self) -> None:
        for bad in ("16", "-1", "a", "1.0"):
            self.assertBad(f"SyslogLevel {bad}", "must be a number from 0 to 15")

    def test_pkcs11(self) -> None:
        """
        A token needs its module, label and PIN file, each well formed: a
        PIN file named relative to a daemon's working folder would be
        another file than the one meant.
        """
        module = "Pkcs11Module /usr/lib/softhsm/libsofthsm2.so"
        label = "Pkcs11TokenLabel NSS"
        pinFile = "Pkcs11PinFile /etc/nss.pin"
        self.assertBad(
            module, "needs Pkcs11TokenLabel and Pkcs11PinFile as well", "SystemName A"
        )
        self.assertBad(pinFile, "needs Pkcs11TokenLabel as well", module)
        self.assertBad("Pkcs11PinFile token.pin", "must be an absolute path")
        self.assertBad("Pkcs11Module libsofthsm2.so", "must be an absolute path")
        self.assertBad('Pkcs11TokenLabel "' + "x" * 33 + '"', "1 to 32 bytes")
        self.assertBad('Pkcs11TokenLabel "' + "é" * 17 + '"', "1 to 32 bytes")
        self.assertBad('Pkcs11TokenLabel " NSS"', "must not begin or end with a blank")
        load(body(module, label, pinFile))

    def test_message_format(self) -> None:
        error = self.assertBad("Port 65536", "from 0 to 65535")
        self.assertEqual(
            str(error), "nssd.conf:3: Port: must be a number from 0 to 65535"
        )

    def test_key_ring(self) -> None:
        for keyword in ("KeyRing", "TlsKeyRing"):
            self.assertBad(f"{keyword} 1abc/ring", "must be a user ID")
            self.assertBad(f"{keyword} ninechars/ring", "must be a user ID")
            self.assertBad(f"{keyword} /ring", "must be a user ID")
            self.assertBad(f"{keyword} nssd/", "the ring name")
            self.assertBad(f"{keyword} nssd/a/b", "the ring name")
            self.assertBad(f'{keyword} "nssd/my ring"', "the ring name")
            self.assertBad(f"{keyword} nssd/a(b)", "the ring name")
            self.assertBad(f"{keyword} nssd/" + "r" * 238, "the ring name")
            self.assertBad(f"{keyword} a b", "takes exactly one value")

    def test_system_name(self) -> None:
        for bad in ("NINECHARS", "web-01", '""', "SYS.1", "sys_1"):
            self.assertBad(f"SystemName {bad}", "must be 1 to 8 of A-Z 0-9 @ # $")

    def test_paths(self) -> None:
        self.assertBad("SecurityDatabase sec.db", "must be an absolute path")
        self.assertBad('SecurityDatabase ""', "must be an absolute path")

    def test_database_uri(self) -> None:
        """
        A PostgreSQL URI names a shared database, with its stash named
        beside it; a URI carrying a password is refused, since the
        configuration is shown to operators.
        """
        uri = "postgresql://nssd@db.example.com:5432/nss?sslmode=verify-full"
        config = load(body(f'SecurityDatabase "{uri}"', "StashFile /etc/nss/nss.sth"))
        self.assertEqual(config.securityDatabase, uri)
        self.assertEqual(config.stashFile, "/etc/nss/nss.sth")
        self.assertIn(f"SecurityDatabase {uri}", config.describe())
        for bad in (
            "postgresql://nssd:secret@db.example.com/nss",
            "postgresql://nssd@db.example.com/nss?password=secret",
        ):
            self.assertBad(f'SecurityDatabase "{bad}"', "must not hold a password")
        self.assertBad("StashFile nss.sth", "must be an absolute path")
        self.assertBad("NmiSocket var/sock/nss", "must be an absolute path")
        self.assertBad("NmiSocket /" + "s" * 107, "at most 107 bytes")
        self.assertBad("NmiSocket /" + "é" * 54, "at most 107 bytes")

    def test_nmi_idle_timeout(self) -> None:
        for bad in ("86401", "-1", "1.5", "soon"):
            self.assertBad(
                f"NmiIdleTimeout {bad}",
                "must be a number from 0 to 86400 (seconds; 0 for no idle timeout)",
            )

    def test_socket_group(self) -> None:
        self.assertBad(
            "NmiSocketGroup nssops-typo",
            "the group 'nssops-typo' does not exist on this host",
        )
        self.assertBad("NmiSocketGroup 4294967296", "does not exist on this host")
        self.assertBad("NmiSocketGroup", "takes exactly one value")

    def test_socket_mode(self) -> None:
        """
        A mode that lets others connect is refused, not warned about:
        nothing but the socket's mode keeps other users from iked's
        requests.
        """
        for bad in ("0666", "0662", "0601", "0667"):
            self.assertBad(
                f"NmiSocketMode {bad}",
                f"{bad} would let every user of this host connect",
            )
        for bad in ("0060", "0460", "0200"):
            self.assertBad(f"NmiSocketMode {bad}", "keep the daemon's own user out")
        for bad in ("1660", "06600", "0o660", "66", "0680", "rw-rw----", "-660"):
            self.assertBad(f"NmiSocketMode {bad}", "must be an octal mode")

    def test_tls_label(self) -> None:
        self.assertBad("TlsLabel " + "L" * 33, "1 to 32 printable", "KeyRing r")
        self.assertBad('TlsLabel ""', "1 to 32 printable", "KeyRing r")
        self.assertBad('TlsLabel "a\u00a0b"', "1 to 32 printable", "KeyRing r")
        self.assertBad("TlsLabel a b", "exactly one value", "KeyRing r")

    def test_tls_label_without_ring(self) -> None:
        """
        A label needs a ring to be on.
        """
        self.assertBad("TlsLabel cert", "neither TlsKeyRing nor KeyRing")

    def test_connection_limits(self) -> None:
        for keyword in ("MaxConnections", "MaxConnectionsPerAddress"):
            for bad in ("0", "65536", "-1", "1k", "1.5"):
                self.assertBad(f"{keyword} {bad}", "must be a number from 1 to 65535")
            self.assertBad(f"{keyword} 1 2", "takes exactly one value")
        for bad in ("0", "601", "30s"):
            self.assertBad(
                f"LogonTimeout {bad}", "must be a number from 1 to 600 (seconds)"
            )

    def test_discipline(self) -> None:
        self.assertBad("Discipline IPSec Disable", "not supported")
        self.assertBad("Discipline XMLAppliance Enable", "not supported")
        self.assertBad("Discipline XMLApplicance Enable", "IPSec or XMLAppliance")
        self.assertBad("Discipline IPSec On", "IPSec or XMLAppliance")
        self.assertBad("Discipline IPSec", "a discipline and Enable or Disable")

    def test_unknown_keyword(self) -> None:
        error = self.assertBad("URLCacheInterval 10", "unknown keyword")
        self.assertEqual(error.message, "unknown keyword of NssConfig")

    def test_unknown_keyword_suggests(self) -> None:
        """
        A keyword mistyped gets the nearest valid one, in the case it was
        written in.
        """
        for written, meant in [
            ("MaxConection 5", "MaxConnections"),
            ("maxconnectionperaddress 5", "maxconnectionsperaddress"),
            ("SYSLOGLEVL 1", "SYSLOGLEVEL"),
            ("LogonTimout 5", "LogonTimeout"),
        ]:
            error = self.assertBad(written, "unknown keyword")
            self.assertEqual(
                error.message, f"unknown keyword of NssConfig; did you mean {meant}?"
            )

    def test_verify_eku(self) -> None:
        """
        VERIFY takes the TLS purposes only when told to, in either case.
        """
        self.assertIs(load(body("VerifyEku ikeortls")).verifyEku, PeerEku.IKE_OR_TLS)
        self.assertIs(load(body("VerifyEku IKE")).verifyEku, PeerEku.IKE)
        for bad in ("Tls", "All", "yes", '""'):
            self.assertBad(f"VerifyEku {bad}", "Ike (the RFC 4945 profile) or IkeOrTls")
        self.assertBad("VerifyEku Ike Tls", "takes exactly one value")

    def test_statements(self) -> None:
        """
        Only unnamed C{NssConfig} statements are allowed, and one is needed.
        """
        cases = [
            ("IkeConfig {}", "IkeConfig", "not a statement of nssd.conf"),
            ("IPSecDisciplineConfig\n{\n}", "IPSecDisciplineConfig", "not supported"),
            ("NssConfig main {}", "NssConfig", "takes no name"),
        ]
        for text, keyword, message in cases:
            error = self.assertRaises(ConfigurationError, load, body("Port 1") + text)
            self.assertEqual(
                (error.filename, error.line, error.keyword),
                ("nssd.conf", 5, keyword),
            )
            self.assertIn(message, error.message)
        for text in ("", "# only a comment\n"):
            error = self.assertRaises(ConfigurationError, load, text)
            self.assertEqual((error.filename, error.line), ("nssd.conf", None))
            self.assertIn("no NssConfig statement", error.message)

    def test_syntax_error(self) -> None:
        error = self.assertRaises(ConfigurationError, load, "NssConfig\nPort 1\n")
        self.assertEqual((error.line, error.keyword), (1, "NssConfig"))


class ConfigPathTests(SynchronousTestCase):
    """
    The file is C{--config}, else C{NSSD_FILE}, else the default.
    """

    def test_order(self) -> None:
        env = {"NSSD_FILE": "/env/nssd.conf"}
        self.assertEqual(config_path("/cli/nssd.conf", env), "/cli/nssd.conf")
        self.assertEqual(config_path(None, env), "/env/nssd.conf")
        self.assertEqual(config_path(None, {}), DEFAULT_CONFIG_PATH)
        self.assertEqual(DEFAULT_CONFIG_PATH, "/etc/security/nssd.conf")

    def test_empty_is_unset(self) -> None:
        self.assertEqual(config_path("", {"NSSD_FILE": ""}), DEFAULT_CONFIG_PATH)

    def test_process_environment(self) -> None:
        self.patch(os, "environ", {"NSSD_FILE": "/p/nssd.conf"})
        self.assertEqual(config_path(None), "/p/nssd.conf")


# --- describe -----------------------------------------------------------------


class DescribeTests(SynchronousTestCase):
    """
    L{NssdConfiguration.describe} prints the file's own syntax, which
    pastes back into the same configuration.
    """

    def test_seed(self) -> None:
        self.assertEqual(
            load(SEED).describe(),
            [
                "Port 4159",
                "SyslogLevel 1",
                "KeyRing NSSD/KEYRING",
                "Discipline IPSec Enable",
                "SystemName MVS1",
                "# SecurityDatabase (not set)",
                "# StashFile (not set)",
                "TlsKeyRing NSSD/KEYRING",
                "# TlsLabel (the ring's DEFAULT certificate)",
                "NmiSocket /var/sock/nss",
                "NmiIdleTimeout 60",
                "# NmiSocketGroup (nssd's own group)",
                "NmiSocketMode 0660",
                "VerifyEku Ike",
                "MaxConnections 4096",
                "MaxConnectionsPerAddress 128",
                "LogonTimeout 30",
                "# MetricsPort (off)",
                "# AuditFile (no audit trail)",
                "AuditSync interval",
                "AuditRequired no",
                "AuditSyslog none",
                "AuditSyslogSocket /dev/log",
                "# Pkcs11Module (no PKCS#11 token)",
                "# Pkcs11TokenLabel (not set)",
                "# Pkcs11PinFile (not set)",
            ],
        )

    def test_quoting(self) -> None:
        config = load(body("KeyRing r", 'TlsLabel "NSS Server"', 'NmiSocket "/a b"'))
        lines = config.describe()
        self.assertIn('TlsLabel "NSS Server"', lines)
        self.assertIn('NmiSocket "/a b"', lines)

    @fast
    @given(nssd_configurations())
    def test_round_trip(self, config: NssdConfiguration) -> None:
        """
        The described lines inside C{NssConfig { }} give an equal
        configuration, whatever the host.
        """
        text = "NssConfig {\n" + "\n".join(config.describe()) + "\n}\n"
        self.assertEqual(load(text, hostname="other"), config)


class PropertyTests(SynchronousTestCase):
    """
    Arbitrary text never raises anything but L{ConfigurationError}.
    """

    keyword_lines = st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Port",
                    "SyslogLevel",
                    "KeyRing",
                    "Discipline",
                    "SystemName",
                    "SecurityDatabase",
                    "TlsKeyRing",
                    "TlsLabel",
                    "NmiSocket",
                    "NmiIdleTimeout",
                    "NmiSocketGroup",
                    "NmiSocketMode",
                    "VerifyEku",
                    "Other",
                ]
            ),
            st.lists(st.text(max_size=12).filter(lambda t: "\n" not in t), max_size=3),
        ),
        max_size=6,
    )

    @cheap
    @given(st.text(), st.text(max_size=10))
    def test_arbitrary_text(self, text: str, hostname: str) -> None:
        try:
            load(text, hostname)
        except ConfigurationError:
            pass

    @cheap
    @given(keyword_lines, st.text(max_size=10))
    def test_arbitrary_values(
        self, lines: list[tuple[str, list[str]]], hostname: str
    ) -> None:
        """
        Known keywords with arbitrary values: a configuration or a
        L{ConfigurationError}.
        """
        text = body(*(" ".join([keyword, *values]) for keyword, values in lines))
        try:
            config = load(text, hostname)
        except ConfigurationError as e:
            self.assertEqual(e.filename, "nssd.conf")
        else:
            self.assertIsInstance(config, NssdConfiguration)


class DisplayDataTests(SynchronousTestCase):
    """
    L{NssdConfiguration.display_data}, the data of C{nss-modify nssd
    display --json}, says what L{NssdConfiguration.describe} says.
    """

    def test_seed(self) -> None:
        [statement] = load(SEED).display_data()
        self.assertEqual(
            (statement["Statement"], statement["Name"]), ("NssConfig", None)
        )
        settings = statement["Settings"]
        self.assertEqual(settings["Port"], 4159)
        self.assertEqual(settings["KeyRing"], "NSSD/KEYRING")
        self.assertIsNone(settings["TlsLabel"])
        self.assertEqual(settings["NmiSocketMode"], "0660")

    @fast
    @given(nssd_configurations())
    def test_sameKeywords(self, config: NssdConfiguration) -> None:
        """
        The data has a key for every keyword of the display, in its order,
        so that neither form can gain a setting the other lacks.
        """
        keywords = [
            line.split()[1] if line.startswith("# ") else line.split()[0]
            for line in config.describe()
        ]
        [statement] = config.display_data()
        self.assertEqual(list(statement["Settings"]), keywords)
