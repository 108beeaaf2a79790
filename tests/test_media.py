"""Image intake and MP4 encoding with real files."""

import io

import numpy as np
import pytest
from PIL import Image

from cogvideo.errors import ImageError, VideoError
from cogvideo.media import codec
from tests.conftest import make_photo


def save(image, tmp_path, name, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_exif_orientation_is_applied(tmp_path):
    image = make_photo(300, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = save(image, tmp_path, "rot.jpg", exif=exif)
    loaded = codec.load_image(path)
    assert loaded.size == (200, 300)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK", "L", "1"])
def test_modes_are_converted_to_rgb(mode, tmp_path):
    image = make_photo(160, 120, mode)
    ext = "jpg" if mode == "CMYK" else "png"
    loaded = codec.load_image(save(image, tmp_path, f"x.{ext}"))
    assert loaded.mode == "RGB" and loaded.size == (160, 120)


def test_transparency_is_flattened_on_white():
    rgba = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    assert codec.to_rgb(rgba).getpixel((5, 5)) == (255, 255, 255)


def test_16_bit_image_keeps_its_tones(tmp_path):
    ramp = (np.linspace(0, 65535, 128 * 128).reshape(128, 128)).astype(np.uint16)
    path = save(Image.fromarray(ramp), tmp_path, "deep.png")
    loaded = np.asarray(codec.load_image(path))
    # PIL's own convert would clip to white; ours spans the range.
    assert loaded.min() < 10 and loaded.max() > 245


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    with pytest.raises(ImageError) as err:
        codec.load_image(path)
    assert "not an image" in err.value.en and "不是图片" in err.value.zh


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    make_photo(400, 300).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="damaged or incomplete"):
        codec.load_image(path)


def test_tiny_image_is_refused_with_the_minimum(tmp_path):
    with pytest.raises(ImageError, match="at least 64×64"):
        codec.load_image(save(Image.new("RGB", (1, 1)), tmp_path, "dot.png"))


def test_huge_image_is_downscaled(tmp_path):
    path = save(Image.new("RGB", (9000, 6000), (10, 120, 200)), tmp_path, "big.jpg", quality=50)
    loaded = codec.load_image(path)
    assert max(loaded.size) <= codec.WORKING_SIDE
    assert abs(loaded.width / loaded.height - 1.5) < 0.01


def test_fit_crops_to_cover_and_keeps_aspect():
    image = make_photo(400, 400)
    fitted = codec.fit_image(image, 144, 96)
    assert fitted.size == (144, 96)
    # center crop: the disc in the middle stays in the middle
    assert fitted.getpixel((72, 48)) == (250, 230, 40)


def test_encode_h264_yuv420p_faststart_at_fps(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (17, 96, 144, 3), dtype=np.uint8)
    path = codec.encode_mp4(frames, 8, tmp_path / "a.mp4")
    info = codec.probe(path)
    assert (info.video_codec, info.width, info.height, info.fps) == ("h264", 144, 96, 8.0)
    assert codec.read_frames(path).shape == (17, 96, 144, 3)
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: index before the media data
    banner = __import__("subprocess").run(
        [codec.ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    ).stderr
    assert "yuv420p" in banner


def test_unique_paths_per_job(tmp_path):
    paths = {codec.unique_video_path(tmp_path) for _ in range(50)}
    assert len(paths) == 50


def test_probe_refuses_what_is_not_a_video(tmp_path):
    path = tmp_path / "fake.mp4"
    path.write_text("hello")
    with pytest.raises(VideoError):
        codec.probe(path)


