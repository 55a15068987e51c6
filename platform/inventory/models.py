from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow


class StockMovement(StoreModel):
    """The stock ledger. ``(order_id, sku_id, reason)`` is unique, so a release for an order
    can only ever happen once, whoever (timeout job, late payment, refund) tries it."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(sa.ForeignKey("skus.id", ondelete="CASCADE"), index=True)
    delta: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(24))  # reserve | release | restock | adjust
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.UniqueConstraint("order_id", "sku_id", "reason", name="uq_stock_movements_order_sku_reason"),)
