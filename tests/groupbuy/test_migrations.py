"""The plugin's own Alembic chain creates exactly its models' tables in a store's schema, and
enabling again (or after disabling) keeps them and their rows."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mallow.testing import disable_plugin, enable_plugin


def _drift(app, store_id: int) -> list:
    from mallow.db.migrate import autogenerate_options
    from mallow.sdk import plugin_metadata

    engines = app.extensions["mallow.store_engines"]
    schema = engines.version_table_schema(store_id)
    source = plugin_metadata("groupbuy")
    metadata = sa.MetaData(naming_convention=source.naming_convention)
    for table in source.tables.values():
        table.to_metadata(metadata, schema=schema, referred_schema_fn=lambda *args: schema)
    ours = set(source.tables.keys())

    def only_ours(name, type_, parent_names):
        if type_ == "schema":
            return name == schema
        if type_ == "table":
            return f"store.{name}" in ours
        return True

    with app.app_context(), engines.engine_for(store_id).connect() as connection:
        options = autogenerate_options("store", schema) | {"include_name": only_ours}
        context = MigrationContext.configure(connection, opts={"version_table_schema": schema, **options})
        return compare_metadata(context, metadata)


def test_the_chain_creates_exactly_the_models_and_disabling_keeps_the_rows(mall):
    assert _drift(mall.app, mall.shop.store_id) == []
    [sku] = mall.product()
    campaign = mall.campaign([sku])
    disable_plugin(mall.app, mall.shop, "groupbuy")
    enable_plugin(mall.app, mall.shop, "groupbuy")
    assert mall.campaign_row(campaign)["title"] == campaign["title"]
