"""Passes paid through the operator's payment provider: each order grants its pass once, however
often the provider retries the callback (issue 24, item 3; the HTTP side is api/billing.py)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Callable

from .errors import UserError
from .store import JobStore
from .users import Users

MAX_ORDER_ID = 128


@dataclass(frozen=True)
class Granted:
    order_id: str
    user: str
    lane: str
    lane_until: float | None
    again: bool  # True: this order was granted before (a retry); nothing changed now


class Orders:
    def __init__(self, store: JobStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock
        self.users = Users(store, clock=clock)

    def grant_once(self, order_id: str, user: str, lane: str, days: float) -> Granted:
        """The pass of `order_id`: granted now, or the answer it got the first time."""
        if not isinstance(order_id, str) or not 0 < len(order_id) <= MAX_ORDER_ID:
            raise UserError(f"order_id must be text of 1 to {MAX_ORDER_ID} characters.",
                            f"order_id 必须是 1 到 {MAX_ORDER_ID} 个字符的文本。")
        now = self.clock()
        try:  # the order's row first: a second delivery of the same order finds it and grants nothing
            self.store.execute("INSERT INTO billing_orders (order_id, user, lane, days, granted_at) VALUES (?, ?, ?, ?, ?)",
                               (order_id, user, lane, float(days), now))
        except sqlite3.IntegrityError:
            row = self.store.read("SELECT user, lane, lane_until FROM billing_orders WHERE order_id = ?", (order_id,))
            if row:
                return Granted(order_id, row[0][0], row[0][1], row[0][2], again=True)
            raise  # the row went in between: a retry runs into this once more and finds it
        try:
            granted = self.users.grant(user, lane, days=days, now=now)
        except Exception:  # not granted (unknown user, bad days...): the order may come again, fixed
            self.store.execute("DELETE FROM billing_orders WHERE order_id = ?", (order_id,))
            raise
        self.store.execute("UPDATE billing_orders SET lane_until = ? WHERE order_id = ?",
                           (granted.lane_until, order_id))
        return Granted(order_id, granted.name, granted.lane, granted.lane_until, again=False)
