"""Creating and removing a store's own schema (PostgreSQL) or file (SQLite)."""

from __future__ import annotations

import time

from flask import current_app

from mallow.db.session import STORE_SCHEMA, store_translate_map
from mallow.db.migrate import create_store_tables, upgrade_store
from mallow.tenants.engines import schema_name


def _engines():
    return current_app.extensions["mallow.store_engines"]


def provision_store(store_id: int, *, connection=None, seed=None) -> float:
    """Create store ``store_id``'s schema at the migration head, then run ``seed(connection)``
    in the same transaction (sign-up's seed adds the owner as staff:
    :func:`mallow.accounts.staff.owner_seed`); returns the seconds it took.

    PostgreSQL: schema, tables, version stamp and seed in one transaction — the caller's, when
    ``connection`` is given (sign-up passes the session's, so the store row and its schema
    commit or roll back together). SQLite: the store's own file; a failure removes it.
    """
    engines = _engines()
    started = time.perf_counter()
    if connection is not None and engines.is_postgresql:
        connection.execution_options(schema_translate_map={STORE_SCHEMA: schema_name(store_id)})
        try:
            _create(connection, engines, store_id, seed)
        finally:  # give the caller's connection back as it was (its own store, or none)
            connection.execution_options(schema_translate_map=store_translate_map() or {})
        return time.perf_counter() - started
    try:
        with engines.engine_for(store_id).begin() as own:
            _create(own, engines, store_id, seed)
    except Exception:
        if not engines.is_postgresql:
            drop_store(store_id)
        raise
    return time.perf_counter() - started


def _create(connection, engines, store_id: int, seed) -> None:
    if engines.is_postgresql:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema_name(store_id)}"')
    create_store_tables(connection, engines.version_table_schema(store_id))
    if seed is not None:
        seed(connection)


def drop_store(store_id: int) -> None:
    """Remove a store's schema or file entirely (used on failed sign-ups and store purges)."""
    engines = _engines()
    if engines.is_postgresql:
        with engines.platform_engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema_name(store_id)}" CASCADE')
        engines.forget(store_id)
        return
    engines.forget(store_id)
    path = engines.sqlite_path(store_id)
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()


def migrate_store(store_id: int) -> None:
    engines = _engines()
    upgrade_store(engines.engine_for(store_id), engines.version_table_schema(store_id))
