"""
Password hashing for user profiles.

Only a salted scrypt hash is stored: a stolen database then costs an attacker
a memory-hard search per guess.  The encoded form carries its own parameters,
so that they can be raised later without invalidating stored hashes.
"""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from nsstwisted.security.errors import InvalidValueError

MAX_PASSWORD_LENGTH = 100

_SCHEME = "scrypt"
_LOG2_N = 14
_R = 8
_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32


def check_password_rules(password: str) -> None:
    """
    Refuse passwords that RACF would refuse or that cannot be typed.

    Passwords are case sensitive, as under C{SETROPTS PASSWORD(MIXEDCASE)},
    and may be phrases of up to L{MAX_PASSWORD_LENGTH} characters.
    """
    if not password:
        raise InvalidValueError("a password must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidValueError(
            f"a password must not be longer than {MAX_PASSWORD_LENGTH} characters"
        )
    if any(not c.isprintable() for c in password):
        raise InvalidValueError("a password must not hold control characters")


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    kdf = Scrypt(salt=salt, length=_HASH_BYTES, n=2**log2_n, r=r, p=p)
    return kdf.derive(password.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """
    Hash a password for storage, after checking the password rules.
    """
    check_password_rules(password)
    salt = os.urandom(_SALT_BYTES)
    digest = _derive(password, salt, _LOG2_N, _R, _P)
    return f"{_SCHEME}${_LOG2_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _sane_cost(log2_n: int, r: int, p: int) -> bool:
    # A tampered row must not make one logon allocate gigabytes.
    return 10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4


def verify_password(password: str, stored: str) -> bool:
    """
    Whether C{password} matches the stored hash.

    The comparison is constant-time, and a damaged stored value is simply a
    mismatch: a logon must fail closed, never crash the server.
    """
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME or not _sane_cost(int(log2_n), int(r), int(p)):
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _derive(
            password, base64.b64decode(salt, validate=True), int(log2_n), int(r), int(p)
        )
    except (ValueError, TypeError, OverflowError, MemoryError):
        return False
    return hmac.compare_digest(expected, actual)
