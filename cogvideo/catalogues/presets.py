"""What the preset files (styles, templates) share: reading a JSON list of entries, refusing a
repeated id, and naming a bad entry by file, index and id in both languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, TypeVar

from cogvideo.errors import StudioError

T = TypeVar("T")


def read_entries(path: Path, error: type[StudioError], kind_en: str, kind_zh: str) -> list:
    """The file's JSON list of entries, or `error` saying why not (encoding, syntax, emptiness)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text ({exc.reason}). Save the file as UTF-8 JSON.",
            f"{path}：不是 UTF-8 文本。请以 UTF-8 编码保存为 JSON。",
        ) from exc
    except json.JSONDecodeError as exc:
        raise error(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). Fix the syntax.",
            f"{path}：不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）。请修正语法。",
        ) from exc
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc}).", f"{path}：无法读取（{exc}）。") from exc
    if not isinstance(data, list) or not data:
        raise error(
            f"{path}: must be a non-empty JSON list of {kind_en} entries.",
            f"{path}：必须是非空的 JSON 列表，每一项是一个{kind_zh}。",
        )
    return data


def by_id(path: Path, data: list, parse: Callable[[Path, int, object], T], error: type[StudioError],
          kind_en: str, kind_zh: str) -> dict[str, T]:
    """Each entry parsed, keyed by its id in the file's order; a repeated id is refused."""
    entries: dict[str, T] = {}
    for index, raw in enumerate(data):
        entry = parse(path, index, raw)
        if entry.id in entries:
            raise entry_error(
                error, path, index, entry.id,
                f"duplicate id (an earlier entry already uses it); give each {kind_en} its own id",
                f"id 重复（前面的条目已使用）；每个{kind_zh}的 id 必须唯一",
            )
        entries[entry.id] = entry
    return entries


def entry_error(error: type[StudioError], path: Path, index: int, entry_id: object, en: str, zh: str) -> StudioError:
    named = isinstance(entry_id, str)
    label = f"entry {index} (id {entry_id!r})" if named else f"entry {index} (no id)"
    label_zh = f"第 {index} 项（id {entry_id!r}）" if named else f"第 {index} 项（无 id）"
    return error(f"{path}, {label}: {en}.", f"{path}，{label_zh}：{zh}。")
