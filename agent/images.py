"""Pictures for the prompt agent: a small JPEG data URL for a vision model, and plain facts
(orientation, brightness, warmth, colorfulness) the offline expander can put into words."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image, ImageStat

# Vision models downscale to ~1k px anyway; sending more only costs upload time and tokens.
MAX_SIDE = 1024
JPEG_QUALITY = 85


def to_data_url(image: Image.Image, max_side: int = MAX_SIDE) -> str:
    """Encode as `data:image/jpeg;base64,...`, long side <= max_side px, aspect kept."""
    rgb = _to_rgb(image)
    width, height = rgb.size
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # reducing_gap=1: a fast integer box reduction first, Lanczos for the rest. A 4032x3024
        # phone photo takes ~40 ms instead of ~135 ms, and the vision model resizes it again
        # anyway. resize() returns a new image; the caller's is untouched.
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class ImageFacts:
    orientation: str  # "landscape" | "portrait" | "square"
    brightness: str  # "dark" | "dim" | "bright" | "softly lit"
    tone: str  # "warm" | "cool" | "neutral"
    color: str  # "black-and-white" | "muted" | "vivid" | "natural"


def describe(image: Image.Image) -> ImageFacts:
    """Facts computed from a 64 px thumbnail: cheap, and all the offline expander can use."""
    width, height = image.size
    if width > height * 1.1:
        orientation = "landscape"
    elif height > width * 1.1:
        orientation = "portrait"
    else:
        orientation = "square"

    small = _to_rgb(image).copy()
    small.thumbnail((64, 64))
    red, green, blue = ImageStat.Stat(small).mean
    luma = 0.299 * red + 0.587 * green + 0.114 * blue  # 0..255
    saturation = ImageStat.Stat(small.convert("HSV")).mean[1]  # 0..255

    if luma < 60:
        brightness = "dark"
    elif luma < 100:
        brightness = "dim"
    elif luma > 170:
        brightness = "bright"
    else:
        brightness = "softly lit"

    if saturation < 12:
        tone, color = "neutral", "black-and-white"
    else:
        warmth = red - blue
        tone = "warm" if warmth > 15 else "cool" if warmth < -15 else "neutral"
        color = "muted" if saturation < 60 else "vivid" if saturation > 130 else "natural"
    return ImageFacts(orientation=orientation, brightness=brightness, tone=tone, color=color)


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent areas become white, palettes and 16-bit greys are expanded."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I") and image.getextrema()[1] > 255:
        # 16-bit greys: scale to 8 bits instead of clipping everything to white.
        return image.point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")
