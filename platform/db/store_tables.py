"""Which tables are a store's and which the platform's: the names raw SQL is checked against.

A store's schema holds core's store tables (``StoreModel``, in :data:`mallow.db.store_metadata`)
and each plugin's own tables, in the plugin's own metadata: :func:`mallow.plugins.tables.plugin_model_base`
registers that metadata here (:func:`register`) when it makes the plugin's base, so that
:mod:`mallow.tenants.store_sql` knows every store table without importing the plugin layer.
"""

from __future__ import annotations

import sqlalchemy as sa

from mallow.db import platform_metadata, store_metadata

_PLUGIN_METADATA: list[sa.MetaData] = []


def register(metadata: sa.MetaData) -> None:
    """Count ``metadata``'s tables (a plugin's) as store tables."""
    if metadata not in _PLUGIN_METADATA:
        _PLUGIN_METADATA.append(metadata)


def known_tables() -> tuple[set[str], set[str]]:
    """``(platform table names, store table names)``; the migration version table is a platform one."""
    platform = {table.name for table in platform_metadata.tables.values()} | {"alembic_version"}
    store = {table.name for table in store_metadata.tables.values()}
    for metadata in list(_PLUGIN_METADATA):
        store |= {table.name for table in metadata.tables.values()}
    return platform, store - platform
