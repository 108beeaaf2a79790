"""The words a person reads on the page, in their language: toast titles, the plain sentence when
the prompt helper has no model, the video's details as a table, the header's short line.

Gradio's toasts and its error pop-up carry an English title ("Warning", "Error", "Info") on every
page unless given one: every toast of ours goes through `info`, `warn` or `error` here.
"""

from __future__ import annotations

import html
import logging
import re
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import gradio as gr

from bilingual import Text, pick
from jobs.job import LANE_NAMES, VIP

if TYPE_CHECKING:
    from cogvideo import SpeedPreset, Variant

log = logging.getLogger("cogvideo.app")

TITLES = {
    "info": Text("Info", "提示"),
    "warning": Text("Note", "注意"),
    "error": Text("Something is wrong", "出错了"),
}


def title(kind: str, lang: str) -> str:
    """The toast's title: one line, also for callers that sent no language ("both")."""
    return pick(TITLES[kind], lang)


def _shown(message: Text | str, lang: str) -> str:
    # Toasts render HTML; our messages quote user values, which must show as text.
    return html.escape(message if isinstance(message, str) else pick(message, lang), quote=False)


def info(message: Text | str, lang: str) -> None:
    gr.Info(_shown(message, lang), title=title("info", lang))


def warn(message: Text | str, lang: str) -> None:
    gr.Warning(_shown(message, lang), title=title("warning", lang))


def error(message: Text | str, lang: str) -> gr.Error:
    """An error to raise; the message is escaped here, so pass it unescaped."""
    return gr.Error(_shown(message, lang), title=title("error", lang), print_exception=False)


# ---------------------------------------------------------------- the prompt helper without a model

HELPER_OFF = Text(
    "The prompt helper is not set up on this studio, so it cannot rewrite or translate Chinese. "
    "The video model reads English only: write your description in English (a short sentence is "
    "enough), or leave the box empty and tap the button for an English idea.",
    "提示词助手暂未启用，无法改写或翻译中文。视频模型只读得懂英文：请用英文描述（一句话就够），"
    "或清空输入框再点“帮我想一条”，获取一条英文灵感。",
)

NOT_TRANSLATED = Text(
    "Your description is not in English and this studio has no translator, so it goes to the model "
    "as it is. The model reads English only: it will barely understand it, and the video will likely "
    "not match. Write it in English for a video that does.",
    "你的描述不是英文，而本站暂无翻译助手，会原样交给模型。模型只读得懂英文，几乎看不懂这段文字，"
    "生成的视频多半与描述不符。想要贴合描述，请改用英文。",
)

NOT_TRANSLATED_SHORT = Text(
    "no translator here: the model reads English only and will barely understand this; write in English.",
    "本站暂无翻译助手：模型只读得懂英文，看不懂这段中文，视频多半与描述不符，请改用英文。",
)

PICTURE_FIRST = Text(
    "Upload a picture first: image-to-video starts from your image.",
    "请先上传一张图片：图生视频需要以图片作为第一帧。",
)
CLIP_FIRST = Text(
    "Upload a video first (MP4, MOV or WebM, up to 60 s).",
    "请先上传一段视频（MP4、MOV 或 WebM，最长 60 秒）。",
)


# The operator's words in a prompt helper's reason (for the log and the command line): a command
# in backticks, an environment variable, an exception's name.
OPERATOR_DETAIL = re.compile(r"`[^`]*`|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Za-z]+(?:Error|Exception)\b|python -m")

# What a person reads instead, by what became of their text (the suggestion's `source`).
HELPER_FAILED = {
    "kept": Text("The prompt helper could not run just now, so your text was kept as it is. Try again later.",
                 "提示词助手暂时无法使用，已保留你的原文，请稍后再试。"),
    "offline": Text("The prompt helper could not run just now, so an offline template wrote this one.",
                    "提示词助手暂时无法使用，这一条由离线模板写成。"),
    "llm": Text("The prompt helper here reads text only, so this one was written without seeing your picture.",
                "本站的提示词助手只读得懂文字，这一条是在没有看到你图片的情况下写的。"),
}

TRANSLATION_FAILED = Text(
    "Your description could not be translated into English this time, so it goes to the model as it "
    "is. The model reads English only: the video will likely not match it. Write it in English, or "
    "try again later.",
    "这次没能把你的描述翻译成英文，会原样交给模型。模型只读得懂英文，生成的视频多半与描述不符。"
    "请改用英文，或稍后再试。",
)


def for_people(warning: Text, plain: Text) -> Text:
    """The prompt helper's `warning`, or `plain` when it holds the operator's words (a command, a
    variable, an exception's name): those go to the log, where whoever runs the server reads them."""
    if not OPERATOR_DETAIL.search(f"{warning.en} {warning.zh}"):
        return warning
    log.warning("prompt helper: %s", warning.en)
    return plain


def helper_off(operator_detail: Text | None) -> Text:
    """The plain sentence for a person; the operator's how-to (variables, commands) goes to the log."""
    if operator_detail is not None:
        log.warning("prompt helper cannot translate: %s", operator_detail.en)
    return HELPER_OFF


def missing_media(request) -> Text | None:
    """What to upload, when an image or clip request has none: said before any translation or
    other check, since nothing else matters until it is there."""
    if request.mode in ("i2v", "old_photo") and not request.image:
        return PICTURE_FIRST
    if request.needs_video and not (request.video and str(request.video).strip()):
        return CLIP_FIRST
    return None


# ---------------------------------------------------------------- the video's details

_LABELS: dict[str, Text] = {
    "job_id": Text("Job", "任务编号"),
    "mode": Text("Mode", "模式"),
    "lane": Text("Lane", "通道"),
    "model": Text("Model", "模型"),
    "prompt": Text("Prompt sent to the model", "交给模型的提示词"),
    "user_prompt": Text("Your text", "你的输入"),
    "negative_prompt": Text("Negative prompt", "反向提示词"),
    "style": Text("Style", "风格"),
    "seed": Text("Seed", "种子"),
    "num_inference_steps": Text("Steps", "采样步数"),
    "guidance_scale": Text("Guidance", "引导系数"),
    "num_frames": Text("Frames", "帧数"),
    "fps": Text("Frames per second", "帧率"),
    "width": Text("Width (px)", "宽度（像素）"),
    "height": Text("Height (px)", "高度（像素）"),
    "duration": Text("Length (s)", "时长（秒）"),
    "speed": Text("Speed", "生成速度"),
    "music": Text("Music", "背景音乐"),
    "upscale": Text("Upscaled", "超分"),
    "interpolate": Text("Smooth motion", "流畅运动"),
    "colorized": Text("Colorized", "已上色"),
    "strength": Text("Strength", "转绘强度"),
    "extensions": Text("Parts added", "续写段数"),
    "video": Text("File", "文件"),
    "timings": Text("Time per stage (s)", "各阶段用时（秒）"),
    "total_s": Text("Total time (s)", "总用时（秒）"),
    "loras": Text("LoRA", "LoRA"),
    "prompt_tokens": Text("Prompt length (tokens)", "提示词长度（token）"),
    "upscale_method": Text("Upscaled with", "超分方式"),
    "parts": Text("Frames per part", "每段帧数"),
}
_STAGES = {"prepare": Text("prepare", "准备"), "render": Text("render", "生成"), "post": Text("post", "后期"),
           "image": Text("picture", "图片"), "colorize": Text("colorize", "上色"), "clip": Text("clip", "读取视频"),
           "encode": Text("encode", "编码"), "music": Text("music", "配乐")}
_MODES = {"t2v": Text("Text to video", "文生视频"), "i2v": Text("Image to video", "图生视频"),
          "old_photo": Text("Old photo", "老照片"), "v2v": Text("Restyle", "视频转绘"),
          "extend": Text("Extend", "续写")}


def mode_name(mode: str, lang: str) -> str:
    """A job's kind as its tab names it (文生视频...)."""
    return pick(_MODES.get(mode, Text(mode, mode)), lang)


_HIDDEN = {"notices", "cover", "colorized_image", "timings_en", "timings_zh",
           "render_clock"}  # the wait estimates' notes (jobs/estimate.py), not the video's


def _value(key: str, value: Any, lang: str, speeds: Mapping[str, SpeedPreset]) -> str | None:
    """A value as a person reads it; None: nothing worth a row (empty, unknown, null)."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return pick(Text("yes", "是") if value else Text("no", "否"), lang)
    if key == "mode" and value in _MODES:
        return pick(_MODES[value], lang)
    if key == "lane" and value in LANE_NAMES:
        return pick(LANE_NAMES[value], lang)
    if key == "music" and value == "none":
        return pick(Text("none", "无"), lang)
    if key == "speed" and value in speeds:
        return pick(speeds[value].name, lang)
    if key == "timings" and isinstance(value, dict):
        parts = [f"{pick(_STAGES.get(k, Text(k, k)), lang)} {v:.1f}" for k, v in value.items()
                 if isinstance(v, (int, float))]
        return " · ".join(parts) or None
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        parts = [f"{k} {shown}" for k, v in value.items() if (shown := _value(k, v, lang, speeds)) is not None]
        return " · ".join(parts) or None
    if isinstance(value, (list, tuple)):
        parts = [shown for v in value if (shown := _value(key, v, lang, speeds)) is not None]
        return ", ".join(parts) or None
    return str(value)


def details_table(info: dict | None, lang: str, speeds: Mapping[str, SpeedPreset]) -> str:
    """The video's details (the generation endpoints' JSON, unchanged for API callers) as a
    two-column Markdown table with labels in the page's language; empty fields are left out.
    `speeds`: the studio's presets, to name the one the video was made with."""
    if not info:
        return ""
    rows = []
    for key, raw in info.items():
        if key in _HIDDEN:
            continue
        value = _value(key, raw, lang, speeds)
        if value is None:
            continue
        label = pick(_LABELS[key], lang) if key in _LABELS else key.replace("_", " ")
        cell = html.escape(value, quote=False).replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {label} | {cell} |")
    if not rows:
        return ""
    head = pick(Text("| Item | Value |", "| 项目 | 内容 |"), lang)
    return "\n".join([head, "|:--|:--|", *rows])


# ---------------------------------------------------------------- the header

# A pass's lane in the header, in the words ("VIP 通道 · 至 12-08 14:00"): two characters
# shorter than the lane's full name, so the header with the pass's end still fits a phone's line.
_PASS_NAMES = {VIP: Text("fast lane", "VIP 通道")}


def lane_words(lane: str, until: float | None, lang: str, now: float | None = None) -> str:
    """The user's lane as the header says it, with the end of a pass in this server's local time
    ("fast lane · until 12-08 14:00"); the year only when the pass ends in another year than `now`'s."""
    if until is None:
        return pick(LANE_NAMES.get(lane, Text(lane, lane)), lang)
    name = _PASS_NAMES.get(lane) or LANE_NAMES.get(lane, Text(lane, lane))
    ends = time.localtime(until)
    shown = time.strftime("%m-%d %H:%M" if ends.tm_year == time.localtime(now).tm_year else "%Y-%m-%d %H:%M", ends)
    return pick(Text(f"{name.en} · until {shown}", f"{name.zh} · 至 {shown}"), lang)


TITLE_FAMILY = "CogVideoX"  # the family the page's title names ("CogVideoX Studio")


def model_words(variants: Sequence[Variant], family: str, lang: str) -> str:
    """The served model as the header names it: the name people know ("Wan2.1-1.3B", "CogVideoX-5B";
    its image-to-video partner is the tabs' business), with its family where neither the name nor
    the title says it ("tiny-wan（Wan）"). Short, so the header stays one line on a phone."""
    first = variants[0]
    shown = first.label.split(" · ")[0] if first.label else first.name
    # "Wan2.1-1.3B" says its family, "tiny-wan" does not; the page's title already says CogVideoX.
    if shown.lower().startswith(family.lower()) or family == TITLE_FAMILY:
        return shown
    return pick(Text(f"{shown} ({family})", f"{shown}（{family}）"), lang)


def header_line(model: str, waiting: int, rendering: int, lane: str, system: str, lang: str) -> str:
    """One short line a phone shows whole (model, queue, the user's lane), then the machine's
    details (precision, memory policy, free memory...) folded away under "System"."""
    # The lane never breaks inside ("until 12-08 / 14:00"): on a narrow phone it moves down whole.
    lane = f'<span class="lane">{html.escape(lane, quote=False)}</span>'
    line = pick(Text(
        f"**Model** {html.escape(model)} · {waiting} waiting · {rendering} rendering · {lane}",
        f"**模型** {html.escape(model)} · 排队 {waiting} · 生成中 {rendering} · {lane}",
    ), lang)
    fold = pick(Text("System", "系统信息"), lang)
    return f"{line}\n\n<details class=\"system-fold\"><summary>{fold}</summary>\n\n{system}\n\n</details>"


# ---------------------------------------------------------------- length

def frames_info(variant: Variant) -> Text:
    """What the frames slider's count means to a person: the model's rate, and its own count in
    seconds (a video of N frames lasts (N − 1) / fps: CogVideoX's 49 at 8 fps are 6 s)."""
    seconds = f"{(variant.num_frames - 1) / variant.fps:.1f}".removesuffix(".0")
    return Text(f"{variant.fps} frames a second: {variant.num_frames} frames make a {seconds} s video",
                f"每秒 {variant.fps} 帧：{variant.num_frames} 帧即 {seconds} 秒视频")


# ---------------------------------------------------------------- free videos a day

def free_videos_left(left: int | None, lang: str) -> str:
    """What is left of the user's free videos today, for the line above Generate ("今天还可以生成
    3 个视频"); empty when there is no daily limit for them (the quota is off, or the fast lane)."""
    if left is None:
        return ""
    if left <= 0:
        return pick(Text("No free videos left today: they come back at midnight.",
                         "今天的免费视频已用完，零点后恢复。"), lang)
    return pick(Text(f"{left} free video left today" if left == 1 else f"{left} free videos left today",
                     f"今天还可以生成 {left} 个视频"), lang)


# ---------------------------------------------------------------- old photos

def colorize_available(studio) -> bool:
    """Whether the colorizer's weights are on this machine (a file check: nothing is loaded). When
    they are not, the page says so plainly and the operator's how-to goes to the log."""
    try:
        available = bool(studio.colorizer.available())
    except Exception:  # a broken setting is the operator's to read in the log; the box says "not installed"
        log.exception("cannot tell whether the colorizer is installed")
        return False
    if not available:
        log.info("Old photos are animated without colorizing: run `hf download piddnad/DDColor-models "
                 "ddcolor_modelscope.pth` and restart the studio to add it (docs/old_photo.md).")
    return available


# ---------------------------------------------------------------- Gradio's own English on the page

# Gradio 6.31 groups toasts by kind under a header it writes itself from the kind ("Warning",
# "Error", "Info": the `title=` we pass is not shown), and its progress tracker writes "processing |"
# and "queue: 1/2 |". A page that is not English gets them in Chinese, rewritten as they appear.
_PAGE_WORDS = {"Warning": "注意", "Error": "出错了", "Info": "提示", "Success": "完成"}


def page_script(forced: str | None) -> str:
    """JavaScript for the page's load event: Gradio's English status words in Chinese on a page
    that is not English (the browser's language, or --lang)."""
    import json

    english = "true" if forced == "en" else "false" if forced == "zh" else \
        "(document.documentElement.lang || navigator.language || '').toLowerCase().startsWith('en')"
    return """() => {
  if (%s) return;
  const titles = %s;
  const fix = (node) => {
    const text = node.data;
    const bare = text.trim();
    const parent = node.parentElement;
    if (parent && parent.classList.contains("toast-title") && titles[bare]) {
      node.data = text.replace(bare, titles[bare]);
    } else if (bare === "processing |") {
      node.data = text.replace("processing", "处理中");
    } else if (/^queue: /.test(bare)) {
      node.data = text.replace("queue: ", "排队 ");
    }
  };
  const walk = (root) => {
    if (root.nodeType === 3) { fix(root); return; }
    const it = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = it.nextNode(); n; n = it.nextNode()) fix(n);
  };
  walk(document.body);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "characterData") fix(r.target);
      else r.addedNodes.forEach(walk);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}""" % (english, json.dumps(_PAGE_WORDS, ensure_ascii=False))
