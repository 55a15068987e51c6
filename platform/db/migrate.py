"""Running the two migration chains.

* ``platform``: the shared tables, version table in the platform database's default schema.
* ``store``: every store's tables, version table inside the store's own schema (or file). A new
  store is created from the models and stamped at the head (:func:`create_store_tables`, tens of
  milliseconds); existing stores are upgraded one by one by :func:`upgrade_stores`.

A test checks that upgrading an empty database along each chain gives exactly the models'
schema, so the create-and-stamp shortcut and the chain never drift apart.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
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
    return compare_metadata(context, metadata)


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
        command.upgrade(alembic_config("store", connection, version_table_schema), revision)
    return True


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
    stores: Iterable[tuple[int, str]], migrate_one: Callable[[int], None], echo: Callable[[str], None] = print
) -> dict:
    """Upgrade every store, printing ``[i/n slug]`` progress; returns counts and seconds."""
    stores = list(stores)
    started, failed = time.perf_counter(), []
    for i, (store_id, slug) in enumerate(stores, 1):
        try:
            migrate_one(store_id)
            echo(f"[{i}/{len(stores)} {slug}] ok")
        except Exception as exc:  # keep going: one broken store must not block the others
            failed.append((store_id, slug, repr(exc)))
            echo(f"[{i}/{len(stores)} {slug}] FAILED: {exc!r}")
    return {"stores": len(stores), "failed": failed, "seconds": time.perf_counter() - started}
