"""After-sales in the store API (shopper) and the console API (merchant)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, jsonify, request, send_file

from mallow.accounts.guards import principal, shopper_required, staff_required
from mallow.aftersales import service
from mallow.aftersales.models import AFTERSALE_STATES, AfterSale
from mallow.api.order_shapes import FEN, WHEN
from mallow.api.registry import nullable, obj, operation, returns, schema, shape, string
from mallow.api.views import iso
from mallow.db import db
from mallow.media.images import absolute_path
from mallow.media.upload_limits import BUSY_RESPONSE, STORAGE_FULL_RESPONSE
from mallow.orders import access
from mallow.payments.models import Refund
from mallow.web.ids import ID_MAX

ERR = {"$ref": "#/components/responses/ValidationFailed"}
_TEXT = {"type": "string"}
AFTERSALE = schema(
    "AfterSale",
    shape(
        {
            "id": {"type": "integer"},
            "order_id": {"type": "integer"},
            "kind": {"type": "string", "enum": list(service.KINDS)},
            "status": {"type": "string", "enum": list(AFTERSALE_STATES.states)},
            "amount": FEN,
            "reason": _TEXT,
            "photos": {"type": "integer", "description": "how many"},
            "merchant_reason": nullable(_TEXT),
            "return_carrier": nullable(_TEXT),
            "return_tracking_number": nullable(_TEXT),
            "created_at": WHEN,
            "decide_by": WHEN,
            "decided_at": nullable(WHEN),
            "refunds": {"type": "array", "items": shape({"out_refund_no": _TEXT, "amount": FEN, "status": _TEXT})},
            "customer_id": {"type": "integer"},
        },
        optional=("customer_id",),
    ),
)
AFTERSALES = schema("AfterSaleList", shape({"items": {"type": "array", "items": AFTERSALE}}))


def aftersale_json(aftersale: AfterSale, for_staff: bool = False) -> dict:
    refunds = db.session.execute(
        sa.select(Refund).where(Refund.aftersale_id == aftersale.id).order_by(Refund.id)
    ).scalars()
    data = {
        "id": aftersale.id,
        "order_id": aftersale.order_id,
        "kind": aftersale.kind,
        "status": aftersale.status,
        "amount": aftersale.amount,
        "reason": aftersale.reason,
        "photos": len(aftersale.photos or []),
        "merchant_reason": aftersale.merchant_reason,
        "return_carrier": aftersale.return_carrier,
        "return_tracking_number": aftersale.return_tracking_number,
        "created_at": iso(aftersale.created_at),
        "decide_by": iso(aftersale.decide_by),
        "decided_at": iso(aftersale.decided_at),
        "refunds": [{"out_refund_no": r.out_refund_no, "amount": r.amount, "status": r.status} for r in refunds],
    }
    if for_staff:
        data["customer_id"] = aftersale.customer_id
    return data


def _problem(problem: service.AfterSaleProblem):
    return jsonify(error=problem.code, message=str(problem.message)), problem.status


# --- shopper ------------------------------------------------------------------------------------


@operation(
    "store_api",
    "POST",
    "/orders/<int:order_id>/aftersales",
    "requestAfterSale",
    "Ask for a refund (refund_only) or a return and refund (return_refund) on a paid, shipped or "
    "delivered order (after delivery: within the store's after-sales window). multipart/form-data with "
    "up to 6 photos, or JSON without photos. The amount (fen) defaults to all that is left.",
    tag="aftersales",
    auth="shopper",
    body_type="multipart/form-data",
    body=obj(
        {
            "kind": {"type": "string", "enum": list(service.KINDS)},
            "reason": string(200),
            "amount": {"type": "integer", "minimum": 1},
            "photos": {
                "type": "array",
                "maxItems": service.MAX_PHOTOS,
                "items": {"type": "string", "format": "binary"},
            },
        },
        ["kind", "reason"],
    ),
    responses={
        "201": returns("The request", AFTERSALE),
        "409": "Not eligible, or a request is already in progress",
        "422": ERR,
        "503": BUSY_RESPONSE,
        "507": STORAGE_FULL_RESPONSE,
    },
)
@shopper_required
def request_aftersale(order_id):
    customer, order = principal("shopper"), access.own_order(order_id)
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "getlist"):
        data = {}
    try:
        aftersale = service.request(customer, order, data, request.files)
    except service.AfterSaleProblem as problem:
        return _problem(problem)
    return jsonify(aftersale_json(aftersale)), 201


def _own_aftersale(aftersale_id: int) -> AfterSale:
    aftersale = db.session.get(AfterSale, aftersale_id)
    if aftersale is None or aftersale.customer_id != principal("shopper").id:
        abort(404)
    return aftersale


@operation(
    "store_api",
    "GET",
    "/aftersales",
    "listAfterSales",
    "The shopper's after-sales requests, newest first",
    tag="aftersales",
    auth="shopper",
    responses={"200": returns("The requests", AFTERSALES)},
)
@shopper_required
def list_aftersales():
    return jsonify(items=[aftersale_json(a) for a in service.of_customer(principal("shopper").id)])


@operation(
    "store_api",
    "GET",
    "/aftersales/<int:aftersale_id>",
    "getAfterSale",
    "One of the shopper's requests",
    tag="aftersales",
    auth="shopper",
    responses={"200": returns("The request", AFTERSALE)},
)
@shopper_required
def get_aftersale(aftersale_id):
    return jsonify(aftersale_json(_own_aftersale(aftersale_id)))


@operation(
    "store_api",
    "POST",
    "/aftersales/<int:aftersale_id>/withdraw",
    "withdrawAfterSale",
    "Withdraw a request the merchant has not decided yet",
    tag="aftersales",
    auth="shopper",
    responses={"200": returns("Withdrawn", AFTERSALE), "409": "Already decided"},
)
@shopper_required
def withdraw_aftersale(aftersale_id):
    return jsonify(aftersale_json(service.withdraw(_own_aftersale(aftersale_id), access.shopper_actor())))


@operation(
    "store_api",
    "POST",
    "/aftersales/<int:aftersale_id>/return",
    "shipReturn",
    "Send the goods back (an approved return_refund): carrier and tracking number",
    tag="aftersales",
    auth="shopper",
    body=obj({"carrier": string(40), "tracking_number": string(64)}, ["carrier", "tracking_number"]),
    responses={"200": returns("Recorded", AFTERSALE), "409": "Not waiting for a return", "422": ERR},
)
@shopper_required
def ship_return(aftersale_id):
    try:
        aftersale = service.ship_return(_own_aftersale(aftersale_id), access.shopper_actor(), request.get_json())
    except service.AfterSaleProblem as problem:
        return _problem(problem)
    return jsonify(aftersale_json(aftersale))


# --- merchant -----------------------------------------------------------------------------------


@operation(
    "console_api",
    "GET",
    "/aftersales",
    "listStoreAfterSales",
    "The store's after-sales requests",
    tag="aftersales",
    auth="merchant",
    parameters=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(AFTERSALE_STATES.states)}}],
    responses={"200": returns("The requests", AFTERSALES)},
)
@staff_required
def list_store_aftersales():
    status = request.args.get("status")
    if status and status not in AFTERSALE_STATES.states:
        abort(400, "unknown status")
    return jsonify(items=[aftersale_json(a, True) for a in service.of_store(status)])


@operation(
    "console_api",
    "GET",
    "/aftersales/<int:aftersale_id>",
    "getStoreAfterSale",
    "One after-sales request",
    tag="aftersales",
    auth="merchant",
    responses={"200": returns("The request", AFTERSALE)},
)
@staff_required
def get_store_aftersale(aftersale_id):
    return jsonify(aftersale_json(db.get_or_404(AfterSale, aftersale_id), True))


@operation(
    "console_api",
    "GET",
    "/aftersales/<int:aftersale_id>/photos/<int(min=0):index>",
    "getAfterSalePhoto",
    "A photo of an after-sales request (index from 0)",
    tag="aftersales",
    auth="merchant",
    parameters=[
        {
            "name": "index",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
        }
    ],
    responses={"200": {"description": "The image", "content": {"image/*": {}}}},
)
@staff_required
def get_aftersale_photo(aftersale_id, index):
    aftersale = db.get_or_404(AfterSale, aftersale_id)
    photos = aftersale.photos or []
    path = absolute_path(photos[index]) if 0 <= index < len(photos) else None
    if path is None:
        abort(404)
    return send_file(path, max_age=0)


@operation(
    "console_api",
    "POST",
    "/aftersales/<int:aftersale_id>/decision",
    "decideAfterSale",
    "Approve or reject a request (a rejection needs a reason). Approving a refund_only request refunds "
    "through the payment provider at once; a return_refund waits for the goods (confirmReturn).",
    tag="aftersales",
    auth="merchant",
    body=obj({"approve": {"type": "boolean"}, "reason": string(200)}, ["approve"]),
    responses={"200": returns("The decided request", AFTERSALE), "409": "Already decided", "422": ERR},
)
@staff_required
def decide_aftersale(aftersale_id):
    data = request.get_json()
    aftersale = service.decide(
        db.get_or_404(AfterSale, aftersale_id), access.staff_actor(), data["approve"], data.get("reason", "")
    )
    return jsonify(aftersale_json(aftersale, True))


@operation(
    "console_api",
    "POST",
    "/aftersales/<int:aftersale_id>/confirm-return",
    "confirmReturn",
    "The returned goods arrived: their stock comes back and the refund is made",
    tag="aftersales",
    auth="merchant",
    responses={"200": returns("Returned and refunding", AFTERSALE), "409": "Not an approved return"},
)
@staff_required
def confirm_return(aftersale_id):
    try:
        aftersale = service.confirm_return(db.get_or_404(AfterSale, aftersale_id), access.staff_actor())
    except service.AfterSaleProblem as problem:
        return _problem(problem)
    return jsonify(aftersale_json(aftersale, True))
