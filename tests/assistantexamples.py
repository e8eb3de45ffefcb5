"""
Descriptions for the configuration assistant's tests, built in Python (the
loader's TOML is tested on its own), with every host path under a folder
the test gives.
"""

from __future__ import annotations

import os

from nsstwisted.assistant.model import (
    Certificate,
    Description,
    Image,
    NssServer,
    Operator,
    Stack,
    StackSettings,
)


def fixed_secret(name: str) -> str:
    """
    A secret for a name: a PassTicket key, or a password that tells its
    name, so that a test can look for it where it must not be.
    """
    if name.endswith(".passticket-key"):
        return "0123456789ABCDEF"
    return "pw-" + name.replace("/", "-")


def example(folder: str, port: int = 4159) -> Description:
    """
    One primary server with a backup, an image with a password stack, a
    PassTicket stack and a stack that is not an NSS client, and an image
    whose single stack asks for the certificate service only.  The
    management sockets are fixed short paths: no test here binds them.
    """
    servers = (
        NssServer(
            "NSSD1",
            "NSSSYS",
            "127.0.0.1",
            port=port,
            tlsKeyRing="NSSD/TLSRING",
            tlsLabel="NSSD TLS",
            database=os.path.join(folder, "db", "security.db"),
            stashFile=os.path.join(folder, "db", "security.sth"),
            nmiSocket="/run/nsa-example/nss",
            configFile=os.path.join(folder, "NSSD1", "nssd.conf"),
        ),
        NssServer(
            "NSSD2",
            "NSSSYS",
            "nssd2.example",
            port=port + 1,
            tlsKeyRing="NSSD/TLSRING",
            tlsLabel="NSSD2 TLS",
            backupOf="NSSD1",
            configFile=os.path.join(folder, "NSSD2", "nssd.conf"),
        ),
    )

    def image(name: str, stacks: tuple[Stack, ...], **defaults: object) -> Image:
        return Image(
            name,
            name,
            defaults=StackSettings(servers=("NSSD1", "NSSD2"), **defaults),  # type: ignore[arg-type]
            stacks=stacks,
            caFile=os.path.join(folder, name, "ca.pem"),
            secretsDirectory=os.path.join(folder, name, "secrets"),
            configFile=os.path.join(folder, name, "iked.conf"),
            nmiSocket=f"/run/nsa-example/{name.lower()}",
        )

    images = (
        image(
            "MVS1",
            (
                Stack("TCPIP", overrides=StackSettings(certificate="Client1 cert")),
                Stack(
                    "TCPIPB",
                    clientName="client2",
                    overrides=StackSettings(userId="IKEB", authBy="PassTicket"),
                    namespace="blue",
                ),
                Stack("PLAIN", nss=False),
            ),
            userId="IKEA",
            nssWaitLimit=5,
        ),
        image(
            "MVS2",
            (Stack("TCPIP", overrides=StackSettings(services=("Cert",))),),
            userId="IKEC",
            certificate="Client3 cert",
        ),
    )
    ca = Certificate(
        "NSS CA",
        "certauth",
        "CN=NSS Test CA,O=Example",
        "CERTAUTH",
        keyType="NISTECC",
        keySize=256,
    )

    def signed(label: str, usage: str, owner: str, *identities: str) -> Certificate:
        host = identities[0].split(" ", 1)[1]
        return Certificate(
            label,
            usage,  # type: ignore[arg-type]
            f"CN={host},O=Example",
            owner,
            identities=identities,
            keyType="NISTECC",
            keySize=256,
            signedBy="NSS CA",
        )

    certificates = (
        # The CA last: the job must still make it first.
        signed("Client1 cert", "client", "IKEA", "Fqdn client1.example"),
        signed("Client3 cert", "client", "IKEC", "Fqdn client3.example"),
        signed("NSSD TLS", "server", "NSSD", "IpAddr 127.0.0.1", "Fqdn localhost"),
        signed("NSSD2 TLS", "server", "NSSD", "Fqdn nssd2.example"),
        ca,
    )
    operators = (
        Operator("IPSECOP", display=("*",), control=("MVS1_TCPIP",), listClients=True),
    )
    return Description(servers, images, certificates, operators, "example.toml")
