"""The active store of the current app context.

A request activates at most one store (the resolver does it, once). Code that works on many
stores (jobs, CLI, migrations) enters ``store_context(store_id)`` for each: it pushes a fresh
app context, so the store gets a fresh database session and nothing loaded for one store can be
served for another. Switching the store inside a live context is refused.
"""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa
from flask import current_app, g

from mallow.db import db
from mallow.db.session import SAME_CONNECTION, STORE_SCHEMA, context_value, bind_store, store_bind, store_translate_map
from mallow.tenants.engines import pod_key, schema_name
from mallow.tenants.models import Store


class StoreSwitchRefused(RuntimeError):
    pass


def store_engines():
    return current_app.extensions["mallow.store_engines"]


def current_store():
    """The Store of this app context, or None (read from the context itself: asked a dozen times
    a page, no proxy lookups)."""
    return context_value("mallow_store")


def current_store_engine():
    """Where the active store's tables are: its SQLite engine, or (PostgreSQL)
    :data:`~mallow.db.session.SAME_CONNECTION`, "the session's own connection", which carries
    the store's schema translation."""
    return store_bind() if current_store() is not None else None


def engine_of(store_id: int, pod: str | None):
    """Where store ``store_id``'s tables are: PostgreSQL on the platform's database, the session's
    own connection; on another pod (:mod:`mallow.tenants.pods`), that pod's engine (the session
    then holds a second connection, committed with the first); SQLite, the store's file."""
    engines = store_engines()
    if not engines.is_postgresql:
        return lambda: engines.engine_for(store_id)
    if pod is None:
        return lambda: SAME_CONNECTION
    return lambda: engines.engine_for(store_id, pod=pod)


def activate_store(store) -> None:
    active = g.get("mallow_store")
    if active is not None and active.id != store.id:
        raise StoreSwitchRefused(f"store {active.id} is active; enter store_context() for store {store.id}")
    g.mallow_store = store
    g.mallow_store_id = store.id
    g.mallow_store_slug = store.slug  # for links after a commit expired the row (no query back)
    # the pod as the row read for this request says (kept under the store's stamp): a move
    # changes the row and the stamp, so the next request routes to the new pod
    g.mallow_store_pod = pod = pod_key(store.pod)
    bind_store(engine_of(store.id, pod), {STORE_SCHEMA: schema_name(store.id)})
    if pod is None and store_engines().is_postgresql and _has_connection(db.session()):
        # the session's connection began before the store was known: translate from now on
        db.session.connection().execution_options(schema_translate_map=store_translate_map())


def moved_since_activation() -> bool:
    """Whether the active store has started or finished a move to another pod since this
    context activated it (one query of its row, as committed now): a database error of a request
    or job that began before the move is then "try again", not a fault (:mod:`mallow.stores.move`)."""
    store_id = context_value("mallow_store_id")
    if store_id is None or not store_engines().is_postgresql:
        return False
    with store_engines().platform_engine.connect() as connection:
        row = connection.execute(sa.select(Store.pod, Store.moving_to).where(Store.id == store_id)).first()
    return row is not None and (row.moving_to is not None or pod_key(row.pod) != g.get("mallow_store_pod"))


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
