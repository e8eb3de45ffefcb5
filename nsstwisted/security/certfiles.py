"""
Reading the certificate files that RACDCERT ADD imports, and the key policy.

An administrator hands us whatever their PKI tool produced: a PEM file with a
certificate, maybe its chain and its (possibly encrypted) key, a bare DER
certificate, or a PKCS#12 bundle.  The format is recognised from the content
rather than from the file name, because file names lie (".crt" is used for
both PEM and DER).  Every way the file can be unusable becomes a
L{CertificateFileError} whose text says what to fix, and every key we would
not want to sign with becomes an L{InvalidValueError} from
L{check_key_policy}, the one place that policy is written down.

No Twisted here: the command line tools call this synchronously.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    rsa,
    x448,
    x25519,
)
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    pkcs12,
)

from nsstwisted.security.errors import CertificateFileError, InvalidValueError

__all__ = [
    "MAX_FILE_SIZE",
    "LoadedCertificate",
    "PrivateKey",
    "PublicKey",
    "check_key_policy",
    "load_certificate_file",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""The private keys the security database accepts (see L{check_key_policy})."""

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
"""The public keys matching L{PrivateKey}."""

MAX_FILE_SIZE = 1024 * 1024
"""
No real certificate file comes near this; the cap keeps a mistaken path (a
disk image, a log) from being read into memory whole.
"""

RSA_MIN_BITS = 2048
RSA_MAX_BITS = 4096
_ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_CERTIFICATE_LABELS = frozenset({b"CERTIFICATE", b"X509 CERTIFICATE"})
_KEY_LABELS = frozenset(
    {
        b"PRIVATE KEY",
        b"ENCRYPTED PRIVATE KEY",
        b"RSA PRIVATE KEY",
        b"EC PRIVATE KEY",
        b"DSA PRIVATE KEY",
    }
)
# "openssl ecparam -genkey" writes the curve parameters before the key; they
# repeat what the key says, so they are skipped rather than refused.
_IGNORED_LABELS = frozenset({b"EC PARAMETERS"})


@dataclass(frozen=True)
class LoadedCertificate:
    """
    What a certificate file held.

    @ivar certificate: the certificate being added (the first one in a PEM
        file; the one matching the key in a PKCS#12 file).
    @ivar private_key: its private key, already checked to match the
        certificate and to pass L{check_key_policy}, or C{None}.
    @ivar chain: the other certificates of the file, in file order; they are
        not checked against the key policy because a chain may contain an
        older CA we merely need to name.
    """

    certificate: x509.Certificate
    private_key: PrivateKey | None
    chain: tuple[x509.Certificate, ...]


def check_key_policy(key: PrivateKeyTypes | PublicKeyTypes) -> None:
    """
    Refuse any key the security database will not hold or sign with.

    One function for both imported and generated keys, so that the rules
    cannot drift apart: RSA from 2048 to 4096 bits (shorter is breakable,
    longer is too slow for an IKE daemon signing per exchange), and ECDSA on
    P-256 or P-384 (the curves IKEv2 peers and HSMs support everywhere).

    @param key: a private or public key of any type.
    @raise InvalidValueError: naming the key's type and size if it is refused.
    """
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if not RSA_MIN_BITS <= key.key_size <= RSA_MAX_BITS:
            raise InvalidValueError(
                f"RSA key of {key.key_size} bits is not allowed: RSA keys must "
                f"be {RSA_MIN_BITS} to {RSA_MAX_BITS} bits"
            )
        return
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name not in _ALLOWED_CURVES:
            raise InvalidValueError(
                f"EC key on curve {key.curve.name} ({key.curve.key_size} bits) "
                f"is not allowed: only secp256r1 (P-256) and secp384r1 (P-384)"
            )
        return
    raise InvalidValueError(
        f"{_describe_key(key)} is not allowed: only RSA (2048 to 4096 bits) "
        f"and EC (P-256, P-384) keys"
    )


def _describe_key(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return f"DSA key of {key.key_size} bits"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519 key (256 bits)"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "Ed448 key (456 bits)"
    if isinstance(key, x25519.X25519PrivateKey | x25519.X25519PublicKey):
        return "X25519 key (256 bits)"
    if isinstance(key, x448.X448PrivateKey | x448.X448PublicKey):
        return "X448 key (448 bits)"
    size = getattr(key, "key_size", None)
    if isinstance(size, int):
        return f"{type(key).__name__} key of {size} bits"
    return f"{type(key).__name__} key"


def _accepted_private_key(key: PrivateKeyTypes) -> PrivateKey:
    """
    Apply the policy and narrow the type for the caller in one step.
    """
    check_key_policy(key)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key


def load_certificate_file(
    path: str, password: bytes | None = None
) -> LoadedCertificate:
    """
    Read a PEM, DER or PKCS#12 certificate file.

    @param path: the file to read.
    @param password: decrypts an encrypted PEM private key or a PKCS#12
        file; ignored when nothing in the file is encrypted, so that an
        operator who always types the password is not punished.
    @raise CertificateFileError: if the file is missing, unreadable, too
        large, empty, not a certificate, needs a password that is missing or
        wrong, or holds a private key that does not match the certificate.
    @raise InvalidValueError: if the certificate's key or the private key is
        refused by L{check_key_policy}.
    """
    data = _read_file(path)
    if not data.strip():
        raise CertificateFileError(f"certificate file {path} is empty")
    if b"-----BEGIN " in data:
        loaded = _load_pem(path, data, password)
    else:
        loaded = _load_binary(path, data, password)
    public_key = _certificate_public_key(path, loaded.certificate)
    check_key_policy(public_key)
    for certificate in (loaded.certificate, *loaded.chain):
        _check_extensions(path, certificate)
    if loaded.private_key is not None:
        if loaded.private_key.public_key() != public_key:
            raise CertificateFileError(
                f"the private key in {path} does not match the certificate's public key"
            )
    return loaded


def _certificate_public_key(
    path: str, certificate: x509.Certificate
) -> CertificatePublicKeyTypes:
    """
    Decode the certificate's key now, since cryptography decodes it lazily
    and a key it cannot decode would otherwise fail later, in a command that
    has nothing to do with the import.
    """
    try:
        return certificate.public_key()
    except UnsupportedAlgorithm:
        raise InvalidValueError(
            f"the certificate in {path} has a key of type "
            f"{certificate.public_key_algorithm_oid.dotted_string}, which is not "
            f"allowed: only RSA (2048 to 4096 bits) and EC (P-256, P-384) keys"
        ) from None
    except ValueError:
        raise CertificateFileError(
            f"the certificate in {path} has a damaged public key"
        ) from None


def _check_extensions(path: str, certificate: x509.Certificate) -> None:
    """
    Decode the extensions now, for the same reason as the public key: the
    database will read them (to list them, to build chains) long after the
    file is gone.
    """
    try:
        certificate.extensions  # noqa: B018
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        raise CertificateFileError(
            f"a certificate in {path} has damaged extensions"
        ) from None


def _read_file(path: str) -> bytes:
    """
    Read the whole file, refusing anything but a regular file of sane size.

    A non-blocking open keeps a FIFO or device named by mistake from hanging
    the command.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CertificateFileError(f"certificate file {path} does not exist") from None
    except OSError as e:
        raise CertificateFileError(
            f"certificate file {path} cannot be read: {e.strerror}"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CertificateFileError(f"certificate file {path} is not a regular file")
        if st.st_size > MAX_FILE_SIZE:
            raise _too_large(path)
        chunks = []
        remaining = MAX_FILE_SIZE + 1
        while remaining > 0:
            try:
                chunk = os.read(fd, remaining)
            except OSError as e:
                raise CertificateFileError(
                    f"certificate file {path} cannot be read: {e.strerror}"
                ) from None
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_SIZE:
        raise _too_large(path)
    return data


def _too_large(path: str) -> CertificateFileError:
    return CertificateFileError(
        f"certificate file {path} is larger than {MAX_FILE_SIZE} bytes; "
        f"it is not a certificate file"
    )


def _not_a_certificate(path: str) -> CertificateFileError:
    return CertificateFileError(
        f"file {path} is not a certificate (PEM, DER or PKCS#12)"
    )


def _load_pem(path: str, data: bytes, password: bytes | None) -> LoadedCertificate:
    """
    Read every PEM block; text between blocks (OpenSSL's "Bag Attributes",
    comments) is ignored as OpenSSL does.
    """
    certificates: list[x509.Certificate] = []
    key: PrivateKey | None = None
    blocks = list(_PEM_BLOCK.finditer(data))
    if not blocks:
        raise CertificateFileError(
            f"file {path} is not a certificate (PEM, DER or PKCS#12): its PEM "
            f"blocks are incomplete"
        )
    for number, match in enumerate(blocks, start=1):
        label = match.group(1)
        block = match.group(0)
        if label in _CERTIFICATE_LABELS:
            try:
                certificates.append(x509.load_pem_x509_certificate(block))
            except (ValueError, x509.InvalidVersion):
                raise CertificateFileError(
                    f"PEM block {number} of {path} is a damaged certificate"
                ) from None
        elif label in _KEY_LABELS:
            if key is not None:
                raise CertificateFileError(
                    f"file {path} holds more than one private key"
                )
            key = _load_pem_key(path, label, block, password)
        elif label not in _IGNORED_LABELS:
            shown = label.decode("ascii")
            raise CertificateFileError(
                f"PEM block {number} of {path} is a {shown}, which RACDCERT "
                f"ADD does not accept"
            )
    if not certificates:
        raise CertificateFileError(
            f"file {path} holds no certificate, only a private key"
            if key is not None
            else f"file {path} holds no certificate"
        )
    return LoadedCertificate(
        certificate=certificates[0],
        private_key=key,
        chain=tuple(certificates[1:]),
    )


def _load_pem_key(
    path: str, label: bytes, block: bytes, password: bytes | None
) -> PrivateKey:
    encrypted = label == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block
    if encrypted and password is None:
        raise CertificateFileError(
            f"the private key in {path} is encrypted and no password was given"
        )
    try:
        loaded = load_pem_private_key(block, password if encrypted else None)
    except UnsupportedAlgorithm:
        raise CertificateFileError(
            f"the private key in {path} uses an unsupported algorithm or encryption"
        ) from None
    except (ValueError, TypeError):
        if encrypted:
            raise CertificateFileError(
                f"the password for the private key in {path} is wrong (or the "
                f"key is damaged)"
            ) from None
        raise CertificateFileError(f"the private key in {path} is damaged") from None
    return _accepted_private_key(loaded)


def _load_binary(path: str, data: bytes, password: bytes | None) -> LoadedCertificate:
    try:
        certificate = x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        pass
    else:
        return LoadedCertificate(certificate=certificate, private_key=None, chain=())
    if not _looks_like_pkcs12(data):
        raise _not_a_certificate(path)
    return _load_pkcs12(path, data, password)


def _looks_like_pkcs12(data: bytes) -> bool:
    """
    Whether C{data} starts like a PFX (a SEQUENCE whose first element is the
    INTEGER 3).

    PKCS#12 parsing cannot tell a wrong password from garbage, so we look at
    the structure first: only then can "wrong password" be said with
    confidence, and random bytes get the plain "not a certificate" answer.
    """
    if len(data) < 2 or data[0] != 0x30:
        return False
    first = data[1]
    if first <= 0x80:
        offset = 2  # short form, or BER indefinite length
    else:
        offset = 2 + (first & 0x7F)
    return data[offset : offset + 3] == b"\x02\x01\x03"


def _load_pkcs12(path: str, data: bytes, password: bytes | None) -> LoadedCertificate:
    # Tools differ on whether "no password" means an absent one or an empty
    # one; without a password given, try both.
    attempts = [password] if password is not None else [None, b""]
    for attempt in attempts:
        try:
            key, certificate, additional = pkcs12.load_key_and_certificates(
                data, attempt
            )
        except UnsupportedAlgorithm:
            raise CertificateFileError(
                f"PKCS#12 file {path} uses an unsupported algorithm or encryption"
            ) from None
        except ValueError:
            continue
        break
    else:
        if password is None:
            raise CertificateFileError(
                f"PKCS#12 file {path} is protected by a password and none was "
                f"given (or the file is damaged)"
            )
        raise CertificateFileError(
            f"the password for PKCS#12 file {path} is wrong (or the file is damaged)"
        )
    chain = list(additional)
    if certificate is None:
        if not chain:
            raise CertificateFileError(f"PKCS#12 file {path} holds no certificate")
        certificate = chain.pop(0)
    return LoadedCertificate(
        certificate=certificate,
        private_key=None if key is None else _accepted_private_key(key),
        chain=tuple(chain),
    )
