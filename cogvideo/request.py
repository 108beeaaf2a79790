"""A video request, its modes, its limits and its defaults: the one source every face reads.

The page's controls, the named API's parameters, the REST and MCP schemas and the command line take
their defaults and bounds from here (tests/test_request_fields.py pins each against it). A leaf:
it imports nothing of ours, so anything may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image

MODES = ("t2v", "i2v", "old_photo", "v2v", "extend")
CLIP_MODES = ("v2v", "extend")  # the modes that take a video clip
# The task (pipeline) behind each mode: restyling runs the text-to-video model from a noised copy
# of the clip; extending runs image-to-video from each part's last frame.
MODE_TASKS = {"t2v": "t2v", "i2v": "i2v", "old_photo": "i2v", "v2v": "t2v", "extend": "i2v"}
MIN_STRENGTH, MAX_STRENGTH = 0.1, 1.0
MAX_EXTENSIONS = 4
# Extend with crossfade: the first frames of each new part fade in from the join frame.
CROSSFADE_FRAMES = 4
MAX_SEED = 2**32 - 1
MAX_STEPS = 150
MAX_GUIDANCE = 30.0
# Far above any useful prompt; bounds tokenizer work on pasted novels.
MAX_PROMPT_CHARS = 20_000
MIN_VOLUME, MAX_VOLUME = 0.0, 1.0
MIN_LORA_SCALE, MAX_LORA_SCALE = 0.0, 2.0  # 1 is the LoRA as trained
# The speed presets' ids as a type, for the faces' schemas (REST, MCP); cogvideo/engine/speed.py
# holds the presets themselves and checks that it defines exactly these.
SpeedId = Literal["quality", "balanced", "fast", "lean"]
# Quality is the default: no caching method has published parity with the uncached model on
# CogVideoX (docs/speed.md), and the default must not visibly lose quality.
DEFAULT_SPEED = "quality"


def is_unicode(text: str) -> bool:
    """Whether `text` can be kept and sent as UTF-8. JSON's "\\ud800" escapes decode to lone UTF-16
    surrogates, which a Python str holds but SQLite, files and HTTP answers refuse."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class VideoRequest:
    prompt: str
    mode: str = "t2v"
    image: Image.Image | str | Path | None = None
    negative_prompt: str = ""
    num_frames: int | None = None  # None: the variant's default
    num_inference_steps: int = 50
    # None: the model's own, as its authors run it (CogVideoX and Wan2.1-1.3B 6, Wan2.2-5B 5).
    guidance_scale: float | None = None
    seed: int = -1  # -1: a random seed, reported back
    height: int | None = None
    width: int | None = None
    style: str = "none"
    music: str | Path | None = None  # track id (text, never read as a path), an upload as a Path, or None/"none"
    music_volume: float = 0.8
    upscale: bool = False
    interpolate: bool = False
    colorize: bool = True  # old-photo mode only
    speed: str | None = None  # a preset of cogvideo/engine/speed.py (quality, balanced, fast); None: the studio's default
    video: str | Path | None = None  # "v2v" and "extend": the clip to restyle or to continue
    strength: float = 0.7  # "v2v": how far from the clip (0.1 keeps it, 1.0 keeps only its layout and motion)
    extensions: int = 1  # "extend": parts to add, each one clip long
    crossfade: bool = False  # "extend": fade each part in over a few frames instead of a cut
    lora_scales: dict[str, float] | None = None  # LoRA name -> scale; None: each LoRA's --lora scale
    # The model the job is for (a variant name, e.g. "wan2.1-1.3b"); None: the studio's. A job
    # service stores it, so a job waits for a worker that holds its model.
    model: str | None = None

    @property
    def task(self) -> str:
        return MODE_TASKS.get(self.mode, "t2v")

    @property
    def needs_video(self) -> bool:
        return self.mode in CLIP_MODES


# Every default in one place: a face reads `DEFAULTS.num_inference_steps`, never a literal 50.
DEFAULTS = VideoRequest(prompt="")
# Where a mode differs: an old photo comes alive to the nostalgic track unless the caller picks one.
OLD_PHOTO_MUSIC = "nostalgic"
