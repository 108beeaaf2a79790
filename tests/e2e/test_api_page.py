"""The page's API link, Gradio's API page and the REST docs, in headless Chromium with no internet.

Every request to a host other than the app's is aborted, as on a machine without internet: the REST
docs used to load Swagger UI from a CDN (blank page), the footer with "Use via API" was hidden,
?view=api opened nothing, and the API page named parameters "[object Object]" and "Openradio".
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import browser, shot  # noqa: F401  (browser is a fixture)

LINKS = {"zh-CN": ("通过 API 调用", "REST 接口文档"), "en-US": ("Use via API", "REST API docs")}
VIEWPORTS = {"desktop": {"width": 1400, "height": 1100}, "phone": {"width": 390, "height": 844}}
WRONG = ("[object Object]", "Openradio", "Openslider", "Uploadedimage", "__i18n__", "translation_metadata")


def offline_page(browser, app, locale: str, viewport: dict):  # noqa: F811
    context = browser.new_context(locale=locale, viewport=viewport, extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    local = app.url.rstrip("/")
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local) else route.abort())
    return page


def check_api_page(page) -> None:
    """Gradio's API page is open and lists our named endpoints with plain labels and names."""
    expect(page.get_by_text("/text_to_video", exact=True).first).to_be_visible()
    expect(page.get_by_text("/image_to_video", exact=True).first).to_be_attached()
    text = page.inner_text("body")
    for wrong in WRONG:
        assert wrong not in text, f"the API page shows {wrong!r}"
    # A label from the page's i18n table, in plain words, and a subclass under its parent's name.
    assert 'provided in the "Describe your video" Textbox component' in text
    assert "Radio component" in text


@pytest.mark.parametrize("view", list(VIEWPORTS))
@pytest.mark.parametrize("locale", list(LINKS))
def test_link_opens_the_api_page(browser, app, locale, view):  # noqa: F811
    gradio_link, rest_link = LINKS[locale]
    page = offline_page(browser, app, locale, VIEWPORTS[view])
    page.goto(app.url)
    link = page.get_by_role("link", name=gradio_link)
    expect(link).to_be_visible()
    expect(page.get_by_role("link", name=rest_link)).to_be_visible()
    shot(page, f"api-link-{locale}-{view}", full_page=False)
    link.click()
    check_api_page(page)
    shot(page, f"api-page-{locale}-{view}", full_page=False)
    # The REST link leads to the docs page (Gradio's Markdown opens links in a new tab: follow its address).
    page.goto(app.url)
    address = page.get_by_role("link", name=rest_link).evaluate("(a) => a.href")
    assert address == app.url + "api/docs"
    page.goto(address)
    expect(page.locator("#swagger-ui").get_by_text("videos/generations").first).to_be_visible()
    page.context.close()


def test_view_api_address_opens_the_api_page(browser, app):  # noqa: F811
    page = offline_page(browser, app, "en-US", VIEWPORTS["desktop"])
    page.goto(app.url + "?view=api")
    check_api_page(page)
    page.context.close()


def test_rest_docs_work_offline(browser, app):  # noqa: F811
    page = offline_page(browser, app, "zh-CN", VIEWPORTS["phone"])
    page.goto(app.url + "api/docs")
    expect(page.locator("#swagger-ui").get_by_text("videos/generations").first).to_be_visible()
    expect(page.get_by_text("CogVideoX Studio API").first).to_be_visible()
    shot(page, "api-docs-offline")
    page.context.close()
