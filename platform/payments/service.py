"""Paying orders and giving money back: the rules, the same for every provider.

* :func:`pay_order` -- one *attempt* (:class:`~mallow.payments.models.Payment`) per try, each with
  its own ``out_trade_no`` (``<order number>P<nn>``); at most one active attempt per order (a
  retry reuses it, so a timed-out creation is retried with the same number; switching provider,
  payer or WeChat Pay scene -- :mod:`mallow.payments.scenes` -- closes the old one); amount = the
  order's total.
* :func:`accept_notification` -- verify (provider) → log every notification in
  ``payment_notifications``, accepted or not and why (rejected ones counted on one row per
  provider, reason and order within a window, so a flood stays small) → business checks (this
  store's order, mchid, appid, amount, currency, SUCCESS) → one conditional UPDATE of the
  attempt (unique ``transaction_id``) → :func:`mallow.orders.service.mark_paid` (a test order
  when the provider is not ``live``: the sandbox). A replay answers success and changes nothing.
  Money for an order that is no longer pending (closed by the unpaid timeout, or paid by another
  attempt) is recorded and refunded in full automatically.
* :func:`query_payment` -- the active query the periodic sweep makes for attempts older than
  ``MALLOW_PAYMENT_QUERY_AFTER_MINUTES`` (WeChat Pay does not guarantee notifications).
* :func:`refund` -- a unique ``out_refund_no`` per refund (``<out_trade_no>R<nn>``), retried
  with the same number after a timeout; refunds never exceed what was paid, at most 50 per
  payment; ``order.refunded_total`` counts refunds of the payment that paid the order, and when
  it reaches the total the order is ``closed``. ``mallow_order_refunded`` fires on success.

Locking: every decision about an order's money first takes the order's row (a no-op conditional
UPDATE: a row lock on PostgreSQL, the write lock on SQLite), so two requests cannot both pass a
check and both write. Provider calls (network) are made after the commit, never inside the lock.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mallow.db import db
from mallow.orders import service as orders
from mallow.orders.models import ORDER_STATES, Order, OrderEvent
from mallow.payments import providers, scenes
from mallow.payments.models import PAYMENT_STATES, Payment, PaymentNotification, Refund
from mallow.payments.providers import PaymentStart, ProviderError, ProviderUnavailable
from mallow.payments.wechatpay import NotificationRejected, RejectionReason, check_payment, check_refund
from mallow.payments.wechatpay.models import Refund as RefundResult
from mallow.plugins.manager import hooks
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.payments")

MAX_ATTEMPTS_PER_ORDER = 20
MAX_REFUNDS_PER_PAYMENT = 50  # WeChat Pay's limit
MAX_NOTIFICATION_BYTES = 64 * 1024
ACTIVE_REFUND_STATES = ("processing", "abnormal", "succeeded")  # money promised or gone


class PaymentProblem(Exception):
    """A payment or refund cannot be made: ``code`` for machines, ``message`` for people,
    ``status`` the HTTP status the API answers with. Nothing was written."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def _lock_order(order: Order) -> None:
    """Take the order's row for the rest of the transaction."""
    db.session.execute(sa.update(Order).where(Order.id == order.id).values(refunded_total=Order.refunded_total)
                       .execution_options(synchronize_session=False))


def notify_url(provider_name: str) -> str | None:
    """The https URL the provider posts notifications to: the store is in the path, nothing in
    the query string. ``MALLOW_PUBLIC_URL`` (e.g. ``https://mall.example.com``) when set, else the
    host of the current request."""
    store = current_store()
    base = current_app.config.get("MALLOW_PUBLIC_URL")
    if not base and has_request_context():
        base = "https://" + request.host
    if not base or store is None:
        return None
    return f"{base.rstrip('/')}/s/{store.slug}/api/payments/{provider_name}/notify"


def _description(order: Order) -> str:
    store = current_store()
    return f"{store.name if store else ''} {order.number}".strip()[:127]


# ---------------------------------------------------------------------------------------------
# Paying

def pay_order(order: Order, provider_name: str, *, customer=None, scene: str | None = None,
              client_ip: str | None = None) -> tuple[Payment | None, PaymentStart]:
    """Start paying ``order`` with ``provider_name``; returns the attempt and what the client needs.

    Raises :class:`PaymentProblem`. ``scene`` (WeChat Pay): ``jsapi`` (inside WeChat, needs the
    shopper's openid), ``h5`` (a phone's browser) or ``native`` (a QR code for a desktop browser);
    by default JSAPI when the shopper's openid is known, else H5.
    """
    if order.status != "pending_payment":
        raise PaymentProblem("not_payable", _("This order is not awaiting payment."))
    if _aware(order.pay_deadline) <= _now():
        raise PaymentProblem("expired", _("The time to pay this order is over."))
    if order.total <= 0:  # nothing to pay: no provider is involved
        _lock_order(order)
        orders.mark_paid(order, "system", {"reason": "zero_total"})
        db.session.commit()
        return None, PaymentStart("paid")
    try:
        provider = providers.get(provider_name)  # the sandbox: only where sandbox.availability() allows
    except ProviderUnavailable as unavailable:
        raise PaymentProblem("provider_unavailable",
                             unavailable.message or _("This payment method is not available."), 422) from None
    payer_openid = None
    if provider_name == "wechatpay" and scene not in ("h5", "native"):
        payer_openid = getattr(customer, "wechat_openid", None)
        if scene == "jsapi" and not payer_openid:
            raise PaymentProblem("openid_required", _("Open the store in WeChat and sign in with WeChat first."), 422)

    _lock_order(order)
    db.session.refresh(order)
    if order.status != "pending_payment":
        db.session.rollback()
        raise PaymentProblem("not_payable", _("This order is not awaiting payment."))
    attempts = db.session.execute(sa.select(Payment).where(Payment.order_id == order.id)
                                  .order_by(Payment.id)).scalars().all()
    wanted_scene = scenes.attempt_scene(provider_name, scene, payer_openid)
    open_scenes = scenes.recorded_scenes(a for a in attempts if a.status == "created")
    payment, superseded = None, []
    for attempt in attempts:
        if attempt.status != "created":
            continue
        if (payment is None and attempt.provider == provider_name and attempt.payer_openid == payer_openid
                and open_scenes[attempt.id] == wanted_scene and attempt.amount == order.total):
            payment = attempt  # a retry: the same out_trade_no, never a new one for the same try
        else:
            attempt.status = "closed"
            superseded.append(attempt)
    if payment is None:
        if len(attempts) >= MAX_ATTEMPTS_PER_ORDER:
            db.session.rollback()
            raise PaymentProblem("too_many_attempts", _("Too many payment attempts for this order."))
        payment = Payment(order_id=order.id, provider=provider_name,
                          out_trade_no=f"{order.number}P{len(attempts) + 1:02d}", amount=order.total,
                          status="created", payer_openid=payer_openid)
        db.session.add(payment)
        started = {"provider": provider_name, "out_trade_no": payment.out_trade_no, "amount": payment.amount}
        db.session.add(OrderEvent(order_id=order.id, kind="payment_started", actor=_shopper_actor(order),
                                  detail=started | ({"scene": wanted_scene} if wanted_scene else {})))
    db.session.commit()

    for old in superseded:  # best effort: a payment that still arrives is accepted or refunded
        try:
            providers.get(old.provider).close_payment(old)
        except (ProviderError, ProviderUnavailable) as exc:
            log.info("closing attempt %s failed: %s", old.out_trade_no, exc)
    try:
        start = provider.create_payment(payment, order, description=_description(order),
                                        notify_url=notify_url(provider_name), payer_openid=payer_openid,
                                        client_ip=client_ip, scene=scene)
    except ProviderError as exc:
        if exc.retryable:  # unknown outcome: keep the attempt, the next try reuses its number
            raise PaymentProblem("provider_unavailable", _("The payment service did not answer. Try again."),
                                 503) from exc
        _set_payment_status(payment, "failed")
        db.session.add(OrderEvent(order_id=order.id, kind="payment_failed", actor=f"provider:{provider_name}",
                                  detail={"out_trade_no": payment.out_trade_no, "code": exc.code}))
        db.session.commit()
        raise PaymentProblem("provider_refused", _("The payment service refused this payment."), 502) from exc
    return payment, start


def cancel_attempt(payment: Payment) -> bool:
    """The payer gave up this attempt (e.g. *Cancel* at the cashier); the order still waits."""
    if not _set_payment_status(payment, "closed"):
        return False
    db.session.add(OrderEvent(order_id=payment.order_id, kind="payment_cancelled", actor="payer",
                              detail={"provider": payment.provider, "out_trade_no": payment.out_trade_no}))
    db.session.commit()
    return True


def _shopper_actor(order: Order) -> str:
    return f"shopper:{order.customer_id}"


def _set_payment_status(payment: Payment, target: str) -> bool:
    sources = [s for s in PAYMENT_STATES.states if PAYMENT_STATES.can(s, target)]
    result = db.session.execute(sa.update(Payment).where(Payment.id == payment.id, Payment.status.in_(sources))
                                .values(status=target).execution_options(synchronize_session=False))
    db.session.refresh(payment)
    return result.rowcount == 1


# ---------------------------------------------------------------------------------------------
# Notifications

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


def _log_notification(provider_name: str, accepted: bool, reason: str, out_trade_no: str | None,
                      detail: dict) -> None:
    """Record a notification in ``payment_notifications``. Each accepted one is its own row.
    Rejected ones are bounded: those with the same provider, reason and ``out_trade_no`` that
    arrive within ``MALLOW_NOTIFICATION_LOG_WINDOW_SECONDS`` (default 300) of the first are
    counted on its row (``count``, ``last_seen_at``), so a flood of forged notifications adds
    one row per reason and window, not one per request. (The log line stays for each.)"""
    provider_name, reason = provider_name[:16], str(reason)[:40]
    out_trade_no = (out_trade_no or None) and str(out_trade_no)[:32]
    now = _now()
    if not accepted:
        window = timedelta(seconds=int(current_app.config.get("MALLOW_NOTIFICATION_LOG_WINDOW_SECONDS", 300)))
        same = (PaymentNotification.out_trade_no.is_(None) if out_trade_no is None
                else PaymentNotification.out_trade_no == out_trade_no)
        row_id = db.session.execute(
            sa.select(PaymentNotification.id).where(PaymentNotification.accepted.is_(False),
                                                    PaymentNotification.provider == provider_name,
                                                    PaymentNotification.reason == reason, same,
                                                    PaymentNotification.received_at >= now - window)
            .order_by(PaymentNotification.id.desc()).limit(1)).scalar_one_or_none()
        if row_id is not None:
            db.session.execute(sa.update(PaymentNotification).where(PaymentNotification.id == row_id)
                               .values(count=PaymentNotification.count + 1, last_seen_at=now)
                               .execution_options(synchronize_session=False))
            return
    db.session.add(PaymentNotification(provider=provider_name, accepted=accepted, reason=reason,
                                       out_trade_no=out_trade_no, detail=detail, received_at=now,
                                       last_seen_at=now, count=1))


def accept_notification(provider_name: str, body: bytes, headers) -> NotifyOutcome:
    """Handle one notification posted to this store's notify URL (the store comes from the path)."""
    if len(body) > MAX_NOTIFICATION_BYTES:
        _log_notification(provider_name, False, "too_large", None, {"bytes": len(body)})
        db.session.commit()
        return NotifyOutcome(413, False, "too_large")
    try:
        provider = providers.get(provider_name)
    except ProviderUnavailable:
        _log_notification(provider_name, False, "provider_unavailable", None, {})
        db.session.commit()
        return NotifyOutcome(404, False, "provider_unavailable")
    try:
        result = provider.parse_notification(body, headers)
    except NotificationRejected as rejected:
        _log_notification(provider_name, False, rejected.reason_code, None, {"message": rejected.message[:300]})
        db.session.commit()
        log.warning("%s notification rejected: %s", provider_name, rejected.reason_code)
        return NotifyOutcome(401 if rejected.reason_code in _SIGNATURE_REASONS else 400, False,
                             str(rejected.reason_code))
    except Exception:  # noqa: BLE001 -- fail closed, and keep the trace for the operator
        log.exception("%s notification could not be verified", provider_name)
        db.session.rollback()
        _log_notification(provider_name, False, "error", None, {})
        db.session.commit()
        return NotifyOutcome(500, False, "error")

    event = {"event_type": getattr(result, "event_type", None),
             "notification_id": getattr(result, "notification_id", None)}
    try:
        if isinstance(result, RefundResult):
            reason = _accept_refund_result(provider, result, via="notification")
            out_trade_no = result.out_trade_no
            detail = event | {"out_refund_no": result.out_refund_no, "refund_status": result.refund_status}
        else:
            reason = _accept_payment_result(provider, result, via="notification")
            out_trade_no = result.out_trade_no
            detail = event | {"transaction_id": result.transaction_id, "trade_state": result.trade_state}
    except NotificationRejected as rejected:
        db.session.rollback()
        _discard_pending_refunds()
        _log_notification(provider_name, False, rejected.reason_code, getattr(result, "out_trade_no", None),
                          event | {"message": rejected.message[:300]})
        db.session.commit()
        log.warning("%s notification refused by the business checks: %s", provider_name, rejected.reason_code)
        return NotifyOutcome(400, False, str(rejected.reason_code))
    except Exception:  # noqa: BLE001 -- nothing half-done is kept; the provider retries later
        log.exception("%s notification could not be applied", provider_name)
        db.session.rollback()
        _discard_pending_refunds()
        _log_notification(provider_name, False, "error", getattr(result, "out_trade_no", None), event)
        db.session.commit()
        return NotifyOutcome(500, False, "error")
    _log_notification(provider_name, True, reason, out_trade_no, detail)
    db.session.commit()
    _after_commit()
    return NotifyOutcome(204, True, reason)


_SIGNATURE_REASONS = {RejectionReason.MISSING_HEADER, RejectionReason.DUPLICATE_HEADER,
                      RejectionReason.BAD_SIGNATURE_TYPE, RejectionReason.BAD_TIMESTAMP,
                      RejectionReason.STALE_TIMESTAMP, RejectionReason.UNKNOWN_SERIAL, RejectionReason.BAD_SIGNATURE}


def _payment_by_out_trade_no(out_trade_no: str) -> Payment | None:
    return db.session.execute(sa.select(Payment).where(Payment.out_trade_no == out_trade_no)).scalar_one_or_none()


def _accept_payment_result(provider, result, *, via: str) -> str:
    """Apply a verified payment result (notification or query). Returns ``""`` when it changed
    something, ``"duplicate"`` for a replay; raises :class:`NotificationRejected` otherwise."""
    payment = _payment_by_out_trade_no(result.out_trade_no)
    if payment is None or payment.provider != provider.name:
        raise NotificationRejected(RejectionReason.WRONG_ORDER,
                                   "no payment attempt of this store has this out_trade_no")
    check_payment(result, provider, payment.out_trade_no, payment.amount)  # mchid, appid, amount, CNY, SUCCESS
    if not result.transaction_id:
        raise NotificationRejected(RejectionReason.BAD_PAYLOAD, "the transaction_id is missing")
    order = db.session.get(Order, payment.order_id)
    _lock_order(order)
    try:
        with db.session.begin_nested():
            changed = db.session.execute(
                sa.update(Payment).where(Payment.id == payment.id, Payment.status.in_(("created", "closed")))
                .values(status="paid", transaction_id=result.transaction_id, paid_at=_now(),
                        payer_openid=sa.func.coalesce(Payment.payer_openid, result.payer_openid))
                .execution_options(synchronize_session=False)).rowcount
    except IntegrityError:
        raise NotificationRejected("wrong_order", "this transaction_id paid another attempt already") from None
    db.session.refresh(payment)
    if not changed:
        if payment.status == "paid" and payment.transaction_id == result.transaction_id:
            return "duplicate"
        raise NotificationRejected(RejectionReason.WRONG_ORDER, f"the attempt is {payment.status}, not payable")
    db.session.refresh(order)
    detail = {"provider": provider.name, "out_trade_no": payment.out_trade_no,
              "transaction_id": payment.transaction_id, "amount": payment.amount, "via": via}
    test = not getattr(provider, "live", True)  # the sandbox: no money moved, a test order
    if test:
        detail["test"] = True
    if orders.mark_paid(order, f"provider:{provider.name}", detail, test=test):
        return ""
    # Money arrived for an order that is no longer waiting for it: record it, give it back.
    kind = "late_payment" if order.status == "cancelled" else "surplus_payment"
    db.session.add(OrderEvent(order_id=order.id, kind=kind, actor=f"provider:{provider.name}",
                              detail=detail | {"order_status": order.status}))
    refund_row = _create_refund(order, payment, payment.amount, kind, "system")
    _pending_refunds().append(refund_row)
    return "refund"


def _pending_refunds() -> list:
    from flask import g

    return g.setdefault("mallow_refunds_to_submit", [])


def _discard_pending_refunds() -> None:
    from flask import g

    g.pop("mallow_refunds_to_submit", None)


def _after_commit() -> None:
    """Refunds started while accepting a notification are sent by a job (answer within 5 s).
    Queuing never raises; a lost job is made good by the sweep (unsent refunds go out again)."""
    from flask import g

    pending = g.pop("mallow_refunds_to_submit", [])
    store = current_store()
    for refund_row in pending:
        current_app.extensions["mallow.jobs"].enqueue("payments.submit_refund", store_id=store.id,
                                                      refund_id=refund_row.id)


def _accept_refund_result(provider, result: RefundResult, *, via: str) -> str:
    refund_row = db.session.execute(sa.select(Refund).where(Refund.out_refund_no == result.out_refund_no)
                                    ).scalar_one_or_none()
    payment = db.session.get(Payment, refund_row.payment_id) if refund_row is not None else None
    if refund_row is None or payment is None or payment.provider != provider.name:
        raise NotificationRejected(RejectionReason.WRONG_REFUND, "no refund of this store has this out_refund_no")
    if result.out_trade_no != payment.out_trade_no:
        raise NotificationRejected(RejectionReason.WRONG_ORDER, "the refund names another payment")
    check_refund(result, provider, refund_row.out_refund_no, refund_row.amount)
    return "" if _apply_refund_result(refund_row, result, provider.name) else "duplicate"


# ---------------------------------------------------------------------------------------------
# Active queries

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
            reason = _accept_payment_result(provider, result, via="query")
        except NotificationRejected as rejected:
            db.session.rollback()
            _discard_pending_refunds()
            _log_notification(payment.provider, False, rejected.reason_code, payment.out_trade_no,
                              {"via": "query", "message": rejected.message[:300]})
            db.session.commit()
            return "rejected"
        db.session.commit()
        _after_commit()
        return {"": "paid", "refund": "refund", "duplicate": "duplicate"}[reason]
    if state in ("CLOSED", "REVOKED"):
        _set_payment_status(payment, "closed")
        db.session.commit()
        return "closed"
    if state == "PAYERROR":
        _set_payment_status(payment, "failed")
        db.session.commit()
        return "failed"
    return _close_if_abandoned(payment, provider)


def _as_success(result):
    from dataclasses import replace

    return replace(result, trade_state="SUCCESS")  # paid, then (partly) refunded at the provider


def _close_if_abandoned(payment: Payment, provider, remote_missing: bool = False) -> str:
    """An unpaid attempt whose order stopped waiting (cancelled, paid otherwise, past its
    deadline) is closed at the provider, then here."""
    order = db.session.get(Order, payment.order_id)
    if order.status == "pending_payment" and _aware(order.pay_deadline) > _now():
        return "pending"
    if not remote_missing:
        try:
            provider.close_payment(payment)
        except ProviderError as exc:
            if exc.code == "ORDERPAID":  # paid a moment ago: the notification or the next query brings it
                return "pending"
            if exc.retryable:
                return "unknown"
    _set_payment_status(payment, "closed")
    db.session.commit()
    return "closed"


# ---------------------------------------------------------------------------------------------
# Refunds

def _primary_payment(order: Order) -> Payment | None:
    """The attempt that paid the order (named by its ``paid`` event)."""
    event = db.session.execute(sa.select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "paid")
                               .order_by(OrderEvent.id)).scalars().first()
    out_trade_no = (event.detail or {}).get("out_trade_no") if event is not None else None
    return _payment_by_out_trade_no(out_trade_no) if out_trade_no else None


def refundable(order: Order) -> int:
    """Fen that can still be refunded on the order (paid minus refunds promised or made)."""
    payment = _primary_payment(order)
    if payment is None or payment.status != "paid":
        return 0
    promised = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(Refund.amount), 0))
                                  .where(Refund.payment_id == payment.id, Refund.status.in_(ACTIVE_REFUND_STATES))
                                  ).scalar_one()
    return max(0, min(payment.amount, order.total) - int(promised))


def _create_refund(order: Order, payment: Payment, amount: int, reason: str, actor: str,
                   aftersale_id: int | None = None) -> Refund:
    """Write a ``processing`` refund (not yet sent), checked under the order's lock."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise PaymentProblem("invalid_amount", _("Enter an amount in fen greater than zero."), 422)
    _lock_order(order)
    db.session.refresh(payment)
    if payment.status != "paid":
        raise PaymentProblem("not_paid", _("This order has no payment to refund."))
    rows = db.session.execute(sa.select(Refund.amount, Refund.status).where(Refund.payment_id == payment.id)).all()
    if len(rows) >= MAX_REFUNDS_PER_PAYMENT:
        raise PaymentProblem("too_many_refunds", _("An order can be refunded at most %(max)s times.",
                                                   max=MAX_REFUNDS_PER_PAYMENT))
    promised = sum(row.amount for row in rows if row.status in ACTIVE_REFUND_STATES)
    if promised + amount > payment.amount:
        raise PaymentProblem("exceeds_paid", _("Refunds cannot exceed the amount paid (%(left)s fen left).",
                                               left=payment.amount - promised), 422)
    refund_row = Refund(order_id=order.id, payment_id=payment.id, aftersale_id=aftersale_id,
                        out_refund_no=f"{payment.out_trade_no}R{len(rows) + 1:02d}", amount=amount,
                        reason=(reason or "")[:80], status="processing")
    db.session.add(refund_row)
    db.session.add(OrderEvent(order_id=order.id, kind="refund_requested", actor=actor,
                              detail={"out_refund_no": refund_row.out_refund_no, "amount": amount,
                                      "reason": refund_row.reason}))
    db.session.flush()
    return refund_row


def refund(order: Order, amount: int, reason: str, actor: str, *, aftersale_id: int | None = None,
           submit: bool = True) -> Refund:
    """Refund ``amount`` fen of the order's payment. Commits the refund, then (``submit``) sends it
    to the provider; a timeout leaves it ``processing`` and the sweep retries it with the same
    ``out_refund_no``. Raises :class:`PaymentProblem` with nothing written."""
    payment = _primary_payment(order)
    if payment is None:
        raise PaymentProblem("not_paid", _("This order has no payment to refund."))
    try:
        refund_row = _create_refund(order, payment, amount, reason, actor, aftersale_id)
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
    from mallow.payments import sandbox

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
        log.error("refund %s: the provider's answer failed a check (%s)", refund_row.out_refund_no,
                  rejected.reason_code)
        return refund_row
    _apply_refund_result(refund_row, result, payment.provider)
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
    _apply_refund_result(refund_row, result, payment.provider)
    db.session.commit()
    return refund_row


def _apply_refund_result(refund_row: Refund, result: RefundResult, provider_name: str) -> bool:
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
            db.session.add(OrderEvent(order_id=refund_row.order_id, kind="refund_abnormal", actor=actor,
                                      detail={"out_refund_no": refund_row.out_refund_no}))
            changed = True
    db.session.flush()
    return changed


def _set_refund_status(refund_row: Refund, target: str, **values) -> bool:
    from mallow.payments.models import REFUND_STATES

    sources = [s for s in REFUND_STATES.states if REFUND_STATES.can(s, target)]
    result = db.session.execute(sa.update(Refund).where(Refund.id == refund_row.id, Refund.status.in_(sources))
                                .values(status=target, **values).execution_options(synchronize_session=False))
    db.session.refresh(refund_row)
    return result.rowcount == 1


def _close_refund(refund_row: Refund, actor: str, detail: dict) -> bool:
    if not _set_refund_status(refund_row, "closed", finished_at=_now()):
        return False
    db.session.add(OrderEvent(order_id=refund_row.order_id, kind="refund_failed", actor=actor,
                              detail={"out_refund_no": refund_row.out_refund_no, "amount": refund_row.amount} | detail))
    return True


def _finish_refund(refund_row: Refund, actor: str) -> bool:
    """The money went back: count it on the order, close a fully refunded order, tell plugins."""
    if not _set_refund_status(refund_row, "succeeded", finished_at=_now()):
        return False
    order = db.session.get(Order, refund_row.order_id)
    _lock_order(order)
    primary = _primary_payment(order)
    counted = primary is not None and primary.id == refund_row.payment_id
    if counted:
        db.session.execute(sa.update(Order).where(Order.id == order.id,
                                                  Order.refunded_total + refund_row.amount <= Order.total)
                           .values(refunded_total=Order.refunded_total + refund_row.amount)
                           .execution_options(synchronize_session=False))
    db.session.refresh(order)
    db.session.add(OrderEvent(order_id=order.id, kind="refunded", actor=actor,
                              detail={"out_refund_no": refund_row.out_refund_no, "amount": refund_row.amount,
                                      "refunded_total": order.refunded_total, "counted": counted}))
    if counted and order.refunded_total >= order.total and ORDER_STATES.can(order.status, "closed"):
        orders.transition(order, "closed", "system", detail={"reason": "refunded"})
    hooks().mallow_order_refunded(order=order, refund=refund_row)
    if refund_row.aftersale_id is not None:
        from mallow.aftersales import service as aftersales

        aftersales.refund_succeeded(refund_row)
    return True


# ---------------------------------------------------------------------------------------------
# The store's sweep (periodic job)

def sweep(now: datetime | None = None) -> dict:
    """Query unpaid attempts older than ``MALLOW_PAYMENT_QUERY_AFTER_MINUTES`` (default 5), send
    again the refunds the provider never acknowledged (same ``out_refund_no``), and query those
    still processing. Idempotent."""
    now = now or _now()
    minutes = int(current_app.config.get("MALLOW_PAYMENT_QUERY_AFTER_MINUTES", 5))
    cutoff = now - timedelta(minutes=minutes)
    counts = {"queried": 0, "paid": 0, "closed": 0, "refunds_sent": 0, "refunds_queried": 0}
    attempts = db.session.execute(sa.select(Payment).where(Payment.status == "created", Payment.created_at <= cutoff)
                                  .order_by(Payment.id).limit(500)).scalars().all()
    for payment in attempts:
        outcome = query_payment(payment)
        counts["queried"] += 1
        counts["paid"] += outcome in ("paid", "refund")
        counts["closed"] += outcome == "closed"
    unsent = db.session.execute(sa.select(Refund).where(Refund.status == "processing",
                                                        Refund.provider_refund_id.is_(None))
                                .order_by(Refund.id).limit(500)).scalars().all()
    for refund_row in unsent:
        submit_refund(refund_row)
        counts["refunds_sent"] += 1
    waiting = db.session.execute(sa.select(Refund).where(Refund.status == "processing",
                                                         Refund.provider_refund_id.is_not(None),
                                                         Refund.created_at <= cutoff)
                                 .order_by(Refund.id).limit(500)).scalars().all()
    for refund_row in waiting:
        query_refund(refund_row)
        counts["refunds_queried"] += 1
    db.session.commit()
    return counts
