"""Model variants as data: what each checkpoint (CogVideoX, Wan) is, how big, and what it accepts.

Numbers here are the published ones (model cards and the diffusers configs). VRAM figures are
peaks for one 49/81-frame video at native size with VAE tiling and slicing on, at the Quality
speed: published where CogVideo's README gives them (2B model offload 12.5, sequential 4/5/10;
5B model offload ~21), measured by `bench/gpu.py` where a GPU was lent (5B none: 23.7 on an H200),
estimates otherwise. They guide `--offload auto` and the `models` table.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from bilingual import Text
from cogvideo.errors import InvalidRequest

GiB = 1024**3

OFFLOAD_MODES = ("auto", "none", "model", "group", "sequential")
# From fastest (most VRAM) to slowest (least VRAM); `auto` walks this list.
OFFLOAD_LADDER = ("none", "model", "group", "sequential")


@dataclass(frozen=True)
class Size:
    """One size a model renders, as its authors publish it. `ratio` is the shape's common name
    ("16:9" for Wan's 832×480 too, as its authors call it); the page names the choice by it."""

    ratio: str
    height: int
    width: int

    @property
    def orientation(self) -> str:
        """"landscape", "portrait" or "square": the page's word for the shape (横屏, 竖屏, 方形)."""
        if self.width == self.height:
            return "square"
        return "landscape" if self.width > self.height else "portrait"

    def text(self) -> str:
        return f"{self.width}×{self.height} ({self.ratio})"


@dataclass(frozen=True)
class Variant:
    name: str
    repo_id: str | None  # None: built in code (tiny)
    task: str  # "t2v" or "i2v"
    family: str  # variants of one family share tokenizer, text encoder, VAE and scheduler
    height: int
    width: int
    num_frames: int
    fps: int
    frame_step: int  # allowed frame counts are frame_step * N + 1
    max_frames: int
    dtype: str  # "float16" | "bfloat16" | "float32"
    max_tokens: int  # prompt tokens the T5 encoder reads; the rest is truncated
    flexible_size: bool  # whether height/width other than native are allowed
    # CogVideoX1.5 image-to-video: the short side is fixed and the long side may vary, following
    # the picture (the model card: min(W, H) = 768, 768 <= max(W, H) <= 1360, multiples of 16).
    short_side: int | None = None
    # As the authors' inference script runs it (CogVideo inference/cli_demo.py): DDIM for 2B; the
    # DPM scheduler with dynamic classifier-free guidance for 5B and 1.5 (dynamic CFG is meant for
    # DPM only: "for DDIM scheduler, it should be False").
    scheduler: str = "ddim"  # "ddim" | "dpm" | "unipc" (Wan: flow matching, `flow_shift`)
    dynamic_cfg: bool = False
    # The family of architectures (cogvideo/engine/families.py): pipeline classes, text encoder,
    # the speed presets with evidence on it.
    architecture: str = "cogvideox"
    flow_shift: float | None = None  # Wan's UniPC shift as its authors run the model at this size
    # Text and image to video from one transformer (Wan2.2-TI2V): the partner shares it.
    one_model: bool = False
    vae_spatial: int = 8  # pixels per latent side (Wan2.2's VAE: 16)
    # Classifier-free guidance when a request names none, as the authors run the model: CogVideo's
    # cli_demo.py 6.0; the Wan2.1 README's 6 for the 1.3B model; Wan2.2's
    # `wan/configs/wan_ti2v_5B.py` `sample_guide_scale` 5.0.
    guidance_scale: float = 6.0
    # The sizes the model offers, as published (one line each; the first is its own size above, the
    # page's default and that of API callers who name none).
    # A family with several sizes (Wan: 832×480 and 480×832) lists them here and the page's aspect
    # ratio choice appears; a flexible model also accepts other sizes by its rules above.
    sizes: tuple[Size, ...] = ()
    vram_gib: dict[str, float] = field(default_factory=dict)  # offload mode -> approx. peak GiB
    disk_gib: float = 0.0
    label: str = ""

    @property
    def toy(self) -> bool:
        """A random-weight model for tests and try-outs (tiny, tiny-wan, or a folder saved from
        one): seconds a video on a CPU, and noise to look at. Published models weigh gigabytes."""
        return self.disk_gib == 0

    @property
    def min_frames(self) -> int:
        return self.frame_step + 1

    def allowed_frames(self) -> list[int]:
        return list(range(self.min_frames, self.max_frames + 1, self.frame_step))

    def nearest_frames(self, num_frames: int) -> int:
        return min(self.allowed_frames(), key=lambda n: (abs(n - num_frames), n))

    @property
    def follows_picture(self) -> bool:
        """Image-to-video that takes its shape from the picture when no size is asked for
        (CogVideoX1.5-I2V: short side 768, the long side as the picture's)."""
        return self.task == "i2v" and self.flexible_size

    @property
    def max_side(self) -> int:
        """The longest side a flexible variant accepts."""
        return MAX_SIDE

    def offered_sizes(self) -> tuple[Size, ...]:
        """The sizes this variant offers by name: its declared ones, or its native size alone."""
        if self.sizes:
            return self.sizes
        return (Size(_ratio_name(self.width, self.height), self.height, self.width),)

    def sizes_text(self) -> str:
        """"720×480 (3:2)" or "144×80 (16:9), 80×144 (9:16), 96×96 (1:1)": for messages."""
        return ", ".join(size.text() for size in self.offered_sizes())

    def size_for_ratio(self, ratio: str) -> Size:
        """This variant's size of the shape named `ratio` ("9:16"), or a refusal naming those it has."""
        key = str(ratio).strip().replace("：", ":")
        for size in self.offered_sizes():
            if size.ratio == key:
                return size
        allowed = self.sizes_text()
        raise InvalidRequest(
            f"aspect_ratio={ratio!r} is not offered by {self.name}; it renders {allowed}.",
            f"{self.name} 不支持画面比例 {ratio!r}；可选尺寸：{allowed}。",
        )

    def ratio_of(self, height: int | None, width: int | None) -> str | None:
        """The name of a request's shape among this variant's sizes (None: the native size, or one
        the variant accepts but does not offer by name)."""
        for size in self.offered_sizes():
            if (size.height, size.width) == (height, width):
                return size.ratio
        return None


# The tiny test models take any multiple of 16; they offer their own size and three common shapes so
# that tests exercise the page's aspect ratio choice (small: their output is noise, and decoding
# time grows with the area).
TINY_SIZES = (Size("3:2", 96, 144), Size("16:9", 80, 144), Size("9:16", 144, 80), Size("1:1", 96, 96))

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            name="2b", repo_id="THUDM/CogVideoX-2b", task="t2v", family="cogvideox-2b",
            height=480, width=720, num_frames=49, fps=8, frame_step=8, max_frames=49,
            dtype="float16", max_tokens=226, flexible_size=False,
            sizes=(Size("3:2", 480, 720),),
            vram_gib={"none": 18.0, "model": 12.5, "group": 6.0, "sequential": 4.0},
            disk_gib=13.0, label="CogVideoX-2B · text to video · 720×480 · 6 s",
        ),
        Variant(
            name="5b", repo_id="THUDM/CogVideoX-5b", task="t2v", family="cogvideox-5b",
            height=480, width=720, num_frames=49, fps=8, frame_step=8, max_frames=49,
            dtype="bfloat16", max_tokens=226, flexible_size=False, scheduler="dpm", dynamic_cfg=True,
            sizes=(Size("3:2", 480, 720),),
            vram_gib={"none": 24.0, "model": 21.0, "group": 8.0, "sequential": 5.0},
            disk_gib=21.0, label="CogVideoX-5B · text to video · 720×480 · 6 s",
        ),
        Variant(
            name="5b-i2v", repo_id="THUDM/CogVideoX-5b-I2V", task="i2v", family="cogvideox-5b",
            height=480, width=720, num_frames=49, fps=8, frame_step=8, max_frames=49,
            dtype="bfloat16", max_tokens=226, flexible_size=False, scheduler="dpm", dynamic_cfg=True,
            sizes=(Size("3:2", 480, 720),),
            vram_gib={"none": 24.0, "model": 21.0, "group": 8.0, "sequential": 5.0},
            disk_gib=21.0, label="CogVideoX-5B-I2V · image to video · 720×480 · 6 s",
        ),
        Variant(
            name="1.5-5b", repo_id="THUDM/CogVideoX1.5-5B", task="t2v", family="cogvideox1.5-5b",
            height=768, width=1360, num_frames=81, fps=16, frame_step=16, max_frames=161,
            dtype="bfloat16", max_tokens=224, flexible_size=False, scheduler="dpm", dynamic_cfg=True,
            sizes=(Size("16:9", 768, 1360),),  # the model card: 1360×768 only
            vram_gib={"none": 40.0, "model": 24.0, "group": 12.0, "sequential": 10.0},
            disk_gib=31.0, label="CogVideoX1.5-5B · text to video · 1360×768 · 5–10 s",
        ),
        Variant(
            name="1.5-5b-i2v", repo_id="THUDM/CogVideoX1.5-5B-I2V", task="i2v",
            family="cogvideox1.5-5b",
            height=768, width=1360, num_frames=81, fps=16, frame_step=16, max_frames=161,
            dtype="bfloat16", max_tokens=224, flexible_size=True, short_side=768, scheduler="dpm",
            dynamic_cfg=True,
            # Follows the picture; these are the shapes an API caller may also ask for by name.
            sizes=(Size("16:9", 768, 1360), Size("9:16", 1360, 768), Size("1:1", 768, 768)),
            vram_gib={"none": 40.0, "model": 24.0, "group": 12.0, "sequential": 10.0},
            disk_gib=31.0, label="CogVideoX1.5-5B-I2V · image to video · short side 768, long side up to 1360 · 5–10 s",
        ),
        Variant(
            name="tiny", repo_id=None, task="t2v", family="tiny",
            height=96, width=144, num_frames=9, fps=8, frame_step=8, max_frames=33,
            dtype="float32", max_tokens=226, flexible_size=True, sizes=TINY_SIZES,
            vram_gib={"none": 0.1, "model": 0.1, "group": 0.1, "sequential": 0.1},
            label="tiny · random weights for tests and UI try-outs (output is noise)",
        ),
        Variant(
            name="tiny-i2v", repo_id=None, task="i2v", family="tiny",
            height=96, width=144, num_frames=9, fps=8, frame_step=8, max_frames=33,
            dtype="float32", max_tokens=226, flexible_size=True, sizes=TINY_SIZES,
            vram_gib={"none": 0.1, "model": 0.1, "group": 0.1, "sequential": 0.1},
            label="tiny-i2v · random weights for tests and UI try-outs (output is noise)",
        ),
    )
}

# Wan, as its authors publish it: 4N+1 frames; Wan2.1-1.3B makes 81 frames of 832×480 at 16 fps
# (text to video only), Wan2.2-TI2V-5B 121 frames of 1280×704 at 24 fps, text and image to video
# from one model. VRAM: Wan2.1-1.3B 8.19 GB with model offload on an RTX 4090 (the Wan2.1 README);
# Wan2.2-TI2V-5B runs on a 24 GB card with offload (the Wan2.2 README); the other figures are
# estimates from the weights' sizes (umT5-XXL 11.4 GB in bf16) until `bench/gpu.py` measures them.
_WAN21_1_3B = Variant(
    name="wan2.1-1.3b", repo_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers", task="t2v", family="wan2.1-1.3b",
    height=480, width=832, num_frames=81, fps=16, frame_step=4, max_frames=81,
    dtype="bfloat16", max_tokens=512, flexible_size=False, architecture="wan",
    # 3.0 at 480p: diffusers' Wan example ("5.0 for 720P, 3.0 for 480P") and the repo's config.
    scheduler="unipc", flow_shift=3.0,
    sizes=(Size("16:9", 480, 832), Size("9:16", 832, 480)),
    vram_gib={"none": 17.0, "model": 8.2, "group": 6.0, "sequential": 4.0},
    disk_gib=17.0, label="Wan2.1-1.3B · text to video · 832×480 · 5 s · reads Chinese",
)
# Text and image to video from one model: the image-to-video variant differs only in its task.
_WAN22_5B = Variant(
    name="wan2.2-5b", repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers", task="t2v", family="wan2.2-5b",
    height=704, width=1280, num_frames=121, fps=24, frame_step=4, max_frames=121,
    dtype="bfloat16", max_tokens=512, flexible_size=False, architecture="wan",
    scheduler="unipc", flow_shift=5.0, one_model=True, vae_spatial=16, guidance_scale=5.0,
    sizes=(Size("16:9", 704, 1280), Size("9:16", 1280, 704)),
    vram_gib={"none": 34.0, "model": 24.0, "group": 14.0, "sequential": 10.0},
    disk_gib=34.0, label="Wan2.2-5B · text and image to video · 1280×704 · 5 s · reads Chinese",
)
_TINY_WAN = Variant(
    name="tiny-wan", repo_id=None, task="t2v", family="tiny-wan",
    height=96, width=144, num_frames=9, fps=16, frame_step=4, max_frames=33,
    dtype="float32", max_tokens=512, flexible_size=True, sizes=TINY_SIZES, architecture="wan",
    # As Wan2.2-5B's (5.0), so that a model whose default differs from CogVideoX's is tested.
    scheduler="unipc", flow_shift=3.0, one_model=True, guidance_scale=5.0,
    vram_gib={"none": 0.1, "model": 0.1, "group": 0.1, "sequential": 0.1},
    label="tiny-wan · a random-weight Wan for tests and UI try-outs (output is noise)",
)
WAN_VARIANTS = (
    _WAN21_1_3B,
    _WAN22_5B,
    replace(_WAN22_5B, name="wan2.2-5b-i2v", task="i2v",
            label="Wan2.2-5B · image to video (the same model) · 1280×704 · 5 s"),
    _TINY_WAN,
    replace(_TINY_WAN, name="tiny-wan-i2v", task="i2v",
            label="tiny-wan-i2v · a random-weight Wan for tests and UI try-outs (output is noise)"),
)
VARIANTS.update((v.name, v) for v in WAN_VARIANTS)

# Flexible sizes must stay multiples of 16 (VAE ×8, then patch 2) within these bounds.
MIN_SIDE, MAX_SIDE, SIDE_STEP = 32, 1360, 16


def partner(variant: Variant) -> Variant | None:
    """The variant of the other task in the same family (5b <-> 5b-i2v), if there is one."""
    for other in VARIANTS.values():
        if other.family == variant.family and other.task != variant.task:
            return other
    if variant.one_model:
        # A saved folder of a model that does both tasks with one transformer (Wan2.2-TI2V, tiny-wan):
        # the other task is the same weights, under the same name.
        return replace(variant, task="i2v" if variant.task == "t2v" else "t2v")
    return None


# What a refusal calls a mode that is not its task by name (the page's tab names), and why the mode
# needs that task: a user may not know that an old photo is animated by image to video.
_MODE_WORDS = {
    "old_photo": Text("bring an old photo to life", "老照片"),
    "extend": Text("extend a video", "视频续写"),
    "v2v": Text("restyle a video", "视频转绘"),
}
_MODE_REASONS = {
    "old_photo": Text("it animates the photo with image to video", "老照片是用图生视频让照片动起来的"),
    "extend": Text("each new part starts from the last frame with image to video",
                   "续写的每一段都从上一段的最后一帧以图生视频继续"),
    "v2v": Text("restyling repaints the clip with text to video", "转绘是用文生视频重绘视频的"),
}


def missing_task(loaded: Variant, task: str, mode: str | None = None) -> InvalidRequest:
    """The refusal for a mode the loaded model cannot do (Wan2.1-1.3B has no image to video),
    naming the models that can; `mode` (old_photo, extend, v2v) names the mode the user asked for."""
    able = [v.name for v in VARIANTS.values() if v.task == task and v.repo_id is not None]
    if task == "i2v":
        # A text-to-video model of a family that does both: its own name serves image to video.
        able = [v.name.removesuffix("-i2v") if v.one_model else v.name for v in VARIANTS.values()
                if v.task == "i2v" and v.repo_id is not None]
    what_en = "image to video" if task == "i2v" else "text to video"
    what_zh = "图生视频" if task == "i2v" else "文生视频"
    only_en = f"it makes videos from {'text' if loaded.task == 't2v' else 'a picture'} only"
    only_zh = f"它只能{'用文字' if loaded.task == 't2v' else '用图片'}生成视频"
    if mode in _MODE_WORDS:
        words, reason = _MODE_WORDS[mode], _MODE_REASONS[mode]
        return InvalidRequest(
            f"{loaded.name} cannot {words.en}: {reason.en}, and {only_en}. The models that can: "
            f"{', '.join(able)} (the studio's operator chooses the model when starting it).",
            f"{loaded.name} 不支持{words.zh}：{reason.zh}，而{only_zh}。"
            f"支持{words.zh}的模型：{', '.join(able)}（由管理员在启动时选择）。",
        )
    return InvalidRequest(
        f"{loaded.name} cannot make {what_en}: {only_en}. The models that can: {', '.join(able)} "
        "(the studio's operator chooses the model when starting it).",
        f"{loaded.name} 不支持{what_zh}，{only_zh}。"
        f"支持{what_zh}的模型：{', '.join(able)}（由管理员在启动时选择）。",
    )


def resolve(name_or_path: str) -> Variant:
    """A variant by name, or a local folder saved by `save_pretrained` (its variant is inferred)."""
    key = str(name_or_path).strip()
    if key.lower() in VARIANTS:
        return VARIANTS[key.lower()]
    folder = Path(key).expanduser()
    if folder.is_dir():
        return variant_from_folder(folder)
    raise InvalidRequest(
        f"Unknown model {key!r}. Use one of: {', '.join(VARIANTS)}; or the path of a local folder "
        "that holds a diffusers CogVideoX or Wan pipeline.",
        f"未知模型 {key!r}。可选：{', '.join(VARIANTS)}；或一个包含 diffusers CogVideoX 或 Wan 管线的本地文件夹路径。",
    )


def variant_from_folder(folder: Path) -> Variant:
    """Infer family, task and size of a local pipeline folder from its configs."""
    index_file = folder / "model_index.json"
    config_file = folder / "transformer" / "config.json"
    try:
        index = json.loads(index_file.read_text())
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidRequest(
            f"{folder} is not a diffusers pipeline folder (no readable model_index.json and "
            "transformer/config.json). Point --model at the folder `save_pretrained` wrote, or at a variant name.",
            f"{folder} 不是 diffusers 管线文件夹（缺少 model_index.json 或 transformer/config.json）。",
        ) from exc
    class_name = index.get("_class_name", "")
    task = "i2v" if "ImageToVideo" in class_name else "t2v"
    if class_name.startswith("Wan"):
        base = _wan_base(folder, task, config, index)
    elif "CogVideoX" in class_name:
        base = _cogvideox_base(task, config)
    else:
        raise InvalidRequest(
            f"{folder} holds a {class_name or 'unknown'} pipeline, not CogVideoX or Wan.",
            f"{folder} 中是 {class_name or '未知'} 管线，不是 CogVideoX 或 Wan。",
        )
    # A local folder is its own family: only folders saved side by side would share components.
    return replace(base, name=str(folder), repo_id=str(folder), family=f"local:{folder}")


def _cogvideox_base(task: str, config: dict) -> Variant:
    if config.get("text_embed_dim", 4096) < 256:
        return VARIANTS["tiny-i2v" if task == "i2v" else "tiny"]
    if config.get("patch_size_t"):
        return VARIANTS["1.5-5b-i2v" if task == "i2v" else "1.5-5b"]
    if config.get("num_attention_heads", 48) <= 30 and task == "t2v":
        return VARIANTS["2b"]
    return VARIANTS["5b-i2v" if task == "i2v" else "5b"]


def _wan_base(folder: Path, task: str, config: dict, index: dict) -> Variant:
    """The Wan variant a folder's transformer config matches: tiny, 2.1-1.3B or 2.2-TI2V-5B. Wan's
    14B models (two experts, or a CLIP image encoder) are not served yet."""
    width = config.get("num_attention_heads", 40) * config.get("attention_head_dim", 128)
    if config.get("text_dim", 4096) < 256:
        return VARIANTS["tiny-wan-i2v" if task == "i2v" else "tiny-wan"]
    if config.get("image_dim") is None and index.get("transformer_2") in (None, [None, None]):
        if width == 1536 and task == "t2v":
            return VARIANTS["wan2.1-1.3b"]
        if width == 3072:
            return VARIANTS["wan2.2-5b-i2v" if task == "i2v" else "wan2.2-5b"]
    raise InvalidRequest(
        f"{folder} holds a Wan model this studio does not run yet (hidden size {width}); it runs "
        "Wan2.1-T2V-1.3B and Wan2.2-TI2V-5B.",
        f"{folder} 中的 Wan 模型（隐藏维度 {width}）暂不支持；目前支持 Wan2.1-T2V-1.3B 和 Wan2.2-TI2V-5B。",
    )


def check_frames(variant: Variant, num_frames: int) -> int:
    """Return a frame count the variant accepts, or raise naming the allowed values."""
    allowed = variant.allowed_frames()
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames not in allowed:
        raise InvalidRequest(
            f"num_frames={num_frames!r} is not allowed for {variant.name}: use one of "
            f"{', '.join(map(str, allowed))} ({variant.frame_step}N+1). "
            f"The nearest is {variant.nearest_frames(int(num_frames)) if _is_number(num_frames) else variant.num_frames}.",
            f"{variant.name} 不支持帧数 {num_frames!r}：可选 {', '.join(map(str, allowed))}"
            f"（{variant.frame_step}N+1）。",
        )
    return num_frames


def check_size(variant: Variant, height: int | None, width: int | None) -> tuple[int, int]:
    """Return (height, width) for the request; native size unless the variant allows others."""
    height = variant.height if height in (None, 0) else height
    width = variant.width if width in (None, 0) else width
    if (height, width) == (variant.height, variant.width):
        return height, width
    if any((size.height, size.width) == (height, width) for size in variant.sizes):
        return height, width
    if not variant.flexible_size:
        allowed = variant.sizes_text()
        raise InvalidRequest(
            f"{variant.name} renders only at {allowed}; got {width}×{height}. Use "
            f"{'that size' if len(variant.sizes) < 2 else 'one of them'} or leave height and width empty"
            + ("; of the CogVideoX models only 1.5-5b-i2v renders other sizes (it follows the picture's shape)."
               if variant.architecture == "cogvideox" else "."),
            f"{variant.name} 只支持 {allowed}，收到 {width}×{height}。请改用{'该' if len(variant.sizes) < 2 else '其中一种'}"
            "尺寸或不设置宽高" + ("；CogVideoX 中只有 1.5-5b-i2v 支持其他尺寸（按图片比例）。"
                              if variant.architecture == "cogvideox" else "。"),
        )
    for side_name, side in (("height", height), ("width", width)):
        if not isinstance(side, int) or isinstance(side, bool) or side % SIDE_STEP or not MIN_SIDE <= side <= MAX_SIDE:
            raise InvalidRequest(
                f"{side_name}={side!r} must be a multiple of {SIDE_STEP} between {MIN_SIDE} and {MAX_SIDE}. "
                f"{variant.name}'s sizes: {variant.sizes_text()}.",
                f"{side_name}={side!r} 必须是 {SIDE_STEP} 的倍数，且在 {MIN_SIDE} 到 {MAX_SIDE} 之间。"
                f"{variant.name} 的可选尺寸：{variant.sizes_text()}。",
            )
    if variant.short_side is not None:
        short, long = min(height, width), max(height, width)
        if short != variant.short_side or not variant.short_side <= long <= MAX_SIDE:
            raise InvalidRequest(
                f"{variant.name} needs the short side to be {variant.short_side} and the long side between "
                f"{variant.short_side} and {MAX_SIDE} (multiples of {SIDE_STEP}), e.g. {variant.sizes_text()}; "
                f"got {width}×{height}. Leave height and width empty to follow the picture's shape.",
                f"{variant.name} 要求短边为 {variant.short_side}、长边在 {variant.short_side} 到 {MAX_SIDE} 之间"
                f"（{SIDE_STEP} 的倍数），例如 {variant.sizes_text()}；收到 {width}×{height}。不设置宽高时将按图片比例自动选择。",
            )
    return height, width


def _ratio_name(width: int, height: int) -> str:
    divisor = math.gcd(width, height) or 1
    return f"{width // divisor}:{height // divisor}"


def sizes_follow_input(variant: Variant) -> bool:
    """Whether a picture or clip without a requested size picks the render size (else: native)."""
    return variant.flexible_size or len(variant.sizes) > 1


def size_for_picture(variant: Variant, picture_width: int, picture_height: int) -> tuple[int, int]:
    """(height, width) for image-to-video from a picture, when the caller gave no size.

    A model with a fixed short side keeps it and follows the picture's aspect on the long side,
    within its bounds; other flexible models take the native size, turned for a portrait picture;
    a model of fixed sizes takes the one nearest the picture's shape.
    """
    if not variant.flexible_size:  # a family of fixed sizes (Wan: 832×480, 480×832): the nearest shape
        aspect = max(1, picture_width) / max(1, picture_height)
        nearest = min(variant.offered_sizes(), key=lambda size: abs(math.log(size.width / size.height / aspect)))
        return nearest.height, nearest.width
    portrait = picture_height > picture_width
    if variant.short_side is None:
        long_side, short_side = max(variant.height, variant.width), min(variant.height, variant.width)
        return (long_side, short_side) if portrait else (short_side, long_side)
    short = variant.short_side
    aspect = max(picture_width, picture_height) / max(1, min(picture_width, picture_height))
    long = round(short * aspect / SIDE_STEP) * SIDE_STEP
    long = min(max(long, short), MAX_SIDE)
    return (long, short) if portrait else (short, long)


def _is_number(value: object) -> bool:
    """A real, finite number: NaN and infinities are refused like any other bad value."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# The share of free accelerator memory a plan may fill (the rest: fragmentation, other processes).
HEADROOM = 0.9


def choose_offload(free_vram_bytes: int | None, variant: Variant, headroom: float = HEADROOM,
                   extra_gib: float = 0.0) -> str:
    """The fastest offload mode whose approximate peak, plus `extra_gib` that stays on the GPU in
    every mode (a speed preset's cache), fits in free accelerator memory.

    `None` means no accelerator: the pipeline runs on CPU, where offload hooks cannot work.
    """
    if free_vram_bytes is None:
        return "none"
    budget = free_vram_bytes * headroom / GiB
    for mode in OFFLOAD_LADDER:
        if variant.vram_gib.get(mode, float("inf")) + extra_gib <= budget:
            return mode
    return "sequential"


def next_offload(mode: str) -> str | None:
    """The next, more frugal offload mode (for out-of-memory advice)."""
    if mode not in OFFLOAD_LADDER:
        return None
    index = OFFLOAD_LADDER.index(mode)
    return OFFLOAD_LADDER[index + 1] if index + 1 < len(OFFLOAD_LADDER) else None
