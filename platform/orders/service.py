"""Moving orders through their state machine, with a timeline entry for every step.

Every transition is one conditional UPDATE (``… WHERE status = <expected>``), so two actors
racing (the unpaid timeout and a late payment notification, a double click) cannot both win:
exactly one changes the order, the other sees that it lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow import settings
from mallow.catalog.models import Product
from mallow.db import db
from mallow.inventory import stock
from mallow.orders import aftersales_requests
from mallow.orders.models import ORDER_STATES, Order, OrderEvent
from mallow.plugins.manager import hooks
from mallow.validation import ValidationFailed, text

TIMESTAMPS = {
    "paid": "paid_at",
    "shipped": "shipped_at",
    "delivered": "delivered_at",
    "completed": "completed_at",
    "cancelled": "ended_at",
    "closed": "ended_at",
}


def _now():
    return datetime.now(UTC)


def transition(
    order: Order, target: str, actor: str, kind: str | None = None, detail: dict | None = None, **values
) -> bool:
    """Move ``order`` to ``target`` if it is still where the state machine allows; returns
    False (and changes nothing) when another actor moved it first."""
    sources = [state for state in ORDER_STATES.states if ORDER_STATES.can(state, target)]
    values = dict(values, status=target)
    if target in TIMESTAMPS:
        values.setdefault(TIMESTAMPS[target], _now())
    result = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status.in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    if result.rowcount != 1:
        return False
    db.session.add(OrderEvent(order_id=order.id, kind=kind or target, actor=actor, detail=detail or {}))
    return True


def cancel(order: Order, actor: str, reason: str) -> bool:
    """Cancel an unpaid order and give its stock back (once)."""
    if order.status != "pending_payment" or not transition(order, "cancelled", actor, detail={"reason": reason}):
        return False
    for line in order.lines:
        stock.release(line.sku_id, line.quantity, order.id)
    hooks().mallow_order_cancelled(order=order, reason=reason)
    return True


def mark_paid(order: Order, actor: str, detail: dict, *, test: bool = False) -> bool:
    """The payment was verified: pending → paid. False if the order was no longer pending.

    ``test``: paid by a provider that moves no money (the sandbox). The order is marked a test
    order (``is_test``) in the same UPDATE, so plugins see it in ``mallow_order_paid``; a real
    order's units count in its products' ``sales``, a test order's never do."""
    if not transition(order, "paid", actor, detail=detail, is_test=bool(test)):
        return False
    if not order.is_test:
        _count_sales(order)
    hooks().mallow_order_paid(order=order)
    return True


def _count_sales(order: Order) -> None:
    """Add a paid order's units to its products' ``sales`` (best sellers), once: only the
    transition to paid calls this. Products in id order, so two payments never deadlock."""
    units: dict[int, int] = {}
    for line in order.lines:
        units[line.product_id] = units.get(line.product_id, 0) + int(line.quantity)
    for product_id, quantity in sorted(units.items()):
        db.session.execute(
            sa.update(Product)
            .where(Product.id == product_id)
            .values(sales=Product.sales + quantity)
            .execution_options(synchronize_session=False)
        )


def ship(order: Order, staff_actor: str, data) -> Order:
    carrier, tracking = text(data, "carrier", 40), text(data, "tracking_number", 64)
    problems = {}
    if not carrier:
        problems["carrier"] = ("required", _("Enter the carrier."))
    if not tracking:
        problems["tracking_number"] = ("required", _("Enter the tracking number."))
    if problems:
        raise ValidationFailed(problems)
    ORDER_STATES.check(order.status, "shipped")
    if not transition(
        order,
        "shipped",
        staff_actor,
        detail={"carrier": carrier, "tracking_number": tracking},
        carrier=carrier,
        tracking_number=tracking,
    ):
        ORDER_STATES.check(order.status, "shipped")  # raises with the state it moved to
    db.session.commit()
    return order


def confirm_delivery(order: Order, actor: str) -> Order:
    ORDER_STATES.check(order.status, "delivered")
    transition(order, "delivered", actor)
    db.session.commit()
    return order


def complete(order: Order, actor: str = "system", **values) -> bool:
    if not transition(order, "completed", actor, **values):
        return False
    hooks().mallow_order_completed(order=order)
    return True


def add_note(order: Order, staff_actor: str, note: str) -> Order:
    order.merchant_note = (note or "").strip()[:500]
    db.session.add(OrderEvent(order_id=order.id, kind="note", actor=staff_actor, detail={"note": order.merchant_note}))
    db.session.commit()
    return order


def sweep(now: datetime | None = None) -> dict:
    """The store's timers, each a conditional transition by ``system`` (idempotent; run by a
    periodic job): close unpaid orders past their deadline (stock back); confirm receipt of
    orders shipped ``auto_confirm_receipt_days`` ago (自动确认收货); complete delivered orders
    after ``auto_complete_days``. Both wait while the order has an after-sales request in progress."""
    now = now or _now()
    closed = confirmed = completed = 0
    for order in (
        db.session.execute(sa.select(Order).where(Order.status == "pending_payment", Order.pay_deadline <= now))
        .scalars()
        .all()
    ):
        closed += cancel(order, "system", "payment_timeout")
    days = int(settings.get("auto_confirm_receipt_days"))
    for order in _due("shipped", Order.shipped_at, now - timedelta(days=days)):
        confirmed += transition(
            order, "delivered", "system", kind="auto_delivered", detail={"after_days": days}, delivered_at=now
        )
    for order in _due("delivered", Order.delivered_at, now - timedelta(days=int(settings.get("auto_complete_days")))):
        completed += complete(order, completed_at=now)
    db.session.commit()
    return {"closed": closed, "confirmed": confirmed, "completed": completed}


def _due(status: str, since, cutoff: datetime) -> list[Order]:
    """Orders in ``status`` since ``cutoff`` or earlier, without an after-sales request in progress."""
    return list(
        db.session.execute(
            sa.select(Order)
            .where(Order.status == status, since <= cutoff, ~aftersales_requests.in_progress())
            .order_by(Order.id)
        ).scalars()
    )


def shorten_pay_deadline(order: Order, deadline: datetime) -> None:
    """Bring an unpaid order's payment deadline forward to ``deadline`` (a group that closes
    sooner, a sale's shorter window); never later than the shopper was told. The caller commits."""
    if order.status != "pending_payment":
        raise ValidationFailed({"order": ("not_payable", _("This order is not waiting for payment."))})
    current = order.pay_deadline if order.pay_deadline.tzinfo else order.pay_deadline.replace(tzinfo=UTC)
    order.pay_deadline = min(current, deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC))
