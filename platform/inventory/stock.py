"""Taking and giving back stock (atomically, at most once per order), the ledger of stock the
merchant set by hand, and the SKUs running low."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mallow import settings
from mallow.catalog.models import Product, Sku
from mallow.db import db
from mallow.inventory.models import StockMovement


def reserve(sku_id: int, quantity: int, order_id: int | None = None) -> bool:
    """Take ``quantity`` units in one conditional UPDATE; False when there are not enough.

    Concurrent buyers queue on the row; the ``stock >= quantity`` condition is re-checked on
    the current row, so stock never goes below zero (a CHECK constraint backs this up).
    """
    result = db.session.execute(
        sa.update(Sku)
        .where(Sku.id == sku_id, Sku.active.is_(True), Sku.stock >= quantity)
        .values(stock=Sku.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    if order_id is not None:
        db.session.add(StockMovement(sku_id=sku_id, delta=-quantity, reason="reserve", order_id=order_id))
    return True


def release(sku_id: int, quantity: int, order_id: int, reason: str = "release") -> bool:
    """Give an order's units back, once: a second call for the same order and SKU does nothing."""
    try:
        with db.session.begin_nested():
            db.session.add(StockMovement(sku_id=sku_id, delta=quantity, reason=reason, order_id=order_id))
            db.session.flush()
    except IntegrityError:
        return False
    db.session.execute(
        sa.update(Sku)
        .where(Sku.id == sku_id)
        .values(stock=Sku.stock + quantity)
        .execution_options(synchronize_session=False)
    )
    return True


def record_adjustments(_app, changes) -> None:
    """Receives the catalogue's ``stock_adjusted`` (:mod:`mallow.catalog.events`): one ledger row
    (``adjust``) per SKU whose stock the merchant set, ``changes`` being ``[(sku, delta)]``."""
    for sku, delta in changes:
        db.session.add(StockMovement(sku_id=sku.id, delta=delta, reason="adjust"))


def low_stock(limit: int = 500) -> tuple[int, list[tuple[Sku, Product]]]:
    """``(threshold, [(sku, product)])``: active SKUs below the store's threshold, fewest first
    (products in draft are left out: nothing is sold from them)."""
    threshold = int(settings.get("low_stock_threshold"))
    rows = db.session.execute(
        sa.select(Sku, Product)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.active.is_(True), Sku.stock < threshold, Product.status != "draft")
        .order_by(Sku.stock, Sku.id)
        .limit(limit)
    ).all()
    return threshold, [(row[0], row[1]) for row in rows]
