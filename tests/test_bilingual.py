"""The one bilingual text type and the one way to pick a language."""

import pytest

from bilingual import Text, pick


def test_pick_by_language():
    text = Text("Cancelled.", "已取消。")
    assert pick(text, "en") == "Cancelled." and pick(text, "fr") == "Cancelled."
    assert pick(text, "zh") == "已取消。" and pick(text, "zh-CN") == "已取消。"
    assert pick(text, "both") == "已取消。\nCancelled."  # callers that sent no language
    assert pick(Text("a.mp4", "a.mp4"), "both") == "a.mp4"  # nothing to translate: once


@pytest.mark.parametrize("en, zh", [("", "空"), ("Empty", ""), ("Missing", None), (None, None)])
def test_both_languages_are_always_filled(en, zh):
    with pytest.raises(ValueError, match="both languages"):
        Text(en, zh)
    assert pick(Text("", ""), "both") == ""  # nothing to say, in either language
