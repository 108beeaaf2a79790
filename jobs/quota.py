"""Free videos a day in the standard lane (`--free-videos-per-day`).

    quota = DailyQuota(store, per_day=3)
    quota.left("alice")                  # 3 free videos left today (None: unlimited)
    quota.check("address:10.0.0.7")      # DailyQuotaSpent once they are used

The day is the server's: it starts at local midnight in the server's time zone, so "today" on the
page, in the refusal and in `Retry-After` is the same day. Uses are counted from the store
(`quota_uses`, written with the job in one transaction), so a restart forgets nothing; a video the
user did not get is given back (its job failed, or was cancelled before it began rendering), a work
deleted afterwards is not. The fast lane is unlimited: only standard-lane jobs are recorded.
"""

from __future__ import annotations

import datetime
import time
from typing import Callable

from .errors import DailyQuotaSpent
from .store import JobStore

# Uses older than this are dropped: only today's are counted (two days: a DST day is 25 hours).
KEEP_USES_S = 2 * 24 * 3600


def day_bounds(now: float) -> tuple[float, float]:
    """The local day holding `now` (epoch s): its midnight and the next one, in the server's zone.
    Through the calendar, not by adding 24 h: a day with a clock change is 23 or 25 hours long."""
    today = datetime.datetime.fromtimestamp(now).date()
    start = datetime.datetime.combine(today, datetime.time())
    return start.timestamp(), (start + datetime.timedelta(days=1)).timestamp()


class DailyQuota:
    """`per_day` free videos per payer (a user, or a visitor's address) each local day; 0 = off."""

    def __init__(self, store: JobStore, per_day: int = 0, clock: Callable[[], float] = time.time):
        if isinstance(per_day, bool) or not isinstance(per_day, int) or per_day < 0:
            raise ValueError(f"free videos per day must be a whole number from 0 (off), got {per_day!r}")
        self.store = store
        self.per_day = per_day
        self.clock = clock  # epoch seconds; tests pass their own to cross midnight without waiting

    @property
    def on(self) -> bool:
        return self.per_day > 0

    def used(self, payer: str, now: float | None = None, written: bool = False) -> int:
        """Today's uses (`written`: read where the submits write, for the check under the service's lock)."""
        since, until = day_bounds(self.clock() if now is None else now)
        return self.store.quota_used(payer, since, until, written=written)

    def left(self, payer: str, now: float | None = None) -> int | None:
        """Free videos the payer may still make today; None when the quota is off."""
        if not self.on:
            return None
        return max(0, self.per_day - self.used(payer, now))

    def check(self, payer: str, now: float | None = None) -> None:
        """Refuse one more video today (`DailyQuotaSpent`, naming when the day's videos come back)."""
        now = self.clock() if now is None else now
        if self.on and self.used(payer, now, written=True) >= self.per_day:
            raise DailyQuotaSpent(self.per_day, day_bounds(now)[1], now)

    def forget_old(self, now: float | None = None) -> int:
        return self.store.forget_quota_uses((self.clock() if now is None else now) - KEEP_USES_S)
