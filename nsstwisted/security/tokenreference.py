"""
Where a private key lives in a PKCS#11 token, as the security database
records it: the token's label, the key object's label and its C{CKA_ID},
written as an RFC 7512 PKCS#11 URI (C{pkcs11:token=...;object=...;id=...}).

The URI is the form other keyless signers and strongSwan's pkcs11 plugin
name token keys by, so an operator can hand the same reference to
C{p11tool} or C{pkcs11-tool} to look at the key.  It names the key and
nothing else: no PIN (RFC 7512's C{pin-value} is refused), no module path
(the configuration names the module), and never any key material.

No Twisted and no PKCS#11 binding here: the key ring reads and writes these
references whether or not a token can be reached.
"""

from __future__ import annotations

import string
import urllib.parse
from dataclasses import dataclass

from nsstwisted.security.errors import InvalidValueError

__all__ = ["MAX_TOKEN_LABEL_LENGTH", "TokenKeyReference", "check_token_label"]

MAX_TOKEN_LABEL_LENGTH = 32
"""A token label is C{CK_TOKEN_INFO.label}: 32 bytes, blank padded."""

_MAX_ID_LENGTH = 64
_SCHEME = "pkcs11:"
# RFC 7512's pk11-pchar: RFC 3986's unreserved characters and the ones
# the URI's path may hold unencoded; everything else is percent-encoded.
_SAFE = string.ascii_letters + string.digits + "-._~:[]@!$'()*+,="


def check_token_label(label: str) -> str:
    """
    A token label as an operator writes it (C{Pkcs11TokenLabel},
    C{TOKEN(name)}): 1 to 32 bytes of UTF-8, printable, with no blank at
    either end (the token pads its label with blanks, so one there could
    never match).

    @raise InvalidValueError: it is not one.
    """
    encoded = label.encode("utf-8")
    if not encoded or len(encoded) > MAX_TOKEN_LABEL_LENGTH:
        raise InvalidValueError(
            f"a PKCS#11 token label must be 1 to {MAX_TOKEN_LABEL_LENGTH} bytes"
        )
    if label != label.strip() or not label.isprintable():
        raise InvalidValueError(
            f"PKCS#11 token label {label!r} must be printable, without blanks "
            "at either end"
        )
    return label


def _encode(value: bytes) -> str:
    return urllib.parse.quote(value, safe=_SAFE)


@dataclass(frozen=True)
class TokenKeyReference:
    """
    A private key in a PKCS#11 token.

    @ivar token: the token's label (its C{CK_TOKEN_INFO.label}).
    @ivar label: the private key object's C{CKA_LABEL}.
    @ivar id: its C{CKA_ID}, which tells keys of one label apart and pairs a
        private key with its public key object.
    """

    token: str
    label: str
    id: bytes

    @property
    def uri(self) -> str:
        """
        The RFC 7512 URI, attributes in a fixed order so that one key has
        one spelling in the database.
        """
        return (
            f"{_SCHEME}token={_encode(self.token.encode('utf-8'))}"
            f";object={_encode(self.label.encode('utf-8'))}"
            f";id={''.join(f'%{byte:02X}' for byte in self.id)}"
            ";type=private"
        )

    def __str__(self) -> str:
        return self.uri

    @classmethod
    def parse(cls, uri: str) -> TokenKeyReference:
        """
        Read a reference this module wrote, or one an operator copied from
        another tool, as long as it names a token, an object and an id.

        @raise InvalidValueError: it is not a PKCS#11 URI, names anything
            but a private key, lacks one of the three, or carries a PIN.
        """
        if not uri.lower().startswith(_SCHEME):
            raise InvalidValueError(f"{uri!r} is not a PKCS#11 URI (pkcs11:...)")
        path, _, query = uri[len(_SCHEME) :].partition("?")
        if "pin-value" in query or "pin-source" in query:
            raise InvalidValueError("a PKCS#11 URI here must not carry a PIN")
        attributes: dict[str, bytes] = {}
        for part in path.split(";"):
            if not part:
                continue
            name, equals, value = part.partition("=")
            name = name.lower()
            if not equals or name in attributes:
                raise InvalidValueError(f"PKCS#11 URI attribute {part!r} is not valid")
            attributes[name] = urllib.parse.unquote_to_bytes(value)
        kind = attributes.pop("type", b"private")
        if kind != b"private":
            raise InvalidValueError("the PKCS#11 URI must name a private key")
        try:
            token = attributes.pop("token").decode("utf-8")
            label = attributes.pop("object").decode("utf-8")
            ident = attributes.pop("id")
        except KeyError as e:
            raise InvalidValueError(
                f"the PKCS#11 URI {uri!r} has no {e.args[0]} attribute"
            ) from None
        except UnicodeDecodeError:
            raise InvalidValueError(
                f"the PKCS#11 URI {uri!r} has a label that is not UTF-8"
            ) from None
        if attributes:
            raise InvalidValueError(
                "the PKCS#11 URI may name only token, object, id and type, not "
                + ", ".join(sorted(attributes))
            )
        check_token_label(token)
        if not label or not 0 < len(ident) <= _MAX_ID_LENGTH:
            raise InvalidValueError(
                f"the PKCS#11 URI {uri!r} needs an object label and an id of 1 "
                f"to {_MAX_ID_LENGTH} bytes"
            )
        return cls(token, label, ident)
