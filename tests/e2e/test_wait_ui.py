"""On a phone, in Chinese: a job waiting behind slow ones says its place in line and when it should
start (learned from this server's finished jobs), never "0.0%"; Cancel with nothing to cancel says so."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.e2e.test_browser import ARTIFACTS, browser, open_sized, shot  # noqa: F401  (browser is a fixture)
from tests.e2e.test_works import cancel_leftovers

PHONE = {"width": 390, "height": 844}


def close_toasts(page, timeout=30.0):
    deadline = time.monotonic() + timeout
    while page.get_by_test_id("toast-close").count():
        assert time.monotonic() < deadline, "the toasts did not close"
        try:
            page.get_by_test_id("toast-close").first.click(timeout=2_000)
        except Exception:
            pass  # it closed itself meanwhile


def running(app, prompt, timeout=300):
    """Wait until the job of `prompt` renders, reading the app's own database (as the CLI does)."""
    from jobs import JobStore

    store = JobStore(app.data_dir)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(job.user_prompt == prompt for job in store.list(status="running")):
                return
            time.sleep(0.3)
    finally:
        store.close()
    raise TimeoutError(f"{prompt!r} did not start")


def test_a_job_behind_slow_ones_shows_its_place_and_wait_on_a_phone(browser, app, client):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_sized(browser, app)
    # A finished job is the history the estimate learns from; two slow ones then fill the line.
    client.predict(prompt="history for the estimate", num_inference_steps=2, num_frames=9, translate=False,
                   api_name="/text_to_video")
    slow = [f"slow job {i} ahead in line" for i in range(2)]
    # 150 steps of 33 frames: tens of seconds each even on a quiet machine, so this tab's job is still
    # waiting when the test cancels it.
    calls = [client.submit(prompt=prompt, num_inference_steps=150, num_frames=33, translate=False,
                           api_name="/text_to_video") for prompt in slow]
    try:
        panel = page.locator("div[role=tabpanel]:visible").first
        panel.get_by_label("描述你想要的视频").fill("a snail waits its turn on a leaf")
        running(app, slow[0])
        panel.get_by_role("button", name="🎬 生成视频").click()
        note = page.locator("#t2v-wait")
        # Second in line (or next, if the first slow job is done already on a fast machine); on an
        # idle machine the tiny model's 150 steps take seconds, which the estimate says as "几秒".
        expect(note).to_contain_text(re.compile(r"(排队中：你是第 2 位|下一个就轮到你) · (预计 [\d 小时分钟秒]+|几秒)后开始 · 普通通道"),
                                     timeout=60_000)
        assert "0.0%" not in page.locator("body").inner_text()
        assert note.is_visible() and note.bounding_box()["width"] <= PHONE["width"]
        shot(page, "wait-phone-zh", full_page=False)

        panel.get_by_role("button", name="取消", exact=True).click()
        page.get_by_test_id("toast-text").filter(has_text="已取消生成").first.wait_for(timeout=30_000)
        expect(note).not_to_contain_text("后开始", timeout=30_000)
        close_toasts(page)
        panel.get_by_role("button", name="取消", exact=True).click()  # nothing of this tab is waiting now
        toast = page.get_by_test_id("toast-body").filter(has_text="没有可以取消的任务")
        toast.first.wait_for(timeout=30_000)
        # Gradio 6.31's page heads every toast with its type ("Info") and shows no `title=`: the
        # message itself is what speaks the page's language.
        assert "这个标签页上没有正在排队或生成的视频" in toast.first.inner_text()
        page.wait_for_timeout(600)  # let the toast finish flying in before the picture
        shot(page, "wait-nothing-to-cancel-zh", full_page=False)
    finally:
        cancel_leftovers(client, slow, calls)
        page.context.close()
