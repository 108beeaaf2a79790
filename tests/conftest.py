"""Shared fixtures: a tiny studio built once per session, and helpers that make real files."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# No test may reach the Hub: weights come from configs (tiny) or files the tests write.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_engine():
    from cogvideo.engine import Engine

    return Engine("tiny")


@pytest.fixture()
def studio(tiny_engine, tmp_path):
    from cogvideo.studio import Studio

    return Studio(tiny_engine, tmp_path / "outputs")


@pytest.fixture()
def photo():
    """A 300×200 colourful RGB picture with structure (gradients and a disc)."""
    return make_photo(300, 200)


def make_photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 128)], axis=-1
    ).astype(np.uint8)
    disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 4) ** 2
    rgb[disc] = (250, 230, 40)
    image = Image.fromarray(rgb)
    return image if mode == "RGB" else image.convert(mode)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
