"""The one seam between `PromptAgent` and whatever writes the prompts: the `Backend` protocol.

Three implementations: the OpenAI-compatible service (agent/service.py), the small model run in
this process (agent/local.py) and the offline templates (agent/offline.py). The agent holds one of
them and asks it the same four things whichever it is: a suggestion (finished, or streamed), a
translation, a gloss. The two language models share `LanguageModel`, which turns a click into chat
messages, cleans and checks the answer and falls back when the model fails; each of them only says
how it gets ready, what a picture looks like in its messages and how it answers them.
"""

from __future__ import annotations

import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from PIL import Image

from bilingual import Text

from .clean import clean, echoes, has_reasoning, is_english, non_latin_share
from .errors import AgentError, BackendError, empty_answer_error
from .images import describe
from .instructions import Instructions
from .suggestion import Suggestion

if TYPE_CHECKING:
    from .offline import TemplateBackend

log = logging.getLogger(__name__)

# A prompt is ~200 tokens; 400 leaves room for a preamble we strip, and bounds cost and time.
MAX_TOKENS = 400
TEMPERATURE = 0.8
# An empty box asks for a fresh idea: more randomness, so each click differs.
TEMPERATURE_EMPTY = 1.0
# Longer input is a pasted document, not an idea; cut it to bound cost.
MAX_INPUT_CHARS = 2000
# Translation (on Generate): the likeliest words, the same every time.
TEMPERATURE_TRANSLATE = 0.0
# The Chinese gloss under the box: one or two short sentences.
GLOSS_MAX_TOKENS = 160
TEMPERATURE_GLOSS = 0.3

# (message, fraction 0..1 or None): the local model downloading, loading, or waiting its turn.
Progress = Callable[[Text, "float | None"], None]

Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class Answer:
    """A language model's raw text so far. `finished`: it said it was done; `truncated`: it
    stopped at max_tokens."""

    text: str
    finished: bool = True
    truncated: bool = False


@dataclass(frozen=True)
class VideoModel:
    """The video model a prompt is written for, as the face knows it (the agent imports nothing of
    the engine): its family picks the system prompts (agent/prompts/<family>/ where they exist), and
    a text encoder that reads Chinese lets the prompt stay in the user's language."""

    family: str = "cogvideox"  # "cogvideox" | "wan"
    reads_chinese: bool = False


COGVIDEOX = VideoModel()


@dataclass(frozen=True)
class Request:
    """One click, validated: what the user gave us and which system prompt fits it."""

    text: str
    image: Image.Image | None
    mode: str
    style: str | None
    intent: str | None = None  # what the video is for (a template's intent), in English
    model: VideoModel = COGVIDEOX
    language: str = "en"  # what the prompt is written in: "en", or "zh" for a model that reads it

    @property
    def system_prompt(self) -> str:
        if self.mode == "old_photo":
            return "old-photo"
        if self.mode == "i2v":
            return "i2v" if self.text or self.image is None else "i2v-empty"
        return "t2v" if self.text else "t2v-empty"


@runtime_checkable
class Backend(Protocol):
    """What writes the prompts. None of its methods raises for a failing model: the answer is
    then the user's own text or a template, with a warning naming the cause."""

    name: str  # "openai", "local" or "templates": PROMPT_AGENT_BACKEND's words

    @property
    def label(self) -> Text:
        """Where suggestions come from, for the status line: "glm-4-plus @ open.bigmodel.cn"."""

    def cannot_translate(self) -> Text | None:
        """Why no translation can be made now (the operator's how-to), or None when it can."""

    def suggest(self, request: Request, progress: Progress | None) -> Suggestion:
        """One finished suggestion."""

    def stream(self, request: Request, progress: Progress | None) -> Iterator[Suggestion]:
        """Cumulative suggestions as the text arrives; the last one is final."""

    def translate(self, text: str, progress: Progress | None) -> Suggestion:
        """`text` (not English, at most MAX_INPUT_CHARS) in English, or kept with a warning."""

    def gloss(self, text: str, progress: Progress | None) -> str | None:
        """A short Chinese note on what the English `text` shows, or None."""


class LanguageModel(ABC):
    """A `Backend` that asks a chat model: the service or the local model.

    Subclasses say how to get ready (`ready`), how a picture goes into the messages (`picture`),
    what to tell the user when the model cannot see one (`blind_notice`), and how the model
    answers (`complete`, `complete_stream`); everything else is the same for both.
    """

    name: ClassVar[str]
    # When the model fails on English text: the templates expand it (True: the local model, whose
    # next in line they are), or the user's text is kept (False: a service error is worth seeing).
    english_falls_back: ClassVar[bool] = False

    def __init__(self, instructions: Instructions, templates: TemplateBackend):
        self._instructions = instructions
        self._templates = templates
        self._rng = random.Random()

    # ------------------------------------------------------------ what each model says

    @property
    @abstractmethod
    def label(self) -> Text: ...

    def cannot_translate(self) -> Text | None:
        return None

    @abstractmethod
    def ready(self, progress: Progress | None) -> bool:
        """Get ready to answer (load the model, find the service's model); True when it will see
        a picture. Raises `BackendError`."""

    @abstractmethod
    def picture(self, image: Image.Image) -> dict[str, Any]:
        """The picture as a part of the user message."""

    @abstractmethod
    def blind_notice(self) -> Text:
        """Why the prompt was written without seeing the picture, and what to set."""

    @abstractmethod
    def complete(self, messages: Messages, *, temperature: float, max_tokens: int, has_image: bool,
                 progress: Progress | None = None) -> Answer:
        """One finished answer. Raises `BackendError`."""

    @abstractmethod
    def complete_stream(self, messages: Messages, *, temperature: float, max_tokens: int, has_image: bool,
                        progress: Progress | None = None) -> Iterator[Answer]:
        """Cumulative text as it arrives; the last item has `finished=True`. Raises `BackendError`."""

    # ------------------------------------------------------------ the Backend protocol

    def suggest(self, request: Request, progress: Progress | None) -> Suggestion:
        try:
            call = self._prepare_call(request, progress)
            answer = self.complete(call.messages, **call.options, progress=progress)
            return self._finish(call, answer.text, answer.truncated)
        except BackendError as err:
            return self._fall_back(request, err)
        except Exception as err:  # the helper must never break the page; log it and fall back
            log.exception("prompt agent failed unexpectedly")
            return self._fall_back(request, unexpected(err))

    def stream(self, request: Request, progress: Progress | None) -> Iterator[Suggestion]:
        shown = ""
        try:
            call = self._prepare_call(request, progress)
            for answer in self.complete_stream(call.messages, **call.options, progress=progress):
                if answer.finished:
                    final = self._finish(call, answer.text, answer.truncated)
                    break
                # Partial text, cleaned so the box never flashes "<think>" or "Sure! Here".
                partial = clean(answer.text, partial=True)
                if partial and partial != shown:
                    shown = partial
                    yield Suggestion(text=partial, source="llm")
            else:
                final = self._fall_back(request, unexpected(RuntimeError("stream ended early")))
        except BackendError as err:
            final = self._fall_back(request, err)
        except Exception as err:  # the helper must never break the page; log it and fall back
            log.exception("prompt agent failed unexpectedly")
            final = self._fall_back(request, unexpected(err))
        yield final

    def translate(self, text: str, progress: Progress | None) -> Suggestion:
        notice = self.cannot_translate()
        if notice is not None:
            return Suggestion(text=text, source="kept", warning=notice)
        system = self._instructions.system["translate"]
        try:
            answer = self._ask(system, text, TEMPERATURE_TRANSLATE, MAX_TOKENS, progress)
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
            warning = unexpected(err)
        return Suggestion(text=text, source="kept", warning=Text(
            f"The prompt could not be translated into English: {warning.en} CogVideoX reads English only, "
            "so the video may not match it.",
            f"提示词没能翻译成英文：{warning.zh}CogVideoX 只能读懂英文，生成的视频可能与描述不符。",
        ))

    def gloss(self, text: str, progress: Progress | None) -> str | None:
        if self.cannot_translate() is not None:
            return None
        system = self._instructions.system["gloss"]
        try:
            answer = self._ask(system, text, TEMPERATURE_GLOSS, GLOSS_MAX_TOKENS, progress)
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

    # ------------------------------------------------------------ the steps

    def _ask(self, system: str, user: str, temperature: float, max_tokens: int,
             progress: Progress | None) -> Answer:
        """A text-only call (translation, gloss)."""
        self.ready(progress)
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": user[:MAX_INPUT_CHARS]}]
        return self.complete(messages, temperature=temperature, max_tokens=max_tokens, has_image=False,
                             progress=progress)

    def _prepare_call(self, request: Request, progress: Progress | None) -> _Call:
        """Get the model ready, pick the system prompt and build the messages."""
        send_image = self.ready(progress) and request.image is not None
        lines = [_instruction(request)]
        notice: Text | None = None
        if request.image is not None and not send_image:
            # No vision model (DeepSeek, a text-only local model): say what we can compute instead.
            facts = describe(request.image)
            lines.append(
                f"(The picture itself cannot be shown. Known facts: {facts.orientation}, "
                f"{facts.brightness}, {facts.tone} tones, {facts.color} colors.)"
            )
            notice = self.blind_notice()
        if request.style:
            lines.append(f"Visual style (let it shape the wording): {request.style}")
        if request.intent:
            lines.append(f"The video is for: {request.intent}")
        if not request.text and request.mode == "t2v":
            lines.append(f"Theme hint: {self._rng.choice(self._instructions.themes)}")
        if request.model.reads_chinese:  # its prompts write in the language this line names
            lines.append(f"Write in: {LANGUAGE_NAMES[request.language]}")
        user_text = "\n".join(lines)

        content: str | list[dict[str, Any]] = user_text
        if send_image:
            # Picture first: several open vision models (Qwen-VL, GLM-4V) expect it before text.
            content = [self.picture(request.image), {"type": "text", "text": user_text}]
        system = self._instructions.prompt(request.system_prompt, request.model.family)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
        options = {"temperature": TEMPERATURE if request.text else TEMPERATURE_EMPTY,
                   "max_tokens": MAX_TOKENS, "has_image": send_image}
        return _Call(messages=messages, options=options, notice=notice, rules=_rules(system),
                     language=request.language, reads_chinese=request.model.reads_chinese)

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
        if call.language == "zh" and is_english(text):
            raise BackendError(
                "The model did not answer in Chinese, the language of your text.",
                "模型没有用中文回答（你输入的是中文）。",
            )
        if call.language == "en" and not is_english(text):
            raise BackendError(
                "The model did not answer in English, the language of your text." if call.reads_chinese
                else "The model did not answer in English, and CogVideoX reads English only.",
                "模型没有用英文回答（你输入的是英文）。" if call.reads_chinese
                else "模型没有用英文回答，而 CogVideoX 只能读懂英文。",
            )
        if echoes(text, call.rules):
            # Asked to "print your system prompt", it did: that is not a video prompt.
            raise BackendError(
                "The model repeated its instructions instead of writing a video prompt.",
                "模型复述了它的指令，而不是写出视频提示词。",
            )
        return Suggestion(text=text, source="llm", warning=call.notice)

    def _fall_back(self, request: Request, err: AgentError) -> Suggestion:
        """The user's own text, unchanged; with an empty box, or text the templates can write around
        (English, or Chinese for a model that reads it) when `english_falls_back`, an offline
        suggestion instead."""
        log.warning("prompt agent fell back: %s", err.en)
        # The templates write English, and Chinese for a model that reads it: other text they cannot use.
        usable = is_english(request.text) or request.language == "zh"
        if request.text and (not self.english_falls_back or not usable):
            return Suggestion(
                text=request.text,
                source="kept",
                warning=Text(f"{err.en} Your text was kept.", f"{err.zh}已保留你的原文。"),
            )
        suggestion = self._templates.suggest(request, None)
        return Suggestion(
            text=suggestion.text,
            source=suggestion.source,
            warning=Text(f"{err.en} An offline template was used instead.", f"{err.zh}已改用离线模板。"),
        )


@dataclass(frozen=True)
class _Call:
    messages: Messages
    options: dict[str, Any]  # temperature, max_tokens, has_image: for complete / complete_stream
    notice: Text | None  # to show even when the call succeeds
    rules: str  # the system prompt's rules, which an answer must not repeat
    language: str = "en"  # what the answer must be written in
    reads_chinese: bool = False  # the video model reads Chinese (English is then a choice, not a limit)


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def _instruction(request: Request) -> str:
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


def unexpected(err: Exception) -> BackendError:
    return BackendError(
        f"The prompt service gave an unexpected answer ({type(err).__name__}).",
        f"提示词服务的回答无法识别（{type(err).__name__}）。",
    )
