"""Time from `python app.py --model tiny` to the first HTTP 200, against a bare import of the stack.

Alternates the two in one run, several times each, and prints the median ratio last.
Target: app/bare <= 1.5 (nothing heavy happens at start-up beyond importing the libraries).

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE = "import gradio, diffusers, torch, transformers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_bare() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE], check=True, cwd=ROOT)
    return time.perf_counter() - start


def time_app(output_dir: str) -> float:
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--model", "tiny", "--port", str(port), "--output-dir", output_dir],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit("app.py exited before serving")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output_dir:
        time_bare(), time_app(output_dir)  # warm the disk cache for both
        bare, app = [], []
        for _ in range(args.runs):
            bare.append(time_bare())
            app.append(time_app(output_dir))
    print(f"bare `{BARE}`: median {statistics.median(bare):.2f} s over {args.runs} runs")
    print(f"python app.py --model tiny to first HTTP 200: median {statistics.median(app):.2f} s")
    print(f"ratio app/bare: {statistics.median(app) / statistics.median(bare):.2f}")


if __name__ == "__main__":
    main()
