"""The one bilingual text type and the one way to pick a language."""

from types import SimpleNamespace

import pytest

from bilingual import Text, both, pick


def test_pick_by_language():
    text = Text("Cancelled.", "已取消。")
    assert pick(text, "en") == "Cancelled." and pick(text, "fr") == "Cancelled."
    assert pick(text, "zh") == "已取消。" and pick(text, "zh-CN") == "已取消。"
    assert pick(text, "both") == both(text) == "已取消。 / Cancelled."  # callers that sent no language, on one line
    assert pick(Text("a.mp4", "a.mp4"), "both") == "a.mp4"  # nothing to translate: once


@pytest.mark.parametrize("en, zh", [("", "空"), ("Empty", ""), ("Missing", None), (None, None)])
def test_both_languages_are_always_filled(en, zh):
    with pytest.raises(ValueError, match="both languages"):
        Text(en, zh)
    assert pick(Text("", ""), "both") == ""  # nothing to say, in either language


@pytest.mark.parametrize("header, lang", [
    ("en-GB,en;q=0.9", "en"), ("EN", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("zh-TW", "zh"),
    ("fr-FR,fr", "zh"),  # a language we lack: the product's own
    ("", "both"), (None, "both"), (" , en", "both"),  # no first choice: a script, both languages
])
def test_the_one_accept_language_parser(header, lang):
    from bilingual import lang_of
    from ui.i18n import request_lang as page_lang

    assert lang_of(header) == lang
    assert page_lang(SimpleNamespace(headers={"accept-language": header or ""})) == lang
