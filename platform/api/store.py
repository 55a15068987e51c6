"""Store API (``/s/<slug>/api``): the store's public profile and shopper accounts."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from mallow.accounts import customers, sessions, sms
from mallow.accounts.authenticate import login_limits, sms_send_limits
from mallow.accounts.guards import current_staff, principal, shopper_required
from mallow.api.registry import obj, operation, returns, schema, shape, string
from mallow.api.views import STORE, store_json
from mallow.db import db
from mallow.qualifications import service
from mallow.security import crypto
from mallow.tenants.context import current_store


@operation(
    "store_api",
    "GET",
    "/store",
    "getStore",
    "The store's public profile (and its review state for its staff)",
    tag="stores",
    auth=None,
    responses={"200": returns("The store", STORE), "404": "No such store"},
)
def get_store():
    store = current_store()
    is_staff = principal("merchant") is not None and current_staff() is not None
    data = store_json(store, private=is_staff)
    approved = next((q for q in service.history(store.id) if q.status == "approved"), None)
    if approved is not None:  # E-Commerce Law art. 15: the licence is shown on the store
        data["business_licence"] = {"legal_name": approved.legal_name, "uscc": approved.uscc}
    if is_staff:
        latest = service.latest(store.id)
        data["qualification"] = (
            None
            if latest is None
            else {
                "status": latest.status,
                "decision_reason": latest.decision_reason,
                "field_reasons": latest.field_reasons or {},
            }
        )
    return jsonify(data)


CUSTOMER = schema(
    "Customer",
    shape(
        {
            "id": {"type": "integer"},
            "nickname": {"type": ["string", "null"]},
            "login": {"type": "string", "description": "masked"},
        }
    ),
)
SIGNED_IN = schema(
    "ShopperToken",
    shape(
        {
            "customer": CUSTOMER,
            "token": {"type": "string", "description": "a bearer token valid in this store only (shown once)"},
        }
    ),
)


#: the shopper ticked "I have read and agree to the privacy notice" (getPrivacyNotice): required to
#: create an account (a 422 on ``privacy_consent`` otherwise); the version in force is recorded
CONSENT = {
    "type": "boolean",
    "description": "true: the shopper agreed to the store's privacy notice in force (getPrivacyNotice); "
    "required to create an account",
}


def _open_store_only():
    if not current_store().is_open:
        return jsonify(error="store_not_open", message=_("This store is not open yet.")), 503
    return None


@operation(
    "store_api",
    "POST",
    "/customers",
    "registerCustomer",
    "Create a shopper account in this store",
    tag="shoppers",
    auth=None,
    body=obj(
        {
            "login": string(254, description="mobile number or e-mail"),
            "password": string(128),
            "nickname": string(40),
            "privacy_consent": CONSENT,
        },
        ["login", "password"],
    ),
    responses={
        "201": returns("The account and a shopper token", SIGNED_IN),
        "503": "The store is not open yet",
        "422": {"$ref": "#/components/responses/ValidationFailed"},
    },
)
def register_customer():
    closed = _open_store_only()
    if closed:
        return closed
    customer = customers.register(request.get_json())
    token = sessions.issue(customer, "token")
    db.session.commit()
    return jsonify(customer=_customer_json(customer), token=token), 201


@operation(
    "store_api",
    "POST",
    "/tokens",
    "loginCustomer",
    "Sign a shopper in: a token valid in this store only",
    tag="shoppers",
    auth=None,
    body=obj({"login": string(254), "password": string(128)}, ["login", "password"]),
    responses={
        "201": returns("A shopper token", SIGNED_IN),
        "401": "Wrong account or password",
        "429": "Too many attempts",
    },
)
@login_limits
def login_customer():
    data = request.get_json()
    customer = customers.authenticate(data["login"], data["password"])
    if customer is None:
        return jsonify(error="unauthenticated", message=_("Wrong account or password.")), 401
    token = sessions.issue(customer, "token")
    db.session.commit()
    return jsonify(customer=_customer_json(customer), token=token), 201


SMS_SENT = schema(
    "SmsCodeSent",
    shape(
        {
            "phone": {"type": "string", "description": "the number, masked"},
            "expires_in": {"type": "integer", "description": "seconds the code is valid"},
            "resend_after": {"type": "integer", "description": "seconds before another code may be asked for"},
        }
    ),
)
SMS_SIGNED_IN = schema(
    "ShopperSmsToken",
    shape(
        {
            "customer": CUSTOMER,
            "token": {"type": "string", "description": "a bearer token valid in this store only (shown once)"},
            "created": {"type": "boolean", "description": "true when this code created the account (sign-up)"},
        }
    ),
)


@operation(
    "store_api",
    "POST",
    "/sms-codes",
    "sendSmsCode",
    "Send a six-digit sign-in code by SMS (valid 5 minutes, one use); then loginWithSmsCode",
    tag="shoppers",
    auth=None,
    body=obj({"phone": string(20, description="mainland mobile number")}, ["phone"]),
    responses={
        "202": returns("The code was sent", SMS_SENT),
        "429": "Too many codes for this number (one a minute, five an hour) or from this address; "
        "Retry-After says when to ask again",
        "503": "The store is not open yet, or the SMS could not be sent",
    },
)
@sms_send_limits
def send_sms_code():
    closed = _open_store_only()
    if closed:
        return closed
    try:
        phone = sms.send_code(request.get_json().get("phone"))
    except sms.SendLimited as limited:
        return jsonify(error="rate_limited", message=limited.message), 429, {"Retry-After": str(limited.retry_after)}
    except sms.SmsUnavailable:
        return jsonify(error="sms_unavailable", message=_("The SMS could not be sent. Try again in a minute.")), 503
    db.session.commit()
    return jsonify(
        phone=crypto.mask(phone), expires_in=int(sms.CODE_TTL.total_seconds()), resend_after=sms.RESEND_SECONDS
    ), 202


@operation(
    "store_api",
    "POST",
    "/tokens/sms",
    "loginWithSmsCode",
    "Sign a shopper in with the code from sendSmsCode: a token valid in this store only. A number the "
    "store does not know yet becomes a new account (sign-up)",
    tag="shoppers",
    auth=None,
    body=obj(
        {"phone": string(20), "code": string(12), "nickname": string(40), "privacy_consent": CONSENT}, ["phone", "code"]
    ),
    responses={
        "201": returns("A shopper token", SMS_SIGNED_IN),
        "422": {"$ref": "#/components/responses/ValidationFailed"},
        "503": "The store is not open yet",
    },
)
@login_limits
def login_with_sms_code():
    closed = _open_store_only()
    if closed:
        return closed
    customer, created = customers.sign_in_with_code(request.get_json())
    token = sessions.issue(customer, "token")
    db.session.commit()
    return jsonify(customer=_customer_json(customer), token=token, created=created), 201


@operation(
    "store_api",
    "GET",
    "/me",
    "getCustomer",
    "The signed-in shopper",
    tag="shoppers",
    auth="shopper",
    responses={"200": returns("The shopper", CUSTOMER)},
)
@shopper_required
def me():
    return jsonify(_customer_json(principal("shopper")))


def _customer_json(customer) -> dict:
    login = crypto.decrypt(customer.login_cipher)
    return {
        "id": customer.id,
        "nickname": customer.nickname,
        "login": crypto.mask_email(login) if "@" in login else crypto.mask(login),
    }
