"""The shopper's orders (routes on the ``storefront`` blueprint): the order list with its tabs,
one order, cancelling it and confirming receipt; and the order labels every order page shows,
storefront and console alike (app-wide template globals: ``order_status_label``,
``shopper_status_label``, ``order_event_label``, ``order_actor_label``, ``order_cancel_reason``,
``payment_method_label``, ``order_seconds_left``; all from :mod:`mallow.orders.labels` and
:mod:`mallow.orders.timing`; the filter ``spec_text`` writes a line's option as the cart does).
The time filters ``order_time`` and ``clock`` are :mod:`mallow.web.filters`'.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, shopper_required
from mallow.aftersales.models import OPEN_STATES, AfterSale
from mallow.aftersales.service import of_order
from mallow.catalog.images import image_url
from mallow.catalog.models import Product
from mallow.catalog.search import page_number
from mallow.db import db
from mallow.orders import access, addresses, labels, receipts, service as orders
from mallow.orders.models import ORDER_STATES, Order
from mallow.orders.timing import seconds_left
from mallow.statemachine import InvalidTransition
from mallow.web.blueprints import storefront as bp

ORDERS_PER_PAGE = 20
#: the account page's order tabs (``?tab=``): a status, or orders with an after-sales request
ORDER_TABS = {"unpaid": "pending_payment", "to_ship": "paid", "to_receive": "shipped", "aftersale": None}


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


bp.add_app_template_global(seconds_left, "order_seconds_left")


@bp.app_template_filter("spec_text")
def spec_text(spec_key: str | None) -> str:
    """An order line's spec key as a shopper reads it: ``"口味:椒盐;规格:1000g"`` → ``"椒盐 / 1000g"``,
    the values only, as the cart shows an option (names and values never hold ``:`` or ``;``:
    :mod:`mallow.catalog.specs`)."""
    parts = [part.partition(":") for part in (spec_key or "").split(";") if part]
    return " / ".join(value if sep else name for name, sep, value in parts)


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
        query = query.where(
            Order.id.in_(sa.select(AfterSale.order_id).where(AfterSale.customer_id == Order.customer_id))
        )
    found = list(
        db.session.execute(
            query.order_by(Order.id.desc()).offset((page - 1) * ORDERS_PER_PAGE).limit(ORDERS_PER_PAGE + 1)
        ).scalars()
    )
    shown = found[:ORDERS_PER_PAGE]
    return render_template(
        "storefront/orders.html",
        orders=shown,
        status=status,
        page=page,
        has_next=len(found) > ORDERS_PER_PAGE,
        statuses=labels.status_labels(),
        tab=tab,
        tabs=_order_tabs(),
        in_aftersales=labels.open_aftersales([o.id for o in shown]),
    )


def _order_tabs() -> list[tuple[str | None, str]]:
    """The order list's tabs (``?tab=``): 全部 · 待付款 · 待发货 · 待收货 · 退款/售后."""
    return [
        (None, _("All")),
        ("unpaid", _("To pay")),
        ("to_ship", _("To ship")),
        ("to_receive", _("To receive")),
        ("aftersale", _("Refunds / after-sales")),
    ]


def order_items(order: Order) -> list[dict]:
    """The order's lines for the order page: as bought (title, spec, price), with the product's
    link and cover photo while the product exists."""
    items = []
    for line in order.lines:
        product = db.session.get(Product, line.product_id)
        cover = min(product.images, key=lambda i: i.sort) if product is not None and product.images else None
        items.append(
            {
                "title": line.title,
                "spec": line.spec_key,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "sku_id": line.sku_id,
                "url": url_for("storefront.product", product_id=product.id)
                if product is not None and product.status == "on_shelf"
                else None,
                "image": image_url(cover.thumb_path or cover.path) if cover is not None else None,
            }
        )
    return items


def paid_with(order: Order) -> str | None:
    """The provider of the payment that paid the order (its ``paid`` event), if any."""
    event = next((e for e in order.events if e.kind == "paid"), None)
    return (event.detail or {}).get("provider") if event is not None else None


@bp.get("/orders/<int:order_id>")
@shopper_required
def order_detail(order_id):
    order = access.own_order(order_id)
    requests = of_order(order.id)
    in_progress = any(a.status in OPEN_STATES for a in requests)
    provider = paid_with(order)
    return render_template(
        "storefront/order.html",
        order=order,
        address=addresses.read_snapshot(order.address_cipher),
        receipt=receipts.order_receipt(order),
        events=[e for e in order.events if e.kind != "note"],  # notes are the merchant's
        items=order_items(order),
        can_pay=order.status == "pending_payment",
        seconds_left=seconds_left(order),
        requests=requests,
        aftersale_open=in_progress,
        can_request_aftersale=order.status in ("paid", "shipped", "delivered", "completed") and not in_progress,
        status_label=labels.shopper_status_label(order, in_progress),
        status_hint=labels.status_hint(order, in_progress),
        payment_method=labels.payment_method_label(provider) if provider else None,
    )


def _shown(order: Order):
    return redirect(url_for("storefront.order_detail", order_id=order.id)), 303


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
