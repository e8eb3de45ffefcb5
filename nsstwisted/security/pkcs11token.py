"""
A PKCS#11 token as a key store: keys generated inside it, found in it by
their public key, listed, and signed with through a pool of sessions.

The binding is python-pkcs11 (the maintained, typed Cython binding with an
object model of tokens, sessions and keys), imported only when a token is
opened, so that nsstwisted works without it; C{nsstwisted[pkcs11]}
installs it.  Its objects stay inside this module: what leaves it are
L{TokenKeyReference}s, cryptography public keys, and the token keys of
L{nsstwisted.security.tokenkeys}, whose C{sign} comes back here.

Three things shape the code:

  - I{Sessions are pooled.}  Opening a session, and finding the key in
    it, for every signature is the slow path (libp11 measured pooling at
    about 2.9 times on SoftHSM).  A session is taken from the pool for one
    signature and given back; each keeps the handles of the keys it has
    found.  A separate session holds the login, and is never lent out:
    closing a session that logged in logs every session out.

  - I{Calls into a module are serialised.}  python-pkcs11 initialises a
    module with C{C_Initialize(NULL)}, which by PKCS#11 (section 5.4, and
    6.7 on threads) promises the module that no two threads call it at
    once; SoftHSM, told so, turns its own locks off.  So every call into
    one module holds that module's lock.  The pool still spares each
    signature a session, a login and a search; the signing threads do
    everything else (hashing, the DER of the signature) in parallel, and
    never wait for one another's session.

  - I{A token that was reset is logged into again, once.}  When a
    signature fails as a token fails after a reset or a logout
    (C{CKR_USER_NOT_LOGGED_IN}, an invalid session or object handle, the
    token gone from its slot), the sessions are dropped, the module is
    initialised again if the token cannot be found (so that a token put
    back is seen), the PIN is presented again, and the signature is tried
    once more.  If that fails the token is unavailable
    (L{TokenUnavailableError}), and is tried again, at the earliest after
    L{RETRY_INTERVAL}, by the next request that needs it; but never after
    a wrong PIN, which a token counts towards locking its PIN: only a new
    PIN (L{Pkcs11Token.change_pin}) tries again.

No Twisted: the daemons call this from their worker threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from nsstwisted.security import tokenobjects
from nsstwisted.security.certfiles import PrivateKey
from nsstwisted.security.errors import (
    InvalidValueError,
    TokenKeyError,
    TokenUnavailableError,
)
from nsstwisted.security.pinfile import TokenPin
from nsstwisted.security.tokenkeys import (
    TokenEcKey,
    TokenMechanism,
    TokenRsaKey,
    TokenSignature,
)
from nsstwisted.security.tokenobjects import TokenKeyInfo
from nsstwisted.security.tokenreference import TokenKeyReference, check_token_label

__all__ = [
    "DEFAULT_SESSIONS",
    "RETRY_INTERVAL",
    "Pkcs11Token",
    "TokenKeyInfo",
    "TokenObserver",
]

DEFAULT_SESSIONS = 4
RETRY_INTERVAL = 10.0
"""Seconds before a token found unavailable is tried again (not after a wrong PIN)."""

_PROBE = hashlib.sha256(b"nsstwisted token key probe").digest()


class TokenObserver(Protocol):
    """
    What a token tells its owner (nssd's diagnostics) as it happens, from
    whichever thread it happens on.
    """

    def token_reset(self, token: str, reason: str) -> None:
        """
        The token failed as a reset token does; it was logged into again
        and signs on.
        """

    def token_unavailable(self, error: TokenUnavailableError) -> None:
        """
        The token could not be opened or logged into.
        """

    def token_available(self, token: str) -> None:
        """
        A token that was unavailable is open again.
        """


class _Module:
    """
    One loaded PKCS#11 module: python-pkcs11's C{lib}, the lock every call
    into it holds, and how often it was initialised again (which ends every
    session anyone had on it).
    """

    def __init__(self, path: str, lib: Any) -> None:
        self.path = path
        self.lib = lib
        self.lock = threading.RLock()
        self.generation = 0

    def reinitialize(self) -> None:
        """
        C{C_Finalize} and C{C_Initialize}: the module looks at its slots
        afresh (SoftHSM sees a token added or removed only then).
        """
        with self.lock:
            self.lib.reinitialize()
            self.generation += 1


_modules: dict[str, _Module] = {}
_modulesLock = threading.Lock()


def _pkcs11() -> Any:
    """
    python-pkcs11, imported now.

    @raise TokenUnavailableError: it is not installed.
    """
    loaded = sys.modules.get("pkcs11")
    if loaded is not None:
        return loaded
    try:
        import pkcs11
    except ImportError:
        raise TokenUnavailableError(
            "the PKCS#11 binding python-pkcs11 is not installed: install "
            "nsstwisted[pkcs11]",
            retry=False,
        ) from None
    return pkcs11


class _Reset(Exception):
    """
    A call failed as calls fail after the token was reset: log in again.
    """


@dataclass(frozen=True)
class _Errors:
    """
    python-pkcs11's exceptions, as a signature's failure is judged.

    @ivar resets: what a token fails with after it was reset or logged out
        (or lost): log in again, and try once more.
    @ivar refusals: what a token fails with when the request does not suit
        the key: the key's failure, not the token's.
    @ivar base: every PKCS#11 error.
    """

    resets: tuple[type[BaseException], ...]
    refusals: tuple[type[BaseException], ...]
    base: type[BaseException]


_errorsLoaded: list[_Errors] = []


def _errors() -> _Errors:
    """
    L{_Errors}, gathered once (the signing path asks for them every time).
    """
    if _errorsLoaded:
        return _errorsLoaded[0]
    pkcs11 = _pkcs11()
    errors = _Errors(
        resets=(
            _Reset,
            pkcs11.UserNotLoggedIn,
            pkcs11.SessionHandleInvalid,
            pkcs11.SessionClosed,
            pkcs11.ObjectHandleInvalid,
            pkcs11.KeyHandleInvalid,
            pkcs11.TokenNotPresent,
            pkcs11.TokenNotRecognised,
            pkcs11.DeviceRemoved,
            pkcs11.DeviceError,
            pkcs11.GeneralError,
            pkcs11.FunctionFailed,
        ),
        refusals=(
            pkcs11.MechanismInvalid,
            pkcs11.MechanismParamInvalid,
            pkcs11.KeyTypeInconsistent,
            pkcs11.KeySizeRange,
            pkcs11.DataLenRange,
            pkcs11.DataInvalid,
            pkcs11.FunctionNotSupported,
            pkcs11.FunctionRejected,
            pkcs11.AttributeSensitive,
        ),
        base=pkcs11.PKCS11Error,
    )
    _errorsLoaded.append(errors)
    return errors


def _module(path: str) -> _Module:
    """
    The module at C{path}, loaded once per process (a module may be
    initialised only once, whoever in the process asks).

    @raise TokenUnavailableError: it cannot be loaded.
    """
    pkcs11 = _pkcs11()
    with _modulesLock:
        module = _modules.get(path)
        if module is not None:
            return module
        if not os.path.isfile(path):
            raise TokenUnavailableError(f"PKCS#11 module {path} does not exist")
        try:
            lib = pkcs11.lib(path)
        except pkcs11.PKCS11Error as e:
            raise TokenUnavailableError(
                f"PKCS#11 module {path} cannot be loaded ({_describe(e)})"
            ) from None
        module = _modules[path] = _Module(path, lib)
        return module


_describe = tokenobjects.describe_error


class _Pooled:
    """
    A session of the pool, with the handles of the keys found in it.

    @ivar epoch: the token's login it was opened under.
    @ivar moduleGeneration: the module's initialisation it belongs to: a
        session of an earlier one is dead, and its handle may name another
        session now, so it is dropped, never closed.
    """

    def __init__(self, session: Any, epoch: int, moduleGeneration: int) -> None:
        self.session = session
        self.epoch = epoch
        self.moduleGeneration = moduleGeneration
        self.keys: dict[TokenKeyReference, Any] = {}


class Pkcs11Token:
    """
    One token of one PKCS#11 module, logged into with its user PIN.

    @ivar label: the token's label.
    @ivar modulePath: the module's file.
    @ivar sessions: how many idle sessions the pool keeps.
    """

    def __init__(
        self,
        modulePath: str,
        label: str,
        pin: TokenPin,
        *,
        pinSource: str = "the PIN file",
        sessions: int = DEFAULT_SESSIONS,
        observer: TokenObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        retryInterval: float = RETRY_INTERVAL,
    ) -> None:
        """
        @param pinSource: where the PIN came from, as messages name it.
        """
        self.modulePath = modulePath
        self.label = check_token_label(label)
        self.sessions = max(1, sessions)
        self._pin = pin
        self._pinSource = pinSource
        self._observer = observer
        self._clock = clock
        self._retryInterval = retryInterval
        self._state = threading.Lock()
        self._module: _Module | None = None
        self._token: Any = None
        self._login: Any = None
        self._loginGeneration = -1
        self._epoch = 0
        self._idle: list[_Pooled] = []
        self._mechanisms: frozenset[Any] | None = None
        self._broken: TokenUnavailableError | None = None
        self._retryAt = 0.0
        self._closed = False

    def __repr__(self) -> str:
        return f"<Pkcs11Token {self.label!r} of {self.modulePath}>"

    # Opening and closing

    @property
    def unavailable(self) -> TokenUnavailableError | None:
        """
        Why the token could not be used when last tried, or C{None}.
        """
        return self._broken

    def open(self) -> None:
        """
        Load the module, find the token and log in, unless that is done.

        @raise TokenUnavailableError: any of it failed; tried again by the
            next call after L{RETRY_INTERVAL}, or after a wrong PIN only
            once L{change_pin} gave another.
        """
        with self._state:
            self._ensure_open()

    def change_pin(self, pin: TokenPin, pinSource: str | None = None) -> None:
        """
        Log in with C{pin} from now on (a refresh read the PIN file again):
        if it differs, or the token is unavailable, log in again at the next
        use.
        """
        with self._state:
            if pinSource is not None:
                self._pinSource = pinSource
            broken = self._broken
            if pin == self._pin and (broken is None or not broken.retry):
                # The same PIN is not presented again after the token
                # refused it: each refusal counts towards a lockout.
                return
            self._pin = pin
            if broken is not None:
                # Tried at the next use, which says the token is back.
                self._broken = TokenUnavailableError(broken.text, self.label)
            self._retryAt = 0.0
            self._drop_sessions()

    def close(self) -> None:
        """
        Close the sessions and log out; the token is not used again.
        """
        with self._state:
            self._closed = True
            self._drop_sessions()

    def _ensure_open(self) -> None:
        """
        Under C{_state}: logged in on the module's current initialisation,
        or L{TokenUnavailableError}.
        """
        if self._closed:
            raise TokenUnavailableError(f"token {self.label} was closed", self.label)
        module = self._module
        if (
            self._login is not None
            and module is not None
            and self._loginGeneration == module.generation
        ):
            return
        broken = self._broken
        if broken is not None and (not broken.retry or self._clock() < self._retryAt):
            raise TokenUnavailableError(broken.text, self.label, retry=broken.retry)
        try:
            self._log_in()
        except TokenUnavailableError as e:
            self._broken = e
            self._retryAt = self._clock() + self._retryInterval
            if self._observer is not None:
                self._observer.token_unavailable(e)
            raise
        if broken is not None:
            self._broken = None
            if self._observer is not None:
                self._observer.token_available(self.label)

    def _log_in(self) -> None:
        pkcs11 = _pkcs11()
        self._drop_sessions()
        module = self._module = _module(self.modulePath)
        with module.lock:
            token = self._find_token(module)
            if token is None:
                # SoftHSM, and modules like it, see a token added or
                # removed only when initialised again.
                module.reinitialize()
                token = self._find_token(module)
            if token is None:
                raise TokenUnavailableError(
                    f"token {self.label} is not present in PKCS#11 module "
                    f"{self.modulePath}",
                    self.label,
                )
            try:
                login = token.open(user_pin=self._pin.reveal())
            except pkcs11.UserAlreadyLoggedIn:
                # Logged in already by another holder in this process (the
                # login is the application's, not the session's).
                login = token.open()
            except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as e:
                raise TokenUnavailableError(
                    f"token {self.label} refused the user PIN from "
                    f"{self._pinSource} ({_describe(e)}): correct it and refresh; "
                    "it is not tried again until then, so that the token does "
                    "not lock the PIN",
                    self.label,
                    retry=False,
                ) from None
            except (pkcs11.PinLocked, pkcs11.PinExpired) as e:
                raise TokenUnavailableError(
                    f"token {self.label} will not log in with its user PIN "
                    f"({_describe(e)}): its security officer must unlock or "
                    "reset the PIN",
                    self.label,
                    retry=False,
                ) from None
            except pkcs11.PKCS11Error as e:
                raise TokenUnavailableError(
                    f"token {self.label} cannot be logged into ({_describe(e)})",
                    self.label,
                ) from None
            try:
                mechanisms = frozenset(token.slot.get_mechanisms())
            except pkcs11.PKCS11Error:
                mechanisms = frozenset()
            self._token = token
            self._login = login
            self._loginGeneration = module.generation
            self._mechanisms = mechanisms
            self._epoch += 1

    def _find_token(self, module: _Module) -> Any:
        pkcs11 = _pkcs11()
        try:
            return module.lib.get_token(token_label=self.label)
        except pkcs11.MultipleTokensReturned:
            raise TokenUnavailableError(
                f"PKCS#11 module {self.modulePath} has more than one token "
                f"labelled {self.label}: relabel one",
                self.label,
                retry=False,
            ) from None
        except pkcs11.PKCS11Error:
            return None

    def _drop_sessions(self) -> None:
        """
        Under C{_state}: close what is open on the module's current
        initialisation (the pool first, the login last, whose closing logs
        out), and forget the rest.
        """
        module = self._module
        idle, self._idle = self._idle, []
        login, self._login = self._login, None
        if module is None:
            return
        with module.lock:
            for pooled in idle:
                if pooled.moduleGeneration == module.generation:
                    _close_quietly(pooled.session)
            if login is not None and self._loginGeneration == module.generation:
                _close_quietly(login)
        self._epoch += 1

    # The pool

    def _checkout(self) -> _Pooled:
        """
        A session of the pool (a new one if none is idle), lent until
        L{_give_back} or L{_discard}.

        @raise _Reset: a new session cannot be opened.
        @raise TokenUnavailableError: the token cannot be logged into.
        """
        with self._state:
            self._ensure_open()
            if self._idle:
                return self._idle.pop()
            epoch = self._epoch
            module = self._module
            token = self._token
        assert module is not None
        with module.lock:
            if module.generation != self._loginGeneration:
                raise _Reset("the module was initialised again")
            try:
                session = token.open()
            except _errors().base as e:
                raise _Reset(_describe(e)) from None
            return _Pooled(session, epoch, module.generation)

    def _give_back(self, pooled: _Pooled) -> None:
        with self._state:
            if pooled.epoch == self._epoch and len(self._idle) < self.sessions:
                self._idle.append(pooled)
                return
        self._discard(pooled)

    def _discard(self, pooled: _Pooled) -> None:
        module = self._module
        if module is None:
            return
        with module.lock:
            if pooled.moduleGeneration == module.generation:
                _close_quietly(pooled.session)

    def _reset(self, epoch: int, reason: str) -> None:
        """
        Log in again, unless another thread did since C{epoch}.

        @raise TokenUnavailableError: it cannot be.
        """
        with self._state:
            if self._epoch != epoch:
                return
            self._drop_sessions()
            self._ensure_open()
        if self._observer is not None:
            self._observer.token_reset(self.label, reason)

    def _with_key(
        self, reference: TokenKeyReference, work: Callable[[Any, Any], Any]
    ) -> Any:
        """
        Run C{work(key, session)} with C{reference}'s key found in a pooled
        session, under the module's lock; after a failure that a reset
        explains, log in again and run it once more.

        This is every token signature's path, so it is kept short: one
        session taken and given back, one hold of the module's lock, the
        key's handle found once per session.

        @raise TokenUnavailableError: the token cannot be used, or failed
            again after logging in again.
        @raise TokenKeyError: the key is not in the token, or refused.
        """
        errors = _errors()
        for attempt in (1, 2):
            epoch = self._epoch
            try:
                pooled = self._checkout()
                epoch = pooled.epoch
                module = self._module
                assert module is not None
                try:
                    with module.lock:
                        if pooled.moduleGeneration != module.generation:
                            raise _Reset("the module was initialised again")
                        try:
                            key = pooled.keys.get(reference)
                            if key is None:
                                key = pooled.keys[reference] = self._find_private(
                                    pooled.session, reference
                                )
                            result = work(key, pooled.session)
                        except errors.resets as e:
                            raise _Reset(_describe(e)) from None
                except _Reset:
                    self._discard(pooled)
                    raise
                except BaseException:
                    self._give_back(pooled)
                    raise
                self._give_back(pooled)
                return result
            except _Reset as e:
                if attempt == 2:
                    error = TokenUnavailableError(
                        f"token {self.label} failed again after logging in again ({e})",
                        self.label,
                    )
                    with self._state:
                        self._broken = error
                        self._retryAt = self._clock() + self._retryInterval
                        self._drop_sessions()
                    if self._observer is not None:
                        self._observer.token_unavailable(error)
                    raise error from None
                self._reset(epoch, str(e))
            except errors.refusals as e:
                raise TokenKeyError(
                    f"token {self.label} refused the key {reference} ({_describe(e)})"
                ) from None
            except errors.base as e:
                raise TokenUnavailableError(
                    f"token {self.label} failed ({_describe(e)})", self.label
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _find_private(self, session: Any, reference: TokenKeyReference) -> Any:
        pkcs11 = _pkcs11()
        if reference.token != self.label:
            raise TokenKeyError(f"the key {reference} is not in token {self.label}")
        try:
            return session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY,
                label=reference.label,
                id=reference.id,
            )
        except pkcs11.NoSuchKey:
            raise TokenKeyError(
                f"token {self.label} holds no private key {reference.label!r} "
                f"with id {reference.id.hex().upper()} (deleted, or the token "
                "was initialised again)"
            ) from None
        except pkcs11.MultipleObjectsReturned:
            raise TokenKeyError(
                f"token {self.label} holds more than one private key "
                f"{reference.label!r} with id {reference.id.hex().upper()}"
            ) from None

    # Signing

    def sign_with(self, reference: TokenKeyReference, request: TokenSignature) -> bytes:
        """
        Sign with the key C{reference} names (L{ITokenSigner
        <nsstwisted.security.tokenkeys.ITokenSigner>}).
        """
        pkcs11 = _pkcs11()
        mechanism, parameter = _mechanism(pkcs11, request)

        def sign(key: Any, session: Any) -> bytes:
            signature: bytes = key.sign(
                request.data, mechanism=mechanism, mechanism_param=parameter
            )
            return signature

        result: bytes = self._with_key(reference, sign)
        return result

    def private_key(
        self, reference: TokenKeyReference, certificate: x509.Certificate
    ) -> PrivateKey:
        """
        The token key C{reference} names, checked against C{certificate}:
        it is there, is allowed to sign, is of the certificate's key type,
        and a probe signature with each mechanism the token offers for it
        verifies with the certificate's public key.  A server calls this
        when it loads its ring, so that a key that cannot sign is reported
        then, not at a client's request.

        @raise TokenUnavailableError: the token cannot be used now.
        @raise TokenKeyError: the key is missing, cannot sign, or is not the
            certificate's.
        """
        if reference.token != self.label:
            raise TokenUnavailableError(
                f"the key {reference} is in PKCS#11 token {reference.token}, but "
                f"the token open here is {self.label}",
                reference.token,
                retry=False,
            )
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise TokenKeyError("only RSA and EC certificates have token keys")
        pkcs11 = _pkcs11()
        wanted = (
            pkcs11.KeyType.RSA
            if isinstance(public, rsa.RSAPublicKey)
            else pkcs11.KeyType.EC
        )

        def attributes(key: Any, session: Any) -> tuple[Any, bool]:
            return key.key_type, bool(key[pkcs11.Attribute.SIGN])

        keyType, signs = self._with_key(reference, attributes)
        if keyType != wanted:
            raise TokenKeyError(
                f"the key {reference} is {getattr(keyType, 'name', keyType)}, "
                "not the certificate's key type"
            )
        if not signs:
            raise TokenKeyError(f"the key {reference} may not sign (CKA_SIGN false)")
        offered = self._mechanisms or frozenset()
        key: TokenRsaKey | TokenEcKey
        if isinstance(public, rsa.RSAPublicKey):
            candidates = [
                (TokenMechanism.RSA_PKCS, pkcs11.Mechanism.RSA_PKCS),
                (TokenMechanism.RSA_PKCS_PSS, pkcs11.Mechanism.RSA_PKCS_PSS),
            ]
            usable = frozenset(m for m, p in candidates if p in offered)
            key = TokenRsaKey(self, reference, public, usable)
        else:
            usable = (
                frozenset({TokenMechanism.ECDSA})
                if pkcs11.Mechanism.ECDSA in offered
                else frozenset()
            )
            key = TokenEcKey(self, reference, public, usable)
        checked = self._probe(key, public)
        if not checked:
            raise TokenKeyError(
                f"token {self.label} offers none of the mechanisms the key "
                f"{reference} needs ("
                + (
                    "CKM_RSA_PKCS"
                    if isinstance(public, rsa.RSAPublicKey)
                    else "CKM_ECDSA"
                )
                + ")"
            )
        key.mechanisms = checked
        return key

    def _probe(
        self, key: TokenRsaKey | TokenEcKey, public: PublicKeyTypes
    ) -> frozenset[TokenMechanism]:
        """
        The mechanisms of C{key} whose probe signature verifies with
        C{public}; a signature that does not verify is a key that is not
        the certificate's, which is refused outright.
        """
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        working: set[TokenMechanism] = set()
        for mechanism in sorted(key.mechanisms, key=lambda m: m.value):
            try:
                if isinstance(key, TokenRsaKey):
                    assert isinstance(public, rsa.RSAPublicKey)
                    scheme: padding.AsymmetricPadding = (
                        padding.PSS(padding.MGF1(hashes.SHA256()), 32)
                        if mechanism is TokenMechanism.RSA_PKCS_PSS
                        else padding.PKCS1v15()
                    )
                    signature = key.sign(_PROBE, scheme, Prehashed(hashes.SHA256()))
                    public.verify(signature, _PROBE, scheme, Prehashed(hashes.SHA256()))
                else:
                    assert isinstance(public, ec.EllipticCurvePublicKey)
                    algorithm = ec.ECDSA(Prehashed(hashes.SHA256()))
                    signature = key.sign(_PROBE, algorithm)
                    public.verify(signature, _PROBE, algorithm)
            except TokenKeyError:
                continue
            except InvalidSignature:
                raise TokenKeyError(
                    f"the key {key.reference} is not the private key of its "
                    "certificate: a probe signature with it does not verify"
                ) from None
            working.add(mechanism)
        return frozenset(working)

    # Administration (nss-racf)

    def generate_key_pair(
        self, algorithm: str, size: int, objectLabel: str
    ) -> TokenRsaKey | TokenEcKey:
        """
        Make a key pair inside the token (L{tokenobjects.generate_key_pair
        <nsstwisted.security.tokenobjects.generate_key_pair>}), as RACDCERT
        GENCERT RSA(TOKEN(...)) or NISTECC(TOKEN(...)) does.

        @raise InvalidValueError: another algorithm or size.
        @raise TokenKeyError: the token cannot make it, or made it
            extractable or not sensitive (it is destroyed again).
        """
        with self._rw_session() as session:
            reference, public = tokenobjects.generate_key_pair(
                _pkcs11(), session, self.label, algorithm, size, objectLabel
            )
        if isinstance(public, rsa.RSAPublicKey):
            return TokenRsaKey(
                self,
                reference,
                public,
                frozenset({TokenMechanism.RSA_PKCS, TokenMechanism.RSA_PKCS_PSS}),
            )
        return TokenEcKey(self, reference, public, frozenset({TokenMechanism.ECDSA}))

    def destroy_key(self, reference: TokenKeyReference) -> None:
        """
        Destroy a key pair made for what then failed (a certificate that
        could not be stored), so that no orphan is left in the token.
        Quiet: the failure being reported matters more.
        """
        pkcs11 = _pkcs11()
        try:
            with self._rw_session() as session:
                tokenobjects.destroy_key_pair(pkcs11, session, reference)
        except (pkcs11.PKCS11Error, TokenUnavailableError):
            pass

    def find_key(self, public: PublicKeyTypes) -> tuple[TokenKeyInfo, ...]:
        """
        The private keys in the token whose public key is C{public}
        (RACDCERT BIND).
        """
        with self._rw_session() as session:
            return tokenobjects.find_private_keys(
                _pkcs11(), session, self.label, public
            )

    def keys(self) -> tuple[TokenKeyInfo, ...]:
        """
        Every private key in the token (RACDCERT LISTTOKEN), by label.
        """
        with self._rw_session() as session:
            return tokenobjects.private_keys(_pkcs11(), session, self.label)

    @contextmanager
    def _rw_session(self) -> Iterator[Any]:
        """
        A read/write session of its own (key generation writes token
        objects; the pool's sessions only read), held with the module's
        lock for the whole block: administration is rare and one at a time.
        """
        pkcs11 = _pkcs11()
        with self._state:
            self._ensure_open()
            module, token = self._module, self._token
        assert module is not None
        with module.lock:
            try:
                session = token.open(rw=True)
            except pkcs11.PKCS11Error as e:
                raise TokenUnavailableError(
                    f"token {self.label} cannot open a session ({_describe(e)})",
                    self.label,
                ) from None
            try:
                yield session
            finally:
                _close_quietly(session)


def _mechanism(pkcs11: Any, request: TokenSignature) -> tuple[Any, Any]:
    """
    python-pkcs11's mechanism and parameter for C{request}.
    """
    if request.mechanism is TokenMechanism.RSA_PKCS:
        return pkcs11.Mechanism.RSA_PKCS, None
    if request.mechanism is TokenMechanism.ECDSA:
        return pkcs11.Mechanism.ECDSA, None
    name = request.hashName.upper()
    try:
        hashMechanism = getattr(pkcs11.Mechanism, "SHA_1" if name == "SHA1" else name)
        mgf = getattr(pkcs11.MGF, name)
    except AttributeError:
        raise InvalidValueError(
            f"RSA-PSS with {request.hashName} is not offered"
        ) from None
    return pkcs11.Mechanism.RSA_PKCS_PSS, (hashMechanism, mgf, request.saltLength)


def _close_quietly(session: Any) -> None:
    # A dead session needs no closing, and its error says nothing new.
    with contextlib.suppress(Exception):
        session.close()
