"""Moving a store to another pod: ``mallow store move SLUG --to POD`` (PostgreSQL).

A store's schema ``store_<id>`` moves from its pod (:mod:`mallow.tenants.pods`) to another one,
keeping its id, with a short write freeze:

1. **The target schema**, in the target pod's own transaction: ``store_<id>`` at the revisions
   the store is at (the store chain's head: the models' tables, as a new store gets; an older
   revision: the chain up to it) and every plugin's chain at the store's revision of it.
2. **Freeze**: ``stores.moving_to`` is set and committed; the store's stamp moves, so every
   process sees it at its next request: a request that would write is answered 503 with
   ``Retry-After`` (:func:`mallow.tenants.resolve.store_moving`), reads go on from the old pod,
   jobs of the store are postponed (:func:`mallow.jobs.registry.execute`), never dropped.
3. **The barrier**: on the old pod one transaction locks every table of the store's schema
   ``IN SHARE ROW EXCLUSIVE MODE``: it waits for the writes already under way (a request that read
   the store before the freeze), and holds every later one until the move ends. Reads pass. A
   lock not granted in :data:`LOCK_TIMEOUT` (a writer waiting for a table the barrier holds while
   holding one it wants: PostgreSQL then ends one of the two) is tried again, up to
   :data:`LOCK_ATTEMPTS` times.
4. **Copy** every table but the migration version tables (sign-ins included: shoppers stay signed
   in) in the barrier's transaction, parents first, references inside a cycle set once every
   row is in (:func:`mallow.stores.archive.importer._cycle_columns`), then every id sequence past
   its highest id. **Compare** every table's row count and the archive's checksums
   (:func:`mallow.stores.archive.tables.checksums_on`) on both pods; then the target commits.
5. **Seal** the old tables in the barrier's transaction: a statement trigger on each refuses
   every write for good (``CREATE TRIGGER`` needs the lock mode the barrier holds, so it cannot
   wait for, or deadlock with, a write waiting for the barrier); the barrier commits, and a write
   that was waiting meets the trigger and fails (answered 503 "try again" by
   :mod:`mallow.web.busy`, a job postponed): nothing is ever written to the old pod after the copy.
6. **Switch**: ``stores.pod`` is the target and ``moving_to`` cleared in one commit, audited
   (``store.moved``); the stamp moves, every process drops the store's kept row and engine and
   routes to the new pod: the freeze is over.
7. **Drop the old schema** (it waits for the old transactions still holding its tables; a lock
   not granted in time is tried again). If it never is, the sealed schema stays, harmless, and
   ``mallow store move`` says so.

A failure at any step before the switch rolls back: the barrier is released (or the seal
dropped), the target schema dropped, ``moving_to`` cleared (audited ``store.move_failed`` with
the reason); the store is on its old pod, unfrozen, as if nothing had happened.

Left to the operator: a process killed in the middle of a move leaves ``moving_to`` set (the store
frozen) and maybe a schema on the target; clear the first and drop the second (the move refuses
to start while either is there, and says so).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.sql.ddl import sort_tables_and_constraints

from mallow import audit
from mallow.db import db
from mallow.db.migrate import create_store_tables, head, run_store_chain
from mallow.plugins.models import StorePlugin
from mallow.plugins.tables import plugin_metadata
from mallow.stores.archive import tables as tbl
from mallow.stores.archive.importer import _cycle_columns, _plugin_scripts, _plugin_to, _reset_sequences
from mallow.stores.archive.writer import _revisions
from mallow.tenants.engines import PodUnavailable, pod_key, schema_name
from mallow.tenants.models import MAIN_POD, Pod, Store
from mallow.tenants.pods import PodProblem, require_postgresql
from mallow.tenants.provisioning import drop_schema_on

log = logging.getLogger("mallow.stores.move")

#: how long the barrier waits for its locks each time, and how many times it tries
LOCK_TIMEOUT = "3s"
LOCK_ATTEMPTS = 10
BATCH = 500


class MoveFailed(RuntimeError):
    """The move did not happen: the store is on its old pod, unfrozen."""


@dataclass
class Moved:
    slug: str
    source: str
    target: str
    tables: int
    rows: int
    frozen_seconds: float
    seconds: float
    old_schema_dropped: bool


def _engines():
    return current_app.extensions["mallow.store_engines"]


def _name(pod: str | None) -> str:
    return pod_key(pod) or MAIN_POD


def move_store(store: Store, target: str, actor="cli", *, echo=None) -> Moved:
    """Move ``store`` to pod ``target`` (see the module). Raises :class:`PodProblem` when the move
    cannot start (nothing done) and :class:`MoveFailed` when it failed (all undone)."""
    echo = echo or (lambda text: None)
    require_postgresql()
    engines = _engines()
    started = time.perf_counter()
    target_name = (target or "").strip().lower()
    source_name = _name(store.pod)
    _check(store, source_name, target_name)
    store_id, slug = store.id, store.slug
    source_pod, target_pod = pod_key(source_name), pod_key(target_name)
    schema = schema_name(store_id)

    try:
        with engines.pod_engine(target_pod).connect() as connection:
            there = connection.execute(
                sa.text("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :name"), {"name": schema}
            ).first()
    except (sa.exc.SQLAlchemyError, PodUnavailable) as error:
        engines.forget_pod(target_name)
        raise PodProblem(f"pod {target_name} does not answer: {_first_line(error)}") from None
    if there:
        raise PodProblem(
            f"pod {target_name} has a schema {schema} already (a move cut short?): "
            f'drop it there (DROP SCHEMA "{schema}" CASCADE) and move again'
        )
    source_engine = engines.engine_for(store_id, pod=source_pod)
    target_engine = engines.engine_for(store_id, pod=target_pod)
    with source_engine.connect() as connection:
        metadata = tbl.reflect(connection, store_id)
        core, plugins = _revisions(connection, metadata)
    echo(f"{slug}: {source_name} → {target_name}, store revision {core}, plugins {plugins or '-'}")
    try:
        _make_target(target_engine, store_id, metadata, core, plugins)
    except Exception as error:
        drop_schema_on(target_pod, store_id)
        raise MoveFailed(f"{slug}: the schema could not be made on {target_name}: {error}") from error

    frozen_at = _freeze(store, target_name, actor)
    echo(f"{slug}: writes frozen")
    source = source_engine.connect()
    barrier, sealed = None, False
    try:
        barrier = _barrier(source, metadata)
        with target_engine.begin() as copy:
            rows = _copy(source, copy, metadata)
            _reset_sequences(copy, store_id)
            _compare(source, copy, store_id, metadata)
        echo(f"{slug}: {rows} rows copied, counts and checksums equal")
        _seal(source, metadata, schema)
        barrier.commit()  # the old tables refuse every write from now on; the waiting ones fail
        sealed = True
        _switch(store_id, source_name, target_name, actor, rows)
    except BaseException as error:
        if barrier is not None and barrier.is_active:
            barrier.rollback()
        source.close()
        if sealed:
            _unseal(source_engine, schema)
        _undo(store_id, target_pod, target_name, actor, error)
        raise MoveFailed(
            f"{slug}: not moved ({error.__class__.__name__}: {error}); it stays on {source_name}"
        ) from error
    source.close()
    frozen = time.perf_counter() - frozen_at
    dropped = _drop_old(source_engine, schema, slug, source_name)
    engines.forget(store_id)
    tables = len([t for t in metadata.tables.values() if not tbl.is_version_table(t.name)])
    return Moved(slug, source_name, target_name, tables, rows, frozen, time.perf_counter() - started, dropped)


def _first_line(error: BaseException) -> str:
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or [""])[0]


def _check(store: Store, source: str, target: str) -> None:
    if store.status == "purged":
        raise PodProblem(f"{store.slug} is purged: it has no data to move")
    if store.moving_to is not None:
        raise PodProblem(f"{store.slug} is being moved to {store.moving_to} already")
    pod = db.session.get(Pod, target)
    if pod is None:
        raise PodProblem(f"no pod {target!r} (mallow pod list)")
    if target == source:
        raise PodProblem(f"{store.slug} is on {target} already")
    if pod.state != "open":
        raise PodProblem(f"pod {target} is {pod.state}: it takes no store")


def _make_target(engine: sa.Engine, store_id: int, source: sa.MetaData, core: str | None, plugins: dict) -> None:
    schema = schema_name(store_id)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        if core is None:
            raise MoveFailed("the store's schema has no migration version")
        if core == head("store"):
            create_store_tables(connection, schema)  # the head: the models' tables, as a new store's
        else:
            run_store_chain(connection, schema, core)
        for name, revision in sorted(plugins.items()):
            _plugin_to(connection, name, _plugin_scripts(name), schema, revision)
        made = set(sa.inspect(connection).get_table_names(schema=schema))
        missing = {t.name for t in source.tables.values()} - made
        if missing:  # a plugin's tables made from its models (it has no chain)
            names = db.session.execute(sa.select(StorePlugin.name).where(StorePlugin.store_id == store_id)).scalars()
            for name in set(names):
                if any(table.startswith(name + "_") for table in missing):
                    plugin_metadata(name).create_all(connection, checkfirst=True)
            missing -= set(sa.inspect(connection).get_table_names(schema=schema))
        if missing:
            raise MoveFailed(f"tables {sorted(missing)} cannot be made on the target pod")


def _freeze(store: Store, target: str, actor) -> float:
    store.moving_to = target
    audit.record(
        "store.move_started",
        actor=actor,
        store_id=store.id,
        target=f"store:{store.slug}",
        detail={"from": _name(store.pod), "to": target},
    )
    db.session.commit()  # the store's stamp moves: every process sees the freeze
    return time.perf_counter()


def _barrier(source: sa.Connection, metadata: sa.MetaData):
    """Lock every table of the store's schema against writes; returns the open transaction."""
    names = ", ".join(f'"{t.schema}"."{t.name}"' for t in metadata.tables.values())
    last = None
    for _attempt in range(LOCK_ATTEMPTS):
        transaction = source.begin()
        try:
            source.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            source.exec_driver_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
            return transaction
        except sa.exc.DBAPIError as error:  # not granted in time, or a deadlock PostgreSQL broke
            transaction.rollback()
            last = error
            log.info("move barrier not granted (%s): again", getattr(error, "orig", error))
    raise MoveFailed(f"writes did not stop for the move: {last}")


def _tables(metadata: sa.MetaData) -> list[sa.Table]:
    tables = [t for t in metadata.tables.values() if not tbl.is_version_table(t.name)]
    return [table for table, _fks in sort_tables_and_constraints(tables) if table is not None]


def _copy(source: sa.Connection, target: sa.Connection, metadata: sa.MetaData) -> int:
    """Every row of every table (parents first; cycle references set last); returns the rows."""
    tables = _tables(metadata)
    deferred = _cycle_columns(tables)
    later: list[tuple[sa.Table, list, dict]] = []
    rows = 0
    for table in tables:
        rows += copy_table(source, target, table, deferred.get(table.name, set()), later)
    for table, key_values, kept in later:
        keys = [c.name for c in table.primary_key.columns]
        where = [table.c[k] == v for k, v in zip(keys, key_values, strict=True)]
        target.execute(sa.update(table).where(*where).values(**kept))
    return rows


def copy_table(source: sa.Connection, target: sa.Connection, table: sa.Table, held: set, later: list) -> int:
    """One table's rows from ``source`` into ``target`` (the same schema name on both)."""
    keys = [c.name for c in table.primary_key.columns]
    batch: list[dict] = []
    count = 0
    for row in tbl.read_rows(source, table):
        if held:
            kept = {c: row[c] for c in held if row.get(c) is not None}
            if kept:
                later.append((table, [row[k] for k in keys], kept))
                row.update({c: None for c in kept})
        batch.append(row)
        count += 1
        if len(batch) >= BATCH:
            target.execute(sa.insert(table), batch)
            batch = []
    if batch:
        target.execute(sa.insert(table), batch)
    return count


def _counts(connection: sa.Connection, metadata: sa.MetaData) -> dict[str, int]:
    return {
        t.name: connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in _tables(metadata)
    }


def _compare(source: sa.Connection, target: sa.Connection, store_id: int, metadata: sa.MetaData) -> None:
    before, after = _counts(source, metadata), _counts(target, metadata)
    if before != after:
        differ = sorted(name for name in before if before[name] != after.get(name))
        raise MoveFailed(f"row counts differ after the copy: {differ}")
    if tbl.checksums_on(source, store_id) != tbl.checksums_on(target, store_id):
        raise MoveFailed("checksums differ after the copy")


def _switch(store_id: int, source: str, target: str, actor, rows: int) -> None:
    store = db.session.get(Store, store_id)
    store.pod = pod_key(target)
    store.moving_to = None
    audit.record(
        "store.moved",
        actor=actor,
        store_id=store_id,
        target=f"store:{store.slug}",
        detail={"from": source, "to": target, "rows": rows},
    )
    db.session.commit()  # the stamp moves: every process routes to the new pod


def _undo(store_id: int, target_pod: str | None, target: str, actor, error: BaseException) -> None:
    db.session.rollback()
    try:
        drop_schema_on(target_pod, store_id)
    except Exception as drop_error:  # the target is out of reach: say so, unfreeze all the same
        log.error("store %s: the half-made schema on %s was not dropped: %s", store_id, target, drop_error)
    store = db.session.get(Store, store_id)
    store.moving_to = None
    audit.record(
        "store.move_failed",
        actor=actor,
        store_id=store_id,
        target=f"store:{store.slug}",
        detail={"to": target, "error": f"{error.__class__.__name__}: {error}"[:500]},
    )
    db.session.commit()


#: what a write to a moved store's old tables meets (the function and its triggers are dropped
#: with the old schema)
SEAL_FUNCTION = "mallow_moved_away"


def _seal(source: sa.Connection, metadata: sa.MetaData, schema: str) -> None:
    """In the barrier's transaction: every old table refuses writes for good (a statement
    trigger). It needs no lock the barrier does not hold (``CREATE TRIGGER`` takes the same
    mode), so it cannot wait for — or deadlock with — a write that waits for the barrier, which
    then meets the trigger instead of writing where nobody will read again."""
    _ddl(
        source,
        f'CREATE FUNCTION "{schema}".{SEAL_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
        f"RAISE EXCEPTION 'this store schema moved to another pod' USING ERRCODE = '55000'; "
        "END $$",
    )
    for table in metadata.tables.values():
        _ddl(
            source,
            f'CREATE TRIGGER {SEAL_FUNCTION} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{schema}"."{table.name}" '
            f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".{SEAL_FUNCTION}()',
        )


def _ddl(connection: sa.Connection, sql: str) -> None:
    """A statement on the driver's connection, in the caller's transaction: the archive's reads
    left ``yield_per`` on this Connection, which would send it through a server-side cursor."""
    connection.connection.driver_connection.execute(sql)


def _unseal(source_engine: sa.Engine, schema: str) -> None:
    """The move failed after the seal: the old tables take writes again (the store stays)."""
    with source_engine.begin() as connection:
        connection.exec_driver_sql(f'DROP FUNCTION IF EXISTS "{schema}".{SEAL_FUNCTION}() CASCADE')


def _drop_old(source_engine: sa.Engine, schema: str, slug: str, pod: str) -> bool:
    """Drop the old schema (sealed: nothing is written there any more). It waits for the old
    transactions still holding its tables; a lock not granted in time, or a deadlock PostgreSQL
    broke, is tried again; False (logged) if it never was: the schema is left, harmless."""
    last = None
    for _attempt in range(LOCK_ATTEMPTS):
        try:
            with source_engine.begin() as connection:
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            return True
        except sa.exc.DBAPIError as error:
            last = error
    log.error("%s moved, but its old schema %s on %s was not dropped: %s", slug, schema, pod, last)
    return False
