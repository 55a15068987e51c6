"""After-sales timers: refund-only requests the merchant leaves alone are approved by the system
after ``refund_auto_approve_hours`` (a periodic sweep of every store, like the order timers); the
same sweep makes the refunds a crash between approval (or the goods coming back) and the refund
left unwritten."""

from __future__ import annotations

from mallow.aftersales import service
from mallow.jobs import store_sweep


@store_sweep("aftersales", every_seconds=300)
def sweep(store, now):
    return {"approved": service.auto_approve(now), "refunds_made": service.repair_refunds()}
