"""The storefront's cart pages (routes on the ``storefront`` blueprint): the cart, adding to it,
changing a line, and 立即购买 (buy now) from the product page.

Server-rendered and usable without JavaScript; every form carries the CSRF token. Which cart a
request has (the shopper's, else the guest's by its cookie) is :mod:`mallow.cart.current`'s
word; its cookie is set or forgotten after every storefront request
(:func:`mallow.cart.current.update_cookie`, hooked on the blueprint here).
"""

from __future__ import annotations

import re

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _

from mallow.cart import current, service as carts
from mallow.catalog.models import Product, Sku
from mallow.db import db
from mallow.orders import checkout
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import storefront as bp

bp.after_request(current.update_cookie)


def cart_rows(cart) -> tuple[list[dict], list[dict]]:
    """The cart's lines for display, and the items that may be bought now."""
    rows, buyable = [], []
    for item in cart.items if cart is not None else []:
        sku = db.session.get(Sku, item.sku_id)
        product = db.session.get(Product, sku.product_id) if sku else None
        available = bool(sku and product and sku.active and product.status == "on_shelf")
        rows.append(
            {
                "sku_id": item.sku_id,
                "quantity": item.quantity,
                "sku": sku,
                "product": product,
                "available": available,
                "short": available and item.quantity > sku.stock,
            }
        )
        if available:
            buyable.append({"sku_id": item.sku_id, "quantity": item.quantity})
    return rows, buyable


def quote(items: list[dict], province: str | None = None):
    """The priced items, or ``(None, message)`` when they cannot be priced at all."""
    if not items:
        return None, None
    try:
        return checkout.quote(current.shopper_id(), items, province), None
    except ValidationFailed as failed:
        return None, "; ".join(message for _code, message in failed.errors.values())


def _render_cart(status: int = 200, errors: ValidationFailed | None = None):
    cart = current.current_cart()
    rows, buyable = cart_rows(cart)
    priced, problem = quote(buyable)
    totals = {p.line.sku_id: p.total for p in priced.lines} if priced else {}
    return render_form(
        "storefront/cart.html",
        status=status,
        errors=errors,
        rows=rows,
        totals=totals,
        subtotal=sum(totals.values()),
        problem=problem,
        can_checkout=bool(buyable) and priced is not None and not any(r["short"] for r in rows),
    )


@bp.get("/cart")
def cart():
    return _render_cart()


@bp.post("/cart/items")
def add_to_cart():
    """Add ``sku_id`` × ``quantity`` (from the product page or the cart page)."""
    try:
        carts.add(current.current_cart(create=True), request.form.get("sku_id"), request.form.get("quantity", "1"))
    except ValidationFailed as failed:
        db.session.rollback()
        g.pop("mallow_new_cart_token", None)
        return _render_cart(errors=failed)
    db.session.commit()
    flash(_("Added to your cart."), "success")
    return redirect(url_for("storefront.cart")), 303


@bp.post("/cart/items/<int:sku_id>")
def update_cart_item(sku_id):
    """Change a line's quantity; the Remove button (or quantity 0) takes it out."""
    cart = current.current_cart()
    if cart is None:
        return redirect(url_for("storefront.cart")), 303
    quantity = "0" if request.form.get("action") == "remove" else request.form.get("quantity", "")
    try:
        if not re.fullmatch(r"\s*\d{1,4}\s*", quantity or ""):
            raise ValidationFailed(
                {"quantity": ("invalid", _("Enter a quantity from 1 to %(max)s.", max=carts.MAX_QUANTITY))}
            )
        sku = db.session.get(Sku, sku_id)
        if sku is not None and int(quantity) > sku.stock:
            raise ValidationFailed({"quantity": ("not_enough_stock", _("Only %(stock)s left.", stock=sku.stock))})
        carts.set_quantity(cart, sku_id, int(quantity))
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_cart(errors=failed)
    db.session.commit()
    return redirect(url_for("storefront.cart")), 303


@bp.post("/buy")
def buy_now():
    """立即购买: the chosen option goes into the cart with exactly the chosen quantity, then straight
    to checkout (the sign-in page first for a guest, whose cart joins the shopper's). A refusal
    shows the cart with the reason, like adding to the cart."""
    try:
        cart = current.current_cart(create=True)
        sku_id = (request.form.get("sku_id") or "").strip()
        for item in [i for i in cart.items if str(i.sku_id) == sku_id]:  # buy exactly the quantity chosen
            cart.items.remove(item)
        carts.add(cart, request.form.get("sku_id"), request.form.get("quantity", "1"))
    except ValidationFailed as failed:
        db.session.rollback()
        g.pop("mallow_new_cart_token", None)
        return _render_cart(errors=failed)
    db.session.commit()
    return redirect(url_for("storefront.checkout_page")), 303
