"""CogVideoX Studio: the Gradio app. Text to video, image to video, old photos, for people and scripts.

    python app.py                      # 5b + 5b-i2v, loaded on the first request
    python app.py --model tiny         # random-weight toy model: try the UI without a GPU
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from agent import AgentError, PromptAgent
from cogvideo import Studio, StudioError
from cogvideo.engine import Engine
from cogvideo.models import OFFLOAD_MODES

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
    parser.add_argument("--max-queue", type=int, default=int(env("STUDIO_MAX_QUEUE", "20")))
    parser.add_argument("--output-dir", default=env("COGVIDEO_OUTPUT_DIR", str(ROOT / "outputs")))
    parser.add_argument("--lang", choices=("auto", "zh", "en"), default=env("STUDIO_LANG", "auto"),
                        help="UI language: follow the browser (auto, Chinese by default) or force one")
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The Blocks app and the studio behind it; nothing heavy is loaded here."""
    from ui.handlers import Handlers
    from ui.layout import PageConfig, build_demo

    engine = Engine(args.model, offload=args.offload)
    studio = Studio(engine, args.output_dir)
    agent = PromptAgent.from_env()
    lang = None if args.lang == "auto" else args.lang
    handlers = Handlers(studio, agent, forced_lang=lang)
    page = PageConfig(t2v=engine.variants.get("t2v"), i2v=engine.variants.get("i2v"), lang=lang)
    return build_demo(handlers, page), studio


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    auth = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        if not user or not password:
            raise SystemExit("error: --auth must look like user:password")
        auth = (user, password)
    try:
        demo, studio = build(args)
    except (StudioError, AgentError) as exc:
        raise SystemExit(f"error: {exc.en}")
    if args.model.startswith("tiny"):
        log.warning("--model tiny: random weights, the videos are coloured noise (for trying the UI).")
    if args.preload:
        try:
            for task in studio.engine.variants:
                studio.engine.load(task, on_status=lambda en, zh, fraction: log.info(en))
        except StudioError as exc:
            raise SystemExit(f"error: {exc.en}")
    demo.queue(max_size=args.max_queue, default_concurrency_limit=1)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=auth,
        i18n=demo.i18n_table,
        css=_css(),
        allowed_paths=[str(Path(args.output_dir).resolve()), str(ROOT / "assets")],
        max_file_size="200mb",
        show_error=True,
    )


def _css() -> str:
    from ui.layout import CSS

    return CSS


if __name__ == "__main__":
    main()
