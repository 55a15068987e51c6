"""Asking the providers: the active query of unpaid attempts, and the store's periodic sweep.

:func:`query_payment` is the query the sweep makes for attempts older than
``MALLOW_PAYMENT_QUERY_AFTER_MINUTES`` (WeChat Pay does not guarantee notifications); the sweep
also sends again the refunds the provider never acknowledged and asks about those still
processing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from mallow.db import db, utcnow
from mallow.orders.models import Order
from mallow.payments import providers
from mallow.payments.attempts import aware, set_payment_status
from mallow.payments.models import Payment, Refund
from mallow.payments.notifications import accept_payment_result, after_commit, discard_pending_refunds, log_notification
from mallow.payments.providers import ProviderError, ProviderUnavailable
from mallow.payments.refunds import query_refund, submit_refund
from mallow.payments.wechatpay import NotificationRejected


def query_payment(payment: Payment) -> str:
    """Ask the provider about an unpaid attempt and act on the answer; returns what happened:
    ``paid``, ``refund`` (money for an order no longer pending), ``duplicate``, ``closed``,
    ``failed``, ``pending``, ``unknown`` (no answer) or ``rejected`` (the answer failed a check)."""
    try:
        provider = providers.get(payment.provider)
        result = provider.query_payment(payment)
    except ProviderUnavailable:
        # nobody can answer (the sandbox once the store went live, a provider turned off): an
        # attempt whose order stopped waiting is closed here, so it is not asked about forever
        return _close_if_abandoned(payment, None, remote_missing=True)
    except ProviderError as exc:
        if exc.code in ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"):
            return _close_if_abandoned(payment, provider, remote_missing=True)
        return "unknown"
    state = result.trade_state
    if state in ("SUCCESS", "REFUND"):
        if state == "REFUND":
            result = _as_success(result)
        try:
            reason = accept_payment_result(provider, result, via="query")
        except NotificationRejected as rejected:
            db.session.rollback()
            discard_pending_refunds()
            log_notification(
                payment.provider,
                False,
                rejected.reason_code,
                payment.out_trade_no,
                {"via": "query", "message": rejected.message[:300]},
            )
            db.session.commit()
            return "rejected"
        db.session.commit()
        after_commit()
        return {"": "paid", "refund": "refund", "duplicate": "duplicate"}[reason]
    if state in ("CLOSED", "REVOKED"):
        set_payment_status(payment, "closed")
        db.session.commit()
        return "closed"
    if state == "PAYERROR":
        set_payment_status(payment, "failed")
        db.session.commit()
        return "failed"
    return _close_if_abandoned(payment, provider)


def _as_success(result):
    return replace(result, trade_state="SUCCESS")  # paid, then (partly) refunded at the provider


def _close_if_abandoned(payment: Payment, provider, remote_missing: bool = False) -> str:
    """An unpaid attempt whose order stopped waiting (cancelled, paid otherwise, past its
    deadline) is closed at the provider, then here."""
    order = db.session.get(Order, payment.order_id)
    if order.status == "pending_payment" and aware(order.pay_deadline) > utcnow():
        return "pending"
    if not remote_missing:
        try:
            provider.close_payment(payment)
        except ProviderError as exc:
            if exc.code == "ORDERPAID":  # paid a moment ago: the notification or the next query brings it
                return "pending"
            if exc.retryable:
                return "unknown"
    set_payment_status(payment, "closed")
    db.session.commit()
    return "closed"


def sweep(now: datetime | None = None) -> dict:
    """Query unpaid attempts older than ``MALLOW_PAYMENT_QUERY_AFTER_MINUTES`` (default 5), send
    again the refunds the provider never acknowledged (same ``out_refund_no``), and query those
    still processing. Idempotent."""
    now = now or utcnow()
    minutes = int(current_app.config.get("MALLOW_PAYMENT_QUERY_AFTER_MINUTES", 5))
    cutoff = now - timedelta(minutes=minutes)
    counts = {"queried": 0, "paid": 0, "closed": 0, "refunds_sent": 0, "refunds_queried": 0}
    attempts = (
        db.session.execute(
            sa.select(Payment)
            .where(Payment.status == "created", Payment.created_at <= cutoff)
            .order_by(Payment.id)
            .limit(500)
        )
        .scalars()
        .all()
    )
    for payment in attempts:
        outcome = query_payment(payment)
        counts["queried"] += 1
        counts["paid"] += outcome in ("paid", "refund")
        counts["closed"] += outcome == "closed"
    unsent = (
        db.session.execute(
            sa.select(Refund)
            .where(Refund.status == "processing", Refund.provider_refund_id.is_(None))
            .order_by(Refund.id)
            .limit(500)
        )
        .scalars()
        .all()
    )
    for refund_row in unsent:
        submit_refund(refund_row)
        counts["refunds_sent"] += 1
    waiting = (
        db.session.execute(
            sa.select(Refund)
            .where(Refund.status == "processing", Refund.provider_refund_id.is_not(None), Refund.created_at <= cutoff)
            .order_by(Refund.id)
            .limit(500)
        )
        .scalars()
        .all()
    )
    for refund_row in waiting:
        query_refund(refund_row)
        counts["refunds_queried"] += 1
    db.session.commit()
    return counts
