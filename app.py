"""CogVideoX Studio: the Gradio app. Text to video, image to video, old photos, for people and scripts.

    python app.py                      # 5b + 5b-i2v, loaded on the first request
    python app.py --model tiny         # random-weight toy model: try the UI without a GPU
    python app.py --model wan2.1-1.3b  # Wan: reads Chinese prompts as typed (tiny-wan: its toy)
    python app.py --workers ray        # one Ray worker per GPU (embedded Ray, or --ray-address of a cluster)
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Callable

from agent import PromptAgent
from bilingual import BilingualError, Text, both
from cogvideo import Studio, StudioError
from cogvideo.engine.models import OFFLOAD_MODES
from cogvideo.engine.render import Engine
from jobs import DataDirLock, JobService, default_data_dir
from jobs.zerogpu import MAX_SECONDS as ZEROGPU_MAX_S
from cli.operator import duration

ROOT = Path(__file__).resolve().parent
MAX_FILE_BYTES = 200 * 2**20  # one uploaded file (Gradio's max_file_size)
log = logging.getLogger("cogvideo.app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="CogVideoX Studio web app")
    parser.add_argument("--model", default=env("COGVIDEO_MODEL", "5b"),
                        help="variant (CogVideoX: 2b, 5b, 5b-i2v, 1.5-5b, 1.5-5b-i2v, tiny; Wan: wan2.1-1.3b, "
                             "wan2.2-5b, tiny-wan; `python -m cogvideo models`) or a local folder")
    parser.add_argument("--offload", default=env("COGVIDEO_OFFLOAD", "auto"), choices=OFFLOAD_MODES)
    parser.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--auth", default=env("STUDIO_AUTH"),
                        help="user:password, one sign-in beside the users table. Prefer env STUDIO_AUTH: a flag's "
                             "value, the password included, shows in `ps` to every user of this machine")
    parser.add_argument("--login-attempts", type=int, default=int(env("STUDIO_LOGIN_ATTEMPTS", "5")),
                        help="wrong passwords in a row per user name and per client address before sign-in pauses "
                             "(1 s, doubling, at most 15 min; a success resets it); 0 turns it off "
                             "(or env STUDIO_LOGIN_ATTEMPTS)")
    parser.add_argument("--preload", action="store_true", default=env("STUDIO_PRELOAD", "") == "1",
                        help="load the model before serving (or env STUDIO_PRELOAD=1)")
    parser.add_argument("--max-queue", type=int, default=int(env("STUDIO_MAX_QUEUE", "20")),
                        help="videos that may wait in line; more are refused with a message (or env STUDIO_MAX_QUEUE)")
    parser.add_argument("--max-queue-per-user", type=int, default=int(env("STUDIO_MAX_QUEUE_PER_USER", "3")),
                        help="videos one user may have waiting or rendering at once (visitors without sign-in: per "
                             "client address); 0 = no cap (or env STUDIO_MAX_QUEUE_PER_USER)")
    parser.add_argument("--free-videos-per-day", type=int, default=int(env("STUDIO_FREE_VIDEOS_PER_DAY", "0")),
                        help="videos one user may make a day in the standard lane (visitors without sign-in: per "
                             "client address), from local midnight; the fast lane is unlimited; 0 = off "
                             "(or env STUDIO_FREE_VIDEOS_PER_DAY)")
    parser.add_argument("--max-upload-request", type=byte_size, default=env("STUDIO_MAX_UPLOAD_REQUEST", "250mb"),
                        help="bytes one upload request may carry, e.g. 250mb; 0 = no cap (or env STUDIO_MAX_UPLOAD_REQUEST)")
    parser.add_argument("--max-upload-per-hour", type=byte_size, default=env("STUDIO_MAX_UPLOAD_PER_HOUR", "1gb"),
                        help="bytes one client address may upload an hour; 0 = no cap (or env STUDIO_MAX_UPLOAD_PER_HOUR)")
    parser.add_argument("--max-upload-files", type=int, default=int(env("STUDIO_MAX_UPLOAD_FILES", "10")),
                        help="files one upload request may carry; 0 = Gradio's own 1000 (or env STUDIO_MAX_UPLOAD_FILES)")
    parser.add_argument("--upload-cache-max", type=byte_size, default=env("STUDIO_UPLOAD_CACHE_MAX", "5gb"),
                        help="uploads are refused while Gradio's cache folder holds this much; 0 = no cap "
                             "(or env STUDIO_UPLOAD_CACHE_MAX)")
    parser.add_argument("--upload-cache-age", type=duration, default=env("STUDIO_UPLOAD_CACHE_AGE", "1h"),
                        help="uploads and result copies older than this leave Gradio's cache folder, e.g. 1h, 90m; "
                             "jobs keep their own copies (or env STUDIO_UPLOAD_CACHE_AGE)")
    parser.add_argument("--output-dir", default=env("COGVIDEO_OUTPUT_DIR", str(ROOT / "outputs")))
    parser.add_argument("--data-dir", default=str(default_data_dir()),
                        help="jobs database, users and job inputs (or env STUDIO_DATA_DIR; default ./data)")
    parser.add_argument("--keep-works", type=int, default=int(env("STUDIO_KEEP_WORKS", "200")),
                        help="finished jobs kept per user, newest first; 0 keeps all (or env STUDIO_KEEP_WORKS)")
    parser.add_argument("--works-max-age-days", type=float, default=float(env("STUDIO_WORKS_MAX_AGE_DAYS", "30")),
                        help="finished jobs older than this are deleted with their files; 0 keeps them "
                             "(or env STUDIO_WORKS_MAX_AGE_DAYS)")
    parser.add_argument("--public-url", default=env("STUDIO_PUBLIC_URL"),
                        help="this server's address as callers see it, for the API's file URLs "
                             "(default: from the request and X-Forwarded-Proto/Host)")
    parser.add_argument("--allow-url-fetch", action="store_true", default=env("STUDIO_ALLOW_URL_FETCH", "") == "1",
                        help="let API callers pass http(s) image_url values (fetched with a size cap and "
                             "private addresses refused)")
    parser.add_argument("--metrics-token", default=env("STUDIO_METRICS_TOKEN"),
                        help="Prometheus metrics at /metrics are answered to this machine only; from elsewhere with "
                             "`Authorization: Bearer <this token>`. Prefer env STUDIO_METRICS_TOKEN (a flag shows in `ps`)")
    parser.add_argument("--api-rate-limit", type=int, default=int(env("STUDIO_API_RATE_LIMIT", "60")),
                        help="API video submits per minute per key (other calls: ten times that); 0 turns it off")
    parser.add_argument("--lang", choices=("auto", "zh", "en"), default=env("STUDIO_LANG", "auto"),
                        help="UI language: follow the browser (auto, Chinese by default) or force one")
    parser.add_argument("--workers", choices=("local", "ray"), default=env("STUDIO_WORKERS", "local"),
                        help="local: render in this process (default); ray: one Ray worker per GPU, on this machine "
                             "or a cluster (see README, Serving many users) (or env STUDIO_WORKERS)")
    parser.add_argument("--gpu-max-seconds", type=int, default=int(env("STUDIO_GPU_MAX_SECONDS", str(ZEROGPU_MAX_S))),
                        help="on a ZeroGPU Space: the longest GPU call one video may ask for (ZeroGPU refuses longer "
                             "ones; see README, Hugging Face Space) (or env STUDIO_GPU_MAX_SECONDS)")
    parser.add_argument("--ray-address", default=env("RAY_ADDRESS") or None,
                        help="with --workers ray: join the cluster at auto or HOST:PORT instead of starting an "
                             "embedded Ray (or env RAY_ADDRESS)")
    parser.add_argument("--worker-count", type=worker_count, default=env("STUDIO_WORKER_COUNT") or None,
                        help="with --workers ray: this many workers, one GPU each, or on CPUs where the cluster has "
                             "no GPU (default: one per GPU) (or env STUDIO_WORKER_COUNT)")
    parser.add_argument("--ray-object-store", type=byte_size, default=env("STUDIO_RAY_OBJECT_STORE", "1gb"),
                        help="with an embedded Ray: its object store's memory (files travel through it in 8 MiB "
                             "pieces); a cluster's is set by `ray start` (or env STUDIO_RAY_OBJECT_STORE)")
    parser.add_argument("--ray-dashboard", action="store_true", default=env("STUDIO_RAY_DASHBOARD", "") == "1",
                        help="with an embedded Ray: also start Ray's dashboard (needed by `ray list actors`; about "
                             "1 GB more memory) (or env STUDIO_RAY_DASHBOARD=1)")
    from cli.main import add_lora_argument, add_speed_arguments

    add_speed_arguments(parser, env)
    add_lora_argument(parser, env)  # env STUDIO_LORAS: comma-separated
    args = parser.parse_args(argv)
    if args.workers == "local" and (args.worker_count is not None or args.ray_address):
        parser.error("--worker-count and --ray-address need --workers ray")
    if on_zero_gpu():
        if args.workers == "ray":
            parser.error(both(Text("--workers ray cannot run on a ZeroGPU Space: its GPU exists only inside a "
                                   "spaces.GPU call. Leave --workers local (the default).",
                                   "ZeroGPU Space 上不能用 --workers ray：GPU 只在 spaces.GPU 调用内存在。"
                                   "请保留 --workers local（默认）。")))
        # ZeroGPU asks for the models on "cuda" at start (spaces keeps them on the CPU until a call
        # and moves them in); an offload hook would move them again inside every call.
        if args.offload == "auto":
            args.offload = "none"
        args.preload = True  # loaded now, packed by spaces at launch: no call pays for loading
    if args.free_videos_per_day < 0:
        parser.error(f"--free-videos-per-day {args.free_videos_per_day}: give 0 (off) or more videos a day")
    return args


def on_zero_gpu() -> bool:
    """A Hugging Face Space on ZeroGPU hardware (`spaces` reads the same variable, the same way)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def zero_gpu_decorator() -> "Callable | None":
    """`spaces.GPU` on a ZeroGPU Space, else None. Called before the engine is built: spaces must
    patch torch before any model is put on "cuda"."""
    if not on_zero_gpu():
        return None
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit("error: " + both(Text(
            "SPACES_ZERO_GPU is set but the `spaces` package is missing: pip install spaces",
            "已设置 SPACES_ZERO_GPU，但缺少 `spaces` 包：请运行 pip install spaces"))) from None
    return spaces.GPU


def build(args: argparse.Namespace, service: "JobService | None" = None):
    """The Blocks app, the studio, the job service behind it, the agent, and the Ray workers (None
    with --workers local). No model is loaded here; with --workers ray the workers start (or it
    raises `WorkersUnavailable`)."""
    from jobs import JobService, JobStore
    from ui.handlers import Handlers
    from ui.layout import PageConfig, build_demo

    from cogvideo.engine.lora import parse_loras

    gpu = zero_gpu_decorator()
    engine = Engine(args.model, offload=args.offload, compile=args.compile, fp8=args.fp8, attention=args.attention,
                    loras=parse_loras(args.lora), speed=args.speed, vram_gib=args.vram_gib)
    engine.check_loras()  # a missing or wrong-size LoRA stops the start, with the reason
    studio = Studio(engine, args.output_dir, default_speed=args.speed)
    pool = None
    if service is None:
        store = JobStore(args.data_dir)
        pool = start_ray_workers(args, studio, store.data_dir) if args.workers == "ray" else None
        workers = pool.workers if pool else [local_worker(args, studio, gpu)]
        service = JobService(store, workers, max_queue=args.max_queue, max_queue_per_user=args.max_queue_per_user,
                             keep_per_user=args.keep_works, max_age_days=args.works_max_age_days,
                             free_videos_per_day=args.free_videos_per_day)
    # A local prompt model shares the GPU politely; on ZeroGPU there is none outside a render's call,
    # so it stays on the CPU there.
    agent = PromptAgent.from_env(gpu=None if gpu is not None else studio.gpu_share)
    lang = None if args.lang == "auto" else args.lang
    handlers = Handlers(studio, agent, service, forced_lang=lang)
    page = PageConfig(t2v=studio.variants.get("t2v"), i2v=studio.variants.get("i2v"), lang=lang, speed=args.speed,
                      speeds=tuple(studio.fitting_speeds()))
    return build_demo(handlers, page), studio, service, agent, pool


def local_worker(args: argparse.Namespace, studio: Studio, gpu: "Callable | None"):
    """The in-process worker; on ZeroGPU each render runs inside one `spaces.GPU` call."""
    from jobs import LocalWorker

    if gpu is None:
        return LocalWorker(studio)
    from jobs.zerogpu import ZeroGpuWorker

    return ZeroGpuWorker(studio, gpu, most=args.gpu_max_seconds, default_speed=args.speed)


def start_ray_workers(args: argparse.Namespace, studio: Studio, data_dir: Path):
    """The Ray workers (imported only here: --workers local never imports Ray)."""
    try:
        from jobs.ray_workers import RayWorkers, StudioSpec
    except ImportError as exc:
        from jobs.errors import WorkersUnavailable

        raise WorkersUnavailable(
            f"--workers ray needs Ray ({exc}): pip install -r requirements.txt",
            f"--workers ray 需要 Ray（{exc}）：pip install -r requirements.txt",
        ) from None
    spec = StudioSpec(model=args.model, offload=args.offload, compile=args.compile, fp8=args.fp8,
                      attention=args.attention, speed=args.speed, loras=tuple(args.lora), vram_gib=args.vram_gib)
    return RayWorkers.start(spec, studio, args.output_dir, address=args.ray_address, count=args.worker_count,
                            object_store=args.ray_object_store, dashboard=args.ray_dashboard,
                            label=f"{socket.gethostname()}:{data_dir}", data_dir=data_dir)


def api_routes(args: argparse.Namespace, studio: Studio, service: "JobService", agent: PromptAgent) -> list:
    """The developer API on the same port as the UI, registered before Gradio's own routes."""
    from starlette.routing import Mount

    from api.mcp import build_mcp, mcp_routes
    from api.billing import billing_route
    from api.metrics import StudioMetrics, metrics_route
    from api.zhipu import ApiOptions, build_api

    options = ApiOptions(public_url=args.public_url, allow_url_fetch=args.allow_url_fetch,
                         rate_limit=args.api_rate_limit)
    mcp = build_mcp(service, studio, agent, options)  # MCP tools at /mcp, same keys and the UI's agent
    metrics = metrics_route(StudioMetrics(service, studio), args.metrics_token, shared=args.share)
    # A payment provider's callback exists only with the shared secret (env only: never a flag).
    secret = os.environ.get("STUDIO_BILLING_SECRET", "")
    billing = [billing_route(service.store, secret)] if secret else []
    return [*billing, Mount("/api", app=build_api(service, studio, options)), *mcp_routes(mcp), metrics]


def guards(args: argparse.Namespace, signed_in: bool, users=None) -> list:
    """ASGI middleware in front of Gradio's own routes: request bodies (in front of the API's too),
    sign-in attempts, uploads, Gradio's own messages in ours, and no file route into our folders
    (see api/bodies.py, api/signin.py, api/uploads.py, api/gradio_messages.py, api/private_files.py);
    with `users`, sessions that end when a user is removed or their password changes (api/sessions.py)."""
    from gradio.utils import get_upload_folder
    from starlette.middleware import Middleware

    from api.bodies import BodyLimit, studio_rules
    from api.gradio_messages import GradioMessages
    from api.mcp import MAX_BODY_BYTES as CLIP_BODY_BYTES
    from api.private_files import PrivateFolders
    from api.signin import SignInGuard
    from api.uploads import UploadGuard

    lang = None if args.lang == "auto" else args.lang
    stack = [
        # Outermost: every route's body is bounded before anything (a key check included) reads it.
        Middleware(BodyLimit, rules=studio_rules(CLIP_BODY_BYTES), forced_lang=lang),
        Middleware(GradioMessages, forced_lang=lang),
        Middleware(UploadGuard, cache_dir=get_upload_folder(), max_request=args.max_upload_request,
                   max_per_hour=args.max_upload_per_hour, max_files=args.max_upload_files,
                   max_cache=args.upload_cache_max, max_file=MAX_FILE_BYTES, forced_lang=lang),
    ]
    if signed_in:
        stack.append(Middleware(SignInGuard, attempts=args.login_attempts, forced_lang=lang))
    # The page gets Gradio's hash-named copies of results; the folders themselves are nobody's to browse.
    stack.append(Middleware(PrivateFolders, folders=[args.output_dir, args.data_dir], cache_dir=get_upload_folder(),
                            forced_lang=lang))
    if signed_in and users is not None:
        from api.sessions import SessionGuard

        # Right behind the body limit: an ended session is refused before any other guard acts.
        stack.insert(1, Middleware(SessionGuard, stamp_of=users.session_stamp, forced_lang=lang))
    return stack


def sign_in(service, adhoc: tuple[str, str] | None):
    """Gradio's `auth`: the users table (scrypt, checked off the event loop) plus the --auth user.
    None when nobody has a password: the single-user app needs no sign-in."""
    if adhoc is None and not service.users.any_password():
        return None

    async def check(username: str, password: str) -> bool:
        if adhoc is not None and hmac.compare_digest(f"{username}\0{password}", "\0".join(adhoc)):
            return True
        return await asyncio.to_thread(service.users.check, username, password)

    return check


def main(argv: list[str] | None = None) -> None:
    from api.log_lines import cap_output

    cap_output()  # Gradio prints some callers' values whole: the log keeps lines, not request bodies
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = start(argv)
    try:
        started.demo.block_thread()  # until Ctrl-C (or SIGTERM with Ray workers)
    finally:
        started.stop()


class Started:
    """A started app: the server answers on its port; `stop` closes it and lets the workers go."""

    def __init__(self, demo, studio: Studio, service: "JobService", agent: PromptAgent, pool, lock: DataDirLock):
        self.demo, self.studio, self.service, self.agent, self.pool, self.lock = demo, studio, service, agent, pool, lock

    def stop(self) -> None:
        self.demo.close(verbose=False)
        # A render in this process cannot be interrupted (its job runs again at the next start);
        # Ray workers let go at once.
        self.service.close(timeout=10 if self.pool is not None else 1)
        if self.pool is not None:
            self.pool.shutdown()
        self.lock.release()


def start(argv: list[str] | None = None) -> Started:
    """Everything `python app.py` does but wait: the data folder locked, the app built and serving on
    its port (the tests start apps in their own process with it)."""
    args = parse_args(argv)
    adhoc = None
    if any(arg == "--auth" or arg.startswith("--auth=") for arg in (sys.argv[1:] if argv is None else argv)):
        log.warning(both(Text("--auth on the command line: its password shows in `ps` to every user of this "
                              "machine. Set STUDIO_AUTH=user:password in the environment instead.",
                              "--auth 的密码会出现在 `ps` 中，本机所有用户都能看到；请改用环境变量 STUDIO_AUTH=用户名:密码。")))
    if args.auth:
        user, _, password = args.auth.partition(":")
        if not user or not password:
            raise SystemExit("error: --auth must look like user:password")
        adhoc = (user, password)
    try:
        lock = DataDirLock(_checked_dir(args.data_dir)).acquire()  # held until stop (or the process ends)
        try:
            demo, studio, service, agent, pool = build(args)
        except BaseException:
            lock.release()
            raise
    except BilingualError as exc:
        raise SystemExit(f"error: {both(exc.text)}")
    started = Started(demo, studio, service, agent, pool, lock)
    try:
        serve(args, adhoc, demo, studio, service, agent, pool)
    except BaseException:  # a failed start: the workers stop (an embedded Ray with them)
        started.stop()
        raise
    return started


def serve(args: argparse.Namespace, adhoc, demo, studio: Studio, service: "JobService", agent: PromptAgent,
          pool) -> None:
    if args.model.startswith("tiny"):
        log.warning("--model %s: random weights, the videos are coloured noise (for trying the UI).", args.model)
    if pool is not None:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so the finally above stops the workers
    if args.preload:
        try:
            if pool is not None:
                pool.preload()
            else:
                studio.preload(on_status=lambda text, fraction: log.info(text.en))
        except StudioError as exc:
            raise SystemExit(f"error: {both(exc.text)}")
    service.start()
    if pool is not None:
        pool.watch(service.add_worker)  # GPU machines that join the cluster later serve too
    counts = service.counts()
    log.info("jobs: data folder %s, %d queued, %d to resume", service.data_dir, counts["queued"], counts["running"])
    for model, count in service.stranded().items():
        log.warning("jobs: %d queued for model %s, which this server does not run (--model %s): they wait for a "
                    "server or worker that has it, or `python -m cogvideo jobs cancel`.", count, model, args.model)
    # Gradio's queue now carries only UI events (generation events just follow jobs); the job
    # service keeps the one bounded line for the GPU.
    demo.queue(max_size=max(64, 4 * args.max_queue), default_concurrency_limit=1)
    # Gradio's cache (uploads, copies of results) is cleaned every sixth of the age, at most every 10
    # minutes. Jobs keep copies of their inputs in the data folder, so no queued job loses a file.
    age = max(1, round(args.upload_cache_age))
    demo.delete_cache = (min(600, max(1, age // 6)), age)
    from api.signin import login_page_note

    auth = sign_in(service, adhoc)
    _patient_self_check()
    demo.launch(
        prevent_thread_lock=True,  # main() waits; an app started in a test's process does not
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=auth,
        auth_message=login_page_note(args.login_attempts) if auth and args.login_attempts > 0 else None,
        i18n=demo.i18n_table,
        css=_css(),
        # The footer keeps only "Use via API": the page's API link (ui/api_link.py) opens it, and
        # Gradio opens ?view=api only while that footer link exists.
        footer_links=["api"],
        head=api_link_head(),
        allowed_paths=[str(Path(args.output_dir).resolve()), str(ROOT / "assets"), str(ROOT / "ui" / "placeholders"),
                       str(service.data_dir / "inputs")],
        app_kwargs={"routes": api_routes(args, studio, service, agent),
                    "middleware": guards(args, auth is not None, service.users)},
        max_file_size=MAX_FILE_BYTES,
        # Gradio's own exception texts (object reprs, memory addresses) stay in the log; our gr.Errors
        # still show, and api/gradio_messages.py puts our message where Gradio would show none.
        show_error=False,
    )


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def worker_count(text: str) -> int:
    """--worker-count: a whole number of 1 or more."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} workers cannot render anything: give 1 or more "
                                         "(or leave it out: one worker per GPU)")
    return count


def byte_size(text: str) -> int:
    """`250mb`, `1gb`, `500kb`, `1048576` -> bytes (powers of 1024, like Gradio's max_file_size)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(text), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 250mb, 1gb or 0")
    return int(float(match.group(1)) * 1024 ** "_kmgt".index(match.group(2).lower() or "_"))


def _checked_dir(path: str) -> Path:
    from jobs.store import check_writable

    folder = Path(path).expanduser().resolve()
    check_writable(folder)
    return folder


def api_link_head() -> str:
    from ui.api_link import HEAD

    return HEAD


def _patient_self_check(deadline_s: float = 60.0) -> None:
    """Gradio's launch asks its own server for the page once, with a 3 s timeout, and on a timeout
    stops the start ("When localhost is not accessible, a shareable link must be created"). On a
    loaded machine (a busy GPU host, CI) the first answer can take longer: keep asking until a
    deadline instead, so only a server that really cannot be reached stops the start."""
    import time

    import httpx
    from gradio import networking

    if hasattr(networking.url_ok, "__wrapped__"):  # already patient: an app started before in this process
        return

    def url_ok(url: str) -> bool:
        end = time.monotonic() + deadline_s
        while True:
            try:
                if httpx.head(url, timeout=10, verify=False).status_code in (200, 301, 302, 303, 307, 308, 401):
                    return True
            except (httpx.TimeoutException, httpx.ConnectError):
                pass
            if time.monotonic() > end:
                return False
            time.sleep(0.5)

    url_ok.__wrapped__ = networking.url_ok  # Gradio's own, for whoever needs to tell them apart
    networking.url_ok = url_ok


def _css() -> str:
    from ui.layout import CSS

    return CSS


if __name__ == "__main__":
    main()
