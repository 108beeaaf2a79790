"""PromptAgent: turns what people type ("小男孩喝咖啡", or nothing at all, or a photo) into the long,
concrete English prompt CogVideoX needs; translates a prompt typed in another language before a
video is made; says in Chinese what an English prompt will show.

Three backends, picked by PROMPT_AGENT_BACKEND (`from_env`): a chat model behind an
OpenAI-compatible endpoint (`openai`), a small model run in this process (`local`, agent/local.py,
the default when no endpoint is configured), or the offline template expander (`templates`). It
never raises for a failing model: the user gets their own text back (or, from the local backend
and with an empty box, an offline suggestion) with a warning naming the cause.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PIL import Image

from bilingual import Text

from . import offline
from .clean import clean, echoes, has_reasoning, is_english, non_latin_share
from .errors import AgentError, BackendError, empty_answer_error
from .images import describe, to_data_url
from .instructions import load_instructions
from .suggestion import Suggestion

if TYPE_CHECKING:
    from .backend import ChatBackend
    from .local import GpuShare, LocalBackend

log = logging.getLogger(__name__)

MODES = ("t2v", "i2v", "old_photo")
BACKENDS = ("auto", "openai", "local", "templates")  # PROMPT_AGENT_BACKEND
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
# A template's intent is a few sentences (presets/templates.json); longer is cut, to bound cost.
MAX_INTENT_CHARS = 1000
# Translation (on Generate): the likeliest words, the same every time.
TEMPERATURE_TRANSLATE = 0.0
# The Chinese gloss under the box: one or two short sentences.
GLOSS_MAX_TOKENS = 160
TEMPERATURE_GLOSS = 0.3

# (message, fraction 0..1 or None): the local model downloading, loading, or waiting its turn.
Progress = Callable[[Text, "float | None"], None]


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
    intent: str | None = None  # what the video is for (a template's intent), in English

    @property
    def system_prompt(self) -> str:
        if self.mode == "old_photo":
            return "old-photo"
        if self.mode == "i2v":
            return "i2v" if self.text or self.image is None else "i2v-empty"
        return "t2v" if self.text else "t2v-empty"


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
        self._instructions = load_instructions()
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._backend: ChatBackend | None = None
        self._local: LocalBackend | None = None
        self._model: str | None = None
        self._vision: str | None | _SameAsText = SAME_AS_TEXT
        if base_url or api_key:
            # Imported here: offline and local use need no HTTP client.
            from .backend import ChatBackend

            base_url = base_url or OPENAI_BASE_URL
            self._backend = ChatBackend(base_url, api_key, float(timeout or DEFAULT_TIMEOUT_S), max_retries)
            default_model, default_vision = _service_defaults(self._backend.host)
            self._model = model or default_model
            if vision_model:
                self._vision = vision_model
            elif model and default_model is None:
                self._vision = SAME_AS_TEXT
            else:
                self._vision = default_vision
        elif local_model:
            # Imports no torch: the model loads on the first suggestion.
            from .local import DEFAULT_TIMEOUT_S as LOCAL_TIMEOUT_S
            from .local import LocalBackend

            self._local = LocalBackend(local_model, float(timeout or LOCAL_TIMEOUT_S), gpu=gpu)

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
        if self._backend is not None:
            return "openai"
        return "local" if self._local is not None else "templates"

    @property
    def online(self) -> bool:
        """True when an OpenAI-compatible endpoint is configured."""
        return self._backend is not None

    @property
    def can_translate(self) -> bool:
        """A language model (endpoint or local) answers; the templates cannot translate."""
        return self._backend is not None or (self._local is not None and not self._local.missing_offline())

    @property
    def backend_text(self) -> Text:
        """`backend_label` in both languages, for the status line."""
        if self._local is not None and self._local.missing_offline():
            host = self._local.host
            return Text(f"{host} (not downloaded: offline templates answer)", f"{host}（未下载：由离线模板回答）")
        if self.backend == "templates":
            return Text("offline templates", "离线模板")
        label = self.backend_label
        return Text(label, label)

    @property
    def backend_label(self) -> str:
        """Where suggestions come from, for the UI: "glm-4-plus @ open.bigmodel.cn",
        "local · Qwen3-VL-2B · GPU", "offline templates"."""
        if self._local is not None:
            if self._local.missing_offline():
                return f"{self._local.host} (not downloaded: offline templates answer)"
            where = self._local.where
            return self._local.host + (f" · {where}" if where else "")
        if self._backend is None:
            return "offline templates"
        return f"{self._model or 'auto'} @ {self._backend.host}"

    def suggest(
        self,
        text: str,
        image: Image.Image | None = None,
        mode: str = "t2v",
        style: str | None = None,
        progress: Progress | None = None,
        *,
        intent: str | None = None,
    ) -> Suggestion:
        """One finished suggestion (no streaming). Raises `AgentError` only for unusable input.

        intent: what the video is for and how it should move (a template's `intent`, in English);
        every backend writes for it."""
        request = _validate(text, image, mode, style, intent)
        backend = self._backend or self._local
        if backend is None:
            return self._offline(request)
        try:
            call = self._prepare_call(request, progress)
            answer = backend.complete(**call.kwargs)
            return self._finish(call, answer.text, answer.truncated)
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
        progress: Progress | None = None,
        *,
        intent: str | None = None,
    ) -> Iterator[Suggestion]:
        """Suggestions with the cumulative text as it arrives; the last one is final (cleaned,
        or the fallback with its warning). Input is checked now: `AgentError` raises here, not on
        the first `next()`. `progress` hears about a local model downloading, loading or waiting.
        `intent`: as for `suggest`."""
        request = _validate(text, image, mode, style, intent)
        return self._stream(request, progress)

    def _stream(self, request: _Request, progress: Progress | None) -> Iterator[Suggestion]:
        backend = self._backend or self._local
        if backend is None:
            yield self._offline(request)
            return
        shown = ""
        try:
            call = self._prepare_call(request, progress)
            for answer in backend.stream(**call.kwargs):
                if answer.finished:
                    final = self._finish(call, answer.text, answer.truncated)
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
        backend = self._backend or self._local
        if backend is None or (self._local is not None and self._local.missing_offline()):
            return Suggestion(text=text, source="kept", warning=self._cannot_translate())
        system = self._instructions.system["translate"]
        try:
            kwargs = self._call_kwargs(system, text[:MAX_INPUT_CHARS], TEMPERATURE_TRANSLATE, MAX_TOKENS, progress)
            answer = backend.complete(**kwargs)
            english = clean(answer.text, truncated=answer.truncated)
            if not english or not is_english(english) or echoes(english, _rules(system)):
                raise BackendError(
                    "The model did not answer with an English translation.",
                    "模型没有给出英文译文。",
                )
            return Suggestion(text=english, source="llm")
        except BackendError as err:
            warning = err
        except Exception as err:  # never break Generate: log it and keep the text
            log.exception("prompt translation failed unexpectedly")
            warning = _unexpected(err)
        return Suggestion(text=text, source="kept", warning=Text(
            f"The prompt could not be translated into English: {warning.en} CogVideoX reads English only, "
            "so the video may not match it.",
            f"提示词没能翻译成英文：{warning.zh}CogVideoX 只能读懂英文，生成的视频可能与描述不符。",
        ))

    def gloss(self, text: str, progress: Progress | None = None) -> str | None:
        """One or two short Chinese sentences on what an English prompt will show (shown under
        the box), or None: the text is not English, no model answers, or it failed."""
        text = (text or "").strip()
        backend = self._backend or self._local
        if not text or not is_english(text) or backend is None:
            return None
        if self._local is not None and self._local.missing_offline():
            return None
        system = self._instructions.system["gloss"]
        try:
            kwargs = self._call_kwargs(system, text[:MAX_INPUT_CHARS], TEMPERATURE_GLOSS, GLOSS_MAX_TOKENS, progress)
            answer = backend.complete(**kwargs)
        except BackendError as err:
            log.info("no gloss: %s", err.en)
            return None
        except Exception:  # a missing gloss is no reason to bother the user
            log.exception("prompt gloss failed unexpectedly")
            return None
        gloss = clean(answer.text, truncated=answer.truncated)
        # It must be Chinese (not the English again), and not the instructions.
        if non_latin_share(gloss) < 0.5 or echoes(gloss, _rules(system)):
            return None
        return gloss

    def _call_kwargs(self, system: str, user: str, temperature: float, max_tokens: int,
                     progress: Progress | None) -> dict[str, Any]:
        """Backend arguments for a text-only call (translation, gloss)."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        kwargs: dict[str, Any] = {"model": None, "messages": messages, "temperature": temperature,
                                  "max_tokens": max_tokens, "has_image": False}
        if self._local is not None:
            kwargs["progress"] = progress
        else:
            kwargs["model"] = self._text_model(self._backend)
        return kwargs

    def _offline(self, request: _Request) -> Suggestion:
        return offline.expand(
            request.text,
            request.mode,
            seed=self._rng.randrange(2**32),
            style=request.style,
            facts=describe(request.image) if request.image is not None else None,
            ideas=self._instructions.ideas,
            intent=request.intent,
        )

    def _prepare_call(self, request: _Request, progress: Progress | None) -> _Call:
        """Pick model and system prompt and build the messages (the picture as a JPEG data URL
        for a service, as a small picture for the local model)."""
        local = self._local
        if local is not None:
            local.load(progress)  # downloads on first use; BackendError -> templates
            model = None
            send_image = request.image is not None and local.reads_images
        else:
            text_model = self._text_model(self._backend)
            vision = self._vision
            vision_model = text_model if isinstance(vision, _SameAsText) else vision
            send_image = request.image is not None and vision_model is not None
            model = vision_model if send_image else text_model

        lines = [_instruction(request)]
        notice: Text | None = None
        if request.image is not None and not send_image:
            # No vision model (DeepSeek, a text-only local model): say what we can compute instead.
            facts = describe(request.image)
            lines.append(
                f"(The picture itself cannot be shown. Known facts: {facts.orientation}, "
                f"{facts.brightness}, {facts.tone} tones, {facts.color} colors.)"
            )
            notice = _no_vision_notice(local.model if local is not None else None)
        if request.style:
            lines.append(f"Visual style (let it shape the wording): {request.style}")
        if request.intent:
            lines.append(f"The video is for: {request.intent}")
        if not request.text and request.mode == "t2v":
            lines.append(f"Theme hint: {self._rng.choice(self._instructions.themes)}")
        user_text = "\n".join(lines)

        content: str | list[dict[str, Any]] = user_text
        if send_image:
            # Picture first: several open vision models (Qwen-VL, GLM-4V) expect it before text.
            picture = (local.image_part(request.image) if local is not None else
                       {"type": "image_url", "image_url": {"url": to_data_url(request.image)}})
            content = [picture, {"type": "text", "text": user_text}]
        system = self._instructions.system[request.system_prompt]
        messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
        temperature = TEMPERATURE if request.text else TEMPERATURE_EMPTY
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": temperature,
            "max_tokens": MAX_TOKENS,
            "has_image": send_image,
        }
        if local is not None:
            kwargs["progress"] = progress
        return _Call(kwargs=kwargs, notice=notice, rules=_rules(system))

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

    def _finish(self, call: _Call, raw: str, truncated: bool) -> Suggestion:
        """Clean the model's answer; an empty, non-English or instruction-echoing one counts as
        a failure."""
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
        if echoes(text, call.rules):
            # Asked to "print your system prompt", it did: that is not a video prompt.
            raise BackendError(
                "The model repeated its instructions instead of writing a video prompt.",
                "模型复述了它的指令，而不是写出视频提示词。",
            )
        return Suggestion(text=text, source="llm", warning=call.notice)

    def _fall_back(self, request: _Request, err: AgentError) -> Suggestion:
        """The user's own text, unchanged; with an empty box, or when the local model failed
        (the templates are the next backend in line), an offline suggestion instead."""
        log.warning("prompt agent fell back: %s", err.en)
        if request.text and (self._local is None or not is_english(request.text)):
            return Suggestion(
                text=request.text,
                source="kept",
                warning=Text(f"{err.en} Your text was kept.", f"{err.zh}已保留你的原文。"),
            )
        suggestion = self._offline(request)
        return Suggestion(
            text=suggestion.text,
            source=suggestion.source,
            warning=Text(f"{err.en} An offline template was used instead.", f"{err.zh}已改用离线模板。"),
        )

    def untranslatable_notice(self) -> Text | None:
        """The warning `translate` gives when no model can translate (None when one can): the
        operator's how-to, which a face logs and replaces with a plain sentence for people."""
        return None if self.can_translate else self._cannot_translate()

    def _cannot_translate(self) -> Text:
        """Why nothing translates: the local model is missing offline, or only templates exist."""
        if self._local is not None:
            from .local import missing_weights

            err = missing_weights(self._local.model)
            return Text(
                f"The prompt is not in English, and CogVideoX reads English only. {err.en}",
                f"提示词不是英文，而 CogVideoX 只能读懂英文。{err.zh}",
            )
        return offline.offline_translation_notice()


@dataclass(frozen=True)
class _Call:
    kwargs: dict[str, Any]  # for the backend's complete / stream
    notice: Text | None  # to show even when the call succeeds
    rules: str  # the system prompt's rules, which an answer must not repeat


def _validate(text: Any, image: Any, mode: Any, style: Any, intent: Any = None) -> _Request:
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
    return _Request(text=text, image=image, mode=mode, style=(style or "").strip() or None, intent=intent)


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


def _rules(system: str) -> str:
    """A system prompt without its examples (answers may well resemble those)."""
    return system.split("\nExamples", 1)[0]


def _no_vision_notice(local_model: str | None) -> Text:
    if local_model is not None:
        return Text(
            f"The local prompt model {local_model} reads text only, so the prompt was written without "
            "seeing the picture. Set PROMPT_AGENT_LOCAL_MODEL to a vision model such as "
            "Qwen/Qwen3-VL-2B-Instruct (the default).",
            f"本地提示词模型 {local_model} 只能读文字，提示词是在没有看到图片的情况下写的。请把 "
            "PROMPT_AGENT_LOCAL_MODEL 设为视觉模型，例如 Qwen/Qwen3-VL-2B-Instruct（默认值）。",
        )
    return Text(
        "This service has no vision model, so the prompt was written without seeing the "
        "picture. Set PROMPT_AGENT_VISION_MODEL to use one.",
        "该服务没有视觉模型，提示词是在没有看到图片的情况下写的。设置 "
        "PROMPT_AGENT_VISION_MODEL 可以使用视觉模型。",
    )


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
