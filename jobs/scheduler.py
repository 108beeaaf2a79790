"""Which queued job starts next: the fast lane first, without starving the standard lane.

Pure functions over (id, lane, seq) tuples, so the rule is tested on its own and the service, the
positions shown to users and the CLI all agree on one order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .job import STANDARD, VIP

# A standard job never waits behind more than this many fast-lane jobs in a row.
MAX_VIP_STREAK = 4


@dataclass(frozen=True)
class Pick:
    job_id: str
    streak: int  # fast-lane jobs started in a row while a standard job waited, after this pick


def pick_next(queued: list[tuple[str, str, int]], streak: int = 0) -> Pick | None:
    """The next job to start from (id, lane, seq) tuples, given the current fast-lane streak."""
    vip = min((q for q in queued if q[1] == VIP), key=lambda q: q[2], default=None)
    standard = min((q for q in queued if q[1] != VIP), key=lambda q: q[2], default=None)
    if vip is None and standard is None:
        return None
    if standard is not None and (vip is None or streak >= MAX_VIP_STREAK):
        return Pick(standard[0], 0)
    # A fast-lane job goes first; the streak only counts while a standard job is waiting.
    return Pick(vip[0], streak + 1 if standard is not None else 0)


def start_order(queued: list[tuple[str, str, int]], streak: int = 0) -> list[str]:
    """Every queued job id in the order the scheduler will start them (one worker's view).

    The same rule as `pick_next`, walked over both lanes at once: linear in the queue length."""
    vip = deque(q[0] for q in sorted(queued, key=lambda q: q[2]) if q[1] == VIP)
    standard = deque(q[0] for q in sorted(queued, key=lambda q: q[2]) if q[1] != VIP)
    order: list[str] = []
    while vip or standard:
        if standard and (not vip or streak >= MAX_VIP_STREAK):
            order.append(standard.popleft())
            streak = 0
        else:
            order.append(vip.popleft())
            streak = streak + 1 if standard else 0
    return order


def positions(queued: list[tuple[str, str, int]], streak: int = 0) -> dict[str, int]:
    """Place in line for each queued job: 1 starts next."""
    return {job_id: index for index, job_id in enumerate(start_order(queued, streak), start=1)}


__all__ = ["MAX_VIP_STREAK", "Pick", "STANDARD", "VIP", "pick_next", "positions", "start_order"]
