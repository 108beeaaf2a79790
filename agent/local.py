"""The local backend: a small instruct model run in this process with transformers, so that
"帮我想一条" works with no API key. Default: Qwen/Qwen3-VL-2B-Instruct (Apache-2.0, ~4.3 GB,
text and pictures in one model).

Weights come like the video model's: a local folder, else the Hugging Face cache, else a download
on first use (with progress for the page), `HF_HUB_OFFLINE` respected; `python -m cogvideo
download agent` fetches them ahead of time. The model is loaded once and shared; one suggestion
runs at a time.

Memory: on a GPU the model runs in bf16 when it fits beside the video model (the host app's
`GpuShare` says how much room there is), otherwise on the CPU. The host parks it on the CPU
while a video renders (`park`), so it never takes memory a render counts on. On the CPU it runs
in float32 unless the processor computes bf16 natively (bf16 matrix products on an AVX2-only CPU
were ~30x slower than float32; with AMX, reading a 64-token prompt was ~4.7x faster in bf16 and
a decode step as fast, in half the memory). The CPU dtype is chosen once per load and every CPU
placement uses it: loading (the tiny models too), parking, and falling back from the GPU.

Every failure leaves as a `BackendError` whose en/zh message names the cause and what to do.
torch and transformers are imported inside functions only: the agent package itself never needs
them.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from bilingual import Text

from .backends import Answer, LanguageModel, Messages, Progress
from .errors import BackendError, empty_answer_error
from .images import fit
from .instructions import Instructions

if TYPE_CHECKING:
    from .offline import TemplateBackend

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Qwen/Qwen3-VL-2B-Instruct"
DOWNLOAD_COMMAND = "python -m cogvideo download agent"
# A local model is slower than a service on the CPU: its own default time limit (all of one
# suggestion, after the model is loaded; PROMPT_AGENT_TIMEOUT overrides it).
DEFAULT_TIMEOUT_S = 120.0
# Pictures for the model: Qwen3-VL reads 32-px cells (16-px patches merged 2×2), so 768×576 is
# 24×18 = 432 visual tokens: enough to see a photo, cheap to read.
IMAGE_MAX_SIDE = 768
# Activations and KV cache of one suggestion beside the weights (2k tokens and a 768-px picture
# take well under this with a 2B model).
WORK_BYTES = 1 << 30
# What a model folder needs; the Hub repos also hold READMEs and pictures we do not.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.jinja", "*.model", "*.tiktoken"]
# For the first-download message before the Hub has told us the size.
KNOWN_SIZES_GB = {"Qwen/Qwen3-VL-2B-Instruct": 4.3, "Qwen/Qwen3-1.7B": 4.1, "Qwen/Qwen3-VL-4B-Instruct": 8.9}
# A failed load is tried again after this long (a network blip must not disable the helper).
RETRY_LOAD_S = 60.0
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class GpuShare(Protocol):
    """What the host app tells the local model about the GPU it shares with the video model
    (cogvideo.engine.gpu_share.GpuShare). The agent never imports the engine: it only asks."""

    device: str | None  # "cuda:0"; None: no accelerator, the model stays on the CPU
    rendering: bool  # a video is being made now: keep off the GPU

    def room(self) -> int:
        """Bytes a guest may newly place on the device now (0 while a video renders)."""

    def add(self, guest: Any) -> None:
        """Register an object with `park()`, called before each video."""


@dataclass(frozen=True)
class Stats:
    """One generation, for bench/agent.py and the log."""

    prompt_tokens: int
    new_tokens: int
    first_token_s: float | None  # from the start of generation to the first streamed text
    total_s: float
    device: str  # "GPU" or "CPU"
    image_tokens: int = 0  # of prompt_tokens, those that carry the picture


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as it is now (huggingface_hub reads it only once, at import). The agent's
    own check: the agent never imports the engine, which has the same one."""
    from huggingface_hub import constants

    value = (os.environ.get("HF_HUB_OFFLINE") or "").strip().lower()
    return bool(constants.HF_HUB_OFFLINE) or value in ("1", "true", "yes", "on")


def short_name(model: str) -> str:
    """"Qwen/Qwen3-VL-2B-Instruct" -> "Qwen3-VL-2B", a folder -> its name."""
    name = Path(model.rstrip("/\\")).name or model
    return re.sub(r"-Instruct$", "", name)


def libraries_installed() -> bool:
    """torch and transformers are importable (checked without importing them)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("torch", "transformers"))


class LocalBackend(LanguageModel):
    """One local chat model, loaded on first use and shared by every session."""

    name = "local"
    # The templates are next in line: English text is still expanded when the model fails.
    english_falls_back = True

    def __init__(self, model: str, timeout: float, gpu: GpuShare | None, *, instructions: Instructions,
                 templates: TemplateBackend):
        super().__init__(instructions, templates)
        self.model = model.strip() or DEFAULT_MODEL
        self.host = f"local · {short_name(self.model)}"
        self.timeout = timeout
        self._gpu = gpu
        self._load_lock = threading.Lock()  # one load (or download) at a time
        self._lock = threading.Lock()  # one generation at a time: the model is not re-entrant
        self._gpu_lock = threading.Lock()  # held while the weights move to, sit busy on, or leave the GPU
        self._model = None
        self._processor = None  # vision models: the processor (tokenizer inside)
        self._tokenizer = None
        self._load_error: tuple[BackendError, float] | None = None
        self._on_gpu = False
        self._cpu_dtype = None
        self.last_stats: Stats | None = None
        self.last_prompt: str | None = None  # the last chat template text, for the log and tests
        if gpu is not None:
            gpu.add(self)

    # ------------------------------------------------------------ what the agent asks

    @property
    def label(self) -> Text:
        if self.missing_offline():
            return Text(f"{self.host} (not downloaded: offline templates answer)",
                        f"{self.host}（未下载：由离线模板回答）")
        where = self.where
        label = self.host + (f" · {where}" if where else "")
        return Text(label, label)

    def cannot_translate(self) -> Text | None:
        if not self.missing_offline():
            return None
        err = missing_weights(self.model)
        return Text(
            f"The prompt is not in English, and CogVideoX reads English only. {err.en}",
            f"提示词不是英文，而 CogVideoX 只能读懂英文。{err.zh}",
        )

    def ready(self, progress: Progress | None) -> bool:
        self.load(progress)  # downloads on first use; BackendError -> templates
        return self.reads_images

    def picture(self, image: Image.Image) -> dict[str, Any]:
        """The picture as the chat template's message part, shrunk to the model's budget."""
        return {"type": "image", "image": fit(image, IMAGE_MAX_SIDE)}

    def blind_notice(self) -> Text:
        return Text(
            f"The local prompt model {self.model} reads text only, so the prompt was written without "
            "seeing the picture. Set PROMPT_AGENT_LOCAL_MODEL to a vision model such as "
            f"{DEFAULT_MODEL} (the default).",
            f"本地提示词模型 {self.model} 只能读文字，提示词是在没有看到图片的情况下写的。请把 "
            f"PROMPT_AGENT_LOCAL_MODEL 设为视觉模型，例如 {DEFAULT_MODEL}（默认值）。",
        )

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def reads_images(self) -> bool:
        """The loaded model reads pictures (a vision model with its processor)."""
        return self._processor is not None

    @property
    def where(self) -> str | None:
        """"GPU" or "CPU" once loaded, for the status line."""
        if self._model is None:
            return None
        return "GPU" if self._on_gpu else "CPU"

    def missing_offline(self) -> bool:
        """The weights are not on this machine and HF_HUB_OFFLINE forbids the download."""
        if self._model is not None or self.model in _tiny_names() or not _HUB_ID.match(self.model):
            return False
        if Path(self.model).expanduser().is_dir():
            return False
        return hub_offline() and _cached_folder(self.model) is None

    # ------------------------------------------------------------ loading

    def load(self, progress: Progress | None = None) -> None:
        """Find (or download) and load the model; a no-op once loaded. Raises `BackendError`."""
        if self._model is not None:
            return
        if not self._load_lock.acquire(blocking=False):
            if progress:
                progress(Text("The prompt model is loading…", "提示词模型正在加载…"), None)
            self._load_lock.acquire()
        try:
            if self._model is not None:
                return
            failed = self._load_error
            if failed is not None and time.monotonic() - failed[1] < RETRY_LOAD_S:
                raise failed[0]
            try:
                self._load(progress)
                self._load_error = None
            except BackendError as err:
                self._load_error = (err, time.monotonic())
                raise
        finally:
            self._load_lock.release()

    def _load(self, progress: Progress | None) -> None:
        from .tiny import NAMES

        started = time.monotonic()
        notify = progress or (lambda message, fraction: None)
        self._cpu_dtype = _cpu_dtype()
        if self.model in NAMES:
            from . import tiny

            notify(Text("Building the tiny random prompt model…", "正在构建 tiny 随机提示词模型…"), None)
            model, helper = tiny.build(self.model)
            _move(model, "cpu", self._cpu_dtype)  # built in float32; placed as a real model would be
            self._adopt(model, helper)
            return
        folder = self._folder(notify)
        notify(Text(f"Loading the prompt model {short_name(self.model)}…",
                    f"正在加载提示词模型 {short_name(self.model)}…"), None)
        self._load_folder(folder)
        log.info("prompt model %s loaded on the %s in %.1f s", self.model, self.where, time.monotonic() - started)

    def _folder(self, notify: Progress) -> Path:
        """The model's folder: the setting itself, or the Hub cache, or a fresh download."""
        path = Path(self.model).expanduser()
        if path.is_dir():
            return path
        if not _HUB_ID.match(self.model):
            raise BackendError(
                f"PROMPT_AGENT_LOCAL_MODEL={self.model!r} is neither a folder on this machine nor a "
                f"Hugging Face model id. Set it to a downloaded model folder or an id such as {DEFAULT_MODEL}.",
                f"PROMPT_AGENT_LOCAL_MODEL={self.model!r} 既不是本机上的文件夹，也不是 Hugging Face 模型 ID。"
                f"请设为已下载的模型文件夹，或 {DEFAULT_MODEL} 这样的 ID。",
            )
        cached = _cached_folder(self.model)
        if cached is not None:
            return cached
        if hub_offline():
            raise missing_weights(self.model)
        return download(self.model, notify)

    def _load_folder(self, folder: Path) -> None:
        import transformers

        try:
            config = transformers.AutoConfig.from_pretrained(folder)
            vision = hasattr(config, "vision_config")
            if vision:
                helper = transformers.AutoProcessor.from_pretrained(folder)
                model_class = transformers.AutoModelForImageTextToText
            else:
                helper = transformers.AutoTokenizer.from_pretrained(folder)
                model_class = transformers.AutoModelForCausalLM
            tokenizer = getattr(helper, "tokenizer", helper)
            if not (getattr(helper, "chat_template", None) or getattr(tokenizer, "chat_template", None)):
                raise ValueError("it has no chat template, so it is not a chat (instruct) model")
            device, dtype = self._load_place(_folder_bytes(folder))
            try:
                if device == "cpu":
                    model = model_class.from_pretrained(folder, dtype=dtype)
                else:
                    model = model_class.from_pretrained(folder, dtype=dtype, device_map=device)
            except Exception as exc:
                if device == "cpu" or "OutOfMemory" not in type(exc).__name__:
                    raise
                # The room was there when asked, and is gone (another program): the CPU, then.
                log.warning("prompt model did not fit on %s after all; loading it on the CPU", device)
                self._on_gpu = False
                self._gpu_lock.release()
                _empty_cache()
                model = model_class.from_pretrained(folder, dtype=self._cpu_dtype)
        except BackendError:
            raise
        except Exception as exc:  # no config, unknown type, broken weights
            if self._on_gpu:
                self._on_gpu = False
                self._gpu_lock.release()
            raise not_a_model(self.model, folder, exc) from exc
        self._adopt(model.eval(), helper)

    def _load_place(self, weight_bytes: int) -> tuple[str, Any]:
        """Where to load: the GPU (in bf16) when the host says it fits beside the video model,
        else the CPU. Takes `_gpu_lock` (released by `_adopt`) for a GPU load."""
        device = self._gpu.device if self._gpu is not None else None
        if device is not None:
            self._gpu_lock.acquire()
            if not self._gpu.rendering and self._gpu.room() >= weight_bytes + WORK_BYTES:
                self._on_gpu = True
                return device, _gpu_dtype(device)
            self._gpu_lock.release()
        return "cpu", self._cpu_dtype

    def _adopt(self, model, helper) -> None:
        """Keep a loaded model and its processor or tokenizer."""
        if hasattr(helper, "image_processor"):
            self._processor, self._tokenizer = helper, helper.tokenizer
        else:
            self._processor, self._tokenizer = None, helper
        self._model = model
        if self._on_gpu:
            self._gpu_lock.release()

    # ------------------------------------------------------------ memory

    def park(self) -> None:
        """Move the weights to the CPU (before a video renders). Waits for a suggestion running
        on the GPU to finish; a suggestion running on the CPU is not waited for."""
        with self._gpu_lock:
            if self._on_gpu and self._model is not None:
                started = time.monotonic()
                _move(self._model, "cpu", self._cpu_dtype)
                self._on_gpu = False
                _empty_cache()
                log.info("prompt model parked on the CPU in %.1f s", time.monotonic() - started)

    def _claim_gpu(self) -> bool:
        """Run this suggestion on the GPU? True: the weights are there and `_gpu_lock` is held
        (release it when done). False: the weights are on the CPU, no lock held."""
        share = self._gpu
        if share is None or share.device is None:
            return False
        self._gpu_lock.acquire()
        try:
            if self._on_gpu and share.rendering:
                # A video is starting and its park() waits for this lock: leave now.
                _move(self._model, "cpu", self._cpu_dtype)
                self._on_gpu = False
                _empty_cache()
            elif not self._on_gpu and not share.rendering and share.room() >= self._gpu_bytes() + WORK_BYTES:
                try:
                    _move(self._model, share.device, _gpu_dtype(share.device))
                    self._on_gpu = True
                except Exception as exc:
                    if "OutOfMemory" not in type(exc).__name__:
                        raise
                    # The room went to another program meanwhile: all back to the CPU, run there.
                    _move(self._model, "cpu", self._cpu_dtype)
                    _empty_cache()
        except BaseException:
            self._gpu_lock.release()
            raise
        if self._on_gpu:
            return True
        self._gpu_lock.release()
        return False

    def _gpu_bytes(self) -> int:
        """The weights' size in the GPU's dtype (2 bytes a parameter)."""
        return sum(p.numel() for p in self._model.parameters()) * 2

    # ------------------------------------------------------------ generation

    def complete(self, messages: Messages, *, temperature: float, max_tokens: int, has_image: bool,
                 progress: Progress | None = None) -> Answer:
        """One finished answer."""
        answer = None
        for answer in self.complete_stream(messages, temperature=temperature, max_tokens=max_tokens,
                                           has_image=has_image, progress=progress):
            pass
        if answer is None:
            raise empty_answer_error()
        return answer

    def complete_stream(self, messages: Messages, *, temperature: float, max_tokens: int, has_image: bool,
                        progress: Progress | None = None) -> Iterator[Answer]:
        """Cumulative text as the model writes it; the last item has `finished=True`.

        The generation runs in its own thread, which holds the locks: a page that goes away
        mid-answer stops it at the next token (`cancel`), and nothing waits on the page.
        """
        self.load(progress)
        job = _Job(streamer=None, messages=messages, temperature=temperature, max_tokens=max_tokens)
        # Our own limit on waiting, above the generation's own deadline: a thread that never
        # answers must not hang the page.
        streamer = job.streamer = _streamer(self._tokenizer, job, timeout=2 * self.timeout + 60)
        worker = threading.Thread(target=self._run, args=(job,), name="prompt-agent-local", daemon=True)
        worker.start()
        try:
            if not job.started.wait(0.05) and progress:
                progress(Text("Another suggestion is being written; yours comes next…",
                              "正在为别人写提示词，马上轮到你…"), None)
            text = ""
            try:
                for piece in streamer:
                    if piece:
                        text += piece
                        yield Answer(text=text, finished=False)
            except queue.Empty:
                raise _timed_out(self.timeout) from None
            worker.join(self.timeout + 10)
            if job.error is not None:
                raise _generation_failed(job.error) from job.error
            if job.timed_out:
                raise _timed_out(self.timeout)
            if not text.strip():
                raise empty_answer_error()
            yield Answer(text=text, finished=True, truncated=job.truncated)
        finally:
            job.cancel.set()  # the page left, or we are done: stop at the next token

    def _run(self, job: _Job) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class _Stop(StoppingCriteria):
            """Stop at the deadline or when the page has gone (checked after every token)."""

            def __call__(self, input_ids, scores, **kwargs):
                if job.cancel.is_set():
                    return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                if time.monotonic() > job.deadline:
                    job.timed_out = True
                    return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        try:
            with self._lock:
                job.started.set()
                if job.cancel.is_set():
                    return
                on_gpu = self._claim_gpu()
                try:
                    started = time.monotonic()
                    job.deadline = started + self.timeout
                    device = self._gpu.device if on_gpu else "cpu"
                    inputs = self.encode(job.messages).to(device)
                    prompt_tokens = int(inputs["input_ids"].shape[1])
                    image_token = self._image_token_id()
                    image_tokens = 0 if image_token is None else int((inputs["input_ids"] == image_token).sum())
                    sampling: dict[str, Any]
                    if job.temperature > 0:
                        sampling = {"do_sample": True, "temperature": job.temperature}
                    else:  # translations: the most likely words, the same every time
                        sampling = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
                    with torch.inference_mode():
                        output = self._model.generate(
                            **inputs, max_new_tokens=job.max_tokens, streamer=job.streamer,
                            stopping_criteria=StoppingCriteriaList([_Stop()]), **sampling,
                        )
                    new = output[0, prompt_tokens:].tolist()
                    eos = self._model.generation_config.eos_token_id
                    eos = set(eos if isinstance(eos, list) else [eos])
                    job.truncated = len(new) >= job.max_tokens and (not new or new[-1] not in eos)
                    ended = time.monotonic()
                    self.last_stats = Stats(
                        prompt_tokens=prompt_tokens, new_tokens=len(new),
                        first_token_s=None if job.first_token_at is None else job.first_token_at - started,
                        total_s=ended - started, device="GPU" if on_gpu else "CPU", image_tokens=image_tokens,
                    )
                finally:
                    if on_gpu:
                        self._gpu_lock.release()
        except BaseException as exc:  # reported to the page's thread; the model stays usable
            job.error = exc
            job.streamer.end()

    def encode(self, messages: Messages):
        """The chat template (the model's own) rendered and tokenized, pictures included: a
        BatchEncoding with input_ids (and pixel_values, image_grid_thw for a picture)."""
        images = [part["image"] for message in messages if isinstance(message["content"], list)
                  for part in message["content"] if part.get("type") == "image"]
        owner = self._processor if self._processor is not None else self._tokenizer
        # enable_thinking=False: Qwen3's template then closes an empty reasoning block, so the
        # answer budget goes to the prompt (other templates ignore the flag).
        text = owner.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                         enable_thinking=False)
        self.last_prompt = text
        if self._processor is not None:
            return self._processor(text=[text], images=images or None, return_tensors="pt")
        return self._tokenizer([text], return_tensors="pt")

    def _image_token_id(self) -> int | None:
        return getattr(self._processor, "image_token_id", None)


@dataclass
class _Job:
    """One generation, shared by the page's thread and the model's thread."""

    streamer: Any
    messages: Messages
    temperature: float
    max_tokens: int
    started: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    deadline: float = float("inf")
    first_token_at: float | None = None  # stamped by the streamer, in the model's thread
    truncated: bool = False
    timed_out: bool = False
    error: BaseException | None = None


def _streamer(tokenizer, job: _Job, timeout: float):
    """transformers' TextIteratorStreamer (text released word by word, through a queue), which
    also notes when the first text came."""
    from transformers import TextIteratorStreamer

    class Streamer(TextIteratorStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False):
            if text and job.first_token_at is None:
                job.first_token_at = time.monotonic()
            super().on_finalized_text(text, stream_end)

    return Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout)


# ---------------------------------------------------------------- weights


def download(model: str, progress: Progress | None = None) -> Path:
    """Download a Hub model's files into the Hugging Face cache (the command line and first use)."""
    from huggingface_hub import snapshot_download

    if hub_offline():
        raise missing_weights(model)
    notify = progress or (lambda message, fraction: None)
    size = KNOWN_SIZES_GB.get(model)
    notify(Text(
        f"Downloading the prompt model {model}{f' (~{size:g} GB)' if size else ''} for the first time; "
        "later starts use the cache.",
        f"首次使用，正在下载提示词模型 {model}{f'（约 {size:g} GB）' if size else ''}；之后会直接使用缓存。",
    ), 0.0)
    try:
        return Path(snapshot_download(model, allow_patterns=HUB_PATTERNS, tqdm_class=_download_bar(notify, model)))
    except Exception as exc:  # network down, gated or missing repo, disk full
        raise BackendError(
            f"The prompt model {model} could not be downloaded ({type(exc).__name__}: {_first_line(exc)}). "
            f"Check the connection and run `{DOWNLOAD_COMMAND}`, or set PROMPT_AGENT_LOCAL_MODEL to a "
            "downloaded folder.",
            f"提示词模型 {model} 下载失败（{type(exc).__name__}）。请检查网络后运行 `{DOWNLOAD_COMMAND}`，"
            "或把 PROMPT_AGENT_LOCAL_MODEL 设为已下载的文件夹。",
        ) from exc


def _cached_folder(model: str) -> Path | None:
    """The model's folder in the Hugging Face cache, if its weights are there."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(model, allow_patterns=HUB_PATTERNS, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError), or a cache we cannot read
        return None
    return folder if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) else None


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("*.safetensors"))


def _download_bar(notify: Progress, model: str):
    """A tqdm class that also reports the bytes downloaded (the console bar stays)."""
    from tqdm.auto import tqdm

    class Bar(tqdm):
        _told = 0.0  # when the page last heard: at most twice a second (chunks come by the thousand)

        def update(self, n=1):
            shown = super().update(n)
            now = time.monotonic()
            if self.unit == "B" and self.total and now - self._told >= 0.5:  # bytes, not the count of files
                self._told = now
                done, total = self.n / 1e9, self.total / 1e9
                notify(Text(f"Downloading {model}: {done:.1f} / {total:.1f} GB",
                            f"正在下载 {model}：{done:.1f} / {total:.1f} GB"), min(self.n / self.total, 1.0))
            return shown

    return Bar


# ---------------------------------------------------------------- devices


def _tiny_names() -> tuple[str, ...]:
    from .tiny import NAMES

    return NAMES


def _gpu_dtype(device: str):
    import torch

    if device.startswith("cuda") and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def _cpu_dtype():
    """The dtype of the weights on this machine's CPU (see the module's docstring for why)."""
    import torch

    return torch.bfloat16 if native_bf16(_cpu_flags()) else torch.float32


def native_bf16(cpu_flags: str) -> bool:
    """The CPU computes bf16 natively (AVX512-BF16 or AMX), by the flags /proc/cpuinfo lists."""
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", cpu_flags) is not None


def _cpu_flags() -> str:
    """/proc/cpuinfo ("" where there is none: float32, the safe choice)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _move(model, device: str, dtype) -> None:
    """Weights to `device` in `dtype`, one tensor at a time (no second full copy). Buffers keep
    their dtype: rotary frequencies stay float32."""
    for param in model.parameters():
        param.data = param.data.to(device=device, dtype=dtype if param.is_floating_point() else None)
    for buffer in model.buffers():
        buffer.data = buffer.data.to(device=device)


def _empty_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- messages


def missing_weights(model: str) -> BackendError:
    return BackendError(
        f"The prompt model {model} is not on this machine, and offline mode (HF_HUB_OFFLINE) forbids "
        f"downloading it. Run `{DOWNLOAD_COMMAND}` where there is internet (then copy the Hugging Face "
        "cache, HF_HOME, over), or set PROMPT_AGENT_LOCAL_MODEL to a downloaded folder.",
        f"本机没有提示词模型 {model}，且离线模式（HF_HUB_OFFLINE）禁止下载。请在能上网的机器上运行 "
        f"`{DOWNLOAD_COMMAND}`（再把 Hugging Face 缓存 HF_HOME 拷贝过来），或把 PROMPT_AGENT_LOCAL_MODEL "
        "设为已下载的文件夹。",
    )


def not_a_model(model: str, folder: Path, exc: BaseException) -> BackendError:
    return BackendError(
        f"PROMPT_AGENT_LOCAL_MODEL={model!r}: {folder} is not a chat model transformers can load "
        f"({type(exc).__name__}: {_first_line(exc)}). Point it at a chat model's folder (config.json, "
        f"tokenizer, *.safetensors), or unset it to use {DEFAULT_MODEL}.",
        f"PROMPT_AGENT_LOCAL_MODEL={model!r}：{folder} 不是 transformers 能加载的对话模型"
        f"（{type(exc).__name__}）。请指向对话模型的文件夹（含 config.json、分词器和 *.safetensors），"
        f"或取消设置以使用 {DEFAULT_MODEL}。",
    )


def _generation_failed(exc: BaseException) -> BackendError:
    name = type(exc).__name__
    if "OutOfMemory" in name:
        return BackendError(
            "The prompt model ran out of memory. Try again when no video is rendering, or use a "
            "smaller PROMPT_AGENT_LOCAL_MODEL.",
            "提示词模型内存不足。请在没有视频生成时再试，或换用更小的 PROMPT_AGENT_LOCAL_MODEL。",
        )
    log.error("local prompt model failed", exc_info=exc)
    return BackendError(
        f"The local prompt model failed ({name}: {_first_line(exc)}).",
        f"本地提示词模型出错（{name}）。",
    )


def _timed_out(timeout: float) -> BackendError:
    return BackendError(
        f"The local prompt model did not finish within {timeout:g} s. Try again, or raise "
        "PROMPT_AGENT_TIMEOUT.",
        f"本地提示词模型在 {timeout:g} 秒内没有写完。请再试一次，或调大 PROMPT_AGENT_TIMEOUT。",
    )


def _first_line(exc: BaseException, limit: int = 160) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
