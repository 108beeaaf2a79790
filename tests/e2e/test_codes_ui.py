"""Redeeming a code on the page (issue 24, item 2): the operator makes codes from the command line;
dora, signed in, opens 我的作品, types a code as people retype one (lower case, no dashes) and is in
the fast lane, with the header saying until when; a wrong code gets the one refusal in the page's
language; on a phone as on a desktop. Without sign-in there is nothing to redeem."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.codes import REFUSED
from tests.conftest import InProcessApp, run_cogvideo
from tests.e2e.test_browser import ARTIFACTS, PATIENCE_MS  # noqa: F401
from tests.e2e.test_passes_ui import DESKTOP, PHONE, browser, signed_in  # noqa: F401


@pytest.fixture(scope="module")
def codes_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("codes")
    data = str(tmp / "data")
    for name in ("dora", "ezra"):
        assert run_cogvideo("users", "add", name, "--password-stdin", "--data-dir", data,
                            stdin=f"{name}-password\n").returncode == 0
    made = run_cogvideo("codes", "make", "--days", "1", "--count", "2", "--data-dir", data)
    assert made.returncode == 0, made
    running = InProcessApp(tmp, data_dir=tmp / "data")
    running.codes = [line.split()[0] for line in made.stdout.splitlines() if line.strip()]
    yield running
    running.close()


@pytest.mark.parametrize("user, locale, device, code_at, words", [
    ("dora", "zh-CN", PHONE, 0, dict(tab="我的作品", box="🎟 兑换码", button="兑换", done="兑换成功",
                                     lane="VIP 通道 · 至", refused=REFUSED.zh)),
    ("ezra", "en-US", DESKTOP, 1, dict(tab="My works", box="🎟 Redeem a code", button="Redeem", done="Code redeemed",
                                       lane="fast lane · until", refused=REFUSED.en)),
])
def test_a_signed_in_user_redeems_a_code(browser, codes_app, user, locale, device, code_at, words):  # noqa: F811
    page = signed_in(browser, codes_app, user, locale, device)
    page.get_by_role("tab", name=words["tab"]).click()
    page.get_by_text(words["box"], exact=True).click()
    field = page.locator("#redeem-code textarea, #redeem-code input").first
    field.fill("no-such-code-here")
    page.get_by_role("button", name=words["button"], exact=True).click()
    expect(page.locator(".toast-body").last).to_contain_text(words["refused"])
    page.screenshot(path=str(ARTIFACTS / f"codes-refused-{locale}.png"))

    field.fill(codes_app.codes[code_at].lower().replace("-", ""))  # as people retype it
    page.get_by_role("button", name=words["button"], exact=True).click()
    expect(page.locator(".toast-body").last).to_contain_text(words["done"])
    expect(page.locator("#redeemed")).to_contain_text(words["lane"])
    expect(field).to_have_value("")
    expect(page.locator("#studio-status .lane").first).to_contain_text(words["lane"])  # the header caught up
    expect(page.locator(".prose.works-header")).to_contain_text(words["lane"].split(" · ")[0])  # and the works line
    page.screenshot(path=str(ARTIFACTS / f"codes-redeemed-{locale}.png"), full_page=True)
    page.context.close()


def test_without_sign_in_there_is_nothing_to_redeem(browser, tmp_path):  # noqa: F811
    app = InProcessApp(tmp_path)
    try:
        context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"}, **DESKTOP)
        page = context.new_page()
        page.set_default_timeout(PATIENCE_MS)
        page.goto(app.url)
        page.wait_for_selector("text=🎬")
        page.get_by_role("tab", name="我的作品").click()
        expect(page.locator("#works-gallery")).to_be_visible()
        expect(page.get_by_text("🎟 兑换码", exact=True)).to_have_count(0)
        context.close()
    finally:
        app.close()
