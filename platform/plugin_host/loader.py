"""Importing approved plugins at start-up, and enabling them per store.

Only releases a platform admin approved are imported (their top-level code runs then, never
before), and only while their installed files are the files the approval recorded. Routes, blocks
and jobs are registered at start-up, so approving a new release takes effect when the app next
starts; enabling or disabling an approved plugin for a store takes effect on the store's next
request.

A plugin that cannot be loaded (changed since review, refused by the inspection, failing to
import or to register, hooks other than its manifest's) is reported
(:mod:`~mallow.plugin_host.problems`: the log, ``mallow plugin list``, /admin/plugins) and
skipped: the platform starts without it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, g, request
from flask_babel import gettext as _

from mallow.accounts.guards import staff_required
from mallow.db import db, utcnow
from mallow.plugin_host import admission, mounting
from mallow.plugin_host.discovery import Manifest, ManifestError, installed, mallow_version, too_new
from mallow.plugin_host.migrate import migrate_plugin
from mallow.plugin_host.models import PluginRelease
from mallow.plugin_host.problems import Problem, report
from mallow.plugin_host.settings import validate as validate_settings
from mallow.plugins import early
from mallow.plugins.acting import acting_as, enter, leave
from mallow.plugins.manager import plugin_key
from mallow.plugins.models import StorePlugin
from mallow.plugins.routes import STAFF_AREAS
from mallow.plugins.stores import enabled_plugins, settings_with_defaults
from mallow.plugins.web import init_templates
from mallow.tenants import stamps
from mallow.validation import ValidationFailed

log = logging.getLogger("mallow.plugins")
#: plugins loaded without review from ``MALLOW_DEV_PLUGIN_DIRS`` (development mode)
DEV = "mallow.dev_plugins"


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
        g.mallow_plugin_token = enter(name)  # the plugin's views run as the plugin
        return None

    @app.teardown_request
    def plugin_request_ends(_error=None):
        token = g.pop("mallow_plugin_token", None)
        if token is not None:
            try:
                leave(token)
            except ValueError:  # set in another context (cannot happen in one WSGI request)
                pass

    init_templates(app)


def approved_versions() -> set[tuple[str, str]]:
    return set(admission.approved_files())


def load_approved(app: Flask) -> dict[str, Manifest]:
    """Import and register every installed plugin whose installed version is approved and whose
    files are the approved ones (and, in development mode, those in the development folders).
    Call before the app serves its first request (create_app does); :func:`init_app` comes first.
    A plugin that cannot be loaded is reported and skipped; this never raises because of one."""
    if "mallow.plugin_routes" not in app.extensions:
        raise RuntimeError(
            "mallow.plugin_host.loader.init_app(app, ...) comes before load_approved (create_app calls both)"
        )
    loaded: dict[str, Manifest] = app.extensions.setdefault("mallow.loaded_plugins", {})
    dev: set[str] = app.extensions.setdefault(DEV, set())
    app.extensions.setdefault("mallow.plugin_problems", {})
    manager = app.extensions["mallow.plugins"]
    folders = admission.dev_folders(app)
    with app.app_context():
        approved = admission.approved_files()
        for name, (entry_point, manifest) in sorted(installed().items()):
            if name in loaded:
                continue
            if isinstance(manifest, ManifestError):
                report(app, name, Problem("manifest_error", str(manifest)))
                continue
            in_dev = admission.in_dev_folder(manifest, folders)
            if not in_dev and (name, manifest.version) not in approved:
                continue
            problem = _before_import(manifest, None if in_dev else approved[(name, manifest.version)])
            if problem is None:
                problem = _load(app, manager, entry_point, manifest)
            if problem is not None:
                report(app, name, problem)
                continue
            app.extensions["mallow.plugin_problems"].pop(name, None)
            loaded[name] = manifest
            if in_dev:
                dev.add(name)
                log.warning("plugin %s %s loaded WITHOUT review (development folder)", name, manifest.version)
        db.session.remove()
    manager.check_pending()
    early.install(app)  # the early routes of exactly these plugins (mallow.plugins.early)
    return loaded


def _before_import(manifest: Manifest, approved_files: dict | None) -> Problem | None:
    """Why the plugin must not be imported, or None. ``approved_files`` None: development mode."""
    if too_new(manifest):
        return Problem(
            "too_new",
            f"needs Mallow {manifest.min_mallow_version} or newer (this is {mallow_version()})",
            version=manifest.version,
        )
    if approved_files is not None:
        problem = admission.files_problem(manifest, approved_files)
        if problem is not None:
            return problem
    return admission.inspection_problem(manifest)


def _forget_modules(package: str, before: set[str]) -> None:
    """Drop what a failed import left in ``sys.modules``, so nothing half-imported is reused."""
    for module in set(sys.modules) - before:
        if module == package or module.startswith(package + "."):
            del sys.modules[module]


def _load(app: Flask, manager, entry_point, manifest: Manifest) -> Problem | None:
    """Import, register with the hook manager and mount one plugin; the problem if that failed
    (then nothing of it stays registered)."""
    name, version = manifest.name, manifest.version
    before = set(sys.modules)
    try:
        with acting_as(name):
            module = entry_point.load()  # the plugin's code runs from here on
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit and SyntaxError too: a plugin never stops the start
        _forget_modules(manifest.module, before)
        log.error("plugin %s %s failed to import", name, version, exc_info=error)
        return Problem("import_failed", f"{type(error).__name__}: {error}", version=version)
    try:
        manager.register(module, name=plugin_key(name))
    except Exception as error:  # pluggy refuses an implementation that does not match its hook
        return Problem("register_failed", f"{type(error).__name__}: {error}", version=version)
    problem = admission.hooks_problem(manager, module, manifest)
    if problem is None:
        try:
            mounting.commit(app, name, module, mounting.record(app, manager, name, module))
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            log.error("plugin %s %s failed to register", name, version, exc_info=error)
            problem = Problem("register_failed", f"{type(error).__name__}: {error}", version=version)
    if problem is not None:
        manager.unregister(module)
    return problem


def loaded_manifest(name: str) -> Manifest:
    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    if manifest is None:
        raise ValidationFailed({"plugin": ("not_available", _("This plugin is not approved on this platform."))})
    return manifest


def store_plugin(store_id: int, name: str) -> StorePlugin | None:
    return db.session.execute(
        sa.select(StorePlugin).where(StorePlugin.store_id == store_id, StorePlugin.name == name)
    ).scalar_one_or_none()


def still_approved(name: str, version: str) -> bool:
    """Whether the release this app loaded is approved now (a withdrawal from another process,
    e.g. ``mallow plugin withdraw``, shows here at once); development plugins always are."""
    if name in current_app.extensions.get(DEV, ()):
        return True
    status = db.session.execute(
        sa.select(PluginRelease.status).filter_by(name=name, version=version)
    ).scalar_one_or_none()
    return status == "approved"


def enable(store_id: int, name: str, settings: dict | None = None, *, by_platform: bool = False) -> StorePlugin:
    """Enable an approved, loaded plugin for a store: its tables are created or upgraded in the
    store's schema first; enabling again keeps the stored settings unless new ones are given.
    A plugin the platform switched off in the store comes back only ``by_platform``."""
    manifest = loaded_manifest(name)
    if not still_approved(name, manifest.version):
        raise ValidationFailed({"plugin": ("not_available", _("This plugin is not approved on this platform."))})
    row = store_plugin(store_id, name)
    if row is not None and row.disabled_reason == "platform" and not by_platform:
        raise ValidationFailed(
            {"plugin": ("switched_off", _("The platform switched this plugin off in this store; ask the platform."))}
        )
    merged = settings_with_defaults(manifest, settings if settings is not None else (row.settings if row else {}))
    problems = validate_settings(manifest, merged)
    if problems:
        raise ValidationFailed(problems)
    migrate_plugin(store_id, name, manifest)
    if row is None:
        row = StorePlugin(store_id=store_id, name=name, settings=merged, version=manifest.version)
        db.session.add(row)
    row.enabled, row.settings, row.version = True, merged, manifest.version
    row.disabled_reason, row.disabled_detail, row.disabled_at = None, None, None
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


def disable(store_id: int, name: str, reason: str = "merchant", detail: dict | None = None) -> None:
    """Stop a plugin in a store: hooks and routes stop at once; its tables and settings stay.
    ``reason``: who switched it off (``merchant``, ``platform``, ``circuit_breaker``)."""
    db.session.execute(
        sa.update(StorePlugin)
        .where(StorePlugin.store_id == store_id, StorePlugin.name == name)
        .values(enabled=False, disabled_reason=reason, disabled_detail=detail, disabled_at=utcnow())
    )
    stamps.bump_after_commit(db.session, store_id)


def disable_everywhere(name: str, reason: str = "platform", detail: dict | None = None) -> list[int]:
    """Stop a plugin in every store that has it on, at once (every process reads the switch per
    request); returns those stores' ids. The caller commits."""
    store_ids = list(
        db.session.execute(
            sa.select(StorePlugin.store_id)
            .where(StorePlugin.name == name, StorePlugin.enabled.is_(True))
            .order_by(StorePlugin.store_id)
        ).scalars()
    )
    if store_ids:
        db.session.execute(
            sa.update(StorePlugin)
            .where(StorePlugin.name == name, StorePlugin.store_id.in_(store_ids))
            .values(enabled=False, disabled_reason=reason, disabled_detail=detail, disabled_at=utcnow())
        )
        for store_id in store_ids:
            stamps.bump_after_commit(db.session, store_id)
    return store_ids
