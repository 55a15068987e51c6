"""Catalogue tables (in each store's own schema)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import StoreModel, utcnow
from mallow.statemachine import StateMachine

#: draft: being prepared, never shown; on_shelf: for sale; off_shelf: hidden, kept.
PRODUCT_STATES = StateMachine(
    "product",
    {
        "draft": {"on_shelf", "off_shelf"},
        "on_shelf": {"off_shelf"},
        "off_shelf": {"on_shelf"},
    },
)


class ProductCategory(StoreModel):
    __tablename__ = "product_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("product_categories.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(40))
    sort: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Product(StoreModel):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("product_categories.id"), nullable=True, index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    subtitle: Mapped[str] = mapped_column(sa.String(200), default="")
    #: sanitised with nh3 on every save; rendered as is
    description_html: Mapped[str] = mapped_column(sa.Text, default="")
    video_url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    #: spec axes, e.g. [{"name": "颜色", "values": ["红", "蓝"]}, {"name": "尺码", "values": ["M", "L"]}]
    specs: Mapped[list] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(12), default="draft", index=True)
    sort: Mapped[int] = mapped_column(default=0)
    sales: Mapped[int] = mapped_column(default=0)
    shipping_template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("shipping_templates.id"), nullable=True)
    #: normalised text (title, subtitle, description text, spec values) for keyword search
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    images: Mapped[list[ProductImage]] = relationship(
        order_by="ProductImage.sort", cascade="all, delete-orphan", back_populates="product"
    )
    skus: Mapped[list[Sku]] = relationship(order_by="Sku.id", cascade="all, delete-orphan", back_populates="product")

    __table_args__ = (sa.CheckConstraint("status IN ('draft', 'on_shelf', 'off_shelf')", name="status"),)


class ProductImage(StoreModel):
    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(sa.String(200))
    thumb_path: Mapped[str] = mapped_column(sa.String(200))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    sort: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="images")


#: the percentage of a ``skus`` page PostgreSQL fills on insert (see :class:`Sku`)
SKU_FILLFACTOR = 50


class Sku(StoreModel):
    """One sellable variant. ``stock`` can never go below zero (a CHECK constraint backs the
    conditional updates of :mod:`mallow.inventory`)."""

    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"), index=True)
    #: e.g. {"颜色": "红", "尺码": "M"}; "" key set for a product without specs
    spec_values: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    spec_key: Mapped[str] = mapped_column(sa.String(200), default="")
    price: Mapped[int] = mapped_column(sa.BigInteger)  # fen
    market_price: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)  # fen, shown struck through
    stock: Mapped[int] = mapped_column(default=0)
    weight_g: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(sa.String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    #: the SKU's own picture (规格图), an image of the store's media library; None: the product's
    #: first image stands for it. Deleting a library image a SKU shows is refused
    #: (:func:`mallow.media.library.uses` counts it as a use by the SKU's product).
    media_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id"), nullable=True, index=True)

    product: Mapped[Product] = relationship(back_populates="skus")

    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price >= 0", name="price_not_negative"),
        sa.UniqueConstraint("product_id", "spec_key", name="uq_skus_product_spec"),
        # PostgreSQL: half of each page left free, so that the stock update every order makes
        # of its SKUs' rows stays on their page (a HOT update: no new index entry, the old
        # version pruned in place). Packed full, a hot SKU under concurrent orders moved to
        # new pages and grew its indexes with every version (store migration e7a9b1c3d5f2)
        {"postgresql_with": {"fillfactor": SKU_FILLFACTOR}},
    )
