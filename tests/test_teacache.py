"""The Lean preset: TeaCache on the tiny pipelines (issue 22, item 1)."""

from __future__ import annotations

import numpy as np
import pytest

from cogvideo.engine import speed, teacache
from cogvideo.engine.render import Engine, RenderJob
from cogvideo.errors import Cancelled

STEPS = 10


def job(speed_id: str = "quality", steps: int = STEPS, seed: int = 3) -> RenderJob:
    return RenderJob(task="t2v", prompt="a cat walks in the park", negative_prompt="", image=None,
                     num_frames=9, num_inference_steps=steps, guidance_scale=6.0, seed=seed,
                     height=96, width=144, speed=speed_id)


class StepLog:
    """Per transformer forward (one per step: the CFG batch shares it), whether the blocks ran."""

    def __init__(self, pipe) -> None:
        self.ran: list[bool] = []
        self._block_ran = False
        self._handles = [
            pipe.transformer.register_forward_pre_hook(self._on_transformer),
            pipe.transformer.register_forward_hook(self._after_transformer),
            pipe.transformer.transformer_blocks[-1].ff.register_forward_hook(self._on_ff),
        ]

    def _on_transformer(self, *_):
        self._block_ran = False

    def _on_ff(self, *_):
        self._block_ran = True

    def _after_transformer(self, *_):
        self.ran.append(self._block_ran)

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


@pytest.fixture(scope="module")
def engine():
    return Engine("tiny")


def rendered_with_log(engine: Engine, render_job: RenderJob) -> tuple[np.ndarray, list[bool]]:
    log = StepLog(engine.load("t2v"))
    try:
        return engine.render(render_job), log.ran
    finally:
        log.close()


def test_lean_skips_middle_steps_and_always_runs_the_first_and_last(engine):
    quality, ran_quality = rendered_with_log(engine, job("quality"))
    lean, ran_lean = rendered_with_log(engine, job("lean"))
    assert ran_quality == [True] * STEPS
    assert len(ran_lean) == STEPS and ran_lean[0] and ran_lean[-1]
    assert 0 < ran_lean.count(False) < STEPS - 2
    assert not np.array_equal(quality, lean)  # a skipped step adds the cached residual instead


def test_with_a_zero_threshold_the_cache_never_skips_and_the_video_is_quality_exactly(engine):
    """The hooks themselves change nothing: only a skipped step does."""
    quality = engine.render(job("quality"))
    transformer = engine.load("t2v").transformer
    teacache.apply(transformer, teacache.TeaCacheConfig(threshold=0.0, coefficients=teacache.IDENTITY))
    try:
        assert np.array_equal(engine.render(job("quality")), quality)
    finally:
        teacache.remove(transformer)


def test_each_video_starts_with_an_empty_cache_even_after_a_cancel(engine):
    clean = Engine("tiny").render(job("lean"))
    assert np.array_equal(engine.render(job("lean")), clean)
    calls: list[int] = []
    with pytest.raises(Cancelled):
        engine.render(job("lean"), should_cancel=lambda: calls.append(1) or len(calls) > 5)
    assert np.array_equal(engine.render(job("lean")), clean)
    assert np.array_equal(engine.render(job("lean", steps=6)), Engine("tiny").render(job("lean", steps=6)))


def test_switching_away_removes_the_hooks(engine):
    engine.render(job("lean", steps=4))
    transformer = engine.load("t2v").transformer
    assert speed.enabled(transformer)
    assert np.array_equal(engine.render(job("quality", steps=4)), Engine("tiny").render(job("quality", steps=4)))
    assert not speed.enabled(transformer) and not teacache.applied(transformer)
    names = [name for block in transformer.transformer_blocks
             for name in getattr(getattr(block, "_diffusers_hook", None), "hooks", {})]
    assert not [n for n in names if "teacache" in n]
    # and on to a diffusers method and back
    engine.render(job("balanced", steps=4))
    engine.render(job("lean", steps=4))
    assert teacache.applied(transformer) and not transformer.is_cache_enabled


def test_the_rescale_is_the_published_polynomial():
    coefficients = teacache.COEFFICIENTS["5b"]
    for x in (0.0, 0.01, 0.05, 0.2):
        assert teacache.rescale(coefficients, x) == pytest.approx(float(np.polyval(coefficients, x)))
    assert teacache.coefficients_for("1.5-5b-i2v") == teacache.COEFFICIENTS["1.5-5b-i2v"]
    assert teacache.coefficients_for("tiny") == teacache.IDENTITY  # no fit published for it


def test_the_plan_carries_the_models_coefficients(engine):
    pipe = engine.load("t2v")
    five = speed.plan("lean", pipe, model="5b", steps=50, guidance_scale=6.0)
    one_five = speed.plan("lean", pipe, model="1.5-5b", steps=50, guidance_scale=6.0)
    assert isinstance(five.config, teacache.TeaCacheConfig) and five.config.threshold == 0.1
    assert five.config.coefficients == teacache.COEFFICIENTS["5b"]
    assert five.key != one_five.key  # another model's fit is another cache


def test_restyle_with_strength_runs_its_own_last_step():
    """v2v runs fewer steps than asked: the forced last step follows the pipeline's schedule."""
    engine = Engine("tiny")
    clip = (np.random.default_rng(0).random((9, 96, 144, 3)) * 255).astype(np.uint8)
    from PIL import Image

    frames = [Image.fromarray(f) for f in clip]
    pipe = engine.load("v2v")
    log = StepLog(pipe)
    try:
        engine.render(RenderJob(task="v2v", prompt="a cat", negative_prompt="", image=None, video=frames,
                                strength=0.6, num_frames=9, num_inference_steps=STEPS, guidance_scale=6.0,
                                seed=1, height=96, width=144, speed="lean"))
    finally:
        log.close()
    assert len(log.ran) == 6 and log.ran[0] and log.ran[-1]
