"""Payment pages: the sandbox cashier and WeChat web authorisation (storefront), the WeChat Pay
keys page (console, owner only).

The blueprints are installed by :mod:`mallow.api.payments` (with the store API) so the core
blueprint modules stay untouched; every route is under ``/s/<store_slug>`` and gets its store from
the resolver like any other store route. Forms carry the CSRF token (CSRFProtect applies).
"""
from __future__ import annotations

import hmac
import logging
import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from mallow.accounts.guards import current_staff, principal, shopper_required, staff_required
from mallow.accounts.models import Customer
from mallow.db import db
from mallow.orders.models import Order
from mallow.payments import sandbox, service, wechat, wechat_oauth
from mallow.payments.models import Payment
from mallow.tenants.context import current_store
from mallow.tenants.resolve import store_url_prefix
from mallow.validation import ValidationFailed
from mallow.web import render_form, safe_next, safe_target

storefront_bp = Blueprint("payments_pages", __name__, url_prefix=store_url_prefix())
console_bp = Blueprint("payments_console", __name__, url_prefix=store_url_prefix("/console/payments"))
log = logging.getLogger("mallow.payments")


def yuan(fen: int) -> str:
    """Integer fen as yuan text (``1999`` → ``19.99``), without floats."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


@storefront_bp.before_request
def only_open_stores():
    store = current_store()
    if store is not None and not store.is_open:
        return render_template("storefront/not_open.html"), 503, {"Retry-After": "86400"}


# --- the sandbox cashier ------------------------------------------------------------------------

def _sandbox_attempt(out_trade_no: str):
    # Built directly, only to check the capability token: whether the sandbox may take this
    # payment now is sandbox.availability()'s word, asked by the view (and again on acceptance).
    provider = sandbox.SandboxProvider(current_store())
    token = request.values.get("token")
    if not provider.check_cashier_token(out_trade_no, token):
        abort(404)
    payment = db.session.execute(sa.select(Payment).where(Payment.out_trade_no == out_trade_no,
                                                          Payment.provider == sandbox.NAME)).scalar_one_or_none()
    if payment is None:
        abort(404)
    return provider, payment, db.session.get(Order, payment.order_id), token


def _shoppers_own(order) -> bool:
    """The signed-in shopper of this browser placed ``order`` (the cashier URL alone is a
    capability: an API client may open it without a browser session)."""
    shopper = principal("shopper")
    return shopper is not None and order is not None and order.customer_id == shopper.id


@storefront_bp.route("/pay/sandbox/<out_trade_no>", methods=["GET", "POST"])
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
            service.accept_notification(sandbox.NAME, body, headers)
            if _shoppers_own(order):  # back to the store: the order, or where a plugin lands paid orders
                return redirect(url_for("storefront.pay_result", order_id=order.id)), 303
            return redirect(url_for("payments_pages.sandbox_cashier", out_trade_no=out_trade_no, token=token)), 303
        else:
            if action == "cancel" and payment.status == "created":
                service.cancel_attempt(payment)
                if _shoppers_own(order):  # back to the store's cashier: pay another way, or later
                    return redirect(url_for("storefront.pay_order", order_id=order.id)), 303
            return redirect(url_for("payments_pages.sandbox_cashier", out_trade_no=out_trade_no, token=token)), 303
    db.session.refresh(order)
    return render_template("storefront/pay_sandbox.html", payment=payment, order=order, token=token, yuan=yuan,
                           unavailable=sandbox.refusal(refused) if refused is not None else None,
                           back_url=url_for("storefront.pay_order", order_id=order.id) if _shoppers_own(order)
                           else None), status


# --- WeChat web authorisation -------------------------------------------------------------------

def _oauth_session_key() -> str:
    return f"mallow.wechat_oauth.{current_store().id}"


@storefront_bp.get("/wechat/authorize")
@shopper_required
def wechat_authorize():
    """Send the signed-in shopper to WeChat's authorisation; back at :func:`wechat_callback`."""
    try:
        oauth = wechat_oauth.for_store(current_store())
    except wechat_oauth.OAuthUnavailable:
        abort(404)
    state = secrets.token_urlsafe(24)
    session[_oauth_session_key()] = {"state": state, "next": safe_next(url_for("storefront.account"))}
    callback = url_for("payments_pages.wechat_callback", _external=True)
    return redirect(oauth.authorize_url(callback, state)), 302


@storefront_bp.get("/wechat/callback")
@shopper_required
def wechat_callback():
    """Back from WeChat. The ``state`` must be the one this browser's session was given (once):
    otherwise 400 and the code is never exchanged. A refused code is a 400, WeChat failing to
    answer properly a 502; both show the shopper the "try again" page and link nothing."""
    pending = session.pop(_oauth_session_key(), None)
    expected = str((pending or {}).get("state") or "")
    state = request.args.get("state", "")
    if not expected or not hmac.compare_digest(expected.encode(), state.encode()):
        abort(400)
    try:
        openid = wechat_oauth.for_store(current_store()).exchange_code(request.args.get("code", ""))
    except wechat_oauth.OAuthUnavailable:
        abort(404)
    except wechat_oauth.OAuthError as error:
        log.warning("WeChat web authorisation failed for store %s: %s", current_store().id, error.code)
        return render_template("storefront/wechat_linked.html", failed=True), 400 if error.spent_code else 502
    customer = principal("shopper")
    holder = db.session.execute(sa.select(Customer.id).where(Customer.wechat_openid == openid)).scalar_one_or_none()
    if holder is not None and holder != customer.id:
        return render_template("storefront/wechat_linked.html", taken=True), 409
    customer.wechat_openid = openid
    db.session.commit()
    return redirect(safe_target(pending.get("next"), url_for("storefront.account"))), 303


# --- console: the store's WeChat Pay keys (owner only) ------------------------------------------

def _console_context():
    reason = sandbox.availability()
    return {"wechat": wechat.summary(), "sandbox_enabled": reason is None, "sandbox_reason": reason,
            "sandbox_refusal": sandbox.refusal(reason) if reason else "", "notify_url": service.notify_url(wechat.NAME)}


@console_bp.route("/", methods=["GET", "POST"])
@staff_required(owner=True)
def settings():
    if request.method == "POST":
        try:
            wechat.save(request.form, f"staff:{current_staff().merchant_id}")
        except ValidationFailed as failed:
            db.session.rollback()
            return render_form("console/payments.html", errors=failed, **_console_context())
        db.session.commit()
        return redirect(url_for("payments_console.settings", saved=1)), 303
    return render_form("console/payments.html", saved=request.args.get("saved") == "1", **_console_context())


@console_bp.post("/sandbox")
@staff_required(owner=True)
def sandbox_switch():
    sandbox.set_enabled(request.form.get("enabled") == "1", f"staff:{current_staff().merchant_id}")
    db.session.commit()
    return redirect(url_for("payments_console.settings")), 303


def install(app) -> None:
    """Register the page blueprints on ``app`` (once per app)."""
    for blueprint in (storefront_bp, console_bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
