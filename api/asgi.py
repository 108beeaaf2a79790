"""Small ASGI helpers for the guards in front of Gradio's own routes (sign-in, uploads, messages).

The guards work on raw ASGI messages, so each can look at a request, answer it itself, or pass it
on to Gradio untouched, without importing gradio.
"""

from __future__ import annotations

import json

from starlette.types import Message, Receive, Scope, Send

from bilingual import Text, lang_of, pick

DRAIN_BYTES = 2**30  # a refused body larger than this is cut off (the client then sees a reset)


def header(scope: Scope, name: str) -> str:
    """One request header ("" when absent); ASGI names are lower-case bytes."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key == wanted:
            return value.decode("latin-1")
    return ""


def client_address(scope: Scope) -> str:
    """The caller's address as the server sees it. uvicorn puts the X-Forwarded-For address here
    only when the connection comes from a trusted proxy (env FORWARDED_ALLOW_IPS, by default
    127.0.0.1, which is also where Gradio's share tunnel connects from)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def language(scope: Scope, forced: str | None) -> str:
    """'zh', 'en' or 'both', like the UI's messages: --lang, else the request's Accept-Language."""
    if forced in ("zh", "en"):
        return forced
    return lang_of(header(scope, "accept-language"))


def say(en: str, zh: str, lang: str) -> str:
    """These guards answer for the web UI, so they pick as its messages do (both: Chinese, then English)."""
    return pick(Text(en, zh), lang)


async def answer(send: Send, status: int, text: str, headers: dict[str, str] | None = None,
                 as_json: bool = True) -> None:
    """A complete response: `{"detail": text}` (FastAPI's and Gradio's error shape) or plain text."""
    if as_json:
        body, kind = json.dumps({"detail": text}, ensure_ascii=False).encode(), "application/json"
    else:
        body, kind = text.encode(), "text/plain; charset=utf-8"
    raw = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def rewriting(send: Send, status: int, rewrite) -> Send:
    """A `send` that holds back an answer of `status` and hands it to `rewrite(start, body)`, which
    returns the answer to send instead, as (start message, body bytes), or None to send it as it
    was. The servers behind (Gradio, the MCP SDK) send their error answers in one piece."""
    held: Message | None = None

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message["status"] == status:
            held = message
            return
        if held is None or message["type"] != "http.response.body":
            await send(message)
            return
        start, held = held, None
        replaced = rewrite(start, message.get("body", b""))
        if replaced is None:
            await send(start)
            await send(message)
            return
        new_start, body = replaced
        headers = [(k, v) for k, v in new_start.get("headers", []) if k.lower() != b"content-length"]
        await send({**new_start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return wrapped


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes (the rest is not read)."""
    chunks, size = [], 0
    while True:
        msg = await receive()
        if msg["type"] != "http.request":  # the client went away
            break
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not msg.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands `body` over once, then listens to the client again (disconnects)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def drain(receive: Receive, limit: int = DRAIN_BYTES) -> None:
    """Read and drop a refused body (up to `limit` bytes): a client still sending when the server
    answers and closes gets a connection reset instead of the message (browsers and httpx alike).
    Before the answer: once a response is complete, the server hands the app no more of the body."""
    left = limit
    while left > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        left -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return
