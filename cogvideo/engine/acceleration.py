"""Machine-level speed-ups of a loaded transformer: the attention kernel, fp8 matmuls, compile.

Unlike the speed presets (cogvideo/engine/speed.py), which the user picks per video, these are chosen once
per server (`--attention`, `--fp8`, `--compile`) because they change the loaded model itself. Each
one that cannot run here is left off with the reason, shown in the status line, never an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bilingual import Text

if TYPE_CHECKING:
    import torch

log = logging.getLogger("cogvideo")

FP8_MIN_CAPABILITY = (8, 9)  # Ada and Hopper: the first GPUs with fp8 tensor cores


@dataclass(frozen=True)
class Acceleration:
    """What the engine does to the transformer beyond the model itself, and why not more."""

    compile: bool = False
    fp8: bool = False
    attention: str = "native"
    notes: tuple[Text, ...] = ()


def apply(transformer: "torch.nn.Module", wants: Acceleration, device: "torch.device") -> Acceleration:
    notes: list[Text] = []
    on_gpu = device.type == "cuda"

    attention = "native"
    # Native keeps diffusers' own processor: our dispatching one is the same math, but the
    # default path stays exactly the published one.
    if wants.attention != "native":
        from cogvideo.engine.attention import use_attention

        choice = use_attention(transformer, wants.attention)
        attention = choice.backend
        if choice.fell_back:
            notes.append(choice.reason)

    fp8 = False
    if wants.fp8:
        fp8, why_not = _fp8(transformer, device)
        if why_not:
            notes.append(why_not)

    compiled = False
    if wants.compile:
        if on_gpu:
            _compile_blocks(transformer)
            compiled = True
        else:
            notes.append(Text("compile: off (it pays off on a GPU only)", "编译：未启用（仅在 GPU 上有收益）"))
    return Acceleration(compile=compiled, fp8=fp8, attention=attention, notes=tuple(notes))


def _fp8(transformer, device) -> tuple[bool, Text | None]:
    """Dynamic fp8 activations and fp8 weights (per row) on every linear layer of the transformer,
    and why not where it cannot run.
    Weight-only fp8 would save memory but not time: the matmuls must run in fp8 to be faster."""
    import torch

    if device.type != "cuda":
        return False, Text("fp8: off (needs an NVIDIA GPU)", "fp8：未启用（需要 NVIDIA 显卡）")
    capability = torch.cuda.get_device_capability(device)
    if capability < FP8_MIN_CAPABILITY:
        return False, Text(f"fp8: off (needs compute capability 8.9 or newer; this GPU has {capability[0]}.{capability[1]})",
                           f"fp8：未启用（需要计算能力 8.9 及以上，这块显卡为 {capability[0]}.{capability[1]}）")
    try:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_
    except ImportError:
        return False, Text("fp8: off (pip install torchao)", "fp8：未启用（请先 pip install torchao）")
    quantize_(transformer, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()))
    return True, None


def _compile_blocks(transformer) -> None:
    """Compile each transformer block on its own: the blocks share one compiled graph this way
    (compiling the whole model would also trace the cache hooks between blocks)."""
    for block in repeated_blocks(transformer):
        block.compile(fullgraph=False, dynamic=False)


def repeated_blocks(transformer) -> list:
    """The transformer's blocks: those of the classes it declares for diffusers' regional compile
    (Wan: `WanTransformerBlock`, under `blocks`), else CogVideoX's `transformer_blocks` (CogVideoX
    declares none)."""
    declared = set(getattr(transformer, "_repeated_blocks", None) or ())
    if declared:
        return [module for module in transformer.modules() if type(module).__name__ in declared]
    return list(transformer.transformer_blocks)
