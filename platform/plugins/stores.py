"""Which plugins the active store has enabled, with which settings (read once per request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app, g, has_app_context

from mallow.db import db
from mallow.plugins.models import StorePlugin

if TYPE_CHECKING:
    from mallow.plugin_host.discovery import Manifest


def enabled_plugins() -> dict[str, dict]:
    """``{plugin name: settings}`` for the active store (approved and loaded plugins only);
    empty outside a store."""
    if not has_app_context() or g.get("mallow_store_id") is None:
        return {}
    if "mallow_enabled_plugins" not in g:
        loaded = current_app.extensions.get("mallow.loaded_plugins", {})
        rows = (
            db.session.execute(
                sa.select(StorePlugin.name, StorePlugin.settings).where(
                    StorePlugin.store_id == g.mallow_store_id, StorePlugin.enabled.is_(True)
                )
            ).all()
            if loaded
            else []
        )
        g.mallow_enabled_plugins = {
            name: settings_with_defaults(loaded[name], settings) for name, settings in rows if name in loaded
        }
    return g.mallow_enabled_plugins


def settings_for(plugin: str) -> dict:
    return dict(enabled_plugins().get(plugin, {}))


def settings_with_defaults(manifest: Manifest, settings: dict | None) -> dict:
    """``settings`` over the defaults of the manifest's settings schema."""
    defaults = {
        key: spec["default"]
        for key, spec in (manifest.settings_schema.get("properties") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    return {**defaults, **(settings or {})}
