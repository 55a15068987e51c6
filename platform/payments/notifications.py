"""Accepting a provider's notification, and applying a verified payment result.

:func:`accept_notification`: verify (provider) → log every notification in
``payment_notifications``, accepted or not and why (rejected ones counted on one row per
provider, reason and order within a window, so a flood stays small) → business checks (this
store's order, mchid, appid, amount, currency, SUCCESS) → one conditional UPDATE of the attempt
(unique ``transaction_id``) → :func:`mallow.orders.service.mark_paid` (a test order when the
provider is not ``live``: the sandbox). A replay answers success and changes nothing. Money for
an order that is no longer pending (closed by the unpaid timeout, or paid by another attempt) is
recorded and refunded in full automatically (by a job, after the commit).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.exc import IntegrityError

from mallow.db import db, utcnow
from mallow.observability.metrics import payment_notification
from mallow.orders import service as orders
from mallow.orders.models import Order, OrderEvent
from mallow.payments import providers
from mallow.payments.attempts import lock_order, payment_by_out_trade_no
from mallow.payments.models import Payment, PaymentNotification, Refund
from mallow.payments.providers import ProviderUnavailable
from mallow.payments.refunds import apply_refund_result, create_refund
from mallow.payments.wechatpay import NotificationRejected, RejectionReason, check_payment, check_refund
from mallow.payments.wechatpay.models import Refund as RefundResult
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.payments")

MAX_NOTIFICATION_BYTES = 64 * 1024


@dataclass(frozen=True)
class NotifyOutcome:
    """What to answer the provider: 204 with no body on success, 4xx/5xx with
    ``{"code": "FAIL", "message": …}`` otherwise (details go to the log, not to the caller)."""

    status: int
    accepted: bool
    reason: str

    @property
    def body(self) -> bytes:
        if self.accepted:
            return b""
        return json.dumps({"code": "FAIL", "message": self.reason or "rejected"}).encode()


def log_notification(provider_name: str, accepted: bool, reason: str, out_trade_no: str | None, detail: dict) -> None:
    """Record a notification in ``payment_notifications``. Each accepted one is its own row.
    Rejected ones are bounded: those with the same provider, reason and ``out_trade_no`` that
    arrive within ``MALLOW_NOTIFICATION_LOG_WINDOW_SECONDS`` (default 300) of the first are
    counted on its row (``count``, ``last_seen_at``), so a flood of forged notifications adds
    one row per reason and window, not one per request. (The log line stays for each.)"""
    provider_name, reason = provider_name[:16], str(reason)[:40]
    payment_notification(provider_name, accepted, reason)  # mallow_payment_notifications_total
    out_trade_no = (out_trade_no or None) and str(out_trade_no)[:32]
    now = utcnow()
    if not accepted:
        window = timedelta(seconds=int(current_app.config.get("MALLOW_NOTIFICATION_LOG_WINDOW_SECONDS", 300)))
        same = (
            PaymentNotification.out_trade_no.is_(None)
            if out_trade_no is None
            else PaymentNotification.out_trade_no == out_trade_no
        )
        row_id = db.session.execute(
            sa.select(PaymentNotification.id)
            .where(
                PaymentNotification.accepted.is_(False),
                PaymentNotification.provider == provider_name,
                PaymentNotification.reason == reason,
                same,
                PaymentNotification.received_at >= now - window,
            )
            .order_by(PaymentNotification.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row_id is not None:
            db.session.execute(
                sa.update(PaymentNotification)
                .where(PaymentNotification.id == row_id)
                .values(count=PaymentNotification.count + 1, last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
            return
    db.session.add(
        PaymentNotification(
            provider=provider_name,
            accepted=accepted,
            reason=reason,
            out_trade_no=out_trade_no,
            detail=detail,
            received_at=now,
            last_seen_at=now,
            count=1,
        )
    )


def accept_notification(provider_name: str, body: bytes, headers) -> NotifyOutcome:
    """Handle one notification posted to this store's notify URL (the store comes from the path)."""
    if len(body) > MAX_NOTIFICATION_BYTES:
        log_notification(provider_name, False, "too_large", None, {"bytes": len(body)})
        db.session.commit()
        return NotifyOutcome(413, False, "too_large")
    try:
        provider = providers.get(provider_name)
    except ProviderUnavailable:
        log_notification(provider_name, False, "provider_unavailable", None, {})
        db.session.commit()
        return NotifyOutcome(404, False, "provider_unavailable")
    try:
        result = provider.parse_notification(body, headers)
    except NotificationRejected as rejected:
        log_notification(provider_name, False, rejected.reason_code, None, {"message": rejected.message[:300]})
        db.session.commit()
        log.warning("%s notification rejected: %s", provider_name, rejected.reason_code)
        return NotifyOutcome(
            401 if rejected.reason_code in _SIGNATURE_REASONS else 400, False, str(rejected.reason_code)
        )
    except Exception:  # noqa: BLE001 -- fail closed, and keep the trace for the operator
        log.exception("%s notification could not be verified", provider_name)
        db.session.rollback()
        log_notification(provider_name, False, "error", None, {})
        db.session.commit()
        return NotifyOutcome(500, False, "error")

    event = {
        "event_type": getattr(result, "event_type", None),
        "notification_id": getattr(result, "notification_id", None),
    }
    try:
        if isinstance(result, RefundResult):
            reason = _accept_refund_result(provider, result, via="notification")
            out_trade_no = result.out_trade_no
            detail = event | {"out_refund_no": result.out_refund_no, "refund_status": result.refund_status}
        else:
            reason = accept_payment_result(provider, result, via="notification")
            out_trade_no = result.out_trade_no
            detail = event | {"transaction_id": result.transaction_id, "trade_state": result.trade_state}
    except NotificationRejected as rejected:
        db.session.rollback()
        discard_pending_refunds()
        log_notification(
            provider_name,
            False,
            rejected.reason_code,
            getattr(result, "out_trade_no", None),
            event | {"message": rejected.message[:300]},
        )
        db.session.commit()
        log.warning("%s notification refused by the business checks: %s", provider_name, rejected.reason_code)
        return NotifyOutcome(400, False, str(rejected.reason_code))
    except Exception:  # noqa: BLE001 -- nothing half-done is kept; the provider retries later
        log.exception("%s notification could not be applied", provider_name)
        db.session.rollback()
        discard_pending_refunds()
        log_notification(provider_name, False, "error", getattr(result, "out_trade_no", None), event)
        db.session.commit()
        return NotifyOutcome(500, False, "error")
    log_notification(provider_name, True, reason, out_trade_no, detail)
    db.session.commit()
    after_commit()
    return NotifyOutcome(204, True, reason)


_SIGNATURE_REASONS = {
    RejectionReason.MISSING_HEADER,
    RejectionReason.DUPLICATE_HEADER,
    RejectionReason.BAD_SIGNATURE_TYPE,
    RejectionReason.BAD_TIMESTAMP,
    RejectionReason.STALE_TIMESTAMP,
    RejectionReason.UNKNOWN_SERIAL,
    RejectionReason.BAD_SIGNATURE,
}


def accept_payment_result(provider, result, *, via: str) -> str:
    """Apply a verified payment result (notification or query). Returns ``""`` when it changed
    something, ``"duplicate"`` for a replay; raises :class:`NotificationRejected` otherwise."""
    payment = payment_by_out_trade_no(result.out_trade_no)
    if payment is None or payment.provider != provider.name:
        raise NotificationRejected(
            RejectionReason.WRONG_ORDER, "no payment attempt of this store has this out_trade_no"
        )
    check_payment(result, provider, payment.out_trade_no, payment.amount)  # mchid, appid, amount, CNY, SUCCESS
    if not result.transaction_id:
        raise NotificationRejected(RejectionReason.BAD_PAYLOAD, "the transaction_id is missing")
    order = db.session.get(Order, payment.order_id)
    lock_order(order)
    try:
        with db.session.begin_nested():
            changed = db.session.execute(
                sa.update(Payment)
                .where(Payment.id == payment.id, Payment.status.in_(("created", "closed")))
                .values(
                    status="paid",
                    transaction_id=result.transaction_id,
                    paid_at=utcnow(),
                    payer_openid=sa.func.coalesce(Payment.payer_openid, result.payer_openid),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
    except IntegrityError:
        raise NotificationRejected("wrong_order", "this transaction_id paid another attempt already") from None
    db.session.refresh(payment)
    if not changed:
        if payment.status == "paid" and payment.transaction_id == result.transaction_id:
            return "duplicate"
        raise NotificationRejected(RejectionReason.WRONG_ORDER, f"the attempt is {payment.status}, not payable")
    db.session.refresh(order)
    detail = {
        "provider": provider.name,
        "out_trade_no": payment.out_trade_no,
        "transaction_id": payment.transaction_id,
        "amount": payment.amount,
        "via": via,
    }
    test = not getattr(provider, "live", True)  # the sandbox: no money moved, a test order
    if test:
        detail["test"] = True
    if orders.mark_paid(order, f"provider:{provider.name}", detail, test=test):
        return ""
    # Money arrived for an order that is no longer waiting for it: record it, give it back.
    kind = "late_payment" if order.status == "cancelled" else "surplus_payment"
    db.session.add(
        OrderEvent(
            order_id=order.id,
            kind=kind,
            actor=f"provider:{provider.name}",
            detail=detail | {"order_status": order.status},
        )
    )
    refund_row = create_refund(order, payment, payment.amount, kind, "system")
    pending_refunds().append(refund_row)
    return "refund"


def pending_refunds() -> list:
    return g.setdefault("mallow_refunds_to_submit", [])


def discard_pending_refunds() -> None:
    g.pop("mallow_refunds_to_submit", None)


def after_commit() -> None:
    """Refunds started while accepting a notification are sent by a job (answer within 5 s).
    Queuing never raises; a lost job is made good by the sweep (unsent refunds go out again)."""
    pending = g.pop("mallow_refunds_to_submit", [])
    store = current_store()
    for refund_row in pending:
        current_app.extensions["mallow.jobs"].enqueue(
            "payments.submit_refund", store_id=store.id, refund_id=refund_row.id
        )


def _accept_refund_result(provider, result: RefundResult, *, via: str) -> str:
    refund_row = db.session.execute(
        sa.select(Refund).where(Refund.out_refund_no == result.out_refund_no)
    ).scalar_one_or_none()
    payment = db.session.get(Payment, refund_row.payment_id) if refund_row is not None else None
    if refund_row is None or payment is None or payment.provider != provider.name:
        raise NotificationRejected(RejectionReason.WRONG_REFUND, "no refund of this store has this out_refund_no")
    if result.out_trade_no != payment.out_trade_no:
        raise NotificationRejected(RejectionReason.WRONG_ORDER, "the refund names another payment")
    check_refund(result, provider, refund_row.out_refund_no, refund_row.amount)
    return "" if apply_refund_result(refund_row, result, provider.name) else "duplicate"
