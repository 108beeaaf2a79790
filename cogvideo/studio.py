"""One request end to end: validate -> style -> (colorize) -> render -> post -> encode -> music.

`Studio.generate` is the single entry point that the UI, the CLI and the HTTP API call, so every
feature exists once.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from PIL import Image

from bilingual import Text

from cogvideo.engine import models, speed
from cogvideo.engine.gpu_share import GpuShare
from cogvideo.engine.render import Engine, EngineStatus, RenderJob
from cogvideo.errors import AudioError, Cancelled, DiskFull, InvalidRequest, ModelFileError, VideoError
from cogvideo.media import codec, downloads
from cogvideo.request import (
    CROSSFADE_FRAMES,
    DEFAULT_SPEED,
    DEFAULTS,
    MAX_EXTENSIONS,
    MAX_GUIDANCE,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_STEPS,
    MAX_STRENGTH,
    MIN_STRENGTH,
    MODES,
    VideoRequest,
    is_unicode,
)

log = logging.getLogger("cogvideo.studio")

OLD_PHOTO_DEFAULT_PROMPT = (
    "The old photograph comes to life: the people in it breathe, blink and smile softly, "
    "with gentle natural movements; subtle light flicker, a slow push-in of the camera, "
    "warm nostalgic atmosphere, no scene cuts."
)

# A restyle with a style preset and no prompt of its own: the clip's content, in the style.
RESTYLE_DEFAULT_PROMPT = "The same scene, subjects and motion as in the original video, with smooth natural movement."


def restyle_frame_counts(variant: models.Variant) -> list[int]:
    """Frame counts a restyle can use: the model's (Wan: every 4N+1), except CogVideoX1.5, whose
    transformer packs latent frames in pairs (patch_size_t 2) and whose video-to-video pipeline,
    unlike its text-to-video one, does not pad: 16N+1 frames give an odd latent count, so 16N-3.
    Told by its frame rule, not its name, so a saved 1.5 folder (family "local:…") is one too."""
    if variant.architecture == "cogvideox" and variant.frame_step == 16:
        return [n - 4 for n in variant.allowed_frames()]
    return variant.allowed_frames()


def guidance_of(request: VideoRequest, variant: models.Variant) -> float:
    """The request's guidance, or the model's own when it names none."""
    return variant.guidance_scale if request.guidance_scale is None else float(request.guidance_scale)


def _too_short_to_restyle(variant: models.Variant, frames: int) -> VideoError:
    shortest = restyle_frame_counts(variant)[0]
    return VideoError(
        f"The clip is too short to restyle: it gives {frames} frames at {variant.fps} fps, and "
        f"{variant.name} needs at least {shortest} ({shortest / variant.fps:.1f} s). Upload a longer clip.",
        f"视频太短，无法转绘：按 {variant.fps} fps 只有 {frames} 帧，{variant.name} 至少需要 "
        f"{shortest} 帧（{shortest / variant.fps:.1f} 秒）。请上传更长的视频。",
    )


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # "load", "colorize", "render", "post", "encode", "music"
    fraction: float | None
    text: Text
    preview: str | None = None  # a file the face may show before the video (the colorized still)


@dataclass(frozen=True)
class VideoResult:
    path: Path
    seed: int
    prompt: str  # the final prompt (styled) as sent to the model
    negative_prompt: str
    model: str
    num_frames: int
    fps: float
    width: int
    height: int
    prompt_tokens: int | None
    timings: dict[str, float]
    notices: tuple[Text, ...] = ()
    upscale_method: str | None = None
    colorized_image: Path | None = None
    music: str | None = None
    cover: Path | None = None  # the first frame as a JPEG, beside the video (galleries, API covers)
    speed: str = DEFAULT_SPEED  # the preset it was rendered with
    parts: tuple[int, ...] = ()  # "extend": frames of the clip and of each new part, before joining
    strength: float | None = None  # "v2v": the strength used
    loras: dict[str, float] | None = None  # LoRA name -> the scale it ran at
    guidance_scale: float | None = None  # as it ran: the request's, or the model's own

    def info(self) -> dict:
        """A JSON-able summary for API callers and the UI."""
        return {
            "video": str(self.path),
            "seed": self.seed,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model": self.model,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "prompt_tokens": self.prompt_tokens,
            "upscale_method": self.upscale_method,
            "music": self.music,
            "colorized_image": str(self.colorized_image) if self.colorized_image else None,
            "cover": str(self.cover) if self.cover else None,
            "speed": self.speed,
            "parts": list(self.parts),
            "strength": self.strength,
            "loras": self.loras,
            "guidance_scale": self.guidance_scale,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notices": [{"en": n.en, "zh": n.zh} for n in self.notices],
        }


@dataclass(frozen=True)
class PromptReport:
    tokens: int | None
    limit: int

    @property
    def over(self) -> bool:
        return self.tokens is not None and self.tokens > self.limit


ProgressCallback = Callable[[ProgressEvent], None]
Cancel = Callable[[], bool] | threading.Event


class _Run:
    """The bookkeeping of one `generate` call: stage timings, notices, progress and cancel."""

    def __init__(self, progress: ProgressCallback | None, cancel: Cancel | None) -> None:
        self.timings: dict[str, float] = {}
        self.notices: list[Text] = []
        self.report: ProgressCallback = progress or (lambda event: None)
        self.should_cancel = cancel.is_set if isinstance(cancel, threading.Event) else cancel
        self._clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Close a stage's timing."""
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._clock
        self._clock = now

    def check_cancel(self) -> None:
        """Between stages: a cancel takes effect here (inside the render, at every step)."""
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled()


class Studio:
    def __init__(
        self,
        engine: Engine,
        output_dir: str | Path = "outputs",
        colorizer=None,
        upscaler=None,
        default_speed: str = DEFAULT_SPEED,
    ):
        from cogvideo.catalogues.styles import load_styles

        self.engine = engine
        self.default_speed = speed.check_speed(default_speed)
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        # Temporary files a crash left behind (a running writer's are spared: see the function).
        codec.sweep_leftovers(self.output_dir)
        downloads.sweep(self.output_dir)  # GIFs and music swaps a day old (no job removes them)
        self.styles = load_styles()
        self._colorizer = colorizer
        self._upscaler = upscaler
        self._last_colorized: tuple[str, Image.Image] | None = None
        # Guests on the video model's GPU (the prompt helper's local model), parked during videos.
        self.gpu_share = GpuShare(engine)

    # ------------------------------------------------------------ helpers for the faces

    @property
    def variants(self) -> dict[str, models.Variant]:
        """The loaded model's variants by task ("t2v", "i2v")."""
        return dict(self.engine.variants)

    def variant(self, task: str) -> models.Variant:
        """The variant that serves `task`, or a message naming the model that would."""
        return self.engine.variant(task)

    @property
    def model(self) -> str:
        """The name of the model this studio serves (its text-to-video variant's, as `--model`
        named it; "wan2.2-5b" serves image to video too)."""
        return next(iter(self.engine.variants.values())).name

    @property
    def default_guidance(self) -> float:
        """The guidance a request without one gets: the served model's, as its authors run it."""
        return next(iter(self.engine.variants.values())).guidance_scale

    @property
    def family_name(self) -> str:
        """"CogVideoX" or "Wan", as people know the model."""
        return self.engine.family.name

    @property
    def reads_chinese(self) -> bool:
        """Whether the model's text encoder reads Chinese (Wan's umT5): a Chinese prompt goes in as
        it is, with no translation."""
        return self.engine.family.reads_chinese

    @property
    def model_names(self) -> frozenset[str]:
        """Every name of the served model, lower case ("wan2.2-5b", "wan2.2-5b-i2v"): the jobs it takes."""
        return frozenset(v.name.lower() for v in self.engine.variants.values())

    def serves(self, model: str | None) -> bool:
        """Whether a request naming `model` (None: any) is for this studio's model."""
        return model is None or str(model).strip().lower() in self.model_names

    def status(self) -> EngineStatus:
        return self.engine.status()

    @property
    def speed_presets(self) -> Mapping[str, speed.SpeedPreset]:
        """Every speed preset by id, in the order the faces offer them."""
        return speed.PRESETS

    @property
    def family_speeds(self) -> tuple[str, ...]:
        """The speed presets with published evidence on the model's family: the others are not
        offered on it, whatever the card (the faces say why)."""
        return self.engine.family.speeds

    def fitting_speeds(self) -> list[str]:
        """The presets whose cache fits beside the model on this card (the others are not offered)."""
        return self.engine.fitting_speeds()

    def preload(self, on_status=None) -> None:
        """Load every pipeline now (start-up) instead of on the first video."""
        for task in self.engine.variants:
            self.engine.load(task, on_status=on_status)

    def prompt_report(self, prompt: str, style: str = "none", task: str = "t2v") -> PromptReport:
        """Token count of the styled prompt against the model's limit (for a live UI note)."""
        from cogvideo.catalogues.styles import apply_style, get_style

        variant = self.engine.variant(task) if task in self.engine.variants else next(
            iter(self.engine.variants.values())
        )
        styled, _ = apply_style(get_style(style, self.styles), prompt or "")
        return PromptReport(self.engine.count_tokens(styled[:MAX_PROMPT_CHARS]), variant.max_tokens)

    @property
    def colorizer(self):
        if self._colorizer is None:
            from cogvideo.media.colorize import Colorizer

            self._colorizer = Colorizer(device=str(self.engine.device))
        return self._colorizer

    def colorize_photo(self, image: Image.Image | str | Path) -> tuple[Image.Image, Text | None]:
        """Colorize a black-and-white photo; a colour photo is returned as it is, with a notice."""
        photo = codec.load_image(image)
        # The UI shows the still first, then generates from the same photo: colorize it once.
        digest = hashlib.sha256(photo.tobytes()).hexdigest() + f"{photo.size}"
        cached = self._last_colorized
        if cached is not None and cached[0] == digest:
            return cached[1].copy(), None
        colorized, changed = self.colorizer.colorize_if_monochrome(photo)
        if not changed:
            return photo, Text(
                "The photo is already in colour, so colorization was skipped.",
                "这张照片已经是彩色的，已跳过上色。",
            )
        self._last_colorized = (digest, colorized)
        return colorized.copy(), None

    # ------------------------------------------------------------ the entry point

    def generate(
        self,
        request: VideoRequest,
        progress: ProgressCallback | None = None,
        cancel: Cancel | None = None,
    ) -> VideoResult:
        # Other models on the GPU (the prompt helper's) are parked for the whole job.
        with self.gpu_share.video_running():
            return self._generate(request, progress, cancel)

    def _generate(
        self,
        request: VideoRequest,
        progress: ProgressCallback | None,
        cancel: Cancel | None,
    ) -> VideoResult:
        from cogvideo.catalogues.styles import apply_style, get_style

        run = _Run(progress, cancel)

        # 1. Check inputs: every bad value is named before any heavy work starts.
        variant, num_frames, height, width = self._check(request)
        style = get_style(request.style, self.styles)
        music_file = self._check_music(request.music)
        seed = secrets.randbelow(MAX_SEED + 1) if request.seed == -1 else request.seed

        # 2. Style: the final prompt shown to the user is the styled one.
        user_prompt = request.prompt.strip()
        if not user_prompt and request.mode == "old_photo":
            user_prompt = OLD_PHOTO_DEFAULT_PROMPT
        elif not user_prompt and request.mode == "v2v":
            user_prompt = RESTYLE_DEFAULT_PROMPT
        prompt, negative = apply_style(style, user_prompt, request.negative_prompt.strip())
        # Wan was tuned with its authors' negative prompt in the unconditional half of guidance.
        negative = negative or self.engine.family.negative_prompt

        # 3. What the video starts from: a first frame (image to video, old photo), or a clip
        # (restyle, extend) decoded at the model's frame rate and size.
        image, colorized_path, clip = None, None, None
        if request.needs_video:
            clip, num_frames, height, width = self._clip(request, variant, num_frames, height, width, run)
        elif request.task == "i2v":
            image, colorized_path, height, width = self._first_frame(request, variant, height, width, run)

        # 4. Prompt length, counted as the pipeline's T5 tokenizer counts (a private copy of it).
        tokens = self.engine.count_tokens(prompt)
        if tokens is not None and tokens > variant.max_tokens:
            run.notices.append(Text(
                f"The prompt is {tokens} tokens; the model reads only the first {variant.max_tokens}, "
                "so the rest was cut off. Shorten it to keep every detail.",
                f"提示词共 {tokens} 个 token，模型只读取前 {variant.max_tokens} 个，其余部分已被截断。"
                "请精简提示词以保留全部细节。",
            ))

        # 5. Render (an extension renders once per new part).
        job = RenderJob(
            task="v2v" if request.mode == "v2v" else request.task, prompt=prompt, negative_prompt=negative,
            image=image, num_frames=num_frames, num_inference_steps=request.num_inference_steps,
            guidance_scale=guidance_of(request, variant), seed=seed, height=height, width=width,
            speed=speed.check_speed(request.speed or self.default_speed),
            video=[Image.fromarray(frame) for frame in clip] if request.mode == "v2v" else None,
            strength=float(request.strength) if request.mode == "v2v" else 1.0,
            lora_scales=dict(request.lora_scales) if request.lora_scales else None,
        )
        run.lap("prepare")
        run.check_cancel()
        parts: tuple[int, ...] = ()
        if request.mode == "extend":
            frames, parts = self._extend(job, clip, request, run)
        else:
            frames = self._render(job, run)
        num_frames = len(frames)
        run.lap("render")
        run.check_cancel()

        # 6. Post-processing: the style's frame filter, then smooth motion and 1440p upscaling.
        frames, fps, filters, upscale_method = self._post_process(request, style, frames, float(variant.fps), run)
        run.lap("post")
        run.check_cancel()

        # 7-8. Encode, then lay the music under it.
        final_path, cover, music_file = self._write(frames, fps, filters, music_file, request.music_volume, run)

        out_info = codec.probe(final_path)
        return VideoResult(
            path=final_path, seed=seed, prompt=prompt, negative_prompt=negative,
            model=variant.name, num_frames=num_frames, fps=fps,
            width=out_info.width, height=out_info.height, prompt_tokens=tokens,
            timings=run.timings, notices=tuple(run.notices), upscale_method=upscale_method,
            colorized_image=colorized_path,
            music=None if music_file is None else str(request.music),
            cover=cover, speed=job.speed, parts=parts,
            strength=job.strength if request.mode == "v2v" else None,
            loras=self._loras_used(request), guidance_scale=job.guidance_scale,
        )

    # ------------------------------------------------------------ the steps of `generate`

    def _first_frame(
        self, request: VideoRequest, variant: models.Variant, height: int, width: int, run: "_Run"
    ) -> tuple[Image.Image, Path | None, int, int]:
        """The picture the video starts from, fitted to the render size (which it may choose)."""
        image = codec.load_image(request.image)
        colorized_path = None
        run.lap("image")
        if request.mode == "old_photo" and request.colorize:
            run.report(ProgressEvent("colorize", None, Text("Colorizing the photo…", "正在为照片上色…")))
            image, notice = self.colorize_photo(image)
            self._park(self._colorizer)
            if notice:
                run.notices.append(notice)
            else:
                colorized_path = codec.unique_video_path(self.output_dir, "-colorized.png")
                image.save(colorized_path)
                run.report(ProgressEvent("colorize", None, Text("Photo colorized; animating it…", "照片已上色，正在生成视频…"),
                                         preview=str(colorized_path)))
            run.lap("colorize")
            run.check_cancel()
        if models.sizes_follow_input(variant) and request.height is None and request.width is None:
            height, width = models.size_for_picture(variant, image.width, image.height)
        return codec.fit_image(image, width, height), colorized_path, height, width

    def _clip(
        self, request: VideoRequest, variant: models.Variant, num_frames: int, height: int, width: int, run: "_Run"
    ) -> tuple[np.ndarray, int, int, int]:
        """The uploaded clip at the model's frame rate, covering the render size (center-cropped
        like pictures): all of it to extend, its first `num_frames` (a count the model accepts) to
        restyle. Returns (frames, frames to render, height, width)."""
        from cogvideo.media import clips

        info = clips.probe_clip(request.video)
        height, width = _clip_size(request, variant, height, width, info)
        run.report(ProgressEvent("load", None, Text("Reading the video…", "正在读取视频…")))
        if request.mode == "extend":
            clip = clips.read_clip(request.video, variant.fps, size=(width, height))
        else:
            clip = clips.read_clip(request.video, variant.fps, size=(width, height), max_frames=num_frames)
        frames = clip.frames
        if request.mode == "v2v":
            counts = [n for n in restyle_frame_counts(variant) if n <= min(num_frames, len(frames))]
            if not counts:
                raise _too_short_to_restyle(variant, len(frames))
            used = counts[-1]
            if info.duration > used / variant.fps + 0.5:
                run.notices.append(Text(
                    f"Restyled the first {used / variant.fps:.1f} s of the {info.duration:.1f} s clip: "
                    f"{variant.name} makes at most {used} frames at {variant.fps} fps.",
                    f"已转绘这段 {info.duration:.1f} 秒视频的前 {used / variant.fps:.1f} 秒："
                    f"{variant.name} 一次最多生成 {used} 帧（{variant.fps} fps）。",
                ))
            frames = frames[:used]
        if info.portrait and width > height:
            run.notices.append(Text(
                f"The vertical video was center-cropped to {width}×{height}: the model makes landscape video.",
                f"竖屏视频已居中裁剪为 {width}×{height}：该模型生成横屏视频。",
            ))
        run.lap("clip")
        run.check_cancel()
        # Restyled, the clip's length is the video's; extended, each new part is `num_frames` long.
        return frames, len(frames) if request.mode == "v2v" else num_frames, height, width

    def _extend(self, job: RenderJob, clip: np.ndarray, request: VideoRequest, run: "_Run"):
        """Continue the clip `request.extensions` times, each part from the last frame of the one
        before, and join them (the duplicated join frame dropped). Returns (frames, frame counts
        of the clip and of each new part)."""
        from cogvideo.media import clips

        parts = [clip]
        count = request.extensions
        for index in range(count):
            run.check_cancel()
            part = dataclasses.replace(job, image=Image.fromarray(parts[-1][-1]),
                                       seed=(job.seed + index) % (MAX_SEED + 1))
            parts.append(self._render(part, run, part=(index, count)))
        joined = clips.join_parts(parts, crossfade=CROSSFADE_FRAMES if request.crossfade else 0)
        return joined, tuple(len(p) for p in parts)

    def _render(self, job: RenderJob, run: "_Run", part: tuple[int, int] | None = None):
        """Frames of one render; `part` (index, count) when it is one of several (extend)."""
        def on_status(text: Text, fraction: float | None) -> None:
            run.report(ProgressEvent("load", fraction, text))

        def on_step(step: int, total: int) -> None:
            if part is None:
                run.report(ProgressEvent(
                    "render", step / total, Text(f"Denoising step {step}/{total}", f"去噪第 {step}/{total} 步")
                ))
                return
            index, count = part
            run.report(ProgressEvent(
                "render", (index + step / total) / count, Text(
                    f"Part {index + 1}/{count} · denoising step {step}/{total}",
                    f"第 {index + 1}/{count} 段 · 去噪第 {step}/{total} 步",
                ),
            ))

        return self.engine.render(job, on_step=on_step, should_cancel=run.should_cancel, on_status=on_status,
                                  on_notice=run.notices.append)

    def _post_process(self, request: VideoRequest, style, frames, fps: float, run: "_Run"):
        """The style's frame filter, then interpolation and upscaling: (frames, fps, ffmpeg
        filters, upscale method)."""
        from cogvideo.catalogues.styles import apply_post

        frames = apply_post(style, frames)
        if not (request.upscale or request.interpolate):
            return frames, fps, (), None
        from cogvideo.media.enhance import plan_post

        run.report(ProgressEvent("post", None, Text("Upscaling / smoothing motion…", "正在超分 / 补帧…")))
        upscaler = self._upscaler_for_device() if request.upscale else None
        try:
            post = plan_post(frames, fps, upscale=request.upscale, interpolate=request.interpolate,
                             upscaler=upscaler)
        except ModelFileError as exc:
            # A broken upscaler file must not cost the user the video they waited for. The file's
            # name and setting are for the log; the notice says it plainly.
            log.warning("%s", exc.en)
            run.notices.append(exc.for_people)
            post = plan_post(frames, fps, upscale=request.upscale, interpolate=request.interpolate,
                             method="lanczos")
        self._park(upscaler)
        if post.upscale_method == "lanczos":
            run.notices.append(Text(
                "Upscaled to 2× with Lanczos (Real-ESRGAN needs a GPU and its weights).",
                "已使用 Lanczos 放大 2 倍（Real-ESRGAN 需要 GPU 和模型权重）。",
            ))
        return post.frames, post.fps, post.filters, post.upscale_method

    def _write(self, frames, fps: float, filters, music_file: Path | None, volume: float, run: "_Run"):
        """Encode to a file of its own, then lay the music under it by stream copy: (video,
        cover, music used).

        Files are written under temporary names and renamed when complete: a crash or a full
        disk leaves no half-written video behind. Past this point the job is not cancelled any
        more: the render is done and the rest takes seconds.
        """
        final_path = codec.unique_video_path(self.output_dir)
        partial = [final_path.with_name(final_path.stem + ".part.mp4")]
        try:
            run.report(ProgressEvent("encode", None, Text("Encoding the MP4…", "正在编码 MP4…")))
            codec.encode_mp4(frames, fps, partial[0], filters=filters)
            run.lap("encode")
            if music_file:
                music_file = self._add_music(partial, music_file, volume, run)
                run.lap("music")
            os.replace(partial[-1], final_path)
            cover = codec.save_cover(frames[0], final_path.with_suffix(".jpg"))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFull(self.output_dir) from None
            raise
        finally:
            for path in partial:
                path.unlink(missing_ok=True)
        return final_path, cover, music_file

    def _add_music(self, partial: list[Path], music_file: Path, volume: float, run: "_Run") -> Path | None:
        """Mux the track into a new partial file (appended to `partial`); the track used, or None
        when the music failed and the silent video is kept."""
        from cogvideo.media.music import add_music

        run.report(ProgressEvent("music", None, Text("Adding music…", "正在添加配乐…")))
        with_music = partial[0].with_name(partial[0].name.replace(".part.mp4", ".music.part.mp4"))
        try:
            add_music(partial[0], music_file, with_music, volume=volume)
        except AudioError as exc:
            # The video took minutes of GPU time: keep it, silent, and say why.
            with_music.unlink(missing_ok=True)
            run.notices.append(exc.text)
            return None
        partial.append(with_music)
        return music_file

    def validate(self, request: VideoRequest) -> None:
        """Every check `generate` makes before heavy work, so a job service can refuse a bad
        request at submit time instead of after it waited in line."""
        from cogvideo.catalogues.styles import get_style

        variant, _, height, width = self._check(request)
        get_style(request.style, self.styles)
        self._check_music(request.music)
        if request.mode in ("i2v", "old_photo"):
            codec.load_image(request.image)
        if request.needs_video:
            from cogvideo.media.clips import check_decoded_size, probe_clip

            info = probe_clip(request.video)  # its header only: limits refuse a 2-hour or 8K file at once
            if request.mode == "extend":
                # Extending keeps the whole clip at the model's size: 33 s at most on Wan2.2's 1280×704.
                height, width = _clip_size(request, variant, height, width, info)
                check_decoded_size(request.video, info, variant.fps, (width, height))
            if request.mode == "v2v":
                variant = self.engine.variant("t2v")
                # From the header's length: a clip far too short is refused now, not after its wait.
                frames = int(info.duration * variant.fps + 0.5)
                if frames < restyle_frame_counts(variant)[0] - 1:
                    raise _too_short_to_restyle(variant, frames)

    def export_gif(self, video: str | Path, width: int = 480, fps: float | None = None):
        """The video as an animated GIF (a `gif.GifResult`) in the output folder's `gifs/`, where
        GIFs older than a day are removed (`downloads.sweep`): a download, not a work (the faces
        that keep one beside its job's video move it there)."""
        from cogvideo.media import gif

        width, fps = gif.check_gif_options(width, gif.DEFAULT_GIF_FPS if fps is None else fps)
        downloads.sweep(self.output_dir)
        out = downloads.new_path(self.output_dir, downloads.GIF_FOLDER)
        return gif.export_gif(video, out, width=width, fps=fps)

    def _loras_used(self, request: VideoRequest) -> dict[str, float] | None:
        if not self.engine.loras:
            return None
        asked = {} if self.engine.lora_scales_fixed else dict(request.lora_scales or {})
        return {spec.name: float(asked.get(spec.name, spec.scale)) for spec in self.engine.loras}

    @property
    def lora_scales_fixed(self) -> bool:
        """Whether the LoRAs' scales are set at start and cannot change per video (--compile:
        see Engine._use_lora_scales)."""
        return self.engine.lora_scales_fixed

    @property
    def loras(self):
        """The LoRAs loaded with the model (`lora.LoraSpec`s: name, default scale)."""
        return self.engine.loras

    def change_music(self, video: str | Path, music: str | Path | None, volume: float = 0.8) -> Path:
        """Lay another track under a finished video, without rendering again. The new MP4 is a
        download in the output folder's `music-swaps/`, removed a day later (`downloads.sweep`)
        unless a face keeps it elsewhere."""
        from cogvideo.media.music import change_music

        downloads.sweep(self.output_dir)
        out = downloads.new_path(self.output_dir, downloads.SWAP_FOLDER)
        return change_music(video, music or "none", out, volume=volume)

    # ------------------------------------------------------------ validation

    def _check(self, request: VideoRequest) -> tuple[models.Variant, int, int, int]:
        """The request's variant, frame count and size, or the first thing wrong with it: the mode,
        the prompt, the picture or clip the mode needs, the mode's own options, the LoRA scales,
        the numbers, whether the speed fits this card, then frames and size."""
        _check_mode(request)
        if not self.serves(request.model):
            raise InvalidRequest(
                f"model={request.model!r} is not served here: this studio runs {self.model}.",
                f"本服务不提供模型 {request.model!r}：当前运行的是 {self.model}。",
            )
        if request.task not in self.engine.variants:
            # Named by the mode asked for: an old photo or an extension needs image to video.
            raise models.missing_task(next(iter(self.engine.variants.values())), request.task, mode=request.mode)
        variant = self.engine.variant(request.task)
        _check_prompt(request, variant, self.reads_chinese)
        _check_sources(request)
        _check_mode_options(request)
        if request.lora_scales:
            from cogvideo.engine.lora import check_lora_scales

            check_lora_scales(request.lora_scales, self.engine.loras)
        _check_numbers(request)
        self.engine.check_speed_fits(speed.check_speed(request.speed or self.default_speed))
        num_frames = variant.num_frames if request.num_frames is None else request.num_frames
        num_frames = models.check_frames(variant, num_frames)
        height, width = models.check_size(variant, request.height, request.width)
        return variant, num_frames, height, width

    def _check_music(self, music: str | Path | None) -> Path | None:
        """The track file, or the user's file after a quick decode: refused before any rendering."""
        if music is None or str(music).strip().lower() in ("", "none"):
            return None
        from cogvideo.media.music import check_audio, load_tracks, resolve_music

        path = resolve_music(music)
        if path is not None and path not in {t.file for t in load_tracks().values()}:
            check_audio(path)
        return path

    def _park(self, helper) -> None:
        """Helper models leave the GPU after use unless the video model has it all to itself."""
        if helper is not None and hasattr(helper, "park") and self.engine.offload != "none":
            helper.park()

    def _upscaler_for_device(self):
        if self.engine.device.type == "cpu":
            return None
        if self._upscaler is None:
            from cogvideo.media.enhance import Upscaler

            self._upscaler = Upscaler(device=str(self.engine.device))
        return self._upscaler


def _clip_size(request: VideoRequest, variant: models.Variant, height: int, width: int, info) -> tuple[int, int]:
    """The render size for a clip: the one asked for, or the clip's shape where the model follows it."""
    if models.sizes_follow_input(variant) and request.height is None and request.width is None:
        return models.size_for_picture(variant, info.width, info.height)
    return height, width


def _check_mode(request: VideoRequest) -> None:
    if request.mode not in MODES:
        raise InvalidRequest(
            f"mode={request.mode!r} is not one of {', '.join(MODES)}.",
            f"模式 {request.mode!r} 无效，可选：{', '.join(MODES)}。",
        )


def _check_prompt(request: VideoRequest, variant: models.Variant, reads_chinese: bool) -> None:
    prompt = request.prompt if isinstance(request.prompt, str) else None
    if prompt is None or (not prompt.strip() and request.mode not in ("old_photo", "v2v")):
        # English is best only for a model whose text encoder reads English alone (CogVideoX's T5).
        raise InvalidRequest(
            "The prompt is empty. Describe the video you want"
            + ("" if reads_chinese else " (in English for best results)") + ", or use “Help me write one”.",
            "提示词为空。请描述你想要的视频" + ("（中文或英文均可）" if reads_chinese else "（英文效果最佳）")
            + "，或点击“帮我想一条”。",
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"The prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}. "
            f"The model reads only about {variant.max_tokens} tokens anyway.",
            f"提示词有 {len(prompt)} 个字符，上限为 {MAX_PROMPT_CHARS}；模型也只读取约 {variant.max_tokens} 个 token。",
        )
    negative = request.negative_prompt
    if isinstance(negative, str) and len(negative) > MAX_PROMPT_CHARS:  # kept with the job, read by every listing
        raise InvalidRequest(
            f"The negative prompt is {len(negative)} characters; the limit is {MAX_PROMPT_CHARS}. "
            f"The model reads only about {variant.max_tokens} tokens of it.",
            f"反向提示词有 {len(negative)} 个字符，上限为 {MAX_PROMPT_CHARS}；模型只读取约 {variant.max_tokens} 个 token。",
        )
    for name, text, zh_name in (("prompt", prompt, "提示词"), ("negative_prompt", negative, "反向提示词")):
        if isinstance(text, str) and not is_unicode(text):
            raise InvalidRequest(
                f"The {name.replace('_', ' ')} contains a broken character (a lone UTF-16 surrogate, e.g. an "
                "unpaired \\ud800 escape in JSON). Send it as plain UTF-8 text.",
                f"{zh_name}中有损坏的字符（不成对的 UTF-16 代理项，例如 JSON 中单独的 \\ud800 转义）。请以正常的 UTF-8 "
                "文本发送。",
            )


def _check_sources(request: VideoRequest) -> None:
    """The picture or clip the mode starts from is there."""
    if request.mode in ("i2v", "old_photo") and request.image is None:
        raise InvalidRequest(
            "Upload a picture first: image-to-video starts from your image.",
            "请先上传一张图片：图生视频需要以图片作为第一帧。",
        )
    if request.needs_video and (request.video is None or not str(request.video).strip()):
        raise InvalidRequest(
            "Upload a video first (MP4, MOV or WebM, up to 60 s): "
            + ("restyling repaints your clip." if request.mode == "v2v" else "extending continues your clip."),
            "请先上传一段视频（MP4、MOV 或 WebM，最长 60 秒）："
            + ("视频转绘会重绘你的视频。" if request.mode == "v2v" else "续写会接着你的视频继续生成。"),
        )


def _check_mode_options(request: VideoRequest) -> None:
    """Restyle's strength (and that it runs a step at all), extend's number of parts."""
    if request.mode == "v2v":
        strength = request.strength
        if not models._is_number(strength) or not MIN_STRENGTH <= strength <= MAX_STRENGTH:
            raise InvalidRequest(
                f"strength={strength!r} must be between {MIN_STRENGTH} and {MAX_STRENGTH} ({MIN_STRENGTH} stays "
                f"close to the clip, {MAX_STRENGTH} keeps only its layout and motion; {DEFAULTS.strength} is the "
                "default).",
                f"转绘强度 {strength!r} 必须在 {MIN_STRENGTH} 到 {MAX_STRENGTH} 之间（{MIN_STRENGTH} 贴近原视频，"
                f"{MAX_STRENGTH} 只保留构图和动作；默认 {DEFAULTS.strength}）。",
            )
        steps = request.num_inference_steps
        if isinstance(steps, int) and 1 <= steps <= MAX_STEPS and int(steps * strength) < 1:
            raise InvalidRequest(
                f"strength={strength:g} with {steps} steps runs no denoising step (restyling runs "
                f"strength × steps of them). Raise the steps to at least {math.ceil(1 / strength)} or the strength.",
                f"转绘强度 {strength:g} 配合 {steps} 步时一步都不会运行（转绘实际运行 强度 × 步数 步）。"
                f"请把步数提高到至少 {math.ceil(1 / strength)}，或提高强度。",
            )
    if request.mode == "extend":
        count = request.extensions
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_EXTENSIONS:
            raise InvalidRequest(
                f"extensions={count!r} must be a whole number from 1 to {MAX_EXTENSIONS}: each adds one "
                f"clip's length to the video.",
                f"续写段数 {count!r} 必须是 1 到 {MAX_EXTENSIONS} 之间的整数：每段增加一个片段的长度。",
            )


def _check_numbers(request: VideoRequest) -> None:
    """Steps, guidance, seed and music volume, each with its range and default."""
    steps = request.num_inference_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise InvalidRequest(
            f"num_inference_steps={steps!r} must be a whole number from 1 to {MAX_STEPS} "
            f"({DEFAULTS.num_inference_steps} is the default).",
            f"采样步数 {steps!r} 必须是 1 到 {MAX_STEPS} 之间的整数（默认 {DEFAULTS.num_inference_steps}）。",
        )
    guidance = request.guidance_scale
    if guidance is not None and (not models._is_number(guidance) or not 0 <= guidance <= MAX_GUIDANCE):
        raise InvalidRequest(
            f"guidance_scale={guidance!r} must be between 0 and {MAX_GUIDANCE:g} (leave it empty for the model's own).",
            f"引导系数 {guidance!r} 必须在 0 到 {MAX_GUIDANCE:g} 之间（留空则用模型的默认值）。",
        )
    seed = request.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not (seed == -1 or 0 <= seed <= MAX_SEED):
        raise InvalidRequest(
            f"seed={seed!r} must be -1 (random) or a whole number from 0 to {MAX_SEED}.",
            f"种子 {seed!r} 必须为 -1（随机）或 0 到 {MAX_SEED} 之间的整数。",
        )
    volume = request.music_volume
    if not models._is_number(volume) or not 0 <= volume <= 1:
        raise InvalidRequest(
            f"music_volume={volume!r} must be between 0 and 1.",
            f"音量 {volume!r} 必须在 0 到 1 之间。",
        )
