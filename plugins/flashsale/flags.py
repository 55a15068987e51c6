"""What a process remembers between requests, so a crowd is turned away without a query.

* **sold-out flags** (store, sale, SKU): once the quota of a sale item is gone (Redis or the database said so),
  buy attempts for it are answered "sold out" from memory. A flag lives a short time
  (``FLASHSALE_SOLDOUT_SECONDS``, default 2 s): units that come back (an unpaid order closed,
  maybe in another process) become buyable again soon after, and a return handled in this
  process clears the flag at once.
* **sale snapshots**: the sale's window, limits and items as plain values, for the checks that
  come before any write (the pricing hooks re-read the sale from the database). Kept a short
  time (``FLASHSALE_SNAPSHOT_SECONDS``, default 2 s) and dropped when the sale is edited here.

Keys always start with the store id: nothing of one store is ever served to another. The
memory belongs to the app (``app.extensions``), never to the module: two apps in one process
(tests) share nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

MAX_ENTRIES = 50_000


class _Memory:
    def __init__(self):
        self.lock = threading.Lock()
        self.sold_out: dict[tuple[int, int, int], float] = {}
        self.snapshots: dict[tuple[int, int], tuple[float, SaleSnapshot | None]] = {}


def _memory() -> _Memory:
    memory = current_app.extensions.get("mallow_flashsale.memory")
    if memory is None:
        memory = current_app.extensions.setdefault("mallow_flashsale.memory", _Memory())
    return memory


@dataclass(frozen=True)
class ItemSnapshot:
    id: int
    sku_id: int
    sale_price: int
    quota: int


@dataclass(frozen=True)
class SaleSnapshot:
    id: int
    title: str
    published: bool
    preheat_at: datetime | None
    starts_at: datetime
    ends_at: datetime
    per_order_limit: int
    per_shopper_limit: int
    per_day_limit: int
    items: dict[int, ItemSnapshot]  # by SKU id

    def state(self, now: datetime) -> str:
        if not self.published:
            return "draft"
        if now >= self.ends_at:
            return "ended"
        if now >= self.starts_at:
            return "live"
        if self.preheat_at is None or now >= self.preheat_at:
            return "preheat"
        return "hidden"


def _seconds(name: str, default: float) -> float:
    return float(current_app.config.get(name, default))


def is_sold_out(store_id: int, sale_id: int, sku_id: int) -> bool:
    sold_out = _memory().sold_out
    until = sold_out.get((store_id, sale_id, sku_id))
    if until is None:
        return False
    if until < time.monotonic():
        sold_out.pop((store_id, sale_id, sku_id), None)
        return False
    return True


def mark_sold_out(store_id: int, sale_id: int, sku_id: int) -> None:
    memory = _memory()
    with memory.lock:
        if len(memory.sold_out) > MAX_ENTRIES:
            memory.sold_out.clear()
        memory.sold_out[(store_id, sale_id, sku_id)] = time.monotonic() + _seconds("FLASHSALE_SOLDOUT_SECONDS", 2.0)


def clear_sold_out(store_id: int, sale_id: int) -> None:
    memory = _memory()
    with memory.lock:
        for key in [k for k in memory.sold_out if k[0] == store_id and k[1] == sale_id]:
            memory.sold_out.pop(key, None)


def snapshot(store_id: int, sale_id: int, load) -> SaleSnapshot | None:
    """The cached snapshot of a sale, or ``load()`` (which returns one, or None) when stale."""
    memory = _memory()
    now = time.monotonic()
    cached = memory.snapshots.get((store_id, sale_id))
    if cached is not None and cached[0] > now:
        return cached[1]
    value = load()
    with memory.lock:
        if len(memory.snapshots) > MAX_ENTRIES:
            memory.snapshots.clear()
        memory.snapshots[(store_id, sale_id)] = (now + _seconds("FLASHSALE_SNAPSHOT_SECONDS", 2.0), value)
    return value


def forget_sale(store_id: int, sale_id: int) -> None:
    memory = _memory()
    with memory.lock:
        memory.snapshots.pop((store_id, sale_id), None)
    clear_sold_out(store_id, sale_id)


def reset() -> None:
    """Forget everything this app remembers (tests)."""
    memory = _memory()
    with memory.lock:
        memory.sold_out.clear()
        memory.snapshots.clear()
