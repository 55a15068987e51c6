"""What a store's owner does with plugins: see the approved ones, enable, disable, configure.

Every change is in the audit log and takes effect on the store's next request. Disabling keeps
the settings and the plugin's tables; enabling again keeps the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from mallow import audit
from mallow.db import db
from mallow.plugin_host import loader
from mallow.plugin_host.discovery import Manifest
from mallow.plugins.manifests import localized, permission_label
from mallow.plugins.models import StorePlugin
from mallow.plugins.stores import settings_with_defaults


@dataclass
class Offer:
    """An approved plugin as one store sees it."""

    manifest: Manifest
    row: StorePlugin | None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def enabled(self) -> bool:
        return bool(self.row and self.row.enabled)

    @property
    def settings(self) -> dict:
        return settings_with_defaults(self.manifest, self.row.settings if self.row else {})

    @property
    def title(self) -> str:
        return localized(self.manifest.title) or self.name

    @property
    def description(self) -> str:
        return localized(self.manifest.description)

    @property
    def permissions(self) -> list[tuple[str, str]]:
        return [(code, permission_label(code)) for code in self.manifest.permissions]

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.manifest.version,
            "title": self.title,
            "author": self.manifest.author,
            "description": self.description,
            "permissions": [{"code": code, "label": label} for code, label in self.permissions],
            "settings_schema": self.manifest.settings_schema,
            "enabled": self.enabled,
            "settings": self.settings,
        }


def offers(store_id: int) -> list[Offer]:
    """Every plugin this platform runs (approved and loaded), with the store's state of it."""
    rows = {
        row.name: row
        for row in db.session.execute(db.select(StorePlugin).where(StorePlugin.store_id == store_id)).scalars()
    }
    loaded = current_app.extensions.get("mallow.loaded_plugins", {})
    return [Offer(manifest, rows.get(name)) for name, manifest in sorted(loaded.items())]


def offer(store_id: int, name: str) -> Offer | None:
    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    return Offer(manifest, loader.store_plugin(store_id, name)) if manifest is not None else None


def _done(action: str, store, actor, name: str, detail: dict | None = None) -> Offer:
    audit.record(action, actor=actor, store_id=store.id, target=f"plugin:{name}", detail=detail or {})
    db.session.commit()
    return offer(store.id, name)


def enable(store, name: str, actor, settings: dict | None = None) -> Offer:
    loader.enable(store.id, name, settings)
    return _done("plugin.enabled", store, actor, name)


def disable(store, name: str, actor) -> Offer:
    loader.disable(store.id, name)
    return _done("plugin.disabled", store, actor, name)


def update_settings(store, name: str, actor, settings: dict) -> Offer:
    loader.save_settings(store.id, name, settings)
    return _done("plugin.settings_changed", store, actor, name, {"keys": sorted(settings)})
