"""Style presets: data in `presets/styles.json`, applied by one pure function.

A preset is a prompt template for CogVideoX's T5 encoder (plain English, `{prompt}` marks where the
user's words go), a negative prompt, and optionally a named frame filter (`post`) for looks the
model cannot be trusted to deliver, such as true grayscale. The file is validated when it is
loaded: a bad file stops start-up with the file and the entry named, never silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from bilingual import Text

from cogvideo.catalogues.presets import by_id, entry_error, read_entries
from cogvideo.errors import InvalidRequest, CatalogueError

DEFAULT_STYLES_PATH = Path(__file__).resolve().parents[2] / "presets" / "styles.json"
PLACEHOLDER = "{prompt}"
_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_REQUIRED_KEYS = ("id", "name_zh", "name_en", "description_zh", "description_en", "prompt", "negative_prompt")
_OPTIONAL_KEYS = ("post", "music")
# Punctuation that may end the user's prompt; it is dropped when the template puts its own right
# after `{prompt}`, so "a cat." + "{prompt}. Warm light" reads "a cat. Warm light", not "a cat..".
_END_PUNCTUATION = ".!?,;。！？，；"


@dataclass(frozen=True)
class Style:
    id: str
    name: Text
    description: Text
    prompt: str
    negative_prompt: str
    post: str | None = None
    music: str | None = None  # the track suggested with this style (API `with_audio`), a track id


# ---------------------------------------------------------------- frame filters

def _grayscale(frame: np.ndarray) -> np.ndarray:
    # Rec.601 luma in integer arithmetic (weights sum to 256), written to all three channels so
    # R == G == B exactly, whatever colours the model produced.
    rgb = frame.astype(np.uint16)
    luma = ((rgb[..., 0] * 77 + rgb[..., 1] * 150 + rgb[..., 2] * 29 + 128) >> 8).astype(np.uint8)
    return np.repeat(luma[..., None], 3, axis=-1)


_SEPIA = np.array(
    [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32
).T


def _sepia(frame: np.ndarray) -> np.ndarray:
    # The classic sepia matrix; float32 per frame keeps memory to ~4× one frame.
    toned = frame.astype(np.float32) @ _SEPIA
    return np.clip(toned + 0.5, 0, 255).astype(np.uint8)


# Named filters a preset may ask for; each maps one H×W×3 uint8 frame to another.
POST_FILTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "grayscale": _grayscale,
    "sepia": _sepia,
}


# ---------------------------------------------------------------- loading

def load_styles(path: Path = DEFAULT_STYLES_PATH) -> dict[str, Style]:
    """Load and validate a preset file; the dict keeps the file's order.

    Raises `CatalogueError` naming the file and, for a bad entry, its index and id.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise CatalogueError(
            f"Style preset file not found: {path}. Restore presets/styles.json or pass an existing file.",
            f"找不到风格预设文件：{path}。请恢复 presets/styles.json，或指定一个存在的文件。",
        ) from exc
    # Cached per file version: editing the file and reloading picks the change up.
    return dict(_load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=8)
def _load_cached(path_str: str, mtime_ns: int, size: int) -> dict[str, Style]:
    path = Path(path_str)
    data = read_entries(path, CatalogueError, "style", "风格")
    return by_id(path, data, _parse_entry, CatalogueError, "style", "风格")


def _entry_error(path: Path, index: int, entry_id: object, en: str, zh: str) -> CatalogueError:
    return entry_error(CatalogueError, path, index, entry_id, en, zh)


def _parse_entry(path: Path, index: int, entry: object) -> Style:
    if not isinstance(entry, dict):
        raise _entry_error(path, index, None, "must be a JSON object", "必须是 JSON 对象")
    style_id = entry.get("id")
    unknown = sorted(set(entry) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        allowed = ", ".join(_REQUIRED_KEYS + _OPTIONAL_KEYS)
        raise _entry_error(
            path, index, style_id,
            f"unknown key(s) {', '.join(unknown)}; allowed keys: {allowed}",
            f"未知的键 {', '.join(unknown)}；允许的键：{allowed}",
        )
    missing = [key for key in _REQUIRED_KEYS if key not in entry]
    if missing:
        raise _entry_error(
            path, index, style_id, f"missing key(s) {', '.join(missing)}", f"缺少键 {', '.join(missing)}"
        )
    for key in _REQUIRED_KEYS + _OPTIONAL_KEYS:
        value = entry.get(key)
        if key in _OPTIONAL_KEYS and value is None:
            continue
        if not isinstance(value, str):
            raise _entry_error(
                path, index, style_id, f"{key!r} must be a string", f"{key!r} 必须是字符串"
            )
        if key not in ("prompt", "negative_prompt") and not value.strip():
            raise _entry_error(path, index, style_id, f"{key!r} is empty", f"{key!r} 为空")
    if not _ID_PATTERN.match(style_id):
        raise _entry_error(
            path, index, style_id,
            "id must be lowercase letters, digits and single hyphens (e.g. 'oil-painting')",
            "id 只能包含小写字母、数字和单个连字符（例如 'oil-painting'）",
        )
    template = entry["prompt"]
    if template.count(PLACEHOLDER) != 1:
        raise _entry_error(
            path, index, style_id,
            f"'prompt' must contain {PLACEHOLDER} exactly once (found {template.count(PLACEHOLDER)})",
            f"'prompt' 必须恰好包含一次 {PLACEHOLDER}（实际 {template.count(PLACEHOLDER)} 次）",
        )
    for key in ("prompt", "negative_prompt"):
        rest = entry[key].replace(PLACEHOLDER, "") if key == "prompt" else entry[key]
        if "{" in rest or "}" in rest:
            raise _entry_error(
                path, index, style_id,
                f"{key!r} has braces other than {PLACEHOLDER}; remove them",
                f"{key!r} 含有 {PLACEHOLDER} 以外的花括号；请删除",
            )
    post = entry.get("post")
    if post is not None and post not in POST_FILTERS:
        raise _entry_error(
            path, index, style_id,
            f"unknown post filter {post!r}; use one of {', '.join(POST_FILTERS)} or leave it out",
            f"未知的后期滤镜 {post!r}；请使用 {', '.join(POST_FILTERS)} 之一，或省略该键",
        )
    return Style(
        id=style_id, name=Text(entry["name_en"], entry["name_zh"]),
        description=Text(entry["description_en"], entry["description_zh"]),
        prompt=entry["prompt"], negative_prompt=entry["negative_prompt"], post=post, music=entry.get("music"),
    )


# ---------------------------------------------------------------- lookup and application

def get_style(style_id: str | None, styles: dict[str, Style] | None = None) -> Style:
    """Find a style by id (or by its English/Chinese name); `None` or "" means "none"."""
    styles = load_styles() if styles is None else styles
    if style_id is None or isinstance(style_id, str):  # else a number or a list from an API caller: unknown
        key = (style_id or "none").strip()
        if key in styles:
            return styles[key]
        folded = key.lower()
        for style in styles.values():
            if folded in (style.id, style.name.en.lower()) or key == style.name.zh:
                return style
    valid = ", ".join(styles)
    raise InvalidRequest(
        f"Unknown style {style_id!r}. Choose one of: {valid}.",
        f"未知的风格 {style_id!r}。可选风格：{valid}。",
    )


def apply_style(style: Style, prompt: str, negative_prompt: str = "") -> tuple[str, str]:
    """Return (styled prompt, joined negative prompt). Pure: no I/O, no state.

    The `none` style and an empty prompt return the prompt unchanged (there is nothing to style).
    The negative prompts are joined as comma-separated terms, the user's first, without duplicates.
    """
    negative = _join_terms(negative_prompt, style.negative_prompt) if style.negative_prompt else negative_prompt
    body = prompt.strip()
    if style.prompt == PLACEHOLDER or not body:
        return prompt, negative
    head, tail = style.prompt.split(PLACEHOLDER)
    if tail[:1] and tail[0] in _END_PUNCTUATION:
        body = body.rstrip(_END_PUNCTUATION + " ") or body
    body = _mid_sentence(head, body)
    # str.replace-style splicing, never str.format: the user's text may contain braces.
    return head + body + tail, negative


# Words that open a sentence and read lower-case inside one ("ink wash painting of the same scene").
_OPENERS = {"a", "an", "the", "this", "that", "these", "those", "some", "two", "three", "my", "our",
            "his", "her", "their", "its", "one", "several", "same"}


def _mid_sentence(head: str, body: str) -> str:
    """The user's text as the middle of the style's sentence: a capital opener ("The", "A") goes
    lower-case; names and acronyms ("Paris", "NASA") stay."""
    lead = head.rstrip()
    if not lead or lead[-1] in ".!?:;\n":
        return body
    first = body.split(" ", 1)[0]
    if first[:1].isupper() and first.lower() in _OPENERS:
        return first.lower() + body[len(first):]
    return body


def _join_terms(*groups: str) -> str:
    terms: list[str] = []
    seen: set[str] = set()
    for group in groups:
        for term in re.split(r"[,，]", group or ""):
            term = " ".join(term.split())
            if term and term.lower() not in seen:
                seen.add(term.lower())
                terms.append(term)
    return ", ".join(terms)


def apply_post(style: Style, frames: np.ndarray) -> np.ndarray:
    """Apply the style's frame filter to uint8 frames (T×H×W×3); without one, return them as is."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 T×H×W×3, got {frames.dtype} {frames.shape}")
    if style.post is None:
        return frames
    filter_frame = POST_FILTERS[style.post]
    # Frame by frame so a long or upscaled clip never needs a float copy of the whole video.
    out = np.empty_like(frames)
    for index, frame in enumerate(frames):
        out[index] = filter_frame(frame)
    return out
