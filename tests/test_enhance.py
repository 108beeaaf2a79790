"""2× upscaling and 2× frame interpolation, checked on real encoded MP4s.

Upscalers are spandrel's own architecture classes at toy size with random weights, saved to a temp
file and detected from it, the path users take: a Compact (SRVGGNet) x4 with 8 features and 2 convs,
and an RRDBNet (ESRGAN) x2 with 8 filters and 1 block. Clips are small (64×48) so ffmpeg is quick.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from cogvideo.errors import InvalidRequest, ModelFileError, WeightsMissing
from cogvideo.media import codec, enhance
from cogvideo.media.enhance import MAX_OUTPUT_PIXELS, Upscaler, VideoPost, plan_post


def _clip(count: int = 9, height: int = 48, width: int = 64) -> np.ndarray:
    """uint8 T×H×W×3: a drifting colour gradient and a yellow disc moving left to right."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.zeros((count, height, width, 3), np.uint8)
    for t in range(count):
        frames[t, ..., 0] = (xx * 255 // width + 6 * t) % 256
        frames[t, ..., 1] = yy * 255 // height
        frames[t, ..., 2] = 110
        cx, radius = int(width * (0.15 + 0.7 * t / max(count - 1, 1))), max(3, height // 6)
        frames[t][(xx - cx) ** 2 + (yy - height // 2) ** 2 < radius**2] = (250, 230, 20)
    return frames


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, Path]:
    from safetensors.torch import save_file
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    folder = tmp_path_factory.mktemp("upscalers")
    torch.manual_seed(0)
    torch.save(Compact(num_feat=8, num_conv=2, upscale=4).state_dict(), folder / "compact_x4.pth")
    torch.manual_seed(0)
    rrdb = ESRGAN(num_filters=8, num_blocks=1, scale=2).state_dict()
    save_file({k: v.contiguous() for k, v in rrdb.items()}, str(folder / "rrdb_x2.safetensors"))
    torch.manual_seed(0)
    torch.save(ESRGAN(num_filters=8, num_blocks=1, scale=1).state_dict(), folder / "rrdb_x1.pth")
    # RealESRGAN_x2plus's layout: pixel-unshuffle by 2 (12 input channels), then an x4 RRDBNet.
    torch.manual_seed(0)
    x2plus = ESRGAN(in_nc=12, out_nc=3, num_filters=8, num_blocks=1, scale=4, shuffle_factor=2)
    torch.save(x2plus.state_dict(), folder / "x2plus_layout.pth")
    return {
        "compact_x4": folder / "compact_x4.pth",
        "rrdb_x2": folder / "rrdb_x2.safetensors",
        "x2plus_layout": folder / "x2plus_layout.pth",
        "rrdb_x1": folder / "rrdb_x1.pth",
    }


class NetworkUsed(BaseException):
    """Raised on any connection attempt; a BaseException, so no `except Exception` can hide it."""


@pytest.fixture
def offline_empty_hub(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE=1, an empty Hugging Face cache, no UPSCALE_* overrides, and no network."""
    from huggingface_hub import constants

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"the test tried to use the network: {args!r}")

    for name in ("UPSCALE_WEIGHTS", "UPSCALE_REPO", "UPSCALE_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return Path(constants.HF_HUB_CACHE)


def _encode(post: VideoPost, path: Path) -> tuple[np.ndarray, codec.VideoInfo]:
    codec.encode_mp4(post.frames, post.fps, path, filters=post.filters)
    return codec.read_frames(path), codec.probe(path)


# ---------------------------------------------------------------- the Upscaler

@pytest.mark.parametrize("name, scale", [("compact_x4", 4), ("rrdb_x2", 2), ("x2plus_layout", 2)])
def test_upscale_is_exactly_2x_with_the_same_frame_count(model_files, name, scale):
    # 50×70: tiles at the edges are not multiples of 4, which the unshuffle layout needs (padded).
    frames = _clip(5, 50, 70)
    calls: list[tuple[int, int]] = []
    upscaler = Upscaler(weights=model_files[name], tile=32)
    out = upscaler.upscale(frames, progress=lambda done, total: calls.append((done, total)))
    assert out.shape == (5, 100, 140, 3)
    assert out.dtype == np.uint8
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    # The model's own factor is detected from the file; x4 output is brought back to 2×.
    assert upscaler.scale == scale


def test_tiles_join_without_seams(model_files):
    # 32-pixel tiles plus 16 pixels of context on a network that sees 4 pixels around each one:
    # tiling must give the same picture as the whole frame.
    frames = _clip(2, 72, 100)  # sizes that are not multiples of the tile
    tiled = Upscaler(weights=model_files["compact_x4"], tile=32).upscale(frames)
    whole = Upscaler(weights=model_files["compact_x4"], tile=0).upscale(frames)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1


def test_available_only_for_files_that_exist(model_files, tmp_path, offline_empty_hub):
    assert Upscaler(weights=model_files["compact_x4"]).available()
    assert not Upscaler(weights=tmp_path / "nope.pth").available()
    assert not Upscaler().available()  # nothing in the (empty) Hub cache


def test_weights_from_the_hub_cache_offline(model_files, offline_empty_hub):
    repo_dir = offline_empty_hub / ("models--" + Upscaler.repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("0" * 40)
    (snapshot / Upscaler.file).symlink_to(model_files["compact_x4"])
    upscaler = Upscaler()
    assert upscaler.available()
    assert upscaler.upscale(_clip(1, 32, 40)).shape == (1, 64, 80, 3)


def test_weights_from_environment(model_files, monkeypatch):
    monkeypatch.setenv("UPSCALE_WEIGHTS", str(model_files["compact_x4"]))
    upscaler = Upscaler()
    assert upscaler.available()
    assert upscaler.weights_path() == model_files["compact_x4"]


def test_missing_weights_offline_say_how_to_get_them(offline_empty_hub):
    with pytest.raises(WeightsMissing) as info:
        Upscaler().load()
    command = f"hf download {Upscaler.repo} {Upscaler.file}"
    assert command in info.value.en and command in info.value.zh
    assert "UPSCALE_WEIGHTS" in info.value.en


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_file_names_the_file(tmp_path, suffix):
    path = tmp_path / f"broken_upscaler{suffix}"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(ModelFileError) as info:
        Upscaler(weights=path).upscale(_clip(1))
    assert path.name in info.value.en and path.name in info.value.zh


def test_a_model_that_does_not_upscale_is_refused(model_files):
    with pytest.raises(ModelFileError) as info:
        Upscaler(weights=model_files["rrdb_x1"]).load()
    assert "rrdb_x1.pth" in info.value.en
    assert "super-resolution" in info.value.en


def test_small_tiles_are_refused():
    with pytest.raises(InvalidRequest):
        Upscaler(tile=8)


# ---------------------------------------------------------------- plan_post + encode

def test_lanczos_video_is_exactly_2x(tmp_path):
    frames = _clip(9, 48, 64)
    post = plan_post(frames, 8.0, upscale=True, interpolate=False)
    assert post.upscale_method == "lanczos"
    assert post.filters == ("scale=128:96:flags=lanczos", "format=yuv420p")
    assert post.frames is frames or np.array_equal(post.frames, frames)
    decoded, info = _encode(post, tmp_path / "lanczos.mp4")
    assert decoded.shape == (9, 96, 128, 3)
    assert (info.width, info.height) == post.output_size == (128, 96)
    assert info.fps == pytest.approx(8.0)


def test_cpu_never_picks_the_model_automatically(model_files):
    upscaler = Upscaler(weights=model_files["compact_x4"], device="cpu")
    assert upscaler.available()
    post = plan_post(_clip(3), 8.0, upscale=True, interpolate=False, upscaler=upscaler)
    assert post.upscale_method == "lanczos"
    assert upscaler._descriptor is None  # not even loaded


def test_missing_weights_fall_back_to_lanczos(tmp_path):
    # On an accelerator, but with no weights on disk: Lanczos, without trying to download.
    upscaler = Upscaler(weights=tmp_path / "absent.pth", device="cuda")
    post = plan_post(_clip(3), 8.0, upscale=True, interpolate=False, upscaler=upscaler)
    assert post.upscale_method == "lanczos"


def test_realesrgan_video_is_exactly_2x(model_files, tmp_path):
    frames = _clip(9, 48, 64)
    upscaler = Upscaler(weights=model_files["compact_x4"])
    post = plan_post(frames, 8.0, upscale=True, interpolate=False, upscaler=upscaler, method="realesrgan")
    assert post.upscale_method == "realesrgan"
    assert post.filters == ()
    assert post.frames.shape == (9, 96, 128, 3)
    decoded, info = _encode(post, tmp_path / "esrgan.mp4")
    assert decoded.shape == (9, 96, 128, 3)
    assert (info.width, info.height) == (128, 96)


def test_interpolated_video_has_twice_the_fps_and_the_same_duration(tmp_path):
    # CogVideoX's clip: 49 frames at 8 fps = 6.125 s -> 98 frames at 16 fps = 6.125 s.
    frames = _clip(49, 48, 64)
    post = plan_post(frames, 8.0, upscale=False, interpolate=True)
    assert post.upscale_method is None
    assert post.output_fps == 16.0 and post.fps == 8.0  # frames go in at 8 fps, come out at 16
    assert any(f.startswith("minterpolate=fps=16:mi_mode=mci") for f in post.filters)
    decoded, info = _encode(post, tmp_path / "smooth.mp4")
    assert len(decoded) == 98
    assert info.fps == pytest.approx(16.0)
    assert abs(len(decoded) / info.fps - 49 / 8.0) < 1 / 8.0
    # The last source frame is in the video (minterpolate alone drops it).
    last = decoded[-1].astype(int)
    assert np.abs(last - frames[-1]).mean() < np.abs(last - frames[-3]).mean() / 2


def test_interpolation_runs_before_the_lanczos_scale(tmp_path):
    frames = _clip(9, 48, 64)
    post = plan_post(frames, 8.0, upscale=True, interpolate=True)
    assert post.filters.index("scale=128:96:flags=lanczos") > max(
        i for i, f in enumerate(post.filters) if f.startswith("minterpolate")
    )
    decoded, info = _encode(post, tmp_path / "both.mp4")
    assert decoded.shape == (18, 96, 128, 3)
    assert info.fps == pytest.approx(16.0)


def test_realesrgan_with_interpolation(model_files, tmp_path):
    frames = _clip(9, 48, 64)
    upscaler = Upscaler(weights=model_files["compact_x4"])
    post = plan_post(frames, 8.0, upscale=True, interpolate=True, upscaler=upscaler, method="realesrgan")
    # Interpolated at the small size first, then all 18 frames upscaled.
    assert post.frames.shape == (18, 96, 128, 3)
    assert post.fps == 16.0 and post.filters == ()
    decoded, info = _encode(post, tmp_path / "esrgan_smooth.mp4")
    assert decoded.shape == (18, 96, 128, 3)
    assert info.fps == pytest.approx(16.0)


def test_frames_below_32_pixels_are_blended_not_motion_searched():
    frames = _clip(5, 16, 24)
    assert "mi_mode=blend" in enhance.interpolation_filters(5, 8.0, 24, 16)[1]
    out, fps = enhance.interpolate_frames(frames, 8.0)
    assert out.shape == (10, 16, 24, 3) and fps == 16.0


def test_output_above_the_bound_is_refused():
    frames = np.zeros((1, 800, 1400, 3), np.uint8)  # 2× = 2800×1600 = 4.48 MP > 2720×1536
    assert 2800 * 1600 > MAX_OUTPUT_PIXELS
    with pytest.raises(InvalidRequest) as info:
        plan_post(frames, 8.0, upscale=True, interpolate=False)
    assert "2800×1600" in info.value.en and "2720×1536" in info.value.en
    assert "2720×1536" in info.value.zh and info.value.zh != info.value.en
    # The same frames without upscaling are fine, and the largest native size upscales.
    assert plan_post(frames, 8.0, upscale=False, interpolate=False).output_size == (1400, 800)
    native = np.zeros((1, 768, 1360, 3), np.uint8)
    assert plan_post(native, 8.0, upscale=True, interpolate=False).output_size == (2720, 1536)


@pytest.mark.parametrize(
    "frames, fps",
    [(np.zeros((0, 48, 64, 3), np.uint8), 8.0), (np.zeros((2, 48, 64), np.uint8), 8.0),
     (np.zeros((2, 48, 64, 3), np.float32), 8.0), (np.zeros((2, 48, 64, 3), np.uint8), 0.0)],
)
def test_bad_frames_or_fps_are_refused(frames, fps):
    with pytest.raises(InvalidRequest):
        plan_post(frames, fps, upscale=True, interpolate=True)
