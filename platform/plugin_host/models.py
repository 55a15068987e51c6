"""Platform table of the plugin marketplace: the releases (plugin + version) recorded for review,
and the platform admin's decision on each."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import PlatformModel, utcnow
from mallow.statemachine import StateMachine

#: a release (plugin + version) is imported only once approved
RELEASE_STATES = StateMachine(
    "plugin_release",
    {
        "submitted": {"approved", "rejected"},
        "approved": {"withdrawn"},
        "rejected": {"submitted"},
        "withdrawn": {"approved"},
    },
)


class PluginRelease(PlatformModel):
    __tablename__ = "plugin_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), index=True)
    version: Mapped[str] = mapped_column(sa.String(40))
    manifest: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(12), default="submitted")
    reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(nullable=True)
    reviewed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.UniqueConstraint("name", "version", name="uq_plugin_releases_name_version"),)
