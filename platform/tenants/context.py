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
from mallow.db.session import SAME_CONNECTION, STORE_SCHEMA, bind_store, store_bind, store_translate_map
from mallow.tenants.engines import schema_name
from mallow.tenants.models import Store


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
    """Where the active store's tables are: its SQLite engine, or (PostgreSQL)
    :data:`~mallow.db.session.SAME_CONNECTION`, "the session's own connection", which carries
    the store's schema translation."""
    return store_bind() if current_store() is not None else None


def _engine_of(store_id: int):
    engines = store_engines()
    return (lambda: SAME_CONNECTION) if engines.is_postgresql else (lambda: engines.engine_for(store_id))


def activate_store(store) -> None:
    active = g.get("mallow_store")
    if active is not None and active.id != store.id:
        raise StoreSwitchRefused(f"store {active.id} is active; enter store_context() for store {store.id}")
    g.mallow_store = store
    g.mallow_store_id = store.id
    g.mallow_store_slug = store.slug  # for links after a commit expired the row (no query back)
    bind_store(_engine_of(store.id), {STORE_SCHEMA: schema_name(store.id)})
    if store_engines().is_postgresql and _has_connection(db.session()):
        # the session's connection began before the store was known: translate from now on
        db.session.connection().execution_options(schema_translate_map=store_translate_map())


def _has_connection(session) -> bool:
    """Whether the session's transaction holds a connection already. A transaction can begin
    without one (adding the store's row kept in memory begins it): the connection it takes
    later is translated as it begins (``mallow.db.session``), so none is checked out here for a
    request that may never run a statement (a refused token, an answer from memory)."""
    transaction = session.get_transaction()
    return transaction is not None and bool(transaction._connections)


@contextmanager
def store_context(store_or_id, app=None):
    """Run a block as store ``store_or_id`` in its own app context (jobs, CLI, tests)."""
    app = app or current_app._get_current_object()
    store_id = getattr(store_or_id, "id", store_or_id)
    with app.app_context():
        g.mallow_inner = True  # not the request's own context, if a request runs this (engines.py)
        store = db.session.get(Store, int(store_id))
        if store is None:
            raise LookupError(f"no store {store_id}")
        activate_store(store)
        try:
            yield store
        finally:
            db.session.remove()
