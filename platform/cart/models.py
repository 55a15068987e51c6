from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import StoreModel, utcnow


class Cart(StoreModel):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    #: SHA-256 of the guest cart cookie (None once the cart belongs to a customer)
    guest_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True, nullable=True)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    items: Mapped[list[CartItem]] = relationship(order_by="CartItem.id", cascade="all, delete-orphan")


class CartItem(StoreModel):
    __tablename__ = "cart_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(sa.ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(sa.ForeignKey("skus.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column()
    added_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("cart_id", "sku_id", name="uq_cart_items_cart_sku"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )
