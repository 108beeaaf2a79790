"""REST endpoints in the shapes of Zhipu's open platform (智谱开放平台), so code written for
`zai-sdk` / `zhipuai` runs against this studio by changing only `base_url`.

    POST   /api/paas/v4/videos/generations     submit  -> {id, model, request_id, task_status}
    GET    /api/paas/v4/async-result/{id}      follow  -> {..., task_status, video_result: [{url, cover_image_url}]}
    GET    /api/paas/v4/videos                 the caller's jobs, newest first (ours)
    DELETE /api/paas/v4/async-result/{id}      cancel (ours)
    GET    /api/paas/v4/async-result/{id}/gif  a finished video as a GIF (ours) -> {gif_url, width, ...}
    GET    /api/files/{token}/video.mp4|cover.jpg|video-480w-8fps.gif   the files, without a key
                                                                         (long random path per job)

Beyond Zhipu's text and image to video, our `mode` "v2v" (restyle a clip) and "extend" (continue
it) take the clip as `video_url`: it is written to a temporary file, checked, handed to the job
service (which copies it into the job's data folder) and removed when the submit returns.

Mounted on the Gradio app at /api (one port for UI and API); its OpenAPI page is /api/docs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bilingual import BilingualError, Text, lang_of, pick
from cogvideo import Studio, VideoRequest
from cogvideo.errors import InvalidRequest, StudioError
from cogvideo.media.clips import MAX_CLIP_SECONDS, MAX_CLIP_SIDE
from cogvideo.media.gif import DEFAULT_GIF_FPS, GIF_WIDTHS, check_gif_options
from cogvideo.request import (CLIP_MODES, MAX_EXTENSIONS, MAX_STRENGTH, MIN_STRENGTH, MODE_TASKS, OLD_PHOTO_MUSIC,
                              SpeedId)
from jobs import JobService
from jobs.errors import DailyQuotaSpent, TooManyJobs
from jobs.job import CANCELLED, FAILED, QUEUED, SUCCEEDED, Job
from jobs.keys import ApiKeys, Principal

from . import errors
from .auth import authorize as check_key
from .bodies import KeyBeforeBody
from .errors import ApiError
from .inputs import MAX_VIDEO_BYTES, image_from_url, video_from_url
from .limits import RateLimiter
from .swagger import add_offline_docs

log = logging.getLogger("cogvideo.api")

PREFIX = "/paas/v4"
# Zhipu's model names: they mean CogVideoX, so only a CogVideoX studio answers to them.
ZHIPU_MODELS = ("cogvideox", "cogvideox-2", "cogvideox-3", "cogvideox-flash")
SIZE = re.compile(r"^\s*(\d{2,5})\s*[x×*]\s*(\d{2,5})\s*$")
# A finished video's GIF, as the files route names it: video-480w-8fps.gif (made by the gif route).
GIF_NAME = re.compile(r"^video-\d{1,5}w-\d{1,3}(\.\d{1,6})?fps\.gif$")
# GIFs encode on the CPU in the web server's threads: at most this many at once (the UI's limit too).
_GIF_SLOTS = threading.BoundedSemaphore(2)


class VideoGenerationBody(BaseModel):
    """What `client.videos.generations(...)` sends. Every field may be JSON null (= the default)."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, json_schema_extra={"examples": [
        {"model": "cogvideox", "prompt": "A red paper boat floats down a rainy street at night", "with_audio": True},
        {"model": "cogvideox", "prompt": "the boat drifts away", "image_url": "data:image/png;base64,iVBORw0KG..."},
        {"model": "cogvideox", "prompt": "a lighthouse at dawn", "style": "cinematic", "seed": 42,
         "num_inference_steps": 50, "negative_prompt": "blurry", "request_id": "my-order-1"},
        {"model": "cogvideox", "prompt": "the same street as a watercolor painting", "mode": "v2v",
         "video_url": "data:video/mp4;base64,AAAAIGZ0eXBpc29t...", "strength": 0.6},
        {"model": "cogvideox", "prompt": "the boat sails on into the fog", "mode": "extend",
         "video_url": "data:video/mp4;base64,AAAAIGZ0eXBpc29t...", "extensions": 2, "crossfade": True},
    ]})

    model: str | None = Field(None, description="the served model's name (5b, wan2.1-1.3b, ...; a refusal lists "
                                                "them); on a CogVideoX server also cogvideox, cogvideox-2, "
                                                "cogvideox-3, cogvideox-flash. Absent: the served model")
    prompt: str | None = Field(None, description="what happens in the video (CogVideoX reads English best; Wan "
                                                 "reads Chinese as it is)")
    image_url: str | list[str] | None = Field(None, description="first frame: a data:image/...;base64, URL or plain "
                                                                "base64 (http(s) only with --allow-url-fetch)")
    quality: Literal["quality", "speed"] | None = Field(
        None, description="Zhipu's trade-off: 'quality' runs every step in full, 'speed' is our Fast preset "
                          "(absent: the server's --speed)")
    with_audio: bool | None = Field(None, description="lay the style's suggested music track under the video")
    size: str | None = Field(None, description="WIDTHxHEIGHT, one the loaded model renders, e.g. 720x480 (a refusal "
                                               "lists them)")
    fps: int | None = Field(None, description="the model's fps, or twice it (frame interpolation)")
    duration: int | None = Field(None, description="seconds; the model's frame limits apply")
    request_id: str | None = Field(None, max_length=128, description="idempotency key: the same id gives the same job")
    user_id: str | None = None
    style: str | None = Field(None, description="style preset id (GET the list from the UI or `python -m cogvideo styles`)")
    aspect_ratio: str | None = Field(None, description="a shape the loaded model offers by name, e.g. 16:9 or 9:16 "
                                                       "(a refusal lists them); size wins when both agree")
    off_peak: bool | None = None
    movement_amplitude: str | None = None
    # Ours, beyond Zhipu's fields:
    speed: SpeedId | None = Field(
        None, description="our speed preset (docs/speed.md); wins over `quality` when both are sent")
    negative_prompt: str | None = None
    seed: int | None = Field(None, description="-1 or absent: random; the seed used is reported")
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    music: str | None = Field(None, description="a track id, or none")
    upscale: bool | None = None
    mode: Literal["t2v", "i2v", "old_photo", "v2v", "extend"] | None = Field(
        None, description="absent: i2v with image_url, else t2v. v2v (restyle) and extend need video_url, "
                          "and video_url needs one of them")
    colorize: bool | None = None
    video_url: str | None = Field(
        None, description="v2v / extend: the clip, a data:video/mp4;base64, URL or plain base64 of an MP4, MOV, "
                          f"WebM or MKV (≤ {MAX_VIDEO_BYTES // 2**20} MB decoded, ≤ {MAX_CLIP_SECONDS:g} s, ≤ "
                          f"{MAX_CLIP_SIDE} px a side; http(s) only with --allow-url-fetch)")
    strength: float | None = Field(
        None, description=f"v2v: how far from the clip, {MIN_STRENGTH} (close) to {MAX_STRENGTH} (only its layout "
                          "and motion kept); 0.7 when absent. Runs strength × num_inference_steps steps")
    extensions: int | None = Field(
        None, description=f"extend: parts to add (1 to {MAX_EXTENSIONS}), each one clip of the model's length; 1 when "
                          "absent. Sets the length: duration is refused with extend")
    crossfade: bool | None = Field(None, description="extend: fade each new part in over a few frames instead of a cut")


@dataclass(frozen=True)
class ApiOptions:
    public_url: str | None = None  # e.g. https://studio.example.com; else from the request (X-Forwarded-*)
    allow_url_fetch: bool = False
    rate_limit: int = 60  # submits per minute per key (other calls: ten times that); 0 = off


def build_api(service: JobService, studio: Studio, options: ApiOptions = ApiOptions()) -> FastAPI:
    keys = ApiKeys(service.store)
    # Submits cost GPU time; polls cost one row read, and the SDKs poll every few seconds.
    submits, reads = RateLimiter(options.rate_limit), RateLimiter(options.rate_limit * 10)
    app = FastAPI(title="CogVideoX Studio API", version="1",
                  description="Zhipu-compatible video generation (text and image to video) on the open CogVideoX "
                              "and Wan models (one served per server: `model` names it), plus restyling (mode v2v) and extending (mode extend) a clip sent as "
                              "video_url. Authorization: Bearer <key> (`python -m cogvideo keys add NAME`).",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    add_offline_docs(app)  # /docs, with Swagger UI from a package (FastAPI's loads it from a CDN)
    app.add_middleware(KeyBeforeBody, keys=keys, prefix=PREFIX)  # no key, no body read (api/bodies.py)

    # ------------------------------------------------------------ errors, in the platform's shape

    def lang_for(request: Request) -> str:
        return lang_of(request.headers.get("accept-language"))

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError):
        return exc.response(lang_for(request))

    @app.exception_handler(RequestValidationError)
    async def on_bad_body(request: Request, exc: RequestValidationError):
        return bad_body(exc).response(lang_for(request))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        # FastAPI's own: an unknown route, a body its parser gave up on (e.g. nested 10,000 deep)
        response = errors.http_error(exc.status_code, request.method, request.url.path).response(lang_for(request))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(BilingualError)  # ours (an ApiError has its own handler, above)
    async def on_our_error(request: Request, exc: BilingualError):
        if exc.status >= 500:  # the server's side: its operator needs to see it
            log.warning("API request failed (%s): %s", type(exc).__name__, exc.en)
        return api_error(exc).response(lang_for(request))

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception):
        log.error("API request failed", exc_info=exc)
        return ApiError(500, errors.INTERNAL, f"The server failed ({type(exc).__name__}); the details are in its log.",
                        f"服务器出错（{type(exc).__name__}），详细信息已写入服务器日志。").response(lang_for(request))

    # ------------------------------------------------------------ who is calling

    # Async: a status poll is a few row reads, cheaper than a hop to the thread pool (the SDKs poll
    # often, and a server may have hundreds of pollers while the GPU works).
    async def caller(request: Request) -> Principal:
        return authorize(request, reads)

    def submitter(request: Request) -> Principal:
        return authorize(request, submits)

    def authorize(request: Request, limiter: RateLimiter) -> Principal:
        return check_key(keys, request.headers.get("authorization", ""), limiter)

    # ------------------------------------------------------------ endpoints

    @app.post(f"{PREFIX}/videos/generations",
              summary="Generate a video (text or image to video; restyle or extend a clip: mode v2v, extend)",
              response_description="the task: poll GET /async-result/{id}")
    def generate(body: VideoGenerationBody, principal: Principal = Depends(submitter)) -> dict:
        with contextlib.ExitStack() as scratch:  # a video_url's file lives until the service has copied it
            request = to_video_request(body, studio, options.allow_url_fetch, scratch)
            job = service.submit(request, owner=principal.owner, request_id=body.request_id,
                                 api_key=principal.key_id)
        return {"id": job.id, "model": job.model or studio.model, "request_id": job.request_id or job.id,
                "task_status": task_status(job)}

    @app.get(f"{PREFIX}/async-result/{{task_id}}", summary="A task's status and, when done, its video")
    async def result(task_id: str, request: Request, principal: Principal = Depends(caller)) -> dict:
        job = service.get(task_id, principal.owner)
        # Beside Zhipu's fields: place in line and expected seconds to start and finish (None: unknown yet).
        return {**task(job, base_url(request, options), lang_for(request)), **service.expected(job).fields()}

    # Not async: a cancel writes to the database, which may wait on a lock; never on the event loop.
    @app.delete(f"{PREFIX}/async-result/{{task_id}}", summary="Cancel a task (ours)")
    def cancel(task_id: str, request: Request, principal: Principal = Depends(caller)) -> dict:
        return task(service.cancel(task_id, principal.owner), base_url(request, options), lang_for(request))

    @app.get(f"{PREFIX}/videos", summary="The caller's tasks, newest first (ours)")
    async def listing(request: Request, limit: int = 50, principal: Principal = Depends(caller)) -> dict:
        jobs = service.works(principal.owner, limit=max(1, min(limit, 500)))
        lang = lang_for(request)
        return {"object": "list", "data": [task(job, base_url(request, options), lang) for job in jobs]}

    @app.get(f"{PREFIX}/async-result/{{task_id}}/gif", summary="A finished task's video as an animated GIF (ours)",
             response_description="{id, gif_url, width, height, fps, frames, size_bytes}; the same width and fps "
                                  "give the same file, made once")
    def gif(task_id: str, request: Request, width: int = GIF_WIDTHS[0], fps: float = DEFAULT_GIF_FPS,
            principal: Principal = Depends(submitter)) -> dict:
        # The submit limiter: a first GIF of a video costs seconds of CPU.
        job = service.get(task_id, principal.owner)
        made = job_gif(studio, job, width, fps)
        return {"id": job.id, "gif_url": f"{base_url(request, options)}/files/{job.file_token}/{made.pop('name')}",
                **made}

    @app.get("/files/{token}/{name}", summary="A task's video, cover or GIF (no key: the path is the secret)")
    def files(token: str, name: str):
        job = service.store.by_file_token(token) if len(token) < 100 else None
        path = None if job is None else {"video.mp4": job.video, "cover.jpg": job.cover}.get(name)
        if job is not None and job.video and GIF_NAME.match(name):
            path = gif_path(job.video, name)
        if path is None or not Path(path).is_file():
            raise ApiError(404, errors.JOB_NOT_FOUND, "No such file (the task may have been deleted).",
                           "没有这个文件（任务可能已被删除）。")
        kind = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".gif": "image/gif"}[Path(name).suffix]
        try:
            return FileResponse(path, media_type=kind)
        except OSError:
            raise ApiError(404, errors.JOB_NOT_FOUND, "The file is gone.", "文件已不存在。") from None

    return app


# ---------------------------------------------------------------- mapping

# Zhipu's `quality` values -> our speed presets.
ZHIPU_QUALITY = {"quality": "quality", "speed": "fast"}


def to_video_request(body: VideoGenerationBody, studio: Studio, allow_fetch: bool,
                     scratch: contextlib.ExitStack | None = None) -> VideoRequest:
    """Zhipu's fields -> our request; each bad value named with what is allowed.

    A `video_url` is written to a temporary folder that `scratch` removes when it closes: submit
    the request before that (the job service copies the clip). Without `scratch`, a request with
    a `video_url` is a programming error."""
    # 1. The model and the mode (the file fields decide it when it is absent).
    check_model(body.model, studio)
    if isinstance(body.image_url, list):
        if len(body.image_url) != 1:
            raise invalid("image_url", "image_url takes one picture here (first and last frames are not supported).",
                          "image_url 只能提供一张图片（不支持首尾帧）。")
        body = body.model_copy(update={"image_url": body.image_url[0]})
    mode = check_mode(body)
    variant = studio.variant(MODE_TASKS[mode])  # "cannot do image-to-video" for a T2V-only model
    values: dict = {"prompt": body.prompt or "", "mode": mode, "model": studio.model}
    # 2. Size, frame rate, length.
    if body.size is not None:
        match = SIZE.match(body.size)
        if not match:
            raise invalid("size", f"size {body.size!r} must look like WIDTHxHEIGHT, e.g. "
                                  f"{variant.width}x{variant.height}.",
                          f"size {body.size!r} 的格式应为 宽x高，例如 {variant.width}x{variant.height}。")
        values["width"], values["height"] = int(match.group(1)), int(match.group(2))
        if 0 in (values["width"], values["height"]):  # the studio reads 0 as "the model's own": say so instead
            raise invalid("size", f"size {body.size!r} has a side of 0 pixels. Sizes: {variant.sizes_text()}; "
                                  "or leave size out for the model's own.",
                          f"size {body.size!r} 有一边为 0 像素。可选尺寸：{variant.sizes_text()}；不填则使用模型默认尺寸。")
    if body.aspect_ratio is not None and body.aspect_ratio.strip():
        _size_by_ratio(body.aspect_ratio, variant, values)
    if body.fps is not None and body.fps not in (variant.fps, 2 * variant.fps):
        raise invalid("fps", f"fps={body.fps} is not possible; use {variant.fps} (the model's) or {2 * variant.fps} "
                             "(frame interpolation).",
                      f"fps={body.fps} 不可用；可选 {variant.fps}（模型原生）或 {2 * variant.fps}（补帧）。")
    values["interpolate"] = body.fps == 2 * variant.fps
    if body.duration is not None and mode == "extend":
        part = (variant.num_frames - 1) / variant.fps  # a part's first frame repeats the join frame
        raise invalid("duration", f"duration does not apply to mode 'extend': extensions sets the length (1 to "
                                  f"{MAX_EXTENSIONS} parts, each adding {part:g} s with {variant.name}).",
                      f"mode 为 'extend' 时不能使用 duration：长度由 extensions 决定（1 到 {MAX_EXTENSIONS} 段，"
                      f"{variant.name} 每段增加 {part:g} 秒）。")
    if body.duration is not None:
        seconds = {(n - 1) // variant.fps: n for n in variant.allowed_frames() if (n - 1) % variant.fps == 0}
        if body.duration not in seconds:
            raise invalid("duration", f"duration={body.duration} s is not possible with {variant.name}; use "
                                      f"{', '.join(map(str, sorted(seconds)))} s.",
                          f"{variant.name} 不支持 duration={body.duration} 秒；可选 "
                          f"{', '.join(map(str, sorted(seconds)))} 秒。")
        values["num_frames"] = seconds[body.duration]
    # 3. Our own fields, checked by the studio at submit.
    for name in ("negative_prompt", "seed", "num_inference_steps", "guidance_scale", "style", "colorize",
                 "strength", "extensions", "crossfade"):
        value = getattr(body, name)
        if value is not None:
            values[name] = value
    if body.upscale is not None:
        values["upscale"] = body.upscale
    if body.speed or body.quality:
        values["speed"] = body.speed or ZHIPU_QUALITY[body.quality]
    music = body.music
    if music is None and body.with_audio:
        from cogvideo.catalogues.styles import get_style

        music = get_style(body.style or "none", studio.styles).music or (OLD_PHOTO_MUSIC if mode == "old_photo" else "calm")
    values["music"] = music or "none"
    _check_track(values["music"])
    # 4. The files, last: decoding is the costly part.
    if body.image_url:
        values["image"] = image_from_url(body.image_url, allow_fetch=allow_fetch)
    elif mode in ("i2v", "old_photo"):
        raise invalid("image_url", f"mode {mode!r} starts from a picture: send image_url (a data URL or base64).",
                      f"mode {mode!r} 需要图片：请提供 image_url（data URL 或 base64）。")
    if body.video_url:
        if scratch is None:
            raise TypeError("to_video_request needs `scratch` for a video_url: it removes the clip's temporary file")
        folder = scratch.enter_context(tempfile.TemporaryDirectory(prefix="cogvideo-video-url-"))
        values["video"] = video_from_url(body.video_url, folder, allow_fetch=allow_fetch)
    elif mode in CLIP_MODES:
        action_en, action_zh = ("restyles", "转绘") if mode == "v2v" else ("continues", "续写")
        raise invalid("video_url", f"mode {mode!r} {action_en} a clip: send video_url (a data:video/mp4;base64, URL "
                                   f"or plain base64 of an MP4, MOV, WebM or MKV file).",
                      f"mode {mode!r} 需要{action_zh}一段视频：请提供 video_url（data:video/mp4;base64, 形式的 "
                      "data URL，或 MP4、MOV、WebM、MKV 文件的 base64）。")
    return VideoRequest(**values)


def served_models(studio: Studio) -> list[str]:
    """The names a caller may send as `model`: the served model's own (its variants', e.g.
    "wan2.2-5b" and "wan2.2-5b-i2v"), and Zhipu's names where they mean this model (its CogVideoX
    family): code written for Zhipu keeps working against a CogVideoX studio, and never gets a
    Wan video where it asked for CogVideoX."""
    own = [v.name for v in studio.variants.values()]
    return own + list(ZHIPU_MODELS) if studio.family_name == "CogVideoX" else own


def check_model(model: str | None, studio: Studio) -> None:
    """Refuse, as Zhipu does (1211, 模型不存在), a `model` this studio does not serve, naming those it does."""
    if model is None:
        return
    served = served_models(studio)
    if model.strip().lower() not in {name.lower() for name in served}:
        raise ApiError(400, errors.MODEL_NOT_FOUND,
                       f"model {model!r} is not served here: this server runs {studio.model}. Send one of: "
                       f"{', '.join(served)} (or leave model out).",
                       f"模型不存在：本服务器不提供 {model!r}，当前运行的是 {studio.model}。可用的 model："
                       f"{', '.join(served)}（也可以不填）。")


def _check_track(music: str) -> None:
    """Music here is a track id (or "none"): text the studio never reads as a path, refused
    before any file is decoded, with the ids to choose from."""
    from cogvideo.media.music import resolve_music

    try:
        resolve_music(music)
    except StudioError as exc:
        raise invalid("music", exc.en, exc.zh) from None


def check_mode(body: VideoGenerationBody) -> str:
    """The mode a body asks for, and its file and mode-only fields, consistent with it.

    Absent, the mode follows image_url (i2v, else t2v) as Zhipu's API does; a video_url needs the
    mode named, because restyling and extending the same clip are different jobs."""
    if body.mode is None and body.video_url:
        raise invalid("mode", "video_url needs a mode: 'v2v' to restyle the clip, or 'extend' to continue it.",
                      "提供 video_url 时必须指定 mode：'v2v' 为转绘视频，'extend' 为续写视频。")
    mode = body.mode or ("i2v" if body.image_url else "t2v")
    if mode == "t2v" and body.image_url:
        raise invalid("mode", "mode 't2v' takes no image_url; leave mode out (or use i2v) to start from the picture.",
                      "mode 为 't2v' 时不能带 image_url；省略 mode（或用 i2v）即可从图片开始。")
    if mode in CLIP_MODES and body.image_url:
        raise invalid("image_url", f"mode {mode!r} starts from the clip in video_url: leave image_url out.",
                      f"mode 为 {mode!r} 时从 video_url 的视频开始：请去掉 image_url。")
    if mode not in CLIP_MODES and body.video_url:
        raise invalid("video_url", f"mode {mode!r} takes no video_url; use mode 'v2v' to restyle the clip or "
                                   "'extend' to continue it.",
                      f"mode 为 {mode!r} 时不能带 video_url；转绘视频请用 mode 'v2v'，续写视频请用 'extend'。")
    for name, owner in (("strength", "v2v"), ("extensions", "extend"), ("crossfade", "extend")):
        if getattr(body, name) is not None and mode != owner:
            raise invalid(name, f"{name} applies to mode {owner!r} only (this request is {mode!r}).",
                          f"{name} 只适用于 mode {owner!r}（本请求为 {mode!r}）。")
    return mode


# ---------------------------------------------------------------- GIFs of finished tasks

def job_gif(studio: Studio, job: Job, width: int, fps: float) -> dict:
    """Make the GIF of a finished job beside its video, or reuse the one made before with the same
    width and fps: {name (for the files route), width, height, fps, frames, size_bytes}, as written
    (never wider or faster than the video)."""
    from PIL import Image

    width, fps = check_gif_options(width, fps)
    if job.status != SUCCEEDED or not job.video:
        state = {FAILED: ("failed", "已失败"), CANCELLED: ("was cancelled", "已取消")}.get(
            job.status, ("is not finished yet", "尚未完成"))
        raise invalid("task_id", f"Task {job.id} {state[0]}: it has no video to make a GIF of. Ask again once "
                                 "task_status is SUCCESS.",
                      f"任务 {job.id} {state[1]}，还没有可以做成 GIF 的视频。请在 task_status 为 SUCCESS 后再试。")
    name = f"video-{width}w-{fps:g}fps.gif"
    path = gif_path(job.video, name)
    if not path.is_file():
        with _GIF_SLOTS:
            if not path.is_file():  # not made meanwhile by the request that held the slot
                made = studio.export_gif(job.video, width, fps)
                os.replace(made.path, path)  # complete or absent, never half-written
    # Described from the file itself, so that a GIF made before a restart reads the same. GIF
    # delays are in hundredths of a second (ffmpeg alternates 12 and 13 for 8 fps): one decimal.
    with Image.open(path) as image:
        frames, total_ms = image.n_frames, 0
        for index in range(frames):
            image.seek(index)
            total_ms += image.info.get("duration", 0)
        size = image.size
    return {"name": name, "width": size[0], "height": size[1],
            "fps": round(frames * 1000 / total_ms, 1) if total_ms else fps, "frames": frames,
            "size_bytes": path.stat().st_size}


def gif_path(video: str | Path, name: str) -> Path:
    """Where a job's GIF called `name` (video-480w-8fps.gif) lives: beside the video, named after it."""
    video = Path(video)
    return video.with_name(video.stem + name[len("video"):])


def task_status(job: Job) -> str:
    return {SUCCEEDED: "SUCCESS", FAILED: "FAIL", CANCELLED: "FAIL"}.get(job.status, "PROCESSING")


def task(job: Job, base: str, lang: str = "both") -> dict:
    """The async-result shape, plus our own fields (extra fields are fine for the SDKs); `notices`
    (what the studio changed or skipped, e.g. the part of a clip it restyled) in `lang`."""
    body = {
        "id": job.id,
        "model": job.model or ZHIPU_MODELS[0],  # the one that ran, else the one it waits for
        "request_id": job.request_id or job.id,
        "task_status": task_status(job),
        "status": job.status,
        "progress": round(job.progress, 4),
        "position": job.position,
        "seed": job.seed if job.seed is not None else job.request.get("seed"),
        "prompt": job.prompt or job.user_prompt,
        "mode": job.mode,
        "created_at": int(job.created_at),
    }
    if job.status == QUEUED and job.message.en:  # why it does not move (its model is not served now)
        body["message"] = pick(job.message, lang)
    body["notices"] = [pick(Text(n.get("en", ""), n.get("zh") or n.get("en", "")), lang)
                       for n in (job.info or {}).get("notices", [])]
    body["video_result"] = []  # the SDKs' model requires the list, empty until the video is done
    if job.status == SUCCEEDED and job.file_token:
        files = f"{base}/files/{job.file_token}"
        body["video_result"] = [{"url": f"{files}/video.mp4", "cover_image_url": f"{files}/cover.jpg"}]
    if job.status in (FAILED, CANCELLED):
        error = job.error or Text("cancelled", "已取消")
        body["error"] = {"code": "cancelled" if job.status == CANCELLED else errors.INTERNAL,
                         "message": error.en, "message_zh": error.zh}
    return body


def base_url(request: Request, options: ApiOptions) -> str:
    """Absolute URL of this API's mount (…/api): --public-url, else what the proxy or client says."""
    root = request.scope.get("root_path", "").rstrip("/")
    if options.public_url:
        return options.public_url.rstrip("/") + (root or "/api")
    proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{proto}://{host.split(',')[0].strip()}{root}"


def _size_by_ratio(ratio: str, variant, values: dict) -> None:
    """Zhipu's `aspect_ratio` ("9:16") as the loaded model's size of that shape, into `values`; a
    `size` sent beside it must be that size."""
    try:
        size = variant.size_for_ratio(ratio)
    except InvalidRequest as exc:
        raise invalid("aspect_ratio", exc.en, exc.zh) from None
    if "width" in values and (values["width"], values["height"]) != (size.width, size.height):
        raise invalid("aspect_ratio", f"size {values['width']}x{values['height']} is not aspect_ratio {ratio!r} "
                                      f"({size.width}x{size.height} with {variant.name}): send one of them. "
                                      f"Sizes: {variant.sizes_text()}.",
                      f"size {values['width']}x{values['height']} 与画面比例 {ratio!r} 不符（{variant.name} 的 "
                      f"{ratio} 为 {size.width}x{size.height}）：请只提供其中一个。可选尺寸：{variant.sizes_text()}。")
    values["width"], values["height"] = size.width, size.height


def invalid(field: str, en: str, zh: str) -> ApiError:
    return ApiError(400, errors.INVALID_PARAMETER, en, zh)


def bad_body(exc: RequestValidationError) -> ApiError:
    problems = exc.errors()
    unparsed = any(tuple(p.get("loc", ())) == ("body",) and isinstance(p.get("input"), (str, bytes)) for p in problems)
    if unparsed or any(p.get("type") == "json_invalid" for p in problems) or not problems:
        return invalid("body", "The request body is not valid JSON.", "请求体不是有效的 JSON。")
    field, en, zh = errors.field_problem(problems)
    if field == "body":  # a list, a string, null or nothing where the object goes
        return invalid("body", "The request body must be one JSON object, e.g. {\"prompt\": \"a cat surfing\"}.",
                       "请求体必须是一个 JSON 对象，例如 {\"prompt\": \"一只冲浪的猫\"}。")
    return invalid(field, en, zh)


# The platform's code for an error's status; any other status is the caller's "invalid parameter"
# below 500 and our "internal" from 500 on.
STATUS_CODES = {404: errors.JOB_NOT_FOUND, 409: errors.REQUEST_ID_CONFLICT, 429: errors.QUEUE_FULL,
                507: errors.DISK_FULL}


def api_error(exc: BilingualError) -> ApiError:
    """One of our errors as the platform's refusal: the status its class names, the code for that
    status, and Retry-After where the class says when to try again."""
    if isinstance(exc, TooManyJobs):  # a 429 like a full queue, but the caller's own cap: its own code
        code = errors.TOO_MANY_JOBS
    elif isinstance(exc, DailyQuotaSpent):  # a 429 until midnight: a client must not retry it soon
        code = errors.DAILY_QUOTA
    else:
        code = STATUS_CODES.get(exc.status, errors.INVALID_PARAMETER if exc.status < 500 else errors.INTERNAL)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return ApiError(exc.status, code, exc.en, exc.zh, headers=headers)
