"""One SQLAlchemy engine per store, sharing what can be shared.

PostgreSQL: every store engine is the platform engine (one connection pool) with
``schema_translate_map={"store": "store_<id>"}``. The translation is part of each compiled
statement, not connection state, so a pooled connection never carries one request's schema
into another's (a session-level ``SET search_path`` would: see docs/architecture.md).

SQLite (embedded default): every store has its own file ``stores/<id>.db`` under the data dir,
attached to each connection under the schema name ``store``. No connection of a store engine
can open another store's file.

Pods (PostgreSQL, :mod:`mallow.tenants.pods`): a store's schema may live in another database than
the platform's, its pod. The engine of a store on pod ``p`` is ``p``'s engine (one per pod per
process, with its own pool, the same hygiene and recycling) with the same translate map; the
platform's own database is the pod ``main`` (``stores.pod`` NULL), the default of every store.
:meth:`StoreEngines.pod_of` keeps a store's pod under the store's stamp: a move commits the new pod
and the stamp moves, so every process asks again.

Both: session state that code leaves on a pooled connection (``SET search_path``, ``SET ROLE``,
temp tables, prepared statements, advisory locks; ``ATTACH``, ``PRAGMA``) is reset when the
connection returns to the pool and checked for when it is handed out (:mod:`mallow.db.hygiene`).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event

from mallow.db import hygiene
from mallow.db.session import STORE_SCHEMA
from mallow.tenants import recycling, snapshots, stamps
from mallow.tenants.models import MAIN_POD

SCHEMA_RE = re.compile(r"^store_[0-9]+$")
#: ``engine_for``'s pod when the caller does not know it: looked up (:meth:`StoreEngines.pod_of`)
UNKNOWN = object()
#: the named stamp that moves when a pod is added or changes (:mod:`mallow.tenants.pods`)
PODS_STAMP = "pods"
#: how many stores' pods a process keeps (all dropped when full, like the store snapshots)
POD_MEMORY = 20_000


class PodUnavailable(RuntimeError):
    """A store's pod is not in the ``pods`` table, or its address cannot be found."""


def pod_key(pod: str | None) -> str | None:
    """``None`` for the platform's own database (NULL or ``main``), else the pod's name."""
    return None if pod in (None, "", MAIN_POD) else pod


def pod_address(url: str) -> str:
    """A pod's SQLAlchemy address from its ``pods.url``: ``env:NAME`` is read from the
    environment; ``postgres://``/``postgresql://`` use the psycopg 3 driver, as ``DATABASE_URL``."""
    if url.startswith("env:"):
        name = url[4:]
        url = os.environ.get(name, "")
        if not url:
            raise PodUnavailable(f"the pod's address is in the environment variable {name}, which is not set here")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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
        self._cache: OrderedDict[int, tuple[str | None, sa.Engine]] = OrderedDict()
        self._pod_engines: dict[str, sa.Engine] = {}
        self._pod_of: dict[int, tuple[object, str | None]] = {}
        self._pods_seen: tuple[object, bool] | None = None
        self._cache_size = sqlite_cache_size if self.backend == "sqlite" else 0
        self._lock = threading.Lock()
        # every connection of the platform pool (on PostgreSQL also every store's: they share
        # it) is reset when it returns and checked when it is handed out again
        hygiene.install(platform_engine, expected_attached={})

    @property
    def is_postgresql(self) -> bool:
        return self.backend == "postgresql"

    def engine_for(self, store_id: int, pod=UNKNOWN) -> sa.Engine:
        """The store's engine; PostgreSQL: on its pod (``pod``, else :meth:`pod_of`)."""
        store_id = int(store_id)
        if self.is_postgresql:
            pod = pod_key(self.pod_of(store_id) if pod is UNKNOWN else pod)
        else:
            pod = None
        with self._lock:
            found = self._cache.get(store_id)
            if found is not None and found[0] == pod:
                self._cache.move_to_end(store_id)
                return found[1]
        engine = self._make(store_id, pod)  # a pod's first engine reads its address: not under the lock
        with self._lock:
            self._cache[store_id] = (pod, engine)
            if self._cache_size and len(self._cache) > self._cache_size:
                _, (_pod, evicted) = self._cache.popitem(last=False)
                evicted.dispose()
            return engine

    # -- pods ---------------------------------------------------------------------------------

    def pod_of(self, store_id: int) -> str | None:
        """The store's pod (None: the platform's database), kept while the store's stamp holds
        (read before the row, as the store snapshots do); PostgreSQL only."""
        if not self.is_postgresql:
            return None
        store_id = int(store_id)
        if not has_app_context():
            return self.read_pod(store_id)
        stamp = stamps.current(store_id)
        kept = self._pod_of.get(store_id)
        if kept is not None and stamp is not None and kept[0] == stamp:
            return kept[1]
        memory = current_app.extensions.get(snapshots.EXTENSION)
        snapshot = memory.entries.get(store_id) if memory is not None and stamp is not None else None
        if snapshot is not None and snapshot.stamp == stamp:  # the store's row kept under this stamp
            return pod_key(snapshot.values.get("pod"))
        if self._only_main():  # no other pod (most installs): nothing to look up
            return None
        pod = self.read_pod(store_id)
        if stamp is not None:
            with self._lock:
                if len(self._pod_of) >= POD_MEMORY:
                    self._pod_of.clear()
                self._pod_of[store_id] = (stamp, pod)
        return pod

    def _only_main(self) -> bool:
        """Whether the platform's database is the only pod, kept under the named stamp
        :data:`PODS_STAMP` (``mallow pod add`` moves it)."""
        stamp = stamps.named(PODS_STAMP)
        kept = self._pods_seen
        if kept is not None and stamp is not None and kept[0] == stamp:
            return kept[1]
        with self.platform_engine.connect() as connection:
            try:
                others = connection.execute(
                    sa.text("SELECT count(*) FROM pods WHERE name <> :main"), {"main": MAIN_POD}
                )
                only_main = not others.scalar()
            except sa.exc.ProgrammingError:  # the platform is not migrated to pods yet
                only_main = True
        if stamp is not None:
            self._pods_seen = (stamp, only_main)
        return only_main

    def read_pod(self, store_id: int) -> str | None:
        """The store's pod as the ``stores`` row says now (one query, no memory)."""
        with self.platform_engine.connect() as connection:
            try:
                found = connection.execute(
                    sa.text("SELECT pod FROM stores WHERE id = :id"), {"id": int(store_id)}
                ).scalar()
            except sa.exc.ProgrammingError:  # the platform is not migrated to pods yet
                return None
        return pod_key(found)

    def pod_engine(self, pod: str | None) -> sa.Engine:
        """The engine of a pod's database (``None``/``main``: the platform's), one per process."""
        pod = pod_key(pod)
        if pod is None:
            return self.platform_engine
        with self._lock:
            engine = self._pod_engines.get(pod)
        if engine is not None:
            return engine
        engine = self._make_pod_engine(pod)
        with self._lock:
            if pod in self._pod_engines:  # another thread made it meanwhile
                engine.dispose()
                return self._pod_engines[pod]
            self._pod_engines[pod] = engine
        return engine

    def pod_engines(self) -> dict[str, sa.Engine]:
        """The pods' engines this process has made (not the platform's)."""
        with self._lock:
            return dict(self._pod_engines)

    def forget_pod(self, pod: str) -> None:
        """Close a pod's engine (its stores' engines go with it); the next use makes it again."""
        with self._lock:
            engine = self._pod_engines.pop(pod, None)
            for store_id in [i for i, (p, _e) in self._cache.items() if p == pod]:
                del self._cache[store_id]
        if engine is not None:
            engine.dispose()

    def _make_pod_engine(self, pod: str) -> sa.Engine:
        with self.platform_engine.connect() as connection:
            url = connection.execute(sa.text("SELECT url FROM pods WHERE name = :name"), {"name": pod}).scalar()
        if url is None:
            raise PodUnavailable(f"no pod {pod!r} in the pods table")
        engine = sa.create_engine(pod_address(url), pool_size=5, max_overflow=10)
        hygiene.install(engine, expected_attached={})
        if has_app_context():
            recycling.install(engine, int(current_app.config.get("MALLOW_PG_SCHEMAS_PER_CONNECTION", 0) or 0))
        return engine

    def version_table_schema(self, store_id: int) -> str:
        """Where Alembic keeps a store's ``alembic_version`` table."""
        return schema_name(store_id) if self.is_postgresql else STORE_SCHEMA

    def sqlite_path(self, store_id: int) -> Path:
        return self.data_dir / "stores" / f"{int(store_id)}.db"

    def forget(self, store_id: int) -> None:
        with self._lock:
            found = self._cache.pop(int(store_id), None)
            self._pod_of.pop(int(store_id), None)
        if found is not None and not self.is_postgresql:
            found[1].dispose()

    def dispose(self) -> None:
        with self._lock:
            engines, self._cache = [engine for _pod, engine in self._cache.values()], OrderedDict()
            pods, self._pod_engines = list(self._pod_engines.values()), {}
            self._pod_of = {}
            self._pods_seen = None
        if not self.is_postgresql:
            for engine in engines:
                engine.dispose()
        for engine in pods:
            engine.dispose()

    def _make(self, store_id: int, pod: str | None = None) -> sa.Engine:
        if self.is_postgresql:
            return self.pod_engine(pod).execution_options(schema_translate_map={STORE_SCHEMA: schema_name(store_id)})
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
        # the driver's own execute: SQLAlchemy's statement machinery (events, a result object)
        # cost more than the statement, and a transaction's start is no statement to watch. Its
        # error is translated as SQLAlchemy's own: a store locked past the busy timeout stays an
        # OperationalError, which the app answers with 503 "try again" (mallow.web.busy)
        sql = "BEGIN IMMEDIATE" if immediate_writes and _request_writes() else "BEGIN"
        try:
            connection.connection.dbapi_connection.execute(sql)
        except Exception as error:  # noqa: BLE001 -- translated (and raised) as SQLAlchemy would
            connection._handle_dbapi_exception(error, sql, (), None, None)
            raise
