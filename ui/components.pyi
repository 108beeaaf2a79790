"""Gradio components adapted to the studio's needs."""

from __future__ import annotations

import gradio as gr

from gradio.events import Dependency

class UploadedImage(gr.Image):
    """An image input that hands the uploaded file to us unopened.

    gr.Image opens uploads with PIL before our function runs, so a file that is not an image (or a
    truncated one) fails there with a generic message; our own intake names the problem instead.
    """

    def get_block_name(self) -> str:
        return "image"

    def preprocess(self, payload):
        if payload is not None and self.type == "filepath" and payload.path and not (
            payload.url or ""
        ).startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component