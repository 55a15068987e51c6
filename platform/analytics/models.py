"""The analytics tables of a store: raw storefront events (pruned after
:data:`KEEP_DAYS`), the daily rollups per product and per source, and the cached heavy figures."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow

#: raw events older than this many days are deleted by the daily rollup (the rollups stay)
KEEP_DAYS = 90

# event kinds (a small integer in the row: the table grows fastest of all)
PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, ORDER_PLACED, PAYMENT, SHARE_VISIT = 1, 2, 3, 4, 5, 6
KINDS = {
    PAGE_VIEW: "page_view",
    PRODUCT_VIEW: "product_view",
    ADD_TO_CART: "add_to_cart",
    ORDER_PLACED: "order_placed",
    PAYMENT: "payment",
    SHARE_VISIT: "share",
}
# traffic sources
DIRECT, SHARE, DISTRIBUTOR, CAMPAIGN = 0, 1, 2, 3
SOURCES = {DIRECT: "direct", SHARE: "share", DISTRIBUTOR: "distributor", CAMPAIGN: "campaign"}


class AnalyticsEvent(StoreModel):
    """One storefront event. ``visitor`` is the first-party cookie's id (``mallow_v``), else
    ``c<customer id>``; ``ref`` the share or distributor code, or the ``utm_source``."""

    __tablename__ = "analytics_events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[int] = mapped_column(sa.SmallInteger)
    visitor: Mapped[str] = mapped_column(sa.String(40))
    customer_id: Mapped[int | None] = mapped_column(nullable=True)
    product_id: Mapped[int | None] = mapped_column(nullable=True)
    sku_id: Mapped[int | None] = mapped_column(nullable=True)
    order_id: Mapped[int | None] = mapped_column(nullable=True)
    amount: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)  # fen
    source: Mapped[int] = mapped_column(sa.SmallInteger, default=DIRECT)
    ref: Mapped[str] = mapped_column(sa.String(40), default="")
    path: Mapped[str] = mapped_column(sa.String(200), default="")


class DailyProduct(StoreModel):
    """One product on one day (the store's local date): views, visitors, carts, paid units and amount."""

    __tablename__ = "analytics_daily_products"

    day: Mapped[sa.Date] = mapped_column(sa.Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(primary_key=True)
    views: Mapped[int] = mapped_column(default=0)
    visitors: Mapped[int] = mapped_column(default=0)
    carts: Mapped[int] = mapped_column(default=0)
    paid_units: Mapped[int] = mapped_column(default=0)
    paid_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class DailySource(StoreModel):
    """One traffic source on one day: distinct visitors, orders placed and paid amount."""

    __tablename__ = "analytics_daily_sources"

    day: Mapped[sa.Date] = mapped_column(sa.Date, primary_key=True)
    source: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    visitors: Mapped[int] = mapped_column(default=0)
    orders: Mapped[int] = mapped_column(default=0)
    paid_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CachedFigures(StoreModel):
    """A heavy aggregation computed by a job, kept for its day (``key``: ``rfm``, ``period``); the
    daily rollup deletes the rows of earlier days."""

    __tablename__ = "analytics_cache"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    day: Mapped[sa.Date] = mapped_column(sa.Date)
    data: Mapped[dict] = mapped_column(sa.JSON)
    computed_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
