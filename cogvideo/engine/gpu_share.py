"""Other models on the video model's GPU ("guests", such as the prompt helper's local model).

A guest may sit on the GPU only while no video is being made, and only when it fits beside the
video model's peak in its offload mode; before each video the studio parks every guest on the
CPU (`video_running`), waiting for a guest that is busy on the GPU to finish first. The engine
never learns what a guest is: it is any object with `park()`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from cogvideo.engine.models import GiB
from cogvideo.engine.render import free_vram_bytes

if TYPE_CHECKING:
    from cogvideo.engine.render import Engine

# Kept free beside the video model and its guests: the CUDA context, allocator fragmentation and
# estimates that run a little short.
RESERVE_BYTES = 1 * GiB


class Guest(Protocol):
    def park(self) -> None:
        """Leave the GPU now (after finishing any GPU work already started)."""


def guest_room(free_bytes: int, total_bytes: int, video_peak_bytes: int, reserve: int = RESERVE_BYTES) -> int:
    """Bytes a guest may take: what is free now, but never so much that the video model's peak
    (in its offload mode) would no longer fit on the card beside it."""
    return max(0, min(free_bytes, total_bytes - video_peak_bytes) - reserve)


class GpuShare:
    """The host's side of sharing: where the GPU is, how much room it has, and when to leave."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._guests: list[Guest] = []
        self._lock = threading.Lock()
        self._videos = 0  # videos being made now

    @property
    def device(self) -> str | None:
        """The video model's accelerator ("cuda:0"), or None on a machine without one."""
        device = self.engine.device
        return None if device.type == "cpu" else str(device)

    @property
    def rendering(self) -> bool:
        return self._videos > 0

    def add(self, guest: Guest) -> None:
        with self._lock:
            self._guests.append(guest)

    def room(self) -> int:
        """Bytes a guest may newly place on the GPU now: 0 while a video is being made, on a
        machine without a CUDA GPU, or when it would not fit beside the video model's peak."""
        import torch

        device = self.engine.device
        if self.rendering or device.type != "cuda":
            return 0
        # Decided once, from the free memory before anything of ours is loaded: ask before a guest moves in.
        mode = self.engine.offload
        free = free_vram_bytes(device)
        if free is None:
            return 0
        _free, total = torch.cuda.mem_get_info(device)
        peak = max(variant.vram_gib.get(mode, 0.0) for variant in self.engine.variants.values())
        return guest_room(free, total, int(peak * GiB))

    @contextmanager
    def video_running(self) -> Iterator[None]:
        """While a video is made: guests are parked first, and none may come back until it ends."""
        with self._lock:
            self._videos += 1
            guests = list(self._guests)
        try:
            for guest in guests:
                guest.park()
            yield
        finally:
            with self._lock:
                self._videos -= 1
