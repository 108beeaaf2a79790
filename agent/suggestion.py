"""What the prompt agent hands back to the face."""

from __future__ import annotations

from dataclasses import dataclass

# Where a suggestion's text came from.
SOURCES = ("llm", "offline", "kept")


@dataclass(frozen=True)
class Suggestion:
    """A prompt for the text box.

    source: "llm" (written by the chat model), "offline" (our template expander), or "kept" (the
    user's own text, unchanged, because the service failed; `warning_*` says why).
    """

    text: str
    source: str
    warning_en: str | None = None
    warning_zh: str | None = None

    def warning(self, lang: str = "en") -> str | None:
        """The warning in the user's language (Chinese for "zh*"), or None."""
        if lang.startswith("zh") and self.warning_zh:
            return self.warning_zh
        return self.warning_en
