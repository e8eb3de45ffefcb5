"""
Signing and verifying with the keys of the security database.

This is the only module that asks a private key to sign.  Keeping every use
behind one small function means the rules are applied in one place: which
padding goes with which scheme, that a scheme matches its key, that a
pre-computed digest has the right length.  The schemes are the ones IKEv2
negotiates through RFC 7427 "Digital Signature" authentication (and the
older RFC 7296 methods), so the IKE daemon can map its algorithm identifiers
onto this enumeration and never touch cryptography's padding classes itself.

RSA-PSS uses MGF1 with the same hash as the message and a salt as long as the
digest, as RFC 8247 recommends and as peers expect when RFC 7427's
AlgorithmIdentifier is built from those parameters.  ECDSA signatures are
DER encoded, as cryptography produces them; the IKE layer converts where a
raw r||s form is needed.

No Twisted here: the daemon decides in which thread to call us.
"""

from __future__ import annotations

import enum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from nsstwisted.security.certfiles import PrivateKey
from nsstwisted.security.errors import InvalidValueError

__all__ = [
    "SignatureScheme",
    "scheme_for_key",
    "sign",
    "verify",
]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


class SignatureScheme(enum.Enum):
    """
    A signature algorithm with its hash and padding fixed.

    Each value is C{"<key type>-<padding>-<hash>"}, stable so that it can be
    written to configuration and logs.  SHA-1 is offered only for RSA
    PKCS#1 v1.5 because RFC 7296 peers that lack RFC 7427 sign with nothing
    else.
    """

    RSA_PKCS1_SHA1 = "RSA-PKCS1-SHA1"
    RSA_PKCS1_SHA256 = "RSA-PKCS1-SHA256"
    RSA_PKCS1_SHA384 = "RSA-PKCS1-SHA384"
    RSA_PKCS1_SHA512 = "RSA-PKCS1-SHA512"
    RSA_PSS_SHA256 = "RSA-PSS-SHA256"
    RSA_PSS_SHA384 = "RSA-PSS-SHA384"
    RSA_PSS_SHA512 = "RSA-PSS-SHA512"
    ECDSA_SHA256 = "EC-ECDSA-SHA256"
    ECDSA_SHA384 = "EC-ECDSA-SHA384"
    ECDSA_SHA512 = "EC-ECDSA-SHA512"

    @property
    def hash_algorithm(self) -> hashes.HashAlgorithm:
        """
        A new instance of the scheme's hash, so callers can hash with it or
        read its C{digest_size} without sharing state.
        """
        return _HASHES[self.value.rsplit("-", 1)[1]]()

    @property
    def key_type(self) -> str:
        """
        C{"RSA"} or C{"EC"}: the kind of key this scheme needs.
        """
        return self.value.split("-", 1)[0]

    @property
    def is_pss(self) -> bool:
        """
        Whether the scheme uses RSA-PSS padding (rather than PKCS#1 v1.5).
        """
        return self.value.split("-")[1] == "PSS"


def _digest_algorithm(
    scheme: SignatureScheme, data: bytes, prehashed: bool
) -> hashes.HashAlgorithm | Prehashed:
    """
    The algorithm argument for cryptography: the hash itself, or for a digest
    computed elsewhere (the IKE daemon hashes large AUTH payloads itself) the
    hash wrapped in L{Prehashed}, after checking the digest's length so that a
    digest of the wrong hash is refused rather than signed.
    """
    algorithm = scheme.hash_algorithm
    if not prehashed:
        return algorithm
    if len(data) != algorithm.digest_size:
        raise InvalidValueError(
            f"a {algorithm.name} digest is {algorithm.digest_size} bytes, "
            f"not {len(data)}"
        )
    return Prehashed(algorithm)


def _rsa_padding(scheme: SignatureScheme) -> padding.AsymmetricPadding:
    if scheme.is_pss:
        algorithm = scheme.hash_algorithm
        return padding.PSS(
            mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size
        )
    return padding.PKCS1v15()


def _mismatch(scheme: SignatureScheme, key: object) -> InvalidValueError:
    return InvalidValueError(
        f"signature scheme {scheme.name} needs an {scheme.key_type} key, not "
        f"{_key_kind(key)}"
    )


def _key_kind(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "an RSA key"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    return f"a {type(key).__name__}"


def sign(
    private_key: PrivateKey,
    data: bytes,
    scheme: SignatureScheme,
    prehashed: bool = False,
) -> bytes:
    """
    Sign C{data} with C{private_key} under C{scheme}.

    @param data: the message, or with C{prehashed} its digest under the
        scheme's hash.
    @return: the signature; DER for ECDSA.
    @raise InvalidValueError: if the scheme does not fit the key, or a
        prehashed digest has the wrong length.
    """
    algorithm = _digest_algorithm(scheme, data, prehashed)
    if scheme.key_type == "RSA":
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise _mismatch(scheme, private_key)
        return private_key.sign(data, _rsa_padding(scheme), algorithm)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise _mismatch(scheme, private_key)
    return private_key.sign(data, ec.ECDSA(algorithm))


def verify(
    public_key: PublicKeyTypes,
    data: bytes,
    signature: bytes,
    scheme: SignatureScheme,
    prehashed: bool = False,
) -> bool:
    """
    Check C{signature} over C{data} with C{public_key} under C{scheme}.

    A signature that does not verify is an ordinary outcome when checking a
    peer, so it is C{False} rather than an exception; only a call that could
    never have succeeded (wrong key type, wrong digest length) raises.

    @param public_key: typically C{certificate.public_key()}.
    @raise InvalidValueError: if the scheme does not fit the key, or a
        prehashed digest has the wrong length.
    """
    algorithm = _digest_algorithm(scheme, data, prehashed)
    try:
        if scheme.key_type == "RSA":
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise _mismatch(scheme, public_key)
            public_key.verify(signature, data, _rsa_padding(scheme), algorithm)
        else:
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise _mismatch(scheme, public_key)
            public_key.verify(signature, data, ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


def scheme_for_key(key: PrivateKeyTypes | PublicKeyTypes) -> SignatureScheme:
    """
    The scheme to use with C{key} when the peer has expressed no preference.

    PKCS#1 v1.5 with SHA-256 for RSA because every IKEv2 peer verifies it;
    for EC the hash that matches the curve's strength.

    @param key: a private or public key.
    @raise InvalidValueError: for a key outside the policy of
        L{nsstwisted.security.certfiles.check_key_policy}.
    """
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return SignatureScheme.RSA_PKCS1_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return SignatureScheme.ECDSA_SHA256
        if isinstance(key.curve, ec.SECP384R1):
            return SignatureScheme.ECDSA_SHA384
    raise InvalidValueError(f"no signature scheme for {_key_kind(key)}")
