"""
Tests for C{nss-assistant serve}'s web page: its protection and its forms
over real HTTP on a loopback port, its rendering of findings, the command
line, and the page used in a real headless Chromium (L{tests.browser}).

The browser tests skip, saying why, where Chromium cannot start.
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from nsstwisted.assistant.loader import load_description
from nsstwisted.assistant.model import (
    Description,
    Finding,
    Image,
    NssServer,
    Stack,
    StackSettings,
)
from nsstwisted.assistant.web import Draft, Guard, read_draft, serve
from nsstwisted.assistant.web.draft import Check
from nsstwisted.assistant.web.fields import (
    FormErrors,
    defaults_of,
    format_value,
    parse_fields,
    specs_of,
)
from nsstwisted.assistant.web.forms import stack_form
from nsstwisted.assistant.web.markup import Shell
from nsstwisted.assistant.web.placement import in_table, place
from nsstwisted.assistant.web.resources import SETTING_SPECS, STACK_SPECS
from nsstwisted.assistant.web.site import is_loopback
from nsstwisted.cli.assistantserve import ServeOptions
from tests.browser import Browser
from tests.terminal import run_tool, tool_argv, tool_environment

SERVE = "nsstwisted.cli.assistantserve"
SEED = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "docs",
    "examples",
    "assistant-seed.toml",
)


class _Body(Protocol):
    """
    A response's whole body (twisted's readBody warns about the transport
    of a body that was complete on arrival).
    """

    def __init__(self, done: Deferred[bytes]) -> None:
        self.parts: list[bytes] = []
        self.done = done

    def dataReceived(self, data: bytes) -> None:
        self.parts.append(data)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.done.callback(b"".join(self.parts))


def read_body(response: IResponse) -> Deferred[bytes]:
    done: Deferred[bytes] = Deferred()
    response.deliverBody(_Body(done))
    return done


def shown_defaults(cls: type) -> dict[str, str]:
    """
    What a form to add an item of C{cls} holds before anything is typed:
    the model's defaults, as the page shows them.
    """
    return {
        k: format_value(v)
        for k, v in defaults_of(cls).items()
        if not isinstance(v, bool) or v
    }


@dataclass
class Answer:
    code: int
    headers: Headers
    body: str
    raw: bytes

    def header(self, name: str) -> str:
        values = self.headers.getRawHeaders(name) or []
        return values[0] if values else ""


class PageClient:
    """
    A browser's side of the conversation, over real HTTP: the session
    cookie kept, forms posted as a browser posts them.
    """

    def __init__(self, base: str, pool: HTTPConnectionPool) -> None:
        self.base = base
        self.agent = Agent(reactor, pool=pool)
        self.cookie: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = Headers({k: [v] for k, v in (headers or {}).items()})
        if self.cookie:
            sent.addRawHeader("cookie", self.cookie)
        body = None
        if form is not None:
            sent.addRawHeader("content-type", "application/x-www-form-urlencoded")
            body = FileBodyProducer(io.BytesIO(urlencode(form).encode("utf-8")))
        response = await self.agent.request(
            method.encode("ascii"), (self.base + path).encode("utf-8"), sent, body
        )
        raw = await read_body(response)
        for cookie in response.headers.getRawHeaders("set-cookie") or []:
            self.cookie = cookie.split(";", 1)[0]
        return Answer(
            response.code, response.headers, raw.decode("utf-8", "replace"), raw
        )

    async def csrf(self, path: str = "/") -> str:
        page = await self.request("GET", path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.body)
        assert found is not None, page.body
        return found.group(1)


class PageTestCase(TestCase):
    """
    The page of a fresh draft on a loopback port, and a client that has
    opened its token URL.
    """

    def setUp(self) -> Deferred[None]:  # type: ignore[override]
        self.path = os.path.abspath(self.mktemp())
        self.draft = Draft(Description(source=self.path), self.path)
        self.guard = Guard()
        pool = HTTPConnectionPool(reactor, persistent=True)
        self.addCleanup(pool.closeCachedConnections)
        self.pool = pool
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        serving = await serve(reactor, self.draft, "127.0.0.1", 0, self.guard)
        self.addCleanup(serving.port.stopListening)
        self.url = serving.url
        self.base = serving.url.split("/?", 1)[0]
        self.client = PageClient(self.base, self.pool)
        opened = await self.client.request("GET", "/?token=" + self.guard.token)
        self.assertEqual(opened.code, 303)

    def newClient(self) -> PageClient:
        return PageClient(self.base, self.pool)

    async def post(self, path: str, **form: str) -> Answer:
        form.setdefault("csrf", await self.client.csrf())
        return await self.client.request("POST", path, form)


def coroutine(f: Any) -> Any:
    """
    A test method written as a coroutine, run as trial's Deferred.
    """

    def run(self: Any) -> Deferred[Any]:
        return Deferred.fromCoroutine(f(self))

    run.__name__ = f.__name__
    return run


class ProtectionTests(PageTestCase):
    """
    Only the holder of the token gets in, and only the page's own forms
    change the draft.
    """

    @coroutine
    async def test_noSession(self) -> None:
        """
        Without the session cookie every page, the style sheet included, is
        refused with NSA0100E; the refusal holds no form and no token.
        """
        stranger = self.newClient()
        for path in ("/", "/files", "/files.tar.gz", "/style.css", "/images/X"):
            answer = await stranger.request("GET", path)
            self.assertEqual(answer.code, 403, path)
            self.assertIn("NSA0100E", answer.body)
            self.assertNotIn("csrf", answer.body)
            self.assertNotIn(self.guard.token, answer.body)
        answer = await stranger.request("POST", "/images", {"name": "A"})
        self.assertEqual(answer.code, 403)
        self.assertEqual(self.draft.description.images, ())

    @coroutine
    async def test_wrongToken(self) -> None:
        """
        A wrong token opens no session.
        """
        stranger = self.newClient()
        answer = await stranger.request("GET", "/?token=" + self.guard.token[:-1] + "x")
        self.assertEqual(answer.code, 403)
        self.assertIn("NSA0100E", answer.body)
        self.assertIsNone(stranger.cookie)

    @coroutine
    async def test_tokenCookie(self) -> None:
        """
        The token URL sets an HttpOnly, SameSite=Strict session cookie (not
        the token itself) and sends the browser on to the page without the
        token in its address.
        """
        fresh = self.newClient()
        answer = await fresh.request("GET", "/?token=" + self.guard.token)
        self.assertEqual(answer.code, 303)
        self.assertEqual(answer.header("location"), "/")
        cookie = answer.header("set-cookie")
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=strict", cookie.replace("Strict", "strict"))
        self.assertNotIn(self.guard.token, cookie)
        page = await fresh.request("GET", "/")
        self.assertEqual(page.code, 200)
        self.assertIn("Images and stacks", page.body)
        self.assertNotIn(self.guard.token, page.body)
        self.assertIn("default-src 'none'", page.header("content-security-policy"))

    @coroutine
    async def test_csrfMissingOrWrong(self) -> None:
        """
        A POST without the session's CSRF token, or with another one (even
        another session's), is refused with NSA0101E and changes nothing.
        """
        other = self.newClient()
        await other.request("GET", "/?token=" + self.guard.token)
        othersToken = await other.csrf()
        for form in (
            {"name": "A", "systemName": "SYSA"},
            {"name": "A", "systemName": "SYSA", "csrf": "x" * 43},
            {"name": "A", "systemName": "SYSA", "csrf": othersToken},
        ):
            answer = await self.client.request("POST", "/images", form)
            self.assertEqual(answer.code, 403)
            self.assertIn("NSA0101E", answer.body)
        self.assertEqual(self.draft.description.images, ())

    @coroutine
    async def test_crossOrigin(self) -> None:
        """
        A POST that another site's page made the browser send is refused by
        its Origin or Sec-Fetch-Site (NSA0102E), token or not; the page's
        own origin is accepted.
        """
        csrf = await self.client.csrf()
        form = {"name": "A", "systemName": "SYSA", "csrf": csrf}
        for headers in (
            {"origin": "http://attacker.example"},
            {"origin": "null"},
            {"sec-fetch-site": "cross-site"},
            {"origin": self.base.replace("127.0.0.1", "localhost")},
        ):
            answer = await self.client.request("POST", "/images", form, headers)
            self.assertEqual(answer.code, 403, headers)
            self.assertIn("NSA0102E", answer.body)
        self.assertEqual(self.draft.description.images, ())
        answer = await self.client.request(
            "POST",
            "/images",
            form,
            {"origin": self.base, "sec-fetch-site": "same-origin"},
        )
        self.assertEqual(answer.code, 303)
        self.assertEqual([i.name for i in self.draft.description.images], ["A"])

    @coroutine
    async def test_getChangesNothing(self) -> None:
        """
        A change asked for with GET (a link another page could hold) is
        refused with NSA0114E.
        """
        for path in ("/images?name=A", "/save", "/images/A/delete"):
            answer = await self.client.request("GET", path)
            self.assertEqual(answer.code, 405, path)
            self.assertIn("NSA0114E", answer.body)
        self.assertEqual(self.draft.description.images, ())


class EditingTests(PageTestCase):
    """
    The tree, the image and stack forms, and inheritance.
    """

    async def twoStacks(self) -> None:
        self.assertEqual(
            (await self.post("/images", name="SYSTEMA", systemName="SYSA")).code, 303
        )
        for stack in ("TCPCS1", "TCPCS2"):
            answer = await self.post("/images/SYSTEMA/stacks", name=stack)
            self.assertEqual(answer.code, 303)
            self.assertEqual(
                answer.header("location"), f"/images/SYSTEMA/stacks/{stack}"
            )

    def stackForm(self, **values: str) -> dict[str, str]:
        form = {"nss": "yes"}
        form.update(values)
        return form

    @coroutine
    async def test_tree(self) -> None:
        """
        The tree lists each image with its stacks and their client names.
        """
        await self.twoStacks()
        await self.post("/images", name="SYSTEMB", systemName="SYSB")
        tree = (await self.client.request("GET", "/")).body
        for text in (
            '<a href="/images/SYSTEMA">SYSTEMA</a>',
            '<a href="/images/SYSTEMA/stacks/TCPCS1">TCPCS1</a> (client SYSA_TCPCS1)',
            '<a href="/images/SYSTEMA/stacks/TCPCS2">TCPCS2</a> (client SYSA_TCPCS2)',
            '<a href="/images/SYSTEMB">SYSTEMB</a> (system SYSB, 0 stacks)',
        ):
            self.assertIn(text, tree)

    @coroutine
    async def test_duplicate(self) -> None:
        """
        A second image or stack of a name already used is refused
        (NSA0104E).
        """
        await self.twoStacks()
        answer = await self.post("/images", name="SYSTEMA", systemName="X")
        self.assertEqual(answer.code, 400)
        self.assertRegex(
            answer.body,
            r'id="new-image-name" name="name" value="SYSTEMA" aria-describedby='
            r'"new-image-name-error" aria-invalid="true"><ul class="error" '
            r'id="new-image-name-error"><li>NSA0104E ',
        )
        self.assertEqual(self.draft.image("SYSTEMA").systemName, "SYSA")
        answer = await self.post("/images/SYSTEMA/stacks", name="TCPCS1")
        self.assertEqual(answer.code, 400)
        self.assertIn(
            '<ul class="error" id="new-stack-name-error"><li>NSA0104E', answer.body
        )
        self.assertEqual(len(self.draft.image("SYSTEMA").stacks), 2)
        server = shown_defaults(NssServer)
        server.update(name="N1", systemName="S", address="192.0.2.1")
        self.assertEqual((await self.post("/servers", **server)).code, 303)
        answer = await self.post("/servers", **server)
        self.assertEqual(answer.code, 400)
        self.assertIn('<ul class="error" id="f-name-error"><li>NSA0104E', answer.body)
        self.assertEqual(len(self.draft.description.servers), 1)

    @coroutine
    async def test_overrideAndClear(self) -> None:
        """
        A stack inherits the image's default, overrides it from its form,
        and falls back to it when the override is cleared; the form says
        where each value comes from.
        """
        await self.twoStacks()
        image = self.draft.image("SYSTEMA")
        self.draft.put_image(
            Image(
                image.name,
                image.systemName,
                StackSettings(userId="IKED"),
                image.stacks,
            ),
            "SYSTEMA",
        )
        url = "/images/SYSTEMA/stacks/TCPCS1"
        page = (await self.client.request("GET", url)).body
        self.assertRegex(
            page,
            r'data-origin="image">Inherited from the image</span>: '
            r"<code>IKED</code>",
        )
        self.assertNotIn('id="clear-userId"', page)

        answer = await self.post(
            url, **self.stackForm(userId="TCPCS1U", authBy="PassTicket")
        )
        self.assertEqual(answer.code, 303)
        stack = self.draft.stack("SYSTEMA", "TCPCS1")
        self.assertEqual(stack.overrides.userId, "TCPCS1U")
        self.assertEqual(stack.overrides.authBy, "PassTicket")
        self.assertIsNone(self.draft.stack("SYSTEMA", "TCPCS2").overrides.userId)
        page = (await self.client.request("GET", url)).body
        self.assertIn(
            "Overridden here</span>; without the override: "
            "the image's <code>IKED</code>",
            page,
        )
        self.assertIn('id="clear-userId"', page)

        answer = await self.post(url + "/clear", clear="userId")
        self.assertEqual(answer.code, 303)
        stack = self.draft.stack("SYSTEMA", "TCPCS1")
        self.assertIsNone(stack.overrides.userId)
        self.assertEqual(stack.overrides.authBy, "PassTicket")
        page = (await self.client.request("GET", url)).body
        self.assertIn("Inherited from the image</span>: <code>IKED</code>", page)

    @coroutine
    async def test_imageOnlySetting(self) -> None:
        """
        A stack's form shows an image-only setting (NssWaitLimit) with its
        origin and no input; a posted value for it changes nothing, and a
        clear of it is refused.
        """
        await self.twoStacks()
        url = "/images/SYSTEMA/stacks/TCPCS1"
        page = (await self.client.request("GET", url)).body
        self.assertNotIn('name="nssWaitLimit"', page)
        self.assertIn("<code>60</code>", page)
        await self.post(url, **self.stackForm(nssWaitLimit="5"))
        self.assertIsNone(self.draft.stack("SYSTEMA", "TCPCS1").overrides.nssWaitLimit)
        answer = await self.post(url + "/clear", clear="nssWaitLimit")
        self.assertEqual(answer.code, 400)

    @coroutine
    async def test_badValueNextToField(self) -> None:
        """
        A value that cannot be the model's comes back next to its field
        (NSA0103E), with what was typed, and the draft is unchanged.
        """
        await self.twoStacks()
        answer = await self.post(
            "/images/SYSTEMA",
            systemName="SYSA",
            secretsDirectory="/etc/nsstwisted/secrets",
            nssWaitLimit="soon",
            services="Cert, Bogus",
        )
        self.assertEqual(answer.code, 400)
        for name, typed in (("nssWaitLimit", "soon"), ("services", "Cert, Bogus")):
            field = re.search(
                rf'<div class="field" id="field-{name}">(.*?)</div>', answer.body
            )
            assert field is not None
            self.assertIn(f'value="{typed}"', field.group(1))
            self.assertIn('aria-invalid="true"', field.group(1))
            self.assertIn("NSA0103E", field.group(1))
        self.assertIsNone(self.draft.image("SYSTEMA").defaults.nssWaitLimit)

    @coroutine
    async def test_servers(self) -> None:
        """
        A server is added from its table's form, which starts with the
        model's defaults, and edited from its own.
        """
        page = (await self.client.request("GET", "/servers")).body
        self.assertIn('name="port" value="4159"', page)
        self.assertIn('name="keyRing" value="NSSD/NSSRING"', page)
        server = shown_defaults(NssServer)
        server.update(name="nssd1", systemName="SYSN", address="192.0.2.1")
        answer = await self.post("/servers", **server)
        self.assertEqual(answer.code, 303)
        self.assertEqual(answer.header("location"), "/servers/nssd1")
        del server["name"]
        server.update(address="192.0.2.9", port="4160", syslogLevel="3")
        answer = await self.post("/servers/nssd1", **server)
        self.assertEqual(answer.code, 303)
        changed = self.draft.description.server("nssd1")
        assert changed is not None
        self.assertEqual(
            (changed.address, changed.port, changed.syslogLevel),
            ("192.0.2.9", 4160, 3),
        )

    @coroutine
    async def test_save(self) -> None:
        """
        Saving writes the draft to its file as TOML (which did not exist).
        """
        await self.twoStacks()
        answer = await self.post("/save")
        self.assertEqual(answer.code, 303)
        self.assertEqual(answer.header("location"), "/?notice=saved")
        self.assertEqual(load_description(self.path), self.draft.description)
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o644)


class SeedTests(TestCase):
    """
    The seed's worked example (docs/examples/assistant-seed.toml), served
    as it is: its tree, the preview of its files, and the archive.
    """

    @coroutine
    async def test_seed(self) -> None:
        path = os.path.abspath(self.mktemp())
        shutil.copy(SEED, path)
        draft, existed = read_draft(path)
        self.assertTrue(existed)
        serving = await serve(reactor, draft)
        self.addCleanup(serving.port.stopListening)
        pool = HTTPConnectionPool(reactor, persistent=True)
        self.addCleanup(pool.closeCachedConnections)
        client = PageClient(serving.url.split("/?", 1)[0], pool)
        await client.request("GET", "/?" + serving.url.split("/?", 1)[1])
        tree = (await client.request("GET", "/")).body
        for image in ("SYSTEMA", "SYSTEMB", "SYSTEMC"):
            self.assertIn(f'<a href="/images/{image}">{image}</a>', tree)
        self.assertIn('id="no-findings"', tree)

        preview = (await client.request("GET", "/files")).body
        download = await client.request("GET", "/files.tar.gz")
        self.assertEqual(download.code, 200)
        self.assertIn("attachment", download.header("content-disposition"))
        archive = tarfile.open(fileobj=io.BytesIO(download.raw))
        self.addCleanup(archive.close)
        secrets = [m for m in archive.getmembers() if m.mode == 0o600]
        self.assertTrue(secrets)
        for member in archive.getmembers():
            self.assertIn(html.escape(member.name), preview)
        for member in secrets:
            content = archive.extractfile(member)
            assert content is not None
            secret = content.read().decode().strip()
            self.assertNotIn(secret, preview)
        self.assertEqual(download.raw[4:8], b"\0\0\0\0", "gzip dated 0")
        again = await client.request("GET", "/files.tar.gz")
        self.assertEqual(again.raw, download.raw)


class FindingsPlacementTests(SynchronousTestCase):
    """
    A finding is shown next to the field it names, whatever spelling the
    description's TOML gives the key.
    """

    def test_place(self) -> None:
        findings = [
            Finding("d.toml", "images.A.stacks.S1", "client_name", "twice", "NSA0001E"),
            Finding("d.toml", "images.A.stacks.S1", "", "the stack", "NSA0002E"),
            Finding("d.toml", "images.A.stacks.S2", "clientName", "other", "NSA0003E"),
            Finding("d.toml", "images.A", "userid", "image", "NSA0004E"),
        ]
        placed = place(findings, in_table("images.A.stacks.S1"), ["clientName"])
        self.assertEqual(
            [f.messageId for f in placed.byField["clientname"]], ["NSA0001E"]
        )
        self.assertEqual([f.messageId for f in placed.table], ["NSA0002E"])
        image = place(
            findings, in_table("images.A", excluding="images.A.stacks"), ["userId"]
        )
        self.assertEqual([f.messageId for f in image.byField["userid"]], ["NSA0004E"])

    def test_stackFormShowsFinding(self) -> None:
        stack = Stack("TCPCS2", clientName="SYSA_TCPCS1")
        image = Image("SYSTEMA", "SYSA", stacks=(Stack("TCPCS1"), stack))
        check = Check(
            (
                Finding(
                    "d.toml",
                    "images.SYSTEMA.stacks.TCPCS2",
                    "clientName",
                    "client name SYSA_TCPCS1 is used by TCPCS1 too",
                    "NSA0042E",
                ),
            ),
            None,
        )
        page = stack_form(
            Shell("d.toml", "c"),
            Description(images=(image,)),
            check,
            image,
            stack,
            STACK_SPECS,
            SETTING_SPECS,
        ).decode()
        field = re.search(r'<div class="field" id="field-clientName">(.*?)</div>', page)
        assert field is not None
        self.assertIn(
            "NSA0042E client name SYSA_TCPCS1 is used by TCPCS1 too", field.group(1)
        )
        self.assertIn(
            'aria-describedby="f-clientName-hint f-clientName-error"', field.group(1)
        )


class FieldTests(SynchronousTestCase):
    def test_parse(self) -> None:
        specs = specs_of(StackSettings)
        values = parse_fields(specs, {"services": "Cert", "nssWaitLimit": "7"})
        self.assertEqual(values["services"], ("Cert",))
        self.assertEqual(values["nssWaitLimit"], 7)
        self.assertIsNone(values["userId"])
        with self.assertRaises(FormErrors) as caught:
            parse_fields(specs, {"authBy": "Kerberos", "nssWaitRetries": "x"})
        self.assertEqual(set(caught.exception.errors), {"authBy", "nssWaitRetries"})


class CommandLineTests(SynchronousTestCase):
    """
    C{nss-assistant serve}'s options and its start-up failures.
    """

    def test_options(self) -> None:
        options = ServeOptions()
        options.parseOptions(["d.toml"])
        self.assertEqual(
            (options["description"], options["port"], options["interface"]),
            ("d.toml", 0, "127.0.0.1"),
        )

    def test_loopback(self) -> None:
        self.assertTrue(is_loopback("127.0.0.1"))
        self.assertTrue(is_loopback("::1"))
        self.assertFalse(is_loopback("0.0.0.0"))  # noqa: S104 (not bound)
        self.assertFalse(is_loopback("192.0.2.1"))

    def test_unreadableDescription(self) -> None:
        """
        A description that cannot be read stops the command at once with
        NSA0106E and status 2; it is not replaced by an empty one.
        """
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write("[images.A\n")
        result = run_tool(SERVE, path, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("NSA0106E", result.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "[images.A\n")

    def test_portInUse(self) -> None:
        """
        A port that cannot be listened on ends the command with NSA0109E
        and status 2.
        """
        server = ServerProcess(self, os.path.abspath(self.mktemp()))
        port = urlsplit(server.url).port
        assert port is not None
        result = run_tool(
            SERVE, os.path.abspath(self.mktemp()), "--port", str(port), timeout=30
        )
        self.assertEqual(result.returncode, 2)
        self.assertIn("NSA0109E", result.stderr)


class ServerProcess:
    """
    C{nss-assistant serve} as its own process on a free loopback port,
    ended when the test ends.
    """

    def __init__(self, test: SynchronousTestCase, description: str) -> None:
        self.process = subprocess.Popen(
            tool_argv(SERVE, description),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=tool_environment(),
        )
        test.addCleanup(self.stop)
        assert self.process.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"NSA0110I .* at (http://\S+)", line)
            if found:
                self.url = found.group(1)
                return
        self.stop()
        raise AssertionError(f"no NSA0110I: {lines} {self.process.stderr.read()}")  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


class BrowserTests(SynchronousTestCase):
    """
    The page in headless Chromium, as an operator uses it: every step a
    click or typing on the page.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        self.downloads = os.path.join(self.folder, "downloads")
        os.makedirs(self.downloads)
        self.description = os.path.join(self.folder, "installation.toml")

    def start(self) -> Browser:
        browser = Browser.start(self.folder, self.downloads)
        self.addCleanup(browser.close)
        self.server = ServerProcess(self, self.description)
        browser.open(self.server.url)
        self.assertEqual(browser.text("h1"), "Images and stacks")
        self.assertNotIn("token", browser.url())
        return browser

    def imageAndTwoStacks(self, browser: Browser) -> None:
        browser.type("#new-image-name", "SYSTEMA")
        browser.type("#new-image-system", "SYSA")
        browser.click("#add-image-button")
        self.assertEqual(browser.text("h1"), "Image SYSTEMA")
        for stack in ("TCPCS1", "TCPCS2"):
            browser.type("#new-stack-name", stack)
            browser.click("#add-stack-button")
            self.assertEqual(browser.text("h1"), f"Stack {stack} of SYSTEMA")
            browser.click("a[href='/images/SYSTEMA']")
        browser.click("nav a[href='/']")
        tree = browser.text("#tree")
        self.assertIn("TCPCS1 (client SYSA_TCPCS1)", tree)
        self.assertIn("TCPCS2 (client SYSA_TCPCS2)", tree)

    def test_editing(self) -> None:
        """
        An image and two stacks made on the page; a default overridden on
        one stack and not the other, then cleared; a wrong value refused
        next to its field.
        """
        browser = self.start()
        self.imageAndTwoStacks(browser)

        browser.click("a[href='/images/SYSTEMA/stacks/TCPCS2']")
        self.assertIn("The default: Password.", browser.text("#field-authBy"))
        browser.click("#f-authBy-PassTicket", loads=False)
        browser.click("#update")
        self.assertIn("Overridden here", browser.text("#field-authBy"))
        self.assertIn(
            "without the override: the default, Password", browser.text("#field-authBy")
        )
        browser.open(self.server.url.split("/?")[0] + "/images/SYSTEMA/stacks/TCPCS1")
        self.assertIn("The default: Password.", browser.text("#field-authBy"))

        browser.open(self.server.url.split("/?")[0] + "/images/SYSTEMA/stacks/TCPCS2")
        browser.type("#f-services", "Cert, Bogus")
        browser.click("#update")
        self.assertIn("NSA0103E", browser.text("#field-services"))
        self.assertIn("Bogus", browser.text("#field-services"))

        browser.open(self.server.url.split("/?")[0] + "/images/SYSTEMA/stacks/TCPCS2")
        browser.click("#clear-authBy")
        self.assertIn("The default: Password.", browser.text("#field-authBy"))

    def test_validationAndDownload(self) -> None:
        """
        A server and an image whose stacks use it, made on the page; a third
        stack with the first one's client name gets the validation's
        finding next to its client name, and is removed; the generated files
        download as an archive that holds them, secrets owner-only and never
        on the page; the description is saved to its file.
        """
        browser = self.start()
        base = self.server.url.split("/?")[0]
        browser.click("nav a[href='/servers']")
        browser.type("#f-name", "NSSD1")
        browser.type("#f-systemName", "SYSN")
        browser.type("#f-address", "127.0.0.1")
        browser.click("#add-button")
        self.assertEqual(browser.text("h1"), "Server NSSD1", browser.text("main"))
        browser.click("nav a[href='/']")
        self.imageAndTwoStacks(browser)
        browser.click("a[href='/images/SYSTEMA']")
        browser.type("#f-servers", "NSSD1")
        browser.type("#f-userId", "IKED")
        browser.click("#update")
        self.assertNotIn("NSA0103E", browser.text("main"))

        browser.type("#new-stack-name", "TCPCS3")
        browser.click("#add-stack-button")
        browser.type("#f-clientName", "SYSA_TCPCS1")
        browser.click("#update")
        finding = browser.text("#field-clientName .error")
        self.assertIn("NSA0025E", finding)
        self.assertIn("SYSA_TCPCS1", finding)
        browser.click("nav a[href='/']")
        self.assertIn("NSA0025E", browser.text("#all-findings"))
        browser.click("a[href='/images/SYSTEMA/stacks/TCPCS3']")
        browser.click("#delete")
        self.assertEqual(browser.text("h1"), "Image SYSTEMA")

        browser.open(base + "/files")
        self.assertEqual(browser.text("h1"), "Generated files")
        page = browser.text("main")
        self.assertFalse(browser.text("#files-error"), page)
        name = browser.download("#download")
        with tarfile.open(os.path.join(self.downloads, name)) as archive:
            members = {m.name: m for m in archive.getmembers()}
            contents = {
                m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
                for m in members.values()
            }
        self.assertTrue(any(m.endswith("iked.conf") for m in members), members)
        secrets = [m for m in members.values() if m.mode == 0o600]
        self.assertTrue(secrets, members)
        for member in secrets:
            secret = contents[member.name].decode().strip()
            self.assertTrue(secret)
            self.assertNotIn(secret, page)
        for member in members.values():
            self.assertIn(member.name, browser.text("#file-list"))

        browser.click("#save")
        self.assertIn("NSA0113I", browser.text(".notice"))
        with open(self.description) as f:
            self.assertIn("TCPCS2", f.read())

    def test_metricsAndAuditTrail(self) -> None:
        """
        A server's audit trail and metrics set on its form: AuditRequired
        without a trail gets the validation's finding next to its field;
        with an audit file, the generated nssd.conf carries the file, the
        sync chosen, AuditRequired and the metrics port.
        """
        browser = self.start()
        base = self.server.url.split("/?")[0]
        browser.click("nav a[href='/servers']")
        browser.type("#f-name", "NSSD1")
        browser.type("#f-systemName", "SYSN")
        browser.type("#f-address", "127.0.0.1")
        browser.click("#add-button")
        self.assertEqual(browser.text("h1"), "Server NSSD1", browser.text("main"))

        browser.click("#f-auditRequired", loads=False)
        browser.click("#update")
        finding = browser.text("#field-auditRequired .error")
        self.assertIn("NSA0118E", finding)
        self.assertIn("no audit trail", finding)

        browser.type("#f-auditFile", "/var/log/nssd/audit.log")
        browser.type("#f-metricsPort", "9159")
        browser.click("#f-auditSync-every", loads=False)
        browser.click("#update")
        self.assertNotIn("NSA0", browser.text("main"))

        browser.open(base + "/files")
        self.assertFalse(browser.text("#files-error"), browser.text("main"))
        nssdConf = browser.evaluate(
            "[...document.querySelectorAll('section')]"
            ".find(s => s.querySelector('h2').innerText === 'NSSD1/nssd.conf')"
            ".querySelector('pre').innerText"
        )
        self.assertIn(
            "  MetricsPort 9159\n"
            "  AuditFile /var/log/nssd/audit.log\n"
            "  AuditSync every\n"
            "  AuditRequired yes\n",
            nssdConf,
        )

    def test_pkcs11Token(self) -> None:
        """
        A server's PKCS#11 token set on its form, and a certificate whose
        key is made in it on the certificate's: a label nssd would refuse
        gets the validation's finding next to its field; the generated
        nssd.conf names the token, and the RACF job makes the key there.
        """
        browser = self.start()
        base = self.server.url.split("/?")[0]
        browser.click("nav a[href='/servers']")
        browser.type("#f-name", "NSSD1")
        browser.type("#f-systemName", "SYSN")
        browser.type("#f-address", "127.0.0.1")
        browser.click("#add-button")
        self.assertEqual(browser.text("h1"), "Server NSSD1", browser.text("main"))
        self.assertIn("never the PIN", browser.text("#field-pkcs11PinFile"))

        browser.type("#f-pkcs11Module", "/usr/lib/softhsm/libsofthsm2.so")
        browser.type("#f-pkcs11TokenLabel", "K" * 33)
        browser.type("#f-pkcs11PinFile", "/etc/security/nss-token.pin")
        browser.click("#update")
        finding = browser.text("#field-pkcs11TokenLabel .error")
        self.assertIn("NSA0121E", finding)
        self.assertIn("must be 1 to 32 bytes", finding)
        browser.type("#f-pkcs11TokenLabel", "NSSKEYS")
        browser.click("#update")
        self.assertNotIn("NSA0", browser.text("main"))

        browser.click("nav a[href='/certificates']")
        browser.type("#f-label", "NSS CA")
        browser.click("#f-usage-certauth", loads=False)
        browser.type("#f-subject", "CN=NSS CA")
        browser.type("#f-owner", "CERTAUTH")
        browser.click("#f-keyStore-token", loads=False)
        browser.click("#add-button")
        self.assertEqual(browser.text("h1"), "Certificate NSS CA", browser.text("main"))
        self.assertNotIn("NSA0", browser.text("main"))

        browser.open(base + "/files")
        self.assertFalse(browser.text("#files-error"), browser.text("main"))

        def generated(path: str) -> str:
            return str(
                browser.evaluate(
                    "[...document.querySelectorAll('section')]"
                    f".find(s => s.querySelector('h2').innerText === '{path}')"
                    ".querySelector('pre').innerText"
                )
            )

        self.assertIn(
            "  Pkcs11Module /usr/lib/softhsm/libsofthsm2.so\n"
            "  Pkcs11TokenLabel NSSKEYS\n"
            "  Pkcs11PinFile /etc/security/nss-token.pin\n",
            generated("NSSD1/nssd.conf"),
        )
        job = generated("NSSD1/nss-setup.racf").replace(" -\n       ", " ")
        self.assertIn("RSA(TOKEN('NSSKEYS')) SIZE(2048) WITHLABEL('NSS CA')", job)
