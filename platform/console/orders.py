"""Console order pages (routes on the ``console`` blueprint, staff of the store only): the
order list with its status filter and number search, one order with its receipt, timeline and
delivery address, shipping, the merchant's note, and the CSV export.

The order lookups, the list filter and the CSV are the order service's (:mod:`mallow.orders.access`,
:mod:`mallow.orders.export`), shared with the console API, so the page, the export and the API
always agree. The money and time filters are app-wide (:mod:`mallow.web.filters`); the order
labels (``order_status_label``…) are registered app-wide by :mod:`mallow.storefront.orders`.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import staff_required
from mallow.db import db
from mallow.orders import access, addresses, export, receipts, service as orders
from mallow.orders.labels import status_labels
from mallow.statemachine import InvalidTransition
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import console as bp

LIST_LIMIT = 200
#: suggestions for the carrier field (a datalist: any other carrier may be typed)
CARRIERS = (
    "顺丰速运",
    "京东物流",
    "中通快递",
    "圆通速递",
    "韵达快递",
    "申通快递",
    "极兔速递",
    "EMS",
    "邮政快递包裹",
    "德邦快递",
)


@bp.get("/orders")
@staff_required
def orders_list():
    found = list(db.session.execute(access.store_orders(request.args).limit(LIST_LIMIT + 1)).scalars())
    return render_template(
        "console/orders/list.html",
        orders=found[:LIST_LIMIT],
        more=len(found) > LIST_LIMIT,
        statuses=status_labels(),
        status=request.args.get("status", ""),
        number=request.args.get("number", ""),
    )


@bp.get("/orders/export.csv")
@staff_required
def export_orders():
    """The same CSV as the console API's ``exportOrders``, for the signed-in staff member."""
    return export.csv_response(access.store_orders(request.args))


def _render_order(order, status: int = 200, errors: ValidationFailed | None = None, problem: str | None = None):
    return render_form(
        "console/orders/detail.html",
        status=status,
        errors=errors,
        order=order,
        receipt=receipts.order_receipt(order),
        address=addresses.read_snapshot(order.address_cipher, masked=False),
        problem=problem,
        carriers=CARRIERS,
    )


@bp.get("/orders/<int:order_id>")
@staff_required
def order_detail(order_id):
    return _render_order(access.store_order(order_id))


@bp.post("/orders/<int:order_id>/ship")
@staff_required
def ship_order(order_id):
    order = access.store_order(order_id)
    try:
        orders.ship(order, access.staff_actor(), request.form)
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_order(order, errors=failed)
    except InvalidTransition:
        db.session.rollback()
        db.session.refresh(order)
        return _render_order(
            order,
            status=409,
            problem=_(
                "Only paid orders can be shipped. This order is “%(status)s”.",
                status=status_labels().get(order.status, order.status),
            ),
        )
    flash(_("Marked as shipped."), "success")
    return redirect(url_for("console.order_detail", order_id=order.id)), 303


@bp.post("/orders/<int:order_id>/note")
@staff_required
def note_order(order_id):
    orders.add_note(access.store_order(order_id), access.staff_actor(), request.form.get("note", ""))
    flash(_("Note saved."), "success")
    return redirect(url_for("console.order_detail", order_id=order_id)), 303
