"""The commission timers: freeze delivered orders' commissions, settle them once the after-sales
window is over. A database state swept periodically, so nothing is lost with a restart.

* ``distribution.settle_store`` (``store_id``, optional ``now`` ISO timestamp): one store;
* ``distribution.settle``: every store that enabled the plugin (one store's failure is logged and
  does not stop the others), every :data:`EVERY_SECONDS`.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import current_app

from mallow.jobs import job, periodic
from mallow_distribution import commission, rules

log = logging.getLogger("mallow.plugins.distribution")
EVERY_SECONDS = 600


def _when(now: str | None) -> datetime:
    moment = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@job("distribution.settle_store", store=True)
def settle_store(store, now: str | None = None) -> dict:
    if not rules.enabled():  # disabled here: its commissions wait, untouched
        return {"skipped": True}
    return commission.sweep(_when(now))


def _enabled_store_ids() -> list[int]:
    from mallow.db import db
    from mallow.plugins.models import StorePlugin
    from mallow.tenants.models import Store

    return list(db.session.execute(
        db.select(StorePlugin.store_id).join(Store, Store.id == StorePlugin.store_id)
        .where(StorePlugin.name == rules.PLUGIN, StorePlugin.enabled.is_(True),
               Store.status.in_(("open", "suspended"))).order_by(StorePlugin.store_id)).scalars())


@job("distribution.settle")
def settle_every_store(now: str | None = None) -> dict:
    from mallow.tenants.context import store_context

    app = current_app._get_current_object()
    results = {}
    for store_id in _enabled_store_ids():
        try:
            with store_context(store_id, app=app) as store:
                results[store_id] = settle_store(store, now)
        except Exception:  # one store's failure must not stop the others
            log.exception("distribution.settle failed for store %s", store_id)
            results[store_id] = "failed"
    return results


periodic("distribution.settle", EVERY_SECONDS)
