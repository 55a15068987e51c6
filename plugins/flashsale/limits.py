"""Attempt rate limits on the buy endpoint: per IP address and per shopper, fixed windows.

Every attempt is counted in this process (:func:`allow_here`); with Redis, the attempts that
reach the gate are counted there too, by the gate's one script (:func:`mallow_flashsale.gate.reserve`
takes the keys of :func:`rate_key`), so every process counts together without a round trip of
its own. Windows are ``window`` seconds long, numbered by :data:`clock` (seconds since the
epoch; a test pins it, so no run depends on where a minute begins); keys carry the store, so one
store's crowd never uses up another's allowance.
"""

from __future__ import annotations

import threading
import time

from flask import current_app

from mallow_flashsale import gate

#: where the windows come from: ``time.time`` (tests replace it with a fixed clock)
clock = time.time


class _Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.window = -1
        self.counts: dict[str, int] = {}


def _window(window: int) -> int:
    return int(clock() // window)


def rate_key(store_id: int, kind: str, ident, window: int = 60) -> str:
    return f"{gate.prefix()}:rl:{int(store_id)}:{kind}:{ident}:{_window(window)}"


def allow_here(key: str, limit: int, window: int = 60) -> bool:
    """Count in this process only."""
    return allow_in(current_app, key, limit, window)


def allow_in(app, key: str, limit: int, window: int = 60) -> bool:
    """:func:`allow_here` for ``app`` without an app context (the front door has none)."""
    counters = app.extensions.get("mallow_flashsale.rates")
    if counters is None:
        counters = app.extensions.setdefault("mallow_flashsale.rates", _Counters())
    current = _window(window)
    with counters.lock:
        if counters.window != current:  # a new window: the old counts are of no use
            counters.window, counters.counts = current, {}
        counters.counts[key] = count = counters.counts.get(key, 0) + 1
    return count <= limit
