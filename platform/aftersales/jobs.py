"""After-sales timers: refund-only requests the merchant leaves alone are approved by the system
after ``refund_auto_approve_hours`` (a periodic sweep of every store, like the order timers)."""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app

from mallow.aftersales import service
from mallow.db import db
from mallow.jobs import job, periodic
from mallow.tenants.context import store_context
from mallow.tenants.models import Store

log = logging.getLogger(__name__)


@job("aftersales.sweep_store", store=True)
def sweep_store(store, now: str | None = None):
    return {"approved": service.auto_approve(datetime.fromisoformat(now) if now else None)}


@job("aftersales.sweep")
def sweep_all(now: str | None = None):
    app = current_app._get_current_object()
    ids = db.session.execute(db.select(Store.id).where(Store.status.in_(("open", "suspended")))).scalars().all()
    results = {}
    for store_id in ids:
        try:
            with store_context(store_id, app=app):
                results[store_id] = {"approved": service.auto_approve(datetime.fromisoformat(now) if now else None)}
        except Exception:  # noqa: BLE001 -- one store's failure must not stop the others
            log.exception("%s failed for store %s", __name__, store_id)
            results[store_id] = "failed"
    return results


periodic("aftersales.sweep", 300)
