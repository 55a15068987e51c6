"""Taking and giving back stock, atomically and at most once per order."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mallow.catalog.models import Sku
from mallow.db import db
from mallow.inventory.models import StockMovement


def reserve(sku_id: int, quantity: int, order_id: int | None = None) -> bool:
    """Take ``quantity`` units in one conditional UPDATE; False when there are not enough.

    Concurrent buyers queue on the row; the ``stock >= quantity`` condition is re-checked on
    the current row, so stock never goes below zero (a CHECK constraint backs this up).
    """
    result = db.session.execute(
        sa.update(Sku).where(Sku.id == sku_id, Sku.active.is_(True), Sku.stock >= quantity)
        .values(stock=Sku.stock - quantity).execution_options(synchronize_session=False)
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
    db.session.execute(sa.update(Sku).where(Sku.id == sku_id).values(stock=Sku.stock + quantity)
                       .execution_options(synchronize_session=False))
    return True


def low_stock(threshold: int) -> list[Sku]:
    return list(db.session.execute(
        sa.select(Sku).where(Sku.active.is_(True), Sku.stock < threshold).order_by(Sku.stock, Sku.id)).scalars())
