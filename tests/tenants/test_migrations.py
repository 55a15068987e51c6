"""Both migration chains produce exactly the models' schema; new stores start at the head."""

from __future__ import annotations

import random
from contextlib import contextmanager

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mallow.db import platform_metadata
from mallow.db.migrate import head, store_revision, store_schema_drift
from mallow.testing import make_store


def _diff(connection, metadata):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


def test_platform_chain_matches_the_models(app):
    with app.app_context():
        from mallow.db import db

        with db.engine.connect() as connection:
            assert _diff(connection, platform_metadata) == []


@contextmanager
def migrated_scratch_store(app):
    """A store schema (or file) that no store row names, migrated from zero to the head, inside an
    app context: yields ``(engines, store id)``; dropped afterwards."""
    from mallow.tenants.provisioning import drop_store, migrate_store

    engines = app.extensions["mallow.store_engines"]
    scratch = random.randint(10**8, 10**9)  # never a real store id
    with app.app_context():
        try:
            if engines.is_postgresql:
                with engines.platform_engine.begin() as connection:
                    connection.exec_driver_sql(f'CREATE SCHEMA "store_{scratch}"')
            migrate_store(scratch)
            yield engines, scratch
        finally:
            drop_store(scratch)


def test_store_chain_from_zero_matches_the_models(app):
    with migrated_scratch_store(app) as (engines, scratch):
        with engines.engine_for(scratch).connect() as connection:
            schema = engines.version_table_schema(scratch)
            assert store_schema_drift(connection, schema, schema) == []
        assert store_revision(engines.engine_for(scratch), engines.version_table_schema(scratch)) == head("store")


def test_a_new_store_is_provisioned_at_the_head(app):
    shop = make_store(app)
    engines = app.extensions["mallow.store_engines"]
    with app.app_context():
        revision = store_revision(engines.engine_for(shop.store_id), engines.version_table_schema(shop.store_id))
    assert revision == head("store")


def test_db_upgrade_command_walks_every_store(app):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from mallow.cli import main

    shops = [make_store(app) for _ in range(2)]
    result = CliRunner().invoke(main, ["db", "upgrade"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert "platform: at head" in result.output
    for shop in shops:
        assert f" {shop.slug}] ok" in result.output
    assert ", 0 failed" in result.output
