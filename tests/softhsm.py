"""
SoftHSM2 tokens for the tests: each test initialises a token of its own, in
a token folder this test run made, and deletes it when it ends.

SoftHSM reads C{SOFTHSM2_CONF} when a process initialises it, so the
configuration is set when this module is imported, before any test loads
the module, and the daemons the tests start inherit it.  A test that
cannot have a token (no SoftHSM, no softhsm2-util, no python-pkcs11) is
skipped, saying which is missing.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from nsstwisted.security.pinfile import TokenPin
from nsstwisted.security.pkcs11token import Pkcs11Token

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def softhsm_module() -> str | None:
    for path in MODULE_CANDIDATES:
        if os.path.isfile(path):
            return path
    return None


def why_no_softhsm() -> str | None:
    """
    Why a test cannot have a SoftHSM token here, or C{None}.
    """
    if importlib.util.find_spec("pkcs11") is None:
        return "python-pkcs11 is not installed (pip install nsstwisted[pkcs11])"
    if softhsm_module() is None:
        return (
            "SoftHSM2 is not installed (apt-get install softhsm2; .ci/install-softhsm)"
        )
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util is not installed (apt-get install softhsm2)"
    return None


def _configure() -> str:
    folder = tempfile.mkdtemp(prefix="nss-softhsm-")
    atexit.register(shutil.rmtree, folder, True)
    tokens = os.path.join(folder, "tokens")
    os.mkdir(tokens, 0o700)
    conf = os.path.join(folder, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write(
            f"directories.tokendir = {tokens}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
        )
    os.environ["SOFTHSM2_CONF"] = conf
    return conf


CONF = _configure()


@dataclass
class SoftToken:
    """
    A token of this test run.

    @ivar pinFile: a file of mode 0600 holding the user PIN.
    """

    label: str
    pin: str
    soPin: str
    module: str
    pinFile: str

    def open(self, **options: object) -> Pkcs11Token:
        """
        A L{Pkcs11Token} on it, logged in; closed by the caller.
        """
        token = Pkcs11Token(self.module, self.label, TokenPin(self.pin), **options)  # type: ignore[arg-type]
        token.open()
        return token

    def remove(self) -> None:
        """
        Delete the token, as an operator pulling it out would: its folder
        and every key in it are gone.
        """
        _util("--delete-token", "--token", self.label, check=False)

    def reinitialise(self) -> None:
        """
        Initialise the token again in place, with the same label and PINs:
        it answers, and every key it held is gone.
        """
        self.remove()
        _util(
            "--init-token",
            "--free",
            "--label",
            self.label,
            "--pin",
            self.pin,
            "--so-pin",
            self.soPin,
        )


def _util(*arguments: str, check: bool = True) -> str:
    done = subprocess.run(
        ["softhsm2-util", *arguments],
        capture_output=True,
        text=True,
        env=dict(os.environ, SOFTHSM2_CONF=CONF),
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"softhsm2-util {' '.join(arguments)}: {done.stderr}")
    return done.stdout


def new_token(case: SynchronousTestCase) -> SoftToken:
    """
    Initialise a token of its own for C{case}, with a PIN file in a new
    folder of the test, deleted when the test ends; skip where none can be
    had.
    """
    reason = why_no_softhsm()
    if reason is not None:
        raise SkipTest(reason)
    module = softhsm_module()
    assert module is not None
    label = f"NSS{secrets.token_hex(6).upper()}"
    pin = secrets.token_hex(8)
    soPin = secrets.token_hex(8)
    _util("--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin)
    case.addCleanup(_util, "--delete-token", "--token", label, check=False)
    folder = case.mktemp()
    os.makedirs(folder)
    pinFile = os.path.join(folder, "token.pin")
    fd = os.open(pinFile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pin + "\n")
    return SoftToken(label, pin, soPin, module, os.path.abspath(pinFile))
