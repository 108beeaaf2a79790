"""CogVideoX Studio: the Gradio app. Text to video, image to video, old photos, for people and scripts.

    python app.py                      # 5b + 5b-i2v, loaded on the first request
    python app.py --model tiny         # random-weight toy model: try the UI without a GPU
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
from pathlib import Path

from agent import AgentError, PromptAgent
from cogvideo import Studio, StudioError
from cogvideo.engine import Engine
from cogvideo.models import OFFLOAD_MODES
from jobs import DataDirLock, JobService, default_data_dir

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("cogvideo.app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="CogVideoX Studio web app")
    parser.add_argument("--model", default=env("COGVIDEO_MODEL", "5b"),
                        help="variant (2b, 5b, 5b-i2v, 1.5-5b, 1.5-5b-i2v, tiny) or a local folder")
    parser.add_argument("--offload", default=env("COGVIDEO_OFFLOAD", "auto"), choices=OFFLOAD_MODES)
    parser.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--auth", default=env("STUDIO_AUTH"), help="user:password (or env STUDIO_AUTH)")
    parser.add_argument("--preload", action="store_true", default=env("STUDIO_PRELOAD", "") == "1",
                        help="load the model before serving (or env STUDIO_PRELOAD=1)")
    parser.add_argument("--max-queue", type=int, default=int(env("STUDIO_MAX_QUEUE", "20")),
                        help="videos that may wait in line; more are refused with a message (or env STUDIO_MAX_QUEUE)")
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
    parser.add_argument("--api-rate-limit", type=int, default=int(env("STUDIO_API_RATE_LIMIT", "60")),
                        help="API video submits per minute per key (other calls: ten times that); 0 turns it off")
    parser.add_argument("--lang", choices=("auto", "zh", "en"), default=env("STUDIO_LANG", "auto"),
                        help="UI language: follow the browser (auto, Chinese by default) or force one")
    from cogvideo.__main__ import add_speed_arguments

    add_speed_arguments(parser, env)
    return parser.parse_args(argv)


def build(args: argparse.Namespace, service: "JobService | None" = None):
    """The Blocks app, the studio and the job service behind it; no model is loaded here."""
    from jobs import JobService, JobStore, LocalWorker
    from ui.handlers import Handlers
    from ui.layout import PageConfig, build_demo

    engine = Engine(args.model, offload=args.offload, compile=args.compile, fp8=args.fp8, attention=args.attention)
    studio = Studio(engine, args.output_dir, default_speed=args.speed)
    if service is None:
        service = JobService(JobStore(args.data_dir), [LocalWorker(studio)], max_queue=args.max_queue,
                             keep_per_user=args.keep_works, max_age_days=args.works_max_age_days)
    agent = PromptAgent.from_env()
    lang = None if args.lang == "auto" else args.lang
    handlers = Handlers(studio, agent, service, forced_lang=lang)
    page = PageConfig(t2v=engine.variants.get("t2v"), i2v=engine.variants.get("i2v"), lang=lang, speed=args.speed)
    return build_demo(handlers, page), studio, service, agent


def api_routes(args: argparse.Namespace, studio: Studio, service: "JobService", agent: PromptAgent) -> list:
    """The developer API on the same port as the UI, registered before Gradio's own routes."""
    from starlette.routing import Mount

    from api.mcp import build_mcp, mcp_routes
    from api.zhipu import ApiOptions, build_api

    options = ApiOptions(public_url=args.public_url, allow_url_fetch=args.allow_url_fetch,
                         rate_limit=args.api_rate_limit)
    mcp = build_mcp(service, studio, agent, options)  # MCP tools at /mcp, same keys and the UI's agent
    return [Mount("/api", app=build_api(service, studio, options)), *mcp_routes(mcp)]


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    adhoc = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        if not user or not password:
            raise SystemExit("error: --auth must look like user:password")
        adhoc = (user, password)
    try:
        lock = DataDirLock(_checked_dir(args.data_dir)).acquire()  # held until the process ends
        demo, studio, service, agent = build(args)
    except (StudioError, AgentError) as exc:
        raise SystemExit(f"error: {exc.en}\n错误：{exc.zh}")
    if args.model.startswith("tiny"):
        log.warning("--model tiny: random weights, the videos are coloured noise (for trying the UI).")
    if args.preload:
        try:
            studio.preload(on_status=lambda en, zh, fraction: log.info(en))
        except StudioError as exc:
            raise SystemExit(f"error: {exc.en}")
    service.start()
    counts = service.counts()
    log.info("jobs: data folder %s, %d queued, %d to resume", service.data_dir, counts["queued"], counts["running"])
    # Gradio's queue now carries only UI events (generation events just follow jobs); the job
    # service keeps the one bounded line for the GPU.
    demo.queue(max_size=max(64, 4 * args.max_queue), default_concurrency_limit=1)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=sign_in(service, adhoc),
        i18n=demo.i18n_table,
        css=_css(),
        allowed_paths=[str(Path(args.output_dir).resolve()), str(ROOT / "assets"), str(ROOT / "ui" / "placeholders"),
                       str(service.data_dir / "inputs")],
        app_kwargs={"routes": api_routes(args, studio, service, agent)},
        max_file_size="200mb",
        show_error=True,
    )
    lock.release()


def _checked_dir(path: str) -> Path:
    from jobs.store import check_writable

    folder = Path(path).expanduser().resolve()
    check_writable(folder)
    return folder


def _css() -> str:
    from ui.layout import CSS

    return CSS


if __name__ == "__main__":
    main()
