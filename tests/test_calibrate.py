"""`python -m cogvideo calibrate`: MagCache ratios measured on the tiny model, saved, and used."""

from __future__ import annotations

import json
import math

import pytest

from bilingual import Text
from cogvideo.engine import speed
from cli.main import main
from cogvideo.engine.render import Engine, RenderJob

STEPS = 12  # MagCache keeps the first 20 % (3 steps) computed; the rest may be skipped


@pytest.fixture()
def ratios_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "RATIOS_DIR", tmp_path / "mag_ratios")
    return tmp_path / "mag_ratios"


@pytest.fixture()
def mag_preset(monkeypatch):
    """A preset whose method is MagCache, registered for the test only."""
    preset = speed.SpeedPreset(id="mag", name=Text("Mag", "Mag"), help=Text("", ""), method="mag",
                               settings={"threshold": 0.06, "max_skip_steps": 3, "retention_ratio": 0.2},
                               fallback="balanced")
    monkeypatch.setitem(speed.PRESETS, "mag", preset)
    return preset


def render(engine: Engine, preset: str, notices: list | None = None) -> tuple[object, int]:
    """Frames and the transformer block passes computed (per sample: CFG doubles the batch)."""
    pipe = engine.load("t2v")
    passes = [0]
    handles = [block.ff.register_forward_hook(lambda _m, args, _o: passes.__setitem__(0, passes[0] + args[0].shape[0]))
               for block in pipe.transformer.transformer_blocks]
    job = RenderJob(task="t2v", prompt="a boat on a lake", negative_prompt="", image=None, num_frames=9,
                    num_inference_steps=STEPS, guidance_scale=6.0, seed=3, height=32, width=48, speed=preset)
    try:
        frames = engine.render(job, on_notice=lambda text: notices.append(text) if notices is not None else None)
    finally:
        for handle in handles:
            handle.remove()
    return frames, passes[0]


def test_calibrate_writes_ratios_that_a_mag_preset_then_uses(ratios_dir, mag_preset, capsys):
    assert main(["calibrate", "tiny", "--steps", str(STEPS), "--seed", "3"]) == 0
    path = ratios_dir / f"tiny-{STEPS}.json"
    assert f"ratios: {path}" in capsys.readouterr().out
    saved = json.loads(path.read_text())
    ratios = saved["mag_ratios"]
    assert len(ratios) == STEPS and ratios[0] == 1.0
    assert all(math.isfinite(r) and r > 0 for r in ratios)
    assert len(set(ratios)) > 2  # measured, not a constant
    assert saved["scheduler"] == "CogVideoXDDIMScheduler" and saved["steps"] == STEPS and saved["date"]
    assert speed.load_mag_ratios("tiny", STEPS) == ratios

    engine = Engine("tiny")
    plan = speed.plan("mag", engine.load("t2v"), model="tiny", steps=STEPS, guidance_scale=6.0)
    assert type(plan.config).__name__ == "MagCacheConfig" and plan.reason is None
    assert plan.config.mag_ratios.tolist() == pytest.approx(ratios)

    notices: list = []
    _, quality = render(engine, "quality")
    frames, mag = render(engine, "mag", notices)
    assert notices == []  # the ratios were found: no fallback
    assert frames.shape == (9, 32, 48, 3)
    # Quality: 12 steps × 2 blocks × 2 samples (CFG); MagCache skips whole steps after the first 3.
    assert quality == STEPS * 2 * 2 and mag < quality


def test_mag_preset_without_ratios_falls_back_with_the_reason(ratios_dir, mag_preset):
    engine = Engine("tiny")
    notices: list = []
    frames, passes = render(engine, "mag", notices)
    assert frames.shape == (9, 32, 48, 3) and passes == STEPS * 2 * 2  # Balanced (PAB) keeps every block
    [notice] = notices
    en, zh = notice.en, notice.zh
    assert f"not calibrated for tiny at {STEPS} steps" in en and f"calibrate tiny --steps {STEPS}" in en
    assert "尚未" in zh and f"calibrate tiny --steps {STEPS}" in zh
    plan = speed.plan("mag", engine.load("t2v"), model="tiny", steps=STEPS, guidance_scale=6.0)
    assert type(plan.config).__name__ == "PyramidAttentionBroadcastConfig"  # the fallback's method


def test_bad_input_is_a_message_and_exit_code_2(ratios_dir, capsys):
    assert main(["calibrate", "9b"]) == 2
    assert "Unknown model '9b'" in capsys.readouterr().err
    assert main(["calibrate", "tiny", "--steps", "0"]) == 2
    assert "--steps 0 must be a whole number from 1 to 150" in capsys.readouterr().err
    assert main(["--lang", "zh", "calibrate", "tiny", "--steps", "151"]) == 2
    assert "必须是 1 到 150 之间的整数" in capsys.readouterr().err
    # conftest sets HF_HUB_OFFLINE and this machine has no 5b weights.
    assert main(["calibrate", "5b", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "python -m cogvideo download 5b" in err and "Traceback" not in err
    assert main(["--lang", "zh", "calibrate", "tiny-wan"]) == 2  # Wan: no caching preset yet
    err = capsys.readouterr().err
    assert "只能校准 CogVideoX 模型" in err and "Traceback" not in err
    assert not ratios_dir.exists()  # nothing written on any failure
