"""
The page's one resource: every request is admitted by the L{Guard} first,
then routed by its path to a handler that reads the draft (GET) or changes
it (POST, then a redirect to the page to see, so that reloading never
repeats a change).

  - C{/}: the tree of images and stacks, every finding, adding an image
  - C{/images/I}: an image's form; C{/images/I/stacks}: adding a stack;
    C{/images/I/stacks/S}: a stack's form; C{.../clear}: clearing one of
    its overrides; C{.../delete}: removing one
  - C{/servers}, C{/certificates}, C{/operators}, and C{/TABLE/NAME}
  - C{/files}: the preview; C{/files.tar.gz}: the archive
  - C{/save}: the draft to its file; C{/style.css}
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from twisted.web.resource import Resource
from twisted.web.server import Request

from nsstwisted.assistant.generators import GenerationError
from nsstwisted.assistant.model import (
    IMAGE_ONLY_SETTINGS,
    Certificate,
    DescriptionError,
    GeneratedFile,
    Image,
    NssServer,
    Operator,
    Stack,
    StackSettings,
)
from nsstwisted.assistant.web import forms, markup, pages
from nsstwisted.assistant.web.draft import Draft, DraftError
from nsstwisted.assistant.web.fields import (
    FormErrors,
    defaults_of,
    parse_fields,
    specs_of,
)
from nsstwisted.assistant.web.protection import Guard

__all__ = ["AssistantResource"]


IMAGE_SPECS = specs_of(Image, frozenset({"name", "defaults", "stacks"}))
STACK_SPECS = specs_of(Stack, frozenset({"name", "overrides"}))
SETTING_SPECS = specs_of(StackSettings)


def _collection(
    table: str, key: str, title: str, singular: str, cls: type
) -> forms.Collection:
    return forms.Collection(
        table, key, title, singular, cls, specs_of(cls), defaults_of(cls)
    )


COLLECTIONS: Mapping[str, forms.Collection] = {
    "servers": _collection("servers", "name", "NSS servers", "server", NssServer),
    "certificates": _collection(
        "certificates", "label", "Certificates", "certificate", Certificate
    ),
    "operators": _collection("operators", "userId", "Operators", "operator", Operator),
}

#: Headers on every answer: no script may run, nothing is loaded from
#: elsewhere, no other site may frame the page or read where it was
#: (same-origin: with no-referrer, a browser sends a form's Origin as
#: "null", which the origin check must refuse).
SECURITY_HEADERS: Mapping[bytes, bytes] = {
    b"content-security-policy": (
        b"default-src 'none'; style-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'"
    ),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
    b"cache-control": b"no-store",
}

NOTICES: Mapping[str, str] = {
    "saved": "NSA0113I the description was saved to its file.",
}


class _Answer(Exception):
    """
    An answer other than the page asked for: a refusal or a redirect.
    """

    def __init__(self, code: int, body: bytes = b"", location: str | None = None):
        super().__init__(code)
        self.code = code
        self.body = body
        self.location = location


class _Download(_Answer):
    """
    The archive, as an attachment.
    """

    def __init__(self, archive: bytes) -> None:
        super().__init__(200, archive)


def _refuse(code: int, messageId: str, message: str) -> _Answer:
    return _Answer(code, markup.refusal(messageId, message))


def _see(location: str) -> _Answer:
    return _Answer(303, b"", location)


def _form(request: Request) -> dict[str, str]:
    args: dict[bytes, list[bytes]] = request.args or {}
    return {
        k.decode("utf-8", "replace"): v[-1].decode("utf-8", "replace")
        for k, v in args.items()
        if v
    }


class AssistantResource(Resource):
    """
    The whole page, over one draft and one guard.
    """

    isLeaf = True

    def __init__(self, draft: Draft, guard: Guard) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.draft = draft
        self.guard = guard

    def render(self, request: Request) -> bytes:
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        try:
            csrf = self._admit(request)
            body = self._route(request, csrf)
        except _Answer as answer:
            request.setResponseCode(answer.code)
            if isinstance(answer, _Download):
                request.setHeader(b"content-type", b"application/gzip")
                request.setHeader(
                    b"content-disposition",
                    b'attachment; filename="nss-assistant-files.tar.gz"',
                )
                return answer.body
            if answer.location is not None:
                request.setHeader(b"location", answer.location.encode("utf-8"))
            request.setHeader(b"content-type", b"text/html; charset=utf-8")
            return answer.body
        return body

    def _admit(self, request: Request) -> str:
        """
        The session's CSRF token, once the request has shown it may come
        in; a POST must also carry the token and come from this page.
        """
        token = (request.args or {}).get(b"token")
        if token and request.method == b"GET":
            if not self.guard.token_matches(token[-1].decode("utf-8", "replace")):
                raise _refuse(403, "NSA0100E", "the access token is wrong.")
            self.guard.open_session(request)
            raise _see("/")
        csrf = self.guard.csrf_of(request)
        if csrf is None:
            raise _refuse(
                403,
                "NSA0100E",
                "no session: open the address with the token that "
                "nss-assistant serve printed when it started.",
            )
        if request.method == b"POST":
            if not self.guard.same_origin(request):
                raise _refuse(
                    403, "NSA0102E", "a change was sent from another site; refused."
                )
            given = _form(request).get("csrf", "")
            if not self.guard.csrf_matches(csrf, given):
                raise _refuse(
                    403,
                    "NSA0101E",
                    "the form's CSRF token is missing or wrong; reload the page "
                    "and submit it again.",
                )
        elif request.method not in (b"GET", b"HEAD"):
            raise _refuse(405, "NSA0114E", "only GET and POST are served.")
        return csrf

    def _route(self, request: Request, csrf: str) -> bytes:
        path = [unquote(p.decode("utf-8", "replace")) for p in request.postpath or []]
        if path == [""]:
            path = []
        shell = markup.Shell(self.draft.path, csrf)
        post = request.method == b"POST"
        form = _form(request) if post else {}
        notice = NOTICES.get(_form(request).get("notice", ""), "") if not post else ""
        if path == ["style.css"]:
            request.setHeader(b"content-type", b"text/css; charset=utf-8")
            return (
                importlib.resources.files(__package__)
                .joinpath("style.css")
                .read_bytes()
            )
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        try:
            handler = self._handler(path, post)
            return handler(shell, form, notice)
        except DraftError as e:
            code = 404 if e.finding.messageId == "NSA0105E" else 400
            raise _refuse(code, e.finding.messageId, e.finding.message) from None

    def _handler(
        self, path: list[str], post: bool
    ) -> Callable[[markup.Shell, dict[str, str], str], bytes]:
        def wants(method: bool) -> None:
            if post != method:
                raise _refuse(
                    405,
                    "NSA0114E",
                    "a change is made with the page's forms (POST), and a page "
                    "is read with GET.",
                )

        match path:
            case []:
                wants(False)
                return self._tree
            case ["save"]:
                wants(True)
                return self._save
            case ["files"]:
                wants(False)
                return self._files
            case ["files.tar.gz"]:
                wants(False)
                return self._archive
            case ["images"]:
                wants(True)
                return self._add_image
            case ["images", image]:
                return lambda s, f, n: self._image(s, f, n, image)
            case ["images", image, "delete"]:
                wants(True)
                return lambda s, f, n: self._remove(
                    lambda: self.draft.remove_image(image), "/"
                )
            case ["images", image, "stacks"]:
                wants(True)
                return lambda s, f, n: self._add_stack(s, f, image)
            case ["images", image, "stacks", stack]:
                return lambda s, f, n: self._stack(s, f, n, image, stack)
            case ["images", image, "stacks", stack, "clear"]:
                wants(True)
                return lambda s, f, n: self._clear(f, image, stack)
            case ["images", image, "stacks", stack, "delete"]:
                wants(True)
                return lambda s, f, n: self._remove(
                    lambda: self.draft.remove_stack(image, stack),
                    markup.image_url(image),
                )
            case [table] if table in COLLECTIONS:
                return lambda s, f, n: self._collection(s, f, n, table)
            case [table, name] if table in COLLECTIONS:
                return lambda s, f, n: self._item(s, f, n, table, name)
            case [table, name, "delete"] if table in COLLECTIONS:
                wants(True)
                return lambda s, f, n: self._remove(
                    lambda: self.draft.remove(table, name), f"/{table}"
                )
        raise _refuse(404, "NSA0105E", "there is no such page.")

    # Handlers: (shell, form, notice) -> page.

    def _tree(self, shell: markup.Shell, form: dict[str, str], notice: str) -> bytes:
        return pages.tree(shell, self.draft.description, self.draft.check(), notice)

    def _save(self, shell: markup.Shell, form: dict[str, str], notice: str) -> bytes:
        try:
            self.draft.save()
        except OSError as e:
            raise _refuse(
                500,
                "NSA0107E",
                f"the description could not be saved to {self.draft.path}: "
                f"{e.strerror or e}; the draft is kept.",
            ) from None
        raise _see("/?notice=saved")

    def _generated(self) -> tuple[list[GeneratedFile] | None, str | None]:
        """
        The preview of the generated files, or why there is none: as
        C{nss-assistant generate} (NSA0047E), nothing is generated from a
        draft with errors, or one that could not be checked.
        """
        check = self.draft.check()
        if check.unavailable:
            return None, f"the draft could not be checked: {check.unavailable}"
        errors = [f for f in check.findings if f.messageId.endswith("E")]
        if errors:
            return None, (
                f"the description has {len(errors)} errors (see the findings on "
                "the page of images and stacks): correct them; nothing was "
                "generated."
            )
        try:
            return self.draft.preview(), None
        except GenerationError as e:
            return None, f"the files cannot be generated: {e.messageId} {e.text}"
        except DescriptionError as e:
            return None, "the files cannot be generated: " + "; ".join(
                str(f) for f in e.findings
            )
        except Exception as e:
            return None, f"the files cannot be generated: {type(e).__name__}: {e}"

    def _files(self, shell: markup.Shell, form: dict[str, str], notice: str) -> bytes:
        files, problem = self._generated()
        return pages.files_page(shell, files, problem and f"NSA0108E {problem}")

    def _archive(self, shell: markup.Shell, form: dict[str, str], notice: str) -> bytes:
        _, problem = self._generated()
        if problem:
            raise _refuse(409, "NSA0108E", problem)
        raise _Download(self.draft.archive())

    def _add_image(
        self, shell: markup.Shell, form: dict[str, str], notice: str
    ) -> bytes:
        name = form.get("name", "").strip()
        system = form.get("systemName", "").strip() or name.upper()
        try:
            self.draft.put_image(Image(name=name, systemName=system))
        except DraftError as e:
            page = pages.tree(
                shell,
                self.draft.description,
                self.draft.check(),
                "",
                form,
                e.finding.message,
            )
            raise _Answer(400, page) from None
        raise _see(markup.image_url(name))

    def _image(
        self, shell: markup.Shell, form: dict[str, str], notice: str, name: str
    ) -> bytes:
        image = self.draft.image(name)
        if form:
            # One parse of both groups, so that every field's error shows.
            errors: dict[str, str] = {}
            values: dict[str, Any] = {}
            try:
                values = parse_fields([*IMAGE_SPECS, *SETTING_SPECS], form)
            except FormErrors as e:
                errors = e.errors
            if errors:
                raise _Answer(
                    400,
                    forms.image_form(
                        shell,
                        self.draft.description,
                        self.draft.check(),
                        image,
                        IMAGE_SPECS,
                        SETTING_SPECS,
                        form,
                        errors,
                    ),
                )
            defaults = {s.name: values.pop(s.name) for s in SETTING_SPECS}
            changed = dataclasses.replace(
                image,
                defaults=StackSettings(**defaults),
                **values,
            )
            self.draft.put_image(changed, name)
            raise _see(markup.image_url(name))
        return forms.image_form(
            shell,
            self.draft.description,
            self.draft.check(),
            image,
            IMAGE_SPECS,
            SETTING_SPECS,
            notice=notice,
        )

    def _add_stack(
        self, shell: markup.Shell, form: dict[str, str], image: str
    ) -> bytes:
        name = form.get("name", "").strip()
        try:
            self.draft.put_stack(image, Stack(name=name))
        except DraftError as e:
            if e.finding.messageId != "NSA0104E":
                raise
            page = forms.image_form(
                shell,
                self.draft.description,
                self.draft.check(),
                self.draft.image(image),
                IMAGE_SPECS,
                SETTING_SPECS,
                newStack=(name, e.finding.message),
            )
            raise _Answer(400, page) from None
        raise _see(markup.stack_url(image, name))

    def _stack(
        self,
        shell: markup.Shell,
        form: dict[str, str],
        notice: str,
        imageName: str,
        name: str,
    ) -> bytes:
        image = self.draft.image(imageName)
        stack = self.draft.stack(imageName, name)
        editable = [s for s in SETTING_SPECS if s.name not in IMAGE_ONLY_SETTINGS]
        if form:
            errors: dict[str, str] = {}
            values: dict[str, Any] = {}
            try:
                values = parse_fields([*STACK_SPECS, *editable], form)
            except FormErrors as e:
                errors = e.errors
            if errors:
                raise _Answer(
                    400,
                    forms.stack_form(
                        shell,
                        self.draft.description,
                        self.draft.check(),
                        image,
                        stack,
                        STACK_SPECS,
                        SETTING_SPECS,
                        form,
                        errors,
                    ),
                )
            settings = {s.name: values.pop(s.name) for s in editable}
            # An image-only setting a loaded file gave the stack stays as it
            # was: the form has no field for it, and validation reports it.
            overrides = dataclasses.replace(stack.overrides, **settings)
            changed = dataclasses.replace(stack, overrides=overrides, **values)
            self.draft.put_stack(imageName, changed, name)
            raise _see(markup.stack_url(imageName, name))
        return forms.stack_form(
            shell,
            self.draft.description,
            self.draft.check(),
            image,
            stack,
            STACK_SPECS,
            SETTING_SPECS,
            notice=notice,
        )

    def _clear(self, form: dict[str, str], imageName: str, name: str) -> bytes:
        stack = self.draft.stack(imageName, name)
        setting = form.get("clear", "")
        if setting not in {s.name for s in SETTING_SPECS} - IMAGE_ONLY_SETTINGS:
            raise _refuse(400, "NSA0103E", f"{setting!r} is not a stack setting.")
        overrides = dataclasses.replace(stack.overrides, **{setting: None})
        changed = dataclasses.replace(stack, overrides=overrides)
        self.draft.put_stack(imageName, changed, name)
        raise _see(markup.stack_url(imageName, name))

    def _collection(
        self, shell: markup.Shell, form: dict[str, str], notice: str, table: str
    ) -> bytes:
        collection = COLLECTIONS[table]
        items = getattr(self.draft.description, table)
        if form:
            try:
                values = parse_fields(list(collection.specs), form)
            except FormErrors as e:
                raise _Answer(
                    400,
                    forms.collection_page(
                        shell, collection, items, self.draft.check(), form, e.errors
                    ),
                ) from None
            item = collection.cls(**values)
            try:
                getattr(self.draft, f"put_{collection.singular}")(item)
            except DraftError as e:
                errors = {collection.key: e.finding.message}
                page = forms.collection_page(
                    shell,
                    collection,
                    items,
                    self.draft.check(),
                    form,
                    errors,
                    errorId=e.finding.messageId,
                )
                raise _Answer(400, page) from None
            raise _see(f"/{table}/{markup.q(values[collection.key])}")
        return forms.collection_page(
            shell, collection, items, self.draft.check(), notice=notice
        )

    def _item(
        self,
        shell: markup.Shell,
        form: dict[str, str],
        notice: str,
        table: str,
        name: str,
    ) -> bytes:
        collection = COLLECTIONS[table]
        items = getattr(self.draft.description, table)
        found = [i for i in items if getattr(i, collection.key) == name]
        if not found:
            raise _refuse(
                404, "NSA0105E", f"there is no {collection.singular} {name!r}."
            )
        item = found[0]
        specs = [s for s in collection.specs if s.name != collection.key]
        if form:
            try:
                values = parse_fields(specs, form)
            except FormErrors as e:
                raise _Answer(
                    400,
                    forms.item_form(
                        shell,
                        self.draft.description,
                        collection,
                        item,
                        self.draft.check(),
                        form,
                        e.errors,
                    ),
                ) from None
            changed = dataclasses.replace(item, **values)
            getattr(self.draft, f"put_{collection.singular}")(changed, name)
            raise _see(f"/{table}/{markup.q(name)}")
        return forms.item_form(
            shell,
            self.draft.description,
            collection,
            item,
            self.draft.check(),
            notice=notice,
        )

    def _remove(self, remove: Callable[[], None], then: str) -> bytes:
        remove()
        raise _see(then)
