"""Style presets: the shipped file, the pure apply function, the frame filters, bad files."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from cogvideo.errors import InvalidRequest, CatalogueError
from cogvideo.catalogues.styles import (
    DEFAULT_STYLES_PATH,
    POST_FILTERS,
    Style,
    apply_post,
    apply_style,
    get_style,
    load_styles,
)

REQUIRED_IDS = (
    "none", "cinematic", "cartoon-3d", "black-and-white", "oil-painting",
    "pixar", "anime", "photographic", "ink-wash", "cyberpunk",
)
USER_PROMPT = "A golden retriever runs along a beach at sunset"


def _estimated_t5_tokens(text: str) -> int:
    # No tokenizer offline: a conservative stand-in for T5's SentencePiece, one token per 5
    # letters of each word (long words split into pieces) plus one per punctuation mark.
    words = re.findall(r"[A-Za-z0-9']+", text)
    punctuation = re.findall(r"[^\sA-Za-z0-9']", text)
    return sum(max(1, math.ceil(len(word) / 5)) for word in words) + len(punctuation)


@pytest.fixture(scope="module")
def styles() -> dict[str, Style]:
    return load_styles()


def test_shipped_file_has_required_presets_in_order(styles):
    assert len(styles) >= 10
    assert set(REQUIRED_IDS) <= set(styles)
    assert next(iter(styles)) == "none"
    raw_ids = [entry["id"] for entry in json.loads(DEFAULT_STYLES_PATH.read_text(encoding="utf-8"))]
    assert list(styles) == raw_ids


@pytest.mark.parametrize("style_id", REQUIRED_IDS)
def test_every_preset_applies(styles, style_id):
    style = styles[style_id]
    prompt, negative = apply_style(style, USER_PROMPT, "blurry")
    assert USER_PROMPT.lower() in prompt.lower()  # mid-sentence, "A golden" reads "a golden"
    assert "{" not in prompt and "}" not in prompt
    assert "blurry" in negative
    assert style.name.zh and style.name.en and style.name.zh != style.name.en
    assert style.description.zh and style.description.en


def test_every_preset_in_file_is_short_plain_english(styles):
    for style in styles.values():
        words = style.prompt.replace("{prompt}", "")
        # Leave the user most of CogVideoX's 226-token budget.
        assert _estimated_t5_tokens(words) <= 40, style.id
        # T5 reads plain text: no Stable Diffusion weighting such as "(word:1.3)" or "[word]".
        assert not re.search(r"[()\[\]:]", style.prompt + style.negative_prompt), style.id
        assert style.prompt.isascii() and style.negative_prompt.isascii(), style.id


def test_none_returns_prompt_unchanged(styles):
    text = "  exactly {as} typed.  "
    assert apply_style(styles["none"], text, "ugly") == (text, "ugly")


def test_user_braces_are_kept_literally(styles):
    prompt, _ = apply_style(styles["cinematic"], "a sign reading {hello}")
    assert "a sign reading {hello}" in prompt


def test_trailing_punctuation_is_not_doubled(styles):
    prompt, _ = apply_style(styles["cinematic"], "a cat sleeps.")
    assert prompt.startswith("Cinematic film scene of a cat sleeps. Dramatic")
    assert ".." not in prompt


def test_negative_prompts_join_without_duplicates(styles):
    _, negative = apply_style(styles["cinematic"], USER_PROMPT, "Blurry,  text , cartoon")
    terms = [term.strip() for term in negative.split(",")]
    assert terms[:3] == ["Blurry", "text", "cartoon"]
    assert len({term.lower() for term in terms}) == len(terms)
    assert "low quality" in terms


def test_apply_style_is_pure(styles):
    style = styles["anime"]
    assert apply_style(style, USER_PROMPT, "x") == apply_style(style, USER_PROMPT, "x")
    assert styles["anime"] is style


def test_black_and_white_post_is_exactly_gray(styles):
    rng = np.random.default_rng(0)
    # 3 frames of 8×12 random colour: the filter must not depend on the content.
    frames = rng.integers(0, 256, size=(3, 8, 12, 3), dtype=np.uint8)
    out = apply_post(styles["black-and-white"], frames)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    # Luma, not a channel copy: pure red, green and blue map to different grays.
    primaries = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255]]]], dtype=np.uint8)
    grays = apply_post(styles["black-and-white"], primaries)[0, 0, :, 0]
    assert list(grays) == [77, 149, 29]


def test_styles_without_post_return_frames_untouched(styles):
    frames = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    assert apply_post(styles["cinematic"], frames) is frames


def test_every_named_post_filter_keeps_shape(styles):
    frames = np.full((2, 4, 6, 3), 200, dtype=np.uint8)
    for name, filter_frame in POST_FILTERS.items():
        assert filter_frame(frames[0]).shape == (4, 6, 3), name
    sepia = apply_post(styles["sepia"], frames)
    assert (sepia[..., 0] >= sepia[..., 1]).all() and (sepia[..., 1] >= sepia[..., 2]).all()


def test_apply_post_rejects_bad_frames(styles):
    with pytest.raises(ValueError, match="T×H×W×3"):
        apply_post(styles["black-and-white"], np.zeros((4, 4, 3), dtype=np.uint8))


def test_get_style_by_id_and_name(styles):
    assert get_style("cyberpunk", styles).id == "cyberpunk"
    assert get_style("Ink Wash", styles).id == "ink-wash"
    assert get_style("水墨", styles).id == "ink-wash"
    assert get_style(None, styles).id == "none"
    assert get_style("", styles).id == "none"


def test_get_style_unknown_lists_valid_ids(styles):
    with pytest.raises(InvalidRequest) as info:
        get_style("vaporwave", styles)
    assert "'vaporwave'" in info.value.en and "cinematic" in info.value.en
    assert "未知的风格" in info.value.zh and "ink-wash" in info.value.zh


# ---------------------------------------------------------------- bad files

GOOD = {
    "id": "calm-sea", "name_zh": "海", "name_en": "Sea", "description_zh": "海", "description_en": "Sea",
    "prompt": "Seascape of {prompt}.", "negative_prompt": "",
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "styles.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _raises(path: Path, *fragments: str) -> CatalogueError:
    with pytest.raises(CatalogueError) as info:
        load_styles(path)
    for text in (str(path), *fragments):
        assert text in info.value.en, info.value.en
    assert str(path) in info.value.zh
    return info.value


def test_bad_json_names_file_and_line(tmp_path):
    path = _write(tmp_path, '[{"id": "a",\n  "prompt": }]')
    error = _raises(path, "not valid JSON", "line 2")
    assert "第 2 行" in error.zh


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.json", "not found")


def test_missing_placeholder_names_entry(tmp_path):
    bad = dict(GOOD, id="no-slot", prompt="A nice sunset.")
    error = _raises(_write(tmp_path, [GOOD, bad]), "entry 1", "'no-slot'", "{prompt}")
    assert "第 1 项" in error.zh


def test_duplicate_id_names_entry(tmp_path):
    _raises(_write(tmp_path, [GOOD, dict(GOOD, name_en="Other")]), "entry 1", "'calm-sea'", "duplicate")


def test_unknown_key_names_entry(tmp_path):
    _raises(_write(tmp_path, [dict(GOOD, weight=1.3)]), "entry 0", "'calm-sea'", "weight")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"prompt": "Sea {prompt} {style}"}, "braces"),
        ({"post": "blur"}, "unknown post filter 'blur'"),
        ({"id": "Calm Sea"}, "lowercase"),
        ({"name_en": 3}, "'name_en' must be a string"),
        ({"prompt": "{prompt} and {prompt}"}, "exactly once"),
    ],
)
def test_other_invalid_entries(tmp_path, change, fragment):
    _raises(_write(tmp_path, [GOOD, dict(GOOD, id="second") | change]), "entry 1", fragment)


def test_missing_key_and_wrong_top_level(tmp_path):
    entry = dict(GOOD)
    del entry["negative_prompt"]
    _raises(_write(tmp_path, [entry]), "entry 0", "missing key(s) negative_prompt")
    _raises(_write(tmp_path, {"styles": []}), "non-empty JSON list")


def test_valid_custom_file_and_reload_after_edit(tmp_path):
    path = _write(tmp_path, [GOOD])
    assert list(load_styles(path)) == ["calm-sea"]
    path.write_text(json.dumps([GOOD, dict(GOOD, id="second-one")]), encoding="utf-8")
    assert list(load_styles(path)) == ["calm-sea", "second-one"]
