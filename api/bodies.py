"""Request bodies, bounded per route before anything reads them.

Starlette, FastAPI and Gradio read a request's whole body into memory before the route looks at
it: before the API key is checked, before Gradio sees that a call is malformed. A 200 MB POST from
anyone cost the server 400 to 600 MB for the seconds it took to refuse it. `BodyLimit` sits in
front of every route (sign-in, uploads, Gradio, the REST API and MCP) and:

* refuses a body whose Content-Length is over the route's limit without reading it (413);
* counts the bytes of a body of unknown size (chunked) as they arrive, and once they pass the
  limit tells the route the client has gone (so it stops reading; the bytes it holds stay under
  the limit) and answers 413 itself.

The limits are data (`Rule`, `studio_rules`): small for JSON calls, the clip-sized bound for the
routes that take a clip as base64 (REST `video_url`, MCP), none where a route keeps its own caps
(Gradio's upload route: api/uploads.py). A refused body is read on and dropped, up to a bound:
a client still sending when the server answers and closes gets a connection reset instead of the
answer.

A limit bounds what one request may cost; it does not stop anyone from sending a clip-sized body.
`KeyBeforeBody` does that for the REST API: without a working key, nothing of the body is read
(the MCP endpoint checks its key before the body already).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bilingual import lang_of
from jobs.keys import ApiKeys

from . import errors
from .asgi import answer, client_address, drain, header, language, say
from .auth import authorize
from .errors import ApiError
from .limits import RateLimiter
from .uploads import UPLOAD_PATH, size_text

log = logging.getLogger("cogvideo.bodies")

# A JSON call without a file: the page's and gradio_client's events (files travel by upload), REST
# polls, a REST submit without a picture. Gradio's page sends about 2 KB per click.
SMALL_BODY_BYTES = 2**20

Shape = Literal["zhipu", "detail"]


@dataclass(frozen=True)
class Rule:
    """Bodies of requests whose path starts with `prefix` may carry `limit` bytes (None: the route
    bounds its own bodies). Refusals answer in `shape`: Zhipu's error body or Gradio's `detail`."""

    prefix: str
    limit: int | None
    shape: Shape = "detail"


def studio_rules(clip_body: int) -> list[Rule]:
    """The app's limits; `clip_body` is the JSON size of the largest clip as base64 (api/mcp.py).
    The first rule whose prefix matches wins: longer prefixes first."""
    return [
        Rule(UPLOAD_PATH, None),  # 250 MB per request, and more: UploadGuard
        Rule("/api/paas/v4/videos/generations", clip_body, "zhipu"),  # video_url: a clip as base64
        Rule("/api/", SMALL_BODY_BYTES, "zhipu"),
        Rule("/mcp", clip_body, "zhipu"),  # restyle_video / extend_video carry a clip; errors as REST's
        Rule("/", SMALL_BODY_BYTES),
    ]


class BodyLimit:
    """ASGI middleware: each request's body bounded by the first `Rule` its path matches."""

    def __init__(self, app: ASGIApp, rules: list[Rule], forced_lang: str | None = None):
        self.app = app
        self.rules = list(rules)
        self.forced_lang = forced_lang

    def rule(self, path: str) -> Rule | None:
        return next((rule for rule in self.rules if path.startswith(rule.prefix)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self.rule(scope.get("path", "")) if scope["type"] == "http" else None
        if rule is None or rule.limit is None:
            await self.app(scope, receive, send)
            return
        limit = rule.limit
        length = header(scope, "content-length").strip()
        if length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, rule, int(length))
            return
        seen, cut, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # The route believes the client left: it stops reading and drops what it holds.
                    cut = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if cut and not started:  # the route's answer to "the client left": ours goes instead
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not cut:
                raise
            # A route may raise on the disconnect it was told of; the refusal below is the answer.
        if cut and not started:
            await self._refuse(scope, receive, send, rule, seen)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, rule: Rule, size: int) -> None:
        log.warning("request body refused: %s %s from %s is over %s (%d bytes seen or declared)",
                    scope.get("method", ""), scope.get("path", "")[:200], client_address(scope),
                    size_text(rule.limit), size)
        if header(scope, "expect").strip().lower() != "100-continue":  # else the client waits: nothing to drop
            await drain(receive)
        limit = size_text(rule.limit)
        en = (f"This request is too large: at most {limit} may be sent here at once. Send a smaller one "
              "(for pictures and clips, smaller files).")
        zh = f"请求过大：此处每次最多可发送 {limit}。请发送更小的请求（图片或视频请换更小的文件）。"
        if rule.shape == "zhipu":
            lang = lang_of(header(scope, "accept-language"))  # as the REST API's own errors
            await ApiError(413, errors.BODY_TOO_LARGE, en, zh).response(lang)(scope, receive, send)
        else:
            await answer(send, 413, say(en, zh, language(scope, self.forced_lang)))


class KeyBeforeBody:
    """ASGI middleware for the REST API: a request that carries a body under `prefix` shows a
    working key before any of its body is read (FastAPI reads and parses the body before it
    resolves the route's key dependency). The route checks the key again, rate limit included."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, prefix: str):
        self.app = app
        self.keys = keys
        self.prefix = prefix
        self.unlimited = RateLimiter(0)  # the route's own check counts the request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope) or not _route_path(scope).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        try:
            await anyio.to_thread.run_sync(authorize, self.keys, header(scope, "authorization"), self.unlimited)
        except ApiError as exc:
            if header(scope, "expect").strip().lower() != "100-continue":
                await drain(receive)
            await exc.response(lang_of(header(scope, "accept-language")))(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    length = header(scope, "content-length").strip()
    return bool(header(scope, "transfer-encoding")) or (length.isdigit() and int(length) > 0)


def _route_path(scope: Scope) -> str:
    """The path inside a mounted app (Starlette keeps the full path and names the mount in root_path)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path
