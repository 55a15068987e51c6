"""Products the qualification check took off the shelf, so that re-approval puts back exactly those.

A row per held product, in the store's own schema. The catalogue moves the products, answering
the events of :mod:`mallow.qualifications.events` with their ids; this module records them.
Products the merchant took off the shelf himself have no row and stay off when the hold is
released. While the row is there the merchant cannot put the product back
(:func:`mallow.qualifications.selling.refuse_on_shelf`, checked by every status change of
:mod:`mallow.catalog.products`).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, db, utcnow
from mallow.qualifications import events
from mallow.qualifications.matrix import permit_names


class ShelfHold(StoreModel):
    __tablename__ = "qualification_holds"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    #: the lapsed permit kinds that took the product off the shelf
    permits: Mapped[list] = mapped_column(sa.JSON, default=list)
    held_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


def hold_on_shelf_products(permits: list[str]) -> list[int]:
    """Have every product on the shelf taken off it (:data:`~.events.permits_lapsed`) and record
    the hold; returns their ids."""
    held = events.send(events.permits_lapsed, permits=permits)
    for product_id in held:
        db.session.merge(ShelfHold(product_id=product_id, permits=permits))  # one row per product
    return held


def hold_of(product) -> ShelfHold | None:
    """The product's hold, if the qualification check took it off the shelf."""
    return db.session.get(ShelfHold, product.id) if product.id is not None else None


def held_message(permits: list[str]) -> str:
    """For the merchant: why a held product stays off the shelf, naming the lapsed permits."""
    return _(
        "This product was taken off the shelf because %(permits)s expired. It goes back on the shelf by "
        "itself once a renewed permit is submitted and approved.",
        permits=permit_names(permits),
    )


def release_holds() -> list[int]:
    """Have the held products put back on the shelf (:data:`~.events.permits_renewed`: those still
    off it and sellable) and drop every hold; returns the ids of the products put back."""
    holds = list(db.session.execute(sa.select(ShelfHold)).scalars())
    if not holds:
        return []
    restored = events.send(events.permits_renewed, product_ids=[hold.product_id for hold in holds])
    for hold in holds:
        db.session.delete(hold)
    return restored
