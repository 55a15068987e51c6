"""Page builder tables (in each store's own schema).

* ``pages``: one row per page (the home page, landing pages 微页面 with their own URL, the
  product-detail and category templates). ``draft`` is the page JSON being edited (always
  valid: every save is validated); ``published_version_id`` points at the live version (a plain
  integer, not a foreign key, so the two tables do not reference each other in a cycle).
* ``page_versions``: every publish keeps one, numbered per page; rollback points the page at an
  older one again.
* ``builder_state``: one row (id 1) per store: the active theme, every theme's settings, a
  revision bumped when they change, and the catalogue version bumped by every catalogue write
  (see :mod:`mallow.builder.invalidation`). Both counters are part of the render cache key.
"""

from __future__ import annotations

import sqlalchemy as sa
from mallow.db import StoreModel, utcnow
from sqlalchemy.orm import Mapped, mapped_column

PAGE_KINDS = ("home", "landing", "product", "category")


class Page(StoreModel):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: the URL part of a landing page (``/p/<slug>``); "" for the other kinds
    slug: Mapped[str] = mapped_column(sa.String(40), default="")
    title: Mapped[str] = mapped_column(sa.String(60), default="")
    draft: Mapped[dict] = mapped_column(sa.JSON)
    #: bumped by every draft save: a save based on an older revision is refused (two tabs)
    draft_revision: Mapped[int] = mapped_column(default=1)
    draft_saved_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    published_version_id: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("kind", "slug", name="uq_pages_kind_slug"),
        sa.CheckConstraint("kind IN ('home', 'landing', 'product', 'category')", name="kind"),
    )


class PageVersion(StoreModel):
    __tablename__ = "page_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(sa.ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    document: Mapped[dict] = mapped_column(sa.JSON)
    title: Mapped[str] = mapped_column(sa.String(60), default="")
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: the merchant who published it
    created_by: Mapped[int | None] = mapped_column(nullable=True)

    __table_args__ = (sa.UniqueConstraint("page_id", "number", name="uq_page_versions_page_number"),)


class BuilderState(StoreModel):
    __tablename__ = "builder_state"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    theme: Mapped[str] = mapped_column(sa.String(40), default="default")
    #: ``{theme name: {setting: value}}``: switching theme and back keeps each theme's settings
    theme_settings: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    theme_revision: Mapped[int] = mapped_column(default=1)
    catalogue_version: Mapped[int] = mapped_column(sa.BigInteger, default=1)
