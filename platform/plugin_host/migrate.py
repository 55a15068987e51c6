"""A plugin's own tables in a store's schema: its Alembic chain, or its models as they are."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import current_app

from mallow.db import db
from mallow.db.migrate import MIGRATIONS, autogenerate_options
from mallow.plugin_host.discovery import Manifest
from mallow.plugin_host.problems import problems_of
from mallow.plugins.models import StorePlugin
from mallow.plugins.tables import plugin_metadata


def migrate_plugin(store_id: int, name: str, manifest: Manifest) -> None:
    """Bring ``name``'s tables in store ``store_id`` to the plugin's newest revision.

    With ``<package>/migrations/versions`` the plugin's own chain runs (version table
    ``alembic_version_<name>`` in the store's schema); without, its models are created
    (existing tables are left as they are)."""
    engines = current_app.extensions["mallow.store_engines"]
    engine = engines.engine_for(store_id)
    versions = manifest.path / "migrations" / "versions" if manifest.path else None
    with engine.begin() as connection:
        if versions is None or not versions.is_dir():
            plugin_metadata(name).create_all(connection, checkfirst=True)
            return
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("version_locations", str(versions))
        cfg.set_main_option("path_separator", "os")
        cfg.attributes.update(
            connection=connection,
            target_metadata=plugin_metadata(name),
            version_table_schema=engines.version_table_schema(store_id),
            version_table=f"alembic_version_{name}",
            autogenerate_options=autogenerate_options("store"),
        )
        command.upgrade(cfg, "head")


def _name_the_unloaded(loaded: dict, echo) -> None:
    """A plugin this start could not load (it failed to import, changed since review…) keeps its
    tables as they are: say so, with its name and why, and go on with the others."""
    for name, problem in sorted(problems_of().items()):
        if name in loaded:
            continue
        logging.getLogger("mallow.plugins").warning(
            "%s not loaded (%s): its tables are not upgraded", name, problem.kind
        )
        if echo:
            echo(f"plugin {name} skipped: not loaded ({problem.kind}: {problem.message})")


def upgrade_enabled(echo=None) -> tuple[int, list[tuple[int, str]]]:
    """Bring every enabled plugin's tables in every store to the newest revision of the version
    this app loaded (``mallow db upgrade`` runs it after the stores). Returns how many were
    brought to head and the ``(store id, plugin)`` pairs that failed (each logged; the others
    still run)."""
    loaded = current_app.extensions.get("mallow.loaded_plugins", {})
    _name_the_unloaded(loaded, echo)
    if not loaded:
        return 0, []
    rows = (
        db.session.execute(
            sa.select(StorePlugin)
            .where(StorePlugin.enabled.is_(True), StorePlugin.name.in_(sorted(loaded)))
            .order_by(StorePlugin.store_id, StorePlugin.name)
        )
        .scalars()
        .all()
    )
    done, failed = 0, []
    for row in rows:
        try:
            migrate_plugin(row.store_id, row.name, loaded[row.name])
        except Exception:
            logging.getLogger("mallow.plugins").exception("store %s: %s failed to migrate", row.store_id, row.name)
            failed.append((row.store_id, row.name))
            if echo:
                echo(f"store {row.store_id}: {row.name} FAILED (see the log)")
            continue
        row.version = loaded[row.name].version
        done += 1
        if echo:
            echo(f"store {row.store_id}: {row.name} {row.version} at head")
    db.session.commit()
    return done, failed
