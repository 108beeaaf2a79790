"""LoRAs: find a LoRA file, check it fits the loaded model, load it, set its scale, unload it.

`--lora PATH_OR_HUB_ID[:SCALE]` (repeatable) names LoRAs for the transformer. At start-up, before any
pipeline loads, `parse_loras` -> `check_lora` (resolve + read the safetensors header) -> `check_fits`
stops a LoRA made for another model size with a message naming both sizes. Each loaded pipeline then
gets the LoRAs that fit its transformer (`load_loras`); before each render the request's scales are
applied (`set_lora_scales`, cheap when nothing changed); `unload_loras` gives back the base weights.

Models are told apart by the family whose layer names the LoRA's keys use (CogVideoX's
`transformer_blocks.N`, Wan's `blocks.N`) and by the transformer's width (its inner dim, heads × head
dim): CogVideoX-2B 1920, 5B and 1.5-5B 3072; Wan2.1-1.3B 1536, Wan2.2-TI2V-5B 3072. Width alone cannot
tell a Wan2.2 LoRA from a CogVideoX-5B one. The T2V and I2V transformers of one model have the same
width, so one LoRA may fit both. Loading goes through diffusers' CogVideoX and Wan LoRA loader mixins
and needs `peft`.

A scale of 0 takes the adapter out of the active set (the output is then exactly the base model's,
and the LoRA costs no compute); with every scale at 0 the LoRA layers are disabled.
"""

from __future__ import annotations

import json
import math
import re
import warnings
import weakref
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from bilingual import Text
from cogvideo.engine import models
from cogvideo.engine.families import FAMILIES
from cogvideo.errors import InvalidRequest
from cogvideo.request import MAX_LORA_SCALE, MIN_LORA_SCALE

if TYPE_CHECKING:
    from cogvideo.callbacks import StatusCallback

DEFAULT_SCALE = 1.0
LORA_FILE = "pytorch_lora_weights.safetensors"  # what diffusers' save_lora_weights writes

# Transformer width (num_attention_heads × attention_head_dim) by `Variant.family`, from the published
# configs: CogVideoX-2B 30 × 64, 5B and 1.5-5B 48 × 64 (THUDM's transformer/config.json); Wan2.1-T2V-1.3B
# 12 × 128 = dim 1536 and Wan2.2-TI2V-5B 24 × 128 = dim 3072 (the Wan-AI -Diffusers repos'
# transformer/config.json; the Wan2.1 and Wan2.2 READMEs' model tables give the same dims). The tiny
# families read theirs from the tiny transformers' configs (tiny: T2V 4 × 8, I2V 4 × 16; tiny-wan 2 × 12);
# local folders from their config.json.
MODEL_WIDTHS: dict[str, int] = {"cogvideox-2b": 1920, "cogvideox-5b": 3072, "cogvideox1.5-5b": 3072,
                                "wan2.1-1.3b": 1536, "wan2.2-5b": 3072}
_FAMILY_LABELS = {
    "cogvideox-2b": "CogVideoX-2B", "cogvideox-5b": "CogVideoX-5B", "cogvideox1.5-5b": "CogVideoX1.5-5B",
    "wan2.1-1.3b": "Wan2.1-1.3B", "wan2.2-5b": "Wan2.2-TI2V-5B",
}
# What diffusers' WanTransformer3DModel assumes for a config that leaves heads or head dim out (and
# CogVideoXTransformer3DModel: the 2B's 30 × 64).
_DEFAULT_HEADS = {"cogvideox": (30, 64), "wan": (40, 128)}

_LOOKS_LIKE_EN = (
    "A CogVideoX LoRA is a .safetensors file of LoRA layers for the transformer, with keys like "
    "transformer.transformer_blocks.0.attn1.to_q.lora_A.weight (what diffusers' save_lora_weights and "
    "the CogVideoX fine-tuning scripts write; kohya-style lora_down/lora_up keys work too). A Wan LoRA "
    "has keys like transformer.blocks.0.attn1.to_q.lora_A.weight (diffusers) or Wan's own "
    "diffusion_model.blocks.0.self_attn.q.lora_A.weight."
)
_LOOKS_LIKE_ZH = (
    "CogVideoX LoRA 是一个 .safetensors 文件，只含 Transformer 的 LoRA 层，键名形如 "
    "transformer.transformer_blocks.0.attn1.to_q.lora_A.weight（diffusers 的 save_lora_weights 和 "
    "CogVideoX 微调脚本写出的格式；kohya 风格的 lora_down/lora_up 键名也可以）。"
    "Wan LoRA 的键名形如 transformer.blocks.0.attn1.to_q.lora_A.weight（diffusers 格式），或 Wan 官方的 "
    "diffusion_model.blocks.0.self_attn.q.lora_A.weight。"
)


# ---------------------------------------------------------------- naming a LoRA


@dataclass(frozen=True)
class LoraSpec:
    """One `--lora` as the user gave it. `name` (the adapter name) defaults to the file or repo stem."""

    source: str  # a .safetensors file, a folder holding pytorch_lora_weights.safetensors, or "owner/name"
    scale: float = DEFAULT_SCALE  # the default scale (where the UI slider starts)
    name: str = ""  # [a-z0-9_]+; parse_loras makes names unique

    def __post_init__(self) -> None:
        source = str(self.source).strip()
        if not source:
            raise InvalidRequest(
                "--lora needs a path or a Hugging Face repo id, e.g. --lora style.safetensors:0.8",
                "--lora 需要一个路径或 Hugging Face 仓库 ID，例如 --lora style.safetensors:0.8",
            )
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "name", _sanitize(self.name) if self.name else _name_from_source(source))
        object.__setattr__(self, "scale", check_scale(self.scale, self.name))


def check_scale(scale: object, name: str) -> float:
    """A LoRA scale as a float, or `InvalidRequest` quoting the value and the allowed range."""
    ok = isinstance(scale, (int, float)) and not isinstance(scale, bool) and math.isfinite(scale)
    if not ok or not MIN_LORA_SCALE <= scale <= MAX_LORA_SCALE:
        raise InvalidRequest(
            f"LoRA scale {scale!r} for {name!r} must be a number from {MIN_LORA_SCALE:g} to {MAX_LORA_SCALE:g} "
            f"(1 is the LoRA as trained, 0 turns it off).",
            f"LoRA {name!r} 的强度 {scale!r} 必须是 {MIN_LORA_SCALE:g} 到 {MAX_LORA_SCALE:g} 之间的数"
            f"（1 为训练时的强度，0 为关闭）。",
        )
    return float(scale)


def _sanitize(text: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return name or "lora"


def _name_from_source(source: str) -> str:
    """The file or repo stem: "styles/Disney-Style.safetensors" -> "disney_style", "owner/My-LoRA" -> "my_lora".
    A file named like diffusers' default (pytorch_lora_weights) is named after its folder."""
    parts = [part for part in re.split(r"[\\/]", source) if part]
    stem = parts[-1] if parts else source
    stem = re.sub(r"\.safetensors$", "", stem, flags=re.IGNORECASE)
    if stem in ("pytorch_lora_weights", "adapter_model") and len(parts) > 1:
        stem = parts[-2]
    return _sanitize(stem)


def parse_lora(text: str) -> LoraSpec:
    """"PATH[:SCALE]". The scale is split off at the last ':' only when what follows is a number, so
    Windows paths ("C:\\x\\a.safetensors") and hub ids stay whole; "a.safetensors:abc" is a path (that
    `resolve_lora` reports missing, with a hint about the scale)."""
    text = str(text).strip()
    head, sep, tail = text.rpartition(":")
    if sep and head.strip():
        try:
            scale = float(tail)
        except ValueError:
            pass
        else:
            return LoraSpec(head.strip(), scale)
    return LoraSpec(text)


def parse_loras(texts: list[str]) -> tuple[LoraSpec, ...]:
    """All `--lora` values, each with a unique adapter name (a repeated name gets _2, _3, ...)."""
    specs: list[LoraSpec] = []
    taken: set[str] = set()
    for text in texts:
        spec = parse_lora(text)
        name, number = spec.name, 2
        while name in taken:
            name, number = f"{spec.name}_{number}", number + 1
        taken.add(name)
        specs.append(replace(spec, name=name))
    return tuple(specs)


# ---------------------------------------------------------------- finding the file


def _hub_file(source: str) -> tuple[str, str] | None:
    """(repo id, file in it) when `source` reads as a Hub id: "owner/name" (its pytorch_lora_weights
    file) or "owner/name/path/file.safetensors"; None when it can only be a local path."""
    if source.startswith(("/", ".", "~")) or "\\" in source or re.match(r"^[A-Za-z]:", source):
        return None
    parts = source.split("/")
    if len(parts) < 2 or not all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", part) for part in parts):
        return None
    if len(parts) == 2:
        # "loras/style.safetensors" is a (missing) local file, not a repo.
        return None if parts[1].lower().endswith(".safetensors") else (source, LORA_FILE)
    if not parts[-1].lower().endswith(".safetensors"):
        return None
    return "/".join(parts[:2]), "/".join(parts[2:])


def _missing(spec: LoraSpec) -> InvalidRequest:
    en = (
        f"LoRA {spec.source!r}: no such file or folder. Give the path of a .safetensors LoRA file (or of "
        f"a folder holding {LORA_FILE}), or a Hugging Face repo id like owner/name."
    )
    zh = (
        f"LoRA {spec.source!r}：文件或文件夹不存在。请给出 .safetensors LoRA 文件的路径（或包含 {LORA_FILE} "
        "的文件夹），或 owner/name 形式的 Hugging Face 仓库 ID。"
    )
    head, sep, tail = spec.source.rpartition(":")
    if sep and head and tail:
        en += f" If {tail!r} is meant as the scale, write a number after the last ':' (e.g. {head}:0.8)."
        zh += f" 如果 {tail!r} 是强度，请在最后一个 ':' 后写数字（例如 {head}:0.8）。"
    return InvalidRequest(en, zh)


def _file_in_folder(folder: Path) -> Path:
    default = folder / LORA_FILE
    if default.is_file():
        return default
    found = sorted(folder.glob("*.safetensors"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InvalidRequest(
            f"The LoRA folder {folder} holds no .safetensors file (a LoRA folder holds {LORA_FILE}).",
            f"LoRA 文件夹 {folder} 中没有 .safetensors 文件（LoRA 文件夹应包含 {LORA_FILE}）。",
        )
    names = ", ".join(path.name for path in found[:5])
    raise InvalidRequest(
        f"The LoRA folder {folder} holds several .safetensors files ({names}): pass the one you mean.",
        f"LoRA 文件夹 {folder} 中有多个 .safetensors 文件（{names}）：请指定要用的那一个。",
    )


def resolve_lora(spec: LoraSpec, on_status: StatusCallback | None = None) -> Path:
    """The LoRA's .safetensors file: a local file or folder, else the Hub (cache first; a download unless
    HF_HUB_OFFLINE). Raises `InvalidRequest` saying what to do when it cannot be had."""
    path = Path(spec.source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        return _file_in_folder(path)
    hub = _hub_file(spec.source)
    if hub is None:
        raise _missing(spec)
    return _download(spec, *hub, on_status=on_status)


def _download(spec: LoraSpec, repo: str, filename: str, on_status: StatusCallback | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError, GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError,
    )

    from cogvideo.engine.weights import _first_line, hub_offline

    command = f"hf download {repo} {filename}"
    fetch_en = (
        f"Get it with `{command}` (older clients: `huggingface-cli download {repo} {filename}`) where there "
        "is internet (copy the Hugging Face cache, HF_HOME, to an offline machine), or pass the path of a "
        "local .safetensors file to --lora."
    )
    fetch_zh = (
        f"请在能上网的机器上运行 `{command}`（旧版客户端：`huggingface-cli download {repo} {filename}`）下载"
        "（离线机器请拷贝 Hugging Face 缓存 HF_HOME），或用 --lora 指定本地 .safetensors 文件。"
    )
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if hub_offline():
        raise InvalidRequest(
            f"LoRA {spec.source}: {repo}/{filename} is not in the Hugging Face cache and offline mode "
            f"(HF_HUB_OFFLINE) is on. {fetch_en}",
            f"LoRA {spec.source}：Hugging Face 缓存中没有 {repo}/{filename}，且离线模式（HF_HUB_OFFLINE）已开启。"
            f"{fetch_zh}",
        )
    notify = on_status or (lambda text, fraction: None)
    notify(Text(f"Downloading LoRA {repo}/{filename}…", f"正在下载 LoRA {repo}/{filename}…"), None)
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename))
    except GatedRepoError as exc:
        reason_en, reason_zh = f"{repo} is gated", f"{repo} 是受限仓库"
        then_en = "Accept its terms on huggingface.co, run `hf auth login`, and start again."
        then_zh = "请在 huggingface.co 上同意其条款，运行 `hf auth login` 后重新启动。"
        cause = exc
    except RepositoryNotFoundError as exc:
        reason_en = f"there is no local file {spec.source!r} and no Hub repo {repo}"
        reason_zh = f"本地没有文件 {spec.source!r}，Hub 上也没有仓库 {repo}"
        then_en = "Check the path or the repo id (a private repo needs `hf auth login`)."
        then_zh = "请检查路径或仓库 ID（私有仓库需先 `hf auth login`）。"
        cause = exc
    except EntryNotFoundError as exc:
        if isinstance(exc, LocalEntryNotFoundError):  # the Hub could not be reached
            reason_en, reason_zh, then_en, then_zh = (
                "the Hugging Face Hub cannot be reached", "无法连接 Hugging Face Hub", fetch_en, fetch_zh)
        else:
            reason_en, reason_zh = f"{repo} has no file {filename}", f"{repo} 中没有文件 {filename}"
            then_en = f"Name the file in the repo: --lora {repo}/<file>.safetensors"
            then_zh = f"请指定仓库中的文件：--lora {repo}/<文件>.safetensors"
        cause = exc
    except (HfHubHTTPError, OSError) as exc:
        reason_en = reason_zh = _first_line(exc, 200)
        then_en, then_zh = fetch_en, fetch_zh
        cause = exc
    raise InvalidRequest(
        f"LoRA {spec.source}: {repo}/{filename} could not be downloaded ({reason_en}). {then_en}",
        f"LoRA {spec.source}：无法下载 {repo}/{filename}（{reason_zh}）。{then_zh}",
    ) from cause


# ---------------------------------------------------------------- reading the file


@dataclass(frozen=True)
class LoraFile:
    """A LoRA file checked for shape: what it was trained on, read from its tensors' names and shapes."""

    spec: LoraSpec
    path: Path
    width: int  # the transformer width it was made for (heads × head dim): 1920 2B, 3072 5B, 1536 Wan2.1-1.3B
    rank: int  # the largest LoRA rank in it
    blocks: int  # transformer blocks it reaches (highest block index + 1)
    layers: int  # LoRA-adapted linear layers
    diffusers_format: bool  # keys as diffusers writes them: loaded from the file as is
    architecture: str = "cogvideox"  # the family whose layer names its keys use: "cogvideox" | "wan"

    @property
    def label(self) -> str:
        return self.path.name if self.path.name != LORA_FILE else f"{self.spec.source} ({self.path.name})"


@dataclass(frozen=True)
class _Naming:
    """How one family's LoRA keys name the transformer's layers. Layers are named as diffusers names
    them; `block_layers` and `top_layers` map each name with its dots as '_' (kohya and musubi-tuner
    join the path so) to that diffusers name, so one lookup serves every spelling."""

    architecture: str
    blocks: str  # the blocks' list: "transformer_blocks" (CogVideoX), "blocks" (Wan)
    block_layers: dict[str, str]
    top_layers: dict[str, str]
    # Where a layer's LoRA shows the width: (matrix, axis). lora_A is (rank, in), lora_B is (out, rank).
    width_axis: dict[str, tuple[str, int]]
    # Wan's own format carries bias deltas (".diff_b", diffusers' lora_B.bias) and norm deltas (".diff").
    deltas: bool = False


def _flat(names: Mapping[str, str]) -> dict[str, str]:
    return {spelling.replace(".", "_"): layer for spelling, layer in names.items()}


# The linear layers of a CogVideoX transformer (diffusers names) a LoRA may adapt, per block and at top.
_COGVIDEOX = _Naming(
    architecture="cogvideox", blocks="transformer_blocks",
    block_layers=_flat({layer: layer for layer in (
        "attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "ff.net.0.proj", "ff.net.2",
        "norm1.linear", "norm2.linear")}),
    top_layers=_flat({layer: layer for layer in (
        "patch_embed.text_proj", "time_embedding.linear_1", "time_embedding.linear_2", "ofs_embedding.linear_1",
        "ofs_embedding.linear_2", "norm_out.linear", "proj_out")}),
    width_axis={
        "attn1.to_q": ("A", 1), "attn1.to_k": ("A", 1), "attn1.to_v": ("A", 1), "attn1.to_out.0": ("B", 0),
        "ff.net.0.proj": ("A", 1), "ff.net.2": ("B", 0), "patch_embed.text_proj": ("B", 0), "proj_out": ("A", 1),
    },
)
# Wan's layers in diffusers' names, each with the name the Wan repo gives it (`wan/modules/model.py`),
# which LoRAs trained with Wan's own code or musubi-tuner carry and diffusers' WanLoraLoaderMixin
# converts (`_convert_non_diffusers_wan_lora_to_diffusers`, `_convert_musubi_wan_lora_to_diffusers`).
# Cross-attention's keys and values read the text after its projection to the model's width, so
# every attention projection shows the width.
_WAN_BLOCK = {
    "attn1.to_q": "self_attn.q", "attn1.to_k": "self_attn.k", "attn1.to_v": "self_attn.v",
    "attn1.to_out.0": "self_attn.o", "attn2.to_q": "cross_attn.q", "attn2.to_k": "cross_attn.k",
    "attn2.to_v": "cross_attn.v", "attn2.to_out.0": "cross_attn.o", "attn2.add_k_proj": "cross_attn.k_img",
    "attn2.add_v_proj": "cross_attn.v_img", "ffn.net.0.proj": "ffn.0", "ffn.net.2": "ffn.2",
}
_WAN_TOP = {
    "condition_embedder.time_proj": "time_projection.1",
    "condition_embedder.time_embedder.linear_1": "time_embedding.0",
    "condition_embedder.time_embedder.linear_2": "time_embedding.2",
    "condition_embedder.text_embedder.linear_1": "text_embedding.0",
    "condition_embedder.text_embedder.linear_2": "text_embedding.2",
    "proj_out": "head.head",
}
_WAN = _Naming(
    architecture="wan", blocks="blocks",
    block_layers={**_flat({layer: layer for layer in _WAN_BLOCK}), **_flat({own: layer for layer, own in _WAN_BLOCK.items()})},
    top_layers={**_flat({layer: layer for layer in _WAN_TOP}), **_flat({own: layer for layer, own in _WAN_TOP.items()})},
    width_axis={
        **{layer: ("A", 1) for layer in _WAN_BLOCK if layer.split(".")[1].startswith(("to_q", "to_k", "to_v", "add_"))},
        "attn1.to_out.0": ("B", 0), "attn2.to_out.0": ("B", 0), "ffn.net.0.proj": ("A", 1), "ffn.net.2": ("B", 0),
        "condition_embedder.time_proj": ("A", 1), "condition_embedder.time_embedder.linear_1": ("B", 0),
        "condition_embedder.text_embedder.linear_1": ("B", 0), "proj_out": ("A", 1),
    },
    deltas=True,
)
_NAMINGS = (_COGVIDEOX, _WAN)  # tried in this order: a file every key of which one naming reads is of that family
_PREFIXES = ("transformer.", "base_model.model.", "model.diffusion_model.", "diffusion_model.",
             "lora_unet_", "lora_transformer_")
_SUFFIXES = {".lora_A.weight": "A", ".lora_B.weight": "B", ".lora_down.weight": "A", ".lora_up.weight": "B",
             ".alpha": "alpha"}
_DELTA_SUFFIXES = {".lora_B.bias": "bias", ".diff_b": "bias", ".diff": "diff"}
SKIP = "skip"  # a key diffusers drops when loading (Wan's norm deltas, zeros in the files that have them)


def _parse_key(key: str, naming: _Naming = _COGVIDEOX) -> tuple[str, str] | None:
    """(layer in diffusers' names, "A" | "B" | "alpha" | "bias" | SKIP) for a LoRA key of a transformer of
    `naming`'s family, else None."""
    suffixes = {**_SUFFIXES, **_DELTA_SUFFIXES} if naming.deltas else _SUFFIXES
    for suffix, kind in suffixes.items():
        if key.endswith(suffix):
            module = key[: -len(suffix)]
            break
    else:
        return None
    for prefix in _PREFIXES:
        if module.startswith(prefix):
            module = module[len(prefix):]
            break
    flat = module.replace(".", "_")
    match = re.fullmatch(rf"{naming.blocks}_(\d+)_(.+)", flat)
    if kind in ("diff", "bias") and match and "norm" in match.group(2):
        # Wan's norm deltas: diffusers drops them ("just zeroed values", lora_conversion_utils).
        return module, SKIP
    if kind == "diff":
        return None
    if match and match.group(2) in naming.block_layers:
        return f"{naming.blocks}.{int(match.group(1))}.{naming.block_layers[match.group(2)]}", kind
    if flat in naming.top_layers:
        return naming.top_layers[flat], kind
    return None


def _standard_key(layer: str, kind: str) -> str:
    """The key diffusers' save_lora_weights writes for a layer's matrix (or bias)."""
    return f"transformer.{layer}.lora_B.bias" if kind == "bias" else f"transformer.{layer}.lora_{kind}.weight"


def _what_file(path: Path) -> tuple[str, str]:
    """What a file that is not safetensors seems to be, from its first bytes (en, zh)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        return f"it cannot be read: {exc.strerror or exc}", f"无法读取：{exc.strerror or exc}"
    if not head:
        return "it is empty", "文件为空"
    if head.startswith(b"PK"):
        return ("it is a zip archive (a PyTorch .pt/.bin checkpoint?); convert it to .safetensors",
                "它是 zip 压缩包（PyTorch .pt/.bin 检查点？）；请先转换为 .safetensors")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it is binary data, not safetensors", "它是二进制数据，不是 safetensors 格式"
    start = " ".join(text.split())[:40]
    return f"it is a text file starting {start!r}", f"它是文本文件，开头为 {start!r}"


def check_lora(spec: LoraSpec, on_status: StatusCallback | None = None) -> LoraFile:
    """Find the LoRA and read its header (no tensor is loaded): what model width it is for, its rank.
    A file that is not a CogVideoX or Wan transformer LoRA raises `InvalidRequest` saying what it is."""
    from safetensors import safe_open

    # 1. Find the file.
    path = resolve_lora(spec, on_status)
    # 2. Read the names and shapes of its tensors.
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own SafetensorError for a bad header
        what_en, what_zh = _what_file(path)
        raise InvalidRequest(
            f"LoRA {spec.source}: {path} is not a safetensors file ({what_en}). {_LOOKS_LIKE_EN}",
            f"LoRA {spec.source}：{path} 不是 safetensors 文件（{what_zh}）。{_LOOKS_LIKE_ZH}",
        ) from exc

    # 3. Is it a LoRA, and one for a CogVideoX or a Wan transformer?
    def refuse(en: str, zh: str) -> InvalidRequest:
        return InvalidRequest(f"LoRA {spec.source}: {path.name} {en} {_LOOKS_LIKE_EN}",
                              f"LoRA {spec.source}：{path.name} {zh}{_LOOKS_LIKE_ZH}")

    if not shapes:
        raise refuse("holds no tensors.", "不含任何张量。")
    keys = sorted(shapes)
    lora_keys = [key for key in keys if "lora" in key.lower()]
    if not lora_keys:
        if any(key.endswith(".weight") and re.search(r"(^|[._])blocks[._]\d+[._]", key) for key in keys):
            raise refuse(f"is a full model checkpoint ({len(keys)} tensors, e.g. {keys[0]}), not a LoRA.",
                         f"是完整模型权重（{len(keys)} 个张量，例如 {keys[0]}），不是 LoRA。")
        raise refuse(f"holds {len(keys)} tensors and none is a LoRA layer (e.g. {', '.join(keys[:2])}).",
                     f"含 {len(keys)} 个张量，但都不是 LoRA 层（例如 {', '.join(keys[:2])}）。")
    if any("dora_scale" in key or "lora_magnitude_vector" in key for key in keys):
        raise refuse("is a DoRA, which diffusers cannot load for CogVideoX or Wan.",
                     "是 DoRA，diffusers 无法为 CogVideoX 或 Wan 加载。")
    naming, parsed = _read_names(keys)
    if naming is None:
        foreign = [key for key, layer in parsed.items() if layer is None]
        raise refuse(
            f"is not a LoRA for a CogVideoX or Wan transformer: {len(foreign)} of its {len(keys)} tensors are "
            f"not CogVideoX or Wan transformer LoRA layers (e.g. {foreign[0]}).",
            f"不是 CogVideoX 或 Wan Transformer 的 LoRA：{len(keys)} 个张量中有 {len(foreign)} 个不是 CogVideoX "
            f"或 Wan Transformer 的 LoRA 层（例如 {foreign[0]}）。",
        )

    # 4. The width, rank and reach it was trained with, read from the shapes.
    layers: dict[str, dict[str, tuple]] = {}
    for key, (layer, kind) in parsed.items():
        if kind in ("A", "B"):  # an alpha (a scalar) is read when loading; a bias adds no rank
            layers.setdefault(layer, {})[kind] = shapes[key]
    widths, ranks = set(), set()
    for layer, pair in layers.items():
        a, b = pair.get("A"), pair.get("B")
        if a is None or b is None or len(a) != 2 or len(b) != 2 or a[0] != b[1]:
            raise refuse(f"is damaged: layer {layer} has lora_A {a} and lora_B {b}, which do not pair up.",
                         f"已损坏：层 {layer} 的 lora_A {a} 与 lora_B {b} 不匹配。")
        ranks.add(a[0])
        in_block = layer.startswith(f"{naming.blocks}.")
        where = naming.width_axis.get(layer.split(".", 2)[-1] if in_block else layer)
        if where is not None:
            widths.add((a if where[0] == "A" else b)[where[1]])
    if len(widths) > 1:
        raise refuse(f"is damaged: its layers disagree on the transformer width ({sorted(widths)}).",
                     f"已损坏：各层的 Transformer 宽度不一致（{sorted(widths)}）。")
    if not widths:
        raise refuse("adapts no attention or feed-forward layer, so its model size cannot be told.",
                     "不含注意力层或前馈层，无法判断它对应的模型大小。")
    blocks = [int(layer.split(".")[1]) for layer in layers if layer.startswith(f"{naming.blocks}.")]
    # Keys exactly as diffusers writes them load from the file (its metadata keeps lora_alpha); any
    # other naming is converted first (`_converted`).
    standard = all(key == _standard_key(layer, kind) for key, (layer, kind) in parsed.items())
    return LoraFile(
        spec=spec, path=path, width=widths.pop(), rank=max(ranks), blocks=max(blocks, default=-1) + 1,
        layers=len(layers), diffusers_format=standard, architecture=naming.architecture,
    )


def _read_names(keys: list[str]) -> tuple[_Naming | None, dict]:
    """The family whose naming reads every key, with each key's (layer, kind); when no family reads
    them all, (None, the reading that left fewest keys unread, None for those)."""
    readings = []
    for naming in _NAMINGS:
        parsed = {key: _parse_key(key, naming) for key in keys}
        if all(parsed.values()):
            return naming, parsed
        readings.append(parsed)
    return None, min(readings, key=lambda parsed: sum(layer is None for layer in parsed.values()))


# ---------------------------------------------------------------- which models it fits


def transformer_width(transformer) -> int:
    """A loaded transformer's width: heads × head dim, from its config."""
    return int(transformer.config.num_attention_heads) * int(transformer.config.attention_head_dim)


def transformer_architecture(transformer) -> str:
    """The family of a loaded transformer, by its diffusers class ("cogvideox" | "wan")."""
    name = type(transformer).__name__
    return next((family.id for family in FAMILIES.values() if family.transformer == name), "cogvideox")


@cache
def _tiny_width(architecture: str, task: str) -> int:
    import torch

    from cogvideo.engine import tiny

    with torch.random.fork_rng(devices=[]):  # building it seeds the global generator: leave it as it was
        if architecture == "wan":
            return transformer_width(tiny._wan_transformer())
        return transformer_width(tiny._transformer(task))


def model_width(variant: models.Variant) -> int:
    """The width of a variant's transformer, without loading it."""
    folder = Path(variant.repo_id) if variant.repo_id else None
    if folder is not None and folder.is_dir():
        config = json.loads((folder / "transformer" / "config.json").read_text())
        heads, head_dim = _DEFAULT_HEADS[variant.architecture]
        return int(config.get("num_attention_heads", heads)) * int(config.get("attention_head_dim", head_dim))
    if variant.family in MODEL_WIDTHS:
        return MODEL_WIDTHS[variant.family]
    if variant.repo_id is None:
        return _tiny_width(variant.architecture, variant.task)
    raise ValueError(f"no transformer width known for {variant.name} (family {variant.family})")


def _family_name(architecture: str) -> str:
    return FAMILIES[architecture].name


def _width_label(architecture: str, width: int) -> str:
    """The models of a family and width: ("cogvideox", 1920) -> "CogVideoX-2B", ("cogvideox", 3072) ->
    "CogVideoX-5B / CogVideoX1.5-5B", ("wan", 3072) -> "Wan2.2-TI2V-5B"."""
    of_family = [v for v in models.VARIANTS.values() if v.architecture == architecture]
    names = [label for family, label in _FAMILY_LABELS.items()
             if MODEL_WIDTHS[family] == width and any(v.family == family for v in of_family)]
    names += [v.name for v in of_family if v.repo_id is None and model_width(v) == width]
    return " / ".join(names)


def _suggest_model(architecture: str, width: int) -> str | None:
    for variant in models.VARIANTS.values():
        if variant.architecture == architecture and model_width(variant) == width:
            return variant.name
    return None


def _wrong_size(lora: LoraFile, loaded_en: str, loaded_zh: str, short: str, loaded_architecture: str
                ) -> InvalidRequest:
    label = _width_label(lora.architecture, lora.width)
    family = _family_name(lora.architecture)
    made_en = f"a LoRA for {label} (width {lora.width})" if label else (
        f"a LoRA for a transformer of width {lora.width}, which no {family} model has")
    made_zh = f"{label}（宽度 {lora.width}）的 LoRA" if label else (
        f"宽度为 {lora.width} 的 Transformer 的 LoRA（没有这种 {family} 模型）")
    # A width may be shared across families (3072: CogVideoX-5B and Wan2.2-TI2V-5B): say why it cannot load.
    why_en = why_zh = ""
    if loaded_architecture != lora.architecture:
        loaded_family = _family_name(loaded_architecture)
        why_en = f" A {family} LoRA adapts layers a {loaded_family} transformer does not have."
        why_zh = f"{family} 的 LoRA 所改的层在 {loaded_family} 的 Transformer 中并不存在。"
    suggest = _suggest_model(lora.architecture, lora.width)
    then_en = f", or start with --model {suggest}" if suggest else ""
    then_zh = f"，或用 --model {suggest} 启动" if suggest else ""
    return InvalidRequest(
        f"{lora.label} is {made_en}; the loaded model is {loaded_en}.{why_en} "
        f"Use a LoRA made for {short}{then_en}.",
        f"{lora.label} 是 {made_zh}；当前模型是 {loaded_zh}。{why_zh}请使用为 {short} 训练的 LoRA{then_zh}。",
    )


def _model_label(variant: models.Variant) -> str:
    return _FAMILY_LABELS.get(variant.family, variant.name)


def _describe(variants: list[models.Variant]) -> tuple[str, str, str]:
    """(en, zh, short) for the loaded model, e.g. "CogVideoX-5B (width 3072)"; a family whose two
    transformers differ in width (tiny) lists both."""
    by_width: dict[int, list[str]] = {}
    for variant in variants:
        labels = by_width.setdefault(model_width(variant), [])
        if _model_label(variant) not in labels:
            labels.append(_model_label(variant))
    en = " and ".join(f"{' / '.join(labels)} (width {width})" for width, labels in by_width.items())
    zh = "和".join(f"{' / '.join(labels)}（宽度 {width}）" for width, labels in by_width.items())
    short = " / ".join(label for labels in by_width.values() for label in labels)
    return en, zh, short


def check_fits(lora: LoraFile, variants: list[models.Variant]) -> list[str]:
    """The tasks ("t2v", "i2v") of `variants` whose transformer is of the LoRA's family and width. None:
    raises the wrong-size `InvalidRequest` naming both sizes (at start-up, before any pipeline loads)."""
    tasks = [variant.task for variant in variants
             if variant.architecture == lora.architecture and model_width(variant) == lora.width]
    if not tasks:
        raise _wrong_size(lora, *_describe(variants), loaded_architecture=variants[0].architecture)
    return tasks


# ---------------------------------------------------------------- loading into a pipeline


@dataclass
class _Adapters:
    """The LoRAs a transformer was given: `here` loaded into it, `elsewhere` loaded for the partner
    pipeline (their scales are accepted and ignored); `applied`: the scales last set."""

    here: dict[str, LoraSpec] = field(default_factory=dict)
    elsewhere: dict[str, LoraSpec] = field(default_factory=dict)
    applied: tuple | None = None


# Keyed by the transformer, not the pipeline: two pipeline objects may share one transformer.
_ADAPTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _require_peft() -> None:
    from diffusers.utils import USE_PEFT_BACKEND

    if not USE_PEFT_BACKEND:
        raise InvalidRequest(
            "LoRAs need the peft package: pip install 'peft>=0.17' (then start again).",
            "LoRA 需要 peft 库：pip install 'peft>=0.17'（然后重新启动）。",
        )


def _peft_names(transformer) -> set[str]:
    return set(getattr(transformer, "peft_config", None) or {})


def _drop_adapter(transformer, name: str) -> None:
    """Remove what a failed load left behind; with no other adapter, restore the plain layers."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in transformer.modules():
        if isinstance(module, BaseTunerLayer) and name in getattr(module, "lora_A", {}):
            module.delete_adapter(name)
    (getattr(transformer, "peft_config", None) or {}).pop(name, None)
    if not _peft_names(transformer):
        transformer.unload_lora()  # empty LoRA wrappers stay otherwise


def _converted(lora: LoraFile) -> dict:
    """A non-diffusers LoRA (kohya or musubi names, Wan's own names, lora_down/lora_up, alphas, no
    prefix) as diffusers' keys. An alpha scales the layer by alpha / rank: folded into lora_B, since
    diffusers' CogVideoX loader takes no alphas (its Wan loader folds them the same way)."""
    from safetensors.torch import load_file

    naming = _WAN if lora.architecture == "wan" else _COGVIDEOX
    tensors = load_file(str(lora.path))
    parsed = {key: _parse_key(key, naming) for key in tensors}
    alphas = {parsed[key][0]: float(tensor) for key, tensor in tensors.items() if parsed[key][1] == "alpha"}
    out = {}
    for key, tensor in tensors.items():
        layer, kind = parsed[key]
        if kind in ("alpha", SKIP):
            continue
        if kind == "B" and layer in alphas:
            tensor = tensor * (alphas[layer] / tensor.shape[1])
        out[_standard_key(layer, kind)] = tensor
    return out


def load_loras(pipe, loras: list[LoraFile]) -> None:
    """Load each LoRA that fits `pipe.transformer` (by family and width) as an adapter named after it, then set the
    default scales. Idempotent for a transformer shared by two pipeline objects. A LoRA that fails to
    load anyway (shapes) raises the wrong-size `InvalidRequest`; the pipeline is left without it."""
    _require_peft()
    transformer = pipe.transformer
    width = transformer_width(transformer)
    architecture = transformer_architecture(transformer)
    state = _ADAPTERS.setdefault(transformer, _Adapters())
    label, family = _width_label(architecture, width), _family_name(architecture)
    loaded_en = f"{label or f'a {family} model'} (width {width})"
    loaded_zh = f"{label or f'{family} 模型'}（宽度 {width}）"
    short = label or f"width {width}"

    def wrong_size(lora: LoraFile) -> InvalidRequest:
        return _wrong_size(lora, loaded_en, loaded_zh, short, architecture)

    for lora in loras:
        name = lora.spec.name
        if lora.architecture != architecture:
            raise wrong_size(lora)  # a partner pipeline is always of the same family: this fits neither
        if lora.width != width:
            state.elsewhere[name] = lora.spec  # made for the partner pipeline (check_fits saw to that)
            continue
        num_layers = int(transformer.config.num_layers)
        if lora.blocks > num_layers:
            raise InvalidRequest(
                f"{lora.label} reaches transformer block {lora.blocks - 1}, but the loaded model "
                f"({short}) has {num_layers} blocks: it was made for another model. Use a LoRA made for {short}.",
                f"{lora.label} 用到第 {lora.blocks - 1} 个 Transformer 块，但当前模型（{short}）只有 "
                f"{num_layers} 个块：它是为其他模型训练的。请使用为 {short} 训练的 LoRA。",
            )
        if name not in _peft_names(transformer):
            source = str(lora.path) if lora.diffusers_format else _converted(lora)
            try:
                with warnings.catch_warnings():
                    # peft warns at each adapter after the first that the model has a peft_config: we know.
                    warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                    pipe.load_lora_weights(source, adapter_name=name)
            except (RuntimeError, ValueError) as exc:
                _drop_adapter(transformer, name)
                if "size mismatch" in str(exc) or "shape" in str(exc):
                    raise wrong_size(lora) from exc
                raise InvalidRequest(
                    f"{lora.label} could not be loaded into the transformer ({type(exc).__name__}: "
                    f"{str(exc).strip().splitlines()[0][:200]}).",
                    f"{lora.label} 无法加载到 Transformer（{type(exc).__name__}）。",
                ) from exc
            if name not in _peft_names(transformer):  # diffusers only warns when no key matched
                raise InvalidRequest(
                    f"{lora.label} matched no layer of the transformer. {_LOOKS_LIKE_EN}",
                    f"{lora.label} 没有匹配到 Transformer 的任何层。{_LOOKS_LIKE_ZH}",
                )
        state.here[name] = lora.spec
        state.elsewhere.pop(name, None)
    state.applied = None
    set_lora_scales(pipe, {})


def check_lora_scales(scales: Mapping[str, float] | None, loaded: tuple[LoraSpec, ...]) -> dict[str, float]:
    """Every loaded LoRA's scale for a request: the request's, else the LoRA's default. Unknown names and
    scales out of range raise `InvalidRequest` (for submit time; `set_lora_scales` checks again)."""
    scales = {} if scales is None else scales
    if not isinstance(scales, Mapping):
        raise InvalidRequest(
            f"lora_scales={scales!r} must map LoRA names to scales, e.g. {{\"style\": 0.8}}.",
            f"lora_scales={scales!r} 必须是 LoRA 名称到强度的映射，例如 {{\"style\": 0.8}}。",
        )
    names = [spec.name for spec in loaded]
    unknown = [name for name in scales if name not in names]
    if unknown:
        have_en = f"the loaded LoRAs are {', '.join(names)}" if names else (
            "no LoRA is loaded (start with --lora PATH)")
        have_zh = f"已加载的 LoRA：{', '.join(names)}" if names else "没有加载 LoRA（启动时用 --lora PATH）"
        raise InvalidRequest(
            f"Unknown LoRA {', '.join(map(repr, unknown))} in lora_scales: {have_en}.",
            f"lora_scales 中的 LoRA {', '.join(map(repr, unknown))} 不存在：{have_zh}。",
        )
    return {spec.name: check_scale(scales.get(spec.name, spec.scale), spec.name) for spec in loaded}


def set_lora_scales(pipe, scales: Mapping[str, float] | None) -> None:
    """Apply a request's scales to `pipe` (missing names: their default). Nothing is done when they
    equal the last ones applied. Scale 0 leaves an adapter out of the active set: exact base output."""
    transformer = pipe.transformer
    state = _ADAPTERS.get(transformer)
    if state is not None and not set(state.here) <= _peft_names(transformer):
        # Unloaded behind our back (pipe.unload_lora_weights()): nothing of ours is left to scale.
        _ADAPTERS.pop(transformer, None)
        state = None
    loaded = tuple({**state.elsewhere, **state.here}.values()) if state else ()
    wanted = check_lora_scales(scales, loaded)
    if state is None:
        return
    here = tuple((name, wanted[name]) for name in state.here)
    if here == state.applied:
        return
    active = [(name, scale) for name, scale in here if scale != 0]
    if active:
        pipe.enable_lora()  # set_adapters does not undo a disable_lora
        pipe.set_adapters([name for name, _ in active], [scale for _, scale in active])
    elif here:
        pipe.disable_lora()
    state.applied = here


def unload_loras(pipe) -> None:
    """Remove every LoRA from `pipe`'s transformer: the base layers come back, bitwise as before."""
    transformer = pipe.transformer
    if _peft_names(transformer):
        pipe.unload_lora_weights()
    _ADAPTERS.pop(transformer, None)
