"""
Tests for L{nsstwisted.assistant.generators}: each family of files, read
back by the parsers the daemons use (or run, for the RACF job), the modes,
and determinism.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.assistant.generators import (
    GenerationError,
    generate,
    placements,
)
from nsstwisted.assistant.model import Description, Role
from nsstwisted.cli.racf import run as nss_racf
from nsstwisted.config.values import AuditSync, MetricsListener
from nsstwisted.iked.configuration.ikedconf import load_iked_configuration
from nsstwisted.iked.configuration.policyfile import load_stack_policy
from nsstwisted.nssd.configuration import load_nssd_configuration
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.labels import map_label
from nsstwisted.security.profiles import AccessLevel, ProfileStore, ResourceClass
from nsstwisted.wire.nss import Services
from tests.assistantexamples import example, fixed_secret


class GeneratorTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.description = example(self.folder)
        self.files = {f.path: f for f in generate(self.description, fixed_secret)}

    def text(self, path: str) -> str:
        return self.files[path].content.decode()

    def install(self, description: Description | None = None) -> None:
        """
        Put every generated file where the READMEs say (the units aside),
        as an operator would.
        """
        description = description or self.description
        files = {f.path: f for f in generate(description, fixed_secret)}
        for placement in placements(description):
            if placement.madeByJob or placement.source.endswith(".service"):
                continue
            os.makedirs(os.path.dirname(placement.target), exist_ok=True)
            with open(placement.target, "wb") as f:
                f.write(files[placement.source].content)
            os.chmod(placement.target, placement.mode)


class FileSetTests(GeneratorTestCase):
    def test_paths(self) -> None:
        """
        A folder per server and image; the RACF job and its script only for
        the primary, whose database the backup shares.
        """
        self.assertEqual(
            sorted(self.files),
            [
                "MVS1/README",
                "MVS1/iked.conf",
                "MVS1/iked.service",
                "MVS1/policy/TCPIP.policy",
                "MVS1/policy/TCPIPB.policy",
                "MVS1/secrets/IKEA.password",
                "MVS1/secrets/NSSD.passticket-key",
                "MVS2/README",
                "MVS2/iked.conf",
                "MVS2/iked.service",
                "MVS2/policy/TCPIP.policy",
                "MVS2/secrets/IKEC.password",
                "NSSD1/README",
                "NSSD1/nss-setup-secrets.sh",
                "NSSD1/nss-setup.racf",
                "NSSD1/nssd.conf",
                "NSSD1/nssd.service",
                "NSSD1/secrets/IKEA.password",
                "NSSD1/secrets/IKEC.password",
                "NSSD1/secrets/NSSD.passticket-key",
                "NSSD2/README",
                "NSSD2/nssd.conf",
                "NSSD2/nssd.service",
            ],
        )

    def test_sortedAndDeterministic(self) -> None:
        """
        The same description and secrets give the same files, bytes and
        order; the list is sorted by path.
        """
        first = generate(self.description, fixed_secret)
        second = generate(example(self.folder), fixed_secret)
        self.assertEqual(first, second)
        self.assertEqual([f.path for f in first], sorted(f.path for f in first))

    def test_secretsAskedByName(self) -> None:
        """
        Secrets are asked for by user and database: one password per user,
        one PassTicket key per database, the same in the image's file and
        in the server's copy.
        """
        asked: list[str] = []

        def secret(name: str) -> str:
            asked.append(name)
            return fixed_secret(name)

        generate(self.description, secret)
        self.assertEqual(
            sorted(set(asked)),
            [
                "NSSD1/IKEA.password",
                "NSSD1/IKEC.password",
                "NSSD1/NSSD.passticket-key",
            ],
        )
        self.assertEqual(
            self.files["MVS1/secrets/IKEA.password"].content,
            self.files["NSSD1/secrets/IKEA.password"].content,
        )

    def test_modes(self) -> None:
        """
        Secret files are 0600, with the name of their secret; everything
        else is 0644.
        """
        for file in self.files.values():
            if "/secrets/" in file.path:
                self.assertEqual(
                    (file.role, file.mode), (Role.SECRET, 0o600), file.path
                )
                self.assertIsNotNone(file.secretName)
            else:
                self.assertEqual(file.mode, 0o644, file.path)
                self.assertIsNone(file.secretName)
        self.assertEqual(
            self.files["MVS1/secrets/NSSD.passticket-key"].content,
            b"0123456789ABCDEF\n",
        )

    def test_secretsOnlyInSecretFiles(self) -> None:
        """
        No file but a secret file holds a secret: not iked.conf, not the
        RACF job, not its script.
        """
        values = [fixed_secret(n) for n in ("NSSD1/IKEA.password",)]
        values.append(fixed_secret("x.passticket-key"))
        for file in self.files.values():
            if file.role is Role.SECRET:
                continue
            for value in values:
                self.assertNotIn(value.encode(), file.content, file.path)

    def test_sharedFolder(self) -> None:
        """
        A server and an image of the same name share a folder and a README
        that speaks of both.
        """
        description = dataclasses.replace(
            self.description,
            images=(
                dataclasses.replace(self.description.images[1], name="NSSD1"),
                self.description.images[0],
            ),
        )
        files = {f.path: f for f in generate(description, fixed_secret)}
        readme = files["NSSD1/README"].content.decode()
        self.assertIn("NSSD1: NSS server NSSD1 and image NSSD1", readme)
        self.assertIn("NSSD1/iked.conf", readme)
        self.assertIn("NSSD1/nssd.conf", readme)


class NssdConfTests(GeneratorTestCase):
    def test_readByNssd(self) -> None:
        """
        nssd reads the generated file and gets the description's settings.
        """
        self.install()
        config = load_nssd_configuration(
            os.path.join(self.folder, "NSSD1", "nssd.conf"), hostname="elsewhere"
        )
        self.assertEqual(
            (
                config.systemName,
                config.port,
                config.keyRing,
                config.tlsKeyRing,
                config.tlsLabel,
                config.securityDatabase,
                config.stashFile,
                config.nmiSocket,
            ),
            (
                "NSSSYS",
                4159,
                ("NSSD", "NSSRING"),
                ("NSSD", "TLSRING"),
                "NSSD TLS",
                os.path.join(self.folder, "db", "security.db"),
                os.path.join(self.folder, "db", "security.sth"),
                "/run/nsa-example/nss",
            ),
        )

    def test_metricsAndAuditTrailReadByNssd(self) -> None:
        """
        A server's metrics and audit trail are in its nssd.conf, as nssd
        reads them.
        """
        audit = os.path.join(self.folder, "audit", "nssd audit.log")
        primary = dataclasses.replace(
            self.description.servers[0],
            metricsPort=9159,
            metricsInterface="::1",
            auditFile=audit,
            auditSync="every",
            auditRequired=True,
            auditSyslog="LOCAL3",
            auditSyslogSocket="/run/systemd/journal/syslog",
        )
        description = dataclasses.replace(
            self.description, servers=(primary, self.description.servers[1])
        )
        self.install(description)
        config = load_nssd_configuration(
            os.path.join(self.folder, "NSSD1", "nssd.conf"), hostname="elsewhere"
        )
        self.assertEqual(config.metrics, MetricsListener(9159, "::1"))
        self.assertEqual(
            (
                config.auditFile,
                config.auditSync,
                config.auditRequired,
                config.auditSyslog,
                config.auditSyslogSocket,
            ),
            (audit, AuditSync.EVERY, True, "local3", "/run/systemd/journal/syslog"),
        )

    def test_auditTrailDefaultsWritten(self) -> None:
        """
        With an audit trail, AuditSync and AuditRequired are written at
        their defaults too, so that the file says whether nssd fails
        closed; the metrics' interface is left to nssd's default.
        """
        primary = dataclasses.replace(
            self.description.servers[0], auditSyslog="authpriv", metricsPort=9159
        )
        description = dataclasses.replace(
            self.description, servers=(primary, self.description.servers[1])
        )
        files = {f.path: f for f in generate(description, fixed_secret)}
        text = files["NSSD1/nssd.conf"].content.decode()
        self.assertIn(
            "  MetricsPort 9159\n"
            "  AuditSyslog authpriv\n"
            "  AuditSync interval\n"
            "  AuditRequired no\n"
            "  Discipline IPSec Enable\n",
            text,
        )

    def test_readmeSaysWhatTheyNeed(self) -> None:
        """
        The README of a server with metrics and an audit file, and of an
        image with metrics, says what the host needs before the start; one
        without them says nothing of it.
        """
        primary = dataclasses.replace(
            self.description.servers[0],
            metricsPort=9159,
            auditFile="/var/log/nssd/audit.log",
        )
        image = dataclasses.replace(self.description.images[0], metricsPort=9160)
        description = dataclasses.replace(
            self.description,
            servers=(primary, self.description.servers[1]),
            images=(image, *self.description.images[1:]),
        )
        files = {f.path: f for f in generate(description, fixed_secret)}
        server = files["NSSD1/README"].content.decode()
        self.assertIn("pip install 'nsstwisted[metrics]'", server)
        self.assertIn(
            "- The audit trail goes to /var/log/nssd/audit.log: make /var/log/nssd/",
            server,
        )
        self.assertIn(
            "pip install 'nsstwisted[metrics]'", files["MVS1/README"].content.decode()
        )
        for readme in ("NSSD2/README", "MVS2/README"):
            self.assertNotIn("metrics", files[readme].content.decode())
            self.assertNotIn("audit", files[readme].content.decode())

    def test_noMetricsNorAuditTrail(self) -> None:
        """
        A server that describes neither gets a file that codes neither,
        which nssd reads as its defaults: no metrics, no audit trail.
        """
        text = self.text("NSSD1/nssd.conf")
        self.assertNotIn("  MetricsPort", text)
        self.assertNotIn("  Audit", text)
        self.install()
        config = load_nssd_configuration(
            os.path.join(self.folder, "NSSD1", "nssd.conf"), hostname="elsewhere"
        )
        self.assertEqual(
            (config.metrics, config.audited, config.auditRequired),
            (None, False, False),
        )

    def test_metricsInterfaceWithoutPort(self) -> None:
        """
        An interface without a port has no MetricsPort line to go on:
        generation refuses it rather than drop it.
        """
        primary = dataclasses.replace(
            self.description.servers[0], metricsInterface="192.0.2.1"
        )
        description = dataclasses.replace(
            self.description, servers=(primary, self.description.servers[1])
        )
        error = self.assertRaises(GenerationError, generate, description, fixed_secret)
        self.assertEqual(error.messageId, "NSA0120E")
        self.assertIn("NSS server NSSD1 has a metrics interface", str(error))

    def test_tokenReadByNssd(self) -> None:
        """
        A server's PKCS#11 token is in its nssd.conf, as nssd reads it, and
        in its backup's, which reaches the same token label.
        """
        token = (
            "/usr/lib/softhsm/libsofthsm2.so",
            "NSS KEYS",
            "/etc/security/nss-token.pin",
        )
        servers = tuple(
            dataclasses.replace(
                s,
                pkcs11Module=token[0],
                pkcs11TokenLabel=token[1],
                pkcs11PinFile=token[2],
            )
            for s in self.description.servers
        )
        self.install(dataclasses.replace(self.description, servers=servers))
        for name in ("NSSD1", "NSSD2"):
            config = load_nssd_configuration(
                os.path.join(self.folder, name, "nssd.conf"), hostname="elsewhere"
            )
            self.assertEqual(
                (
                    config.pkcs11Module,
                    config.pkcs11TokenLabel,
                    config.pkcs11PinFile,
                ),
                token,
            )

    def test_noToken(self) -> None:
        """
        A server without a token gets a file that names none, which nssd
        reads as no token.
        """
        self.assertNotIn("Pkcs11", self.text("NSSD1/nssd.conf"))
        self.install()
        config = load_nssd_configuration(
            os.path.join(self.folder, "NSSD1", "nssd.conf"), hostname="elsewhere"
        )
        self.assertIsNone(config.pkcs11Module)

    def test_backup(self) -> None:
        self.install()
        config = load_nssd_configuration(
            os.path.join(self.folder, "NSSD2", "nssd.conf"), hostname="elsewhere"
        )
        self.assertEqual((config.systemName, config.port), ("NSSSYS", 4160))
        self.assertIn("backup of NSSD1", self.text("NSSD2/nssd.conf"))


class IkedConfTests(GeneratorTestCase):
    def test_readByIked(self) -> None:
        """
        iked reads the generated file, its secret files and policy files,
        and gets the servers, the stacks with their client names, user IDs,
        services, secrets and namespaces, and the stack that is not an NSS
        client.
        """
        self.install()
        config = load_iked_configuration(
            os.path.join(self.folder, "MVS1", "iked.conf"), hostname="elsewhere"
        )
        assert config.primary is not None and config.backup is not None
        self.assertEqual(
            (config.primary.host, config.primary.port, config.primary.identity),
            ("127.0.0.1", 4159, None),
        )
        self.assertEqual(
            (config.backup.host, config.backup.port), ("nssd2.example", 4160)
        )
        self.assertEqual(
            (config.systemName, config.nssWaitLimit, config.nssWaitRetries),
            ("MVS1", 5, 3),
        )
        self.assertEqual(config.caFile, os.path.join(self.folder, "MVS1", "ca.pem"))
        self.assertEqual(config.stack_names(), ["TCPIP", "TCPIPB", "PLAIN"])
        tcpip, tcpipb = config.nssStacks["TCPIP"], config.nssStacks["TCPIPB"]
        self.assertEqual(
            (tcpip.clientName, tcpip.userid, tcpip.services, tcpip.authBy.name),
            ("MVS1_TCPIP", "IKEA", Services.CERT | Services.NETMGMT, "PASSWORD"),
        )
        self.assertEqual(
            tcpip.secretFile,
            os.path.join(self.folder, "MVS1", "secrets", "IKEA.password"),
        )
        self.assertEqual(
            (tcpipb.clientName, tcpipb.userid, tcpipb.authBy.name, tcpipb.namespace),
            ("client2", "IKEB", "PASSTICKET", "blue"),
        )
        self.assertEqual(config.policy_file("TCPIP"), "/etc/security/tcpip.policy")

    def test_metricsReadByIked(self) -> None:
        """
        An image's metrics are in its iked.conf's IkeConfig, as iked reads
        them; an image without them gets none.
        """
        image = dataclasses.replace(
            self.description.images[0], metricsPort=9160, metricsInterface="192.0.2.1"
        )
        description = dataclasses.replace(
            self.description, images=(image, *self.description.images[1:])
        )
        self.install(description)
        config = load_iked_configuration(
            os.path.join(self.folder, "MVS1", "iked.conf"), hostname="elsewhere"
        )
        self.assertEqual(config.metrics, MetricsListener(9160, "192.0.2.1"))
        self.assertNotIn("MetricsPort", self.text("MVS2/iked.conf"))

    def test_certificateServiceOnly(self) -> None:
        self.install()
        config = load_iked_configuration(
            os.path.join(self.folder, "MVS2", "iked.conf"), hostname="elsewhere"
        )
        self.assertEqual(config.nssStacks["TCPIP"].services, Services.CERT)

    def test_identityWhereTheAddressIsNotNamed(self) -> None:
        """
        A server whose TLS certificate does not name the address clients
        connect to is given the identity the certificate does name.
        """
        primary = dataclasses.replace(self.description.servers[0], address="192.0.2.7")
        description = dataclasses.replace(
            self.description, servers=(primary, self.description.servers[1])
        )
        text = {f.path: f for f in generate(description, fixed_secret)}[
            "MVS1/iked.conf"
        ].content.decode()
        self.assertIn(
            "NetworkSecurityServer 192.0.2.7 Port 4159 Identity IpAddr 127.0.0.1\n",
            text,
        )

    def test_portZero(self) -> None:
        """
        Port 0 (nssd picks one) cannot be told to clients: generation
        refuses it, naming the server.
        """
        server = dataclasses.replace(self.description.servers[0], port=0)
        description = dataclasses.replace(
            self.description, servers=(server, self.description.servers[1])
        )
        error = self.assertRaises(GenerationError, generate, description, fixed_secret)
        self.assertEqual(error.messageId, "NSA0054E")
        self.assertIn("NSS server NSSD1 has Port 0", str(error))

    def test_noServer(self) -> None:
        image = self.description.images[0]
        description = dataclasses.replace(
            self.description,
            images=(
                dataclasses.replace(
                    image, defaults=dataclasses.replace(image.defaults, servers=())
                ),
            ),
        )
        error = self.assertRaises(GenerationError, generate, description, fixed_secret)
        self.assertEqual(error.messageId, "NSA0052E")


class PolicyFileTests(GeneratorTestCase):
    def test_nssTraffic(self) -> None:
        """
        The policy file lets the stack's connections to both servers' ports
        out, IPv4 and IPv6, the seed's NssTraffic rules seen from the client.
        """
        self.install()
        policy = load_stack_policy("/etc/security/tcpip.policy")
        seen = [
            (
                f.name,
                f.direction.name,
                f.ipv6,
                f.sourcePorts and (f.sourcePorts.low, f.sourcePorts.high),
                f.destinationPorts
                and (f.destinationPorts.low, f.destinationPorts.high),
                f.action.name,
            )
            for f in policy.filters
        ]
        self.assertIn(
            (
                "NssTrafficIPv4",
                "OUTBOUND",
                False,
                (1024, 65535),
                (4159, 4159),
                "PERMIT",
            ),
            seen,
        )
        self.assertIn(
            (
                "NssTrafficIPv6Port4160",
                "INBOUND",
                True,
                (4160, 4160),
                (1024, 65535),
                "PERMIT",
            ),
            seen,
        )
        self.assertEqual(len(seen), 8)

    def setUp(self) -> None:
        super().setUp()
        # The default policy path is /etc/security: use the test's folder.
        images = tuple(
            dataclasses.replace(
                image,
                stacks=tuple(
                    dataclasses.replace(
                        stack,
                        policyFile=os.path.join(
                            self.folder, image.name, f"{stack.name.lower()}.policy"
                        )
                        if stack.nss
                        else None,
                    )
                    for stack in image.stacks
                ),
            )
            for image in self.description.images
        )
        self.description = dataclasses.replace(self.description, images=images)
        self.files = {f.path: f for f in generate(self.description, fixed_secret)}


class RacfJobTests(GeneratorTestCase):
    def runJob(self) -> tuple[int, str, str, SecurityDatabase]:
        folder = os.path.join(self.folder, "db")
        os.makedirs(folder)
        out, err = io.StringIO(), io.StringIO()
        job = os.path.join(self.folder, "nss-setup.racf")
        with open(job, "wb") as f:
            f.write(self.files["NSSD1/nss-setup.racf"].content)
        database = os.path.join(folder, "security.db")
        stash = os.path.join(folder, "security.sth")
        status = nss_racf(
            ["--database", database, "--stash", stash, "--file", job], out, err
        )
        opened = SecurityDatabase.open(database, stash)
        self.addCleanup(opened.close)
        return status, out.getvalue(), err.getvalue(), opened

    def test_runs(self) -> None:
        """
        nss-racf runs the whole job on a fresh database without an error or
        a warning, and it exports the CA certificate beside itself.
        """
        status, out, err, _ = self.runJob()
        self.assertEqual((status, err), (0, ""))
        self.assertNotIn("W ", out)
        with open(os.path.join(self.folder, "nss-ca.pem"), "rb") as f:
            self.assertTrue(f.read().startswith(b"-----BEGIN CERTIFICATE-----"))

    def test_profiles(self) -> None:
        """
        Each stack is permitted to its services and its certificate's
        mapped-label profile, and to nothing it did not ask for; the
        operator to what it may display and control.
        """
        _, _, _, database = self.runJob()
        snapshot = ProfileStore(database).snapshot()
        for userid, resource, expected in [
            ("IKEA", "EZB.NSS.NSSSYS.MVS1_TCPIP.IPSEC.CERT", True),
            ("IKEA", "EZB.NSS.NSSSYS.MVS1_TCPIP.IPSEC.NETMGMT", True),
            ("IKEB", "EZB.NSS.NSSSYS.CLIENT2.IPSEC.CERT", True),
            ("IKEC", "EZB.NSS.NSSSYS.MVS2_TCPIP.IPSEC.CERT", True),
            ("IKEC", "EZB.NSS.NSSSYS.MVS2_TCPIP.IPSEC.NETMGMT", False),
            ("IKEB", "EZB.NSS.NSSSYS.MVS1_TCPIP.IPSEC.CERT", False),
            ("IKEA", f"EZB.NSSCERT.NSSSYS.{map_label('Client1 cert')}.HOST", True),
            ("IKEC", f"EZB.NSSCERT.NSSSYS.{map_label('Client3 cert')}.HOST", True),
            ("IKEC", f"EZB.NSSCERT.NSSSYS.{map_label('Client1 cert')}.HOST", False),
            ("IKEB", "EZB.NSSCERT.NSSSYS.NSS$CA.CERTAUTH", True),
            ("IPSECOP", "EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY", True),
            ("IPSECOP", "EZB.NETMGMT.NSSSYS.CLIENT2.IPSEC.DISPLAY", True),
            ("IPSECOP", "EZB.NETMGMT.NSSSYS.MVS1_TCPIP.IPSEC.CONTROL", True),
            ("IPSECOP", "EZB.NETMGMT.NSSSYS.CLIENT2.IPSEC.CONTROL", False),
        ]:
            decision = snapshot.authorize(
                userid, ResourceClass.SERVAUTH, resource, AccessLevel.READ
            )
            self.assertEqual(decision.allowed, expected, f"{userid} {resource}")

    def test_mappedLabel(self) -> None:
        """
        The EZB.NSSCERT profile carries the label as the security layer maps
        it, and the PassTicket profile has no key in the job.
        """
        job = self.text("NSSD1/nss-setup.racf")
        self.assertIn("EZB.NSSCERT.NSSSYS.CLIENT1$CERT.HOST", job)
        self.assertIn("RDEFINE PTKTDATA NSSD UACC(NONE)\n", job)
        self.assertNotIn("SSIGNON", job)
        self.assertNotIn("PASSWORD(", job.replace("PASSWORD(REVOKE(3))", ""))
        self.assertLess(
            job.index("WITHLABEL('NSS CA')"), job.index("WITHLABEL('Client1 cert')")
        )

    def test_secretsScript(self) -> None:
        """
        The script gives each password user its password and the PTKTDATA
        profile its key, reading them from the secret files on standard
        input, never from its command line.
        """
        script = self.text("NSSD1/nss-setup-secrets.sh")
        database = os.path.join(self.folder, "db", "security.db")
        stash = os.path.join(self.folder, "db", "security.sth")
        racf = f'"$NSS_RACF" --database {database} --stash {stash}'
        self.assertIn(
            f"{racf} 'ALTUSER IKEA PASSWORD' < secrets/IKEA.password\n", script
        )
        self.assertIn(
            f"{racf} 'ALTUSER IKEC PASSWORD' < secrets/IKEC.password\n", script
        )
        self.assertIn(
            f"{racf} 'RALTER PTKTDATA NSSD SSIGNON(KEYMASKED)'"
            " < secrets/NSSD.passticket-key\n",
            script,
        )

    def test_imported(self) -> None:
        """
        A certificate imported from a PEM file is added by the job (a CA
        trusted); one from a PKCS#12 file, whose password the job must not
        hold, is added before the job by a command in the README that asks
        for it.
        """
        certificates = list(self.description.certificates)
        certificates[0] = dataclasses.replace(
            certificates[0], importFrom="/srv/pki/client1.p12"
        )
        certificates.append(
            dataclasses.replace(
                certificates[-1], label="Old CA", importFrom="/srv/pki/old-ca.pem"
            )
        )
        description = dataclasses.replace(
            self.description, certificates=tuple(certificates)
        )
        files = {f.path: f for f in generate(description, fixed_secret)}
        job = files["NSSD1/nss-setup.racf"].content.decode()
        self.assertIn(
            "RACDCERT CERTAUTH ADD('/srv/pki/old-ca.pem') WITHLABEL('Old CA') TRUST\n",
            job,
        )
        self.assertNotIn("client1.p12", job)
        self.assertIn("/* 'Client1 cert': added before this job (README)", job)
        readme = files["NSSD1/README"].content.decode()
        database = os.path.join(self.folder, "db", "security.db")
        self.assertIn(
            f"nss-racf --database {database} --stash"
            f' {database[:-3]}.sth "RACDCERT ID(IKEA)'
            " ADD('/srv/pki/client1.p12') WITHLABEL('Client1 cert') PASSWORD\"\n",
            readme,
        )
        self.assertLess(
            readme.index("client1.p12"), readme.index("--file nss-setup.racf")
        )

    def test_tokenCertificates(self) -> None:
        """
        A certificate whose key is made in the token is generated there by
        GENCERT ... RSA(TOKEN(label)) or NISTECC(TOKEN(label)), the others
        sealed as before; nss-racf is given the token in the README's job
        command and the secrets script, with the PIN file named, never
        the PIN; the README tells the operator to make the PIN file.
        """
        primary = dataclasses.replace(
            self.description.servers[0],
            pkcs11Module="/usr/lib/softhsm/libsofthsm2.so",
            pkcs11TokenLabel="NSSKEYS",
            pkcs11PinFile="/etc/security/nss-token.pin",
        )
        certificates = list(self.description.certificates)
        certificates[0] = dataclasses.replace(certificates[0], keyStore="token")
        certificates[4] = dataclasses.replace(
            certificates[4], keyStore="token", keyType="RSA", keySize=2048
        )
        description = dataclasses.replace(
            self.description,
            servers=(primary, self.description.servers[1]),
            certificates=tuple(certificates),
        )
        files = {f.path: f for f in generate(description, fixed_secret)}
        # The commands as RACF reads them, their continuations joined.
        job = files["NSSD1/nss-setup.racf"].content.decode()
        job = job.replace(" -\n       ", " ")
        self.assertIn(
            "RACDCERT ID(IKEA) GENCERT SUBJECTSDN(CN('client1.example')"
            " O('Example')) NISTECC(TOKEN('NSSKEYS')) SIZE(256)"
            " WITHLABEL('Client1 cert')",
            job,
        )
        self.assertIn("RSA(TOKEN('NSSKEYS')) SIZE(2048) WITHLABEL('NSS CA')", job)
        self.assertIn("NISTECC SIZE(256) WITHLABEL('Client3 cert')", job)
        self.assertEqual(job.count("TOKEN("), 2)
        token = (
            " --pkcs11-module /usr/lib/softhsm/libsofthsm2.so"
            " --pkcs11-pin-file /etc/security/nss-token.pin --pkcs11-token NSSKEYS"
        )
        readme = files["NSSD1/README"].content.decode()
        self.assertIn(f"{token} --file nss-setup.racf\n", readme)
        self.assertIn("Make the PIN file yourself", readme)
        self.assertIn("mode 0600", readme)
        script = files["NSSD1/nss-setup-secrets.sh"].content.decode()
        self.assertIn(f"{token} 'ALTUSER IKEA PASSWORD'", script)
        # A server described without a token (the backup here) gets none.
        self.assertNotIn("Pkcs11", files["NSSD2/nssd.conf"].content.decode())
        self.assertNotIn("PIN file", files["NSSD2/README"].content.decode())

    def test_tokenCertificateWithoutToken(self) -> None:
        """
        A certificate to be made in a token, in the job of a server that
        has none, is refused (NSA0125E) rather than made sealed.
        """
        certificates = list(self.description.certificates)
        certificates[0] = dataclasses.replace(certificates[0], keyStore="token")
        description = dataclasses.replace(
            self.description, certificates=tuple(certificates)
        )
        error = self.assertRaises(GenerationError, generate, description, fixed_secret)
        self.assertEqual(error.messageId, "NSA0125E")
        self.assertIn(
            "'Client1 cert' has its key made in a token, but NSS server NSSD1",
            str(error),
        )

    def test_badSubject(self) -> None:
        certificate = dataclasses.replace(
            self.description.certificates[0], subject="CN=a,EMAIL=x@y.example"
        )
        description = dataclasses.replace(
            self.description,
            certificates=(certificate, *self.description.certificates[1:]),
        )
        error = self.assertRaises(GenerationError, generate, description, fixed_secret)
        self.assertEqual(error.messageId, "NSA0057E")


class UnitAndReadmeTests(GeneratorTestCase):
    def test_units(self) -> None:
        nssd = self.text("NSSD1/nssd.service")
        config = os.path.join(self.folder, "NSSD1", "nssd.conf")
        self.assertIn(
            f"ExecStart=/usr/bin/twistd -n --pidfile= nssd --config {config}\n", nssd
        )
        self.assertIn("LimitNOFILE=4352\n", nssd)
        iked = self.text("MVS1/iked.service")
        config = os.path.join(self.folder, "MVS1", "iked.conf")
        self.assertIn(
            f"ExecStart=/usr/bin/twistd -n --pidfile= iked --config {config}\n", iked
        )

    def test_unitsAsContrib(self) -> None:
        """
        The generated units make the choices of contrib/systemd's: the
        daemon tells systemd when it is ready, SIGHUP reloads it, and a
        start it refused (status 1) is not restarted in a loop.
        """
        for unit in (self.text("NSSD1/nssd.service"), self.text("MVS1/iked.service")):
            for line in (
                "Type=notify",
                "NotifyAccess=main",
                "ExecReload=/bin/kill -HUP $MAINPID",
                "Restart=on-failure",
                "RestartPreventExitStatus=1",
                "NoNewPrivileges=yes",
            ):
                self.assertIn(f"\n{line}\n", unit)
            self.assertNotIn("Type=simple", unit)

    def test_unitsVerify(self) -> None:
        """
        C{systemd-analyze verify} finds nothing to say of the generated
        units, with this environment's twistd for C{/usr/bin/twistd}.
        """
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        if not os.access(twistd, os.X_OK):
            self.skipTest(f"no twistd beside {sys.executable}")
        units = []
        for path in ("NSSD1/nssd.service", "MVS1/iked.service"):
            units.append(os.path.join(self.folder, path.replace("/", "-")))
            with open(units[-1], "w") as f:
                f.write(self.text(path).replace("/usr/bin/twistd", twistd))
        result = subprocess.run(
            [analyze, "verify", "--man=no", *units],
            capture_output=True,
            text=True,
            check=False,
        )
        output = result.stdout + result.stderr
        if "Failed to initialize manager" in output:
            self.skipTest(f"systemd-analyze cannot run here: {output.strip()}")
        self.assertEqual((result.returncode, output), (0, ""))

    def test_readmeNamesEveryPlacement(self) -> None:
        """
        Each README lists every file of its folder with where it goes and
        its mode, and the CA certificate the job exports for the image.
        """
        for placement in placements(self.description):
            readme = self.text(f"{placement.host}/README")
            self.assertIn(placement.source, readme)
            self.assertIn(f"-> {placement.target}  mode {placement.mode:04o}", readme)
        listed = {(p.host, p.source) for p in placements(self.description)}
        for path in self.files:
            host = path.split("/")[0]
            if path.endswith("README") or path.startswith("NSSD1/"):
                continue
            self.assertIn((host, path), listed)
        self.assertIn("NSSD1/nss-ca.pem", self.text("MVS2/README"))
        self.assertIn("nss-racf --database", self.text("NSSD1/README"))
        self.assertIn("shares its security", self.text("NSSD2/README"))
