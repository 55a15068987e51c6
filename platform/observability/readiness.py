"""``/readyz``: may this process take traffic? Named checks, each ``() -> (ok, detail)``, run in an
app context.

Built in: ``database`` (the platform database answers ``SELECT 1``) and ``redis`` (``PING`` with a
one-second timeout when ``REDIS_URL`` is set; ``embedded`` otherwise: jobs run in-process and
rate limits in memory). The app registers more (:func:`register`): ``create_app`` registers
``migrations`` (both chains at the code's head), which this package could not check without
importing tenancy. A check may be kept for a few seconds (``cache_seconds``; the migrations'
reads are kept ``MALLOW_READYZ_CACHE_SECONDS``, default 10): a probe every second then costs a
query, not a query per store. A check that raises is a failed check named by the exception's
type (no message: it may hold a host name or a password).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from mallow.db import db

EXTENSION = "mallow.observability.readiness"

Check = Callable[[], tuple[bool, str]]


@dataclass
class _Registered:
    check: Check
    cache_seconds: float = 0.0
    kept: tuple[float, tuple[bool, str]] | None = None


@dataclass
class Readiness:
    checks: dict[str, _Registered] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def register(app, name: str, check: Check, *, cache_seconds: float = 0.0) -> None:
    app.extensions[EXTENSION].checks[name] = _Registered(check, cache_seconds)


def run(app) -> tuple[bool, dict[str, dict]]:
    """``(ready, {name: {"ok": …, "detail": …}})``: every check, in registration order."""
    state: Readiness = app.extensions[EXTENSION]
    results: dict[str, dict] = {}
    for name, registered in state.checks.items():
        now = time.monotonic()
        kept = registered.kept
        if kept is not None and now - kept[0] < registered.cache_seconds:
            ok, detail = kept[1]
        else:
            try:
                ok, detail = registered.check()
            except Exception as error:  # noqa: BLE001 -- a failed check, named, never a 500
                ok, detail = False, f"error: {type(error).__name__}"
            if registered.cache_seconds:
                with state.lock:
                    registered.kept = (now, (ok, detail))
        results[name] = {"ok": bool(ok), "detail": detail}
    return all(result["ok"] for result in results.values()), results


def _database() -> tuple[bool, str]:
    with db.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    return True, "ok"


def _redis_check(app) -> Check:
    clients: dict[str, object] = {}  # one client per URL (a probe every few seconds reuses its connection)

    def check() -> tuple[bool, str]:
        url = app.config.get("REDIS_URL")
        if not url:
            return True, "embedded"
        client = clients.get(url)
        if client is None:
            from redis import Redis

            client = clients[url] = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()  # type: ignore[attr-defined]
        return True, "ok"

    return check


def init_app(app) -> None:
    app.extensions[EXTENSION] = Readiness()
    register(app, "database", _database)
    register(app, "redis", _redis_check(app))
