"""Payments in the store API (``payOrder``, ``paymentNotify``) and the console API (a store's
WeChat Pay keys, an order's payments and refunds).

``paymentNotify`` is called by the payment provider, not by a shopper: no bearer token, no
session, no CSRF token (the store API blueprint is CSRF-exempt and this operation has no guard).
It is authenticated by the provider's signature over the raw body, and its store comes from the
URL path only.

Importing this module also declares the after-sales operations (:mod:`mallow.api.aftersales`),
registers the payment and after-sales jobs. The payment pages are :mod:`mallow.storefront.cashier`,
:mod:`mallow.storefront.wechat`, :mod:`mallow.storefront.sandbox` and :mod:`mallow.console.payments`.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Response, abort, jsonify, request

from mallow.accounts.guards import current_staff, principal, shopper_required, staff_required
from mallow.api.order_shapes import FEN, ORDER, WHEN, order_json
from mallow.api.registry import nullable, obj, operation, returns, schema, shape, string
from mallow.api.views import iso
from mallow.db import db
from mallow.orders.models import Order
from mallow.payments import paying, wechat
from mallow.payments.attempts import PaymentProblem
from mallow.payments.notifications import accept_notification
from mallow.payments.notify_urls import notify_url
from mallow.payments.models import Payment, Refund

ERR = {"$ref": "#/components/responses/ValidationFailed"}
NOTIFY_FAILED = schema(
    "NotifyFailed", shape({"code": {"const": "FAIL"}, "message": {"type": "string", "description": "a reason code"}})
)
FAIL = returns('Rejected: {"code": "FAIL", "message": "<reason code>"}; the attempt is logged', NOTIFY_FAILED)
PAYMENT = schema(
    "Payment",
    shape(
        {
            "id": {"type": "integer"},
            "provider": {"type": "string"},
            "out_trade_no": {"type": "string"},
            "amount": FEN,
            "status": {"type": "string"},
            "created_at": nullable(WHEN),
            "paid_at": nullable(WHEN),
        }
    ),
)
PAY_START = schema(
    "PaymentStart",
    shape(
        {
            "payment": nullable(PAYMENT),
            "pay": shape(
                {
                    "kind": {"type": "string", "enum": ["redirect", "jsapi", "h5", "native", "paid"]},
                    "url": {"type": "string"},
                    "params": {"type": "object", "description": "wx.requestPayment's"},
                },
                optional=("url", "params"),
            ),
            "order": ORDER,
        }
    ),
)
REFUND = schema(
    "Refund",
    shape(
        {
            "id": {"type": "integer"},
            "out_refund_no": {"type": "string"},
            "amount": FEN,
            "status": {"type": "string"},
            "reason": nullable({"type": "string"}),
            "aftersale_id": nullable({"type": "integer"}),
            "created_at": nullable(WHEN),
            "finished_at": nullable(WHEN),
        }
    ),
)
ORDER_PAYMENTS = schema(
    "OrderPayments",
    shape(
        {
            "payments": {"type": "array", "items": PAYMENT},
            "refunds": {"type": "array", "items": REFUND},
            "refunded_total": FEN,
            "total": FEN,
        }
    ),
)
WECHATPAY_CONFIG = schema(
    "WeChatPayConfig",
    shape(
        {
            "configured": {"type": "boolean", "description": "the private key and the API v3 key are set"},
            "enabled": {"type": "boolean"},
            "mchid": {"type": "string"},
            "appid": {"type": "string"},
            "merchant_certificate_serial": {"type": "string"},
            "platform_serials": {"type": "array", "items": {"type": "string"}},
            "has_merchant_private_key": {"type": "boolean"},
            "has_apiv3_key": {"type": "boolean"},
            "has_oauth_appsecret": {"type": "boolean"},
            "updated_at": nullable(WHEN),
            "notify_url": {"type": "string", "description": "give this to WeChat Pay"},
        }
    ),
)
#: the body WeChat Pay posts (API v3); checked over its exact bytes, never by this schema
WECHATPAY_NOTIFICATION = {
    "type": "object",
    "description": "WeChat Pay v3 notification (sandbox: the same shape)",
    "properties": {
        "id": {"type": "string"},
        "create_time": {"type": "string"},
        "event_type": {"type": "string"},
        "resource_type": {"type": "string"},
        "summary": {"type": "string"},
        "resource": {
            "type": "object",
            "properties": {
                "algorithm": {"const": "AEAD_AES_256_GCM"},
                "ciphertext": {"type": "string"},
                "nonce": {"type": "string"},
                "associated_data": {"type": "string"},
                "original_type": {"type": "string"},
            },
        },
    },
}
_SIGNATURE_HEADERS = [
    {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
    for name in (
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
        "Wechatpay-Signature-Type",
    )
]
_PROVIDER_RE = re.compile(r"[a-z]{1,16}")


def payment_json(payment: Payment) -> dict:
    return {
        "id": payment.id,
        "provider": payment.provider,
        "out_trade_no": payment.out_trade_no,
        "amount": payment.amount,
        "status": payment.status,
        "created_at": iso(payment.created_at),
        "paid_at": iso(payment.paid_at),
    }


def refund_json(refund: Refund) -> dict:
    return {
        "id": refund.id,
        "out_refund_no": refund.out_refund_no,
        "amount": refund.amount,
        "status": refund.status,
        "reason": refund.reason,
        "aftersale_id": refund.aftersale_id,
        "created_at": iso(refund.created_at),
        "finished_at": iso(refund.finished_at),
    }


def _problem(problem: PaymentProblem):
    return jsonify(error=problem.code, message=str(problem.message)), problem.status


@operation(
    "store_api",
    "POST",
    "/orders/<int:order_id>/pay",
    "payOrder",
    "Start paying an order. Answers what the client needs: `redirect` (the sandbox cashier URL), "
    "`jsapi` (signed wx.requestPayment parameters: inside WeChat, with the openid from WeChat web "
    "authorisation), `h5` (an H5 payment URL), `native` (`url` is a weixin:// code to show as a QR code and "
    "scan with WeChat: a desktop browser) or `paid` (a zero total: nothing to pay). The order is paid only "
    "by the provider's verified "
    "notification or an active query, never by the client.",
    tag="payments",
    auth="shopper",
    body=obj(
        {
            "provider": {"type": "string", "enum": ["sandbox", "wechatpay"]},
            "scene": {
                "type": "string",
                "enum": ["jsapi", "h5", "native"],
                "description": "WeChat Pay only: jsapi inside WeChat, h5 in a phone's browser, "
                "native (a QR code) in a desktop browser; default jsapi when the "
                "shopper's openid is known, else h5",
            },
        },
        ["provider"],
    ),
    responses={
        "200": returns("The attempt and what the client needs to pay", PAY_START),
        "409": "The order is not awaiting payment",
        "422": ERR,
        "502": "The provider refused",
        "503": "The provider did not answer: try again",
    },
)
@shopper_required
def pay_order(order_id):
    order = db.session.get(Order, order_id)
    customer = principal("shopper")
    if order is None or order.customer_id != customer.id:
        abort(404)
    data = request.get_json()
    try:
        payment, start = paying.pay_order(
            order, data["provider"], customer=customer, scene=data.get("scene"), client_ip=request.remote_addr
        )
    except PaymentProblem as problem:
        return _problem(problem)
    db.session.refresh(order)
    return jsonify(payment=payment_json(payment) if payment else None, pay=start.as_json(), order=order_json(order))


@operation(
    "store_api",
    "POST",
    "/payments/<provider>/notify",
    "paymentNotify",
    "Payment and refund notifications from a provider (`wechatpay`: WeChat Pay API v3 headers "
    "Wechatpay-Timestamp/Nonce/Signature/Serial over the raw body; `sandbox`: Mallow-Sandbox-*). "
    "No token, session or CSRF token: authenticated by the signature; the store is the one in the path. "
    "Every notification is logged, accepted or not. A replay is answered 204 and changes nothing.",
    tag="payments",
    auth=None,
    body=WECHATPAY_NOTIFICATION,
    validate=False,
    parameters=[
        {
            "name": "provider",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": ["sandbox", "wechatpay"]},
        }
    ]
    + _SIGNATURE_HEADERS,
    responses={
        "204": "Accepted (also a replay): empty body",
        "400": FAIL,
        "401": returns("The signature did not verify: FAIL body", NOTIFY_FAILED),
        "404": returns("The provider is not enabled for this store: FAIL body", NOTIFY_FAILED),
        "413": returns("Body too large: FAIL body", NOTIFY_FAILED),
    },
)
def payment_notify(provider):
    if not _PROVIDER_RE.fullmatch(provider):
        return Response(b'{"code":"FAIL","message":"provider_unavailable"}', 404, mimetype="application/json")
    outcome = accept_notification(provider, request.get_data(), request.headers)
    if outcome.accepted:
        return Response(status=204)
    return Response(outcome.body, status=outcome.status, mimetype="application/json")


# --- console ------------------------------------------------------------------------------------


@operation(
    "console_api",
    "GET",
    "/orders/<int:order_id>/payments",
    "listOrderPayments",
    "An order's payment attempts and refunds",
    tag="payments",
    auth="merchant",
    responses={"200": returns("The payments and refunds", ORDER_PAYMENTS)},
)
@staff_required
def list_order_payments(order_id):
    order = db.get_or_404(Order, order_id)
    payments = db.session.execute(sa.select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)).scalars()
    refunds = db.session.execute(sa.select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)).scalars()
    return jsonify(
        payments=[payment_json(p) for p in payments],
        refunds=[refund_json(r) for r in refunds],
        refunded_total=order.refunded_total,
        total=order.total,
    )


_PLATFORM_KEY = {
    "type": "object",
    "required": ["serial", "pem"],
    "additionalProperties": False,
    "properties": {"serial": string(64), "pem": string(8000)},
}


@operation(
    "console_api",
    "GET",
    "/payments/wechatpay",
    "getWeChatPayConfig",
    "The store's WeChat Pay settings; secrets are never returned, only whether they are set",
    tag="payments",
    auth="merchant",
    responses={"200": returns("The settings", WECHATPAY_CONFIG), "403": "Owner only"},
)
@staff_required(owner=True)
def get_wechatpay_config():
    return jsonify(wechat.summary() | {"notify_url": notify_url(wechat.NAME)})


@operation(
    "console_api",
    "PUT",
    "/payments/wechatpay",
    "setWeChatPayConfig",
    "Set the store's WeChat Pay keys (owner only). Secrets are stored encrypted and never returned; "
    "leave one out to keep the stored value. Every key is checked before anything is saved.",
    tag="payments",
    auth="merchant",
    body=obj(
        {
            "mchid": string(32),
            "appid": string(32),
            "merchant_certificate_serial": string(64),
            "merchant_private_key": string(8000),
            "apiv3_key": string(64),
            "platform_keys": {"type": "array", "minItems": 1, "maxItems": 4, "items": _PLATFORM_KEY},
            "oauth_appsecret": string(64),
            "enabled": {"type": "boolean"},
        }
    ),
    responses={"200": returns("The settings, without secrets", WECHATPAY_CONFIG), "403": "Owner only", "422": ERR},
)
@staff_required(owner=True)
def set_wechatpay_config():
    result = wechat.save(request.get_json(), f"staff:{current_staff().merchant_id}")
    db.session.commit()
    return jsonify(result | {"notify_url": notify_url(wechat.NAME)})
