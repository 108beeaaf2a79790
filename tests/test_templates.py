"""Use-case templates for image to video: the shipped file against the real styles and tracks,
bad files (each names the file, the entry and the problem), and the pure fill function."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bilingual import Text
from cogvideo.catalogues.styles import load_styles
from cogvideo.catalogues.templates import (
    DEFAULT_SUBJECT,
    DEFAULT_TEMPLATES_PATH,
    Template,
    fill_template,
    load_templates,
)
from cogvideo.errors import CatalogueError, StudioError
from cogvideo.media.music import load_tracks

# 清影's four uses for image to video, by the Chinese names its users know them by.
QINGYING_USES = {"meme": "表情包梗图", "advertising": "广告制作", "story": "剧情创作", "short-video": "短视频创作"}


def _estimated_t5_tokens(text: str) -> int:
    # As in test_styles: one token per 5 letters of each word, plus one per punctuation mark.
    words = re.findall(r"[A-Za-z0-9']+", text)
    punctuation = re.findall(r"[^\sA-Za-z0-9']", text)
    return sum(max(1, math.ceil(len(word) / 5)) for word in words) + len(punctuation)


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return load_templates()


# ---------------------------------------------------------------- the shipped file

def test_shipped_file_loads_in_order_against_the_real_styles_and_tracks(templates):
    raw = json.loads(DEFAULT_TEMPLATES_PATH.read_text(encoding="utf-8"))
    assert list(templates) == [entry["id"] for entry in raw]
    assert 6 <= len(templates) <= 8  # the four uses plus 2-4 more
    styles, tracks = load_styles(), load_tracks()
    for template in templates.values():
        assert template.style == "none" or template.style in styles, template.id
        assert template.music == "none" or template.music in tracks, template.id
        assert template.music == "none" or tracks[template.music].file.is_file(), template.id
    # Passing the real ids explicitly gives the same result.
    assert load_templates(styles=styles, tracks=tracks) == templates


def test_the_four_uses_of_qingying_have_their_chinese_names(templates):
    for template_id, name_zh in QINGYING_USES.items():
        assert templates[template_id].name.zh == name_zh
    assert templates["meme"].name == Text("Meme", "表情包梗图")


def test_every_template_is_a_short_chip_and_a_usable_english_scaffold(templates):
    for template in templates.values():
        assert len(template.name.zh) <= 5 and len(template.name.en) <= 20, template.id
        assert template.name.zh != template.name.en
        assert template.description.zh and template.description.en
        assert "\n" not in template.description.en + template.description.zh  # one line: a tooltip
        # English for T5 and for the agent; leave room in CogVideoX's 226 tokens for the subject
        # and a style's words (at most 40).
        assert template.prompt.isascii() and template.intent.isascii(), template.id
        assert _estimated_t5_tokens(template.prompt.replace("{subject}", "")) <= 130, template.id
        assert 30 <= len(template.intent.split()) <= 120, template.id
        assert template.guidance_scale is None or 0 <= template.guidance_scale <= 30
        assert template.seconds is None or 0 < template.seconds <= 10


def test_the_meme_is_short_and_the_others_use_the_models_length(templates):
    # A meme has a 2-3 s feel on every model, whatever its frame rate.
    assert templates["meme"].seconds == 3
    assert templates["story"].seconds is None
    assert templates["story"].style == "cinematic"


@pytest.mark.parametrize(
    ("name", "frames"),
    # The meme's 3 s at each model's rate, as a count the model renders: CogVideoX 8 fps
    # (8N+1), CogVideoX1.5 16 fps (16N+1), Wan2.1 16 fps and Wan2.2 24 fps (4N+1).
    [("5b-i2v", 25), ("1.5-5b-i2v", 49), ("wan2.2-5b-i2v", 73)],
)
def test_a_templates_length_is_the_same_time_on_every_model(templates, name, frames):
    from cogvideo.engine.models import VARIANTS

    variant = VARIANTS[name]
    count = templates["meme"].frames_for(variant)
    assert count == frames and count in variant.allowed_frames()
    assert abs((count - 1) / variant.fps - 3) <= 0.5  # the same length in seconds, within a frame step
    assert templates["story"].frames_for(variant) == variant.num_frames  # null: the model's own


# ---------------------------------------------------------------- filling

def test_fill_puts_the_subject_in_the_scaffold(templates):
    template = templates["cute-pets"]
    head, tail = template.prompt.split("{subject}")
    assert fill_template(template, "  the ginger kitten \n on the sofa. ") == head + "the ginger kitten on the sofa" + tail


def test_fill_with_a_chinese_subject_keeps_it_whole(templates):
    prompt = fill_template(templates["meme"], "  我家的橘猫。 ")
    assert "我家的橘猫 " in prompt and "。" not in prompt and "{subject}" not in prompt
    assert prompt.startswith("A close-up of 我家的橘猫 reacting")


@pytest.mark.parametrize("empty", ["", "   ", None, "。"])
def test_fill_with_no_subject_uses_a_neutral_english_default(templates, empty):
    prompt = fill_template(templates["advertising"], empty)
    assert DEFAULT_SUBJECT == "the subject of the picture"
    assert prompt == templates["advertising"].prompt.replace("{subject}", DEFAULT_SUBJECT)


@pytest.mark.parametrize("subject", ["a sign reading {subject}", "a {0} and a {} and {name!r}", "{{subject}}"])
def test_fill_keeps_braces_in_the_users_text_literally(templates, subject):
    template = templates["story"]
    head, tail = template.prompt.split("{subject}")
    assert fill_template(template, subject) == head + subject + tail


def test_fill_is_pure(templates):
    template = templates["scenic-timelapse"]
    assert fill_template(template, "Guilin's karst hills") == fill_template(template, "Guilin's karst hills")
    assert "{subject}" in template.prompt


# ---------------------------------------------------------------- bad files

GOOD = {
    "id": "sea-breeze", "name_zh": "海风", "name_en": "Sea Breeze",
    "description_zh": "海风吹拂。", "description_en": "A sea breeze.",
    "intent": "A calm clip of the sea.", "prompt": "Waves roll in around {subject}.",
    "style": "cinematic", "music": "calm", "seconds": None, "guidance_scale": 6,
}
STYLE_IDS = ("none", "cinematic", "anime")
TRACK_IDS = ("calm", "upbeat")


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "templates.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _raises(path: Path, *fragments: str) -> CatalogueError:
    with pytest.raises(CatalogueError) as info:
        load_templates(path, styles=STYLE_IDS, tracks=TRACK_IDS)
    error = info.value
    assert isinstance(error, StudioError)  # start-up turns it into a message, like a bad style file
    for text in (str(path), *fragments):
        assert text in error.en, error.en
    assert str(path) in error.zh and error.zh != error.en
    return error


def test_a_good_custom_file_loads(tmp_path):
    [template] = load_templates(_write(tmp_path, [GOOD]), styles=STYLE_IDS, tracks=TRACK_IDS).values()
    assert template == Template(
        id="sea-breeze", name=Text("Sea Breeze", "海风"), description=Text("A sea breeze.", "海风吹拂。"),
        intent="A calm clip of the sea.", prompt="Waves roll in around {subject}.",
        style="cinematic", music="calm", seconds=None, guidance_scale=6.0,
    )
    assert isinstance(template.guidance_scale, float)
    none_at_all = dict(GOOD, style="none", music="none", seconds=6, guidance_scale=None)
    assert load_templates(_write(tmp_path, [none_at_all]), styles=("cinematic",), tracks=()) is not None


def test_not_json_names_file_and_line(tmp_path):
    error = _raises(_write(tmp_path, '[{"id": "a",\n  "prompt": }]'), "not valid JSON", "line 2")
    assert "第 2 行" in error.zh


def test_missing_file_and_wrong_top_level(tmp_path):
    _raises(tmp_path / "nope.json", "not found")
    _raises(_write(tmp_path, {"templates": [GOOD]}), "non-empty JSON list")
    _raises(_write(tmp_path, []), "non-empty JSON list")


def test_missing_key_names_entry_and_key(tmp_path):
    entry = dict(GOOD, id="no-intent")
    del entry["intent"]
    error = _raises(_write(tmp_path, [GOOD, entry]), "entry 1", "'no-intent'", "missing key(s) intent")
    assert "第 1 项" in error.zh and "缺少键 intent" in error.zh


def test_a_file_from_before_seconds_is_told_what_replaces_num_frames(tmp_path):
    old = {key: value for key, value in GOOD.items() if key != "seconds"} | {"num_frames": 33}
    error = _raises(_write(tmp_path, [old]), "'sea-breeze'", "'num_frames' is no longer used", "'seconds'")
    assert "'seconds'" in error.zh and "不再使用" in error.zh


def test_duplicate_id_names_entry(tmp_path):
    _raises(_write(tmp_path, [GOOD, dict(GOOD, name_en="Other")]), "entry 1", "'sea-breeze'", "duplicate id")


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"prompt": "Waves roll in."}, ("{subject} exactly once", "found 0")),
        ({"prompt": "{subject} and {subject}"}, ("{subject} exactly once", "found 2")),
        ({"prompt": "Waves around {subjet}."}, ("{subject} exactly once", "found 0")),
        ({"prompt": "Waves around {subject} {style}."}, ("braces other than {subject}",)),
        ({"prompt": "海浪拍打着 {subject}。"}, ("must be English", "'海'")),
        ({"style": "vaporwave"}, ("unknown style 'vaporwave'", "cinematic", '"none"')),
        ({"music": "techno"}, ("unknown music track 'techno'", "calm, upbeat")),
        ({"seconds": 0}, ("'seconds'", "got 0")),
        ({"seconds": -3}, ("'seconds'", "got -3")),
        ({"seconds": 60}, ("'seconds'", "at most 20", "got 60")),
        ({"seconds": float("nan")}, ("'seconds'", "got nan")),
        ({"seconds": "3"}, ("'seconds'", "got '3'")),
        ({"seconds": True}, ("'seconds'", "got True")),
        ({"guidance_scale": 50}, ("'guidance_scale'", "from 0 to 30", "got 50")),
        ({"guidance_scale": -1}, ("'guidance_scale'", "got -1")),
        ({"guidance_scale": "6"}, ("'guidance_scale'", "got '6'")),
        ({"guidance_scale": float("inf")}, ("'guidance_scale'", "got inf")),
        ({"id": "Sea Breeze"}, ("lowercase",)),
        ({"intent": "  "}, ("'intent' is empty",)),
        ({"name_zh": 3}, ("'name_zh' must be a string",)),
        ({"weight": 1.3}, ("unknown key(s) weight",)),
    ],
)
def test_each_bad_entry_is_named_with_its_problem(tmp_path, change, fragments):
    _raises(_write(tmp_path, [GOOD, dict(GOOD, id="second") | change]), "entry 1", *fragments)


def test_guidance_50_is_refused_in_chinese_too(tmp_path):
    error = _raises(_write(tmp_path, [dict(GOOD, guidance_scale=50)]), "entry 0")
    assert "guidance_scale" in error.zh and "0 到 30" in error.zh and "null" in error.en


def test_a_style_or_track_removed_later_is_caught_on_the_next_load(tmp_path):
    # The file is cached per version, but what it names is checked on every load.
    path = _write(tmp_path, [GOOD])
    assert list(load_templates(path, styles=STYLE_IDS, tracks=TRACK_IDS)) == ["sea-breeze"]
    with pytest.raises(CatalogueError, match="unknown style 'cinematic'"):
        load_templates(path, styles=("none",), tracks=TRACK_IDS)


def test_an_edited_file_is_read_again(tmp_path):
    path = _write(tmp_path, [GOOD])
    assert list(load_templates(path, styles=STYLE_IDS, tracks=TRACK_IDS)) == ["sea-breeze"]
    path.write_text(json.dumps([GOOD, dict(GOOD, id="second-one")]), encoding="utf-8")
    assert list(load_templates(path, styles=STYLE_IDS, tracks=TRACK_IDS)) == ["sea-breeze", "second-one"]


def test_trying_templates_in_turn_keeps_the_subject():
    from cogvideo.catalogues.templates import subject_of

    templates = load_templates()
    meme = fill_template(templates["meme"], "一只橘猫")
    assert subject_of(meme, templates.values()) == "一只橘猫"
    story = fill_template(templates["story"], subject_of(meme, templates.values()))
    assert story.count("一只橘猫") == 1 and "reacting" not in story  # the meme's scaffold is gone
    assert subject_of(fill_template(templates["story"], ""), templates.values()) == ""
    assert subject_of("a dog surfing", templates.values()) == "a dog surfing"  # typed text is the subject
