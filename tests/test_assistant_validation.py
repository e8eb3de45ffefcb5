"""
Tests for L{nsstwisted.assistant.validation}, and for the model's
inheritance (L{nsstwisted.assistant.model.effective_settings}) it checks
against: each kind of finding, with its message ID, table and key.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.assistant.loader import parse_description
from nsstwisted.assistant.model import (
    MAX_STACKS_PER_IMAGE,
    Certificate,
    Description,
    Finding,
    Image,
    NssServer,
    Operator,
    Stack,
    StackSettings,
    effective_settings,
)
from nsstwisted.assistant.validation import validate
from nsstwisted.assistant.values import identity_key

BASE = """
[servers.NSS]
system_name = "NSSSYS"
address = "192.0.2.10"
tls_label = "Server"

[images.A]
system_name = "SYSA"
servers = ["NSS"]

[images.A.defaults]
user_id = "USER1"

[images.A.stacks.TCPIP]
certificate = "A TCPIP"
identity = "IpAddr 192.0.2.1"

[[certificates]]
label = "CA"
usage = "certauth"
subject = "CN=CA"
owner = "CERTAUTH"

[[certificates]]
label = "A TCPIP"
usage = "client"
subject = "CN=A TCPIP"
owner = "USER1"
identities = ["IpAddr 192.0.2.1"]
signed_by = "CA"

[[certificates]]
label = "Server"
usage = "server"
subject = "CN=Server"
owner = "NSSD"
identities = ["IpAddr 192.0.2.10"]
signed_by = "CA"

[[operators]]
user_id = "OPER"
display = ["*"]
control = ["*"]
"""


def base() -> Description:
    return parse_description(BASE, "base.toml")


def with_server(description: Description, **changes: Any) -> Description:
    return replace(description, servers=(replace(description.servers[0], **changes),))


def with_image(description: Description, **changes: Any) -> Description:
    return replace(description, images=(replace(description.images[0], **changes),))


def with_stack(description: Description, **changes: Any) -> Description:
    image = description.images[0]
    stacks = (replace(image.stacks[0], **changes), *image.stacks[1:])
    return with_image(description, stacks=stacks)


def with_certificate(
    description: Description, index: int, **changes: Any
) -> Description:
    certificates = list(description.certificates)
    certificates[index] = replace(certificates[index], **changes)
    return replace(description, certificates=tuple(certificates))


def where(found: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.messageId, f.table, f.key) for f in found]


class ValidationTestCase(SynchronousTestCase):
    def assertFinds(
        self, description: Description, *expected: tuple[str, str, str]
    ) -> list[Finding]:
        """
        Validation finds exactly C{expected} (message ID, table, key), in
        that order; the findings are returned for a look at their messages.
        """
        found = validate(description)
        self.assertEqual(where(found), list(expected), [str(f) for f in found])
        self.assertTrue(all(f.file == description.source for f in found))
        return found


class BaseTests(ValidationTestCase):
    def test_clean(self) -> None:
        """
        The base description of these tests has no finding.
        """
        self.assertFinds(base())


class ValueTests(ValidationTestCase):
    def test_ranges(self) -> None:
        """
        Numbers outside the ranges nssd.conf and iked.conf take are NSA0008E.
        """
        description = with_server(base(), port=0, syslogLevel=16, metricsPort=0)
        description = with_image(
            description,
            ikeSyslogLevel=1024,
            metricsPort=65536,
            defaults=replace(
                description.images[0].defaults, nssWaitLimit=0, nssWaitRetries=101
            ),
        )
        self.assertFinds(
            description,
            ("NSA0008E", "servers.NSS", "port"),
            ("NSA0008E", "servers.NSS", "syslog_level"),
            ("NSA0008E", "servers.NSS", "metrics_port"),
            ("NSA0008E", "images.A", "metrics_port"),
            ("NSA0008E", "images.A", "ike_syslog_level"),
            ("NSA0008E", "images.A", "nss_wait_limit"),
            ("NSA0008E", "images.A", "nss_wait_retries"),
        )

    def test_keySize(self) -> None:
        """
        A key size GENCERT does not make for the key type is NSA0008E; an
        imported certificate's size is whatever its file holds.
        """
        description = with_certificate(base(), 0, keyType="NISTECC")
        found = self.assertFinds(
            description, ("NSA0008E", "certificates[1]", "key_size")
        )
        self.assertIn("use 256 or 384", found[0].message)
        self.assertFinds(with_certificate(description, 0, importFrom="/etc/ca.p12"))

    def test_systemName(self) -> None:
        """
        A system name that nssd.conf or iked.conf would refuse is NSA0009E.
        """
        description = with_image(
            with_server(base(), systemName="NSS.SYS"), systemName="SYSTEMA12"
        )
        found = self.assertFinds(
            description,
            ("NSA0009E", "servers.NSS", "system_name"),
            ("NSA0009E", "images.A", "system_name"),
        )
        self.assertIn("must be 1 to 8 of A-Z 0-9 @ # $", found[0].message)

    def test_userIds(self) -> None:
        """
        A user ID that breaks RACF's rules is NSA0010E: a stack's, the
        server's, a certificate owner's, an operator's.
        """
        description = base()
        overrides = replace(description.images[0].stacks[0].overrides, userId="1USER")
        description = with_stack(description, overrides=overrides)
        description = with_server(description, userId="TOOLONGID")
        description = replace(
            with_certificate(description, 1, owner="US ER"),
            operators=(Operator("OP-1"),),
        )
        self.assertFinds(
            description,
            ("NSA0010E", "servers.NSS", "user_id"),
            ("NSA0010E", "images.A.stacks.TCPIP", "user_id"),
            ("NSA0010E", "certificates[2]", "owner"),
            ("NSA0010E", "operators[1]", "user_id"),
        )

    def test_names(self) -> None:
        """
        A server or image name that cannot name a folder, or a stack name
        that is not a job name, is NSA0011E.
        """
        description = with_server(base(), name="../etc")
        description = with_stack(description, name="TCP/IP")
        found = validate(description)
        self.assertIn(("NSA0011E", 'servers."../etc"', ""), where(found))
        self.assertIn(("NSA0011E", 'images.A.stacks."TCP/IP"', ""), where(found))

    def test_paths(self) -> None:
        """
        A relative path, or a database URI with a password, is NSA0012E.
        """
        description = with_server(
            base(),
            database="postgresql://nssd:secret@db/nss",
            stashFile="stash",
            auditFile="audit.log",
            auditSyslogSocket="/run/" + "s" * 103,
        )
        description = with_image(description, caFile="ca.pem")
        description = with_stack(description, policyFile="policy.conf")
        found = self.assertFinds(
            description,
            ("NSA0012E", "servers.NSS", "database"),
            ("NSA0012E", "servers.NSS", "stash_file"),
            ("NSA0012E", "servers.NSS", "audit_file"),
            ("NSA0012E", "servers.NSS", "audit_syslog_socket"),
            ("NSA0012E", "images.A", "ca_file"),
            ("NSA0012E", "images.A.stacks.TCPIP", "policy_file"),
        )
        self.assertIn("must not hold a password", found[0].message)
        self.assertNotIn(
            "secret", found[0].message.replace("'postgresql://nssd:secret@db/nss'", "")
        )

    def test_metricsInterface(self) -> None:
        """
        A metrics interface that is not an IP address is NSA0116E, with
        the daemons' own words.
        """
        description = with_server(base(), metricsPort=9159, metricsInterface="nssd1")
        description = with_image(description, metricsPort=9160, metricsInterface="::1")
        found = self.assertFinds(
            description, ("NSA0116E", "servers.NSS", "metrics_interface")
        )
        self.assertEqual(
            found[0].message, "Interface 'nssd1' must be an IPv4 or IPv6 address"
        )

    def test_auditSyslogFacility(self) -> None:
        """
        An audit_syslog that is not a facility the audit trail can send to
        is NSA0005E, naming the facilities; one in upper case is taken, as
        nssd takes it.
        """
        found = self.assertFinds(
            with_server(base(), auditSyslog="kern"),
            ("NSA0005E", "servers.NSS", "audit_syslog"),
        )
        self.assertIn("'kern' is not one of user, daemon, auth,", found[0].message)
        self.assertFinds(
            with_server(base(), auditSyslog="none"),
            ("NSA0005E", "servers.NSS", "audit_syslog"),
        )
        self.assertFinds(with_server(base(), auditSyslog="LOCAL3"))

    def test_address(self) -> None:
        """
        A server address that is neither an IP address nor a host name is
        NSA0013E.
        """
        self.assertFinds(
            with_server(base(), address="nss server"),
            ("NSA0013E", "servers.NSS", "address"),
        )

    def test_keyRing(self) -> None:
        """
        A key ring whose owner is not a user ID, or whose name RACDCERT
        would not take, is NSA0014E.
        """
        self.assertFinds(
            with_server(base(), keyRing="1NSSD/RING", tlsKeyRing="NSSD/MY RING"),
            ("NSA0014E", "servers.NSS", "key_ring"),
            ("NSA0014E", "servers.NSS", "tls_key_ring"),
        )

    def test_identities(self) -> None:
        """
        An identity iked could not use is NSA0015E: no kind, an unknown
        kind, an IpAddr that is not an address.
        """
        description = with_stack(base(), overrides=StackSettings(identity="192.0.2.1"))
        description = with_certificate(
            description, 1, identities=("IpAddr 192.0.2.300", "Host a.example")
        )
        found = validate(description)
        self.assertEqual(
            [w for w in where(found) if w[0] == "NSA0015E"],
            [
                ("NSA0015E", "images.A.stacks.TCPIP", "identity"),
                ("NSA0015E", "certificates[2]", "identities"),
                ("NSA0015E", "certificates[2]", "identities"),
            ],
        )

    def test_lists(self) -> None:
        """
        A list that names one value twice, or no service at all, is
        NSA0016E.
        """
        description = with_stack(base(), overrides=StackSettings(services=()))
        description = with_image(
            description,
            defaults=StackSettings(
                userId="USER1", servers=("NSS", "NSS"), services=("Cert", "Cert")
            ),
        )
        found = validate(description)
        self.assertEqual(
            [w for w in where(found) if w[0] == "NSA0016E"],
            [
                ("NSA0016E", "images.A.defaults", "services"),
                ("NSA0016E", "images.A", "servers"),
                ("NSA0016E", "images.A.stacks.TCPIP", "services"),
            ],
        )

    def test_labelAndSubject(self) -> None:
        """
        A label longer than RACF takes, or an empty subject, is NSA0017E.
        """
        description = with_certificate(base(), 0, label="C" * 33, subject=" ")
        found = validate(description)
        self.assertEqual(
            [w for w in where(found) if w[0] == "NSA0017E"],
            [
                ("NSA0017E", "certificates[1]", "label"),
                ("NSA0017E", "certificates[1]", "subject"),
            ],
        )

    def test_ownerAndUsage(self) -> None:
        """
        A CA certificate owned by a user, or a client certificate owned by
        CERTAUTH, is NSA0019E.
        """
        description = with_certificate(base(), 0, owner="NSSD")
        description = with_certificate(description, 1, owner="certauth")
        self.assertFinds(
            description,
            ("NSA0019E", "certificates[1]", "owner"),
            ("NSA0019E", "certificates[2]", "owner"),
        )

    def test_operatorEntries(self) -> None:
        """
        An operator's entry that is neither a client name nor '*' is
        NSA0005E.
        """
        description = replace(
            base(), operators=(Operator("OPER", display=("SYSA TCPIP",)),)
        )
        found = validate(description)
        self.assertIn(("NSA0005E", "operators[1]", "display"), where(found))


class ServerTests(ValidationTestCase):
    def test_noServer(self) -> None:
        """
        An NSS stack whose image names no server is NSA0020E; a stack that
        is not an NSS client needs none.
        """
        description = with_image(base(), defaults=StackSettings(userId="USER1"))
        found = self.assertFinds(
            description, ("NSA0020E", "images.A.stacks.TCPIP", "servers")
        )
        self.assertIn("set servers in [images.A]", found[0].message)
        description = with_stack(description, nss=False)
        self.assertFinds(
            replace(description, certificates=description.certificates[::2]),
        )

    def test_undefinedServer(self) -> None:
        """
        A server name that is not defined is NSA0021E.
        """
        description = with_image(
            base(), defaults=StackSettings(userId="USER1", servers=("NSS1",))
        )
        found = self.assertFinds(description, ("NSA0021E", "images.A", "servers"))
        self.assertIn("define [servers.NSS1]", found[0].message)

    def backup(self, **changes: Any) -> NssServer:
        return replace(
            NssServer("NSSB", "NSSSYS", "192.0.2.11", backupOf="NSS"), **changes
        )

    def test_tooManyServers(self) -> None:
        """
        More than two servers, or a second server that is not the first's
        backup, is NSA0022E.
        """
        description = base()
        description = replace(
            description,
            servers=(
                *description.servers,
                self.backup(),
                self.backup(name="NSSC", address="192.0.2.12"),
            ),
        )
        defaults = description.images[0].defaults
        self.assertFinds(
            with_image(
                description, defaults=replace(defaults, servers=("NSS", "NSSB", "NSSC"))
            ),
            ("NSA0022E", "images.A", "servers"),
        )
        self.assertFinds(
            with_image(description, defaults=replace(defaults, servers=("NSS", "NSSB")))
        )
        self.assertFinds(
            with_image(
                description, defaults=replace(defaults, servers=("NSSB", "NSS"))
            ),
            ("NSA0022E", "images.A", "servers"),
        )

    def test_backupOf(self) -> None:
        """
        A backup whose primary is not defined, is itself, or is a backup, is
        NSA0023E.
        """
        description = base()
        for backupOf, why in [
            ("NSSX", "is not a server"),
            ("NSSB", "is this server itself"),
        ]:
            found = self.assertFinds(
                replace(
                    description,
                    servers=(*description.servers, self.backup(backupOf=backupOf)),
                ),
                ("NSA0023E", "servers.NSSB", "backup_of"),
            )
            self.assertIn(why, found[0].message)
        found = self.assertFinds(
            replace(
                description,
                servers=(
                    *description.servers,
                    self.backup(),
                    self.backup(name="NSSC", address="192.0.2.12", backupOf="NSSB"),
                ),
            ),
            ("NSA0023E", "servers.NSSC", "backup_of"),
        )
        self.assertIn("is itself a backup", found[0].message)

    def test_backupDiffers(self) -> None:
        """
        A backup with another system name, or another database, than its
        primary is NSA0024E.
        """
        description = with_server(base(), database="/var/lib/nss/a.db")
        self.assertFinds(
            replace(
                description,
                servers=(
                    *description.servers,
                    self.backup(systemName="NSSSYS2", database="/var/lib/nss/b.db"),
                ),
            ),
            ("NSA0024E", "servers.NSSB", "system_name"),
            ("NSA0024E", "servers.NSSB", "database"),
        )

    def test_tlsLabel(self) -> None:
        """
        A server's TLS label that is not defined, or not a server
        certificate, is NSA0036E.
        """
        self.assertFinds(
            with_server(base(), tlsLabel="Nope"),
            ("NSA0036E", "servers.NSS", "tls_label"),
        )
        found = self.assertFinds(
            with_server(base(), tlsLabel="CA"),
            ("NSA0036E", "servers.NSS", "tls_label"),
        )
        self.assertIn("usage certauth, not server", found[0].message)

    def test_sameListener(self) -> None:
        """
        Two servers on one address and port are NSA0038E.
        """
        description = base()
        self.assertFinds(
            replace(
                description,
                servers=(
                    *description.servers,
                    NssServer("NSS2", "OTHER", "192.0.2.10"),
                ),
            ),
            ("NSA0038E", "servers.NSS2", "port"),
        )

    def test_metricsInterfaceWithoutPort(self) -> None:
        """
        A metrics interface without a metrics port, of a server or an
        image, is NSA0117E: MetricsPort writes it after its port.
        """
        description = with_server(base(), metricsInterface="192.0.2.10")
        description = with_image(description, metricsInterface="192.0.2.1")
        self.assertFinds(
            description,
            ("NSA0117E", "servers.NSS", "metrics_interface"),
            ("NSA0117E", "images.A", "metrics_interface"),
        )

    def test_tokenLabel(self) -> None:
        """
        A token label nssd would refuse is NSA0121E, with nssd's own
        words; a label with an inner blank is taken.
        """
        token = {
            "pkcs11Module": "/usr/lib/softhsm/libsofthsm2.so",
            "pkcs11PinFile": "/etc/security/nss-token.pin",
        }
        for label, words in [
            ("K" * 33, "must be 1 to 32 bytes"),
            (" NSSKEYS", "must not begin or end with a blank"),
            ("NSS\tKEYS", "must be 1 to 32 bytes of printable characters"),
        ]:
            found = self.assertFinds(
                with_server(base(), pkcs11TokenLabel=label, **token),
                ("NSA0121E", "servers.NSS", "pkcs11_token_label"),
            )
            self.assertIn(words, found[0].message)
        self.assertFinds(with_server(base(), pkcs11TokenLabel="NSS KEYS", **token))

    def test_tokenPaths(self) -> None:
        """
        A relative module or PIN file is NSA0012E, as other paths are.
        """
        self.assertFinds(
            with_server(
                base(),
                pkcs11Module="libsofthsm2.so",
                pkcs11TokenLabel="NSSKEYS",
                pkcs11PinFile="nss-token.pin",
            ),
            ("NSA0012E", "servers.NSS", "pkcs11_module"),
            ("NSA0012E", "servers.NSS", "pkcs11_pin_file"),
        )

    def test_tokenAllOrNone(self) -> None:
        """
        A token named by some of its three keys is NSA0122E, as nssd
        refuses it, naming the keys missing.
        """
        found = self.assertFinds(
            with_server(base(), pkcs11TokenLabel="NSSKEYS"),
            ("NSA0122E", "servers.NSS", "pkcs11_token_label"),
        )
        self.assertIn(
            "needs pkcs11_module and pkcs11_pin_file as well", found[0].message
        )
        self.assertFinds(
            with_server(
                base(),
                pkcs11Module="/usr/lib/softhsm/libsofthsm2.so",
                pkcs11PinFile="/etc/security/nss-token.pin",
            ),
            ("NSA0122E", "servers.NSS", "pkcs11_module"),
        )

    def test_backupToken(self) -> None:
        """
        A backup of a primary with a token must reach a token of the same
        label (NSA0124E): the database they share records the token of each
        key made there.
        """
        token = {
            "pkcs11Module": "/usr/lib/softhsm/libsofthsm2.so",
            "pkcs11TokenLabel": "NSSKEYS",
            "pkcs11PinFile": "/etc/security/nss-token.pin",
        }
        description = with_server(base(), **token)
        primary = description.servers[0]
        backup = replace(primary, name="NSSB", port=4160, backupOf="NSS")
        cases: list[tuple[dict[str, Any], tuple[tuple[str, str, str], ...]]] = [
            ({}, ()),
            (
                {"pkcs11TokenLabel": "OTHER"},
                (("NSA0124E", "servers.NSSB", "pkcs11_token_label"),),
            ),
            (
                {"pkcs11Module": None, "pkcs11TokenLabel": None, "pkcs11PinFile": None},
                (("NSA0124E", "servers.NSSB", "pkcs11_token_label"),),
            ),
        ]
        for changes, expected in cases:
            self.assertFinds(
                replace(description, servers=(primary, replace(backup, **changes))),
                *expected,
            )

    def test_auditRequiredWithoutTrail(self) -> None:
        """
        audit_required without audit_file or audit_syslog is NSA0118E, as
        nssd refuses AuditRequired yes without AuditFile or AuditSyslog;
        either one is enough.
        """
        found = self.assertFinds(
            with_server(base(), auditRequired=True),
            ("NSA0118E", "servers.NSS", "audit_required"),
        )
        self.assertIn("set audit_file, audit_syslog or both", found[0].message)
        self.assertFinds(
            with_server(base(), auditRequired=True, auditFile="/var/log/audit")
        )
        self.assertFinds(with_server(base(), auditRequired=True, auditSyslog="auth"))

    def test_metricsPortTaken(self) -> None:
        """
        A metrics port that is the server's own NSS port, or another
        server's NSS or metrics port on the same address, is NSA0119E; on
        another address it is not.
        """
        found = self.assertFinds(
            with_server(base(), metricsPort=4159),
            ("NSA0119E", "servers.NSS", "metrics_port"),
        )
        self.assertIn("4159 is already the NSS port of [servers.NSS]", found[0].message)
        description = with_server(base(), metricsPort=9159)
        second = NssServer("NSS2", "OTHER", "192.0.2.10", port=4160)
        found = self.assertFinds(
            replace(
                description,
                servers=(
                    *description.servers,
                    replace(second, metricsPort=9159),
                    replace(
                        second, name="NSS3", address="192.0.2.11", metricsPort=9159
                    ),
                ),
            ),
            ("NSA0119E", "servers.NSS2", "metrics_port"),
        )
        self.assertIn(
            "9159 is already the metrics port of [servers.NSS]", found[0].message
        )
        found = self.assertFinds(
            replace(
                description,
                servers=(*description.servers, replace(second, port=9159)),
            ),
            ("NSA0119E", "servers.NSS", "metrics_port"),
        )
        self.assertIn(
            "9159 is already the NSS port of [servers.NSS2]", found[0].message
        )


class StackTests(ValidationTestCase):
    def test_sameClientName(self) -> None:
        """
        Two stacks with one client name (ignoring case) on one NSS server
        are NSA0025E, across images and whether the name is coded or the
        default; each stack is told.
        """
        description = base()
        other = Image(
            "B",
            "SYSB",
            defaults=StackSettings(servers=("NSS",), userId="USER2"),
            stacks=(Stack("TCPIP", clientName="sysa_tcpip"),),
        )
        found = self.assertFinds(
            replace(description, images=(*description.images, other)),
            ("NSA0025E", "images.A.stacks.TCPIP", "client_name"),
            ("NSA0025E", "images.B.stacks.TCPIP", "client_name"),
        )
        self.assertIn(
            "'SYSA_TCPIP' is also the client name of [images.B.stacks.TCPIP]",
            found[0].message,
        )

    def test_sameClientNameOtherServer(self) -> None:
        """
        One client name on two servers of different system names is two
        clients, and no finding.
        """
        description = base()
        description = replace(
            description,
            servers=(*description.servers, NssServer("NSS2", "OTHER", "192.0.2.11")),
        )
        other = Image(
            "B",
            "SYSB",
            defaults=StackSettings(servers=("NSS2",), userId="USER2"),
            stacks=(Stack("TCPIP", clientName="SYSA_TCPIP"),),
        )
        self.assertFinds(replace(description, images=(*description.images, other)))

    def test_tooManyStacks(self) -> None:
        """
        More than eight stacks on an image is NSA0026E.
        """
        stacks = tuple(
            Stack(f"TCPIP{n}", nss=False) for n in range(MAX_STACKS_PER_IMAGE)
        )
        description = base()
        self.assertFinds(
            with_image(description, stacks=description.images[0].stacks + stacks),
            ("NSA0026E", "images.A", "stacks"),
        )

    def test_clientNameRules(self) -> None:
        """
        A client name that does not fit SERVAUTH profile names is NSA0027E:
        characters the NSS protocol does not carry, or a dot that would
        split it into two qualifiers; a default client name is told to set
        client_name.
        """
        for name in ("SYSA TCPIP", "a*b", "x" * 25, "SYSA.TCPIP"):
            self.assertFinds(
                with_stack(base(), clientName=name),
                ("NSA0027E", "images.A.stacks.TCPIP", "client_name"),
            )
        description = with_image(base(), name="A", systemName="SYS.A")
        found = validate(description)
        self.assertIn(
            ("NSA0027E", "images.A.stacks.TCPIP", "client_name"), where(found)
        )
        message = next(f.message for f in found if f.messageId == "NSA0027E")
        self.assertIn("the default client name 'SYS.A_TCPIP'", message)
        self.assertIn("set client_name", message)

    def test_imageOnlyOverride(self) -> None:
        """
        A stack that overrides a setting iked.conf holds once per image is
        NSA0028E.
        """
        found = self.assertFinds(
            with_stack(
                base(),
                overrides=replace(
                    base().images[0].stacks[0].overrides,
                    servers=("NSS",),
                    nssWaitLimit=10,
                ),
            ),
            ("NSA0028E", "images.A.stacks.TCPIP", "nss_wait_limit"),
            ("NSA0028E", "images.A.stacks.TCPIP", "servers"),
        )
        self.assertIn("set it in [images.A]", found[0].message)

    def test_noUserId(self) -> None:
        """
        An NSS stack without a user ID, here or inherited, is NSA0029E.
        """
        description = with_image(base(), defaults=StackSettings(servers=("NSS",)))
        self.assertFinds(description, ("NSA0029E", "images.A.stacks.TCPIP", "user_id"))

    def test_certificateNotDefined(self) -> None:
        """
        A stack's certificate label that is not defined is NSA0031E, in the
        table the value comes from.
        """
        description = with_stack(
            base(), overrides=StackSettings(identity="IpAddr 192.0.2.1")
        )
        description = with_image(
            description,
            defaults=replace(description.images[0].defaults, certificate="a tcpip"),
        )
        self.assertFinds(description, ("NSA0031E", "images.A.defaults", "certificate"))

    def test_certificateNotClient(self) -> None:
        """
        A stack's certificate that is not a client certificate is NSA0032E.
        """
        self.assertFinds(
            with_stack(base(), overrides=StackSettings(certificate="Server")),
            ("NSA0032E", "images.A.stacks.TCPIP", "certificate"),
            ("NSA0034E", "certificates[2]", "identities"),
        )

    def test_identityNotInCertificate(self) -> None:
        """
        A stack's identity that its certificate does not name is NSA0035E;
        identities compare as what they name (an IPv6 address in any form).
        """
        description = with_stack(
            base(),
            overrides=StackSettings(
                certificate="A TCPIP", identity="IpAddr 2001:db8::0:1"
            ),
        )
        self.assertFinds(
            with_certificate(description, 1, identities=("IpAddr 2001:DB8::1",))
        )
        self.assertFinds(
            description,
            ("NSA0035E", "images.A.stacks.TCPIP", "identity"),
            ("NSA0034E", "certificates[2]", "identities"),
        )


class CertificateTests(ValidationTestCase):
    def test_tokenKeyStore(self) -> None:
        """
        A certificate whose key is made in a token needs a server with one
        and a key GENCERT makes, and is not nssd's TLS certificate
        (NSA0123E); a client certificate with a server's token is taken.
        """
        description = with_certificate(base(), 1, keyStore="token")
        found = self.assertFinds(
            description, ("NSA0123E", "certificates[2]", "key_store")
        )
        self.assertIn("no server of the description has a PKCS#11", found[0].message)
        description = with_server(
            description,
            pkcs11Module="/usr/lib/softhsm/libsofthsm2.so",
            pkcs11TokenLabel="NSSKEYS",
            pkcs11PinFile="/etc/security/nss-token.pin",
        )
        self.assertFinds(description)
        found = self.assertFinds(
            with_certificate(description, 1, importFrom="/srv/pki/a.pem"),
            ("NSA0123E", "certificates[2]", "key_store"),
        )
        self.assertIn("the certificate is imported", found[0].message)
        found = self.assertFinds(
            with_certificate(description, 2, keyStore="token"),
            ("NSA0123E", "certificates[3]", "key_store"),
        )
        self.assertIn("NSR0391E", found[0].message)

    def test_definedTwice(self) -> None:
        """
        A label, operator, image or stack defined twice is NSA0018E.
        """
        description = base()
        description = replace(
            description,
            certificates=(*description.certificates, description.certificates[0]),
            operators=(*description.operators, Operator("oper")),
        )
        image = description.images[0]
        description = with_image(
            description, stacks=(*image.stacks, Stack("tcpip", nss=False))
        )
        self.assertFinds(
            description,
            ("NSA0018E", "images.A.stacks.tcpip", ""),
            ("NSA0018E", "certificates[4]", "label"),
            ("NSA0018E", "operators[2]", ""),
        )

    def test_labelMappingCollisions(self) -> None:
        """
        The seed's label mapping collisions are NSA0030E, for each label of
        the group: certificate_123 and CERTIFICATE_123; Certificate 123,
        Certificate%123 and certificate*123.
        """
        ca = base().certificates[0]
        labels = [
            "certificate_123",
            "CERTIFICATE_123",
            "Certificate 123",
            "Certificate%123",
            "certificate*123",
        ]
        description = replace(
            base(),
            certificates=(
                *base().certificates,
                *(replace(ca, label=label) for label in labels),
            ),
        )
        found = self.assertFinds(
            description,
            *(("NSA0030E", f"certificates[{n}]", "label") for n in range(4, 9)),
        )
        byLabel = {f.table: f.message for f in found}
        self.assertIn(
            "maps to the profile name CERTIFICATE_123", byLabel["certificates[4]"]
        )
        self.assertIn("'CERTIFICATE_123'", byLabel["certificates[4]"])
        self.assertIn(
            "(EZB.NSSCERT.sysname.CERTIFICATE$123.HOST), as 'Certificate%123' and"
            " 'certificate*123' do",
            byLabel["certificates[6]"],
        )

    def test_signedBy(self) -> None:
        """
        A certificate signed by a CA that is missing, not a CA, or itself,
        is NSA0033E.
        """
        for signedBy, why in [
            ("Other CA", "is not the label of a certificate"),
            ("Server", "usage server, not certauth"),
            ("A TCPIP", "is this certificate itself"),
        ]:
            found = self.assertFinds(
                with_certificate(base(), 1, signedBy=signedBy),
                ("NSA0033E", "certificates[2]", "signed_by"),
            )
            self.assertIn(why, found[0].message)

    def test_unusedClientCertificate(self) -> None:
        """
        A client certificate whose identities no NSS stack uses is NSA0034E;
        CA and server certificates are used otherwise.
        """
        description = base()
        extra = Certificate(
            "Spare", "client", "CN=Spare", "USER1", identities=("Fqdn spare.example",)
        )
        found = self.assertFinds(
            replace(description, certificates=(*description.certificates, extra)),
            ("NSA0034E", "certificates[4]", "identities"),
        )
        self.assertIn("(Fqdn spare.example)", found[0].message)
        self.assertFinds(
            replace(
                description,
                certificates=(*description.certificates, replace(extra, identities=())),
            ),
            ("NSA0034E", "certificates[4]", "identities"),
        )


class OperatorTests(ValidationTestCase):
    def test_unknownClient(self) -> None:
        """
        An operator's client name that no NSS stack has is NSA0037E; names
        compare ignoring case, as nssd compares them.
        """
        description = replace(
            base(),
            operators=(Operator("OPER", display=("sysa_tcpip", "SYSB_TCPIP")),),
        )
        self.assertFinds(description, ("NSA0037E", "operators[1]", "display"))


class InheritanceTests(SynchronousTestCase):
    """
    L{effective_settings}: the stack's value, else the image's, else the
    default, with where each came from.
    """

    def test_layers(self) -> None:
        image = Image(
            "A",
            "SYSA",
            defaults=StackSettings(
                userId="USER1", authBy="PassTicket", servers=("NSS",)
            ),
        )
        stack = Stack("TCPIP", overrides=StackSettings(authBy="Password"))
        effective = effective_settings(image, stack)
        self.assertEqual(
            effective.values,
            StackSettings(
                userId="USER1",
                authBy="Password",
                services=("Cert", "RemoteMgmt"),
                servers=("NSS",),
                nssWaitLimit=60,
                nssWaitRetries=3,
            ),
        )
        self.assertEqual(
            (
                effective.origins["authBy"],
                effective.origins["userId"],
                effective.origins["services"],
            ),
            ("stack", "image", "default"),
        )

    def test_imageOnlyNotOverridden(self) -> None:
        """
        A stack's value of an image-only setting is not taken (validation
        reports it); the image's is.
        """
        image = Image("A", "SYSA", defaults=StackSettings(nssWaitLimit=30))
        stack = Stack("TCPIP", overrides=StackSettings(nssWaitLimit=5, servers=("X",)))
        effective = effective_settings(image, stack)
        self.assertEqual(
            (effective.values.nssWaitLimit, effective.origins["nssWaitLimit"]),
            (30, "image"),
        )
        self.assertEqual(
            (effective.values.servers, effective.origins["servers"]), ((), "default")
        )

    def test_identityKey(self) -> None:
        """
        Identities compare by what they name: kind in any case, host names
        in any case, addresses in any notation.
        """
        self.assertEqual(identity_key("ipaddr 2001:DB8::1"), ("IpAddr", "2001:db8::1"))
        self.assertEqual(identity_key("FQDN Host.Example."), ("Fqdn", "host.example"))
        self.assertIsNone(identity_key("Host a"))
        self.assertIsNone(identity_key("IpAddr"))
