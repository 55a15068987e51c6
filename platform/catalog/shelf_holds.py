"""The catalogue's side of a lapsed permit: products leave the shelf, and come back after renewal.

Receivers of :mod:`mallow.qualifications.events`, connected by ``create_app``; the qualification
check records which products it held (:class:`~mallow.qualifications.holds.ShelfHold`) from
their answers.
"""

from __future__ import annotations

import sqlalchemy as sa

from mallow.catalog.models import PRODUCT_STATES, Product, Sku
from mallow.db import db


def take_off_shelf(_app, permits: list[str]) -> list[int]:
    """Every product on the shelf goes off it; returns their ids."""
    taken = []
    for product in db.session.execute(sa.select(Product).where(Product.status == "on_shelf")).scalars():
        PRODUCT_STATES.move(product, "off_shelf")
        taken.append(product.id)
    return taken


def put_back_on_shelf(_app, product_ids: list[int]) -> list[int]:
    """The products among ``product_ids`` that are still off the shelf and have an active SKU go
    back on it; returns their ids."""
    restored = []
    for product_id in product_ids:
        product = db.session.get(Product, product_id)
        sellable = db.session.execute(
            sa.select(Sku.id).where(Sku.product_id == product_id, Sku.active.is_(True)).limit(1)
        ).first()
        if product is not None and product.status == "off_shelf" and sellable:
            PRODUCT_STATES.move(product, "on_shelf")
            restored.append(product.id)
    return restored
