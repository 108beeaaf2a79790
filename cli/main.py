"""Command line: python -m cogvideo generate|models|styles|tracks|download|calibrate|users|jobs ..."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

from bilingual import Text, pick

from cogvideo.engine import models
from cogvideo.errors import StudioError
from cogvideo.request import DEFAULTS, MAX_EXTENSIONS, MAX_VOLUME, MIN_VOLUME


def _lang(args: argparse.Namespace) -> str:
    if getattr(args, "lang", None):
        return args.lang
    return "zh" if os.environ.get("LANG", "").lower().startswith("zh") else "en"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cogvideo", description="CogVideoX Studio from the command line.")
    parser.add_argument("--lang", choices=("en", "zh"), help="language of messages (default: from $LANG)")
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="make a video from a prompt (and an image)")
    gen.add_argument("--prompt", required=True, help="what should happen in the video (CogVideoX reads English "
                                                     "best; Wan reads Chinese as it is, with no translation)")
    gen.add_argument("--image", help="first frame: makes it image-to-video")
    gen.add_argument("--old-photo", action="store_true", help="colorize a black-and-white --image, then animate it")
    gen.add_argument("--no-colorize", action="store_true", help="with --old-photo: animate the photo as it is")
    gen.add_argument("--video", help="restyle this clip (video to video; MP4/MOV/WebM up to 60 s)")
    gen.add_argument("--strength", type=float, default=DEFAULTS.strength,
                     help="with --video: 0.1 stays close to the clip, 1.0 keeps only its layout and motion")
    gen.add_argument("--extend", metavar="VIDEO", help="continue this video from its last frame (image to video)")
    gen.add_argument("--extensions", type=int, default=DEFAULTS.extensions,
                     help=f"with --extend: parts to add (1-{MAX_EXTENSIONS})")
    gen.add_argument("--crossfade", action="store_true", help="with --extend: fade each new part in")
    gen.add_argument("--gif", action="store_true", help="also write an animated GIF beside the MP4")
    gen.add_argument("--gif-width", type=int, default=480, help="GIF width in pixels (480 or 720 suggested)")
    gen.add_argument("--gif-fps", type=float, default=None,
                     help="GIF frame rate (at most 15; default 8, never more than the video's)")
    add_lora_argument(gen)
    gen.add_argument("--model", default="5b", help="variant name or local folder (see `models`)")
    gen.add_argument("--negative-prompt", default=DEFAULTS.negative_prompt)
    gen.add_argument("--num-frames", type=int, help="frame count (8N+1 for CogVideoX 1.0, 16N+1 for 1.5, "
                                                    "4N+1 for Wan)")
    gen.add_argument("--num-inference-steps", type=int, default=DEFAULTS.num_inference_steps)
    gen.add_argument("--guidance-scale", type=float, default=DEFAULTS.guidance_scale,
                     help="classifier-free guidance (default: the model's own, as its authors run it)")
    gen.add_argument("--seed", type=int, default=DEFAULTS.seed, help="-1 picks a random seed and prints it")
    gen.add_argument("--height", type=int)
    gen.add_argument("--width", type=int)
    gen.add_argument("--offload", default="auto", choices=models.OFFLOAD_MODES)
    add_speed_arguments(gen)
    gen.add_argument("--style", default=DEFAULTS.style, help="style preset id (see `styles`)")
    gen.add_argument("--music", default="none", help="track id (see `tracks`), an audio file, or none")
    gen.add_argument("--music-volume", type=float, default=DEFAULTS.music_volume,
                     help=f"{MIN_VOLUME:g}..{MAX_VOLUME:g}")
    gen.add_argument("--upscale", action="store_true", help="2× resolution (720×480 -> 1440×960)")
    gen.add_argument("--interpolate", action="store_true", help="2× frame rate for smoother motion")
    gen.add_argument("--output-dir", default=os.environ.get("COGVIDEO_OUTPUT_DIR", "outputs"))
    gen.add_argument("--out", help="copy the finished MP4 to this path")

    commands.add_parser("models", help="list model variants with VRAM guidance")
    commands.add_parser("styles", help="list style presets")
    commands.add_parser("tracks", help="list built-in music tracks")
    dl = commands.add_parser("download", help="fetch a model's weights ahead of time (and its T2V/I2V partner's "
                                              "transformer), or the prompt helper's local model")
    dl.add_argument("name", help="variant name, e.g. 5b; or `agent`: the prompt helper's local model "
                                 "(PROMPT_AGENT_LOCAL_MODEL, default Qwen/Qwen3-VL-2B-Instruct, ~4.3 GB)")

    cal = commands.add_parser("calibrate", help="measure MagCache's ratios for a model: one full render, no caching")
    cal.add_argument("model", help="variant name or local folder (see `models`)")
    cal.add_argument("--steps", type=int, default=None, help="denoising steps the ratios are for (default: the app's)")
    cal.add_argument("--prompt", default=CALIBRATION_PROMPT, help="any typical prompt (English)")
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument("--image", help="first frame: needed by an image-to-video model")
    cal.add_argument("--offload", default="auto", choices=models.OFFLOAD_MODES)

    from .operator import register  # the operator's commands: users, jobs, keys, workers

    register(commands)
    return parser


def add_speed_arguments(parser: argparse.ArgumentParser, env=lambda name, default: default) -> None:
    """--speed, --compile, --fp8 and --attention, shared by the CLI and the app (docs/speed.md)."""
    from cogvideo.engine.attention import ATTENTION_BACKENDS
    from cogvideo.engine.speed import PRESETS
    from cogvideo.request import DEFAULT_SPEED

    parser.add_argument("--speed", default=env("STUDIO_SPEED", DEFAULT_SPEED), choices=list(PRESETS),
                        help="quality (every step in full; default), balanced (reuses attention between "
                             "steps), fast (also reuses the unconditional pass) or lean (skips steps that barely "
                             "change; almost no extra memory); see docs/speed.md. With --offload auto the "
                             "offload mode is chosen so this preset's cache fits too")
    parser.add_argument("--vram-gib", type=float, default=_float_or_none(env("STUDIO_VRAM_GIB", None)),
                        metavar="GIB",
                        help="treat the GPU as having this much memory (another program shares it); "
                             "--offload auto and the speed presets offered are sized for it")
    parser.add_argument("--compile", action="store_true", default=env("STUDIO_COMPILE", "") == "1",
                        help="torch.compile each transformer block (GPU only; the first video compiles)")
    parser.add_argument("--fp8", action="store_true", default=env("STUDIO_FP8", "") == "1",
                        help="fp8 matmuls in the transformer (torchao; GPUs with compute capability 8.9+)")
    parser.add_argument("--attention", default=env("STUDIO_ATTENTION", "native"), choices=ATTENTION_BACKENDS,
                        help="attention kernel: native (PyTorch SDPA), sage, flash, flash_3 where installed")


def _float_or_none(value) -> float | None:
    return None if value in (None, "") else float(value)


def add_lora_argument(parser: argparse.ArgumentParser, env=lambda name, default: default) -> None:
    """--lora, shared by the CLI and the app."""
    default = [part for part in (env("STUDIO_LORAS", "") or "").split(",") if part.strip()]
    parser.add_argument("--lora", action="append", default=default, metavar="PATH_OR_HUB_ID[:SCALE]",
                        help="load a LoRA into the model (repeatable): a .safetensors file, a folder, or a Hub "
                             "id, with an optional default scale (e.g. pixel.safetensors:0.8)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    lang = _lang(args)
    try:
        if args.command in ("users", "jobs", "keys", "codes", "workers"):
            from .operator import run

            return run(args, lang)
        return COMMANDS[args.command](args, lang)
    except StudioError as exc:
        print(f"error: {pick(exc.text, lang)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


def cmd_generate(args: argparse.Namespace, lang: str) -> int:
    from tqdm.auto import tqdm

    from cogvideo.engine.render import Engine
    from cogvideo.request import VideoRequest
    from cogvideo.studio import Studio

    from cogvideo.engine.lora import parse_loras

    if args.old_photo and not args.image:
        raise StudioError("--old-photo needs --image PATH.", "--old-photo 需要 --image 图片路径。")
    if sum(bool(x) for x in (args.image, args.video, args.extend)) > 1:
        raise StudioError("Give one of --image, --video and --extend.", "--image、--video 和 --extend 只能选一个。")
    mode = ("old_photo" if args.old_photo else "i2v" if args.image else "v2v" if args.video
            else "extend" if args.extend else "t2v")
    request = VideoRequest(
        prompt=args.prompt, mode=mode, image=args.image, video=args.video or args.extend,
        strength=args.strength, extensions=args.extensions, crossfade=args.crossfade,
        negative_prompt=args.negative_prompt,
        num_frames=args.num_frames, num_inference_steps=args.num_inference_steps,
        guidance_scale=args.guidance_scale, seed=args.seed, height=args.height, width=args.width,
        style=args.style, music=_music_argument(args.music), music_volume=args.music_volume,
        upscale=args.upscale, interpolate=args.interpolate, colorize=not args.no_colorize,
        speed=args.speed,
    )
    engine = Engine(args.model, offload=args.offload, compile=args.compile, fp8=args.fp8,
                    attention=args.attention, loras=parse_loras(args.lora), speed=args.speed,
                    vram_gib=args.vram_gib)
    engine.check_loras()
    if engine.variants.get(request.task) and engine.variants[request.task].toy:
        print("note: the tiny model has random weights; its video is noise.", file=sys.stderr)
    studio = Studio(engine, args.output_dir)
    if _has_chinese(args.prompt) and not studio.reads_chinese:  # Wan's umT5 takes it as it is
        print("note: " + pick(Text(
            f"{studio.model} ({studio.family_name}) reads English: a Chinese prompt renders poorly. Translate it, "
            "or use a model that reads Chinese (--model wan2.1-1.3b or wan2.2-5b).",
            f"{studio.model}（{studio.family_name}）只读英文，中文提示词效果很差。请翻译成英文，"
            "或换用能读中文的模型（--model wan2.1-1.3b 或 wan2.2-5b）。"), lang), file=sys.stderr)
    if args.gif:
        from cogvideo.media.gif import DEFAULT_GIF_FPS, check_gif_options

        check_gif_options(args.gif_width, DEFAULT_GIF_FPS if args.gif_fps is None else args.gif_fps)  # before minutes of work
    studio.validate(request)
    bar = tqdm(total=request.num_inference_steps, desc="denoising", unit="step", file=sys.stderr)

    def progress(event) -> None:
        if event.stage == "render" and event.fraction is not None:
            bar.n = round(event.fraction * bar.total)
            bar.refresh()
        elif event.stage != "render":
            bar.write(pick(event.text, lang))

    try:
        result = studio.generate(request, progress=progress)
    finally:
        bar.close()
    path = result.path
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.path, path)
    for notice in result.notices:
        print(f"note: {pick(notice, lang)}", file=sys.stderr)
    accel = engine.status().acceleration
    for note in accel.notes:
        print(f"note: {pick(note, lang)}", file=sys.stderr)
    print(f"video: {path}")
    if args.gif:
        made = studio.export_gif(path, args.gif_width, args.gif_fps)
        print(f"gif: {made.path} ({pick(made.size_text(), lang)})")
    print(f"seed: {result.seed}")
    print(f"prompt: {result.prompt}")
    return 0


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)  # the CJK Unified Ideographs block


def _music_argument(value: str) -> str | Path:
    """A file the operator names on their own machine is theirs to read (a `Path`); a track id or
    name stays text (the studio takes text as a track id only, never as a path)."""
    from cogvideo.media.music import load_tracks

    key = value.strip()
    if key.lower() in ("", "none") or any(key.lower() in (t.id, t.name.en.lower()) or key == t.name.zh
                                          for t in load_tracks().values()):
        return value
    path = Path(key).expanduser()
    return path if path.is_file() else value


def cmd_models(args: argparse.Namespace, lang: str) -> int:
    from cogvideo.engine.families import family_of

    print(_models_row(pick(Text("name family task chinese sizes frames fps dtype VRAM-GiB:none/model/group/sequential repo",
                                "名称 系列 任务 读中文 尺寸 帧数 帧率 精度 显存GiB:none/model/group/sequential 仓库"),
                           lang).split()))
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    for v in models.VARIANTS.values():
        family = family_of(v)
        sizes = ",".join(f"{s.width}×{s.height}" for s in v.offered_sizes())
        vram = "/".join(f"{v.vram_gib[m]:g}" for m in models.OFFLOAD_LADDER)
        print(_models_row([v.name, family.name, v.task, yes if family.reads_chinese else no, sizes,
                           f"{v.num_frames}", f"{v.fps}", v.dtype, vram, v.repo_id or "(built in)"]))
    print(pick(Text(
        "\nchinese: the text encoder reads Chinese prompts as they are (Wan's umT5); CogVideoX's T5 reads English. "
        "Frames: CogVideoX 8N+1 (1.5: 16N+1), Wan 4N+1.\n--offload auto picks the fastest mode that fits the free "
        "VRAM; VRAM numbers are approximate peaks.",
        "\n读中文：文本编码器能直接读中文提示词（Wan 的 umT5）；CogVideoX 的 T5 只读英文。帧数：CogVideoX 为 8N+1"
        "（1.5 为 16N+1），Wan 为 4N+1。\n--offload auto 会选择空闲显存放得下的最快方式；显存数字为大致峰值。"), lang))
    return 0


# Column widths of `models`: wan2.2-5b-i2v is the longest name, the tiny models' four sizes the longest sizes.
_MODEL_COLUMNS = (14, 9, 4, 7, 26, 6, 3, 8, 20)


def _models_row(cells: list[str]) -> str:
    return " ".join(f"{cell:<{width}}" for cell, width in zip(cells, _MODEL_COLUMNS)) + " " + cells[-1]


def cmd_styles(args: argparse.Namespace, lang: str) -> int:
    from cogvideo.catalogues.styles import load_styles

    for style in load_styles().values():
        print(f"{style.id:<18} {pick(style.name, lang):<22} {pick(style.description, lang)}")
    return 0


def cmd_tracks(args: argparse.Namespace, lang: str) -> int:
    from cogvideo.media.music import load_tracks

    for track in load_tracks().values():
        print(f"{track.id:<12} {pick(track.name, lang):<20} {track.mood:<22} {track.bpm:>4} bpm {track.duration:5.1f} s")
    return 0


def cmd_download(args: argparse.Namespace, lang: str) -> int:
    from cogvideo.engine.weights import fetch_weights

    if args.name == "agent":
        return _download_agent(lang)
    variant = models.resolve(args.name)
    if variant.repo_id is None:
        print(f"{variant.name} is built in code: nothing to download.")
        return 0

    def say(text: Text, fraction) -> None:
        if fraction in (None, 0.0):
            print(pick(text, lang), file=sys.stderr)

    print(fetch_weights(variant, say))
    other = models.partner(variant)
    # Wan2.2-TI2V's image to video is the same model (the same repository): nothing more to fetch.
    if other is not None and other.repo_id is not None and other.repo_id != variant.repo_id:
        # The app serves both tasks of a family; the other one needs only its own transformer.
        print(fetch_weights(other, say, allow_patterns=["model_index.json", "transformer/*"]))
    return 0


def _download_agent(lang: str) -> int:
    """The prompt helper's local model into the Hugging Face cache. The command line is a face:
    it may reach the agent package (the engine itself never does)."""
    from agent import AgentError
    from agent.local import DEFAULT_MODEL, download

    model = (os.environ.get("PROMPT_AGENT_LOCAL_MODEL") or "").strip() or DEFAULT_MODEL
    if Path(model).expanduser().is_dir() or model.startswith("tiny"):
        print(f"{model} needs no download.")
        return 0

    def say(text, fraction) -> None:
        if fraction in (None, 0.0):
            print(pick(text, lang), file=sys.stderr)

    try:
        print(download(model, say))
    except AgentError as exc:
        print(f"error: {pick(exc.text, lang)}", file=sys.stderr)
        return 2
    return 0


# MagCache's ratios describe how much the blocks' output changes from step to step; one ordinary
# prompt is enough (MagCache's authors calibrate on one).
CALIBRATION_PROMPT = "a boat drifts on a calm lake at sunset, the camera slowly pans along the shore"


def cmd_calibrate(args: argparse.Namespace, lang: str) -> int:
    import datetime as dt
    import math

    from tqdm.auto import tqdm

    from cogvideo.engine import speed
    from cogvideo.engine.render import Engine, RenderJob
    from cogvideo.errors import InvalidRequest
    from cogvideo.media import codec
    from cogvideo.request import MAX_STEPS, VideoRequest

    # 1. Check inputs before loading anything: the ratios are for one step count, the app's range.
    steps = VideoRequest.num_inference_steps if args.steps is None else args.steps
    if not 1 <= steps <= MAX_STEPS:
        raise InvalidRequest(
            f"--steps {steps} must be a whole number from 1 to {MAX_STEPS} "
            f"({VideoRequest.num_inference_steps} is the default): calibrate for the steps you render with.",
            f"--steps {steps} 必须是 1 到 {MAX_STEPS} 之间的整数"
            f"（默认 {VideoRequest.num_inference_steps}）：请按实际生成时使用的步数校准。",
        )
    engine = Engine(args.model, offload=args.offload)  # an unknown model raises InvalidRequest here
    variant = next(iter(engine.variants.values()))  # the model named, not its T2V/I2V partner
    if engine.family.id != "cogvideox":
        # MagCache's ratios are one per step; Wan runs the two halves of guidance as two transformer
        # calls, and no speed preset is offered on it yet (docs/speed.md).
        raise InvalidRequest(
            f"calibrate measures CogVideoX models only; {variant.name} is a {engine.family.name} model, "
            "which runs at the Quality speed for now.",
            f"calibrate 只能校准 CogVideoX 模型；{variant.name} 是 {engine.family.name} 模型，目前只以“质量优先”运行。",
        )
    height, width, image = variant.height, variant.width, None
    if variant.task == "i2v":
        if not args.image:
            raise InvalidRequest(
                f"{variant.name} is an image-to-video model: give --image PATH, a picture like those you will animate.",
                f"{variant.name} 是图生视频模型：请用 --image 指定一张与日常使用相似的图片。",
            )
        picture = codec.load_image(args.image)
        if models.sizes_follow_input(variant):
            height, width = models.size_for_picture(variant, picture.width, picture.height)
        image = codec.fit_image(picture, width, height)
    if variant.repo_id is None:
        print("note: the tiny model has random weights; its ratios fit only itself.", file=sys.stderr)

    # 2. One uncached render (the Quality preset) with the recorder on the transformer's blocks.
    def say(text: Text, fraction) -> None:
        if fraction in (None, 0.0):
            print(pick(text, lang), file=sys.stderr)

    pipe = engine.load(variant.task, on_status=say)  # missing weights raise WeightsMissing here
    job = RenderJob(task=variant.task, prompt=args.prompt, negative_prompt="", image=image,
                    num_frames=variant.num_frames, num_inference_steps=steps,
                    guidance_scale=variant.guidance_scale, seed=args.seed, height=height, width=width,
                    speed="quality")
    bar = tqdm(total=steps, desc="calibrating", unit="step", file=sys.stderr)
    recorder = speed.MagRatioRecorder(pipe.transformer)
    try:
        engine.render(job, on_step=lambda done, total: bar.update(done - bar.n), on_status=say)
    finally:
        recorder.close()
        bar.close()
    ratios = recorder.ratios

    # 3. Keep only ratios MagCache can use: one per step (CFG runs as one batch), finite, positive.
    if len(ratios) != steps:
        raise RuntimeError(f"recorded {len(ratios)} ratios for {steps} steps: the transformer ran "
                           "other than once per step")
    if not all(math.isfinite(r) and r > 0 for r in ratios):
        raise StudioError(
            f"The calibration render gave unusable ratios ({ratios}): the model's numbers overflowed. "
            "Nothing was saved; try another --seed or prompt.",
            f"校准生成得到的比值无法使用（{ratios}）：模型数值溢出。"
            "未保存任何文件；请换一个 --seed 或提示词再试。",
        )
    path = speed.save_mag_ratios(
        variant.name, steps, ratios, scheduler=type(pipe.scheduler).__name__,
        guidance_scale=job.guidance_scale, size=f"{width}x{height}", num_frames=job.num_frames,
        prompt=job.prompt, seed=job.seed, date=dt.date.today().isoformat(),
    )
    print(f"ratios: {path}")
    return 0


COMMANDS = {
    "generate": cmd_generate,
    "models": cmd_models,
    "styles": cmd_styles,
    "tracks": cmd_tracks,
    "download": cmd_download,
    "calibrate": cmd_calibrate,
}

