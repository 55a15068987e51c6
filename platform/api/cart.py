"""The shopper's cart in the store API, priced through the pipeline."""

from __future__ import annotations

from flask import jsonify, request

from mallow.accounts.guards import principal, shopper_required
from mallow.api.order_shapes import CART, ERR
from mallow.api.registry import ID, obj, operation, returns
from mallow.cart import service as carts
from mallow.db import db
from mallow.orders import checkout, receipts
from mallow.validation import ValidationFailed


def _lines(cart) -> list[dict]:
    """The cart's lines as plain data."""
    return [{"sku_id": i.sku_id, "quantity": i.quantity} for i in cart.items] if cart else []


def _cart_json(customer_id: int, items: list[dict], found: dict[int, tuple] | None = None) -> dict:
    """The cart priced through the pipeline. An item that cannot be bought now (taken off the
    shelf, a lapsed permit…) stays in the cart, is named in ``unavailable`` and left out of the
    quote: reading a cart is never a 422. The whole cart is quoted first (the quote checks every
    line, in one statement, or in none with ``found``: the SKUs read with the cart's lines by
    :func:`mallow.cart.service.lines_with_skus`); only a refused quote costs the check line by
    line."""
    if not items:
        return {"items": [], "quote": None}
    try:
        priced = checkout.quote(customer_id, items) if found is None else checkout.quote_read(customer_id, items, found)
        return {"items": items, "quote": receipts.quote_json(priced)}
    except ValidationFailed:  # a line not for sale now, or more lines than one order may hold
        pass
    sellable = carts.sellable_skus(item["sku_id"] for item in items)
    buyable = [item for item in items if item["sku_id"] in sellable]
    unavailable = [item["sku_id"] for item in items if item["sku_id"] not in sellable]
    quote = None
    if buyable and unavailable:
        try:
            quote = checkout.quote(customer_id, buyable)
        except ValidationFailed:  # still more lines than one order may hold
            pass
    data = {"items": items, "quote": receipts.quote_json(quote) if quote else None}
    if unavailable:
        data["unavailable"] = unavailable
    return data


def _committing(data: dict) -> dict:
    """Commit the cart's change and answer ``data``: the cart as it is committed, priced inside
    the same transaction (pricing after the commit would take a connection, a transaction and,
    on SQLite, the store's lock again, for rows this transaction reads already)."""
    db.session.commit()
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
    customer_id = principal("shopper").id
    return jsonify(_cart_json(customer_id, *carts.lines_with_skus(customer_id)))


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
    customer_id = principal("shopper").id
    cart = carts.get_or_create(customer_id, None)
    carts.add(cart, data["sku_id"], data["quantity"])
    return jsonify(_committing(_cart_json(customer_id, _lines(cart)))), 201


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
    customer_id = principal("shopper").id
    lines = carts.set_quantity_and_read(customer_id, sku_id, request.get_json()["quantity"])
    return jsonify(_committing(_cart_json(customer_id, *lines)))
