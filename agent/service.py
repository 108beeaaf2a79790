"""The service backend: a chat model behind an OpenAI-compatible Chat Completions endpoint (OpenAI,
Zhipu GLM, DeepSeek, Qwen, Ollama, vLLM...), through the `openai` client.

Every failure leaves this module as a `BackendError` whose en/zh message names the cause and the
setting to check. Retries are ours, not the client's: the client also retries timeouts and honours
Retry-After up to two minutes, so one click could hang for minutes; here one call (all tries and
waits together) never runs past `timeout` seconds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import openai
from PIL import Image

from bilingual import Text

from .backends import Answer, LanguageModel, Messages, Progress
from .errors import BackendError, empty_answer_error
from .images import to_data_url
from .instructions import Instructions

if TYPE_CHECKING:
    from .offline import TemplateBackend

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 2
# Backoff between tries on 429/5xx/connection errors: 0.5 s, 1 s, 2 s... (minus up to 25 %
# jitter), at most 4 s, unless the server's Retry-After asks for another wait.
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 4.0
# Local servers (Ollama, vLLM) take any key, but the client refuses to start without one.
PLACEHOLDER_API_KEY = "EMPTY"


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


class ServiceBackend(LanguageModel):
    """One endpoint; its text model (`model`, else the service's default, else the first model
    the server lists) and its vision model (`vision_model`, else the service's, else the text
    model; none for a service without one)."""

    name = "openai"

    def __init__(self, base_url: str, api_key: str | None, model: str | None, vision_model: str | None,
                 timeout: float, max_retries: int, *, instructions: Instructions, templates: TemplateBackend):
        super().__init__(instructions, templates)
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc or base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or PLACEHOLDER_API_KEY,
            timeout=timeout,
            max_retries=0,
        )
        self._lock = threading.Lock()  # one look-up of the served model at a time
        default_model, default_vision = _service_defaults(self.host)
        self._model = model or default_model
        self._vision: str | None | _SameAsText
        if vision_model:
            self._vision = vision_model
        elif model and default_model is None:
            self._vision = SAME_AS_TEXT
        else:
            self._vision = default_vision

    @property
    def label(self) -> Text:
        label = f"{self._model or 'auto'} @ {self.host}"
        return Text(label, label)

    def ready(self, progress: Progress | None) -> bool:
        self._text_model()
        return self._vision is not None

    def picture(self, image: Image.Image) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": to_data_url(image)}}

    def blind_notice(self) -> Text:
        return Text(
            "This service has no vision model, so the prompt was written without seeing the "
            "picture. Set PROMPT_AGENT_VISION_MODEL to use one.",
            "该服务没有视觉模型，提示词是在没有看到图片的情况下写的。设置 "
            "PROMPT_AGENT_VISION_MODEL 可以使用视觉模型。",
        )

    def _text_model(self) -> str:
        """The configured model, else (Ollama, vLLM) the first one the server lists."""
        if self._model:
            return self._model
        with self._lock:
            if not self._model:
                models = self.list_models()
                if not models:
                    raise BackendError(
                        f"No model is set for {self.host}, and the service did not list "
                        "its models. Set PROMPT_AGENT_MODEL (for Ollama: a name from `ollama list`).",
                        f"没有为 {self.host} 设置模型，服务也没有列出可用模型。请设置 "
                        "PROMPT_AGENT_MODEL（Ollama 用户：填写 `ollama list` 中的名称）。",
                    )
                self._model = models[0]
                log.info("prompt agent uses %s, the first model %s lists", models[0], self.host)
            return self._model

    def _model_for(self, has_image: bool) -> str:
        """The vision model for a message with a picture (`ready` said there is one), else the text model."""
        text_model = self._text_model()
        if not has_image or isinstance(self._vision, _SameAsText):
            return text_model
        return self._vision

    def list_models(self) -> list[str]:
        """Model ids the service serves (GET /models), for servers such as vLLM that serve one."""
        try:
            page = self._client.models.list(timeout=min(self.timeout, 10.0))
            return [item.id for item in page.data]
        except openai.OpenAIError as err:
            log.warning("listing models at %s failed: %s", self.base_url, err)
            return []

    def complete(self, messages: Messages, *, temperature: float, max_tokens: int, has_image: bool,
                 progress: Progress | None = None) -> Answer:
        """One non-streaming completion."""
        deadline = time.monotonic() + self.timeout
        completion = self._create(
            deadline,
            model=self._model_for(has_image),
            has_image=has_image,
            messages=messages,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        if not completion.choices:
            raise empty_answer_error()
        choice = completion.choices[0]
        if choice.finish_reason == "content_filter":
            raise _content_filtered()
        text = choice.message.content if choice.message else None
        if not text:
            raise empty_answer_error()
        return Answer(text=text, truncated=choice.finish_reason == "length")

    def complete_stream(self, messages: Messages, *, temperature: float, max_tokens: int, has_image: bool,
                        progress: Progress | None = None) -> Iterator[Answer]:
        """Cumulative text as it arrives; the last item has `finished=True`.

        A stream that stops before the service sends a finish reason was cut (the connection
        dropped, a proxy timed out): that raises `BackendError`, never a short "finished" answer.
        """
        deadline = time.monotonic() + self.timeout
        chunks = self._create(
            deadline,
            model=self._model_for(has_image),
            has_image=has_image,
            messages=messages,
            temperature=temperature,
            max_tokens=max_tokens,
            stream=True,
        )
        text = ""
        finish_reason = None
        with chunks:
            try:
                for chunk in chunks:
                    for choice in chunk.choices or ():
                        delta = choice.delta.content if choice.delta else None
                        if delta:
                            text += delta
                            yield Answer(text=text, finished=False)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
                    if time.monotonic() > deadline:
                        raise _timed_out(self.timeout)
            except openai.APITimeoutError as err:
                raise _timed_out(self.timeout) from err
            except openai.APIError as err:
                log.warning("stream from %s broke off: %s", self.base_url, err)
                raise _cut_off() from err
        if finish_reason is None:
            raise _cut_off()
        if finish_reason == "content_filter":
            raise _content_filtered()
        if not text:
            raise empty_answer_error()
        yield Answer(text=text, finished=True, truncated=finish_reason == "length")

    def _create(self, deadline: float, *, model: str, has_image: bool, **kwargs: Any) -> Any:
        """chat.completions.create with retries on 429, 5xx and connection errors, all within the
        deadline; any other failure is described right away."""
        tries = self.max_retries + 1
        tries_made = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timed_out(self.timeout)
            try:
                return self._client.chat.completions.create(model=model, timeout=remaining, **kwargs)
            except openai.APITimeoutError as err:
                raise _timed_out(self.timeout) from err
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as err:
                tries_made += 1
                described = self._describe(err, model=model, has_image=has_image, tries=tries_made)
                response = getattr(err, "response", None)
                wait = _retry_wait(tries_made - 1, response.headers if response is not None else None)
                if tries_made >= tries or time.monotonic() + wait >= deadline:
                    raise described from err
                log.info("%s; retrying in %.2f s (try %d of %d)", err, wait, tries_made + 1, tries)
                time.sleep(wait)
            except openai.OpenAIError as err:
                raise self._describe(err, model=model, has_image=has_image, tries=tries_made + 1) from err

    def _describe(
        self, err: openai.OpenAIError, *, model: str, has_image: bool, tries: int
    ) -> BackendError:
        """A user-facing message for a failed request: the cause, and the setting to check."""
        host = self.host
        if isinstance(err, openai.APIConnectionError):
            return BackendError(
                f"Could not reach the prompt service at {self.base_url}. Check OPENAI_BASE_URL and "
                "that the service is running.",
                f"无法连接提示词服务 {self.base_url}。请检查 OPENAI_BASE_URL，并确认服务正在运行。",
            )
        if not isinstance(err, openai.APIStatusError):
            return BackendError(
                f"The prompt service at {host} failed: {err}",
                f"提示词服务（{host}）出错：{err}",
            )
        status = err.status_code
        detail = _detail(err)
        model_var = "PROMPT_AGENT_VISION_MODEL" if has_image else "PROMPT_AGENT_MODEL"
        if status == 401:
            return BackendError(
                f"The prompt service at {host} rejected the API key (401). Check OPENAI_API_KEY.",
                f"提示词服务（{host}）拒绝了 API 密钥（401）。请检查 OPENAI_API_KEY。",
            )
        if status == 403:
            return BackendError(
                f"The prompt service at {host} refused access to model '{model}' (403). Check "
                f"that your key (OPENAI_API_KEY) may use it, or set {model_var}.",
                f"提示词服务（{host}）拒绝访问模型“{model}”（403）。请确认你的密钥（OPENAI_API_KEY）"
                f"可以使用该模型，或设置 {model_var}。",
            )
        if status == 404:
            return BackendError(
                f"The prompt service at {host} does not know model '{model}' (404). Set {model_var} "
                "to a model it serves, and check OPENAI_BASE_URL.",
                f"提示词服务（{host}）没有模型“{model}”（404）。请把 {model_var} 设为它提供的模型，"
                "并检查 OPENAI_BASE_URL。",
            )
        if status in (400, 413, 422) and has_image:
            return BackendError(
                f"Model '{model}' could not take the picture ({status}: {detail}). Set "
                "PROMPT_AGENT_VISION_MODEL to a vision model.",
                f"模型“{model}”无法读取图片（{status}：{detail}）。请把 PROMPT_AGENT_VISION_MODEL "
                "设为支持图片的视觉模型。",
            )
        if status in (400, 422):
            return BackendError(
                f"The prompt service rejected the request for model '{model}' ({status}: {detail}). "
                "Check PROMPT_AGENT_MODEL.",
                f"提示词服务拒绝了对模型“{model}”的请求（{status}：{detail}）。请检查 PROMPT_AGENT_MODEL。",
            )
        if status == 429:
            return BackendError(
                f"The prompt service at {host} is busy or your quota is used up (429, {tries} "
                f"{'try' if tries == 1 else 'tries'}). Wait a moment and try again.",
                f"提示词服务（{host}）繁忙或额度已用完（429，已尝试 {tries} 次）。请稍等后再试。",
            )
        if status >= 500:
            return BackendError(
                f"The prompt service at {host} had a server error ({status}, {tries} "
                f"{'try' if tries == 1 else 'tries'}). Try again later.",
                f"提示词服务（{host}）出现服务器错误（{status}，已尝试 {tries} 次）。请稍后再试。",
            )
        return BackendError(
            f"The prompt service at {host} answered with an error ({status}: {detail}).",
            f"提示词服务（{host}）返回错误（{status}：{detail}）。",
        )


def _retry_wait(retry: int, headers: Any) -> float:
    """Seconds to wait before retry number `retry` (0-based): the server's Retry-After, else
    exponential backoff."""
    if headers is not None:
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            value = headers.get(name)
            try:
                seconds = float(value) * scale if value is not None else None
            except ValueError:
                seconds = None
            if seconds is not None and seconds >= 0:
                return seconds
    backoff = min(BACKOFF_BASE_S * 2**retry, BACKOFF_MAX_S)
    return backoff * (1 - 0.25 * random.random())


def _detail(err: openai.APIStatusError) -> str:
    """The service's own error message, shortened for a notice."""
    body = err.body
    message = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("msg") or body.get("detail")
    elif isinstance(body, str):
        message = body
    text = " ".join(str(message or err.message).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _timed_out(timeout: float) -> BackendError:
    return BackendError(
        f"The prompt service did not answer within {timeout:g} s. Try again, or raise "
        "PROMPT_AGENT_TIMEOUT.",
        f"提示词服务在 {timeout:g} 秒内没有完成回答。请再试一次，或调大 PROMPT_AGENT_TIMEOUT。",
    )


def _cut_off() -> BackendError:
    return BackendError(
        "The prompt service's answer was cut off mid-way.",
        "提示词服务的回答中途断开了。",
    )


def _content_filtered() -> BackendError:
    return BackendError(
        "The prompt service's content filter blocked the answer. Rephrase your idea.",
        "提示词服务的内容审核拦截了回答。请换个说法。",
    )


def _service_defaults(host: str) -> tuple[str | None, str | None | _SameAsText]:
    """Default (text model, vision model) for a known service host, else (None, same as text)."""
    hostname = urlsplit(f"//{host}").hostname or host
    for known, defaults in KNOWN_SERVICES.items():
        if hostname == known or hostname.endswith("." + known):
            return defaults
    return None, SAME_AS_TEXT
