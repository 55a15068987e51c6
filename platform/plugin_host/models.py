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
    #: where the release came from: ``installed`` (found in the environment by ``mallow plugin
    #: sync``) or ``uploaded`` (a developer published a distribution to the platform's index)
    origin: Mapped[str] = mapped_column(sa.String(12), default="installed")
    #: the code under review: ``{path inside the distribution: "sha256=<urlsafe b64>"}`` (a wheel
    #: RECORD's form); an approval holds for exactly these files
    files: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: an uploaded release: the developer who published it, and the archive in the platform's index
    developer_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    archive: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    archive_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)

    __table_args__ = (sa.UniqueConstraint("name", "version", name="uq_plugin_releases_name_version"),)
