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
