"""Weights: the helper models' files (DDColor, Real-ESRGAN) and the video model's folders.

Helper models: a local path (argument or env var) wins; otherwise the Hub. Video models: a local
folder, else the Hub cache, else a download. Both respect HF_HUB_OFFLINE (`hub_offline`, the one
check). Missing weights raise `WeightsMissing` with the exact download command; a bad file raises
`ModelFileError` naming it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from bilingual import Text

from cogvideo.engine.models import GiB
from cogvideo.errors import ModelFileError, WeightsMissing

if TYPE_CHECKING:
    from spandrel import ModelDescriptor

    from cogvideo.callbacks import StatusCallback
    from cogvideo.engine.models import Variant


# ---------------------------------------------------------------- the Hub

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


# ---------------------------------------------------------------- loading a weights file

_EXTRA_ARCHES_LOCK = threading.Lock()
_extra_arches_installed = False


def load_descriptor(path: Path, device: str, name: str) -> ModelDescriptor:
    """Load any spandrel model file (.pth/.pt/.ckpt/.safetensors, or a plain torch .bin state dict).

    Raises `ModelFileError` naming the file (and `name`, the model's name in both languages) when
    it is corrupt or of an unknown architecture.
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
            f"The {name} weights file {path} could not be loaded ({type(exc).__name__}: "
            f"{_first_line(exc)}). It is damaged or not a {name} model: download it again or "
            "point to the right file.",
            f"无法加载{name}权重文件 {path}（{type(exc).__name__}）。文件已损坏或不是{name}模型："
            "请重新下载或指定正确的文件。",
        ) from exc
    return descriptor.to(torch.device(device))


# ---------------------------------------------------------------- the helper models


class SpandrelModel:
    """A helper model (DDColor, Real-ESRGAN) loaded lazily from its weights file and kept.

    Each subclass declares its weights and names as the class attributes below. `weights`: a
    local file; None -> env <env_prefix>_WEIGHTS, else the Hub (`repo` / `file`, or env
    <env_prefix>_REPO / <env_prefix>_FILE). One use at a time: subclasses call `_loaded()` with
    `_lock` held, and implement `_load_descriptor()`, which loads and checks the file.
    """

    repo: ClassVar[str]  # the default Hub repo ...
    file: ClassVar[str]  # ... and the file in it
    env_prefix: ClassVar[str]  # "DDCOLOR": env DDCOLOR_WEIGHTS, DDCOLOR_REPO, DDCOLOR_FILE
    name: ClassVar[str]  # the model, as both languages write it: "DDColor"
    what: ClassVar[Text]  # the weights in messages: "DDColor colorization", "DDColor 上色模型"
    fallback: ClassVar[Text]  # what the studio does meanwhile, without the weights
    feature: ClassVar[Text]  # what people miss, in the sentence they are shown: "Colorizing", "黑白照片上色"

    def __init__(self, weights: str | Path | None, device: str) -> None:
        self.weights = weights
        self.device = str(device)
        self._descriptor = None
        self._lock = threading.Lock()

    def _env(self, key: str) -> str | None:
        return os.environ.get(f"{self.env_prefix}_{key}") or None

    def _local_path(self) -> Path | None:
        """The local file asked for (argument, else env), whether it exists or not; None: the Hub."""
        local = self.weights if self.weights is not None else self._env("WEIGHTS")
        return None if local is None else Path(local).expanduser()

    def _hub_file(self) -> tuple[str, str]:
        """(repo, filename) on the Hub: the env overrides, else the class defaults."""
        return self._env("REPO") or self.repo, self._env("FILE") or self.file

    def available(self) -> bool:
        """Whether the weights can be loaded without the network (a local file, or the HF cache)."""
        if self._descriptor is not None:
            return True
        local = self._local_path()
        if local is not None:
            return local.is_file()
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(*self._hub_file())
        return isinstance(cached, str) and Path(cached).is_file()

    def weights_path(self) -> Path:
        """The weights file: the argument, else env, else the Hub (cache first; download unless
        offline). Raises `WeightsMissing` with the exact command to fetch the file when none works.
        """
        env_path = f"{self.env_prefix}_WEIGHTS"
        local = self._local_path()
        if local is not None:
            if not local.is_file():
                raise WeightsMissing(
                    f"The {self.what.en} weights file {local} does not exist. Check the path (argument or "
                    f"{env_path}), or unset {env_path} to download the default. {self.fallback.en}",
                    f"{self.what.zh}权重文件 {local} 不存在。请检查路径（参数或 {env_path}），"
                    f"或取消设置 {env_path} 以下载默认权重。{self.fallback.zh}",
                )
            return local

        from huggingface_hub import hf_hub_download

        repo, filename = self._hub_file()
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
                f"The {self.what.en} weights ({repo}/{filename}) are not available: {reason_en}. "
                f"Get them with `{command}` (older clients: `huggingface-cli download {repo} {filename}`), "
                f"or set {env_path}=/path/to/{filename}. For an offline machine, run the command where "
                f"there is internet and copy the Hugging Face cache (HF_HOME) over. {self.fallback.en}",
                f"{self.what.zh}权重（{repo}/{filename}）不可用：{reason_zh}。请运行 `{command}`"
                f"（旧版客户端：`huggingface-cli download {repo} {filename}`）下载，"
                f"或设置 {env_path}=/path/to/{filename}。离线机器：在能上网的机器上运行该命令，"
                f"再把 Hugging Face 缓存（HF_HOME）拷贝过来。{self.fallback.zh}",
            ) from exc

    def _load_descriptor(self):
        raise NotImplementedError

    def unavailable(self, missing: bool = True) -> Text:
        """The plain sentence people see when the weights are missing (or broken): no path, no
        setting, no command (those stay in the error's own text, for the log and the operator)."""
        if missing:
            return Text(f"{self.feature.en} isn't installed on this server; ask whoever runs it.",
                        f"这台服务器没有安装{self.feature.zh}功能，请联系管理员。")
        return Text(f"{self.feature.en} isn't working on this server right now; ask whoever runs it.",
                    f"这台服务器的{self.feature.zh}功能暂时无法使用，请联系管理员。")

    def _loaded(self):
        """The spandrel descriptor, loaded on first use and on its device (call with the lock held)."""
        if self._descriptor is None:
            try:
                self._descriptor = self._load_descriptor()
            except (WeightsMissing, ModelFileError) as exc:
                if exc.shown is None:
                    exc.shown = self.unavailable(isinstance(exc, WeightsMissing))
                raise
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


# ---------------------------------------------------------------- the video model's weights

# What people see when the video model's weights are missing (the operator's detail is logged).
MODEL_MISSING = Text("The video model isn't installed on this server yet; ask whoever runs it.",
                     "这台服务器还没有安装视频模型，请联系管理员。")


def weights_missing(variant: Variant, reason: str, reason_zh: str) -> WeightsMissing:
    return WeightsMissing(
        f"The weights of {variant.name} ({variant.repo_id}, ~{variant.disk_gib:.0f} GB) are not on "
        f"this machine and cannot be downloaded ({reason}). On a machine with internet run "
        f"`python -m cogvideo download {variant.name}` (or `hf download {variant.repo_id}`), or "
        "pass --model with the path of a downloaded folder.",
        shown=MODEL_MISSING,
        zh=f"本机没有 {variant.name}（{variant.repo_id}，约 {variant.disk_gib:.0f} GB）的权重，且无法下载"
        f"（{reason_zh}）。请在联网的机器上运行 `python -m cogvideo download {variant.name}`"
        f"（或 `hf download {variant.repo_id}`），或用 --model 指向已下载的文件夹。",
    )


def fetch_weights(
    variant: Variant,
    notify: StatusCallback | None = None,
    allow_patterns: list[str] | None = None,
) -> Path:
    """The local folder of a variant's weights, downloading from the Hub if needed."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if variant.repo_id is None or Path(variant.repo_id).is_dir():
        return Path(variant.repo_id or ".")
    notify = notify or (lambda text, fraction: None)
    try:
        return Path(snapshot_download(variant.repo_id, allow_patterns=allow_patterns, local_files_only=True))
    except (LocalEntryNotFoundError, OSError):
        pass
    if hub_offline():
        raise weights_missing(variant, "HF_HUB_OFFLINE is set", "已设置 HF_HUB_OFFLINE 离线模式")
    notify(Text(
        f"Downloading {variant.repo_id} (~{variant.disk_gib:.0f} GB) for the first time — this can "
        "take a long while; later runs start from the cache.",
        f"首次运行，正在下载 {variant.repo_id}（约 {variant.disk_gib:.0f} GB），可能需要较长时间；"
        "之后会直接使用缓存。",
    ), 0.0)
    try:
        return Path(
            snapshot_download(
                variant.repo_id, allow_patterns=allow_patterns, tqdm_class=_download_bar(notify, variant)
            )
        )
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "an error")
        raise weights_missing(
            variant, f"the Hugging Face Hub answered {status}; gated repos need `hf auth login`",
            f"Hugging Face Hub 返回 {status}；受限仓库需先 `hf auth login`",
        ) from exc
    except (LocalEntryNotFoundError, OSError) as exc:
        raise weights_missing(
            variant, "the Hugging Face Hub cannot be reached", "无法连接 Hugging Face Hub"
        ) from exc


def _download_bar(notify: StatusCallback, variant: Variant):
    """A tqdm class that also reports the download to the caller (console bar stays)."""
    from tqdm.auto import tqdm

    class Bar(tqdm):
        def update(self, n=1):
            shown = super().update(n)
            if self.total:
                done, total = self.n / GiB, self.total / GiB
                notify(Text(f"Downloading {variant.repo_id}: {done:.1f} / {total:.1f} GB",
                            f"正在下载 {variant.repo_id}：{done:.1f} / {total:.1f} GB"), min(self.n / self.total, 1.0))
            return shown

    return Bar
