"""Plugins in tests: an app with plugins approved and loaded, and a plugin enabled or disabled
in a store through the platform's own paths (Mallow's modules are imported inside the helpers,
as everywhere in the kit).

A plugin author's commonest slips get an answer that says what to do: a plugin that is not
installed (``pip install -e .`` forgotten) raises :class:`PluginNotInstalled`, a ``plugin.json``
that cannot be read raises :class:`BrokenManifest` naming the file and the JSON problem.
"""

from __future__ import annotations

from .apps import build_app, dispose_app
from .stores import Shop, make_admin


class PluginNotInstalled(LookupError):
    """The plugin a test asked for is not installed in this Python environment."""


class BrokenManifest(ValueError):
    """The plugin is installed but its ``plugin.json`` cannot be read."""


def installed_manifest(name: str):
    """The manifest of installed plugin ``name``, or a clear error (see the module's docstring)."""
    from mallow.plugin_host.discovery import ManifestError, installed

    found = installed().get(name)
    if found is None:
        raise PluginNotInstalled(
            f"plugin {name!r} is not installed in this environment: run `pip install -e .` in the plugin's folder"
            ' (its pyproject.toml declares the entry point [project.entry-points."mallow.plugins"])'
        )
    _entry_point, manifest = found
    if isinstance(manifest, ManifestError):
        raise BrokenManifest(f"plugin {name!r} has a broken manifest: {manifest}")
    return manifest


def _admin(app):
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db

    admin = db.session.execute(db.select(PlatformAdmin).order_by(PlatformAdmin.id).limit(1)).scalar()
    if admin is None:
        admin_id, _email = make_admin(app)
        admin = db.session.get(PlatformAdmin, admin_id)
    return admin


def approve_plugin(app, name: str) -> None:
    """Approve the installed release of ``name`` as a platform admin would: ``mallow plugin sync``
    records it (with its files' hashes), then the admin approves it through the marketplace."""
    from mallow.db import db
    from mallow.plugin_host import marketplace
    from mallow.plugin_host.models import RELEASE_STATES, PluginRelease

    manifest = installed_manifest(name)
    with app.app_context():
        marketplace.sync()
        release = db.session.execute(
            db.select(PluginRelease).filter_by(name=name, version=manifest.version)
        ).scalar_one()
        if release.status != "approved":
            if release.status == "rejected":  # a test approving what another rejected: back to review
                RELEASE_STATES.move(release, "submitted")
            marketplace.approve(release, _admin(app), "approved by the test kit")
        db.session.remove()


def plugin_app(tmp_path_factory, backend: str, plugins: list[str], **overrides):
    """A fresh app on ``backend`` with ``plugins`` approved and loaded (before its first request)."""
    from mallow.plugin_host.loader import load_approved

    app = build_app(tmp_path_factory, backend, **overrides)
    make_admin(app)
    try:
        for name in plugins:
            approve_plugin(app, name)
    except (PluginNotInstalled, BrokenManifest):
        dispose_app(app)  # the platform built for nothing goes (its PostgreSQL database too)
        raise
    load_approved(app)
    app.mallow_backend = backend
    return app


def enable_plugin(app, shop: Shop, name: str, settings: dict | None = None):
    """Enable ``name`` in ``shop`` through the platform's own enable path (tables migrated)."""
    from mallow.db import db
    from mallow.plugin_host import loader
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        loader.enable(shop.store_id, name, settings)
        db.session.commit()


def disable_plugin(app, shop: Shop, name: str) -> None:
    from mallow.db import db
    from mallow.plugin_host import loader
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        loader.disable(shop.store_id, name)
        db.session.commit()
