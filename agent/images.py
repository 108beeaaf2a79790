"""Pictures for the prompt agent: a small JPEG data URL for a vision service, a small RGB picture for
the local vision model, and plain facts (orientation, brightness, warmth, colorfulness) the
offline expander can put into words."""

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
    rgb = _to_rgb(_shrink(image, max_side))
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def fit(image: Image.Image, max_side: int) -> Image.Image:
    """RGB, long side <= max_side px, aspect kept (for the local vision model); the caller's
    image is never changed (a small RGB picture comes back as it is)."""
    return _to_rgb(_shrink(image, max_side))


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

    small = _to_rgb(_shrink(image, 64))
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


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    """Long side <= max_side, reduced *before* any colour conversion and a band of rows at a time,
    so a large picture is never copied whole (Pillow's own resize of RGBA makes a full-size
    premultiplied copy). The caller's image is untouched."""
    width, height = image.size
    if max(width, height) <= max_side:
        return image
    if image.mode in ("1", "P", "PA"):
        # Palettes and 1-bit resample only by nearest neighbour: expand them first.
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    # A box reduction by a whole factor first (fast: a 4032x3024 phone photo takes ~40 ms instead of
    # ~135 ms), Lanczos for the rest; the vision model resizes it again anyway.
    factor = max(width, height) // max_side
    if factor > 1 and image.mode in _BOX_MODES:
        image = _reduce_in_bands(image, factor)
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


_BOX_MODES = ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "I", "F")
_BAND_BYTES = 4 << 20  # rows reduced at a time, before reduction


def _reduce_in_bands(image: Image.Image, factor: int) -> Image.Image:
    width, height = image.size
    out = Image.new(image.mode, (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, _BAND_BYTES // (4 * width * factor))
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows)))
        out.paste(band.reduce(factor), (0, top // factor))
    return out


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
