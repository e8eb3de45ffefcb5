"""
Tests for L{nsstwisted.assistant.importer}: a real installation (the
documented RACF job run with nss-racf on a fresh database, nssd.conf for
it, the documented iked.conf example and a second image whose stacks are
the job's clients) read back into a description; and the bad input an
import refuses, each with its message.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SkipTest, TestCase

from nsstwisted.assistant.importer import (
    ImportedInstallation,
    ImportRefused,
    import_installation,
)
from nsstwisted.assistant.model import (
    Certificate,
    Operator,
    Stack,
    StackSettings,
    effective_settings,
)
from tests.daemons import ROOT, SecuritySetup, build_security, racf, write_nssd_config


def documented_example(document: str, heading: str) -> str:
    """
    The first code block after C{heading} in C{docs/document}: the tests
    import the examples the documentation shows, so that they stay true.
    """
    with open(os.path.join(ROOT, "docs", document), encoding="utf-8") as f:
        text = f.read()
    after = text.split(heading, 1)[1]
    return after.split("```\n", 2)[1]


# A second image, whose stacks are the clients of docs/examples/nss-setup.racf.
HOST2_IKED = """\
IkeConfig
{
  SystemName HOST2
  NetworkSecurityServer 192.0.2.10 Port 4159 Identity Fqdn nssd1.example.com
  CaFile /etc/nss/ca.pem
  SaInstaller Xfrm
}
NssStackConfig TCPIP
{
  ClientName CLIENT1
  ServiceType Cert
  ServiceType RemoteMgmt
  UserID CLIENT1
  PasswordFile /etc/nss/client1.pw
}
NssStackConfig TCPIPB
{
  ClientName CLIENT2
  ServiceType Cert
  ServiceType RemoteMgmt
  UserID CLIENT2
  AuthBy PassTicket
  PassTicketKeyFile /etc/nss/client2.key
  PolicyFile /etc/nss/tcpipb.policy
}
"""


class InstallationTestCase(TestCase):
    """
    A security database made by the documented job, and files beside it.
    """

    def setUp(self) -> None:
        self.setup: SecuritySetup = build_security(self)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.setup.folder, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def nssd_conf(self, *extra: str) -> str:
        return write_nssd_config(self.setup, *extra, port=4159)

    def import_example(self) -> ImportedInstallation:
        docs = self.write(
            "mvs1.conf",
            documented_example("iked-config.md", "## A complete example"),
        )
        host2 = self.write("host2.conf", HOST2_IKED)
        return import_installation([self.nssd_conf()], [docs, host2])

    def notices(self, result: ImportedInstallation) -> str:
        return "\n".join(str(n) for n in result.notices)


class ImportedInstallationTests(InstallationTestCase):
    def test_servers(self) -> None:
        """
        The iked.conf files' NetworkSecurityServer is the server nssd.conf
        describes (matched by port); the backup, which has no nssd.conf of
        its own, shares its primary's settings and says so.
        """
        result = self.import_example()
        primary, backup = result.description.servers
        self.assertEqual(
            (primary.name, primary.systemName, primary.address, primary.port),
            ("nsssys", "NSSSYS", "192.0.2.10", 4159),
        )
        self.assertEqual(primary.identity, "Fqdn nssd1.example.com")
        self.assertEqual(
            (primary.keyRing, primary.tlsKeyRing, primary.tlsLabel),
            ("NSSD/NSSRING", "NSSD/TLSRING", "NSSD TLS"),
        )
        self.assertEqual(
            (primary.syslogLevel, primary.database, primary.userId, primary.backupOf),
            (15, self.setup.database, "NSSD", None),
        )
        self.assertEqual(
            (backup.name, backup.systemName, backup.address, backup.backupOf),
            ("nssd2", "NSSSYS", "nssd2.example.com", "nsssys"),
        )
        self.assertIn(
            "NSA0093W no nssd.conf was given for the backup server",
            self.notices(result),
        )

    def test_imagesAndStacks(self) -> None:
        """
        The documented iked.conf becomes image MVS1: its stacks differ in
        user ID, AuthBy and services, so each overrides them; the client
        name that is the default MVS1_TCPIP is imported as None; the stack
        that is no NSS client keeps its namespace.
        """
        mvs1 = self.import_example().description.images[0]
        self.assertEqual((mvs1.name, mvs1.systemName), ("MVS1", "MVS1"))
        self.assertEqual(
            mvs1.defaults,
            StackSettings(
                servers=("nsssys", "nssd2"), nssWaitLimit=30, nssWaitRetries=2
            ),
        )
        self.assertEqual(
            (mvs1.caFile, mvs1.ikeSyslogLevel, mvs1.secretsDirectory),
            ("/etc/security/nss-ca.pem", 1, "/etc/security"),
        )
        self.assertEqual(
            mvs1.stacks,
            (
                Stack(
                    "TCPIP",
                    None,
                    StackSettings(
                        userId="NSSCLNT",
                        authBy="Password",
                        services=("Cert", "RemoteMgmt"),
                    ),
                ),
                Stack("TCPIPB", namespace="blue", nss=False),
                Stack(
                    "TCPIPC",
                    None,
                    StackSettings(
                        userId="NSSCLNT2", authBy="PassTicket", services=("Cert",)
                    ),
                    namespace="green",
                ),
            ),
        )
        self.assertEqual(mvs1.client_name_of(mvs1.stacks[0]), "MVS1_TCPIP")

    def test_sharedSettingsAreImageDefaults(self) -> None:
        """
        The settings every stack of HOST2 has alike are the image's (the
        services, being the documented default, are left unset); its
        stacks name their own client names, certificates and identities,
        found from the certificates their user IDs own.
        """
        host2 = self.import_example().description.images[1]
        self.assertEqual(
            (host2.systemName, host2.saInstaller, host2.secretsDirectory),
            ("HOST2", "Xfrm", "/etc/nss"),
        )
        self.assertEqual(host2.defaults, StackSettings(servers=("nsssys",)))
        tcpip, tcpipb = host2.stacks
        self.assertEqual(
            (tcpip.clientName, tcpipb.clientName, tcpipb.policyFile),
            ("CLIENT1", "CLIENT2", "/etc/nss/tcpipb.policy"),
        )
        self.assertEqual(
            tcpip.overrides,
            StackSettings(
                userId="CLIENT1",
                authBy="Password",
                certificate="Client1 cert",
                identity="Fqdn client1.example",
            ),
        )
        effective = effective_settings(host2, tcpipb)
        self.assertEqual(
            (
                effective.values.userId,
                effective.values.authBy,
                effective.values.services,
                effective.values.certificate,
                effective.values.identity,
            ),
            (
                "CLIENT2",
                "PassTicket",
                ("Cert", "RemoteMgmt"),
                "Client2 cert",
                "Fqdn client2.example",
            ),
        )
        self.assertEqual(effective.origins["servers"], "image")

    def test_allSharedBecomesImageDefault(self) -> None:
        """
        Two stacks alike in everything but their name leave nothing to
        override.
        """
        path = self.write(
            "alike.conf",
            "IkeConfig\n{\n  SystemName SYS2\n}\n"
            "NssStackConfig A\n{\n  UserID CLIENT1\n  ServiceType Cert\n"
            "  PasswordFile /s/a\n}\n"
            "NssStackConfig B\n{\n  UserID CLIENT1\n  ServiceType Cert\n"
            "  PasswordFile /s/b\n}\n",
        )
        image = import_installation([], [path]).description.images[0]
        self.assertEqual(
            image.defaults,
            StackSettings(userId="CLIENT1", services=("Cert",)),
        )
        self.assertEqual([s.overrides for s in image.stacks], [StackSettings()] * 2)

    def test_certificates(self) -> None:
        """
        The certificates on nssd's rings, CA first, with their owners, key
        types and sizes, issuers (as the CA's label) and subjectAltNames as
        identities; the one nssd presents in TLS is the server's.
        """
        certificates = self.import_example().description.certificates
        self.assertEqual(
            certificates,
            (
                Certificate(
                    "NSS CA",
                    "certauth",
                    "CN=NSS Test CA,O=Example",
                    "CERTAUTH",
                    keyType="NISTECC",
                    keySize=256,
                ),
                Certificate(
                    "NSSD TLS",
                    "server",
                    "CN=localhost,O=Example",
                    "NSSD",
                    ("Fqdn localhost", "IpAddr 127.0.0.1"),
                    "NISTECC",
                    256,
                    "NSS CA",
                ),
                Certificate(
                    "Client1 cert",
                    "client",
                    "CN=client1.example,O=Example",
                    "CLIENT1",
                    ("Fqdn client1.example",),
                    "RSA",
                    2048,
                    "NSS CA",
                ),
                Certificate(
                    "Client2 cert",
                    "client",
                    "CN=client2.example,O=Example",
                    "CLIENT2",
                    ("Fqdn client2.example",),
                    "NISTECC",
                    256,
                    "NSS CA",
                ),
            ),
        )

    def test_issuerMatchedBySignature(self) -> None:
        """
        Two CAs of one subject: the certificate names the one whose key
        signed it, not the first of that name.
        """
        racf(
            self.setup,
            "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('NSS Test CA') O('Example'))"
            " NISTECC SIZE(256) WITHLABEL('Impostor CA')",
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Impostor CA') RING(NSSRING)"
            " USAGE(CERTAUTH))",
        )
        result = import_installation([self.nssd_conf()], [])
        signers = {c.label: c.signedBy for c in result.description.certificates}
        self.assertEqual(signers["Client1 cert"], "NSS CA")
        self.assertEqual(signers["Impostor CA"], None)

    def test_operators(self) -> None:
        """
        The users the EZB.NETMGMT profiles permit are the operators: IPSECOP
        may list clients and display and control all of them.
        """
        operators = self.import_example().description.operators
        self.assertEqual(
            operators,
            (Operator("IPSECOP", ("*",), ("*",), listClients=True),),
        )

    def test_groupOperatorsAreItsMembers(self) -> None:
        racf(
            self.setup,
            "ADDGROUP OPS",
            "ADDUSER OP1 DFLTGRP(OPS) NOPASSWORD",
            "RDEFINE SERVAUTH EZB.NETMGMT.NSSSYS.CLIENT1.IPSEC.DISPLAY UACC(NONE)",
            "PERMIT EZB.NETMGMT.NSSSYS.CLIENT1.IPSEC.DISPLAY CLASS(SERVAUTH)"
            " ID(OPS) ACCESS(READ)",
        )
        result = import_installation([self.nssd_conf()], [])
        self.assertIn(Operator("OP1", ("CLIENT1",)), result.description.operators)
        self.assertIn(
            "NSA0095W SERVAUTH profile EZB.NETMGMT.NSSSYS.CLIENT1.IPSEC.DISPLAY"
            " permits the group OPS",
            self.notices(result),
        )

    def test_secretsAreNotImported(self) -> None:
        """
        What cannot be recovered is said: the private keys, the users'
        passwords and PassTicket keys, the stacks' secret files.
        """
        notices = self.notices(self.import_example())
        self.assertIn(
            "NSA0091W the private keys of the certificates are not imported"
            " (NSS CA, NSSD TLS, Client1 cert, Client2 cert)",
            notices,
        )
        self.assertIn(
            "NSA0091W the passwords of CLIENT1, IPSECOP and the PassTicket keys"
            " of NSSD are not imported",
            notices,
        )
        self.assertIn(
            "/etc/security/tcpip.pw, /etc/security/tcpipc.key) are not read", notices
        )
        self.assertNotIn("Cl1ent-One", notices)

    def test_settingsWithoutPlace(self) -> None:
        """
        A keyword the description has no place for is said with its file
        and line, unless it has the daemon's default, which is kept by
        being dropped.
        """
        result = import_installation(
            [self.nssd_conf("  MaxConnections 100", "  LogonTimeout 30")], []
        )
        notices = self.notices(result)
        self.assertIn(":10: MaxConnections 100: the description has no place", notices)
        self.assertNotIn("LogonTimeout", notices)

    def test_metricsAndAuditTrail(self) -> None:
        """
        The keywords of nssd's metrics and audit trail, and iked's
        MetricsPort, are imported into the description, not refused as
        unknown nor dropped with a notice.
        """
        nssd = self.nssd_conf(
            "  MetricsPort 9159 Interface 192.0.2.10",
            "  AuditFile /var/log/nssd/audit.log",
            "  AuditSync every",
            "  AuditRequired yes",
            "  AuditSyslog LOCAL3",
            "  AuditSyslogSocket /run/systemd/journal/syslog",
        )
        iked = self.write(
            "host2.conf",
            HOST2_IKED.replace(
                "SaInstaller Xfrm", "SaInstaller Xfrm\n  MetricsPort 9160"
            ),
        )
        result = import_installation([nssd], [iked])
        (server,) = result.description.servers
        self.assertEqual(
            (server.metricsPort, server.metricsInterface),
            (9159, "192.0.2.10"),
        )
        self.assertEqual(
            (
                server.auditFile,
                server.auditSync,
                server.auditRequired,
                server.auditSyslog,
                server.auditSyslogSocket,
            ),
            (
                "/var/log/nssd/audit.log",
                "every",
                True,
                "local3",
                "/run/systemd/journal/syslog",
            ),
        )
        (image,) = result.description.images
        # The default interface, loopback, is left unset.
        self.assertEqual((image.metricsPort, image.metricsInterface), (9160, None))
        self.assertNotIn("NSA0090W", self.notices(result))

    def test_pkcs11Token(self) -> None:
        """
        The keywords of nssd's PKCS#11 token are imported into the
        description, not refused as unknown nor dropped with a notice.
        """
        nssd = self.nssd_conf(
            "  Pkcs11Module /usr/lib/softhsm/libsofthsm2.so",
            '  Pkcs11TokenLabel "NSS KEYS"',
            "  Pkcs11PinFile /etc/security/nss-token.pin",
        )
        result = import_installation([nssd], [])
        (server,) = result.description.servers
        self.assertEqual(
            (server.pkcs11Module, server.pkcs11TokenLabel, server.pkcs11PinFile),
            (
                "/usr/lib/softhsm/libsofthsm2.so",
                "NSS KEYS",
                "/etc/security/nss-token.pin",
            ),
        )
        self.assertNotIn("NSA0090W", self.notices(result))

    def test_ikeTimersAndFragments(self) -> None:
        """
        Issue 15's IkeConfig keywords (IKE fragmentation, the flood
        defence, and IBM's retransmission timers, which iked now uses) are
        not refused: the description has no place for them, so a value
        other than iked's default is named in a notice (NSA0090W) and one
        at the default is not.
        """
        iked = self.write(
            "host2.conf",
            HOST2_IKED.replace(
                "  SaInstaller Xfrm\n",
                "  SaInstaller Xfrm\n  IkeFragmentSize 576\n  IkeRetries 6\n"
                "  IkeInitWait 3\n  CookieThreshold 30\n  HalfOpenLimit 500\n",
            ),
        )
        notices = self.notices(import_installation([self.nssd_conf()], [iked]))
        for keyword in ("IkeFragmentSize 576", "IkeInitWait 3", "HalfOpenLimit 500"):
            self.assertIn(keyword, notices)
        for keyword in ("IkeRetries", "CookieThreshold"):
            self.assertNotIn(keyword, notices)

    def test_auditTrailAtDefaults(self) -> None:
        """
        Without the keywords, or with their defaults coded, a server has no
        metrics and no audit trail, and the description says nothing of
        them.
        """
        nssd = self.nssd_conf(
            "  AuditSync interval",
            "  AuditRequired no",
            "  AuditSyslog none",
        )
        result = import_installation([nssd], [])
        (server,) = result.description.servers
        self.assertEqual(
            (
                server.metricsPort,
                server.auditFile,
                server.auditSync,
                server.auditRequired,
                server.auditSyslog,
                server.auditSyslogSocket,
            ),
            (None, None, "interval", False, None, None),
        )

    def test_documentedNssdConf(self) -> None:
        """
        The syntax example of docs/nssd-config.md, which codes no
        SystemName: the host's name gives it, as nssd would, and the
        notice says so; its ring is not in this database, which is said.
        """
        path = self.write(
            "docs-nssd.conf",
            documented_example("nssd-config.md", "## Syntax"),
        )
        result = import_installation(
            [path], [], database=self.setup.database, hostname="mvs1.example.com"
        )
        (server,) = result.description.servers
        self.assertEqual(
            (server.systemName, server.port, server.syslogLevel, server.keyRing),
            ("MVS1", 4159, 1, "NSSD/KEYRING"),
        )
        notices = self.notices(result)
        self.assertIn("NSA0092W", notices)
        self.assertIn("NSA0094W the key ring NSSD/KEYRING", notices)
        self.assertIn("NSA0093W", notices)

    def test_noDatabase(self) -> None:
        """
        Only iked.conf files (a client host's installation), and no
        database: the description has no certificates, and says why.
        """
        path = self.write("iked.conf", HOST2_IKED)
        result = import_installation([], [path])
        self.assertEqual(result.description.certificates, ())
        self.assertIn("NSA0096W no security database is named", self.notices(result))

    def test_databaseOfTheUsualSearch(self) -> None:
        """
        An nssd.conf without SecurityDatabase: the database is the one nssd
        would use, by NSS_SECURITY_DB.
        """
        path = self.write("plain.conf", "NssConfig\n{\n  SystemName NSSSYS\n}\n")
        result = import_installation(
            [path], [], environ={"NSS_SECURITY_DB": self.setup.database}
        )
        self.assertEqual(
            [c.label for c in result.description.certificates],
            ["NSS CA", "Client1 cert", "Client2 cert"],
        )
        self.assertEqual(result.description.operators[0].userId, "IPSECOP")

    def test_wrongStash(self) -> None:
        other = self.write("other.sth", "")
        os.chmod(other, 0o600)
        result = import_installation([self.nssd_conf()], [], stash=other)
        self.assertIn(
            f"NSA0096W the stash file {other} does not open", self.notices(result)
        )


class BadInputTests(InstallationTestCase):
    def assertRefused(self, messageId: str, *args: object, **kwargs: object) -> str:
        error: ImportRefused = self.assertRaises(
            ImportRefused, import_installation, *args, **kwargs
        )
        self.assertEqual(error.messageId, messageId)
        self.assertTrue(str(error).startswith(messageId + " "))
        return error.text

    def test_missingFile(self) -> None:
        missing = os.path.join(self.setup.folder, "absent.conf")
        text = self.assertRefused("NSA0080E", [], [missing])
        self.assertEqual(
            text, f"{missing}: cannot read the file: No such file or directory"
        )

    def test_notUtf8(self) -> None:
        path = os.path.join(self.setup.folder, "latin1.conf")
        with open(path, "wb") as f:
            f.write(b"NssConfig\n{\n  # caf\xe9\n}\n")
        text = self.assertRefused("NSA0080E", [path], [])
        self.assertEqual(text, f"{path}:3: the file is not valid UTF-8")

    def test_syntaxError(self) -> None:
        """The parser's file:line error, with the statement it names."""
        path = self.write("open.conf", "NssConfig\n{\n  Port 4159\n")
        text = self.assertRefused("NSA0081E", [path], [])
        self.assertEqual(
            text, f"{path}:1: NssConfig: statement not closed: '}}' missing"
        )

    def test_badValue(self) -> None:
        path = self.write("port.conf", "NssConfig\n{\n  Port many\n}\n")
        text = self.assertRefused("NSA0081E", [path], [])
        self.assertEqual(text, f"{path}:3: Port: must be a number from 0 to 65535")

    def test_unknownKeyword(self) -> None:
        path = self.write("typo.conf", "IkeConfig\n{\n  NssWaitLimt 5\n}\n")
        text = self.assertRefused("NSA0081E", [], [path], hostname="h")
        self.assertEqual(
            text,
            f"{path}:3: NssWaitLimt: unknown keyword of IkeConfig;"
            " did you mean NssWaitLimit?",
        )

    def test_badAuditValue(self) -> None:
        """nssd's own checks of the audit keywords refuse what nssd would."""
        path = self.write("audit.conf", "NssConfig\n{\n  AuditSyslog kern\n}\n")
        text = self.assertRefused("NSA0081E", [path], [], hostname="h")
        self.assertIn(f"{path}:3: AuditSyslog: must be none or a facility: user,", text)
        path = self.write(
            "metrics.conf", "IkeConfig\n{\n  MetricsPort 9160 Interface x\n}\n"
        )
        text = self.assertRefused("NSA0081E", [], [path], hostname="h")
        self.assertEqual(
            text,
            f"{path}:3: MetricsPort: Interface 'x' must be an IPv4 or IPv6 address",
        )

    def test_badPkcs11Token(self) -> None:
        """
        nssd's own rules for the token refuse what nssd would: a label of
        more than 32 bytes, and a token coded without its PIN file.
        """
        path = self.write(
            "label.conf", "NssConfig\n{\n  Pkcs11TokenLabel %s\n}\n" % ("K" * 33)
        )
        text = self.assertRefused("NSA0081E", [path], [], hostname="h")
        self.assertIn(f"{path}:3: Pkcs11TokenLabel: must be 1 to 32 bytes", text)
        path = self.write(
            "partial.conf",
            "NssConfig\n{\n  Pkcs11Module /usr/lib/softhsm/libsofthsm2.so\n"
            "  Pkcs11TokenLabel NSSKEYS\n}\n",
        )
        text = self.assertRefused("NSA0081E", [path], [], hostname="h")
        self.assertIn("Pkcs11TokenLabel: needs Pkcs11PinFile as well", text)

    def test_stackWithoutServices(self) -> None:
        """A stack iked would refuse is refused, at its statement's line."""
        path = self.write(
            "nosvc.conf",
            "IkeConfig\n{\n  SystemName SYS1\n}\n"
            "NssStackConfig TCPIP\n{\n  UserID CLIENT1\n}\n",
        )
        text = self.assertRefused("NSA0081E", [], [path])
        self.assertEqual(
            text, f"{path}:5: NssStackConfig: stack TCPIP: ServiceType missing"
        )

    def test_noSystemName(self) -> None:
        path = self.write("nosys.conf", "IkeConfig\n{\n}\n")
        text = self.assertRefused("NSA0082E", [], [path])
        self.assertIn(f"{path} codes no SystemName", text)

    def test_missingDatabase(self) -> None:
        missing = os.path.join(self.setup.folder, "absent.db")
        text = self.assertRefused("NSA0084E", [self.nssd_conf()], [], database=missing)
        self.assertIn(f"the security database {missing} cannot be read", text)
        self.assertFalse(os.path.exists(missing))

    def test_unreachableDatabase(self) -> None:
        """
        A PostgreSQL database whose server does not answer: the message
        names it and says why, and the import does not wait for it.
        """
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise SkipTest("psycopg 3 is not installed") from None
        uri = "postgresql://nss@127.0.0.1:1/nss"
        text = self.assertRefused(
            "NSA0084E",
            [self.nssd_conf()],
            [],
            database=uri,
            stash=self.setup.stash,
        )
        self.assertIn(f"the security database {uri} cannot be read: NSR0346E", text)
        self.assertIn("Connection refused", text)

    def test_notADatabase(self) -> None:
        path = self.write("garbage.db", "this is not a database\n" * 100)
        text = self.assertRefused("NSA0084E", [self.nssd_conf()], [], database=path)
        self.assertIn("NSR0201E", text)

    def test_databaseLeftAsItWas(self) -> None:
        """The import only reads: the database file is not changed."""
        with open(self.setup.database, "rb") as f:
            before = f.read()
        self.import_example()
        with open(self.setup.database, "rb") as f:
            self.assertEqual(f.read(), before)
