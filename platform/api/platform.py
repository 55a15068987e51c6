"""Platform API: merchant sign-up, tokens, the qualification review queue."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _
from mallow.accounts import sessions
from mallow.accounts.authenticate import authenticate, login_limits
from mallow.accounts.guards import admin_required, bearer_kind, bearer_secret, principal
from mallow.api.registry import obj, operation, returns, schema, shape, string
from mallow.api.views import QUALIFICATION, QUALIFICATIONS, STORE, qualification_json, store_json
from mallow.db import db
from mallow.merchants.signup import signup_merchant
from mallow.qualifications import service
from mallow.qualifications.models import Qualification
from mallow.tenants.models import Store

ERR = {"$ref": "#/components/responses/ValidationFailed"}
_TEXT = {"type": "string"}
SIGNED_UP = schema(
    "MerchantSignup",
    shape(
        {
            "merchant": shape({"id": {"type": "integer"}, "email": _TEXT, "name": _TEXT}),
            "store": STORE,
            "token": {**_TEXT, "description": "a merchant token (shown once)"},
        }
    ),
)
TOKEN = schema(
    "Token",
    shape(
        {
            "token": {**_TEXT, "description": "shown once"},
            "principal": {"type": "string", "enum": ["merchant", "admin"]},
            "store": {"type": ["string", "null"], "description": "the store it is limited to"},
        }
    ),
)


@operation(
    "api",
    "POST",
    "/merchants",
    "signupMerchant",
    "Sign up as a merchant and create a pending store",
    tag="merchants",
    auth=None,
    body=obj(
        {
            "email": string(254, format="email"),
            "password": string(128),
            "name": string(60),
            "store_name": string(60),
            "slug": string(32),
            "main_category": string(40),
        },
        ["email", "password", "name", "store_name", "slug", "main_category"],
    ),
    responses={"201": returns("Merchant, store (pending) and a merchant token", SIGNED_UP), "422": ERR},
)
def signup():
    merchant, store = signup_merchant(request.get_json())
    token = sessions.issue(merchant, "token")
    db.session.commit()
    return jsonify(
        merchant={"id": merchant.id, "email": merchant.email, "name": merchant.name},
        store=store_json(store),
        token=token,
    ), 201


@operation(
    "api",
    "POST",
    "/tokens",
    "createToken",
    "Exchange an e-mail and password for a bearer token",
    tag="auth",
    auth=None,
    body=obj(
        {
            "email": string(254),
            "password": string(128),
            "principal": {"type": "string", "enum": ["merchant", "admin"], "default": "merchant"},
            "store": string(32, description="limit a merchant token to this store (slug)"),
        },
        ["email", "password"],
    ),
    responses={
        "201": returns("The token (shown once)", TOKEN),
        "401": "Wrong e-mail or password",
        "422": "No such store (fields.store)",
        "429": "Too many attempts",
    },
)
@login_limits
def create_token():
    data = request.get_json()
    kind = data.get("principal", "merchant")
    account = authenticate(kind, data["email"], data["password"])
    if account is None:
        return jsonify(error="unauthenticated", message=_("Wrong e-mail address or password.")), 401
    store_id = None
    if kind == "merchant" and data.get("store"):
        store = db.session.execute(db.select(Store).filter_by(slug=data["store"])).scalar_one_or_none()
        if store is None:
            return jsonify(
                error="validation_failed",
                message=_("Some fields need attention."),
                fields={"store": {"code": "unknown", "message": _("No such store.")}},
            ), 422
        store_id = store.id
    token = sessions.issue(account, "token", store_id=store_id)
    db.session.commit()
    return jsonify(token=token, principal=kind, store=data.get("store")), 201


@operation(
    "api",
    "DELETE",
    "/tokens/current",
    "deleteToken",
    "Revoke the token sent with this request",
    tag="auth",
    auth=None,
    responses={"204": "Revoked"},
)
def delete_token():
    secret, kind = bearer_secret(), bearer_kind()
    if kind in ("admin", "merchant"):
        sessions.revoke(kind, secret)
        db.session.commit()
    return "", 204


@operation(
    "api",
    "GET",
    "/admin/qualifications",
    "listQualifications",
    "The qualification review queue",
    tag="review",
    auth="admin",
    parameters=[
        {
            "name": "status",
            "in": "query",
            "description": "a status; `reverify`: approved and due for re-verification (oldest due "
            "first); `all`: every qualification",
            "schema": {"type": "string", "default": "submitted", "enum": list(service.QUEUES)},
        }
    ],
    responses={"200": returns("The queue", QUALIFICATIONS)},
)
@admin_required
def list_qualifications():
    status = request.args.get("status", "submitted")
    if status not in service.QUEUES:
        abort(400, "unknown status")
    items = service.review_queue(None if status == "all" else status)
    return jsonify(items=[qualification_json(q, admin=True) for q in items])


@operation(
    "api",
    "POST",
    "/admin/qualifications/<int:qualification_id>/approve",
    "approveQualification",
    "Approve a submission: the store opens",
    tag="review",
    auth="admin",
    body=obj({"reason": string(500)}),
    responses={"200": returns("Approved", QUALIFICATION), "409": "Decided already"},
)
@admin_required
def approve_qualification(qualification_id):
    qualification = service.approve(
        db.get_or_404(Qualification, qualification_id), principal("admin"), request.get_json().get("reason", "")
    )
    return jsonify(qualification_json(qualification, admin=True))


@operation(
    "api",
    "POST",
    "/admin/qualifications/<int:qualification_id>/reject",
    "rejectQualification",
    "Reject a submission with a reason (and reasons per field)",
    tag="review",
    auth="admin",
    body=obj(
        {"reason": string(500), "field_reasons": {"type": "object", "additionalProperties": string(300)}}, ["reason"]
    ),
    responses={"200": returns("Rejected", QUALIFICATION), "409": "Decided already", "422": ERR},
)
@admin_required
def reject_qualification(qualification_id):
    data = request.get_json()
    qualification = service.reject(
        db.get_or_404(Qualification, qualification_id), principal("admin"), data["reason"], data.get("field_reasons")
    )
    return jsonify(qualification_json(qualification, admin=True))
