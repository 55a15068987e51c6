"""How long plugins' hook calls took in this process, per (store, plugin, hook): calls, total
and slowest milliseconds. Kept in memory (no write per call); read by the admin faults page and
by anyone measuring (``bench``). Faults are recorded in the database instead
(:mod:`mallow.plugins.breaker`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask

_lock = threading.Lock()


@dataclass
class Timing:
    calls: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


def _table(app: Flask) -> dict[tuple[int | None, str, str], Timing]:
    return app.extensions.setdefault("mallow.plugin_timings", {})


def add(app: Flask, store_id: int | None, plugin: str, hook: str, ms: float) -> None:
    table = _table(app)
    with _lock:
        timing = table.get((store_id, plugin, hook))
        if timing is None:
            timing = table[(store_id, plugin, hook)] = Timing()
        timing.calls += 1
        timing.total_ms += ms
        timing.max_ms = max(timing.max_ms, ms)


def snapshot(app: Flask, plugin: str | None = None) -> dict[tuple[int | None, str, str], Timing]:
    """A copy of the table (of one plugin's calls when ``plugin`` is given)."""
    with _lock:
        return {
            key: Timing(t.calls, t.total_ms, t.max_ms)
            for key, t in _table(app).items()
            if plugin is None or key[1] == plugin
        }


def per_plugin(app: Flask) -> dict[str, Timing]:
    """All stores and hooks of each plugin added up."""
    found: dict[str, Timing] = {}
    for (_store, plugin, _hook), timing in snapshot(app).items():
        total = found.setdefault(plugin, Timing())
        total.calls += timing.calls
        total.total_ms += timing.total_ms
        total.max_ms = max(total.max_ms, timing.max_ms)
    return found
