"""The aspect ratio choice (画面比例): offered where the loaded model renders more than one size,
else a one-line note saying why there is no choice.

The sizes are the engine's data (`Variant.sizes`, asked of the studio); this module only words them for
the page and turns the page's choice (a ratio's name, "9:16") into the request's height and width.
"""

from __future__ import annotations

import gradio as gr

from bilingual import Text
from cogvideo import Size, Variant

from .components import OpenRadio

ASPECT_MODES = ("t2v", "i2v")  # the tabs that show the choice or the note
ORIENTATIONS = {"landscape": Text("landscape", "横屏"), "portrait": Text("portrait", "竖屏"),
                "square": Text("square", "方形")}


def offers_choice(variant: Variant | None) -> bool:
    """Whether the page offers a choice: more than one size, and not a model whose image-to-video
    takes its shape from the picture."""
    return variant is not None and not variant.follows_picture and len(variant.offered_sizes()) > 1


def model_name(variant: Variant) -> str:
    """The name people know ("CogVideoX-5B"), from the variant's label."""
    return variant.label.split(" · ")[0] if variant.label else variant.name


def size_words(size: Size) -> Text:
    """"720×480 (3:2 landscape)" / "720×480（3:2 横屏）"."""
    word = ORIENTATIONS[size.orientation]
    return Text(f"{size.width}×{size.height} ({size.ratio} {word.en})", f"{size.width}×{size.height}（{size.ratio} {word.zh}）")


def choice_label(size: Size) -> Text:
    """A radio choice: "9:16 portrait · 80×144" / "9:16 竖屏 · 80×144"."""
    word = ORIENTATIONS[size.orientation]
    return Text(f"{size.ratio} {word.en} · {size.width}×{size.height}", f"{size.ratio} {word.zh} · {size.width}×{size.height}")


def aspect_note(variant: Variant | None) -> Text | None:
    """Why the page offers no aspect ratio choice for this model (None: it offers one)."""
    if variant is None or offers_choice(variant):
        return None
    name = model_name(variant)
    if variant.follows_picture:
        if variant.short_side is not None:
            return Text(
                f"The video takes the shape of your picture: {name} keeps the short side at {variant.short_side} "
                f"and the long side up to {variant.max_side}.",
                f"画面比例跟随你上传的图片：{name} 短边 {variant.short_side}，长边最多 {variant.max_side}。",
            )
        return Text("The video takes the shape of your picture (a portrait picture gives a portrait video).",
                    "画面比例跟随你上传的图片（竖图生成竖屏视频）。")
    size = variant.offered_sizes()[0]
    words = size_words(size)
    if variant.task == "i2v":
        return Text(f"{name} renders {words.en} only: your picture is cropped to that shape around its centre.",
                    f"{name} 只能生成 {words.zh}：图片会以中心裁剪成这个比例。")
    return Text(f"{name} renders {words.en} only: its authors publish it for that one size.",
                f"{name} 只能生成 {words.zh}：模型作者只支持这一尺寸。")


def i18n_names(variants: dict[str, Variant | None]) -> dict[str, tuple[str, str]]:
    """Page words for the loaded models' sizes and notes, by task: `aspect.<task>.<ratio>` and
    `aspect_note.<task>` (added to the page's translation tables, like style names)."""
    names: dict[str, tuple[str, str]] = {"aspect_ratio": ("Aspect ratio", "画面比例")}
    for task, variant in variants.items():
        if variant is None:
            continue
        for size in variant.offered_sizes():
            label = choice_label(size)
            names[f"aspect.{task}.{size.ratio}"] = (label.en, label.zh)
        note = aspect_note(variant)
        if note is not None:
            names[f"aspect_note.{task}"] = (note.en, note.zh)
    return names


def aspect_control(variant: Variant | None, task: str, tab_id: str, i18n) -> gr.components.Component:
    """The choice where the model offers one, else the note (the returned input is hidden then and
    sends "", the model's own size). Either way it feeds the handler's `aspect_ratio`."""
    if offers_choice(variant):
        sizes = variant.offered_sizes()
        return OpenRadio([(i18n(f"aspect.{task}.{size.ratio}"), size.ratio) for size in sizes], value=sizes[0].ratio,
                         label=i18n("aspect_ratio"), elem_id=f"{tab_id}-aspect")
    if variant is not None:
        gr.Markdown(i18n(f"aspect_note.{task}"), elem_classes="prompt-note", elem_id=f"{tab_id}-aspect-note")
    return OpenRadio([("", "")], value="", visible=False)


def requested_size(variant: Variant | None, aspect_ratio: str | None) -> tuple[int | None, int | None]:
    """(height, width) for the request: the named shape's size, or (None, None) for the model's
    own (a fixed size, or the picture's shape). A name the model lacks raises `InvalidRequest`."""
    if variant is None or not aspect_ratio or not str(aspect_ratio).strip():
        return None, None
    size = variant.size_for_ratio(str(aspect_ratio))
    return size.height, size.width


def reuse_value(variant: Variant | None, height: int | None, width: int | None) -> str:
    """The choice that gives a stored job's size back (its first shape for the model's own size)."""
    if variant is None or not offers_choice(variant):
        return ""
    if height is None and width is None:
        height, width = variant.height, variant.width
    return variant.ratio_of(height, width) or variant.offered_sizes()[0].ratio
