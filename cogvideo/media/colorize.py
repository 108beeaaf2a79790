"""Old-photo colorization: DDColor through `spandrel`, plus a colour/monochrome detector.

DDColor predicts only the chroma (Lab a, b) of a grayscale picture at a small square size
(512×512, as upstream); we resize that chroma to the photo's own size and recombine it with the
photo's original lightness (L), so every bit of the scan's detail survives. Weights come from a
local file (`DDCOLOR_WEIGHTS`) or the Hugging Face Hub; see docs/old_photo.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from cogvideo.engine.weights import SpandrelModel, load_descriptor
from bilingual import Text
from cogvideo.errors import ModelFileError

MODEL_INPUT_SIZE = 512  # upstream inference size; spandrel's loader sets 256

# is_colour(): pixels darker/brighter than these L values carry no reliable hue.
_L_MIN, _L_MAX = 6.0, 96.0
# Chroma (Lab units) that a colour not explained by a single toning curve must exceed ...
_RESIDUAL_CHROMA = 8.0
# ... on at least this fraction of the usable pixels for the photo to count as colour.
_COLOUR_FRACTION = 0.03
_ANALYSIS_SIDE = 256  # is_colour()/chroma() look at a thumbnail (fast) ...
_ANALYSIS_BLUR = 2  # ... box-blurred 5×5: colour noise (scanner, JPEG) averages out, real colour areas stay

# sRGB (D65) <-> CIE XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=np.float32,
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ).astype(np.float32)
_WHITE = np.array([0.950456, 1.0, 1.088754], dtype=np.float32)
_DELTA = 6.0 / 29.0


# ---------------------------------------------------------------- colour maths

def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (…×3, float) -> CIE Lab (L 0..100, a/b about -128..127), D65."""
    rgb = np.asarray(rgb, dtype=np.float32)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = (linear @ _RGB_TO_XYZ.T) / _WHITE
    f = np.where(xyz > _DELTA**3, np.cbrt(xyz), xyz / (3 * _DELTA**2) + 4.0 / 29.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIE Lab (…×3) -> sRGB in [0, 1] (float32), clipped to the gamut."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0)) * _WHITE
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


# uint8 sRGB value -> linear light, for the lightness of big images without float RGB copies.
_LINEAR_LUT = np.where(
    np.arange(256) / 255.0 <= 0.04045, np.arange(256) / 255.0 / 12.92, ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4
).astype(np.float32)


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L (0..100) of uint8 sRGB pixels (…×3), the same as rgb_to_lab(rgb / 255)[..., 0]."""
    y = _LINEAR_LUT[rgb] @ _RGB_TO_XYZ[1]  # relative luminance; the white point's Y is 1
    return np.where(y > _DELTA**3, 116.0 * np.cbrt(y) - 16.0, 116.0 * (y / (3 * _DELTA**2) + 4.0 / 29.0) - 16.0)


def _analysis_lab(image: Image.Image) -> np.ndarray:
    """Lab of the usable pixels (N×3) of a thumbnail: near-black and near-white ones dropped."""
    thumb = image.convert("RGB")
    thumb.thumbnail((_ANALYSIS_SIDE, _ANALYSIS_SIDE), Image.Resampling.BOX)
    thumb = thumb.filter(ImageFilter.BoxBlur(_ANALYSIS_BLUR))
    lab = rgb_to_lab(np.asarray(thumb, dtype=np.float32) / 255.0).reshape(-1, 3)
    return lab[(lab[:, 0] > _L_MIN) & (lab[:, 0] < _L_MAX)]


def chroma(image: Image.Image) -> float:
    """Mean Lab chroma sqrt(a² + b²) of the pixels that are neither near-black nor near-white.

    About 0 for a grayscale picture, ~10–20 for a sepia print, 20+ for a vivid colour photo.
    """
    lab = _analysis_lab(image)
    if len(lab) == 0:
        return 0.0
    return float(np.hypot(lab[:, 1], lab[:, 2]).mean())


def is_colour(image: Image.Image) -> bool:
    """True for a real colour photo; False for grayscale and for toned monochrome (sepia, cyanotype,
    split-toned prints).

    A toned print has colour, but its hue is a function of lightness alone: at a given L every pixel
    has the same (a, b). So we take, per lightness band, the typical (a, b) of that band, and ask how
    far pixels stray from it: the hue spread at equal lightness. A real colour photo has many
    pixels far from their band's tone (red next to green at the same brightness); a toned print has
    almost none, however strong its tint.
    """
    lab = _analysis_lab(image)
    if len(lab) < 16:
        return False
    bands = np.minimum((lab[:, 0] - _L_MIN) / (_L_MAX - _L_MIN) * 24, 23).astype(np.int64)
    residual = np.empty(len(lab), np.float32)
    for band in np.unique(bands):
        members = bands == band
        tone = np.median(lab[members, 1:], axis=0)
        residual[members] = np.hypot(lab[members, 1] - tone[0], lab[members, 2] - tone[1])
    return float((residual > _RESIDUAL_CHROMA).mean()) > _COLOUR_FRACTION


# ---------------------------------------------------------------- the colorizer

class Colorizer(SpandrelModel):
    """DDColor, loaded lazily on first use and kept; one colorization at a time (not re-entrant).

    `weights`: a local .pth/.safetensors file; None -> env DDCOLOR_WEIGHTS, else the Hub
    (env DDCOLOR_REPO / DDCOLOR_FILE, defaults `repo` / `file`).
    `input_size`: the square side, in pixels, at which the model sees the photo.
    """

    repo = "piddnad/DDColor-models"  # upstream's own Hub repo, Apache-2.0
    file = "ddcolor_modelscope.pth"  # upstream's recommended default (DDColor-L, ~912 MB)
    env_prefix = "DDCOLOR"
    name = "DDColor"
    what = Text("DDColor colorization", "DDColor 上色模型")
    fallback = Text("Meanwhile you can animate the photo as it is (turn colorization off).",
                    "在此之前，可以关闭上色，直接让照片动起来。")
    feature = Text("Colorizing", "黑白照片上色")

    def __init__(
        self, weights: str | Path | None = None, device: str = "cpu", input_size: int = MODEL_INPUT_SIZE
    ) -> None:
        super().__init__(weights, device)
        self.input_size = int(input_size)

    def _load_descriptor(self):
        path = self.weights_path()
        descriptor = load_descriptor(path, self.device, self.name)
        if descriptor.architecture.id != "DDColor":
            raise ModelFileError(
                f"{path} is a {descriptor.architecture.name} model, not DDColor. Point "
                f"DDCOLOR_WEIGHTS to a DDColor checkpoint (e.g. {self.file}).",
                f"{path} 是 {descriptor.architecture.name} 模型，不是 DDColor。请将 DDCOLOR_WEIGHTS "
                f"指向 DDColor 权重（例如 {self.file}）。",
            )
        # spandrel loads in train mode; DDColor stays fp32 (its descriptor says no fp16 support).
        descriptor.model.eval()
        descriptor.model.input_size = (self.input_size, self.input_size)
        return descriptor

    def _model(self):
        """The loaded DDColor network (call with the lock held)."""
        return self._loaded().model

    def colorize(self, image: Image.Image) -> Image.Image:
        """Colorize a (grayscale or toned) photo; returns RGB of the same size.

        The caller bounds the size (media.load_image gives <= 4096 px a side); the model itself
        always runs at `input_size`², so memory is bounded by the photo, not the network.
        """
        import torch
        import torch.nn.functional as F  # noqa: N812

        image = image.convert("RGB")
        width, height = image.size

        # 1. Model input: the lightness alone, as a gray RGB picture, squeezed to input_size².
        small = np.asarray(image.resize((self.input_size, self.input_size), Image.Resampling.BILINEAR))
        gray_lab = np.zeros((self.input_size, self.input_size, 3), np.float32)
        gray_lab[..., 0] = lightness(small)
        gray_rgb = torch.from_numpy(lab_to_rgb(gray_lab)).permute(2, 0, 1)[None]  # 1×3×S×S in [0, 1]

        # 2. Predict ab (1×2×S×S, Lab units) and resize it to the photo's size.
        with self._lock:
            model = self._model()
            param = next(model.parameters())
            with torch.inference_mode():
                ab = model(gray_rgb.to(device=param.device, dtype=param.dtype))
                ab = F.interpolate(ab.float(), size=(height, width), mode="bilinear", align_corners=False)
                ab = ab.clamp_(-128.0, 127.0)[0].permute(1, 2, 0).cpu().numpy()  # H×W×2

        # 3. The photo's own L + predicted ab -> RGB, in bands of rows: a 4096² scan never needs
        # full-size float RGB copies (~200 MB each), only the ab planes (2 × 67 MB).
        pixels = np.asarray(image)  # H×W×3 uint8
        out = np.empty((height, width, 3), np.uint8)
        for top in range(0, height, 256):
            rows = slice(top, top + 256)
            lab = np.concatenate([lightness(pixels[rows])[..., None], ab[rows]], axis=-1)
            out[rows] = np.round(lab_to_rgb(lab) * 255.0).astype(np.uint8)
        return Image.fromarray(out)

    def colorize_if_monochrome(self, image: Image.Image) -> tuple[Image.Image, bool]:
        """Colorize a black-and-white or sepia photo; a colour photo passes through untouched
        (and the model is not even loaded). Returns (image, whether it was colorized)."""
        if is_colour(image):
            return image, False
        return self.colorize(image), True
