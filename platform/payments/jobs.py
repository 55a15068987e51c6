"""Payment jobs: the periodic sweep of every store (active queries of unpaid attempts, refunds
sent again with the same number, refunds queried) and the submission of one refund."""

from __future__ import annotations

from mallow.db import db
from mallow.jobs import job, store_sweep
from mallow.payments import refunds
from mallow.payments import sweep as payment_sweep
from mallow.payments.models import Refund


@job("payments.submit_refund", store=True, idempotent=True)
def submit_refund(store, refund_id: int):
    """Send a refund to its provider (idempotent: the same ``out_refund_no`` every time)."""
    refund = db.session.get(Refund, int(refund_id))
    if refund is None:
        return None
    return refunds.submit_refund(refund).status


@store_sweep("payments", every_seconds=60)
def sweep(store, now):
    return payment_sweep.sweep(now)
