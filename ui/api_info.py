"""Plain labels on Gradio's API page (?view=api and /gradio_api/info).

Our labels are i18n keys, which the page translates in the browser; Gradio's API info hands them on
untranslated, so the API page printed "[object Object]" (and clients read the raw key data) where a
parameter's label belongs. We translate them on the server, in English like the rest of that page.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

MARK = "__i18n__"


def plain(label: Any, table: dict[str, str]) -> Any:
    """The English text for an i18n label (object, dict or marked string); anything else unchanged."""
    key = None
    if isinstance(label, I18nData):
        key = label.key
    elif isinstance(label, dict) and label.get("__type__") == "translation_metadata":
        key = label.get("key")
    elif isinstance(label, str) and label.startswith(MARK):
        try:
            key = json.loads(label[len(MARK):]).get("key")
        except (ValueError, AttributeError):
            return label
    if key is None:
        return label
    return table.get(key, key)


def translate_api_labels(demo: gr.Blocks, i18n: gr.I18n) -> None:
    """Make demo.get_api_info return English labels (an instance attribute: Gradio's routes call it)."""
    table = i18n.translations.get("en", {})
    original = demo.get_api_info

    def get_api_info(all_endpoints: bool = False, page: str | None = None):
        info = original(all_endpoints=all_endpoints, page=page)
        for group in info.values():
            for endpoint in group.values():
                for item in (*endpoint.get("parameters", []), *endpoint.get("returns", [])):
                    item["label"] = plain(item.get("label"), table)
        return info

    demo.get_api_info = get_api_info
