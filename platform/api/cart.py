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
