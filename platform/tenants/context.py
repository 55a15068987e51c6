"""The active store of the current app context.

A request activates at most one store (the resolver does it, once). Code that works on many
stores (jobs, CLI, migrations) enters ``store_context(store_id)`` for each: it pushes a fresh
app context, so the store gets a fresh database session and nothing loaded for one store can be
served for another. Switching the store inside a live context is refused.
"""
from __future__ import annotations

from contextlib import contextmanager

from flask import current_app, g, has_app_context

from mallow.db import db


class StoreSwitchRefused(RuntimeError):
    pass


def store_engines():
    return current_app.extensions["mallow.store_engines"]


def current_store():
    """The Store of this app context, or None."""
    if not has_app_context():
        return None
    return g.get("mallow_store")


def current_store_engine():
    store = current_store()
    if store is None:
        return None
    return store_engines().engine_for(store.id)


def activate_store(store) -> None:
    active = g.get("mallow_store")
    if active is not None and active.id != store.id:
        raise StoreSwitchRefused(f"store {active.id} is active; enter store_context() for store {store.id}")
    g.mallow_store = store


@contextmanager
def store_context(store_or_id, app=None):
    """Run a block as store ``store_or_id`` in its own app context (jobs, CLI, tests)."""
    from mallow.tenants.models import Store

    app = app or current_app._get_current_object()
    store_id = getattr(store_or_id, "id", store_or_id)
    with app.app_context():
        store = db.session.get(Store, int(store_id))
        if store is None:
            raise LookupError(f"no store {store_id}")
        activate_store(store)
        try:
            yield store
        finally:
            db.session.remove()
