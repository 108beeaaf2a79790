"""Weights files for the helper models (DDColor, Real-ESRGAN): find or download, then load.

A local path (argument or env var) wins; otherwise the Hub, respecting HF_HUB_OFFLINE. Missing
weights raise `WeightsMissing` with the exact download command; a bad file raises
`ModelFileError` naming it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelFileError, WeightsMissing

if TYPE_CHECKING:
    from spandrel import ModelDescriptor


def _first_line(exc: BaseException, limit: int = 120) -> str:
    """The start of an exception's message, for the user (full text stays in the chained cause)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as it is now (huggingface_hub reads it only once, at import)."""
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or _truthy(os.environ.get("HF_HUB_OFFLINE"))


def resolve_weights(
    weights: str | Path | None,
    *,
    env_path: str,
    env_repo: str,
    env_file: str,
    default_repo: str,
    default_file: str,
    what_en: str,
    what_zh: str,
    fallback_en: str,
    fallback_zh: str,
) -> Path:
    """A weights file: the argument, else $env_path, else the Hub (cache first; download unless offline).

    Raises `WeightsMissing` with the exact command to fetch the file when none of these works.
    """
    local = weights if weights is not None else os.environ.get(env_path) or None
    if local is not None:
        path = Path(local).expanduser()
        if not path.is_file():
            raise WeightsMissing(
                f"The {what_en} weights file {path} does not exist. Check the path (argument or "
                f"{env_path}), or unset {env_path} to download the default. {fallback_en}",
                f"{what_zh}权重文件 {path} 不存在。请检查路径（参数或 {env_path}），"
                f"或取消设置 {env_path} 以下载默认权重。{fallback_zh}",
            )
        return path

    from huggingface_hub import hf_hub_download

    repo = os.environ.get(env_repo) or default_repo
    filename = os.environ.get(env_file) or default_file
    offline = hub_offline()
    try:
        # tqdm progress bar on the console while it downloads (~70 MB to ~1 GB).
        return Path(hf_hub_download(repo_id=repo, filename=filename, local_files_only=offline))
    except Exception as exc:  # network down, offline mode, repo/file gone, gated, disk full
        if offline:
            reason_en = "offline mode (HF_HUB_OFFLINE) is on and they are not in the Hugging Face cache"
            reason_zh = "离线模式（HF_HUB_OFFLINE）已开启，且 Hugging Face 缓存中没有该文件"
        else:
            reason_en = reason_zh = _first_line(exc, 200)
        command = f"hf download {repo} {filename}"
        raise WeightsMissing(
            f"The {what_en} weights ({repo}/{filename}) are not available: {reason_en}. "
            f"Get them with `{command}` (older clients: `huggingface-cli download {repo} {filename}`), "
            f"or set {env_path}=/path/to/{filename}. For an offline machine, run the command where "
            f"there is internet and copy the Hugging Face cache (HF_HOME) over. {fallback_en}",
            f"{what_zh}权重（{repo}/{filename}）不可用：{reason_zh}。请运行 `{command}`"
            f"（旧版客户端：`huggingface-cli download {repo} {filename}`）下载，"
            f"或设置 {env_path}=/path/to/{filename}。离线机器：在能上网的机器上运行该命令，"
            f"再把 Hugging Face 缓存（HF_HOME）拷贝过来。{fallback_zh}",
        ) from exc


_EXTRA_ARCHES_LOCK = threading.Lock()
_extra_arches_installed = False


def load_descriptor(path: Path, device: str, what_en: str, what_zh: str) -> ModelDescriptor:
    """Load any spandrel model file (.pth/.pt/.ckpt/.safetensors, or a plain torch .bin state dict).

    Raises `ModelFileError` naming the file when it is corrupt or of an unknown architecture.
    """
    global _extra_arches_installed
    import spandrel
    import torch

    with _EXTRA_ARCHES_LOCK:
        if not _extra_arches_installed:
            import spandrel_extra_arches

            # DDColor lives in spandrel_extra_arches; registering it twice would raise.
            spandrel_extra_arches.install(ignore_duplicates=True)
            _extra_arches_installed = True
    loader = spandrel.ModelLoader(device="cpu")
    try:
        if path.suffix.lower() == ".bin":  # e.g. a PyTorchModelHubMixin export: a bare state dict
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
            for key in ("params_ema", "params", "state_dict"):  # BasicSR-style wrappers
                if isinstance(state_dict.get(key), dict):
                    state_dict = state_dict[key]
                    break
            descriptor = loader.load_from_state_dict(state_dict)
        else:
            descriptor = loader.load_from_file(path)
    except Exception as exc:  # unpickling, safetensors header, unknown architecture, shape mismatch
        raise ModelFileError(
            f"The {what_en} weights file {path} could not be loaded ({type(exc).__name__}: "
            f"{_first_line(exc)}). It is damaged or not a {what_en} model: download it again or "
            "point to the right file.",
            f"无法加载{what_zh}权重文件 {path}（{type(exc).__name__}）。文件已损坏或不是{what_zh}模型："
            "请重新下载或指定正确的文件。",
        ) from exc
    return descriptor.to(torch.device(device))


# ---------------------------------------------------------------- the colorizer


class SpandrelModel:
    """A helper model (DDColor, Real-ESRGAN) loaded lazily from its weights file and kept.

    One use at a time: subclasses call `_loaded()` with `_lock` held. Subclasses implement
    `_load_descriptor()`, which loads and checks the file.
    """

    def __init__(self, weights: str | Path | None, device: str) -> None:
        self.weights = weights
        self.device = str(device)
        self._descriptor = None
        self._lock = threading.Lock()

    def _load_descriptor(self):
        raise NotImplementedError

    def _loaded(self):
        """The spandrel descriptor, loaded on first use and on its device (call with the lock held)."""
        if self._descriptor is None:
            self._descriptor = self._load_descriptor()
        # Back from `park()`: a no-op when the model is already on its device.
        self._descriptor.to(self.device)
        return self._descriptor

    def load(self) -> None:
        """Load the model now (e.g. at start-up) instead of on first use."""
        with self._lock:
            self._loaded()

    def park(self) -> None:
        """Move the loaded model to the CPU between uses, so that it does not hold GPU memory that
        the video model's offload policy was sized without. The next use moves it back."""
        with self._lock:
            if self._descriptor is not None and self.device != "cpu":
                self._descriptor.to("cpu")
