"""Gradio's own refusals and failures, in our words and the user's language.

Our handlers turn every failure into a `gr.Error` carrying our message. Two kinds of message come
from Gradio itself, around our code; this ASGI middleware replaces them on the wire:

* **Queue full.** `POST /gradio_api/queue/join` (the page, gradio_client) and `/gradio_api/call/<api>`
  (raw HTTP) answer 503 "Queue is full. Max size is 64 and size is 64." The page ignores a 503's
  body and shows its own English "This application is currently busy"; for other statuses it shows
  `detail`. So the answer becomes 429 with our `detail` and Retry-After. (gradio_client raises its
  English `QueueError` only for a 503; for this 429 it raises `httpx.HTTPStatusError`, whose
  `.response` carries our message.) Gradio's i18n cannot help: the page's text is a constant in
  its JavaScript client, not a translation key.
* **Failures of Gradio's own steps** (a malformed call: too few values, a dict where a number
  belongs). With `show_error=True` they show Gradio's exception text, object reprs with memory
  addresses included; the app runs with `show_error=False` (our `gr.Error`s still show), and then
  they arrive as `"error": null`, which the page shows as a bare "Error" and gradio_client as "has
  not enabled verbose error reporting". In the event streams (`GET /gradio_api/queue/data`,
  `GET /gradio_api/call/<api>/<event>`) such a null becomes our message.
"""

from __future__ import annotations

import json

from starlette.types import Message, Receive, Scope, Send

from .asgi import language, rewriting, say

PREFIX = "/gradio_api"
RETRY_AFTER_S = 10

QUEUE_FULL = (
    "The studio is busy: too many requests are waiting. Please try again in a minute.",
    "工作室正忙：等待处理的请求太多。请一分钟后再试。",
)
MALFORMED = (
    "This request could not be processed: a value is missing or has the wrong type. Scripts: check the "
    "parameters on the page's “Use via API” panel. In the browser: reload the page and try again.",
    "无法处理此请求：缺少某个值或类型不对。如果是脚本调用，请对照页面底部“通过 API 使用”中的参数；"
    "如果是在浏览器中，请刷新页面后重试。",
)


class GradioMessages:
    """ASGI middleware: Gradio's queue-full answer and its anonymous errors, replaced by ours."""

    def __init__(self, app, forced_lang: str | None = None):
        self.app = app
        self.forced_lang = forced_lang

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        lang = language(scope, self.forced_lang)
        route = path[len(PREFIX):].rstrip("/")
        if scope.get("method") == "POST" and (route == "/queue/join" or route.startswith("/call/")):
            await self.app(scope, receive, _queue_full_in_our_words(send, say(*QUEUE_FULL, lang)))
        elif scope.get("method") == "GET" and (route == "/queue/data" or route.startswith("/call/")):
            await self.app(scope, receive, _errors_in_our_words(send, say(*MALFORMED, lang)))
        else:
            await self.app(scope, receive, send)


def _queue_full_in_our_words(send: Send, text: str) -> Send:
    """A `send` that turns Gradio's 503 "Queue is full" into ours (429, with when to retry)."""

    def rewrite(start: Message, body: bytes):
        if b"Queue is full" not in body:
            return None
        return {"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"retry-after", str(RETRY_AFTER_S).encode())]}, \
            json.dumps({"detail": text}, ensure_ascii=False).encode()

    return rewriting(send, 503, rewrite)


def _errors_in_our_words(send: Send, text: str) -> Send:
    """A `send` that fills `"error": null` in server-sent events with our message."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.body" and b"null" in message.get("body", b""):
            message = {**message, "body": fill_anonymous_errors(message["body"], text)}
        await send(message)

    return wrapped


def fill_anonymous_errors(chunk: bytes, text: str) -> bytes:
    """Server-sent events with our message where Gradio sent an error without one.

    `queue/data` events are `data: {"msg": "process_completed", "success": false, "output": {"error":
    null}, ...}`; `call/<api>/<event>` events are `event: error` + `data: {"error": null}`. Gradio
    sends each event in one chunk; anything that does not parse is passed on unchanged."""
    try:
        events = chunk.decode("utf-8").split("\n\n")
    except UnicodeDecodeError:
        return chunk
    changed = False
    for index, event in enumerate(events):
        lines = event.split("\n")
        for number, line in enumerate(lines):
            if not line.startswith("data: "):
                continue
            try:
                data = json.loads(line[len("data: "):])
            except ValueError:
                continue
            target = None
            if isinstance(data, dict) and data.get("msg") in ("process_completed", "process_generating") \
                    and data.get("success") is False and isinstance(data.get("output"), dict):
                target = data["output"]
            elif "event: error" in lines and isinstance(data, dict) and set(data) <= {"error", "visible"}:
                target = data
            if target is not None and "error" in target and target["error"] is None:
                target["error"], target["visible"] = text, True
                lines[number] = "data: " + json.dumps(data, ensure_ascii=False)
                changed = True
        events[index] = "\n".join(lines)
    return "\n\n".join(events).encode("utf-8") if changed else chunk
