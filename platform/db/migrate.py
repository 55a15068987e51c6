"""Running the two migration chains.

* ``platform``: the shared tables, version table in the platform database's default schema.
* ``store``: every store's tables, version table inside the store's own schema (or file). A new
  store is created from the models and stamped at the head (:func:`create_store_tables`, tens of
  milliseconds); existing stores are upgraded by :func:`upgrade_stores`, several at a time, and
  a store already at the head costs nothing there: on PostgreSQL every store's version is read
  in bulk first (:func:`read_store_revisions`). One store runs its chain through
  :func:`run_store_chain`, with the revisions read once per process instead of Alembic's
  ``command.upgrade`` re-reading every revision file and ``env.py`` per store.

A test checks that upgrading an empty database along each chain gives exactly the models'
schema, so the create-and-stamp shortcut and the chain never drift apart.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from mallow.db import platform_metadata, store_metadata
from mallow.db.session import STORE_SCHEMA

MIGRATIONS = Path(__file__).parent / "migrations"
CHAINS = ("platform", "store")


def alembic_config(chain: str, connection=None, version_table_schema: str | None = None) -> Config:
    if chain not in CHAINS:
        raise ValueError(chain)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(MIGRATIONS / chain / "versions"))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    cfg.attributes["target_metadata"] = platform_metadata if chain == "platform" else store_metadata
    cfg.attributes["version_table_schema"] = version_table_schema
    cfg.attributes["autogenerate_options"] = autogenerate_options(chain)
    return cfg


def autogenerate_options(chain: str, schema: str | None = None) -> dict:
    """How autogenerate compares a chain: the store chain looks only at one store's schema
    (``store``: the attached file on SQLite; ``store_<id>`` on PostgreSQL)."""
    if chain == "platform":
        return {"compare_type": True}
    schema = schema or STORE_SCHEMA

    def only_store_schema(name, type_, parent_names):
        return name == schema if type_ == "schema" else True

    return {"compare_type": True, "include_schemas": True, "include_name": only_store_schema}


def store_schema_drift(connection: sa.Connection, schema: str, version_table_schema: str) -> list:
    """Differences between one store's tables and the models (empty when they agree).

    Reflection does not apply ``schema_translate_map``, so on PostgreSQL the models are copied
    into the store's real schema name before comparing.
    """
    from alembic.autogenerate import compare_metadata

    metadata = store_metadata
    if schema != STORE_SCHEMA:
        metadata = sa.MetaData(naming_convention=store_metadata.naming_convention)
        for table in store_metadata.tables.values():
            table.to_metadata(metadata, schema=schema, referred_schema_fn=lambda *args: schema)
    context = MigrationContext.configure(
        connection, opts={"version_table_schema": version_table_schema, **autogenerate_options("store", schema)}
    )
    return compare_metadata(context, metadata) + _storage_drift(connection, metadata, schema)


def _storage_drift(connection: sa.Connection, metadata: sa.MetaData, schema: str) -> list:
    """PostgreSQL: the tables whose storage parameters (``fillfactor``…: a model's
    ``postgresql_with``) differ from the models', as ``("storage", table, wanted, found)``.
    Alembic's comparison does not look at them, and new stores are made from the models while
    the others are migrated: without this a migration that forgot one would pass."""
    if connection.dialect.name != "postgresql":
        return []
    found = dict(
        connection.execute(
            sa.text(
                "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
            ),
            {"schema": schema},
        ).all()
    )
    drift = []
    for table in metadata.tables.values():
        wanted = sorted(f"{key}={value}" for key, value in (table.dialect_options["postgresql"]["with"] or {}).items())
        have = sorted(found.get(table.name) or [])
        if table.name in found and wanted != have:
            drift.append(("storage", table.name, wanted, have))
    return drift


_scripts: dict[str, ScriptDirectory] = {}


def script_directory(chain: str) -> ScriptDirectory:
    """The chain's revisions, read once per process (they only change with a deploy)."""
    if chain not in _scripts:
        _scripts[chain] = ScriptDirectory.from_config(alembic_config(chain))
    return _scripts[chain]


def head(chain: str) -> str:
    return script_directory(chain).get_current_head()


def upgrade_platform(engine: sa.Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config("platform", connection), revision)


def upgrade_store(store_engine: sa.Engine, version_table_schema: str, revision: str = "head") -> bool:
    """Upgrade one store; a store already at the head costs one read of its version row.
    Returns whether anything ran."""
    if revision == "head" and store_revision(store_engine, version_table_schema) == head("store"):
        return False
    with store_engine.begin() as connection:
        run_store_chain(connection, version_table_schema, revision)
    return True


def run_store_chain(
    connection: sa.Connection, version_table_schema: str, destination: str = "head", *, downgrade: bool = False
) -> None:
    """Move one store along the store chain to ``destination`` inside the caller's transaction:
    what ``alembic upgrade`` (``downgrade``) does through ``env.py``, with the chain's revisions
    read once per process (:func:`script_directory`) instead of once per store."""
    script = script_directory("store")

    def step(current, _context):
        if downgrade:
            return script._downgrade_revs(destination, current)
        return script._upgrade_revs(destination, current)

    with EnvironmentContext(alembic_config("store"), script, fn=step, destination_rev=destination) as environment:
        environment.configure(
            connection=connection,
            target_metadata=store_metadata,
            version_table_schema=version_table_schema,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with environment.begin_transaction():
            environment.run_migrations()


def read_store_revisions(connection: sa.Connection, schemas: dict) -> dict:
    """``{key: revision}`` of many PostgreSQL store schemas (``{key: schema name}``) in a few
    statements: the schemas that have a version table (one catalogue query), then their version
    rows in ``UNION ALL`` chunks of 200, each committed (a read locks its table until the
    transaction ends: 10,000 at once overflow the lock table). A schema without a version table
    reads as None.

    The statements touch every schema's version table: the caller closes the connection after
    (its catalogue cache would keep an entry per schema)."""
    present = set(
        connection.execute(
            sa.text(
                "SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'alembic_version' AND n.nspname = ANY(:names)"
            ),
            {"names": sorted(set(schemas.values()))},
        ).scalars()
    )
    found: dict[str, str] = {}
    names = sorted(present)
    for start in range(0, len(names), 200):
        union = " UNION ALL ".join(
            f"SELECT '{name}', (SELECT max(version_num) FROM \"{name}\".alembic_version)"
            for name in names[start : start + 200]
        )
        found.update(connection.exec_driver_sql(union).all())
        connection.commit()  # each table read holds a lock till the end: keep the lock table small
    return {key: found.get(schema) for key, schema in schemas.items()}


def store_revision(store_engine: sa.Engine, version_table_schema: str) -> str | None:
    """The store's current revision, read straight from its version table (None: no table)."""
    version_table = sa.table("alembic_version", sa.column("version_num"), schema=version_table_schema)
    with store_engine.connect() as connection:
        try:
            return connection.execute(sa.select(version_table.c.version_num)).scalar()
        except sa.exc.DBAPIError:
            return None


def create_store_tables(connection: sa.Connection, version_table_schema: str) -> None:
    """Create a new store's tables from the models and stamp them at the chain's head."""
    store_metadata.create_all(connection, checkfirst=False)
    context = MigrationContext.configure(connection, opts={"version_table_schema": version_table_schema})
    context.stamp(script_directory("store"), head("store"))


def upgrade_stores(
    stores: Iterable[tuple[int, str]],
    migrate_one: Callable[[int], None],
    echo: Callable[[str], None] = print,
    *,
    jobs: int = 1,
    at_head: Iterable[int] = (),
) -> dict:
    """Upgrade every store, ``jobs`` at a time, printing ``[i/n slug] …`` as each one finishes.
    Stores in ``at_head`` (already read to be at the head) are only counted. One failure is
    named and the others still run. Returns counts, the failures and seconds.

    ``jobs`` > 1 runs ``migrate_one`` in that many forked processes, each with its own
    connections: Alembic's ``op`` and ``context`` are process-wide, so two migrations cannot run
    in threads of one process. The caller closes its pooled connections before (a forked child
    must not share them) and ``migrate_one`` makes its own app context."""
    global _migrate_one
    stores, skipped = list(stores), set(at_head)
    started, failed, n = time.perf_counter(), [], len(stores)
    todo, done = [], 0
    for store_id, slug in stores:
        if store_id in skipped:
            done += 1
            echo(f"[{done}/{n} {slug}] ok, at head")
        else:
            todo.append((store_id, slug))
    _migrate_one = migrate_one
    try:
        for (store_id, slug), error in _run_all(todo, jobs):
            done += 1
            if error is None:
                echo(f"[{done}/{n} {slug}] ok")
            else:  # keep going: one broken store must not block the others
                failed.append((store_id, slug, error))
                echo(f"[{done}/{n} {slug}] FAILED: {error}")
    finally:
        _migrate_one = None
    return {
        "stores": n,
        "migrated": len(todo) - len(failed),
        "skipped": n - len(todo),
        "failed": failed,
        "seconds": time.perf_counter() - started,
    }


_migrate_one: Callable[[int], None] | None = None  # what a forked worker runs (it inherits it)


def _migrate_or_error(store_id: int) -> str | None:
    try:
        _migrate_one(store_id)
    except Exception as exc:  # noqa: BLE001 -- reported per store by upgrade_stores
        return repr(exc)
    return None


def _run_all(todo: list[tuple[int, str]], jobs: int):
    """``((store_id, slug), error or None)`` for every store, in the order they finish."""
    if jobs <= 1 or len(todo) <= 1:
        for item in todo:
            yield item, _migrate_or_error(item[0])
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(_migrate_or_error, item[0]): item for item in todo}
        for future in as_completed(futures):
            yield futures[future], future.result()
