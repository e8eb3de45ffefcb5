"""
Where private keys live, behind one interface: sealed in the security
database under the master key (L{nsstwisted.security.stash}), or in a
PKCS#11 token (L{nsstwisted.security.pkcs11token}).

A key ring asks a L{TokenKeys} for the key of a certificate whose row names
a token key; whichever process holds the key ring says which tokens it can
reach: nssd the one its configuration names, nss-racf those its options
name, and a process with none a L{NoTokenKeys} that says why.
"""

from __future__ import annotations

from typing import Protocol

from cryptography import x509

from nsstwisted.security.certfiles import PrivateKey
from nsstwisted.security.errors import TokenUnavailableError
from nsstwisted.security.tokenreference import TokenKeyReference

__all__ = ["NoTokenKeys", "TokenKeys"]


class TokenKeys(Protocol):
    """
    The token keys a process can reach.
    """

    def private_key(
        self, reference: TokenKeyReference, certificate: x509.Certificate
    ) -> PrivateKey:
        """
        The key C{reference} names, checked against C{certificate}: a
        cryptography private key whose C{sign} asks the token.

        @raise TokenUnavailableError: its token cannot be used here now.
        @raise TokenKeyError: the key is not there, or not the certificate's.
        """


class NoTokenKeys:
    """
    A process that reaches no token: every token key is unavailable, for
    the reason given.
    """

    def __init__(self, why: str) -> None:
        """
        @param why: why no token is reached, as the rest of a sentence
            (C{"nssd.conf codes no Pkcs11Module"}).
        """
        self.why = why

    def private_key(
        self, reference: TokenKeyReference, certificate: x509.Certificate
    ) -> PrivateKey:
        raise TokenUnavailableError(
            f"the private key is in PKCS#11 token {reference.token}, but {self.why}",
            reference.token,
            retry=False,
        )
