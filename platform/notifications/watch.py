"""Where notifications come from: the domains' own records of what happened, watched in the
session's unit of work (the domains import nothing of this package).

:func:`install` (called by ``create_app``'s ``_connect_domains``) listens to the session:

* ``after_flush``: the new rows that are events — an order's timeline entries
  (:class:`~mallow.orders.models.OrderEvent`: ``paid``, ``shipped``, ``refunded``,
  ``aftersale_requested``), a staff notice raised (:class:`~mallow.notices.Notice`: ``low_stock``,
  ``qualification`` expiry warnings) and a qualification decision in the platform's audit log —
  are noted in ``session.info``;
* ``before_commit``: the noted store events become notifications and deliveries
  (:func:`mallow.notifications.service.notify`), **in the same transaction**;
* ``after_commit``: the stores with new deliveries get a ``notifications.deliver`` job, and each
  qualification decision a ``notifications.qualification_decided`` job (the decision is in the
  platform's schema, the notification in the store's: on SQLite another database);
* a rollback forgets everything noted: nothing is written, nothing is queued.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event as sa_event

from mallow.audit import AuditEntry
from mallow.db import db
from mallow.db.outcomes import outermost, outermost_ended
from mallow.db.session import TenantSession
from mallow.jobs import job
from mallow.money import fen_to_yuan
from mallow.notices import Notice
from mallow.notifications import delivery, service
from mallow.orders.models import Order, OrderEvent
from mallow.qualifications.models import Qualification
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.notifications")

EXTENSION = "mallow.notifications"
_NOTED = "mallow.notifications.noted"
_DECIDED = "mallow.notifications.decided"
ORDER_EVENTS = {"paid", "shipped", "refunded", "aftersale_requested"}
DECISIONS = {"qualification.approved": "approved", "qualification.rejected": "rejected"}
RECENT_DECISIONS = timedelta(days=3)


def _on(session) -> bool:
    return has_app_context() and bool(current_app.extensions.get(EXTENSION))


def _after_flush(session, _context) -> None:
    if not _on(session):
        return
    store = current_store()
    for row in session.new:
        if isinstance(row, OrderEvent) and row.kind in ORDER_EVENTS and store is not None:
            session.info.setdefault(_NOTED, []).append((store.id, "order", row.id, row.order_id, row.kind, row.detail))
        elif isinstance(row, Notice) and row.kind in ("low_stock", "qualification") and store is not None:
            session.info.setdefault(_NOTED, []).append((store.id, "notice", row.id, None, row.kind, row.detail))
        elif isinstance(row, AuditEntry) and row.action in DECISIONS and row.store_id and row.target:
            session.info.setdefault(_DECIDED, []).append(
                (row.store_id, row.target.rpartition(":")[2], DECISIONS[row.action])
            )


@outermost
def _before_commit(session) -> None:
    if not _on(session):
        return
    if not session.info.get(_NOTED) and not any(isinstance(row, (OrderEvent, Notice)) for row in session.new):
        return  # (rows added since the last flush are noted by the flush below)
    for _round in range(3):  # notifications written here may flush more rows; none of them are events
        session.flush()
        noted = session.info.pop(_NOTED, [])
        if not noted:
            return
        store = current_store()
        for item in noted:
            if store is None or item[0] != store.id:
                log.warning("a store event outlived its store context: %r", item[:5])
                continue
            try:
                with session.begin_nested():
                    _notify(item)
            except Exception:  # a notification must never cost the order its commit
                log.exception("notification of %s %s could not be written", item[1], item[4])


def _notify(item) -> None:
    _store_id, source, row_id, order_id, kind, detail = item
    detail = detail or {}
    if source == "notice":
        notice = db.session.get(Notice, row_id)
        if notice is None:
            return
        if kind == "low_stock":
            name = notice.message
            params = {"name": _sku_label(detail.get("sku_id")) or name, "stock": detail.get("stock", "")}
            service.notify_staff("low_stock", f"low_stock:{notice.id}", params)
        else:
            service.notify_staff(
                "qualification_expiring", f"qualification_notice:{notice.id}", {"message": notice.message}
            )
        return
    if db.session.get(OrderEvent, row_id) is None:
        return  # flushed in a savepoint that was rolled back (a plugin's guarded call): it never happened
    order = db.session.get(Order, order_id)
    if order is None:
        return
    if kind == "paid":
        service.notify_staff(
            "order_paid",
            f"order_paid:{order.id}",
            {"number": order.number, "total": fen_to_yuan(order.total), "order_id": order.id},
        )
    elif kind == "aftersale_requested":
        service.notify_staff(
            "aftersale_requested",
            f"aftersale:{detail.get('aftersale_id') or row_id}",
            {
                "number": order.number,
                "amount": fen_to_yuan(int(detail.get("amount") or 0)),
                "reason": str(detail.get("reason") or "")[:60],
                "order_id": order.id,
            },
        )
    elif kind == "shipped" and order.customer_id:
        service.notify(
            "order_shipped",
            "customer",
            [order.customer_id],
            f"order_shipped:{order.id}",
            {
                "number": order.number,
                "carrier": detail.get("carrier") or order.carrier,
                "tracking_number": detail.get("tracking_number") or order.tracking_number,
                "order_id": order.id,
            },
        )
    elif kind == "refunded" and order.customer_id:
        service.notify(
            "refund_done",
            "customer",
            [order.customer_id],
            f"refund:{detail.get('out_refund_no') or row_id}",
            {"number": order.number, "amount": fen_to_yuan(int(detail.get("amount") or 0)), "order_id": order.id},
        )


def _sku_label(sku_id) -> str | None:
    from mallow.catalog.models import Product, Sku

    sku = db.session.get(Sku, int(sku_id)) if sku_id else None
    product = db.session.get(Product, sku.product_id) if sku is not None else None
    return f"{product.title} {sku.spec_key}".strip() if product is not None else None


@outermost
def _after_commit(session) -> None:
    stores = session.info.pop(service.QUEUED, None)
    decided = session.info.pop(_DECIDED, None)
    session.info.pop(_NOTED, None)
    if not _on(session):
        return
    runner = current_app.extensions.get("mallow.jobs")
    if runner is None:
        return
    for store_id in sorted(stores or ()):
        runner.enqueue("notifications.deliver", store_id=store_id)
    for store_id, qualification_id, outcome in decided or ():
        if str(qualification_id).isdecimal():
            runner.enqueue(
                "notifications.qualification_decided",
                store_id=store_id,
                qualification_id=int(qualification_id),
                outcome=outcome,
            )


@outermost_ended  # a savepoint rolled back: the outer transaction still commits what it noted
def _forget(session, _previous) -> None:
    for key in (_NOTED, _DECIDED, service.QUEUED):
        session.info.pop(key, None)


def install(app) -> None:
    """Turn notifications on for ``app`` (the session listeners are shared, installed once)."""
    app.extensions[EXTENSION] = True
    for name, listener in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_commit", _after_commit),
        ("after_soft_rollback", _forget),
    ):
        if not sa_event.contains(TenantSession, name, listener):
            sa_event.listen(TenantSession, name, listener)


# --- qualification decisions (platform schema → the store's staff) ------------------------------


def notify_decision(qualification: Qualification, outcome: str) -> list:
    key = f"qualification:{qualification.id}:{outcome}"
    reason = (qualification.decision_reason or "")[:200]
    return service.notify_staff(f"qualification_{outcome}", key, {"reason": reason})


@job("notifications.qualification_decided", store=True, idempotent=True)
def qualification_decided(store, qualification_id: int, outcome: str):
    qualification = db.session.get(Qualification, int(qualification_id))
    if qualification is None or qualification.store_id != store.id or qualification.status != outcome:
        return 0
    made = notify_decision(qualification, outcome)
    db.session.commit()
    delivery.deliver_due(store, datetime.now(UTC))
    return len(made)


def notify_recent_decisions(store) -> int:
    """The decisions of the last days whose notification is missing (their job was lost)."""
    since = datetime.now(UTC) - RECENT_DECISIONS
    rows = db.session.execute(
        sa.select(Qualification).where(
            Qualification.store_id == store.id,
            Qualification.status.in_(("approved", "rejected")),
            Qualification.decided_at >= since,
        )
    ).scalars()
    made = 0
    for qualification in rows:
        made += len(notify_decision(qualification, qualification.status))
    db.session.commit()
    return made
