"""Sign-in attempts, limited: Gradio's `POST /login` checks a password as often as it is asked.

Gradio calls the `auth` function with the user name and password only, no request, so it cannot
see who is knocking. The limit therefore sits in front of the route as ASGI middleware: it reads
the form's user name, takes the caller's address, and lets an attempt through only while neither
has failed too often.

The rule, per user name and per address separately: `free` failed attempts in a row are free;
then each further attempt must wait 1 s after the last one, then 2 s, 4 s, ... up to 15 minutes. A
successful sign-in resets that name and that address; a key left alone for an hour is forgotten.
Every attempt counts as failed until Gradio answers 200, so a burst of parallel guesses gets no
more tries than a slow sequence would.

A refusal is HTTP 429 with `Retry-After` and `{"detail": message}` in the caller's language.
Gradio's login page reacts only to 400 (its "incorrect credentials" line) and 200, so the page's
`auth_message` (`LOGIN_PAGE_NOTE`) states the rule; gradio_client raises its "Could not login".
"""

from __future__ import annotations

import logging
import math
import time

from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from .asgi import answer, client_address, language, read_body, replay, say

log = logging.getLogger("cogvideo.signin")

MAX_FORM_BYTES = 64 * 1024  # a user name and a password; anything larger is not a sign-in
FIRST_WAIT_S = 1.0
LONGEST_WAIT_S = 15 * 60.0
FORGET_S = 3600.0  # a key with no attempt for this long starts afresh
TRACKED = 10_000  # keys kept before the forgotten ones are swept (bounds memory under random names)


def login_page_note(free: int) -> str:
    """HTML for the login page (Gradio's `auth_message`), in both languages: the page cannot show
    a per-request message for a refused attempt."""
    return (f"<small>连续输错 {free} 次密码后，需等待一段时间（每次加倍）才能再试，期间点击登录不会有反应。<br>"
            f"After {free} wrong passwords in a row, sign-in pauses for a while (doubling each time); "
            "until then, Sign in does nothing.</small>")


class Backoff:
    """Failed attempts per key (a user name, an address) and how long the key must wait."""

    def __init__(self, free: int, first_wait_s: float = FIRST_WAIT_S, longest_wait_s: float = LONGEST_WAIT_S):
        self.free = free
        self.first_wait_s = first_wait_s
        self.longest_wait_s = longest_wait_s
        self._keys: dict[str, tuple[int, float]] = {}  # key -> (failures in a row, time of the last)

    def wait(self, key: str, now: float) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        failures, last = self._keys.get(key, (0, now))
        if now - last > FORGET_S:
            self._keys.pop(key, None)
            return 0.0
        if failures < self.free:
            return 0.0
        delay = min(self.longest_wait_s, self.first_wait_s * 2 ** min(failures - self.free, 30))
        return max(0.0, last + delay - now)

    def attempt(self, key: str, now: float) -> None:
        """Count an attempt as failed (until `success` says otherwise)."""
        if len(self._keys) >= TRACKED:
            self._keys = {k: v for k, v in self._keys.items() if now - v[1] <= FORGET_S}
        failures, _ = self._keys.get(key, (0, now))
        self._keys[key] = (failures + 1, now)

    def success(self, key: str) -> None:
        self._keys.pop(key, None)


class SignInGuard:
    """ASGI middleware: `POST /login` only while the user name and the address may try."""

    def __init__(self, app, attempts: int = 5, forced_lang: str | None = None):
        self.app = app
        self.attempts = attempts  # 0: no limit
        self.forced_lang = forced_lang
        self.names = Backoff(attempts)
        self.addresses = Backoff(attempts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.attempts <= 0 or scope["type"] != "http" or scope.get("method") != "POST"
                or scope.get("path", "").rstrip("/") != "/login"):
            await self.app(scope, receive, send)
            return
        lang = language(scope, self.forced_lang)
        body = await read_body(receive, MAX_FORM_BYTES)
        if body is None:
            await answer(send, 413, say("A sign-in form is a user name and a password; this one is too large.",
                                        "登录表单只含用户名和密码，此请求过大。", lang))
            return
        name, address = await _user_name(scope, body), client_address(scope)
        # No await between the check and the count: concurrent attempts are admitted one by one.
        now = time.monotonic()
        wait = max(self.names.wait(name, now), self.addresses.wait(address, now))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            log.warning("sign-in refused for %r from %s: too many failures (%d s to wait)", name[:64], address, seconds)
            await answer(send, 429, say(
                f"Too many failed sign-ins for this user name or from this address. Wait {seconds} s, then try "
                "again with the right password.",
                f"该用户名或该地址的登录失败次数过多。请等待 {seconds} 秒，再用正确的密码重试。", lang),
                headers={"Retry-After": str(seconds)})
            return
        self.names.attempt(name, now)
        self.addresses.attempt(address, now)
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay(body, receive), watch)
        if status == 200:
            self.names.success(name)
            self.addresses.success(address)


async def _user_name(scope: Scope, body: bytes) -> str:
    """The `username` field of the form (urlencoded from gradio_client, multipart from the page),
    stripped as Gradio strips it; "" when there is none."""
    async def nothing_more() -> Message:
        return {"type": "http.disconnect"}

    request = Request(scope, replay(body, nothing_more))
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            value = form.get("username")
            return value.strip() if isinstance(value, str) else ""
    except Exception:  # not a form at all: Gradio answers it (422); count it under the empty name
        return ""
