"""Creating, migrating and removing a store's own schema (PostgreSQL) or file (SQLite).

PostgreSQL with pods (:mod:`mallow.tenants.pods`): a new store is placed on the open pod with the
most room. On ``main`` (the platform's database) nothing changes: the pooled schema's rename, the
tables and the seed are in the caller's transaction. On another pod the schema, its tables and
the seed commit in that pod's own transaction first, and ``stores.pod`` is set in the caller's;
if the caller then fails, :func:`drop_store` (which drops ``store_<id>`` on every pod) removes it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from mallow.db import db
from mallow.db.migrate import (
    create_store_tables,
    head,
    read_store_revisions,
    upgrade_store,
    upgrade_stores,
)
from mallow.db.session import STORE_SCHEMA, store_translate_map
from mallow.tenants import pods, pool
from mallow.tenants.engines import pod_key, schema_name
from mallow.tenants.models import Store

log = logging.getLogger("mallow.tenants")


def _engines():
    return current_app.extensions["mallow.store_engines"]


def provision_store(store_id: int, *, connection=None, seed=None) -> float:
    """Give store ``store_id`` its schema at the migration head — a ready one from the pool
    (:mod:`mallow.tenants.pool`) when there is one, else made here — then run
    ``seed(connection)`` in the same transaction (sign-up's seed adds the owner as staff:
    :func:`mallow.accounts.staff.owner_seed`); returns the seconds it took.

    PostgreSQL: the pooled schema's rename (or the new schema's tables and version stamp) and the
    seed in one transaction — the caller's, when ``connection`` is given (sign-up passes the
    session's, so the store row and its schema commit or roll back together; a rolled-back rename
    leaves the schema in the pool, empty). SQLite: the store's own file; a failure removes it.
    """
    engines = _engines()
    started = time.perf_counter()
    pod = pods.place(connection) if engines.is_postgresql else None
    if pod is not None:
        _provision_on_pod(engines, store_id, pod, connection, seed)
        return time.perf_counter() - started
    if connection is not None and engines.is_postgresql:
        connection.execution_options(schema_translate_map={STORE_SCHEMA: schema_name(store_id)})
        try:
            _create(connection, engines, store_id, seed)
        finally:  # give the caller's connection back as it was (its own store, or none)
            connection.execution_options(schema_translate_map=store_translate_map() or {})
        return time.perf_counter() - started
    try:
        pooled_file = not engines.is_postgresql and pool.take(None, store_id)  # in place before it opens
        with engines.engine_for(store_id).begin() as own:
            _create(own, engines, store_id, seed, pooled_file)
    except Exception:
        if not engines.is_postgresql:
            drop_store(store_id)
        raise
    return time.perf_counter() - started


def _create(connection, engines, store_id: int, seed, pooled_file: bool = False) -> None:
    if engines.is_postgresql:
        if not pool.take(connection, store_id):
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema_name(store_id)}"')
            create_store_tables(connection, engines.version_table_schema(store_id))
    elif not pooled_file:
        create_store_tables(connection, engines.version_table_schema(store_id))
    if seed is not None:
        seed(connection)


def _provision_on_pod(engines, store_id: int, pod: str, connection, seed) -> None:
    """The store's schema at the head on pod ``pod`` (its own transaction), then ``stores.pod``."""
    try:
        with engines.engine_for(store_id, pod=pod).begin() as own:
            own.exec_driver_sql(f'CREATE SCHEMA "{schema_name(store_id)}"')
            create_store_tables(own, schema_name(store_id))
            if seed is not None:
                seed(own)
    except Exception:
        drop_schema_on(pod, store_id)
        raise
    statement = sa.update(Store).where(Store.id == store_id).values(pod=pod)
    if connection is not None:
        connection.execute(statement)
    else:
        with engines.platform_engine.begin() as platform:
            platform.execute(statement)
    loaded = db.session.identity_map.get(identity_key(Store, store_id))
    if loaded is not None:  # the caller's row: routes to its pod from now on, without a query
        set_committed_value(loaded, "pod", pod)
    engines.forget(store_id)


def drop_schema_on(pod: str | None, store_id: int) -> None:
    """Drop ``store_<id>`` on one pod (None: the platform's database), if it is there."""
    engines = _engines()
    with engines.pod_engine(pod).begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema_name(store_id)}" CASCADE')


def drop_store(store_id: int) -> None:
    """Remove a store's schema or file entirely (used on failed sign-ups and store purges).
    PostgreSQL: ``store_<id>`` is dropped on every pod (a store id names one store platform-wide,
    so such a schema anywhere is this store's: a sign-up that failed after placing it, a move
    cut short); a pod out of reach is named in the error after the others are done."""
    engines = _engines()
    if engines.is_postgresql:
        failed = []
        for pod in [None, *_other_pods(engines)]:
            try:
                drop_schema_on(pod, store_id)
            except sa.exc.SQLAlchemyError as error:
                log.error("store %s: schema not dropped on pod %s: %s", store_id, pod, error)
                failed.append(f"{pod}: {error}")
        engines.forget(store_id)
        if failed:
            raise RuntimeError(f"store {store_id}: schema not dropped on " + "; ".join(failed))
        return
    engines.forget(store_id)
    path = engines.sqlite_path(store_id)
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()


def _other_pods(engines) -> list[str]:
    """The pods besides the platform's database (none before the platform has the pods table)."""
    with engines.platform_engine.connect() as connection:
        try:
            names = connection.execute(sa.text("SELECT name FROM pods ORDER BY name")).scalars().all()
        except sa.exc.ProgrammingError:
            return []
    return [name for name in names if pod_key(name) is not None]


def migrate_store(store_id: int) -> None:
    engines = _engines()
    upgrade_store(engines.engine_for(store_id), engines.version_table_schema(store_id))


def store_revisions(store_ids) -> dict[int, str | None]:
    """Every given store's revision. PostgreSQL: in bulk, on a connection closed afterwards (it
    touched every schema: see :func:`mallow.db.migrate.read_store_revisions`); SQLite: a read of
    each file's version row (without opening a store engine)."""
    engines = _engines()
    if not engines.is_postgresql:
        return {store_id: _file_revision(engines.sqlite_path(store_id)) for store_id in store_ids}
    found: dict[int, str | None] = {}
    for pod, ids in _by_pod(engines, store_ids).items():
        with engines.pod_engine(pod).connect() as connection:
            try:
                found.update(read_store_revisions(connection, {i: schema_name(i) for i in ids}))
            finally:
                connection.invalidate()  # close it: its catalogue cache now holds every schema
    return found


def _by_pod(engines, store_ids) -> dict[str | None, list[int]]:
    """The given stores grouped by pod (None: the platform's database), one query."""
    ids = [int(i) for i in store_ids]
    pods_of: dict[int, str | None] = {}
    if ids and _other_pods(engines):
        with engines.platform_engine.connect() as connection:
            rows = connection.execute(sa.select(Store.id, Store.pod).where(Store.id.in_(ids))).all()
        pods_of = {store_id: pod_key(pod) for store_id, pod in rows}
    grouped: dict[str | None, list[int]] = {}
    for store_id in ids:
        grouped.setdefault(pods_of.get(store_id), []).append(store_id)
    return grouped


def _file_revision(path) -> str | None:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return connection.execute("SELECT max(version_num) FROM alembic_version").fetchone()[0]
    except sqlite3.Error:  # no file, no version table: the upgrade itself will say what is wrong
        return None


def migrate_stores(stores: list[tuple[int, str]], *, jobs: int = 1, echo: Callable[[str], None] = print) -> dict:
    """``mallow db upgrade``'s store step: read every store's revision at once, upgrade those not
    at the head ``jobs`` at a time (forked processes, each with its own app context and
    connections), then top the pool up (which drops pooled schemas left by the previous head)."""
    app = current_app._get_current_object()
    current = store_revisions([store_id for store_id, _slug in stores])
    at_head = {store_id for store_id, revision in current.items() if revision == head("store")}

    def migrate_in_app(store_id: int) -> None:
        with app.app_context():
            migrate_store(store_id)

    engines = _engines()  # no pooled connection may be shared with a forked worker:
    engines.dispose()  # the caller released its session's, these close the pools'
    engines.platform_engine.dispose()
    result = upgrade_stores(stores, migrate_in_app, echo, jobs=jobs, at_head=at_head)
    result["pool"] = pool.top_up()
    return result
