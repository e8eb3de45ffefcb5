"""
Run one fuzz target of L{tests.fuzz.targets} under atheris for a bounded
time, restarting after each crash until the time is up.

    python -m tests.fuzz.run TARGET [--seconds N] [--workdir DIR]

TARGET is one of C{nss}, C{nmi}, C{ike-message}, C{ike-auth},
C{ike-fragments}.  The corpus
(DIR/corpus/TARGET) is seeded from real messages the first time; the
inputs that crashed land in DIR/crashes/TARGET.  Needs atheris, which the
project's own environment does not carry (see README.md here); the normal
suite replays kept crashes without it (L{tests.test_fuzz_regressions}).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _child(target: str, libfuzzerArgs: list[str]) -> None:
    """In the fuzzing process: instrument nsstwisted, then fuzz."""
    import atheris

    with atheris.instrument_imports(include=["nsstwisted"]):
        from tests.fuzz.targets import TARGETS

    check = TARGETS[target]

    def one(data: bytes) -> None:
        check(data)

    atheris.Setup([sys.argv[0], *libfuzzerArgs], one)
    atheris.Fuzz()


def _seed(target: str, corpus: str) -> None:
    from tests.fuzz.targets import SEEDS

    os.makedirs(corpus, exist_ok=True)
    if os.listdir(corpus):
        return
    for seed in SEEDS[target]():
        name = hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(seed)


_STAT = re.compile(rb"stat::number_of_executed_units: (\d+)")
_PROGRESS = re.compile(rb"^#(\d+)\s", re.MULTILINE)


def _executions(log: bytes) -> int:
    """
    The inputs a run executed: libFuzzer's final count, or after a crash
    (which prints none) its last progress line, a little short.
    """
    counted = _STAT.findall(log) or _PROGRESS.findall(log)[-1:]
    return int(counted[-1]) if counted else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "target", choices=["nss", "nmi", "ike-message", "ike-auth", "ike-fragments"]
    )
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--workdir", default=os.path.join(ROOT, ".fuzz"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options, rest = parser.parse_known_args(argv)
    if options.child:
        _child(options.target, rest)
        return 0
    corpus = os.path.join(options.workdir, "corpus", options.target)
    crashes = os.path.join(options.workdir, "crashes", options.target)
    os.makedirs(crashes, exist_ok=True)
    _seed(options.target, corpus)
    deadline = time.monotonic() + options.seconds
    executions = runs = 0
    while (left := int(deadline - time.monotonic())) > 0:
        runs += 1
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.fuzz.run",
                options.target,
                "--child",
                corpus,
                f"-max_total_time={left}",
                f"-artifact_prefix={crashes}/",
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-max_len=8192",
                "-print_final_stats=1",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ROOT},
            capture_output=True,
            check=False,
        )
        log = os.path.join(options.workdir, f"{options.target}-{runs}.log")
        with open(log, "wb") as f:
            f.write(result.stderr)
        executions += _executions(result.stderr)
        if result.returncode == 0:
            break
    found = sorted(os.listdir(crashes))
    print(
        f"{options.target}: {executions} executions in {options.seconds} s"
        f" ({runs} run{'s' if runs != 1 else ''}), {len(found)} crashing"
        f" input{'s' if len(found) != 1 else ''} in {crashes}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
