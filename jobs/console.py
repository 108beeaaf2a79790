"""What the admin console shows, read from the job store alone (issue 24, item 5).

Every number here comes from the database, never from a worker's memory: the console reads the
same with local workers and with Ray actors on other machines, and two app processes on one data
folder agree. Plain rows (lists of dicts), no gradio: the face turns them into tables and plots.
Times are epoch seconds; `now` is a parameter so tests place jobs at chosen times.
"""

from __future__ import annotations

import json
import math
import time

from .codes import Codes
from .job import FAILED, LANES, QUEUED, RUNNING, SUCCEEDED
from .quota import day_bounds
from .store import JobStore
from .users import Users

HOUR_S = 3600
WINDOW_S = 24 * HOUR_S  # the plots look back one day
LINE_SHOWN = 500  # the line table stops here: a page with thousands of rows helps nobody


def users_rows(store: JobStore, now: float | None = None) -> list[dict]:
    """Each user: name, lane in force, when a pass ends (None: no end), admin, videos today and in total."""
    now = time.time() if now is None else now
    midnight, _ = day_bounds(now)
    totals = dict(store.read("SELECT owner, COUNT(*) FROM jobs GROUP BY owner"))
    today = dict(store.read("SELECT owner, COUNT(*) FROM jobs WHERE created_at >= ? GROUP BY owner", (midnight,)))
    return [{"name": user.name, "lane": user.lane, "lane_until": user.lane_until, "admin": user.admin,
             "today": today.get(user.name, 0), "total": totals.get(user.name, 0)}
            for user in Users(store).list(now)]


def codes_rows(store: JobStore, now: float | None = None) -> list[dict]:
    """Each redeem code as the operator sees it (never the code itself), newest first."""
    now = time.time() if now is None else now
    return [{"id": code.id, "lane": code.lane, "days": code.days, "state": code.state(now),
             "created_at": code.created_at, "expires_at": code.expires_at, "used_by": code.used_by,
             "used_at": code.used_at} for code in Codes(store).list()]


def line_rows(store: JobStore) -> list[dict]:
    """The line: rendering jobs first (oldest start first), then queued ones in the order they start."""
    rows = store.read(
        "SELECT id, owner, lane, mode, status, created_at, started_at, position, worker, cancel_requested "
        "FROM jobs WHERE status IN (?, ?) "
        "ORDER BY status = ?, started_at, position IS NULL, position, seq LIMIT ?",
        (RUNNING, QUEUED, QUEUED, LINE_SHOWN))
    keys = ("id", "owner", "lane", "mode", "status", "created_at", "started_at", "position", "worker", "stopping")
    return [{**dict(zip(keys, row)), "stopping": bool(row[-1])} for row in rows]


def worker_jobs(store: JobStore, now: float | None = None) -> dict[str, int]:
    """Jobs each worker finished in the last day, by the name the store recorded."""
    now = time.time() if now is None else now
    return dict(store.read("SELECT worker, COUNT(*) FROM jobs WHERE worker IS NOT NULL AND finished_at >= ? "
                           "GROUP BY worker", (now - WINDOW_S,)))


def hours(now: float) -> list[float]:
    """The starts of the 24 whole hours that end with the current one, oldest first."""
    current = math.floor(now / HOUR_S) * HOUR_S
    return [current - HOUR_S * back for back in range(23, -1, -1)]


def jobs_per_hour(store: JobStore, now: float | None = None) -> list[dict]:
    """Jobs submitted each hour of the last day, per lane (zero hours included, so lines do not skip)."""
    now = time.time() if now is None else now
    starts = hours(now)
    counted = {(hour, lane): n for hour, lane, n in store.read(
        "SELECT CAST(created_at / ? AS INTEGER) * ?, lane, COUNT(*) FROM jobs WHERE created_at >= ? "
        "GROUP BY 1, 2", (HOUR_S, HOUR_S, starts[0]))}
    return [{"hour": hour, "lane": lane, "jobs": counted.get((int(hour), lane), 0)} for hour in starts for lane in LANES]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` from 0 to 1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def waits(store: JobStore, now: float | None = None) -> list[dict]:
    """Wait before start (started_at - created_at) of the jobs started in the last day: p50, p95 and
    how many, per lane. A job still waiting counts with its wait so far, so a stuck line shows."""
    now = time.time() if now is None else now
    rows = store.read("SELECT lane, COALESCE(started_at, ?) - created_at FROM jobs "
                      "WHERE (started_at >= ?) OR (status = ? AND created_at < ?)",
                      (now, now - WINDOW_S, QUEUED, now))
    by_lane: dict[str, list[float]] = {}
    for lane, wait in rows:
        by_lane.setdefault(lane, []).append(max(0.0, wait))
    return [{"lane": lane, "p50": percentile(by_lane[lane], 0.5), "p95": percentile(by_lane[lane], 0.95),
             "jobs": len(by_lane[lane])} for lane in LANES if lane in by_lane]


def render_times(store: JobStore, now: float | None = None) -> list[dict]:
    """Render time (finished_at - started_at) of the videos made in the last day, per model and speed
    preset: the median, the slowest and how many."""
    now = time.time() if now is None else now
    rows = store.read("SELECT info, request, finished_at - started_at FROM jobs WHERE status = ? "
                      "AND finished_at >= ? AND started_at IS NOT NULL", (SUCCEEDED, now - WINDOW_S))
    groups: dict[tuple[str, str], list[float]] = {}
    for info, request, seconds in rows:
        model, speed = _model_and_speed(info, request)
        groups.setdefault((model, speed), []).append(max(0.0, seconds))
    return [{"model": model, "speed": speed, "median": percentile(times, 0.5), "max": max(times), "jobs": len(times)}
            for (model, speed), times in sorted(groups.items())]


def failures_per_hour(store: JobStore, now: float | None = None) -> list[dict]:
    """Failed jobs each hour of the last day, by when they ended (zero hours included)."""
    now = time.time() if now is None else now
    starts = hours(now)
    counted = dict(store.read("SELECT CAST(finished_at / ? AS INTEGER) * ?, COUNT(*) FROM jobs WHERE status = ? "
                              "AND finished_at >= ? GROUP BY 1", (HOUR_S, HOUR_S, FAILED, starts[0])))
    return [{"hour": hour, "failed": counted.get(int(hour), 0)} for hour in starts]


def _model_and_speed(info: str | None, request: str | None) -> tuple[str, str]:
    """The model and preset a job ran with: its result's info, else what it asked for."""
    found = _json(info)
    asked = _json(request)
    model = found.get("model") or asked.get("model") or "?"
    speed = found.get("speed") or asked.get("speed") or "quality"
    return str(model), str(speed)


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

