"""The storefront's cart pages (routes on the ``storefront`` blueprint): the cart, adding to it,
changing a line, and 立即购买 (buy now) from the product page.

Server-rendered and usable without JavaScript; every form carries the CSRF token. Which cart a
request has (the shopper's, else the guest's by its cookie) is :mod:`mallow.cart.current`'s
word; its cookie is set or forgotten after every storefront request
(:func:`mallow.cart.current.update_cookie`, hooked on the blueprint here).

The cart page (a phone's 购物车): each line with its picture (the chosen option's own image, else
the product's first image, else a placeholder) and a quantity stepper ``−  [n]  +``: − and + are
submit buttons (``action=dec`` / ``inc``) of the line's update form, the server works out the new
quantity (never below 1; above the stock, the quantity field's message), so it works without
script. Lines that cannot be bought now (off the shelf, the option discontinued, sold out) are
grouped at the bottom under 失效商品 with the reason, left out of the total and out of checkout
(:func:`cart_rows`' ``buyable``, which checkout takes as well). A bottom bar above the tab bar
says 合计 ¥x and 结算(N), N the buyable lines' quantities summed.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _

from mallow.cart import current, service as carts
from mallow.catalog import sku_images
from mallow.catalog.images import image_url
from mallow.catalog.models import Product, ProductImage, Sku
from mallow.db import db
from mallow.orders import checkout
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import storefront as bp

bp.after_request(current.update_cookie)


def _unavailable_reason(sku: Sku | None, product: Product | None) -> str | None:
    """Why a line cannot be bought now, in words; None when it can."""
    if sku is None or product is None or product.status != "on_shelf":
        return _("Off shelf")
    if not sku.active:
        return _("Option discontinued")
    if sku.stock <= 0:
        return _("Sold out")
    return None


def _pictures(skus: list[Sku]) -> dict[int, str]:
    """``{sku id: picture address}``: the SKU's own image, else its product's first image (two
    queries for the whole cart)."""
    assets = sku_images.assets_of(skus)
    product_ids = {sku.product_id for sku in skus}
    covers: dict[int, str] = {}
    if product_ids:
        found = db.session.execute(
            sa.select(ProductImage.product_id, ProductImage.thumb_path, ProductImage.path)
            .where(ProductImage.product_id.in_(product_ids))
            .order_by(ProductImage.product_id, ProductImage.sort, ProductImage.id)
        )
        for product_id, thumb, path in found:
            covers.setdefault(product_id, thumb or path)
    pictures = {}
    for sku in skus:
        asset = assets.get(sku.media_id) if sku.media_id is not None else None
        url = image_url(sku_images.thumb_path(asset)) if asset is not None else image_url(covers.get(sku.product_id))
        if url:
            pictures[sku.id] = url
    return pictures


def cart_rows(cart, pictures: bool = False) -> tuple[list[dict], list[dict]]:
    """The cart's lines for display (the ones that may be bought first, in the cart's order, then
    the others with their ``reason``), and the items that may be bought now. ``pictures``: each
    row's ``image`` address (None: the placeholder) as well."""
    rows, later, buyable = [], [], []
    skus = []
    for item in cart.items if cart is not None else []:
        sku = db.session.get(Sku, item.sku_id)
        product = db.session.get(Product, sku.product_id) if sku else None
        reason = _unavailable_reason(sku, product)
        available = reason is None
        row = {
            "sku_id": item.sku_id,
            "quantity": item.quantity,
            "sku": sku,
            "product": product,
            "available": available,
            "reason": reason,
            "short": available and sku is not None and item.quantity > sku.stock,
            "image": None,
        }
        (rows if available else later).append(row)
        if sku is not None:
            skus.append(sku)
        if available:
            buyable.append({"sku_id": item.sku_id, "quantity": item.quantity})
    rows += later
    if pictures and skus:
        found = _pictures(skus)
        for row in rows:
            row["image"] = found.get(row["sku_id"])
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
    rows, buyable = cart_rows(cart, pictures=True)
    priced, problem = quote(buyable)
    totals = {p.line.sku_id: p.total for p in priced.lines} if priced else {}
    return render_form(
        "storefront/cart.html",
        status=status,
        errors=errors,
        rows=rows,
        buyable_rows=[r for r in rows if r["available"]],
        unavailable_rows=[r for r in rows if not r["available"]],
        totals=totals,
        subtotal=sum(totals.values()),
        units=sum(item["quantity"] for item in buyable),
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


def _wanted_quantity(cart, sku_id: int) -> str:
    """The quantity the form asks for: the field as typed; the stepper's − / + (``action`` ``dec``
    / ``inc``) one less / one more than the field (than the line, when the field is not a number),
    never below 1; Remove, 0."""
    action = request.form.get("action")
    typed = request.form.get("quantity", "")
    if action == "remove":
        return "0"
    if action not in ("inc", "dec"):
        return typed
    if re.fullmatch(r"\s*\d{1,4}\s*", typed or ""):
        base = int(typed)
    else:
        base = next((item.quantity for item in cart.items if item.sku_id == sku_id), 1)
    return str(base + 1 if action == "inc" else max(1, base - 1))


@bp.post("/cart/items/<int:sku_id>")
def update_cart_item(sku_id):
    """Change a line's quantity: the field (``action=update``, or Enter in it), the stepper's − / +
    (``action=dec`` / ``inc``); the Remove button (or quantity 0) takes it out."""
    cart = current.current_cart()
    if cart is None:
        return redirect(url_for("storefront.cart")), 303
    quantity = _wanted_quantity(cart, sku_id)
    try:
        if not re.fullmatch(r"\s*\d{1,4}\s*", quantity or ""):
            raise ValidationFailed(
                {"quantity": ("invalid", _("Enter a quantity from 1 to %(max)s.", max=carts.MAX_QUANTITY))}
            )
        sku = db.session.get(Sku, sku_id)
        if request.form.get("action") == "dec" and sku is not None and 0 < sku.stock < int(quantity):
            quantity = str(sku.stock)  # one less on a line the stock ran below: down to what is left
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
