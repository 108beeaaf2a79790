"""Load video pipelines (CogVideoX, Wan) once, share what can be shared, size them to the machine,
render frames. What differs between families is data in families.py.

The engine knows nothing of the UI: it takes plain values and callbacks and returns uint8 frames.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from PIL import Image

from bilingual import Text
from cogvideo.callbacks import StatusCallback, StepCallback
from cogvideo.engine import models
from cogvideo.engine.acceleration import Acceleration
from cogvideo.engine.families import family_of
from cogvideo.engine.models import Variant
from cogvideo.engine.weights import fetch_weights
from cogvideo.errors import Cancelled, InvalidRequest, StudioError

if TYPE_CHECKING:
    import torch

    from cogvideo.engine.lora import LoraSpec

log = logging.getLogger("cogvideo")

SHARED_COMPONENTS = ("tokenizer", "text_encoder", "vae", "scheduler")
# Pipelines built from another task's pipeline, every component shared (no second transformer):
# restyling a clip runs the text-to-video model from a noised copy of the clip.
DERIVED_TASKS = {"v2v": "t2v"}



@dataclass(frozen=True)
class RenderJob:
    """One render, already validated by the studio: every value is final."""

    task: str
    prompt: str
    negative_prompt: str
    image: Image.Image | None
    num_frames: int
    num_inference_steps: int
    guidance_scale: float
    seed: int
    height: int
    width: int
    speed: str = "quality"  # a preset of cogvideo/engine/speed.py
    # "v2v" (restyle a clip) only: the clip's frames at the render size, and how far to move from
    # them (0..1: the share of the denoising schedule that runs).
    video: list[Image.Image] | None = None
    strength: float = 1.0
    lora_scales: dict[str, float] | None = None  # adapter name -> scale; missing names: their default


@dataclass(frozen=True)
class EngineStatus:
    model: str
    device: str
    dtype: str
    offload: str
    free_vram_gib: float | None
    loaded: tuple[str, ...]
    acceleration: Acceleration = Acceleration()


_IMPORT_LOCK = threading.Lock()
_imported = False


def import_libraries() -> None:
    """Import diffusers and transformers once, under a lock.

    Their lazy modules are not safe to import from two threads at once (a live token count and a
    first render racing gave "cannot import name 'T5Tokenizer'"), so every path that needs them
    calls this first; after the first call it costs nothing.
    """
    global _imported
    if _imported:
        return
    with _IMPORT_LOCK:
        if not _imported:
            import diffusers  # noqa: F401
            from diffusers import CogVideoXImageToVideoPipeline, CogVideoXPipeline  # noqa: F401
            from diffusers import CogVideoXVideoToVideoPipeline  # noqa: F401
            from diffusers import WanImageToVideoPipeline, WanPipeline, WanVideoToVideoPipeline  # noqa: F401
            from transformers import AutoTokenizer, T5EncoderModel, T5Tokenizer, UMT5EncoderModel  # noqa: F401

            _imported = True


def accelerator() -> "torch.device | None":
    import torch

    return torch.accelerator.current_accelerator(check_available=True)


def free_vram_bytes(device) -> int | None:
    """Free memory on the accelerator, or None where there is none (or it cannot say)."""
    import torch

    if device is None:
        return None
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return None


def torch_dtype(name: str, device) -> "torch.dtype":
    import torch

    dtype = getattr(torch, name)
    if dtype is torch.bfloat16 and device is not None and device.type == "cuda":
        if not torch.cuda.is_bf16_supported():
            log.warning(
                "This GPU has no bfloat16; using float16. CogVideoX-5B models often give black "
                "video in float16: prefer a card with bf16 (Ampere or newer)."
            )
            return torch.float16
    return dtype


class Engine:
    """Holds the pipelines for one model family (a T2V and/or an I2V variant)."""

    def __init__(
        self,
        model: str = "5b",
        offload: str = "auto",
        device: str | None = None,
        *,
        compile: bool = False,
        fp8: bool = False,
        attention: str = "native",
        loras: "Sequence[LoraSpec]" = (),
        speed: str = "quality",
        vram_gib: float | None = None,
    ):
        if offload not in models.OFFLOAD_MODES:
            raise InvalidRequest(
                f"Unknown offload mode {offload!r}; use one of {', '.join(models.OFFLOAD_MODES)}.",
                f"未知的显存策略 {offload!r}；可选：{', '.join(models.OFFLOAD_MODES)}。",
            )
        primary = models.resolve(model)
        other = models.partner(primary)
        self.variants: dict[str, Variant] = {primary.task: primary}
        if other is not None:
            self.variants[other.task] = other
        self._requested_offload = offload
        self._resolved_offload: str | None = None
        self._device_name = device
        self._pipes: dict[str, object] = {}
        self._active: str | None = None
        self._offloaded_modules: set[int] = set()
        self._lock = threading.RLock()
        self._tokenizer = None
        self._tokenizer_missing = False
        self._tokenizer_lock = threading.Lock()
        self._wants = Acceleration(compile=compile, fp8=fp8, attention=attention)
        self._acceleration: Acceleration | None = None  # what was applied, once a pipeline loaded
        self._cache_keys: dict[int, tuple] = {}  # id(transformer) -> the cache plan enabled on it
        self._compiled: set[int] = set()  # transformers whose blocks are compiled, not yet run
        self.loras: tuple[LoraSpec, ...] = tuple(loras)
        # `auto` sizes for this preset's cache too; presets whose cache cannot fit are refused.
        from cogvideo.engine.speed import check_speed, not_for_family

        self._sized_for = check_speed(speed)
        if self._sized_for not in self.family.speeds:
            # Refused at start, not at every video: `--speed balanced` with a Wan model would
            # otherwise start a server whose every request is refused.
            raise not_for_family(self._sized_for, self.family, list(self.family.speeds))
        # The card's memory as the operator caps it (another program shares it; the bench emulates
        # a smaller card). None: what the accelerator reports free.
        self._vram_cap_gib = vram_gib
        self._card_gib: float | None = None
        self._budget_gib: float | None = None
        self._lora_files: list | None = None  # checked LoRA files, once `check_loras` ran

    # ------------------------------------------------------------ what and where

    def variant(self, task: str) -> Variant:
        task = DERIVED_TASKS.get(task, task)
        if task not in self.variants:
            raise models.missing_task(next(iter(self.variants.values())), task)
        return self.variants[task]

    @property
    def family(self):
        """The loaded model's family (cogvideo/engine/families.py)."""
        return family_of(next(iter(self.variants.values())))

    @property
    def device(self):
        import torch

        if self._device_name:
            return torch.device(self._device_name)
        return accelerator() or torch.device("cpu")

    @property
    def offload(self) -> str:
        """The memory policy in force. `auto` is decided once, from the free memory before loading:
        deciding again at a task switch would see our own pipeline's memory and mix modes."""
        if self._resolved_offload is None:
            from cogvideo.engine.speed import cache_gib

            free = None if self.device.type == "cpu" else free_vram_bytes(self.device)
            if self._vram_cap_gib is not None:
                cap = self._vram_cap_gib * models.GiB
                free = cap if free is None else min(free, cap)
            self._card_gib = None if free is None else free / models.GiB
            self._budget_gib = None if free is None else self._card_gib * models.HEADROOM
            biggest = self._biggest()
            planned = models.choose_offload(free, biggest, extra_gib=cache_gib(self._sized_for, biggest))
            if self._requested_offload != "auto":
                planned = self._requested_offload
            self._planned_offload = planned  # what a GPU of this size runs: the presets are sized for it
            self._resolved_offload = "none" if self.device.type == "cpu" else planned
        return self._resolved_offload

    def _planned(self) -> str:
        """The offload mode a GPU of this size runs (on the CPU too, where nothing is offloaded)."""
        self.offload
        return self._planned_offload

    def _biggest(self) -> Variant:
        return max(self.variants.values(), key=lambda v: v.vram_gib.get("none", 0))

    def check_speed_fits(self, preset_id: str) -> None:
        """Refuse, in both languages, a speed preset whose cache does not fit beside the model in the
        offload mode in force (the mode is fixed once loaded; presets switch per video)."""
        from cogvideo.engine import speed

        self.offload  # resolves the budget
        biggest = self._biggest()
        if preset_id not in self.family.speeds:
            raise speed.not_for_family(preset_id, self.family, self.fitting_speeds())
        if not speed.fits(preset_id, biggest, self._planned_offload, self._budget_gib):
            raise speed.too_big(preset_id, biggest, self._card_gib, self.fitting_speeds())

    def fitting_speeds(self) -> list[str]:
        """The presets this model's family has evidence for that fit on this card, in their order."""
        from cogvideo.engine import speed

        self.offload
        return [p for p in speed.PRESETS if p in self.family.speeds
                and speed.fits(p, self._biggest(), self._planned_offload, self._budget_gib)]

    def status(self) -> EngineStatus:
        free = free_vram_bytes(self.device) if self.device.type != "cpu" else None
        first = next(iter(self.variants.values()))
        return EngineStatus(
            model=" + ".join(v.name for v in self.variants.values()),
            device=self.device.type if self.device.type == "cpu" else str(self.device),
            dtype=str(torch_dtype(first.dtype, self.device)).replace("torch.", ""),
            offload=self.offload,
            free_vram_gib=None if free is None else round(free / models.GiB, 1),
            loaded=tuple(self._pipes),
            acceleration=self._acceleration or self._wants,
        )

    # ------------------------------------------------------------ loading

    def load(self, task: str, on_status: StatusCallback | None = None):
        """The pipeline for `task`, loading it (and sharing components) the first time."""
        with self._lock:
            if task in self._pipes:
                return self._pipes[task]
            if task in DERIVED_TASKS:
                return self._derive(task, on_status)
            variant = self.variant(task)
            notify = on_status or (lambda text, fraction: None)
            import_libraries()
            if self.device.type == "cpu" and not variant.toy:
                log.warning(
                    "No GPU found: %s will run on the CPU with no offload. Expect hours per video.",
                    variant.name,
                )
            donor = next(iter(self._pipes.values()), None)
            pipe = self._build(variant, donor, notify)
            pipe.set_progress_bar_config(disable=True)
            self._prepare(pipe, variant)
            self._load_loras(pipe)
            self._pipes[task] = pipe
            self._tokenizer_missing = False  # the weights, tokenizer included, are on disk now
            self._place(task)
            return pipe

    def _derive(self, task: str, on_status: StatusCallback | None):
        """A pipeline made of another task's components (all of them, transformer and LoRAs
        included): costs no memory and no loading time."""
        base = self.load(DERIVED_TASKS[task], on_status)
        pipe = self.family.build(task, base.components)
        pipe.set_progress_bar_config(disable=True)
        self._pipes[task] = pipe
        self._active = None
        self._place(task)
        return pipe

    # ------------------------------------------------------------ LoRAs

    def check_loras(self, on_status: StatusCallback | None = None) -> None:
        """Find each LoRA file and check that it fits this model (start-up: a wrong file stops
        the app at once, with the reason, instead of failing the first video)."""
        from cogvideo.engine import lora

        if self.loras and self._wants.fp8:
            # Unchecked: peft wrapping torchao's float8 layers (or fp8 quantizing the LoRA's own).
            raise InvalidRequest(
                "--lora and --fp8 together are not supported yet: start with one of them.",
                "暂不支持同时使用 --lora 和 --fp8：请只选其中一个启动。",
            )
        files = [lora.check_lora(spec, on_status) for spec in self.loras]
        for file in files:
            lora.check_fits(file, list(self.variants.values()))
        self._lora_files = files

    def _load_loras(self, pipe) -> None:
        if not self.loras:
            return
        from cogvideo.engine import lora

        if self._lora_files is None:
            self.check_loras()
        lora.load_loras(pipe, self._lora_files)

    def _use_lora_scales(self, pipe, job: RenderJob, on_notice) -> None:
        from cogvideo.engine import lora

        scales = dict(job.lora_scales or {})
        defaults = {spec.name: spec.scale for spec in self.loras}
        if self.lora_scales_fixed and any(scales.get(name, scale) != scale for name, scale in defaults.items()):
            # A compiled block holds the scale as a constant: each new value would compile again
            # (minutes), and after a few torch gives up compiling altogether.
            scales = {}
            if on_notice:
                on_notice(Text("LoRA scales stay at their --lora values while --compile is on (a new value would "
                               "compile the model again).",
                               "启用 --compile 时 LoRA 强度固定为 --lora 指定的值（换一个值就要重新编译模型）。"))
        lora.set_lora_scales(pipe, scales)

    @property
    def lora_scales_fixed(self) -> bool:
        """Whether requests may not change LoRA scales (a compiled transformer)."""
        return bool(self.loras) and self._wants.compile

    def unload_loras(self) -> None:
        """Remove every LoRA from every pipeline: the base weights come back exactly."""
        from cogvideo.engine import lora

        with self._lock:
            done: set[int] = set()
            for pipe in self._pipes.values():
                if id(pipe.transformer) not in done:
                    lora.unload_loras(pipe)
                    done.add(id(pipe.transformer))
            self.loras, self._lora_files = (), []

    def adopt(self, task: str, pipeline) -> None:
        """Use a pipeline built elsewhere (benchmarks, scripts) under this engine's memory policy,
        with its LoRAs."""
        with self._lock:
            variant = self.variant(task)
            pipeline.set_progress_bar_config(disable=True)
            self._prepare(pipeline, variant)
            self._load_loras(pipeline)
            self._pipes[task] = pipeline
            self._active = None
            self._place(task)

    def _build(self, variant: Variant, donor, notify: StatusCallback):
        from cogvideo.engine import tiny

        family = family_of(variant)
        cls = family.pipeline_class(variant.task)
        shared = {name: getattr(donor, name) for name in SHARED_COMPONENTS} if donor else None
        if variant.repo_id is None:
            notify(Text("Building the tiny random-weight model…", "正在构建 tiny 随机权重模型…"), None)
            if family.id == "wan":
                return tiny.build_wan_pipeline(variant.task, donor=donor)
            return tiny.build_pipeline(variant.task, shared=shared)
        if donor is not None and variant.one_model:
            # Text and image to video from one model (Wan2.2-TI2V): nothing new to load.
            return family.build(variant.task, donor.components, **dict(family.shared_i2v_config))
        dtype = torch_dtype(variant.dtype, self.device)
        if shared is None:
            folder = fetch_weights(variant, notify)
            notify(Text(f"Loading {variant.name} into memory…", f"正在加载 {variant.name} 到内存…"), None)
            if family.vae_dtype:
                # Read at its own precision: a float32 VAE read as bf16 and cast back loses its low bits.
                import torch

                return cls.from_pretrained(folder, torch_dtype={"default": dtype, "vae": getattr(torch, family.vae_dtype)})
            return cls.from_pretrained(folder, torch_dtype=dtype)
        # The other task of the same family: only its own transformer is new.
        folder = fetch_weights(variant, notify, allow_patterns=["model_index.json", "transformer/*"])
        notify(Text(f"Loading {variant.name} transformer…", f"正在加载 {variant.name} 的 Transformer…"), None)
        transformer = family.transformer_class().from_pretrained(
            folder, subfolder="transformer", torch_dtype=dtype
        )
        return cls(transformer=transformer, **shared)

    def _prepare(self, pipe, variant: Variant) -> None:
        """Make a freshly loaded pipeline run as its authors publish it, then apply the machine's
        accelerations (attention kernel, fp8, compile) to its transformer."""
        if variant.scheduler == "dpm":
            from diffusers import CogVideoXDPMScheduler

            # The Hub pipelines ship CogVideoXDDIMScheduler; the authors' inference script swaps
            # in the DPM scheduler for the 5B and 1.5 models, and uses dynamic CFG only with it
            # (CogVideo inference/cli_demo.py). Shared with the partner pipeline: swap both.
            if not isinstance(pipe.scheduler, CogVideoXDPMScheduler):
                pipe.scheduler = CogVideoXDPMScheduler.from_config(pipe.scheduler.config, timestep_spacing="trailing")
            for other in self._pipes.values():
                other.scheduler = pipe.scheduler
        elif variant.scheduler == "unipc" and variant.flow_shift is not None:
            from diffusers import UniPCMultistepScheduler

            # Wan's shift depends on the size it renders (its authors: 3.0 at 480p, 5.0 at 720p);
            # set it as published whatever the saved config holds.
            if pipe.scheduler.config.get("flow_shift") != variant.flow_shift:
                pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=variant.flow_shift)
                for other in self._pipes.values():
                    other.scheduler = pipe.scheduler
        family = family_of(variant)
        if family.vae_dtype and str(pipe.vae.dtype) != f"torch.{family.vae_dtype}":
            # A pipeline built elsewhere (`adopt`: the benchmark's) runs its VAE as the authors do too.
            import torch

            pipe.vae.to(dtype=getattr(torch, family.vae_dtype))
        from cogvideo.engine import acceleration

        self._acceleration = acceleration.apply(pipe.transformer, self._wants, self.device)
        if self._acceleration.compile:
            self._compiled.add(id(pipe.transformer))

    def _place(self, task: str) -> None:
        """Apply the memory policy so that `task`'s pipeline is the one ready to run."""
        if self._active == task:
            return
        pipe = self._pipes[task]
        device, mode = self.device, self.offload
        if device.type == "cpu":
            pipe.to("cpu")
        elif mode == "none":
            for other_task, other in self._pipes.items():
                if other_task != task and other.transformer is not pipe.transformer:
                    other.transformer.to("cpu")
            pipe.to(device)
        elif mode == "model":
            pipe.enable_model_cpu_offload(device=device)
        elif mode == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        elif mode == "group":
            from diffusers.hooks import apply_group_offloading

            # The VAE (~0.4 GB) stays on the device: group offloading and VAE tiling do not mix well
            # in diffusers (huggingface/diffusers#12096).
            pipe.vae.to(device)
            for name in ("text_encoder", "transformer"):
                module = getattr(pipe, name)
                # Shared modules carry their hooks already; hooking twice is an error.
                if id(module) not in self._offloaded_modules:
                    apply_group_offloading(
                        module, onload_device=device, offload_type="leaf_level",
                        use_stream=device.type == "cuda",
                    )
                    self._offloaded_modules.add(id(module))
        if device.type != "cpu":
            pipe.vae.enable_tiling()
            if hasattr(pipe.vae, "enable_slicing"):
                pipe.vae.enable_slicing()
        self._active = task

    # ------------------------------------------------------------ prompts

    def _counting_tokenizer(self):
        """A private tokenizer for counting, or None while none is on disk.

        Never the pipeline's own: a fast tokenizer is one Rust object whose padding and truncation
        each call rewrites, so counting with it during a render corrupted that render's prompt.
        Call with `_tokenizer_lock` held.
        """
        if self._tokenizer is None and not self._tokenizer_missing:
            import_libraries()
            variant = next(iter(self.variants.values()))
            if variant.repo_id is None:
                from cogvideo.engine import tiny

                self._tokenizer = tiny.build_tokenizer(chinese=self.family.reads_chinese)
            else:
                import transformers

                try:
                    self._tokenizer = getattr(transformers, self.family.tokenizer).from_pretrained(
                        variant.repo_id, subfolder="tokenizer", local_files_only=True
                    )
                except (OSError, ValueError):
                    # Not downloaded yet: stop looking on every keystroke until a pipeline loads.
                    self._tokenizer_missing = True
        return self._tokenizer

    def count_tokens(self, text: str) -> int | None:
        """Tokens the T5 encoder would see (with the end token), or None if no tokenizer is at hand."""
        with self._tokenizer_lock:
            tokenizer = self._counting_tokenizer()
            if tokenizer is None:
                return None
            return len(tokenizer(text, add_special_tokens=True).input_ids)


    # ------------------------------------------------------------ rendering

    def render(
        self,
        job: RenderJob,
        on_step: StepCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
        on_status: StatusCallback | None = None,
        on_notice: Callable[[Text], None] | None = None,
    ) -> np.ndarray:
        """Frames as uint8 T×H×W×3. Cancel raises `Cancelled` from the step callback: no decode.
        `on_notice` hears what the user should know afterwards (a speed preset that fell back)."""
        import torch

        variant = self.variant(job.task)
        with self._lock:
            pipe = self.load(job.task, on_status)
            self._place(job.task)
            self._use_speed(pipe, job, variant, on_notice)
            if self.loras:
                self._use_lora_scales(pipe, job, on_notice)
            if should_cancel and should_cancel():
                raise Cancelled()
            if id(pipe.transformer) in self._compiled:
                self._compiled.discard(id(pipe.transformer))
                if on_status:
                    on_status(Text("Compiling the model for this GPU (first video only; a minute or two)…",
                                   "正在为这块显卡编译模型（仅第一个视频需要，约一两分钟）…"), None)

            def step_end(_pipe, index, _timestep, _tensors):
                if should_cancel and should_cancel():
                    raise Cancelled()
                if on_step:
                    on_step(index + 1, _pipe.num_timesteps)
                return {}

            kwargs = dict(
                prompt=job.prompt,
                negative_prompt=job.negative_prompt or None,
                num_frames=job.num_frames,
                num_inference_steps=job.num_inference_steps,
                guidance_scale=job.guidance_scale,
                height=job.height,
                width=job.width,
                # Seeding on the CPU makes a seed give the same video on any device.
                generator=torch.Generator(device="cpu").manual_seed(job.seed),
                output_type="np",
                callback_on_step_end=step_end,
                max_sequence_length=variant.max_tokens,
            )
            if job.task == "i2v":
                kwargs["image"] = job.image
            elif job.task == "v2v":
                # The clip sets the frame count; strength sets how much of the schedule runs.
                del kwargs["num_frames"]
                kwargs["video"] = job.video
                kwargs["strength"] = job.strength
            if variant.dynamic_cfg:
                kwargs["use_dynamic_cfg"] = True
            out_of_memory = False
            try:
                with torch.inference_mode():
                    video = pipe(**kwargs).frames[0]
            except torch.OutOfMemoryError:
                out_of_memory = True
            except BaseException:
                # Cancel and errors skip the pipeline's own clean-up: with model offload the
                # transformer would stay on the GPU next to whatever runs next.
                self._free_hooks(pipe)
                raise
            if out_of_memory:
                # Outside the except block, so the failed call's tensors are already released.
                self._free_hooks(pipe)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                raise _oom_error(self.offload, variant)
        # In place: for 161 frames of 1360×768 each float copy would be ~2 GB.
        video = np.asarray(video, dtype=np.float32)
        np.multiply(video, 255.0, out=video)
        np.rint(video, out=video)
        np.clip(video, 0, 255, out=video)
        return video.astype(np.uint8)

    def _use_speed(self, pipe, job: RenderJob, variant: Variant, on_notice) -> None:
        """Enable the job's speed preset on the transformer (switching only when it changed) and
        start its cache empty: a cancelled render leaves cached activations behind, and the next
        video must not begin from them."""
        from cogvideo.engine import speed

        transformer = pipe.transformer
        plan = speed.plan(job.speed, pipe, model=variant.name, steps=job.num_inference_steps,
                          guidance_scale=job.guidance_scale)
        if self._cache_keys.get(id(transformer)) != plan.key:
            speed.disable(transformer)
            if plan.config is not None:
                speed.enable(transformer, plan.config)
            self._cache_keys[id(transformer)] = plan.key
        if speed.enabled(transformer):
            transformer._reset_stateful_cache()
        if plan.reason and on_notice:
            on_notice(plan.reason)

    def _free_hooks(self, pipe) -> None:
        if self.device.type != "cpu" and self.offload in ("model", "sequential"):
            pipe.maybe_free_model_hooks()


def _oom_error(mode: str, variant: Variant) -> StudioError:
    nxt = models.next_offload(mode)
    if nxt:
        return StudioError(
            f"The GPU ran out of memory with offload mode '{mode}'. Restart with --offload {nxt} "
            "(slower, less VRAM), or use fewer frames.",
            f"显存不足（当前策略 '{mode}'）。请使用 --offload {nxt} 重新启动（更慢但更省显存），或减少帧数。",
        )
    smaller = _smallest_of_family(variant)
    return StudioError(
        "The GPU ran out of memory even with sequential offload. Close other GPU programs"
        + (f", or use the {smaller} model." if smaller else ", or use fewer frames."),
        "即使使用 sequential 策略显存仍不足。请关闭其他占用显卡的程序"
        + (f"，或改用 {smaller} 模型。" if smaller else "，或减少帧数。"),
    )


def _smallest_of_family(variant: Variant) -> str | None:
    """The published model of the same architecture that needs the least memory (CogVideoX: 2b;
    Wan: wan2.1-1.3b), unless it is the one that ran out."""
    kin = [v for v in models.VARIANTS.values() if v.architecture == variant.architecture and v.repo_id]
    if not kin:
        return None
    smallest = min(kin, key=lambda v: v.vram_gib.get("sequential", float("inf")))
    return None if smallest.family == variant.family else smallest.name
