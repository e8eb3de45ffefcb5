"""
The description the configuration assistant works from.

One description holds the whole installation: the NSS servers, the client
images with their stacks, the certificates and the operators.  Every file
the assistant writes (nssd.conf, iked.conf, policy files, the RACF job,
units) is derived from it, so that the names the files share (client names,
user IDs, profile names, ports, labels) are written once and cannot drift
apart.

The model is plain data: the loader builds it from TOML, the importer from
files already deployed, the web page from its forms; the validation and the
generators only read it.  It imports nothing beyond the standard library, so
that the assistant's logic stays sans-IO like the rest of the house.

Stack settings are inherited as the seed's Configuration Assistant inherits
them: an image holds defaults (L{StackSettings}), a stack may override any of
them, and what is set on neither takes the documented default.
L{effective_settings} resolves a stack and says where each value came from,
which is what the web page shows next to each field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

AuthBy = Literal["Password", "PassTicket"]
ServiceType = Literal["Cert", "RemoteMgmt"]
KeyType = Literal["RSA", "NISTECC"]
CertificateUsage = Literal["certauth", "client", "server"]
#: Where a generated certificate's private key is made: C{"sealed"} in the
#: security database (sealed under its stash), C{"token"} in its server's
#: PKCS#11 token (GENCERT's C{RSA(TOKEN(name))}, C{NISTECC(TOKEN(name))}).
KeyStore = Literal["sealed", "token"]
#: nssd.conf's C{AuditSync} (L{nsstwisted.config.values.AuditSync}'s
#: values, which a test holds this to: the model imports the standard
#: library only).
AuditSyncMode = Literal["none", "interval", "every"]

#: IBM's limit: one iked serves at most eight TCP/IP stacks.
MAX_STACKS_PER_IMAGE = 8
#: The NSS protocol's registered port, nssd's default.
DEFAULT_NSS_PORT = 4159


@dataclass(frozen=True)
class Finding:
    """
    One thing wrong with a description, located as precisely as the
    description allows, so that an operator (or the web page, next to the
    field) can go straight to it.

    @ivar file: the description file (or C{"<web>"} for the page's draft).
    @ivar table: the TOML table path, such as C{images.SYSTEMA.stacks.TCPCS1}.
    @ivar key: the key within the table, or C{""} for the table as a whole.
    @ivar message: what is wrong and what to do, for the operator.
    @ivar messageId: the stable message ID (C{NSA0nnnE}) documented in
        docs/messages.md.
    """

    file: str
    table: str
    key: str
    message: str
    messageId: str

    def __str__(self) -> str:
        where = f"[{self.table}]" if self.table else ""
        if self.key:
            where = f"{where} {self.key}" if where else self.key
        return f"{self.messageId} {self.file}: {where}: {self.message}"


class DescriptionError(Exception):
    """
    The description cannot be used; it carries every finding, not just the
    first, because an operator fixing a file wants the whole list at once.
    """

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("\n".join(str(f) for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class NssServer:
    """
    One nssd.  C{name} is the description's key for it (the TOML table
    name); C{systemName} is the SystemName that goes into every EZB.NSS,
    EZB.NSSCERT and EZB.NETMGMT profile nssd checks, so two servers that
    back each other up must share it (validation says so).

    @ivar backupOf: the name of the primary this server backs up, or C{None}
        for a primary (or a lone server).  A backup serves the same clients
        from the same security database.
    @ivar tlsLabel: the label of the TLS server certificate, which must be a
        certificate of usage C{"server"} in the description.
    @ivar database: SecurityDatabase: an absolute path or a PostgreSQL URI
        without a password; C{None} for nssd's usual search.
    @ivar metricsPort: MetricsPort, the port nssd serves its Prometheus
        metrics on; C{None} for none (nssd's default).
    @ivar metricsInterface: MetricsPort's C{Interface}, an IP address;
        C{None} for nssd's default, loopback.  Only with C{metricsPort}.
    @ivar auditFile: AuditFile, the audit trail's file; C{None} for none.
    @ivar auditSyslog: AuditSyslog, the syslog facility the audit trail is
        (also) sent to; C{None} for none.
    @ivar auditRequired: AuditRequired: whether nssd refuses what it cannot
        record, which needs C{auditFile} or C{auditSyslog}.
    @ivar auditSyslogSocket: AuditSyslogSocket; C{None} for nssd's default,
        C{/dev/log}.
    @ivar pkcs11Module: Pkcs11Module, the PKCS#11 module (shared library)
        of the token holding the keys of the certificates made there;
        C{None} for no token.  C{pkcs11Module}, C{pkcs11TokenLabel} and
        C{pkcs11PinFile} are set all three or none, as nssd takes them.
    @ivar pkcs11TokenLabel: Pkcs11TokenLabel, the token's label, which the
        RACF job's C{TOKEN(name)} names too.
    @ivar pkcs11PinFile: Pkcs11PinFile, the file (mode 0600) holding the
        token's user PIN.  The operator makes it: the assistant never holds
        the PIN.
    """

    name: str
    systemName: str
    address: str
    port: int = DEFAULT_NSS_PORT
    keyRing: str = "NSSD/NSSRING"
    tlsKeyRing: str | None = None
    tlsLabel: str | None = None
    syslogLevel: int = 0
    database: str | None = None
    stashFile: str | None = None
    nmiSocket: str | None = None
    backupOf: str | None = None
    #: The RACF user ID nssd's key rings belong to.
    userId: str = "NSSD"
    #: The identity the NSS clients check the server's TLS certificate
    #: against, as iked.conf's C{NetworkSecurityServer ... Identity} writes
    #: it (C{"Fqdn nssd1.example.com"}); C{None} to check it against
    #: C{address}.
    identity: str | None = None
    metricsPort: int | None = None
    metricsInterface: str | None = None
    auditFile: str | None = None
    auditSync: AuditSyncMode = "interval"
    auditRequired: bool = False
    auditSyslog: str | None = None
    auditSyslogSocket: str | None = None
    pkcs11Module: str | None = None
    pkcs11TokenLabel: str | None = None
    pkcs11PinFile: str | None = None
    #: Where nssd.conf goes on the server's host (the units name it).
    configFile: str = "/etc/security/nssd.conf"

    @property
    def has_token(self) -> bool:
        """
        Whether nssd reaches a PKCS#11 token: all three of its settings,
        since any two of them reach nothing (validation says so).
        """
        return None not in (
            self.pkcs11Module,
            self.pkcs11TokenLabel,
            self.pkcs11PinFile,
        )

    @property
    def audited(self) -> bool:
        """Whether nssd keeps an audit trail: a file, syslog, or both."""
        return self.auditFile is not None or self.auditSyslog is not None


@dataclass(frozen=True)
class StackSettings:
    """
    The settings a stack inherits from its image and may override.  C{None}
    means "not set here": an image's C{None} falls to the documented
    default, a stack's C{None} to the image's value.

    @ivar servers: the names of the NSS servers, primary first, then its
        backup; iked.conf's NetworkSecurityServer and ...Backup.
    @ivar certificate: the label of the certificate the stack signs with
        (its EZB.NSSCERT profile is permitted to the stack's user ID).
    @ivar identity: the stack's IKE identity (C{"IpAddr 192.0.2.1"}, C{"Fqdn
        host.example"}, ...), which its certificate must name.
    """

    userId: str | None = None
    authBy: AuthBy | None = None
    services: tuple[ServiceType, ...] | None = None
    servers: tuple[str, ...] | None = None
    certificate: str | None = None
    identity: str | None = None
    nssWaitLimit: int | None = None
    nssWaitRetries: int | None = None


#: The value each setting takes when neither the stack nor its image sets
#: it (IBM's defaults where IBM documents one).
SETTING_DEFAULTS: Mapping[str, object] = {
    "userId": None,
    "authBy": "Password",
    "services": ("Cert", "RemoteMgmt"),
    "servers": (),
    "certificate": None,
    "identity": None,
    "nssWaitLimit": 60,
    "nssWaitRetries": 3,
}

#: Settings iked.conf holds once per iked (IkeConfig), not per stack: an
#: image may set them, a stack may not override them.
IMAGE_ONLY_SETTINGS = frozenset({"servers", "nssWaitLimit", "nssWaitRetries"})


@dataclass(frozen=True)
class Stack:
    """
    One TCP/IP stack of an image, an NSS client of its own.

    @ivar clientName: the NSS client name; C{None} for the seed's default,
        C{SYSNAME_STACKNAME} (see L{Image.client_name_of}).
    @ivar nss: C{False} for a stack that is not an NSS client (iked's own
        key ring); it gets no NssStackConfig statement and no profiles.
    """

    name: str
    clientName: str | None = None
    overrides: StackSettings = field(default_factory=StackSettings)
    namespace: str | None = None
    policyFile: str | None = None
    nss: bool = True


@dataclass(frozen=True)
class Image:
    """
    One system running iked: its IkeConfig settings, the stack defaults and
    its stacks.  (An image that is also an NSS server is described as an
    image and a server with the same system name.)
    """

    name: str
    systemName: str
    defaults: StackSettings = field(default_factory=StackSettings)
    stacks: tuple[Stack, ...] = ()
    caFile: str | None = None
    ikeSyslogLevel: int | None = None
    nmiSocket: str | None = None
    saInstaller: Literal["Record", "Xfrm"] | None = None
    #: IkeConfig's MetricsPort, the port iked serves its Prometheus metrics
    #: on (C{None}: none, iked's default), and its C{Interface} (C{None}:
    #: iked's default, loopback; only with a port).
    metricsPort: int | None = None
    metricsInterface: str | None = None
    #: Where the image's secrets (password and PassTicket key files) go.
    secretsDirectory: str = "/etc/nsstwisted/secrets"
    #: Where iked.conf goes on the image's host (the units name it).
    configFile: str = "/etc/security/iked.conf"

    def client_name_of(self, stack: Stack) -> str:
        """
        The stack's NSS client name: the one it names, or the seed's default
        C{SYSNAME_STACKNAME}, which is also what iked uses when iked.conf
        names none.
        """
        if stack.clientName is not None:
            return stack.clientName
        return f"{self.systemName}_{stack.name}"


@dataclass(frozen=True)
class Certificate:
    """
    A certificate on nssd's key ring (or its TLS ring).

    @ivar owner: the RACF user ID that owns it (a stack's user ID for a
        client certificate, C{"CERTAUTH"} for a CA, the server's user ID for
        its TLS certificate).
    @ivar identities: the subjectAltName entries as IKE identities
        (C{"IpAddr 192.0.2.1"}, C{"Fqdn host.example"}, C{"UserAtFqdn
        u@host.example"}); a client certificate must name an identity some
        stack uses.
    @ivar signedBy: the label of the CA certificate that signs it; C{None}
        for a self-signed certificate (a root CA).
    @ivar importFrom: an existing PEM or PKCS#12 file to add instead of
        generating a key pair (RACDCERT ADD rather than GENCERT).
    @ivar keyStore: where GENCERT makes the key pair: C{"sealed"} in the
        security database, or C{"token"} in the PKCS#11 token of the
        server whose job makes it, which must have one; never with
        C{importFrom}.
    """

    label: str
    usage: CertificateUsage
    subject: str
    owner: str
    identities: tuple[str, ...] = ()
    keyType: KeyType = "RSA"
    keySize: int = 2048
    signedBy: str | None = None
    importFrom: str | None = None
    keyStore: KeyStore = "sealed"


@dataclass(frozen=True)
class Operator:
    """
    An operator of the network management interface: a RACF user ID (the
    login name in upper case, as nssd maps SO_PEERCRED) and what it may do.

    @ivar display: client names (or C{"*"} for all) whose IPsec data it may
        display, and whether it may list clients (C{listClients}).
    @ivar control: client names (or C{"*"}) it may control.
    """

    userId: str
    display: tuple[str, ...] = ()
    control: tuple[str, ...] = ()
    listClients: bool = False


@dataclass(frozen=True)
class Description:
    """
    The whole installation.  Tables are kept in the order the file gives
    them, so that generation is deterministic and follows the operator's
    own order.

    @ivar source: the file it was read from, for findings.
    """

    servers: tuple[NssServer, ...] = ()
    images: tuple[Image, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    operators: tuple[Operator, ...] = ()
    source: str = "<description>"

    def server(self, name: str) -> NssServer | None:
        """
        The server of that name, or C{None}.
        """
        for server in self.servers:
            if server.name == name:
                return server
        return None

    def certificate(self, label: str) -> Certificate | None:
        """
        The certificate with that label, or C{None}.
        """
        for certificate in self.certificates:
            if certificate.label == label:
                return certificate
        return None


Origin = Literal["stack", "image", "default"]


@dataclass(frozen=True)
class EffectiveSettings:
    """
    A stack's settings after inheritance, and where each came from.
    """

    values: StackSettings
    origins: Mapping[str, Origin]


def effective_settings(image: Image, stack: Stack) -> EffectiveSettings:
    """
    Resolve a stack's settings: the stack's own value, else the image's,
    else the default.  A stack's override of an image-only setting is
    ignored here; validation reports it.
    """
    values: dict[str, object] = {}
    origins: dict[str, Origin] = {}
    for f in dataclasses.fields(StackSettings):
        own = getattr(stack.overrides, f.name)
        inherited = getattr(image.defaults, f.name)
        if own is not None and f.name not in IMAGE_ONLY_SETTINGS:
            values[f.name], origins[f.name] = own, "stack"
        elif inherited is not None:
            values[f.name], origins[f.name] = inherited, "image"
        else:
            values[f.name], origins[f.name] = SETTING_DEFAULTS[f.name], "default"
    return EffectiveSettings(
        StackSettings(**values),  # type: ignore[arg-type]
        origins,
    )


class Role(Enum):
    """
    What a generated file is for, so that the deployment can give it the
    mode it needs (a secret is 0600) and the README can say where it goes.
    """

    CONFIGURATION = "configuration"
    SECRET = "secret"  # noqa: S105 (a role, not a password)
    JOB = "job"
    UNIT = "unit"
    README = "readme"


@dataclass(frozen=True)
class GeneratedFile:
    """
    One file of the generated set: its path relative to the output folder
    (C{host/...}), its exact bytes, and its role.  Generators return these;
    only the deployment writes them.
    """

    path: str
    content: bytes
    role: Role
    #: For a secret file, the name its secret was asked for by
    #: (C{secret(name)}), so that the deployment can read the secret back
    #: from the file it wrote and keep it at the next generation.
    secretName: str | None = None

    @property
    def mode(self) -> int:
        """
        The file mode the deployment gives it: secrets are readable by their
        owner only, units and configuration by anyone, as their daemons and
        systemd expect.
        """
        return 0o600 if self.role is Role.SECRET else 0o644
