"""The CLI as a person runs it, making real MP4s: `python -m cogvideo` in a subprocess once (the
first video below), the rest through the same `main` in this process (tests/conftest.py's
run_cogvideo: the same arguments, output and exit codes, without a new interpreter each time)."""

import os
import subprocess
import sys

from cogvideo.media import codec
from tests.conftest import ROOT, make_photo
from tests.conftest import run_cogvideo as run_cli


def run_cli_process(*args, env=None):
    full_env = dict(os.environ, HF_HUB_OFFLINE="1", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "cogvideo", *args], capture_output=True, text=True, cwd=ROOT,
        env=full_env, timeout=300,
    )


def test_generate_t2v_and_i2v(tmp_path):
    out = tmp_path / "t2v.mp4"
    proc = run_cli_process("generate", "--model", "tiny", "--prompt", "a boat on a lake", "--num-inference-steps",
                           "2", "--seed", "42", "--out", str(out), "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert f"video: {out}" in proc.stdout and "seed: 42" in proc.stdout
    assert "noise" in proc.stderr  # the tiny model says what it is
    assert codec.read_frames(out).shape == (9, 96, 144, 3)
    assert codec.probe(out).fps == 8.0

    image = tmp_path / "first.png"
    make_photo(320, 240).save(image)
    proc = run_cli("generate", "--model", "tiny", "--prompt", "the sun rises", "--image", str(image),
                   "--num-inference-steps", "2", "--num-frames", "17", "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    path = proc.stdout.split("video: ")[1].splitlines()[0]
    assert codec.read_frames(path).shape == (17, 96, 144, 3)
    assert "seed: " in proc.stdout


def test_saved_tiny_pipeline_loads_from_a_folder_offline(tmp_path):
    from cogvideo.engine import tiny

    folder = tmp_path / "my-cogvideox"
    tiny.build_pipeline("t2v").save_pretrained(folder)
    proc = run_cli("generate", "--model", str(folder), "--prompt", "a red car", "--num-inference-steps", "2",
                   "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    path = proc.stdout.split("video: ")[1].splitlines()[0]
    assert codec.read_frames(path).shape == (9, 96, 144, 3)
    # A folder saved from the tiny model is still a toy: noise, in seconds, not "hours per video".
    assert "random weights" in proc.stderr and "hours" not in proc.stderr


def test_errors_are_messages_not_tracebacks(tmp_path):
    proc = run_cli("generate", "--model", "9b", "--prompt", "x")
    assert proc.returncode == 2 and "Unknown model '9b'" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("generate", "--model", "tiny", "--prompt", "x", "--num-frames", "12")
    assert proc.returncode == 2 and "num_frames=12" in proc.stderr and "9, 17" in proc.stderr
    proc = run_cli("--lang", "zh", "download", "5b")
    assert proc.returncode == 2 and "python -m cogvideo download 5b" in proc.stderr and "权重" in proc.stderr
    proc = run_cli("generate", "--model", "tiny", "--prompt", "x", "--image", str(tmp_path / "missing.png"))
    assert proc.returncode == 2 and "Picture file not found: missing.png" in proc.stderr


def test_models_table():
    proc = run_cli("models")
    assert proc.returncode == 0 and "THUDM/CogVideoX-5b-I2V" in proc.stdout and "VRAM" in proc.stdout
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:] if line.strip()}
    # name, family, task, reads Chinese, sizes, frames, fps, dtype, VRAM none/model/group/sequential, repo
    assert rows["wan2.1-1.3b"][1:9] == ["Wan", "t2v", "yes", "832×480,480×832", "81", "16", "bfloat16",
                                        "17/8.2/6/4"]
    assert rows["wan2.2-5b-i2v"][1:7] == ["Wan", "i2v", "yes", "1280×704,704×1280", "121", "24"]
    assert rows["5b"][1:4] == ["CogVideoX", "t2v", "no"] and rows["tiny-wan"][-2:] == ["(built", "in)"]
    zh = run_cli("--lang", "zh", "models").stdout
    assert "读中文" in zh and "Wan 为 4N+1" in zh


def test_download_a_wan_model_like_the_cogvideox_ones(tmp_path):
    # Offline with nothing cached: the same message as 5b's, naming the command to run.
    proc = run_cli("--lang", "zh", "download", "wan2.1-1.3b")
    assert proc.returncode == 2 and "python -m cogvideo download wan2.1-1.3b" in proc.stderr and "权重" in proc.stderr
    assert run_cli("download", "tiny-wan").stdout.strip() == "tiny-wan is built in code: nothing to download."
    # Cached (a Hub cache as huggingface_hub lays it out): the folder, once. Wan2.2's image to video
    # is the same repository, so there is no partner transformer to fetch as CogVideoX's 5b has.
    snapshot = tmp_path / "hub" / "models--Wan-AI--Wan2.2-TI2V-5B-Diffusers" / "snapshots" / ("a" * 40)
    (snapshot / "transformer").mkdir(parents=True)
    (snapshot / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("a" * 40)
    proc = run_cli_process("download", "wan2.2-5b", env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(snapshot)]


def test_generate_on_wan_takes_a_chinese_prompt_as_it_is(tmp_path):
    proc = run_cli("generate", "--model", "tiny-wan", "--prompt", "一只猫", "--num-inference-steps", "2",
                   "--seed", "5", "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert "prompt: 一只猫" in proc.stdout  # what the model read: no translation, no template
    assert "reads English" not in proc.stderr
    path = proc.stdout.split("video: ")[1].splitlines()[0]
    assert codec.read_frames(path).shape == (9, 96, 144, 3) and codec.probe(path).fps == 16.0
    # CogVideoX's T5 reads English: the same prompt there is rendered, with a note naming the way out.
    proc = run_cli("--lang", "zh", "generate", "--model", "tiny", "--prompt", "一只猫", "--num-inference-steps", "2",
                   "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 0 and "只读英文" in proc.stderr and "--model wan2.1-1.3b" in proc.stderr


def test_generate_with_style_music_and_post(tmp_path):
    proc = run_cli("generate", "--model", "tiny", "--prompt", "a lighthouse", "--num-inference-steps", "2",
                   "--style", "cinematic", "--music", "lofi", "--upscale", "--interpolate",
                   "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    path = proc.stdout.split("video: ")[1].splitlines()[0]
    info = codec.probe(path)
    assert (info.width, info.height, info.fps, info.audio_codec) == (288, 192, 16.0, "aac")
    assert "a lighthouse" in proc.stdout and "prompt: a lighthouse" not in proc.stdout  # styled


def test_listing_commands():
    styles = run_cli("styles")
    assert styles.returncode == 0 and "black-and-white" in styles.stdout and "ink-wash" in styles.stdout
    tracks = run_cli("--lang", "zh", "tracks")
    assert tracks.returncode == 0 and "nostalgic" in tracks.stdout and "宁静" in tracks.stdout
    assert "Calm" in run_cli("--lang", "en", "tracks").stdout


def test_unknown_style_and_track(tmp_path):
    proc = run_cli("generate", "--model", "tiny", "--prompt", "x", "--style", "nope")
    assert proc.returncode == 2 and "Unknown style" in proc.stderr
    proc = run_cli("generate", "--model", "tiny", "--prompt", "x", "--music", "nope")
    assert proc.returncode == 2 and "nope" in proc.stderr


def test_old_photo_from_the_cli(tmp_path):
    photo = tmp_path / "grandpa.png"
    make_photo(320, 240, "L").save(photo)
    env = {"DDCOLOR_WEIGHTS": ""}
    proc = run_cli("generate", "--model", "tiny", "--old-photo", "--image", str(photo), "--prompt", "",
                   "--num-inference-steps", "2", "--output-dir", str(tmp_path / "o"), env=env)
    # No DDColor weights offline: the message says how to get them and how to go without.
    assert proc.returncode == 2 and "hf download" in proc.stderr and "as it is" in proc.stderr
    proc = run_cli("generate", "--model", "tiny", "--old-photo", "--no-colorize", "--image", str(photo),
                   "--prompt", "", "--num-inference-steps", "2", "--output-dir", str(tmp_path / "o"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "old photograph comes to life" in proc.stdout


def test_speed_flags(tmp_path):
    proc = run_cli("generate", "--model", "tiny", "--prompt", "a boat on a lake", "--num-inference-steps", "4",
                   "--speed", "fast", "--compile", "--fp8", "--output-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert codec.read_frames(proc.stdout.split("video: ")[1].splitlines()[0]).shape == (9, 96, 144, 3)
    # No GPU here: the machine-level speed-ups are left off, and the user is told why.
    assert "compile: off" in proc.stderr and "fp8: off" in proc.stderr
    proc = run_cli("generate", "--model", "tiny", "--prompt", "x", "--speed", "turbo")
    assert proc.returncode == 2 and "invalid choice: 'turbo'" in proc.stderr


def test_restyle_extend_gif_and_lora_from_the_cli(tmp_path):
    from PIL import Image

    from cogvideo.engine import tiny
    from tests.test_creative import make_clip
    from tests.test_lora import make_lora

    clip = make_clip(tmp_path / "clip.mp4", frames=17)
    lora = make_lora(tiny.build_pipeline("t2v").transformer, tmp_path / "ink")
    out = tmp_path / "o"
    proc = run_cli("generate", "--model", "tiny", "--video", str(clip), "--strength", "0.5", "--prompt", "in ink",
                   "--num-inference-steps", "2", "--gif", "--gif-width", "480", "--lora", f"{lora}:0.7",
                   "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    video = proc.stdout.split("video: ")[1].splitlines()[0]
    assert codec.read_frames(video).shape == (9, 96, 144, 3)
    gif = proc.stdout.split("gif: ")[1].split(" (")[0]
    with Image.open(gif) as picture:
        assert picture.is_animated and picture.width == 144  # never wider than the video

    # Extend the restyled clip by two parts: 9 + 9 + 9 - 2 joins = 25 frames.
    proc = run_cli("generate", "--model", "tiny", "--extend", video, "--extensions", "2", "--prompt", "onward",
                   "--num-inference-steps", "2", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    extended = proc.stdout.split("video: ")[1].splitlines()[0]
    assert codec.read_frames(extended).shape[0] == 25


def test_cli_bad_creative_values_are_named_before_any_work(tmp_path):
    from tests.test_creative import make_clip

    clip = make_clip(tmp_path / "clip.mp4")
    cases = [
        (("--video", str(clip), "--strength", "5"), "strength=5"),
        (("--extend", str(clip), "--extensions", "50"), "extensions=50"),
        (("--video", str(tmp_path / "missing.mp4")), "missing.mp4"),
        (("--gif", "--gif-width", "10"), "width=10"),
        (("--lora", str(tmp_path / "nowhere.safetensors")), "nowhere.safetensors"),
        (("--video", str(clip), "--extend", str(clip)), "--video"),
    ]
    for extra, needle in cases:
        proc = run_cli("--lang", "en", "generate", "--model", "tiny", "--prompt", "x", "--num-inference-steps", "2",
                       "--output-dir", str(tmp_path / "o"), *extra)
        assert proc.returncode == 2, (extra, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr, (extra, proc.stderr)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("*.mp4"))
