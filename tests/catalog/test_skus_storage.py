"""``skus`` keeps half of each page free on PostgreSQL (store migration e7a9b1c3d5f2), so that
the stock update every order makes stays on the SKU's page; new stores (made from the models)
and migrated ones (the chain) agree, and the drift check sees a store that lacks it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from mallow.catalog.models import SKU_FILLFACTOR
from mallow.testing import make_store
from tests.tenants.test_migrations import migrated_scratch_store

pytestmark = pytest.mark.parametrize("app", ["postgresql"], indirect=True)

BEFORE = "d3e5f7a9c124"


def _options(connection: sa.Connection, schema: str) -> list[str]:
    found = connection.execute(
        sa.text(
            "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relname = 'skus'"
        ),
        {"schema": schema},
    ).scalar_one()
    return list(found or [])


def test_a_new_store_leaves_half_of_each_skus_page_free(app: Flask) -> None:
    shop = make_store(app)
    engines = app.extensions["mallow.store_engines"]
    with engines.engine_for(shop.store_id).connect() as connection:
        assert _options(connection, f"store_{shop.store_id}") == [f"fillfactor={SKU_FILLFACTOR}"]


def test_the_migration_sets_it_and_the_drift_check_sees_it_missing(app: Flask) -> None:
    from mallow.db.migrate import run_store_chain, store_schema_drift

    with migrated_scratch_store(app) as (engines, scratch):
        schema = engines.version_table_schema(scratch)
        with engines.engine_for(scratch).begin() as connection:
            assert _options(connection, schema) == [f"fillfactor={SKU_FILLFACTOR}"]
            run_store_chain(connection, schema, BEFORE, downgrade=True)
        with engines.engine_for(scratch).connect() as connection:
            assert _options(connection, schema) == []
            assert store_schema_drift(connection, schema, schema) == [
                ("storage", "skus", [f"fillfactor={SKU_FILLFACTOR}"], [])
            ]
        with engines.engine_for(scratch).begin() as connection:
            run_store_chain(connection, schema)
        with engines.engine_for(scratch).connect() as connection:
            assert _options(connection, schema) == [f"fillfactor={SKU_FILLFACTOR}"]
            assert store_schema_drift(connection, schema, schema) == []
