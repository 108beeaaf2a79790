"""Old-photo colorization: the colour detector, and DDColor loaded the way users load it (from a file).

The DDColor under test is the real spandrel_extra_arches class at its smallest detectable size:
the encoder must be ConvNeXt-T (spandrel only recognises the four published encoders) and the
decoder width must be 512 (the colour decoder's input widths are fixed), but queries and decoder
layers shrink to 8 and 1. Random weights, saved to a temp file, ~170 MB; built once per module.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cogvideo.errors import ModelFileError, WeightsMissing
from cogvideo.media.colorize import Colorizer, chroma, is_colour, lab_to_rgb, rgb_to_lab

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "examples"
SMALL_INPUT = 64  # model input side for most tests (the product uses 512): ~0.1 s per call on CPU


def _scene(width: int = 150, height: int = 97) -> Image.Image:
    """A colourful test picture: a warm-to-cool gradient with red, green and blue blocks."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([200 - 120 * yy / height, 80 + 100 * xx / width, 90 + 120 * yy / height], axis=-1)
    rgb[10:40, 10:50] = (210, 40, 40)
    rgb[50:90, 60:100] = (40, 170, 60)
    rgb[15:45, 105:140] = (50, 70, 200)
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def ddcolor_files(tmp_path_factory) -> dict[str, Path]:
    """A tiny random-weight DDColor saved as .pth and .safetensors."""
    import spandrel_extra_arches
    from safetensors.torch import save_file

    spandrel_extra_arches.install(ignore_duplicates=True)
    from spandrel_extra_arches.architectures.DDColor import DDColor

    torch.manual_seed(0)
    model = DDColor(
        encoder_name="convnext-t", decoder_name="MultiScaleColorDecoder", input_size=(64, 64), nf=512,
        num_output_channels=2, last_norm="Spectral", num_queries=8, num_scales=3, dec_layers=1,
    )
    folder = tmp_path_factory.mktemp("ddcolor")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, folder / "tiny_ddcolor.pth")
    save_file(state, str(folder / "tiny_ddcolor.safetensors"))
    return {"pth": folder / "tiny_ddcolor.pth", "safetensors": folder / "tiny_ddcolor.safetensors"}


@pytest.fixture(scope="module")
def colorizer(ddcolor_files) -> Colorizer:
    return Colorizer(weights=ddcolor_files["pth"], input_size=SMALL_INPUT)


class NetworkUsed(BaseException):
    """Raised on any connection attempt; a BaseException, so no `except Exception` can hide it."""


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"the test tried to use the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def empty_hub(monkeypatch, tmp_path):
    """Offline, with an empty Hugging Face cache and no DDCOLOR_* overrides."""
    from huggingface_hub import constants

    for name in ("DDCOLOR_WEIGHTS", "DDCOLOR_REPO", "DDCOLOR_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))


# ---------------------------------------------------------------- colour maths and detection

def test_lab_round_trip():
    rgb = np.random.default_rng(0).random((500, 3), dtype=np.float32)
    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)) - rgb).max() < 1e-4
    # Reference values (CIE, D65): white L=100, sRGB red ≈ (53.24, 80.09, 67.20).
    np.testing.assert_allclose(rgb_to_lab(np.array([1.0, 1.0, 1.0])), [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(rgb_to_lab(np.array([1.0, 0.0, 0.0])), [53.24, 80.09, 67.20], atol=0.1)


def test_grayscale_sepia_and_colour_are_told_apart():
    colour = _scene()
    gray = colour.convert("L")
    sepia = ImageOps.colorize(gray, "#2b1a0c", "#f4e4c4")
    split_toned = ImageOps.colorize(gray, "#10204c", "#ffe0b0")  # blue shadows, warm highlights

    assert chroma(gray.convert("RGB")) < 0.5
    assert chroma(colour) > 20
    # Sepia has plenty of chroma, but one hue per lightness: it is still a monochrome photo.
    assert chroma(sepia) > 8
    assert is_colour(colour)
    assert not is_colour(gray)
    assert not is_colour(gray.convert("RGB"))
    assert not is_colour(sepia)
    assert not is_colour(split_toned)


def test_colour_noise_does_not_make_a_monochrome_photo_colour():
    gray = _scene(360, 240).convert("L")
    rng = np.random.default_rng(1)
    for mono in (gray.convert("RGB"), ImageOps.colorize(gray, "#2b1a0c", "#f4e4c4")):
        # Independent noise per channel (a noisy scan), strong enough to be visible.
        noisy = np.asarray(mono, dtype=np.float32) + rng.normal(0, 12, (240, 360, 3))
        assert not is_colour(Image.fromarray(noisy.clip(0, 255).astype(np.uint8)))


def test_example_pictures_are_classified_as_intended():
    assert is_colour(Image.open(ASSETS / "lake_sunset.jpg"))
    assert not is_colour(Image.open(ASSETS / "old_family_photo.jpg"))


# ---------------------------------------------------------------- DDColor

def test_colorize_adds_colour_and_keeps_size(colorizer):
    gray = _scene(150, 97).convert("L").convert("RGB")  # odd, non-square size on purpose
    out = colorizer.colorize(gray)
    assert out.mode == "RGB"
    assert out.size == gray.size
    assert chroma(gray) < 0.5
    assert chroma(out) > 5


def test_full_resolution_lightness_is_kept(ddcolor_files):
    """The model sees 64×64, but the output keeps every pixel's lightness from the input."""
    colorizer = Colorizer(weights=ddcolor_files["pth"], input_size=SMALL_INPUT)
    colorizer.load()
    # Random weights predict wild ab (±1e12, clipped to ±128, out of gamut); scale them to ±20 so
    # the colours stay in gamut and lightness is comparable.
    colorizer._descriptor.model.register_forward_hook(lambda module, args, out: out / out.abs().amax() * 20)
    yy, xx = np.mgrid[0:120, 0:200]
    checker = (((yy // 2 + xx // 2) % 2) * 60 + 90).astype(np.uint8)  # 2-px detail, far below 64² input
    gray = Image.fromarray(checker)  # mode L
    out = colorizer.colorize(gray)
    assert out.size == gray.size
    l_in = rgb_to_lab(np.asarray(gray.convert("RGB"), np.float32) / 255)[..., 0]
    l_out = rgb_to_lab(np.asarray(out, np.float32) / 255)[..., 0]
    assert np.abs(l_out - l_in).max() < 1.5
    assert chroma(out) > 5


def test_model_runs_at_512_by_default(ddcolor_files):
    colorizer = Colorizer(weights=ddcolor_files["pth"])
    seen: list[tuple[int, ...]] = []
    colorizer.load()
    colorizer._descriptor.model.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    out = colorizer.colorize(_scene(80, 60).convert("L"))
    assert seen == [(1, 3, 512, 512)]
    assert out.size == (80, 60)
    assert not colorizer._descriptor.model.training


def test_safetensors_weights_load(ddcolor_files):
    out = Colorizer(weights=ddcolor_files["safetensors"], input_size=SMALL_INPUT).colorize(_scene(64, 64).convert("L"))
    assert out.size == (64, 64)
    assert chroma(out) > 5


def test_weights_from_environment(ddcolor_files, monkeypatch):
    monkeypatch.setenv("DDCOLOR_WEIGHTS", str(ddcolor_files["pth"]))
    assert Colorizer().weights_path() == ddcolor_files["pth"]


def test_colour_photo_passes_through_without_loading_the_model(tmp_path):
    colorizer = Colorizer(weights=tmp_path / "does-not-exist.pth")
    photo = _scene()
    out, colorized = colorizer.colorize_if_monochrome(photo)
    assert out is photo
    assert colorized is False
    # A grayscale photo does need the model, whose file is missing.
    with pytest.raises(WeightsMissing) as info:
        colorizer.colorize_if_monochrome(photo.convert("L"))
    assert "does-not-exist.pth" in info.value.en


def test_monochrome_photo_is_colorized(colorizer):
    out, colorized = colorizer.colorize_if_monochrome(_scene().convert("L"))
    assert colorized is True
    assert chroma(out) > 5


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_file_names_the_file(tmp_path, suffix):
    path = tmp_path / f"broken_ddcolor{suffix}"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ModelFileError) as info:
        Colorizer(weights=path).load()
    assert path.name in info.value.en
    assert path.name in info.value.zh


def test_other_architecture_is_refused(tmp_path):
    from spandrel.architectures.ESRGAN import ESRGAN

    path = tmp_path / "tiny_esrgan.pth"
    torch.manual_seed(0)
    torch.save(ESRGAN(num_filters=8, num_blocks=1, scale=2).state_dict(), path)
    with pytest.raises(ModelFileError) as info:
        Colorizer(weights=path).colorize(_scene().convert("L"))
    assert path.name in info.value.en
    assert "not DDColor" in info.value.en


def test_missing_weights_offline_say_how_to_get_them(empty_hub, no_network):
    with pytest.raises(WeightsMissing) as info:
        Colorizer().load()
    command = f"hf download {Colorizer.repo} {Colorizer.file}"
    for message in (info.value.en, info.value.zh):
        assert command in message
        assert "DDCOLOR_WEIGHTS" in message
    assert "animate the photo as it is" in info.value.en
    assert "HF_HUB_OFFLINE" in info.value.en


def test_repo_and_file_overrides_appear_in_the_command(empty_hub, no_network, monkeypatch):
    monkeypatch.setenv("DDCOLOR_REPO", "someone/ddcolor-mirror")
    monkeypatch.setenv("DDCOLOR_FILE", "ddcolor_paper_tiny.pth")
    with pytest.raises(WeightsMissing) as info:
        Colorizer().load()
    assert "hf download someone/ddcolor-mirror ddcolor_paper_tiny.pth" in info.value.en


def test_weights_found_in_the_hub_cache_offline(empty_hub, no_network, ddcolor_files, tmp_path):
    from huggingface_hub import constants

    # The layout huggingface_hub writes: refs/main names a snapshot holding the file.
    repo_dir = Path(constants.HF_HUB_CACHE) / ("models--" + Colorizer.repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("0" * 40)
    (snapshot / Colorizer.file).symlink_to(ddcolor_files["pth"])
    assert Colorizer().weights_path() == snapshot / Colorizer.file


def test_missing_path_in_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DDCOLOR_WEIGHTS", str(tmp_path / "nowhere.pth"))
    with pytest.raises(WeightsMissing) as info:
        Colorizer().load()
    assert "nowhere.pth" in info.value.en
