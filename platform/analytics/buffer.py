"""The event buffer: a request appends an event in memory and goes on; a thread writes the
buffer every few seconds (and at exit), per store, as **one INSERT executed for many rows**
(the driver's ``executemany``: on PostgreSQL psycopg pipelines one prepared statement, on SQLite
the sqlite3 module steps one compiled statement per row).

Not a multi-row ``VALUES``: that statement differs with every batch size, so SQLAlchemy compiled
it afresh, psycopg converted its thousands of placeholders with a regular expression (its cache
takes only statements under 4 kB) and PostgreSQL parsed and planned it each time: about 200 µs
of the web worker's CPU per event (a gunicorn worker's flush of 1,000 order events took 206 ms of
Python and 30 ms of the server), against 20 µs and 10 ms now (issue 13).

Bounded: when :attr:`EventBuffer.capacity` events wait, a new one is dropped and counted
(:attr:`EventBuffer.dropped`), never waited for. Appending is a ``deque.append`` (atomic under
the GIL); the flusher takes what is there under its own lock, so requests never wait on a flush.
One buffer per process (gunicorn workers each have theirs: the thread starts lazily, after the
fork). Events lost by a crash are a few seconds' worth: analytics, not bookkeeping (orders and
payments are read from their own tables).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
from collections import deque

import sqlalchemy as sa

from mallow.analytics.models import AnalyticsEvent
from mallow.db import db
from mallow.tenants.context import store_context

log = logging.getLogger("mallow.analytics")

EXTENSION = "mallow.analytics.buffer"
#: events waiting at most (≈ 300 bytes each: ~15 MB)
CAPACITY = 50_000
#: the columns of every row, in order (a multi-row VALUES needs the same keys in each)
COLUMNS = (
    "at",
    "kind",
    "visitor",
    "customer_id",
    "product_id",
    "sku_id",
    "order_id",
    "amount",
    "source",
    "ref",
    "path",
)


@functools.cache
def _insert() -> sa.Insert:
    return sa.insert(AnalyticsEvent.__table__)


class EventBuffer:
    def __init__(self, app, capacity: int = CAPACITY, flush_seconds: float = 5.0):
        self.app = app
        self.capacity = capacity
        self.flush_seconds = flush_seconds
        self._items: deque[tuple[int, dict]] = deque()
        self._flush_lock = threading.Lock()
        self._thread_pid: int | None = None
        self._stop = threading.Event()
        self.dropped = 0
        self.written = 0
        self.failed = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, store_id: int, row: dict) -> bool:
        """Queue one event row for ``store_id``; False (and counted) when the buffer is full."""
        if len(self._items) >= self.capacity:
            self.dropped += 1
            return False
        self._items.append((store_id, row))
        if self._thread_pid != os.getpid() and self.flush_seconds > 0:
            self._start()
        return True

    def flush(self) -> int:
        """Write what waits now: per store, one INSERT executed for all its rows.
        Returns how many rows were written; a store that fails (gone, say) loses its rows and
        is logged, the others are written."""
        with self._flush_lock:
            count = len(self._items)
            if not count:
                return 0
            by_store: dict[int, list[dict]] = {}
            popleft = self._items.popleft
            for _ in range(count):
                store_id, row = popleft()
                by_store.setdefault(store_id, []).append(row)
            written = 0
            for store_id, rows in by_store.items():
                try:
                    with store_context(store_id, app=self.app):
                        db.session.execute(_insert(), rows)  # executemany of one prepared INSERT
                        db.session.commit()
                    written += len(rows)
                except Exception:  # noqa: BLE001  (analytics never stops the flusher)
                    self.failed += len(rows)
                    log.exception("analytics: %d events of store %s not written", len(rows), store_id)
            self.written += written
            return written

    def _start(self) -> None:
        self._thread_pid = os.getpid()
        self._stop = threading.Event()
        thread = threading.Thread(target=self._run, name="mallow-analytics-flush", daemon=True)
        thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # noqa: BLE001
                log.exception("analytics: flush failed")

    def close(self) -> None:
        """Stop the thread and write what is left (at exit)."""
        self._stop.set()
        try:
            self.flush()
        except Exception:  # noqa: BLE001
            log.exception("analytics: flush at exit failed")


def buffer_of(app) -> EventBuffer:
    return app.extensions[EXTENSION]


def install(app) -> EventBuffer:
    found = app.extensions.get(EXTENSION)
    if found is None:
        seconds = float(app.config.get("MALLOW_ANALYTICS_FLUSH_SECONDS", 5))
        if app.testing:
            seconds = 0  # no thread in tests (it would take pool connections under statement counts): flush() by hand
        found = app.extensions[EXTENSION] = EventBuffer(app, flush_seconds=seconds)
    return found
