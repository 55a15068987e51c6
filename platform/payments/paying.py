"""Starting to pay an order, and giving up an attempt.

:func:`pay_order` makes one *attempt* (:class:`~mallow.payments.models.Payment`) per try, each with
its own ``out_trade_no`` (``<order number>P<nn>``); at most one active attempt per order (a retry
reuses it, so a timed-out creation is retried with the same number; switching provider, payer or
WeChat Pay scene -- :mod:`mallow.payments.scenes` -- closes the old one); amount = the order's
total.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.db import db, utcnow
from mallow.orders import service as orders
from mallow.orders.models import Order, OrderEvent
from mallow.payments import providers, scenes
from mallow.payments.attempts import PaymentProblem, aware, lock_order, set_payment_status
from mallow.payments.models import Payment
from mallow.payments.notify_urls import notify_url
from mallow.payments.providers import PaymentStart, ProviderError, ProviderUnavailable
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.payments")

MAX_ATTEMPTS_PER_ORDER = 20


def pay_order(
    order: Order, provider_name: str, *, customer=None, scene: str | None = None, client_ip: str | None = None
) -> tuple[Payment | None, PaymentStart]:
    """Start paying ``order`` with ``provider_name``; returns the attempt and what the client needs.

    Raises :class:`PaymentProblem`. ``scene`` (WeChat Pay): ``jsapi`` (inside WeChat, needs the
    shopper's openid), ``h5`` (a phone's browser) or ``native`` (a QR code for a desktop browser);
    by default JSAPI when the shopper's openid is known, else H5.
    """
    if order.status != "pending_payment":
        raise PaymentProblem("not_payable", _("This order is not awaiting payment."))
    if aware(order.pay_deadline) <= utcnow():
        raise PaymentProblem("expired", _("The time to pay this order is over."))
    if order.total <= 0:  # nothing to pay: no provider is involved
        lock_order(order)
        orders.mark_paid(order, "system", {"reason": "zero_total"})
        db.session.commit()
        return None, PaymentStart("paid")
    try:
        provider = providers.get(provider_name)  # the sandbox: only where sandbox.availability() allows
    except ProviderUnavailable as unavailable:
        raise PaymentProblem(
            "provider_unavailable", unavailable.message or _("This payment method is not available."), 422
        ) from None
    payer_openid = None
    if provider_name == "wechatpay" and scene not in ("h5", "native"):
        payer_openid = getattr(customer, "wechat_openid", None)
        if scene == "jsapi" and not payer_openid:
            raise PaymentProblem("openid_required", _("Open the store in WeChat and sign in with WeChat first."), 422)

    lock_order(order)
    db.session.refresh(order)
    if order.status != "pending_payment":
        db.session.rollback()
        raise PaymentProblem("not_payable", _("This order is not awaiting payment."))
    attempts = (
        db.session.execute(sa.select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)).scalars().all()
    )
    wanted_scene = scenes.attempt_scene(provider_name, scene, payer_openid)
    open_scenes = scenes.recorded_scenes(a for a in attempts if a.status == "created")
    payment, superseded = None, []
    for attempt in attempts:
        if attempt.status != "created":
            continue
        if (
            payment is None
            and attempt.provider == provider_name
            and attempt.payer_openid == payer_openid
            and open_scenes[attempt.id] == wanted_scene
            and attempt.amount == order.total
        ):
            payment = attempt  # a retry: the same out_trade_no, never a new one for the same try
        else:
            attempt.status = "closed"
            superseded.append(attempt)
    if payment is None:
        if len(attempts) >= MAX_ATTEMPTS_PER_ORDER:
            db.session.rollback()
            raise PaymentProblem("too_many_attempts", _("Too many payment attempts for this order."))
        payment = Payment(
            order_id=order.id,
            provider=provider_name,
            out_trade_no=f"{order.number}P{len(attempts) + 1:02d}",
            amount=order.total,
            status="created",
            payer_openid=payer_openid,
        )
        db.session.add(payment)
        started = {"provider": provider_name, "out_trade_no": payment.out_trade_no, "amount": payment.amount}
        db.session.add(
            OrderEvent(
                order_id=order.id,
                kind="payment_started",
                actor=_shopper_actor(order),
                detail=started | ({"scene": wanted_scene} if wanted_scene else {}),
            )
        )
    db.session.commit()

    for old in superseded:  # best effort: a payment that still arrives is accepted or refunded
        try:
            providers.get(old.provider).close_payment(old)
        except (ProviderError, ProviderUnavailable) as exc:
            log.info("closing attempt %s failed: %s", old.out_trade_no, exc)
    try:
        start = provider.create_payment(
            payment,
            order,
            description=_description(order),
            notify_url=notify_url(provider_name),
            payer_openid=payer_openid,
            client_ip=client_ip,
            scene=scene,
        )
    except ProviderError as exc:
        if exc.retryable:  # unknown outcome: keep the attempt, the next try reuses its number
            raise PaymentProblem(
                "provider_unavailable", _("The payment service did not answer. Try again."), 503
            ) from exc
        set_payment_status(payment, "failed")
        db.session.add(
            OrderEvent(
                order_id=order.id,
                kind="payment_failed",
                actor=f"provider:{provider_name}",
                detail={"out_trade_no": payment.out_trade_no, "code": exc.code},
            )
        )
        db.session.commit()
        raise PaymentProblem("provider_refused", _("The payment service refused this payment."), 502) from exc
    return payment, start


def cancel_attempt(payment: Payment) -> bool:
    """The payer gave up this attempt (e.g. *Cancel* at the cashier); the order still waits."""
    if not set_payment_status(payment, "closed"):
        return False
    db.session.add(
        OrderEvent(
            order_id=payment.order_id,
            kind="payment_cancelled",
            actor="payer",
            detail={"provider": payment.provider, "out_trade_no": payment.out_trade_no},
        )
    )
    db.session.commit()
    return True


def _shopper_actor(order: Order) -> str:
    return f"shopper:{order.customer_id}"


def _description(order: Order) -> str:
    store = current_store()
    return f"{store.name if store else ''} {order.number}".strip()[:127]
