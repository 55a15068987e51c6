"""A plugin's own tables: created by its own Alembic chain when a store enables it (version table
``alembic_version_<plugin>`` in the store's schema), kept when it disables it, and upgraded by
``mallow db upgrade`` (enabled stores) or on the next enable (the others) after a new version
is approved."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

import pytest

from mallow.testing import (
    backend_params,
    disable_plugin,
    dispose_app,
    enable_plugin,
    make_admin,
    make_store,
    plugin_app,
    restart_app,
)

CODE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import plugin_model_base

Base = plugin_model_base("{name}")


class Item(Base):
    __tablename__ = "{name}_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(40))
"""
FIRST = """
from alembic import op
import sqlalchemy as sa

revision = "{name}_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("{name}_items", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("title", sa.String(40), nullable=False), schema="store")


def downgrade():
    op.drop_table("{name}_items", schema="store")
"""
SECOND = """
from alembic import op
import sqlalchemy as sa

from mallow.sdk import store_schema

revision = "{name}_0002"
down_revision = "{name}_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("{name}_items", sa.Column("note", sa.String(40), nullable=True), schema=store_schema())


def downgrade():
    op.drop_column("{name}_items", "note", schema=store_schema())
"""


def _state(app, shop, name):
    """(columns of the plugin's table, its version in the store's schema, the titles in it)."""
    engines = app.extensions["mallow.store_engines"]
    schema = engines.version_table_schema(shop.store_id)
    with app.app_context(), engines.engine_for(shop.store_id).connect() as connection:
        columns = [c["name"] for c in sa.inspect(connection).get_columns(f"{name}_items", schema=schema)]
        version = connection.exec_driver_sql(f'SELECT version_num FROM "{schema}"."alembic_version_{name}"').scalar()
        titles = connection.exec_driver_sql(f'SELECT title FROM "{schema}"."{name}_items" ORDER BY id').scalars().all()
    return columns, version, titles


def _add_item(app, shop, name, title):
    import importlib

    from mallow.db import db
    from mallow.tenants.context import store_context

    module = importlib.import_module(f"mallow_{name}")
    with store_context(shop.store_id, app=app):
        db.session.add(module.Item(title=title))
        db.session.commit()


@pytest.mark.parametrize("backend", backend_params())
def test_plugin_tables_follow_their_own_chain_through_enable_disable_and_upgrade(
    backend, fake_plugins, tmp_path_factory
):
    name = f"chain_{backend[:2]}"
    code, first, second = (text.format(name=name) for text in (CODE, FIRST, SECOND))
    fake_plugins.add(name, code, files={"migrations/versions/0001_items.py": first})
    app = plugin_app(tmp_path_factory, backend, [name])
    upgraded = None
    try:
        # enabling creates the tables through the plugin's chain, in each store's own schema
        kept_on, turned_off = make_store(app), make_store(app)
        for shop in (kept_on, turned_off):
            enable_plugin(app, shop, name)
            _add_item(app, shop, name, f"from {shop.slug}")
        assert _state(app, kept_on, name) == (["id", "title"], f"{name}_0001", [f"from {kept_on.slug}"])
        # disabling keeps them
        disable_plugin(app, turned_off, name)
        assert _state(app, turned_off, name)[2] == [f"from {turned_off.slug}"]

        # version 0.2.0 adds a column: installed, synced, approved, loaded at the next start
        fake_plugins.add(
            name,
            code,
            version="0.2.0",
            files={"migrations/versions/0001_items.py": first, "migrations/versions/0002_note.py": second},
        )
        from mallow.accounts.models import PlatformAdmin
        from mallow.db import db
        from mallow.plugin_host import marketplace
        from mallow.plugin_host.models import PluginRelease

        admin_id, _email = make_admin(app)
        with app.app_context():
            marketplace.sync()
            release = db.session.execute(db.select(PluginRelease).filter_by(name=name, version="0.2.0")).scalar_one()
            marketplace.approve(release, db.session.get(PlatformAdmin, admin_id))
        upgraded = restart_app(app)
        assert upgraded.extensions["mallow.loaded_plugins"][name].version == "0.2.0"

        # `mallow db upgrade` upgrades the stores that have it on, keeping their rows
        from mallow.cli import main

        result = CliRunner().invoke(main, ["db", "upgrade"], obj=ScriptInfo(create_app=lambda: upgraded))
        assert result.exit_code == 0, result.output
        assert f"store {kept_on.store_id}: {name} 0.2.0 at head" in result.output
        assert _state(upgraded, kept_on, name) == (["id", "title", "note"], f"{name}_0002", [f"from {kept_on.slug}"])
        # a store that has it off is left alone until it enables it again
        assert _state(upgraded, turned_off, name)[:2] == (["id", "title"], f"{name}_0001")
        enable_plugin(upgraded, turned_off, name)
        assert _state(upgraded, turned_off, name) == (
            ["id", "title", "note"],
            f"{name}_0002",
            [f"from {turned_off.slug}"],
        )
    finally:
        if upgraded is not None:
            dispose_app(upgraded, drop_database=False)
        dispose_app(app)
