"""Attempt rate limits on the buy endpoint: per IP address and per shopper, fixed windows.

Shared through Redis when the gate has one (every process counts together), else counted in
this process. Windows are ``window`` seconds long, numbered by :data:`clock` (seconds since the
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

RATE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class _Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.window = -1
        self.counts: dict[str, int] = {}


def _window(window: int) -> int:
    return int(clock() // window)


def rate_key(store_id: int, kind: str, ident, window: int = 60) -> str:
    return f"{gate.prefix()}:rl:{int(store_id)}:{kind}:{ident}:{_window(window)}"


def allow(store_id: int, kind: str, ident, limit: int, window: int = 60) -> bool:
    """Count one attempt; False once more than ``limit`` came in this window."""
    key = rate_key(store_id, kind, ident, window)
    conn = gate.connection()
    if conn is not None:
        try:
            script = current_app.extensions.get("mallow_flashsale.rate_script")
            if script is None or script.registered_client is not conn.redis:
                script = current_app.extensions["mallow_flashsale.rate_script"] = conn.redis.register_script(RATE)
            return int(script(keys=[key], args=[window + 1])) <= limit
        except Exception:  # noqa: BLE001 -- Redis down: count here instead
            pass
    return allow_here(key, limit, window)


def allow_here(key: str, limit: int, window: int = 60) -> bool:
    """Count in this process only."""
    counters = current_app.extensions.get("mallow_flashsale.rates")
    if counters is None:
        counters = current_app.extensions.setdefault("mallow_flashsale.rates", _Counters())
    current = _window(window)
    with counters.lock:
        if counters.window != current:  # a new window: the old counts are of no use
            counters.window, counters.counts = current, {}
        counters.counts[key] = count = counters.counts.get(key, 0) + 1
    return count <= limit
