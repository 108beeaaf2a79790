"""PromptAgent: turns what people type ("小男孩喝咖啡", or nothing at all, or a photo) into the long,
concrete English prompt CogVideoX needs; translates a prompt typed in another language before a
video is made; says in Chinese what an English prompt will show.

It checks the input and hands it to one `Backend` (agent/backends.py), picked by
PROMPT_AGENT_BACKEND (`from_env`): a chat model behind an OpenAI-compatible endpoint (`openai`,
agent/service.py), a small model run in this process (`local`, agent/local.py, the default when no
endpoint is configured), or the offline template expander (`templates`, agent/offline.py). It
never raises for a failing model: the user gets their own text back (or, from the local backend
and with an empty box, an offline suggestion) with a warning naming the cause.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from PIL import Image

from bilingual import Text

from .backends import COGVIDEOX, MAX_INPUT_CHARS, Backend, Progress, Request, VideoModel
from .clean import is_english
from .errors import AgentError
from .instructions import load_instructions
from .offline import TemplateBackend
from .suggestion import Suggestion

if TYPE_CHECKING:
    from .local import GpuShare

log = logging.getLogger(__name__)

MODES = ("t2v", "i2v", "old_photo")
BACKENDS = ("auto", "openai", "local", "templates")  # PROMPT_AGENT_BACKEND
DEFAULT_MAX_RETRIES = 2
# A template's intent is a few sentences (presets/templates.json); longer is cut, to bound cost.
MAX_INTENT_CHARS = 1000


class PromptAgent:
    """Writes CogVideoX prompts. Safe to share between threads (one per app).

    An endpoint (base_url or api_key) makes it ask a chat service; else `local_model` (a Hub id, a
    folder, or "tiny") makes it run that model here; else the offline templates answer.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        vision_model: str | None = None,
        timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        *,
        local_model: str | None = None,
        gpu: GpuShare | None = None,
    ):
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
        ):
            raise AgentError(
                f"The prompt agent's timeout must be a positive number of seconds, got {timeout!r}.",
                f"提示词助手的超时必须是正数（秒），当前为 {timeout!r}。",
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise AgentError(
                f"The prompt agent's max_retries must be a whole number >= 0, got {max_retries!r}.",
                f"提示词助手的 max_retries 必须是不小于 0 的整数，当前为 {max_retries!r}。",
            )
        # Read and check the prompt files now, so a broken install fails at start-up.
        instructions = load_instructions()
        templates = TemplateBackend(instructions)
        self._backend: Backend = templates
        if base_url or api_key:
            # Imported here: offline and local use need no HTTP client.
            from .service import DEFAULT_TIMEOUT_S, OPENAI_BASE_URL, ServiceBackend

            self._backend = ServiceBackend(
                base_url or OPENAI_BASE_URL, api_key, model, vision_model, float(timeout or DEFAULT_TIMEOUT_S),
                max_retries, instructions=instructions, templates=templates,
            )
        elif local_model:
            # Imports no torch: the model loads on the first suggestion.
            from .local import DEFAULT_TIMEOUT_S as LOCAL_TIMEOUT_S
            from .local import LocalBackend

            self._backend = LocalBackend(local_model, float(timeout or LOCAL_TIMEOUT_S), gpu,
                                         instructions=instructions, templates=templates)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, gpu: GpuShare | None = None) -> PromptAgent:
        """Configure from the environment:

        PROMPT_AGENT_BACKEND: `auto` (default: the endpoint when OPENAI_API_KEY or OPENAI_BASE_URL
        is set, else the local model, else templates), `openai`, `local` or `templates`.
        OPENAI_API_KEY, OPENAI_BASE_URL, PROMPT_AGENT_MODEL, PROMPT_AGENT_VISION_MODEL: the endpoint.
        PROMPT_AGENT_LOCAL_MODEL: the local model (default Qwen/Qwen3-VL-2B-Instruct; `tiny` for
        the random toy model). PROMPT_AGENT_TIMEOUT: seconds per suggestion (default 30, local 120).
        `gpu`: the host app's GpuShare, so a local model can use the GPU beside the video model.
        """
        env = os.environ if environ is None else environ

        def read(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        timeout = None
        raw_timeout = read("PROMPT_AGENT_TIMEOUT")
        if raw_timeout is not None:
            try:
                timeout = float(raw_timeout)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout < float("inf"):
                raise AgentError(
                    f"PROMPT_AGENT_TIMEOUT must be a positive number of seconds, got {raw_timeout!r}.",
                    f"PROMPT_AGENT_TIMEOUT 必须是正数（秒），当前为 {raw_timeout!r}。",
                )
        backend = (read("PROMPT_AGENT_BACKEND") or "auto").lower()
        if backend not in BACKENDS:
            raise AgentError(
                f"PROMPT_AGENT_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}.",
                f"PROMPT_AGENT_BACKEND 可选 {'、'.join(BACKENDS)}，当前为 {backend!r}。",
            )
        endpoint = read("OPENAI_BASE_URL") or read("OPENAI_API_KEY")
        if backend == "openai" and not endpoint:
            raise AgentError(
                "PROMPT_AGENT_BACKEND=openai needs OPENAI_API_KEY (and OPENAI_BASE_URL for a service "
                "other than OpenAI, or OPENAI_BASE_URL alone for Ollama and vLLM).",
                "PROMPT_AGENT_BACKEND=openai 需要设置 OPENAI_API_KEY（OpenAI 以外的服务还要设置 "
                "OPENAI_BASE_URL；Ollama、vLLM 只需 OPENAI_BASE_URL）。",
            )
        if backend == "auto":
            from .local import libraries_installed

            if endpoint:
                backend = "openai"
            elif libraries_installed():
                backend = "local"
            else:
                log.warning("prompt agent: no endpoint configured and torch/transformers are not "
                            "installed, so the offline templates answer")
                backend = "templates"
        if backend == "openai":
            return cls(
                base_url=read("OPENAI_BASE_URL"),
                api_key=read("OPENAI_API_KEY"),
                model=read("PROMPT_AGENT_MODEL"),
                vision_model=read("PROMPT_AGENT_VISION_MODEL"),
                timeout=timeout,
            )
        if backend == "local":
            from .local import DEFAULT_MODEL

            return cls(timeout=timeout, local_model=read("PROMPT_AGENT_LOCAL_MODEL") or DEFAULT_MODEL, gpu=gpu)
        return cls()

    @property
    def backend(self) -> str:
        """"openai", "local" or "templates": which one writes the prompts."""
        return self._backend.name

    @property
    def can_translate(self) -> bool:
        """A language model (endpoint, or local model present) answers; the templates cannot translate."""
        return self._backend.cannot_translate() is None

    @property
    def backend_text(self) -> Text:
        """`backend_label` in both languages, for the status line."""
        return self._backend.label

    @property
    def backend_label(self) -> str:
        """Where suggestions come from, for the UI: "glm-4-plus @ open.bigmodel.cn",
        "local · Qwen3-VL-2B · GPU", "offline templates"."""
        return self._backend.label.en

    def suggest(
        self,
        text: str,
        image: Image.Image | None = None,
        mode: str = "t2v",
        style: str | None = None,
        progress: Progress | None = None,
        *,
        intent: str | None = None,
        model: VideoModel = COGVIDEOX,
        lang: str = "en",
    ) -> Suggestion:
        """One finished suggestion (no streaming). Raises `AgentError` only for unusable input.

        intent: what the video is for and how it should move (a template's `intent`, in English);
        every backend writes for it. model: the video model it is for (CogVideoX reads English
        only; a model that reads Chinese gets the prompt in the user's language: the language of
        their text, or with an empty box `lang`, the page's)."""
        return self._backend.suggest(_validate(text, image, mode, style, intent, model, lang), progress)

    def stream(
        self,
        text: str,
        image: Image.Image | None = None,
        mode: str = "t2v",
        style: str | None = None,
        progress: Progress | None = None,
        *,
        intent: str | None = None,
        model: VideoModel = COGVIDEOX,
        lang: str = "en",
    ) -> Iterator[Suggestion]:
        """Suggestions with the cumulative text as it arrives; the last one is final (cleaned,
        or the fallback with its warning). Input is checked now: `AgentError` raises here, not on
        the first `next()`. `progress` hears about a local model downloading, loading or waiting.
        `intent`, `model`, `lang`: as for `suggest`."""
        request = _validate(text, image, mode, style, intent, model, lang)
        return self._backend.stream(request, progress)

    def translate(self, text: str, progress: Progress | None = None) -> Suggestion:
        """`text` in English for the video model, translated faithfully (nothing added): source
        "llm". Text that is English already comes back as it is ("kept", no warning); when no
        model can translate, or the translation fails, the text comes back "kept" with a warning."""
        if not isinstance(text, str):
            raise AgentError(
                f"The prompt text must be a string, got {type(text).__name__}.",
                f"提示词必须是文字，当前为 {type(text).__name__}。",
            )
        text = text.strip()
        if not text or is_english(text):
            return Suggestion(text=text, source="kept")
        return self._backend.translate(text, progress)

    def gloss(self, text: str, progress: Progress | None = None) -> str | None:
        """One or two short Chinese sentences on what an English prompt will show (shown under
        the box), or None: the text is not English, no model answers, or it failed."""
        text = (text or "").strip()
        if not text or not is_english(text):
            return None
        return self._backend.gloss(text, progress)

    def untranslatable_notice(self) -> Text | None:
        """The warning `translate` gives when no model can translate (None when one can): the
        operator's how-to, which a face logs and replaces with a plain sentence for people."""
        return self._backend.cannot_translate()


def writing_language(text: str, model: VideoModel, lang: str) -> str:
    """"en" for CogVideoX (its T5 reads English only); for a model that reads Chinese the user's
    language: their text's, or with nothing typed the page's (`lang`)."""
    if not model.reads_chinese:
        return "en"
    if text:
        return "en" if is_english(text) else "zh"
    return "zh" if lang == "zh" else "en"


def _validate(text: Any, image: Any, mode: Any, style: Any, intent: Any = None,
              model: VideoModel = COGVIDEOX, lang: str = "en") -> Request:
    if mode not in MODES:
        raise AgentError(
            f"Unknown mode {mode!r}: use one of {', '.join(repr(m) for m in MODES)}.",
            f"未知模式 {mode!r}：可选 {', '.join(repr(m) for m in MODES)}。",
        )
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise AgentError(
            f"The prompt text must be a string, got {type(text).__name__}.",
            f"提示词必须是文字，当前为 {type(text).__name__}。",
        )
    if image is not None and not isinstance(image, Image.Image):
        raise AgentError(
            f"The picture must be a PIL image, got {type(image).__name__}.",
            f"图片必须是 PIL 图像，当前为 {type(image).__name__}。",
        )
    if style is not None and not isinstance(style, str):
        raise AgentError(
            f"The style must be a style name (a string), got {type(style).__name__}.",
            f"风格必须是风格名称（文字），当前为 {type(style).__name__}。",
        )
    if intent is not None and not isinstance(intent, str):
        raise AgentError(
            f"The intent must be a sentence saying what the video is for (a string), got {type(intent).__name__}.",
            f"用途（intent）必须是说明视频用途的文字，当前为 {type(intent).__name__}。",
        )
    text = text.strip()[:MAX_INPUT_CHARS]
    if mode == "t2v":
        # Text to video never uses a picture; ignore one left over from another tab.
        image = None
    elif image is None and not text:
        raise AgentError(
            "Upload a picture first, or describe the motion you want, then press "
            '"Help me write one" again.',
            "请先上传一张图片，或描述你想要的画面动作，然后再点“帮我想一条”。",
        )
    # One line in the request: the intent's own line breaks would read as new fields.
    intent = " ".join((intent or "").split())[:MAX_INTENT_CHARS] or None
    return Request(text=text, image=image, mode=mode, style=(style or "").strip() or None, intent=intent,
                   model=model, language=writing_language(text, model, lang))
