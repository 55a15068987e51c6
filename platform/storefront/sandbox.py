"""The sandbox's simulated cashier (``payments_pages.sandbox_cashier``): *Pay* makes the sandbox
send a signed notification through the same verification and acceptance path as a real
provider; *Cancel* abandons this attempt. Its address carries a capability token
(:class:`mallow.payments.sandbox.SandboxProvider`); whether the sandbox may take the payment now
is :func:`mallow.payments.sandbox.availability`'s word.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for

from mallow.accounts.guards import principal
from mallow.db import db
from mallow.orders.models import Order
from mallow.payments import sandbox
from mallow.payments.notifications import accept_notification
from mallow.payments.paying import cancel_attempt
from mallow.payments.models import Payment
from mallow.storefront.payment_pages import bp
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.payments")


def _sandbox_attempt(out_trade_no: str):
    # Built directly, only to check the capability token: whether the sandbox may take this
    # payment now is sandbox.availability()'s word, asked by the view (and again on acceptance).
    provider = sandbox.SandboxProvider(current_store())
    token = request.values.get("token")
    if not provider.check_cashier_token(out_trade_no, token):
        abort(404)
    payment = db.session.execute(
        sa.select(Payment).where(Payment.out_trade_no == out_trade_no, Payment.provider == sandbox.NAME)
    ).scalar_one_or_none()
    if payment is None:
        abort(404)
    return provider, payment, db.session.get(Order, payment.order_id), token


def _shoppers_own(order) -> bool:
    """The signed-in shopper of this browser placed ``order`` (the cashier URL alone is a
    capability: an API client may open it without a browser session)."""
    shopper = principal("shopper")
    return shopper is not None and order is not None and order.customer_id == shopper.id


@bp.route("/pay/sandbox/<out_trade_no>", methods=["GET", "POST"])
def sandbox_cashier(out_trade_no):
    """The simulated cashier. *Pay* makes the sandbox send a signed notification through the same
    verification and acceptance path as a real provider; *Cancel* abandons this attempt."""
    provider, payment, order, token = _sandbox_attempt(out_trade_no)
    refused = sandbox.availability()  # e.g. the store went live since this attempt started
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        if action == "pay" and payment.status == "created" and refused is not None:
            log.info("sandbox payment %s refused: %s", payment.out_trade_no, refused)
            status = 403
        elif action == "pay" and payment.status == "created":
            body, headers = provider.payment_notification(payment)
            accept_notification(sandbox.NAME, body, headers)
            if _shoppers_own(order):  # back to the store: the order, or where a plugin lands paid orders
                return redirect(url_for("storefront.pay_result", order_id=order.id)), 303
            return redirect(url_for("payments_pages.sandbox_cashier", out_trade_no=out_trade_no, token=token)), 303
        else:
            if action == "cancel" and payment.status == "created":
                cancel_attempt(payment)
                if _shoppers_own(order):  # back to the store's cashier: pay another way, or later
                    return redirect(url_for("storefront.pay_order", order_id=order.id)), 303
            return redirect(url_for("payments_pages.sandbox_cashier", out_trade_no=out_trade_no, token=token)), 303
    db.session.refresh(order)
    return render_template(
        "storefront/pay_sandbox.html",
        payment=payment,
        order=order,
        token=token,
        unavailable=sandbox.refusal(refused) if refused is not None else None,
        back_url=url_for("storefront.pay_order", order_id=order.id) if _shoppers_own(order) else None,
    ), status
