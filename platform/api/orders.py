"""Orders in the API: the shopper's (quote, place, list, cancel, confirm) in the store API, the
store's order handling (list, ship, note, CSV export) in the console API."""

from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required, staff_required
from mallow.api.coupons import choices_json
from mallow.api.order_shapes import ERR, ITEMS, ORDER, ORDERS, PRICED, order_json
from mallow.api.registry import ID, obj, operation, returns, string
from mallow.coupons import pricing as coupon_pricing
from mallow.db import db
from mallow.membership import pricing as membership_pricing
from mallow.orders import access, checkout, export, receipts
from mallow.orders import service as orders
from mallow.orders.models import ORDER_STATES, Order
from mallow.pricing import pipeline

# --- orders (shopper) -----------------------------------------------------------------------


@operation(
    "store_api",
    "POST",
    "/checkout/quote",
    "quoteOrder",
    "Price items without ordering (the receipt). The shopper's coupons come with it: without "
    'options.coupon the best one is pre-selected and applied (send its id, or "none", with createOrder). '
    'options.points (a number of points, "max" or "none") redeems points; the answer\'s "points" says the '
    "balance, the most usable and their value (value_fen), and what is applied (applied, applied_fen)",
    tag="orders",
    auth="shopper",
    body=obj({"items": ITEMS, "province": string(20), "options": {"type": "object"}}, ["items"]),
    responses={"200": returns("The receipt, with any problem, and the coupon choices (coupons)", PRICED)},
)
@shopper_required
def quote_order():
    data = request.get_json()
    options = dict(data.get("options") or {})
    options.setdefault(coupon_pricing.OPTION, "best")
    context = checkout.build_context(principal("shopper").id, data["items"], data.get("province"), options)
    priced = pipeline.price(context)
    answer = receipts.quote_json(priced)
    decision = coupon_pricing.decide(context)
    found = decision.choices if decision is not None else None
    coupons = choices_json(found) if found is not None else {"selected": None, "usable": [], "unusable": []}
    coupons["selected"] = decision.holding_id if decision is not None else None
    return jsonify(answer | {"coupons": coupons, "points": membership_pricing.quote_points(context, priced)})


@operation(
    "store_api",
    "POST",
    "/orders",
    "createOrder",
    "Place an order: priced, stock reserved, all or nothing. Send an Idempotency-Key header. options: "
    '"coupon" and "points" as quoteOrder takes them (the points are debited with the order)',
    tag="orders",
    auth="shopper",
    body=obj(
        {"items": ITEMS, "address_id": ID, "note": string(200), "options": {"type": "object"}}, ["items", "address_id"]
    ),
    parameters=[{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 80}}],
    responses={
        "201": returns("The order", ORDER),
        "200": returns("The order first created with this Idempotency-Key", ORDER),
        "409": "Sold out",
        "422": ERR,
    },
)
@shopper_required
def create_order():
    data = request.get_json()
    try:
        order, created = checkout.place_order(
            principal("shopper"),
            data["items"],
            data["address_id"],
            data.get("note", ""),
            request.headers.get("Idempotency-Key"),
            data.get("options"),
        )
    except checkout.SoldOut as sold_out:
        return jsonify(
            error="sold_out", message=_("%(title)s is sold out.", title=sold_out.title), sku_id=sold_out.sku_id
        ), 409
    except checkout.IdempotencyConflict:
        return jsonify(
            error="idempotency_conflict", message=_("This Idempotency-Key was used for a different order.")
        ), 422
    except checkout.CheckoutProblems as problems:
        return jsonify(
            error="checkout_problems",
            message=_("The order cannot be placed."),
            problems=[{"code": p.code, "message": str(p.message), "line": p.line_index} for p in problems.problems],
        ), 422
    return jsonify(order_json(order)), 201 if created else 200


@operation(
    "store_api",
    "GET",
    "/orders",
    "listOrders",
    "The shopper's orders, newest first",
    tag="orders",
    auth="shopper",
    parameters=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(ORDER_STATES.states)}}],
    responses={"200": returns("The orders (at most 100)", ORDERS)},
)
@shopper_required
def list_orders():
    query = sa.select(Order).where(Order.customer_id == principal("shopper").id).order_by(Order.id.desc()).limit(100)
    if request.args.get("status"):
        query = query.where(Order.status == request.args["status"])
    return jsonify(items=[order_json(o) for o in db.session.execute(query).scalars()])


@operation(
    "store_api",
    "GET",
    "/orders/<int:order_id>",
    "getOrder",
    "One order with its receipt and timeline",
    tag="orders",
    auth="shopper",
    responses={"200": returns("The order", ORDER), "404": "Not the shopper's"},
)
@shopper_required
def get_order(order_id):
    return jsonify(order_json(access.own_order(order_id)))


@operation(
    "store_api",
    "POST",
    "/orders/<int:order_id>/cancel",
    "cancelOrder",
    "Cancel an unpaid order",
    tag="orders",
    auth="shopper",
    responses={"200": returns("Cancelled", ORDER), "409": "Not cancellable any more"},
)
@shopper_required
def cancel_order(order_id):
    order = access.own_order(order_id)
    ORDER_STATES.check(order.status, "cancelled")
    orders.cancel(order, f"shopper:{order.customer_id}", "shopper")
    db.session.commit()
    return jsonify(order_json(order))


@operation(
    "store_api",
    "POST",
    "/orders/<int:order_id>/confirm",
    "confirmDelivery",
    "Confirm the goods arrived",
    tag="orders",
    auth="shopper",
    responses={"200": returns("Delivered", ORDER), "409": "Not shipped"},
)
@shopper_required
def confirm_delivery(order_id):
    order = access.own_order(order_id)
    return jsonify(order_json(orders.confirm_delivery(order, f"shopper:{order.customer_id}")))


# --- orders (merchant console) --------------------------------------------------------------


@operation(
    "console_api",
    "GET",
    "/orders",
    "listStoreOrders",
    "Orders of the store, filtered",
    tag="orders",
    auth="merchant",
    parameters=[
        {"name": "status", "in": "query", "schema": {"type": "string"}},
        {"name": "number", "in": "query", "schema": {"type": "string"}},
    ],
    responses={"200": returns("The orders (at most 200)", ORDERS)},
)
@staff_required
def list_store_orders():
    found = db.session.execute(access.store_orders(request.args).limit(200)).scalars()
    return jsonify(items=[order_json(o, True) for o in found])


@operation(
    "console_api",
    "GET",
    "/orders/<int:order_id>",
    "getStoreOrder",
    "One order of the store",
    tag="orders",
    auth="merchant",
    responses={"200": returns("The order", ORDER)},
)
@staff_required
def get_store_order(order_id):
    return jsonify(order_json(access.store_order(order_id), True))


@operation(
    "console_api",
    "POST",
    "/orders/<int:order_id>/ship",
    "shipOrder",
    "Ship a paid order",
    tag="orders",
    auth="merchant",
    body=obj({"carrier": string(40), "tracking_number": string(64)}, ["carrier", "tracking_number"]),
    responses={"200": returns("The shipped order", ORDER), "409": "Not paid", "422": ERR},
)
@staff_required
def ship_order(order_id):
    order = orders.ship(access.store_order(order_id), access.staff_actor(), request.get_json())
    return jsonify(order_json(order, True))


@operation(
    "console_api",
    "POST",
    "/orders/<int:order_id>/note",
    "noteOrder",
    "Set the merchant's note",
    tag="orders",
    auth="merchant",
    body=obj({"note": string(500)}, ["note"]),
    responses={"200": returns("The order", ORDER)},
)
@staff_required
def note_order(order_id):
    order = orders.add_note(access.store_order(order_id), access.staff_actor(), request.get_json()["note"])
    return jsonify(order_json(order, True))


@operation(
    "console_api",
    "GET",
    "/orders.csv",
    "exportOrders",
    "The filtered orders as CSV (UTF-8 with BOM); `test` is 1 for a test order (paid through the sandbox)",
    tag="orders",
    auth="merchant",
    responses={"200": {"description": "CSV", "content": {"text/csv": {}}}},
)
@staff_required
def export_orders():
    return export.csv_response(access.store_orders(request.args))
