"""Periodic sweeps over every store: one mechanism for all timers (unpaid orders, payment
queries, after-sales deadlines, plugin timers).

    @store_sweep("orders", every_seconds=60)
    def sweep(store, now):          # runs inside store_context, ``now`` an aware datetime
        ...

declares two jobs: ``orders.sweep_store`` (one store: ``store_id=…``, optional ``now``) and
``orders.sweep`` (every open or closing store, each in its own store context; one store's
failure is logged and does not stop the others), the latter run every ``every_seconds``.
Timers are database states swept here, so they survive restarts and a lost Redis (or a lost job:
work queued as a job for speed is found again by its sweep).

A sweep must be idempotent (conditional updates, "once" ledgers): ``sweep_store`` is retried
when it fails, and a sweep can overlap the previous one. The every-store job is not retried:
its next run is the retry.
"""

from __future__ import annotations

import logging
from datetime import datetime, UTC

from flask import current_app

from mallow.db import db
from mallow.jobs.registry import JobSpec, declare_on
from mallow.tenants.context import store_context
from mallow.tenants.models import SWEPT_STATES, Store

log = logging.getLogger("mallow.jobs")


def _when(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else datetime.now(UTC)


def store_sweep(prefix: str, every_seconds: float):
    """Declare the two jobs of a sweep on the decorated function (an app installs them with the
    function's module, :meth:`mallow.jobs.registry.JobRegistry.install`)."""

    def declare(func):
        def one_store(store, now: str | None = None):
            return func(store, _when(now))

        def every_store(now: str | None = None):
            app = current_app._get_current_object()
            ids = db.session.execute(db.select(Store.id).where(Store.status.in_(SWEPT_STATES))).scalars().all()
            results = {}
            for store_id in ids:
                try:
                    with store_context(store_id, app=app) as store:
                        results[store_id] = func(store, _when(now))
                except Exception:  # one store's failure must not stop the others
                    log.exception("%s.sweep failed for store %s", prefix, store_id)
                    results[store_id] = "failed"
            return results

        declare_on(func, JobSpec(f"{prefix}.sweep_store", one_store, store=True, idempotent=True))
        declare_on(func, JobSpec(f"{prefix}.sweep", every_store, store=False, every_seconds=float(every_seconds)))
        return func

    return declare
