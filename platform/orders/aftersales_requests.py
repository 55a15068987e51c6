"""Which orders have an after-sales request in progress (售后中): a fact of the after-sales domain.

After-sales sits above orders, so orders do not read its tables: ``create_app`` registers the
after-sales domain's query (:func:`register`), a ``SELECT`` of the ids of the orders with a
request in progress. The order timers wait for those (:func:`mallow.orders.service.sweep`) and the
shopper reads 售后中 (:func:`mallow.orders.labels.shopper_status_label`). With nothing registered,
no order is in after-sales.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask, current_app

from mallow.orders.models import Order

EXTENSION = "mallow.orders.open_aftersales"


def register(app: Flask, open_order_ids: Callable[[], sa.Select]) -> None:
    """``open_order_ids()``: a one-column ``SELECT`` of the order ids with a request in progress."""
    app.extensions[EXTENSION] = open_order_ids


def in_progress() -> sa.ColumnElement[bool]:
    """SQL: the ``Order`` has an after-sales request in progress."""
    open_order_ids = current_app.extensions.get(EXTENSION)
    return Order.id.in_(open_order_ids()) if open_order_ids is not None else sa.false()
