"""
What the generators share: where each file goes (in the output folder and
on its host), which server keeps which stacks' security database, the
names of the secrets, and the quoting of the two languages the files are
written in (the brace statements of nssd.conf, iked.conf and policy files,
and RACF commands).

Everything here is derived from the description alone, so that two
generators asking the same question (the path of a stack's password file,
say: iked.conf names it, the secret file is written there, the README says
to copy it there) get the same answer.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from nsstwisted.assistant.model import (
    Certificate,
    Description,
    EffectiveSettings,
    Image,
    NssServer,
    Stack,
    effective_settings,
)
from nsstwisted.config import format_value

#: The application name nssd checks PassTickets for (its PTKTDATA profile).
PASSTICKET_APPLICATION = "NSSD"
#: The group the RACF job puts every stack's user ID in, so that one PERMIT
#: lets all of them list the CA certificates.
CLIENT_GROUP = "NSSCLNT"
#: The names the generators give secrets end with their kind, which says
#: how a new one is made (L{nsstwisted.assistant.deployment}).
PASSWORD_SUFFIX = ".password"  # noqa: S105 (a file suffix)
PASSTICKET_KEY_SUFFIX = ".passticket-key"
#: Where twistd is on a host that installed nsstwisted from its package.
TWISTD = "/usr/bin/twistd"
#: Where the units go on every host.
UNIT_DIRECTORY = "/etc/systemd/system"
#: Where a stack's policy file goes when the description names none.
POLICY_DIRECTORY = "/etc/security"
#: The default CaFile of an image.
DEFAULT_CA_FILE = "/etc/security/nss-ca.pem"
#: The file the RACF job exports the CA certificate to, beside itself.
EXPORTED_CA = "nss-ca.pem"
#: The RACF job and its companion script, in the server's folder.
RACF_JOB = "nss-setup.racf"
SECRETS_SCRIPT = "nss-setup-secrets.sh"


class GenerationError(Exception):
    """
    The description cannot be turned into files: a reference the
    validation should have refused (a server or certificate that does not
    exist), found again here so that generation fails closed rather than
    write a file that names nothing.

    @ivar messageId: the stable message ID (docs/messages.md).
    """

    def __init__(self, messageId: str, text: str) -> None:
        super().__init__(f"{messageId} {text}")
        self.messageId = messageId
        self.text = text


@dataclass(frozen=True)
class NssStack:
    """
    An NSS stack of an image with its settings resolved.
    """

    image: Image
    stack: Stack
    settings: EffectiveSettings

    @property
    def clientName(self) -> str:
        return self.image.client_name_of(self.stack)

    @property
    def userId(self) -> str:
        userId = self.settings.values.userId
        if userId is None:
            raise GenerationError(
                "NSA0051E",
                f"stack {self.stack.name} of image {self.image.name} has no user"
                " ID: set userId on the image or the stack",
            )
        return userId.upper()

    @property
    def authBy(self) -> str:
        return self.settings.values.authBy or "Password"


def server_named(description: Description, name: str) -> NssServer:
    server = description.server(name)
    if server is None:
        raise GenerationError(
            "NSA0050E", f"the NSS server {name} is named but not described"
        )
    return server


def primary_of(description: Description, server: NssServer) -> NssServer:
    """
    The server whose security database C{server} uses: itself, or the
    primary it backs up.  Its RACF job sets the database up for both.
    """
    seen = {server.name}
    while server.backupOf is not None:
        server = server_named(description, server.backupOf)
        if server.name in seen:
            raise GenerationError(
                "NSA0050E", f"the NSS server {server.name} backs itself up"
            )
        seen.add(server.name)
    return server


def nss_stacks(image: Image) -> list[NssStack]:
    return [
        NssStack(image, stack, effective_settings(image, stack))
        for stack in image.stacks
        if stack.nss
    ]


def image_servers(description: Description, image: Image) -> tuple[NssServer, ...]:
    """
    The NSS servers an image's stacks use, primary first: iked.conf has one
    pair for all its stacks (an image-only setting).
    """
    names = image.defaults.servers or ()
    return tuple(server_named(description, name) for name in names)


def image_database(description: Description, image: Image) -> NssServer | None:
    """
    The primary server whose database holds the image's stacks' users,
    profiles and PassTicket key; C{None} for an image without NSS stacks.
    """
    if not nss_stacks(image):
        return None
    servers = image_servers(description, image)
    if not servers:
        raise GenerationError(
            "NSA0052E",
            f"image {image.name} has NSS stacks but names no NSS server:"
            " set servers on the image",
        )
    return primary_of(description, servers[0])


def served_stacks(description: Description, primary: NssServer) -> list[NssStack]:
    """
    Every NSS stack whose users and profiles live in C{primary}'s database.
    """
    found = []
    for image in description.images:
        database = image_database(description, image)
        if database is not None and database.name == primary.name:
            found.extend(nss_stacks(image))
    return found


def primaries(description: Description) -> list[NssServer]:
    return [s for s in description.servers if s.backupOf is None]


def backups_of(description: Description, primary: NssServer) -> list[NssServer]:
    """
    The servers that back C{primary} up, on its security database.
    """
    return [s for s in description.servers if s.backupOf == primary.name]


def password_secret(primary: NssServer, userId: str) -> str:
    """
    The secret name of a user's password: one per user and database, since
    every stack that logs on as that user uses the same password.
    """
    return f"{primary.name}/{userId}{PASSWORD_SUFFIX}"


def passticket_secret(primary: NssServer) -> str:
    """
    The secret name of a database's PassTicket key: nssd checks every
    PassTicket against the one PTKTDATA profile of its application.
    """
    return f"{primary.name}/{PASSTICKET_APPLICATION}{PASSTICKET_KEY_SUFFIX}"


def secret_file_name(entry: NssStack) -> str:
    """
    The file name of a stack's secret: its user's password, or the key.
    """
    if entry.authBy == "PassTicket":
        return f"{PASSTICKET_APPLICATION}{PASSTICKET_KEY_SUFFIX}"
    return f"{entry.userId}{PASSWORD_SUFFIX}"


def secret_target(entry: NssStack) -> str:
    """
    Where a stack's secret file goes on the image's host: iked.conf names
    this path.
    """
    return posixpath.join(entry.image.secretsDirectory, secret_file_name(entry))


def policy_target(image: Image, stack: Stack) -> str:
    """
    Where a stack's policy file goes on the image's host.
    """
    if stack.policyFile is not None:
        return stack.policyFile
    return posixpath.join(POLICY_DIRECTORY, f"{stack.name.lower()}.policy")


def ca_file(image: Image) -> str:
    return image.caFile or DEFAULT_CA_FILE


def tls_ring(server: NssServer) -> str:
    return server.tlsKeyRing or server.keyRing


def ring_parts(ring: str, defaultOwner: str) -> tuple[str, str]:
    """
    A ring written C{owner/ring} or C{ring}, as nssd reads it.
    """
    if "/" in ring:
        owner, name = ring.split("/", 1)
        return owner.upper(), name.upper()
    return defaultOwner.upper(), ring.upper()


def config_value(value: str) -> str:
    """
    A value of nssd.conf, iked.conf or a policy file, bare or quoted as the
    parser reads it back (a value with a control character is refused).
    """
    try:
        return format_value(value)
    except ValueError:
        raise GenerationError(
            "NSA0053E", f"the value {value!r} holds a control character"
        ) from None


def metrics_setting(port: int | None, interface: str | None, owner: str) -> list[str]:
    """
    The C{MetricsPort} line of nssd.conf or iked.conf, or none for a
    daemon without metrics (their default).  An interface without a port
    has no line to go on: it is refused (NSA0120E, as the validation's
    NSA0117E), not dropped.
    """
    if port is None:
        if interface is not None:
            raise GenerationError(
                "NSA0120E",
                f"{owner} has a metrics interface ({interface}) but no metrics"
                " port: set the port, or remove the interface",
            )
        return []
    words = ["MetricsPort", str(port)]
    if interface is not None:
        words += ["Interface", config_value(interface)]
    return ["  " + " ".join(words)]


def racf_quoted(value: str) -> str:
    """
    A RACF operand value in quotes, an apostrophe doubled as RACF wants.
    """
    return "'" + value.replace("'", "''") + "'"


def folded(words: list[str], indent: str = "       ", width: int = 72) -> list[str]:
    """
    A RACF command as lines of at most C{width} characters, continued with
    C{-} as the seed's job is, so that the job reads like one written by
    hand.
    """
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) + 2 > width:
            lines.append(current + " -")
            current = indent + word
        else:
            current = candidate
    lines.append(current)
    return lines


def tls_certificate(description: Description, server: NssServer) -> Certificate | None:
    """
    The certificate the server presents in TLS: its C{tlsLabel}, else the
    first server certificate of its user ID (which the job makes the TLS
    ring's DEFAULT), else the first server certificate described.
    """
    if server.tlsLabel is not None:
        certificate = description.certificate(server.tlsLabel)
        if certificate is None:
            raise GenerationError(
                "NSA0055E",
                f"the TLS label {server.tlsLabel!r} of NSS server {server.name}"
                " names no certificate of the description",
            )
        return certificate
    candidates = [c for c in description.certificates if c.usage == "server"]
    for certificate in candidates:
        if certificate.owner.upper() == server.userId.upper():
            return certificate
    return candidates[0] if candidates else None


def identity_parts(identity: str) -> tuple[str, str]:
    """
    An IKE identity as the description writes it (C{"IpAddr 192.0.2.1"}),
    split into its kind and value.
    """
    kind, _, value = identity.strip().partition(" ")
    return kind, value.strip()
