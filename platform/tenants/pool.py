"""A pool of ready, empty store schemas (PostgreSQL) or files (SQLite), so that signing a store
up does not wait for ~30 tables of DDL.

A pooled schema is made ahead of time at the store chain's head under a neutral name,
``pool_<head revision>_<random>``, with its tables and version stamp and **no rows**. Sign-up
takes one inside its own transaction and renames it ``store_<id>`` (``ALTER SCHEMA … RENAME``:
the tables, sequences and indexes follow, they are bound by oid); the seed (the owner) is then
written into it in the same transaction, so a failed sign-up rolls the rename back and the
schema is in the pool again, still empty. On SQLite a pooled store is a file
``stores/pool/<head>_<random>.db``, moved into place as ``stores/<id>.db`` (``os.rename``:
atomic, one taker wins); a failed sign-up deletes it like any store file.

The head revision in the name is what makes a pooled store safe to hand out after a deploy:
:func:`take` only looks at names of the current head, and :func:`top_up` drops the others
(they are empty: nothing is lost) before making new ones up to ``MALLOW_STORE_POOL_SIZE``.

Concurrency (PostgreSQL): whoever changes a pooled schema — a taker renaming it, a top-up
dropping it — first holds its transaction-level advisory lock, so two sign-ups never take the
same one and never wait for each other; top-ups take one more lock so that two of them do not
overshoot the size.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from mallow.db.migrate import create_store_tables, head
from mallow.db.session import STORE_SCHEMA
from mallow.tenants.engines import configure_sqlite, schema_name

PREFIX = "pool_"
LOCK_CLASS = 0x504F4F4C  # advisory lock namespace "POOL" (its key: hashtext(schema name)); 0 = top-up
TOP_UP_SECONDS = 60  # how often the periodic job tops the pool up


def _engines():
    return current_app.extensions["mallow.store_engines"]


def _size() -> int:
    return max(0, int(current_app.config.get("MALLOW_STORE_POOL_SIZE", 0)))


def _prefix() -> str:
    revision = head("store")
    if not revision.isalnum():  # it becomes part of a schema or file name
        raise RuntimeError(f"store head revision {revision!r} cannot name a pooled schema")
    return f"{PREFIX}{revision}_"


def take(connection: sa.Connection | None, store_id: int) -> bool:
    """Make a pooled schema (file) store ``store_id``'s; False when the pool is off or has none
    at the current head (the caller then creates the store's tables itself).

    PostgreSQL: in ``connection``'s transaction, which decides whether the rename stays."""
    if not _size():
        return False
    engines = _engines()
    if engines.is_postgresql:
        return _take_schema(connection, store_id)
    return _take_file(engines, store_id)


def _take_schema(connection: sa.Connection, store_id: int) -> bool:
    candidates = connection.execute(
        sa.text(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE starts_with(nspname, :prefix) ORDER BY random() LIMIT 8"
        ),
        {"prefix": _prefix()},
    ).scalars()
    for name in list(candidates):
        if not _lock(connection, name):
            continue  # another sign-up is taking it
        # a fresh statement (a fresh snapshot): was it taken and committed since the list?
        if connection.execute(
            sa.text("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :name"), {"name": name}
        ).first():
            connection.exec_driver_sql(f'ALTER SCHEMA "{name}" RENAME TO "{schema_name(store_id)}"')
            return True
    return False


def _lock(connection: sa.Connection, name: str) -> bool:
    return connection.execute(
        sa.text("SELECT pg_catalog.pg_try_advisory_xact_lock(:cls, pg_catalog.hashtext(:name))"),
        {"cls": LOCK_CLASS, "name": name},
    ).scalar()


def _take_file(engines, store_id: int) -> bool:
    target = engines.sqlite_path(store_id)
    prefix = _prefix()
    for candidate in sorted(_pool_dir(engines).glob(f"{prefix}*.db")):
        try:
            os.rename(candidate, target)  # atomic: exactly one taker gets each file
        except FileNotFoundError:
            continue
        engines.forget(store_id)
        return True
    return False


def _pool_dir(engines) -> Path:
    return engines.data_dir / "stores" / "pool"


def pooled() -> dict[str, int]:
    """How many pooled schemas (files) are ready at the head, and how many are stale."""
    names = _pooled_names(_engines())
    ready = sum(1 for name in names if name.startswith(_prefix()))
    return {"ready": ready, "stale": len(names) - ready}


def _pooled_names(engines) -> list[str]:
    if engines.is_postgresql:
        with engines.platform_engine.connect() as connection:
            return list(
                connection.execute(
                    sa.text("SELECT nspname FROM pg_catalog.pg_namespace WHERE starts_with(nspname, :p)"),
                    {"p": PREFIX},
                ).scalars()
            )
    return [path.stem for path in _pool_dir(engines).glob(f"{PREFIX}*.db")]


def top_up(size: int | None = None) -> dict:
    """Drop pooled schemas (files) left by an older head, and those beyond ``size`` (default
    ``MALLOW_STORE_POOL_SIZE``; 0 empties the pool), then make new ones until ``size`` are ready.
    The periodic job, ``mallow db pool`` and ``mallow db upgrade`` call it. Returns
    ``{"ready", "made", "dropped", "seconds"}``."""
    engines = _engines()
    size = _size() if size is None else max(0, size)
    started, prefix = time.perf_counter(), _prefix()
    names = _pooled_names(engines)
    stale = [name for name in names if not name.startswith(prefix)]
    extra = sorted(set(names) - set(stale))[size:]  # a smaller size given: the pool shrinks
    dropped = sum(_drop(engines, name) for name in stale + extra)
    made = 0
    while _make_one(engines, prefix, size):
        made += 1
    ready = sum(1 for name in _pooled_names(engines) if name.startswith(prefix))
    return {"ready": ready, "made": made, "dropped": dropped, "seconds": time.perf_counter() - started}


def _drop(engines, name: str) -> int:
    if engines.is_postgresql:
        with engines.platform_engine.begin() as connection:
            if not _lock(connection, name):
                return 0  # being taken right now: it will be someone's store
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        return 1
    try:
        (_pool_dir(engines) / f"{name}.db").unlink()
    except FileNotFoundError:
        return 0
    return 1


def _make_one(engines, prefix: str, size: int) -> bool:
    """Make one pooled schema (file) if fewer than ``size`` are ready; False when full."""
    name = f"{prefix}{secrets.token_hex(6)}"
    if engines.is_postgresql:
        with engines.platform_engine.begin() as connection:
            connection.execute(sa.text("SELECT pg_catalog.pg_advisory_xact_lock(:cls, 0)"), {"cls": LOCK_CLASS})
            ready = connection.execute(
                sa.text("SELECT count(*) FROM pg_catalog.pg_namespace WHERE starts_with(nspname, :p)"),
                {"p": prefix},
            ).scalar()
            if ready >= size:
                return False
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
            create_store_tables(connection.execution_options(schema_translate_map={STORE_SCHEMA: name}), name)
        return True
    folder = _pool_dir(engines)
    if len(list(folder.glob(f"{prefix}*.db"))) >= size:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    building = folder / f"{name}.building"
    try:
        _make_file(building)
        os.rename(building, folder / f"{name}.db")  # only a finished file is ever seen by a taker
    finally:
        building.unlink(missing_ok=True)
    return True


def _make_file(path: Path) -> None:
    """A store file at the head with no rows, in rollback-journal mode (nothing beside it to
    move along; the store's engine turns WAL on when it first opens it)."""
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.NullPool)
    configure_sqlite(engine)  # first: its journal_mode=WAL then reaches only the in-memory main

    @sa.event.listens_for(engine, "connect")
    def attach(dbapi_connection, _record):
        dbapi_connection.execute("ATTACH DATABASE ? AS store", (str(path),))

    try:
        with engine.begin() as connection:
            create_store_tables(connection, STORE_SCHEMA)
    finally:
        engine.dispose()
