"""Passes paid through the operator's payment provider: each order grants its pass once, however
often the provider retries the callback (issue 24, item 3; the HTTP side is api/billing.py)."""

from __future__ import annotations

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
        # One IMMEDIATE transaction: deliveries of one order (from any process) take turns, and the
        # order is recorded exactly when its pass is granted. A refused grant (an unknown user, a bad
        # length) records nothing, so the order may come again, fixed.
        with self.store.transaction() as db:
            row = db.execute("SELECT user, lane, lane_until FROM billing_orders WHERE order_id = ?",
                             (order_id,)).fetchone()
            if row is not None:
                return Granted(order_id, row[0], row[1], row[2], again=True)
            until = self.users.grant_within(db, user, lane, float(days), None, now)
            db.execute("INSERT INTO billing_orders (order_id, user, lane, days, granted_at, lane_until) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (order_id, user, lane, float(days), now, until))
        return Granted(order_id, user, lane, until, again=False)
