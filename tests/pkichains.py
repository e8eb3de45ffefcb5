"""
Certificate chains as the tools operators use make them, and certificates
that do not parse, for the path validation and malformed-input tests.

Each chain is a root CA, an intermediate CA and an end entity for
C{peer.example}, made by the tool with its defaults wherever the tool has
one: C{openssl req -x509} (whose CA has no keyUsage), strongSwan's C{pki}
and C{RACDCERT GENCERT} (nss-racf).  A tool that is not installed skips
the test that needs it, with the reason.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from twisted.trial.unittest import SkipTest

from nsstwisted.cli.racf import run as nss_racf
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.keyring import CertificateOwner, KeyRingStore

PEER = "peer.example"


@dataclass(frozen=True)
class ToolChain:
    """
    A root, an intermediate and an end entity, with the end entity's key
    where the tool hands it out (RACDCERT keeps it sealed in the database).
    """

    tool: str
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leafKey: PrivateKeyTypes | None

    def ders(self) -> tuple[bytes, bytes]:
        """The end entity and the intermediate, DER, as a peer sends them."""
        return (
            self.leaf.public_bytes(serialization.Encoding.DER),
            self.intermediate.public_bytes(serialization.Encoding.DER),
        )


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SkipTest(f"{name} is not installed (Debian package {package})")
    return path


def _run(folder: str, *command: str) -> None:
    result = subprocess.run(
        command, cwd=folder, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed: {result.stderr.decode(errors='replace')}"
        )


def _read(folder: str, name: str) -> bytes:
    with open(os.path.join(folder, name), "rb") as f:
        return f.read()


def _certificate(folder: str, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(_read(folder, name))


def _key(folder: str, name: str) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(_read(folder, name), None)


def openssl_chain(folder: str) -> ToolChain:
    """
    C{openssl req -x509} with the system's default configuration: its
    C{v3_ca} section gives the CAs basicConstraints and key identifiers
    but no keyUsage, its C{usr_cert} section the end entity
    basicConstraints cA FALSE and no keyUsage.
    """
    openssl = _tool("openssl", "openssl")
    for name, subject, extra in (
        ("root", "/CN=OpenSSL Root CA", ()),
        ("sub", "/CN=OpenSSL Sub CA", ("-CA", "root.pem", "-CAkey", "root.key")),
        (
            "leaf",
            f"/CN={PEER}",
            (
                *("-CA", "sub.pem", "-CAkey", "sub.key", "-extensions", "usr_cert"),
                *("-addext", f"subjectAltName=DNS:{PEER}"),
            ),
        ),
    ):
        _run(
            folder,
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.pem",
            "-subj",
            subject,
            "-days",
            "30",
            *extra,
        )
    return _read_chain("openssl", folder)


def strongswan_chain(folder: str) -> ToolChain:
    """
    strongSwan's C{pki}: C{--self --ca}, C{--issue --ca} and C{--issue}
    with a subjectAltName and nothing else.
    """
    pki = _tool("pki", "strongswan-pki")
    script = f"""
        set -e
        for name in root sub leaf; do
            {pki} --gen --type ecdsa --size 256 --outform pem > $name.key
        done
        {pki} --self --ca --in root.key --dn 'CN=strongSwan Root CA' \
            --outform pem > root.pem
        {pki} --pub --in sub.key | {pki} --issue --cacert root.pem \
            --cakey root.key --ca --dn 'CN=strongSwan Sub CA' --outform pem > sub.pem
        {pki} --pub --in leaf.key | {pki} --issue --cacert sub.pem \
            --cakey sub.key --dn 'CN={PEER}' --san {PEER} --outform pem > leaf.pem
    """
    _run(folder, "sh", "-c", script)
    return _read_chain("strongSwan pki", folder)


def _read_chain(tool: str, folder: str) -> ToolChain:
    return ToolChain(
        tool,
        _certificate(folder, "root.pem"),
        _certificate(folder, "sub.pem"),
        _certificate(folder, "leaf.pem"),
        _key(folder, "leaf.key"),
    )


def racdcert_chain(folder: str) -> ToolChain:
    """
    C{RACDCERT GENCERT} through nss-racf: a CERTAUTH root, a CERTAUTH
    intermediate signed with it, and a user's certificate signed with the
    intermediate.
    """
    path = os.path.join(folder, "security.db")
    commands = [
        "ADDUSER PEER NOPASSWORD",
        "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('RACF Root CA')) NISTECC "
        "WITHLABEL('Root')",
        "RACDCERT CERTAUTH GENCERT SUBJECTSDN(CN('RACF Sub CA')) NISTECC "
        "WITHLABEL('Sub') SIGNWITH(CERTAUTH LABEL('Root'))",
        f"RACDCERT ID(PEER) GENCERT SUBJECTSDN(CN('{PEER}')) NISTECC "
        f"WITHLABEL('Peer') ALTNAME(DOMAIN('{PEER}')) "
        "SIGNWITH(CERTAUTH LABEL('Sub'))",
    ]
    for command in commands:
        err = io.StringIO()
        if nss_racf(["--database", path, command], io.StringIO(), err):
            raise RuntimeError(f"{command}: {err.getvalue()}")
    database = SecurityDatabase.open(path, os.path.join(folder, "security.sth"))
    try:
        store = KeyRingStore(database)
        ca = CertificateOwner.authority()
        root = store.get_certificate(ca, "Root").certificate
        sub = store.get_certificate(ca, "Sub").certificate
        peer = store.get_certificate(CertificateOwner.user("PEER"), "Peer")
    finally:
        database.close()
    return ToolChain("RACDCERT GENCERT", root, sub, peer.certificate, None)


def malformed(good: bytes) -> dict[str, bytes]:
    """
    C{good} (a DER certificate with an EC key, an authorityKeyIdentifier
    and a subjectAltName) spoilt in the ways a peer's CERT payload or a VERIFY
    request can be, by name.  The DER of each still frames as one SEQUENCE
    where the spoiling allows, so that only the certificate's own parser
    can tell.
    """
    cases = {
        "truncated": good[:-10],
        "not a certificate": bytes.fromhex("3003020100"),
        # TBSCertificate version [0] INTEGER 2 (v3) becomes 5.
        "bad version": good.replace(
            bytes.fromhex("a003020102"), bytes.fromhex("a003020105"), 1
        ),
        # id-ecPublicKey (1.2.840.10045.2.1) becomes an unassigned arc.
        "unknown key algorithm": good.replace(
            bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0209"), 1
        ),
        # The subjectAltName is relabelled a second authorityKeyIdentifier.
        "duplicate extension": good.replace(
            bytes.fromhex("0603551d11"), bytes.fromhex("0603551d23"), 1
        ),
        # The authorityKeyIdentifier's value is relabelled nameConstraints.
        "bad extension value": good.replace(
            bytes.fromhex("0603551d23"), bytes.fromhex("0603551d1e"), 1
        ),
    }
    for name, spoilt in cases.items():
        if spoilt == good:
            raise ValueError(f"the certificate has nothing to spoil for {name!r}")
    return cases
