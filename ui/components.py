"""Gradio components adapted to the studio's needs."""

from __future__ import annotations

import gradio as gr


class UploadedImage(gr.Image):
    """An image input that hands the uploaded file to us unopened.

    gr.Image opens uploads with PIL before our function runs, so a file that is not an image (or a
    truncated one) fails there with a generic message; our own intake names the problem instead.
    """

    # Gradio names a template by its parent class ("Image" on the API page, not "Uploadedimage").
    is_template = True

    def get_block_name(self) -> str:
        return "image"

    def preprocess(self, payload):
        if payload is not None and self.type == "filepath" and payload.path and not (
            payload.url or ""
        ).startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)


class OpenSlider(gr.Slider):
    """A slider whose bounds hold on the page only: a value from an API caller beyond them reaches
    our function, and the studio's check names it in the caller's language (Gradio's own refusal
    is an English "Value 5 is greater than maximum value 1.0.")."""

    is_template = True  # named "Slider" on the API page, not "Openslider"

    def get_block_name(self) -> str:
        return "slider"

    def preprocess(self, payload: float) -> float:
        return payload


class OpenRadio(gr.Radio):
    """Radio choices that the page offers while API callers may send other values (checked by us)."""

    is_template = True  # named "Radio" on the API page, not "Openradio"

    def get_block_name(self) -> str:
        return "radio"

    def preprocess(self, payload):
        return payload


class OpenDropdown(gr.Dropdown):
    """A dropdown whose choices hold on the page only: an API caller's other value reaches our
    function, whose check names it in the caller's language (Gradio's own refusal is an English
    "Value: x is not in the list of choices", with "(type: <class 'str'>)" for some values)."""

    is_template = True  # named "Dropdown" on the API page, not "Opendropdown"

    def get_block_name(self) -> str:
        return "dropdown"

    def preprocess(self, payload):
        return payload
