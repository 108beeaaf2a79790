"""Errors whose message is meant for the person using the studio.

Every error carries its message as a `Text` (English and Chinese); the outermost layer (the Gradio
face, the CLI) picks the one for the user's language. Anything that is not a `StudioError` is a bug.
"""

from __future__ import annotations

from bilingual import Text


class StudioError(Exception):
    """Base class: `text` says what went wrong and what to do next (`zh` defaults to `en`).
    `shown`, where set: the plain sentence for people when `text` is for the operator (it names a
    folder, a setting or a command); the job service logs `text` and shows `shown`."""

    shown: Text | None = None

    def __init__(self, en: str, zh: str | None = None, shown: Text | None = None):
        super().__init__(en)
        self.text = Text(en, zh or en)
        if shown is not None:
            self.shown = shown

    @property
    def for_people(self) -> Text:
        """What a person using the studio (page, REST, MCP) is told."""
        return self.shown or self.text

    @property
    def en(self) -> str:
        return self.text.en

    @property
    def zh(self) -> str:
        return self.text.zh


class InvalidRequest(StudioError, ValueError):
    """A request value is out of range or of the wrong kind; the message quotes the value."""


class UnknownModel(InvalidRequest):
    """A model name that is neither a known variant nor an existing folder."""


class WeightsMissing(StudioError):
    """Weights are not on disk and cannot be downloaded (offline, no network, gated repo)."""


class OutOfMemory(StudioError):
    """The accelerator ran out of memory; the message names the next offload level to try."""


class ImageError(InvalidRequest):
    """An uploaded image that cannot be read, or is too small to use."""


class AudioError(InvalidRequest):
    """A music file that cannot be decoded, or an unknown track id."""


class VideoError(InvalidRequest):
    """A video file that is not ours or not a readable MP4."""


class StyleError(StudioError):
    """A style preset file that is malformed; start-up stops with the file and entry named."""


class ModelFileError(StudioError):
    """A weights file (DDColor, Real-ESRGAN) that is corrupt or of the wrong architecture."""


class DiskFull(StudioError):
    """No space left where a video, its files or the job records are written; partial files are
    removed. The message names no folder (people see it); `folder` is for the server log."""

    def __init__(self, folder=None) -> None:
        super().__init__(
            "The server's disk is full, so the video could not be saved. Free some space (or delete old "
            "works) and try again.",
            "服务器磁盘已满，视频无法保存。请释放磁盘空间（或删除旧作品）后重试。",
        )
        self.folder = folder


class Cancelled(StudioError):
    """The user pressed Cancel; raised from the step callback so nothing is decoded."""

    def __init__(self) -> None:
        super().__init__("Generation cancelled.", "已取消生成。")
