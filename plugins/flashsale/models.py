"""The flash sale's own tables, in each store's schema (created by this plugin's migration chain).

* ``flashsale_sales``: a time-boxed sale: window, preheat, limits.
* ``flashsale_items``: one SKU of a sale: its sale price (fen) and dedicated quota. ``remaining``
  is the source of truth for the quota: it only changes through one conditional UPDATE
  (``… WHERE remaining >= qty``), and a CHECK keeps it between 0 and the quota.
* ``flashsale_purchases``: what each order took from a sale (counted for the shopper limits),
  ``pending`` until paid, ``returned`` once its units went back (exactly once).
* ``flashsale_pending``: at most one unpaid order per shopper per sale (its primary key).
"""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.sdk import plugin_model_base

Base = plugin_model_base("flashsale")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone: every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class Sale(Base):
    __tablename__ = "flashsale_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(60))
    #: shown (with a countdown) from ``preheat_at``, buyable from ``starts_at`` until ``ends_at``
    preheat_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    #: units per order, per shopper over the whole sale, per shopper per day (0: no limit)
    per_order_limit: Mapped[int] = mapped_column(default=1)
    per_shopper_limit: Mapped[int] = mapped_column(default=1)
    per_day_limit: Mapped[int] = mapped_column(default=0)
    published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    items: Mapped[list[SaleItem]] = relationship(
        order_by="SaleItem.id", cascade="all, delete-orphan", back_populates="sale"
    )

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="window"),
        sa.CheckConstraint("per_order_limit >= 0 AND per_shopper_limit >= 0 AND per_day_limit >= 0", name="limits"),
    )

    def state(self, now: datetime) -> str:
        """``draft`` (unpublished), ``hidden`` (before preheat), ``preheat``, ``live`` or ``ended``."""
        if not self.published:
            return "draft"
        if now >= aware(self.ends_at):
            return "ended"
        if now >= aware(self.starts_at):
            return "live"
        if self.preheat_at is None or now >= aware(self.preheat_at):
            return "preheat"
        return "hidden"


class SaleItem(Base):
    __tablename__ = "flashsale_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(sa.ForeignKey("flashsale_sales.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(index=True)
    product_id: Mapped[int] = mapped_column()
    sale_price: Mapped[int] = mapped_column(sa.BigInteger)  # fen
    quota: Mapped[int] = mapped_column()
    remaining: Mapped[int] = mapped_column()

    sale: Mapped[Sale] = relationship(back_populates="items")

    __table_args__ = (
        sa.UniqueConstraint("sale_id", "sku_id", name="uq_flashsale_items_sale_sku"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= quota", name="remaining_within_quota"),
        sa.CheckConstraint("sale_price >= 0", name="price_not_negative"),
    )

    @property
    def sold(self) -> int:
        return self.quota - self.remaining


class Purchase(Base):
    __tablename__ = "flashsale_purchases"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(sa.ForeignKey("flashsale_sales.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("flashsale_items.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column()
    order_id: Mapped[int] = mapped_column(index=True)
    customer_id: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    #: the shopper's calendar day (store time zone) for the per-day limit
    day: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    deadline: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("order_id", "item_id", name="uq_flashsale_purchases_order_item"),
        sa.Index("ix_flashsale_purchases_sale_customer", "sale_id", "customer_id"),
        sa.Index("ix_flashsale_purchases_status_deadline", "status", "deadline"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("status IN ('pending', 'paid', 'returned')", name="status"),
    )


class PendingOrder(Base):
    """The shopper's one unpaid order in a sale: a second one fails on the primary key."""

    __tablename__ = "flashsale_pending"

    sale_id: Mapped[int] = mapped_column(sa.ForeignKey("flashsale_sales.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
