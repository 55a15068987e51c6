"""Cart, addresses and orders in the store API; order handling in the console API."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required, staff_required
from mallow.api.registry import ID, nullable, obj, operation, returns, schema, shape, string
from mallow.api.views import iso
from mallow.cart import service as carts
from mallow.db import db
from mallow.orders import access, addresses, checkout, export, receipts, service as orders
from mallow.orders.models import ORDER_STATES, Order
from mallow.validation import ValidationFailed

ERR = {"$ref": "#/components/responses/ValidationFailed"}
ITEMS = {
    "type": "array",
    "minItems": 1,
    "maxItems": 50,
    "items": {
        "type": "object",
        "required": ["sku_id", "quantity"],
        "additionalProperties": False,
        "properties": {"sku_id": ID, "quantity": {"type": "integer", "minimum": 1, "maximum": 999}},
    },
}


# --- response schemas (all money is integer fen) ------------------------------------------------

FEN = {"type": "integer", "description": "fen (1 yuan = 100 fen)"}
SIGNED_FEN = {"type": "integer", "description": "fen; a discount is negative"}
TEXT = {"type": "string"}
WHEN = {"type": "string", "format": "date-time"}
_ADJUSTMENT = shape(
    {
        "line_id": nullable({"type": "integer"}),
        "stage": TEXT,
        "source": TEXT,
        "code": TEXT,
        "label": TEXT,
        "amount": SIGNED_FEN,
    },
    optional=("line_id",),
)
PRICED = schema(
    "PricedItems",
    shape(
        {
            "lines": {
                "type": "array",
                "items": shape(
                    {
                        "sku_id": {"type": "integer"},
                        "title": TEXT,
                        "spec": TEXT,
                        "unit_price": FEN,
                        "quantity": {"type": "integer"},
                        "total": FEN,
                        "adjustments": {"type": "array", "items": _ADJUSTMENT},
                    }
                ),
            },
            "adjustments": {"type": "array", "items": _ADJUSTMENT},
            "items_total": FEN,
            "total": {**FEN, "description": "items_total plus every adjustment (of the lines and of the order)"},
            "problems": {
                "type": "array",
                "items": shape({"code": TEXT, "message": TEXT, "line": nullable({"type": "integer"})}),
            },
        }
    ),
)
CART = schema(
    "Cart",
    shape(
        {
            "items": {
                "type": "array",
                "items": shape({"sku_id": {"type": "integer"}, "quantity": {"type": "integer"}}),
            },
            "quote": nullable(PRICED),
            "unavailable": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "SKUs that cannot be bought now (left out of the quote)",
            },
        },
        optional=("unavailable",),
    ),
)
ORDER = schema(
    "Order",
    shape(
        {
            "id": {"type": "integer"},
            "number": TEXT,
            "status": {"type": "string", "enum": list(ORDER_STATES.states)},
            "items_total": FEN,
            "total": {**FEN, "description": "items_total + sum(adjustments.amount)"},
            "refunded_total": FEN,
            "note": TEXT,
            "carrier": nullable(TEXT),
            "tracking_number": nullable(TEXT),
            "created_at": WHEN,
            "pay_deadline": WHEN,
            "test": {
                "type": "boolean",
                "description": "a test order: paid through the sandbox, no money moved "
                "(no commission, not counted in sales)",
            },
            "address": {"type": "object", "description": "the delivery address when ordered (phone masked)"},
            "lines": {
                "type": "array",
                "items": shape(
                    {
                        "id": {"type": "integer"},
                        "sku_id": {"type": "integer"},
                        "product_id": {"type": "integer"},
                        "title": TEXT,
                        "spec": TEXT,
                        "unit_price": FEN,
                        "quantity": {"type": "integer"},
                        "total": FEN,
                    }
                ),
            },
            "adjustments": {"type": "array", "items": _ADJUSTMENT},
            "timeline": {
                "type": "array",
                "items": shape(
                    {
                        "at": WHEN,
                        "kind": TEXT,
                        "by": {"type": "string", "description": "shopper, staff, system, provider, payer"},
                        "detail": {"type": "object"},
                        "actor": {"type": "string", "description": "staff only: who exactly"},
                    },
                    optional=("actor",),
                ),
            },
            "merchant_note": TEXT,
            "customer_id": {"type": "integer"},
        },
        optional=("merchant_note", "customer_id"),
    ),
)
ORDERS = schema("OrderList", shape({"items": {"type": "array", "items": ORDER}}))
_REGION_CODE = nullable(
    {
        "type": "string",
        "description": "GB/T 2260 code (six digits); null: no such level, or an address saved before codes",
    }
)
ADDRESS = schema(
    "Address",
    shape(
        {
            "id": {"type": "integer"},
            "recipient": TEXT,
            "phone": {**TEXT, "description": "masked"},
            "province": TEXT,
            "city": TEXT,
            "district": nullable(TEXT),
            "detail": TEXT,
            "is_default": {"type": "boolean"},
            "province_code": _REGION_CODE,
            "city_code": _REGION_CODE,
            "district_code": _REGION_CODE,
        }
    ),
)


def _event_json(event, for_staff: bool) -> dict:
    """``by``: who did it (shopper, staff, system, provider, payer); staff also see the account."""
    data = {"at": iso(event.at), "kind": event.kind, "by": event.actor.split(":", 1)[0], "detail": event.detail}
    if for_staff:
        data["actor"] = event.actor
    return data


def order_json(order: Order, for_staff: bool = False) -> dict:
    data = {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "items_total": order.items_total,
        "total": order.total,
        "refunded_total": order.refunded_total,
        "note": order.note,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "created_at": iso(order.created_at),
        "pay_deadline": iso(order.pay_deadline),
        "test": bool(order.is_test),
        "address": addresses.read_snapshot(order.address_cipher),
        "lines": receipts.order_lines_json(order),
        "adjustments": receipts.order_adjustments_json(order),
        "timeline": [_event_json(e, for_staff) for e in order.events],
    }
    if for_staff:
        data["merchant_note"] = order.merchant_note
        data["customer_id"] = order.customer_id
    return data


# --- cart -----------------------------------------------------------------------------------


def _cart_json(cart) -> dict:
    """The cart priced through the pipeline. An item that cannot be bought now (taken off the
    shelf, a lapsed permit…) stays in the cart, is named in ``unavailable`` and left out of the
    quote: reading a cart is never a 422."""
    items = [{"sku_id": i.sku_id, "quantity": i.quantity} for i in cart.items] if cart else []
    if not items:
        return {"items": [], "quote": None}
    buyable, unavailable = [], []
    for item in items:
        try:
            carts.sellable_sku(item["sku_id"])
        except ValidationFailed:
            unavailable.append(item["sku_id"])
            continue
        buyable.append(item)
    try:
        quote = checkout.quote(principal("shopper").id if principal("shopper") else None, buyable) if buyable else None
    except ValidationFailed:  # more lines than one order may hold: nothing to quote as one order
        quote = None
    data = {"items": items, "quote": receipts.quote_json(quote) if quote else None}
    if unavailable:
        data["unavailable"] = unavailable
    return data


@operation(
    "store_api",
    "GET",
    "/cart",
    "getCart",
    "The shopper's cart, priced through the pipeline",
    tag="cart",
    auth="shopper",
    responses={"200": returns("The cart and its price", CART)},
)
@shopper_required
def get_cart():
    return jsonify(_cart_json(carts.find(principal("shopper").id, None)))


@operation(
    "store_api",
    "POST",
    "/cart/items",
    "addToCart",
    "Add a SKU to the cart (quantities add up)",
    tag="cart",
    auth="shopper",
    body=obj({"sku_id": ID, "quantity": {"type": "integer", "minimum": 1, "maximum": 999}}, ["sku_id", "quantity"]),
    responses={"201": returns("The cart", CART), "422": ERR},
)
@shopper_required
def add_to_cart():
    data = request.get_json()
    cart = carts.get_or_create(principal("shopper").id, None)
    carts.add(cart, data["sku_id"], data["quantity"])
    db.session.commit()
    return jsonify(_cart_json(cart)), 201


@operation(
    "store_api",
    "PUT",
    "/cart/items/<int:sku_id>",
    "setCartQuantity",
    "Change a quantity (0 removes)",
    tag="cart",
    auth="shopper",
    body=obj({"quantity": {"type": "integer", "minimum": 0, "maximum": 999}}, ["quantity"]),
    responses={"200": returns("The cart", CART)},
)
@shopper_required
def set_cart_quantity(sku_id):
    cart = carts.get_or_create(principal("shopper").id, None)
    carts.set_quantity(cart, sku_id, request.get_json()["quantity"])
    db.session.commit()
    return jsonify(_cart_json(cart))


# --- addresses ------------------------------------------------------------------------------

#: an address: the region by GB/T 2260 codes (checked as a real chain; the names come from the
#: dataset) or, without codes, by names (province and city must be found)
ADDRESS_BODY = obj(
    {k: string(200) for k in ("recipient", "phone", "province", "city", "district", "detail")}
    | {k: nullable(string(6, pattern="^[0-9]{6}$")) for k in addresses.CODE_FIELDS}
    | {"is_default": {"type": "boolean"}},
    ["recipient", "phone", "detail"],
)


@operation(
    "store_api",
    "POST",
    "/addresses",
    "createAddress",
    "Add a delivery address",
    tag="shoppers",
    auth="shopper",
    body=ADDRESS_BODY,
    responses={"201": returns("The address", ADDRESS), "422": ERR},
)
@shopper_required
def create_address():
    address = addresses.create(principal("shopper").id, request.get_json())
    db.session.commit()
    return jsonify(addresses.as_dict(address)), 201


@operation(
    "store_api",
    "GET",
    "/addresses",
    "listAddresses",
    "The shopper's addresses (phone masked)",
    tag="shoppers",
    auth="shopper",
    responses={"200": returns("The addresses", shape({"items": {"type": "array", "items": ADDRESS}}))},
)
@shopper_required
def list_addresses():
    return jsonify(items=[addresses.as_dict(a) for a in addresses.of_customer(principal("shopper").id)])


def _own_address(address_id: int):
    found = addresses.own(principal("shopper").id, address_id)
    if found is None:
        abort(404)
    return found


@operation(
    "store_api",
    "PUT",
    "/addresses/<int:address_id>",
    "updateAddress",
    "Change a delivery address",
    tag="shoppers",
    auth="shopper",
    body=ADDRESS_BODY,
    responses={"200": returns("The address", ADDRESS)},
)
@shopper_required
def update_address(address_id):
    address = addresses.update(_own_address(address_id), request.get_json())
    db.session.commit()
    return jsonify(addresses.as_dict(address))


@operation(
    "store_api",
    "POST",
    "/addresses/<int:address_id>/default",
    "setDefaultAddress",
    "Make an address the default (checkout preselects it)",
    tag="shoppers",
    auth="shopper",
    responses={"200": returns("The address", ADDRESS)},
)
@shopper_required
def set_default_address(address_id):
    address = _own_address(address_id)
    addresses.make_default(address)
    db.session.commit()
    return jsonify(addresses.as_dict(address))


@operation(
    "store_api",
    "DELETE",
    "/addresses/<int:address_id>",
    "deleteAddress",
    "Delete an address (orders keep their own copy; another becomes the default)",
    tag="shoppers",
    auth="shopper",
    responses={"204": "Deleted"},
)
@shopper_required
def delete_address(address_id):
    addresses.delete(_own_address(address_id))
    db.session.commit()
    return "", 204


# --- orders (shopper) -----------------------------------------------------------------------


@operation(
    "store_api",
    "POST",
    "/checkout/quote",
    "quoteOrder",
    "Price items without ordering (the receipt)",
    tag="orders",
    auth="shopper",
    body=obj({"items": ITEMS, "province": string(20)}, ["items"]),
    responses={"200": returns("The receipt, with any problem", PRICED)},
)
@shopper_required
def quote_order():
    data = request.get_json()
    return jsonify(receipts.quote_json(checkout.quote(principal("shopper").id, data["items"], data.get("province"))))


@operation(
    "store_api",
    "POST",
    "/orders",
    "createOrder",
    "Place an order: priced, stock reserved, all or nothing. Send an Idempotency-Key header.",
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
