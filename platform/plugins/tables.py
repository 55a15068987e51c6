"""A plugin's own tables: one declarative base per plugin, in each store's schema.

The tables live in the store's schema (placeholder schema ``store``, like core store tables) but
in the plugin's own metadata, migrated by the plugin's own Alembic chain
(``<package>/migrations/versions``, version table ``alembic_version_<plugin>``). Plugins reach
this through :mod:`mallow.sdk`; each base registers its metadata with :mod:`mallow.db.store_tables`
(so that :mod:`mallow.tenants.store_sql` knows the plugins' table names).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context as alembic_context
from sqlalchemy.orm import DeclarativeBase

from mallow.db import NAMING, store_tables
from mallow.db.session import STORE_BIND, STORE_SCHEMA

_BASES: dict[str, type] = {}


def plugin_model_base(plugin: str) -> type:
    """The declarative base of ``plugin``'s store tables (one per plugin, created once).

    Name tables ``<plugin>_<thing>`` so they never clash with core tables or other plugins.
    """
    if plugin not in _BASES:
        metadata = sa.MetaData(
            schema=STORE_SCHEMA, naming_convention=NAMING, info={"bind_key": STORE_BIND, "plugin": plugin}
        )
        _BASES[plugin] = type(f"{plugin.title()}Base", (DeclarativeBase,), {"metadata": metadata, "__abstract__": True})
        store_tables.register(metadata)
    return _BASES[plugin]


def plugin_metadata(plugin: str) -> sa.MetaData:
    """The metadata of ``plugin``'s store tables (what its migrations compare against)."""
    return plugin_model_base(plugin).metadata


def store_schema() -> str:
    """Inside a plugin's migration script: the real schema of the store being migrated
    (``store_<id>`` on PostgreSQL, the attached ``store`` on SQLite). Give it as ``schema=`` to
    every operation: Alembic's ``ALTER TABLE`` operations (``add_column``, ``alter_column``,
    ``drop_column``…) do not apply the ``store`` → ``store_<id>`` translation."""
    return alembic_context.config.attributes["version_table_schema"]
