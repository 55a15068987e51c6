"""Storefront shopping pages (routes on the ``storefront`` blueprint): cart, checkout, the
shopper's orders.

Imported at the end of :mod:`mallow.storefront.views`. Server-rendered and usable without
JavaScript; every form carries the CSRF token. Money is integer fen until the app's template
filter ``fen_to_yuan`` (:mod:`mallow.web.filters`) turns it into text.

* A guest's cart is found by a random token in an HttpOnly, SameSite=Lax cookie (one per store);
  :func:`signed_in` (called by the sign-in and registration views) merges it into the shopper's
  cart and forgets the cookie.
* Checkout renders a fresh ``idempotency_key`` into a hidden field: submitting the same page
  twice (a double click, a reload after a timeout) places one order and shows it both times.
  The page also carries what the shopper saw (the cart's signature and the total), so a cart
  or a price that changed in between is shown again instead of being charged silently.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required
from mallow.cart import service as carts
from mallow.cart.models import CartItem
from mallow.catalog.models import Product, Sku
from mallow.money import fen_to_price
from mallow.catalog.search import page_number
from mallow.db import db
from mallow.orders import access, addresses, checkout, labels, receipts, service as orders
from mallow.orders.models import ORDER_STATES, Order
from mallow.statemachine import InvalidTransition
from mallow.web.blueprints import storefront as bp
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed, text
from mallow.web import render_form

CART_COOKIE_DAYS = 30
ORDERS_PER_PAGE = 20
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: provincial-level divisions, as shipping templates name them
PROVINCES = ("北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省", "上海市", "江苏省",
             "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省",
             "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省",
             "青海省", "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区", "台湾省")
ADDRESS_FIELDS = ("recipient", "phone", "province", "city", "district", "detail")


# --- display helpers shared by the storefront and console order pages -----------------------



@bp.app_template_filter("order_time")
def order_time_filter(moment) -> str:
    """A stored UTC time in the store's time zone (Asia/Shanghai), to the minute."""
    return format_datetime(moment, "yyyy-MM-dd HH:mm") if moment else ""


@bp.app_template_filter("clock")
def clock_filter(seconds) -> str:
    """Seconds left as a countdown: ``14:59``, ``1:02:03`` (orders.js keeps it ticking)."""
    seconds = max(0, int(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


@bp.app_template_global("order_status_label")
def order_status_label(status: str) -> str:
    return labels.status_label(status)


@bp.app_template_global("shopper_status_label")
def shopper_status_label(order, in_aftersales: bool | None = None) -> str:
    return labels.shopper_status_label(order, in_aftersales)


@bp.app_template_global("order_event_label")
def order_event_label(event) -> str:
    """An ``OrderEvent`` (or a kind) as people read it: never the raw kind."""
    return labels.event_label(event)


@bp.app_template_global("order_actor_label")
def order_actor_label(actor: str | None) -> str:
    return labels.actor_label(actor)


@bp.app_template_global("order_cancel_reason")
def order_cancel_reason(code: str | None) -> str:
    return labels.cancel_reason_label(code)


@bp.app_template_global("payment_method_label")
def payment_method_label(provider: str | None) -> str:
    return labels.payment_method_label(provider)


# --- the cart -------------------------------------------------------------------------------

def _cookie_name() -> str:
    return f"mallow_cart_{current_store().id}"


def _guest_token() -> str | None:
    token = request.cookies.get(_cookie_name())
    return token if token and _TOKEN.match(token) else None


def _shopper_id() -> int | None:
    shopper = principal("shopper")
    return shopper.id if shopper is not None else None


def _current_cart(create: bool = False):
    shopper = principal("shopper")
    if shopper is not None and _guest_token():  # signed in without the sign-in page (e.g. WeChat)
        signed_in(shopper)
        db.session.commit()
    customer_id = shopper.id if shopper is not None else None
    token = None if customer_id is not None else _guest_token()
    if not create:
        return carts.find(customer_id, token)
    if customer_id is None and token is None:
        token = carts.new_guest_token()
        g.mallow_new_cart_token = token
    return carts.get_or_create(customer_id, token)


def signed_in(customer) -> None:
    """At sign-in or registration: the guest cart joins the shopper's cart; the cookie goes."""
    token = _guest_token()
    if token:
        carts.merge_guest_cart(customer.id, token)
        g.mallow_forget_cart_cookie = True


@bp.after_request
def _cart_cookie(response):
    if g.get("mallow_new_cart_token"):
        response.set_cookie(_cookie_name(), g.mallow_new_cart_token, max_age=CART_COOKIE_DAYS * 86400, path="/",
                            httponly=True, samesite="Lax", secure=request.is_secure)
    elif g.get("mallow_forget_cart_cookie"):
        response.delete_cookie(_cookie_name(), path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    return response


def _cart_rows(cart) -> tuple[list[dict], list[dict]]:
    """The cart's lines for display, and the items that may be bought now."""
    rows, buyable = [], []
    for item in (cart.items if cart is not None else []):
        sku = db.session.get(Sku, item.sku_id)
        product = db.session.get(Product, sku.product_id) if sku else None
        available = bool(sku and product and sku.active and product.status == "on_shelf")
        rows.append({"sku_id": item.sku_id, "quantity": item.quantity, "sku": sku, "product": product,
                     "available": available, "short": available and item.quantity > sku.stock})
        if available:
            buyable.append({"sku_id": item.sku_id, "quantity": item.quantity})
    return rows, buyable


def _quote(items: list[dict], province: str | None = None):
    """The priced items, or ``(None, message)`` when they cannot be priced at all."""
    if not items:
        return None, None
    try:
        return checkout.quote(_shopper_id(), items, province), None
    except ValidationFailed as failed:
        return None, "; ".join(message for _code, message in failed.errors.values())


def _render_cart(status: int = 200, errors: ValidationFailed | None = None):
    cart = _current_cart()
    rows, buyable = _cart_rows(cart)
    priced, problem = _quote(buyable)
    totals = {p.line.sku_id: p.total for p in priced.lines} if priced else {}
    return render_form("storefront/cart.html", status=status, errors=errors, rows=rows, totals=totals,
                       subtotal=sum(totals.values()), problem=problem,
                       can_checkout=bool(buyable) and priced is not None and not any(r["short"] for r in rows))


@bp.get("/cart")
def cart():
    return _render_cart()


@bp.post("/cart/items")
def add_to_cart():
    """Add ``sku_id`` × ``quantity`` (from the product page or the cart page)."""
    try:
        carts.add(_current_cart(create=True), request.form.get("sku_id"), request.form.get("quantity", "1"))
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
    cart = _current_cart()
    if cart is None:
        return redirect(url_for("storefront.cart")), 303
    quantity = "0" if request.form.get("action") == "remove" else request.form.get("quantity", "")
    try:
        if not re.fullmatch(r"\s*\d{1,4}\s*", quantity or ""):
            raise ValidationFailed({"quantity": ("invalid", _("Enter a quantity from 1 to %(max)s.",
                                                              max=carts.MAX_QUANTITY))})
        sku = db.session.get(Sku, sku_id)
        if sku is not None and int(quantity) > sku.stock:
            raise ValidationFailed({"quantity": ("not_enough_stock", _("Only %(stock)s left.", stock=sku.stock))})
        carts.set_quantity(cart, sku_id, int(quantity))
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_cart(errors=failed)
    db.session.commit()
    return redirect(url_for("storefront.cart")), 303


# --- checkout -------------------------------------------------------------------------------

def _cart_signature(items: list[dict]) -> str:
    body = ";".join(f"{i['sku_id']}x{i['quantity']}" for i in sorted(items, key=lambda i: i["sku_id"]))
    return hashlib.sha256(body.encode()).hexdigest()[:20]


def _address_choice(saved: list[dict]) -> str:
    chosen = request.values.get("address_id")
    if chosen == "new" or (chosen and any(str(a["id"]) == chosen for a in saved)):
        return chosen
    return str(saved[0]["id"]) if saved else "new"


def _render_checkout(items: list[dict], unavailable: int, status: int = 200, errors: ValidationFailed | None = None,
                     priced=None, notice: str | None = None):
    customer = principal("shopper")
    saved = [addresses.as_dict(a) for a in addresses.of_customer(customer.id)]
    chosen = _address_choice(saved)
    if priced is None:
        province = next((a["province"] for a in saved if str(a["id"]) == chosen), None) if chosen != "new" \
            else (text(request.form, "province", 20) or None)
        priced, problem = _quote(items, province)
        if problem:
            flash(problem, "error")
            return redirect(url_for("storefront.cart")), 303
    key = request.form.get("idempotency_key", "")
    if not _TOKEN.match(key):
        key = secrets.token_urlsafe(24)
    return render_form("storefront/checkout.html", status=status, errors=errors, saved=saved, chosen=chosen,
                       receipt=receipts.quote_receipt(priced), problems=priced.problems, total=priced.total,
                       signature=_cart_signature(items), idempotency_key=key, provinces=PROVINCES,
                       unavailable=unavailable, notice=notice)


def _checkout_items() -> tuple[list[dict], int]:
    rows, buyable = _cart_rows(carts.find(principal("shopper").id, None))
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
    return db.session.execute(sa.select(Order).where(Order.customer_id == customer_id,
                                                     Order.idempotency_key == key)).scalar_one_or_none()


def _shown(order: Order):
    return redirect(url_for("storefront.order_detail", order_id=order.id)), 303


def _placed(order: Order):
    """After checkout: an order awaiting payment goes to the cashier (any order kind does, see
    :func:`mallow.sdk.cashier_url`); one with nothing left to pay to its page."""
    if order.status == "pending_payment":
        return redirect(url_for("storefront.pay_order", order_id=order.id)), 303
    return _shown(order)


@bp.post("/checkout")
@shopper_required
def place_order():
    customer = principal("shopper")
    key = request.form.get("idempotency_key", "")
    if _TOKEN.match(key):
        existing = _order_with_key(customer.id, key)
        if existing is not None:  # the same page submitted again: the order it placed
            return _placed(existing)
    items, unavailable = _checkout_items()
    if not items:
        flash(_("Your cart is empty."), "error")
        return redirect(url_for("storefront.cart")), 303
    if not _TOKEN.match(key):
        return _render_checkout(items, unavailable, status=400, notice=_("The page expired. Check the order and submit it again."))
    if request.form.get("cart_signature") != _cart_signature(items):
        return _render_checkout(items, unavailable, status=409,
                                notice=_("Your cart changed since this page was shown. Check the order again."))
    if request.form.get("action") == "quote":  # "Recalculate": price for the chosen address, place nothing
        return _render_checkout(items, unavailable)

    note = text(request.form, "note", 200)
    chosen = request.form.get("address_id", "")
    try:
        if chosen == "new":
            address = addresses.create(customer.id, request.form)
        else:
            address = next((a for a in addresses.of_customer(customer.id) if str(a.id) == chosen), None)
            if address is None:
                raise ValidationFailed({"address_id": ("invalid", _("Choose a delivery address."))})
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_checkout(items, unavailable, errors=failed)

    priced, problem = _quote(items, address.province)
    if problem or priced is None:
        db.session.rollback()
        flash(problem or _("Your cart is empty."), "error")
        return redirect(url_for("storefront.cart")), 303
    if priced.problems:
        db.session.rollback()
        return _render_checkout(items, unavailable, status=422, priced=priced)
    if request.form.get("expected_total") != str(priced.total):
        db.session.rollback()  # nothing of this submission is kept, not even a new address
        return _render_checkout(items, unavailable, status=409, priced=priced, notice=_(
            "The total is now %(total)s. Check it and place the order again.", total=fen_to_price(priced.total)))

    try:
        order, created = checkout.place_order(customer, items, address.id, note, key)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_checkout(items, unavailable, errors=failed)
    except checkout.CheckoutProblems as problems:
        db.session.rollback()
        return _render_checkout(items, unavailable, status=422,
                                notice="; ".join(str(p.message) for p in problems.problems))
    except checkout.SoldOut as sold_out:  # (place_order rolled everything back)
        return _render_checkout(items, unavailable, status=409,
                                notice=_("%(title)s has sold out. Change the quantity in your cart.", title=sold_out.title))
    except checkout.IdempotencyConflict:  # a twin submission of this page won the race
        existing = _order_with_key(customer.id, key)
        if existing is None:
            abort(409)
        return _placed(existing)
    if created:
        ordered = {line.sku_id for line in order.lines}
        db.session.execute(sa.delete(CartItem).where(CartItem.cart_id == carts.find(customer.id, None).id,
                                                     CartItem.sku_id.in_(ordered)))
        db.session.commit()
        flash(_("Order placed."), "success")
    return _placed(order)


# --- the shopper's orders -------------------------------------------------------------------

#: the account page's order tabs (``?tab=``): a status, or orders with an after-sales request
ORDER_TABS = {"unpaid": "pending_payment", "to_ship": "paid", "to_receive": "shipped", "aftersale": None}


@bp.get("/orders")
@shopper_required
def orders_list():
    tab = request.args.get("tab") or None
    if tab is not None and tab not in ORDER_TABS:
        abort(404)
    status = request.args.get("status") or (ORDER_TABS.get(tab) if tab else None)
    if status is not None and status not in ORDER_STATES.states:
        abort(404)
    page = page_number(request.args.get("page"))
    query = sa.select(Order).where(Order.customer_id == principal("shopper").id)
    if status:
        query = query.where(Order.status == status)
    if tab == "aftersale":
        from mallow.aftersales.models import AfterSale

        query = query.where(Order.id.in_(sa.select(AfterSale.order_id).where(AfterSale.customer_id == Order.customer_id)))
    found = list(db.session.execute(query.order_by(Order.id.desc()).offset((page - 1) * ORDERS_PER_PAGE)
                                    .limit(ORDERS_PER_PAGE + 1)).scalars())
    shown = found[:ORDERS_PER_PAGE]
    return render_template("storefront/orders.html", orders=shown, status=status, page=page,
                           has_next=len(found) > ORDERS_PER_PAGE, statuses=labels.status_labels(), tab=tab,
                           tabs=_order_tabs(), in_aftersales=labels.open_aftersales([o.id for o in shown]))


def _order_tabs() -> list[tuple[str | None, str]]:
    """The order list's tabs (``?tab=``): 全部 · 待付款 · 待发货 · 待收货 · 退款/售后."""
    return [(None, _("All")), ("unpaid", _("To pay")), ("to_ship", _("To ship")), ("to_receive", _("To receive")),
            ("aftersale", _("Refunds / after-sales"))]


@bp.app_template_global("order_seconds_left")
def seconds_left(order: Order) -> int:
    """Whole seconds until the order's pay deadline (0 once it passed)."""
    deadline = order.pay_deadline
    if deadline is None:
        return 0
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=timezone.utc)
    return max(0, int((deadline - datetime.now(timezone.utc)).total_seconds()))


def order_items(order: Order) -> list[dict]:
    """The order's lines for the order page: as bought (title, spec, price), with the product's
    link and cover photo while the product exists."""
    from mallow.catalog.storefront_views import image_url

    items = []
    for line in order.lines:
        product = db.session.get(Product, line.product_id)
        cover = min(product.images, key=lambda i: i.sort) if product is not None and product.images else None
        items.append({"title": line.title, "spec": line.spec_key, "unit_price": line.unit_price,
                      "quantity": line.quantity, "sku_id": line.sku_id,
                      "url": url_for("storefront.product", product_id=product.id)
                      if product is not None and product.status == "on_shelf" else None,
                      "image": image_url(cover.thumb_path or cover.path) if cover is not None else None})
    return items


def paid_with(order: Order) -> str | None:
    """The provider of the payment that paid the order (its ``paid`` event), if any."""
    event = next((e for e in order.events if e.kind == "paid"), None)
    return (event.detail or {}).get("provider") if event is not None else None


@bp.get("/orders/<int:order_id>")
@shopper_required
def order_detail(order_id):
    from mallow.aftersales.models import OPEN_STATES
    from mallow.aftersales.service import of_order

    order = access.own_order(order_id)
    requests = of_order(order.id)
    in_progress = any(a.status in OPEN_STATES for a in requests)
    provider = paid_with(order)
    return render_template("storefront/order.html", order=order, address=addresses.read_snapshot(order.address_cipher),
                           receipt=receipts.order_receipt(order),
                           events=[e for e in order.events if e.kind != "note"],  # notes are the merchant's
                           items=order_items(order),
                           can_pay=order.status == "pending_payment", seconds_left=seconds_left(order),
                           requests=requests, aftersale_open=in_progress,
                           can_request_aftersale=order.status in ("paid", "shipped", "delivered", "completed")
                           and not in_progress,
                           status_label=labels.shopper_status_label(order, in_progress),
                           status_hint=labels.status_hint(order, in_progress),
                           payment_method=labels.payment_method_label(provider) if provider else None)


@bp.post("/orders/<int:order_id>/cancel")
@shopper_required
def cancel_order(order_id):
    order = access.own_order(order_id)
    if orders.cancel(order, f"shopper:{order.customer_id}", "shopper"):
        db.session.commit()
        flash(_("The order was cancelled."), "success")
    else:
        db.session.rollback()
        flash(_("This order can no longer be cancelled."), "error")
    return _shown(order)


@bp.post("/orders/<int:order_id>/confirm")
@shopper_required
def confirm_receipt(order_id):
    order = access.own_order(order_id)
    try:
        orders.confirm_delivery(order, f"shopper:{order.customer_id}")
    except InvalidTransition:
        db.session.rollback()
        flash(_("Only shipped orders can be confirmed."), "error")
    else:
        flash(_("Thank you! Receipt confirmed."), "success")
    return _shown(order)


from mallow.payments import cashier  # noqa: E402,F401  (the cashier's routes, on this blueprint)
