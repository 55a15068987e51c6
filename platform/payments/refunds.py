"""Giving money back: one refund path for after-sales, plugins and money that came too late.

:func:`refund` writes a refund with a unique ``out_refund_no`` (``<out_trade_no>R<nn>``) and sends
it; a timeout leaves it ``processing`` and the sweep sends it again with the same number
(:func:`submit_refund`) or asks about it (:func:`query_refund`). Refunds never exceed what was
paid, at most 50 per payment; ``order.refunded_total`` counts refunds of the payment that paid
the order, and when it reaches the total the order is ``closed``. On success
``mallow_order_refunded`` fires for plugins and :data:`mallow.payments.events.refund_succeeded`
for the domains above payments (after-sales).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.db import db, utcnow
from mallow.orders import service as orders
from mallow.orders.models import ORDER_STATES, Order, OrderEvent
from mallow.payments import events, providers, sandbox
from mallow.payments.attempts import PaymentProblem, lock_order, payment_by_out_trade_no
from mallow.payments.models import REFUND_STATES, Payment, Refund
from mallow.payments.notify_urls import notify_url
from mallow.payments.providers import ProviderError, ProviderUnavailable
from mallow.payments.wechatpay import NotificationRejected, check_refund
from mallow.payments.wechatpay.models import Refund as RefundResult
from mallow.plugins.manager import hooks
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.payments")

MAX_REFUNDS_PER_PAYMENT = 50  # WeChat Pay's limit
ACTIVE_REFUND_STATES = ("processing", "abnormal", "succeeded")  # money promised or gone


def primary_payment(order: Order) -> Payment | None:
    """The attempt that paid the order (named by its ``paid`` event)."""
    event = (
        db.session.execute(
            sa.select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.kind == "paid")
            .order_by(OrderEvent.id)
        )
        .scalars()
        .first()
    )
    out_trade_no = (event.detail or {}).get("out_trade_no") if event is not None else None
    return payment_by_out_trade_no(out_trade_no) if out_trade_no else None


def refundable(order: Order) -> int:
    """Fen that can still be refunded on the order (paid minus refunds promised or made)."""
    payment = primary_payment(order)
    if payment is None or payment.status != "paid":
        return 0
    promised = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status.in_(ACTIVE_REFUND_STATES)
        )
    ).scalar_one()
    return max(0, min(payment.amount, order.total) - int(promised))


def create_refund(
    order: Order, payment: Payment, amount: int, reason: str, actor: str, aftersale_id: int | None = None
) -> Refund:
    """Write a ``processing`` refund (not yet sent), checked under the order's lock."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise PaymentProblem("invalid_amount", _("Enter an amount in fen greater than zero."), 422)
    lock_order(order)
    db.session.refresh(payment)
    if payment.status != "paid":
        raise PaymentProblem("not_paid", _("This order has no payment to refund."))
    rows = db.session.execute(sa.select(Refund.amount, Refund.status).where(Refund.payment_id == payment.id)).all()
    if len(rows) >= MAX_REFUNDS_PER_PAYMENT:
        raise PaymentProblem(
            "too_many_refunds", _("An order can be refunded at most %(max)s times.", max=MAX_REFUNDS_PER_PAYMENT)
        )
    promised = sum(row.amount for row in rows if row.status in ACTIVE_REFUND_STATES)
    if promised + amount > payment.amount:
        raise PaymentProblem(
            "exceeds_paid",
            _("Refunds cannot exceed the amount paid (%(left)s fen left).", left=payment.amount - promised),
            422,
        )
    refund_row = Refund(
        order_id=order.id,
        payment_id=payment.id,
        aftersale_id=aftersale_id,
        out_refund_no=f"{payment.out_trade_no}R{len(rows) + 1:02d}",
        amount=amount,
        reason=(reason or "")[:80],
        status="processing",
    )
    db.session.add(refund_row)
    db.session.add(
        OrderEvent(
            order_id=order.id,
            kind="refund_requested",
            actor=actor,
            detail={"out_refund_no": refund_row.out_refund_no, "amount": amount, "reason": refund_row.reason},
        )
    )
    db.session.flush()
    return refund_row


def refund(
    order: Order, amount: int, reason: str, actor: str, *, aftersale_id: int | None = None, submit: bool = True
) -> Refund:
    """Refund ``amount`` fen of the order's payment. Commits the refund, then (``submit``) sends it
    to the provider; a timeout leaves it ``processing`` and the sweep retries it with the same
    ``out_refund_no``. Raises :class:`PaymentProblem` with nothing written."""
    payment = primary_payment(order)
    if payment is None:
        raise PaymentProblem("not_paid", _("This order has no payment to refund."))
    try:
        refund_row = create_refund(order, payment, amount, reason, actor, aftersale_id)
    except PaymentProblem:
        db.session.rollback()
        raise
    db.session.commit()
    if submit:
        submit_refund(refund_row)
    return refund_row


def _refund_provider(payment: Payment):
    """The provider that gives a payment's money back. A sandbox payment is refunded by the
    sandbox even where it can no longer take payments (the store went live): no money moves, and
    a test order must not be stuck with a refund that never ends."""
    if payment.provider == sandbox.NAME:
        return sandbox.SandboxProvider(current_store())
    return providers.get(payment.provider)


def submit_refund(refund_row: Refund) -> Refund:
    """Send (or send again, with the same ``out_refund_no``) a ``processing`` refund."""
    db.session.refresh(refund_row)
    if refund_row.status != "processing" or refund_row.provider_refund_id:
        return refund_row
    payment = db.session.get(Payment, refund_row.payment_id)
    try:
        provider = _refund_provider(payment)
        result = provider.refund(refund_row, payment, notify_url=notify_url(payment.provider))
    except ProviderUnavailable:
        return refund_row
    except ProviderError as exc:
        if exc.retryable:
            log.info("refund %s: no answer (%s), will retry with the same number", refund_row.out_refund_no, exc.code)
            return refund_row
        _close_refund(refund_row, f"provider:{payment.provider}", {"code": exc.code})
        db.session.commit()
        return refund_row
    try:
        check_refund(result, provider, refund_row.out_refund_no, refund_row.amount)
    except NotificationRejected as rejected:
        log.error(
            "refund %s: the provider's answer failed a check (%s)", refund_row.out_refund_no, rejected.reason_code
        )
        return refund_row
    apply_refund_result(refund_row, result, payment.provider)
    db.session.commit()
    return refund_row


def query_refund(refund_row: Refund) -> Refund:
    payment = db.session.get(Payment, refund_row.payment_id)
    try:
        provider = _refund_provider(payment)
        result = provider.query_refund(refund_row)
        check_refund(result, provider, refund_row.out_refund_no, refund_row.amount)
    except (ProviderUnavailable, ProviderError, NotificationRejected) as exc:
        if isinstance(exc, ProviderError) and exc.code in ("RESOURCE_NOT_EXISTS", "ORDER_NOT_EXIST"):
            refund_row.provider_refund_id = None  # never arrived: the sweep sends it again, same number
            db.session.commit()
        return refund_row
    apply_refund_result(refund_row, result, payment.provider)
    db.session.commit()
    return refund_row


def apply_refund_result(refund_row: Refund, result: RefundResult, provider_name: str) -> bool:
    """Apply the provider's word on a refund. True when it changed something."""
    changed = False
    if result.refund_id and refund_row.provider_refund_id != result.refund_id:
        refund_row.provider_refund_id = result.refund_id
        changed = True
    status = result.refund_status
    actor = f"provider:{provider_name}"
    if status == "SUCCESS":
        changed = _finish_refund(refund_row, actor) or changed
    elif status == "CLOSED":
        changed = _close_refund(refund_row, actor, {"refund_status": status}) or changed
    elif status == "ABNORMAL":
        if _set_refund_status(refund_row, "abnormal"):
            db.session.add(
                OrderEvent(
                    order_id=refund_row.order_id,
                    kind="refund_abnormal",
                    actor=actor,
                    detail={"out_refund_no": refund_row.out_refund_no},
                )
            )
            changed = True
    db.session.flush()
    return changed


def _set_refund_status(refund_row: Refund, target: str, **values) -> bool:
    sources = [s for s in REFUND_STATES.states if REFUND_STATES.can(s, target)]
    result = db.session.execute(
        sa.update(Refund)
        .where(Refund.id == refund_row.id, Refund.status.in_(sources))
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(refund_row)
    return result.rowcount == 1


def _close_refund(refund_row: Refund, actor: str, detail: dict) -> bool:
    if not _set_refund_status(refund_row, "closed", finished_at=utcnow()):
        return False
    db.session.add(
        OrderEvent(
            order_id=refund_row.order_id,
            kind="refund_failed",
            actor=actor,
            detail={"out_refund_no": refund_row.out_refund_no, "amount": refund_row.amount} | detail,
        )
    )
    return True


def _finish_refund(refund_row: Refund, actor: str) -> bool:
    """The money went back: count it on the order, close a fully refunded order, tell plugins."""
    if not _set_refund_status(refund_row, "succeeded", finished_at=utcnow()):
        return False
    order = db.session.get(Order, refund_row.order_id)
    lock_order(order)
    primary = primary_payment(order)
    counted = primary is not None and primary.id == refund_row.payment_id
    if counted:
        db.session.execute(
            sa.update(Order)
            .where(Order.id == order.id, Order.refunded_total + refund_row.amount <= Order.total)
            .values(refunded_total=Order.refunded_total + refund_row.amount)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(order)
    db.session.add(
        OrderEvent(
            order_id=order.id,
            kind="refunded",
            actor=actor,
            detail={
                "out_refund_no": refund_row.out_refund_no,
                "amount": refund_row.amount,
                "refunded_total": order.refunded_total,
                "counted": counted,
            },
        )
    )
    if counted and order.refunded_total >= order.total and ORDER_STATES.can(order.status, "closed"):
        orders.transition(order, "closed", "system", detail={"reason": "refunded"})
    hooks().mallow_order_refunded(order=order, refund=refund_row)
    events.send(events.refund_succeeded, refund=refund_row)
    return True
