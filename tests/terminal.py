"""
Run an operator tool as a real subprocess, on a pipe or on a real terminal.

A tool that keeps secrets off its command line must be tested the way an
operator meets it: as a process whose argument vector others can read, and,
for the prompt, with a pseudo-terminal that is the process's controlling
terminal, so that getpass really turns echo off (a test that fed the prompt
through a pipe would prove neither).
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from collections.abc import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool_argv(module: str, *arguments: str) -> list[str]:
    """
    The argument vector that runs an nsstwisted command module as its
    console script would.
    """
    return [sys.executable, "-m", module, *arguments]


def tool_environment() -> dict[str, str]:
    """
    The environment that finds this worktree's nsstwisted first.
    """
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": ROOT if not path else f"{ROOT}{os.pathsep}{path}",
    }


def run_tool(
    module: str, *arguments: str, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """
    Run a command module with pipes for its standard streams.
    """
    return subprocess.run(
        tool_argv(module, *arguments),
        input=stdin,
        capture_output=True,
        text=True,
        env=tool_environment(),
        timeout=timeout,
        check=False,
    )


def _take_terminal() -> None:
    # Runs in the child after setsid(): make the pseudo-terminal on fd 0 its
    # controlling terminal, so that /dev/tty (which getpass opens) is it.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_terminal(
    argv: Sequence[str],
    answers: Sequence[tuple[bytes, bytes]],
    timeout: float = 60,
) -> tuple[int, bytes]:
    """
    Run a program with a new pseudo-terminal as its controlling terminal and
    standard streams, typing each answer once its prompt has appeared.

    @param answers: pairs of (prompt text to wait for, line to type without
        its line end).
    @return: the exit status and everything the terminal showed, which
        includes whatever the terminal echoed of the typing.
    @raise AssertionError: the program did not finish, or a prompt did not
        appear, in time.
    """
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=tool_environment(),
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
    finally:
        os.close(slave)
    shown = b""
    waiting = list(answers)
    searchFrom = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            if waiting:
                prompt, line = waiting[0]
                found = shown.find(prompt, searchFrom)
                if found >= 0:
                    searchFrom = found + len(prompt)
                    os.write(master, line + b"\n")
                    waiting.pop(0)
                    continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{argv[2:]} still running; shown: {shown!r}")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:
                # EIO: every copy of the terminal's other side is closed.
                break
            if not chunk:
                break
            shown += chunk
        if waiting:
            raise AssertionError(f"no prompt {waiting[0][0]!r}; shown: {shown!r}")
        return process.wait(timeout=max(deadline - time.monotonic(), 1)), shown
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
