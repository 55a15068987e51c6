"""Payment jobs: the periodic sweep of every store (active queries of unpaid attempts, refunds
sent again with the same number, refunds queried) and the submission of one refund."""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app

from mallow.db import db
from mallow.jobs import job, periodic
from mallow.payments import service
from mallow.payments.models import Refund
from mallow.tenants.context import store_context
from mallow.tenants.models import Store

log = logging.getLogger(__name__)


@job("payments.submit_refund", store=True)
def submit_refund(store, refund_id: int):
    """Send a refund to its provider (idempotent: the same ``out_refund_no`` every time)."""
    refund = db.session.get(Refund, int(refund_id))
    if refund is None:
        return None
    return service.submit_refund(refund).status


@job("payments.sweep_store", store=True)
def sweep_store(store, now: str | None = None):
    return service.sweep(datetime.fromisoformat(now) if now else None)


@job("payments.sweep")
def sweep_all(now: str | None = None):
    """Every store that can have payments, each in its own store context."""
    app = current_app._get_current_object()
    ids = db.session.execute(db.select(Store.id).where(Store.status.in_(("open", "suspended")))).scalars().all()
    results = {}
    for store_id in ids:
        try:
            with store_context(store_id, app=app):
                results[store_id] = service.sweep(datetime.fromisoformat(now) if now else None)
        except Exception:  # noqa: BLE001 -- one store's failure must not stop the others
            log.exception("%s failed for store %s", __name__, store_id)
            results[store_id] = "failed"
    return results


periodic("payments.sweep", 60)
