"""TeaCache for CogVideoX: skip the whole block stack on steps whose timestep embedding barely moved.

TeaCache (arXiv 2411.19108) watches the timestep embedding the transformer blocks receive (`temb`,
with CogVideoX1.5-I2V's frame-offset embedding added). Per step it takes the relative L1 change of
that embedding from the step before, maps it through a polynomial the authors fitted per checkpoint
(how much the blocks' output changes for that much embedding change), and adds it up. While the sum
stays under the threshold the blocks are skipped and the residual they added on the last computed
step is added instead; once it passes the threshold the blocks run and the sum starts again. The
first and last step always run.

What it keeps is small: one residual for the video tokens and one for the text tokens, about 0.2 GB
for CogVideoX-5B at 720×480 and 49 frames in bfloat16 (the CFG batch shares one forward), so it
fits beside the model where Quality fits. The code is ours, on diffusers' hook registry like its own
caches; the coefficients are the authors' published numbers (`ali-vilab/TeaCache`,
`TeaCache4CogVideoX1.5/teacache_sample_video.py`, commit 7c10efc).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from diffusers.hooks import HookRegistry, ModelHook

# Highest power first, as numpy.poly1d takes them.
COEFFICIENTS: dict[str, tuple[float, ...]] = {
    "2b": (-3.10658903e+01, 2.54732368e+01, -5.92380459e+00, 1.75769064e+00, -3.61568434e-03),
    "5b": (-1.53880483e+03, 8.43202495e+02, -1.34363087e+02, 7.97131516e+00, -5.23162339e-02),
    "5b-i2v": (-1.53880483e+03, 8.43202495e+02, -1.34363087e+02, 7.97131516e+00, -5.23162339e-02),
    "1.5-5b": (2.50210439e+02, -1.65061612e+02, 3.57804877e+01, -7.81551492e-01, 3.58559703e-02),
    "1.5-5b-i2v": (1.22842302e+02, -1.04088754e+02, 2.62981677e+01, -3.06009921e-01, 3.71213220e-02),
}
# Models without a published fit (the random-weight test models, local checkpoints of unknown
# lineage) use the raw relative change: the identity polynomial.
IDENTITY = (1.0, 0.0)

_HEAD_HOOK = "studio_teacache_head"
_BLOCK_HOOK = "studio_teacache_block"


@dataclass(frozen=True)
class TeaCacheConfig:
    threshold: float
    coefficients: tuple[float, ...]
    # The steps of the render now running (the pipeline's `num_timesteps`): the last one always runs.
    total_steps: Callable[[], int | None] = field(default=lambda: None, compare=False)


def coefficients_for(model: str) -> tuple[float, ...]:
    return COEFFICIENTS.get(model, IDENTITY)


def rescale(coefficients: tuple[float, ...], x: float) -> float:
    value = 0.0
    for c in coefficients:  # Horner's rule, highest power first
        value = value * x + c
    return value


class _State:
    def __init__(self) -> None:
        self.skipped = 0  # steps skipped since the cache was applied (the bench reports it)
        self.reset()

    def reset(self) -> None:
        self.step = 0
        self.accumulated = 0.0
        self.previous_temb: torch.Tensor | None = None
        self.skip = False
        self.inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.residuals: tuple[torch.Tensor, torch.Tensor] | None = None


class _HeadHook(ModelHook):
    """On the first block: decide for the whole stack, and on a skipped step answer for it."""

    _is_stateful = True

    def __init__(self, state: _State, config: TeaCacheConfig, is_tail: bool) -> None:
        super().__init__()
        self.state, self.config, self.is_tail = state, config, is_tail

    def new_forward(self, module, hidden_states, encoder_hidden_states, temb, *args, **kwargs):
        state = self.state
        state.skip = self._should_skip(temb)
        if state.skip:
            state.skipped += 1
            return (hidden_states + state.residuals[0], encoder_hidden_states + state.residuals[1])
        state.inputs = (hidden_states, encoder_hidden_states)
        output = self.fn_ref.original_forward(hidden_states, encoder_hidden_states, temb, *args, **kwargs)
        if self.is_tail:
            _keep_residuals(state, output)
        return output

    @torch.compiler.disable
    def _should_skip(self, temb: torch.Tensor) -> bool:
        state = self.state
        index, total = state.step, self.config.total_steps()
        if total is not None and state.step + 1 >= total:
            state.step = 0  # the next forward begins the next render
        else:
            state.step += 1
        previous, state.previous_temb = state.previous_temb, temb.detach()
        last = total is not None and index == total - 1
        if index == 0 or last or previous is None or state.residuals is None:
            state.accumulated = 0.0
            return False
        change = ((temb - previous).abs().mean() / previous.abs().mean().clamp_min(1e-12)).item()
        state.accumulated += rescale(self.config.coefficients, change)
        if state.accumulated < self.config.threshold:
            return True
        state.accumulated = 0.0
        return False

    def reset_state(self, module):
        self.state.reset()
        return module


class _BlockHook(ModelHook):
    """On every other block: pass the stream through on a skipped step; the last block keeps the
    residual the whole stack added on a computed one."""

    def __init__(self, state: _State, is_tail: bool) -> None:
        super().__init__()
        self.state, self.is_tail = state, is_tail

    def new_forward(self, module, hidden_states, encoder_hidden_states, *args, **kwargs):
        if self.state.skip:
            return hidden_states, encoder_hidden_states
        output = self.fn_ref.original_forward(hidden_states, encoder_hidden_states, *args, **kwargs)
        if self.is_tail:
            _keep_residuals(self.state, output)
        return output


def _keep_residuals(state: _State, output) -> None:
    hidden, encoder = output
    state.residuals = (hidden - state.inputs[0], encoder - state.inputs[1])
    state.inputs = None


def apply(transformer: torch.nn.Module, config: TeaCacheConfig) -> None:
    blocks = list(transformer.transformer_blocks)
    if not blocks:
        raise ValueError("TeaCache needs a transformer with blocks")
    state = _State()
    HookRegistry.check_if_exists_or_initialize(blocks[0]).register_hook(
        _HeadHook(state, config, is_tail=len(blocks) == 1), _HEAD_HOOK)
    for index, block in enumerate(blocks[1:], start=1):
        HookRegistry.check_if_exists_or_initialize(block).register_hook(
            _BlockHook(state, is_tail=index == len(blocks) - 1), _BLOCK_HOOK)
    HookRegistry.check_if_exists_or_initialize(transformer).invalidate_child_registries_cache()
    transformer._studio_teacache = state


def remove(transformer: torch.nn.Module) -> None:
    if not applied(transformer):
        return
    for block in transformer.transformer_blocks:
        registry = HookRegistry.check_if_exists_or_initialize(block)
        registry.remove_hook(_HEAD_HOOK, recurse=False)
        registry.remove_hook(_BLOCK_HOOK, recurse=False)
    HookRegistry.check_if_exists_or_initialize(transformer).invalidate_child_registries_cache()
    del transformer._studio_teacache


def applied(transformer: torch.nn.Module) -> bool:
    return getattr(transformer, "_studio_teacache", None) is not None


def skipped_steps(transformer: torch.nn.Module) -> int:
    """Steps skipped since TeaCache was turned on (0 when it is off). Not reset per video: the
    pipeline resets stateful hooks when it finishes."""
    state = getattr(transformer, "_studio_teacache", None)
    return 0 if state is None else state.skipped
