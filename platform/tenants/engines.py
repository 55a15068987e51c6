"""One SQLAlchemy engine per store, sharing what can be shared.

PostgreSQL: every store engine is the platform engine (one connection pool) with
``schema_translate_map={"store": "store_<id>"}``. The translation is part of each compiled
statement, not connection state, so a pooled connection never carries one request's schema
into another's (a session-level ``SET search_path`` would: see docs/architecture.md).

SQLite (embedded default): every store has its own file ``stores/<id>.db`` under the data dir,
attached to each connection under the schema name ``store``. No connection of a store engine
can open another store's file.

Both: session state that code leaves on a pooled connection (``SET search_path``, ``SET ROLE``,
temp tables, prepared statements, advisory locks; ``ATTACH``, ``PRAGMA``) is reset when the
connection returns to the pool and checked for when it is handed out (:mod:`mallow.db.hygiene`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from mallow.db import hygiene
from mallow.db.session import STORE_SCHEMA

SCHEMA_RE = re.compile(r"^store_[0-9]+$")


def schema_name(store_id: int) -> str:
    name = f"store_{int(store_id)}"
    assert SCHEMA_RE.match(name)
    return name


class StoreEngines:
    """Hands out the engine of a store; kept in ``app.extensions['mallow.store_engines']``."""

    def __init__(self, platform_engine: sa.Engine, data_dir: str, sqlite_cache_size: int = 256):
        self.platform_engine = platform_engine
        self.backend = platform_engine.dialect.name
        self.data_dir = Path(data_dir)
        self._cache: OrderedDict[int, sa.Engine] = OrderedDict()
        self._cache_size = sqlite_cache_size if self.backend == "sqlite" else 0
        self._lock = threading.Lock()
        # every connection of the platform pool (on PostgreSQL also every store's: they share
        # it) is reset when it returns and checked when it is handed out again
        hygiene.install(platform_engine, expected_attached={})

    @property
    def is_postgresql(self) -> bool:
        return self.backend == "postgresql"

    def engine_for(self, store_id: int) -> sa.Engine:
        store_id = int(store_id)
        with self._lock:
            engine = self._cache.get(store_id)
            if engine is not None:
                self._cache.move_to_end(store_id)
                return engine
            engine = self._make(store_id)
            self._cache[store_id] = engine
            if self._cache_size and len(self._cache) > self._cache_size:
                _, evicted = self._cache.popitem(last=False)
                evicted.dispose()
            return engine

    def version_table_schema(self, store_id: int) -> str:
        """Where Alembic keeps a store's ``alembic_version`` table."""
        return schema_name(store_id) if self.is_postgresql else STORE_SCHEMA

    def sqlite_path(self, store_id: int) -> Path:
        return self.data_dir / "stores" / f"{int(store_id)}.db"

    def forget(self, store_id: int) -> None:
        with self._lock:
            engine = self._cache.pop(int(store_id), None)
        if engine is not None and not self.is_postgresql:
            engine.dispose()

    def dispose(self) -> None:
        with self._lock:
            engines, self._cache = list(self._cache.values()), OrderedDict()
        if not self.is_postgresql:
            for engine in engines:
                engine.dispose()

    def _make(self, store_id: int) -> sa.Engine:
        if self.is_postgresql:
            return self.platform_engine.execution_options(schema_translate_map={STORE_SCHEMA: schema_name(store_id)})
        if self.backend != "sqlite":
            raise RuntimeError(f"unsupported database backend {self.backend!r}")
        path = self.sqlite_path(store_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            "sqlite://",
            poolclass=sa.pool.QueuePool,
            pool_size=5,
            max_overflow=10,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        _attach_store_file(engine, path)
        hygiene.install(engine, expected_attached={STORE_SCHEMA: str(path)})
        return engine


def _attach_store_file(engine: sa.Engine, path: Path) -> None:
    @event.listens_for(engine, "connect")
    def attach(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("ATTACH DATABASE ? AS store", (str(path),))
        cursor.execute("PRAGMA store.journal_mode=WAL")
        cursor.close()

    configure_sqlite(engine, immediate_writes=True)


#: the store's console and its API (merchants and staff), as opposed to the shopper's areas
_STAFF_AREA = re.compile(r"^/s/[^/]+/(?:api/)?console(?:/|$)")


def _request_writes() -> bool:
    """This thread serves a shopper's request that may write (not ``GET``, ``HEAD`` or
    ``OPTIONS``; not the console, :data:`_STAFF_AREA`), in the request's own app context (not a
    ``store_context`` entered inside it, e.g. a job run inline)."""
    from flask import g, has_request_context, request

    if not has_request_context() or request.method in ("GET", "HEAD", "OPTIONS") or g.get("mallow_inner"):
        return False
    # the console: few writers, and some write through a second connection of their own (a
    # plugin's migration when it is enabled), or run a job inline that writes
    return not _STAFF_AREA.match(request.path)


def configure_sqlite(engine: sa.Engine, immediate_writes: bool = False) -> None:
    """Foreign keys on, real transactions (pysqlite's legacy mode would not begin one before a
    SELECT), and a writer waits up to 30 s for another writer instead of failing at once.

    ``immediate_writes`` (a store's file): a shopper's request that may write (cart, checkout, a
    flash-sale attempt) begins its transactions with ``BEGIN IMMEDIATE``, taking the store's write
    lock first. A deferred transaction that read first and writes later
    cannot wait for the lock when another writer committed in between (SQLite answers BUSY at
    once, whatever the timeout: its snapshot is stale); so concurrent checkouts in one store wait
    their turn (milliseconds) instead of failing with 503. Reads, and the platform file, stay
    deferred."""

    @event.listens_for(engine, "connect")
    def pragmas(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin event issues BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate_writes and _request_writes() else "BEGIN")
