"""Importing approved plugins at start-up, and enabling them per store.

Only releases a platform admin approved are imported (their top-level code runs then, never
before). Routes, blocks and jobs are registered at start-up, so approving a new release takes
effect when the app next starts; enabling or disabling an approved plugin for a store takes
effect on the store's next request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, request
from flask_babel import gettext as _

from mallow.accounts.guards import staff_required
from mallow.db import db
from mallow.extensions import csrf
from mallow.plugin_host.discovery import Manifest, ManifestError, installed, mallow_version, too_new
from mallow.plugin_host.migrate import migrate_plugin
from mallow.plugin_host.models import PluginRelease
from mallow.plugin_host.settings import validate as validate_settings
from mallow.plugin_host import blocks, jobs
from mallow.plugins.manager import plugin_key
from mallow.plugins.models import StorePlugin
from mallow.plugins.routes import AREAS, STAFF_AREAS
from mallow.plugins.stores import enabled_plugins, settings_with_defaults
from mallow.plugins.web import init_templates
from mallow.validation import ValidationFailed

log = logging.getLogger("mallow.plugins")


def init_app(app: Flask, json_errors: Callable[[Blueprint], None]) -> None:
    """Once per app, before :func:`load_approved`: the guard of plugin routes, the template
    helpers (slots, menu), and ``json_errors``, which gives a plugin's API blueprints the JSON
    error answers of the core API (the app factory passes :func:`mallow.api.errors.install`, so
    the host does not import the API, which imports the host)."""
    routes: dict[str, tuple[str, str, str]] = app.extensions.setdefault("mallow.plugin_routes", {})
    app.extensions["mallow.plugin_json_errors"] = json_errors

    @app.before_request
    def plugin_routes_only_where_enabled():
        mounted = routes.get((request.blueprint or "").split(".")[0])
        if mounted is None:
            return None
        name, area, _original = mounted
        if name not in enabled_plugins():
            abort(404)
        if area in STAFF_AREAS:  # a plugin's console pages and API are for the store's staff only
            staff_required(lambda: None)()
        return None

    init_templates(app)


def approved_versions() -> set[tuple[str, str]]:
    try:
        rows = db.session.execute(
            sa.select(PluginRelease.name, PluginRelease.version).where(PluginRelease.status == "approved")
        ).all()
    except sa.exc.DBAPIError:  # platform not migrated yet: nothing is approved
        db.session.rollback()
        return set()
    return {(name, version) for name, version in rows}


def load_approved(app: Flask) -> dict[str, Manifest]:
    """Import and register every installed plugin whose installed version is approved.
    Call before the app serves its first request (create_app does). A plugin that fails to
    import stops the start-up, with its name in the error. :func:`init_app` comes first."""
    if "mallow.plugin_routes" not in app.extensions:
        raise RuntimeError(
            "mallow.plugin_host.loader.init_app(app, ...) comes before load_approved (create_app calls both)"
        )
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
        if too_new(manifest):
            log.warning(
                "plugin %s %s skipped: it needs Mallow %s or newer (this is %s)",
                name,
                manifest.version,
                manifest.min_mallow_version,
                mallow_version(),
            )
            continue
        try:
            module = entry_point.load()  # the plugin's code runs from here on
        except Exception as error:
            raise RuntimeError(f"plugin {name} {manifest.version} failed to load: {error}") from error
        manager.register(module, name=plugin_key(name))
        loaded[name] = manifest
        _mount_routes(app, manager, name, module)
        _register_blocks(app, manager, name, module)
        _register_jobs(app, manager, name, module)
    manager.check_pending()
    return loaded


def _only_this_plugin(manager, module, hook: str):
    return manager.subset_hook_caller(hook, remove_plugins=[p for p in manager.get_plugins() if p is not module])


def _mount_routes(app: Flask, manager, name: str, module) -> None:
    routes = app.extensions["mallow.plugin_routes"]

    def register(blueprint: Blueprint, area: str) -> None:
        if area not in AREAS:
            raise ValueError(f"{name}: unknown area {area!r}")
        # the registered name ends with the area, so API areas are recognised as API requests
        mounted = f"x_{name}_{blueprint.name}_{area}"
        if area.endswith("api"):
            if not blueprint._got_registered_once:
                app.extensions["mallow.plugin_json_errors"](blueprint)  # JSON errors, 422 for ValidationFailed
            csrf.exempt(blueprint)  # bearer tokens only, like the core API
        routes[mounted] = (name, area, blueprint.name)
        app.register_blueprint(blueprint, url_prefix=AREAS[area].format(name=name), name=mounted)

    _only_this_plugin(manager, module, "mallow_register_routes")(register=register)


def _register_blocks(app: Flask, manager, name: str, module) -> None:
    _only_this_plugin(manager, module, "mallow_register_blocks")(register=blocks.registrar(app, name, module))


def _register_jobs(app: Flask, manager, name: str, module) -> None:
    _only_this_plugin(manager, module, "mallow_register_jobs")(register=jobs.registrar(app, name))


def loaded_manifest(name: str) -> Manifest:
    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    if manifest is None:
        raise ValidationFailed({"plugin": ("not_available", _("This plugin is not approved on this platform."))})
    return manifest


def store_plugin(store_id: int, name: str) -> StorePlugin | None:
    return db.session.execute(
        sa.select(StorePlugin).where(StorePlugin.store_id == store_id, StorePlugin.name == name)
    ).scalar_one_or_none()


def enable(store_id: int, name: str, settings: dict | None = None) -> StorePlugin:
    """Enable an approved, loaded plugin for a store: its tables are created or upgraded in the
    store's schema first; enabling again keeps the stored settings unless new ones are given."""
    manifest = loaded_manifest(name)
    row = store_plugin(store_id, name)
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


def save_settings(store_id: int, name: str, settings: dict) -> StorePlugin:
    """Replace a store's settings of a plugin (validated; defaults filled in). The plugin stays
    enabled or disabled as it was; a plugin never enabled is recorded as disabled."""
    manifest = loaded_manifest(name)
    merged = settings_with_defaults(manifest, settings)
    problems = validate_settings(manifest, merged)
    if problems:
        raise ValidationFailed(problems)
    row = store_plugin(store_id, name)
    if row is None:
        row = StorePlugin(store_id=store_id, name=name, enabled=False, settings=merged, version=manifest.version)
        db.session.add(row)
    row.settings = merged
    db.session.flush()
    return row


def disable(store_id: int, name: str) -> None:
    """Stop a plugin in a store: hooks and routes stop at once; its tables and settings stay."""
    db.session.execute(
        sa.update(StorePlugin).where(StorePlugin.store_id == store_id, StorePlugin.name == name).values(enabled=False)
    )
