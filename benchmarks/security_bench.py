"""
Costs of the security database's hot paths, each as a ratio against a
baseline measured in the same run:

  - signing through the key ring against bare C{cryptography} signing with
    the same key (the price of the ring lookup, the seal and the cache);
  - an authorization check against a 1000-profile snapshot against a bare
    C{dict} lookup (the price of generic matching and precedence);
  - a worst-case PassTicket evaluation (the whole +-10 minute window) against
    generating a single ticket (how well the window scan is batched).

Run it with the package installed: C{python benchmarks/security_bench.py}.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from nsstwisted.security import (
    AccessLevel,
    CertificateOwner,
    KeyRingStore,
    ProfileStore,
    ResourceClass,
    SecurityDatabase,
    SignatureScheme,
    UserRegistry,
)
from nsstwisted.security.certgen import generate_private_key, subject_name
from nsstwisted.security.passticket import (
    PassTicketEvaluator,
    PassTicketRejected,
    generate_passticket,
)

SECONDS = 1.0


def rate(work: Callable[[], object], seconds: float = SECONDS) -> float:
    """
    Calls per second of C{work}, over about C{seconds}.
    """
    work()
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            work()
        count += 10
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def report(name: str, measured: float, baseline: float, baselineName: str) -> None:
    print(
        f"{name:44} {measured:12,.0f}/s   {baselineName:34} {baseline:12,.0f}/s"
        f"   ratio {measured / baseline:6.3f}"
    )


def main() -> None:
    folder = tempfile.mkdtemp()
    database = SecurityDatabase.open(
        os.path.join(folder, "security.db"), os.path.join(folder, "security.sth")
    )
    users = UserRegistry(database)
    users.add_user("NSSD")
    users.add_user("CLIENT1")
    keyrings = KeyRingStore(database)
    keyrings.add_ring("NSSD", "NSSRING")
    data = os.urandom(100)
    print(f"{'measurement':44} {'rate':>14}   {'baseline':34} {'rate':>14}   ratio")

    for algorithm, size, scheme in [
        ("RSA", 2048, SignatureScheme.RSA_PKCS1_SHA256),
        ("NISTECC", 256, SignatureScheme.ECDSA_SHA256),
    ]:
        label = f"{algorithm} {size}"
        keyrings.generate_certificate(
            CertificateOwner.user("CLIENT1"),
            label,
            subject_name([("CN", label)]),
            algorithm=algorithm,
            size=size,
        )
        keyrings.connect("NSSD", "NSSRING", CertificateOwner.user("CLIENT1"), label)
        bare = generate_private_key(algorithm, size)

        def bare_sign(key: object = bare) -> bytes:
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key.sign(data, ec.ECDSA(hashes.SHA256()))
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined,no-any-return]

        def ring_sign(label: str = label, scheme: SignatureScheme = scheme) -> bytes:
            return keyrings.sign("NSSD", "NSSRING", label, data, scheme)

        report(
            f"KeyRingStore.sign {label}",
            rate(ring_sign),
            rate(bare_sign),
            f"cryptography sign {label}",
        )

    profiles = ProfileStore(database)
    profiles.set_options(
        activate=[ResourceClass.SERVAUTH], generic=[ResourceClass.SERVAUTH]
    )
    with database.transaction():
        for n in range(500):
            profiles.define(
                ResourceClass.SERVAUTH,
                f"EZB.NSS.SYS1.CLIENT{n}.IPSEC.CERT",
                owner="NSSD",
            )
            profiles.define(
                ResourceClass.SERVAUTH, f"EZB.NSSCERT.SYS1.LABEL{n}*.HOST", owner="NSSD"
            )
        profiles.define(ResourceClass.SERVAUTH, "EZB.NSSCERT.**", owner="NSSD")
        profiles.permit(
            ResourceClass.SERVAUTH, "EZB.NSSCERT.**", ["CLIENT1"], AccessLevel.READ
        )
    snapshot = profiles.snapshot()
    table = {f"EZB.NSS.SYS1.CLIENT{n}.IPSEC.CERT": n for n in range(500)}

    def discrete() -> object:
        return snapshot.authorize(
            "CLIENT1",
            ResourceClass.SERVAUTH,
            "EZB.NSS.SYS1.CLIENT250.IPSEC.CERT",
            AccessLevel.READ,
        )

    def generic_worst() -> object:
        # No LABELn* profile matches, so every generic is tried before **.
        return snapshot.authorize(
            "CLIENT1",
            ResourceClass.SERVAUTH,
            "EZB.NSSCERT.SYS1.OTHER.HOST",
            AccessLevel.READ,
        )

    def lookup() -> object:
        return table.get("EZB.NSS.SYS1.CLIENT250.IPSEC.CERT")

    baseline = rate(lookup)
    report(
        "authorize, discrete profile (1001 defined)",
        rate(discrete),
        baseline,
        "dict.get",
    )
    report(
        "authorize, worst generic (501 generics)",
        rate(generic_worst),
        baseline,
        "dict.get",
    )

    key = bytes.fromhex("E001193519561977")
    evaluator = PassTicketEvaluator(window=600)

    def evaluate_worst() -> None:
        try:
            evaluator.evaluate("CLIENT1", "NSSD", key, "AAAAAAAA")
        except PassTicketRejected:
            pass

    def generate_one() -> str:
        return generate_passticket("CLIENT1", "NSSD", key, 1_800_000_000)

    report(
        "PassTicket evaluate, full window (1201 s)",
        rate(evaluate_worst),
        rate(generate_one),
        "generate one PassTicket",
    )
    database.close()


if __name__ == "__main__":
    main()
