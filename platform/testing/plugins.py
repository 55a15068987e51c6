"""Plugins in tests: an app with plugins approved and loaded, and a plugin enabled or disabled
in a store through the platform's own paths (Mallow's modules are imported inside the helpers,
as everywhere in the kit)."""

from __future__ import annotations

from .apps import build_app
from .stores import Shop, make_admin


def approve_plugin(app, name: str) -> None:
    """Record the installed release of ``name`` as approved (as a platform admin would)."""
    from mallow.db import db
    from mallow.plugin_host.discovery import installed
    from mallow.plugin_host.models import PluginRelease

    _entry_point, manifest = installed()[name]
    with app.app_context():
        row = db.session.execute(
            db.select(PluginRelease).filter_by(name=name, version=manifest.version)
        ).scalar_one_or_none()
        if row is None:
            db.session.add(
                PluginRelease(name=name, version=manifest.version, manifest=manifest.as_dict(), status="approved")
            )
        else:
            row.status = "approved"
        db.session.commit()


def plugin_app(tmp_path_factory, backend: str, plugins: list[str], **overrides):
    """A fresh app on ``backend`` with ``plugins`` approved and loaded (before its first request)."""
    from mallow.plugin_host.loader import load_approved

    app = build_app(tmp_path_factory, backend, **overrides)
    make_admin(app)
    for name in plugins:
        approve_plugin(app, name)
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
