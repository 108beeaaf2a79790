"""Large-but-allowed pictures cost megabytes, not gigabytes (issue 11, item 8).

Memory is measured in a fresh Python process (peak and current RSS from /proc/self/status)
decoding real files through `codec.load_image`: a ~100-megapixel PNG of about a megabyte (before:
+0.77 GB peak for one) and a 120-megapixel JPEG (before: four at once on long-lived threads left
0.9 GB resident).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from cogvideo.errors import ImageError
from cogvideo.media import codec
from tests.conftest import ROOT, make_photo

COLOUR = (40, 120, 200)
# Memory is read from /proc (Linux); the other tests run anywhere.
linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/self")


# ---------------------------------------------------------------- real files, written small

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_flat_png(path: Path, width: int, height: int, colour=COLOUR, interlace: bool = False) -> Path:
    """A real 8-bit RGB PNG of one colour, written a row at a time (never whole in memory), the way
    encoders write a flat picture: the first row Sub-filtered (one pixel, then zero differences),
    every other row Up-filtered (all zero). Decoding it right needs every row's predecessor.
    Interlaced (Adam7): each pass's rows unfiltered."""
    deflate = zlib.compressobj(1)
    data = []
    if interlace:
        for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                               (1, 0, 2, 2), (0, 1, 1, 2)):
            columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
            if columns > 0 and rows > 0:
                data += [deflate.compress(b"\x00" + bytes(colour) * columns) for _ in range(rows)]
    else:
        data.append(deflate.compress(b"\x01" + bytes(colour) + bytes(3 * (width - 1))))
        rest = b"\x02" + bytes(3 * width)
        for _ in range(height - 1):
            data.append(deflate.compress(rest))
    data.append(deflate.flush())
    stream = b"".join(data)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, int(interlace))))
        for start in range(0, len(stream), 1 << 16):  # several IDAT chunks, as encoders write them
            f.write(png_chunk(b"IDAT", stream[start:start + (1 << 16)]))
        f.write(png_chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def big_png(tmp_path_factory) -> Path:
    # 12000 × 8400 = 100.8 megapixels; ~1.3 MB on disk. Pillow alone would hold 403 MB decoded.
    return write_flat_png(tmp_path_factory.mktemp("big") / "flat-100mp.png", 12000, 8400)


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory) -> Path:
    # 12000 × 9992 = 119.9 megapixels (just under the limit), baseline, made by ffmpeg's encoder so
    # that this process never holds it whole.
    path = tmp_path_factory.mktemp("big") / "flat-120mp.jpg"
    subprocess.run(
        [codec.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "color=c=0x2878c8:s=12000x9992", "-frames:v", "1", "-q:v", "3", str(path)],
        check=True, capture_output=True,
    )
    return path


def run_measured(script: str, *args: str, timeout: float = 300) -> dict:
    """Run `script` in a fresh interpreter at the repo root; it prints one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


PRELUDE = """
import json, sys
from PIL import Image
from cogvideo.media import codec

def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

def rss_mb():
    return status_mb("VmRSS")

def peak_mb():
    # VmHWM, not getrusage's ru_maxrss: Linux carries the parent's (pytest's) high-water mark into
    # a child's ru_maxrss across fork and exec.
    return status_mb("VmHWM")

# Decode a small PNG and JPEG first: plugins and code are loaded before the baseline.
for ext in ("png", "jpg"):
    Image.new("RGB", (80, 80)).save(sys.argv[1] + "." + ext)
    codec.load_image(sys.argv[1] + "." + ext)
base = rss_mb()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the high-water mark starts again from here
"""


# ---------------------------------------------------------------- one large decode

@linux_only
def test_a_100_megapixel_png_decodes_in_bounded_memory(big_png, tmp_path):
    script = PRELUDE + """
image = codec.load_image(sys.argv[2])
peak = peak_mb() - base
size, colours = image.size, image.getcolors(1)
del image
print(json.dumps({"peak": peak, "after": rss_mb() - base, "size": size, "colours": colours}))
"""
    result = run_measured(script, str(tmp_path / "warm"), str(big_png))
    # Whole, it was +915 MB (403 MB decoded, an EXIF copy, the thumbnail). In strips: ~+60 MB.
    assert result["peak"] < 400, result
    assert result["after"] < 50, result
    # 12000 × 8400 reduced to the working side, aspect kept; every pixel the file's colour (so every
    # strip's first row found its predecessor).
    assert result["size"] == [codec.WORKING_SIDE, round(codec.WORKING_SIDE * 8400 / 12000)]
    assert result["colours"] is not None and tuple(result["colours"][0][1]) == COLOUR


@linux_only
def test_a_120_megapixel_jpeg_decodes_in_bounded_memory(big_jpeg, tmp_path):
    script = PRELUDE + """
image = codec.load_image(sys.argv[2])
print(json.dumps({"peak": peak_mb() - base, "size": image.size}))
"""
    result = run_measured(script, str(tmp_path / "warm"), str(big_jpeg))
    assert result["peak"] < 400, result
    assert max(result["size"]) == codec.WORKING_SIDE


# ---------------------------------------------------------------- many at once

@linux_only
def test_four_large_pictures_at_once_leave_no_memory_behind(big_jpeg, tmp_path):
    """Four at once on long-lived worker threads (as Gradio runs handlers), twice: before, the
    peak was ~1 GB and ~0.9 GB stayed resident after the pictures were gone."""
    script = PRELUDE + """
from concurrent.futures import ThreadPoolExecutor
pool = ThreadPoolExecutor(4)
list(pool.map(codec.load_image, [sys.argv[1] + ".png"] * 4))  # the threads exist before the baseline
base = rss_mb()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
after = []
for _ in range(2):
    images = list(pool.map(codec.load_image, [sys.argv[2]] * 4))
    assert all(max(image.size) == codec.WORKING_SIDE for image in images)
    del images
    after.append(rss_mb() - base)
print(json.dumps({"peak": peak_mb() - base, "after": after}))
"""
    result = run_measured(script, str(tmp_path / "warm"), str(big_jpeg))
    assert result["peak"] < 600, result
    assert max(result["after"]) < 100, result


def large_jpeg(tmp_path: Path, name: str, width: int = 3000, height: int = 2000) -> Path:
    path = tmp_path / name
    make_photo(width, height).save(path, quality=90)  # 6 megapixels: above LARGE_IMAGE_PIXELS
    return path


def count_concurrent_decodes(monkeypatch, paths: list[Path]) -> tuple[int, list]:
    """Load every path on its own thread; return the most decodes that ran at the same time."""
    active, most, lock = 0, 0, threading.Lock()
    real_load = ImageFile.ImageFile.load

    def slow_load(self):
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        try:
            time.sleep(0.3)  # long enough that unbounded threads surely overlap
            return real_load(self)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", slow_load)
    results: list = [None] * len(paths)

    def load(index: int) -> None:
        results[index] = codec.load_image(paths[index])

    threads = [threading.Thread(target=load, args=(i,)) for i in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return most, results


def test_large_decodes_wait_for_a_slot(monkeypatch, tmp_path):
    paths = [large_jpeg(tmp_path, f"p{i}.jpg") for i in range(4)]
    most, results = count_concurrent_decodes(monkeypatch, paths)
    assert most == 2 == codec.MAX_CONCURRENT_DECODES
    # Waiting is not failing: every picture came out.
    assert all(image is not None and image.size == (codec.WORKING_SIDE, 1365) for image in results)


def test_small_pictures_do_not_wait(monkeypatch, tmp_path):
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"s{i}.jpg")
        make_photo(800, 600).save(paths[-1])
    most, results = count_concurrent_decodes(monkeypatch, paths)
    assert most > codec.MAX_CONCURRENT_DECODES
    assert all(image.size == (800, 600) for image in results)


# ---------------------------------------------------------------- what cannot be decoded reduced

@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_over_the_limit_is_refused_from_the_header_naming_size_and_limit(tmp_path):
    # 12000 × 10001 = 120,012,000 pixels: one row over. Refused before any pixel is decoded (the
    # file's data would be far too short for its size anyway).
    path = write_flat_png(tmp_path / "over.png", 12000, 3)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", 12000, 10001)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError) as err:
        codec.load_image(path)
    assert "12000×10001 pixels" in err.value.en and "120,000,000 pixels" in err.value.en
    assert "12000×10001 像素" in err.value.zh and "120,000,000 像素" in err.value.zh


@pytest.mark.parametrize("kind", ["interlaced PNG", "16-bit PNG", "progressive JPEG", "WebP"])
def test_formats_decoded_whole_have_a_lower_limit(kind, tmp_path, monkeypatch):
    """Pillow decodes these whole (progressive JPEGs keep every DCT coefficient), so they are
    refused above MAX_WHOLE_DECODE_PIXELS; here the limit is lowered so the files stay small."""
    monkeypatch.setattr(codec, "MAX_WHOLE_DECODE_PIXELS", 100_000)
    photo = make_photo(600, 400)  # 240,000 pixels
    path = tmp_path / "picture"
    if kind == "interlaced PNG":
        write_flat_png(path, 600, 400, interlace=True)
    elif kind == "16-bit PNG":
        Image.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257)).save(path, "PNG")
    elif kind == "progressive JPEG":
        photo.save(path, "JPEG", progressive=True)
    else:
        photo.save(path, "WebP")
    with pytest.raises(ImageError) as err:
        codec.load_image(path)
    assert "600×400 pixels" in err.value.en and "100,000 pixels" in err.value.en
    assert "600×400 像素" in err.value.zh and "100,000 像素" in err.value.zh
    # Within the limit the same files load.
    monkeypatch.setattr(codec, "MAX_WHOLE_DECODE_PIXELS", 1_000_000)
    assert codec.load_image(path).size == (600, 400)


# ---------------------------------------------------------------- strips decode exactly

def varied_png_images() -> dict[str, Image.Image]:
    """Pictures in every 8-bit PNG colour type, textured so Pillow's encoder uses all five row
    filters (None, Sub, Up, Average, Paeth)."""
    rng = np.random.default_rng(1)
    height, width = 301, 257
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 3 + y) % 256, (y * 2) % 256, (x * y) % 256], -1).astype(np.uint8)
    rgb = Image.fromarray(base + rng.integers(0, 40, base.shape, dtype=np.uint8))
    rgba = np.array(rgb.convert("RGBA"))
    rgba[..., 3] = (x % 256).astype(np.uint8)
    palette = rgb.quantize(64)
    palette.info["transparency"] = 3
    return {"RGB": rgb, "RGBA": Image.fromarray(rgba), "L": rgb.convert("L"), "LA": rgb.convert("LA"),
            "P": rgb.quantize(200), "P+tRNS": palette}


@pytest.mark.parametrize("strip_bytes", [1, 5_000, 1 << 22])
@pytest.mark.parametrize("factor", [1, 3])
def test_png_strips_match_a_whole_decode(strip_bytes, factor, tmp_path, monkeypatch):
    monkeypatch.setattr(codec, "PNG_STRIP_BYTES", strip_bytes)  # 1: one row (or `factor` rows) a strip
    for name, image in varied_png_images().items():
        path = tmp_path / f"{name}.png"
        image.save(path, **{key: image.info[key] for key in ("transparency",) if key in image.info})
        layout = codec._png_layout(path)
        strips, _ = codec._decode_png_in_strips(path, layout, factor)
        whole = codec.to_rgb(Image.open(path))
        whole = whole.reduce(factor) if factor > 1 else whole
        assert strips.size == whole.size, name
        assert np.array_equal(np.asarray(strips), np.asarray(whole)), name


@linux_only
def test_strip_path_applies_exif_orientation_and_closes_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(codec, "WORKING_SIDE", 150)
    monkeypatch.setattr(codec, "LARGE_IMAGE_PIXELS", 0)
    used = []
    real = codec._decode_png_in_strips
    monkeypatch.setattr(codec, "_decode_png_in_strips", lambda *a: used.append(a[2]) or real(*a))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rotated.png"
    make_photo(300, 200).save(path, exif=exif)
    open_files = len(os.listdir("/proc/self/fd"))
    loaded = codec.load_image(path)
    assert len(os.listdir("/proc/self/fd")) == open_files
    assert used == [2]  # 300 // 150: reduced by 2 while decoding
    assert loaded.size == (100, 150) and loaded.mode == "RGB"


def test_damaged_large_png_gets_the_damaged_message(big_png, tmp_path, monkeypatch):
    cut = tmp_path / "cut.png"
    cut.write_bytes(big_png.read_bytes()[: big_png.stat().st_size // 2])
    with pytest.raises(ImageError, match="damaged or incomplete") as err:
        codec.load_image(cut)
    assert "损坏" in err.value.zh


def test_a_picture_passed_in_is_not_changed(monkeypatch):
    monkeypatch.setattr(codec, "WORKING_SIDE", 100)
    photo = make_photo(300, 200, "RGBA")
    before = photo.tobytes()
    loaded = codec.load_image(photo)
    assert loaded is not photo and loaded.size == (100, 67) and loaded.mode == "RGB"
    assert photo.size == (300, 200) and photo.mode == "RGBA" and photo.tobytes() == before
    small = make_photo(120, 80)
    assert codec.load_image(small) is not small


@linux_only
def test_prompt_agent_never_copies_a_large_picture_whole(tmp_path):
    """The prompt agent resizes before converting: a 24-megapixel RGBA picture (96 MB) handed to it
    costs about its 1024-px JPEG, not two or three full-size RGB copies (+300 MB before)."""
    script = PRELUDE + """
from agent.images import describe, to_data_url
photo = Image.new("RGBA", (6000, 4000), (200, 100, 50, 128))
base = rss_mb()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
url, facts = to_data_url(photo), describe(photo)
print(json.dumps({"peak": peak_mb() - base, "url": len(url), "mode": photo.mode, "tone": facts.tone}))
"""
    result = run_measured(script, str(tmp_path / "warm"))
    assert result["peak"] < 60, result
    assert result["mode"] == "RGBA" and result["tone"] == "warm"
