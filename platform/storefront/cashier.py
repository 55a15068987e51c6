"""The cashier (收银台): one page where every order is paid, whatever placed it (the catalogue's
checkout, a flash sale, a group buy, any plugin's), and the page the shopper lands on after paying.

Routes on the ``storefront`` blueprint:

* ``GET /orders/<id>/pay`` (``storefront.pay_order``) -- the amount, the countdown to the order's
  pay deadline (the unpaid-order sweep closes it then), the methods the store really has, 确认支付.
  Reached from the order page (去支付), the order list and right after every checkout
  (:func:`mallow.sdk.cashier_url` for plugins).
* ``POST`` the same path (``storefront.start_payment``) -- starts the payment through
  :func:`mallow.payments.paying.pay_order`, the path the ``payOrder`` API takes, and follows the
  :class:`~mallow.payments.providers.PaymentStart`: a redirect on this site (the sandbox cashier),
  an H5 URL (WeChat Pay in a phone's browser; the browser goes there from a page, since the CSP's
  ``form-action 'self'`` stops a form's redirect to another site), JSAPI parameters for
  ``WeixinJSBridge``/``wx.chooseWXPay`` inside WeChat (``static/storefront/orders.js``: no inline
  script) or, in a desktop browser, the QR code of WeChat Pay Native's ``code_url`` (server-drawn
  SVG, :mod:`mallow.payments.native_qr`) that the payer scans with WeChat, with 我已支付; the page
  polls ``pay/status`` (``static/storefront/native_pay.js``) and moves to the result once paid.
  Nothing is paid here: only the provider's verified notification or an active query pays.
* ``GET /orders/<id>/pay/status`` (``storefront.pay_status``) -- JSON for the QR page's poll:
  ``{"paid", "state": waiting|paid|expired|closed, "next"}`` from the database; ``?check=1`` (我已支付,
  and now and then the poll) first asks the provider about the open attempt. The shopper's own
  order only (404 otherwise).
* ``GET /orders/<id>/pay/result`` (``storefront.pay_result``) -- where the sandbox cashier's
  success, WeChat Pay H5's ``redirect_url`` and the JSAPI page send the shopper. A paid order goes
  where a plugin says (``mallow_after_payment_url``: the group with its invite action) or to the
  success page (支付成功 · 查看订单); one still unpaid is asked about once (an active query of its
  open attempt) and the page looks again a few times by itself.

Which methods: WeChat Pay when the store has it live, in the scene
:func:`mallow.payments.scenes.browser_scene` picks from the user agent (JSAPI inside WeChat --
``MicroMessenger`` -- with the shopper's openid from WeChat web authorisation; H5 in a phone's
browser; Native, 微信扫码支付, in a desktop browser), and the sandbox only where
:func:`mallow.payments.sandbox.availability` allows it (asked through the provider registry, never
re-decided here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required
from mallow.db import db
from mallow.orders import labels
from mallow.orders.models import Order
from mallow.orders.timing import seconds_left
from mallow.payments import paying, providers, scenes, wechat
from mallow.payments.attempts import PaymentProblem
from mallow.payments.sweep import query_payment
from mallow.payments.models import Payment
from mallow.payments.native_qr import qr_svg
from mallow.web.blueprints import storefront as bp
from mallow.web.redirects import safe_target

#: how many times the result page looks again by itself while a payment is being confirmed
RESULT_RECHECKS = 5
RESULT_RECHECK_SECONDS = 3
#: order states that mean "paid" to the shopper (later states of a paid order)
PAID_STATES = ("paid", "shipped", "delivered", "completed")


@dataclass(frozen=True)
class Method:
    """A way to pay offered at the cashier: ``key`` is the form's value."""

    key: str
    provider: str
    scene: str | None
    label: str
    hint: str
    test: bool = False


def _has(provider_name: str) -> bool:
    try:
        providers.get(provider_name)  # the sandbox: only where sandbox.availability() allows it
    except providers.ProviderUnavailable:
        return False
    return True


def methods() -> list[Method]:
    """The methods the active store really has, for this browser, best first."""
    found = []
    if _has("wechatpay"):
        scene = scenes.browser_scene(request.headers.get("User-Agent"))
        if scene == "jsapi":
            found.append(Method("wechatpay", "wechatpay", "jsapi", _("WeChat Pay"), _("Pay in WeChat.")))
        elif scene == "h5":
            found.append(
                Method(
                    "wechatpay",
                    "wechatpay",
                    "h5",
                    _("WeChat Pay"),
                    _("WeChat opens to finish the payment, then you come back here."),
                )
            )
        else:
            found.append(
                Method(
                    "wechatpay",
                    "wechatpay",
                    "native",
                    _("WeChat Pay (scan QR code)"),
                    _("Scan the QR code with WeChat on your phone to pay."),
                )
            )
    if _has("sandbox"):
        found.append(
            Method(
                "sandbox",
                "sandbox",
                None,
                _("Test payment (sandbox)"),
                _("Simulated: no money moves, and the order becomes a test order."),
                test=True,
            )
        )
    return found


def _own_order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or order.customer_id != principal("shopper").id:
        abort(404)
    return order


def _oauth_available() -> bool:
    return wechat.oauth_credentials() is not None


def _render(
    order: Order, *, status: int = 200, error: str | None = None, chosen: str | None = None, handoff: dict | None = None
):
    offered = methods()
    chosen = chosen if any(m.key == chosen for m in offered) else (offered[0].key if offered else None)
    left = seconds_left(order)
    return render_template(
        "storefront/cashier.html",
        order=order,
        methods=offered,
        chosen=chosen,
        error=error,
        seconds_left=left,
        expired=left <= 0,
        handoff=handoff,
        result_url=url_for("storefront.pay_result", order_id=order.id),
    ), status


@bp.get("/orders/<int:order_id>/pay")
@shopper_required
def pay_order(order_id):
    order = _own_order(order_id)
    if order.status != "pending_payment":
        if order.status in PAID_STATES:  # paid meanwhile (another tab, a late notification)
            return redirect(url_for("storefront.pay_result", order_id=order.id)), 303
        flash(_("This order no longer awaits payment."), "error")
        return redirect(url_for("storefront.order_detail", order_id=order.id)), 303
    return _render(order)


@bp.post("/orders/<int:order_id>/pay")
@shopper_required
def start_payment(order_id):
    """确认支付: start paying with the chosen method, the same way ``payOrder`` does."""
    order = _own_order(order_id)
    if order.status != "pending_payment":
        return pay_order(order_id)
    chosen = request.form.get("method", "")
    method = next((m for m in methods() if m.key == chosen), None)
    if method is None:
        return _render(order, status=422, error=_("Choose a payment method."))
    customer = principal("shopper")
    if method.scene == "jsapi" and not customer.wechat_openid and _oauth_available():
        # WeChat Pay inside WeChat needs the shopper's openid: authorise once, then back here
        return redirect(
            url_for("payments_pages.wechat_authorize", next=url_for("storefront.pay_order", order_id=order.id))
        ), 303
    try:
        _payment, start = paying.pay_order(
            order, method.provider, customer=customer, scene=method.scene, client_ip=request.remote_addr
        )
    except PaymentProblem as problem:
        db.session.rollback()
        db.session.refresh(order)
        if order.status != "pending_payment":
            return pay_order(order_id)
        return _render(order, status=problem.status, error=str(problem.message), chosen=method.key)
    return _follow(order, start, method)


def _follow(order: Order, start, method: Method):
    """Take the shopper where the provider's answer says."""
    result_url = url_for("storefront.pay_result", order_id=order.id)
    if start.kind == "paid":  # nothing to pay (a zero total)
        return redirect(result_url), 303
    if start.kind == "redirect" and start.url and safe_target(start.url, ""):
        return redirect(start.url), 303  # a cashier on this site (the sandbox)
    if start.kind == "native" and start.url:  # a desktop browser: the QR code to scan with WeChat
        return _render(
            order,
            chosen=method.key,
            handoff={
                "kind": "native",
                "code_url": start.url,
                "done": result_url,
                "svg": qr_svg(start.url, title=_("WeChat Pay QR code")),
                "status": url_for("storefront.pay_status", order_id=order.id),
            },
        )
    if start.kind == "jsapi":
        return _render(
            order,
            chosen=method.key,
            handoff={
                "kind": "jsapi",
                "params": json.dumps(dict(start.params), separators=(",", ":")),
                "done": result_url,
            },
        )
    if start.url:  # H5 (or a provider's page elsewhere): the browser goes there from the page
        url = start.url
        if start.kind == "h5":  # WeChat Pay H5 sends the payer back to redirect_url when done
            back = url_for("storefront.pay_result", order_id=order.id, _external=True)
            url += ("&" if "?" in url else "?") + "redirect_url=" + quote(back, safe="")
        return _render(order, chosen=method.key, handoff={"kind": "url", "url": url, "done": result_url})
    return _render(order, status=502, error=_("The payment service refused this payment."), chosen=method.key)


def _open_attempt(order: Order) -> Payment | None:
    return db.session.execute(
        sa.select(Payment)
        .where(Payment.order_id == order.id, Payment.status == "created")
        .order_by(Payment.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _paid_late(order: Order) -> bool:
    """Money arrived for an order that no longer waited for it (it is refunded automatically)."""
    return (
        db.session.execute(
            sa.select(sa.func.count())
            .select_from(Payment)
            .where(Payment.order_id == order.id, Payment.status == "paid")
        ).scalar_one()
        > 0
    )


@bp.get("/orders/<int:order_id>/pay/result")
@shopper_required
def pay_result(order_id):
    """After paying: where a plugin says, else the success page; still unpaid: confirming."""
    order = _own_order(order_id)
    if order.status == "pending_payment":
        attempt = _open_attempt(order)
        if attempt is not None and attempt.provider != "sandbox":  # (the sandbox notifies at once)
            query_payment(attempt)  # WeChat Pay H5/JSAPI: ask, do not wait for the notification
            db.session.refresh(order)
    if order.status in PAID_STATES:
        target = labels.after_payment_url(order)
        if target:
            return redirect(target), 303
        return render_template("storefront/pay_result.html", order=order, outcome="paid")
    if order.status == "pending_payment":
        try:
            round_ = max(0, min(int(request.args.get("n", "0")), RESULT_RECHECKS))
        except ValueError:
            round_ = 0
        again = url_for("storefront.pay_result", order_id=order.id, n=round_ + 1) if round_ < RESULT_RECHECKS else None
        return render_template(
            "storefront/pay_result.html",
            order=order,
            outcome="waiting",
            again=again,
            again_seconds=RESULT_RECHECK_SECONDS,
        )
    return render_template(
        "storefront/pay_result.html",
        order=order,
        outcome="late" if order.paid_at is None and _paid_late(order) else "closed",
    )


@bp.get("/orders/<int:order_id>/pay/status")
@shopper_required
def pay_status(order_id):
    """Is the order paid yet? For the QR page's poll (every ~2 s) and its 我已支付 (``check=1``:
    ask the provider about the open attempt first, as the result page does)."""
    order = _own_order(order_id)
    if order.status == "pending_payment" and request.args.get("check") == "1":
        attempt = _open_attempt(order)
        if attempt is not None and attempt.provider != "sandbox":
            query_payment(attempt)
            db.session.refresh(order)
    paid = order.status in PAID_STATES
    if paid:
        state, target = "paid", url_for("storefront.pay_result", order_id=order.id)
    elif order.status == "pending_payment" and seconds_left(order) > 0:
        state, target = "waiting", url_for("storefront.pay_result", order_id=order.id)
    else:  # past its deadline or closed: the cashier shows the expired state, or sends to the order
        state = "expired" if order.status == "pending_payment" else "closed"
        target = url_for("storefront.pay_order", order_id=order.id)
    response = jsonify(paid=paid, state=state, next=target)
    response.headers["Cache-Control"] = "no-store"
    return response
