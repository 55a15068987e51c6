"""Platform table of which plugins each store uses (the marketplace's releases are
:mod:`mallow.plugin_host.models`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import PlatformModel, utcnow


class StorePlugin(PlatformModel):
    """A store's use of a plugin: enabled or not (disabling keeps its settings and tables)."""

    __tablename__ = "store_plugins"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    enabled: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    version: Mapped[str] = mapped_column(sa.String(40))
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("store_id", "name", name="uq_store_plugins_store_name"),)
