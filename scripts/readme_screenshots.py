"""The README's screenshots, taken from the running app (tiny model) in headless Chromium.

    python scripts/readme_screenshots.py        # writes docs/screenshot.png, screenshot-zh.png,
                                                # works-zh.png, phone-zh.png

The tiny model's random weights make the video coloured noise; everything around it is the page as
a person sees it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.conftest import RunningApp, make_photo  # noqa: E402
from tests.e2e.test_browser import ARGS, CHROMIUM, PATIENCE_MS, open_sized, visible_tab, wait_for_video  # noqa: E402

DOCS = ROOT / "docs"


def generate(page, panel, prompt_label: str, prompt: str, button: str) -> None:
    panel.get_by_label(prompt_label).fill(prompt)
    panel.get_by_role("button", name=button).click()
    wait_for_video(page, panel)
    page.wait_for_timeout(800)  # the result's details and buttons settle


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        app = RunningApp(Path(tmp))
        try:
            expect.set_options(timeout=PATIENCE_MS)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            # Desktop, English, image to video with a finished result.
            page = open_sized(browser, app, 1366, 900, "en-US")
            page.get_by_role("tab", name="Image to video").click()
            panel = visible_tab(page)
            photo = Path(tmp) / "harbour.png"
            make_photo(720, 480).save(photo)
            panel.locator("input[type=file]").first.set_input_files(str(photo))
            generate(page, panel, "Describe your video", "Fishing boats rock gently in the harbour at dawn, "
                     "gulls circle overhead, the camera slowly pushes in.", "🎬 Generate video")
            page.screenshot(path=str(DOCS / "screenshot.png"), full_page=True)
            # Desktop, Chinese, text to video with a result, then 我的作品.
            page = open_sized(browser, app, 1366, 900, "zh-CN")
            panel = visible_tab(page)
            generate(page, panel, "描述你想要的视频", "一只橘猫在雨后的小巷里追逐落叶，镜头缓缓跟随，电影感光影。", "🎬 生成视频")
            page.screenshot(path=str(DOCS / "screenshot-zh.png"), full_page=True)
            page.get_by_role("tab", name="我的作品").click()
            works = visible_tab(page)
            works.locator("#works-gallery button.thumbnail-item").first.click()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(DOCS / "works-zh.png"), full_page=True)
            # Phone, Chinese: the page as it opens, Generate at the thumb.
            phone = open_sized(browser, app, 390, 844, "zh-CN")
            phone.wait_for_timeout(1000)
            phone.screenshot(path=str(DOCS / "phone-zh.png"), full_page=False)
            browser.close()
        finally:
            app.close()
    for name in ("screenshot.png", "screenshot-zh.png", "works-zh.png", "phone-zh.png"):
        print(DOCS / name, (DOCS / name).stat().st_size)


if __name__ == "__main__":
    main()
