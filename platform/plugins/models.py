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
    #: why it is off when nobody in the store switched it off: ``platform`` (withdrawn by the
    #: platform), ``circuit_breaker`` (it kept failing or overrunning its budget here); None otherwise
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    disabled_detail: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    disabled_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("store_id", "name", name="uq_store_plugins_store_name"),)


class PluginFault(PlatformModel):
    """A plugin's faults in a store, one row per (store, plugin, hook, kind): ``error`` (it
    raised), ``bad_result`` (it answered the wrong type), ``over_budget`` (it took longer than the
    hook's budget). ``count`` is every fault so far; ``window_*`` counts the current window, which
    the circuit breaker reads."""

    __tablename__ = "plugin_faults"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    plugin: Mapped[str] = mapped_column(sa.String(60), index=True)
    hook: Mapped[str] = mapped_column(sa.String(80))
    kind: Mapped[str] = mapped_column(sa.String(20))
    count: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    window_count: Mapped[int] = mapped_column(default=0)
    slowest_ms: Mapped[int] = mapped_column(default=0)
    last_message: Mapped[str] = mapped_column(sa.String(500), default="")
    first_seen_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("store_id", "plugin", "hook", "kind", name="uq_plugin_faults_store_plugin_hook_kind"),
    )
