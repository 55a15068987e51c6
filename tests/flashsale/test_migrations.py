"""The plugin's own migration chain gives exactly its models' tables in a store's schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from .conftest import enabled_store


def test_the_chain_matches_the_models(fs_app):
    from mallow.sdk import plugin_metadata

    import mallow_flashsale.models  # noqa: F401  (the tables are declared)

    shop = enabled_store(fs_app)
    engines = fs_app.extensions["mallow.store_engines"]
    schema = engines.version_table_schema(shop.store_id)
    metadata = plugin_metadata("flashsale")
    if schema != "store":  # reflection does not translate schemas: compare in the real one
        copy = sa.MetaData(naming_convention=metadata.naming_convention)
        for table in metadata.tables.values():
            table.to_metadata(copy, schema=schema, referred_schema_fn=lambda *args: schema)
        metadata = copy

    def ours(obj, name, type_, reflected, compare_to):
        if type_ == "table":
            return name.startswith("flashsale_")
        return getattr(getattr(obj, "table", None), "name", "flashsale_").startswith("flashsale_")

    with fs_app.app_context(), engines.engine_for(shop.store_id).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_schemas": True,
                "include_object": ours,
                "include_name": lambda name, type_, parents: name == schema if type_ == "schema" else True,
            },
        )
        assert compare_metadata(context, metadata) == []
        version = connection.exec_driver_sql(f'SELECT version_num FROM "{schema}"."alembic_version_flashsale"').scalar()
    assert version == "f1a5c0de0001"
