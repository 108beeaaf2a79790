"""Uploads, bounded per request, per client address and on disk.

Gradio caps each uploaded file (`launch(max_file_size=...)`) and nothing else: one request may
carry 1000 files, a client may send as many requests as it likes, and the files stay in Gradio's
cache folder until the cache is cleaned (`Blocks.delete_cache`, which app.py sets from
--upload-cache-age). `UploadGuard` sits in front of `POST /gradio_api/upload` and refuses, before
Gradio stores a byte:

* a request without Content-Length (411): its size must be known up front;
* a request over `max_request` bytes (413);
* an address that has sent `max_per_hour` bytes in the last hour (429 with Retry-After);
* an upload that would take the cache folder over `max_cache` bytes (507, until cleaning frees room);

and, once Gradio has stored a request's files, a request with more than `max_files` of them: the
files are deleted again and the answer is 413 (Gradio's parser has no file-count setting; the
request was already bounded in bytes). Gradio's own answer for one file over its size (413, in
English) gets our words too. Answers are plain text, like Gradio's upload errors, because the page
shows the body as "HTTP 413: <text>".

Jobs never depend on the cache: `JobService.submit` copies a job's picture and music into the data
folder, so cleaning the cache early cannot break a queued job.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import deque
from pathlib import Path

import anyio
from starlette.types import Message, Receive, Scope, Send

from .asgi import answer, client_address, drain, header, language, say

log = logging.getLogger("cogvideo.uploads")

UPLOAD_PATH = "/gradio_api/upload"
HOUR_S = 3600.0
MEASURE_EVERY_S = 5.0  # the cache folder is walked at most this often (uploads admitted meanwhile are added)


def size_text(size: float) -> str:
    """Bytes for people: 3 MB, 1.5 GB."""
    if size >= 2**30:
        return f"{round(size / 2**30, 1):g} GB"
    return f"{round(size / 2**20, 1):g} MB"


class HourlyBudget:
    """Bytes per key (a client address) over the last hour, reserved before the bytes arrive."""

    def __init__(self, limit: int):
        self.limit = limit
        self._sent: dict[str, deque[list]] = {}  # key -> [time, bytes] entries, oldest first

    def reserve(self, key: str, size: int, now: float) -> tuple[float, list | None]:
        """(0, entry) when `size` more bytes fit this hour; else (seconds until they would, None)."""
        if len(self._sent) > 10_000:  # many addresses: drop the ones with nothing left in the hour
            self._sent = {k: d for k, d in self._sent.items() if d and now - d[-1][0] < HOUR_S}
        sent = self._sent.setdefault(key, deque())
        while sent and now - sent[0][0] >= HOUR_S:
            sent.popleft()
        over = sum(entry[1] for entry in sent) + size - self.limit
        if over <= 0:
            entry = [now, size]
            sent.append(entry)
            return 0.0, entry
        if size > self.limit:
            return HOUR_S, None
        for stamp, bytes_ in sent:  # the oldest bytes leave the window first
            over -= bytes_
            if over <= 0:
                return stamp + HOUR_S - now, None
        return HOUR_S, None

    def used(self, key: str) -> int:
        return sum(entry[1] for entry in self._sent.get(key, ()))

    def refund(self, key: str, entry: list | None) -> None:
        """Give back a reservation whose bytes were not kept (refused or failed uploads)."""
        sent = self._sent.get(key)
        if sent is not None and entry is not None:
            try:
                sent.remove(entry)
            except ValueError:
                pass


class CacheSize:
    """How many bytes the upload cache folder holds: walked now and then, plus what was admitted since."""

    def __init__(self, folder: Path, limit: int):
        self.folder = Path(folder)
        self.limit = limit
        self._measured = 0
        self._measured_at = -math.inf
        self._admitted = 0

    async def fits(self, size: int) -> bool:
        if time.monotonic() - self._measured_at > MEASURE_EVERY_S:
            self._measured = await anyio.to_thread.run_sync(folder_bytes, self.folder)
            self._measured_at, self._admitted = time.monotonic(), 0
        return self._measured + self._admitted + size <= self.limit

    def admit(self, size: int) -> None:
        self._admitted += size


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # removed while we walked (the cache is being cleaned)
                pass
    return total


class UploadGuard:
    """ASGI middleware in front of Gradio's upload route; each limit 0 = off."""

    def __init__(self, app, cache_dir: str | Path, max_request: int = 250 * 2**20, max_per_hour: int = 2**30,
                 max_files: int = 10, max_cache: int = 5 * 2**30, max_file: int = 200 * 2**20,
                 forced_lang: str | None = None):
        self.app = app
        self.cache_dir = Path(cache_dir).resolve()
        self.max_request = max_request
        self.max_files = max_files
        self.max_file = max_file
        self.budget = HourlyBudget(max_per_hour) if max_per_hour > 0 else None
        self.cache = CacheSize(self.cache_dir, max_cache) if max_cache > 0 else None
        self.forced_lang = forced_lang

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or scope.get("path", "").rstrip("/") != UPLOAD_PATH):
            await self.app(scope, receive, send)
            return
        lang = language(scope, self.forced_lang)
        address = client_address(scope)
        refusal, entry = await self._admit(scope, address, lang)
        if refusal is not None:
            status, text, headers = refusal
            await drain(receive)
            await answer(send, status, text, headers, as_json=False)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:  # Gradio's answer, kept until we have counted its files
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, hold)
        except BaseException:
            self._refund(address, entry)
            raise
        body = b"".join(chunks)
        status = start["status"] if start else 500
        if status == 200:
            stored = _paths(body)
            if self.max_files and len(stored) > self.max_files:
                self._remove(stored)
                self._refund(address, entry)
                log.warning("upload from %s refused: %d files (limit %d)", address, len(stored), self.max_files)
                await answer(send, 413, say(
                    f"One upload may carry at most {self.max_files} files; this one had {len(stored)}. Send them "
                    "in smaller groups.",
                    f"每次上传最多 {self.max_files} 个文件，本次有 {len(stored)} 个。请分批上传。", lang), as_json=False)
                return
        else:
            self._refund(address, entry)
            if status == 413:  # Gradio's "File size exceeded maximum allowed size of N bytes."
                await answer(send, 413, say(
                    f"A file is larger than {size_text(self.max_file)}, the limit for one file. Send a smaller file.",
                    f"有文件超过单个文件 {size_text(self.max_file)} 的上限。请换一个更小的文件。", lang), as_json=False)
                return
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def _admit(self, scope: Scope, address: str, lang: str) -> tuple[tuple[int, str, dict] | None, list | None]:
        """(None, the hourly reservation) when the upload may go ahead; else (the refusal, None)."""
        length = header(scope, "content-length").strip()
        if not length.isdigit():
            return (411, say(
                "An upload must state its size (a Content-Length header). Send the file again without chunked "
                "transfer encoding.",
                "上传必须声明大小（Content-Length 请求头）。请不使用分块传输，重新发送文件。", lang), {}), None
        size = int(length)
        if self.max_request and size > self.max_request:
            return (413, say(
                f"This upload is {size_text(size)}, over the limit of {size_text(self.max_request)} for one upload. "
                "Send fewer or smaller files.",
                f"本次上传 {size_text(size)}，超过单次上传 {size_text(self.max_request)} 的上限。请减少文件数量或换更小的文件。",
                lang), {}), None
        entry = None
        if self.budget is not None:
            wait, entry = self.budget.reserve(address, size, time.monotonic())
            if entry is None:
                used, minutes = size_text(self.budget.used(address)), max(1, math.ceil(wait / 60))
                log.warning("upload from %s refused: %s sent in the last hour", address, used)
                return (429, say(
                    f"This address has uploaded {used} in the last hour; the limit is {size_text(self.budget.limit)} "
                    f"an hour. Try again in {minutes} min.",
                    f"该地址在过去一小时内已上传 {used}，每小时上限为 {size_text(self.budget.limit)}。"
                    f"请 {minutes} 分钟后再试。", lang), {"Retry-After": str(math.ceil(wait))}), None
        if self.cache is not None:
            if not await self.cache.fits(size):
                self._refund(address, entry)
                log.warning("upload from %s refused: the upload cache %s is full", address, self.cache_dir)
                return (507, say(
                    "The server's space for uploads is full right now. Please try again in a few minutes.",
                    "服务器的上传空间暂时已满，请过几分钟再试。", lang), {"Retry-After": "300"}), None
            self.cache.admit(size)
        return None, entry

    def _refund(self, address: str, entry: list | None) -> None:
        if self.budget is not None:
            self.budget.refund(address, entry)

    def _remove(self, stored: list[str]) -> None:
        """Delete files Gradio just stored (only inside its cache folder), and their emptied folders."""
        for name in stored:
            path = Path(name).resolve()
            if self.cache_dir not in path.parents:
                continue
            path.unlink(missing_ok=True)
            try:
                path.parent.rmdir()
            except OSError:  # not empty: an identical file from another upload lives there
                pass


def _paths(body: bytes) -> list[str]:
    """The stored files Gradio's upload route answers with (a JSON list of paths)."""
    try:
        value = json.loads(body)
    except ValueError:
        return []
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []
