"""The storefront's checkout (routes on the ``storefront`` blueprint): the page and placing the
order, for a signed-in shopper.

Checkout renders a fresh ``idempotency_key`` into a hidden field: submitting the same page twice
(a double click, a reload after a timeout) places one order and shows it both times. The page
also carries what the shopper saw (the cart's signature and the total), so a cart or a price
that changed in between is shown again instead of being charged silently. A placed order awaiting
payment goes on to the cashier (:mod:`mallow.storefront.cashier`).

Coupons: the page opens with the shopper's best coupon applied (``coupon=best``); the 优惠券 row
opens the list of the others (a ``<details>``: usable ones are submit buttons ``choose_coupon``
that re-price the page, unusable ones greyed with their reason, 不使用优惠券 = ``none``). The page
carries the coupon it priced with (hidden ``coupon``: the holding id or ``none``), and the order is
placed with exactly that one. ``GET /checkout?coupon=<id|none>`` chooses as well.

Points (积分, when the store runs its membership programme and the shopper has some): the 积分 row
says how many may be used and what they take off; its switch (``choose_points`` = ``max`` /
``none``) re-prices the page. The page carries the number of points it priced with (hidden
``points``), and the order is placed with exactly that number (:mod:`mallow.storefront.membership`).

A new address is typed in the address book's form: the same 省 → 市 → 区 picker of GB/T 2260
codes (``storefront/_region_fields.html`` and ``account.js``; without JavaScript its step button,
``action=region``, re-renders the page with the next level and places nothing). Every level left
empty is flagged on the same submit. A form that sends names only (older clients) still works: the
names are looked up (:mod:`mallow.orders.addresses`) and shown as codes in the picker.

Stock that ran short between the page and 提交订单 (409) is said with a link to the cart, and the
page offers the cart instead of placing the same quantity again; everything typed is kept.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from mallow import regions
from mallow.accounts.guards import principal, shopper_required
from mallow.cart import service as carts
from mallow.cart.models import CartItem
from mallow.coupons import pricing as coupon_pricing, rules as coupon_rules, service as coupon_service
from mallow.db import db
from mallow.money import fen_to_price
from mallow.orders import addresses, checkout, receipts
from mallow.orders.models import Order
from mallow.pricing import pipeline
from mallow.storefront.account import region_choices
from mallow.storefront.cart import cart_rows
from mallow.storefront.coupons import scope_text
from mallow.storefront import membership as member_pages
from mallow.validation import ValidationFailed, text
from mallow.web import render_form
from mallow.web.blueprints import storefront as bp

_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: the region fields of the new-address form: the picker's codes, and the names older clients send
_REGION_NAMES = ("province", "city", "district")


def _cart_signature(items: list[dict]) -> str:
    body = ";".join(f"{i['sku_id']}x{i['quantity']}" for i in sorted(items, key=lambda i: i["sku_id"]))
    return hashlib.sha256(body.encode()).hexdigest()[:20]


def _address_choice(saved: list[dict]) -> str:
    chosen = request.values.get("address_id")
    if chosen == "new" or (chosen and any(str(a["id"]) == chosen for a in saved)):
        return chosen
    return str(saved[0]["id"]) if saved else "new"


def _region_values(form) -> dict:
    """The new-address form's region as the picker's codes: those submitted, else the codes of
    the names submitted (a form or client that sends names only), else none chosen."""
    if any(form.get(field) for field in addresses.CODE_FIELDS) or not any(form.get(n) for n in _REGION_NAMES):
        return {field: text(form, field, 12) for field in addresses.CODE_FIELDS}
    chain, _problems = regions.resolve_names(*(text(form, name, 30) for name in _REGION_NAMES))
    found = chain.codes if chain is not None else {}
    return {field: found.get(field) or "" for field in addresses.CODE_FIELDS}


def _new_address_province(form) -> str | None:
    """The province (its name, as shipping templates price) of the new address being typed."""
    province = regions.get(_region_values(form)["province_code"])
    return province.name if province is not None and province.level == 1 else None


def _region_view(form) -> dict:
    """The picker's options for the codes chosen so far (the address book's, ``chosen`` renamed:
    the checkout's ``chosen`` is the address chosen)."""
    view = region_choices(_region_values(form))
    view["chosen_region"] = view.pop("chosen")
    return view


def _new_address(customer_id: int):
    """The address typed at checkout, saved to the address book; ``ValidationFailed`` naming
    every field to correct (each level of the region still to choose included:
    :func:`mallow.regions.check_chain`)."""
    return addresses.create(customer_id, request.form)


def _coupon_choice() -> str:
    """The coupon this request asks for: a button of the list, the page's hidden field, the
    query string; ``best`` by default (the page opens with the best one applied)."""
    raw = request.form.get("choose_coupon") or request.form.get("coupon") or request.args.get("coupon") or "best"
    raw = raw.strip()
    return raw if raw in ("best", "none") or (raw.isascii() and raw.isdigit() and len(raw) < 19) else "best"


def _points_choice(placing: bool = False) -> str:
    """The points this request asks for: the switch, the page's hidden field, the query string."""
    raw = request.form.get("choose_points") or request.form.get("points") or request.args.get("points")
    return member_pages.points_choice(raw, placing and "choose_points" not in request.form)


class Quote:
    """A priced checkout and its coupon decision (the list and the one applied)."""

    def __init__(self, priced, decision, choice: str):
        self.priced, self.decision, self.choice = priced, decision, choice

    @property
    def selected(self) -> int | None:
        return self.decision.holding_id if self.decision is not None else None


def quote(items: list[dict], province: str | None, choice: str, points: str = "none"):
    """``(Quote, None)``, or ``(None, message)`` when the items cannot be priced at all."""
    if not items:
        return None, None
    options = {coupon_pricing.OPTION: choice, **member_pages.points_options(points)}
    try:
        context = checkout.build_context(principal("shopper").id, items, province, options)
    except ValidationFailed as failed:
        return None, "; ".join(message for _code, message in failed.errors.values())
    priced = pipeline.price(context)
    decision = coupon_pricing.decide(context)
    if decision is None:  # 不使用优惠券: the list still shows the coupons one could choose
        found = coupon_service.choices(context.customer_id, coupon_pricing.cart_lines(context))
        decision = coupon_pricing.Decision(found=found)
    return Quote(priced, decision, choice), None


def _coupon_view(found: Quote) -> dict:
    """The 优惠券 row and its list: the applied one with its saving, the usable ones (best first)
    and the unusable ones with why."""
    decision = found.decision
    choices = decision.choices if decision is not None else None
    adjustment = decision.adjustment if decision is not None else None

    def card(option) -> dict:
        coupon = option.holding.coupon
        return {
            "id": option.holding.id,
            "name": coupon.name,
            "offer": coupon_rules.describe(coupon),
            "scope": scope_text(coupon),
            "saving": option.verdict.saving,
            "reason": option.verdict.message,
            "valid_until": option.holding.valid_until,
        }

    usable = [card(o) for o in choices.usable] if choices is not None else []
    unusable = [card(o) for o in choices.unusable] if choices is not None else []
    selected = next((c for c in usable if c["id"] == found.selected), None)
    return {
        "selected": selected,
        "saving": -adjustment.amount if adjustment is not None else 0,
        "value": str(found.selected) if found.selected is not None else "none",
        "usable": usable,
        "unusable": unusable,
        "open": "choose_coupon" in request.form or request.args.get("coupons") == "open",
    }


def _render_checkout(
    items: list[dict],
    unavailable: int,
    status: int = 200,
    errors: ValidationFailed | None = None,
    priced: Quote | None = None,
    notice: str | None = None,
    sold_out: bool = False,
):
    customer = principal("shopper")
    saved = [addresses.as_dict(a) for a in addresses.of_customer(customer.id)]
    chosen = _address_choice(saved)
    if priced is None:
        province = (
            next((a["province"] for a in saved if str(a["id"]) == chosen), None)
            if chosen != "new"
            else _new_address_province(request.form)
        )
        priced, problem = quote(items, province, _coupon_choice(), _points_choice())
        if problem or priced is None:
            flash(problem or _("Your cart is empty."), "error")
            return redirect(url_for("storefront.cart")), 303
    key = request.form.get("idempotency_key", "")
    if not _KEY.match(key):
        key = secrets.token_urlsafe(24)
    return render_form(
        "storefront/checkout.html",
        status=status,
        errors=errors,
        saved=saved,
        chosen=chosen,
        receipt=receipts.quote_receipt(priced.priced),
        problems=priced.priced.problems,
        total=priced.priced.total,
        coupons=_coupon_view(priced),
        points=member_pages.points_row(customer.id, priced.priced),
        signature=_cart_signature(items),
        idempotency_key=key,
        unavailable=unavailable,
        notice=notice,
        sold_out=sold_out,
        **_region_view(request.form),
    )


def _checkout_items() -> tuple[list[dict], int]:
    rows, buyable = cart_rows(carts.find(principal("shopper").id, None))
    return buyable, len(rows) - len(buyable)


@bp.get("/checkout")
@shopper_required
def checkout_page():
    items, unavailable = _checkout_items()
    if not items:
        flash(_("Your cart is empty."), "error")
        return redirect(url_for("storefront.cart")), 303
    return _render_checkout(items, unavailable)


def _order_with_key(customer_id: int, key: str) -> Order | None:
    return db.session.execute(
        sa.select(Order).where(Order.customer_id == customer_id, Order.idempotency_key == key)
    ).scalar_one_or_none()


def _placed(order: Order):
    """After checkout: an order awaiting payment goes to the cashier (any order kind does, see
    :func:`mallow.sdk.cashier_url`); one with nothing left to pay to its page."""
    if order.status == "pending_payment":
        return redirect(url_for("storefront.pay_order", order_id=order.id)), 303
    return redirect(url_for("storefront.order_detail", order_id=order.id)), 303


@bp.post("/checkout")
@shopper_required
def place_order():
    customer = principal("shopper")
    key = request.form.get("idempotency_key", "")
    if _KEY.match(key):
        existing = _order_with_key(customer.id, key)
        if existing is not None:  # the same page submitted again: the order it placed
            return _placed(existing)
    items, unavailable = _checkout_items()
    if not items:
        flash(_("Your cart is empty."), "error")
        return redirect(url_for("storefront.cart")), 303
    if not _KEY.match(key):
        return _render_checkout(
            items, unavailable, status=400, notice=_("The page expired. Check the order and submit it again.")
        )
    if request.form.get("cart_signature") != _cart_signature(items):
        return _render_checkout(
            items,
            unavailable,
            status=409,
            notice=_("Your cart changed since this page was shown. Check the order again."),
        )
    if (
        request.form.get("action") in ("quote", "region")
        or "choose_coupon" in request.form
        or "choose_points" in request.form
    ):
        # "Recalculate" (the chosen address), the region picker's next level (without
        # JavaScript), a coupon chosen in the list, points switched on or off: price, place nothing
        return _render_checkout(items, unavailable)

    note = text(request.form, "note", 200)
    chosen = request.form.get("address_id", "")
    try:
        if chosen == "new":
            address = _new_address(customer.id)
        else:
            address = next((a for a in addresses.of_customer(customer.id) if str(a.id) == chosen), None)
            if address is None:
                raise ValidationFailed({"address_id": ("invalid", _("Choose a delivery address."))})
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_checkout(items, unavailable, errors=failed)

    choice, points = _coupon_choice(), _points_choice(placing=True)
    priced, problem = quote(items, address.province, choice, points)
    if problem or priced is None:
        db.session.rollback()
        flash(problem or _("Your cart is empty."), "error")
        return redirect(url_for("storefront.cart")), 303
    if priced.priced.problems:
        db.session.rollback()
        return _render_checkout(items, unavailable, status=422, priced=priced)
    if request.form.get("expected_total") != str(priced.priced.total):
        db.session.rollback()  # nothing of this submission is kept, not even a new address
        return _render_checkout(
            items,
            unavailable,
            status=409,
            priced=priced,
            notice=_(
                "The total is now %(total)s. Check it and place the order again.",
                total=fen_to_price(priced.priced.total),
            ),
        )

    options = {coupon_pricing.OPTION: choice, **member_pages.points_options(points)}
    try:
        order, created = checkout.place_order(customer, items, address.id, note, key, options)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_checkout(items, unavailable, errors=failed)
    except checkout.CheckoutProblems as problems:
        db.session.rollback()
        return _render_checkout(
            items, unavailable, status=422, notice="; ".join(str(p.message) for p in problems.problems)
        )
    except checkout.SoldOut as sold_out:  # (place_order rolled everything back)
        return _render_checkout(
            items,
            unavailable,
            status=409,
            notice=_("%(title)s has sold out. Change the quantity in your cart.", title=sold_out.title),
            sold_out=True,
        )
    except checkout.IdempotencyConflict:  # a twin submission of this page won the race
        existing = _order_with_key(customer.id, key)
        if existing is None:
            abort(409)
        return _placed(existing)
    if created:
        ordered = {line.sku_id for line in order.lines}
        db.session.execute(
            sa.delete(CartItem).where(
                CartItem.cart_id == carts.find(customer.id, None).id, CartItem.sku_id.in_(ordered)
            )
        )
        db.session.commit()
        flash(_("Order placed."), "success")
    return _placed(order)
