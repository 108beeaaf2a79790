"""PromptAgent: turns what people type ("小男孩喝咖啡", or nothing at all, or a photo) into the long,
concrete English prompt CogVideoX needs.

Online it asks a chat model through an OpenAI-compatible endpoint; with no endpoint configured it
uses the offline template expander. It never raises for a failing service: the user gets their own
text back (or an offline suggestion when they typed nothing) with a warning naming the cause.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PIL import Image

from bilingual import Text

from . import offline
from .clean import clean, has_reasoning, is_english
from .errors import AgentError, BackendError, empty_answer_error
from .images import describe, to_data_url
from .instructions import load_instructions
from .suggestion import Suggestion

if TYPE_CHECKING:
    from .backend import ChatBackend

log = logging.getLogger(__name__)

MODES = ("t2v", "i2v", "old_photo")
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 2
OPENAI_BASE_URL = "https://api.openai.com/v1"
# A prompt is ~200 tokens; 400 leaves room for a preamble we strip, and bounds cost and time.
MAX_TOKENS = 400
TEMPERATURE = 0.8
# An empty box asks for a fresh idea: more randomness, so each click differs.
TEMPERATURE_EMPTY = 1.0
# Longer input is a pasted document, not an idea; cut it to bound cost.
MAX_INPUT_CHARS = 2000


class _SameAsText:
    """Vision model marker: the text model reads pictures too (OpenAI, most local servers)."""


SAME_AS_TEXT = _SameAsText()

# Host -> (text model, vision model). None as vision model: the service has none (DeepSeek).
# Hosts not listed (Ollama, vLLM, proxies) use PROMPT_AGENT_MODEL, or the first model the server
# lists, for both text and pictures.
KNOWN_SERVICES: dict[str, tuple[str, str | None | _SameAsText]] = {
    "api.openai.com": ("gpt-4o-mini", SAME_AS_TEXT),
    "open.bigmodel.cn": ("glm-4-plus", "glm-4v-plus"),
    "api.deepseek.com": ("deepseek-chat", None),
    "dashscope.aliyuncs.com": ("qwen-plus", "qwen-vl-plus"),
    "dashscope-intl.aliyuncs.com": ("qwen-plus", "qwen-vl-plus"),
}


@dataclass(frozen=True)
class _Request:
    """One click, validated: what the user gave us and which system prompt fits it."""

    text: str
    image: Image.Image | None
    mode: str
    style: str | None

    @property
    def system_prompt(self) -> str:
        if self.mode == "old_photo":
            return "old-photo"
        if self.mode == "i2v":
            return "i2v" if self.text or self.image is None else "i2v-empty"
        return "t2v" if self.text else "t2v-empty"


class PromptAgent:
    """Writes CogVideoX prompts. Safe to share between threads (one per app)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        vision_model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
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
        self._instructions = load_instructions()
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._backend: ChatBackend | None = None
        self._model: str | None = None
        self._vision: str | None | _SameAsText = SAME_AS_TEXT
        if not (base_url or api_key):
            return

        # Imported here: offline use needs no HTTP client.
        from .backend import ChatBackend

        base_url = base_url or OPENAI_BASE_URL
        self._backend = ChatBackend(base_url, api_key, float(timeout), max_retries)
        default_model, default_vision = _service_defaults(self._backend.host)
        self._model = model or default_model
        if vision_model:
            self._vision = vision_model
        elif model and default_model is None:
            self._vision = SAME_AS_TEXT
        else:
            self._vision = default_vision

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PromptAgent:
        """Configure from OPENAI_API_KEY, OPENAI_BASE_URL, PROMPT_AGENT_MODEL,
        PROMPT_AGENT_VISION_MODEL and PROMPT_AGENT_TIMEOUT (seconds). Neither of the first two
        set: offline."""
        env = os.environ if environ is None else environ

        def read(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        timeout = DEFAULT_TIMEOUT_S
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
        return cls(
            base_url=read("OPENAI_BASE_URL"),
            api_key=read("OPENAI_API_KEY"),
            model=read("PROMPT_AGENT_MODEL"),
            vision_model=read("PROMPT_AGENT_VISION_MODEL"),
            timeout=timeout,
        )

    @property
    def online(self) -> bool:
        """False: no endpoint configured, the offline template expander answers."""
        return self._backend is not None

    @property
    def backend_label(self) -> str:
        """Where suggestions come from, for the UI: "glm-4-plus @ open.bigmodel.cn"."""
        if self._backend is None:
            return "offline templates"
        return f"{self._model or 'auto'} @ {self._backend.host}"

    def suggest(
        self,
        text: str,
        image: Image.Image | None = None,
        mode: str = "t2v",
        style: str | None = None,
    ) -> Suggestion:
        """One finished suggestion. Raises `AgentError` only for unusable input."""
        request = _validate(text, image, mode, style)
        backend = self._backend
        if backend is None:
            return self._offline(request)
        try:
            call = self._prepare_call(backend, request)
            answer = backend.complete(**call.kwargs)
            return self._finish(request, call, answer.text, answer.truncated)
        except BackendError as err:
            return self._fall_back(request, err)
        except Exception as err:  # the helper must never break the page; log it and fall back
            log.exception("prompt agent failed unexpectedly")
            return self._fall_back(request, _unexpected(err))

    def stream(
        self,
        text: str,
        image: Image.Image | None = None,
        mode: str = "t2v",
        style: str | None = None,
    ) -> Iterator[Suggestion]:
        """Suggestions with the cumulative text as it arrives; the last one is final (cleaned,
        or the fallback with its warning). Input is checked now: `AgentError` raises here, not on
        the first `next()`."""
        request = _validate(text, image, mode, style)
        return self._stream(request)

    def _stream(self, request: _Request) -> Iterator[Suggestion]:
        backend = self._backend
        if backend is None:
            yield self._offline(request)
            return
        shown = ""
        try:
            call = self._prepare_call(backend, request)
            for answer in backend.stream(**call.kwargs):
                if answer.finished:
                    final = self._finish(request, call, answer.text, answer.truncated)
                    break
                # Partial text, cleaned so the box never flashes "<think>" or "Sure! Here".
                partial = clean(answer.text, partial=True)
                if partial and partial != shown:
                    shown = partial
                    yield Suggestion(text=partial, source="llm")
            else:
                final = self._fall_back(request, _unexpected(RuntimeError("stream ended early")))
        except BackendError as err:
            final = self._fall_back(request, err)
        except Exception as err:  # the helper must never break the page; log it and fall back
            log.exception("prompt agent failed unexpectedly")
            final = self._fall_back(request, _unexpected(err))
        yield final

    def _offline(self, request: _Request) -> Suggestion:
        return offline.expand(
            request.text,
            request.mode,
            seed=self._rng.randrange(2**32),
            style=request.style,
            facts=describe(request.image) if request.image is not None else None,
            ideas=self._instructions.ideas,
        )

    def _prepare_call(self, backend: ChatBackend, request: _Request) -> _Call:
        """Pick model and system prompt and build the messages (the picture as a JPEG data URL)."""
        text_model = self._text_model(backend)
        vision = self._vision
        vision_model = text_model if isinstance(vision, _SameAsText) else vision
        send_image = request.image is not None and vision_model is not None
        model = vision_model if send_image else text_model

        lines = [_instruction(request)]
        notice: Text | None = None
        if request.image is not None and not send_image:
            # No vision model (DeepSeek): say what we can compute about the picture instead.
            facts = describe(request.image)
            lines.append(
                f"(The picture itself cannot be shown. Known facts: {facts.orientation}, "
                f"{facts.brightness}, {facts.tone} tones, {facts.color} colors.)"
            )
            notice = Text(
                "This service has no vision model, so the prompt was written without seeing the "
                "picture. Set PROMPT_AGENT_VISION_MODEL to use one.",
                "该服务没有视觉模型，提示词是在没有看到图片的情况下写的。设置 "
                "PROMPT_AGENT_VISION_MODEL 可以使用视觉模型。",
            )
        if request.style:
            lines.append(f"Visual style (let it shape the wording): {request.style}")
        if not request.text and request.mode == "t2v":
            lines.append(f"Theme hint: {self._rng.choice(self._instructions.themes)}")
        user_text = "\n".join(lines)

        content: str | list[dict[str, Any]] = user_text
        if send_image:
            # Picture first: several open vision models (Qwen-VL, GLM-4V) expect it before text.
            content = [
                {"type": "image_url", "image_url": {"url": to_data_url(request.image)}},
                {"type": "text", "text": user_text},
            ]
        messages = [
            {"role": "system", "content": self._instructions.system[request.system_prompt]},
            {"role": "user", "content": content},
        ]
        temperature = TEMPERATURE if request.text else TEMPERATURE_EMPTY
        return _Call(
            kwargs={
                "model": model,
                "messages": messages,
                "temperature": temperature,
                "max_tokens": MAX_TOKENS,
                "has_image": send_image,
            },
            notice=notice,
        )

    def _text_model(self, backend: ChatBackend) -> str:
        """The configured model, else (Ollama, vLLM) the first one the server lists."""
        if self._model:
            return self._model
        with self._lock:
            if not self._model:
                models = backend.list_models()
                if not models:
                    raise BackendError(
                        f"No model is set for {backend.host}, and the service did not list "
                        "its models. Set PROMPT_AGENT_MODEL (for Ollama: a name from `ollama list`).",
                        f"没有为 {backend.host} 设置模型，服务也没有列出可用模型。请设置 "
                        "PROMPT_AGENT_MODEL（Ollama 用户：填写 `ollama list` 中的名称）。",
                    )
                self._model = models[0]
                log.info("prompt agent uses %s, the first model %s lists", models[0], backend.host)
            return self._model

    def _finish(self, request: _Request, call: _Call, raw: str, truncated: bool) -> Suggestion:
        """Clean the model's answer; an empty or non-English one counts as a failure."""
        text = clean(raw, truncated=truncated)
        if not text:
            if has_reasoning(raw):
                raise BackendError(
                    "The model used its whole answer for reasoning and wrote no prompt; a "
                    "non-reasoning model (PROMPT_AGENT_MODEL) works better.",
                    "模型把整个回答都用在了推理上，没有写出提示词；换用非推理模型"
                    "（PROMPT_AGENT_MODEL）效果更好。",
                )
            raise empty_answer_error()
        if not is_english(text):
            raise BackendError(
                "The model did not answer in English, and CogVideoX reads English only.",
                "模型没有用英文回答，而 CogVideoX 只能读懂英文。",
            )
        return Suggestion(text=text, source="llm", warning=call.notice)

    def _fall_back(self, request: _Request, err: AgentError) -> Suggestion:
        """The user's own text, unchanged; with an empty box, an offline suggestion instead."""
        log.warning("prompt agent fell back: %s", err.en)
        zh = err.zh or err.en
        if request.text:
            return Suggestion(
                text=request.text,
                source="kept",
                warning=Text(f"{err.en} Your text was kept.", f"{zh}已保留你的原文。"),
            )
        suggestion = self._offline(request)
        return Suggestion(
            text=suggestion.text,
            source=suggestion.source,
            warning=Text(f"{err.en} An offline template was used instead.", f"{zh}已改用离线模板。"),
        )


@dataclass(frozen=True)
class _Call:
    kwargs: dict[str, Any]  # for ChatBackend.complete / .stream
    notice: Text | None  # to show even when the call succeeds


def _validate(text: Any, image: Any, mode: Any, style: Any) -> _Request:
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
    return _Request(text=text, image=image, mode=mode, style=(style or "").strip() or None)


def _instruction(request: _Request) -> str:
    """The user message's first line: what the user asked for, in their own words."""
    if request.mode == "t2v":
        return f"Idea: {request.text}" if request.text else "Invent one new video idea."
    no_picture = request.image is None
    if request.text:
        line = f"Instruction: {request.text}"
        if no_picture:
            line += "\n(No picture is attached: treat the instruction as the description of the picture.)"
        return line
    if request.mode == "old_photo":
        return "No extra instruction: bring the family photo gently to life."
    return "No instruction: bring the picture to life."


def _service_defaults(host: str) -> tuple[str | None, str | None | _SameAsText]:
    """Default (text model, vision model) for a known service host, else (None, same as text)."""
    hostname = urlsplit(f"//{host}").hostname or host
    for known, defaults in KNOWN_SERVICES.items():
        if hostname == known or hostname.endswith("." + known):
            return defaults
    return None, SAME_AS_TEXT


def _unexpected(err: Exception) -> BackendError:
    return BackendError(
        f"The prompt service gave an unexpected answer ({type(err).__name__}).",
        f"提示词服务的回答无法识别（{type(err).__name__}）。",
    )
