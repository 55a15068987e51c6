"""What a process remembers between requests, so a crowd is turned away without a query.

* **sold-out flags** (store, sale, SKU): once the quota of a sale item is gone (Redis or the
  database said so), buy attempts for it are answered "sold out" from memory, by the early
  answer (:mod:`mallow_flashsale.early_answers`, before Flask and the ORM) and by the normal
  route alike. A flag is trusted for ``FLASHSALE_SOLDOUT_SECONDS`` (default 2 s); after that the
  early answer asks Redis once (the item's units left in the gate) and either trusts it for
  another interval or drops it, and without Redis the flag is dropped and the database is asked
  again. So units that come back (an unpaid order closed, maybe in another process) are
  answered "sold out" for **at most one interval** after the gate has them back; a return
  handled in this process clears the flag at once.
* **sale snapshots**: the sale's window, limits and items as plain values, for the checks that
  come before any write (the pricing hooks re-read the sale from the database). Kept a short
  time (``FLASHSALE_SNAPSHOT_SECONDS``, default 2 s) and dropped when the sale is edited here.

Keys always start with the store id: nothing of one store is ever served to another. The
memory belongs to the app (``app.extensions``), never to the module: two apps in one process
(tests) share nothing. The early answer holds the app's :class:`Memory` itself (it runs without
an app context).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

MAX_ENTRIES = 50_000


class Memory:
    """One app's flags and snapshots. ``sold_out``: (store, sale, SKU) → (trusted until, item id)."""

    def __init__(self, config: dict):
        self.lock = threading.Lock()
        self.config = config  # the app's: read without an app context
        self.sold_out: dict[tuple[int, int, int], tuple[float, int]] = {}
        self.snapshots: dict[tuple[int, int], tuple[float, SaleSnapshot | None]] = {}
        #: store → (trusted until, the plugin's settings there): the front door reads them
        self.settings: dict[int, tuple[float, dict]] = {}

    def is_sold_out(self, key: tuple[int, int, int]) -> bool:
        found = self.sold_out.get(key)
        if found is None:
            return False
        if found[0] < time.monotonic():
            self.sold_out.pop(key, None)
            return False
        return True

    def mark_sold_out(self, key: tuple[int, int, int], item_id: int) -> None:
        with self.lock:
            if len(self.sold_out) > MAX_ENTRIES:
                self.sold_out.clear()
            seconds = float(self.config.get("FLASHSALE_SOLDOUT_SECONDS", 2.0))
            self.sold_out[key] = (time.monotonic() + seconds, item_id)

    def known_sold_out(self, key: tuple[int, int, int], units_left: Callable[[int], int | None] | None) -> bool:
        """Whether the flag says sold out, asking ``units_left(item_id)`` (Redis: one round trip;
        None when it does not know) once the flag is older than the interval: sold out when it
        says none are left (trusted for another interval), else the flag goes."""
        found = self.sold_out.get(key)
        if found is None:
            return False
        until, item_id = found
        if until >= time.monotonic():
            return True
        left = units_left(item_id) if units_left is not None else None
        if left is not None and left <= 0:
            self.mark_sold_out(key, item_id)
            return True
        self.sold_out.pop(key, None)
        return False


def memory() -> Memory:
    """This app's memory (in an app context)."""
    found = current_app.extensions.get("mallow_flashsale.memory")
    if found is None:
        found = current_app.extensions.setdefault("mallow_flashsale.memory", Memory(current_app.config))
    return found


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
    return memory().is_sold_out((store_id, sale_id, sku_id))


def mark_sold_out(store_id: int, sale_id: int, sku_id: int, item_id: int) -> None:
    memory().mark_sold_out((store_id, sale_id, sku_id), item_id)


def clear_sold_out(store_id: int, sale_id: int) -> None:
    mem = memory()
    with mem.lock:
        for key in [k for k in mem.sold_out if k[0] == store_id and k[1] == sale_id]:
            mem.sold_out.pop(key, None)


def snapshot(store_id: int, sale_id: int, load) -> SaleSnapshot | None:
    """The cached snapshot of a sale, or ``load()`` (which returns one, or None) when stale."""
    mem = memory()
    now = time.monotonic()
    cached = mem.snapshots.get((store_id, sale_id))
    if cached is not None and cached[0] > now:
        return cached[1]
    value = load()
    with mem.lock:
        if len(mem.snapshots) > MAX_ENTRIES:
            mem.snapshots.clear()
        mem.snapshots[(store_id, sale_id)] = (now + _seconds("FLASHSALE_SNAPSHOT_SECONDS", 2.0), value)
    return value


def remember_settings(store_id: int, config: dict) -> None:
    """The store's plugin settings as the buy route read them, for the front door's admission
    (trusted as long as a snapshot)."""
    mem = memory()
    if len(mem.settings) > MAX_ENTRIES:
        mem.settings.clear()
    mem.settings[store_id] = (time.monotonic() + _seconds("FLASHSALE_SNAPSHOT_SECONDS", 2.0), dict(config))


def fresh(mem: Memory, store_id: int, sale_id: int):
    """``(snapshot, settings)`` when this process read both within their interval, else None
    (no app context: the front door)."""
    now = time.monotonic()
    cached, config = mem.snapshots.get((store_id, sale_id)), mem.settings.get(store_id)
    if cached is None or config is None or cached[0] <= now or config[0] <= now or cached[1] is None:
        return None
    return cached[1], config[1]


def forget_sale(store_id: int, sale_id: int) -> None:
    mem = memory()
    with mem.lock:
        mem.snapshots.pop((store_id, sale_id), None)
    clear_sold_out(store_id, sale_id)


def reset() -> None:
    """Forget everything this app remembers (tests)."""
    mem = memory()
    with mem.lock:
        mem.sold_out.clear()
        mem.snapshots.clear()
        mem.settings.clear()
