"""A Flask-SQLAlchemy session that sends store tables to the active store.

PostgreSQL: one connection per session serves platform and store tables alike; the active
store's ``schema_translate_map`` is set on that connection each time the session begins a
transaction (and when a store is activated mid-transaction). The map belongs to the SQLAlchemy
``Connection`` object, which is discarded when the session releases it, so nothing is left on the
pooled DBAPI connection for the next request.

SQLite: store tables go to the store's own engine (its own file).

Which store is active is the tenants layer's business (:mod:`mallow.tenants.context`); it tells
this module through :func:`bind_store`, so the session never imports what sits above it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import g
from flask.globals import _cv_app
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from mallow.db import hygiene

log = logging.getLogger(__name__)

STORE_BIND = "store"
STORE_SCHEMA = "store"


class NoActiveStore(RuntimeError):
    """A store table was queried with no store active: fail closed, never guess."""


class TenantSession(Session):
    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is not None:
            return bind
        if _touches_store_tables(mapper, clause):
            engine = store_bind()
            if engine is None:
                raise NoActiveStore("a store table was used outside a store context")
            if engine is not SAME_CONNECTION:
                return engine
            mapper = clause = None  # PostgreSQL: the session's own connection, schema-translated
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)

    def _connection_for_bind(self, engine, execution_options=None, **kw):
        """The session's connection for ``engine``. A checkout it makes here is for this
        transaction's statements: on PostgreSQL the pool's check opens the transaction in the
        same round trip (:func:`mallow.db.hygiene.begin_at_checkout`). Not when the connection
        is given options (an isolation level must be set before the transaction begins)."""
        if execution_options or self.execution_options or not isinstance(engine, sa.Engine):
            return super()._connection_for_bind(engine, execution_options, **kw)
        if engine.get_execution_options():
            return super()._connection_for_bind(engine, execution_options, **kw)
        hygiene.begin_at_checkout(True)
        try:
            return super()._connection_for_bind(engine, execution_options, **kw)
        finally:
            hygiene.begin_at_checkout(False)

    def close(self) -> None:
        """Close, as the request's teardown does; a connection the server dropped meanwhile
        (PostgreSQL restarted, the backend was ended) is not an error here. Its rollback fails,
        but there is nothing to roll back: the server ended the transaction with the connection,
        and SQLAlchemy has invalidated it (the pool discards it). Raising would turn an answer
        already made — a 200, or the 503 that said the database was away — into a 500 as the
        request context is torn down."""
        try:
            super().close()
        except sa.exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("the database dropped a connection while the session closed: %s", error.orig)


#: what :func:`store_bind` answers on PostgreSQL: the session's own connection, schema-translated
SAME_CONNECTION = object()


def bind_store(resolve_engine, translate_map: dict | None) -> None:
    """Route this app context's store tables: ``resolve_engine()`` gives the store's engine (or
    :data:`SAME_CONNECTION`), asked each time a store table is used; ``translate_map`` is the
    schema translation PostgreSQL connections get."""
    g.mallow_store_bind = resolve_engine
    g.mallow_translate_map = translate_map


def context_value(name: str):
    """``g.get(name)`` in an app context, else None: read from the context itself (asked for
    every statement and connection: no proxy lookups)."""
    ctx = _cv_app.get(None)
    return ctx.g.__dict__.get(name) if ctx is not None else None


def context_globals() -> dict | None:
    """This app context's ``g`` as its own dict (``g.name`` is ``["name"]``), or None outside
    one: for listeners that run for every transaction and read several names (a proxy lookup
    per name costs more than what they do with them)."""
    ctx = _cv_app.get(None)
    return ctx.g.__dict__ if ctx is not None else None


def store_bind():
    """Where the active store's tables are (an engine, :data:`SAME_CONNECTION`), or None."""
    resolve = context_value("mallow_store_bind")
    return resolve() if resolve is not None else None


def store_translate_map() -> dict | None:
    """The active store's schema translation. Read from ``g``, never from the Store row: this
    runs while a connection is being set up, when touching an expired ORM attribute would start
    a second one."""
    return context_value("mallow_translate_map")


def _touches_store_tables(mapper, clause) -> bool:
    if mapper is not None:
        table = getattr(mapper, "persist_selectable", None)
        if table is not None:
            return table.metadata.info.get("bind_key") == STORE_BIND
    if clause is not None:
        table = getattr(clause, "table", None)
        if table is not None and getattr(table, "metadata", None) is not None:
            return table.metadata.info.get("bind_key") == STORE_BIND
        for table in getattr(clause, "_from_objects", []) or []:
            metadata = getattr(table, "metadata", None)
            if metadata is not None and metadata.info.get("bind_key") == STORE_BIND:
                return True
    return False


@event.listens_for(TenantSession, "after_begin")
def translate_store_schema(session, transaction, connection):
    translate_map = store_translate_map()
    if translate_map is not None and connection.dialect.name == "postgresql":
        connection.execution_options(schema_translate_map=translate_map)
