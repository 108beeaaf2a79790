"""One bilingual text: what the studio says to a person, in English and Chinese.

Every package may import this module (it imports nothing of ours): the engine (`cogvideo`) and
the prompt agent (`agent`) hold their messages as `Text`, and the faces `pick` the language.
"""

from __future__ import annotations

from dataclasses import dataclass


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
