"""Attention backends: sage, flash, flash_3 or PyTorch's own (native), for CogVideoX and Wan.

diffusers' `CogVideoXAttnProcessor2_0` calls `F.scaled_dot_product_attention` itself, so
`set_attention_backend` and the `attention_backend` context do nothing for CogVideoX. Our
processor does the same math but hands the attention to diffusers' `dispatch_attention_fn`, which
knows every kernel. `use_attention` installs it and falls back to native, with a reason the status
line can show, when the asked-for kernel is not installed or cannot run on this GPU. Wan's own
processor already dispatches, so there the kernel is only named (`set_attention_backend`).

SageAttention from the package index is 1.0.6 (Triton kernels, nothing to build), which the
dispatcher refuses (it takes 2.1.1 or newer, built from source): then the processor calls that
package's `sageattn` itself.

torch and diffusers are imported inside functions: the CLI reads `ATTENTION_BACKENDS` for its
choices at start-up and must not pay for them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from bilingual import Text
from cogvideo.errors import InvalidRequest

if TYPE_CHECKING:
    import torch
    from diffusers import CogVideoXTransformer3DModel
    from diffusers.models.attention_processor import Attention

# Our names, in CLI order; each maps to a diffusers `AttentionBackendName` value in `_KERNELS`.
# Left out: the `*_hub` kernels (they download code from the Hub at run time), the varlen ones
# (they only pay off with padding masks, which CogVideoX never passes) and the private
# single-kernel sage variants (`sage` already picks the right one for the GPU).
ATTENTION_BACKENDS: tuple[str, ...] = ("native", "sage", "flash", "flash_3")


@dataclass(frozen=True)
class _Kernel:
    diffusers_name: str
    package: str  # import name, checked with importlib
    install: str  # what to tell the user
    archs: str  # the GPUs it runs on, in words, for the reason text
    supports: Callable[[tuple[int, int]], bool]  # (major, minor) compute capability -> runs?


_KERNELS: dict[str, _Kernel] = {
    # SageAttention 2's `sageattn` dispatches on these exact architectures and raises on any other
    # (sageattention/core.py), so a newer card is not automatically fine.
    "sage": _Kernel("sage", "sageattention", "pip install sageattention", "8.0, 8.6, 8.9, 9.0 or 12.0",
                    lambda cap: cap in {(8, 0), (8, 6), (8, 9), (9, 0), (12, 0)}),
    # FlashAttention 2: Ampere and newer.
    "flash": _Kernel("flash", "flash_attn", "pip install flash-attn", "8.0 or newer",
                     lambda cap: cap >= (8, 0)),
    # FlashAttention 3 is built for Hopper only (no wheel: built from flash-attention/hopper).
    "flash_3": _Kernel("_flash_3", "flash_attn_interface",
                       "build FlashAttention 3 from the hopper/ folder of Dao-AILab/flash-attention",
                       "9.x (Hopper)", lambda cap: cap[0] == 9),
}


# SageAttention 1.x's head sizes (sageattention/core.py asserts them); every CogVideoX uses 64.
SAGE1_HEAD_DIMS = (64, 96, 128)


@dataclass(frozen=True)
class AttentionChoice:
    """The backend that runs, and why it is not the one asked for (`reason` empty when it is)."""

    requested: str
    backend: str
    reason: Text = Text("", "")

    @property
    def fell_back(self) -> bool:
        return self.backend != self.requested


def _diffusers_name(backend: str) -> str:
    if backend == "native":
        return "native"
    if backend in _KERNELS:
        return _KERNELS[backend].diffusers_name
    raise InvalidRequest(
        f"attention={backend!r} is not a backend we know; choose one of {', '.join(ATTENTION_BACKENDS)}",
        f"注意力后端 {backend!r} 无效，可选：{'、'.join(ATTENTION_BACKENDS)}",
    )


class DispatchCogVideoXAttnProcessor:
    """`CogVideoXAttnProcessor2_0`'s math with the attention itself routed through diffusers'
    `dispatch_attention_fn`.

    `backend` is one of `ATTENTION_BACKENDS`; None follows diffusers' active backend (the
    `attention_backend` context, or `DIFFUSERS_ATTN_BACKEND`). `transformer.set_attention_backend`
    also reaches this processor, through `_attention_backend`. Stateless: one instance can serve
    every block.
    """

    # The attributes diffusers' own dispatching processors carry; `set_attention_backend` and
    # context parallelism set them.
    _attention_backend = None
    _parallel_config = None

    def __init__(self, backend: str | None = None, kernel: Callable | None = None):
        # `kernel(q, k, v)` in the (B, S, heads, head_dim) layout, called instead of the dispatcher
        # when there is no mask (CogVideoX passes none): SageAttention 1.x, which it refuses.
        self._kernel = kernel
        if backend is not None:
            from diffusers.models.attention_dispatch import AttentionBackendName

            self._attention_backend = AttentionBackendName(_diffusers_name(backend))

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # Imported per call, like diffusers' own processor does: a dictionary lookup once loaded.
        import torch
        from diffusers.models import attention_dispatch
        from diffusers.models.embeddings import apply_rotary_emb

        # 1. Text tokens first, then video tokens: one joint sequence (B, S_text + S_video, C).
        text_seq_length = encoder_hidden_states.size(1)
        hidden_states = torch.cat([encoder_hidden_states, hidden_states], dim=1)
        batch_size, sequence_length, _ = hidden_states.shape

        if attention_mask is not None:
            # (B, heads, S_q, S_k): the native backend hands it to SDPA as is.
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])

        # 2. Projections; `fuse_qkv_projections()` replaces to_q/to_k/to_v with one to_qkv.
        if getattr(attn, "fused_projections", False):
            query, key, value = attn.to_qkv(hidden_states).chunk(3, dim=-1)
        else:
            query, key, value = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)

        # 3. (B, S, heads, head_dim): the layout dispatch_attention_fn takes (not SDPA's B, H, S, D).
        head_dim = key.shape[-1] // attn.heads
        query, key, value = (x.unflatten(-1, (attn.heads, head_dim)) for x in (query, key, value))

        # 4. QK norms work on the last dim (head_dim), so the layout does not matter to them.
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        # 5. RoPE on the video tokens only; the sequence is dim 1 in this layout.
        if image_rotary_emb is not None:
            query[:, text_seq_length:] = apply_rotary_emb(query[:, text_seq_length:], image_rotary_emb, sequence_dim=1)
            if not attn.is_cross_attention:
                key[:, text_seq_length:] = apply_rotary_emb(key[:, text_seq_length:], image_rotary_emb, sequence_dim=1)

        # 6. Attention through the direct kernel, or the dispatcher (looked up on the module so a
        # wrapper can count it).
        if self._kernel is not None and attention_mask is None:
            hidden_states = self._kernel(query, key, value)
        else:
            hidden_states = attention_dispatch.dispatch_attention_fn(
                query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False,
                backend=self._attention_backend, parallel_config=self._parallel_config,
            )
        hidden_states = hidden_states.flatten(2, 3)

        # 7. Output projection and dropout, then split back into (video, text).
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        encoder_hidden_states, hidden_states = hidden_states.split(
            [text_seq_length, hidden_states.size(1) - text_seq_length], dim=1
        )
        return hidden_states, encoder_hidden_states


def choose_backend(
    requested: str,
    *,
    installed: bool,
    capability: tuple[int, int] | None,
    dtype: torch.dtype,
) -> AttentionChoice:
    """Pick the backend that can run: `requested`, or native with the reason.

    `installed`: the kernel package imports and diffusers accepts it; `capability`: the CUDA
    compute capability of the GPU that will run the model, None without an NVIDIA GPU.
    """
    import torch

    _diffusers_name(requested)  # unknown names raise here, before any fallback hides them
    if requested == "native":
        return AttentionChoice(requested, "native")
    kernel = _KERNELS[requested]

    def fallback(en: str, zh: str) -> AttentionChoice:
        return AttentionChoice(requested, "native", Text(f"{en}; using PyTorch attention", f"{zh}，改用 PyTorch 注意力"))

    if not installed:
        return fallback(f"{requested} attention is not installed or too old ({kernel.install})",
                        f"未安装 {requested} 注意力或版本过旧（{kernel.install}）")
    if capability is None:
        return fallback(f"{requested} attention needs an NVIDIA GPU", f"{requested} 注意力需要 NVIDIA GPU")
    if not kernel.supports(capability):
        found = f"{capability[0]}.{capability[1]}"
        return fallback(
            f"{requested} attention does not run on this GPU (compute capability {found}; it needs {kernel.archs})",
            f"{requested} 注意力不支持此 GPU（计算能力 {found}，需要 {kernel.archs}）",
        )
    if dtype not in (torch.float16, torch.bfloat16):
        name = str(dtype).removeprefix("torch.")
        return fallback(f"{requested} attention needs float16 or bfloat16 (the model runs in {name})",
                        f"{requested} 注意力需要 float16 或 bfloat16（模型为 {name}）")
    return AttentionChoice(requested, requested)


def _kernel_installed(kernel: _Kernel) -> bool:
    import importlib.util

    from diffusers.models.attention_dispatch import AttentionBackendName, _check_attention_backend_requirements

    if importlib.util.find_spec(kernel.package) is None:
        return False
    try:
        # diffusers imports the kernel once, at its own import, and checks the version: if it
        # refuses, dispatching to it would fail with a NameError mid-render. (A private helper;
        # diffusers is pinned to 0.42.x.)
        _check_attention_backend_requirements(AttentionBackendName(kernel.diffusers_name))
    except RuntimeError:
        return False
    return True


def sage1_kernel() -> Callable | None:
    """SageAttention 1.x's `sageattn` for the (B, S, heads, head_dim) layout, or None when the
    installed package is not 1.x (or there is none, or no Triton)."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec("sageattention") is None or importlib.util.find_spec("triton") is None:
        return None
    try:
        version = importlib.metadata.version("sageattention")
    except importlib.metadata.PackageNotFoundError:
        return None
    if not version.startswith("1."):
        return None
    try:
        from sageattention import sageattn
    except Exception:  # Triton that does not load here (no driver, a mismatched build)
        return None
    # It subtracts the keys' mean in place (smooth_k): the keys are this call's own tensor.
    return functools.partial(sageattn, tensor_layout="NHD", is_causal=False)


def _cuda_capability(transformer: CogVideoXTransformer3DModel) -> tuple[int, int] | None:
    import torch

    if not torch.cuda.is_available():
        return None
    # With CPU offload the weights sit on the CPU now but run on the current CUDA device.
    device = transformer.device if transformer.device.type == "cuda" else torch.device("cuda")
    return torch.cuda.get_device_capability(device)


def use_attention(transformer: CogVideoXTransformer3DModel, backend: str) -> AttentionChoice:
    """Install our processor on every attention module of `transformer`, for `backend` or, when
    that kernel cannot run here, for native; the returned choice says which and why.

    Call it after `fuse_qkv_projections()` if you fuse: fusing installs diffusers' own processor.
    """
    installed = backend in _KERNELS and _kernel_installed(_KERNELS[backend])
    kernel = sage1_kernel() if backend == "sage" and not installed else None
    choice = choose_backend(backend, installed=installed or kernel is not None,
                            capability=_cuda_capability(transformer), dtype=transformer.dtype)
    if not type(transformer).__name__.startswith("CogVideoX"):
        return _use_dispatched_attention(transformer, choice, sage1=kernel is not None)
    if kernel is None or choice.backend != backend:
        transformer.set_attn_processor(DispatchCogVideoXAttnProcessor(choice.backend))
        return choice
    head_dim = transformer.config.attention_head_dim
    if head_dim not in SAGE1_HEAD_DIMS:
        choice = AttentionChoice(backend, "native", Text(
            f"sage attention 1.x takes heads of {', '.join(map(str, SAGE1_HEAD_DIMS))} (this model's: {head_dim}); "
            "using PyTorch attention",
            f"sage 注意力 1.x 仅支持 {'、'.join(map(str, SAGE1_HEAD_DIMS))} 维的注意力头（此模型为 {head_dim}），"
            "改用 PyTorch 注意力",
        ))
        transformer.set_attn_processor(DispatchCogVideoXAttnProcessor("native"))
        return choice
    transformer.set_attn_processor(DispatchCogVideoXAttnProcessor("native", kernel=kernel))
    return choice


def _use_dispatched_attention(transformer, choice: AttentionChoice, sage1: bool) -> AttentionChoice:
    """Wan (and any transformer whose own processors call diffusers' `dispatch_attention_fn`): the
    kernel is chosen by name with `set_attention_backend`, and native keeps the processors as
    published. Our CogVideoX processor must never go on it (its attention takes the text inside the
    sequence; Wan's cross-attends to it). SageAttention 1.x, which the dispatcher refuses, runs only
    through our CogVideoX processor, so it falls back here."""
    if choice.backend == "native":
        return choice
    if sage1:
        return AttentionChoice(choice.requested, "native", Text(
            "sage attention 1.x runs on CogVideoX only (diffusers dispatches 2.1.1 or newer); using PyTorch attention",
            "sage 注意力 1.x 仅用于 CogVideoX（diffusers 需要 2.1.1 及以上版本），改用 PyTorch 注意力",
        ))
    transformer.set_attention_backend(_KERNELS[choice.backend].diffusers_name)
    return choice
