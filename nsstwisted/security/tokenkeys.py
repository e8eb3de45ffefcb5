"""
Private keys that live in a PKCS#11 token, as cryptography's key types.

A token key is a C{cryptography} C{RSAPrivateKey} or
C{EllipticCurvePrivateKey} whose C{sign} asks the token: so the one signing
path of L{nsstwisted.security.signing} (the schemes, their paddings, the
prehashed digests IKE sends) and the certificate builder of
L{nsstwisted.security.certgen} serve token keys exactly as they serve keys
sealed in the database, and neither needs to know where a key lives.
Everything that would hand the key out (C{private_bytes},
C{private_numbers}) refuses: the key never leaves its token.

This module turns a signature request into what to ask the token
(L{TokenSignature}: the mechanism, the bytes, the PSS parameters), with
the hashing done here, so that every scheme needs only the three raw
mechanisms C{CKM_RSA_PKCS}, C{CKM_RSA_PKCS_PSS} and C{CKM_ECDSA}, and a
prehashed digest is signed as it came.  Asking is the business of an
L{ITokenSigner} (L{nsstwisted.security.pkcs11token}); this module imports
no PKCS#11 binding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    NoDigestInfo,
    Prehashed,
    encode_dss_signature,
)
from cryptography.utils import Buffer

from nsstwisted.security.errors import InvalidValueError, TokenKeyError
from nsstwisted.security.tokenreference import TokenKeyReference

__all__ = [
    "DIGEST_INFO_PREFIXES",
    "ITokenSigner",
    "TokenEcKey",
    "TokenKey",
    "TokenMechanism",
    "TokenRsaKey",
    "TokenSignature",
    "is_token_key",
]

# The DER of a PKCS#1 DigestInfo up to the digest (RFC 8017 section 9.2,
# note 1): CKM_RSA_PKCS signs what it is given, so the encoding is ours.
DIGEST_INFO_PREFIXES: dict[str, bytes] = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


class TokenMechanism(enum.Enum):
    """
    The PKCS#11 signing mechanisms nsstwisted uses, by their C{CKM_} names.
    """

    RSA_PKCS = "CKM_RSA_PKCS"
    RSA_PKCS_PSS = "CKM_RSA_PKCS_PSS"
    ECDSA = "CKM_ECDSA"


@dataclass(frozen=True)
class TokenSignature:
    """
    One signature to ask a token for.

    @ivar data: what the mechanism signs: a DigestInfo for C{CKM_RSA_PKCS},
        the digest for the other two.
    @ivar hashName: the message hash (cryptography's name, C{"sha256"}),
        for PSS's parameters and the MGF1 hash.
    @ivar saltLength: PSS's salt length in bytes.
    """

    mechanism: TokenMechanism
    data: bytes
    hashName: str = ""
    saltLength: int = 0


class ITokenSigner(Protocol):
    """
    What signs with a key in a token: the token's session pool.
    """

    label: str

    def sign_with(self, reference: TokenKeyReference, request: TokenSignature) -> bytes:
        """
        Sign with the key C{reference} names.

        @return: the mechanism's output: for C{CKM_ECDSA}, r and s, each
            as long as the curve's order.
        @raise TokenUnavailableError: the token cannot be used now.
        @raise TokenKeyError: the key is not in the token, or refuses.
        """


def _digest(
    data: bytes, algorithm: hashes.HashAlgorithm | Prehashed
) -> tuple[bytes, hashes.HashAlgorithm]:
    if isinstance(algorithm, Prehashed):
        inner = algorithm._algorithm
        if len(data) != inner.digest_size:
            raise InvalidValueError(
                f"a {inner.name} digest is {inner.digest_size} bytes, not {len(data)}"
            )
        return data, inner
    hasher = hashes.Hash(algorithm)
    hasher.update(data)
    return hasher.finalize(), algorithm


def _refuse_export(reference: TokenKeyReference) -> NoReturn:
    raise TokenKeyError(
        f"the private key {reference} is in a PKCS#11 token and cannot be "
        "exported: it signs there and nowhere else"
    )


class TokenKey:
    """
    What the two token key classes share: where the key is, and which of
    the mechanisms the token showed it can sign with when it was loaded.

    @ivar reference: the key in its token.
    @ivar mechanisms: the mechanisms it signed with at load time.
    """

    reference: TokenKeyReference
    mechanisms: frozenset[TokenMechanism]
    _signer: ITokenSigner

    def _ask(self, request: TokenSignature) -> bytes:
        if request.mechanism not in self.mechanisms:
            # A scheme the key cannot serve: the caller refuses it as one
            # that does not fit the key, as it would a wrong key type.
            raise InvalidValueError(
                f"the key {self.reference} in token {self.reference.token} "
                f"cannot sign with {request.mechanism.value}: the token does "
                "not offer it for this key"
            )
        return self._signer.sign_with(self.reference, request)

    def private_bytes(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse_export(self.reference)

    def private_numbers(self) -> NoReturn:
        _refuse_export(self.reference)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Any:
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.reference}>"


class TokenRsaKey(TokenKey, rsa.RSAPrivateKey):
    """
    An RSA private key in a token.
    """

    def __init__(
        self,
        signer: ITokenSigner,
        reference: TokenKeyReference,
        public: rsa.RSAPublicKey,
        mechanisms: frozenset[TokenMechanism],
    ) -> None:
        self._signer = signer
        self.reference = reference
        self._public = public
        self.mechanisms = mechanisms

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def decrypt(self, ciphertext: bytes, padding: padding.AsymmetricPadding) -> bytes:
        raise TokenKeyError(
            f"the key {self.reference} signs; nsstwisted decrypts with no key"
        )

    def sign(
        self,
        data: bytes,
        padding: padding.AsymmetricPadding,
        algorithm: Prehashed | hashes.HashAlgorithm | NoDigestInfo,
    ) -> bytes:
        if isinstance(algorithm, NoDigestInfo):
            raise InvalidValueError("a token RSA key signs a DigestInfo, always")
        return self._ask(rsa_signature(data, padding, algorithm, self.key_size))


class TokenEcKey(TokenKey, ec.EllipticCurvePrivateKey):
    """
    An elliptic-curve private key in a token.
    """

    def __init__(
        self,
        signer: ITokenSigner,
        reference: TokenKeyReference,
        public: ec.EllipticCurvePublicKey,
        mechanisms: frozenset[TokenMechanism],
    ) -> None:
        self._signer = signer
        self.reference = reference
        self._public = public
        self.mechanisms = mechanisms

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def exchange(
        self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey
    ) -> bytes:
        raise TokenKeyError(
            f"the key {self.reference} signs; nsstwisted derives with no key"
        )

    def sign(
        self, data: Buffer, signature_algorithm: ec.EllipticCurveSignatureAlgorithm
    ) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise InvalidValueError("a token EC key signs with ECDSA only")
        digest, _ = _digest(bytes(data), signature_algorithm.algorithm)
        raw = self._ask(TokenSignature(TokenMechanism.ECDSA, digest))
        return ecdsa_der(raw, self.key_size)


def rsa_signature(
    data: bytes,
    scheme: padding.AsymmetricPadding,
    algorithm: hashes.HashAlgorithm | Prehashed,
    keySize: int,
) -> TokenSignature:
    """
    What to ask the token for an RSA signature under C{scheme}.

    @raise InvalidValueError: the padding is neither PKCS#1 v1.5 nor PSS
        with MGF1, the hash has no DigestInfo here, or a prehashed digest
        has the wrong length.
    """
    digest, hashAlgorithm = _digest(data, algorithm)
    if isinstance(scheme, padding.PKCS1v15):
        prefix = DIGEST_INFO_PREFIXES.get(hashAlgorithm.name)
        if prefix is None:
            raise InvalidValueError(
                f"RSA PKCS#1 v1.5 with {hashAlgorithm.name} is not offered"
            )
        return TokenSignature(TokenMechanism.RSA_PKCS, prefix + digest)
    if isinstance(scheme, padding.PSS):
        mgf = scheme.mgf
        mgfHash = getattr(mgf, "_algorithm", None)
        if not isinstance(mgf, padding.MGF1) or not isinstance(
            mgfHash, hashes.HashAlgorithm
        ):
            raise InvalidValueError("RSA-PSS signs with MGF1 only")
        if mgfHash.name != hashAlgorithm.name:
            raise InvalidValueError("RSA-PSS here uses MGF1 with the message's hash")
        salt = scheme._salt_length
        if salt is padding.PSS.DIGEST_LENGTH:
            salt = hashAlgorithm.digest_size
        elif salt is padding.PSS.MAX_LENGTH:
            salt = (keySize + 6) // 8 - hashAlgorithm.digest_size - 2
        if not isinstance(salt, int) or salt < 0:
            raise InvalidValueError("RSA-PSS needs a salt length when signing")
        return TokenSignature(
            TokenMechanism.RSA_PKCS_PSS, digest, hashAlgorithm.name, salt
        )
    raise InvalidValueError(f"RSA padding {scheme.name} is not offered")


def ecdsa_der(raw: bytes, keySize: int) -> bytes:
    """
    C{CKM_ECDSA}'s output (r then s, each as long as the order) as the DER
    signature cryptography and IKE's RFC 7427 expect.

    @raise TokenKeyError: the output is not two halves of the curve's size.
    """
    half = (keySize + 7) // 8
    if len(raw) != 2 * half:
        raise TokenKeyError(
            f"the token's ECDSA signature is {len(raw)} bytes, not {2 * half}"
        )
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )


def is_token_key(key: object) -> bool:
    """
    Whether C{key} lives in a token: its signatures cost a trip to the
    token, never the tens of microseconds of a key in memory.
    """
    return isinstance(key, TokenKey)
