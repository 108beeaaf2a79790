"""What the prompt agent hands back to the face."""

from __future__ import annotations

from dataclasses import dataclass

from bilingual import Text

# Where a suggestion's text came from.
SOURCES = ("llm", "offline", "kept")


@dataclass(frozen=True)
class Suggestion:
    """A prompt for the text box.

    source: "llm" (written by the chat model), "offline" (our template expander), or "kept" (the
    user's own text, unchanged, because the service failed; `warning` says why).
    """

    text: str
    source: str
    warning: Text | None = None

    # For readers that still take the two strings (api/mcp.py, bench/agent.py).
    @property
    def warning_en(self) -> str | None:
        return None if self.warning is None else self.warning.en

    @property
    def warning_zh(self) -> str | None:
        return None if self.warning is None else self.warning.zh
