"""Gradio's file route never serves the output folder or the data folder themselves.

`launch(allowed_paths=[output folder, data folder's inputs])` is what lets Gradio take a result
from there, but Gradio's file route (`GET /gradio_api/file=<path>`, and its old spelling
`/gradio_api/file/<path>`) then serves every file under those folders to anyone signed in, by path.
Our names carry a time to the second and 40 random bits, and a job's file names are shown to its
owner: not a secret that should guard another user's video.

The page never needs those paths: when a handler returns a file, Gradio copies it into its own
cache folder under a directory named by a SHA-256 of a per-install secret and the file's bytes,
and the page receives that copy's URL (measured on Gradio 6.31: `/tmp/gradio/<64 hex>/<name>`).
So `PrivateFolders` refuses the file route for any path inside the protected folders, for everyone
(the owner too); what a user can fetch is what an owner-checked handler handed to their page.
Paths are resolved as Gradio resolves them (relative to the working directory, `..` and links
followed) and compared without regard to case, so another spelling of the same file is refused
as well. Web addresses after `file=` are checked the same way: a real one never lies in our
folders, and `http:/../outputs/x.mp4` is a path to Gradio.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from starlette.types import Receive, Scope, Send

from .asgi import answer, language, say

log = logging.getLogger("cogvideo.files")

# Gradio 6.31 serves files at /gradio_api/file=<path> and /gradio_api/file/<path> (GET and HEAD).
FILE_ROUTE = re.compile(r"/gradio_api/file[=/](.*)", re.DOTALL)


def resolved(path: str | Path) -> Path:
    """`path` as Gradio's file route resolves it: relative to the working directory, links and
    `..` followed (a missing file still resolves)."""
    return Path(os.path.abspath(os.path.expanduser(str(path)))).resolve()


def _parts(path: Path) -> tuple[str, ...]:
    return tuple(part.casefold() for part in path.parts)


def inside(path: Path, folder: Path) -> bool:
    """True when `path` is `folder` or below it, case ignored (macOS and Windows disks ignore it)."""
    parts, top = _parts(path), _parts(folder)
    return parts[:len(top)] == top


class PrivateFolders:
    """ASGI middleware: a file-route request for a path inside one of `folders` is answered 404.
    Gradio's cache folder stays reachable even when an operator put it inside a protected folder
    (that is where the page's copies live)."""

    def __init__(self, app, folders: list[str | Path], cache_dir: str | Path | None = None,
                 forced_lang: str | None = None):
        self.app = app
        self.folders = [resolved(folder) for folder in folders]
        self.cache = resolved(cache_dir) if cache_dir else None
        self.forced_lang = forced_lang

    def refused(self, path: str) -> bool:
        """True when the file route must not serve `path` (as written after `file=`)."""
        try:
            target = resolved(path)
        except (OSError, ValueError):  # a NUL byte, a name too long: Gradio would refuse it too
            return True
        for folder in self.folders:
            if not inside(target, folder):
                continue
            cache_within = self.cache is not None and inside(self.cache, folder) and self.cache != folder
            if not (cache_within and inside(target, self.cache)):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match = FILE_ROUTE.search(scope.get("path", ""))
            if match and self.refused(match.group(1)):
                log.info("file route refused for a path in a private folder")
                lang = language(scope, self.forced_lang)
                await answer(send, 404, say("No such file. Open your videos from My works.",
                                            "没有这个文件。请在“我的作品”中打开你的视频。", lang))
                return
        await self.app(scope, receive, send)

