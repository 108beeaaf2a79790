"""The functions behind the buttons: call the studio or the agent, turn our errors into UI messages.

Public methods here are the named API: their parameter names are what `gradio_client` callers pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import time
from pathlib import Path
from typing import Iterator

import gradio as gr

from agent import PromptAgent, VideoModel
from agent.agent import writing_language
from agent.clean import is_english
from bilingual import BilingualError, Text, pick
from cogvideo import SpeedPreset, Studio, StudioError, VideoRequest
from cogvideo.media.gif import DEFAULT_GIF_FPS, GIF_WIDTHS
from cogvideo.request import DEFAULTS, OLD_PHOTO_MUSIC
from jobs import LOCAL_OWNER, Job, JobService
from jobs.codes import Codes
from jobs.estimate import Expected, wait_text
from jobs.job import CANCELLED, FAILED, LANE_NAMES, QUEUED, RUNNING, STANDARD, STATUS_NAMES, SUCCEEDED

from . import aspect, words
from . import variations as many
from .i18n import request_lang

log = logging.getLogger("cogvideo.app")

FOLLOW_POLL_S = 0.3  # how often a page following a job looks at it (a read of memory and one row)
WORKS_SHOWN = 200  # covers in the works gallery
NOTE_START_S = 120.0  # how long the wait note looks for its tab's job (the click may translate first)


def _escape(message: str) -> str:
    # Toasts may render HTML; our messages quote user values, which must show as text.
    return html.escape(message, quote=False)


class Handlers:
    def __init__(self, studio: Studio, agent: PromptAgent, service: JobService, forced_lang: str | None = None):
        self.studio = studio
        self.agent = agent
        self.service = service
        self.forced_lang = forced_lang
        from cogvideo.catalogues.templates import load_templates

        # Image-to-video templates, checked against the styles this studio loaded (and the tracks).
        self.templates = load_templates(styles=studio.styles)
        # The job each browser session follows on each tab, so that tab's Cancel reaches it.
        self._following: dict[str, str] = {}
        # Wait notes being shown: session and tab -> (when Generate was clicked, the job shown).
        self._noting: dict[str, tuple[float, str | None]] = {}
        # Variations followed on a tab: session and tab -> every job of the run (ui/variations.py).
        self._batches: dict[str, list[str]] = {}
        # Redeem codes: one object, so failed tries are counted across the page's sessions.
        self.codes = Codes(service.store)

    # ------------------------------------------------------------ plumbing

    def lang(self, request: gr.Request | None) -> str:
        return request_lang(request, self.forced_lang)

    @staticmethod
    def owner(request: gr.Request | None) -> str:
        """The signed-in user, or the single local user when the studio has no sign-in."""
        return getattr(request, "username", None) or LOCAL_OWNER

    @staticmethod
    def quota_key(request: gr.Request | None) -> str | None:
        """Whom the per-user job cap counts against: a signed-in user by name (None: the owner);
        visitors without sign-in, who all share the owner `local`, by client address. Not by
        session hash: a reload or a new gradio_client gets a new one, so it would cap nothing."""
        if getattr(request, "username", None):
            return None
        host = getattr(getattr(request, "client", None), "host", None)
        return f"address:{host}" if host else None

    def signed_in(self, request: gr.Request | None) -> bool:
        return bool(getattr(request, "username", None))

    def redeem(self, code: str, request: gr.Request | None) -> str:
        """兑换码: a signed-in user's pass from a code; what they have now, or a toast saying why not."""
        lang = self.lang(request)
        if not self.signed_in(request):
            raise words.error(Text("Sign in to redeem a code: the pass is your account's.",
                                   "请先登录再兑换：通道权益属于你的账号。"), lang)
        address = getattr(getattr(request, "client", None), "host", None)
        try:
            user = self.codes.redeem(self.owner(request), code or "", address=address)
        except Exception as exc:  # every refusal is a toast in the page's language
            raise self._error(exc, lang) from None
        now = words.lane_words(user.lane, user.lane_until, lang)
        words.info(Text(f"Code redeemed: {now}.", f"兑换成功：{now}。"), lang)
        return pick(Text(f"✅ Redeemed: you are in the **{now}**.", f"✅ 兑换成功：你现在是 **{now}**。"), lang)

    def _error(self, exc: Exception, lang: str) -> gr.Error:
        if isinstance(exc, BilingualError):
            return words.error(exc.text, lang)
        log.exception("unexpected failure")
        return words.error(Text(
            f"Something went wrong on the server ({type(exc).__name__}). The details are in the "
            "server log; please try again or report it.",
            f"服务器出错了（{type(exc).__name__}）。详细信息已写入服务器日志，请重试或反馈问题。",
        ), lang)

    def _warn(self, text: Text, lang: str) -> None:
        words.warn(text, lang)

    def check_picture(self, path: str | None, request: gr.Request = None):
        """A picture checked as it arrives on the page: one that cannot be used (not a picture,
        damaged, too small or too large) leaves the box at once with the reason, instead of showing
        as a broken image until Generate says so. The page's own check; API callers get the same
        reason from the studio when they submit."""
        from cogvideo.media.codec import load_image

        if not path:
            return gr.skip()
        try:
            load_image(path).close()
        except StudioError as exc:
            self._warn(exc.for_people, self.lang(request))
            return None
        return gr.skip()

    @staticmethod
    def _job_key(request: gr.Request | None, mode: str) -> str | None:
        """One key per browser session and tab: Cancel on one tab never stops another's job."""
        session = getattr(request, "session_hash", None)
        return f"{session}:{mode}" if session else None

    # ------------------------------------------------------------ jobs: submit, follow, finish

    async def _submit_and_follow(self, req: VideoRequest, request: gr.Request | None, progress: gr.Progress | None):
        """Submit a job, then follow it until it ends: yields the job when its preview changes and
        once more when it has finished. Closing the page stops the following, never the job."""
        lang = self.lang(request)
        try:
            job = await asyncio.to_thread(self.service.submit, req, self.owner(request),
                                          quota_key=self.quota_key(request))
        except Exception as exc:  # every failure becomes a message; the server keeps serving
            raise self._error(exc, lang) from None
        async for update in self._follow(job, self._job_key(request, req.mode), lang, progress):
            yield update

    async def _follow(self, job: Job, key: str | None, lang: str, progress: gr.Progress | None):
        """Follow `job` until it ends, as this tab's job (its Cancel reaches it): progress with the
        place in line or the time left, the job when its preview changes, and once more finished."""
        if key:
            self._following[key] = job.id
        preview = None
        try:
            while not job.finished:
                if progress is not None:
                    fraction, text = follow_text(job, lang, self.service.expected(job))
                    progress(fraction, desc=text)
                if job.preview and job.preview != preview:
                    preview = job.preview
                    yield job
                await asyncio.sleep(FOLLOW_POLL_S)
                job = self.service.get(job.id)
        finally:  # finished, or the page went away (the job itself goes on)
            if key and self._following.get(key) == job.id:
                del self._following[key]
        yield job

    def _finish(self, job: Job, lang: str) -> dict | None:
        """The info of a finished job, its notices shown; None when it was cancelled."""
        if job.status == CANCELLED:
            self._warn(Text("Generation cancelled.", "已取消生成。"), lang)
            return None
        if job.status == FAILED:
            raise words.error(job.error or Text("", ""), lang)
        for notice in job.info.get("notices", []):
            self._warn(Text(notice["en"], notice["zh"]), lang)
        return without_server_paths({**job.info, "job_id": job.id, "lane": job.lane})

    async def _in_english(self, req: VideoRequest, translate: bool, request: gr.Request | None,
                          progress: gr.Progress | None) -> VideoRequest:
        """The request with its prompts in English, which is all CogVideoX's T5 reads: translated
        by the prompt agent when `translate` is on. A prompt that stays in another language (the
        option is off, only templates exist, the translation failed) gets a warning, never silence.
        A model whose text encoder reads Chinese (Wan's umT5) gets the user's words as typed:
        a translation would only lose what they meant. Here in the face, before the job: the
        studio and the engine know nothing of the agent."""
        lang = self.lang(request)
        missing = words.missing_media(req)
        if missing is not None:
            raise words.error(missing, lang)
        if self.studio.reads_chinese:
            return req
        foreign = {name: text for name, text in (("prompt", req.prompt), ("negative_prompt", req.negative_prompt))
                   if text.strip() and not is_english(text)}
        if not foreign:
            return req
        if not translate:
            self._warn(Text(
                "The prompt is not in English and “Translate to English” is off: CogVideoX reads English "
                "only, so the video may not match it.",
                "提示词不是英文，且“自动翻译为英文”已关闭：CogVideoX 只能读懂英文，生成的视频可能与描述不符。",
            ), lang)
            return req
        report = self._agent_progress(progress, lang, toast=False)
        report(Text("Translating the prompt into English…", "正在把提示词翻译成英文…"), None)
        changes, warnings = {}, []
        for name, text in foreign.items():
            result = await asyncio.to_thread(self.agent.translate, text, report)
            if result.warning is not None and result.warning not in warnings:
                warnings.append(result.warning)
            if result.source == "llm":
                changes[name] = result.text
        untranslatable = self.agent.untranslatable_notice()
        for warning in warnings:
            if warning == untranslatable:  # operator text: to the log; people get what the model will see
                log.warning("prompt not translated: %s", warning.en)
                warning = words.NOT_TRANSLATED
            self._warn(words.for_people(warning, words.TRANSLATION_FAILED), lang)
        if "prompt" in changes:
            words.info(Text(f"Translated into English: {changes['prompt']}",
                            f"已翻译为英文：{changes['prompt']}"), lang)
        return dataclasses.replace(req, **changes) if changes else req

    def _agent_progress(self, progress: gr.Progress | None, lang: str, toast: bool = True):
        """The prompt agent's news (a first download, loading, waiting its turn) for the page: on
        the progress bar, and the first of it as a toast too."""
        told = []

        def report(message: Text, fraction: float | None) -> None:
            text = pick(message, lang)
            if toast and not told:
                told.append(text)
                words.info(text, lang)
            if progress is not None:
                progress(0.0 if fraction is None else fraction, desc=text)  # Gradio shows text only beside a bar

        return report

    async def _generate(self, req: VideoRequest, translate: bool, request: gr.Request | None,
                        progress: gr.Progress | None, variations=1):
        try:
            count = many.count_of(variations)
        except StudioError as exc:
            raise self._error(exc, self.lang(request)) from None
        req = await self._in_english(req, translate, request, progress)
        if count > 1:
            return await many.generate(self, req, count, request, progress)
        job = None
        async for job in self._submit_and_follow(req, request, progress):
            pass
        info = self._finish(job, self.lang(request))
        return (gr.skip(), gr.skip()) if info is None else (job.video, info)

    # ------------------------------------------------------------ generation endpoints

    async def text_to_video(
        self,
        prompt: str,
        negative_prompt: str = DEFAULTS.negative_prompt,
        seed: int = DEFAULTS.seed,
        num_inference_steps: int = DEFAULTS.num_inference_steps,
        guidance_scale: float | None = DEFAULTS.guidance_scale,
        num_frames: int | None = None,
        style: str = DEFAULTS.style,
        music: str = "none",
        music_volume: float = DEFAULTS.music_volume,
        upscale: bool = DEFAULTS.upscale,
        interpolate: bool = DEFAULTS.interpolate,
        music_file: str | None = None,
        speed: str | None = DEFAULTS.speed,
        translate: bool = True,
        lora_scales: dict | None = None,
        aspect_ratio: str = "",
        variations: int = 1,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        """`aspect_ratio`: a shape the model offers ("9:16"); empty: the model's own size.
        `variations` (1-4): that many videos with seeds seed, seed+1, …; the first is returned and
        the info lists all (`variations`: job id, seed, status)."""
        height, width = self._size_for("t2v", aspect_ratio, request)
        req = build_request(
            "t2v", prompt=prompt, negative_prompt=negative_prompt, seed=seed,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, num_frames=num_frames,
            style=style, music=music, music_volume=music_volume, upscale=upscale, interpolate=interpolate,
            music_file=music_file, speed=speed, lora_scales=lora_scales, height=height, width=width,
        )
        return await self._generate(req, bool(translate), request, progress, variations)

    async def image_to_video(
        self,
        image: str | None,
        prompt: str,
        negative_prompt: str = DEFAULTS.negative_prompt,
        seed: int = DEFAULTS.seed,
        num_inference_steps: int = DEFAULTS.num_inference_steps,
        guidance_scale: float | None = DEFAULTS.guidance_scale,
        num_frames: int | None = None,
        style: str = DEFAULTS.style,
        music: str = "none",
        music_volume: float = DEFAULTS.music_volume,
        upscale: bool = DEFAULTS.upscale,
        interpolate: bool = DEFAULTS.interpolate,
        music_file: str | None = None,
        speed: str | None = DEFAULTS.speed,
        translate: bool = True,
        lora_scales: dict | None = None,
        aspect_ratio: str = "",
        variations: int = 1,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        """`aspect_ratio`: a shape the model offers ("9:16"), the picture cropped to it; empty: the
        model's own size (or the picture's shape, for a model that follows it). `variations`: as on
        text_to_video."""
        height, width = self._size_for("i2v", aspect_ratio, request)
        req = build_request(
            "i2v", image=image, prompt=prompt, negative_prompt=negative_prompt, seed=seed,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, num_frames=num_frames,
            style=style, music=music, music_volume=music_volume, upscale=upscale, interpolate=interpolate,
            music_file=music_file, speed=speed, lora_scales=lora_scales, height=height, width=width,
        )
        return await self._generate(req, bool(translate), request, progress, variations)

    def _size_for(self, task: str, aspect_ratio: str | None, request: gr.Request | None):
        """(height, width) of a named shape for the model of `task` (ui/aspect.py), or a message."""
        if not aspect_ratio:
            return None, None
        try:
            return aspect.requested_size(self.studio.variant(task), aspect_ratio)
        except StudioError as exc:
            raise self._error(exc, self.lang(request)) from None

    async def old_photo(
        self,
        image: str | None,
        prompt: str = "",
        colorize: bool = DEFAULTS.colorize,
        seed: int = DEFAULTS.seed,
        num_inference_steps: int = DEFAULTS.num_inference_steps,
        guidance_scale: float | None = DEFAULTS.guidance_scale,
        num_frames: int | None = None,
        style: str = DEFAULTS.style,
        music: str = OLD_PHOTO_MUSIC,
        music_volume: float = DEFAULTS.music_volume,
        upscale: bool = DEFAULTS.upscale,
        interpolate: bool = DEFAULTS.interpolate,
        negative_prompt: str = DEFAULTS.negative_prompt,
        music_file: str | None = None,
        speed: str | None = DEFAULTS.speed,
        translate: bool = True,
        lora_scales: dict | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        """The colorized still shows as soon as the job has made it; then the video."""
        req = build_request(
            "old_photo", image=image, prompt=prompt, colorize=colorize, seed=seed,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, num_frames=num_frames,
            style=style, music=music, music_volume=music_volume, upscale=upscale, interpolate=interpolate,
            negative_prompt=negative_prompt, music_file=music_file, speed=speed, lora_scales=lora_scales,
        )
        req = await self._in_english(req, bool(translate), request, progress)
        async for job in self._submit_and_follow(req, request, progress):
            if not job.finished:
                yield gr.skip(), job.preview, gr.skip()
        info = self._finish(job, self.lang(request))
        if info is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        yield job.video, job.info.get("colorized_image") or gr.skip(), info

    async def video_to_video(
        self,
        video: str | None,
        prompt: str = "",
        strength: float = DEFAULTS.strength,
        style: str = DEFAULTS.style,
        seed: int = DEFAULTS.seed,
        num_inference_steps: int = DEFAULTS.num_inference_steps,
        guidance_scale: float | None = DEFAULTS.guidance_scale,
        num_frames: int | None = None,
        negative_prompt: str = DEFAULTS.negative_prompt,
        music: str = "none",
        music_volume: float = DEFAULTS.music_volume,
        upscale: bool = DEFAULTS.upscale,
        interpolate: bool = DEFAULTS.interpolate,
        music_file: str | None = None,
        speed: str | None = DEFAULTS.speed,
        translate: bool = True,
        lora_scales: dict | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        """Restyle a clip (视频转绘): its first seconds repainted in a style or after a prompt."""
        req = build_request(
            "v2v", video=video, prompt=prompt, strength=strength, style=style, seed=seed,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, num_frames=num_frames,
            negative_prompt=negative_prompt, music=music, music_volume=music_volume, upscale=upscale,
            interpolate=interpolate, music_file=music_file, speed=speed, lora_scales=lora_scales,
        )
        return await self._generate(req, bool(translate), request, progress)

    async def extend_video(
        self,
        video: str | None,
        prompt: str,
        extensions: int = DEFAULTS.extensions,
        seed: int = DEFAULTS.seed,
        crossfade: bool = DEFAULTS.crossfade,
        num_inference_steps: int = DEFAULTS.num_inference_steps,
        guidance_scale: float | None = DEFAULTS.guidance_scale,
        num_frames: int | None = None,
        style: str = DEFAULTS.style,
        music: str = "none",
        music_volume: float = DEFAULTS.music_volume,
        upscale: bool = DEFAULTS.upscale,
        interpolate: bool = DEFAULTS.interpolate,
        negative_prompt: str = DEFAULTS.negative_prompt,
        music_file: str | None = None,
        speed: str | None = DEFAULTS.speed,
        translate: bool = True,
        lora_scales: dict | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):
        """Extend a video (续写): continue it from its last frame, `extensions` times."""
        req = build_request(
            "extend", video=video, prompt=prompt, extensions=extensions, seed=seed, crossfade=crossfade,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, num_frames=num_frames,
            style=style, music=music, music_volume=music_volume, upscale=upscale, interpolate=interpolate,
            negative_prompt=negative_prompt, music_file=music_file, speed=speed, lora_scales=lora_scales,
        )
        return await self._generate(req, bool(translate), request, progress)

    def export_gif(
        self,
        video: str | None,
        width: int = GIF_WIDTHS[0],
        fps: float = DEFAULT_GIF_FPS,
        request: gr.Request = None,
    ):
        """The video as an animated GIF (表情包): the file, and its size and shape as text."""
        lang = self.lang(request)
        if not video:
            raise words.error(Text("Generate or open a video first, then make its GIF.",
                                   "请先生成或打开一个视频，再导出 GIF。"), lang)
        try:
            result = self.studio.export_gif(video, _int(width), fps)
        except Exception as exc:
            raise self._error(exc, lang) from None
        return str(result.path), pick(result.size_text(), lang)

    def change_music(
        self,
        video: str | None,
        music: str = "none",
        volume: float = DEFAULTS.music_volume,
        music_file: str | None = None,
        request: gr.Request = None,
    ):
        lang = self.lang(request)
        if not video:
            raise words.error(Text("Generate a video first, then change its music.", "请先生成视频，再更换配乐。"), lang)
        try:
            return str(self.studio.change_music(video, gradio_upload(music_file) or music, volume))
        except Exception as exc:
            raise self._error(exc, lang) from None

    def keep_music(
        self,
        info: dict | None,
        music: str = "none",
        volume: float = DEFAULTS.music_volume,
        music_file: str | None = None,
        keep: str = "new",
        request: gr.Request = None,
    ):
        """换配乐 on a tab's result, kept in My works: as a new work ("new") or in place of the
        original ("replace"). The result's details name its job; the video and details of the work
        that holds the new music come back."""
        from jobs.music_swaps import KEEP_CHOICES, swap_music

        lang = self.lang(request)
        job_id = info.get("job_id") if isinstance(info, dict) else None
        if not job_id:
            raise words.error(Text("Generate a video first, then change its music.", "请先生成视频，再更换配乐。"), lang)
        if keep not in KEEP_CHOICES:
            raise words.error(Text(f"keep={keep!r}: choose “new” (save as a new work) or “replace” (replace the original).",
                                   f"keep={keep!r}：请选择“new”（另存为新作品）或“replace”（替换原作品）。"), lang)
        try:
            job = swap_music(self.service, self.studio, str(job_id), self.owner(request),
                             gradio_upload(music_file) or music, volume, keep)
        except Exception as exc:
            raise self._error(exc, lang) from None
        words.info(Text("Saved as a new work in My works.", "已另存为新作品，可在“我的作品”中查看。") if job.id != job_id
                   else Text("The music of this work was replaced.", "已替换原作品的配乐。"), lang)
        return job.video, without_server_paths({**job.info, "job_id": job.id, "lane": job.lane})

    def cancel(self, mode: str = "t2v", request: gr.Request = None) -> None:
        """Stop the job this session follows on the tab of `mode` (queued: at once; rendering: at
        its next denoising step)."""
        lang = self.lang(request)
        key = self._job_key(request, mode)
        job_id = self._following.get(key) if key else None
        try:
            job = None if job_id is None else self.service.cancel(job_id, self.owner(request))
        except StudioError:
            job = None
        for other in self._batches.get(key, []) if key else []:  # the tab's other variations too
            try:
                if other != job_id:
                    self.service.cancel(other, self.owner(request))
            except StudioError:
                pass
        if job is None or job.status not in (CANCELLED, RUNNING):  # nothing was waiting or rendering here
            words.info(Text("Nothing to cancel: no video is being made on this tab.",
                            "没有可以取消的任务：这个标签页上没有正在排队或生成的视频。"), lang)
            return
        words.info(Text("Stopping…", "正在停止……"), lang)

    def note_start(self, mode: str = "t2v", request: gr.Request = None) -> gr.Timer:
        """Generate was clicked: the wait note under it starts looking for the tab's job."""
        key = self._job_key(request, mode)
        if key:
            self._noting[key] = (time.monotonic(), None)
        return gr.Timer(active=True)

    def wait_note(self, mode: str = "t2v", request: gr.Request = None):
        """The note under the Generate button while this tab's job waits or renders (a timer's
        tick): its place in line and when it should start, then what it does and the time left.
        The progress bar on the result cannot say it: Gradio writes "- 0.0%" beside the text of any
        bar. Returns the note and the timer (stopped once the job has ended)."""
        key = self._job_key(request, mode)
        since, shown = self._noting.get(key, (0.0, None)) if key else (0.0, None)
        # The click's other event submits the job (after any translation); a newer click's job
        # takes over the note.
        job_id = (self._following.get(key) if key else None) or shown
        job = None
        if job_id is not None:
            try:
                job = self.service.get(job_id)
            except StudioError:
                job = None
        if job is None and job_id is None and time.monotonic() - since < NOTE_START_S:
            return "", gr.skip()  # not submitted yet
        if job is not None and job.finished:  # a run of variations: its next job takes the note
            job = many.next_in_run(self, key) or job
        if job is None or job.finished:
            self._noting.pop(key, None)
            return "", gr.Timer(active=False)
        self._noting[key] = (since, job.id)
        prefix = many.done_prefix(self, key, self.lang(request))  # "1/3 完成 · " during a run of variations
        return f"⏳ {prefix}{follow_text(job, self.lang(request), self.service.expected(job))[1]}", gr.skip()

    def noted_job(self, mode: str = "t2v", request: gr.Request = None) -> Job | None:
        """The job this tab's wait note follows (see `wait_note`), or None before it is submitted."""
        key = self._job_key(request, mode)
        job_id = (self._following.get(key) if key else None) or self._noting.get(key, (0.0, None))[1]
        if job_id is None:
            return None
        try:
            return self.service.get(job_id)
        except StudioError:
            return None

    # ------------------------------------------------------------ live pages (ui/live.py)

    def unfinished_jobs(self, request: gr.Request | None, mine_only: bool = True) -> list[Job]:
        """The waiting and rendering jobs of whoever asks, newest first. `mine_only`: a visitor
        without sign-in (all share one owner) gets only the jobs sent from their address."""
        return self.service.unfinished(self.owner(request), self.quota_key(request) if mine_only else None)

    async def follow_job(self, job_id: str, mode: str, request: gr.Request | None, progress: gr.Progress | None):
        """Follow a job submitted earlier (a reloaded page reattaching to it), like the Generate
        event follows its own: progress, the preview when it changes, and the job once finished.
        This tab's Cancel reaches it meanwhile."""
        job = self.service.get(job_id, self.owner(request))
        async for update in self._follow(job, self._job_key(request, mode), self.lang(request), progress):
            yield update

    def finish_job(self, job: Job, request: gr.Request | None) -> dict | None:
        """A followed job's info once finished (None: cancelled); a failure raises its reason."""
        return self._finish(job, self.lang(request))

    # ------------------------------------------------------------ my works

    def my_works(self, request: gr.Request = None) -> list[dict]:
        """The signed-in user's jobs, newest first."""
        return [public_summary(job) for job in self.service.works(self.owner(request))]

    def job_status(self, job_id: str = "", request: gr.Request = None) -> dict:
        """One of the user's jobs: status, place in line, progress, and its files when done; while
        it waits or renders, `queue_position` and the expected seconds until it starts and ends
        (`expected_start_seconds`, `expected_finish_seconds`: None until this server has history)."""
        try:
            job = self.service.get(job_id, self.owner(request))
            return {**public_summary(job), **self.service.expected(job).fields()}
        except Exception as exc:
            raise self._error(exc, self.lang(request)) from None

    def cancel_job(self, job_id: str = "", request: gr.Request = None) -> dict:
        """Cancel one of the user's jobs: a queued one at once, a rendering one at its next step."""
        try:
            return public_summary(self.service.cancel(job_id, self.owner(request)))
        except Exception as exc:
            raise self._error(exc, self.lang(request)) from None

    def works_gallery(self, request: gr.Request = None):
        """Gallery items (cover, caption) for the works tab, the job ids in the same order, and a
        line that says who is signed in and in which lane."""
        lang = self.lang(request)
        owner = self.owner(request)
        jobs = self.service.works(owner, limit=WORKS_SHOWN, brief=True)
        items = [(job.cover or placeholder(job.status), caption(job, lang, self.studio.model)) for job in jobs]
        lane = self.lane_words(owner, lang)
        who = "" if owner == LOCAL_OWNER else pick(Text(f"Signed in as **{_escape(owner)}** · ", f"当前用户 **{_escape(owner)}** · "), lang)
        counts = self.service.counts()
        header = who + pick(Text(
            f"{lane} · {len(jobs)} works · {counts[QUEUED]} waiting and {counts[RUNNING]} rendering on the server",
            f"{lane} · 共 {len(jobs)} 个作品 · 服务器上 {counts[QUEUED]} 个排队、{counts[RUNNING]} 个生成中",
        ), lang)
        if not jobs:
            header += "\n\n" + pick(Text("Nothing here yet: make your first video in another tab.",
                                          "这里还没有作品：去其他标签页生成你的第一个视频吧。"), lang)
        return items, [job.id for job in jobs], header

    def open_work(self, job_id: str, request: gr.Request = None):
        """Video (when done) and a details card for one of the user's jobs."""
        lang = self.lang(request)
        try:
            job = self.service.get(job_id, self.owner(request))
        except StudioError as exc:
            raise self._error(exc, lang) from None
        return job.video if job.status == SUCCEEDED else None, details(job, lang, self._style_name), job

    def _style_name(self, style_id: str, lang: str) -> str:
        style = self.studio.styles.get(style_id)
        return style_id if style is None else pick(style.name, lang)

    def reuse_values(self, job_id: str, request: gr.Request = None) -> dict:
        """The settings of a job, named as the generation handlers' parameters, plus its mode."""
        try:
            job = self.service.get(job_id, self.owner(request))
        except StudioError as exc:
            raise self._error(exc, self.lang(request)) from None
        values = dict(job.request)
        for name in ("image", "video"):
            if values.get(name):
                values[name] = str(self.service.data_dir / values[name])
        upload = values.pop("music_upload", None)
        values["music_file"] = str(self.service.data_dir / upload) if upload else None
        values["music"] = values.get("music") or "none"
        values["seed"] = job.seed if job.seed is not None else values.get("seed", -1)
        # The page's shape choice back from the stored size (tabs without the choice ignore it).
        variant = self.studio.variants.get("i2v" if job.mode == "i2v" else "t2v")
        values["aspect_ratio"] = aspect.reuse_value(variant, values.get("height"), values.get("width"))
        return values

    def like_values(self, job_id: str, request: gr.Request = None) -> dict:
        """做同款 (make one like this): the job's settings with the seed back to random."""
        return {**self.reuse_values(job_id, request), "seed": DEFAULTS.seed}

    def again(self, job_id: str, request: gr.Request = None) -> Job:
        """再来一次 (again): the job's settings with a new seed, as a new job of the caller's, in
        their lane and under their cap like any Generate."""
        from jobs.again import submit_again

        try:
            return submit_again(self.service, job_id, self.owner(request), quota_key=self.quota_key(request))
        except Exception as exc:
            raise self._error(exc, self.lang(request)) from None

    def delete_work(self, job_id: str, request: gr.Request = None) -> None:
        lang = self.lang(request)
        try:
            self.service.delete(job_id, self.owner(request))
        except StudioError as exc:
            raise self._error(exc, lang) from None
        words.info(Text("Deleted.", "已删除。"), lang)

    # ------------------------------------------------------------ prompt agent

    def suggest_prompt(
        self, prompt: str = "", image: str | None = None, mode: str = "t2v", style: str = "none",
        template: str | None = None, request: gr.Request = None,
    ) -> str:
        """One finished suggestion (the API); the buttons stream with `suggest_stream`. `template`:
        an image-to-video template's id, whose use the agent writes for."""
        if template and (not isinstance(template, str) or template not in self.templates):  # an API caller's
            raise words.error(self._unknown_template(template), self.lang(request))
        text = prompt or ""
        for text in self.suggest_stream(prompt, image, mode, style, request, template=template or None):
            pass
        return text

    def apply_template(self, template: str = "", subject: str = "", request: gr.Request = None) -> dict:
        """An image-to-video template's settings, named as `/image_to_video`'s parameters: the
        prompt scaffold around `subject` (or around the subject of a prompt already filled from a
        template), style, music, frames (the template's length at the loaded model's rate, as a count it
        allows) and guidance (the template's, else the loaded model's own)."""
        from cogvideo.catalogues.templates import fill_template, subject_of

        chosen = self.templates.get(template or "")
        if chosen is None:
            raise words.error(self._unknown_template(template), self.lang(request))
        values = {"prompt": fill_template(chosen, subject_of(subject, self.templates.values())),
                  "style": chosen.style, "music": chosen.music,
                  "guidance_scale": self.studio.default_guidance if chosen.guidance_scale is None else chosen.guidance_scale}
        variants = self.studio.variants
        if "i2v" in variants:
            variant = variants["i2v"]
            values["num_frames"] = chosen.frames_for(variant)
        return values

    def _unknown_template(self, template: object) -> Text:
        ids = ", ".join(self.templates)
        return Text(f"Unknown template {template!r}; use one of: {ids}.", f"没有模板 {template!r}；可选：{ids}。")

    def suggest_stream(
        self, prompt: str, image: str | None, mode: str, style: str | None, request: gr.Request = None,
        progress: gr.Progress | None = None, template: str | None = None,
    ) -> Iterator[str]:
        """The agent's text as it grows, for the prompt box. `progress` shows a local model's
        first download (the first such news is also a toast); `template` (an image-to-video
        template's id) tells the agent what the video is for."""
        lang = self.lang(request)
        original = prompt or ""
        try:
            if mode in ("v2v", "extend"):
                # A clip's prompt is written from a picture of it: the first frame to restyle,
                # the last one to continue from.
                picture, mode = _clip_picture(image, last=mode == "extend"), "i2v"
            else:
                picture = _load_picture(image)
            model = self.video_model
            style_name = None
            if style and style != "none":
                from cogvideo.catalogues.styles import get_style

                # Named in the language the prompt is written in: it is woven into the text.
                name = get_style(style, self.studio.styles).name
                style_name = name.zh if writing_language(original.strip(), model, lang) == "zh" else name.en
            chosen = self.templates.get(template or "")
            suggestions = self.agent.stream(original, picture, mode, style_name,
                                            progress=self._agent_progress(progress, lang),
                                            intent=chosen.intent if chosen else None, model=model, lang=lang)
        except Exception as exc:
            raise self._error(exc, lang) from None
        last = None
        for last in suggestions:
            yield last.text
        if last is not None and last.source == "kept":
            yield original  # the user's text is never wiped
        if last is not None and last.warning is not None:
            helper_off = (last.source == "kept" and not self.agent.can_translate and not is_english(original)
                          and not self.studio.reads_chinese)  # its plain sentence says "English only"
            self._warn(words.helper_off(last.warning) if helper_off
                       else words.for_people(last.warning, words.HELPER_FAILED.get(last.source, words.HELPER_FAILED["kept"])),
                       lang)

    @property
    def video_model(self) -> VideoModel:
        """What the prompt agent writes for: the studio's family, and whether its text encoder
        reads Chinese (then the prompt stays in the user's language)."""
        return VideoModel(family=self.studio.family_name.lower(), reads_chinese=self.studio.reads_chinese)

    def gloss_note(self, prompt: str, original: str = "", request: gr.Request = None) -> str:
        """Under the box, after "Help me write one": in Chinese, what the English prompt will show
        (for a Chinese page, or when the user wrote in another language); else nothing."""
        lang = self.lang(request)
        prompt = prompt or ""
        if lang == "en" and is_english(original or ""):
            return ""
        gloss = self.agent.gloss(prompt)
        if not gloss:
            return ""
        return pick(Text(f"**Meaning (翻译/说明)**: {_escape(gloss)}", f"**翻译/说明**：{_escape(gloss)}"), lang)

    # ------------------------------------------------------------ cheap UI helpers

    def prompt_note(self, prompt: str, style: str = "none", task: str = "t2v", request: gr.Request = None) -> str:
        lang = self.lang(request)
        prompt = prompt or ""
        try:
            report = self.studio.prompt_report(prompt, style or "none", task)
        except StudioError:
            report = None
        chars = pick(Text(f"{len(prompt)} characters", f"{len(prompt)} 字"), lang)
        # Said before Generate, on its own line: with nothing to translate, the model gets this text as it is.
        untranslated = ("  \n⚠️ " + pick(words.NOT_TRANSLATED_SHORT, lang)
                        if prompt.strip() and not is_english(prompt) and not self.agent.can_translate
                        and not self.studio.reads_chinese else "")
        if report is None or report.tokens is None:
            return chars + untranslated
        if report.over:
            return chars + " · " + pick(Text(
                f"⚠️ {report.tokens}/{report.limit} tokens — the model reads only the first {report.limit}; the rest will be cut.",
                f"⚠️ {report.tokens}/{report.limit} token——模型只读取前 {report.limit} 个，超出部分将被截断。",
            ), lang) + untranslated
        return chars + " · " + pick(Text(f"{report.tokens}/{report.limit} tokens", f"{report.tokens}/{report.limit} token"),
                                    lang) + untranslated

    def free_videos_note(self, request: gr.Request = None) -> str:
        """The line above Generate: the user's free videos left today, in the page's language (empty
        without a daily limit for them)."""
        left = self.service.free_videos_left(self.owner(request), self.quota_key(request))
        return words.free_videos_left(left, self.lang(request))

    def status_line(self, request: gr.Request = None) -> str:
        """The header: model, queue and the user's lane on one line; the machine's details
        (device, precision, memory, workers, speed-ups) in a closed "System" fold under it."""
        lang = self.lang(request)
        counts = self.service.counts()
        lane = self.lane_words(self.owner(request), lang)
        model = words.model_words(list(self.studio.variants.values()), self.studio.family_name, lang)
        return words.header_line(model, counts[QUEUED], counts[RUNNING], lane, self.system_line(request), lang)

    def lane_words(self, owner: str, lang: str) -> str:
        """The owner's lane now, and when their pass ends if they have one."""
        users = self.service.users
        now = users.clock()
        user = users.get(owner, now)
        return words.lane_words(user.lane, user.lane_until, lang, now) if user else lane_name(STANDARD, lang)

    def system_line(self, request: gr.Request = None) -> str:
        lang = self.lang(request)
        s = self.studio.status()
        vram = "—" if s.free_vram_gib is None else f"{s.free_vram_gib} GiB"
        loaded = ", ".join(s.loaded) or pick(Text("not yet (loads on the first video)", "尚未加载（首次生成时加载）"), lang)
        agent = self.agent.backend_text
        counts = self.service.counts()
        workers = self.service.worker_states()
        preset = self.studio.speed_presets[self.studio.default_speed]
        if any(w.remote for w in workers):  # the head loads no model: say where the workers are instead
            line = pick(Text(f"**Model** {s.model} · ", f"**模型** {s.model} · "), lang) + workers_text(workers, lang) \
                + pick(Text(f" · **prompt agent** {agent.en}", f" · **提示词助手** {agent.zh}"), lang)
            return line + speed_text(s.acceleration, preset, lang) + pick(Text(
                f" · **queue** {counts[QUEUED]} waiting, {counts[RUNNING]} rendering",
                f" · **队列** {counts[QUEUED]} 个排队，{counts[RUNNING]} 个生成中",
            ), lang)
        line = pick(Text(
            f"**Model** {s.model} · **device** {s.device} · **dtype** {s.dtype} · **offload** {s.offload} · "
            f"**free VRAM** {vram} · **loaded** {loaded} · **prompt agent** {agent.en}",
            f"**模型** {s.model} · **设备** {s.device} · **精度** {s.dtype} · **显存策略** {s.offload} · "
            f"**可用显存** {vram} · **已加载** {loaded} · **提示词助手** {agent.zh}",
        ), lang)
        return line + speed_text(s.acceleration, preset, lang) + pick(Text(
            f" · **queue** {counts[QUEUED]} waiting, {counts[RUNNING]} rendering",
            f" · **队列** {counts[QUEUED]} 个排队，{counts[RUNNING]} 个生成中",
        ), lang)


WORKER_STATES = {"idle": Text("idle", "空闲"), "rendering": Text("rendering", "生成中"),
                 "restarting": Text("restarting", "重启中"), "broken": Text("parked", "已暂停")}


def workers_text(workers, lang: str) -> str:
    """Each worker (node, GPU), what it does and which job: "vm/GPU 0: rendering 3f2a1b2c"."""
    parts = []
    for w in workers:
        state = pick(WORKER_STATES.get(w.state, Text(w.state, w.state)), lang)
        detail = f" {w.job_id[:8]}" if w.job_id else (f" ({_escape(w.reason[:80])})" if w.reason else "")
        parts.append(f"{_escape(w.name)}: {state}{detail}")
    return pick(Text(f"**workers** {len(workers)} (", f"**工作进程** {len(workers)}（"), lang) + ", ".join(parts) \
        + pick(Text(")", "）"), lang)


def speed_text(accel, preset: SpeedPreset, lang: str) -> str:
    """The default speed preset, and the machine-level speed-ups in force or why they are off."""
    parts = [pick(Text(f"**speed** {preset.name.en}", f"**速度** {preset.name.zh}"), lang)]
    if accel.attention != "native":
        parts.append(pick(Text(f"attention {accel.attention}", f"注意力 {accel.attention}"), lang))
    if accel.fp8:
        parts.append("fp8")
    if accel.compile:
        parts.append(pick(Text("compiled", "已编译"), lang))
    parts += [pick(note, lang) for note in accel.notes]
    return " · " + " · ".join(parts)


def gradio_upload(value: str | None) -> Path | str | None:
    """A file Gradio received for this request (a path inside its upload folder) as a `Path`,
    which the studio may read; any other value stays text, which the studio takes as a track id
    and never opens (a named-API caller must not make the app open a server path)."""
    if not value:
        return None
    from gradio.utils import get_upload_folder

    path = Path(str(value)).resolve()
    if path.is_relative_to(Path(get_upload_folder()).resolve()):
        return path
    return str(value)


def build_request(
    mode: str,
    *,
    prompt: str | None,
    image: str | None = None,
    negative_prompt: str | None = "",
    seed: float | None,
    num_inference_steps: float | None,
    guidance_scale: float | None,
    num_frames: float | None,
    style: str | None,
    music: str | None,
    music_volume: float,
    upscale: bool,
    interpolate: bool,
    music_file: str | None = None,
    colorize: bool = True,
    speed: str | None = None,
    video: str | None = None,
    strength: float = DEFAULTS.strength,
    extensions: float = DEFAULTS.extensions,
    crossfade: bool = DEFAULTS.crossfade,
    lora_scales: dict | None = None,
    height: int | None = None,
    width: int | None = None,
) -> VideoRequest:
    """The studio request from an endpoint's values: Gradio sends numbers as floats and empty
    boxes as None; an uploaded music file wins over the track choice."""
    return VideoRequest(
        mode=mode,
        prompt=prompt or "",
        image=image,
        negative_prompt=negative_prompt or "",
        style=style or DEFAULTS.style,
        music=gradio_upload(music_file) or music,
        music_volume=music_volume,
        seed=_int(seed),
        num_inference_steps=_int(num_inference_steps),
        guidance_scale=guidance_scale,
        num_frames=_int(num_frames),
        upscale=bool(upscale),
        interpolate=bool(interpolate),
        colorize=bool(colorize),
        speed=speed or DEFAULTS.speed,
        video=video or None,
        strength=strength,
        extensions=_int(extensions),
        crossfade=bool(crossfade),
        lora_scales=_scales(lora_scales),
        height=height,
        width=width,
    )


def _scales(values):
    """LoRA scales from the sliders or an API caller: a dict (or its JSON text); empty: None.
    Anything else is passed on as it is, for the studio to name."""
    if isinstance(values, str):
        if not values.strip():
            return None
        import json

        try:
            values = json.loads(values)
        except ValueError:
            return values
    if isinstance(values, dict):
        return dict(values) or None
    return values or None


def lane_name(lane: str, lang: str) -> str:
    return pick(LANE_NAMES.get(lane, Text(lane, lane)), lang)


def follow_text(job: Job, lang: str, expected: Expected | None = None) -> tuple[float | None, str]:
    """Progress bar value and text for a job being followed: its place in line and expected wait,
    or its step and time left (jobs/estimate.py). A waiting job gets no bar (None): Gradio writes
    "- 0.0%" beside the text of any bar, so the wait shows in the note under the button instead."""
    text = pick(wait_text(job, expected or Expected(job.position)), lang)
    return (None if job.status == QUEUED else job.progress), f"{text} · {lane_name(job.lane, lang)}"


def caption(job: Job, lang: str, model: str | None = None) -> str:
    """status · date · prompt, with the mode first; and the job's model when it is not `model`
    (the one this server runs): works made before a change of model say what made them."""
    status = pick(STATUS_NAMES[job.status], lang)
    if job.status == QUEUED and job.position:
        status += pick(Text(f" (#{job.position})", f"（第 {job.position} 位）"), lang)
    elif job.status == RUNNING:
        status += f" {round(job.progress * 100)}%"
    when = time.strftime("%m-%d %H:%M", time.localtime(job.created_at))
    text = " ".join(job.user_prompt.split()) or pick(Text("(no prompt)", "（未填提示词）"), lang)
    mode = pick(MODE_NAMES.get(job.mode, Text(job.mode, job.mode)), lang)
    made_with = job.request.get("model")
    if made_with and model and made_with != model:
        mode += f" · {made_with}"
    return f"{mode} · {status} · {when} · {text[:60] + ('…' if len(text) > 60 else '')}"


def _seed_text(seed, lang: str) -> str:
    """The seed as a person reads it: a job that never started has only the request's -1."""
    if seed is None or (isinstance(seed, int) and seed < 0):
        return pick(Text("random (chosen when it starts)", "随机（开始生成时确定）"), lang)
    return str(seed)


def details(job: Job, lang: str, style_name=lambda style_id, lang: style_id) -> str:
    """A Markdown card for one job; user text is escaped."""
    request = job.request
    rows = [
        (pick(Text("Status", "状态"), lang), pick(STATUS_NAMES[job.status], lang)
         + (f" · {round(job.progress * 100)}%" if job.status == RUNNING else "")
         + (pick(Text(f" · number {job.position} in line", f" · 第 {job.position} 位"), lang) if job.position else "")),
        (pick(Text("Lane", "通道"), lang), lane_name(job.lane, lang)),
        (pick(Text("Mode", "模式"), lang), pick(MODE_NAMES.get(job.mode, Text(job.mode, job.mode)), lang)),
        # The model it was made with (jobs from before models were recorded have none).
        *([(pick(Text("Model", "模型"), lang), _escape(str(request["model"])))] if request.get("model") else []),
        (pick(Text("Prompt", "提示词"), lang), _escape(job.user_prompt) or "—"),
        (pick(Text("Style", "风格"), lang), _escape(style_name(str(request.get("style", "none")), lang))),
        (pick(Text("Seed", "种子"), lang), _seed_text(job.seed if job.seed is not None else request.get("seed"), lang)),
        (pick(Text("Steps · guidance", "步数 · 引导系数"), lang),
         # As it ran (a request without one got the model's own).
         f"{request.get('num_inference_steps')} · "
         f"{(job.info or {}).get('guidance_scale') or request.get('guidance_scale') or '—'}"),
        (pick(Text("Created", "创建时间"), lang), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.created_at))),
    ]
    if job.status == FAILED:
        rows.append((pick(Text("Why it failed", "失败原因"), lang), _escape(pick(job.error or Text("", ""), lang))))
    swapped_from = (job.info or {}).get("swapped_from")  # a music swap kept: as a new work, or in place
    if swapped_from or (job.info or {}).get("music_changed"):
        rows.append((pick(Text("New music", "换配乐"), lang), _music_name(request, lang) + (
            pick(Text(f" · from work {swapped_from[:8]}", f" · 原作品 {swapped_from[:8]}"), lang) if swapped_from else "")))
    lines = [f"**{name}**: {value}" for name, value in rows]
    return "  \n".join(lines) + f"\n\n<small>ID {job.id}</small>"


def _music_name(request: dict, lang: str) -> str:
    """The music a job's request names, as people call it: a track's name, their own upload, or none."""
    from cogvideo.media.music import load_tracks

    if request.get("music_upload"):
        return pick(Text("your own music", "自己上传的音乐"), lang)
    track = load_tracks().get(str(request.get("music") or "none"))
    return pick(track.name, lang) if track else pick(Text("no music", "无音乐"), lang)


MODE_NAMES = {"t2v": Text("Text to video", "文生视频"), "i2v": Text("Image to video", "图生视频"),
              "old_photo": Text("Old photo", "老照片"), "v2v": Text("Restyle", "视频转绘"),
              "extend": Text("Extend", "续写")}
PLACEHOLDERS = Path(__file__).resolve().parent / "placeholders"


def without_server_paths(values: dict) -> dict:
    """A job's info or summary as callers see it: file names instead of the server's folders
    (the output folder, the data folder), which are nobody's business but the operator's."""
    shown = dict(values)
    for key in ("video", "cover", "colorized_image"):
        if shown.get(key):
            shown[key] = Path(str(shown[key])).name
    music = shown.get("music")
    if isinstance(music, str) and ("/" in music or "\\" in music):  # an uploaded file, not a track id
        shown["music"] = Path(music).name
    return shown


def public_summary(job: Job) -> dict:
    """`Job.summary()` without server paths, with the files' URLs once the video is done (the
    REST API's file route: a long random path per job, no key needed)."""
    shown = without_server_paths(job.summary())
    done = job.status == SUCCEEDED and job.file_token
    shown["video_url"] = f"/api/files/{job.file_token}/video.mp4" if done and job.video else None
    shown["cover_url"] = f"/api/files/{job.file_token}/cover.jpg" if done and job.cover else None
    return shown


def placeholder(status: str) -> str:
    """A plain picture for a job with no cover yet (queued, rendering, failed, cancelled)."""
    return str(PLACEHOLDERS / f"{status}.png")


def _int(value) -> int:
    """Gradio numbers arrive as floats; keep bad values as they are for the studio to name."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _load_picture(image: str | None):
    if not image:
        return None
    from cogvideo.media.codec import load_image

    return load_image(Path(image))


def _clip_picture(video: str | None, last: bool):
    if not video:
        return None
    from PIL import Image

    from cogvideo.media.clips import read_clip

    clip = read_clip(Path(video), 8, max_frames=1, last=last)
    return Image.fromarray(clip.frames[-1])
