"""Use-case templates for image to video (表情包梗图, 广告制作, 剧情创作, ...): data in
`presets/templates.json`, filled by one pure function.

A template is a starting point for one kind of video: an English prompt scaffold that every model
reads (CogVideoX's T5 reads English only; Wan's umT5 reads it too), with `{subject}` where the user's
subject goes; the settings that suit it (a style, a music track, a length in seconds, a guidance
scale, the last two null for the model's own);
and an `intent`: a few English sentences telling the prompt agent what the video is for and how it
should move. The file is validated when it is loaded, against the styles and music tracks it
names: a bad file stops start-up with the file, the entry and the problem named, never silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bilingual import Text

from cogvideo.catalogues.presets import by_id, entry_error, read_entries
from cogvideo.errors import CatalogueError
from cogvideo.request import MAX_GUIDANCE

DEFAULT_TEMPLATES_PATH = Path(__file__).resolve().parents[2] / "presets" / "templates.json"
PLACEHOLDER = "{subject}"
# What `{subject}` becomes when the user gave none: the picture is the first frame, so "the
# subject of the picture" is always true, and reads naturally in every scaffold.
DEFAULT_SUBJECT = "the subject of the picture"
NONE = "none"  # as `style` or `music`: no style, no music
_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TEXT_KEYS = ("id", "name_zh", "name_en", "description_zh", "description_en", "intent", "prompt", "style", "music")
_KEYS = _TEXT_KEYS + ("seconds", "guidance_scale")
MAX_SECONDS = 20.0  # longer than any model renders in one go (CogVideoX1.5: 10 s)
# CJK, kana, hangul and full-width forms: text CogVideoX's English-only T5 cannot read.
_NOT_ENGLISH = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
# Punctuation that may end the user's subject; `{subject}` sits inside a sentence, so it goes.
_END_PUNCTUATION = ".!?,;:。！？，；：、"


@dataclass(frozen=True)
class Template:
    id: str
    name: Text
    description: Text  # one line: a tooltip
    intent: str  # English, for the prompt agent: what the video is for, how it moves
    prompt: str  # English scaffold with PLACEHOLDER exactly once
    style: str  # a style id, or "none"
    music: str  # a track id, or "none"
    # None: the model's default length. Seconds, not frames: models run at 8 to 24 fps, so one
    # frame count would make a 4 s meme on CogVideoX and a 1.4 s one on Wan2.2.
    seconds: float | None
    # 0..30, or None: the model's own (CogVideoX 6, Wan2.2 5). A number is for a template that
    # needs the prompt followed harder than usual (a meme's one exaggerated reaction).
    guidance_scale: float | None

    def frames_for(self, variant) -> int:
        """The frame count for this template on `variant` (an engine Variant: its fps, default
        count and the counts it accepts): the template's length at the model's rate, rounded to
        the nearest count the model renders."""
        if self.seconds is None:
            return variant.num_frames
        return variant.nearest_frames(round(self.seconds * variant.fps) + 1)


# ---------------------------------------------------------------- loading

def load_templates(
    path: Path = DEFAULT_TEMPLATES_PATH,
    styles: Collection[str] | None = None,
    tracks: Collection[str] | None = None,
) -> dict[str, Template]:
    """Load and validate a template file; the dict keeps the file's order.

    styles, tracks: the ids a template may name (the dicts from `load_styles()` and `load_tracks()`
    will do; None loads the shipped files). Raises `CatalogueError` naming the file and, for a bad
    entry, its index and id.
    """
    # 1. Read and check each entry on its own (cached per file version).
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise CatalogueError(
            f"Template file not found: {path}. Restore presets/templates.json or pass an existing file.",
            f"找不到模板文件：{path}。请恢复 presets/templates.json，或指定一个存在的文件。",
        ) from exc
    templates = _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    # 2. Check what each entry names against the styles and tracks of this run.
    if styles is None:
        from cogvideo.catalogues.styles import load_styles

        styles = load_styles()
    if tracks is None:
        from cogvideo.media.music import load_tracks  # imported here: it brings pydub and moviepy

        tracks = load_tracks()
    for index, template in enumerate(templates.values()):
        if template.style != NONE and template.style not in styles:
            raise _entry_error(
                path, index, template.id,
                f"unknown style {template.style!r}; use an id from presets/styles.json "
                f"({', '.join(styles)}) or \"none\"",
                f"未知的风格 {template.style!r}；请使用 presets/styles.json 中的 id（{', '.join(styles)}）或 \"none\"",
            )
        if template.music != NONE and template.music not in tracks:
            raise _entry_error(
                path, index, template.id,
                f"unknown music track {template.music!r}; use an id from assets/music/tracks.json "
                f"({', '.join(tracks)}) or \"none\"",
                f"未知的配乐 {template.music!r}；请使用 assets/music/tracks.json 中的 id（{', '.join(tracks)}）或 \"none\"",
            )
    return dict(templates)


@lru_cache(maxsize=8)
def _load_cached(path_str: str, mtime_ns: int, size: int) -> dict[str, Template]:
    path = Path(path_str)
    data = read_entries(path, CatalogueError, "template", "模板")
    return by_id(path, data, _parse_entry, CatalogueError, "template", "模板")


def _entry_error(path: Path, index: int, entry_id: object, en: str, zh: str) -> CatalogueError:
    return entry_error(CatalogueError, path, index, entry_id, en, zh)


def _parse_entry(path: Path, index: int, entry: object) -> Template:
    if not isinstance(entry, dict):
        raise _entry_error(path, index, None, "must be a JSON object", "必须是 JSON 对象")
    template_id = entry.get("id")

    def fail(en: str, zh: str) -> CatalogueError:
        return _entry_error(path, index, template_id, en, zh)

    # 1. Keys: exactly _KEYS (seconds is written out as null for the model's default).
    unknown = sorted(set(entry) - set(_KEYS))
    if "num_frames" in unknown:
        # Files written before templates gave seconds: say what replaces the key.
        raise fail(
            "'num_frames' is no longer used: give the length as 'seconds' (e.g. 3, or null for the "
            "model's default), so it lasts as long on every model",
            "不再使用 'num_frames'：请改用 'seconds' 写时长（例如 3，或 null 表示模型默认），这样在每个模型上时长一致",
        )
    if unknown:
        raise fail(
            f"unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(_KEYS)}",
            f"未知的键 {', '.join(unknown)}；允许的键：{', '.join(_KEYS)}",
        )
    missing = [key for key in _KEYS if key not in entry]
    if missing:
        raise fail(f"missing key(s) {', '.join(missing)}", f"缺少键 {', '.join(missing)}")

    # 2. Text: non-empty strings, a kebab-case id.
    for key in _TEXT_KEYS:
        if not isinstance(entry[key], str):
            raise fail(f"{key!r} must be a string, got {entry[key]!r}", f"{key!r} 必须是字符串，当前为 {entry[key]!r}")
        if not entry[key].strip():
            raise fail(f"{key!r} is empty", f"{key!r} 为空")
    if not _ID_PATTERN.match(template_id):
        raise fail(
            "id must be lowercase letters, digits and single hyphens (e.g. 'product-showcase')",
            "id 只能包含小写字母、数字和单个连字符（例如 'product-showcase'）",
        )

    # 3. The scaffold: {subject} once, no other braces, English only.
    prompt = entry["prompt"]
    count = prompt.count(PLACEHOLDER)
    if count != 1:
        raise fail(
            f"'prompt' must contain {PLACEHOLDER} exactly once (found {count})",
            f"'prompt' 必须恰好包含一次 {PLACEHOLDER}（实际 {count} 次）",
        )
    rest = prompt.replace(PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        raise fail(
            f"'prompt' has braces other than {PLACEHOLDER} (a misspelt placeholder?); remove them",
            f"'prompt' 含有 {PLACEHOLDER} 以外的花括号（占位符拼错了？）；请删除",
        )
    foreign = _NOT_ENGLISH.search(prompt)
    if foreign:
        raise fail(
            f"'prompt' must be English (the scaffolds serve every model, and CogVideoX reads English only), "
            f"but it contains {foreign.group()!r}",
            f"'prompt' 必须是英文（模板供所有模型使用，而 CogVideoX 只能读懂英文），但其中含有 {foreign.group()!r}",
        )

    # 4. Numbers: a length in seconds or null, a guidance scale in range or null.
    seconds = entry["seconds"]
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS
    ):
        raise fail(
            f"'seconds' must be null (the model's default length) or a number of seconds above 0 and "
            f"at most {MAX_SECONDS:g}, got {seconds!r}",
            f"'seconds' 必须是 null（模型默认时长）或大于 0、不超过 {MAX_SECONDS:g} 的秒数，当前为 {seconds!r}",
        )
    guidance = entry["guidance_scale"]
    if guidance is not None and (
        isinstance(guidance, bool) or not isinstance(guidance, (int, float))
        or not math.isfinite(guidance) or not 0 <= guidance <= MAX_GUIDANCE
    ):
        raise fail(
            f"'guidance_scale' must be null (the model's own) or a number from 0 to {MAX_GUIDANCE:g}, got {guidance!r}",
            f"'guidance_scale' 必须是 null（模型默认）或 0 到 {MAX_GUIDANCE:g} 之间的数，当前为 {guidance!r}",
        )
    return Template(
        id=template_id, name=Text(entry["name_en"], entry["name_zh"]),
        description=Text(entry["description_en"], entry["description_zh"]),
        intent=entry["intent"], prompt=prompt, style=entry["style"], music=entry["music"],
        seconds=None if seconds is None else float(seconds), guidance_scale=None if guidance is None else float(guidance),
    )


# ---------------------------------------------------------------- filling

def fill_template(template: Template, subject: str | None) -> str:
    """The template's prompt with `{subject}` replaced. Pure: no I/O, no state.

    The subject's whitespace is collapsed and its trailing punctuation dropped (it sits inside a
    sentence); an empty subject becomes DEFAULT_SUBJECT. The user's text is spliced in as it is,
    never through str.format, so braces in it stay literal.
    """
    body = " ".join((subject or "").split()).rstrip(_END_PUNCTUATION + " ")
    head, tail = template.prompt.split(PLACEHOLDER)
    return head + (body or DEFAULT_SUBJECT) + tail


def subject_of(text: str | None, templates: Iterable[Template]) -> str:
    """What the user typed, from a prompt box that may already hold a filled template: trying
    templates one after another keeps the same subject instead of nesting scaffolds."""
    text = (text or "").strip()
    for template in templates:
        head, tail = template.prompt.split(PLACEHOLDER)
        head, tail = head.strip(), tail.strip()
        if len(text) >= len(head) + len(tail) and text.startswith(head) and text.endswith(tail):
            subject = text[len(head):len(text) - len(tail)].strip()
            return "" if subject == DEFAULT_SUBJECT else subject
    return text
