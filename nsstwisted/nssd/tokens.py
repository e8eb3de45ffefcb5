"""
The PKCS#11 token nssd signs with, as nssd.conf names it (C{Pkcs11Module},
C{Pkcs11TokenLabel}, C{Pkcs11PinFile}), and what it tells the operator.

The PIN file is read when nssd starts and at every refresh, and a file that
cannot be used (missing, or open to group or others) stops the start or
rejects the refresh, as a bad stash file does: that is the operator's to
fix before nssd runs on it.  A token that cannot be used once nssd runs
(its module missing, the token gone, the PIN refused) is not: nssd serves
on, every other key signs, and the certificates whose keys the token holds
are refused with C{NSSRsnKeyStoreUnavailable} until it is back (DBG0206I,
DBG0210I).  A refresh keeps the token's sessions when the module and label
stay, and logs in again only if the PIN changed.
"""

from __future__ import annotations

from cryptography import x509

from nsstwisted.nssd.configuration import NssdConfiguration
from nsstwisted.nssd.diagnostics import Diagnostics
from nsstwisted.protocols.startup import StartupError
from nsstwisted.security.certfiles import PrivateKey
from nsstwisted.security.errors import PinFileError, TokenUnavailableError
from nsstwisted.security.keystores import NoTokenKeys
from nsstwisted.security.pinfile import read_pin_file
from nsstwisted.security.pkcs11token import Pkcs11Token
from nsstwisted.security.tokenreference import TokenKeyReference

__all__ = ["NssdTokens"]


class NssdTokens:
    """
    The token keys nssd reaches (a L{TokenKeys
    <nsstwisted.security.keystores.TokenKeys>}), and the observer of its
    token (L{TokenObserver <nsstwisted.security.pkcs11token.TokenObserver>}).

    @ivar token: the token nssd.conf names, or L{None}.
    """

    def __init__(self, diagnostics: Diagnostics, sessions: int) -> None:
        """
        @param sessions: how many sessions the token's pool keeps: one for
            each thread that signs.
        """
        self._diagnostics = diagnostics
        self._sessions = sessions
        self.token: Pkcs11Token | None = None

    def configure(self, configuration: NssdConfiguration) -> None:
        """
        Use the token C{configuration} names from now on, read its PIN file,
        and try to log in (a token that cannot be logged into is reported,
        not refused).

        @raise StartupError: the PIN file cannot be used; nothing changed.
        """
        module = configuration.pkcs11Module
        label = configuration.pkcs11TokenLabel
        pinFile = configuration.pkcs11PinFile
        if module is None or label is None or pinFile is None:
            old, self.token = self.token, None
            if old is not None:
                old.close()
            return
        try:
            pin = read_pin_file(pinFile)
        except PinFileError as e:
            raise StartupError(str(e)) from None
        source = f"PIN file {pinFile}"
        current = self.token
        if (
            current is not None
            and current.modulePath == module
            and current.label == label
        ):
            token = current
            token.change_pin(pin, source)
        else:
            token = self.token = Pkcs11Token(
                module,
                label,
                pin,
                pinSource=source,
                sessions=self._sessions,
                observer=self,
            )
            if current is not None:
                current.close()
        try:
            token.open()
        except TokenUnavailableError:
            # Said by token_unavailable (DBG0206I); nssd serves on.
            pass

    def close(self) -> None:
        token, self.token = self.token, None
        if token is not None:
            token.close()

    # TokenKeys

    def private_key(
        self, reference: TokenKeyReference, certificate: x509.Certificate
    ) -> PrivateKey:
        token = self.token
        if token is None:
            return NoTokenKeys(
                "nssd.conf codes no Pkcs11Module, Pkcs11TokenLabel and Pkcs11PinFile"
            ).private_key(reference, certificate)
        return token.private_key(reference, certificate)

    # TokenObserver

    def token_reset(self, token: str, reason: str) -> None:
        self._diagnostics.token_reset(token, reason)

    def token_unavailable(self, error: TokenUnavailableError) -> None:
        self._diagnostics.token_unavailable(error.token, str(error))

    def token_available(self, token: str) -> None:
        self._diagnostics.token_available(token)
