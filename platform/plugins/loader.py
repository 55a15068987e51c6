"""Importing approved plugins at start-up, and enabling them per store.

Only releases a platform admin approved are imported (their top-level code runs then, never
before). Routes and blocks are registered at start-up, so approving a new release takes effect
when the app next starts; enabling or disabling an approved plugin for a store takes effect on
the store's next request.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app
from jsonschema import Draft202012Validator

from mallow.db import db
from mallow.plugins.discovery import Manifest, ManifestError, installed
from mallow.plugins.models import PluginRelease, StorePlugin

log = logging.getLogger("mallow.plugins")
AREAS = {"storefront": "/s/<store_slug>/x/{name}", "console": "/s/<store_slug>/console/x/{name}",
         "store_api": "/s/<store_slug>/api/x/{name}", "console_api": "/s/<store_slug>/api/console/x/{name}"}


def plugin_key(name: str) -> str:
    return f"plugin:{name}"


def approved_versions() -> set[tuple[str, str]]:
    try:
        rows = db.session.execute(sa.select(PluginRelease.name, PluginRelease.version)
                                  .where(PluginRelease.status == "approved")).all()
    except sa.exc.DBAPIError:  # platform not migrated yet: nothing is approved
        db.session.rollback()
        return set()
    return {(name, version) for name, version in rows}


def load_approved(app: Flask) -> dict[str, Manifest]:
    """Import and register every installed plugin whose installed version is approved.
    Call before the app serves its first request (create_app does)."""
    loaded: dict[str, Manifest] = app.extensions.setdefault("mallow.loaded_plugins", {})
    manager = app.extensions["mallow.plugins"]
    with app.app_context():
        approved = approved_versions()
        db.session.remove()
    for name, (entry_point, manifest) in sorted(installed().items()):
        if isinstance(manifest, ManifestError):
            log.warning("plugin %s skipped: %s", name, manifest)
            continue
        if name in loaded or (name, manifest.version) not in approved:
            continue
        module = entry_point.load()  # the plugin's code runs from here on
        manager.register(module, name=plugin_key(name))
        loaded[name] = manifest
        _mount_routes(app, manager, name, module)
    manager.check_pending()
    return loaded


def _mount_routes(app: Flask, manager, name: str, module) -> None:
    caller = manager.subset_hook_caller("mallow_register_routes",
                                        remove_plugins=[p for p in manager.get_plugins() if p is not module])

    def register(blueprint: Blueprint, area: str) -> None:
        if area not in AREAS:
            raise ValueError(f"{name}: unknown area {area!r}")

        @blueprint.before_request
        def only_where_enabled():
            from mallow.plugins.stores import enabled_plugins

            if name not in enabled_plugins():
                abort(404)

        prefix = AREAS[area].format(name=name)
        app.register_blueprint(blueprint, url_prefix=prefix, name=f"x_{name}_{area}_{blueprint.name}")
        if area.endswith("api"):
            from mallow.extensions import csrf

            csrf.exempt(blueprint)

    caller(register=register)


def settings_with_defaults(manifest: Manifest, settings: dict | None) -> dict:
    defaults = {key: spec["default"] for key, spec in (manifest.settings_schema.get("properties") or {}).items()
                if isinstance(spec, dict) and "default" in spec}
    return {**defaults, **(settings or {})}


def validate_settings(manifest: Manifest, settings: dict) -> dict[str, tuple[str, str]]:
    """Field errors of ``settings`` against the manifest's JSON Schema (empty when valid)."""
    errors = {}
    for error in Draft202012Validator(manifest.settings_schema or {"type": "object"}).iter_errors(settings):
        field = ".".join(str(p) for p in error.path) or "settings"
        errors.setdefault(field, (error.validator, error.message))
    return errors


def enable(store_id: int, name: str, settings: dict | None = None) -> StorePlugin:
    """Enable an approved, loaded plugin for a store: its tables are created or upgraded in the
    store's schema first; enabling again keeps the stored settings unless new ones are given."""
    from mallow.plugins.migrate import migrate_plugin
    from mallow.validation import ValidationFailed

    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    if manifest is None:
        raise ValidationFailed({"plugin": ("not_available", "This plugin is not approved on this platform.")})
    row = db.session.execute(sa.select(StorePlugin).where(StorePlugin.store_id == store_id,
                                                          StorePlugin.name == name)).scalar_one_or_none()
    merged = settings_with_defaults(manifest, settings if settings is not None else (row.settings if row else {}))
    problems = validate_settings(manifest, merged)
    if problems:
        raise ValidationFailed(problems)
    migrate_plugin(store_id, name, manifest)
    if row is None:
        row = StorePlugin(store_id=store_id, name=name, settings=merged, version=manifest.version)
        db.session.add(row)
    row.enabled, row.settings, row.version = True, merged, manifest.version
    db.session.flush()
    return row


def disable(store_id: int, name: str) -> None:
    """Stop a plugin in a store: hooks and routes stop at once; its tables and settings stay."""
    db.session.execute(sa.update(StorePlugin).where(StorePlugin.store_id == store_id, StorePlugin.name == name)
                       .values(enabled=False))
