"""The functions behind the buttons: call the studio or the agent, turn our errors into UI messages.

Public methods here are the named API: their parameter names are what `gradio_client` callers pass.
"""

from __future__ import annotations

import functools
import html
import logging
import threading
from pathlib import Path
from typing import Iterator

import gradio as gr

from agent import AgentError, PromptAgent
from cogvideo import Studio, StudioError, VideoRequest
from cogvideo.errors import Cancelled, WeightsMissing

from .i18n import pick, request_lang

log = logging.getLogger("cogvideo.app")


def _escape(message: str) -> str:
    # Toasts may render HTML; our messages quote user values, which must show as text.
    return html.escape(message, quote=False)


class Handlers:
    def __init__(self, studio: Studio, agent: PromptAgent, forced_lang: str | None = None):
        self.studio = studio
        self.agent = agent
        self.forced_lang = forced_lang
        self._cancel_events: dict[str, threading.Event] = {}
        self._cancel_lock = threading.Lock()

    # ------------------------------------------------------------ plumbing

    def lang(self, request: gr.Request | None) -> str:
        return request_lang(request, self.forced_lang)

    def _error(self, exc: Exception, lang: str) -> gr.Error:
        if isinstance(exc, (StudioError, AgentError)):
            return gr.Error(_escape(pick(exc.en, exc.zh or exc.en, lang)), print_exception=False)
        log.exception("unexpected failure")
        return gr.Error(
            pick(
                f"Something went wrong on the server ({type(exc).__name__}). The details are in the "
                "server log; please try again or report it.",
                f"服务器出错了（{type(exc).__name__}）。详细信息已写入服务器日志，请重试或反馈问题。",
                lang,
            ),
            print_exception=False,
        )

    def _warn(self, en: str, zh: str, lang: str) -> None:
        gr.Warning(_escape(pick(en, zh, lang)))

    def _progress_callback(self, progress: gr.Progress | None, lang: str):
        def report(event) -> None:
            if progress is not None:
                progress(event.fraction, desc=pick(event.en, event.zh, lang))

        return report

    @staticmethod
    def _job_key(request: gr.Request | None, mode: str) -> str | None:
        """One cancel flag per browser session and tab: Cancel on one tab never stops another's job."""
        session = getattr(request, "session_hash", None)
        return f"{session}:{mode}" if session else None

    def _begin_job(self, request: gr.Request | None, mode: str) -> tuple[str, threading.Event]:
        key = self._job_key(request, mode) or str(id(threading.current_thread()))
        event = threading.Event()
        with self._cancel_lock:
            self._cancel_events[key] = event
        return key, event

    def _end_job(self, key: str, event: threading.Event) -> None:
        with self._cancel_lock:
            if self._cancel_events.get(key) is event:
                del self._cancel_events[key]

    def _run(self, req: VideoRequest, request: gr.Request | None, progress: gr.Progress | None):
        lang = self.lang(request)
        key, cancel = self._begin_job(request, req.mode)
        try:
            result = self.studio.generate(req, progress=self._progress_callback(progress, lang), cancel=cancel)
        except Cancelled:
            self._warn("Generation cancelled.", "已取消生成。", lang)
            return None
        except Exception as exc:  # every failure becomes a message; the server keeps serving
            raise self._error(exc, lang) from None
        finally:
            self._end_job(key, cancel)
        for notice in result.notices:
            self._warn(notice.en, notice.zh, lang)
        return result

    def _generate(self, mode: str, request: gr.Request | None, progress: gr.Progress | None, **values):
        """Build the studio request from an endpoint's values (Gradio sends numbers as floats)."""
        upload, track = values.pop("music_file"), values.pop("music")
        req = VideoRequest(
            mode=mode,
            music=upload or track,
            prompt=values.pop("prompt") or "",
            negative_prompt=values.pop("negative_prompt") or "",
            style=values.pop("style") or "none",
            seed=_int(values.pop("seed")),
            num_inference_steps=_int(values.pop("num_inference_steps")),
            num_frames=_int(values.pop("num_frames")),
            upscale=bool(values.pop("upscale")),
            interpolate=bool(values.pop("interpolate")),
            colorize=bool(values.pop("colorize", True)),
            **values,
        )
        return self._run(req, request, progress)

    # ------------------------------------------------------------ generation endpoints

    def text_to_video(
        self,
        prompt: str,
        negative_prompt: str = "",
        seed: int = -1,
        num_inference_steps: int = 50,
        guidance_scale: float = 6.0,
        num_frames: int | None = None,
        style: str = "none",
        music: str = "none",
        music_volume: float = 0.8,
        upscale: bool = False,
        interpolate: bool = False,
        music_file: str | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        result = self._generate(
            "t2v", request, progress, prompt=prompt, negative_prompt=negative_prompt, seed=seed,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, num_frames=num_frames,
            style=style, music=music, music_volume=music_volume, upscale=upscale, interpolate=interpolate,
            music_file=music_file,
        )
        return (gr.skip(), gr.skip()) if result is None else (str(result.path), result.info())

    def image_to_video(
        self,
        image: str | None,
        prompt: str,
        negative_prompt: str = "",
        seed: int = -1,
        num_inference_steps: int = 50,
        guidance_scale: float = 6.0,
        num_frames: int | None = None,
        style: str = "none",
        music: str = "none",
        music_volume: float = 0.8,
        upscale: bool = False,
        interpolate: bool = False,
        music_file: str | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        result = self._generate(
            "i2v", request, progress, image=image, prompt=prompt, negative_prompt=negative_prompt,
            seed=seed, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
            num_frames=num_frames, style=style, music=music, music_volume=music_volume, upscale=upscale,
            interpolate=interpolate, music_file=music_file,
        )
        return (gr.skip(), gr.skip()) if result is None else (str(result.path), result.info())

    def old_photo(
        self,
        image: str | None,
        prompt: str = "",
        colorize: bool = True,
        seed: int = -1,
        num_inference_steps: int = 50,
        guidance_scale: float = 6.0,
        num_frames: int | None = None,
        style: str = "none",
        music: str = "nostalgic",
        music_volume: float = 0.8,
        upscale: bool = False,
        interpolate: bool = False,
        negative_prompt: str = "",
        music_file: str | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        result = self._generate(
            "old_photo", request, progress, image=image, prompt=prompt, colorize=colorize, seed=seed,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, num_frames=num_frames,
            style=style, music=music, music_volume=music_volume, upscale=upscale, interpolate=interpolate,
            negative_prompt=negative_prompt, music_file=music_file,
        )
        if result is None:
            return gr.skip(), gr.skip(), gr.skip()
        still = str(result.colorized_image) if result.colorized_image else gr.skip()
        return str(result.path), still, result.info()

    def colorize_preview(self, image: str | None, colorize: bool = True, request: gr.Request = None):
        """The colorized still, shown within seconds before the video renders (UI only)."""
        lang = self.lang(request)
        if not image:
            raise gr.Error(pick("Upload an old photo first.", "请先上传一张老照片。", lang))
        try:
            if not colorize:
                from cogvideo.media import load_image

                return load_image(image)
            still, notice = self.studio.colorize_photo(image)
        except WeightsMissing as exc:
            hint = WeightsMissing(
                exc.en + " Or untick “Colorize” to animate the photo as it is.",
                (exc.zh or exc.en) + " 或取消勾选“先为黑白照片上色”，直接让原照片动起来。",
            )
            raise self._error(hint, lang) from None
        except Exception as exc:
            raise self._error(exc, lang) from None
        if notice:
            gr.Info(pick(notice.en, notice.zh, lang))
        return still

    def change_music(
        self,
        video: str | None,
        music: str = "none",
        volume: float = 0.8,
        music_file: str | None = None,
        request: gr.Request = None,
    ):
        lang = self.lang(request)
        if not video:
            raise gr.Error(pick("Generate a video first, then change its music.", "请先生成视频，再更换配乐。", lang))
        try:
            return str(self.studio.change_music(video, music_file or music, volume))
        except Exception as exc:
            raise self._error(exc, lang) from None

    def cancel(self, mode: str = "t2v", request: gr.Request = None) -> None:
        """Stop this session's job on the tab of `mode` at its next step (or stage)."""
        key = self._job_key(request, mode)
        with self._cancel_lock:
            event = self._cancel_events.get(key) if key else None
        if event is not None:
            event.set()
            gr.Info(pick("Stopping…", "正在停止……", self.lang(request)))

    # ------------------------------------------------------------ prompt agent

    def suggest_prompt(
        self, prompt: str = "", image: str | None = None, mode: str = "t2v", style: str = "none",
        request: gr.Request = None,
    ) -> str:
        """One finished suggestion (the API); the buttons stream with `suggest_stream`."""
        text = prompt or ""
        for text in self.suggest_stream(prompt, image, mode, style, request):
            pass
        return text

    def suggest_stream(
        self, prompt: str, image: str | None, mode: str, style: str | None, request: gr.Request = None,
    ) -> Iterator[str]:
        lang = self.lang(request)
        original = prompt or ""
        try:
            picture = _load_picture(image)
            style_name = None
            if style and style != "none":
                from cogvideo.styles import get_style

                style_name = get_style(style, self.studio.styles).name_en
            suggestions = self.agent.stream(original, picture, mode, style_name)
        except Exception as exc:
            raise self._error(exc, lang) from None
        last = None
        for last in suggestions:
            yield last.text
        if last is not None and last.source == "kept":
            yield original  # the user's text is never wiped
        if last is not None and last.warning_en:
            self._warn(last.warning_en, last.warning_zh or last.warning_en, lang)

    # ------------------------------------------------------------ cheap UI helpers

    def prompt_note(self, prompt: str, style: str = "none", task: str = "t2v", request: gr.Request = None) -> str:
        lang = self.lang(request)
        prompt = prompt or ""
        try:
            report = self.studio.prompt_report(prompt, style or "none", task)
        except StudioError:
            report = None
        chars = pick(f"{len(prompt)} characters", f"{len(prompt)} 字", lang)
        if report is None or report.tokens is None:
            return chars
        if report.over:
            return chars + " · " + pick(
                f"⚠️ {report.tokens}/{report.limit} tokens — the model reads only the first {report.limit}; the rest will be cut.",
                f"⚠️ {report.tokens}/{report.limit} token——模型只读取前 {report.limit} 个，超出部分将被截断。",
                lang,
            )
        return chars + " · " + pick(f"{report.tokens}/{report.limit} tokens", f"{report.tokens}/{report.limit} token", lang)

    def status_line(self, request: gr.Request = None) -> str:
        lang = self.lang(request)
        s = self.studio.engine.status()
        vram = "—" if s.free_vram_gib is None else f"{s.free_vram_gib} GiB"
        loaded = ", ".join(s.loaded) or pick("not yet (loads on the first video)", "尚未加载（首次生成时加载）", lang)
        agent = self.agent.backend_label
        return pick(
            f"**Model** {s.model} · **device** {s.device} · **dtype** {s.dtype} · **offload** {s.offload} · "
            f"**free VRAM** {vram} · **loaded** {loaded} · **prompt agent** {agent}",
            f"**模型** {s.model} · **设备** {s.device} · **精度** {s.dtype} · **显存策略** {s.offload} · "
            f"**可用显存** {vram} · **已加载** {loaded} · **提示词助手** {agent}",
            lang,
        )


def _int(value) -> int:
    """Gradio numbers arrive as floats; keep bad values as they are for the studio to name."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _load_picture(image: str | None):
    if not image:
        return None
    from cogvideo.media import load_image

    return load_image(Path(image))


def gpu_task(fn, duration: int = 240):
    """Wrap a GPU function with ZeroGPU's `spaces.GPU` on Hugging Face Spaces; a no-op elsewhere."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return functools.wraps(fn)(spaces.GPU(duration=duration)(fn))
