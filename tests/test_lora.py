"""LoRAs on the tiny pipelines: real LoRA files made here with peft, loaded through diffusers.

Shapes (tiny.py): the T2V transformer is 4 heads × 8 = width 32, the I2V one 4 × 16 = 64; each has
2 blocks. A LoRA of rank 4 on attn1's to_q/to_k/to_v/to_out.0 holds, per layer, lora_A (rank, in) =
(4, 32) and lora_B (out, rank) = (32, 4): 2 blocks × 4 layers × 2 = 16 tensors. A render of 9 frames
at 32×48 has (9 - 1) / 4 + 1 = 3 latent frames of 4×6 latents, 2×3 patches each: 18 video tokens.
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cogvideo.engine import lora, models, tiny
from cogvideo.errors import InvalidRequest
from tests.conftest import ROOT

SHARED = ("tokenizer", "text_encoder", "vae", "scheduler")
TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


# ---------------------------------------------------------------- helpers


def make_lora(transformer, folder: Path, seed: int = 1, rank: int = 4) -> Path:
    """Train nothing: random LoRA layers (init_lora_weights=False, so lora_B is not zero) on a copy of
    `transformer`, saved as diffusers saves a LoRA. Returns the folder."""
    from diffusers import CogVideoXPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    model = copy.deepcopy(transformer)
    torch.manual_seed(seed)
    model.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=TARGETS, init_lora_weights=False))
    CogVideoXPipeline.save_lora_weights(folder, transformer_lora_layers=get_peft_model_state_dict(model))
    return folder


def write_lora_shapes(path: Path, width: int, blocks: int = 2, rank: int = 1) -> Path:
    """A LoRA file with CogVideoX's key names and the shapes of a model of `width`, zeros inside: a
    2B LoRA at rank 1 is 1×1920 / 1920×1 per matrix, a few KB."""
    from safetensors.torch import save_file

    tensors = {}
    for block in range(blocks):
        for layer in ("to_q", "to_k", "to_v", "to_out.0"):
            key = f"transformer.transformer_blocks.{block}.attn1.{layer}"
            tensors[f"{key}.lora_A.weight"] = torch.zeros(rank, width)
            tensors[f"{key}.lora_B.weight"] = torch.zeros(width, rank)
    save_file(tensors, path)
    return path


def render(pipe) -> np.ndarray:
    return pipe(
        "a cat walks in the park", num_inference_steps=2, num_frames=9, height=32, width=48,
        generator=torch.Generator().manual_seed(0), output_type="np",
    ).frames


def snapshot(transformer) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in transformer.state_dict().items()}


def assert_bitwise(transformer, before: dict[str, torch.Tensor]) -> None:
    after = transformer.state_dict()
    assert list(after) == list(before)  # no LoRA wrapper left (their keys read "...base_layer.weight")
    assert all(torch.equal(after[key], before[key]) for key in before)
    assert getattr(transformer, "peft_config", None) is None


def bilingual(exc: pytest.ExceptionInfo, *needles: str) -> str:
    """The English message (containing each needle); the Chinese one must exist and differ."""
    error = exc.value
    assert isinstance(error, InvalidRequest)
    for needle in needles:
        assert needle in error.en, (needle, error.en)
    assert error.zh and error.zh != error.en
    return error.en


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tensors this small gain nothing from threads: a render takes 0.3 s on one, 2-4 s on two busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def t2v():
    pipe = tiny.build_pipeline("t2v")
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def i2v(t2v):
    pipe = tiny.build_pipeline("i2v", shared={name: getattr(t2v, name) for name in SHARED})
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def base(t2v) -> np.ndarray:
    return render(t2v)


@pytest.fixture(scope="module")
def style_dir(t2v, tmp_path_factory) -> Path:
    return make_lora(t2v.transformer, tmp_path_factory.mktemp("loras") / "Style-LoRA", seed=1)


@pytest.fixture(scope="module")
def other_dir(t2v, tmp_path_factory) -> Path:
    return make_lora(t2v.transformer, tmp_path_factory.mktemp("loras") / "other", seed=2)


@pytest.fixture(scope="module")
def style_at_one(t2v, style_dir, base) -> np.ndarray:
    """The tiny T2V render with the style LoRA at scale 1 (then unloaded)."""
    lora.load_loras(t2v, [lora.check_lora(lora.LoraSpec(str(style_dir)))])
    try:
        return render(t2v)
    finally:
        lora.unload_loras(t2v)


# ---------------------------------------------------------------- load, scale, unload


def test_scale_zero_is_the_base_model_and_unload_restores_every_weight(t2v, base, style_dir):
    before = snapshot(t2v.transformer)
    style = lora.check_lora(lora.parse_lora(f"{style_dir}:0"))
    assert (style.width, style.rank, style.blocks, style.layers) == (32, 4, 2, 8)
    assert style.spec.name == "style_lora" and style.diffusers_format

    lora.load_loras(t2v, [style])
    try:
        assert set(t2v.transformer.peft_config) == {"style_lora"}
        assert np.array_equal(render(t2v), base)  # default scale 0: exactly the base model

        lora.set_lora_scales(t2v, {"style_lora": 1.0})
        at_one = render(t2v)
        assert np.abs(at_one - base).max() > 1e-3

        lora.set_lora_scales(t2v, {"style_lora": 0.5})
        at_half = render(t2v)
        assert not np.array_equal(at_half, at_one) and not np.array_equal(at_half, base)

        lora.set_lora_scales(t2v, {"style_lora": 1.0})
        assert np.array_equal(render(t2v), at_one)  # back and forth: the same video
        lora.set_lora_scales(t2v, {})  # the default again: 0
        assert np.array_equal(render(t2v), base)
    finally:
        lora.unload_loras(t2v)
    assert np.array_equal(render(t2v), base)
    assert_bitwise(t2v.transformer, before)


def test_a_lora_at_zero_leaves_the_active_set(t2v, style_dir, other_dir, style_at_one):
    loras = [lora.check_lora(spec) for spec in lora.parse_loras([str(style_dir), f"{other_dir}:0.7"])]
    lora.load_loras(t2v, loras)
    try:
        assert t2v.get_active_adapters() == ["style_lora", "other"]
        lora.set_lora_scales(t2v, {"other": 0})
        assert t2v.get_active_adapters() == ["style_lora"]
        # The second LoRA at 0 changes nothing: the same video as the first one alone.
        assert np.array_equal(render(t2v), style_at_one)
    finally:
        lora.unload_loras(t2v)


def test_set_scales_does_nothing_when_nothing_changed(t2v, style_dir, monkeypatch):
    calls = []
    set_adapters = t2v.set_adapters
    monkeypatch.setattr(t2v, "set_adapters", lambda *args: calls.append(args) or set_adapters(*args))
    lora.load_loras(t2v, [lora.check_lora(lora.parse_lora(f"{style_dir}:0.8"))])
    try:
        assert calls == [(["style_lora"], [0.8])]
        lora.set_lora_scales(t2v, {})
        lora.set_lora_scales(t2v, {"style_lora": 0.8})
        assert len(calls) == 1
        lora.set_lora_scales(t2v, {"style_lora": 1.2})
        assert calls[-1] == (["style_lora"], [1.2])
    finally:
        lora.unload_loras(t2v)


def test_scales_are_checked_by_name_and_range(t2v, style_dir):
    loaded = lora.parse_loras([f"{style_dir}:0.6", "x/other.safetensors"])
    assert lora.check_lora_scales({"other": 2}, loaded) == {"style_lora": 0.6, "other": 2.0}
    with pytest.raises(InvalidRequest) as exc:
        lora.check_lora_scales({"styel": 1.0}, loaded)
    bilingual(exc, "'styel'", "style_lora, other")
    for bad in (2.5, -0.1, float("nan"), "1", True):
        with pytest.raises(InvalidRequest) as exc:
            lora.check_lora_scales({"other": bad}, loaded)
        bilingual(exc, repr(bad), "from 0 to 2")
    with pytest.raises(InvalidRequest) as exc:
        lora.check_lora_scales({"style": 1.0}, ())
    bilingual(exc, "no LoRA is loaded", "--lora")

    lora.load_loras(t2v, [lora.check_lora(loaded[0])])
    try:
        with pytest.raises(InvalidRequest) as exc:
            lora.set_lora_scales(t2v, {"other_name": 1.0})
        bilingual(exc, "'other_name'", "style_lora")
        with pytest.raises(InvalidRequest):
            lora.set_lora_scales(t2v, {"style_lora": 3})
    finally:
        lora.unload_loras(t2v)


def test_a_shared_transformer_takes_the_lora_once(t2v, style_dir, base, style_at_one):
    from diffusers import CogVideoXPipeline

    twin = CogVideoXPipeline(**t2v.components)  # a second pipeline object around the same modules
    twin.set_progress_bar_config(disable=True)
    style = lora.check_lora(lora.LoraSpec(str(style_dir)))
    lora.load_loras(t2v, [style])
    try:
        lora.load_loras(twin, [style])  # diffusers alone: "Adapter name style_lora already in use"
        lora.set_lora_scales(twin, {"style_lora": 0.0})
        assert np.array_equal(render(t2v), base)
        lora.set_lora_scales(t2v, {"style_lora": 1.0})
        assert np.array_equal(render(twin), style_at_one)
    finally:
        lora.unload_loras(twin)
    assert np.array_equal(render(t2v), base)


def test_kohya_names_and_alphas_load_as_the_same_lora(t2v, style_dir, style_at_one, tmp_path):
    """lora_down/lora_up under kohya's flat names, lora_up halved and alpha = 2 × rank: the same layers."""
    from safetensors.torch import load_file, save_file

    kohya = {}
    for key, tensor in load_file(style_dir / lora.LORA_FILE).items():
        module, _, kind = key.removeprefix("transformer.").rpartition(".lora_")
        flat = "lora_unet_" + module.replace(".", "_")
        if kind == "A.weight":
            kohya[f"{flat}.lora_down.weight"] = tensor
        else:
            kohya[f"{flat}.lora_up.weight"] = tensor / 2  # alpha / rank = 8 / 4 = 2 brings it back
            kohya[f"{flat}.alpha"] = torch.tensor(8.0)
    save_file(kohya, tmp_path / "kohya.safetensors")

    converted = lora.check_lora(lora.LoraSpec(str(tmp_path / "kohya.safetensors")))
    assert (converted.width, converted.rank, converted.layers, converted.diffusers_format) == (32, 4, 8, False)
    lora.load_loras(t2v, [converted])
    try:
        assert np.array_equal(render(t2v), style_at_one)
    finally:
        lora.unload_loras(t2v)


# ---------------------------------------------------------------- which model a LoRA fits


def test_a_lora_fits_the_transformer_of_its_width(t2v, i2v, style_dir, tmp_path):
    t2v_lora = lora.check_lora(lora.LoraSpec(str(style_dir)))
    i2v_lora = lora.check_lora(lora.LoraSpec(str(make_lora(i2v.transformer, tmp_path / "i2v"))))
    assert (t2v_lora.width, i2v_lora.width) == (32, 64)  # 4 heads × 8, 4 heads × 16
    tiny_family = [models.VARIANTS["tiny"], models.VARIANTS["tiny-i2v"]]
    assert lora.check_fits(t2v_lora, tiny_family) == ["t2v"]
    assert lora.check_fits(i2v_lora, tiny_family) == ["i2v"]

    with pytest.raises(InvalidRequest) as exc:
        lora.check_fits(i2v_lora, [models.VARIANTS["tiny"]])
    bilingual(exc, "i2v (pytorch_lora_weights.safetensors) is a LoRA for tiny-i2v (width 64)",
              "the loaded model is tiny (width 32)", "--model tiny-i2v")

    # A width no CogVideoX model has (48 = 4 heads × 12).
    odd = lora.check_lora(lora.LoraSpec(str(write_lora_shapes(tmp_path / "odd.safetensors", 48))))
    with pytest.raises(InvalidRequest) as exc:
        lora.check_fits(odd, tiny_family)
    bilingual(exc, "odd.safetensors is a LoRA for a transformer of width 48, which no CogVideoX model has",
              "tiny (width 32) and tiny-i2v (width 64)")


def test_a_2b_lora_is_refused_for_5b_before_anything_loads(tmp_path):
    two_b = lora.check_lora(lora.LoraSpec(str(write_lora_shapes(tmp_path / "style.safetensors", 1920, blocks=30))))
    assert (two_b.width, two_b.rank, two_b.blocks) == (1920, 1, 30)
    assert lora.check_fits(two_b, [models.VARIANTS["2b"]]) == ["t2v"]
    with pytest.raises(InvalidRequest) as exc:
        lora.check_fits(two_b, [models.VARIANTS["5b"], models.VARIANTS["5b-i2v"]])
    assert bilingual(exc) == (
        "style.safetensors is a LoRA for CogVideoX-2B (width 1920); the loaded model is CogVideoX-5B "
        "(width 3072). Use a LoRA made for CogVideoX-5B, or start with --model 2b."
    )
    assert "CogVideoX-2B（宽度 1920）" in exc.value.zh and "--model 2b" in exc.value.zh

    five_b = lora.check_lora(lora.LoraSpec(str(write_lora_shapes(tmp_path / "five.safetensors", 3072))))
    assert lora.check_fits(five_b, [models.VARIANTS["5b"], models.VARIANTS["5b-i2v"]]) == ["t2v", "i2v"]
    assert lora.check_fits(five_b, [models.VARIANTS["1.5-5b"]]) == ["t2v"]


def test_a_local_model_folder_gives_its_width_from_its_config(i2v, tmp_path):
    i2v.transformer.save_config(tmp_path / "model" / "transformer")
    index = {"_class_name": "CogVideoXImageToVideoPipeline"}
    (tmp_path / "model" / "model_index.json").write_text(json.dumps(index))
    variant = models.resolve(str(tmp_path / "model"))
    assert lora.model_width(variant) == 64
    wide = lora.check_lora(lora.LoraSpec(str(write_lora_shapes(tmp_path / "w.safetensors", 64))))
    assert lora.check_fits(wide, [variant]) == ["i2v"]


def test_load_skips_a_lora_made_for_the_partner_pipeline(t2v, i2v, style_dir):
    style = lora.check_lora(lora.LoraSpec(str(style_dir)))
    before = snapshot(i2v.transformer)
    lora.load_loras(i2v, [style])  # width 32 into width 64: it is the T2V pipeline's LoRA
    try:
        assert getattr(i2v.transformer, "peft_config", None) is None
        lora.set_lora_scales(i2v, {"style_lora": 0.5})  # a request's scales name it: accepted
        with pytest.raises(InvalidRequest):
            lora.set_lora_scales(i2v, {"nope": 0.5})
    finally:
        lora.unload_loras(i2v)
    assert_bitwise(i2v.transformer, before)


def test_a_shape_error_from_diffusers_is_the_wrong_size_message(i2v, style_dir):
    # Claim width 64 so that the width check lets it through: peft then meets (4, 32) where (4, 64) is.
    liar = replace(lora.check_lora(lora.LoraSpec(str(style_dir))), width=64)
    before = snapshot(i2v.transformer)
    with pytest.raises(InvalidRequest) as exc:
        lora.load_loras(i2v, [liar])
    bilingual(exc, "is a LoRA for tiny-i2v (width 64)", "the loaded model is tiny-i2v (width 64)")
    assert_bitwise(i2v.transformer, before)  # no adapter, no empty LoRA wrapper left behind


def test_a_lora_for_more_blocks_than_the_model_has_is_refused(t2v, tmp_path):
    deep = lora.check_lora(lora.LoraSpec(str(write_lora_shapes(tmp_path / "deep.safetensors", 32, blocks=3))))
    with pytest.raises(InvalidRequest) as exc:
        lora.load_loras(t2v, [deep])
    bilingual(exc, "block 2", "has 2 blocks")
    assert getattr(t2v.transformer, "peft_config", None) is None


# ---------------------------------------------------------------- naming a LoRA


@pytest.mark.parametrize(
    ("text", "source", "scale", "name"),
    [
        ("a.safetensors", "a.safetensors", 1.0, "a"),
        ("a.safetensors:0.7", "a.safetensors", 0.7, "a"),
        ("C:\\x\\My Style.safetensors:0.5", "C:\\x\\My Style.safetensors", 0.5, "my_style"),
        ("C:\\x\\a.safetensors", "C:\\x\\a.safetensors", 1.0, "a"),
        ("owner/Disney-LoRA", "owner/Disney-LoRA", 1.0, "disney_lora"),
        ("owner/name:0.8", "owner/name", 0.8, "name"),
        ("runs/v2/pytorch_lora_weights.safetensors:2", "runs/v2/pytorch_lora_weights.safetensors", 2.0, "v2"),
        # Not a number after the last ':': all of it is the path (resolve_lora says it is missing).
        ("a.safetensors:abc", "a.safetensors:abc", 1.0, "a_safetensors_abc"),
        ("风格.safetensors", "风格.safetensors", 1.0, "lora"),
    ],
)
def test_parse_lora(text, source, scale, name):
    assert lora.parse_lora(text) == lora.LoraSpec(source, scale, name)


@pytest.mark.parametrize("text", ["a.safetensors:2.5", "a.safetensors:-1", "a.safetensors:nan", "o/name:inf", ""])
def test_parse_lora_refuses_a_bad_scale(text):
    with pytest.raises(InvalidRequest) as exc:
        lora.parse_lora(text)
    bilingual(exc)


def test_parse_loras_makes_names_unique():
    texts = ["style.safetensors", "x/style.safetensors:0.5", "style_2.safetensors", "owner/style"]
    specs = lora.parse_loras(texts)
    assert [spec.name for spec in specs] == ["style", "style_2", "style_2_2", "style_3"]
    assert specs[1].scale == 0.5


# ---------------------------------------------------------------- files that are not LoRAs


def test_files_that_are_not_a_cogvideox_lora_say_what_they_are(t2v, tmp_path):
    from safetensors.torch import save_file

    save_file({"alpha": torch.randn(3, 4), "beta": torch.randn(5)}, tmp_path / "random.safetensors")
    (tmp_path / "notes.safetensors").write_text("these are my notes, not weights\n")
    save_file({k: v.contiguous() for k, v in t2v.transformer.state_dict().items()}, tmp_path / "full.safetensors")
    save_file({"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": torch.zeros(1, 3072),
               "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": torch.zeros(3072, 1)},
              tmp_path / "flux.safetensors")  # Flux names its attention "attn", CogVideoX "attn1"
    save_file({"transformer.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 32),
               "transformer.transformer_blocks.0.attn1.to_q.lora_B.weight": torch.zeros(32, 2)},
              tmp_path / "torn.safetensors")  # rank 4 in lora_A, 2 in lora_B
    save_file({"transformer.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 32),
               "transformer.transformer_blocks.0.attn1.to_q.lora_B.weight": torch.zeros(32, 4),
               "transformer.transformer_blocks.0.attn1.to_q.lora_magnitude_vector": torch.ones(32)},
              tmp_path / "dora.safetensors")
    cases = {
        "random.safetensors": "holds 2 tensors and none is a LoRA layer (e.g. alpha, beta)",
        "notes.safetensors": "is not a safetensors file (it is a text file starting 'these are my notes",
        "full.safetensors": "is a full model checkpoint",
        "flux.safetensors": "is not a LoRA for a CogVideoX or Wan transformer",
        "torn.safetensors": "is damaged: layer transformer_blocks.0.attn1.to_q has lora_A (4, 32) and lora_B (32, 2)",
        "dora.safetensors": "is a DoRA",
    }
    for name, what in cases.items():
        with pytest.raises(InvalidRequest) as exc:
            lora.check_lora(lora.LoraSpec(str(tmp_path / name)))
        bilingual(exc, what, "transformer.transformer_blocks.0.attn1.to_q.lora_A.weight")


def test_a_missing_path_is_named(tmp_path):
    for text in (str(tmp_path / "nope.safetensors"), "loras/nope.safetensors", "C:\\loras\\nope.safetensors"):
        with pytest.raises(InvalidRequest) as exc:
            lora.check_lora(lora.parse_lora(text))
        bilingual(exc, f"LoRA {text!r}: no such file or folder")
    with pytest.raises(InvalidRequest) as exc:
        lora.check_lora(lora.parse_lora(f"{tmp_path}/a.safetensors:abc"))
    bilingual(exc, "If 'abc' is meant as the scale", f"{tmp_path}/a.safetensors:0.8")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidRequest) as exc:
        lora.check_lora(lora.LoraSpec(str(tmp_path / "empty")))
    bilingual(exc, "holds no .safetensors file")


def test_a_folder_with_one_safetensors_file_is_that_file(style_dir, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "step_500.safetensors").write_bytes((style_dir / lora.LORA_FILE).read_bytes())
    assert lora.resolve_lora(lora.LoraSpec(str(tmp_path / "run"))) == tmp_path / "run" / "step_500.safetensors"
    (tmp_path / "run" / "step_1000.safetensors").write_bytes(b"")
    with pytest.raises(InvalidRequest) as exc:
        lora.resolve_lora(lora.LoraSpec(str(tmp_path / "run")))
    bilingual(exc, "several .safetensors files (step_1000.safetensors, step_500.safetensors)")


# ---------------------------------------------------------------- the Hub (a local stand-in, never the network)


RESOLVE = """
import json, sys
from cogvideo.engine import lora
out = []
for text in sys.argv[1:]:
    try:
        out.append(["ok", str(lora.resolve_lora(lora.parse_lora(text)))])
    except Exception as exc:
        out.append([type(exc).__name__, exc.en, exc.zh])
print(json.dumps(out))
"""


def resolve_in_subprocess(env: dict[str, str], *texts: str) -> list[list[str]]:
    """huggingface_hub reads HF_HUB_OFFLINE, HF_HOME and HF_ENDPOINT at import: a fresh process each."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_DISABLE_TELEMETRY": "1", **env}
    done = subprocess.run([sys.executable, "-c", RESOLVE, *texts], env=full_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


class FakeHub(http.server.ThreadingHTTPServer):
    """Answers huggingface_hub's HEAD and GET for /{repo}/resolve/{revision}/{file}, as the Hub does."""

    def __init__(self, files: dict[tuple[str, str], bytes]):
        self.files = files

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(handler, with_body: bool) -> None:
                parts = handler.path.split("?")[0].strip("/").split("/")
                repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
                data = self.files.get((repo, filename))
                handler.send_response(200 if data is not None else 404)
                if data is None:
                    known = any(known_repo == repo for known_repo, _ in self.files)
                    handler.send_header("X-Error-Code", "EntryNotFound" if known else "RepoNotFound")
                    data, with_body = b"", False
                else:
                    handler.send_header("X-Repo-Commit", "0" * 40)
                    handler.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                if with_body:
                    handler.wfile.write(data)

            def do_HEAD(handler):
                handler.answer(False)

            def do_GET(handler):
                handler.answer(True)

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_a_hub_id_while_offline_says_how_to_get_it(tmp_path):
    (tmp_path / "hf").mkdir()
    offline = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    [[kind, en, zh]] = resolve_in_subprocess(offline, "owner/name:0.8")
    assert kind == "InvalidRequest"
    assert "owner/name/pytorch_lora_weights.safetensors is not in the Hugging Face cache" in en
    assert "offline mode (HF_HUB_OFFLINE) is on" in en
    assert "`huggingface-cli download owner/name pytorch_lora_weights.safetensors`" in en
    assert "local .safetensors file" in en
    assert "离线模式" in zh and "huggingface-cli download owner/name" in zh


def test_a_hub_id_downloads_once_then_works_offline(style_dir, tmp_path):
    data = (style_dir / lora.LORA_FILE).read_bytes()
    hub = FakeHub({("owner/style", lora.LORA_FILE): data, ("owner/many", "v2/style.safetensors"): data})
    try:
        online = {"HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": hub.url}
        got = resolve_in_subprocess(online, "owner/style", "owner/many/v2/style.safetensors",
                                    "owner/gone", "owner/many")
    finally:
        hub.shutdown()
    assert [kind for kind, *_ in got] == ["ok", "ok", "InvalidRequest", "InvalidRequest"]
    assert Path(got[0][1]).read_bytes() == data and Path(got[0][1]).is_relative_to(tmp_path / "hf")
    assert Path(got[1][1]).name == "style.safetensors"
    assert "no Hub repo owner/gone" in got[2][1] and "Check the path or the repo id" in got[2][1]
    assert "owner/many has no file pytorch_lora_weights.safetensors" in got[3][1]
    assert "--lora owner/many/<file>.safetensors" in got[3][1]
    # The server is gone: offline, the cache answers.
    [[kind, path]] = resolve_in_subprocess({**online, "HF_HUB_OFFLINE": "1"}, "owner/style:0.5")
    assert kind == "ok" and Path(path).read_bytes() == data

