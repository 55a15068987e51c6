"""Coupons in the API: the merchant console's (create, list, edit, status, issue to shoppers),
the claim centre (public), and the shopper's (claim, their coupons, usable for their cart)."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required, staff_required
from mallow.api.registry import ID, nullable, obj, operation, returns, schema, shape, string
from mallow.api.views import iso
from mallow.cart import service as carts
from mallow.coupons import pricing, rules, service
from mallow.coupons.models import (
    AUTO_ISSUE,
    COUPON_STATES,
    CUSTOMER_COUPON_STATES,
    KINDS,
    MARKETING_PLUGINS,
    SCOPES,
    VALIDITIES,
)

ERR = {"$ref": "#/components/responses/ValidationFailed"}
FEN = {"type": "integer", "description": "fen (1 yuan = 100 fen)"}
WHEN = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}
INT = {"type": "integer"}
_OFFER = {
    "id": INT,
    "name": TEXT,
    "description": TEXT,
    "kind": {"type": "string", "enum": list(KINDS)},
    "offer": {"type": "string", "description": "the offer in words (满 ¥100 减 ¥10…)"},
    "threshold_fen": FEN,
    "amount_fen": nullable(FEN),
    "percent": nullable(INT),
    "cap_fen": nullable(FEN),
    "scope": {"type": "string", "enum": list(SCOPES)},
    "scope_ids": {"type": "array", "items": INT},
    "validity": {"type": "string", "enum": list(VALIDITIES)},
    "starts_at": nullable(WHEN),
    "ends_at": nullable(WHEN),
    "valid_days": nullable(INT),
    "stacks_with": {"type": "array", "items": TEXT},
    "left": INT,
}
COUPON_OFFER = schema("CouponOffer", shape(_OFFER))
COUPON = schema(
    "Coupon",
    shape(
        {
            **_OFFER,
            "total_quantity": INT,
            "per_shopper_limit": INT,
            "issued_count": INT,
            "used_count": INT,
            "status": {"type": "string", "enum": list(COUPON_STATES.states)},
            "auto_issue": nullable(TEXT),
        }
    ),
)
MY_COUPON = schema(
    "MyCoupon",
    shape(
        {
            "id": INT,
            "status": {"type": "string", "enum": list(CUSTOMER_COUPON_STATES.states)},
            "valid_from": WHEN,
            "valid_until": WHEN,
            "order_id": nullable(INT),
            "coupon": COUPON_OFFER,
            "usable": {"type": "boolean", "description": "with ?cart=1: usable on the current cart"},
            "saving": {**FEN, "description": "with ?cart=1: what it takes off the cart"},
            "reason": nullable({"type": "object", "properties": {"code": TEXT, "message": TEXT}}),
        },
        optional=("usable", "saving", "reason"),
    ),
)
CHOICES = schema(
    "CouponChoices",
    shape(
        {
            "selected": nullable({**INT, "description": "the pre-selected (best) coupon's id"}),
            "usable": {"type": "array", "items": MY_COUPON},
            "unusable": {"type": "array", "items": MY_COUPON},
        }
    ),
)
_WRITE = {
    "name": string(40),
    "description": string(200),
    "kind": {"type": "string", "enum": list(KINDS)},
    "threshold_fen": {"type": "integer", "minimum": 1},
    "amount_fen": {"type": "integer", "minimum": 1},
    "percent": {"type": "integer", "minimum": 1, "maximum": 99},
    "cap_fen": {"type": ["integer", "null"], "minimum": 1},
    "scope": {"type": "string", "enum": list(SCOPES)},
    "scope_ids": {"type": "array", "items": ID, "maxItems": 500},
    "validity": {"type": "string", "enum": list(VALIDITIES)},
    "starts_at": {"type": ["string", "null"], "maxLength": 40},
    "ends_at": {"type": ["string", "null"], "maxLength": 40},
    "valid_days": {"type": "integer", "minimum": 1, "maximum": 365},
    "total_quantity": {"type": "integer", "minimum": 1, "maximum": service.MAX_QUANTITY},
    "per_shopper_limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "stacks_with": {"type": "array", "items": {"type": "string", "enum": list(MARKETING_PLUGINS)}},
    "auto_issue": {"type": ["string", "null"], "enum": [*AUTO_ISSUE, None]},
}
REFUSED = returns(
    "The coupon cannot be claimed (sold_out, limit_reached, not_started, ended, not_found)",
    shape({"error": TEXT, "message": TEXT}),
)


def offer_json(coupon) -> dict:
    return {
        "id": coupon.id,
        "name": coupon.name,
        "description": coupon.description or "",
        "kind": coupon.kind,
        "offer": rules.describe(coupon),
        "threshold_fen": int(coupon.threshold_fen or 0),
        "amount_fen": coupon.amount_fen,
        "percent": coupon.percent,
        "cap_fen": coupon.cap_fen,
        "scope": coupon.scope,
        "scope_ids": list(coupon.scope_ids or []),
        "validity": coupon.validity,
        "starts_at": iso(coupon.starts_at),
        "ends_at": iso(coupon.ends_at),
        "valid_days": coupon.valid_days,
        "stacks_with": list(coupon.stacks_with or []),
        "left": max(0, coupon.total_quantity - coupon.issued_count),
    }


def coupon_json(coupon) -> dict:
    return offer_json(coupon) | {
        "total_quantity": coupon.total_quantity,
        "per_shopper_limit": coupon.per_shopper_limit,
        "issued_count": coupon.issued_count,
        "used_count": coupon.used_count,
        "status": coupon.status,
        "auto_issue": coupon.auto_issue,
    }


def holding_json(holding, verdict: rules.Verdict | None = None) -> dict:
    data = {
        "id": holding.id,
        "status": holding.status,
        "valid_from": iso(holding.valid_from),
        "valid_until": iso(holding.valid_until),
        "order_id": holding.order_id,
        "coupon": offer_json(holding.coupon),
    }
    if verdict is not None:
        data["usable"] = verdict.usable
        data["saving"] = verdict.saving
        data["reason"] = None if verdict.usable else {"code": verdict.code, "message": str(verdict.message)}
    return data


def choices_json(found: service.Choices) -> dict:
    best = found.best
    return {
        "selected": best.holding.id if best is not None else None,
        "usable": [holding_json(o.holding, o.verdict) for o in found.usable],
        "unusable": [holding_json(o.holding, o.verdict) for o in found.unusable],
    }


def _coupon_or_404(coupon_id):
    coupon = service.get_coupon(coupon_id)
    if coupon is None:
        abort(404)
    return coupon


# --- the merchant console -------------------------------------------------------------------


@operation(
    "console_api",
    "POST",
    "/coupons",
    "createCoupon",
    "Create a coupon (draft, or active with status=active); name and description are screened for Advertising-Law terms",
    tag="coupons",
    auth="merchant",
    body=obj({**_WRITE, "status": {"type": "string", "enum": ["draft", "active"]}}, ["name", "kind", "total_quantity"]),
    responses={"201": returns("The coupon", COUPON), "422": ERR},
)
@staff_required
def create_coupon():
    return jsonify(coupon_json(service.create_coupon(request.get_json()))), 201


@operation(
    "console_api",
    "GET",
    "/coupons",
    "listCoupons",
    "The store's coupons, newest first",
    tag="coupons",
    auth="merchant",
    parameters=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(COUPON_STATES.states)}}],
    responses={"200": returns("The coupons (at most 500)", {"type": "array", "items": COUPON})},
)
@staff_required
def list_coupons():
    status = request.args.get("status")
    if status and status not in COUPON_STATES.states:
        status = None
    return jsonify([coupon_json(c) for c in service.list_coupons(status)])


@operation(
    "console_api",
    "PATCH",
    "/coupons/<int:coupon_id>",
    "updateCoupon",
    "Change a coupon (once shoppers hold it: name, description, quantities, end, auto-issue only)",
    tag="coupons",
    auth="merchant",
    body=obj(_WRITE),
    responses={"200": returns("The coupon", COUPON), "404": "No such coupon", "422": ERR},
)
@staff_required
def update_coupon(coupon_id):
    return jsonify(coupon_json(service.update_coupon(_coupon_or_404(coupon_id), request.get_json())))


@operation(
    "console_api",
    "POST",
    "/coupons/<int:coupon_id>/status",
    "setCouponStatus",
    "Activate, pause or end a coupon (holders keep theirs)",
    tag="coupons",
    auth="merchant",
    body=obj({"status": {"type": "string", "enum": ["active", "paused", "ended"]}}, ["status"]),
    responses={"200": returns("The coupon", COUPON), "404": "No such coupon", "422": ERR},
)
@staff_required
def set_coupon_status(coupon_id):
    return jsonify(coupon_json(service.set_status(_coupon_or_404(coupon_id), request.get_json()["status"])))


@operation(
    "console_api",
    "POST",
    "/coupons/<int:coupon_id>/issue",
    "issueCoupon",
    "Give the coupon to a list of shoppers (a job; their limit and the total hold)",
    tag="coupons",
    auth="merchant",
    body=obj({"customer_ids": {"type": "array", "items": ID, "minItems": 1, "maxItems": 10000}}, ["customer_ids"]),
    responses={"202": returns("Queued", shape({"batch": TEXT, "customers": INT})), "404": "No such coupon"},
)
@staff_required
def issue_coupon(coupon_id):
    coupon = _coupon_or_404(coupon_id)
    ids = request.get_json()["customer_ids"]
    return jsonify(batch=service.queue_issue(coupon.id, ids), customers=len(set(ids))), 202


# --- the claim centre and the shopper's coupons -----------------------------------------------


@operation(
    "store_api",
    "GET",
    "/coupons/claimable",
    "listClaimableCoupons",
    "The claim centre (领券中心): coupons that can be claimed now",
    tag="coupons",
    auth=None,
    responses={"200": returns("The coupons", {"type": "array", "items": COUPON_OFFER})},
)
def list_claimable_coupons():
    return jsonify([offer_json(c) for c in service.claimable()])


@operation(
    "store_api",
    "POST",
    "/coupons/<int:coupon_id>/claim",
    "claimCoupon",
    "Claim a coupon (its window, what is left and the per-shopper limit hold)",
    tag="coupons",
    auth="shopper",
    responses={"201": returns("The shopper's coupon", MY_COUPON), "409": REFUSED, "404": REFUSED},
    validate=False,
)
@shopper_required
def claim_coupon(coupon_id):
    try:
        holding = service.claim(principal("shopper").id, coupon_id)
    except service.ClaimRefused as refused:
        return jsonify(error=refused.code, message=str(refused.message)), 404 if refused.code == "not_found" else 409
    return jsonify(holding_json(holding)), 201


@operation(
    "store_api",
    "GET",
    "/coupons/mine",
    "listMyCoupons",
    "The shopper's coupons; with cart=1 each says whether it can be used on the current cart, and why not",
    tag="coupons",
    auth="shopper",
    parameters=[
        {"name": "cart", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(CUSTOMER_COUPON_STATES.states)}},
    ],
    responses={
        "200": returns(
            "The coupons (with cart=1: the choices for the cart)",
            {"anyOf": [{"type": "array", "items": MY_COUPON}, CHOICES]},
        )
    },
)
@shopper_required
def list_my_coupons():
    customer_id = principal("shopper").id
    if request.args.get("cart") == "1":
        items, found = carts.lines_with_skus(customer_id)
        return jsonify(choices_json(pricing.choices_for_items(customer_id, items, found)))
    status = request.args.get("status")
    if status and status not in CUSTOMER_COUPON_STATES.states:
        return jsonify(error="bad_query", message=_("This value is not valid.")), 400
    return jsonify([holding_json(h) for h in service.my_coupons(customer_id, status)])
