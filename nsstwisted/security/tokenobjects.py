"""
The objects in a PKCS#11 token that RACDCERT administers: key pairs made
inside it (GENCERT), private keys found by their public key (BIND), and
listed (LISTTOKEN).

Each function works in a read/write session the caller opened, with the
python-pkcs11 module passed in (L{nsstwisted.security.pkcs11token} imports
it only when a token is opened), and hands back references and
cryptography public keys, never the binding's objects.  What a key is
allowed to be is decided here: a key made for nsstwisted is a token
object, private, sensitive, never extractable, and signs and does nothing
else.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from nsstwisted.security.certfiles import check_key_policy
from nsstwisted.security.certgen import generate_size
from nsstwisted.security.errors import TokenKeyError
from nsstwisted.security.tokenreference import TokenKeyReference

__all__ = [
    "TokenKeyInfo",
    "destroy_key_pair",
    "find_private_keys",
    "generate_key_pair",
    "private_keys",
]

_CURVES: dict[int, tuple[str, ec.EllipticCurve]] = {
    256: ("1.2.840.10045.3.1.7", ec.SECP256R1()),
    384: ("1.3.132.0.34", ec.SECP384R1()),
}


@dataclass(frozen=True)
class TokenKeyInfo:
    """
    A private key in a token, as LISTTOKEN shows it: its attributes, never
    its value.
    """

    reference: TokenKeyReference
    keyType: str
    size: int
    sensitive: bool
    extractable: bool
    sign: bool


def describe_error(error: BaseException) -> str:
    """
    A PKCS#11 error as a message names it: the binding's class name, which
    is the return value's (C{PinIncorrect} for C{CKR_PIN_INCORRECT}), and
    its text if it has one.
    """
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text}" if text and text != name else name


def generate_key_pair(
    pkcs11: Any,
    session: Any,
    tokenLabel: str,
    algorithm: str,
    size: int,
    objectLabel: str,
) -> tuple[TokenKeyReference, rsa.RSAPublicKey | ec.EllipticCurvePublicKey]:
    """
    Make a key pair in the token: the private key a token object
    (C{CKA_TOKEN}), private, sensitive, never extractable, able to sign and
    nothing else; its C{CKA_ID} the SHA-1 of the public key (RFC 5280's key
    identifier, which other PKCS#11 tools look keys up by), shared with the
    public key object.

    @param algorithm: C{"RSA"} or C{"NISTECC"}.
    @param size: RSA 2048, 3072 or 4096; NISTECC 256 or 384.
    @raise InvalidValueError: another algorithm or size.
    @raise TokenKeyError: the token cannot make it, or made it extractable
        or not sensitive against the template (it is destroyed again).
    """
    Attribute = pkcs11.Attribute
    kind = algorithm.upper()
    bits = generate_size(kind, size)
    temporary = os.urandom(20)
    private = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    publicTemplate = {Attribute.TOKEN: True, Attribute.VERIFY: True}
    common = {
        "id": temporary,
        "label": objectLabel,
        "store": True,
        "capabilities": pkcs11.MechanismFlag.SIGN | pkcs11.MechanismFlag.VERIFY,
        "public_template": publicTemplate,
        "private_template": private,
    }
    public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    try:
        if kind == "RSA":
            pub, priv = session.generate_keypair(pkcs11.KeyType.RSA, bits, **common)
            public = rsa.RSAPublicNumbers(
                int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                int.from_bytes(pub[Attribute.MODULUS], "big"),
            ).public_key()
        else:
            oid, curve = _CURVES[bits]
            parameters = session.create_domain_parameters(
                pkcs11.KeyType.EC, {Attribute.EC_PARAMS: _oid_der(oid)}, local=True
            )
            pub, priv = parameters.generate_keypair(**common)
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                curve, _ec_point(bytes(pub[Attribute.EC_POINT]))
            )
    except pkcs11.PKCS11Error as e:
        raise TokenKeyError(
            f"token {tokenLabel} cannot make a {kind} {bits} key pair "
            f"({describe_error(e)})"
        ) from None
    try:
        if (
            priv[Attribute.EXTRACTABLE]
            or not priv[Attribute.SENSITIVE]
            or not priv[Attribute.TOKEN]
        ):
            raise TokenKeyError(
                f"token {tokenLabel} made the key extractable or not sensitive, "
                "against the request: it was destroyed"
            )
        check_key_policy(public)
        ident = x509.SubjectKeyIdentifier.from_public_key(public).digest
        try:
            priv[Attribute.ID] = ident
            pub[Attribute.ID] = ident
        except pkcs11.PKCS11Error:
            # A token that will not change CKA_ID keeps the random one.
            ident = temporary
            priv[Attribute.ID] = ident
            pub[Attribute.ID] = ident
    except BaseException:
        for made in (priv, pub):
            with contextlib.suppress(pkcs11.PKCS11Error):
                made.destroy()
        raise
    return TokenKeyReference(tokenLabel, objectLabel, ident), public


def destroy_key_pair(pkcs11: Any, session: Any, reference: TokenKeyReference) -> None:
    """
    Destroy the private and public key objects of C{reference}'s label and
    id.
    """
    for objectClass in (pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.ObjectClass.PUBLIC_KEY):
        template = {
            pkcs11.Attribute.CLASS: objectClass,
            pkcs11.Attribute.LABEL: reference.label,
            pkcs11.Attribute.ID: reference.id,
        }
        for found in list(session.get_objects(template)):
            found.destroy()


def find_private_keys(
    pkcs11: Any, session: Any, tokenLabel: str, public: PublicKeyTypes
) -> tuple[TokenKeyInfo, ...]:
    """
    The private keys whose public key is C{public}: RSA keys by their
    modulus, which a private key object shows even when sensitive; EC keys
    through their public key object's point, and the private key of the
    same C{CKA_ID}.
    """
    Attribute, ObjectClass = pkcs11.Attribute, pkcs11.ObjectClass
    if isinstance(public, rsa.RSAPublicKey):
        n = public.public_numbers().n
        found = list(
            session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    Attribute.KEY_TYPE: pkcs11.KeyType.RSA,
                    Attribute.MODULUS: n.to_bytes((n.bit_length() + 7) // 8, "big"),
                }
            )
        )
    elif isinstance(public, ec.EllipticCurvePublicKey):
        point = public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        ids: list[bytes] = []
        # PKCS#11 says CKA_EC_POINT is a DER OCTET STRING; some tokens keep
        # the bare point.
        for encoded in (_der_octet_string(point), point):
            for pub in session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                    Attribute.KEY_TYPE: pkcs11.KeyType.EC,
                    Attribute.EC_POINT: encoded,
                }
            ):
                ids.append(bytes(pub[Attribute.ID]))
        found = [
            private
            for ident in dict.fromkeys(ids)
            for private in session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    Attribute.KEY_TYPE: pkcs11.KeyType.EC,
                    Attribute.ID: ident,
                }
            )
        ]
    else:
        raise TokenKeyError("only RSA and EC keys are kept in a token here")
    return tuple(_info(pkcs11, tokenLabel, key, public) for key in found)


def private_keys(
    pkcs11: Any, session: Any, tokenLabel: str
) -> tuple[TokenKeyInfo, ...]:
    """
    Every private key in the token, by label and id.
    """
    found = list(
        session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY})
    )
    infos = [_info(pkcs11, tokenLabel, key, None) for key in found]
    return tuple(sorted(infos, key=lambda i: (i.reference.label, i.reference.id)))


def _info(
    pkcs11: Any, tokenLabel: str, key: Any, public: PublicKeyTypes | None
) -> TokenKeyInfo:
    Attribute = pkcs11.Attribute

    def attribute(name: Any, default: Any) -> Any:
        try:
            return key[name]
        except pkcs11.PKCS11Error:
            return default

    keyType = attribute(Attribute.KEY_TYPE, None)
    size = 0
    if keyType == pkcs11.KeyType.RSA:
        kind = "RSA"
        size = len(attribute(Attribute.MODULUS, b"")) * 8
    elif keyType == pkcs11.KeyType.EC:
        kind = "NISTECC"
        if isinstance(public, ec.EllipticCurvePublicKey):
            size = public.key_size
        else:
            size = _ec_size(bytes(attribute(Attribute.EC_PARAMS, b"")))
    else:
        kind = str(getattr(keyType, "name", keyType))
    label = attribute(Attribute.LABEL, "") or ""
    ident = bytes(attribute(Attribute.ID, b"") or b"")
    return TokenKeyInfo(
        # A key without an id (made by another tool) is listed as id 00.
        reference=TokenKeyReference(tokenLabel, label, ident or b"\x00"),
        keyType=kind,
        size=size,
        sensitive=bool(attribute(Attribute.SENSITIVE, True)),
        extractable=bool(attribute(Attribute.EXTRACTABLE, False)),
        sign=bool(attribute(Attribute.SIGN, False)),
    )


def _der_octet_string(data: bytes) -> bytes:
    if len(data) < 0x80:
        return bytes([0x04, len(data)]) + data
    length = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(length)]) + length + data


def _ec_point(value: bytes) -> bytes:
    """
    C{CKA_EC_POINT} as the point itself, whether the token wrapped it in a
    DER OCTET STRING (as PKCS#11 says) or not.
    """
    if value[:1] == b"\x04" and len(value) > 2:
        # An uncompressed point is 04, then x and y: an odd length.
        if value[1] < 0x80 and value[1] == len(value) - 2 and value[1] % 2:
            return value[2:]
        if value[1] & 0x80:
            count = value[1] & 0x7F
            length = int.from_bytes(value[2 : 2 + count], "big")
            if length == len(value) - 2 - count:
                return value[2 + count :]
    return value


def _ec_size(parameters: bytes) -> int:
    """
    The size of a named curve from its C{CKA_EC_PARAMS}, or 0 for another.
    """
    for size, (oid, _) in _CURVES.items():
        if parameters == _oid_der(oid):
            return size
    return 0


def _oid_der(dotted: str) -> bytes:
    """
    The DER of an object identifier: C{CKA_EC_PARAMS} of a named curve.
    """
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body.extend(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)
