"""
Tests for L{nsstwisted.assistant.loader}: the description's TOML read into
the model, and every finding about the file given at once, each with its
message ID, table and key.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import get_args

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.assistant.loader import load_description, parse_description
from nsstwisted.assistant.model import (
    AuditSyncMode,
    Description,
    DescriptionError,
    Finding,
    StackSettings,
    effective_settings,
)
from nsstwisted.assistant.validation import validate
from nsstwisted.config.values import AuditSync

EXAMPLE = str(
    Path(__file__).parent.parent / "docs" / "examples" / "assistant-seed.toml"
)

SERVER = """
[servers.NSS]
system_name = "NSSSYS"
address = "192.0.2.10"
"""


def findings(text: str, source: str = "desc.toml") -> list[Finding]:
    """
    The findings of the loader for C{text}; none if it loads.
    """
    try:
        parse_description(text, source)
    except DescriptionError as e:
        return e.findings
    return []


def where(found: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.messageId, f.table, f.key) for f in found]


class ExampleTests(SynchronousTestCase):
    def test_seedTopology(self) -> None:
        """
        The worked example is the seed's topology: one NSS server, SystemA
        with three NSS stacks, SystemB with two, SystemC with one; and it
        loads and validates clean.
        """
        description = load_description(EXAMPLE)
        self.assertEqual([s.name for s in description.servers], ["NSS"])
        self.assertEqual(
            [(i.systemName, len(i.stacks)) for i in description.images],
            [("SYSTEMA", 3), ("SYSTEMB", 2), ("SYSTEMC", 1)],
        )
        self.assertTrue(all(s.nss for i in description.images for s in i.stacks))
        self.assertEqual(description.source, EXAMPLE)
        self.assertEqual(validate(description), [])

    def test_exampleInheritance(self) -> None:
        """
        The example's stacks inherit their image's defaults and override
        them where the file says so.
        """
        description = load_description(EXAMPLE)
        systemB = description.images[1]
        tcpcs1, tcpcs2 = systemB.stacks
        first = effective_settings(systemB, tcpcs1)
        self.assertEqual(
            (first.values.userId, first.values.authBy, first.values.nssWaitLimit),
            ("NSSCLB", "Password", 30),
        )
        self.assertEqual(first.origins["userId"], "image")
        second = effective_settings(systemB, tcpcs2)
        self.assertEqual(
            (second.values.userId, second.values.authBy), ("NSSCLB2", "PassTicket")
        )
        self.assertEqual(second.origins["authBy"], "stack")


class ReadingTests(SynchronousTestCase):
    def test_fileOrderKept(self) -> None:
        """
        Servers, images, stacks, certificates and operators keep the order
        of the file, which generation follows.
        """
        description = parse_description(
            """
            [servers.Z]
            system_name = "S"
            address = "192.0.2.1"
            [servers.A]
            system_name = "S"
            address = "192.0.2.2"
            [images.Y]
            system_name = "Y"
            [images.Y.stacks.TCPB]
            [images.Y.stacks.TCPA]
            [images.B]
            system_name = "B"
            [[certificates]]
            label = "z"
            usage = "certauth"
            subject = "CN=z"
            owner = "CERTAUTH"
            [[certificates]]
            label = "a"
            usage = "certauth"
            subject = "CN=a"
            owner = "CERTAUTH"
            """,
            "<test>",
        )
        self.assertEqual([s.name for s in description.servers], ["Z", "A"])
        self.assertEqual([i.name for i in description.images], ["Y", "B"])
        self.assertEqual(
            [s.name for s in description.images[0].stacks], ["TCPB", "TCPA"]
        )
        self.assertEqual([c.label for c in description.certificates], ["z", "a"])

    def test_tables(self) -> None:
        """
        Image-only settings are read from the image's table, inherited ones
        from its defaults, a stack's from its own table; choices take their
        canonical spelling, whatever case the file writes them in.
        """
        description = parse_description(
            SERVER
            + """
            [images.A]
            system_name = "SYSA"
            servers = ["NSS"]
            nss_wait_retries = 5
            sa_installer = "xfrm"
            [images.A.defaults]
            auth_by = "passticket"
            services = ["cert"]
            [images.A.stacks.TCPIP]
            client_name = "tcpip-a"
            auth_by = "Password"
            nss = false
            """,
            "<test>",
        )
        image = description.images[0]
        self.assertEqual(image.saInstaller, "Xfrm")
        self.assertEqual(
            image.defaults,
            StackSettings(
                servers=("NSS",),
                nssWaitRetries=5,
                authBy="PassTicket",
                services=("Cert",),
            ),
        )
        stack = image.stacks[0]
        self.assertEqual(
            (stack.clientName, stack.nss, stack.overrides),
            ("tcpip-a", False, StackSettings(authBy="Password")),
        )

    def test_metricsAndAuditTrail(self) -> None:
        """
        A server's metrics and audit trail, and an image's metrics, are
        read from their tables; the audit trail's choices take nssd's
        spelling.
        """
        description = parse_description(
            """
            [servers.NSS]
            system_name = "NSSSYS"
            address = "192.0.2.10"
            metrics_port = 9159
            metrics_interface = "192.0.2.10"
            audit_file = "/var/log/nssd/audit.log"
            audit_sync = "Every"
            audit_required = true
            audit_syslog = "LOCAL3"
            audit_syslog_socket = "/run/systemd/journal/syslog"
            [images.A]
            system_name = "SYSA"
            metrics_port = 9160
            """,
            "<test>",
        )
        server = description.servers[0]
        self.assertEqual(
            (
                server.metricsPort,
                server.metricsInterface,
                server.auditFile,
                server.auditSync,
                server.auditRequired,
                server.auditSyslog,
                server.auditSyslogSocket,
            ),
            (
                9159,
                "192.0.2.10",
                "/var/log/nssd/audit.log",
                "every",
                True,
                "local3",
                "/run/systemd/journal/syslog",
            ),
        )
        image = description.images[0]
        self.assertEqual((image.metricsPort, image.metricsInterface), (9160, None))

    def test_auditSyncChoicesAreNssds(self) -> None:
        """
        The model restates AuditSync's values (it imports the standard
        library only); they are nssd's, in nssd's order.
        """
        self.assertEqual(
            get_args(AuditSyncMode), tuple(sync.value for sync in AuditSync)
        )

    def test_pkcs11Token(self) -> None:
        """
        A server's PKCS#11 token and a certificate's key store are read
        from their tables; a certificate says nothing of it for a key
        sealed in the database.
        """
        description = parse_description(
            """
            [servers.NSS]
            system_name = "NSSSYS"
            address = "192.0.2.10"
            pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
            pkcs11_token_label = "NSS KEYS"
            pkcs11_pin_file = "/etc/security/nss-token.pin"
            [[certificates]]
            label = "CA"
            usage = "certauth"
            subject = "CN=CA"
            owner = "CERTAUTH"
            key_store = "token"
            [[certificates]]
            label = "CA2"
            usage = "certauth"
            subject = "CN=CA2"
            owner = "CERTAUTH"
            """,
            "<test>",
        )
        server = description.servers[0]
        self.assertEqual(
            (server.pkcs11Module, server.pkcs11TokenLabel, server.pkcs11PinFile),
            (
                "/usr/lib/softhsm/libsofthsm2.so",
                "NSS KEYS",
                "/etc/security/nss-token.pin",
            ),
        )
        self.assertTrue(server.has_token)
        self.assertEqual(
            [c.keyStore for c in description.certificates], ["token", "sealed"]
        )

    def test_keyStoreChoices(self) -> None:
        """A key store is sealed or token, nothing else (NSA0005E)."""
        found = findings(
            SERVER
            + """
            [[certificates]]
            label = "CA"
            usage = "certauth"
            subject = "CN=CA"
            owner = "CERTAUTH"
            key_store = "hsm"
            """
        )
        self.assertEqual(where(found), [("NSA0005E", "certificates[1]", "key_store")])
        self.assertEqual(found[0].message, "'hsm' is not one of sealed, token")

    def test_auditTrailKeysChecked(self) -> None:
        """
        The audit trail's keys are checked for type and choices like the
        others.
        """
        found = findings(
            SERVER
            + """
            audit_required = "yes"
            audit_sync = "always"
            audit_syslog = "kern"
            metrics_port = "9159"
            """
        )
        self.assertEqual(
            where(found),
            [
                ("NSA0004E", "servers.NSS", "metrics_port"),
                ("NSA0005E", "servers.NSS", "audit_sync"),
                ("NSA0004E", "servers.NSS", "audit_required"),
                ("NSA0005E", "servers.NSS", "audit_syslog"),
            ],
        )
        self.assertEqual(
            found[1].message, "'always' is not one of none, interval, every"
        )


class FindingTests(SynchronousTestCase):
    def test_unreadable(self) -> None:
        """
        A file that cannot be read, or is not UTF-8, is NSA0001E.
        """
        with self.assertRaises(DescriptionError) as caught:
            load_description("/nonexistent/description.toml")
        self.assertEqual(where(caught.exception.findings), [("NSA0001E", "", "")])
        self.assertIn("No such file", caught.exception.findings[0].message)
        fd, path = tempfile.mkstemp(suffix=".toml")
        self.addCleanup(os.unlink, path)
        os.write(fd, b"# \xff\n")
        os.close(fd)
        with self.assertRaises(DescriptionError) as caught:
            load_description(path)
        self.assertEqual(caught.exception.findings[0].messageId, "NSA0001E")
        self.assertEqual(caught.exception.findings[0].file, path)

    def test_syntax(self) -> None:
        """
        A TOML syntax error is NSA0002E, with the line and column.
        """
        found = findings('[servers.NSS]\nsystem_name = "A"\naddress = \n')
        self.assertEqual(where(found), [("NSA0002E", "", "")])
        self.assertTrue(found[0].message.startswith("line 3, column 11:"), found)
        self.assertEqual(found[0].file, "desc.toml")

    def test_duplicateTableIsSyntax(self) -> None:
        """
        A server or stack defined twice is refused by TOML itself.
        """
        found = findings(SERVER + SERVER)
        self.assertEqual(where(found), [("NSA0002E", "", "")])

    def test_unknownKeys(self) -> None:
        """
        A key no table takes is NSA0003E, with the nearest known key spelled
        as the table spells it, or the keys it takes when none is near.
        """
        found = findings(
            """
            color = 1
            [servers.NSS]
            System_Name = "NSSSYS"
            system_name = "NSSSYS"
            address = "192.0.2.10"
            prot = 4159
            """
        )
        self.assertEqual(
            where(found),
            [
                ("NSA0003E", "", "color"),
                ("NSA0003E", "servers.NSS", "System_Name"),
                ("NSA0003E", "servers.NSS", "prot"),
            ],
        )
        self.assertIn(
            "it takes servers, images, certificates, operators", found[0].message
        )
        self.assertIn("did you mean system_name?", found[1].message)
        self.assertIn("did you mean port?", found[2].message)

    def test_unknownKeyEscaped(self) -> None:
        """
        An unknown key is named as TOML spells it, quoted and escaped where
        it is not bare, so that a finding cannot carry a control character
        to the operator's terminal.
        """
        found = findings('"a\\u001b[2Jb" = 1\n[servers."x\\ty"]\nport = 1\n')
        self.assertEqual(where(found)[:1], [("NSA0003E", "", '"a\\u001b[2Jb"')])
        self.assertTrue(all(f.table.isprintable() for f in found), found)
        self.assertTrue(all(str(f).isprintable() for f in found), found)

    def test_wrongTypes(self) -> None:
        """
        A value of the wrong TOML type is NSA0004E: a string for a number, a
        boolean for a number, a string for a list, a table for an array of
        tables.
        """
        found = findings(
            """
            [servers.NSS]
            system_name = "NSSSYS"
            address = "192.0.2.10"
            port = "4159"
            syslog_level = true
            [images.A]
            system_name = "SYSA"
            servers = "NSS"
            [images.A.stacks.TCPIP]
            nss = "yes"
            [certificates.CA]
            label = "CA"
            """
        )
        self.assertEqual(
            where(found),
            [
                ("NSA0004E", "servers.NSS", "port"),
                ("NSA0004E", "servers.NSS", "syslog_level"),
                ("NSA0004E", "images.A", "servers"),
                ("NSA0004E", "images.A.stacks.TCPIP", "nss"),
                ("NSA0004E", "", "certificates"),
            ],
        )
        self.assertEqual(found[0].message, "must be an integer, not a string")
        self.assertIn("write [[certificates]]", found[4].message)

    def test_choices(self) -> None:
        """
        A value outside its choices is NSA0005E, naming the choices.
        """
        found = findings(
            """
            [images.A]
            system_name = "SYSA"
            [images.A.defaults]
            auth_by = "Passwd"
            services = ["Cert", "Remote"]
            [[certificates]]
            label = "CA"
            usage = "ca"
            subject = "CN=CA"
            owner = "CERTAUTH"
            """
        )
        self.assertEqual(
            where(found),
            [
                ("NSA0005E", "images.A.defaults", "auth_by"),
                ("NSA0005E", "images.A.defaults", "services"),
                ("NSA0005E", "certificates[1]", "usage"),
            ],
        )
        self.assertEqual(
            found[0].message, "'Passwd' is not one of Password, PassTicket"
        )

    def test_missing(self) -> None:
        """
        A required key that is missing is NSA0006E.
        """
        found = findings(
            """
            [servers.NSS]
            system_name = "NSSSYS"
            [images.A]
            [[operators]]
            display = ["*"]
            """
        )
        self.assertEqual(
            where(found),
            [
                ("NSA0006E", "servers.NSS", "address"),
                ("NSA0006E", "images.A", "system_name"),
                ("NSA0006E", "operators[1]", "user_id"),
            ],
        )

    def test_wrongTable(self) -> None:
        """
        A key written in the wrong table is NSA0007E, naming the table it
        belongs in: an image-only setting among the defaults, an inherited
        one or a stack's own key in the image's table, an image's key in a
        stack's table.
        """
        found = findings(
            """
            [images.A]
            system_name = "SYSA"
            user_id = "USER1"
            client_name = "x"
            [images.A.defaults]
            servers = ["NSS"]
            [images.A.stacks.TCPIP]
            ca_file = "/etc/ca.pem"
            """
        )
        self.assertEqual(
            where(found),
            [
                ("NSA0007E", "images.A", "user_id"),
                ("NSA0007E", "images.A", "client_name"),
                ("NSA0007E", "images.A.defaults", "servers"),
                ("NSA0007E", "images.A.stacks.TCPIP", "ca_file"),
            ],
        )
        self.assertIn("[images.A.defaults]", found[0].message)
        self.assertIn("[images.A]", found[2].message)

    def test_valuesOutOfRange(self) -> None:
        """
        The loader reports the values validation finds wrong one at a time
        (a port out of range is NSA0008E), with the file's own findings.
        """
        found = findings(
            """
            [servers.NSS]
            system_name = "NSSSYS"
            address = "192.0.2.10"
            port = 70000
            """
        )
        self.assertEqual(where(found), [("NSA0008E", "servers.NSS", "port")])
        self.assertEqual(found[0].message, "70000 is not a number from 1 to 65535")

    def test_allAtOnce(self) -> None:
        """
        Every finding of the file is given at once, not just the first.
        """
        found = findings(
            """
            [servers.NSS]
            system_name = "NSSSYS"
            address = "192.0.2.10"
            prot = 1
            [images.A]
            system_name = 5
            [[operators]]
            user_id = "OPER"
            list_clients = "yes"
            """
        )
        self.assertEqual(
            [f.messageId for f in found], ["NSA0003E", "NSA0004E", "NSA0004E"]
        )

    def test_errorText(self) -> None:
        """
        The error's text lists every finding with its ID, file, table and
        key, one a line, as the command prints it.
        """
        with self.assertRaises(DescriptionError) as caught:
            parse_description("[servers.NSS]\nsystem_name = 1\n", "d.toml")
        self.assertEqual(
            str(caught.exception).splitlines(),
            [
                "NSA0004E d.toml: [servers.NSS] system_name: must be a string,"
                " not an integer",
                "NSA0006E d.toml: [servers.NSS] address: is missing",
            ],
        )

    def test_description(self) -> None:
        """
        An empty file is an empty description.
        """
        self.assertEqual(parse_description("", "e.toml"), Description(source="e.toml"))
