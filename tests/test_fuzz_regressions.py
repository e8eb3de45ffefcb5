"""
The inputs the fuzzer (L{tests.fuzz}) found to break a target, replayed
in the normal suite without atheris: each must now meet every rule its
target checks (L{tests.fuzz.targets}).
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.fuzz.targets import SEEDS, TARGETS

FOUND = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fuzz")


def _found(target: str) -> list[tuple[str, bytes]]:
    folder = os.path.join(FOUND, target)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            found.append((name, f.read()))
    return found


class FoundInputTests(SynchronousTestCase):
    def check(self, target: str) -> None:
        for name, data in _found(target):
            try:
                TARGETS[target](data)
            except Exception as error:
                self.fail(f"{target}/{name}: {type(error).__name__}: {error}")

    def test_nss(self) -> None:
        self.check("nss")

    def test_nmi(self) -> None:
        self.check("nmi")

    def test_ike_message(self) -> None:
        self.check("ike-message")

    def test_ike_auth(self) -> None:
        self.check("ike-auth")

    def test_ike_fragments(self) -> None:
        self.check("ike-fragments")


class SeedTests(SynchronousTestCase):
    """
    The seeds are what the targets must accept: real messages that decode,
    and for C{ike-auth} the real IKE_AUTH that establishes the SA, so that
    the fuzzer starts from inside the logic, not at its door.
    """

    def test_seeds(self) -> None:
        for target, seeds in SEEDS.items():
            for seed in seeds():
                TARGETS[target](seed)

    def test_ike_auth_seed_establishes(self) -> None:
        from nsstwisted.ike.sa import IkeState
        from tests.fuzz.targets import _copy_of_half_open, _seal, ike_auth_seed

        seed = ike_auth_seed()
        wire, sa, request = _copy_of_half_open()
        responder = wire.right
        sealed = _seal(sa, request, seed[0], seed[1:])
        wire.handle(
            responder,
            responder.engine.receive(
                sealed, responder.endpoint, wire.left.endpoint, wire.now
            ),
        )
        wire.run()
        self.assertEqual(
            [s.state for s in responder.engine.sas()], [IkeState.ESTABLISHED]
        )
