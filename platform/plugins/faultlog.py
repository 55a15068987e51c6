"""Plugin faults written where a rollback cannot undo them.

A fault happens in the middle of somebody's transaction (a checkout that is then refused, an
event whose savepoint is rolled back). Its record must outlive that transaction, so it is
written on a connection of its own to the platform database and committed at once: one
upsert of the (store, plugin, hook, kind) row of :class:`~mallow.plugins.models.PluginFault`
(an UPDATE, or an INSERT the first time), then the sum of the plugin's strikes in the store's
current window for the circuit breaker. Good calls write nothing.

The connections come from a small engine of their own (no pool: nothing lingers after a test
or a reload; at most :data:`WRITERS` at a time, so a storm of faults cannot use up the
database's connections) with short lock and statement timeouts: a fault that cannot be written
within them is logged and dropped rather than holding up the request.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.pool import NullPool

from mallow.db import db, utcnow
from mallow.plugins.models import PluginFault, StorePlugin
from mallow.tenants import stamps

log = logging.getLogger("mallow.plugins")
#: fault writers at once per app
WRITERS = 2
FAULTS = PluginFault.__table__
SWITCHES = StorePlugin.__table__


def window_seconds(app: Flask | None = None) -> int:
    app = app or current_app
    return int(app.config.get("MALLOW_PLUGIN_BREAKER_WINDOW_SECONDS", 300))


def _engine(app: Flask) -> tuple[sa.Engine, threading.BoundedSemaphore]:
    found = app.extensions.get("mallow.fault_engine")
    if found is None:
        with app.app_context():
            url = db.engine.url
        if url.get_backend_name() == "postgresql":
            args = {"options": "-c lock_timeout=2000 -c statement_timeout=5000"}
        else:
            args = {"timeout": 5, "check_same_thread": False}
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=args)
        found = app.extensions.setdefault("mallow.fault_engine", (engine, threading.BoundedSemaphore(WRITERS)))
    return found


def _same(store_id: int | None, plugin: str):
    store = FAULTS.c.store_id.is_(None) if store_id is None else FAULTS.c.store_id == store_id
    return sa.and_(store, FAULTS.c.plugin == plugin)


def record(
    app: Flask, store_id: int | None, plugin: str, hook: str, kind: str, message: str, ms: float, strike: bool
) -> int | None:
    """Count one fault; ``strike``: it counts towards the breaker (its window). Returns the
    plugin's strikes in the store's current window, or None when the fault could not be written."""
    engine, writers = _engine(app)
    if not writers.acquire(timeout=2):
        log.warning("plugin %s: fault in %s not recorded (fault writers busy)", plugin, hook)
        return None
    try:
        for attempt in (1, 2):
            try:
                with engine.begin() as connection:
                    return _upsert(connection, store_id, plugin, hook, kind, message[:500], int(ms), strike, app)
            except sa.exc.IntegrityError:  # another process inserted the row a moment ago
                if attempt == 2:
                    raise
    except Exception:
        log.exception("plugin %s: fault in %s could not be recorded", plugin, hook)
        return None
    finally:
        writers.release()
    return None


def _upsert(connection, store_id, plugin, hook, kind, message, ms, strike, app) -> int:
    now = utcnow()
    cutoff = now - timedelta(seconds=window_seconds(app))
    when = FAULTS.c.window_started_at.type
    one = 1 if strike else 0
    stale = FAULTS.c.window_started_at < sa.literal(cutoff, when)
    row = sa.and_(_same(store_id, plugin), FAULTS.c.hook == hook, FAULTS.c.kind == kind)
    updated = connection.execute(
        sa.update(FAULTS)
        .where(row)
        .values(
            count=FAULTS.c.count + 1,
            window_count=sa.case((stale, one), else_=FAULTS.c.window_count + one),
            window_started_at=sa.case((stale, sa.literal(now, when)), else_=FAULTS.c.window_started_at),
            slowest_ms=sa.case((FAULTS.c.slowest_ms < ms, ms), else_=FAULTS.c.slowest_ms),
            last_message=message,
            last_seen_at=now,
        )
    ).rowcount
    if not updated:
        connection.execute(
            sa.insert(FAULTS).values(
                store_id=store_id,
                plugin=plugin,
                hook=hook,
                kind=kind,
                count=1,
                window_count=one,
                window_started_at=now,
                slowest_ms=ms,
                last_message=message,
                first_seen_at=now,
                last_seen_at=now,
            )
        )
    return connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(FAULTS.c.window_count), 0)).where(
            _same(store_id, plugin), FAULTS.c.window_started_at >= sa.literal(cutoff, when)
        )
    ).scalar_one()


def switch_off(app: Flask, store_id: int, plugin: str, detail: dict) -> bool:
    """Switch ``plugin`` off in the store for the circuit breaker, committed at once. True when
    this call switched it off (False: it was off already, or the write failed)."""
    engine, writers = _engine(app)
    if not writers.acquire(timeout=2):
        return False
    try:
        with engine.begin() as connection:
            now = utcnow()
            switched = bool(
                connection.execute(
                    sa.update(SWITCHES)
                    .where(SWITCHES.c.store_id == store_id, SWITCHES.c.name == plugin, SWITCHES.c.enabled.is_(True))
                    .values(
                        enabled=False,
                        disabled_reason="circuit_breaker",
                        disabled_detail=detail,
                        disabled_at=now,
                        updated_at=now,
                    )
                ).rowcount
            )
        if switched:
            app.extensions[stamps.EXTENSION].bump(store_id)  # every process drops what it kept
        return switched
    except Exception:
        log.exception("plugin %s could not be switched off in store %s", plugin, store_id)
        return False
    finally:
        writers.release()


def forget_window(store_id: int, plugin: str) -> None:
    """Start the plugin's window in the store afresh, in the caller's session (committed with
    the merchant's enabling)."""
    db.session.execute(
        sa.update(PluginFault)
        .where(PluginFault.store_id == store_id, PluginFault.plugin == plugin)
        .values(window_count=0, window_started_at=utcnow())
    )
