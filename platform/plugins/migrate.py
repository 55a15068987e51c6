"""A plugin's own tables in a store's schema: its Alembic chain, or its models as they are."""
from __future__ import annotations

from flask import current_app

from mallow.plugins.api import plugin_metadata
from mallow.plugins.discovery import Manifest


def migrate_plugin(store_id: int, name: str, manifest: Manifest) -> None:
    """Bring ``name``'s tables in store ``store_id`` to the plugin's newest revision.

    With ``<package>/migrations/versions`` the plugin's own chain runs (version table
    ``alembic_version_<name>`` in the store's schema); without, its models are created
    (existing tables are left as they are)."""
    from alembic import command
    from alembic.config import Config

    engines = current_app.extensions["mallow.store_engines"]
    engine = engines.engine_for(store_id)
    versions = manifest.path / "migrations" / "versions" if manifest.path else None
    with engine.begin() as connection:
        if versions is None or not versions.is_dir():
            plugin_metadata(name).create_all(connection, checkfirst=True)
            return
        from mallow.db.migrate import MIGRATIONS, autogenerate_options

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("version_locations", str(versions))
        cfg.set_main_option("path_separator", "os")
        cfg.attributes.update(connection=connection, target_metadata=plugin_metadata(name),
                              version_table_schema=engines.version_table_schema(store_id),
                              version_table=f"alembic_version_{name}",
                              autogenerate_options=autogenerate_options("store"))
        command.upgrade(cfg, "head")
