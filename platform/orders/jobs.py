"""Order timers: a periodic sweep of every store (see :func:`mallow.orders.service.sweep`)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from mallow.db import db
from mallow.jobs import job, periodic
from mallow.orders import service
from mallow.tenants.context import store_context
from mallow.tenants.models import Store


@job("orders.sweep_store", store=True)
def sweep_store(store, now: str | None = None):
    return service.sweep(datetime.fromisoformat(now) if now else None)


@job("orders.sweep")
def sweep_all(now: str | None = None):
    """Every store that can have orders, each in its own store context."""
    app = current_app._get_current_object()
    ids = db.session.execute(db.select(Store.id).where(Store.status.in_(("open", "suspended")))).scalars().all()
    results = {}
    for store_id in ids:
        with store_context(store_id, app=app):
            results[store_id] = service.sweep(datetime.fromisoformat(now) if now else None)
    return results


periodic("orders.sweep", 60)
