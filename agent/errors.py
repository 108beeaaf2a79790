"""Errors whose message is meant for the person using the studio.

Every error carries an English and a Chinese message; the outermost layer (the Gradio face) picks
the one for the user's language. `PromptAgent` raises only `AgentError`, and only for bad input or
bad configuration: a failing prompt service never raises, it becomes a warning on a `Suggestion`.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class: `en` and `zh` say what went wrong and what to do next."""

    def __init__(self, en: str, zh: str | None = None):
        super().__init__(en)
        self.en = en
        self.zh = zh

    def message(self, lang: str = "en") -> str:
        if lang.startswith("zh") and self.zh:
            return self.zh
        return self.en


class BackendError(AgentError):
    """The prompt service failed (bad key, rate limit, timeout, cut stream, unusable answer).

    Raised inside the package only: `PromptAgent` catches it and returns the user's own text (or an
    offline suggestion) with this message as the warning.
    """


def empty_answer_error() -> BackendError:
    """The service answered, but with nothing we can use as a prompt."""
    return BackendError(
        "The prompt service returned an empty answer.",
        "提示词服务返回了空回答。",
    )
