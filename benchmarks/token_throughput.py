"""
What nssd costs per signature with its keys in a PKCS#11 token, against
bare signing with the same token: C{sign_throughput.py --keystore pkcs11}.

A SoftHSM2 token is made in a temporary folder (its own C{SOFTHSM2_CONF}
and token folder), with CLIENT1's RSA-2048 and ECDSA P-256 keys made in it
by C{RACDCERT GENCERT ... TOKEN(...)}, and for each key type this measures,
in one run:

  1. bare token signing: python-pkcs11 straight on SoftHSM, as many
     threads as nssd has signing threads, each with a session of its own
     (nssd's pool size), logged in once, the key found once, signing the
     digest nssd is sent; the calls into the module one at a time, as the
     module's initialisation (C{C_Initialize(NULL)}) requires of nssd too;
  2. the slow path, for scale: one thread opening a session, finding the
     key, signing and closing the session for every signature;
  3. nssd as its own process over real TLS on loopback, loaded by the same
     clients as C{sign_throughput.py}'s, signing with the token keys.

It prints each rate and the ratio of nssd's to the bare pooled one.  The
bare figure includes no hashing and no DER of the ECDSA signature, which
nssd's does, so the ratio is a little below what the service alone costs.
Needs SoftHSM2 (C{softhsm2-util} and its module) and python-pkcs11.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from sign_throughput import (  # noqa: E402
    DIGEST,
    NssdProcess,
    build_security,
    nssd_load,
    stash_file,
    timed_threads,
    write_config,
)
from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from nsstwisted.cli.racf import run as nss_racf  # noqa: E402
from nsstwisted.security.tokenkeys import DIGEST_INFO_PREFIXES  # noqa: E402
from nsstwisted.wire.nss import SignatureSchemeCode  # noqa: E402
from tests.softhsm import softhsm_module, why_no_softhsm  # noqa: E402

# A throwaway token's label and PINs, made for this run and deleted with it.
HSM_LABEL = "NSSBENCH"
PIN = "bench-pin-1234"
SO_PIN = "bench-so-5678"

HSM_JOB = """
RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('client1.example') O('Example')) -
         WITHLABEL('Client1 hsm') RSA(TOKEN({token})) SIZE(2048) -
         SIGNWITH(CERTAUTH LABEL('NSS CA')) ALTNAME(DOMAIN('client1.example'))
RACDCERT ID(CLIENT1) GENCERT SUBJECTSDN(CN('client1.example') O('Example')) -
         WITHLABEL('Client1 hsmec') NISTECC(TOKEN({token})) SIZE(256) -
         SIGNWITH(CERTAUTH LABEL('NSS CA')) ALTNAME(DOMAIN('client1.example'))
RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('Client1 hsm') RING(NSSRING))
RACDCERT ID(NSSD) CONNECT(ID(CLIENT1) LABEL('Client1 hsmec') RING(NSSRING))
RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.CLIENT1$HSM*.HOST UACC(NONE)
PERMIT EZB.NSSCERT.NSSSYS.CLIENT1$HSM*.HOST CLASS(SERVAUTH) ID(CLIENT1) -
       ACCESS(READ)
SETROPTS RACLIST(SERVAUTH) REFRESH
"""


@dataclass(frozen=True)
class TokenKeyType:
    name: str
    label: str
    scheme: SignatureSchemeCode
    rsa: bool


TOKEN_KEY_TYPES = {
    "rsa": TokenKeyType(
        "RSA-2048", "Client1 hsm", SignatureSchemeCode.RSA_PKCS1_SHA256, True
    ),
    "ecdsa": TokenKeyType(
        "ECDSA P-256", "Client1 hsmec", SignatureSchemeCode.ECDSA_SHA256, False
    ),
}


def make_token(folder: str) -> tuple[str, str]:
    """
    A SoftHSM2 configuration of this run's own and a token in it; the
    module and the PIN file.  C{SOFTHSM2_CONF} is set for this process and
    the nssd it starts.
    """
    tokens = os.path.join(folder, "tokens")
    os.mkdir(tokens, 0o700)
    conf = os.path.join(folder, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
            "log.level = ERROR\n"
        )
    os.environ["SOFTHSM2_CONF"] = conf
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            HSM_LABEL,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ],
        check=True,
        capture_output=True,
    )
    pinFile = os.path.join(folder, "token.pin")
    fd = os.open(pinFile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(PIN + "\n")
    module = softhsm_module()
    assert module is not None
    return module, pinFile


def add_token_keys(folder: str, database: str, module: str, pinFile: str) -> None:
    job = os.path.join(folder, "token.racf")
    with open(job, "w") as f:
        f.write(HSM_JOB.format(token=HSM_LABEL))
    err = io.StringIO()
    command = [
        "--database",
        database,
        "--stash",
        stash_file(folder),
        "--pkcs11-module",
        module,
        "--pkcs11-pin-file",
        pinFile,
        "--file",
        job,
    ]
    if nss_racf(command, io.StringIO(), err):
        raise SystemExit(f"the token job failed: {err.getvalue()}")


def write_token_config(folder: str, database: str, module: str, pinFile: str) -> str:
    path = write_config(folder, database, 1)
    with open(path) as f:
        text = f.read()
    lines = (
        f'  Pkcs11Module "{module}"\n  Pkcs11TokenLabel "{HSM_LABEL}"\n'
        f'  Pkcs11PinFile "{pinFile}"\n'
    )
    with open(path, "w") as f:
        f.write(text.replace("}\n", lines + "}\n"))
    return path


def _mechanism(pkcs11: Any, keyType: TokenKeyType) -> tuple[Any, bytes]:
    if keyType.rsa:
        return pkcs11.Mechanism.RSA_PKCS, DIGEST_INFO_PREFIXES["sha256"] + DIGEST
    return pkcs11.Mechanism.ECDSA, DIGEST


def bare_pooled(
    module: str, keyType: TokenKeyType, sessions: int, seconds: float
) -> float:
    """
    Signatures per second with C{sessions} threads, each with its own
    session and key handle, the calls into the module serialised.
    """
    import pkcs11

    lib = pkcs11.lib(module)
    token = lib.get_token(token_label=HSM_LABEL)
    login = token.open(user_pin=PIN)
    lock = threading.Lock()
    mechanism, data = _mechanism(pkcs11, keyType)

    def worker(ready: Callable[[], object], stop: threading.Event) -> int:
        with lock:
            session = token.open()
            key = session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=keyType.label
            )
        ready()
        done = 0
        while not stop.is_set():
            with lock:
                key.sign(data, mechanism=mechanism)
            done += 1
        with lock:
            session.close()
        return done

    rate = timed_threads(worker, sessions, seconds)
    login.close()
    return rate


def bare_session_per_signature(
    module: str, keyType: TokenKeyType, seconds: float
) -> float:
    """
    Signatures per second when each opens a session and finds the key (the
    login held, as PKCS#11 shares it between an application's sessions).
    """
    import pkcs11

    lib = pkcs11.lib(module)
    token = lib.get_token(token_label=HSM_LABEL)
    login = token.open(user_pin=PIN)
    mechanism, data = _mechanism(pkcs11, keyType)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        session = token.open()
        key = session.get_key(
            object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=keyType.label
        )
        key.sign(data, mechanism=mechanism)
        session.close()
        count += 1
    rate = count / (time.perf_counter() - start)
    login.close()
    return rate


def run(args: argparse.Namespace) -> None:
    """
    The whole measurement, from C{sign_throughput.py}'s options.
    """
    reason = why_no_softhsm()
    if reason is not None:
        raise SystemExit(f"--keystore pkcs11: {reason}")
    names = [n.strip() for n in args.key_types.split(",") if n.strip()]
    keyTypes = [TOKEN_KEY_TYPES[name] for name in names]
    threads = os.cpu_count() or 2
    folder = tempfile.mkdtemp(prefix="nssbench-token-")
    nssd: NssdProcess | None = None
    try:
        print("making a SoftHSM2 token and the security database ...", flush=True)
        module, pinFile = make_token(folder)
        database, caPem = build_security(folder)
        add_token_keys(folder, database, module, pinFile)
        bare: dict[str, tuple[float, float]] = {}
        for keyType in keyTypes:
            print(f"measuring bare SoftHSM {keyType.name} signing ...", flush=True)
            bare[keyType.name] = (
                bare_pooled(module, keyType, threads, args.bare_seconds),
                bare_session_per_signature(module, keyType, args.bare_seconds),
            )
        nssd = NssdProcess(write_token_config(folder, database, module, pinFile))
        print(f"nssd pid {nssd.process.pid} on port {nssd.port()}; loading ...")
        loaded = [line for line in nssd.lines if "DBG0205I" in line]
        if not loaded:
            raise SystemExit("nssd did not load the token keys (no DBG0205I)")
        started = nssd

        async def load(reactor: Any) -> None:
            results = []
            for keyType in keyTypes:
                print(f"loading nssd with {keyType.name} SIGN requests ...", flush=True)
                results.append(
                    await nssd_load(
                        reactor,
                        started,
                        caPem,
                        args.clients,
                        args.depth,
                        args.warmup,
                        args.duration,
                        keyType.label,
                        keyType.scheme,
                    )
                )
            report(keyTypes, bare, results, threads, args)

        react(lambda reactor: Deferred.fromCoroutine(load(reactor)))
    finally:
        if nssd is not None:
            nssd.stop()
        shutil.rmtree(folder, ignore_errors=True)


def report(
    keyTypes: list[TokenKeyType],
    bare: dict[str, tuple[float, float]],
    results: list[Any],
    threads: int,
    args: argparse.Namespace,
) -> None:
    print()
    print(
        f"Keys in a SoftHSM2 token: bare python-pkcs11 with {threads} sessions"
        f" ({threads} threads, nssd's pool size) against nssd over TLS,"
        f" {args.clients} clients x {args.depth} requests in flight:"
    )
    print(
        f"  {'key type':<12} {'bare pooled':>11} {'per-signature':>13}"
        f" {'nssd':>9} {'nssd/bare':>9} {'nssd CPU':>9}"
    )
    for keyType, result in zip(keyTypes, results, strict=True):
        pooled, slow = bare[keyType.name]
        rate = result.signatures / result.seconds
        cpu = result.nssdCpu / max(result.signatures, 1)
        print(
            f"  {keyType.name:<12} {pooled:9.0f}/s {slow:11.0f}/s {rate:7.0f}/s"
            f" {rate / pooled:9.2f} {cpu * 1e6:7.0f}µs"
            + (f"  FAILED {result.failures}" if result.failures else "")
        )
    print(
        "  (per-signature: a session opened and the key found for each"
        " signature, one thread; nssd CPU: nssd's CPU per signature, the"
        " token's work included)"
    )
