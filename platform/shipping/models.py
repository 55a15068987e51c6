from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel


class ShippingTemplate(StoreModel):
    """``rules``: ``[{"regions": ["浙江省", …] | ["*"], "first": 1, "first_fee": 800,
    "extra": 1, "extra_fee": 200}]`` — units are pieces or grams by ``mode``; fees in fen.
    The first rule naming the address's province applies, else the ``"*"`` rule; no rule =
    no delivery there."""

    __tablename__ = "shipping_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    mode: Mapped[str] = mapped_column(sa.String(8), default="pieces")  # pieces | weight
    rules: Mapped[list] = mapped_column(sa.JSON, default=list)
    free_over: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)  # fen: free at or above

    __table_args__ = (sa.CheckConstraint("mode IN ('pieces', 'weight')", name="mode"),)
