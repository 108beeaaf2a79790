"""The callback types the engine's parts report through: a leaf, so the weights, LoRA and engine
modules can all name them without importing each other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from bilingual import Text

# (message, fraction or None): loading and download progress for the caller.
StatusCallback = Callable[["Text", "float | None"], None]
# (step index, total steps) after each denoising step.
StepCallback = Callable[[int, int], None]
