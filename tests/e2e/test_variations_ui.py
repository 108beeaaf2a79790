"""生成数量 / Variations as a person uses it (headless Chromium, the tiny model in a real app):
choose 3, press Generate once, three jobs with consecutive seeds finish and show together under the
result; on a server that allows two jobs per user, the control offers no more than two."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from jobs import JobStore
from jobs.job import SUCCEEDED
from tests.conftest import RunningApp
from tests.e2e.test_browser import RENDER_MS, browser, open_sized, shot, visible_tab  # noqa: F401
from tests.e2e.test_live import set_slider
from tests.e2e.test_works import cancel_leftovers, unique

ZH = dict(prompt="描述你想要的视频", advanced="高级设置", steps="采样步数", frames="帧数", generate="🎬 生成视频",
          count="生成数量", done="/3 完成", seed="种子", used_seed="实际种子")
EN = dict(prompt="Describe your video", advanced="Advanced settings", steps="Denoising steps", frames="Frames",
          generate="🎬 Generate video", count="Variations", done="/3 done", seed="Seed", used_seed="Seed used")
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
CASES = [("zh-CN", "desktop"), ("zh-CN", "phone"), ("en-US", "desktop"), ("en-US", "phone")]


@pytest.fixture(scope="module")
def open_app(tmp_path_factory):
    """No per-user cap: the control offers all four."""
    running = RunningApp(tmp_path_factory.mktemp("variations"), extra_args=("--max-queue-per-user", "0"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def capped_app(tmp_path_factory):
    running = RunningApp(tmp_path_factory.mktemp("variations-capped"), extra_args=("--max-queue-per-user", "2"))
    yield running
    running.close()


def press(page, locator, phone: bool) -> None:
    locator.tap() if phone else locator.click()


def offered(panel) -> list[str]:
    """The counts the control offers, in order."""
    control = panel.locator(".variations-count")
    control.locator("input[type=radio]").first.wait_for()
    # One read in the page: the load event may replace the choices between two reads.
    return control.evaluate("el => [...el.querySelectorAll('label')].map((label) => label.innerText.trim())")


def wait_offered(page, panel, counts: list[str], timeout_s: float = 60.0) -> None:
    """Wait until the control offers exactly `counts` (the page's load event narrows it)."""
    deadline = time.monotonic() + timeout_s
    while offered(panel) != counts:
        assert time.monotonic() < deadline, offered(panel)
        page.wait_for_timeout(200)


def jobs_of(app, prompt: str) -> list:
    store = JobStore(app.data_dir)
    try:
        return sorted((job for job in store.list() if job.user_prompt == prompt), key=lambda job: job.created_at)
    finally:
        store.close()


@pytest.mark.parametrize("locale, size", CASES, ids=[f"{loc}-{size}" for loc, size in CASES])
def test_three_variations_finish_and_show_together(browser, open_app, locale, size):  # noqa: F811
    lang = ZH if locale == "zh-CN" else EN
    phone = size == "phone"
    page = open_sized(browser, open_app, *SIZES[size], locale=locale)
    panel = visible_tab(page)
    expect(panel.locator(".variations-count")).to_contain_text(lang["count"])
    wait_offered(page, panel, ["1", "2", "3", "4"])
    prompt = unique("a paper lantern drifts over a night river")
    panel.get_by_label(lang["prompt"]).fill(prompt)
    press(page, panel.get_by_text(lang["advanced"], exact=True), phone)
    for name, value in ((lang["steps"], "40"), (lang["frames"], "9")):
        set_slider(panel, name, value)
    press(page, panel.locator(".variations-count").get_by_label("3", exact=True), phone)
    press(page, panel.get_by_role("button", name=lang["generate"]), phone)
    # While they render, the result says how many are done.
    expect(panel.locator("#t2v-result")).to_contain_text(lang["done"], timeout=RENDER_MS)
    shot(page, f"variations-progress-{locale}-{size}", full_page=not phone)

    gallery = panel.locator("#t2v-variations")
    expect(gallery.locator("button.thumbnail-item")).to_have_count(3, timeout=RENDER_MS)
    jobs = jobs_of(open_app, prompt)
    assert len(jobs) == 3 and {job.status for job in jobs} == {SUCCEEDED}
    first = jobs[0].seed
    assert [job.seed for job in jobs] == [first, first + 1, first + 2]  # consecutive from a random start
    captions = [item.inner_text().strip() for item in gallery.locator("button.thumbnail-item").all()]
    assert captions == [f"{lang['seed']} {seed}" for seed in (first, first + 1, first + 2)], captions
    expect(gallery.locator("video")).to_have_count(3)
    expect(panel.get_by_label(lang["used_seed"], exact=True)).to_have_value(str(first))  # the player: the first
    gallery.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # the covers fade in
    shot(page, f"variations-done-{locale}-{size}", full_page=not phone)
    # The count comes back to the whole allowance after the jobs (and stays at 3).
    assert offered(panel) == ["1", "2", "3", "4"]
    # Image to video has the same control.
    press(page, page.get_by_role("tab", name="图生视频" if locale == "zh-CN" else "Image to video", exact=True), phone)
    expect(visible_tab(page).locator(".variations-count")).to_contain_text(lang["count"])
    page.context.close()


@pytest.mark.parametrize("locale, size", CASES, ids=[f"{loc}-{size}" for loc, size in CASES])
def test_the_count_offers_no_more_than_the_per_user_cap(browser, capped_app, locale, size):  # noqa: F811
    page = open_sized(browser, capped_app, *SIZES[size], locale=locale)
    panel = visible_tab(page)
    wait_offered(page, panel, ["1", "2"])
    why = "本站每人同时最多 2 个视频" if locale == "zh-CN" else "Up to 2 videos at a time per user"
    expect(panel.locator(".variations-count")).to_contain_text(why)
    panel.locator(".variations-count").scroll_into_view_if_needed()
    shot(page, f"variations-capped-{locale}-{size}", full_page=False)
    page.context.close()


def test_a_run_larger_than_the_share_left_submits_what_fits_and_says_so(browser, capped_app):  # noqa: F811
    """The allowance shrank after the page looked (a job sent from elsewhere): 2 chosen, 1 fits."""
    from gradio_client import Client

    page = open_sized(browser, capped_app, *SIZES["desktop"], locale="zh-CN")
    panel = visible_tab(page)
    wait_offered(page, panel, ["1", "2"])
    # The same address sends a slow job through the API: one place of the two is taken now.
    client = Client(capped_app.url, verbose=False)
    slow = unique("a slow job sent from elsewhere")
    call = client.submit(prompt=slow, num_inference_steps=150, num_frames=33, translate=False,
                         api_name="/text_to_video")
    prompt = unique("a kite over the sea")
    try:
        deadline = time.monotonic() + 120
        while not jobs_of(capped_app, slow):
            assert time.monotonic() < deadline, "the slow job was not submitted"
            time.sleep(0.2)
        panel.get_by_label(ZH["prompt"]).fill(prompt)
        panel.locator(".variations-count").get_by_label("2", exact=True).click()
        panel.get_by_role("button", name=ZH["generate"]).click()
        toast = page.get_by_test_id("toast-text").filter(has_text="只够 1 个")
        toast.first.wait_for()
        shot(page, "variations-fewer-zh", full_page=False)
        assert len(jobs_of(capped_app, prompt)) == 1
        # Reloaded while its job waits: the tab reattaches to it and offers only what is left.
        page.reload()
        page.wait_for_selector("text=🎬")
        panel = visible_tab(page)
        wait_offered(page, panel, ["1"])
        expect(panel.get_by_label(ZH["prompt"])).to_have_value(prompt)
        panel.locator(".variations-count").scroll_into_view_if_needed()
        shot(page, "variations-reloaded-zh", full_page=False)
    finally:
        # The slow job first, until it has ended: the page looks at its share when its own job ends.
        for job in jobs_of(capped_app, slow):
            client.predict(job_id=job.id, api_name="/cancel_job")
        deadline = time.monotonic() + 300
        while not all(job.finished for job in jobs_of(capped_app, slow)):
            assert time.monotonic() < deadline, "the slow job did not stop"
            time.sleep(0.2)
        cancel_leftovers(client, [slow, prompt], [call])
    # After the followed job ends the page offers its whole share again.
    wait_offered(page, panel, ["1", "2"], timeout_s=RENDER_MS / 1000)
    expect(panel.locator(".variations-count")).to_contain_text("本站每人同时最多 2 个")
    page.context.close()
