"""The page's link to its two API pages: Gradio's (?view=api, the named endpoints) and our REST docs.

Gradio 6.31 shows its API page only from the footer's "Use via API" button, and on a load of
?view=api it marks the page open but renders nothing until that button is hovered (the button's
mouseenter or click is what loads the API page's code). The script below hands our link's clicks,
and a fresh ?view=api load, to that button, so both open the page.
"""

from __future__ import annotations

import gradio as gr

ELEM_ID = "api-links"

# key: (English, 中文), merged into the page's i18n table. Relative links: the page may sit under a
# reverse proxy's path.
TEXT: dict[str, tuple[str, str]] = {
    "api_page_links": (
        "🔌 [Use via API](?view=api) · [REST API docs](api/docs)",
        "🔌 [通过 API 调用](?view=api) · [REST 接口文档](api/docs)",
    ),
}

HEAD = """
<script>
(() => {
  const apiButton = () => document.querySelector("footer button.show-api");
  // Our link: open Gradio's API page in place (a plain ?view=api load shows nothing, see above).
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("#%(id)s a[href*='view=api']");
    const button = apiButton();
    if (!link || !button) return;
    event.preventDefault();
    event.stopPropagation();
    button.dispatchEvent(new MouseEvent("mouseenter"));
    button.click();
  }, true);
  // A fresh load of ?view=api: the page is marked open but its code is not loaded, and loading it
  // later does not redraw; the button's first click closes that empty page, the second opens it.
  if (new URLSearchParams(window.location.search).get("view") === "api") {
    const started = Date.now();
    const wake = () => {
      const button = apiButton();
      if (!button) {
        if (Date.now() - started < 600000) setTimeout(wake, 200);
        return;
      }
      button.click();
      setTimeout(() => button.click(), 100);
    };
    wake();
  }
})();
</script>
""" % {"id": ELEM_ID}


def api_links(i18n: gr.I18n) -> gr.Markdown:
    """The small link line under the header (built inside the page's Blocks)."""
    return gr.Markdown(i18n("api_page_links"), elem_id=ELEM_ID, elem_classes="prompt-note")
