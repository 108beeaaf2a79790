"""Make it again (issue 21): 再来一次 (the same settings, a new seed, a new job followed on the tab
of its mode) and 做同款 (the settings back on their tab, the seed random), under a result and on an
opened work. zh-CN and en-US, desktop (1366×900) and phone (390×844, touch); headless Chromium,
screenshots in test-artifacts/. The jobs are checked through gradio_client's /my_works.
"""

from __future__ import annotations

import time

import pytest
from gradio_client import handle_file
from playwright.sync_api import expect

from tests.conftest import make_photo
from tests.e2e.test_browser import browser, open_sized, shot, visible_tab, wait_for_video  # noqa: F401
from tests.e2e.test_live import set_slider
from tests.e2e.test_phone import tap, wait_in_view
from tests.e2e.test_works import FAST, assert_readable, cover, find_job, open_works, unique

ZH = dict(prompt="描述你想要的视频", advanced="高级设置", steps="采样步数", frames="帧数", generate="🎬 生成视频",
          again="🔁 再来一次", like="♻️ 做同款", works="我的作品", seed="种子（-1 为随机）", random="每次随机种子",
          used_seed="实际种子", final="最终提示词", t2v="文生视频", i2v="图生视频", style="风格", anime="动漫")
EN = dict(prompt="Describe your video", advanced="Advanced settings", steps="Denoising steps", frames="Frames",
          generate="🎬 Generate video", again="🔁 Again", like="♻️ Make one like this", works="My works",
          seed="Seed (-1 = random)", random="Random seed each time", used_seed="Seed used",
          final="Final prompt sent to the model", t2v="Text to video", i2v="Image to video", style="Style",
          anime="Anime")
WAIT_S = 900.0  # a render on a loaded machine (two cores, six suites) takes many times its quiet time


def finished_jobs(client, prompt: str, count: int) -> list[dict]:
    """The `count` works with `prompt`, oldest first, once all have finished."""
    deadline = time.monotonic() + WAIT_S
    while True:
        jobs = [job for job in client.predict(api_name="/my_works") if job["prompt"] == prompt]
        if len(jobs) >= count and all(job["status"] not in ("queued", "running") for job in jobs):
            assert len(jobs) == count, jobs
            return sorted(jobs, key=lambda job: job["created_at"])
        assert time.monotonic() < deadline, f"{len(jobs)} works with {prompt!r}, not {count} finished: {jobs}"
        time.sleep(0.5)


def assert_same_settings_new_seed(first: dict, second: dict) -> None:
    assert second["job_id"] != first["job_id"]
    assert second["status"] == "succeeded", second
    assert second["seed"] != first["seed"], (first["seed"], second["seed"])
    for name in ("mode", "prompt", "style", "num_inference_steps", "num_frames", "guidance_scale", "speed"):
        assert second[name] == first[name], name


RESULT_SCREENS = [(1366, 900, "zh-CN"), (390, 844, "en-US")]


@pytest.mark.parametrize("width,height,locale", RESULT_SCREENS, ids=[f"{w}-{loc}" for w, _, loc in RESULT_SCREENS])
def test_again_and_make_one_like_this_under_a_result(browser, app, client, width, height, locale):  # noqa: F811
    words = ZH if locale == "zh-CN" else EN
    phone = width < 800
    prompt = unique("a paper crane unfolds on a windowsill")
    page = open_sized(browser, app, width, height, locale)
    try:
        panel = visible_tab(page)
        again = panel.get_by_role("button", name=words["again"], exact=True)
        like = panel.get_by_role("button", name=words["like"], exact=True)
        expect(again).to_be_disabled()  # no result yet: nothing to repeat
        expect(like).to_be_disabled()
        panel.get_by_label(words["prompt"]).fill(prompt)
        tap(page, panel.get_by_text(words["advanced"], exact=True))
        set_slider(panel, words["steps"], "2")
        tap(page, panel.get_by_role("button", name=words["generate"]))
        assert wait_for_video(page, panel) > 0
        (first,) = finished_jobs(client, prompt, 1)
        used = panel.get_by_label(words["used_seed"])
        expect(used).to_have_value(str(first["seed"]))
        expect(again).to_be_enabled()

        # 再来一次: a second job, same settings, another seed, followed here to its result.
        tap(page, again)
        first_again, second = finished_jobs(client, prompt, 2)
        assert first_again["job_id"] == first["job_id"]
        assert_same_settings_new_seed(first, second)
        expect(used).to_have_value(str(second["seed"]))
        expect(panel.get_by_label(words["final"])).to_have_value(second["final_prompt"])
        assert wait_for_video(page, panel) > 0
        expect(again).to_be_enabled()
        assert_readable(page)
        shot(page, f"again-result-{width}-{locale}", full_page=not phone)

        # 做同款: the settings come back into the controls (changed meanwhile), the seed random.
        panel.get_by_label(words["prompt"]).fill("something else entirely")
        set_slider(panel, words["steps"], "7")
        panel.get_by_label(words["random"]).uncheck()
        panel.get_by_label(words["seed"]).fill("99")
        tap(page, like)
        box = panel.get_by_label(words["prompt"])
        expect(box).to_have_value(prompt)
        expect(panel.get_by_label(f"number input for {words['steps']}")).to_have_value("2")
        expect(panel.get_by_label(words["random"])).to_be_checked()
        expect(panel.get_by_label(words["seed"])).to_have_value("-1")
        if phone:
            wait_in_view(page, box, "like-prompt")
        assert_readable(page)
        shot(page, f"again-like-{width}-{locale}", full_page=not phone)
    finally:
        page.context.close()


WORK_SCREENS = [(390, 844, "zh-CN"), (1366, 900, "en-US")]


@pytest.mark.parametrize("width,height,locale", WORK_SCREENS, ids=[f"{w}-{loc}" for w, _, loc in WORK_SCREENS])
def test_again_and_make_one_like_this_from_a_work(browser, app, client, tmp_path, width, height, locale):  # noqa: F811
    words = ZH if locale == "zh-CN" else EN
    phone = width < 800
    prompt = unique("a red kite dances over a green hill")
    picture = tmp_path / "kite.png"
    make_photo(320, 200).save(picture)
    client.predict(image=handle_file(str(picture)), prompt=prompt, seed=4242, style="anime",
                   api_name="/image_to_video", **FAST)
    first = find_job(client, prompt)
    assert first["status"] == "succeeded" and first["seed"] == 4242

    page = open_sized(browser, app, width, height, locale)
    try:
        panel = open_works(page, words["works"])
        again = panel.get_by_role("button", name=words["again"], exact=True)
        like = panel.get_by_role("button", name=words["like"], exact=True)
        expect(again).to_be_disabled()  # nothing opened yet
        tap(page, cover(page, prompt))
        expect(page.locator("#work-details")).to_contain_text(prompt)
        expect(again).to_be_enabled()

        # 做同款: the image-to-video tab opens with the work's settings and a random seed.
        tap(page, like)
        i2v_tab = page.get_by_role("tab", name=words["i2v"], exact=True)
        expect(i2v_tab).to_have_attribute("aria-selected", "true")
        i2v = visible_tab(page)
        box = i2v.get_by_label(words["prompt"])
        expect(box).to_have_value(prompt)
        expect(i2v.get_by_label(words["style"], exact=True)).to_have_value(words["anime"])
        if phone:
            wait_in_view(page, box, "work-like-prompt")
        tap(page, i2v.get_by_text(words["advanced"], exact=True))
        expect(i2v.get_by_label(f"number input for {words['steps']}")).to_have_value("2")
        expect(i2v.get_by_label(words["random"])).to_be_checked()
        expect(i2v.get_by_label(words["seed"])).to_have_value("-1")
        assert_readable(page)
        shot(page, f"again-work-like-{width}-{locale}", full_page=not phone)

        # 再来一次 from the work: a new job with a new seed, followed on the image-to-video tab.
        panel = open_works(page, words["works"])
        expect(page.locator("#work-details")).to_contain_text(prompt)  # still opened
        tap(page, panel.get_by_role("button", name=words["again"], exact=True))
        expect(i2v_tab).to_have_attribute("aria-selected", "true")
        i2v = visible_tab(page)
        expect(i2v.get_by_label(words["prompt"])).to_have_value(prompt)
        first_again, second = finished_jobs(client, prompt, 2)
        assert first_again["job_id"] == first["job_id"]
        assert_same_settings_new_seed(first, second)
        expect(i2v.get_by_label(words["used_seed"])).to_have_value(str(second["seed"]))
        assert wait_for_video(page, i2v.locator("#i2v-result")) > 0
        if phone:
            wait_in_view(page, i2v.locator("#i2v-result"), "work-again-result")
        assert_readable(page)
        shot(page, f"again-work-{width}-{locale}", full_page=not phone)
    finally:
        page.context.close()
