"""Products the qualification check took off the shelf, so that re-approval puts back exactly those.

A row per held product, in the store's own schema. Products the merchant took off the shelf
himself have no row and stay off when the hold is released. While the row is there the merchant
cannot put the product back (:func:`mallow.qualifications.selling.refuse_on_shelf`, checked by
every status change of :mod:`mallow.catalog.products`).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from mallow.catalog.models import PRODUCT_STATES, Product, Sku
from mallow.db import StoreModel, db, utcnow
from mallow.qualifications.matrix import permit_names


class ShelfHold(StoreModel):
    __tablename__ = "qualification_holds"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    #: the lapsed permit kinds that took the product off the shelf
    permits: Mapped[list] = mapped_column(sa.JSON, default=list)
    held_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


def hold_on_shelf_products(permits: list[str]) -> list[int]:
    """Take every product on the shelf off it and record the hold; returns their ids."""
    held = []
    for product in db.session.execute(sa.select(Product).where(Product.status == "on_shelf")).scalars():
        PRODUCT_STATES.move(product, "off_shelf")
        db.session.merge(ShelfHold(product_id=product.id, permits=permits))  # one row per product
        held.append(product.id)
    return held


def hold_of(product: Product) -> ShelfHold | None:
    """The product's hold, if the qualification check took it off the shelf."""
    return db.session.get(ShelfHold, product.id) if product.id is not None else None


def held_message(permits: list[str]) -> str:
    """For the merchant: why a held product stays off the shelf, naming the lapsed permits."""
    return _("This product was taken off the shelf because %(permits)s expired. It goes back on the shelf by "
             "itself once a renewed permit is submitted and approved.", permits=permit_names(permits))


def release_holds() -> list[int]:
    """Put the held products back on the shelf (those still off it and sellable); returns their ids."""
    restored = []
    for hold in db.session.execute(sa.select(ShelfHold)).scalars():
        product = db.session.get(Product, hold.product_id)
        sellable = db.session.execute(sa.select(Sku.id).where(Sku.product_id == hold.product_id,
                                                              Sku.active.is_(True)).limit(1)).first()
        if product.status == "off_shelf" and sellable:
            PRODUCT_STATES.move(product, "on_shelf")
            restored.append(product.id)
        db.session.delete(hold)
    return restored

