"""Which plugins the active store has enabled, with which settings: read once per request, and
kept in this process's memory under the store's stamp (:mod:`mallow.tenants.stamps`: enabling,
disabling or changing settings moves it), so a warm request reads no ``store_plugins`` row."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app, g, has_app_context

from mallow.db import db
from mallow.plugins.models import StorePlugin

MEMORY = "mallow.enabled_plugins"
MAX_STORES = 20_000

if TYPE_CHECKING:
    from mallow.plugin_host.discovery import Manifest


def enabled_plugins() -> dict[str, dict]:
    """``{plugin name: settings}`` for the active store (approved and loaded plugins only);
    empty outside a store. Every guarded plugin call asks: the context's ``g`` is looked up once
    (each access through the ``g`` proxy looks it up again)."""
    if not has_app_context():
        return {}
    here = g._get_current_object()
    store_id = here.get("mallow_store_id")
    if store_id is None:
        return {}
    enabled = here.get("mallow_enabled_plugins")
    if enabled is None:
        enabled = here.mallow_enabled_plugins = _read_enabled(store_id, here.get("mallow_store_stamp"))
    return enabled


def _read_enabled(store_id: int, stamp) -> dict[str, dict]:
    """What the store enabled: from this process's memory when kept under ``stamp``, else from
    its ``store_plugins`` rows (then kept)."""
    loaded = current_app.extensions.get("mallow.loaded_plugins", {})
    memory = current_app.extensions.setdefault(MEMORY, {})
    kept = memory.get(store_id) if stamp is not None else None
    if kept is not None and kept[0] == stamp and kept[1] is loaded:
        return kept[2]
    rows = (
        db.session.execute(
            sa.select(StorePlugin.name, StorePlugin.settings).where(
                StorePlugin.store_id == store_id, StorePlugin.enabled.is_(True)
            )
        ).all()
        if loaded
        else []
    )
    enabled = {name: settings_with_defaults(loaded[name], settings) for name, settings in rows if name in loaded}
    if stamp is not None:
        if len(memory) >= MAX_STORES:
            memory.clear()
        memory[store_id] = (stamp, loaded, enabled)
    return enabled


def enabled_names(app, store_id: int, stamp) -> frozenset[str] | None:
    """The plugins store ``store_id`` has enabled, from ``app``'s memory only (None: not known
    under ``stamp``); for code that runs before there is an app context (early answers)."""
    kept = app.extensions.get(MEMORY, {}).get(store_id)
    if kept is None or stamp is None or kept[0] != stamp:
        return None
    return frozenset(kept[2])


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
