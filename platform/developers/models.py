"""Who owns a plugin name: the developer who first published it (the platform owns the names of
the plugins it ships or installs itself). One row per name, so two developers racing for a new
name cannot both win."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import PlatformModel, utcnow


class PluginName(PlatformModel):
    __tablename__ = "plugin_names"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    developer_id: Mapped[int] = mapped_column(sa.ForeignKey("developers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
