"""How much time the prompt agent adds around the model for an image-to-video suggestion; with
--local, how fast the local prompt model writes.

A local Chat Completions server (tests/chat_server.py) answers every request after a fixed
artificial latency and records how long it took to handle each one. Per call:
overhead = the client's total time - the server's handling time, i.e. what the agent itself costs:
downscaling and JPEG-encoding the picture, base64 and JSON, the HTTP round trip on loopback,
parsing and cleaning the answer. The baseline is the same call with no picture (text only).

    python bench/prompt_agent.py [--runs 15] [--latency-ms 20] [--size 1024]

The last line is `median overhead: X ms` (target: <= 50 ms).

    python bench/prompt_agent.py --local [--model tiny] [--runs 5]

runs the local backend (PROMPT_AGENT_LOCAL_MODEL, default Qwen/Qwen3-VL-2B-Instruct; `tiny` works
on any CPU) on a T2V idea and on a 1024-px picture, and prints the load time, time to first token
and tokens per second of each, with the picture's cost against the text-only baseline. The
model's weights must be on the machine (`python -m cogvideo download agent`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from agent import PromptAgent  # noqa: E402
from tests.chat_server import ChatServer, Reply  # noqa: E402

ANSWER = (
    "Sure! Here is the prompt:\n\n\"A calm mountain lake at sunrise, seen in a wide shot: pine-covered "
    "slopes rise on both sides, snow-dusted peaks glow pink in the distance, and a weathered wooden "
    "rowing boat is tied to a small grey dock. Thin white mist drifts slowly across the glassy "
    "water as the first warm sunlight reaches it. The boat rocks gently, its reflection wobbling. "
    "The camera holds the framing with a barely noticeable push-in. The mood is serene and fresh.\""
)


def test_picture(size: int) -> Image.Image:
    """A photo-like picture: gradients, shapes and grain, so the JPEG has a realistic size."""
    gradient = Image.linear_gradient("L").resize((size, size))
    grain = Image.effect_noise((size, size), 24)
    image = Image.merge("RGB", (gradient, gradient.rotate(90), grain))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = (i * 97) % size, (i * 61) % size
        draw.ellipse((x, y, x + size // 5, y + size // 6), fill=(40 + i * 15, 120, 200 - i * 10))
    return image.filter(ImageFilter.GaussianBlur(1))


def measure(agent: PromptAgent, server: ChatServer, runs: int, image: Image.Image | None) -> list[tuple[float, float]]:
    """(client seconds, server seconds) per call."""
    mode = "t2v" if image is None else "i2v"
    text = "a calm lake at sunrise" if image is None else ""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        suggestion = agent.suggest(text, image=image, mode=mode)
        client_s = time.perf_counter() - started
        if suggestion.source != "llm":
            raise SystemExit(f"bench call failed: {suggestion.warning and suggestion.warning.en}")
        timings.append((client_s, server.requests[-1].handled_s))
    return timings


def measure_local(model: str, runs: int, size: int) -> None:
    """Time to first token and tokens per second of the local model, text and picture."""
    import os

    from agent.local import DEFAULT_MODEL

    model = model or os.environ.get("PROMPT_AGENT_LOCAL_MODEL") or DEFAULT_MODEL
    agent = PromptAgent(local_model=model, timeout=600.0)
    local = agent._backend
    started = time.perf_counter()
    local.load(lambda text, fraction: print(f"  {text.en}", file=sys.stderr) if fraction in (None, 0.0) else None)
    load_s = time.perf_counter() - started
    print(f"local prompt model {model}: loaded on the {local.where} in {load_s:.1f} s")
    image = test_picture(size)
    rows = {}
    for name, call in (("text (T2V idea)", lambda: agent.suggest("小男孩喝咖啡")),
                       (f"picture ({size}x{size}, I2V)", lambda: agent.suggest("", image=image, mode="i2v"))):
        call()  # warm-up: the first call allocates and, on a GPU, compiles kernels
        stats = []
        for _ in range(runs):
            call()
            stats.append(local.last_stats)
        first = statistics.median(s.first_token_s for s in stats if s.first_token_s is not None)
        # Decoding speed: the tokens after the first, over the time after the first.
        speed = statistics.median((s.new_tokens - 1) / max(s.total_s - (s.first_token_s or 0.0), 1e-9) for s in stats)
        total = statistics.median(s.total_s for s in stats)
        tokens = statistics.median(s.new_tokens for s in stats)
        prompt = statistics.median(s.prompt_tokens for s in stats)
        rows[name] = first
        print(f"  {name:<24} prompt {prompt:5.0f} tok   first token {first * 1000:7.0f} ms   "
              f"{speed:6.1f} tok/s   {tokens:4.0f} tokens in {total:5.1f} s   ({stats[-1].device})")
    text_first, picture_first = rows.values()
    print(f"picture / text time to first token: {picture_first / text_first:.1f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the fake model's latency")
    parser.add_argument("--size", type=int, default=1024, help="picture side in px (square)")
    parser.add_argument("--local", action="store_true", help="benchmark the local prompt model instead")
    parser.add_argument("--model", default=None, help="with --local: a Hub id, a folder or `tiny`")
    args = parser.parse_args(argv)
    if args.local:
        measure_local(args.model, args.runs, args.size)
        return

    image = test_picture(args.size)
    with ChatServer(latency=args.latency_ms / 1000, default=Reply(text=ANSWER)) as server:
        agent = PromptAgent(
            base_url=server.url, api_key="bench", model="text-model", vision_model="vision-model", timeout=10.0
        )
        # Warm-up: the first call imports the HTTP stack and opens the connection.
        measure(agent, server, 2, image)
        baseline = measure(agent, server, args.runs, None)
        timings = measure(agent, server, args.runs, image)
        upload_kb = len(str(server.requests[-1].json)) / 1024

    print(f"I2V suggestion, {args.size}x{args.size} picture (~{upload_kb:.0f} KB request), server latency {args.latency_ms:g} ms")
    for index, (client_s, server_s) in enumerate(timings, 1):
        print(
            f"  call {index:2d}: client {client_s * 1000:6.1f} ms   server {server_s * 1000:6.1f} ms   "
            f"overhead {(client_s - server_s) * 1000:5.1f} ms"
        )
    overheads = [client - server_s for client, server_s in timings]
    base_overheads = [client - server_s for client, server_s in baseline]
    median_base = statistics.median(base_overheads) * 1000
    median = statistics.median(overheads) * 1000
    print(f"median client: {statistics.median(c for c, _ in timings) * 1000:.1f} ms")
    print(f"median server: {statistics.median(s for _, s in timings) * 1000:.1f} ms")
    print(f"baseline (T2V text only) median overhead: {median_base:.1f} ms; picture / baseline: {median / median_base:.1f}x")
    print(f"median overhead: {median:.1f} ms")


if __name__ == "__main__":
    main()
