"""Browser sessions that end when the operator says so: `users remove` and `users set-password`.

Gradio 6.31 keeps its sign-ins in memory: `POST /login` puts a random token in `app.tokens`
(token -> user name) and in two cookies, `access-token-<cookie_id>` and
`access-token-unsecure-<cookie_id>`; every route then finds the user with `app.tokens.get(token)`
(`gr.Request.username` comes from there). A token lives until the process ends or its user
visits `/logout`; Gradio never asks the `auth` function again. So a removed user, or one whose
password was changed, stayed signed in.

This ASGI middleware sits in front of every Gradio route. At `POST /login` it reads the user's
`session_stamp` (jobs/users.py) *before* the password is checked and, if Gradio answers 200,
remembers it with the new token. On every later request carrying a session cookie it reads the
stamp again (one primary-key SELECT, so a change by the CLI in another process counts at once).
A different stamp, or no user at all, ends the session: the token leaves `app.tokens`, so Gradio
itself sees nobody from then on (a reload shows its sign-in page), and every call of the open
page or of gradio_client with that cookie is answered 401 with a message in the user's language
(the page shows it for queued events; it shows no error text for unqueued ones). Reading the
stamp before the password check means a password changed during a sign-in can only end that
session, never keep one signed in under the old password. A session this middleware did not see
begin is ended too. Like the REST API's key check, the read runs on the event loop: a row read
is cheaper than a hop to the thread pool.
"""

from __future__ import annotations

import json
import logging
from typing import Callable

from starlette.requests import cookie_parser
from starlette.types import Message, Receive, Scope, Send

from .asgi import answer, header, language, read_body, replay, say
from .signin import MAX_FORM_BYTES, _user_name

log = logging.getLogger("cogvideo.sessions")

API_PREFIX = "/gradio_api/"
TRACKED = 10_000  # sessions remembered before those Gradio has forgotten are swept

SIGNED_OUT = (
    "You have been signed out: your account was removed or its password was changed. Reload the page and "
    "sign in again.",
    "你已退出登录：你的账户已被删除或密码已被修改。请刷新页面后重新登录。",
)


class SessionGuard:
    """ASGI middleware: a Gradio session lives only while its user's `session_stamp` is unchanged."""

    def __init__(self, app, stamp_of: Callable[[str], str | None], forced_lang: str | None = None):
        self.app = app
        self.stamp_of = stamp_of  # user name -> their stamp now, None when no such user
        self.forced_lang = forced_lang
        self._sessions: dict[str, tuple[str, str | None]] = {}  # token -> (user name, stamp at sign-in)
        self._ended: dict[str, None] = {}  # tokens of sessions ended here, oldest first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gradio = scope.get("app")
        tokens, cookie_id = getattr(gradio, "tokens", None), getattr(gradio, "cookie_id", None)
        if scope["type"] != "http" or not isinstance(tokens, dict) or not cookie_id:
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == "/login":
            await self._sign_in(scope, receive, send, cookie_id)
            return
        token = _session_token(scope, cookie_id)
        if token is not None and token in tokens and not self._still_valid(token, tokens[token]):
            tokens.pop(token, None)
            self._sessions.pop(token, None)
            self._end(token)
        if token is not None and token in self._ended and token not in tokens:
            # Every call of the open page says why (the first may be an unqueued event, whose error the
            # page does not show), until a reload: the page itself, its config and files are answered
            # by Gradio as for a visitor who never signed in, so the reload shows its sign-in.
            if scope.get("path", "").startswith(API_PREFIX):
                await _signed_out(send, say(*SIGNED_OUT, language(scope, self.forced_lang)))
                return
        await self.app(scope, receive, send)

    def _end(self, token: str) -> None:
        if len(self._ended) >= TRACKED:
            self._ended.pop(next(iter(self._ended)))  # the oldest: its page has long been reloaded or closed
        self._ended[token] = None

    def _still_valid(self, token: str, user: str) -> bool:
        known = self._sessions.get(token)
        if known is None or known[0] != user:
            log.warning("a session of %r that did not sign in through this app ended", str(user)[:64])
            return False
        if self.stamp_of(user) != known[1]:
            log.info("session of %r ended: the user was removed or their password changed", str(user)[:64])
            return False
        return True

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send, cookie_id: str) -> None:
        body = await read_body(receive, MAX_FORM_BYTES)
        if body is None:
            await answer(send, 413, say("A sign-in form is a user name and a password; this one is too large.",
                                        "登录表单只含用户名和密码，此请求过大。", language(scope, self.forced_lang)))
            return
        name = await _user_name(scope, body)
        stamp = self.stamp_of(name)  # before the password check: see the module's notes
        wanted = f"access-token-{cookie_id}"

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                for key, value in message.get("headers", ()):
                    if key.lower() == b"set-cookie":
                        cookie, _, token = value.decode("latin-1").split(";", 1)[0].partition("=")
                        if cookie.strip() == wanted and token.strip():
                            self._remember(token.strip(), name, stamp, scope)
            await send(message)

        await self.app(scope, replay(body, receive), watch)

    def _remember(self, token: str, name: str, stamp: str | None, scope: Scope) -> None:
        if len(self._sessions) >= TRACKED:
            live = getattr(scope.get("app"), "tokens", {})
            self._sessions = {t: v for t, v in self._sessions.items() if t in live}
        self._sessions[token] = (name, stamp)


async def _signed_out(send: Send, text: str) -> None:
    """401 with the message where each caller looks: the page's queued events and gradio_client read
    `detail`, its unqueued events `error`."""
    body = json.dumps({"detail": text, "error": text}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _session_token(scope: Scope, cookie_id: str) -> str | None:
    """The Gradio session token of the request's cookies, read as Gradio reads them (Starlette's
    parser; the secure cookie first, then the other), or None."""
    raw = header(scope, "cookie")
    if not raw:
        return None
    cookies = cookie_parser(raw)
    return cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}") or None
