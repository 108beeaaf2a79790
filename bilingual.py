"""One bilingual text: what the studio says to a person, in English and Chinese.

Every package may import this module (it imports nothing of ours): the engine (`cogvideo`) and
the prompt agent (`agent`) hold their messages as `Text`, raise `BilingualError`s, and the faces
`pick` the language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Text:
    """English and Chinese, both always filled: the same string where there is nothing to
    translate (a file name), and both empty only where there is nothing to say (a job's message
    before its first step)."""

    en: str
    zh: str

    def __post_init__(self) -> None:
        if not isinstance(self.en, str) or not isinstance(self.zh, str) or (self.en == "") != (self.zh == ""):
            raise ValueError(f"Text needs both languages, got en={self.en!r}, zh={self.zh!r}")


class BilingualError(Exception):
    """The base of every error whose message is meant for people (the engine's `StudioError`, the
    agent's `AgentError`, the API's `ApiError`): `text` says what went wrong and what to do next
    (`zh` defaults to `en`); `str(exc)` is the English, for logs.

    `status` is the HTTP status a face answers with: 500 (the server's side) unless the class says
    otherwise, so that only errors the caller can fix read as the caller's fault. `retry_after`,
    where set: the seconds after which the same call may succeed (a full queue)."""

    status: ClassVar[int] = 500
    retry_after: ClassVar[int | None] = None

    def __init__(self, en: str, zh: str | None = None):
        super().__init__(en)
        self.text = Text(en, zh or en)

    @property
    def en(self) -> str:
        return self.text.en

    @property
    def zh(self) -> str:
        return self.text.zh


def pick(text: Text, lang: str) -> str:
    """The text for `lang`: "zh" (or any "zh-*") -> Chinese; "both" -> `both(text)` (for callers
    that sent no language); anything else -> English."""
    if lang == "both":
        return both(text)
    return text.zh if lang.startswith("zh") else text.en


def lang_of(accept_language: str | None) -> str:
    """The language to answer in, from an Accept-Language header: "en" for an English first choice,
    "zh" for any other (the product's language, also for languages we lack), and "both" when the
    caller sent none (scripts), so a developer can read either. The one parser of the header."""
    first = (accept_language or "").split(",")[0].strip().lower()
    if not first:
        return "both"
    return "en" if first.startswith("en") else "zh"


def both(text: Text) -> str:
    """Both languages on one line, Chinese (the product's language) first: "已取消。 / Cancelled.";
    once where they are the same. For a reader whose language is unknown: a script that sent no
    Accept-Language, the server log, the terminal a start-up failure ends on. One line, because
    every such place takes one: a JSON message, a toast's title, a log record."""
    return text.zh if text.zh == text.en else f"{text.zh} / {text.en}"
