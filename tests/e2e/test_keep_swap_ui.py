"""换配乐 is kept (issue 21, item 12), in headless Chromium on `app.py --model tiny`, zh-CN, on a
desktop and on a phone: a video made on the page gets new music saved as a new work (two cards in
我的作品, the new one playing the new track) or in place of the original (one card).

"Plays the new track" is checked on the file the works player was given: fetched over HTTP from
the page's own URL and decoded by ffmpeg, its sound equals the track laid under the original by
the music code itself.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from playwright.sync_api import expect

from cogvideo.media import codec
from cogvideo.media.music import change_music
from tests.e2e.test_browser import browser, shot, visible_tab, wait_for_video  # noqa: F401
from tests.e2e.test_live import new_page, press, set_slider
from tests.e2e.test_works import FAST, assert_readable, cover, find_job, open_works, settled, unique

ZH = dict(prompt="描述你想要的视频", advanced="高级设置", steps="采样步数", frames="帧数", generate="🎬 生成视频",
          music="背景音乐", swap="🎵 为当前视频换配乐", new="另存为新作品", replace="替换原作品", works="我的作品")


def make_on_page(page, prompt: str, phone: bool):
    """Generate a tiny video on the 文生视频 tab (2 steps, 9 frames, no music); returns the tab."""
    panel = visible_tab(page)
    panel.get_by_label(ZH["prompt"]).fill(prompt)
    advanced = panel.get_by_text(ZH["advanced"], exact=True)
    if not panel.get_by_label(f"number input for {ZH['steps']}").is_visible():
        press(page, advanced, phone)
    for name, value in ((ZH["steps"], "2"), (ZH["frames"], "9")):
        set_slider(panel, name, value)
    press(page, panel.get_by_role("button", name=ZH["generate"]), phone)
    expect(panel.get_by_label("最终提示词")).to_have_value(prompt, timeout=900_000)
    assert wait_for_video(page, panel) > 0
    return panel


def swap(page, panel, track: str, keep: str, phone: bool, toast: str) -> None:
    music = panel.get_by_label(ZH["music"])
    press(page, music, phone)
    page.get_by_role("option", name=track, exact=True).click()
    press(page, panel.locator("#t2v-keep-music").get_by_text(keep, exact=True), phone)
    press(page, panel.get_by_role("button", name=ZH["swap"]), phone)
    page.get_by_test_id("toast-text").filter(has_text=toast).first.wait_for(timeout=300_000)


def played_file(page, app, tmp: Path, name: str, before: str | None = None) -> tuple[Path, str]:
    """The file the works player plays (once it is another than `before`), fetched as the browser
    fetches it; and its URL."""
    player = page.locator("#works-player video")
    player.wait_for()
    page.wait_for_function("([el, before]) => el.src && el.src !== before", arg=[player.element_handle(), before])
    src = player.get_attribute("src")
    reply = httpx.get(urljoin(app.url + "/", src), timeout=60)
    reply.raise_for_status()
    out = tmp / name
    out.write_bytes(reply.content)
    return out, player.evaluate("el => el.src")


def pcm(path: Path) -> bytes:
    return subprocess.run([codec.ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a", "-f", "s16le", "-"],
                          capture_output=True, check=True).stdout


def open_card(page, panel_prompt: str, index: int):
    item = cover(page, panel_prompt).nth(index)
    item.click()
    settled(page.locator("#works-player"))
    return item


@pytest.mark.parametrize("phone", [False, True], ids=["zh-desktop", "zh-phone"])
def test_a_music_swap_is_kept_as_a_new_work_or_in_place(browser, app, client, tmp_path, phone):  # noqa: F811
    page = new_page(browser, app, "zh-CN", phone)
    # 1. Save as a new work (the default): two cards, the new one with the new sound.
    prompt = unique("a lantern floats up")
    panel = make_on_page(page, prompt, phone)
    original = find_job(client, prompt)
    assert original["music"] in (None, "none")
    expect(panel.locator("#t2v-keep-music input[value=new]")).to_be_checked()
    swap(page, panel, "轻快", ZH["new"], phone, "已另存为新作品")
    panel.locator("#t2v-apply-music").scroll_into_view_if_needed()
    assert_readable(page)
    shot(page, f"keep-swap-new-{'phone' if phone else 'desktop'}-zh", full_page=not phone)

    press(page, page.get_by_role("tab", name=ZH["works"], exact=True), phone)
    works = visible_tab(page)
    expect(cover(page, prompt)).to_have_count(2)
    settled(works.locator("#works-gallery"))
    open_card(page, prompt, 0)  # the newest first: the new work
    expect(page.locator("#work-details")).to_contain_text(prompt)
    expect(page.locator("#work-details")).to_contain_text(f"换配乐: 轻快 · 原作品 {original['job_id'][:8]}")
    new_file, src = played_file(page, app, tmp_path, "new.mp4")
    assert codec.probe(new_file).audio_codec == "aac"
    source = app.output_dir / original["video"]
    expected = change_music(source, "upbeat", tmp_path / "expected.mp4", volume=0.8)
    assert pcm(new_file) == pcm(expected)  # the new track, at the page's volume
    page.locator("#works-player").scroll_into_view_if_needed()
    shot(page, f"keep-swap-works-{'phone' if phone else 'desktop'}-zh", full_page=not phone)
    open_card(page, prompt, 1)  # the original still plays its own, silent video
    assert codec.probe(played_file(page, app, tmp_path, "original.mp4", src)[0]).audio_streams == 0

    # 2. Replace the original: one card, which plays the new sound.
    press(page, page.get_by_role("tab", name="文生视频", exact=True), phone)
    other = unique("a paper crane lands")
    panel = make_on_page(page, other, phone)
    swap(page, panel, "宁静", ZH["replace"], phone, "已替换原作品的配乐")
    press(page, page.get_by_role("tab", name=ZH["works"], exact=True), phone)
    works = visible_tab(page)
    settled(works.locator("#works-gallery"))
    expect(cover(page, other)).to_have_count(1)
    open_card(page, other, 0)
    expect(page.locator("#work-details")).to_contain_text("换配乐: 宁静")
    replaced, _ = played_file(page, app, tmp_path, "replaced.mp4")
    assert codec.probe(replaced).audio_codec == "aac"
    assert [w for w in client.predict(api_name="/my_works") if w["prompt"] == other][0]["music"] == "calm"
    assert_readable(page)
    shot(page, f"keep-swap-replace-{'phone' if phone else 'desktop'}-zh", full_page=not phone)
    page.context.close()


def test_a_swap_with_nothing_made_says_so_in_chinese(browser, app):  # noqa: F811
    page = new_page(browser, app, "zh-CN")
    panel = visible_tab(page)
    panel.get_by_role("button", name=ZH["swap"]).click()
    expect(page.get_by_test_id("toast-text").filter(has_text="请先生成视频，再更换配乐。").first).to_be_visible()
    page.context.close()


def test_an_opened_work_gets_new_music_kept_as_a_new_work(browser, app, client, tmp_path):  # noqa: F811
    prompt = unique("a tram turns a corner")
    client.predict(prompt=prompt, music="none", api_name="/text_to_video", **FAST)
    original = find_job(client, prompt)
    page = new_page(browser, app, "zh-CN")
    works = open_works(page, ZH["works"])
    open_card(page, prompt, 0)
    expect(page.locator("#work-details")).to_contain_text(prompt)
    _, before = played_file(page, app, tmp_path, "before.mp4")
    works.locator("#works-music").get_by_text(ZH["swap"]).first.click()  # the closed section opens
    works.locator("#works-music").get_by_label(ZH["music"]).click()
    page.get_by_role("option", name="史诗", exact=True).click()
    works.locator("#works-apply-music").click()
    page.get_by_test_id("toast-text").filter(has_text="已另存为新作品").first.wait_for(timeout=300_000)
    expect(cover(page, prompt)).to_have_count(2)
    expect(page.locator("#work-details")).to_contain_text(f"换配乐: 史诗 · 原作品 {original['job_id'][:8]}")
    played, _ = played_file(page, app, tmp_path, "epic.mp4", before)  # the player was given the new work
    expected = change_music(app.output_dir / original["video"], "epic", tmp_path / "expected.mp4", volume=0.8)
    assert pcm(played) == pcm(expected)
    assert_readable(page)
    shot(page, "keep-swap-opened-work-desktop-zh")
    page.context.close()
