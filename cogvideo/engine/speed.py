"""Speed presets: how much of the transformer's work one denoising step may reuse from the last.

Each preset is data: a caching method of diffusers (`transformer.enable_cache`) and its settings.
The settings are the ones their authors or diffusers published for CogVideoX, cited in
docs/speed.md; `bench/quality.py` measures each preset against Quality with the same seed, and
`bench/speed.py` its time. Presets change the picture only where a cached step differs from the
one it replaces: Quality runs every block at every step, exactly as the model's authors publish it.

MagCache needs ratios calibrated per checkpoint, scheduler and step count
(`python -m cogvideo calibrate 5b`, saved in `presets/mag_ratios/`); a preset that names it falls
back to its `fallback` method until they exist.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, get_args

from bilingual import Text, pick
from cogvideo.errors import InvalidRequest
from cogvideo.request import SpeedId

if TYPE_CHECKING:
    import torch

RATIOS_DIR = Path(os.environ.get("COGVIDEO_MAG_RATIOS", Path(__file__).resolve().parents[2] / "presets" / "mag_ratios"))

# TaylorSeer's default module patterns do not name CogVideoX's: its attention is `attn1` and its
# feed-forward `ff`, inside `transformer_blocks.N`.
COGVIDEOX_TAYLORSEER_IDENTIFIERS = (r"^transformer_blocks\.\d+\.attn1$", r"^transformer_blocks\.\d+\.ff$")


def _constant_weight(_module) -> float:
    # FasterCache's weight of the newer cached attention when it extrapolates (diffusers' CogVideoX
    # example uses 0.3; without a callback it warns and uses 0.5).
    return 0.3


@dataclass(frozen=True)
class SpeedPreset:
    id: str
    name: Text
    help: Text
    method: str | None  # None: no caching, every block at every step
    settings: Mapping[str, Any] = field(default_factory=dict)
    fallback: str | None = None  # the preset used when `method` cannot run (no CFG, no ratios)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))


PRESETS: dict[str, SpeedPreset] = {
    p.id: p
    for p in (
        SpeedPreset(
            id="quality", name=Text("Quality", "质量优先"),
            help=Text("Every step computed in full, as the model's authors run it.",
                      "每一步完整计算，与模型作者的推理方式一致。"),
            method=None,
        ),
        SpeedPreset(
            id="balanced", name=Text("Balanced", "均衡"),
            help=Text("Reuses attention between neighbouring steps in the middle of the schedule "
                      "(Pyramid Attention Broadcast): faster, nearly the same video.",
                      "在去噪中段复用相邻步骤的注意力（金字塔注意力广播）：更快，画面几乎不变。"),
            method="pab",
            # diffusers' published CogVideoX-5b setting (docs/speed.md).
            settings={"spatial_attention_block_skip_range": 2,
                      "spatial_attention_timestep_skip_range": (100, 800)},
        ),
        SpeedPreset(
            id="fast", name=Text("Fast", "速度优先"),
            help=Text("Also reuses the unconditional half of guidance on most steps (FasterCache): "
                      "about 1.6× faster in its authors' CogVideoX tests; fine details may differ.",
                      "在大多数步骤还复用无条件引导分支（FasterCache）：作者在 CogVideoX 上测得约快 1.6 倍，细节可能略有不同。"),
            method="faster",
            # diffusers' published CogVideoX-5b setting; the paper's CogVideoX results (1.62×,
            # VBench 80.18% -> 79.83%) are the only published quality numbers on CogVideoX.
            settings={"spatial_attention_block_skip_range": 2,
                      "spatial_attention_timestep_skip_range": (-1, 681),
                      "unconditional_batch_skip_range": 5,
                      "unconditional_batch_timestep_skip_range": (-1, 781),
                      "attention_weight_callback": _constant_weight},
            fallback="balanced",
        ),
        SpeedPreset(
            id="lean", name=Text("Lean", "轻快"),
            help=Text("Skips the whole model on steps where the video barely changes (TeaCache): "
                      "about 1.3× faster in published CogVideoX1.5 tests with nearly the same video, and "
                      "it needs almost no extra graphics memory, so it also runs where Balanced and Fast do not fit.",
                      "在画面几乎不变的步骤跳过整个模型（TeaCache）：公开的 CogVideoX1.5 测试中约快 1.3 倍、画面几乎不变，"
                      "且几乎不占额外显存，在放不下“均衡”和“速度优先”的显卡上也能用。"),
            method="teacache",
            # The authors' mildest published setting (0.1: "1.3x" on CogVideoX1.5); a third-party
            # measurement at that speed-up kept PSNR 36.3 dB, SSIM 0.954 against the uncached
            # video (docs/speed.md).
            settings={"threshold": 0.1},
        ),
    )
}

if set(get_args(SpeedId)) != set(PRESETS):  # the faces' schemas offer exactly these presets
    raise RuntimeError("request.SpeedId must list exactly the ids of PRESETS")


# GPU memory a preset's cache adds beside the model, in GiB, per model size (docs/speed.md,
# section 8). 5B is measured (H200, 720×480, 49 frames: Balanced +8.6, Fast +16.0); 2B and 1.5 are
# scaled from it by tokens × hidden size; Lean is estimated from its two residuals. Offload does not
# move these: they sit on the GPU in every offload mode.
CACHE_GIB: dict[str, dict[str, float]] = {
    "cogvideox-2b": {"balanced": 3.8, "fast": 7.2, "lean": 0.2},
    "cogvideox-5b": {"balanced": 8.6, "fast": 16.0, "lean": 0.4},
    "cogvideox1.5-5b": {"balanced": 22.0, "fast": 41.0, "lean": 1.0},
}


def cache_gib(preset_id: str, variant) -> float:
    return CACHE_GIB.get(variant.family, {}).get(preset_id, 0.0)


def fits(preset_id: str, variant, offload: str, budget_gib: float | None) -> bool:
    """Whether the model in this offload mode and the preset's cache fit in `budget_gib` (None: no
    limit known, e.g. the CPU)."""
    if budget_gib is None or cache_gib(preset_id, variant) == 0:
        return True  # no cache: it needs what Quality needs, and the offload mode answers for that
    return variant.vram_gib.get(offload, float("inf")) + cache_gib(preset_id, variant) <= budget_gib


def too_big(preset_id: str, variant, card_gib: float, fitting: list[str]) -> InvalidRequest:
    """The refusal for a preset whose cache does not fit beside the model on this card."""
    preset, extra = PRESETS[preset_id], cache_gib(preset_id, variant)
    others = [PRESETS[p] for p in fitting]
    return InvalidRequest(
        f"{preset.name.en} needs about {extra:g} GB more graphics memory than this card "
        f"(about {card_gib:.0f} GB) can spare. Choose {' or '.join(p.name.en for p in others)} instead.",
        f"“{preset.name.zh}”需要额外约 {extra:g} GB 显存，这块显卡（约 {card_gib:.0f} GB）放不下。"
        f"请改用{'或'.join('“' + p.name.zh + '”' for p in others)}。",
    )


def not_for_family(preset_id: str, family, offered: list[str]) -> InvalidRequest:
    """The refusal for a preset without published evidence on the loaded model's family."""
    preset, others = PRESETS[preset_id], [PRESETS[p] for p in offered]
    return InvalidRequest(
        f"{preset.name.en} is not offered on {family.name} models: its caching settings are checked on "
        f"CogVideoX only. Choose {' or '.join(p.name.en for p in others)}.",
        f"“{preset.name.zh}”暂不支持 {family.name} 模型（其缓存参数只在 CogVideoX 上验证过）。"
        f"请改用{'或'.join('“' + p.name.zh + '”' for p in others)}。",
    )


def names(lang: str = "en") -> list[tuple[str, str]]:
    """(label, id) pairs for a choice widget."""
    return [(pick(p.name, lang), p.id) for p in PRESETS.values()]


def check_speed(speed: object) -> str:
    if not isinstance(speed, str) or speed.strip().lower() not in PRESETS:
        raise InvalidRequest(
            f"speed={speed!r} is not a speed preset: use one of {', '.join(PRESETS)}.",
            f"速度档位 {speed!r} 无效，可选：{', '.join(PRESETS)}"
            f"（{' / '.join(p.name.zh for p in PRESETS.values())}）。",
        )
    return speed.strip().lower()


# ---------------------------------------------------------------- turning a preset into a config


@dataclass(frozen=True)
class CachePlan:
    """What the engine enables for one render: a diffusers cache config (None: no caching), and
    why the preset's own method was replaced, when it was."""

    key: tuple  # equal keys: the config already enabled can stay
    config: Any
    reason: Text | None = None


def plan(preset_id: str, pipe, *, model: str, steps: int, guidance_scale: float) -> CachePlan:
    preset = PRESETS[check_speed(preset_id)]
    method, settings = preset.method, dict(preset.settings)
    reason = None
    if method == "faster" and guidance_scale <= 1.0:
        # FasterCache reuses the unconditional half of the CFG batch: without CFG there is none.
        reason = Text("FasterCache needs guidance above 1; used the fallback method instead.",
                      "FasterCache 需要引导系数大于 1，已改用备用方法。")
        method, settings = _fallback(preset)
    if method == "mag":
        ratios = load_mag_ratios(model, steps)
        if ratios is None:
            reason = Text(f"MagCache is not calibrated for {model} at {steps} steps "
                          f"(run `python -m cogvideo calibrate {model} --steps {steps}`); used the fallback method.",
                          f"MagCache 尚未针对 {model}（{steps} 步）校准（运行 `python -m cogvideo calibrate {model} "
                          f"--steps {steps}`），已改用备用方法。")
            method, settings = _fallback(preset)
        else:
            settings = {**settings, "mag_ratios": ratios, "num_inference_steps": steps}
    if method is None:
        return CachePlan(key=(None,), config=None, reason=reason)
    if method == "teacache":
        from cogvideo.engine import teacache

        settings = {**settings, "coefficients": teacache.coefficients_for(model)}
    key = (method, steps if method == "mag" else None, tuple(sorted((k, repr(v)) for k, v in settings.items())))
    return CachePlan(key=key, config=_config(method, settings, pipe), reason=reason)


def _fallback(preset: SpeedPreset) -> tuple[str | None, dict]:
    if preset.fallback is None:
        return None, {}
    other = PRESETS[preset.fallback]
    return other.method, dict(other.settings)


def _config(method: str, settings: dict, pipe):
    if method == "teacache":
        from cogvideo.engine import teacache

        # The render's step count, known once the pipeline has set its schedule (v2v runs fewer).
        return teacache.TeaCacheConfig(total_steps=lambda: getattr(pipe, "_num_timesteps", None), **settings)
    from diffusers.hooks import (FasterCacheConfig, FirstBlockCacheConfig, MagCacheConfig,
                                 PyramidAttentionBroadcastConfig, TaylorSeerCacheConfig)

    # diffusers 0.42 does not fill the timestep callback in for PAB and FasterCache: without it
    # they cannot tell where in the schedule they are. The pipeline's tensor, not a Python int:
    # an int becomes a compile guard and recompiles every block at every step.
    def timestep():
        current = pipe.current_timestep
        return -1 if current is None else current

    if method == "pab":
        return PyramidAttentionBroadcastConfig(current_timestep_callback=timestep, **settings)
    if method == "faster":
        return FasterCacheConfig(current_timestep_callback=timestep, tensor_format="BFCHW", **settings)
    if method == "fbc":
        return FirstBlockCacheConfig(**settings)
    if method == "taylorseer":
        return TaylorSeerCacheConfig(cache_identifiers=list(COGVIDEOX_TAYLORSEER_IDENTIFIERS), **settings)
    if method == "mag":
        return MagCacheConfig(**settings)
    raise ValueError(f"unknown caching method {method!r}")


def enable(transformer, config) -> None:
    """Turn a plan's cache on: diffusers' own methods through `enable_cache`, ours directly."""
    from cogvideo.engine import teacache

    if isinstance(config, teacache.TeaCacheConfig):
        teacache.apply(transformer, config)
    else:
        transformer.enable_cache(config)


def disable(transformer) -> None:
    from cogvideo.engine import teacache

    teacache.remove(transformer)
    if transformer.is_cache_enabled:
        transformer.disable_cache()


def enabled(transformer) -> bool:
    from cogvideo.engine import teacache

    return transformer.is_cache_enabled or teacache.applied(transformer)


# ---------------------------------------------------------------- MagCache calibration


def ratios_file(model: str, steps: int) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model).name if os.sep in model else model)
    return RATIOS_DIR / f"{safe}-{steps}.json"


def load_mag_ratios(model: str, steps: int) -> list[float] | None:
    path = ratios_file(model, steps)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ratios = data.get("mag_ratios") if isinstance(data, dict) else None
    if not isinstance(ratios, list) or len(ratios) != steps or not all(isinstance(r, (int, float)) for r in ratios):
        return None
    return [float(r) for r in ratios]


def save_mag_ratios(model: str, steps: int, ratios: list[float], **about) -> Path:
    path = ratios_file(model, steps)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps({"model": model, "steps": steps, "mag_ratios": ratios, **about}, indent=1))
    os.replace(tmp, path)
    return path


class MagRatioRecorder:
    """Records MagCache's ratios during one uncached render: per step, the mean over tokens of
    |residual now| / |residual at the step before|, where the residual is what the transformer
    blocks add to their input (the same formula as diffusers' own calibration mode)."""

    def __init__(self, transformer: "torch.nn.Module") -> None:
        blocks = transformer.transformer_blocks
        self.ratios: list[float] = []
        self._input = None
        self._previous = None
        self._handles = [
            blocks[0].register_forward_pre_hook(self._on_head, with_kwargs=True),
            blocks[-1].register_forward_hook(self._on_tail),
        ]

    def _on_head(self, module, args, kwargs):
        self._input = kwargs.get("hidden_states", args[0] if args else None)

    def _on_tail(self, module, args, output):
        import torch

        hidden = output[0] if isinstance(output, tuple) else output
        residual = (hidden - self._input).float()
        if self._previous is None:
            self.ratios.append(1.0)
        else:
            now = torch.linalg.norm(residual, dim=-1)
            before = torch.linalg.norm(self._previous, dim=-1)
            self.ratios.append((now / (before + 1e-8)).mean().item())
        self._previous = residual

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._previous = self._input = None
