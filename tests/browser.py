"""
A real browser for the tests of web pages: Debian's Chromium, headless,
driven over the DevTools protocol through a pipe.

Why the DevTools protocol over a pipe (C{--remote-debugging-pipe}) rather
than selenium and chromedriver: it needs nothing but Chromium itself and
the standard library (JSON messages ended by a NUL byte on two file
descriptors), so no chromedriver whose version must match the browser, no
test-only dependency in the shared environments, and no port that another
local user could connect to and drive the browser through.  Clicks and
typing are real input events (C{Input.dispatchMouseEvent},
C{Input.insertText}) at the element's place on the page, not script that
sets values, so a form works in the test only if it works for a person.

Chromium runs as root (CI) only with C{--no-sandbox}; the other flags keep
it from reaching out to Google's hosts, which a closed network refuses, and
each browser gets a fresh profile folder.  Where Chromium is missing or
cannot start, L{Browser.start} raises C{SkipTest} saying why; C{.ci/run}
installs it (C{.ci/install-chromium}).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from typing import Any

from twisted.trial.unittest import SkipTest

__all__ = ["Browser", "BrowserError", "chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)

#: How long a page load, a download or an answer may take, in seconds.
TIMEOUT = 30.0


class BrowserError(Exception):
    """
    The browser answered a command with an error, or did not answer.
    """


def chromium() -> str | None:
    """
    The Chromium program: C{$NSS_CHROMIUM}, else C{chromium} on PATH.
    """
    return os.environ.get("NSS_CHROMIUM") or shutil.which("chromium")


class Browser:
    """
    One headless Chromium with one page.  Each method waits for what it
    started (a load, a download) so that a test reads as a person's steps.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        commands: int,
        answers: int,
        profile: str,
    ) -> None:
        self._process = process
        self._commands = commands
        self._answers = answers
        self._profile = profile
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._next = 0
        self._session = ""

    @classmethod
    def start(cls, folder: str, downloads: str) -> Browser:
        """
        Start Chromium with a fresh profile under C{folder}, saving downloads
        to C{downloads}; C{SkipTest} with the reason where it cannot start.
        """
        program = chromium()
        if program is None:
            raise SkipTest(
                "no Chromium (install Debian's chromium, as .ci/install-chromium "
                "does, or set NSS_CHROMIUM)"
            )
        profile = os.path.join(folder, "chromium-profile")
        os.makedirs(profile, exist_ok=True)
        log = open(os.path.join(folder, "chromium.log"), "wb")
        # Chromium reads commands on fd 3 and writes answers on fd 4; the
        # ends are first moved above 9 so that placing them cannot clobber
        # one another.
        commandRead, commandWrite = os.pipe()
        answerRead, answerWrite = os.pipe()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commandRead, answerWrite)]
        os.close(commandRead)
        os.close(answerWrite)

        def place() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        try:
            process = subprocess.Popen(
                [program, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=place,
                # Its crash reports and caches in the test's folder too, not
                # in the home of whoever runs the tests.
                env={
                    **os.environ,
                    "HOME": folder,
                    "XDG_CONFIG_HOME": os.path.join(folder, "config"),
                    "XDG_CACHE_HOME": os.path.join(folder, "cache"),
                },
            )
        except OSError as e:
            raise SkipTest(f"Chromium ({program}) cannot start: {e}") from None
        finally:
            for fd in high:
                os.close(fd)
            log.close()
        browser = cls(process, commandWrite, answerRead, profile)
        try:
            browser._attach(downloads)
        except BrowserError as e:
            browser.close()
            with open(os.path.join(folder, "chromium.log"), errors="replace") as f:
                tail = f.read()[-2000:]
            raise SkipTest(
                f"Chromium ({program}) does not start: {e}\n{tail}"
            ) from None
        return browser

    # The protocol.

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("no answer from Chromium in time")
            ready, _, _ = select.select([self._answers], [], [], left)
            if ready:
                chunk = os.read(self._answers, 1 << 16)
                if not chunk:
                    raise BrowserError(
                        f"Chromium ended (status {self._process.poll()})"
                    )
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        result: dict[str, Any] = json.loads(message)
        return result

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        browser: bool = False,
    ) -> dict[str, Any]:
        """
        One command (to the page's session, or to the browser itself), and
        its result; events that arrive meanwhile are kept for L{wait}.
        """
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method}
        message["params"] = params or {}
        if self._session and not browser:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self._events.append(answer)

    def wait(self, method: str, check: Any = None) -> dict[str, Any]:
        """
        The next event C{method} (whose params C{check} accepts), kept or
        yet to come; the events before it are dropped.
        """
        deadline = time.monotonic() + TIMEOUT
        while True:
            while self._events:
                event = self._events.pop(0)
                if event["method"] == method and (
                    check is None or check(event["params"])
                ):
                    params: dict[str, Any] = event["params"]
                    return params
            answer = self._read(deadline)
            if "method" in answer:
                self._events.append(answer)

    def _attach(self, downloads: str) -> None:
        targets = self.send("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        if pages:
            target = pages[0]["targetId"]
        else:
            target = self.send("Target.createTarget", {"url": "about:blank"})[
                "targetId"
            ]
        self._session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        self.send("Page.enable")
        self.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": downloads, "eventsEnabled": True},
            browser=True,
        )

    # What a person does.

    def open(self, url: str) -> None:
        """
        Go to C{url} and wait until the page has loaded.
        """
        self._events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """
        The value of a script expression on the page (for reading the page
        only: every change a test makes goes through input events).
        """
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _centre(self, selector: str) -> tuple[float, float]:
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise BrowserError(f"no element {selector} on {self.url()}")
        return float(box[0]), float(box[1])

    def click(self, selector: str, *, loads: bool = True) -> None:
        """
        Click the element's middle with the mouse; with C{loads}, wait for
        the page it leads to (a form's answer, a link).
        """
        x, y = self._centre(selector)
        self._events.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )
        if loads:
            self.wait("Page.loadEventFired")

    def type(self, selector: str, text: str) -> None:
        """
        Click into a text field, select what it holds, and type C{text}
        over it.
        """
        self.click(selector, loads=False)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        self.send("Input.insertText", {"text": text})

    def text(self, selector: str) -> str:
        """
        The text an element shows, or C{""} if there is none.
        """
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " return e ? e.innerText : ''; })()"
        )
        return str(found)

    def url(self) -> str:
        """
        The page's address.
        """
        return str(self.evaluate("location.href"))

    def download(self, selector: str) -> str:
        """
        Click a link that downloads a file, and wait until it is saved; the
        name it was saved under (in the downloads folder).
        """
        self._centre(selector)
        self.click(selector, loads=False)
        begun = self.wait("Browser.downloadWillBegin")
        self.wait(
            "Browser.downloadProgress",
            lambda p: p["guid"] == begun["guid"] and p["state"] != "inProgress",
        )
        return str(begun["suggestedFilename"])

    def close(self) -> None:
        """
        End the browser and its profile.
        """
        try:
            self.send("Browser.close", browser=True)
        except (BrowserError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._commands)
        os.close(self._answers)
        shutil.rmtree(self._profile, ignore_errors=True)
