"""Jobs of plugins: a periodic sweep over the stores that enabled the plugin, and only those.

    from mallow.plugins.api import plugin_sweep

    @plugin_sweep("groupbuy", every_seconds=60)
    def expire_groups(store, now):      # inside store_context; plugin_settings("groupbuy") works
        ...

registers ``groupbuy.sweep`` (run every ``every_seconds``: each store that has the plugin enabled,
in its own store context, one store's failure logged without stopping the others) and
``groupbuy.sweep_store`` (one store, ``store_id=…``; it does nothing where the plugin is off).
A plugin's tables exist only in stores that enabled it once, so a sweep over every store would
fail in the others. Other jobs are registered with :func:`mallow.jobs.job` as usual.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import current_app

from mallow.jobs.registry import job, periodic

log = logging.getLogger("mallow.jobs")


def _when(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else datetime.now(timezone.utc)


def stores_with(plugin: str) -> list[int]:
    """Ids of the open or suspended stores that have ``plugin`` enabled (needs an app context)."""
    from mallow.db import db
    from mallow.plugins.models import StorePlugin
    from mallow.tenants.models import Store

    return list(db.session.execute(
        db.select(StorePlugin.store_id).join(Store, Store.id == StorePlugin.store_id)
        .where(StorePlugin.name == plugin, StorePlugin.enabled.is_(True), Store.status.in_(("open", "suspended")))
        .order_by(StorePlugin.store_id)).scalars())


def plugin_sweep(plugin: str, every_seconds: float, prefix: str | None = None):
    prefix = prefix or plugin

    def register(func):
        from mallow.plugins.stores import enabled_plugins

        @job(f"{prefix}.sweep_store", store=True)
        def one_store(store, now: str | None = None):
            if plugin not in enabled_plugins():
                return None
            return func(store, _when(now))

        @job(f"{prefix}.sweep")
        def enabled_stores(now: str | None = None):
            from mallow.tenants.context import store_context

            app = current_app._get_current_object()
            results = {}
            for store_id in stores_with(plugin):
                try:
                    with store_context(store_id, app=app) as store:
                        if plugin in enabled_plugins():  # loaded in this app, still enabled
                            results[store_id] = func(store, _when(now))
                except Exception:  # one store's failure must not stop the others
                    log.exception("%s.sweep failed for store %s", prefix, store_id)
                    results[store_id] = "failed"
            return results

        periodic(f"{prefix}.sweep", every_seconds)
        return func

    return register
