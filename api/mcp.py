"""MCP tools for LLM agents (Claude, Cursor, ...): generate videos, write prompts, follow jobs.

    URL:   http://HOST:7860/mcp      (Streamable HTTP; `/mcp/` works too)
    Auth:  Authorization: Bearer <key>   (the REST API's keys: `python -m cogvideo keys add NAME`)

    generate_video(prompt, image?, style, music, speed, wait)  -> job id, status, video/cover URLs
    restyle_video(video, prompt, strength, style, music, speed, wait)       -> the same, for a restyled clip
    extend_video(video, prompt, extensions, crossfade, style, music, speed, wait)  -> the same, longer
    export_gif(job_id, width, fps)                               -> a finished video as a GIF URL
    suggest_prompt(idea, mode, style)                            -> a detailed prompt for the served model
    job_status(job_id)                                           -> the caller's job
    list_styles()                                                -> the style presets

Files come in as data URLs (or base64, or http(s) URLs with --allow-url-fetch), exactly as the
REST API's `image_url` and `video_url`: an MCP client cannot upload.

A key's owner is the job owner: MCP jobs are the same jobs as the UI's and the REST API's, in the
owner's lane, listed in the same 我的作品 (works), with the same file URLs (`/api/files/...`).

Design:

* Stateless Streamable HTTP (`stateless_http=True`): every POST carries its own key and is
  authenticated on its own, and a tool call lives exactly as long as its POST. No session table
  to hijack or to lose on a restart; several app processes behind a proxy need no sticky
  sessions. Progress notifications still reach the client, on the POST's SSE response stream.
  What stateless gives up (server-to-client requests such as sampling, the GET stream) no tool
  here needs. A job outlives its call: if a client gives up waiting, `job_status` finds it.
* The SDK's session manager needs a running task group (normally the Starlette lifespan of its
  own app). A Starlette `Mount` runs no sub-app lifespan, so `McpEndpoint` starts the manager on
  its first request, as a task on the server's own event loop (the one the requests run on), and
  also honours an ASGI lifespan when it is the top-level app. `McpEndpoint.lifespan()` is there
  for hosts that prefer to start it themselves.
* Our own bearer check (`ApiKeys.authenticate`) in front of the SDK, answering 401/429 in the
  REST API's error shape; the principal rides in the ASGI scope to the tools (`ctx.request_context
  .request.scope`). DNS-rebinding Host checks are off: every request needs a key, and the app is
  reached under names and proxies the SDK cannot know.
"""

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from agent import VideoModel
from bilingual import BilingualError, Text, lang_of, pick
from cogvideo import Studio
from cogvideo.errors import StudioError
from cogvideo.media.gif import DEFAULT_GIF_FPS, GIF_WIDTHS, MAX_GIF_FPS, MAX_GIF_WIDTH, MIN_GIF_FPS, MIN_GIF_WIDTH
from cogvideo.request import DEFAULTS, MAX_EXTENSIONS, MAX_STRENGTH, MIN_STRENGTH, SpeedId
from jobs import JobNotFound, JobService
from jobs.job import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from jobs.keys import ApiKeys, Principal

from .asgi import rewriting
from .auth import authorize
from .errors import ApiError, field_problem
from .limits import RateLimiter
from .inputs import MAX_VIDEO_BYTES
from .zhipu import ApiOptions, VideoGenerationBody, job_gif, to_video_request

log = logging.getLogger("cogvideo.mcp")

MOUNT = "/mcp"
PRINCIPAL = "cogvideo.principal"  # ASGI scope key: the authenticated caller, for the tools
# A data URL carries 4 characters for 3 bytes: a clip at the REST API's cap (100 MB) is ~134 MB of
# JSON. The SDK's default cap (4 MiB) would refuse photos, let alone clips.
MAX_BODY_BYTES = math.ceil(MAX_VIDEO_BYTES * 4 / 3) + 1024 * 1024
POLL_S = 0.5          # how often a waiting generate_video looks at its job
HEARTBEAT_S = 15.0    # a progress notification at least this often, so clients see it is alive
NUDGE = 0.001         # progress must increase with every notification (MCP spec)
RUNNING_CAP = 99.9    # the value stays below this until the job has finished (then 100)



def prompt_words(studio: Studio) -> tuple[str, str]:
    """How the served model wants its prompt, for the tools' words: ("an English text prompt",
    "in English") for CogVideoX (its T5 reads English only), ("a text prompt in Chinese or
    English", "in Chinese or English") for a model whose text encoder reads Chinese (Wan's umT5):
    an agent must not translate a Chinese user's words for it."""
    if studio.reads_chinese:
        return "a text prompt in Chinese or English", "in Chinese or English"
    return "an English text prompt", "in English"


def instructions(studio: Studio) -> str:
    prompt, language = prompt_words(studio)
    return (
        f"This studio makes short videos (a few seconds) with the {studio.family_name} model {studio.model} from "
        f"{prompt}, optionally starting from a picture; it also restyles a clip (restyle_video) and makes a clip "
        "longer (extend_video). Typical use: suggest_prompt(idea) to turn a short idea (any language) into a "
        f"detailed prompt {language}, then generate_video(prompt). Videos are rendered one at a time on a GPU, so "
        "a call may wait in line first; progress notifications report the place in line and the rendering. "
        "Finished videos are MP4 files at the returned video_url (no key needed to download); they also appear "
        "in the studio's web UI under the key owner's works. Every job names the model that made it (model)."
    )


# ---------------------------------------------------------------- the ASGI endpoint

class StudioMcpServer(MCPServer):
    """The SDK's server, with arguments of the wrong type or outside a tool's choices refused in
    the caller's language, naming the argument (the SDK hands the agent pydantic's whole report:
    English, with Python's type names and a link to pydantic's docs)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None):
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:  # also UnexpectedToolError: our body model refusing a tool's value (NaN)
            if not isinstance(exc.__cause__, ValidationError):
                raise
            _field, en, zh = field_problem(exc.__cause__.errors())
            lang = "both"
            if context is not None:
                with contextlib.suppress(ValueError, AttributeError):  # no HTTP request behind the call
                    lang = _lang(context.request_context.request)
            raise ToolError(pick(Text(en, zh), lang)) from exc.__cause__  # as the tools' own refusals: the reason alone


class McpEndpoint:
    """The MCP server as an ASGI app: bearer-key check, then the SDK's Streamable HTTP handler.

    Mount it anywhere (see `mcp_routes`); the SDK's session manager starts with the first
    request or with an ASGI lifespan, whichever comes first."""

    def __init__(self, server: MCPServer, keys: ApiKeys, limiter: RateLimiter):
        self.server = server
        self.keys = keys
        self.limiter = limiter
        # Builds the session manager (the returned Starlette app, routes and lifespan, is not used).
        server.streamable_http_app(
            stateless_http=True,
            json_response=False,  # SSE responses: progress notifications go out while a tool runs
            max_request_body_size=MAX_BODY_BYTES,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = server.session_manager
        self._runner: asyncio.Task | None = None
        self._ready: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None

    # ------------------------------------------------------------ running the session manager

    async def start(self) -> None:
        """Start the session manager on the running event loop (idempotent)."""
        if self._ready is not None and self._ready.is_set():
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._runner is None:
                self._ready, self._stop = asyncio.Event(), asyncio.Event()
                self._runner = asyncio.get_running_loop().create_task(self._run(), name="mcp-session-manager")
            if not self._ready.is_set():
                ready = asyncio.ensure_future(self._ready.wait())
                try:
                    await asyncio.wait({ready, self._runner}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    ready.cancel()
                if not self._ready.is_set():  # the manager failed to start (its lifespan raised): say why
                    runner, self._runner = self._runner, None
                    cause = None if runner.cancelled() else runner.exception()
                    raise RuntimeError("the MCP session manager did not start") from cause

    async def _run(self) -> None:
        async with self.manager.run():
            self._ready.set()
            log.info("MCP server ready (stateless Streamable HTTP)")
            await self._stop.wait()

    async def stop(self) -> None:
        runner = self._runner
        if runner is not None and self._stop is not None:
            self._stop.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await runner

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """For hosts that run lifespans (`FastAPI(lifespan=endpoint.lifespan)`)."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # ------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan_protocol(receive, send)
            return
        if scope["type"] != "http":  # websockets: not MCP
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        lang = lang_of(headers.get("accept-language"))
        try:
            principal = await anyio.to_thread.run_sync(self._caller, headers.get("authorization", ""))
        except ApiError as exc:
            response = exc.response(lang)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="CogVideoX Studio"'
            await response(scope, receive, send)
            return
        await self.start()
        send = _protocol_errors_in_our_words(send, lang)
        await self.manager.handle_request({**scope, PRINCIPAL: principal}, receive, send)

    async def _lifespan_protocol(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _caller(self, authorization: str) -> Principal:
        """The REST API's check (one key works for both faces)."""
        return authorize(self.keys, authorization, self.limiter)


# The SDK's refusals of a body that is not a JSON-RPC message, by JSON-RPC code: its own texts are
# English, and for -32602 pydantic's whole report ("input_type=NoneType", a link to its docs).
PROTOCOL_ERRORS = {
    -32700: Text("The request body is not valid JSON: send one JSON-RPC 2.0 message.",
                 "请求体不是有效的 JSON：请发送一条 JSON-RPC 2.0 消息。"),
    -32602: Text('The request is not a JSON-RPC 2.0 message: send one JSON object with "jsonrpc": "2.0", a '
                 '"method" (e.g. "tools/call"), an "id" for a request, and "params" as an object.',
                 '请求不是 JSON-RPC 2.0 消息：请发送一个 JSON 对象，包含 "jsonrpc": "2.0"、"method"（例如 '
                 '"tools/call"）、请求的 "id"，以及对象形式的 "params"。'),
}


def _protocol_errors_in_our_words(send: Send, lang: str) -> Send:
    """A `send` that puts `PROTOCOL_ERRORS` into the SDK's 400 answers."""

    def rewrite(start, body: bytes):
        try:
            answer = json.loads(body)
            text = PROTOCOL_ERRORS[answer["error"]["code"]]
        except (ValueError, KeyError, TypeError):  # not one of those: as the SDK wrote it
            return None
        answer["error"]["message"] = pick(text, lang)
        return start, json.dumps(answer, ensure_ascii=False).encode()

    return rewriting(send, 400, rewrite)


def mcp_routes(endpoint: McpEndpoint, path: str = MOUNT) -> list:
    """Starlette routes serving the endpoint at `path` and `path/` (no redirect either way)."""
    return [Route(path, endpoint=endpoint), Mount(path, app=endpoint)]


# ---------------------------------------------------------------- the tools

def build_mcp(service: JobService, studio: Studio, agent, options: ApiOptions = ApiOptions()) -> McpEndpoint:
    """The MCP endpoint over the job service; `agent` is a `PromptAgent` (for suggest_prompt)."""
    from cogvideo.media.music import load_tracks

    keys = ApiKeys(service.store)
    # The SDK logs "Terminating session: None" at INFO for every stateless request: noise in the app's log.
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
    server = StudioMcpServer("cogvideox-studio", title="CogVideoX Studio", instructions=instructions(studio))
    try:
        tracks = ", ".join(load_tracks())
    except StudioError:
        tracks = ""
    music_help = ("Background music laid under the video: 'none' (default, silent) or a track id"
                  + (f" ({tracks})." if tracks else "."))

    run_job = _job_runner(service, studio, options)
    _generate_tool(server, run_job, music_help, studio)
    _clip_tools(server, run_job, music_help, studio)
    _service_tools(server, service, studio, agent, options)
    return McpEndpoint(server, keys, RateLimiter(options.rate_limit))


def _job_runner(service: JobService, studio: Studio, options: ApiOptions):
    """The tools' way to run a job: submit the body as the caller's, and with `wait` follow it."""

    async def run_job(ctx: Context, body: VideoGenerationBody, wait: bool) -> dict[str, Any]:
        """Submit `body` as the caller's job; with `wait`, follow it to the end with progress."""
        principal, request = _caller(ctx)
        lang = _lang(request)

        def submit() -> Job:
            with contextlib.ExitStack() as scratch:  # a clip's temporary file, until the service copied it
                video_request = to_video_request(body, studio, options.allow_url_fetch, scratch)
                return service.submit(video_request, owner=principal.owner, api_key=principal.key_id)

        try:
            job = await anyio.to_thread.run_sync(submit)
        except BilingualError as exc:
            raise ToolError(_message(exc, lang)) from None
        log.info("MCP: job %s submitted by key %s (%s)", job.id, principal.key_id, principal.owner)
        if wait:
            job = await _follow(service, job, principal.owner, ctx)
            if job.status in (FAILED, CANCELLED):
                error = job.error or Text("The job was cancelled.", "任务已取消。")
                outcome = Text("failed", "失败") if job.status == FAILED else Text("was cancelled", "已取消")
                raise ToolError(pick(Text(f"Job {job.id} {outcome.en}: {error.en}",
                                          f"任务 {job.id} {outcome.zh}：{error.zh}"), lang))
        return _view(job, _files_base(request, options))

    return run_job


def _generate_tool(server: MCPServer, run_job, music_help: str, studio: Studio) -> None:
    """generate_video: text or a picture to video."""
    prompt, language = prompt_words(studio)
    max_tokens = next(iter(studio.variants.values())).max_tokens

    @server.tool(
        title="Generate a video",
        description=(
            f"Render a short video (a few seconds, MP4) with the {studio.family_name} model {studio.model} from "
            f"{prompt}, "
            "optionally animating a starting picture (image-to-video). Videos render one at a time on the "
            "server's GPU: a call may wait in line, then rendering takes from under a minute to several "
            "minutes. With wait=true (default) the call returns when the video is ready, sending progress "
            "notifications (percent rendered, 0-100, and the place in line); with wait=false it returns the "
            "job id at once: then poll job_status. Returns job_id, status and, when done, video_url and "
            f"cover_url (absolute http(s) URLs, downloadable without a key), and model. Write detailed prompts "
            f"{language} (suggest_prompt helps)."
        ),
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                    open_world_hint=False),
    )
    async def generate_video(
        prompt: Annotated[str, Field(description=(
            f"What happens in the video, {language}: subject, action, setting, lighting, camera. "
            f"About 50-200 words works best; the model reads at most ~{max_tokens} tokens."))],
        ctx: Context,
        image: Annotated[str | None, Field(description=(
            "Optional first frame for image-to-video: a data URL (data:image/png;base64,...) or plain base64 "
            "of a PNG/JPEG/WebP, up to 20 MB. Default: none (text-to-video)."))] = None,
        style: Annotated[str, Field(description=(
            "Style preset id from list_styles, e.g. 'cinematic' or 'anime'. Default 'none' (no preset)."))] = DEFAULTS.style,
        music: Annotated[str, Field(description=music_help)] = "none",
        speed: Annotated[SpeedId | None, Field(description=(
            "'quality' computes every denoising step in full; 'balanced' reuses attention between steps; "
            "'fast' also reuses the unconditional pass (about 1.6x faster, details may differ); 'lean' skips "
            "the model on steps where the video barely changes (about 1.3x faster, almost no extra GPU memory). "
            "Default: the server's setting (normally 'quality')."))] = None,
        wait: Annotated[bool, Field(description=(
            "true (default): return when the video is done, with progress notifications. false: return the "
            "job id immediately and follow it with job_status."))] = True,
        aspect_ratio: Annotated[str | None, Field(description=(
            "A shape the loaded model offers by name, e.g. '9:16' for phones; a refusal lists the model's sizes. "
            "Default: the model's own size (image-to-video: the picture's shape where the model follows it)."))] = None,
    ) -> dict[str, Any]:
        body = VideoGenerationBody(prompt=prompt, image_url=image or None, style=style or "none",
                                   music=music or "none", speed=speed, aspect_ratio=aspect_ratio or None)
        return await run_job(ctx, body, wait)


def _clip_tools(server: MCPServer, run_job, music_help: str, studio: Studio) -> None:
    """restyle_video and extend_video: a clip in, a video out."""
    _prompt, language = prompt_words(studio)
    clip_help = (
        "The clip: a data URL (data:video/mp4;base64,...) or plain base64 of an MP4, MOV, WebM or MKV file, up to "
        f"{MAX_VIDEO_BYTES // 2**20} MB, 60 s and 4096 px a side.")
    style_help = "Style preset id from list_styles, e.g. 'anime' or 'cinematic'. Default 'none' (no preset)."
    speed_help = ("'quality', 'balanced', 'fast' or 'lean' (see generate_video). Default: the server's setting.")
    wait_help = ("true (default): return when the video is done, with progress notifications. false: return the "
                 "job id immediately and follow it with job_status.")

    @server.tool(
        title="Restyle a video",
        description=(
            "Repaint a short clip in another look (video to video): the same layout and motion, the content and "
            "style from the prompt and style preset, e.g. a street filmed on a phone turned into a watercolor or "
            "an anime scene. The first seconds of the clip are used (as long as the model makes, a few seconds). "
            "Waits in line and renders like generate_video and returns the same fields."
        ),
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                    open_world_hint=False),
    )
    async def restyle_video(
        video: Annotated[str, Field(description=clip_help)],
        ctx: Context,
        prompt: Annotated[str, Field(description=(
            f"What the restyled video shows, {language} (e.g. 'the same street as a watercolor painting'). May be "
            "empty when a style is given: then the clip's own content, in that style."))] = "",
        strength: Annotated[float, Field(description=(
            f"How far from the clip, {MIN_STRENGTH} to {MAX_STRENGTH}: low keeps colours and details, "
            f"{MAX_STRENGTH} keeps only the layout and motion. Default {DEFAULTS.strength}."))] = DEFAULTS.strength,
        style: Annotated[str, Field(description=style_help)] = DEFAULTS.style,
        music: Annotated[str, Field(description=music_help)] = "none",
        speed: Annotated[SpeedId | None, Field(description=speed_help)] = None,
        wait: Annotated[bool, Field(description=wait_help)] = True,
    ) -> dict[str, Any]:
        body = VideoGenerationBody(mode="v2v", prompt=prompt or "", video_url=video or None, strength=strength,
                                   style=style or "none", music=music or "none", speed=speed)
        return await run_job(ctx, body, wait)

    @server.tool(
        title="Extend a video",
        description=(
            "Make a clip longer: continue it from its last frame with the image-to-video model, one part (a few "
            "seconds) per extension, following the prompt. The result is the whole clip plus the new parts, "
            "as one MP4. Waits in line and renders like generate_video (each part takes as long as one video) and "
            "returns the same fields."
        ),
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                    open_world_hint=False),
    )
    async def extend_video(
        video: Annotated[str, Field(description=clip_help)],
        prompt: Annotated[str, Field(description=(
            f"What happens next, {language}: how the scene goes on from the clip's last frame."))],
        ctx: Context,
        extensions: Annotated[int, Field(description=(
            f"How many parts to add, 1 to {MAX_EXTENSIONS}; each adds one clip of the model's length. "
            f"Default {DEFAULTS.extensions}."))] = DEFAULTS.extensions,
        crossfade: Annotated[bool, Field(description=(
            "true: fade each new part in over a few frames (hides a jump in colour or light); false (default): "
            "a straight join."))] = DEFAULTS.crossfade,
        style: Annotated[str, Field(description=style_help)] = DEFAULTS.style,
        music: Annotated[str, Field(description=music_help)] = "none",
        speed: Annotated[SpeedId | None, Field(description=speed_help)] = None,
        wait: Annotated[bool, Field(description=wait_help)] = True,
    ) -> dict[str, Any]:
        body = VideoGenerationBody(mode="extend", prompt=prompt, video_url=video or None, extensions=extensions,
                                   crossfade=crossfade, style=style or "none", music=music or "none", speed=speed)
        return await run_job(ctx, body, wait)


def _service_tools(server: MCPServer, service: JobService, studio: Studio, agent, options: ApiOptions) -> None:
    """export_gif, suggest_prompt, job_status and list_styles."""
    _prompt, language = prompt_words(studio)

    @server.tool(
        title="Export a GIF",
        description=(
            "One of your finished videos as an animated GIF (for chats and memes): returns gif_url (absolute, "
            "downloadable without a key), its width, height, fps, frame count and size in bytes. The same width "
            "and fps return the same file; the first call takes a few seconds."
        ),
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                                    open_world_hint=False),
    )
    async def export_gif(
        job_id: Annotated[str, Field(description="The job_id of a succeeded video job.")],
        ctx: Context,
        width: Annotated[int, Field(description=(
            f"GIF width in pixels, {MIN_GIF_WIDTH} to {MAX_GIF_WIDTH} (never wider than the video; the height "
            "follows it)."))]
        = GIF_WIDTHS[0],
        fps: Annotated[float, Field(description=(
            f"GIF frames per second, {MIN_GIF_FPS} to {MAX_GIF_FPS} (never more than the video has)."))]
        = DEFAULT_GIF_FPS,
    ) -> dict[str, Any]:
        principal, request = _caller(ctx)

        def make() -> dict[str, Any]:
            job = service.get((job_id or "").strip(), principal.owner)
            made = job_gif(studio, job, width, fps)
            made["gif_url"] = f"{_files_base(request, options)}/files/{job.file_token}/{made.pop('name')}"
            return {"job_id": job.id, **made}

        try:
            return await anyio.to_thread.run_sync(make)
        except BilingualError as exc:
            raise ToolError(_message(exc, _lang(request))) from None

    @server.tool(
        title="Write a video prompt",
        description=(
            "Turn a short idea in any language (e.g. '小男孩喝咖啡', 'a cat surfing') into the long, concrete "
            f"prompt {studio.model} renders best, {language} (subject, action, scene, light, camera), using the "
            "studio's prompt assistant. Returns the prompt text only; pass it to generate_video. Takes a few seconds."
        ),
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
    )
    async def suggest_prompt(
        idea: Annotated[str, Field(description=(
            "The idea to expand, any language; may be empty for a random fresh idea."))],
        ctx: Context,
        mode: Annotated[Literal["t2v", "i2v", "old_photo"], Field(description=(
            "'t2v' (default): text-to-video; 'i2v': the prompt will animate a starting picture; "
            "'old_photo': bringing an old photo to life."))] = "t2v",
        style: Annotated[str, Field(description=(
            "Style preset id from list_styles to write towards; default 'none'."))] = "none",
    ) -> str:
        _principal, request = _caller(ctx)
        lang = _lang(request)

        def suggest():
            style_name = None
            if style and style != "none":
                from cogvideo.catalogues.styles import get_style

                style_name = get_style(style, studio.styles).name.en
            # Told the model: for one that reads Chinese (Wan) the prompt stays in the caller's language.
            model = VideoModel(family=studio.family_name.lower(), reads_chinese=studio.reads_chinese)
            return agent.suggest(idea or "", None, mode, style_name, model=model, lang=lang)

        try:
            suggestion = await anyio.to_thread.run_sync(suggest)
        except BilingualError as exc:  # StudioError (style), AgentError (bad input)
            raise ToolError(_message(exc, lang)) from None
        if suggestion.source == "kept":  # the prompt service failed: nothing was written
            warning = suggestion.warning or Text("The prompt assistant failed.", "提示词助手出错。")
            raise ToolError(pick(warning, lang))
        return suggestion.text

    @server.tool(
        title="Job status",
        description=(
            "The status of one of your video jobs (from generate_video): status is queued, running, "
            "succeeded, failed or cancelled; progress is the rendered fraction 0-1; position is the place in "
            "line while queued (1 = next); expected_start_seconds and expected_finish_seconds estimate the wait "
            "from this server's recent render times (null until it has some); video_url and cover_url are set "
            "once it succeeded; error explains a failure. Only your own jobs are visible."
        ),
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def job_status(
        job_id: Annotated[str, Field(description="The job_id returned by generate_video.")],
        ctx: Context,
    ) -> dict[str, Any]:
        principal, request = _caller(ctx)
        try:
            job = await anyio.to_thread.run_sync(service.get, (job_id or "").strip(), principal.owner)
        except JobNotFound as exc:
            raise ToolError(_message(exc, _lang(request))) from None
        return {**_view(job, _files_base(request, options)), **service.expected(job).fields()}

    @server.tool(
        title="List styles",
        description=(
            "The style presets generate_video and suggest_prompt accept: id (pass this as `style`), English and "
            "Chinese names and descriptions, and the music track the style suggests. 'none' means no preset."
        ),
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    def list_styles() -> list[dict[str, Any]]:
        return [
            {"id": s.id, "name_en": s.name.en, "name_zh": s.name.zh, "description_en": s.description.en,
             "description_zh": s.description.zh, "music": s.music}
            for s in studio.styles.values()
        ]


# ---------------------------------------------------------------- helpers

def _caller(ctx: Context) -> tuple[Principal, Request]:
    request = ctx.request_context.request
    principal = getattr(request, "scope", {}).get(PRINCIPAL) if request is not None else None
    if principal is None:  # only reachable if the endpoint is bypassed
        raise ToolError("Not authenticated: send `Authorization: Bearer <key>`.")
    return principal, request


def _lang(request: Request) -> str:
    return lang_of(request.headers.get("accept-language"))


def _message(exc: BilingualError, lang: str) -> str:
    return pick(exc.text, lang)


def _files_base(request: Request, options: ApiOptions) -> str:
    """Absolute URL of the REST API's mount (…/api), where the files are served."""
    if options.public_url:
        return options.public_url.rstrip("/") + "/api"
    root = request.scope.get("root_path", "").rstrip("/")
    if root.endswith(MOUNT):  # mounted: root_path names our mount; the files are its sibling /api
        root = root[: -len(MOUNT)]
    headers = request.headers
    proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc
    return f"{proto}://{host.split(',')[0].strip()}{root}/api"


def _view(job: Job, files_base: str) -> dict[str, Any]:
    """The job for an LLM: the gallery summary without server paths, with file URLs."""
    view = job.summary()
    for private in ("video", "cover", "worker"):
        view.pop(private, None)
    view["video_url"] = view["cover_url"] = None
    if job.status == SUCCEEDED and job.file_token:
        files = f"{files_base}/files/{job.file_token}"
        view["video_url"] = f"{files}/video.mp4" if job.video else None
        view["cover_url"] = f"{files}/cover.jpg" if job.cover else None
    return view


def _progress_line(job: Job) -> tuple[float, str]:
    """(percent rendered 0-100, what is happening) for a progress notification."""
    if job.status == QUEUED and job.message.en:  # no worker here holds its model: no place in line
        return 0.0, job.message.en
    if job.status == QUEUED:
        ahead = (job.position or 1) - 1
        return 0.0, ("Queued: next in line." if ahead == 0 else f"Queued: {ahead} video(s) ahead in line.")
    if job.status == RUNNING:
        percent = round(100 * max(0.0, min(1.0, job.progress)), 1)
        return percent, job.message.en or f"Rendering: {percent:g}%."
    return 100.0, {SUCCEEDED: "Done.", FAILED: "Failed.", CANCELLED: "Cancelled."}.get(job.status, job.status)


async def _follow(service: JobService, job: Job, owner: str, ctx: Context) -> Job:
    """Wait for the job, reporting progress (percent of 100) whenever it or the stage changes.

    MCP wants the value to grow with every notification: while the job is not finished the value
    stays below 100 (a new stage or a heartbeat at the same percent nudges it up a little), and
    the last notification, when the job has finished, is exactly 100."""
    last_value, last_text, last_sent = -1.0, None, 0.0
    while True:
        percent, text = _progress_line(job)
        now = anyio.current_time()
        target = 100.0 if job.finished else min(percent, RUNNING_CAP)
        if target > last_value:
            value = target
        else:
            value = min(last_value + NUDGE, RUNNING_CAP) if last_value < RUNNING_CAP else None
        changed = job.finished or text != last_text or (value is not None and value > last_value + NUDGE)
        if value is not None and value > last_value and (changed or now - last_sent >= HEARTBEAT_S):
            try:
                await ctx.report_progress(value, 100.0, text)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # the client went away; the job carries on (job_status finds it)
            last_value, last_text, last_sent = value, text, now
        if job.finished:
            return job
        await anyio.sleep(POLL_S)
        job = await anyio.to_thread.run_sync(service.get, job.id, owner)
