"""Errors whose message is meant for the person using the studio.

Every error carries its message as a `Text` (English and Chinese, `bilingual.BilingualError`, the
engine's base too); the outermost layer (the Gradio face) picks the one for the user's language.
`PromptAgent` raises only `AgentError`, and only for bad input or bad configuration: a failing
prompt service never raises, it becomes a warning on a `Suggestion`.
"""

from __future__ import annotations

from bilingual import BilingualError


class AgentError(BilingualError):
    """Base class: `text` says what went wrong and what to do next. 400: the input the agent was
    given (its configuration fails at start-up, where no status is read)."""

    status = 400


class BackendError(AgentError):
    """The prompt service failed (bad key, rate limit, timeout, cut stream, unusable answer).

    Raised inside the package only: `PromptAgent` catches it and returns the user's own text (or an
    offline suggestion) with this message as the warning. 502: the service behind us failed.
    """

    status = 502


def empty_answer_error() -> BackendError:
    """The service answered, but with nothing we can use as a prompt."""
    return BackendError(
        "The prompt service returned an empty answer.",
        "提示词服务返回了空回答。",
    )
