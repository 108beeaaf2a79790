"""Errors whose message is meant for the person using the studio.

Every error carries its message as a `Text` (English and Chinese) and the HTTP status a face
answers with (`bilingual.BilingualError`); the outermost layer (the Gradio face, the CLI, the API)
picks the language. Anything that is not a `StudioError` is a bug.
"""

from __future__ import annotations

from bilingual import BilingualError, Text


class StudioError(BilingualError):
    """Base class of the engine's errors (and, through `JobError`, the job service's).
    `shown`, where set: the plain sentence for people when `text` is for the operator (it names a
    folder, a setting or a command); the job service logs `text` and shows `shown`."""

    shown: Text | None = None

    def __init__(self, en: str, zh: str | None = None, shown: Text | None = None):
        super().__init__(en, zh)
        if shown is not None:
            self.shown = shown

    @property
    def for_people(self) -> Text:
        """What a person using the studio (page, REST, MCP) is told."""
        return self.shown or self.text


class InvalidRequest(StudioError, ValueError):
    """A request value is out of range or of the wrong kind (a model name that is neither a
    variant nor a folder included); the message quotes the value."""

    status = 400


class WeightsMissing(StudioError):
    """Weights are not on disk and cannot be downloaded (offline, no network, gated repo): the
    server cannot serve that model until its operator adds them."""

    status = 503


class ImageError(InvalidRequest):
    """An uploaded image that cannot be read, or is too small to use."""


class AudioError(InvalidRequest):
    """A music file that cannot be decoded, or an unknown track id."""


class VideoError(InvalidRequest):
    """A video file that is not ours or not a readable MP4."""


class CatalogueError(StudioError):
    """A catalogue file (styles, I2V templates) that is malformed; start-up stops with the file and
    entry named."""


class ModelFileError(StudioError):
    """A weights file (DDColor, Real-ESRGAN) that is corrupt or of the wrong architecture."""


class DiskFull(StudioError):
    """No space left where a video, its files or the job records are written; partial files are
    removed. The message names no folder (people see it); `folder` is for the server log.
    507 Insufficient Storage: the server's side, and the same call works once space is freed."""

    status = 507

    def __init__(self, folder=None) -> None:
        super().__init__(
            "The server's disk is full, so the video could not be saved. Free some space (or delete old "
            "works) and try again.",
            "服务器磁盘已满，视频无法保存。请释放磁盘空间（或删除旧作品）后重试。",
        )
        self.folder = folder


class Cancelled(StudioError):
    """The user pressed Cancel; raised from the step callback so nothing is decoded. 409: the
    request ended because its job's state changed, neither a bad request nor a failure."""

    status = 409

    def __init__(self) -> None:
        super().__init__("Generation cancelled.", "已取消生成。")
