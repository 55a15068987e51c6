"""Which orders a request may act on, and who is acting: one set of rules for the order pages
and the order API (storefront and console, HTML and JSON).

A shopper reaches only their own orders; staff reach every order of the active store. Every
lookup is in the active store's own ``orders`` table, so another store's id finds nothing: 404,
never a hint that the order exists.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort

from mallow.accounts.guards import current_staff, principal
from mallow.db import db
from mallow.orders.models import ORDER_STATES, Order


def own_order(order_id: int) -> Order:
    """The signed-in shopper's order ``order_id`` (404 when it is not theirs)."""
    order = db.session.get(Order, order_id)
    if order is None or order.customer_id != principal("shopper").id:
        abort(404)
    return order


def store_order(order_id: int) -> Order:
    """Any order of the active store, for its staff (404 when there is none)."""
    return db.get_or_404(Order, order_id)


def staff_actor() -> str:
    """The signed-in staff member as an order event's actor (``staff:<merchant id>``)."""
    return f"staff:{current_staff().merchant_id}"


def shopper_actor() -> str:
    """The signed-in shopper as an event's actor (``shopper:<customer id>``)."""
    return f"shopper:{principal('shopper').id}"


def store_orders(args) -> sa.Select:
    """The store's orders, newest first, filtered by ``args`` (``status``: a state, 400 when it
    is not one; ``number``: one order number): the console list, its CSV and the API agree."""
    query = sa.select(Order).order_by(Order.id.desc())
    status = args.get("status")
    if status:
        if status not in ORDER_STATES.states:
            abort(400, "unknown status")
        query = query.where(Order.status == status)
    if args.get("number"):
        query = query.where(Order.number == args["number"])
    return query
