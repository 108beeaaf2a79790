"""A page that never leaves you guessing (headless Chromium): a reloaded tab finds its job again,
My works and the header keep up by themselves, a background tab learns that its job ended, and a
failure's reason stays on its tab.

Slow jobs are many denoising steps of the tiny CPU model at a GPU-like pace (at least SLOW_STEP_S a
step: the plain tiny model ends before a page has reloaded); nothing here is mocked but the tab's
visibility: headless Chromium reports every page visible (bring_to_front, a minimized window and
a frozen page all still read "visible"), so the test tells the page it went to the background
through the same document properties and event a browser uses.
"""

from __future__ import annotations

import re
import time

import pytest
from gradio_client import Client
from playwright.sync_api import expect

from jobs import JobStore, Users
from tests.conftest import SLOW_STEP_S, RunningApp, make_photo
from tests.e2e.test_browser import ARTIFACTS, browser, shot, visible_tab, wait_for_video  # noqa: F401
from tests.e2e.test_works import cover, unique
from tests.test_shown_errors import assert_plain

SLOW_STEPS = "100"  # 25 s or more at the slow apps' pace (the plain tiny model: a few seconds)
PROGRESS = {"zh-CN": "普通通道", "en-US": "standard lane"}  # the progress line names the lane


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory):
    """An app with sign-in (alice) whose colorizer weights are gone: the file is removed after the
    start, before the first old photo loads it, as when an operator's download went missing. Its
    tiny model keeps the slow app's pace, so a job still renders when the watching page looks."""
    tmp = tmp_path_factory.mktemp("live-app")
    store = JobStore(tmp / "data")
    Users(store).add("alice", password="alice-password")
    store.close()
    running = RunningApp(tmp, data_dir=tmp / "data", env={"STUDIO_TINY_STEP_S": str(SLOW_STEP_S)})
    (tmp / "ddcolor.pth").unlink()
    yield running
    running.close()


def new_page(browser, app, locale: str, phone: bool = False, user: str | None = None):  # noqa: F811
    size = {"width": 390, "height": 844} if phone else {"width": 1366, "height": 900}
    context = browser.new_context(locale=locale, viewport=size, is_mobile=phone, has_touch=phone,
                                  extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app.url)
    if user:
        page.locator("input[type=password]").wait_for()
        page.locator("input:not([type=password])").first.fill(user)
        page.locator("input[type=password]").fill(f"{user}-password")
        page.locator("input[type=password]").press("Enter")
    page.wait_for_selector("text=🎬", timeout=60_000)
    return page


def press(page, locator, phone: bool) -> None:
    locator.tap() if phone else locator.click()


def start_slow_job(page, prompt: str, lang: dict, phone: bool = False):
    """Type a prompt, ask for many steps, press Generate; returns the tab once its progress shows."""
    panel = visible_tab(page)
    panel.get_by_label(lang["prompt"]).fill(prompt)
    press(page, panel.get_by_text(lang["advanced"], exact=True), phone)
    set_slider(panel, lang["steps"], SLOW_STEPS)
    set_slider(panel, lang["frames"], "33")
    press(page, panel.get_by_role("button", name=lang["generate"]), phone)
    return panel


def set_slider(panel, label: str, value: str) -> None:
    """Type a value into a slider's number box and wait until the slider itself holds it: a busy
    page can drop a fill made while it still renders, and a job would then run with the default."""
    number = panel.get_by_label(f"number input for {label}")
    slider = panel.get_by_label(f"range slider for {label}")
    for _ in range(3):
        number.fill(value)
        number.press("Enter")
        try:
            expect(slider).to_have_value(value, timeout=5_000)
            return
        except AssertionError:
            continue
    expect(slider).to_have_value(value, timeout=1)


ZH = dict(prompt="描述你想要的视频", advanced="高级设置", steps="采样步数", frames="帧数", generate="🎬 生成视频",
          works="我的作品", done="已完成", idle="0 个排队，0 个生成中")
EN = dict(prompt="Describe your video", advanced="Advanced settings", steps="Denoising steps", frames="Frames",
          generate="🎬 Generate video", works="My works", done="done", idle="0 waiting, 0 rendering")


@pytest.mark.parametrize("locale, phone", [("zh-CN", False), ("en-US", True)], ids=["zh-desktop", "en-phone"])
def test_a_reloaded_tab_finds_its_job_again(browser, slow_app, locale, phone):  # noqa: F811
    lang = ZH if locale == "zh-CN" else EN
    prompt = unique("a snail climbs a very tall stalk of grass")
    page = new_page(browser, slow_app, locale, phone)
    panel = start_slow_job(page, prompt, lang, phone)
    result = panel.locator("#t2v-result")
    expect(result).to_contain_text(PROGRESS[locale], timeout=60_000)

    page.reload()
    page.wait_for_selector("text=🎬", timeout=60_000)
    reloaded = time.monotonic()
    panel = visible_tab(page)
    result = panel.locator("#t2v-result")
    expect(result).to_contain_text(PROGRESS[locale], timeout=5_000)  # progress back within 5 s
    back_after = time.monotonic() - reloaded
    # The tab shows what the job was submitted with.
    expect(panel.get_by_label(lang["prompt"])).to_have_value(prompt)
    press(page, panel.get_by_text(lang["advanced"], exact=True), phone)
    expect(panel.get_by_label(f"number input for {lang['steps']}")).to_have_value(SLOW_STEPS)
    result.scroll_into_view_if_needed()  # on a phone the result sits below the settings
    shot(page, f"live-reattached-{locale}", full_page=not phone)
    assert wait_for_video(page, panel, timeout=900_000) > 0  # the result arrives on the same tab
    expect(page.locator("body")).to_contain_text(lang["idle"], timeout=10_000)  # the header caught up
    result.scroll_into_view_if_needed()
    shot(page, f"live-reattached-done-{locale}", full_page=not phone)
    print(f"progress back {back_after:.1f} s after the reload ({locale})")
    page.context.close()


def test_two_pages_of_one_user_keep_up_and_a_background_tab_hears_the_end(browser, signed_app):  # noqa: F811
    alice = Client(signed_app.url, auth=("alice", "alice-password"), verbose=False)
    prompt = unique("a hot-air balloon drifts over rice terraces")
    watcher = new_page(browser, signed_app, "zh-CN", user="alice")
    watcher.get_by_role("tab", name="我的作品", exact=True).click()
    expect(watcher.locator("#works-gallery")).to_be_visible()

    maker = new_page(browser, signed_app, "zh-CN", user="alice")
    maker.context.grant_permissions(["notifications"])
    maker.evaluate("""() => {  // note each notification the page shows, then show it as usual
        const Real = window.Notification; window.__notes = [];
        window.Notification = class extends Real { constructor(title, options) { window.__notes.push(title); super(title, options); } };
    }""")
    title = maker.title()
    panel = start_slow_job(maker, prompt, ZH)
    expect(panel.locator("#t2v-result")).to_contain_text(PROGRESS["zh-CN"], timeout=60_000)
    # The maker goes to the background, as when the user switches to another app or tab.
    maker.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")

    # The watcher's works list shows the new job by itself (an idle page looks every 10 s), then its end.
    item = cover(watcher, prompt)
    expect(item).to_have_count(1, timeout=20_000)
    assert re.search("排队中|生成中", item.inner_text()), item.inner_text()
    expect(watcher.locator("body")).to_contain_text(re.compile("1 个(排队|生成中)"), timeout=10_000)
    job = next(j for j in alice.predict(api_name="/my_works") if j["prompt"] == prompt)
    deadline = time.monotonic() + 900  # a loaded machine makes the tiny model many times slower
    while alice.predict(job_id=job["job_id"], api_name="/job_status")["status"] != "succeeded":
        assert time.monotonic() < deadline, "the slow job did not finish"
        time.sleep(0.2)
    ended = time.monotonic()
    expect(item).to_contain_text("已完成", timeout=5_000)
    expect(watcher.locator("body")).to_contain_text(ZH["idle"], timeout=5_000)
    print(f"the other page showed the end {time.monotonic() - ended:.1f} s after it")
    shot(watcher, "live-works-caught-up-zh")

    # The background tab's title says it, and so does a notification; shown again, the title is back.
    maker.wait_for_function("(title) => document.title !== title", arg=title, timeout=10_000)
    assert "视频已生成" in maker.title(), maker.title()
    assert maker.evaluate("window.__notes") == ["✅ 视频已生成"]
    maker.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    expect(maker).to_have_title(title)
    assert wait_for_video(maker, panel, timeout=60_000) > 0
    maker.context.close()
    watcher.context.close()


def test_a_failed_jobs_reason_stays_on_its_tab_until_the_next_action(browser, signed_app, tmp_path):  # noqa: F811
    gray, other = tmp_path / "grandparents.png", tmp_path / "another.png"
    make_photo(320, 240, mode="L").convert("RGB").save(gray)
    make_photo(240, 320, mode="L").convert("RGB").save(other)
    page = new_page(browser, signed_app, "zh-CN", user="alice")
    page.get_by_role("tab", name="老照片", exact=True).click()
    panel = visible_tab(page)
    panel.locator("input[type=file]").first.set_input_files(str(gray))
    expect(panel.locator("img").first).to_be_visible()
    panel.get_by_role("button", name="🎬 生成视频").click()

    outcome = panel.locator("#old_photo-outcome")
    # One plain sentence: no folder, no setting, no command (those are in the server's log).
    expect(outcome).to_contain_text("这台服务器没有安装黑白照片上色功能，请联系管理员。", timeout=120_000)
    reason = outcome.inner_text()
    assert "DDColor" not in reason and "DDCOLOR" not in reason and "ddcolor.pth" not in reason, reason
    assert_plain(reason.replace("\n", " "))
    page.wait_for_timeout(12_000)  # longer than a toast stays
    expect(outcome).to_have_text(reason)
    expect(outcome).to_be_visible()
    expect(page.get_by_text("错误", exact=True)).to_have_count(0)  # no bare error badge
    expect(page.get_by_text("Error", exact=True)).to_have_count(0)
    shot(page, "live-failed-zh")

    # 我的作品 keeps the reason too.
    page.get_by_role("tab", name="我的作品", exact=True).click()
    cover(page, "").first.wait_for()
    page.locator("#works-gallery button.thumbnail-item").filter(has_text="失败").first.click()
    expect(page.locator("#work-details")).to_contain_text("失败原因")
    expect(page.locator("#work-details")).to_contain_text("这台服务器没有安装黑白照片上色功能，请联系管理员。")
    expect(page.locator("#work-details")).not_to_contain_text("DDCOLOR_WEIGHTS")

    # The next action (a new picture) clears it.
    page.get_by_role("tab", name="老照片", exact=True).click()
    panel = visible_tab(page)
    panel.locator("input[type=file]").first.set_input_files(str(other))
    expect(outcome).to_have_text("")
    expect(page.get_by_text("错误", exact=True)).to_have_count(0)
    shot(page, "live-failed-cleared-zh")
    page.context.close()


def test_a_missing_colorizer_is_one_plain_sentence_on_an_english_phone(browser, signed_app, tmp_path):  # noqa: F811
    gray = tmp_path / "grandparents.png"
    make_photo(320, 240, mode="L").convert("RGB").save(gray)
    page = new_page(browser, signed_app, "en-US", phone=True, user="alice")
    press(page, page.get_by_role("tab", name="Old photo", exact=True), phone=True)
    panel = visible_tab(page)
    panel.locator("input[type=file]").first.set_input_files(str(gray))
    expect(panel.locator("img").first).to_be_visible()
    press(page, panel.get_by_role("button", name="🎬 Generate video"), phone=True)

    outcome = panel.locator("#old_photo-outcome")
    expect(outcome).to_contain_text("Colorizing isn't installed on this server; ask whoever runs it.",
                                    timeout=120_000)
    reason = outcome.inner_text()
    assert "DDColor" not in reason and "DDCOLOR" not in reason, reason
    assert_plain(reason.replace("\n", " "))
    outcome.scroll_into_view_if_needed()
    shot(page, "live-colorizer-missing-en-phone")
    page.context.close()
