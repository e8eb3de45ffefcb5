"""
The PKCS#11 tokens a command opens, as its RACF commands name them.

C{nss-racf} is given a module and a PIN file (C{--pkcs11-module},
C{--pkcs11-pin-file}) the way nssd.conf gives them to nssd, and optionally
the token that GENCERT's C{PCICC} and C{ICSF} mean (C{--pkcs11-token}); a
command's C{TOKEN(name)} names the token it works on.  A token is opened,
and the PIN file read, only when a command first needs it, so that a job
without token commands needs neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from nsstwisted.security.certfiles import PrivateKey
from nsstwisted.security.errors import InvalidValueError, TokenUnavailableError
from nsstwisted.security.pinfile import TokenPin, read_pin_file
from nsstwisted.security.pkcs11token import Pkcs11Token
from nsstwisted.security.tokenreference import TokenKeyReference, check_token_label

__all__ = ["TokenAccess", "TokenOpener"]


@dataclass(frozen=True)
class TokenAccess:
    """
    What opens tokens.

    @ivar module: the PKCS#11 module's file, or C{None} if none was given.
    @ivar pinFile: the file of mode 0600 holding the tokens' user PIN.
    @ivar token: the token meant where a command names none.
    @ivar source: how an operator gives these, for the messages that say
        one is missing.
    """

    module: str | None = None
    pinFile: str | None = None
    token: str | None = None
    source: str = "--pkcs11-module, --pkcs11-pin-file and --pkcs11-token"


class TokenOpener:
    """
    The tokens of one module, opened as they are named, each logged into
    with the PIN of the one PIN file; closed together by L{close}.
    """

    def __init__(self, access: TokenAccess) -> None:
        self.access = access
        self._pin: TokenPin | None = None
        self._open: dict[str, Pkcs11Token] = {}

    def default_label(self) -> str:
        """
        The token meant where a command names none.

        @raise InvalidValueError: none was given.
        """
        if self.access.token is None:
            raise InvalidValueError(
                "no PKCS#11 token is named: write TOKEN(name), or give the "
                f"token to use ({self.access.source})"
            )
        return self.access.token

    def token(self, label: str | None = None) -> Pkcs11Token:
        """
        The token C{label} (by default L{default_label}), open and logged in.

        @raise TokenUnavailableError: no module or PIN file was given, or
            the token cannot be opened.
        @raise PinFileError: the PIN file cannot be used.
        """
        name = check_token_label(label or self.default_label())
        opened = self._open.get(name)
        if opened is not None:
            return opened
        module, pinFile = self.access.module, self.access.pinFile
        if module is None or pinFile is None:
            missing = "module" if module is None else "PIN file"
            raise TokenUnavailableError(
                f"token {name} is needed, but no PKCS#11 {missing} was given "
                f"({self.access.source})",
                name,
                retry=False,
            )
        if self._pin is None:
            self._pin = read_pin_file(pinFile)
        token = Pkcs11Token(
            module, name, self._pin, pinSource=f"PIN file {pinFile}", sessions=1
        )
        token.open()
        self._open[name] = token
        return token

    def private_key(
        self, reference: TokenKeyReference, certificate: x509.Certificate
    ) -> PrivateKey:
        """
        L{TokenKeys <nsstwisted.security.keystores.TokenKeys>}: the key, from
        its token, opened now if need be (a GENCERT SIGNWITH a CA whose key
        is in a token).
        """
        return self.token(reference.token).private_key(reference, certificate)

    def close(self) -> None:
        """
        Log out of every token opened.
        """
        opened, self._open = self._open, {}
        for token in opened.values():
            token.close()
