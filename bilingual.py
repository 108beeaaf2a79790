"""One bilingual text: what the studio says to a person, in English and Chinese.

Every package may import this module (it imports nothing of ours): the engine (`cogvideo`) and
the prompt agent (`agent`) hold their messages as `Text`, and the faces `pick` the language.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """English and Chinese, both always filled (the same string where there is nothing to
    translate, e.g. a file name)."""

    en: str
    zh: str

    def __post_init__(self) -> None:
        for lang, value in (("en", self.en), ("zh", self.zh)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"Text.{lang} must be a non-empty string, got {value!r}")


def pick(text: Text, lang: str) -> str:
    """The text for `lang`: "zh" (or any "zh-*") -> Chinese; "both" -> Chinese, then English on
    the next line (for callers that sent no language); anything else -> English."""
    if lang == "both":
        return text.zh if text.zh == text.en else f"{text.zh}\n{text.en}"
    return text.zh if lang.startswith("zh") else text.en
