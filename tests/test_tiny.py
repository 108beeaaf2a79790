"""The tiny model's pace: as fast as the CPU goes, or at least STUDIO_TINY_STEP_S per step, so a
try-out of the queue or a test that reloads a page mid-job gets a render that lasts."""

from __future__ import annotations

import logging
import time

import torch

from cogvideo.engine import tiny


def render_seconds(steps: int) -> float:
    pipe = tiny.build_pipeline("t2v")
    started = time.monotonic()
    pipe(prompt="a cat", num_inference_steps=steps, num_frames=9, height=32, width=32,
         generator=torch.Generator().manual_seed(0), output_type="latent")
    return time.monotonic() - started


def test_each_step_lasts_at_least_the_pace_asked_for(monkeypatch):
    monkeypatch.setenv(tiny.STEP_S_ENV, "0.2")
    assert render_seconds(3) >= 3 * 0.2


def test_a_pace_that_is_not_a_number_is_logged_and_ignored(monkeypatch, caplog):
    monkeypatch.setenv(tiny.STEP_S_ENV, "fast please")
    with caplog.at_level(logging.WARNING, logger="cogvideo"):
        pipe = tiny.build_pipeline("t2v")
    assert not pipe.transformer._forward_pre_hooks
    assert "not a number of seconds" in caplog.text
