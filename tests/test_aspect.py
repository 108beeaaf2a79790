"""Aspect ratio (画面比例): the sizes each model offers, as published, and what the engine does
with a shape asked for by name. The page's words come from ui/aspect.py."""

from __future__ import annotations

import dataclasses

import pytest

from cogvideo.engine import models
from cogvideo.engine.models import Size
from cogvideo.errors import InvalidRequest
from cogvideo.media import codec
from cogvideo.request import VideoRequest
from ui import aspect


def shapes(name: str) -> list[tuple[str, int, int]]:
    """(ratio, width, height) of each size a variant offers."""
    return [(s.ratio, s.width, s.height) for s in models.VARIANTS[name].offered_sizes()]


def test_each_model_offers_its_published_sizes():
    # CogVideoX 1.0: 720×480 only; 1.5 text-to-video: 1360×768 only (model card).
    for name in ("2b", "5b", "5b-i2v"):
        assert shapes(name) == [("3:2", 720, 480)]
    assert shapes("1.5-5b") == [("16:9", 1360, 768)]
    # 1.5 image-to-video follows the picture; its shapes by name keep the 768 short side.
    assert all(min(w, h) == 768 and max(w, h) <= 1360 for _, w, h in shapes("1.5-5b-i2v"))
    assert models.VARIANTS["1.5-5b-i2v"].follows_picture
    # The tiny models: their own size and three small shapes, so tests exercise the choice.
    assert shapes("tiny") == [("3:2", 144, 96), ("16:9", 144, 80), ("9:16", 80, 144), ("1:1", 96, 96)]
    # The first is each model's own size: the page's default, and the named API's.
    for variant in models.VARIANTS.values():
        first = variant.offered_sizes()[0]
        assert (first.height, first.width) == (variant.height, variant.width)
    assert [aspect.offers_choice(models.VARIANTS[n]) for n in ("tiny", "tiny-i2v", "5b", "1.5-5b", "1.5-5b-i2v")] \
        == [True, False, False, False, False]


@pytest.mark.parametrize("name, height, width, allowed", [
    ("5b", 832, 480, "720×480 (3:2)"),
    ("2b", 1360, 768, "720×480 (3:2)"),
    ("5b-i2v", 144, 80, "720×480 (3:2)"),
    ("1.5-5b", 1360, 768, "1360×768 (16:9)"),  # portrait: 1.5 text-to-video renders landscape only
])
def test_fixed_models_refuse_other_sizes_naming_the_allowed_ones(name, height, width, allowed):
    variant = models.VARIANTS[name]
    with pytest.raises(InvalidRequest) as err:
        models.check_size(variant, height, width)
    assert allowed in err.value.en and f"{width}×{height}" in err.value.en
    assert allowed in err.value.zh and "只支持" in err.value.zh
    with pytest.raises(InvalidRequest) as err:
        variant.size_for_ratio("9:16")
    assert "'9:16'" in err.value.en and allowed in err.value.en and "画面比例" in err.value.zh


def test_flexible_models_name_their_shapes_when_a_size_is_refused():
    with pytest.raises(InvalidRequest) as err:
        models.check_size(models.VARIANTS["tiny"], 770, 144)
    assert "multiple of 16" in err.value.en and "80×144 (9:16)" in err.value.en and "可选尺寸" in err.value.zh
    with pytest.raises(InvalidRequest) as err:
        models.check_size(models.VARIANTS["1.5-5b-i2v"], 800, 1360)
    assert "768×1360 (9:16)" in err.value.en and "768×1360 (9:16)" in err.value.zh


def test_a_family_of_several_sizes_plugs_in_with_one_line_per_size():
    # Wan 2.1 (480P) as its authors publish it: 832×480 and 480×832, nothing else.
    wan = dataclasses.replace(models.VARIANTS["5b"], name="wan-like", height=480, width=832, label="Wan",
                              sizes=(Size("16:9", 480, 832), Size("9:16", 832, 480)))
    assert models.check_size(wan, 832, 480) == (832, 480)
    assert wan.size_for_ratio("9:16") == Size("9:16", 832, 480)
    with pytest.raises(InvalidRequest, match=r"832×480 \(16:9\), 480×832 \(9:16\)"):
        models.check_size(wan, 480, 720)
    assert aspect.offers_choice(wan) and aspect.aspect_note(wan) is None
    names = aspect.i18n_names({"t2v": wan})
    assert names["aspect.t2v.9:16"] == ("9:16 portrait · 480×832", "9:16 竖屏 · 480×832")
    # Its image-to-video takes the shape nearest the picture's when no size is asked for.
    wan_i2v = dataclasses.replace(wan, task="i2v")
    assert not wan_i2v.follows_picture and aspect.offers_choice(wan_i2v)
    assert models.size_for_picture(wan_i2v, 600, 1000) == (832, 480)
    assert models.size_for_picture(wan_i2v, 1000, 600) == (480, 832)


def test_the_page_says_why_a_fixed_model_offers_no_choice():
    five = aspect.aspect_note(models.VARIANTS["5b"])
    assert five.zh.startswith("CogVideoX-5B 只能生成 720×480（3:2 横屏）")
    assert five.en.startswith("CogVideoX-5B renders 720×480 (3:2 landscape) only")
    assert "1360×768（16:9 横屏）" in aspect.aspect_note(models.VARIANTS["1.5-5b"]).zh
    assert "裁剪" in aspect.aspect_note(models.VARIANTS["5b-i2v"]).zh
    assert aspect.aspect_note(models.VARIANTS["1.5-5b-i2v"]).zh.startswith("画面比例跟随你上传的图片")
    assert aspect.aspect_note(models.VARIANTS["tiny"]) is None
    names = aspect.i18n_names({"t2v": models.VARIANTS["5b"], "i2v": models.VARIANTS["5b-i2v"]})
    assert names["aspect_note.t2v"][1] == five.zh and "aspect.t2v.9:16" not in names


def test_a_stored_size_gives_the_choice_back():
    tiny = models.VARIANTS["tiny"]
    assert aspect.requested_size(tiny, "9:16") == (144, 80)
    assert aspect.requested_size(tiny, "") == (None, None)
    assert aspect.reuse_value(tiny, 144, 80) == "9:16"
    assert aspect.reuse_value(tiny, None, None) == "3:2"  # the model's own size
    assert aspect.reuse_value(models.VARIANTS["5b"], None, None) == ""  # no choice on the page


def test_tiny_renders_a_portrait_video_at_9_16(studio):
    height, width = aspect.requested_size(studio.variant("t2v"), "9:16")
    result = studio.generate(VideoRequest(prompt="a tall lighthouse", num_inference_steps=2, num_frames=9,
                                          seed=1, height=height, width=width))
    info = codec.probe(result.path)  # ffmpeg reads the file back
    assert (info.width, info.height) == (80, 144) and info.height > info.width
    assert (result.width, result.height) == (80, 144)
