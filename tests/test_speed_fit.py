"""Speed presets sized for the card: `--offload auto` counts the cache, a preset that cannot fit is
refused in both languages and not offered on the page (issue 22, item 2)."""

from __future__ import annotations

import pytest

from cogvideo import Studio, VideoRequest
from cogvideo.engine import speed
from cogvideo.engine.render import Engine
from cogvideo.errors import InvalidRequest


def test_a_24_gb_card_gets_quality_and_lean_for_5b():
    engine = Engine("5b", device="cpu", vram_gib=24)  # sized as a 24 GB card; nothing is loaded
    assert engine.fitting_speeds() == ["quality", "lean"]
    engine.check_speed_fits("quality")
    engine.check_speed_fits("lean")
    with pytest.raises(InvalidRequest) as caught:
        engine.check_speed_fits("fast")
    assert "16 GB" in caught.value.en and "24 GB" in caught.value.en and "Quality or Lean" in caught.value.en
    assert "速度优先" in caught.value.zh and "显存" in caught.value.zh and "“质量优先”或“轻快”" in caught.value.zh


def test_auto_offload_sizes_for_the_servers_preset():
    assert Engine("5b", device="cpu", vram_gib=24)._planned() == "model"
    # Fast's 16 GB stay on the GPU in every mode: only sequential offload leaves room for them.
    fast = Engine("5b", device="cpu", vram_gib=24, speed="fast")
    assert fast._planned() == "sequential" and "fast" in fast.fitting_speeds()
    assert Engine("5b", device="cpu", vram_gib=48, speed="fast")._planned() == "none"


def test_an_explicit_offload_mode_is_kept_and_the_presets_follow_it():
    engine = Engine("5b", offload="model", device="cpu", vram_gib=24, speed="quality")
    assert engine._planned() == "model" and engine.fitting_speeds() == ["quality", "lean"]
    roomy = Engine("5b", offload="sequential", device="cpu", vram_gib=24)
    assert roomy.fitting_speeds() == list(speed.PRESETS)


def test_without_a_known_size_every_preset_is_offered():
    assert Engine("5b", device="cpu").fitting_speeds() == list(speed.PRESETS)
    assert Engine("1.5-5b", device="cpu", vram_gib=141).fitting_speeds() == list(speed.PRESETS)  # an H200
    # 1.5's Fast cache (an estimate: ~41 GB at 81 frames of 1360×768) does not fit beside it on 80 GB.
    assert Engine("1.5-5b", device="cpu", vram_gib=80).fitting_speeds() == ["quality", "balanced", "lean"]


def test_the_studio_refuses_a_preset_the_card_cannot_hold(tmp_path, monkeypatch):
    """Through the studio's own check, as REST, MCP and the page reach it: tiny given a cache of
    2 GB on a 1 GB card."""
    monkeypatch.setitem(speed.CACHE_GIB, "tiny", {"fast": 2.0})
    studio = Studio(Engine("tiny", device="cpu", vram_gib=1), output_dir=tmp_path)
    with pytest.raises(InvalidRequest) as caught:
        studio.generate(VideoRequest(prompt="a kite", num_inference_steps=2, speed="fast"))
    assert "Fast needs about 2 GB" in caught.value.en and "“速度优先”需要额外约 2 GB 显存" in caught.value.zh
    assert not list(tmp_path.glob("*.mp4"))
    done = studio.generate(VideoRequest(prompt="a kite", num_inference_steps=2, speed="lean"))
    assert done.path.exists() and done.speed == "lean"


def test_the_page_says_which_presets_this_card_cannot_hold():
    from ui.layout import speed_fit_info

    en, zh = speed_fit_info(speed.PRESETS, ("quality", "lean"))
    assert en.endswith("Balanced and Fast need more graphics memory than this card has, so they are not offered here.")
    assert zh.endswith("“均衡”和“速度优先”需要的显存超出这块显卡，这里不提供。")
    assert speed_fit_info(speed.PRESETS, tuple(speed.PRESETS)) == speed_fit_info(speed.PRESETS, ("quality", "balanced", "fast", "lean"))
    assert "not offered" not in speed_fit_info(speed.PRESETS, tuple(speed.PRESETS))[0]
